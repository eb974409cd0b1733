//! The transcript language: a compact client/server script, run in memory against a core
//! `Server` or over a socket against a real server.
//!
//! Script lines (blank lines and `#` comments are ignored):
//!
//! * `C: bytes` — the client sends `bytes` (Rust escapes `\r \n \t \0 \\ \xHH`, and
//!   `{X*N}` for N copies of X). `‖` splits the line into separate reads. A script whose
//!   first line is a `C:` line sends it before the greeting has left.
//! * `S: reply line` — a reply line the server sends, without CR LF (a trailing space is
//!   written `\x20`).
//! * `E: summary` — an event (see [`summarize`]). Events are compared only when the script
//!   has at least one `E:` line; `DataChunk`s are merged into one `E: Content "…"`.
//! * `A: accept` | `A: <code> <text>` | `A: challenge <text>` | `A: each <reply> | <reply>`
//!   — how the application answers the next decision (default: accept).
//! * `TLS` — the TLS handshake finishes. `EOF` — the client closes. `T: +N` — N seconds
//!   pass and the timer is serviced. `SHUTDOWN` — the application shuts the session down.
//!   `DRAIN` — graceful shutdown (`shutdown_gracefully`).
//!
//! # In memory
//!
//! [`transcript`] (and [`Transcript::run_in_memory`]) runs a script against a `Server`
//! built from a [`TestConfig`] (mostly [`config`], host name `mx.example`): it echoes every
//! input line and logs every reply and event in the order they are produced, and the test
//! passes when that log equals the script — then again with every read split into single
//! bytes and at random points, which must change nothing. [`exact`] skips the re-splitting,
//! for rows whose point is what one read holds (RFC 2920 synchronisation, STARTTLS
//! injection). Every line of the language runs in memory.
//!
//! # Over a socket
//!
//! [`Transcript::run_on_socket`] plays the same script as a client against a real server
//! (blackhole or an adapter's listener; [`servers::Row`](crate::servers::Row) and
//! [`servers::run_rows`](crate::servers::run_rows) run rows of transcripts on every
//! target). It runs lockstep: before each input it reads every reply the script shows
//! after the input before, so only what one `C:` line holds is ever pipelined, exactly as
//! the script says (over TCP, later writes could otherwise share a read with earlier ones
//! and trip the server's RFC 2920 synchronisation check). Line by line:
//!
//! * `C:` — written; each `‖` part a separate write after a pause of
//!   [`wire::PAUSE`](crate::wire::PAUSE) (a read boundary as far as timing can make one),
//!   or in writes of a few octets when the row asks for it ([`Socket::pieces`]).
//! * `S:` — read and compared: the code and the whole text of every line, with
//!   [`MEMORY_HOST`] (`mx.example`) read as the server's host name; of a HELO/EHLO reply
//!   only the first line, since the extensions advertised depend on the configuration.
//!   Every reply text of the shared profile is the core's own, so the rest match exactly.
//! * An input the script shows no reply to — silence: nothing may arrive for
//!   [`wire::QUIET`](crate::wire::QUIET) (no reply mid-DATA, nothing after a handshake
//!   that injected commands could have caused).
//! * `E: Closed …` — the server closes the connection after the replies before it (end of
//!   stream, or a reset: a close with unread input makes the kernel reset, and then
//!   nothing more can be read anyway); inputs after it are written as far as the socket
//!   lets them. Other `E:` lines are not checked: the adapters' handlers see less than
//!   the core's events (no HELO verb, no content boundaries). A row checks the handler's
//!   side instead with its transactions, stored messages and log entries.
//! * `A: accept`, `A: <code> <text>` — nothing to do: the application is the target's
//!   handler, and the `S:` lines check that it answered as the script says (the recording
//!   handler and blackhole accept everything but wrong credentials).
//! * `TLS` — the client's TLS handshake (after the script's `220` to STARTTLS). `EOF` —
//!   the client shuts down its sending side.
//! * `A: challenge`, `A: each`, `T:`, `SHUTDOWN`, `DRAIN` — no socket translation: a
//!   script with one is memory-only ([`Transcript::memory_only_lines`] lists them, and
//!   [`servers::Row::transcript`](crate::servers::Row::transcript) refuses it).
//!
//! The two sides run different configurations: [`config`] in memory, the shared profile
//! of [`servers::Setup`](crate::servers::Setup) on the wire (host name
//! `blackhole.localhost`, another extension set, 64 KiB messages instead of 10000
//! octets). A script that runs both ways shows what both have in common: reply texts are
//! compared with the host name substituted, the EHLO reply by its first line, and the
//! scripts stay clear of the size limits (well below both, or above both).
//!
//! The suites `tests/tests/{basics,classic_bugs,extensions,properties,rfc5321,sequencing,
//! smuggling,starttls,timeouts,tls}.rs` are written in this language (one transcript per
//! rule of `smtp_proto::manual`); `smuggling` and `classic_bugs` run theirs both ways. The
//! language needs only the core, so it is not behind the `adapters` feature. Like the rest
//! of the harness it panics to report a failure.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::{Duration, Instant};

use smtp_proto::{AuthData, Event, MessageInfo, Reply, Server, ServerConfig, TlsInfo};

use crate::SmtpClient;

