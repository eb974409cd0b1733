//! PROXY protocol helpers: headers built byte by byte (v1 lines, v2 binary with TLVs),
//! and a whole server [`Connection`] (PROXY stage, TLS layer, machine) driven in memory
//! read by read, as an adapter would (`manual::proxy`; the suites `tests/tests/proxy.rs`,
//! `xclient.rs` and `haproxy.rs`).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use smtp_proto::connection::{Connection, ConnectionInfo, Next};
use smtp_proto::tls::{Endpoint, TlsMode};
use smtp_proto::{Cidr, ProxyConfig, ProxyProtocol, Server, ServerConfig};

use crate::transcript::summarize;

/// The v2 signature.
pub const SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";

/// The socket peer of the in-memory connections: the balancer, on loopback.
pub fn balancer() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 50000))
}

/// The listener's own address in the in-memory connections.
pub fn listener_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 2525))
}

/// `manual::proxy`'s PXV1-01 line: client 192.0.2.7:40000, local 198.51.100.1:25.
pub const V1_TCP4: &[u8] = b"PROXY TCP4 192.0.2.7 198.51.100.1 40000 25\r\n";

/// A v2 header: signature, version/command byte, family byte, the body with its length.
///
/// # Panics
/// If `body` is longer than 65535 bytes.
pub fn v2(ver_cmd: u8, family: u8, body: &[u8]) -> Vec<u8> {
    let len = u16::try_from(body.len()).unwrap_or_else(|_| panic!("v2 body too long"));
    let mut out = SIGNATURE.to_vec();
    out.extend_from_slice(&[ver_cmd, family]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// PXV2-01's address block (what swaks sends): 192.0.2.7:40000 → 198.51.100.1:25.
pub const INET_BLOCK: [u8; 12] = [192, 0, 2, 7, 198, 51, 100, 1, 0x9c, 0x40, 0, 25];

/// PXV2-01: a v2 PROXY header over TCP/IPv4.
pub fn v2_tcp4() -> Vec<u8> {
    v2(0x21, 0x11, &INET_BLOCK)
}

/// A v2 header for `source` → `destination` (both IPv4 or both IPv6), TCP.
///
/// # Panics
/// If the families differ.
pub fn v2_for(source: SocketAddr, destination: SocketAddr) -> Vec<u8> {
    match (source.ip(), destination.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let body = [
                &s.octets()[..],
                &d.octets(),
                &source.port().to_be_bytes(),
                &destination.port().to_be_bytes(),
            ]
            .concat();
            v2(0x21, 0x11, &body)
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let body = [
                &s.octets()[..],
                &d.octets(),
                &source.port().to_be_bytes(),
                &destination.port().to_be_bytes(),
            ]
            .concat();
            v2(0x21, 0x21, &body)
        }
        _ => panic!("mixed address families"),
    }
}

/// A listener configuration (`mx.example`) with a PROXY stage accepting `protocol` from
/// `trusted`.
///
/// # Panics
/// If a network does not parse.
pub fn proxy_config(protocol: ProxyProtocol, trusted: &[&str]) -> ServerConfig {
    let mut config = ServerConfig::new("mx.example");
    let trusted = trusted
        .iter()
        .map(|net| net.parse::<Cidr>().unwrap_or_else(|e| panic!("{e}")))
        .collect();
    config.proxy = Some(ProxyConfig::new(protocol, trusted));
    config
}

/// One read, or time passing.
#[derive(Clone, Debug)]
pub enum Step {
    /// Bytes from the socket, at the current time.
    Read(Vec<u8>),
    /// Time passes; the timer is serviced.
    Sleep(Duration),
    /// The peer closes.
    Eof,
}

/// What a driven connection did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Every byte written to the socket.
    pub written: Vec<u8>,
    /// The events, summarised ([`summarize`]), `ProxyHeader` and `Xclient` included.
    pub events: Vec<String>,
    /// The connection's facts at the end.
    pub info: Option<ConnectionInfo>,
    /// The connection said to close.
    pub closed: bool,
}

impl Outcome {
    /// The written bytes as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.written).into_owned()
    }

    /// Closed without a byte written (the PROXY stage's refusal).
    pub fn closed_silently(&self) -> bool {
        self.closed && self.written.is_empty()
    }
}

/// An event as a log line, with the PROXY and XCLIENT events spelled out.
pub fn describe(event: &smtp_proto::Event) -> String {
    match event {
        smtp_proto::Event::ProxyHeader { header } => format!(
            "ProxyHeader v{} source={:?} destination={:?} local={}",
            header.version, header.source, header.destination, header.local
        ),
        smtp_proto::Event::Xclient { attributes } => format!("Xclient {attributes:?}"),
        other => summarize(other),
    }
}

/// Drives `connection` through `steps` from `t0` as an adapter would: events are
/// accepted, writes succeed, and the read that does not wait (the check before the
/// greeting) finds nothing, as the client waits for the greeting. Early talk is tested by
/// putting it in the same read as the header.
pub fn drive(mut connection: Connection<Server>, t0: Instant, steps: &[Step]) -> Outcome {
    let mut now = t0;
    let mut out = Outcome {
        written: Vec::new(),
        events: Vec::new(),
        info: None,
        closed: false,
    };
    let mut steps = steps.iter();
    // Bounded: every step is consumed once, and each call makes progress or ends.
    for _ in 0..100_000 {
        match connection.next(now) {
            Next::Event(event) => {
                out.events.push(describe(&event));
                if let Some(pending) = event.into_pending() {
                    let _ = connection.answer(now, pending, Ok(()));
                }
            }
            Next::Transmit { bytes, .. } => {
                out.written.extend_from_slice(bytes);
                connection.transmitted(now);
            }
            Next::Read {
                until: Some(until), ..
            } if until <= now => {
                // The read before the greeting: the client waits for it.
                connection.handle_timeout(now);
            }
            Next::Read { .. } | Next::Wait { .. } => match steps.next() {
                Some(Step::Read(bytes)) => connection.handle_input(now, bytes),
                Some(Step::Sleep(d)) => {
                    now += *d;
                    connection.handle_timeout(now);
                }
                Some(Step::Eof) => connection.handle_eof(now),
                None => break,
            },
            Next::Close => {
                out.closed = true;
                break;
            }
        }
    }
    out.info = connection.info().copied();
    out
}

/// A plaintext endpoint for `config`, a connection from `peer`, driven through `steps`.
pub fn run(config: &ServerConfig, peer: SocketAddr, t0: Instant, steps: &[Step]) -> Outcome {
    let endpoint = Endpoint::new(Arc::new(config.clone()), TlsMode::Off);
    let connection = endpoint.accept_from(t0, ConnectionInfo::new(peer, listener_addr()));
    drive(connection, t0, steps)
}

/// [`run`] with each of `reads` as one read from the balancer, at `t0`.
pub fn run_reads(config: &ServerConfig, t0: Instant, reads: &[&[u8]]) -> Outcome {
    let steps: Vec<Step> = reads.iter().map(|r| Step::Read(r.to_vec())).collect();
    run(config, balancer(), t0, &steps)
}
