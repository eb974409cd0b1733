//! Reading replies as a client does (RFC 5321 §4.2): a resumable, streaming parser.
//!
//! The grammar is written with `nom` here, one function per ABNF rule, because this is a
//! cold path: a client parses one reply per command, and a server's EHLO reply once per
//! connection. The server's hot path (command lines, addresses, parameters and the DATA/BDAT
//! decoders, measured by the `command_parsing` and `session_throughput` benches) stays
//! hand-written. The rules use nom's *streaming* combinators: a reply cut short by a read
//! boundary is `Incomplete` and waits for more bytes; it is never an error.
//!
//! The parser is lenient where a client must be (RFC 5321 §4.2.1; [`manual::replies`](crate::manual::replies)):
//! `250\r\n` without SP, second digits 6–9, bare LF, CR or UTF-8 inside the text, lines longer
//! than 512 octets. It is strict where leniency would desynchronise the session: a code that is
//! not three digits followed by `-`, SP or the line end, a first digit outside 2–5, and a code
//! that changes between the lines of one reply are errors. Lines and replies are bounded.

use nom::branch::alt;
use nom::bytes::{complete, streaming};
use nom::combinator::{eof, peek, value};
use nom::{IResult, Parser};
use std::fmt;

use super::{EnhancedCode, Reply, ReplyError};

/// Bounds on what [`ReplyParser`] keeps in memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReplyLimits {
    /// Octets of text kept per line; the rest of a longer line is read and dropped, and the
    /// line is flagged truncated. Default 2,048 (Postfix `line_length_limit`).
    pub line_text: usize,
    /// Lines per reply; one more is a protocol error. Default 128.
    pub lines: usize,
    /// Octets per reply as received (codes, text and line ends); more is a protocol error.
    /// Default 65,536.
    pub octets: usize,
}

impl Default for ReplyLimits {
    fn default() -> Self {
        Self {
            line_text: 2048,
            lines: 128,
            octets: 64 * 1024,
        }
    }
}

impl ReplyLimits {
    /// No bounds, for a reply that is already whole in memory ([`Reply::from_wire`]).
    const UNBOUNDED: Self = Self {
        line_text: usize::MAX,
        lines: usize::MAX,
        octets: usize::MAX,
    };
}

/// Why [`ReplyParser`] gave up. Every variant is a protocol error after which the client
/// should close the connection; [`ReplyParseError::CodeOutOfRange`] is the one RFC 5321
/// §4.2.1 calls fatal (send QUIT, best effort, then close).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplyParseError {
    /// A line does not start with three digits followed by `-`, SP or the line end
    /// (manual::replies REP-10).
    #[error("malformed reply line {line:?}")]
    Malformed {
        /// The start of the offending line, sanitised (at most 64 characters).
        line: String,
    },
    /// Three digits whose first is outside 2–5 (REP-11).
    #[error("reply code {0:03} has a first digit outside 2..=5")]
    CodeOutOfRange(u16),
    /// A line of a multiline reply carries another code than the first line (REP-06).
    #[error("reply code changed from {first} to {found} inside a multiline reply")]
    CodeMismatch {
        /// The first line's code.
        first: u16,
        /// The code of the line that differs.
        found: u16,
    },
    /// The reply has more lines than [`ReplyLimits::lines`] (REP-16).
    #[error("reply has more than {0} lines")]
    TooManyLines(usize),
    /// The reply is longer than [`ReplyLimits::octets`] (REP-16).
    #[error("reply is longer than {0} octets")]
    TooLong(usize),
}

impl ReplyParseError {
    /// True for [`ReplyParseError::CodeOutOfRange`]: the peer is not speaking SMTP, and RFC
    /// 5321 §4.2.1 says to treat the reply as fatal rather than merely malformed.
    pub fn is_fatal_code(&self) -> bool {
        matches!(self, Self::CodeOutOfRange(_))
    }
}

