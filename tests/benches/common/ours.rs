//! Our core driven as an application would: the drain loop of the `Server` docs, every
//! decision accepted, every `DataChunk` consumed (its length summed), the reply bytes
//! drained into a reused buffer after each read.

use std::sync::Arc;
use std::time::Instant;

use smtp_proto::tls::{Session, TlsMode};
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

/// What the drain loop needs from a session: implemented by [`Server`] and by the TLS
/// wrapper [`Session`], so both run the very same loop.
pub(crate) trait Sans {
    /// Feeds bytes from the socket.
    fn input(&mut self, now: Instant, bytes: &[u8]);
    /// The next event.
    fn event(&mut self) -> Option<Event>;
    /// Accepts a decision.
    fn accept_pending(&mut self, now: Instant, pending: Pending) -> Result<(), ApiMisuse>;
    /// Appends the bytes to send.
    fn transmit(&mut self, out: &mut Vec<u8>) -> usize;
}

impl Sans for Server {
    fn input(&mut self, now: Instant, bytes: &[u8]) {
        self.handle_input(now, bytes)
            .expect("no TLS handshake runs");
    }
    fn event(&mut self) -> Option<Event> {
        self.poll_event()
    }
    fn accept_pending(&mut self, now: Instant, pending: Pending) -> Result<(), ApiMisuse> {
        self.accept(now, pending)
    }
    fn transmit(&mut self, out: &mut Vec<u8>) -> usize {
        self.poll_transmit(out)
    }
}

impl Sans for Session {
    fn input(&mut self, now: Instant, bytes: &[u8]) {
        self.handle_input(now, bytes);
    }
    fn event(&mut self) -> Option<Event> {
        self.poll_event()
    }
    fn accept_pending(&mut self, now: Instant, pending: Pending) -> Result<(), ApiMisuse> {
        self.accept(now, pending)
    }
    fn transmit(&mut self, out: &mut Vec<u8>) -> usize {
        self.poll_transmit(out)
    }
}

/// Takes every event, answering each decision with `accept` and summing the content.
pub(crate) fn drain(session: &mut impl Sans, now: Instant, tally: &mut Tally) {
    while let Some(event) = session.event() {
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
        drain(session, now, &mut tally);
        out.clear();
        tally.replies += session.transmit(out);
    }
    tally
}

/// The whole transcript through a fresh [`Server`].
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

/// The whole transcript through a fresh [`Session`] with TLS off: the wrapper's overhead.
pub(crate) fn run_session_plain(
    config: &Arc<ServerConfig>,
    now: Instant,
    input: &[u8],
    chunk: usize,
    out: &mut Vec<u8>,
) -> Tally {
    let mut session = Session::new(config.clone(), TlsMode::Off, now).expect("TLS off fits");
    out.clear();
    let greeting = session.poll_transmit(out);
    let mut tally = feed(&mut session, now, input, chunk, out);
    tally.replies += greeting;
    assert!(session.is_closed(), "QUIT closes the session");
    tally
}
