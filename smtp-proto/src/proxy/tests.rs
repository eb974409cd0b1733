//! The parser on `manual::proxy`'s vectors (rows PXV1-*, PXV2-*, PXV-X1); the same rows run
//! through whole connections in `tests/tests/proxy.rs`.

use std::net::SocketAddr;

use super::parse::SIGNATURE;
use super::*;

const CAP: usize = 1024;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn ok(input: &[u8], accept: ProxyProtocol) -> (ProxyHeader, usize) {
    parse(input, accept, CAP)
        .unwrap_or_else(|e| panic!("{e} for {input:?}"))
        .unwrap_or_else(|| panic!("incomplete: {input:?}"))
}

fn err(input: &[u8], accept: ProxyProtocol) -> ProxyError {
    match parse(input, accept, CAP) {
        Err(e) => e,
        Ok(other) => panic!("{input:?} gave {other:?}"),
    }
}

/// `SIG`, version/command, family, and a body with its length.
pub(super) fn v2(ver_cmd: u8, family: u8, body: &[u8]) -> Vec<u8> {
    let mut out = SIGNATURE.to_vec();
    out.push(ver_cmd);
    out.push(family);
    out.extend_from_slice(&u16::try_from(body.len()).unwrap().to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// PXV2-01's address block: 192.0.2.7:40000 → 198.51.100.1:25.
pub(super) const INET: [u8; 12] = [192, 0, 2, 7, 198, 51, 100, 1, 0x9c, 0x40, 0, 25];

#[test]
fn pxv1_01_tcp4() {
    let line = b"PROXY TCP4 192.0.2.7 198.51.100.1 40000 25\r\n";
    let (h, n) = ok(line, ProxyProtocol::V1);
    assert_eq!(n, line.len());
    assert_eq!(h.source, Some(addr("192.0.2.7:40000")));
    assert_eq!(h.destination, Some(addr("198.51.100.1:25")));
    assert_eq!(h.version, 1);
}

#[test]
fn pxv1_02_tcp6() {
    let (h, _) = ok(
        b"PROXY TCP6 2001:db8::7 2001:db8::1 40000 25\r\n",
        ProxyProtocol::Any,
    );
    assert_eq!(h.source, Some(addr("[2001:db8::7]:40000")));
    assert_eq!(h.destination, Some(addr("[2001:db8::1]:25")));
}

#[test]
fn pxv1_03_unknown() {
    let (h, _) = ok(b"PROXY UNKNOWN\r\n", ProxyProtocol::V1);
    assert_eq!((h.source, h.destination, h.local), (None, None, false));
}

#[test]
fn pxv1_04_unknown_107_octets() {
    let full = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
    let line = format!("PROXY UNKNOWN {full} {full} 65535 65535\r\n");
    assert_eq!(line.len(), 107);
    let (h, n) = ok(line.as_bytes(), ProxyProtocol::V1);
    assert_eq!((h.source, n), (None, 107));
}

#[test]
fn pxv1_05_no_crlf_in_107() {
    let mut line = b"PROXY UNKNOWN ".to_vec();
    line.resize(108, b'a');
    assert_eq!(err(&line, ProxyProtocol::V1), ProxyError::TooLong);
    // Already decided at 107 octets: the 108th is never read.
    assert_eq!(err(&line[..107], ProxyProtocol::V1), ProxyError::TooLong);
    assert_eq!(parse(&line[..106], ProxyProtocol::V1, CAP), Ok(None));
}

#[test]
fn pxv1_06_bare_lf_and_cr() {
    let base = b"PROXY TCP4 192.0.2.7 198.51.100.1 40000 25";
    let lf = [&base[..], b"\n"].concat();
    assert_eq!(err(&lf, ProxyProtocol::V1), ProxyError::LineEnding);
    let cr = [&base[..], b"\rX"].concat();
    assert_eq!(err(&cr, ProxyProtocol::V1), ProxyError::LineEnding);
    let cr_only = [&base[..], b"\r"].concat();
    assert_eq!(parse(&cr_only, ProxyProtocol::V1, CAP), Ok(None));
}

#[test]
fn pxv1_07_to_11_malformed_lines() {
    for line in [
        "PROXY TCP4 192.0.2.07 198.51.100.1 40000 25\r\n",
        "PROXY TCP4 192.0.2.7 198.51.100.1 40000 025\r\n",
        "PROXY TCP4 192.0.2.7  198.51.100.1 40000 25\r\n",
        "PROXY TCP4 192.0.2.7\t198.51.100.1 40000 25\r\n",
        "PROXY TCP4 192.0.2.7 198.51.100.1 40000 25 \r\n",
        "PROXY  TCP4 192.0.2.7 198.51.100.1 40000 25\r\n",
        "PROXY TCP4 2001:db8::7 2001:db8::1 40000 25\r\n",
        "PROXY TCP6 192.0.2.7 198.51.100.1 40000 25\r\n",
        "PROXY TCP5 192.0.2.7 198.51.100.1 40000 25\r\n",
        "PROXY TCP4 192.0.2.7 198.51.100.1 65536 25\r\n",
        "PROXY TCP4 256.1.1.1 198.51.100.1 40000 25\r\n",
        "PROXY TCP4 192.0.2.7 198.51.100.1 40000\r\n",
        "PROXY UNKNOWNX\r\n",
    ] {
        assert_eq!(
            err(line.as_bytes(), ProxyProtocol::V1),
            ProxyError::BadV1,
            "{line:?}"
        );
    }
    let lower = b"proxy tcp4 192.0.2.7 198.51.100.1 40000 25\r\n";
    assert_eq!(err(lower, ProxyProtocol::V1), ProxyError::NotAHeader);
    assert_eq!(err(b"PROXY\r\n", ProxyProtocol::V1), ProxyError::NotAHeader);
}

#[test]
fn pxv1_12_smtp_first() {
    assert_eq!(
        err(b"EHLO client.example\r\n", ProxyProtocol::Any),
        ProxyError::NotAHeader
    );
    // Decided on the first octet that cannot start a header.
    assert_eq!(err(b"E", ProxyProtocol::V1), ProxyError::NotAHeader);
    assert_eq!(err(b"PROXX", ProxyProtocol::V1), ProxyError::NotAHeader);
}

#[test]
fn pxv1_14_bytes_after_the_header_are_not_taken() {
    let line = b"PROXY TCP4 192.0.2.7 198.51.100.1 40000 25\r\n";
    let input = [&line[..], b"EHLO c\r\n"].concat();
    assert_eq!(ok(&input, ProxyProtocol::V1).1, line.len());
}

#[test]
fn pxv2_01_ipv4() {
    let header = v2(0x21, 0x11, &INET);
    let (h, n) = ok(&header, ProxyProtocol::V2);
    assert_eq!(n, 28);
    assert_eq!(h.source, Some(addr("192.0.2.7:40000")));
    assert_eq!(h.destination, Some(addr("198.51.100.1:25")));
    assert_eq!((h.version, h.local), (2, false));
}

#[test]
fn pxv2_02_ipv6() {
    let src: std::net::Ipv6Addr = "2001:db8::7".parse().unwrap();
    let dst: std::net::Ipv6Addr = "2001:db8::1".parse().unwrap();
    let body = [
        &src.octets()[..],
        &dst.octets(),
        &40000u16.to_be_bytes(),
        &25u16.to_be_bytes(),
    ]
    .concat();
    let (h, _) = ok(&v2(0x21, 0x21, &body), ProxyProtocol::Any);
    assert_eq!(h.source, Some(addr("[2001:db8::7]:40000")));
    assert_eq!(h.destination, Some(addr("[2001:db8::1]:25")));
}

#[test]
fn pxv2_03_04_local() {
    let (h, n) = ok(&v2(0x20, 0x00, &[]), ProxyProtocol::V2);
    assert_eq!((h.local, h.source, n), (true, None, 16));
    let (h, n) = ok(&v2(0x20, 0x11, &INET), ProxyProtocol::V2);
    assert_eq!((h.local, h.source, n), (true, None, 28));
}

#[test]
fn pxv2_05_06_07_bad_version_command_family() {
    for byte in [0x11, 0x31, 0x22] {
        assert_eq!(
            err(&v2(byte, 0x11, &INET), ProxyProtocol::V2),
            ProxyError::BadVersion
        );
    }
    for fam in [0x13, 0x41, 0x04] {
        assert_eq!(
            err(&v2(0x21, fam, &INET), ProxyProtocol::V2),
            ProxyError::BadFamily
        );
    }
}

#[test]
fn pxv2_08_valid_not_tcp_keeps_socket_addresses() {
    for fam in [0x12, 0x22, 0x31, 0x32] {
        let (h, _) = ok(&v2(0x21, fam, &[0; 216]), ProxyProtocol::V2);
        assert_eq!(h.source, None, "{fam:#x}");
    }
}

#[test]
fn pxv2_09_short_address_block() {
    assert_eq!(
        err(&v2(0x21, 0x11, &INET[..8]), ProxyProtocol::V2),
        ProxyError::ShortAddress
    );
}

#[test]
fn pxv2_10_length_over_the_cap_without_waiting() {
    let mut head = SIGNATURE.to_vec();
    head.extend_from_slice(&[0x21, 0x11, 0xff, 0xff]);
    assert_eq!(err(&head, ProxyProtocol::V2), ProxyError::TooLong);
}

#[test]
fn pxv2_11_tlvs() {
    let body = [
        &INET[..],
        b"\x04\x00\x03abc",
        b"\x05\x00\x04abcd",
        b"\x02\x00\x0bmx.example\x2e",
    ]
    .concat();
    let (h, _) = ok(&v2(0x21, 0x11, &body), ProxyProtocol::V2);
    assert_eq!(h.unique_id.as_deref(), Some(&b"abcd"[..]));
    assert_eq!(h.authority.as_deref(), Some("mx.example."));
    let too_long_id = [&INET[..], b"\x05\x00\x81", &[b'x'; 129]].concat();
    assert_eq!(
        err(&v2(0x21, 0x11, &too_long_id), ProxyProtocol::V2),
        ProxyError::BadTlv
    );
    let ssl = [&INET[..], b"\x20\x00\x05\x01\x00\x00\x00\x00"].concat();
    assert!(ok(&v2(0x21, 0x11, &ssl), ProxyProtocol::V2).0.client_tls);
}

#[test]
fn pxv2_12_tlv_past_the_end() {
    let body = [&INET[..], b"\x04\x00\x09abc"].concat();
    assert_eq!(
        err(&v2(0x21, 0x11, &body), ProxyProtocol::V2),
        ProxyError::BadTlv
    );
    let body = [&INET[..], b"\x04\x00"].concat();
    assert_eq!(
        err(&v2(0x21, 0x11, &body), ProxyProtocol::V2),
        ProxyError::BadTlv
    );
}

#[test]
fn pxv2_13_crc32c() {
    assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    let body = [&INET[..], b"\x03\x00\x04\0\0\0\0"].concat();
    let mut header = v2(0x21, 0x11, &body);
    let crc = crc32c(&header);
    let at = header.len() - 4;
    header[at..].copy_from_slice(&crc.to_be_bytes());
    assert!(ok(&header, ProxyProtocol::V2).0.source.is_some());
    header[at] ^= 1;
    assert_eq!(err(&header, ProxyProtocol::V2), ProxyError::Checksum);
}

#[test]
fn pxv2_14_broken_signature() {
    let mut bytes = SIGNATURE[..11].to_vec();
    bytes.push(0);
    assert_eq!(err(&bytes, ProxyProtocol::V2), ProxyError::NotAHeader);
}

#[test]
fn pxv_x1_wrong_version_for_the_listener() {
    let line = b"PROXY TCP4 192.0.2.7 198.51.100.1 40000 25\r\n";
    assert_eq!(err(line, ProxyProtocol::V2), ProxyError::NotAHeader);
    assert_eq!(
        err(&v2(0x21, 0x11, &INET), ProxyProtocol::V1),
        ProxyError::NotAHeader
    );
}

/// PXV1-13, PXV2-15 (the split half): every split gives the same header and length.
#[test]
fn split_at_every_byte() {
    let v1 = b"PROXY TCP4 192.0.2.7 198.51.100.1 40000 25\r\nEHLO c\r\n".to_vec();
    let v2 = [v2(0x21, 0x11, &INET), b"EHLO c\r\n".to_vec()].concat();
    for input in [v1, v2] {
        let whole = ok(&input, ProxyProtocol::Any);
        for cut in 0..input.len() {
            let mut reader = HeaderReader::new(ProxyProtocol::Any, CAP);
            let (a, first) = reader.feed(&input[..cut]);
            let (header, taken) = match first {
                Some(result) => (result.unwrap(), a),
                None => {
                    let (b, second) = reader.feed(&input[cut..]);
                    (second.unwrap().unwrap(), a + b)
                }
            };
            assert_eq!((header, taken), whole, "cut at {cut}");
        }
    }
}

#[test]
fn cidr() {
    let net: Cidr = "192.0.2.0/24".parse().unwrap();
    assert!(net.contains("192.0.2.200".parse().unwrap()));
    assert!(net.contains("::ffff:192.0.2.1".parse().unwrap()));
    assert!(!net.contains("192.0.3.1".parse().unwrap()));
    let one: Cidr = "127.0.0.1".parse().unwrap();
    assert!(one.contains("127.0.0.1".parse().unwrap()));
    assert!(!one.contains("127.0.0.2".parse().unwrap()));
    let all: Cidr = "0.0.0.0/0".parse().unwrap();
    assert!(all.contains("203.0.113.9".parse().unwrap()));
    let v6: Cidr = "2001:db8::/32".parse().unwrap();
    assert!(v6.contains("2001:db8:1::1".parse().unwrap()));
    assert!(!v6.contains("192.0.2.1".parse().unwrap()));
    for bad in ["192.0.2.0/33", "x/8", "192.0.2.0/", "::/129"] {
        assert!(bad.parse::<Cidr>().is_err(), "{bad}");
    }
    assert_eq!(net.to_string(), "192.0.2.0/24");
}
