//! The input buffer and its framing: CR LF-terminated lines (RFC 5321 §2.3.8) for the
//! command and SASL phases, raw octets for the content phases.
//!
//! [`LineReader`] owns every received octet not yet consumed and the state of the line
//! framing (how far a partial line was searched; whether the tail of an over-long line is
//! being discarded). It only reports what it found; the server picks the reply. Nothing
//! else touches the buffer: the content phases and STARTTLS's discard go through its
//! methods too.

use bytes::{Bytes, BytesMut};

use crate::codec::command::{self, Verb};
use crate::codec::data::{DotDecoder, LineEndingPolicy, Piece};
use crate::config::ServerConfig;

/// Line-length limits of the current session (RFC 5321 §4.5.3.1.4 plus extensions).
#[derive(Clone, Copy, Debug, Default)]
struct LineLimits {
    command: usize,
    mail: usize,
    rcpt: usize,
    auth: usize,
}

impl LineLimits {
    /// The limits of a session with or without TLS (the MAIL limit depends on it).
    fn new(config: &ServerConfig, tls: bool) -> Self {
        Self {
            command: config.limits.command_line,
            mail: config.mail_line_limit(tls),
            rcpt: config.rcpt_line_limit(),
            auth: config.limits.auth_line,
        }
    }

    /// The limit for a command line starting with `line` (complete or not).
    fn for_line(self, line: &[u8]) -> usize {
        match command::peek_verb(line) {
            Some(Verb::Mail) => self.mail,
            Some(Verb::Rcpt) => self.rcpt,
            Some(Verb::Auth) => self.auth,
            _ => self.command,
        }
    }
}

/// One line taken from the input, or why there is none.
#[derive(Debug)]
pub(super) enum Line {
    /// A whole line, without its line end.
    Complete(BytesMut),
    /// No line end yet (or the tail of an over-long line is still being discarded).
    Incomplete,
    /// The line passed its limit: the reader discards it up to its end, so its tail never
    /// runs as a command.
    TooLong,
    /// The line ends in a bare LF under [`LineEndingPolicy::Strict`]; nothing was consumed.
    BareLf,
}

/// What the content phases took out of the input in one step (see
/// [`LineReader::decode_content`]).
pub(super) struct Content {
    /// Content octets, unstuffed.
    pub(super) bytes: Bytes,
    /// A rewrite of the `Normalize` policy, to follow `bytes`.
    pub(super) rewrite: Option<&'static [u8]>,
    /// The end-of-data sequence was consumed.
    pub(super) ended: bool,
}

/// The received octets not yet consumed, and the line framing over them.
#[derive(Debug)]
pub(super) struct LineReader {
    /// Received bytes not yet consumed.
    buffer: BytesMut,
    /// How much of `buffer` was already searched for a line end (O(n) framing of
    /// byte-at-a-time input, as h11's receive buffer does).
    scanned: usize,
    /// Discarding the rest of an over-long line; the flag says whether the last discarded
    /// octet was a CR (its LF may be the first octet of the next read).
    discarding: Option<bool>,
    /// A bare LF is never a line end (it is reported as [`Line::BareLf`]).
    strict: bool,
    /// Line-length limits in force (they depend on TLS).
    limits: LineLimits,
    /// More than [`BULK_INPUT`] octets were buffered since the last
    /// [`release_spare`](Self::release_spare): the allocation may be large.
    bulk: bool,
    /// Room for the content pieces of one [`decode_content`](Self::decode_content).
    pieces: Vec<Piece>,
}

/// Buffered input above which the reader's allocation is given back once consumed (see
/// [`LineReader::release_spare`]).
const BULK_INPUT: usize = 4 * 1024;

/// Content pieces whose room [`LineReader::decode_content`] keeps between reads (24 octets
/// each): a read with more stuffed lines than that allocates for itself.
const PIECES_KEPT: usize = 32;

impl LineReader {
    /// An empty reader for a session without TLS.
    pub(super) fn new(config: &ServerConfig) -> Self {
        Self {
            buffer: BytesMut::new(),
            scanned: 0,
            discarding: None,
            strict: config.line_endings == LineEndingPolicy::Strict,
            limits: LineLimits::new(config, false),
            bulk: false,
            pieces: Vec::new(),
        }
    }

    /// TLS is now active: the MAIL line limit may change.
    pub(super) fn tls_established(&mut self, config: &ServerConfig) {
        self.limits = LineLimits::new(config, true);
    }

    /// Appends received octets.
    #[inline]
    pub(super) fn extend(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
        self.bulk |= self.buffer.len() > BULK_INPUT;
    }

    /// Called when the input is consumed as far as it can be: after bulk input (a burst
    /// of content), what is left moves to a fresh, small allocation, so a session whose
    /// peer then goes quiet does not hold the burst's buffer through its timeout.
    pub(super) fn release_spare(&mut self) {
        if self.bulk && self.buffer.len() <= BULK_INPUT {
            self.buffer = if self.buffer.is_empty() {
                BytesMut::new()
            } else {
                BytesMut::from(&self.buffer[..])
            };
            self.bulk = false;
        }
    }

    /// Octets received and not yet consumed.
    #[inline]
    pub(super) fn len(&self) -> usize {
        self.buffer.len()
    }

    /// Whether no octet is waiting.
    #[inline]
    pub(super) fn is_empty(&self) -> bool {
        self.buffer.is_empty()
    }

    /// Drops everything buffered (STARTTLS, session end) and returns how many octets that
    /// was.
    pub(super) fn discard_all(&mut self) -> usize {
        let discarded = self.buffer.len();
        self.buffer.clear();
        self.scanned = 0;
        discarded
    }

