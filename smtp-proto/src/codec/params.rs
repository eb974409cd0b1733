//! ESMTP parameters of `MAIL FROM` and `RCPT TO`, and the xtext encoding (its helpers in
//! `codec::xtext`; the `HOLDUNTIL` date-time check in `codec::datetime`).
//!
//! Input is the bytes that follow the closing `>` of the path, without the
//! CRLF, e.g. `b" SIZE=100 BODY=8BITMIME"` or `b""`. Grammar (RFC 5321 §4.1.2):
//!
//! ```text
//! Mail-parameters = esmtp-param *(SP esmtp-param)
//! esmtp-param     = esmtp-keyword ["=" esmtp-value]
//! esmtp-keyword   = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
//! esmtp-value     = 1*(%d33-60 / %d62-126)      ; RFC 6531 §3.3 adds UTF8-non-ascii
//! ```
//!
//! Parsing is one pass over the borrowed input, with no allocation until the
//! final owned values and no copy of the parameter list: each parameter is
//! checked against the grammar as it is read, then classified (unknown, not
//! advertised, duplicate) and its value parsed. A grammar error anywhere in
//! the list (or more than [`MAX_PARAMS`] parameters) is returned before any
//! classification or value error; among those, the first from left to right
//! is returned. [`ParamError::reply_code`] gives the reply the server sends.
//!
//! Choices where the RFCs leave room (each pinned by a test):
//! * exactly one SP before each parameter, as the grammar says; SP runs,
//!   trailing SP, TAB, controls, `=` with an empty value and `==` are syntax
//!   errors ([`manual::classic_bugs`](crate::manual::classic_bugs), CVE-2020-28022 class inputs never crash);
//! * at most [`MAX_PARAMS`] parameters per command, more is
//!   [`ParamErrorKind::TooLong`];
//! * decoded xtext must be valid UTF-8 and must not contain any control
//!   character (Exim CVE-2020-28021, CVE-2020-28026).
//!
//! # Why hand-written
//!
//! The parameter parser is hand-written rather than built from nom combinators
//! because it is the measured hot path: every MAIL and RCPT with parameters
//! goes through it. The benches `command_parsing` and `session_throughput`
//! (`tests/benches`) measure it; in a pipelined session (callgrind, 4 KiB
//! reads) MAIL and RCPT handling is about 17% of the instructions (their parsing
//! about 10%) and content decoding about 42% (issue 16; `BENCHMARKS.md`).
//! nom is for the cold paths, where combinators read better and speed does not
//! matter.

use std::fmt::{self, Write as _};

use memchr::memchr;

use super::datetime::is_rfc3339_date_time;
use super::xtext::{decode_xtext_value, push_xtext};

/// Maximum number of parameters on one MAIL or RCPT command (choice; more is
/// [`ParamErrorKind::TooLong`], never a crash: Exim CVE-2020-28022).
pub const MAX_PARAMS: usize = 16;
/// Maximum length of the encoded `ENVID` value (RFC 3461 §4.4).
pub const MAX_ENVID_LEN: usize = 100;
/// Maximum length of the whole `ORCPT` value, `addr-type ";" xtext`
/// (RFC 3461 §4.2).
pub const MAX_ORCPT_LEN: usize = 500;
/// Maximum length of the encoded `AUTH` value. RFC 4954 §5 sets no limit;
/// this is the same cap as `ORCPT` (choice), ample for a 256-octet path
/// (RFC 5321 §4.5.3.1.3) with its unusual characters xtext-encoded.
pub const MAX_AUTH_LEN: usize = 500;

/// RFC 1870 §3 item (4): `size-value ::= 1*20DIGIT`.
const MAX_SIZE_DIGITS: usize = 20;
/// RFC 2852 §4: `by-time = ["-" / "+"]1*9digit`.
const MAX_BY_TIME_DIGITS: usize = 9;
/// RFC 4865: `future-release-integer = 1*9DIGIT`.
const MAX_HOLDFOR_DIGITS: usize = 9;
/// Longest keyword kept in a [`ParamError`] for its description.
const MAX_ERROR_KEYWORD: usize = 32;

// ---------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------

/// Which parameters the session currently advertises (the server fills this
/// per session from its EHLO reply). A known parameter whose extension is not
/// advertised is rejected with [`ParamErrorKind::Unsupported`] (555).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ParamSupport {
    /// `SIZE` (RFC 1870): MAIL `SIZE=`.
    pub size: bool,
    /// `8BITMIME` (RFC 6152): MAIL `BODY=7BIT` and `BODY=8BITMIME`.
    pub eight_bit_mime: bool,
    /// `BINARYMIME` (RFC 3030 §3): MAIL `BODY=BINARYMIME`.
    pub binary_mime: bool,
    /// `SMTPUTF8` (RFC 6531 §3.4): MAIL `SMTPUTF8`.
    pub smtputf8: bool,
    /// `DSN` (RFC 3461): MAIL `RET=`, `ENVID=`; RCPT `NOTIFY=`, `ORCPT=`.
    pub dsn: bool,
    /// `REQUIRETLS` (RFC 8689 §4): MAIL `REQUIRETLS`. Advertise it only on a
    /// TLS-protected session.
    pub requiretls: bool,
    /// `MT-PRIORITY` (RFC 6710): MAIL `MT-PRIORITY=`.
    pub mt_priority: bool,
    /// `DELIVERBY` (RFC 2852): MAIL `BY=`.
    pub deliver_by: bool,
    /// `FUTURERELEASE` (RFC 4865): MAIL `HOLDFOR=` and `HOLDUNTIL=`.
    pub future_release: bool,
    /// `AUTH` (RFC 4954 §5): MAIL `AUTH=`.
    pub auth: bool,
}

