//! Classic SMTP server bugs (manual::classic_bugs): address and parameter parsing, recipient
//! and size caps, error-path states, BDAT sizes and states, AUTH lines and base64, over-long
//! lines, NUL and controls, HTTP verbs and the error limit (Postfix's forbidden-command and
//! error-limit policy).
//!
//! Each row is a [`Row`] of one transcript, written once and run both ways: in memory
//! against `transcript::config()` (module `in_memory`, one `#[test]` per rule, re-fed byte
//! by byte and at random splits) and over real sockets (modules `blackhole`,
//! `tokio_adapter`, `blocking_adapter`, one test per group of rows and target, by
//! `on_targets!`): against blackhole (`--maildir`: what was stored, byte for byte) and
//! in-process servers of both adapters (a recording handler: what was accepted, how many
//! transactions, which log entries). Rows that only the core can show (a recipient cap of
//! 100, a size cap of 1000, a scripted AUTH challenge, an application refusing a chunk,
//! the input buffer's bound) stay plain in-memory tests at the end.
//!
//! Not here: CVE-2020-28018 "OCORK" (write errors: `faults.rs`), CVE-2019-15846 (TLS
//! adapter), CVE-2020-28025 "BHASH" (DKIM, out of scope), CVE-2020-28024 and Exim
//! CVE-2023-42114..42116 beyond their transcript-visible part (fuzz targets).

use smtp_proto::{AbortReason, Event, Server};
use smtp_proto_tests::on_targets;
use smtp_proto_tests::servers::{Row, Setup, Target, WireServer, run_rows, vm_rss_kib};
use smtp_proto_tests::transcript::{
    EHLO_REPLY_TLS, QUIT, QUIT_IN_TRANSACTION, config, escape, greeted, in_transaction, t0,
    transcript,
};

/// [G] under TLS (AUTH needs TLS in `transcript::config()` and the wire profile).
fn greeted_tls() -> String {
    greeted()
        + &format!(
            "C: STARTTLS\\r\\n\nS: 220 2.0.0 Ready to start TLS\nE: StartTls discarded=0\nTLS\n\
             C: EHLO c.example\\r\\n\nE: Hello EHLO c.example{EHLO_REPLY_TLS}"
        )
}

/// [D]: [T] plus DATA answered 354.
fn in_data() -> String {
    in_transaction()
        + r"
C: DATA\r\n
E: DataStart
S: 354 End data with <CR><LF>.<CR><LF>
"
}

/// The rows of every function in `groups`.
fn rows(groups: &[fn() -> Vec<Row>]) -> Vec<Row> {
    groups.iter().flat_map(|g| g()).collect()
}

// ---- Parsing ---------------------------------------------------------------------------

/// OpenSMTPD CVE-2020-7247 (Qualys 2020): address validation is total and fail-closed; a
/// bad local part is never "fixed up" with a default domain. `<;sleep 66;>` ⇒ `501 5.1.7`,
/// `<;id;@x>` ⇒ `501 5.1.3`, and `<>` still works (RFC 5321 §4.1.1.2).
fn cve_2020_7247_opensmtpd_invalid_local_part_fails_closed() -> Vec<Row> {
    let script = greeted()
        + r"
C: MAIL FROM:<;sleep 66;>\r\n
S: 501 5.1.7 Bad sender address syntax: Bad local part syntax
C: MAIL FROM:<>\r\n
E: Mail <>
S: 250 2.1.0 Ok
C: RCPT TO:<;id;@x>\r\n
S: 501 5.1.3 Bad recipient address syntax: Bad local part syntax
C: RCPT TO:<;id;>\r\n
S: 501 5.1.3 Bad recipient address syntax: Bad local part syntax
C: DATA\r\n
S: 503 5.5.1 Error: need RCPT command
" + QUIT_IN_TRANSACTION;
    vec![
        Row::transcript("CVE-2020-7247 invalid local part fails closed", 1, script)
            .present("mail <>")
            .absent("rcpt"),
    ]
}

/// Exim CVE-2019-10149 "Return of the WIZard": `${run{…}}` in a local part is judged by
/// syntax only (`$`, `{`, `}` are atext, RFC 5321 §4.1.2) and reaches the application
/// verbatim, as typed data with no special meaning; the message goes through.
fn cve_2019_10149_exim_expansion_syntax_is_just_atext() -> Vec<Row> {
    let script = in_transaction()
        + r#"
C: RCPT TO:<${run{x}}@localhost>\r\n
E: Rcpt <${run{x}}@localhost>
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
        Row::transcript("CVE-2019-10149 expansion syntax is just atext", 1, script)
            .delivers(&[b"x\r\n"])
            .present("rcpt <${run{x}}@localhost>"),
    ]
}

/// Exim CVE-2020-28021 (21Nails): `AUTH=` on MAIL is xtext; a decoded LF (`+0A`) would
/// inject a spool line, so decoded controls are refused: `501 5.5.4`. Under TLS, where AUTH
/// is advertised (before it, `AUTH=` is an unsupported parameter, `555`).
fn cve_2020_28021_exim_xtext_newline_in_mail_auth() -> Vec<Row> {
    let script = greeted_tls()
        + r"
C: MAIL FROM:<a@x> AUTH=a+0Ab\r\n
S: 501 5.5.4 Control character in parameter AUTH
C: MAIL FROM:<a@x> AUTH=a+0Db\r\n
S: 501 5.5.4 Control character in parameter AUTH
C: MAIL FROM:<a@x> AUTH=a+00b\r\n
S: 501 5.5.4 Control character in parameter AUTH
C: MAIL FROM:<a@x> AUTH=<>\r\n
E: Mail <a@x>
S: 250 2.1.0 Ok
" + QUIT_IN_TRANSACTION;
    vec![Row::transcript(
        "CVE-2020-28021 control characters in AUTH= xtext",
        1,
        script,
    )]
}

