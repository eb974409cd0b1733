//! Streaming decoding of SMTP message content.
//!
//! [`DotDecoder`] decodes the DATA phase (RFC 5321 §4.1.1.4, §4.5.2): it finds the one and
//! only end-of-data sequence `CR LF "." CR LF`, removes transparency ("stuffing") dots, and
//! reports bare CR, bare LF, NUL and over-long lines as [`ContentFlags`] so that the server
//! can reject the message *after* end-of-data instead of losing framing mid-stream.
//!
//! [`ContentScanner`] computes the same flags for counted BDAT content (RFC 3030), which has
//! no dot handling at all.
//!
//! Both are sans-IO, zero-copy and resumable: feed them socket reads of any size, split
//! anywhere, and they produce the same result as if the whole stream had arrived at once
//! (the split-invariance that SMTP smuggling defences depend on).
//!
//! # Security notes for relays
//!
//! End-of-data detection always runs on the raw octets; normalisation can never create a
//! terminator (`\r.\r` is never end-of-data). An MTA that relays a message must never
//! forward stray CR or LF octets verbatim: either reject when [`ContentFlags`] reports them or
//! sanitise them (Postfix `cleanup_replace_stray_cr_lf`), otherwise the next hop may be
//! smuggled a second message (CVE-2023-51764/51765/51766).

use memchr::{memchr, memchr_iter, memrchr};

use super::content_blocks;
use std::ops::Range;

/// How bare CR, bare LF and NUL in content are treated.
///
/// Whatever the policy, end-of-data is only `CR LF "." CR LF` on the raw octets
/// (RFC 5321 §4.1.1.4: "`<LF>.<LF>` ... MUST NOT be treated as equivalent to
/// `<CRLF>.<CRLF>`").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LineEndingPolicy {
    /// Default. CR LF is the only line ending (RFC 5321 §2.3.8: "Conforming implementations
    /// MUST NOT recognize or generate any other character or character sequence as a line
    /// terminator"). Bare CR / bare LF / NUL are content, flagged (the server rejects the
    /// message after end-of-data, never mid-stream).
    #[default]
    Strict,
    /// Postfix >= 3.9 `smtpd_forbid_bare_newline = normalize`: a bare LF ends a line and is
    /// emitted as CR LF; a "." line whose own ending or whose previous line's ending was a
    /// bare LF is DISCARDED (never end-of-data); bare CR and NUL are content, flagged.
    Normalize,
}

/// What was seen in the content so far (RFC 5321 §2.3.8, §4.5.3.1.6).
///
/// Flags describe the raw input and are set in every policy; what to do about them (reject
/// with a 5xx after end-of-data, or accept) is the server's decision. The flags are sticky.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ContentFlags {
    /// An LF not immediately preceded by CR was seen (RFC 5321 §2.3.8). Also set in
    /// [`LineEndingPolicy::Normalize`] mode, where such an LF was rewritten to CR LF.
    pub bare_lf: bool,
    /// A CR not immediately followed by LF was seen (RFC 5321 §2.3.8).
    pub bare_cr: bool,
    /// A NUL octet was seen (RFC 5322 §3.5 forbids NUL in message text).
    pub nul: bool,
    /// A line longer than the configured limit was seen (RFC 5321 §4.5.3.1.6: 1000 octets
    /// including CR LF). The content is never split or cut because of it.
    pub long_line: bool,
}

/// A piece of decoded message content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    /// A sub-range of the `input` slice passed to this `decode` call.
    Input(Range<usize>),
    /// Bytes the decoder supplies itself: a CR it held back across calls, or the CR LF that
    /// replaces a bare LF in Normalize mode. Always a `'static` literal.
    ///
    /// A held-back CR (from a line that started with `"." CR` at the end of the previous
    /// input) is emitted together with the first octet of the next input, which this call
    /// consumed: the piece is then `CR` followed by that octet.
    Static(&'static [u8]),
}

/// The result of one [`DotDecoder::decode`] call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// Octets of `input` consumed by this call (content, stuffing dots, the terminator).
    pub consumed: usize,
    /// Content produced by this call, if any.
    pub piece: Option<Piece>,
    /// True when this call consumed the final LF of CR LF "." CR LF. Bytes after it are not
    /// consumed.
    pub end_of_data: bool,
}

impl Step {
    /// A step that produced content `piece` (if non-empty) after consuming `consumed` octets.
    fn content(consumed: usize, piece: Range<usize>) -> Self {
        let piece = (!piece.is_empty()).then_some(Piece::Input(piece));
        Self {
            consumed,
            piece,
            end_of_data: false,
        }
    }

    /// A step that consumed `consumed` octets and produced no content.
    fn nothing(consumed: usize) -> Self {
        Self {
            consumed,
            piece: None,
            end_of_data: false,
        }
    }
}

/// `[CR, x]` for every octet `x`: a held-back CR followed by the octet that resolved it.
static CR_THEN: [[u8; 2]; 256] = {
    let mut table = [[b'\r', 0u8]; 256];
    let mut octet = 0;
    while octet < 256 {
        table[octet][1] = octet as u8;
        octet += 1;
    }
    table
};

/// The static two-octet sequence CR `octet`.
fn cr_then(octet: u8) -> &'static [u8] {
    CR_THEN
        .get(usize::from(octet))
        .map_or(b"\r".as_slice(), |pair| pair.as_slice())
}

/// Length of the current text line, checked against the RFC 5321 §4.5.3.1.6 limit.
#[derive(Clone, Copy, Debug)]
struct LineLength {
    /// Octets of the current line counted so far (saturating: the bound is `usize::MAX`).
    so_far: usize,
    /// Longest acceptable line, terminator included.
    max: usize,
}

impl LineLength {
    fn new(max: usize) -> Self {
        Self { so_far: 0, max }
    }

    /// Adds `octets` to the current line and flags it if it is now too long.
    fn extend(&mut self, octets: usize, flags: &mut ContentFlags) {
        self.so_far = self.so_far.saturating_add(octets);
        if self.so_far > self.max {
            flags.long_line = true;
        }
    }

    /// Adds the last `octets` (terminator included) of the current line and starts a new one.
    fn end_line(&mut self, octets: usize, flags: &mut ContentFlags) {
        self.extend(octets, flags);
        self.so_far = 0;
    }
}

/// Where the decoder is, relative to the raw input already consumed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// At the start of a line: right after a line ending, or at the start of the message.
    LineStart,
    /// Inside a line; the last consumed octet was not a CR.
    InLine,
    /// Inside a line; the last consumed octet was a CR, already emitted as content.
    AfterCr,
    /// A "." at the start of a line was consumed and not emitted.
    Dot,
    /// "." CR at the start of a line were consumed and neither was emitted.
    DotCr,
    /// End-of-data was consumed; nothing more is decoded.
    Finished,
}

/// Resumable, zero-copy decoder for SMTP DATA content (RFC 5321 §4.1.1.4, §4.5.2).
///
/// Create one per message, right after sending the 354 reply, and feed it every octet the
/// client sends until [`Step::end_of_data`]. The decoder never buffers: content is returned
/// as ranges of your own input slice (or short static literals), so the caller copies each
/// octet at most once.
///
/// ```text
/// let mut decoder = DotDecoder::new(LineEndingPolicy::Strict, 1000);
/// let mut rest = socket_bytes;
/// while !rest.is_empty() {
///     let step = decoder.decode(rest);
///     match step.piece {
///         Some(Piece::Input(range)) => body.extend_from_slice(&rest[range]),
///         Some(Piece::Static(bytes)) => body.extend_from_slice(bytes),
///         None => {}
///     }
///     rest = &rest[step.consumed..];
///     if step.end_of_data { /* verdict on decoder.flags(); `rest` is the next command */ break; }
/// }
/// ```
///
/// After end-of-data every further call returns `consumed: 0, end_of_data: true`, so bytes
/// that follow the terminator can never be taken for content.
#[derive(Clone, Debug)]
pub struct DotDecoder {
    policy: LineEndingPolicy,
    state: State,
    /// Normalize mode: the line that ended last was terminated by a bare LF.
    previous_line_bare_lf: bool,
    line: LineLength,
    flags: ContentFlags,
    /// Carried from one call's [`Walk`] to the next.
    block_cooldown: u8,
}

