//! The SMTP server session: a pure state machine.

mod auth;
mod commands;
mod content;
mod decision;
mod event;
mod input;
mod machine;
mod pipelining;
pub(crate) mod replies;
mod timer;
mod xclient;

use std::collections::VecDeque;
use std::mem::ManuallyDrop;
use std::sync::Arc;
use std::time::Instant;

use crate::codec::command::Verb;
use crate::codec::data::{ContentScanner, DotDecoder};
use crate::codec::params::Body;
use crate::codec::reply::Reply;
use crate::config::ServerConfig;
use crate::error::ApiMisuse;

pub use event::{
    AbortReason, AuthData, CloseReason, Decision, Event, MessageInfo, Pending, PendingKind, TlsInfo,
};

pub use xclient::{Xclient, XclientValue};

use decision::{Awaited, Awaiting, fits};
use input::{Line, LineReader};
use pipelining::SyncState;
use timer::Timer;

/// The token is spent by the call that takes it, answered or refused: it is not dropped,
/// so the debug-build warning about unanswered tokens stays quiet.
fn spend(pending: Pending) -> ManuallyDrop<Pending> {
    ManuallyDrop::new(pending)
}

/// Protocol state for one SMTP server session (one client connection).
///
/// The server performs no I/O, spawns nothing and never reads the clock: every call that
/// moves time forward takes `now`, which must never go backwards.
///
/// # Methods
///
/// * **Input**: [`handle_input`](Self::handle_input) (bytes from the socket),
///   [`handle_eof`](Self::handle_eof), [`handle_timeout`](Self::handle_timeout),
///   [`handle_tls_established`](Self::handle_tls_established).
/// * **Decisions**: events that owe the client a reply carry a [`Pending`] token; answer it
///   with [`accept`](Self::accept), [`respond`](Self::respond),
///   [`challenge`](Self::challenge) (raw SASL) or [`respond_each`](Self::respond_each)
///   (LMTP), at once or after any delay. Until then no further command is read; replies
///   always leave in command order.
/// * **Output**: [`poll_event`](Self::poll_event), [`poll_transmit`](Self::poll_transmit),
///   [`poll_timeout`](Self::poll_timeout).
/// * **Control**: [`shutdown`](Self::shutdown).
///
/// # Drain order
///
/// After creating the server and after every input, decision or control call:
///
/// 1. call `poll_event` until it returns `None` (answering decisions inside that loop is
///    fine; parsing happens here, lazily);
/// 2. call `poll_transmit` and write everything it appended, in one write;
/// 3. call `poll_timeout` and arrange to call `handle_timeout` at that instant.
///
/// Then read from the socket again if [`wants_read`](Self::wants_read) says so. Every reply
/// the input so far calls for is available after step 1 (RFC 2920 §3.2). After
/// [`Event::Closed`], transmit what is left and close the connection.
///
/// # Example
///
/// ```
/// use std::{sync::Arc, time::Instant};
/// use smtp_proto::{Event, Server, ServerConfig};
///
/// let now = Instant::now();
/// let mut server = Server::new(Arc::new(ServerConfig::new("mx.example")), now);
/// let mut out = Vec::new();
/// let _ = server.poll_transmit(&mut out); // the 220 greeting
/// server.handle_input(now, b"HELO client.example\r\n").unwrap();
/// while let Some(event) = server.poll_event() {
///     if let Event::Hello { pending, .. } = event {
///         server.accept(now, pending).unwrap();
///     }
/// }
/// out.clear();
/// let _ = server.poll_transmit(&mut out);
/// assert_eq!(out, b"250 mx.example\r\n");
/// ```
#[derive(Debug)]
pub struct Server {
    config: Arc<ServerConfig>,
    /// The latest `now` the caller gave us.
    now: Instant,
    /// Received bytes not yet consumed, and their line framing.
    reader: LineReader,
    /// Reply bytes not yet taken by `poll_transmit`.
    output: Vec<u8>,
    events: VecDeque<Event>,
    phase: Phase,
    /// The command waiting for the application's decision, if any.
    awaiting: Option<Awaiting>,
    next_pending_id: u64,
    /// When the running timer fires (see `timer.rs`).
    deadline: Option<Instant>,
    /// RFC 2920 synchronisation state (see `pipelining.rs`).
    sync: SyncState,
    session: SessionState,
    transaction: Option<Transaction>,
}

