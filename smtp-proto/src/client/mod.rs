//! A sans-IO SMTP client: reply bytes in; command bytes and events out.
//!
//! The application queues transactions ([`Client::send`]); the machine decides the wire
//! (manual::client has every rule, by ID):
//!
//! * greeting, then EHLO (LHLO for LMTP) with a HELO fallback on `500`/`501`/`502`/`504`/`550`;
//! * STARTTLS per the [`TlsPolicy`], forgetting the capabilities and saying EHLO again after
//!   the handshake (RFC 3207 §4.2); bytes after the `220` are an injection and end the
//!   session (CTLS-04);
//! * AUTH PLAIN, LOGIN, XOAUTH2, or any mechanism through [`ClientEvent::AuthChallenge`];
//! * transactions, as many as queued, on one connection: parameters only when advertised
//!   and local refusals before a byte is sent (SIZE, SMTPUTF8, 8BITMIME, BINARYMIME,
//!   REQUIRETLS…), PIPELINING with a send cursor running ahead of the receive cursor up to
//!   a window and stopping at sync points, every status checked, `RSET` after a failed
//!   transaction, content dot-stuffed and CR LF-normalised for DATA or chunked for BDAT;
//! * per-recipient results ([`TransactionReport`]) — partial success is a result, not an
//!   error; `421`, EOF and timeouts turn everything unfinished into `Deferred`;
//! * QUIT.
//!
//! Same contract as the server: time comes in as `now`, nothing reads a clock or a socket,
//! and a [`Connection`](crate::Connection) drives it with the same adapter pumps
//! ([`Machine`](crate::connection::Machine)).
//!
//! ```
//! use std::{sync::Arc, time::Instant};
//! use smtp_proto::Mailbox;
//! use smtp_proto::client::{Client, ClientConfig, ClientEvent, Envelope, Verdict};
//!
//! let now = Instant::now();
//! let mut client = Client::new(Arc::new(ClientConfig::new("client.example")?), now)?;
//! let envelope = Envelope::new("a@x.example".parse::<Mailbox>()?)
//!     .to("b@y.example".parse::<Mailbox>()?);
//! let id = client.send(now, envelope)?;
//! let mut wire = Vec::new();
//! client.handle_input(now, b"220 mx.example ESMTP\r\n");
//! client.poll_transmit(&mut wire);
//! assert_eq!(wire, b"EHLO client.example\r\n");
//! client.handle_input(now, b"250-mx.example\r\n250 PIPELINING\r\n");
//! wire.clear();
//! client.poll_transmit(&mut wire); // one flight, DATA last (RFC 2920)
//! assert_eq!(wire, b"MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\nDATA\r\n");
//! client.handle_input(now, b"250 ok\r\n250 ok\r\n354 go ahead\r\n");
//! while let Some(event) = client.poll_event() {
//!     if let ClientEvent::BodyWanted(_) = event {
//!         client.send_body(now, b"Subject: hi\n\n.hello\n")?;
//!         client.end_body(now)?;
//!     }
//! }
//! wire.clear();
//! client.poll_transmit(&mut wire);
//! assert_eq!(wire, b"Subject: hi\r\n\r\n..hello\r\n.\r\n");
//! client.handle_input(now, b"250 2.0.0 queued\r\n");
//! let report = std::iter::from_fn(|| client.poll_event())
//!     .find_map(|e| match e { ClientEvent::TransactionDone(r) => Some(r), _ => None })
//!     .expect("a report");
//! assert_eq!(report.id, id);
//! assert_eq!(report.recipients[0].outcome.verdict, Verdict::Delivered);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod auth;
mod config;
mod envelope;
mod event;
mod machine;
mod retry;
mod session;
mod transaction;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use crate::codec::ehlo::Capabilities;
use crate::codec::reply::{ParsedReply, ReplyParser};
use crate::error::ApiMisuse;
use crate::server::TlsInfo;

pub use config::{Chunking, ClientAuth, ClientConfig, ClientTimeouts, TlsPolicy};
pub use envelope::{BodyType, Envelope};
pub use event::{
    ClientEvent, CloseReason, Outcome, RecipientResult, SessionInfo, Stage, TransactionId,
    TransactionReport, Verdict,
};
pub use retry::LimitRetry;

