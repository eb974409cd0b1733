//! Hand-written sessions against blackhole over real sockets: STARTTLS injection, broken
//! handshakes, TLS close then cleartext, vanishing clients, 200 concurrent sessions, the
//! connection limit, graceful shutdown, modes and header switches, SIZE, and the TLS and
//! AUTH requirements.

#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use smtp_proto_tests::client::deliver_once;
use smtp_proto_tests::message::{message_with_body_line, message_with_header};
use smtp_proto_tests::{
    Blackhole, Reply, SmtpClient, TempDir, assert_maildir_eq, data_payload, maildir_messages, now,
    sample_message, wait_for_empty_tmp,
};

const FROM: &str = "sender@client.example";
const TO: &str = "rcpt@blackhole.localhost";

/// Blackhole's bounce codes.
const BOUNCES: [u16; 10] = [450, 451, 452, 458, 521, 550, 551, 552, 553, 571];

/// Base64 (the `base64` crate, as the other suites use it), for AUTH PLAIN tokens.
fn base64(input: impl AsRef<[u8]>) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(input)
}

fn auth_plain(user: &str, password: &str) -> String {
    format!(
        "AUTH PLAIN {}",
        base64(format!("\0{user}\0{password}").as_bytes())
    )
}

/// Asserts that `reply` is one of blackhole's simulated bounces, with a matching enhanced
/// status code.
fn assert_bounce(reply: &Reply) {
    assert!(BOUNCES.contains(&reply.code), "not a bounce:\n{reply}");
    let class = char::from(b'0' + (reply.code / 100) as u8);
    assert!(
        reply.lines[0].starts_with(class) && reply.lines[0].as_bytes().get(1) == Some(&b'.'),
        "enhanced code does not match the class:\n{reply}"
    );
}

/// TLS-02 (CVE-2011-0411): commands pipelined after STARTTLS in the same write are
/// plaintext injected before TLS; they must never be executed after the handshake.
#[test]
fn starttls_injection_is_discarded() {
    let bh = Blackhole::start_smtp(&[]);
    let mut c = SmtpClient::connect(bh.smtp_addr());
    c.expect_greeting();
    let ehlo = c.ehlo("a.example");
    assert!(ehlo.has_extension("STARTTLS"), "{ehlo}");
    c.send(b"STARTTLS\r\nEHLO evil\r\nMAIL FROM:<x@y>\r\n");
    c.expect_reply(220);
    // Fails if any plaintext followed the 220.
    c.try_upgrade_tls().expect("handshake after STARTTLS");
    let injected = c.read_for(Duration::from_secs(1));
    assert!(
        injected.is_empty(),
        "VULNERABLE: replies to injected commands arrived after the handshake: {:?}",
        String::from_utf8_lossy(&injected)
    );
    let ehlo = c.ehlo("c.example");
    assert!(!ehlo.has_extension("STARTTLS"), "TLS-06:\n{ehlo}");
    c.expect(&format!("MAIL FROM:<{FROM}>"), 250);
    c.expect(&format!("RCPT TO:<{TO}>"), 250);
    c.quit();
}

/// TLS-03, TLS-07: after the handshake the session starts over (EHLO required) and a
/// second STARTTLS is refused.
#[test]
fn starttls_resets_the_session() {
    let bh = Blackhole::start_smtp(&[]);
    let mut c = SmtpClient::connect_ehlo(bh.smtp_addr());
    c.starttls();
    assert_eq!(c.tls_version(), Some(rustls::ProtocolVersion::TLSv1_3));
    c.expect(&format!("MAIL FROM:<{FROM}>"), 503);
    c.ehlo("c.example");
    let again = c.command("STARTTLS");
    assert_eq!(again.code / 100, 5, "TLS-07:\n{again}");
    c.expect(&format!("MAIL FROM:<{FROM}>"), 250);
    c.quit();
}

