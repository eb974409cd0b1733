//! SMTP smuggling (manual::smuggling): the end-of-data attack sequences SMG-01..SMG-17 in
//! strict and normalize modes, BDAT (SMG-B1/B2), the pipelining synchronisation rows
//! (SMG-P1..P5), the command-line rows (SMG-C1..C3), the SMUG-1..10 rules, and STARTTLS
//! injection (manual::starttls, TLS-02..04).
//!
//! Each row is a [`Row`] of one transcript, written once and run both ways: in memory
//! against `transcript::config()` (the `#[test]`s at the top level, as strictly as the
//! transcript harness runs: re-fed byte by byte and at random splits unless the row is
//! `exact`), and over real sockets (the modules `blackhole`, `tokio_adapter` and
//! `blocking_adapter`, one test per group of rows and target, by `on_targets!`): against
//! blackhole (`--maildir`: what was stored, byte for byte) and in-process servers of both
//! adapters (a recording handler: what was accepted, which MAIL commands opened a
//! transaction, which entries its log has). Rows with a policy blackhole has no flag for
//! (normalize, no sync check, `InjectionPolicy::Close`, a slow `connect`) run on the adapters
//! only. A few memory-only checks (split invariance, the core driven directly) stay plain
//! tests.
//!
//! Sources: CVE-2023-51764 (Postfix), CVE-2023-51765 (Sendmail), CVE-2023-51766 (Exim),
//! CVE-2024-27305 (aiosmtpd), SEC Consult "SMTP Smuggling" (2023-12-18), RFC 5321 §2.3.8,
//! §4.1.1.4, RFC 2920 §3.1, RFC 3030, RFC 3207 §4.2, CVE-2011-0411.

