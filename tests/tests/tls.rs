//! The rustls binding, in memory against a rustls client: STARTTLS, injection, implicit
//! TLS, handshakes split at every byte, TLS failures (rules TLS-01…TLS-14).
// A panic is how a test reports failure.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore};
use smtp_proto::connection::{Connection, Next};
use smtp_proto::tls::{Endpoint, TlsMode};
use smtp_proto::{CloseReason, Event, Server, ServerConfig};
use smtp_proto_tests::transcript::t0;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A server and a client configuration that trusts it, made once per test.
fn tls_configs() -> (Arc<rustls::ServerConfig>, Arc<ClientConfig>) {
    let key = rcgen::generate_simple_self_signed(vec!["mx.example".to_owned()]).unwrap();
    let cert = CertificateDer::from(key.cert.der().to_vec());
    let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.key_pair.serialize_der()));
    let server = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], private)
        .unwrap();
    let mut roots = RootCertStore::empty();
    roots.add(cert).unwrap();
    let client = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    (Arc::new(server), Arc::new(client))
}

fn smtp_config() -> Arc<ServerConfig> {
    Arc::new(ServerConfig::new("mx.example"))
}

/// What a connection asks for once it has nothing more to hand out.
#[derive(Debug, PartialEq, Eq)]
enum Then {
    Read,
    Wait,
    Close,
}

/// Runs `connection` at `now` until it waits for input or closes, as an adapter would:
/// events summarised into `events` (every decision accepted), bytes written to `wire`.
fn run(
    connection: &mut Connection<Server>,
    now: Instant,
    events: &mut Vec<String>,
    wire: &mut Vec<u8>,
) -> Then {
    loop {
        match connection.next(now) {
            Next::Event(event) => {
                events.push(summarize(&event));
                if let Some(pending) = event.into_pending() {
                    connection.answer(now, pending, Ok(())).unwrap();
                }
            }
            Next::Transmit { bytes, .. } => {
                wire.extend_from_slice(bytes);
                connection.transmitted(now);
            }
            Next::Read {
                until: Some(at), ..
            } if at <= now => connection.handle_timeout(now),
            Next::Read { .. } => return Then::Read,
            Next::Wait { .. } => return Then::Wait,
            Next::Close => return Then::Close,
        }
    }
}

fn connection(config: Arc<ServerConfig>, mode: TlsMode, now: Instant) -> Connection<Server> {
    Endpoint::new(config, mode).accept(now)
}

/// One client and one session over an in-memory "socket".
struct Pair {
    session: Connection<Server>,
    client_config: Arc<ClientConfig>,
    client: Option<ClientConnection>,
    now: Instant,
    /// Events, summarised.
    events: Vec<String>,
    /// What the client received, decrypted.
    received: Vec<u8>,
}

impl Pair {
    fn new(mode: Mode) -> Self {
        let (server_tls, client_config) = tls_configs();
        let now = t0();
        let (session, client) = match mode {
            Mode::StartTls => (
                connection(smtp_config(), TlsMode::StartTls(server_tls), now),
                None,
            ),
            Mode::Implicit => (
                connection(smtp_config(), TlsMode::Implicit(server_tls), now),
                Some(new_client(&client_config)),
            ),
        };
        let mut pair = Self {
            session,
            client_config,
            client,
            now,
            events: Vec::new(),
            received: Vec::new(),
        };
        let _ = pair.drain();
        pair
    }

    /// Answers every decision with `accept`, records events, delivers output.
    fn drain(&mut self) -> Then {
        let mut wire = Vec::new();
        let then = run(&mut self.session, self.now, &mut self.events, &mut wire);
        self.deliver_to_client(&wire);
        then
    }

    /// Hands server output to the client: plaintext until the client has TLS.
    fn deliver_to_client(&mut self, mut wire: &[u8]) {
        let Some(client) = self.client.as_mut() else {
            self.received.extend_from_slice(wire);
            return;
        };
        while !wire.is_empty() {
            client.read_tls(&mut wire).unwrap();
            if client.process_new_packets().is_err() {
                return;
            }
            let _ = client.reader().read_to_end(&mut self.received);
        }
    }

