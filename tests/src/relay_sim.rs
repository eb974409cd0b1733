//! A virtual network for the relay's queue: DNS answers, next hops and a clock, all in
//! memory, so the rules of manual::relay run days of retries in microseconds.
//!
//! [`Sim`] owns a [`Queue`] and answers its actions: [`Action::Resolve`] from `dns`,
//! [`Action::Connect`] through `connect`, [`Action::Send`] through `deliver`; everything the
//! queue asked for is kept in `log` with the virtual time, for assertions.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use smtp_proto::client::Verdict;
use smtp_proto::codec::params::RcptParams;
use smtp_proto::codec::reply::ParsedReply;
use smtp_proto::relay::{
    Action, ConnId, Destination, Diagnosis, Job, Message, MxAnswer, Queue, QueueConfig, QueueId,
    RecipientResult,
};
use smtp_proto::{ForwardPath, MailParams, ReversePath};

/// A next hop's answer for one recipient: the verdict and the reply line (`"250 ok"`).
pub type Answer = (Verdict, &'static str);

/// How the virtual next hops behave.
type DeliverFn = Box<dyn FnMut(&Destination, &Job, Duration) -> Vec<Answer>>;
type ConnectFn = Box<dyn FnMut(&Destination, Duration) -> Result<(), Diagnosis>>;
type DnsFn = Box<dyn FnMut(&str, Duration) -> MxAnswer>;

/// The simulation (see the [module documentation](self)).
pub struct Sim {
    /// The queue under test.
    pub queue: Queue,
    /// The virtual clock's origin.
    pub start: Instant,
    /// Now.
    pub now: Instant,
    /// Every action, with its time since `start`.
    pub log: Vec<(Duration, Action)>,
    /// Which destination each connection went to.
    pub conns: HashMap<ConnId, Arc<Destination>>,
    /// DNS answers (default: no MX records).
    pub dns: DnsFn,
    /// Connection results (default: success).
    pub connect: ConnectFn,
    /// Transaction results (default: every recipient `250`).
    pub deliver: DeliverFn,
    /// Answer `Send` at once (default) or leave it for the test to answer.
    pub auto_deliver: bool,
    /// Answer `Connect` at once (default) or leave it for the test to answer.
    pub auto_connect: bool,
}

impl Sim {
    /// A simulation of `config` with friendly defaults: every lookup NoData (implicit MX),
    /// every connection opens, every recipient is delivered.
    pub fn new(config: QueueConfig) -> Self {
        let start = crate::now();
        Self {
            queue: Queue::new(config),
            start,
            now: start,
            log: Vec::new(),
            conns: HashMap::new(),
            dns: Box::new(|_, _| MxAnswer::NoData),
            connect: Box::new(|_, _| Ok(())),
            deliver: Box::new(|_, job, _| {
                job.recipients
                    .iter()
                    .map(|_| (Verdict::Delivered, "250 2.0.0 ok"))
                    .collect()
            }),
            auto_deliver: true,
            auto_connect: true,
        }
    }

    /// Time since the start.
    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    /// Enqueues a message from `from` (`""` for `<>`) to `to`, arriving now.
    pub fn send(&mut self, id: &str, from: &str, to: &[&str]) {
        let recipients = to
            .iter()
            .map(|r| (path(r), RcptParams::default()))
            .collect();
        self.send_with(id, from, MailParams::default(), recipients);
    }

    /// Enqueues a message with explicit parameters.
    pub fn send_with(
        &mut self,
        id: &str,
        from: &str,
        params: MailParams,
        recipients: Vec<(ForwardPath, RcptParams)>,
    ) {
        let from = if from.is_empty() {
            ReversePath::Null
        } else {
            ReversePath::Mailbox(from.parse().unwrap_or_else(|e| panic!("{from}: {e}")))
        };
        let message = Message {
            id: QueueId::new(id).unwrap_or_else(|| panic!("bad queue id {id}")),
            from,
            params,
            recipients,
            settled: Vec::new(),
            arrival: self.now,
        };
        self.queue
            .enqueue(self.now, message)
            .unwrap_or_else(|e| panic!("enqueue {id}: {e}"));
        self.pump();
    }

    /// Answers actions until the queue has nothing more to say at this instant.
    ///
    /// # Panics
    /// After a million actions at one instant: the queue is spinning.
    pub fn pump(&mut self) {
        let mut budget = 1_000_000_u32;
        while let Some(action) = self.queue.poll_action() {
            budget = budget
                .checked_sub(1)
                .unwrap_or_else(|| panic!("the queue keeps acting at one instant: it is spinning"));
            let at = self.elapsed();
            self.log.push((at, action.clone()));
            match action {
                Action::Resolve { domain } => {
                    let answer = (self.dns)(&domain, at);
                    self.queue.mx_resolved(self.now, &domain, answer);
                }
                Action::Connect { conn, destination } => {
                    self.conns.insert(conn, destination.clone());
                    if self.auto_connect {
                        match (self.connect)(&destination, at) {
                            Ok(()) => self.queue.connected(self.now, conn),
                            Err(diagnosis) => self.queue.connect_failed(self.now, conn, &diagnosis),
                        }
                    }
                }
                Action::Send { conn, job } => {
                    if self.auto_deliver {
                        self.answer(conn, &job);
                    }
                }
                Action::Close { .. } | Action::Notify(_) | Action::Remove { .. } => {}
            }
        }
    }

    /// Runs the virtual next hop for a `Send` the test held back.
    pub fn answer(&mut self, conn: ConnId, job: &Job) {
        let destination = self
            .conns
            .get(&conn)
            .cloned()
            .unwrap_or_else(|| panic!("unknown {conn:?}"));
        let elapsed = self.elapsed();
        let answers = (self.deliver)(&destination, job, elapsed);
        let host = destination
            .hosts
            .first()
            .map(|h| h.host.clone())
            .unwrap_or_default();
        let results: Vec<RecipientResult> = job
            .recipients
            .iter()
            .zip(answers)
            .map(|((index, _, _), (verdict, line))| RecipientResult {
                index: *index,
                verdict,
                diagnosis: Diagnosis::remote(reply(line), host.clone()),
            })
            .collect();
        self.queue.transaction_done(self.now, conn, &results, true);
        self.pump();
    }

    /// Moves the clock to the queue's next deadline (if it is within `limit` from now) and
    /// runs it; `false` when nothing is due within `limit`.
    pub fn step(&mut self, limit: Duration) -> bool {
        match self.queue.poll_timeout() {
            Some(at) if at <= self.now + limit => {
                self.now = self.now.max(at);
                self.queue.handle_timeout(self.now);
                self.pump();
                true
            }
            _ => false,
        }
    }

    /// Runs deadlines until none is left within `horizon` of the start.
    ///
    /// # Panics
    /// After a million deadlines: the queue is spinning (a deadline that never moves on).
    pub fn run_until(&mut self, horizon: Duration) {
        for _ in 0..1_000_000 {
            if self.elapsed() > horizon {
                return;
            }
            let left = horizon.saturating_sub(self.elapsed());
            if !self.step(left) {
                return;
            }
        }
        panic!("the queue keeps asking for the same moment: it is spinning");
    }

    /// Advances the clock by `by` and runs what is due.
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        self.queue.handle_timeout(self.now);
        self.pump();
    }

    /// The actions logged so far that match `pick`.
    pub fn actions<'a, T>(&'a self, pick: impl Fn(&'a Action) -> Option<T> + 'a) -> Vec<T> {
        self.log
            .iter()
            .filter_map(|(_, action)| pick(action))
            .collect()
    }

    /// Every `Send` so far: (connection, message id, recipient count).
    pub fn sends(&self) -> Vec<(ConnId, String, usize)> {
        self.actions(|a| match a {
            Action::Send { conn, job } => {
                Some((*conn, job.message.to_string(), job.recipients.len()))
            }
            _ => None,
        })
    }

    /// The times (since start) of every `Send` of message `id`.
    pub fn attempts(&self, id: &str) -> Vec<Duration> {
        self.log
            .iter()
            .filter_map(|(at, a)| match a {
                Action::Send { job, .. } if job.message.as_str() == id => Some(*at),
                _ => None,
            })
            .collect()
    }

    /// Every `Connect` so far: (connection, destination key).
    pub fn connects(&self) -> Vec<(ConnId, String)> {
        self.actions(|a| match a {
            Action::Connect { conn, destination } => Some((*conn, destination.key.clone())),
            _ => None,
        })
    }

    /// Every notice so far.
    pub fn notices(&self) -> Vec<smtp_proto::relay::Notice> {
        self.actions(|a| match a {
            Action::Notify(notice) => Some(notice.clone()),
            _ => None,
        })
    }

    /// `true` once `Remove` was asked for message `id`.
    pub fn removed(&self, id: &str) -> bool {
        self.log
            .iter()
            .any(|(_, a)| matches!(a, Action::Remove { id: removed } if removed.as_str() == id))
    }
}

/// `<local@domain>` as a forward path.
pub fn path(address: &str) -> ForwardPath {
    ForwardPath::Mailbox(address.parse().unwrap_or_else(|e| panic!("{address}: {e}")))
}

/// A reply from its wire text without the CR LF (`"550 5.1.1 no such user"`).
pub fn reply(line: &str) -> ParsedReply {
    let mut parser = smtp_proto::codec::reply::ReplyParser::new();
    parser.feed(format!("{line}\r\n").as_bytes());
    match parser.next_reply() {
        Ok(Some(reply)) => reply,
        other => panic!("{line}: {other:?}"),
    }
}
