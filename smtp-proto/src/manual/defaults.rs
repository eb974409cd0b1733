//! Why each default of [`ServerConfig::new`](crate::ServerConfig::new) is what it is.
//!
//! The rule followed throughout: a default is what an RFC requires, or failing that the
//! safe choice that a hardened server (mostly Postfix ≥ 3.9) ships with. Anything that needs
//! the application's cooperation (certificates, credentials, a clock) is off until the
//! application turns it on. Where a value is this crate's own pick it says so.
//!
//! # Session
//!
//! | setting | default | why |
//! | --- | --- | --- |
//! | [`hostname`](crate::ServerConfig::hostname) | the argument of `new` | the greeting and the EHLO reply start with the server's domain (RFC 5321 §4.1.1.1, §4.3.1); there is no safe guess |
//! | [`greeting`](crate::ServerConfig::greeting) | `ESMTP` | free text after the domain in `220 <domain> <text>` (RFC 5321 §4.3.1); `ESMTP` tells old clients that EHLO is worth trying and says nothing about the software (no version banner to fingerprint) |
//! | [`protocol`](crate::ServerConfig::protocol) | [`Protocol::Smtp`](crate::Protocol::Smtp) | LMTP (RFC 2033) is for local delivery and must not be offered on port 25, so it has to be asked for |
//! | [`line_endings`](crate::ServerConfig::line_endings) | [`LineEndingPolicy::Strict`](crate::LineEndingPolicy::Strict) | RFC 5321 §2.3.8 allows no line ending but CR LF. Strict refuses a command with a bare LF and a message with bare CR, bare LF or NUL after its end (`manual::smuggling` SMUG-3, SMG-C1). Postfix defaults to its `normalize` mode for compatibility with broken senders; this crate, having no installed base, starts strict and offers normalize as an opt-in |
//! | [`pipelining_sync_check`](crate::ServerConfig::pipelining_sync_check) | on | RFC 2920 §3.1 lets only a group's last command carry nothing after it; input already waiting there was sent blind, which well-behaved clients never do and smuggling always does (`manual::smuggling` SMUG-9, SMG-P1 … SMG-P5). Postfix ≥ 3.9 ships `smtpd_forbid_unauth_pipelining = yes` |
//! | [`starttls_injection`](crate::ServerConfig::starttls_injection) | [`InjectionPolicy::Discard`](crate::InjectionPolicy::Discard) | plaintext behind STARTTLS is an injection (CVE-2011-0411) and must never run; discarding it, as Postfix and aiosmtpd do, keeps an honest but over-eager client working, while `Close` (SparkPost Momentum's default) punishes it (`manual::starttls` TLS-02) |
//! | [`require_tls`](crate::ServerConfig::require_tls) | off | RFC 3207 §4: a publicly referenced SMTP server "MUST NOT require the use of the STARTTLS extension in order to deliver mail locally"; a submission listener turns it on (`manual::starttls` TLS-09) |
//! | [`require_auth`](crate::ServerConfig::require_auth) | off | an MX must take mail from strangers; a submission listener turns it on (`530 5.7.0`, RFC 4954 §6) |
//! | [`auth_requires_tls`](crate::ServerConfig::auth_requires_tls) | on | PLAIN and LOGIN send the password in the clear; RFC 4954 §4 lets a server hide mechanisms until TLS is up and answer `538 5.7.11` (`manual::starttls` TLS-14), as Postfix does with `smtpd_tls_auth_only` |
//! | [`close_on_forbidden_commands`](crate::ServerConfig::close_on_forbidden_commands) | on | an HTTP verb or a `Header:` line means a browser or a proxy was tricked into talking to the SMTP port (cross-protocol attacks); Postfix's `smtpd_forbidden_commands` answers `221 2.7.0` and hangs up |
//! | [`no_service`](crate::ServerConfig::no_service) | off | the RFC 5321 §3.1 "no service" mode (`554` greeting, `503` to all but QUIT) is a deliberate operator decision (`manual::conformance` R-GREET-1) |
//!
//! # Extensions
//!
//! [`Extensions::default`](crate::Extensions::default) turns on what every modern client
//! expects and the core implements by itself, and leaves off what needs the application.
//!
//! | extension | default | why |
//! | --- | --- | --- |
//! | [`pipelining`](crate::Extensions::pipelining) | on | RFC 2920 saves a round trip per command; the core answers in order and flushes whenever input runs out, so it costs nothing. Without it, the synchronisation check treats every command as the end of a group |
//! | [`size`](crate::Extensions::size) | on | RFC 1870 lets a client learn the limit (`SIZE <max_message_size>`) and give up before sending, instead of after (`552 5.3.4`) |
//! | [`eight_bit_mime`](crate::Extensions::eight_bit_mime) | on | RFC 6152; 8-bit content is passed through unchanged, and almost every client uses it |
//! | [`chunking`](crate::Extensions::chunking), [`binary_mime`](crate::Extensions::binary_mime) | on | RFC 3030: counted octets have no terminator to smuggle (`manual::smuggling` SMG-B1); the core consumes chunks exactly, even refused ones. BINARYMIME is only advertised with CHUNKING |
//! | [`smtputf8`](crate::Extensions::smtputf8) | on | RFC 6531; without it a UTF-8 address can only be refused (`553 5.6.7`). It also raises the MAIL and RCPT line limits by 10 (RFC 6531 §3.4) |
//! | [`enhanced_status_codes`](crate::Extensions::enhanced_status_codes) | on | RFC 2034/3463 codes make replies machine-readable; the core adds the right class to every 2xx/4xx/5xx reply |
//! | [`dsn`](crate::Extensions::dsn) | on | RFC 3461 parameters are parsed and validated by the core (xtext with no controls, ENVID ≤ 100, ORCPT ≤ 500 — the Exim CVE-2020-28021/28026 checks) and handed over typed; honouring them is the application's job |
//! | STARTTLS | off | not an [`Extensions`](crate::Extensions) setting, so it cannot disagree with the TLS layer: it needs a certificate and someone to run the handshake, so [`Server::new`](crate::Server::new) does not offer it and [`Server::offering_starttls`](crate::Server::offering_starttls) does. The `tls` module's `Endpoint` builds its servers with the latter exactly when its mode is `TlsMode::StartTls` |
//! | [`requiretls`](crate::Extensions::requiretls) | off | RFC 8689 promises onward TLS, which only the application can keep; even when on, it is advertised only under TLS |
//! | [`mt_priority`](crate::Extensions::mt_priority), [`deliver_by`](crate::Extensions::deliver_by), [`future_release`](crate::Extensions::future_release) | off | RFC 6710, 2852 and 4865 ask for queue behaviour (priorities, deadlines, holding mail) and, for the last two, bounds checked against the wall clock, which the core never reads |
//! | [`auth_mechanisms`](crate::Extensions::auth_mechanisms) | empty | AUTH needs a credential store. PLAIN and LOGIN are decoded by the core; other names are passed through as raw exchanges |
//!
//! # Limits
//!
//! | limit | default | why |
//! | --- | --- | --- |
//! | [`command_line`](crate::Limits::command_line) | 512 octets | RFC 5321 §4.5.3.1.4, verb and CR LF included. MAIL and RCPT get the room their advertised extensions add: SIZE +26 (RFC 1870 §3), SMTPUTF8 +10 (RFC 6531 §3.4), `AUTH=` +500 (RFC 4954 §5); for the others, the longest value their grammar allows (BODY 16, RET and ENVID 118, REQUIRETLS 11, MT-PRIORITY 15, BY 17, HOLDUNTIL 45); RCPT +530 with DSN (NOTIFY 30, ORCPT 500). A line that would not fit is answered `500 5.5.2` before any parsing (`manual::conformance` R-LINE-2; Exim CVE-2019-16928) |
//! | [`text_line`](crate::Limits::text_line) | 1000 octets | RFC 5321 §4.5.3.1.6, CR LF included, the stuffing dot not counted. Longer lines are accepted and flagged rather than refused, as Postfix does, and never split (`manual::conformance` R-LINE-3, `manual::smuggling` SMG-14) |
//! | [`auth_line`](crate::Limits::auth_line) | 12288 octets | RFC 4954 §4 sets this for SASL exchange lines, since a base64 response can be far longer than a command; longer lines get `500 5.5.6` |
//! | [`max_message_size`](crate::Limits::max_message_size) | 32 MiB | *(choice)*: above common provider limits (25 MB is typical) with room for base64 growth; RFC 5321 §4.5.3.1.7 only requires at least 64K octets. Checked with saturating arithmetic and answered after the end of data (qmail CVE-2005-1513, Exim CVE-2020-28020) |
//! | [`max_recipients`](crate::Limits::max_recipients) | 1000 | Postfix's `smtpd_recipient_limit`; RFC 5321 §4.5.3.1.8 requires at least 100 and §4.5.3.1.10 the reply `452` past the limit; a cap at all because of Exim CVE-2020-28017 |
//! | [`max_errors`](crate::Limits::max_errors) | 20 | Postfix's `smtpd_hard_error_limit`; past it the session ends with `421 4.7.0`, so a client cannot spend the server's time on endless junk |
//! | [`max_buffered_input`](crate::Limits::max_buffered_input) | 64 KiB | while the application is deciding, pipelined input waits in the core (RFC 2920 forbids dropping it); 64 KiB holds any legitimate pipelined group, and past it the core stops asking for input instead of growing |
//!
//! # Timeouts
//!
//! | timeout | default | why |
//! | --- | --- | --- |
//! | [`command`](crate::Timeouts::command) | 5 minutes | RFC 5321 §4.5.3.2.7: the server waits at least five minutes for a command. It runs from the moment the server is ready for the line, and trickling octets does not extend it, so a slowloris client cannot hold a session (`manual::conformance` R-TIMEOUT-1) |
//! | [`data`](crate::Timeouts::data) | 5 minutes between reads that carry content | RFC 5321 §4.5.3.2.7 again; the client allows itself 3 minutes per data block (§4.5.3.2.5) and 10 minutes for the final reply (§4.5.3.2.6), so five minutes of silence means the client is gone |
