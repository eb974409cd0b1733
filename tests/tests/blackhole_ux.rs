//! blackhole as a test server people use by hand (issue 15): stalled sessions, AUTH
//! identities, the per-message log line, trace headers in Maildir files, blind
//! pipelining, and what the flags and replies say about AUTH and `--listen`.

#![allow(clippy::unwrap_used)]

use smtp_proto_tests::{Blackhole, SmtpClient};

const USER_ARG: &str = "user:pass";

/// Base64 (RFC 4648, with padding), for AUTH PLAIN tokens.
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
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