impl ParamSupport {
    /// Every extension advertised (useful for relays and tests).
    pub const fn all() -> Self {
        Self {
            size: true,
            eight_bit_mime: true,
            binary_mime: true,
            smtputf8: true,
            dsn: true,
            requiretls: true,
            mt_priority: true,
            deliver_by: true,
            future_release: true,
            auth: true,
        }
    }
}

/// The parameters of one `MAIL FROM` command, decoded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MailParams {
    /// RFC 1870 `SIZE=1*20DIGIT`, the declared message size in octets. A value
    /// beyond `u64::MAX` saturates to `u64::MAX` (the server answers 552).
    pub size: Option<u64>,
    /// RFC 6152 / RFC 3030 `BODY=7BIT | 8BITMIME | BINARYMIME`.
    pub body: Option<Body>,
    /// RFC 6531 §3.4 `SMTPUTF8` (no value).
    pub smtputf8: bool,
    /// RFC 3461 §4.3 `RET=FULL | HDRS`.
    pub ret: Option<Ret>,
    /// RFC 3461 §4.4 `ENVID=xtext`, decoded (at most 100 octets encoded).
    pub envid: Option<String>,
    /// RFC 4954 §5 `AUTH=xtext`, decoded: `<>` or a mailbox.
    pub auth: Option<AuthParam>,
    /// RFC 8689 §4 `REQUIRETLS` (no value).
    pub requiretls: bool,
    /// RFC 6710 `MT-PRIORITY=`, -9 ..= 9.
    pub mt_priority: Option<i8>,
    /// RFC 2852 §4 `BY=<by-time>;<by-mode>[T]`.
    pub deliver_by: Option<DeliverBy>,
    /// RFC 4865 `HOLDFOR=` or `HOLDUNTIL=` (mutually exclusive).
    pub hold: Option<Hold>,
}

/// The parameters of one `RCPT TO` command, decoded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RcptParams {
    /// RFC 3461 §4.1 `NOTIFY=NEVER` or a comma list of `SUCCESS`, `FAILURE`,
    /// `DELAY`.
    pub notify: Option<Notify>,
    /// RFC 3461 §4.2 `ORCPT=addr-type;xtext` (at most 500 octets). Boxed: it is rare,
    /// and inline it would more than double the size of every RCPT event.
    pub orcpt: Option<Box<Orcpt>>,
}

/// The `BODY=` value (RFC 6152 §2, RFC 3030 §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Body {
    /// `BODY=7BIT` (RFC 6152).
    SevenBit,
    /// `BODY=8BITMIME` (RFC 6152).
    EightBitMime,
    /// `BODY=BINARYMIME` (RFC 3030); the message must then come by BDAT.
    BinaryMime,
}

/// The `RET=` value (RFC 3461 §4.3): what a DSN returns of the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ret {
    /// `RET=FULL`: the whole message.
    Full,
    /// `RET=HDRS`: the headers only.
    Headers,
}

/// The `AUTH=` value (RFC 4954 §5), decoded from xtext.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AuthParam {
    /// `AUTH=<>`: the submitter is not known or not trusted.
    Null,
    /// The authenticated submitter's mailbox, as sent (this module does not
    /// validate the addr-spec; the address module does).
    Mailbox(String),
}

/// The `NOTIFY=` value (RFC 3461 §4.1). All `false` means `NEVER`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Notify {
    /// `SUCCESS`: notify on successful delivery.
    pub success: bool,
    /// `FAILURE`: notify on failed delivery.
    pub failure: bool,
    /// `DELAY`: notify on delayed delivery.
    pub delay: bool,
}

impl Notify {
    /// `true` for `NOTIFY=NEVER` (no condition requested).
    pub const fn is_never(&self) -> bool {
        !self.success && !self.failure && !self.delay
    }
}

/// The `ORCPT=` value (RFC 3461 §4.2): the original recipient.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Orcpt {
    /// The address type (an RFC 822 atom, e.g. `rfc822`, `utf-8`), as sent.
    pub addr_type: String,
    /// The original recipient address, xtext-decoded.
    pub address: String,
}

/// The `BY=` value (RFC 2852 §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DeliverBy {
    /// `by-time`: seconds, `-999_999_999 ..= 999_999_999`; positive when the
    /// mode is [`ByMode::Return`].
    pub seconds: i64,
    /// `by-mode`.
    pub mode: ByMode,
    /// `by-trace` (`T`): request trace DSNs.
    pub trace: bool,
}

/// The RFC 2852 §4 `by-mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ByMode {
    /// `N`: send a delay DSN when the time expires, keep trying.
    Notify,
    /// `R`: return the message as undeliverable when the time expires.
    Return,
}

/// The RFC 4865 hold request.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Hold {
    /// `HOLDFOR=`: hold for this many seconds (at most 9 digits).
    For(u64),
    /// `HOLDUNTIL=`: an RFC 3339 §5.6 date-time, syntactically validated and
    /// stored exactly as sent.
    Until(String),
}