/// TLS-10: garbage instead of a ClientHello closes the connection without a plaintext
/// SMTP reply (a TLS alert record is allowed).
#[test]
fn garbage_instead_of_client_hello_closes() {
    let bh = Blackhole::start_all(&[]);
    let garbage = b"GARBAGE, NOT TLS\r\nEHLO x\r\nMAIL FROM:<a@b.example>\r\n";

    let mut c = SmtpClient::connect_ehlo(bh.smtp_addr());
    c.expect("STARTTLS", 220);
    c.send(garbage);
    let after = c.expect_closed(Duration::from_secs(5));
    assert!(
        after.is_empty() || after[0] == 0x15,
        "plaintext after a failed handshake: {:?}",
        String::from_utf8_lossy(&after)
    );

    let mut c = SmtpClient::connect(bh.smtps_addr());
    c.send(garbage);
    let after = c.expect_closed(Duration::from_secs(5));
    assert!(
        after.is_empty() || after[0] == 0x15,
        "plaintext from an implicit-TLS listener: {:?}",
        String::from_utf8_lossy(&after)
    );

    // The server still works.
    assert_eq!(
        deliver_once(bh.smtp_addr(), &sample_message("tls10")).code,
        250
    );
}

/// TLS-11 (Exim CVE-2026-45185): over TLS, `BDAT 100` and 10 bytes, then close_notify,
/// then one cleartext byte: the server closes, stores nothing, and keeps serving.
#[test]
fn close_notify_mid_bdat_then_cleartext() {
    let dir = TempDir::new("tls11");
    let bh = Blackhole::start_smtp(&["--maildir", dir.arg()]);
    let mut c = SmtpClient::connect_ehlo(bh.smtp_addr());
    c.starttls();
    let ehlo = c.ehlo("c.example");
    assert!(ehlo.has_extension("CHUNKING"), "{ehlo}");
    c.expect(&format!("MAIL FROM:<{FROM}>"), 250);
    c.expect(&format!("RCPT TO:<{TO}>"), 250);
    c.send(b"BDAT 100\r\n0123456789");
    {
        let tls = c.tls().expect("TLS is active");
        tls.conn.send_close_notify();
        while tls.conn.wants_write() {
            tls.conn
                .write_tls(&mut tls.sock)
                .expect("write close_notify");
        }
        (&tls.sock)
            .write_all(b"X")
            .expect("write the cleartext byte");
    }
    let after = c.expect_closed(Duration::from_secs(5));
    assert!(
        !String::from_utf8_lossy(&after).contains("250"),
        "a 250 after close_notify: {:?}",
        String::from_utf8_lossy(&after)
    );
    assert!(maildir_messages(dir.path()).is_empty());
    assert_eq!(
        wait_for_empty_tmp(dir.path(), Duration::from_secs(3)),
        Vec::<std::path::PathBuf>::new()
    );

    let message = sample_message("tls11-after");
    assert_eq!(deliver_once(bh.smtp_addr(), &message).code, 250);
    assert_maildir_eq(dir.path(), &[message]);
}

/// A client that disappears in the middle of DATA: nothing delivered, nothing left in
/// tmp/, and the next session works.
#[test]
fn client_vanishes_mid_data() {
    let dir = TempDir::new("vanish");
    let bh = Blackhole::start_smtp(&["--maildir", dir.arg()]);
    let message = sample_message("vanish");
    let payload = data_payload(&message);
    let mut c = SmtpClient::connect_ehlo(bh.smtp_addr());
    c.expect(&format!("MAIL FROM:<{FROM}>"), 250);
    c.expect(&format!("RCPT TO:<{TO}>"), 250);
    c.expect("DATA", 354);
    c.send(&payload[..payload.len() / 2]);
    thread::sleep(Duration::from_millis(200));
    c.abort();

    let left = wait_for_empty_tmp(dir.path(), Duration::from_secs(3));
    assert!(left.is_empty(), "files left in tmp/: {left:?}");
    assert!(maildir_messages(dir.path()).is_empty());

    let next = sample_message("vanish-next");
    assert_eq!(deliver_once(bh.smtp_addr(), &next).code, 250);
    assert_maildir_eq(dir.path(), &[next]);
}

