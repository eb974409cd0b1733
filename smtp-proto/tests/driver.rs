//! The connection driver without a socket: what `Connection::next` asks of an adapter,
//! in the order an adapter meets it (manual::smuggling SMG-P5 for the read before the
//! greeting, manual::starttls TLS-04 for the discarded injection).
#![cfg(feature = "rustls")]
// A panic is how a test reports failure.
#![allow(clippy::unwrap_used)]

use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use smtp_proto::connection::{Connection, FINAL_WRITE, Machine, Next, Stop};
use smtp_proto::tls::{Endpoint, TlsMode};
use smtp_proto::{ApiMisuse, Event, Server, ServerConfig, TlsInfo};

/// One step of what the connection asked for, with bytes as text.
#[derive(Debug, PartialEq, Eq)]
enum Asked {
    Event(String),
    Transmit(String),
    Read,
    Wait,
    Close,
}

/// Runs `connection` until it asks for input, a wait or a close, accepting every
/// decision unless `unhandled`, which gives every event back instead.
fn run(connection: &mut Connection<Server>, now: Instant, unhandled: bool) -> Vec<Asked> {
    let mut asked = Vec::new();
    loop {
        match connection.next(now) {
            Next::Event(event) => {
                asked.push(Asked::Event(format!("{event:?}")));
                if unhandled {
                    connection.unhandled(now, event);
                } else if let Some(pending) = event.into_pending() {
                    connection.answer(now, pending, Ok(())).unwrap();
                }
            }
            Next::Transmit { bytes, .. } => {
                asked.push(Asked::Transmit(String::from_utf8_lossy(bytes).into_owned()));
                connection.transmitted(now);
            }
            Next::Read { .. } => {
                asked.push(Asked::Read);
                return asked;
            }
            Next::Wait { .. } => {
                asked.push(Asked::Wait);
                return asked;
            }
            Next::Close => {
                asked.push(Asked::Close);
                return asked;
            }
        }
    }
}

fn plain() -> Connection<Server> {
    Endpoint::new(Arc::new(ServerConfig::new("mx.example")), TlsMode::Off).accept(t0())
}

/// A connection past its greeting.
fn greeted(now: Instant) -> Connection<Server> {
    let mut connection = plain();
    assert!(matches!(connection.next(now), Next::Read { until: Some(at), .. } if at == now));
    connection.handle_timeout(now);
    let asked = run(&mut connection, now, false);
    assert!(matches!(&asked[0], Asked::Transmit(t) if t.starts_with("220 ")));
    connection
}