/// Why a parameter list was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ParamErrorKind {
    /// The keyword is not known for this command: 555 5.5.4 (RFC 5321 §4.1.1.11).
    Unknown,
    /// The keyword is known but its extension is not advertised: 555 5.5.4.
    Unsupported,
    /// Malformed value or parameter grammar: 501 5.5.4.
    Syntax,
    /// The same parameter twice (or `HOLDFOR` with `HOLDUNTIL`): 501 5.5.4.
    Duplicate,
    /// An RFC 3461 length cap was exceeded, or more than [`MAX_PARAMS`]
    /// parameters were given: 501 5.5.4.
    TooLong,
    /// The decoded value contains a control character: 501 5.5.4.
    Forbidden,
}

/// A rejected parameter: its [`ParamErrorKind`] and the offending keyword
/// (empty when the grammar failed before a keyword was read).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ParamError {
    kind: ParamErrorKind,
    keyword: [u8; MAX_ERROR_KEYWORD],
    keyword_len: u8,
}

impl ParamError {
    pub(super) fn new(kind: ParamErrorKind, keyword: &[u8]) -> Self {
        let mut error = Self {
            kind,
            keyword: [0; MAX_ERROR_KEYWORD],
            keyword_len: 0,
        };
        // Keywords are ASCII by grammar; stop at anything else, just in case.
        let kept = keyword
            .iter()
            .take(MAX_ERROR_KEYWORD)
            .take_while(|&&b| is_keyword_byte(b))
            .count();
        if let (Some(dst), Some(src)) = (error.keyword.get_mut(..kept), keyword.get(..kept)) {
            dst.copy_from_slice(src);
            error.keyword_len = u8::try_from(kept).unwrap_or(0);
        }
        error
    }

    /// What went wrong.
    pub fn kind(&self) -> ParamErrorKind {
        self.kind
    }

    /// The keyword as sent, cut to 32 characters; empty if none was read.
    pub fn keyword(&self) -> &str {
        let bytes = self
            .keyword
            .get(..usize::from(self.keyword_len))
            .unwrap_or(&[]);
        std::str::from_utf8(bytes).unwrap_or("")
    }

    /// The basic reply code: 555 for unknown or unadvertised parameters
    /// (RFC 5321 §4.1.1.11), 501 for everything else (RFC 5321 §4.2.2).
    pub fn reply_code(&self) -> u16 {
        match self.kind {
            ParamErrorKind::Unknown | ParamErrorKind::Unsupported => 555,
            _ => 501,
        }
    }

    /// The RFC 3463 enhanced status code: always `5.5.4` (invalid command
    /// arguments).
    pub fn enhanced_code(&self) -> &'static str {
        "5.5.4"
    }

    /// Human-readable reply text, e.g. `Unsupported parameter FOO`.
    pub fn description(&self) -> String {
        self.to_string()
    }
}

// No `#[error]` message: thiserror derives `Error` only, since the text depends on whether a
// keyword was read, which a format string cannot say.
impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keyword = self.keyword();
        if keyword.is_empty() {
            let text = match self.kind {
                ParamErrorKind::Unknown => "Unknown parameter",
                ParamErrorKind::Unsupported => "Unsupported parameter",
                ParamErrorKind::Syntax => "Syntax error in parameters",
                ParamErrorKind::Duplicate => "Duplicate parameter",
                ParamErrorKind::TooLong => "Too many parameters",
                ParamErrorKind::Forbidden => "Control character in parameter value",
            };
            return f.write_str(text);
        }
        match self.kind {
            ParamErrorKind::Unknown => write!(f, "Unknown parameter {keyword}"),
            ParamErrorKind::Unsupported => write!(f, "Unsupported parameter {keyword}"),
            ParamErrorKind::Syntax => write!(f, "Syntax error in parameter {keyword}"),
            ParamErrorKind::Duplicate => write!(f, "Duplicate parameter {keyword}"),
            ParamErrorKind::TooLong => write!(f, "Parameter {keyword} too long"),
            ParamErrorKind::Forbidden => write!(f, "Control character in parameter {keyword}"),
        }
    }
}

// ---------------------------------------------------------------------------
// Entry points
// ---------------------------------------------------------------------------

/// Parses the parameters of `MAIL FROM:<path>` (the bytes after `>`).
///
/// Recognises SIZE (RFC 1870), BODY (RFC 6152, RFC 3030), SMTPUTF8
/// (RFC 6531), RET and ENVID (RFC 3461), AUTH (RFC 4954), REQUIRETLS
/// (RFC 8689), MT-PRIORITY (RFC 6710), BY (RFC 2852), HOLDFOR and HOLDUNTIL
/// (RFC 4865), each only when `support` advertises it.
pub fn parse_mail_params(input: &[u8], support: &ParamSupport) -> Result<MailParams, ParamError> {
    let mut params = MailParams::default();
    let mut seen = 0u32;
    for_each_param(input, |param| {
        let keyword: MailKeyword = classify(&param, support, &mut seen)?;
        apply_mail_param(&mut params, keyword, param.value, support)
            .map_err(|kind| ParamError::new(kind, param.keyword))
    })?;
    Ok(params)
}

/// Parses the parameters of `RCPT TO:<path>` (the bytes after `>`).
///
/// Recognises NOTIFY and ORCPT (RFC 3461 §4.1, §4.2) when `support.dsn`.
pub fn parse_rcpt_params(input: &[u8], support: &ParamSupport) -> Result<RcptParams, ParamError> {
    let mut params = RcptParams::default();
    let mut seen = 0u32;
    for_each_param(input, |param| {
        let keyword: RcptKeyword = classify(&param, support, &mut seen)?;
        apply_rcpt_param(&mut params, keyword, param.value)
            .map_err(|kind| ParamError::new(kind, param.keyword))
    })?;
    Ok(params)
}