/// Why [`Reply::from_wire`] refused its input.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FromWireError {
    /// The bytes are not a well-formed reply.
    #[error(transparent)]
    Parse(#[from] ReplyParseError),
    /// The bytes end before the reply does.
    #[error("the reply is incomplete")]
    Incomplete,
    /// Bytes follow the reply.
    #[error("bytes follow the reply")]
    TrailingBytes,
    /// A line ends in a bare LF, which [`Reply`]'s encoder never writes.
    #[error("a reply line ends in a bare LF")]
    BareLf,
    /// The code or text cannot be held by a [`Reply`] (for example non-ASCII text).
    #[error(transparent)]
    Reply(#[from] ReplyError),
}

/// One line of a [`ParsedReply`]: the text after the code and its separator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplyLine {
    /// The text as received, enhanced code included, CR LF excluded; cut at
    /// [`ReplyLimits::line_text`].
    raw: Vec<u8>,
    /// Where the text after the enhanced code (and its SP) starts in `raw`.
    text_start: usize,
    enhanced: Option<EnhancedCode>,
    truncated: bool,
    bare_lf: bool,
}

impl ReplyLine {
    /// The text after the enhanced code, if the line has one (ESC-01); raw bytes, which may
    /// hold controls or UTF-8 (REP-14, REP-17).
    pub fn text(&self) -> &[u8] {
        self.raw.get(self.text_start..).unwrap_or_default()
    }

    /// The whole text after the code's separator, enhanced code included.
    pub fn raw_text(&self) -> &[u8] {
        &self.raw
    }

    /// The line's enhanced status code: present when the text starts with one whose class
    /// is the reply code's first digit, followed by SP or the line end (ESC-01..ESC-04).
    pub fn enhanced(&self) -> Option<EnhancedCode> {
        self.enhanced
    }

    /// [`text`](Self::text) safe to log, show, or copy into a bounce: invalid UTF-8 becomes
    /// U+FFFD, HT becomes SP, and every other control character is removed (REP-14).
    pub fn sanitized_text(&self) -> String {
        sanitize(self.text())
    }

    /// True when the line was longer than [`ReplyLimits::line_text`] and cut (REP-15).
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }

    /// True when the line ended in LF without CR (REP-13).
    pub fn bare_lf(&self) -> bool {
        self.bare_lf
    }
}

/// A complete reply as read from a server: the code and every line (RFC 5321 §4.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedReply {
    code: u16,
    /// Never empty.
    lines: Vec<ReplyLine>,
}

impl ParsedReply {
    /// The three-digit code, the same on every line; its first digit is 2 to 5.
    pub fn code(&self) -> u16 {
        self.code
    }

    /// True for 2xx (positive completion). Replies are judged by the first digit only, so
    /// `299` counts as success (REP-12).
    pub fn is_positive(&self) -> bool {
        self.code / 100 == 2
    }

    /// True for 3xx (positive intermediate: send more, as after DATA or an AUTH challenge).
    pub fn is_intermediate(&self) -> bool {
        self.code / 100 == 3
    }

    /// True for 4xx (transient failure: try again later).
    pub fn is_transient(&self) -> bool {
        self.code / 100 == 4
    }

    /// True for 5xx (permanent failure).
    pub fn is_permanent(&self) -> bool {
        self.code / 100 == 5
    }

    /// The first line's enhanced status code (RFC 2034 §3 puts the same one on every line).
    pub fn enhanced(&self) -> Option<EnhancedCode> {
        self.lines.first().and_then(ReplyLine::enhanced)
    }

    /// The lines, in order; at least one.
    pub fn lines(&self) -> &[ReplyLine] {
        &self.lines
    }

    /// Every line's [`ReplyLine::text`], joined by `\n`, converted lossily to UTF-8.
    pub fn text_lossy(&self) -> String {
        let texts: Vec<_> = self
            .lines
            .iter()
            .map(|l| String::from_utf8_lossy(l.text()))
            .collect();
        texts.join("\n")
    }

