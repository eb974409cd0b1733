//! Client transcripts: drive a core `smtp_proto::client::Client` in memory from a compact
//! script, the client-side twin of [`transcript`](crate::transcript). The server is the
//! script (manual::client: "a scripted fake server").
//!
//! Script lines (blank lines and `#` comments are ignored):
//!
//! * `S: bytes` — the server sends `bytes` (Rust escapes `\r \n \t \0 \\ \xHH`, and
//!   `{X*N}` for N copies of X); `‖` splits them into separate reads.
//! * `C: bytes` — everything the client wrote since the last `C:` line, exactly. At the
//!   end of the script nothing may be left unchecked.
//! * `R: summary` — the next event the client reported (see [`summarize`]). Every event
//!   except the per-reply log (`ClientEvent::Reply`) and `TlsEstablished` must be
//!   matched, in order.
//! * `B: bytes` — the application gives this piece of content (`send_body`); `B: END`
//!   ends it (`end_body`).
//! * `AUTH: bytes` / `AUTH: *` — the application answers a SASL challenge.
//! * `SEND` — the application queues the next of the script's later jobs.
//! * `QUIT`, `ABORT` — the application asks for QUIT, or aborts.
//! * `TLS` — the TLS handshake finishes; `TLSFAIL` — it fails. `EOF` — the server closes.
//!   `T: +N` — N seconds pass and the timer is serviced.
//!
//! Each script runs twice: as written, and with every `S:` payload fed one byte per read,
//! which must not change a single `C:` or `R:` line (REP-07, PIPE-04).

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use smtp_proto::client::{Client, ClientConfig, ClientEvent, CloseReason, Envelope, Outcome};
use smtp_proto::{Mailbox, TlsInfo};

use crate::transcript::decode_send;

/// The EHLO reply of manual::client's `[E]`, as script bytes.
pub const EHLO_E: &str = r"250-mx.example\r\n250-PIPELINING\r\n250-SIZE 10000000\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n";

/// The EHLO reply of `[L]`: `[E]` without PIPELINING.
pub const EHLO_L: &str =
    r"250-mx.example\r\n250-SIZE 10000000\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n";

/// `[G]` + EHLO answered with `ehlo` (script bytes): the session is ready.
pub fn greeted_with(ehlo: &str) -> String {
    format!("S: 220 mx.example ESMTP\\r\\n\nC: EHLO client.example\\r\\n\nS: {ehlo}\nR: Ready\n")
}

/// `[E]`.
pub fn greeted() -> String {
    greeted_with(EHLO_E)
}

/// `[L]`.
pub fn greeted_lockstep() -> String {
    greeted_with(EHLO_L)
}

/// A mailbox from a literal (panics on a typo: test data).
pub fn mailbox(text: &str) -> Mailbox {
    match text.parse() {
        Ok(mailbox) => mailbox,
        Err(e) => panic!("test address {text:?}: {e}"),
    }
}

/// manual::client's default job: from `<a@x.example>` to `<b@y.example>` and
/// `<c@y.example>`.
pub fn default_job() -> Envelope {
    Envelope::new(mailbox("a@x.example"))
        .to(mailbox("b@y.example"))
        .to(mailbox("c@y.example"))
}

/// The configuration of the scripts: EHLO `client.example`, opportunistic TLS.
pub fn client_config() -> ClientConfig {
    match ClientConfig::new("client.example") {
        Ok(config) => config,
        Err(e) => panic!("{e}"),
    }
}

