//! Setting the session up: greeting, EHLO/HELO/LHLO, STARTTLS (manual::client),
//! and RSET between transactions.

use std::time::Instant;

use crate::codec::ehlo::Capabilities;
use crate::codec::reply::ParsedReply;
use crate::config::Protocol;
use crate::error::ApiMisuse;
use crate::server::TlsInfo;

use super::{Client, ClientEvent, CloseReason, Kind, Outcome, Phase, Stage, TlsPolicy};

impl Client {
    /// GRT-01..05: a 2xx greeting opens the session; anything else is a refusal.
    pub(super) fn on_greeting(&mut self, now: Instant, reply: ParsedReply) {
        self.greeting = Some(reply.clone());
        if reply.is_positive() {
            self.send_hello();
        } else {
            // GRT-04: QUIT, and the caller tries the next host; never a bounce by itself.
            let outcome = Outcome::from_reply(reply.clone(), Stage::Session);
            self.end_session(now, &outcome, CloseReason::Refused(reply));
        }
    }

    /// EHLO, or LHLO under LMTP (EHLO-06).
    fn send_hello(&mut self) {
        self.phase = Phase::Hello;
        let (kind, verb) = match self.config.protocol {
            Protocol::Smtp => (Kind::Ehlo, "EHLO"),
            Protocol::Lmtp => (Kind::Lhlo, "LHLO"),
        };
        let line = format!("{verb} {}\r\n", self.config.hello_name);
        self.push(kind, line.into_bytes());
    }

    /// EHLO-01..05, CAP-16: the reply to EHLO, HELO or LHLO.
    pub(super) fn on_hello(&mut self, now: Instant, kind: Kind, reply: ParsedReply) {
        if reply.is_positive() {
            self.caps = if kind == Kind::Helo {
                self.helo_fallback = true;
                Capabilities::default()
            } else {
                Capabilities::from_ehlo(&reply, self.tls.is_some()).unwrap_or_default()
            };
            self.after_hello(now);
        } else if kind == Kind::Ehlo && matches!(reply.code(), 500 | 501 | 502 | 504 | 550) {
            // EHLO-02: the server does not know EHLO.
            let line = format!("HELO {}\r\n", self.config.hello_name);
            self.push(Kind::Helo, line.into_bytes());
        } else {
            // EHLO-03, EHLO-04.
            let outcome = Outcome::from_reply(reply.clone(), Stage::Session);
            self.end_session(now, &outcome, CloseReason::Refused(reply));
        }
    }

    /// After a successful EHLO: STARTTLS per the policy, then AUTH, then ready.
    fn after_hello(&mut self, now: Instant) {
        let policy = self.config.tls;
        let wants_tls = matches!(policy, TlsPolicy::Opportunistic | TlsPolicy::Required);
        if self.tls.is_none() && wants_tls && !self.starttls_tried && self.caps.starttls() {
            // CTLS-02: alone in its flight (a sync point).
            self.starttls_tried = true;
            self.phase = Phase::StartTls;
            self.push(Kind::StartTls, b"STARTTLS\r\n".to_vec());
        } else if self.tls.is_none() && policy == TlsPolicy::Required {
            self.tls_unavailable(now, "4.7.4 TLS is required, but was not offered");
        } else {
            self.start_auth(now);
        }
    }

    /// CTLS-03, CTLS-04, CTLS-07: the reply to STARTTLS.
    pub(super) fn on_starttls(&mut self, now: Instant, reply: ParsedReply) {
        if reply.code() == 220 {
            if self.parser.buffered() > 0 {
                // Bytes after the 220 were sent before the server could know we would see
                // it: response injection (CVE-2021-38371 and kin). Never parsed.
                self.protocol_error(
                    "bytes followed the STARTTLS reply (response injection)",
                    false,
                );
                return;
            }
            self.phase = Phase::Handshake;
            self.deadline = Some(now + self.config.timeouts.starttls);
            self.events.push_back(ClientEvent::StartTls);
        } else if self.config.tls == TlsPolicy::Required {
            self.tls_unavailable(
                now,
                "4.7.4 TLS is required, but the server refused STARTTLS",
            );
        } else {
            // CTLS-07: opportunistic TLS goes on in plaintext on this connection.
            self.start_auth(now);
        }
    }

    /// A TLS requirement cannot be met: defer everything and QUIT.
    fn tls_unavailable(&mut self, now: Instant, text: &str) {
        let outcome = Outcome::local(451, text, Stage::Session);
        self.end_session(now, &outcome, CloseReason::TlsUnavailable);
    }

    /// The handshake finished: after STARTTLS, forget the capabilities and EHLO again
    /// (CTLS-05); under implicit TLS, wait for the greeting.
    pub(super) fn tls_established(&mut self, now: Instant, info: TlsInfo) -> Result<(), ApiMisuse> {
        self.tick(now);
        let implicit_start = self.phase == Phase::Greeting
            && self.config.tls == TlsPolicy::Implicit
            && self.tls.is_none()
            && self.greeting.is_none()
            && self.parser.buffered() == 0;
        if self.phase != Phase::Handshake && !implicit_start {
            return Err(ApiMisuse::NoTlsHandshake);
        }
        self.tls = Some(info.clone());
        self.events.push_back(ClientEvent::TlsEstablished(info));
        if self.phase == Phase::Handshake {
            self.caps = Capabilities::default();
            self.send_hello();
        }
        Ok(())
    }

    /// The TLS layer failed.
    pub(super) fn tls_failed(&mut self, now: Instant) {
        self.tick(now);
        if self.phase != Phase::Closed {
            let outcome = Outcome::local(451, "4.7.5 TLS handshake failed", Stage::Session);
            self.fail_all(&outcome, CloseReason::TlsUnavailable);
        }
    }

    /// PIPE-16: a refused RSET means the connection is not reused.
    pub(super) fn on_rset(&mut self, now: Instant, reply: ParsedReply) {
        if reply.is_positive() {
            self.start_next(now);
        } else {
            let outcome = Outcome::local(451, "4.4.2 the server refused RSET", Stage::Session);
            self.end_session(now, &outcome, CloseReason::CannotReset);
        }
    }
}
