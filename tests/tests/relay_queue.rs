//! The relay's scheduler against manual::relay (queue and retry) (dispatch), and
//! the Twisted relay-manager regressions of §12, in virtual time.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use smtp_proto::client::Verdict;
use smtp_proto::codec::params::{Notify, RcptParams};
use smtp_proto::relay::{Action, Diagnosis, MxAnswer, NoticeAction, QueueConfig, Route};
use smtp_proto_tests::relay_sim::{Sim, path};

const MIN: Duration = Duration::from_secs(60);
const DAY: Duration = Duration::from_secs(86_400);

fn mx() -> QueueConfig {
    QueueConfig::new(Route::Mx { port: 25 }, "relay.example")
}

fn notify(notify: Notify) -> RcptParams {
    let mut params = RcptParams::default();
    params.notify = Some(notify);
    params
}

fn secs(list: &[Duration]) -> Vec<u64> {
    list.iter().map(Duration::as_secs).collect()
}

fn deferring(sim: &mut Sim) {
    sim.deliver = Box::new(|_, job, _| {
        job.recipients
            .iter()
            .map(|_| (Verdict::Deferred, "451 4.3.0 try later"))
            .collect()
    });
}

/// DSP-01, DSP-02, TW-01: with two slots, m1 and m3 (same domain) share one connection and
/// m2 gets the other; nothing waits for a later queue run.
#[test]
fn dsp_01_messages_are_grouped_by_destination_before_slots_are_assigned() {
    let mut config = mx();
    config.connection_limit = 2;
    let mut sim = Sim::new(config);
    sim.auto_connect = false;
    sim.send("m1", "s@o.example", &["x@a.example"]);
    sim.send("m2", "s@o.example", &["y@b.example"]);
    sim.send("m3", "s@o.example", &["z@a.example"]);
    let connects = sim.connects();
    assert_eq!(connects.len(), 2, "{connects:?}");
    for (conn, _) in &connects {
        sim.queue.connected(sim.now, *conn);
        sim.pump();
    }
    let sends = sim.sends();
    let conn_a = connects
        .iter()
        .find(|(_, key)| key == "a.example")
        .unwrap()
        .0;
    let on_a: Vec<_> = sends
        .iter()
        .filter(|(c, ..)| *c == conn_a)
        .map(|(_, id, _)| id.as_str())
        .collect();
    assert_eq!(on_a, ["m1", "m3"]);
    assert_eq!(sends.len(), 3);
    assert_eq!(sim.elapsed(), Duration::ZERO, "everything went out at once");
}

/// DSP-03: a destination starts with five connections and never exceeds twenty.
#[test]
fn dsp_03_destination_concurrency_starts_at_five_and_stays_within_twenty() {
    let mut sim = Sim::new(mx());
    sim.auto_connect = false;
    for i in 0..100 {
        sim.send(&format!("m{i}"), "s@o.example", &["x@a.example"]);
    }
    assert_eq!(sim.connects().len(), 5);
    // Deliveries succeed: the window widens, but never past 20 open at once.
    sim.auto_connect = true;
    let pending: Vec<_> = sim.connects().into_iter().map(|(c, _)| c).collect();
    for conn in pending {
        sim.queue.connected(sim.now, conn);
        sim.pump();
    }
    let max_open = sim.connects().len()
        - sim
            .actions(|a| matches!(a, Action::Close { .. }).then_some(()))
            .len();
    assert!(max_open <= 20, "{max_open}");
    assert_eq!(sim.sends().len(), 100);
}

/// DSP-04: 120 recipients in one domain go as transactions of 50, 50 and 20.
#[test]
fn dsp_04_recipients_are_split_into_transactions_of_fifty() {
    let mut sim = Sim::new(mx());
    let to: Vec<String> = (0..120).map(|i| format!("u{i}@a.example")).collect();
    let to: Vec<&str> = to.iter().map(String::as_str).collect();
    sim.send("big", "s@o.example", &to);
    let mut sizes: Vec<usize> = sim.sends().into_iter().map(|(_, _, n)| n).collect();
    sizes.sort_unstable();
    assert_eq!(sizes, [20, 50, 50]);
    assert!(sim.removed("big"));
}

