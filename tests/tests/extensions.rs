//! Service extensions: one transcript (or a few) per row of manual::conformance, plus the
//! MT-PRIORITY (RFC 6710), DELIVERBY (RFC 2852) and FUTURERELEASE (RFC 4865) parameters.
//!
//! `(choice)` notes state what this server picked where the rule table leaves it open.

use base64::Engine as _;
use smtp_proto::codec::params::{ByMode, DeliverBy, Hold};
use smtp_proto::{EnhancedCode, Event, MailParams, Protocol, Reply, Server, TlsInfo};
use smtp_proto_tests::transcript::{
    EHLO, EHLO_E, GREETING, TX_E, TestConfig, config, exact, script, t0, transcript,
};

/// STARTTLS, the handshake, and `EHLO c.example` again: the list now has REQUIRETLS and
/// AUTH and no STARTTLS (RFC 3207 §4.2, RFC 8689 §4, RFC 4954 §4). With events.
const TLS_EHLO_E: &str = r"
C: STARTTLS\r\n
S: 220 2.0.0 Ready to start TLS
E: StartTls discarded=0
TLS
C: EHLO c.example\r\n
E: Hello EHLO c.example
S: 250-mx.example
S: 250-PIPELINING
S: 250-SIZE 10000
S: 250-8BITMIME
S: 250-CHUNKING
S: 250-BINARYMIME
S: 250-SMTPUTF8
S: 250-ENHANCEDSTATUSCODES
S: 250-DSN
S: 250-REQUIRETLS
S: 250-AUTH PLAIN LOGIN XTEST
S: 250-MT-PRIORITY
S: 250-DELIVERBY 3600
S: 250 FUTURERELEASE 604800 2026-12-01T00:00:00Z
";

/// Drives a server directly: greeting, optional STARTTLS + handshake, EHLO, then `mail`;
/// returns the parameters of the `Mail` event, or the reply bytes if the server answered
/// by itself.
fn mail_params(config: impl Into<TestConfig>, tls: bool, mail: &str) -> Result<MailParams, String> {
    let now = t0();
    let mut server = config.into().server(now);
    let mut out = Vec::new();
    let _ = server.poll_transmit(&mut out);
    let feed = |server: &mut Server, bytes: &[u8]| -> Option<Event> {
        server.handle_input(now, bytes).expect("input");
        loop {
            match server.poll_event() {
                Some(Event::Hello { pending, .. }) => server.accept(now, pending).expect("ok"),
                Some(Event::StartTls { .. }) => {
                    server
                        .handle_tls_established(now, TlsInfo::default())
                        .expect("handshake");
                }
                Some(Event::TlsEstablished { .. }) => {}
                Some(event) => return Some(event),
                None => return None,
            }
        }
    };
    if tls {
        assert!(feed(&mut server, b"STARTTLS\r\n").is_none());
    }
    assert!(feed(&mut server, b"EHLO c.example\r\n").is_none());
    let _ = server.poll_transmit(&mut out);
    out.clear();
    match feed(&mut server, format!("{mail}\r\n").as_bytes()) {
        Some(Event::Mail { params, .. }) => Ok(*params),
        other => {
            assert!(other.is_none(), "unexpected event {other:?}");
            let _ = server.poll_transmit(&mut out);
            Err(String::from_utf8(out).expect("ASCII"))
        }
    }
}

// ---- SIZE (RFC 1870) ---------------------------------------------------------------------

/// RFC 1870 §6: `SIZE 10000` is advertised (see EHLO); a declared size over it gets
/// `552 5.3.4`, the exact limit is fine; bad syntax (not 1*20DIGIT) gets `501 5.5.4`; a
/// 20-digit value beyond u64 is still "too big", never an overflow; the application may
/// answer `452 4.3.1` for a temporary lack of space.
#[test]
fn ext_size_declared_size() {
    transcript(
        config(),
        &script(&[
            GREETING,
            EHLO,
            r"
            C: MAIL FROM:<a@x.example> SIZE=99999999999\r\n
            S: 552 5.3.4 Error: message size exceeds fixed limit
            C: MAIL FROM:<a@x.example> SIZE=10001\r\n
            S: 552 5.3.4 Error: message size exceeds fixed limit
            C: MAIL FROM:<a@x.example> SIZE=99999999999999999999\r\n
            S: 552 5.3.4 Error: message size exceeds fixed limit
            C: MAIL FROM:<a@x.example> SIZE=abc\r\n
            S: 501 5.5.4 Syntax error in parameter SIZE
            C: MAIL FROM:<a@x.example> SIZE=123456789012345678901\r\n
            S: 501 5.5.4 Syntax error in parameter SIZE
            C: MAIL FROM:<a@x.example> SIZE=-1\r\n
            S: 501 5.5.4 Syntax error in parameter SIZE
            A: 452 4.3.1 Insufficient system storage
            C: MAIL FROM:<a@x.example> SIZE=500\r\n
            S: 452 4.3.1 Insufficient system storage
            C: MAIL FROM:<a@x.example> SIZE=10000\r\n
            S: 250 2.1.0 Ok
            ",
        ]),
    );
}

/// RFC 1870 §6.3, SMUG-5: DATA content over the limit gets `552 5.3.4` only after the
/// terminator, never mid-stream; exactly the limit is accepted. Only `max_message_size`
/// octets are passed on before the abort.
#[test]
fn ext_size_data_over_limit_rejected_after_end_of_data() {
    let line = format!("{}\\r\\n", "x".repeat(998));
    let exact = line.repeat(10); // 10 000 octets
    let s = script(&[
        GREETING,
        EHLO_E,
        TX_E,
        r"
        C: DATA\r\n
        E: DataStart
        S: 354 End data with <CR><LF>.<CR><LF>
        ",
        &format!("C: {exact}.\\r\\n\nE: Content \"{exact}\"\n"),
        r"
        E: MessageComplete size=10000
        S: 250 2.0.0 Ok: queued
        ",
        TX_E,
        r"
        C: DATA\r\n
        E: DataStart
        S: 354 End data with <CR><LF>.<CR><LF>
        ",
        &format!("C: {exact}\nE: Content \"{exact}\"\n"),
        r"
        C: more\r\n
        C: .\r\n
        S: 552 5.3.4 Error: message size exceeds fixed limit
        E: MessageAborted TooBig
        C: RCPT TO:<b@y.example>\r\n
        S: 503 5.5.1 Error: need MAIL command
        ",
    ]);
    transcript(config(), &s);
}

// ---- 8BITMIME (RFC 6152) -----------------------------------------------------------------

