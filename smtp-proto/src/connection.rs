//! The connection driver: one protocol machine, its TLS layer and the I/O policy, behind
//! one method that names the caller's next action.
//!
//! An adapter (tokio, blocking sockets, an in-memory test) owns a socket, a clock and a
//! timer, and nothing else. It calls [`Connection::next`] in a loop and does what the
//! returned [`Next`] says:
//!
//! | `Next` | the adapter… | then calls |
//! |---|---|---|
//! | [`Event`](Next::Event) | hands the event to the application; a decision token it carries is answered through [`answer`](Connection::answer), an event the application does not know goes to [`unhandled`](Connection::unhandled) | `next` |
//! | [`Transmit`](Next::Transmit) | writes every byte by `by` | [`transmitted`](Connection::transmitted), or [`write_failed`](Connection::write_failed) |
//! | [`Read`](Next::Read) | reads at most `size` bytes, waiting until `until` at the latest | [`handle_input`](Connection::handle_input), [`handle_eof`](Connection::handle_eof), or [`handle_timeout`](Connection::handle_timeout) when nothing came |
//! | [`Wait`](Next::Wait) | reads nothing and waits until `until` | [`handle_timeout`](Connection::handle_timeout) |
//! | [`Close`](Next::Close) | shuts the socket down | nothing: the session is over |
//!
//! A stop request from a listener (graceful, then immediate shutdown) goes in through
//! [`stop`](Connection::stop) whenever it arrives.
//!
//! Everything an adapter used to decide for itself lives here, once: the read before
//! the greeting (a client talking first is refused, [`manual`]), the deadline of each
//! write (the machine's, or [`FINAL_WRITE`] once it has none), the size of each read,
//! the [`Stop`] levels, logging a misanswered decision and plaintext discarded at
//! STARTTLS (CVE-2011-0411), and a safe answer for any event the application did not
//! handle, so no client waits for a reply that will never come.
//!
//! # Machines
//!
//! The driver is generic over a [`Machine`]: the SMTP [`Server`] is one. A client
//! machine plugs in the same way: it implements [`Machine`] (its events, its decision
//! tokens if it has any, `starts_tls` for its STARTTLS reply, `reads_first` false
//! because the client waits for the greeting), the TLS layer makes a
//! `rustls::ClientConnection` instead of a `ServerConnection` and otherwise runs the
//! same code (the count of discarded bytes doubling as the response-injection check),
//! and the adapters' pumps drive it unchanged, as they are generic over the machine.
//!
//! [`manual`]: crate::manual
//! [`Server`]: crate::Server

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::error::ApiMisuse;
use crate::proxy::{Outcome, ProxyError, ProxyHeader, Stage};
use crate::server::TlsInfo;

#[cfg(feature = "rustls")]
use crate::tls::Layer as Transport;

/// How long the last bytes may take to leave once the machine has no deadline of its own
/// (the session closed, or a decision is owed).
pub const FINAL_WRITE: Duration = Duration::from_secs(30);

/// The read size of an idle or chatty session.
const READ_SMALL: usize = 2 * 1024;
/// The largest read size, reached by doubling after reads that fill the buffer (bulk
/// content).
const READ_LARGE: usize = 64 * 1024;
/// Short reads in a row after which a large read size is given back.
const SHRINK_AFTER: u32 = 8;
/// The write buffer capacity a session keeps after a write of at most this many bytes
/// (replies): a larger buffer, grown by a burst such as a TLS handshake flight, is given
/// back then, so an idle session does not hold it. A run of large writes (a client's
/// message content) keeps its buffer.
const OUT_KEEP: usize = 1024;

/// A protocol state machine that a [`Connection`] can drive: bytes in, events and bytes
/// out, time injected. The SMTP server implements it; so will the client.
pub trait Machine {
    /// What the machine tells the application.
    type Event;
    /// The token of a decision the application owes (see [`answer`](Self::answer)).
    type Pending;
    /// The application's answer to a [`Pending`](Self::Pending).
    type Decision;