/// Exim CVE-2020-28026 "FGETS" (21Nails): `ORCPT=` (RFC 3461 §4.2) with a decoded CR LF ⇒
/// `501 5.5.4`; so is an ENVID over 100 octets (RFC 3461 §4.4), and a valid ORCPT passes.
fn cve_2020_28026_exim_orcpt_newline() -> Vec<Row> {
    let script = greeted()
        + r"
C: MAIL FROM:<a@x> ENVID={e*101}\r\n
S: 501 5.5.4 Parameter ENVID too long
C: MAIL FROM:<a@x>\r\n
E: Mail <a@x>
S: 250 2.1.0 Ok
C: RCPT TO:<b@y> ORCPT=rfc822;b+0D+0A@y\r\n
S: 501 5.5.4 Control character in parameter ORCPT
C: RCPT TO:<b@y> ORCPT=rfc822;b@y\r\n
E: Rcpt <b@y>
S: 250 2.1.5 Ok
" + QUIT_IN_TRANSACTION;
    vec![Row::transcript(
        "CVE-2020-28026 ORCPT with CR LF, ENVID too long",
        1,
        script,
    )]
}

/// Exim CVE-2020-28022 "EXOPT" (21Nails): malformed `name=value` parameters are answered
/// `501`/`555`, never a crash. The count is bounded: 16 unknown `X=1` ⇒ `555 5.5.4`, 17 ⇒
/// `501 5.5.4 Too many parameters`; 1000 of them make a line over the MAIL line limit ⇒
/// `500 5.5.2` (the line cap comes first, R-LINE-2). A run of spaces between path and
/// parameters, or after the last one, is a syntax error (RFC 5321 §4.1.2: exactly one SP).
fn cve_2020_28022_exim_exopt_malformed_parameters() -> Vec<Row> {
    let script = greeted()
        + r"
C: MAIL FROM:<a@x> =\r\n
S: 501 5.5.4 Syntax error in parameters
C: MAIL FROM:<a@x> SIZE==1\r\n
S: 501 5.5.4 Syntax error in parameter SIZE
C: MAIL FROM:<a@x> SIZE=\r\n
S: 501 5.5.4 Syntax error in parameter SIZE
C: MAIL FROM:<a@x> SIZE\r\n
S: 501 5.5.4 Syntax error in parameter SIZE
C: MAIL FROM:<a@x> SIZE=1 SIZE=2\r\n
S: 501 5.5.4 Duplicate parameter SIZE
C: MAIL FROM:<a@x>{ X=1*16}\r\n
S: 555 5.5.4 Unknown parameter X
C: MAIL FROM:<a@x>{ X=1*17}\r\n
S: 501 5.5.4 Too many parameters
C: MAIL FROM:<a@x>{ X=1*1000}\r\n
S: 500 5.5.2 Error: line too long
C: MAIL FROM:<a@x>  SIZE=1\r\n
S: 501 5.5.4 Syntax error in parameters
C: MAIL FROM:<a@x> SIZE=1 \r\n
S: 501 5.5.4 Syntax error in parameters
C: QUIT\r\n
S: 221 2.0.0 Bye
E: Closed Quit
";
    vec![Row::transcript(
        "CVE-2020-28022 malformed ESMTP parameters",
        0,
        script,
    )]
}

/// Exim CVE-2020-28022 "EXOPT", trailing spaces after the parameters: not in RFC 5321's
/// `Mail-parameters = esmtp-param *(SP esmtp-param)`, so the row asks for `501`/`555` (the
/// text is the tokenizer's own syntax-error text).
fn cve_2020_28022_exim_exopt_trailing_spaces() -> Vec<Row> {
    let script = greeted()
        + r"
C: MAIL FROM:<a@x> SIZE=1   \r\n
S: 501 5.5.4 Syntax error in parameters
" + QUIT;
    vec![Row::transcript("CVE-2020-28022 trailing spaces", 0, script)]
}

/// R-8BIT-1: controls and octets that are not UTF-8 in the envelope are refused
/// (`501 5.5.2`, `500 5.5.2` for a line that is not UTF-8 at all), NUL too; the session
/// goes on.
fn r_8bit_1_controls_and_non_utf8_in_the_envelope() -> Vec<Row> {
    let script = greeted()
        + r"
C: MAIL FROM:<b\x01b@x.example>\r\n
S: 501 5.5.2 Error: control character in command
C: MAIL FROM:<b\x7fb@x.example>\r\n
S: 501 5.5.2 Error: control character in command
C: MAIL FROM:<b\xffb@x.example>\r\n
S: 500 5.5.2 Error: invalid UTF-8 in command
C: MAIL FROM:<b\x00b@x.example>\r\n
S: 501 5.5.2 Error: control character in command
C: MAIL FROM:<a@x.example>\r\n
E: Mail <a@x.example>
S: 250 2.1.0 Ok
C: RCPT TO:<b\x00b@y.example>\r\n
S: 501 5.5.2 Error: control character in command
" + QUIT_IN_TRANSACTION;
    vec![Row::transcript(
        "R-8BIT-1 controls and non-UTF-8 in the envelope",
        1,
        script,
    )]
}

/// Postfix 2026 (HISTORY 20260812, Wonyoung Jung): a UTF-8 address without SMTPUTF8 must
/// not leave half a transaction. A refused UTF-8 RCPT (`553 5.6.7`, RFC 6531 §3.4) keeps
/// MAIL and the earlier RCPT; a VRFY with a UTF-8 argument changes nothing; DATA then works.
/// A refused UTF-8 MAIL opens nothing: RCPT and DATA ⇒ `503`.
fn postfix_2026_utf8_address_keeps_state_consistent() -> Vec<Row> {
    let script = in_transaction()
        + r#"
C: RCPT TO:<ü@y.example>\r\n
S: 553 5.6.7 Error: must declare SMTPUTF8 to send a UTF-8 address
C: VRFY ü@x\r\n
E: Verify ü@x
S: 252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery
C: DATA\r\n
E: DataStart
S: 354 End data with <CR><LF>.<CR><LF>
C: x\r\n.\r\n
E: Content "x\r\n"
E: MessageComplete size=3
S: 250 2.0.0 Ok: queued
C: MAIL FROM:<ü@x.example>\r\n
S: 553 5.6.7 Error: must declare SMTPUTF8 to send a UTF-8 address
C: RCPT TO:<b@y.example>\r\n
S: 503 5.5.1 Error: need MAIL command
C: DATA\r\n
S: 503 5.5.1 Error: need MAIL command
"# + QUIT;
    vec![
        Row::transcript(
            "Postfix 2026 UTF-8 address without SMTPUTF8 keeps state consistent",
            1,
            script,
        )
        .delivers(&[b"x\r\n"]),
    ]
}