use smtp_proto::{CloseReason, Event, InjectionPolicy, LineEndingPolicy, ServerConfig};
use smtp_proto_tests::on_targets;
use smtp_proto_tests::servers::{Row, Setup, Target, run_rows};
use smtp_proto_tests::transcript::{
    EHLO_REPLY, QUIT, QUIT_IN_TRANSACTION, TLS_EHLO_E, TestConfig, config, decode_bytes, greeted,
    in_transaction, normalize, run_split, t0, transcript,
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

// ---- Policies (memory and wire alike) ----------------------------------------------------

/// Postfix-style `normalize` line endings.
fn normalized(c: &mut ServerConfig) {
    c.line_endings = LineEndingPolicy::Normalize;
}

/// No RFC 2920 synchronisation check.
fn unsynced(c: &mut ServerConfig) {
    c.pipelining_sync_check = false;
}

/// Both of the above.
fn normalized_unsynced(c: &mut ServerConfig) {
    normalized(c);
    unsynced(c);
}

/// STARTTLS injection refused with `554` and close.
fn injection_closes(c: &mut ServerConfig) {
    c.starttls_injection = InjectionPolicy::Close;
}

/// A handler whose `connect` takes 300 ms (wire only).
fn slow_connect(s: &mut Setup) {
    s.connect_delay = std::time::Duration::from_millis(300);
}

/// The rows of every function in `groups`.
fn rows(groups: &[fn() -> Vec<Row>]) -> Vec<Row> {
    groups.iter().flat_map(|g| g()).collect()
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

/// The bytes of an escaped script fragment.
fn bytes(text: &str) -> Vec<u8> {
    decode_bytes(text)
}

/// The scenario "[D], then PRE + `seq` + POST in one write, then QUIT".
///
/// `outcome` lists what must happen between the write and QUIT. Because QUIT is answered
/// with the next `221` right after `outcome`, the smuggled MAIL/RCPT/DATA never get a reply
/// of their own (the invariant of every row but SMG-01/SMG-16), nor reach the handler.
fn smuggle(id: &'static str, seq: &str, outcome: &str) -> Row {
    let script = format!("{}C: {PRE}{seq}{POST}\n{outcome}{QUIT}", in_data());
    Row::transcript(id, 1, script)
        .absent("evil")
        .absent("victim")
}

/// Strict mode: not end-of-data. The bare CR/LF/NUL makes the server consume everything up
/// to the real terminator and then answer one delayed `550 5.5.2` with `MessageAborted`
/// (SMUG-3). The content, `decoded` being what `seq` becomes, streams to the application
/// before the verdict *(choice: SMUG-3 says no DataChunk needs to be emitted after the flag;
/// this server streams up to `max_message_size` octets so that the events do not depend on
/// read boundaries, then aborts)*. No message is ever completed, nothing is stored.
fn strict_rejects(id: &'static str, seq: &str, decoded: &str) -> Row {
    let outcome = format!(
        "E: Content \"{PRE}{decoded}{SMUGGLED}\"\n{BARE_REJECT}\nE: MessageAborted BareLineEnding\n"
    );
    smuggle(id, seq, &outcome)
        .absent("message")
        .present("aborted BareLineEnding")
}

/// One message, ending at the real terminator, whose content is PRE + `decoded` + the
/// smuggled commands as plain text; `flags` are the `MessageComplete` flags. With `policy`
/// (normalize), on the adapters only.
fn one_message(
    id: &'static str,
    policy: Option<fn(&mut ServerConfig)>,
    seq: &str,
    decoded: &str,
    flags: &str,
) -> Row {
    let content = format!("{PRE}{decoded}{SMUGGLED}");
    let size = bytes(&content).len();
    let outcome = format!(
        "E: Content \"{content}\"\nE: MessageComplete size={size}{flags}\nS: 250 2.0.0 Ok: queued\n"
    );
    let row = smuggle(id, seq, &outcome).delivers(&[&bytes(&content)]);
    match policy {
        Some(p) => row.policy(p),
        None => row,
    }
}

/// SMG-01 (RFC 5321 §4.1.1.4): `\r\n.\r\n` is the end of data. The MAIL and RCPT after it
/// are a legitimate pipelined second transaction; the second DATA arrives with its content
/// already buffered, which breaks RFC 2920's synchronisation rule: `554 5.5.0` and close
/// (SMUG-9, on by default). The sync check depends on read boundaries by definition, so
/// this script is checked as written (not re-fed byte by byte).
fn smg_01_crlf_dot_crlf_is_end_of_data_then_sync_violation() -> Vec<Row> {
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
S: 554 5.5.0 Error: SMTP protocol synchronization: a command came before the reply it must wait for (RFC 2920)
E: TransactionReset
E: Closed ProtocolViolation
"#;
    vec![
        Row::transcript("SMG-01 \\r\\n.\\r\\n then a sync violation", 2, script)
            .delivers(&[&bytes(&format!("{PRE}\\r\\n"))])
            .exact(),
    ]
}

/// SMG-01 with the sync check off: two genuine messages (`354` … `250` for the second),
/// strict and normalize.
fn smg_01_crlf_dot_crlf_without_sync_check_gives_two_genuine_messages() -> Vec<Row> {
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
    let messages: [&[u8]; 2] = [
        b"Subject: t\r\n\r\nbody\r\n",
        b"Subject: smuggled\r\n\r\nx\r\n",
    ];
    [unsynced as fn(&mut ServerConfig), normalized_unsynced]
        .into_iter()
        .map(|policy| {
            Row::transcript("SMG-01 without sync check", 2, script.clone())
                .delivers(&messages)
                .policy(policy)
        })
        .collect()
}

/// SMG-02 `\n.\n` (Postfix <3.9, Sendmail, Exim, go-smtp before cd06f48; CVE-2023-51764..6).
fn smg_02_lf_dot_lf_strict() -> Vec<Row> {
    vec![strict_rejects("SMG-02 \\n.\\n", r"\n.\n", r"\n.\n")]
}

/// SMG-02 normalize: the `.` line ended in bare LF, so it is dropped; LF lines become lines.
fn smg_02_lf_dot_lf_normalize() -> Vec<Row> {
    vec![one_message(
        "SMG-02 normalize",
        Some(normalized),
        r"\n.\n",
        r"\r\n",
        " bare_lf",
    )]
}

/// SMG-03 `\n.\r\n`: the in-the-wild vector (CVE-2023-51764, CVE-2024-27305).
fn smg_03_lf_dot_crlf_is_not_end_of_data_strict() -> Vec<Row> {
    vec![strict_rejects("SMG-03 \\n.\\r\\n", r"\n.\r\n", r"\n.\r\n")]
}

/// SMG-03 normalize: the previous line ended in bare LF, so the `.` line is skipped.
fn smg_03_lf_dot_crlf_is_not_end_of_data_normalize() -> Vec<Row> {
    vec![one_message(
        "SMG-03 normalize",
        Some(normalized),
        r"\n.\r\n",
        r"\r\n",
        " bare_lf",
    )]
}

/// SMG-04 `\r\n.\n` (Exim <4.97.1 "CR LF . LF", CVE-2023-51766).
fn smg_04_crlf_dot_lf_strict() -> Vec<Row> {
    vec![strict_rejects("SMG-04 \\r\\n.\\n", r"\r\n.\n", r"\r\n\n")]
}

/// SMG-04 normalize: the dot line ends in bare LF, so it is dropped.
fn smg_04_crlf_dot_lf_normalize() -> Vec<Row> {
    vec![one_message(
        "SMG-04 normalize",
        Some(normalized),
        r"\r\n.\n",
        r"\r\n",
        " bare_lf",
    )]
}

/// SMG-05 `\r.\r` (Cisco "Clean" mode, CERT-EU 2023-098).
fn smg_05_cr_dot_cr_strict() -> Vec<Row> {
    vec![strict_rejects("SMG-05 \\r.\\r", r"\r.\r", r"\r.\r")]
}

/// SMG-05 normalize (and SMUG-2): bare CR is never a line end; normalisation never creates
/// a terminator. Bare CR stays content, flagged.
fn smg_05_cr_dot_cr_normalize() -> Vec<Row> {
    vec![one_message(
        "SMG-05 normalize",
        Some(normalized),
        r"\r.\r",
        r"\r.\r",
        " bare_cr",
    )]
}

/// SMG-06 `\r.\r\n` (smtpsmug `crcrlf`).
fn smg_06_cr_dot_crlf() -> Vec<Row> {
    vec![
        strict_rejects("SMG-06 \\r.\\r\\n", r"\r.\r\n", r"\r.\r\n"),
        one_message(
            "SMG-06 normalize",
            Some(normalized),
            r"\r.\r\n",
            r"\r.\r\n",
            " bare_cr",
        ),
    ]
}

/// SMG-07 `\r.\n` and `\n.\r` (tool probes).
fn smg_07_cr_dot_lf_and_lf_dot_cr() -> Vec<Row> {
    vec![
        strict_rejects("SMG-07 \\r.\\n", r"\r.\n", r"\r.\n"),
        strict_rejects("SMG-07 \\n.\\r", r"\n.\r", r"\n.\r"),
        one_message(
            "SMG-07 \\r.\\n normalize",
            Some(normalized),
            r"\r.\n",
            r"\r.\r\n",
            " bare_cr bare_lf",
        ),
        one_message(
            "SMG-07 \\n.\\r normalize",
            Some(normalized),
            r"\n.\r",
            r"\r\n\r",
            " bare_cr bare_lf",
        ),
    ]
}

/// SMG-08 `\r\n.\r` followed by a non-LF (SMTP-Smuggling-Tools#6): the dot is a stuffing
/// dot and the CR is bare.
fn smg_08_crlf_dot_cr_then_other() -> Vec<Row> {
    vec![
        strict_rejects("SMG-08 \\r\\n.\\r then M", r"\r\n.\r", r"\r\n\r"),
        one_message(
            "SMG-08 normalize",
            Some(normalized),
            r"\r\n.\r",
            r"\r\n\r",
            " bare_cr",
        ),
    ]
}

/// SMG-09 `\r\n.\r\r\n` (Postfix before 20240106; stalwartlabs/smtp-proto 0.2.1).
fn smg_09_crlf_dot_cr_cr_lf() -> Vec<Row> {
    vec![
        strict_rejects("SMG-09 \\r\\n.\\r\\r\\n", r"\r\n.\r\r\n", r"\r\n\r\r\n"),
        one_message(
            "SMG-09 normalize",
            Some(normalized),
            r"\r\n.\r\r\n",
            r"\r\n\r\r\n",
            " bare_cr",
        ),
    ]
}

/// SMG-10 `\r\r\n.\r\r\n` (SEC Consult outbound probe).
fn smg_10_cr_crlf_dot_cr_crlf() -> Vec<Row> {
    vec![
        strict_rejects(
            "SMG-10 \\r\\r\\n.\\r\\r\\n",
            r"\r\r\n.\r\r\n",
            r"\r\r\n\r\r\n",
        ),
        one_message(
            "SMG-10 normalize",
            Some(normalized),
            r"\r\r\n.\r\r\n",
            r"\r\r\n\r\r\n",
            " bare_cr",
        ),
    ]
}

/// SMG-11 `\r\n\x00.\r\n`: the line is `\x00.`; NUL ⇒ reject in strict mode *(choice: the
/// same `550 5.5.2` as bare CR/LF)*; normalize passes it, flagged.
fn smg_11_nul_before_dot() -> Vec<Row> {
    vec![
        strict_rejects(
            "SMG-11 \\r\\n\\x00.\\r\\n",
            r"\r\n\x00.\r\n",
            r"\r\n\x00.\r\n",
        ),
        one_message(
            "SMG-11 normalize",
            Some(normalized),
            r"\r\n\x00.\r\n",
            r"\r\n\x00.\r\n",
            " nul",
        ),
    ]
}

/// SMG-12 `\r\n.\x00\r\n` (suuhm): the line `.\x00` is unstuffed to `\x00`.
fn smg_12_nul_after_dot() -> Vec<Row> {
    vec![
        strict_rejects(
            "SMG-12 \\r\\n.\\x00\\r\\n",
            r"\r\n.\x00\r\n",
            r"\r\n\x00\r\n",
        ),
        one_message(
            "SMG-12 normalize",
            Some(normalized),
            r"\r\n.\x00\r\n",
            r"\r\n\x00\r\n",
            " nul",
        ),
    ]
}

/// SMG-13 `\r\n. \r\n`, `\r\n.\t\r\n` (elemta): whitespace is not trimmed before the
/// comparison; the lines are unstuffed to `" "` and `"\t"`, and the message is clean.
fn smg_13_dot_whitespace_is_not_end_of_data() -> Vec<Row> {
    let mut rows = Vec::new();
    for policy in [None, Some(normalized as fn(&mut ServerConfig))] {
        rows.push(one_message(
            "SMG-13 \\r\\n. \\r\\n",
            policy,
            r"\r\n. \r\n",
            r"\r\n \r\n",
            "",
        ));
        rows.push(one_message(
            "SMG-13 \\r\\n.\\t\\r\\n",
            policy,
            r"\r\n.\t\r\n",
            r"\r\n\t\r\n",
            "",
        ));
    }
    rows
}

/// SMG-14 and SMUG-8: a `.` that follows 998 octets of a line (past the 1000-octet text
/// line limit, RFC 5321 §4.5.3.1.6) is ordinary content, also when a read ends right
/// before it. The over-long line is accepted and flagged *(choice, `Limits::text_line`:
/// "Longer lines are accepted and reported"; R-LINE-3 allows accepting)*; a 997-octet
/// prefix makes a 1000-octet line, which is not flagged.
fn smg_14_dot_after_long_line_fragment() -> Vec<Row> {
    let mut rows = Vec::new();
    for policy in [None, Some(normalized as fn(&mut ServerConfig))] {
        for (n, flags) in [(997, ""), (998, " long_line")] {
            let seq = format!(r"\r\n{{A*{n}}}.\r\n");
            let decoded = format!(r"\r\n{}.\r\n", "A".repeat(n));
            rows.push(one_message(
                "SMG-14 dot after a long line",
                policy,
                &seq,
                &decoded,
                flags,
            ));
            // SMUG-8: the same with a read boundary right before the ".".
            let split = format!(r"\r\n{{A*{n}}}‖.\r\n");
            rows.push(one_message(
                "SMG-14 split before the dot",
                policy,
                &split,
                &decoded,
                flags,
            ));
        }
    }
    rows
}

/// SMG-15 `\r\n..\r\n`: legal dot-stuffing; the content line is `.`.
fn smg_15_dot_dot_is_stuffing() -> Vec<Row> {
    [None, Some(normalized as fn(&mut ServerConfig))]
        .into_iter()
        .map(|p| one_message("SMG-15 \\r\\n..\\r\\n", p, r"\r\n..\r\n", r"\r\n.\r\n", ""))
        .collect()
}

/// SMG-16 (and SMUG-10): the terminator split at every byte boundary ends the message
/// exactly once, with identical events, in both modes, with and without the sync check.
fn smg_16_terminator_split_at_every_boundary() -> Vec<Row> {
    let feeds = [
        r"\r‖\n.\r\n",
        r"\r\n‖.\r\n",
        r"\r\n.‖\r\n",
        r"\r\n.\r‖\n",
        r"‖\r\n.\r\n",
        r"\r‖\n‖.‖\r‖\n",
    ];
    let mut rows = Vec::new();
    for policy in [
        None,
        Some(normalized as fn(&mut ServerConfig)),
        Some(unsynced),
        Some(normalized_unsynced),
    ] {
        for feed in feeds {
            let script = in_data()
                + &format!("C: {PRE}{feed}\n")
                + r#"
E: Content "Subject: t\r\n\r\nbody\r\n"
E: MessageComplete size=20
S: 250 2.0.0 Ok: queued
"# + QUIT;
            let row = Row::transcript("SMG-16 split terminator", 1, script)
                .delivers(&[b"Subject: t\r\n\r\nbody\r\n"]);
            rows.push(match policy {
                Some(p) => row.policy(p),
                None => row,
            });
        }
    }
    rows
}

/// SMG-17 `\n\n.\r\n` (suuhm).
fn smg_17_lf_lf_dot_crlf() -> Vec<Row> {
    vec![
        strict_rejects("SMG-17 \\n\\n.\\r\\n", r"\n\n.\r\n", r"\n\n.\r\n"),
        one_message(
            "SMG-17 normalize",
            Some(normalized),
            r"\n\n.\r\n",
            r"\r\n\r\n",
            " bare_lf",
        ),
    ]
}

/// SMG-01..SMG-17 (§1.2) on the wire.
fn end_of_data_sequences(target: Target) {
    let rows = rows(&[
        smg_01_crlf_dot_crlf_is_end_of_data_then_sync_violation,
        smg_01_crlf_dot_crlf_without_sync_check_gives_two_genuine_messages,
        smg_02_lf_dot_lf_strict,
        smg_02_lf_dot_lf_normalize,
        smg_03_lf_dot_crlf_is_not_end_of_data_strict,
        smg_03_lf_dot_crlf_is_not_end_of_data_normalize,
        smg_04_crlf_dot_lf_strict,
        smg_04_crlf_dot_lf_normalize,
        smg_05_cr_dot_cr_strict,
        smg_05_cr_dot_cr_normalize,
        smg_06_cr_dot_crlf,
        smg_07_cr_dot_lf_and_lf_dot_cr,
        smg_08_crlf_dot_cr_then_other,
        smg_09_crlf_dot_cr_cr_lf,
        smg_10_cr_crlf_dot_cr_crlf,
        smg_11_nul_before_dot,
        smg_12_nul_after_dot,
        smg_13_dot_whitespace_is_not_end_of_data,
        smg_14_dot_after_long_line_fragment,
        smg_15_dot_dot_is_stuffing,
        smg_16_terminator_split_at_every_boundary,
        smg_17_lf_lf_dot_crlf,
    ]);
    run_rows(target, &rows);
}

// ---- BDAT (CHUNKING) ---------------------------------------------------------------------

/// SMG-B1 (Exim CVE-2017-16944 fix "do not treat the first lonely dot special"; RFC 3030
/// §2, SMUG-7): the 13 octets `ab\r\n.\r\nMAIL F` are content, no dot handling at all.
fn smg_b1_bdat_has_no_dot_handling() -> Vec<Row> {
    let script = in_transaction()
        + r#"
C: BDAT 13 LAST\r\nab\r\n.\r\nMAIL F
E: DataStart chunked
E: Content "ab\r\n.\r\nMAIL F"
E: MessageComplete size=13
S: 250 2.0.0 Ok: queued
"# + QUIT;
    let row = Row::transcript("SMG-B1 no dot handling in BDAT", 1, script)
        .delivers(&[b"ab\r\n.\r\nMAIL F"]);
    vec![row.clone(), row.policy(normalized)]
}

/// SMG-B2 strict (RFC 3030 §3: text content is canonical CR LF; SMUG-7): the bare LF is
/// rejected with `550 5.5.2` only after the 8 octets were read; nothing of the chunk is
/// parsed as a command.
fn smg_b2_bdat_bare_lf_strict() -> Vec<Row> {
    let script = in_transaction()
        + r#"
C: BDAT 8 LAST\r\nTo: x\nab
E: DataStart chunked
E: Content "To: x\nab"
S: 550 5.5.2 Error: bare <CR>, bare <LF> or NUL received in message content
E: MessageAborted BareLineEnding
E: TransactionReset
"# + QUIT;
    vec![
        Row::transcript("SMG-B2 bare LF in BDAT, strict", 1, script)
            .present("aborted BareLineEnding"),
    ]
}

/// SMG-B2 normalize: accepted, flagged.
fn smg_b2_bdat_bare_lf_normalize() -> Vec<Row> {
    let script = in_transaction()
        + r#"
C: BDAT 8 LAST\r\nTo: x\nab
E: DataStart chunked
E: Content "To: x\nab"
E: MessageComplete size=8 bare_lf
S: 250 2.0.0 Ok: queued
"# + QUIT;
    vec![
        Row::transcript("SMG-B2 normalize", 1, script)
            .delivers(&[b"To: x\nab"])
            .policy(normalized),
    ]
}

/// SMUG-7: the line-ending verdict on a non-LAST chunk comes after the whole chunk was
/// consumed (its tail `QUIT\r\n` is content, not a command), and every later chunk gets the
/// same refusal until LAST (RFC 3030 §2).
fn smug_07_bdat_verdict_after_chunk_is_consumed() -> Vec<Row> {
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
    vec![Row::transcript(
        "SMUG-7 verdict after the chunk; later chunks refused",
        1,
        script,
    )]
}

/// SMG-B1, SMG-B2, SMUG-7 on the wire.
fn bdat(target: Target) {
    let rows = rows(&[
        smg_b1_bdat_has_no_dot_handling,
        smg_b2_bdat_bare_lf_strict,
        smg_b2_bdat_bare_lf_normalize,
        smug_07_bdat_verdict_after_chunk_is_consumed,
    ]);
    run_rows(target, &rows);
}

// ---- Pipelining synchronisation (SMUG-9) -------------------------------------------------

/// SMG-P1 (RFC 2920 §3.1 DATA is last in a group; RFC 5321 §3.3 "message data MUST NOT be
/// sent unless a 354 reply is received", R-DATA-2): content in the same read as DATA ⇒
/// `554 5.5.0` and close *(choice, Postfix ≥3.9 smtpd_forbid_unauth_pipelining)*. The
/// application never hears of the DATA.
fn smg_p1_content_before_354_is_a_sync_violation() -> Vec<Row> {
    let script = in_transaction()
        + r"
C: DATA\r\nSubject: x\r\n
S: 554 5.5.0 Error: SMTP protocol synchronization: a command came before the reply it must wait for (RFC 2920)
E: TransactionReset
E: Closed ProtocolViolation
";
    vec![
        Row::transcript("SMG-P1 content before the 354", 1, script)
            .absent("data_start")
            .exact(),
    ]
}

/// SMG-P2: DATA, then the content in a later read (after the 354): normal `354`, then
/// `250`.
fn smg_p2_content_after_354_is_fine() -> Vec<Row> {
    let script = in_transaction()
        + r#"
C: DATA\r\n
E: DataStart
S: 354 End data with <CR><LF>.<CR><LF>
C: Subject: x\r\n\r\nb\r\n.\r\n
E: Content "Subject: x\r\n\r\nb\r\n"
E: MessageComplete size=17
S: 250 2.0.0 Ok: queued
"# + QUIT;
    vec![
        Row::transcript("SMG-P2 content after the 354", 1, script)
            .delivers(&[b"Subject: x\r\n\r\nb\r\n"]),
    ]
}

/// SMG-P3 (smtpsmug `pipelining` test): the SMG-03 payload under normalize mode must hit
/// the sync check even if the end-of-data check were bypassed. To model the bypass, the
/// smuggled commands follow a genuine `\r\n.\r\n`, so the smuggled `DATA` really runs as
/// a command; its content is already in the same buffer ⇒ `554 5.5.0` + close, and the
/// second message never starts. The real SMG-03 payload stays one message.
fn smg_p3_smuggled_data_with_buffered_content_is_a_sync_violation() -> Vec<Row> {
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
S: 554 5.5.0 Error: SMTP protocol synchronization: a command came before the reply it must wait for (RFC 2920)
E: TransactionReset
E: Closed ProtocolViolation
"#;
    vec![
        Row::transcript(
            "SMG-P3 smuggled DATA with its content, normalize",
            2,
            script,
        )
        .delivers(&[b"Subject: t\r\n\r\nbody\r\n"])
        .policy(normalized)
        .exact(),
        // And the real SMG-03 payload under normalize mode is one message (no second DATA).
        one_message(
            "SMG-P3 the real SMG-03 payload, normalize",
            Some(normalized),
            r"\n.\r\n",
            r"\r\n",
            " bare_lf",
        ),
    ]
}

/// SMG-P4 (RFC 2920 §3.1: EHLO is last in a group; Postfix ≥3.9): MAIL pipelined behind
/// EHLO ⇒ `554 5.5.0` + close; the application never sees the EHLO.
fn smg_p4_command_pipelined_after_ehlo() -> Vec<Row> {
    let script = r"
S: 220 mx.example ESMTP
C: EHLO c\r\nMAIL FROM:<a@x>\r\n
S: 554 5.5.0 Error: SMTP protocol synchronization: a command came before the reply it must wait for (RFC 2920)
E: Closed ProtocolViolation
";
    vec![
        Row::transcript("SMG-P4 MAIL pipelined behind EHLO", 0, script)
            .absent("ehlo")
            .exact(),
    ]
}

/// SMG-P4, lenient alternative: with the sync check off both commands are processed
/// (strict and normalize).
fn smg_p4_without_sync_check_both_commands_run() -> Vec<Row> {
    let script = format!(
        "S: 220 mx.example ESMTP\nC: EHLO c\\r\\nMAIL FROM:<a@x>\\r\\n\nE: Hello EHLO c{EHLO_REPLY}"
    ) + r"
E: Mail <a@x>
S: 250 2.1.0 Ok
" + QUIT_IN_TRANSACTION;
    [unsynced as fn(&mut ServerConfig), normalized_unsynced]
        .into_iter()
        .map(|p| Row::transcript("SMG-P4 without sync check", 1, script.clone()).policy(p))
        .collect()
}

/// SMG-P5 (Postfix: client talks before the greeting): `EHLO c\r\n` arrives before the 220
/// left ⇒ `220`, `554 5.5.0` + close, and the application never sees the EHLO. In memory
/// the script's first line is the input, fed before the greeting is transmitted; on the
/// wire the handler's `connect` takes 300 ms, so the EHLO is in the socket before the 220
/// can leave (adapters only).
fn smg_p5_client_speaks_before_greeting_transcript() -> Vec<Row> {
    let script = r"
C: EHLO c\r\n
S: 220 mx.example ESMTP
S: 554 5.5.0 Error: SMTP protocol synchronization: a command came before the reply it must wait for (RFC 2920)
E: Closed ProtocolViolation
";
    vec![
        Row::transcript("SMG-P5 client speaks before the greeting", 0, script)
            .absent("ehlo")
            .tweak(slow_connect)
            .exact(),
    ]
}

/// SMG-P5 counterpart: once the greeting was transmitted, the same input is fine.
fn smg_p5_client_speaking_after_greeting_is_fine() -> Vec<Row> {
    vec![Row::transcript(
        "SMG-P5 counterpart: after the greeting",
        0,
        greeted() + QUIT,
    )]
}

/// SMG-P1..P5 on the wire.
fn pipelining_sync(target: Target) {
    let rows = rows(&[
        smg_p1_content_before_354_is_a_sync_violation,
        smg_p2_content_after_354_is_fine,
        smg_p3_smuggled_data_with_buffered_content_is_a_sync_violation,
        smg_p4_command_pipelined_after_ehlo,
        smg_p4_without_sync_check_both_commands_run,
        smg_p5_client_speaks_before_greeting_transcript,
        smg_p5_client_speaking_after_greeting_is_fine,
    ]);
    run_rows(target, &rows);
}

/// SMG-P5 in memory, driving `Server` directly: the exact bytes (greeting, then `554`) and
/// the state.
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
        "220 mx.example ESMTP\r\n554 5.5.0 Error: SMTP protocol synchronization: a command came before the reply it must wait for (RFC 2920)\r\n"
    );
    assert!(server.is_closed());
}

