//! Delivery status notifications (manual::relay) and the queue file format, on the
//! rendered bytes.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use smtp_proto::codec::params::{MailParams, Orcpt, Ret};
use smtp_proto::relay::dsn::{Context, render};
use smtp_proto::relay::spool::{self, Envelope, SpoolError};
use smtp_proto::relay::{Diagnosis, Notice, NoticeAction, NoticeRecipient, QueueId};
use smtp_proto::{EnhancedCode, ForwardPath, ReversePath};
use smtp_proto_tests::relay_sim::{path, reply};

const ORIGINAL: &[u8] =
    b"From: s@o.example\r\nTo: b@y.example\r\nSubject: hello\r\n\r\nbody line\r\n";

fn block(to: &str, action: NoticeAction, status: (u8, u16, u16), line: &str) -> NoticeRecipient {
    NoticeRecipient {
        recipient: path(to),
        orcpt: None,
        action,
        status: EnhancedCode::new(status.0, status.1, status.2).unwrap(),
        diagnosis: Diagnosis::remote(reply(line), "mx.y.example"),
    }
}

fn notice(recipients: Vec<NoticeRecipient>) -> Notice {
    Notice {
        message: QueueId::new("A1").unwrap(),
        to: "s@o.example".parse().unwrap(),
        envid: None,
        ret: None,
        requiretls: false,
        arrival: smtp_proto_tests::now(),
        lifetime: Duration::from_secs(5 * 86_400),
        recipients,
    }
}

fn context() -> Context<'static> {
    Context {
        reporting_mta: "relay.example",
        id: "D1",
        now_unix: 1_764_700_000,
        arrival_unix: 1_764_600_000,
        original: ORIGINAL,
        full_limit: 1 << 20,
        headers_only: false,
    }
}

fn text(notice: &Notice, context: &Context<'_>) -> String {
    String::from_utf8(render(notice, context).content).unwrap()
}

/// The `message/delivery-status` part: from its Content-Type line to the next boundary.
fn status_part(dsn: &str) -> &str {
    let start = dsn.find("Content-Type: message/").unwrap();
    let end = dsn[start..].find("\r\n--").unwrap();
    &dsn[start..start + end]
}

/// DSN-01, DSN-02, DSN-06, DSN-12: every required field, well-formed; the envelope and
/// header of a notice.
#[test]
fn dsn_01_02_required_fields_are_present() {
    let mut n = notice(vec![block(
        "b@y.example",
        NoticeAction::Failed,
        (5, 1, 1),
        "550 5.1.1 <b@y.example>: no such user",
    )]);
    n.envid = Some("QQ314159".into());
    n.recipients[0].orcpt = Some(Orcpt {
        addr_type: "rfc822".into(),
        address: "B@Y.example".into(),
    });
    let rendered = render(&n, &context());
    assert_eq!(rendered.to, path("s@o.example"));
    assert!(!rendered.smtputf8);
    let dsn = String::from_utf8(rendered.content).unwrap();
    assert!(dsn.starts_with(
        "From: Mail Delivery System <MAILER-DAEMON@relay.example>\r\nTo: <s@o.example>\r\n"
    ));
    assert!(dsn.contains("\r\nAuto-Submitted: auto-replied\r\n"));
    assert!(dsn.contains("Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"=_D1_1764700000\"\r\n"));
    let part = status_part(&dsn);
    for field in [
        "Reporting-MTA: dns; relay.example\r\n",
        "Original-Envelope-Id: QQ314159\r\n",
        "Arrival-Date: Mon, 1 Dec 2025 14:40:00 +0000\r\n",
        "\r\n\r\nFinal-Recipient: rfc822; b@y.example\r\n",
        "Original-Recipient: rfc822; B@Y.example\r\n",
        "Action: failed\r\n",
        "Status: 5.1.1\r\n",
        "Remote-MTA: dns; mx.y.example\r\n",
        "Diagnostic-Code: smtp; 550 5.1.1 <b@y.example>: no such user\r\n",
        "Last-Attempt-Date: Tue, 2 Dec 2025 18:26:40 +0000\r\n",
    ] {
        assert!(part.contains(field), "missing {field:?} in\n{part}");
    }
    assert!(dsn.ends_with("--=_D1_1764700000--\r\n"));
    assert_eq!(
        dsn.matches("--=_D1_1764700000\r\n").count(),
        3,
        "three parts"
    );
}

