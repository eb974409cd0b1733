//! Classic SMTP server bugs (manual::classic_bugs) over real sockets, against blackhole
//! (`--maildir`) and in-process servers of both adapters: address and parameter parsing,
//! recipient and size caps, error-path states, BDAT sizes and states, AUTH lines and
//! base64, over-long lines, NUL and controls, HTTP verbs, the error limit. The in-memory
//! transcripts of the same rows are in `classic_bugs.rs`, `rfc5321.rs` and
//! `extensions.rs`, beside this file.
//!
//! Not here: CVE-2020-28018 "OCORK" (write errors: `faults.rs`), CVE-2019-15846 and
//! CVE-2020-28025 (TLS internals, DKIM).
#![allow(clippy::unwrap_used)]

use smtp_proto_tests::servers::{
    MAX_MESSAGE, Row, Setup, Target, WireServer, run_rows, vm_rss_kib,
};
use smtp_proto_tests::{Script, on_targets};

/// `AUTH PLAIN` of `\0user\0pass`, the credentials every target accepts.
const GOOD_PLAIN: &str = "AUTH PLAIN AHVzZXIAcGFzcw==";

/// `unit` repeated `n` times.
fn rep(unit: &str, n: usize) -> String {
    unit.repeat(n)
}

/// [G] under TLS (AUTH is only offered after STARTTLS).
fn greeted_tls() -> Script {
    Script::new().greeted().starttls().ehlo()
}

/// Addresses, parameters and data that must stay data (OpenSMTPD CVE-2020-7247, Exim
/// CVE-2019-10149, 21Nails CVE-2020-28021/28022/28026, R-8BIT-1).
fn parsing(target: Target) {
    let mut params = Script::new().greeted();
    for (line, code, enhanced) in [
        ("MAIL FROM:<a@x.example> =".to_owned(), 501, "5.5.4"),
        ("MAIL FROM:<a@x.example> SIZE==1".to_owned(), 501, "5.5.4"),
        ("MAIL FROM:<a@x.example> SIZE=".to_owned(), 501, "5.5.4"),
        ("MAIL FROM:<a@x.example> SIZE".to_owned(), 501, "5.5.4"),
        (
            "MAIL FROM:<a@x.example> SIZE=1 SIZE=2".to_owned(),
            501,
            "5.5.4",
        ),
        (
            format!("MAIL FROM:<a@x.example>{}", rep(" X=1", 16)),
            555,
            "5.5.4",
        ),
        (
            format!("MAIL FROM:<a@x.example>{}", rep(" X=1", 17)),
            501,
            "5.5.4",
        ),
        (
            format!("MAIL FROM:<a@x.example>{}", rep(" X=1", 1000)),
            500,
            "5.5.2",
        ),
        ("MAIL FROM:<a@x.example>  SIZE=1".to_owned(), 501, "5.5.4"),
        ("MAIL FROM:<a@x.example> SIZE=1 ".to_owned(), 501, "5.5.4"),
        ("MAIL FROM:<a@x.example> SIZE=1   ".to_owned(), 501, "5.5.4"),
    ] {
        params = params.cmd(line, code, enhanced);
    }
    let rows = vec![
        Row::new(
            "CVE-2020-7247 invalid local part fails closed",
            1,
            Script::new()
                .greeted()
                .cmd("MAIL FROM:<;sleep 66;>", 501, "5.1.7")
                .cmd("MAIL FROM:<>", 250, "2.1.0")
                .cmd("RCPT TO:<;id;@x.example>", 501, "5.1.3")
                .cmd("RCPT TO:<;id;>", 501, "5.1.3")
                .cmd("DATA", 503, "5.5.1")
                .quit(),
        )
        .present("mail <>")
        .absent("rcpt"),
        Row::new(
            "CVE-2019-10149 expansion syntax is just atext",
            1,
            Script::new()
                .greeted()
                .cmd("MAIL FROM:<a@x.example>", 250, "2.1.0")
                .cmd("RCPT TO:<${run{x}}@localhost>", 250, "2.1.5")
                .cmd("DATA", 354, "")
                .send(b"x\r\n.\r\n")
                .reply(250, "2.0.0")
                .quit(),
        )
        .delivers(&[b"x\r\n"])
        .present("rcpt <${run{x}}@localhost>"),
        Row::new(
            "CVE-2020-28021 control characters in AUTH= xtext",
            1,
            // AUTH=, like AUTH, exists only where AUTH is offered: after STARTTLS.
            greeted_tls()
                .cmd("MAIL FROM:<a@x.example> AUTH=a+0Ab", 501, "5.5.4")
                .cmd("MAIL FROM:<a@x.example> AUTH=a+0Db", 501, "5.5.4")
                .cmd("MAIL FROM:<a@x.example> AUTH=a+00b", 501, "5.5.4")
                .cmd("MAIL FROM:<a@x.example> AUTH=<>", 250, "2.1.0")
                .quit(),
        ),
        Row::new(
            "CVE-2020-28026 ORCPT with CR LF, ENVID too long",
            1,
            Script::new()
                .greeted()
                .cmd(
                    format!("MAIL FROM:<a@x.example> ENVID={}", rep("e", 101)),
                    501,
                    "5.5.4",
                )
                .cmd("MAIL FROM:<a@x.example>", 250, "2.1.0")
                .cmd(
                    "RCPT TO:<b@y.example> ORCPT=rfc822;b+0D+0A@y.example",
                    501,
                    "5.5.4",
                )
                .cmd(
                    "RCPT TO:<b@y.example> ORCPT=rfc822;b@y.example",
                    250,
                    "2.1.5",
                )
                .quit(),
        ),
        Row::new(
            "CVE-2020-28022 malformed ESMTP parameters",
            0,
            params.quit(),
        ),
        Row::new(
            "R-8BIT-1 controls and non-UTF-8 in the envelope",
            1,
            Script::new()
                .greeted()
                .cmd(b"MAIL FROM:<b\x01b@x.example>", 501, "5.5.2")
                .cmd(b"MAIL FROM:<b\x7fb@x.example>", 501, "5.5.2")
                .cmd(b"MAIL FROM:<b\xffb@x.example>", 500, "5.5.2")
                .cmd(b"MAIL FROM:<b\x00b@x.example>", 501, "5.5.2")
                .cmd("MAIL FROM:<a@x.example>", 250, "2.1.0")
                .cmd(b"RCPT TO:<b\x00b@y.example>", 501, "5.5.2")
                .quit(),
        ),
        Row::new(
            "Postfix 2026 UTF-8 address without SMTPUTF8 keeps state consistent",
            1,
            Script::new()
                .in_transaction()
                .cmd("RCPT TO:<ü@y.example>", 553, "5.6.7")
                .cmd("VRFY ü@x.example", 252, "2.0.0")
                .cmd("DATA", 354, "")
                .send(b"x\r\n.\r\n")
                .reply(250, "2.0.0")
                .cmd("MAIL FROM:<ü@x.example>", 553, "5.6.7")
                .cmd("RCPT TO:<b@y.example>", 503, "5.5.1")
                .cmd("DATA", 503, "5.5.1")
                .quit(),
        )
        .delivers(&[b"x\r\n"]),
    ];
    run_rows(target, &rows);
}