// ---- Command lines -----------------------------------------------------------------------

/// SMG-C1 strict (RFC 5321 §2.3.8, R-LINE-1): a bare LF in a command ⇒ `500 5.5.2` + close
/// *(choice; Postfix reject mode 550 + disconnect, Sendmail 421, chasquid abort)*. Nothing
/// after the bare LF runs.
fn smg_c1_bare_lf_in_command_strict() -> Vec<Row> {
    let script = greeted()
        + r"
C: MAIL FROM:<a@x>\nRCPT TO:<b@y>\r\n
S: 500 5.5.2 Error: bare <LF> received
E: Closed ProtocolViolation
";
    vec![Row::transcript("SMG-C1 bare LF in a command", 0, script)]
}

/// SMG-C1 normalize (Postfix `smtpd_forbid_bare_newline = normalize`): two commands.
fn smg_c1_bare_lf_in_command_normalize() -> Vec<Row> {
    let script = greeted()
        + r"
C: MAIL FROM:<a@x>\nRCPT TO:<b@y>\r\n
E: Mail <a@x>
S: 250 2.1.0 Ok
E: Rcpt <b@y>
S: 250 2.1.5 Ok
" + QUIT;
    let script = script.replace("E: Closed Quit", "E: TransactionReset\nE: Closed Quit");
    vec![Row::transcript("SMG-C1 normalize", 1, script).policy(normalized)]
}

