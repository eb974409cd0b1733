//! SMTP smuggling: one server's end of data is another server's content.
//!
//! Rules `SMG-*` (attack inputs and what this crate answers) and `SMUG-*` (the invariants
//! the content decoder and the session keep). Notation: see [the manual](super).
//!
//! # The attack
//!
//! SEC Consult (Timo Longin) published "SMTP Smuggling – Spoofing E-Mails Worldwide" on
//! 2023-12-18 (<https://sec-consult.com/blog/detail/smtp-smuggling-spoofing-e-mails-worldwide/>),
//! coordinated through CERT/CC (VU#302671). The attack needs two servers that disagree:
//!
//! 1. Server A, the outbound relay, takes an authenticated user's message and forwards its
//!    content verbatim, including a malformed "end of data" such as `\n.\r\n` that A itself
//!    does not treat as the end.
//! 2. Server B, the inbound server, *does* treat that sequence as the end of the message,
//!    and reads what follows (`MAIL FROM`, `RCPT TO`, `DATA`, a second message) as new
//!    commands. The second message arrives from A's IP address and passes SPF and DMARC for
//!    A's domain, although A never sent it.
//!
//! Postfix described itself as an example of server B and outlook.com as an example of
//! server A, with `<LF>.<CR><LF>` as the sequence. The CVEs: **CVE-2023-51764** (Postfix),
//! **CVE-2023-51765** (Sendmail), **CVE-2023-51766** (Exim before 4.97.1, through
//! `<LF>.<CR><LF>` with PIPELINING/CHUNKING). Libraries followed: aiosmtpd
//! **CVE-2024-27305** (GHSA-pr2m-px7j-xg65, fixed in 1.4.5); go-smtp PR #244 (commit
//! `cd06f48`, "Remove DotLF to EOFState case") and PR #246 (commit `4877066`, "Prevent
//! `<LF>.<CR><LF>` SMTP smuggling attacks"); Stalwart's smtp-proto commit `5785ea1`;
//! chasquid 1.13 (aborts the connection on any bad line ending); qpsmtpd PR #318; SurgeMail
//! 7.8.
//!
//! Postfix later found the same bug again behind `smtpd_proxy_filter` in normalize mode and
//! behind the `Require-TLS-ESMTP` header (HISTORY 2026-08-16, reported by OpenAI Security).
//! The lesson for any application built on this crate: **every place that re-serialises a
//! message is a new chance to reintroduce the bug.** A relay must not forward stray CR or
//! LF octets verbatim (see `SMUG-6`).
//!
//! The RFC side is plain. RFC 5321 §2.3.8: "Conforming implementations MUST NOT recognize
//! or generate any other character or character sequence as a line terminator" than CR LF.
//! RFC 5321 §4.1.1.4: the content ends with a line holding only `.`, that is
//! `<CRLF>.<CRLF>`, and `<LF>.<LF>` "MUST NOT be treated as equivalent".
//!
//! # End-of-data sequences (SMG-01 … SMG-17)
//!
//! Every row runs the same scenario. Starting in **\[D\]**, the client sends in one read:
//! `Subject: t\r\n\r\nbody` + *SEQ* + `MAIL FROM:<evil@a.example>\r\nRCPT
//! TO:<victim@b.example>\r\nDATA\r\nSubject: smuggled\r\n\r\nx\r\n.\r\n`.
//!
//! The invariant for every row except SMG-01 and SMG-16 (which contain the one legal
//! terminator): **at most one message is completed, and the smuggled `MAIL` never gets a
//! reply of its own.**
//!
//! In strict mode (the default), a row that introduces a bare CR, bare LF or NUL ends the
//! same way: the server keeps reading content up to the real `\r\n.\r\n`, then answers
//! once with `550 5.5.2 Error: bare <CR>, bare <LF> or NUL received in message content`
//! *(choice; Postfix's reject mode also uses 550 5.5.2)* and the application gets
//! `MessageAborted`; nothing is completed. The table says "delayed 550" for that outcome.
//! In normalize mode the same rows complete exactly one message whose content includes the
//! smuggled commands as text.
//!
//! The sequences come from the public probe tools: smtpsmug (`lflf crcr crlf lfcr lfcrlf
//! crlflf crcrlf crlfcr nullbefore`), SEC Consult's SMTP-Smuggling-Tools (inbound and
//! outbound lists) and suuhm/smtp_smuggling_checker.
//!
//! | ID | SEQ | who took it for end of data (bug) | strict (default) | normalize | RFC |
//! | --- | --- | --- | --- | --- | --- |
//! | SMG-01 | `\r\n.\r\n` | everyone: the only legal terminator | end of data: `MessageComplete`, `250 2.0.0`. The MAIL and RCPT behind it are a genuine pipelined second transaction (`250`, `250`); the second `DATA` arrives with its content already buffered, so the synchronisation check (`SMUG-9`, on by default) answers `554 5.5.0` and closes. With the check off: `354`, then `250`, two genuine messages | same | 5321 §4.1.1.4; 2920 §3.1 |
//! | SMG-02 | `\n.\n` | Postfix before 3.9 (`smtpd_forbid_bare_newline=no`), Sendmail before the CVE-2023-51765 options, Exim (when the first line ended in bare LF), go-smtp before `cd06f48` | not end of data; delayed 550 | not end of data: the `.` line ended in bare LF, so it is dropped; LF-terminated lines become lines; one message | 5321 §2.3.8, §4.1.1.4 |
//! | SMG-03 | `\n.\r\n` | the vector used in the wild: Postfix, Sendmail, Exim (all before their fixes), go-smtp before `4877066`, aiosmtpd before 1.4.5 (CVE-2024-27305), qpsmtpd (issue #317) | not end of data; delayed 550 | not end of data: the line before the `.` ended in bare LF, so the `.` line is dropped | 5321 §2.3.8, §4.1.1.4 |
//! | SMG-04 | `\r\n.\n` | Exim before 4.97.1 ("CR LF . LF", CVE-2023-51766), go-smtp before `cd06f48` | not end of data; delayed 550 | not end of data: the `.` line ends in bare LF, dropped | 5321 §2.3.8 |
//! | SMG-05 | `\r.\r` | gateways that turn bare CR or LF into a line end *before* looking for the terminator: Cisco Secure Email in its default "Clean" mode (CERT-EU advisory 2023-098 recommends "Allow") | not end of data; delayed 550 (bare CR) | not end of data: bare CR is never a line end and normalisation never creates a terminator (`SMUG-2`) | 5321 §2.3.8 |
//! | SMG-06 | `\r.\r\n` | probe (smtpsmug `crcrlf`) | as SMG-05 | not end of data | 5321 §2.3.8 |
//! | SMG-07 | `\r.\n` and `\n.\r` | probes | as SMG-02 / SMG-05 | not end of data | 5321 §2.3.8 |
//! | SMG-08 | `\r\n.\r` followed by something other than LF | probe, later dropped from SEC Consult's list because a conforming relay dot-stuffs it (SMTP-Smuggling-Tools issue #6) | not end of data; the leading `.` is a stuffing dot; delayed 550 (bare CR) | not end of data | 5321 §4.5.2 |
//! | SMG-09 | `\r\n.\r\r\n` | Postfix before 20240106 (it stripped repeated CRs before LF); Stalwart smtp-proto 0.2.1 `DataReceiver` (its CR branch never clears the "CR LF ." state, so it reports end of data and leaves a stray CR) | not end of data; delayed 550 (bare CR) | not end of data | 5321 §2.3.8 |
//! | SMG-10 | `\r\r\n.\r\r\n` | SEC Consult outbound probe | not end of data; delayed 550 | not end of data | 5321 §2.3.8 |
//! | SMG-11 | `\r\n\x00.\r\n` | probe for servers that strip NUL before splitting lines | not end of data (the line is `\x00.`); NUL ⇒ delayed 550 *(choice)* | not end of data; NUL is content, flagged | 5321 §4.1.1.4; 5322 §3.5 (no NUL in text) |
//! | SMG-12 | `\r\n.\x00\r\n` | probe (suuhm) | not end of data (the line `.\x00` unstuffs to `\x00`); delayed 550 | not end of data | 5321 §4.5.2 |
//! | SMG-13 | `\r\n. \r\n` and `\r\n.\t\r\n` | probe (elemta test notes) | not end of data (the line unstuffs to a space or tab): whitespace is never trimmed before the comparison; one message | same | 5321 §4.1.1.4 |
//! | SMG-14 | `\r\n` + N × `A` + `.\r\n`, N reaching an internal buffer or line limit | the fragment bug: a reader that splits a long line and then sees `.` at the start of the next fragment. Postfix ignores a `.` at the start of a continuation record; aiosmtpd only ends on `.\r\n` with no pending fragment | not end of data: a `.` that follows a buffer split is not at a line start (`SMUG-8`); the long line is accepted and flagged (`R-LINE-3`) | same | 5321 §4.5.3.1.6 |
//! | SMG-15 | `\r\n..\r\n` | none: legal dot-stuffing | not end of data; the content line is `.\r\n` | same | 5321 §4.5.2 |
//! | SMG-16 | `\r\n.\r\n` cut at every position: `\r‖\n.\r\n`, `\r\n‖.\r\n`, `\r\n.‖\r\n`, `\r\n.\r‖\n` | none; catches decoders whose state breaks across reads | end of data exactly once, with the same events for every cut (`SMUG-10`) | same | 5321 §4.1.1.4 |
//! | SMG-17 | `\n\n.\r\n` | probe (suuhm) | not end of data; delayed 550 | not end of data | 5321 §2.3.8 |
//!
//! # BDAT (SMG-B1, SMG-B2)
//!
//! CHUNKING (RFC 3030) carries content as counted octets, so there is no terminator to
//! smuggle, as long as the server never applies DATA's dot logic to a chunk.
//!
//! | ID | input | expected | RFC | bug |
//! | --- | --- | --- | --- | --- |
//! | SMG-B1 | \[T\] `BDAT 13 LAST\r\nab\r\n.\r\nMAIL F` | the 13 octets `ab\r\n.\r\nMAIL F` are content, with no dot handling at all; one `MessageComplete`; `250` | 3030 §2 | Exim CVE-2017-16944 (fix: "do not treat the first lonely dot special" in chunks) |
//! | SMG-B2 | \[T\] `BDAT 8 LAST\r\nTo: x\nab` | strict: the bare LF is judged once the whole chunk was read: `550 5.5.2`, `MessageAborted` *(choice; Postfix's reject mode does the same)*; normalize: accepted, flagged `bare_lf` | 3030 §3 (text content is canonical CR LF); 5321 §2.3.8 | CVE-2023-51764 class |
//!
//! # Pipelining synchronisation (SMG-P1 … SMG-P5)
//!
//! RFC 2920 §3.1 lets a client send a group of commands without waiting, but some commands
//! must be the last of a group: EHLO, DATA, VRFY, EXPN, TURN, QUIT, NOOP, and extension
//! commands (STARTTLS, AUTH) unless their RFC says otherwise. Input already waiting behind
//! such a command was sent before the client could have read the reply, so a well-behaved
//! client never produces it. Postfix ≥ 3.9 (`smtpd_forbid_unauth_pipelining = yes`) answers
//! `554 5.5.0 Error: SMTP protocol synchronization` and disconnects; so does this crate when
//! [`ServerConfig::pipelining_sync_check`](crate::ServerConfig::pipelining_sync_check) is on
//! (the default), with Postfix's text followed by what happened ("a command came before the
//! reply it must wait for (RFC 2920)"), so a person testing with `nc` sees why. It is a second line of defence: a smuggled `DATA` is always followed by
//! its content in the same buffer.
//!
//! | ID | input | expected | RFC | bug |
//! | --- | --- | --- | --- | --- |
//! | SMG-P1 | \[T\] `DATA\r\nSubject: x\r\n` in one read | `554 5.5.0` and close; the application never hears of the DATA *(choice)* | 2920 §3.1 (DATA ends a group); 5321 §3.3 "message data MUST NOT be sent unless a 354 reply is received" | smuggling second stage |
//! | SMG-P2 | \[T\] `DATA\r\n` ‖ `Subject: x\r\n\r\nb\r\n.\r\n` | normal: `354`, then `250` | 2920 §3.1 | — (the legitimate counterpart of SMG-P1) |
//! | SMG-P3 | the SMG-03 payload in normalize mode, assuming the end-of-data check were bypassed | the smuggled `DATA` has its content behind it in the same buffer ⇒ `554 5.5.0` and close; the second message never starts (smtpsmug's `pipelining` test) | 2920 §3.1 | CVE-2023-51764 class |
//! | SMG-P4 | `EHLO c\r\nMAIL FROM:<a@x>\r\n` in one read, before the EHLO reply | `554 5.5.0` and close; with the check off, both commands run (the lenient alternative) | 2920 §3.1 (EHLO ends a group) | Postfix ≥ 3.9 behaviour |
//! | SMG-P5 | the client talks before the `220` greeting was transmitted | `554 5.5.0` and close *(Postfix does this on ports without implicit TLS)*; an adapter reads once, without waiting, before sending the greeting, so that the core can see this | 5321 §3.1 (the client waits for the greeting) | spam bots that do not wait |
//!
//! # Command lines (SMG-C1 … SMG-C3)
//!
//! | ID | input | strict (default) | normalize | RFC | bug |
//! | --- | --- | --- | --- | --- | --- |
//! | SMG-C1 | \[G\] `MAIL FROM:<a@x>\nRCPT TO:<b@y>\r\n` | `500 5.5.2 Error: bare <LF> received` and close: a client that sends bare LF cannot be resynchronised safely, and nothing after the LF runs *(choice; Postfix reject mode answers 550 5.5.2 and disconnects, Sendmail option `g` 421, chasquid aborts)* | two commands, `250`, `250` | 5321 §2.3.8 (`R-LINE-1`) | CVE-2023-51764 class |
//! | SMG-C2 | \[G\] `MAIL FROM:<a@x>\rRCPT TO:<b@y>\r\n` | a bare CR never separates commands: one command with a control character, `501 5.5.2 Error: control character in command` *(choice)*; the session goes on, no transaction is opened | same | 5321 §2.3.8, §4.1.2 | Stalwart smtp-proto drops every CR in command lines |
//! | SMG-C3 | \[G\] `NOOP\x00\r\n` | `500 5.5.2` "command not recognized" (`NOOP\x00` is no verb) *(choice)*; `NOOP \x00\r\n` gets `501 5.5.2`; the session goes on | same | 5321 §4.1.2 | servers that cut strings at NUL |
//!
//! # What hardened servers do
//!
//! Worth knowing when choosing a policy; none is copied blindly.
//!
//! | implementation | behaviour |
//! | --- | --- |
//! | Postfix ≥ 3.9 | `smtpd_forbid_bare_newline`: `normalize` (its default) requires a real CR LF `.` CR LF but takes LF-terminated lines as lines; `note` does the same and logs; `reject` refuses the command or message (code `smtpd_forbid_bare_newline_reject_code`, 550 by default, 521 to also disconnect); `no` is the old behaviour. A `.` line is discarded when it or the line before ended in bare LF; in DATA the reject waits until the end. Backported as yes/no to 3.8.4, 3.7.9, 3.6.13, 3.5.23. Outbound, `cleanup_replace_stray_cr_lf = yes` turns stray CR or LF into a space. Plus `smtpd_forbid_unauth_pipelining = yes`. |
//! | Sendmail 8.18 | `srv_features` options: `o` only CR LF `.` CR LF ends a message; `g` drops the session with 421 on a bare LF; `u` the same for bare CR (upper case letters allow). |
//! | Exim 4.97.1 | was vulnerable with PIPELINING and CHUNKING through `LF . LF`, `CR LF . LF`, `LF . CR LF`. The fix enforces CR LF in the body when the first header line had one (bare LF becomes a space). **Not a model**: the first line is chosen by the attacker. Its regression test 0900: "Accepting only one message is good; two is bad." |
//! | go-smtp | only `\r\n.\r\n` ends data; bare CR and LF pass through verbatim; a `.` followed by bare LF at a line start is dropped as stuffing. |
//! | aiosmtpd ≥ 1.4.5 | reads content with `readuntil(b'\r\n')`; only a `.\r\n` line with no pending fragment ends data; size and line-length errors are reported after the end of data. |
//! | Stalwart smtp-proto | DATA ends only at CR LF `.` CR LF, except for SMG-09; bare CR and LF pass through; command lines accept bare LF and drop every CR. |
//! | OpenSMTPD | splits lines on LF (so `\n.\n` would end data) but never offers PIPELINING and refuses any leftover input after a line ("500 5.5.1 Invalid command: Pipelining not supported"), which stops the smuggled commands. |
//! | qpsmtpd | `421` on bare LF; accepted `\n.\r\n` until PR #318 extended the check to every line. |
//! | chasquid 1.13 | any bad line ending in DATA aborts the connection. |
//! | mox | rejects every bare CR; near-miss terminators get a `500` that mentions smuggling. |
//!
//! # The rules this crate keeps (SMUG-1 … SMUG-10)
//!
//! | ID | rule | RFC | bug behind it |
//! | --- | --- | --- | --- |
//! | SMUG-1 | The end of data is recognised only as: a line start (right after a CR LF that ended a line, or right after the `354`), then `.`, then CR LF. Nothing else, in any mode. Input `.\r\n` right after the `354` ends an empty message; `x\r\n.\r\n` after a line that did not end is not a line start. | 5321 §4.1.1.4, §2.3.8 | CVE-2023-51764/51765/51766 |
//! | SMUG-2 | The terminator is found on the raw octets; dot-unstuffing and any rewriting of line endings come after, and rewriting can never produce a `\r\n.\r\n` that was not on the wire. Test: SMG-05 in normalize mode stays one message. | 5321 §2.3.8 | Cisco "Clean" mode (CERT-EU 2023-098) |
//! | SMUG-3 | Strict mode: the first bare LF, bare CR or NUL in content sets a sticky flag; the server keeps consuming content up to the real terminator, then answers one `550 5.5.2` and emits `MessageAborted`. *(choice: content keeps streaming to the application up to the size limit, so events do not depend on read boundaries; the session stays open.)* | 5321 §2.3.8 | Postfix `smtpd_forbid_bare_newline = reject` |
//! | SMUG-4 | Normalize mode (opt-in), Postfix semantics: LF-terminated content lines are taken as lines and emitted with CR LF; a `.` line whose own ending, or the previous line's ending, was a bare LF is **discarded**, never end of data; bare CR and NUL stay content and are flagged. | 5321 §2.3.8, §4.1.1.4 | Postfix ≥ 3.9 `normalize` |
//! | SMUG-5 | No reply while receiving content, before the end of data: not for a bare LF, an over-long line or an oversized message. Size and line errors are answered after the terminator. A reply in the middle would put the server back in command mode with the rest of the content still arriving. | 5321 §4.1.1.4, 1870 §6.3 | aiosmtpd "delay SMTP status code sending until data receive is complete" |
//! | SMUG-6 | `MessageComplete` carries [`ContentFlags`](crate::ContentFlags) (bare LF, bare CR, NUL, long line), so an application that relays can refuse or sanitise. Outbound content must never contain stray CR or LF (Postfix `cleanup_replace_stray_cr_lf`). | 5321 §2.3.8 | the relay half (server A) of every smuggling CVE |
//! | SMUG-7 | BDAT content is opaque counted octets, with no dot logic; the line-ending policy is applied to a chunk only after the whole chunk was consumed, so the reply never comes in the middle of one. | 3030 §2, §3 | Exim CVE-2017-16944 |
//! | SMUG-8 | A `.` at the start of a continuation fragment (after an internal buffer split or a read boundary, not after CR LF) is ordinary content. | 5321 §4.5.3.1.6 | the SMG-14 fragment bug |
//! | SMUG-9 | The RFC 2920 synchronisation check at the points where a group must end (SMG-P1 … SMG-P5): `554 5.5.0` and close *(choice, on by default)*. | 2920 §3.1 | Postfix ≥ 3.9 `smtpd_forbid_unauth_pipelining` |
//! | SMUG-10 | Split invariance: for every input and every way of cutting it into reads, the replies and events are the same (a property test; it catches state lost across `\r`‖`\n` and `.`‖`\r\n`). The synchronisation check is the one deliberate exception, since it depends on what was buffered. | 5321 §4.1.1.4 | decoders whose state breaks across reads |