/// Caps and over-long lines (21Nails CVE-2020-28017/28020, Exim CVE-2019-16928, R-LINE-2,
/// R-LINE-3, aiosmtpd/Postfix long-line handling).
fn limits(target: Target) {
    let mut rcpt_cap = Script::new()
        .greeted()
        .cmd("MAIL FROM:<a@x.example>", 250, "2.1.0")
        .send(rep("RCPT TO:<b@y.example>\r\n", 2000));
    for i in 0..2000 {
        rcpt_cap = if i < 1000 {
            rcpt_cap.reply(250, "2.1.5")
        } else {
            rcpt_cap.reply(452, "4.5.3")
        };
    }
    let rcpt_cap = rcpt_cap
        .cmd("DATA", 354, "")
        .send(b"x\r\n.\r\n")
        .reply(250, "2.0.0")
        .quit();
    let folded = format!("X: a{}\r\n\r\nbody\r\n.\r\n", rep("\r\n a", 20_000));
    let long_ehlo = format!("EHLO {}", rep("a", 102_400));
    let text_line = rep("t", 2000);
    let rows = vec![
        Row::new("CVE-2020-28017 2000 pipelined RCPTs, cap 1000", 1, rcpt_cap)
            .delivers(&[b"x\r\n"]),
        Row::new(
            "CVE-2020-28020 endless folded header over the size cap",
            1,
            Script::new()
                .in_data()
                .send(folded)
                .reply(552, "5.3.4")
                .cmd("RCPT TO:<b@y.example>", 503, "5.5.1")
                .quit(),
        )
        .present("aborted TooBig"),
        Row::new(
            "CVE-2019-16928 100 KB EHLO",
            0,
            Script::new()
                .greeting()
                .cmd(&long_ehlo, 500, "5.5.2")
                .cmd("NOOP", 250, "2.0.0")
                .cmd(format!("{long_ehlo}QUIT"), 500, "5.5.2")
                .cmd("NOOP", 250, "2.0.0")
                .quit(),
        )
        .absent("ehlo"),
        Row::new(
            "long command line: the tail is never a command",
            0,
            Script::new()
                .greeting()
                .send(format!("NOOP {}\r\nQUIT\r\n", rep("A", 600)))
                .reply(500, "5.5.2")
                .reply(221, "2.0.0")
                .closed(),
        ),
        Row::new(
            "long command line: a tail that looks like a command",
            0,
            Script::new()
                .greeted()
                .send(format!(
                    "NOOP {}RSET\r\nRCPT TO:<b@y.example>\r\n",
                    rep("A", 600)
                ))
                .reply(500, "5.5.2")
                .reply(503, "5.5.1")
                .quit(),
        ),
        Row::new(
            "R-LINE-2 512 octets is the limit",
            0,
            Script::new()
                .greeting()
                .cmd(format!("NOOP {}", rep("a", 505)), 250, "2.0.0")
                .cmd(format!("NOOP {}", rep("a", 506)), 500, "5.5.2")
                .quit(),
        ),
        Row::new(
            "R-LINE-3 a 2002-octet text line is flagged, not split",
            1,
            Script::new()
                .in_data()
                .send(format!("{text_line}\r\n.\r\n"))
                .reply(250, "2.0.0")
                .quit(),
        )
        .delivers(&[format!("{text_line}\r\n").as_bytes()]),
    ];
    run_rows(target, &rows);
}

