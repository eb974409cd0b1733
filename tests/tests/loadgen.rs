//! The `smtp-load` example (the load generator) against blackhole and smtp-sink on
//! loopback: its counts equal the server's own (blackhole's `final:` line and Maildir,
//! smtp-sink's dump files), its JSON report has the percentiles of every phase, and its
//! exit status follows the messages' fate. Small runs with bounded waits: no timing is
//! asserted beyond "the rate was not exceeded".

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;
use smtp_proto_tests::peers::{PEER_DOMAIN, Postfix, PostfixOptions, SmtpSink, SmtpSinkOptions};
use smtp_proto_tests::{Blackhole, TempDir, blackhole, maildir_messages, run_with_timeout};

/// The deadline of one smtp-load run.
const RUN_TIMEOUT: Duration = Duration::from_secs(30);

/// The smtp-load binary: `$SMTP_LOAD_BIN` if set (a release build for figures), else the
/// one of this build, built once per test process like blackhole
/// (`smtp_proto_tests::blackhole::binary`), in the same target directory and profile.
fn binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            std::env::var_os("SMTP_LOAD_BIN")
                .map_or_else(|| blackhole::build_example("smtp-load"), PathBuf::from)
        })
        .as_path()
}

/// One finished smtp-load run.
struct Run {
    /// Exit status and output.
    output: Output,
    /// The `--json` report.
    json: Value,
}

impl Run {
    /// What it printed, for failure messages.
    fn text(&self) -> String {
        format!(
            "--- stdout\n{}\n--- stderr\n{}",
            String::from_utf8_lossy(&self.output.stdout),
            String::from_utf8_lossy(&self.output.stderr)
        )
    }

    /// A count from the JSON report: `group.name`.
    fn count(&self, group: &str, name: &str) -> u64 {
        self.json[group][name]
            .as_u64()
            .unwrap_or_else(|| panic!("no {group}.{name} in the JSON report\n{}", self.text()))
    }

    /// Exit status 0, or a failure showing the output.
    fn assert_success(&self) {
        assert!(
            self.output.status.success(),
            "smtp-load failed: {:?}\n{}",
            self.output.status,
            self.text()
        );
    }
}

/// Runs smtp-load against `server` with `--quiet --json FILE` and `args`.
fn load(server: &str, args: &[&str]) -> Run {
    let dir = TempDir::new("smtp-load");
    let json_path = dir.path().join("report.json");
    let json_arg = json_path.to_string_lossy().into_owned();
    let mut all = vec!["--server", server, "--quiet", "--json", &json_arg];
    all.extend_from_slice(args);
    let output = run_with_timeout(Command::new(binary()).args(&all), b"", RUN_TIMEOUT);
    let json = std::fs::read_to_string(&json_path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or(Value::Null);
    let run = Run { output, json };
    assert!(
        !run.json.is_null(),
        "smtp-load {all:?} wrote no JSON report\n{}",
        run.text()
    );
    run
}

/// Blackhole's `final:` line: (messages, bounced, sessions).
fn blackhole_final(blackhole: &mut Blackhole) -> (u64, u64, u64) {
    blackhole.interrupt();
    let status = blackhole.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "blackhole exit: {status}");
    let stdout = blackhole.stdout();
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("final: total "))
        .unwrap_or_else(|| panic!("no final line:\n{stdout}"));
    // `10 msg, 0.01 MB, 0 bounced, 3 sessions | …`
    let words: Vec<&str> = line.split([' ', ',']).filter(|w| !w.is_empty()).collect();
    let number = |after: usize| -> u64 {
        words[after]
            .parse()
            .unwrap_or_else(|_| panic!("bad final line: {line}"))
    };
    assert_eq!(
        (words[1], words[5], words[7]),
        ("msg", "bounced", "sessions"),
        "{line}"
    );
    (number(0), number(4), number(6))
}