    /// Every line's [`ReplyLine::sanitized_text`], joined by SP: one line with no control
    /// character, for a log line or a bounce's `Diagnostic-Code` (REP-14).
    pub fn sanitized_text(&self) -> String {
        let texts: Vec<_> = self.lines.iter().map(ReplyLine::sanitized_text).collect();
        texts.join(" ")
    }

    /// The first word of the first line, sanitised: the server's `Domain` or
    /// `address-literal` in a greeting or an EHLO reply (RFC 5321 §4.2
    /// `Greeting = "220" ( SP / "-" ) ( Domain / address-literal ) [ SP textstring ] CRLF …`,
    /// §4.1.1.1 `ehlo-ok-rsp`); empty when the line has no text. Not validated as a domain.
    pub fn server_name(&self) -> String {
        let text = self.lines.first().map(ReplyLine::text).unwrap_or_default();
        let word = text.split(|&b| b == b' ').next().unwrap_or_default();
        word.iter()
            .filter(|b| b.is_ascii_graphic())
            .map(|&b| char::from(b))
            .collect()
    }

    /// True when a line ended in a bare LF (REP-13).
    pub fn bare_lf_seen(&self) -> bool {
        self.lines.iter().any(ReplyLine::bare_lf)
    }

    /// True when a line was cut at [`ReplyLimits::line_text`] (REP-15).
    pub fn is_truncated(&self) -> bool {
        self.lines.iter().any(ReplyLine::is_truncated)
    }

    /// A reply the client made up itself: a local verdict shaped like a server's (say
    /// `554 5.3.4 message too big` before anything was sent). `text` starts with the
    /// enhanced code when there is one, as on the wire; control characters are dropped.
    ///
    /// ```
    /// use smtp_proto::codec::ParsedReply;
    /// let reply = ParsedReply::local(554, "5.3.4 Message too big for the server");
    /// assert_eq!(reply.enhanced().map(|e| e.to_string()).as_deref(), Some("5.3.4"));
    /// assert_eq!(reply.lines()[0].text(), b"Message too big for the server");
    /// ```
    pub fn local(code: u16, text: &str) -> Self {
        let text: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_control()).collect();
        let raw = RawLine {
            code,
            more: false,
            text: &text,
            bare_lf: false,
        };
        Self {
            code,
            lines: vec![build_line(&raw, usize::MAX, false)],
        }
    }

    /// The [`Reply`] this is: the first line's enhanced code, and each line's text joined by
    /// `\n` (a line whose enhanced code differs from the first line's keeps it in its text).
    fn to_reply(&self) -> Result<Reply, FromWireError> {
        let enhanced = self.enhanced();
        let mut text = Vec::new();
        for (i, line) in self.lines.iter().enumerate() {
            if i > 0 {
                text.push(b'\n');
            }
            if line.enhanced == enhanced {
                text.extend_from_slice(line.text());
            } else {
                text.extend_from_slice(line.raw_text());
            }
        }
        let text = String::from_utf8(text).map_err(|_| ReplyError::InvalidText)?;
        let reply = Reply::new(self.code, text)?;
        Ok(match enhanced {
            Some(e) => reply.with_enhanced(e)?,
            None => reply,
        })
    }
}

/// The reply as lines `ddd-text` / `ddd text` separated by `\n`, each text sanitised as
/// by [`ReplyLine::sanitized_text`] (enhanced codes included).
impl fmt::Display for ParsedReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let last = self.lines.len().saturating_sub(1);
        for (i, line) in self.lines.iter().enumerate() {
            let separator = if i == last { ' ' } else { '-' };
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(
                f,
                "{:03}{separator}{}",
                self.code,
                sanitize(line.raw_text())
            )?;
        }
        Ok(())
    }
}

