//! Behind a load balancer, with real components (`manual::proxy`): HAProxy with
//! `send-proxy-v2` and `send-proxy` in front of two blackhole instances, mail sent
//! through it by swaks from distinct loopback addresses; swaks's own PROXY headers and
//! XCLIENT against blackhole. Skipped without haproxy or swaks, unless
//! `SMTP_PROTO_REQUIRE_TOOLS=1`.

#![allow(clippy::unwrap_used)]

use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Output};
use std::time::Duration;

use smtp_proto_tests::haproxy::{Haproxy, config_path, free_port};
use smtp_proto_tests::{
    Blackhole, CLIENT_TIMEOUT, TempDir, maildir_messages, message_with_header, require_tool,
    run_with_timeout,
};

/// swaks sending one message with an `X-Source` header naming `source`, from `source`.
fn swaks(server: SocketAddr, source: &str, dir: &TempDir, extra: &[&str]) -> Output {
    let message = message_with_header("haproxy", &format!("X-Source: {source}"));
    let name = format!("message-{}.eml", fastrand_name());
    let file = dir.write(&name, message.strip_suffix(b"\r\n").unwrap());
    let mut command = Command::new("swaks");
    command
        .args(["--server", &server.to_string(), "--local-interface", source])
        .args(["--helo", "client.example", "--timeout", "20"])
        .args([
            "--from",
            "sender@client.example",
            "--to",
            "rcpt@blackhole.localhost",
        ])
        .arg("--data")
        .arg(format!("@{}", file.display()))
        .args(extra);
    run_with_timeout(&mut command, b"", CLIENT_TIMEOUT)
}

/// A unique file name part.
fn fastrand_name() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
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

/// A blackhole behind a PROXY-speaking balancer on 127.0.0.1, keeping trace headers.
fn proxied_blackhole(maildir: &TempDir, extra: &[&str]) -> Blackhole {
    let mut args = vec![
        "--listen",
        "127.0.0.1:0",
        "--quiet",
        "--log-level",
        "debug",
        "--maildir",
        maildir.arg(),
        "--proxy-protocol",
        "any",
        "--trusted-proxy",
        "127.0.0.1",
    ];
    args.extend_from_slice(extra);
    Blackhole::start_exact(&args)
}

/// Every stored message as (the `X-Source` it names, its `Received` line).
fn sources_and_received(dir: &TempDir) -> Vec<(String, String)> {
    maildir_messages(dir.path())
        .iter()
        .map(|m| {
            let text = String::from_utf8_lossy(m);
            let field = |name: &str| {
                text.lines()
                    .find_map(|l| l.strip_prefix(name))
                    .unwrap_or_else(|| panic!("no {name} in {text}"))
                    .to_owned()
            };
            (field("X-Source: "), field("Received: "))
        })
        .collect()
}

