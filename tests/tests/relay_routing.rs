//! Routing and connection attempts against manual::relay (smart host, MX selection,
//! null MX) and the Twisted regressions TW-04/TW-05, through the queue's public actions and
//! [`Attempt`].
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use smtp_proto::relay::{
    Action, AddrAnswer, Attempt, BadAddresses, Destination, MxAnswer, MxRecord, NextHop,
    QueueConfig, Route, Step,
};
use smtp_proto_tests::relay_sim::{Sim, reply};

/// The destination the queue builds for `answer` (seeded), or the notice's status.
fn route(answer: MxAnswer, seed: u64) -> Result<Arc<Destination>, String> {
    let mut config = QueueConfig::new(Route::Mx { port: 25 }, "me.example");
    config.seed = seed;
    let mut sim = Sim::new(config);
    sim.auto_connect = false;
    let answer = std::cell::RefCell::new(Some(answer));
    sim.dns = Box::new(move |_, _| answer.borrow_mut().take().unwrap_or(MxAnswer::NoData));
    sim.send("m1", "s@o.example", &["x@y.example"]);
    if let Some(destination) = sim
        .actions(|a| match a {
            Action::Connect { destination, .. } => Some(destination.clone()),
            _ => None,
        })
        .into_iter()
        .next()
    {
        return Ok(destination);
    }
    match sim.notices().first() {
        Some(notice) => Err(notice.recipients[0].status.to_string()),
        None => Err("deferred".into()),
    }
}

fn hosts(destination: &Destination) -> Vec<&str> {
    destination.hosts.iter().map(|h| h.host.as_str()).collect()
}

fn mx(records: &[(u16, &str)]) -> MxAnswer {
    MxAnswer::Records(records.iter().map(|(p, h)| MxRecord::new(*p, *h)).collect())
}

/// MX-01, TW-04: every MX host, by preference.
#[test]
fn mx_01_hosts_are_tried_by_preference() {
    let destination = route(mx(&[(20, "b.example"), (10, "a.example")]), 0).unwrap();
    assert_eq!(hosts(&destination), ["a.example", "b.example"]);
}

/// MX-02: equal preferences in random order (both orders occur over seeds); worse ones last.
#[test]
fn mx_02_equal_preferences_are_randomised() {
    let mut orders = HashSet::new();
    for seed in 0..32 {
        let destination = route(
            mx(&[(10, "a.example"), (10, "b.example"), (20, "c.example")]),
            seed,
        )
        .unwrap();
        let order = hosts(&destination).join(",");
        assert!(order.ends_with(",c.example"), "{order}");
        orders.insert(order);
    }
    assert_eq!(orders.len(), 2, "{orders:?}");
}

/// MX-03, MX-04: no MX records: the domain itself, preference 0 (its A and AAAA both).
#[test]
fn mx_03_no_mx_records_means_the_implicit_mx() {
    let destination = route(MxAnswer::NoData, 0).unwrap();
    assert_eq!(
        destination.hosts,
        [NextHop {
            host: "y.example".into(),
            preference: 0
        }]
    );
    assert!(destination.implicit);
    let mut attempt = Attempt::new(destination);
    let bad = BadAddresses::default();
    assert_eq!(
        attempt.next(smtp_proto_tests::now(), &bad),
        Step::Resolve("y.example".into())
    );
    let v4: IpAddr = "192.0.2.5".parse().unwrap();
    let v6: IpAddr = "2001:db8::5".parse().unwrap();
    attempt.resolved(AddrAnswer::Records(vec![v6, v4]));
    let now = smtp_proto_tests::now();
    assert_eq!(
        attempt.next(now, &bad),
        Step::Connect(SocketAddr::new(v6, 25))
    );
    assert_eq!(
        attempt.next(now, &bad),
        Step::Connect(SocketAddr::new(v4, 25))
    );
}

/// MX-05: implicit MX and no address: a bad destination, 5.1.2.
#[test]
fn mx_05_implicit_mx_without_addresses_bounces() {
    let destination = route(MxAnswer::NoData, 0).unwrap();
    let mut attempt = Attempt::new(destination);
    let bad = BadAddresses::default();
    let now = smtp_proto_tests::now();
    let _ = attempt.next(now, &bad);
    attempt.resolved(AddrAnswer::NoData);
    let Step::Failed(diagnosis) = attempt.next(now, &bad) else {
        panic!()
    };
    assert_eq!(diagnosis.status.to_string(), "5.1.2");
}