impl Reply {
    /// Parses the wire form of exactly one reply, as `Reply::encode` writes it: the
    /// inverse of encoding with ENHANCEDSTATUSCODES in force. Lines whose text starts with
    /// the enhanced code give it to the reply and lose it from the text.
    ///
    /// ```
    /// use smtp_proto::Reply;
    /// let reply = Reply::from_wire(b"250-2.0.0 first\r\n250 2.0.0 second\r\n")?;
    /// assert_eq!(reply.code(), 250);
    /// assert_eq!(reply.enhanced().map(|e| e.to_string()).as_deref(), Some("2.0.0"));
    /// assert_eq!(reply.text(), "first\nsecond");
    /// # Ok::<(), smtp_proto::codec::reply::FromWireError>(())
    /// ```
    pub fn from_wire(wire: &[u8]) -> Result<Self, FromWireError> {
        let mut parser = ReplyParser::with_limits(ReplyLimits::UNBOUNDED);
        parser.feed(wire);
        let reply = parser.next_reply()?.ok_or(FromWireError::Incomplete)?;
        if parser.buffered() != 0 {
            return Err(FromWireError::TrailingBytes);
        }
        if reply.bare_lf_seen() {
            return Err(FromWireError::BareLf);
        }
        reply.to_reply()
    }
}

/// A resumable reply reader for an SMTP client: feed it the bytes read from the server, in
/// pieces of any size, and take complete replies out in order.
///
/// A partial reply (or line) is kept across calls and is never an error; where the input
/// was split does not change the result (REP-07). Memory is bounded by [`ReplyLimits`]
/// plus one `feed`. After an error the parser stays failed: it returns the same error again.
///
/// ```
/// use smtp_proto::codec::reply::ReplyParser;
///
/// let mut parser = ReplyParser::new();
/// parser.feed(b"250-mx.example\r\n250 PIPEL");
/// assert_eq!(parser.next_reply()?, None); // incomplete: wait for more bytes
/// parser.feed(b"INING\r\n550 5.1.1 No such user\r\n");
///
/// let ehlo = parser.next_reply()?.expect("complete");
/// assert_eq!(ehlo.code(), 250);
/// assert_eq!(ehlo.lines()[1].text(), b"PIPELINING");
///
/// let refused = parser.next_reply()?.expect("complete");
/// assert!(refused.is_permanent());
/// assert_eq!(refused.enhanced().map(|e| e.to_string()).as_deref(), Some("5.1.1"));
/// assert_eq!(refused.lines()[0].text(), b"No such user");
/// assert_eq!(parser.next_reply()?, None);
/// # Ok::<(), smtp_proto::codec::reply::ReplyParseError>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct ReplyParser {
    limits: ReplyLimits,
    /// Received bytes; `buf[pos..]` are not yet consumed.
    buf: Vec<u8>,
    pos: usize,
    /// The lines so far of the reply in progress, and their code.
    lines: Vec<ReplyLine>,
    code: u16,
    /// Octets of the reply in progress received so far (complete lines and skipped bytes).
    octets: usize,
    /// A line longer than the cap whose rest is being read and dropped.
    skipping: Option<Skip>,
    failed: Option<ReplyParseError>,
}

/// The kept start of an over-long line, while its rest is dropped up to the LF.
#[derive(Clone, Debug)]
struct Skip {
    code: u16,
    more: bool,
    kept: Vec<u8>,
    /// The last octet dropped, to tell CR LF from a bare LF.
    last: u8,
}

/// The parts of one complete reply line, as [`reply_line`] reads them.
#[derive(Debug, PartialEq, Eq)]
struct RawLine<'a> {
    code: u16,
    /// `-`: more lines follow.
    more: bool,
    text: &'a [u8],
    bare_lf: bool,
}

impl ReplyParser {
    /// A parser with the default [`ReplyLimits`].
    pub fn new() -> Self {
        Self::default()
    }

