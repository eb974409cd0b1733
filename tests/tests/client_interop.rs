//! Our SMTP client (`smtp_proto::client`, through the tokio and the blocking
//! `SmtpClient`) against real servers we did not write, over loopback: a private Postfix
//! instance, Postfix's smtp-sink, Python's aiosmtpd (`smtp_proto_tests::peers`), and our own
//! blackhole storing into a Maildir. What the peer stored is compared byte for byte with
//! what the application handed the client (dot-stuffing undone by the server, bare LF
//! normalised to CR LF by the client).
//!
//! # The interop matrix
//!
//! Each cell names the test that covers it; `t` = tokio `SmtpClient`, `b` = blocking
//! `SmtpClient`; `—` = the server does not offer it.
//!
//! | server | plain | STARTTLS | AUTH | PIPELINING | CHUNKING | SMTPUTF8 | LMTP |
//! |---|---|---|---|---|---|---|---|
//! | Postfix smtpd | [`postfix_pipelined_delivery`] t; [`postfix_two_messages_on_one_connection`] b | [`postfix_starttls_required`] t | — (no SASL in the instance) | on: [`postfix_pipelined_delivery`] t; off: [`postfix_lockstep_without_pipelining`] t | on: [`postfix_bdat_in_several_chunks`] t; off: [`postfix_bdat_falls_back_to_data`] t | [`postfix_smtputf8_and_8bitmime`] t | — |
//! | smtp-sink | [`smtp_sink_pipelined_delivery`] t | — | (accepts anything: not tested) | on: [`smtp_sink_pipelined_delivery`] t; off: [`smtp_sink_lockstep_and_no_8bitmime`] t | — | — | — |
//! | aiosmtpd | [`aiosmtpd_wrong_password_fails_the_session`] b | [`aiosmtpd_starttls_then_auth_plain`] t | PLAIN: [`aiosmtpd_starttls_then_auth_plain`] t, [`aiosmtpd_wrong_password_fails_the_session`] b; LOGIN: [`aiosmtpd_auth_login`] t | — | — | [`aiosmtpd_smtputf8`] t | [`aiosmtpd_lmtp_per_recipient_results`] t |
//! | blackhole (ours) | [`blackhole_plain`] t | [`blackhole_starttls`] t; implicit TLS: [`blackhole_implicit_tls`] t | — | [`blackhole_plain`] t | [`blackhole_bdat`] b | [`blackhole_plain`] t | — |
//!
//! Local refusals, each checked to send nothing: SIZE over the server's limit
//! ([`postfix_size_refused_locally`]), 8-bit content without 8BITMIME
//! ([`smtp_sink_lockstep_and_no_8bitmime`]). Refusals by the server: one refused recipient
//! among accepted ones ([`postfix_refused_recipient_partial_success`]), every recipient
//! refused ([`smtp_sink_hard_reject_of_rcpt`]), a refused recipient after the data in
//! LMTP ([`aiosmtpd_lmtp_per_recipient_results`]), a refused password
//! ([`aiosmtpd_wrong_password_fails_the_session`]), TLS required but not offered
//! ([`smtp_sink_required_tls_not_offered`]). Also: DSN parameters sent only where offered
//! ([`smtp_sink_dsn_parameters`]); bodies at the edges (no final line end, empty, a lone
//! dot, 300 KB through `send_stream`: [`aiosmtpd_edge_bodies`]).
//!
//! # How the wire is observed
//!
//! Plaintext tokio sessions run over [`Recorded`], a `TcpStream` wrapper that keeps every
//! byte the client wrote, grouped into *flights* (the bytes written between two reads
//! that returned data): the number of flights is the number of round trips, so lock-step
//! and pipelining are told apart on the wire, and the commands themselves (`MAIL … SIZE=…
//! BODY=8BITMIME SMTPUTF8`, `BDAT n`) can be read back. TLS sessions use the adapter's
//! reply log instead. Postfix additionally runs with `smtpd_forbid_unauth_pipelining =
//! yes`, so a client that sends anything after a command that must end a group (EHLO,
//! STARTTLS, DATA, …) before its reply is disconnected by the server itself (`improper
//! command pipelining`), and its `disconnect from … ehlo=1 mail=1 …` log line counts the
//! commands it received.
//!
//! Every test follows the peers' `require()`: it skips when the server is not installed,
//! and fails instead under `SMTP_PROTO_REQUIRE_TOOLS=1` (CI). Each test starts its own
//! server on its own port and directory, so the tests run in parallel; every wait is
//! bounded ([`TEST_TIMEOUT`] around each client session, the client's own reply deadlines,
//! the peers' start and store timeouts).

#![allow(clippy::unwrap_used)]

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use smtp_proto::client::{
    Chunking, ClientAuth, ClientConfig, ClientError, ClientTimeouts, CloseReason, Envelope,
    Outcome, Stage, TlsPolicy, TransactionReport, Verdict,
};
use smtp_proto::codec::ParsedReply;
use smtp_proto::codec::params::{Notify, Orcpt, Ret};
use smtp_proto::tls::{ClientTls, client_connection};
use smtp_proto::{ForwardPath, MailParams, Mailbox, Protocol, RcptParams};
use smtp_proto_tests::peers::{
    Aiosmtpd, AiosmtpdOptions, PEER_DOMAIN, Postfix, PostfixOptions, SmtpSink, SmtpSinkOptions,
    StoredMessage,
};
use smtp_proto_tests::{Blackhole, TempDir, maildir_messages, sample_message};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// The bound on one whole client session (connect to QUIT).
const TEST_TIMEOUT: Duration = Duration::from_secs(40);

/// The client's deadline for each reply (instead of RFC 5321's minutes).
const REPLY_TIMEOUT: Duration = Duration::from_secs(20);

/// How long a peer may take to store a message the client saw accepted, or to log it.
const STORE_TIMEOUT: Duration = Duration::from_secs(20);

const SENDER: &str = "sender@client.example";

// --- helpers ------------------------------------------------------------------------------

fn mailbox(address: &str) -> Mailbox {
    address
        .parse()
        .unwrap_or_else(|e| panic!("{address:?} is not a mailbox: {e:?}"))
}

fn rcpt(local: &str) -> String {
    format!("{local}@{PEER_DOMAIN}")
}

fn envelope(from: &str, to: &[&str]) -> Envelope {
    to.iter()
        .fold(Envelope::new(mailbox(from)), |e, r| e.to(mailbox(r)))
}

/// A client configuration: EHLO `client.example`, no TLS, short reply deadlines; then
/// `edit`.
fn config(edit: impl FnOnce(&mut ClientConfig)) -> Arc<ClientConfig> {
    let mut config = ClientConfig::new("client.example").unwrap();
    config.tls = TlsPolicy::None;
    let mut timeouts = ClientTimeouts::default();
    for deadline in [
        &mut timeouts.greeting,
        &mut timeouts.hello,
        &mut timeouts.starttls,
        &mut timeouts.auth,
        &mut timeouts.mail,
        &mut timeouts.rcpt,
        &mut timeouts.data_init,
        &mut timeouts.data_block,
        &mut timeouts.data_done,
        &mut timeouts.rset,
    ] {
        *deadline = REPLY_TIMEOUT;
    }
    config.timeouts = timeouts;
    edit(&mut config);
    Arc::new(config)
}

/// TLS that accepts the peers' self-signed certificates.
fn insecure_tls() -> ClientTls {
    ClientTls::dangerous_accept_any_certificate("localhost").unwrap()
}

/// Runs `session` on a current-thread runtime, bounded by [`TEST_TIMEOUT`].
fn run<F: Future>(session: F) -> F::Output {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        tokio::time::timeout(TEST_TIMEOUT, session)
            .await
            .unwrap_or_else(|_| panic!("the client session took longer than {TEST_TIMEOUT:?}"))
    })
}

