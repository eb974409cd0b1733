//! Bench 5: our client and our server in memory, the same messages as the session bench
//! (a 4.2 KB 8-bit body, two recipients, 2,000 messages on one connection, PIPELINING), against the
//! server alone fed the byte stream the client wrote. The ratio says what the client
//! adds: issue 16's "client + server in memory" row (goal ≥ 0.5× of the server alone).
//! Every run checks that every message was delivered to both recipients.
//!
//! `cargo bench -p smtp-proto-tests --bench client_loopback`
#![forbid(unsafe_code)]

mod common;

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use smtp_proto::client::{BodyType, Client, ClientConfig, ClientEvent, Envelope, Verdict};
use smtp_proto::{Event, Mailbox, Server, ServerConfig};

use common::now;

/// Messages per run: a tenth of the session bench, so one iteration stays short.
const MESSAGES: usize = 2_000;

/// The body the client is given: the session bench's body, unstuffed (the client stuffs).
fn body() -> Vec<u8> {
    let (wire, _) = common::transcript::body();
    let mut body = Vec::with_capacity(wire.len());
    for line in wire.split_inclusive(|&b| b == b'\n') {
        // A stuffed line `..x` is the line `.x`.
        let line = if line.starts_with(b"..") {
            &line[1..]
        } else {
            line
        };
        body.extend_from_slice(line);
    }
    body
}

fn mailbox(text: &str) -> Mailbox {
    text.parse().expect("a bench address")
}

/// Runs the client against the server and returns the messages delivered to both
/// recipients; `keep` collects the bytes the client wrote.
fn run_pair(now: Instant, body: &[u8], mut keep: Option<&mut Vec<u8>>) -> usize {
    // The default configuration: the RFC 2920 synchronisation check on, which the client
    // respects.
    let mut server = Server::new(Arc::new(ServerConfig::new("mx.example")), now);
    let config = Arc::new(ClientConfig::new("client.example").expect("name"));
    let mut client = Client::new(config, now).expect("config");
    let size = smtp_proto::codec::stuffing::BodyFacts::scan(body).size;
    for _ in 0..MESSAGES {
        let envelope = Envelope::new(mailbox("sender@example.org"))
            .to(mailbox("rcpt1@example.net"))
            .to(mailbox("rcpt2@example.net"))
            .body_type(BodyType::EightBit)
            .size(size);
        client.send(now, envelope).expect("queued");
    }
    client.quit(now);
    let mut c2s = Vec::with_capacity(64 * 1024);
    let mut s2c = Vec::with_capacity(4 * 1024);
    let mut delivered = 0;
    loop {
        while let Some(event) = client.poll_event() {
            match event {
                ClientEvent::BodyWanted(_) => {
                    client.send_body(now, body).expect("content");
                    client.end_body(now).expect("end");
                }
                ClientEvent::TransactionDone(report) => {
                    delivered += usize::from(
                        report
                            .recipients
                            .iter()
                            .all(|r| r.outcome.verdict == Verdict::Delivered),
                    );
                }
                _ => {}
            }
        }
        c2s.clear();
        client.poll_transmit(&mut c2s);
        if let Some(keep) = keep.as_deref_mut() {
            keep.extend_from_slice(&c2s);
        }
        if !c2s.is_empty() {
            server.handle_input(now, &c2s).expect("input");
            while let Some(event) = server.poll_event() {
                drain_one(&mut server, now, event);
            }
        }
        s2c.clear();
        let _ = server.poll_transmit(&mut s2c);
        if !s2c.is_empty() {
            client.handle_input(now, &s2c);
        } else if c2s.is_empty() {
            break;
        }
    }
    delivered
}

/// Accepts every decision; content is dropped.
fn drain_one(server: &mut Server, now: Instant, event: Event) {
    if let Some(pending) = event.into_pending() {
        server.accept(now, pending).expect("accept");
    }
}

/// The server alone, fed `stream` in 64 KiB reads (synchronisation check off: the whole
/// stream is there at once); returns the messages completed.
fn run_server(now: Instant, stream: &[u8]) -> usize {
    let mut config = ServerConfig::new("mx.example");
    config.pipelining_sync_check = false;
    let mut server = Server::new(Arc::new(config), now);
    let mut out = Vec::with_capacity(4 * 1024);
    let mut messages = 0;
    for read in stream.chunks(64 * 1024) {
        server.handle_input(now, read).expect("input");
        while let Some(event) = server.poll_event() {
            if matches!(event, Event::MessageComplete { .. }) {
                messages += 1;
            }
            drain_one(&mut server, now, event);
        }
        out.clear();
        let _ = server.poll_transmit(&mut out);
    }
    messages
}

fn client_loopback(c: &mut Criterion) {
    let now = now();
    let body = body();
    let mut stream = Vec::new();
    assert_eq!(run_pair(now, &body, Some(&mut stream)), MESSAGES);
    assert_eq!(run_server(now, &stream), MESSAGES);
    let mut group = c.benchmark_group("client_loopback");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .throughput(Throughput::Bytes(stream.len() as u64));
    group.bench_function("client_and_server", |b| {
        b.iter(|| assert_eq!(run_pair(now, black_box(&body), None), MESSAGES));
    });
    group.bench_function("server_alone", |b| {
        b.iter(|| assert_eq!(run_server(now, black_box(&stream)), MESSAGES));
    });
    group.finish();
}

criterion_group!(benches, client_loopback);
criterion_main!(benches);
