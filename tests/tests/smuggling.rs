//! SMTP smuggling (manual::smuggling): the end-of-data attack sequences SMG-01..SMG-17 in
//! strict and normalize modes, BDAT (SMG-B1/B2), the pipelining synchronisation rows
//! (SMG-P1..P5), the command-line rows (SMG-C1..C3) and the SMUG-1..10 rules.
//!
//! Sources: CVE-2023-51764 (Postfix), CVE-2023-51765 (Sendmail), CVE-2023-51766 (Exim),
//! CVE-2024-27305 (aiosmtpd), SEC Consult "SMTP Smuggling" (2023-12-18), RFC 5321 §2.3.8,
//! §4.1.1.4, RFC 2920 §3.1, RFC 3030.

use smtp_proto::{CloseReason, Event};
use smtp_proto_tests::transcript::{
    EHLO_REPLY, QUIT, TestConfig, config, decode_bytes, exact, greeted, in_transaction, normalize,
    run_script, run_split, t0, transcript,
};

/// [D]: [T] plus DATA answered 354.
fn in_data() -> String {
    in_transaction()
        + r"
C: DATA\r\n
E: DataStart
S: 354 End data with <CR><LF>.<CR><LF>
"
}

fn no_sync_check(mut c: TestConfig) -> TestConfig {
    c.pipelining_sync_check = false;
    c
}

// ---- The smuggling scenario of manual::smuggling ---------------------------------------

/// Content before the attack sequence.
const PRE: &str = r"Subject: t\r\n\r\nbody";
/// The smuggled transaction after the attack sequence, ending in the real terminator.
const POST: &str = r"MAIL FROM:<evil@a.example>\r\nRCPT TO:<victim@b.example>\r\nDATA\r\nSubject: smuggled\r\n\r\nx\r\n.\r\n";
/// `POST` as message content: everything before the final `.\r\n`.
const SMUGGLED: &str = r"MAIL FROM:<evil@a.example>\r\nRCPT TO:<victim@b.example>\r\nDATA\r\nSubject: smuggled\r\n\r\nx\r\n";

const BARE_REJECT: &str =
    "S: 550 5.5.2 Error: bare <CR>, bare <LF> or NUL received in message content";

/// Runs the scenario "[D], then PRE + `seq` + POST in one feed, then QUIT".
///
/// `outcome` lists what must happen between the feed and QUIT. Because QUIT is answered
/// with the next `221` right after `outcome`, the smuggled MAIL/RCPT/DATA never get a reply
/// of their own (the invariant of every row but SMG-01/SMG-16). Returns the number of
/// messages the application was asked to accept.
#[track_caller]
fn smuggle(config: TestConfig, seq: &str, outcome: &str) -> usize {
    let script = format!("{}C: {PRE}{seq}{POST}\n{outcome}{QUIT}", in_data());
    transcript(config, &script).messages.len()
}

/// Strict mode: not end-of-data. The bare CR/LF/NUL makes the server consume everything up
/// to the real terminator and then answer one delayed `550 5.5.2` with `MessageAborted`
/// (SMUG-3). The content, `decoded` being what `seq` becomes, streams to the application
/// before the verdict *(choice: SMUG-3 says no DataChunk needs to be emitted after the flag;
/// this server streams up to `max_message_size` octets so that the events do not depend on
/// read boundaries, then aborts)*. No message is ever completed.
#[track_caller]
fn strict_rejects(seq: &str, decoded: &str) {
    let outcome = format!(
        "E: Content \"{PRE}{decoded}{SMUGGLED}\"\n{BARE_REJECT}\nE: MessageAborted BareLineEnding\n"
    );
    assert_eq!(
        smuggle(config(), seq, &outcome),
        0,
        "no message may be accepted"
    );
}

