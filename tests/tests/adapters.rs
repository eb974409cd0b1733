//! The same session tests against both adapters: `smtp-proto-tokio` and
//! `smtp-proto-blocking`, each serving a recording handler on loopback sockets.
//!
//! Every scenario is a function of one [`Server`]; the `adapter_tests!` macro instantiates
//! each for both adapters, so a behaviour cannot pass in one and be missing in the other.
#![allow(clippy::unwrap_used)]

use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use bytes::Bytes;
use smtp_proto::tls::{Endpoint, TlsMode};
use smtp_proto::{
    AbortReason, AuthData, CloseReason, ConnectionInfo, Decision, Domain, MessageInfo, Reply,
    ServerConfig, TlsInfo,
};
use smtp_proto_tests::{SmtpClient, now};

/// What the recording handler saw, shared with the test.
type Log = Arc<Mutex<Vec<String>>>;

/// How the handler behaves.
#[derive(Clone, Default)]
struct Behaviour {
    /// Refuse connections with this code.
    refuse_connect: Option<u16>,
    /// Refuse messages with this code.
    refuse_message: Option<u16>,
    /// Sleep this long before deciding about a message.
    message_delay: Duration,
}

/// A handler that writes down every call, for both adapters.
struct Recorder {
    log: Log,
    behaviour: Behaviour,
    content: Vec<u8>,
}

impl Recorder {
    fn note(&self, entry: String) {
        self.log.lock().unwrap().push(entry);
    }

    fn on_connect(&mut self) -> Decision {
        self.note("connect".into());
        match self.behaviour.refuse_connect {
            Some(code) => Err(Reply::new(code, "go away").unwrap()),
            None => Ok(()),
        }
    }

    fn on_message(&mut self, info: &MessageInfo) -> Decision {
        thread::sleep(self.behaviour.message_delay);
        let content = String::from_utf8_lossy(&self.content).into_owned();
        self.note(format!("message {} {content:?}", info.size));
        self.content.clear();
        match self.behaviour.refuse_message {
            Some(code) => Err(Reply::new(code, "not today").unwrap()),
            None => Ok(()),
        }
    }
}

impl smtp_proto_tokio::Handler for Recorder {
    async fn connect(&mut self, _info: &ConnectionInfo) -> Decision {
        self.on_connect()
    }
    async fn tls_established(&mut self, info: &TlsInfo) {
        self.note(format!("tls {}", info.protocol.as_deref().unwrap_or("?")));
    }
    async fn ehlo(&mut self, domain: &Domain) -> Decision {
        self.note(format!("ehlo {domain}"));
        Ok(())
    }
    async fn data_chunk(&mut self, chunk: Bytes) {
        self.content.extend_from_slice(&chunk);
    }
    async fn message(&mut self, info: &MessageInfo) -> Decision {
        // A blocking sleep is fine here: the test runtime has threads to spare.
        self.on_message(info)
    }
    async fn message_aborted(&mut self, reason: AbortReason) {
        self.note(format!("aborted {reason:?}"));
    }
    async fn auth(&mut self, _mechanism: &str, _data: &AuthData) -> Decision {
        Err(Reply::authentication_failed())
    }
    async fn close(&mut self, reason: CloseReason) {
        self.note(format!("close {reason:?}"));
    }
}

impl smtp_proto_blocking::Handler for Recorder {
    fn connect(&mut self, _info: &ConnectionInfo) -> Decision {
        self.on_connect()
    }
    fn tls_established(&mut self, info: &TlsInfo) {
        self.note(format!("tls {}", info.protocol.as_deref().unwrap_or("?")));
    }
    fn ehlo(&mut self, domain: &Domain) -> Decision {
        self.note(format!("ehlo {domain}"));
        Ok(())
    }
    fn data_chunk(&mut self, chunk: Bytes) {
        self.content.extend_from_slice(&chunk);
    }
    fn message(&mut self, info: &MessageInfo) -> Decision {
        self.on_message(info)
    }
    fn message_aborted(&mut self, reason: AbortReason) {
        self.note(format!("aborted {reason:?}"));
    }
    fn close(&mut self, reason: CloseReason) {
        self.note(format!("close {reason:?}"));
    }
}

