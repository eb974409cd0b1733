//! One delivery attempt's walk over a destination's hosts and addresses (RFC 5321 §5.1,
//! Postfix `smtp_connect.c`), and what its failures mean.
//!
//! The program drives it: [`Attempt::next`] says resolve this host or connect to this
//! address; the program reports the DNS answer or how the connection went. When no
//! candidate is left, [`Step::Failed`] carries the verdict for the whole attempt: temporary
//! if any failure on the way was temporary (MX-09), permanent only when every host was
//! definitely unusable (MX-05, MX-10) or a loop was found at the best preference (MX-14).

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::route::{AddrAnswer, Destination, printable};
use super::{Diagnosis, status};

/// What the program does next for an [`Attempt`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Look up the A and AAAA records of this host, then call [`Attempt::resolved`].
    Resolve(String),
    /// Connect to this address, greet and say EHLO; on failure call
    /// [`Attempt::connect_failed`] or [`Attempt::session_failed`].
    Connect(SocketAddr),
    /// No candidate left: the attempt failed with this diagnosis.
    Failed(Diagnosis),
}

/// Addresses that recently failed to accept a connection, skipped for a while (MX-17,
/// RFC 5321 §4.5.4.1 "keep a list of hosts it cannot reach"). Bounded: at most
/// `capacity` entries; expired ones are dropped first, then the whole list if still full.
#[derive(Clone, Debug)]
pub struct BadAddresses {
    until: HashMap<IpAddr, Instant>,
    memory: Duration,
    capacity: usize,
}

impl Default for BadAddresses {
    /// Ten minutes' memory (`manual::relay` MX-17), at most 10,000 addresses.
    fn default() -> Self {
        Self::new(Duration::from_secs(600), 10_000)
    }
}

impl BadAddresses {
    /// Remembers each failure for `memory`, at most `capacity` addresses at once.
    pub fn new(memory: Duration, capacity: usize) -> Self {
        Self {
            until: HashMap::new(),
            memory,
            capacity: capacity.max(1),
        }
    }

    /// Records that `addr` refused or timed out at `now`.
    pub fn insert(&mut self, now: Instant, addr: IpAddr) {
        if self.until.len() >= self.capacity {
            self.until.retain(|_, until| *until > now);
            if self.until.len() >= self.capacity {
                self.until.clear();
            }
        }
        self.until.insert(addr, now + self.memory);
    }

    /// `true` while `addr` is remembered as unreachable.
    pub fn contains(&self, now: Instant, addr: IpAddr) -> bool {
        self.until.get(&addr).is_some_and(|until| *until > now)
    }

    /// Forgets `addr` (it accepted a connection).
    pub fn remove(&mut self, addr: IpAddr) {
        self.until.remove(&addr);
    }
}

/// One attempt to reach a destination (see the [module documentation](crate::relay)).
#[derive(Clone, Debug)]
pub struct Attempt {
    destination: Arc<Destination>,
    next_host: usize,
    /// Resolved, untried addresses, each with its host's index.
    pending: VecDeque<(IpAddr, usize)>,
    /// The host whose address was last handed out or looked up.
    current: usize,
    addresses_tried: usize,
    sessions: usize,
    address_limit: usize,
    session_limit: usize,
    temporary: Option<Diagnosis>,
    permanent: Option<Diagnosis>,
    stop: Option<Diagnosis>,
}

impl Attempt {
    /// An attempt with Postfix's limits: at most 5 addresses (`smtp_mx_address_limit`) and
    /// 2 completed sessions (`smtp_mx_session_limit`), MX-13.
    pub fn new(destination: Arc<Destination>) -> Self {
        Self::with_limits(destination, 5, 2)
    }

    /// An attempt trying at most `addresses` addresses and `sessions` sessions that reached
    /// a greeting (both at least 1).
    pub fn with_limits(destination: Arc<Destination>, addresses: usize, sessions: usize) -> Self {
        Self {
            destination,
            next_host: 0,
            pending: VecDeque::new(),
            current: 0,
            addresses_tried: 0,
            sessions: 0,
            address_limit: addresses.max(1),
            session_limit: sessions.max(1),
            temporary: None,
            permanent: None,
            stop: None,
        }
    }

    /// The destination being tried.
    pub fn destination(&self) -> &Arc<Destination> {
        &self.destination
    }