    /// Bytes received from the peer (decrypted, when TLS is on).
    fn handle_input(&mut self, now: Instant, bytes: &[u8]);
    /// The peer closed its sending side.
    fn handle_eof(&mut self, now: Instant);
    /// The deadline of [`poll_timeout`](Self::poll_timeout) may have passed (a no-op
    /// before it).
    fn handle_timeout(&mut self, now: Instant);
    /// The TLS handshake finished.
    ///
    /// # Errors
    ///
    /// When the machine did not expect a handshake; the connection then fails.
    fn handle_tls_established(&mut self, now: Instant, info: TlsInfo) -> Result<(), ApiMisuse>;
    /// The TLS layer failed; the machine closes without another byte in plaintext.
    fn handle_tls_failure(&mut self, now: Instant);

    /// The next event, if any.
    fn poll_event(&mut self) -> Option<Self::Event>;
    /// Appends the bytes to send and returns how many there were.
    fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize;
    /// When [`handle_timeout`](Self::handle_timeout) is due, if ever.
    fn poll_timeout(&self) -> Option<Instant>;
    /// Whether more input is useful now.
    fn wants_read(&self) -> bool;
    /// Whether the machine waits for the application to answer a decision.
    fn awaits_decision(&self) -> bool;
    /// Whether the session is over.
    fn is_closed(&self) -> bool;

    /// Answers a decision.
    ///
    /// # Errors
    ///
    /// When the answer does not fit; the machine has answered safely on its own.
    fn answer(
        &mut self,
        now: Instant,
        pending: Self::Pending,
        decision: Self::Decision,
    ) -> Result<(), ApiMisuse>;
    /// The safe answer for an event the application did not handle: a decision it
    /// carries is refused with a temporary error. Returns whether there was one.
    fn unhandled(&mut self, now: Instant, event: Self::Event) -> bool;
    /// `Some(discarded)` when `event` switches the connection to TLS now; `discarded`
    /// counts the plaintext octets received after the switch was asked for, which were
    /// dropped (a server's injected commands, a client's injected replies).
    fn starts_tls(event: &Self::Event) -> Option<usize>;

    /// A listener asks the session to stop: [`Stop::Drain`] or [`Stop::Now`].
    fn stop(&mut self, now: Instant, level: Stop);

    /// A complete PROXY header arrived (the connection's PROXY stage, [`crate::proxy`]):
    /// the session may start (a server reports it and lets its greeting go). Machines
    /// without a PROXY stage never get this call.
    fn handle_proxy_header(&mut self, now: Instant, header: ProxyHeader) {
        let _ = (now, header);
    }
    /// The PROXY stage failed (malformed header, timeout, EOF, untrusted peer): the
    /// machine closes without sending a byte.
    fn handle_proxy_failure(&mut self, now: Instant, error: ProxyError) {
        let _ = error;
        self.handle_tls_failure(now);
    }
    /// The client facts an event changes (a server's XCLIENT), applied to the
    /// connection's [`ConnectionInfo`].
    fn client_update(event: &Self::Event) -> Option<ClientUpdate> {
        let _ = event;
        None
    }
    /// Whether the peer must not send before this side's first bytes (an SMTP server's
    /// greeting): the driver then takes one read that does not wait before the first
    /// write, so input that arrived early is seen.
    fn reads_first(&self) -> bool;
}

/// What a listener asks of a running session. Levels only go up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Stop {
    /// Keep serving.
    Run = 0,
    /// Graceful shutdown: finish the transaction in flight, then `421`.
    Drain = 1,
    /// The grace period is over: `421` now.
    Now = 2,
}

impl Stop {
    /// The level stored as `level as u8` (e.g. in an `AtomicU8` shared with sessions);
    /// an unknown value counts as [`Stop::Now`].
    pub fn from_u8(level: u8) -> Self {
        match level {
            0 => Self::Run,
            1 => Self::Drain,
            _ => Self::Now,
        }
    }
}