/// RFC 6152 §2-3: `BODY=8BITMIME` and `BODY=7BIT` are accepted, any other value gets
/// `501 5.5.4`; 8-bit content passes unchanged and unflagged. After HELO (no ESMTP) the
/// parameter is unknown to the session: `555 5.5.4` (RFC 5321 §4.1.1.11).
#[test]
fn ext_8bitmime_body_parameter() {
    transcript(
        config(),
        &script(&[
            GREETING,
            EHLO_E,
            r#"
            C: MAIL FROM:<a@x.example> BODY=FOO\r\n
            S: 501 5.5.4 Syntax error in parameter BODY
            C: MAIL FROM:<a@x.example> BODY=7BIT\r\n
            E: Mail <a@x.example>
            S: 250 2.1.0 Ok
            C: RSET\r\n
            S: 250 2.0.0 Ok
            E: TransactionReset
            C: MAIL FROM:<a@x.example> BODY=8BITMIME\r\nRCPT TO:<b@y.example>\r\nDATA\r\n
            E: Mail <a@x.example>
            S: 250 2.1.0 Ok
            E: Rcpt <b@y.example>
            S: 250 2.1.5 Ok
            E: DataStart
            S: 354 End data with <CR><LF>.<CR><LF>
            C: caf\xc3\xa9 \xff\r\n.\r\n
            E: Content "caf\xc3\xa9 \xff\r\n"
            E: MessageComplete size=9
            S: 250 2.0.0 Ok: queued
            C: HELO c.example\r\n
            E: Hello HELO c.example
            S: 250 mx.example
            C: MAIL FROM:<a@x.example> BODY=8BITMIME\r\n
            S: 555 5.5.4 Unsupported parameter BODY
            "#,
        ]),
    );
}

// ---- SMTPUTF8 (RFC 6531) -----------------------------------------------------------------

/// RFC 6531 §3.4-3.6: a UTF-8 address without the `SMTPUTF8` MAIL parameter gets
/// `553 5.6.7` (MAIL and RCPT); with it, `250`; `SMTPUTF8=x` (a value) is a syntax error;
/// octets that are not UTF-8 get `500 5.5.2`.
#[test]
fn ext_smtputf8() {
    transcript(
        config(),
        &script(&[
            GREETING,
            EHLO_E,
            r"
            C: MAIL FROM:<\xc3\xbc@x.example>\r\n
            S: 553 5.6.7 Error: must declare SMTPUTF8 to send a UTF-8 address
            C: MAIL FROM:<a@x.example> SMTPUTF8=yes\r\n
            S: 501 5.5.4 Syntax error in parameter SMTPUTF8
            C: MAIL FROM:<\xc3\x28@x.example> SMTPUTF8\r\n
            S: 500 5.5.2 Error: invalid UTF-8 in command
            C: MAIL FROM:<a@x.example>\r\nRCPT TO:<j\xc3\xb6rg@y.example>\r\nRSET\r\n
            E: Mail <a@x.example>
            S: 250 2.1.0 Ok
            S: 553 5.6.7 Error: must declare SMTPUTF8 to send a UTF-8 address
            S: 250 2.0.0 Ok
            E: TransactionReset
            C: MAIL FROM:<\xc3\xbc@x.example> SMTPUTF8\r\nRCPT TO:<j\xc3\xb6rg@\xc3\xa9x.example>\r\n
            E: Mail <ü@x.example>
            S: 250 2.1.0 Ok
            E: Rcpt <jörg@éx.example>
            S: 250 2.1.5 Ok
            ",
        ]),
    );
}

// ---- CHUNKING (RFC 3030) -----------------------------------------------------------------

/// RFC 3030 §2: `BDAT 5` then `BDAT 0 LAST` in separate reads: one reply per chunk, one
/// message. BDAT may be pipelined: two chunks in one read give two replies in order.
#[test]
fn ext_chunking_two_chunks() {
    transcript(
        config(),
        &script(&[
            GREETING,
            EHLO_E,
            TX_E,
            r#"
            C: BDAT 5\r\nhello
            E: DataStart chunked
            E: Content "hello"
            S: 250 2.0.0 5 octets received
            C: BDAT 0 LAST\r\n
            E: MessageComplete size=5
            S: 250 2.0.0 Ok: queued
            "#,
            TX_E,
            r#"
            C: BDAT 3\r\nabcBDAT 2 LAST\r\nde
            E: DataStart chunked
            E: Content "abc"
            S: 250 2.0.0 3 octets received
            E: Content "de"
            E: MessageComplete size=5
            S: 250 2.0.0 Ok: queued
            "#,
        ]),
    );
}

/// RFC 3030 §2 (Exim test 0900): DATA inside a BDAT transaction gets `503`; so do MAIL and
/// RCPT; the BDAT message then goes on.
#[test]
fn ext_chunking_data_after_bdat_503() {
    transcript(
        config(),
        &script(&[
            GREETING,
            EHLO_E,
            TX_E,
            r#"
            C: BDAT 3\r\nabcDATA\r\n
            E: DataStart chunked
            E: Content "abc"
            S: 250 2.0.0 3 octets received
            S: 503 5.5.1 Error: BDAT transaction in progress
            C: RCPT TO:<c@y.example>\r\n
            S: 503 5.5.1 Error: BDAT transaction in progress
            C: MAIL FROM:<a@x.example>\r\n
            S: 503 5.5.1 Error: nested MAIL command
            C: BDAT 1 LAST\r\nd
            E: Content "d"
            E: MessageComplete size=4
            S: 250 2.0.0 Ok: queued
            "#,
        ]),
    );
}

/// RFC 3030 §2 (choice: `504 5.5.4`, as Exim): a non-LAST zero-length chunk is refused.
#[test]
fn ext_chunking_null_bdat_refused() {
    transcript(
        config(),
        &script(&[
            GREETING,
            EHLO_E,
            TX_E,
            r#"
            C: BDAT 0\r\n
            S: 504 5.5.4 Error: null BDAT request
            C: BDAT 2 LAST\r\nok
            E: DataStart chunked
            E: Content "ok"
            E: MessageComplete size=2
            S: 250 2.0.0 Ok: queued
            "#,
        ]),
    );
}

/// RFC 3030 §2 (Postfix): a BDAT size that cannot be parsed (not digits, trailing junk,
/// more than 20 digits, beyond u64) means the chunk end is unknown: `521 5.5.4` and close.
#[test]
fn ext_chunking_unparsable_size_closes() {
    for bad in [
        "BDAT x",
        "BDAT 1 FOO",
        "BDAT",
        "BDAT -1",
        "BDAT 18446744073709551616",
        "BDAT 123456789012345678901 LAST",
    ] {
        transcript(
            config(),
            &script(&[
                GREETING,
                EHLO_E,
                TX_E,
                &format!("C: {bad}\\r\\n\n"),
                r"
                S: 521 5.5.4 Syntax: BDAT count [LAST]
                E: TransactionReset
                E: Closed ProtocolViolation
                ",
            ]),
        );
    }
}