/// One event as a script line: `Ready`, `StartTls`, `BodyWanted #0`, `Idle`,
/// `Closed <reason>`, `AuthChallenge <bytes>`, and for a transaction
/// `Done #0 <b@y.example> Delivered 250 2.0.0 EndOfData | <c@y.example> Rejected 550 5.1.1 Rcpt`
/// (`local` when the client made the reply up, `maybe` when it may have been delivered).
pub fn summarize(event: &ClientEvent) -> Option<String> {
    Some(match event {
        // The per-reply log and the handshake's facts are not script lines (`Ready tls`
        // shows TLS).
        ClientEvent::Reply { .. } | ClientEvent::TlsEstablished(_) => return None,
        ClientEvent::Ready(info) => {
            let mut s = "Ready".to_owned();
            if info.helo_fallback {
                s.push_str(" helo");
            }
            if info.tls.is_some() {
                s.push_str(" tls");
            }
            if let Some(mechanism) = &info.authenticated {
                let _ = write!(s, " auth={mechanism}");
            }
            s
        }
        ClientEvent::StartTls => "StartTls".to_owned(),
        ClientEvent::AuthChallenge(bytes) => format!("AuthChallenge {}", bytes.escape_ascii()),
        ClientEvent::BodyWanted(id) => format!("BodyWanted #{}", id_number(*id)),
        ClientEvent::Idle => "Idle".to_owned(),
        ClientEvent::Closed(reason) => format!("Closed {}", reason_name(reason)),
        ClientEvent::TransactionDone(report) => {
            let parts: Vec<String> = report
                .recipients
                .iter()
                .map(|r| format!("{} {}", r.recipient, outcome(&r.outcome)))
                .collect();
            format!("Done #{} {}", id_number(report.id), parts.join(" | "))
        }
        other => format!("{other:?}"),
    })
}

/// The number of a transaction id (ids count from 0).
fn id_number(id: smtp_proto::client::TransactionId) -> u64 {
    id.number()
}

/// `Verdict code [enhanced] Stage [local] [maybe]`.
pub fn outcome(outcome: &Outcome) -> String {
    let mut s = format!("{:?} {}", outcome.verdict, outcome.reply.code());
    if let Some(enhanced) = outcome.reply.enhanced() {
        let _ = write!(s, " {enhanced}");
    }
    let _ = write!(s, " {:?}", outcome.stage);
    if outcome.local {
        s.push_str(" local");
    }
    if outcome.maybe_delivered {
        s.push_str(" maybe");
    }
    s
}

fn reason_name(reason: &CloseReason) -> String {
    match reason {
        CloseReason::Refused(reply) => format!("Refused {}", reply.code()),
        CloseReason::ServiceClosing(reply) => format!("ServiceClosing {}", reply.code()),
        CloseReason::AuthFailed(Some(reply)) => format!("AuthFailed {}", reply.code()),
        CloseReason::AuthFailed(None) => "AuthFailed".to_owned(),
        CloseReason::ProtocolError(_) => "ProtocolError".to_owned(),
        other => format!("{other:?}"),
    }
}

/// A client transcript: the configuration, the jobs queued before the greeting, and jobs
/// queued later by `SEND` lines.
#[derive(Clone)]
pub struct ClientScript {
    config: ClientConfig,
    jobs: Vec<Envelope>,
    later: Vec<Envelope>,
}

impl ClientScript {
    /// A script with this configuration and no job.
    pub fn new(config: ClientConfig) -> Self {
        Self {
            config,
            jobs: Vec::new(),
            later: Vec::new(),
        }
    }

    /// A script with [`client_config`] and [`default_job`].
    pub fn default_job() -> Self {
        Self::new(client_config()).job(default_job())
    }

    /// Queues `envelope` before the greeting.
    #[must_use]
    pub fn job(mut self, envelope: Envelope) -> Self {
        self.jobs.push(envelope);
        self
    }

    /// Queues `envelope` at the next `SEND` line.
    #[must_use]
    pub fn later(mut self, envelope: Envelope) -> Self {
        self.later.push(envelope);
        self
    }

    /// Runs `script` as written and byte by byte; panics with the line on a mismatch.
    pub fn run(&self, script: &str) {
        self.run_once(script, false);
        self.run_once(script, true);
    }

    /// Runs `script` only as written: for rows where a read boundary is the point.
    pub fn run_as_written(&self, script: &str) {
        self.run_once(script, false);
    }

    /// Runs `script` only byte by byte.
    pub fn run_bytewise(&self, script: &str) {
        self.run_once(script, true);
    }

    fn run_once(&self, script: &str, bytewise: bool) {
        let mode = if bytewise {
            "byte by byte"
        } else {
            "as written"
        };
        let mut run = Run::new(self, mode);
        for (number, raw) in script.lines().enumerate() {
            let line = raw.trim_start();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            run.line = format!("line {}: {line}", number + 1);
            run.step(line, bytewise);
        }
        run.finish();
    }
}

/// One run of a script.
struct Run {
    client: Client,
    now: Instant,
    written: Vec<u8>,
    events: VecDeque<String>,
    later: VecDeque<Envelope>,
    line: String,
    mode: &'static str,
}

