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
//!
//! # Why hand-written
//!
//! The path parser is hand-written rather than built from nom combinators because it is the
//! measured hot path: every MAIL and RCPT goes through it. The benches `command_parsing` and
//! `session_throughput` (`tests/benches`) measure it; in a pipelined session (callgrind, 4 KiB
//! reads) MAIL and RCPT handling is about 17% of the instructions (their parsing about 10%) and
//! content decoding about 42% (issue 16; `BENCHMARKS.md`). nom is for the cold
//! paths, where combinators read better and speed does not matter.

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
///
/// A mailbox with a domain name is kept as `local@domain`, as sent: inside the value itself
/// when it has at most [`MAILBOX_INLINE_LEN`] octets (no allocation: most addresses), in
/// one heap allocation otherwise; the parts are borrowed views into it. An address literal
/// is kept apart, parsed, with the local part (one allocation, for a form that is rare on
/// the wire).
///
/// The inline text is checked UTF-8 when parsed; since the core crate has no `unsafe`, each
/// accessor that returns a `&str` of it ([`Mailbox::local_part`], [`Mailbox::domain`],
/// `Display`) checks it again, a short pass over at most [`MAILBOX_INLINE_LEN`] octets.
#[derive(Clone)]
pub struct Mailbox {
    repr: Repr,
}

/// Octets of `local@domain` a [`Mailbox`] holds without a heap allocation (choice: the
/// most that keeps a `Mailbox` at 40 octets, the size of the `String` + index it replaced).
pub const MAILBOX_INLINE_LEN: usize = 37;

/// How a [`Mailbox`] keeps its text. Canonical: a name mailbox of at most
/// [`MAILBOX_INLINE_LEN`] octets is always `Inline` (zero-filled past `len`), a longer one
/// always `Heap`; equality and hashing read the parts, not the variant, all the same.
#[derive(Clone)]
enum Repr {
    /// `local@name` in `bytes[..len]`, well-formed UTF-8; the `@` at `at`.
    Inline {
        len: u8,
        at: u8,
        bytes: [u8; MAILBOX_INLINE_LEN],
    },
    /// `local@name` longer than [`MAILBOX_INLINE_LEN`]; the `@` at `at`.
    Heap { at: u8, text: Box<str> },
    /// The local part and the address literal of the domain.
    Literal(Box<(Box<str>, AddressLiteral)>),
}

/// The `&str` of octets the parser checked as UTF-8 (never empty on that path; the
/// fallback is unreachable and keeps the accessor total).
fn checked_str(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or_default()
}

impl Mailbox {
    /// A name mailbox from `local@name` (`text`, well-formed UTF-8 checked by the caller,
    /// the `@` at `at`, both within the RFC 5321 limits).
    fn from_name_text(text: &[u8], at: usize) -> Self {
        // The local part has at most 64 octets, so `at` fits.
        let at = u8::try_from(at).unwrap_or(u8::MAX);
        let repr = match u8::try_from(text.len()) {
            Ok(len) if text.len() <= MAILBOX_INLINE_LEN => {
                let mut bytes = [0; MAILBOX_INLINE_LEN];
                if let Some(dst) = bytes.get_mut(..text.len()) {
                    dst.copy_from_slice(text);
                }
                Repr::Inline { len, at, bytes }
            }
            _ => Repr::Heap {
                at,
                // Already checked: borrowed as is, then copied once.
                text: String::from_utf8_lossy(text).into(),
            },
        };
        Self { repr }
    }

    /// A mailbox from its parts (the slow path: the reference oracles and literals).
    pub(super) fn from_parts(local_part: &str, domain: ParsedDomain<'_>) -> Self {
        match domain {
            ParsedDomain::Name(name) => {
                let len = local_part.len() + 1 + name.len();
                if len <= MAILBOX_INLINE_LEN {
                    let mut text = [0; MAILBOX_INLINE_LEN];
                    let (local, rest) = text.split_at_mut(local_part.len());
                    local.copy_from_slice(local_part.as_bytes());
                    if let Some((at, rest)) = rest.split_first_mut() {
                        *at = b'@';
                        if let Some(dst) = rest.get_mut(..name.len()) {
                            dst.copy_from_slice(name.as_bytes());
                        }
                    }
                    return Self::from_name_text(
                        text.get(..len).unwrap_or_default(),
                        local_part.len(),
                    );
                }
                let mut text = String::with_capacity(len);
                text.push_str(local_part);
                text.push('@');
                text.push_str(name);
                Self::from_name_text(text.as_bytes(), local_part.len())
            }
            ParsedDomain::Literal(literal) => Self {
                repr: Repr::Literal(Box::new((local_part.into(), literal.into_owned()))),
            },
        }
    }