#[derive(Debug)]
enum Phase {
    /// Reading command lines.
    Command,
    /// Reading an AUTH response line.
    Sasl(auth::Exchange),
    /// Reading DATA content (after the 354 was queued).
    Data(DataPhase),
    /// Reading the octets of one BDAT chunk.
    Chunk(ChunkPhase),
    /// STARTTLS accepted; the TLS layer is handshaking.
    TlsHandshake,
    /// The session is over.
    Closed,
}

#[derive(Debug)]
struct DataPhase {
    decoder: DotDecoder,
    /// Content octets so far (after unstuffing), also past the size limit.
    size: u64,
    /// The terminator was consumed; the verdict is next.
    ended: bool,
}

#[derive(Debug)]
struct ChunkPhase {
    remaining: u64,
    /// The chunk's declared size.
    size: u64,
    last: bool,
    /// The reply to send once the chunk is consumed, when it is refused.
    refused: Option<Reply>,
}

/// What the session has established so far (greeting, TLS, AUTH, error count, EOF).
#[derive(Debug, Default)]
struct SessionState {
    /// The accepted HELO/EHLO/LHLO, if any.
    hello: Option<Verb>,
    /// STARTTLS is offered in the EHLO reply and accepted as a command (until TLS is
    /// active): the server was built with `Server::offering_starttls`.
    starttls: bool,
    tls: Option<TlsInfo>,
    authenticated: bool,
    errors: u32,
    /// Any input was received (an implicit-TLS handshake must come before it).
    received_input: bool,
    /// The client closed its side; finish what is buffered, then close.
    eof: bool,
    /// A graceful shutdown was asked for: close at the next transaction boundary.
    draining: bool,
    /// The socket peer may use XCLIENT (`allow_xclient`).
    xclient: bool,
}

#[derive(Debug)]
struct Transaction {
    body: Option<Body>,
    smtputf8: bool,
    recipients: usize,
    /// Some RCPT was refused (DATA then gets 554 instead of 503, RFC 5321 §3.3).
    refused_recipients: bool,
    /// A BDAT message in progress.
    chunked: Option<ChunkedMessage>,
}

#[derive(Debug)]
struct ChunkedMessage {
    size: u64,
    scanner: ContentScanner,
    /// Once a chunk failed, every later chunk gets this reply until LAST (RFC 3030 §2).
    failed: Option<Reply>,
}

impl Server {
    /// A session that has just accepted a connection; the 220 greeting is queued.
    /// STARTTLS is neither offered nor accepted (`502 5.5.1`); see
    /// [`offering_starttls`](Self::offering_starttls).
    pub fn new(config: Arc<ServerConfig>, now: Instant) -> Self {
        let mut server = Self {
            now,
            reader: LineReader::new(&config),
            output: Vec::new(),
            events: VecDeque::new(),
            phase: Phase::Command,
            awaiting: None,
            next_pending_id: 0,
            deadline: None,
            sync: SyncState::default(),
            session: SessionState::default(),
            transaction: None,
            config,
        };
        server.arm(Timer::Command);
        if let Err(error) = server.config.validate() {
            // Neither the name nor the greeting may reach the wire: refuse instead.
            tracing::error!(%error, "refusing the session: the server configuration is invalid");
            server.sync.transmitted();
            server.close(CloseReason::Refused, Some(&replies::MISCONFIGURED));
            return server;
        }
        // RFC 5321 §4.3.1 greeting (§3.1: 554 when there is no service); RFC 2034 §3: no
        // enhanced code on it.
        let greeting = format!("{} {}", server.config.hostname, server.config.greeting);
        let code = if server.config.no_service { 554 } else { 220 };
        crate::codec::reply::encode_lines(
            code,
            None,
            std::iter::once(greeting.as_str()),
            &mut server.output,
        );
        server
    }

    /// Like [`new`](Self::new), but the session offers STARTTLS (RFC 3207) in its EHLO
    /// reply until TLS is active, and accepts the `STARTTLS` command.
    ///
    /// The caller must then run the TLS handshake itself: after [`Event::StartTls`], every
    /// byte is TLS, and the server waits for
    /// [`handle_tls_established`](Self::handle_tls_established) (or
    /// [`handle_tls_failure`](Self::handle_tls_failure)) before reading the next command.
    /// `Connection`'s TLS transport does exactly that; the `tls` module's `Endpoint` builds
    /// its servers with this constructor when its mode is STARTTLS.
    pub fn offering_starttls(config: Arc<ServerConfig>, now: Instant) -> Self {
        let mut server = Self::new(config, now);
        server.session.starttls = true;
        server
    }

