//! RFC conformance: RFC 5321 and the service extensions, rule by rule.
//!
//! Rules `R-*` (RFC 5321 core), then one row per extension RFC, then the sequencing state
//! table. Each row quotes or cites the RFC, gives the input that checks it and what this
//! crate answers; *(choice)* marks a reply the RFC leaves open. Notation: see
//! [the manual](super).
//!
//! # The fifteen points a conformance test checks first
//!
//! 1. CR LF is the only line ending and CR LF `.` CR LF the only end of content (RFC 5321
//!    §2.3.8, §4.1.1.4).
//! 2. A command line holds at most 512 octets with its CR LF, more only where an advertised
//!    extension says so; a longer line gets `500 5.5.2` and is discarded to its end.
//! 3. A content line holds 1000 octets, a local part 64, a domain 255, a path 256; going
//!    over never breaks the framing.
//! 4. At least 100 recipients are accepted; past the implementation's limit, `452 4.5.3`,
//!    and the earlier recipients stay.
//! 5. Exactly one reply per command, in order, sent as soon as the input is used up
//!    (RFC 2920 §3.2).
//! 6. A command out of sequence gets `503` (RCPT before MAIL, a second MAIL, DATA or BDAT
//!    without recipients; `554` when every recipient was refused) and changes nothing.
//! 7. RSET always gets `250`, drops the transaction and never closes; an accepted EHLO or
//!    HELO resets like RSET; a refused one changes nothing.
//! 8. QUIT gets `221` and the session closes; `421` only when shutting down or timing out;
//!    an unknown verb gets `500` and the session goes on.
//! 9. VRFY without real verification gets `252`; `<Postmaster>` is always a valid
//!    recipient; `MAIL FROM:<>` is accepted; verbs are case-insensitive and local parts
//!    keep their case.
//! 10. An unknown MAIL or RCPT parameter gets `555`, a malformed value `501`; a declared
//!     `SIZE=` over the maximum gets `552 5.3.4`, and content over it `552` after the end.
//! 11. STARTTLS discards what was buffered before the handshake, resets everything,
//!     requires EHLO again and is not offered twice; arguments get `501`
//!     ([`starttls`](super::starttls)).
//! 12. AUTH challenges are `334` and base64; `*` gets `501`; bad base64 `501 5.5.2`; `=` is
//!     an empty response; AUTH in a transaction or after success gets `503`; success is
//!     `235 2.7.0`, bad credentials `535 5.7.8`.
//! 13. BDAT reads exactly the announced octets, with no dot handling, even when refusing;
//!     DATA after BDAT gets `503`; a size that cannot be parsed gets a 5xx and the session
//!     closes.
//! 14. With ENHANCEDSTATUSCODES, every 2xx, 4xx and 5xx reply except the greeting and the
//!     HELO/EHLO reply carries an enhanced code of the same class.
//! 15. SMTPUTF8, 8BITMIME, DSN and REQUIRETLS parameters are only accepted when advertised
//!     (REQUIRETLS only under TLS); a non-ASCII address without `SMTPUTF8` gets
//!     `553 5.6.7`.
//!
//! # RFC 5321 core (R-*)
//!
//! Section numbers are RFC 5321's unless another RFC is named.
//!
//! | ID | rule (source) | input → expected |
//! | --- | --- | --- |
//! | R-LINE-1 | "Conforming implementations MUST NOT recognize or generate any other character or character sequence as a line terminator" (§2.3.8). Bug: SMTP smuggling, CVE-2023-51764/51765/51766 | see `manual::smuggling` SMG-C1 and SMG-C2: a bare LF in a command ⇒ `500 5.5.2` and close (strict) *(choice)*; a bare CR never splits a line ⇒ `501 5.5.2` |
//! | R-LINE-2 | a command line is at most **512** octets counting the verb and CR LF; "SMTP extensions may be used to increase this limit" (§4.5.3.1.4); over-long lines get "500 Line too long" (§4.5.3.1.9). Bugs: Exim CVE-2019-16928, long-line command injection | `NOOP ` + 505 × `a` + `\r\n` (512 octets) ⇒ `250`; 506 × `a` (513) ⇒ `500 5.5.2` once, the tail discarded. MAIL gets +26 for SIZE (RFC 1870 §3), +10 for SMTPUTF8 (RFC 6531 §3.4), +500 for `AUTH=` (RFC 4954 §5), and the longest value of each other advertised parameter; RCPT +530 with DSN, +10 with SMTPUTF8. AUTH exchange lines: 12288 octets (RFC 4954 §4), longer ⇒ `500 5.5.6` |
//! | R-LINE-3 | a text line is at most **1000** octets with its CR LF, not counting a stuffing dot (§4.5.3.1.6) | 998 octets + CR LF ⇒ accepted, unflagged; 1001 octets ⇒ accepted and flagged `long_line` *(choice, as Postfix)*; never split into fake lines, and a `.` after the 1000th octet is not a line start (`manual::smuggling` SMG-14) |
//! | R-LEN-1 | local part ≤ **64**, domain ≤ **255**, path ≤ **256** octets with punctuation (§4.5.3.1.1 to .3); "501 Path too long" (§4.5.3.1.9) | 64-octet local part ⇒ `250`; 65 ⇒ `501 5.1.7` (sender) or `501 5.1.3` (recipient) *(choice: the limits bind senders; refusing above them is allowed)*; longer domains and paths refused likewise |
//! | R-RCPT-1 | "The minimum total number of recipients that MUST be buffered is 100"; over the implementation's limit, reply 452 (§4.5.3.1.8, §4.5.3.1.10). Bug: Exim CVE-2020-28017 | 100 RCPTs ⇒ 100 × `250`; RCPT number limit + 1 ⇒ `452 4.5.3`; the accepted ones stay accepted |
//! | R-MSG-1 | the content limit is at least 64K octets (§4.5.3.1.7) | a 64 KiB message is accepted by the default configuration (32 MiB limit) |
//! | R-REPLY-1 | "Every command MUST generate exactly one reply" (§4.2); a reply is three digits and SP or `-`; multiline replies use `-` on every line but the last; RFC 2920 §3.1 keeps the order | the number of replies equals the number of complete commands (plus `354`, `334`, one per BDAT chunk, one per recipient in LMTP), failed ones included |
//! | R-REPLY-2 | reply text is `textstring = 1*(%d09 / %d32-126)` (§4.2) | client data echoed in a reply (EHLO name, addresses, parameter keywords) is cut or cleaned: no CR, LF, control or 8-bit octet reaches the wire |
//! | R-GREET-1 | the greeting is `220 <domain> …`; or `554`, after which the server waits for QUIT and answers `503` to anything else (§3.1) | `220 mx.example ESMTP`, without enhanced code (RFC 2034 §3). With [`no_service`](crate::ServerConfig::no_service): `554` greeting, `MAIL …` ⇒ `503 5.5.1`, `QUIT` ⇒ `221` and close; those 503s do not count toward the error limit |
//! | R-SEQ-1 | "A session that will contain mail transactions MUST first be initialized by the use of the EHLO command" (§4.1.4); "a client MUST issue HELO or EHLO before starting a mail transaction" (§4.1.1.1) | fresh `MAIL FROM:<a@x>\r\n` ⇒ `503 5.5.1`, state unchanged (aiosmtpd "503 Error: send HELO first"; go-smtp answers 502, the wrong code for a sequence error) |
//! | R-SEQ-2 | "If a RCPT command appears without a previous MAIL command, the server MUST return a 503" (§3.3) | \[G\] `RCPT TO:<b@y>` ⇒ `503 5.5.1` |
//! | R-SEQ-3 | MAIL must not be sent while a transaction is open (§4.1.4) | \[T\] `MAIL FROM:<c@z>` ⇒ `503 5.5.1` nested MAIL; the transaction is unchanged |
//! | R-SEQ-4 | DATA without MAIL and RCPT, or after only refused RCPTs: `503`, or `554` no valid recipients (§3.3) | \[G\] + MAIL, no RCPT, `DATA` ⇒ `503 5.5.1`; after only refused recipients ⇒ `554 5.5.1` (as Postfix) |
//! | R-SEQ-5 | after a bad sequence or argument the server "MUST stay in the same state" (§4.1.4) | after each `501` or `503` the next valid command behaves as before |
//! | R-SEQ-6 | NOOP, HELP, EXPN, VRFY and RSET work at any time, even before EHLO, and "SHOULD … not return a 503" (§4.1.4) | fresh `NOOP` ⇒ `250`; fresh `RSET` ⇒ `250` |
//! | R-RSET-1 | RSET drops sender, recipients and content; the server "MUST send a 250 OK" to RSET without arguments and "MUST NOT close the connection as the result of receiving a RSET" (§4.1.1.5); the HELO identity stays | \[T\] `RSET`, `RCPT TO:<b@y>` ⇒ `250`, `503`; MAIL works without a new EHLO; `RSET foo` ⇒ `501 5.5.4` |
//! | R-EHLO-1 | a later accepted EHLO "MUST clear all buffers and reset the state exactly as if a RSET command had been issued"; a refused one leaves the server "in the same state" (§4.1.4) | \[T\] `EHLO c2` ⇒ `250`, then `RCPT TO:<b@y>` ⇒ `503`; `EHLO\r\n` without argument ⇒ `501 5.5.4`, the transaction intact |
//! | R-EHLO-2 | `EHLO SP (Domain / address-literal)`; the reply starts `250-<domain>`, keywords are `(ALPHA / DIGIT) *(ALPHA / DIGIT / "-")` (§4.1.1.1) | `EHLO [192.0.2.1]` ⇒ `250`; `HELO [192.0.2.1]` also accepted *(choice: the RFC gives HELO a Domain only)* |
//! | R-EHLO-3 | the server MUST NOT refuse mail because the EHLO name does not match the client's address (§4.1.4) | any syntactically valid name is accepted; checks are the application's business |
//! | R-VRFY-1 | a site that does not verify "MUST return a 252 response" (§7.3); `250` after a syntax check alone breaks this | `VRFY bob\r\n` ⇒ `252 2.0.0` unless the application verifies (as Postfix, go-smtp) |
//! | R-QUIT-1 | QUIT gets `221` and the connection closes; an open transaction is aborted (§4.1.1.10, §3.8) | \[T\] `QUIT` ⇒ `221 2.0.0`, `TransactionReset`, close |
//! | R-421-1 | the server closes only after QUIT, after a `421` when shutting down (at any time, even unsolicited), or after a timeout (§3.8); "a server that closes connections in response to commands that are not understood is in violation" | `shutdown` ⇒ `421 4.3.2 <host> Service not available` and close, also in the middle of a transaction; unknown `XYZZY` ⇒ `500 5.5.2`, the session goes on. Deliberate exceptions, documented where they are made: bare LF (SMG-C1), forbidden commands, the error limit, the synchronisation check |
//! | R-TIMEOUT-1 | the server waits at least 5 minutes for the next command (§4.5.3.2.7); the client waits 10 minutes for the reply to the end of data (§4.5.3.2.6), so the server must finish well within that | no complete command within [`Timeouts::command`](crate::Timeouts::command) ⇒ `421 4.4.2 … timeout` and close; trickling octets does not extend it |
//! | R-CASE-1 | verbs, `FROM:`/`TO:` and keywords are case-insensitive; the local part keeps its case (§2.4) | `mail from:<Bob@X>` ⇒ `250`, the event address is `Bob@X`, not lower-cased |
//! | R-PM-1 | `RCPT TO:<Postmaster>` without a domain MUST be supported, in any case (§4.5.1) | \[G\] + MAIL, `RCPT TO:<postMASTER>` ⇒ `250` |
//! | R-NULL-1 | `Reverse-path = Path / "<>"`: the null sender, used by bounces (§4.1.2) | `MAIL FROM:<>` ⇒ `250`; `<>` as a recipient is refused |
//! | R-SYN-1 | no spaces around the colon in `MAIL FROM:` and `RCPT TO:` (§3.3) | `MAIL FROM: <a@x>` tolerated *(choice, as Postfix)*; a path without angle brackets ⇒ `501 5.5.4` *(choice, as OpenSMTPD)* |
//! | R-SYN-2 | source routes `<@a,@b:u@c>` "MUST BE accepted" and "SHOULD be ignored" (§4.1.2, Appendix C) | the route is dropped; the mailbox is `u@c` |
//! | R-PARAM-1 | an unknown or unimplemented MAIL/RCPT parameter gets 555; "temporarily unable" is 455 (§4.1.1.11) | `MAIL FROM:<a@x> FOO=1` ⇒ `555 5.5.4` (Postfix "Unsupported option"); the application may answer `455` itself |
//! | R-8BIT-1 | the envelope is ASCII unless SMTPUTF8; such commands should get "500 syntax error - invalid character" (§2.4); control characters "MUST NOT be used in MAIL or RCPT" (§4.1.2) | `MAIL FROM:<b\x01b@x>` ⇒ `501 5.5.2`; octets that are not UTF-8 ⇒ `500 5.5.2` |
//! | R-DATA-1 | after the end of data, 2yz means the server took responsibility, 4yz/5yz that it must not deliver (§4.2.5); no partial failure (§4.1.1.4) | `MessageComplete` waits for the application's one verdict; exactly one reply; any verdict ends the transaction |
//! | R-DATA-2 | "message data MUST NOT be sent unless a 354 reply is received" (§3.3) | content in the same read as DATA ⇒ `554 5.5.0` and close *(choice; `manual::smuggling` SMG-P1)*; content after the `354` is normal (SMG-P2) |
//!
//! # Extensions
//!
//! | RFC | rule | input → expected |
//! | --- | --- | --- |
//! | 1870 SIZE | advertise `SIZE <max>`; a declared `SIZE=<1*20DIGIT>` over the fixed maximum ⇒ 552 (5.3.4); temporary lack of space ⇒ 452 (4.3.1); bad syntax ⇒ 501 (5.5.4); content over the limit ⇒ 552 **after** the end of data (§6.3) | `SIZE=99999999999` (20 digits, even beyond `u64`, is "too big", never an overflow) ⇒ `552 5.3.4`; `SIZE=abc` ⇒ `501 5.5.4`; content of max + 1 ⇒ `552 5.3.4` only after `\r\n.\r\n` |
//! | 6152 8BITMIME | `BODY=8BITMIME` or `BODY=7BIT`; other values refused | `BODY=8BITMIME` ⇒ `250`; `BODY=FOO` ⇒ `501 5.5.4`; after HELO (no ESMTP) ⇒ `555 5.5.4` |
//! | 6531 SMTPUTF8 | the `SMTPUTF8` MAIL parameter (no value) allows UTF-8 addresses; a non-ASCII address without it ⇒ 553 5.6.7 (§3.4 to 3.6) | `MAIL FROM:<ü@x>` ⇒ `553 5.6.7`; with `SMTPUTF8` ⇒ `250`; `SMTPUTF8=x` ⇒ `501`; `\xc3\x28` ⇒ `500 5.5.2` |
//! | 3030 CHUNKING | `BDAT <1*DIGIT> [LAST]`; exactly N octets follow; one reply per chunk; after a failed chunk, further chunks are accepted and discarded until LAST or RSET; DATA in a BDAT transaction ⇒ 503; BDAT may be pipelined (§2) | \[T\] `BDAT 5\r\nhello` ‖ `BDAT 0 LAST\r\n` ⇒ `250`, `250`, `MessageComplete`; \[T\] `BDAT 3\r\nabc` `DATA\r\n` ⇒ `250`, `503` (Exim test 0900); `BDAT 0\r\n` (not LAST) ⇒ `504 5.5.4` *(choice, as Exim)*; `BDAT x`, `BDAT 1 FOO`, more than 20 digits ⇒ `521 5.5.4 Syntax: BDAT count [LAST]` and close (the chunk's end is unknown; as Postfix); BDAT without RCPT ⇒ `503 5.5.1` **and the N octets are skipped**; a chunk over the size ⇒ `552 5.3.4` once read; 89 announced, 88 sent, EOF ⇒ message aborted |
//! | 3030 BINARYMIME | `BODY=BINARYMIME` needs CHUNKING; DATA after it ⇒ 503 (§3) | `MAIL … BODY=BINARYMIME`, then `DATA` ⇒ `503 5.5.1` (go-smtp answers 502); BDAT carries any octets; without CHUNKING ⇒ `555 5.5.4` |
//! | 2920 PIPELINING | the server "MUST respond to commands in the order they are received", "MUST send all pending responses immediately whenever the local TCP input buffer is emptied", and "MUST NOT flush or otherwise lose the contents of the TCP input buffer under any circumstances whatsoever"; EHLO, DATA, VRFY, EXPN, TURN, QUIT, NOOP only last in a group; extension commands last unless their RFC says otherwise (§3.1, §3.2) | `MAIL…\r\nRCPT…\r\nRCPT…\r\n` in one read ⇒ three replies in order, all available after that read; a failed RCPT does not drop what follows; a single MAIL gets its reply at once. Sans-IO form: after every `handle_input` all producible output can be polled. Group-ending violations: `manual::smuggling` SMUG-9; without PIPELINING (not advertised, or HELO) any command followed by more input is a violation *(choice, as Postfix ≥ 3.9)* |
//! | 3207 STARTTLS | see [`starttls`](super::starttls) | TLS-01 … TLS-14 |
//! | 4954 AUTH | `AUTH mech [initial-response]`; challenges are `334 <base64>` and nothing else; client `*` ⇒ 501; undecodable base64 ⇒ 501 (5.5.2); initial response `=` is empty; AUTH in a transaction or after success ⇒ 503; success `235 2.7.0`; bad credentials `535 5.7.8`; temporary failure `454 4.7.0`; unknown mechanism `504 5.5.4`; too weak `534 5.7.9`; needs TLS `538 5.7.11`; exchange line too long `500 5.5.6`; auth required `530 5.7.0`; the MAIL `AUTH=` parameter is xtext (§4 to §6) | `AUTH PLAIN\r\n` ⇒ `334 ` (empty challenge); `*\r\n` ⇒ `501`; `AUTH PLAIN =` ⇒ empty response (⇒ `535`); `AUTH PLAIN !!!!` ⇒ `501 5.5.2` (go-smtp's `454 4.7.0` is wrong); \[T\] `AUTH PLAIN …` ⇒ `503 5.5.1`; a second AUTH ⇒ `503 5.5.1`; AUTH before EHLO ⇒ `503 5.5.1`; with [`require_auth`](crate::ServerConfig::require_auth), MAIL before AUTH ⇒ `530 5.7.0` |
//! | 4616 PLAIN | `[authzid] NUL authcid NUL passwd`; authcid and passwd of 1 to 255 octets accepted; no NUL inside a field | `\0user\0pass` ⇒ accepted; one NUL or three NULs ⇒ `535 5.7.8`; a 255-octet password accepted; a decoded CR or LF in a field ⇒ refused (OpenSMTPD checks for them too) |
//! | LOGIN (draft-murchison-sasl-login-00, Microsoft MS-XLOGIN) | challenges `334 VXNlcm5hbWU6` ("Username:") and `334 UGFzc3dvcmQ6` ("Password:"); an initial response is the user name | `AUTH LOGIN` ⇒ `334 VXNlcm5hbWU6`; `dXNlcg==` ⇒ `334 UGFzc3dvcmQ6`; `*` at either step ⇒ `501` |
//! | 3461 DSN | MAIL `RET=FULL` or `RET=HDRS`, `ENVID=` xtext ≤ 100; RCPT `NOTIFY=NEVER` or a list of `SUCCESS`, `FAILURE`, `DELAY` (NEVER alone), `ORCPT=<addr-type>;<xtext>`; xtext is `!` to `~` except `+` and `=`, with `+XX` in upper-case hex; duplicates ⇒ 501 | `NOTIFY=NEVER,SUCCESS` ⇒ `501 5.5.4`; `RET=FULL RET=HDRS` ⇒ `501`; `ENVID=a+0Ab` ⇒ `501` (control); DSN parameters while DSN is not advertised ⇒ `555 5.5.4` *(choice; Postfix answers 501)* |
//! | 2034 ENHANCEDSTATUSCODES | prefix every 2xx/4xx/5xx reply except the greeting and the HELO/EHLO reply; the class digit equals the reply's; the same code on every line of a multiline reply; sent whether or not the client used EHLO; never on 3xx (§3) | checked on every line of every transcript test; a reply the application gives without an enhanced code gets `class.0.0`; with the extension off no reply carries one |
//! | 8689 REQUIRETLS | advertised only when the session is under TLS (as Postfix and Exim do); the MAIL parameter is accepted only under TLS, otherwise unknown ⇒ 555 (§4) | plaintext `MAIL FROM:<a@x> REQUIRETLS` ⇒ `555 5.5.4`; under TLS ⇒ `250` and `Event::Mail` with `requiretls: true` |
//! | 2033 LMTP | `LHLO` instead of HELO/EHLO; after the end of data, **one reply per accepted RCPT, in RCPT order**; PIPELINING and ENHANCEDSTATUSCODES required; never on port 25 (§4) | 3 RCPTs, 2 accepted ⇒ 2 replies after `.`; `LHLO` on an SMTP listener, or HELO/EHLO on an LMTP one ⇒ `500 5.5.2` *(choice; 502 also allowed)* |
//! | 6710 MT-PRIORITY, 2852 DELIVERBY, 4865 FUTURERELEASE | parameter grammar only; comparing values with the advertised bounds needs policy or the wall clock | malformed ⇒ `501 5.5.4`; not advertised ⇒ `555 5.5.4`; the typed values reach the application in `Event::Mail` |
//! | 7672 DANE | outbound TLSA verification: a client concern; the server only presents its configured chain | — |
//! | 8314 implicit TLS | submission over TLS from the first octet (port 465) | `manual::starttls` TLS-13 |
//!
//! # Sequencing state table
//!
//! Rows are session states, columns the command received. `→` names the next state; a
//! refused command leaves the state as it was (R-SEQ-5). "skip N" means BDAT's announced
//! octets are consumed even though the chunk is refused.
//!
//! | state \ command | HELO/EHLO | MAIL | RCPT | DATA | BDAT | RSET | STARTTLS | AUTH | QUIT |
//! | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
//! | Connected (no HELO) | 250 → Greeted | 503 | 503 | 503 | 503, skip N | 250 | 220 → TLS *(choice, as Postfix; many servers require EHLO first)* | 503 | 221 |
//! | Greeted | 250 (reset) | 250 → Mail | 503 | 503 | 503, skip N | 250 | 220 → TLS, EHLO required again | 334/235/… (AUTH needs TLS by default) | 221 |
//! | Mail | 250, reset → Greeted | 503 nested | 250 → Rcpt, or refused and stay | 503 (554 once a RCPT was refused) | likewise, skip N | 250 → Greeted | 220, reset | 503 | 221 |
//! | Rcpt | 250 (reset) | 503 | 250, 452 over the limit, or the application's 5xx | 354 → Data | 250 → Bdat | 250 → Greeted | 220, reset | 503 | 221 |
//! | Data | content | content | content | content | content | content | content | content | content |
//! | Bdat (a non-LAST chunk seen) | 250 (reset) | 503 | 503 | 503 | 250; LAST completes | 250 → Greeted | 220, reset | 503 | 221 |
//!
//! In the Data state every line is content until `\r\n.\r\n`. A refused BDAT LAST still ends the
//! transaction (the Postfix 2026 row of [`classic_bugs`](super::classic_bugs)); a refused
//! non-LAST chunk keeps it.