/// The test message: sample headers, the sample body (lines starting with `.`, `..`,
/// `...`, a 900-octet line, 8-bit UTF-8), then a lone `.` line and a `..` line, given to
/// the client with **bare LF** line ends in the body: `(input, expected)`, where
/// `expected` is every line end as CR LF, what the server must store.
fn message(tag: &str) -> (Vec<u8>, Vec<u8>) {
    let mut expected = sample_message(tag);
    expected.extend_from_slice(b".\r\n..\r\nafter a lone dot\r\n");
    let split = find(&expected, b"\r\n\r\n").unwrap() + 4;
    let mut input = expected[..split].to_vec();
    input.extend(lf_only(&expected[split..]));
    assert_ne!(input, expected);
    (input, expected)
}

/// A 7-bit message with dot lines, bare LF in the input.
fn ascii_message(tag: &str) -> (Vec<u8>, Vec<u8>) {
    let expected = format!(
        "From: <{SENDER}>\r\nSubject: ascii {tag}\r\n\r\n.one dot\r\n..two dots\r\n.\r\nend {tag}\r\n"
    )
    .into_bytes();
    (lf_only(&expected), expected)
}

/// Every bare LF of `text` as CR LF.
fn lf_to_crlf(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() * 2);
    for (i, &b) in text.iter().enumerate() {
        if b == b'\n' && (i == 0 || text[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

/// `text` with every CR LF as a bare LF.
fn lf_only(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for (i, &b) in text.iter().enumerate() {
        if !(b == b'\r' && text.get(i + 1) == Some(&b'\n')) {
            out.push(b);
        }
    }
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}

/// `code enhanced text` of a reply, for assertions.
fn status(reply: &ParsedReply) -> String {
    format!(
        "{} {} {}",
        reply.code(),
        reply.enhanced().map(|e| e.to_string()).unwrap_or_default(),
        reply.text_lossy()
    )
}

/// The outcome of `recipient` in `report`.
fn outcome<'a>(report: &'a TransactionReport, recipient: &str) -> &'a Outcome {
    let wanted = ForwardPath::from(mailbox(recipient));
    &report
        .recipients
        .iter()
        .find(|r| r.recipient == wanted)
        .unwrap_or_else(|| panic!("no result for {recipient} in {report:#?}"))
        .outcome
}

fn assert_delivered(report: &TransactionReport) {
    assert!(report.all_delivered(), "{report:#?}");
    for r in &report.recipients {
        assert_eq!(r.outcome.stage, Stage::EndOfData, "{report:#?}");
        assert!(!r.outcome.local, "{report:#?}");
    }
}

/// Asserts that `stored` equals `expected` byte for byte; shows where they part.
fn assert_content(stored: &StoredMessage, expected: &[u8]) {
    assert_bytes(
        &stored.content,
        expected,
        &stored.path.display().to_string(),
    );
}

fn assert_bytes(got: &[u8], want: &[u8], what: &str) {
    if got == want {
        return;
    }
    let at = got
        .iter()
        .zip(want)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(want.len()));
    let around = |m: &[u8]| {
        String::from_utf8_lossy(&m[at.saturating_sub(60)..(at + 60).min(m.len())]).into_owned()
    };
    panic!(
        "{what}: stored content differs at byte {at} (stored {} bytes, expected {}):\n--- stored\n{:?}\n--- expected\n{:?}",
        got.len(),
        want.len(),
        around(got),
        around(want)
    );
}

/// A reply log for `connect_with`, and what it saw: `"VERB code"` per reply.
#[derive(Clone, Default)]
struct Replies(Arc<Mutex<Vec<(String, ParsedReply)>>>);

/// The adapters' reply log callback.
type ReplyLog = Box<dyn FnMut(&str, &ParsedReply) + Send>;

impl Replies {
    fn callback(&self) -> ReplyLog {
        let seen = self.0.clone();
        Box::new(move |verb, reply| {
            seen.lock().unwrap().push((verb.to_owned(), reply.clone()));
        })
    }

    fn summary(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|(verb, reply)| format!("{verb} {}", reply.code()))
            .collect()
    }
}

// --- the recorded transport -----------------------------------------------------------

/// What the client wrote on a [`Recorded`] connection, in flights.
#[derive(Debug, Default)]
struct WireLog {
    /// The bytes written between two reads that returned data, in order.
    flights: Vec<Vec<u8>>,
    /// The last operation was a read that returned data: the next write starts a flight.
    read_since_write: bool,
}

#[derive(Clone, Debug, Default)]
struct Wire(Arc<Mutex<WireLog>>);

impl Wire {
    fn flights(&self) -> Vec<Vec<u8>> {
        self.0.lock().unwrap().flights.clone()
    }

    fn all(&self) -> Vec<u8> {
        self.flights().concat()
    }

    /// The flights as text, one per line, for messages.
    fn show(&self) -> String {
        self.flights()
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let text = if f.len() > 300 {
                    format!(
                        "{}… ({} bytes)",
                        String::from_utf8_lossy(&f[..300]),
                        f.len()
                    )
                } else {
                    String::from_utf8_lossy(f).into_owned()
                };
                format!("flight {i}: {text:?}\n")
            })
            .collect()
    }

    /// The command lines of each flight (content flights shown as `<content>`).
    fn commands(&self) -> Vec<Vec<String>> {
        self.flights()
            .iter()
            .map(|f| {
                let text = String::from_utf8_lossy(f);
                if text.starts_with("From:") || text.starts_with("Subject:") {
                    return vec!["<content>".to_owned()];
                }
                text.split_inclusive("\r\n")
                    .map(|l| l.trim_end().to_owned())
                    .collect()
            })
            .collect()
    }
}

/// A TCP stream that records what the client writes ([`Wire`]) and can rewrite whole
/// lines the server sends (to hide an EHLO keyword from the client).
struct Recorded {
    inner: TcpStream,
    wire: Wire,
    /// `(from, to)`: every complete server line containing `from` has it replaced.
    rewrite: Option<(Vec<u8>, Vec<u8>)>,
    /// Server bytes of an incomplete line (only with `rewrite`).
    partial: Vec<u8>,
    /// Server bytes ready for the client.
    ready: Vec<u8>,
    eof: bool,
}

impl Recorded {
    fn new(inner: TcpStream, wire: Wire) -> Self {
        wire.0.lock().unwrap().read_since_write = true;
        Self {
            inner,
            wire,
            rewrite: None,
            partial: Vec::new(),
            ready: Vec::new(),
            eof: false,
        }
    }

    fn rewritten(&self, lines: Vec<u8>) -> Vec<u8> {
        let Some((from, to)) = &self.rewrite else {
            return lines;
        };
        let mut out = Vec::with_capacity(lines.len());
        let mut rest = &lines[..];
        while let Some(at) = find(rest, from) {
            out.extend_from_slice(&rest[..at]);
            out.extend_from_slice(to);
            rest = &rest[at + from.len()..];
        }
        out.extend_from_slice(rest);
        out
    }
}

impl AsyncRead for Recorded {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.ready.is_empty() {
                let n = this.ready.len().min(buf.remaining());
                buf.put_slice(&this.ready[..n]);
                this.ready.drain(..n);
                this.wire.0.lock().unwrap().read_since_write = true;
                return Poll::Ready(Ok(()));
            }
            if this.eof {
                return Poll::Ready(Ok(()));
            }
            let mut piece = [0u8; 8192];
            let mut piece_buf = ReadBuf::new(&mut piece);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut piece_buf))?;
            let got = piece_buf.filled();
            if got.is_empty() {
                this.eof = true;
                this.ready = std::mem::take(&mut this.partial);
                continue;
            }
            if this.rewrite.is_none() {
                this.ready.extend_from_slice(got);
                continue;
            }
            this.partial.extend_from_slice(got);
            if let Some(end) = this.partial.iter().rposition(|&b| b == b'\n') {
                let lines: Vec<u8> = this.partial.drain(..=end).collect();
                this.ready = this.rewritten(lines);
            }
        }
    }
}

