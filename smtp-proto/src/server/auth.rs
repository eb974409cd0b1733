//! AUTH (RFC 4954): the SASL exchange framing is the server's; PLAIN and LOGIN are decoded
//! here, any other mechanism is passed to the application as raw exchanges. Every AUTH
//! command starts from a fresh exchange state (Postfix CVE-2011-1720).

use super::replies as r;
use super::{Awaited, Event, Line, PendingKind, Phase, Server};
use crate::codec::command::{self, Verb};
use crate::codec::reply::{Reply, encode_lines};
use crate::codec::sasl::{self, Credentials};
use crate::secret::Secret;
use crate::server::AuthData;

/// What the next client line answers.
#[derive(Debug)]
pub(super) enum Exchange {
    /// The PLAIN message after an empty `334 ` challenge.
    Plain,
    /// The LOGIN user name.
    LoginUsername,
    /// The LOGIN password.
    LoginPassword(String),
    /// A raw mechanism's response to the application's challenge.
    Raw(String),
}

/// What the application is deciding.
#[derive(Debug)]
pub(super) enum Step {
    /// PLAIN or LOGIN credentials.
    Credentials,
    /// A raw mechanism step; `challenge` may continue it.
    Raw(String),
}

impl Server {
    /// Whether AUTH is in the EHLO reply: mechanisms configured, and TLS active when
    /// `auth_requires_tls` (RFC 4954 §4; the list is recomputed after STARTTLS).
    pub(super) fn auth_offered(&self) -> bool {
        !self.config.extensions.auth_mechanisms.is_empty()
            && (self.session.tls.is_some() || !self.config.auth_requires_tls)
    }

    pub(super) fn auth(&mut self, args: &[u8]) {
        let mechanisms = &self.config.extensions.auth_mechanisms;
        let refusal = if mechanisms.is_empty() {
            Some(&r::AUTH_NOT_OFFERED)
        } else if !matches!(self.session.hello, Some(Verb::Ehlo | Verb::Lhlo)) {
            Some(&r::NEED_EHLO)
        } else if self.transaction.is_some() {
            Some(&r::TX_IN_PROGRESS)
        } else if self.session.authenticated {
            Some(&r::ALREADY_AUTHENTICATED)
        } else {
            None
        };
        if let Some(reply) = refusal {
            return self.reject(Verb::Auth, reply);
        }
        let Some((mechanism, initial)) = command::auth_argument(args) else {
            return self.reject(Verb::Auth, &r::AUTH_SYNTAX);
        };
        if !mechanisms.contains(&mechanism) {
            return self.reject(Verb::Auth, &r::AUTH_UNSUPPORTED);
        }
        if self.config.auth_requires_tls && self.session.tls.is_none() {
            let reply = if self.session.starttls {
                &r::AUTH_NEEDS_TLS
            } else {
                &r::AUTH_NEEDS_TLS_PORT
            };
            return self.reject(Verb::Auth, reply);
        }
        let initial = match initial {
            None => None,
            Some(b"*") => return self.reject(Verb::Auth, &r::AUTH_ABORTED),
            Some(encoded) => match sasl::decode_response(encoded) {
                Some(decoded) => Some(decoded),
                None => return self.reject(Verb::Auth, &r::AUTH_BAD_BASE64),
            },
        };
        if !self.check_sync(Verb::Auth) {
            return;
        }
        match (mechanism.as_str(), initial) {
            ("PLAIN", None) => self.send_sasl_challenge(Exchange::Plain, ""),
            ("PLAIN", Some(message)) => self.plain(&message),
            ("LOGIN", None) => {
                self.send_sasl_challenge(Exchange::LoginUsername, sasl::LOGIN_USERNAME_CHALLENGE);
            }
            ("LOGIN", Some(username)) => self.login_username(username),
            (_, initial) => self.raw_step(mechanism, initial),
        }
    }

    /// Reads one client line of the exchange.
    pub(super) fn step_sasl(&mut self) -> bool {
        let line = match self.reader.next_sasl() {
            Line::Complete(line) => line,
            Line::Incomplete => return false,
            Line::TooLong => {
                self.send_error(&r::AUTH_LINE_TOO_LONG);
                if !self.is_closed() {
                    // The rest of the line is discarded as a command line would be.
                    self.enter(Phase::Command);
                }
                return true;
            }
            Line::BareLf => {
                self.bare_lf();
                return true;
            }
        };
        let Phase::Sasl(exchange) = &mut self.phase else {
            return true;
        };
        // Taken out (the placeholder is dropped at once): the line ends the exchange step.
        let exchange = std::mem::replace(exchange, Exchange::Plain);
        self.enter(Phase::Command);
        if &line[..] == b"*" {
            // RFC 4954 §4: the client cancels; the server MUST answer 501.
            self.reject(Verb::Auth, &r::AUTH_ABORTED);
            return true;
        }
        let Some(decoded) = sasl::decode_response(&line) else {
            self.reject(Verb::Auth, &r::AUTH_BAD_BASE64);
            return true;
        };
        match exchange {
            Exchange::Plain => self.plain(&decoded),
            Exchange::LoginUsername => self.login_username(decoded),
            Exchange::LoginPassword(username) => match sasl::login_field(decoded) {
                Some(password) => self.credentials(
                    "LOGIN",
                    Credentials {
                        authzid: None,
                        username,
                        password: Secret::new(password),
                    },
                ),
                None => self.reject(Verb::Auth, &r::AUTH_FAILED),
            },
            Exchange::Raw(mechanism) => self.raw_step(mechanism, Some(decoded)),
        }
        true
    }