/// Where a connection comes from and which listener took it.
///
/// Behind a load balancer (a PROXY header, or XCLIENT from an authorised peer) `peer` and
/// `local` are the **effective** addresses, those of the client's original connection, and
/// `proxy` keeps the socket peer that told us: handlers, logs and Received headers use
/// `peer` either way (`manual::proxy` PX-11).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionInfo {
    /// The client's address: the socket peer, or the real client a proxy named.
    pub peer: SocketAddr,
    /// The address the client connected to.
    pub local: SocketAddr,
    /// The socket peer when a proxy named the client (PROXY header or XCLIENT); `None`
    /// for a direct connection.
    pub proxy: Option<SocketAddr>,
}

impl ConnectionInfo {
    /// Facts of one direct connection.
    pub fn new(peer: SocketAddr, local: SocketAddr) -> Self {
        Self {
            peer,
            local,
            proxy: None,
        }
    }

    /// The socket peer: `proxy` if a proxy named the client, else `peer`.
    pub fn socket_peer(&self) -> SocketAddr {
        self.proxy.unwrap_or(self.peer)
    }

    /// The facts after a PROXY header: its addresses become the effective ones; LOCAL and
    /// UNKNOWN keep the socket's. Either way the socket peer is kept as `proxy`.
    pub fn proxied(mut self, header: &ProxyHeader) -> Self {
        self.proxy = Some(self.socket_peer());
        if let (Some(source), Some(destination)) = (header.source, header.destination) {
            self.peer = source;
            self.local = destination;
        }
        self
    }

    /// The facts after an update from the session (XCLIENT): given values replace the
    /// current ones; the socket peer is kept as `proxy`.
    pub fn updated(mut self, update: &ClientUpdate) -> Self {
        self.proxy = Some(self.socket_peer());
        if let Some(ip) = update.addr {
            self.peer.set_ip(ip);
        }
        if let Some(port) = update.port {
            self.peer.set_port(port);
        }
        if let Some(ip) = update.dest_addr {
            self.local.set_ip(ip);
        }
        if let Some(port) = update.dest_port {
            self.local.set_port(port);
        }
        self
    }
}

/// New client facts from inside the session (XCLIENT `ADDR`, `PORT`, `DESTADDR`,
/// `DESTPORT`); `None` leaves a fact as it was.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientUpdate {
    /// The client's address.
    pub addr: Option<std::net::IpAddr>,
    /// The client's port.
    pub port: Option<u16>,
    /// The address the client connected to.
    pub dest_addr: Option<std::net::IpAddr>,
    /// The port the client connected to.
    pub dest_port: Option<u16>,
}

/// The caller's next action; see the [module documentation](self).
#[derive(Debug)]
#[must_use = "the connection waits until the caller does what it says"]
pub enum Next<'a, E> {
    /// Hand this event to the application.
    Event(E),
    /// Write all of `bytes` by `by`, then call [`Connection::transmitted`] (or
    /// [`Connection::write_failed`]).
    Transmit {
        /// The bytes to write, in one write where possible.
        bytes: &'a [u8],
        /// The write's deadline.
        by: Instant,
    },
    /// Read at most `size` bytes and feed them in; if nothing came by `until`, call
    /// [`Connection::handle_timeout`]. `until` may be now or past: one read that does not
    /// wait. `None`: no deadline.
    Read {
        /// When to give up waiting.
        until: Option<Instant>,
        /// The read buffer's size.
        size: usize,
    },
    /// Nothing to read or write: call [`Connection::handle_timeout`] at `until`. `None`
    /// means the machine waits for the answer to a decision the caller holds; answer it
    /// (a caller that hands every event to a handler never sees this).
    Wait {
        /// When to call `handle_timeout`.
        until: Option<Instant>,
    },
    /// The session is over: shut the socket down.
    Close,
}

/// The read before the first write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Peek {
    /// Not asked for yet.
    Due,
    /// Asked for; the next input, EOF or timeout ends it.
    Asked,
    /// Done, or not needed.
    Done,
}

/// One machine with its TLS layer and the I/O policy an adapter follows; see the
/// [module documentation](self).
#[derive(Debug)]
pub struct Connection<M: Machine> {
    machine: M,
    transport: Transport,
    /// Bytes handed out by the last [`Next::Transmit`].
    out: Vec<u8>,
    write_failed: bool,
    peek: Peek,
    read_size: usize,
    short_reads: u32,
    stop: Stop,
    info: Option<ConnectionInfo>,
    /// The PROXY stage, while the header is awaited ([`crate::proxy`]).
    proxy: Option<Stage>,
}

