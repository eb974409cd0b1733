//! The PROXY protocol stage (`manual::proxy` PX-1…PX-12), in memory: every vector row through a
//! whole server `Connection` (the PROXY stage, the TLS layer and the machine) as an
//! adapter drives it; the parser's own unit tests are in `smtp-proto/src/proxy/tests.rs`,
//! the socket rows in `proxy_wire.rs`, HAProxy in `haproxy.rs`.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use smtp_proto::connection::{ConnectionInfo, Next};
use smtp_proto::tls::{Endpoint, TlsMode};
use smtp_proto::{ProxyProtocol, ServerConfig};
use smtp_proto_tests::proxied::{
    INET_BLOCK, Outcome, Step, V1_TCP4, balancer, drive, listener_addr, proxy_config, run,
    run_reads, v2, v2_for, v2_tcp4,
};
use smtp_proto_tests::transcript::{config, exact, t0, transcript};

const GREETING: &str = "220 mx.example ESMTP\r\n";
const SYNC_554: &str = "554 5.5.0 Error: SMTP protocol synchronization: a command came before the reply it must wait for (RFC 2920)";

fn listener() -> ServerConfig {
    proxy_config(ProxyProtocol::Any, &["127.0.0.0/8"])
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// The header was taken: reported first, then the greeting, with the real client in the
/// connection's facts and the balancer kept.
fn assert_proxied(o: &Outcome, client: &str, local: &str) {
    assert!(o.events[0].starts_with("ProxyHeader"), "{o:?}");
    assert!(o.text().starts_with(GREETING), "{o:?}");
    let info = o.info.unwrap();
    assert_eq!(info.peer, addr(client));
    assert_eq!(info.local, addr(local));
    assert_eq!(info.proxy, Some(balancer()));
}

/// The socket's own addresses were kept (LOCAL, UNKNOWN, not TCP), and the greeting left.
fn assert_socket_kept(o: &Outcome) {
    assert!(o.events[0].starts_with("ProxyHeader"), "{o:?}");
    assert!(o.text().starts_with(GREETING), "{o:?}");
    let info = o.info.unwrap();
    assert_eq!((info.peer, info.local), (balancer(), listener_addr()));
    assert_eq!(info.proxy, Some(balancer()));
}

/// →close: nothing written, the session closed, nothing but the close reported.
fn assert_refused(o: &Outcome) {
    assert!(o.closed_silently(), "{o:?}");
    assert_eq!(o.events, ["Closed ProxyRejected"], "{o:?}");
}

fn refused(config: &ServerConfig, input: &[u8]) {
    let o = run_reads(config, t0(), &[input]);
    assert_refused(&o);
}

#[test]
fn pxv1_01_tcp4() {
    let o = run_reads(&listener(), t0(), &[V1_TCP4]);
    assert_proxied(&o, "192.0.2.7:40000", "198.51.100.1:25");
    assert_eq!(
        o.events[0],
        "ProxyHeader v1 source=Some(192.0.2.7:40000) destination=Some(198.51.100.1:25) local=false"
    );
}

#[test]
fn pxv1_02_tcp6() {
    let o = run_reads(
        &listener(),
        t0(),
        &[b"PROXY TCP6 2001:db8::7 2001:db8::1 40000 25\r\n"],
    );
    assert_proxied(&o, "[2001:db8::7]:40000", "[2001:db8::1]:25");
}

#[test]
fn pxv1_03_04_unknown() {
    assert_socket_kept(&run_reads(&listener(), t0(), &[b"PROXY UNKNOWN\r\n"]));
    let full = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
    let line = format!("PROXY UNKNOWN {full} {full} 65535 65535\r\n");
    assert_eq!(line.len(), 107);
    assert_socket_kept(&run_reads(&listener(), t0(), &[line.as_bytes()]));
}

#[test]
fn pxv1_05_108_octets_without_crlf() {
    let mut line = b"PROXY UNKNOWN ".to_vec();
    line.resize(108, b'a');
    refused(&listener(), &line);
}

#[test]
fn pxv1_06_bare_lf_bare_cr() {
    refused(&listener(), b"PROXY TCP4 192.0.2.7 198.51.100.1 40000 25\n");
    refused(
        &listener(),
        b"PROXY TCP4 192.0.2.7 198.51.100.1 40000 25\rX",
    );
}

#[test]
fn pxv1_07_to_11_malformed() {
    for line in [
        &b"PROXY TCP4 192.0.2.07 198.51.100.1 40000 25\r\n"[..],
        b"PROXY TCP4 192.0.2.7 198.51.100.1 40000 025\r\n",
        b"PROXY TCP4 192.0.2.7  198.51.100.1 40000 25\r\n",
        b"PROXY TCP4 192.0.2.7\t198.51.100.1 40000 25\r\n",
        b"PROXY TCP4 192.0.2.7 198.51.100.1 40000 25 \r\n",
        b"PROXY TCP4 2001:db8::7 2001:db8::1 40000 25\r\n",
        b"PROXY TCP5 192.0.2.7 198.51.100.1 40000 25\r\n",
        b"PROXY TCP4 192.0.2.7 198.51.100.1 65536 25\r\n",
        b"PROXY TCP4 256.1.1.1 198.51.100.1 40000 25\r\n",
        b"proxy tcp4 192.0.2.7 198.51.100.1 40000 25\r\n",
    ] {
        refused(&listener(), line);
    }
}

#[test]
fn pxv1_12_smtp_first_is_never_answered() {
    refused(&listener(), b"EHLO client.example\r\n");
}

#[test]
fn pxv1_13_pxv2_15_split_at_every_byte() {
    let tail = b"EHLO c\r\n";
    for header in [V1_TCP4.to_vec(), v2_tcp4()] {
        let whole = run_reads(&listener(), t0(), &[&header]);
        for cut in 1..header.len() {
            let split = run_reads(&listener(), t0(), &[&header[..cut], &header[cut..]]);
            assert_eq!(split, whole, "cut at {cut}");
        }
        let bytes: Vec<&[u8]> = header.chunks(1).collect();
        assert_eq!(run_reads(&listener(), t0(), &bytes), whole);
        // With client bytes in the same read as the header's end: the same, wherever the cut.
        let input = [&header[..], tail].concat();
        let together = run_reads(&listener(), t0(), &[&input]);
        for cut in 1..header.len() {
            assert_eq!(
                run_reads(&listener(), t0(), &[&input[..cut], &input[cut..]]),
                together
            );
        }
    }
}

/// PXV1-14 / PX-6: the bytes after the header reach the SMTP machine unchanged, as input
/// that came before the greeting: exactly what a direct listener does with them.
#[test]
fn pxv1_14_client_bytes_in_the_header_read() {
    for header in [V1_TCP4.to_vec(), v2_tcp4()] {
        let input = [&header[..], b"EHLO c\r\n"].concat();
        let o = run_reads(&listener(), t0(), &[&input]);
        // As a direct listener answers EHLO before the greeting (`pxv_x3_off_listener`).
        assert_eq!(o.text(), format!("{GREETING}{SYNC_554}\r\n"));
        assert_eq!(o.events[1..], ["Closed ProtocolViolation"]);
        // With the pre-greeting rule off, they are queued and answered after the greeting.
        let mut lax = listener();
        lax.pipelining_sync_check = false;
        let o = run_reads(&lax, t0(), &[&input]);
        assert!(o.text().starts_with(GREETING), "{o:?}");
        assert!(o.text().contains("\r\n250"), "{o:?}");
        assert!(o.events.iter().any(|e| e == "Hello EHLO c"), "{o:?}");
    }
}

/// PXV1-15 / PX-4: a header trickled one byte a second is cut at 5 s, without a byte.
#[test]
fn pxv1_15_header_timeout() {
    let mut steps = Vec::new();
    for byte in V1_TCP4.iter().take(10) {
        steps.push(Step::Read(vec![*byte]));
        steps.push(Step::Sleep(Duration::from_secs(1)));
    }
    let o = run(&listener(), balancer(), t0(), &steps);
    assert_refused(&o);
    // The default, and the deadline the adapter is given.
    let t = t0();
    let endpoint = Endpoint::new(Arc::new(listener()), TlsMode::Off);
    let mut c = endpoint.accept_from(t, ConnectionInfo::new(balancer(), listener_addr()));
    match c.next(t) {
        Next::Read { until, .. } => assert_eq!(until, Some(t + Duration::from_secs(5))),
        other => panic!("{other:?}"),
    }
    c.handle_timeout(t + Duration::from_millis(4999));
    assert!(c.awaits_proxy_header());
    c.handle_timeout(t + Duration::from_secs(5));
    assert!(!c.awaits_proxy_header());
}

#[test]
fn eof_before_the_header() {
    let o = run(
        &listener(),
        balancer(),
        t0(),
        &[Step::Read(V1_TCP4[..9].to_vec()), Step::Eof],
    );
    assert_refused(&o);
}

#[test]
fn pxv2_01_tcp4() {
    let o = run_reads(&listener(), t0(), &[&v2_tcp4()]);
    assert_proxied(&o, "192.0.2.7:40000", "198.51.100.1:25");
    assert!(o.events[0].starts_with("ProxyHeader v2"), "{o:?}");
}

#[test]
fn pxv2_02_tcp6() {
    let header = v2_for(addr("[2001:db8::7]:40000"), addr("[2001:db8::1]:25"));
    assert_proxied(
        &run_reads(&listener(), t0(), &[&header]),
        "[2001:db8::7]:40000",
        "[2001:db8::1]:25",
    );
}

#[test]
fn pxv2_03_04_local() {
    let o = run_reads(&listener(), t0(), &[&v2(0x20, 0x00, &[])]);
    assert_socket_kept(&o);
    assert!(o.events[0].ends_with("local=true"), "{o:?}");
    assert_socket_kept(&run_reads(
        &listener(),
        t0(),
        &[&v2(0x20, 0x11, &INET_BLOCK)],
    ));
}

#[test]
fn pxv2_05_06_07_bad_version_command_family() {
    for (ver_cmd, family) in [
        (0x11, 0x11),
        (0x31, 0x11),
        (0x22, 0x11),
        (0x21, 0x13),
        (0x21, 0x41),
        (0x21, 0x04),
    ] {
        refused(&listener(), &v2(ver_cmd, family, &INET_BLOCK));
    }
}

#[test]
fn pxv2_08_not_tcp_keeps_the_socket() {
    for family in [0x12, 0x22, 0x31, 0x32] {
        assert_socket_kept(&run_reads(
            &listener(),
            t0(),
            &[&v2(0x21, family, &[0; 216])],
        ));
    }
}

#[test]
fn pxv2_09_short_block() {
    refused(&listener(), &v2(0x21, 0x11, &INET_BLOCK[..8]));
}

#[test]
fn pxv2_10_huge_length_refused_at_once() {
    let mut head = smtp_proto_tests::proxied::SIGNATURE.to_vec();
    head.extend_from_slice(&[0x21, 0x11, 0xff, 0xff]);
    refused(&listener(), &head);
}

#[test]
fn pxv2_11_tlvs_exposed() {
    let body = [&INET_BLOCK[..], b"\x04\x00\x03abc", b"\x05\x00\x04abcd"].concat();
    let o = run_reads(&listener(), t0(), &[&v2(0x21, 0x11, &body)]);
    assert_proxied(&o, "192.0.2.7:40000", "198.51.100.1:25");
    let (header, _) = smtp_proto::proxy::parse(&v2(0x21, 0x11, &body), ProxyProtocol::V2, 1024)
        .unwrap()
        .unwrap();
    assert_eq!(header.unique_id.as_deref(), Some(&b"abcd"[..]));
}

#[test]
fn pxv2_12_tlv_past_the_end() {
    refused(
        &listener(),
        &v2(0x21, 0x11, &[&INET_BLOCK[..], b"\x04\x00\x09abc"].concat()),
    );
}

#[test]
fn pxv2_13_crc32c_mismatch() {
    let body = [&INET_BLOCK[..], b"\x03\x00\x04\0\0\0\0"].concat();
    let mut header = v2(0x21, 0x11, &body);
    let crc = smtp_proto::proxy::crc32c(&header);
    let at = header.len() - 4;
    header[at..].copy_from_slice(&crc.to_be_bytes());
    assert_proxied(
        &run_reads(&listener(), t0(), &[&header]),
        "192.0.2.7:40000",
        "198.51.100.1:25",
    );
    header[at + 3] ^= 0x80;
    refused(&listener(), &header);
}

#[test]
fn pxv2_14_broken_signature() {
    let mut bytes = smtp_proto_tests::proxied::SIGNATURE[..11].to_vec();
    bytes.push(0);
    refused(&listener(), &bytes);
}

#[test]
fn pxv_x1_version_the_listener_does_not_take() {
    refused(&proxy_config(ProxyProtocol::V1, &["127.0.0.1"]), &v2_tcp4());
    refused(&proxy_config(ProxyProtocol::V2, &["127.0.0.1"]), V1_TCP4);
    assert_proxied(
        &run_reads(
            &proxy_config(ProxyProtocol::V1, &["127.0.0.1"]),
            t0(),
            &[V1_TCP4],
        ),
        "192.0.2.7:40000",
        "198.51.100.1:25",
    );
}

/// PXV-X2 / PX-2: a peer outside the allowlist is closed before anything is read; so is
/// a connection accepted without knowing its peer.
#[test]
fn pxv_x2_untrusted_peer() {
    let config = proxy_config(ProxyProtocol::Any, &["10.0.0.0/8"]);
    let o = run(&config, balancer(), t0(), &[Step::Read(V1_TCP4.to_vec())]);
    assert_refused(&o);
    let endpoint = Endpoint::new(Arc::new(listener()), TlsMode::Off);
    let o = drive(endpoint.accept(t0()), t0(), &[Step::Read(V1_TCP4.to_vec())]);
    assert_refused(&o);
    // Nobody trusted at all.
    assert_refused(&run(
        &proxy_config(ProxyProtocol::Any, &[]),
        balancer(),
        t0(),
        &[Step::Read(V1_TCP4.to_vec())],
    ));
}

/// PXV-X3 / PX-1: on a listener without the stage a PROXY line is SMTP input: before the
/// greeting the pre-greeting rule, after it `500 5.5.2`.
#[test]
fn pxv_x3_off_listener() {
    transcript(
        config(),
        "S: 220 mx.example ESMTP\nC: PROXY TCP4 192.0.2.7 198.51.100.1 40000 25\\r\\n\nS: 500 5.5.2 Error: command not recognized",
    );
    exact(
        config(),
        "C: PROXY TCP4 192.0.2.7 198.51.100.1 40000 25\\r\\n\nS: 220 mx.example ESMTP\nS: 554 5.5.0 Error: SMTP protocol synchronization: a command came before the reply it must wait for (RFC 2920)\nE: Closed ProtocolViolation",
    );
}

/// PX-10: one header per connection; a second is an unknown command.
#[test]
fn px_10_second_header_is_a_command() {
    let o = run(
        &listener(),
        balancer(),
        t0(),
        &[Step::Read(V1_TCP4.to_vec()), Step::Read(V1_TCP4.to_vec())],
    );
    assert_eq!(
        o.text(),
        format!("{GREETING}500 5.5.2 Error: command not recognized\r\n")
    );
    assert_eq!(o.info.unwrap().peer, addr("192.0.2.7:40000"));
}

/// PX-3: nothing leaves and nothing is reported while the header is incomplete.
#[test]
fn px_3_nothing_before_the_complete_header() {
    let o = run_reads(&listener(), t0(), &[&V1_TCP4[..V1_TCP4.len() - 1]]);
    assert!(
        o.written.is_empty() && o.events.is_empty() && !o.closed,
        "{o:?}"
    );
}

/// PX-9: STARTTLS and implicit-TLS listeners: the header comes first, on raw bytes; on an
/// implicit-TLS listener the ClientHello in the same read goes to rustls untouched
/// (PXV2-15).
#[test]
fn px_9_below_tls() {
    use smtp_proto_tests::servers::server_tls;
    let starttls = Endpoint::new(Arc::new(listener()), TlsMode::StartTls(server_tls()));
    let c = starttls.accept_from(t0(), ConnectionInfo::new(balancer(), listener_addr()));
    let o = drive(
        c,
        t0(),
        &[Step::Read(v2_tcp4()), Step::Read(b"EHLO c\r\n".to_vec())],
    );
    assert!(o.text().contains("STARTTLS"), "{o:?}");
    assert_eq!(o.info.unwrap().peer, addr("192.0.2.7:40000"));

    let implicit = Endpoint::new(Arc::new(listener()), TlsMode::Implicit(server_tls()));
    let mut client = rustls::ClientConnection::new(
        smtp_proto_tests::tls::insecure_client_config(),
        smtp_proto_tests::tls::server_name(),
    )
    .unwrap();
    let mut hello = Vec::new();
    client.write_tls(&mut hello).unwrap();
    let mut c = implicit.accept_from(t0(), ConnectionInfo::new(balancer(), listener_addr()));
    c.handle_input(t0(), &[v2_tcp4(), hello].concat());
    // Pump the handshake in memory until the greeting arrives under TLS.
    let mut plain = Vec::new();
    for _ in 0..50 {
        match c.next(t0()) {
            Next::Transmit { bytes, .. } => {
                let mut rd = bytes;
                while !rd.is_empty() {
                    client.read_tls(&mut rd).unwrap();
                }
                client.process_new_packets().unwrap();
                c.transmitted(t0());
                let mut out = Vec::new();
                client.write_tls(&mut out).unwrap();
                if !out.is_empty() {
                    c.handle_input(t0(), &out);
                }
                use std::io::Read;
                let mut buf = [0; 512];
                if let Ok(n) = client.reader().read(&mut buf) {
                    plain.extend_from_slice(&buf[..n]);
                }
            }
            Next::Event(event) => {
                if let Some(p) = event.into_pending() {
                    let _ = c.answer(t0(), p, Ok(()));
                }
            }
            Next::Read { until: Some(u), .. } if u <= t0() => c.handle_timeout(t0()),
            _ => {}
        }
        if plain.starts_with(GREETING.as_bytes()) {
            break;
        }
    }
    assert_eq!(String::from_utf8_lossy(&plain), GREETING);
    assert_eq!(c.info().unwrap().peer, addr("192.0.2.7:40000"));
}

/// PX-11: ConnectionInfo of a direct connection has no proxy.
#[test]
fn px_11_direct_connections_have_no_proxy() {
    let o = run_reads(&ServerConfig::new("mx.example"), t0(), &[b"QUIT\r\n"]);
    let info = o.info.unwrap();
    assert_eq!((info.peer, info.proxy), (balancer(), None));
}

proptest! {
    /// PX-7 over the whole connection: any header `ppp` builds (IPv4 or IPv6, random
    /// TLVs), followed by a command, split at random points of the header, gives what one
    /// read gives;
    /// and `ppp` (the oracle) reads the same addresses.
    #[test]
    fn split_invariance_and_oracle(
        v6 in any::<bool>(),
        src in any::<[u8; 16]>(),
        dst in any::<[u8; 16]>(),
        ports in any::<(u16, u16)>(),
        id in proptest::collection::vec(any::<u8>(), 0..=128),
        noop in proptest::collection::vec(any::<u8>(), 0..40),
        cuts in proptest::collection::vec(any::<usize>(), 0..6),
    ) {
        let (source, destination): (SocketAddr, SocketAddr) = if v6 {
            ((std::net::Ipv6Addr::from(src), ports.0).into(), (std::net::Ipv6Addr::from(dst), ports.1).into())
        } else {
            let s: [u8; 4] = src[..4].try_into().unwrap();
            let d: [u8; 4] = dst[..4].try_into().unwrap();
            ((std::net::Ipv4Addr::from(s), ports.0).into(), (std::net::Ipv4Addr::from(d), ports.1).into())
        };
        let mut builder = ppp::v2::Builder::with_addresses(
            ppp::v2::Version::Two | ppp::v2::Command::Proxy,
            ppp::v2::Protocol::Stream,
            (source, destination),
        )
        .write_tlv(ppp::v2::Type::NoOp, &noop)
        .unwrap();
        if !id.is_empty() {
            builder = builder.write_tlv(ppp::v2::Type::UniqueId, &id).unwrap();
        }
        let header = builder.build().unwrap();
        let oracle = ppp::v2::Header::try_from(header.as_slice()).unwrap();
        let ours = smtp_proto::proxy::parse(&header, ProxyProtocol::Any, 1024).unwrap().unwrap().0;
        match oracle.addresses {
            ppp::v2::Addresses::IPv4(a) => {
                prop_assert_eq!(ours.source, Some(SocketAddr::from((a.source_address, a.source_port))));
                prop_assert_eq!(ours.destination, Some(SocketAddr::from((a.destination_address, a.destination_port))));
            }
            ppp::v2::Addresses::IPv6(a) => {
                prop_assert_eq!(ours.source, Some(SocketAddr::from((a.source_address, a.source_port))));
                prop_assert_eq!(ours.destination, Some(SocketAddr::from((a.destination_address, a.destination_port))));
            }
            other => prop_assert!(false, "{other:?}"),
        }
        prop_assert_eq!(ours.unique_id, (!id.is_empty()).then_some(id));
        let input = [&header[..], b"QUIT\r\n"].concat();
        let whole = run_reads(&listener(), t0(), &[&input]);
        // Cuts inside the header; the client's bytes come with its end (a later read
        // would be after the greeting, another session, see PXV1-14).
        let mut points: Vec<usize> = cuts.iter().map(|c| c % header.len()).collect();
        points.sort_unstable();
        points.dedup();
        let mut reads: Vec<&[u8]> = Vec::new();
        let mut at = 0;
        for p in points {
            reads.push(&input[at..p]);
            at = p;
        }
        reads.push(&input[at..]);
        reads.retain(|r| !r.is_empty());
        prop_assert_eq!(run_reads(&listener(), t0(), &reads), whole);
    }

    /// The v1 oracle: every TCP4/TCP6 line `ppp` writes, we read to the same addresses.
    #[test]
    fn v1_oracle(src in any::<[u8; 4]>(), dst in any::<[u8; 4]>(), ports in any::<(u16, u16)>()) {
        let line = ppp::v1::Addresses::new_tcp4(src, dst, ports.0, ports.1).to_string();
        prop_assert!(ppp::v1::Header::try_from(line.as_str()).is_ok());
        let ours = smtp_proto::proxy::parse(line.as_bytes(), ProxyProtocol::V1, 1024);
        let ours = ours.unwrap().unwrap().0;
        prop_assert_eq!(ours.source, Some(SocketAddr::from((src, ports.0))));
        prop_assert_eq!(ours.destination, Some(SocketAddr::from((dst, ports.1))));
    }
}
