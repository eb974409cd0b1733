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
);
