//! SMTP replies (RFC 5321 §4.2) with RFC 3463 enhanced status codes: their encoding, as
//! the server sends them, and their parsing, as a client reads them ([`ReplyParser`]).
//!
//! The parser is written with `nom`, one function per ABNF rule with the rule in its doc
//! comment, because it is a cold path: a client parses one reply per command and one EHLO
//! reply per connection, so combinators that read like the grammar are worth more than the
//! last instruction. The hot path (the server's command lines, addresses, parameters and
//! the DATA/BDAT decoders, which the `command_parsing` and `session_throughput` benches
//! measure) and the encoder below stay hand-written. The parser uses nom's streaming
//! combinators: a reply cut short by a read is incomplete and waits for more bytes, never
//! an error.

use std::borrow::Cow;
use std::fmt;

mod parse;

pub use parse::{FromWireError, ParsedReply, ReplyLimits, ReplyLine, ReplyParseError, ReplyParser};

/// An RFC 3463 enhanced status code, `class.subject.detail` (for example `5.1.1`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EnhancedCode {
    class: u8,
    subject: u16,
    detail: u16,
}

impl EnhancedCode {
    /// Builds `class.subject.detail`; `None` unless the class is 2, 4 or 5 and the other
    /// parts have at most three digits (RFC 3463 §2).
    pub const fn new(class: u8, subject: u16, detail: u16) -> Option<Self> {
        if matches!(class, 2 | 4 | 5) && subject < 1000 && detail < 1000 {
            Some(Self {
                class,
                subject,
                detail,
            })
        } else {
            None
        }
    }

    /// The class digit: 2 (success), 4 (persistent transient failure) or 5 (permanent).
    pub const fn class(self) -> u8 {
        self.class
    }

    /// Same as [`EnhancedCode::new`] for the crate's own constants, which are known valid.
    pub(crate) const fn known(class: u8, subject: u16, detail: u16) -> Self {
        Self {
            class,
            subject,
            detail,
        }
    }
}

impl fmt::Display for EnhancedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// Why [`Reply::new`] refused its arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplyError {
    /// The code is outside 200..=599 (RFC 5321 §4.2: three digits, first digit 2 to 5).
    #[error("reply code {0} is outside 200..=599")]
    InvalidCode(u16),
    /// The enhanced code's class differs from the reply code's first digit (RFC 3463 §2).
    #[error("enhanced code class {enhanced} does not match reply code {code}")]
    ClassMismatch {
        /// The reply code.
        code: u16,
        /// The enhanced code's class digit.
        enhanced: u8,
    },
    /// The text holds a character that RFC 5321 §4.2 `textstring` does not allow
    /// (anything but HT and printable ASCII; `\n` separates lines).
    #[error("reply text contains a control or non-ASCII character")]
    InvalidText,
}

/// A reply the application gives to a pending command (see `Server::respond`).
///
/// Text is one or more lines separated by `\n`; each line becomes one line of a multiline
/// reply. The code's first digit decides what the reply means: 2 and 3 accept, 4 and 5
/// refuse.
#[derive(Clone, Debug)]
pub struct Reply {
    code: u16,
    enhanced: Option<EnhancedCode>,
    text: Cow<'static, str>,
    /// The wire forms of the crate's fixed replies, encoded at compile time.
    wire: Option<&'static Wire>,
}

/// Equal when code, enhanced code and text are (how a reply is stored does not matter).
impl PartialEq for Reply {
    fn eq(&self, other: &Self) -> bool {
        (self.code, self.enhanced, &self.text) == (other.code, other.enhanced, &other.text)
    }
}

impl Eq for Reply {}

/// A fixed reply's two wire forms, so that the replies of the hot path are one copy.
#[derive(Debug)]
pub(crate) struct Wire {
    /// With ENHANCEDSTATUSCODES in force.
    pub(crate) enhanced: &'static str,
    /// Without.
    pub(crate) plain: &'static str,
}