/// Parsing rows on the wire.
fn parsing(target: Target) {
    let rows = rows(&[
        cve_2020_7247_opensmtpd_invalid_local_part_fails_closed,
        cve_2019_10149_exim_expansion_syntax_is_just_atext,
        cve_2020_28021_exim_xtext_newline_in_mail_auth,
        cve_2020_28026_exim_orcpt_newline,
        cve_2020_28022_exim_exopt_malformed_parameters,
        cve_2020_28022_exim_exopt_trailing_spaces,
        r_8bit_1_controls_and_non_utf8_in_the_envelope,
        postfix_2026_utf8_address_keeps_state_consistent,
    ]);
    run_rows(target, &rows);
}

// ---- Limits and long lines ---------------------------------------------------------------

/// Exim CVE-2020-28017 "RCPTL" (21Nails) at the default cap: 2000 pipelined RCPTs against
/// `max_recipients = 1000`: the first 1000 get `250`, the other 1000 `452 4.5.3`, and the
/// message goes through (the 452s are not client errors).
fn cve_2020_28017_exim_rcptl_default_cap() -> Vec<Row> {
    let mut script = greeted()
        + r"
C: MAIL FROM:<a@x.example>\r\n
E: Mail <a@x.example>
S: 250 2.1.0 Ok
C: {RCPT TO:<b@y.example>\r\n*2000}
";
    for _ in 0..1000 {
        script += "E: Rcpt <b@y.example>\nS: 250 2.1.5 Ok\n";
    }
    for _ in 1000..2000 {
        script += "S: 452 4.5.3 Error: too many recipients\n";
    }
    script += r#"
C: DATA\r\n
E: DataStart
S: 354 End data with <CR><LF>.<CR><LF>
C: x\r\n.\r\n
E: Content "x\r\n"
E: MessageComplete size=3
S: 250 2.0.0 Ok: queued
"#;
    script += QUIT;
    vec![
        Row::transcript("CVE-2020-28017 2000 pipelined RCPTs, cap 1000", 1, script)
            .delivers(&[b"x\r\n"]),
    ]
}

/// Exim CVE-2020-28020 "HSIZE" (21Nails) over both size caps: an endless folded header of
/// 80 KB (over `transcript::config()`'s 10000 and the wire profile's 64 KiB) is content,
/// answered `552 5.3.4` only after the end of data; the transaction is over.
fn cve_2020_28020_exim_hsize_endless_folded_header() -> Vec<Row> {
    let mut content = b"X: a".to_vec();
    for _ in 0..20_000 {
        content.extend_from_slice(b"\r\n a");
    }
    let script = in_data()
        + &format!(
            "C: X: a{{\\r\\n a*20000}}\\r\\n\\r\\nbody\\r\\n.\\r\\n\nE: Content \"{}\"\n",
            escape(&content[..10_000])
        )
        + r"
S: 552 5.3.4 Error: message size exceeds fixed limit
E: MessageAborted TooBig
C: RCPT TO:<b@y.example>\r\n
S: 503 5.5.1 Error: need MAIL command
" + QUIT;
    vec![
        Row::transcript(
            "CVE-2020-28020 endless folded header over the size cap",
            1,
            script,
        )
        .present("aborted TooBig"),
    ]
}

/// Exim CVE-2019-16928 (`string_vformat()` overflow with a long EHLO): the command-line cap
/// (512, RFC 5321 §4.5.3.1.4) is enforced before anything else: `EHLO ` + 100 KB ⇒ one
/// `500 5.5.2`, the tail is discarded (never a command, also when it looks like one), and
/// the session goes on.
fn cve_2019_16928_exim_long_ehlo() -> Vec<Row> {
    ["", "QUIT"]
        .into_iter()
        .map(|tail| {
            let script = format!(
                "S: 220 mx.example ESMTP\nC: EHLO {{a*102400}}{tail}\\r\\n\n\
                 S: 500 5.5.2 Error: line too long\nC: NOOP\\r\\n\nS: 250 2.0.0 Ok\n{QUIT}"
            );
            Row::transcript("CVE-2019-16928 100 KB EHLO", 0, script).absent("ehlo")
        })
        .collect()
}

/// aiosmtpd / Postfix long-line handling (RFC 5321 §4.5.3.1.4, §4.5.3.1.9 "500 Line too
/// long"): `NOOP ` + 600 `A` + `\r\nQUIT\r\n` ⇒ `500 5.5.2`, `221` — only two replies;
/// the tail of the long line is never a command, also when it looks like one.
fn long_command_line_tail_is_never_a_command() -> Vec<Row> {
    let script = r"
S: 220 mx.example ESMTP
C: NOOP {A*600}\r\nQUIT\r\n
S: 500 5.5.2 Error: line too long
S: 221 2.0.0 Bye
E: Closed Quit
";
    let looks_like_one = greeted()
        + r"
C: NOOP {A*600}RSET\r\nRCPT TO:<b@y>\r\n
S: 500 5.5.2 Error: line too long
S: 503 5.5.1 Error: need MAIL command
" + QUIT;
    vec![
        Row::transcript("long command line: the tail is never a command", 0, script),
        Row::transcript(
            "long command line: a tail that looks like a command",
            0,
            looks_like_one,
        ),
    ]
}

/// Long lines at the limit (R-LINE-2): a 512-octet NOOP line is fine, 513 octets get
/// `500 5.5.2`.
fn long_command_line_limit_is_512_octets() -> Vec<Row> {
    let script = r"
S: 220 mx.example ESMTP
C: NOOP {a*505}\r\n
S: 250 2.0.0 Ok
C: NOOP {a*506}\r\n
S: 500 5.5.2 Error: line too long
"
    .to_owned()
        + QUIT;
    vec![Row::transcript(
        "R-LINE-2 512 octets is the limit",
        0,
        script,
    )]
}

/// Long DATA lines (R-LINE-3, SMG-14): a 1000-octet text line is clean, a 1001-octet one
/// and a 2002-octet one are accepted and flagged *(choice, `Limits::text_line`)*; none is
/// split into lines.
fn long_text_line_is_flagged_not_split() -> Vec<Row> {
    let script = in_data()
        + &format!(
            "C: {{a*998}}\\r\\n{{b*999}}\\r\\n.\\r\\n\nE: Content \"{}\\r\\n{}\\r\\n\"\n",
            "a".repeat(998),
            "b".repeat(999)
        )
        + r"
E: MessageComplete size=2001 long_line
S: 250 2.0.0 Ok: queued
" + QUIT;
    let longer = in_data()
        + &format!(
            "C: {{t*2000}}\\r\\n.\\r\\n\nE: Content \"{}\\r\\n\"\n",
            "t".repeat(2000)
        )
        + r"
E: MessageComplete size=2002 long_line
S: 250 2.0.0 Ok: queued
" + QUIT;
    let message = format!("{}\r\n{}\r\n", "a".repeat(998), "b".repeat(999));
    let longest = format!("{}\r\n", "t".repeat(2000));
    vec![
        Row::transcript("R-LINE-3 1000 and 1001-octet text lines", 1, script)
            .delivers(&[message.as_bytes()]),
        Row::transcript(
            "R-LINE-3 a 2002-octet text line is flagged, not split",
            1,
            longer,
        )
        .delivers(&[longest.as_bytes()]),
    ]
}