/// DSP-05, TW-02: at most ten messages per connection: 25 messages go 10, 10, 5.
#[test]
fn dsp_05_messages_per_connection_is_enforced() {
    let mut config = mx();
    config.messages_per_connection = 10;
    config.initial_concurrency = 1;
    config.concurrency_limit = 1;
    let mut sim = Sim::new(config);
    sim.auto_connect = false;
    for i in 0..25 {
        sim.send(&format!("m{i:02}"), "s@o.example", &["x@a.example"]);
    }
    while let Some((conn, _)) = sim
        .connects()
        .into_iter()
        .find(|(c, _)| !sim.sends().iter().any(|(s, ..)| s == c))
    {
        sim.queue.connected(sim.now, conn);
        sim.pump();
    }
    let mut per_conn: Vec<usize> = Vec::new();
    for (conn, _) in sim.connects() {
        per_conn.push(sim.sends().iter().filter(|(c, ..)| *c == conn).count());
    }
    assert_eq!(per_conn, [10, 10, 5]);
}

/// DSP-06: the next message for a destination reuses the idle connection; an idle
/// connection closes after 2 s; one older than 300 s is not reused.
#[test]
fn dsp_06_connections_are_reused_then_closed_when_idle_or_old() {
    let mut sim = Sim::new(mx());
    sim.send("m1", "s@o.example", &["x@a.example"]);
    sim.advance(Duration::from_secs(1));
    sim.send("m2", "s@o.example", &["y@a.example"]);
    assert_eq!(sim.connects().len(), 1, "reused");
    assert_eq!(
        sim.queue.poll_timeout(),
        Some(sim.now + Duration::from_secs(2))
    );
    sim.advance(Duration::from_secs(2));
    assert_eq!(
        sim.actions(|a| matches!(a, Action::Close { .. }).then_some(()))
            .len(),
        1
    );

    let mut config = mx();
    config.idle_close = Duration::from_secs(600);
    let mut sim = Sim::new(config);
    sim.send("m1", "s@o.example", &["x@a.example"]);
    sim.advance(Duration::from_secs(301));
    sim.send("m2", "s@o.example", &["y@a.example"]);
    assert_eq!(
        sim.connects().len(),
        2,
        "a connection older than 300 s is not reused"
    );
}

/// DSP-07: a reused connection found dead is replaced without counting an attempt.
#[test]
fn dsp_07_a_dead_reused_connection_is_replaced_transparently() {
    let mut sim = Sim::new(mx());
    sim.send("m1", "s@o.example", &["x@a.example"]);
    sim.auto_deliver = false;
    sim.send("m2", "s@o.example", &["y@a.example"]);
    let (conn, _, _) = sim.sends()[1].clone();
    sim.queue.job_unsent(sim.now, conn);
    sim.auto_deliver = true;
    sim.pump();
    // A new connection; the job is sent again on it.
    let (reconnect, _) = sim.connects()[1].clone();
    let resend = sim.log.iter().rev().find_map(|(_, a)| match a {
        Action::Send { conn, job } => Some((*conn, job.clone())),
        _ => None,
    });
    let (resend_conn, job) = resend.unwrap();
    assert_eq!(resend_conn, reconnect);
    sim.answer(resend_conn, &job);
    assert!(sim.removed("m2"));
    assert!(sim.notices().is_empty());
}

/// DSP-08: a big destination cannot take every slot; each small one gets a connection in
/// the first round.
#[test]
fn dsp_08_destinations_share_slots_round_robin() {
    let mut config = mx();
    config.connection_limit = 6;
    let mut sim = Sim::new(config);
    sim.auto_connect = false;
    for i in 0..100 {
        sim.send(&format!("big{i}"), "s@o.example", &["x@big.example"]);
    }
    for d in 0..5 {
        sim.send(
            &format!("small{d}"),
            "s@o.example",
            &[&format!("x@small{d}.example")],
        );
    }
    let keys: Vec<String> = sim.connects().into_iter().map(|(_, key)| key).collect();
    assert_eq!(keys.len(), 6, "{keys:?}");
    // The big destination opened its five before the small ones arrived; once a slot
    // frees, the small ones come first in the rotation, not the big one again.
    let (conn, _) = sim.connects()[0].clone();
    sim.queue.connected(sim.now, conn);
    sim.pump();
    let keys: Vec<String> = sim.connects().into_iter().map(|(_, key)| key).collect();
    assert!(keys.iter().any(|k| k.starts_with("small")), "{keys:?}");
}

