//! Server configuration. Every default cites the RFC section it comes from.

use std::time::Duration;

use crate::codec::address::parse_hello_domain;
use crate::codec::data::LineEndingPolicy;
use crate::error::ServerConfigError;
use crate::proxy::{Cidr, ProxyConfig};

/// Which protocol the session speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Protocol {
    /// SMTP (RFC 5321): HELO/EHLO, one reply after end of data.
    #[default]
    Smtp,
    /// LMTP (RFC 2033): LHLO, one reply per accepted recipient after end of data.
    Lmtp,
}

/// What to do with plaintext that arrived after `STARTTLS` before the handshake
/// (CVE-2011-0411): it was sent before the client could have seen the `220`, so it is an
/// injection, never a command.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum InjectionPolicy {
    /// Drop it and go on with the handshake (Postfix, aiosmtpd).
    #[default]
    Discard,
    /// Refuse STARTTLS with `554 5.5.0` and close (SparkPost Momentum's default).
    Close,
}

/// The service extensions advertised in the EHLO/LHLO reply. Each is off unless set,
/// except those every modern client expects (see [`Extensions::default`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Extensions {
    /// PIPELINING (RFC 2920).
    pub pipelining: bool,
    /// SIZE (RFC 1870): advertise `Limits::max_message_size`.
    pub size: bool,
    /// 8BITMIME (RFC 6152).
    pub eight_bit_mime: bool,
    /// CHUNKING (RFC 3030): the BDAT command.
    pub chunking: bool,
    /// BINARYMIME (RFC 3030); only advertised together with CHUNKING.
    pub binary_mime: bool,
    /// SMTPUTF8 (RFC 6531).
    pub smtputf8: bool,
    /// ENHANCEDSTATUSCODES (RFC 2034): enhanced codes on every 2xx/4xx/5xx reply.
    pub enhanced_status_codes: bool,
    /// DSN (RFC 3461): RET, ENVID, NOTIFY, ORCPT.
    pub dsn: bool,
    /// REQUIRETLS (RFC 8689); only advertised and accepted once TLS is active.
    pub requiretls: bool,
    /// MT-PRIORITY (RFC 6710).
    pub mt_priority: bool,
    /// DELIVERBY (RFC 2852), advertised with this minimum by-time in seconds. The BY
    /// parameter is parsed and validated; comparing it with this minimum is the
    /// application's decision (`Event::Mail` carries it).
    pub deliver_by: Option<u32>,
    /// FUTURERELEASE (RFC 4865): (max-future-release-interval in seconds,
    /// max-future-release-date-time as an RFC 3339 string the application keeps current).
    /// HOLDFOR/HOLDUNTIL are parsed and validated; the bounds need the wall clock, so the
    /// application enforces them (`Event::Mail` carries the values).
    pub future_release: Option<(u64, String)>,
    /// SASL mechanisms for AUTH (RFC 4954), upper case. PLAIN and LOGIN are decoded by the
    /// server; any other name is passed through as raw exchanges.
    pub auth_mechanisms: Vec<String>,
}

impl Default for Extensions {
    /// PIPELINING, SIZE, 8BITMIME, SMTPUTF8, ENHANCEDSTATUSCODES, CHUNKING, BINARYMIME and
    /// DSN on; REQUIRETLS, AUTH, MT-PRIORITY, DELIVERBY, FUTURERELEASE off (they need the
    /// application's cooperation). STARTTLS is not an extension setting: it is offered by a
    /// server built with [`Server::offering_starttls`](crate::Server::offering_starttls),
    /// which the `tls` module's `Endpoint` does for its STARTTLS mode.
    fn default() -> Self {
        Self {
            pipelining: true,
            size: true,
            eight_bit_mime: true,
            chunking: true,
            binary_mime: true,
            smtputf8: true,
            enhanced_status_codes: true,
            dsn: true,
            requiretls: false,
            mt_priority: false,
            deliver_by: None,
            future_release: None,
            auth_mechanisms: Vec::new(),
        }
    }
}