/// 200 sessions started at once, each delivering its own message.
#[test]
fn two_hundred_concurrent_sessions() {
    const N: usize = 200;
    let dir = TempDir::new("concurrent");
    let bh = Blackhole::start_smtp(&["--maildir", dir.arg(), "--max-connections", "500"]);
    let addr = bh.smtp_addr();
    let start = Arc::new(Barrier::new(N));
    let sessions: Vec<_> = (0..N)
        .map(|i| {
            let start = start.clone();
            thread::spawn(move || {
                let message = sample_message(&format!("concurrent-{i}"));
                start.wait();
                let mut c = SmtpClient::connect(addr);
                c.set_timeout(Duration::from_secs(20));
                c.expect_greeting();
                c.ehlo(&format!("c{i}.example"));
                let reply = c.deliver(FROM, &[TO], &message);
                c.quit();
                (reply, message)
            })
        })
        .collect();
    let mut sent = Vec::new();
    for session in sessions {
        let (reply, message) = session.join().expect("session thread");
        assert_eq!(reply.code, 250, "{reply}");
        sent.push(message);
    }
    assert_maildir_eq(dir.path(), &sent);
}

/// `--max-connections 2`: a third connection gets `421 4.3.2` and is closed; once a slot
/// is free, connections are served again.
#[test]
fn connection_limit() {
    let bh = Blackhole::start_smtp(&["--max-connections", "2"]);
    let mut a = SmtpClient::connect(bh.smtp_addr());
    a.expect_greeting();
    let mut b = SmtpClient::connect(bh.smtp_addr());
    b.expect_greeting();
    let mut c = SmtpClient::connect(bh.smtp_addr());
    let refused = c.expect_reply(421);
    assert!(refused.lines[0].starts_with("4.3.2"), "{refused}");
    c.expect_closed(Duration::from_secs(5));
    // The two sessions still work.
    b.ehlo("b.example");
    a.quit();
    let deadline = now() + Duration::from_secs(5);
    loop {
        let mut d = SmtpClient::connect(bh.smtp_addr());
        let reply = d.read_reply();
        if reply.code == 220 {
            d.ehlo("d.example");
            break;
        }
        assert!(
            now() < deadline,
            "no free slot after a session ended: {reply}"
        );
        thread::sleep(Duration::from_millis(100));
    }
}

/// SIGINT: a message waiting for its reply still gets its 250 (and is stored) and then a
/// 421, an idle session gets 421 at once, the process prints `final:` and exits 0.
#[test]
fn graceful_shutdown_finishes_the_message_in_flight() {
    let dir = TempDir::new("shutdown");
    let mut bh = Blackhole::start_smtp(&["--maildir", dir.arg(), "--delay", "1500"]);
    let mut idle = SmtpClient::connect_ehlo(bh.smtp_addr());
    let message = sample_message("shutdown");
    let mut busy = SmtpClient::connect_ehlo(bh.smtp_addr());
    busy.expect(&format!("MAIL FROM:<{FROM}>"), 250);
    busy.expect(&format!("RCPT TO:<{TO}>"), 250);
    busy.expect("DATA", 354);
    busy.send(&data_payload(&message));
    thread::sleep(Duration::from_millis(300));
    let interrupted = now();
    bh.interrupt();

    let reply = busy.read_reply();
    assert_eq!(reply.code, 250, "the message in flight:\n{reply}");
    // Its transaction done, that session gets the 421 too.
    let reply = busy.read_reply();
    assert_eq!(reply.code, 421, "after the message in flight:\n{reply}");
    let reply = idle.read_reply();
    assert_eq!(reply.code, 421, "the idle session:\n{reply}");
    idle.expect_closed(Duration::from_secs(5));

    let status = bh.wait_exit(Duration::from_secs(10));
    assert!(now() - interrupted < Duration::from_secs(10));
    assert!(status.success(), "exit status {status}\n{}", bh.stderr());
    let stdout = bh.stdout();
    assert!(stdout.lines().any(|l| l.starts_with("final:")), "{stdout}");
    assert_maildir_eq(dir.path(), &[message]);
}