#[derive(Clone, Copy, Debug)]
enum Adapter {
    Tokio,
    Blocking,
}

/// What a scenario configures.
#[derive(Clone)]
struct Setup {
    config: ServerConfig,
    tls: Tls,
    max_connections: usize,
    behaviour: Behaviour,
}

#[derive(Clone, Copy)]
enum Tls {
    Off,
    Starttls,
    Implicit,
}

impl Setup {
    fn new() -> Self {
        let mut config = ServerConfig::new("mx.example");
        config.extensions.starttls = true;
        Self {
            config,
            tls: Tls::Starttls,
            max_connections: 100,
            behaviour: Behaviour::default(),
        }
    }

    fn endpoint(&self) -> Endpoint {
        let mut config = self.config.clone();
        let mode = match self.tls {
            Tls::Off => {
                config.extensions.starttls = false;
                TlsMode::Off
            }
            Tls::Starttls => TlsMode::StartTls(server_tls()),
            Tls::Implicit => TlsMode::Implicit(server_tls()),
        };
        Endpoint::new(Arc::new(config), mode).unwrap()
    }
}

fn server_tls() -> Arc<rustls::ServerConfig> {
    let key = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = rustls::pki_types::CertificateDer::from(key.cert.der().to_vec());
    let private = rustls::pki_types::PrivateKeyDer::Pkcs8(
        rustls::pki_types::PrivatePkcs8KeyDer::from(key.key_pair.serialize_der()),
    );
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert], private)
    .unwrap();
    Arc::new(config)
}

/// A running server of either adapter.
struct Server {
    addr: SocketAddr,
    log: Log,
    stop: Box<dyn FnOnce() + Send>,
    done: std::sync::mpsc::Receiver<()>,
}