    /// `local@name` for a name, the local part alone for a literal; and where the local
    /// part ends.
    fn text_bytes(&self) -> (&[u8], usize) {
        match &self.repr {
            Repr::Inline { len, at, bytes } => (
                bytes.get(..usize::from(*len)).unwrap_or_default(),
                usize::from(*at),
            ),
            Repr::Heap { at, text } => (text.as_bytes(), usize::from(*at)),
            Repr::Literal(parts) => (parts.0.as_bytes(), parts.0.len()),
        }
    }

    /// The address literal, if the domain is one.
    fn literal(&self) -> Option<&AddressLiteral> {
        match &self.repr {
            Repr::Literal(parts) => Some(&parts.1),
            Repr::Inline { .. } | Repr::Heap { .. } => None,
        }
    }

    /// The local part exactly as sent: a dot-string, or a quoted string *with* its quotes and
    /// backslashes; case preserved (RFC 5321 §2.4). Do not expand or unquote it blindly.
    pub fn local_part(&self) -> &str {
        match &self.repr {
            Repr::Inline { at, bytes, .. } => {
                checked_str(bytes.get(..usize::from(*at)).unwrap_or_default())
            }
            Repr::Heap { at, text } => text.get(..usize::from(*at)).unwrap_or_default(),
            Repr::Literal(parts) => &parts.0,
        }
    }

    /// The domain part: a name or an address literal, borrowed from the mailbox. It compares
    /// equal to the [`Domain`] of the same text, and [`DomainRef::into_owned`] makes one.
    pub fn domain(&self) -> DomainRef<'_> {
        match &self.repr {
            Repr::Inline { len, at, bytes } => DomainRef::Name(checked_str(
                bytes
                    .get(usize::from(*at) + 1..usize::from(*len))
                    .unwrap_or_default(),
            )),
            Repr::Heap { at, text } => {
                DomainRef::Name(text.get(usize::from(*at) + 1..).unwrap_or_default())
            }
            Repr::Literal(parts) => DomainRef::Literal(&parts.1),
        }
    }

    /// `false` if the local part or domain contains UTF-8 beyond ASCII. Such an address needs
    /// the `SMTPUTF8` MAIL parameter; without it, reply `553 5.6.7` (RFC 6531 §3.6.2).
    pub fn is_ascii(&self) -> bool {
        // An address literal is ASCII by grammar (`dcontent`, RFC 5321 §4.1.3).
        self.text_bytes().0.is_ascii()
    }
}

impl PartialEq for Mailbox {
    /// Byte-exact on the parts (local part case preserved, RFC 5321 §2.4).
    fn eq(&self, other: &Self) -> bool {
        self.text_bytes() == other.text_bytes() && self.literal() == other.literal()
    }
}

impl Eq for Mailbox {}

impl std::hash::Hash for Mailbox {
    /// Hashes what [`PartialEq`] compares.
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.text_bytes().hash(state);
        self.literal().hash(state);
    }
}

impl fmt::Debug for Mailbox {
    /// The parts, as if they were two fields.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailbox")
            .field("local_part", &self.local_part())
            .field("domain", &self.domain())
            .finish()
    }
}

