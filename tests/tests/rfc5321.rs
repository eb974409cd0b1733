//! RFC 5321 core conformance: one transcript per row of manual::conformance (R-*).
//!
//! Every test names its row ID; `(choice)` notes state what this server picked where the
//! rule table leaves the reply open.

use smtp_proto::ServerConfig;
use smtp_proto::codec::reply::ReplyParser;
use smtp_proto_tests::transcript::{
    EHLO, EHLO_E, GREETING, TX, TX_E, config, exact, normalize, script, transcript,
};

// ---- R-LINE-1 ----------------------------------------------------------------------------

/// R-LINE-1 (RFC 5321 §2.3.8, SMG-C1, strict): a bare LF is not a line terminator; the
/// command is refused with `500 5.5.2` and the session closes (choice: a client that
/// sends bare LF cannot be resynchronised safely, CVE-2023-51764 class).
#[test]
fn r_line_1_bare_lf_in_command_strict_closes() {
    transcript(
        config(),
        &script(&[
            GREETING,
            EHLO_E,
            r"
            C: MAIL FROM:<a@x.example>\nRCPT TO:<b@y.example>\r\n
            S: 500 5.5.2 Error: bare <LF> received
            E: Closed ProtocolViolation
            ",
        ]),
    );
}

/// R-LINE-1 (RFC 5321 §2.3.8, SMG-C1, normalize mode): the LF-terminated line is taken as
/// a line, so both commands run.
#[test]
fn r_line_1_bare_lf_in_command_normalize_two_commands() {
    transcript(
        normalize(),
        &script(&[
            GREETING,
            EHLO_E,
            r"
            C: MAIL FROM:<a@x.example>\nRCPT TO:<b@y.example>\r\n
            E: Mail <a@x.example>
            S: 250 2.1.0 Ok
            E: Rcpt <b@y.example>
            S: 250 2.1.5 Ok
            ",
        ]),
    );
}

/// R-LINE-1 (RFC 5321 §2.3.8, SMG-C2): a bare CR never splits a command, in either mode;
/// it is a control character in the arguments (`501 5.5.2`, choice) and the session goes
/// on.
#[test]
fn r_line_1_bare_cr_in_command_never_splits() {
    for c in [config(), normalize()] {
        transcript(
            c,
            &script(&[
                GREETING,
                EHLO_E,
                r"
                C: MAIL FROM:<a@x.example>\rRCPT TO:<b@y.example>\r\n
                S: 501 5.5.2 Error: control character in command
                C: NOOP\r\n
                S: 250 2.0.0 Ok
                ",
            ]),
        );
    }
}

// ---- R-LINE-2 ----------------------------------------------------------------------------

/// R-LINE-2 (RFC 5321 §4.5.3.1.4, §4.5.3.1.9): a 512-octet command line (verb and CRLF
/// included) is accepted, 513 octets get `500 5.5.2` once, and the tail of the over-long
/// line is discarded, never run as a command.
#[test]
fn r_line_2_command_line_512_octets() {
    transcript(
        config(),
        &script(&[
            GREETING,
            EHLO,
            r"
            C: NOOP {a*505}\r\n
            S: 250 2.0.0 Ok
            C: NOOP {a*506}\r\n
            S: 500 5.5.2 Error: line too long
            C: NOOP {a*600}QUIT\r\n
            S: 500 5.5.2 Error: line too long
            C: NOOP\r\n
            S: 250 2.0.0 Ok
            ",
        ]),
    );
}

/// A configuration with only the given MAIL extensions (so the MAIL line limit is exactly
/// 512 plus what their RFCs add).
fn only(size: bool, smtputf8: bool, auth: bool) -> ServerConfig {
    let mut c = ServerConfig::new("mx.example");
    let x = &mut c.extensions;
    x.pipelining = false;
    x.size = size;
    x.eight_bit_mime = false;
    x.chunking = false;
    x.binary_mime = false;
    x.smtputf8 = smtputf8;
    x.enhanced_status_codes = true;
    x.dsn = false;
    if auth {
        x.auth_mechanisms = vec!["PLAIN".to_owned()];
    }
    c.auth_requires_tls = false;
    c.limits.max_message_size = 10_000;
    c
}

/// `MAIL FROM:<a@x.example> SIZE=1000 X=aaa…` + CRLF, `total` octets long (the unknown
/// parameter `X` only pads the line: a line within the limit is parsed and gets `555`,
/// one octet more is "too long" before any parsing).
fn mail_line(total: usize) -> String {
    let fixed = "MAIL FROM:<a@x.example> SIZE=1000 X=".len() + 2;
    format!(
        "MAIL FROM:<a@x.example> SIZE=1000 X={{a*{}}}\\r\\n",
        total - fixed
    )
}