/// SMG-C2: a bare CR is not a separator and never splits the line: one command with a
/// control character ⇒ `501 5.5.2` (the row's choice, `replies::CONTROL_CHARACTER`), in both
/// modes; the session goes on and no transaction was opened.
fn smg_c2_bare_cr_in_command() -> Vec<Row> {
    let script = greeted()
        + r"
C: MAIL FROM:<a@x>\rRCPT TO:<b@y>\r\n
S: 501 5.5.2 Error: control character in command
C: RCPT TO:<b@y>\r\n
S: 503 5.5.1 Error: need MAIL command
" + QUIT;
    let row = Row::transcript("SMG-C2 bare CR never splits", 0, script);
    vec![row.clone(), row.policy(normalized)]
}

/// SMG-C3: NUL in a command ⇒ `500 5.5.2` *(choice: `NOOP\x00` is no known verb, so
/// "command not recognized")*, both modes; the session goes on.
fn smg_c3_nul_in_command() -> Vec<Row> {
    let script = greeted()
        + r"
C: NOOP\x00\r\n
S: 500 5.5.2 Error: command not recognized
C: NOOP \x00\r\n
S: 501 5.5.2 Error: control character in command
C: NOOP\r\n
S: 250 2.0.0 Ok
" + QUIT;
    let row = Row::transcript("SMG-C3 NUL in a command", 0, script);
    vec![row.clone(), row.policy(normalized)]
}