    /// Sends raw bytes as the client's socket would, in the given pieces.
    fn send_raw(&mut self, pieces: &[&[u8]]) {
        for piece in pieces {
            self.session.handle_input(self.now, piece);
            let _ = self.drain();
        }
    }

    /// Sends plaintext through the client's TLS connection, flushing handshake records
    /// too, with every raw read split by `split`.
    fn send_tls(&mut self, plaintext: &[u8], split: &dyn Fn(&[u8]) -> Vec<Vec<u8>>) {
        let client = self.client.as_mut().expect("TLS client");
        client.writer().write_all(plaintext).unwrap();
        self.pump(split);
    }

    /// Moves client records to the server until neither side has anything to say.
    fn pump(&mut self, split: &dyn Fn(&[u8]) -> Vec<Vec<u8>>) {
        for _ in 0..16 {
            let mut wire = Vec::new();
            let client = self.client.as_mut().expect("TLS client");
            while client.wants_write() {
                client.write_tls(&mut wire).unwrap();
            }
            if wire.is_empty() {
                return;
            }
            for piece in split(&wire) {
                self.session.handle_input(self.now, &piece);
                let _ = self.drain();
            }
        }
    }

    fn start_client_tls(&mut self) {
        self.client = Some(new_client(&self.client_config));
    }

    fn take_received(&mut self) -> String {
        String::from_utf8(std::mem::take(&mut self.received)).unwrap()
    }
}

#[derive(Clone, Copy)]
enum Mode {
    StartTls,
    Implicit,
}

fn new_client(config: &Arc<ClientConfig>) -> ClientConnection {
    ClientConnection::new(config.clone(), ServerName::try_from("mx.example").unwrap()).unwrap()
}

fn whole(bytes: &[u8]) -> Vec<Vec<u8>> {
    vec![bytes.to_vec()]
}

fn bytewise(bytes: &[u8]) -> Vec<Vec<u8>> {
    bytes.iter().map(|b| vec![*b]).collect()
}

fn summarize(event: &Event) -> String {
    match event {
        Event::Hello { domain, .. } => format!("Hello {domain}"),
        Event::Mail { from, .. } => format!("Mail {from}"),
        Event::Rcpt { to, .. } => format!("Rcpt {to}"),
        Event::DataStart { .. } => "DataStart".to_owned(),
        Event::DataChunk(bytes) => format!("Chunk {}", bytes.escape_ascii()),
        Event::MessageComplete { info, .. } => format!("MessageComplete {}", info.size),
        Event::MessageAborted { reason } => format!("MessageAborted {reason:?}"),
        Event::StartTls { discarded } => format!("StartTls {discarded}"),
        Event::TlsEstablished { info } => format!(
            "TlsEstablished {} sni={} cert={}",
            info.protocol.as_deref().unwrap_or("?"),
            info.server_name.as_deref().unwrap_or("-"),
            info.client_certificate
        ),
        Event::Closed { reason } => format!("Closed {reason:?}"),
        other => format!("{other:?}"),
    }
}

/// Plaintext EHLO and STARTTLS, the handshake, and EHLO again over TLS.
fn starttls_session(split: &dyn Fn(&[u8]) -> Vec<Vec<u8>>) -> Pair {
    let mut pair = Pair::new(Mode::StartTls);
    pair.send_raw(&[b"EHLO client.example\r\n"]);
    let ehlo = pair.take_received();
    assert!(ehlo.contains("STARTTLS\r\n"), "{ehlo}");
    pair.send_raw(&[b"STARTTLS\r\n"]);
    assert_eq!(pair.take_received(), "220 2.0.0 Ready to start TLS\r\n");
    pair.start_client_tls();
    pair.pump(split);
    assert!(
        !pair.client.as_ref().unwrap().is_handshaking(),
        "handshake finished"
    );
    pair
}