/// R-LINE-2 (RFC 1870 §3 "+26", RFC 6531 §3.4 "+10", RFC 4954 §5 "+500"): each advertised
/// extension raises the MAIL line limit by the amount its RFC states; one octet more is
/// `500 5.5.2` and the line is never parsed.
#[test]
fn r_line_2_mail_line_limit_raised_by_extensions() {
    for (c, ehlo, limit) in [
        (
            only(true, false, false),
            "S: 250-mx.example\nS: 250-SIZE 10000\nS: 250 ENHANCEDSTATUSCODES\n",
            512 + 26,
        ),
        (
            only(true, true, false),
            "S: 250-mx.example\nS: 250-SIZE 10000\nS: 250-SMTPUTF8\nS: 250 ENHANCEDSTATUSCODES\n",
            512 + 26 + 10,
        ),
        (
            only(true, true, true),
            "S: 250-mx.example\nS: 250-SIZE 10000\nS: 250-SMTPUTF8\nS: 250-ENHANCEDSTATUSCODES\nS: 250 AUTH PLAIN\n",
            512 + 26 + 10 + 500,
        ),
    ] {
        let s = format!(
            "{GREETING}C: EHLO c.example\\r\\n\n{ehlo}\
             C: {}\nS: 500 5.5.2 Error: line too long\n\
             C: {}\nS: 555 5.5.4 Unknown parameter X\n",
            mail_line(limit + 1),
            mail_line(limit),
        );
        transcript(c, &s);
    }
}

/// R-LINE-2 (RFC 4954 §4, §6): an AUTH exchange line may be 12288 octets with CRLF (that
/// one is decoded: not base64 here, `501 5.5.2`); 12289 octets get `500 5.5.6`, the line is
/// discarded and the session goes back to command mode.
#[test]
fn r_line_2_auth_exchange_line_too_long() {
    let run = transcript(
        only(false, false, true),
        &script(&[
            GREETING,
            r"
            C: EHLO c.example\r\n
            S: 250-mx.example
            S: 250-ENHANCEDSTATUSCODES
            S: 250 AUTH PLAIN
            C: AUTH PLAIN\r\n
            S: 334\x20
            C: {QUFB*3071}QU\r\n
            S: 501 5.5.2 Error: cannot decode response
            C: AUTH PLAIN\r\n
            S: 334\x20
            C: {QUFB*3071}QUF\r\n
            S: 500 5.5.6 Error: authentication exchange line is too long
            C: AUTH PLAIN\r\n
            S: 334\x20
            C: {QUFB*3072}\r\n
            S: 500 5.5.6 Error: authentication exchange line is too long
            C: NOOP\r\n
            S: 250 2.0.0 Ok
            ",
        ]),
    );
    assert!(
        run.wire.windows(8).any(|w| w == b"\r\n334 \r\n"),
        "empty challenge"
    );
}

/// R-LINE-2 (RFC 4954 §4: "the AUTH command is still subject to the line length
/// limitations defined in [SMTP]"; choice): an AUTH *command* line over the 12288-octet
/// AUTH limit is an over-long command line, `500 5.5.2` (RFC 5321 §4.5.3.1.9), discarded to
/// its end; `500 5.5.6` is kept for the SASL response lines of the exchange (test above).
#[test]
fn r_line_2_auth_initial_response_too_long() {
    transcript(
        only(false, false, true),
        &script(&[
            GREETING,
            r"
            C: EHLO c.example\r\n
            S: 250-mx.example
            S: 250-ENHANCEDSTATUSCODES
            S: 250 AUTH PLAIN
            C: AUTH PLAIN {QUFB*3072}\r\n
            S: 500 5.5.2 Error: line too long
            C: NOOP\r\n
            S: 250 2.0.0 Ok
            ",
        ]),
    );
}

// ---- R-LINE-3 ----------------------------------------------------------------------------

/// R-LINE-3 (RFC 5321 §4.5.3.1.6): a 1000-octet text line (998 + CRLF) is accepted
/// unflagged; the stuffing dot does not count (`.` + 998 octets on the wire is fine).
#[test]
fn r_line_3_text_line_1000_octets_accepted() {
    transcript(
        config(),
        &script(&[
            GREETING,
            EHLO_E,
            TX_E,
            r"
            C: DATA\r\n
            E: DataStart
            S: 354 End data with <CR><LF>.<CR><LF>
            C: {a*998}\r\n.{b*998}\r\n.\r\n
            ",
            &format!(
                "E: Content \"{}\\r\\n{}\\r\\n\"\n",
                "a".repeat(998),
                "b".repeat(998)
            ),
            r"
            E: MessageComplete size=2000
            S: 250 2.0.0 Ok: queued
            ",
        ]),
    );
}

/// R-LINE-3 (RFC 5321 §4.5.3.1.6, SMG-14; choice: accept and flag `long_line`, as
/// Postfix does): a 1001-octet line is neither split nor cut, and a `.` after the 1000th
/// octet is not a line start.
#[test]
fn r_line_3_over_long_text_line_kept_whole() {
    transcript(
        config(),
        &script(&[
            GREETING,
            EHLO_E,
            TX_E,
            r"
            C: DATA\r\n
            E: DataStart
            S: 354 End data with <CR><LF>.<CR><LF>
            C: {a*999}.\r\nx\r\n.\r\n
            ",
            &format!("E: Content \"{}.\\r\\nx\\r\\n\"\n", "a".repeat(999)),
            r"
            E: MessageComplete size=1005 long_line
            S: 250 2.0.0 Ok: queued
            ",
        ]),
    );
}

// ---- R-LEN-1 -----------------------------------------------------------------------------

