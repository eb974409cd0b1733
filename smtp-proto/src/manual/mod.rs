//! The rule book: what the server does with every byte, and why.
//!
//! This module holds no code. It is the reference that comments and tests in this
//! repository cite by rule ID, so that "why does the server answer `500 5.5.2` and hang up
//! here?" can be answered from a clone, in `cargo doc`. A citation looks like
//! `manual::smuggling SMG-C1`: the submodule, then the ID, which appears in that submodule
//! as a heading or as the first cell of a table row (a text search for the ID finds it).
//! Doc comments can link to it, as in
//! ``[`manual::smuggling`](crate::manual::smuggling)``.
//!
//! | submodule | what it covers | rule IDs |
//! | --- | --- | --- |
//! | [`smuggling`](crate::manual::smuggling) | SMTP smuggling: end-of-data sequences, bare CR/LF/NUL, BDAT, pipelining synchronisation | `SMG-01`…`SMG-17`, `SMG-B*`, `SMG-P*`, `SMG-C*`, `SMUG-1`…`SMUG-10` |
//! | [`starttls`](crate::manual::starttls) | STARTTLS plaintext injection, the reset after the handshake, TLS in the adapters | `TLS-01`…`TLS-14` |
//! | [`classic_bugs`](crate::manual::classic_bugs) | famous SMTP server bugs (OpenSMTPD, Exim 21Nails, Postfix, qmail) and the rule that prevents each | by CVE |
//! | [`conformance`](crate::manual::conformance) | RFC 5321 and extension conformance, the sequencing state table | `R-*` |
//! | [`defaults`](crate::manual::defaults) | every default of [`ServerConfig`](crate::ServerConfig) and the reason for it | — |
//! | [`client`](crate::manual::client) | the client machine's rules, by family | `GRT-*`, `EHLO-*`, `CTLS-*`, `PIPE-*`, `RCPT-*`, `BDAT-*`, `AUTH-*`, … |
//! | [`relay`](crate::manual::relay) | the relay's routing, retries, dispatch, spool and delivery status notifications | `RT-*`, `MX-*`, `NMX-*`, `DNS-*`, `Q-*`, `DSP-*`, `AZ-*`, `SPL-*`, `RCV-*`, `DSN-*`, `PT-*` |
//! | [`replies`](crate::manual::replies) | the client's side of the grammar: reply lines, enhanced status codes, EHLO capabilities | `REP-*`, `ESC-*`, `GRT-03`, `EHLO-01`, `CAP-*` |
//!
//! # Notation
//!
//! The tables use the notation of the transcript tests (module `transcript` of the
//! workspace's test crate, `tests/src/transcript.rs`):
//!
//! * `C:` octets the client sends, written with Rust byte-string escapes (`\r` is 0x0D,
//!   `\n` is 0x0A, `\x00` is NUL). `‖` is a read boundary: the octets on either side arrive
//!   in separate `handle_input` calls. Octets without a `‖` between them arrive together.
//! * `S:` the reply the server writes: the basic code, then the RFC 3463 enhanced code
//!   (ENHANCEDSTATUSCODES is on by default).
//! * `E:` the event(s) the application sees; "close" means the session ends after the reply.
//! * Starting states: **\[G\]** greeted (`EHLO c.example\r\n` answered `250`); **\[T\]** in a
//!   transaction (\[G\], then `MAIL FROM:<a@x.example>\r\n` and `RCPT TO:<b@y.example>\r\n`
//!   both answered `250`); **\[D\]** receiving content (\[T\], then `DATA\r\n` answered `354`).
//! * "strict" is the default [`LineEndingPolicy::Strict`](crate::LineEndingPolicy::Strict);
//!   "normalize" is the opt-in [`LineEndingPolicy::Normalize`](crate::LineEndingPolicy::Normalize),
//!   modelled on Postfix ≥ 3.9 `smtpd_forbid_bare_newline = normalize`.
//! * *(choice)* marks a reply that no RFC fixes: this crate picked one, documents it here
//!   and pins it with a test. Another server may answer differently and still conform.
//!
//! # The ten rules that matter most
//!
//! 1. A line ends only at CR LF, and content ends only at CR LF `.` CR LF (RFC 5321 §2.3.8,
//!    §4.1.1.4). No other octet sequence ends the content, in any mode
//!    ([`smuggling`](crate::manual::smuggling), `SMUG-1`).
//! 2. The end of the content is found on the raw octets, before any rewriting of line
//!    endings; rewriting first is how a gateway *creates* a terminator (`SMUG-2`).
//! 3. Bare LF, bare CR and NUL in content are answered once, after the real end of data,
//!    never in the middle: replying early drops the server back to command mode with the
//!    rest of the message still to come, which then runs as commands (`SMUG-3`, `SMUG-5`).
//! 4. Plaintext that arrived behind `STARTTLS` is never executed after the handshake, and
//!    the handshake resets the whole session (RFC 3207 §4.2, CVE-2011-0411; [`starttls`](crate::manual::starttls)).
//! 5. Input already buffered behind a command that must end a pipelined group (RFC 2920
//!    §3.1) is a synchronisation violation: `554 5.5.0` and close (`SMUG-9`).
//! 6. An over-long command line is discarded to its end and answered `500 5.5.2` once; its
//!    tail is never a command ([`conformance`](crate::manual::conformance) `R-LINE-2`).
//! 7. Everything a client can make the server count or hold is capped, with checked
//!    arithmetic (Exim 21Nails, qmail; [`classic_bugs`](crate::manual::classic_bugs)).
//! 8. Decoded parameter values (xtext, base64) never contain CR, LF, NUL or other controls
//!    (Exim CVE-2020-28021, CVE-2020-28026).
//! 9. Address parsing is total and fails closed: anything not explicitly valid is refused
//!    (OpenSMTPD CVE-2020-7247).
//! 10. BDAT content is counted octets: no dot handling, and the announced octets are always
//!     consumed, even when the chunk is refused; a BDAT size that cannot be parsed is
//!     answered with a 5xx and the session closes (RFC 3030).

pub mod classic_bugs;
pub mod client;
pub mod conformance;
pub mod defaults;
pub mod proxy;
pub mod relay;
pub mod replies;
pub mod smuggling;
pub mod starttls;
