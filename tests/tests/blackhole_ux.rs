//! blackhole as a test server people use by hand (issue 15): stalled sessions, AUTH
//! identities, the per-message log line, trace headers in Maildir files, blind
//! pipelining, and what the flags and replies say about AUTH and `--listen`.

#![allow(clippy::unwrap_used)]

use smtp_proto_tests::{Blackhole, SmtpClient, TempDir, maildir_messages};

const USER_ARG: &str = "user:pass";

/// Base64 (the `base64` crate, as the other suites use it), for AUTH PLAIN tokens.
fn base64(input: impl AsRef<[u8]>) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(input)
}

/// A session over STARTTLS, EHLO sent again after the handshake.
fn tls_session(bh: &Blackhole) -> SmtpClient {
    let mut client = SmtpClient::connect_ehlo(bh.smtp_addr());
    client.starttls();
    client.ehlo("client.example");
    client
}

/// Item 2 (RFC 4616 §2): an authorization identity other than the user's own is
/// refused with 535 5.7.8, even with the right password; the user's own, or none, is
/// accepted.
#[test]
fn auth_plain_refuses_another_authorization_identity() {
    let bh = Blackhole::start_smtp(&["--auth", USER_ARG]);
    for authzid in ["admin", "User", "someone@else.example"] {
        let mut client = tls_session(&bh);
        let token = base64(format!("{authzid}\0user\0pass").as_bytes());
        let reply = client.command(&format!("AUTH PLAIN {token}"));
        assert_eq!(reply.code, 535, "{authzid}: {}", reply.text());
        assert!(reply.text().contains("5.7.8"), "{}", reply.text());
        assert!(
            reply.text().contains("another identity"),
            "{}",
            reply.text()
        );
        client.quit();
    }
    for token in [b"user\0user\0pass".as_slice(), b"\0user\0pass"] {
        let mut client = tls_session(&bh);
        let reply = client.command(&format!("AUTH PLAIN {}", base64(token)));
        assert_eq!(reply.code, 235, "{token:?}: {}", reply.text());
        client.quit();
    }
}