/// Caps and over-long lines on the wire.
fn limits(target: Target) {
    let rows = rows(&[
        cve_2020_28017_exim_rcptl_default_cap,
        cve_2020_28020_exim_hsize_endless_folded_header,
        cve_2019_16928_exim_long_ehlo,
        long_command_line_tail_is_never_a_command,
        long_command_line_limit_is_512_octets,
        long_text_line_is_flagged_not_split,
    ]);
    run_rows(target, &rows);
}

// ---- BDAT ------------------------------------------------------------------------------

/// Exim CVE-2020-28023 "OOBRD" (21Nails): error paths are states too, tested as the very
/// first commands. DATA and BDAT before any MAIL ⇒ `503 5.5.1`; BDAT's octets are consumed
/// even so (RFC 3030 §2), so the `QUIT` inside the chunk is not run. Before EHLO, and
/// after it.
fn cve_2020_28023_exim_oobrd_error_paths_first() -> Vec<Row> {
    let before_ehlo = r"
S: 220 mx.example ESMTP
C: DATA\r\n
S: 503 5.5.1 Error: need MAIL command
C: BDAT 6 LAST\r\nQUIT\r\n
S: 503 5.5.1 Error: need MAIL command
C: NOOP\r\n
S: 250 2.0.0 Ok
"
    .to_owned()
        + QUIT;
    let after_ehlo = greeted()
        + r"
C: DATA\r\n
S: 503 5.5.1 Error: need MAIL command
C: BDAT 1 LAST\r\nx
S: 503 5.5.1 Error: need MAIL command
C: NOOP\r\n
S: 250 2.0.0 Ok
" + QUIT;
    vec![
        Row::transcript("CVE-2020-28023 error paths before EHLO", 0, before_ehlo),
        Row::transcript("CVE-2020-28023 error paths after EHLO", 0, after_ehlo),
    ]
}

/// Exim CVE-2020-28019 "BDATA" (21Nails): every BDAT error has an explicit next state; a
/// refused BDAT (no RCPT yet) leaves the server in command mode with its octets skipped,
/// and DATA, MAIL, BDAT and RCPT afterwards are all answered consistently. A refused
/// `BDAT … LAST` ends the transaction like any BDAT LAST (the Postfix 2026-07 row).
fn cve_2020_28019_exim_bdata_state_after_bdat_error() -> Vec<Row> {
    let script = greeted()
        + r#"
C: MAIL FROM:<a@x.example>\r\n
E: Mail <a@x.example>
S: 250 2.1.0 Ok
C: BDAT 3\r\nabc
S: 503 5.5.1 Error: need RCPT command
C: DATA\r\n
S: 503 5.5.1 Error: need RCPT command
C: MAIL FROM:<c@z.example>\r\n
S: 503 5.5.1 Error: nested MAIL command
C: BDAT 2 LAST\r\nxy
S: 503 5.5.1 Error: need RCPT command
E: TransactionReset
C: DATA\r\n
S: 503 5.5.1 Error: need MAIL command
C: RCPT TO:<b@y.example>\r\n
S: 503 5.5.1 Error: need MAIL command
C: MAIL FROM:<c@z.example>\r\n
E: Mail <c@z.example>
S: 250 2.1.0 Ok
C: RCPT TO:<b@y.example>\r\n
E: Rcpt <b@y.example>
S: 250 2.1.5 Ok
C: BDAT 3 LAST\r\nabc
E: DataStart chunked
E: Content "abc"
E: MessageComplete size=3
S: 250 2.0.0 Ok: queued
C: RCPT TO:<b@y.example>\r\n
S: 503 5.5.1 Error: need MAIL command
"# + QUIT;
    vec![Row::transcript("CVE-2020-28019 state after BDAT errors", 2, script).delivers(&[b"abc"])]
}

/// Exim CVE-2020-28024 (21Nails, unget at a buffer start): the transcript-visible part of
/// the fuzz target. Chunks and commands pipelined in one read, cut at every byte and at
/// random points by the harness, give the same replies; `BDAT` inside a chunk is data.
fn cve_2020_28024_exim_bdat_pipelining_boundaries() -> Vec<Row> {
    let script = in_transaction()
        + r#"
C: BDAT 5\r\nhelloBDAT 11 LAST\r\nBDAT 1\r\n.\r\nRSET\r\n
E: DataStart chunked
E: Content "hello"
S: 250 2.0.0 5 octets received
E: Content "BDAT 1\r\n.\r\n"
E: MessageComplete size=16
S: 250 2.0.0 Ok: queued
S: 250 2.0.0 Ok
"# + QUIT;
    vec![
        Row::transcript("CVE-2020-28024 chunks and commands in one write", 1, script)
            .delivers(&[b"helloBDAT 1\r\n.\r\n"]),
    ]
}

/// Exim CVE-2017-16943/16944: BDAT never runs dot logic (fix: dot handling only when
/// `dot_ends`). `BDAT 1\r\n.` ‖ `BDAT 0 LAST\r\n` ⇒ `250`, `250`, content `.`.
fn cve_2017_16944_exim_bdat_lonely_dot() -> Vec<Row> {
    let script = in_transaction()
        + r#"
C: BDAT 1\r\n.
E: DataStart chunked
E: Content "."
S: 250 2.0.0 1 octets received
C: BDAT 0 LAST\r\n
E: MessageComplete size=1
S: 250 2.0.0 Ok: queued
"# + QUIT;
    vec![
        Row::transcript("CVE-2017-16944 a lonely dot in BDAT is data", 1, script).delivers(&[b"."]),
    ]
}

