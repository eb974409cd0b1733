//! SMTP smuggling (manual::smuggling) and STARTTLS injection (manual::starttls, TLS-02..04) over
//! real sockets, against blackhole (`--maildir`: what was stored, byte for byte) and in-process
//! servers of both adapters (a recording handler: what was accepted, and which MAIL
//! commands opened a transaction).
//!
//! Every row of §1.2 (SMG-01..17, strict, and normalize on the adapters: blackhole has no
//! flag for it), the BDAT rows (SMG-B1/B2, SMUG-7), the synchronisation rows (SMG-P1..P5),
//! the command-line rows (SMG-C1..C3) and the SMUG rules that show on the wire. The
//! in-memory transcripts of the same rows are in `smuggling.rs`, beside this file.
#![allow(clippy::unwrap_used)]

use smtp_proto::{InjectionPolicy, LineEndingPolicy};
use smtp_proto_tests::servers::{Row, Setup, Target, run_rows};
use smtp_proto_tests::{Script, on_targets};

/// Content before the attack sequence (manual::smuggling).
const PRE: &[u8] = b"Subject: t\r\n\r\nbody";
/// The smuggled transaction after the attack sequence, ending in the real terminator.
const POST: &[u8] = b"MAIL FROM:<evil@a.example>\r\nRCPT TO:<victim@b.example>\r\nDATA\r\nSubject: smuggled\r\n\r\nx\r\n.\r\n";
/// `POST` as message content: everything before the final `.\r\n`.
const SMUGGLED: &[u8] =
    b"MAIL FROM:<evil@a.example>\r\nRCPT TO:<victim@b.example>\r\nDATA\r\nSubject: smuggled\r\n\r\nx\r\n";

/// The concatenation of `parts`.
fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// Postfix-style `normalize` line endings.
fn normalize(s: &mut Setup) {
    s.config.line_endings = LineEndingPolicy::Normalize;
}

/// No RFC 2920 synchronisation check.
fn no_sync_check(s: &mut Setup) {
    s.config.pipelining_sync_check = false;
}

/// Both of the above.
fn normalize_no_sync_check(s: &mut Setup) {
    normalize(s);
    no_sync_check(s);
}

/// STARTTLS injection refused with `554` and close.
fn injection_closes(s: &mut Setup) {
    s.config.starttls_injection = InjectionPolicy::Close;
}

/// A handler whose `connect` takes 300 ms.
fn slow_connect(s: &mut Setup) {
    s.connect_delay = std::time::Duration::from_millis(300);
}

/// Strict mode: `seq` is not the end of data. Everything up to the real terminator is
/// consumed, then one `550 5.5.2`; nothing is stored, and the smuggled MAIL never gets a
/// reply (the next reply is QUIT's 221) nor reaches the handler.
fn strict_rejects(id: &'static str, seq: &[u8]) -> Row {
    let script = Script::new()
        .in_data()
        .send(cat(&[PRE, seq, POST]))
        .reply(550, "5.5.2")
        .quit();
    Row::new(id, 1, script)
        .absent("evil")
        .absent("victim")
        .absent("message")
        .present("aborted BareLineEnding")
}

/// One message, ending at the real terminator, whose content is PRE + `decoded` + the
/// smuggled commands as text.
fn one_message(id: &'static str, seq: &[u8], decoded: &[u8]) -> Row {
    let script = Script::new()
        .in_data()
        .send(cat(&[PRE, seq, POST]))
        .reply(250, "2.0.0")
        .quit();
    Row::new(id, 1, script)
        .delivers(&[&cat(&[PRE, decoded, SMUGGLED])])
        .absent("evil")
}