use auth::AuthState;
use transaction::{Job, Transaction};

/// A configuration the client cannot run with.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The EHLO name is neither a domain nor an address literal (EHLO-07, INJ-07).
    #[error("the EHLO name is not a domain or an address literal: {0}")]
    BadHelloName(&'static str),
    /// A credential holds NUL, CR or LF (AUTH-14).
    #[error("credentials must not contain NUL, CR or LF")]
    BadCredentials,
    /// A SASL mechanism name outside RFC 4422's grammar.
    #[error("{0:?} is not a SASL mechanism name")]
    BadMechanism(String),
    /// `Chunking::WhenOffered(0)`.
    #[error("the BDAT chunk size must be at least 1")]
    ZeroChunk,
}

/// Why a client adapter's call failed: shared by the tokio and blocking adapters.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// No connection by the connect deadline.
    #[error("no connection to {0} within the connect timeout")]
    ConnectTimeout(String),
    /// A socket error.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The session ended before the call could finish; the reason says why (a refusing
    /// greeting, TLS unavailable, AUTH failed, 421, a lost connection…).
    #[error("the SMTP session ended: {0:?}")]
    Closed(CloseReason),
    /// The configuration cannot be used.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A call the client refused.
    #[error(transparent)]
    Misuse(#[from] ApiMisuse),
}

/// What a command sent (or about to be sent) waits for; see [`Kind::is_sync`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Greeting,
    Ehlo,
    Helo,
    Lhlo,
    StartTls,
    Auth,
    Mail,
    Rcpt(usize),
    Data,
    /// The lone `.` after a `354` nobody can use (PIPE-09).
    Dot,
    /// The terminator; one entry per reply expected (LMTP: one per accepted recipient).
    EndOfData,
    Bdat {
        last: bool,
    },
    Rset,
    Quit,
}

impl Kind {
    /// Nothing may follow this command in a flight until its reply is read (RFC 2920
    /// §3.1; manual::client: EHLO, STARTTLS, AUTH, DATA, QUIT, and RSET by choice so a
    /// failed RSET is seen before the next MAIL).
    fn is_sync(self) -> bool {
        !matches!(
            self,
            Self::Mail | Self::Rcpt(_) | Self::Bdat { last: false }
        )
    }

    /// The verb, for [`ClientEvent::Reply`].
    fn verb(self) -> &'static str {
        match self {
            Self::Greeting => "greeting",
            Self::Ehlo => "EHLO",
            Self::Helo => "HELO",
            Self::Lhlo => "LHLO",
            Self::StartTls => "STARTTLS",
            Self::Auth => "AUTH",
            Self::Mail => "MAIL",
            Self::Rcpt(_) => "RCPT",
            Self::Data => "DATA",
            Self::Dot | Self::EndOfData => ".",
            Self::Bdat { .. } => "BDAT",
            Self::Rset => "RSET",
            Self::Quit => "QUIT",
        }
    }

    /// The stage a reply to this command decides.
    fn stage(self) -> Stage {
        match self {
            Self::Mail => Stage::Mail,
            Self::Rcpt(_) => Stage::Rcpt,
            Self::Data | Self::Dot => Stage::Data,
            Self::EndOfData | Self::Bdat { last: true } => Stage::EndOfData,
            Self::Bdat { last: false } => Stage::Bdat,
            _ => Stage::Session,
        }
    }
}

/// A command built and not yet handed out.
#[derive(Debug)]
struct Command {
    kind: Kind,
    bytes: Vec<u8>,
    /// Extra entries for replies beyond the first (LMTP end of data).
    extra_replies: usize,
}

/// Where the session is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Waiting for the greeting (under implicit TLS, first for the handshake).
    Greeting,
    /// EHLO, HELO or LHLO sent.
    Hello,
    /// STARTTLS sent.
    StartTls,
    /// STARTTLS accepted; waiting for `handle_tls_established`.
    Handshake,
    /// AUTH in progress.
    Auth,
    /// Transactions run.
    Ready,
    /// QUIT sent (or about to be): the session ends with its reply, EOF or deadline.
    Quit,
    /// Over.
    Closed,
}

