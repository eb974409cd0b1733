//! Drives a [`Server`] the way an adapter does (the drain order on its docs), answers every
//! decision, and checks the session-level oracles after every step.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Rng;
use super::config::{Variant, largest_line};
use super::wire::Replies;
use smtp_proto::{ApiMisuse, AuthData, EnhancedCode, Event, Pending, PendingKind, Reply, Server};
use smtp_proto::{Protocol, ServerConfig, TlsInfo};

/// How a run ends once the input is used up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Ending {
    /// The client closes its side.
    Eof,
    /// The client goes silent; an hour passes.
    Timeout,
    /// The application shuts the session down.
    Shutdown,
    /// Graceful shutdown, then the client closes.
    Graceful,
}

impl Ending {
    pub(super) fn from_byte(b: u8) -> Self {
        match b % 4 {
            0 => Self::Eof,
            1 => Self::Timeout,
            2 => Self::Shutdown,
            _ => Self::Graceful,
        }
    }
}

/// A decision held back by the application (answered after the next read).
#[derive(Debug)]
struct Deferred {
    pending: Pending,
    context: Context,
}

/// What the harness needs to know about an event to answer it.
#[derive(Clone, Copy, Debug)]
struct Context {
    kind: PendingKind,
    /// A raw SASL step (`challenge` is allowed).
    raw_auth: bool,
    /// A BDAT `DataStart`.
    chunked: bool,
    /// Accepted recipients, for LMTP's `respond_each`.
    recipients: usize,
}

/// One session under test.
#[derive(Debug)]
pub(super) struct Driver {
    server: Server,
    config: Arc<ServerConfig>,
    now: Instant,
    /// Decision choices; `None` accepts everything at once.
    rng: Option<Rng>,
    deferred: Option<Deferred>,
    replies: Replies,
    /// Everything transmitted.
    pub(super) wire: Vec<u8>,
    /// Events and replies in order, content merged (for split invariance).
    pub(super) log: Vec<String>,
    record: bool,
    /// Content octets of the message whose `DataStart` was accepted, while it is open.
    message: Option<u64>,
    closed: bool,
    tls_failed: bool,
    largest_line: usize,
}

impl Driver {
    /// A new session; the greeting is transmitted (and for implicit TLS, the handshake is
    /// reported first).
    pub(super) fn new(variant: Variant, decisions: u8, record: bool) -> Self {
        let config = Arc::new(variant.config);
        let now = super::epoch();
        let server = if variant.starttls {
            Server::offering_starttls(config.clone(), now)
        } else {
            Server::new(config.clone(), now)
        };
        let mut driver = Self {
            server,
            largest_line: largest_line(&config),
            replies: Replies::server(config.extensions.enhanced_status_codes),
            config,
            now,
            rng: (decisions != 0).then(|| Rng::new(decisions)),
            deferred: None,
            wire: Vec::new(),
            log: Vec::new(),
            record,
            message: None,
            closed: false,
            tls_failed: false,
        };
        if variant.implicit_tls {
            let result = driver.server.handle_tls_established(now, tls_info());
            assert_eq!(result, Ok(()), "implicit TLS before any input");
        }
        driver.drain();
        driver
    }

    /// Feeds `reads` one by one, as an adapter that honours `wants_read` would.
    pub(super) fn feed(&mut self, reads: &[&[u8]]) {
        for read in reads {
            while !self.server.wants_read() && self.deferred.is_some() {
                self.answer_deferred();
            }
            let result = self.server.handle_input(self.now, read);
            assert_eq!(result, Ok(()), "input refused outside a TLS handshake");
            self.drain();
            self.check_buffer(read.len());
            if self.deferred.is_some() {
                self.answer_deferred();
            }
        }
    }

    /// Complete replies transmitted so far (the greeting included).
    pub(super) fn replies(&self) -> usize {
        self.replies.count
    }