/// Postfix 2026-07 fix ("also reset recipient state"): after BDAT LAST, success or error,
/// the transaction is over. A BDAT LAST failing on a bare LF (strict) is followed by
/// `DATA` ⇒ `503 5.5.1`. (The application refusing it: `postfix_2026_bdat_last_refused`.)
fn postfix_2026_bdat_last_error_resets_transaction() -> Vec<Row> {
    let script = in_transaction()
        + r#"
C: BDAT 5 LAST\r\na\nbcd
E: DataStart chunked
E: Content "a\nbcd"
S: 550 5.5.2 Error: bare <CR>, bare <LF> or NUL received in message content
E: MessageAborted BareLineEnding
E: TransactionReset
C: DATA\r\n
S: 503 5.5.1 Error: need MAIL command
C: RCPT TO:<b@y.example>\r\n
S: 503 5.5.1 Error: need MAIL command
"# + QUIT;
    vec![Row::transcript(
        "Postfix 2026 BDAT LAST after an error resets the transaction",
        1,
        script,
    )]
}

/// RFC 3030 §2: a BDAT out of sequence (no MAIL, no RCPT) is refused and its octets are
/// skipped, so the `QUIT` inside it never runs.
fn rfc_3030_out_of_sequence_bdat_skips_its_octets() -> Vec<Row> {
    let script = greeted()
        + r"
C: BDAT 6 LAST\r\nQUIT\r\n
S: 503 5.5.1 Error: need MAIL command
C: MAIL FROM:<a@x.example>\r\n
E: Mail <a@x.example>
S: 250 2.1.0 Ok
C: BDAT 6\r\nQUIT\r\n
S: 503 5.5.1 Error: need RCPT command
C: NOOP\r\n
S: 250 2.0.0 Ok
" + QUIT_IN_TRANSACTION;
    vec![Row::transcript(
        "RFC 3030 out-of-sequence BDAT skips its octets",
        1,
        script,
    )]
}

/// RFC 3030 §2: `BDAT 0` without LAST is refused (`504 5.5.4`); the transaction goes on.
fn rfc_3030_null_bdat_refused() -> Vec<Row> {
    let script = in_transaction()
        + r#"
C: BDAT 0\r\n
S: 504 5.5.4 Error: null BDAT request
C: BDAT 2 LAST\r\nok
E: DataStart chunked
E: Content "ok"
E: MessageComplete size=2
S: 250 2.0.0 Ok: queued
"# + QUIT;
    vec![Row::transcript("RFC 3030 null BDAT refused", 1, script).delivers(&[b"ok"])]
}

/// RFC 3030 §2, RFC 1870: a chunk over the size cap of both profiles is read whole and
/// refused `552 5.3.4`, and so is every later chunk until LAST; the transaction is over.
fn rfc_3030_chunk_over_the_size_cap() -> Vec<Row> {
    let script = in_transaction()
        + &format!(
            "C: BDAT 65537\\r\\n{{x*65537}}\nE: DataStart chunked\nE: Content \"{}\"\n",
            "x".repeat(10_000)
        )
        + r"
S: 552 5.3.4 Error: message size exceeds fixed limit
E: MessageAborted TooBig
C: BDAT 5\r\nQUIT\r
S: 552 5.3.4 Error: message size exceeds fixed limit
C: BDAT 2 LAST\r\nxy
S: 552 5.3.4 Error: message size exceeds fixed limit
E: TransactionReset
C: DATA\r\n
S: 503 5.5.1 Error: need MAIL command
" + QUIT;
    vec![
        Row::transcript(
            "RFC 3030 a chunk over the size cap is read, refused, and so is the rest",
            1,
            script,
        )
        .present("aborted TooBig"),
    ]
}

/// RFC 3030 §2: a BDAT size that does not parse leaves the octets that follow it unknown:
/// `521 5.5.4` and close.
fn rfc_3030_unparsable_bdat_size_closes() -> Vec<Row> {
    [
        "BDAT x",
        "BDAT 1 FOO",
        "BDAT",
        "BDAT -1",
        "BDAT 18446744073709551616",
        "BDAT 123456789012345678901 LAST",
    ]
    .into_iter()
    .map(|bad| {
        let script = in_transaction()
            + &format!(
                "C: {bad}\\r\\n\nS: 521 5.5.4 Syntax: BDAT count [LAST]\nE: TransactionReset\nE: Closed ProtocolViolation\n"
            );
        Row::transcript("RFC 3030 unparsable BDAT size: 521 and close", 1, script)
    })
    .collect()
}

/// BDAT rows on the wire.
fn bdat(target: Target) {
    let rows = rows(&[
        cve_2020_28023_exim_oobrd_error_paths_first,
        cve_2020_28019_exim_bdata_state_after_bdat_error,
        cve_2020_28024_exim_bdat_pipelining_boundaries,
        cve_2017_16944_exim_bdat_lonely_dot,
        postfix_2026_bdat_last_error_resets_transaction,
        rfc_3030_out_of_sequence_bdat_skips_its_octets,
        rfc_3030_null_bdat_refused,
        rfc_3030_chunk_over_the_size_cap,
        rfc_3030_unparsable_bdat_size_closes,
    ]);
    run_rows(target, &rows);
}

// ---- AUTH --------------------------------------------------------------------------------

/// Exim CVE-2018-6789 (DEVCORE) and commit 889d293b: a strict RFC 4648 decoder for AUTH.
/// Length not a multiple of 4, misplaced padding ⇒ `501 5.5.2`; `=` is the empty initial
/// response (RFC 4954 §4), an invalid PLAIN message ⇒ `535 5.7.8`; on a continuation
/// line (LOGIN, whose challenge is not empty: the harness trims the trailing space of the
/// empty `334 ` PLAIN challenge from script lines) bad base64 and 8-bit octets ⇒ `501 5.5.2`.
fn cve_2018_6789_exim_auth_base64() -> Vec<Row> {
    let script = greeted_tls()
        + r"
C: AUTH PLAIN AAA\r\n
S: 501 5.5.2 Error: cannot decode response
C: AUTH PLAIN QQ=A\r\n
S: 501 5.5.2 Error: cannot decode response
C: AUTH PLAIN AHVzZXIAcGFzcw=\r\n
S: 501 5.5.2 Error: cannot decode response
C: AUTH PLAIN =\r\n
S: 535 5.7.8 Error: authentication credentials invalid
C: AUTH LOGIN\r\n
S: 334 VXNlcm5hbWU6
C: QQ=A\r\n
S: 501 5.5.2 Error: cannot decode response
C: AUTH LOGIN\r\n
S: 334 VXNlcm5hbWU6
C: \xff\xff\xff\xff\r\n
S: 501 5.5.2 Error: cannot decode response
C: AUTH PLAIN AHVzZXIAcGFzcw==\r\n
E: Auth PLAIN user pass
S: 235 2.7.0 Authentication successful
" + QUIT;
    vec![Row::transcript("CVE-2018-6789 strict base64", 0, script).present("auth PLAIN true")]
}