/// RFC 3461 §4 xtext decoding; rejects controls in the decoded value.
///
/// `xchar` is `!`..`~` except `+` and `=`; `hexchar` is `+` and two
/// UPPERCASE hex digits (lowercase is [`ParamErrorKind::Syntax`]). The decoded
/// octets must be UTF-8 (else `Syntax`) and must not contain CR, LF, NUL or
/// any other control character (else [`ParamErrorKind::Forbidden`]: Exim
/// CVE-2020-28021, CVE-2020-28026). The empty input decodes to `""`.
pub fn decode_xtext(input: &[u8]) -> Result<String, ParamError> {
    decode_xtext_value(input).map_err(|kind| ParamError::new(kind, b""))
}

/// RFC 3461 §4 xtext encoding (for round-trip tests and for relays).
///
/// `!`..`~` except `+` and `=` stay as they are; every other octet of the
/// UTF-8 form becomes `+XX` with uppercase hex.
pub fn encode_xtext(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    push_xtext(&mut out, input);
    out
}

impl MailParams {
    /// Appends the parameters in canonical form, each as `" KEY=value"` (or
    /// `" KEY"`), in a fixed order. Values are not re-validated: a value out of
    /// its RFC range produces a parameter that [`parse_mail_params`] rejects.
    pub fn encode(&self, out: &mut String) {
        if let Some(size) = self.size {
            let _ = write!(out, " SIZE={size}");
        }
        if let Some(body) = self.body {
            out.push_str(match body {
                Body::SevenBit => " BODY=7BIT",
                Body::EightBitMime => " BODY=8BITMIME",
                Body::BinaryMime => " BODY=BINARYMIME",
            });
        }
        if self.smtputf8 {
            out.push_str(" SMTPUTF8");
        }
        if let Some(ret) = self.ret {
            out.push_str(match ret {
                Ret::Full => " RET=FULL",
                Ret::Headers => " RET=HDRS",
            });
        }
        if let Some(envid) = &self.envid {
            out.push_str(" ENVID=");
            push_xtext(out, envid);
        }
        match &self.auth {
            Some(AuthParam::Null) => out.push_str(" AUTH=<>"),
            Some(AuthParam::Mailbox(mailbox)) => {
                out.push_str(" AUTH=");
                push_xtext(out, mailbox);
            }
            None => {}
        }
        if self.requiretls {
            out.push_str(" REQUIRETLS");
        }
        if let Some(priority) = self.mt_priority {
            let _ = write!(out, " MT-PRIORITY={priority}");
        }
        if let Some(by) = self.deliver_by {
            encode_deliver_by(out, &by);
        }
        match &self.hold {
            Some(Hold::For(seconds)) => {
                let _ = write!(out, " HOLDFOR={seconds}");
            }
            Some(Hold::Until(date_time)) => {
                out.push_str(" HOLDUNTIL=");
                out.push_str(date_time);
            }
            None => {}
        }
    }
}

impl RcptParams {
    /// Appends the parameters in canonical form, each as `" KEY=value"`, in a
    /// fixed order (`NOTIFY` conditions as `SUCCESS,FAILURE,DELAY`).
    pub fn encode(&self, out: &mut String) {
        if let Some(notify) = self.notify {
            encode_notify(out, &notify);
        }
        if let Some(orcpt) = &self.orcpt {
            out.push_str(" ORCPT=");
            out.push_str(&orcpt.addr_type);
            out.push(';');
            push_xtext(out, &orcpt.address);
        }
    }
}

// ---------------------------------------------------------------------------
// Pass 1: grammar (RFC 5321 §4.1.2)
// ---------------------------------------------------------------------------

/// One `esmtp-param`, borrowed from the input.
#[derive(Clone, Copy, Debug)]
pub(super) struct RawParam<'a> {
    pub(super) keyword: &'a [u8],
    pub(super) value: Option<&'a [u8]>,
}