impl fmt::Display for Mailbox {
    /// Writes `local@domain`, which parses back to an equal `Mailbox`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.literal() {
            None => f.write_str(checked_str(self.text_bytes().0)),
            Some(literal) => write!(f, "{}@{literal}", self.local_part()),
        }
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
/// Names are kept as sent (mixed case, U-labels in UTF-8), and `==` compares them byte
/// for byte; compare them with [`Domain::eq_ignore_ascii_case`] when routing, since
/// domains are not case sensitive (RFC 5321 §2.4). A name never ends in a dot (the
/// grammar has no empty label), so there is no trailing dot to ignore.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Domain {
    /// A domain name such as `mail.example` or `bücher.example` (RFC 6531 U-labels are not
    /// checked against IDNA2008; the DNS or the application decides).
    Name(String),
    /// An address literal such as `[192.0.2.1]` (RFC 5321 §4.1.3).
    Literal(AddressLiteral),
}

impl Domain {
    /// Whether `other` is the same domain, ASCII letters compared without case (RFC 5321
    /// §2.4): `Mail.Example` equals `mail.example`. U-labels match only byte for byte
    /// outside ASCII (no Unicode case folding or IDNA mapping); address literals match
    /// when they name the same address (`[IPv6:...]` compares the parsed address).
    ///
    /// ```
    /// use smtp_proto::{Domain, Mailbox};
    /// let ehlo = Domain::Name("MX.Example".to_owned());
    /// assert!(ehlo.eq_ignore_ascii_case(&Domain::Name("mx.example".to_owned())));
    /// let mailbox: Mailbox = "user@mx.EXAMPLE".parse()?;
    /// assert!(ehlo.eq_ignore_ascii_case(mailbox.domain()));
    /// # Ok::<(), smtp_proto::codec::address::AddressError>(())
    /// ```
    pub fn eq_ignore_ascii_case<'b>(&self, other: impl Into<DomainRef<'b>>) -> bool {
        DomainRef::from(self).eq_ignore_ascii_case(other.into())
    }

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
        DomainRef::from(self).fmt(f)
    }
}

impl PartialEq<DomainRef<'_>> for Domain {
    fn eq(&self, other: &DomainRef<'_>) -> bool {
        DomainRef::from(self) == *other
    }
}

/// A borrowed [`Domain`]: the domain of a [`Mailbox`], which keeps its parts in one string.
///
/// Compares equal to the [`Domain`] with the same name or literal (names byte-exact, as
/// [`Domain`]'s own equality); [`DomainRef::into_owned`] makes that [`Domain`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DomainRef<'a> {
    /// A domain name, as sent (see [`Domain::Name`]).
    Name(&'a str),
    /// An address literal (see [`Domain::Literal`]).
    Literal(&'a AddressLiteral),
}

impl DomainRef<'_> {
    /// Whether `other` is the same domain, ASCII letters compared without case; see
    /// [`Domain::eq_ignore_ascii_case`].
    pub fn eq_ignore_ascii_case(self, other: DomainRef<'_>) -> bool {
        match (self, other) {
            (Self::Name(a), DomainRef::Name(b)) => a.eq_ignore_ascii_case(b),
            (Self::Literal(a), DomainRef::Literal(b)) => a == b,
            _ => false,
        }
    }

    /// `false` if this is a name containing UTF-8 beyond ASCII (an RFC 6531 U-label).
    pub fn is_ascii(self) -> bool {
        match self {
            Self::Name(name) => name.is_ascii(),
            Self::Literal(_) => true,
        }
    }

    /// The owned [`Domain`] (one allocation for a name, a copy of the literal otherwise).
    pub fn into_owned(self) -> Domain {
        match self {
            Self::Name(name) => Domain::Name(name.to_owned()),
            Self::Literal(literal) => Domain::Literal(literal.clone()),
        }
    }
}

impl<'a> From<&'a Domain> for DomainRef<'a> {
    fn from(domain: &'a Domain) -> Self {
        match domain {
            Domain::Name(name) => Self::Name(name),
            Domain::Literal(literal) => Self::Literal(literal),
        }
    }
}

impl fmt::Display for DomainRef<'_> {
    /// Writes the name, or the literal in brackets, as [`Domain`] does.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Name(name) => f.write_str(name),
            Self::Literal(literal) => literal.fmt(f),
        }
    }
}

impl PartialEq<Domain> for DomainRef<'_> {
    fn eq(&self, other: &Domain) -> bool {
        *self == DomainRef::from(other)
    }
}