    /// A parser with the given limits.
    pub fn with_limits(limits: ReplyLimits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    /// Appends bytes read from the server. Nothing is parsed until
    /// [`next_reply`](Self::next_reply); after an error, bytes are dropped.
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.failed.is_some() {
            return;
        }
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete reply: `Ok(None)` when more bytes are needed. Call it until it
    /// returns `Ok(None)` after each [`feed`](Self::feed): one read may hold several replies
    /// (REP-08).
    pub fn next_reply(&mut self) -> Result<Option<ParsedReply>, ReplyParseError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        let result = self.step();
        if let Err(error) = &result {
            self.failed = Some(error.clone());
            self.buf.clear();
            self.pos = 0;
            self.lines.clear();
            self.skipping = None;
            self.octets = 0;
        }
        result
    }

    /// Octets received but not yet returned in a reply (a partial reply or line). At EOF,
    /// a non-zero value means the server closed mid-reply.
    pub fn buffered(&self) -> usize {
        // `octets` counts the reply in progress and is 0 between replies.
        self.octets.saturating_add(self.buf.len() - self.pos)
    }

    /// Parses lines until a reply is complete or the input runs out.
    fn step(&mut self) -> Result<Option<ParsedReply>, ReplyParseError> {
        loop {
            if let Some(mut skip) = self.skipping.take() {
                let rest = &self.buf[self.pos..];
                let Some(end) = memchr::memchr(b'\n', rest) else {
                    if let Some(&last) = rest.last() {
                        skip.last = last;
                    }
                    self.octets = self.octets.saturating_add(rest.len());
                    self.pos = self.buf.len();
                    self.skipping = Some(skip);
                    return self.check_octets(0).map(|()| None);
                };
                let before = if end == 0 { skip.last } else { rest[end - 1] };
                self.octets = self.octets.saturating_add(end + 1);
                self.pos += end + 1;
                let line = RawLine {
                    code: skip.code,
                    more: skip.more,
                    text: &skip.kept,
                    bare_lf: before != b'\r',
                };
                let line = build_line(&line, self.limits.line_text, true);
                if let Some(reply) = self.push_line(skip.code, skip.more, line, 0)? {
                    return Ok(Some(reply));
                }
                continue;
            }
            let rest = &self.buf[self.pos..];
            if rest.is_empty() {
                return Ok(None);
            }
            match reply_line(rest) {
                Ok((after, raw)) => {
                    let used = rest.len() - after.len();
                    let line = build_line(&raw, self.limits.line_text, false);
                    let (code, more) = (raw.code, raw.more);
                    self.pos += used;
                    if let Some(reply) = self.push_line(code, more, line, used)? {
                        return Ok(Some(reply));
                    }
                }
                Err(nom::Err::Incomplete(_)) => {
                    // "ddd" + separator, the kept text, and a CR: a line longer than this
                    // is truncated whatever follows.
                    let head = match line_head(rest) {
                        Ok((_, head)) => Some(head),
                        Err(nom::Err::Incomplete(_)) => None,
                        Err(_) => return Err(malformed(rest)),
                    };
                    if let Some((code, _)) = head {
                        self.check_code(code)?;
                    }
                    let longest = self.limits.line_text.saturating_add(5);
                    let Some((code, more)) = head.filter(|_| rest.len() > longest) else {
                        return self.check_octets(rest.len()).map(|()| None);
                    };
                    let text = rest.get(4..).unwrap_or_default();
                    let kept = text.get(..self.limits.line_text).unwrap_or(text).to_vec();
                    let last = rest.last().copied().unwrap_or_default();
                    self.octets = self.octets.saturating_add(rest.len());
                    self.pos = self.buf.len();
                    self.skipping = Some(Skip {
                        code,
                        more,
                        kept,
                        last,
                    });
                    self.check_octets(0)?;
                }
                Err(_) => return Err(malformed(rest)),
            }
        }
    }

    /// Errs when the reply in progress plus `partial` more octets exceeds the octet cap.
    fn check_octets(&self, partial: usize) -> Result<(), ReplyParseError> {
        if self.octets.saturating_add(partial) > self.limits.octets {
            return Err(ReplyParseError::TooLong(self.limits.octets));
        }
        Ok(())
    }