impl<M: Machine> Connection<M> {
    /// Drives `machine` over `transport`.
    pub(crate) fn with_transport(machine: M, transport: Transport) -> Self {
        let peek = if machine.reads_first() {
            Peek::Due
        } else {
            Peek::Done
        };
        Self {
            machine,
            transport,
            out: Vec::new(),
            write_failed: false,
            peek,
            read_size: READ_SMALL,
            short_reads: 0,
            stop: Stop::Run,
            info: None,
            proxy: None,
        }
    }

    /// Puts a PROXY stage in front of the machine: nothing is read by the machine, sent or
    /// reported before the complete header (PX-3).
    #[cfg_attr(not(feature = "rustls"), allow(dead_code))]
    pub(crate) fn with_proxy_stage(mut self, stage: Stage) -> Self {
        self.proxy = Some(stage);
        self
    }

    /// Whether the PROXY header is still awaited.
    pub fn awaits_proxy_header(&self) -> bool {
        self.proxy.is_some()
    }

    /// Drives `machine` over a plaintext connection.
    pub fn plain(machine: M) -> Self {
        Self::with_transport(machine, Transport::plain())
    }

    /// Records where the connection comes from (for [`info`](Self::info)).
    #[must_use]
    pub fn with_info(mut self, info: ConnectionInfo) -> Self {
        self.info = Some(info);
        self
    }

    /// Where the connection comes from, when the adapter said.
    pub fn info(&self) -> Option<&ConnectionInfo> {
        self.info.as_ref()
    }

    /// The machine, for its getters.
    pub fn machine(&self) -> &M {
        &self.machine
    }

    /// The machine, for the calls that are not events or I/O: a client's `send`,
    /// `send_body` or `quit`. Its state stays consistent; the next [`next`](Self::next)
    /// picks up whatever the call queued.
    pub fn machine_mut(&mut self) -> &mut M {
        &mut self.machine
    }

