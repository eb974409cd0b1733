//! The scheduler: messages, destinations, connections and retry times (`manual::relay` Q, DSP).
//!
//! Each input takes `now`, updates the state and runs one dispatch pass; [`Queue::poll_action`]
//! then yields what the program must do, in order. A dispatch pass:
//!
//! 1. moves every recipient whose retry time has come into its destination's ready list,
//!    grouped by destination **before** any connection is assigned (DSP-01, DSP-02), in
//!    transactions of at most `recipients_per_transaction` (DSP-04);
//! 2. retires idle connections that reached `messages_per_connection` or the reuse time
//!    limit (DSP-05, DSP-06);
//! 3. gives ready transactions to idle connections of their destination (reuse), asking for
//!    DNS first where the destination is not resolved;
//! 4. opens connections round-robin over destinations, one per destination per round, within
//!    the destination's window (starts at 5, grows to 20 on success, DSP-03) and the global
//!    limit (DSP-08);
//! 5. closes connections idle longer than `idle_close`.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::rng::Rng;
use super::route::{self, Destination, MxAnswer, Route, normalise};
use super::{Diagnosis, QueueId, status};
use crate::EnhancedCode;
use crate::client::Verdict;
use crate::codec::address::{AddressLiteral, DomainRef, ForwardPath, Mailbox, ReversePath};
use crate::codec::params::{MailParams, Orcpt, RcptParams, Ret};

/// The scheduler's settings; every default is Postfix's unless noted.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct QueueConfig {
    /// Smart host or MX routing.
    pub route: Route,
    /// Our own host names: an MX record naming one of them marks where the MX list stops
    /// (MX-11).
    pub our_names: Vec<String>,
    /// Shortest retry delay: 300 s (`minimal_backoff_time`, Q-01).
    pub min_backoff: Duration,
    /// Longest retry delay: 4,000 s (`maximal_backoff_time`, Q-01).
    pub max_backoff: Duration,
    /// Give up after this age: 5 days (`maximal_queue_lifetime`, Q-02). Zero: one attempt.
    pub lifetime: Duration,
    /// The same for bounces (null sender): 5 days (`bounce_queue_lifetime`, Q-03).
    pub bounce_lifetime: Duration,
    /// Send one delay notice when a message is this old and still deferred; `None` (the
    /// default, `delay_warning_time = 0h`) sends none (DSN-10).
    pub delay_warning: Option<Duration>,
    /// Connections per destination to start with: 5 (`initial_destination_concurrency`).
    pub initial_concurrency: usize,
    /// Connections per destination at most: 20 (`default_destination_concurrency_limit`).
    pub concurrency_limit: usize,
    /// Connections in all: 100 (`default_process_limit`).
    pub connection_limit: usize,
    /// Recipients per transaction: 50 (`default_destination_recipient_limit`, DSP-04).
    pub recipients_per_transaction: usize,
    /// Transactions per connection: 100 *(choice: Postfix has no count limit, only the
    /// 300 s reuse limit; a count bounds how long one connection can hold a destination)*.
    pub messages_per_connection: usize,
    /// Close a connection idle this long: 2 s (`smtp_connection_cache_time_limit`, DSP-06).
    pub idle_close: Duration,
    /// Do not reuse a connection older than this: 300 s (`smtp_connection_reuse_time_limit`).
    pub reuse_limit: Duration,
    /// Messages held at most; [`Queue::enqueue`] refuses more (the program answers `452 4.3.1`).
    pub max_messages: usize,
    /// Seed of the randomness that orders equal MX preferences (MX-02).
    pub seed: u64,
}

impl QueueConfig {
    /// Defaults for `route`, with `our_name` as our host name.
    pub fn new(route: Route, our_name: impl Into<String>) -> Self {
        Self {
            route,
            our_names: vec![our_name.into()],
            min_backoff: Duration::from_secs(300),
            max_backoff: Duration::from_secs(4000),
            lifetime: Duration::from_secs(5 * 86_400),
            bounce_lifetime: Duration::from_secs(5 * 86_400),
            delay_warning: None,
            initial_concurrency: 5,
            concurrency_limit: 20,
            connection_limit: 100,
            recipients_per_transaction: 50,
            messages_per_connection: 100,
            idle_close: Duration::from_secs(2),
            reuse_limit: Duration::from_secs(300),
            max_messages: 100_000,
            seed: 0,
        }
    }
}

