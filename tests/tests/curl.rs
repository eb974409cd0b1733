//! curl against blackhole: STARTTLS (`--ssl-reqd`) with AUTH, implicit TLS (`smtps://`),
//! plain SMTP, and a wrong password.

#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

use smtp_proto_tests::{
    Blackhole, CLIENT_TIMEOUT, TempDir, assert_maildir_eq, maildir_messages, require_tool,
    run_with_timeout, sample_message,
};

const FROM: &str = "sender@client.example";
const TO: &str = "rcpt@blackhole.localhost";

/// Runs curl with `url` and `extra`, uploading `file` (curl sends CRLF files unchanged).
fn curl(url: &str, file: &std::path::Path, extra: &[&str]) -> Output {
    let mut command = Command::new("curl");
    command
        .args(["--silent", "--show-error", "--max-time", "20"])
        .arg(url)
        .args(["--mail-from", FROM, "--mail-rcpt", TO, "--upload-file"])
        .arg(file)
        .args(extra);
    run_with_timeout(&mut command, b"", CLIENT_TIMEOUT)
}

fn assert_ok(output: &Output) {
    assert!(
        output.status.success(),
        "curl failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn starttls_with_auth() {
    if !require_tool("curl") {
        return;
    }
    let dir = TempDir::new("curl-starttls");
    let bh = Blackhole::start_all(&["--maildir", dir.arg(), "--auth", "carol:c4rol"]);
    let message = sample_message("curl-starttls");
    let file = dir.write("message.eml", &message);
    let url = format!("smtp://{}/client.example", bh.smtp_addr());
    let output = curl(&url, &file, &["--ssl-reqd", "-k", "--user", "carol:c4rol"]);
    assert_ok(&output);
    assert_maildir_eq(dir.path(), &[message]);
}

#[test]
fn implicit_tls_smtps_with_auth() {
    if !require_tool("curl") {
        return;
    }
    let dir = TempDir::new("curl-smtps");
    let bh = Blackhole::start_all(&["--maildir", dir.arg(), "--auth", "carol:c4rol"]);
    let message = sample_message("curl-smtps");
    let file = dir.write("message.eml", &message);
    let url = format!("smtps://{}/client.example", bh.smtps_addr());
    let output = curl(&url, &file, &["-k", "--user", "carol:c4rol"]);
    assert_ok(&output);
    assert_maildir_eq(dir.path(), &[message]);
}

#[test]
fn plain_without_tls() {
    if !require_tool("curl") {
        return;
    }
    let dir = TempDir::new("curl-plain");
    let bh = Blackhole::start_all(&["--maildir", dir.arg()]);
    let message = sample_message("curl-plain");
    let file = dir.write("message.eml", &message);
    let url = format!("smtp://{}/client.example", bh.smtp_addr());
    let output = curl(&url, &file, &[]);
    assert_ok(&output);
    assert_maildir_eq(dir.path(), &[message]);
}

#[test]
fn wrong_password_fails() {
    if !require_tool("curl") {
        return;
    }
    let dir = TempDir::new("curl-535");
    let bh = Blackhole::start_all(&["--maildir", dir.arg(), "--auth", "carol:c4rol"]);
    let file = dir.write("message.eml", &sample_message("curl-535"));
    let url = format!("smtp://{}/client.example", bh.smtp_addr());
    let output = curl(
        &url,
        &file,
        &["--ssl-reqd", "-k", "--user", "carol:wrong", "-v"],
    );
    // curl exits 67 (CURLE_LOGIN_DENIED) and shows the server's 535.
    assert_eq!(output.status.code(), Some(67), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("< 535 5.7.8"), "{stderr}");
    assert!(maildir_messages(dir.path()).is_empty());
}