    /// The next command line; the limit depends on its verb.
    #[inline]
    pub(super) fn next_command(&mut self) -> Line {
        let limits = self.limits;
        self.next_line(|l| limits.for_line(l))
    }

    /// The next line of a SASL exchange: any of them may be as long as an AUTH line
    /// (RFC 4954 §4).
    #[inline]
    pub(super) fn next_sasl(&mut self) -> Line {
        let limit = self.limits.auth;
        self.next_line(|_| limit)
    }

    /// Takes the next CR LF-terminated line (RFC 5321 §2.3.8) of at most `limit` octets
    /// including CR LF. An over-long line is reported as soon as it passes the limit and
    /// discarded up to its end by the following calls.
    #[inline]
    fn next_line(&mut self, limit: impl Fn(&[u8]) -> usize) -> Line {
        if let Some(prev_cr) = self.discarding
            && !self.discard_line(prev_cr)
        {
            return Line::Incomplete;
        }
        let Some(offset) = memchr::memchr(b'\n', &self.buffer[self.scanned..]) else {
            self.scanned = self.buffer.len();
            if self.buffer.len() > limit(&self.buffer) {
                self.discarding = Some(false);
                return Line::TooLong;
            }
            return Line::Incomplete;
        };
        let lf = self.scanned + offset;
        self.scanned = 0;
        if lf > limit(&self.buffer[..lf]) {
            // Too long before its end arrived: reported exactly as when the end comes in a
            // later read (split invariance), so a bare LF out there is just discarded.
            self.discarding = Some(false);
            return Line::TooLong;
        }
        let bare_lf = lf == 0 || self.buffer[lf - 1] != b'\r';
        if bare_lf && self.strict {
            return Line::BareLf;
        }
        let mut line = self.buffer.split_to(lf + 1);
        if line.len() > limit(&line) {
            return Line::TooLong;
        }
        line.truncate(if bare_lf { lf } else { lf - 1 });
        Line::Complete(line)
    }

    /// Drops input up to and including the end of the line being discarded; true when
    /// that end was found.
    fn discard_line(&mut self, prev_cr: bool) -> bool {
        let mut from = 0;
        while let Some(offset) = memchr::memchr(b'\n', &self.buffer[from..]) {
            let lf = from + offset;
            let after_cr = if lf == 0 {
                prev_cr
            } else {
                self.buffer[lf - 1] == b'\r'
            };
            if after_cr || !self.strict {
                let _ = self.buffer.split_to(lf + 1);
                self.discarding = None;
                self.scanned = 0;
                return true;
            }
            from = lf + 1;
        }
        let ends_with_cr = self.buffer.last() == Some(&b'\r');
        let had_input = !self.buffer.is_empty();
        self.buffer.clear();
        self.scanned = 0;
        self.discarding = Some(if had_input { ends_with_cr } else { prev_cr });
        false
    }

    /// Decodes everything buffered through `decoder` (DATA content) in one kernel pass
    /// ([`DotDecoder::decode_pieces`]), unstuffing in place: each content piece is moved down
    /// to the end of the content before it, so one step carries what many stuffed lines
    /// would otherwise split into many (a move is cheaper than an event). Stops after the
    /// end-of-data sequence or a rewrite (which `decode_pieces` returns last).
    #[inline]
    pub(super) fn decode_content(&mut self, decoder: &mut DotDecoder) -> Content {
        let input = &mut self.buffer;
        self.pieces.clear();
        let progress = decoder.decode_pieces(input, &mut self.pieces);
        let mut write = 0;
        let mut rewrite = None;
        for piece in &self.pieces {
            match piece {
                Piece::Input(range) => {
                    if range.start != write {
                        input.copy_within(range.clone(), write);
                    }
                    write += range.len();
                }
                // Normalize mode's rewrites may be longer than what they replace; they
                // end this step's content.
                Piece::Static(bytes) => rewrite = Some(*bytes),
            }
        }
        if self.pieces.capacity() > PIECES_KEPT {
            self.pieces = Vec::new();
        }
        let mut consumed = input.split_to(progress.consumed);
        consumed.truncate(write);
        self.scanned = 0;
        Content {
            bytes: consumed.freeze(),
            rewrite,
            ended: progress.end_of_data,
        }
    }

    /// Takes up to `max` octets as they are (BDAT chunk content).
    #[inline]
    pub(super) fn take(&mut self, max: u64) -> Bytes {
        let n = usize::try_from(max).map_or(self.buffer.len(), |m| m.min(self.buffer.len()));
        self.scanned = 0;
        self.buffer.split_to(n).freeze()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A burst of content followed by a quiet peer: the burst's allocation goes back
    /// (issue 15: stalled sessions held their largest buffer through the timeout).
    #[test]
    fn a_consumed_burst_gives_its_buffer_back() {
        let mut reader = LineReader::new(&ServerConfig::new("mx.test".to_owned()));
        reader.extend(&[b'x'; 64 * 1024]);
        let chunk = reader.take(64 * 1024 - 6);
        drop(chunk);
        reader.release_spare();
        assert_eq!(reader.len(), 6);
        assert!(
            reader.buffer.capacity() < 1024,
            "{}",
            reader.buffer.capacity()
        );
        assert!(!reader.bulk);
        // Consumed entirely: nothing is kept at all.
        reader.extend(&[b'y'; 32 * 1024]);
        let _ = reader.take(u64::MAX);
        reader.release_spare();
        assert_eq!(reader.buffer.capacity(), 0);
        // Small input is left alone (no copy per command).
        reader.extend(b"NOOP");
        reader.release_spare();
        assert_eq!(&reader.buffer[..], b"NOOP");
    }
}
