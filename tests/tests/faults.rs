//! Fault injection against both adapters and blackhole: 1-byte reads and writes
//! on either side, end of stream mid-command, mid-DATA and mid-BDAT-chunk, write errors,
//! broken TLS handshakes, `close_notify` in the middle of a BDAT chunk followed by
//! cleartext (TLS-11), slowloris, and a client that never reads its replies.
//!
//! Every read is bounded; the in-process servers use 1 s timeouts where a deadline is the
//! point, so each test takes a few seconds at most.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use smtp_proto::{CloseReason, ConnectionInfo};
use smtp_proto_tests::client::ReplyReader;
use smtp_proto_tests::faulty::{Faulty, Probe};
use smtp_proto_tests::servers::{
    Record, Recorder, Row, Setup, Target, Tls, WireServer, closes, run_rows, run_rows_behind_proxy,
    vm_rss_kib,
};
use smtp_proto_tests::tls::{insecure_client_config, server_name};
use smtp_proto_tests::wire::{escape, read_to_close};
use smtp_proto_tests::{Script, SmtpClient, data_payload, now, on_targets, sample_message};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

/// A ClientHello, as a real rustls client sends it.
fn client_hello() -> Vec<u8> {
    let mut conn = rustls::ClientConnection::new(insecure_client_config(), server_name()).unwrap();
    let mut hello = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut hello).unwrap();
    }
    hello
}

/// A message that goes through every target: [`sample_message`] (dot-stuffing, a long
/// line, 8-bit text).
fn message() -> Vec<u8> {
    sample_message("faults")
}

// ---- 1-byte reads on the server side: the client writes one byte at a time -----------

/// A whole session: EHLO, a pipelined DATA transaction, a BDAT transaction in one write,
/// STARTTLS, and a DATA transaction over TLS. With `piece`, every write is cut into
/// writes of that many bytes (over TLS: records of that many bytes).
fn wire_session(piece: Option<usize>, message: &[u8]) -> Script {
    let send = |s: Script, bytes: &[u8]| match piece {
        Some(n) => s.trickle(bytes, n),
        None => s.send(bytes),
    };
    let mut s = Script::new().greeting();
    s = send(s, b"EHLO c.example\r\n").reply(250, "");
    s = send(
        s,
        b"MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\nRCPT TO:<c@y.example>\r\nDATA\r\n",
    )
    .reply(250, "2.1.0")
    .reply(250, "2.1.5")
    .reply(250, "2.1.5")
    .reply(354, "");
    s = send(s, &data_payload(message)).reply(250, "2.0.0");
    s = send(
        s,
        b"MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\nBDAT 5\r\nhelloBDAT 6 LAST\r\n world",
    )
    .reply(250, "2.1.0")
    .reply(250, "2.1.5")
    .reply(250, "2.0.0")
    .reply(250, "2.0.0");
    s = send(s, b"STARTTLS\r\n").reply(220, "2.0.0").tls();
    s = send(s, b"EHLO c.example\r\n").reply(250, "");
    s = send(
        s,
        b"MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\nDATA\r\n",
    )
    .reply(250, "2.1.0")
    .reply(250, "2.1.5")
    .reply(354, "");
    s = send(s, &data_payload(message)).reply(250, "2.0.0");
    send(s, b"QUIT\r\n").reply(221, "2.0.0").closed()
}

/// The client writes the session one byte per write (TCP_NODELAY, no sleeps): the replies
/// and the stored bytes are those of the same session written normally.
fn one_byte_client_writes(target: Target) {
    let server = WireServer::start(target, &Setup::new());
    let message = message();
    let replies = |transcript: Vec<String>| -> Vec<String> {
        transcript
            .into_iter()
            .filter(|l| l.starts_with("S: "))
            .collect()
    };
    let normal = wire_session(None, &message)
        .run(server.addr)
        .unwrap_or_else(|e| panic!("{target:?} normal session: {e}"));
    let normal_stored = server.take_delivered();
    let mut expected = vec![message.clone(), message.clone(), b"hello world".to_vec()];
    expected.sort();
    assert_eq!(normal_stored, expected, "{target:?}: the normal session");
    let normal_log = server
        .record()
        .map(|r| r.wait_closes(1, Duration::from_secs(5)));

    let bytewise = wire_session(Some(1), &message)
        .run(server.addr)
        .unwrap_or_else(|e| panic!("{target:?} one byte per write: {e}"));
    assert_eq!(
        replies(bytewise),
        replies(normal),
        "{target:?}: the replies"
    );
    assert_eq!(
        server.take_delivered(),
        expected,
        "{target:?}: the stored bytes"
    );
    if let (Some(record), Some(first)) = (server.record(), normal_log) {
        let log = record.wait_closes(2, Duration::from_secs(5));
        assert_eq!(
            log[first.len()..],
            first[..],
            "{target:?}: the handler's calls"
        );
    }
}