/// R-LEN-1 (RFC 5321 §4.5.3.1.1–3; choice: reject above the limits, `501 5.1.7` for the
/// sender, `501 5.1.3` for a recipient): 64-octet local part accepted, 65 refused; a
/// domain over 255 octets and a path over 256 octets refused.
#[test]
fn r_len_1_local_part_domain_and_path_limits() {
    let label = "d".repeat(63);
    let long_domain = format!("{label}.{label}.{label}.{label}.example"); // 264 octets
    let path_domain = format!("{label}.{label}.{label}.{}", "e".repeat(60)); // 251 octets
    transcript(
        config(),
        &script(&[
            GREETING,
            EHLO,
            r"
            C: MAIL FROM:<{l*65}@x.example>\r\n
            S: 501 5.1.7 Bad sender address syntax: Local part too long
            C: MAIL FROM:<{l*64}@x.example>\r\n
            S: 250 2.1.0 Ok
            C: RCPT TO:<{l*65}@y.example>\r\n
            S: 501 5.1.3 Bad recipient address syntax: Local part too long
            ",
            &format!("C: RCPT TO:<b@{long_domain}>\\r\\n\n"),
            "S: 501 5.1.3 Bad recipient address syntax: Domain too long\n",
            &format!("C: RCPT TO:<bbbb@{path_domain}>\\r\\n\n"),
            "S: 501 5.1.3 Bad recipient address syntax: Path too long\n",
            &format!("C: RCPT TO:<b@{path_domain}>\\r\\n\n"),
            "S: 250 2.1.5 Ok\n",
        ]),
    );
}

// ---- R-RCPT-1 ----------------------------------------------------------------------------

/// R-RCPT-1 (RFC 5321 §4.5.3.1.8): 100 recipients must be buffered; with the default
/// limit all 100 get `250`.
#[test]
fn r_rcpt_1_one_hundred_recipients_accepted() {
    let mut s = script(&[
        GREETING,
        EHLO,
        "C: MAIL FROM:<a@x.example>\\r\\n\nS: 250 2.1.0 Ok\nC: ",
    ]);
    for i in 0..100 {
        s.push_str(&format!("RCPT TO:<r{i}@y.example>\\r\\n"));
    }
    s.push('\n');
    for _ in 0..100 {
        s.push_str("S: 250 2.1.5 Ok\n");
    }
    s.push_str(
        r"
        C: DATA\r\n
        S: 354 End data with <CR><LF>.<CR><LF>
        C: x\r\n.\r\n
        S: 250 2.0.0 Ok: queued
        ",
    );
    let run = transcript(config(), &s);
    assert_eq!(run.messages.len(), 1);
    assert_eq!(run.messages[0].1.recipients, 100);
}

/// R-RCPT-1 (RFC 5321 §4.5.3.1.10): past the implementation limit, RCPT gets
/// `452 4.5.3`; the recipients accepted before stay accepted.
#[test]
fn r_rcpt_1_over_limit_gets_452_and_keeps_earlier() {
    let mut c = config();
    c.limits.max_recipients = 100;
    let mut s = script(&[
        GREETING,
        EHLO,
        "C: MAIL FROM:<a@x.example>\\r\\n\nS: 250 2.1.0 Ok\nC: ",
    ]);
    for i in 0..102 {
        s.push_str(&format!("RCPT TO:<r{i}@y.example>\\r\\n"));
    }
    s.push('\n');
    for _ in 0..100 {
        s.push_str("S: 250 2.1.5 Ok\n");
    }
    s.push_str("S: 452 4.5.3 Error: too many recipients\n");
    s.push_str("S: 452 4.5.3 Error: too many recipients\n");
    s.push_str(
        r"
        C: DATA\r\n
        S: 354 End data with <CR><LF>.<CR><LF>
        C: x\r\n.\r\n
        S: 250 2.0.0 Ok: queued
        ",
    );
    let run = transcript(c, &s);
    assert_eq!(run.messages[0].1.recipients, 100);
}

// ---- R-MSG-1 -----------------------------------------------------------------------------

/// R-MSG-1 (RFC 5321 §4.5.3.1.7): a 64 KiB message is accepted by the default
/// configuration (32 MiB limit). `transcript::config()` lowers the limit to 10000 for tests.
#[test]
fn r_msg_1_64k_message_accepted_by_default() {
    let line = format!("{}\\r\\n", "x".repeat(998));
    let content = line.repeat(66); // 66 000 octets
    let s = format!(
        "{GREETING}\
         C: EHLO c.example\\r\\n\n\
         E: Hello EHLO c.example\n\
         S: 250-mx.example\nS: 250-PIPELINING\nS: 250-SIZE 33554432\nS: 250-8BITMIME\n\
         S: 250-CHUNKING\nS: 250-BINARYMIME\nS: 250-SMTPUTF8\nS: 250-ENHANCEDSTATUSCODES\n\
         S: 250 DSN\n\
         {TX_E}\
         C: DATA\\r\\n\nE: DataStart\nS: 354 End data with <CR><LF>.<CR><LF>\n\
         C: {content}.\\r\\n\n\
         E: Content \"{content}\"\n\
         E: MessageComplete size=66000\n\
         S: 250 2.0.0 Ok: queued\n"
    );
    transcript(ServerConfig::new("mx.example"), &s);
}

