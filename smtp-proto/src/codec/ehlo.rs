//! The EHLO (or LHLO) reply as a client reads it: typed capabilities (RFC 5321 §4.1.1.1).
//!
//! Written with `nom`, one function per ABNF rule with the rule in its doc comment, because
//! this is a cold path: one EHLO reply per connection (two with STARTTLS). The server's hot
//! path (command lines, addresses, parameters, DATA/BDAT, measured by the `command_parsing`
//! and `session_throughput` benches) stays hand-written.
//!
//! The input is a [`ParsedReply`] from [`ReplyParser`](super::reply::ReplyParser), so an
//! enhanced status code in front of a line is already gone. The first line carries the
//! server's name and greeting, never a keyword; every further line is
//! `ehlo-line = ehlo-keyword *( SP ehlo-param )`. A line that does not parse is ignored, and
//! a parameter that does not parse leaves its extension with no value: a peculiar server
//! never fails the session (manual::replies CAP-15). Keywords are case-insensitive.

use nom::branch::alt;
use nom::bytes::complete::{tag_no_case, take_while, take_while_m_n, take_while1};
use nom::combinator::{all_consuming, recognize};
use nom::multi::many0;
use nom::sequence::preceded;
use nom::{IResult, Parser};

use super::reply::ParsedReply;

/// Why [`Capabilities::from_ehlo`] has nothing to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EhloError {
    /// The reply is not `250`: EHLO was refused (a client falls back to HELO on 500, 501,
    /// 502, 504 or 550, RFC 5321 §3.2) or failed.
    #[error("EHLO was answered with {0}, not 250")]
    NotAccepted(u16),
}

/// A SASL mechanism named after the AUTH keyword (RFC 4954 §3).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthMechanism {
    /// `PLAIN` (RFC 4616).
    Plain,
    /// `LOGIN` (draft-murchison-sasl-login).
    Login,
    /// `XOAUTH2` (Google and Microsoft).
    XOAuth2,
    /// `OAUTHBEARER` (RFC 7628).
    OAuthBearer,
    /// `CRAM-MD5` (RFC 2195).
    CramMd5,
    /// `SCRAM-SHA-1` (RFC 5802).
    ScramSha1,
    /// `SCRAM-SHA-256` (RFC 7677).
    ScramSha256,
    /// Any other name, upper-cased; kept so that the caller sees it, never chosen by a
    /// client that does not know it (CAP-08).
    Other(String),
}

impl AuthMechanism {
    /// The mechanism for `name`, compared case-insensitively.
    pub fn from_name(name: &str) -> Self {
        let upper = name.to_ascii_uppercase();
        match upper.as_str() {
            "PLAIN" => Self::Plain,
            "LOGIN" => Self::Login,
            "XOAUTH2" => Self::XOAuth2,
            "OAUTHBEARER" => Self::OAuthBearer,
            "CRAM-MD5" => Self::CramMd5,
            "SCRAM-SHA-1" => Self::ScramSha1,
            "SCRAM-SHA-256" => Self::ScramSha256,
            _ => Self::Other(upper),
        }
    }

    /// The registered name, upper case.
    pub fn name(&self) -> &str {
        match self {
            Self::Plain => "PLAIN",
            Self::Login => "LOGIN",
            Self::XOAuth2 => "XOAUTH2",
            Self::OAuthBearer => "OAUTHBEARER",
            Self::CramMd5 => "CRAM-MD5",
            Self::ScramSha1 => "SCRAM-SHA-1",
            Self::ScramSha256 => "SCRAM-SHA-256",
            Self::Other(name) => name,
        }
    }
}

/// The LIMITS extension's values (RFC 9422 §3); `None` where the server named no value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerLimits {
    /// `RCPTMAX`: recipients per transaction.
    pub rcpt_max: Option<u32>,
    /// `MAILMAX`: transactions per connection.
    pub mail_max: Option<u32>,
    /// `RCPTDOMAINMAX`: distinct recipient domains per transaction.
    pub rcpt_domain_max: Option<u32>,
}

