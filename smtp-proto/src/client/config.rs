//! Client configuration. Every default cites the RFC or the Postfix parameter it comes
//! from (manual::client has the table).

use std::time::Duration;

use crate::codec::address::{Domain, parse_hello_domain};
use crate::codec::ehlo::AuthMechanism;
use crate::codec::reply::ReplyLimits;
use crate::config::Protocol;
use crate::secret::Secret;

use super::ConfigError;

/// When the client uses TLS (RFC 3207, RFC 8314).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TlsPolicy {
    /// Never STARTTLS, even when offered (CTLS-01).
    None,
    /// STARTTLS when the server offers it; plaintext when it does not or refuses it with
    /// `454` (CTLS-07). The certificate is not verified (CTLS-09: encryption only, as
    /// Postfix `smtp_tls_security_level = may`), so REQUIRETLS mail is not sent over it.
    #[default]
    Opportunistic,
    /// STARTTLS is mandatory: a server that does not offer it, or refuses it, gets QUIT and
    /// every message is deferred with `4.7.x` (CTLS-07). Postfix `encrypt`/`verify`.
    Required,
    /// TLS from the first byte (RFC 8314, port 465): the adapter starts the handshake
    /// before the greeting; STARTTLS is never sent.
    Implicit,
}

/// How long the client waits for each reply (RFC 5321 §4.5.3.2; Postfix's `smtp_*_timeout`
/// defaults). A deadline runs from the moment the command's last byte was handed out, or
/// from the previous reply of a pipelined group.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientTimeouts {
    /// The greeting: 5 minutes (§4.5.3.2.1).
    pub greeting: Duration,
    /// The reply to EHLO, HELO or LHLO: 5 minutes (`smtp_helo_timeout`).
    pub hello: Duration,
    /// The reply to STARTTLS and the handshake: 5 minutes (`smtp_starttls_timeout`).
    pub starttls: Duration,
    /// Each AUTH step: 5 minutes.
    pub auth: Duration,
    /// The reply to MAIL: 5 minutes (§4.5.3.2.2).
    pub mail: Duration,
    /// The reply to RCPT: 5 minutes (§4.5.3.2.3).
    pub rcpt: Duration,
    /// The `354` after DATA: 2 minutes (§4.5.3.2.4).
    pub data_init: Duration,
    /// Each write of content: 3 minutes (§4.5.3.2.5).
    pub data_block: Duration,
    /// The reply after the end of data or a `BDAT`: 10 minutes (§4.5.3.2.6).
    pub data_done: Duration,
    /// The reply to RSET: 20 seconds (`smtp_rset_timeout`).
    pub rset: Duration,
    /// The reply to QUIT: 5 seconds, then the client closes anyway (*choice*: Postfix does
    /// not wait at all; a short wait lets the server log a clean QUIT).
    pub quit: Duration,
}

impl Default for ClientTimeouts {
    fn default() -> Self {
        let minutes = |m: u64| Duration::from_secs(60 * m);
        Self {
            greeting: minutes(5),
            hello: minutes(5),
            starttls: minutes(5),
            auth: minutes(5),
            mail: minutes(5),
            rcpt: minutes(5),
            data_init: minutes(2),
            data_block: minutes(3),
            data_done: minutes(10),
            rset: Duration::from_secs(20),
            quit: Duration::from_secs(5),
        }
    }
}

/// What the client authenticates with (RFC 4954).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientAuth {
    /// A user name and password, for PLAIN (RFC 4616) and LOGIN. Neither may hold NUL,
    /// CR or LF (AUTH-14).
    Password {
        /// The identity to act as, if any (PLAIN's authzid).
        authzid: Option<String>,
        /// The user name.
        username: String,
        /// The password; never printed.
        password: Secret<String>,
    },
    /// An OAuth 2.0 bearer token, for XOAUTH2 (AUTH-07).
    OAuth2 {
        /// The user's address.
        username: String,
        /// The access token; never printed.
        token: Secret<String>,
    },
    /// Any other mechanism: the application runs the exchange through
    /// `ClientEvent::AuthChallenge` and `Client::respond_auth`.
    Sasl {
        /// The mechanism's name, as advertised.
        mechanism: String,
        /// The initial response, if the mechanism has one.
        initial: Option<Secret<Vec<u8>>>,
    },
}

impl ClientAuth {
    /// Password credentials.
    pub fn password(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self::Password {
            authzid: None,
            username: username.into(),
            password: Secret::new(password.into()),
        }
    }

    /// The mechanisms these credentials can use, in the order the client prefers them:
    /// PLAIN before LOGIN (one round trip, RFC 4954 §4 initial response).
    pub fn mechanisms(&self) -> Vec<AuthMechanism> {
        match self {
            Self::Password { .. } => vec![AuthMechanism::Plain, AuthMechanism::Login],
            Self::OAuth2 { .. } => vec![AuthMechanism::from_name("XOAUTH2")],
            Self::Sasl { mechanism, .. } => vec![AuthMechanism::from_name(mechanism)],
        }
    }