impl Reply {
    /// A reply with `code` and `text`. When the session advertises ENHANCEDSTATUSCODES, the
    /// server adds `class.0.0` unless [`Reply::with_enhanced`] gave a precise code.
    ///
    /// ```
    /// use smtp_proto::{EnhancedCode, Reply};
    /// let reply = Reply::new(550, "No such user here")?
    ///     .with_enhanced(EnhancedCode::new(5, 1, 1).expect("valid"))?;
    /// assert_eq!(reply.code(), 550);
    /// assert!(Reply::new(250, "two\r\nlines").is_err());
    /// # Ok::<(), smtp_proto::ReplyError>(())
    /// ```
    pub fn new(code: u16, text: impl Into<Cow<'static, str>>) -> Result<Self, ReplyError> {
        if !(200..=599).contains(&code) {
            return Err(ReplyError::InvalidCode(code));
        }
        let text = text.into();
        if !text
            .bytes()
            .all(|b| b == b'\t' || b == b'\n' || (0x20..0x7f).contains(&b))
        {
            return Err(ReplyError::InvalidText);
        }
        Ok(Self {
            code,
            enhanced: None,
            text,
            wire: None,
        })
    }

    /// Sets the enhanced status code; its class must equal the code's first digit.
    pub fn with_enhanced(mut self, enhanced: EnhancedCode) -> Result<Self, ReplyError> {
        if u16::from(enhanced.class()) != self.code / 100 {
            return Err(ReplyError::ClassMismatch {
                code: self.code,
                enhanced: enhanced.class(),
            });
        }
        self.enhanced = Some(enhanced);
        Ok(self)
    }

