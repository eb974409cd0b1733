//! A small authoritative DNS server on a loopback UDP port, for the relay's MX tests: MX,
//! A and AAAA records from a [`Zone`], NXDOMAIN for names it does not know, SERVFAIL for
//! names marked failing. Enough of RFC 1035 for a stub resolver; nothing else.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

const MX: u16 = 15;
const A: u16 = 1;
const AAAA: u16 = 28;

/// The records the server answers with.
#[derive(Clone, Debug, Default)]
pub struct Zone {
    records: HashMap<String, Vec<(u16, Vec<u8>)>>,
    failing: HashSet<String>,
}

fn key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// `name` in DNS label form (uncompressed); the root is a single zero byte.
fn labels(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for label in name
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
    {
        out.push(u8::try_from(label.len()).unwrap_or(63));
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out
}

impl Zone {
    /// An empty zone.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `MX preference exchange` to `name` (`"."` for a null MX).
    #[must_use]
    pub fn mx(mut self, name: &str, preference: u16, exchange: &str) -> Self {
        let mut data = preference.to_be_bytes().to_vec();
        data.extend(labels(exchange));
        self.records.entry(key(name)).or_default().push((MX, data));
        self
    }

    /// Adds an A or AAAA record.
    ///
    /// # Panics
    /// If `ip` is not an IP address.
    #[must_use]
    pub fn addr(mut self, name: &str, ip: &str) -> Self {
        let record = match ip.parse::<IpAddr>().unwrap_or_else(|e| panic!("{ip}: {e}")) {
            IpAddr::V4(v4) => (A, v4.octets().to_vec()),
            IpAddr::V6(v6) => (AAAA, v6.octets().to_vec()),
        };
        self.records.entry(key(name)).or_default().push(record);
        self
    }

    /// Answers SERVFAIL for every query about `name`.
    #[must_use]
    pub fn servfail(mut self, name: &str) -> Self {
        self.failing.insert(key(name));
        self
    }

    /// The response to one query packet; `None` for a packet that is not a query.
    fn answer(&self, query: &[u8]) -> Option<Vec<u8>> {
        if query.len() < 12 || query[2] & 0x80 != 0 {
            return None;
        }
        // The question: labels up to the root, then type and class.
        let mut pos = 12;
        let mut name = Vec::new();
        loop {
            let len = usize::from(*query.get(pos)?);
            pos += 1;
            if len == 0 {
                break;
            }
            if len > 63 {
                return None;
            }
            name.push(String::from_utf8_lossy(query.get(pos..pos + len)?).to_ascii_lowercase());
            pos += len;
        }
        let qtype = u16::from_be_bytes([*query.get(pos)?, *query.get(pos + 1)?]);
        let question_end = pos + 4;
        let question = query.get(12..question_end)?;
        let name = name.join(".");
        let (rcode, answers): (u8, Vec<&(u16, Vec<u8>)>) = if self.failing.contains(&name) {
            (2, Vec::new())
        } else {
            match self.records.get(&name) {
                None => (3, Vec::new()),
                Some(records) => (0, records.iter().filter(|(t, _)| *t == qtype).collect()),
            }
        };
        let mut out = Vec::with_capacity(512);
        out.extend_from_slice(&query[0..2]);
        // QR, opcode 0, AA, RD copied; RA; rcode.
        out.push(0x84 | (query[2] & 0x01));
        out.push(0x80 | rcode);
        out.extend_from_slice(&1u16.to_be_bytes());
        out.extend_from_slice(&u16::try_from(answers.len()).unwrap_or(0).to_be_bytes());
        out.extend_from_slice(&[0, 0, 0, 0]);
        out.extend_from_slice(question);
        for (rtype, data) in answers {
            out.extend_from_slice(&[0xC0, 12]);
            out.extend_from_slice(&rtype.to_be_bytes());
            out.extend_from_slice(&1u16.to_be_bytes());
            out.extend_from_slice(&60u32.to_be_bytes());
            out.extend_from_slice(&u16::try_from(data.len()).unwrap_or(0).to_be_bytes());
            out.extend_from_slice(data);
        }
        Some(out)
    }
}

/// The running server; stops when dropped.
pub struct TestDns {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl TestDns {
    /// Serves `zone` on an ephemeral UDP port of 127.0.0.1.
    ///
    /// # Panics
    /// If it cannot bind.
    pub fn start(zone: Zone) -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("DNS bind: {e}"));
        let addr = socket
            .local_addr()
            .unwrap_or_else(|e| panic!("DNS local_addr: {e}"));
        let _ = socket.set_read_timeout(Some(Duration::from_millis(100)));
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while !stopped.load(Ordering::SeqCst) {
                let Ok((n, from)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                if let Some(reply) = buf.get(..n).and_then(|q| zone.answer(q)) {
                    let _ = socket.send_to(&reply, from);
                }
            }
        });
        Self { addr, stop }
    }

    /// The server's address, for `relay --dns-server`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for TestDns {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_mx_a_nxdomain_and_servfail() {
        let zone = Zone::new()
            .mx("y.example", 10, "mx.y.example")
            .addr("mx.y.example", "127.0.0.1")
            .servfail("bad.example");
        let query = |name: &str, qtype: u16| {
            let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
            q.extend(labels(name));
            q.extend_from_slice(&qtype.to_be_bytes());
            q.extend_from_slice(&1u16.to_be_bytes());
            zone.answer(&q).unwrap()
        };
        let mx = query("Y.example", MX);
        assert_eq!(mx[3] & 0x0f, 0);
        assert_eq!(u16::from_be_bytes([mx[6], mx[7]]), 1);
        assert!(mx.ends_with(&[
            0, 10, 2, b'm', b'x', 1, b'y', 7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 0
        ]));
        let a = query("mx.y.example", A);
        assert!(a.ends_with(&[0, 4, 127, 0, 0, 1]));
        assert_eq!(
            u16::from_be_bytes([query("mx.y.example", AAAA)[6], 0]),
            0,
            "NoData"
        );
        assert_eq!(query("nowhere.example", MX)[3] & 0x0f, 3);
        assert_eq!(query("bad.example", MX)[3] & 0x0f, 2);
    }
}
