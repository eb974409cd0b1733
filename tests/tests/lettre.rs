//! lettre (tokio, rustls) against blackhole: STARTTLS + AUTH + several messages on one
//! connection, implicit TLS, and a wrong password.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::Duration;

use lettre::address::Envelope;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox};
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use smtp_proto_tests::{
    Blackhole, CountingProxy, TempDir, assert_maildir_eq, maildir_messages, sample_body,
    sample_message,
};

fn tls_parameters() -> TlsParameters {
    TlsParameters::builder("localhost".into())
        .dangerous_accept_invalid_certs(true)
        .build()
        .expect("TLS parameters")
}

fn transport(
    addr: SocketAddr,
    tls: Tls,
    user: &str,
    password: &str,
) -> AsyncSmtpTransport<Tokio1Executor> {
    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(addr.ip().to_string())
        .port(addr.port())
        .tls(tls)
        .credentials(Credentials::new(user.into(), password.into()))
        .timeout(Some(Duration::from_secs(10)))
        .pool_config(PoolConfig::new().max_size(1))
        .build()
}

/// A message whose body exercises dot-stuffing, an empty line and 8-bit text, sent as
/// 8bit (no transfer encoding), so the bytes on the wire are the body's own. (lettre's
/// 8bit encoder refuses lines over 76 characters: the 900-character line goes through
/// [`raw_message`] and through lettre's own encoding in [`encoded_message`].)
fn message(tag: &str) -> Message {
    let body = format!(
        "Hello {tag},\r\n.starts with one dot\r\n..starts with two dots\r\n...\r\n\
         . dot space\r\n.x\r\n\r\n(an empty line is above)\r\n\
         8-bit: Grüße, naïve café, 日本語, ☃ ✉\r\nlast line {tag}\r\n"
    );
    builder(tag)
        .header(ContentType::TEXT_PLAIN)
        .body(Body::new_with_encoding(body, ContentTransferEncoding::EightBit).expect("8bit body"))
        .unwrap()
}

/// A message with [`sample_body`] (900-character line included), encoded as lettre
/// chooses (quoted-printable or base64).
fn encoded_message(tag: &str) -> Message {
    builder(tag)
        .header(ContentType::TEXT_PLAIN)
        .body(Body::new(sample_body(tag)))
        .unwrap()
}

fn builder(tag: &str) -> lettre::message::MessageBuilder {
    let from: Mailbox = "Lettre Sender <sender@client.example>".parse().unwrap();
    let to: Mailbox = "rcpt@blackhole.localhost".parse().unwrap();
    Message::builder()
        .from(from)
        .to(to)
        .subject(format!("lettre {tag} — Grüße"))
}

/// [`sample_message`] as raw bytes with its envelope, for `send_raw`: lettre's SMTP client
/// dot-stuffs and sends it as it is (900-character line included).
fn raw_message(tag: &str) -> (Envelope, Vec<u8>) {
    let envelope = Envelope::new(
        Some("sender@client.example".parse().unwrap()),
        vec!["rcpt@blackhole.localhost".parse().unwrap()],
    )
    .unwrap();
    (envelope, sample_message(tag))
}

/// What the server stores for a message lettre sends: lettre always writes the message,
/// dot-stuffed, then CR LF . CR LF. RFC 5321 §4.1.1.4: the first CR LF of that ends the
/// last line and belongs to the content, so the content is the message plus CR LF (an
/// empty last line when the message already ends with CR LF).
fn stored_form(sent: &[u8]) -> Vec<u8> {
    let mut content = sent.to_vec();
    content.extend_from_slice(b"\r\n");
    content
}

/// lettre's pool takes a connection back in a task it spawns when the send ends; give
/// that task time to run, or the next send opens a second connection.
async fn recycled() {
    tokio::time::sleep(Duration::from_millis(100)).await;
}

#[tokio::test]
async fn starttls_auth_four_messages_one_connection() {
    let dir = TempDir::new("lettre");
    let bh = Blackhole::start_all(&["--maildir", dir.arg(), "--auth", "lettre:pa55:word"]);
    // Counts the TCP connections lettre opens.
    let proxy = CountingProxy::start(bh.smtp_addr());
    let mailer = transport(
        proxy.addr(),
        Tls::Required(tls_parameters()),
        "lettre",
        "pa55:word",
    );
    let mut sent = Vec::new();
    for m in [
        message("lettre-0"),
        encoded_message("lettre-1"),
        message("lettre-2"),
    ] {
        let formatted = stored_form(&m.formatted());
        let response = mailer.send(m).await.expect("lettre send");
        assert_eq!(response.code().to_string(), "250", "{response:?}");
        sent.push(formatted);
        recycled().await;
    }
    let (envelope, raw) = raw_message("lettre-raw");
    let response = mailer
        .send_raw(&envelope, &raw)
        .await
        .expect("lettre send_raw");
    assert_eq!(response.code().to_string(), "250", "{response:?}");
    sent.push(stored_form(&raw));
    assert_eq!(proxy.connections(), 1, "lettre used one connection");
    assert_maildir_eq(dir.path(), &sent);
}

#[tokio::test]
async fn implicit_tls_with_login_mechanism() {
    let dir = TempDir::new("lettre-tls");
    let bh = Blackhole::start_all(&["--maildir", dir.arg(), "--auth", "u:p"]);
    let mailer =
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(bh.smtps_addr().ip().to_string())
            .port(bh.smtps_addr().port())
            .tls(Tls::Wrapper(tls_parameters()))
            .credentials(Credentials::new("u".into(), "p".into()))
            .authentication(vec![Mechanism::Login])
            .timeout(Some(Duration::from_secs(10)))
            .build();
    let m = message("lettre-wrapper");
    let formatted = stored_form(&m.formatted());
    let response = mailer.send(m).await.expect("lettre send over implicit TLS");
    assert_eq!(response.code().to_string(), "250");
    assert_maildir_eq(dir.path(), &[formatted]);
}

#[tokio::test]
async fn wrong_password_is_535() {
    let dir = TempDir::new("lettre-535");
    let bh = Blackhole::start_all(&["--maildir", dir.arg(), "--auth", "lettre:right"]);
    let mailer = transport(
        bh.smtp_addr(),
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
