//! Which message comes next, and when it is due: a shared counter of tickets. Under
//! `--rate` message `n` is due at `start + n / rate` whether or not a session is free then
//! (open loop), and its latency counts from that time (coordinated omission correction).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::cli::Limit;
use crate::clock::now;

/// Hands out message numbers until the limit.
#[derive(Debug)]
pub(crate) struct Schedule {
    start: Instant,
    limit: Limit,
    /// Seconds between intended starts, under `--rate`.
    interval: Option<f64>,
    next: AtomicU64,
}

/// One message to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ticket {
    /// Its number, from 0.
    pub(crate) number: u64,
    /// When it is due (open loop; once waited for, when the session woke up for it), or
    /// when it was taken (as fast as possible): its latency counts from here.
    pub(crate) start: Instant,
    /// Whether `start` is a schedule's, so the session waits for it.
    pub(crate) scheduled: bool,
}

impl Schedule {
    /// A schedule from `start`, `rate` messages a second (or as fast as possible).
    pub(crate) fn new(start: Instant, limit: Limit, rate: Option<f64>) -> Self {
        Self {
            start,
            limit,
            interval: rate.map(|r| 1.0 / r),
            next: AtomicU64::new(0),
        }
    }

    /// When the run ends by time, if it does.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.limit.duration.map(|d| self.start + d)
    }

    /// The next message, or `None` once the limit is reached.
    pub(crate) fn take(&self) -> Option<Ticket> {
        let deadline = self.deadline();
        if self
            .limit
            .messages
            .is_some_and(|m| self.next.load(Ordering::Relaxed) >= m)
        {
            return None;
        }
        let number = self.next.fetch_add(1, Ordering::Relaxed);
        if self.limit.messages.is_some_and(|m| number >= m) {
            return None;
        }
        let (start, scheduled) = match self.interval {
            Some(interval) => (
                self.start + Duration::from_secs_f64(interval * number as f64),
                true,
            ),
            None => (now(), false),
        };
        if deadline.is_some_and(|d| start >= d) {
            return None;
        }
        Some(Ticket {
            number,
            start,
            scheduled,
        })
    }
}

impl Ticket {
    /// Waits until the message is due. A session that had to wait for it starts the
    /// message's clock when it wakes: tokio's timer fires up to a millisecond late, and
    /// that delay is the generator's, not the server's. A session that was busy past the
    /// due time (a slow server) keeps the intended start: that wait is what the
    /// coordinated omission correction counts.
    pub(crate) async fn due(&mut self) {
        if self.scheduled && self.start > now() {
            tokio::time::sleep_until(self.start.into()).await;
            self.start = now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_limit_stops_exactly() {
        let start = now();
        let schedule = Schedule::new(
            start,
            Limit {
                messages: Some(3),
                duration: None,
            },
            Some(100.0),
        );
        let tickets: Vec<Ticket> = std::iter::from_fn(|| schedule.take()).collect();
        assert_eq!(tickets.len(), 3);
        assert_eq!(tickets[2].number, 2);
        assert_eq!(tickets[2].start - start, Duration::from_millis(20));
        assert!(tickets.iter().all(|t| t.scheduled));
        assert_eq!(schedule.take(), None);
    }

    #[test]
    fn a_time_limit_stops_at_the_deadline() {
        let schedule = Schedule::new(
            now(),
            Limit {
                messages: None,
                duration: Some(Duration::from_secs(1)),
            },
            Some(10.0),
        );
        assert_eq!(std::iter::from_fn(|| schedule.take()).count(), 10);
    }
}