// ---- 1-byte reads and writes on the server's transport (tokio, duplex) ---------------

/// What one session over a duplex pipe gave.
struct Outcome {
    /// Everything the client received.
    received: Vec<u8>,
    /// Whether every step got its replies.
    completed: bool,
    /// What `serve` returned.
    result: std::io::Result<CloseReason>,
    /// The handler's calls.
    log: Vec<String>,
    /// The messages the handler accepted.
    delivered: Vec<Vec<u8>>,
    /// What the server did to the transport.
    probe: Arc<Probe>,
}

/// The client of a duplex session: for each step, write its bytes, then read until that
/// many more replies are complete; then read to the end. Stops early at the end of the
/// stream (`completed` false).
async fn converse(mut io: DuplexStream, steps: &[(Vec<u8>, usize)]) -> (Vec<u8>, bool) {
    let mut received = Vec::new();
    let mut reader = ReplyReader::new();
    let mut chunk = vec![0u8; 4096];
    for (bytes, replies) in steps {
        if !bytes.is_empty() && io.write_all(bytes).await.is_err() {
            return (received, false);
        }
        let mut got = 0;
        while got < *replies {
            match reader.next_reply() {
                Ok(Some(_)) => {
                    got += 1;
                    continue;
                }
                Ok(None) => {}
                Err(_) => return (received, false),
            }
            match io.read(&mut chunk).await {
                Ok(0) | Err(_) => return (received, false),
                Ok(n) => {
                    received.extend_from_slice(&chunk[..n]);
                    reader.feed(&chunk[..n]);
                }
            }
        }
    }
    loop {
        match io.read(&mut chunk).await {
            Ok(0) | Err(_) => return (received, true),
            Ok(n) => received.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Runs `smtp_proto_tokio::serve` over one end of a duplex pipe wrapped by `wrap`, and
/// [`converse`] on the other; both bounded by 10 s.
async fn serve_duplex(
    wrap: impl FnOnce(DuplexStream) -> Faulty<DuplexStream>,
    setup: &Setup,
    steps: &[(Vec<u8>, usize)],
) -> Outcome {
    let (client, server_side) = tokio::io::duplex(64 * 1024);
    let record = Arc::new(Record::default());
    let endpoint = setup.endpoint();
    let transport = wrap(server_side);
    let probe = transport.probe();
    let handler = Recorder::new(record.clone());
    let addr: SocketAddr = "127.0.0.1:25".parse().unwrap();
    let info = ConnectionInfo::new(addr, addr);
    let server =
        tokio::spawn(
            async move { smtp_proto_tokio::serve(transport, handler, &endpoint, info).await },
        );
    let (received, completed) =
        tokio::time::timeout(Duration::from_secs(10), converse(client, steps))
            .await
            .expect("the client's side ends within 10 s");
    let result = tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("serve returns within 10 s")
        .expect("serve does not panic");
    Outcome {
        received,
        completed,
        result,
        log: record.log(),
        delivered: record.take_delivered(),
        probe,
    }
}

/// The plaintext session of the duplex tests, as (bytes to write, replies to wait for).
fn duplex_steps() -> Vec<(Vec<u8>, usize)> {
    vec![
        (Vec::new(), 1),
        (b"EHLO c.example\r\n".to_vec(), 1),
        (
            b"MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\nDATA\r\n".to_vec(),
            3,
        ),
        (data_payload(&message()), 1),
        (
            b"MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\nBDAT 5\r\nhelloBDAT 6 LAST\r\n world"
                .to_vec(),
            4,
        ),
        (b"QUIT\r\n".to_vec(), 1),
    ]
}

/// How a test wraps the server's end of the pipe.
type Wrap = fn(DuplexStream) -> Faulty<DuplexStream>;

/// The shared profile without TLS (a duplex pipe).
fn plaintext() -> Setup {
    let mut setup = Setup::new();
    setup.tls = Tls::Off;
    setup
}

/// A transport that returns at most one byte per `poll_read`, one that accepts at most
/// one byte per `poll_write`, and both: the client sees the same bytes, the handler the
/// same calls and messages, as over an unchanged pipe.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_one_byte_server_reads_and_writes() {
    let steps = duplex_steps();
    let setup = plaintext();
    let plain = serve_duplex(Faulty::new, &setup, &steps).await;
    assert!(
        plain.completed,
        "plain session: {}",
        escape(&plain.received)
    );
    assert_eq!(plain.result.as_ref().ok(), Some(&CloseReason::Quit));
    let mut expected = vec![message(), b"hello world".to_vec()];
    expected.sort();
    let mut stored = plain.delivered.clone();
    stored.sort();
    assert_eq!(stored, expected);
    let cases: [(&str, Wrap); 3] = [
        ("1-byte reads", |s| Faulty::new(s).max_read(1)),
        ("1-byte writes", |s| Faulty::new(s).max_write(1)),
        ("1-byte reads and writes", |s| {
            Faulty::new(s).max_read(1).max_write(1)
        }),
    ];
    for (name, wrap) in cases {
        let out = serve_duplex(wrap, &setup, &steps).await;
        assert!(out.completed, "{name}: {}", escape(&out.received));
        assert_eq!(out.received, plain.received, "{name}: the client's bytes");
        assert_eq!(out.log, plain.log, "{name}: the handler's calls");
        assert_eq!(out.delivered, plain.delivered, "{name}: the messages");
        assert_eq!(out.result.as_ref().ok(), Some(&CloseReason::Quit), "{name}");
        assert_eq!(
            out.probe.written.load(Ordering::SeqCst),
            plain.received.len(),
            "{name}"
        );
    }
}

// ---- Write errors ---------------------------------------------------------------------

/// CVE-2020-28018 "OCORK" class: a transport whose writes fail after N bytes, at several
/// points of a session (the greeting, the EHLO reply, the 354, the 250 for a message, the
/// 221). The session ends, `serve` returns the error, the handler hears `close` (and
/// `message_aborted` when a message was open), nothing is written after the failure,
/// nothing panics, and it all ends within the bounds of `serve_duplex`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_write_errors_end_the_session() {
    let steps = duplex_steps();
    let setup = plaintext();
    let plain = serve_duplex(Faulty::new, &setup, &steps).await;
    let at = |needle: &[u8]| {
        plain
            .received
            .windows(needle.len())
            .position(|w| w == needle)
            .unwrap_or_else(|| panic!("{} not in the plain session", escape(needle)))
    };
    let greeting = at(b"\r\n") + 2;
    let points = [
        ("the greeting", 0, false),
        ("mid-greeting", 10, false),
        ("the EHLO reply", greeting + 20, false),
        ("the 354", at(b"354 ") + 2, true),
        ("the 250 for the message", at(b"250 2.0.0") + 3, false),
        ("the 221", plain.received.len() - 5, false),
    ];
    for (name, fail_at, message_open) in points {
        let out = serve_duplex(
            move |s| Faulty::new(s).fail_writes_after(fail_at),
            &setup,
            &steps,
        )
        .await;
        let log = &out.log;
        assert!(
            out.result.is_err(),
            "{name}: serve returned {:?}",
            out.result
        );
        assert!(out.probe.failed.load(Ordering::SeqCst), "{name}");
        assert_eq!(
            out.probe.writes_after_failure.load(Ordering::SeqCst),
            0,
            "{name}: a write after the failure"
        );
        assert!(out.received.len() <= fail_at, "{name}");
        assert_eq!(closes(log), 1, "{name}: {log:?}");
        assert!(
            log.last().is_some_and(|e| e.starts_with("close ")),
            "{name}: {log:?}"
        );
        if message_open {
            assert!(
                log.contains(&"aborted SessionEnded".to_owned()),
                "{name}: {log:?}"
            );
            assert!(out.delivered.is_empty(), "{name}");
        }
    }
}

/// A write error in the middle of the implicit-TLS handshake: the session ends, TLS never
/// comes up, the handler hears `close`, nothing is written after the failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_write_error_during_the_tls_handshake() {
    let mut setup = Setup::new();
    setup.tls = Tls::Implicit;
    let out = serve_duplex(
        |s| Faulty::new(s).fail_writes_after(100),
        &setup,
        &[(client_hello(), 0)],
    )
    .await;
    assert!(out.result.is_err(), "serve returned {:?}", out.result);
    assert!(out.received.len() <= 100);
    assert_eq!(out.probe.writes_after_failure.load(Ordering::SeqCst), 0);
    assert_eq!(closes(&out.log), 1, "{:?}", out.log);
    assert!(
        !out.log.iter().any(|e| e.starts_with("tls ")),
        "{:?}",
        out.log
    );
}