/// Waits (up to 10 s) until blackhole's stderr holds a line containing every one of
/// `needles`, and returns that line.
fn stderr_line(bh: &Blackhole, needles: &[&str]) -> String {
    let deadline = smtp_proto_tests::now() + std::time::Duration::from_secs(10);
    loop {
        let stderr = bh.stderr();
        if let Some(line) = stderr
            .lines()
            .find(|line| needles.iter().all(|n| line.contains(n)))
        {
            return line.to_owned();
        }
        assert!(
            smtp_proto_tests::now() < deadline,
            "no line with {needles:?} in:\n{stderr}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Item 3: one `info` line per message with the session id, client address, TLS, AUTH
/// user, envelope, size and reply; no ANSI colour codes on a pipe.
#[test]
fn one_log_line_per_message_without_colour_on_a_pipe() {
    let bh = Blackhole::start_smtp(&["--auth", USER_ARG, "--mode", "accept"]);
    let mut client = tls_session(&bh);
    let reply = client.command(&format!("AUTH PLAIN {}", base64(b"\0user\0pass")));
    assert_eq!(reply.code, 235);
    let body = b"Subject: log\r\n\r\nhello\r\n";
    let reply = client.deliver("a@x.example", &["b@y.example", "c@z.example"], body);
    assert_eq!(reply.code, 250);
    client.quit();
    let line = stderr_line(&bh, &["message", "rcpt="]);
    for field in [
        " INFO ",
        "session=",
        "client=127.0.0.1:",
        "tls=yes",
        "user=user",
        "from=<a@x.example>",
        "rcpt=<b@y.example>,<c@z.example>",
        &format!("size={}", body.len()),
        "reply=250",
    ] {
        assert!(line.contains(field), "{field} missing: {line}");
    }
    // A plain session without AUTH, bounced by a header switch.
    let mut client = SmtpClient::connect_ehlo(bh.smtp_addr());
    let reply = client.deliver(
        "d@x.example",
        &["e@y.example"],
        b"X-Blackhole-Mode: bounce\r\n\r\nx\r\n",
    );
    assert!(reply.code >= 400, "{}", reply.text());
    client.quit();
    let line = stderr_line(&bh, &["message", "from=<d@x.example>"]);
    assert!(line.contains("tls=no") && line.contains("user=-"), "{line}");
    assert!(line.contains(&format!("reply={}", reply.code)), "{line}");
    assert!(
        !bh.stderr().contains('\u{1b}'),
        "ANSI codes on a pipe: {:?}",
        bh.stderr()
    );
}

/// The header section of a Maildir file, as text.
fn header_of(file: &[u8]) -> String {
    let text = String::from_utf8_lossy(file);
    text.split("\r\n\r\n").next().unwrap_or_default().to_owned()
}

/// Item 4: Maildir files carry Return-Path, one Delivered-To per recipient (BCC
/// recipients are not lost) and a Received field with the protocol, the TLS version and
/// an RFC 5322 date; `--no-trace-headers` keeps the bytes exact.
#[test]
fn maildir_files_carry_trace_headers() {
    let dir = TempDir::new("ux-trace");
    let bh = Blackhole::start_exact(&[
        "--listen",
        "127.0.0.1:0",
        "--quiet",
        "--maildir",
        dir.arg(),
        "--auth",
        USER_ARG,
    ]);
    let body = b"Subject: trace\r\n\r\nbody\r\n";
    // Over STARTTLS with AUTH: ESMTPSA and the TLS version.
    let mut client = tls_session(&bh);
    let version = format!("{:?}", client.tls_version().unwrap());
    assert_eq!(
        client
            .command(&format!("AUTH PLAIN {}", base64(b"\0user\0pass")))
            .code,
        235
    );
    let reply = client.deliver("a@x.example", &["b@y.example", "bcc@z.example"], body);
    assert_eq!(reply.code, 250);
    client.quit();
    // Plain, null sender: ESMTP.
    let mut client = SmtpClient::connect_ehlo(bh.smtp_addr());
    assert_eq!(client.deliver("", &["c@y.example"], body).code, 250);
    client.quit();
    let files = maildir_messages(dir.path());
    assert_eq!(files.len(), 2);
    let (tls, plain): (Vec<&Vec<u8>>, Vec<&Vec<u8>>) =
        files.iter().partition(|f| header_of(f).contains("ESMTPSA"));
    let (tls, plain) = (header_of(tls[0]), header_of(plain[0]));
    assert!(tls.starts_with("Return-Path: <a@x.example>\r\n"), "{tls}");
    assert_eq!(tls.matches("Delivered-To: ").count(), 2, "{tls}");
    assert!(tls.contains("Delivered-To: b@y.example\r\n"), "{tls}");
    assert!(tls.contains("Delivered-To: bcc@z.example\r\n"), "{tls}");
    assert!(
        tls.contains("Received: from client.example ([127.0.0.1])"),
        "{tls}"
    );
    assert!(
        tls.contains("by blackhole.localhost (blackhole) with ESMTPSA"),
        "{tls}"
    );
    // The version as the core names it (`TLSv1.3`); the client's `TLSv1_3`.
    let version = version.replace('_', ".");
    assert!(
        tls.contains(&format!("(using {version} with cipher TLS")),
        "{version}: {tls}"
    );
    // `; Tue, 1 Jul 2003 10:52:37 +0000`: weekday, day, month, year, time, zone.
    let date = tls
        .rsplit(";\r\n\t")
        .next()
        .unwrap()
        .split("\r\n")
        .next()
        .unwrap();
    let parts: Vec<&str> = date.split(' ').collect();
    assert_eq!(parts.len(), 6, "{date}");
    assert!(parts[0].ends_with(',') && parts[5] == "+0000", "{date}");
    assert!(
        parts[4].len() == 8 && parts[3].parse::<u32>().unwrap() >= 2024,
        "{date}"
    );
    assert!(tls.ends_with("Subject: trace"), "{tls}");
    assert!(
        plain.starts_with("Return-Path: <>\r\nDelivered-To: c@y.example\r\n"),
        "{plain}"
    );
    assert!(plain.contains(" with ESMTP;"), "{plain}");
    assert!(!plain.contains("(using"), "{plain}");

    // --no-trace-headers: exactly the bytes sent.
    let exact = TempDir::new("ux-exact");
    let bh = Blackhole::start_exact(&[
        "--listen",
        "127.0.0.1:0",
        "--quiet",
        "--maildir",
        exact.arg(),
        "--no-trace-headers",
    ]);
    let mut client = SmtpClient::connect_ehlo(bh.smtp_addr());
    assert_eq!(
        client.deliver("a@x.example", &["b@y.example"], body).code,
        250
    );
    client.quit();
    assert_eq!(maildir_messages(exact.path()), vec![body.to_vec()]);
}

/// Item 6 (part): `--listen localhost:PORT` works; `--help` says AUTH needs TLS.
#[test]
fn listen_takes_a_host_name_and_help_says_auth_needs_tls() {
    let bh = Blackhole::start(&["--listen", "localhost:0", "--quiet"]);
    assert!(bh.smtp_addr().ip().is_loopback(), "{:?}", bh.listeners());
    let output = Blackhole::run(&["--help"], std::time::Duration::from_secs(20));
    let help = String::from_utf8_lossy(&output.stdout);
    let auth = help.lines().find(|l| l.contains("--auth")).unwrap();
    assert!(auth.contains("only after TLS"), "{auth}");
}

/// A client that sends its whole session at once (`printf … | nc`): by default the RFC
/// 2920 check answers 554 with the reason and closes; with `--allow-blind-pipelining`
/// every command is answered and the message is stored.
#[test]
fn blind_pipelining_is_refused_with_the_reason_unless_allowed() {
    let session = b"HELO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\nSubject: t\r\n\r\nhi\r\n.\r\nQUIT\r\n";
    let bh = Blackhole::start_smtp(&[]);
    let mut client = SmtpClient::connect(bh.smtp_addr());
    assert_eq!(client.read_reply().code, 220);
    client.send(session);
    // The MAIL behind the HELO was sent before HELO's reply could have been read.
    let refused = client.read_reply();
    assert_eq!(refused.code, 554);
    let text = refused.lines.join(" ");
    assert!(
        text.contains("synchronization") && text.contains("RFC 2920"),
        "{text}"
    );

    let dir = TempDir::new("blind-pipelining");
    let bh = Blackhole::start_smtp(&["--allow-blind-pipelining", "--maildir", dir.arg()]);
    let mut client = SmtpClient::connect(bh.smtp_addr());
    assert_eq!(client.read_reply().code, 220);
    client.send(session);
    let codes: Vec<u16> = (0..6).map(|_| client.read_reply().code).collect();
    assert_eq!(codes, [250, 250, 250, 354, 250, 221]);
    assert_eq!(maildir_messages(dir.path()).len(), 1);
}

/// AUTH before TLS: the 538 says that AUTH comes only after TLS and what to do; without
/// `--auth` the 502 says AUTH is not offered at all.
#[test]
fn auth_before_tls_says_what_to_do() {
    let bh = Blackhole::start_smtp(&["--auth", USER_ARG]);
    let mut client = SmtpClient::connect_ehlo(bh.smtp_addr());
    let reply = client.command(&format!("AUTH PLAIN {}", base64(b"\0user\0pass")));
    assert_eq!(
        (reply.code, reply.text()),
        (
            538,
            "5.7.11 Encryption required for requested authentication mechanism: \
             AUTH is offered only after TLS, send STARTTLS first"
                .to_owned()
        )
    );
    client.quit();
    let bh = Blackhole::start_smtp(&[]);
    let mut client = SmtpClient::connect_ehlo(bh.smtp_addr());
    let reply = client.command("AUTH PLAIN");
    assert_eq!(
        (reply.code, reply.text()),
        (
            502,
            "5.5.1 Error: AUTH is not offered by this server, send MAIL without it".to_owned()
        )
    );
    client.quit();
}

/// Ctrl-C says at once what the shutdown waits for (a session with a transaction open
/// keeps it going); a second Ctrl-C stops at once, with the final line.
#[test]
fn ctrl_c_says_what_it_waits_for_and_a_second_one_stops_at_once() {
    use std::time::Duration;
    let mut bh = Blackhole::start_smtp(&[]);
    let mut client = SmtpClient::connect_ehlo(bh.smtp_addr());
    client.expect("MAIL FROM:<a@x.example>", 250);
    bh.interrupt();
    let line = bh.wait_for_stdout_line("shutting down", Duration::from_secs(5));
    assert!(
        line.starts_with("shutting down: waiting for 1 open session (")
            && line.ends_with("Ctrl-C again stops at once"),
        "{line}"
    );
    // The transaction holds the shutdown (for up to 30 s).
    std::thread::sleep(Duration::from_millis(500));
    assert!(bh.is_running(), "exited with a transaction open");
    let interrupted = smtp_proto_tests::now();
    bh.interrupt();
    let status = bh.wait_exit(Duration::from_secs(5));
    assert!(status.success(), "{status}");
    assert!(smtp_proto_tests::now() - interrupted < Duration::from_secs(5));
    let stdout = bh.stdout();
    assert!(
        stdout.contains("stopping at once: 1 session(s) cut off"),
        "{stdout}"
    );
    assert!(stdout.lines().any(|l| l.starts_with("final:")), "{stdout}");
    drop(client);

    // Nothing open: the line says so and the process ends on its own.
    let mut bh = Blackhole::start_smtp(&[]);
    bh.interrupt();
    bh.wait_for_stdout_line("shutting down: no session open", Duration::from_secs(5));
    assert!(bh.wait_exit(Duration::from_secs(10)).success());
}
