//! Bench 1: session throughput on a pipelined transcript (EHLO, 20,000 × [MAIL FROM
//! BODY=8BITMIME, 2 × RCPT, DATA, a 4.2 KB dot-stuffed body], QUIT), fed in 4 KiB and
//! 64 KiB reads, through ours (the `Server`, and the `Connection` driver with TLS off) and the anchors (Stalwart's
//! smtp-proto 0.2 receivers, mailrs-smtp-proto, mailin). Every run checks that all
//! 20,000 messages and every content octet were seen.
//!
//! `cargo bench -p smtp-proto-tests --bench session_throughput`
#![forbid(unsafe_code)]

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

use common::transcript::{MESSAGES, transcript};
use common::{anchors, now, ours};

/// The read sizes the transcript is fed in.
const CHUNKS: [(usize, &str); 2] = [(4 * 1024, "4KiB"), (64 * 1024, "64KiB")];

fn session_throughput(c: &mut Criterion) {
    let transcript = transcript(MESSAGES);
    let config = ours::pipelined_config();
    let now = now();
    let input = transcript.bytes.as_slice();

    let mut group = c.benchmark_group("session_throughput");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .throughput(Throughput::Bytes(input.len() as u64));
    let mut out = Vec::with_capacity(64 * 1024);
    for (chunk, label) in CHUNKS {
        group.bench_function(BenchmarkId::new("ours_server", label), |b| {
            b.iter(|| {
                let tally = ours::run_server(&config, now, black_box(input), chunk, &mut out);
                tally.check(&transcript, "ours_server");
                tally
            });
        });
        group.bench_function(BenchmarkId::new("ours_connection_off", label), |b| {
            b.iter(|| {
                let tally =
                    ours::run_session_plain(&config, now, black_box(input), chunk, &mut out);
                tally.check(&transcript, "ours_connection_off");
                tally
            });
        });
        group.bench_function(BenchmarkId::new("stalwart", label), |b| {
            b.iter(|| {
                let tally = anchors::run_stalwart(black_box(input), chunk, &mut out);
                tally.check(&transcript, "stalwart");
                tally
            });
        });
        group.bench_function(BenchmarkId::new("mailrs", label), |b| {
            b.iter(|| {
                let tally = anchors::run_mailrs(black_box(input), chunk, &mut out);
                tally.check(&transcript, "mailrs");
                tally
            });
        });
        group.bench_function(BenchmarkId::new("mailin", label), |b| {
            b.iter(|| {
                let tally = anchors::run_mailin(black_box(input), chunk, &mut out);
                tally.check(&transcript, "mailin");
                tally
            });
        });
    }
    group.finish();
}

criterion_group!(benches, session_throughput);
criterion_main!(benches);