/// What a test server is built from: the SMTP configuration, which it derefs to (so
/// `c.limits.x = …` works), and whether the server offers STARTTLS
/// (`Server::offering_starttls`). From a bare `ServerConfig`: no STARTTLS.
#[derive(Clone, Debug)]
pub struct TestConfig {
    /// The SMTP configuration the server is built from.
    pub smtp: ServerConfig,
    /// Whether the server offers STARTTLS (built with `Server::offering_starttls`).
    pub offers_starttls: bool,
}

impl TestConfig {
    /// A new session with this configuration.
    pub fn server(&self, now: Instant) -> Server {
        let smtp = Arc::new(self.smtp.clone());
        // The in-memory client connects from 127.0.0.1: XCLIENT is allowed when that
        // address is in `xclient` (as `Endpoint::accept_from` decides on a socket).
        let xclient = smtp.xclient_allowed(std::net::Ipv4Addr::LOCALHOST.into());
        let mut server = if self.offers_starttls {
            Server::offering_starttls(smtp, now)
        } else {
            Server::new(smtp, now)
        };
        if xclient {
            server.allow_xclient();
        }
        server
    }
}

impl From<ServerConfig> for TestConfig {
    fn from(smtp: ServerConfig) -> Self {
        Self {
            smtp,
            offers_starttls: false,
        }
    }
}

impl Deref for TestConfig {
    type Target = ServerConfig;
    fn deref(&self) -> &ServerConfig {
        &self.smtp
    }
}

impl DerefMut for TestConfig {
    fn deref_mut(&mut self) -> &mut ServerConfig {
        &mut self.smtp
    }
}

/// The configuration most transcripts use: every extension on, STARTTLS offered, AUTH
/// PLAIN/LOGIN (after TLS), DELIVERBY, FUTURERELEASE, MT-PRIORITY, REQUIRETLS.
pub fn config() -> TestConfig {
    let mut c = TestConfig {
        smtp: ServerConfig::new("mx.example"),
        offers_starttls: true,
    };
    c.extensions.requiretls = true;
    c.extensions.mt_priority = true;
    c.extensions.deliver_by = Some(3600);
    c.extensions.future_release = Some((604800, "2026-12-01T00:00:00Z".to_owned()));
    c.extensions.auth_mechanisms = vec!["PLAIN".to_owned(), "LOGIN".to_owned(), "XTEST".to_owned()];
    c.limits.max_message_size = 10_000;
    c
}

/// A scripted answer to the next decision.
#[derive(Clone, Debug)]
pub enum Answer {
    /// `A: accept`: `Server::accept`.
    Accept,
    /// `A: <code> <text>`: `Server::respond` with this reply.
    Respond(Reply),
    /// `A: challenge <text>`: `Server::challenge` with these bytes.
    Challenge(Vec<u8>),
    /// `A: each <reply> | <reply>`: `Server::respond_each` with these replies.
    Each(Vec<Reply>),
}

/// One input step of a script.
#[derive(Clone, Debug)]
pub enum Input {
    /// `C:`: the client sends these reads, one after the other.
    Send(Vec<Vec<u8>>),
    /// `A:`: how the application answers the next decision.
    Answer(Answer),
    /// `TLS`: the TLS handshake finishes.
    Tls,
    /// `EOF`: the client closes.
    Eof,
    /// `T: +N`: N seconds pass and the timer is serviced.
    Advance(u64),
    /// `SHUTDOWN`: the application shuts the session down.
    Shutdown,
    /// `DRAIN`: graceful shutdown (`shutdown_gracefully`).
    Drain,
}

/// The outcome of running a script.
#[derive(Debug, Default)]
pub struct Run {
    /// Echoed inputs, replies and events, in order.
    pub log: Vec<String>,
    /// The content of every message the application was asked to accept.
    pub messages: Vec<(Vec<u8>, MessageInfo)>,
    /// Server output, as raw bytes (greeting included).
    pub wire: Vec<u8>,
    /// How many `Mail` events the application saw (the transactions it was asked to open).
    pub transactions: usize,
}

/// A server under test, driven by script inputs; it logs what happens into [`Run`].
pub struct Harness {
    /// The session under test.
    pub server: Server,
    /// The injected time: the harness's start, advanced by `T: +N`.
    pub now: Instant,
    answers: VecDeque<Answer>,
    /// The content shown on the last log line, while it is a content line.
    content: Vec<u8>,
    /// Content of the message being streamed.
    pending_message: Vec<u8>,
    out: Vec<u8>,
    /// What the run produced so far.
    pub run: Run,
}

impl Harness {
    /// A new session built from `config`, its greeting already drained.
    pub fn new(config: impl Into<TestConfig>) -> Self {
        let mut h = Self::before_greeting(config);
        h.drain();
        h
    }

    /// A new session built from `config` whose greeting is still queued: the first input
    /// arrives before it left (a script that starts with a `C:` line).
    pub fn before_greeting(config: impl Into<TestConfig>) -> Self {
        let now = crate::now();
        let server = config.into().server(now);
        Self {
            server,
            now,
            answers: VecDeque::new(),
            content: Vec::new(),
            pending_message: Vec::new(),
            out: Vec::new(),
            run: Run::default(),
        }
    }