/// Bounds on everything a client can make the server hold or count.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Command line, including the verb and CR LF: 512 octets (RFC 5321 §4.5.3.1.4).
    /// MAIL and RCPT lines get the extra room their advertised extensions define.
    pub command_line: usize,
    /// Text line in DATA, including CR LF, not counting a stuffing dot: 1000 octets (RFC 5321
    /// §4.5.3.1.6). Longer lines are accepted and reported in `MessageInfo::flags`.
    pub text_line: usize,
    /// AUTH command and SASL response lines: 12288 octets (RFC 4954 §4).
    pub auth_line: usize,
    /// Largest message accepted, in octets after dot-unstuffing: 32 MiB (choice). RFC 5321
    /// §4.5.3.1.7 requires at least 64 KiB; smaller values are allowed for testing.
    pub max_message_size: u64,
    /// Recipients per transaction: 1000 (Postfix's default; RFC 5321 §4.5.3.1.8 requires at
    /// least 100). The next RCPT gets `452 4.5.3` (§4.5.3.1.10).
    pub max_recipients: usize,
    /// Error replies before the session is closed with `421 4.7.0`: 20 (Postfix
    /// `smtpd_hard_error_limit`).
    pub max_errors: u32,
    /// Input held while a decision is pending before `wants_read` turns false: 64 KiB.
    pub max_buffered_input: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            command_line: 512,
            text_line: 1000,
            auth_line: 12288,
            max_message_size: 32 * 1024 * 1024,
            max_recipients: 1000,
            max_errors: 20,
            max_buffered_input: 64 * 1024,
        }
    }
}

/// How long the server waits for the client (RFC 5321 §4.5.3.2).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timeouts {
    /// For a complete command line, from the moment the server is ready for it: 5 minutes
    /// (§4.5.3.2.7, "Server Timeout"). Trickling bytes does not extend it.
    pub command: Duration,
    /// For progress while receiving message content: 5 minutes between reads that carry
    /// content (§4.5.3.2.7; the client allows 3 minutes per data block, §4.5.3.2.5, and
    /// 10 minutes for our final reply, §4.5.3.2.6).
    pub data: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            command: Duration::from_secs(300),
            data: Duration::from_secs(300),
        }
    }
}

/// Everything that shapes a session. Build one per listener and share it with `Arc`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerConfig {
    /// The name in the greeting and the EHLO reply (RFC 5321 §4.3.1).
    pub hostname: String,
    /// Text after the host name in the 220 greeting.
    pub greeting: String,
    /// SMTP or LMTP.
    pub protocol: Protocol,
    /// Advertised extensions.
    pub extensions: Extensions,
    /// Size and count limits.
    pub limits: Limits,
    /// Timeouts.
    pub timeouts: Timeouts,
    /// Bare CR, bare LF and NUL handling in commands and content ([`manual::smuggling`](crate::manual::smuggling)).
    pub line_endings: LineEndingPolicy,
    /// RFC 2920 synchronisation check: input that arrives before the reply to a command that
    /// must end a pipelined group (or any command, before EHLO or without PIPELINING) gets
    /// `554 5.5.0` and the session closes (Postfix ≥ 3.9 `smtpd_forbid_unauth_pipelining`).
    pub pipelining_sync_check: bool,
    /// Plaintext buffered after STARTTLS.
    pub starttls_injection: InjectionPolicy,
    /// Refuse mail until TLS is active (`530 5.7.0`, RFC 3207 §4); off by default because a
    /// public MX must not require it (RFC 3207 §4).
    pub require_tls: bool,
    /// Refuse MAIL until AUTH succeeded (`530 5.7.0`, RFC 4954 §6).
    pub require_auth: bool,
    /// Offer and accept AUTH only under TLS (`538 5.7.11` otherwise, RFC 4954 §4); on by
    /// default since PLAIN and LOGIN send the password in the clear.
    pub auth_requires_tls: bool,
    /// Close the session on HTTP verbs and `Header:` lines (`221 2.7.0`, Postfix
    /// `smtpd_forbidden_commands`); on by default.
    pub close_on_forbidden_commands: bool,
    /// "No SMTP service here" (RFC 5321 §3.1): greet with `554`, answer every command but
    /// QUIT with `503 5.5.1`, QUIT with `221`. Off by default.
    pub no_service: bool,
    /// The PROXY protocol stage in front of every connection of this listener
    /// ([`crate::proxy`]); `None` (the default): a direct listener, where a `PROXY` line is
    /// an ordinary unknown command (PX-1).
    pub proxy: Option<ProxyConfig>,
    /// XCLIENT (Postfix `XCLIENT_README`): socket peers in these networks see it in the
    /// EHLO reply and may use it (Postfix `smtpd_authorized_xclient_hosts`); empty (the
    /// default): refused with `550 5.7.0` for everyone.
    pub xclient: Vec<Cidr>,
    /// XCLIENT `LOGIN=name` marks the session authenticated (a proxy that did the AUTH
    /// itself, such as nginx mail); off by default: the name is reported, nothing more.
    pub xclient_trusts_login: bool,
}