    /// What the caller must do next.
    #[inline]
    pub fn next(&mut self, now: Instant) -> Next<'_, M::Event> {
        if let Some(stage) = &self.proxy {
            // Nothing before the complete header: no greeting, no event (PX-3).
            return Next::Read {
                until: Some(stage.deadline()),
                size: READ_SMALL,
            };
        }
        if let Some(event) = self.transport.poll_event(&mut self.machine, now) {
            if let Some(update) = M::client_update(&event)
                && let Some(info) = &mut self.info
            {
                *info = info.updated(&update);
            }
            if let Some(discarded) = M::starts_tls(&event)
                && discarded > 0
            {
                tracing::warn!(
                    discarded,
                    "plaintext received after the request to start TLS was discarded \
                     (a CVE-2011-0411 injection, or a confused peer)"
                );
            }
            return Next::Event(event);
        }
        if self.peek == Peek::Due {
            self.peek = Peek::Asked;
            return Next::Read {
                until: Some(now),
                size: self.read_size,
            };
        }
        self.out.clear();
        if self
            .transport
            .poll_transmit(&mut self.machine, &mut self.out)
            > 0
            && !self.write_failed
        {
            let by = self
                .machine
                .poll_timeout()
                .unwrap_or_else(|| now + FINAL_WRITE);
            return Next::Transmit {
                bytes: &self.out,
                by,
            };
        }
        if self.machine.is_closed() {
            return Next::Close;
        }
        if self.machine.awaits_decision() {
            // The machine reads no command while a decision is owed; more input would
            // only fill its buffer, and an adapter answering every event never gets here.
            return Next::Wait { until: None };
        }
        let until = self.machine.poll_timeout();
        if self.transport.wants_read(&self.machine) {
            Next::Read {
                until,
                size: self.read_size,
            }
        } else {
            Next::Wait { until }
        }
    }

    /// The bytes of the last [`Next::Transmit`] were written.
    #[inline]
    pub fn transmitted(&mut self, now: Instant) {
        let _ = now;
        if self.out.len() <= OUT_KEEP && self.out.capacity() > OUT_KEEP {
            self.out = Vec::new();
        } else {
            self.out.clear();
        }
    }

    /// The last write failed or missed its deadline: the peer is gone. Nothing is written
    /// again; the machine winds down and the application still hears the close.
    pub fn write_failed(&mut self, now: Instant) {
        self.write_failed = true;
        self.out.clear();
        self.handle_eof(now);
    }

    /// Bytes read from the socket.
    #[inline]
    pub fn handle_input(&mut self, now: Instant, mut bytes: &[u8]) {
        if let Some(stage) = &mut self.proxy {
            match stage.feed(bytes) {
                Outcome::Incomplete => return,
                Outcome::Invalid(error) => return self.proxy_failed(now, error),
                Outcome::Done(header, taken) => {
                    self.proxy = None;
                    if let Some(info) = &mut self.info {
                        *info = info.proxied(&header);
                    }
                    self.machine.handle_proxy_header(now, header);
                    // The rest of the read is the client's (PX-6); the greeting has not
                    // left, so the pre-greeting rule sees it as early talk.
                    bytes = bytes.get(taken..).unwrap_or_default();
                    if bytes.is_empty() {
                        return;
                    }
                }
            }
        }
        self.end_peek();
        self.adapt_read_size(bytes.len());
        self.transport.handle_input(&mut self.machine, now, bytes);
    }

    /// The peer closed its side (or the read failed).
    pub fn handle_eof(&mut self, now: Instant) {
        if self.proxy.is_some() {
            return self.proxy_failed(now, ProxyError::Missing);
        }
        self.end_peek();
        self.transport.handle_eof(&mut self.machine, now);
    }

    /// Nothing came by the `until` of [`Next::Read`] or [`Next::Wait`].
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(stage) = &self.proxy {
            if now >= stage.deadline() {
                self.proxy_failed(now, ProxyError::Missing);
            }
            return;
        }
        self.end_peek();
        self.machine.handle_timeout(now);
    }

    /// The PROXY stage failed: the machine closes without a byte (PX-5).
    fn proxy_failed(&mut self, now: Instant, error: ProxyError) {
        self.proxy = None;
        self.peek = Peek::Done;
        let peer = self.info.map(|info| info.peer);
        tracing::debug!(%error, ?peer, "connection closed in the PROXY stage");
        self.machine.handle_proxy_failure(now, error);
    }

    /// A listener's stop request; a level not above the current one is ignored.
    pub fn stop(&mut self, now: Instant, level: Stop) {
        if level > Stop::Run && self.proxy.is_some() {
            // No session yet: nothing to drain and nobody to tell.
            self.stop = level;
            return self.proxy_failed(now, ProxyError::Missing);
        }
        if level > self.stop {
            self.stop = level;
            self.machine.stop(now, level);
        }
    }

    /// Answers a decision token from an event. An answer that does not fit the command
    /// is logged; the machine has then answered the peer safely on its own, so an adapter
    /// may ignore the error.
    ///
    /// # Errors
    ///
    /// The misuse, as the machine reported it.
    #[inline]
    pub fn answer(
        &mut self,
        now: Instant,
        pending: M::Pending,
        decision: M::Decision,
    ) -> Result<(), ApiMisuse> {
        let answered = self.machine.answer(now, pending, decision);
        if let Err(misuse) = &answered {
            tracing::warn!(%misuse, "the application's answer did not fit; a temporary error was sent instead");
        }
        answered
    }

    /// For an event the application does not handle: a decision it carries gets a safe
    /// temporary refusal, so the peer never waits for ever.
    pub fn unhandled(&mut self, now: Instant, event: M::Event) {
        if self.machine.unhandled(now, event) {
            tracing::warn!("an event owing a decision was not handled; a temporary error was sent");
        }
    }

    #[inline]
    fn end_peek(&mut self) {
        if self.peek == Peek::Asked {
            self.peek = Peek::Done;
        }
    }

    /// A read that filled the buffer doubles the next one, up to 64 KiB (bulk content);
    /// after a run of short reads the size drops back to 2 KiB, so idle sessions hold
    /// little and one short read in bulk content does not shrink the next ones.
    #[inline]
    fn adapt_read_size(&mut self, last_read: usize) {
        if last_read == self.read_size && self.read_size < READ_LARGE {
            self.read_size *= 2;
        }
        if last_read >= READ_SMALL {
            self.short_reads = 0;
        } else if self.read_size > READ_SMALL {
            self.short_reads += 1;
            if self.short_reads >= SHRINK_AFTER {
                self.read_size = READ_SMALL;
                self.short_reads = 0;
            }
        }
    }
}

