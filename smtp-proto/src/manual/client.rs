//! # The client: what [`client::Client`](crate::client::Client) does, by rule family
//!
//! Each rule has an ID; `tests/tests/client_rules.rs` holds one transcript test per ID (the
//! scripted-server language of `tests/src/client_script.rs`), `client_loopback.rs` the
//! property that our client and our server agree, and `client_interop.rs` the same rules
//! against Postfix, smtp-sink and aiosmtpd. The reply grammar's rules (`REP-*`, `ESC-*`,
//! `CAP-*`) are in [`replies`](crate::manual::replies).
//!
//! | family | what the rules fix |
//! |---|---|
//! | `GRT-*` | the greeting: wait for it, a 4xx/5xx greeting refuses the session (try the next host), 554 never answered with commands |
//! | `EHLO-*` | EHLO first, HELO only after EHLO is refused as unknown; capabilities come from the last EHLO, re-read after STARTTLS |
//! | `CTLS-*` | STARTTLS policy: never, opportunistic (encryption without verification, Postfix `may`), required (a server that cannot gets QUIT and the mail is deferred 4.7.x), implicit; nothing buffered before the handshake is trusted after it |
//! | `RTLS-*` | REQUIRETLS mail only over verified TLS to a server that offers REQUIRETLS |
//! | `AUTH-*` | AUTH only after TLS unless allowed; the mechanism choice, SASL exchanges, failures close the session |
//! | `PIPE-*` | PIPELINING: a send cursor runs ahead of the receive cursor and stops only at sync points; replies are matched in order; a refused DATA is never followed by content |
//! | `RCPT-*` | per-recipient results; `452`/`552` to RCPT is a recipient limit (deferred, retried on the same connection), other 5xx a bounce |
//! | `BDAT-*`, `BODY-*`, `SIZE-*`, `I18N-*` | CHUNKING, BODY=8BITMIME/BINARYMIME, SIZE and SMTPUTF8 only when offered; content that does not fit the declared type stops the message, not the session |
//! | `DSN-*` | DSN parameters only to a server that offers DSN; the report says whether they were sent |
//! | `INJ-*` | nothing from the application reaches the wire unvalidated: addresses and parameters re-checked, no CR/LF in any argument |
//! | `TMO-*` | a deadline per reply (Postfix's defaults); no reply to the end of data is "maybe delivered" (RFC 1047) |
//! | `END-*`, `REUSE-*` | QUIT, `421`, a lost connection; RSET between transactions, a connection not reused after a refused RSET |
//! | `LMTP-*` | LHLO, one reply per accepted recipient at the end of data |
//! | `BUG-*` | regressions from other clients' bugs (lettre, mail-send) |
