//! AUTH on the client side (RFC 4954; manual::client): PLAIN, LOGIN, XOAUTH2, and a
//! raw exchange for any other mechanism. Every line is base64 on one line (AUTH-13), so no
//! credential byte can reach the wire as a command.

use std::time::Instant;

use crate::codec::ehlo::AuthMechanism;
use crate::codec::reply::ParsedReply;
use crate::codec::sasl::{decode_response, encode_challenge};
use crate::secret::Secret;

use super::{Client, ClientAuth, ClientEvent, CloseReason, Kind, Outcome, Phase, Stage};

/// The longest AUTH command line with an initial response (RFC 4954 §4: 512 octets with
/// CR LF); a longer one goes after an empty `334` instead (AUTH-03).
const MAX_INITIAL_LINE: usize = 512;

/// Which exchange runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Exchange {
    Plain,
    Login,
    XOAuth2,
    Sasl,
}

/// Where an AUTH exchange is.
#[derive(Debug, Default)]
pub(super) struct AuthState {
    exchange: Option<Exchange>,
    /// The mechanism's name, for the session facts.
    name: String,
    /// `334` challenges answered so far.
    step: u32,
    /// A payload held back because the line would have been too long (AUTH-03).
    held: Option<Secret<Vec<u8>>>,
    /// A raw challenge went to the application and is not answered yet.
    outstanding: bool,
}

impl AuthState {
    /// Whether the application owes an answer to [`ClientEvent::AuthChallenge`].
    pub(super) fn challenge_outstanding(&self) -> bool {
        self.outstanding
    }

    /// The application answered.
    pub(super) fn answered(&mut self) {
        self.outstanding = false;
    }
}

/// A response line: base64 of `response`, `=` for empty is not used here (an empty line
/// is the empty response after a challenge, RFC 4954 §4), or `*` to cancel.
pub(super) fn response_line(response: Option<&[u8]>) -> Vec<u8> {
    match response {
        Some(data) => {
            let mut line = encode_challenge(data).into_bytes();
            line.extend_from_slice(b"\r\n");
            line
        }
        None => b"*\r\n".to_vec(),
    }
}

impl Client {
    /// AUTH-01: the first of the credentials' mechanisms the server offers; none, and no
    /// credentials needed, means the session is ready without AUTH.
    pub(super) fn start_auth(&mut self, now: Instant) {
        let config = self.config.clone();
        let Some(auth) = &config.auth else {
            self.ready(now);
            return;
        };
        if self.tls.is_none() && !config.auth_over_plaintext {
            // CTLS-13: no credentials in clear unless the configuration says so.
            if config.auth_required {
                let outcome = Outcome::local(
                    451,
                    "4.7.11 AUTH needs TLS, and the session is not encrypted",
                    Stage::Session,
                );
                self.end_session(now, &outcome, CloseReason::AuthNeedsTls);
            } else {
                self.ready(now);
            }
            return;
        }
        let offered = self.caps.auth();
        let Some(mechanism) = auth.mechanisms().into_iter().find(|m| offered.contains(m)) else {
            self.auth_failed(now, None);
            return;
        };
        let (exchange, payload) = match (auth, &mechanism) {
            (
                ClientAuth::Password {
                    authzid,
                    username,
                    password,
                },
                AuthMechanism::Plain,
            ) => {
                let mut message = authzid.clone().unwrap_or_default().into_bytes();
                message.push(0);
                message.extend_from_slice(username.as_bytes());
                message.push(0);
                message.extend_from_slice(password.expose().as_bytes());
                (Exchange::Plain, Some(message))
            }
            (ClientAuth::Password { .. }, _) => (Exchange::Login, None),
            (ClientAuth::OAuth2 { username, token }, _) => {
                let message = format!("user={username}\x01auth=Bearer {}\x01\x01", token.expose());
                (Exchange::XOAuth2, Some(message.into_bytes()))
            }
            (ClientAuth::Sasl { initial, .. }, _) => {
                (Exchange::Sasl, initial.as_ref().map(|i| i.expose().clone()))
            }
        };
        let name = mechanism.name().to_owned();
        let mut line = format!("AUTH {name}").into_bytes();
        let mut held = None;
        if let Some(payload) = payload {
            let encoded = if payload.is_empty() {
                "=".to_owned() // AUTH-04
            } else {
                encode_challenge(&payload)
            };
            if line.len() + 1 + encoded.len() + 2 <= MAX_INITIAL_LINE {
                line.push(b' ');
                line.extend_from_slice(encoded.as_bytes());
            } else {
                held = Some(Secret::new(payload));
            }
        }
        line.extend_from_slice(b"\r\n");
        self.auth = AuthState {
            exchange: Some(exchange),
            name,
            step: 0,
            held,
            outstanding: false,
        };
        self.phase = Phase::Auth;
        self.push(Kind::Auth, line);
    }

    /// A reply during AUTH: `235` done, `334` the next step, anything else a failure.
    pub(super) fn on_auth(&mut self, now: Instant, reply: ParsedReply) {
        if reply.code() == 235 {
            // AUTH-12: no second AUTH, no new EHLO (no security layer).
            self.authenticated = Some(std::mem::take(&mut self.auth.name));
            self.auth = AuthState::default();
            self.ready(now);
            return;
        }
        if reply.code() != 334 {
            // AUTH-10, AUTH-11 (and the 501 after a cancel, AUTH-09).
            self.auth_failed(now, Some(reply));
            return;
        }
        self.auth.step += 1;
        let text = reply
            .lines()
            .first()
            .map(|l| l.raw_text())
            .unwrap_or_default();
        let Some(challenge) = decode_response(text) else {
            // AUTH-09: not base64. Cancel; the server answers 501.
            self.push(Kind::Auth, response_line(None));
            return;
        };
        let config = self.config.clone();
        let line = match (self.auth.exchange, &config.auth) {
            (Some(Exchange::Plain | Exchange::XOAuth2), _) if self.auth.held.is_some() => {
                let held = self
                    .auth
                    .held
                    .take()
                    .map(Secret::into_inner)
                    .unwrap_or_default();
                response_line(Some(&held))
            }
            // AUTH-08: the error details come as a challenge; an empty line ends it.
            (Some(Exchange::XOAuth2), _) => b"\r\n".to_vec(),
            // AUTH-06: by step, whatever the prompt says.
            (
                Some(Exchange::Login),
                Some(ClientAuth::Password {
                    username, password, ..
                }),
            ) => match self.auth.step {
                1 => response_line(Some(username.as_bytes())),
                2 => response_line(Some(password.expose().as_bytes())),
                _ => response_line(None),
            },
            (Some(Exchange::Sasl), _) => {
                self.auth.outstanding = true;
                self.events.push_back(ClientEvent::AuthChallenge(challenge));
                return;
            }
            _ => response_line(None),
        };
        self.push(Kind::Auth, line);
    }

    /// AUTH-01, AUTH-10: without a working AUTH the session ends (every message deferred,
    /// Postfix `smtp_sasl_auth_soft_bounce`), unless AUTH is optional.
    fn auth_failed(&mut self, now: Instant, reply: Option<ParsedReply>) {
        self.auth = AuthState::default();
        if !self.config.auth_required {
            self.ready(now);
            return;
        }
        let outcome = match &reply {
            Some(reply) => Outcome::from_reply(reply.clone(), Stage::Session),
            None => Outcome::local(
                451,
                "4.7.0 the server offers none of the configured AUTH mechanisms",
                Stage::Session,
            ),
        };
        self.end_session(now, &outcome, CloseReason::AuthFailed(reply));
    }
}