/// DSN-03: the Status class agrees with the Action.
#[test]
fn dsn_03_status_class_matches_action() {
    let n = notice(vec![
        block(
            "a@y.example",
            NoticeAction::Failed,
            (5, 4, 7),
            "451 4.3.0 later",
        ),
        block(
            "b@y.example",
            NoticeAction::Delayed,
            (4, 4, 1),
            "451 4.4.1 no answer",
        ),
        block("c@y.example", NoticeAction::Relayed, (2, 0, 0), "250 ok"),
    ]);
    let dsn = text(&n, &context());
    let part = status_part(&dsn);
    let pairs: Vec<(&str, &str)> = part
        .split("\r\n\r\n")
        .skip(2)
        .map(|block| {
            let field = |name: &str| block.lines().find_map(|l| l.strip_prefix(name)).unwrap();
            (field("Action: "), field("Status: "))
        })
        .collect();
    assert_eq!(
        pairs,
        [
            ("failed", "5.4.7"),
            ("delayed", "4.4.1"),
            ("relayed", "2.0.0")
        ]
    );
    assert!(
        part.contains("Will-Retry-Until: Sat, 6 Dec 2025 14:40:00 +0000\r\n"),
        "{part}"
    );
}

/// DSN-04: a remote reply with controls and 8-bit bytes cannot inject a header field, and
/// long diagnostics are folded.
#[test]
fn dsn_04_diagnostics_are_sanitised_and_folded() {
    let long = format!("550 5.7.1 {}", "word ".repeat(60));
    let mut hostile = block(
        "b@y.example",
        NoticeAction::Failed,
        (5, 7, 1),
        "550 5.7.1 bad",
    );
    hostile.diagnosis.reply =
        smtp_proto::codec::reply::ParsedReply::local(550, "bad\rX-Injected: yes é");
    let n = notice(vec![
        hostile,
        block(
            "c@y.example",
            NoticeAction::Failed,
            (5, 7, 1),
            long.trim_end(),
        ),
    ]);
    let dsn = text(&n, &context());
    assert!(!dsn.contains("\r\nX-Injected"), "{dsn}");
    assert!(dsn.is_ascii());
    for line in dsn.split("\r\n") {
        assert!(line.len() <= 78, "{line:?}");
    }
}

/// DSN-08: RET=HDRS or no RET returns the header section; RET=FULL the whole message
/// (up to the cap, then the header section).
#[test]
fn dsn_08_ret_decides_what_is_returned() {
    let mut n = notice(vec![block(
        "b@y.example",
        NoticeAction::Failed,
        (5, 1, 1),
        "550 5.1.1 no",
    )]);
    let dsn = text(&n, &context());
    assert!(dsn.contains("Content-Type: text/rfc822-headers\r\n\r\nFrom: s@o.example\r\nTo: b@y.example\r\nSubject: hello\r\n\r\n--"));
    assert!(!dsn.contains("body line"));
    n.ret = Some(Ret::Full);
    let dsn = text(&n, &context());
    assert!(dsn.contains("Content-Type: message/rfc822\r\n\r\nFrom: s@o.example"));
    assert!(dsn.contains("body line"));
    let mut capped = context();
    capped.full_limit = 10;
    assert!(!text(&n, &capped).contains("body line"));
    capped.full_limit = 1 << 20;
    capped.headers_only = true;
    assert!(
        !text(&n, &capped).contains("body line"),
        "PT-08: a REQUIRETLS message returns headers only"
    );
}

