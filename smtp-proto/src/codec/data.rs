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
//!
//! # Why hand-written
//!
//! The content decoders are hand-written rather than built from nom combinators because they
//! are the measured hot path: every content octet goes through them. The `session_throughput`
//! bench measures them in a whole session, `data_scanning` alone (`command_parsing` measures
//! the command side; all in `tests/benches`); in a pipelined session (callgrind, 4 KiB reads)
//! content decoding is about 42% of the instructions and MAIL and RCPT about 17%. nom
//! is for the cold paths, where combinators read better and speed does not matter.

use std::ops::Range;

mod kernel;

pub use kernel::Kernel;
use kernel::Stop;

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

/// The result of one [`DotDecoder::decode_pieces`] call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Octets of `input` consumed (content, stuffing dots, the terminator).
    pub consumed: usize,
    /// End-of-data was consumed (now or by an earlier call); bytes after it are not.
    pub end_of_data: bool,
}

/// Where a scan's stuffing dots go: [`kernel::DotSink`], told where the scan begins, and
/// where the piece in progress resumes after the last dot taken.
trait PieceSink: kernel::DotSink {
    /// A scan begins at `start` (the piece in progress begins there).
    fn begin(&mut self, start: usize);
    /// The index after the last stuffing dot taken in this scan, if any.
    fn resume(&self) -> Option<usize>;
}

/// [`DotDecoder::decode`]: no dot is taken; each call returns one piece.
impl PieceSink for () {
    fn begin(&mut self, _start: usize) {}

    fn resume(&self) -> Option<usize> {
        None
    }
}

/// [`DotDecoder::decode_pieces`]: each dot ends a piece, pushed with its range moved by
/// `offset` (where this call's input begins in the caller's).
struct Collect<'a> {
    pieces: &'a mut Vec<Piece>,
    offset: usize,
    /// Where the piece in progress begins.
    from: usize,
    /// A dot was taken in this scan.
    taken: bool,
}

impl kernel::DotSink for Collect<'_> {
    #[inline]
    fn stuffing_dot(&mut self, at: usize) -> bool {
        if at > self.from {
            self.pieces
                .push(Piece::Input(self.offset + self.from..self.offset + at));
        }
        self.from = at + 1;
        self.taken = true;
        true
    }
}

