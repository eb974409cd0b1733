//! Our core driven as an application would: the drain loop of the `Server` docs, every
//! decision accepted, every `DataChunk` consumed (its length summed), the reply bytes
//! drained into a reused buffer after each read.

use std::sync::Arc;
use std::time::Instant;

use smtp_proto::connection::{Connection, Next};
use smtp_proto::tls::{Endpoint, TlsMode};
use smtp_proto::{ApiMisuse, Event, Pending, Server, ServerConfig};

use super::transcript::Tally;

/// The configuration of the throughput benches: the defaults (PIPELINING on), except the
/// RFC 2920 synchronisation check, which a fully pipelined transcript breaks on purpose
/// (its body follows DATA without waiting for the 354; a real client waits).
pub(crate) fn pipelined_config() -> Arc<ServerConfig> {
    let mut config = ServerConfig::new("mx.example");
    config.pipelining_sync_check = false;
    Arc::new(config)
}

/// What the drain loop needs from a session: implemented by [`Server`] and by the
/// [`Connection`] that drives it (TLS off or on), so both run the very same loop.
pub(crate) trait Sans {
    /// Feeds bytes from the socket.
    fn input(&mut self, now: Instant, bytes: &[u8]);
    /// The next event; `None` once the session waits for input, with the bytes to send
    /// appended to `out`.
    fn step(&mut self, now: Instant, out: &mut Vec<u8>) -> Option<Event>;
    /// Accepts a decision.
    fn accept_pending(&mut self, now: Instant, pending: Pending) -> Result<(), ApiMisuse>;
}

impl Sans for Server {
    fn input(&mut self, now: Instant, bytes: &[u8]) {
        self.handle_input(now, bytes)
            .expect("no TLS handshake runs");
    }
    fn step(&mut self, _now: Instant, out: &mut Vec<u8>) -> Option<Event> {
        let event = self.poll_event();
        if event.is_none() {
            let _ = self.poll_transmit(out);
        }
        event
    }
    fn accept_pending(&mut self, now: Instant, pending: Pending) -> Result<(), ApiMisuse> {
        self.accept(now, pending)
    }
}

impl Sans for Connection<Server> {
    fn input(&mut self, now: Instant, bytes: &[u8]) {
        self.handle_input(now, bytes);
    }
    fn step(&mut self, now: Instant, out: &mut Vec<u8>) -> Option<Event> {
        loop {
            match self.next(now) {
                Next::Event(event) => return Some(event),
                Next::Transmit { bytes, .. } => {
                    out.extend_from_slice(bytes);
                    self.transmitted(now);
                }
                // The read before the greeting: nothing came early.
                Next::Read {
                    until: Some(at), ..
                } if at <= now => self.handle_timeout(now),
                Next::Read { .. } | Next::Wait { .. } | Next::Close => return None,
            }
        }
    }
    fn accept_pending(&mut self, now: Instant, pending: Pending) -> Result<(), ApiMisuse> {
        self.answer(now, pending, Ok(()))
    }
}

/// Takes every event, answering each decision with `accept` and summing the content,
/// then the bytes to send into `out`; returns how many there were.
pub(crate) fn drain(
    session: &mut impl Sans,
    now: Instant,
    tally: &mut Tally,
    out: &mut Vec<u8>,
) -> usize {
    let start = out.len();
    while let Some(event) = session.step(now, out) {
        match event {
            Event::DataChunk(bytes) => tally.content += bytes.len() as u64,
            Event::MessageComplete { pending, .. } => {
                tally.messages += 1;
                session.accept_pending(now, pending).expect("pending");
            }
            Event::Hello { pending, .. }
            | Event::Mail { pending, .. }
            | Event::Rcpt { pending, .. }
            | Event::DataStart { pending, .. } => {
                session.accept_pending(now, pending).expect("pending");
            }
            Event::Closed { .. }
            | Event::TransactionReset
            | Event::StartTls { .. }
            | Event::TlsEstablished { .. } => {}
            other => panic!("unexpected event {other:?}"),
        }
    }
    out.len() - start
}

/// Feeds `input` in reads of `chunk` octets; after each read, drains the events, then the
/// reply bytes into `out` (cleared first: they would have been written to the socket).
pub(crate) fn feed(
    session: &mut impl Sans,
    now: Instant,
    input: &[u8],
    chunk: usize,
    out: &mut Vec<u8>,
) -> Tally {
    let mut tally = Tally::default();
    for read in input.chunks(chunk) {
        session.input(now, read);
        out.clear();
        tally.replies += drain(session, now, &mut tally, out);
    }
    tally
}

/// The whole transcript through a fresh [`Server`]. Never inlined: callgrind counts from
/// this symbol (`--toggle-collect`, tests/benches/README.md).
#[inline(never)]
pub(crate) fn run_server(
    config: &Arc<ServerConfig>,
    now: Instant,
    input: &[u8],
    chunk: usize,
    out: &mut Vec<u8>,
) -> Tally {
    let mut server = Server::new(config.clone(), now);
    out.clear();
    let greeting = server.poll_transmit(out);
    let mut tally = feed(&mut server, now, input, chunk, out);
    tally.replies += greeting;
    assert!(server.is_closed(), "QUIT closes the session");
    tally
}

/// The whole transcript through a fresh [`Connection`] with TLS off: the driver's
/// overhead. Never inlined, as `run_server`.
#[inline(never)]
pub(crate) fn run_session_plain(
    config: &Arc<ServerConfig>,
    now: Instant,
    input: &[u8],
    chunk: usize,
    out: &mut Vec<u8>,
) -> Tally {
    let mut session = Endpoint::new(config.clone(), TlsMode::Off).accept(now);
    out.clear();
    let greeting = drain(&mut session, now, &mut Tally::default(), out);
    let mut tally = feed(&mut session, now, input, chunk, out);
    tally.replies += greeting;
    assert!(session.machine().is_closed(), "QUIT closes the session");
    tally
}