/// One message, ending at the real terminator, whose content is PRE + `decoded` + the
/// smuggled commands as plain text; `flags` are the `MessageComplete` flags.
#[track_caller]
fn accepted_as_one_message(config: TestConfig, seq: &str, decoded: &str, flags: &str) {
    let content = format!("{PRE}{decoded}{SMUGGLED}");
    let size = decode_bytes(&content).len();
    let outcome = format!(
        "E: Content \"{content}\"\nE: MessageComplete size={size}{flags}\nS: 250 2.0.0 Ok: queued\n"
    );
    assert_eq!(smuggle(config, seq, &outcome), 1, "exactly one message");
}

/// SMG-01 (RFC 5321 §4.1.1.4): `\r\n.\r\n` is the end of data. The MAIL and RCPT after it
/// are a legitimate pipelined second transaction; the second DATA arrives with its content
/// already buffered, which breaks RFC 2920's synchronisation rule: `554 5.5.0` and close
/// (SMUG-9, on by default). The sync check depends on read boundaries by definition, so
/// this script is checked as written (not re-fed byte by byte).
#[test]
fn smg_01_crlf_dot_crlf_is_end_of_data_then_sync_violation() {
    let script = in_data()
        + &format!("C: {PRE}\\r\\n.\\r\\n{POST}\n")
        + r#"
E: Content "Subject: t\r\n\r\nbody\r\n"
E: MessageComplete size=20
S: 250 2.0.0 Ok: queued
E: Mail <evil@a.example>
S: 250 2.1.0 Ok
E: Rcpt <victim@b.example>
S: 250 2.1.5 Ok
S: 554 5.5.0 Error: SMTP protocol synchronization
E: TransactionReset
E: Closed ProtocolViolation
"#;
    let (run, expected) = run_script(config(), &script);
    assert_eq!(run.log, expected);
    assert_eq!(run.messages.len(), 1);
}

/// SMG-01 with the sync check off: two genuine messages (`354` … `250` for the second).
#[test]
fn smg_01_crlf_dot_crlf_without_sync_check_gives_two_genuine_messages() {
    for c in [no_sync_check(config()), no_sync_check(normalize())] {
        let script = in_data()
            + &format!("C: {PRE}\\r\\n.\\r\\n{POST}\n")
            + r#"
E: Content "Subject: t\r\n\r\nbody\r\n"
E: MessageComplete size=20
S: 250 2.0.0 Ok: queued
E: Mail <evil@a.example>
S: 250 2.1.0 Ok
E: Rcpt <victim@b.example>
S: 250 2.1.5 Ok
E: DataStart
S: 354 End data with <CR><LF>.<CR><LF>
E: Content "Subject: smuggled\r\n\r\nx\r\n"
E: MessageComplete size=24
S: 250 2.0.0 Ok: queued
"# + QUIT;
        let run = transcript(c, &script);
        assert_eq!(run.messages.len(), 2);
    }
}

/// SMG-02 `\n.\n` (Postfix <3.9, Sendmail, Exim, go-smtp before cd06f48; CVE-2023-51764..6).
#[test]
fn smg_02_lf_dot_lf_strict() {
    strict_rejects(r"\n.\n", r"\n.\n");
}

/// SMG-02 normalize: the `.` line ended in bare LF, so it is dropped; LF lines become lines.
#[test]
fn smg_02_lf_dot_lf_normalize() {
    accepted_as_one_message(normalize(), r"\n.\n", r"\r\n", " bare_lf");
}

/// SMG-03 `\n.\r\n`: the in-the-wild vector (CVE-2023-51764, CVE-2024-27305).
#[test]
fn smg_03_lf_dot_crlf_is_not_end_of_data_strict() {
    strict_rejects(r"\n.\r\n", r"\n.\r\n");
}

/// SMG-03 normalize: the previous line ended in bare LF, so the `.` line is skipped.
#[test]
fn smg_03_lf_dot_crlf_is_not_end_of_data_normalize() {
    accepted_as_one_message(normalize(), r"\n.\r\n", r"\r\n", " bare_lf");
}

/// SMG-04 `\r\n.\n` (Exim <4.97.1 "CR LF . LF", CVE-2023-51766).
#[test]
fn smg_04_crlf_dot_lf_strict() {
    strict_rejects(r"\r\n.\n", r"\r\n\n");
}