impl DotDecoder {
    /// A decoder positioned at the start of a line (right after the DATA command's CR LF, so a
    /// "." CR LF as the very first line ends an empty message — a defect of other libraries).
    /// `max_line_len`: RFC 5321 §4.5.3.1.6 text line limit, 1000 octets including CR LF, not
    /// counting the stuffing dot; a longer line sets `long_line` (content is NOT split or cut).
    ///
    /// Line length counts the octets of the line as emitted: in Normalize mode a line ending
    /// in bare LF counts its ending as the two octets CR LF it is emitted as. Pass
    /// `usize::MAX` to disable the check.
    pub fn new(policy: LineEndingPolicy, max_line_len: usize) -> Self {
        Self {
            policy,
            state: State::LineStart,
            previous_line_bare_lf: false,
            line: LineLength::new(max_line_len),
            flags: ContentFlags::default(),
            block_cooldown: 0,
        }
    }

    /// Decodes from the start of `input`. Call again with `&input[step.consumed..]` until it
    /// returns end_of_data or consumes the whole slice. Every call with non-empty input
    /// consumes at least one octet (partial terminators are held as internal state, never as
    /// lookahead), so the caller never needs to buffer.
    ///
    /// Each call returns at most one piece, as long as possible: it ends only at a stuffing
    /// dot (RFC 5321 §4.5.2), at the terminator (§4.1.1.4), at a Normalize-mode rewrite, or at
    /// the end of `input`. The CR LF before the terminating "." ends the last content line and
    /// is part of the content.
    pub fn decode(&mut self, input: &[u8]) -> Step {
        let Some(&first) = input.first() else {
            return Step {
                consumed: 0,
                piece: None,
                end_of_data: self.state == State::Finished,
            };
        };
        match self.state {
            State::LineStart if first == b'.' => self.after_dot(input, 1),
            State::LineStart | State::InLine => self.scan(input, 0, false),
            State::AfterCr => self.scan(input, 0, true),
            State::Dot => self.after_dot(input, 0),
            State::DotCr => self.after_dot_cr(first),
            State::Finished => Step {
                consumed: 0,
                piece: None,
                end_of_data: true,
            },
        }
    }

    /// What was seen in the content so far (sticky; final once end-of-data was returned).
    pub fn flags(&self) -> ContentFlags {
        self.flags
    }

    /// A "." at line start has been consumed; `next` is the index of the octet after it.
    /// RFC 5321 §4.5.2: "If the line is composed of a single period, it is treated as the end
    /// of mail indicator. If the first character is a period and there are other characters
    /// on the line, the first character is deleted."
    fn after_dot(&mut self, input: &[u8], next: usize) -> Step {
        match input.get(next) {
            None => {
                self.state = State::Dot;
                Step::nothing(next)
            }
            Some(b'\r') => match input.get(next + 1) {
                None => {
                    self.state = State::DotCr;
                    Step::nothing(next + 1)
                }
                Some(b'\n') => self.dot_line_with_crlf(next + 2),
                // Stuffing dot; the CR is content (and bare).
                Some(_) => self.scan(input, next, false),
            },
            Some(b'\n') if self.policy == LineEndingPolicy::Normalize => {
                self.flags.bare_lf = true;
                self.discard_dot_line(next + 1, true)
            }
            // Stuffing dot (in Strict mode "." LF is a stuffing dot followed by a bare LF).
            Some(_) => self.scan(input, next, false),
        }
    }

    /// "." CR at line start were held by an earlier call; `first` is the next octet.
    fn after_dot_cr(&mut self, first: u8) -> Step {
        if first == b'\n' {
            return self.dot_line_with_crlf(1);
        }
        // The dot was a stuffing dot and the held CR is bare content (SMG-08, SMG-09).
        self.flags.bare_cr = true;
        self.line.extend(2, &mut self.flags);
        self.state = if first == b'\r' {
            State::AfterCr
        } else {
            State::InLine
        };
        if first == 0 {
            self.flags.nul = true;
        }
        Step {
            consumed: 1,
            piece: Some(Piece::Static(cr_then(first))),
            end_of_data: false,
        }
    }

    /// A line consisting of "." CR LF was consumed (`consumed` octets of this input).
    /// It is the terminator (RFC 5321 §4.1.1.4), except in Normalize mode right after a line
    /// that ended in bare LF, where Postfix discards it (smtp-rules.md SMUG-4, SMG-03).
    fn dot_line_with_crlf(&mut self, consumed: usize) -> Step {
        if self.policy == LineEndingPolicy::Normalize && self.previous_line_bare_lf {
            return self.discard_dot_line(consumed, false);
        }
        self.state = State::Finished;
        Step {
            consumed,
            piece: None,
            end_of_data: true,
        }
    }

    /// Normalize mode: drops a "." line (never end-of-data, smtp-rules.md SMUG-4).
    fn discard_dot_line(&mut self, consumed: usize, ended_in_bare_lf: bool) -> Step {
        self.state = State::LineStart;
        self.previous_line_bare_lf = ended_in_bare_lf;
        Step::nothing(consumed)
    }

    /// The hot loop: emits `input[start..]` as content up to the next point where the piece
    /// must end. `after_cr` says the octet before `start` was a CR already emitted.
    ///
    /// Two ways forward, mixed freely. At the start of a line the block kernel
    /// ([`content_blocks::skippable`], via [`Walk::skip_clean_blocks`]) skips, in one
    /// vectorised pass that never stops per line, every block that holds only CR LF lines
    /// with no dot at their start and no NUL, and the part of the next block before its first
    /// anomaly; from the last line ending it covered on, the exact per-line walk below takes
    /// over (one `memchr` per LF; each LF is checked for its preceding CR and for a "." after
    /// it), and it decides every rare case. Bare CR and NUL in the walked parts are found by
    /// two more passes over them ([`scan_piece_flags`]).
    fn scan(&mut self, input: &[u8], start: usize, after_cr: bool) -> Step {
        let mut line = self.line;
        let mut flags = self.flags;
        if after_cr && input.get(start) != Some(&b'\n') {
            flags.bare_cr = true;
        }
        let mut walk = Walk::new(start, self.block_cooldown);
        let block = content_blocks::block_len(line.max);
        let stop = loop {
            if let Some(resume) = walk.skip_clean_blocks::<true>(input, block, &line, &mut flags) {
                line.so_far = 0;
                if matches!(input.get(resume), Some(b'.') | None) {
                    break Stop::LineStart(resume);
                }
            }
            let pos = walk.pos;
            let Some(at) = input
                .get(pos..)
                .and_then(|rest| memchr(b'\n', rest))
                .map(|offset| pos + offset)
            else {
                break Stop::EndOfInput;
            };
            let crlf = match at.checked_sub(1) {
                Some(before) if at > start => input.get(before) == Some(&b'\r'),
                _ => after_cr,
            };
            walk.pos = at + 1;
            if crlf {
                walk.line_walked();
                walk.paired_crs += usize::from(at > walk.unchecked);
                let line_end = at + 1;
                line.end_line(line_end.saturating_sub(walk.line_begin), &mut flags);
                walk.line_begin = line_end;
                if matches!(input.get(line_end), Some(b'.') | None) {
                    break Stop::LineStart(line_end);
                }
            } else {
                flags.bare_lf = true;
                if self.policy == LineEndingPolicy::Normalize {
                    break Stop::BareLf(at);
                }
            }
        };
        self.line = line;
        self.flags = flags;
        self.block_cooldown = walk.cooldown;
        match stop {
            Stop::LineStart(line_end) => self.crlf_line_start(input, start, line_end, &walk),
            Stop::BareLf(at) => self.bare_lf_line_end(input, start, at, &walk),
            Stop::EndOfInput => {
                let end = input.len();
                self.line
                    .extend(end.saturating_sub(walk.line_begin), &mut self.flags);
                let mut paired_crs = walk.paired_crs;
                if input.last() == Some(&b'\r') {
                    // Whether this CR is bare depends on the next call's first octet.
                    paired_crs += 1;
                    self.state = State::AfterCr;
                } else {
                    self.state = State::InLine;
                }
                self.content(input, end, start..end, walk.unchecked, paired_crs)
            }
        }
    }

    /// A step that emits `input[piece]` as content after consuming `consumed` octets, after
    /// checking `input[unchecked..piece.end]` for bare CR and NUL. `paired_crs` is the number
    /// of CRs in that part known not to be bare (followed by LF, or pending at the end of
    /// input); the part of the piece before `unchecked` was checked already.
    fn content(
        &mut self,
        input: &[u8],
        consumed: usize,
        piece: Range<usize>,
        unchecked: usize,
        paired_crs: usize,
    ) -> Step {
        let bytes = input.get(unchecked..piece.end).unwrap_or_default();
        scan_piece_flags(bytes, paired_crs, &mut self.flags);
        Step::content(consumed, piece)
    }