/// RFC 3030 §2, Exim CVE-2020-28023/28019: BDAT without MAIL or without RCPT gets
/// `503 5.5.1` and its octets are skipped, never run as commands.
#[test]
fn ext_chunking_out_of_sequence_bdat_skips_octets() {
    transcript(
        config(),
        &script(&[
            GREETING,
            EHLO_E,
            r"
            C: BDAT 6 LAST\r\nQUIT\r\n
            S: 503 5.5.1 Error: need MAIL command
            C: MAIL FROM:<a@x.example>\r\n
            E: Mail <a@x.example>
            S: 250 2.1.0 Ok
            C: BDAT 6\r\nQUIT\r\n
            S: 503 5.5.1 Error: need RCPT command
            C: NOOP\r\n
            S: 250 2.0.0 Ok
            ",
        ]),
    );
}

/// RFC 3030 §2 and RFC 1870: a chunk that takes the message over the size limit gets
/// `552 5.3.4` once it is fully read (its octets are consumed); every later chunk is
/// "accepted and discarded" with the same reply until LAST, which ends the transaction.
#[test]
fn ext_chunking_over_size_discards_until_last() {
    let s = script(&[
        GREETING,
        EHLO_E,
        TX_E,
        r"
        C: BDAT 10001\r\n{x*10001}
        E: DataStart chunked
        ",
        &format!("E: Content \"{}\"\n", "x".repeat(10000)),
        r"
        S: 552 5.3.4 Error: message size exceeds fixed limit
        E: MessageAborted TooBig
        C: BDAT 5\r\nQUIT\r
        S: 552 5.3.4 Error: message size exceeds fixed limit
        C: BDAT 2 LAST\r\nxy
        S: 552 5.3.4 Error: message size exceeds fixed limit
        E: TransactionReset
        C: DATA\r\n
        S: 503 5.5.1 Error: need MAIL command
        ",
    ]);
    transcript(config(), &s);
}

/// RFC 3030 §2: RSET in a BDAT transaction clears it; the next BDAT is out of sequence.
#[test]
fn ext_chunking_rset_clears() {
    transcript(
        config(),
        &script(&[
            GREETING,
            EHLO_E,
            TX_E,
            r#"
            C: BDAT 3\r\nabc
            E: DataStart chunked
            E: Content "abc"
            S: 250 2.0.0 3 octets received
            C: RSET\r\n
            S: 250 2.0.0 Ok
            E: MessageAborted Reset
            E: TransactionReset
            C: BDAT 1 LAST\r\nx
            S: 503 5.5.1 Error: need MAIL command
            "#,
        ]),
    );
}

/// RFC 3030 §2 (Exim 0900 "not enough data in chunk"): the client declares 89 octets,
/// sends 88 and closes: the message is aborted, no reply, the session ends.
#[test]
fn ext_chunking_short_chunk_then_eof_aborts() {
    let s = script(&[
        GREETING,
        EHLO_E,
        TX_E,
        r"
        C: BDAT 89 LAST\r\n{y*88}
        E: DataStart chunked
        ",
        &format!("E: Content \"{}\"\n", "y".repeat(88)),
        r"
        EOF
        E: MessageAborted SessionEnded
        E: TransactionReset
        E: Closed PeerEof
        ",
    ]);
    transcript(config(), &s);
}

// ---- BINARYMIME (RFC 3030 §3) ------------------------------------------------------------

/// RFC 3030 §3: after `BODY=BINARYMIME`, DATA gets `503` (go-smtp's 502 is wrong); BDAT
/// carries any octets (bare LF, NUL) without a line-ending refusal. Without CHUNKING the
/// value is not available: `555 5.5.4`.
#[test]
fn ext_binarymime_requires_bdat() {
    transcript(
        config(),
        &script(&[
            GREETING,
            EHLO_E,
            r#"
            C: MAIL FROM:<a@x.example> BODY=BINARYMIME\r\nRCPT TO:<b@y.example>\r\nDATA\r\n
            E: Mail <a@x.example>
            S: 250 2.1.0 Ok
            E: Rcpt <b@y.example>
            S: 250 2.1.5 Ok
            S: 503 5.5.1 Error: BODY=BINARYMIME requires BDAT
            C: BDAT 4 LAST\r\na\nb\0
            E: DataStart chunked
            E: Content "a\nb\x00"
            E: MessageComplete size=4 bare_lf nul
            S: 250 2.0.0 Ok: queued
            "#,
        ]),
    );
    let mut c = config();
    c.extensions.chunking = false;
    transcript(
        c,
        r"
        S: 220 mx.example ESMTP
        C: EHLO c.example\r\n
        S: 250-mx.example
        S: 250-PIPELINING
        S: 250-SIZE 10000
        S: 250-8BITMIME
        S: 250-SMTPUTF8
        S: 250-ENHANCEDSTATUSCODES
        S: 250-DSN
        S: 250-STARTTLS
        S: 250-MT-PRIORITY
        S: 250-DELIVERBY 3600
        S: 250 FUTURERELEASE 604800 2026-12-01T00:00:00Z
        C: MAIL FROM:<a@x.example> BODY=BINARYMIME\r\n
        S: 555 5.5.4 Unsupported parameter BODY
        ",
    );
}

// ---- PIPELINING (RFC 2920) ---------------------------------------------------------------

/// RFC 2920 §3.1-3.2: a pipelined group gets its replies in order, all available after
/// the one read (each reply is logged right after the input that caused it); a failed RCPT
/// does not drop the commands after it; a single MAIL gets its reply at once.
#[test]
fn ext_pipelining_replies_in_order() {
    transcript(
        config(),
        &script(&[
            GREETING,
            EHLO_E,
            r"
            C: MAIL FROM:<a@x.example>\r\n
            E: Mail <a@x.example>
            S: 250 2.1.0 Ok
            A: accept
            A: 550 5.1.1 No such user
            C: RCPT TO:<b@y.example>\r\nRCPT TO:<nobody@y.example>\r\nRCPT TO:<c@y.example>\r\nDATA\r\n
            E: Rcpt <b@y.example>
            S: 250 2.1.5 Ok
            E: Rcpt <nobody@y.example>
            S: 550 5.1.1 No such user
            E: Rcpt <c@y.example>
            S: 250 2.1.5 Ok
            E: DataStart
            S: 354 End data with <CR><LF>.<CR><LF>
            ",
        ]),
    );
}

/// RFC 2920 §3.1 (SMG-P4; choice: Postfix ≥ 3.9 `554 5.5.0` + close): a command sent in
/// the same read after EHLO, which must end a group, is a synchronisation violation.
#[test]
fn ext_pipelining_after_ehlo_violation() {
    exact(
        config(),
        r"
        S: 220 mx.example ESMTP
        C: EHLO c.example\r\nMAIL FROM:<a@x.example>\r\n
        S: 554 5.5.0 Error: SMTP protocol synchronization: a command came before the reply it must wait for (RFC 2920)
        E: Closed ProtocolViolation
        ",
    );
}