impl PartialEq<&Domain> for DomainRef<'_> {
    fn eq(&self, other: &&Domain) -> bool {
        *self == DomainRef::from(*other)
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
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

// No `#[error]` messages: thiserror derives `Error` only, and `Display` writes the one table of
// texts that `description` also returns.
impl fmt::Display for AddressError {
    /// Writes [`AddressError::description`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

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

/// The fast path of the path parsers alone: `Some` only for the plain `<local@domain>` it
/// handles, with the mailbox and the rest. For differential
/// tests and fuzzing against [`parse_path_full`]; not a parser to use.
#[doc(hidden)]
pub fn parse_plain_path(input: &[u8]) -> Option<(Mailbox, &[u8])> {
    plain_path(input).map(|(mailbox, rest)| (mailbox.into_owned(), rest))
}

/// `Path` (RFC 5321 §4.1.2) by the full grammar, without the fast path: where
/// [`parse_plain_path`] returns `Some`, this must return the same. For differential tests
/// and fuzzing; [`parse_reverse_path`] and [`parse_forward_path`] are the parsers to use.
///
/// # Errors
///
/// As [`parse_reverse_path`] for a path that is not `<>`.
#[doc(hidden)]
pub fn parse_path_full(input: &[u8]) -> Result<(Mailbox, &[u8]), AddressError> {
    full_path(input).map(|(mailbox, rest)| (mailbox.into_owned(), rest))
}

// ---------------------------------------------------------------------------------------------
// Borrowed intermediate values: nothing is allocated until the whole path is accepted.
// ---------------------------------------------------------------------------------------------

/// A mailbox accepted by the parser, borrowed from the input.
pub(super) enum ParsedMailbox<'a> {
    /// `local@name`, contiguous in the input and checked UTF-8; the `@` at `at`.
    Name { text: &'a [u8], at: usize },
    /// A local part and an address literal (or, from the reference oracles, any domain).
    Parts {
        local_part: &'a str,
        domain: ParsedDomain<'a>,
    },
}

impl ParsedMailbox<'_> {
    /// The owned mailbox: no allocation for `local@name` of at most [`MAILBOX_INLINE_LEN`]
    /// octets, one for a longer one or for an address literal.
    pub(super) fn into_owned(self) -> Mailbox {
        match self {
            ParsedMailbox::Name { text, at } => Mailbox::from_name_text(text, at),
            ParsedMailbox::Parts { local_part, domain } => Mailbox::from_parts(local_part, domain),
        }
    }
}

pub(super) enum ParsedDomain<'a> {
    Name(&'a str),
    Literal(ParsedLiteral<'a>),
}

impl ParsedDomain<'_> {
    pub(super) fn into_owned(self) -> Domain {
        match self {
            ParsedDomain::Name(name) => Domain::Name(name.to_owned()),
            ParsedDomain::Literal(literal) => Domain::Literal(literal.into_owned()),
        }
    }
}

pub(super) enum ParsedLiteral<'a> {
    Ipv4(Ipv4Addr),
    Ipv6(Ipv6Addr),
    General { tag: &'a str, content: &'a str },
}

impl ParsedLiteral<'_> {
    fn into_owned(self) -> AddressLiteral {
        match self {
            ParsedLiteral::Ipv4(addr) => AddressLiteral::Ipv4(addr),
            ParsedLiteral::Ipv6(addr) => AddressLiteral::Ipv6(addr),
            ParsedLiteral::General { tag, content } => AddressLiteral::General {
                tag: tag.to_owned(),
                content: content.to_owned(),
            },
        }
    }
}

/// Whether domain labels may contain `_` (EHLO leniency) or follow RFC 5321 strictly.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Labels {
    Strict,
    AllowUnderscore,
}

