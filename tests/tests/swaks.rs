//! swaks (STARTTLS + AUTH PLAIN, and plain) and `openssl s_client -starttls smtp`
//! against blackhole.

#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};
use std::time::Duration;

use smtp_proto_tests::{
    Blackhole, CLIENT_TIMEOUT, TempDir, assert_maildir_eq, require_tool, run_with_paced_input,
    run_with_timeout, sample_message,
};

/// Writes `message` for swaks's `--data @file`. swaks sends the data, then CR LF . CR LF:
/// the file holds the message without its last CR LF, so what is stored is `message`.
fn data_file(dir: &TempDir, message: &[u8]) -> std::path::PathBuf {
    let trimmed = message
        .strip_suffix(b"\r\n")
        .expect("message ends with CR LF");
    dir.write("message.eml", trimmed)
}

fn swaks(addr: std::net::SocketAddr, file: &std::path::Path, extra: &[&str]) -> Output {
    let mut command = Command::new("swaks");
    command
        .args(["--server", &addr.to_string()])
        .args(["--helo", "client.example", "--timeout", "20"])
        .args(["--from", "sender@client.example"])
        .args(["--to", "rcpt@blackhole.localhost"])
        .arg("--data")
        .arg(format!("@{}", file.display()))
        .args(extra);
    run_with_timeout(&mut command, b"", CLIENT_TIMEOUT)
}

fn assert_ok(output: &Output) {
    assert!(
        output.status.success(),
        "swaks failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn starttls_auth_plain() {
    if !require_tool("swaks") {
        return;
    }
    let dir = TempDir::new("swaks-tls");
    let bh = Blackhole::start_all(&["--maildir", dir.arg(), "--auth", "dave:d4ve"]);
    let message = sample_message("swaks-tls");
    let file = data_file(&dir, &message);
    let output = swaks(
        bh.smtp_addr(),
        &file,
        &[
            "--tls",
            "--auth",
            "PLAIN",
            "--auth-user",
            "dave",
            "--auth-password",
            "d4ve",
        ],
    );
    assert_ok(&output);
    let transcript = String::from_utf8_lossy(&output.stdout);
    assert!(transcript.contains("<-  220"), "{transcript}");
    assert!(transcript.contains("=== TLS started"), "{transcript}");
    assert!(transcript.contains("<~  235"), "{transcript}");
    assert_maildir_eq(dir.path(), &[message]);
}

#[test]
fn plain_delivery() {
    if !require_tool("swaks") {
        return;
    }
    let dir = TempDir::new("swaks-plain");
    let bh = Blackhole::start_all(&["--maildir", dir.arg()]);
    let message = sample_message("swaks-plain");
    let file = data_file(&dir, &message);
    let output = swaks(bh.smtp_addr(), &file, &[]);
    assert_ok(&output);
    assert_maildir_eq(dir.path(), &[message]);
}

#[test]
fn openssl_s_client_starttls_tls13() {
    if !require_tool("openssl") {
        return;
    }
    let bh = Blackhole::start_all(&[]);
    // One line at a time: EHLO must be the last command of a pipelined group (RFC 2920
    // §3.1), and s_client sends whatever it has read from stdin in one record.
    let output = run_with_paced_input(
        Command::new("openssl").args([
            "s_client",
            "-starttls",
            "smtp",
            "-connect",
            &bh.smtp_addr().to_string(),
            "-servername",
            "localhost",
            "-crlf",
            "-ign_eof",
        ]),
        &[
            (Duration::ZERO, b"EHLO c.example\n"),
            (Duration::from_secs(1), b"QUIT\n"),
        ],
        CLIENT_TIMEOUT,
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "s_client failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(stdout.contains("TLSv1.3"), "{stdout}");
    // What s_client prints after the handshake is our EHLO's reply (its own pre-TLS EHLO
    // is not shown), then QUIT's.
    let lines: Vec<&str> = stdout.lines().collect();
    let ehlo_end = lines
        .iter()
        .position(|l| l.starts_with("250 "))
        .unwrap_or_else(|| panic!("no 250 to EHLO:\n{stdout}"));
    let ehlo: Vec<&str> = lines[..=ehlo_end]
        .iter()
        .filter(|l| l.starts_with("250"))
        .copied()
        .collect();
    // TLS-06: no STARTTLS once TLS is active.
    assert!(
        !ehlo.iter().any(|l| l[4..].eq_ignore_ascii_case("STARTTLS")),
        "{ehlo:?}"
    );
    assert!(
        lines[ehlo_end..].iter().any(|l| l.starts_with("221")),
        "{stdout}"
    );
}