// ---- R-REPLY-1 ---------------------------------------------------------------------------

/// R-REPLY-1 (RFC 5321 §4.2, RFC 2920 §3.1): every command gets exactly one reply, in
/// order, failed ones included; multiline replies use `-` on all lines but the last.
#[test]
fn r_reply_1_one_reply_per_command_in_order() {
    let run = transcript(
        config(),
        &script(&[
            GREETING,
            EHLO,
            r"
            C: MAIL FROM:<a@x.example>\r\nRCPT TO:<bad>\r\nRCPT TO:<b@y.example>\r\nXYZZY\r\nRCPT TO:<c@y.example> FOO=1\r\nRSET\r\nMAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\nDATA\r\n
            S: 250 2.1.0 Ok
            S: 501 5.1.3 Bad recipient address syntax: Missing domain in address
            S: 250 2.1.5 Ok
            S: 500 5.5.2 Error: command not recognized
            S: 555 5.5.4 Unknown parameter FOO
            S: 250 2.0.0 Ok
            S: 250 2.1.0 Ok
            S: 250 2.1.5 Ok
            S: 354 End data with <CR><LF>.<CR><LF>
            C: x\r\n.\r\n
            S: 250 2.0.0 Ok: queued
            C: QUIT\r\n
            S: 221 2.0.0 Bye
            ",
        ]),
    );
    // Greeting + EHLO + 9 pipelined commands + end of data + QUIT. The parser holds every
    // line to `ddd-text` but the last (`ddd text` or `ddd`), and one code per reply.
    assert!(run.wire.is_ascii(), "replies are ASCII");
    let mut parser = ReplyParser::new();
    parser.feed(&run.wire);
    let mut all = Vec::new();
    while let Some(reply) = parser.next_reply().expect("well-formed replies") {
        assert!(
            !reply.bare_lf_seen(),
            "reply line ending in a bare LF: {reply}"
        );
        assert!(!reply.is_truncated(), "reply line too long: {reply}");
        all.push(reply.to_string());
    }
    assert_eq!(parser.buffered(), 0, "unterminated reply");
    assert_eq!(all.len(), 13, "{all:#?}");
}

// ---- R-REPLY-2 ---------------------------------------------------------------------------

/// R-REPLY-2 (RFC 5321 §4.2 `textstring = 1*(%d09 / %d32-126)`): client data echoed in a
/// reply (the parameter keyword) is cut to keyword characters; no 8-bit or control octet
/// reaches the wire.
#[test]
fn r_reply_2_echoed_client_data_is_sanitised() {
    let run = transcript(
        config(),
        &script(&[
            GREETING,
            EHLO,
            r"
            C: MAIL FROM:<a@x.example> FOO\xc3\xa9=1\r\n
            S: 501 5.5.4 Syntax error in parameter FOO
            C: MAIL FROM:<a@x.example> {K*40}=1\r\n
            S: 555 5.5.4 Unknown parameter KKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKK
            ",
        ]),
    );
    assert!(
        run.wire.split(|&b| b == b'\n').all(|l| l
            .strip_suffix(b"\r")
            .unwrap_or(l)
            .iter()
            .all(|&b| b == b'\t' || (32..127).contains(&b))),
        "reply text outside textstring"
    );
}

// ---- R-GREET-1 ---------------------------------------------------------------------------

/// R-GREET-1 (RFC 5321 §3.1, §4.3.1): the greeting is `220 <domain> <text>`, with no
/// enhanced code (RFC 2034 §3). The `554` no-service greeting has no core switch (see
/// the report).
#[test]
fn r_greet_1_greeting_names_the_host() {
    let mut c = config();
    c.greeting = "ESMTP ready, no UCE".to_owned();
    transcript(
        c,
        r"
        S: 220 mx.example ESMTP ready, no UCE
        C: QUIT\r\n
        S: 221 2.0.0 Bye
        ",
    );
}

// ---- R-SEQ-1 .. R-SEQ-6 ------------------------------------------------------------------

/// R-SEQ-1 (RFC 5321 §4.1.4, §4.1.1.1): MAIL before HELO/EHLO gets `503 5.5.1`, and the
/// session is unchanged (EHLO then MAIL works).
#[test]
fn r_seq_1_mail_before_hello_503() {
    transcript(
        config(),
        &script(&[
            GREETING,
            r"
            C: MAIL FROM:<a@x.example>\r\n
            S: 503 5.5.1 Error: send HELO/EHLO first
            ",
            EHLO,
            r"
            C: MAIL FROM:<a@x.example>\r\n
            S: 250 2.1.0 Ok
            ",
        ]),
    );
}

/// R-SEQ-2 (RFC 5321 §3.3): RCPT without MAIL gets `503 5.5.1`.
#[test]
fn r_seq_2_rcpt_without_mail_503() {
    transcript(
        config(),
        &script(&[
            GREETING,
            EHLO,
            r"
            C: RCPT TO:<b@y.example>\r\n
            S: 503 5.5.1 Error: need MAIL command
            ",
        ]),
    );
}