    /// A session that refuses the connection at once: `reply` (default `421 4.3.2 <host>
    /// Too many connections, try again later`) takes the place of the greeting and the
    /// session closes with [`CloseReason::Refused`] (RFC 5321 §3.1 allows a 421 here; a
    /// listener over its connection limit uses this).
    pub fn refuse(config: Arc<ServerConfig>, now: Instant, reply: Option<Reply>) -> Self {
        let mut server = Self::new(config, now);
        if server.is_closed() {
            // Misconfigured: it already refused with 421 4.3.5.
            return server;
        }
        server.output.clear();
        let reply = reply.unwrap_or_else(|| replies::too_many_connections(&server.config.hostname));
        server.sync.transmitted();
        server.close(CloseReason::Refused, Some(&reply));
        server
    }

    /// Replaces the greeting that has not left yet with `reply` and closes
    /// ([`CloseReason::Refused`]): a connect-time refusal taken after
    /// [`Event::ProxyHeader`], once the real client is known. After the greeting left it
    /// is [`shutdown`](Self::shutdown) with `reply`.
    pub fn refuse_now(&mut self, now: Instant, reply: Reply) {
        self.now = now;
        if !self.sync.greeting_transmitted() {
            self.output.clear();
            self.sync.transmitted();
            self.close(CloseReason::Refused, Some(&reply));
        } else {
            self.shutdown(now, Some(reply));
        }
    }

    /// The connection's PROXY header arrived: reported as [`Event::ProxyHeader`] before
    /// anything else; the command timer starts now, with the greeting.
    pub(crate) fn proxy_header(&mut self, now: Instant, header: crate::proxy::ProxyHeader) {
        self.now = now;
        self.arm(Timer::Command);
        self.events.push_front(Event::ProxyHeader {
            header: Box::new(header),
        });
    }

    /// The PROXY stage failed: the greeting never leaves; closed without a byte.
    pub(crate) fn proxy_failed(&mut self, now: Instant) {
        self.now = now;
        self.output.clear();
        self.sync.transmitted();
        self.close(CloseReason::ProxyRejected, None);
    }

    /// Feeds bytes received from the client. They are parsed lazily by
    /// [`poll_event`](Self::poll_event). Input after the session closed is ignored.
    ///
    /// # Errors
    ///
    /// [`ApiMisuse::InputDuringTlsHandshake`] between [`Event::StartTls`] and
    /// [`handle_tls_established`](Self::handle_tls_established).
    pub fn handle_input(&mut self, now: Instant, bytes: &[u8]) -> Result<(), ApiMisuse> {
        match self.phase {
            Phase::TlsHandshake => return Err(ApiMisuse::InputDuringTlsHandshake),
            Phase::Closed => return Ok(()),
            _ => {}
        }
        self.now = now;
        if !bytes.is_empty() && matches!(self.phase, Phase::Data(_) | Phase::Chunk(_)) {
            // Content progress extends the data timeout; trickled command bytes do not.
            self.arm(Timer::Data);
        }
        self.session.received_input |= !bytes.is_empty();
        self.reader.extend(bytes);
        Ok(())
    }

    /// The client closed its sending side. Complete commands already buffered are still
    /// processed; then the session closes with [`CloseReason::PeerEof`].
    pub fn handle_eof(&mut self, now: Instant) {
        self.now = now;
        self.session.eof = true;
        if matches!(self.phase, Phase::TlsHandshake) {
            self.close(CloseReason::PeerEof, None);
        }
    }

