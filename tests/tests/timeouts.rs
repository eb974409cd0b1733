//! Timeouts (RFC 5321 §4.5.3.2, manual::conformance R-TIMEOUT-1) and the application's
//! `shutdown()` (RFC 5321 §3.8, R-421-1).
//!
//! The server waits 300 s for each command line, counted from the moment it is ready for
//! it; trickling the bytes of a line does not extend that (slowloris). In DATA and BDAT,
//! every read that carries content restarts a 300 s data timer. While the application
//! owes a decision, no timer runs. Expiry: `421 4.4.2 <host> Error: timeout exceeded`,
//! then close.

use std::time::Duration;

use smtp_proto::{ApiMisuse, Event};
use smtp_proto_tests::transcript::{EHLO_E, GREETING, TX_E, config, script, t0, transcript};

const TIMEOUT: &str = "S: 421 4.4.2 mx.example Error: timeout exceeded\n";

const SHUTDOWN_421: &str =
    "S: 421 4.3.2 mx.example Service not available, closing transmission channel\n";

// ---- Command timeout ---------------------------------------------------------------------

/// R-TIMEOUT-1 (RFC 5321 §4.5.3.2.7): 300 s after the greeting with no command, the
/// server sends `421 4.4.2` and closes; a timer call before the deadline does nothing,
/// and nothing happens after the close.
#[test]
fn timeout_command_300s_after_greeting() {
    transcript(
        config(),
        &script(&[
            GREETING,
            "T: +299\nT: +1\n",
            TIMEOUT,
            r"
            E: Closed Timeout
            C: NOOP\r\n
            T: +1000
            ",
        ]),
    );
}

/// R-TIMEOUT-1: the command timer restarts when a reply leaves (here at t=200 after
/// EHLO), so the deadline is t=500.
#[test]
fn timeout_command_restarts_after_each_reply() {
    transcript(
        config(),
        &script(&[
            GREETING,
            "T: +200\n",
            EHLO_E,
            "T: +299\n",
            r"
            C: NOOP\r\n
            S: 250 2.0.0 Ok
            T: +299
            T: +1
            ",
            TIMEOUT,
            "E: Closed Timeout\n",
        ]),
    );
}

/// R-TIMEOUT-1, slowloris: bytes of an incomplete command line trickling in do not extend
/// the 300 s the client has for the whole line.
#[test]
fn timeout_slowloris_trickle_does_not_extend() {
    transcript(
        config(),
        &script(&[
            GREETING,
            r"
            C: E
            T: +100
            C: H
            T: +100
            C: L
            T: +99
            C: O
            T: +1
            ",
            TIMEOUT,
            "E: Closed Timeout\n",
        ]),
    );
    transcript(
        config(),
        &script(&[
            GREETING,
            EHLO_E,
            r"
            C: MAIL FROM:<a
            T: +150
            C: @x.example
            T: +149
            C: >
            T: +1
            ",
            TIMEOUT,
            "E: Closed Timeout\n",
        ]),
    );
}

/// R-TIMEOUT-1: the timer also runs while the client owes an AUTH response line (after a
/// `334`).
#[test]
fn timeout_during_sasl_exchange() {
    transcript(
        config(),
        &script(&[
            GREETING,
            r"
            C: STARTTLS\r\n
            S: 220 2.0.0 Ready to start TLS
            E: StartTls discarded=0
            TLS
            ",
            &EHLO_E.replace(
                "S: 250-STARTTLS\n",
                "S: 250-REQUIRETLS\nS: 250-AUTH PLAIN LOGIN XTEST\n",
            ),
            r"
            C: AUTH LOGIN\r\n
            S: 334 VXNlcm5hbWU6
            C: dXNl
            T: +299
            T: +1
            ",
            TIMEOUT,
            "E: Closed Timeout\n",
        ]),
    );
}

/// R-TIMEOUT-1: a client that never starts the TLS handshake after STARTTLS is dropped
/// after 300 s, without a plaintext reply (the channel is mid-handshake).
#[test]
fn timeout_during_tls_handshake_no_reply() {
    transcript(
        config(),
        &script(&[
            GREETING,
            EHLO_E,
            r"
            C: STARTTLS\r\n
            S: 220 2.0.0 Ready to start TLS
            E: StartTls discarded=0
            T: +299
            T: +1
            E: Closed Timeout
            ",
        ]),
    );
}

// ---- Data timeout ------------------------------------------------------------------------

