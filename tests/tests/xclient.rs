//! XCLIENT (Postfix `XCLIENT_README`; `manual::proxy` rows XC-01…XC-15), through a whole
//! in-memory `Connection` built by `Endpoint::accept_from`, so authorisation is decided
//! on the socket peer as on a real listener. swaks against blackhole: `haproxy.rs`.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;

use smtp_proto::{Cidr, ProxyProtocol, ServerConfig};
use smtp_proto_tests::proxied::{Outcome, Step, V1_TCP4, balancer, proxy_config, run};
use smtp_proto_tests::transcript::t0;

const KEYWORD: &str = "XCLIENT NAME ADDR PORT PROTO HELO LOGIN DESTADDR DESTPORT";
const GREETING: &str = "220 mx.example ESMTP\r\n";

fn allowed(nets: &[&str]) -> ServerConfig {
    let mut c = ServerConfig::new("mx.example");
    c.xclient = nets.iter().map(|n| n.parse::<Cidr>().unwrap()).collect();
    c
}

fn lo() -> ServerConfig {
    allowed(&["127.0.0.0/8"])
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn session(config: &ServerConfig, peer: SocketAddr, lines: &[&str]) -> Outcome {
    let steps: Vec<Step> = lines
        .iter()
        .map(|l| Step::Read(l.as_bytes().to_vec()))
        .collect();
    run(config, peer, t0(), &steps)
}

/// The reply lines after the greeting and the EHLO reply (when the session starts with
/// EHLO), one per entry.
fn replies(o: &Outcome) -> Vec<String> {
    let text = o.text();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines.retain(|l| !l.starts_with("250-"));
    lines
}

#[test]
fn xc_01_advertised_only_to_allowed_peers() {
    let o = session(&lo(), balancer(), &["EHLO c\r\n"]);
    assert!(
        o.text().contains(&format!("250 {KEYWORD}\r\n")),
        "{}",
        o.text()
    );
    let o = session(&lo(), addr("192.0.2.50:1234"), &["EHLO c\r\n"]);
    assert!(!o.text().contains("XCLIENT"), "{}", o.text());
    let o = session(
        &ServerConfig::new("mx.example"),
        balancer(),
        &["EHLO c\r\n"],
    );
    assert!(!o.text().contains("XCLIENT"), "{}", o.text());
}

#[test]
fn xc_02_unauthorised() {
    let peer = addr("192.0.2.50:1234");
    let o = session(
        &lo(),
        peer,
        &[
            "EHLO c\r\n",
            "XCLIENT ADDR=192.0.2.7\r\n",
            "MAIL FROM:<a@b.example>\r\n",
        ],
    );
    let r = replies(&o);
    assert_eq!(r[2], "550 5.7.0 Error: insufficient authorization");
    // Session unchanged: the EHLO still counts, the client is still the socket peer.
    assert_eq!(r[3], "250 2.1.0 Ok");
    assert_eq!(o.info.unwrap().peer, peer);
    assert_eq!(o.info.unwrap().proxy, None);
}

#[test]
fn xc_03_applied_and_reset() {
    let o = session(
        &lo(),
        balancer(),
        &[
            "EHLO proxy\r\n",
            "XCLIENT NAME=mx.client.example ADDR=192.0.2.7 PORT=40000 PROTO=ESMTP HELO=client.example\r\n",
            "MAIL FROM:<a@b.example>\r\n",
            "EHLO client.example\r\n",
            "MAIL FROM:<a@b.example>\r\n",
        ],
    );
    let r = replies(&o);
    assert_eq!(r[2], GREETING.trim_end());
    assert_eq!(r[3], "503 5.5.1 Error: send HELO/EHLO first");
    assert_eq!(r[5], "250 2.1.0 Ok");
    let info = o.info.unwrap();
    assert_eq!(info.peer, addr("192.0.2.7:40000"));
    assert_eq!(info.proxy, Some(balancer()));
    let event = o.events.iter().find(|e| e.starts_with("Xclient")).unwrap();
    assert!(
        event.contains("mx.client.example") && event.contains("client.example"),
        "{event}"
    );
}

#[test]
fn xc_04_in_a_transaction() {
    let o = session(
        &lo(),
        balancer(),
        &[
            "EHLO c\r\n",
            "MAIL FROM:<a@b.example>\r\n",
            "XCLIENT ADDR=192.0.2.7\r\n",
        ],
    );
    assert_eq!(
        replies(&o)[3],
        "503 5.5.1 Error: MAIL transaction in progress"
    );
    assert_eq!(o.info.unwrap().peer, balancer());
}

#[test]
fn xc_05_ipv6() {
    for value in ["IPV6:2001:db8::7", "ipv6:2001:db8::7"] {
        let o = session(
            &lo(),
            balancer(),
            &["EHLO c\r\n", &format!("XCLIENT ADDR={value} PORT=25\r\n")],
        );
        assert_eq!(replies(&o)[2], GREETING.trim_end());
        assert_eq!(o.info.unwrap().peer, addr("[2001:db8::7]:25"));
    }
}

#[test]
fn xc_06_08_09_syntax() {
    for line in [
        "XCLIENT ADDR=[192.0.2.7]",
        "XCLIENT ADDR=999.1.1.1",
        "XCLIENT ADDR=2001:db8::7",
        "XCLIENT PORT=70000",
        "XCLIENT PROTO=HTTP",
        "XCLIENT FOO=bar",
        "XCLIENT",
        "XCLIENT ADDR",
        "XCLIENT ADDR=",
        "XCLIENT ADDR=192.0.2.7 ADDR=192.0.2.8",
        "XCLIENT HELO=a+0D+0AMAIL+20FROM:<x@y>",
        "XCLIENT NAME=a+00b",
        "XCLIENT NAME=a+zz",
        "XCLIENT HELO=a=b",
    ] {
        let o = session(&lo(), balancer(), &["EHLO c\r\n", &format!("{line}\r\n")]);
        assert_eq!(
            replies(&o)[2],
            "501 5.5.4 Syntax: XCLIENT attribute=value [attribute=value ...]",
            "{line}"
        );
        assert_eq!(o.info.unwrap().proxy, None, "{line}");
    }
}

#[test]
fn xc_07_unavailable() {
    let o = session(
        &lo(),
        balancer(),
        &[
            "EHLO c\r\n",
            "XCLIENT NAME=[UNAVAILABLE] ADDR=[unavailable] PORT=[TEMPUNAVAIL]\r\n",
        ],
    );
    assert_eq!(replies(&o)[2], GREETING.trim_end());
    assert!(
        o.events.iter().any(|e| e.contains(
            "name: Some(Unavailable), addr: Some(Unavailable), port: Some(TempUnavailable)"
        )),
        "{:?}",
        o.events
    );
    // Unknown facts leave the connection's as they were.
    assert_eq!(o.info.unwrap().peer, balancer());
}

/// XC-10 (choice): LOGIN authenticates only when the listener trusts proxy logins.
#[test]
fn xc_10_login() {
    let mut config = lo();
    config.require_auth = true;
    config.auth_requires_tls = false;
    config.extensions.auth_mechanisms = vec!["PLAIN".to_owned()];
    let lines = [
        "EHLO c\r\n",
        "XCLIENT LOGIN=alice\r\n",
        "EHLO c\r\n",
        "MAIL FROM:<a@b.example>\r\n",
    ];
    let o = session(&config, balancer(), &lines);
    assert_eq!(replies(&o)[4], "530 5.7.0 Authentication required");
    config.xclient_trusts_login = true;
    let o = session(&config, balancer(), &lines);
    assert_eq!(replies(&o)[4], "250 2.1.0 Ok");
}

/// XC-11 (choice): a second XCLIENT is still decided on the socket peer, and applied.
#[test]
fn xc_11_two_commands() {
    let o = session(
        &lo(),
        balancer(),
        &[
            "EHLO c\r\n",
            "XCLIENT HELO=client.example PROTO=ESMTP\r\n",
            "XCLIENT NAME=mx.client.example ADDR=192.0.2.7\r\n",
        ],
    );
    let r = replies(&o);
    assert_eq!(
        (r[2].as_str(), r[3].as_str()),
        (GREETING.trim_end(), GREETING.trim_end())
    );
    assert_eq!(o.info.unwrap().peer.ip(), addr("192.0.2.7:0").ip());
}

#[test]
fn xc_12_over_long() {
    let line = format!("XCLIENT NAME={}\r\n", "a".repeat(600));
    let o = session(&lo(), balancer(), &["EHLO c\r\n", &line]);
    assert_eq!(replies(&o)[2], "500 5.5.2 Error: line too long");
}

/// XC-13 (choice): XCLIENT does not end a pipelined group; EHLO behind it is answered.
#[test]
fn xc_13_pipelined_with_ehlo() {
    let o = session(
        &lo(),
        balancer(),
        &["EHLO c\r\n", "XCLIENT ADDR=192.0.2.7\r\nEHLO c\r\n"],
    );
    let text = o.text();
    let after = text.split_once("XCLIENT NAME").unwrap().1;
    assert!(
        after.contains(&format!("\r\n{GREETING}250-mx.example\r\n")),
        "{text}"
    );
    assert!(!o.closed, "{o:?}");
}

/// XC-14: a proxy reusing its connection names the next client; facts persist until
/// changed.
#[test]
fn xc_14_connection_reuse() {
    let o = session(
        &lo(),
        balancer(),
        &[
            "EHLO p\r\n",
            "XCLIENT ADDR=192.0.2.7 PORT=1000\r\n",
            "EHLO c\r\n",
            "MAIL FROM:<a@b.example>\r\n",
            "RSET\r\n",
            "XCLIENT ADDR=192.0.2.8\r\n",
        ],
    );
    assert_eq!(o.info.unwrap().peer, addr("192.0.2.8:1000"));
    assert_eq!(o.info.unwrap().proxy, Some(balancer()));
}

/// XC-15 (choice): with a PROXY header, XCLIENT is authorised by the socket peer (the
/// balancer), never by the address the header supplied.
#[test]
fn xc_15_proxy_and_xclient() {
    let mut by_socket = proxy_config(ProxyProtocol::V1, &["127.0.0.1"]);
    by_socket.xclient = vec!["127.0.0.1".parse().unwrap()];
    let o = run(
        &by_socket,
        balancer(),
        t0(),
        &[
            Step::Read(V1_TCP4.to_vec()),
            Step::Read(b"EHLO c\r\n".to_vec()),
            Step::Read(b"XCLIENT ADDR=192.0.2.99\r\n".to_vec()),
        ],
    );
    assert!(o.text().ends_with(GREETING), "{}", o.text());
    assert_eq!(o.info.unwrap().peer.ip(), addr("192.0.2.99:0").ip());
    assert_eq!(o.info.unwrap().proxy, Some(balancer()));

    let mut by_header = proxy_config(ProxyProtocol::V1, &["127.0.0.1"]);
    by_header.xclient = vec!["192.0.2.0/24".parse().unwrap()];
    let o = run(
        &by_header,
        balancer(),
        t0(),
        &[
            Step::Read(V1_TCP4.to_vec()),
            Step::Read(b"EHLO c\r\n".to_vec()),
            Step::Read(b"XCLIENT ADDR=192.0.2.99\r\n".to_vec()),
        ],
    );
    assert!(!o.text().contains("250-XCLIENT"), "{}", o.text());
    assert!(
        o.text()
            .ends_with("550 5.7.0 Error: insufficient authorization\r\n"),
        "{}",
        o.text()
    );
    assert_eq!(o.info.unwrap().peer, addr("192.0.2.7:40000"));
}
