//! Bench 4: the transcript (2,000 messages) through a TLS `Connection` in STARTTLS
//! mode after the handshake, from a rustls client in memory, against rustls alone moving
//! the same plaintext (a `ClientConnection` encrypting, a `ServerConnection` decrypting, no
//! SMTP). Both sides of both cases run in the timed part: the client encrypts the
//! transcript in writes of 4 KiB or 16 KiB of plaintext, the server decrypts (ours also
//! runs the session and encrypts its replies, which the client never reads). The handshake
//! is set-up, not timed (a fresh connection per iteration). `ours_connection_plain` runs
//! the same session with TLS off, in the same pieces: the share of the SMTP machine.
//!
//! `cargo bench -p smtp-proto-tests --bench tls`
#![forbid(unsafe_code)]

mod common;

use std::hint::black_box;
use std::io::{ErrorKind, Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConnection};
use smtp_proto::connection::Connection;
use smtp_proto::tls::{Endpoint, TlsMode};
use smtp_proto::{Server, ServerConfig};

use common::transcript::{Tally, transcript};
use common::{now, ours};

/// Messages in the TLS transcript.
const MESSAGES: usize = 2_000;

/// A rustls server configuration (ring) with a fresh self-signed certificate for
/// `mx.example`, and a client configuration that trusts it.
fn tls_configs() -> (Arc<rustls::ServerConfig>, Arc<ClientConfig>) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key = rcgen::generate_simple_self_signed(vec!["mx.example".to_owned()]).expect("rcgen");
    let cert = CertificateDer::from(key.cert.der().to_vec());
    let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.key_pair.serialize_der()));
    let server = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], private)
        .expect("certificate");
    let mut roots = RootCertStore::empty();
    roots.add(cert).expect("root");
    let client = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    (Arc::new(server), Arc::new(client))
}

fn client(config: &Arc<ClientConfig>) -> ClientConnection {
    let name = ServerName::try_from("mx.example").expect("name");
    ClientConnection::new(config.clone(), name).expect("client")
}

/// Everything the client has to send, as TLS records.
fn client_records(client: &mut ClientConnection, wire: &mut Vec<u8>) {
    wire.clear();
    while client.wants_write() {
        client.write_tls(wire).expect("Vec write");
    }
}

/// A session in STARTTLS mode that has done EHLO, STARTTLS and the handshake with
/// `client`; ready for the transcript (which starts with the EHLO RFC 3207 asks for).
fn starttls_session(
    smtp: &Arc<ServerConfig>,
    tls: &Arc<rustls::ServerConfig>,
    client_config: &Arc<ClientConfig>,
    now: Instant,
) -> (Connection<Server>, ClientConnection) {
    let mut session = Endpoint::new(smtp.clone(), TlsMode::StartTls(tls.clone())).accept(now);
    let mut out = Vec::new();
    let mut tally = Tally::default();
    let _ = ours::drain(&mut session, now, &mut tally, &mut out);
    for line in [&b"EHLO client.example.org\r\n"[..], b"STARTTLS\r\n"] {
        session.handle_input(now, line);
        out.clear();
        let _ = ours::drain(&mut session, now, &mut tally, &mut out);
    }
    assert!(out.starts_with(b"220"), "STARTTLS accepted: {out:?}");
    let mut client = client(client_config);
    let mut wire = Vec::new();
    for _ in 0..10 {
        client_records(&mut client, &mut wire);
        session.handle_input(now, &wire);
        out.clear();
        let _ = ours::drain(&mut session, now, &mut tally, &mut out);
        let mut from_server = out.as_slice();
        while !from_server.is_empty() {
            client.read_tls(&mut from_server).expect("read_tls");
            client.process_new_packets().expect("client TLS");
        }
        if !client.is_handshaking() && session.machine().is_tls() {
            return (session, client);
        }
    }
    panic!("the handshake did not finish");
}

/// A session with TLS off, greeted: ready for the transcript.
fn plain_session(smtp: &Arc<ServerConfig>, now: Instant) -> Connection<Server> {
    let mut session = Endpoint::new(smtp.clone(), TlsMode::Off).accept(now);
    let mut out = Vec::new();
    let _ = ours::drain(&mut session, now, &mut Tally::default(), &mut out);
    assert!(out.starts_with(b"220"), "greeted: {out:?}");
    session
}