    /// Anything decodable that is not a valid PLAIN message is a failed login (so `=`,
    /// the empty message, gets `535`); only undecodable base64 is a `501`.
    fn plain(&mut self, message: &[u8]) {
        match sasl::parse_plain(message) {
            Some(credentials) => self.credentials("PLAIN", credentials),
            None => self.reject(Verb::Auth, &r::AUTH_FAILED),
        }
    }

    fn login_username(&mut self, decoded: Vec<u8>) {
        match sasl::login_field(decoded) {
            Some(username) => self.send_sasl_challenge(
                Exchange::LoginPassword(username),
                sasl::LOGIN_PASSWORD_CHALLENGE,
            ),
            None => self.reject(Verb::Auth, &r::AUTH_FAILED),
        }
    }

    fn credentials(&mut self, mechanism: &str, credentials: Credentials) {
        let mechanism = mechanism.to_owned();
        self.await_decision(
            Awaited::Auth(Step::Credentials),
            PendingKind::Auth,
            |pending| Event::Auth {
                pending,
                mechanism,
                data: AuthData::Credentials(Box::new(credentials)),
            },
        );
    }

    fn raw_step(&mut self, mechanism: String, response: Option<Vec<u8>>) {
        let awaited = Awaited::Auth(Step::Raw(mechanism.clone()));
        self.await_decision(awaited, PendingKind::Auth, |pending| Event::Auth {
            pending,
            mechanism,
            data: AuthData::Response(response.map(Secret::new)),
        });
    }

    /// Queues `334 <challenge>` (no enhanced code on 3xx, RFC 2034 §3) and waits for the
    /// client's line.
    fn send_sasl_challenge(&mut self, next: Exchange, challenge: &str) {
        encode_lines(334, None, std::iter::once(challenge), &mut self.output);
        self.enter(Phase::Sasl(next));
    }

    /// The application's `challenge` for a raw mechanism.
    pub(super) fn send_challenge(&mut self, mechanism: String, data: &[u8]) {
        if self.check_sync(Verb::Auth) {
            let encoded = sasl::encode_challenge(data);
            self.send_sasl_challenge(Exchange::Raw(mechanism), &encoded);
        }
    }

    /// The application's verdict on an AUTH step.
    pub(super) fn finish_auth(&mut self, reply: Option<Reply>) {
        match reply {
            Some(reply) if !reply.is_positive() => {
                // Failed logins count towards the error limit (brute force).
                self.reject(Verb::Auth, &reply);
            }
            reply => {
                if self.finish_command(Verb::Auth, reply.as_ref().unwrap_or(&r::AUTH_OK), false) {
                    self.session.authenticated = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Instant;

    use crate::{Server, ServerConfig};

    /// The reply to `AUTH PLAIN` after EHLO on a fresh session of `config`.
    fn auth_reply(config: ServerConfig) -> String {
        #[allow(clippy::disallowed_methods)]
        let now = Instant::now();
        let mut server = Server::new(Arc::new(config), now);
        let mut out = Vec::new();
        let _ = server.poll_transmit(&mut out); // the greeting
        for line in [&b"EHLO c.example\r\n"[..], b"AUTH PLAIN\r\n"] {
            let _ = server.handle_input(now, line);
            while let Some(event) = server.poll_event() {
                if let Some(pending) = event.into_pending() {
                    let _ = server.accept(now, pending);
                }
            }
            let _ = server.poll_transmit(&mut out);
        }
        let text = String::from_utf8_lossy(&out).into_owned();
        text.lines().last().unwrap_or_default().to_owned()
    }

    /// AUTH before TLS where no STARTTLS is on offer points to the TLS port; AUTH on a
    /// server without mechanisms says it is not offered.
    #[test]
    fn auth_refusals_say_what_to_do() {
        let mut config = ServerConfig::new("mx.example");
        config.extensions.auth_mechanisms = vec!["PLAIN".to_owned()];
        assert_eq!(
            auth_reply(config),
            "538 5.7.11 Encryption required for requested authentication mechanism: \
             AUTH is offered only over TLS, use this server's TLS port"
        );
        assert_eq!(
            auth_reply(ServerConfig::new("mx.example")),
            "502 5.5.1 Error: AUTH is not offered by this server, send MAIL without it"
        );
    }
}