    /// The session for a script whose lines are `lines`:
    /// [`before_greeting`](Self::before_greeting) when its first line is a `C:` line (the
    /// client speaks before the greeting), [`new`](Self::new) otherwise.
    pub fn for_script(config: impl Into<TestConfig>, lines: &[String]) -> Self {
        if lines.first().is_some_and(|l| l.starts_with("C: ")) {
            Self::before_greeting(config)
        } else {
            Self::new(config)
        }
    }

    /// Feeds one input to the server and drains it, logging `echo` first when given.
    pub fn apply(&mut self, input: &Input, echo: Option<&str>) {
        if let Some(line) = echo {
            self.run.log.push(line.to_owned());
        }
        match input {
            Input::Send(reads) => {
                for read in reads {
                    self.server
                        .handle_input(self.now, read)
                        .expect("no input during handshake in scripts");
                    self.drain();
                }
            }
            Input::Answer(answer) => self.answers.push_back(answer.clone()),
            Input::Tls => {
                self.server
                    .handle_tls_established(self.now, TlsInfo::default())
                    .expect("handshake expected");
                // The handshake's own event comes first, before anything parsed later.
                assert!(
                    matches!(
                        self.server.poll_event(),
                        Some(Event::TlsEstablished { info }) if *info == TlsInfo::default()
                    ),
                    "TlsEstablished must follow handle_tls_established"
                );
                self.drain();
            }
            Input::Eof => {
                self.server.handle_eof(self.now);
                self.drain();
            }
            Input::Advance(secs) => {
                self.now += Duration::from_secs(*secs);
                self.server.handle_timeout(self.now);
                self.drain();
            }
            Input::Shutdown => {
                self.server.shutdown(self.now, None);
                self.drain();
            }
            Input::Drain => {
                self.server.shutdown_gracefully(self.now);
                self.drain();
            }
        }
    }

    /// Runs the drain loop of the `Server` docs, answering decisions from the script.
    /// The drain loop of the `Server` docs, answering decisions from the script. The log
    /// does not depend on how the server groups work into steps: replies queued before an
    /// event are logged before it, and adjacent content is merged into one line.
    pub fn drain(&mut self) {
        while let Some(event) = self.server.poll_event() {
            self.transmit();
            if let Event::DataChunk(bytes) = &event {
                self.pending_message.extend_from_slice(bytes);
                let merge = self
                    .run
                    .log
                    .last()
                    .is_some_and(|l| l.starts_with("E: Content "));
                if !merge {
                    self.content.clear();
                }
                self.content.extend_from_slice(bytes);
                let line = format!("E: Content \"{}\"", escape(&self.content));
                if merge {
                    *self.run.log.last_mut().expect("merging into a log line") = line;
                } else {
                    self.run.log.push(line);
                }
                continue;
            }
            self.run.log.push(format!("E: {}", summarize(&event)));
            if matches!(event, Event::Mail { .. }) {
                self.run.transactions += 1;
            }
            self.answer(event);
            self.transmit();
        }
        self.transmit();
    }

    fn answer(&mut self, event: Event) {
        let (pending, info) = match event {
            Event::Hello { pending, .. }
            | Event::Mail { pending, .. }
            | Event::Rcpt { pending, .. }
            | Event::DataStart { pending, .. }
            | Event::Verify { pending, .. }
            | Event::Auth { pending, .. } => (pending, None),
            Event::MessageComplete { pending, info } => (pending, Some(info)),
            Event::MessageAborted { .. } | Event::TransactionReset | Event::Closed { .. } => {
                self.pending_message.clear();
                return;
            }
            _ => return,
        };
        if let Some(info) = info {
            let content = std::mem::take(&mut self.pending_message);
            self.run.messages.push((content, info));
        }
        let now = self.now;
        let result = match self.answers.pop_front().unwrap_or(Answer::Accept) {
            Answer::Accept => self.server.accept(now, pending),
            Answer::Respond(reply) => self.server.respond(now, pending, reply),
            Answer::Challenge(data) => self.server.challenge(now, pending, &data),
            Answer::Each(replies) => self.server.respond_each(now, pending, replies),
        };
        result.expect("scripted answer accepted by the API");
    }

    fn transmit(&mut self) {
        let start = self.out.len();
        let _ = self.server.poll_transmit(&mut self.out);
        let new = &self.out[start..];
        self.run.wire.extend_from_slice(new);
        // Lines are complete: the server only ever queues whole replies.
        for line in new.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            // A trailing space (the empty `334 ` challenge) is shown as `\x20`, since
            // script lines are trimmed.
            let shown = match line.strip_suffix(b" ") {
                Some(head) => format!("{}\\x20", escape(head)),
                None => escape(line),
            };
            self.run.log.push(format!("S: {shown}"));
        }
        self.out.clear();
    }
}

