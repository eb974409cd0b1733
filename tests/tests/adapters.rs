//! The same session tests against both adapters: `smtp-proto-tokio` and
//! `smtp-proto-blocking`, each serving the recording handler of `tests/src/servers.rs` on
//! loopback sockets.
//!
//! Every scenario is a function of one [`Target`]; `on_targets!` instantiates each for both
//! adapters, so a behaviour cannot pass in one and be missing in the other.
#![allow(clippy::unwrap_used)]

use std::net::TcpListener;
use std::thread;
use std::time::Duration;

use smtp_proto::ConnectionInfo;
use smtp_proto_tests::servers::{Setup, Target, Tls, WireServer};
use smtp_proto_tests::{SmtpClient, now, on_targets};

/// The handler's log once the `n`-th session has closed (the handler runs on another
/// thread).
fn log_after_closes(server: &WireServer, n: usize) -> Vec<String> {
    server
        .record()
        .expect("an in-process server")
        .wait_closes(n, Duration::from_secs(10))
}

const MESSAGE: &[u8] = b"Subject: t\r\n\r\n.leading dot\r\nbody\r\n";

fn plain_session_delivers_a_message(target: Target) {
    let server = WireServer::start(target, &Setup::new());
    let mut client = SmtpClient::connect_ehlo(server.addr);
    let reply = client.deliver("a@x.example", &["b@y.example"], MESSAGE);
    assert_eq!(reply.code, 250);
    client.quit();
    let log = log_after_closes(&server, 1);
    assert_eq!(
        log,
        [
            "connect",
            "ehlo client.example",
            "mail <a@x.example>",
            "rcpt <b@y.example>",
            "data_start",
            "message 34",
            "close Quit"
        ]
    );
    assert_eq!(server.take_delivered(), [MESSAGE]);
    server.shutdown();
}

fn pipelined_replies_arrive_together(target: Target) {
    let server = WireServer::start(target, &Setup::new());
    let mut client = SmtpClient::connect_ehlo(server.addr);
    client.send(b"MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nRCPT TO:<c@y>\r\nDATA\r\n");
    let codes: Vec<u16> = (0..4).map(|_| client.read_reply().code).collect();
    assert_eq!(codes, [250, 250, 250, 354]);
    client.send(b"x\r\n.\r\nQUIT\r\n");
    assert_eq!(client.read_reply().code, 250);
    assert_eq!(client.read_reply().code, 221);
    server.shutdown();
}

fn starttls_with_injection_drops_the_injected_bytes(target: Target) {
    let server = WireServer::start(target, &Setup::new());
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
    let log = log_after_closes(&server, 1);
    assert!(log.contains(&"tls TLSv1.3".to_owned()), "{log:?}");
    assert_eq!(server.take_delivered(), [MESSAGE]);
    server.shutdown();
}

