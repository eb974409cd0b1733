//! blackhole's command line: exit codes and messages for bad flags, an unreadable
//! certificate and an address in use; `--help` documents every flag.

#![allow(clippy::unwrap_used)]

use std::net::TcpListener;
use std::time::Duration;

use smtp_proto_tests::{Blackhole, ListenerKind};

const TIMEOUT: Duration = Duration::from_secs(20);

fn stderr_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn unknown_flag_exits_2_naming_it() {
    let output = Blackhole::run(&["--listen", "127.0.0.1:0", "--no-such-flag"], TIMEOUT);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(stderr_of(&output).contains("--no-such-flag"), "{output:?}");
}

#[test]
fn bad_values_exit_2_naming_the_flag() {
    for (args, flag) in [
        (&["--listen", "not-an-address"][..], "--listen"),
        (&["--listen", "127.0.0.1"][..], "IP:PORT"),
        (&["--mode", "sideways"][..], "--mode"),
        (&["--delay", "500-100"][..], "--delay"),
        (&["--auth", "no-colon"][..], "--auth"),
        (&["--require-auth"][..], "--require-auth"),
        (&["--cert", "/tmp/only-a-cert.pem"][..], "--key"),
    ] {
        let output = Blackhole::run(args, TIMEOUT);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {output:?}");
        assert!(stderr_of(&output).contains(flag), "{args:?}: {output:?}");
    }
}

#[test]
fn unreadable_certificate_exits_2_naming_the_file() {
    let output = Blackhole::run(
        &[
            "--listen",
            "127.0.0.1:0",
            "--cert",
            "/nonexistent/cert.pem",
            "--key",
            "/nonexistent/key.pem",
        ],
        TIMEOUT,
    );
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(
        stderr_of(&output).contains("/nonexistent/cert.pem"),
        "{output:?}"
    );
}

#[test]
fn address_in_use_exits_1_naming_it() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let output = Blackhole::run(&["--listen", &addr, "--quiet"], TIMEOUT);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(stderr_of(&output).contains(&addr), "{output:?}");
    // The same for an implicit-TLS listener after a good plain one.
    let output = Blackhole::run(
        &["--listen", "127.0.0.1:0", "--tls-listen", &addr, "--quiet"],
        TIMEOUT,
    );
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(stderr_of(&output).contains(&addr), "{output:?}");
    drop(taken);
}

/// Port 0 may repeat across listen flags; one listening line per listener, grouped by
/// kind (smtp, smtps, lmtp), each kind in flag order; every port is a real one.
#[test]
fn listening_lines_name_every_listener() {
    let bh = Blackhole::start(&[
        "--lmtp-listen",
        "127.0.0.1:0",
        "--listen",
        "127.0.0.1:0",
        "--tls-listen",
        "127.0.0.1:0",
        "--listen",
        "127.0.0.1:0",
        "--quiet",
    ]);
    let kinds: Vec<ListenerKind> = bh.listeners().iter().map(|l| l.kind).collect();
    assert_eq!(
        kinds,
        [
            ListenerKind::Smtp,
            ListenerKind::Smtp,
            ListenerKind::Smtps,
            ListenerKind::Lmtp
        ]
    );
    let mut ports: Vec<u16> = bh.listeners().iter().map(|l| l.addr.port()).collect();
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), 4, "{:?}", bh.listeners());
    assert!(ports.iter().all(|&p| p != 0));
}

#[test]
fn help_lists_every_flag() {
    let output = Blackhole::run(&["--help"], TIMEOUT);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let help = String::from_utf8_lossy(&output.stdout);
    for flag in [
        "--listen",
        "--tls-listen",
        "--lmtp-listen",
        "--cert",
        "--key",
        "--hostname",
        "--max-message-size",
        "--max-recipients",
        "--max-connections",
        "--auth",
        "--require-tls",
        "--require-auth",
        "--maildir",
        "--no-trace-headers",
        "--mode",
        "--delay",
        "--no-header-switches",
        "--quiet",
        "--threads",
        "--log-level",
        "X-Blackhole-Mode",
        "X-Blackhole-Delay",
    ] {
        assert!(
            help.contains(flag),
            "--help does not mention {flag}:\n{help}"
        );
    }
}

/// `--threads 1` (a single-threaded runtime) serves sessions like the default runtime:
/// two clients at once, each with a delivery.
#[test]
fn single_threaded_runtime_serves_concurrent_sessions() {
    use smtp_proto_tests::SmtpClient;
    let bh = Blackhole::start_smtp(&["--threads", "1"]);
    let mut first = SmtpClient::connect_ehlo(bh.smtp_addr());
    let mut second = SmtpClient::connect_ehlo(bh.smtp_addr());
    for client in [&mut first, &mut second] {
        client.expect("MAIL FROM:<a@example.org>", 250);
        client.expect("RCPT TO:<b@example.net>", 250);
        client.expect("DATA", 354);
    }
    for client in [&mut first, &mut second] {
        client.send(b"Subject: t\r\n\r\nbody\r\n.\r\n");
        client.expect_reply(250);
        client.expect("QUIT", 221);
    }
}