/// A message entering the queue: its envelope and arrival; the content stays in the spool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The spool identifier.
    pub id: QueueId,
    /// The reverse-path; `<>` marks a bounce, never bounced itself (DSN-05).
    pub from: ReversePath,
    /// The MAIL parameters received (RET, ENVID, SMTPUTF8, BODY, SIZE… passed on, PT-01).
    pub params: MailParams,
    /// Every recipient, in spool order; indices into this list name recipients everywhere.
    pub recipients: Vec<(ForwardPath, RcptParams)>,
    /// Indices of recipients already settled (delivered or bounced before a restart).
    pub settled: Vec<usize>,
    /// When it was accepted, on the queue's clock (age = now − arrival, Q-01).
    pub arrival: Instant,
}

/// One transaction to run: the envelope with the recipients of this destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    /// The message; its content is in the spool under this identifier.
    pub message: QueueId,
    /// The reverse-path.
    pub from: ReversePath,
    /// The MAIL parameters as received.
    pub params: MailParams,
    /// `(index, path, parameters)` of each recipient in this transaction.
    pub recipients: Vec<(usize, ForwardPath, RcptParams)>,
}

/// A connection the queue asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// What the program must do next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Look up the MX records of `domain`, then call [`Queue::mx_resolved`].
    Resolve {
        /// The domain (lower case).
        domain: String,
    },
    /// Open a connection to `destination` (walk it with an [`Attempt`](super::Attempt)),
    /// then call [`Queue::connected`] or [`Queue::connect_failed`].
    Connect {
        /// The connection's name in later calls.
        conn: ConnId,
        /// Where to.
        destination: Arc<Destination>,
    },
    /// Run `job` on the open connection `conn`. Record settled recipients durably (SPL-05),
    /// then call [`Queue::transaction_done`] (or [`Queue::job_unsent`] if the connection
    /// turned out dead before MAIL was answered).
    Send {
        /// An open, idle connection.
        conn: ConnId,
        /// The transaction.
        job: Job,
    },
    /// Close the connection (QUIT); the queue has already forgotten it.
    Close {
        /// The connection.
        conn: ConnId,
    },
    /// Build this delivery status notification ([`dsn`](super::dsn)), spool it, enqueue it.
    Notify(Notice),
    /// Every recipient is settled: remove the spool files.
    Remove {
        /// The message.
        id: QueueId,
    },
}

/// How one recipient of a [`Job`] fared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecipientResult {
    /// The recipient's index in [`Message::recipients`].
    pub index: usize,
    /// Delivered, rejected (bounce) or deferred (retry).
    pub verdict: Verdict,
    /// The reply that decided it.
    pub diagnosis: Diagnosis,
}

/// What a notice says about one recipient (RFC 3464 §2.3.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NoticeAction {
    /// Delivery failed for good.
    Failed,
    /// Still trying.
    Delayed,
    /// Delivered to the final destination.
    Delivered,
    /// Passed to a next hop that does not offer DSN (PT-03).
    Relayed,
}

/// One recipient's block in a notice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoticeRecipient {
    /// The recipient as we received it (`Final-Recipient`).
    pub recipient: ForwardPath,
    /// The ORCPT parameter received (`Original-Recipient`).
    pub orcpt: Option<Orcpt>,
    /// What happened.
    pub action: NoticeAction,
    /// The RFC 3463 status; its class agrees with the action (DSN-03).
    pub status: EnhancedCode,
    /// The deciding reply (`Diagnostic-Code`, `Remote-MTA`).
    pub diagnosis: Diagnosis,
}

/// A delivery status notification to send to a message's sender (DSN-07: one per message
/// and event, every affected recipient in it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// The message it reports on.
    pub message: QueueId,
    /// The original sender: the notice's only recipient, sent from `<>` (DSN-06).
    pub to: Mailbox,
    /// The message's ENVID (`Original-Envelope-Id`).
    pub envid: Option<String>,
    /// The message's RET: what of it to return (DSN-08).
    pub ret: Option<Ret>,
    /// The message asked for REQUIRETLS: quote only its header section (PT-08).
    pub requiretls: bool,
    /// When the message arrived, on the queue's clock.
    pub arrival: Instant,
    /// Retries stop this long after arrival (`Will-Retry-Until` of delayed recipients).
    pub lifetime: Duration,
    /// One block per recipient.
    pub recipients: Vec<NoticeRecipient>,
}

/// Why [`Queue::enqueue`] refused a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EnqueueError {
    /// The queue holds `max_messages`: answer `452 4.3.1` and let the client retry (SPL-08).
    #[error("the queue is full")]
    Full,
    /// A message with this identifier is already queued (identifiers are never reused, SPL-09).
    #[error("a message with this queue identifier is already queued")]
    Duplicate,
}