/// `final: total N msg, …, S sessions …` → (N, S).
fn final_totals(stdout: &str) -> (u64, u64) {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("final:"))
        .unwrap_or_else(|| panic!("no final line: {stdout}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    let msgs = words[2].parse().unwrap();
    let at = words
        .iter()
        .position(|w| w.starts_with("sessions"))
        .unwrap();
    (msgs, words[at - 1].parse().unwrap())
}

fn wait_for(bh: &Blackhole, text: &str, timeout: Duration) {
    let deadline = smtp_proto_tests::now() + timeout;
    while !bh.stderr().contains(text) {
        assert!(
            smtp_proto_tests::now() < deadline,
            "no {text:?} in:\n{}",
            bh.stderr()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The test: HAProxy (`tests/haproxy/blackhole.cfg`, PROXY v2 and v1 frontends)
/// in front of two blackholes; swaks from 127.0.0.2 and 127.0.0.3; every stored message's
/// Received header names its real source, the log lines name it, both instances served,
/// and HAProxy's health checks (v2 LOCAL, v1 UNKNOWN) reached them without being counted
/// as sessions.
#[test]
fn haproxy_in_front_of_two_blackholes() {
    if !require_tool("haproxy") || !require_tool("swaks") {
        return;
    }
    let (d1, d2, files) = (
        TempDir::new("hap-bh1"),
        TempDir::new("hap-bh2"),
        TempDir::new("hap-msg"),
    );
    let mut bh1 = proxied_blackhole(&d1, &[]);
    let mut bh2 = proxied_blackhole(&d2, &[]);
    let (v2, v1) = (free_port(), free_port());
    let _haproxy = Haproxy::start(
        &config_path(),
        &[
            ("BH1", bh1.smtp_addr().to_string()),
            ("BH2", bh2.smtp_addr().to_string()),
            ("SMTP_BIND", v2.to_string()),
            ("SMTP_BIND_V1", v1.to_string()),
        ],
    );
    // Checks arrive every second from each backend section, before any mail.
    wait_for(&bh1, "load balancer health check", Duration::from_secs(15));
    wait_for(&bh2, "load balancer health check", Duration::from_secs(15));
    let mut sent = Vec::new();
    for (frontend, source) in [
        (v2, "127.0.0.2"),
        (v2, "127.0.0.3"),
        (v2, "127.0.0.2"),
        (v2, "127.0.0.3"),
        (v1, "127.0.0.2"),
        (v1, "127.0.0.3"),
    ] {
        assert_ok(&swaks(frontend, source, &files, &[]));
        sent.push(source);
    }
    let (s1, s2) = (sources_and_received(&d1), sources_and_received(&d2));
    assert_eq!(s1.len() + s2.len(), sent.len(), "{s1:?} {s2:?}");
    assert!(
        !s1.is_empty() && !s2.is_empty(),
        "round robin served both: {s1:?} {s2:?}"
    );
    for (source, received) in s1.iter().chain(&s2) {
        assert!(
            received.contains(&format!("([{source}])")),
            "{source}: {received}"
        );
        assert!(!received.contains("127.0.0.1"), "{received}");
    }
    for bh in [&bh1, &bh2] {
        let log = bh.stderr();
        assert!(
            log.contains("client=127.0.0.2:") || log.contains("client=127.0.0.3:"),
            "{log}"
        );
    }
    for (bh, stored) in [(&mut bh1, s1.len()), (&mut bh2, s2.len())] {
        bh.interrupt();
        assert!(bh.wait_exit(Duration::from_secs(10)).success());
        let (msgs, sessions) = final_totals(&bh.stdout());
        assert_eq!(msgs, stored as u64);
        // One swaks session per message; the health checks are not sessions.
        assert_eq!(sessions, msgs, "{}", bh.stdout());
    }
}

/// swaks's PROXY headers straight to blackhole (`manual::proxy`): v1 and v2 name the client
/// (PXV1-01, PXV2-01 on the wire); a malformed one (PXV1-07) and a header from an
/// untrusted peer (PXV-X2) are closed without a byte.
#[test]
fn swaks_proxy_headers() {
    if !require_tool("swaks") {
        return;
    }
    let (dir, files) = (TempDir::new("swaks-proxy"), TempDir::new("swaks-proxy-msg"));
    let bh = proxied_blackhole(&dir, &[]);
    let addresses = [
        "--proxy-source",
        "192.0.2.7",
        "--proxy-source-port",
        "40000",
        "--proxy-dest",
        "198.51.100.1",
        "--proxy-dest-port",
        "25",
    ];
    let v1 = [
        &["--proxy-version", "1", "--proxy-family", "TCP4"][..],
        &addresses,
    ]
    .concat();
    assert_ok(&swaks(bh.smtp_addr(), "127.0.0.1", &files, &v1));
    let v2 = [
        &["--proxy-version", "2", "--proxy-family", "AF_INET"][..],
        &addresses,
    ]
    .concat();
    assert_ok(&swaks(bh.smtp_addr(), "127.0.0.1", &files, &v2));
    let stored = sources_and_received(&dir);
    assert_eq!(stored.len(), 2);
    for (_, received) in &stored {
        assert!(received.contains("([192.0.2.7])"), "{received}");
    }
    let bad = swaks(
        bh.smtp_addr(),
        "127.0.0.1",
        &files,
        &["--proxy", "TCP4 192.0.2.07 198.51.100.1 40000 25"],
    );
    assert!(!bad.status.success());
    assert!(
        !String::from_utf8_lossy(&bad.stdout).contains("<-  220"),
        "{bad:?}"
    );
    assert_eq!(maildir_messages(dir.path()).len(), 2);

    let untrusted = Blackhole::start(&[
        "--listen",
        "127.0.0.1:0",
        "--quiet",
        "--proxy-protocol",
        "v1",
        "--trusted-proxy",
        "10.0.0.0/8",
    ]);
    let mut stream = TcpStream::connect(untrusted.smtp_addr()).unwrap();
    std::io::Write::write_all(&mut stream, smtp_proto_tests::proxied::V1_TCP4).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut got = Vec::new();
    let _ = stream.read_to_end(&mut got);
    assert!(got.is_empty(), "{got:?}");
}

/// swaks `--xclient-*` against blackhole (`manual::proxy`): authorised (XC-03: the stored
/// message names the client XCLIENT gave), not advertised to others (XC-01), refused with
/// `550` when sent anyway (XC-02).
#[test]
fn swaks_xclient() {
    if !require_tool("swaks") {
        return;
    }
    let (dir, files) = (
        TempDir::new("swaks-xclient"),
        TempDir::new("swaks-xclient-msg"),
    );
    let bh = Blackhole::start_exact(&[
        "--listen",
        "127.0.0.1:0",
        "--quiet",
        "--maildir",
        dir.arg(),
        "--xclient",
        "127.0.0.1/32",
    ]);
    let xclient = [
        "--xclient-addr",
        "192.0.2.7",
        "--xclient-name",
        "mx.client.example",
        "--xclient-helo",
        "client.example",
    ];
    let ok = swaks(bh.smtp_addr(), "127.0.0.1", &files, &xclient);
    assert_ok(&ok);
    assert!(
        String::from_utf8_lossy(&ok.stdout).contains("<-  220 blackhole.localhost"),
        "{ok:?}"
    );
    let stored = sources_and_received(&dir);
    assert_eq!(stored.len(), 1);
    assert!(stored[0].1.contains("[192.0.2.7]"), "{stored:?}");

    // From 127.0.0.2: not advertised, so swaks does not send it.
    let other = swaks(bh.smtp_addr(), "127.0.0.2", &files, &xclient);
    assert!(!other.status.success(), "{other:?}");
    assert!(
        String::from_utf8_lossy(&other.stderr).contains("did not advertise XCLIENT"),
        "{other:?}"
    );
    // Sent anyway by a peer outside the networks, it is refused (swaks will not send it).
    let strict = Blackhole::start_exact(&[
        "--listen",
        "127.0.0.1:0",
        "--quiet",
        "--xclient",
        "10.0.0.0/8",
    ]);
    let mut client = smtp_proto_tests::SmtpClient::connect(strict.smtp_addr());
    client.expect_greeting();
    let ehlo = client.expect("EHLO client.example", 250);
    assert!(!ehlo.has_extension("XCLIENT"), "{ehlo:?}");
    let refused = client.expect("XCLIENT ADDR=192.0.2.7", 550);
    assert_eq!(refused.text(), "5.7.0 Error: insufficient authorization");
    assert_eq!(maildir_messages(dir.path()).len(), 1);
}