/// R-SEQ-3 (RFC 5321 §4.1.4): MAIL inside an open transaction gets `503 5.5.1`; the
/// transaction stays as it was (DATA still goes through with the original recipient).
#[test]
fn r_seq_3_nested_mail_503() {
    transcript(
        config(),
        &script(&[
            GREETING,
            EHLO_E,
            TX_E,
            r#"
            C: MAIL FROM:<c@z.example>\r\n
            S: 503 5.5.1 Error: nested MAIL command
            C: DATA\r\n
            E: DataStart
            S: 354 End data with <CR><LF>.<CR><LF>
            C: x\r\n.\r\n
            E: Content "x\r\n"
            E: MessageComplete size=3
            S: 250 2.0.0 Ok: queued
            "#,
        ]),
    );
}

/// R-SEQ-4 (RFC 5321 §3.3): DATA without MAIL, or with MAIL but no RCPT, gets
/// `503 5.5.1`; after only refused recipients `554 5.5.1` (Postfix's choice, kept here).
#[test]
fn r_seq_4_data_without_valid_recipients() {
    transcript(
        config(),
        &script(&[
            GREETING,
            EHLO_E,
            r"
            C: DATA\r\n
            S: 503 5.5.1 Error: need MAIL command
            C: MAIL FROM:<a@x.example>\r\n
            E: Mail <a@x.example>
            S: 250 2.1.0 Ok
            C: DATA\r\n
            S: 503 5.5.1 Error: need RCPT command
            A: 550 5.1.1 No such user
            C: RCPT TO:<nobody@y.example>\r\n
            E: Rcpt <nobody@y.example>
            S: 550 5.1.1 No such user
            C: DATA\r\n
            S: 554 5.5.1 Error: no valid recipients
            ",
        ]),
    );
}

/// R-SEQ-5 (RFC 5321 §4.1.4): after a 501 or 503 the server stays in the same state: the
/// next valid command behaves as before, and the message has its one recipient.
#[test]
fn r_seq_5_errors_do_not_change_state() {
    let run = transcript(
        config(),
        &script(&[
            GREETING,
            EHLO,
            r"
            C: MAIL FROM:<a@x.example\r\n
            S: 501 5.1.7 Bad sender address syntax: Missing angle brackets
            C: RCPT TO:<b@y.example>\r\n
            S: 503 5.5.1 Error: need MAIL command
            ",
            TX,
            r"
            C: RCPT TO:b@y.example\r\n
            S: 501 5.5.4 Syntax: RCPT TO:<address>
            C: MAIL FROM:<c@z.example>\r\n
            S: 503 5.5.1 Error: nested MAIL command
            C: DATA now\r\n
            S: 501 5.5.4 Syntax error: no arguments allowed
            C: DATA\r\n
            S: 354 End data with <CR><LF>.<CR><LF>
            C: x\r\n.\r\n
            S: 250 2.0.0 Ok: queued
            ",
        ]),
    );
    assert_eq!(run.messages.len(), 1);
    assert_eq!(run.messages[0].1.recipients, 1);
}

/// R-SEQ-6 (RFC 5321 §4.1.4): NOOP, HELP, VRFY, EXPN and RSET work before EHLO, never a
/// `503`.
#[test]
fn r_seq_6_noop_help_vrfy_expn_rset_before_hello() {
    transcript(
        config(),
        r"
        S: 220 mx.example ESMTP
        C: NOOP\r\n
        S: 250 2.0.0 Ok
        C: RSET\r\n
        S: 250 2.0.0 Ok
        C: HELP\r\n
        S: 214 2.0.0 See https://www.rfc-editor.org/rfc/rfc5321
        C: VRFY bob\r\n
        E: Verify bob
        S: 252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery
        C: EXPN list\r\n
        E: Expand list
        S: 252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery
        ",
    );
}

// ---- R-RSET-1 ----------------------------------------------------------------------------

/// R-RSET-1 (RFC 5321 §4.1.1.5): RSET always gets 250, drops the transaction
/// (`TransactionReset`), keeps the HELO identity (MAIL works without a new EHLO), never
/// closes; `RSET foo` gets `501 5.5.4`.
#[test]
fn r_rset_1_rset_clears_transaction_keeps_hello() {
    transcript(
        config(),
        &script(&[
            GREETING,
            EHLO_E,
            TX_E,
            r"
            C: RSET foo\r\n
            S: 501 5.5.4 Syntax error: no arguments allowed
            C: RSET\r\n
            S: 250 2.0.0 Ok
            E: TransactionReset
            C: RCPT TO:<b@y.example>\r\n
            S: 503 5.5.1 Error: need MAIL command
            C: RSET\r\nRSET\r\n
            S: 250 2.0.0 Ok
            S: 250 2.0.0 Ok
            C: MAIL FROM:<a@x.example>\r\n
            E: Mail <a@x.example>
            S: 250 2.1.0 Ok
            ",
        ]),
    );
}

// ---- R-EHLO-1 .. R-EHLO-3 ----------------------------------------------------------------

