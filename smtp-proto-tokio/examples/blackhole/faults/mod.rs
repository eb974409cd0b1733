//! Scripted faults (`--fault`, `--seed`): rules that fire at a chosen phase of a session
//! and delay, slow down, replace or cut off the server's answer.
//!
//! [`parse`] reads a rule ([`parse::GRAMMAR`]), [`rule`] holds its typed form, and this
//! module runs the rules: [`Faults`] is shared by every session (the rules and the
//! counters that span sessions), [`SessionFaults`] belongs to one session (its random
//! numbers, its own counts, what the adapter must do with the next reply).
//!
//! Determinism: each session draws from its own generator, seeded from `--seed` and the
//! session's number (sessions are numbered in the order they start), so the same
//! sequence of sessions meets the same faults whichever thread serves it.

pub(crate) mod parse;
pub(crate) mod rule;

use std::collections::{HashMap, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::IpAddr;
use std::sync::Mutex;

use smtp_proto::Reply;
use smtp_proto_tokio::Output;

use rule::{Disconnect, Part};
pub(crate) use rule::{Phase, Rule};

/// How many keys a `first=` rule remembers; past it the oldest is forgotten (and its
/// next attempt counts as a first one again).
pub(crate) const KEYS_REMEMBERED: usize = 65_536;

/// The rules of a run and the counters that span sessions.
#[derive(Debug)]
pub(crate) struct Faults {
    rules: Vec<Rule>,
    seed: u64,
    counters: Mutex<Vec<Counter>>,
}

/// What one rule counted across sessions.
#[derive(Debug, Default)]
struct Counter {
    /// Times the rule's `every=` was consulted.
    reached: u64,
    /// `first=`: how often each key was seen, with the keys in the order first seen.
    seen: HashMap<u64, u32>,
    order: VecDeque<u64>,
}

impl Counter {
    /// Counts one more time for `key` and returns how many times it was seen before.
    fn see(&mut self, key: u64) -> u32 {
        if let Some(count) = self.seen.get_mut(&key) {
            let before = *count;
            *count = count.saturating_add(1);
            return before;
        }
        if self.order.len() >= KEYS_REMEMBERED
            && let Some(oldest) = self.order.pop_front()
        {
            self.seen.remove(&oldest);
        }
        self.seen.insert(key, 1);
        self.order.push_back(key);
        0
    }
}

/// What a session tells the rules about itself when a phase is reached.
#[derive(Debug, Default)]
pub(crate) struct Facts<'a> {
    /// The client's address.
    pub(crate) client: Option<IpAddr>,
    /// The HELO/EHLO name.
    pub(crate) helo: &'a str,
    /// The AUTH user name.
    pub(crate) user: &'a str,
    /// The envelope sender, as `<...>` or bare.
    pub(crate) sender: &'a str,
    /// The recipient of this RCPT, as `<...>` or bare.
    pub(crate) rcpt: &'a str,
}

impl Facts<'_> {
    /// The part's value, angle brackets dropped.
    fn get(&self, part: Part) -> String {
        let bare = |s: &str| {
            s.strip_prefix('<')
                .and_then(|s| s.strip_suffix('>'))
                .unwrap_or(s)
                .to_owned()
        };
        match part {
            Part::Client => self.client.map(|ip| ip.to_string()).unwrap_or_default(),
            Part::Helo => self.helo.to_owned(),
            Part::User => self.user.to_owned(),
            Part::Sender => bare(self.sender),
            Part::Rcpt => bare(self.rcpt),
        }
    }
}

impl Faults {
    /// The rules in the order given; `seed` makes the probabilities repeatable.
    pub(crate) fn new(rules: Vec<Rule>, seed: u64) -> Self {
        let counters = rules.iter().map(|_| Counter::default()).collect();
        Self {
            rules,
            seed,
            counters: Mutex::new(counters),
        }
    }

    /// Whether any rule is given.
    pub(crate) fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The seed the sessions' generators derive from.
    pub(crate) fn seed(&self) -> u64 {
        self.seed
    }

    /// The fault state of session number `id`.
    pub(crate) fn session(&self, id: u64) -> SessionFaults {
        SessionFaults {
            rng: fastrand::Rng::with_seed(mix(self.seed ^ mix(id))),
            reached: [0; Phase::ALL.len()],
            output: Output::NORMAL,
            cut_after: None,
            content: 0,
        }
    }

