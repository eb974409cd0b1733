//! Errors: only for a caller misusing the API or configuring a server wrongly. Client
//! misbehaviour is an SMTP reply.

/// Why a [`ServerConfig`](crate::ServerConfig) cannot be served: its host name or
/// greeting would put something other than one line of a 220 reply on the wire. See
/// [`ServerConfig::validate`](crate::ServerConfig::validate).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ServerConfigError {
    /// The host name is not an ASCII domain or address literal (RFC 5321 §4.1.2, §4.1.3).
    #[error(
        "host name {hostname:?} is not a domain or an address literal ({reason}): give the server's name, like mx.example or [192.0.2.1]"
    )]
    InvalidHostname {
        /// The name given.
        hostname: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The greeting text holds a control character or a non-ASCII octet, or is longer
    /// than [`MAX_GREETING`](crate::ServerConfig::MAX_GREETING) octets.
    #[error(
        "greeting {greeting:?} is not one line of printable ASCII of at most {max} octets: give text like \"ESMTP\"",
        max = crate::ServerConfig::MAX_GREETING
    )]
    InvalidGreeting {
        /// The greeting given.
        greeting: String,
    },
}

/// The caller broke the API contract.
///
/// [`NotPending`](Self::NotPending) and the TLS variants leave the session unchanged. A
/// wrong answer to a decision the session is waiting for (a reply of the wrong class, a
/// wrong LMTP reply count, a challenge outside SASL) spends the token: the client is answered
/// `451 4.3.0`, then the error reports the bug.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApiMisuse {
    /// `handle_input` was called between `Event::StartTls` and `handle_tls_established`:
    /// the bytes belong to the TLS handshake, not to SMTP.
    #[error("input supplied during the TLS handshake")]
    InputDuringTlsHandshake,
    /// `handle_tls_established` was called when no handshake was expected (no STARTTLS, TLS
    /// already active, or plaintext already received on an implicit-TLS connection).
    #[error("no TLS handshake is in progress")]
    NoTlsHandshake,
    /// The token does not belong to the decision this session is waiting for (answered
    /// twice, or from another session).
    #[error("answer supplied for a command that is not pending")]
    NotPending,
    /// The reply's code does not fit the command: a positive reply must be 2xx (3xx for
    /// DATA, 334 through `challenge` for AUTH).
    #[error("reply code {0} is not allowed for this command")]
    InvalidReplyForCommand(u16),
    /// `challenge` was used for a command that is not a raw SASL exchange.
    #[error("challenge supplied for a command that is not a raw SASL exchange")]
    NotASaslExchange,
    /// `respond_each` was given a number of replies other than the number of accepted
    /// recipients.
    #[error("{given} replies given for {expected} recipients")]
    WrongReplyCount {
        /// Accepted recipients of the transaction.
        expected: usize,
        /// Replies given.
        given: usize,
    },
    /// The client session is over: nothing more can be queued or sent.
    #[error("the client session is closed")]
    ClientClosed,
    /// A transaction was queued without a recipient.
    #[error("a transaction needs at least one recipient")]
    NoRecipients,
    /// Content was given when the client did not ask for it (`ClientEvent::BodyWanted`).
    #[error("content given when none was asked for")]
    BodyNotWanted,
    /// An AUTH response was given when no challenge was outstanding.
    #[error("AUTH response given with no challenge outstanding")]
    NoAuthChallenge,
}
