//! Smoke tests of the peers (`smtp_proto_tests::peers`): each real server we did not write
//! starts on loopback, accepts mail from real clients (swaks, Python's smtplib, the
//! harness's line client) and stores what they sent, so that our client can be tested
//! against them.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use smtp_proto_tests::peers::{
    Aiosmtpd, AiosmtpdOptions, PEER_DOMAIN, Postfix, PostfixOptions, SmtpSink, SmtpSinkOptions,
    StoredMessage,
};
use smtp_proto_tests::{CLIENT_TIMEOUT, SmtpClient, TempDir, require_tool, run_with_timeout};

/// How long a peer may take to store a message the client saw accepted.
const STORE_TIMEOUT: Duration = Duration::from_secs(20);

/// A test message with a unique tag, dot-stuffing cases, a long line and 8-bit text.
fn message(tag: &str) -> Vec<u8> {
    smtp_proto_tests::sample_message(tag)
}

/// Writes `message` for swaks's `--data @file` (swaks adds the last CR LF itself).
fn data_file(dir: &TempDir, message: &[u8]) -> std::path::PathBuf {
    dir.write("message.eml", message.strip_suffix(b"\r\n").unwrap())
}

fn swaks(addr: SocketAddr, from: &str, to: &[&str], data: &Path, extra: &[&str]) -> Output {
    let mut command = Command::new("swaks");
    command
        .args(["--server", &addr.to_string()])
        .args(["--helo", "client.example", "--timeout", "20"])
        .args(["--from", from])
        .args(["--to", &to.join(",")])
        .arg("--data")
        .arg(format!("@{}", data.display()))
        .args(extra);
    run_with_timeout(&mut command, b"", CLIENT_TIMEOUT)
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn assert_ok(output: &Output) {
    assert!(
        output.status.success(),
        "client failed ({}):\n{}",
        output.status,
        text(output)
    );
}

/// Runs a Python snippet (smtplib as the client) with `args`; returns its stdout.
fn python(code: &str, args: &[&str]) -> String {
    let mut command = Command::new("python3");
    command.arg("-c").arg(code).args(args);
    let output = run_with_timeout(&mut command, b"", CLIENT_TIMEOUT);
    assert_ok(&output);
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn rcpts(messages: &[StoredMessage]) -> BTreeSet<String> {
    messages.iter().flat_map(|m| m.rcpt_to.clone()).collect()
}

fn ehlo_keywords(addr: SocketAddr, verb: &str) -> String {
    let mut client = SmtpClient::connect(addr);
    client.expect_greeting();
    let reply = client.expect(&format!("{verb} client.example"), 250);
    client.quit();
    reply.text()
}

// --- Postfix ----------------------------------------------------------------------------

#[test]
fn postfix_delivers_to_its_maildir() {
    if !Postfix::require() || !require_tool("swaks") {
        return;
    }
    let postfix = Postfix::start(PostfixOptions::default());
    assert!(
        postfix.greeting().contains("Postfix"),
        "{}",
        postfix.greeting()
    );
    let ehlo = ehlo_keywords(postfix.addr(), "EHLO");
    for keyword in [
        "PIPELINING",
        "CHUNKING",
        "SMTPUTF8",
        "8BITMIME",
        "SIZE 10240000",
    ] {
        assert!(ehlo.contains(keyword), "no {keyword} in:\n{ehlo}");
    }
    assert!(!ehlo.contains("STARTTLS"), "{ehlo}");

    let dir = TempDir::new("peers-postfix");
    let sent = message("postfix-plain");
    let file = data_file(&dir, &sent);
    let a = format!("a@{PEER_DOMAIN}");
    let b = format!("b@{PEER_DOMAIN}");
    let output = swaks(
        postfix.addr(),
        "sender@client.example",
        &[&a, &b],
        &file,
        &[],
    );
    assert_ok(&output);

    let messages = postfix.wait_for_messages(2, STORE_TIMEOUT);
    assert_eq!(messages.len(), 2, "one file per recipient");
    assert_eq!(rcpts(&messages), BTreeSet::from([a.clone(), b]));
    for m in &messages {
        assert_eq!(m.mail_from.as_deref(), Some("sender@client.example"));
        assert_eq!(m.header("Delivered-To"), m.rcpt_to.first().cloned());
        assert!(
            m.header("Received").unwrap().contains("with ESMTP id"),
            "{:?}",
            m.header("Received")
        );
        assert!(m.content == sent, "stored:\n{}", m.content_text());
    }

    // Recipients starting with "fail" are refused at RCPT; other domains are not relayed.
    let mut client = SmtpClient::connect_ehlo(postfix.addr());
    client.expect("MAIL FROM:<sender@client.example>", 250);
    client.expect(&format!("RCPT TO:<fail1@{PEER_DOMAIN}>"), 550);
    client.expect("RCPT TO:<x@elsewhere.example>", 554);
    client.quit();
    postfix.wait_for_log("Recipient rejected by the test rule", STORE_TIMEOUT);
}

#[test]
fn postfix_chunking_and_smtputf8() {
    if !Postfix::require() || !require_tool("python3") {
        return;
    }
    let postfix = Postfix::start(PostfixOptions::default());

    // BDAT: no dot-stuffing, the bytes are delivered as they are.
    let sent = message("postfix-bdat");
    let rcpt = format!("bdat@{PEER_DOMAIN}");
    let mut client = SmtpClient::connect_ehlo(postfix.addr());
    client.expect("MAIL FROM:<sender@client.example>", 250);
    client.expect(&format!("RCPT TO:<{rcpt}>"), 250);
    let (first, last) = sent.split_at(100);
    client.send(format!("BDAT {}\r\n", first.len()).as_bytes());
    client.send(first);
    client.expect_reply(250);
    client.send(format!("BDAT {} LAST\r\n", last.len()).as_bytes());
    client.send(last);
    client.expect_reply(250);
    client.quit();
    let stored = postfix.wait_for_messages(1, STORE_TIMEOUT);
    assert_eq!(stored[0].rcpt_to, [rcpt]);
    assert!(stored[0].content == sent, "{}", stored[0].content_text());

    // SMTPUTF8: a UTF-8 envelope, with smtplib.
    let out = python(
        r#"
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=20)
s.ehlo("client.example")
assert s.has_extn("smtputf8"), s.esmtp_features
msg = "From: ü@client.example\r\nSubject: grüße\r\n\r\nnaïve\r\n".encode("utf-8")
print(s.sendmail("ü@client.example", ["jürgen@" + sys.argv[2]], msg, mail_options=["SMTPUTF8"]))
s.quit()
"#,
        &[&postfix.addr().port().to_string(), PEER_DOMAIN],
    );
    assert_eq!(out.trim(), "{}", "refused recipients");
    let stored = postfix.wait_for_messages(2, STORE_TIMEOUT);
    let utf8 = stored
        .iter()
        .find(|m| m.rcpt_to == [format!("jürgen@{PEER_DOMAIN}")])
        .unwrap_or_else(|| panic!("no message for jürgen: {stored:?}"));
    assert_eq!(utf8.mail_from.as_deref(), Some("ü@client.example"));
    assert!(
        utf8.header("Received").unwrap().contains("UTF8SMTP"),
        "{:?}",
        utf8.header("Received")
    );
    assert_eq!(
        utf8.content,
        "From: ü@client.example\r\nSubject: grüße\r\n\r\nnaïve\r\n".as_bytes()
    );
}

#[test]
fn postfix_starttls() {
    if !Postfix::require() || !require_tool("swaks") {
        return;
    }
    let postfix = Postfix::start(PostfixOptions::with_starttls());
    assert!(postfix.cert_path().unwrap().is_file());
    let ehlo = ehlo_keywords(postfix.addr(), "EHLO");
    assert!(ehlo.contains("STARTTLS"), "{ehlo}");

    let dir = TempDir::new("peers-postfix-tls");
    let sent = message("postfix-tls");
    let file = data_file(&dir, &sent);
    let rcpt = format!("tls@{PEER_DOMAIN}");
    let output = swaks(
        postfix.addr(),
        "sender@client.example",
        &[&rcpt],
        &file,
        &["--tls"],
    );
    assert_ok(&output);
    assert!(text(&output).contains("TLS started"), "{}", text(&output));
    let messages = postfix.wait_for_messages(1, STORE_TIMEOUT);
    assert_eq!(messages[0].rcpt_to, [rcpt]);
    assert!(
        messages[0]
            .header("Received")
            .unwrap()
            .contains("with ESMTPS"),
        "{:?}",
        messages[0].header("Received")
    );
    assert!(
        messages[0].content == sent,
        "{}",
        messages[0].content_text()
    );
    postfix.wait_for_log("TLS connection established", STORE_TIMEOUT);
}

#[test]
fn postfix_options_turn_extensions_off() {
    if !Postfix::require() {
        return;
    }
    let postfix = Postfix::start(PostfixOptions {
        chunking: false,
        pipelining: false,
        smtputf8: false,
        message_size_limit: 2000,
        ..PostfixOptions::default()
    });
    let ehlo = ehlo_keywords(postfix.addr(), "EHLO");
    for keyword in ["CHUNKING", "PIPELINING", "SMTPUTF8", "STARTTLS"] {
        assert!(!ehlo.contains(keyword), "{keyword} in:\n{ehlo}");
    }
    assert!(ehlo.contains("SIZE 2000"), "{ehlo}");
    let mut client = SmtpClient::connect_ehlo(postfix.addr());
    client.expect("MAIL FROM:<sender@client.example> SIZE=5000", 552);
    client.quit();
}

// --- smtp-sink --------------------------------------------------------------------------

#[test]
fn smtp_sink_dumps_messages() {
    if !SmtpSink::require() || !require_tool("swaks") {
        return;
    }
    let sink = SmtpSink::start(SmtpSinkOptions::default());
    let ehlo = ehlo_keywords(sink.addr(), "EHLO");
    for keyword in ["PIPELINING", "8BITMIME", "DSN"] {
        assert!(ehlo.contains(keyword), "no {keyword} in:\n{ehlo}");
    }

    let dir = TempDir::new("peers-sink");
    let sent = message("smtp-sink");
    let file = data_file(&dir, &sent);
    let output = swaks(
        sink.addr(),
        "sender@client.example",
        &["a@sink.example", "b@sink.example"],
        &file,
        &[],
    );
    assert_ok(&output);
    let messages = sink.wait_for_messages(1, STORE_TIMEOUT);
    assert_eq!(messages.len(), 1, "{messages:?}");
    let m = &messages[0];
    assert_eq!(m.mail_from.as_deref(), Some("sender@client.example"));
    assert_eq!(m.rcpt_to, ["a@sink.example", "b@sink.example"]);
    assert!(m.content == sent, "stored:\n{}", m.content_text());
}

#[test]
fn smtp_sink_options_turn_extensions_off() {
    if !SmtpSink::require() {
        return;
    }
    let sink = SmtpSink::start(SmtpSinkOptions {
        no_pipelining: true,
        no_8bitmime: true,
        no_dsn: true,
        hard_reject: vec!["RCPT".to_owned()],
        ..SmtpSinkOptions::default()
    });
    let ehlo = ehlo_keywords(sink.addr(), "EHLO");
    for keyword in ["PIPELINING", "8BITMIME", "DSN"] {
        assert!(!ehlo.contains(keyword), "{keyword} in:\n{ehlo}");
    }
    let mut client = SmtpClient::connect_ehlo(sink.addr());
    client.expect("MAIL FROM:<sender@client.example>", 250);
    let reply = client.command("RCPT TO:<a@sink.example>");
    assert_eq!(reply.code / 100, 5, "{reply}");
    client.quit();
}

// --- aiosmtpd ---------------------------------------------------------------------------

fn auth_options() -> AiosmtpdOptions {
    AiosmtpdOptions {
        auth: vec![("dave".to_owned(), "s3cret".to_owned())],
        ..AiosmtpdOptions::default()
    }
}

#[test]
fn aiosmtpd_auth_plain_and_login() {
    if !Aiosmtpd::require() || !require_tool("swaks") {
        return;
    }
    let peer = Aiosmtpd::start(auth_options());
    let ehlo = ehlo_keywords(peer.addr(), "EHLO");
    assert!(ehlo.contains("AUTH LOGIN PLAIN"), "{ehlo}");

    let dir = TempDir::new("peers-aiosmtpd-auth");
    let sent = message("aiosmtpd-auth");
    let file = data_file(&dir, &sent);
    for (i, mechanism) in ["PLAIN", "LOGIN"].into_iter().enumerate() {
        let rcpt = format!("{}@peer.example", mechanism.to_lowercase());
        let auth = [
            "--auth",
            mechanism,
            "--auth-user",
            "dave",
            "--auth-password",
        ];
        let wrong = swaks(
            peer.addr(),
            "sender@client.example",
            &[&rcpt],
            &file,
            &[&auth[..], &["wrong"]].concat(),
        );
        assert!(!wrong.status.success(), "{}", text(&wrong));
        assert!(text(&wrong).contains("535"), "{}", text(&wrong));
        let right = swaks(
            peer.addr(),
            "sender@client.example",
            &[&rcpt],
            &file,
            &[&auth[..], &["s3cret"]].concat(),
        );
        assert_ok(&right);
        let messages = peer.wait_for_messages(i + 1, STORE_TIMEOUT);
        assert_eq!(messages.len(), i + 1, "the wrong password stored nothing");
        let m = &messages[i];
        assert_eq!(m.login.as_deref(), Some("dave"));
        assert_eq!(m.rcpt_to, [rcpt]);
        assert_eq!(m.mail_from.as_deref(), Some("sender@client.example"));
        assert!(m.content == sent, "stored:\n{}", m.content_text());
    }
}

#[test]
fn aiosmtpd_smtputf8_starttls_and_refused_recipient() {
    if !Aiosmtpd::require() || !require_tool("python3") || !require_tool("swaks") {
        return;
    }
    let peer = Aiosmtpd::start(AiosmtpdOptions {
        smtputf8: true,
        starttls: true,
        ..AiosmtpdOptions::default()
    });
    let ehlo = ehlo_keywords(peer.addr(), "EHLO");
    assert!(ehlo.contains("SMTPUTF8"), "{ehlo}");
    assert!(ehlo.contains("STARTTLS"), "{ehlo}");

    let out = python(
        r#"
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=20)
s.ehlo("client.example")
msg = "Subject: grüße\r\n\r\nnaïve\r\n".encode("utf-8")
try:
    s.sendmail("ü@client.example", ["jürgen@peer.example", "fail1@peer.example"], msg,
               mail_options=["SMTPUTF8"])
except smtplib.SMTPRecipientsRefused as e:
    print("refused all", e)
else:
    print("sent")
s.quit()
"#,
        &[&peer.addr().port().to_string()],
    );
    // smtplib sends the message if one recipient is accepted.
    assert_eq!(out.trim(), "sent");
    let messages = peer.wait_for_messages(1, STORE_TIMEOUT);
    assert_eq!(messages[0].mail_from.as_deref(), Some("ü@client.example"));
    assert_eq!(messages[0].rcpt_to, ["jürgen@peer.example"]);
    assert!(
        messages[0].mail_params.iter().any(|p| p == "SMTPUTF8"),
        "{:?}",
        messages[0].mail_params
    );
    assert_eq!(
        messages[0].content,
        "Subject: grüße\r\n\r\nnaïve\r\n".as_bytes()
    );

    let dir = TempDir::new("peers-aiosmtpd-tls");
    let sent = message("aiosmtpd-tls");
    let file = data_file(&dir, &sent);
    let output = swaks(
        peer.addr(),
        "sender@client.example",
        &["tls@peer.example"],
        &file,
        &["--tls"],
    );
    assert_ok(&output);
    assert!(text(&output).contains("TLS started"), "{}", text(&output));
    let messages = peer.wait_for_messages(2, STORE_TIMEOUT);
    assert!(
        messages[1].content == sent,
        "{}",
        messages[1].content_text()
    );
}