    /// Errs on a first digit outside 2–5 or a code that differs from the first line's.
    fn check_code(&self, code: u16) -> Result<(), ReplyParseError> {
        if !(2..=5).contains(&(code / 100)) {
            return Err(ReplyParseError::CodeOutOfRange(code));
        }
        if !self.lines.is_empty() && code != self.code {
            return Err(ReplyParseError::CodeMismatch {
                first: self.code,
                found: code,
            });
        }
        Ok(())
    }

    /// Adds a complete line of `octets` wire octets (not yet counted) to the reply in
    /// progress; returns the reply when this was its last line.
    fn push_line(
        &mut self,
        code: u16,
        more: bool,
        line: ReplyLine,
        octets: usize,
    ) -> Result<Option<ParsedReply>, ReplyParseError> {
        self.check_code(code)?;
        self.octets = self.octets.saturating_add(octets);
        self.check_octets(0)?;
        if self.lines.len() >= self.limits.lines {
            return Err(ReplyParseError::TooManyLines(self.limits.lines));
        }
        self.code = code;
        self.lines.push(line);
        if more {
            return Ok(None);
        }
        self.octets = 0;
        Ok(Some(ParsedReply {
            code,
            lines: std::mem::take(&mut self.lines),
        }))
    }
}

/// A [`ReplyLine`] from a parsed line: the text cut at `cap` octets (or already cut), the
/// enhanced code recognised.
fn build_line(raw: &RawLine<'_>, cap: usize, cut: bool) -> ReplyLine {
    let truncated = cut || raw.text.len() > cap;
    let text = raw.text.get(..cap).unwrap_or(raw.text).to_vec();
    let (text_start, enhanced) = match enhanced_prefix(&text) {
        Ok((rest, e)) if u16::from(e.class()) == raw.code / 100 => {
            (text.len() - rest.len(), Some(e))
        }
        _ => (0, None),
    };
    ReplyLine {
        raw: text,
        text_start,
        enhanced,
        truncated,
        bare_lf: raw.bare_lf,
    }
}

/// The error for a line that does not parse, with its start for diagnostics.
fn malformed(line: &[u8]) -> ReplyParseError {
    let end = memchr::memchr(b'\n', line).unwrap_or(line.len()).min(64);
    ReplyParseError::Malformed {
        line: sanitize(line.get(..end).unwrap_or(line)),
    }
}