/// RFC 2920 §3 (choice, Postfix ≥ 3.9): without PIPELINING in force (not advertised, or
/// HELO instead of EHLO) any command followed by more input in the same read is a
/// violation.
#[test]
fn ext_pipelining_not_in_force_violation() {
    let mut c = config();
    c.extensions.pipelining = false;
    exact(
        c,
        r"
        S: 220 mx.example ESMTP
        C: HELO c.example\r\n
        E: Hello HELO c.example
        S: 250 mx.example
        C: MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\n
        E: Mail <a@x.example>
        S: 554 5.5.0 Error: SMTP protocol synchronization: a command came before the reply it must wait for (RFC 2920)
        E: Closed ProtocolViolation
        ",
    );
    exact(
        config(),
        r"
        S: 220 mx.example ESMTP
        C: HELO c.example\r\n
        E: Hello HELO c.example
        S: 250 mx.example
        C: MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\n
        E: Mail <a@x.example>
        S: 554 5.5.0 Error: SMTP protocol synchronization: a command came before the reply it must wait for (RFC 2920)
        E: Closed ProtocolViolation
        ",
    );
}

// ---- AUTH (RFC 4954) ---------------------------------------------------------------------

/// RFC 4954 §4 (TLS-14): with `auth_requires_tls`, AUTH is not advertised before TLS and
/// `AUTH PLAIN …` gets `538 5.7.11`.
#[test]
fn ext_auth_needs_tls() {
    transcript(
        config(),
        &script(&[
            GREETING,
            EHLO,
            r"
            C: AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n
            S: 538 5.7.11 Encryption required for requested authentication mechanism: AUTH is offered only after TLS, send STARTTLS first
            ",
        ]),
    );
}

/// RFC 4954 §4: `AUTH PLAIN` without initial response gets the empty challenge `334 `;
/// `*` cancels with `501`; `=` is the empty response (a failed PLAIN login, `535 5.7.8`);
/// undecodable base64 gets `501 5.5.2` (not go-smtp's 454).
#[test]
fn ext_auth_plain_exchange_errors() {
    transcript(
        config(),
        &script(&[
            GREETING,
            TLS_EHLO_E,
            r"
            C: AUTH PLAIN\r\n
            S: 334\x20
            C: *\r\n
            S: 501 5.7.0 Error: authentication aborted
            C: AUTH PLAIN *\r\n
            S: 501 5.7.0 Error: authentication aborted
            C: AUTH PLAIN =\r\n
            S: 535 5.7.8 Error: authentication credentials invalid
            C: AUTH PLAIN\r\n
            S: 334\x20
            C: =\r\n
            S: 535 5.7.8 Error: authentication credentials invalid
            C: AUTH PLAIN !!!!\r\n
            S: 501 5.5.2 Error: cannot decode response
            C: AUTH PLAIN AAA\r\n
            S: 501 5.5.2 Error: cannot decode response
            C: AUTH PLAIN\r\n
            S: 334\x20
            C: QQ=A\r\n
            S: 501 5.5.2 Error: cannot decode response
            C: AUTH\r\n
            S: 501 5.5.4 Syntax: AUTH mechanism [initial-response]
            C: AUTH CRAM-MD5\r\n
            S: 504 5.5.4 Error: unrecognized authentication mechanism
            ",
        ]),
    );
}

/// RFC 4954 §4, §6: success is `235 2.7.0`; a second AUTH gets `503 5.5.1`; AUTH in a
/// transaction gets `503 5.5.1`; AUTH before EHLO (or after HELO) gets `503 5.5.1`.
#[test]
fn ext_auth_sequencing() {
    transcript(
        config(),
        &script(&[
            GREETING,
            r"
            C: STARTTLS\r\n
            S: 220 2.0.0 Ready to start TLS
            E: StartTls discarded=0
            TLS
            C: AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n
            S: 503 5.5.1 Error: send EHLO first
            C: HELO c.example\r\n
            E: Hello HELO c.example
            S: 250 mx.example
            C: AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n
            S: 503 5.5.1 Error: send EHLO first
            ",
            &TLS_EHLO_E[TLS_EHLO_E.find("C: EHLO").expect("EHLO")..],
            r"
            C: MAIL FROM:<a@x.example>\r\n
            E: Mail <a@x.example>
            S: 250 2.1.0 Ok
            C: AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n
            S: 503 5.5.1 Error: MAIL transaction in progress
            C: RSET\r\n
            S: 250 2.0.0 Ok
            E: TransactionReset
            C: AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n
            E: Auth PLAIN alice secret
            S: 235 2.7.0 Authentication successful
            C: AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n
            S: 503 5.5.1 Error: already authenticated
            ",
        ]),
    );
}

/// RFC 4954 §6: the application's failure replies go out as given (`535 5.7.8`,
/// `454 4.7.0`, `534 5.7.9`), and a later AUTH starts fresh (Postfix CVE-2011-1720).
#[test]
fn ext_auth_application_verdicts() {
    transcript(
        config(),
        &script(&[
            GREETING,
            TLS_EHLO_E,
            r"
            A: 535 5.7.8 Authentication credentials invalid
            C: AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n
            E: Auth PLAIN alice secret
            S: 535 5.7.8 Authentication credentials invalid
            A: 454 4.7.0 Temporary authentication failure
            C: AUTH LOGIN dXNlcg==\r\n
            S: 334 UGFzc3dvcmQ6
            C: cGFzcw==\r\n
            E: Auth LOGIN user pass
            S: 454 4.7.0 Temporary authentication failure
            A: 534 5.7.9 Authentication mechanism is too weak
            C: AUTH PLAIN AHVzZXIAcGFzcw==\r\n
            E: Auth PLAIN user pass
            S: 534 5.7.9 Authentication mechanism is too weak
            A: challenge hello
            C: AUTH XTEST\r\n
            E: Auth XTEST none
            S: 334 aGVsbG8=
            C: *\r\n
            S: 501 5.7.0 Error: authentication aborted
            C: AUTH PLAIN AHVzZXIAcGFzcw==\r\n
            E: Auth PLAIN user pass
            S: 235 2.7.0 Authentication successful
            ",
        ]),
    );
}