    /// The piece ends at `line_end`, just after a CR LF, because a "." or the end of input
    /// follows. Consumes the terminator too if it is there.
    fn crlf_line_start(
        &mut self,
        input: &[u8],
        start: usize,
        line_end: usize,
        walk: &Walk,
    ) -> Step {
        self.previous_line_bare_lf = false;
        let (unchecked, paired_crs) = (walk.unchecked, walk.paired_crs);
        // RFC 5321 §4.1.1.4: "<CRLF>.<CRLF>", the first CR LF ending the last line.
        if input.get(line_end..line_end + 3) == Some(b".\r\n".as_slice()) {
            self.state = State::Finished;
            let mut step =
                self.content(input, line_end + 3, start..line_end, unchecked, paired_crs);
            step.end_of_data = true;
            return step;
        }
        self.state = State::LineStart;
        self.content(input, line_end, start..line_end, unchecked, paired_crs)
    }

    /// Normalize mode: a bare LF at `at` ends the line and is emitted as CR LF. The content
    /// before it is returned first; the rewrite happens in the call that starts at the LF.
    fn bare_lf_line_end(&mut self, input: &[u8], start: usize, at: usize, walk: &Walk) -> Step {
        if at > start {
            self.line
                .extend(at.saturating_sub(walk.line_begin), &mut self.flags);
            self.state = State::InLine;
            return self.content(input, at, start..at, walk.unchecked, walk.paired_crs);
        }
        self.line.end_line(2, &mut self.flags);
        self.previous_line_bare_lf = true;
        self.state = State::LineStart;
        Step {
            consumed: at + 1,
            piece: Some(Piece::Static(b"\r\n")),
            end_of_data: false,
        }
    }
}

/// Why [`DotDecoder::scan`] ended its piece.
enum Stop {
    /// A CR LF ends at this index and a "." or the end of input follows it.
    LineStart(usize),
    /// Normalize mode: a bare LF at this index.
    BareLf(usize),
    /// The whole input is content.
    EndOfInput,
}

/// Exactly walked CR LF lines after which the block kernel is tried again when it made less
/// than a block of progress (content with an anomaly on most lines: bare LF lines in Normalize
/// mode, NULs, frequent stuffed dots). Keeps the cost of failed tries under that of the walk.
const BLOCK_COOLDOWN: u8 = 8;

/// Position of the exact per-line walk over one input, shared by [`DotDecoder::scan`] and
/// [`ContentScanner::scan`], and its hand-overs to the block kernel.
struct Walk {
    /// Where the walk goes on: the next LF is searched from here.
    pos: usize,
    /// Start of the current line in this input (its earlier octets are in `LineLength`).
    line_begin: usize,
    /// Start of the part of the input not yet checked for bare CR and NUL; everything before
    /// it was either checked by [`scan_piece_flags`] or skipped by the block kernel.
    unchecked: usize,
    /// CRs in `input[unchecked..pos]` known to be followed by LF.
    paired_crs: usize,
    /// CR LF lines to walk before the block kernel is tried again (see [`BLOCK_COOLDOWN`]).
    cooldown: u8,
}

impl Walk {
    /// A walk from `start`, the start of the input or of the part left to decode.
    fn new(start: usize, cooldown: u8) -> Self {
        Self {
            pos: start,
            line_begin: start,
            unchecked: start,
            paired_crs: 0,
            cooldown,
        }
    }

    /// A CR LF line was walked.
    fn line_walked(&mut self) {
        self.cooldown = self.cooldown.saturating_sub(1);
    }

    /// At the start of a line (or at the start of the walk, mid-line), lets the block kernel
    /// skip what it can ([`content_blocks::skippable`]) and returns the index of the line
    /// start after the last LF it covered, where the walk resumes (`line` is then at a new
    /// line; that line start was not checked for a ".").
    ///
    /// Taken only when it cannot hide a long line: the line entering the skipped part ends
    /// at its first LF, at most `block + 1` octets on, so its length so far plus that must
    /// fit in `line.max`; later lines there are shorter than `2 * block`. Not taken at an LF
    /// (the kernel checks an LF's CR only when the CR is in the part it looks at).
    fn skip_clean_blocks<const DOTS: bool>(
        &mut self,
        input: &[u8],
        block: usize,
        line: &LineLength,
        flags: &mut ContentFlags,
    ) -> Option<usize> {
        let pos = self.pos;
        if pos != self.line_begin
            || self.cooldown > 0
            || block == 0
            || line.so_far > line.max.saturating_sub(block + 1)
            || input.get(pos).is_none_or(|&octet| octet == b'\n')
        {
            return None;
        }
        let rest = input.get(pos..)?;
        let skip = content_blocks::skippable::<DOTS>(rest, block);
        // Every LF in `rest[1..=skip]` is preceded by CR, and none is followed by "." in
        // `rest[..=skip]`.
        let last_lf = rest
            .get(..=skip)
            .and_then(|covered| memrchr(b'\n', covered));
        let Some(last_lf) = last_lf else {
            self.cooldown = BLOCK_COOLDOWN;
            return None;
        };
        if last_lf < block {
            self.cooldown = BLOCK_COOLDOWN;
        }
        let walked = input.get(self.unchecked..pos).unwrap_or_default();
        scan_piece_flags(walked, self.paired_crs, flags);
        let resume = pos + last_lf + 1;
        self.pos = resume;
        self.line_begin = resume;
        self.unchecked = resume;
        self.paired_crs = 0;
        Some(resume)
    }
}

/// Sets `bare_cr` if `bytes` holds more CRs than the `paired_crs` known to be followed by LF
/// (or pending), and `nul` if it holds a NUL. Each check is one SIMD pass, skipped once its
/// flag is set (RFC 5321 §2.3.8).
fn scan_piece_flags(bytes: &[u8], paired_crs: usize, flags: &mut ContentFlags) {
    if bytes.is_empty() {
        return;
    }
    if !flags.bare_cr && memchr_iter(b'\r', bytes).count() > paired_crs {
        flags.bare_cr = true;
    }
    if !flags.nul && memchr(0, bytes).is_some() {
        flags.nul = true;
    }
}

/// Flag detection for counted BDAT content (RFC 3030 §2), which has no dot logic at all
/// (smtp-rules.md SMUG-7, SMG-B1/B2): the octets of every chunk are message content as they
/// are. Tracks a CR that ends one chunk and is followed by LF at the start of the next.
///
/// Lines end only at CR LF (RFC 3030 §3 requires canonical CR LF line endings for text; RFC
/// 5321 §2.3.8), so in line-length accounting a bare LF is ordinary content.
#[derive(Clone, Debug)]
pub struct ContentScanner {
    line: LineLength,
    pending_cr: bool,
    flags: ContentFlags,
    /// Carried from one call's [`Walk`] to the next.
    block_cooldown: u8,
}

impl ContentScanner {
    /// A scanner at the start of a message. `max_line_len` is the RFC 5321 §4.5.3.1.6 text
    /// line limit (1000 octets including CR LF); `usize::MAX` disables the check.
    pub fn new(max_line_len: usize) -> Self {
        Self {
            line: LineLength::new(max_line_len),
            pending_cr: false,
            flags: ContentFlags::default(),
            block_cooldown: 0,
        }
    }

    /// Scans the next octets of the message (any part of any chunk, in order).
    ///
    /// Clean blocks are skipped by the block kernel, the rest is walked line by line, as in
    /// [`DotDecoder::decode`] (without dots).
    pub fn scan(&mut self, bytes: &[u8]) {
        let Some(&first) = bytes.first() else {
            return;
        };
        let cr_before = std::mem::take(&mut self.pending_cr);
        if cr_before && first != b'\n' {
            self.flags.bare_cr = true;
        }
        let mut line = self.line;
        let mut flags = self.flags;
        let mut walk = Walk::new(0, self.block_cooldown);
        let block = content_blocks::block_len(line.max);
        loop {
            if walk
                .skip_clean_blocks::<false>(bytes, block, &line, &mut flags)
                .is_some()
            {
                line.so_far = 0;
            }
            let pos = walk.pos;
            let Some(at) = bytes
                .get(pos..)
                .and_then(|rest| memchr(b'\n', rest))
                .map(|offset| pos + offset)
            else {
                break;
            };
            let after_cr = match at.checked_sub(1) {
                Some(before) => bytes.get(before) == Some(&b'\r'),
                None => cr_before,
            };
            walk.pos = at + 1;
            if after_cr {
                walk.line_walked();
                walk.paired_crs += usize::from(at > walk.unchecked);
                line.end_line((at + 1).saturating_sub(walk.line_begin), &mut flags);
                walk.line_begin = at + 1;
            } else {
                flags.bare_lf = true;
            }
        }
        line.extend(bytes.len().saturating_sub(walk.line_begin), &mut flags);
        let mut paired_crs = walk.paired_crs;
        if bytes.last() == Some(&b'\r') {
            self.pending_cr = true;
            paired_crs += 1;
        }
        let unchecked = bytes.get(walk.unchecked..).unwrap_or_default();
        scan_piece_flags(unchecked, paired_crs, &mut flags);
        self.line = line;
        self.flags = flags;
        self.block_cooldown = walk.cooldown;
    }

