//! blackhole's scripted faults (`--fault`, `--seed`; issue 15), checked from the client
//! side over sockets: each phase, each action, the conditions, determinism, and the
//! errors for bad rules.

#![allow(clippy::unwrap_used)]

use std::io::Read;
use std::net::TcpStream;
use std::time::Duration;

use smtp_proto_tests::{Blackhole, SmtpClient, TempDir, maildir_messages, now};

/// How long a test waits for the server to close a connection.
const CLOSE: Duration = Duration::from_secs(5);

/// Starts blackhole on one plain listener with these `--fault` rules and `extra` flags.
fn blackhole(rules: &[&str], extra: &[&str]) -> Blackhole {
    let mut args = Vec::new();
    for rule in rules {
        args.extend(["--fault", rule]);
    }
    args.extend_from_slice(extra);
    Blackhole::start_smtp(&args)
}

/// Asserts a reply's code and its first line's text (enhanced code included).
fn assert_reply(reply: &smtp_proto_tests::Reply, code: u16, text: &str) {
    assert_eq!(
        (reply.code, reply.lines[0].as_str()),
        (code, text),
        "{reply}"
    );
}

/// A session after EHLO, inside a transaction from `from`.
fn in_transaction(bh: &Blackhole, from: &str) -> SmtpClient {
    let mut client = SmtpClient::connect_ehlo(bh.smtp_addr());
    client.expect(&format!("MAIL FROM:<{from}>"), 250);
    client
}

/// Base64 of `\0user\0password`, for AUTH PLAIN.
fn plain_token(user: &str, password: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"))
}

/// Every phase that takes a reply answers the one a rule chose, for the addresses the
/// rule matches, and the normal one for the others.
#[test]
fn each_phase_answers_the_reply_a_rule_chose() {
    let bh = blackhole(
        &[
            "ehlo:match=refused.example:reply=554 5.7.1 No EHLO here",
            "auth:match=victim:reply=454 4.7.0 AUTH fault",
            "mail:match=*@mail.example:reply=451 4.3.2 MAIL fault",
            "rcpt:match=*@rcpt.example:reply=452 4.2.2 RCPT fault",
            "data:match=*@data.example:reply=451 4.3.0 DATA fault",
            "dot:match=*@dot.example:reply=554 5.6.0 Dot fault",
            "bdat:match=*@bdat.example:reply=452 4.3.1 BDAT fault",
        ],
        &["--auth", "victim:pw", "--auth", "other:pw"],
    );
    let mut client = SmtpClient::connect(bh.smtp_addr());
    client.expect_greeting();
    assert_reply(
        &client.command("EHLO refused.example"),
        554,
        "5.7.1 No EHLO here",
    );
    client.ehlo("client.example");
    client.starttls();
    client.ehlo("client.example");
    let reply = client.command(&format!("AUTH PLAIN {}", plain_token("victim", "pw")));
    assert_reply(&reply, 454, "4.7.0 AUTH fault");
    let reply = client.command(&format!("AUTH PLAIN {}", plain_token("other", "pw")));
    assert_eq!(reply.code, 235, "{reply}");
    assert_reply(
        &client.command("MAIL FROM:<a@mail.example>"),
        451,
        "4.3.2 MAIL fault",
    );
    client.quit();

    let mut client = in_transaction(&bh, "a@x.example");
    assert_reply(
        &client.command("RCPT TO:<b@rcpt.example>"),
        452,
        "4.2.2 RCPT fault",
    );
    client.expect("RCPT TO:<b@y.example>", 250);
    client.quit();

    let mut client = in_transaction(&bh, "a@data.example");
    client.expect("RCPT TO:<b@y.example>", 250);
    assert_reply(&client.command("DATA"), 451, "4.3.0 DATA fault");
    client.quit();

    let mut client = SmtpClient::connect_ehlo(bh.smtp_addr());
    let reply = client.deliver(
        "a@dot.example",
        &["b@y.example"],
        b"Subject: x\r\n\r\nx\r\n",
    );
    assert_reply(&reply, 554, "5.6.0 Dot fault");
    // The same session goes on: another sender is accepted.
    let reply = client.deliver("a@x.example", &["b@y.example"], b"Subject: x\r\n\r\nx\r\n");
    assert_eq!(reply.code, 250, "{reply}");
    client.quit();

    let mut client = in_transaction(&bh, "a@bdat.example");
    client.expect("RCPT TO:<b@y.example>", 250);
    client.send(b"BDAT 5 LAST\r\nhello");
    assert_reply(&client.read_reply(), 452, "4.3.1 BDAT fault");
    client.quit();
    let mut client = in_transaction(&bh, "a@x.example");
    client.expect("RCPT TO:<b@y.example>", 250);
    client.send(b"BDAT 5 LAST\r\nhello");
    assert_eq!(client.read_reply().code, 250);
    client.quit();
}