/// Counts for a status line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Messages held.
    pub messages: usize,
    /// Recipients waiting for a retry time.
    pub deferred: usize,
    /// Recipients in a destination's ready list or in a transaction.
    pub active: usize,
    /// Open or opening connections.
    pub connections: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RcptState {
    Waiting(Instant),
    Queued,
    InFlight,
    Settled,
}

#[derive(Debug)]
struct Entry {
    message: Message,
    states: Vec<RcptState>,
    notices: Vec<NoticeRecipient>,
    warned: bool,
    due: Option<Instant>,
}

#[derive(Debug, Default)]
struct Dest {
    resolved: Option<Arc<Destination>>,
    resolving: bool,
    ready: VecDeque<Job>,
    idle: Vec<ConnId>,
    conns: usize,
    opening: usize,
    window: usize,
    retry_at: Option<Instant>,
}

#[derive(Debug)]
enum ConnState {
    Opening,
    Idle(Instant),
    Busy(Job),
}

#[derive(Debug)]
struct Conn {
    dest: String,
    state: ConnState,
    opened: Instant,
    transactions: usize,
}

/// The outbound queue (see the [module documentation](crate::relay)): one dispatch pass per input, in five steps — due recipients grouped by destination first, spent connections retired, ready transactions given to idle connections, new connections round-robin, idle ones closed.
#[derive(Debug)]
pub struct Queue {
    config: QueueConfig,
    entries: HashMap<QueueId, Entry>,
    timers: BTreeSet<(Instant, QueueId)>,
    dests: HashMap<String, Dest>,
    rotation: VecDeque<String>,
    conns: HashMap<ConnId, Conn>,
    next_conn: u64,
    actions: VecDeque<Action>,
    rng: Rng,
}

impl Queue {
    /// An empty queue.
    pub fn new(config: QueueConfig) -> Self {
        let rng = Rng::new(config.seed);
        Self {
            config,
            entries: HashMap::new(),
            timers: BTreeSet::new(),
            dests: HashMap::new(),
            rotation: VecDeque::new(),
            conns: HashMap::new(),
            next_conn: 0,
            actions: VecDeque::new(),
            rng,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &QueueConfig {
        &self.config
    }

    /// `true` when [`Queue::enqueue`] would refuse a message for lack of room.
    pub fn is_full(&self) -> bool {
        self.entries.len() >= self.config.max_messages
    }

    /// Counts for a status line.
    pub fn stats(&self) -> QueueStats {
        let mut stats = QueueStats {
            messages: self.entries.len(),
            connections: self.conns.len(),
            ..QueueStats::default()
        };
        for state in self.entries.values().flat_map(|entry| &entry.states) {
            match state {
                RcptState::Waiting(_) => stats.deferred += 1,
                RcptState::Queued | RcptState::InFlight => stats.active += 1,
                RcptState::Settled => {}
            }
        }
        stats
    }

    /// Each destination with work or connections: its key, transactions ready, connections.
    pub fn destinations(&self) -> Vec<(String, usize, usize)> {
        let mut list: Vec<_> = self
            .dests
            .iter()
            .filter(|(_, dest)| !dest.ready.is_empty() || dest.conns > 0)
            .map(|(key, dest)| (key.clone(), dest.ready.len(), dest.conns))
            .collect();
        list.sort();
        list
    }

    /// Adds a spooled message; its unsettled recipients are due at once.
    pub fn enqueue(&mut self, now: Instant, message: Message) -> Result<(), EnqueueError> {
        if self.entries.contains_key(&message.id) {
            return Err(EnqueueError::Duplicate);
        }
        if self.is_full() {
            return Err(EnqueueError::Full);
        }
        let states = (0..message.recipients.len())
            .map(|i| {
                if message.settled.contains(&i) {
                    RcptState::Settled
                } else {
                    RcptState::Waiting(now)
                }
            })
            .collect();
        let id = message.id.clone();
        self.entries.insert(
            id.clone(),
            Entry {
                message,
                states,
                notices: Vec::new(),
                warned: false,
                due: None,
            },
        );
        self.settle(&id);
        self.dispatch(now);
        Ok(())
    }

    /// Time has passed: run what is due.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.dispatch(now);
    }

    /// When [`Queue::handle_timeout`] must next be called, if anything is waiting.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let due = self.timers.first().map(|(at, _)| *at);
        let idle = self
            .conns
            .values()
            .filter_map(|conn| match conn.state {
                ConnState::Idle(since) => Some(since + self.config.idle_close),
                _ => None,
            })
            .min();
        match (due, idle) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The next thing to do, in order.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// The MX answer for a [`Action::Resolve`].
    pub fn mx_resolved(&mut self, now: Instant, domain: &str, answer: MxAnswer) {
        let key = normalise(domain);
        let port = self.port();
        let outcome = route::candidates(&key, answer, &self.config.our_names, port, &mut self.rng);
        let Some(dest) = self.dests.get_mut(&key) else {
            return;
        };
        if !dest.resolving {
            return;
        }
        dest.resolving = false;
        match outcome {
            Ok(destination) => dest.resolved = Some(destination),
            Err(diagnosis) => self.fail_ready(now, &key, &diagnosis),
        }
        self.dispatch(now);
    }

    /// A [`Action::Connect`] succeeded: the server greeted and answered EHLO.
    pub fn connected(&mut self, now: Instant, conn: ConnId) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if !matches!(c.state, ConnState::Opening) {
            return;
        }
        c.state = ConnState::Idle(now);
        if let Some(dest) = self.dests.get_mut(&c.dest) {
            dest.opening = dest.opening.saturating_sub(1);
            dest.idle.push(conn);
        }
        self.dispatch(now);
    }