/// Reads the parameter list `*(SP esmtp-param)` in one pass, with exactly one SP before
/// each parameter (RFC 5321 §4.1.2), so SP runs and trailing SP are syntax errors, and at
/// most [`MAX_PARAMS`] parameters (more is [`ParamErrorKind::TooLong`]); nothing is copied
/// or stored. Each parameter goes to `handle` as soon as its grammar is checked, until
/// `handle` fails once; its first error is returned only if the rest of the list is
/// grammatical, since a grammar error anywhere comes first.
fn for_each_param<'a>(
    input: &'a [u8],
    mut handle: impl FnMut(RawParam<'a>) -> Result<(), ParamError>,
) -> Result<(), ParamError> {
    let mut rest = input;
    let mut count = 0usize;
    let mut first_error = None;
    while let Some((&first, after)) = rest.split_first() {
        if first != b' ' {
            return Err(ParamError::new(ParamErrorKind::Syntax, b""));
        }
        // A second SP, or none after the last, is an empty keyword: a syntax error too.
        let (param, next) = split_param(after)?;
        count = count.saturating_add(1);
        if count > MAX_PARAMS {
            return Err(ParamError::new(ParamErrorKind::TooLong, b""));
        }
        rest = next;
        if first_error.is_none() {
            first_error = handle(param).err();
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// `esmtp-keyword` octets: ALPHA / DIGIT / "-" (a class of [`PARAM_CLASSES`]).
const KEYWORD: u8 = 1;
/// `esmtp-value` octets: %d33-60 / %d62-126, plus RFC 6531 `UTF8-non-ascii` candidates.
const VALUE: u8 = 2;
/// Octets above 0x7F: the value must then be checked for well-formed UTF-8.
const NON_ASCII: u8 = 4;

/// The classes of every octet in the parameter grammar: one table lookup per octet.
static PARAM_CLASSES: [u8; 256] = build_param_classes();

/// Builds [`PARAM_CLASSES`] at compile time.
const fn build_param_classes() -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut byte = 0u8;
    loop {
        let mut class = 0;
        if byte.is_ascii_alphanumeric() || byte == b'-' {
            class |= KEYWORD;
        }
        if matches!(byte, 33..=60 | 62..=126) {
            class |= VALUE;
        }
        if byte >= 0x80 {
            class |= VALUE | NON_ASCII;
        }
        // Evaluated at compile time, and a u8 is always below 256.
        table[byte as usize] = class;
        match byte.checked_add(1) {
            Some(next) => byte = next,
            None => return table,
        }
    }
}

/// The classes of `byte` in [`PARAM_CLASSES`].
fn param_class(byte: u8) -> u8 {
    // A u8 index into a 256-entry table is always in bounds.
    PARAM_CLASSES.get(usize::from(byte)).copied().unwrap_or(0)
}

/// Reads one `esmtp-param` from the start of `input` (the octets after its SP); the
/// remainder is empty or starts with SP.
fn split_param(input: &[u8]) -> Result<(RawParam<'_>, &[u8]), ParamError> {
    let syntax = |keyword| ParamError::new(ParamErrorKind::Syntax, keyword);
    let keyword_len = keyword_length(input);
    let (keyword, rest) = match input.split_at_checked(keyword_len) {
        Some(split) if keyword_len > 0 => split,
        _ => return Err(syntax(b"")),
    };
    match rest.split_first() {
        None | Some((b' ', _)) => Ok((
            RawParam {
                keyword,
                value: None,
            },
            rest,
        )),
        Some((b'=', after_equals)) => {
            let value_len = esmtp_value_len(after_equals).ok_or_else(|| syntax(keyword))?;
            let (value, rest) = after_equals
                .split_at_checked(value_len)
                .ok_or_else(|| syntax(keyword))?;
            let value = Some(value);
            Ok((RawParam { keyword, value }, rest))
        }
        Some(_) => Err(syntax(keyword)),
    }
}

/// `esmtp-keyword` octets after the first: ALPHA / DIGIT / "-".
fn is_keyword_byte(b: u8) -> bool {
    param_class(b) & KEYWORD != 0
}

/// Length of the `esmtp-keyword` at the start of `input`, 0 if none.
fn keyword_length(input: &[u8]) -> usize {
    match input.first() {
        Some(b) if b.is_ascii_alphanumeric() => input
            .iter()
            .position(|&b| !is_keyword_byte(b))
            .unwrap_or(input.len()),
        _ => 0,
    }
}

/// Length of the `esmtp-value = 1*(%d33-60 / %d62-126 / UTF8-non-ascii)` (RFC 5321 §4.1.2,
/// RFC 6531 §3.3) at the start of `input`, which runs to the next SP or the end; `None` if
/// that run is empty or breaks the grammar. One pass; UTF-8 is checked only when an octet
/// above 0x7F was seen.
fn esmtp_value_len(input: &[u8]) -> Option<usize> {
    let mut classes = 0;
    let mut len = input.len();
    for (index, &b) in input.iter().enumerate() {
        let class = param_class(b);
        if class & VALUE == 0 {
            if b != b' ' {
                return None;
            }
            len = index;
            break;
        }
        classes |= class;
    }
    let value = input.get(..len)?;
    let valid =
        !value.is_empty() && (classes & NON_ASCII == 0 || std::str::from_utf8(value).is_ok());
    valid.then_some(len)
}

// ---------------------------------------------------------------------------
// Pass 2: classification (RFC 5321 §4.1.1.11)
// ---------------------------------------------------------------------------

/// A keyword set: its spellings, the extension that enables each keyword,
/// and a duplicate-detection slot per keyword.
pub(super) trait Keyword: Copy + 'static {
    /// Keyword spellings (matched case-insensitively, RFC 5321 §2.4): the reference that
    /// the tests check [`Keyword::lookup`] against.
    #[cfg(test)]
    const TABLE: &'static [(&'static str, Self)];
    /// The keyword spelt by `keyword` in any case: the entry of `Keyword::TABLE`, found
    /// by length first (the tests check it against a search of the table).
    fn lookup(keyword: &[u8]) -> Option<Self>;
    /// Whether the session advertises the keyword's extension.
    fn is_supported(self, support: &ParamSupport) -> bool;
    /// Bit index for duplicate detection; keywords that exclude each other
    /// share a slot.
    fn slot(self) -> u32;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum MailKeyword {
    Size,
    Body,
    SmtpUtf8,
    Ret,
    EnvId,
    Auth,
    RequireTls,
    MtPriority,
    By,
    HoldFor,
    HoldUntil,
}

