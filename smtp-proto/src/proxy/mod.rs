//! The PROXY protocol (HAProxy's `proxy-protocol.txt`, versions 1 and 2): the header a TCP
//! load balancer puts in front of the stream to carry the real client's address.
//!
//! A listener opts in through [`ServerConfig::proxy`](crate::ServerConfig::proxy); the
//! [`Connection`](crate::Connection) then runs a PROXY stage on the raw socket bytes,
//! beneath TLS, before anything else (rule book: `manual::proxy` PX-1…PX-12):
//!
//! * the socket peer must be in [`ProxyConfig::trusted`], or the connection closes at once
//!   without a byte (PX-2);
//! * no greeting, no connect decision and no TLS handshake before the complete header
//!   (PX-3); the header must arrive within [`ProxyConfig::timeout`] (PX-4);
//! * a malformed, over-long or wrong-version header closes the connection without a reply
//!   (PX-5); at most 107 (v1) or `16 + max_length` (v2) bytes are ever buffered (PX-8);
//! * the header's bytes never reach the SMTP parser; bytes after it, in the same read or
//!   later, reach it unchanged (PX-6), so a client talking before the greeting still meets
//!   the pre-greeting rule;
//! * the outcome is [`Event::ProxyHeader`](crate::Event::ProxyHeader), reported once, and
//!   the connection's [`ConnectionInfo`](crate::ConnectionInfo) then names the real client,
//!   the balancer kept as `proxy` (PX-11).
//!
//! # Why an in-crate parser
//!
//! The format is small (one line of at most 107 bytes; a 16-byte binary header and a
//! bounded block), and what matters is ours either way: exact matching of v1, the caps,
//! split invariance, never guessing the version, the TLV policy. A hand-written parser of
//! about 300 lines adds no dependency to the core and stays under the fuzzers; the `ppp`
//! crate (2.3) is used in the tests only, as an independent oracle that must agree with
//! this parser on every valid header.

mod parse;

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::time::{Duration, Instant};

pub use parse::{HeaderReader, ProxyError, crc32c, parse};

/// Which PROXY protocol versions a listener accepts. It is configured, never guessed
/// (PX-1): a listener either expects a header on every connection or never honours one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyProtocol {
    /// Version 1 only (text; nginx stream, HAProxy `send-proxy`).
    V1,
    /// Version 2 only (binary; HAProxy `send-proxy-v2`, AWS NLB).
    V2,
    /// Either version, told apart by the first byte (`P` or the v2 signature's CR).
    Any,
}

impl ProxyProtocol {
    /// Whether version 1 headers are accepted.
    pub fn accepts_v1(self) -> bool {
        matches!(self, Self::V1 | Self::Any)
    }

    /// Whether version 2 headers are accepted.
    pub fn accepts_v2(self) -> bool {
        matches!(self, Self::V2 | Self::Any)
    }
}

impl FromStr for ProxyProtocol {
    type Err = String;

    /// `v1`, `v2` or `any` (case-insensitive).
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "v1" | "1" => Ok(Self::V1),
            "v2" | "2" => Ok(Self::V2),
            "any" => Ok(Self::Any),
            _ => Err(format!(
                "unknown PROXY protocol version {s:?} (v1, v2 or any)"
            )),
        }
    }
}

/// A listener's PROXY protocol settings.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProxyConfig {
    /// The versions accepted.
    pub protocol: ProxyProtocol,
    /// Networks the balancer connects from; any other peer is closed at once (PX-2). Empty:
    /// every connection is refused, since no proxy is trusted.
    pub trusted: Vec<Cidr>,
    /// How long the complete header may take: 5 s (Postfix `smtpd_upstream_proxy_timeout`;
    /// at least 3 s covers a TCP retransmit, PX-4).
    pub timeout: Duration,
    /// The largest v2 length field (address block and TLVs) accepted: 1024 octets (choice,
    /// PX-8). Values below 216 (a UNIX address block) are raised to it.
    pub max_length: usize,
}

impl ProxyConfig {
    /// The defaults for `protocol`, trusting the proxies in `trusted`.
    pub fn new(protocol: ProxyProtocol, trusted: Vec<Cidr>) -> Self {
        Self {
            protocol,
            trusted,
            timeout: Duration::from_secs(5),
            max_length: 1024,
        }
    }

