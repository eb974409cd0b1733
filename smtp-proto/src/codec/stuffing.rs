//! Outgoing message content, as a client writes it: line endings normalised to CR LF,
//! dot-stuffing for DATA (RFC 5321 §4.5.2), nothing for BDAT (RFC 3030), and the facts a
//! client must know before it may send a body (its size, 8-bit octets, NUL, long lines).
//!
//! The encoder is streaming: it keeps one state between calls ("at a line start", "a CR
//! is held"), so how the body is cut into pieces never changes the output (BODY-03), and a
//! body of any size passes through a buffer of one piece.
//!
//! ```
//! use smtp_proto::codec::stuffing::{BodyEncoder, Framing};
//!
//! let mut encoder = BodyEncoder::new(Framing::Data);
//! let mut wire = Vec::new();
//! encoder.encode(b"a\n.b", &mut wire);   // a bare LF, and a dot at a line start…
//! encoder.encode(b"\r\n.", &mut wire);   // …and another one across a piece boundary
//! encoder.finish(&mut wire);
//! assert_eq!(wire, b"a\r\n..b\r\n..\r\n.\r\n");
//! ```

/// How the content is framed on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// After `DATA`: line endings normalised, a dot at a line start doubled, and
    /// `CR LF . CR LF` at the end.
    Data,
    /// In `BDAT` chunks: line endings normalised, no stuffing, no terminator (RFC 3030
    /// §3: text sent with BDAT still has CR LF line ends).
    Bdat,
    /// `BODY=BINARYMIME` over `BDAT`: the octets as given.
    Binary,
}

/// What the encoder saw in the content so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BodyFacts {
    /// Octets of content after line-ending normalisation, including the final CR LF the
    /// encoder adds, without stuffing dots or the terminator: the value of `SIZE=`
    /// (RFC 1870 §3).
    pub size: u64,
    /// An octet above 127 occurred (needs `8BITMIME` or `BINARYMIME`).
    pub eight_bit: bool,
    /// A NUL occurred (only `BINARYMIME` carries it).
    pub nul: bool,
    /// The longest line, in octets without its CR LF (RFC 5321 §4.5.3.1.6 allows 998).
    pub longest_line: u64,
}

impl BodyFacts {
    /// Scans a whole body held in memory: what [`BodyEncoder`] would report after
    /// encoding it as text (DATA or BDAT; the two have the same size).
    ///
    /// ```
    /// use smtp_proto::codec::stuffing::BodyFacts;
    /// let facts = BodyFacts::scan(b"Subject: \xc3\xa9\n\nbody");
    /// assert_eq!(facts.size, 21); // two LFs became CR LF, and a final CR LF was added
    /// assert!(facts.eight_bit);
    /// ```
    pub fn scan(body: &[u8]) -> Self {
        let mut encoder = BodyEncoder::new(Framing::Bdat);
        let mut scratch = Vec::new();
        for piece in body.chunks(16 * 1024) {
            scratch.clear();
            encoder.encode(piece, &mut scratch);
        }
        scratch.clear();
        encoder.finish(&mut scratch);
        encoder.facts()
    }
}

/// The streaming content encoder; see the [module documentation](self).
#[derive(Clone, Debug)]
pub struct BodyEncoder {
    framing: Framing,
    /// The next octet starts a line.
    line_start: bool,
    /// A CR was the last octet of the previous piece: an LF may follow.
    held_cr: bool,
    /// Octets of the current line so far.
    line: u64,
    facts: BodyFacts,
}

impl BodyEncoder {
    /// An encoder at the start of a body.
    pub fn new(framing: Framing) -> Self {
        Self {
            framing,
            line_start: true,
            held_cr: false,
            line: 0,
            facts: BodyFacts::default(),
        }
    }

    /// The framing this encoder writes.
    pub fn framing(&self) -> Framing {
        self.framing
    }

    /// What the content held so far.
    pub fn facts(&self) -> BodyFacts {
        self.facts
    }

    /// Appends the wire form of `input` to `out`. A bare CR or a bare LF becomes CR LF
    /// (BODY-04, BODY-05: the client never writes either, so it can never be the first
    /// hop of an SMTP smuggling chain); under [`Framing::Data`] a dot at a line start is
    /// doubled (BODY-01).
    pub fn encode(&mut self, input: &[u8], out: &mut Vec<u8>) {
        if input.is_empty() {
            // A held CR stays held: its LF may still come.
            return;
        }
        if self.framing == Framing::Binary {
            self.count_binary(input);
            out.extend_from_slice(input);
            return;
        }
        out.reserve(input.len() + input.len() / 64 + 4);
        let mut rest = input;
        if self.held_cr {
            self.held_cr = false;
            // The CR of the last piece ends a line, with or without this LF.
            self.end_line(out);
            if rest.first() == Some(&b'\n') {
                rest = &rest[1..];
            }
        }
        while !rest.is_empty() {
            if self.line_start {
                self.line_start = false;
                if self.framing == Framing::Data && rest[0] == b'.' {
                    out.push(b'.');
                }
            }
            let Some(end) = memchr::memchr2(b'\r', b'\n', rest) else {
                self.content(rest, out);
                return;
            };
            self.content(&rest[..end], out);
            if rest[end] == b'\n' {
                self.end_line(out);
                rest = &rest[end + 1..];
            } else if let Some(&next) = rest.get(end + 1) {
                self.end_line(out);
                rest = &rest[end + 1 + usize::from(next == b'\n')..];
            } else {
                self.held_cr = true;
                return;
            }
        }
    }