impl Server {
    fn start(adapter: Adapter, setup: &Setup) -> Self {
        let socket = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = socket.local_addr().unwrap();
        let log: Log = Arc::default();
        let endpoint = setup.endpoint();
        let (done_tx, done) = std::sync::mpsc::channel();
        let make = {
            let log = log.clone();
            let behaviour = setup.behaviour.clone();
            move |_: &ConnectionInfo| Recorder {
                log: log.clone(),
                behaviour: behaviour.clone(),
                content: Vec::new(),
            }
        };
        let limit = setup.max_connections;
        let grace = Duration::from_secs(5);
        let stop: Box<dyn FnOnce() + Send> = match adapter {
            Adapter::Tokio => {
                let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
                thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_multi_thread()
                        .worker_threads(2)
                        .enable_all()
                        .build()
                        .unwrap();
                    runtime.block_on(async move {
                        socket.set_nonblocking(true).unwrap();
                        let socket = tokio::net::TcpListener::from_std(socket).unwrap();
                        smtp_proto_tokio::Listener::new(make)
                            .listen(socket, endpoint)
                            .max_connections(limit)
                            .grace_period(grace)
                            .run(async {
                                let _ = stop_rx.await;
                            })
                            .await
                            .unwrap();
                    });
                    let _ = done_tx.send(());
                });
                Box::new(move || {
                    let _ = stop_tx.send(());
                })
            }
            Adapter::Blocking => {
                let listener = smtp_proto_blocking::Listener::new(make)
                    .listen(socket, endpoint)
                    .max_connections(limit)
                    .grace_period(grace);
                let handle = listener.shutdown_handle();
                thread::spawn(move || {
                    listener.run().unwrap();
                    let _ = done_tx.send(());
                });
                Box::new(move || handle.shutdown())
            }
        };
        Self {
            addr,
            log,
            stop,
            done,
        }
    }

    /// Asks for a graceful shutdown and waits (bounded) for the listener to finish.
    fn shutdown(self) -> Vec<String> {
        (self.stop)();
        self.done
            .recv_timeout(Duration::from_secs(15))
            .expect("the listener stops within its grace period");
        self.log.lock().unwrap().clone()
    }

    /// The log once it has at least `n` entries (the handler runs on another thread).
    fn log_after(&self, n: usize) -> Vec<String> {
        let deadline = now() + Duration::from_secs(10);
        loop {
            let log = self.log.lock().unwrap().clone();
            if log.len() >= n || now() >= deadline {
                return log;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
}

const MESSAGE: &[u8] = b"Subject: t\r\n\r\n.leading dot\r\nbody\r\n";

fn plain_session_delivers_a_message(adapter: Adapter) {
    let server = Server::start(adapter, &Setup::new());
    let mut client = SmtpClient::connect_ehlo(server.addr);
    let reply = client.deliver("a@x.example", &["b@y.example"], MESSAGE);
    assert_eq!(reply.code, 250);
    client.quit();
    let log = server.log_after(4);
    assert_eq!(
        log,
        [
            "connect",
            "ehlo client.example",
            "message 34 \"Subject: t\\r\\n\\r\\n.leading dot\\r\\nbody\\r\\n\"",
            "close Quit"
        ]
    );
    server.shutdown();
}

fn pipelined_replies_arrive_together(adapter: Adapter) {
    let server = Server::start(adapter, &Setup::new());
    let mut client = SmtpClient::connect_ehlo(server.addr);
    client.send(b"MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nRCPT TO:<c@y>\r\nDATA\r\n");
    let codes: Vec<u16> = (0..4).map(|_| client.read_reply().code).collect();
    assert_eq!(codes, [250, 250, 250, 354]);
    client.send(b"x\r\n.\r\nQUIT\r\n");
    assert_eq!(client.read_reply().code, 250);
    assert_eq!(client.read_reply().code, 221);
    server.shutdown();
}

fn starttls_with_injection_drops_the_injected_bytes(adapter: Adapter) {
    let server = Server::start(adapter, &Setup::new());
    let mut client = SmtpClient::connect_ehlo(server.addr);
    // TLS-12: "STARTTLS\r\nX" in one write; the X must never reach rustls or SMTP.
    client.send(b"STARTTLS\r\nNOOP\r\n");
    assert_eq!(client.read_reply().code, 220);
    client
        .try_upgrade_tls()
        .expect("handshake after the dropped plaintext");
    let early = client.read_for(Duration::from_millis(300));
    assert!(early.is_empty(), "no reply to the injected NOOP: {early:?}");
    let ehlo = client.ehlo("client.example");
    assert!(!ehlo.has_extension("STARTTLS"));
    let reply = client.deliver("a@x.example", &["b@y.example"], MESSAGE);
    assert_eq!(reply.code, 250);
    client.quit();
    let log = server.log_after(6);
    assert!(log.contains(&"tls TLSv1.3".to_owned()), "{log:?}");
    server.shutdown();
}

fn implicit_tls_greets_after_the_handshake(adapter: Adapter) {
    let mut setup = Setup::new();
    setup.tls = Tls::Implicit;
    let server = Server::start(adapter, &setup);
    let mut client = SmtpClient::connect_tls(server.addr);
    assert_eq!(client.expect_greeting().code, 220);
    let ehlo = client.ehlo("client.example");
    assert!(!ehlo.has_extension("STARTTLS"));
    assert_eq!(
        client
            .deliver("a@x.example", &["b@y.example"], MESSAGE)
            .code,
        250
    );
    client.quit();
    server.shutdown();
}

fn command_timeout_sends_421(adapter: Adapter) {
    let mut setup = Setup::new();
    setup.config.timeouts.command = Duration::from_millis(500);
    let server = Server::start(adapter, &setup);
    let mut client = SmtpClient::connect_ehlo(server.addr);
    let started = now();
    let reply = client.read_reply();
    assert_eq!(reply.code, 421, "{}", reply.text());
    assert!(reply.text().contains("4.4.2"), "{}", reply.text());
    assert!(now() - started >= Duration::from_millis(400));
    let log = server.log_after(3);
    assert_eq!(log.last().map(String::as_str), Some("close Timeout"));
    server.shutdown();
}

fn connection_limit_refuses_with_421(adapter: Adapter) {
    let mut setup = Setup::new();
    setup.max_connections = 1;
    let server = Server::start(adapter, &setup);
    let mut first = SmtpClient::connect_ehlo(server.addr);
    let mut second = SmtpClient::connect(server.addr);
    let reply = second.read_reply();
    assert_eq!(reply.code, 421);
    assert!(reply.text().contains("4.3.2"), "{}", reply.text());
    assert!(second.read_for(Duration::from_millis(500)).is_empty());
    first.expect("NOOP", 250);
    first.quit();
    server.shutdown();
}

fn graceful_shutdown_finishes_the_message_in_flight(adapter: Adapter) {
    let mut setup = Setup::new();
    setup.behaviour.message_delay = Duration::from_millis(700);
    let server = Server::start(adapter, &setup);
    let mut idle = SmtpClient::connect_ehlo(server.addr);
    let mut busy = SmtpClient::connect_ehlo(server.addr);
    busy.expect("MAIL FROM:<a@x>", 250);
    busy.expect("RCPT TO:<b@y>", 250);
    busy.expect("DATA", 354);
    busy.send(b"in flight\r\n.\r\n");
    thread::sleep(Duration::from_millis(200));
    let addr = server.addr;
    let log = thread::scope(|scope| {
        let stopping = scope.spawn(|| server.shutdown());
        assert_eq!(
            idle.read_reply().code,
            421,
            "the idle session is told at once"
        );
        let verdict = busy.read_reply();
        assert_eq!(verdict.code, 250, "the message in flight is acknowledged");
        let closing = busy.read_reply();
        assert_eq!(closing.code, 421);
        stopping.join().unwrap()
    });
    assert!(
        log.contains(&"message 11 \"in flight\\r\\n\"".to_owned()),
        "{log:?}"
    );
    assert!(
        SmtpClient::try_connect(addr).is_err(),
        "listening stopped with the shutdown"
    );
}

fn handler_refusals_reach_the_client(adapter: Adapter) {
    let mut setup = Setup::new();
    setup.behaviour.refuse_message = Some(554);
    let server = Server::start(adapter, &setup);
    let mut client = SmtpClient::connect_ehlo(server.addr);
    assert_eq!(client.deliver("a@x", &["b@y"], MESSAGE).code, 554);
    client.quit();
    server.shutdown();

    let mut setup = Setup::new();
    setup.behaviour.refuse_connect = Some(554);
    let server = Server::start(adapter, &setup);
    let mut client = SmtpClient::connect(server.addr);
    assert_eq!(client.read_reply().code, 554);
    assert!(client.read_for(Duration::from_millis(300)).is_empty());
    server.shutdown();
}

fn vanishing_client_aborts_the_message(adapter: Adapter) {
    let server = Server::start(adapter, &Setup::new());
    let mut client = SmtpClient::connect_ehlo(server.addr);
    client.expect("MAIL FROM:<a@x>", 250);
    client.expect("RCPT TO:<b@y>", 250);
    client.expect("DATA", 354);
    client.send(b"half a mess");
    drop(client);
    let log = server.log_after(4);
    assert_eq!(
        &log[2..],
        ["aborted SessionEnded", "close PeerEof"],
        "{log:?}"
    );
    server.shutdown();
}

fn auth_default_refuses_with_535(adapter: Adapter) {
    let mut setup = Setup::new();
    setup.tls = Tls::Off;
    setup.config.extensions.auth_mechanisms = vec!["PLAIN".into()];
    setup.config.auth_requires_tls = false;
    let server = Server::start(adapter, &setup);
    let mut client = SmtpClient::connect_ehlo(server.addr);
    let reply = client.command("AUTH PLAIN AHVzZXIAcGFzcw==");
    assert_eq!(reply.code, 535);
    assert!(reply.text().contains("5.7.8"), "{}", reply.text());
    client.quit();
    server.shutdown();
}

macro_rules! adapter_tests {
    ($($scenario:ident),* $(,)?) => {
        mod tokio_adapter {
            $(#[test] fn $scenario() { super::$scenario(super::Adapter::Tokio); })*
        }
        mod blocking_adapter {
            $(#[test] fn $scenario() { super::$scenario(super::Adapter::Blocking); })*
        }
    };
}

adapter_tests!(
    plain_session_delivers_a_message,
    pipelined_replies_arrive_together,
    starttls_with_injection_drops_the_injected_bytes,
    implicit_tls_greets_after_the_handshake,
    command_timeout_sends_421,
    connection_limit_refuses_with_421,
    graceful_shutdown_finishes_the_message_in_flight,
    handler_refusals_reach_the_client,
    vanishing_client_aborts_the_message,
    auth_default_refuses_with_535,
);