/// The FUTURERELEASE extension's values (RFC 4865 §3).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FutureRelease {
    /// The longest `HOLDFOR` interval, in seconds.
    pub max_interval: Option<u64>,
    /// The latest `HOLDUNTIL` date-time, as sent (RFC 3339).
    pub max_date_time: Option<String>,
}

/// An extension the parser has no type for: its keyword (upper-cased) and parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Extension {
    /// The keyword, upper case.
    pub keyword: String,
    /// The parameters, as sent.
    pub params: Vec<String>,
}

/// What a server offers in its EHLO reply, typed ([`manual::replies`](crate::manual::replies)).
///
/// Built fresh from each EHLO reply, so capabilities are replaced, never merged, by a new
/// EHLO after STARTTLS (CAP-16).
///
/// ```
/// use smtp_proto::codec::ehlo::{AuthMechanism, Capabilities};
/// use smtp_proto::codec::reply::ReplyParser;
///
/// let mut parser = ReplyParser::new();
/// parser.feed(b"250-mx.example greets you\r\n250-SIZE 10240000\r\n250-pipelining\r\n\
///               250 AUTH PLAIN LOGIN\r\n");
/// let reply = parser.next_reply()?.expect("complete");
/// let caps = Capabilities::from_ehlo(&reply, true).expect("250");
/// assert_eq!(caps.server_name(), "mx.example");
/// assert_eq!(caps.size_limit(), Some(10_240_000));
/// assert!(caps.pipelining());
/// assert_eq!(caps.auth(), [AuthMechanism::Plain, AuthMechanism::Login]);
/// # Ok::<(), smtp_proto::codec::reply::ReplyParseError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Capabilities {
    server_name: String,
    keywords: Vec<String>,
    /// `Some(None)`: SIZE without a usable limit.
    size: Option<Option<u64>>,
    pipelining: bool,
    eight_bit_mime: bool,
    smtputf8: bool,
    chunking: bool,
    binarymime: bool,
    starttls: bool,
    enhanced_status_codes: bool,
    dsn: bool,
    requiretls: bool,
    /// `Some(None)`: MT-PRIORITY without a profile name.
    mt_priority: Option<Option<String>>,
    /// `Some(None)`: DELIVERBY without a usable minimum.
    deliver_by: Option<Option<u64>>,
    future_release: Option<FutureRelease>,
    auth: Vec<AuthMechanism>,
    limits: Option<ServerLimits>,
    xclient: Option<Vec<String>>,
    unknown: Vec<Extension>,
}

impl Capabilities {
    /// Reads the capabilities from a `250` reply to EHLO or LHLO. `tls_active` says whether
    /// the session already runs over TLS: then STARTTLS is ignored (CAP-11), and without it
    /// REQUIRETLS is (CAP-12).
    pub fn from_ehlo(reply: &ParsedReply, tls_active: bool) -> Result<Self, EhloError> {
        if reply.code() != 250 {
            return Err(EhloError::NotAccepted(reply.code()));
        }
        let mut caps = Self {
            server_name: reply.server_name(),
            ..Self::default()
        };
        for line in reply.lines().iter().skip(1) {
            if let Ok((_, (keyword, params))) = capability_line(line.text()) {
                caps.add(&keyword, &params, tls_active);
            }
        }
        Ok(caps)
    }

