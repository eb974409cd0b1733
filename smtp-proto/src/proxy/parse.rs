//! The PROXY header parser: incremental, bounded, exact.
//!
//! [`HeaderReader`] takes socket bytes and keeps only the header's own: a v1 line up to
//! its LF (at most 107 bytes), a v2 header up to `16 + length`. Every check is a function
//! of the bytes so far, and a prefix found invalid stays invalid whatever follows, so the
//! outcome does not depend on how the bytes were split into reads (PX-7).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::{ProxyHeader, ProxyProtocol};

/// The v2 signature (it contains a NUL: never a C string).
pub(crate) const SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
/// The longest v1 line, CR LF included.
const V1_MAX: usize = 107;
/// The v1 line's fixed start.
const V1_START: &[u8] = b"PROXY ";
/// The v2 fixed part: signature, version/command, family/transport, length.
const V2_FIXED: usize = 16;
/// Address block sizes: IPv4, IPv6, UNIX.
const INET_BLOCK: usize = 12;
const INET6_BLOCK: usize = 36;
pub(crate) const UNIX_BLOCK: usize = 216;
/// TLV types used.
const TLV_AUTHORITY: u8 = 0x02;
const TLV_CRC32C: u8 = 0x03;
const TLV_UNIQUE_ID: u8 = 0x05;
const TLV_SSL: u8 = 0x20;
/// `PP2_CLIENT_SSL`, bit 0 of the SSL TLV's client byte.
const CLIENT_SSL: u8 = 0x01;
/// The longest UNIQUE_ID the specification allows.
const UNIQUE_ID_MAX: usize = 128;

/// Why a header was refused (for logs; the peer hears nothing).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// The first bytes are no header of an accepted version (PX-1, PXV1-12, PXV-X1).
    #[error("not a PROXY header of an accepted version")]
    NotAHeader,
    /// No CR LF in the first 107 bytes (v1), or a v2 length over the cap (PX-8).
    #[error("PROXY header too long")]
    TooLong,
    /// A bare CR or LF in a v1 line.
    #[error("PROXY v1 line not ended by CR LF")]
    LineEnding,
    /// A v1 line that does not match the grammar exactly.
    #[error("malformed PROXY v1 line")]
    BadV1,
    /// A v2 version other than 2, or a command other than LOCAL or PROXY.
    #[error("unsupported PROXY v2 version or command")]
    BadVersion,
    /// A v2 family or transport outside the specification.
    #[error("unknown PROXY v2 family or transport")]
    BadFamily,
    /// A v2 address block shorter than its family needs.
    #[error("PROXY v2 address block too short")]
    ShortAddress,
    /// A TLV running past the header, or a TLV with an impossible length.
    #[error("malformed PROXY v2 TLV")]
    BadTlv,
    /// The CRC32C TLV does not match the header.
    #[error("PROXY v2 CRC32C mismatch")]
    Checksum,
    /// The connection ended, or the timeout passed, before the header was complete.
    #[error("no complete PROXY header")]
    Missing,
    /// The socket peer is not a trusted proxy (PX-2).
    #[error("peer is not a trusted proxy")]
    Untrusted,
}

/// The header's version, once the first byte told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    V1,
    V2,
}

/// Reads one PROXY header from socket bytes, keeping at most the header's own bytes.
#[derive(Clone, Debug)]
pub struct HeaderReader {
    accept: ProxyProtocol,
    cap: usize,
    kind: Option<Kind>,
    buf: Vec<u8>,
    done: bool,
}

impl HeaderReader {
    /// A reader accepting `accept`, with v2 lengths up to `cap`.
    pub fn new(accept: ProxyProtocol, cap: usize) -> Self {
        Self {
            accept,
            cap,
            kind: None,
            buf: Vec::new(),
            done: false,
        }
    }

