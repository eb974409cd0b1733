//! lettre (tokio, rustls) against blackhole: STARTTLS + AUTH + several messages on one
//! connection, implicit TLS, and a wrong password.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox};
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use smtp_proto_tests::{Blackhole, CountingProxy, TempDir, maildir_messages, sample_body};

fn tls_parameters() -> TlsParameters {
    TlsParameters::builder("localhost".into())
        .dangerous_accept_invalid_certs(true)
        .build()
        .expect("TLS parameters")
}

fn transport(
    port: u16,
    tls: Tls,
    user: &str,
    password: &str,
) -> AsyncSmtpTransport<Tokio1Executor> {
    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(port)
        .tls(tls)
        .credentials(Credentials::new(user.into(), password.into()))
        .timeout(Some(Duration::from_secs(10)))
        .pool_config(PoolConfig::new().max_size(1))
        .build()
}

/// A message whose body exercises dot-stuffing, a 900-character line and 8-bit text,
/// sent as 8bit (no transfer encoding), so the bytes on the wire are the body's own.
fn message(tag: &str) -> Message {
    let from: Mailbox = "Lettre Sender <sender@client.example>".parse().unwrap();
    let to: Mailbox = "rcpt@blackhole.localhost".parse().unwrap();
    Message::builder()
        .from(from)
        .to(to)
        .subject(format!("lettre {tag} — Grüße"))
        .header(ContentType::TEXT_PLAIN)
        .body(
            Body::new_with_encoding(sample_body(tag), ContentTransferEncoding::EightBit)
                .expect("8bit body"),
        )
        .unwrap()
}

/// Sorted contents, to compare sets of messages whatever the file names.
fn sorted(mut v: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    v.sort();
    v
}

#[tokio::test]
async fn starttls_auth_three_messages_one_connection() {
    let dir = TempDir::new("lettre");
    let bh = Blackhole::start_all(&["--maildir", dir.arg(), "--auth", "lettre:pa55:word"]);
    // Counts the TCP connections lettre opens.
    let proxy = CountingProxy::start(bh.smtp_addr());
    let mailer = transport(
        proxy.addr().port(),
        Tls::Required(tls_parameters()),
        "lettre",
        "pa55:word",
    );
    let mut sent = Vec::new();
    for i in 0..4 {
        let m = message(&format!("lettre-{i}"));
        let formatted = m.formatted();
        let response = mailer.send(m).await.expect("lettre send");
        assert!(response.is_positive(), "{response:?}");
        assert_eq!(response.code().to_string(), "250");
        sent.push(formatted);
    }
    assert_eq!(proxy.connections(), 1, "lettre used one connection");
    assert_eq!(sorted(maildir_messages(dir.path())), sorted(sent));
    // The 8-bit line and the dot lines went through unchanged.
    let first = String::from_utf8(maildir_messages(dir.path()).remove(0)).unwrap();
    assert!(first.contains("\r\n..starts with two dots\r\n"), "{first}");
    assert!(first.contains("Grüße, naïve café"), "{first}");
}

#[tokio::test]
async fn implicit_tls_with_login_mechanism() {
    let dir = TempDir::new("lettre-tls");
    let bh = Blackhole::start_all(&["--maildir", dir.arg(), "--auth", "u:p"]);
    let mailer = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(bh.smtps_addr().port())
        .tls(Tls::Wrapper(tls_parameters()))
        .credentials(Credentials::new("u".into(), "p".into()))
        .authentication(vec![Mechanism::Login])
        .timeout(Some(Duration::from_secs(10)))
        .build();
    let m = message("lettre-wrapper");
    let formatted = m.formatted();
    let response = mailer.send(m).await.expect("lettre send over implicit TLS");
    assert_eq!(response.code().to_string(), "250");
    assert_eq!(maildir_messages(dir.path()), vec![formatted]);
}

#[tokio::test]
async fn wrong_password_is_535() {
    let dir = TempDir::new("lettre-535");
    let bh = Blackhole::start_all(&["--maildir", dir.arg(), "--auth", "lettre:right"]);
    let mailer = transport(
        bh.smtp_addr().port(),
        Tls::Required(tls_parameters()),
        "lettre",
        "wrong",
    );
    let err = mailer
        .send(message("lettre-wrong"))
        .await
        .expect_err("a wrong password must fail");
    assert!(err.is_permanent(), "{err:?}");
    assert_eq!(
        err.status().map(|c| c.to_string()).as_deref(),
        Some("535"),
        "{err:?}"
    );
    assert!(maildir_messages(dir.path()).is_empty());
}