impl Labels {
    /// The byte classes a domain name may contain.
    pub(super) fn domain_classes(self) -> u8 {
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
pub(super) const ATEXT: u8 = 1;
/// RFC 5321 §4.1.2 `qtextSMTP` (%d32-33 / %d35-91 / %d93-126), plus RFC 6531 non-ASCII.
const QTEXT: u8 = 2;
/// Label bytes: ALPHA / DIGIT / "-" (RFC 5321 §4.1.2 `Ldh-str`), plus RFC 6531 U-label bytes.
const LABEL: u8 = 4;
/// RFC 5321 §4.1.3 `dcontent` (%d33-90 / %d94-126); ASCII only.
const DCONTENT: u8 = 8;
/// `.`, the separator of atoms and labels.
pub(super) const DOT: u8 = 16;
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

pub(super) fn has_class(byte: u8, class: u8) -> bool {
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
pub(super) fn error_at(byte: Option<u8>, otherwise: AddressError) -> AddressError {
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
pub(super) fn consumed(whole: &[u8], rest: &[u8]) -> usize {
    whole.len().saturating_sub(rest.len())
}

pub(super) fn utf8(bytes: &[u8]) -> Result<&str, AddressError> {
    std::str::from_utf8(bytes).map_err(|_| AddressError::InvalidUtf8)
}

// ---------------------------------------------------------------------------------------------
// Path = "<" [ A-d-l ":" ] Mailbox ">"   (RFC 5321 §4.1.2)
// ---------------------------------------------------------------------------------------------

#[inline(always)]
fn parse_path(input: &[u8]) -> Result<(ParsedMailbox<'_>, &[u8]), AddressError> {
    if let Some(plain) = plain_path(input) {
        return Ok(plain);
    }
    full_path(input)
}

/// [`PLAIN_CLASSES`]: ASCII `atext` (RFC 5322 §3.2.3), the octets of a plain atom.
const PLAIN_ATOM: u8 = 1;
/// [`PLAIN_CLASSES`]: ASCII letters, digits and `-`, the octets of a plain label.
const PLAIN_LABEL: u8 = 2;

/// The octet classes of [`plain_path`], ASCII only (an octet above 0x7F is in neither).
static PLAIN_CLASSES: [u8; 256] = build_plain_classes();

/// Builds [`PLAIN_CLASSES`] from the ASCII half of [`BYTE_CLASSES`].
const fn build_plain_classes() -> [u8; 256] {
    let mut table = [0; 256];
    let mut byte = 0u8;
    while byte < 0x80 {
        let class = classify(byte);
        if class & ATEXT != 0 {
            table[byte as usize] |= PLAIN_ATOM;
        }
        if class & LABEL != 0 {
            table[byte as usize] |= PLAIN_LABEL;
        }
        byte += 1;
    }
    table
}

/// Whether `byte` is in the [`PLAIN_CLASSES`] class `class`.
#[inline(always)]
fn plain_class(byte: u8, class: u8) -> bool {
    // A u8 index into a 256-entry table is always in bounds.
    PLAIN_CLASSES.get(usize::from(byte)).copied().unwrap_or(0) & class != 0
}

/// The usual path in one pass: `<local@domain>` where the local part is an ASCII dot-string
/// and the domain ASCII letters, digits, hyphens and dots, with `>` right after it. Anything
/// else (a source route, a quoted string, an address literal, UTF-8, a limit, any error) is
/// `None` and goes to [`full_path`], which accepts everything this accepts and returns the
/// same mailbox and rest: the address tests (`check_plain_path`, run on every input of the
/// properties and of the every-byte tests) and the fuzz target `parsers` check it. At most
/// [`MAX_PATH_LEN`] octets are looked at.
#[inline(always)]
fn plain_path(input: &[u8]) -> Option<(ParsedMailbox<'_>, &[u8])> {
    let inner = input.strip_prefix(b"<")?;
    // `inner` up to and including `>` is at most 255 octets in a path that fits.
    let head = inner.get(..MAX_PATH_LEN - 1).unwrap_or(inner);
    // Dot-string: non-empty atoms of atext separated by single dots, then `@`.
    let mut index = 0;
    let at = loop {
        let start = index;
        while let Some(&byte) = head.get(index)
            && plain_class(byte, PLAIN_ATOM)
        {
            index += 1;
        }
        if index == start {
            return None;
        }
        match head.get(index)? {
            b'.' => index += 1,
            b'@' => break index,
            _ => return None,
        }
    };
    // At most 64 octets (RFC 5321 §4.5.3.1.1).
    if at > MAX_LOCAL_PART_LEN {
        return None;
    }
    // Labels `Let-dig [Ldh-str]` (non-empty, no hyphen at either end) separated by single
    // dots, then `>`; the domain's length is bounded by the path's.
    index = at + 1;
    let close = loop {
        let start = index;
        while let Some(&byte) = head.get(index)
            && plain_class(byte, PLAIN_LABEL)
        {
            index += 1;
        }
        if index == start || head.get(start) == Some(&b'-') || head.get(index - 1) == Some(&b'-') {
            return None;
        }
        match head.get(index)? {
            b'.' => index += 1,
            b'>' => break index,
            _ => return None,
        }
    };
    let text = head.get(..close)?;
    let rest = inner.get(close + 1..)?;
    Some((ParsedMailbox::Name { text, at }, rest))
}

/// The whole `Path` grammar (the fallback of [`plain_path`]).
#[inline(never)]
fn full_path(input: &[u8]) -> Result<(ParsedMailbox<'_>, &[u8]), AddressError> {
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
pub(super) fn strip_postmaster(input: &[u8]) -> Option<&[u8]> {
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
/// 0x7F (so the first error is the same as checking every part); `local@domain` is then
/// kept as bytes, with no conversion pass at all for the usual ASCII mailbox.
#[inline(always)]
fn parse_mailbox(input: &[u8]) -> Result<(ParsedMailbox<'_>, &[u8]), AddressError> {
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
        let domain = ParsedDomain::Literal(literal);
        return Ok((ParsedMailbox::Parts { local_part, domain }, rest));
    }
    let domain_len = domain_name_len(after_at, Labels::Strict)?;
    let mailbox_len = local_len
        .checked_add(1)
        .and_then(|len| len.checked_add(domain_len))
        .ok_or(AddressError::Syntax)?;
    let (text, rest) = input
        .split_at_checked(mailbox_len)
        .ok_or(AddressError::Syntax)?;
    // Both parts were checked UTF-8 where they had an octet above 0x7F, and `@` is ASCII:
    // the whole is well formed, with no second pass.
    Ok((
        ParsedMailbox::Name {
            text,
            at: local_len,
        },
        rest,
    ))
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
pub(super) fn quoted_string_len(input: &[u8]) -> Result<(usize, bool), AddressError> {
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
fn parse_domain(input: &[u8], labels: Labels) -> Result<(ParsedDomain<'_>, &[u8]), AddressError> {
    if input.first() == Some(&b'[') {
        let (literal, rest) = parse_address_literal(input)?;
        Ok((ParsedDomain::Literal(literal), rest))
    } else {
        let (name, rest) = parse_domain_name(input, labels)?;
        Ok((ParsedDomain::Name(name), rest))
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
pub(super) fn parse_address_literal(
    input: &[u8],
) -> Result<(ParsedLiteral<'_>, &[u8]), AddressError> {
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
fn parse_literal_content(content: &[u8]) -> Result<ParsedLiteral<'_>, AddressError> {
    let Some(colon) = content.iter().position(|&byte| byte == b':') else {
        return parse_ipv4(content).map(ParsedLiteral::Ipv4);
    };
    let (tag, colon_and_value) = content
        .split_at_checked(colon)
        .ok_or(AddressError::Syntax)?;
    let value = colon_and_value.get(1..).unwrap_or_default();
    if tag.eq_ignore_ascii_case(b"IPv6") {
        return parse_ipv6(value).map(ParsedLiteral::Ipv6);
    }
    // Standardized-tag = Ldh-str = *( ALPHA / DIGIT / "-" ) Let-dig; content = 1*dcontent.
    let tag_ok = tag.last().is_some_and(u8::is_ascii_alphanumeric)
        && tag
            .iter()
            .all(|&byte| byte.is_ascii_alphanumeric() || byte == b'-');
    if !tag_ok || value.is_empty() {
        return Err(AddressError::BadAddressLiteral);
    }
    Ok(ParsedLiteral::General {
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
mod tests;