    /// Call at the end of the message (BDAT LAST): a pending CR at the very end is a bare CR.
    pub fn finish(&mut self) {
        if self.pending_cr {
            self.flags.bare_cr = true;
            self.pending_cr = false;
        }
    }

    /// What was seen in the content so far (sticky).
    pub fn flags(&self) -> ContentFlags {
        self.flags
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const STRICT: LineEndingPolicy = LineEndingPolicy::Strict;
    const NORMALIZE: LineEndingPolicy = LineEndingPolicy::Normalize;
    const BOTH: [LineEndingPolicy; 2] = [STRICT, NORMALIZE];

    /// Everything a decoder produced for one input.
    #[derive(Debug, PartialEq, Eq)]
    struct Decoded {
        content: Vec<u8>,
        flags: ContentFlags,
        /// Absolute offset just after the terminator's final LF.
        end_of_data: Option<usize>,
    }

    fn flags(bare_lf: bool, bare_cr: bool, nul: bool, long_line: bool) -> ContentFlags {
        ContentFlags {
            bare_lf,
            bare_cr,
            nul,
            long_line,
        }
    }

    const NO_FLAGS: ContentFlags = ContentFlags {
        bare_lf: false,
        bare_cr: false,
        nul: false,
        long_line: false,
    };
    const LF: ContentFlags = ContentFlags {
        bare_lf: true,
        ..NO_FLAGS
    };
    const CR: ContentFlags = ContentFlags {
        bare_cr: true,
        ..NO_FLAGS
    };
    const CR_LF: ContentFlags = ContentFlags {
        bare_lf: true,
        bare_cr: true,
        ..NO_FLAGS
    };
    const NUL: ContentFlags = ContentFlags {
        nul: true,
        ..NO_FLAGS
    };
    const LONG: ContentFlags = ContentFlags {
        long_line: true,
        ..NO_FLAGS
    };

    /// Feeds one chunk, checking the call contract; returns the offset of end-of-data in it.
    fn feed(decoder: &mut DotDecoder, chunk: &[u8], out: &mut Vec<u8>) -> Option<usize> {
        let mut offset = 0;
        while offset < chunk.len() {
            let rest = &chunk[offset..];
            let step = decoder.decode(rest);
            assert!(step.consumed >= 1, "no progress on {rest:?}");
            assert!(step.consumed <= rest.len());
            match step.piece {
                Some(Piece::Input(range)) => {
                    assert!(range.start < range.end && range.end <= step.consumed);
                    out.extend_from_slice(&rest[range]);
                }
                Some(Piece::Static(bytes)) => out.extend_from_slice(bytes),
                None => {}
            }
            offset += step.consumed;
            if step.end_of_data {
                return Some(offset);
            }
        }
        None
    }

    /// Decodes `input` cut at the sorted positions `cuts`.
    fn decode_split(policy: LineEndingPolicy, max: usize, input: &[u8], cuts: &[usize]) -> Decoded {
        let mut decoder = DotDecoder::new(policy, max);
        let mut content = Vec::new();
        let mut end_of_data = None;
        let mut from = 0;
        for &to in cuts.iter().chain(std::iter::once(&input.len())) {
            if let Some(at) = feed(&mut decoder, &input[from..to], &mut content) {
                end_of_data = Some(from + at);
                break;
            }
            from = to;
        }
        Decoded {
            content,
            flags: decoder.flags(),
            end_of_data,
        }
    }

    fn decode_whole(policy: LineEndingPolicy, max: usize, input: &[u8]) -> Decoded {
        decode_split(policy, max, input, &[])
    }

    fn decode_bytewise(policy: LineEndingPolicy, max: usize, input: &[u8]) -> Decoded {
        let cuts: Vec<usize> = (1..input.len()).collect();
        decode_split(policy, max, input, &cuts)
    }

    /// Obviously-correct reference: takes one octet at a time into a line buffer and decides
    /// each complete line as a whole (RFC 5321 §4.1.1.4, §4.5.2; Postfix normalize rules).
    fn reference(policy: LineEndingPolicy, max: usize, input: &[u8]) -> Decoded {
        let normalize = policy == NORMALIZE;
        let mut content = Vec::new();
        let mut flags = NO_FLAGS;
        let mut line: Vec<u8> = Vec::new();
        let mut previous_bare_lf = false;
        let note = |text: &[u8], flags: &mut ContentFlags, cr_may_be_pending: bool| {
            for (i, &octet) in text.iter().enumerate() {
                match octet {
                    0 => flags.nul = true,
                    b'\n' => flags.bare_lf = true,
                    b'\r' if !(cr_may_be_pending && i + 1 == text.len()) => flags.bare_cr = true,
                    _ => {}
                }
            }
        };
        for (i, &octet) in input.iter().enumerate() {
            line.push(octet);
            let crlf = line.ends_with(b"\r\n");
            if octet != b'\n' || !(crlf || normalize) {
                continue;
            }
            let body = &line[..line.len() - if crlf { 2 } else { 1 }];
            if body == b"." {
                if crlf && !previous_bare_lf {
                    return Decoded {
                        content,
                        flags,
                        end_of_data: Some(i + 1),
                    };
                }
                flags.bare_lf |= !crlf;
                previous_bare_lf = !crlf;
                line.clear();
                continue;
            }
            let text = body.strip_prefix(b".").unwrap_or(body);
            note(text, &mut flags, false);
            flags.bare_lf |= !crlf;
            flags.long_line |= text.len() + 2 > max;
            content.extend_from_slice(text);
            content.extend_from_slice(b"\r\n");
            previous_bare_lf = !crlf;
            line.clear();
        }
        if line != b"." && line != b".\r" {
            let text = line.strip_prefix(b".").unwrap_or(&line);
            note(text, &mut flags, true);
            flags.long_line |= text.len() > max;
            content.extend_from_slice(text);
        }
        Decoded {
            content,
            flags,
            end_of_data: None,
        }
    }

    /// Reference for [`ContentScanner`] over the whole content, after `finish`.
    fn scanner_reference(max: usize, input: &[u8]) -> ContentFlags {
        let mut flags = NO_FLAGS;
        for (i, &octet) in input.iter().enumerate() {
            match octet {
                0 => flags.nul = true,
                b'\r' if input.get(i + 1) != Some(&b'\n') => flags.bare_cr = true,
                b'\n' if i == 0 || input[i - 1] != b'\r' => flags.bare_lf = true,
                _ => {}
            }
        }
        let mut rest = input;
        while let Some(at) = rest.windows(2).position(|w| w == b"\r\n") {
            flags.long_line |= at + 2 > max;
            rest = &rest[at + 2..];
        }
        flags.long_line |= rest.len() > max;
        flags
    }

    fn scan_split(max: usize, input: &[u8], cuts: &[usize]) -> ContentScanner {
        let mut scanner = ContentScanner::new(max);
        let mut from = 0;
        for &to in cuts.iter().chain(std::iter::once(&input.len())) {
            scanner.scan(&input[from..to]);
            from = to;
        }
        scanner
    }

    fn step(consumed: usize, piece: Option<Piece>, end_of_data: bool) -> Step {
        Step {
            consumed,
            piece,
            end_of_data,
        }
    }

    // ---- RFC 5321 §4.1.1.4: end-of-data -------------------------------------------------

    #[test]
    fn dot_crlf_as_first_line_ends_an_empty_message() {
        for policy in BOTH {
            let mut decoder = DotDecoder::new(policy, 1000);
            assert_eq!(decoder.decode(b".\r\nQUIT\r\n"), step(3, None, true));
            assert_eq!(decoder.flags(), NO_FLAGS);
        }
    }

    #[test]
    fn terminator_crlf_is_the_last_lines_ending() {
        for policy in BOTH {
            let mut decoder = DotDecoder::new(policy, 1000);
            let step1 = decoder.decode(b"a\r\n.\r\nMAIL");
            assert_eq!(step1, step(6, Some(Piece::Input(0..3)), true));
        }
    }

    #[test]
    fn empty_line_then_terminator() {
        let decoded = decode_whole(STRICT, 1000, b"\r\n.\r\n");
        assert_eq!(decoded.content, b"\r\n");
        assert_eq!(decoded.end_of_data, Some(5));
    }

    #[test]
    fn bytes_after_end_of_data_are_never_consumed() {
        let mut decoder = DotDecoder::new(STRICT, 1000);
        assert_eq!(decoder.decode(b".\r\nX"), step(3, None, true));
        assert_eq!(decoder.decode(b"X\r\n.\r\n"), step(0, None, true));
        assert_eq!(decoder.decode(b""), step(0, None, true));
    }

    #[test]
    fn empty_input_consumes_nothing() {
        let mut decoder = DotDecoder::new(STRICT, 1000);
        assert_eq!(decoder.decode(b""), step(0, None, false));
        assert_eq!(decoder.decode(b".\r\n"), step(3, None, true));
    }

    #[test]
    fn terminator_held_across_calls_in_every_position() {
        for policy in BOTH {
            let mut decoder = DotDecoder::new(policy, 1000);
            assert_eq!(
                decoder.decode(b"a\r"),
                step(2, Some(Piece::Input(0..2)), false)
            );
            assert_eq!(
                decoder.decode(b"\n"),
                step(1, Some(Piece::Input(0..1)), false)
            );
            assert_eq!(decoder.decode(b"."), step(1, None, false));
            assert_eq!(decoder.decode(b"\r"), step(1, None, false));
            assert_eq!(decoder.decode(b"\nNOOP"), step(1, None, true));
        }
    }

    #[test]
    fn dot_cr_lf_in_one_call_after_held_dot() {
        let mut decoder = DotDecoder::new(STRICT, 1000);
        assert_eq!(decoder.decode(b"."), step(1, None, false));
        assert_eq!(decoder.decode(b"\r\nQ"), step(2, None, true));
    }

    #[test]
    fn dot_not_at_line_start_is_content() {
        let decoded = decode_whole(STRICT, 1000, b"a.\r\nb.b\r\n.\r\n");
        assert_eq!(decoded.content, b"a.\r\nb.b\r\n");
        assert_eq!(decoded.end_of_data, Some(12));
    }

    // ---- RFC 5321 §4.5.2: dot-unstuffing ---------------------------------------------

    #[test]
    fn stuffing_dot_is_removed() {
        let cases: [(&[u8], &[u8], ContentFlags); 6] = [
            (b"..\r\n.\r\n", b".\r\n", NO_FLAGS),
            (b".x\r\n.\r\n", b"x\r\n", NO_FLAGS),
            (b". \r\n.\r\n", b" \r\n", NO_FLAGS),
            (b".\x00\r\n.\r\n", b"\x00\r\n", NUL),
            (b"...\r\n.\r\n", b"..\r\n", NO_FLAGS),
            (b"a\r\n.b.\r\n.\r\n", b"a\r\nb.\r\n", NO_FLAGS),
        ];
        for (input, content, expected_flags) in cases {
            for policy in BOTH {
                let decoded = decode_whole(policy, 1000, input);
                assert_eq!(decoded.content, content, "{input:?}");
                assert_eq!(decoded.flags, expected_flags, "{input:?}");
                assert_eq!(decoded.end_of_data, Some(input.len()), "{input:?}");
            }
        }
    }

    #[test]
    fn pieces_are_maximal_and_end_at_stuffing_dots() {
        let input = b"abc\r\n..def\r\n.\r\n";
        let mut decoder = DotDecoder::new(STRICT, 1000);
        assert_eq!(
            decoder.decode(input),
            step(5, Some(Piece::Input(0..5)), false)
        );
        assert_eq!(
            decoder.decode(&input[5..]),
            step(10, Some(Piece::Input(1..7)), true)
        );
    }

    #[test]
    fn whole_lines_form_one_piece() {
        let input = b"Subject: a\r\n\r\nline 1\r\nline 2\r\n";
        let mut decoder = DotDecoder::new(STRICT, 1000);
        assert_eq!(
            decoder.decode(input),
            step(input.len(), Some(Piece::Input(0..input.len())), false)
        );
    }

    #[test]
    fn held_dot_cr_followed_by_other_octet_is_emitted_as_static() {
        for policy in BOTH {
            let mut decoder = DotDecoder::new(policy, 1000);
            assert_eq!(decoder.decode(b".\r"), step(2, None, false));
            assert_eq!(
                decoder.decode(b"xy"),
                step(1, Some(Piece::Static(b"\rx")), false)
            );
            assert_eq!(
                decoder.decode(b"y"),
                step(1, Some(Piece::Input(0..1)), false)
            );
            assert_eq!(decoder.flags(), CR);
        }
    }

    #[test]
    fn held_dot_cr_followed_by_cr_lf_is_content_line() {
        let mut decoder = DotDecoder::new(STRICT, 1000);
        assert_eq!(decoder.decode(b".\r"), step(2, None, false));
        assert_eq!(
            decoder.decode(b"\r"),
            step(1, Some(Piece::Static(b"\r\r")), false)
        );
        assert_eq!(
            decoder.decode(b"\n"),
            step(1, Some(Piece::Input(0..1)), false)
        );
        assert_eq!(decoder.decode(b".\r\n"), step(3, None, true));
        assert_eq!(decoder.flags(), CR);
    }

    #[test]
    fn held_dot_cr_followed_by_nul() {
        let mut decoder = DotDecoder::new(STRICT, 1000);
        assert_eq!(decoder.decode(b".\r"), step(2, None, false));
        assert_eq!(
            decoder.decode(b"\x00"),
            step(1, Some(Piece::Static(b"\r\x00")), false)
        );
        assert_eq!(decoder.flags(), flags(false, true, true, false));
    }

    #[test]
    fn cr_then_table_covers_every_octet() {
        for octet in 0..=255u8 {
            assert_eq!(cr_then(octet), [b'\r', octet]);
        }
    }

    // ---- flags (RFC 5321 §2.3.8) ------------------------------------------------------

    #[test]
    fn cr_lf_split_across_calls_is_not_bare() {
        let decoded = decode_split(STRICT, 1000, b"a\r\nb\r\n.\r\n", &[2, 6]);
        assert_eq!(decoded.content, b"a\r\nb\r\n");
        assert_eq!(decoded.flags, NO_FLAGS);
        assert_eq!(decoded.end_of_data, Some(9));
    }

    #[test]
    fn bare_cr_at_end_of_call_is_flagged_by_the_next_octet() {
        let mut decoder = DotDecoder::new(STRICT, 1000);
        assert_eq!(
            decoder.decode(b"a\r"),
            step(2, Some(Piece::Input(0..2)), false)
        );
        assert_eq!(decoder.flags(), NO_FLAGS);
        assert_eq!(
            decoder.decode(b"b"),
            step(1, Some(Piece::Input(0..1)), false)
        );
        assert_eq!(decoder.flags(), CR);
    }

    #[test]
    fn bare_lf_in_strict_is_content() {
        let decoded = decode_whole(STRICT, 1000, b"a\nb\r\n.\r\n");
        assert_eq!(decoded.content, b"a\nb\r\n");
        assert_eq!(decoded.flags, LF);
        let decoded = decode_whole(STRICT, 1000, b"\n.\r\n.\r\n");
        assert_eq!(decoded.content, b"\n.\r\n");
        assert_eq!(decoded.end_of_data, Some(7));
    }

    #[test]
    fn nul_anywhere_is_flagged() {
        let decoded = decode_whole(STRICT, 1000, b"a\x00b\r\n.\r\n");
        assert_eq!(decoded.content, b"a\x00b\r\n");
        assert_eq!(decoded.flags, NUL);
        let decoded = decode_whole(STRICT, 1000, b"\x00\r\n.\r\n");
        assert_eq!(decoded.flags, NUL);
    }

    // ---- Normalize mode (smtp-rules.md SMUG-4) ----------------------------------------

    #[test]
    fn normalize_rewrites_bare_lf_as_static_crlf() {
        let mut decoder = DotDecoder::new(NORMALIZE, 1000);
        assert_eq!(
            decoder.decode(b"a\nb"),
            step(1, Some(Piece::Input(0..1)), false)
        );
        assert_eq!(
            decoder.decode(b"\nb"),
            step(1, Some(Piece::Static(b"\r\n")), false)
        );
        assert_eq!(
            decoder.decode(b"b"),
            step(1, Some(Piece::Input(0..1)), false)
        );
        assert_eq!(decoder.flags(), LF);
    }

    #[test]
    fn normalize_bare_lf_lines_unstuff_like_crlf_lines() {
        let decoded = decode_whole(NORMALIZE, 1000, b"a\n..b\n.c\r\n.\r\n");
        assert_eq!(decoded.content, b"a\r\n.b\r\nc\r\n");
        assert_eq!(decoded.flags, LF);
        assert_eq!(decoded.end_of_data, Some(13));
    }

    #[test]
    fn normalize_discards_dot_lines_touching_bare_lf() {
        let cases: [(&[u8], &[u8]); 4] = [
            (b"a\n.\r\nb\r\n.\r\n", b"a\r\nb\r\n"),
            (b"a\r\n.\nb\r\n.\r\n", b"a\r\nb\r\n"),
            (b"a\n.\nb\r\n.\r\n", b"a\r\nb\r\n"),
            (b".\nb\r\n.\r\n", b"b\r\n"),
        ];
        for (input, content) in cases {
            let decoded = decode_whole(NORMALIZE, 1000, input);
            assert_eq!(decoded.content, content, "{input:?}");
            assert_eq!(decoded.flags, LF, "{input:?}");
            assert_eq!(decoded.end_of_data, Some(input.len()), "{input:?}");
        }
    }

    #[test]
    fn normalize_dot_line_after_discarded_crlf_dot_line_ends_data() {
        // The discarded "." line ended in CR LF, so the next "." CR LF follows a CR LF:
        // end-of-data at the same offset as in Strict mode.
        let input = b"a\n.\r\n.\r\nMAIL";
        let normalized = decode_whole(NORMALIZE, 1000, input);
        assert_eq!(normalized.content, b"a\r\n");
        assert_eq!(normalized.end_of_data, Some(8));
        let strict = decode_whole(STRICT, 1000, input);
        assert_eq!(strict.content, b"a\n.\r\n");
        assert_eq!(strict.end_of_data, Some(8));
    }

    #[test]
    fn normalize_cr_normalization_never_creates_terminator() {
        // SMUG-2: bare CR is content, "\r.\r" is not a dot line.
        let decoded = decode_whole(NORMALIZE, 1000, b"a\r.\rb\r\n.\r\n");
        assert_eq!(decoded.content, b"a\r.\rb\r\n");
        assert_eq!(decoded.flags, CR);
        assert_eq!(decoded.end_of_data, Some(10));
    }

    // ---- line length (RFC 5321 §4.5.3.1.6) --------------------------------------------

    fn line_of(prefix: &[u8], len: usize, ending: &[u8]) -> Vec<u8> {
        let mut line = prefix.to_vec();
        line.resize(prefix.len() + len, b'a');
        line.extend_from_slice(ending);
        line.extend_from_slice(b".\r\n");
        line
    }

    #[test]
    fn line_of_exactly_1000_octets_is_accepted() {
        for policy in BOTH {
            let input = line_of(b"", 998, b"\r\n");
            let decoded = decode_whole(policy, 1000, &input);
            assert_eq!(decoded.flags, NO_FLAGS);
            assert_eq!(decoded.content.len(), 1000);
            assert_eq!(decode_bytewise(policy, 1000, &input).flags, NO_FLAGS);
        }
    }

    #[test]
    fn line_of_1001_octets_is_long_and_not_cut() {
        for policy in BOTH {
            let input = line_of(b"", 999, b"\r\n");
            let decoded = decode_whole(policy, 1000, &input);
            assert_eq!(decoded.flags, LONG);
            assert_eq!(decoded.content.len(), 1001);
            assert_eq!(decoded.end_of_data, Some(1004));
            assert_eq!(decode_bytewise(policy, 1000, &input).flags, LONG);
        }
    }

    #[test]
    fn stuffing_dot_is_not_counted_in_line_length() {
        let at_limit = line_of(b".", 998, b"\r\n");
        assert_eq!(decode_whole(STRICT, 1000, &at_limit).flags, NO_FLAGS);
        let over = line_of(b".", 999, b"\r\n");
        assert_eq!(decode_whole(STRICT, 1000, &over).flags, LONG);
    }

    #[test]
    fn normalize_counts_bare_lf_as_emitted_crlf() {
        let at_limit = line_of(b"", 998, b"\n");
        assert_eq!(decode_whole(NORMALIZE, 1000, &at_limit).flags, LF);
        let over = line_of(b"", 999, b"\n");
        assert_eq!(
            decode_whole(NORMALIZE, 1000, &over).flags,
            flags(true, false, false, true)
        );
    }

    #[test]
    fn terminator_line_is_not_counted() {
        let decoded = decode_whole(STRICT, 3, b"a\r\n.\r\n");
        assert_eq!(decoded.flags, NO_FLAGS);
        let decoded = decode_whole(STRICT, 3, b"ab\r\n.\r\n");
        assert_eq!(decoded.flags, LONG);
        let decoded = decode_whole(STRICT, 0, b".\r\n");
        assert_eq!(decoded.flags, NO_FLAGS);
    }

    #[test]
    fn line_length_counter_spans_calls() {
        let input = line_of(b"", 999, b"\r\n");
        let decoded = decode_split(STRICT, 1000, &input, &[500, 1000]);
        assert_eq!(decoded.flags, LONG);
        let input = line_of(b"", 998, b"\r\n");
        let decoded = decode_split(STRICT, 1000, &input, &[500, 999]);
        assert_eq!(decoded.flags, NO_FLAGS);
    }

    // ---- smtp-rules.md §1.2: SMG-01..SMG-17 -------------------------------------------

    const PRE: &[u8] = b"Subject: t\r\n\r\nbody";
    const POST: &[u8] = b"MAIL FROM:<evil@a.example>\r\nRCPT TO:<victim@b.example>\r\nDATA\r\nSubject: smuggled\r\n\r\nx\r\n.\r\n";

    fn smuggled() -> &'static [u8] {
        &POST[..POST.len() - 3]
    }