    /// A [`Action::Connect`] failed: every candidate was tried ([`Step::Failed`](super::Step)).
    /// If no session to the destination is open (others may still be opening), its ready
    /// transactions are deferred (and the destination waits `min_backoff`, Q-05) or bounced.
    pub fn connect_failed(&mut self, now: Instant, conn: ConnId, diagnosis: &Diagnosis) {
        let Some(c) = self.forget(conn) else { return };
        // No session is open to the destination (others may still be opening): it is down
        // for now. Waiting for the other attempts would let each failure open a
        // replacement, hammering a dead host.
        let down = self
            .dests
            .get(&c.dest)
            .is_some_and(|dest| dest.conns == dest.opening);
        if down {
            self.fail_ready(now, &c.dest, diagnosis);
        }
        self.dispatch(now);
    }

    /// The transaction of a [`Action::Send`] ended; `results` has one entry per recipient
    /// of the job (a missing one counts as deferred). `dsn_offered` says whether the next
    /// hop advertised DSN, which decides `relayed` notices (PT-03).
    pub fn transaction_done(
        &mut self,
        now: Instant,
        conn: ConnId,
        results: &[RecipientResult],
        dsn_offered: bool,
    ) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let ConnState::Busy(job) = std::mem::replace(&mut c.state, ConnState::Idle(now)) else {
            return;
        };
        c.transactions += 1;
        let key = c.dest.clone();
        if let Some(dest) = self.dests.get_mut(&key) {
            dest.idle.push(conn);
        }
        let mut delivered = false;
        for (index, _, _) in &job.recipients {
            let result = results.iter().find(|r| r.index == *index);
            let (verdict, diagnosis) = match result {
                Some(r) => (r.verdict, r.diagnosis.clone()),
                None => (
                    Verdict::Deferred,
                    Diagnosis::local(
                        451,
                        status::NO_ANSWER,
                        "no result reported for this recipient",
                    ),
                ),
            };
            delivered |= verdict == Verdict::Delivered;
            self.apply(now, &job.message, *index, verdict, diagnosis, dsn_offered);
        }
        if delivered {
            self.destination_works(now, &key);
        }
        self.settle(&job.message);
        self.dispatch(now);
    }

    /// The connection of a [`Action::Send`] was found dead before the transaction started
    /// (a reused connection the server had closed): the job goes back to the front of its
    /// destination's list and another connection is opened; no attempt is counted (DSP-07).
    /// On a connection that has carried no transaction yet this is an ordinary failure.
    pub fn job_unsent(&mut self, now: Instant, conn: ConnId) {
        let Some(c) = self.forget(conn) else { return };
        if let ConnState::Busy(job) = c.state {
            if c.transactions == 0 {
                let diagnosis =
                    Diagnosis::local(451, status::NO_ANSWER, "connection lost before MAIL");
                self.defer_job(now, &job, &diagnosis);
            } else if let Some(dest) = self.dests.get_mut(&c.dest) {
                for (index, _, _) in &job.recipients {
                    if let Some(state) = self
                        .entries
                        .get_mut(&job.message)
                        .and_then(|entry| entry.states.get_mut(*index))
                    {
                        *state = RcptState::Queued;
                    }
                }
                dest.ready.push_front(job);
                if !self.rotation.contains(&c.dest) {
                    self.rotation.push_back(c.dest.clone());
                }
            }
        }
        self.dispatch(now);
    }

    /// A connection ended without the queue asking (the server closed it, an I/O error).
    /// A transaction in progress is deferred.
    pub fn closed(&mut self, now: Instant, conn: ConnId) {
        let Some(c) = self.forget(conn) else { return };
        match c.state {
            ConnState::Busy(job) => {
                let diagnosis = Diagnosis::local(
                    451,
                    status::NO_ANSWER,
                    "connection lost during the transaction",
                );
                self.defer_job(now, &job, &diagnosis);
            }
            ConnState::Opening => {
                let diagnosis =
                    Diagnosis::local(451, status::NO_ANSWER, "connection closed while opening");
                self.connect_failed_forgotten(now, &c.dest, &diagnosis);
            }
            ConnState::Idle(_) => {}
        }
        self.dispatch(now);
    }

    fn connect_failed_forgotten(&mut self, now: Instant, key: &str, diagnosis: &Diagnosis) {
        if self
            .dests
            .get(key)
            .is_some_and(|dest| dest.conns == dest.opening)
        {
            self.fail_ready(now, key, diagnosis);
        }
    }

    fn port(&self) -> u16 {
        match self.config.route {
            Route::SmartHost { port, .. } | Route::Mx { port } => port,
        }
    }

    /// Removes a connection from the tables; its destination's counts follow.
    fn forget(&mut self, conn: ConnId) -> Option<Conn> {
        let c = self.conns.remove(&conn)?;
        if let Some(dest) = self.dests.get_mut(&c.dest) {
            dest.conns = dest.conns.saturating_sub(1);
            if matches!(c.state, ConnState::Opening) {
                dest.opening = dest.opening.saturating_sub(1);
            }
            dest.idle.retain(|id| *id != conn);
        }
        Some(c)
    }

    /// Settles or reschedules every ready transaction of `key` after a failure that
    /// concerns the whole destination (DNS, no host reachable).
    fn fail_ready(&mut self, now: Instant, key: &str, diagnosis: &Diagnosis) {
        let Some(dest) = self.dests.get_mut(key) else {
            return;
        };
        let jobs: Vec<Job> = dest.ready.drain(..).collect();
        dest.resolved = None;
        // The retry probes with one connection; successes widen the window again (Postfix's
        // negative feedback for a destination that failed).
        dest.window = 1;
        if !diagnosis.is_permanent() {
            dest.retry_at = Some(now + self.config.min_backoff);
        }
        let permanent = diagnosis.is_permanent();
        for job in jobs {
            for (index, _, _) in &job.recipients {
                let verdict = if permanent {
                    Verdict::Rejected
                } else {
                    Verdict::Deferred
                };
                self.apply(now, &job.message, *index, verdict, diagnosis.clone(), false);
            }
            self.settle(&job.message);
        }
    }

    fn defer_job(&mut self, now: Instant, job: &Job, diagnosis: &Diagnosis) {
        for (index, _, _) in &job.recipients {
            self.apply(
                now,
                &job.message,
                *index,
                Verdict::Deferred,
                diagnosis.clone(),
                false,
            );
        }
        self.settle(&job.message);
    }

    /// A delivery to `key` succeeded: widen its window and, if it was backing off, make its
    /// waiting recipients due now.
    fn destination_works(&mut self, now: Instant, key: &str) {
        let Some(dest) = self.dests.get_mut(key) else {
            return;
        };
        dest.window = (dest.window + 1).min(self.config.concurrency_limit.max(1));
        if dest.retry_at.take().is_none() {
            return;
        }
        let ids: Vec<QueueId> = self.entries.keys().cloned().collect();
        for id in ids {
            let route = self.config.route.clone();
            let Some(entry) = self.entries.get_mut(&id) else {
                continue;
            };
            let mut woke = false;
            for (i, (path, _)) in entry.message.recipients.iter().enumerate() {
                if let Some(state @ RcptState::Waiting(_)) = entry.states.get_mut(i)
                    && routing_key(&route, path).ok().as_deref() == Some(key)
                {
                    *state = RcptState::Waiting(now);
                    woke = true;
                }
            }
            if woke {
                self.reschedule(&id);
            }
        }
    }

    /// Records one recipient's outcome: delivered and rejected recipients are
    /// settled, with the notices their NOTIFY asks for; deferred ones wait
    /// `clamp(age, min_backoff, max_backoff)` unless their lifetime is over.
    fn apply(
        &mut self,
        now: Instant,
        id: &QueueId,
        index: usize,
        verdict: Verdict,
        diagnosis: Diagnosis,
        dsn_offered: bool,
    ) {
        let config = &self.config;
        let Some(entry) = self.entries.get_mut(id) else {
            return;
        };
        let Some((path, params)) = entry.message.recipients.get(index) else {
            return;
        };
        let Some(state) = entry.states.get_mut(index) else {
            return;
        };
        if *state == RcptState::Settled {
            return;
        }
        let bounce = matches!(entry.message.from, ReversePath::Null);
        let notify = params.notify;
        let wants = |pick: fn(&crate::codec::params::Notify) -> bool, default: bool| {
            !bounce && notify.as_ref().map_or(default, pick)
        };
        let notice = |action, status| NoticeRecipient {
            recipient: path.clone(),
            orcpt: params.orcpt.as_deref().cloned(),
            action,
            status,
            diagnosis: diagnosis.clone(),
        };
        match verdict {
            Verdict::Delivered => {
                *state = RcptState::Settled;
                if !dsn_offered && wants(|n| n.success, false) {
                    entry
                        .notices
                        .push(notice(NoticeAction::Relayed, status::SUCCESS));
                }
            }
            Verdict::Rejected => {
                *state = RcptState::Settled;
                if wants(|n| n.failure, true) {
                    let status = permanent_status(diagnosis.status);
                    entry.notices.push(notice(NoticeAction::Failed, status));
                }
            }
            Verdict::Deferred => {
                let age = now.saturating_duration_since(entry.message.arrival);
                let lifetime = if bounce {
                    config.bounce_lifetime
                } else {
                    config.lifetime
                };
                if age >= lifetime {
                    *state = RcptState::Settled;
                    if wants(|n| n.failure, true) {
                        entry
                            .notices
                            .push(notice(NoticeAction::Failed, status::EXPIRED));
                    }
                    return;
                }
                let delay = age.clamp(
                    config.min_backoff,
                    config.max_backoff.max(config.min_backoff),
                );
                *state = RcptState::Waiting(now + delay);
                let warn = config.delay_warning.is_some_and(|after| age >= after);
                if warn && !entry.warned && wants(|n| n.delay, true) {
                    entry.warned = true;
                    let status = if diagnosis.status.class() == 4 {
                        diagnosis.status
                    } else {
                        status::NO_ANSWER
                    };
                    entry.notices.push(notice(NoticeAction::Delayed, status));
                }
            }
        }
    }

    /// After outcomes: when nothing of the message is queued or in flight, its notices go
    /// out (one per message and event, DSN-07); when every recipient is settled, it is
    /// removed; otherwise its timer follows its earliest waiting recipient.
    fn settle(&mut self, id: &QueueId) {
        let config_lifetime = self.config.lifetime;
        let bounce_lifetime = self.config.bounce_lifetime;
        let Some(entry) = self.entries.get_mut(id) else {
            return;
        };
        let busy = entry
            .states
            .iter()
            .any(|s| matches!(s, RcptState::Queued | RcptState::InFlight));
        if busy {
            return;
        }
        if !entry.notices.is_empty() {
            if let Some(to) = entry.message.from.mailbox() {
                let lifetime = if entry.message.from == ReversePath::Null {
                    bounce_lifetime
                } else {
                    config_lifetime
                };
                self.actions.push_back(Action::Notify(Notice {
                    message: id.clone(),
                    to: to.clone(),
                    envid: entry.message.params.envid.clone(),
                    ret: entry.message.params.ret,
                    requiretls: entry.message.params.requiretls,
                    arrival: entry.message.arrival,
                    lifetime,
                    recipients: std::mem::take(&mut entry.notices),
                }));
            }
            entry.notices.clear();
        }
        if entry.states.iter().all(|s| *s == RcptState::Settled) {
            if let Some(due) = entry.due {
                self.timers.remove(&(due, id.clone()));
            }
            self.entries.remove(id);
            self.actions.push_back(Action::Remove { id: id.clone() });
            return;
        }
        self.reschedule(id);
    }

    /// Puts the message's timer at its earliest waiting recipient.
    fn reschedule(&mut self, id: &QueueId) {
        let Some(entry) = self.entries.get_mut(id) else {
            return;
        };
        let next = entry
            .states
            .iter()
            .filter_map(|s| match s {
                RcptState::Waiting(at) => Some(*at),
                _ => None,
            })
            .min();
        if entry.due == next {
            return;
        }
        if let Some(old) = entry.due.take() {
            self.timers.remove(&(old, id.clone()));
        }
        if let Some(at) = next {
            self.timers.insert((at, id.clone()));
            entry.due = Some(at);
        }
    }

    fn dispatch(&mut self, now: Instant) {
        self.collect_due(now);
        self.retire_spent(now);
        self.assign();
        self.open(now);
        self.close_idle(now);
    }

    /// Step 1: due recipients into their destinations' ready lists, grouped first.
    fn collect_due(&mut self, now: Instant) {
        while let Some((at, id)) = self.timers.first().cloned() {
            if at > now {
                break;
            }
            self.timers.remove(&(at, id.clone()));
            let route = self.config.route.clone();
            let per_job = self.config.recipients_per_transaction.max(1);
            let Some(entry) = self.entries.get_mut(&id) else {
                continue;
            };
            entry.due = None;
            let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
            let mut unroutable: Vec<(usize, Diagnosis)> = Vec::new();
            for (i, (path, _)) in entry.message.recipients.iter().enumerate() {
                let Some(RcptState::Waiting(due)) = entry.states.get(i) else {
                    continue;
                };
                if *due > now {
                    continue;
                }
                match routing_key(&route, path) {
                    Ok(key) => match groups.iter_mut().find(|(k, _)| *k == key) {
                        Some((_, list)) => list.push(i),
                        None => groups.push((key, vec![i])),
                    },
                    Err(diagnosis) => unroutable.push((i, diagnosis)),
                }
            }
            for (key, indices) in groups {
                let dest = self.dests.entry(key.clone()).or_insert_with(|| Dest {
                    window: self.config.initial_concurrency.max(1),
                    ..Dest::default()
                });
                if let Some(retry) = dest.retry_at.filter(|at| *at > now) {
                    for i in indices {
                        if let Some(state) = entry.states.get_mut(i) {
                            *state = RcptState::Waiting(retry);
                        }
                    }
                    continue;
                }
                dest.retry_at = None;
                for chunk in indices.chunks(per_job) {
                    let recipients = chunk
                        .iter()
                        .filter_map(|&i| {
                            let (path, params) = entry.message.recipients.get(i)?;
                            Some((i, path.clone(), params.clone()))
                        })
                        .collect();
                    for &i in chunk {
                        if let Some(state) = entry.states.get_mut(i) {
                            *state = RcptState::Queued;
                        }
                    }
                    dest.ready.push_back(Job {
                        message: id.clone(),
                        from: entry.message.from.clone(),
                        params: entry.message.params.clone(),
                        recipients,
                    });
                }
                if !self.rotation.contains(&key) {
                    self.rotation.push_back(key);
                }
            }
            for (i, diagnosis) in unroutable {
                self.apply(now, &id, i, Verdict::Rejected, diagnosis, false);
            }
            self.settle(&id);
        }
    }

    /// Step 2: idle connections past their transaction count or age are closed.
    fn retire_spent(&mut self, now: Instant) {
        let spent: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| {
                matches!(c.state, ConnState::Idle(_))
                    && (c.transactions >= self.config.messages_per_connection.max(1)
                        || now.saturating_duration_since(c.opened) >= self.config.reuse_limit)
            })
            .map(|(id, _)| *id)
            .collect();
        for conn in spent {
            self.forget(conn);
            self.actions.push_back(Action::Close { conn });
        }
    }

    /// Step 3: resolve destinations and give ready jobs to idle connections.
    fn assign(&mut self) {
        let keys: Vec<String> = self.rotation.iter().cloned().collect();
        for key in keys {
            let direct = self.direct_destination(&key);
            let Some(dest) = self.dests.get_mut(&key) else {
                continue;
            };
            if dest.ready.is_empty() {
                continue;
            }
            if dest.resolved.is_none() {
                if let Some(destination) = direct {
                    dest.resolved = Some(destination);
                } else {
                    if !dest.resolving {
                        dest.resolving = true;
                        self.actions.push_back(Action::Resolve {
                            domain: key.clone(),
                        });
                    }
                    continue;
                }
            }
            while !dest.ready.is_empty() {
                let Some(conn) = dest.idle.pop() else { break };
                let Some(job) = dest.ready.pop_front() else {
                    break;
                };
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.state = ConnState::Busy(job.clone());
                }
                if let Some(entry) = self.entries.get_mut(&job.message) {
                    for (i, _, _) in &job.recipients {
                        if let Some(state) = entry.states.get_mut(*i) {
                            *state = RcptState::InFlight;
                        }
                    }
                }
                self.actions.push_back(Action::Send { conn, job });
            }
        }
        self.rotation.retain(|key| {
            self.dests
                .get(key)
                .is_some_and(|dest| !dest.ready.is_empty())
        });
    }

    /// Step 4: open connections, one per destination per round (DSP-08).
    fn open(&mut self, now: Instant) {
        loop {
            let mut opened = false;
            let keys: Vec<String> = self.rotation.iter().cloned().collect();
            for key in keys {
                if self.conns.len() >= self.config.connection_limit {
                    return;
                }
                let Some(dest) = self.dests.get_mut(&key) else {
                    continue;
                };
                let Some(destination) = dest.resolved.clone() else {
                    continue;
                };
                if dest.ready.len() <= dest.opening || dest.conns >= dest.window {
                    continue;
                }
                dest.conns += 1;
                dest.opening += 1;
                let conn = ConnId(self.next_conn);
                self.next_conn += 1;
                self.conns.insert(
                    conn,
                    Conn {
                        dest: key.clone(),
                        state: ConnState::Opening,
                        opened: now,
                        transactions: 0,
                    },
                );
                self.actions
                    .push_back(Action::Connect { conn, destination });
                opened = true;
            }
            if !opened {
                return;
            }
            // Next round starts after the destination served first this time.
            self.rotation.rotate_left(1.min(self.rotation.len()));
        }
    }

    /// Step 5: connections idle for `idle_close` with nothing to do are closed; a
    /// destination with no connection and nothing ready forgets its DNS answer (DNS-03).
    fn close_idle(&mut self, now: Instant) {
        let idle: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| match c.state {
                ConnState::Idle(since) => {
                    now.saturating_duration_since(since) >= self.config.idle_close
                        && self
                            .dests
                            .get(&c.dest)
                            .is_none_or(|dest| dest.ready.is_empty())
                }
                _ => false,
            })
            .map(|(id, _)| *id)
            .collect();
        for conn in idle {
            self.forget(conn);
            self.actions.push_back(Action::Close { conn });
        }
        self.dests.retain(|_, dest| {
            if dest.conns == 0 && dest.ready.is_empty() && !dest.resolving {
                dest.resolved = None;
            }
            dest.conns > 0
                || !dest.ready.is_empty()
                || dest.resolving
                || dest.retry_at.is_some_and(|at| at > now)
        });
    }

    /// The destination needing no DNS for `key`: the smart host without MX lookup, or an
    /// address literal.
    fn direct_destination(&self, key: &str) -> Option<Arc<Destination>> {
        let port = self.port();
        if let Route::SmartHost {
            host,
            mx_lookup: false,
            ..
        } = &self.config.route
        {
            return Some(Destination::direct(key, host.clone(), port));
        }
        let inner = key.strip_prefix('[')?.strip_suffix(']')?;
        Some(Destination::direct(key, inner, port))
    }
}