#[test]
fn aiosmtpd_lmtp_replies_per_recipient() {
    if !Aiosmtpd::require() || !require_tool("python3") {
        return;
    }
    let peer = Aiosmtpd::start(AiosmtpdOptions {
        lmtp: true,
        ..AiosmtpdOptions::default()
    });
    // smtplib.LMTP reads one reply after the data; read one per recipient by hand.
    let out = python(
        r#"
import smtplib, sys
s = smtplib.LMTP("127.0.0.1", int(sys.argv[1]))
s.sock.settimeout(20)
code, _ = s.ehlo("client.example")  # LMTP.ehlo sends LHLO
assert code == 250, code
assert s.mail("sender@client.example")[0] == 250
for r in ["a@peer.example", "fail1@peer.example", "b@peer.example"]:
    assert s.rcpt(r)[0] == 250, r
assert s.putcmd("DATA") is None and s.getreply()[0] == 354
s.send(b"Subject: lmtp\r\n\r\n..dot\r\n.\r\n")
print(" ".join(str(s.getreply()[0]) for _ in range(3)))
s.quit()
"#,
        &[&peer.addr().port().to_string()],
    );
    assert_eq!(out.trim(), "250 550 250");
    let messages = peer.wait_for_messages(1, STORE_TIMEOUT);
    assert_eq!(messages[0].rcpt_to, ["a@peer.example", "b@peer.example"]);
    assert_eq!(messages[0].content, b"Subject: lmtp\r\n\r\n.dot\r\n");
}