/// SMG-04 normalize: the dot line ends in bare LF, so it is dropped.
#[test]
fn smg_04_crlf_dot_lf_normalize() {
    accepted_as_one_message(normalize(), r"\r\n.\n", r"\r\n", " bare_lf");
}

/// SMG-05 `\r.\r` (Cisco "Clean" mode, CERT-EU 2023-098).
#[test]
fn smg_05_cr_dot_cr_strict() {
    strict_rejects(r"\r.\r", r"\r.\r");
}

/// SMG-05 normalize (and SMUG-2): bare CR is never a line end; normalisation never creates
/// a terminator. Bare CR stays content, flagged.
#[test]
fn smg_05_cr_dot_cr_normalize() {
    accepted_as_one_message(normalize(), r"\r.\r", r"\r.\r", " bare_cr");
}

/// SMG-06 `\r.\r\n` (smtpsmug `crcrlf`).
#[test]
fn smg_06_cr_dot_crlf() {
    strict_rejects(r"\r.\r\n", r"\r.\r\n");
    accepted_as_one_message(normalize(), r"\r.\r\n", r"\r.\r\n", " bare_cr");
}

/// SMG-07 `\r.\n` and `\n.\r` (tool probes).
#[test]
fn smg_07_cr_dot_lf_and_lf_dot_cr() {
    strict_rejects(r"\r.\n", r"\r.\n");
    strict_rejects(r"\n.\r", r"\n.\r");
    accepted_as_one_message(normalize(), r"\r.\n", r"\r.\r\n", " bare_cr bare_lf");
    accepted_as_one_message(normalize(), r"\n.\r", r"\r\n\r", " bare_cr bare_lf");
}

/// SMG-08 `\r\n.\r` followed by a non-LF (SMTP-Smuggling-Tools#6): the dot is a stuffing
/// dot and the CR is bare.
#[test]
fn smg_08_crlf_dot_cr_then_other() {
    strict_rejects(r"\r\n.\r", r"\r\n\r");
    accepted_as_one_message(normalize(), r"\r\n.\r", r"\r\n\r", " bare_cr");
}

/// SMG-09 `\r\n.\r\r\n` (Postfix before 20240106; stalwartlabs/smtp-proto 0.2.1).
#[test]
fn smg_09_crlf_dot_cr_cr_lf() {
    strict_rejects(r"\r\n.\r\r\n", r"\r\n\r\r\n");
    accepted_as_one_message(normalize(), r"\r\n.\r\r\n", r"\r\n\r\r\n", " bare_cr");
}

/// SMG-10 `\r\r\n.\r\r\n` (SEC Consult outbound probe).
#[test]
fn smg_10_cr_crlf_dot_cr_crlf() {
    strict_rejects(r"\r\r\n.\r\r\n", r"\r\r\n\r\r\n");
    accepted_as_one_message(normalize(), r"\r\r\n.\r\r\n", r"\r\r\n\r\r\n", " bare_cr");
}

/// SMG-11 `\r\n\x00.\r\n`: the line is `\x00.`; NUL ⇒ reject in strict mode *(choice: the
/// same `550 5.5.2` as bare CR/LF)*; normalize passes it, flagged.
#[test]
fn smg_11_nul_before_dot() {
    strict_rejects(r"\r\n\x00.\r\n", r"\r\n\x00.\r\n");
    accepted_as_one_message(normalize(), r"\r\n\x00.\r\n", r"\r\n\x00.\r\n", " nul");
}

/// SMG-12 `\r\n.\x00\r\n` (suuhm): the line `.\x00` is unstuffed to `\x00`.
#[test]
fn smg_12_nul_after_dot() {
    strict_rejects(r"\r\n.\x00\r\n", r"\r\n\x00\r\n");
    accepted_as_one_message(normalize(), r"\r\n.\x00\r\n", r"\r\n\x00\r\n", " nul");
}