/// A 5.x.y status for a failed recipient (DSN-03: a 4xx that became final after the
/// lifetime keeps its detail under class 5).
fn permanent_status(status: EnhancedCode) -> EnhancedCode {
    if status.class() == 5 {
        status
    } else {
        status::EXPIRED
    }
}

/// The destination key of a recipient: the smart host, or the lower-cased domain, or
/// `[ip]` for an address literal (RT-08: delivered there without DNS). `<Postmaster>` and
/// general address literals cannot be routed: 5.1.3 / 5.1.2.
fn routing_key(route: &Route, path: &ForwardPath) -> Result<String, Diagnosis> {
    if let Route::SmartHost { host, .. } = route {
        return Ok(normalise(host));
    }
    let Some(mailbox) = path.mailbox() else {
        return Err(Diagnosis::local(
            550,
            status::BAD_MAILBOX,
            "<Postmaster> without a domain cannot be relayed",
        ));
    };
    match mailbox.domain() {
        DomainRef::Name(name) => Ok(normalise(name)),
        DomainRef::Literal(AddressLiteral::Ipv4(ip)) => Ok(format!("[{ip}]")),
        DomainRef::Literal(AddressLiteral::Ipv6(ip)) => Ok(format!("[{ip}]")),
        DomainRef::Literal(literal @ AddressLiteral::General { .. }) => Err(Diagnosis::local(
            550,
            status::BAD_DESTINATION,
            &format!("cannot route to the address literal {literal}"),
        )),
    }
}