/// The sans-IO SMTP client; see the [module documentation](self).
#[derive(Debug)]
pub struct Client {
    config: Arc<ClientConfig>,
    phase: Phase,
    parser: ReplyParser,
    /// Commands built and not yet handed out (the send cursor's queue).
    queue: VecDeque<Command>,
    /// Commands handed out and not yet answered, oldest first (the receive cursor), with
    /// the octets each holds in the window.
    inflight: VecDeque<(Kind, usize)>,
    /// Octets of the unanswered commands, BDAT chunks excluded.
    inflight_bytes: usize,
    /// Content octets ready to leave, before any queued command.
    out: Vec<u8>,
    events: VecDeque<ClientEvent>,
    deadline: Option<Instant>,
    /// The latest `now` given: commands handed out by `poll_transmit` (which takes no
    /// time) start their deadline from it.
    clock: Instant,
    greeting: Option<ParsedReply>,
    caps: Capabilities,
    helo_fallback: bool,
    starttls_tried: bool,
    tls: Option<TlsInfo>,
    auth: AuthState,
    authenticated: Option<String>,
    jobs: VecDeque<Job>,
    current: Option<Transaction>,
    next_id: u64,
    transactions_started: u32,
    /// QUIT once the queued work is done.
    quit_requested: bool,
    /// The TLS session's certificate is verified (REQUIRETLS needs it).
    tls_verified: bool,
    /// Why the session ends, once QUIT was chosen over a failure.
    ending: Option<CloseReason>,
    idle_reported: bool,
}

impl Client {
    /// A session that waits for the server's greeting (or, under [`TlsPolicy::Implicit`],
    /// for the handshake first).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] for credentials or settings that cannot be used.
    pub fn new(config: Arc<ClientConfig>, now: Instant) -> Result<Self, ConfigError> {
        config.check()?;
        let parser = ReplyParser::with_limits(config.reply_limits);
        let mut client = Self {
            phase: Phase::Greeting,
            parser,
            queue: VecDeque::new(),
            inflight: VecDeque::from([(Kind::Greeting, 0)]),
            inflight_bytes: 0,
            out: Vec::new(),
            events: VecDeque::new(),
            deadline: None,
            clock: now,
            greeting: None,
            caps: Capabilities::default(),
            helo_fallback: false,
            starttls_tried: false,
            tls: None,
            auth: AuthState::default(),
            authenticated: None,
            jobs: VecDeque::new(),
            current: None,
            next_id: 0,
            transactions_started: 0,
            quit_requested: false,
            ending: None,
            idle_reported: false,
            tls_verified: true,
            config,
        };
        client.deadline = Some(now + client.config.timeouts.greeting);
        Ok(client)
    }

    /// Whether a TLS session this client runs has a verified certificate (default: yes,
    /// the caller's TLS verifies); the `tls` module's `client_connection` sets it from the
    /// TLS configuration. REQUIRETLS mail
    /// goes only over verified TLS (RTLS-01).
    pub fn set_tls_verified(&mut self, verified: bool) {
        self.tls_verified = verified;
    }

    /// The configuration.
    pub fn config(&self) -> &Arc<ClientConfig> {
        &self.config
    }

    /// Queues a transaction; it starts when the session is ready and the ones before it are
    /// done. Its result comes as [`ClientEvent::TransactionDone`] with the returned id.
    ///
    /// # Errors
    ///
    /// [`ApiMisuse::NoRecipients`], or [`ApiMisuse::ClientClosed`] once the session ended
    /// or QUIT was asked for.
    pub fn send(&mut self, now: Instant, envelope: Envelope) -> Result<TransactionId, ApiMisuse> {
        self.tick(now);
        if envelope.recipients().is_empty() {
            return Err(ApiMisuse::NoRecipients);
        }
        if matches!(self.phase, Phase::Quit | Phase::Closed) || self.quit_requested {
            return Err(ApiMisuse::ClientClosed);
        }
        let id = TransactionId(self.next_id);
        self.next_id += 1;
        self.jobs.push_back(Job { id, envelope });
        self.idle_reported = false;
        self.start_next(now);
        Ok(id)
    }

    /// Ends the session politely once every queued transaction is done (END-03).
    pub fn quit(&mut self, now: Instant) {
        self.tick(now);
        self.quit_requested = true;
        self.start_next(now);
    }