impl Keyword for MailKeyword {
    #[cfg(test)]
    const TABLE: &'static [(&'static str, Self)] = &[
        ("SIZE", Self::Size),
        ("BODY", Self::Body),
        ("SMTPUTF8", Self::SmtpUtf8),
        ("RET", Self::Ret),
        ("ENVID", Self::EnvId),
        ("AUTH", Self::Auth),
        ("REQUIRETLS", Self::RequireTls),
        ("MT-PRIORITY", Self::MtPriority),
        ("BY", Self::By),
        ("HOLDFOR", Self::HoldFor),
        ("HOLDUNTIL", Self::HoldUntil),
    ];

    fn lookup(keyword: &[u8]) -> Option<Self> {
        let is = |name: &[u8]| spells(keyword, name);
        Some(match keyword.len() {
            2 if is(b"BY") => Self::By,
            3 if is(b"RET") => Self::Ret,
            4 if is(b"SIZE") => Self::Size,
            4 if is(b"BODY") => Self::Body,
            4 if is(b"AUTH") => Self::Auth,
            5 if is(b"ENVID") => Self::EnvId,
            7 if is(b"HOLDFOR") => Self::HoldFor,
            8 if is(b"SMTPUTF8") => Self::SmtpUtf8,
            9 if is(b"HOLDUNTIL") => Self::HoldUntil,
            10 if is(b"REQUIRETLS") => Self::RequireTls,
            11 if is(b"MT-PRIORITY") => Self::MtPriority,
            _ => return None,
        })
    }

    fn is_supported(self, support: &ParamSupport) -> bool {
        match self {
            Self::Size => support.size,
            // The value decides which of the two; see `parse_body`.
            Self::Body => support.eight_bit_mime || support.binary_mime,
            Self::SmtpUtf8 => support.smtputf8,
            Self::Ret | Self::EnvId => support.dsn,
            Self::Auth => support.auth,
            Self::RequireTls => support.requiretls,
            Self::MtPriority => support.mt_priority,
            Self::By => support.deliver_by,
            Self::HoldFor | Self::HoldUntil => support.future_release,
        }
    }

    fn slot(self) -> u32 {
        match self {
            // RFC 4865: one hold-param, either HOLDFOR or HOLDUNTIL.
            Self::HoldUntil => Self::HoldFor as u32,
            other => other as u32,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum RcptKeyword {
    Notify,
    Orcpt,
}

impl Keyword for RcptKeyword {
    #[cfg(test)]
    const TABLE: &'static [(&'static str, Self)] =
        &[("NOTIFY", Self::Notify), ("ORCPT", Self::Orcpt)];

    fn lookup(keyword: &[u8]) -> Option<Self> {
        let is = |name: &[u8]| spells(keyword, name);
        Some(match keyword.len() {
            5 if is(b"ORCPT") => Self::Orcpt,
            6 if is(b"NOTIFY") => Self::Notify,
            _ => return None,
        })
    }

    fn is_supported(self, support: &ParamSupport) -> bool {
        support.dsn
    }

    fn slot(self) -> u32 {
        self as u32
    }
}

/// Whether `bytes` spells `name` (upper-case letters, digits and `-`) in any case (RFC 5321
/// §2.4), as `eq_ignore_ascii_case` would say. Only the letter positions of `name` are
/// folded (`| 0x20`), so the compare is exact for any octets; it has no early exit, so for a
/// literal `name` the compiler unrolls it into a few word operations.
#[inline(always)]
fn spells(bytes: &[u8], name: &[u8]) -> bool {
    bytes.len() == name.len()
        && bytes.iter().zip(name).fold(0u8, |diff, (&byte, &letter)| {
            let fold = if letter.is_ascii_alphabetic() {
                0x20
            } else {
                0
            };
            diff | ((byte | fold) ^ (letter | fold))
        }) == 0
}

/// Unknown, then Unsupported, then Duplicate.
fn classify<K: Keyword>(
    param: &RawParam<'_>,
    support: &ParamSupport,
    seen: &mut u32,
) -> Result<K, ParamError> {
    let error = |kind| ParamError::new(kind, param.keyword);
    let keyword = K::lookup(param.keyword).ok_or_else(|| error(ParamErrorKind::Unknown))?;
    if !keyword.is_supported(support) {
        return Err(error(ParamErrorKind::Unsupported));
    }
    let bit = 1u32.checked_shl(keyword.slot()).unwrap_or(0);
    if *seen & bit != 0 {
        return Err(error(ParamErrorKind::Duplicate));
    }
    *seen |= bit;
    Ok(keyword)
}

fn require_value(value: Option<&[u8]>) -> Result<&[u8], ParamErrorKind> {
    value.ok_or(ParamErrorKind::Syntax)
}

fn require_no_value(value: Option<&[u8]>) -> Result<(), ParamErrorKind> {
    match value {
        None => Ok(()),
        Some(_) => Err(ParamErrorKind::Syntax),
    }
}