/// Greeting: the first connection per client gets the rule's reply and is closed
/// (`first=1`, keyed by the client's address); the next one is greeted.
#[test]
fn greeting_reply_for_the_first_connection_per_client() {
    let bh = blackhole(&["greeting:first=1:reply=421 4.3.2 Busy, come back"], &[]);
    let mut client = SmtpClient::connect(bh.smtp_addr());
    assert_reply(&client.read_reply(), 421, "4.3.2 Busy, come back");
    client.expect_closed(CLOSE);
    let mut client = SmtpClient::connect(bh.smtp_addr());
    client.expect_greeting();
    client.quit();
}

/// Greylisting: the first attempt per sender and recipient gets 451, the retry (a new
/// session) is accepted, and another recipient is greylisted on its own.
#[test]
fn greylisting_refuses_the_first_attempt_per_sender_and_recipient() {
    let bh = blackhole(
        &["rcpt:first=1,key=sender+rcpt:reply=451 4.7.1 Greylisted, try again later"],
        &[],
    );
    let mut client = in_transaction(&bh, "a@x.example");
    assert_reply(
        &client.command("RCPT TO:<b@y.example>"),
        451,
        "4.7.1 Greylisted, try again later",
    );
    client.quit();
    let mut client = in_transaction(&bh, "a@x.example");
    client.expect("RCPT TO:<b@y.example>", 250);
    assert_eq!(client.command("RCPT TO:<c@y.example>").code, 451);
    client.quit();
    // Another sender to the same recipient is a new key.
    let mut client = in_transaction(&bh, "z@x.example");
    assert_eq!(client.command("RCPT TO:<b@y.example>").code, 451);
    client.quit();
}

/// `every=3` counts the phase: the third and sixth RCPT are refused.
#[test]
fn every_nth_occurrence() {
    let bh = blackhole(&["rcpt:every=3:reply=450 4.2.1 Every third"], &[]);
    let mut client = in_transaction(&bh, "a@x.example");
    let codes: Vec<u16> = (0..6)
        .map(|i| client.command(&format!("RCPT TO:<r{i}@y.example>")).code)
        .collect();
    assert_eq!(codes, [250, 250, 450, 250, 250, 450]);
    client.quit();
}

/// A rate limiter: 421 and close at the third MAIL of a connection; a new connection
/// starts counting again.
#[test]
fn rate_limit_closes_with_421_after_n_messages() {
    let bh = blackhole(
        &["mail:after=2:close,reply=421 4.7.0 Only 2 messages per connection"],
        &[],
    );
    let mut client = SmtpClient::connect_ehlo(bh.smtp_addr());
    for _ in 0..2 {
        let reply = client.deliver("a@x.example", &["b@y.example"], b"Subject: x\r\n\r\nx\r\n");
        assert_eq!(reply.code, 250, "{reply}");
    }
    assert_reply(
        &client.command("MAIL FROM:<a@x.example>"),
        421,
        "4.7.0 Only 2 messages per connection",
    );
    assert_eq!(client.expect_closed(CLOSE), b"");
    in_transaction(&bh, "a@x.example").quit();
}

/// `close` without a reply: the default 421 4.3.2, then the connection closes.
#[test]
fn close_sends_421_and_closes() {
    let bh = blackhole(&["ehlo:close"], &[]);
    let mut client = SmtpClient::connect(bh.smtp_addr());
    client.expect_greeting();
    let reply = client.command("EHLO client.example");
    assert_eq!(reply.code, 421, "{reply}");
    assert!(
        reply.lines[0].starts_with("4.3.2 Service not available"),
        "{reply}"
    );
    assert_eq!(client.expect_closed(CLOSE), b"");
}

/// `delay=` holds the reply back, at RCPT and at QUIT (the 221); other commands are
/// answered at once.
#[test]
fn delay_holds_the_reply_back() {
    let bh = blackhole(&["rcpt:delay=700ms", "quit:delay=500ms"], &[]);
    let mut client = SmtpClient::connect_ehlo(bh.smtp_addr());
    let start = now();
    client.expect("MAIL FROM:<a@x.example>", 250);
    assert!(
        now() - start < Duration::from_millis(500),
        "MAIL was delayed"
    );
    let start = now();
    client.expect("RCPT TO:<b@y.example>", 250);
    let waited = now() - start;
    assert!(waited >= Duration::from_millis(700), "{waited:?}");
    let start = now();
    client.expect("QUIT", 221);
    let waited = now() - start;
    assert!(waited >= Duration::from_millis(500), "{waited:?}");
}

