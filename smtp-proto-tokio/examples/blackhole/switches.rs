//! Per-message switches: the `X-Blackhole-Mode` and `X-Blackhole-Delay` header fields.
//!
//! A streaming scanner over the message content. Only the header section counts (RFC 5322
//! §2.1: it ends at the first empty line); the seed program matched these names anywhere in
//! the body, which let any quoted message flip the mode.

use crate::policy::{Delay, Mode};

/// The longest header field (unfolded) that is looked at; longer ones are skipped.
const FIELD_CAP: usize = 4 * 1024;
/// Scanning stops after this many bytes of header section.
const HEADER_CAP: usize = 256 * 1024;

/// Scans a message's header section, chunk by chunk, for blackhole's switches.
#[derive(Debug, Default)]
pub(crate) struct HeaderSwitches {
    /// The current header field so far, unfolded, without line ends (at most [`FIELD_CAP`]).
    field: Vec<u8>,
    /// The current field outgrew [`FIELD_CAP`]: it is ignored.
    skipping: bool,
    /// Bytes of the current physical line seen so far, line end excluded.
    line_len: usize,
    /// The first byte of the current physical line (meaningful when `line_len > 0`).
    line_first: u8,
    /// Header section bytes scanned.
    scanned: usize,
    /// The header section ended (or was too long): nothing more is scanned.
    done: bool,
    /// The last valid `X-Blackhole-Mode`.
    mode: Option<Mode>,
    /// The last valid `X-Blackhole-Delay`.
    delay: Option<Delay>,
}

impl HeaderSwitches {
    /// A scanner at the start of a message.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Scans the next piece of message content (split anywhere); a no-op once the header
    /// section has ended.
    pub(crate) fn feed(&mut self, chunk: &[u8]) {
        let mut rest = chunk;
        while !self.done && !rest.is_empty() {
            let piece = &rest[..rest.len().min(HEADER_CAP - self.scanned)];
            let used = match piece.iter().position(|&b| b == b'\n') {
                Some(end) => {
                    self.push(&piece[..end]);
                    self.end_line();
                    end + 1
                }
                None => {
                    self.push(piece);
                    piece.len()
                }
            };
            self.scanned += used;
            rest = &rest[used..];
            if self.scanned >= HEADER_CAP {
                // Too long a header section: stop, keeping only what was already decided.
                self.done = true;
                self.field = Vec::new();
            }
        }
    }

    /// The last valid `X-Blackhole-Mode` in the header section so far.
    pub(crate) fn mode(&self) -> Option<Mode> {
        self.current().0
    }

    /// The last valid `X-Blackhole-Delay` in the header section so far.
    pub(crate) fn delay(&self) -> Option<Delay> {
        self.current().1
    }

    /// The switches, counting a field that is complete so far but could still be folded
    /// (for a message that ends right after it).
    fn current(&self) -> (Option<Mode>, Option<Delay>) {
        let mut switches = (self.mode, self.delay);
        if !self.done
            && self.line_len == 0
            && let Some((name, value)) = self.parsed_field()
        {
            apply(name, value, &mut switches);
        }
        switches
    }

    /// Adds bytes of the current physical line (no LF among them).
    fn push(&mut self, bytes: &[u8]) {
        let Some(&first) = bytes.first() else { return };
        if self.line_len == 0 {
            self.line_first = first;
            // A line that does not start with SP or HTAB ends the previous field (a
            // continuation line, RFC 5322 §2.2.3, extends it).
            if first != b' ' && first != b'\t' {
                self.finish_field();
            }
        }
        self.line_len += bytes.len();
        if self.skipping {
            return;
        }
        if self.field.len() + bytes.len() > FIELD_CAP {
            self.skipping = true;
            self.field = Vec::new();
        } else {
            self.field.extend_from_slice(bytes);
        }
    }

    /// Handles an LF: the end of a physical line; an empty one ends the header section.
    fn end_line(&mut self) {
        let empty = self.line_len == 0 || (self.line_len == 1 && self.line_first == b'\r');
        if empty {
            self.finish_field();
            self.done = true;
            self.field = Vec::new();
            return;
        }
        // Unfolding removes the line end (CRLF, or a bare LF) and keeps the rest.
        if !self.skipping && self.field.last() == Some(&b'\r') {
            self.field.pop();
        }
        self.line_len = 0;
    }

    /// Applies the field just completed, if it is a valid switch, and starts a new one.
    fn finish_field(&mut self) {
        if let Some((name, value)) = self.parsed_field() {
            let mut switches = (self.mode, self.delay);
            apply(name, value, &mut switches);
            (self.mode, self.delay) = switches;
        }
        self.field.clear();
        self.skipping = false;
    }