/// Each case: smtp-load's flags, the listener it uses, the fewest sessions 24 messages
/// take, and blackhole's extra flags.
#[test]
fn counts_match_blackhole_and_its_maildir() {
    const N: u64 = 24;
    type Case<'a> = (&'a str, &'a [&'a str], &'a str, u64, &'a [&'a str]);
    let cases: &[Case<'_>] = &[
        ("connection per message", &[], "smtp", N, &[]),
        ("reused, pipelined", &["--reuse", "6"], "smtp", 4, &[]),
        (
            "reused, no pipelining",
            &["--reuse", "6", "--pipelining", "off"],
            "smtp",
            4,
            &[],
        ),
        (
            "chunking, sizes",
            &["--reuse", "4", "--chunking", "700", "--size", "500-3000"],
            "smtp",
            6,
            &[],
        ),
        ("STARTTLS", &["--starttls", "--reuse", "3"], "smtp", 8, &[]),
        (
            "STARTTLS and AUTH",
            &["--starttls", "--auth", "load:secret", "--reuse", "8"],
            "smtp",
            3,
            &["--auth", "load:secret", "--require-auth"],
        ),
        ("implicit TLS", &["--tls", "--reuse", "3"], "smtps", 8, &[]),
        (
            "LMTP, 3 recipients",
            &["--lmtp", "--recipients", "3", "--reuse", "12"],
            "lmtp",
            2,
            &[],
        ),
    ];
    for (name, flags, listener, sessions, server_flags) in cases {
        let maildir = TempDir::new("loadgen-maildir");
        let mut server_args = vec!["--maildir", maildir.arg()];
        server_args.extend_from_slice(server_flags);
        let mut blackhole = Blackhole::start_all(&server_args);
        let addr = match *listener {
            "smtps" => blackhole.smtps_addr(),
            "lmtp" => blackhole.lmtp_addr(),
            _ => blackhole.smtp_addr(),
        }
        .to_string();
        let mut args = vec!["--messages", "24", "--sessions", "4"];
        args.extend_from_slice(flags);
        let run = load(&addr, &args);
        run.assert_success();
        assert_eq!(run.count("messages", "total"), N, "{name}\n{}", run.text());
        assert_eq!(
            run.count("messages", "accepted"),
            N,
            "{name}\n{}",
            run.text()
        );
        // Sessions share the tickets, so the last connections may carry fewer than
        // --reuse messages: at least N / reuse connections, and exactly blackhole's count.
        let opened = run.count("sessions", "total");
        assert!(
            (*sessions..=N).contains(&opened),
            "{name}: {opened} sessions"
        );
        assert_eq!(run.count("sessions", "failed"), 0, "{name}\n{}", run.text());
        let (messages, bounced, bh_sessions) = blackhole_final(&mut blackhole);
        assert_eq!(
            (messages, bounced, bh_sessions),
            (N, 0, opened),
            "{name}: blackhole's final line against smtp-load's"
        );
        assert_eq!(
            maildir_messages(maildir.path()).len() as u64,
            N,
            "{name}: Maildir files"
        );
        let text = String::from_utf8_lossy(&run.output.stdout);
        let first = text.lines().next().unwrap_or_default();
        assert!(
            first.starts_with(&format!("final: total {N} msg, {N} accepted, 0 failed,")),
            "{name}: {first}"
        );
    }
}