/// SIGINT while a message's data is still arriving: the message may be finished or cut
/// off, but it is in new/ if and only if its client got a 250.
#[test]
fn shutdown_mid_data_stores_only_what_was_acknowledged() {
    let dir = TempDir::new("shutdown-mid");
    let mut bh = Blackhole::start_smtp(&["--maildir", dir.arg()]);
    let message = sample_message("shutdown-mid");
    let payload = data_payload(&message);
    let mut c = SmtpClient::connect_ehlo(bh.smtp_addr());
    c.expect(&format!("MAIL FROM:<{FROM}>"), 250);
    c.expect(&format!("RCPT TO:<{TO}>"), 250);
    c.expect("DATA", 354);
    c.send(&payload[..payload.len() / 2]);
    thread::sleep(Duration::from_millis(200));
    bh.interrupt();
    thread::sleep(Duration::from_millis(300));
    let acknowledged = c.try_send(&payload[payload.len() / 2..]).is_ok()
        && c.try_read_reply().is_ok_and(|r| r.code == 250);
    eprintln!("message cut by SIGINT acknowledged: {acknowledged}");
    let status = bh.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "exit status {status}\n{}", bh.stderr());
    let stored = maildir_messages(dir.path());
    if acknowledged {
        assert_eq!(stored, vec![message], "acknowledged, so stored");
    } else {
        assert!(stored.is_empty(), "stored without a 250");
    }
    assert!(bh.stdout().lines().any(|l| l.starts_with("final:")));
}

/// `--mode bounce`: every message gets one of blackhole's bounce codes and nothing is
/// stored.
#[test]
fn bounce_mode() {
    let dir = TempDir::new("bounce");
    let bh = Blackhole::start_smtp(&["--mode", "bounce", "--maildir", dir.arg()]);
    for i in 0..5 {
        let reply = deliver_once(bh.smtp_addr(), &sample_message(&format!("bounce-{i}")));
        assert_bounce(&reply);
    }
    assert!(maildir_messages(dir.path()).is_empty());
}

/// `--mode random`: over 24 messages, both acceptances and bounces.
#[test]
fn random_mode() {
    let bh = Blackhole::start_smtp(&["--mode", "random"]);
    let replies: Vec<Reply> = (0..24)
        .map(|i| deliver_once(bh.smtp_addr(), &sample_message(&format!("random-{i}"))))
        .collect();
    for reply in replies.iter().filter(|r| r.code != 250) {
        assert_bounce(reply);
    }
    let accepted = replies.iter().filter(|r| r.code == 250).count();
    assert!(
        accepted > 0 && accepted < replies.len(),
        "{accepted} of 24 accepted"
    );
}

/// `X-Blackhole-Mode: bounce` in the header section bounces the message; the same line in
/// the body does not.
#[test]
fn header_switch_applies_to_headers_only() {
    let dir = TempDir::new("switch");
    let bh = Blackhole::start_smtp(&["--maildir", dir.arg()]);
    let in_header = message_with_header("switch-header", "X-Blackhole-Mode: bounce");
    assert_bounce(&deliver_once(bh.smtp_addr(), &in_header));
    let lower = message_with_header("switch-lower", "x-blackhole-mode:   Bounce");
    assert_bounce(&deliver_once(bh.smtp_addr(), &lower));
    let in_body = message_with_body_line("switch-body", "X-Blackhole-Mode: bounce");
    assert_eq!(deliver_once(bh.smtp_addr(), &in_body).code, 250);
    assert_maildir_eq(dir.path(), &[in_body]);
}

/// `--no-header-switches`: the header is ignored.
#[test]
fn no_header_switches() {
    let dir = TempDir::new("no-switch");
    let bh = Blackhole::start_smtp(&["--maildir", dir.arg(), "--no-header-switches"]);
    let message = message_with_header("no-switch", "X-Blackhole-Mode: bounce");
    assert_eq!(deliver_once(bh.smtp_addr(), &message).code, 250);
    let delayed = message_with_header("no-switch-delay", "X-Blackhole-Delay: 3000");
    let started = now();
    assert_eq!(deliver_once(bh.smtp_addr(), &delayed).code, 250);
    assert!(
        now() - started < Duration::from_millis(2500),
        "the delay header was obeyed"
    );
    assert_maildir_eq(dir.path(), &[message, delayed]);
}