fn implicit_tls_greets_after_the_handshake(target: Target) {
    let mut setup = Setup::new();
    setup.tls = Tls::Implicit;
    let server = WireServer::start(target, &setup);
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

fn command_timeout_sends_421(target: Target) {
    let mut setup = Setup::new();
    setup.config.timeouts.command = Duration::from_millis(500);
    let server = WireServer::start(target, &setup);
    let mut client = SmtpClient::connect_ehlo(server.addr);
    let started = now();
    let reply = client.read_reply();
    assert_eq!(reply.code, 421, "{}", reply.text());
    assert!(reply.text().contains("4.4.2"), "{}", reply.text());
    assert!(now() - started >= Duration::from_millis(400));
    let log = log_after_closes(&server, 1);
    assert_eq!(log.last().map(String::as_str), Some("close Timeout"));
    server.shutdown();
}

fn connection_limit_refuses_with_421(target: Target) {
    let mut setup = Setup::new();
    setup.max_connections = 1;
    let server = WireServer::start(target, &setup);
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

fn graceful_shutdown_finishes_the_message_in_flight(target: Target) {
    let mut setup = Setup::new();
    setup.message_delay = Duration::from_millis(700);
    let server = WireServer::start(target, &setup);
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
    assert!(log.contains(&"message 11".to_owned()), "{log:?}");
    assert!(
        SmtpClient::try_connect(addr).is_err(),
        "listening stopped with the shutdown"
    );
}

fn handler_refusals_reach_the_client(target: Target) {
    let mut setup = Setup::new();
    setup.refuse_message = Some(554);
    let server = WireServer::start(target, &setup);
    let mut client = SmtpClient::connect_ehlo(server.addr);
    assert_eq!(client.deliver("a@x", &["b@y"], MESSAGE).code, 554);
    client.quit();
    server.shutdown();

    let mut setup = Setup::new();
    setup.refuse_connect = Some(554);
    let server = WireServer::start(target, &setup);
    let mut client = SmtpClient::connect(server.addr);
    assert_eq!(client.read_reply().code, 554);
    assert!(client.read_for(Duration::from_millis(300)).is_empty());
    server.shutdown();
}

fn vanishing_client_aborts_the_message(target: Target) {
    let server = WireServer::start(target, &Setup::new());
    let mut client = SmtpClient::connect_ehlo(server.addr);
    client.expect("MAIL FROM:<a@x>", 250);
    client.expect("RCPT TO:<b@y>", 250);
    client.expect("DATA", 354);
    client.send(b"half a mess");
    drop(client);
    let log = log_after_closes(&server, 1);
    assert!(
        log.ends_with(&[
            "data_start".into(),
            "aborted SessionEnded".into(),
            "reset".into(),
            "close PeerEof".into()
        ]),
        "{log:?}"
    );
    server.shutdown();
}

/// Over the connection limit, an implicit-TLS listener closes without a byte (issue 15,
/// defect 2: it wrote its 421 in plaintext, which a TLS client reports as a protocol
/// error). So does a handler's refusal there.
fn implicit_tls_refusals_send_no_plaintext(target: Target) {
    let mut setup = Setup::new();
    setup.tls = Tls::Implicit;
    setup.max_connections = 1;
    let server = WireServer::start(target, &setup);
    let mut first = SmtpClient::connect_tls(server.addr);
    assert_eq!(first.expect_greeting().code, 220);
    // A client that sends nothing: not a byte before the close (was `421 4.3.2 …`).
    let mut silent = SmtpClient::connect(server.addr);
    let received = silent.expect_closed(Duration::from_secs(5));
    assert!(
        received.is_empty(),
        "plaintext on an implicit-TLS socket: {:?}",
        String::from_utf8_lossy(&received)
    );
    // A TLS client: the handshake ends with the connection, never with a record rustls
    // cannot read (InvalidData, "corrupt message", was the plaintext 421).
    let mut tls = SmtpClient::connect(server.addr);
    let error = tls
        .try_upgrade_tls()
        .expect_err("no TLS session over the limit");
    assert_ne!(error.kind(), std::io::ErrorKind::InvalidData, "{error}");
    first.expect("NOOP", 250);
    first.quit();
    server.shutdown();

    let mut setup = Setup::new();
    setup.tls = Tls::Implicit;
    setup.refuse_connect = Some(554);
    let server = WireServer::start(target, &setup);
    let mut client = SmtpClient::connect(server.addr);
    let received = client.expect_closed(Duration::from_secs(5));
    assert!(
        received.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&received)
    );
    server.shutdown();
}

/// A handler that implements nothing: every method has its default.
struct Defaults;

impl smtp_proto_tokio::Handler for Defaults {}

impl smtp_proto_blocking::Handler for Defaults {}

/// The handlers' default AUTH answer is a refusal, `535 5.7.8` (no credentials are known).
/// Served with `serve` and a handler that implements nothing, so the trait's own default
/// runs.
fn auth_default_refuses_with_535(target: Target) {
    let mut setup = Setup::new();
    setup.tls = Tls::Off;
    setup.config.extensions.auth_mechanisms = vec!["PLAIN".into()];
    setup.config.auth_requires_tls = false;
    let endpoint = setup.endpoint();
    let socket = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    let serving = thread::spawn(move || {
        let (stream, peer) = socket.accept().unwrap();
        let info = ConnectionInfo::new(peer, addr);
        match target {
            Target::Tokio => {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async {
                    stream.set_nonblocking(true).unwrap();
                    let stream = tokio::net::TcpStream::from_std(stream).unwrap();
                    smtp_proto_tokio::serve(stream, Defaults, &endpoint, info).await
                })
            }
            Target::Blocking => smtp_proto_blocking::serve(stream, Defaults, &endpoint, info),
            Target::Blackhole => unreachable!("an adapter test"),
        }
    });
    let mut client = SmtpClient::connect_ehlo(addr);
    let reply = client.command("AUTH PLAIN AHVzZXIAcGFzcw==");
    assert_eq!(reply.code, 535);
    assert!(reply.text().contains("5.7.8"), "{}", reply.text());
    client.quit();
    assert_eq!(
        serving.join().unwrap().unwrap(),
        smtp_proto::CloseReason::Quit
    );
}