// ---- End of stream in the middle of things ------------------------------------------

/// EOF mid-command, mid-DATA (also right after `\r\n.` and `\r\n.\r`, which are not the
/// end of data), mid-BDAT-chunk, one octet short of a chunk, between chunks and in a BDAT
/// header: the server closes without a reply, stores nothing, the handler hears
/// `message_aborted` where a message was open and `close PeerEof`; then the server serves
/// the next client.
fn eof_mid_command_data_and_bdat(target: Target) {
    run_rows(target, &eof_rows());
}

/// The rows of [`eof_mid_command_data_and_bdat`].
fn eof_rows() -> Vec<Row> {
    let eof = |id, transactions, script: Script, message_open: bool| {
        let row = Row::new(id, transactions, script.eof().closed())
            .present("close PeerEof")
            .absent("message ");
        if message_open {
            row.present("aborted SessionEnded")
        } else {
            row.absent("aborted")
        }
    };
    vec![
        eof(
            "EOF before the first command is complete",
            0,
            Script::new().greeting().send(b"EHL"),
            false,
        ),
        eof(
            "EOF mid-command in a transaction",
            1,
            Script::new().in_transaction().send(b"RCPT TO:<c@y.exa"),
            false,
        )
        .absent("rcpt <c@"),
        eof(
            "EOF mid-DATA",
            1,
            Script::new().in_data().send(b"Subject: x\r\n\r\nhalf a li"),
            true,
        ),
        eof(
            "EOF after \\r\\n. (not the end of data)",
            1,
            Script::new().in_data().send(b"Subject: x\r\n\r\nbody\r\n."),
            true,
        ),
        eof(
            "EOF after \\r\\n.\\r (not the end of data)",
            1,
            Script::new()
                .in_data()
                .send(b"Subject: x\r\n\r\nbody\r\n.\r"),
            true,
        ),
        eof(
            "EOF mid-BDAT chunk",
            1,
            Script::new()
                .in_transaction()
                .send(b"BDAT 100\r\n0123456789"),
            true,
        ),
        eof(
            "EOF one octet short of a BDAT LAST chunk (Exim 0900)",
            1,
            Script::new()
                .in_transaction()
                .send([&b"BDAT 89 LAST\r\n"[..], &[b'z'; 88]].concat()),
            true,
        ),
        eof(
            "EOF between BDAT chunks",
            1,
            Script::new()
                .in_transaction()
                .send(b"BDAT 5\r\nhello")
                .reply(250, "2.0.0"),
            true,
        ),
        eof(
            "EOF in a BDAT command line",
            1,
            Script::new().in_transaction().send(b"BDAT 10"),
            false,
        ),
        Row::new(
            "the next client is served",
            1,
            Script::new()
                .in_data()
                .send(b"ok\r\n.\r\n")
                .reply(250, "2.0.0")
                .quit(),
        )
        .delivers(&[b"ok\r\n"]),
    ]
}