    /// A fixed reply written once, checked when it is built: in a `const` item an invalid
    /// code, enhanced code or text is a compile error, so the reply needs no `Result`.
    /// `enhanced` is `(class, subject, detail)`; its class must be the code's first digit.
    ///
    /// ```
    /// use smtp_proto::Reply;
    /// const NO_SUCH_USER: Reply = Reply::constant(550, Some((5, 1, 1)), "No such user here");
    /// let mut wire = Vec::new();
    /// NO_SUCH_USER.encode(true, &mut wire);
    /// assert_eq!(wire, b"550 5.1.1 No such user here\r\n");
    /// ```
    ///
    /// ```compile_fail
    /// use smtp_proto::Reply;
    /// const BAD: Reply = Reply::constant(550, Some((4, 1, 1)), "class differs");
    /// let _ = BAD;
    /// ```
    ///
    /// # Panics
    ///
    /// Outside a `const`, on the values [`Reply::new`] and [`Reply::with_enhanced`] refuse;
    /// use those for values that are not constants.
    pub const fn constant(code: u16, enhanced: Option<(u8, u16, u16)>, text: &'static str) -> Self {
        assert!(code >= 200 && code <= 599, "a reply code is 200..=599");
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            assert!(
                b == b'\t' || b == b'\n' || (b >= 0x20 && b < 0x7f),
                "reply text is HT, LF-separated lines and printable ASCII"
            );
            i += 1;
        }
        let enhanced = match enhanced {
            None => None,
            Some((class, subject, detail)) => {
                assert!(
                    class as u16 == code / 100,
                    "the enhanced class is the code's first digit"
                );
                match EnhancedCode::new(class, subject, detail) {
                    Some(e) => Some(e),
                    None => {
                        panic!("an enhanced code is class.subject.detail, three digits at most")
                    }
                }
            }
        };
        Self {
            code,
            enhanced,
            text: Cow::Borrowed(text),
            wire: None,
        }
    }

    /// A reply built from the crate's own constants (known valid), with its wire forms
    /// (debug builds check them against [`encode_line`]'s on every use).
    pub(crate) const fn fixed(
        code: u16,
        enhanced: Option<EnhancedCode>,
        text: &'static str,
        wire: &'static Wire,
    ) -> Self {
        Self {
            code,
            enhanced,
            text: Cow::Borrowed(text),
            wire: Some(wire),
        }
    }

    /// A reply whose text was built by the crate (already sanitised).
    pub(crate) fn owned(code: u16, enhanced: Option<EnhancedCode>, text: String) -> Self {
        Self {
            code,
            enhanced,
            text: Cow::Owned(text),
            wire: None,
        }
    }

    /// The three-digit reply code.
    pub fn code(&self) -> u16 {
        self.code
    }

    /// The enhanced status code, if one was set.
    pub fn enhanced(&self) -> Option<EnhancedCode> {
        self.enhanced
    }

    /// The reply text (lines separated by `\n`).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// True for 2xx and 3xx replies.
    pub fn is_positive(&self) -> bool {
        self.code < 400
    }

    /// Appends the reply's wire form to `out`: one `code SP text CRLF` line, or for a
    /// multiline text (lines separated by `\n`) `code-text CRLF` on every line but the last
    /// (RFC 5321 §4.2.1). The [`Server`](crate::Server) writes its replies this way; a
    /// test or a client can use it to build the bytes a server is expected to send.
    ///
    /// `enhanced` says whether ENHANCEDSTATUSCODES is in force: then every 2xx, 4xx and 5xx
    /// line carries the enhanced code (RFC 2034 §3), the one given to the reply or
    /// `class.0.0`; 3xx lines never carry one.
    ///
    /// ```
    /// use smtp_proto::Reply;
    ///
    /// let reply = Reply::new(250, "OK").expect("a valid reply");
    /// let mut wire = Vec::new();
    /// reply.encode(false, &mut wire);
    /// assert_eq!(wire, b"250 OK\r\n");
    /// wire.clear();
    /// reply.encode(true, &mut wire);
    /// assert_eq!(wire, b"250 2.0.0 OK\r\n");
    /// ```
    pub fn encode(&self, enhanced: bool, out: &mut Vec<u8>) {
        let Some(wire) = self.wire else {
            return self.encode_text(enhanced, out);
        };
        let bytes = if enhanced { wire.enhanced } else { wire.plain };
        debug_assert_eq!(bytes.as_bytes(), {
            let mut slow = Vec::new();
            self.encode_text(enhanced, &mut slow);
            slow
        });
        out.extend_from_slice(bytes.as_bytes());
    }

    /// [`encode`](Self::encode) from the code and the text.
    fn encode_text(&self, enhanced: bool, out: &mut Vec<u8>) {
        let code = match self.enhanced {
            Some(code) if enhanced => Some(code),
            None if enhanced && self.code / 100 != 3 => {
                // The class digit of a 2xx/4xx/5xx code is 2, 4 or 5.
                Some(EnhancedCode::known((self.code / 100) as u8, 0, 0))
            }
            _ => None,
        };
        if self.text.contains('\n') {
            encode_lines(self.code, code, self.text.split('\n'), out);
        } else {
            encode_line(self.code, b' ', code, &self.text, out);
        }
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.enhanced {
            Some(e) => write!(f, "{} {} {}", self.code, e, self.text),
            None => write!(f, "{} {}", self.code, self.text),
        }
    }
}

/// Writes a (possibly multiline) reply: `code-text` on every line but the last, which is
/// `code text` (RFC 5321 §4.2.1), each line with the same enhanced code (RFC 2034 §3).
pub(crate) fn encode_lines<'a>(
    code: u16,
    enhanced: Option<EnhancedCode>,
    lines: impl Iterator<Item = &'a str>,
    out: &mut Vec<u8>,
) {
    let mut lines = lines.peekable();
    while let Some(line) = lines.next() {
        let separator = if lines.peek().is_some() { b'-' } else { b' ' };
        encode_line(code, separator, enhanced, line, out);
    }
}