impl ServerConfig {
    /// The longest [`greeting`](Self::greeting) text, in octets: with a 255-octet host
    /// name the 220 line stays within the 512 octets of a reply line (RFC 5321 §4.5.3.1.5).
    pub const MAX_GREETING: usize = 200;

    /// The defaults, with `hostname` as the server's name.
    ///
    /// The name is not checked here (the fields are public and may change afterwards):
    /// a session whose configuration fails [`validate`](Self::validate), such as
    /// `ServerConfig::new("bad\r\n250 x")`, sends `421 4.3.5 System incorrectly
    /// configured` in place of the greeting and closes, and logs why, so a bad name never
    /// reaches the wire. For a name that comes from input, use [`try_new`](Self::try_new)
    /// and report the error where it arises.
    ///
    /// ```
    /// use std::{sync::Arc, time::Instant};
    /// use smtp_proto::{Server, ServerConfig};
    ///
    /// assert!(ServerConfig::try_new("bad\r\n250 x").is_err());
    /// let mut server = Server::new(Arc::new(ServerConfig::new("bad\r\n250 x")), Instant::now());
    /// let mut out = Vec::new();
    /// let _ = server.poll_transmit(&mut out);
    /// assert_eq!(out, b"421 4.3.5 System incorrectly configured\r\n");
    /// ```
    pub fn new(hostname: impl Into<String>) -> Self {
        Self {
            hostname: hostname.into(),
            greeting: "ESMTP".to_owned(),
            protocol: Protocol::Smtp,
            extensions: Extensions::default(),
            limits: Limits::default(),
            timeouts: Timeouts::default(),
            line_endings: LineEndingPolicy::Strict,
            pipelining_sync_check: true,
            starttls_injection: InjectionPolicy::Discard,
            require_tls: false,
            require_auth: false,
            auth_requires_tls: true,
            close_on_forbidden_commands: true,
            no_service: false,
            proxy: None,
            xclient: Vec::new(),
            xclient_trusts_login: false,
        }
    }

    /// Whether a socket peer at `ip` may use XCLIENT.
    pub fn xclient_allowed(&self, ip: std::net::IpAddr) -> bool {
        self.xclient.iter().any(|net| net.contains(ip))
    }

    /// The defaults, with `hostname` as the server's name, if it is an ASCII domain or
    /// address literal (as [`validate`](Self::validate) checks).
    ///
    /// # Errors
    ///
    /// [`ServerConfigError::InvalidHostname`], saying what is wrong with the name.
    pub fn try_new(hostname: impl Into<String>) -> Result<Self, ServerConfigError> {
        let config = Self::new(hostname);
        config.validate()?;
        Ok(config)
    }

    /// Checks what a session puts on the wire from the configuration: the host name is an
    /// ASCII domain (`_` allowed, as in EHLO) or address literal of at most 255 octets,
    /// and the greeting is printable ASCII of at most [`MAX_GREETING`](Self::MAX_GREETING)
    /// octets.
    ///
    /// # Errors
    ///
    /// [`ServerConfigError::InvalidHostname`] or [`ServerConfigError::InvalidGreeting`].
    pub fn validate(&self) -> Result<(), ServerConfigError> {
        let hostname = &self.hostname;
        let reason = match parse_hello_domain(hostname.as_bytes()) {
            Ok(domain) if domain.is_ascii() => None,
            Ok(_) => Some("non-ASCII: give the A-label form, xn--…"),
            Err(error) => Some(error.description()),
        };
        if let Some(reason) = reason {
            return Err(ServerConfigError::InvalidHostname {
                hostname: hostname.clone(),
                reason,
            });
        }
        let greeting = &self.greeting;
        if greeting.len() > Self::MAX_GREETING
            || !greeting.bytes().all(|b| (0x20..0x7f).contains(&b))
        {
            return Err(ServerConfigError::InvalidGreeting {
                greeting: greeting.clone(),
            });
        }
        Ok(())
    }