    fn attack(seq: &[u8]) -> Vec<u8> {
        [PRE, seq, POST].concat()
    }

    /// The sequence is not end-of-data: one message, ending at the real final terminator,
    /// whose content is PRE + `decoded_seq` + the smuggled commands as plain text.
    fn assert_smuggling_fails(
        policy: LineEndingPolicy,
        seq: &[u8],
        decoded_seq: &[u8],
        expected: ContentFlags,
    ) {
        let input = attack(seq);
        for decoded in [
            decode_whole(policy, 1000, &input),
            decode_bytewise(policy, 1000, &input),
        ] {
            assert_eq!(decoded.end_of_data, Some(input.len()), "{policy:?} {seq:?}");
            assert_eq!(
                decoded.content,
                [PRE, decoded_seq, smuggled()].concat(),
                "{policy:?} {seq:?}"
            );
            assert_eq!(decoded.flags, expected, "{policy:?} {seq:?}");
        }
    }

    #[test]
    fn smg_01_crlf_dot_crlf_is_end_of_data() {
        for policy in BOTH {
            let input = attack(b"\r\n.\r\n");
            let decoded = decode_whole(policy, 1000, &input);
            assert_eq!(decoded.end_of_data, Some(PRE.len() + 5));
            assert_eq!(decoded.content, [PRE, b"\r\n"].concat());
            assert_eq!(decoded.flags, NO_FLAGS);
            assert_eq!(&input[PRE.len() + 5..], POST);
        }
    }

