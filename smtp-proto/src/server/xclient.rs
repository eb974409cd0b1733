//! XCLIENT (Postfix `XCLIENT_README`): an SMTP-aware proxy names the real client.
//!
//! `XCLIENT 1*( SP name "=" xtext-value )`; names case-insensitive, values xtext
//! (RFC 3461 §4: `+XX`). Rows `manual::proxy` XC-01…XC-15; the choices:
//!
//! * authorisation is decided on the **socket peer** (the machine speaking SMTP to us),
//!   never on an address a PROXY header or an earlier XCLIENT supplied (XC-15), so a
//!   second XCLIENT on the same connection is still allowed (XC-11);
//! * an unauthorised XCLIENT gets `550 5.7.0` whether or not any network is configured;
//! * an unknown or repeated attribute, a missing `=`, an empty value, a value that
//!   decodes to a control character (the CVE-2020-28021 class, XC-09) or to invalid
//!   UTF-8 gets `501 5.5.4`; the session is unchanged;
//! * XCLIENT is not the end of a pipelined group: `XCLIENT …` and `EHLO` in one write are
//!   answered `220` then `250` (XC-13);
//! * `LOGIN` authenticates the session only with `ServerConfig::xclient_trusts_login`
//!   (XC-10).

use std::net::IpAddr;

use super::replies as r;
use super::{Event, Server};
use crate::codec::command::Verb;
use crate::codec::reply::encode_lines;
use crate::connection::ClientUpdate;

/// The EHLO keyword and the attributes supported (swaks sends only the listed ones).
pub(super) const KEYWORD: &str = "XCLIENT NAME ADDR PORT PROTO HELO LOGIN DESTADDR DESTPORT";
/// The longest HELO attribute (XCLIENT_README).
const HELO_MAX: usize = 255;

/// An attribute's value: given, or one of the special values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum XclientValue<T> {
    /// The value.
    Value(T),
    /// `[UNAVAILABLE]`: the proxy does not know it.
    Unavailable,
    /// `[TEMPUNAVAIL]`: the proxy could not find out now (a DNS failure).
    TempUnavailable,
}

impl<T> XclientValue<T> {
    /// The value, unless a special value was sent.
    pub fn value(&self) -> Option<&T> {
        match self {
            Self::Value(value) => Some(value),
            Self::Unavailable | Self::TempUnavailable => None,
        }
    }
}

/// The attributes of one XCLIENT command (each `None` when not sent).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Xclient {
    /// `NAME`: the client's host name.
    pub name: Option<XclientValue<String>>,
    /// `ADDR`: the client's address (`IPV6:` prefix for IPv6).
    pub addr: Option<XclientValue<IpAddr>>,
    /// `PORT`: the client's port.
    pub port: Option<XclientValue<u16>>,
    /// `PROTO`: `SMTP` or `ESMTP` (upper case).
    pub proto: Option<XclientValue<String>>,
    /// `HELO`: the name the client gave in HELO/EHLO.
    pub helo: Option<XclientValue<String>>,
    /// `LOGIN`: the SASL login name the proxy authenticated.
    pub login: Option<XclientValue<String>>,
    /// `DESTADDR`: the address the client connected to.
    pub destaddr: Option<XclientValue<IpAddr>>,
    /// `DESTPORT`: the port the client connected to.
    pub destport: Option<XclientValue<u16>>,
}

impl Xclient {
    /// The connection facts these attributes change.
    pub fn client_update(&self) -> ClientUpdate {
        fn value<T: Copy>(v: &Option<XclientValue<T>>) -> Option<T> {
            v.as_ref().and_then(|v| v.value().copied())
        }
        ClientUpdate {
            addr: value(&self.addr),
            port: value(&self.port),
            dest_addr: value(&self.destaddr),
            dest_port: value(&self.destport),
        }
    }
}

/// A special value, before its attribute's type is known.
#[derive(Clone, Copy)]
enum Special {
    Unavailable,
    TempUnavailable,
}