    /// Records one capability line.
    fn add(&mut self, keyword: &str, params: &[&str], tls_active: bool) {
        match keyword {
            "STARTTLS" if tls_active => return,
            "REQUIRETLS" if !tls_active => return,
            _ => {}
        }
        if !self.keywords.iter().any(|k| k == keyword) {
            self.keywords.push(keyword.to_owned());
        }
        let first = params.first().copied();
        match keyword {
            "SIZE" => self.size = Some(first.and_then(number).filter(|&n| n > 0)),
            "PIPELINING" => self.pipelining = true,
            "8BITMIME" => self.eight_bit_mime = true,
            "SMTPUTF8" => self.smtputf8 = true,
            "CHUNKING" => self.chunking = true,
            "BINARYMIME" => self.binarymime = true,
            "STARTTLS" => self.starttls = true,
            "ENHANCEDSTATUSCODES" => self.enhanced_status_codes = true,
            "DSN" => self.dsn = true,
            "REQUIRETLS" => self.requiretls = true,
            "MT-PRIORITY" => self.mt_priority = Some(first.map(str::to_ascii_uppercase)),
            "DELIVERBY" => self.deliver_by = Some(first.and_then(number)),
            "FUTURERELEASE" => {
                self.future_release = Some(FutureRelease {
                    max_interval: first.and_then(number),
                    max_date_time: params.get(1).map(|s| (*s).to_owned()),
                });
            }
            "AUTH" => {
                for name in params {
                    let mechanism = AuthMechanism::from_name(name);
                    if !self.auth.contains(&mechanism) {
                        self.auth.push(mechanism);
                    }
                }
            }
            "LIMITS" => {
                let mut limits = self.limits.unwrap_or_default();
                for param in params {
                    let Some((name, value)) = param.split_once('=') else {
                        continue;
                    };
                    let value = number(value).and_then(|n| u32::try_from(n).ok());
                    match name.to_ascii_uppercase().as_str() {
                        "RCPTMAX" => limits.rcpt_max = value,
                        "MAILMAX" => limits.mail_max = value,
                        "RCPTDOMAINMAX" => limits.rcpt_domain_max = value,
                        _ => {}
                    }
                }
                self.limits = Some(limits);
            }
            "XCLIENT" => {
                let names = self.xclient.get_or_insert_with(Vec::new);
                for param in params {
                    let name = param.to_ascii_uppercase();
                    if !names.contains(&name) {
                        names.push(name);
                    }
                }
            }
            _ => self.unknown.push(Extension {
                keyword: keyword.to_owned(),
                params: params.iter().map(|p| (*p).to_owned()).collect(),
            }),
        }
    }

    /// The first word of the first line: the server's domain or address literal, sanitised
    /// (CAP-01). Empty if the line had none.
    pub fn server_name(&self) -> &str {
        &self.server_name
    }

    /// Every keyword advertised (and not ignored), upper case, in order, once each.
    pub fn keywords(&self) -> &[String] {
        &self.keywords
    }

    /// True when `keyword` was advertised (case-insensitive), known to this parser or not.
    pub fn supports(&self, keyword: &str) -> bool {
        self.keywords
            .iter()
            .any(|k| k.eq_ignore_ascii_case(keyword))
    }

    /// SIZE was advertised (RFC 1870), with or without a limit.
    pub fn size_supported(&self) -> bool {
        self.size.is_some()
    }

    /// The fixed message size limit in octets: `None` when SIZE is absent, has no
    /// parameter, is `0`, or has a parameter that is not a number that fits (CAP-03..CAP-05).
    pub fn size_limit(&self) -> Option<u64> {
        self.size.flatten()
    }

    /// PIPELINING (RFC 2920).
    pub fn pipelining(&self) -> bool {
        self.pipelining
    }

    /// 8BITMIME (RFC 6152).
    pub fn eight_bit_mime(&self) -> bool {
        self.eight_bit_mime
    }

    /// SMTPUTF8 (RFC 6531).
    pub fn smtputf8(&self) -> bool {
        self.smtputf8
    }

    /// CHUNKING: BDAT may be used (RFC 3030).
    pub fn chunking(&self) -> bool {
        self.chunking
    }

    /// BINARYMIME, usable only together with CHUNKING (RFC 3030 §3, CAP-09): false when
    /// the server listed BINARYMIME alone.
    pub fn binarymime(&self) -> bool {
        self.binarymime && self.chunking
    }

    /// STARTTLS (RFC 3207); never set on a session that already runs over TLS (CAP-11).
    pub fn starttls(&self) -> bool {
        self.starttls
    }

    /// ENHANCEDSTATUSCODES (RFC 2034).
    pub fn enhanced_status_codes(&self) -> bool {
        self.enhanced_status_codes
    }

    /// DSN (RFC 3461).
    pub fn dsn(&self) -> bool {
        self.dsn
    }

    /// REQUIRETLS (RFC 8689); only set on a session that runs over TLS (CAP-12).
    pub fn requiretls(&self) -> bool {
        self.requiretls
    }