    /// Closes at once: every unfinished transaction is deferred, and a transaction whose
    /// content is being sent is cut off without its terminator, so nothing is delivered
    /// (PIPE-11: after `354` there is no other way to cancel).
    pub fn abort(&mut self, now: Instant) {
        self.tick(now);
        if self.phase != Phase::Closed {
            self.fail_all(
                &Outcome::local(
                    451,
                    "4.3.0 transaction aborted by the sender",
                    Stage::Session,
                ),
                CloseReason::Aborted,
            );
        }
    }

    /// The greeting, once read.
    pub fn greeting(&self) -> Option<&ParsedReply> {
        self.greeting.as_ref()
    }

    /// The capabilities of the last EHLO or LHLO (empty before, and after a HELO fallback).
    pub fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    /// The TLS session, once established.
    pub fn tls(&self) -> Option<&TlsInfo> {
        self.tls.as_ref()
    }

    /// Whether the session is set up and no transaction is queued or running.
    pub fn is_idle(&self) -> bool {
        self.phase == Phase::Ready && self.current.is_none() && self.jobs.is_empty()
    }

    /// Reply bytes from the server.
    pub fn handle_input(&mut self, now: Instant, bytes: &[u8]) {
        self.tick(now);
        match self.phase {
            Phase::Closed => return,
            Phase::Handshake => {
                // The layer sends every byte after the STARTTLS reply to TLS; plaintext
                // here is an injection (CTLS-04).
                self.protocol_error("plaintext received during the TLS handshake", false);
                return;
            }
            _ => {}
        }
        self.parser.feed(bytes);
        loop {
            match self.parser.next_reply() {
                Ok(Some(reply)) => self.on_reply(now, reply),
                Ok(None) => break,
                Err(error) => {
                    self.protocol_error(&error.to_string(), error.is_fatal_code());
                    break;
                }
            }
            if self.phase == Phase::Closed || self.phase == Phase::Handshake {
                break;
            }
        }
    }

    /// The server closed the connection (END-02).
    pub fn handle_eof(&mut self, now: Instant) {
        self.tick(now);
        match self.phase {
            Phase::Closed => {}
            Phase::Quit => self.close(),
            _ => self.fail_all(
                &Outcome::local(451, "4.4.2 connection lost", Stage::Session),
                CloseReason::ConnectionLost,
            ),
        }
    }