/// DSN-11: UTF-8 addresses make a global notice (RFC 6533), sent with SMTPUTF8.
#[test]
fn dsn_11_utf8_recipients_make_a_global_notice() {
    let n = notice(vec![block(
        "ü@y.example",
        NoticeAction::Failed,
        (5, 1, 1),
        "550 5.1.1 no",
    )]);
    let rendered = render(&n, &context());
    assert!(rendered.smtputf8);
    let dsn = String::from_utf8(rendered.content).unwrap();
    assert!(dsn.contains("report-type=global-delivery-status"));
    assert!(dsn.contains("Content-Type: message/global-delivery-status\r\n"));
    assert!(dsn.contains("Final-Recipient: utf-8; ü@y.example\r\n"));
    assert!(dsn.contains("Content-Type: message/global-headers\r\n"));
}

/// The boundary never occurs in the returned content.
#[test]
fn the_boundary_is_absent_from_the_returned_content() {
    let original = b"Subject: =_D1_1764700000\r\n\r\n--=_D1_1764700000\r\n";
    let mut n = notice(vec![block(
        "b@y.example",
        NoticeAction::Failed,
        (5, 1, 1),
        "550 no",
    )]);
    n.ret = Some(Ret::Full);
    let mut c = context();
    c.original = original;
    let dsn = text(&n, &c);
    assert!(dsn.contains("boundary=\"=_D1_1764700000x\""));
}

fn envelope() -> Envelope {
    let mut params = MailParams::default();
    params.size = Some(1234);
    params.ret = Some(Ret::Headers);
    params.envid = Some("id+1=x".into());
    let mut notify = smtp_proto::codec::params::RcptParams::default();
    notify.notify = Some(smtp_proto::codec::params::Notify {
        failure: true,
        ..Default::default()
    });
    Envelope {
        arrival_unix: 1_764_700_000,
        from: ReversePath::Mailbox("a@x.example".parse().unwrap()),
        params,
        recipients: vec![
            (path("b@y.example"), notify),
            (ForwardPath::Postmaster, Default::default()),
        ],
    }
}

/// SPL-01: the queue file's envelope reads back exactly, and the content starts after it.
#[test]
fn spl_01_queue_files_round_trip() {
    let mut file = spool::encode(&envelope());
    assert!(file.starts_with(b"SMTP-PROTO-QUEUE 1\r\narrival 1764700000\r\nmail <a@x.example> SIZE=1234 RET=HDRS ENVID=id+2B1+3Dx\r\nrcpt <b@y.example> NOTIFY=FAILURE\r\n"));
    let start = file.len();
    file.extend_from_slice(ORIGINAL);
    let (decoded, offset) = spool::decode(&file).unwrap();
    assert_eq!(decoded, envelope());
    assert_eq!(offset, start);
    assert_eq!(&file[offset..], ORIGINAL);
}

/// SPL-07: another version, or a damaged envelope, is reported, never guessed at.
#[test]
fn spl_07_unknown_or_damaged_queue_files_are_refused() {
    assert!(matches!(
        spool::decode(b"SMTP-PROTO-QUEUE 2\r\n"),
        Err(SpoolError::UnknownVersion(_))
    ));
    assert!(matches!(
        spool::decode(b""),
        Err(SpoolError::UnknownVersion(_))
    ));
    let cases: [&[u8]; 4] = [
        b"SMTP-PROTO-QUEUE 1\r\narrival x\r\n",
        b"SMTP-PROTO-QUEUE 1\r\narrival 1\r\nmail <a@x.example\r\n\r\n",
        b"SMTP-PROTO-QUEUE 1\r\narrival 1\r\nmail <>\r\nrcpt <b@y.example>\r\n",
        b"SMTP-PROTO-QUEUE 1\r\narrival 1\r\nmail <>\r\n\r\n",
    ];
    for case in cases {
        assert!(
            matches!(spool::decode(case), Err(SpoolError::Malformed { .. })),
            "{:?}",
            String::from_utf8_lossy(case)
        );
    }
}

/// SPL-05: progress records settle recipients; a torn last record is ignored.
#[test]
fn spl_05_progress_records_survive_a_torn_write() {
    let mut progress = spool::progress_record(1);
    progress.extend(spool::progress_record(0));
    progress.extend(spool::progress_record(1));
    progress.extend_from_slice(b"done 3");
    assert_eq!(spool::settled(&progress), [0, 1]);
}
