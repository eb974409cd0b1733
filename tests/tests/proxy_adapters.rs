//! The PROXY stage and XCLIENT through both adapters' `serve` (`manual::proxy` PX-3, PX-11,
//! PX-12: the same core code for tokio and blocking sockets): the handler's `connect`
//! waits for the header and sees the real client, `xclient` sees the new one, and a
//! connection closed in the PROXY stage reaches no handler method.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use smtp_proto::tls::{Endpoint, TlsMode};
use smtp_proto::{
    CloseReason, ConnectionInfo, Decision, ProxyHeader, ProxyProtocol, Reply, Xclient,
};
use smtp_proto_tests::proxied::{V1_TCP4, balancer, listener_addr, proxy_config};

type Log = Arc<Mutex<Vec<String>>>;

/// Records the calls; refuses the connection when `refuse` is set.
struct Recorder {
    log: Log,
    refuse: bool,
}

impl Recorder {
    fn note(&self, entry: String) {
        self.log.lock().unwrap().push(entry);
    }
    fn connected(&self, info: &ConnectionInfo) -> Decision {
        self.note(format!("connect {} via {:?}", info.peer, info.proxy));
        if self.refuse {
            return Err(Reply::new(554, "Not from you").unwrap());
        }
        Ok(())
    }
}

impl smtp_proto_tokio::Handler for Recorder {
    async fn proxy_header(&mut self, header: &ProxyHeader) {
        self.note(format!("proxy v{} {:?}", header.version, header.source));
    }
    async fn connect(&mut self, info: &ConnectionInfo) -> Decision {
        self.connected(info)
    }
    async fn xclient(&mut self, _attributes: &Xclient, info: &ConnectionInfo) {
        self.note(format!("xclient {}", info.peer));
    }
    async fn closed(&mut self, reason: CloseReason) {
        self.note(format!("closed {reason:?}"));
    }
}

impl smtp_proto_blocking::Handler for Recorder {
    fn proxy_header(&mut self, header: &ProxyHeader) {
        self.note(format!("proxy v{} {:?}", header.version, header.source));
    }
    fn connect(&mut self, info: &ConnectionInfo) -> Decision {
        self.connected(info)
    }
    fn xclient(&mut self, _attributes: &Xclient, info: &ConnectionInfo) {
        self.note(format!("xclient {}", info.peer));
    }
    fn closed(&mut self, reason: CloseReason) {
        self.note(format!("closed {reason:?}"));
    }
}

fn endpoint() -> Endpoint {
    let mut config = proxy_config(ProxyProtocol::Any, &["127.0.0.1"]);
    config.xclient = vec!["127.0.0.1".parse().unwrap()];
    Endpoint::new(Arc::new(config), TlsMode::Off)
}

/// Runs one session on the tokio adapter or the blocking one, over loopback TCP, with
/// `info` naming [`balancer`] as the socket peer. The client sends each step's bytes, then
/// reads lines up to one starting with the step's prefix (to the end of the stream for
/// `""`). Returns what the client read and the handler's log.
fn session(blocking: bool, steps: &[(&[u8], &str)], refuse: bool) -> (String, Vec<String>) {
    let log = Log::default();
    let handler = Recorder {
        log: log.clone(),
        refuse,
    };
    let info = ConnectionInfo::new(balancer(), listener_addr());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        if blocking {
            let _ = smtp_proto_blocking::serve(stream, handler, &endpoint(), info);
        } else {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                stream.set_nonblocking(true).unwrap();
                let stream = tokio::net::TcpStream::from_std(stream).unwrap();
                let _ = smtp_proto_tokio::serve(stream, handler, &endpoint(), info).await;
            });
        }
    });
    let client = TcpStream::connect(addr).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut reader = BufReader::new(client.try_clone().unwrap());
    let mut writer = client;
    let mut received = String::new();
    for (bytes, until) in steps {
        writer.write_all(bytes).unwrap();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
            received.push_str(&line);
            if !until.is_empty() && line.starts_with(until) {
                break;
            }
        }
    }
    server.join().unwrap();
    let log = log.lock().unwrap().clone();
    (received, log)
}

#[test]
fn real_client_reaches_connect_and_xclient() {
    for blocking in [false, true] {
        let (out, log) = session(
            blocking,
            &[
                (V1_TCP4, "220 "),
                (b"EHLO c\r\n", "250 "),
                (b"XCLIENT ADDR=192.0.2.99\r\n", "220 "),
                (b"QUIT\r\n", ""),
            ],
            false,
        );
        assert!(
            out.starts_with("220 mx.example ESMTP\r\n"),
            "{blocking}: {out}"
        );
        assert!(out.contains("XCLIENT NAME ADDR"), "{blocking}: {out}");
        assert!(
            out.ends_with("220 mx.example ESMTP\r\n221 2.0.0 Bye\r\n"),
            "{blocking}: {out}"
        );
        assert_eq!(
            log,
            [
                "proxy v1 Some(192.0.2.7:40000)",
                "connect 192.0.2.7:40000 via Some(127.0.0.1:50000)",
                "xclient 192.0.2.99:40000",
                "closed Quit",
            ],
            "{blocking}"
        );
    }
}

#[test]
fn malformed_header_reaches_no_handler_method() {
    for blocking in [false, true] {
        let bad: &[u8] = b"PROXY TCP4 192.0.2.07 198.51.100.1 40000 25\r\n";
        let (out, log) = session(blocking, &[(bad, "")], false);
        assert_eq!((out.as_str(), log.len()), ("", 0), "{blocking}: {log:?}");
    }
}

#[test]
fn connect_refusal_after_the_header() {
    for blocking in [false, true] {
        let (out, log) = session(blocking, &[(V1_TCP4, "")], true);
        // The refusal takes the greeting's place: no 220 ever left.
        assert_eq!(out, "554 5.0.0 Not from you\r\n", "{blocking}");
        assert_eq!(log[1], "connect 192.0.2.7:40000 via Some(127.0.0.1:50000)");
        assert_eq!(log[2], "closed Refused");
    }
}