    /// The deadline of [`poll_timeout`](Self::poll_timeout) may have passed (TMO-01).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.tick(now);
        if self.deadline.is_none_or(|deadline| now < deadline) {
            return;
        }
        self.deadline = None;
        match self.phase {
            Phase::Closed => {}
            Phase::Quit => self.close(),
            _ => {
                let waited = self.inflight.front().map_or("content", |(k, _)| k.verb());
                let text = format!("4.4.2 timeout waiting for the reply to {waited}");
                self.fail_all(
                    &Outcome::local(451, &text, Stage::Session),
                    CloseReason::Timeout,
                );
            }
        }
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        if self.events.is_empty() {
            self.want_body();
        }
        self.events.pop_front()
    }

    /// Appends the bytes to send: content first, then the commands the send cursor may
    /// hand out now. Returns how many bytes were appended. A command counts as sent — its
    /// reply awaited — only from here (PIPE-05).
    pub fn poll_transmit(&mut self, now_out: &mut Vec<u8>) -> usize {
        let now = self.clock;
        let start = now_out.len();
        now_out.append(&mut self.out);
        while let Some(command) = self.queue.front() {
            if !self.may_send(command) {
                break;
            }
            let Some(command) = self.queue.pop_front() else {
                break;
            };
            let len = match command.kind {
                Kind::Bdat { .. } => 0,
                _ => command.bytes.len(),
            };
            self.inflight_bytes += len;
            now_out.extend_from_slice(&command.bytes);
            let was_idle = self.inflight.is_empty();
            self.inflight.push_back((command.kind, len));
            for _ in 0..command.extra_replies {
                self.inflight.push_back((command.kind, 0));
            }
            if was_idle {
                self.arm(now);
            }
        }
        now_out.len() - start
    }

    /// When [`handle_timeout`](Self::handle_timeout) is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// Whether the session is over.
    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// The send cursor's rule (manual::client): anything when nothing is unanswered;
    /// otherwise only under PIPELINING, never after a sync point, and within the window.
    fn may_send(&self, command: &Command) -> bool {
        let Some(&(last, _)) = self.inflight.back() else {
            return true;
        };
        if !self.caps.pipelining() || last.is_sync() {
            return false;
        }
        match command.kind {
            Kind::Bdat { .. } => {
                let chunks = self
                    .inflight
                    .iter()
                    .filter(|(k, _)| matches!(k, Kind::Bdat { .. }))
                    .count();
                chunks < self.config.bdat_window
            }
            _ => self.inflight_bytes + command.bytes.len() <= self.config.pipelining_window,
        }
    }

    /// Moves the client's idea of the time forward.
    fn tick(&mut self, now: Instant) {
        self.clock = self.clock.max(now);
    }

    /// Queues a command of one reply.
    fn push(&mut self, kind: Kind, bytes: Vec<u8>) {
        self.queue.push_back(Command {
            kind,
            bytes,
            extra_replies: 0,
        });
    }

    /// The deadline for the oldest unanswered command, from `now`.
    fn arm(&mut self, now: Instant) {
        let t = &self.config.timeouts;
        self.deadline = self.inflight.front().map(|(kind, _)| {
            now + match kind {
                Kind::Greeting => t.greeting,
                Kind::Ehlo | Kind::Helo | Kind::Lhlo => t.hello,
                Kind::StartTls => t.starttls,
                Kind::Auth => t.auth,
                Kind::Mail => t.mail,
                Kind::Rcpt(_) => t.rcpt,
                Kind::Data => t.data_init,
                Kind::Dot | Kind::EndOfData | Kind::Bdat { .. } => t.data_done,
                Kind::Rset => t.rset,
                Kind::Quit => t.quit,
            }
        });
    }

    /// Handles one complete reply: pairs it with the oldest unanswered command.
    fn on_reply(&mut self, now: Instant, reply: ParsedReply) {
        let Some((kind, len)) = self.inflight.pop_front() else {
            if reply.code() == 421 {
                // REP-19: 421 may come at any time.
                let outcome = Outcome::from_reply(reply.clone(), Stage::Session);
                self.fail_all(&outcome, CloseReason::ServiceClosing(reply));
            } else {
                // REP-18, PIPE-15: desynchronised or injected.
                self.protocol_error("a reply arrived with no command outstanding", false);
            }
            return;
        };
        self.inflight_bytes = self.inflight_bytes.saturating_sub(len);
        self.events.push_back(ClientEvent::Reply {
            stage: kind.stage(),
            command: kind.verb(),
            reply: reply.clone(),
        });
        if reply.code() == 421 && kind != Kind::Quit {
            // END-01, GRT-05, EHLO-05, PIPE-13: no more replies will come.
            let outcome = Outcome::from_reply(reply.clone(), kind.stage());
            self.fail_all(&outcome, CloseReason::ServiceClosing(reply));
            return;
        }
        // A deadline for the next unanswered command runs from this reply.
        self.arm(now);
        match kind {
            Kind::Greeting => self.on_greeting(now, reply),
            Kind::Ehlo | Kind::Helo | Kind::Lhlo => self.on_hello(now, kind, reply),
            Kind::StartTls => self.on_starttls(now, reply),
            Kind::Auth => self.on_auth(now, reply),
            Kind::Rset => self.on_rset(now, reply),
            Kind::Quit => self.close(),
            Kind::Mail
            | Kind::Rcpt(_)
            | Kind::Data
            | Kind::Dot
            | Kind::EndOfData
            | Kind::Bdat { .. } => self.on_transaction_reply(now, kind, reply),
        }
    }

    /// The facts of the session, for [`ClientEvent::Ready`].
    fn session_info(&self) -> SessionInfo {
        SessionInfo {
            greeting: self
                .greeting
                .clone()
                .unwrap_or_else(|| ParsedReply::local(220, "")),
            capabilities: self.caps.clone(),
            helo_fallback: self.helo_fallback,
            tls: self.tls.clone(),
            authenticated: self.authenticated.clone(),
        }
    }

    /// The session is set up: report it and start the queued work.
    fn ready(&mut self, now: Instant) {
        self.phase = Phase::Ready;
        self.events
            .push_back(ClientEvent::Ready(Box::new(self.session_info())));
        self.start_next(now);
    }

    /// Ends the session for a reason found before or between transactions: every queued
    /// transaction is deferred with `outcome`, then QUIT (its reply is not needed).
    fn end_session(&mut self, now: Instant, outcome: &Outcome, reason: CloseReason) {
        self.defer_everything(outcome);
        self.ending = Some(reason);
        self.send_quit(now);
    }

    /// Queues QUIT; the session ends with its reply, EOF, or [`ClientTimeouts::quit`].
    fn send_quit(&mut self, now: Instant) {
        self.phase = Phase::Quit;
        self.queue.clear();
        self.push(Kind::Quit, b"QUIT\r\n".to_vec());
        if self.inflight.is_empty() {
            self.deadline = Some(now + self.config.timeouts.quit);
        }
    }

    /// A reply the grammar refuses, or one that should not exist: everything unfinished is
    /// deferred with a local `4.5.0` (REP-06). `fatal` (a code outside 2–5, REP-11) sends
    /// QUIT first, best effort.
    fn protocol_error(&mut self, what: &str, fatal: bool) {
        let text = format!("4.5.0 protocol error: {what}");
        let outcome = Outcome::local(451, &text, Stage::Session);
        if fatal {
            self.out.clear();
            self.queue.clear();
            self.out.extend_from_slice(b"QUIT\r\n");
        }
        self.fail_all(&outcome, CloseReason::ProtocolError(what.to_owned()));
    }

    /// Ends the session now: the running transaction's unfinished recipients and every
    /// queued transaction get `outcome` (deferred), then [`ClientEvent::Closed`].
    fn fail_all(&mut self, outcome: &Outcome, reason: CloseReason) {
        let awaiting_final = self
            .inflight
            .iter()
            .any(|(k, _)| matches!(k, Kind::EndOfData | Kind::Bdat { last: true }));
        if let Some(tx) = self.current.take() {
            let mut outcome = outcome.clone();
            outcome.verdict = Verdict::Deferred;
            let report = tx.finish_unfinished(&outcome, awaiting_final);
            self.events.push_back(ClientEvent::TransactionDone(report));
        }
        self.defer_everything(outcome);
        self.ending.get_or_insert(reason);
        self.close();
    }

    /// Reports every queued transaction as deferred with `outcome` (nothing was tried).
    fn defer_everything(&mut self, outcome: &Outcome) {
        let mut outcome = outcome.clone();
        outcome.verdict = Verdict::Deferred;
        outcome.maybe_delivered = false;
        while let Some(job) = self.jobs.pop_front() {
            let report = job.report_all(&outcome, false);
            self.events.push_back(ClientEvent::TransactionDone(report));
        }
    }

    /// The session is over.
    fn close(&mut self) {
        if self.phase == Phase::Closed {
            return;
        }
        if let Some(tx) = self.current.take() {
            let outcome = Outcome::local(451, "4.4.2 connection closed", Stage::Session);
            let report = tx.finish_unfinished(&outcome, false);
            self.events.push_back(ClientEvent::TransactionDone(report));
        }
        let reason = self.ending.take().unwrap_or(CloseReason::Quit);
        self.defer_everything(&Outcome::local(
            451,
            "4.4.2 connection closed",
            Stage::Session,
        ));
        self.phase = Phase::Closed;
        self.queue.clear();
        self.inflight.clear();
        self.deadline = None;
        self.auth = AuthState::default();
        self.events.push_back(ClientEvent::Closed(reason));
    }

    /// Answers a SASL challenge of [`ClientAuth::Sasl`]: `Some(response)` (possibly
    /// empty), or `None` to cancel (`*`).
    ///
    /// # Errors
    ///
    /// [`ApiMisuse::NoAuthChallenge`] when no challenge is outstanding.
    pub fn respond_auth(&mut self, now: Instant, response: Option<&[u8]>) -> Result<(), ApiMisuse> {
        self.tick(now);
        if !self.auth.challenge_outstanding() {
            return Err(ApiMisuse::NoAuthChallenge);
        }
        self.auth.answered();
        let line = auth::response_line(response);
        self.push(Kind::Auth, line);
        Ok(())
    }
}