    /// Refuses credentials that cannot go on the wire (AUTH-14): NUL, CR or LF in a field.
    fn check(&self) -> Result<(), ConfigError> {
        let bad = |s: &str| s.bytes().any(|b| b == 0 || b == b'\r' || b == b'\n');
        let fields: Vec<&str> = match self {
            Self::Password {
                authzid,
                username,
                password,
            } => vec![
                authzid.as_deref().unwrap_or(""),
                username,
                password.expose(),
            ],
            Self::OAuth2 { username, token } => vec![username, token.expose()],
            Self::Sasl { mechanism, .. } => {
                let name_ok = !mechanism.is_empty()
                    && mechanism.len() <= 20
                    && mechanism.bytes().all(|b| {
                        b.is_ascii_uppercase() || b.is_ascii_digit() || b"-_".contains(&b)
                    });
                if !name_ok {
                    return Err(ConfigError::BadMechanism(mechanism.clone()));
                }
                Vec::new()
            }
        };
        if fields.into_iter().any(bad) {
            return Err(ConfigError::BadCredentials);
        }
        Ok(())
    }
}

/// How the client sends message content.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Chunking {
    /// DATA, unless the message is binary (BINARYMIME needs BDAT). Postfix's client never
    /// sends BDAT (BDAT-07).
    #[default]
    Never,
    /// BDAT whenever the server offers CHUNKING, in chunks of this many octets.
    WhenOffered(usize),
}

/// Everything that shapes a client session. Build one and share it with `Arc`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientConfig {
    /// The EHLO argument: a domain name or an address literal (EHLO-07).
    pub hello_name: Domain,
    /// SMTP, or LMTP (LHLO, one reply per recipient after the content).
    pub protocol: Protocol,
    /// When to use TLS.
    pub tls: TlsPolicy,
    /// Credentials, if the client should authenticate.
    pub auth: Option<ClientAuth>,
    /// Whether a server that offers none of the credentials' mechanisms is an error
    /// (every message deferred) or the session goes on unauthenticated. Default: error.
    pub auth_required: bool,
    /// Whether credentials may be sent on a session without TLS (CTLS-13). Default: no —
    /// PLAIN, LOGIN and XOAUTH2 would put them on the wire in clear; the session then ends
    /// with `CloseReason::AuthNeedsTls` (or goes on unauthenticated when AUTH is not
    /// required).
    pub auth_over_plaintext: bool,
    /// DATA or BDAT.
    pub chunking: Chunking,
    /// The most command octets sent and not yet answered under PIPELINING: 4,096
    /// (Postfix's buffer), so neither side can block on full buffers (RFC 2920 §3.1).
    pub pipelining_window: usize,
    /// The most BDAT chunks sent and not yet answered: 4.
    pub bdat_window: usize,
    /// The most recipients per transaction; more are split into several transactions
    /// (RCPT-05). Default 1,000; the server's `LIMITS RCPTMAX` lowers it.
    pub max_recipients: usize,
    /// The longest content line allowed, without its CR LF: 998 (RFC 5321 §4.5.3.1.6).
    /// A longer line stops the message (BODY-08); BINARYMIME content is not checked.
    pub max_line_length: u64,
    /// Bounds on the replies kept in memory (REP-15, REP-16).
    pub reply_limits: ReplyLimits,
    /// Reply deadlines.
    pub timeouts: ClientTimeouts,
}

impl ClientConfig {
    /// A configuration that greets with `hello_name` (a domain, or an address literal
    /// such as `[192.0.2.1]`), with opportunistic TLS and every other default.
    ///
    /// # Errors
    ///
    /// [`ConfigError::BadHelloName`] when `hello_name` is neither (INJ-07).
    ///
    /// ```
    /// use smtp_proto::client::ClientConfig;
    /// assert!(ClientConfig::new("client.example").is_ok());
    /// assert!(ClientConfig::new("[192.0.2.1]").is_ok());
    /// assert!(ClientConfig::new("host name").is_err());
    /// assert!(ClientConfig::new("a\r\nMAIL FROM:<x>").is_err());
    /// ```
    pub fn new(hello_name: &str) -> Result<Self, ConfigError> {
        let hello_name = parse_hello_domain(hello_name.as_bytes())
            .map_err(|e| ConfigError::BadHelloName(e.description()))?;
        Ok(Self {
            hello_name,
            protocol: Protocol::Smtp,
            tls: TlsPolicy::default(),
            auth: None,
            auth_required: true,
            auth_over_plaintext: false,
            chunking: Chunking::default(),
            pipelining_window: 4096,
            bdat_window: 4,
            max_recipients: 1000,
            max_line_length: 998,
            reply_limits: ReplyLimits::default(),
            timeouts: ClientTimeouts::default(),
        })
    }

    /// Checks what the client would otherwise find out too late.
    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        if let Some(auth) = &self.auth {
            auth.check()?;
        }
        if let Chunking::WhenOffered(0) = self.chunking {
            return Err(ConfigError::ZeroChunk);
        }
        Ok(())
    }
}