/// SMG-13 `\r\n. \r\n`, `\r\n.\t\r\n` (elemta): whitespace is not trimmed before the
/// comparison; the lines are unstuffed to `" "` and `"\t"`, and the message is clean.
#[test]
fn smg_13_dot_whitespace_is_not_end_of_data() {
    for c in [config(), normalize()] {
        accepted_as_one_message(c.clone(), r"\r\n. \r\n", r"\r\n \r\n", "");
        accepted_as_one_message(c, r"\r\n.\t\r\n", r"\r\n\t\r\n", "");
    }
}

/// SMG-14 and SMUG-8: a `.` that follows 998 octets of a line (past the 1000-octet text
/// line limit, RFC 5321 §4.5.3.1.6) is ordinary content, also when a read ends right
/// before it. The over-long line is accepted and flagged *(choice, `Limits::text_line`:
/// "Longer lines are accepted and reported"; R-LINE-3 allows accepting)*; a 997-octet
/// prefix makes a 1000-octet line, which is not flagged.
#[test]
fn smg_14_dot_after_long_line_fragment() {
    for c in [config(), normalize()] {
        for (n, flags) in [(997, ""), (998, " long_line")] {
            let seq = format!(r"\r\n{{A*{n}}}.\r\n");
            let decoded = format!(r"\r\n{}.\r\n", "A".repeat(n));
            accepted_as_one_message(c.clone(), &seq, &decoded, flags);
            // SMUG-8: the same with a read boundary right before the ".".
            let split = format!(r"\r\n{{A*{n}}}‖.\r\n");
            accepted_as_one_message(c.clone(), &split, &decoded, flags);
        }
    }
}

/// SMG-15 `\r\n..\r\n`: legal dot-stuffing; the content line is `.`.
#[test]
fn smg_15_dot_dot_is_stuffing() {
    for c in [config(), normalize()] {
        accepted_as_one_message(c, r"\r\n..\r\n", r"\r\n.\r\n", "");
    }
}

/// SMG-16 (and SMUG-10): the terminator split at every byte boundary ends the message
/// exactly once, with identical events, in both modes.
#[test]
fn smg_16_terminator_split_at_every_boundary() {
    let feeds = [
        r"\r‖\n.\r\n",
        r"\r\n‖.\r\n",
        r"\r\n.‖\r\n",
        r"\r\n.\r‖\n",
        r"‖\r\n.\r\n",
        r"\r‖\n‖.‖\r‖\n",
    ];
    for c in [no_sync_check(config()), no_sync_check(normalize())] {
        for feed in feeds {
            let script = in_data()
                + &format!("C: {PRE}{feed}\n")
                + r#"
E: Content "Subject: t\r\n\r\nbody\r\n"
E: MessageComplete size=20
S: 250 2.0.0 Ok: queued
"# + QUIT;
            transcript(c.clone(), &script);
        }
    }
}

/// SMG-17 `\n\n.\r\n` (suuhm).
#[test]
fn smg_17_lf_lf_dot_crlf() {
    strict_rejects(r"\n\n.\r\n", r"\n\n.\r\n");
    accepted_as_one_message(normalize(), r"\n\n.\r\n", r"\r\n\r\n", " bare_lf");
}

// ---- BDAT (CHUNKING) ---------------------------------------------------------------------

/// SMG-B1 (Exim CVE-2017-16944 fix "do not treat the first lonely dot special"; RFC 3030
/// §2, SMUG-7): the 13 octets `ab\r\n.\r\nMAIL F` are content, no dot handling at all.
#[test]
fn smg_b1_bdat_has_no_dot_handling() {
    for c in [config(), normalize()] {
        let script = in_transaction()
            + r#"
C: BDAT 13 LAST\r\nab\r\n.\r\nMAIL F
E: DataStart chunked
E: Content "ab\r\n.\r\nMAIL F"
E: MessageComplete size=13
S: 250 2.0.0 Ok: queued
"# + QUIT;
        let run = transcript(c, &script);
        assert_eq!(run.messages.len(), 1);
        assert_eq!(run.messages[0].0, b"ab\r\n.\r\nMAIL F");
    }
}