    /// The next step. Addresses in `bad` are skipped (MX-17) and count as a temporary failure.
    pub fn next(&mut self, now: Instant, bad: &BadAddresses) -> Step {
        loop {
            if let Some(diagnosis) = self.stop.take() {
                return Step::Failed(diagnosis);
            }
            if self.sessions >= self.session_limit || self.addresses_tried >= self.address_limit {
                return Step::Failed(self.verdict());
            }
            if let Some((addr, host)) = self.pending.pop_front() {
                self.current = host;
                if bad.contains(now, addr) {
                    self.temporary = Some(Diagnosis::local(
                        451,
                        status::NO_ANSWER,
                        &format!("{addr} failed recently; skipped until it is retried"),
                    ));
                    continue;
                }
                self.addresses_tried += 1;
                return Step::Connect(SocketAddr::new(addr, self.destination.port));
            }
            let Some(hop) = self.destination.hosts.get(self.next_host) else {
                return Step::Failed(self.verdict());
            };
            self.current = self.next_host;
            self.next_host += 1;
            match hop.host.parse::<IpAddr>() {
                Ok(addr) => self.pending.push_back((addr, self.current)),
                Err(_) => return Step::Resolve(hop.host.clone()),
            }
        }
    }

    /// The A/AAAA answer for the host of the last [`Step::Resolve`]: addresses in the
    /// resolver's order (MX-13, MX-04); a failure is remembered and the next host is tried
    /// (MX-09).
    pub fn resolved(&mut self, answer: AddrAnswer) {
        let host = self.host_name();
        match answer {
            AddrAnswer::Records(addrs) if !addrs.is_empty() => {
                let room = self.address_limit.saturating_sub(self.addresses_tried);
                let current = self.current;
                self.pending
                    .extend(addrs.into_iter().take(room).map(|addr| (addr, current)));
            }
            AddrAnswer::Records(_) | AddrAnswer::NoData | AddrAnswer::NxDomain => {
                let (code, status, text) = if self.destination.implicit {
                    (
                        550,
                        status::BAD_DESTINATION,
                        format!("Host or domain name not found: {host} has no address"),
                    )
                } else {
                    (
                        550,
                        status::UNROUTABLE,
                        format!("MX host {host} has no address"),
                    )
                };
                self.permanent = Some(Diagnosis::local(code, status, &text));
            }
            AddrAnswer::TempFail(reason) => {
                self.temporary = Some(Diagnosis::local(
                    451,
                    status::DNS_TEMPORARY,
                    &format!(
                        "address lookup for {host} failed temporarily: {}",
                        printable(&reason)
                    ),
                ));
            }
        }
    }

    /// The TCP connection to `addr` failed (refused, unreachable, timed out): remembered in
    /// `bad` (MX-17), and the next address is tried (MX-15).
    pub fn connect_failed(
        &mut self,
        now: Instant,
        addr: SocketAddr,
        reason: &str,
        bad: &mut BadAddresses,
    ) {
        bad.insert(now, addr.ip());
        self.temporary = Some(Diagnosis::local(
            451,
            status::NO_ANSWER,
            &format!(
                "connect to {} [{addr}]: {}",
                self.host_name(),
                printable(reason)
            ),
        ));
    }

    /// A session reached the server but failed before it could carry mail: a 4xx or 5xx
    /// greeting, a 4xx EHLO, a TLS failure. The next address is tried (MX-15); it counts
    /// towards the session limit (MX-13).
    pub fn session_failed(&mut self, diagnosis: Diagnosis) {
        self.sessions += 1;
        if diagnosis.is_permanent() {
            self.permanent = Some(diagnosis);
        } else {
            self.temporary = Some(diagnosis);
        }
    }

    /// The server greeted with our own host name (MX-14): at the best preference the mail
    /// loops back to us, so the attempt stops with 5.4.6; at a worse one the next host is
    /// tried and the failure is temporary, 4.4.6.
    pub fn loops_back(&mut self) {
        self.sessions += 1;
        let key = &self.destination.key;
        let best = self.destination.hosts.first().map(|hop| hop.preference);
        let here = self
            .destination
            .hosts
            .get(self.current)
            .map(|hop| hop.preference);
        if here == best {
            self.stop = Some(Diagnosis::local(
                554,
                status::LOOP,
                &format!("mail for {key} loops back to myself"),
            ));
        } else {
            self.temporary = Some(Diagnosis::local(
                451,
                status::LOOP_TEMPORARY,
                &format!("mail for {key} loops back to myself"),
            ));
        }
    }

    /// The attempt's verdict when nothing is left to try: any temporary failure makes it
    /// temporary (MX-09); otherwise the last permanent one (MX-05, MX-10).
    fn verdict(&self) -> Diagnosis {
        self.temporary
            .clone()
            .or_else(|| self.permanent.clone())
            .unwrap_or_else(|| {
                Diagnosis::local(
                    451,
                    status::NO_ANSWER,
                    &format!("no host of {} could be tried", self.destination.key),
                )
            })
    }

    fn host_name(&self) -> String {
        self.destination
            .hosts
            .get(self.current)
            .map(|hop| hop.host.clone())
            .unwrap_or_default()
    }
}