/// SMG-C1..C3 on the wire.
fn command_lines(target: Target) {
    let rows = rows(&[
        smg_c1_bare_lf_in_command_strict,
        smg_c1_bare_lf_in_command_normalize,
        smg_c2_bare_cr_in_command,
        smg_c3_nul_in_command,
    ]);
    run_rows(target, &rows);
}

// ---- SMUG rules ------------------------------------------------------------------------

/// SMUG-1: `.\r\n` right after the 354 ends an empty message (line start is "immediately
/// after the 354"); `\r\n.\r\n` inside a line is found only after a CR LF that ended a line.
fn smug_01_terminator_right_after_354() -> Vec<Row> {
    let script = in_data()
        + r"
C: .\r\n
E: MessageComplete size=0
S: 250 2.0.0 Ok: queued
" + QUIT;
    vec![Row::transcript("SMUG-1 terminator right after the 354", 1, script).delivers(&[b""])]
}

/// SMUG-3 strict: the first bare LF makes the message unacceptable for good; content keeps
/// being consumed (and streamed, see `strict_rejects`) up to the real terminator across
/// reads, with no reply in between; then one `550 5.5.2` and `MessageAborted`, and the
/// session goes on (a new transaction works).
fn smug_03_sticky_reject_then_session_continues() -> Vec<Row> {
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
    vec![
        Row::transcript(
            "SMUG-3 sticky reject across reads, then the session goes on",
            2,
            script,
        )
        .delivers(&[b"ok\r\n"]),
    ]
}