// ---- TLS handshake failures -----------------------------------------------------------

/// Implicit TLS (RFC 8314).
fn implicit(setup: &mut Setup) {
    setup.tls = Tls::Implicit;
}

/// TLS-10: garbage after the `220` to STARTTLS, a client that closes mid-handshake (part
/// of a ClientHello, or all of it, then EOF), and the same on an implicit-TLS listener
/// (adapters; blackhole's implicit-TLS garbage case is in `adversarial.rs`). The server
/// closes having sent nothing but TLS records, never runs the plaintext that followed,
/// and serves the next client.
fn tls_handshake_failures(target: Target) {
    let garbage = b"GARBAGE, NOT TLS\r\nEHLO evil.example\r\nMAIL FROM:<a@b.example>\r\n";
    let hello = client_hello();
    let starttls = || Script::new().greeted().cmd("STARTTLS", 220, "2.0.0");
    let rows = vec![
        Row::new(
            "TLS-10 garbage after the 220",
            0,
            starttls().send(garbage).closed_tls(),
        )
        .present("close TlsFailed")
        .absent("evil"),
        Row::new(
            "client closes after part of a ClientHello",
            0,
            starttls().send(&hello[..40]).eof().closed_tls(),
        )
        .absent("tls "),
        Row::new(
            "client closes after its ClientHello",
            0,
            starttls().send(&hello).eof().closed_tls(),
        )
        .absent("tls "),
        Row::new(
            "implicit TLS: garbage",
            0,
            Script::new().send(garbage).closed_tls(),
        )
        .present("close TlsFailed")
        .absent("evil")
        .tweak(implicit),
        Row::new(
            "implicit TLS: client closes after part of a ClientHello",
            0,
            Script::new().send(&hello[..40]).eof().closed_tls(),
        )
        .absent("tls ")
        .tweak(implicit),
        Row::new(
            "the next client is served",
            1,
            Script::new()
                .greeted()
                .starttls()
                .ehlo()
                .mail_rcpt()
                .cmd("DATA", 354, "")
                .send(b"ok\r\n.\r\n")
                .reply(250, "2.0.0")
                .quit(),
        )
        .delivers(&[b"ok\r\n"]),
    ];
    run_rows(target, &rows);
}