/// `--json` has p50, p90, p99, p99.9 and max for every phase a session went through:
/// plain sessions, then STARTTLS ones (the TLS handshake and the STARTTLS reply too).
#[test]
fn json_has_percentiles_per_phase() {
    let mut blackhole = Blackhole::start_all(&[]);
    let addr = blackhole.smtp_addr().to_string();
    let plain = load(&addr, &["--messages", "10", "--sessions", "2"]);
    let tls = load(
        &addr,
        &[
            "--messages",
            "10",
            "--sessions",
            "2",
            "--starttls",
            "--chunking",
        ],
    );
    let smtps = blackhole.smtps_addr().to_string();
    let implicit = load(&smtps, &["--messages", "4", "--sessions", "2", "--tls"]);
    for (run, phases) in [
        (
            &plain,
            &[
                "connect",
                "greeting",
                "ehlo",
                "mail",
                "rcpt",
                "data",
                "end_of_data",
                "quit",
                "message",
            ][..],
        ),
        (
            &tls,
            &[
                "connect",
                "greeting",
                "ehlo",
                "starttls",
                "tls",
                "mail",
                "end_of_data",
                "message",
            ],
        ),
        (
            &implicit,
            &["connect", "tls", "greeting", "ehlo", "end_of_data"],
        ),
    ] {
        run.assert_success();
        let latency = &run.json["latency_ms"];
        for phase in phases {
            let entry = &latency[phase];
            for key in ["count", "mean", "p50", "p90", "p99", "p99.9", "max"] {
                assert!(
                    entry[key].is_number(),
                    "latency_ms.{phase}.{key} missing\n{}",
                    run.text()
                );
            }
            let (p50, max) = (entry["p50"].as_f64(), entry["max"].as_f64());
            assert!(p50 <= max, "{phase}: p50 {p50:?} > max {max:?}");
        }
        assert_eq!(latency["message"]["count"], run.json["messages"]["total"]);
        assert!(run.json["msg_per_s"].as_f64().is_some_and(|r| r > 0.0));
        assert!(run.json["replies"]["end_of_data"]["250"].is_u64());
    }
    // Without STARTTLS there is no handshake to measure; without BDAT, data is DATA's 354.
    assert!(plain.json["latency_ms"]["tls"].is_null());
    assert_eq!(plain.json["replies"]["data"]["354"], 10);
    assert_eq!(tls.json["latency_ms"]["tls"]["count"], 10);
    let _ = blackhole_final(&mut blackhole);
}

/// Messages blackhole bounces make smtp-load exit 1 (its report counts them by kind);
/// `--allow-failures` makes the same run exit 0.
#[test]
fn bounces_fail_the_run_unless_allowed() {
    let mut blackhole = Blackhole::start_smtp(&["--mode", "bounce"]);
    let addr = blackhole.smtp_addr().to_string();
    let refused = load(
        &addr,
        &["--messages", "6", "--sessions", "2", "--reuse", "3"],
    );
    assert_eq!(refused.output.status.code(), Some(1), "{}", refused.text());
    assert_eq!(refused.count("messages", "failed"), 6);
    let errors = refused.json["errors"]
        .as_object()
        .expect("an errors object");
    let counted: u64 = errors.values().filter_map(Value::as_u64).sum();
    assert_eq!(counted, 6, "{errors:?}");
    assert!(
        errors.keys().all(|k| k.contains("at end of data")),
        "{errors:?}"
    );
    let allowed = load(
        &addr,
        &["--messages", "6", "--sessions", "2", "--allow-failures"],
    );
    allowed.assert_success();
    assert_eq!(allowed.count("messages", "accepted"), 0);
    let (messages, bounced, _) = blackhole_final(&mut blackhole);
    assert_eq!((messages, bounced), (12, 12));
}

/// A server that is not there: every message fails, by kind `connect`, exit 1.
#[test]
fn connection_refused_is_counted() {
    let port = {
        let socket = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        socket.local_addr().expect("an address").port()
    };
    let run = load(
        &format!("127.0.0.1:{port}"),
        &["--messages", "3", "--sessions", "1"],
    );
    assert_eq!(run.output.status.code(), Some(1), "{}", run.text());
    assert_eq!(run.count("messages", "failed"), 3);
    assert_eq!(run.count("sessions", "failed"), 3);
    let errors = run.json["errors"].as_object().expect("an errors object");
    assert!(
        errors.keys().all(|k| k.starts_with("connect: ")),
        "{errors:?}"
    );
}

/// Against Postfix's smtp-sink: every message reaches its dump directory, with and
/// without pipelining, over fresh and reused connections.
#[test]
fn counts_match_smtp_sink() {
    if !SmtpSink::require() {
        return;
    }
    let sink = SmtpSink::start(SmtpSinkOptions::default());
    let addr = sink.addr().to_string();
    let mut expected = 0;
    for flags in [
        &["--messages", "12", "--sessions", "3"][..],
        &["--messages", "12", "--sessions", "3", "--reuse", "4"],
        &[
            "--messages",
            "12",
            "--sessions",
            "3",
            "--reuse",
            "4",
            "--pipelining",
            "off",
            "--recipients",
            "2",
        ],
    ] {
        let run = load(&addr, flags);
        run.assert_success();
        assert_eq!(run.count("messages", "accepted"), 12, "{flags:?}");
        expected += 12;
        let dumped = sink.wait_for_messages(expected, Duration::from_secs(10));
        assert_eq!(dumped.len(), expected, "{flags:?}");
    }
}