/// SMG-B2 strict (RFC 3030 §3: text content is canonical CR LF; SMUG-7): the bare LF is
/// rejected with `550 5.5.2` only after the 8 octets were read; nothing of the chunk is
/// parsed as a command.
#[test]
fn smg_b2_bdat_bare_lf_strict() {
    let script = in_transaction()
        + r#"
C: BDAT 8 LAST\r\nTo: x\nab
E: DataStart chunked
E: Content "To: x\nab"
S: 550 5.5.2 Error: bare <CR>, bare <LF> or NUL received in message content
E: MessageAborted BareLineEnding
E: TransactionReset
"# + QUIT;
    assert_eq!(transcript(config(), &script).messages.len(), 0);
}

/// SMG-B2 normalize: accepted, flagged.
#[test]
fn smg_b2_bdat_bare_lf_normalize() {
    let script = in_transaction()
        + r#"
C: BDAT 8 LAST\r\nTo: x\nab
E: DataStart chunked
E: Content "To: x\nab"
E: MessageComplete size=8 bare_lf
S: 250 2.0.0 Ok: queued
"# + QUIT;
    assert_eq!(transcript(normalize(), &script).messages.len(), 1);
}

/// SMUG-7: the line-ending verdict on a non-LAST chunk comes after the whole chunk was
/// consumed (its tail `QUIT\r\n` is content, not a command), and every later chunk gets the
/// same refusal until LAST (RFC 3030 §2).
#[test]
fn smug_07_bdat_verdict_after_chunk_is_consumed() {
    let script = in_transaction()
        + r#"
C: BDAT 8\r\na\nQUIT\r\n
E: DataStart chunked
E: Content "a\nQUIT\r\n"
S: 550 5.5.2 Error: bare <CR>, bare <LF> or NUL received in message content
E: MessageAborted BareLineEnding
C: BDAT 3 LAST\r\nxyz
S: 550 5.5.2 Error: bare <CR>, bare <LF> or NUL received in message content
E: TransactionReset
C: RCPT TO:<b@y.example>\r\n
S: 503 5.5.1 Error: need MAIL command
"# + QUIT;
    transcript(config(), &script);
}

// ---- Pipelining synchronisation (SMUG-9) -------------------------------------------------

/// SMG-P1 (RFC 2920 §3.1 DATA is last in a group; RFC 5321 §3.3 "message data MUST NOT be
/// sent unless a 354 reply is received", R-DATA-2): content in the same read as DATA ⇒
/// `554 5.5.0` and close *(choice, Postfix ≥3.9 smtpd_forbid_unauth_pipelining)*. The
/// application never hears of the DATA.
#[test]
fn smg_p1_content_before_354_is_a_sync_violation() {
    let script = in_transaction()
        + r"
C: DATA\r\nSubject: x\r\n
S: 554 5.5.0 Error: SMTP protocol synchronization
E: TransactionReset
E: Closed ProtocolViolation
";
    exact(config(), &script);
}

/// SMG-P2: DATA, then the content in a later read: normal `354`, then `250`.
#[test]
fn smg_p2_content_after_354_is_fine() {
    let script = in_transaction()
        + r#"
C: DATA\r\n‖Subject: x\r\n\r\nb\r\n.\r\n
E: DataStart
S: 354 End data with <CR><LF>.<CR><LF>
E: Content "Subject: x\r\n\r\nb\r\n"
E: MessageComplete size=17
S: 250 2.0.0 Ok: queued
"# + QUIT;
    transcript(config(), &script);
}