/// One reply line: `code`, `separator` (`-` or SP), the enhanced code if any, the text,
/// CR LF; built on the stack and appended with one copy.
fn encode_line(
    code: u16,
    separator: u8,
    enhanced: Option<EnhancedCode>,
    line: &str,
    out: &mut Vec<u8>,
) {
    // "ddd-" plus "c.sss.ddd " fits in 16 octets.
    let mut head = [0u8; 16];
    let mut n = 0;
    let mut put = |byte: u8| {
        head[n] = byte;
        n += 1;
    };
    put(b'0' + (code / 100 % 10) as u8);
    put(b'0' + (code / 10 % 10) as u8);
    put(b'0' + (code % 10) as u8);
    put(separator);
    if let Some(e) = enhanced {
        put_number(e.class.into(), &mut put);
        put(b'.');
        put_number(e.subject, &mut put);
        put(b'.');
        put_number(e.detail, &mut put);
        if !line.is_empty() {
            put(b' ');
        }
    }
    out.reserve(n + line.len() + 2);
    out.extend_from_slice(&head[..n]);
    out.extend_from_slice(line.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// The decimal digits of `n` (at most 3: enhanced-code parts are below 1000).
fn put_number(n: u16, put: &mut impl FnMut(u8)) {
    if n >= 100 {
        put(b'0' + (n / 100 % 10) as u8);
    }
    if n >= 10 {
        put(b'0' + (n / 10 % 10) as u8);
    }
    put(b'0' + (n % 10) as u8);
}

/// Copies client-supplied text for use inside a reply: CR, LF, other controls and
/// non-ASCII become `?`, and the result is cut to `max` octets (RFC 5321 §4.2 textstring;
/// Exim CVE-2019-16928 shows why the echo is bounded).
pub fn sanitize_text(text: &[u8], max: usize) -> String {
    text.iter()
        .take(max)
        .map(|&b| {
            if (0x20..0x7f).contains(&b) {
                char::from(b)
            } else {
                '?'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(reply: &Reply, enhanced: bool) -> String {
        let mut out = Vec::new();
        reply.encode(enhanced, &mut out);
        String::from_utf8(out).expect("ascii")
    }

    #[test]
    fn single_line_with_and_without_enhanced_codes() {
        let r = Reply::new(550, "No").expect("valid");
        assert_eq!(wire(&r, true), "550 5.0.0 No\r\n");
        assert_eq!(wire(&r, false), "550 No\r\n");
        let r = r
            .with_enhanced(EnhancedCode::new(5, 1, 1).expect("valid"))
            .expect("class");
        assert_eq!(wire(&r, true), "550 5.1.1 No\r\n");
        assert_eq!(wire(&r, false), "550 No\r\n");
    }

    #[test]
    fn multiline_repeats_code_and_enhanced_code() {
        let r = Reply::new(451, "a\nb\nc").expect("valid");
        assert_eq!(
            wire(&r, true),
            "451-4.0.0 a\r\n451-4.0.0 b\r\n451 4.0.0 c\r\n"
        );
    }

    #[test]
    fn three_digit_replies_never_carry_enhanced_codes() {
        let r = Reply::new(354, "Go ahead").expect("valid");
        assert_eq!(wire(&r, true), "354 Go ahead\r\n");
    }

    #[test]
    fn invalid_replies_are_refused() {
        assert_eq!(Reply::new(199, "x"), Err(ReplyError::InvalidCode(199)));
        assert_eq!(Reply::new(600, "x"), Err(ReplyError::InvalidCode(600)));
        assert_eq!(Reply::new(250, "a\rb"), Err(ReplyError::InvalidText));
        assert_eq!(Reply::new(250, "ü"), Err(ReplyError::InvalidText));
        let mismatch = Reply::new(250, "x")
            .and_then(|r| r.with_enhanced(EnhancedCode::new(5, 0, 0).expect("valid")));
        assert_eq!(
            mismatch,
            Err(ReplyError::ClassMismatch {
                code: 250,
                enhanced: 5
            })
        );
        assert_eq!(EnhancedCode::new(3, 0, 0), None);
        assert_eq!(EnhancedCode::new(2, 1000, 0), None);
    }

    #[test]
    fn sanitize_removes_line_breaks_and_controls() {
        assert_eq!(sanitize_text(b"a\r\nb\x00c\xc3\xbc", 100), "a??b?c??");
        assert_eq!(sanitize_text(b"abcdef", 3), "abc");
    }
}