/// TLS-11 (Exim CVE-2026-45185 "Dead.Letter"): over STARTTLS, `BDAT 100` and 10 octets,
/// then the client's `close_notify`, then cleartext (`X`, or a whole `NOOP` line): the
/// message is aborted, the session closes, the cleartext is never parsed (no plaintext
/// reply), nothing is stored, and the server keeps serving.
fn close_notify_mid_bdat_then_cleartext(target: Target) {
    for cleartext in [&b"X"[..], b"NOOP\r\n"] {
        let server = WireServer::start(target, &Setup::new());
        let mut c = SmtpClient::connect_ehlo(server.addr);
        c.starttls();
        c.ehlo("c.example");
        c.expect("MAIL FROM:<a@x.example>", 250);
        c.expect("RCPT TO:<b@y.example>", 250);
        c.send(b"BDAT 100\r\n0123456789");
        let tls = c.tls().expect("TLS is active");
        tls.conn.send_close_notify();
        while tls.conn.wants_write() {
            tls.conn.write_tls(&mut tls.sock).unwrap();
        }
        (&tls.sock).write_all(cleartext).unwrap();
        let raw = read_to_close(&tls.sock).unwrap_or_else(|e| panic!("{target:?}: {e}"));
        assert!(
            raw.first().is_none_or(|b| (0x14..=0x17).contains(b)),
            "{target:?}: plaintext after close_notify: {}",
            escape(&raw)
        );
        if let Some(record) = server.record() {
            let log = record.wait_closes(1, Duration::from_secs(5));
            assert!(log.contains(&"aborted SessionEnded".to_owned()), "{log:?}");
            assert!(!log.iter().any(|e| e.starts_with("message ")), "{log:?}");
            assert_eq!(closes(&log), 1, "{log:?}");
            eprintln!("{target:?} {}: {log:?}", escape(cleartext));
        }
        assert!(server.take_delivered().is_empty(), "{target:?}: stored");
        Script::new()
            .in_data()
            .send(b"ok\r\n.\r\n")
            .reply(250, "2.0.0")
            .quit()
            .run(server.addr)
            .unwrap_or_else(|e| panic!("{target:?}: the next client: {e}"));
        assert_eq!(server.take_delivered(), vec![b"ok\r\n".to_vec()]);
    }
}

// ---- Slowloris --------------------------------------------------------------------------