/// The transport without TLS support compiled in: bytes pass through.
#[cfg(not(feature = "rustls"))]
#[derive(Debug)]
pub(crate) struct Transport {
    input_closed: bool,
}

#[cfg(not(feature = "rustls"))]
impl Transport {
    pub(crate) fn plain() -> Self {
        Self {
            input_closed: false,
        }
    }

    fn handle_input<M: Machine>(&mut self, machine: &mut M, now: Instant, bytes: &[u8]) {
        if !self.input_closed {
            machine.handle_input(now, bytes);
        }
    }

    fn handle_eof<M: Machine>(&mut self, machine: &mut M, now: Instant) {
        self.input_closed = true;
        machine.handle_eof(now);
    }

    fn poll_event<M: Machine>(&mut self, machine: &mut M, now: Instant) -> Option<M::Event> {
        let event = machine.poll_event()?;
        if M::starts_tls(&event).is_some() {
            // No TLS in this build: the switch cannot happen.
            self.input_closed = true;
            machine.handle_tls_failure(now);
        }
        Some(event)
    }

    fn poll_transmit<M: Machine>(&mut self, machine: &mut M, out: &mut Vec<u8>) -> usize {
        machine.poll_transmit(out)
    }

    fn wants_read<M: Machine>(&self, machine: &M) -> bool {
        !self.input_closed && machine.wants_read()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Instant;

    use super::{Connection, Next, OUT_KEEP};
    use crate::{Server, ServerConfig};

    /// Runs `connection` until it asks for input; returns the bytes of each write.
    fn writes(connection: &mut Connection<Server>, now: Instant) -> Vec<usize> {
        let mut sizes = Vec::new();
        loop {
            match connection.next(now) {
                Next::Event(event) => {
                    if let Some(pending) = event.into_pending() {
                        let _ = connection.answer(now, pending, Ok(()));
                    }
                }
                Next::Transmit { bytes, .. } => {
                    sizes.push(bytes.len());
                    connection.transmitted(now);
                }
                Next::Read {
                    until: Some(at), ..
                } if at <= now => connection.handle_timeout(now),
                Next::Read { .. } | Next::Wait { .. } | Next::Close => return sizes,
            }
        }
    }

    /// Issue 16: a write buffer grown by a burst (here 300 pipelined replies; in TLS, the
    /// handshake flight) is given back after the next small write, so an idle session
    /// does not keep it; a run of large writes keeps it.
    #[test]
    fn a_burst_write_buffer_is_given_back_after_a_small_write() {
        #[allow(clippy::disallowed_methods)]
        let now = Instant::now();
        let server = Server::new(Arc::new(ServerConfig::new("mx.example")), now);
        let mut connection = Connection::plain(server);
        let _ = writes(&mut connection, now); // the greeting
        connection.handle_input(now, b"EHLO c.example\r\n");
        let _ = writes(&mut connection, now);
        let burst = b"RSET\r\n".repeat(300);
        connection.handle_input(now, &burst);
        assert!(writes(&mut connection, now).iter().sum::<usize>() > OUT_KEEP);
        connection.handle_input(now, &burst);
        let _ = writes(&mut connection, now);
        assert!(
            connection.out.capacity() > OUT_KEEP,
            "large writes in a row keep their buffer"
        );
        connection.handle_input(now, b"RSET\r\n");
        assert_eq!(writes(&mut connection, now), [14]);
        assert_eq!(connection.out.capacity(), 0, "the buffer was given back");
    }
}