/// A connected rustls pair after the handshake.
fn rustls_pair(
    tls: &Arc<rustls::ServerConfig>,
    client_config: &Arc<ClientConfig>,
) -> (ServerConnection, ClientConnection) {
    let mut server = ServerConnection::new(tls.clone()).expect("server");
    let mut client = client(client_config);
    let mut wire = Vec::new();
    for _ in 0..10 {
        client_records(&mut client, &mut wire);
        move_records(&wire, &mut server);
        wire.clear();
        while server.wants_write() {
            server.write_tls(&mut wire).expect("Vec write");
        }
        let mut from_server = wire.as_slice();
        while !from_server.is_empty() {
            client.read_tls(&mut from_server).expect("read_tls");
            client.process_new_packets().expect("client TLS");
        }
        if !client.is_handshaking() && !server.is_handshaking() {
            return (server, client);
        }
    }
    panic!("the handshake did not finish");
}

/// Gives `records` to the server connection and processes them.
fn move_records(records: &[u8], server: &mut ServerConnection) {
    let mut rest = records;
    while !rest.is_empty() {
        server.read_tls(&mut rest).expect("read_tls");
        server.process_new_packets().expect("server TLS");
    }
}

fn tls(c: &mut Criterion) {
    let transcript = transcript(MESSAGES);
    let input = transcript.bytes.as_slice();
    let (tls, client_config) = tls_configs();
    let mut smtp = ServerConfig::new("mx.example");
    smtp.pipelining_sync_check = false;
    let smtp = Arc::new(smtp);
    let now = now();

    let mut group = c.benchmark_group("tls");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Bytes(input.len() as u64));
    let mut wire = Vec::with_capacity(64 * 1024);
    let mut out = Vec::with_capacity(64 * 1024);
    let mut plain = vec![0u8; 16 * 1024];
    for (chunk, label) in [(4 * 1024, "4KiB"), (16 * 1024, "16KiB")] {
        group.bench_function(BenchmarkId::new("ours_connection_tls", label), |b| {
            b.iter_batched(
                || starttls_session(&smtp, &tls, &client_config, now),
                |(mut session, mut client)| {
                    let mut tally = Tally::default();
                    for piece in black_box(input).chunks(chunk) {
                        client.writer().write_all(piece).expect("client write");
                        client_records(&mut client, &mut wire);
                        session.handle_input(now, &wire);
                        out.clear();
                        tally.replies += ours::drain(&mut session, now, &mut tally, &mut out);
                    }
                    tally.check(&transcript, "ours_connection_tls");
                    assert!(session.machine().is_closed(), "QUIT closes the session");
                    tally
                },
                BatchSize::PerIteration,
            );
        });
        // The floor: the same session without TLS, in the same pieces. Ours with TLS can
        // take no less than this plus rustls's own share (`rustls_alone`).
        group.bench_function(BenchmarkId::new("ours_connection_plain", label), |b| {
            b.iter_batched(
                || plain_session(&smtp, now),
                |mut session| {
                    let mut tally = Tally::default();
                    for piece in black_box(input).chunks(chunk) {
                        session.handle_input(now, piece);
                        out.clear();
                        tally.replies += ours::drain(&mut session, now, &mut tally, &mut out);
                    }
                    tally.check(&transcript, "ours_connection_plain");
                    assert!(session.machine().is_closed(), "QUIT closes the session");
                    tally
                },
                BatchSize::PerIteration,
            );
        });
        group.bench_function(BenchmarkId::new("rustls_alone", label), |b| {
            b.iter_batched(
                || rustls_pair(&tls, &client_config),
                |(mut server, mut client)| {
                    let mut moved = 0usize;
                    for piece in black_box(input).chunks(chunk) {
                        client.writer().write_all(piece).expect("client write");
                        client_records(&mut client, &mut wire);
                        move_records(&wire, &mut server);
                        loop {
                            match server.reader().read(&mut plain) {
                                Ok(0) => break,
                                Ok(n) => moved += n,
                                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                                Err(e) => panic!("server read: {e}"),
                            }
                        }
                    }
                    assert_eq!(moved, input.len(), "rustls moved every octet");
                    moved
                },
                BatchSize::PerIteration,
            );
        });
    }
    group.finish();
}

criterion_group!(benches, tls);
criterion_main!(benches);