/// Exim CVE-2018-6789 follow-up (commit 889d293b, `dec64table[]` read with octets > 127):
/// `AUTH PLAIN \xff\xff\xff\xff` ⇒ `501 5.5.2`, exactly as in the row (the initial response
/// is a base64 argument, like the continuation line tested above).
fn cve_2018_6789_exim_auth_base64_eight_bit_octets() -> Vec<Row> {
    let script = greeted_tls()
        + r"
C: AUTH PLAIN \xff\xff\xff\xff\r\n
S: 501 5.5.2 Error: cannot decode response
C: NOOP\r\n
S: 250 2.0.0 Ok
" + QUIT;
    vec![Row::transcript("CVE-2018-6789 8-bit octets in base64", 0, script).absent("auth")]
}

/// Exim CVE-2023-42114/42115/42116 (NTLM/SPA, EXTERNAL): mechanisms that are not
/// configured are never parsed: `504 5.5.4`.
fn cve_2023_42115_exim_unknown_mechanisms() -> Vec<Row> {
    let script = greeted_tls()
        + r"
C: AUTH EXTERNAL =\r\n
S: 504 5.5.4 Error: unrecognized authentication mechanism
C: AUTH NTLM TlRMTVNTUAABAAAA\r\n
S: 504 5.5.4 Error: unrecognized authentication mechanism
C: AUTH SPA\r\n
S: 504 5.5.4 Error: unrecognized authentication mechanism
" + QUIT;
    vec![Row::transcript("CVE-2023-42115 unknown mechanisms", 0, script).absent("auth")]
}

/// Postfix CVE-2011-1720: a fresh mechanism state per AUTH command, with the mechanisms of
/// both profiles: LOGIN cancelled with `*` ⇒ `501`; a PLAIN the application refuses
/// (wrong password) ⇒ `535`; then PLAIN succeeds with no state left from the earlier
/// exchanges, and a second AUTH ⇒ `503`. (With a raw mechanism's challenge:
/// `cve_2011_1720_postfix_auth_state_reset`.)
fn cve_2011_1720_postfix_fresh_state_per_auth() -> Vec<Row> {
    let script = greeted_tls()
        + r"
C: AUTH LOGIN\r\n
S: 334 VXNlcm5hbWU6
C: *\r\n
S: 501 5.7.0 Error: authentication aborted
A: 535 5.7.8 Error: authentication credentials invalid
C: AUTH PLAIN AHVzZXIAd3Jvbmc=\r\n
E: Auth PLAIN user wrong
S: 535 5.7.8 Error: authentication credentials invalid
C: AUTH PLAIN AHVzZXIAcGFzcw==\r\n
E: Auth PLAIN user pass
S: 235 2.7.0 Authentication successful
C: AUTH PLAIN AHVzZXIAcGFzcw==\r\n
S: 503 5.5.1 Error: already authenticated
" + QUIT;
    vec![
        Row::transcript("CVE-2011-1720 a fresh mechanism state per AUTH", 0, script)
            .present("auth PLAIN false")
            .present("auth PLAIN true"),
    ]
}

/// RFC 4954 §4: an AUTH exchange line may hold 12288 octets of base64; one octet more ⇒
/// `500 5.5.6`, and the session goes on.
fn rfc_4954_auth_exchange_line_length() -> Vec<Row> {
    let script = greeted_tls()
        + r"
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
" + QUIT;
    vec![
        Row::transcript(
            "RFC 4954 AUTH exchange lines: 12288 octets, then 500 5.5.6",
            0,
            script,
        )
        .absent("auth"),
    ]
}

/// TLS-14 (RFC 4954 §4, RFC 3207): AUTH before TLS ⇒ `538 5.7.11`.
fn tls_14_auth_before_tls() -> Vec<Row> {
    let script = greeted()
        + r"
C: AUTH PLAIN AHVzZXIAcGFzcw==\r\n
S: 538 5.7.11 Encryption required for requested authentication mechanism: AUTH is offered only after TLS, send STARTTLS first
" + QUIT;
    vec![Row::transcript("TLS-14 AUTH before TLS", 0, script).absent("auth")]
}

/// AUTH rows on the wire.
fn auth(target: Target) {
    let rows = rows(&[
        cve_2018_6789_exim_auth_base64,
        cve_2018_6789_exim_auth_base64_eight_bit_octets,
        cve_2023_42115_exim_unknown_mechanisms,
        cve_2011_1720_postfix_fresh_state_per_auth,
        rfc_4954_auth_exchange_line_length,
        tls_14_auth_before_tls,
    ]);
    run_rows(target, &rows);
}

// ---- Session policy ------------------------------------------------------------------------

/// Postfix `smtpd_forbidden_commands` (§3 policy): HTTP verbs and `Label:` lines ⇒
/// `221 2.7.0 Error: I can break rules, too. Goodbye.` and close, also after EHLO; what
/// follows in the same read is never run.
fn postfix_forbidden_commands_close_the_session() -> Vec<Row> {
    let mut rows: Vec<Row> = [
        r"GET / HTTP/1.0\r\n",
        r"POST /x HTTP/1.1\r\n",
        r"CONNECT mx.example:25 HTTP/1.1\r\n",
        r"Subject: hello\r\n",
        r"GET / HTTP/1.1\r\nHost: mx.example\r\n\r\n",
    ]
    .into_iter()
    .map(|line| {
        let script = format!(
            "S: 220 mx.example ESMTP\nC: {line}\nS: 221 2.7.0 Error: I can break rules, too. Goodbye.\nE: Closed ProtocolViolation\n"
        );
        Row::transcript("forbidden command closes", 0, script)
    })
    .collect();
    let after_ehlo = greeted()
        + r"
C: POST / HTTP/1.1\r\n
S: 221 2.7.0 Error: I can break rules, too. Goodbye.
E: Closed ProtocolViolation
";
    rows.push(Row::transcript(
        "forbidden command after EHLO closes",
        0,
        after_ehlo,
    ));
    rows
}

