//! Properties of the relay's scheduler under random traffic and random next hops, in
//! virtual time: whatever the hops answer, every message is settled and removed within its
//! lifetime, no recipient is delivered twice or tried again once settled, a sender gets a
//! notice exactly when a recipient was not delivered (never for `<>` messages, DSN-05), and
//! the queue never spins.
#![allow(clippy::unwrap_used)]

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use proptest::prelude::*;
use smtp_proto::client::Verdict;
use smtp_proto::relay::{Diagnosis, MxAnswer, QueueConfig, Route};
use smtp_proto::{EnhancedCode, relay::Action};
use smtp_proto_tests::relay_sim::Sim;

const DAY: Duration = Duration::from_secs(86_400);

/// Destinations the random traffic goes to.
const DOMAINS: [&str; 4] = ["a.example", "b.example", "c.example", "d.example"];

/// A message: whether its sender is `<>`, and its recipients as (domain, local part) picks.
type Traffic = Vec<(bool, Vec<(usize, u8)>)>;

fn traffic() -> impl Strategy<Value = Traffic> {
    prop::collection::vec(
        (
            prop::bool::weighted(0.2),
            prop::collection::vec((0..DOMAINS.len(), 0u8..4), 1..6),
        ),
        1..8,
    )
}

/// A small deterministic generator for the hops' answers (SplitMix64).
#[derive(Clone, Copy)]
struct Dice(u64);

impl Dice {
    fn roll(&mut self, sides: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % sides
    }
}

/// What the random hops did to each recipient: (message, recipient index) → verdicts.
type Outcomes = Rc<RefCell<HashMap<(String, usize), Vec<Verdict>>>>;

/// A simulation whose DNS, connections and transactions answer at random (`seed`):
/// lookups sometimes fail for now, connections sometimes fail (for now or for good), and
/// each recipient is delivered, deferred or refused.
fn random_sim(seed: u64) -> (Sim, Outcomes) {
    let mut config = QueueConfig::new(Route::Mx { port: 25 }, "relay.example");
    config.seed = seed;
    let mut sim = Sim::new(config);
    let dice = Rc::new(RefCell::new(Dice(seed)));
    let roll = {
        let dice = dice.clone();
        move |sides| dice.borrow_mut().roll(sides)
    };
    let dns_roll = roll.clone();
    sim.dns = Box::new(move |_, _| {
        if dns_roll(10) == 0 {
            MxAnswer::TempFail("SERVFAIL".into())
        } else {
            MxAnswer::NoData
        }
    });
    let connect_roll = roll.clone();
    sim.connect = Box::new(move |_, _| match connect_roll(20) {
        0..=2 => Err(Diagnosis::local(
            421,
            EnhancedCode::new(4, 4, 1).unwrap(),
            "connection refused",
        )),
        3 => Err(Diagnosis::local(
            554,
            EnhancedCode::new(5, 3, 0).unwrap(),
            "no service here",
        )),
        _ => Ok(()),
    });
    let outcomes: Outcomes = Rc::default();
    let record = outcomes.clone();
    sim.deliver = Box::new(move |_, job, _| {
        job.recipients
            .iter()
            .map(|(index, _, _)| {
                let answer = match roll(10) {
                    0..=5 => (Verdict::Delivered, "250 2.0.0 ok"),
                    6..=7 => (Verdict::Deferred, "451 4.3.0 try later"),
                    _ => (Verdict::Rejected, "550 5.1.1 no such user"),
                };
                record
                    .borrow_mut()
                    .entry((job.message.to_string(), *index))
                    .or_default()
                    .push(answer.0);
                answer
            })
            .collect()
    });
    (sim, outcomes)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn every_message_settles_once_and_bounces_are_never_bounced(
        seed in any::<u64>(),
        traffic in traffic(),
    ) {
        let (mut sim, outcomes) = random_sim(seed);
        let mut ids = Vec::new();
        for (n, (null_sender, recipients)) in traffic.iter().enumerate() {
            let id = format!("M{n}");
            let to: Vec<String> = recipients
                .iter()
                .map(|(domain, local)| format!("u{local}@{}", DOMAINS[*domain]))
                .collect();
            let to: Vec<&str> = to.iter().map(String::as_str).collect();
            let from = if *null_sender { "" } else { "s@sender.example" };
            sim.send(&id, from, &to);
            ids.push((id, *null_sender, to.len()));
        }
        // The lifetime is 5 days; a day more lets the last retries and closes happen.
        sim.run_until(6 * DAY);

        for (id, null_sender, _) in &ids {
            let removals = sim
                .actions(|a| match a {
                    Action::Remove { id: removed } if removed.as_str() == id => Some(()),
                    _ => None,
                })
                .len();
            prop_assert_eq!(removals, 1, "{} removed once", id);
            if *null_sender {
                prop_assert!(
                    sim.notices().iter().all(|n| n.message.as_str() != id),
                    "a notice for the <> message {}", id
                );
            }
        }
        // A sender hears of a message exactly when some recipient was not delivered
        // (default NOTIFY: failures only; no delay warnings configured).
        for (id, null_sender, recipients) in &ids {
            let delivered = (0..*recipients)
                .filter(|index| {
                    outcomes
                        .borrow()
                        .get(&(id.clone(), *index))
                        .and_then(|verdicts| verdicts.last().copied())
                        == Some(Verdict::Delivered)
                })
                .count();
            let noticed = sim.notices().iter().any(|n| n.message.as_str() == id);
            prop_assert_eq!(
                noticed,
                !null_sender && delivered < *recipients,
                "{}: {} of {} delivered", id, delivered, recipients
            );
        }
        for ((id, index), verdicts) in outcomes.borrow().iter() {
            // Only the last try may settle a recipient: delivered or refused ends it.
            let settled_before_last = verdicts
                .iter()
                .rev()
                .skip(1)
                .any(|v| *v != Verdict::Deferred);
            prop_assert!(!settled_before_last, "{} #{} tried after it settled: {:?}", id, index, verdicts);
        }
        prop_assert_eq!(sim.queue.stats().messages, 0);
    }
}
