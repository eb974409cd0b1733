//! Envelope addresses: reverse-paths (`MAIL FROM`), forward-paths (`RCPT TO`), mailboxes and
//! domains, as defined by RFC 5321 §4.1.2 and §4.1.3 and extended to UTF-8 by RFC 6531 §3.3.
//!
//! # Contract
//!
//! * Every parser is a total function: it returns `Ok` only for input that matches the grammar
//!   exactly, and an [`AddressError`] for everything else. There is no "repair" and no default
//!   domain (the fail-open branch behind `OpenSMTPD` CVE-2020-7247, where
//!   `MAIL FROM:<;sleep 66;>` reached a shell).
//! * Addresses are data. `<${run{x}}@localhost>` is a syntactically valid mailbox (`$`, `{`,
//!   `}` are RFC 5322 `atext`) and is returned as such; this module never expands, unquotes or
//!   interprets anything (compare Exim CVE-2019-10149). Never pass a local part to a shell or a
//!   string-expansion engine.
//! * Case is preserved exactly as sent (RFC 5321 §2.4: the local part MUST be treated as case
//!   sensitive). Equality and hashing are byte-exact.
//! * Length limits (RFC 5321 §4.5.3.1.1–3) are enforced while scanning, so no parser ever looks
//!   at more than a few hundred bytes, whatever the input length. Nothing is allocated until the
//!   whole path has been accepted.
//! * Non-ASCII (RFC 6531 UTF-8) addresses are accepted if the UTF-8 is well formed. Whether the
//!   client declared `SMTPUTF8` is the caller's business: check [`Mailbox::is_ascii`] and reply
//!   `553 5.6.7` when it did not (RFC 6531 §3.6.2 / RFC 5248).
//!
//! # Suggested replies
//!
//! [`AddressError::description`] is reply text. RFC 5321 §4.5.3.1.9 suggests `501 Path too
//! long`; for the other syntax errors `501 5.1.7` (sender) or `501 5.1.3` (recipient) is the
//! usual choice, and `500 5.5.2` for [`AddressError::InvalidUtf8`] (Postfix).

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// Maximum length of a local part in octets (RFC 5321 §4.5.3.1.1), quotes included.
pub const MAX_LOCAL_PART_LEN: usize = 64;
/// Maximum length of a domain in octets (RFC 5321 §4.5.3.1.2); for an address literal the
/// brackets are counted.
pub const MAX_DOMAIN_LEN: usize = 255;
/// Maximum length of a path in octets, including `<`, `>` and any source route
/// (RFC 5321 §4.5.3.1.3).
pub const MAX_PATH_LEN: usize = 256;

const POSTMASTER: &[u8] = b"postmaster";

// ---------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------

/// A mailbox, `Local-part "@" ( Domain / address-literal )` (RFC 5321 §4.1.2).
///
/// Built by [`parse_reverse_path`], [`parse_forward_path`] or [`str::parse`]. Every `Mailbox`
/// satisfies the RFC 5321 §4.5.3.1 limits and fits in a path, so it can always be sent back
/// to a client or relayed as `<mailbox>`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Mailbox {
    local_part: String,
    domain: Domain,
}

impl Mailbox {
    /// The local part exactly as sent: a dot-string, or a quoted string *with* its quotes and
    /// backslashes; case preserved (RFC 5321 §2.4). Do not expand or unquote it blindly.
    pub fn local_part(&self) -> &str {
        &self.local_part
    }

    /// The domain part: a name or an address literal.
    pub fn domain(&self) -> &Domain {
        &self.domain
    }

    /// `false` if the local part or domain contains UTF-8 beyond ASCII. Such an address needs
    /// the `SMTPUTF8` MAIL parameter; without it, reply `553 5.6.7` (RFC 6531 §3.6.2).
    pub fn is_ascii(&self) -> bool {
        self.local_part.is_ascii() && self.domain.is_ascii()
    }
}

impl fmt::Display for Mailbox {
    /// Writes `local@domain`, which parses back to an equal `Mailbox`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local_part, self.domain)
    }
}

impl FromStr for Mailbox {
    type Err = AddressError;

    /// Parses `local@domain` (no angle brackets, no source route, nothing after it). The
    /// result must also fit in a path: `local@domain` longer than 254 octets is
    /// [`AddressError::PathTooLong`] (RFC 5321 §4.5.3.1.3).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let input = text.as_bytes();
        let (mailbox, rest) = parse_mailbox(input)?;
        if let Some(&byte) = rest.first() {
            return Err(error_at(Some(byte), AddressError::Syntax));
        }
        if input.len().saturating_add(2) > MAX_PATH_LEN {
            return Err(AddressError::PathTooLong);
        }
        Ok(mailbox.into_owned())
    }
}

/// The part of a mailbox after `@`, or the argument of EHLO/HELO/LHLO (RFC 5321 §4.1.2).
///
/// Names are kept as sent (mixed case, U-labels in UTF-8); compare them with
/// `eq_ignore_ascii_case` when routing, since domains are not case sensitive (RFC 5321 §2.4).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Domain {
    /// A domain name such as `mail.example` or `bücher.example` (RFC 6531 U-labels are not
    /// checked against IDNA2008; the DNS or the application decides).
    Name(String),
    /// An address literal such as `[192.0.2.1]` (RFC 5321 §4.1.3).
    Literal(AddressLiteral),
}

impl Domain {
    /// `false` if this is a name containing UTF-8 beyond ASCII (an RFC 6531 U-label).
    pub fn is_ascii(&self) -> bool {
        match self {
            Self::Name(name) => name.is_ascii(),
            Self::Literal(_) => true,
        }
    }
}

impl fmt::Display for Domain {
    /// Writes the name, or the literal in brackets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Name(name) => f.write_str(name),
            Self::Literal(literal) => literal.fmt(f),
        }
    }
}

/// An address literal, `"[" ( IPv4 / "IPv6:" IPv6 / tag ":" content ) "]"` (RFC 5321 §4.1.3).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AddressLiteral {
    /// `[192.0.2.1]`: exactly four decimal octets 0–255.
    Ipv4(Ipv4Addr),
    /// `[IPv6:2001:db8::1]`; the tag is case-insensitive.
    Ipv6(Ipv6Addr),
    /// `[tag:content]`, a General-address-literal with a Standardized-tag other than `IPv6`.
    General {
        /// The tag as sent (an Ldh-str).
        tag: String,
        /// Everything after the first `:` (1*dcontent).
        content: String,
    },
}

impl fmt::Display for AddressLiteral {
    /// Writes the literal with its brackets; IPv6 is written in RFC 5952 canonical form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ipv4(addr) => write!(f, "[{addr}]"),
            Self::Ipv6(addr) => write!(f, "[IPv6:{addr}]"),
            Self::General { tag, content } => write!(f, "[{tag}:{content}]"),
        }
    }
}

/// The argument of `MAIL FROM:`, `Reverse-path = Path / "<>"` (RFC 5321 §4.1.2).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ReversePath {
    /// `<>`, the null sender used by bounces and other notifications (RFC 5321 §4.5.5).
    Null,
    /// A sender mailbox; any source route has been dropped (RFC 5321 §4.1.2, Appendix C).
    Mailbox(Mailbox),
}

impl ReversePath {
    /// The mailbox, or `None` for the null path.
    pub fn mailbox(&self) -> Option<&Mailbox> {
        match self {
            Self::Null => None,
            Self::Mailbox(mailbox) => Some(mailbox),
        }
    }
}

impl fmt::Display for ReversePath {
    /// Writes `<>` or `<local@domain>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("<>"),
            Self::Mailbox(mailbox) => write!(f, "<{mailbox}>"),
        }
    }
}

/// The argument of `RCPT TO:` (RFC 5321 §4.1.1.3).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ForwardPath {
    /// `<Postmaster>` with no domain, in any case: the local postmaster, which every server
    /// MUST accept (RFC 5321 §4.5.1). `<postmaster@domain>` is an ordinary [`Mailbox`].
    Postmaster,
    /// A recipient mailbox; any source route has been dropped (RFC 5321 §4.1.2, Appendix C).
    Mailbox(Mailbox),
}

impl ForwardPath {
    /// The mailbox, or `None` for the domainless `<Postmaster>`.
    pub fn mailbox(&self) -> Option<&Mailbox> {
        match self {
            Self::Postmaster => None,
            Self::Mailbox(mailbox) => Some(mailbox),
        }
    }
}

impl fmt::Display for ForwardPath {
    /// Writes `<Postmaster>` or `<local@domain>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Postmaster => f.write_str("<Postmaster>"),
            Self::Mailbox(mailbox) => write!(f, "<{mailbox}>"),
        }
    }
}

/// Why an address was rejected. [`AddressError::description`] is usable as reply text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AddressError {
    /// The path does not start with `<` or is not closed by `>` (RFC 5321 §4.1.2 `Path`).
    MissingAngleBrackets,
    /// `<>` given where a mailbox is required, i.e. in `RCPT TO` (RFC 5321 §4.1.1.3).
    NullPathNotAllowed,
    /// No `@domain` after the local part (only `<Postmaster>` in `RCPT TO` may omit it,
    /// RFC 5321 §4.1.1.3); no default domain is ever added.
    MissingDomain,
    /// The local part is neither a Dot-string nor a Quoted-string (RFC 5321 §4.1.2).
    BadLocalPart,
    /// The domain is not `sub-domain *("." sub-domain)` with labels `Let-dig [Ldh-str]`
    /// (RFC 5321 §4.1.2), e.g. empty, a leading or trailing hyphen or dot.
    BadDomain,
    /// The text between `[` and `]` is not a valid IPv4, IPv6 or general address literal
    /// (RFC 5321 §4.1.3).
    BadAddressLiteral,
    /// The source route (`@a,@b:`) is malformed (RFC 5321 §4.1.2 `A-d-l`).
    BadSourceRoute,
    /// A control character (0x00–0x1F, 0x7F, including CR and LF) anywhere, or a space
    /// outside a quoted string (RFC 5321 §4.1.2: controls MUST NOT be used in MAIL or RCPT).
    InvalidCharacter,
    /// Any other deviation from the path grammar, e.g. text after the domain where `>` is
    /// expected (RFC 5321 §4.1.2).
    Syntax,
    /// The local part is longer than 64 octets (RFC 5321 §4.5.3.1.1).
    LocalPartTooLong,
    /// The domain is longer than 255 octets (RFC 5321 §4.5.3.1.2).
    DomainTooLong,
    /// The path, brackets and source route included, is longer than 256 octets
    /// (RFC 5321 §4.5.3.1.3).
    PathTooLong,
    /// Non-ASCII bytes that are not well-formed UTF-8 (RFC 6531 §3.3 admits only
    /// `UTF8-non-ascii`, RFC 3629).
    InvalidUtf8,
}

