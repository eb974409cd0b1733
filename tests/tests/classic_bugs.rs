//! Classic SMTP server bugs (manual::classic_bugs): one transcript per row whose effect the
//! protocol core can show — address and parameter parsing, limits, error-path states,
//! BDAT, AUTH, long lines — plus Postfix's forbidden-command and error-limit policy.
//!
//! Not here: CVE-2020-28018 "OCORK" and CVE-2019-15846 (TLS adapter), CVE-2020-28025
//! "BHASH" (DKIM, out of scope), CVE-2020-28024 and Exim CVE-2023-42114..42116 beyond their
//! transcript-visible part (fuzz targets).

use smtp_proto::{AbortReason, Event, Server};
use smtp_proto_tests::transcript::{
    EHLO_REPLY_TLS, QUIT, QUIT_IN_TRANSACTION, config, escape, greeted, in_transaction, t0,
    transcript,
};

/// [G] under TLS (AUTH needs TLS in `transcript::config()`).
fn greeted_tls() -> String {
    greeted()
        + &format!(
            "C: STARTTLS\\r\\n\nS: 220 2.0.0 Ready to start TLS\nE: StartTls discarded=0\nTLS\n\
             C: EHLO c.example\\r\\n\nE: Hello EHLO c.example{EHLO_REPLY_TLS}"
        )
}

/// OpenSMTPD CVE-2020-7247 (Qualys 2020): address validation is total and fail-closed; an
/// Bad local part syntax is never "fixed up" with a default domain. `<;sleep 66;>` ⇒
/// `501 5.1.7`, `<;id;@x>` ⇒ `501 5.1.3`, and `<>` still works (RFC 5321 §4.1.1.2).
#[test]
fn cve_2020_7247_opensmtpd_invalid_local_part_fails_closed() {
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
    transcript(config(), &script);
}