impl AsyncWrite for Recorded {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let n = ready!(Pin::new(&mut this.inner).poll_write(cx, buf))?;
        if n > 0 {
            let mut log = this.wire.0.lock().unwrap();
            if log.read_since_write || log.flights.is_empty() {
                log.flights.push(Vec::new());
                log.read_since_write = false;
            }
            if let Some(flight) = log.flights.last_mut() {
                flight.extend_from_slice(&buf[..n]);
            }
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

type RecordedClient = smtp_proto_tokio::SmtpClient<Recorded>;

/// A tokio client over a [`Recorded`] plaintext connection, set up (greeting, EHLO, AUTH).
async fn connect_recorded(
    addr: SocketAddr,
    config: Arc<ClientConfig>,
    rewrite: Option<(&[u8], &[u8])>,
) -> Result<(RecordedClient, Wire), ClientError> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let wire = Wire::default();
    let mut recorded = Recorded::new(stream, wire.clone());
    recorded.rewrite = rewrite.map(|(from, to)| (from.to_vec(), to.to_vec()));
    let connection = client_connection(config, None, smtp_proto_tests::now())?;
    let mut client = smtp_proto_tokio::SmtpClient::new(recorded, connection);
    client.ready().await?;
    Ok((client, wire))
}

/// Sends `body` to `to` over a recorded tokio session, then QUIT: the report and the wire.
fn send_recorded(
    addr: SocketAddr,
    config: Arc<ClientConfig>,
    envelope: Envelope,
    body: &[u8],
) -> (TransactionReport, Wire) {
    run(async {
        let (mut client, wire) = connect_recorded(addr, config, None).await.unwrap();
        let report = client.send(envelope, body).await.unwrap();
        client.quit().await.unwrap();
        (report, wire)
    })
}

/// The counts of Postfix's `disconnect from …` line for the session that said EHLO
/// (`ehlo=1 mail=1 rcpt=2 data=1 quit=1 commands=6`); the harness's start-up probe said
/// only QUIT.
fn postfix_session_counts(postfix: &Postfix) -> String {
    let log = postfix.wait_for_log(" ehlo=", STORE_TIMEOUT);
    assert!(!log.contains("improper command pipelining"), "{log}");
    let line = log
        .lines()
        .find(|l| l.contains("disconnect from") && l.contains(" ehlo="))
        .unwrap_or_else(|| panic!("no disconnect line with ehlo= in:\n{log}"));
    line[line.find(" ehlo=").unwrap() + 1..].trim().to_owned()
}

/// Postfix's defaults, with a server that disconnects clients pipelining where RFC 2920
/// forbids it (`smtpd_forbid_unauth_pipelining`, Postfix ≥ 3.9 and backports).
fn strict_postfix(options: PostfixOptions) -> Postfix {
    let mut options = options;
    options.main_cf.push((
        "smtpd_forbid_unauth_pipelining".to_owned(),
        "yes".to_owned(),
    ));
    Postfix::start(options)
}

/// Checks the stored Postfix messages: one per recipient, each with `expected` content,
/// the envelope sender, and the `Received:` protocol `with`.
fn check_postfix_messages(
    postfix: &Postfix,
    recipients: &[&str],
    expected: &[u8],
    with: &str,
) -> Vec<StoredMessage> {
    let messages = postfix.wait_for_messages(recipients.len(), STORE_TIMEOUT);
    assert_eq!(messages.len(), recipients.len(), "{messages:#?}");
    let mut stored: Vec<String> = messages.iter().flat_map(|m| m.rcpt_to.clone()).collect();
    stored.sort();
    let mut wanted: Vec<String> = recipients.iter().map(|r| (*r).to_owned()).collect();
    wanted.sort();
    assert_eq!(stored, wanted);
    for m in &messages {
        assert_eq!(m.mail_from.as_deref(), Some(SENDER));
        let received = m.header("Received").unwrap_or_default();
        assert!(received.contains(&format!("with {with} id")), "{received}");
        assert_content(m, expected);
    }
    messages
}

// --- Postfix ------------------------------------------------------------------------------

/// Postfix, PIPELINING on (and enforced by `smtpd_forbid_unauth_pipelining`): the whole
/// envelope goes in one flight ending with DATA, the content in the next.
/// manual::client PIPE-02 (one flight, DATA last), PIPE-05, SIZE-01 (`SIZE=` is the CR LF
/// size before stuffing), I18N-05 (`BODY=8BITMIME`), BODY-01/02 (dot-stuffing), BODY-04
/// (bare LF normalised), END-03 (QUIT).
#[test]
fn postfix_pipelined_delivery() {
    if !Postfix::require() {
        return;
    }
    let postfix = strict_postfix(PostfixOptions::default());
    let (input, expected) = message("postfix-pipelined");
    let (a, b) = (rcpt("a"), rcpt("b"));
    let (report, wire) = send_recorded(
        postfix.addr(),
        config(|_| {}),
        envelope(SENDER, &[&a, &b]),
        &input,
    );
    assert_delivered(&report);
    let commands = wire.commands();
    assert_eq!(
        commands,
        [
            vec!["EHLO client.example".to_owned()],
            vec![
                format!("MAIL FROM:<{SENDER}> SIZE={} BODY=8BITMIME", expected.len()),
                format!("RCPT TO:<{a}>"),
                format!("RCPT TO:<{b}>"),
                "DATA".to_owned(),
            ],
            vec!["<content>".to_owned()],
            vec!["QUIT".to_owned()],
        ],
        "{}",
        wire.show()
    );
    // The content flight is the dot-stuffed, CR LF-normalised message and the terminator.
    let content = &wire.flights()[2];
    assert!(content.ends_with(b"\r\n..\r\n...\r\nafter a lone dot\r\n.\r\n"));
    check_postfix_messages(&postfix, &[&a, &b], &expected, "ESMTP");
    assert_eq!(
        postfix_session_counts(&postfix),
        "ehlo=1 mail=1 rcpt=2 data=1 quit=1 commands=6"
    );
}

/// Postfix with PIPELINING not advertised and pipelining forbidden: strict lock-step,
/// one command per round trip. manual::client PIPE-01, CAP-01 (only what is advertised).
#[test]
fn postfix_lockstep_without_pipelining() {
    if !Postfix::require() {
        return;
    }
    let postfix = strict_postfix(PostfixOptions {
        pipelining: false,
        ..PostfixOptions::default()
    });
    let (input, expected) = ascii_message("postfix-lockstep");
    let (a, b) = (rcpt("a"), rcpt("b"));
    let (report, wire) = send_recorded(
        postfix.addr(),
        config(|_| {}),
        envelope(SENDER, &[&a, &b]),
        &input,
    );
    assert_delivered(&report);
    let flights: Vec<String> = wire
        .commands()
        .into_iter()
        .map(|f| {
            assert_eq!(f.len(), 1, "one command per flight:\n{}", wire.show());
            f[0].clone()
        })
        .collect();
    assert_eq!(
        flights,
        [
            "EHLO client.example".to_owned(),
            format!("MAIL FROM:<{SENDER}> SIZE={}", expected.len()),
            format!("RCPT TO:<{a}>"),
            format!("RCPT TO:<{b}>"),
            "DATA".to_owned(),
            "<content>".to_owned(),
            "QUIT".to_owned(),
        ],
        "{}",
        wire.show()
    );
    check_postfix_messages(&postfix, &[&a, &b], &expected, "ESMTP");
    assert_eq!(
        postfix_session_counts(&postfix),
        "ehlo=1 mail=1 rcpt=2 data=1 quit=1 commands=6"
    );
}

/// Postfix with STARTTLS, policy Required, a self-signed certificate accepted on
/// purpose: TLS before anything else, EHLO again, delivery over TLS (`with ESMTPS`).
/// manual::client CTLS-02, CTLS-03, CTLS-05, CTLS-09.
#[test]
fn postfix_starttls_required() {
    if !Postfix::require() {
        return;
    }
    let postfix = strict_postfix(PostfixOptions::with_starttls());
    let (input, expected) = message("postfix-tls");
    let to = rcpt("tls");
    let replies = Replies::default();
    let (report, tls) = run(async {
        let mut client = smtp_proto_tokio::SmtpClient::connect_with(
            postfix.addr(),
            config(|c| c.tls = TlsPolicy::Required),
            Some(insecure_tls()),
            Duration::from_secs(10),
            Some(replies.callback()),
        )
        .await
        .unwrap();
        let tls = client.session().unwrap().tls.clone();
        let report = client.send(envelope(SENDER, &[&to]), &input).await.unwrap();
        client.quit().await.unwrap();
        (report, tls)
    });
    let tls = tls.unwrap_or_else(|| panic!("session().tls is None: {:?}", replies.summary()));
    assert!(tls.protocol.is_some(), "{tls:?}");
    assert_delivered(&report);
    assert_eq!(
        replies.summary()[..4],
        ["greeting 220", "EHLO 250", "STARTTLS 220", "EHLO 250"]
    );
    check_postfix_messages(&postfix, &[&to], &expected, "ESMTPS");
    postfix.wait_for_log("TLS connection established", STORE_TIMEOUT);
    assert_eq!(
        postfix_session_counts(&postfix),
        "ehlo=2 starttls=1 mail=1 rcpt=1 data=1 quit=1 commands=7"
    );
}

/// Postfix with CHUNKING, `Chunking::WhenOffered(256)`: BDAT in several chunks, the
/// last with LAST, no stuffing, line ends still normalised. manual::client BDAT-01,
/// BDAT-02, BDAT-03 (chunks pipelined), BDAT-06, BDAT-07.
#[test]
fn postfix_bdat_in_several_chunks() {
    if !Postfix::require() {
        return;
    }
    let postfix = strict_postfix(PostfixOptions::default());
    let (input, expected) = message("postfix-bdat");
    let to = rcpt("bdat");
    const CHUNK: usize = 256;
    let (report, wire) = send_recorded(
        postfix.addr(),
        config(|c| c.chunking = Chunking::WhenOffered(CHUNK)),
        envelope(SENDER, &[&to]),
        &input,
    );
    assert_delivered(&report);
    let sent = wire.all();
    let chunks = expected.len().div_ceil(CHUNK);
    assert!(chunks >= 4, "{chunks}");
    assert_eq!(
        count(&sent, format!("BDAT {CHUNK}\r\n").as_bytes()),
        chunks - 1,
        "{}",
        wire.show()
    );
    let last = expected.len() - (chunks - 1) * CHUNK;
    assert_eq!(
        count(&sent, format!("BDAT {last} LAST\r\n").as_bytes()),
        1,
        "{}",
        wire.show()
    );
    assert_eq!(count(&sent, b"DATA\r\n"), 0, "{}", wire.show());
    // No stuffing over BDAT: the lone dot line goes as it is.
    assert!(find(&sent, b"\r\n.\r\n..\r\nafter a lone dot").is_some());
    check_postfix_messages(&postfix, &[&to], &expected, "ESMTP");
    assert_eq!(
        postfix_session_counts(&postfix),
        format!(
            "ehlo=1 mail=1 rcpt=1 bdat={chunks} quit=1 commands={}",
            chunks + 4
        )
    );
}

/// Postfix with CHUNKING not advertised, `Chunking::WhenOffered`: DATA instead.
/// manual::client BDAT-07, CAP-09.
#[test]
fn postfix_bdat_falls_back_to_data() {
    if !Postfix::require() {
        return;
    }
    let postfix = strict_postfix(PostfixOptions {
        chunking: false,
        ..PostfixOptions::default()
    });
    let (input, expected) = message("postfix-nochunking");
    let to = rcpt("data");
    let (report, wire) = send_recorded(
        postfix.addr(),
        config(|c| c.chunking = Chunking::WhenOffered(256)),
        envelope(SENDER, &[&to]),
        &input,
    );
    assert_delivered(&report);
    let sent = wire.all();
    assert_eq!(count(&sent, b"BDAT"), 0, "{}", wire.show());
    assert_eq!(count(&sent, b"\r\nDATA\r\n"), 1, "{}", wire.show());
    check_postfix_messages(&postfix, &[&to], &expected, "ESMTP");
    assert_eq!(
        postfix_session_counts(&postfix),
        "ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5"
    );
}

/// Postfix with SMTPUTF8: a UTF-8 sender and recipient (`jürgen@peer.example`) with an
/// 8-bit body: `SMTPUTF8` and `BODY=8BITMIME` on MAIL, delivered `with UTF8SMTP`.
/// manual::client I18N-02, I18N-05, INJ-06.
#[test]
fn postfix_smtputf8_and_8bitmime() {
    if !Postfix::require() {
        return;
    }
    let postfix = strict_postfix(PostfixOptions::default());
    let from = "jörg@client.example";
    let to = rcpt("jürgen");
    let expected = format!(
        "From: Jörg <{from}>\r\nTo: <{to}>\r\nSubject: grüße\r\n\r\nnaïve café ☃\r\n.dot\r\n"
    )
    .into_bytes();
    let (report, wire) = send_recorded(
        postfix.addr(),
        config(|_| {}),
        envelope(from, &[&to]),
        &lf_only(&expected),
    );
    assert_delivered(&report);
    let mail = format!(
        "MAIL FROM:<{from}> SIZE={} BODY=8BITMIME SMTPUTF8\r\n",
        expected.len()
    );
    assert_eq!(
        count(&wire.all(), mail.as_bytes()),
        1,
        "expected {mail:?} in:\n{}",
        wire.show()
    );
    let messages = postfix.wait_for_messages(1, STORE_TIMEOUT);
    let m = &messages[0];
    assert_eq!(m.rcpt_to, [to]);
    assert_eq!(m.mail_from.as_deref(), Some(from));
    let received = m.header("Received").unwrap_or_default();
    assert!(received.contains("with UTF8SMTP"), "{received}");
    assert_content(m, &expected);
}

/// Postfix refuses one recipient of three (`fail1@`, 550 at RCPT): the others are
/// delivered, the refused one is `Rejected` at `Stage::Rcpt` with the server's 550.
/// manual::client RCPT-01, PIPE-10, ESC-01.
#[test]
fn postfix_refused_recipient_partial_success() {
    if !Postfix::require() {
        return;
    }
    let postfix = strict_postfix(PostfixOptions::default());
    let (input, expected) = ascii_message("postfix-partial");
    let (a, fail, b) = (rcpt("a"), rcpt("fail1"), rcpt("b"));
    let (report, _wire) = send_recorded(
        postfix.addr(),
        config(|_| {}),
        envelope(SENDER, &[&a, &fail, &b]),
        &input,
    );
    for ok in [&a, &b] {
        let o = outcome(&report, ok);
        assert_eq!(
            (o.verdict, o.stage, o.local),
            (Verdict::Delivered, Stage::EndOfData, false),
            "{report:#?}"
        );
    }
    let refused = outcome(&report, &fail);
    assert_eq!(
        (refused.verdict, refused.stage, refused.local),
        (Verdict::Rejected, Stage::Rcpt, false),
        "{report:#?}"
    );
    assert_eq!(refused.reply.code(), 550, "{}", status(&refused.reply));
    assert!(
        status(&refused.reply).contains("5.1.1"),
        "{}",
        status(&refused.reply)
    );
    check_postfix_messages(&postfix, &[&a, &b], &expected, "ESMTP");
    assert_eq!(
        postfix_session_counts(&postfix),
        "ehlo=1 mail=1 rcpt=2/3 data=1 quit=1 commands=6/7"
    );
}

/// Postfix with `message_size_limit = 2000` (advertised `SIZE 2000`), a 5,000-octet
/// message: refused by the client before MAIL (`Rejected`, local, 552 5.3.4); the server
/// saw only EHLO and QUIT. manual::client SIZE-03, CAP-03.
#[test]
fn postfix_size_refused_locally() {
    if !Postfix::require() {
        return;
    }
    let postfix = strict_postfix(PostfixOptions {
        message_size_limit: 2000,
        ..PostfixOptions::default()
    });
    let line = format!("{}\r\n", "x".repeat(70));
    let body = format!("Subject: big\r\n\r\n{}", line.repeat(72)).into_bytes();
    assert!(body.len() > 5000);
    let to = rcpt("big");
    let (report, wire) = send_recorded(
        postfix.addr(),
        config(|_| {}),
        envelope(SENDER, &[&to]),
        &body,
    );
    let o = outcome(&report, &to);
    assert_eq!(
        (o.verdict, o.stage, o.local),
        (Verdict::Rejected, Stage::Mail, true),
        "{report:#?}"
    );
    assert_eq!(o.reply.code(), 552, "{}", status(&o.reply));
    assert!(status(&o.reply).contains("5.3.4"), "{}", status(&o.reply));
    assert_eq!(
        wire.commands(),
        [
            vec!["EHLO client.example".to_owned()],
            vec!["QUIT".to_owned()]
        ],
        "{}",
        wire.show()
    );
    assert_eq!(postfix_session_counts(&postfix), "ehlo=1 quit=1 commands=2");
    assert!(postfix.messages().is_empty());
}

/// Postfix, blocking client: two messages on one connection, the second MAIL straight
/// after the first message's 250, no RSET. manual::client REUSE-01, PIPE-17, END-03.
#[test]
fn postfix_two_messages_on_one_connection() {
    if !Postfix::require() {
        return;
    }
    let postfix = strict_postfix(PostfixOptions::default());
    let (first_input, first) = message("postfix-reuse-1");
    let (second_input, second) = ascii_message("postfix-reuse-2");
    let (one, two) = (rcpt("one"), rcpt("two"));
    let replies = Replies::default();
    let mut client = smtp_proto_blocking::SmtpClient::connect_with(
        postfix.addr(),
        config(|_| {}),
        None,
        Duration::from_secs(10),
        Some(replies.callback()),
    )
    .unwrap();
    let report = client
        .send(envelope(SENDER, &[&one]), &first_input)
        .unwrap();
    assert_delivered(&report);
    let report = client
        .send(envelope(SENDER, &[&two]), &second_input)
        .unwrap();
    assert_delivered(&report);
    client.quit().unwrap();
    assert_eq!(
        replies.summary(),
        [
            "greeting 220",
            "EHLO 250",
            "MAIL 250",
            "RCPT 250",
            "DATA 354",
            ". 250",
            "MAIL 250",
            "RCPT 250",
            "DATA 354",
            ". 250",
            "QUIT 221"
        ]
    );
    let messages = postfix.wait_for_messages(2, STORE_TIMEOUT);
    for (to, expected) in [(&one, &first), (&two, &second)] {
        let m = messages
            .iter()
            .find(|m| m.rcpt_to == [to.clone()])
            .unwrap_or_else(|| panic!("nothing for {to}: {messages:#?}"));
        assert_content(m, expected);
    }
    assert_eq!(
        postfix_session_counts(&postfix),
        "ehlo=1 mail=2 rcpt=2 data=2 quit=1 commands=8"
    );
}

// --- smtp-sink ----------------------------------------------------------------------------

/// smtp-sink with PIPELINING: one flight for the envelope; smtp-sink records the MAIL
/// parameters it got: `BODY=8BITMIME`, and no `SIZE=` (smtp-sink does not advertise
/// SIZE). manual::client PIPE-02, SIZE-02, I18N-05, BODY-01, BODY-04.
#[test]
fn smtp_sink_pipelined_delivery() {
    if !SmtpSink::require() {
        return;
    }
    let sink = SmtpSink::start(SmtpSinkOptions::default());
    let (input, expected) = message("sink-pipelined");
    let to = ["a@sink.example", "b@sink.example"];
    let (report, wire) = send_recorded(sink.addr(), config(|_| {}), envelope(SENDER, &to), &input);
    assert_delivered(&report);
    assert_eq!(wire.flights().len(), 4, "{}", wire.show());
    assert_eq!(wire.commands()[1].len(), 4, "{}", wire.show());
    let messages = sink.wait_for_messages(1, STORE_TIMEOUT);
    let m = &messages[0];
    assert_eq!(m.mail_from.as_deref(), Some(SENDER));
    assert_eq!(m.rcpt_to, to);
    // smtp-sink does not advertise SIZE, so none is declared (SIZE-02).
    assert_eq!(m.mail_params, ["BODY=8BITMIME"]);
    assert_content(m, &expected);
}

/// smtp-sink without PIPELINING and without 8BITMIME: an 8-bit message is refused by the
/// client before a byte of it is sent (`Rejected`, local, 5.6.3); then a 7-bit message on
/// the same connection goes in lock-step. manual::client BODY-09, PIPE-01, REUSE-01.
#[test]
fn smtp_sink_lockstep_and_no_8bitmime() {
    if !SmtpSink::require() {
        return;
    }
    let sink = SmtpSink::start(SmtpSinkOptions {
        no_pipelining: true,
        no_8bitmime: true,
        ..SmtpSinkOptions::default()
    });
    let (eight_bit, _) = message("sink-8bit");
    let (ascii_input, ascii) = ascii_message("sink-7bit");
    let to = "a@sink.example";
    let (refused, delivered, wire) = run(async {
        let (mut client, wire) = connect_recorded(sink.addr(), config(|_| {}), None)
            .await
            .unwrap();
        let refused = client
            .send(envelope(SENDER, &[to]), &eight_bit)
            .await
            .unwrap();
        let before = wire.flights().len();
        let delivered = client
            .send(envelope(SENDER, &[to]), &ascii_input)
            .await
            .unwrap();
        client.quit().await.unwrap();
        assert_eq!(
            before,
            1,
            "only EHLO before the 7-bit message:\n{}",
            wire.show()
        );
        (refused, delivered, wire)
    });
    let o = outcome(&refused, to);
    assert_eq!(
        (o.verdict, o.stage, o.local),
        (Verdict::Rejected, Stage::Mail, true),
        "{refused:#?}"
    );
    assert!(status(&o.reply).contains("5.6.3"), "{}", status(&o.reply));
    assert_delivered(&delivered);
    let flights: Vec<usize> = wire.commands().iter().map(Vec::len).collect();
    assert_eq!(
        flights,
        [1; 6],
        "EHLO, MAIL, RCPT, DATA, content, QUIT:\n{}",
        wire.show()
    );
    let messages = sink.wait_for_messages(1, STORE_TIMEOUT);
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert!(
        messages[0].mail_params.is_empty(),
        "{:?}",
        messages[0].mail_params
    );
    assert_content(&messages[0], &ascii);
}

/// smtp-sink refusing every RCPT with a hard error, blocking client: every recipient
/// `Rejected` at `Stage::Rcpt` with the server's 5xx, no DATA, nothing stored.
/// manual::client RCPT-01 (all refused), PIPE-07, REUSE-02.
#[test]
fn smtp_sink_hard_reject_of_rcpt() {
    if !SmtpSink::require() {
        return;
    }
    let sink = SmtpSink::start(SmtpSinkOptions {
        hard_reject: vec!["RCPT".to_owned()],
        ..SmtpSinkOptions::default()
    });
    let (input, _) = ascii_message("sink-reject");
    let to = ["a@sink.example", "b@sink.example"];
    let replies = Replies::default();
    let mut client = smtp_proto_blocking::SmtpClient::connect_with(
        sink.addr(),
        config(|_| {}),
        None,
        Duration::from_secs(10),
        Some(replies.callback()),
    )
    .unwrap();
    let report = client.send(envelope(SENDER, &to), &input).unwrap();
    client.quit().unwrap();
    for r in to {
        let o = outcome(&report, r);
        assert_eq!(
            (o.verdict, o.stage, o.local),
            (Verdict::Rejected, Stage::Rcpt, false),
            "{report:#?}"
        );
        assert_eq!(o.reply.code() / 100, 5, "{}", status(&o.reply));
    }
    let summary = replies.summary();
    assert!(
        !summary
            .iter()
            .any(|r| r.starts_with("DATA") || r.starts_with('.')),
        "{summary:?}"
    );
    assert!(
        summary.iter().any(|r| r.starts_with("RSET 2")),
        "{summary:?}"
    );
    std::thread::sleep(Duration::from_millis(200));
    assert!(sink.messages().is_empty(), "{:#?}", sink.messages());
}

/// smtp-sink with DSN: `RET`/`ENVID` on MAIL and `NOTIFY`/`ORCPT` on RCPT, as the
/// server records them, `dsn_sent`; the same envelope to a smtp-sink without DSN sends
/// none of them and says so. manual::client DSN-01, DSN-02.
#[test]
fn smtp_sink_dsn_parameters() {
    if !SmtpSink::require() {
        return;
    }
    let (input, _) = ascii_message("sink-dsn");
    let to = "b@sink.example";
    let dsn_envelope = || {
        let mut mail = MailParams::default();
        mail.ret = Some(Ret::Headers);
        mail.envid = Some("q1".to_owned());
        let mut rcpt = RcptParams::default();
        rcpt.notify = Some(Notify {
            success: true,
            failure: true,
            delay: false,
        });
        rcpt.orcpt = Some(Box::new(Orcpt {
            addr_type: "rfc822".to_owned(),
            address: to.to_owned(),
        }));
        Envelope::new(mailbox(SENDER))
            .to_with(mailbox(to), rcpt)
            .params(mail)
    };
    for dsn in [true, false] {
        let sink = SmtpSink::start(SmtpSinkOptions {
            no_dsn: !dsn,
            ..SmtpSinkOptions::default()
        });
        let (report, _wire) = send_recorded(sink.addr(), config(|_| {}), dsn_envelope(), &input);
        assert_delivered(&report);
        assert_eq!(report.dsn_sent, dsn, "{report:#?}");
        let messages = sink.wait_for_messages(1, STORE_TIMEOUT);
        let m = &messages[0];
        if dsn {
            assert_eq!(m.mail_params, ["RET=HDRS", "ENVID=q1"]);
            assert_eq!(
                m.rcpt_params,
                ["NOTIFY=SUCCESS,FAILURE", &format!("ORCPT=rfc822;{to}")]
            );
        } else {
            assert!(m.mail_params.is_empty(), "{:?}", m.mail_params);
            assert!(m.rcpt_params.is_empty(), "{:?}", m.rcpt_params);
        }
    }
}

/// TLS Required against smtp-sink, which offers no STARTTLS: the session fails with
/// `TlsUnavailable` after QUIT, and no MAIL is sent. manual::client CTLS-11.
#[test]
fn smtp_sink_required_tls_not_offered() {
    if !SmtpSink::require() {
        return;
    }
    let sink = SmtpSink::start(SmtpSinkOptions::default());
    let wire = Wire::default();
    let result = run(async {
        let stream = TcpStream::connect(sink.addr()).await.unwrap();
        let connection = client_connection(
            config(|c| c.tls = TlsPolicy::Required),
            Some(insecure_tls()),
            smtp_proto_tests::now(),
        )
        .unwrap();
        let mut client =
            smtp_proto_tokio::SmtpClient::new(Recorded::new(stream, wire.clone()), connection);
        client.ready().await.map(|_| ())
    });
    match result {
        Err(ClientError::Closed(CloseReason::TlsUnavailable)) => {}
        other => panic!("expected TlsUnavailable, got {other:?}\n{}", wire.show()),
    }
    assert_eq!(
        wire.commands(),
        [
            vec!["EHLO client.example".to_owned()],
            vec!["QUIT".to_owned()]
        ],
        "{}",
        wire.show()
    );
}

// --- aiosmtpd -----------------------------------------------------------------------------

const USER: &str = "dave";
const PASSWORD: &str = "s3cret";

fn aiosmtpd_auth(edit: impl FnOnce(&mut AiosmtpdOptions)) -> Aiosmtpd {
    let mut options = AiosmtpdOptions {
        auth: vec![(USER.to_owned(), PASSWORD.to_owned())],
        ..AiosmtpdOptions::default()
    };
    edit(&mut options);
    Aiosmtpd::start(options)
}

/// aiosmtpd with STARTTLS and AUTH PLAIN/LOGIN: policy Required, then AUTH PLAIN (the
/// client's first choice) over TLS; delivered with the login recorded.
/// manual::client CTLS-02, CTLS-05, AUTH-01, AUTH-02, AUTH-12.
#[test]
fn aiosmtpd_starttls_then_auth_plain() {
    if !Aiosmtpd::require() {
        return;
    }
    let peer = aiosmtpd_auth(|o| o.starttls = true);
    let (input, expected) = message("aiosmtpd-tls-plain");
    let to = rcpt("plain");
    let replies = Replies::default();
    let (report, session) = run(async {
        let mut client = smtp_proto_tokio::SmtpClient::connect_with(
            peer.addr(),
            config(|c| {
                c.tls = TlsPolicy::Required;
                c.auth = Some(ClientAuth::password(USER, PASSWORD));
            }),
            Some(insecure_tls()),
            Duration::from_secs(10),
            Some(replies.callback()),
        )
        .await
        .unwrap();
        let session = client.session().unwrap().clone();
        let report = client.send(envelope(SENDER, &[&to]), &input).await.unwrap();
        client.quit().await.unwrap();
        (report, session)
    });
    assert!(session.tls.is_some(), "{session:?}");
    assert_eq!(session.authenticated.as_deref(), Some("PLAIN"));
    assert_eq!(
        replies.summary()[..5],
        [
            "greeting 220",
            "EHLO 250",
            "STARTTLS 220",
            "EHLO 250",
            "AUTH 235"
        ]
    );
    assert_delivered(&report);
    let messages = peer.wait_for_messages(1, STORE_TIMEOUT);
    let m = &messages[0];
    assert_eq!(m.login.as_deref(), Some(USER));
    assert_eq!(m.rcpt_to, [to]);
    assert!(m.mail_params.contains(&"BODY=8BITMIME".to_owned()), "{m:?}");
    // aiosmtpd stores the exact bytes (after unstuffing): CR LF, dots and all.
    assert_content(m, &expected);
}

/// aiosmtpd's AUTH LOGIN: the test hides PLAIN from the EHLO reply (the line `AUTH LOGIN
/// PLAIN` is read as `AUTH LOGIN`), so the client falls back to LOGIN, which aiosmtpd
/// runs with its own prompts. manual::client AUTH-01, AUTH-05, AUTH-12.
#[test]
fn aiosmtpd_auth_login() {
    if !Aiosmtpd::require() {
        return;
    }
    let peer = aiosmtpd_auth(|_| {});
    let (input, expected) = ascii_message("aiosmtpd-login");
    let to = rcpt("login");
    let (report, authenticated, wire) = run(async {
        let (mut client, wire) = connect_recorded(
            peer.addr(),
            config(|c| {
                c.auth = Some(ClientAuth::password(USER, PASSWORD));
                c.auth_over_plaintext = true;
            }),
            Some((b"AUTH LOGIN PLAIN", b"AUTH LOGIN")),
        )
        .await
        .unwrap();
        let authenticated = client.session().unwrap().authenticated.clone();
        let report = client.send(envelope(SENDER, &[&to]), &input).await.unwrap();
        client.quit().await.unwrap();
        (report, authenticated, wire)
    });
    assert_eq!(authenticated.as_deref(), Some("LOGIN"), "{}", wire.show());
    assert_eq!(wire.commands()[1], ["AUTH LOGIN"], "{}", wire.show());
    assert_delivered(&report);
    let messages = peer.wait_for_messages(1, STORE_TIMEOUT);
    assert_eq!(messages[0].login.as_deref(), Some(USER));
    assert_content(&messages[0], &expected);
}

/// aiosmtpd refusing a wrong password (535), blocking client: `connect` fails with
/// `Closed(AuthFailed(Some(535)))` and nothing is stored. manual::client AUTH-10.
#[test]
fn aiosmtpd_wrong_password_fails_the_session() {
    if !Aiosmtpd::require() {
        return;
    }
    let peer = aiosmtpd_auth(|_| {});
    let result = smtp_proto_blocking::SmtpClient::connect_with(
        peer.addr(),
        config(|c| {
            c.auth = Some(ClientAuth::password(USER, "wrong"));
            c.auth_over_plaintext = true;
        }),
        None,
        Duration::from_secs(10),
        None,
    );
    match result {
        Err(ClientError::Closed(CloseReason::AuthFailed(Some(reply)))) => {
            assert_eq!(reply.code(), 535, "{}", status(&reply));
        }
        other => panic!("expected AuthFailed(535), got {other:?}"),
    }
    // The right password on a new connection, blocking client: delivered.
    let (input, expected) = ascii_message("aiosmtpd-blocking");
    let to = rcpt("blocking");
    let mut client = smtp_proto_blocking::SmtpClient::connect(
        peer.addr(),
        config(|c| {
            c.auth = Some(ClientAuth::password(USER, PASSWORD));
            c.auth_over_plaintext = true;
        }),
        None,
    )
    .unwrap();
    assert_eq!(
        client.session().unwrap().authenticated.as_deref(),
        Some("PLAIN")
    );
    let report = client.send(envelope(SENDER, &[&to]), &input).unwrap();
    client.quit().unwrap();
    assert_delivered(&report);
    let messages = peer.wait_for_messages(1, STORE_TIMEOUT);
    assert_eq!(messages.len(), 1, "the wrong password stored nothing");
    assert_eq!(messages[0].rcpt_to, [to]);
    assert_content(&messages[0], &expected);
}

/// aiosmtpd offering AUTH on a plaintext session: manual::client CTLS-13, credentials
/// are not sent in clear unless the configuration allows it (`auth_over_plaintext`,
/// default off); the session ends with `AuthNeedsTls`. (Found by this suite: the client
/// used to send them.)
#[test]
fn aiosmtpd_no_auth_in_clear_by_default() {
    if !Aiosmtpd::require() {
        return;
    }
    let peer = aiosmtpd_auth(|_| {});
    let (result, wire) = run(async {
        let connected = connect_recorded(
            peer.addr(),
            config(|c| c.auth = Some(ClientAuth::password(USER, PASSWORD))),
            None,
        )
        .await;
        match connected {
            Ok((client, wire)) => (Ok(client.session().cloned()), wire),
            Err(e) => (Err(e), Wire::default()),
        }
    });
    assert!(
        matches!(result, Err(ClientError::Closed(CloseReason::AuthNeedsTls))),
        "expected AuthNeedsTls, got {result:?}"
    );
    assert_eq!(
        count(&wire.all(), b"AUTH "),
        0,
        "credentials went in clear ({result:?}):\n{}",
        wire.show()
    );
    assert!(peer.messages().is_empty());
}

/// aiosmtpd with SMTPUTF8: UTF-8 envelope, 8-bit body, `SMTPUTF8` and `BODY=8BITMIME`
/// recorded by the server; one refused recipient at RCPT alongside. manual::client
/// I18N-02, I18N-05, RCPT-01.
#[test]
fn aiosmtpd_smtputf8() {
    if !Aiosmtpd::require() {
        return;
    }
    let peer = Aiosmtpd::start(AiosmtpdOptions {
        smtputf8: true,
        ..AiosmtpdOptions::default()
    });
    let from = "ü@client.example";
    let (to, fail) = (rcpt("jürgen"), rcpt("fail2"));
    let expected = "Subject: grüße\r\n\r\nnaïve\r\n.\r\n..\r\n"
        .as_bytes()
        .to_vec();
    let report = run(async {
        let mut client = smtp_proto_tokio::SmtpClient::connect(peer.addr(), config(|_| {}), None)
            .await
            .unwrap();
        let report = client
            .send(envelope(from, &[&to, &fail]), &lf_only(&expected))
            .await
            .unwrap();
        client.quit().await.unwrap();
        report
    });
    assert_eq!(
        outcome(&report, &to).verdict,
        Verdict::Delivered,
        "{report:#?}"
    );
    let refused = outcome(&report, &fail);
    assert_eq!(
        (refused.verdict, refused.stage),
        (Verdict::Rejected, Stage::Rcpt)
    );
    assert_eq!(refused.reply.code(), 550);
    let messages = peer.wait_for_messages(1, STORE_TIMEOUT);
    let m = &messages[0];
    assert_eq!(m.mail_from.as_deref(), Some(from));
    assert_eq!(m.rcpt_to, [to]);
    for param in ["SMTPUTF8", "BODY=8BITMIME"] {
        assert!(
            m.mail_params.contains(&param.to_owned()),
            "{:?}",
            m.mail_params
        );
    }
    assert_content(m, &expected);
}

/// aiosmtpd speaking LMTP: LHLO, three recipients accepted at RCPT, one reply per
/// recipient after the data, the second a 550: per-recipient results at `EndOfData`.
/// manual::client LMTP-01, EHLO-06.
#[test]
fn aiosmtpd_lmtp_per_recipient_results() {
    if !Aiosmtpd::require() {
        return;
    }
    let peer = Aiosmtpd::start(AiosmtpdOptions {
        lmtp: true,
        ..AiosmtpdOptions::default()
    });
    let (input, expected) = message("aiosmtpd-lmtp");
    let (a, fail, b) = (rcpt("a"), rcpt("fail1"), rcpt("b"));
    let replies = Replies::default();
    let report = run(async {
        let mut client = smtp_proto_tokio::SmtpClient::connect_with(
            peer.addr(),
            config(|c| c.protocol = Protocol::Lmtp),
            None,
            Duration::from_secs(10),
            Some(replies.callback()),
        )
        .await
        .unwrap();
        let report = client
            .send(envelope(SENDER, &[&a, &fail, &b]), &input)
            .await
            .unwrap();
        client.quit().await.unwrap();
        report
    });
    assert_eq!(replies.summary()[1], "LHLO 250");
    for ok in [&a, &b] {
        let o = outcome(&report, ok);
        assert_eq!(
            (o.verdict, o.stage),
            (Verdict::Delivered, Stage::EndOfData),
            "{report:#?}"
        );
    }
    let refused = outcome(&report, &fail);
    assert_eq!(
        (refused.verdict, refused.stage, refused.local),
        (Verdict::Rejected, Stage::EndOfData, false),
        "{report:#?}"
    );
    assert_eq!(refused.reply.code(), 550, "{}", status(&refused.reply));
    let ends: Vec<String> = replies
        .summary()
        .into_iter()
        .filter(|r| r.starts_with(". "))
        .collect();
    assert_eq!(ends, [". 250", ". 550", ". 250"]);
    let messages = peer.wait_for_messages(1, STORE_TIMEOUT);
    assert_eq!(messages[0].rcpt_to, [a, b]);
    assert_content(&messages[0], &expected);
}

/// Bodies at the edges, on one aiosmtpd connection (aiosmtpd stores the exact bytes): no
/// final line end, empty, a lone `.` line, and 300 KB streamed with `send_stream` (no SIZE,
/// pieces of 64 KiB, dot lines and bare LF across piece boundaries). manual::client
/// BODY-02, BODY-04, BODY-06, BODY-07, REUSE-01.
#[test]
fn aiosmtpd_edge_bodies() {
    if !Aiosmtpd::require() {
        return;
    }
    let peer = Aiosmtpd::start(AiosmtpdOptions::default());
    let mut streamed = Vec::new();
    let mut i = 0;
    while streamed.len() < 300_000 {
        streamed.extend_from_slice(format!("line {i}\n.\n..dots {i}\n").as_bytes());
        i += 1;
    }
    let cases: Vec<(Vec<u8>, Vec<u8>)> = vec![
        (b"a".to_vec(), b"a\r\n".to_vec()),
        (Vec::new(), Vec::new()),
        (b"x\r\n.\r\n".to_vec(), b"x\r\n.\r\n".to_vec()),
        (streamed.clone(), lf_to_crlf(&streamed)),
    ];
    let to = rcpt("edge");
    let reports = run(async {
        let mut client = smtp_proto_tokio::SmtpClient::connect(peer.addr(), config(|_| {}), None)
            .await
            .unwrap();
        let mut reports = Vec::new();
        for (input, _) in &cases[..3] {
            reports.push(client.send(envelope(SENDER, &[&to]), input).await.unwrap());
        }
        reports.push(
            client
                .send_stream(envelope(SENDER, &[&to]), &streamed[..])
                .await
                .unwrap(),
        );
        client.quit().await.unwrap();
        reports
    });
    for report in &reports {
        assert_delivered(report);
    }
    let messages = peer.wait_for_messages(cases.len(), STORE_TIMEOUT);
    assert_eq!(messages.len(), cases.len());
    for (m, (_, expected)) in messages.iter().zip(&cases) {
        assert_content(m, expected);
    }
    // The streamed message declared no SIZE (its size is not known in advance).
    assert!(
        messages[3].mail_params.is_empty(),
        "{:?}",
        messages[3].mail_params
    );
}

// --- blackhole ----------------------------------------------------------------------------

/// The one message in blackhole's Maildir, waited for.
fn maildir_one(dir: &TempDir) -> Vec<u8> {
    let deadline = smtp_proto_tests::now() + STORE_TIMEOUT;
    loop {
        let stored = maildir_messages(dir.path());
        if !stored.is_empty() {
            assert_eq!(stored.len(), 1);
            return stored.into_iter().next().unwrap();
        }
        assert!(smtp_proto_tests::now() < deadline, "nothing in the Maildir");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// blackhole, plaintext with PIPELINING and SMTPUTF8: one flight for the envelope, the
/// Maildir file holds exactly the CR LF-normalised, unstuffed message. manual::client
/// PIPE-02, BODY-01, BODY-04, I18N-02, BODY-11 (over a socket).
#[test]
fn blackhole_plain() {
    let dir = TempDir::new("interop-blackhole-plain");
    let blackhole = Blackhole::start_smtp(&["--maildir", dir.arg()]);
    let (input, expected) = message("blackhole-plain");
    let (report, wire) = send_recorded(
        blackhole.smtp_addr(),
        config(|_| {}),
        envelope(
            "ü@client.example",
            &["a@blackhole.localhost", "b@blackhole.localhost"],
        ),
        &input,
    );
    assert_delivered(&report);
    assert_eq!(wire.commands()[1].len(), 4, "{}", wire.show());
    assert!(
        wire.commands()[1][0].ends_with(" BODY=8BITMIME SMTPUTF8"),
        "{}",
        wire.show()
    );
    assert_bytes(&maildir_one(&dir), &expected, "blackhole Maildir");
}

/// blackhole with STARTTLS (self-signed, accepted on purpose), policy Required.
/// manual::client CTLS-02, CTLS-03, CTLS-05, CTLS-09.
#[test]
fn blackhole_starttls() {
    let dir = TempDir::new("interop-blackhole-tls");
    let blackhole = Blackhole::start_smtp(&["--maildir", dir.arg()]);
    let (input, expected) = message("blackhole-tls");
    let replies = Replies::default();
    let (report, tls) = run(async {
        let mut client = smtp_proto_tokio::SmtpClient::connect_with(
            blackhole.smtp_addr(),
            config(|c| c.tls = TlsPolicy::Required),
            Some(insecure_tls()),
            Duration::from_secs(10),
            Some(replies.callback()),
        )
        .await
        .unwrap();
        let tls = client.session().unwrap().tls.clone();
        let report = client
            .send(envelope(SENDER, &["a@blackhole.localhost"]), &input)
            .await
            .unwrap();
        client.quit().await.unwrap();
        (report, tls)
    });
    assert!(tls.is_some());
    assert_eq!(
        replies.summary()[..4],
        ["greeting 220", "EHLO 250", "STARTTLS 220", "EHLO 250"]
    );
    assert_delivered(&report);
    assert_bytes(&maildir_one(&dir), &expected, "blackhole Maildir");
}

/// blackhole's implicit-TLS listener, policy Implicit: TLS from the first byte, no
/// STARTTLS. manual::client CTLS-12.
#[test]
fn blackhole_implicit_tls() {
    let dir = TempDir::new("interop-blackhole-smtps");
    let blackhole = Blackhole::start(&[
        "--tls-listen",
        "127.0.0.1:0",
        "--quiet",
        "--maildir",
        dir.arg(),
    ]);
    let (input, expected) = message("blackhole-smtps");
    let replies = Replies::default();
    let (report, tls) = run(async {
        let mut client = smtp_proto_tokio::SmtpClient::connect_with(
            blackhole.smtps_addr(),
            config(|c| c.tls = TlsPolicy::Implicit),
            Some(insecure_tls()),
            Duration::from_secs(10),
            Some(replies.callback()),
        )
        .await
        .unwrap();
        let tls = client.session().unwrap().tls.clone();
        let report = client
            .send(envelope(SENDER, &["a@blackhole.localhost"]), &input)
            .await
            .unwrap();
        client.quit().await.unwrap();
        (report, tls)
    });
    assert!(tls.is_some());
    assert!(
        !replies.summary().iter().any(|r| r.starts_with("STARTTLS")),
        "{:?}",
        replies.summary()
    );
    assert_delivered(&report);
    assert_bytes(&maildir_one(&dir), &expected, "blackhole Maildir");
}

/// blackhole with CHUNKING, blocking client, `Chunking::WhenOffered(100)`: BDAT chunks,
/// the Maildir file byte for byte. manual::client BDAT-01, BDAT-02, BDAT-06.
#[test]
fn blackhole_bdat() {
    let dir = TempDir::new("interop-blackhole-bdat");
    let blackhole = Blackhole::start_smtp(&["--maildir", dir.arg()]);
    let (input, expected) = message("blackhole-bdat");
    let replies = Replies::default();
    let mut client = smtp_proto_blocking::SmtpClient::connect_with(
        blackhole.smtp_addr(),
        config(|c| c.chunking = Chunking::WhenOffered(100)),
        None,
        Duration::from_secs(10),
        Some(replies.callback()),
    )
    .unwrap();
    let report = client
        .send(envelope(SENDER, &["a@blackhole.localhost"]), &input)
        .unwrap();
    client.quit().unwrap();
    assert_delivered(&report);
    let bdat = replies
        .summary()
        .iter()
        .filter(|r| r.starts_with("BDAT 250"))
        .count();
    // One reply per chunk, the last one (`BDAT n LAST`) included; no DATA.
    assert_eq!(
        bdat,
        expected.len().div_ceil(100),
        "{:?}",
        replies.summary()
    );
    assert!(
        !replies.summary().iter().any(|r| r.starts_with("DATA")),
        "{:?}",
        replies.summary()
    );
    assert_bytes(&maildir_one(&dir), &expected, "blackhole Maildir");
}

/// blackhole's self-signed certificate against a verifying TLS configuration:
/// Opportunistic encrypts anyway (CTLS-09, Postfix `may`); Required refuses the
/// certificate, the handshake fails and nothing is sent in plaintext (CTLS-08, CTLS-10).
#[test]
fn blackhole_certificate_policies() {
    let dir = TempDir::new("interop-blackhole-verify");
    let blackhole = Blackhole::start_smtp(&["--maildir", dir.arg()]);
    let verifying = || {
        ClientTls::verified(smtp_proto::tls::rustls::RootCertStore::empty(), "localhost")
            .expect("a DNS name")
    };
    let (input, expected) = message("blackhole-opportunistic");
    let (report, tls) = run(async {
        let mut client = smtp_proto_tokio::SmtpClient::connect(
            blackhole.smtp_addr(),
            config(|c| c.tls = TlsPolicy::Opportunistic),
            Some(verifying()),
        )
        .await
        .unwrap();
        let tls = client.session().unwrap().tls.clone();
        let report = client
            .send(envelope(SENDER, &["a@blackhole.localhost"]), &input)
            .await
            .unwrap();
        client.quit().await.unwrap();
        (report, tls)
    });
    assert!(tls.is_some(), "opportunistic TLS was used");
    assert_delivered(&report);
    assert_bytes(&maildir_one(&dir), &expected, "blackhole Maildir");
    let refused = run(smtp_proto_tokio::SmtpClient::connect(
        blackhole.smtp_addr(),
        config(|c| c.tls = TlsPolicy::Required),
        Some(verifying()),
    ));
    assert!(
        matches!(
            refused,
            Err(ClientError::Closed(CloseReason::TlsUnavailable))
        ),
        "{refused:?}"
    );
    assert_eq!(maildir_messages(dir.path()).len(), 1, "nothing more stored");
}