impl AddressError {
    /// Short human-readable reason, suitable as SMTP reply text (printable ASCII only).
    pub fn description(self) -> &'static str {
        match self {
            Self::MissingAngleBrackets => "Missing angle brackets",
            Self::NullPathNotAllowed => "Null path not allowed here",
            Self::MissingDomain => "Missing domain in address",
            Self::BadLocalPart => "Bad local part syntax",
            Self::BadDomain => "Bad domain syntax",
            Self::BadAddressLiteral => "Bad address literal",
            Self::BadSourceRoute => "Bad source route",
            Self::InvalidCharacter => "Invalid character in address",
            Self::Syntax => "Bad address syntax",
            Self::LocalPartTooLong => "Local part too long",
            Self::DomainTooLong => "Domain too long",
            Self::PathTooLong => "Path too long",
            Self::InvalidUtf8 => "Invalid UTF-8",
        }
    }
}

impl fmt::Display for AddressError {
    /// Writes [`AddressError::description`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

impl std::error::Error for AddressError {}

// ---------------------------------------------------------------------------------------------
// Public parsers
// ---------------------------------------------------------------------------------------------

/// Parses the reverse-path of `MAIL FROM:` (RFC 5321 §4.1.1.2, §4.1.2).
///
/// `input` must start at `<`. Returns the path and the unparsed bytes after `>` (for example
/// ` SIZE=1000`); the caller must check that rest, so `<a@b.c>>>>` yields `a@b.c` and the rest
/// `>>>`. `<>` is [`ReversePath::Null`]; a source route (`<@a,@b:u@c>`) is accepted and dropped
/// (RFC 5321 §4.1.2, Appendix C). `<Postmaster>` without a domain is
/// [`AddressError::MissingDomain`] here.
///
/// # Errors
///
/// Any deviation from the RFC 5321 §4.1.2 grammar or the §4.5.3.1 limits; see [`AddressError`].
pub fn parse_reverse_path(input: &[u8]) -> Result<(ReversePath, &[u8]), AddressError> {
    if let Some(rest) = input.strip_prefix(b"<>") {
        return Ok((ReversePath::Null, rest));
    }
    let (mailbox, rest) = parse_path(input)?;
    Ok((ReversePath::Mailbox(mailbox.into_owned()), rest))
}

/// Parses the forward-path of `RCPT TO:` (RFC 5321 §4.1.1.3, §4.1.2).
///
/// As [`parse_reverse_path`], except that `<>` is [`AddressError::NullPathNotAllowed`] and
/// `<Postmaster>` (any case, no domain, no source route) is [`ForwardPath::Postmaster`]
/// (RFC 5321 §4.5.1).
///
/// # Errors
///
/// As [`parse_reverse_path`], plus [`AddressError::NullPathNotAllowed`] for `<>`.
pub fn parse_forward_path(input: &[u8]) -> Result<(ForwardPath, &[u8]), AddressError> {
    if input.starts_with(b"<>") {
        return Err(AddressError::NullPathNotAllowed);
    }
    if let Some(rest) = strip_postmaster(input) {
        return Ok((ForwardPath::Postmaster, rest));
    }
    let (mailbox, rest) = parse_path(input)?;
    Ok((ForwardPath::Mailbox(mailbox.into_owned()), rest))
}

/// Parses the argument of EHLO, HELO or LHLO: the whole `input` must be a domain or an address
/// literal (RFC 5321 §4.1.1.1, RFC 2033 §4.1), at most 255 octets.
///
/// Leniency (choice): labels may contain `_` here, because Windows host names do; mailbox
/// domains never may. Trailing dots, spaces and CRLF are errors; strip the line ending first.
///
/// # Errors
///
/// [`AddressError::BadDomain`], [`AddressError::BadAddressLiteral`],
/// [`AddressError::InvalidCharacter`], [`AddressError::DomainTooLong`] or
/// [`AddressError::InvalidUtf8`].
pub fn parse_hello_domain(input: &[u8]) -> Result<Domain, AddressError> {
    let (domain, rest) = parse_domain(input, Labels::AllowUnderscore)?;
    if let Some(&byte) = rest.first() {
        return Err(error_at(Some(byte), AddressError::BadDomain));
    }
    Ok(domain.into_owned())
}

// ---------------------------------------------------------------------------------------------
// Borrowed intermediate values: nothing is allocated until the whole path is accepted.
// ---------------------------------------------------------------------------------------------

struct MailboxRef<'a> {
    local_part: &'a str,
    domain: DomainRef<'a>,
}

impl MailboxRef<'_> {
    fn into_owned(self) -> Mailbox {
        Mailbox {
            local_part: self.local_part.to_owned(),
            domain: self.domain.into_owned(),
        }
    }
}

enum DomainRef<'a> {
    Name(&'a str),
    Literal(LiteralRef<'a>),
}

impl DomainRef<'_> {
    fn into_owned(self) -> Domain {
        match self {
            DomainRef::Name(name) => Domain::Name(name.to_owned()),
            DomainRef::Literal(literal) => Domain::Literal(literal.into_owned()),
        }
    }
}

enum LiteralRef<'a> {
    Ipv4(Ipv4Addr),
    Ipv6(Ipv6Addr),
    General { tag: &'a str, content: &'a str },
}

impl LiteralRef<'_> {
    fn into_owned(self) -> AddressLiteral {
        match self {
            LiteralRef::Ipv4(addr) => AddressLiteral::Ipv4(addr),
            LiteralRef::Ipv6(addr) => AddressLiteral::Ipv6(addr),
            LiteralRef::General { tag, content } => AddressLiteral::General {
                tag: tag.to_owned(),
                content: content.to_owned(),
            },
        }
    }
}

/// Whether domain labels may contain `_` (EHLO leniency) or follow RFC 5321 strictly.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Labels {
    Strict,
    AllowUnderscore,
}