/// SMG-P3 (smtpsmug `pipelining` test): the SMG-03 payload under normalize mode must hit
/// the sync check even if the end-of-data check were bypassed. To model the bypass, the
/// smuggled commands follow a genuine `\r\n.\r\n`, so the smuggled `DATA` really runs as
/// a command; its content is already in the same buffer ⇒ `554 5.5.0` + close, and the
/// second message never starts. The real SMG-03 payload stays one message.
#[test]
fn smg_p3_smuggled_data_with_buffered_content_is_a_sync_violation() {
    let script = in_data()
        + &format!("C: {PRE}\\r\\n.\\r\\n{POST}\n")
        + r#"
E: Content "Subject: t\r\n\r\nbody\r\n"
E: MessageComplete size=20
S: 250 2.0.0 Ok: queued
E: Mail <evil@a.example>
S: 250 2.1.0 Ok
E: Rcpt <victim@b.example>
S: 250 2.1.5 Ok
S: 554 5.5.0 Error: SMTP protocol synchronization
E: TransactionReset
E: Closed ProtocolViolation
"#;
    exact(normalize(), &script);
    // And the real SMG-03 payload under normalize mode is one message (no second DATA).
    accepted_as_one_message(normalize(), r"\n.\r\n", r"\r\n", " bare_lf");
}

/// SMG-P4 (RFC 2920 §3.1: EHLO is last in a group; Postfix ≥3.9): MAIL pipelined behind
/// EHLO ⇒ `554 5.5.0` + close; the application never sees the EHLO.
#[test]
fn smg_p4_command_pipelined_after_ehlo() {
    let script = r"
S: 220 mx.example ESMTP
C: EHLO c\r\nMAIL FROM:<a@x>\r\n
S: 554 5.5.0 Error: SMTP protocol synchronization
E: Closed ProtocolViolation
";
    exact(config(), script);
}

/// SMG-P4, lenient alternative: with the sync check off both commands are processed.
#[test]
fn smg_p4_without_sync_check_both_commands_run() {
    let script = format!(
        "S: 220 mx.example ESMTP\nC: EHLO c\\r\\nMAIL FROM:<a@x>\\r\\n\nE: Hello EHLO c{EHLO_REPLY}"
    ) + r"
E: Mail <a@x>
S: 250 2.1.0 Ok
";
    transcript(no_sync_check(config()), &script);
}

/// SMG-P5 (Postfix: client talks before the greeting): `EHLO c\r\n` is fed before the 220
/// left through `poll_transmit` ⇒ `554 5.5.0` + close. The harness always transmits the
/// greeting first, so this drives `Server` directly.
#[test]
fn smg_p5_client_speaks_before_greeting() {
    let now = t0();
    let mut server = config().server(now);
    server
        .handle_input(now, b"EHLO c\r\n")
        .expect("plain input accepted");
    let mut events = Vec::new();
    while let Some(event) = server.poll_event() {
        events.push(event);
    }
    assert!(
        matches!(
            events.as_slice(),
            [Event::Closed {
                reason: CloseReason::ProtocolViolation
            }]
        ),
        "{events:?}"
    );
    let mut out = Vec::new();
    let _ = server.poll_transmit(&mut out);
    assert_eq!(
        String::from_utf8_lossy(&out),
        "220 mx.example ESMTP\r\n554 5.5.0 Error: SMTP protocol synchronization\r\n"
    );
    assert!(server.is_closed());
}

/// SMG-P5 counterpart: once the greeting was transmitted, the same input is fine.
#[test]
fn smg_p5_client_speaking_after_greeting_is_fine() {
    let script = greeted() + QUIT;
    transcript(config(), &script);
}

// ---- Command lines -----------------------------------------------------------------------

/// SMG-C1 strict (RFC 5321 §2.3.8, R-LINE-1): a bare LF in a command ⇒ `500 5.5.2` + close
/// *(choice; Postfix reject mode 550 + disconnect, Sendmail 421, chasquid abort)*. Nothing
/// after the bare LF runs.
#[test]
fn smg_c1_bare_lf_in_command_strict() {
    let script = greeted()
        + r"
C: MAIL FROM:<a@x>\nRCPT TO:<b@y>\r\n
S: 500 5.5.2 Error: bare <LF> received
E: Closed ProtocolViolation
";
    transcript(config(), &script);
}