    /// Fires the timer if `now` is at or past [`poll_timeout`](Self::poll_timeout): the
    /// client gets `421 4.4.2` and the session closes (RFC 5321 §4.5.3.2). Calls before the
    /// deadline, or while the application owes a decision, do nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        match self.poll_timeout() {
            Some(deadline) if deadline <= now => {}
            _ => return,
        }
        let reply = if matches!(self.phase, Phase::TlsHandshake) {
            None
        } else {
            Some(replies::timeout(&self.config.hostname))
        };
        self.close(CloseReason::Timeout, reply.as_ref());
    }

    /// The TLS layer failed: a handshake error, a corrupt record, or a TLS close while the
    /// session was still open. The session closes with [`CloseReason::TlsFailed`] and no
    /// reply (nothing can be sent safely); a message in progress is aborted (RFC 3207 §4.1:
    /// never fall back to plaintext).
    pub fn handle_tls_failure(&mut self, now: Instant) {
        self.now = now;
        self.close(CloseReason::TlsFailed, None);
    }

    /// The TLS handshake finished. After STARTTLS this resets the session as RFC 3207 §4.2
    /// requires (no HELO, no transaction, no AUTH; the client must send EHLO again, and
    /// STARTTLS is no longer offered). For implicit TLS (RFC 8314) call it once the
    /// handshake is done and before any plaintext is fed.
    ///
    /// # Errors
    ///
    /// [`ApiMisuse::NoTlsHandshake`] when no handshake is expected.
    pub fn handle_tls_established(&mut self, now: Instant, tls: TlsInfo) -> Result<(), ApiMisuse> {
        let implicit = self.session.tls.is_none()
            && !self.session.received_input
            && self.session.hello.is_none()
            && matches!(self.phase, Phase::Command);
        if !matches!(self.phase, Phase::TlsHandshake) && !implicit {
            return Err(ApiMisuse::NoTlsHandshake);
        }
        self.now = now;
        self.session.hello = None;
        self.session.authenticated = false;
        self.session.tls = Some(tls.clone());
        self.events.push_back(Event::TlsEstablished {
            info: Box::new(tls),
        });
        self.reader.tls_established(&self.config);
        self.enter(Phase::Command);
        Ok(())
    }

    /// Answers `pending` with the command's normal positive reply: `250` (`354` for DATA,
    /// `252` for VRFY/EXPN, `235` for AUTH; for a BDAT chunk the reply follows the chunk).
    ///
    /// # Errors
    ///
    /// [`ApiMisuse::NotPending`] if `pending` is not the decision this session waits for.
    pub fn accept(&mut self, now: Instant, pending: Pending) -> Result<(), ApiMisuse> {
        let pending = spend(pending);
        let awaited = self.take_awaited(now, &pending)?;
        self.decide(awaited, None);
        Ok(())
    }

    /// Answers `pending` with an application's [`Decision`]: `Ok(())` is
    /// [`accept`](Self::accept), `Err(reply)` is [`respond`](Self::respond).
    ///
    /// # Errors
    ///
    /// As for `accept` and `respond`.
    pub fn answer(
        &mut self,
        now: Instant,
        pending: Pending,
        decision: Decision,
    ) -> Result<(), ApiMisuse> {
        match decision {
            Ok(()) => self.accept(now, pending),
            Err(reply) => self.respond(now, pending, reply),
        }
    }

    /// Answers `pending` with `reply`. A 4xx/5xx reply refuses; a positive reply of the
    /// command's class (2xx, 3xx for DATA) accepts with the given text.
    ///
    /// # Errors
    ///
    /// [`ApiMisuse::NotPending`] (nothing changes), or
    /// [`ApiMisuse::InvalidReplyForCommand`] for a positive code of the wrong class. The
    /// token is spent either way: after that error the client has been answered
    /// `451 4.3.0`, so an application bug never leaves it waiting.
    pub fn respond(
        &mut self,
        now: Instant,
        pending: Pending,
        reply: Reply,
    ) -> Result<(), ApiMisuse> {
        let pending = spend(pending);
        self.check_pending(&pending)?;
        if !fits(&reply, self.awaited()) {
            return self.fail_decision(
                now,
                &pending,
                ApiMisuse::InvalidReplyForCommand(reply.code()),
            );
        }
        let awaited = self.take_awaited(now, &pending)?;
        self.decide(awaited, Some(reply));
        Ok(())
    }

    /// LMTP (RFC 2033 §4.2): answers a [`Event::MessageComplete`] with one reply per
    /// accepted recipient, in RCPT order.
    ///
    /// # Errors
    ///
    /// [`ApiMisuse::NotPending`] (nothing changes), [`ApiMisuse::WrongReplyCount`] or
    /// [`ApiMisuse::InvalidReplyForCommand`] (a positive reply other than 2xx). After the
    /// last two every recipient has been answered `451 4.3.0` (the token is spent).
    pub fn respond_each(
        &mut self,
        now: Instant,
        pending: Pending,
        replies: Vec<Reply>,
    ) -> Result<(), ApiMisuse> {
        let pending = spend(pending);
        self.check_pending(&pending)?;
        let expected = self.transaction.as_ref().map_or(0, |t| t.recipients);
        if pending.kind != PendingKind::Message || replies.len() != expected {
            let given = replies.len();
            return self.fail_decision(
                now,
                &pending,
                ApiMisuse::WrongReplyCount { expected, given },
            );
        }
        if let Some(bad) = replies
            .iter()
            .find(|r| r.is_positive() && r.code() / 100 != 2)
        {
            let misuse = ApiMisuse::InvalidReplyForCommand(bad.code());
            return self.fail_decision(now, &pending, misuse);
        }
        self.take_awaited(now, &pending)?;
        for reply in &replies {
            self.send(reply);
        }
        self.end_transaction();
        Ok(())
    }

    /// Raw SASL mechanisms: answers an [`Event::Auth`] with a `334` challenge (`data` is
    /// base64-encoded by the server); the client's answer arrives as another `Auth` event.
    ///
    /// # Errors
    ///
    /// [`ApiMisuse::NotPending`] (nothing changes), or [`ApiMisuse::NotASaslExchange`] for
    /// anything but a raw mechanism's AUTH step; the command has then been answered
    /// `451 4.3.0` (the token is spent).
    pub fn challenge(
        &mut self,
        now: Instant,
        pending: Pending,
        data: &[u8],
    ) -> Result<(), ApiMisuse> {
        let pending = spend(pending);
        self.check_pending(&pending)?;
        match &self.awaiting {
            Some(Awaiting {
                awaited: Awaited::Auth(auth::Step::Raw(_)),
                ..
            }) => {}
            _ => return self.fail_decision(now, &pending, ApiMisuse::NotASaslExchange),
        }
        if let Awaited::Auth(auth::Step::Raw(mechanism)) = self.take_awaited(now, &pending)? {
            self.send_challenge(mechanism, data);
        }
        Ok(())
    }

    /// Ends the session: queues `reply` (default `421 4.3.2 <host> Service not available,
    /// closing transmission channel`, RFC 5321 §3.8) and closes. A decision still pending
    /// is cancelled (answering it then gives [`ApiMisuse::NotPending`]).
    pub fn shutdown(&mut self, now: Instant, reply: Option<Reply>) {
        self.now = now;
        if matches!(self.phase, Phase::Closed) {
            return;
        }
        let reply = reply.unwrap_or_else(|| replies::shutting_down(&self.config.hostname));
        let reply = (!matches!(self.phase, Phase::TlsHandshake)).then_some(reply);
        self.close(CloseReason::Shutdown, reply.as_ref());
    }

    /// Graceful shutdown: an idle session gets the `421 4.3.2` of [`shutdown`](Self::shutdown)
    /// at once; a session with a mail transaction open (or a decision pending) finishes it
    /// first, so a message in flight still gets its final reply, and closes right after.
    pub fn shutdown_gracefully(&mut self, now: Instant) {
        self.now = now;
        self.session.draining = true;
        self.close_if_drained();
    }

    /// Closes a draining session once no transaction, decision or TLS handshake is open.
    fn close_if_drained(&mut self) {
        if self.session.draining
            && self.transaction.is_none()
            && self.awaiting.is_none()
            && matches!(self.phase, Phase::Command | Phase::Sasl(_))
        {
            self.shutdown(self.now, None);
        }
    }

    /// The next event, parsing buffered input as needed. `None` means: nothing more until
    /// new input, a decision, or a timeout.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Some(event);
            }
            self.close_if_drained();
            // A step may queue events (Closed among them) even when it reports no
            // progress; they are returned before giving up.
            if self.events.is_empty() && !self.step() && self.events.is_empty() {
                self.reader.release_spare();
                return None;
            }
        }
    }

    /// Appends every queued reply byte to `out` and returns how many there were. One call
    /// gives a whole pipelined batch of replies, for one write.
    #[must_use = "the bytes must be written to the client"]
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        let n = self.output.len();
        if n > 0 {
            out.append(&mut self.output);
            self.sync.transmitted();
        }
        n
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called, if ever. `None` while
    /// a decision is pending or after the session closed.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.phase {
            _ if self.awaiting.is_some() => None,
            Phase::Closed => None,
            _ => self.deadline,
        }
    }

    /// Whether the adapter should read from the socket now: false while the TLS handshake
    /// runs, after the session closed or the client's EOF, and while a decision is pending
    /// with `max_buffered_input` octets already buffered.
    pub fn wants_read(&self) -> bool {
        !matches!(self.phase, Phase::TlsHandshake | Phase::Closed)
            && !self.session.eof
            && (self.awaiting.is_none()
                || self.reader.len() < self.config.limits.max_buffered_input)
    }

    /// Whether the session has ended ([`Event::Closed`] was queued).
    pub fn is_closed(&self) -> bool {
        matches!(self.phase, Phase::Closed)
    }

    /// Whether TLS is active on this session.
    pub fn is_tls(&self) -> bool {
        self.session.tls.is_some()
    }

    /// What the TLS layer reported, once TLS is active.
    pub fn tls_info(&self) -> Option<&TlsInfo> {
        self.session.tls.as_ref()
    }

    /// Whether the session waits for the application to answer a [`Pending`] token.
    pub fn awaits_decision(&self) -> bool {
        self.awaiting.is_some()
    }

    /// Whether a mail transaction is open (MAIL accepted, message not yet finished): a
    /// graceful shutdown waits for sessions where this is true.
    pub fn in_transaction(&self) -> bool {
        self.transaction.is_some()
    }

    /// Octets received and not yet processed.
    pub fn buffered_input(&self) -> usize {
        self.reader.len()
    }

    // ---- Internals shared by the phases ----

    /// One unit of progress; false when nothing can happen until the caller acts.
    fn step(&mut self) -> bool {
        if self.awaiting.is_some() {
            return false;
        }
        let progressed = match self.phase {
            Phase::Closed | Phase::TlsHandshake => return false,
            Phase::Command => self.step_command(),
            Phase::Sasl(_) => self.step_sasl(),
            Phase::Data(_) => self.step_data(),
            Phase::Chunk(_) => self.step_chunk(),
        };
        if !progressed && self.session.eof && !self.is_closed() && self.awaiting.is_none() {
            self.close(CloseReason::PeerEof, None);
            return true;
        }
        progressed
    }

    fn enhanced_codes(&self) -> bool {
        self.config.extensions.enhanced_status_codes
    }

    /// Queues a reply.
    fn send(&mut self, reply: &Reply) {
        reply.encode(self.enhanced_codes(), &mut self.output);
    }

    /// Queues a reply to a client error and counts it; past `max_errors` the session closes
    /// with `421 4.7.0` (Postfix `smtpd_hard_error_limit`).
    fn send_error(&mut self, reply: &Reply) {
        self.send(reply);
        self.count_error();
    }

    fn count_error(&mut self) {
        self.session.errors = self.session.errors.saturating_add(1);
        if self.session.errors >= self.config.limits.max_errors && !self.is_closed() {
            let reply = replies::too_many_errors(&self.config.hostname);
            self.close(CloseReason::TooManyErrors, Some(&reply));
        }
    }

    /// Queues the reply to command `verb`, unless the client broke synchronisation: then
    /// `554 5.5.0` and close. Returns whether the session goes on.
    fn finish_command(&mut self, verb: Verb, reply: &Reply, is_error: bool) -> bool {
        if !self.check_sync(verb) {
            return false;
        }
        if is_error {
            self.send_error(reply);
        } else {
            self.send(reply);
        }
        self.arm(Timer::Command);
        !self.is_closed()
    }

    /// Drops the open transaction (RSET, EHLO, STARTTLS, QUIT), telling the application.
    fn reset_transaction(&mut self) {
        self.drop_transaction(AbortReason::Reset);
    }

    /// Drops the open transaction: a BDAT message whose content was flowing gets its
    /// `MessageAborted` (every accepted DataStart ends in exactly one MessageComplete or
    /// MessageAborted), then `TransactionReset`.
    fn drop_transaction(&mut self, reason: AbortReason) {
        let Some(tx) = self.transaction.take() else {
            return;
        };
        if tx.chunked.is_some_and(|message| message.failed.is_none()) {
            self.events.push_back(Event::MessageAborted { reason });
        }
        self.events.push_back(Event::TransactionReset);
    }

    /// Ends the transaction after its message was answered (no event: the application
    /// knows from its own answer).
    fn end_transaction(&mut self) {
        self.transaction = None;
        self.enter(Phase::Command);
    }

    /// Ends the session: queues `reply` if given, tells the application what was lost, and
    /// emits [`Event::Closed`].
    fn close(&mut self, reason: CloseReason, reply: Option<&Reply>) {
        if self.is_closed() {
            return;
        }
        if let Some(reply) = reply {
            self.send(reply);
        }
        if matches!(self.phase, Phase::Data(_)) {
            self.events.push_back(Event::MessageAborted {
                reason: AbortReason::SessionEnded,
            });
        }
        self.drop_transaction(AbortReason::SessionEnded);
        self.awaiting = None;
        self.enter(Phase::Closed);
        self.reader.discard_all();
        self.events.push_back(Event::Closed { reason });
    }
}