/// BDAT states and sizes (21Nails CVE-2020-28019/28023/28024, Exim CVE-2017-16944,
/// Postfix 2026 BDAT reset, RFC 3030 §2).
fn bdat(target: Target) {
    let over = format!("BDAT {}\r\n{}", MAX_MESSAGE + 1, rep("x", 65537));
    let mut rows = vec![
        Row::new(
            "CVE-2020-28023 error paths as the very first commands",
            0,
            Script::new()
                .greeting()
                .cmd("DATA", 503, "5.5.1")
                .send(b"BDAT 6 LAST\r\nQUIT\r\n")
                .reply(503, "5.5.1")
                .cmd("NOOP", 250, "2.0.0")
                .ehlo()
                .cmd("DATA", 503, "5.5.1")
                .send(b"BDAT 1 LAST\r\nx")
                .reply(503, "5.5.1")
                .cmd("NOOP", 250, "2.0.0")
                .quit(),
        ),
        Row::new(
            "CVE-2020-28019 state after BDAT errors",
            2,
            Script::new()
                .greeted()
                .cmd("MAIL FROM:<a@x.example>", 250, "2.1.0")
                .send(b"BDAT 3\r\nabc")
                .reply(503, "5.5.1")
                .cmd("DATA", 503, "5.5.1")
                .cmd("MAIL FROM:<c@z.example>", 503, "5.5.1")
                .send(b"BDAT 2 LAST\r\nxy")
                .reply(503, "5.5.1")
                .cmd("DATA", 503, "5.5.1")
                .cmd("RCPT TO:<b@y.example>", 503, "5.5.1")
                .cmd("MAIL FROM:<c@z.example>", 250, "2.1.0")
                .cmd("RCPT TO:<b@y.example>", 250, "2.1.5")
                .send(b"BDAT 3 LAST\r\nabc")
                .reply(250, "2.0.0")
                .cmd("RCPT TO:<b@y.example>", 503, "5.5.1")
                .quit(),
        )
        .delivers(&[b"abc"]),
        Row::new(
            "CVE-2020-28024 chunks and commands in one write",
            1,
            Script::new()
                .in_transaction()
                .send(b"BDAT 5\r\nhelloBDAT 11 LAST\r\nBDAT 1\r\n.\r\nRSET\r\n")
                .reply(250, "2.0.0")
                .reply(250, "2.0.0")
                .reply(250, "2.0.0")
                .quit(),
        )
        .delivers(&[b"helloBDAT 1\r\n.\r\n"]),
        Row::new(
            "CVE-2017-16944 a lonely dot in BDAT is data",
            1,
            Script::new()
                .in_transaction()
                .send(b"BDAT 1\r\n.")
                .reply(250, "2.0.0")
                .send(b"BDAT 0 LAST\r\n")
                .reply(250, "2.0.0")
                .quit(),
        )
        .delivers(&[b"."]),
        Row::new(
            "Postfix 2026 BDAT LAST after an error resets the transaction",
            1,
            Script::new()
                .in_transaction()
                .send(b"BDAT 5 LAST\r\na\nbcd")
                .reply(550, "5.5.2")
                .cmd("DATA", 503, "5.5.1")
                .cmd("RCPT TO:<b@y.example>", 503, "5.5.1")
                .quit(),
        ),
        Row::new(
            "RFC 3030 out-of-sequence BDAT skips its octets",
            1,
            Script::new()
                .greeted()
                .send(b"BDAT 6 LAST\r\nQUIT\r\n")
                .reply(503, "5.5.1")
                .cmd("MAIL FROM:<a@x.example>", 250, "2.1.0")
                .send(b"BDAT 6\r\nQUIT\r\n")
                .reply(503, "5.5.1")
                .cmd("NOOP", 250, "2.0.0")
                .quit(),
        ),
        Row::new(
            "RFC 3030 null BDAT refused",
            1,
            Script::new()
                .in_transaction()
                .cmd("BDAT 0", 504, "5.5.4")
                .send(b"BDAT 2 LAST\r\nok")
                .reply(250, "2.0.0")
                .quit(),
        )
        .delivers(&[b"ok"]),
        Row::new(
            "RFC 3030 a chunk over the size cap is read, refused, and so is the rest",
            1,
            Script::new()
                .in_transaction()
                .send(over)
                .reply(552, "5.3.4")
                .send(b"BDAT 5\r\nQUIT\r")
                .reply(552, "5.3.4")
                .send(b"BDAT 2 LAST\r\nxy")
                .reply(552, "5.3.4")
                .cmd("DATA", 503, "5.5.1")
                .quit(),
        )
        .present("aborted TooBig"),
    ];
    for bad in [
        "BDAT x",
        "BDAT 1 FOO",
        "BDAT",
        "BDAT -1",
        "BDAT 18446744073709551616",
        "BDAT 123456789012345678901 LAST",
    ] {
        rows.push(Row::new(
            "RFC 3030 unparsable BDAT size: 521 and close",
            1,
            Script::new()
                .in_transaction()
                .cmd(bad, 521, "5.5.4")
                .closed(),
        ));
    }
    run_rows(target, &rows);
}

