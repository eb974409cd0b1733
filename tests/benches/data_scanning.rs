//! Bench 3: DATA scanning alone. `codec::data::DotDecoder` over a 16 MiB body of ~80-octet
//! lines, (a) with a dot-stuffed line every 1,000 lines ("few dots") and (b) every 10
//! lines, against a plain `memchr_iter(b'\n', …)` count over the same bytes (the physical
//! limit); the one-piece-per-call `decode`, and `decode_pieces` (what the server runs) with
//! each content kernel the CPU has by name. Stalwart's `DataReceiver`
//! (which copies the content into a `Vec`) runs on the same bytes for reference.
//!
//! `cargo bench -p smtp-proto-tests --bench data_scanning`
#![forbid(unsafe_code)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use smtp_proto::LineEndingPolicy;
use smtp_proto::codec::data::{DotDecoder, Kernel, Piece};
use stalwart_smtp_proto::request::receiver::DataReceiver;

/// Size of each body before its terminator.
const BODY: usize = 16 * 1024 * 1024;

/// A dot-stuffed body of about [`BODY`] octets: lines of 70 to 89 octets plus CR LF, every
/// `dot_every`-th line starting with `..` (a stuffed `.`), then the `.` CR LF terminator.
/// Returns the bytes and the content size after unstuffing.
fn body(dot_every: usize) -> (Vec<u8>, u64) {
    let text = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor \
        incididunt ut labore et dolore magna aliqua";
    let mut bytes = Vec::with_capacity(BODY + 128);
    let mut dots = 0u64;
    let mut line = 0usize;
    while bytes.len() < BODY {
        let len = 70 + line * 7 % 20;
        if line % dot_every == dot_every - 1 {
            bytes.extend_from_slice(b"..");
            dots += 1;
            bytes.extend_from_slice(&text[..len - 2]);
        } else {
            bytes.extend_from_slice(&text[(line % 13)..(line % 13) + len]);
        }
        bytes.extend_from_slice(b"\r\n");
        line += 1;
    }
    let content = bytes.len() as u64 - dots;
    bytes.extend_from_slice(b".\r\n");
    (bytes, content)
}

/// Our decoder over the whole body as one input (as a 64 KiB-or-larger read would give
/// it, the largest pieces possible); returns the content size.
fn decode_ours(input: &[u8], kernel: Kernel) -> u64 {
    let mut decoder = DotDecoder::new(LineEndingPolicy::Strict, 1000).with_kernel(kernel);
    let mut rest = input;
    let mut content = 0u64;
    loop {
        let step = decoder.decode(rest);
        content += match step.piece {
            Some(Piece::Input(range)) => range.len() as u64,
            Some(Piece::Static(bytes)) => bytes.len() as u64,
            None => 0,
        };
        rest = &rest[step.consumed..];
        if step.end_of_data {
            break;
        }
        assert!(step.consumed > 0, "the decoder always makes progress");
    }
    assert!(rest.is_empty(), "the terminator is the last line");
    content
}

/// Our decoder's multi-piece call over the whole body (what the server runs): the kernel
/// goes past stuffing dots; returns the content size.
fn decode_pieces_ours(input: &[u8], kernel: Kernel, pieces: &mut Vec<Piece>) -> u64 {
    let mut decoder = DotDecoder::new(LineEndingPolicy::Strict, 1000).with_kernel(kernel);
    pieces.clear();
    let progress = decoder.decode_pieces(input, pieces);
    assert!(
        progress.end_of_data && progress.consumed == input.len(),
        "the terminator is last"
    );
    pieces
        .iter()
        .map(|piece| match piece {
            Piece::Input(range) => range.len() as u64,
            Piece::Static(bytes) => bytes.len() as u64,
        })
        .sum()
}

fn data_scanning(c: &mut Criterion) {
    let mut group = c.benchmark_group("data_scanning");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    let mut copy = Vec::with_capacity(BODY + 128);
    for (dot_every, label) in [(1000, "few_dots"), (10, "dot_every_10_lines")] {
        let (input, content) = body(dot_every);
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.bench_function(BenchmarkId::new("ours_dot_decoder", label), |b| {
            b.iter(|| {
                let found = decode_ours(black_box(&input), Kernel::detect());
                assert_eq!(found, content, "ours: content size");
                found
            });
        });
        // `decode_pieces` with each kernel the CPU has, by name (`Kernel::detect` picks the
        // last one); the row above is the one-piece-per-call `decode`.
        let mut pieces = Vec::new();
        for kernel in Kernel::available() {
            let name = format!("ours_pieces_{kernel:?}").to_lowercase();
            group.bench_function(BenchmarkId::new(name, label), |b| {
                b.iter(|| {
                    let found = decode_pieces_ours(black_box(&input), kernel, &mut pieces);
                    assert_eq!(found, content, "{kernel:?}: content size");
                    found
                });
            });
        }
        group.bench_function(BenchmarkId::new("memchr_lf_count", label), |b| {
            b.iter(|| memchr::memchr_iter(b'\n', black_box(&input)).count());
        });
        group.bench_function(BenchmarkId::new("stalwart_data_receiver", label), |b| {
            b.iter(|| {
                copy.clear();
                let mut receiver = DataReceiver::new();
                let ended = receiver.ingest(&mut black_box(&input).iter(), &mut copy);
                assert!(ended, "stalwart sees the end");
                assert_eq!(copy.len() as u64, content, "stalwart: content size");
                copy.len()
            });
        });
    }
    group.finish();
}

criterion_group!(benches, data_scanning);
criterion_main!(benches);