impl Run {
    fn new(script: &ClientScript, mode: &'static str) -> Self {
        let now = crate::now();
        let mut client = match Client::new(Arc::new(script.config.clone()), now) {
            Ok(client) => client,
            Err(e) => panic!("client config: {e}"),
        };
        for job in &script.jobs {
            if let Err(e) = client.send(now, job.clone()) {
                panic!("queueing a job: {e}");
            }
        }
        let mut run = Self {
            client,
            now,
            written: Vec::new(),
            events: VecDeque::new(),
            later: script.later.iter().cloned().collect(),
            line: "start".to_owned(),
            mode,
        };
        run.pump();
        run
    }

    fn fail(&self, what: &str) -> ! {
        panic!(
            "client transcript ({}), {}: {what}\nunchecked output: {:?}\nunchecked events: {:?}",
            self.mode,
            self.line,
            self.written.escape_ascii().to_string(),
            self.events
        );
    }

    /// Collects what the client wrote and reported.
    fn pump(&mut self) {
        loop {
            let mut progressed = false;
            while let Some(event) = self.client.poll_event() {
                progressed = true;
                if let Some(line) = summarize(&event) {
                    self.events.push_back(line);
                }
            }
            if self.client.poll_transmit(&mut self.written) > 0 {
                progressed = true;
            }
            if !progressed {
                break;
            }
        }
    }

    fn step(&mut self, line: &str, bytewise: bool) {
        let (tag, rest) = line.split_once(':').map_or((line, ""), |(t, r)| (t, r));
        let rest = rest.strip_prefix(' ').unwrap_or(rest);
        match tag {
            "S" => {
                for read in decode_send(rest) {
                    if bytewise {
                        for byte in read {
                            self.client.handle_input(self.now, &[byte]);
                        }
                    } else {
                        self.client.handle_input(self.now, &read);
                    }
                }
            }
            "C" => {
                let expected: Vec<u8> = decode_send(rest).concat();
                if self.written != expected {
                    self.fail(&format!(
                        "the client wrote {:?}, expected {:?}",
                        self.written.escape_ascii().to_string(),
                        expected.escape_ascii().to_string()
                    ));
                }
                self.written.clear();
            }
            "R" => match self.events.pop_front() {
                Some(event) if event == rest => {}
                Some(event) => self.fail(&format!("event {event:?}, expected {rest:?}")),
                None => self.fail(&format!("no event, expected {rest:?}")),
            },
            "B" => {
                let result = if rest == "END" {
                    self.client.end_body(self.now)
                } else {
                    self.client.send_body(self.now, &decode_send(rest).concat())
                };
                if let Err(e) = result {
                    self.fail(&format!("content refused: {e}"));
                }
            }
            "AUTH" => {
                let response = (rest != "*").then(|| decode_send(rest).concat());
                if let Err(e) = self.client.respond_auth(self.now, response.as_deref()) {
                    self.fail(&format!("AUTH response refused: {e}"));
                }
            }
            "T" => {
                let seconds: u64 = rest
                    .trim_start_matches('+')
                    .parse()
                    .unwrap_or_else(|_| self.fail("T: wants +SECONDS"));
                self.now += Duration::from_secs(seconds);
                self.client.handle_timeout(self.now);
            }
            "SEND" => {
                let Some(job) = self.later.pop_front() else {
                    self.fail("SEND without a later job");
                };
                if let Err(e) = self.client.send(self.now, job) {
                    self.fail(&format!("send refused: {e}"));
                }
            }
            "QUIT" => self.client.quit(self.now),
            "ABORT" => self.client.abort(self.now),
            "EOF" => self.client.handle_eof(self.now),
            "TLS" => {
                let info = TlsInfo::new(Some("TLSv1.3".to_owned()), None, None, true);
                if let Err(e) = smtp_proto::connection::Machine::handle_tls_established(
                    &mut self.client,
                    self.now,
                    info,
                ) {
                    self.fail(&format!("handshake refused: {e}"));
                }
            }
            "TLSFAIL" => {
                smtp_proto::connection::Machine::handle_tls_failure(&mut self.client, self.now);
            }
            _ => self.fail("unknown line"),
        }
        self.pump();
    }

    fn finish(mut self) {
        self.line = "end of script".to_owned();
        if !self.written.is_empty() {
            self.fail("the client wrote bytes no C: line checked");
        }
        if !self.events.is_empty() {
            self.fail("events no R: line checked");
        }
    }
}