/// `tarpit=` writes the reply one byte per interval: it arrives in many small pieces and
/// takes at least (length - 1) intervals.
#[test]
fn tarpit_writes_one_byte_per_interval() {
    let bh = blackhole(&["mail:tarpit=40ms"], &[]);
    let client = SmtpClient::connect_ehlo(bh.smtp_addr());
    let mut tcp: &TcpStream = client.tcp();
    std::io::Write::write_all(&mut tcp, b"MAIL FROM:<a@x.example>\r\n").unwrap();
    let start = now();
    let mut reply = Vec::new();
    let mut reads = 0;
    while !reply.ends_with(b"\r\n") {
        let mut buf = [0; 64];
        let n = tcp.read(&mut buf).unwrap();
        assert!(n > 0, "closed after {reply:?}");
        reply.extend_from_slice(&buf[..n]);
        reads += 1;
    }
    let took = now() - start;
    assert!(
        reply.starts_with(b"250 2.1.0"),
        "{:?}",
        String::from_utf8_lossy(&reply)
    );
    let intervals = u32::try_from(reply.len() - 1).unwrap();
    assert!(
        took >= Duration::from_millis(40) * intervals,
        "{took:?} for {} bytes",
        reply.len()
    );
    assert!(
        reads >= reply.len() / 2,
        "{reads} reads for {} bytes",
        reply.len()
    );
    // The next reply comes at once again.
    let mut client = client;
    let start = now();
    client.expect("RCPT TO:<b@y.example>", 250);
    assert!(now() - start < Duration::from_millis(500));
}

/// `disconnect` closes before the reply: RCPT gets no answer, and nothing is stored;
/// `disconnect=after` answers first.
#[test]
fn disconnect_before_and_after_the_reply() {
    let dir = TempDir::new("faults-disconnect");
    let bh = blackhole(
        &[
            "rcpt:match=*@gone.example:disconnect",
            "mail:match=*@after.example:disconnect=after",
            "dot:match=*@dot.example:disconnect",
        ],
        &["--maildir", dir.arg()],
    );
    let mut client = in_transaction(&bh, "a@x.example");
    client.send(b"RCPT TO:<b@gone.example>\r\n");
    assert_eq!(client.expect_closed(CLOSE), b"");

    let mut client = SmtpClient::connect_ehlo(bh.smtp_addr());
    assert_eq!(client.command("MAIL FROM:<a@after.example>").code, 250);
    assert_eq!(client.expect_closed(CLOSE), b"");

    // At the end of data: no reply, and the message is not kept.
    let mut client = in_transaction(&bh, "a@dot.example");
    client.expect("RCPT TO:<b@y.example>", 250);
    client.expect("DATA", 354);
    client.send(b"Subject: x\r\n\r\nx\r\n.\r\n");
    assert_eq!(client.expect_closed(CLOSE), b"");
    std::thread::sleep(Duration::from_millis(200));
    assert!(maildir_messages(dir.path()).is_empty());
}

/// `disconnect=OCTETS` at data: the connection is cut in the middle of the content, the
/// message is neither answered nor kept; the next session's message is.
#[test]
fn disconnect_in_the_middle_of_data() {
    let dir = TempDir::new("faults-mid-data");
    let bh = blackhole(
        &["data:match=*@cut.example:disconnect=1000"],
        &["--maildir", dir.arg()],
    );
    let mut client = in_transaction(&bh, "a@cut.example");
    client.expect("RCPT TO:<b@y.example>", 250);
    client.expect("DATA", 354);
    // 3000 octets and no end: without the cut the server would wait for the rest.
    let mut content = Vec::new();
    for _ in 0..30 {
        content.extend_from_slice(&[b'x'; 98]);
        content.extend_from_slice(b"\r\n");
    }
    let _ = client.try_send(&content);
    let rest = client.expect_closed(CLOSE);
    assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
    let reply = smtp_proto_tests::deliver_once(bh.smtp_addr(), b"Subject: kept\r\n\r\nx\r\n");
    assert_eq!(reply.code, 250);
    std::thread::sleep(Duration::from_millis(200));
    let kept = maildir_messages(dir.path());
    assert_eq!(kept.len(), 1, "only the second message is kept");
}

/// STARTTLS: a delay holds the 220 back and TLS then works; `disconnect=after` closes
/// after the 220, before the handshake.
#[test]
fn starttls_delay_and_disconnect() {
    let bh = blackhole(&["starttls:delay=600ms"], &[]);
    let mut client = SmtpClient::connect_ehlo(bh.smtp_addr());
    let start = now();
    client.starttls();
    assert!(now() - start >= Duration::from_millis(600));
    client.ehlo("client.example");
    client.quit();

    let bh = blackhole(&["starttls:disconnect=after"], &[]);
    let mut client = SmtpClient::connect_ehlo(bh.smtp_addr());
    client.expect("STARTTLS", 220);
    assert_eq!(client.expect_closed(CLOSE), b"");
}

