//! Reading what a server says: reply lines, enhanced status codes and EHLO capabilities.
//!
//! Rules `REP-*`, `ESC-*`, `GRT-03`, `EHLO-01` and `CAP-*`: the grammar a client needs, in
//! [`codec::reply`](crate::codec::reply) ([`ReplyParser`](crate::codec::ReplyParser)) and
//! [`codec::ehlo`](crate::codec::ehlo) ([`Capabilities`](crate::codec::Capabilities)). Here
//! `S:` is what the *server* sends and the expected column is what the parser reports.
//! Notation otherwise as in [the manual](super).
//!
//! # The principle
//!
//! RFC 5321 binds servers tightly (a reply line is at most 512 octets, §4.5.3.1.5; a space
//! follows the last code, §4.2.1) and asks clients to be forgiving ("clients MUST be
//! prepared for it to be omitted"). The parser therefore accepts everything a real server
//! might send that cannot desynchronise the conversation, and refuses only what would: a
//! line that does not start with a three-digit code, a first digit outside 2–5, and a
//! multi-line reply whose lines disagree on the code. Everything it keeps is bounded.
//!
//! Bugs in other clients that these rows prevent: lettre 0.11 refuses the legal `250\r\n`
//! (no space after the code); mail-send 0.6 reads each reply into a fresh buffer and loses
//! a second pipelined reply that arrived in the same segment; Stalwart smtp-proto 0.2 takes
//! the code of a multi-line reply from its first line and never checks the others.
//!
//! # Reply lines (RFC 5321 §4.2)
//!
//! | ID | input | expected | why |
//! | --- | --- | --- | --- |
//! | REP-01 | `S: 250 OK\r\n` | one reply: 250, text `OK` | §4.2 |
//! | REP-02 | `S: 250\r\n` | 250 with empty text, not an error | §4.2.1: the space may be missing; lettre fails here |
//! | REP-03 | `S: 250 \r\n` | 250 with empty text | §4.2.1 |
//! | REP-04 | `S: 250-a\r\n250-b\r\n250 c\r\n` | one reply of three lines `a`, `b`, `c` | §4.2 |
//! | REP-05 | `S: 250-\r\n250 c\r\n` | legal: a continuation line may have no text | the ABNF's `[ textstring ]` |
//! | REP-06 | `S: 250-a\r\n251 b\r\n` | protocol error: the code changed inside a reply | §4.2.1; Stalwart checks line 1 only |
//! | REP-07 | `S: 250-a\r\n250 b\r\n`, split at every octet | the same reply every time | split invariance, as `SMUG-10` for the server |
//! | REP-08 | `S: 250 a\r\n250 b\r\n` in one read | two replies, in order, none lost | mail-send drops the second |
//! | REP-09 | `S: 250 a\r\n25` ‖ `0 b\r\n` | two replies; the partial second one waits for its end | the same |
//! | REP-10 | `2500 OK`, `25 OK`, `250OK`, `2x0 OK` (each + CR LF) | protocol error | a code is three digits, then `-`, SP or the line end |
//! | REP-11 | `199 x`, `600 x`, `000 x` | a fatal error of its own kind: QUIT, best effort, and close | §4.2.1: a first digit outside 2–5 SHOULD be fatal |
//! | REP-12 | `571 blocked`, `458 later`, `299 odd` | accepted; judged by the first digit only (permanent, temporary, success) | §4.2.1's theory of reply codes; second digits 6–9 tolerated *(choice)* |
//! | REP-13 | `S: 250 ok\n` | accepted as a line end, flagged (`bare_lf_seen`) *(choice)* | robustness: a bare LF in a reply cannot smuggle anything |
//! | REP-14 | `S: 250 a\rb\r\n` | text kept raw as `a\rb`; a sanitised form (controls removed) for logs and bounces | header injection through a reply's text |
//! | REP-15 | one line of 5,000 octets | code kept, text cut at 2,048 octets (Postfix's `line_length_limit`), the rest read and dropped, flagged *(choice)* | the 512-octet limit binds the server, not us |
//! | REP-16 | `S: 250-x\r\n` ten thousand times | protocol error past 128 lines or 64 KiB *(choice)*; memory stays bounded | an endless multi-line reply |
//! | REP-17 | `S: 250 \xc3\xa9t\xc3\xa9\r\n` | accepted as bytes | SMTPUTF8 servers may write UTF-8 text |
//! | GRT-03 | `S: 220-mx.example\r\n220 ready\r\n` | a multi-line greeting; the server's name is the first word of its first line | §4.2, §4.3.1 |
//!
//! # Enhanced status codes (RFC 2034, RFC 3463)
//!
//! `class "." subject "." detail`, class 2, 4 or 5, subject and detail of one to three
//! digits, then SP or the line end.
//!
//! | ID | input | expected |
//! | --- | --- | --- |
//! | ESC-01 | `S: 550 5.1.1 No such user\r\n` | 550, enhanced `5.1.1`, text `No such user` |
//! | ESC-02 | `S: 550 5.1.1\r\n` | enhanced `5.1.1`, empty text |
//! | ESC-03 | `S: 550 4.1.1 x\r\n` | the class is not the code's first digit: no enhanced code; the text is `4.1.1 x` |
//! | ESC-04 | `550 5.1234.1 x`, `550 5.1.`, `250 2.0.0Ok` | not an enhanced code; the whole text is kept |
//! | ESC-05 | `S: 250-2.0.0 a\r\n250 2.0.0 b\r\n` | enhanced `2.0.0`; each line's text without it |
//! | ESC-06 | a code on a reply to a client that was not offered ENHANCEDSTATUSCODES | parsed all the same when its class fits *(choice)*: servers send them to HELO clients too |
//!
//! # Capabilities (the EHLO reply, RFC 5321 §4.1.1.1)
//!
//! `ehlo-line = ehlo-keyword *( SP ehlo-param )`; keywords are case-insensitive. The first
//! line names the server and is never a keyword.
//!
//! | ID | the reply contains | expected |
//! | --- | --- | --- |
//! | EHLO-01 | only `250 mx.example\r\n` | EHLO succeeded; no extensions at all |
//! | CAP-01 | `250-mx.example PIPELINING\r\n…` | PIPELINING on the first line is greeting text, not a capability |
//! | CAP-02 | `pipelining`, `Pipelining` | PIPELINING |
//! | CAP-03 | `SIZE 10240000` | SIZE with a limit of 10,240,000 octets (RFC 1870 §4) |
//! | CAP-04 | `SIZE`, `SIZE 0` | SIZE without a fixed limit |
//! | CAP-05 | `SIZE abc`, `SIZE 99999999999999999999999` | SIZE, limit unknown, taken as no fixed limit *(choice)*; checked arithmetic, never a wrap |
//! | CAP-06 | `AUTH PLAIN LOGIN XOAUTH2` | those three mechanisms |
//! | CAP-07 | the obsolete `AUTH=LOGIN PLAIN`, or a second `AUTH` line | the union of every mechanism listed (old Microsoft servers still send the `=` form) |
//! | CAP-08 | `AUTH FOO-BAR PLAIN` | `FOO-BAR` kept by name as an unknown mechanism |
//! | CAP-09 | `CHUNKING`, `BINARYMIME` | BDAT usable; BINARYMIME only when CHUNKING is offered too (RFC 3030 §3) |
//! | CAP-10 | `8BITMIME`, `SMTPUTF8`, `DSN`, `ENHANCEDSTATUSCODES` | each flag set |
//! | CAP-11 | `STARTTLS` while TLS is already on | ignored: TLS cannot start twice |
//! | CAP-12 | `REQUIRETLS` on a plaintext session | ignored: it means something only under TLS (RFC 8689) |
//! | CAP-13 | `LIMITS RCPTMAX=100 MAILMAX=1000` | at most 100 recipients per transaction and 1,000 transactions per connection (RFC 9422) |
//! | CAP-14 | `XCLIENT NAME ADDR PROTO HELO` | XCLIENT and its attribute names (Postfix's XCLIENT) |
//! | CAP-15 | `250-\r\n`, `250-!!!\r\n`, `250-X-UNKNOWN foo\r\n` | ignored or kept as unknown; never fatal |
//! | CAP-16 | a second EHLO (after STARTTLS, or after XCLIENT's `220`) | the new reply replaces the capabilities; nothing of the old set is kept (RFC 3207 §4.2) |