/// R-TIMEOUT-1 (RFC 5321 §4.5.3.2.7, the client's §4.5.3.2.5/6 timers): in DATA, each read
/// carrying content restarts the 300 s timer; when it finally expires the message is
/// aborted, the transaction dropped and the session closed with `421 4.4.2`.
#[test]
fn timeout_data_extended_by_content() {
    transcript(
        config(),
        &script(&[
            GREETING,
            EHLO_E,
            TX_E,
            r#"
            C: DATA\r\n
            E: DataStart
            S: 354 End data with <CR><LF>.<CR><LF>
            T: +299
            C: Subject: slow\r\n
            E: Content "Subject: slow\r\n"
            T: +299
            C: \r\nbody
            E: Content "\r\nbody"
            T: +299
            C: !
            E: Content "!"
            T: +299
            T: +1
            "#,
            TIMEOUT,
            r"
            E: MessageAborted SessionEnded
            E: TransactionReset
            E: Closed Timeout
            ",
        ]),
    );
}

/// R-TIMEOUT-1: a BDAT chunk is content too: progress restarts the timer, silence in the
/// middle of a chunk ends the session with `421 4.4.2`.
#[test]
fn timeout_bdat_chunk_extended_by_content() {
    transcript(
        config(),
        &script(&[
            GREETING,
            EHLO_E,
            TX_E,
            r#"
            C: BDAT 10\r\nabc
            E: DataStart chunked
            E: Content "abc"
            T: +299
            C: def
            E: Content "def"
            T: +299
            T: +1
            "#,
            TIMEOUT,
            r"
            E: MessageAborted SessionEnded
            E: TransactionReset
            E: Closed Timeout
            ",
        ]),
    );
}

/// R-TIMEOUT-1: after the end of data the command timer runs again (300 s from the
/// verdict), not the data timer.
#[test]
fn timeout_back_to_command_timer_after_message() {
    transcript(
        config(),
        &script(&[
            GREETING,
            EHLO_E,
            TX_E,
            r#"
            C: DATA\r\n
            E: DataStart
            S: 354 End data with <CR><LF>.<CR><LF>
            T: +100
            C: x\r\n.\r\n
            E: Content "x\r\n"
            E: MessageComplete size=3
            S: 250 2.0.0 Ok: queued
            T: +299
            C: QUIT
            T: +1
            "#,
            TIMEOUT,
            "E: Closed Timeout\n",
        ]),
    );
}

/// `handle_timeout` docs: while the application owes a decision no timer runs
/// (`poll_timeout` is `None`); after the answer, the command timer starts from then.
#[test]
fn timeout_not_while_decision_pending() {
    let start = t0();
    let mut server = config().server(start);
    let mut out = Vec::new();
    let _ = server.poll_transmit(&mut out);
    assert_eq!(
        server.poll_timeout(),
        Some(start + Duration::from_secs(300))
    );
    server
        .handle_input(start, b"EHLO c.example\r\n")
        .expect("input");
    let Some(Event::Hello { pending, .. }) = server.poll_event() else {
        panic!("Hello expected");
    };
    assert_eq!(server.poll_timeout(), None);
    let t1 = start + Duration::from_secs(3600);
    server.handle_timeout(t1);
    assert!(!server.is_closed());
    out.clear();
    let _ = server.poll_transmit(&mut out);
    assert!(out.is_empty(), "no 421 while the application decides");
    server.accept(t1, pending).expect("pending");
    assert_eq!(server.poll_timeout(), Some(t1 + Duration::from_secs(300)));
    server.handle_timeout(t1 + Duration::from_secs(299));
    assert!(!server.is_closed());
    server.handle_timeout(t1 + Duration::from_secs(300));
    assert!(server.is_closed());
    out.clear();
    let _ = server.poll_transmit(&mut out);
    assert!(
        out.ends_with(b"421 4.4.2 mx.example Error: timeout exceeded\r\n"),
        "{}",
        String::from_utf8_lossy(&out)
    );
}

// ---- SHUTDOWN ----------------------------------------------------------------------------

/// R-421-1 (RFC 5321 §3.8): `shutdown()` sends `421 4.3.2 <host> Service not available,
/// closing transmission channel` at any time and closes; later input is ignored.
#[test]
fn shutdown_greeted() {
    transcript(
        config(),
        &script(&[
            GREETING,
            EHLO_E,
            "SHUTDOWN\n",
            SHUTDOWN_421,
            r"
            E: Closed Shutdown
            C: NOOP\r\n
            SHUTDOWN
            T: +1000
            ",
        ]),
    );
    transcript(
        config(),
        &script(&[GREETING, "SHUTDOWN\n", SHUTDOWN_421, "E: Closed Shutdown\n"]),
    );
}