/// SMG-01..SMG-17 (§1.2), strict on every target and normalize on the adapters.
fn end_of_data_sequences(target: Target) {
    let mut rows = vec![
        // SMG-01: the legal terminator; MAIL and RCPT are a genuine pipelined second
        // transaction, and the second DATA arrives with its content: 554 5.5.0 + close.
        Row::new(
            "SMG-01 \\r\\n.\\r\\n then a sync violation",
            2,
            Script::new()
                .in_data()
                .send(cat(&[PRE, b"\r\n.\r\n", POST]))
                .reply(250, "2.0.0")
                .reply(250, "2.1.0")
                .reply(250, "2.1.5")
                .reply(554, "5.5.0")
                .closed(),
        )
        .delivers(&[&cat(&[PRE, b"\r\n"])]),
        // SMG-01 without the sync check: two genuine messages.
        Row::new(
            "SMG-01 without sync check",
            2,
            Script::new()
                .in_data()
                .send(cat(&[PRE, b"\r\n.\r\n", POST]))
                .reply(250, "2.0.0")
                .reply(250, "2.1.0")
                .reply(250, "2.1.5")
                .reply(354, "")
                .reply(250, "2.0.0")
                .quit(),
        )
        .delivers(&[&cat(&[PRE, b"\r\n"]), b"Subject: smuggled\r\n\r\nx\r\n"])
        .tweak(no_sync_check),
        strict_rejects("SMG-02 \\n.\\n", b"\n.\n"),
        strict_rejects("SMG-03 \\n.\\r\\n", b"\n.\r\n"),
        strict_rejects("SMG-04 \\r\\n.\\n", b"\r\n.\n"),
        strict_rejects("SMG-05 \\r.\\r", b"\r.\r"),
        strict_rejects("SMG-06 \\r.\\r\\n", b"\r.\r\n"),
        strict_rejects("SMG-07 \\r.\\n", b"\r.\n"),
        strict_rejects("SMG-07 \\n.\\r", b"\n.\r"),
        strict_rejects("SMG-08 \\r\\n.\\r then M", b"\r\n.\r"),
        strict_rejects("SMG-09 \\r\\n.\\r\\r\\n", b"\r\n.\r\r\n"),
        strict_rejects("SMG-10 \\r\\r\\n.\\r\\r\\n", b"\r\r\n.\r\r\n"),
        strict_rejects("SMG-11 \\r\\n\\x00.\\r\\n", b"\r\n\x00.\r\n"),
        strict_rejects("SMG-12 \\r\\n.\\x00\\r\\n", b"\r\n.\x00\r\n"),
        one_message("SMG-13 \\r\\n. \\r\\n", b"\r\n. \r\n", b"\r\n \r\n"),
        one_message("SMG-13 \\r\\n.\\t\\r\\n", b"\r\n.\t\r\n", b"\r\n\t\r\n"),
        one_message("SMG-15 \\r\\n..\\r\\n", b"\r\n..\r\n", b"\r\n.\r\n"),
        strict_rejects("SMG-17 \\n\\n.\\r\\n", b"\n\n.\r\n"),
    ];
    // SMG-14 (SMUG-8): a dot after 997/998 octets of a line is content, also when a read
    // ends right before it.
    for n in [997, 998] {
        let line = cat(&[b"\r\n", &vec![b'A'; n]]);
        let seq = cat(&[&line, b".\r\n"]);
        rows.push(one_message("SMG-14 dot after a long line", &seq, &seq));
        let script = Script::new()
            .in_data()
            .send(cat(&[PRE, &line]))
            .pause()
            .send(cat(&[b".\r\n", POST]))
            .reply(250, "2.0.0")
            .quit();
        rows.push(
            Row::new("SMG-14 split before the dot", 1, script)
                .delivers(&[&cat(&[PRE, &seq, SMUGGLED])]),
        );
    }
    // SMG-16: the terminator split at every boundary ends the message exactly once.
    let splits: [&[&[u8]]; 6] = [
        &[b"\r", b"\n.\r\n"],
        &[b"\r\n", b".\r\n"],
        &[b"\r\n.", b"\r\n"],
        &[b"\r\n.\r", b"\n"],
        &[b"", b"\r\n.\r\n"],
        &[b"\r", b"\n", b".", b"\r", b"\n"],
    ];
    for pieces in splits {
        let mut script = Script::new().in_data().send(PRE);
        for piece in pieces {
            script = script.pause().send(piece);
        }
        let script = script.reply(250, "2.0.0").quit();
        rows.push(
            Row::new("SMG-16 split terminator", 1, script).delivers(&[&cat(&[PRE, b"\r\n"])]),
        );
    }
    // Normalize mode (Postfix ≥ 3.9 style): never the end of data; one message.
    let normalized: [(&'static str, &[u8], &[u8]); 15] = [
        ("SMG-02 normalize", b"\n.\n", b"\r\n"),
        ("SMG-03 normalize", b"\n.\r\n", b"\r\n"),
        ("SMG-04 normalize", b"\r\n.\n", b"\r\n"),
        ("SMG-05 normalize", b"\r.\r", b"\r.\r"),
        ("SMG-06 normalize", b"\r.\r\n", b"\r.\r\n"),
        ("SMG-07 \\r.\\n normalize", b"\r.\n", b"\r.\r\n"),
        ("SMG-07 \\n.\\r normalize", b"\n.\r", b"\r\n\r"),
        ("SMG-08 normalize", b"\r\n.\r", b"\r\n\r"),
        ("SMG-09 normalize", b"\r\n.\r\r\n", b"\r\n\r\r\n"),
        ("SMG-10 normalize", b"\r\r\n.\r\r\n", b"\r\r\n\r\r\n"),
        ("SMG-11 normalize", b"\r\n\x00.\r\n", b"\r\n\x00.\r\n"),
        ("SMG-12 normalize", b"\r\n.\x00\r\n", b"\r\n\x00\r\n"),
        ("SMG-13 normalize", b"\r\n. \r\n", b"\r\n \r\n"),
        ("SMG-15 normalize", b"\r\n..\r\n", b"\r\n.\r\n"),
        ("SMG-17 normalize", b"\n\n.\r\n", b"\r\n\r\n"),
    ];
    for (id, seq, decoded) in normalized {
        rows.push(one_message(id, seq, decoded).tweak(normalize));
    }
    run_rows(target, &rows);
}

/// SMG-B1, SMG-B2, SMUG-7: BDAT is counted octets, never dot-processed; the line-ending
/// verdict comes after the chunk is consumed.
fn bdat(target: Target) {
    let b1 = || {
        Script::new()
            .in_transaction()
            .send(b"BDAT 13 LAST\r\nab\r\n.\r\nMAIL F")
            .reply(250, "2.0.0")
            .quit()
    };
    let b2 = |code, enhanced| {
        Script::new()
            .in_transaction()
            .send(b"BDAT 8 LAST\r\nTo: x\nab")
            .reply(code, enhanced)
            .quit()
    };
    let rows = vec![
        Row::new("SMG-B1 no dot handling in BDAT", 1, b1()).delivers(&[b"ab\r\n.\r\nMAIL F"]),
        Row::new("SMG-B1 normalize", 1, b1())
            .delivers(&[b"ab\r\n.\r\nMAIL F"])
            .tweak(normalize),
        Row::new("SMG-B2 bare LF in BDAT, strict", 1, b2(550, "5.5.2"))
            .present("aborted BareLineEnding"),
        Row::new("SMG-B2 normalize", 1, b2(250, "2.0.0"))
            .delivers(&[b"To: x\nab"])
            .tweak(normalize),
        Row::new(
            "SMUG-7 verdict after the chunk; later chunks refused",
            1,
            Script::new()
                .in_transaction()
                .send(b"BDAT 8\r\na\nQUIT\r\n")
                .reply(550, "5.5.2")
                .send(b"BDAT 3 LAST\r\nxyz")
                .reply(550, "5.5.2")
                .cmd("RCPT TO:<b@y.example>", 503, "5.5.1")
                .quit(),
        ),
    ];
    run_rows(target, &rows);
}

/// SMG-P1..P5: the RFC 2920 synchronisation check (SMUG-9).
fn pipelining_sync(target: Target) {
    let smg_01 = Script::new()
        .in_data()
        .send(cat(&[PRE, b"\r\n.\r\n", POST]))
        .reply(250, "2.0.0")
        .reply(250, "2.1.0")
        .reply(250, "2.1.5")
        .reply(554, "5.5.0")
        .closed();
    let ehlo_mail = b"EHLO c.example\r\nMAIL FROM:<a@x.example>\r\n";
    let rows = vec![
        Row::new(
            "SMG-P1 content before the 354",
            1,
            Script::new()
                .in_transaction()
                .send(b"DATA\r\nSubject: x\r\n")
                .reply(554, "5.5.0")
                .closed(),
        )
        .absent("data_start"),
        Row::new(
            "SMG-P2 content after the 354",
            1,
            Script::new()
                .in_transaction()
                .cmd("DATA", 354, "")
                .send(b"Subject: x\r\n\r\nb\r\n.\r\n")
                .reply(250, "2.0.0")
                .quit(),
        )
        .delivers(&[b"Subject: x\r\n\r\nb\r\n"]),
        Row::new(
            "SMG-P3 smuggled DATA with its content, normalize",
            2,
            smg_01,
        )
        .delivers(&[&cat(&[PRE, b"\r\n"])])
        .tweak(normalize),
        Row::new(
            "SMG-P4 MAIL pipelined behind EHLO",
            0,
            Script::new()
                .greeting()
                .send(ehlo_mail)
                .reply(554, "5.5.0")
                .closed(),
        )
        .absent("ehlo"),
        Row::new(
            "SMG-P4 without sync check",
            1,
            Script::new()
                .greeting()
                .send(ehlo_mail)
                .reply(250, "")
                .reply(250, "2.1.0")
                .quit(),
        )
        .tweak(no_sync_check),
        Row::new(
            "SMG-P4 normalize without sync check",
            1,
            Script::new()
                .greeting()
                .send(ehlo_mail)
                .reply(250, "")
                .reply(250, "2.1.0")
                .quit(),
        )
        .tweak(normalize_no_sync_check),
        // SMG-P5: the client speaks before the greeting. The handler's `connect` takes
        // 300 ms, so the EHLO is in the socket before the 220 can leave.
        Row::new(
            "SMG-P5 client speaks before the greeting",
            0,
            Script::new()
                .send(b"EHLO c.example\r\n")
                .reply(220, "")
                .reply(554, "5.5.0")
                .closed(),
        )
        .absent("ehlo")
        .tweak(slow_connect),
    ];
    run_rows(target, &rows);
}

/// SMG-C1..C3: bare LF, bare CR and NUL in command lines.
fn command_lines(target: Target) {
    let c1 = b"MAIL FROM:<a@x.example>\nRCPT TO:<b@y.example>\r\n";
    let c2 = || {
        Script::new()
            .greeted()
            .send(b"MAIL FROM:<a@x.example>\rRCPT TO:<b@y.example>\r\n")
            .reply(501, "5.5.2")
            .cmd("RCPT TO:<b@y.example>", 503, "5.5.1")
            .quit()
    };
    let c3 = || {
        Script::new()
            .greeted()
            .cmd(b"NOOP\x00", 500, "5.5.2")
            .cmd(b"NOOP \x00", 501, "5.5.2")
            .cmd("NOOP", 250, "2.0.0")
            .quit()
    };
    let rows = vec![
        Row::new(
            "SMG-C1 bare LF in a command",
            0,
            Script::new()
                .greeted()
                .send(c1)
                .reply(500, "5.5.2")
                .closed(),
        ),
        Row::new(
            "SMG-C1 normalize",
            1,
            Script::new()
                .greeted()
                .send(c1)
                .reply(250, "2.1.0")
                .reply(250, "2.1.5")
                .quit(),
        )
        .tweak(normalize),
        Row::new("SMG-C2 bare CR never splits", 0, c2()),
        Row::new("SMG-C2 normalize", 0, c2()).tweak(normalize),
        Row::new("SMG-C3 NUL in a command", 0, c3()),
        Row::new("SMG-C3 normalize", 0, c3()).tweak(normalize),
    ];
    run_rows(target, &rows);
}

/// SMUG-1, 3, 4, 5, 6, 10: the rules that show on the wire.
fn smug_rules(target: Target) {
    let long = vec![b'a'; 999];
    let too_big = cat(&[&vec![b'a'; 65535], b"\r\n"]);
    let rows = vec![
        Row::new(
            "SMUG-1 terminator right after the 354",
            1,
            Script::new()
                .in_data()
                .send(b".\r\n")
                .reply(250, "2.0.0")
                .quit(),
        )
        .delivers(&[b""]),
        Row::new(
            "SMUG-3 sticky reject across reads, then the session goes on",
            2,
            Script::new()
                .in_data()
                .send(b"a\r\n")
                .pause()
                .send(b"b\nc\r\n")
                .pause()
                .send(b"d\r\n.\r\n")
                .reply(550, "5.5.2")
                .send(b"MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\nDATA\r\n")
                .reply(250, "2.1.0")
                .reply(250, "2.1.5")
                .reply(354, "")
                .send(b"ok\r\n.\r\n")
                .reply(250, "2.0.0")
                .quit(),
        )
        .delivers(&[b"ok\r\n"]),
        Row::new(
            "SMUG-4 normalize drops dot lines after bare LF",
            1,
            Script::new()
                .in_data()
                .send(b"a\n.\r\nb\r\n.\nc\r\n.\r\n")
                .reply(250, "2.0.0")
                .quit(),
        )
        .delivers(&[b"a\r\nb\r\nc\r\n"])
        .tweak(normalize),
        Row::new(
            "SMUG-5 no reply before the end of data (bare LF)",
            1,
            Script::new()
                .in_data()
                .send(b"x\ny\r\n")
                .pause()
                .send(b"QUIT\r\n")
                .quiet()
                .send(b".\r\n")
                .reply(550, "5.5.2")
                .quit(),
        ),
        Row::new(
            "SMUG-5 no reply before the end of data (size)",
            1,
            Script::new()
                .in_data()
                .send(&too_big)
                .pause()
                .send(b"QUIT\r\n")
                .quiet()
                .send(b".\r\n")
                .reply(552, "5.3.4")
                .quit(),
        )
        .present("aborted TooBig"),
        Row::new(
            "SMUG-6 a 1001-octet line is accepted",
            1,
            Script::new()
                .in_data()
                .send(cat(&[&long, b"\r\n.\r\n"]))
                .reply(250, "2.0.0")
                .quit(),
        )
        .delivers(&[&cat(&[&long, b"\r\n"])]),
        Row::new(
            "SMUG-6 normalize keeps bare CR and NUL",
            1,
            Script::new()
                .in_data()
                .send(b"a\rb\x00c\nd\r\n.\r\n")
                .reply(250, "2.0.0")
                .quit(),
        )
        .delivers(&[b"a\rb\x00c\r\nd\r\n"])
        .tweak(normalize),
        Row::new(
            "SMUG-10 SMG-03 written one byte at a time",
            1,
            Script::new()
                .in_data()
                .trickle(cat(&[PRE, b"\n.\r\n", POST]), 1)
                .reply(550, "5.5.2")
                .quit(),
        )
        .absent("evil"),
        Row::new(
            "SMUG-10 SMG-13 written in pieces of 5",
            1,
            Script::new()
                .in_data()
                .trickle(cat(&[PRE, b"\r\n. \r\n", POST]), 5)
                .reply(250, "2.0.0")
                .quit(),
        )
        .delivers(&[&cat(&[PRE, b"\r\n \r\n", SMUGGLED])]),
    ];
    run_rows(target, &rows);
}

/// TLS-02 (CVE-2011-0411, CVE-2021-33515, CVE-2024-34083): commands pipelined after
/// STARTTLS are never executed after the handshake; TLS-03/04: the session starts over.
fn starttls_injection(target: Target) {
    let injected = b"STARTTLS\r\nEHLO evil.example\r\nMAIL FROM:<x@y.example>\r\n";
    let rows = vec![
        Row::new(
            "TLS-02 injected commands are discarded",
            1,
            Script::new()
                .greeted()
                .send(injected)
                .reply(220, "2.0.0")
                .tls()
                .quiet()
                .ehlo()
                .mail_rcpt()
                .cmd("DATA", 354, "")
                .send(b"x\r\n.\r\n")
                .reply(250, "2.0.0")
                .quit(),
        )
        .delivers(&[b"x\r\n"])
        .absent("evil")
        .absent("x@y.example")
        .present("tls TLSv1.3"),
        Row::new(
            "TLS-02 InjectionPolicy::Close",
            0,
            Script::new()
                .greeted()
                .send(injected)
                .reply(554, "5.5.0")
                .closed(),
        )
        .absent("evil")
        .absent("tls")
        .tweak(injection_closes),
        Row::new(
            "TLS-03 EHLO is forgotten",
            1,
            Script::new()
                .greeted()
                .starttls()
                .cmd("MAIL FROM:<a@x.example>", 503, "5.5.1")
                .ehlo()
                .cmd("MAIL FROM:<a@x.example>", 250, "2.1.0")
                .quit(),
        ),
        Row::new(
            "TLS-04 the transaction is forgotten",
            1,
            Script::new()
                .in_transaction()
                .starttls()
                .ehlo()
                .cmd("RCPT TO:<b@y.example>", 503, "5.5.1")
                .cmd("DATA", 503, "5.5.1")
                .quit(),
        ),
    ];
    run_rows(target, &rows);
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