#[test]
fn tls_01_starttls_full_path() {
    let mut pair = starttls_session(&whole);
    pair.send_tls(b"EHLO client.example\r\n", &whole);
    let ehlo = pair.take_received();
    assert!(ehlo.starts_with("250-mx.example\r\n"), "{ehlo}");
    assert!(
        !ehlo.contains("STARTTLS"),
        "TLS-06: not offered again: {ehlo}"
    );
    pair.send_tls(
        b"MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\nDATA\r\n",
        &whole,
    );
    assert_eq!(
        pair.take_received(),
        "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
    );
    pair.send_tls(b"Subject: hi\r\n\r\nbody\r\n.\r\nQUIT\r\n", &whole);
    assert_eq!(
        pair.take_received(),
        "250 2.0.0 Ok: queued\r\n221 2.0.0 Bye\r\n"
    );
    assert!(pair.session.machine().is_closed());
    let client = pair.client.as_mut().unwrap();
    let state = client.process_new_packets().unwrap();
    assert!(state.peer_has_closed(), "close_notify after 221");
    assert_eq!(
        pair.events,
        [
            "Hello client.example",
            "StartTls 0",
            "TlsEstablished TLSv1.3 sni=mx.example cert=false",
            "Hello client.example",
            "Mail <a@x.example>",
            "Rcpt <b@y.example>",
            "DataStart",
            "Chunk Subject: hi\\r\\n\\r\\nbody\\r\\n",
            "MessageComplete 21",
            "Closed Quit",
        ]
    );
}

#[test]
fn tls_facts_reach_the_application() {
    let pair = starttls_session(&whole);
    let info = pair.session.machine().tls_info().unwrap();
    assert_eq!(info.protocol.as_deref(), Some("TLSv1.3"));
    assert!(
        info.cipher_suite.as_deref().unwrap().starts_with("TLS13_"),
        "{:?}",
        info.cipher_suite
    );
    assert_eq!(info.server_name.as_deref(), Some("mx.example"));
    assert!(!info.client_certificate);
    assert!(pair.session.machine().is_tls());
}

#[test]
fn tls_02_injected_commands_are_dropped() {
    let mut pair = Pair::new(Mode::StartTls);
    pair.send_raw(&[b"EHLO client.example\r\n"]);
    pair.take_received();
    pair.send_raw(&[b"STARTTLS\r\nEHLO evil\r\nMAIL FROM:<x@y>\r\n"]);
    assert_eq!(pair.take_received(), "220 2.0.0 Ready to start TLS\r\n");
    pair.start_client_tls();
    pair.pump(&whole);
    // After the handshake nothing arrives without new input: the injected commands
    // never ran (command-injection-tester: any 250 here is the vulnerability).
    assert_eq!(pair.take_received(), "");
    assert!(
        pair.events.contains(&"StartTls 28".to_owned()),
        "{:?}",
        pair.events
    );
    assert!(
        !pair
            .events
            .iter()
            .any(|e| e.contains("evil") || e.starts_with("Mail"))
    );
    pair.send_tls(b"MAIL FROM:<a@x.example>\r\n", &whole);
    assert_eq!(
        pair.take_received(),
        "503 5.5.1 Error: send HELO/EHLO first\r\n"
    );
}

/// The replies to a pipelined batch far larger than rustls's default buffer limit
/// (64 KiB of records) all leave, in order: the layer lifts that limit, which would
/// otherwise cut a large write short and lose the rest.
#[test]
fn a_reply_batch_over_64_kib_leaves_whole() {
    let mut pair = starttls_session(&whole);
    pair.send_tls(b"EHLO client.example\r\n", &whole);
    pair.take_received();
    let count = 8_000;
    pair.send_tls(&b"RSET\r\n".repeat(count), &whole);
    let replies = pair.take_received();
    assert!(replies.len() > 64 * 1024, "{} octets", replies.len());
    assert_eq!(replies, "250 2.0.0 Ok\r\n".repeat(count));
    pair.send_tls(b"QUIT\r\n", &whole);
    assert_eq!(pair.take_received(), "221 2.0.0 Bye\r\n");
}

#[test]
fn handshake_split_at_every_byte() {
    let mut pair = starttls_session(&bytewise);
    pair.send_tls(b"EHLO client.example\r\n", &bytewise);
    pair.send_tls(b"NOOP\r\n", &bytewise);
    let replies = pair.take_received();
    assert!(replies.starts_with("250-mx.example\r\n"), "{replies}");
    assert!(replies.ends_with("250 2.0.0 Ok\r\n"), "{replies}");
}