/// `timeouts.command` = 1 s; after its last reply the client sends one byte of a command
/// every 200 ms, forever. The trickle does not extend the deadline: `421 4.4.2` comes
/// about 1 s after the last reply (asserted: between 0.8 s and 3 s), then the close, and the
/// handler hears `close Timeout`. Before EHLO (after the greeting) and after it.
fn slowloris_is_cut_at_the_command_deadline(target: Target) {
    let mut setup = Setup::new();
    setup.config.timeouts.command = Duration::from_secs(1);
    let server = WireServer::start(target, &setup);
    for (round, after_ehlo) in [false, true].into_iter().enumerate() {
        let mut c = SmtpClient::connect(server.addr);
        c.expect_greeting();
        if after_ehlo {
            c.ehlo("c.example");
        }
        let last_reply = now();
        let stop = Arc::new(AtomicBool::new(false));
        let trickler = {
            let stop = stop.clone();
            let mut tcp = c.tcp().try_clone().unwrap();
            thread::spawn(move || {
                let mut bytes = b"NOOP ".iter().chain(std::iter::repeat(&b'x'));
                while !stop.load(Ordering::SeqCst) {
                    let byte = *bytes.next().unwrap_or(&b'x');
                    if tcp.write_all(&[byte]).is_err() {
                        break;
                    }
                    thread::sleep(Duration::from_millis(200));
                }
            })
        };
        c.set_timeout(Duration::from_secs(5));
        let reply = c.try_read_reply();
        let elapsed = now() - last_reply;
        let closed = reply
            .is_ok()
            .then(|| c.expect_closed(Duration::from_secs(3)));
        stop.store(true, Ordering::SeqCst);
        trickler.join().unwrap();
        let reply = reply.unwrap_or_else(|e| panic!("{target:?}: no 421: {e}"));
        assert_eq!(reply.code, 421, "{target:?}: {reply}");
        assert!(reply.lines[0].starts_with("4.4.2"), "{target:?}: {reply}");
        assert!(
            elapsed >= Duration::from_millis(800) && elapsed <= Duration::from_secs(3),
            "{target:?} (after EHLO: {after_ehlo}): 421 after {elapsed:?}"
        );
        assert_eq!(
            closed.map(|c| c.len()),
            Some(0),
            "{target:?}: after the 421"
        );
        if let Some(record) = server.record() {
            let log = record.wait_closes(round + 1, Duration::from_secs(5));
            assert_eq!(
                log.iter().filter(|e| *e == "close Timeout").count(),
                round + 1,
                "{log:?}"
            );
        }
    }
}

// ---- A client that never reads ------------------------------------------------------

/// 64 KiB of pipelined `RSET` lines (RSET may be pipelined; NOOP may not, see
/// [`pipelined_noops_are_a_sync_violation`]): 10922 commands whose replies are 2.3 times
/// their size.
fn rset_chunk() -> Vec<u8> {
    b"RSET\r\n".repeat(64 * 1024 / 6)
}

/// Connects, says EHLO, then writes `RSET` lines without ever reading, until a write
/// blocks for `stall` or fails, or 64 MiB were written. Returns the client and the bytes
/// written.
fn flood(addr: SocketAddr, stall: Duration) -> (SmtpClient, usize) {
    let c = SmtpClient::connect_ehlo(addr);
    c.tcp().set_write_timeout(Some(stall)).unwrap();
    let chunk = rset_chunk();
    let mut written = 0;
    while written < 64 * 1024 * 1024 {
        let mut tcp = c.tcp();
        match tcp.write(&chunk) {
            Ok(n) => written += n,
            Err(_) => break,
        }
    }
    (c, written)
}

/// A session that delivers one message, for "the server keeps serving meanwhile".
fn deliver_one(addr: SocketAddr) {
    Script::new()
        .in_data()
        .send(b"meanwhile\r\n.\r\n")
        .reply(250, "2.0.0")
        .quit()
        .run(addr)
        .unwrap_or_else(|e| panic!("a second client while the first floods: {e}"));
}

/// blackhole: a client pipelines `RSET`s without reading. The server stops reading when
/// its replies cannot leave (the client's writes stall well before 64 MiB), its resident
/// memory grows by less than 16 MiB, and it keeps serving other clients meanwhile. When
/// the flooding client then vanishes with its replies unread (a reset: the server's
/// blocked write fails), the server is still fine.
#[test]
fn blackhole_never_reading_client() {
    let server = WireServer::start(Target::Blackhole, &Setup::new());
    let pid = server.blackhole().unwrap().pid();
    let before = vm_rss_kib(pid);
    let (flooder, written) = flood(server.addr, Duration::from_secs(1));
    let during = vm_rss_kib(pid);
    eprintln!(
        "blackhole: client wrote {written} bytes before its writes stalled; VmRSS {before} KiB before, {during} KiB during"
    );
    assert!(
        written < 64 * 1024 * 1024,
        "the server read all 64 MiB while its replies could not leave"
    );
    assert!(
        during < before + 16 * 1024,
        "VmRSS grew from {before} KiB to {during} KiB"
    );
    deliver_one(server.addr);
    drop(flooder);
    deliver_one(server.addr);
    assert_eq!(server.take_delivered().len(), 2);
    assert!(vm_rss_kib(pid) < before + 16 * 1024);
}