    /// Ends the run and checks that the session closed and stays silent.
    pub(super) fn finish(&mut self, ending: Ending) {
        match ending {
            Ending::Eof => {
                self.server.handle_eof(self.now);
                self.drain();
                self.answer_all();
            }
            Ending::Timeout => {
                self.answer_all();
                if !self.closed {
                    let deadline = self.server.poll_timeout();
                    assert!(deadline.is_some(), "an open session without a deadline");
                    self.now += Duration::from_secs(3600);
                    self.server.handle_timeout(self.now);
                    self.drain();
                }
            }
            Ending::Shutdown => {
                self.server.shutdown(self.now, None);
                self.drain();
                if let Some(deferred) = self.deferred.take() {
                    let result = self.server.accept(self.now, deferred.pending);
                    assert_eq!(result, Err(ApiMisuse::NotPending), "cancelled by shutdown");
                }
            }
            Ending::Graceful => {
                self.server.shutdown_gracefully(self.now);
                self.drain();
                self.answer_all();
                self.server.handle_eof(self.now);
                self.drain();
                self.answer_all();
            }
        }
        assert!(self.closed, "session still open after {ending:?}");
        self.after_close();
    }

    /// After `Closed`: no event, no reply, no timer, no read, whatever the caller does.
    fn after_close(&mut self) {
        assert!(self.server.is_closed() && !self.server.wants_read());
        assert_eq!(self.server.poll_timeout(), None, "timer after Closed");
        let result = self.server.handle_input(self.now, b"NOOP\r\nQUIT\r\n");
        assert_eq!(result, Ok(()));
        self.server.handle_eof(self.now);
        self.server
            .handle_timeout(self.now + Duration::from_secs(86_400));
        self.server.shutdown(self.now, None);
        self.drain();
        assert_eq!(self.server.buffered_input(), 0, "input kept after Closed");
    }

    /// The drain order of the `Server` docs: events (answering decisions), then transmit.
    pub(super) fn drain(&mut self) {
        while let Some(event) = self.server.poll_event() {
            assert!(!self.closed, "event after Closed: {event:?}");
            // Replies queued before the event leave before it.
            self.transmit();
            self.observe(&event);
            self.react(event);
            self.transmit();
        }
        self.transmit();
        assert!(
            !self.server.is_closed() || self.closed,
            "poll_event returned None while Event::Closed was still queued"
        );
        if self.deferred.is_some() && !self.closed {
            assert_eq!(
                self.server.poll_timeout(),
                None,
                "timer while a decision is owed"
            );
        }
    }

    fn transmit(&mut self) {
        let start = self.wire.len();
        let n = self.server.poll_transmit(&mut self.wire);
        let batch = &self.wire[start..];
        assert_eq!(n, batch.len(), "poll_transmit miscounts");
        if batch.is_empty() {
            return;
        }
        assert!(
            !self.tls_failed,
            "plaintext reply after a TLS failure: {batch:?}"
        );
        self.replies.batch(batch);
        if self.record {
            for line in batch.split_inclusive(|&b| b == b'\n') {
                self.log.push(format!("S: {}", line.escape_ascii()));
            }
        }
    }

    /// Session-level oracles on each event, and the log.
    fn observe(&mut self, event: &Event) {
        let max = self.config.limits.max_message_size;
        match event {
            Event::DataChunk(bytes) => {
                let Some(size) = self.message.as_mut() else {
                    panic!("DataChunk outside an accepted message");
                };
                *size += bytes.len() as u64;
                assert!(*size <= max, "{size} content octets passed, limit {max}");
            }
            Event::MessageComplete { info, .. } => {
                let Some(size) = self.message.take() else {
                    panic!("MessageComplete without an accepted DataStart");
                };
                assert_eq!(
                    info.size, size,
                    "MessageInfo::size differs from the DataChunks"
                );
                assert!(info.size <= max, "message over the limit completed");
            }
            Event::MessageAborted { .. } => {
                assert!(
                    self.message.take().is_some(),
                    "MessageAborted without an accepted DataStart"
                );
            }
            Event::DataStart { .. } => {
                assert!(self.message.is_none(), "DataStart inside an open message");
            }
            Event::Closed { .. } => {
                assert!(
                    self.message.is_none(),
                    "session closed with an accepted message neither completed nor aborted"
                );
                self.closed = true;
            }
            _ => {}
        }
        if self.record {
            self.log_event(event);
        }
    }