#[test]
fn first_command_arrives_with_the_clients_finished() {
    let mut pair = Pair::new(Mode::StartTls);
    pair.send_raw(&[b"STARTTLS\r\n"]);
    pair.take_received();
    pair.start_client_tls();
    // Written before the handshake ends: rustls sends it right behind its Finished,
    // in the same flight, so the server gets both in one read.
    pair.client
        .as_mut()
        .unwrap()
        .writer()
        .write_all(b"EHLO early.example\r\n")
        .unwrap();
    pair.pump(&whole);
    assert!(
        pair.take_received().starts_with("250-mx.example\r\n"),
        "the early EHLO was answered"
    );
    let established = pair
        .events
        .iter()
        .position(|e| e.starts_with("TlsEstablished"));
    let hello = pair.events.iter().position(|e| e == "Hello early.example");
    assert!(established < hello && hello.is_some(), "{:?}", pair.events);
}

#[test]
fn tls_13_implicit_tls_greets_after_the_handshake() {
    let mut pair = Pair::new(Mode::Implicit);
    assert_eq!(pair.take_received(), "", "no plaintext greeting");
    pair.pump(&whole);
    assert_eq!(pair.take_received(), "220 mx.example ESMTP\r\n");
    pair.send_tls(b"EHLO c.example\r\n", &whole);
    pair.send_tls(b"STARTTLS\r\n", &whole);
    let replies = pair.take_received();
    assert!(!replies.contains("STARTTLS"), "{replies}");
    assert!(
        replies.ends_with("554 5.5.1 Error: TLS already active\r\n"),
        "{replies}"
    );
}

#[test]
fn implicit_tls_split_at_every_byte() {
    let mut pair = Pair::new(Mode::Implicit);
    pair.pump(&bytewise);
    assert_eq!(pair.take_received(), "220 mx.example ESMTP\r\n");
}

#[test]
fn tls_10_handshake_failure_closes_without_plaintext() {
    let mut pair = Pair::new(Mode::StartTls);
    pair.send_raw(&[b"STARTTLS\r\n"]);
    pair.take_received();
    let mut wire = Vec::new();
    pair.session
        .handle_input(pair.now, b"EHLO not-a-client-hello\r\n");
    let then = run(&mut pair.session, pair.now, &mut Vec::new(), &mut wire);
    assert!(pair.session.machine().is_closed());
    assert_eq!(then, Then::Close);
    // At most a TLS alert record (content type 21), never an SMTP reply.
    assert!(
        wire.is_empty() || wire[0] == 21,
        "{:?}",
        wire.escape_ascii().to_string()
    );
    pair.session.handle_input(pair.now, b"NOOP\r\n");
    assert!(
        matches!(pair.session.next(pair.now), Next::Close),
        "nothing read after the failure"
    );
}

#[test]
fn tls_failure_reason_is_reported() {
    let mut pair = Pair::new(Mode::Implicit);
    pair.send_raw(&[b"\x16\x03\x01\x00\x05hello"]);
    assert!(
        pair.events.contains(&"Closed TlsFailed".to_owned()),
        "{:?}",
        pair.events
    );
}

#[test]
fn tls_11_nothing_is_read_after_close_notify() {
    let mut pair = starttls_session(&whole);
    pair.send_tls(b"EHLO c.example\r\n", &whole);
    pair.send_tls(b"MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\n", &whole);
    pair.take_received();
    pair.send_tls(b"BDAT 100\r\n0123456789", &whole);
    pair.client.as_mut().unwrap().send_close_notify();
    pair.pump(&whole);
    pair.send_raw(&[b"X"]);
    assert!(pair.session.machine().is_closed());
    let tail: Vec<_> = pair.events.iter().rev().take(4).rev().cloned().collect();
    assert_eq!(
        tail,
        [
            "Chunk 0123456789",
            "MessageAborted SessionEnded",
            "TransactionReset",
            "Closed PeerEof"
        ]
    );
}