/// SMG-C1 normalize (Postfix `smtpd_forbid_bare_newline = normalize`): two commands.
#[test]
fn smg_c1_bare_lf_in_command_normalize() {
    let script = greeted()
        + r"
C: MAIL FROM:<a@x>\nRCPT TO:<b@y>\r\n
E: Mail <a@x>
S: 250 2.1.0 Ok
E: Rcpt <b@y>
S: 250 2.1.5 Ok
" + QUIT;
    let script = script.replace("E: Closed Quit", "E: TransactionReset\nE: Closed Quit");
    transcript(normalize(), &script);
}

/// SMG-C2: a bare CR is not a separator and never splits the line: one command with a
/// control character ⇒ `501 5.5.2` (the row's choice, `replies::CONTROL_CHARACTER`), in both
/// modes; the session goes on and no transaction was opened.
#[test]
fn smg_c2_bare_cr_in_command() {
    for c in [config(), normalize()] {
        let script = greeted()
            + r"
C: MAIL FROM:<a@x>\rRCPT TO:<b@y>\r\n
S: 501 5.5.2 Error: control character in command
C: RCPT TO:<b@y>\r\n
S: 503 5.5.1 Error: need MAIL command
" + QUIT;
        transcript(c, &script);
    }
}

/// SMG-C3: NUL in a command ⇒ `500 5.5.2` *(choice: `NOOP\x00` is no known verb, so
/// "command not recognized")*, both modes; the session goes on.
#[test]
fn smg_c3_nul_in_command() {
    for c in [config(), normalize()] {
        let script = greeted()
            + r"
C: NOOP\x00\r\n
S: 500 5.5.2 Error: command not recognized
C: NOOP \x00\r\n
S: 501 5.5.2 Error: control character in command
C: NOOP\r\n
S: 250 2.0.0 Ok
" + QUIT;
        transcript(c, &script);
    }
}

// ---- SMUG rules ------------------------------------------------------------------------

/// SMUG-1: `.\r\n` right after the 354 ends an empty message (line start is "immediately
/// after the 354"); `\r\n.\r\n` inside a line is found only after a CR LF that ended a line.
#[test]
fn smug_01_terminator_right_after_354() {
    let script = in_data()
        + r"
C: .\r\n
E: MessageComplete size=0
S: 250 2.0.0 Ok: queued
" + QUIT;
    transcript(config(), &script);
}

/// SMUG-3 strict: the first bare LF makes the message unacceptable for good; content keeps
/// being consumed (and streamed, see `strict_rejects`) up to the real terminator across
/// reads, with no reply in between; then one `550 5.5.2` and `MessageAborted`, and the
/// session goes on (a new transaction works).
#[test]
fn smug_03_sticky_reject_then_session_continues() {
    let script = in_data()
        + r#"
C: a\r\n
E: Content "a\r\n"
C: b\nc\r\n
E: Content "b\nc\r\n"
C: d\r\n.\r\n
E: Content "d\r\n"
S: 550 5.5.2 Error: bare <CR>, bare <LF> or NUL received in message content
E: MessageAborted BareLineEnding
C: MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\nDATA\r\n
E: Mail <a@x.example>
S: 250 2.1.0 Ok
E: Rcpt <b@y.example>
S: 250 2.1.5 Ok
E: DataStart
S: 354 End data with <CR><LF>.<CR><LF>
C: ok\r\n.\r\n
E: Content "ok\r\n"
E: MessageComplete size=4
S: 250 2.0.0 Ok: queued
"# + QUIT;
    transcript(config(), &script);
}

/// SMUG-4: in normalize mode a `.` line after a bare-LF line is discarded, never end of
/// data; `.\n` is discarded too; the real terminator still works.
#[test]
fn smug_04_normalize_discards_dot_lines_after_bare_lf() {
    let script = in_data()
        + r#"
C: a\n.\r\nb\r\n.\nc\r\n.\r\n
E: Content "a\r\nb\r\nc\r\n"
E: MessageComplete size=9 bare_lf
S: 250 2.0.0 Ok: queued
"# + QUIT;
    transcript(normalize(), &script);
}