/// Lossy UTF-8 with HT as SP and the other control characters removed.
fn sanitize(text: &[u8]) -> String {
    String::from_utf8_lossy(text)
        .chars()
        .filter_map(|c| match c {
            '\t' => Some(' '),
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect()
}

// ---- The grammar -----------------------------------------------------------------------

/// `reply-line = Reply-code ( "-" / SP / &line-end ) textstring line-end`
///
/// One line of RFC 5321 §4.2's
/// `Reply-line = *( Reply-code "-" [ textstring ] CRLF ) Reply-code [ SP textstring ] CRLF`;
/// the lines of a reply are gathered by [`ReplyParser`], which checks that their codes agree.
/// Streaming: `Incomplete` until the line end has arrived.
fn reply_line(input: &[u8]) -> IResult<&[u8], RawLine<'_>> {
    let (input, (code, more)) = line_head(input)?;
    let (input, (text, bare_lf)) = text_line_end(input)?;
    Ok((
        input,
        RawLine {
            code,
            more,
            text,
            bare_lf,
        },
    ))
}

/// `line-head = Reply-code ( "-" / SP / &line-end )`; the output says whether the separator
/// was `-` (more lines follow).
fn line_head(input: &[u8]) -> IResult<&[u8], (u16, bool)> {
    (reply_code, separator).parse(input)
}

/// `Reply-code = 3DIGIT`
///
/// RFC 5321 §4.2 narrows this to `%x32-35 %x30-35 %x30-39`; the parser reads any three
/// digits so that a first digit outside 2–5 is reported as its own, fatal error (§4.2.1,
/// REP-11) and second digits 6–9 are accepted (REP-12).
fn reply_code(input: &[u8]) -> IResult<&[u8], u16> {
    let (rest, digits) = streaming::take_while_m_n(3, 3, |b: u8| b.is_ascii_digit())(input)?;
    let code = digits
        .iter()
        .fold(0u16, |n, &d| n * 10 + u16::from(d - b'0'));
    Ok((rest, code))
}

/// `separator = "-" / SP / &line-end`: `-` on all lines but the last; the last has SP, or
/// nothing when it has no text (§4.2.1: clients "MUST be prepared for it to be omitted").
fn separator(input: &[u8]) -> IResult<&[u8], bool> {
    alt((
        value(true, streaming::tag(&b"-"[..])),
        value(false, streaming::tag(&b" "[..])),
        value(false, peek(line_end)),
    ))
    .parse(input)
}

/// `textstring line-end`, read leniently as `*( %x00-09 / %x0B-FF ) line-end`
///
/// RFC 5321's `textstring = 1*(%d09 / %d32-126)`; a client keeps whatever the server sent
/// (CR, controls, UTF-8: REP-14, REP-17) and sanitises it when showing it. The output is
/// the text without the line end, and whether the line end was a bare LF.
fn text_line_end(input: &[u8]) -> IResult<&[u8], (&[u8], bool)> {
    let (rest, raw) = streaming::take_till(|b| b == b'\n')(input)?;
    let (rest, _) = streaming::tag(&b"\n"[..])(rest)?;
    Ok((
        rest,
        match raw.strip_suffix(b"\r") {
            Some(text) => (text, false),
            None => (raw, true),
        },
    ))
}

/// `line-end = CRLF / LF`: RFC 5321 requires CRLF; a bare LF is accepted and flagged
/// (REP-13: no smuggling risk on the reply side).
fn line_end(input: &[u8]) -> IResult<&[u8], &[u8]> {
    alt((streaming::tag(&b"\r\n"[..]), streaming::tag(&b"\n"[..]))).parse(input)
}

/// `enhanced-prefix = status-code ( SP / end-of-text )`
///
/// RFC 3463 §2 `status-code = class "." subject "." detail`, at the start of a line's text
/// (RFC 2034 §4); applied to a complete text, so not streaming. The SP is consumed.
fn enhanced_prefix(text: &[u8]) -> IResult<&[u8], EnhancedCode> {
    let (rest, code) = status_code(text)?;
    let (rest, _) = alt((complete::tag(&b" "[..]), eof)).parse(rest)?;
    Ok((rest, code))
}

/// `status-code = class "." subject "." detail`
fn status_code(input: &[u8]) -> IResult<&[u8], EnhancedCode> {
    let (rest, (class, _, subject, _, detail)) = (
        status_class,
        complete::tag(&b"."[..]),
        status_number,
        complete::tag(&b"."[..]),
        status_number,
    )
        .parse(input)?;
    match EnhancedCode::new(class, subject, detail) {
        Some(code) => Ok((rest, code)),
        None => Err(nom::Err::Error(nom::error::Error::new(
            input,
            nom::error::ErrorKind::Verify,
        ))),
    }
}

/// `class = "2" / "4" / "5"`
fn status_class(input: &[u8]) -> IResult<&[u8], u8> {
    alt((
        value(2, complete::tag(&b"2"[..])),
        value(4, complete::tag(&b"4"[..])),
        value(5, complete::tag(&b"5"[..])),
    ))
    .parse(input)
}

/// `subject = 1*3digit`, `detail = 1*3digit`
fn status_number(input: &[u8]) -> IResult<&[u8], u16> {
    let (rest, digits) = complete::take_while_m_n(1, 3, |b: u8| b.is_ascii_digit())(input)?;
    let n = digits
        .iter()
        .fold(0u16, |n, &d| n * 10 + u16::from(d - b'0'));
    Ok((rest, n))
}

#[cfg(test)]
mod tests;