/// SMUG-4: in normalize mode a `.` line after a bare-LF line is discarded, never end of
/// data; `.\n` is discarded too; the real terminator still works.
fn smug_04_normalize_discards_dot_lines_after_bare_lf() -> Vec<Row> {
    let script = in_data()
        + r#"
C: a\n.\r\nb\r\n.\nc\r\n.\r\n
E: Content "a\r\nb\r\nc\r\n"
E: MessageComplete size=9 bare_lf
S: 250 2.0.0 Ok: queued
"# + QUIT;
    vec![
        Row::transcript("SMUG-4 normalize drops dot lines after bare LF", 1, script)
            .delivers(&[b"a\r\nb\r\nc\r\n"])
            .policy(normalized),
    ]
}

/// SMUG-5: no reply while in DATA before the end of data, neither for a bare LF nor for
/// exceeding the size limit (RFC 1870 §6.3: `552` after the end of data); then exactly one
/// reply. A `QUIT` line inside the content is content. The size row sends 65537 octets,
/// over the limit of `transcript::config()` (10000) and of the wire profile (64 KiB):
/// exactly the first 10000 stream to the application in memory.
fn smug_05_no_reply_before_end_of_data() -> Vec<Row> {
    // Bare LF: nothing until the terminator.
    let bare_lf = in_data()
        + r#"
C: x\ny\r\n
E: Content "x\ny\r\n"
C: QUIT\r\n
E: Content "QUIT\r\n"
C: .\r\n
S: 550 5.5.2 Error: bare <CR>, bare <LF> or NUL received in message content
E: MessageAborted BareLineEnding
"# + QUIT;
    let size = in_data()
        + &format!(
            "C: {{a*65535}}\\r\\n\nE: Content \"{}\"\n",
            "a".repeat(10_000)
        )
        + r"
C: QUIT\r\n
C: .\r\n
S: 552 5.3.4 Error: message size exceeds fixed limit
E: MessageAborted TooBig
" + QUIT;
    vec![
        Row::transcript(
            "SMUG-5 no reply before the end of data (bare LF)",
            1,
            bare_lf,
        ),
        Row::transcript("SMUG-5 no reply before the end of data (size)", 1, size)
            .present("aborted TooBig"),
    ]
}