/// MX-06, MX-07: NXDOMAIN bounces 5.1.2; SERVFAIL defers.
#[test]
fn mx_06_07_nxdomain_bounces_and_servfail_defers() {
    assert_eq!(route(MxAnswer::NxDomain, 0).unwrap_err(), "5.1.2");
    assert_eq!(
        route(MxAnswer::TempFail("SERVFAIL".into()), 0).unwrap_err(),
        "deferred"
    );
}

/// MX-08: with MX records, the domain's own address is never a candidate.
#[test]
fn mx_08_the_domain_itself_is_no_fallback_when_mx_records_exist() {
    let destination = route(mx(&[(10, "a.example")]), 0).unwrap();
    assert_eq!(hosts(&destination), ["a.example"]);
    assert!(!destination.implicit);
}

fn attempt_over(hosts: &[(&str, u16)]) -> Attempt {
    Attempt::new(Arc::new(Destination {
        key: "y.example".into(),
        hosts: hosts
            .iter()
            .map(|(h, p)| NextHop {
                host: (*h).into(),
                preference: *p,
            })
            .collect(),
        port: 25,
        implicit: false,
    }))
}

/// MX-09: a's address lookup fails temporarily, b resolves: b is tried; if b fails too the
/// verdict is a deferral, not a bounce.
#[test]
fn mx_09_a_temporary_failure_on_the_way_makes_the_attempt_temporary() {
    let now = smtp_proto_tests::now();
    let mut bad = BadAddresses::default();
    let mut attempt = attempt_over(&[("a.example", 10), ("b.example", 20)]);
    assert_eq!(attempt.next(now, &bad), Step::Resolve("a.example".into()));
    attempt.resolved(AddrAnswer::TempFail("timeout".into()));
    assert_eq!(attempt.next(now, &bad), Step::Resolve("b.example".into()));
    attempt.resolved(AddrAnswer::NxDomain);
    let Step::Failed(diagnosis) = attempt.next(now, &bad) else {
        panic!()
    };
    assert!(!diagnosis.is_permanent(), "{diagnosis:?}");
    assert_eq!(diagnosis.status.to_string(), "4.4.3");
    let _ = &mut bad;
}

/// MX-10: every MX target NXDOMAIN: bounce (5.4.4).
#[test]
fn mx_10_no_usable_mx_host_bounces() {
    let now = smtp_proto_tests::now();
    let bad = BadAddresses::default();
    let mut attempt = attempt_over(&[("a.example", 10), ("b.example", 20)]);
    for _ in 0..2 {
        let Step::Resolve(_) = attempt.next(now, &bad) else {
            panic!()
        };
        attempt.resolved(AddrAnswer::NxDomain);
    }
    let Step::Failed(diagnosis) = attempt.next(now, &bad) else {
        panic!()
    };
    assert!(diagnosis.is_permanent());
    assert_eq!(diagnosis.status.to_string(), "5.4.4");
}

/// MX-11: our record and everything at its preference or worse is dropped; as the best MX
/// nothing is left: 5.4.6.
#[test]
fn mx_11_records_at_or_after_our_own_are_dropped() {
    let destination = route(
        mx(&[
            (10, "a.example"),
            (20, "ME.example."),
            (20, "b.example"),
            (30, "c.example"),
        ]),
        0,
    )
    .unwrap();
    assert_eq!(hosts(&destination), ["a.example"]);
    assert_eq!(
        route(mx(&[(10, "me.example"), (20, "a.example")]), 0).unwrap_err(),
        "5.4.6"
    );
}

/// MX-12: an IP address as exchange is skipped (CNAMEs are the resolver's job).
#[test]
fn mx_12_ip_literal_exchanges_are_skipped() {
    let destination = route(mx(&[(10, "192.0.2.1"), (20, "a.example")]), 0).unwrap();
    assert_eq!(hosts(&destination), ["a.example"]);
    assert_eq!(route(mx(&[(10, "192.0.2.1")]), 0).unwrap_err(), "5.4.4");
}

