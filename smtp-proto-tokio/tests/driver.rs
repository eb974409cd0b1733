//! The pull face of the tokio adapter: `Driver::next_event().await` over an in-memory
//! transport, with the application answering decisions itself; stop requests; and the
//! error for a decision never answered.

use std::sync::Arc;
use std::time::Instant;

use smtp_proto::tls::{Endpoint, TlsMode};
use smtp_proto::{CloseReason, Event, Reply, ServerConfig, Stop};
use smtp_proto_tokio::Driver;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::sync::watch;

fn endpoint() -> Endpoint {
    Endpoint::new(Arc::new(ServerConfig::new("mx.example")), TlsMode::Off)
}

#[allow(clippy::disallowed_methods)]
fn now() -> Instant {
    Instant::now()
}

/// Reads from `client` until `want` replies (lines without a `-` continuation) arrived.
async fn replies(client: &mut DuplexStream, want: usize) -> String {
    let mut text = String::new();
    let mut buf = [0u8; 4096];
    while text
        .lines()
        .filter(|l| l.as_bytes().get(3) == Some(&b' '))
        .count()
        < want
    {
        let n = client.read(&mut buf).await.expect("read");
        assert!(n > 0, "EOF after {text:?}");
        text.push_str(std::str::from_utf8(&buf[..n]).expect("ASCII replies"));
    }
    text
}

#[tokio::test]
async fn the_application_pulls_events_and_answers_them() {
    let (mut client, server_side) = tokio::io::duplex(1 << 16);
    let server = tokio::spawn(async move {
        let mut driver = Driver::new(server_side, endpoint().accept(now()));
        let mut seen = Vec::new();
        while let Some(event) = driver.next_event().await.expect("no I/O error") {
            match event {
                Event::Rcpt { pending, to, .. } => {
                    seen.push(format!("rcpt {to}"));
                    let refusal = Reply::new(550, "No such user").expect("valid");
                    driver.answer(pending, Err(refusal));
                }
                Event::Closed { reason } => seen.push(format!("closed {reason:?}")),
                other => {
                    if let Some(pending) = other.into_pending() {
                        driver.answer(pending, Ok(()));
                    }
                }
            }
        }
        seen
    });
    assert!(replies(&mut client, 1).await.starts_with("220 mx.example"));
    client
        .write_all(b"EHLO c.example\r\n")
        .await
        .expect("write");
    let _ = replies(&mut client, 1).await;
    client
        .write_all(b"MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\n")
        .await
        .expect("write");
    assert_eq!(
        replies(&mut client, 2).await,
        "250 2.1.0 Ok\r\n550 5.0.0 No such user\r\n"
    );
    client.write_all(b"QUIT\r\n").await.expect("write");
    assert!(replies(&mut client, 1).await.starts_with("221 "));
    let seen = server.await.expect("the driver task");
    assert_eq!(seen, ["rcpt <b@y.example>", "closed Quit"]);
}

#[tokio::test]
async fn a_stop_request_reaches_an_idle_session() {
    let (mut client, server_side) = tokio::io::duplex(1 << 16);
    let (stop, listen) = watch::channel(Stop::Run);
    let server = tokio::spawn(async move {
        let mut driver = Driver::new(server_side, endpoint().accept(now())).with_stop(listen);
        let mut closed = None;
        while let Some(event) = driver.next_event().await.expect("no I/O error") {
            if let Event::Closed { reason } = event {
                closed = Some(reason);
            }
        }
        closed
    });
    assert!(replies(&mut client, 1).await.starts_with("220 "));
    stop.send(Stop::Drain).expect("the driver listens");
    assert!(replies(&mut client, 1).await.starts_with("421 4.3.2 "));
    assert_eq!(
        server.await.expect("the driver task"),
        Some(CloseReason::Shutdown)
    );
}

#[tokio::test]
async fn asking_for_the_next_event_with_a_decision_owed_is_an_error() {
    let (mut client, server_side) = tokio::io::duplex(1 << 16);
    let mut driver = Driver::new(server_side, endpoint().accept(now()));
    let greeting = tokio::spawn(async move {
        let text = replies(&mut client, 1).await;
        client
            .write_all(b"HELO c.example\r\n")
            .await
            .expect("write");
        (text, client)
    });
    let event = driver.next_event().await.expect("no I/O error");
    let Some(Event::Hello { pending, .. }) = event else {
        panic!("expected HELO, got {event:?}");
    };
    let (text, _client) = greeting.await.expect("the client task");
    assert!(text.starts_with("220 "));
    let error = driver.next_event().await.expect_err("a decision is owed");
    assert!(error.to_string().contains("decision is owed"), "{error}");
    driver.answer(pending, Ok(()));
}