    /// The current field split into name and value, if it is whole and looks like one.
    fn parsed_field(&self) -> Option<(&str, &str)> {
        if self.skipping {
            return None;
        }
        let text = std::str::from_utf8(&self.field).ok()?;
        let (name, value) = text.split_once(':')?;
        Some((name.trim(), value.trim()))
    }
}

/// Records the field `name: value` if it is a valid switch; anything else is ignored.
fn apply(name: &str, value: &str, switches: &mut (Option<Mode>, Option<Delay>)) {
    if name.eq_ignore_ascii_case(MODE) {
        switches.0 = value.parse().ok().or(switches.0);
    } else if name.eq_ignore_ascii_case(DELAY) {
        switches.1 = value.parse().ok().or(switches.1);
    }
}

/// The mode switch's field name (compared case-insensitively).
const MODE: &str = "X-Blackhole-Mode";
/// The delay switch's field name (compared case-insensitively).
const DELAY: &str = "X-Blackhole-Delay";

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Scans a whole message in one chunk.
    fn scan(message: &[u8]) -> (Option<Mode>, Option<Delay>) {
        scan_chunks(&[message])
    }

    /// Scans a message given as chunks.
    fn scan_chunks(chunks: &[&[u8]]) -> (Option<Mode>, Option<Delay>) {
        let mut s = HeaderSwitches::new();
        for chunk in chunks {
            s.feed(chunk);
        }
        (s.mode(), s.delay())
    }

    fn delay(text: &str) -> Option<Delay> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn no_switches() {
        assert_eq!(scan(b"Subject: hi\r\n\r\nbody\r\n"), (None, None));
        assert_eq!(scan(b""), (None, None));
    }

    #[test]
    fn both_switches() {
        let m =
            b"From: a@b\r\nX-Blackhole-Mode: bounce\r\nX-Blackhole-Delay: 100-200\r\n\r\nhi\r\n";
        assert_eq!(scan(m), (Some(Mode::Bounce), delay("100-200")));
    }

    #[test]
    fn body_switches_are_ignored() {
        let m = b"Subject: quoted\r\n\r\nX-Blackhole-Mode: bounce\r\nX-Blackhole-Delay: 5\r\n";
        assert_eq!(scan(m), (None, None));
        // Bare LF line ends too.
        let m = b"Subject: quoted\n\nX-Blackhole-Mode: bounce\n";
        assert_eq!(scan(m), (None, None));
        // A switch in the header still counts, the body one does not override it.
        let m = b"X-Blackhole-Mode: random\r\n\r\nX-Blackhole-Mode: bounce\r\n";
        assert_eq!(scan(m), (Some(Mode::Random), None));
    }

    #[test]
    fn names_are_case_insensitive() {
        let m = b"x-blackhole-mode: Bounce\r\nX-BLACKHOLE-DELAY: 7\r\n\r\n";
        assert_eq!(scan(m), (Some(Mode::Bounce), delay("7")));
    }

    #[test]
    fn folded_values_are_unfolded_and_trimmed() {
        let m = b"X-Blackhole-Mode:\r\n   bounce  \r\nX-Blackhole-Delay: 100-\r\n\t200\r\n\r\n";
        assert_eq!(scan(m), (Some(Mode::Bounce), delay("100-200")));
        let m = b"X-Blackhole-Mode:  random\t\n\n";
        assert_eq!(scan(m), (Some(Mode::Random), None));
    }

    #[test]
    fn a_continuation_belongs_to_its_own_field() {
        // "bounce" continues the Subject, not the switch before it.
        let m = b"X-Blackhole-Mode: accept\r\nSubject: x\r\n bounce\r\n\r\n";
        assert_eq!(scan(m), (Some(Mode::Accept), None));
    }

    #[test]
    fn invalid_values_are_ignored_and_the_last_valid_wins() {
        let m = b"X-Blackhole-Mode: bounce\r\nX-Blackhole-Mode: nonsense\r\n\
                  X-Blackhole-Delay: 9-1\r\nX-Blackhole-Delay: abc\r\n\r\n";
        assert_eq!(scan(m), (Some(Mode::Bounce), None));
        let m = b"X-Blackhole-Mode: bounce\r\nX-Blackhole-Mode: random\r\n\r\n";
        assert_eq!(scan(m), (Some(Mode::Random), None));
        let m = b"X-Blackhole-Mode bounce\r\nX-Blackhole-Modes: bounce\r\n\r\n";
        assert_eq!(scan(m), (None, None));
        let m = b"X-Blackhole-Mode: \xff\xfe\r\n\r\n";
        assert_eq!(scan(m), (None, None));
    }

    #[test]
    fn a_message_may_end_right_after_a_header_line() {
        assert_eq!(
            scan(b"X-Blackhole-Mode: bounce\r\n"),
            (Some(Mode::Bounce), None)
        );
        // ... but not in the middle of one.
        assert_eq!(scan(b"X-Blackhole-Mode: bounce"), (None, None));
    }

    #[test]
    fn long_fields_are_skipped_not_buffered() {
        let mut m = b"X-Blackhole-Mode: bounce\r\nX-Long: ".to_vec();
        m.extend(std::iter::repeat_n(b'a', 10 * FIELD_CAP));
        m.extend_from_slice(b"\r\n folded\r\nX-Blackhole-Delay: 3\r\n\r\n");
        let mut s = HeaderSwitches::new();
        s.feed(&m);
        assert_eq!((s.mode(), s.delay()), (Some(Mode::Bounce), delay("3")));
        assert!(s.field.capacity() <= FIELD_CAP);
        // A switch folded past the cap is skipped.
        let mut m = b"X-Blackhole-Mode:".to_vec();
        m.extend(std::iter::repeat_n(b' ', FIELD_CAP));
        m.extend_from_slice(b"\r\n bounce\r\n\r\n");
        assert_eq!(scan(&m), (None, None));
    }

    #[test]
    fn scanning_stops_after_the_header_cap() {
        let mut m = b"X-Blackhole-Mode: bounce\r\n".to_vec();
        while m.len() < HEADER_CAP {
            m.extend_from_slice(b"X-Filler: 0123456789012345678901234567890123456789\r\n");
        }
        m.extend_from_slice(b"X-Blackhole-Delay: 5\r\n\r\n");
        let mut s = HeaderSwitches::new();
        s.feed(&m);
        assert!(s.done);
        assert_eq!((s.mode(), s.delay()), (Some(Mode::Bounce), None));

        // A switch whose line ends exactly at the cap is not counted, however it is split.
        let line = b"X-Blackhole-Delay: 5\r\n";
        let mut m = vec![b'X', b':', b' '];
        m.resize(HEADER_CAP - line.len() - 2, b'a');
        m.extend_from_slice(b"\r\n");
        m.extend_from_slice(line);
        assert_eq!(m.len(), HEADER_CAP);
        for at in (HEADER_CAP - 40)..=HEADER_CAP {
            let (a, b) = m.split_at(at);
            assert_eq!(scan_chunks(&[a, b]), (None, None), "split at {at}");
        }
        // One byte short of the cap, the same line counts.
        assert_eq!(scan(&m[1..]), (None, delay("5")));
    }

    /// Messages for the split tests: both line ends, folding, bodies, edge cases.
    fn corpus() -> Vec<Vec<u8>> {
        let mut long = b"X-Long: ".to_vec();
        long.extend(std::iter::repeat_n(b'x', FIELD_CAP + 3));
        long.extend_from_slice(b"\r\nX-Blackhole-Mode: random\r\n\r\nbody\r\n");
        vec![
            b"X-Blackhole-Mode: bounce\r\nX-Blackhole-Delay: 1-2\r\n\r\nbody\r\n".to_vec(),
            b"Subject: a\r\n\r\nX-Blackhole-Mode: bounce\r\n".to_vec(),
            b"x-blackhole-MODE:\r\n bounce\r\n\tfoo\r\nX-Blackhole-Delay:\n 30\n\nX-Blackhole-Mode: random\n"
                .to_vec(),
            b"X-Blackhole-Mode: bounce\r\nSubject: x\r\n random\r\n\r\n".to_vec(),
            b"X-Blackhole-Delay: 10\r\n".to_vec(),
            b"\r\nX-Blackhole-Mode: bounce\r\n".to_vec(),
            b"A: b\r\r\nX-Blackhole-Mode: random\r\n\r\n".to_vec(),
            long,
        ]
    }

    #[test]
    fn any_split_gives_the_same_result() {
        for message in corpus() {
            let whole = scan(&message);
            for at in 0..=message.len() {
                let (a, b) = message.split_at(at);
                assert_eq!(scan_chunks(&[a, b]), whole, "split at {at}");
            }
            let bytes: Vec<&[u8]> = message.chunks(1).collect();
            assert_eq!(scan_chunks(&bytes), whole, "byte by byte");
            let mut rng = fastrand::Rng::with_seed(0x5eed);
            for _ in 0..200 {
                let mut chunks = Vec::new();
                let mut rest = &message[..];
                while !rest.is_empty() {
                    let (a, b) = rest.split_at(rng.usize(0..=rest.len().min(40)));
                    chunks.push(a);
                    rest = b;
                }
                assert_eq!(scan_chunks(&chunks), whole, "random split {chunks:?}");
            }
        }
    }

    #[test]
    fn corpus_results_are_the_expected_ones() {
        let got: Vec<_> = corpus().iter().map(|m| scan(m)).collect();
        assert_eq!(
            got,
            vec![
                (Some(Mode::Bounce), delay("1-2")),
                (None, None),
                (None, delay("30")),
                (Some(Mode::Bounce), None),
                (None, delay("10")),
                (None, None),
                (Some(Mode::Random), None),
                (Some(Mode::Random), None),
            ]
        );
    }
}