    /// Feeds bytes; returns how many it took and, once decided, the header or the reason
    /// it is refused. With a header, the count is exactly the header's bytes of this call
    /// (the rest belongs to the client), whatever the reads; after a refusal it is
    /// unspecified (the connection closes). After a decision nothing more is taken.
    pub fn feed(&mut self, bytes: &[u8]) -> (usize, Option<Result<ProxyHeader, ProxyError>>) {
        if self.done {
            return (0, None);
        }
        let mut taken = 0;
        while taken < bytes.len() {
            let rest = &bytes[taken..];
            let take = self.room(rest);
            self.buf.extend_from_slice(&rest[..take]);
            taken += take;
            if let Some(result) = self.evaluate() {
                self.done = true;
                self.buf = Vec::new();
                return (taken, Some(result));
            }
        }
        (taken, None)
    }

    /// How many of `rest` (non-empty) to take now: never past the header's end.
    fn room(&self, rest: &[u8]) -> usize {
        match self.kind {
            None => 1,
            Some(Kind::V1) => {
                let left = V1_MAX.saturating_sub(self.buf.len()).max(1);
                match memchr::memchr(b'\n', &rest[..left.min(rest.len())]) {
                    Some(i) => i + 1,
                    None => left.min(rest.len()),
                }
            }
            Some(Kind::V2) => {
                let want = if self.buf.len() < V2_FIXED {
                    V2_FIXED
                } else {
                    V2_FIXED + v2_length(&self.buf)
                };
                want.saturating_sub(self.buf.len()).clamp(1, rest.len())
            }
        }
    }

    /// The decision on the bytes so far, if there is one.
    fn evaluate(&mut self) -> Option<Result<ProxyHeader, ProxyError>> {
        let kind = match self.kind {
            Some(kind) => kind,
            None => {
                let kind = match self.buf.first()? {
                    b'P' if self.accept.accepts_v1() => Kind::V1,
                    b'\r' if self.accept.accepts_v2() => Kind::V2,
                    _ => return Some(Err(ProxyError::NotAHeader)),
                };
                self.kind = Some(kind);
                kind
            }
        };
        match kind {
            Kind::V1 => self.evaluate_v1(),
            Kind::V2 => self.evaluate_v2(),
        }
    }

    fn evaluate_v1(&self) -> Option<Result<ProxyHeader, ProxyError>> {
        let buf = &self.buf;
        let start = buf.len().min(V1_START.len());
        if buf[..start] != V1_START[..start] {
            return Some(Err(ProxyError::NotAHeader));
        }
        // A CR must be followed by LF, and a LF preceded by CR: checked as bytes arrive.
        for (i, &b) in buf.iter().enumerate() {
            let next = buf.get(i + 1);
            if b == b'\r' && next.is_some_and(|&n| n != b'\n') {
                return Some(Err(ProxyError::LineEnding));
            }
            if b == b'\n' {
                if i == 0 || buf[i - 1] != b'\r' {
                    return Some(Err(ProxyError::LineEnding));
                }
                return Some(parse_v1(&buf[..i - 1]));
            }
        }
        (buf.len() >= V1_MAX).then_some(Err(ProxyError::TooLong))
    }

    fn evaluate_v2(&self) -> Option<Result<ProxyHeader, ProxyError>> {
        let buf = &self.buf;
        let start = buf.len().min(SIGNATURE.len());
        if buf[..start] != SIGNATURE[..start] {
            return Some(Err(ProxyError::NotAHeader));
        }
        if let Some(&ver_cmd) = buf.get(12)
            && (ver_cmd >> 4 != 2 || ver_cmd & 0x0f > 1)
        {
            return Some(Err(ProxyError::BadVersion));
        }
        if let Some(&fam) = buf.get(13)
            && (fam >> 4 > 3 || fam & 0x0f > 2)
        {
            return Some(Err(ProxyError::BadFamily));
        }
        if buf.len() < V2_FIXED {
            return None;
        }
        let length = v2_length(buf);
        if length > self.cap {
            return Some(Err(ProxyError::TooLong));
        }
        (buf.len() == V2_FIXED + length).then(|| parse_v2(buf))
    }
}