/// QUIT: `disconnect` drops the 221.
#[test]
fn quit_disconnect_drops_the_221() {
    let bh = blackhole(&["quit:disconnect"], &[]);
    let mut client = SmtpClient::connect_ehlo(bh.smtp_addr());
    client.send(b"QUIT\r\n");
    assert_eq!(client.expect_closed(CLOSE), b"");
}

/// The codes of 16 sessions' single MAIL against `p=0.5`, with `--seed seed`.
fn coin_flips(seed: &str) -> Vec<u16> {
    let bh = blackhole(&["mail:p=0.5:reply=451 4.3.0 Coin"], &["--seed", seed]);
    (0..16)
        .map(|_| {
            let mut client = SmtpClient::connect_ehlo(bh.smtp_addr());
            let code = client.command("MAIL FROM:<a@x.example>").code;
            client.quit();
            code
        })
        .collect()
}

/// With `--seed`, the same sequence of sessions meets the same faults.
#[test]
fn the_seed_repeats_the_draws() {
    let first = coin_flips("7");
    assert!(first.contains(&250) && first.contains(&451), "{first:?}");
    assert_eq!(coin_flips("7"), first);
    assert_ne!(coin_flips("8"), first);
}

/// The header switches still work beside faults, and `--help` shows the grammar and the
/// examples.
#[test]
fn header_switches_and_help() {
    let bh = blackhole(&["rcpt:match=*@never.example:reply=550"], &[]);
    let mut client = SmtpClient::connect_ehlo(bh.smtp_addr());
    let reply = client.deliver(
        "a@x.example",
        &["b@y.example"],
        b"X-Blackhole-Mode: bounce\r\n\r\nx\r\n",
    );
    assert!(reply.code >= 400, "{reply}");
    client.quit();
    let output = Blackhole::run(&["--help"], Duration::from_secs(20));
    let help = String::from_utf8_lossy(&output.stdout);
    for needle in [
        "PHASE:[CONDITIONS:]ACTIONS",
        "rcpt:first=1,key=sender+rcpt:reply=451 4.7.1 Greylisted",
        "data:p=0.01:disconnect=1000",
        "mail:after=10:close",
    ] {
        assert!(help.contains(needle), "{needle} missing from --help");
    }
}

/// A bad rule is a usage error (exit code 2) naming the flag, the part and what was
/// expected.
#[test]
fn bad_rules_say_what_is_wrong() {
    let cases = [
        (
            "rcpt:p=2:reply=451",
            "condition 'p=2': expected a probability",
        ),
        ("rcp:reply=451", "phase 'rcp' is unknown"),
        ("quit:reply=421 bye", "answers QUIT itself"),
        (
            "mail:first=1,key=rcpt:reply=451",
            "the rcpt is not known at the mail phase",
        ),
    ];
    for (rule, expected) in cases {
        let output = Blackhole::run(&["--fault", rule], Duration::from_secs(20));
        assert_eq!(output.status.code(), Some(2), "{rule}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("--fault"), "{rule}: {stderr}");
        assert!(stderr.contains(expected), "{rule}: {stderr}");
    }
}

/// Greeting: `disconnect` closes before the 220; a delay holds the 220 back.
#[test]
fn greeting_disconnect_and_delay() {
    let bh = blackhole(
        &["greeting:first=1:disconnect", "greeting:delay=600ms"],
        &[],
    );
    let mut client = SmtpClient::connect(bh.smtp_addr());
    assert_eq!(client.expect_closed(CLOSE), b"");
    let start = now();
    let mut client = SmtpClient::connect(bh.smtp_addr());
    client.expect_greeting();
    assert!(now() - start >= Duration::from_millis(600));
    client.quit();
}

/// BDAT: `disconnect=OCTETS` cuts the connection inside a chunk's content.
#[test]
fn bdat_disconnect_inside_the_content() {
    let dir = TempDir::new("faults-bdat-cut");
    let bh = blackhole(&["bdat:disconnect=100"], &["--maildir", dir.arg()]);
    let mut client = in_transaction(&bh, "a@x.example");
    client.expect("RCPT TO:<b@y.example>", 250);
    // A 1000-octet chunk, LAST: without the cut it would be answered 250.
    let mut chunk = b"BDAT 1000 LAST\r\n".to_vec();
    chunk.extend_from_slice(&[b'x'; 1000]);
    let _ = client.try_send(&chunk);
    assert_eq!(client.expect_closed(CLOSE), b"");
    std::thread::sleep(Duration::from_millis(200));
    assert!(maildir_messages(dir.path()).is_empty());
}