/// AUTH: strict base64 (Exim CVE-2018-6789), unknown mechanisms (CVE-2023-42115), fresh
/// state per AUTH (Postfix CVE-2011-1720), exchange line length (RFC 4954 §4).
fn auth(target: Target) {
    let rows = vec![
        Row::new(
            "CVE-2018-6789 strict base64",
            0,
            greeted_tls()
                .cmd("AUTH PLAIN AAA", 501, "5.5.2")
                .cmd("AUTH PLAIN QQ=A", 501, "5.5.2")
                .cmd("AUTH PLAIN AHVzZXIAcGFzcw=", 501, "5.5.2")
                .cmd("AUTH PLAIN =", 535, "5.7.8")
                .cmd("AUTH LOGIN", 334, "VXNlcm5hbWU6")
                .cmd("QQ=A", 501, "5.5.2")
                .cmd("AUTH LOGIN", 334, "VXNlcm5hbWU6")
                .cmd(b"\xff\xff\xff\xff", 501, "5.5.2")
                .cmd(b"AUTH PLAIN \xff\xff\xff\xff", 501, "5.5.2")
                .cmd(GOOD_PLAIN, 235, "2.7.0")
                .quit(),
        )
        .present("auth PLAIN true"),
        Row::new(
            "CVE-2023-42115 unknown mechanisms",
            0,
            greeted_tls()
                .cmd("AUTH EXTERNAL =", 504, "5.5.4")
                .cmd("AUTH NTLM TlRMTVNTUAABAAAA", 504, "5.5.4")
                .cmd("AUTH SPA", 504, "5.5.4")
                .quit(),
        )
        .absent("auth"),
        Row::new(
            "CVE-2011-1720 a fresh mechanism state per AUTH",
            0,
            greeted_tls()
                .cmd("AUTH LOGIN", 334, "VXNlcm5hbWU6")
                .cmd("*", 501, "5.7.0")
                .cmd("AUTH PLAIN AHVzZXIAd3Jvbmc=", 535, "5.7.8")
                .cmd(GOOD_PLAIN, 235, "2.7.0")
                .cmd(GOOD_PLAIN, 503, "5.5.1")
                .quit(),
        )
        .present("auth PLAIN false")
        .present("auth PLAIN true"),
        Row::new(
            "RFC 4954 AUTH exchange lines: 12288 octets, then 500 5.5.6",
            0,
            greeted_tls()
                .cmd("AUTH PLAIN", 334, "")
                .cmd(format!("{}QU", rep("QUFB", 3071)), 501, "5.5.2")
                .cmd("AUTH PLAIN", 334, "")
                .cmd(format!("{}QUF", rep("QUFB", 3071)), 500, "5.5.6")
                .cmd("AUTH PLAIN", 334, "")
                .cmd(rep("QUFB", 3072), 500, "5.5.6")
                .cmd("NOOP", 250, "2.0.0")
                .quit(),
        )
        .absent("auth"),
        Row::new(
            "TLS-14 AUTH before TLS",
            0,
            Script::new()
                .greeted()
                .cmd(GOOD_PLAIN, 538, "5.7.11")
                .quit(),
        )
        .absent("auth"),
    ];
    run_rows(target, &rows);
}