/// The v2 length field (bytes 15–16); `buf` holds at least 16 bytes.
fn v2_length(buf: &[u8]) -> usize {
    usize::from(u16::from_be_bytes([buf[14], buf[15]]))
}

/// One-shot parse of a header at the start of `input`: `Ok(Some((header, length)))`,
/// `Ok(None)` when more bytes are needed, or the error. The same code as the connection's
/// stage (fuzz targets and test oracles use this).
///
/// # Errors
///
/// Why the header is refused.
pub fn parse(
    input: &[u8],
    accept: ProxyProtocol,
    cap: usize,
) -> Result<Option<(ProxyHeader, usize)>, ProxyError> {
    match HeaderReader::new(accept, cap).feed(input) {
        (_, None) => Ok(None),
        (taken, Some(result)) => result.map(|header| Some((header, taken))),
    }
}

/// A v1 line without its CR LF.
fn parse_v1(line: &[u8]) -> Result<ProxyHeader, ProxyError> {
    let bad = ProxyError::BadV1;
    let rest = line.strip_prefix(V1_START).ok_or(bad)?;
    let rest = std::str::from_utf8(rest).map_err(|_| bad)?;
    let unknown = ProxyHeader {
        version: 1,
        ..ProxyHeader::default()
    };
    if let Some(after) = rest.strip_prefix("UNKNOWN") {
        // The rest of the line may be omitted and must be ignored.
        return (after.is_empty() || after.starts_with(' '))
            .then_some(unknown)
            .ok_or(bad);
    }
    let mut fields = rest.split(' ');
    let mut next = || fields.next().ok_or(bad);
    let (family, src, dst, sport, dport) = (next()?, next()?, next()?, next()?, next()?);
    if fields.next().is_some() {
        return Err(bad);
    }
    let (src, dst): (IpAddr, IpAddr) = match family {
        "TCP4" => (ipv4(src)?.into(), ipv4(dst)?.into()),
        "TCP6" => (ipv6(src)?.into(), ipv6(dst)?.into()),
        _ => return Err(bad),
    };
    Ok(ProxyHeader {
        source: Some(SocketAddr::new(src, port(sport)?)),
        destination: Some(SocketAddr::new(dst, port(dport)?)),
        ..unknown
    })
}

/// A dotted quad without leading zeros.
fn ipv4(s: &str) -> Result<Ipv4Addr, ProxyError> {
    let mut octets = [0u8; 4];
    let mut parts = s.split('.');
    for octet in &mut octets {
        *octet = decimal(parts.next().ok_or(ProxyError::BadV1)?, 3)?
            .try_into()
            .map_err(|_| ProxyError::BadV1)?;
    }
    match parts.next() {
        None => Ok(Ipv4Addr::from(octets)),
        Some(_) => Err(ProxyError::BadV1),
    }
}

/// An IPv6 address in hex groups (the standard library's grammar, no zone).
fn ipv6(s: &str) -> Result<Ipv6Addr, ProxyError> {
    if !s
        .bytes()
        .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
    {
        return Err(ProxyError::BadV1);
    }
    s.parse().map_err(|_| ProxyError::BadV1)
}

/// A port: decimal, no leading zero, at most 65535.
fn port(s: &str) -> Result<u16, ProxyError> {
    decimal(s, 5)?.try_into().map_err(|_| ProxyError::BadV1)
}

/// Up to `digits` decimal digits without a leading zero ("0" itself is fine).
fn decimal(s: &str, digits: usize) -> Result<u32, ProxyError> {
    let ok = !s.is_empty()
        && s.len() <= digits
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'));
    if !ok {
        return Err(ProxyError::BadV1);
    }
    s.parse().map_err(|_| ProxyError::BadV1)
}