/// The event as a short log line.
pub fn summarize(event: &Event) -> String {
    match event {
        Event::Hello { domain, verb, .. } => format!("Hello {} {domain}", verb.as_str()),
        Event::Mail { from, .. } => format!("Mail {from}"),
        Event::Rcpt { to, .. } => format!("Rcpt {to}"),
        Event::DataStart { chunked, .. } => {
            if *chunked {
                "DataStart chunked".to_owned()
            } else {
                "DataStart".to_owned()
            }
        }
        Event::DataChunk(bytes) => format!("Content \"{}\"", escape(bytes)),
        Event::MessageComplete { info, .. } => {
            let f = info.flags;
            let mut s = format!("MessageComplete size={}", info.size);
            for (on, name) in [
                (f.bare_cr, "bare_cr"),
                (f.bare_lf, "bare_lf"),
                (f.nul, "nul"),
                (f.long_line, "long_line"),
            ] {
                if on {
                    s.push(' ');
                    s.push_str(name);
                }
            }
            s
        }
        Event::MessageAborted { reason } => format!("MessageAborted {reason:?}"),
        Event::TransactionReset => "TransactionReset".to_owned(),
        Event::Verify {
            argument, expand, ..
        } => {
            format!("{} {argument}", if *expand { "Expand" } else { "Verify" })
        }
        Event::Auth {
            mechanism, data, ..
        } => match data {
            AuthData::Credentials(c) => {
                format!("Auth {mechanism} {} {}", c.username, c.password.expose())
            }
            AuthData::Response(None) => format!("Auth {mechanism} none"),
            AuthData::Response(Some(r)) => format!("Auth {mechanism} \"{}\"", escape(r.expose())),
            _ => format!("Auth {mechanism} ?"),
        },
        Event::StartTls { discarded } => format!("StartTls discarded={discarded}"),
        Event::Closed { reason } => format!("Closed {reason:?}"),
        _ => "Other".to_owned(),
    }
}