/// deferred again and again, a message is retried after 300, 300, 600, 1200, 2400,
/// 4000, 4000 s: its age clamped to [300 s, 4000 s].
#[test]
fn q_01_retries_follow_postfix_backoff() {
    let mut sim = Sim::new(mx());
    deferring(&mut sim);
    sim.send("m1", "s@o.example", &["x@a.example"]);
    sim.run_until(Duration::from_secs(15_000));
    let attempts = secs(&sim.attempts("m1"));
    assert_eq!(attempts[..8], [0, 300, 600, 1200, 2400, 4800, 8800, 12_800]);
}

/// Q-02, DSN-02: deferred for five days, the message bounces with 5.4.7 and the last
/// remote reply as diagnostic; then it is removed.
#[test]
fn q_02_a_message_deferred_for_five_days_bounces_with_5_4_7() {
    let mut sim = Sim::new(mx());
    deferring(&mut sim);
    sim.send("m1", "s@o.example", &["x@a.example"]);
    sim.run_until(6 * DAY);
    let notices = sim.notices();
    assert_eq!(notices.len(), 1);
    let block = &notices[0].recipients[0];
    assert_eq!(block.action, NoticeAction::Failed);
    assert_eq!(block.status.to_string(), "5.4.7");
    assert_eq!(block.diagnosis.line(), "451 4.3.0 try later");
    assert!(sim.removed("m1"));
    let last = *sim.attempts("m1").last().unwrap();
    assert!(
        last >= 5 * DAY && last < 5 * DAY + Duration::from_secs(4000),
        "{last:?}"
    );
}

/// Q-03, DSN-05: a bounce (null sender) follows the same schedule and is never bounced.
#[test]
fn q_03_a_bounce_is_retried_but_never_bounced() {
    let mut sim = Sim::new(mx());
    deferring(&mut sim);
    sim.send("b1", "", &["s@o.example"]);
    sim.run_until(6 * DAY);
    assert!(sim.attempts("b1").len() > 100);
    assert!(sim.notices().is_empty());
    assert!(sim.removed("b1"));
}

/// lifetime zero means one attempt.
#[test]
fn q_04_lifetime_zero_is_one_attempt() {
    let mut config = mx();
    config.lifetime = Duration::ZERO;
    let mut sim = Sim::new(config);
    deferring(&mut sim);
    sim.send("m1", "s@o.example", &["x@a.example"]);
    sim.run_until(DAY);
    assert_eq!(sim.attempts("m1").len(), 1);
    assert_eq!(sim.notices().len(), 1);
}

/// after a destination failed completely, later mail for it waits for the
/// destination's retry time instead of connecting again.
#[test]
fn q_05_a_failed_destination_is_not_hammered() {
    let mut sim = Sim::new(mx());
    sim.connect = Box::new(|_, _| {
        Err(Diagnosis::local(
            451,
            smtp_proto::EnhancedCode::new(4, 4, 1).unwrap(),
            "connection refused",
        ))
    });
    sim.send("m1", "s@o.example", &["x@a.example"]);
    assert_eq!(sim.connects().len(), 1);
    sim.advance(MIN);
    sim.send("m2", "s@o.example", &["y@a.example"]);
    assert_eq!(
        sim.connects().len(),
        1,
        "m2 waits for a.example's retry time"
    );
    sim.run_until(Duration::from_secs(301));
    assert_eq!(
        sim.connects().len(),
        2,
        "one probe connection for both at the retry time"
    );
    sim.connect = Box::new(|_, _| Ok(()));
    sim.run_until(Duration::from_secs(901));
    assert!(sim.removed("m1") && sim.removed("m2"));
    assert!(
        sim.notices().is_empty(),
        "transport trouble never bounces (RT-04)"
    );
}