/// Postfix `smtpd_hard_error_limit` (20, §3 policy): the 20th client error is answered and
/// followed by `421 4.7.0 <host> Error: too many errors` and close; unknown verbs before
/// that do not close the session (R-421-1).
fn postfix_hard_error_limit() -> Vec<Row> {
    let mut script = "S: 220 mx.example ESMTP\n".to_owned();
    for _ in 0..19 {
        script += "C: XYZZY\\r\\n\nS: 500 5.5.2 Error: command not recognized\n";
    }
    script += r"
C: NOOP\r\n
S: 250 2.0.0 Ok
C: XYZZY\r\n
S: 500 5.5.2 Error: command not recognized
S: 421 4.7.0 mx.example Error: too many errors
E: Closed TooManyErrors
";
    vec![Row::transcript("hard error limit: 20", 0, script)]
}

/// Session policy rows on the wire.
fn policy(target: Target) {
    let rows = rows(&[
        postfix_forbidden_commands_close_the_session,
        postfix_hard_error_limit,
    ]);
    run_rows(target, &rows);
}

// ---- Huge DATA -------------------------------------------------------------------------------

/// qmail CVE-2005-1513 (Qualys 2020): counters past 4 GiB overflowed 32-bit integers.
/// Scaled: 16 MiB of content (lines of 1000 octets) against either size cap: no reply
/// before the end of data (silence after the content), then one `552 5.3.4`, nothing
/// stored. Exact in memory: one read of 16 MiB, of which 10000 octets stream.
fn cve_2005_1513_qmail_huge_data() -> Vec<Row> {
    let line = format!("{}\r\n", "a".repeat(998));
    let streamed: String = line.repeat(11);
    let script = in_data()
        + &format!(
            "C: {{{}\\r\\n*16777}}\nE: Content \"{}\"\n",
            "a".repeat(998),
            escape(&streamed.as_bytes()[..10_000])
        )
        + r"
C: .\r\n
S: 552 5.3.4 Error: message size exceeds fixed limit
E: MessageAborted TooBig
" + QUIT;
    vec![
        Row::transcript("CVE-2005-1513 16 MiB of DATA", 1, script)
            .present("aborted TooBig")
            .exact(),
    ]
}

/// qmail CVE-2005-1513 on the wire: the row, and blackhole's resident memory grows by
/// less than 8 MiB (the content is streamed, never held).
fn huge_data_is_bounded(target: Target) {
    let server = WireServer::start(target, &Setup::new());
    let before = server.blackhole().map(|b| vm_rss_kib(b.pid()));
    for row in cve_2005_1513_qmail_huge_data() {
        if let Err(e) = row.check(&server) {
            panic!("{target:?}: {}: {e}", row.id);
        }
    }
    if let (Some(before), Some(b)) = (before, server.blackhole()) {
        let after = vm_rss_kib(b.pid());
        eprintln!("blackhole VmRSS {before} KiB before, {after} KiB after 16 MiB of DATA");
        assert!(
            after < before + 8 * 1024,
            "VmRSS grew from {before} KiB to {after} KiB"
        );
    }
}

/// Every row, in memory.
mod in_memory {
    smtp_proto_tests::in_memory!(
        cve_2020_7247_opensmtpd_invalid_local_part_fails_closed,
        cve_2019_10149_exim_expansion_syntax_is_just_atext,
        cve_2020_28021_exim_xtext_newline_in_mail_auth,
        cve_2020_28026_exim_orcpt_newline,
        cve_2020_28022_exim_exopt_malformed_parameters,
        cve_2020_28022_exim_exopt_trailing_spaces,
        r_8bit_1_controls_and_non_utf8_in_the_envelope,
        postfix_2026_utf8_address_keeps_state_consistent,
        cve_2020_28017_exim_rcptl_default_cap,
        cve_2020_28020_exim_hsize_endless_folded_header,
        cve_2019_16928_exim_long_ehlo,
        long_command_line_tail_is_never_a_command,
        long_command_line_limit_is_512_octets,
        long_text_line_is_flagged_not_split,
        cve_2020_28023_exim_oobrd_error_paths_first,
        cve_2020_28019_exim_bdata_state_after_bdat_error,
        cve_2020_28024_exim_bdat_pipelining_boundaries,
        cve_2017_16944_exim_bdat_lonely_dot,
        postfix_2026_bdat_last_error_resets_transaction,
        rfc_3030_out_of_sequence_bdat_skips_its_octets,
        rfc_3030_null_bdat_refused,
        rfc_3030_chunk_over_the_size_cap,
        rfc_3030_unparsable_bdat_size_closes,
        cve_2018_6789_exim_auth_base64,
        cve_2018_6789_exim_auth_base64_eight_bit_octets,
        cve_2023_42115_exim_unknown_mechanisms,
        cve_2011_1720_postfix_fresh_state_per_auth,
        rfc_4954_auth_exchange_line_length,
        tls_14_auth_before_tls,
        postfix_forbidden_commands_close_the_session,
        postfix_hard_error_limit,
        cve_2005_1513_qmail_huge_data,
    );
}

on_targets!(
    [Blackhole, Tokio, Blocking]:
    parsing, limits, bdat, auth, policy, huge_data_is_bounded
);

// ---- Memory only -------------------------------------------------------------------------

/// Postfix 2026-07 fix, the application's side: a BDAT LAST the application refuses ends
/// the transaction too (`DATA` ⇒ `503 5.5.1`). Memory only: the targets' handlers never
/// refuse a chunk.
#[test]
fn postfix_2026_bdat_last_refused() {
    let script = in_transaction()
        + r"
A: 554 5.7.1 Error: no thanks
C: BDAT 5 LAST\r\nhello
E: DataStart chunked
S: 554 5.7.1 Error: no thanks
E: TransactionReset
C: DATA\r\n
S: 503 5.5.1 Error: need MAIL command
" + QUIT;
    transcript(config(), &script);
}