    #[test]
    fn smg_02_lf_dot_lf() {
        assert_smuggling_fails(STRICT, b"\n.\n", b"\n.\n", LF);
        assert_smuggling_fails(NORMALIZE, b"\n.\n", b"\r\n", LF);
    }

    #[test]
    fn smg_03_lf_dot_crlf() {
        assert_smuggling_fails(STRICT, b"\n.\r\n", b"\n.\r\n", LF);
        assert_smuggling_fails(NORMALIZE, b"\n.\r\n", b"\r\n", LF);
    }

    #[test]
    fn smg_04_crlf_dot_lf() {
        assert_smuggling_fails(STRICT, b"\r\n.\n", b"\r\n\n", LF);
        assert_smuggling_fails(NORMALIZE, b"\r\n.\n", b"\r\n", LF);
    }

    #[test]
    fn smg_05_cr_dot_cr() {
        for policy in BOTH {
            assert_smuggling_fails(policy, b"\r.\r", b"\r.\r", CR);
        }
    }

    #[test]
    fn smg_06_cr_dot_crlf() {
        for policy in BOTH {
            assert_smuggling_fails(policy, b"\r.\r\n", b"\r.\r\n", CR);
        }
    }

    #[test]
    fn smg_07_cr_dot_lf_and_lf_dot_cr() {
        assert_smuggling_fails(STRICT, b"\r.\n", b"\r.\n", CR_LF);
        assert_smuggling_fails(NORMALIZE, b"\r.\n", b"\r.\r\n", CR_LF);
        assert_smuggling_fails(STRICT, b"\n.\r", b"\n.\r", CR_LF);
        assert_smuggling_fails(NORMALIZE, b"\n.\r", b"\r\n\r", CR_LF);
    }