    /// The first rule at `phase` whose conditions hold, counting this visit.
    fn fire(&self, session: &mut SessionFaults, phase: Phase, facts: &Facts<'_>) -> Option<&Rule> {
        let reached = &mut session.reached[phase.index()];
        *reached = reached.saturating_add(1);
        let reached = *reached;
        let mut counters = self.counters.lock().ok()?;
        for (rule, counter) in self.rules.iter().zip(counters.iter_mut()) {
            if rule.phase != phase {
                continue;
            }
            let when = &rule.when;
            if let Some(pattern) = &when.matches
                && !rule::glob(pattern, &facts.get(phase.subject()))
            {
                continue;
            }
            if when.after.is_some_and(|after| reached <= after) {
                continue;
            }
            if let Some(every) = when.every {
                counter.reached = counter.reached.saturating_add(1);
                if counter.reached % every != 0 {
                    continue;
                }
            }
            if let Some((first, parts)) = &when.first {
                let mut hasher = DefaultHasher::new();
                for part in parts {
                    facts.get(*part).to_ascii_lowercase().hash(&mut hasher);
                }
                if counter.see(hasher.finish()) >= *first {
                    continue;
                }
            }
            if let Some(p) = when.probability
                && session.rng.f64() >= p
            {
                continue;
            }
            return Some(rule);
        }
        None
    }
}

/// One session's fault state.
#[derive(Debug)]
pub(crate) struct SessionFaults {
    rng: fastrand::Rng,
    /// Times each phase was reached in this session.
    reached: [u32; Phase::ALL.len()],
    /// What the adapter does with the next reply (taken by [`output`](Self::output)).
    output: Output,
    /// Disconnect once this many octets of content came.
    cut_after: Option<u64>,
    /// Octets of content of the current message so far.
    content: u64,
}

impl SessionFaults {
    /// Runs the rules at `phase`: waits for a delay, arranges a tarpit or disconnect, and
    /// returns the reply a rule chose (`Err`), or `Ok` for the normal answer.
    pub(crate) async fn at(
        &mut self,
        faults: &Faults,
        phase: Phase,
        facts: &Facts<'_>,
    ) -> Result<(), Reply> {
        if faults.is_empty() {
            return Ok(());
        }
        let Some(rule) = faults.fire(self, phase, facts) else {
            return Ok(());
        };
        tracing::info!(%phase, rule = %rule.text, "fault");
        let action = &rule.action;
        if let Some(delay) = action.delay {
            tokio::time::sleep(delay).await;
        }
        if let Some(interval) = action.tarpit {
            self.output = Output::tarpit(interval);
        }
        match action.disconnect {
            Some(Disconnect::Before) => {
                self.output = Output::disconnect();
                // Never sent: the connection closes first. A refusal, so nothing is
                // accepted or stored behind the client's back.
                return Err(Reply::local_error());
            }
            Some(Disconnect::After) => self.output = self.output.and_close(),
            Some(Disconnect::AfterContent(octets)) => {
                self.content = 0;
                self.cut_after = Some(octets);
            }
            None => {}
        }
        action.reply.clone().map_or(Ok(()), Err)
    }

    /// Counts `octets` of message content; past a `disconnect=OCTETS` the connection is
    /// cut.
    pub(crate) fn content(&mut self, octets: usize) {
        let Some(limit) = self.cut_after else {
            return;
        };
        self.content = self.content.saturating_add(octets as u64);
        if self.content >= limit {
            self.cut_after = None;
            self.output = Output::disconnect();
        }
    }

    /// What the adapter does with the next reply; back to normal afterwards.
    pub(crate) fn output(&mut self) -> Output {
        std::mem::take(&mut self.output)
    }
}