    fn log_event(&mut self, event: &Event) {
        if let Event::DataChunk(bytes) = event {
            let text = bytes.escape_ascii().to_string();
            match self.log.last_mut() {
                Some(last) if last.starts_with("E: Content ") => last.push_str(&text),
                _ => self.log.push(format!("E: Content {text}")),
            }
            return;
        }
        self.log.push(format!("E: {}", summarize(event)));
    }

    /// Answers a decision (now or later), and simulates the TLS handshake after STARTTLS.
    fn react(&mut self, event: Event) {
        let (pending, context) = match event {
            Event::Hello { pending, .. }
            | Event::Mail { pending, .. }
            | Event::Rcpt { pending, .. }
            | Event::Verify { pending, .. } => {
                let kind = pending.kind();
                (pending, Context::plain(kind))
            }
            Event::DataStart { pending, chunked } => {
                let context = Context {
                    chunked,
                    ..Context::plain(PendingKind::DataStart)
                };
                (pending, context)
            }
            Event::Auth { pending, data, .. } => {
                let context = Context {
                    raw_auth: matches!(data, AuthData::Response(_)),
                    ..Context::plain(PendingKind::Auth)
                };
                (pending, context)
            }
            Event::MessageComplete { pending, info } => {
                let context = Context {
                    recipients: info.recipients,
                    ..Context::plain(PendingKind::Message)
                };
                (pending, context)
            }
            Event::StartTls { .. } => return self.handshake(),
            _ => return,
        };
        let choice = self.rng.as_mut().map_or(0, |rng| rng.below(16));
        if (12..=13).contains(&choice) && self.deferred.is_none() {
            self.deferred = Some(Deferred { pending, context });
            return;
        }
        self.answer(pending, context, choice);
    }

    /// The TLS layer after `StartTls`: the handshake succeeds, or (sometimes) fails.
    fn handshake(&mut self) {
        let fail = self.rng.as_mut().is_some_and(|rng| rng.below(8) == 0);
        self.transmit();
        if fail {
            self.server.handle_tls_failure(self.now);
            self.tls_failed = true;
        } else {
            let result = self.server.handle_tls_established(self.now, tls_info());
            assert_eq!(result, Ok(()), "handshake expected after StartTls");
        }
    }

    fn answer_deferred(&mut self) {
        if let Some(Deferred { pending, context }) = self.deferred.take() {
            let choice = self.rng.as_mut().map_or(0, |rng| rng.below(12));
            self.answer(pending, context, choice);
            self.drain();
        }
    }

    /// Answers every decision still owed, until the session needs nothing more.
    fn answer_all(&mut self) {
        while self.deferred.is_some() {
            self.answer_deferred();
        }
    }

    /// `choice` 0..=8 accept, 9..=10 refuse, 11 a positive reply of our own, 14 a SASL
    /// challenge or (LMTP) one reply per recipient, 15 a reply of the wrong class.
    fn answer(&mut self, pending: Pending, context: Context, choice: u64) {
        let accepted = !matches!(choice, 9 | 10 | 15);
        let lmtp = self.config.protocol == Protocol::Lmtp;
        let now = self.now;
        let result = match choice {
            9 | 10 => {
                let reply = self.refusal();
                self.server.respond(now, pending, reply)
            }
            11 => self.server.respond(now, pending, positive(context)),
            14 if context.raw_auth => {
                let data = self.rng.as_mut().map_or(0, Rng::next).to_le_bytes();
                self.server.challenge(now, pending, &data)
            }
            14 if lmtp && context.kind == PendingKind::Message => {
                let replies = (0..context.recipients)
                    .map(|i| self.per_recipient(i))
                    .collect();
                self.server.respond_each(now, pending, replies)
            }
            15 => {
                let result = self.server.answer(now, pending, Err(misfit(context)));
                assert!(
                    matches!(result, Err(ApiMisuse::InvalidReplyForCommand(_))),
                    "a misfit reply must be reported: {result:?}"
                );
                Ok(())
            }
            _ => self.server.accept(now, pending),
        };
        assert_eq!(result, Ok(()), "answer refused for {context:?}");
        if accepted && context.kind == PendingKind::DataStart && !self.server.is_closed() {
            self.message = Some(0);
        }
    }