    #[test]
    fn smg_08_crlf_dot_cr_then_other() {
        for policy in BOTH {
            assert_smuggling_fails(policy, b"\r\n.\r", b"\r\n\r", CR);
        }
    }

    #[test]
    fn smg_09_crlf_dot_cr_cr_lf() {
        for policy in BOTH {
            assert_smuggling_fails(policy, b"\r\n.\r\r\n", b"\r\n\r\r\n", CR);
        }
    }

    #[test]
    fn smg_10_cr_crlf_dot_cr_crlf() {
        for policy in BOTH {
            assert_smuggling_fails(policy, b"\r\r\n.\r\r\n", b"\r\r\n\r\r\n", CR);
        }
    }

    #[test]
    fn smg_11_nul_before_dot() {
        for policy in BOTH {
            assert_smuggling_fails(policy, b"\r\n\x00.\r\n", b"\r\n\x00.\r\n", NUL);
        }
    }

    #[test]
    fn smg_12_nul_after_dot() {
        for policy in BOTH {
            assert_smuggling_fails(policy, b"\r\n.\x00\r\n", b"\r\n\x00\r\n", NUL);
        }
    }

    #[test]
    fn smg_13_dot_whitespace_is_not_trimmed() {
        for policy in BOTH {
            assert_smuggling_fails(policy, b"\r\n. \r\n", b"\r\n \r\n", NO_FLAGS);
            assert_smuggling_fails(policy, b"\r\n.\t\r\n", b"\r\n\t\r\n", NO_FLAGS);
        }
    }

    #[test]
    fn smg_14_dot_after_long_line_fragment() {
        for policy in BOTH {
            for (len, expected) in [(997, NO_FLAGS), (998, LONG)] {
                let mut seq = b"\r\n".to_vec();
                seq.resize(2 + len, b'A');
                seq.extend_from_slice(b".\r\n");
                assert_smuggling_fails(policy, &seq, &seq, expected);
                // SMUG-8: a feed boundary right before the "." changes nothing.
                let input = attack(&seq);
                let cut = PRE.len() + 2 + len;
                assert_eq!(input[cut], b'.');
                let decoded = decode_split(policy, 1000, &input, &[cut]);
                assert_eq!(decoded.end_of_data, Some(input.len()));
                assert_eq!(decoded.flags, expected);
            }
        }
    }

    #[test]
    fn smg_15_dot_dot_is_stuffing() {
        for policy in BOTH {
            assert_smuggling_fails(policy, b"\r\n..\r\n", b"\r\n.\r\n", NO_FLAGS);
        }
    }

    #[test]
    fn smg_16_terminator_split_at_every_boundary() {
        for policy in BOTH {
            let input = attack(b"\r\n.\r\n");
            for k in 0..=5 {
                let decoded = decode_split(policy, 1000, &input, &[PRE.len() + k]);
                assert_eq!(decoded.end_of_data, Some(PRE.len() + 5), "cut {k}");
                assert_eq!(decoded.content, [PRE, b"\r\n"].concat(), "cut {k}");
                assert_eq!(decoded.flags, NO_FLAGS);
            }
            let decoded = decode_bytewise(policy, 1000, &input);
            assert_eq!(decoded.end_of_data, Some(PRE.len() + 5));
            assert_eq!(decoded.content, [PRE, b"\r\n"].concat());
        }
    }

    #[test]
    fn smg_17_lf_lf_dot_crlf() {
        assert_smuggling_fails(STRICT, b"\n\n.\r\n", b"\n\n.\r\n", LF);
        assert_smuggling_fails(NORMALIZE, b"\n\n.\r\n", b"\r\n\r\n", LF);
    }

    // ---- ContentScanner (RFC 3030, SMG-B1/B2) -----------------------------------------

    #[test]
    fn smg_b1_bdat_has_no_dot_handling() {
        let mut scanner = ContentScanner::new(1000);
        scanner.scan(b"ab\r\n.\r\nMAIL F");
        scanner.finish();
        assert_eq!(scanner.flags(), NO_FLAGS);
    }

    #[test]
    fn smg_b2_bdat_bare_lf() {
        let mut scanner = ContentScanner::new(1000);
        scanner.scan(b"To: x\nab");
        scanner.finish();
        assert_eq!(scanner.flags(), LF);
    }

    #[test]
    fn scanner_cr_lf_across_chunks_is_not_bare() {
        let mut scanner = ContentScanner::new(1000);
        scanner.scan(b"a\r");
        scanner.scan(b"");
        scanner.scan(b"\nb");
        scanner.finish();
        assert_eq!(scanner.flags(), NO_FLAGS);
    }

    #[test]
    fn scanner_pending_cr_at_finish_is_bare() {
        let mut scanner = ContentScanner::new(1000);
        scanner.scan(b"a\r");
        assert_eq!(scanner.flags(), NO_FLAGS);
        scanner.finish();
        assert_eq!(scanner.flags(), CR);
    }

    #[test]
    fn scanner_cr_then_other_chunk_is_bare() {
        let mut scanner = ContentScanner::new(1000);
        scanner.scan(b"a\r");
        scanner.scan(b"x");
        assert_eq!(scanner.flags(), CR);
    }

    #[test]
    fn scanner_nul_and_lf() {
        let mut scanner = ContentScanner::new(1000);
        scanner.scan(b"\n\x00");
        assert_eq!(scanner.flags(), flags(true, false, true, false));
    }

    #[test]
    fn scanner_line_length_limits() {
        let mut line = vec![b'a'; 998];
        line.extend_from_slice(b"\r\n");
        let mut scanner = ContentScanner::new(1000);
        scanner.scan(&line);
        assert_eq!(scanner.flags(), NO_FLAGS);
        line.insert(0, b'a');
        let mut scanner = ContentScanner::new(1000);
        scanner.scan(&line[..500]);
        scanner.scan(&line[500..]);
        assert_eq!(scanner.flags(), LONG);
        let mut scanner = ContentScanner::new(1000);
        scanner.scan(&[b'a'; 1000]);
        scanner.finish();
        assert_eq!(scanner.flags(), NO_FLAGS);
        scanner.scan(b"a");
        assert_eq!(scanner.flags(), LONG);
    }

    // ---- properties (SMUG-10, SMG-16) -------------------------------------------------

    fn smtp_octet() -> impl Strategy<Value = u8> {
        prop_oneof![
            4 => Just(b'\r'),
            4 => Just(b'\n'),
            4 => Just(b'.'),
            1 => Just(0u8),
            3 => Just(b'a'),
            1 => any::<u8>(),
        ]
    }

    fn cuts(len: usize, picks: &[prop::sample::Index]) -> Vec<usize> {
        let mut cuts: Vec<usize> = picks.iter().map(|pick| pick.index(len + 1)).collect();
        cuts.sort_unstable();
        cuts.dedup();
        cuts
    }

    fn any_policy() -> impl Strategy<Value = LineEndingPolicy> {
        prop_oneof![Just(STRICT), Just(NORMALIZE)]
    }

    // ---- long content: the block fast path (content_blocks) ----------------------------

    /// One piece of long content: mostly ordinary lines, rarely one the block kernel must
    /// hand over to the exact walk for.
    #[derive(Clone, Debug)]
    enum Segment {
        /// An ordinary line: this many letters (70 to 80), then CR LF.
        Clean(usize),
        /// A line of exactly this many octets, CR LF included.
        Sized(usize),
        /// A line whose length, CR LF included, is `2 * block + delta`.
        BlockRelative(isize),
        /// Literal octets.
        Raw(&'static [u8]),
    }