on_targets!(
    [Tokio, Blocking]:
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
    implicit_tls_refusals_send_no_plaintext,
);

// ---- The tokio listener's runtimes ----------------------------------------------------

/// The tokio listener on its own runtimes, with a handler that notes which thread
/// serves each client (by the client's address) and takes `delay` over each message.
mod per_core {
    use std::collections::{HashMap, HashSet};
    use std::net::SocketAddr;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Barrier, Mutex};
    use std::thread::{self, ThreadId};
    use std::time::Duration;

    use smtp_proto::tls::{Endpoint, TlsMode};
    use smtp_proto::{CloseReason, ConnectionInfo, Decision, MessageInfo, ServerConfig};
    use smtp_proto_tests::SmtpClient;

    /// Which thread served each client.
    type Threads = Arc<Mutex<HashMap<SocketAddr, ThreadId>>>;

    struct Probe {
        threads: Threads,
        closed: Arc<AtomicUsize>,
        delay: Duration,
    }

    impl smtp_proto_tokio::Handler for Probe {
        async fn connect(&mut self, info: &ConnectionInfo) -> Decision {
            self.threads
                .lock()
                .unwrap()
                .insert(info.peer, thread::current().id());
            Ok(())
        }

        async fn message_complete(&mut self, _: &MessageInfo) -> Decision {
            tokio::time::sleep(self.delay).await;
            Ok(())
        }

        async fn closed(&mut self, _: CloseReason) {
            self.closed.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// How the listener gets its socket.
    #[derive(Clone, Copy)]
    enum Socket {
        /// `Listener::bind`: one `SO_REUSEPORT` socket per runtime.
        Bind,
        /// `Listener::listen`: one socket, shared by the runtimes.
        Listen,
    }

    struct Server {
        addr: SocketAddr,
        threads: Threads,
        closed: Arc<AtomicUsize>,
        stop: Option<tokio::sync::oneshot::Sender<()>>,
        serving: Option<thread::JoinHandle<()>>,
    }

    impl Server {
        /// Two runtimes, `limit` connections.
        fn start(socket: Socket, limit: usize, delay: Duration) -> Self {
            let threads = Threads::default();
            let closed = Arc::new(AtomicUsize::new(0));
            let endpoint = Endpoint::new(Arc::new(ServerConfig::new("mx.example")), TlsMode::Off);
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let (addr_tx, addr_rx) = std::sync::mpsc::channel();
            let for_handlers = (threads.clone(), closed.clone());
            let serving = thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async move {
                    let listener =
                        smtp_proto_tokio::Listener::new(move |_: &ConnectionInfo| Probe {
                            threads: for_handlers.0.clone(),
                            closed: for_handlers.1.clone(),
                            delay,
                        });
                    let listener = match socket {
                        Socket::Bind => listener
                            .bind("127.0.0.1:0".parse().unwrap(), endpoint)
                            .unwrap(),
                        Socket::Listen => listener.listen(
                            tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
                            endpoint,
                        ),
                    };
                    let listener = listener
                        .threads(2)
                        .max_connections(limit)
                        .grace_period(Duration::from_secs(5));
                    addr_tx.send(listener.local_addrs()[0]).unwrap();
                    listener
                        .run(async {
                            let _ = stopped.await;
                        })
                        .await
                        .unwrap();
                });
            });
            Self {
                addr: addr_rx.recv().unwrap(),
                threads,
                closed,
                stop: Some(stop),
                serving: Some(serving),
            }
        }

        fn thread_of(&self, client: &SmtpClient) -> ThreadId {
            let addr = client.tcp().local_addr().unwrap();
            self.threads.lock().unwrap()[&addr]
        }

        /// Stops it; returns once every runtime has finished.
        fn shutdown(mut self) {
            let _ = self.stop.take().unwrap().send(());
            self.serving.take().unwrap().join().unwrap();
        }
    }

    /// Greeted clients, until both runtimes serve at least one (the kernel spreads them
    /// by address: 16 tries miss one runtime with probability 2^-15).
    fn clients_on_both(server: &Server) -> Vec<SmtpClient> {
        let mut clients = Vec::new();
        let mut seen = HashSet::new();
        while seen.len() < 2 {
            assert!(clients.len() < 16, "one runtime served 16 clients in a row");
            let mut client = SmtpClient::connect(server.addr);
            assert_eq!(client.expect_greeting().code, 220);
            seen.insert(server.thread_of(&client));
            clients.push(client);
        }
        clients
    }

    /// Max 3 over two runtimes: 3 clients at once are greeted and a 4th gets 421; of 12
    /// connecting at once, exactly 3 are greeted.
    fn limit_is_exact(socket: Socket) {
        let server = Server::start(socket, 3, Duration::ZERO);
        let mut clients: Vec<_> = (0..3)
            .map(|_| {
                let mut client = SmtpClient::connect(server.addr);
                assert_eq!(client.expect_greeting().code, 220);
                client
            })
            .collect();
        let mut fourth = SmtpClient::connect(server.addr);
        let reply = fourth.read_reply();
        assert_eq!(reply.code, 421, "{}", reply.text());
        assert!(reply.text().contains("4.3.2"), "{}", reply.text());
        for client in clients.drain(..) {
            client.quit();
        }
        // The sessions end when the server reads the QUIT.
        let deadline = smtp_proto_tests::now() + Duration::from_secs(10);
        while server.closed.load(Ordering::SeqCst) < 3 {
            assert!(
                smtp_proto_tests::now() < deadline,
                "the sessions did not end"
            );
            thread::sleep(Duration::from_millis(10));
        }

        let start = Arc::new(Barrier::new(12));
        let replies: Vec<_> = (0..12)
            .map(|_| {
                let start = start.clone();
                let addr = server.addr;
                thread::spawn(move || {
                    start.wait();
                    let mut client = SmtpClient::connect(addr);
                    // Past as many refusals again as the limit, a connection may be
                    // closed without a reply.
                    let code = client.try_read_reply().map_or(0, |reply| reply.code);
                    (code, client)
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect();
        let greeted = replies.iter().filter(|(code, _)| *code == 220).count();
        assert_eq!(
            greeted,
            3,
            "codes: {:?}",
            replies.iter().map(|r| r.0).collect::<Vec<_>>()
        );
        assert!(replies.iter().all(|(code, _)| [220, 421, 0].contains(code)));
        drop(replies);
        server.shutdown();
    }

    #[test]
    fn limit_is_exact_across_runtimes_with_bind() {
        limit_is_exact(Socket::Bind);
    }

    #[test]
    fn limit_is_exact_across_runtimes_with_listen() {
        limit_is_exact(Socket::Listen);
    }

    /// A graceful shutdown finishes the message in flight on each runtime, tells the idle
    /// clients 421 at once, and closes every socket. With `bind`, both runtimes serve
    /// clients (the kernel spreads them); a shared socket goes to whichever runtime is
    /// awake first, which may be the same one every time, so there one message is in
    /// flight on each of two clients, wherever they are served.
    fn shutdown_drains_every_runtime(socket: Socket) {
        let server = Server::start(socket, 100, Duration::from_millis(700));
        let mut busy = Vec::new();
        let mut idle = Vec::new();
        match socket {
            Socket::Bind => {
                let mut seen = HashSet::new();
                for client in clients_on_both(&server) {
                    if seen.insert(server.thread_of(&client)) {
                        busy.push(client);
                    } else {
                        idle.push(client);
                    }
                }
            }
            Socket::Listen => {
                for i in 0..4 {
                    let mut client = SmtpClient::connect(server.addr);
                    assert_eq!(client.expect_greeting().code, 220);
                    if i < 2 {
                        busy.push(client);
                    } else {
                        idle.push(client);
                    }
                }
            }
        }
        for client in &mut busy {
            client.ehlo("client.example");
            client.expect("MAIL FROM:<a@x>", 250);
            client.expect("RCPT TO:<b@y>", 250);
            client.expect("DATA", 354);
            client.send(b"in flight\r\n.\r\n");
        }
        thread::sleep(Duration::from_millis(200));
        let addr = server.addr;
        thread::scope(|scope| {
            let stopping = scope.spawn(|| server.shutdown());
            for client in &mut idle {
                assert_eq!(
                    client.read_reply().code,
                    421,
                    "an idle client is told at once"
                );
            }
            for client in &mut busy {
                assert_eq!(
                    client.read_reply().code,
                    250,
                    "the message in flight is acknowledged"
                );
                assert_eq!(client.read_reply().code, 421);
            }
            stopping.join().unwrap();
        });
        assert!(
            SmtpClient::try_connect(addr).is_err(),
            "every runtime stopped listening"
        );
    }

    #[test]
    fn shutdown_drains_every_runtime_with_bind() {
        shutdown_drains_every_runtime(Socket::Bind);
    }

    #[test]
    fn shutdown_drains_every_runtime_with_listen() {
        shutdown_drains_every_runtime(Socket::Listen);
    }
}