    /// A refusal chosen by the decision stream: transient or permanent, one or two lines,
    /// with or without an enhanced code.
    fn refusal(&mut self) -> Reply {
        let pick = self.rng.as_mut().map_or(0, |rng| rng.below(6));
        let (code, text) = match pick {
            0 => (450, "Mailbox busy"),
            1 => (451, "Local error\nin processing"),
            2 => (452, "Insufficient storage"),
            3 => (550, "No such user"),
            4 => (553, "Not allowed"),
            _ => (554, "Transaction failed\nfor a reason\nof three lines"),
        };
        let reply = Reply::new(code, text).expect("a valid refusal");
        if pick.is_multiple_of(2) {
            let class = (code / 100) as u8;
            let enhanced = EnhancedCode::new(class, 7, 1).expect("valid enhanced code");
            return reply.with_enhanced(enhanced).expect("same class");
        }
        reply
    }

    fn per_recipient(&mut self, i: usize) -> Reply {
        if i.is_multiple_of(2) {
            Reply::new(250, "Delivered").expect("valid")
        } else {
            self.refusal()
        }
    }

    /// After a drain: the server holds at most one incomplete line, unless a decision is
    /// owed, and then no more than `max_buffered_input` plus the read that filled it.
    fn check_buffer(&self, read: usize) {
        let held = self.server.buffered_input();
        let cap = if self.deferred.is_some() {
            self.largest_line.max(self.config.limits.max_buffered_input) + read
        } else {
            self.largest_line
        };
        assert!(held <= cap, "{held} octets buffered, cap {cap}");
    }
}

impl Context {
    fn plain(kind: PendingKind) -> Self {
        Self {
            kind,
            raw_auth: false,
            chunked: false,
            recipients: 0,
        }
    }
}

/// The text of the harness's own HELO/EHLO/LHLO reply (choice 11); it starts with
/// [`HELLO_WORD`], which [`Replies`] knows (such a reply carries no enhanced code).
const HELLO_TEXT: &str = "welcome\nto the fuzzer";

/// The first word of [`HELLO_TEXT`].
pub(super) const HELLO_WORD: &str = "welcome";

/// A positive reply of the right class, multiline for greetings.
fn positive(context: Context) -> Reply {
    let (code, text) = match context.kind {
        PendingKind::Hello => (250, HELLO_TEXT),
        PendingKind::DataStart if !context.chunked => (354, "Go ahead"),
        PendingKind::Auth => (235, "Welcome"),
        PendingKind::Verify => (250, "<user@mx.example>"),
        _ => (250, "Fine"),
    };
    Reply::new(code, text).expect("valid reply")
}

/// A positive reply of the wrong class for the command: 250 for DATA (which needs 354),
/// 354 for everything else, BDAT included (its positive reply is 250).
fn misfit(context: Context) -> Reply {
    let code = if context.kind == PendingKind::DataStart && !context.chunked {
        250
    } else {
        354
    };
    Reply::new(code, "Wrong class").expect("valid reply")
}

fn tls_info() -> TlsInfo {
    TlsInfo::new(
        Some("TLSv1.3".to_owned()),
        Some("TLS13_AES_128_GCM_SHA256".to_owned()),
        Some("mx.example".to_owned()),
        false,
    )
}

/// An event as one log line.
fn summarize(event: &Event) -> String {
    match event {
        Event::Hello { domain, verb, .. } => format!("Hello {} {domain}", verb.as_str()),
        Event::Mail { from, params, .. } => format!("Mail {from} {params:?}"),
        Event::Rcpt { to, params, .. } => format!("Rcpt {to} {params:?}"),
        Event::DataStart { chunked, .. } => format!("DataStart chunked={chunked}"),
        Event::MessageComplete { info, .. } => format!("MessageComplete {info:?}"),
        Event::Auth {
            mechanism, data, ..
        } => match data {
            AuthData::Credentials(c) => {
                format!("Auth {mechanism} {} {}", c.username, c.password.expose())
            }
            AuthData::Response(r) => format!(
                "Auth {mechanism} {:?}",
                r.as_ref().map(|r| r.expose().escape_ascii().to_string())
            ),
            other => format!("Auth {mechanism} {other:?}"),
        },
        other => format!("{other:?}"),
    }
}