impl Labels {
    /// The byte classes a domain name may contain.
    fn domain_classes(self) -> u8 {
        match self {
            Self::Strict => LABEL | DOT,
            Self::AllowUnderscore => LABEL | DOT | UNDERSCORE,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Byte classes (one table lookup per byte)
// ---------------------------------------------------------------------------------------------

/// RFC 5322 §3.2.3 `atext`, plus RFC 6531 `UTF8-non-ascii` bytes.
const ATEXT: u8 = 1;
/// RFC 5321 §4.1.2 `qtextSMTP` (%d32-33 / %d35-91 / %d93-126), plus RFC 6531 non-ASCII.
const QTEXT: u8 = 2;
/// Label bytes: ALPHA / DIGIT / "-" (RFC 5321 §4.1.2 `Ldh-str`), plus RFC 6531 U-label bytes.
const LABEL: u8 = 4;
/// RFC 5321 §4.1.3 `dcontent` (%d33-90 / %d94-126); ASCII only.
const DCONTENT: u8 = 8;
/// `.`, the separator of atoms and labels.
const DOT: u8 = 16;
/// `_`, allowed in EHLO labels only.
const UNDERSCORE: u8 = 32;
/// `-`, which may not start or end a label.
const HYPHEN: u8 = 64;

static BYTE_CLASSES: [u8; 256] = build_byte_classes();

const fn build_byte_classes() -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut byte = 0u8;
    loop {
        // Evaluated at compile time, and a u8 is always below 256.
        table[byte as usize] = classify(byte);
        match byte.checked_add(1) {
            Some(next) => byte = next,
            None => return table,
        }
    }
}

const fn classify(byte: u8) -> u8 {
    if byte >= 0x80 {
        // Candidate UTF8-non-ascii; well-formedness is checked per component afterwards.
        return ATEXT | QTEXT | LABEL;
    }
    let mut class = 0;
    if byte.is_ascii_alphanumeric()
        || matches!(
            byte,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'/'
                | b'='
                | b'?'
                | b'^'
                | b'_'
                | b'`'
                | b'{'
                | b'|'
                | b'}'
                | b'~'
        )
    {
        class |= ATEXT;
    }
    if matches!(byte, 32..=33 | 35..=91 | 93..=126) {
        class |= QTEXT;
    }
    if byte.is_ascii_alphanumeric() || byte == b'-' {
        class |= LABEL;
    }
    if matches!(byte, 33..=90 | 94..=126) {
        class |= DCONTENT;
    }
    if byte == b'.' {
        class |= DOT;
    }
    if byte == b'_' {
        class |= UNDERSCORE;
    }
    if byte == b'-' {
        class |= HYPHEN;
    }
    class
}

fn has_class(byte: u8, class: u8) -> bool {
    byte_classes(byte) & class != 0
}

/// Every class of `byte` in [`BYTE_CLASSES`].
fn byte_classes(byte: u8) -> u8 {
    // A u8 index into a 256-entry table is always in bounds; `get` just keeps lints quiet and
    // compiles to the same code.
    BYTE_CLASSES.get(usize::from(byte)).copied().unwrap_or(0)
}

/// Control characters and space: never allowed outside a quoted string (RFC 5321 §4.1.2).
fn is_control_or_space(byte: u8) -> bool {
    byte <= b' ' || byte == 0x7F
}

/// The error for a scan that stopped at `byte`: controls and spaces get their own error,
/// anything else (or end of input) gets `otherwise`.
fn error_at(byte: Option<u8>, otherwise: AddressError) -> AddressError {
    match byte {
        Some(byte) if is_control_or_space(byte) => AddressError::InvalidCharacter,
        _ => otherwise,
    }
}

/// Length of the leading run of bytes that satisfy `accept`, or `None` if the run is longer
/// than `max` (so at most `max + 1` bytes are looked at).
fn run_len(input: &[u8], max: usize, accept: impl Fn(u8) -> bool) -> Option<usize> {
    match input
        .iter()
        .take(max.saturating_add(1))
        .position(|&byte| !accept(byte))
    {
        Some(len) => Some(len),
        None if input.len() <= max => Some(input.len()),
        None => None,
    }
}

/// Octets of `whole` consumed so far, where `rest` is a suffix of `whole`.
fn consumed(whole: &[u8], rest: &[u8]) -> usize {
    whole.len().saturating_sub(rest.len())
}

fn utf8(bytes: &[u8]) -> Result<&str, AddressError> {
    std::str::from_utf8(bytes).map_err(|_| AddressError::InvalidUtf8)
}

// ---------------------------------------------------------------------------------------------
// Path = "<" [ A-d-l ":" ] Mailbox ">"   (RFC 5321 §4.1.2)
// ---------------------------------------------------------------------------------------------

#[inline(always)]
fn parse_path(input: &[u8]) -> Result<(MailboxRef<'_>, &[u8]), AddressError> {
    let Some(after_open) = input.strip_prefix(b"<") else {
        return Err(AddressError::MissingAngleBrackets);
    };
    let after_route = skip_source_route(after_open)?;
    let (mailbox, after_mailbox) = parse_mailbox(after_route)?;
    let rest = match after_mailbox.split_first() {
        Some((b'>', rest)) => rest,
        None => return Err(AddressError::MissingAngleBrackets),
        Some((&byte, _)) => return Err(error_at(Some(byte), AddressError::Syntax)),
    };
    // RFC 5321 §4.5.3.1.3: "The maximum total length of a reverse-path or forward-path is 256
    // octets (including the punctuation and element separators)."
    if consumed(input, rest) > MAX_PATH_LEN {
        return Err(AddressError::PathTooLong);
    }
    Ok((mailbox, rest))
}

/// `<Postmaster>` in any case, with nothing else inside the brackets (RFC 5321 §4.1.1.3).
fn strip_postmaster(input: &[u8]) -> Option<&[u8]> {
    let after_open = input.strip_prefix(b"<")?;
    let (word, rest) = after_open.split_at_checked(POSTMASTER.len())?;
    if !word.eq_ignore_ascii_case(POSTMASTER) {
        return None;
    }
    rest.strip_prefix(b">")
}

/// Skips `A-d-l ":"` where `A-d-l = At-domain *( "," At-domain )` and `At-domain = "@" Domain`.
/// RFC 5321 §4.1.2: source routes "MUST BE accepted, SHOULD NOT be generated, and SHOULD be
/// ignored"; they are validated, then dropped.
fn skip_source_route(input: &[u8]) -> Result<&[u8], AddressError> {
    let mut rest = input;
    while let Some(after_at) = rest.strip_prefix(b"@") {
        let len = domain_name_len(after_at, Labels::Strict)?;
        let after_domain = after_at.get(len..).ok_or(AddressError::Syntax)?;
        // "<" plus the route so far must already fit in a path; bounds the loop.
        if consumed(input, after_domain) >= MAX_PATH_LEN {
            return Err(AddressError::PathTooLong);
        }
        match after_domain.split_first() {
            Some((b',', next)) if next.first() == Some(&b'@') => rest = next,
            Some((b':', mailbox)) => return Ok(mailbox),
            other => {
                return Err(error_at(
                    other.map(|(&byte, _)| byte),
                    AddressError::BadSourceRoute,
                ));
            }
        }
    }
    Ok(rest)
}

// ---------------------------------------------------------------------------------------------
// Mailbox = Local-part "@" ( Domain / address-literal )   (RFC 5321 §4.1.2)
// ---------------------------------------------------------------------------------------------

/// Parses a mailbox at the start of `input`; returns it and the bytes after the domain.
///
/// Each part's UTF-8 is checked right after its scan, and only if it has an octet above
/// 0x7F (so the first error is the same as checking every part); then `local@domain` is
/// converted to `&str` at once, one conversion instead of two for the usual ASCII mailbox.
#[inline(always)]
fn parse_mailbox(input: &[u8]) -> Result<(MailboxRef<'_>, &[u8]), AddressError> {
    let local_len = local_part_len(input)?;
    let (local_part, after_local) = input
        .split_at_checked(local_len)
        .ok_or(AddressError::Syntax)?;
    let after_at = match after_local.split_first() {
        Some((b'@', after_at)) => after_at,
        None | Some((b'>', _)) => return Err(AddressError::MissingDomain),
        Some((&byte, _)) => return Err(error_at(Some(byte), AddressError::BadLocalPart)),
    };
    if after_at.first() == Some(&b'[') {
        let local_part = utf8(local_part)?;
        let (literal, rest) = parse_address_literal(after_at)?;
        let domain = DomainRef::Literal(literal);
        return Ok((MailboxRef { local_part, domain }, rest));
    }
    let domain_len = domain_name_len(after_at, Labels::Strict)?;
    let mailbox_len = local_len
        .checked_add(1)
        .and_then(|len| len.checked_add(domain_len))
        .ok_or(AddressError::Syntax)?;
    let (mailbox, rest) = input
        .split_at_checked(mailbox_len)
        .ok_or(AddressError::Syntax)?;
    let mailbox = utf8(mailbox)?;
    let (local_part, at_domain) = mailbox
        .split_at_checked(local_len)
        .ok_or(AddressError::Syntax)?;
    let name = at_domain.get(1..).ok_or(AddressError::Syntax)?;
    let domain = DomainRef::Name(name);
    Ok((MailboxRef { local_part, domain }, rest))
}

/// Length of the `Local-part = Dot-string / Quoted-string` (RFC 5321 §4.1.2) at the start
/// of `input`, at most 64 octets (§4.5.3.1.1); a local part with octets above 0x7F must be
/// well-formed UTF-8 (RFC 6531 §3.3).
fn local_part_len(input: &[u8]) -> Result<usize, AddressError> {
    let (len, non_ascii) = if input.first() == Some(&b'"') {
        quoted_string_len(input)?
    } else {
        dot_string_len(input)?
    };
    if non_ascii {
        utf8(input.get(..len).ok_or(AddressError::Syntax)?)?;
    }
    Ok(len)
}

/// `Dot-string = Atom *("." Atom)`, `Atom = 1*atext`: every atom is non-empty, so no
/// leading, trailing or doubled dot. One pass, at most 65 bytes looked at. Returns the
/// length and whether an octet above 0x7F was seen.
fn dot_string_len(input: &[u8]) -> Result<(usize, bool), AddressError> {
    // The scan looks at no more than 64 octets; a 65th that would extend the run is an
    // error.
    let head = input.get(..MAX_LOCAL_PART_LEN).unwrap_or(input);
    let mut index = 0;
    let mut all_octets = 0u8;
    let len = loop {
        let atom_start = index;
        while let Some(&byte) = head.get(index) {
            if !has_class(byte, ATEXT) {
                break;
            }
            all_octets |= byte;
            index += 1;
        }
        if head.get(index) != Some(&b'.') {
            break index;
        }
        if index == atom_start {
            // An empty atom: a leading or doubled dot.
            return Err(AddressError::BadLocalPart);
        }
        index += 1;
    };
    if len == MAX_LOCAL_PART_LEN
        && input
            .get(MAX_LOCAL_PART_LEN)
            .is_some_and(|&byte| has_class(byte, ATEXT | DOT))
    {
        return Err(AddressError::LocalPartTooLong);
    }
    match len.checked_sub(1).and_then(|last| head.get(last)) {
        None => Err(error_at(input.first().copied(), AddressError::BadLocalPart)),
        // A trailing dot.
        Some(b'.') => Err(AddressError::BadLocalPart),
        Some(_) => Ok((len, !all_octets.is_ascii())),
    }
}

/// `Quoted-string = DQUOTE *QcontentSMTP DQUOTE`, `QcontentSMTP = qtextSMTP / quoted-pairSMTP`,
/// `quoted-pairSMTP = "\" %d32-126` (RFC 5321 §4.1.2; RFC 6531 does not extend quoted-pair).
/// `input` starts with the opening quote; the returned length includes both quotes. Also
/// returns whether an octet above 0x7F was seen.
fn quoted_string_len(input: &[u8]) -> Result<(usize, bool), AddressError> {
    let mut escaped = false;
    let mut all_octets = 0u8;
    for (index, &byte) in input.iter().enumerate().skip(1) {
        if index >= MAX_LOCAL_PART_LEN {
            // This byte would be octet number 65 of the local part.
            return Err(AddressError::LocalPartTooLong);
        }
        if escaped {
            if !(32..=126).contains(&byte) {
                return Err(error_at(Some(byte), AddressError::BadLocalPart));
            }
            escaped = false;
        } else if byte == b'"' {
            return Ok((index.saturating_add(1), !all_octets.is_ascii()));
        } else if byte == b'\\' {
            escaped = true;
        } else if !has_class(byte, QTEXT) {
            return Err(error_at(Some(byte), AddressError::BadLocalPart));
        }
        all_octets |= byte;
    }
    // Unterminated quoted string.
    Err(AddressError::BadLocalPart)
}

// ---------------------------------------------------------------------------------------------
// Domain / address-literal   (RFC 5321 §4.1.2, §4.1.3; RFC 6531 §3.3)
// ---------------------------------------------------------------------------------------------

/// Parses a domain name or an address literal at the start of `input`.
fn parse_domain(input: &[u8], labels: Labels) -> Result<(DomainRef<'_>, &[u8]), AddressError> {
    if input.first() == Some(&b'[') {
        let (literal, rest) = parse_address_literal(input)?;
        Ok((DomainRef::Literal(literal), rest))
    } else {
        let (name, rest) = parse_domain_name(input, labels)?;
        Ok((DomainRef::Name(name), rest))
    }
}

/// `Domain = sub-domain *("." sub-domain)`, `sub-domain = Let-dig [Ldh-str] / U-label`, at
/// most 255 octets (RFC 5321 §4.1.2, §4.5.3.1.2; RFC 6531 §3.3). U-labels are only checked
/// for well-formed UTF-8 and the hyphen rule, not against IDNA2008.
fn parse_domain_name(input: &[u8], labels: Labels) -> Result<(&str, &[u8]), AddressError> {
    let len = domain_name_len(input, labels)?;
    let (name, rest) = input.split_at_checked(len).ok_or(AddressError::Syntax)?;
    Ok((utf8(name)?, rest))
}

/// Length of the domain name at the start of `input` (grammar and limit as
/// [`parse_domain_name`]); a name with octets above 0x7F must be well-formed UTF-8.
fn domain_name_len(input: &[u8], labels: Labels) -> Result<usize, AddressError> {
    let (len, non_ascii) = domain_name_scan(input, labels.domain_classes())?;
    if non_ascii {
        utf8(input.get(..len).ok_or(AddressError::Syntax)?)?;
    }
    Ok(len)
}

/// One pass over the name: every label is non-empty and neither starts nor ends with a
/// hyphen (`Let-dig [Ldh-str]`); at most 256 bytes looked at. Returns the length and
/// whether an octet above 0x7F was seen.
fn domain_name_scan(input: &[u8], classes: u8) -> Result<(usize, bool), AddressError> {
    // The scan looks at no more than 255 octets; a 256th that would extend the name is an
    // error.
    let head = input.get(..MAX_DOMAIN_LEN).unwrap_or(input);
    let label_classes = classes & !DOT;
    let mut index = 0;
    let mut all_octets = 0u8;
    let len = loop {
        // A label starts here (at the start or after a dot): not with a dot or a hyphen.
        if let Some(b'.' | b'-') = head.get(index) {
            return Err(AddressError::BadDomain);
        }
        while let Some(&byte) = head.get(index) {
            if byte_classes(byte) & label_classes == 0 {
                break;
            }
            all_octets |= byte;
            index += 1;
        }
        if head.get(index) != Some(&b'.') {
            break index;
        }
        // A dot ends the label, which may not end with a hyphen.
        if index.checked_sub(1).and_then(|last| head.get(last)) == Some(&b'-') {
            return Err(AddressError::BadDomain);
        }
        index += 1;
    };
    if len == MAX_DOMAIN_LEN
        && input
            .get(MAX_DOMAIN_LEN)
            .is_some_and(|&byte| has_class(byte, classes))
    {
        return Err(AddressError::DomainTooLong);
    }
    let last = match len.checked_sub(1).and_then(|last| head.get(last)) {
        None => return Err(error_at(input.first().copied(), AddressError::BadDomain)),
        Some(&last) => last,
    };
    if last == b'.' || last == b'-' {
        return Err(AddressError::BadDomain);
    }
    Ok((len, !all_octets.is_ascii()))
}

/// `address-literal = "[" ( IPv4-address-literal / IPv6-address-literal /
/// General-address-literal ) "]"` (RFC 5321 §4.1.3). `input` starts with `[`.
fn parse_address_literal(input: &[u8]) -> Result<(LiteralRef<'_>, &[u8]), AddressError> {
    let inner = input.get(1..).unwrap_or_default();
    // The brackets count towards the 255-octet domain limit.
    let max_content = MAX_DOMAIN_LEN.saturating_sub(2);
    let content_len = run_len(inner, max_content, |byte| has_class(byte, DCONTENT))
        .ok_or(AddressError::DomainTooLong)?;
    let (content, after_content) = inner
        .split_at_checked(content_len)
        .ok_or(AddressError::Syntax)?;
    let rest = match after_content.split_first() {
        Some((b']', rest)) => rest,
        other => {
            return Err(error_at(
                other.map(|(&byte, _)| byte),
                AddressError::BadAddressLiteral,
            ));
        }
    };
    Ok((parse_literal_content(content)?, rest))
}

/// Dispatches on the tag: none means IPv4, `IPv6` (any case) means IPv6, anything else is a
/// General-address-literal `Standardized-tag ":" 1*dcontent`.
fn parse_literal_content(content: &[u8]) -> Result<LiteralRef<'_>, AddressError> {
    let Some(colon) = content.iter().position(|&byte| byte == b':') else {
        return parse_ipv4(content).map(LiteralRef::Ipv4);
    };
    let (tag, colon_and_value) = content
        .split_at_checked(colon)
        .ok_or(AddressError::Syntax)?;
    let value = colon_and_value.get(1..).unwrap_or_default();
    if tag.eq_ignore_ascii_case(b"IPv6") {
        return parse_ipv6(value).map(LiteralRef::Ipv6);
    }
    // Standardized-tag = Ldh-str = *( ALPHA / DIGIT / "-" ) Let-dig; content = 1*dcontent.
    let tag_ok = tag.last().is_some_and(u8::is_ascii_alphanumeric)
        && tag
            .iter()
            .all(|&byte| byte.is_ascii_alphanumeric() || byte == b'-');
    if !tag_ok || value.is_empty() {
        return Err(AddressError::BadAddressLiteral);
    }
    Ok(LiteralRef::General {
        tag: utf8(tag)?,
        content: utf8(value)?,
    })
}

/// `IPv4-address-literal = Snum 3("." Snum)`, `Snum = 1*3DIGIT` with value 0–255
/// (RFC 5321 §4.1.3). std's parser then rejects values above 255 and leading zeros.
fn parse_ipv4(text: &[u8]) -> Result<Ipv4Addr, AddressError> {
    let snum_ok =
        |part: &[u8]| (1..=3).contains(&part.len()) && part.iter().all(u8::is_ascii_digit);
    let mut parts = text.split(|&byte| byte == b'.');
    let shape_ok = parts.clone().count() == 4 && parts.all(snum_ok);
    if !shape_ok {
        return Err(AddressError::BadAddressLiteral);
    }
    utf8(text)?
        .parse()
        .map_err(|_| AddressError::BadAddressLiteral)
}

/// `IPv6-addr = IPv6-full / IPv6-comp / IPv6v4-full / IPv6v4-comp` (RFC 5321 §4.1.3): only hex
/// digits, `:` and `.` are allowed (no zone index), then std parses the value.
fn parse_ipv6(text: &[u8]) -> Result<Ipv6Addr, AddressError> {
    let chars_ok = text
        .iter()
        .all(|&byte| byte.is_ascii_hexdigit() || byte == b':' || byte == b'.');
    if !chars_ok {
        return Err(AddressError::BadAddressLiteral);
    }
    let text = utf8(text)?;
    if !compressed_form_ok(text) {
        return Err(AddressError::BadAddressLiteral);
    }
    text.parse().map_err(|_| AddressError::BadAddressLiteral)
}

/// RFC 5321 §4.1.3: "The '::' represents at least 2 16-bit groups of zeros. No more than 6
/// groups in addition to the '::' may be present" (4 groups plus the IPv4 part, which counts
/// as two, in IPv6v4-comp). std alone would accept `1:2:3:4:5:6:7::`.
fn compressed_form_ok(text: &str) -> bool {
    if !text.contains("::") {
        return true;
    }
    let groups: usize = text
        .split(':')
        .filter(|group| !group.is_empty())
        .map(|group| if group.contains('.') { 2 } else { 1 })
        .sum();
    groups <= 6
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // ---- helpers ------------------------------------------------------------------------

    fn mailbox(text: &str) -> Mailbox {
        match text.parse() {
            Ok(mailbox) => mailbox,
            Err(err) => panic!("{text:?} should parse: {err:?}"),
        }
    }

    fn reverse(input: &[u8]) -> Result<(ReversePath, &[u8]), AddressError> {
        parse_reverse_path(input)
    }

    fn forward(input: &[u8]) -> Result<(ForwardPath, &[u8]), AddressError> {
        parse_forward_path(input)
    }

    /// Parses `input` as a forward-path that must succeed with an empty rest.
    fn rcpt_ok(input: &[u8]) -> Mailbox {
        match forward(input) {
            Ok((ForwardPath::Mailbox(mailbox), b"")) => mailbox,
            other => panic!("{:?}: unexpected {other:?}", String::from_utf8_lossy(input)),
        }
    }

    fn rcpt_err(input: &[u8]) -> AddressError {
        match forward(input) {
            Err(err) => err,
            Ok(ok) => panic!(
                "{:?}: unexpectedly accepted {ok:?}",
                String::from_utf8_lossy(input)
            ),
        }
    }

    fn name(text: &str) -> Domain {
        Domain::Name(text.to_owned())
    }

    /// A valid domain name of exactly `len` octets: labels of 'a' with a dot every 10 octets.
    fn domain_of_len(len: usize) -> String {
        (0..len)
            .map(|i| {
                if i % 10 == 9 && i + 1 != len {
                    '.'
                } else {
                    'a'
                }
            })
            .collect()
    }

    fn local_of_len(len: usize) -> String {
        "l".repeat(len)
    }

    fn path(local: &str, domain: &str) -> Vec<u8> {
        format!("<{local}@{domain}>").into_bytes()
    }

    // ---- null path and postmaster (RFC 5321 §4.1.1.2, §4.1.1.3, §4.5.1) ------------------

    #[test]
    fn reverse_null_path() {
        assert_eq!(reverse(b"<>"), Ok((ReversePath::Null, &b""[..])));
        assert_eq!(
            reverse(b"<> SIZE=10"),
            Ok((ReversePath::Null, &b" SIZE=10"[..]))
        );
    }

    #[test]
    fn forward_null_path_is_error() {
        assert_eq!(rcpt_err(b"<>"), AddressError::NullPathNotAllowed);
        assert_eq!(
            rcpt_err(b"<> NOTIFY=NEVER"),
            AddressError::NullPathNotAllowed
        );
    }

    #[test]
    fn forward_postmaster_any_case() {
        for input in [
            &b"<Postmaster>"[..],
            b"<postmaster>",
            b"<postMASTER>",
            b"<POSTMASTER>",
        ] {
            assert_eq!(forward(input), Ok((ForwardPath::Postmaster, &b""[..])));
        }
        assert_eq!(
            forward(b"<Postmaster> NOTIFY=NEVER"),
            Ok((ForwardPath::Postmaster, &b" NOTIFY=NEVER"[..]))
        );
    }

    #[test]
    fn postmaster_is_not_null() {
        assert_ne!(
            reverse(b"<>").map(|(path, _)| path.to_string()),
            forward(b"<postmaster>").map(|(path, _)| path.to_string())
        );
        assert_eq!(ForwardPath::Postmaster.to_string(), "<Postmaster>");
        assert_eq!(ReversePath::Null.to_string(), "<>");
    }

    #[test]
    fn reverse_postmaster_without_domain_is_error() {
        assert_eq!(reverse(b"<Postmaster>"), Err(AddressError::MissingDomain));
    }

    #[test]
    fn postmaster_with_domain_is_normal_mailbox() {
        let mailbox = rcpt_ok(b"<postmaster@x>");
        assert_eq!(mailbox.local_part(), "postmaster");
        assert_eq!(mailbox.domain(), &name("x"));
    }

    #[test]
    fn postmaster_lookalikes_are_not_postmaster() {
        assert_eq!(rcpt_err(b"<postmaste>"), AddressError::MissingDomain);
        assert_eq!(rcpt_err(b"<postmasters>"), AddressError::MissingDomain);
        assert_eq!(rcpt_err(b"<\"postmaster\">"), AddressError::MissingDomain);
        assert_eq!(rcpt_err(b"<postmaster >"), AddressError::InvalidCharacter);
        assert_eq!(rcpt_err(b"<@a:postmaster>"), AddressError::MissingDomain);
        assert_eq!(rcpt_err(b"<postmaster"), AddressError::MissingDomain);
    }

    // ---- path structure (RFC 5321 §4.1.2) -------------------------------------------------

    #[test]
    fn simple_path_and_rest() {
        let (path, rest) = reverse(b"<a@b.example> SIZE=100").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(path, ReversePath::Mailbox(mailbox("a@b.example")));
        assert_eq!(rest, b" SIZE=100");
    }

    #[test]
    fn extra_closing_brackets_are_left_as_rest() {
        let (path, rest) = reverse(b"<a@b.c>>>>").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(path, ReversePath::Mailbox(mailbox("a@b.c")));
        assert_eq!(rest, b">>>");
        assert!(matches!(forward(b"<a@b.c>>>>"), Ok((_, b">>>"))));
    }

    #[test]
    fn missing_angle_brackets() {
        assert_eq!(reverse(b"a@b.c"), Err(AddressError::MissingAngleBrackets));
        assert_eq!(rcpt_err(b"a@b.c"), AddressError::MissingAngleBrackets);
        assert_eq!(reverse(b""), Err(AddressError::MissingAngleBrackets));
        assert_eq!(
            reverse(b" <a@b.c>"),
            Err(AddressError::MissingAngleBrackets)
        );
        assert_eq!(reverse(b"<a@b.c"), Err(AddressError::MissingAngleBrackets));
        assert_eq!(
            rcpt_err(b"<a@[1.2.3.4]"),
            AddressError::MissingAngleBrackets
        );
    }

    #[test]
    fn missing_domain() {
        assert_eq!(reverse(b"<abc>"), Err(AddressError::MissingDomain));
        assert_eq!(rcpt_err(b"<\"a b\">"), AddressError::MissingDomain);
        assert_eq!(reverse(b"<a@>"), Err(AddressError::BadDomain));
    }

    #[test]
    fn garbage_after_domain() {
        assert_eq!(rcpt_err(b"<a@b@c>"), AddressError::Syntax);
        assert_eq!(rcpt_err(b"<a@b;c>"), AddressError::Syntax);
        assert_eq!(rcpt_err(b"<a@b,c>"), AddressError::Syntax);
        assert_eq!(rcpt_err(b"<a@b\">"), AddressError::Syntax);
        assert_eq!(rcpt_err(b"<a@[1.2.3.4]x>"), AddressError::Syntax);
    }

    #[test]
    fn source_route_is_accepted_and_dropped() {
        assert_eq!(rcpt_ok(b"<@a,@b:u@c>"), mailbox("u@c"));
        assert_eq!(rcpt_ok(b"<@a.example:u@c>"), mailbox("u@c"));
        assert_eq!(
            reverse(b"<@a,@b:u@c>"),
            Ok((ReversePath::Mailbox(mailbox("u@c")), &b""[..]))
        );
        assert_eq!(rcpt_ok(b"<@a:u@[1.2.3.4]>"), mailbox("u@[1.2.3.4]"));
    }

    #[test]
    fn malformed_source_routes() {
        assert_eq!(rcpt_err(b"<@a u@c>"), AddressError::InvalidCharacter);
        assert_eq!(rcpt_err(b"<@a;u@c>"), AddressError::BadSourceRoute);
        assert_eq!(rcpt_err(b"<@a,b:u@c>"), AddressError::BadSourceRoute);
        assert_eq!(rcpt_err(b"<@a,:u@c>"), AddressError::BadSourceRoute);
        assert_eq!(rcpt_err(b"<@a>"), AddressError::BadSourceRoute);
        assert_eq!(rcpt_err(b"<@a"), AddressError::BadSourceRoute);
        assert_eq!(rcpt_err(b"<@:u@c>"), AddressError::BadDomain);
        assert_eq!(rcpt_err(b"<@-a:u@c>"), AddressError::BadDomain);
        assert_eq!(rcpt_err(b"<@[1.2.3.4]:u@c>"), AddressError::BadDomain);
        assert_eq!(rcpt_err(b"<@a:>"), AddressError::BadLocalPart);
        assert_eq!(rcpt_err(b"<@a,@b:@c>"), AddressError::BadLocalPart);
    }

    // ---- fail-closed regressions (OpenSMTPD CVE-2020-7247, Exim CVE-2019-10149) -----------

    #[test]
    fn shell_metacharacters_are_rejected() {
        assert_eq!(reverse(b"<;sleep 66;>"), Err(AddressError::BadLocalPart));
        assert_eq!(rcpt_err(b"<;id;@x>"), AddressError::BadLocalPart);
        assert_eq!(rcpt_err(b"<a;b@x>"), AddressError::BadLocalPart);
        assert_eq!(rcpt_err(b"<a(b)@x>"), AddressError::BadLocalPart);
        assert_eq!(rcpt_err(b"<a<b@x>"), AddressError::BadLocalPart);
    }

    #[test]
    fn expansion_syntax_is_plain_data() {
        let mailbox = rcpt_ok(b"<${run{x}}@localhost>");
        assert_eq!(mailbox.local_part(), "${run{x}}");
        assert_eq!(mailbox.domain(), &name("localhost"));
    }

    #[test]
    fn controls_and_spaces_are_invalid_characters() {
        for input in [
            &b"<a\r@b>"[..],
            b"<a\n@b>",
            b"<a\r\n@b>",
            b"<a@b\r>",
            b"<a@b\r\n>",
            b"<a\x00b@c>",
            b"<a\x7fb@c>",
            b"<a\tb@c>",
            b"<b\x01b@x>",
            b"<a b@c>",
            b"< a@b>",
            b"<a@b >",
            b"<a @b>",
            b"<a@ b>",
            b"<\"a\rb\"@c>",
            b"<\"a\x00\"@c>",
            b"<\"a\\\r\"@c>",
            b"<a@[1.2.3.4\r]>",
            b"<a@[1.2. 3.4]>",
        ] {
            assert_eq!(
                rcpt_err(input),
                AddressError::InvalidCharacter,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    // ---- local part (RFC 5321 §4.1.2, §2.4) ---------------------------------------------

    #[test]
    fn dot_string_accepts_all_atext() {
        let local = "a!#$%&'*+-/=?^_`{|}~9.Z";
        assert_eq!(rcpt_ok(&path(local, "x")).local_part(), local);
    }

    #[test]
    fn dot_string_rejects_bad_dots() {
        assert_eq!(rcpt_err(b"<.a@x>"), AddressError::BadLocalPart);
        assert_eq!(rcpt_err(b"<a.@x>"), AddressError::BadLocalPart);
        assert_eq!(rcpt_err(b"<a..b@x>"), AddressError::BadLocalPart);
        assert_eq!(rcpt_err(b"<.@x>"), AddressError::BadLocalPart);
        assert_eq!(rcpt_err(b"<@x>"), AddressError::BadSourceRoute);
    }

    #[test]
    fn local_part_case_is_preserved() {
        let mailbox = rcpt_ok(b"<Bob.SMITH@Example.COM>");
        assert_eq!(mailbox.local_part(), "Bob.SMITH");
        assert_eq!(mailbox.domain(), &name("Example.COM"));
        assert_ne!(mailbox, self::mailbox("bob.smith@Example.COM"));
    }

    #[test]
    fn quoted_string_kept_with_quotes() {
        assert_eq!(rcpt_ok(b"<\"a b\"@c>").local_part(), "\"a b\"");
        assert_eq!(rcpt_ok(b"<\"a\\\"b\"@c>").local_part(), "\"a\\\"b\"");
        assert_eq!(rcpt_ok(b"<\"a\\\\\"@c>").local_part(), "\"a\\\\\"");
        assert_eq!(rcpt_ok(b"<\"a@b>c\"@d>").local_part(), "\"a@b>c\"");
        assert_eq!(rcpt_ok(b"<\"\"@c>").local_part(), "\"\"");
        assert_eq!(rcpt_ok(b"<\"\\ \"@c>").local_part(), "\"\\ \"");
    }

    #[test]
    fn quoted_string_errors() {
        assert_eq!(rcpt_err(b"<\"abc@d>"), AddressError::BadLocalPart);
        assert_eq!(rcpt_err(b"<\"abc\\\"@d>"), AddressError::BadLocalPart);
        assert_eq!(rcpt_err(b"<\"a\"b@c>"), AddressError::BadLocalPart);
        assert_eq!(rcpt_err(b"<a\"b\"@c>"), AddressError::BadLocalPart);
        assert_eq!(
            rcpt_err("<\"\\é\"@c>".as_bytes()),
            AddressError::BadLocalPart
        );
        assert_eq!(rcpt_err(b"<\"a\\\x7f\"@c>"), AddressError::InvalidCharacter);
        assert_eq!(rcpt_err(b"<\"a\x7f\"@c>"), AddressError::InvalidCharacter);
        assert_eq!(rcpt_err(b"<\"a\tb\"@c>"), AddressError::InvalidCharacter);
        assert_eq!(rcpt_err(b"<\""), AddressError::BadLocalPart);
    }

    #[test]
    fn local_part_length_limit_dot_string() {
        let ok = local_of_len(MAX_LOCAL_PART_LEN);
        assert_eq!(rcpt_ok(&path(&ok, "x")).local_part(), ok);
        let too_long = local_of_len(MAX_LOCAL_PART_LEN + 1);
        assert_eq!(
            rcpt_err(&path(&too_long, "x")),
            AddressError::LocalPartTooLong
        );
        let far_too_long = local_of_len(10_000);
        assert_eq!(
            rcpt_err(&path(&far_too_long, "x")),
            AddressError::LocalPartTooLong
        );
    }

    #[test]
    fn local_part_length_limit_quoted_string() {
        let ok = format!("\"{}\"", local_of_len(MAX_LOCAL_PART_LEN - 2));
        assert_eq!(ok.len(), 64);
        assert_eq!(rcpt_ok(&path(&ok, "x")).local_part(), ok);
        let too_long = format!("\"{}\"", local_of_len(MAX_LOCAL_PART_LEN - 1));
        assert_eq!(
            rcpt_err(&path(&too_long, "x")),
            AddressError::LocalPartTooLong
        );
    }

    #[test]
    fn local_part_limit_counts_utf8_octets() {
        // 32 two-octet characters = 64 octets.
        let ok = "é".repeat(32);
        assert_eq!(rcpt_ok(&path(&ok, "x")).local_part(), ok);
        let too_long = format!("{ok}a");
        assert_eq!(
            rcpt_err(&path(&too_long, "x")),
            AddressError::LocalPartTooLong
        );
    }

    // ---- domain (RFC 5321 §4.1.2, RFC 6531 §3.3) ----------------------------------------

    #[test]
    fn domain_names() {
        assert_eq!(rcpt_ok(b"<a@b>").domain(), &name("b"));
        assert_eq!(
            rcpt_ok(b"<a@mx-1.b2.example>").domain(),
            &name("mx-1.b2.example")
        );
        assert_eq!(rcpt_ok(b"<a@1.2.3.4>").domain(), &name("1.2.3.4"));
        assert_eq!(rcpt_ok(b"<a@a--b>").domain(), &name("a--b"));
    }

    #[test]
    fn bad_domain_names() {
        for input in [
            &b"<a@-b>"[..],
            b"<a@b->",
            b"<a@b.-c>",
            b"<a@b-.c>",
            b"<a@.b>",
            b"<a@b.>",
            b"<a@b..c>",
            b"<a@.>",
            b"<a@_b>",
            b"<a@b_c.example>",
            b"<a@b;>",
        ] {
            let expected = if input == b"<a@b;>" || input == b"<a@b_c.example>" {
                AddressError::Syntax
            } else {
                AddressError::BadDomain
            };
            assert_eq!(
                rcpt_err(input),
                expected,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn domain_length_limit() {
        // Inside a path the 256-octet path limit binds first; over 255 the domain error wins.
        let too_long = domain_of_len(MAX_DOMAIN_LEN + 1);
        assert_eq!(rcpt_err(&path("a", &too_long)), AddressError::DomainTooLong);
        assert_eq!(
            rcpt_err(&path("a", &domain_of_len(100_000))),
            AddressError::DomainTooLong
        );
        // The 255 limit itself is reachable through EHLO.
        let ok = domain_of_len(MAX_DOMAIN_LEN);
        assert_eq!(parse_hello_domain(ok.as_bytes()), Ok(name(&ok)));
        assert_eq!(
            parse_hello_domain(too_long.as_bytes()),
            Err(AddressError::DomainTooLong)
        );
    }

    #[test]
    fn utf8_addresses() {
        let mailbox = rcpt_ok("<üser@bücher.example>".as_bytes());
        assert_eq!(mailbox.local_part(), "üser");
        assert_eq!(mailbox.domain(), &name("bücher.example"));
        assert!(!mailbox.is_ascii());
        assert!(!rcpt_ok("<a@ü.example>".as_bytes()).is_ascii());
        assert!(!rcpt_ok("<ü@x>".as_bytes()).is_ascii());
        assert!(!rcpt_ok("<\"ü x\"@x>".as_bytes()).is_ascii());
        assert!(rcpt_ok(b"<a@x>").is_ascii());
        assert!(rcpt_ok(b"<a@[1.2.3.4]>").is_ascii());
        assert_eq!(
            rcpt_ok("<日本@例え.jp>".as_bytes()).to_string(),
            "日本@例え.jp"
        );
    }

    #[test]
    fn malformed_utf8_is_its_own_error() {
        for input in [
            &b"<\xc3\x28@x>"[..],
            b"<\xff@x>",
            b"<\xc0\xaf@x>",
            b"<a\xc3@x>",
            b"<\xed\xa0\x80@x>",
            b"<a@\xc3\x28>",
            b"<a@b\xc3>",
            b"<\"\xc3\x28\"@x>",
            b"<@\xff:a@b>",
        ] {
            assert_eq!(
                rcpt_err(input),
                AddressError::InvalidUtf8,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
        assert_eq!(reverse(b"<\xc3\x28@x>"), Err(AddressError::InvalidUtf8));
        assert_eq!(parse_hello_domain(b"a\xc3"), Err(AddressError::InvalidUtf8));
    }

    // ---- address literals (RFC 5321 §4.1.3) -----------------------------------------------

    fn literal(input: &str) -> Result<Domain, AddressError> {
        parse_hello_domain(input.as_bytes())
    }

    fn lit(value: AddressLiteral) -> Result<Domain, AddressError> {
        Ok(Domain::Literal(value))
    }

    #[test]
    fn ipv4_literals() {
        assert_eq!(
            literal("[192.0.2.1]"),
            lit(AddressLiteral::Ipv4(Ipv4Addr::new(192, 0, 2, 1)))
        );
        assert_eq!(
            literal("[0.0.0.0]"),
            lit(AddressLiteral::Ipv4(Ipv4Addr::UNSPECIFIED))
        );
        assert_eq!(
            literal("[255.255.255.255]"),
            lit(AddressLiteral::Ipv4(Ipv4Addr::BROADCAST))
        );
        let mailbox = rcpt_ok(b"<a@[192.0.2.1]>");
        assert_eq!(
            mailbox.domain(),
            &Domain::Literal(AddressLiteral::Ipv4(Ipv4Addr::new(192, 0, 2, 1)))
        );
        assert_eq!(mailbox.to_string(), "a@[192.0.2.1]");
    }

    #[test]
    fn bad_ipv4_literals() {
        for input in [
            "[256.0.0.1]",
            "[1.2.3]",
            "[1.2.3.4.5]",
            "[+1.2.3.4]",
            "[1.+2.3.4]",
            "[0001.2.3.4]",
            "[1.2.3.0004]",
            "[01.2.3.4]",
            "[1..3.4]",
            "[1.2.3.4.]",
            "[]",
            "[a.b.c.d]",
            "[example.com]",
            "[-1.2.3.4]",
            "[1.2.3.4",
            "[1.2.3.4\\]",
            "[1.2.3.4[]",
        ] {
            assert_eq!(
                literal(input),
                Err(AddressError::BadAddressLiteral),
                "{input}"
            );
        }
    }

    #[test]
    fn ipv6_literals() {
        let loopback = lit(AddressLiteral::Ipv6(Ipv6Addr::LOCALHOST));
        assert_eq!(literal("[IPv6:::1]"), loopback);
        assert_eq!(literal("[ipv6:::1]"), loopback);
        assert_eq!(literal("[IPV6:0:0:0:0:0:0:0:1]"), loopback);
        assert_eq!(
            literal("[IPv6:2001:DB8::1]"),
            lit(AddressLiteral::Ipv6(Ipv6Addr::new(
                0x2001, 0xdb8, 0, 0, 0, 0, 0, 1
            )))
        );
        assert_eq!(
            literal("[IPv6:::ffff:192.0.2.1]"),
            lit(AddressLiteral::Ipv6(
                Ipv4Addr::new(192, 0, 2, 1).to_ipv6_mapped()
            ))
        );
        assert_eq!(
            literal("[IPv6:1:2:3:4:5:6:1.2.3.4]"),
            lit(AddressLiteral::Ipv6(Ipv6Addr::new(
                1, 2, 3, 4, 5, 6, 0x102, 0x304
            )))
        );
        // Six groups besides "::" is the maximum (RFC 5321 §4.1.3).
        assert_eq!(
            literal("[IPv6:1:2:3:4:5:6::]"),
            lit(AddressLiteral::Ipv6(Ipv6Addr::new(1, 2, 3, 4, 5, 6, 0, 0)))
        );
        assert_eq!(
            literal("[IPv6:1:2:3:4::1.2.3.4]"),
            lit(AddressLiteral::Ipv6(Ipv6Addr::new(
                1, 2, 3, 4, 0, 0, 0x102, 0x304
            )))
        );
        assert_eq!(rcpt_ok(b"<a@[IPv6:::1]>").to_string(), "a@[IPv6:::1]");
    }

    #[test]
    fn bad_ipv6_literals() {
        for input in [
            "[IPv6:1:2:3:4:5:6:7::]",
            "[IPv6:::1:2:3:4:5:6:7]",
            "[IPv6:1:2:3:4:5::1.2.3.4]",
            "[IPv6:fe80::1%eth0]",
            "[IPv6:1.2.3.4]",
            "[IPv6:]",
            "[IPv6:12345::]",
            "[IPv6:1:2:3:4:5:6:7]",
            "[IPv6:1:2:3:4:5:6:7:8:9]",
            "[IPv6:g::1]",
            "[IPv6:::01.2.3.4]",
            "[IPv6::::1]",
            "[IPv6:1::2::3]",
        ] {
            assert_eq!(
                literal(input),
                Err(AddressError::BadAddressLiteral),
                "{input}"
            );
        }
    }

    #[test]
    fn general_literals() {
        assert_eq!(
            literal("[x-tag:some.thing:else]"),
            lit(AddressLiteral::General {
                tag: "x-tag".to_owned(),
                content: "some.thing:else".to_owned(),
            })
        );
        assert_eq!(
            literal("[-1:a]"),
            lit(AddressLiteral::General {
                tag: "-1".to_owned(),
                content: "a".to_owned()
            })
        );
        assert_eq!(rcpt_ok(b"<a@[tag:v]>").to_string(), "a@[tag:v]");
        for input in [
            "[tag-:x]",
            "[:x]",
            "[tag:]",
            "[t_g:x]",
            "[t.g:x]",
            "[IPv6x:1]",
        ] {
            let expected = if input == "[IPv6x:1]" {
                lit(AddressLiteral::General {
                    tag: "IPv6x".to_owned(),
                    content: "1".to_owned(),
                })
            } else {
                Err(AddressError::BadAddressLiteral)
            };
            assert_eq!(literal(input), expected, "{input}");
        }
        assert_eq!(literal("[t:ü]"), Err(AddressError::BadAddressLiteral));
        assert_eq!(literal("[t:a b]"), Err(AddressError::InvalidCharacter));
    }

    #[test]
    fn literal_length_limit() {
        // 255 octets including the brackets is the maximum.
        let ok = format!("[t:{}]", "c".repeat(MAX_DOMAIN_LEN - 4));
        assert_eq!(ok.len(), MAX_DOMAIN_LEN);
        assert!(literal(&ok).is_ok());
        let too_long = format!("[t:{}]", "c".repeat(MAX_DOMAIN_LEN - 3));
        assert_eq!(literal(&too_long), Err(AddressError::DomainTooLong));
        assert_eq!(rcpt_err(&path("a", &too_long)), AddressError::DomainTooLong);
    }

    // ---- path length (RFC 5321 §4.5.3.1.3) ----------------------------------------------

    #[test]
    fn path_length_limit() {
        let local = local_of_len(MAX_LOCAL_PART_LEN);
        // "<" + 64 + "@" + 189 + ">" = 256.
        let ok = path(&local, &domain_of_len(189));
        assert_eq!(ok.len(), MAX_PATH_LEN);
        assert_eq!(rcpt_ok(&ok).to_string().len(), MAX_PATH_LEN - 2);
        let too_long = path(&local, &domain_of_len(190));
        assert_eq!(too_long.len(), MAX_PATH_LEN + 1);
        assert_eq!(rcpt_err(&too_long), AddressError::PathTooLong);
        assert_eq!(reverse(&too_long), Err(AddressError::PathTooLong));
    }

    #[test]
    fn path_length_counts_source_route() {
        let mailbox = format!("{}@b", local_of_len(60));
        // "<" + "@" + route + ":" + 62 + ">" = 256  =>  route = 190.
        let ok = format!("<@{}:{mailbox}>", domain_of_len(190));
        assert_eq!(ok.len(), MAX_PATH_LEN);
        assert_eq!(rcpt_ok(ok.as_bytes()).to_string(), mailbox);
        let too_long = format!("<@{}:{mailbox}>", domain_of_len(191));
        assert_eq!(rcpt_err(too_long.as_bytes()), AddressError::PathTooLong);
    }

    #[test]
    fn endless_source_route_is_bounded() {
        let mut input = b"<".to_vec();
        for _ in 0..10_000 {
            input.extend_from_slice(b"@a,");
        }
        assert_eq!(rcpt_err(&input), AddressError::PathTooLong);
        let long_route = format!("<@{}:a@b>", domain_of_len(254));
        assert_eq!(rcpt_err(long_route.as_bytes()), AddressError::PathTooLong);
    }

    // ---- EHLO / HELO argument (RFC 5321 §4.1.1.1) -------------------------------------

    #[test]
    fn hello_domain() {
        assert_eq!(
            parse_hello_domain(b"mail.example"),
            Ok(name("mail.example"))
        );
        assert_eq!(
            parse_hello_domain(b"WIN_HOST.corp"),
            Ok(name("WIN_HOST.corp"))
        );
        assert_eq!(parse_hello_domain(b"_x_"), Ok(name("_x_")));
        assert_eq!(
            parse_hello_domain(b"[192.0.2.1]"),
            lit(AddressLiteral::Ipv4(Ipv4Addr::new(192, 0, 2, 1)))
        );
        assert_eq!(
            parse_hello_domain("bücher.example".as_bytes()),
            Ok(name("bücher.example"))
        );
    }

    #[test]
    fn bad_hello_domain() {
        assert_eq!(parse_hello_domain(b""), Err(AddressError::BadDomain));
        assert_eq!(parse_hello_domain(b"host."), Err(AddressError::BadDomain));
        assert_eq!(parse_hello_domain(b"-host"), Err(AddressError::BadDomain));
        assert_eq!(parse_hello_domain(b"a/b"), Err(AddressError::BadDomain));
        assert_eq!(
            parse_hello_domain(b"[1.2.3.4]x"),
            Err(AddressError::BadDomain)
        );
        assert_eq!(
            parse_hello_domain(b"a b"),
            Err(AddressError::InvalidCharacter)
        );
        assert_eq!(
            parse_hello_domain(b"a\r\n"),
            Err(AddressError::InvalidCharacter)
        );
        assert_eq!(
            parse_hello_domain(b"a\x00"),
            Err(AddressError::InvalidCharacter)
        );
        assert_eq!(
            parse_hello_domain(b" a"),
            Err(AddressError::InvalidCharacter)
        );
        assert_eq!(parse_hello_domain(b"1.2.3.4"), Ok(name("1.2.3.4")));
    }

    // ---- FromStr, Display, errors ---------------------------------------------------------

    #[test]
    fn from_str() {
        let parsed = mailbox("user@example.org");
        assert_eq!(parsed.local_part(), "user");
        assert_eq!(parsed.domain(), &name("example.org"));
        assert_eq!("<a@b>".parse::<Mailbox>(), Err(AddressError::BadLocalPart));
        assert_eq!("a@b>".parse::<Mailbox>(), Err(AddressError::Syntax));
        assert_eq!(
            "a@b ".parse::<Mailbox>(),
            Err(AddressError::InvalidCharacter)
        );
        assert_eq!("ab".parse::<Mailbox>(), Err(AddressError::MissingDomain));
        assert_eq!("".parse::<Mailbox>(), Err(AddressError::BadLocalPart));
        assert_eq!("@a:b@c".parse::<Mailbox>(), Err(AddressError::BadLocalPart));
    }

    #[test]
    fn from_str_enforces_path_limit() {
        let local = local_of_len(MAX_LOCAL_PART_LEN);
        let ok = format!("{local}@{}", domain_of_len(189));
        assert_eq!(ok.len(), MAX_PATH_LEN - 2);
        assert_eq!(mailbox(&ok).to_string(), ok);
        let too_long = format!("{local}@{}", domain_of_len(190));
        assert_eq!(too_long.parse::<Mailbox>(), Err(AddressError::PathTooLong));
    }

    #[test]
    fn display_forms() {
        let mailbox = mailbox("\"a b\"@[IPv6:2001:db8:0:0:0:0:0:1]");
        assert_eq!(mailbox.to_string(), "\"a b\"@[IPv6:2001:db8::1]");
        assert_eq!(
            ReversePath::Mailbox(mailbox.clone()).to_string(),
            "<\"a b\"@[IPv6:2001:db8::1]>"
        );
        assert_eq!(
            ForwardPath::Mailbox(mailbox.clone()).to_string(),
            "<\"a b\"@[IPv6:2001:db8::1]>"
        );
        assert_eq!(
            ForwardPath::Mailbox(mailbox.clone()).mailbox(),
            Some(&mailbox)
        );
        assert_eq!(
            ReversePath::Mailbox(mailbox.clone()).mailbox(),
            Some(&mailbox)
        );
        assert_eq!(ForwardPath::Postmaster.mailbox(), None);
        assert_eq!(ReversePath::Null.mailbox(), None);
        assert_eq!(name("x.example").to_string(), "x.example");
    }

    #[test]
    fn error_descriptions() {
        let all = [
            (AddressError::MissingAngleBrackets, "Missing angle brackets"),
            (
                AddressError::NullPathNotAllowed,
                "Null path not allowed here",
            ),
            (AddressError::MissingDomain, "Missing domain in address"),
            (AddressError::BadLocalPart, "Bad local part syntax"),
            (AddressError::BadDomain, "Bad domain syntax"),
            (AddressError::BadAddressLiteral, "Bad address literal"),
            (AddressError::BadSourceRoute, "Bad source route"),
            (
                AddressError::InvalidCharacter,
                "Invalid character in address",
            ),
            (AddressError::Syntax, "Bad address syntax"),
            (AddressError::LocalPartTooLong, "Local part too long"),
            (AddressError::DomainTooLong, "Domain too long"),
            (AddressError::PathTooLong, "Path too long"),
            (AddressError::InvalidUtf8, "Invalid UTF-8"),
        ];
        for (error, text) in all {
            assert_eq!(error.description(), text);
            assert_eq!(error.to_string(), text);
            assert!(text.bytes().all(|b| (32..=126).contains(&b)));
        }
    }

    #[test]
    fn byte_classes() {
        let atext: Vec<u8> = (0u8..0x80).filter(|&b| has_class(b, ATEXT)).collect();
        let mut expected: Vec<u8> = b"!#$%&'*+-/=?^_`{|}~".to_vec();
        expected.extend(b'0'..=b'9');
        expected.extend(b'A'..=b'Z');
        expected.extend(b'a'..=b'z');
        expected.sort_unstable();
        assert_eq!(atext, expected);
        let qtext_count = (0u8..0x80).filter(|&b| has_class(b, QTEXT)).count();
        assert_eq!(qtext_count, 95 - 2); // printable + space, minus '"' and '\'
        let dcontent_count = (0u8..0x80).filter(|&b| has_class(b, DCONTENT)).count();
        assert_eq!(dcontent_count, 94 - 3); // printable, minus '[', '\', ']'
        assert!(has_class(0x80, ATEXT | QTEXT | LABEL) && !has_class(0xff, DCONTENT));
    }

    // ---- properties ---------------------------------------------------------------------

    /// Bytes that make the parsers reach deep states.
    fn smtp_byte() -> impl Strategy<Value = u8> {
        prop::sample::select(
            b"<>@.:,[]\"\\-_aAzZ09 \r\n\x00\x7f\xc3\xa9\xffIPv6:Postmaster!{}$;".to_vec(),
        )
    }

    fn check_no_panic(input: &[u8]) {
        if let Ok((_, rest)) = parse_reverse_path(input) {
            assert!(input.ends_with(rest) && rest.len() < input.len());
        }
        if let Ok((path, rest)) = parse_forward_path(input) {
            assert!(input.ends_with(rest) && rest.len() < input.len());
            if let ForwardPath::Mailbox(mailbox) = path {
                // Every accepted mailbox round-trips through Display and FromStr.
                assert_eq!(mailbox.to_string().parse::<Mailbox>(), Ok(mailbox.clone()));
                assert!(mailbox.local_part().len() <= MAX_LOCAL_PART_LEN);
                assert!(mailbox.to_string().len() + 2 <= MAX_PATH_LEN);
            }
        }
        if let Ok(domain) = parse_hello_domain(input) {
            assert!(domain.to_string().len() <= MAX_DOMAIN_LEN);
        }
        if let Ok(text) = std::str::from_utf8(input) {
            let _ = text.parse::<Mailbox>();
        }
    }

    /// The address parsers as they were before the ASCII fast path: each part converted
    /// with its own `from_utf8`, the length limits checked at every octet. The fast parsers
    /// must return exactly what these return, errors included.
    mod reference {
        use super::super::*;

        pub(super) fn reverse(input: &[u8]) -> Result<(ReversePath, &[u8]), AddressError> {
            if let Some(rest) = input.strip_prefix(b"<>") {
                return Ok((ReversePath::Null, rest));
            }
            let (mailbox, rest) = path(input)?;
            Ok((ReversePath::Mailbox(mailbox.into_owned()), rest))
        }

        pub(super) fn forward(input: &[u8]) -> Result<(ForwardPath, &[u8]), AddressError> {
            if input.starts_with(b"<>") {
                return Err(AddressError::NullPathNotAllowed);
            }
            if let Some(rest) = strip_postmaster(input) {
                return Ok((ForwardPath::Postmaster, rest));
            }
            let (mailbox, rest) = path(input)?;
            Ok((ForwardPath::Mailbox(mailbox.into_owned()), rest))
        }

        pub(super) fn mailbox_from_str(text: &str) -> Result<Mailbox, AddressError> {
            let input = text.as_bytes();
            let (mailbox, rest) = mailbox(input)?;
            if let Some(&byte) = rest.first() {
                return Err(error_at(Some(byte), AddressError::Syntax));
            }
            if input.len().saturating_add(2) > MAX_PATH_LEN {
                return Err(AddressError::PathTooLong);
            }
            Ok(mailbox.into_owned())
        }

        pub(super) fn hello(input: &[u8]) -> Result<Domain, AddressError> {
            let (domain, rest) = domain(input, Labels::AllowUnderscore)?;
            if let Some(&byte) = rest.first() {
                return Err(error_at(Some(byte), AddressError::BadDomain));
            }
            Ok(domain.into_owned())
        }

        fn path(input: &[u8]) -> Result<(MailboxRef<'_>, &[u8]), AddressError> {
            let Some(after_open) = input.strip_prefix(b"<") else {
                return Err(AddressError::MissingAngleBrackets);
            };
            let after_route = source_route(after_open)?;
            let (mailbox, after_mailbox) = mailbox(after_route)?;
            let rest = match after_mailbox.split_first() {
                Some((b'>', rest)) => rest,
                None => return Err(AddressError::MissingAngleBrackets),
                Some((&byte, _)) => return Err(error_at(Some(byte), AddressError::Syntax)),
            };
            if consumed(input, rest) > MAX_PATH_LEN {
                return Err(AddressError::PathTooLong);
            }
            Ok((mailbox, rest))
        }

        fn source_route(input: &[u8]) -> Result<&[u8], AddressError> {
            let mut rest = input;
            while let Some(after_at) = rest.strip_prefix(b"@") {
                let (_, after_domain) = domain_name(after_at, Labels::Strict)?;
                if consumed(input, after_domain) >= MAX_PATH_LEN {
                    return Err(AddressError::PathTooLong);
                }
                match after_domain.split_first() {
                    Some((b',', next)) if next.first() == Some(&b'@') => rest = next,
                    Some((b':', mailbox)) => return Ok(mailbox),
                    other => {
                        return Err(error_at(
                            other.map(|(&byte, _)| byte),
                            AddressError::BadSourceRoute,
                        ));
                    }
                }
            }
            Ok(rest)
        }

        fn mailbox(input: &[u8]) -> Result<(MailboxRef<'_>, &[u8]), AddressError> {
            let (local_part, after_local) = local_part(input)?;
            let after_at = match after_local.split_first() {
                Some((b'@', after_at)) => after_at,
                None | Some((b'>', _)) => return Err(AddressError::MissingDomain),
                Some((&byte, _)) => return Err(error_at(Some(byte), AddressError::BadLocalPart)),
            };
            let (domain, rest) = domain(after_at, Labels::Strict)?;
            Ok((MailboxRef { local_part, domain }, rest))
        }

        fn local_part(input: &[u8]) -> Result<(&str, &[u8]), AddressError> {
            let len = if input.first() == Some(&b'"') {
                quoted_string_len(input)?.0
            } else {
                dot_string_len(input)?
            };
            let (local_part, rest) = input.split_at(len);
            Ok((utf8(local_part)?, rest))
        }

        fn dot_string_len(input: &[u8]) -> Result<usize, AddressError> {
            let mut len = input.len();
            let mut previous = b'.';
            for (index, &byte) in input.iter().enumerate() {
                if !has_class(byte, ATEXT | DOT) {
                    len = index;
                    break;
                }
                if index == MAX_LOCAL_PART_LEN {
                    return Err(AddressError::LocalPartTooLong);
                }
                if byte == b'.' && previous == b'.' {
                    return Err(AddressError::BadLocalPart);
                }
                previous = byte;
            }
            if len == 0 {
                return Err(error_at(input.first().copied(), AddressError::BadLocalPart));
            }
            if previous == b'.' {
                return Err(AddressError::BadLocalPart);
            }
            Ok(len)
        }

        fn domain(input: &[u8], labels: Labels) -> Result<(DomainRef<'_>, &[u8]), AddressError> {
            if input.first() == Some(&b'[') {
                let (literal, rest) = parse_address_literal(input)?;
                Ok((DomainRef::Literal(literal), rest))
            } else {
                let (name, rest) = domain_name(input, labels)?;
                Ok((DomainRef::Name(name), rest))
            }
        }

        fn domain_name(input: &[u8], labels: Labels) -> Result<(&str, &[u8]), AddressError> {
            let classes = labels.domain_classes();
            let mut len = input.len();
            let mut previous = b'.';
            for (index, &byte) in input.iter().enumerate() {
                if !has_class(byte, classes) {
                    len = index;
                    break;
                }
                if index == MAX_DOMAIN_LEN {
                    return Err(AddressError::DomainTooLong);
                }
                let label_starts = previous == b'.';
                let label_ends = byte == b'.';
                if (label_starts && (byte == b'.' || byte == b'-'))
                    || (label_ends && previous == b'-')
                {
                    return Err(AddressError::BadDomain);
                }
                previous = byte;
            }
            if len == 0 {
                return Err(error_at(input.first().copied(), AddressError::BadDomain));
            }
            if previous == b'.' || previous == b'-' {
                return Err(AddressError::BadDomain);
            }
            let (name, rest) = input.split_at(len);
            Ok((utf8(name)?, rest))
        }
    }

    /// Compares every public parser with its reference on `input`.
    fn check_against_reference(input: &[u8]) {
        let show = || String::from_utf8_lossy(input).into_owned();
        assert_eq!(
            parse_reverse_path(input),
            reference::reverse(input),
            "{}",
            show()
        );
        assert_eq!(
            parse_forward_path(input),
            reference::forward(input),
            "{}",
            show()
        );
        assert_eq!(
            parse_hello_domain(input),
            reference::hello(input),
            "{}",
            show()
        );
        // The inside of the brackets as an EHLO argument, as a mailbox (`FromStr`), and
        // bracketed again as a forward-path.
        if let Some(inner) = input.strip_prefix(b"<") {
            let inner = inner.strip_suffix(b">").unwrap_or(inner);
            if let Ok(text) = std::str::from_utf8(inner) {
                assert_eq!(
                    text.parse::<Mailbox>(),
                    reference::mailbox_from_str(text),
                    "{text}"
                );
            }
            assert_eq!(
                parse_hello_domain(inner),
                reference::hello(inner),
                "{}",
                show()
            );
            let bracketed = [b"<".as_slice(), inner, b">"].concat();
            assert_eq!(
                parse_forward_path(&bracketed),
                reference::forward(&bracketed),
                "{}",
                show()
            );
        }
    }

    /// Mailbox-shaped input: local parts (atoms, quoted strings, UTF-8, stray octets) and
    /// domains (names, U-labels, literals) around the length limits.
    fn mailbox_like() -> impl Strategy<Value = Vec<u8>> {
        let atom = prop_oneof![
            "[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]{1,12}".prop_map(String::into_bytes),
            "[a-zé\u{10348}]{1,6}".prop_map(String::into_bytes),
            Just(b"\xc3".to_vec()),
            Just(b"\xff".to_vec()),
            Just(b"\xe2\x82".to_vec()),
            Just(vec![b'a'; 60]),
        ];
        let local = prop_oneof![
            prop::collection::vec(atom.clone(), 1..4).prop_map(|atoms| atoms.join(&b'.')),
            "\"[ -~é]{0,10}\"".prop_map(String::into_bytes),
            prop::collection::vec(atom.clone(), 1..4).prop_map(|atoms| atoms.join(&b'-')),
        ];
        let label = prop_oneof![
            "[a-z0-9]([a-z0-9_-]{0,8}[a-z0-9])?".prop_map(String::into_bytes),
            "[a-zü-]{1,6}".prop_map(String::into_bytes),
            Just(b"\xc3\xbc".to_vec()),
            Just(b"\xfc".to_vec()),
            Just(vec![b'a'; 63]),
            Just(b"-a".to_vec()),
            Just(b"a-".to_vec()),
            Just(Vec::new()),
        ];
        let domain = prop_oneof![
            prop::collection::vec(label, 1..6).prop_map(|labels| labels.join(&b'.')),
            Just(b"[192.0.2.1]".to_vec()),
            Just(b"[IPv6:2001:db8::1]".to_vec()),
            Just(b"[x-tag:\xc3\xa9]".to_vec()),
        ];
        let route = prop_oneof![
            Just(Vec::new()),
            Just(b"@a.b,@\xc3\xbc:".to_vec()),
            Just(b"@\xff:".to_vec())
        ];
        let rest = prop_oneof![
            Just(Vec::new()),
            Just(b" SIZE=1".to_vec()),
            Just(b">".to_vec())
        ];
        (route, local, domain, rest).prop_map(|(route, local, domain, rest)| {
            [b"<".as_slice(), &route, &local, b"@", &domain, b">", &rest].concat()
        })
    }

    #[test]
    fn every_byte_at_every_position_matches_the_reference() {
        for base in [
            &b"<ab.c@d-e.f>"[..],
            b"<\"a b\"@x.y>",
            b"<@r.s:u@[1.2.3.4]>",
            "<é.a@ü-b.c>".as_bytes(),
            b"client_1.example",
        ] {
            for position in 0..=base.len() {
                for byte in 0..=u8::MAX {
                    let mut input = base.to_vec();
                    input.insert(position, byte);
                    check_against_reference(&input);
                    if position < base.len() {
                        input.remove(position);
                        input[position] = byte;
                        check_against_reference(&input);
                    }
                }
            }
        }
    }

    #[test]
    fn length_limits_match_the_reference() {
        for len in [62, 63, 64, 65, 66] {
            let local = "a.".repeat(len / 2) + &"b".repeat(len % 2 + 1);
            for domain_len in [253, 254, 255, 256, 257] {
                let domain = domain_of_len(domain_len);
                check_against_reference(&path(&local, &domain));
                check_against_reference(&path(&local_of_len(len), &domain));
                check_against_reference(&path(&local_of_len(len), "x"));
                check_against_reference(domain.as_bytes());
                check_against_reference(format!("{domain}.").as_bytes());
                check_against_reference(format!("{domain}-").as_bytes());
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn fast_path_matches_reference_on_mailboxes(input in mailbox_like()) {
            check_against_reference(&input);
        }

        #[test]
        fn fast_path_matches_reference_on_smtp_alphabet(
            input in prop::collection::vec(smtp_byte(), 0..300),
        ) {
            check_against_reference(&input);
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(input in prop::collection::vec(any::<u8>(), 0..600)) {
            check_no_panic(&input);
        }

        #[test]
        fn smtp_alphabet_never_panics(input in prop::collection::vec(smtp_byte(), 0..300)) {
            check_no_panic(&input);
        }

        #[test]
        fn generated_mailboxes_round_trip(
            local in "[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]{1,20}(\\.[a-z0-9]{1,10}){0,3}",
            domain in "[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?(\\.[a-z0-9]{1,10}){0,3}",
            rest in "( [A-Z]+=[a-z0-9]+)?",
        ) {
            let input = format!("<{local}@{domain}>{rest}");
            let (path, tail) = parse_forward_path(input.as_bytes())
                .map_err(|e| TestCaseError::fail(format!("{input}: {e}")))?;
            prop_assert_eq!(tail, rest.as_bytes());
            let mailbox = path.mailbox().cloned()
                .ok_or_else(|| TestCaseError::fail("not a mailbox"))?;
            prop_assert_eq!(mailbox.local_part(), local.as_str());
            prop_assert_eq!(mailbox.domain(), &Domain::Name(domain.clone()));
            prop_assert_eq!(mailbox.to_string(), format!("{local}@{domain}"));
        }
    }
}