/// Postfix's session policy: HTTP verbs and header lines close the session
/// (`smtpd_forbidden_commands`); 20 errors close it (`smtpd_hard_error_limit`).
fn policy(target: Target) {
    let mut rows: Vec<Row> = [
        "GET / HTTP/1.0\r\n",
        "POST /x HTTP/1.1\r\n",
        "CONNECT mx.example:25 HTTP/1.1\r\n",
        "Subject: hello\r\n",
        "GET / HTTP/1.1\r\nHost: mx.example\r\n\r\n",
    ]
    .iter()
    .map(|line| {
        Row::new(
            "forbidden command closes",
            0,
            Script::new()
                .greeting()
                .send(line)
                .reply(221, "2.7.0")
                .closed(),
        )
    })
    .collect();
    rows.push(Row::new(
        "forbidden command after EHLO closes",
        0,
        Script::new()
            .greeted()
            .send(b"POST / HTTP/1.1\r\n")
            .reply(221, "2.7.0")
            .closed(),
    ));
    let mut errors = Script::new().greeting();
    for _ in 0..19 {
        errors = errors.cmd("XYZZY", 500, "5.5.2");
    }
    let errors = errors
        .cmd("NOOP", 250, "2.0.0")
        .cmd("XYZZY", 500, "5.5.2")
        .reply(421, "4.7.0")
        .closed();
    rows.push(Row::new("hard error limit: 20", 0, errors));
    run_rows(target, &rows);
}

/// qmail CVE-2005-1513: 16 MiB of content against a 64 KiB cap: no reply before the end
/// of data, then one `552 5.3.4`, nothing stored; blackhole's resident memory grows by
/// less than 8 MiB (the content is streamed, never held).
fn huge_data_is_bounded(target: Target) {
    let server = WireServer::start(target, &Setup::new());
    let mut line = vec![b'a'; 998];
    line.extend_from_slice(b"\r\n");
    let content = line.repeat(16 * 1024 * 1024 / line.len());
    let script = Script::new()
        .in_data()
        .send(&content)
        .quiet()
        .send(b".\r\n")
        .reply(552, "5.3.4")
        .quit();
    let before = server.blackhole().map(|b| vm_rss_kib(b.pid()));
    if let Err(e) = script.run(server.addr) {
        panic!("{target:?}: {e}");
    }
    if let (Some(before), Some(b)) = (before, server.blackhole()) {
        let after = vm_rss_kib(b.pid());
        eprintln!("blackhole VmRSS {before} KiB before, {after} KiB after 16 MiB of DATA");
        assert!(
            after < before + 8 * 1024,
            "VmRSS grew from {before} KiB to {after} KiB"
        );
    }
    assert!(server.take_delivered().is_empty(), "nothing is stored");
    if let Some(record) = server.record() {
        let log = record.wait_closes(1, std::time::Duration::from_secs(5));
        assert!(log.contains(&"aborted TooBig".to_owned()), "{log:?}");
    }
}

on_targets!(
    [Blackhole, Tokio, Blocking]:
    parsing, limits, bdat, auth, policy, huge_data_is_bounded
);