/// `X-Blackhole-Delay: 300` delays the reply to the message by at least 300 ms.
#[test]
fn header_delay() {
    let bh = Blackhole::start_smtp(&[]);
    let message = message_with_header("delay", "X-Blackhole-Delay: 300");
    let mut c = SmtpClient::connect_ehlo(bh.smtp_addr());
    c.expect(&format!("MAIL FROM:<{FROM}>"), 250);
    c.expect(&format!("RCPT TO:<{TO}>"), 250);
    c.expect("DATA", 354);
    let sent = now();
    c.send(&data_payload(&message));
    let reply = c.read_reply();
    let elapsed = now() - sent;
    assert_eq!(reply.code, 250, "{reply}");
    assert!(
        elapsed >= Duration::from_millis(300),
        "replied after {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_secs(5),
        "replied after {elapsed:?}"
    );
    c.quit();
}

/// `--max-message-size 1000`: `SIZE 1000` in EHLO, `SIZE=2000` refused at MAIL, a
/// 2000-byte message refused with 552 after its data, a small one accepted.
#[test]
fn size_limit() {
    let dir = TempDir::new("size");
    let bh = Blackhole::start_smtp(&["--maildir", dir.arg(), "--max-message-size", "1000"]);
    let mut c = SmtpClient::connect(bh.smtp_addr());
    c.expect_greeting();
    let ehlo = c.ehlo("c.example");
    assert_eq!(ehlo.extension("SIZE"), Some("SIZE 1000"), "{ehlo}");
    c.expect(&format!("MAIL FROM:<{FROM}> SIZE=2000"), 552);

    let mut big = b"Subject: big\r\n\r\n".to_vec();
    while big.len() < 2000 {
        big.extend_from_slice(b".123456789 123456789 123456789 123456789 123456789\r\n");
    }
    let reply = c.deliver(FROM, &[TO], &big);
    assert_eq!(reply.code, 552, "{reply}");

    let small = b"Subject: small\r\n\r\n.a small message\r\n".to_vec();
    let reply = c.deliver(FROM, &[TO], &small);
    assert_eq!(reply.code, 250, "{reply}");
    c.quit();
    assert_maildir_eq(dir.path(), &[small]);
}

/// TLS-09: `--require-tls`: MAIL before STARTTLS gets 530; after it, MAIL works.
#[test]
fn require_tls() {
    let bh = Blackhole::start_smtp(&["--require-tls"]);
    let mut c = SmtpClient::connect_ehlo(bh.smtp_addr());
    let reply = c.expect(&format!("MAIL FROM:<{FROM}>"), 530);
    assert!(reply.lines[0].starts_with("5.7.0"), "{reply}");
    c.starttls();
    c.ehlo("c.example");
    c.expect(&format!("MAIL FROM:<{FROM}>"), 250);
    c.quit();
}

/// `--require-auth`: MAIL after TLS but without AUTH gets 530; after AUTH, MAIL works.
#[test]
fn require_auth() {
    let bh = Blackhole::start_smtp(&["--auth", "erin:3r1n", "--require-auth"]);
    let mut c = SmtpClient::connect_ehlo(bh.smtp_addr());
    c.starttls();
    c.ehlo("c.example");
    c.expect(&format!("MAIL FROM:<{FROM}>"), 530);
    c.expect(&auth_plain("erin", "3r1n"), 235);
    c.expect(&format!("MAIL FROM:<{FROM}>"), 250);
    c.quit();
}