/// when a destination works again, its deferred mail is due at once.
#[test]
fn q_06_a_destination_that_comes_back_releases_its_deferred_mail() {
    let mut sim = Sim::new(mx());
    let mut refuse = true;
    sim.connect = Box::new(move |_, _| {
        if std::mem::take(&mut refuse) {
            Err(Diagnosis::local(
                451,
                smtp_proto::EnhancedCode::new(4, 4, 1).unwrap(),
                "refused",
            ))
        } else {
            Ok(())
        }
    });
    sim.send("m1", "s@o.example", &["x@a.example"]);
    sim.advance(Duration::from_secs(200));
    sim.send("m2", "s@o.example", &["y@a.example"]);
    // m2 waits for a.example's retry (at 300 s); when it goes out and succeeds, m1 (due at
    // 300 s too) goes with it, and anything else waiting for a.example is released.
    sim.run_until(Duration::from_secs(400));
    assert!(sim.removed("m1") && sim.removed("m2"));
    assert_eq!(secs(&sim.attempts("m2")), [300]);
}

/// mixed results: the 2xx recipient is done, the 5xx one bounces, the 4xx one alone
/// is retried.
#[test]
fn q_07_mixed_results_keep_only_the_deferred_recipient() {
    let mut sim = Sim::new(mx());
    sim.deliver = Box::new(|_, job, _| {
        job.recipients
            .iter()
            .map(|(_, path, _)| match path.to_string().as_str() {
                "<ok@a.example>" => (Verdict::Delivered, "250 2.0.0 ok"),
                "<gone@a.example>" => (Verdict::Rejected, "550 5.1.1 no such user"),
                _ => (Verdict::Deferred, "452 4.2.2 mailbox full"),
            })
            .collect()
    });
    sim.send(
        "m1",
        "s@o.example",
        &["ok@a.example", "gone@a.example", "full@a.example"],
    );
    let notices = sim.notices();
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].recipients.len(), 1);
    assert_eq!(
        notices[0].recipients[0].recipient.to_string(),
        "<gone@a.example>"
    );
    sim.run_until(Duration::from_secs(301));
    let retry = sim.log.iter().rev().find_map(|(_, a)| match a {
        Action::Send { job, .. } => Some(job.clone()),
        _ => None,
    });
    let retry = retry.unwrap();
    assert_eq!(retry.recipients.len(), 1);
    assert_eq!(retry.recipients[0].1.to_string(), "<full@a.example>");
}

/// the queue never reads a clock: nothing happens between calls, and poll_timeout
/// names the next retry.
#[test]
fn q_09_the_next_retry_is_announced_by_poll_timeout() {
    let mut sim = Sim::new(mx());
    deferring(&mut sim);
    sim.send("m1", "s@o.example", &["x@a.example"]);
    sim.advance(Duration::from_secs(3));
    assert_eq!(
        sim.queue.poll_timeout(),
        Some(sim.start + Duration::from_secs(300))
    );
}

/// DNS-01, DNS-03: a temporary DNS failure defers; the retry asks DNS again and delivers.
#[test]
fn dns_01_a_temporary_dns_failure_defers_and_the_retry_asks_again() {
    let mut sim = Sim::new(mx());
    let mut first = true;
    sim.dns = Box::new(move |_, _| {
        if std::mem::take(&mut first) {
            MxAnswer::TempFail("SERVFAIL".into())
        } else {
            MxAnswer::NoData
        }
    });
    sim.send("m1", "s@o.example", &["x@a.example"]);
    assert!(!sim.removed("m1"));
    assert!(sim.notices().is_empty(), "MX-07: never a bounce");
    sim.run_until(Duration::from_secs(301));
    assert!(sim.removed("m1"));
    let lookups = sim
        .actions(|a| matches!(a, Action::Resolve { .. }).then_some(()))
        .len();
    assert_eq!(lookups, 2);
}

/// NMX-01, NMX-05: a null MX fails at once with 5.1.10, no retries; a bounce to a null-MX
/// sender is not bounced again.
#[test]
fn nmx_01_null_mx_fails_at_once() {
    let mut sim = Sim::new(mx());
    sim.dns = Box::new(|domain, _| {
        if domain == "nullmx.example" {
            MxAnswer::Records(vec![smtp_proto::relay::MxRecord::new(0, ".")])
        } else {
            MxAnswer::NoData
        }
    });
    sim.send("m1", "s@o.example", &["x@nullmx.example"]);
    assert!(sim.removed("m1"));
    assert_eq!(sim.connects().len(), 0);
    let notices = sim.notices();
    assert_eq!(notices[0].recipients[0].status.to_string(), "5.1.10");
    assert_eq!(notices[0].recipients[0].diagnosis.reply.code(), 556);
    sim.send("b1", "", &["x@nullmx.example"]);
    assert!(sim.removed("b1"));
    assert_eq!(sim.notices().len(), 1, "the bounce is not bounced");
}