/// Parses XCLIENT's arguments; `None`: `501`.
pub(super) fn parse(args: &[u8]) -> Option<Xclient> {
    let args = std::str::from_utf8(args).ok()?;
    let mut out = Xclient::default();
    let mut any = false;
    for item in args.split(' ') {
        let (name, raw) = item.split_once('=')?;
        let value = xtext_decode(raw)?;
        let special = match value.to_ascii_uppercase().as_str() {
            "[UNAVAILABLE]" => Some(Special::Unavailable),
            "[TEMPUNAVAIL]" => Some(Special::TempUnavailable),
            _ => None,
        };
        let name = name.to_ascii_uppercase();
        macro_rules! set {
            ($field:ident, $parse:expr) => {{
                if out.$field.is_some() {
                    return None;
                }
                out.$field = Some(match special {
                    Some(Special::Unavailable) => XclientValue::Unavailable,
                    Some(Special::TempUnavailable) => XclientValue::TempUnavailable,
                    None => XclientValue::Value($parse(value.as_str())?),
                });
            }};
        }
        match name.as_str() {
            "NAME" => set!(name, host_name),
            "ADDR" => set!(addr, address),
            "PORT" => set!(port, port),
            "PROTO" => set!(proto, proto),
            "HELO" => set!(helo, helo),
            "LOGIN" => set!(login, text),
            "DESTADDR" => set!(destaddr, address),
            "DESTPORT" => set!(destport, port),
            _ => return None,
        }
        any = true;
    }
    any.then_some(out)
}

/// RFC 3461 §4 xtext: `+` and two hex digits, other octets printable ASCII except `=`.
/// Decoded values with control octets or invalid UTF-8 are refused.
fn xtext_decode(raw: &str) -> Option<String> {
    let raw = raw.as_bytes();
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => {
                let hex = raw.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'!'..=b'~' if raw[i] != b'=' => {
                out.push(raw[i]);
                i += 1;
            }
            _ => return None,
        }
    }
    let text = String::from_utf8(out).ok()?;
    (!text.is_empty() && !text.chars().any(char::is_control)).then_some(text)
}

fn host_name(s: &str) -> Option<String> {
    (s.len() <= HELO_MAX && !s.contains(' ')).then(|| s.to_owned())
}

fn helo(s: &str) -> Option<String> {
    (s.len() <= HELO_MAX).then(|| s.to_owned())
}

fn text(s: &str) -> Option<String> {
    Some(s.to_owned())
}

/// IPv4 dotted quad, or `IPV6:` (any case) and an IPv6 address; never in brackets.
fn address(s: &str) -> Option<IpAddr> {
    match s.get(..5) {
        Some(prefix) if prefix.eq_ignore_ascii_case("IPV6:") => {
            s[5..].parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6)
        }
        _ => s.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4),
    }
}

fn port(s: &str) -> Option<u16> {
    if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn proto(s: &str) -> Option<String> {
    let upper = s.to_ascii_uppercase();
    matches!(upper.as_str(), "SMTP" | "ESMTP").then_some(upper)
}

impl Server {
    /// Lets this session's client use XCLIENT: call it when the **socket peer** is in
    /// `ServerConfig::xclient` (the tls module's `Endpoint::accept_from` does). Until then
    /// XCLIENT is neither advertised nor accepted (`550 5.7.0`).
    pub fn allow_xclient(&mut self) {
        self.session.xclient = true;
    }

    /// Whether this session may use XCLIENT (see [`allow_xclient`](Self::allow_xclient)).
    pub fn xclient_allowed(&self) -> bool {
        self.session.xclient
    }

    pub(super) fn xclient(&mut self, args: &[u8]) {
        if !self.session.xclient {
            return self.reject(Verb::Xclient, &r::XCLIENT_DENIED);
        }
        if self.transaction.is_some() {
            return self.reject(Verb::Xclient, &r::XCLIENT_IN_TRANSACTION);
        }
        let Some(attributes) = parse(args) else {
            return self.reject(Verb::Xclient, &r::XCLIENT_SYNTAX);
        };
        if !self.check_sync(Verb::Xclient) {
            return;
        }
        // "the server resets state to the initial SMTP greeting protocol stage"; TLS stays.
        self.reset_transaction();
        self.session.hello = None;
        self.session.authenticated = self.config.xclient_trusts_login
            && attributes
                .login
                .as_ref()
                .is_some_and(|login| login.value().is_some());
        self.events.push_back(Event::Xclient {
            attributes: Box::new(attributes),
        });
        let greeting = format!("{} {}", self.config.hostname, self.config.greeting);
        encode_lines(
            220,
            None,
            std::iter::once(greeting.as_str()),
            &mut self.output,
        );
        self.arm(super::timer::Timer::Command);
    }
}