/// Adapters, `timeouts.command` = `timeouts.data` = 1 s: a client pipelines `RSET`s without
/// reading. The server's write blocks, the write deadline (from `poll_timeout`) passes, the
/// session closes and the handler hears `close` within 5 s; meanwhile another client is
/// served.
fn never_reading_client_is_closed_at_the_write_deadline(target: Target) {
    let mut setup = Setup::new();
    setup.config.timeouts.command = Duration::from_secs(1);
    setup.config.timeouts.data = Duration::from_secs(1);
    let server = WireServer::start(target, &setup);
    let addr = server.addr;
    let started = now();
    let flooding = thread::spawn(move || flood(addr, Duration::from_secs(5)));
    thread::sleep(Duration::from_millis(300));
    deliver_one(addr);
    let record = server.record().unwrap();
    let log = record.wait_for(Duration::from_secs(5), |l| {
        l.iter()
            .any(|e| e.starts_with("close ") && e != "close Quit")
    });
    let closed_after = now() - started;
    let (flooder, written) = flooding.join().unwrap();
    eprintln!(
        "{target:?}: client wrote {written} bytes; flood session closed after {closed_after:?}"
    );
    assert!(
        log.iter()
            .any(|e| e.starts_with("close ") && e != "close Quit"),
        "{target:?}: the flooding session was not closed within 5 s: {log:?}"
    );
    assert!(written < 64 * 1024 * 1024, "{target:?}: read all 64 MiB");
    drop(flooder);
    assert_eq!(server.take_delivered(), vec![b"meanwhile\r\n".to_vec()]);
}

/// Default timeouts (5 min, so a deadline cannot be what ends it): a client floods
/// `RSET`s without reading until its writes stall, then vanishes with its replies unread
/// (the kernel resets the connection). The server's blocked write fails, the session ends
/// and the handler hears `close` within 5 s.
fn reset_while_the_server_writes(target: Target) {
    let server = WireServer::start(target, &Setup::new());
    let (flooder, written) = flood(server.addr, Duration::from_millis(500));
    assert!(written < 64 * 1024 * 1024, "{target:?}: read all 64 MiB");
    drop(flooder);
    let log = server
        .record()
        .unwrap()
        .wait_closes(1, Duration::from_secs(5));
    assert_eq!(closes(&log), 1, "{target:?}: {log:?}");
    deliver_one(server.addr);
}

/// Pipelined `NOOP`s (a command that must end a pipelined group, RFC 2920 §3.1): the
/// first one is a synchronisation violation, `554 5.5.0` and close; the rest is never
/// answered.
fn pipelined_noops_are_a_sync_violation(target: Target) {
    let rows = vec![Row::new(
        "NOOP flood",
        0,
        Script::new()
            .greeted()
            .send(b"NOOP\r\n".repeat(10_000))
            .reply(554, "5.5.0")
            .closed(),
    )];
    run_rows(target, &rows);
}

on_targets!(
    [Blackhole, Tokio, Blocking]:
    one_byte_client_writes,
    eof_mid_command_data_and_bdat,
    tls_handshake_failures,
    close_notify_mid_bdat_then_cleartext,
    pipelined_noops_are_a_sync_violation,
);

/// The tests that need the adapters' short timeouts or their handler's log.
mod adapters {
    use super::*;
    on_targets!(
        [Tokio, Blocking]:
        slowloris_is_cut_at_the_command_deadline,
        never_reading_client_is_closed_at_the_write_deadline,
        reset_while_the_server_writes,
    );
}

// ---- Behind a load balancer (manual::proxy PX-6) ------------------------------------------

/// The session written one byte per write and the end-of-stream rows, through a forwarder
/// that puts a PROXY v2 header in front of each connection, against a blackhole that
/// requires one: the replies, the stored bytes and the closes are those without it.
#[test]
fn faults_behind_a_proxy_header() {
    let (server, _forwarder) = WireServer::blackhole_behind_proxy();
    let message = message();
    let mut expected = vec![message.clone(), message.clone(), b"hello world".to_vec()];
    expected.sort();
    for piece in [None, Some(1)] {
        wire_session(piece, &message)
            .run(server.addr)
            .unwrap_or_else(|e| panic!("{piece:?} behind a PROXY header: {e}"));
        assert_eq!(server.take_delivered(), expected, "{piece:?}");
    }
    drop(server);
    run_rows_behind_proxy(&eof_rows());
}