/// MX-06: NXDOMAIN bounces 5.1.2.
#[test]
fn mx_06_nxdomain_bounces() {
    let mut sim = Sim::new(mx());
    sim.dns = Box::new(|_, _| MxAnswer::NxDomain);
    sim.send("m1", "s@o.example", &["x@nowhere.example"]);
    assert_eq!(sim.notices()[0].recipients[0].status.to_string(), "5.1.2");
}

/// MX-16, RT-05: a 5xx to one RCPT is final for that recipient; the others proceed.
#[test]
fn mx_16_a_rejected_recipient_is_never_retried() {
    let mut sim = Sim::new(mx());
    sim.deliver = Box::new(|_, job, _| {
        job.recipients
            .iter()
            .map(|(i, _, _)| {
                if *i == 0 {
                    (Verdict::Rejected, "550 5.1.1 unknown")
                } else {
                    (Verdict::Delivered, "250 ok")
                }
            })
            .collect()
    });
    sim.send("m1", "s@o.example", &["a@a.example", "b@a.example"]);
    sim.run_until(DAY);
    assert_eq!(sim.attempts("m1").len(), 1);
    assert!(sim.removed("m1"));
}

/// RT-01, RT-02: a smart host needs no MX lookup; every domain goes to it on one connection.
#[test]
fn rt_01_a_smart_host_takes_everything_without_mx_lookups() {
    let route = Route::SmartHost {
        host: "Smtp.Example".into(),
        port: 587,
        mx_lookup: false,
    };
    let mut sim = Sim::new(QueueConfig::new(route, "relay.example"));
    sim.send("m1", "s@o.example", &["x@a.example", "y@b.example"]);
    assert!(
        sim.actions(|a| matches!(a, Action::Resolve { .. }).then_some(()))
            .is_empty()
    );
    let connects = sim.actions(|a| match a {
        Action::Connect { destination, .. } => Some(destination.clone()),
        _ => None,
    });
    assert_eq!(connects.len(), 1);
    assert_eq!(connects[0].hosts[0].host, "Smtp.Example");
    assert_eq!(connects[0].port, 587);
    assert_eq!(sim.sends()[0].2, 2, "one transaction for both domains");
}

/// RT-07: domains are routed case-insensitively; RT-08: an address literal goes to that
/// address without DNS.
#[test]
fn rt_07_domains_route_case_insensitively_and_literals_skip_dns() {
    let mut sim = Sim::new(mx());
    sim.auto_connect = false;
    sim.send(
        "m1",
        "s@o.example",
        &["x@A.Example", "y@a.EXAMPLE", "z@[192.0.2.9]"],
    );
    let resolves = sim.actions(|a| match a {
        Action::Resolve { domain } => Some(domain.clone()),
        _ => None,
    });
    assert_eq!(resolves, ["a.example"]);
    let literal = sim.actions(|a| match a {
        Action::Connect { destination, .. } if destination.key.starts_with('[') => {
            Some(destination.clone())
        }
        _ => None,
    });
    assert_eq!(literal[0].hosts[0].host, "192.0.2.9");
}

/// DSN-07: three recipients failing in one attempt make one notice with three blocks.
#[test]
fn dsn_07_one_notice_per_message_and_event() {
    let mut sim = Sim::new(mx());
    sim.deliver = Box::new(|_, job, _| {
        job.recipients
            .iter()
            .map(|_| (Verdict::Rejected, "550 5.1.1 unknown"))
            .collect()
    });
    sim.send(
        "m1",
        "s@o.example",
        &["a@a.example", "b@a.example", "c@b.example"],
    );
    let notices = sim.notices();
    assert_eq!(notices.len(), 1, "{notices:#?}");
    assert_eq!(notices[0].recipients.len(), 3);
    assert_eq!(notices[0].to.to_string(), "s@o.example");
}