    /// MT-PRIORITY (RFC 6710): `Some` when advertised, with the priority profile's name
    /// (upper case) when one was given.
    pub fn mt_priority(&self) -> Option<Option<&str>> {
        self.mt_priority.as_ref().map(Option::as_deref)
    }

    /// DELIVERBY (RFC 2852): `Some` when advertised, with the minimum BY time in seconds
    /// when one was given and is a number.
    pub fn deliver_by(&self) -> Option<Option<u64>> {
        self.deliver_by
    }

    /// FUTURERELEASE (RFC 4865), with its limits.
    pub fn future_release(&self) -> Option<&FutureRelease> {
        self.future_release.as_ref()
    }

    /// AUTH mechanisms from every `AUTH` and obsolete `AUTH=` line, once each, in order
    /// (CAP-06..CAP-08). Empty when AUTH was not advertised.
    pub fn auth(&self) -> &[AuthMechanism] {
        &self.auth
    }

    /// LIMITS (RFC 9422): `None` when absent, and then the client uses its own defaults
    /// (CAP-13).
    pub fn limits(&self) -> Option<ServerLimits> {
        self.limits
    }

    /// XCLIENT's attribute names, upper case (Postfix XCLIENT_README, CAP-14).
    pub fn xclient(&self) -> Option<&[String]> {
        self.xclient.as_deref()
    }

    /// Extensions this parser has no type for, with their parameters (CAP-15).
    pub fn unknown(&self) -> &[Extension] {
        &self.unknown
    }
}

/// A decimal number that fits a `u64` (`1*DIGIT`), or `None`: checked, never wraps (CAP-05).
fn number(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.bytes().try_fold(0u64, |n, d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

// ---- The grammar -----------------------------------------------------------------------

/// `capability-line = ( ehlo-line / obsolete-auth-line ) *SP`
///
/// A whole line's text; the output is the keyword, upper-cased, and the parameters.
/// Trailing spaces are tolerated.
fn capability_line(input: &[u8]) -> IResult<&[u8], (String, Vec<&str>)> {
    all_consuming((
        alt((obsolete_auth_line, ehlo_line)),
        take_while(|b| b == b' '),
    ))
    .map(|(line, _)| line)
    .parse(input)
}

/// `ehlo-line = ehlo-keyword *( SP ehlo-param )` (RFC 5321 §4.1.1.1); runs of SP are
/// accepted between the parts.
fn ehlo_line(input: &[u8]) -> IResult<&[u8], (String, Vec<&str>)> {
    (
        ehlo_keyword,
        many0(preceded(take_while1(|b| b == b' '), ehlo_param)),
    )
        .map(|(keyword, params)| (keyword.to_ascii_uppercase(), params))
        .parse(input)
}

/// `obsolete-auth-line = "AUTH=" ehlo-param *( SP ehlo-param )`
///
/// The pre-standard form of AUTH some servers still send beside or instead of `AUTH`
/// (CAP-07); read as an AUTH line.
fn obsolete_auth_line(input: &[u8]) -> IResult<&[u8], (String, Vec<&str>)> {
    let (rest, _) = tag_no_case(&b"AUTH="[..])(input)?;
    let (rest, (first, mut more)) = (
        ehlo_param,
        many0(preceded(take_while1(|b| b == b' '), ehlo_param)),
    )
        .parse(rest)?;
    more.insert(0, first);
    Ok((rest, ("AUTH".to_owned(), more)))
}

/// `ehlo-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")`
fn ehlo_keyword(input: &[u8]) -> IResult<&[u8], &str> {
    recognize((
        take_while_m_n(1, 1, |b: u8| b.is_ascii_alphanumeric()),
        take_while(|b: u8| b.is_ascii_alphanumeric() || b == b'-'),
    ))
    .map(ascii)
    .parse(input)
}

/// `ehlo-param = 1*(%d33-126)`: any printable ASCII except SP.
fn ehlo_param(input: &[u8]) -> IResult<&[u8], &str> {
    take_while1(|b: u8| b.is_ascii_graphic())
        .map(ascii)
        .parse(input)
}

/// Bytes the rules above accepted, all ASCII, as `&str`.
fn ascii(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or_default()
}

#[cfg(test)]
mod tests;