/// R-EHLO-1 (RFC 5321 §4.1.4): an accepted second EHLO resets like RSET (RCPT then gets
/// `503`); an EHLO without argument gets `501 5.5.4` and leaves the transaction intact;
/// an EHLO the application refuses leaves it intact too.
#[test]
fn r_ehlo_1_second_ehlo_resets_failed_ehlo_does_not() {
    transcript(
        config(),
        &script(&[
            GREETING,
            EHLO_E,
            TX_E,
            r"
            C: EHLO\r\n
            S: 501 5.5.4 Syntax: EHLO hostname
            C: RCPT TO:<c@y.example>\r\n
            E: Rcpt <c@y.example>
            S: 250 2.1.5 Ok
            A: 550 5.7.1 Go away
            C: EHLO c2.example\r\n
            E: Hello EHLO c2.example
            S: 550 5.7.1 Go away
            C: RCPT TO:<d@y.example>\r\n
            E: Rcpt <d@y.example>
            S: 250 2.1.5 Ok
            ",
            &EHLO_E.replace("c.example", "c2.example"),
            r"
            E: TransactionReset
            C: RCPT TO:<b@y.example>\r\n
            S: 503 5.5.1 Error: need MAIL command
            ",
        ]),
    );
}

/// R-EHLO-2, R-EHLO-3 (RFC 5321 §4.1.1.1, §4.1.4, §4.1.3): EHLO with an address literal
/// is accepted; HELO with one too (choice: the RFC says HELO takes a Domain); any name is
/// accepted whatever the client's IP. The EHLO reply starts `250-<domain>` and every
/// keyword matches `(ALPHA / DIGIT) *(ALPHA / DIGIT / "-")`.
#[test]
fn r_ehlo_2_address_literal_and_keyword_syntax() {
    let run = transcript(
        config(),
        &script(&[
            GREETING,
            &EHLO_E.replace("c.example", "[192.0.2.1]"),
            r"
            C: HELO [IPv6:2001:db8::1]\r\n
            E: Hello HELO [IPv6:2001:db8::1]
            S: 250 mx.example
            C: HELO unrelated-to-the-ip.example\r\n
            E: Hello HELO unrelated-to-the-ip.example
            S: 250 mx.example
            ",
        ]),
    );
    let text = String::from_utf8(run.wire).expect("ASCII");
    let ehlo: Vec<&str> = text
        .split_terminator("\r\n")
        .skip(1)
        .take_while(|l| l.starts_with("250-"))
        .collect();
    assert_eq!(ehlo[0], "250-mx.example");
    let last = text
        .split_terminator("\r\n")
        .nth(ehlo.len() + 1)
        .expect("last EHLO line");
    assert!(last.starts_with("250 FUTURERELEASE"), "{last}");
    for line in ehlo[1..].iter().chain([&last]) {
        let keyword = line[4..].split(' ').next().expect("keyword");
        let b = keyword.as_bytes();
        assert!(b[0].is_ascii_alphanumeric(), "{keyword}");
        assert!(
            b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-'),
            "{keyword}"
        );
    }
}

// ---- R-VRFY-1 ----------------------------------------------------------------------------

/// R-VRFY-1 (RFC 5321 §7.3): a server that does not verify answers `252`, never `250`.
#[test]
fn r_vrfy_1_vrfy_is_252() {
    transcript(
        config(),
        &script(&[
            GREETING,
            EHLO_E,
            r"
            C: VRFY bob\r\n
            E: Verify bob
            S: 252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery
            ",
        ]),
    );
}

// ---- R-QUIT-1 ----------------------------------------------------------------------------

/// R-QUIT-1 (RFC 5321 §4.1.1.10, §3.8): QUIT in a transaction gets `221 2.0.0`, aborts the
/// transaction (`TransactionReset`) and closes.
#[test]
fn r_quit_1_quit_aborts_and_closes() {
    transcript(
        config(),
        &script(&[
            GREETING,
            EHLO_E,
            TX_E,
            r"
            C: QUIT\r\n
            S: 221 2.0.0 Bye
            E: TransactionReset
            E: Closed Quit
            C: NOOP\r\n
            ",
        ]),
    );
}

// ---- R-421-1 -----------------------------------------------------------------------------

/// R-421-1 (RFC 5321 §3.8): `shutdown()` sends `421 4.3.2 <host> Service not available`
/// and closes, also unsolicited in the middle of a transaction.
#[test]
fn r_421_1_shutdown_sends_421_and_closes() {
    transcript(
        config(),
        &script(&[
            GREETING,
            EHLO_E,
            TX_E,
            r"
            SHUTDOWN
            S: 421 4.3.2 mx.example Service not available, closing transmission channel
            E: TransactionReset
            E: Closed Shutdown
            ",
        ]),
    );
}

/// R-421-1 (RFC 5321 §3.8: "a server that closes connections in response to commands that
/// are not understood is in violation"): an unknown verb gets `500 5.5.2` and the session
/// continues.
#[test]
fn r_421_1_unknown_verb_does_not_close() {
    transcript(
        config(),
        &script(&[
            GREETING,
            EHLO_E,
            r"
            C: XYZZY\r\n
            S: 500 5.5.2 Error: command not recognized
            C: XYZZY plugh\r\n
            S: 500 5.5.2 Error: command not recognized
            C: NOOP\r\n
            S: 250 2.0.0 Ok
            ",
        ]),
    );
}