/// DSN-09: NOTIFY=NEVER gets no notice; NOTIFY absent gets a failure notice; SUCCESS to a
/// next hop without DSN gets a `relayed` notice (PT-03).
#[test]
fn dsn_09_notify_decides_who_gets_a_notice() {
    let never = notify(Notify::default());
    let success = notify(Notify {
        success: true,
        ..Notify::default()
    });
    let mut sim = Sim::new(mx());
    sim.deliver = Box::new(|_, job, _| {
        job.recipients
            .iter()
            .map(|(i, _, _)| {
                if *i == 2 {
                    (Verdict::Delivered, "250 ok")
                } else {
                    (Verdict::Rejected, "550 5.1.1 unknown")
                }
            })
            .collect()
    });
    let recipients = vec![
        (path("never@a.example"), never),
        (path("plain@a.example"), RcptParams::default()),
        (path("success@a.example"), success),
    ];
    sim.send_with("m1", "s@o.example", Default::default(), recipients);
    let notices = sim.notices();
    let blocks: Vec<_> = notices[0]
        .recipients
        .iter()
        .map(|r| (r.recipient.to_string(), r.action))
        .collect();
    // The simulated next hop offers DSN, so SUCCESS is its job: no relayed notice here.
    assert_eq!(
        blocks,
        [("<plain@a.example>".to_owned(), NoticeAction::Failed)]
    );

    let mut sim = Sim::new(mx());
    let success = notify(Notify {
        success: true,
        ..Notify::default()
    });
    sim.auto_deliver = false;
    sim.send_with(
        "m2",
        "s@o.example",
        Default::default(),
        vec![(path("success@a.example"), success)],
    );
    let (conn, job) = sim
        .log
        .iter()
        .find_map(|(_, a)| match a {
            Action::Send { conn, job } => Some((*conn, job.clone())),
            _ => None,
        })
        .unwrap();
    let result = smtp_proto::relay::RecipientResult {
        index: 0,
        verdict: Verdict::Delivered,
        diagnosis: Diagnosis::remote(
            smtp_proto_tests::relay_sim::reply("250 2.0.0 ok"),
            "mx.a.example",
        ),
    };
    sim.queue.transaction_done(sim.now, conn, &[result], false);
    sim.pump();
    let _ = job;
    let notices = sim.notices();
    assert_eq!(notices[0].recipients[0].action, NoticeAction::Relayed);
    assert_eq!(notices[0].recipients[0].status.to_string(), "2.0.0");
}

/// DSN-10: with a one-day delay warning, a message deferred for two days gets exactly one
/// `delayed` notice.
#[test]
fn dsn_10_one_delay_notice_when_enabled() {
    let mut config = mx();
    config.delay_warning = Some(DAY);
    let mut sim = Sim::new(config);
    deferring(&mut sim);
    sim.send("m1", "s@o.example", &["x@a.example"]);
    sim.run_until(2 * DAY);
    let notices = sim.notices();
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].recipients[0].action, NoticeAction::Delayed);
    assert_eq!(notices[0].recipients[0].status.class(), 4);

    let mut sim = Sim::new(mx());
    deferring(&mut sim);
    sim.send("m1", "s@o.example", &["x@a.example"]);
    sim.run_until(2 * DAY);
    assert!(sim.notices().is_empty(), "off by default");
}

/// The queue is bounded: `max_messages` refuses more (SPL-08's 452 is the program's reply).
#[test]
fn the_queue_refuses_messages_beyond_its_capacity() {
    let mut config = mx();
    config.max_messages = 2;
    let mut sim = Sim::new(config);
    sim.auto_connect = false;
    sim.send("m1", "s@o.example", &["x@a.example"]);
    sim.send("m2", "s@o.example", &["x@a.example"]);
    assert!(sim.queue.is_full());
    let message = smtp_proto::relay::Message {
        id: smtp_proto::relay::QueueId::new("m3").unwrap(),
        from: smtp_proto::ReversePath::Null,
        params: Default::default(),
        recipients: vec![(path("x@a.example"), RcptParams::default())],
        settled: vec![],
        arrival: sim.now,
    };
    assert_eq!(
        sim.queue.enqueue(sim.now, message),
        Err(smtp_proto::relay::EnqueueError::Full)
    );
}
