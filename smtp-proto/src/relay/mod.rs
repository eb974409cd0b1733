//! A relay's outbound queue as a sans-IO state machine: routing, retries, connection
//! scheduling and delivery status notifications, with no socket, no clock and no DNS inside.
//!
//! The relay program around it receives mail with the [`Server`](crate::Server), spools each
//! message durably, and hands it to a [`Queue`]. The queue answers with [`Action`]s — resolve
//! this domain, open a connection to this destination, send this transaction on that
//! connection, write this bounce, remove this spool file — and the program reports back what
//! happened (DNS answers, connection results, per-recipient outcomes). Time enters only as
//! the `now` argument of every input, so tests run five days of retries in microseconds.
//!
//! ```text
//!   enqueue ──►┐                                  ┌──► Action::Resolve   ──► mx_resolved
//!   now ──────►│  Queue (messages, destinations,  ├──► Action::Connect   ──► connected / connect_failed
//!              │   connections, retry times)      ├──► Action::Send      ──► transaction_done
//!              │                                  ├──► Action::Close     ──► closed
//!              └──── poll_timeout ◄───────────────┴──► Action::Notify / Action::Remove
//! ```
//!
//! * [`route`]: the next hop — a smart host or MX records (RFC 5321 §5.1, RFC 7505 null MX),
//!   turned into an ordered candidate list by a pure function.
//! * [`Attempt`]: one connection attempt's walk over candidate hosts and addresses, and what
//!   its failures mean (try the next MX, defer, or bounce).
//! * [`Queue`]: the scheduler (Postfix's back-off, destination grouping before dispatch,
//!   per-destination concurrency, messages per connection, connection reuse).
//! * [`dsn`]: RFC 3464 delivery status notifications.
//! * [`spool`]: the queue file format (envelope, then content) and its progress records.
//!
//! The rules and their sources are in the repository's relay rule table (IDs `RT-*`, `MX-*`,
//! `NMX-*`, `Q-*`, `DSP-*`, `SPL-*`, `DSN-*`, `PT-*`, `RCV-*`); tests cite them.

mod attempt;
pub mod dsn;
mod queue;
mod rng;
pub mod route;
pub mod spool;

use std::fmt;

pub use attempt::{Attempt, BadAddresses, Step};
pub use queue::{
    Action, ConnId, EnqueueError, Job, Message, Notice, NoticeAction, NoticeRecipient, Queue,
    QueueConfig, QueueStats, RecipientResult,
};
pub use route::{AddrAnswer, Destination, MxAnswer, MxRecord, NextHop, Route};

use crate::EnhancedCode;
use crate::codec::reply::ParsedReply;

/// A message's queue identifier: unique, never reused, and safe as a file name (ASCII
/// letters and digits only, 1 to 64 of them; SPL-09).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueueId(String);

impl QueueId {
    /// Accepts 1 to 64 ASCII alphanumerics; `None` otherwise.
    pub fn new(id: impl Into<String>) -> Option<Self> {
        let id = id.into();
        let valid =
            !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric());
        valid.then_some(Self(id))
    }

    /// An identifier from a wall-clock time in nanoseconds since the Unix epoch and a
    /// per-process sequence number: distinct for distinct inputs, sortable by time.
    pub fn from_parts(unix_nanos: u128, sequence: u64) -> Self {
        Self(format!("{unix_nanos:X}S{sequence:X}"))
    }

    /// The identifier's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for QueueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a recipient was deferred or failed: the deciding reply (the next hop's, or one the
/// relay made up, such as a DNS failure) and its RFC 3463 status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnosis {
    /// The reply. For a local decision, a reply built with [`ParsedReply::local`].
    pub reply: ParsedReply,
    /// The enhanced status: the reply's own, or `class.0.0` from the reply code.
    pub status: EnhancedCode,
    /// The next hop that gave the reply (`Remote-MTA`), when one did.
    pub remote_mta: Option<String>,
}

impl Diagnosis {
    /// A diagnosis the relay decides itself (no remote reply).
    pub fn local(code: u16, status: EnhancedCode, text: &str) -> Self {
        Self {
            reply: ParsedReply::local(code, text),
            status,
            remote_mta: None,
        }
    }

    /// The diagnosis a next hop's reply gives.
    pub fn remote(reply: ParsedReply, remote_mta: impl Into<String>) -> Self {
        let status = reply
            .enhanced()
            .unwrap_or_else(|| class_status(reply.code()));
        Self {
            reply,
            status,
            remote_mta: Some(remote_mta.into()),
        }
    }

    /// `true` for a permanent failure (5xx): bounce, do not retry.
    pub fn is_permanent(&self) -> bool {
        self.status.class() == 5
    }

    /// The reply as one line, `code enhanced-code text`, with controls removed (DSN-04).
    pub fn line(&self) -> String {
        match self.reply.enhanced() {
            Some(enhanced) => format!(
                "{} {enhanced} {}",
                self.reply.code(),
                self.reply.sanitized_text()
            ),
            None => format!("{} {}", self.reply.code(), self.reply.sanitized_text()),
        }
    }
}

/// `2.0.0`, `4.0.0` or `5.0.0` for a reply code of that class.
fn class_status(code: u16) -> EnhancedCode {
    match code / 100 {
        2 => EnhancedCode::known(2, 0, 0),
        5 => EnhancedCode::known(5, 0, 0),
        _ => EnhancedCode::known(4, 0, 0),
    }
}

/// Status codes the relay decides itself (RFC 3463).
pub(crate) mod status {
    use crate::EnhancedCode;

    /// 5.1.2: bad destination system address (NXDOMAIN, no host).
    pub(crate) const BAD_DESTINATION: EnhancedCode = EnhancedCode::known(5, 1, 2);
    /// 5.1.3: bad destination mailbox address syntax.
    pub(crate) const BAD_MAILBOX: EnhancedCode = EnhancedCode::known(5, 1, 3);
    /// 5.1.10: recipient address has null MX (RFC 7505).
    pub(crate) const NULL_MX: EnhancedCode = EnhancedCode::known(5, 1, 10);
    /// 4.4.1: no answer from host.
    pub(crate) const NO_ANSWER: EnhancedCode = EnhancedCode::known(4, 4, 1);
    /// 4.4.3: directory server failure (temporary DNS error).
    pub(crate) const DNS_TEMPORARY: EnhancedCode = EnhancedCode::known(4, 4, 3);
    /// 5.4.4: unable to route (no usable MX host).
    pub(crate) const UNROUTABLE: EnhancedCode = EnhancedCode::known(5, 4, 4);
    /// 5.4.6 / 4.4.6: routing loop.
    pub(crate) const LOOP: EnhancedCode = EnhancedCode::known(5, 4, 6);
    /// 4.4.6: routing loop, temporary (we are not the best MX).
    pub(crate) const LOOP_TEMPORARY: EnhancedCode = EnhancedCode::known(4, 4, 6);
    /// 5.4.7: delivery time expired.
    pub(crate) const EXPIRED: EnhancedCode = EnhancedCode::known(5, 4, 7);
    /// 2.0.0: success (relayed / delivered notices).
    pub(crate) const SUCCESS: EnhancedCode = EnhancedCode::known(2, 0, 0);
}
