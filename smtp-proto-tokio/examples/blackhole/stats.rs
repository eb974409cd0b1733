//! Counters shared by all sessions, and the summary lines printed from them.
//!
//! "msg" counts every message answered at the end of data, accepted or bounced;
//! "bounced" is the part of it that was refused; MB counts the content of accepted
//! messages (MB = 10^6 bytes).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Live counters, updated by every session (relaxed atomics: they are statistics).
#[derive(Debug, Default)]
pub(crate) struct Stats {
    /// Sessions open now.
    sessions_open: AtomicU64,
    /// Sessions opened since start.
    sessions_total: AtomicU64,
    /// Messages accepted.
    accepted: AtomicU64,
    /// Content bytes of the accepted messages.
    bytes: AtomicU64,
    /// Messages bounced.
    bounced: AtomicU64,
}

impl Stats {
    /// All counters at zero.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// A session started.
    pub(crate) fn session_opened(&self) {
        self.sessions_open.fetch_add(1, Ordering::Relaxed);
        self.sessions_total.fetch_add(1, Ordering::Relaxed);
    }

    /// A session ended.
    pub(crate) fn session_closed(&self) {
        let _ = self
            .sessions_open
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }

    /// A message of `bytes` content bytes was accepted.
    pub(crate) fn message_accepted(&self, bytes: u64) {
        self.accepted.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// A message was bounced.
    pub(crate) fn message_bounced(&self) {
        self.bounced.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters now.
    pub(crate) fn snapshot(&self) -> Snapshot {
        Snapshot {
            sessions_open: self.sessions_open.load(Ordering::Relaxed),
            sessions_total: self.sessions_total.load(Ordering::Relaxed),
            accepted: self.accepted.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            bounced: self.bounced.load(Ordering::Relaxed),
        }
    }
}

/// The counters at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Snapshot {
    /// Sessions open.
    pub(crate) sessions_open: u64,
    /// Sessions opened since start.
    pub(crate) sessions_total: u64,
    /// Messages accepted.
    pub(crate) accepted: u64,
    /// Content bytes of the accepted messages.
    pub(crate) bytes: u64,
    /// Messages bounced.
    pub(crate) bounced: u64,
}

impl Snapshot {
    /// Messages answered, accepted or bounced.
    pub(crate) fn messages(&self) -> u64 {
        self.accepted.saturating_add(self.bounced)
    }
}

/// `count` per second over `elapsed`; 0 when no time passed.
fn rate(count: u64, elapsed: Duration) -> f64 {
    count as f64 / nonzero_secs(elapsed)
}

/// Bytes as MB (10^6 bytes).
fn megabytes(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

/// The totals part shared by both lines.
fn totals(s: Snapshot) -> String {
    format!(
        "total {} msg, {:.2} MB, {} bounced, {} sessions",
        s.messages(),
        megabytes(s.bytes),
        s.bounced,
        s.sessions_total
    )
}

/// The periodic line: open sessions, rates since `before` (`elapsed` ago), totals.
///
/// `sessions 3 open | 1234.5 msg/s | 12.34 MB/s | total 10000 msg, 95.37 MB, 12 bounced, 300 sessions`
pub(crate) fn summary_line(now: Snapshot, before: Snapshot, elapsed: Duration) -> String {
    let messages = now.messages().saturating_sub(before.messages());
    let bytes = now.bytes.saturating_sub(before.bytes);
    format!(
        "sessions {} open | {:.1} msg/s | {:.2} MB/s | {}",
        now.sessions_open,
        rate(messages, elapsed),
        megabytes(bytes) / nonzero_secs(elapsed),
        totals(now)
    )
}

/// The periodic line, or `None` when nothing changed since `before` (an idle server
/// prints nothing every 5 seconds).
pub(crate) fn periodic_line(now: Snapshot, before: Snapshot, elapsed: Duration) -> Option<String> {
    (now != before).then(|| summary_line(now, before, elapsed))
}

/// The line printed at once on the first Ctrl-C: what the shutdown waits for.
///
/// `shutting down: waiting for 2 open sessions (…); Ctrl-C again stops at once`
pub(crate) fn shutdown_line(sessions_open: u64, grace: Duration) -> String {
    match sessions_open {
        0 => "shutting down: no session open".to_owned(),
        n => format!(
            "shutting down: waiting for {n} open session{} (idle ones get 421 now, a message              in flight gets its reply first; at most {} s); Ctrl-C again stops at once",
            if n == 1 { "" } else { "s" },
            grace.as_secs()
        ),
    }
}

/// The line printed when a second Ctrl-C stops the shutdown short.
pub(crate) fn stopped_line(sessions_open: u64) -> String {
    format!("stopping at once: {sessions_open} session(s) cut off")
}

/// The line printed at exit: totals and average rates over the whole run.
///
/// `final: total 10000 msg, 95.37 MB, 12 bounced, 300 sessions | 812.3 msg/s | 7.75 MB/s | 12.3 s`
pub(crate) fn final_line(total: Snapshot, elapsed: Duration) -> String {
    format!(
        "final: {} | {:.1} msg/s | {:.2} MB/s | {:.1} s",
        totals(total),
        rate(total.messages(), elapsed),
        megabytes(total.bytes) / nonzero_secs(elapsed),
        elapsed.as_secs_f64()
    )
}

/// Seconds in `elapsed`, or infinity when none passed (so a rate divided by it is 0).
fn nonzero_secs(elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 { secs } else { f64::INFINITY }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_count() {
        let stats = Stats::new();
        stats.session_opened();
        stats.session_opened();
        stats.session_closed();
        stats.message_accepted(1000);
        stats.message_accepted(24);
        stats.message_bounced();
        assert_eq!(
            stats.snapshot(),
            Snapshot {
                sessions_open: 1,
                sessions_total: 2,
                accepted: 2,
                bytes: 1024,
                bounced: 1,
            }
        );
        stats.session_closed();
        stats.session_closed(); // one close too many does not wrap around
        assert_eq!(stats.snapshot().sessions_open, 0);
        assert_eq!(stats.snapshot().messages(), 3);
    }

    #[test]
    fn summary_line_format() {
        let before = Snapshot {
            sessions_open: 0,
            sessions_total: 100,
            accepted: 3_000,
            bytes: 30_000_000,
            bounced: 10,
        };
        let now = Snapshot {
            sessions_open: 3,
            sessions_total: 300,
            accepted: 9_988,
            bytes: 95_370_000,
            bounced: 12,
        };
        assert_eq!(
            summary_line(now, before, Duration::from_secs(5)),
            "sessions 3 open | 1398.0 msg/s | 13.07 MB/s | \
             total 10000 msg, 95.37 MB, 12 bounced, 300 sessions"
        );
    }

    #[test]
    fn zero_elapsed_gives_zero_rates() {
        let now = Snapshot {
            accepted: 5,
            bytes: 5_000_000,
            ..Snapshot::default()
        };
        assert_eq!(
            summary_line(now, Snapshot::default(), Duration::ZERO),
            "sessions 0 open | 0.0 msg/s | 0.00 MB/s | total 5 msg, 5.00 MB, 0 bounced, 0 sessions"
        );
        assert_eq!(
            final_line(now, Duration::ZERO),
            "final: total 5 msg, 5.00 MB, 0 bounced, 0 sessions | 0.0 msg/s | 0.00 MB/s | 0.0 s"
        );
    }

    #[test]
    fn counters_going_backwards_do_not_panic() {
        let before = Snapshot {
            accepted: 10,
            bytes: 10,
            ..Snapshot::default()
        };
        let line = summary_line(Snapshot::default(), before, Duration::from_secs(1));
        assert!(line.contains("| 0.0 msg/s | 0.00 MB/s |"), "{line}");
    }

    #[test]
    fn the_periodic_line_only_when_something_changed() {
        let before = Snapshot {
            sessions_open: 2,
            sessions_total: 5,
            accepted: 7,
            bytes: 700,
            bounced: 1,
        };
        let second = Duration::from_secs(5);
        assert_eq!(periodic_line(before, before, second), None);
        for changed in [
            Snapshot {
                sessions_open: 1,
                ..before
            },
            Snapshot {
                sessions_total: 6,
                ..before
            },
            Snapshot {
                accepted: 8,
                bytes: 800,
                ..before
            },
            Snapshot {
                bounced: 2,
                ..before
            },
        ] {
            assert_eq!(
                periodic_line(changed, before, second),
                Some(summary_line(changed, before, second))
            );
        }
    }

    #[test]
    fn shutdown_lines() {
        let grace = Duration::from_secs(30);
        assert_eq!(shutdown_line(0, grace), "shutting down: no session open");
        let one = shutdown_line(1, grace);
        assert!(
            one.starts_with("shutting down: waiting for 1 open session ("),
            "{one}"
        );
        assert!(one.contains("at most 30 s") && one.ends_with("Ctrl-C again stops at once"));
        assert!(shutdown_line(3, grace).contains("for 3 open sessions ("));
        assert_eq!(stopped_line(2), "stopping at once: 2 session(s) cut off");
    }

    #[test]
    fn final_line_format() {
        let total = Snapshot {
            sessions_open: 0,
            sessions_total: 300,
            accepted: 9_988,
            bytes: 95_370_000,
            bounced: 12,
        };
        assert_eq!(
            final_line(total, Duration::from_millis(12_310)),
            "final: total 10000 msg, 95.37 MB, 12 bounced, 300 sessions | 812.3 msg/s | 7.75 MB/s | 12.3 s"
        );
    }
}
