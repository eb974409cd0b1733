//! What the client tells the application: events, and the results they carry.

use crate::codec::ehlo::Capabilities;
use crate::codec::reply::ParsedReply;
use crate::server::TlsInfo;
use crate::{ForwardPath, ReversePath};

/// Identifies one transaction queued with [`Client::send`](super::Client::send).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransactionId(pub(crate) u64);

impl TransactionId {
    /// The number: transactions of one client count from 0 in the order queued.
    pub fn number(self) -> u64 {
        self.0
    }
}

/// The command a reply answered: what a bounce quotes ("in reply to RCPT TO").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stage {
    /// The connection itself: greeting, EHLO, STARTTLS, AUTH, or a failure between
    /// commands.
    Session,
    /// MAIL FROM.
    Mail,
    /// RCPT TO.
    Rcpt,
    /// DATA (the `354`, or its refusal).
    Data,
    /// The end of the content: the reply after `.`, or after `BDAT … LAST`.
    EndOfData,
    /// A BDAT chunk before the last.
    Bdat,
}

impl Stage {
    /// The command's name, as a bounce would quote it.
    pub fn command(self) -> &'static str {
        match self {
            Self::Session => "connection",
            Self::Mail => "MAIL FROM",
            Self::Rcpt => "RCPT TO",
            Self::Data => "DATA",
            Self::EndOfData => "end of data",
            Self::Bdat => "BDAT",
        }
    }
}

/// The verdict on one recipient.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// The server took responsibility for the message (2xx at the end of data).
    Delivered,
    /// A permanent failure (5xx): bounce.
    Rejected,
    /// A temporary failure (4xx, or the connection ended first): retry later.
    Deferred,
}

/// What happened to one recipient, with the reply that decided it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Delivered, rejected or deferred.
    pub verdict: Verdict,
    /// The deciding reply: the server's, or one the client made up (see `local`).
    pub reply: ParsedReply,
    /// The command the reply answered.
    pub stage: Stage,
    /// The reply was made up by the client (nothing was sent, or the connection ended
    /// before the server answered).
    pub local: bool,
    /// The connection ended while the end-of-data reply was awaited: the server may have
    /// taken the message, so a retry may deliver it twice (TMO-02, RFC 1047).
    pub maybe_delivered: bool,
}

impl Outcome {
    /// The verdict a server reply means at `stage`: 2xx delivered only at the end of
    /// data, 4xx deferred, 5xx rejected. `452`/`552` to RCPT is a recipient limit: deferred
    /// (RCPT-02, RCPT-03).
    pub(crate) fn from_reply(reply: ParsedReply, stage: Stage) -> Self {
        let limit = stage == Stage::Rcpt && matches!(reply.code(), 452 | 552);
        let verdict = if reply.is_positive() {
            Verdict::Delivered
        } else if reply.is_permanent() && !limit {
            Verdict::Rejected
        } else {
            Verdict::Deferred
        };
        Self {
            verdict,
            reply,
            stage,
            local: false,
            maybe_delivered: false,
        }
    }

    /// A verdict the client made itself, with a reply of `code` and `text`.
    pub(crate) fn local(code: u16, text: &str, stage: Stage) -> Self {
        let mut outcome = Self::from_reply(ParsedReply::local(code, text), stage);
        outcome.local = true;
        outcome
    }
}

/// The result of one recipient of a transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecipientResult {
    /// The recipient, as queued.
    pub recipient: ForwardPath,
    /// What happened to it.
    pub outcome: Outcome,
}

/// The result of one transaction: one entry per recipient, in the order queued.
/// Partial success (some delivered, some not) is a normal result, not an error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransactionReport {
    /// Which transaction.
    pub id: TransactionId,
    /// The reverse-path it was sent with.
    pub from: ReversePath,
    /// Per recipient, in queue order.
    pub recipients: Vec<RecipientResult>,
    /// Whether DSN parameters were sent (`false` when the job had some but the server
    /// did not offer DSN: a relay then owes a "relayed" notice, DSN-02).
    pub dsn_sent: bool,
}

impl TransactionReport {
    /// Recipients that were delivered.
    pub fn delivered(&self) -> impl Iterator<Item = &RecipientResult> {
        self.with(Verdict::Delivered)
    }

    /// Recipients with this verdict.
    pub fn with(&self, verdict: Verdict) -> impl Iterator<Item = &RecipientResult> {
        self.recipients
            .iter()
            .filter(move |r| r.outcome.verdict == verdict)
    }