/// RFC 4954 §5, Exim CVE-2020-28021: the MAIL `AUTH=` parameter is xtext: `<>` and an
/// encoded mailbox are accepted; a decoded control character gets `501 5.5.4`. It belongs
/// to the AUTH extension, so while AUTH is not offered (before TLS here) it is
/// unsupported: `555 5.5.4` (rule 4.0 #15).
#[test]
fn ext_auth_mail_parameter() {
    transcript(
        config(),
        &script(&[
            GREETING,
            EHLO_E,
            r"
            C: MAIL FROM:<a@x.example> AUTH=<>\r\n
            S: 555 5.5.4 Unsupported parameter AUTH
            ",
            TLS_EHLO_E,
            r"
            C: MAIL FROM:<a@x.example> AUTH=a+0Ab\r\n
            S: 501 5.5.4 Control character in parameter AUTH
            C: MAIL FROM:<a@x.example> AUTH=<>\r\n
            E: Mail <a@x.example>
            S: 250 2.1.0 Ok
            C: RSET\r\n
            S: 250 2.0.0 Ok
            E: TransactionReset
            C: MAIL FROM:<a@x.example> AUTH=e+3Dmc2@x.example\r\n
            E: Mail <a@x.example>
            S: 250 2.1.0 Ok
            ",
        ]),
    );
    let params = mail_params(
        config(),
        true,
        "MAIL FROM:<a@x.example> AUTH=e+3Dmc2@x.example",
    )
    .expect("accepted");
    assert_eq!(
        params.auth,
        Some(smtp_proto::codec::params::AuthParam::Mailbox(
            "e=mc2@x.example".to_owned()
        ))
    );
}

/// RFC 4954 §6 (`require_auth`): MAIL before a successful AUTH gets `530 5.7.0`.
#[test]
fn ext_auth_required() {
    let mut c = config();
    c.require_auth = true;
    transcript(
        c,
        &script(&[
            GREETING,
            TLS_EHLO_E,
            r"
            C: MAIL FROM:<a@x.example>\r\n
            S: 530 5.7.0 Authentication required
            C: AUTH PLAIN AHVzZXIAcGFzcw==\r\n
            E: Auth PLAIN user pass
            S: 235 2.7.0 Authentication successful
            C: MAIL FROM:<a@x.example>\r\n
            E: Mail <a@x.example>
            S: 250 2.1.0 Ok
            ",
        ]),
    );
}

// ---- PLAIN (RFC 4616) --------------------------------------------------------------------

/// RFC 4616 §2: `[authzid] NUL authcid NUL passwd`: the usual form and an authzid are
/// accepted; one NUL, three NULs and a decoded CR LF are refused (`535 5.7.8`, before the
/// application hears of them); a 255-octet password is accepted.
#[test]
fn ext_plain_message_format() {
    let b64 = |s: &[u8]| base64::engine::general_purpose::STANDARD.encode(s);
    let p255 = b64(&[b"\0user\0".as_slice(), &[b'p'; 255]].concat());
    transcript(
        config(),
        &script(&[
            GREETING,
            TLS_EHLO_E,
            r"
            A: 535 5.7.8 No
            C: AUTH PLAIN AHVzZXIAcGFzcw==\r\n
            E: Auth PLAIN user pass
            S: 535 5.7.8 No
            A: 535 5.7.8 No
            C: AUTH PLAIN YWRtaW4AdXNlcgBwYXNz\r\n
            E: Auth PLAIN user pass
            S: 535 5.7.8 No
            C: AUTH PLAIN dXNlcgBwYXNz\r\n
            S: 535 5.7.8 Error: authentication credentials invalid
            C: AUTH PLAIN AHVzZXIAcGFzcwA=\r\n
            S: 535 5.7.8 Error: authentication credentials invalid
            C: AUTH PLAIN AHVzDQplcgBwYXNz\r\n
            S: 535 5.7.8 Error: authentication credentials invalid
            ",
            &format!("C: AUTH PLAIN {p255}\\r\\n\n"),
            &format!("E: Auth PLAIN user {}\n", "p".repeat(255)),
            "S: 235 2.7.0 Authentication successful\n",
        ]),
    );
}

// ---- LOGIN (draft-murchison-sasl-login, MS-XLOGIN) and raw mechanisms ---------------------

/// LOGIN: `334 VXNlcm5hbWU6` ("Username:"), then `334 UGFzc3dvcmQ6` ("Password:"); an
/// initial response is the user name; `*` at either step gets `501`.
#[test]
fn ext_login_exchange() {
    transcript(
        config(),
        &script(&[
            GREETING,
            TLS_EHLO_E,
            r"
            C: AUTH LOGIN\r\n
            S: 334 VXNlcm5hbWU6
            C: *\r\n
            S: 501 5.7.0 Error: authentication aborted
            C: AUTH LOGIN\r\n
            S: 334 VXNlcm5hbWU6
            C: dXNlcg==\r\n
            S: 334 UGFzc3dvcmQ6
            C: *\r\n
            S: 501 5.7.0 Error: authentication aborted
            C: AUTH LOGIN\r\n
            S: 334 VXNlcm5hbWU6
            C: dXNlcg==\r\n
            S: 334 UGFzc3dvcmQ6
            C: cGFzcw==\r\n
            E: Auth LOGIN user pass
            S: 235 2.7.0 Authentication successful
            ",
        ]),
    );
}

/// RFC 4954 §4 with a raw mechanism (XTEST): the application sends challenges
/// (`A: challenge`, base64-encoded by the server as `334 <base64>`), each client answer
/// comes back decoded; `=` as initial response is the empty response.
#[test]
fn ext_auth_raw_mechanism_challenges() {
    transcript(
        config(),
        &script(&[
            GREETING,
            TLS_EHLO_E,
            r#"
            A: challenge hello
            C: AUTH XTEST =\r\n
            E: Auth XTEST ""
            S: 334 aGVsbG8=
            A: challenge again
            C: d29ybGQ=\r\n
            E: Auth XTEST "world"
            S: 334 YWdhaW4=
            C: =\r\n
            E: Auth XTEST ""
            S: 235 2.7.0 Authentication successful
            "#,
        ]),
    );
}

// ---- DSN (RFC 3461) ----------------------------------------------------------------------

/// RFC 3461 §4: valid RET, ENVID, NOTIFY and ORCPT are accepted; NEVER combined with
/// another condition, a repeated RET, controls or lower-case hex in xtext, and an over-long
/// ENVID get `501 5.5.4`.
#[test]
fn ext_dsn_parameters() {
    transcript(
        config(),
        &script(&[
            GREETING,
            EHLO,
            r"
            C: MAIL FROM:<a@x.example> RET=FULL RET=HDRS\r\n
            S: 501 5.5.4 Duplicate parameter RET
            C: MAIL FROM:<a@x.example> RET=SOME\r\n
            S: 501 5.5.4 Syntax error in parameter RET
            C: MAIL FROM:<a@x.example> ENVID=a+0Ab\r\n
            S: 501 5.5.4 Control character in parameter ENVID
            C: MAIL FROM:<a@x.example> ENVID=a+0a\r\n
            S: 501 5.5.4 Syntax error in parameter ENVID
            C: MAIL FROM:<a@x.example> ENVID={e*101}\r\n
            S: 501 5.5.4 Parameter ENVID too long
            C: MAIL FROM:<a@x.example> RET=HDRS ENVID=QQ+2B1\r\n
            S: 250 2.1.0 Ok
            C: RCPT TO:<b@y.example> NOTIFY=NEVER,SUCCESS\r\n
            S: 501 5.5.4 Syntax error in parameter NOTIFY
            C: RCPT TO:<b@y.example> ORCPT=rfc822;b+0D+0A@y.example\r\n
            S: 501 5.5.4 Control character in parameter ORCPT
            C: RCPT TO:<b@y.example> NOTIFY=SUCCESS NOTIFY=DELAY\r\n
            S: 501 5.5.4 Duplicate parameter NOTIFY
            C: RCPT TO:<b@y.example> NOTIFY=SUCCESS,FAILURE,DELAY ORCPT=rfc822;b@y.example\r\n
            S: 250 2.1.5 Ok
            C: RCPT TO:<c@y.example> NOTIFY=NEVER\r\n
            S: 250 2.1.5 Ok
            ",
        ]),
    );
}