    /// Ends the content: a last line without a line end gets CR LF (BODY-06), and under
    /// [`Framing::Data`] the terminator `.` CR LF follows. An empty body is just the
    /// terminator (BODY-07).
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.framing != Framing::Binary && (self.held_cr || !self.line_start) {
            self.held_cr = false;
            self.end_line(out);
        }
        if self.framing == Framing::Data {
            out.extend_from_slice(b".\r\n");
        }
    }

    /// Octets inside a line (no CR, no LF).
    fn content(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        if bytes.is_empty() {
            return;
        }
        out.extend_from_slice(bytes);
        let n = bytes.len() as u64;
        self.line += n;
        self.facts.size += n;
        self.facts.longest_line = self.facts.longest_line.max(self.line);
        if !bytes.is_ascii() {
            self.facts.eight_bit = true;
        }
        if memchr::memchr(0, bytes).is_some() {
            self.facts.nul = true;
        }
    }

    /// Writes CR LF and starts a new line.
    fn end_line(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"\r\n");
        self.facts.size += 2;
        self.line = 0;
        self.line_start = true;
    }

    /// Facts of binary content: the size, and 8-bit and NUL octets (lines do not matter).
    fn count_binary(&mut self, bytes: &[u8]) {
        self.facts.size += bytes.len() as u64;
        if !bytes.is_ascii() {
            self.facts.eight_bit = true;
        }
        if memchr::memchr(0, bytes).is_some() {
            self.facts.nul = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(framing: Framing, pieces: &[&[u8]]) -> Vec<u8> {
        let mut encoder = BodyEncoder::new(framing);
        let mut out = Vec::new();
        for piece in pieces {
            encoder.encode(piece, &mut out);
        }
        encoder.finish(&mut out);
        out
    }

    /// BODY-01, BODY-02, BODY-04..07.
    #[test]
    fn data_rows() {
        let rows: &[(&[u8], &[u8])] = &[
            (b"a\r\n.b\r\n", b"a\r\n..b\r\n.\r\n"),
            (b".\r\n", b"..\r\n.\r\n"),
            (b"a\nb\n", b"a\r\nb\r\n.\r\n"),
            (b"a\rb\r\n", b"a\r\nb\r\n.\r\n"),
            (b"a", b"a\r\n.\r\n"),
            (b"", b".\r\n"),
            (b"a\r", b"a\r\n.\r\n"),
            (b"a\r\r\n", b"a\r\n\r\n.\r\n"),
            (b"\r\n.\r\n", b"\r\n..\r\n.\r\n"),
        ];
        for (body, wire) in rows {
            assert_eq!(encode(Framing::Data, &[body]), *wire, "{body:?}");
        }
    }

    /// BODY-03: the state survives piece boundaries, including a CR LF cut in two.
    #[test]
    fn split_invariant() {
        let body: &[u8] = b"x\r\n.a\n.\r..\r\n\r\n.\rz\r";
        let whole = encode(Framing::Data, &[body]);
        for cut in 0..=body.len() {
            for cut2 in cut..=body.len() {
                let pieces = [&body[..cut], &body[cut..cut2], &body[cut2..]];
                assert_eq!(encode(Framing::Data, &pieces), whole, "cuts {cut} {cut2}");
            }
        }
    }

    /// BDAT-01, BDAT-06: no stuffing, line ends still normalised; binary as is.
    #[test]
    fn bdat_and_binary() {
        assert_eq!(encode(Framing::Bdat, &[b"ab\r\n.\r\n"]), b"ab\r\n.\r\n");
        assert_eq!(encode(Framing::Bdat, &[b"a\nb"]), b"a\r\nb\r\n");
        assert_eq!(encode(Framing::Binary, &[b"a\nb\0"]), b"a\nb\0");
    }

    #[test]
    fn facts() {
        let facts = BodyFacts::scan(b"abc\n\x80\0\ndefgh");
        assert_eq!(facts.size, 3 + 2 + 2 + 2 + 5 + 2);
        assert!(facts.eight_bit && facts.nul);
        assert_eq!(facts.longest_line, 5);
        let mut encoder = BodyEncoder::new(Framing::Data);
        let mut out = Vec::new();
        encoder.encode(b".a\r\n", &mut out);
        encoder.finish(&mut out);
        // SIZE counts content, not the stuffing dot or the terminator (SIZE-01).
        assert_eq!(encoder.facts().size, 4);
    }
}