/// SMUG-5: no reply while in DATA before the end of data, neither for a bare LF nor for
/// exceeding the size limit (RFC 1870 §6.3: `552` after the end of data); then exactly one
/// reply. A `QUIT` line inside the content is content.
#[test]
fn smug_05_no_reply_before_end_of_data() {
    // Bare LF: nothing until the terminator.
    let script = in_data()
        + r#"
C: x\ny\r\n
E: Content "x\ny\r\n"
C: QUIT\r\n
E: Content "QUIT\r\n"
C: .\r\n
S: 550 5.5.2 Error: bare <CR>, bare <LF> or NUL received in message content
E: MessageAborted BareLineEnding
"# + QUIT;
    transcript(config(), &script);
    // Size: 10001 octets (max_message_size 10000) get no reply until "."; exactly the
    // first 10000 octets stream to the application (`Event::DataChunk` docs).
    let script = in_data()
        + &format!(
            "C: {{a*9999}}\\r\\n\nE: Content \"{}\\r\"\n",
            "a".repeat(9999)
        )
        + r"
C: QUIT\r\n
C: .\r\n
S: 552 5.3.4 Error: message size exceeds fixed limit
E: MessageAborted TooBig
" + QUIT;
    transcript(config(), &script);
}

/// SMUG-6: `MessageComplete` carries the bare CR / bare LF / NUL / long-line flags so a
/// relay can refuse or sanitise (normalize mode accepts such content).
#[test]
fn smug_06_message_complete_carries_flags() {
    let script = in_data()
        + r#"
C: a\rb\x00c\nd\r\n.\r\n
E: Content "a\rb\x00c\r\nd\r\n"
E: MessageComplete size=10 bare_cr bare_lf nul
S: 250 2.0.0 Ok: queued
"# + QUIT;
    let run = transcript(normalize(), &script);
    let flags = run.messages[0].1.flags;
    assert!(flags.bare_cr && flags.bare_lf && flags.nul && !flags.long_line);
    // Strict mode: a clean message with a 1001-octet line is accepted, flagged.
    let script = in_data()
        + &format!(
            "C: {{a*999}}\\r\\n.\\r\\n\nE: Content \"{}\\r\\n\"\n",
            "a".repeat(999)
        )
        + r"
E: MessageComplete size=1001 long_line
S: 250 2.0.0 Ok: queued
" + QUIT;
    transcript(config(), &script);
}

/// SMUG-10: split-invariance beyond byte-at-a-time: every smuggling script gives the same
/// log for reads cut into pieces of 2, 3, 5 and 7 octets and for a pseudo-random cut.
#[test]
fn smug_10_split_invariance_of_the_smuggling_scenarios() {
    let seqs = [
        r"\r\n.\r\n",
        r"\n.\n",
        r"\n.\r\n",
        r"\r\n.\n",
        r"\r.\r",
        r"\r.\r\n",
        r"\r.\n",
        r"\n.\r",
        r"\r\n.\r",
        r"\r\n.\r\r\n",
        r"\r\r\n.\r\r\n",
        r"\r\n\x00.\r\n",
        r"\r\n.\x00\r\n",
        r"\r\n. \r\n",
        r"\r\n..\r\n",
        r"\n\n.\r\n",
    ];
    for c in [no_sync_check(config()), no_sync_check(normalize())] {
        for seq in seqs {
            let script = format!("{}C: {PRE}{seq}{POST}\n{QUIT}", in_data());
            let whole = run_split(c.clone(), &script, |_| Vec::new());
            for step in [2usize, 3, 5, 7] {
                let split = run_split(c.clone(), &script, |read| vec![step; read.len() / step]);
                assert_eq!(split.log, whole.log, "{seq} in pieces of {step}");
            }
            let mut state = 0x9e37_79b9_u32;
            let random = run_split(c.clone(), &script, |read| {
                let mut sizes = Vec::new();
                let mut total = 0;
                while total < read.len() {
                    state ^= state << 13;
                    state ^= state >> 17;
                    state ^= state << 5;
                    let n = (state % 11) as usize + 1;
                    sizes.push(n);
                    total += n;
                }
                sizes
            });
            assert_eq!(random.log, whole.log, "{seq} in random pieces");
        }
    }
}