    /// Recipients deferred at RCPT for a recipient limit (`452`/`552`, or the client's own
    /// split at LIMITS RCPTMAX): they belong in another transaction (RCPT-02, RCPT-05).
    pub fn limited_recipients(&self) -> Vec<ForwardPath> {
        self.recipients
            .iter()
            .filter(|r| {
                r.outcome.verdict == Verdict::Deferred
                    && r.outcome.stage == Stage::Rcpt
                    && matches!(r.outcome.reply.code(), 452 | 552)
            })
            .map(|r| r.recipient.clone())
            .collect()
    }

    /// Takes the results of `retry` (a later transaction for some of these recipients)
    /// in place of this report's.
    pub fn merge(&mut self, retry: Self) {
        for result in retry.recipients {
            if let Some(slot) = self
                .recipients
                .iter_mut()
                .find(|r| r.recipient == result.recipient)
            {
                *slot = result;
            }
        }
        self.dsn_sent |= retry.dsn_sent;
    }

    /// Whether every recipient was delivered.
    pub fn all_delivered(&self) -> bool {
        self.recipients
            .iter()
            .all(|r| r.outcome.verdict == Verdict::Delivered)
    }
}

/// The facts of an established session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionInfo {
    /// The server's greeting.
    pub greeting: ParsedReply,
    /// The capabilities of the last EHLO/LHLO (empty after a HELO fallback).
    pub capabilities: Capabilities,
    /// Whether the session fell back to HELO (EHLO-02: 7-bit, no extensions).
    pub helo_fallback: bool,
    /// The TLS session, if any.
    pub tls: Option<TlsInfo>,
    /// The mechanism the client authenticated with, if it did.
    pub authenticated: Option<String>,
}

/// Why the session ended.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// QUIT was sent, and answered or not (END-03).
    Quit,
    /// The server refused service: a 4xx/5xx greeting, or EHLO and HELO both refused.
    /// The caller tries the next host (GRT-04, EHLO-03).
    Refused(ParsedReply),
    /// `421` (END-01).
    ServiceClosing(ParsedReply),
    /// STARTTLS was required and not available, or the handshake failed.
    TlsUnavailable,
    /// AUTH failed or no common mechanism (AUTH-01, AUTH-10).
    AuthFailed(Option<ParsedReply>),
    /// AUTH was configured, the session has no TLS, and credentials may not go in clear
    /// (CTLS-13).
    AuthNeedsTls,
    /// The server broke the reply grammar or sent a reply nobody asked for (REP-06,
    /// REP-10, REP-11, REP-18, CTLS-04).
    ProtocolError(String),
    /// No reply by the deadline (TMO-01).
    Timeout,
    /// The connection ended without QUIT (END-02).
    ConnectionLost,
    /// RSET after a failed transaction was refused: the connection is not reused (PIPE-16).
    CannotReset,
    /// The application closed the connection (`Client::abort`, a stop request), or
    /// content could not be sent as given (PIPE-11, BODY-08..10).
    Aborted,
}

/// What the client machine tells the application.
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientEvent {
    /// One reply was read, with the command it answered: a protocol log (the `send`
    /// example prints these).
    Reply {
        /// The command's stage.
        stage: Stage,
        /// The command's verb (`EHLO`, `MAIL`, `RCPT`, `DATA`, `.`, `BDAT`, …).
        command: &'static str,
        /// The reply.
        reply: ParsedReply,
    },
    /// The session is set up (greeting, EHLO, TLS, AUTH done): transactions can run.
    Ready(Box<SessionInfo>),
    /// STARTTLS was accepted: the connection starts the handshake now.
    StartTls,
    /// The TLS handshake finished (after STARTTLS, or first of all under implicit TLS):
    /// its facts, at the moment they became known (a load generator times the handshake
    /// with it).
    TlsEstablished(TlsInfo),
    /// The server sent an AUTH challenge for a [`ClientAuth::Sasl`](super::ClientAuth::Sasl)
    /// mechanism: answer it with `Client::respond_auth`.
    AuthChallenge(Vec<u8>),
    /// The server is ready for this transaction's content: give it with
    /// `Client::send_body` and end it with `Client::end_body`. Asked again each time the
    /// previous piece has left, so memory stays flat.
    BodyWanted(TransactionId),
    /// A transaction is over: per-recipient results.
    TransactionDone(TransactionReport),
    /// Every queued transaction is done and the session is idle: queue more, or `quit`.
    Idle,
    /// The session ended. Every transaction still queued was reported first.
    Closed(CloseReason),
}