/// Exim CVE-2020-28017 "RCPTL" (21Nails): a hard recipient cap with `452 4.5.3` (RFC 5321
/// §4.5.3.1.10). Scaled from 10^6 to 2000 pipelined RCPTs with `max_recipients = 100` (the
/// RFC minimum, §4.5.3.1.8): the first 100 get `250`, the other 1900 `452 4.5.3`, the
/// accepted ones stay accepted (the message has 100 recipients), and the 452s are not
/// client errors, so the session is not closed by the error limit.
#[test]
fn cve_2020_28017_exim_rcptl_recipient_cap() {
    let mut c = config();
    c.limits.max_recipients = 100;
    let mut script = greeted()
        + r"
C: MAIL FROM:<a@x.example>\r\n
E: Mail <a@x.example>
S: 250 2.1.0 Ok
C: {RCPT TO:<b@y.example>\r\n*2000}
";
    for _ in 0..100 {
        script += "E: Rcpt <b@y.example>\nS: 250 2.1.5 Ok\n";
    }
    for _ in 100..2000 {
        script += "S: 452 4.5.3 Error: too many recipients\n";
    }
    script += r#"
C: DATA\r\n
E: DataStart
S: 354 End data with <CR><LF>.<CR><LF>
C: x\r\n.\r\n
E: Content "x\r\n"
E: MessageComplete size=3
S: 250 2.0.0 Ok: queued
"#;
    script += QUIT;
    let run = transcript(c, &script);
    assert_eq!(run.messages.len(), 1);
    assert_eq!(run.messages[0].1.recipients, 100);
}

/// Exim CVE-2020-28020 "HSIZE" (21Nails): an endless folded header (`X: a` + `\r\n a`
/// continuations) is just content; the size cap is checked with saturating sums and
/// answered `552 5.3.4` only after the end of data (RFC 1870 §6.3). Scaled from 100 MB to
/// 1.2 KB against `max_message_size = 1000`: exactly the first 1000 octets stream.
#[test]
fn cve_2020_28020_exim_hsize_folded_header_over_size_limit() {
    let mut c = config();
    c.limits.max_message_size = 1000;
    let mut content = b"X: a".to_vec();
    for _ in 0..300 {
        content.extend_from_slice(b"\r\n a");
    }
    content.extend_from_slice(b"\r\n\r\nbody\r\n");
    assert!(content.len() > 1000);
    let script = in_transaction().replace("SIZE 10000", "SIZE 1000")
        + r"
C: DATA\r\n
E: DataStart
S: 354 End data with <CR><LF>.<CR><LF>
" + &format!(
        "C: X: a{{\\r\\n a*300}}\\r\\n\\r\\nbody\\r\\n.\\r\\n\nE: Content \"{}\"\n",
        escape(&content[..1000])
    ) + r"
S: 552 5.3.4 Error: message size exceeds fixed limit
E: MessageAborted TooBig
C: RCPT TO:<b@y.example>\r\n
S: 503 5.5.1 Error: need MAIL command
" + QUIT;
    let run = transcript(c, &script);
    assert!(run.messages.is_empty());
}

/// Postfix CVE-2011-1720: a fresh mechanism state per AUTH command. A raw mechanism
/// (XTEST) cancelled with `*` ⇒ `501`; LOGIN cancelled ⇒ `501`; a failed PLAIN ⇒ `535`;
/// then PLAIN succeeds with no state left from the earlier exchanges.
#[test]
fn cve_2011_1720_postfix_auth_state_reset() {
    let script = greeted_tls()
        + r"
A: challenge nonce
C: AUTH XTEST\r\n
E: Auth XTEST none
S: 334 bm9uY2U=
C: *\r\n
S: 501 5.7.0 Error: authentication aborted
C: AUTH LOGIN\r\n
S: 334 VXNlcm5hbWU6
C: *\r\n
S: 501 5.7.0 Error: authentication aborted
A: 535 5.7.8 Error: authentication credentials invalid
C: AUTH PLAIN AHVzZXIAd3Jvbmc=\r\n
E: Auth PLAIN user wrong
S: 535 5.7.8 Error: authentication credentials invalid
C: AUTH PLAIN AHVzZXIAcGFzcw==\r\n
E: Auth PLAIN user pass
S: 235 2.7.0 Authentication successful
C: AUTH PLAIN AHVzZXIAcGFzcw==\r\n
S: 503 5.5.1 Error: already authenticated
" + QUIT;
    transcript(config(), &script);
}

/// qmail CVE-2005-1513 (Qualys 2020): counters past 4 GiB overflowed 32-bit integers.
/// Scaled: 16 MiB of content in 64 KiB reads against `max_message_size = 10000`: no reply
/// before the end of data, then one `552 5.3.4`; exactly 10000 octets were streamed and the
/// input buffer never grows beyond one read.
#[test]
fn cve_2005_1513_qmail_huge_data_is_bounded() {
    let now = t0();
    let mut server = config().server(now);
    let mut out = Vec::new();
    let mut streamed = 0usize;
    let mut aborted = None;
    let mut drain = |server: &mut Server, streamed: &mut usize| {
        while let Some(event) = server.poll_event() {
            match event {
                Event::Hello { pending, .. }
                | Event::Mail { pending, .. }
                | Event::Rcpt { pending, .. }
                | Event::DataStart { pending, .. }
                | Event::MessageComplete { pending, .. } => {
                    server.accept(now, pending).expect("pending");
                }
                Event::DataChunk(bytes) => *streamed += bytes.len(),
                Event::MessageAborted { reason } => aborted = Some(reason),
                _ => {}
            }
        }
    };
    let _ = server.poll_transmit(&mut out);
    for line in [
        &b"EHLO c.example\r\n"[..],
        b"MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\n",
        b"DATA\r\n",
    ] {
        server.handle_input(now, line).expect("input");
        drain(&mut server, &mut streamed);
    }
    let _ = server.poll_transmit(&mut out);
    assert!(out.ends_with(b"354 End data with <CR><LF>.<CR><LF>\r\n"));
    out.clear();
    let mut read = vec![b'a'; 65536];
    for i in (998..read.len()).step_by(1000) {
        read[i] = b'\r';
        read[i + 1] = b'\n';
    }
    for _ in 0..256 {
        server.handle_input(now, &read).expect("input");
        assert!(server.buffered_input() <= read.len());
        drain(&mut server, &mut streamed);
        assert_eq!(server.poll_transmit(&mut out), 0, "no reply mid-DATA");
    }
    server.handle_input(now, b"\r\n.\r\n").expect("input");
    drain(&mut server, &mut streamed);
    let _ = server.poll_transmit(&mut out);
    assert_eq!(
        String::from_utf8_lossy(&out),
        "552 5.3.4 Error: message size exceeds fixed limit\r\n"
    );
    assert_eq!(aborted, Some(AbortReason::TooBig));
    assert_eq!(streamed, 10_000);
    assert_eq!(server.buffered_input(), 0);
}
