//! What a run measures: per-phase latency histograms (HDR, microseconds), message and
//! session counts, reply codes and errors. Sessions record into a few shards (one lock
//! each, rarely contended); the progress line and the report merge them.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use hdrhistogram::Histogram;
use smtp_proto::client::Stage;

/// A step of a session whose latency is measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Phase {
    /// The TCP handshake.
    Connect,
    /// The TLS handshake (after STARTTLS, or first thing under implicit TLS).
    Tls,
    /// The greeting, from the connection (or the TLS handshake).
    Greeting,
    /// EHLO, LHLO or HELO.
    Ehlo,
    /// The STARTTLS command's reply.
    StartTls,
    /// Each AUTH step.
    Auth,
    /// MAIL FROM.
    Mail,
    /// Each RCPT TO.
    Rcpt,
    /// DATA (the `354`), or a BDAT chunk before the last.
    Data,
    /// The reply after the content: after `.`, or after `BDAT … LAST`.
    EndOfData,
    /// RSET after a failed transaction.
    Rset,
    /// QUIT.
    Quit,
    /// A whole message: from its intended (or actual) start to its final reply.
    Message,
}

impl Phase {
    /// Every phase, in report order.
    pub(crate) const ALL: [Self; 13] = [
        Self::Connect,
        Self::Tls,
        Self::Greeting,
        Self::Ehlo,
        Self::StartTls,
        Self::Auth,
        Self::Mail,
        Self::Rcpt,
        Self::Data,
        Self::EndOfData,
        Self::Rset,
        Self::Quit,
        Self::Message,
    ];

    /// The name in reports and JSON.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Connect => "connect",
            Self::Tls => "tls",
            Self::Greeting => "greeting",
            Self::Ehlo => "ehlo",
            Self::StartTls => "starttls",
            Self::Auth => "auth",
            Self::Mail => "mail",
            Self::Rcpt => "rcpt",
            Self::Data => "data",
            Self::EndOfData => "end_of_data",
            Self::Rset => "rset",
            Self::Quit => "quit",
            Self::Message => "message",
        }
    }

    /// The phase a reply to `command` (a [`ClientEvent::Reply`] verb) at `stage` ends.
    ///
    /// [`ClientEvent::Reply`]: smtp_proto::client::ClientEvent::Reply
    pub(crate) fn of_reply(command: &str, stage: Stage) -> Option<Self> {
        Some(match command {
            "greeting" => Self::Greeting,
            "EHLO" | "HELO" | "LHLO" => Self::Ehlo,
            "STARTTLS" => Self::StartTls,
            "AUTH" => Self::Auth,
            "MAIL" => Self::Mail,
            "RCPT" => Self::Rcpt,
            "DATA" => Self::Data,
            "." | "BDAT" if stage == Stage::EndOfData => Self::EndOfData,
            "." | "BDAT" => Self::Data,
            "RSET" => Self::Rset,
            "QUIT" => Self::Quit,
            _ => return None,
        })
    }

    /// Its place in [`Self::ALL`] and in [`Stats`]' histograms.
    fn index(self) -> usize {
        self as usize
    }
}

/// A latency histogram in microseconds, growing as needed, 3 significant figures.
fn histogram() -> Histogram<u64> {
    Histogram::new(3).expect("3 significant figures are valid")
}

/// Counters and histograms of one shard (or of the whole run, once merged).
#[derive(Clone, Debug)]
pub(crate) struct Stats {
    latency: Vec<Histogram<u64>>,
    /// Messages answered (or given up on).
    pub(crate) messages: u64,
    /// Messages every recipient of which was delivered.
    pub(crate) accepted: u64,
    /// Content octets of the accepted messages.
    pub(crate) bytes: u64,
    /// Recipients delivered.
    pub(crate) recipients_delivered: u64,
    /// Recipients not delivered.
    pub(crate) recipients_failed: u64,
    /// Connections attempted.
    pub(crate) sessions: u64,
    /// Connections that did not end with QUIT.
    pub(crate) sessions_failed: u64,
    /// Replies by phase and code.
    pub(crate) replies: BTreeMap<(Phase, u16), u64>,
    /// Failures by kind: a message's first failed recipient, or a session's end.
    pub(crate) errors: BTreeMap<String, u64>,
}

impl Default for Stats {
    /// Empty histograms, zero counts.
    fn default() -> Self {
        Self {
            latency: Phase::ALL.iter().map(|_| histogram()).collect(),
            messages: 0,
            accepted: 0,
            bytes: 0,
            recipients_delivered: 0,
            recipients_failed: 0,
            sessions: 0,
            sessions_failed: 0,
            replies: BTreeMap::new(),
            errors: BTreeMap::new(),
        }
    }
}