// ---- R-TIMEOUT-1 -------------------------------------------------------------------------

/// R-TIMEOUT-1 (RFC 5321 §4.5.3.2.7): the server waits at least 5 minutes for a command;
/// then `421 4.4.2 … timeout` and close. (Details in timeouts.rs.)
#[test]
fn r_timeout_1_five_minutes_then_421() {
    transcript(
        config(),
        &script(&[
            GREETING,
            EHLO_E,
            r"
            T: +299
            T: +1
            S: 421 4.4.2 mx.example Error: timeout exceeded
            E: Closed Timeout
            ",
        ]),
    );
}

// ---- R-CASE-1 ----------------------------------------------------------------------------

/// R-CASE-1 (RFC 5321 §2.4): verbs, `FROM:`/`TO:` and parameter keywords are
/// case-insensitive; the local part keeps its case.
#[test]
fn r_case_1_case_insensitive_verbs_case_preserving_local_part() {
    transcript(
        config(),
        r#"
        S: 220 mx.example ESMTP
        C: ehlo c.example\r\n
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
        S: 250-STARTTLS
        S: 250-MT-PRIORITY
        S: 250-DELIVERBY 3600
        S: 250 FUTURERELEASE 604800 2026-12-01T00:00:00Z
        C: mail from:<Bob@X.Example> body=8bitmime size=10\r\nRcPt To:<CaSe@Y.Example>\r\ndata\r\n
        E: Mail <Bob@X.Example>
        S: 250 2.1.0 Ok
        E: Rcpt <CaSe@Y.Example>
        S: 250 2.1.5 Ok
        E: DataStart
        S: 354 End data with <CR><LF>.<CR><LF>
        C: x\r\n.\r\n
        E: Content "x\r\n"
        E: MessageComplete size=3
        S: 250 2.0.0 Ok: queued
        "#,
    );
}

// ---- R-PM-1 ------------------------------------------------------------------------------

/// R-PM-1 (RFC 5321 §4.5.1): `RCPT TO:<Postmaster>` without a domain is accepted in any
/// case.
#[test]
fn r_pm_1_postmaster_without_domain() {
    transcript(
        config(),
        &script(&[
            GREETING,
            EHLO_E,
            r"
            C: MAIL FROM:<a@x.example>\r\nRCPT TO:<postMASTER>\r\nRCPT TO:<Postmaster>\r\n
            E: Mail <a@x.example>
            S: 250 2.1.0 Ok
            E: Rcpt <Postmaster>
            S: 250 2.1.5 Ok
            E: Rcpt <Postmaster>
            S: 250 2.1.5 Ok
            ",
        ]),
    );
}

// ---- R-NULL-1 ----------------------------------------------------------------------------

/// R-NULL-1 (RFC 5321 §4.1.2 `Reverse-path = Path / "<>"`): the null sender is accepted;
/// `<>` as a recipient is not.
#[test]
fn r_null_1_null_sender_accepted() {
    transcript(
        config(),
        &script(&[
            GREETING,
            EHLO_E,
            r"
            C: MAIL FROM:<>\r\nRCPT TO:<>\r\n
            E: Mail <>
            S: 250 2.1.0 Ok
            S: 501 5.1.3 Bad recipient address syntax: Null path not allowed here
            ",
        ]),
    );
}

// ---- R-SYN-1, R-SYN-2 --------------------------------------------------------------------

/// R-SYN-1 (RFC 5321 §3.3; choice: a space after the colon is tolerated, as Postfix does;
/// a path without angle brackets gets `501 5.5.4`).
#[test]
fn r_syn_1_space_after_colon_tolerated_brackets_required() {
    transcript(
        config(),
        &script(&[
            GREETING,
            EHLO_E,
            r"
            C: MAIL FROM:a@x.example\r\n
            S: 501 5.5.4 Syntax: MAIL FROM:<address>
            C: MAIL FROM <a@x.example>\r\n
            S: 501 5.5.4 Syntax: MAIL FROM:<address>
            C: MAIL FROM: <a@x.example>\r\n
            E: Mail <a@x.example>
            S: 250 2.1.0 Ok
            C: RCPT TO:b@y.example\r\n
            S: 501 5.5.4 Syntax: RCPT TO:<address>
            C: RCPT TO: <b@y.example>\r\n
            E: Rcpt <b@y.example>
            S: 250 2.1.5 Ok
            ",
        ]),
    );
}

/// R-SYN-2 (RFC 5321 §4.1.2, Appendix C): source routes are accepted and ignored.
#[test]
fn r_syn_2_source_route_stripped() {
    transcript(
        config(),
        &script(&[
            GREETING,
            EHLO_E,
            r"
            C: MAIL FROM:<@a.example:s@x.example>\r\nRCPT TO:<@a.example,@b.example:u@c.example>\r\n
            E: Mail <s@x.example>
            S: 250 2.1.0 Ok
            E: Rcpt <u@c.example>
            S: 250 2.1.5 Ok
            ",
        ]),
    );
}

// ---- R-PARAM-1 ---------------------------------------------------------------------------