/// MX-13: at most five addresses and two completed sessions per attempt.
#[test]
fn mx_13_addresses_and_sessions_are_capped() {
    let now = smtp_proto_tests::now();
    let mut bad = BadAddresses::default();
    let mut attempt = attempt_over(&[("a.example", 10)]);
    let _ = attempt.next(now, &bad);
    let addrs: Vec<IpAddr> = (1..=8)
        .map(|i| format!("192.0.2.{i}").parse().unwrap())
        .collect();
    attempt.resolved(AddrAnswer::Records(addrs));
    let mut connects = 0;
    while let Step::Connect(addr) = attempt.next(now, &bad) {
        connects += 1;
        attempt.connect_failed(now, addr, "connection refused", &mut bad);
    }
    assert_eq!(connects, 5);

    let mut attempt = attempt_over(&[("a.example", 10)]);
    let _ = attempt.next(now, &BadAddresses::default());
    attempt.resolved(AddrAnswer::Records(vec![
        "192.0.2.1".parse().unwrap(),
        "192.0.2.2".parse().unwrap(),
        "192.0.2.3".parse().unwrap(),
    ]));
    let bad = BadAddresses::default();
    let mut sessions = 0;
    while let Step::Connect(_) = attempt.next(now, &bad) {
        sessions += 1;
        attempt.session_failed(smtp_proto::relay::Diagnosis::remote(
            reply("421 4.3.2 busy"),
            "a.example",
        ));
    }
    assert_eq!(sessions, 2);
}

/// MX-14: a next hop greeting with our name: at the best preference a loop (5.4.6), at a
/// worse one the next host is tried and the failure is temporary (4.4.6).
#[test]
fn mx_14_a_next_hop_that_is_ourselves_is_a_loop() {
    let now = smtp_proto_tests::now();
    let bad = BadAddresses::default();
    let mut attempt = attempt_over(&[("192.0.2.1", 10), ("192.0.2.2", 20)]);
    let Step::Connect(_) = attempt.next(now, &bad) else {
        panic!()
    };
    attempt.loops_back();
    let Step::Failed(diagnosis) = attempt.next(now, &bad) else {
        panic!()
    };
    assert_eq!(diagnosis.status.to_string(), "5.4.6");

    let mut attempt = attempt_over(&[("192.0.2.1", 10), ("192.0.2.2", 20)]);
    let Step::Connect(_) = attempt.next(now, &bad) else {
        panic!()
    };
    attempt.session_failed(smtp_proto::relay::Diagnosis::remote(
        reply("421 busy"),
        "192.0.2.1",
    ));
    let Step::Connect(second) = attempt.next(now, &bad) else {
        panic!()
    };
    assert_eq!(second.ip().to_string(), "192.0.2.2");
    attempt.loops_back();
    let Step::Failed(diagnosis) = attempt.next(now, &bad) else {
        panic!()
    };
    assert_eq!(diagnosis.status.to_string(), "4.4.6");
}

/// MX-15: a 5xx greeting at one MX moves on to the next (Postfix `smtp_skip_5xx_greeting`).
#[test]
fn mx_15_a_5xx_greeting_moves_to_the_next_mx() {
    let now = smtp_proto_tests::now();
    let bad = BadAddresses::default();
    let mut attempt = attempt_over(&[("192.0.2.1", 10), ("192.0.2.2", 20)]);
    let Step::Connect(_) = attempt.next(now, &bad) else {
        panic!()
    };
    attempt.session_failed(smtp_proto::relay::Diagnosis::remote(
        reply("554 5.7.1 go away"),
        "192.0.2.1",
    ));
    assert_eq!(
        attempt.next(now, &bad),
        Step::Connect("192.0.2.2:25".parse().unwrap())
    );
}

/// MX-17: an address that refused a connection is skipped for ten minutes.
#[test]
fn mx_17_unreachable_addresses_are_remembered_for_a_while() {
    let now = smtp_proto_tests::now();
    let mut bad = BadAddresses::default();
    let mut attempt = attempt_over(&[("192.0.2.1", 10), ("192.0.2.2", 20)]);
    let Step::Connect(first) = attempt.next(now, &bad) else {
        panic!()
    };
    attempt.connect_failed(now, first, "refused", &mut bad);
    let mut again = attempt_over(&[("192.0.2.1", 10), ("192.0.2.2", 20)]);
    assert_eq!(
        again.next(now + Duration::from_secs(60), &bad),
        Step::Connect("192.0.2.2:25".parse().unwrap())
    );
    let mut later = attempt_over(&[("192.0.2.1", 10)]);
    assert_eq!(
        later.next(now + Duration::from_secs(601), &bad),
        Step::Connect(first)
    );
}

/// NMX-01, NMX-03: a null MX (any preference) fails at once, 5.1.10; NMX-02: beside real
/// records the root is ignored.
#[test]
fn nmx_null_mx_records() {
    assert_eq!(route(mx(&[(0, ".")]), 0).unwrap_err(), "5.1.10");
    assert_eq!(route(mx(&[(10, "")]), 0).unwrap_err(), "5.1.10");
    let destination = route(mx(&[(0, "."), (10, "a.example")]), 0).unwrap();
    assert_eq!(hosts(&destination), ["a.example"]);
}