impl PieceSink for Collect<'_> {
    fn begin(&mut self, start: usize) {
        self.from = start;
        self.taken = false;
    }

    fn resume(&self) -> Option<usize> {
        self.taken.then_some(self.from)
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
    kernel: Kernel,
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
            kernel: Kernel::detect(),
        }
    }

    /// The same decoder running `kernel` instead of the fastest one the CPU has
    /// ([`Kernel::detect`]); [`Kernel::Portable`] if the CPU lacks it. The result is the same
    /// with every kernel.
    pub fn with_kernel(mut self, kernel: Kernel) -> Self {
        self.kernel = kernel.or_portable();
        self
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
        self.decode_step(input, &mut ())
    }

    /// Decodes all of `input` it can in one call: like repeated [`decode`](Self::decode)
    /// calls, but the kernel goes past stuffing dots instead of returning at each, so a
    /// stuffed dot costs little more than the dot. Each piece is pushed onto `pieces`, its
    /// ranges indexing `input` (as in [`Step`]); returns the octets consumed and whether
    /// end-of-data was among them (bytes after it are not consumed). The call also returns
    /// after a [`Piece::Static`] (a held CR, a Normalize rewrite), so that piece is always
    /// the last: a caller that unstuffs in place can put it after the others.
    ///
    /// ```
    /// use smtp_proto::LineEndingPolicy;
    /// use smtp_proto::codec::data::{DotDecoder, Piece};
    ///
    /// let mut decoder = DotDecoder::new(LineEndingPolicy::Strict, 1000);
    /// let input = b"Hi\r\n..dot\r\n.\r\nQUIT\r\n";
    /// let mut pieces = Vec::new();
    /// let progress = decoder.decode_pieces(input, &mut pieces);
    /// assert!(progress.end_of_data);
    /// assert_eq!(&input[progress.consumed..], b"QUIT\r\n");
    /// assert_eq!(pieces, [Piece::Input(0..4), Piece::Input(5..11)]);
    /// ```
    pub fn decode_pieces(&mut self, input: &[u8], pieces: &mut Vec<Piece>) -> Progress {
        let mut offset = 0;
        while let Some(rest) = input.get(offset..).filter(|rest| !rest.is_empty()) {
            let mut collect = Collect {
                pieces: &mut *pieces,
                offset,
                from: 0,
                taken: false,
            };
            let step = self.decode_step(rest, &mut collect);
            match step.piece {
                Some(Piece::Input(range)) => {
                    pieces.push(Piece::Input(offset + range.start..offset + range.end));
                }
                Some(Piece::Static(bytes)) => {
                    pieces.push(Piece::Static(bytes));
                    return Progress {
                        consumed: offset + step.consumed,
                        end_of_data: step.end_of_data,
                    };
                }
                None => {}
            }
            offset += step.consumed;
            if step.end_of_data {
                return Progress {
                    consumed: offset,
                    end_of_data: true,
                };
            }
        }
        Progress {
            consumed: offset,
            end_of_data: self.state == State::Finished,
        }
    }

    /// [`decode`](Self::decode), telling `sink` of the stuffing dots the kernel may go past.
    fn decode_step<S: PieceSink>(&mut self, input: &[u8], sink: &mut S) -> Step {
        let Some(&first) = input.first() else {
            return Step {
                consumed: 0,
                piece: None,
                end_of_data: self.state == State::Finished,
            };
        };
        match self.state {
            State::LineStart if first == b'.' => self.after_dot(input, 1, sink),
            State::LineStart | State::InLine => self.scan(input, 0, false, sink),
            State::AfterCr => self.scan(input, 0, true, sink),
            State::Dot => self.after_dot(input, 0, sink),
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
    fn after_dot<S: PieceSink>(&mut self, input: &[u8], next: usize, sink: &mut S) -> Step {
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
                Some(_) => self.scan(input, next, false, sink),
            },
            Some(b'\n') if self.policy == LineEndingPolicy::Normalize => {
                self.flags.bare_lf = true;
                self.discard_dot_line(next + 1, true)
            }
            // Stuffing dot (in Strict mode "." LF is a stuffing dot followed by a bare LF).
            Some(_) => self.scan(input, next, false, sink),
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
    /// that ended in bare LF, where Postfix discards it ([`manual::smuggling`](crate::manual::smuggling) SMUG-4, SMG-03).
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

    /// Normalize mode: drops a "." line (never end-of-data, [`manual::smuggling`](crate::manual::smuggling) SMUG-4).
    fn discard_dot_line(&mut self, consumed: usize, ended_in_bare_lf: bool) -> Step {
        self.state = State::LineStart;
        self.previous_line_bare_lf = ended_in_bare_lf;
        Step::nothing(consumed)
    }

    /// The hot loop: emits `input[start..]` as content up to the next point where the piece
    /// must end (a "." beginning a line, a Normalize-mode bare LF, the end of input), with
    /// the flags and line lengths of everything before it, in one pass of the content
    /// [`kernel`]. `after_cr` says the octet before `start` was a CR already emitted.
    ///
    /// Stuffing dots `sink` takes are gone past: the piece returned begins after the last.
    fn scan<S: PieceSink>(
        &mut self,
        input: &[u8],
        start: usize,
        after_cr: bool,
        sink: &mut S,
    ) -> Step {
        let (line, flags, kernel) = (&mut self.line, &mut self.flags, self.kernel);
        sink.begin(start);
        let outcome = match self.policy {
            LineEndingPolicy::Strict => {
                kernel::scan::<S, true, false>(kernel, input, start, after_cr, line, flags, sink)
            }
            LineEndingPolicy::Normalize => {
                kernel::scan::<S, true, true>(kernel, input, start, after_cr, line, flags, sink)
            }
        };
        let start = sink.resume().unwrap_or(start);
        let end = input.len();
        match outcome.stop {
            Stop::Dot(line_start) => self.crlf_line_start(input, start, line_start),
            Stop::BareLf(at) => {
                self.flags.bare_lf = true;
                self.bare_lf_line_end(start, at, outcome.line_begin)
            }
            // A CR LF ended the input: the next call starts a line.
            Stop::End if outcome.line_begin == end => self.crlf_line_start(input, start, end),
            Stop::End => {
                self.line.extend(end - outcome.line_begin, &mut self.flags);
                // Whether a CR at the end is bare depends on the next call's first octet.
                self.state = if input.last() == Some(&b'\r') {
                    State::AfterCr
                } else {
                    State::InLine
                };
                Step::content(end, start..end)
            }
        }
    }

    /// The piece ends at `line_end`, just after a CR LF, because a "." or the end of input
    /// follows. Consumes the terminator too if it is there.
    fn crlf_line_start(&mut self, input: &[u8], start: usize, line_end: usize) -> Step {
        self.previous_line_bare_lf = false;
        // RFC 5321 §4.1.1.4: "<CRLF>.<CRLF>", the first CR LF ending the last line.
        if input.get(line_end..line_end + 3) == Some(b".\r\n".as_slice()) {
            self.state = State::Finished;
            let mut step = Step::content(line_end + 3, start..line_end);
            step.end_of_data = true;
            return step;
        }
        self.state = State::LineStart;
        Step::content(line_end, start..line_end)
    }

    /// Normalize mode: a bare LF at `at` ends the line (which began at `line_begin`) and is
    /// emitted as CR LF. The content before it is returned first; the rewrite happens in the
    /// call that starts at the LF.
    fn bare_lf_line_end(&mut self, start: usize, at: usize, line_begin: usize) -> Step {
        if at > start {
            self.line.extend(at - line_begin, &mut self.flags);
            self.state = State::InLine;
            return Step::content(at, start..at);
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

/// Flag detection for counted BDAT content (RFC 3030 §2), which has no dot logic at all
/// ([`manual::smuggling`](crate::manual::smuggling) SMUG-7, SMG-B1/B2): the octets of every chunk are message content as they
/// are. Tracks a CR that ends one chunk and is followed by LF at the start of the next.
///
/// Lines end only at CR LF (RFC 3030 §3 requires canonical CR LF line endings for text; RFC
/// 5321 §2.3.8), so in line-length accounting a bare LF is ordinary content.
#[derive(Clone, Debug)]
pub struct ContentScanner {
    line: LineLength,
    pending_cr: bool,
    flags: ContentFlags,
    kernel: Kernel,
}

impl ContentScanner {
    /// A scanner at the start of a message. `max_line_len` is the RFC 5321 §4.5.3.1.6 text
    /// line limit (1000 octets including CR LF); `usize::MAX` disables the check.
    pub fn new(max_line_len: usize) -> Self {
        Self {
            line: LineLength::new(max_line_len),
            pending_cr: false,
            flags: ContentFlags::default(),
            kernel: Kernel::detect(),
        }
    }

    /// The same scanner running `kernel` (see [`DotDecoder::with_kernel`]).
    pub fn with_kernel(mut self, kernel: Kernel) -> Self {
        self.kernel = kernel.or_portable();
        self
    }

    /// Scans the next octets of the message (any part of any chunk, in order), in one pass
    /// of the content kernel, as [`DotDecoder::decode`] does (without dots).
    pub fn scan(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let after_cr = std::mem::take(&mut self.pending_cr);
        let outcome = kernel::scan::<(), false, false>(
            self.kernel,
            bytes,
            0,
            after_cr,
            &mut self.line,
            &mut self.flags,
            &mut (),
        );
        self.line
            .extend(bytes.len() - outcome.line_begin, &mut self.flags);
        // Whether a CR at the end is bare depends on the next chunk's first octet.
        self.pending_cr = bytes.last() == Some(&b'\r');
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
mod tests;