/// SplitMix64's finaliser: spreads a seed's bits.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn faults(rules: &[&str], seed: u64) -> Faults {
        Faults::new(rules.iter().map(|r| r.parse().unwrap()).collect(), seed)
    }

    fn fires(f: &Faults, s: &mut SessionFaults, phase: Phase, facts: &Facts<'_>) -> bool {
        f.fire(s, phase, facts).is_some()
    }

    #[test]
    fn greylisting_fires_once_per_key() {
        let f = faults(
            &["rcpt:first=1,key=sender+rcpt:reply=451 4.7.1 Greylisted"],
            1,
        );
        let facts = |rcpt| Facts {
            sender: "<a@x.example>",
            rcpt,
            ..Facts::default()
        };
        let mut s = f.session(1);
        assert!(fires(&f, &mut s, Phase::Rcpt, &facts("<b@y.example>")));
        assert!(fires(&f, &mut s, Phase::Rcpt, &facts("<c@y.example>")));
        let mut s = f.session(2);
        assert!(!fires(&f, &mut s, Phase::Rcpt, &facts("<B@Y.example>")));
        assert!(!fires(&f, &mut s, Phase::Mail, &facts("<d@y.example>")));
    }

    #[test]
    fn first_remembers_a_bounded_number_of_keys() {
        let mut counter = Counter::default();
        for key in 0..(KEYS_REMEMBERED as u64 + 10) {
            assert_eq!(counter.see(key), 0);
        }
        assert_eq!(counter.seen.len(), KEYS_REMEMBERED);
        assert_eq!(counter.order.len(), KEYS_REMEMBERED);
        // The oldest were forgotten, the newest are known.
        assert_eq!(counter.see(0), 0);
        assert_eq!(counter.see(KEYS_REMEMBERED as u64 + 9), 1);
    }

    #[test]
    fn every_after_and_match() {
        let f = faults(
            &[
                "mail:every=3:reply=451",
                "mail:after=4:close",
                "rcpt:match=*@slow.example:delay=1s",
            ],
            7,
        );
        let facts = Facts::default();
        let mut s = f.session(1);
        let fired: Vec<Option<&str>> = (0..6)
            .map(|_| f.fire(&mut s, Phase::Mail, &facts).map(|r| r.text.as_str()))
            .collect();
        assert_eq!(
            fired,
            [
                None,
                None,
                Some("mail:every=3:reply=451"),
                None,
                Some("mail:after=4:close"),
                Some("mail:every=3:reply=451")
            ]
        );
        let slow = Facts {
            rcpt: "<x@SLOW.example>",
            ..Facts::default()
        };
        let fast = Facts {
            rcpt: "<x@fast.example>",
            ..Facts::default()
        };
        assert!(fires(&f, &mut s, Phase::Rcpt, &slow));
        assert!(!fires(&f, &mut s, Phase::Rcpt, &fast));
    }

    #[test]
    fn probabilities_repeat_with_the_seed() {
        let draw = |seed| {
            let f = faults(&["dot:p=0.3:reply=451"], seed);
            (1..=20)
                .map(|id| {
                    let mut s = f.session(id);
                    (0..10)
                        .map(|_| fires(&f, &mut s, Phase::Dot, &Facts::default()))
                        .collect::<Vec<_>>()
                })
                .collect::<Vec<_>>()
        };
        let a = draw(42);
        assert_eq!(a, draw(42));
        assert_ne!(a, draw(43));
        let hits = a.iter().flatten().filter(|&&b| b).count();
        assert!((30..90).contains(&hits), "{hits} of 200");
    }

    #[tokio::test]
    async fn actions_set_the_output() {
        let f = faults(
            &[
                "rcpt:tarpit=10ms,reply=451 x",
                "mail:disconnect",
                "data:disconnect=100",
                "ehlo:disconnect=after",
            ],
            1,
        );
        let mut s = f.session(1);
        let facts = Facts::default();
        assert_eq!(s.at(&f, Phase::Rcpt, &facts).await.unwrap_err().code(), 451);
        assert_eq!(
            s.output().tarpit_interval(),
            Some(std::time::Duration::from_millis(10))
        );
        assert!(s.output().is_normal());
        assert!(s.at(&f, Phase::Mail, &facts).await.is_err());
        assert!(s.output().closes_now());
        assert!(s.at(&f, Phase::Ehlo, &facts).await.is_ok());
        assert!(s.output().closes_after_write());
        assert!(s.at(&f, Phase::Data, &facts).await.is_ok());
        s.content(60);
        assert!(s.output().is_normal());
        s.content(40);
        assert!(s.output().closes_now());
        assert!(s.at(&f, Phase::Quit, &facts).await.is_ok());
    }
}