pub(super) fn apply_mail_param(
    params: &mut MailParams,
    keyword: MailKeyword,
    value: Option<&[u8]>,
    support: &ParamSupport,
) -> Result<(), ParamErrorKind> {
    match keyword {
        MailKeyword::Size => params.size = Some(parse_size(require_value(value)?)?),
        MailKeyword::Body => params.body = Some(parse_body(require_value(value)?, support)?),
        MailKeyword::SmtpUtf8 => {
            require_no_value(value)?;
            params.smtputf8 = true;
        }
        MailKeyword::Ret => params.ret = Some(parse_ret(require_value(value)?)?),
        MailKeyword::EnvId => params.envid = Some(parse_envid(require_value(value)?)?),
        MailKeyword::Auth => params.auth = Some(parse_auth(require_value(value)?)?),
        MailKeyword::RequireTls => {
            require_no_value(value)?;
            params.requiretls = true;
        }
        MailKeyword::MtPriority => {
            params.mt_priority = Some(parse_mt_priority(require_value(value)?)?);
        }
        MailKeyword::By => params.deliver_by = Some(parse_deliver_by(require_value(value)?)?),
        MailKeyword::HoldFor => {
            params.hold = Some(Hold::For(parse_holdfor(require_value(value)?)?));
        }
        MailKeyword::HoldUntil => {
            params.hold = Some(Hold::Until(parse_holduntil(require_value(value)?)?));
        }
    }
    Ok(())
}