/// Bytes as a Rust-escaped string.
pub fn escape(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

/// Decodes a `C:` payload: escapes and `{X*N}` repetitions, split at `‖`.
pub fn decode_send(text: &str) -> Vec<Vec<u8>> {
    text.split('‖').map(decode_bytes).collect()
}

/// Decodes one read of a `C:` payload: escapes and `{X*N}` repetitions.
pub fn decode_bytes(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => {
                let (b, len) = decode_escape(&bytes[i..]);
                out.push(b);
                i += len;
            }
            b'{' if text[i..].contains("*") && text[i..].contains('}') => {
                let end = i + text[i..].find('}').expect("checked above");
                let inner = &text[i + 1..end];
                let star = inner.rfind('*').expect("a repetition `{X*N}`");
                let unit = decode_bytes(&inner[..star]);
                let n: usize = inner[star + 1..].parse().expect("repeat count");
                for _ in 0..n {
                    out.extend_from_slice(&unit);
                }
                i = end + 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

fn decode_escape(s: &[u8]) -> (u8, usize) {
    match s.get(1) {
        Some(b'r') => (b'\r', 2),
        Some(b'n') => (b'\n', 2),
        Some(b't') => (b'\t', 2),
        Some(b'0') => (0, 2),
        Some(b'\\') => (b'\\', 2),
        Some(b'x') => {
            let hex = std::str::from_utf8(&s[2..4]).expect("hex escape");
            (u8::from_str_radix(hex, 16).expect("hex escape"), 4)
        }
        other => panic!("unknown escape {other:?}"),
    }
}

/// Parses a script into (echo line, input) steps and the expected log.
pub fn parse(script: &str) -> (Vec<(String, Input)>, Vec<String>) {
    let mut steps = Vec::new();
    let mut expected = Vec::new();
    for raw in script.lines() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        expected.push(line.to_owned());
        let input = if let Some(rest) = line.strip_prefix("C: ") {
            Input::Send(decode_send(rest))
        } else if let Some(rest) = line.strip_prefix("A: ") {
            Input::Answer(parse_answer(rest))
        } else if let Some(rest) = line.strip_prefix("T: +") {
            Input::Advance(rest.parse().expect("seconds"))
        } else if line == "TLS" {
            Input::Tls
        } else if line == "EOF" {
            Input::Eof
        } else if line == "SHUTDOWN" {
            Input::Shutdown
        } else if line == "DRAIN" {
            Input::Drain
        } else if line.starts_with("S:") || line.starts_with("E:") {
            continue;
        } else {
            panic!("bad script line: {line}");
        };
        steps.push((line.to_owned(), input));
    }
    (steps, expected)
}

/// A scripted answer `<code> [<enhanced code>] <text>`, read as its wire form.
fn answer_reply(text: &str) -> Reply {
    Reply::from_wire(format!("{text}\r\n").as_bytes())
        .unwrap_or_else(|e| panic!("bad scripted reply {text:?}: {e}"))
}

fn parse_answer(text: &str) -> Answer {
    if text == "accept" {
        Answer::Accept
    } else if let Some(rest) = text.strip_prefix("challenge ") {
        Answer::Challenge(decode_bytes(rest))
    } else if let Some(rest) = text.strip_prefix("each ") {
        Answer::Each(rest.split(" | ").map(answer_reply).collect())
    } else {
        Answer::Respond(answer_reply(text))
    }
}

/// Runs `script` against a server built from `config`, feeding each `C:` line as given.
pub fn run_script(config: impl Into<TestConfig>, script: &str) -> (Run, Vec<String>) {
    let (steps, expected) = parse(script);
    let mut h = Harness::for_script(config, &expected);
    for (echo, input) in &steps {
        h.apply(input, Some(echo));
    }
    let checks_events = expected.iter().any(|l| l.starts_with("E: "));
    let mut run = std::mem::take(&mut h.run);
    if !checks_events {
        run.log.retain(|l| !l.starts_with("E: "));
    }
    (run, expected)
}

/// Runs `script` with every read re-split by `split` (a function from a read to the sizes
/// of its pieces); returns the log without the echoed inputs, for split-invariance checks.
pub fn run_split(
    config: impl Into<TestConfig>,
    script: &str,
    mut split: impl FnMut(&[u8]) -> Vec<usize>,
) -> Run {
    let (steps, lines) = parse(script);
    let mut h = Harness::for_script(config, &lines);
    for (_, input) in &steps {
        let input = match input {
            Input::Send(reads) => Input::Send(
                reads
                    .iter()
                    .flat_map(|read| {
                        let mut pieces = Vec::new();
                        let mut rest = &read[..];
                        for size in split(read) {
                            let (a, b) = rest.split_at(size.min(rest.len()));
                            pieces.push(a.to_vec());
                            rest = b;
                        }
                        if !rest.is_empty() {
                            pieces.push(rest.to_vec());
                        }
                        pieces
                    })
                    .collect(),
            ),
            other => other.clone(),
        };
        h.apply(&input, None);
    }
    std::mem::take(&mut h.run)
}

/// Asserts that `script` runs exactly as written, and again identically (events and reply
/// bytes) when every read is split into single bytes and at random points (seeded by the
/// script, so a failure reproduces).
#[track_caller]
pub fn transcript(config: impl Into<TestConfig>, script: &str) -> Run {
    let config = config.into();
    let (run, expected) = run_script(config.clone(), script);
    assert_eq!(
        run.log.join("\n"),
        expected.join("\n"),
        "transcript mismatch"
    );
    check_enhanced_codes(&run.wire, config.extensions.enhanced_status_codes);
    let whole = run_split(config.clone(), script, |_| Vec::new());
    let bytewise = run_split(config.clone(), script, |read| vec![1; read.len()]);
    assert_eq!(
        bytewise.log, whole.log,
        "byte-at-a-time feeding changed the outcome"
    );
    assert_eq!(
        bytewise.wire, whole.wire,
        "byte-at-a-time feeding changed the reply bytes"
    );
    let seed = script.bytes().fold(0x9e37_79b9_7f4a_7c15, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let mut rng = Rng(seed | 1);
    for _ in 0..8 {
        let random = run_split(config.clone(), script, |read| rng.split(read.len()));
        assert_eq!(random.log, whole.log, "random splits changed the outcome");
        assert_eq!(
            random.wire, whole.wire,
            "random splits changed the reply bytes"
        );
    }
    run
}

/// A small deterministic generator for split points (xorshift).
pub struct Rng(pub u64);

impl Rng {
    /// The next pseudo-random number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Random piece sizes (mostly 1..=8, sometimes up to 64) covering `len` bytes.
    pub fn split(&mut self, len: usize) -> Vec<usize> {
        let mut sizes = Vec::new();
        let mut left = len;
        while left > 0 {
            let max = if self.next_u64().is_multiple_of(4) {
                64
            } else {
                8
            };
            let size = (1 + (self.next_u64() % max) as usize).min(left);
            sizes.push(size);
            left -= size;
        }
        sizes
    }
}

/// RFC 2034 §3 and RFC 3463 §2 on every reply line: 4xx/5xx lines carry an enhanced code of
/// the same class; 2xx lines do too, except the greeting (220, or 554 when refusing
/// service) and the 250 HELO/EHLO/LHLO reply; 3xx lines never do. With the extension off, no
/// line carries one. The wire must be whole replies, CR LF only (read by the codec's
/// [`ReplyParser`](smtp_proto::codec::reply::ReplyParser)).
#[track_caller]
pub fn check_enhanced_codes(wire: &[u8], enabled: bool) {
    let shown = || wire.escape_ascii().to_string();
    let mut parser = smtp_proto::codec::reply::ReplyParser::new();
    parser.feed(wire);
    while let Some(reply) = parser
        .next_reply()
        .unwrap_or_else(|e| panic!("malformed replies ({e}): {}", shown()))
    {
        assert!(!reply.bare_lf_seen(), "bare LF in a reply: {reply}");
        assert!(!reply.is_truncated(), "reply line too long: {reply}");
        let code = reply.code();
        let class = code / 100;
        // A HELO/EHLO/LHLO reply: 250 from the line `mx.example` on.
        let hello = (code == 250)
            .then(|| {
                let lines = reply.lines();
                lines
                    .iter()
                    .position(|l| l.raw_text().starts_with(b"mx.example"))
            })
            .flatten();
        let last = reply.lines().len() - 1;
        for (i, line) in reply.lines().iter().enumerate() {
            let text = format!("{code:03} {}", line.raw_text().escape_ascii());
            let greeting = i == last
                && matches!(code, 220 | 554)
                && line.raw_text().starts_with(b"mx.example");
            let shaped = looks_enhanced(line.raw_text());
            if !enabled || class == 3 {
                assert!(!shaped, "enhanced code where none belongs: {text}");
            } else if shaped {
                // The parser takes an enhanced code only of the reply's own class.
                assert!(
                    line.enhanced().is_some(),
                    "enhanced class differs from code: {text}"
                );
            } else {
                assert!(
                    greeting || hello.is_some_and(|h| i >= h),
                    "reply line without enhanced code: {text}"
                );
            }
        }
    }
    assert_eq!(
        parser.buffered(),
        0,
        "the wire ends inside a reply: {}",
        shown()
    );
}

/// Whether `text` starts with something shaped like an enhanced status code of any class
/// (`d.d.d`, digits only, up to the first SP), for [`check_enhanced_codes`] to tell a
/// misplaced or wrong-class code from plain text.
fn looks_enhanced(text: &[u8]) -> bool {
    let word = text.split(|&b| b == b' ').next().unwrap_or_default();
    let parts: Vec<&[u8]> = word.split(|&b| b == b'.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.iter().all(u8::is_ascii_digit))
}

// ---- Script fragments shared by the transcript files (for `config()`). ----

/// The EHLO reply lines before TLS.
macro_rules! ehlo_reply {
    () => {
        r"
S: 250-mx.example
S: 250-PIPELINING
S: 250-SIZE 10000
S: 250-8BITMIME
S: 250-CHUNKING
S: 250-BINARYMIME
S: 250-SMTPUTF8
S: 250-ENHANCEDSTATUSCODES
S: 250-DSN
S: 250-STARTTLS
S: 250-MT-PRIORITY
S: 250-DELIVERBY 3600
S: 250 FUTURERELEASE 604800 2026-12-01T00:00:00Z
"
    };
}

/// The EHLO reply lines under TLS: REQUIRETLS and AUTH appear, STARTTLS is gone (RFC 3207
/// §4.2, RFC 8689 §4, RFC 4954 §4).
macro_rules! ehlo_reply_tls {
    () => {
        r"
S: 250-mx.example
S: 250-PIPELINING
S: 250-SIZE 10000
S: 250-8BITMIME
S: 250-CHUNKING
S: 250-BINARYMIME
S: 250-SMTPUTF8
S: 250-ENHANCEDSTATUSCODES
S: 250-DSN
S: 250-REQUIRETLS
S: 250-AUTH PLAIN LOGIN XTEST
S: 250-MT-PRIORITY
S: 250-DELIVERBY 3600
S: 250 FUTURERELEASE 604800 2026-12-01T00:00:00Z
"
    };
}

/// The greeting line.
pub const GREETING: &str = "S: 220 mx.example ESMTP\n";
/// The EHLO reply before TLS (reply lines only).
pub const EHLO_REPLY: &str = ehlo_reply!();
/// The EHLO reply under TLS (reply lines only).
pub const EHLO_REPLY_TLS: &str = ehlo_reply_tls!();
/// `EHLO c.example` and its reply, for scripts without events.
pub const EHLO: &str = concat!("\nC: EHLO c.example\\r\\n", ehlo_reply!());
/// `EHLO c.example`, its event and its reply.
pub const EHLO_E: &str = concat!(
    "\nC: EHLO c.example\\r\\n\nE: Hello EHLO c.example",
    ehlo_reply!()
);
/// The same under TLS.
pub const TLS_EHLO_E: &str = concat!(
    "\nC: EHLO c.example\\r\\n\nE: Hello EHLO c.example",
    ehlo_reply_tls!()
);
/// STARTTLS outside a transaction and a finished handshake (no EHLO yet).
pub const STARTTLS_HANDSHAKE: &str =
    "\nC: STARTTLS\\r\\n\nS: 220 2.0.0 Ready to start TLS\nE: StartTls discarded=0\nTLS\n";
/// \[T\]: MAIL and one RCPT accepted, without events.
pub const TX: &str = "\nC: MAIL FROM:<a@x.example>\\r\\nRCPT TO:<b@y.example>\\r\\n\nS: 250 2.1.0 Ok\nS: 250 2.1.5 Ok\n";
/// \[T\] with its events.
pub const TX_E: &str = "\nC: MAIL FROM:<a@x.example>\\r\\nRCPT TO:<b@y.example>\\r\\n\nE: Mail <a@x.example>\nS: 250 2.1.0 Ok\nE: Rcpt <b@y.example>\nS: 250 2.1.5 Ok\n";
/// QUIT outside a transaction.
pub const QUIT: &str = "\nC: QUIT\\r\\n\nS: 221 2.0.0 Bye\nE: Closed Quit\n";
/// QUIT with a transaction open.
pub const QUIT_IN_TRANSACTION: &str =
    "\nC: QUIT\\r\\n\nS: 221 2.0.0 Bye\nE: TransactionReset\nE: Closed Quit\n";

/// \[G\]: greeted with EHLO (with events).
pub fn greeted() -> String {
    [GREETING, EHLO_E].concat()
}

/// \[T\]: \[G\] plus an accepted MAIL and RCPT (with events).
pub fn in_transaction() -> String {
    greeted() + TX_E
}

/// Joins script fragments.
pub fn script(parts: &[&str]) -> String {
    parts.concat()
}

/// `config()` with Postfix-style line-ending normalisation.
pub fn normalize() -> TestConfig {
    let mut c = config();
    c.line_endings = smtp_proto::LineEndingPolicy::Normalize;
    c
}

/// The time origin of a test that drives `Server` directly (tests inject time; only the
/// core must never read the clock).
pub fn t0() -> Instant {
    crate::now()
}

/// Runs `script` exactly as written, without re-splitting reads. For rows whose point is
/// what one read holds (RFC 2920 synchronisation, STARTTLS injection): re-fed byte by
/// byte, nothing would be buffered.
#[track_caller]
pub fn exact(config: impl Into<TestConfig>, script: &str) -> Run {
    let config = config.into();
    let (run, expected) = run_script(config.clone(), script);
    assert_eq!(
        run.log.join("\n"),
        expected.join("\n"),
        "transcript mismatch"
    );
    check_enhanced_codes(&run.wire, config.extensions.enhanced_status_codes);
    run
}

// ---- One transcript, two runners ---------------------------------------------------------

/// A script, checked to parse, that runs in memory ([`Transcript::run_in_memory`]) and over
/// a socket against a real server ([`Transcript::run_on_socket`]).
#[derive(Clone, Debug)]
pub struct Transcript {
    text: String,
}

impl Transcript {
    /// The transcript of `text`.
    ///
    /// # Panics
    /// On a line that is not part of the language.
    pub fn new(text: impl Into<String>) -> Self {
        let text = text.into();
        let _ = parse(&text);
        Self { text }
    }

    /// The script text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Runs in memory against a server built from `config`: as [`transcript`] (the script
    /// as written, then re-fed byte by byte and at random splits), or as [`exact`] (only as
    /// written) when `exact_reads` is set.
    #[track_caller]
    pub fn run_in_memory(&self, config: impl Into<TestConfig>, exact_reads: bool) -> Run {
        if exact_reads {
            exact(config, &self.text)
        } else {
            transcript(config, &self.text)
        }
    }

    /// The lines that have no socket translation (see the module docs); empty when the
    /// transcript can run over a socket.
    pub fn memory_only_lines(&self) -> Vec<String> {
        let (_, lines) = parse(&self.text);
        lines
            .into_iter()
            .filter(|line| socket_line(line).is_none())
            .collect()
    }

    /// Connects to `addr` and plays the transcript lockstep (see the module docs): each
    /// input is sent only once every reply of the one before has been read and compared.
    /// Returns what was sent and received, or on failure a description with that
    /// transcript so far.
    pub fn run_on_socket(&self, addr: SocketAddr, socket: &Socket) -> Result<Vec<String>, String> {
        let mut played = Vec::new();
        let outcome = self.play(addr, socket, &mut played);
        outcome.map(|()| played.clone()).map_err(|e| {
            let mut text = format!("{e}\n  transcript:");
            for line in &played {
                text.push_str("\n    ");
                text.push_str(line);
            }
            text
        })
    }

    fn play(
        &self,
        addr: SocketAddr,
        socket: &Socket,
        played: &mut Vec<String>,
    ) -> Result<(), String> {
        let mut client = SmtpClient::try_connect(addr).map_err(|e| format!("connect: {e}"))?;
        client.set_timeout(crate::wire::STEP_TIMEOUT);
        let (_, lines) = parse(&self.text);
        let mut pending = Pending::default();
        let mut started = false;
        let mut closed = false;
        for line in &lines {
            let what = socket_line(line)
                .ok_or_else(|| format!("`{line}` has no socket translation: a memory-only row"))?;
            match what {
                SocketLine::Reply(text) => {
                    if closed {
                        return Err(format!("`{line}` after the server closed"));
                    }
                    pending.replies.push(text);
                }
                SocketLine::Close => pending.close = true,
                SocketLine::Nothing => {}
                SocketLine::Input(input) => {
                    closed |= pending.settle(&mut client, socket, started && !closed, played)?;
                    started = true;
                    send(&mut client, &input, socket, closed, played)?;
                }
            }
        }
        pending.settle(&mut client, socket, false, played)?;
        Ok(())
    }
}

/// How [`Transcript::run_on_socket`] meets a real server.
#[derive(Clone, Debug)]
pub struct Socket {
    /// The server's host name: it replaces [`MEMORY_HOST`] in the expected replies.
    pub host: String,
    /// Write every `C:` read in writes of at most this many octets, without pauses.
    pub pieces: Option<usize>,
}

/// The host name of [`config`], which scripts show in the greeting, the EHLO reply and a
/// few reply texts.
pub const MEMORY_HOST: &str = "mx.example";

/// What one script line means over a socket.
enum SocketLine {
    /// `C:`, `TLS`, `EOF`: something the client does.
    Input(Input),
    /// `S:`: one reply line (without CR LF), to read and compare.
    Reply(String),
    /// `E: Closed …`: the server closes the connection after the replies before it.
    Close,
    /// Other `E:` lines, `A: accept`, `A: <code> <text>`: nothing to do (the application
    /// is the target's handler; the `S:` lines check what it decided).
    Nothing,
}

/// `line` over a socket, or `None` for a memory-only line (`A: challenge`, `A: each`,
/// `T:`, `SHUTDOWN`, `DRAIN`).
fn socket_line(line: &str) -> Option<SocketLine> {
    if let Some(text) = line.strip_prefix("S: ") {
        return Some(SocketLine::Reply(
            String::from_utf8_lossy(&decode_bytes(text)).into_owned(),
        ));
    }
    if line.starts_with("E: Closed") {
        return Some(SocketLine::Close);
    }
    if line.starts_with("E: ") {
        return Some(SocketLine::Nothing);
    }
    if let Some(rest) = line.strip_prefix("A: ") {
        return match parse_answer(rest) {
            Answer::Accept | Answer::Respond(_) => Some(SocketLine::Nothing),
            Answer::Challenge(_) | Answer::Each(_) => None,
        };
    }
    if let Some(rest) = line.strip_prefix("C: ") {
        return Some(SocketLine::Input(Input::Send(decode_send(rest))));
    }
    match line {
        "TLS" => Some(SocketLine::Input(Input::Tls)),
        "EOF" => Some(SocketLine::Input(Input::Eof)),
        _ => None,
    }
}

/// What the server owes since the last input: reply lines, and maybe the close.
#[derive(Default)]
struct Pending {
    replies: Vec<String>,
    close: bool,
}

impl Pending {
    /// Reads and compares every owed reply, then waits for the close if one is owed; with
    /// nothing owed and `quiet` set, checks that nothing arrives for [`QUIET`]. Returns
    /// whether the server closed, and leaves nothing owed.
    ///
    /// [`QUIET`]: crate::wire::QUIET
    fn settle(
        &mut self,
        client: &mut SmtpClient,
        socket: &Socket,
        quiet: bool,
        played: &mut Vec<String>,
    ) -> Result<bool, String> {
        let lines = std::mem::take(&mut self.replies);
        let close = std::mem::take(&mut self.close);
        let mut groups: Vec<Vec<String>> = Vec::new();
        let mut open = false;
        for line in lines {
            if !open {
                groups.push(Vec::new());
            }
            open = line.as_bytes().get(3) == Some(&b'-');
            groups.last_mut().expect("a group was pushed").push(line);
        }
        if open {
            return Err(format!(
                "unfinished multiline reply in the script: {groups:?}"
            ));
        }
        for expected in &groups {
            let reply = client
                .try_read_reply()
                .map_err(|e| format!("expected `{}`: {e}", expected.join(" / ")))?;
            played.push(format!(
                "S: {}",
                reply.to_string().trim_end().replace("\r\n", " / ")
            ));
            compare_reply(expected, &reply, &socket.host)?;
        }
        if close {
            expect_close(client)?;
            played.push("closed".to_owned());
            return Ok(true);
        }
        if groups.is_empty() && quiet {
            client.set_timeout(crate::wire::QUIET);
            let result = client.try_read_reply();
            client.set_timeout(crate::wire::STEP_TIMEOUT);
            match result {
                Err(e) if e.kind() == io::ErrorKind::TimedOut => played.push("(quiet)".to_owned()),
                Ok(reply) => return Err(format!("unexpected {}", reply.to_string().trim_end())),
                Err(e) => return Err(format!("instead of silence: {e}")),
            }
        }
        Ok(false)
    }
}

/// Compares one reply with its script lines (`NNN-text` … `NNN text`): the code, and the
/// text of every line with [`MEMORY_HOST`] read as `host`; of a HELO/EHLO reply (a
/// multiline reply whose first line starts with the host name) only the first line, since
/// the extensions advertised depend on the configuration.
fn compare_reply(expected: &[String], reply: &crate::Reply, host: &str) -> Result<(), String> {
    let texts: Vec<String> = expected
        .iter()
        .map(|l| l.get(4..).unwrap_or("").replace(MEMORY_HOST, host))
        .collect();
    let code: u16 = expected[0]
        .get(..3)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("no reply code in `{}`", expected[0]))?;
    let hello = texts.len() > 1 && texts[0].starts_with(host);
    let same = reply.code == code
        && if hello {
            reply.lines.len() > 1 && reply.lines[0] == texts[0]
        } else {
            reply.lines == texts
        };
    if same {
        Ok(())
    } else {
        Err(format!(
            "got `{}`, expected `{}`",
            reply.to_string().trim_end().replace("\r\n", " / "),
            expected.join(" / ")
        ))
    }
}

/// The server closes the connection without another reply: end of stream, or a reset.
fn expect_close(client: &mut SmtpClient) -> Result<(), String> {
    match client.try_read_reply() {
        Ok(reply) => Err(format!(
            "a reply instead of the close: {}",
            reply.to_string().trim_end()
        )),
        Err(e) if e.kind() == io::ErrorKind::TimedOut => Err(format!(
            "still open after {:?}: {e}",
            crate::wire::STEP_TIMEOUT
        )),
        // End of stream, a reset, or a TLS alert: the session is over all the same.
        Err(_) => Ok(()),
    }
}

/// Performs one input over the socket. Once the server has closed, writes may fail and
/// that is not an error.
fn send(
    client: &mut SmtpClient,
    input: &Input,
    socket: &Socket,
    closed: bool,
    played: &mut Vec<String>,
) -> Result<(), String> {
    let result = match input {
        Input::Send(reads) => {
            let mut result = Ok(());
            for (i, read) in reads.iter().enumerate() {
                if i > 0 {
                    std::thread::sleep(crate::wire::PAUSE);
                }
                played.push(format!("C: {}", crate::wire::escape(read)));
                let size = socket.pieces.unwrap_or(usize::MAX).max(1);
                for piece in read.chunks(size) {
                    result = result.and_then(|()| client.try_send(piece));
                }
            }
            result.map_err(|e| format!("write: {e}"))
        }
        Input::Tls => {
            played.push("TLS".to_owned());
            client
                .try_upgrade_tls()
                .map_err(|e| format!("TLS handshake: {e}"))
        }
        Input::Eof => {
            played.push("EOF".to_owned());
            client
                .tcp()
                .shutdown(std::net::Shutdown::Write)
                .map_err(|e| format!("shutdown: {e}"))
        }
        other => Err(format!("{other:?} has no socket translation")),
    };
    if closed { Ok(()) } else { result }
}