/// SMUG-5, size, in memory at the limit of `transcript::config()`: 10001 octets
/// (`max_message_size` 10000) get no reply until "."; exactly the first 10000 octets stream
/// to the application (`Event::DataChunk` docs).
#[test]
fn smug_05_size_at_the_limit() {
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
/// relay can refuse or sanitise (normalize mode accepts such content); in strict mode a
/// clean message with a 1001-octet line is accepted, flagged.
fn smug_06_message_complete_carries_flags() -> Vec<Row> {
    let flags = in_data()
        + r#"
C: a\rb\x00c\nd\r\n.\r\n
E: Content "a\rb\x00c\r\nd\r\n"
E: MessageComplete size=10 bare_cr bare_lf nul
S: 250 2.0.0 Ok: queued
"# + QUIT;
    let long = in_data()
        + &format!(
            "C: {{a*999}}\\r\\n.\\r\\n\nE: Content \"{}\\r\\n\"\n",
            "a".repeat(999)
        )
        + r"
E: MessageComplete size=1001 long_line
S: 250 2.0.0 Ok: queued
" + QUIT;
    vec![
        Row::transcript("SMUG-6 normalize keeps bare CR and NUL", 1, flags)
            .delivers(&[b"a\rb\x00c\r\nd\r\n"])
            .policy(normalized),
        Row::transcript("SMUG-6 a 1001-octet line is accepted", 1, long).delivers(&[format!(
            "{}\r\n",
            "a".repeat(999)
        )
        .as_bytes()]),
    ]
}

/// SMUG-10 on the wire: SMG-03 written one byte at a time, SMG-13 in pieces of 5 (every
/// `C:` read of the row in writes that small). In memory they are SMG-03 and SMG-13 again.
fn smug_10_written_in_pieces() -> Vec<Row> {
    vec![
        strict_rejects(
            "SMUG-10 SMG-03 written one byte at a time",
            r"\n.\r\n",
            r"\n.\r\n",
        )
        .in_pieces(1),
        one_message(
            "SMUG-10 SMG-13 written in pieces of 5",
            None,
            r"\r\n. \r\n",
            r"\r\n \r\n",
            "",
        )
        .in_pieces(5),
    ]
}

/// SMUG-1, 3, 4, 5, 6, 10 on the wire.
fn smug_rules(target: Target) {
    let rows = rows(&[
        smug_01_terminator_right_after_354,
        smug_03_sticky_reject_then_session_continues,
        smug_04_normalize_discards_dot_lines_after_bare_lf,
        smug_05_no_reply_before_end_of_data,
        smug_06_message_complete_carries_flags,
        smug_10_written_in_pieces,
    ]);
    run_rows(target, &rows);
}

/// SMUG-6 in memory: the flags themselves.
#[test]
fn smug_06_flags_in_memory() {
    let run = smug_06_message_complete_carries_flags()[0].in_memory();
    let flags = run.messages[0].1.flags;
    assert!(flags.bare_cr && flags.bare_lf && flags.nul && !flags.long_line);
}

// ---- STARTTLS injection (manual::starttls) -----------------------------------------------

/// The injection: STARTTLS with commands behind it in the same write.
const INJECTED: &str = r"C: STARTTLS\r\nEHLO evil.example\r\nMAIL FROM:<x@y.example>\r\n";

/// TLS-02 (CVE-2011-0411, CVE-2021-33515, CVE-2024-34083): commands pipelined after
/// STARTTLS are dropped (`InjectionPolicy::Discard`, the default) and never executed after
/// the handshake: nothing arrives without new input; a new EHLO gets one reply and a
/// message goes through. Exact: the injection is what one read holds.
fn tls_02_injected_commands_are_discarded() -> Vec<Row> {
    let script = greeted()
        + INJECTED
        + "\nS: 220 2.0.0 Ready to start TLS\nE: StartTls discarded=44\nTLS\n"
        + TLS_EHLO_E
        + r#"
C: MAIL FROM:<a@x.example>\r\n
E: Mail <a@x.example>
S: 250 2.1.0 Ok
C: RCPT TO:<b@y.example>\r\n
E: Rcpt <b@y.example>
S: 250 2.1.5 Ok
C: DATA\r\n
E: DataStart
S: 354 End data with <CR><LF>.<CR><LF>
C: x\r\n.\r\n
E: Content "x\r\n"
E: MessageComplete size=3
S: 250 2.0.0 Ok: queued
"# + QUIT;
    vec![
        Row::transcript("TLS-02 injected commands are discarded", 1, script)
            .delivers(&[b"x\r\n"])
            .absent("evil")
            .absent("x@y.example")
            .present("tls TLSv1.3")
            .exact(),
    ]
}

/// TLS-02 with `InjectionPolicy::Close`: `554 5.5.0` and close, no handshake.
fn tls_02_injection_policy_close() -> Vec<Row> {
    let script = greeted()
        + INJECTED
        + r"
S: 554 5.5.0 Error: plaintext received after STARTTLS
E: Closed ProtocolViolation
";
    vec![
        Row::transcript("TLS-02 InjectionPolicy::Close", 0, script)
            .absent("evil")
            .absent("tls")
            .policy(injection_closes)
            .exact(),
    ]
}

/// STARTTLS answered and the handshake done, from [G].
fn starttls() -> &'static str {
    "C: STARTTLS\\r\\n\nS: 220 2.0.0 Ready to start TLS\nE: StartTls discarded=0\nTLS\n"
}