/// A complete v2 header (fixed part checked by the reader).
fn parse_v2(buf: &[u8]) -> Result<ProxyHeader, ProxyError> {
    let mut header = ProxyHeader {
        version: 2,
        ..ProxyHeader::default()
    };
    if buf[12] & 0x0f == 0 {
        // LOCAL: the real endpoints; whatever follows is skipped.
        header.local = true;
        return Ok(header);
    }
    let (family, transport) = (buf[13] >> 4, buf[13] & 0x0f);
    let body = &buf[V2_FIXED..];
    let block = match family {
        // UNSPEC: the receiver ignores the address information (and what follows).
        0 => return Ok(header),
        1 => INET_BLOCK,
        2 => INET6_BLOCK,
        _ => UNIX_BLOCK,
    };
    let addresses = body.get(..block).ok_or(ProxyError::ShortAddress)?;
    // Only TCP gives a client address; UDP and UNIX keep the socket's (PXV2-08, choice).
    if transport == 1 {
        let (src, dst) = match family {
            1 => {
                let ip = |at: usize| -> IpAddr {
                    Ipv4Addr::new(
                        addresses[at],
                        addresses[at + 1],
                        addresses[at + 2],
                        addresses[at + 3],
                    )
                    .into()
                };
                (
                    SocketAddr::new(ip(0), be16(addresses, 8)),
                    SocketAddr::new(ip(4), be16(addresses, 10)),
                )
            }
            _ => {
                let ip = |at: usize| -> IpAddr {
                    let mut octets = [0u8; 16];
                    octets.copy_from_slice(&addresses[at..at + 16]);
                    Ipv6Addr::from(octets).into()
                };
                (
                    SocketAddr::new(ip(0), be16(addresses, 32)),
                    SocketAddr::new(ip(16), be16(addresses, 34)),
                )
            }
        };
        if family != 3 {
            header.source = Some(src);
            header.destination = Some(dst);
        }
    }
    tlvs(buf, V2_FIXED + block, &mut header)?;
    Ok(header)
}

/// A big-endian u16 at `at`.
fn be16(bytes: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([bytes[at], bytes[at + 1]])
}

/// The TLVs from `at` to the end of `buf`, the whole header.
fn tlvs(buf: &[u8], mut at: usize, header: &mut ProxyHeader) -> Result<(), ProxyError> {
    while at < buf.len() {
        let fixed = buf.get(at..at + 3).ok_or(ProxyError::BadTlv)?;
        let (kind, len) = (
            fixed[0],
            usize::from(u16::from_be_bytes([fixed[1], fixed[2]])),
        );
        let start = at + 3;
        let value = buf.get(start..start + len).ok_or(ProxyError::BadTlv)?;
        match kind {
            TLV_AUTHORITY => {
                header.authority = std::str::from_utf8(value)
                    .ok()
                    .filter(|s| !s.is_empty() && !s.chars().any(char::is_control))
                    .map(str::to_owned);
            }
            TLV_CRC32C => {
                let expected: [u8; 4] = value.try_into().map_err(|_| ProxyError::BadTlv)?;
                let mut copy = buf.to_vec();
                copy[start..start + 4].fill(0);
                if crc32c(&copy) != u32::from_be_bytes(expected) {
                    return Err(ProxyError::Checksum);
                }
            }
            TLV_UNIQUE_ID if len > UNIQUE_ID_MAX => return Err(ProxyError::BadTlv),
            TLV_UNIQUE_ID => header.unique_id = Some(value.to_vec()),
            TLV_SSL => header.client_tls = value.first().is_some_and(|c| c & CLIENT_SSL != 0),
            // ALPN, NOOP, NETNS, application-specific, experimental, future: ignored.
            _ => {}
        }
        at = start + len;
    }
    Ok(())
}

/// CRC-32C (Castagnoli, reflected polynomial `0x82F63B78`), as the v2 CRC32C TLV uses.
pub fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = u32::MAX;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