impl Stats {
    /// Records one latency of `phase`.
    pub(crate) fn record(&mut self, phase: Phase, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        let histogram = &mut self.latency[phase.index()];
        // `record` grows the histogram; only a value past its largest possible range is
        // clamped.
        if histogram.record(micros).is_err() {
            histogram.saturating_record(micros);
        }
    }

    /// The histogram of `phase`.
    pub(crate) fn latency(&self, phase: Phase) -> &Histogram<u64> {
        &self.latency[phase.index()]
    }

    /// Counts a reply of `code` ending `phase`.
    pub(crate) fn reply(&mut self, phase: Phase, code: u16) {
        *self.replies.entry((phase, code)).or_default() += 1;
    }

    /// Counts one failure of `kind`.
    pub(crate) fn error(&mut self, kind: String) {
        *self.errors.entry(kind).or_default() += 1;
    }

    /// Messages not accepted.
    pub(crate) fn failed(&self) -> u64 {
        self.messages - self.accepted
    }

    /// Adds `other`'s counts and histograms to these.
    pub(crate) fn merge(&mut self, other: &Self) {
        for (mine, theirs) in self.latency.iter_mut().zip(&other.latency) {
            // Both grow on demand, so adding cannot fail.
            let _ = mine.add(theirs);
        }
        self.messages += other.messages;
        self.accepted += other.accepted;
        self.bytes += other.bytes;
        self.recipients_delivered += other.recipients_delivered;
        self.recipients_failed += other.recipients_failed;
        self.sessions += other.sessions;
        self.sessions_failed += other.sessions_failed;
        for (key, n) in &other.replies {
            *self.replies.entry(*key).or_default() += n;
        }
        for (key, n) in &other.errors {
            *self.errors.entry(key.clone()).or_default() += n;
        }
    }
}

/// What the progress line shows: counts and the message latency so far.
#[derive(Clone, Debug)]
pub(crate) struct Progress {
    /// Messages answered.
    pub(crate) messages: u64,
    /// Messages not accepted.
    pub(crate) failed: u64,
    /// Whole-message latency so far.
    pub(crate) latency: Histogram<u64>,
}

/// The shards every session records into.
#[derive(Debug)]
pub(crate) struct Shards(Vec<Mutex<Stats>>);

impl Shards {
    /// `n` empty shards (at least one).
    pub(crate) fn new(n: usize) -> Self {
        Self(
            (0..n.max(1))
                .map(|_| Mutex::new(Stats::default()))
                .collect(),
        )
    }

    /// The shard of session `session`, locked.
    pub(crate) fn lock(&self, session: usize) -> MutexGuard<'_, Stats> {
        let shard = &self.0[session % self.0.len()];
        shard
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts and message latency over every shard.
    pub(crate) fn progress(&self) -> Progress {
        let mut progress = Progress {
            messages: 0,
            failed: 0,
            latency: histogram(),
        };
        for i in 0..self.0.len() {
            let shard = self.lock(i);
            progress.messages += shard.messages;
            progress.failed += shard.failed();
            let _ = progress.latency.add(shard.latency(Phase::Message));
        }
        progress
    }

    /// Everything, merged.
    pub(crate) fn total(&self) -> Stats {
        let mut total = Stats::default();
        for i in 0..self.0.len() {
            total.merge(&self.lock(i));
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_of_replies() {
        assert_eq!(
            Phase::of_reply("greeting", Stage::Session),
            Some(Phase::Greeting)
        );
        assert_eq!(Phase::of_reply("LHLO", Stage::Session), Some(Phase::Ehlo));
        assert_eq!(
            Phase::of_reply(".", Stage::EndOfData),
            Some(Phase::EndOfData)
        );
        assert_eq!(Phase::of_reply(".", Stage::Data), Some(Phase::Data));
        assert_eq!(Phase::of_reply("BDAT", Stage::Bdat), Some(Phase::Data));
        assert_eq!(
            Phase::of_reply("BDAT", Stage::EndOfData),
            Some(Phase::EndOfData)
        );
        assert_eq!(Phase::of_reply("NOOP", Stage::Session), None);
        for (i, phase) in Phase::ALL.iter().enumerate() {
            assert_eq!(phase.index(), i);
        }
    }

    #[test]
    fn shards_merge() {
        let shards = Shards::new(3);
        for session in 0..6 {
            let mut s = shards.lock(session);
            s.messages += 1;
            s.accepted += u64::from(session != 4);
            s.record(Phase::Message, Duration::from_millis(session as u64 + 1));
            s.reply(Phase::Mail, 250);
            s.error("x".into());
        }
        let progress = shards.progress();
        assert_eq!((progress.messages, progress.failed), (6, 1));
        assert_eq!(progress.latency.len(), 6);
        let total = shards.total();
        assert_eq!(total.replies[&(Phase::Mail, 250)], 6);
        assert_eq!(total.errors["x"], 6);
        assert_eq!(total.latency(Phase::Message).max(), 6_003); // 3 significant figures
    }
}