pub(super) fn apply_rcpt_param(
    params: &mut RcptParams,
    keyword: RcptKeyword,
    value: Option<&[u8]>,
) -> Result<(), ParamErrorKind> {
    match keyword {
        RcptKeyword::Notify => params.notify = Some(parse_notify(require_value(value)?)?),
        RcptKeyword::Orcpt => {
            params.orcpt = Some(Box::new(parse_orcpt(require_value(value)?)?));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------

/// `1*max_digits DIGIT` with `max_digits <= 19`, so it cannot overflow.
pub(super) fn parse_bounded_digits(value: &[u8], max_digits: usize) -> Option<u64> {
    if value.is_empty() || value.len() > max_digits || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    value.iter().try_fold(0u64, |acc, &d| {
        acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// RFC 1870 §3 item (4): `size-value ::= 1*20DIGIT`; saturates at `u64::MAX`.
fn parse_size(value: &[u8]) -> Result<u64, ParamErrorKind> {
    if value.is_empty() || value.len() > MAX_SIZE_DIGITS || !value.iter().all(u8::is_ascii_digit) {
        return Err(ParamErrorKind::Syntax);
    }
    Ok(value.iter().fold(0u64, |acc, &d| {
        acc.checked_mul(10)
            .and_then(|acc| acc.checked_add(u64::from(d - b'0')))
            .unwrap_or(u64::MAX)
    }))
}

/// RFC 6152 §2 (`7BIT`, `8BITMIME`) and RFC 3030 §3 (`BINARYMIME`); each value
/// needs its own extension advertised.
fn parse_body(value: &[u8], support: &ParamSupport) -> Result<Body, ParamErrorKind> {
    let is = |name: &[u8]| spells(value, name);
    let (body, advertised) = match value.len() {
        4 if is(b"7BIT") => (Body::SevenBit, support.eight_bit_mime),
        8 if is(b"8BITMIME") => (Body::EightBitMime, support.eight_bit_mime),
        10 if is(b"BINARYMIME") => (Body::BinaryMime, support.binary_mime),
        _ => return Err(ParamErrorKind::Syntax),
    };
    if advertised {
        Ok(body)
    } else {
        Err(ParamErrorKind::Unsupported)
    }
}

/// RFC 3461 §4.3: `RET=FULL` or `RET=HDRS`.
fn parse_ret(value: &[u8]) -> Result<Ret, ParamErrorKind> {
    if value.eq_ignore_ascii_case(b"FULL") {
        Ok(Ret::Full)
    } else if value.eq_ignore_ascii_case(b"HDRS") {
        Ok(Ret::Headers)
    } else {
        Err(ParamErrorKind::Syntax)
    }
}

/// RFC 3461 §4.4: `ENVID=xtext`, at most 100 characters encoded.
fn parse_envid(value: &[u8]) -> Result<String, ParamErrorKind> {
    if value.len() > MAX_ENVID_LEN {
        return Err(ParamErrorKind::TooLong);
    }
    decode_xtext_value(value)
}

/// RFC 4954 §5: `AUTH=xtext`, whose decoded form is an addr-spec or `<>`.
fn parse_auth(value: &[u8]) -> Result<AuthParam, ParamErrorKind> {
    if value.len() > MAX_AUTH_LEN {
        return Err(ParamErrorKind::TooLong);
    }
    let decoded = decode_xtext_value(value)?;
    Ok(if decoded == "<>" {
        AuthParam::Null
    } else {
        AuthParam::Mailbox(decoded)
    })
}

/// RFC 6710 §3: an optional sign and one digit, -9 ..= 9.
fn parse_mt_priority(value: &[u8]) -> Result<i8, ParamErrorKind> {
    let (negative, digits) = split_sign(value);
    let magnitude = match digits {
        [digit] if digit.is_ascii_digit() => {
            i8::try_from(digit - b'0').map_err(|_| ParamErrorKind::Syntax)?
        }
        _ => return Err(ParamErrorKind::Syntax),
    };
    Ok(if negative { -magnitude } else { magnitude })
}

fn split_sign(value: &[u8]) -> (bool, &[u8]) {
    match value {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, value),
    }
}

/// RFC 2852 §4:
///
/// ```text
/// by-value = by-time";"by-mode[by-trace]
/// by-time  = ["-" / "+"]1*9digit ; a <= zero value is not
///                                ; allowed with a by-mode of "R"
/// by-mode  = "N" / "R"
/// by-trace = "T"
/// ```
fn parse_deliver_by(value: &[u8]) -> Result<DeliverBy, ParamErrorKind> {
    let semicolon = memchr(b';', value).ok_or(ParamErrorKind::Syntax)?;
    let (time, mode) = value
        .split_at_checked(semicolon)
        .ok_or(ParamErrorKind::Syntax)?;
    let (negative, digits) = split_sign(time);
    let magnitude =
        parse_bounded_digits(digits, MAX_BY_TIME_DIGITS).ok_or(ParamErrorKind::Syntax)?;
    let magnitude = i64::try_from(magnitude).map_err(|_| ParamErrorKind::Syntax)?;
    let seconds = if negative { -magnitude } else { magnitude };
    let (mode, trace) = match mode {
        [b';', mode] => (parse_by_mode(*mode)?, false),
        [b';', mode, b'T' | b't'] => (parse_by_mode(*mode)?, true),
        _ => return Err(ParamErrorKind::Syntax),
    };
    if mode == ByMode::Return && seconds <= 0 {
        return Err(ParamErrorKind::Syntax);
    }
    Ok(DeliverBy {
        seconds,
        mode,
        trace,
    })
}

fn parse_by_mode(mode: u8) -> Result<ByMode, ParamErrorKind> {
    match mode {
        b'N' | b'n' => Ok(ByMode::Notify),
        b'R' | b'r' => Ok(ByMode::Return),
        _ => Err(ParamErrorKind::Syntax),
    }
}

/// RFC 4865: `HOLDFOR=future-release-integer`, `1*9DIGIT` seconds.
fn parse_holdfor(value: &[u8]) -> Result<u64, ParamErrorKind> {
    parse_bounded_digits(value, MAX_HOLDFOR_DIGITS).ok_or(ParamErrorKind::Syntax)
}

/// RFC 4865 (Erratum 2040): `HOLDUNTIL=date-time` per RFC 3339 §5.6.
fn parse_holduntil(value: &[u8]) -> Result<String, ParamErrorKind> {
    if !is_rfc3339_date_time(value) {
        return Err(ParamErrorKind::Syntax);
    }
    std::str::from_utf8(value)
        .map(str::to_owned)
        .map_err(|_| ParamErrorKind::Syntax)
}

/// RFC 3461 §4.1: `NEVER`, or a comma list of `SUCCESS`, `FAILURE`, `DELAY`
/// ("NEVER" MUST NOT be combined; a repeated condition is rejected, choice).
fn parse_notify(value: &[u8]) -> Result<Notify, ParamErrorKind> {
    if value.eq_ignore_ascii_case(b"NEVER") {
        return Ok(Notify::default());
    }
    let mut notify = Notify::default();
    for item in value.split(|&b| b == b',') {
        let flag = if item.eq_ignore_ascii_case(b"SUCCESS") {
            &mut notify.success
        } else if item.eq_ignore_ascii_case(b"FAILURE") {
            &mut notify.failure
        } else if item.eq_ignore_ascii_case(b"DELAY") {
            &mut notify.delay
        } else {
            return Err(ParamErrorKind::Syntax);
        };
        if *flag {
            return Err(ParamErrorKind::Syntax);
        }
        *flag = true;
    }
    Ok(notify)
}

/// RFC 3461 §4.2: `ORCPT=addr-type ";" xtext`, `addr-type = atom`, at most
/// 500 characters. An empty address is rejected (choice).
fn parse_orcpt(value: &[u8]) -> Result<Orcpt, ParamErrorKind> {
    if value.len() > MAX_ORCPT_LEN {
        return Err(ParamErrorKind::TooLong);
    }
    let semicolon = memchr(b';', value).ok_or(ParamErrorKind::Syntax)?;
    let (addr_type, address) = value
        .split_at_checked(semicolon)
        .ok_or(ParamErrorKind::Syntax)?;
    let address = address.get(1..).unwrap_or(&[]);
    if addr_type.is_empty() || !addr_type.iter().all(|&b| is_atom_byte(b)) || address.is_empty() {
        return Err(ParamErrorKind::Syntax);
    }
    let address = decode_xtext_value(address)?;
    let addr_type = std::str::from_utf8(addr_type).map_err(|_| ParamErrorKind::Syntax)?;
    Ok(Orcpt {
        addr_type: addr_type.to_owned(),
        address,
    })
}

/// RFC 822 §3.3 `atom`: any printable ASCII except specials
/// `()<>@,;:\".[]` (SP and controls are already excluded by the value grammar).
fn is_atom_byte(b: u8) -> bool {
    b.is_ascii_graphic() && !b"()<>@,;:\\\".[]".contains(&b)
}

// ---------------------------------------------------------------------------
// Encoding helpers
// ---------------------------------------------------------------------------

fn encode_deliver_by(out: &mut String, by: &DeliverBy) {
    let mode = match by.mode {
        ByMode::Notify => 'N',
        ByMode::Return => 'R',
    };
    let trace = if by.trace { "T" } else { "" };
    let _ = write!(out, " BY={};{mode}{trace}", by.seconds);
}

fn encode_notify(out: &mut String, notify: &Notify) {
    out.push_str(" NOTIFY=");
    if notify.is_never() {
        out.push_str("NEVER");
        return;
    }
    let conditions = [
        (notify.success, "SUCCESS"),
        (notify.failure, "FAILURE"),
        (notify.delay, "DELAY"),
    ];
    let mut first = true;
    for (_, name) in conditions.iter().filter(|(set, _)| *set) {
        if !first {
            out.push(',');
        }
        out.push_str(name);
        first = false;
    }
}

#[cfg(test)]
mod tests;