    /// Whether a connection from `peer` may send a header.
    pub fn trusts(&self, peer: IpAddr) -> bool {
        self.trusted.iter().any(|net| net.contains(peer))
    }

    /// The length cap in effect (see [`max_length`](Self::max_length)).
    #[cfg_attr(not(feature = "rustls"), allow(dead_code))]
    pub(crate) fn length_cap(&self) -> usize {
        self.max_length.clamp(parse::UNIX_BLOCK, u16::MAX as usize)
    }
}

/// A decoded PROXY header: the addresses of the client's original connection, and the TLVs
/// this crate exposes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProxyHeader {
    /// 1 or 2.
    pub version: u8,
    /// The original client (v1 `TCP4`/`TCP6`, v2 PROXY over TCP); `None` for v1 `UNKNOWN`,
    /// v2 `LOCAL` (the balancer's own health check) and families carried as UNSPEC
    /// (UDP, UNIX): the socket addresses are kept.
    pub source: Option<SocketAddr>,
    /// The address the client connected to, whenever `source` is given.
    pub destination: Option<SocketAddr>,
    /// A v2 `LOCAL` command: the balancer speaking for itself (health checks).
    pub local: bool,
    /// TLV `UNIQUE_ID` (at most 128 bytes), for log correlation.
    pub unique_id: Option<Vec<u8>>,
    /// TLV `AUTHORITY` (the SNI the client sent to the balancer), when printable UTF-8.
    /// For logs only: never used to choose our certificate.
    pub authority: Option<String>,
    /// TLV `SSL` said the client used TLS **to the balancer**. It is not this server's TLS:
    /// it never counts for REQUIRETLS, `ESMTPS` or a client certificate.
    pub client_tls: bool,
}

/// An IP network in CIDR notation (`192.0.2.0/24`, `2001:db8::/32`, or one address). An
/// IPv4-mapped IPv6 peer (`::ffff:192.0.2.7`) matches as its IPv4 address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// The network of `addr` with `prefix` leading bits; `None` when `prefix` is longer than
    /// the address.
    pub fn new(addr: IpAddr, prefix: u8) -> Option<Self> {
        let bits = if addr.is_ipv4() { 32 } else { 128 };
        (prefix <= bits).then_some(Self { addr, prefix })
    }

    /// Whether `ip` is inside the network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = String;

    /// `address/prefix`, or an address alone (all its bits).
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("not an IP network: {s:?} (expected e.g. 192.0.2.0/24)");
        let (addr, prefix) = match s.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (s, None),
        };
        let addr = IpAddr::from_str(addr).map_err(|_| bad())?;
        let addr = addr.to_canonical();
        let full = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().map_err(|_| bad())?,
            None => full,
        };
        Self::new(addr, prefix).ok_or_else(bad)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// The PROXY stage of one connection: the header reader and its deadline.
#[derive(Debug)]
pub(crate) struct Stage {
    reader: HeaderReader,
    deadline: Instant,
}

/// What feeding the stage gave.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// More bytes are needed.
    Incomplete,
    /// The header, and how many of the bytes fed in this call it took.
    Done(ProxyHeader, usize),
    /// Not a valid header: close without a reply.
    Invalid(ProxyError),
}

impl Stage {
    /// The stage for a connection accepted at `now`.
    #[cfg_attr(not(feature = "rustls"), allow(dead_code))]
    pub(crate) fn new(config: &ProxyConfig, now: Instant) -> Self {
        Self {
            reader: HeaderReader::new(config.protocol, config.length_cap()),
            deadline: now + config.timeout,
        }
    }

    /// When the header must be complete.
    pub(crate) fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Feeds socket bytes.
    pub(crate) fn feed(&mut self, bytes: &[u8]) -> Outcome {
        match self.reader.feed(bytes) {
            (_, None) => Outcome::Incomplete,
            (taken, Some(Ok(header))) => Outcome::Done(header, taken),
            (_, Some(Err(error))) => Outcome::Invalid(error),
        }
    }
}

#[cfg(test)]
mod tests;