/// `--rate` is an open loop: 20 messages at 100/s take at least the 190 ms of their
/// schedule, and each message's latency is taken from its intended start.
#[test]
fn rate_paces_the_messages() {
    let mut blackhole = Blackhole::start_smtp(&[]);
    let addr = blackhole.smtp_addr().to_string();
    let run = load(
        &addr,
        &["--messages", "20", "--sessions", "4", "--rate", "100"],
    );
    run.assert_success();
    let elapsed = run.json["elapsed_s"].as_f64().expect("elapsed_s");
    assert!(elapsed >= 0.19, "20 messages at 100/s in {elapsed} s");
    assert_eq!(run.json["settings"]["rate"], 100.0);
    assert_eq!(blackhole_final(&mut blackhole).0, 20);
}

/// `--help` explains every flag; a bad flag is a usage error (exit 2).
#[test]
fn help_and_usage_errors() {
    let help = run_with_timeout(Command::new(binary()).arg("--help"), b"", RUN_TIMEOUT);
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--server",
        "--sessions",
        "--messages",
        "--duration",
        "--rate",
        "--size",
        "--recipients",
        "--reuse",
        "--pipelining",
        "--chunking",
        "--starttls",
        "--tls",
        "--auth",
        "--from",
        "--to",
        "--body",
        "--lmtp",
        "--json",
        "--allow-failures",
        "--threads",
        "coordinated omission",
    ] {
        assert!(
            text.contains(flag),
            "--help does not mention {flag}:\n{text}"
        );
    }
    let bad = run_with_timeout(
        Command::new(binary()).args(["--server", "127.0.0.1:25", "--size", "9-1"]),
        b"",
        RUN_TIMEOUT,
    );
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
}

/// Figure 4 of tests/scripts/bench-loadgen.sh for Postfix's smtpd (a private instance needs
/// this harness): per-phase latency at a fixed rate, printed as a Markdown table. Run by
/// hand, with the release build of smtp-load: `SMTP_LOAD_BIN=$PWD/target/release/examples/smtp-load
/// cargo test -p smtp-proto-tests --test loadgen -- --ignored postfix_latency --nocapture`
/// (`LOADGEN_RATE`, default 100 msg/s, for 5 s). Nothing about time is asserted, only that
/// every message was accepted.
#[test]
#[ignore = "a figure for BENCHMARKS.md, run by hand"]
fn postfix_latency() {
    if !Postfix::require() {
        return;
    }
    let postfix = Postfix::start(PostfixOptions::default());
    let rate = std::env::var("LOADGEN_RATE").unwrap_or_else(|_| "100".to_owned());
    let to = format!("rcpt{{r}}@{PEER_DOMAIN}");
    let run = load(
        &postfix.addr().to_string(),
        &[
            "--sessions",
            "20",
            "--rate",
            &rate,
            "--duration",
            "5",
            "--size",
            "1000",
            "--to",
            &to,
        ],
    );
    run.assert_success();
    println!("| server | phase | count | p50 ms | p99 ms | p99.9 ms | max ms |");
    println!("|---|---|---|---|---|---|---|");
    let phases = run.json["latency_ms"].as_object().expect("latency_ms");
    let order = [
        "connect",
        "tls",
        "greeting",
        "ehlo",
        "starttls",
        "auth",
        "mail",
        "rcpt",
        "data",
        "end_of_data",
        "rset",
        "quit",
        "message",
    ];
    for phase in order {
        let Some(v) = phases.get(phase) else {
            continue;
        };
        println!(
            "| Postfix smtpd | {phase} | {} | {:.3} | {:.3} | {:.3} | {:.3} |",
            v["count"],
            v["p50"].as_f64().unwrap_or(f64::NAN),
            v["p99"].as_f64().unwrap_or(f64::NAN),
            v["p99.9"].as_f64().unwrap_or(f64::NAN),
            v["max"].as_f64().unwrap_or(f64::NAN),
        );
    }
}