    /// The longest MAIL command line: the base limit plus the room each advertised
    /// extension adds. SIZE +26 (RFC 1870 §3), SMTPUTF8 +10 (RFC 6531 §3.4) and AUTH= +500
    /// (RFC 4954 §5) are stated by their RFCs; the others are the longest value their
    /// grammar allows: BODY=BINARYMIME 16, RET=HDRS + ENVID (100, RFC 3461 §4.4) 118,
    /// REQUIRETLS 11, MT-PRIORITY=+9 15, BY=-999999999;RT 17, HOLDUNTIL date-time 45.
    ///
    /// `tls`: whether the session is under TLS (REQUIRETLS is offered only then). A longer
    /// MAIL line is refused with `500 5.5.2` (line too long).
    pub fn mail_line_limit(&self, tls: bool) -> usize {
        let x = &self.extensions;
        let extra = [
            (x.size, 26),
            (x.smtputf8, 10),
            (!x.auth_mechanisms.is_empty(), 500),
            (x.eight_bit_mime || x.binary_mime, 16),
            (x.dsn, 118),
            (x.requiretls && tls, 11),
            (x.mt_priority, 15),
            (x.deliver_by.is_some(), 17),
            (x.future_release.is_some(), 45),
        ];
        self.limits.command_line
            + extra
                .iter()
                .filter(|(on, _)| *on)
                .map(|(_, n)| n)
                .sum::<usize>()
    }

    /// The longest RCPT command line: DSN adds NOTIFY=SUCCESS,FAILURE,DELAY (30) and
    /// ORCPT (500, RFC 3461 §4.2), SMTPUTF8 +10 (RFC 6531 §3.4). A longer RCPT line is
    /// refused with `500 5.5.2` (line too long).
    pub fn rcpt_line_limit(&self) -> usize {
        let x = &self.extensions;
        self.limits.command_line + if x.dsn { 530 } else { 0 } + if x.smtputf8 { 10 } else { 0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_and_greetings_are_checked() {
        for good in [
            "mx.example",
            "MX.Example",
            "localhost",
            "[192.0.2.1]",
            "[IPv6:::1]",
            "win_host.example",
        ] {
            assert!(ServerConfig::try_new(good).is_ok(), "{good}");
        }
        for (bad, why) in [
            ("bad\r\n250 x", "Invalid character"),
            ("", "Bad domain"),
            ("two words", "Invalid character"),
            ("mx.example.", "Bad domain"),
            ("-mx.example", "Bad domain"),
            ("bücher.example", "non-ASCII"),
            ("[300.1.1.1]", "Bad address literal"),
        ] {
            let error = ServerConfig::try_new(bad).err();
            let Some(ServerConfigError::InvalidHostname { hostname, reason }) = &error else {
                panic!("{bad:?}: {error:?}");
            };
            assert_eq!(hostname, bad);
            assert!(reason.contains(why), "{bad:?}: {reason}");
            let text = error.map(|e| e.to_string()).unwrap_or_default();
            assert!(text.contains("give the server's name"), "{text}");
        }
        let mut config = ServerConfig::new("mx.example");
        for bad in [
            "ESMTP\r\n250 x",
            "ESMTP\u{e9}",
            &"x".repeat(ServerConfig::MAX_GREETING + 1),
        ] {
            config.greeting = bad.to_owned();
            assert!(
                matches!(
                    config.validate(),
                    Err(ServerConfigError::InvalidGreeting { .. })
                ),
                "{bad:?}"
            );
        }
        config.greeting = "ESMTP ready".to_owned();
        assert_eq!(config.validate(), Ok(()));
    }

    /// A session of a configuration that fails `validate` refuses with 421 4.3.5 in place
    /// of the greeting, also when built to refuse or to offer STARTTLS.
    #[test]
    fn an_invalid_configuration_never_reaches_the_wire() {
        use std::sync::Arc;
        #[allow(clippy::disallowed_methods)]
        let now = std::time::Instant::now();
        let mut bad_greeting = ServerConfig::new("mx.example");
        bad_greeting.greeting = "ESMTP\r\n250 x".to_owned();
        for config in [ServerConfig::new("bad\r\n250 x"), bad_greeting] {
            let config = Arc::new(config);
            for mut server in [
                crate::Server::new(config.clone(), now),
                crate::Server::offering_starttls(config.clone(), now),
                crate::Server::refuse(config.clone(), now, None),
            ] {
                let mut out = Vec::new();
                let _ = server.poll_transmit(&mut out);
                assert_eq!(out, b"421 4.3.5 System incorrectly configured\r\n");
                assert!(server.is_closed());
            }
        }
    }
}
