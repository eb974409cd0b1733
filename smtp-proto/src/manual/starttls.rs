//! STARTTLS: plaintext command injection, and the reset after the handshake.
//!
//! Rules `TLS-01` … `TLS-14`. Notation: see [the manual](super).
//!
//! # The attack
//!
//! A client sends `STARTTLS\r\n` and, in the same TCP segment, more commands. A server that
//! keeps those octets in its input buffer across the handshake executes them *as if they
//! had come over TLS*. A man in the middle, who cannot touch the encrypted part, can append
//! commands to the plaintext part and have them run inside the protected session: redirect
//! mail, or capture credentials sent afterwards.
//!
//! * **CVE-2011-0411** (Postfix 2.4 to 2.7 and several others), Wietse Venema, "Plaintext
//!   command injection in multiple implementations of STARTTLS"
//!   (<http://www.postfix.org/CVE-2011-0411.html>, 2011-03-07). Postfix's fix: reply
//!   `220 2.0.0 Ready to start TLS`, flush, purge the input stream ("there must not be any
//!   pending plaintext"), then reset HELO, MAIL and RCPT state. Exim's fix (commit
//!   `da80c2a8`, 2011) wipes a non-empty input buffer after STARTTLS. The same class:
//!   Cyrus IMAP CVE-2011-1926, nginx mail proxy CVE-2014-3556.
//! * **NO STARTTLS** (Poddebniak, Ising, Böck, Schinzel, "Why TLS is better without
//!   STARTTLS", USENIX Security 2021, <https://nostarttls.secvuln.info/>): over 40
//!   STARTTLS bugs; command injection was still found in 15 implementations and in about 2%
//!   of mail servers scanned. Server side: Dovecot submission **CVE-2021-33515**. Client side
//!   (response injection, the mirror image): Exim CVE-2021-38371, Mutt/NeoMutt
//!   CVE-2020-14954, LibEtPan CVE-2020-15953, Claws Mail CVE-2020-15917, Thunderbird
//!   CVE-2021-29969; KMail CVE-2021-38373 did not honour STARTTLS at all.
//! * aiosmtpd **CVE-2024-34083** (GHSA-wgjv-9j3q-jhg8, fixed in 1.4.6): extra plaintext
//!   commands after STARTTLS were accepted. The bug lived in the asyncio stream reader's
//!   buffer, not in the protocol object; the fix clears that buffer once TLS is installed.
//!   curl CVE-2021-22947 is the client-side version (cached pipelined responses).
//! * SparkPost Momentum's `starttls_injection_policy = reject` (its default): commands in
//!   the buffer right after STARTTLS make it refuse STARTTLS and drop the connection;
//!   `ignore` discards them.
//! * RFC 3207 §4.2: after the handshake "the SMTP protocol is reset to the initial state",
//!   and the server "MUST discard any knowledge obtained from the client, such as the
//!   argument to the EHLO command, which was not obtained from the TLS negotiation itself".
//! * The TLS layer itself: **Exim CVE-2026-45185 "Dead.Letter"** (fixed in 4.99.3; reported
//!   by XBOW). During a BDAT transfer over STARTTLS, a TLS `close_notify` followed by one
//!   cleartext octet made GnuTLS builds push the octet back into an already freed TLS
//!   buffer: heap corruption, remote code execution before authentication. Earlier, Exim
//!   CVE-2020-28018 (use after free in the OpenSSL glue after a write error).
//!
//! # The rule
//!
//! Octets that arrived before the handshake finished are never interpreted after it. When
//! the server accepts `STARTTLS\r\n`, whatever is still in its input buffer was sent before
//! the client could have seen the `220`: it is an injection. This crate discards it
//! ([`InjectionPolicy::Discard`](crate::InjectionPolicy::Discard), the default, as Postfix
//! and aiosmtpd) or refuses STARTTLS with `554 5.5.0` and closes
//! ([`InjectionPolicy::Close`](crate::InjectionPolicy::Close), as Momentum); either way the
//! `StartTls` event reports how many octets were discarded.
//!
//! After the handshake the session starts over from just after the greeting: no HELO name,
//! no transaction, no AUTH; EHLO is required again; STARTTLS is neither advertised nor
//! accepted. Once TLS is up, plaintext is never read again, and a TLS close, alert or error
//! ends the session.
//!
//! # Test vectors
//!
//! | ID | input | expected | RFC | bug |
//! | --- | --- | --- | --- | --- |
//! | TLS-01 | \[G\] `STARTTLS\r\n` | `220 2.0.0 Ready to start TLS`; `StartTls` with nothing discarded; no further reply and no event until the handshake is done; input fed meanwhile is refused (it belongs to the handshake) | 3207 §4 | — |
//! | TLS-02 | \[G\] `STARTTLS\r\nEHLO evil\r\nMAIL FROM:<x@y>\r\n` in one read | `220`, `StartTls` reporting the 28 injected octets **discarded**; after the handshake no reply arrives without new input (reading a `250` there means vulnerable, as EAST's command-injection-tester checks). With `InjectionPolicy::Close`: `554 5.5.0 Error: plaintext received after STARTTLS`, no handshake, close *(choice)* | 3207 §4.2 | CVE-2011-0411, CVE-2021-33515, CVE-2024-34083 |
//! | TLS-03 | \[G\] `STARTTLS\r\n` ‖ handshake ‖ `MAIL FROM:<a@x>\r\n` | `503 5.5.1 Error: send HELO/EHLO first`: the EHLO before TLS is forgotten | 3207 §4.2 | aiosmtpd `test_forget_ehlo` |
//! | TLS-04 | \[T\] `STARTTLS\r\n` ‖ handshake ‖ `EHLO c\r\n` ‖ `RCPT TO:<b@y>\r\n` | STARTTLS drops the transaction (`TransactionReset`); after the new EHLO, RCPT gets `503 5.5.1 Error: need MAIL command`. An AUTH that succeeded in plaintext is forgotten too | 3207 §4.2 | aiosmtpd `test_forget_mail`, `test_forget_rcpt`; Postfix resets MAIL and RCPT state |
//! | TLS-05 | \[G\] `STARTTLS now\r\n` | `501 5.5.4 Syntax error: no arguments allowed`; no handshake; the session goes on | 3207 §4 (`STARTTLS` takes no argument) | Postfix; aiosmtpd `test_starttls_arg` |
//! | TLS-06 | TLS active, `EHLO c\r\n` | the `250` list **without** STARTTLS | 3207 §4.2 | Stalwart `basic_commands` test |
//! | TLS-07 | TLS active, `STARTTLS\r\n` | `554 5.5.1 Error: TLS already active` (Postfix's reply; go-smtp uses 502, Stalwart 504 5.7.4); never a second handshake; the session goes on | 3207 §4.2 | — |
//! | TLS-08 | STARTTLS not offered (a server from `Server::new`, an `Endpoint` with `TlsMode::Off`), `STARTTLS\r\n` | not advertised; `502 5.5.1 Error: command not implemented` *(choice; `454 4.7.0 TLS not available due to local problem` is for a temporary failure)* | 3207 §4 | — |
//! | TLS-09 | [`require_tls`](crate::ServerConfig::require_tls) on, \[G\] `MAIL FROM:<a@x>\r\n` | `530 5.7.0 Must issue a STARTTLS command first`. Allowed before TLS *(choice: Postfix's list without XCLIENT)*: HELO, EHLO, STARTTLS, NOOP, HELP, QUIT; RSET, VRFY, AUTH, MAIL, RCPT, DATA and BDAT get `530` (BDAT's octets are still skipped). Off by default: RFC 3207 §4 forbids a public MX to require TLS | 3207 §4 | Postfix, OpenSMTPD, aiosmtpd `TestRequireTLS` |
//! | TLS-10 | the TLS handshake fails (garbage instead of a ClientHello, client gone mid-handshake) | close; never fall back to plaintext command processing on that connection (go-smtp writes a plaintext `550` and goes on: not a model). An adapter row | 3207 §4.1 | — |
//! | TLS-11 | \[T\] over TLS: `BDAT 100\r\n` and 10 octets, then TLS `close_notify`, then one cleartext octet | `MessageAborted` and close; the cleartext octet is never parsed. An adapter row | 8446 §6.1 (nothing follows `close_notify`) | Exim CVE-2026-45185 "Dead.Letter" |
//! | TLS-12 | an adapter whose read buffer already holds `STARTTLS\r\nX` | the adapter hands rustls only the raw socket and drops (or refuses) its own buffered plaintext; the `X` reaches neither rustls nor SMTP | 3207 §4.2 | aiosmtpd CVE-2024-34083 (the bug was in the stream reader's buffer) |
//! | TLS-13 | implicit-TLS listener (port 465) | the handshake comes before the greeting; no STARTTLS in the EHLO reply; `STARTTLS` is refused as in TLS-07 | 8314 §3 | — |
//! | TLS-14 | AUTH with [`auth_requires_tls`](crate::ServerConfig::auth_requires_tls) on (the default), before TLS | AUTH is not advertised; `AUTH PLAIN …` or `AUTH LOGIN` gets `538 5.7.11 Encryption required for requested authentication mechanism: AUTH is offered only after TLS, send STARTTLS first` (without STARTTLS on offer: `…: AUTH is offered only over TLS, use this server's TLS port`); an unknown mechanism still gets `504 5.5.4`; after STARTTLS the list is recomputed and AUTH works | 4954 §4, §6 | Postfix HISTORY 20110101 (it answers `504 5.5.4` with the same text) |
//!
//! # The client side
//!
//! If a client is ever added: after reading `220 … Ready to start TLS\r\n`, any octet
//! already buffered is a response injection. Abort (do not start TLS) or discard it, and
//! never parse it after the handshake (Exim CVE-2021-38371, Mutt CVE-2020-14954, LibEtPan
//! CVE-2020-15953, curl CVE-2021-22947).