/// R-PARAM-1 (RFC 5321 §4.1.1.11): an unknown MAIL or RCPT parameter gets `555 5.5.4`;
/// the application can answer `455` (temporarily unable) itself.
#[test]
fn r_param_1_unknown_parameter_555() {
    transcript(
        config(),
        &script(&[
            GREETING,
            EHLO_E,
            r"
            C: MAIL FROM:<a@x.example> FOO=1\r\n
            S: 555 5.5.4 Unknown parameter FOO
            C: MAIL FROM:<a@x.example> XFOO\r\n
            S: 555 5.5.4 Unknown parameter XFOO
            A: 455 4.5.4 Unable to accommodate parameters now
            C: MAIL FROM:<a@x.example> SIZE=10\r\n
            E: Mail <a@x.example>
            S: 455 4.5.4 Unable to accommodate parameters now
            C: MAIL FROM:<a@x.example>\r\n
            E: Mail <a@x.example>
            S: 250 2.1.0 Ok
            C: RCPT TO:<b@y.example> FOO=1\r\n
            S: 555 5.5.4 Unknown parameter FOO
            ",
        ]),
    );
}

// ---- R-8BIT-1 ----------------------------------------------------------------------------

/// R-8BIT-1 (RFC 5321 §2.4, §4.1.2): control characters in MAIL/RCPT are refused
/// (`501 5.5.2`); octets that are not UTF-8 get `500 5.5.2` ("invalid character").
#[test]
fn r_8bit_1_controls_and_8bit_in_envelope_refused() {
    transcript(
        config(),
        &script(&[
            GREETING,
            EHLO,
            r"
            C: MAIL FROM:<b\x01b@x.example>\r\n
            S: 501 5.5.2 Error: control character in command
            C: MAIL FROM:<b\x7fb@x.example>\r\n
            S: 501 5.5.2 Error: control character in command
            C: MAIL FROM:<b\xffb@x.example>\r\n
            S: 500 5.5.2 Error: invalid UTF-8 in command
            C: MAIL FROM:<a@x.example>\r\n
            S: 250 2.1.0 Ok
            C: RCPT TO:<b\x00b@y.example>\r\n
            S: 501 5.5.2 Error: control character in command
            ",
        ]),
    );
}

// ---- R-DATA-1, R-DATA-2 ------------------------------------------------------------------

/// R-DATA-1 (RFC 5321 §4.2.5, §4.1.1.4): after end of data the application gives one
/// verdict and the client gets exactly one reply; a 4xx/5xx verdict ends the transaction
/// just as a 2xx does.
#[test]
fn r_data_1_one_verdict_after_end_of_data() {
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
            A: 451 4.3.0 Try again later
            C: x\r\n.\r\n
            E: Content "x\r\n"
            E: MessageComplete size=3
            S: 451 4.3.0 Try again later
            C: RCPT TO:<b@y.example>\r\n
            S: 503 5.5.1 Error: need MAIL command
            "#,
            TX_E,
            r#"
            C: DATA\r\n
            E: DataStart
            S: 354 End data with <CR><LF>.<CR><LF>
            A: 554 5.7.1 Rejected
            C: y\r\n.\r\n
            E: Content "y\r\n"
            E: MessageComplete size=3
            S: 554 5.7.1 Rejected
            C: NOOP\r\n
            S: 250 2.0.0 Ok
            "#,
        ]),
    );
}

/// R-DATA-2 (RFC 5321 §3.3, SMG-P1; choice: `554 5.5.0` + close): content sent with DATA,
/// before the `354`, is a synchronisation violation.
#[test]
fn r_data_2_no_content_before_354() {
    exact(
        config(),
        &script(&[
            GREETING,
            EHLO_E,
            TX_E,
            r"
            C: DATA\r\nSubject: x\r\n
            S: 554 5.5.0 Error: SMTP protocol synchronization: a command came before the reply it must wait for (RFC 2920)
            E: TransactionReset
            E: Closed ProtocolViolation
            ",
        ]),
    );
}

/// R-DATA-2 (SMG-P2): DATA, then the content in a later read after the `354`, is normal.
#[test]
fn r_data_2_content_after_354() {
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
            C: Subject: x\r\n\r\nb\r\n.\r\n
            E: Content "Subject: x\r\n\r\nb\r\n"
            E: MessageComplete size=17
            S: 250 2.0.0 Ok: queued
            "#,
        ]),
    );
}

/// R-GREET-1 (RFC 5321 §3.1): a server refusing service greets with 554, waits for QUIT,
/// answers everything else 503, and closes after 221. The 503s are not counted as client
/// errors, so the session never reaches the 421 error limit.
#[test]
fn r_greet_1_refusing_service() {
    let mut c = config();
    c.no_service = true;
    transcript(
        c,
        r"
        S: 554 mx.example ESMTP
        C: EHLO c.example\r\n
        S: 503 5.5.1 Error: no SMTP service here
        C: MAIL FROM:<a@x.example>\r\n
        S: 503 5.5.1 Error: no SMTP service here
        C: XYZZY\r\n
        S: 503 5.5.1 Error: no SMTP service here
        C: QUIT\r\n
        S: 221 2.0.0 Bye
        E: Closed Quit
        ",
    );
}