/// TLS-14: AUTH is not offered before TLS and refused with 538 there; after STARTTLS it is
/// offered, a wrong password gets `535 5.7.8`, the right one 235.
#[test]
fn auth_needs_tls_and_the_right_password() {
    let bh = Blackhole::start_smtp(&["--auth", "erin:3r1n"]);
    let mut c = SmtpClient::connect(bh.smtp_addr());
    c.expect_greeting();
    let ehlo = c.ehlo("c.example");
    assert!(!ehlo.has_extension("AUTH"), "{ehlo}");
    let reply = c.expect(&auth_plain("erin", "3r1n"), 538);
    assert!(reply.lines[0].starts_with("5.7.11"), "{reply}");
    c.starttls();
    let ehlo = c.ehlo("c.example");
    let auth = ehlo
        .extension("AUTH")
        .unwrap_or_else(|| panic!("no AUTH after TLS:\n{ehlo}"));
    assert!(auth.contains("PLAIN") && auth.contains("LOGIN"), "{auth}");
    let reply = c.expect(&auth_plain("erin", "wrong"), 535);
    assert!(reply.lines[0].starts_with("5.7.8"), "{reply}");
    c.expect(&auth_plain("erin", "3r1n"), 235);
    c.quit();
}

/// TLS-13: an implicit-TLS listener offers no STARTTLS and refuses it; mail goes through.
#[test]
fn implicit_tls_listener() {
    let dir = TempDir::new("smtps");
    let bh = Blackhole::start_all(&["--maildir", dir.arg()]);
    let mut c = SmtpClient::connect_tls(bh.smtps_addr());
    assert_eq!(c.tls_version(), Some(rustls::ProtocolVersion::TLSv1_3));
    c.expect_greeting();
    let ehlo = c.ehlo("c.example");
    assert!(!ehlo.has_extension("STARTTLS"), "{ehlo}");
    let reply = c.command("STARTTLS");
    assert_eq!(reply.code / 100, 5, "{reply}");
    let message = sample_message("smtps");
    assert_eq!(c.deliver(FROM, &[TO], &message).code, 250);
    c.quit();
    assert_maildir_eq(dir.path(), &[message]);
}

/// LMTP: one reply per recipient after the data; the message stored as sent.
#[test]
fn lmtp_replies_per_recipient() {
    let dir = TempDir::new("lmtp");
    let bh = Blackhole::start_all(&["--maildir", dir.arg()]);
    let mut c = SmtpClient::connect(bh.lmtp_addr());
    c.expect_greeting();
    c.expect("EHLO c.example", 500);
    c.expect("LHLO c.example", 250);
    let message = sample_message("lmtp");
    let first = c.deliver(
        FROM,
        &["a@blackhole.localhost", "b@blackhole.localhost"],
        &message,
    );
    assert_eq!(first.code, 250, "{first}");
    let second = c.read_reply();
    assert_eq!(second.code, 250, "{second}");
    c.expect("NOOP", 250);
    c.quit();
    let stored = maildir_messages(dir.path());
    assert!(!stored.is_empty());
    assert!(stored.iter().all(|m| m == &message));
}

/// `--hostname` names the server in the greeting and EHLO; `--max-recipients 2` refuses the
/// third RCPT with 452 (RFC 5321 §4.5.3.1.10) and the message still goes to the first two.
#[test]
fn hostname_and_recipient_limit() {
    let bh = Blackhole::start_smtp(&["--hostname", "mx.test.example", "--max-recipients", "2"]);
    let mut c = SmtpClient::connect(bh.smtp_addr());
    let greeting = c.expect_greeting();
    assert!(
        greeting.lines[0].starts_with("mx.test.example"),
        "{greeting}"
    );
    let ehlo = c.ehlo("c.example");
    assert!(ehlo.lines[0].starts_with("mx.test.example"), "{ehlo}");
    c.expect(&format!("MAIL FROM:<{FROM}>"), 250);
    c.expect("RCPT TO:<a@blackhole.localhost>", 250);
    c.expect("RCPT TO:<b@blackhole.localhost>", 250);
    c.expect("RCPT TO:<c@blackhole.localhost>", 452);
    c.expect("DATA", 354);
    c.send(&data_payload(&sample_message("rcpt-limit")));
    c.expect_reply(250);
    c.quit();
}