    fn segment() -> impl Strategy<Value = Segment> {
        prop_oneof![
            120 => (70usize..=80).prop_map(Segment::Clean),
            1 => prop::sample::select(vec![999usize, 1000, 1001, 1002, 2000, 1, 2, 3])
                .prop_map(Segment::Sized),
            2 => (-3isize..=2).prop_map(Segment::BlockRelative),
            1 => prop::sample::select(vec![
                b"a\rb\r\n".as_slice(),
                b"a\nb\r\n",
                b"\n",
                b"\r",
                b"a\x00b\r\n",
                b"..stuffed\r\n",
                b".x\r\n",
                b".\r\n",
                b".\n",
                b".\r",
                b"\r\n",
                b"\r\r\n",
            ])
            .prop_map(Segment::Raw),
        ]
    }

    /// An octet to write at `k * block + delta` (`k`, `delta`, octet).
    fn boundary_hit() -> impl Strategy<Value = (usize, isize, u8)> {
        (
            0usize..24,
            -1isize..=1,
            prop::sample::select(vec![b'\r', b'\n', 0u8, b'.', b'x']),
        )
    }

    /// Line limits: the RFC's, tiny ones (no or one-octet blocks), small ones (many blocks
    /// per line), and none.
    fn line_limit() -> impl Strategy<Value = usize> {
        prop_oneof![
            3 => Just(1000usize),
            1 => 0usize..4,
            2 => 4usize..80,
            1 => 80usize..600,
            1 => Just(usize::MAX),
        ]
    }

    /// Letters for ordinary lines (no CR, LF, NUL or ".").
    fn letters(len: usize) -> impl Iterator<Item = u8> {
        (0..len).map(|i| b"Lorem ipsum dolor sit amet consectetur adipiscing"[i % 49])
    }

    fn long_content(max: usize, segments: &[Segment], hits: &[(usize, isize, u8)]) -> Vec<u8> {
        let block = content_blocks::block_len(max);
        let mut input = Vec::new();
        let sized = |input: &mut Vec<u8>, len: usize| {
            input.extend(letters(len.saturating_sub(2)));
            input.extend_from_slice(&b"\r\n"[2usize.saturating_sub(len)..]);
        };
        for segment in segments {
            match *segment {
                Segment::Clean(len) => {
                    input.extend(letters(len));
                    input.extend_from_slice(b"\r\n");
                }
                Segment::Sized(len) => sized(&mut input, len),
                Segment::BlockRelative(delta) => {
                    let len = (2 * block).saturating_add_signed(delta).min(3000);
                    sized(&mut input, len);
                }
                Segment::Raw(bytes) => input.extend_from_slice(bytes),
            }
        }
        for &(k, delta, octet) in hits {
            if let Some(at) = (k * block.max(1)).checked_add_signed(delta)
                && let Some(slot) = input.get_mut(at)
            {
                *slot = octet;
            }
        }
        input.extend_from_slice(b".\r\n");
        input
    }

    /// `offset` octets of short CR LF lines ("\r\n" and "a\r\n"), then a line of `len`
    /// octets (CR LF included), then short lines, then the terminator.
    fn line_at(offset: usize, len: usize) -> Vec<u8> {
        let mut input = Vec::new();
        let mut left = offset;
        while left > 0 {
            let line: &[u8] = if left % 2 == 1 { b"a\r\n" } else { b"\r\n" };
            input.extend_from_slice(line);
            left -= line.len();
        }
        input.extend(letters(len - 2));
        input.extend_from_slice(b"\r\n");
        for _ in 0..80 {
            input.extend_from_slice(b"ab\r\n");
        }
        input.extend_from_slice(b".\r\n");
        input
    }

    #[test]
    fn line_just_over_the_limit_is_flagged_at_every_block_alignment() {
        let limits = (4..=40).chain([63, 64, 65, 100, 511, 512, 513, 1000, 1001]);
        for max in limits {
            let block = content_blocks::block_len(max);
            for offset in (0..=2 * block + 2).filter(|&offset| offset != 1) {
                for (len, long) in [(max, false), (max + 1, true)] {
                    let input = line_at(offset, len);
                    let expected = if long { LONG } else { NO_FLAGS };
                    let decoded = decode_whole(STRICT, max, &input);
                    assert_eq!(
                        decoded.flags, expected,
                        "max {max} offset {offset} len {len}"
                    );
                    assert_eq!(decoded.end_of_data, Some(input.len()));
                    let cut = decode_split(NORMALIZE, max, &input, &[offset + len / 2]);
                    assert_eq!(
                        cut.flags, expected,
                        "max {max} offset {offset} len {len} cut"
                    );
                    let mut scanner = ContentScanner::new(max);
                    scanner.scan(&input[..input.len() - 3]);
                    scanner.finish();
                    assert_eq!(scanner.flags(), expected, "scanner {max} {offset} {len}");
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn decoding_is_split_invariant(
            policy in any_policy(),
            max in 0usize..12,
            input in prop::collection::vec(smtp_octet(), 0..200),
            picks in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
        ) {
            let whole = decode_whole(policy, max, &input);
            prop_assert_eq!(&decode_bytewise(policy, max, &input), &whole);
            prop_assert_eq!(&decode_split(policy, max, &input, &cuts(input.len(), &picks)), &whole);
        }

        #[test]
        fn decoding_matches_reference(
            policy in any_policy(),
            max in 0usize..12,
            input in prop::collection::vec(smtp_octet(), 0..200),
            picks in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
        ) {
            let decoded = decode_split(policy, max, &input, &cuts(input.len(), &picks));
            prop_assert_eq!(decoded, reference(policy, max, &input));
        }

        #[test]
        fn end_of_data_offset_does_not_depend_on_policy(
            input in prop::collection::vec(smtp_octet(), 0..200),
        ) {
            prop_assert_eq!(
                decode_whole(STRICT, 1000, &input).end_of_data,
                decode_whole(NORMALIZE, 1000, &input).end_of_data
            );
        }

        #[test]
        fn scanner_is_split_invariant_and_matches_reference(
            max in 0usize..12,
            input in prop::collection::vec(smtp_octet(), 0..200),
            picks in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
        ) {
            let mut scanner = scan_split(max, &input, &cuts(input.len(), &picks));
            scanner.finish();
            prop_assert_eq!(scanner.flags(), scanner_reference(max, &input));
        }

        #[test]
        fn long_content_decodes_like_the_reference(
            policy in any_policy(),
            max in line_limit(),
            segments in prop::collection::vec(segment(), 20..70),
            hits in prop::collection::vec(boundary_hit(), 0..4),
            picks in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
        ) {
            let input = long_content(max, &segments, &hits);
            let expected = reference(policy, max, &input);
            let cuts = cuts(input.len(), &picks);
            prop_assert_eq!(&decode_whole(policy, max, &input), &expected);
            prop_assert_eq!(&decode_split(policy, max, &input, &cuts), &expected);
        }

        #[test]
        fn long_content_decodes_like_the_reference_bytewise(
            policy in any_policy(),
            max in line_limit(),
            segments in prop::collection::vec(segment(), 10..40),
            hits in prop::collection::vec(boundary_hit(), 0..3),
        ) {
            let input = long_content(max, &segments, &hits);
            prop_assert_eq!(decode_bytewise(policy, max, &input), reference(policy, max, &input));
        }

        #[test]
        fn long_content_scans_like_the_reference(
            max in line_limit(),
            segments in prop::collection::vec(segment(), 20..70),
            hits in prop::collection::vec(boundary_hit(), 0..4),
            picks in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
        ) {
            let input = long_content(max, &segments, &hits);
            let expected = scanner_reference(max, &input);
            for cuts in [Vec::new(), cuts(input.len(), &picks)] {
                let mut scanner = scan_split(max, &input, &cuts);
                scanner.finish();
                prop_assert_eq!(scanner.flags(), expected);
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(
            policy in any_policy(),
            max in any::<usize>(),
            input in prop::collection::vec(any::<u8>(), 0..512),
            picks in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
        ) {
            let cuts = cuts(input.len(), &picks);
            let _ = decode_split(policy, max, &input, &cuts);
            let mut scanner = scan_split(max, &input, &cuts);
            scanner.finish();
            let _ = scanner.flags();
        }
    }
}