/// TLS-03 (RFC 3207 §4.2): the EHLO before TLS is forgotten: MAIL right after the
/// handshake ⇒ `503 5.5.1`; after a new EHLO it works.
fn tls_03_ehlo_is_forgotten() -> Vec<Row> {
    let script = greeted()
        + starttls()
        + r"
C: MAIL FROM:<a@x.example>\r\n
S: 503 5.5.1 Error: send HELO/EHLO first
" + TLS_EHLO_E
        + r"
C: MAIL FROM:<a@x.example>\r\n
E: Mail <a@x.example>
S: 250 2.1.0 Ok
C: QUIT\r\n
S: 221 2.0.0 Bye
E: TransactionReset
E: Closed Quit
";
    vec![Row::transcript("TLS-03 EHLO is forgotten", 1, script)]
}

/// TLS-04 (RFC 3207 §4.2): STARTTLS in a transaction drops it; after the handshake and a
/// new EHLO, RCPT and DATA ⇒ `503 5.5.1`.
fn tls_04_transaction_is_forgotten() -> Vec<Row> {
    let script = in_transaction()
        + r"
C: STARTTLS\r\n
S: 220 2.0.0 Ready to start TLS
E: TransactionReset
E: StartTls discarded=0
TLS
" + TLS_EHLO_E
        + r"
C: RCPT TO:<b@y.example>\r\n
S: 503 5.5.1 Error: need MAIL command
C: DATA\r\n
S: 503 5.5.1 Error: need MAIL command
" + QUIT;
    vec![Row::transcript(
        "TLS-04 the transaction is forgotten",
        1,
        script,
    )]
}

/// TLS-02..04 on the wire.
fn starttls_injection(target: Target) {
    let rows = rows(&[
        tls_02_injected_commands_are_discarded,
        tls_02_injection_policy_close,
        tls_03_ehlo_is_forgotten,
        tls_04_transaction_is_forgotten,
    ]);
    run_rows(target, &rows);
}

/// Every row, in memory.
mod in_memory {
    smtp_proto_tests::in_memory!(
        smg_01_crlf_dot_crlf_is_end_of_data_then_sync_violation,
        smg_01_crlf_dot_crlf_without_sync_check_gives_two_genuine_messages,
        smg_02_lf_dot_lf_strict,
        smg_02_lf_dot_lf_normalize,
        smg_03_lf_dot_crlf_is_not_end_of_data_strict,
        smg_03_lf_dot_crlf_is_not_end_of_data_normalize,
        smg_04_crlf_dot_lf_strict,
        smg_04_crlf_dot_lf_normalize,
        smg_05_cr_dot_cr_strict,
        smg_05_cr_dot_cr_normalize,
        smg_06_cr_dot_crlf,
        smg_07_cr_dot_lf_and_lf_dot_cr,
        smg_08_crlf_dot_cr_then_other,
        smg_09_crlf_dot_cr_cr_lf,
        smg_10_cr_crlf_dot_cr_crlf,
        smg_11_nul_before_dot,
        smg_12_nul_after_dot,
        smg_13_dot_whitespace_is_not_end_of_data,
        smg_14_dot_after_long_line_fragment,
        smg_15_dot_dot_is_stuffing,
        smg_16_terminator_split_at_every_boundary,
        smg_17_lf_lf_dot_crlf,
        smg_b1_bdat_has_no_dot_handling,
        smg_b2_bdat_bare_lf_strict,
        smg_b2_bdat_bare_lf_normalize,
        smug_07_bdat_verdict_after_chunk_is_consumed,
        smg_p1_content_before_354_is_a_sync_violation,
        smg_p2_content_after_354_is_fine,
        smg_p3_smuggled_data_with_buffered_content_is_a_sync_violation,
        smg_p4_command_pipelined_after_ehlo,
        smg_p4_without_sync_check_both_commands_run,
        smg_p5_client_speaks_before_greeting_transcript,
        smg_p5_client_speaking_after_greeting_is_fine,
        smg_c1_bare_lf_in_command_strict,
        smg_c1_bare_lf_in_command_normalize,
        smg_c2_bare_cr_in_command,
        smg_c3_nul_in_command,
        smug_01_terminator_right_after_354,
        smug_03_sticky_reject_then_session_continues,
        smug_04_normalize_discards_dot_lines_after_bare_lf,
        smug_05_no_reply_before_end_of_data,
        smug_06_message_complete_carries_flags,
        smug_10_written_in_pieces,
        tls_02_injected_commands_are_discarded,
        tls_02_injection_policy_close,
        tls_03_ehlo_is_forgotten,
        tls_04_transaction_is_forgotten,
    );
}

on_targets!(
    [Blackhole, Tokio, Blocking]:
    end_of_data_sequences,
    bdat,
    pipelining_sync,
    command_lines,
    smug_rules,
    starttls_injection,
);

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

/// PROXY protocol (`manual::proxy` PX-6): a selection of the rows above, rerun through a
/// forwarder that puts a PROXY v2 header in front of each connection, against a blackhole
/// that requires one: the header changes nothing (the pre-greeting row is left out: what
/// arrives before the greeting is a race once a forwarder is in between; PXV1-14 pins it in
/// memory).
#[test]
fn behind_a_proxy_header() {
    let rows = rows(&[
        smg_01_crlf_dot_crlf_is_end_of_data_then_sync_violation,
        smg_02_lf_dot_lf_strict,
        smg_03_lf_dot_crlf_is_not_end_of_data_strict,
        smg_04_crlf_dot_lf_strict,
        smg_05_cr_dot_cr_strict,
        smg_06_cr_dot_crlf,
        smg_b1_bdat_has_no_dot_handling,
        smg_b2_bdat_bare_lf_strict,
        smg_p1_content_before_354_is_a_sync_violation,
        smg_p3_smuggled_data_with_buffered_content_is_a_sync_violation,
        smg_p4_command_pipelined_after_ehlo,
        smg_c1_bare_lf_in_command_strict,
        smg_c2_bare_cr_in_command,
        smg_c3_nul_in_command,
        smug_01_terminator_right_after_354,
    ]);
    smtp_proto_tests::servers::run_rows_behind_proxy(&rows);
}