/// R-421-1: shutting down in a transaction tells the application the transaction was
/// dropped; in DATA, the message is aborted too.
#[test]
fn shutdown_in_transaction_and_in_data() {
    transcript(
        config(),
        &script(&[
            GREETING,
            EHLO_E,
            TX_E,
            "SHUTDOWN\n",
            SHUTDOWN_421,
            "E: TransactionReset\nE: Closed Shutdown\n",
        ]),
    );
    transcript(
        config(),
        &script(&[
            GREETING,
            EHLO_E,
            TX_E,
            r#"
            C: DATA\r\n
            E: DataStart
            S: 354 End data with <CR><LF>.<CR><LF>
            C: Subject: x\r\n
            E: Content "Subject: x\r\n"
            SHUTDOWN
            "#,
            SHUTDOWN_421,
            r"
            E: MessageAborted SessionEnded
            E: TransactionReset
            E: Closed Shutdown
            ",
        ]),
    );
}

/// Graceful shutdown: an idle session gets the 421 at once.
#[test]
fn graceful_shutdown_closes_an_idle_session_at_once() {
    transcript(
        config(),
        &script(&[
            GREETING,
            EHLO_E,
            "DRAIN
",
            SHUTDOWN_421,
            "E: Closed Shutdown
",
        ]),
    );
}

/// Graceful shutdown: a message in flight finishes and gets its final reply, then the
/// 421 follows; nothing the client sent is cut off mid-transaction.
#[test]
fn graceful_shutdown_lets_the_message_in_flight_finish() {
    transcript(
        config(),
        &script(&[
            GREETING,
            EHLO_E,
            TX_E,
            r#"
            C: DATA\r\n
            E: DataStart
            S: 354 End data with <CR><LF>.<CR><LF>
            C: Subject: x\r\n
            E: Content "Subject: x\r\n"
            DRAIN
            C: \r\nbody\r\n.\r\n
            E: Content "\r\nbody\r\n"
            E: MessageComplete size=20
            S: 250 2.0.0 Ok: queued
            "#,
            SHUTDOWN_421,
            "E: Closed Shutdown\n",
        ]),
    );
}

/// Graceful shutdown with the final decision still owed: the 421 waits for it.
#[test]
fn graceful_shutdown_waits_for_the_owed_decision() {
    let mut server = config().server(t0());
    let mut out = Vec::new();
    let _ = server.poll_transmit(&mut out);
    server
        .handle_input(t0(), b"HELO c.example\r\n")
        .expect("input");
    let Some(Event::Hello { pending, .. }) = server.poll_event() else {
        panic!("Hello expected");
    };
    server.shutdown_gracefully(t0());
    assert!(!server.is_closed());
    server.answer(t0(), pending, Ok(())).expect("pending");
    assert!(matches!(server.poll_event(), Some(Event::Closed { .. })));
    out.clear();
    let _ = server.poll_transmit(&mut out);
    assert_eq!(
        String::from_utf8(out).expect("ASCII"),
        "250 mx.example\r\n421 4.3.2 mx.example Service not available, closing transmission channel\r\n"
    );
}

/// R-421-1: during the TLS handshake no plaintext reply can be sent; the session just
/// closes.
#[test]
fn shutdown_during_tls_handshake() {
    transcript(
        config(),
        &script(&[
            GREETING,
            EHLO_E,
            r"
            C: STARTTLS\r\n
            S: 220 2.0.0 Ready to start TLS
            E: StartTls discarded=0
            SHUTDOWN
            E: Closed Shutdown
            ",
        ]),
    );
}

/// R-421-1: a decision still pending is cancelled by `shutdown()`; answering it later is
/// an API error and sends nothing.
#[test]
fn shutdown_cancels_pending_decision() {
    let now = t0();
    let mut server = config().server(now);
    let mut out = Vec::new();
    let _ = server.poll_transmit(&mut out);
    server
        .handle_input(now, b"EHLO c.example\r\n")
        .expect("input");
    let Some(Event::Hello { pending, .. }) = server.poll_event() else {
        panic!("Hello expected");
    };
    server.shutdown(now, None);
    assert!(matches!(server.poll_event(), Some(Event::Closed { .. })));
    assert_eq!(server.accept(now, pending), Err(ApiMisuse::NotPending));
    out.clear();
    let _ = server.poll_transmit(&mut out);
    assert_eq!(
        out,
        b"421 4.3.2 mx.example Service not available, closing transmission channel\r\n"
    );
}