/// RFC 3461, RFC 5321 §4.1.1.11 (choice: `555 5.5.4`, the rule table allows 501 or 555):
/// DSN parameters when DSN is not advertised are refused.
#[test]
fn ext_dsn_parameters_when_not_advertised() {
    let mut c = config();
    c.extensions.dsn = false;
    transcript(
        c,
        r"
        S: 220 mx.example ESMTP
        C: EHLO c.example\r\n
        S: 250-mx.example
        S: 250-PIPELINING
        S: 250-SIZE 10000
        S: 250-8BITMIME
        S: 250-CHUNKING
        S: 250-BINARYMIME
        S: 250-SMTPUTF8
        S: 250-ENHANCEDSTATUSCODES
        S: 250-STARTTLS
        S: 250-MT-PRIORITY
        S: 250-DELIVERBY 3600
        S: 250 FUTURERELEASE 604800 2026-12-01T00:00:00Z
        C: MAIL FROM:<a@x.example> RET=FULL\r\n
        S: 555 5.5.4 Unsupported parameter RET
        C: MAIL FROM:<a@x.example>\r\n
        S: 250 2.1.0 Ok
        C: RCPT TO:<b@y.example> NOTIFY=NEVER\r\n
        S: 555 5.5.4 Unsupported parameter NOTIFY
        ",
    );
}

// ---- ENHANCEDSTATUSCODES (RFC 2034) ------------------------------------------------------

/// RFC 2034 §3: every 2xx/4xx/5xx reply but the greeting and the EHLO reply carries an
/// enhanced code of the same class (the harness checks every line of every transcript);
/// with the extension off, no reply carries one and it is not advertised.
#[test]
fn ext_enhancedstatuscodes_off() {
    let mut c = config();
    c.extensions.enhanced_status_codes = false;
    transcript(
        c,
        r"
        S: 220 mx.example ESMTP
        C: EHLO c.example\r\n
        S: 250-mx.example
        S: 250-PIPELINING
        S: 250-SIZE 10000
        S: 250-8BITMIME
        S: 250-CHUNKING
        S: 250-BINARYMIME
        S: 250-SMTPUTF8
        S: 250-DSN
        S: 250-STARTTLS
        S: 250-MT-PRIORITY
        S: 250-DELIVERBY 3600
        S: 250 FUTURERELEASE 604800 2026-12-01T00:00:00Z
        C: RCPT TO:<b@y.example>\r\n
        S: 503 Error: need MAIL command
        A: 550 5.7.1 Not you
        C: MAIL FROM:<a@x.example>\r\n
        S: 550 Not you
        C: MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\nDATA\r\n
        S: 250 Ok
        S: 250 Ok
        S: 354 End data with <CR><LF>.<CR><LF>
        C: x\r\n.\r\n
        S: 250 Ok: queued
        C: QUIT\r\n
        S: 221 Bye
        ",
    );
}

/// RFC 2034 §3: a multiline reply has the same enhanced code on every line; a reply the
/// application gives without one gets `class.0.0`.
#[test]
fn ext_enhancedstatuscodes_multiline_and_default() {
    let now = t0();
    let mut server = config().server(now);
    let mut out = Vec::new();
    let _ = server.poll_transmit(&mut out);
    out.clear();
    server
        .handle_input(now, b"EHLO c.example\r\n")
        .expect("input");
    while let Some(event) = server.poll_event() {
        if let Event::Hello { pending, .. } = event {
            server.accept(now, pending).expect("ok");
        }
    }
    let _ = server.poll_transmit(&mut out);
    out.clear();
    for (reply, wire) in [
        (
            Reply::new(550, "line one\nline two")
                .and_then(|r| r.with_enhanced(EnhancedCode::new(5, 7, 1).expect("code")))
                .expect("reply"),
            "550-5.7.1 line one\r\n550 5.7.1 line two\r\n",
        ),
        (
            Reply::new(451, "first\nsecond").expect("reply"),
            "451-4.0.0 first\r\n451 4.0.0 second\r\n",
        ),
    ] {
        server
            .handle_input(now, b"MAIL FROM:<a@x.example>\r\n")
            .expect("input");
        while let Some(event) = server.poll_event() {
            if let Event::Mail { pending, .. } = event {
                server.respond(now, pending, reply.clone()).expect("ok");
            }
        }
        let _ = server.poll_transmit(&mut out);
        assert_eq!(
            String::from_utf8(std::mem::take(&mut out)).expect("ASCII"),
            wire
        );
    }
}

// ---- REQUIRETLS (RFC 8689) ---------------------------------------------------------------

/// RFC 8689 §4: REQUIRETLS is advertised only under TLS (compare the two EHLO replies);
/// the MAIL parameter is unknown in plaintext (`555 5.5.4`) and accepted over TLS, where
/// the event carries `requiretls: true`.
#[test]
fn ext_requiretls_only_under_tls() {
    transcript(
        config(),
        &script(&[
            GREETING,
            EHLO_E,
            r"
            C: MAIL FROM:<a@x.example> REQUIRETLS\r\n
            S: 555 5.5.4 Unsupported parameter REQUIRETLS
            ",
            TLS_EHLO_E,
            r"
            C: MAIL FROM:<a@x.example> REQUIRETLS\r\n
            E: Mail <a@x.example>
            S: 250 2.1.0 Ok
            ",
        ]),
    );
    assert!(
        mail_params(config(), true, "MAIL FROM:<a@x.example> REQUIRETLS")
            .expect("accepted")
            .requiretls
    );
    assert!(
        !mail_params(config(), true, "MAIL FROM:<a@x.example>")
            .expect("accepted")
            .requiretls
    );
    assert_eq!(
        mail_params(config(), false, "MAIL FROM:<a@x.example> REQUIRETLS"),
        Err("555 5.5.4 Unsupported parameter REQUIRETLS\r\n".to_owned())
    );
}