/// Exim CVE-2019-10149 "Return of the WIZard": `${run{…}}` in a local part is judged by
/// syntax only (`$`, `{`, `}` are atext, RFC 5321 §4.1.2) and reaches the application
/// verbatim, as typed data with no special meaning.
#[test]
fn cve_2019_10149_exim_expansion_syntax_is_just_atext() {
    let script = in_transaction()
        + r"
C: RCPT TO:<${run{x}}@localhost>\r\n
E: Rcpt <${run{x}}@localhost>
S: 250 2.1.5 Ok
" + QUIT_IN_TRANSACTION;
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

/// Exim CVE-2020-28023 "OOBRD" (21Nails): error paths are states too, tested as the very
/// first commands. DATA and BDAT before any MAIL ⇒ `503 5.5.1`; BDAT's octets are consumed
/// even so (RFC 3030 §2), so the `QUIT` inside the chunk is not run.
#[test]
fn cve_2020_28023_exim_oobrd_error_paths_first() {
    // Before EHLO.
    let script = r"
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
    transcript(config(), &script);
    // [G], as in the row.
    let script = greeted()
        + r"
C: DATA\r\n
S: 503 5.5.1 Error: need MAIL command
C: BDAT 1 LAST\r\nx
S: 503 5.5.1 Error: need MAIL command
C: NOOP\r\n
S: 250 2.0.0 Ok
" + QUIT;
    transcript(config(), &script);
}

/// Exim CVE-2020-28021 (21Nails): `AUTH=` on MAIL is xtext; a decoded LF (`+0A`) would
/// inject a spool line, so decoded controls are refused: `501 5.5.4`. Under TLS, where AUTH
/// is advertised (before it, `AUTH=` is an unsupported parameter, `555`).
#[test]
fn cve_2020_28021_exim_xtext_newline_in_mail_auth() {
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
    transcript(config(), &script);
}

/// Exim CVE-2020-28026 "FGETS" (21Nails): `ORCPT=` (RFC 3461 §4.2) with a decoded CR LF ⇒
/// `501 5.5.4`; so is an ENVID over 100 octets (RFC 3461 §4.4), and a valid ORCPT passes.
#[test]
fn cve_2020_28026_exim_orcpt_newline() {
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
    transcript(config(), &script);
}

/// Exim CVE-2020-28022 "EXOPT" (21Nails): malformed `name=value` parameters are answered
/// `501`/`555`, never a crash. The count is bounded: 16 unknown `X=1` ⇒ `555 5.5.4`, 17 ⇒
/// `501 5.5.4 Too many parameters`; 1000 of them make a line over the MAIL line limit ⇒
/// `500 5.5.2` (the line cap comes first, R-LINE-2). A run of spaces between path and
/// parameters, or after the last one, is a syntax error (RFC 5321 §4.1.2: exactly one SP).
#[test]
fn cve_2020_28022_exim_exopt_malformed_parameters() {
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
    transcript(config(), &script);
}

/// Exim CVE-2020-28022 "EXOPT", trailing spaces after the parameters: not in RFC 5321's
/// `Mail-parameters = esmtp-param *(SP esmtp-param)`, so the row asks for `501`/`555` (the
/// text is the tokenizer's own syntax-error text).
#[test]
fn cve_2020_28022_exim_exopt_trailing_spaces() {
    let script = greeted()
        + r"
C: MAIL FROM:<a@x> SIZE=1   \r\n
S: 501 5.5.4 Syntax error in parameters
" + QUIT;
    transcript(config(), &script);
}

/// Exim CVE-2020-28019 "BDATA" (21Nails): every BDAT error has an explicit next state; a
/// refused BDAT (no RCPT yet) leaves the server in command mode with its octets skipped,
/// and DATA, MAIL, BDAT and RCPT afterwards are all answered consistently. A refused
/// `BDAT … LAST` ends the transaction like any BDAT LAST (the Postfix 2026-07 row).
#[test]
fn cve_2020_28019_exim_bdata_state_after_bdat_error() {
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
    transcript(config(), &script);
}

/// Exim CVE-2020-28024 (21Nails, unget at a buffer start): the transcript-visible part of
/// the fuzz target. Chunks and commands pipelined in one read, cut at every byte and at
/// random points by the harness, give the same replies; `BDAT` inside a chunk is data.
#[test]
fn cve_2020_28024_exim_bdat_pipelining_boundaries() {
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
    let run = transcript(config(), &script);
    assert_eq!(run.messages[0].0, b"helloBDAT 1\r\n.\r\n");
}

/// Exim CVE-2018-6789 (DEVCORE) and commit 889d293b: a strict RFC 4648 decoder for AUTH.
/// Length not a multiple of 4, misplaced padding ⇒ `501 5.5.2`; `=` is the empty initial
/// response (RFC 4954 §4), an invalid PLAIN message ⇒ `535 5.7.8`; on a continuation
/// line (LOGIN, whose challenge is not empty: the harness trims the trailing space of the
/// empty `334 ` PLAIN challenge from script lines) bad base64 and 8-bit octets ⇒ `501 5.5.2`.
#[test]
fn cve_2018_6789_exim_auth_base64() {
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
    transcript(config(), &script);
}

/// Exim CVE-2018-6789 follow-up (commit 889d293b, `dec64table[]` read with octets > 127):
/// `AUTH PLAIN \xff\xff\xff\xff` ⇒ `501 5.5.2`, exactly as in the row (the initial response
/// is a base64 argument, like the continuation line tested above).
#[test]
fn cve_2018_6789_exim_auth_base64_eight_bit_octets() {
    let script = greeted_tls()
        + r"
C: AUTH PLAIN \xff\xff\xff\xff\r\n
S: 501 5.5.2 Error: cannot decode response
C: NOOP\r\n
S: 250 2.0.0 Ok
" + QUIT;
    transcript(config(), &script);
}

/// Exim CVE-2017-16943/16944: BDAT never runs dot logic (fix: dot handling only when
/// `dot_ends`). `BDAT 1\r\n.` ‖ `BDAT 0 LAST\r\n` ⇒ `250`, `250`, content `.`.
#[test]
fn cve_2017_16944_exim_bdat_lonely_dot() {
    let script = in_transaction()
        + r#"
C: BDAT 1\r\n.‖BDAT 0 LAST\r\n
E: DataStart chunked
E: Content "."
S: 250 2.0.0 1 octets received
E: MessageComplete size=1
S: 250 2.0.0 Ok: queued
"# + QUIT;
    let run = transcript(config(), &script);
    assert_eq!(run.messages[0].0, b".");
}

/// Exim CVE-2019-16928 (`string_vformat()` overflow with a long EHLO): the command-line cap
/// (512, RFC 5321 §4.5.3.1.4) is enforced before anything else: `EHLO ` + 100 KB ⇒ one
/// `500 5.5.2`, the tail is discarded (never a command), and the session goes on.
#[test]
fn cve_2019_16928_exim_long_ehlo() {
    let script = r"
S: 220 mx.example ESMTP
C: EHLO {a*102400}\r\n
S: 500 5.5.2 Error: line too long
C: NOOP\r\n
S: 250 2.0.0 Ok
"
    .to_owned()
        + QUIT;
    transcript(config(), &script);
    // A tail that looks like a command is discarded with the line.
    let script = r"
S: 220 mx.example ESMTP
C: EHLO {a*102400}QUIT\r\n
S: 500 5.5.2 Error: line too long
C: NOOP\r\n
S: 250 2.0.0 Ok
"
    .to_owned()
        + QUIT;
    transcript(config(), &script);
}

/// Exim CVE-2023-42114/42115/42116 (NTLM/SPA, EXTERNAL): mechanisms that are not
/// configured are never parsed: `504 5.5.4`.
#[test]
fn cve_2023_42115_exim_unknown_mechanisms() {
    let script = greeted_tls()
        + r"
C: AUTH EXTERNAL =\r\n
S: 504 5.5.4 Error: unrecognized authentication mechanism
C: AUTH NTLM TlRMTVNTUAABAAAA\r\n
S: 504 5.5.4 Error: unrecognized authentication mechanism
C: AUTH SPA\r\n
S: 504 5.5.4 Error: unrecognized authentication mechanism
" + QUIT;
    transcript(config(), &script);
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

/// Postfix 2026 (HISTORY 20260812, Wonyoung Jung): a UTF-8 address without SMTPUTF8 must
/// not leave half a transaction. A refused UTF-8 RCPT (`553 5.6.7`, RFC 6531 §3.4) keeps
/// MAIL and the earlier RCPT; a VRFY with a UTF-8 argument changes nothing; DATA then works.
/// A refused UTF-8 MAIL opens nothing: RCPT and DATA ⇒ `503`.
#[test]
fn postfix_2026_utf8_address_keeps_state_consistent() {
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
    let run = transcript(config(), &script);
    assert_eq!(run.messages[0].1.recipients, 1);
}

/// Postfix 2026-07 fix ("also reset recipient state"): after BDAT LAST, success or error,
/// the transaction is over. A BDAT LAST refused by the application, or failing on a bare
/// LF (strict), is followed by `DATA` ⇒ `503 5.5.1`.
#[test]
fn postfix_2026_bdat_last_error_resets_transaction() {
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

/// aiosmtpd / Postfix long-line handling (RFC 5321 §4.5.3.1.4, §4.5.3.1.9 "500 Line too
/// long"): `NOOP ` + 600 `A` + `\r\nQUIT\r\n` ⇒ `500 5.5.2`, `221` — only two replies;
/// the tail of the long line is never a command.
#[test]
fn long_command_line_tail_is_never_a_command() {
    let script = r"
S: 220 mx.example ESMTP
C: NOOP {A*600}\r\nQUIT\r\n
S: 500 5.5.2 Error: line too long
S: 221 2.0.0 Bye
E: Closed Quit
";
    transcript(config(), script);
    // The tail looks like a command: still discarded with its line.
    let script = greeted()
        + r"
C: NOOP {A*600}RSET\r\nRCPT TO:<b@y>\r\n
S: 500 5.5.2 Error: line too long
S: 503 5.5.1 Error: need MAIL command
" + QUIT;
    transcript(config(), &script);
}

/// Long lines at the limit (R-LINE-2): a 512-octet NOOP line is fine, 513 octets get
/// `500 5.5.2`.
#[test]
fn long_command_line_limit_is_512_octets() {
    let script = r"
S: 220 mx.example ESMTP
C: NOOP {a*505}\r\n
S: 250 2.0.0 Ok
C: NOOP {a*506}\r\n
S: 500 5.5.2 Error: line too long
"
    .to_owned()
        + QUIT;
    transcript(config(), &script);
}

/// Long DATA lines (R-LINE-3, SMG-14): a 1000-octet text line is clean, a 1001-octet one is
/// accepted and flagged *(choice, `Limits::text_line`)*; neither is split into lines.
#[test]
fn long_text_line_is_flagged_not_split() {
    let script = in_transaction()
        + r"
C: DATA\r\n
E: DataStart
S: 354 End data with <CR><LF>.<CR><LF>
" + &format!(
        "C: {{a*998}}\\r\\n{{b*999}}\\r\\n.\\r\\n\nE: Content \"{}\\r\\n{}\\r\\n\"\n",
        "a".repeat(998),
        "b".repeat(999)
    ) + r"
E: MessageComplete size=2001 long_line
S: 250 2.0.0 Ok: queued
" + QUIT;
    transcript(config(), &script);
}

/// Postfix `smtpd_forbidden_commands` (§3 policy): HTTP verbs and `Label:` lines ⇒
/// `221 2.7.0 Error: I can break rules, too. Goodbye.` and close.
#[test]
fn postfix_forbidden_commands_close_the_session() {
    for line in [
        r"GET / HTTP/1.0\r\n",
        r"POST /x HTTP/1.1\r\n",
        r"CONNECT mx.example:25 HTTP/1.1\r\n",
        r"Subject: hello\r\n",
    ] {
        let script = format!(
            "S: 220 mx.example ESMTP\nC: {line}\nS: 221 2.7.0 Error: I can break rules, too. Goodbye.\nE: Closed ProtocolViolation\n"
        );
        transcript(config(), &script);
    }
}

/// Postfix `smtpd_hard_error_limit` (20, §3 policy): the 20th client error is answered and
/// followed by `421 4.7.0 <host> Error: too many errors` and close; unknown verbs before
/// that do not close the session (R-421-1).
#[test]
fn postfix_hard_error_limit() {
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
    transcript(config(), &script);
}