/// The endpoint's TLS mode alone decides whether STARTTLS is offered: in the EHLO reply
/// of a STARTTLS endpoint, not on a plaintext one (where the command is not implemented)
/// nor under implicit TLS (where TLS is already active).
#[test]
fn starttls_offer_follows_the_mode() {
    let mut pair = Pair::new(Mode::StartTls);
    pair.send_raw(&[b"EHLO client.example\r\n"]);
    let ehlo = pair.take_received();
    assert!(ehlo.contains("STARTTLS\r\n"), "{ehlo}");

    let now = t0();
    let mut plain = connection(smtp_config(), TlsMode::Off, now);
    let (mut events, mut wire) = (Vec::new(), Vec::new());
    assert_eq!(run(&mut plain, now, &mut events, &mut wire), Then::Read);
    wire.clear();
    plain.handle_input(now, b"EHLO client.example\r\n");
    let _ = run(&mut plain, now, &mut events, &mut wire);
    let ehlo = String::from_utf8(std::mem::take(&mut wire)).unwrap();
    assert!(ehlo.starts_with("250-mx.example\r\n"), "{ehlo}");
    assert!(!ehlo.contains("STARTTLS"), "{ehlo}");
    plain.handle_input(now, b"STARTTLS\r\n");
    let _ = run(&mut plain, now, &mut events, &mut wire);
    assert_eq!(wire, b"502 5.5.1 Error: command not implemented\r\n");
    assert!(
        !events.iter().any(|e| e.starts_with("StartTls")),
        "{events:?}"
    );

    let mut implicit = Pair::new(Mode::Implicit);
    implicit.pump(&whole);
    assert_eq!(implicit.take_received(), "220 mx.example ESMTP\r\n");
    implicit.send_tls(b"EHLO client.example\r\n", &whole);
    let ehlo = implicit.take_received();
    assert!(ehlo.starts_with("250-mx.example\r\n"), "{ehlo}");
    assert!(!ehlo.contains("STARTTLS"), "{ehlo}");
}

#[test]
fn handshake_timeout_closes_silently() {
    let mut pair = Pair::new(Mode::StartTls);
    pair.send_raw(&[b"STARTTLS\r\n"]);
    pair.take_received();
    let deadline = pair
        .session
        .machine()
        .poll_timeout()
        .expect("the handshake is timed");
    pair.now = deadline + Duration::from_secs(1);
    pair.session.handle_timeout(pair.now);
    assert_eq!(pair.drain(), Then::Close);
    assert_eq!(pair.take_received(), "");
    assert_eq!(pair.events.last().unwrap(), "Closed Timeout");
}

#[test]
fn refused_connection_gets_421_and_closes() {
    let endpoint = Endpoint::new(smtp_config(), TlsMode::Off);
    let mut session = endpoint.refuse(t0(), None);
    let mut events = Vec::new();
    let mut wire = Vec::new();
    let then = run(&mut session, t0(), &mut events, &mut wire);
    assert_eq!(
        wire,
        b"421 4.3.2 mx.example Too many connections, try again later\r\n"
    );
    assert_eq!(events, ["Closed Refused"]);
    assert!(session.machine().is_closed());
    assert_eq!(then, Then::Close);
    let _ = CloseReason::Refused;
}

/// Cuts `bytes` at the given fractions of its length.
fn cut(bytes: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.sort_unstable();
    let mut pieces = Vec::new();
    let mut start = 0;
    for p in points.into_iter().chain([bytes.len()]) {
        if p > start {
            pieces.push(bytes[start..p].to_vec());
            start = p;
        }
    }
    pieces
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Any split of the client's TLS records gives the same events and the same
    /// decrypted replies.
    #[test]
    fn tls_split_invariance(cuts in proptest::collection::vec(0usize..4096, 0..12)) {
        let split = |bytes: &[u8]| cut(bytes, &cuts);
        let mut reference = starttls_session(&whole);
        let mut split_run = starttls_session(&split);
        let script: [&[u8]; 3] = [
            b"EHLO c.example\r\n",
            b"MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n",
            b"line\r\n..dot\r\n.\r\nQUIT\r\n",
        ];
        for part in script {
            reference.send_tls(part, &whole);
            split_run.send_tls(part, &split);
        }
        prop_assert_eq!(reference.take_received(), split_run.take_received());
        prop_assert_eq!(&reference.events, &split_run.events);
    }
}