// ---- LMTP (RFC 2033) ---------------------------------------------------------------------

fn lmtp() -> TestConfig {
    let mut c = config();
    c.protocol = Protocol::Lmtp;
    c
}

const LHLO_E: &str = r"
C: LHLO c.example\r\n
E: Hello LHLO c.example
S: 250-mx.example
S: 250-PIPELINING
S: 250-SIZE 10000
S: 250-8BITMIME
S: 250-CHUNKING
S: 250-BINARYMIME
S: 250-SMTPUTF8
S: 250-ENHANCEDSTATUSCODES
S: 250-DSN
S: 250-STARTTLS
S: 250-MT-PRIORITY
S: 250-DELIVERBY 3600
S: 250 FUTURERELEASE 604800 2026-12-01T00:00:00Z
";

/// RFC 2033 §4.2: after the end of data, one reply per accepted recipient, in RCPT order
/// (3 RCPTs, the 2nd refused: 2 replies), here given by the application (`A: each`).
/// PIPELINING and ENHANCEDSTATUSCODES are advertised (§5).
#[test]
fn ext_lmtp_one_reply_per_recipient() {
    let run = transcript(
        lmtp(),
        &script(&[
            GREETING,
            LHLO_E,
            r#"
            A: accept
            A: accept
            A: 550 5.1.1 No such user
            A: accept
            C: MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\nRCPT TO:<nobody@y.example>\r\nRCPT TO:<c@y.example>\r\nDATA\r\n
            E: Mail <a@x.example>
            S: 250 2.1.0 Ok
            E: Rcpt <b@y.example>
            S: 250 2.1.5 Ok
            E: Rcpt <nobody@y.example>
            S: 550 5.1.1 No such user
            E: Rcpt <c@y.example>
            S: 250 2.1.5 Ok
            E: DataStart
            S: 354 End data with <CR><LF>.<CR><LF>
            A: each 250 2.1.5 Delivered to b | 452 4.2.2 Mailbox of c full
            C: x\r\n.\r\n
            E: Content "x\r\n"
            E: MessageComplete size=3
            S: 250 2.1.5 Delivered to b
            S: 452 4.2.2 Mailbox of c full
            C: RCPT TO:<b@y.example>\r\n
            S: 503 5.5.1 Error: need MAIL command
            "#,
        ]),
    );
    assert_eq!(run.messages[0].1.recipients, 2);
}

/// RFC 2033 §4.2: `accept` gives each accepted recipient the default reply; a refusal by
/// the server itself (size) is also sent once per recipient; BDAT LAST too (§4.3 of RFC
/// 3030 via LMTP: the final reply follows the per-recipient rule).
#[test]
fn ext_lmtp_default_and_server_verdicts_per_recipient() {
    let s = script(&[
        GREETING,
        LHLO_E,
        r"
        C: MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\nRCPT TO:<c@y.example>\r\nDATA\r\n
        E: Mail <a@x.example>
        S: 250 2.1.0 Ok
        E: Rcpt <b@y.example>
        S: 250 2.1.5 Ok
        E: Rcpt <c@y.example>
        S: 250 2.1.5 Ok
        E: DataStart
        S: 354 End data with <CR><LF>.<CR><LF>
        C: x\r\n.\r\n
        E: Content ",
        "\"x\\r\\n\"\n",
        r"
        E: MessageComplete size=3
        S: 250 2.1.5 Ok: delivered
        S: 250 2.1.5 Ok: delivered
        C: MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\nRCPT TO:<c@y.example>\r\nDATA\r\n
        E: Mail <a@x.example>
        S: 250 2.1.0 Ok
        E: Rcpt <b@y.example>
        S: 250 2.1.5 Ok
        E: Rcpt <c@y.example>
        S: 250 2.1.5 Ok
        E: DataStart
        S: 354 End data with <CR><LF>.<CR><LF>
        C: {z*10001}\r\n.\r\n
        ",
        &format!("E: Content \"{}\"\n", "z".repeat(10000)),
        r"
        S: 552 5.3.4 Error: message size exceeds fixed limit
        S: 552 5.3.4 Error: message size exceeds fixed limit
        E: MessageAborted TooBig
        C: MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\nRCPT TO:<c@y.example>\r\nBDAT 2\r\nhiBDAT 0 LAST\r\n
        E: Mail <a@x.example>
        S: 250 2.1.0 Ok
        E: Rcpt <b@y.example>
        S: 250 2.1.5 Ok
        E: Rcpt <c@y.example>
        S: 250 2.1.5 Ok
        E: DataStart chunked
        E: Content ",
        "\"hi\"\n",
        r"
        S: 250 2.0.0 2 octets received
        E: MessageComplete size=2
        S: 250 2.1.5 Ok: delivered
        S: 250 2.1.5 Ok: delivered
        ",
    ]);
    transcript(lmtp(), &s);
}

/// RFC 2033 §4.1: LHLO is refused on an SMTP listener, HELO and EHLO on an LMTP one
/// (`500 5.5.2`, the rule table allows 500 or 502).
#[test]
fn ext_lmtp_greeting_verbs() {
    transcript(
        config(),
        r"
        S: 220 mx.example ESMTP
        C: LHLO c.example\r\n
        S: 500 5.5.2 Error: command not recognized
        ",
    );
    transcript(
        lmtp(),
        r"
        S: 220 mx.example ESMTP
        C: EHLO c.example\r\n
        S: 500 5.5.2 Error: command not recognized
        C: HELO c.example\r\n
        S: 500 5.5.2 Error: command not recognized
        C: MAIL FROM:<a@x.example>\r\n
        S: 503 5.5.1 Error: send HELO/EHLO first
        ",
    );
}

// ---- RFC 8314 implicit TLS ---------------------------------------------------------------

/// RFC 8314 §3 (TLS-13): with TLS from the first octet, EHLO offers no STARTTLS (but AUTH
/// and REQUIRETLS), and STARTTLS is refused like a second STARTTLS (`554 5.5.1`).
#[test]
fn ext_8314_implicit_tls() {
    transcript(
        config(),
        r"
        S: 220 mx.example ESMTP
        TLS
        C: EHLO c.example\r\n
        E: Hello EHLO c.example
        S: 250-mx.example
        S: 250-PIPELINING
        S: 250-SIZE 10000
        S: 250-8BITMIME
        S: 250-CHUNKING
        S: 250-BINARYMIME
        S: 250-SMTPUTF8
        S: 250-ENHANCEDSTATUSCODES
        S: 250-DSN
        S: 250-REQUIRETLS
        S: 250-AUTH PLAIN LOGIN XTEST
        S: 250-MT-PRIORITY
        S: 250-DELIVERBY 3600
        S: 250 FUTURERELEASE 604800 2026-12-01T00:00:00Z
        C: STARTTLS\r\n
        S: 554 5.5.1 Error: TLS already active
        C: AUTH PLAIN AHVzZXIAcGFzcw==\r\n
        E: Auth PLAIN user pass
        S: 235 2.7.0 Authentication successful
        ",
    );
}