fn transmitted(asked: &[Asked]) -> String {
    asked
        .iter()
        .filter_map(|a| match a {
            Asked::Transmit(text) => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

#[allow(clippy::disallowed_methods)]
fn t0() -> Instant {
    Instant::now()
}

#[test]
fn the_first_read_does_not_wait_and_comes_before_the_greeting() {
    let now = t0();
    let mut connection = plain();
    match connection.next(now) {
        Next::Read { until, size } => {
            assert_eq!(until, Some(now), "one read that does not wait");
            assert_eq!(size, 2 * 1024);
        }
        other => panic!("expected the read before the greeting, got {other:?}"),
    }
    // Nothing came: the greeting leaves, then the connection reads for commands.
    connection.handle_timeout(now);
    let asked = run(&mut connection, now, false);
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert!(transmitted(&asked).starts_with("220 mx.example"));
    assert_eq!(asked[1], Asked::Read);
}

#[test]
fn smg_p5_talking_before_the_greeting_gets_554() {
    let now = t0();
    let mut connection = plain();
    assert!(matches!(connection.next(now), Next::Read { .. }));
    connection.handle_input(now, b"EHLO early.example\r\n");
    let asked = run(&mut connection, now, false);
    let wire = transmitted(&asked);
    assert!(wire.contains("\r\n554 "), "{wire:?}");
    assert!(
        !asked
            .iter()
            .any(|a| matches!(a, Asked::Event(e) if e.starts_with("Hello")))
    );
    assert_eq!(asked.last(), Some(&Asked::Close));
}

#[test]
fn writes_are_due_by_the_machines_deadline_or_final_write_after_it_closed() {
    let now = t0();
    let mut connection = greeted(now);
    connection.handle_input(now, b"NOOP\r\n");
    let by = match connection.next(now) {
        Next::Transmit { bytes, by } => {
            assert!(bytes.starts_with(b"250 "));
            by
        }
        other => panic!("expected the NOOP reply, got {other:?}"),
    };
    connection.transmitted(now);
    assert_eq!(Some(by), connection.machine().poll_timeout());
    assert!(
        by > now + Duration::from_secs(60),
        "the command timeout, not FINAL_WRITE"
    );
    connection.handle_input(now, b"QUIT\r\n");
    let mut closed = false;
    loop {
        match connection.next(now) {
            Next::Event(event) => closed |= matches!(event, Event::Closed { .. }),
            Next::Transmit { bytes, by } => {
                assert!(bytes.starts_with(b"221 "));
                assert_eq!(
                    by,
                    now + FINAL_WRITE,
                    "no deadline of the machine's once closed"
                );
                connection.transmitted(now);
            }
            Next::Close => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(closed);
}

#[test]
fn drain_waits_for_the_transaction_then_now_closes_at_once() {
    let now = t0();
    let mut connection = greeted(now);
    for line in [&b"EHLO c.example\r\n"[..], b"MAIL FROM:<a@x.example>\r\n"] {
        connection.handle_input(now, line);
        let _ = run(&mut connection, now, false);
    }
    connection.stop(now, Stop::Drain);
    let asked = run(&mut connection, now, false);
    assert_eq!(
        asked,
        [Asked::Read],
        "a transaction in flight is not cut off"
    );
    connection.stop(now, Stop::Run);
    connection.stop(now, Stop::Drain);
    assert_eq!(
        run(&mut connection, now, false),
        [Asked::Read],
        "levels only go up"
    );
    connection.stop(now, Stop::Now);
    let asked = run(&mut connection, now, false);
    assert!(transmitted(&asked).starts_with("421 4.3.2 "), "{asked:?}");
    assert_eq!(asked.last(), Some(&Asked::Close));
}

#[test]
fn drain_closes_an_idle_session_at_once() {
    let now = t0();
    let mut connection = greeted(now);
    connection.stop(now, Stop::Drain);
    let asked = run(&mut connection, now, false);
    assert!(transmitted(&asked).starts_with("421 4.3.2 "), "{asked:?}");
    assert_eq!(asked.last(), Some(&Asked::Close));
}

#[test]
fn an_unhandled_decision_gets_451_and_the_session_goes_on() {
    let now = t0();
    let mut connection = greeted(now);
    connection.handle_input(now, b"EHLO c.example\r\n");
    let asked = run(&mut connection, now, true);
    assert!(matches!(&asked[0], Asked::Event(e) if e.starts_with("Hello")));
    assert!(transmitted(&asked).starts_with("451 4.3.0 "), "{asked:?}");
    assert_eq!(asked.last(), Some(&Asked::Read));
}

#[test]
fn a_decision_owed_is_a_wait_without_deadline() {
    let now = t0();
    let mut connection = greeted(now);
    connection.handle_input(now, b"EHLO c.example\r\n");
    let Next::Event(event) = connection.next(now) else {
        panic!("expected Hello");
    };
    let pending = event.into_pending().unwrap();
    assert!(matches!(connection.next(now), Next::Wait { until: None }));
    connection.answer(now, pending, Ok(())).unwrap();
    assert!(matches!(connection.next(now), Next::Transmit { .. }));
}

#[test]
fn a_misfit_answer_is_reported_and_answered_safely() {
    let now = t0();
    let mut connection = greeted(now);
    connection.handle_input(now, b"EHLO c.example\r\n");
    let Next::Event(event) = connection.next(now) else {
        panic!("expected Hello");
    };
    let pending = event.into_pending().unwrap();
    let misfit = smtp_proto::Reply::new(354, "Go ahead").unwrap();
    assert_eq!(
        connection.answer(now, pending, Err(misfit)),
        Err(ApiMisuse::InvalidReplyForCommand(354))
    );
    let asked = run(&mut connection, now, false);
    assert!(transmitted(&asked).starts_with("451 4.3.0 "), "{asked:?}");
}

#[test]
fn a_failed_write_is_never_retried_and_the_application_hears_the_close() {
    let now = t0();
    let mut connection = greeted(now);
    connection.handle_input(now, b"EHLO c.example\r\n");
    let _ = run(&mut connection, now, false);
    connection.handle_input(now, b"MAIL FROM:<a@x.example>\r\n");
    loop {
        match connection.next(now) {
            Next::Event(event) => {
                if let Some(pending) = event.into_pending() {
                    connection.answer(now, pending, Ok(())).unwrap();
                }
            }
            Next::Transmit { .. } => {
                connection.write_failed(now);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let asked = run(&mut connection, now, false);
    assert!(transmitted(&asked).is_empty(), "{asked:?}");
    assert!(
        asked
            .iter()
            .any(|a| matches!(a, Asked::Event(e) if e.starts_with("Closed"))),
        "{asked:?}"
    );
    assert_eq!(asked.last(), Some(&Asked::Close));
}

#[test]
fn reads_grow_when_full_and_shrink_after_a_run_of_short_ones() {
    let now = t0();
    let mut connection = greeted(now);
    for line in [
        &b"EHLO c.example\r\n"[..],
        b"MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\nDATA\r\n",
    ] {
        connection.handle_input(now, line);
        let _ = run(&mut connection, now, false);
    }
    // The size of the read the connection asks for once it has handed out the content.
    let size = |connection: &mut Connection<Server>| loop {
        match connection.next(now) {
            Next::Read { size, .. } => return size,
            Next::Event(Event::DataChunk(_)) => {}
            other => panic!("expected content and a read, got {other:?}"),
        }
    };
    let mut sizes = Vec::new();
    for _ in 0..7 {
        let n = size(&mut connection);
        sizes.push(n);
        connection.handle_input(now, &vec![b'x'; n]);
    }
    assert_eq!(sizes, [2048, 4096, 8192, 16384, 32768, 65536, 65536]);
    for _ in 0..7 {
        connection.handle_input(now, b"short\r\n");
        assert_eq!(
            size(&mut connection),
            65536,
            "one short read does not shrink"
        );
    }
    connection.handle_input(now, b"short\r\n");
    assert_eq!(size(&mut connection), 2048);
}

/// A writer the test can read back: a log line per `tracing` event.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl io::Write for Log {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn tls_04_starttls_with_injected_bytes_is_logged_once() {
    let log = Log::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let key = rcgen::generate_simple_self_signed(vec!["mx.example".to_owned()]).unwrap();
    let cert = rustls::pki_types::CertificateDer::from(key.cert.der().to_vec());
    let private = rustls::pki_types::PrivateKeyDer::Pkcs8(
        rustls::pki_types::PrivatePkcs8KeyDer::from(key.key_pair.serialize_der()),
    );
    let tls = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert], private)
    .unwrap();
    let config = ServerConfig::new("mx.example");
    let endpoint = Endpoint::new(Arc::new(config), TlsMode::StartTls(Arc::new(tls)));
    let now = t0();
    let asked = tracing::subscriber::with_default(subscriber, || {
        let mut connection = endpoint.accept(now);
        assert!(matches!(connection.next(now), Next::Read { .. }));
        connection.handle_timeout(now);
        let _ = run(&mut connection, now, false);
        connection.handle_input(now, b"EHLO c.example\r\n");
        let _ = run(&mut connection, now, false);
        connection.handle_input(now, b"STARTTLS\r\nMAIL FROM:<evil@x.example>\r\n");
        run(&mut connection, now, false)
    });
    assert!(
        asked
            .iter()
            .any(|a| matches!(a, Asked::Event(e) if e == "StartTls { discarded: 28 }")),
        "{asked:?}"
    );
    assert!(transmitted(&asked).ends_with("220 2.0.0 Ready to start TLS\r\n"));
    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains("discarded=28"), "{text}");
}

/// A machine that is not SMTP: it echoes each line it reads, upper-cased, after the
/// application approved it; `BYE` closes.
#[derive(Debug, Default)]
struct Shout {
    input: Vec<u8>,
    output: Vec<u8>,
    lines: std::collections::VecDeque<String>,
    owed: Option<String>,
    closed: bool,
    eof: bool,
}

impl Machine for Shout {
    type Event = (u32, String);
    type Pending = u32;
    type Decision = bool;

    fn handle_input(&mut self, _now: Instant, bytes: &[u8]) {
        self.input.extend_from_slice(bytes);
        while let Some(end) = self.input.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.input.drain(..=end).collect();
            self.lines
                .push_back(String::from_utf8_lossy(&line).trim_end().to_owned());
        }
    }
    fn handle_eof(&mut self, _now: Instant) {
        self.eof = true;
    }
    fn handle_timeout(&mut self, _now: Instant) {}
    fn handle_tls_established(&mut self, _now: Instant, _info: TlsInfo) -> Result<(), ApiMisuse> {
        Err(ApiMisuse::NoTlsHandshake)
    }
    fn handle_tls_failure(&mut self, _now: Instant) {
        self.closed = true;
    }
    fn poll_event(&mut self) -> Option<(u32, String)> {
        if self.owed.is_some() || self.closed {
            return None;
        }
        let line = self.lines.pop_front()?;
        self.owed = Some(line.clone());
        Some((7, line))
    }
    fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        let n = self.output.len();
        out.append(&mut self.output);
        n
    }
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
    fn wants_read(&self) -> bool {
        !self.eof
    }
    fn awaits_decision(&self) -> bool {
        self.owed.is_some()
    }
    fn is_closed(&self) -> bool {
        self.closed || (self.eof && self.lines.is_empty() && self.owed.is_none())
    }
    fn answer(&mut self, _now: Instant, pending: u32, approve: bool) -> Result<(), ApiMisuse> {
        let line = self.owed.take().ok_or(ApiMisuse::NotPending)?;
        if pending != 7 {
            return Err(ApiMisuse::NotPending);
        }
        if line == "BYE" {
            self.closed = true;
        }
        let reply = if approve {
            line.to_uppercase()
        } else {
            "no".to_owned()
        };
        self.output.extend_from_slice(reply.as_bytes());
        self.output.extend_from_slice(b"\n");
        Ok(())
    }
    fn unhandled(&mut self, now: Instant, event: (u32, String)) -> bool {
        let _ = self.answer(now, event.0, false);
        true
    }
    fn starts_tls(_event: &(u32, String)) -> Option<usize> {
        None
    }
    fn stop(&mut self, _now: Instant, level: Stop) {
        self.closed |= level == Stop::Now;
    }
    fn reads_first(&self) -> bool {
        false
    }
}

#[test]
fn a_machine_that_is_not_smtp_runs_through_the_same_driver() {
    let now = t0();
    let mut connection = Connection::plain(Shout::default());
    assert!(
        matches!(
            connection.next(now),
            Next::Read {
                until: None,
                size: 2048
            }
        ),
        "no read before a first write, no deadline"
    );
    connection.handle_input(now, b"hello\nwor");
    let mut wire = Vec::new();
    let mut events = Vec::new();
    let mut drive = |connection: &mut Connection<Shout>, wire: &mut Vec<u8>| loop {
        match connection.next(now) {
            Next::Event((pending, line)) => {
                events.push(line.clone());
                if line == "skip" {
                    connection.unhandled(now, (pending, line));
                } else {
                    connection.answer(now, pending, true).unwrap();
                }
            }
            Next::Transmit { bytes, by } => {
                assert_eq!(by, now + FINAL_WRITE);
                wire.extend_from_slice(bytes);
                connection.transmitted(now);
            }
            other => return format!("{other:?}"),
        }
    };
    assert!(drive(&mut connection, &mut wire).starts_with("Read"));
    connection.handle_input(now, b"ld\nskip\nBYE\nignored\n");
    assert_eq!(drive(&mut connection, &mut wire), "Close");
    assert_eq!(String::from_utf8(wire).unwrap(), "HELLO\nWORLD\nno\nBYE\n");
}

/// Runs `f` with a subscriber that keeps every log line; returns them.
fn logged(f: impl FnOnce()) -> String {
    let log = Log::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, f);
    let bytes = log.0.lock().unwrap().clone();
    String::from_utf8(bytes).unwrap()
}

#[cfg(debug_assertions)]
#[test]
fn a_pending_dropped_unanswered_is_logged_in_debug_builds() {
    let now = t0();
    let dropped = logged(|| {
        let mut server = Server::new(Arc::new(ServerConfig::new("mx.example")), now);
        let _ = server.poll_transmit(&mut Vec::new()); // the greeting
        server.handle_input(now, b"HELO c.example\r\n").unwrap();
        let pending = server.poll_event().and_then(Event::into_pending);
        assert!(pending.is_some());
    });
    assert_eq!(dropped.lines().count(), 1, "{dropped}");
    assert!(dropped.contains("dropped without an answer"), "{dropped}");
    let answered = logged(|| {
        let mut server = Server::new(Arc::new(ServerConfig::new("mx.example")), now);
        let _ = server.poll_transmit(&mut Vec::new()); // the greeting
        server.handle_input(now, b"HELO c.example\r\n").unwrap();
        let pending = server.poll_event().and_then(Event::into_pending).unwrap();
        server.accept(now, pending).unwrap();
        server.handle_input(now, b"HELO again.example\r\n").unwrap();
        let pending = server.poll_event().and_then(Event::into_pending).unwrap();
        let misfit = smtp_proto::Reply::new(354, "Go ahead").unwrap();
        assert!(server.respond(now, pending, misfit).is_err());
    });
    assert_eq!(answered, "", "answered tokens, even wrongly, are spent");
}
