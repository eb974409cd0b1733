//! Python's smtplib against blackhole (tests/scripts/smtplib_client.py): plain, STARTTLS
//! with AUTH LOGIN, SMTPUTF8, implicit TLS, LMTP, and the AUTH refusals.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};
use smtp_proto_tests::{
    Blackhole, CLIENT_TIMEOUT, TempDir, assert_maildir_eq, maildir_messages, require_tool,
    run_with_timeout, sample_message,
};

const FROM: &str = "sender@client.example";
const TO: &str = "rcpt@blackhole.localhost";

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/smtplib_client.py")
}

/// Runs one scenario of the script; its JSON output.
fn run(args: &[&str]) -> Value {
    let output = run_with_timeout(
        Command::new("python3").arg(script()).args(args),
        b"",
        CLIENT_TIMEOUT,
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "smtplib_client.py {args:?} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status
    );
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}\n--- stderr\n{stderr}"))
}

/// The host and port arguments of the script.
fn host_port(addr: std::net::SocketAddr) -> (String, String) {
    (addr.ip().to_string(), addr.port().to_string())
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn plain_sendmail() {
    if !require_tool("python3") {
        return;
    }
    let dir = TempDir::new("py-plain");
    let bh = Blackhole::start_all(&["--maildir", dir.arg()]);
    let message = sample_message("py-plain");
    let file = dir.write("message.eml", &message);
    let (host, port) = host_port(bh.smtp_addr());
    let out = run(&["plain", &host, &port, file.to_str().unwrap(), FROM, TO]);
    assert_eq!(out["refused"], json!({}), "{out}");
    let features = strings(&out["features"]);
    for extension in ["starttls", "pipelining", "8bitmime", "smtputf8", "size"] {
        assert!(
            features.contains(&extension.to_owned()),
            "{extension} in {features:?}"
        );
    }
    assert_maildir_eq(dir.path(), &[message]);
}

#[test]
fn starttls_then_login() {
    if !require_tool("python3") {
        return;
    }
    let dir = TempDir::new("py-starttls");
    let bh = Blackhole::start_all(&["--maildir", dir.arg(), "--auth", "alice:s3cr3t pass"]);
    let message = sample_message("py-starttls");
    let file = dir.write("message.eml", &message);
    let (host, port) = host_port(bh.smtp_addr());
    let out = run(&[
        "starttls_login",
        &host,
        &port,
        "alice",
        "s3cr3t pass",
        file.to_str().unwrap(),
        FROM,
        TO,
    ]);
    let before = strings(&out["features_before"]);
    let after = strings(&out["features_after"]);
    assert!(before.contains(&"starttls".to_owned()), "{before:?}");
    // TLS-14: no AUTH before TLS; the list is recomputed after it.
    assert!(!before.contains(&"auth".to_owned()), "{before:?}");
    // TLS-06: no STARTTLS once TLS is active.
    assert!(!after.contains(&"starttls".to_owned()), "{after:?}");
    let mechanisms = strings(&out["auth_mechanisms"]);
    assert!(mechanisms.contains(&"PLAIN".to_owned()), "{mechanisms:?}");
    assert!(mechanisms.contains(&"LOGIN".to_owned()), "{mechanisms:?}");
    assert_eq!(out["starttls"], 220);
    assert_eq!(out["login"], 235);
    assert_eq!(out["refused"], json!({}));
    assert_maildir_eq(dir.path(), &[message]);
}

#[test]
fn smtputf8_address() {
    if !require_tool("python3") {
        return;
    }
    let dir = TempDir::new("py-utf8");
    let bh = Blackhole::start_all(&["--maildir", dir.arg()]);
    let sender = "jörg.müller@client.example";
    let rcpt = "用户@blackhole.localhost";
    let message = format!(
        "From: Jörg Müller <{sender}>\r\nTo: <{rcpt}>\r\nSubject: Grüße, SMTPUTF8\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{}",
        smtp_proto_tests::sample_body("py-utf8")
    )
    .into_bytes();
    let file = dir.write("message.eml", &message);
    let (host, port) = host_port(bh.smtp_addr());
    let out = run(&[
        "smtputf8",
        &host,
        &port,
        file.to_str().unwrap(),
        sender,
        rcpt,
    ]);
    assert_eq!(out["refused"], json!({}), "{out}");
    assert_maildir_eq(dir.path(), &[message]);
}

#[test]
fn implicit_tls_smtp_ssl() {
    if !require_tool("python3") {
        return;
    }
    let dir = TempDir::new("py-ssl");
    let bh = Blackhole::start_all(&["--maildir", dir.arg(), "--auth", "bob:pw"]);
    let message = sample_message("py-ssl");
    let file = dir.write("message.eml", &message);
    let (host, port) = host_port(bh.smtps_addr());
    let out = run(&[
        "implicit_tls",
        &host,
        &port,
        "bob",
        "pw",
        file.to_str().unwrap(),
        FROM,
        TO,
    ]);
    let features = strings(&out["features"]);
    // TLS-13: an implicit-TLS listener never offers STARTTLS; AUTH is offered at once.
    assert!(!features.contains(&"starttls".to_owned()), "{features:?}");
    assert!(features.contains(&"auth".to_owned()), "{features:?}");
    assert_eq!(out["version"], "TLSv1.3", "{out}");
    assert_eq!(out["login"], 235);
    assert_eq!(out["refused"], json!({}));
    assert_maildir_eq(dir.path(), &[message]);
}

#[test]
fn lmtp_three_recipients() {
    if !require_tool("python3") {
        return;
    }
    let dir = TempDir::new("py-lmtp");
    let bh = Blackhole::start_all(&["--maildir", dir.arg()]);
    let message = sample_message("py-lmtp");
    let file = dir.write("message.eml", &message);
    let (host, port) = host_port(bh.lmtp_addr());
    let out = run(&[
        "lmtp",
        &host,
        &port,
        file.to_str().unwrap(),
        FROM,
        "one@blackhole.localhost",
        "two@blackhole.localhost",
        "three@blackhole.localhost",
    ]);
    assert_eq!(out["mail"], 250, "{out}");
    assert_eq!(out["rcpt"], json!([250, 250, 250]), "{out}");
    assert_eq!(out["data"], 354, "{out}");
    // RFC 2033 §4.2: one reply per accepted recipient after the final dot.
    let results = out["results"].as_array().unwrap();
    assert_eq!(results.len(), 3, "{out}");
    for result in results {
        assert_eq!(result[0], 250, "{out}");
    }
    let stored = maildir_messages(dir.path());
    assert!(
        !stored.is_empty() && stored.len() <= 3,
        "{} files stored",
        stored.len()
    );
    for m in &stored {
        assert_eq!(m, &message);
    }
}

#[test]
fn auth_before_starttls_is_refused() {
    if !require_tool("python3") {
        return;
    }
    let bh = Blackhole::start_all(&["--auth", "alice:secret"]);
    let (host, port) = host_port(bh.smtp_addr());
    let out = run(&["auth_before_tls", &host, &port, "alice", "secret"]);
    // TLS-14: not advertised before TLS, and refused with 538 if tried anyway.
    assert_eq!(out["auth_advertised"], false, "{out}");
    assert_eq!(out["starttls_advertised"], true, "{out}");
    assert_eq!(out["code"], 538, "{out}");
    assert!(
        out["message"].as_str().unwrap().starts_with("5.7.11"),
        "{out}"
    );
}

#[test]
fn wrong_password_is_535() {
    if !require_tool("python3") {
        return;
    }
    let bh = Blackhole::start_all(&["--auth", "alice:secret"]);
    let (host, port) = host_port(bh.smtp_addr());
    let out = run(&["wrong_password", &host, &port, "alice", "not-the-secret"]);
    assert_eq!(out["code"], 535, "{out}");
    assert!(
        out["message"].as_str().unwrap().starts_with("5.7.8"),
        "{out}"
    );
}
