//! Server configurations picked by fuzz bytes.

use smtp_proto::{InjectionPolicy, LineEndingPolicy, Protocol, ServerConfig};

/// The host name every fuzzed server uses.
pub(super) const HOSTNAME: &str = "mx.example";

/// A configuration and how the harness runs it.
#[derive(Clone, Debug)]
pub(super) struct Variant {
    pub(super) config: ServerConfig,
    /// The server offers STARTTLS (`Server::offering_starttls`).
    pub(super) starttls: bool,
    /// Implicit TLS: `handle_tls_established` right after the server is created.
    pub(super) implicit_tls: bool,
}

/// Builds a configuration from two selector bytes.
///
/// `a`: bit 0 normalise line endings, bit 1 LMTP, bit 2 small limits, bit 3 STARTTLS,
/// bit 4 RFC 2920 synchronisation check, bit 5 `require_tls` (and `require_auth` when AUTH
/// is on), bit 6 the rare extensions (REQUIRETLS, MT-PRIORITY, DELIVERBY, FUTURERELEASE).
///
/// `b`: bit 0 AUTH PLAIN LOGIN XTEST, bit 1 AUTH allowed without TLS, bit 2 STARTTLS
/// injection closes, bit 3 forbidden commands answered instead of closing, bit 4 implicit
/// TLS, bit 5 no service (RFC 5321 §3.1 `554` greeting, with bit 6), bit 6 error limit 3, bit 7 bare extensions
/// (no PIPELINING, CHUNKING, SIZE, ENHANCEDSTATUSCODES, DSN, 8BITMIME, SMTPUTF8).
pub(super) fn variant(a: u8, b: u8) -> Variant {
    let bit = |byte: u8, n: u8| byte & (1 << n) != 0;
    let mut c = ServerConfig::new(HOSTNAME);
    if bit(a, 0) {
        c.line_endings = LineEndingPolicy::Normalize;
    }
    if bit(a, 1) {
        c.protocol = Protocol::Lmtp;
    }
    if bit(a, 2) {
        small_limits(&mut c);
    }
    c.pipelining_sync_check = bit(a, 4);
    c.require_tls = bit(a, 5);
    c.require_auth = bit(a, 5) && bit(b, 0);
    if bit(a, 6) {
        c.extensions.requiretls = true;
        c.extensions.mt_priority = true;
        c.extensions.deliver_by = Some(3600);
        c.extensions.future_release = Some((604_800, "2030-01-01T00:00:00Z".to_owned()));
    }
    if bit(b, 0) {
        c.extensions.auth_mechanisms = ["PLAIN", "LOGIN", "XTEST"].map(str::to_owned).to_vec();
    }
    c.auth_requires_tls = !bit(b, 1);
    if bit(b, 2) {
        c.starttls_injection = InjectionPolicy::Close;
    }
    c.close_on_forbidden_commands = !bit(b, 3);
    c.no_service = bit(b, 5) && bit(b, 6);
    if bit(b, 6) {
        c.limits.max_errors = 3;
    }
    if bit(b, 7) {
        let x = &mut c.extensions;
        x.pipelining = false;
        x.chunking = false;
        x.binary_mime = false;
        x.size = false;
        x.enhanced_status_codes = false;
        x.dsn = false;
        x.eight_bit_mime = false;
        x.smtputf8 = false;
    }
    Variant {
        config: c,
        starttls: bit(a, 3),
        implicit_tls: bit(b, 4),
    }
}

/// Limits small enough for short inputs to reach them.
fn small_limits(c: &mut ServerConfig) {
    c.limits.max_message_size = 1024;
    c.limits.command_line = 64;
    c.limits.text_line = 80;
    c.limits.auth_line = 128;
    c.limits.max_recipients = 2;
    c.limits.max_buffered_input = 256;
}

/// The configuration of the line mode (exactly one reply per command line): no close on
/// anything the client sends but QUIT, no STARTTLS, no AUTH exchange, no sync check.
pub(super) fn line_mode(a: u8) -> ServerConfig {
    let mut c = variant(a & 0b0100_0111, 0).config;
    c.pipelining_sync_check = false;
    c.close_on_forbidden_commands = false;
    c.limits.max_errors = u32::MAX;
    c.line_endings = LineEndingPolicy::Strict;
    c
}

/// The longest line the server may hold while it waits for the rest of it: the largest
/// of its line limits (MAIL and RCPT lines get extension room; TLS adds REQUIRETLS).
pub(super) fn largest_line(c: &ServerConfig) -> usize {
    [
        c.limits.command_line,
        c.mail_line_limit(true),
        c.rcpt_line_limit(),
        c.limits.auth_line,
    ]
    .into_iter()
    .max()
    .unwrap_or(usize::MAX)
}