// ---- MT-PRIORITY (RFC 6710), DELIVERBY (RFC 2852), FUTURERELEASE (RFC 4865) ---------------

/// RFC 6710 §3: `MT-PRIORITY=` takes an optional sign and one digit, -9..9; anything else
/// gets `501 5.5.4`; without the extension advertised, `555 5.5.4`.
#[test]
fn ext_mt_priority_parameter() {
    transcript(
        config(),
        &script(&[
            GREETING,
            EHLO,
            r"
            C: MAIL FROM:<a@x.example> MT-PRIORITY=10\r\n
            S: 501 5.5.4 Syntax error in parameter MT-PRIORITY
            C: MAIL FROM:<a@x.example> MT-PRIORITY=a\r\n
            S: 501 5.5.4 Syntax error in parameter MT-PRIORITY
            C: MAIL FROM:<a@x.example> MT-PRIORITY\r\n
            S: 501 5.5.4 Syntax error in parameter MT-PRIORITY
            C: MAIL FROM:<a@x.example> MT-PRIORITY=1 MT-PRIORITY=2\r\n
            S: 501 5.5.4 Duplicate parameter MT-PRIORITY
            C: MAIL FROM:<a@x.example> mt-priority=-9\r\n
            S: 250 2.1.0 Ok
            ",
        ]),
    );
    for (value, expected) in [("3", 3), ("-9", -9), ("+9", 9), ("0", 0)] {
        let params = mail_params(
            config(),
            false,
            &format!("MAIL FROM:<a@x.example> MT-PRIORITY={value}"),
        )
        .expect("accepted");
        assert_eq!(params.mt_priority, Some(expected), "{value}");
    }
    let mut c = config();
    c.extensions.mt_priority = false;
    assert_eq!(
        mail_params(c, false, "MAIL FROM:<a@x.example> MT-PRIORITY=3"),
        Err("555 5.5.4 Unsupported parameter MT-PRIORITY\r\n".to_owned())
    );
}

/// RFC 2852 §4: `BY=<by-time>;<by-mode>[T]`, by-time up to 9 digits with a sign, mode N or
/// R, a by-time ≤ 0 not allowed with R; else `501 5.5.4`; not advertised: `555 5.5.4`.
/// (Choice: comparing by-time with the advertised minimum, 3600 here, is left to the
/// application, which gets the typed value.)
#[test]
fn ext_deliverby_parameter() {
    transcript(
        config(),
        &script(&[
            GREETING,
            EHLO,
            r"
            C: MAIL FROM:<a@x.example> BY=0;R\r\n
            S: 501 5.5.4 Syntax error in parameter BY
            C: MAIL FROM:<a@x.example> BY=-5;R\r\n
            S: 501 5.5.4 Syntax error in parameter BY
            C: MAIL FROM:<a@x.example> BY=1234567890;N\r\n
            S: 501 5.5.4 Syntax error in parameter BY
            C: MAIL FROM:<a@x.example> BY=120;X\r\n
            S: 501 5.5.4 Syntax error in parameter BY
            C: MAIL FROM:<a@x.example> BY=120\r\n
            S: 501 5.5.4 Syntax error in parameter BY
            C: MAIL FROM:<a@x.example> BY=7200;R\r\n
            S: 250 2.1.0 Ok
            ",
        ]),
    );
    for (value, seconds, mode, trace) in [
        ("7200;R", 7200, ByMode::Return, false),
        ("-60;N", -60, ByMode::Notify, false),
        ("+120;NT", 120, ByMode::Notify, true),
        ("999999999;RT", 999_999_999, ByMode::Return, true),
    ] {
        let params = mail_params(
            config(),
            false,
            &format!("MAIL FROM:<a@x.example> BY={value}"),
        )
        .expect("accepted");
        assert_eq!(
            params.deliver_by,
            Some(DeliverBy {
                seconds,
                mode,
                trace
            }),
            "{value}"
        );
    }
    let mut c = config();
    c.extensions.deliver_by = None;
    assert_eq!(
        mail_params(c, false, "MAIL FROM:<a@x.example> BY=7200;R"),
        Err("555 5.5.4 Unsupported parameter BY\r\n".to_owned())
    );
}

/// RFC 4865 §3: `HOLDFOR=1*9DIGIT` or `HOLDUNTIL=<RFC 3339 date-time>`, not both;
/// malformed values get `501 5.5.4`; not advertised: `555 5.5.4`. (Choice: comparing with
/// the advertised max interval and date-time is left to the application, which gets the
/// typed value.)
#[test]
fn ext_futurerelease_parameters() {
    transcript(
        config(),
        &script(&[
            GREETING,
            EHLO,
            r"
            C: MAIL FROM:<a@x.example> HOLDFOR=60 HOLDUNTIL=2026-11-30T12:00:00Z\r\n
            S: 501 5.5.4 Duplicate parameter HOLDUNTIL
            C: MAIL FROM:<a@x.example> HOLDFOR=abc\r\n
            S: 501 5.5.4 Syntax error in parameter HOLDFOR
            C: MAIL FROM:<a@x.example> HOLDFOR=1234567890\r\n
            S: 501 5.5.4 Syntax error in parameter HOLDFOR
            C: MAIL FROM:<a@x.example> HOLDUNTIL=2026-13-01T00:00:00Z\r\n
            S: 501 5.5.4 Syntax error in parameter HOLDUNTIL
            C: MAIL FROM:<a@x.example> HOLDUNTIL=tomorrow\r\n
            S: 501 5.5.4 Syntax error in parameter HOLDUNTIL
            C: MAIL FROM:<a@x.example> HOLDFOR=3600\r\n
            S: 250 2.1.0 Ok
            ",
        ]),
    );
    assert_eq!(
        mail_params(config(), false, "MAIL FROM:<a@x.example> HOLDFOR=3600")
            .expect("accepted")
            .hold,
        Some(Hold::For(3600))
    );
    assert_eq!(
        mail_params(
            config(),
            false,
            "MAIL FROM:<a@x.example> HOLDUNTIL=2026-11-30T12:00:00.5+01:00"
        )
        .expect("accepted")
        .hold,
        Some(Hold::Until("2026-11-30T12:00:00.5+01:00".to_owned()))
    );
    let mut c = config();
    c.extensions.future_release = None;
    assert_eq!(
        mail_params(c, false, "MAIL FROM:<a@x.example> HOLDFOR=3600"),
        Err("555 5.5.4 Unsupported parameter HOLDFOR\r\n".to_owned())
    );
}
