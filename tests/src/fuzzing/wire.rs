//! Oracles on the bytes a session writes: SMTP replies (RFC 5321 §4.2) and TLS records
//! (RFC 8446 §5.1).

use smtp_proto::codec::reply::{ParsedReply, ReplyLimits, ReplyParser};

/// Checks reply batches as `poll_transmit` hands them out, read by the codec's
/// [`ReplyParser`] (which holds a reply to a code 200..=599, `-` on every line but the last,
/// and one code on every line), plus what a server owes beyond what a client must accept:
/// whole lines `ddd[ -]text CR LF` (no bare LF, no separator left out), text of HT and
/// printable ASCII only, every batch ending with a complete reply, and (for server
/// replies) an enhanced status code (RFC 3463) of the reply's own class.
#[derive(Debug, Default)]
pub(super) struct Replies {
    /// Complete replies seen.
    pub(super) count: usize,
    /// The text is arbitrary (an application's): what looks like an enhanced code at its
    /// start may be plain text.
    free_text: bool,
}

impl Replies {
    /// A checker for replies whose text the caller chose freely.
    pub(super) fn free_text() -> Self {
        Self {
            free_text: true,
            ..Self::default()
        }
    }

    /// Checks one batch (possibly empty).
    pub(super) fn batch(&mut self, batch: &[u8]) {
        let shown = || batch.escape_ascii().to_string();
        // No bounds: an application's reply text may be long; `reply` checks the octets.
        let mut limits = ReplyLimits::default();
        limits.line_text = usize::MAX;
        limits.lines = usize::MAX;
        limits.octets = usize::MAX;
        let mut parser = ReplyParser::with_limits(limits);
        parser.feed(batch);
        loop {
            let before = parser.buffered();
            let reply = match parser.next_reply() {
                Ok(Some(reply)) => reply,
                Ok(None) => break,
                Err(e) => panic!("malformed reply ({e}): {:?}", shown()),
            };
            self.reply(&reply, before - parser.buffered());
        }
        assert_eq!(
            parser.buffered(),
            0,
            "a batch ends inside a reply: {:?}",
            shown()
        );
    }

    /// Checks one reply that took `octets` octets of the batch.
    fn reply(&mut self, reply: &ParsedReply, octets: usize) {
        let shown = || {
            let lines: Vec<String> = reply
                .lines()
                .iter()
                .map(|l| format!("{:03}?{}", reply.code(), l.raw_text().escape_ascii()))
                .collect();
            lines.join(" / ")
        };
        assert!(
            !reply.bare_lf_seen(),
            "reply line without CR LF: {:?}",
            shown()
        );
        assert!(
            !reply.is_truncated(),
            "the parser cut a line: {:?}",
            shown()
        );
        // `ddd`, the separator, the text, CR LF: a line that ends right after its code
        // (which a client must accept) is one octet short.
        let written: usize = reply.lines().iter().map(|l| l.raw_text().len() + 6).sum();
        assert_eq!(octets, written, "reply line too short: {:?}", shown());
        for line in reply.lines() {
            let text = line.raw_text();
            assert!(
                text.iter()
                    .all(|&t| t == b'\t' || (0x20..0x7f).contains(&t)),
                "control or non-ASCII octet in reply text: {:?}",
                shown()
            );
            if enhanced_shaped(text) && !self.free_text {
                // The parser takes an enhanced code only of the reply's own class.
                assert!(
                    line.enhanced().is_some(),
                    "enhanced code of another class: {:?}",
                    shown()
                );
            }
        }
        self.count += 1;
    }
}

/// Whether `text` starts with something shaped like an RFC 3463 enhanced code of any class
/// (`d.ddd.ddd`, then SP or the end), for telling a code of the wrong class from plain text.
fn enhanced_shaped(text: &[u8]) -> bool {
    let word = text.split(|&b| b == b' ').next().unwrap_or_default();
    let mut parts = word.split(|&b| b == b'.');
    let (Some(class), Some(subject), Some(detail), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let number = |p: &[u8]| (1..=3).contains(&p.len()) && p.iter().all(u8::is_ascii_digit);
    class.len() == 1 && number(class) && number(subject) && number(detail)
}

/// Checks that `bytes` is a sequence of whole TLS records: content type 20 to 23
/// (change_cipher_spec, alert, handshake, application_data), legacy version 3.1 to 3.4,
/// and a length within RFC 8446 §5.2 / RFC 5246 §6.2.3 limits. A plaintext SMTP reply
/// starts with a digit (0x32 to 0x35), so it never passes.
pub(super) fn tls_records(bytes: &[u8]) {
    let mut rest = bytes;
    while !rest.is_empty() {
        let shown = || {
            let head = &rest[..rest.len().min(40)];
            head.escape_ascii().to_string()
        };
        let [kind, major, minor, hi, lo, body @ ..] = rest else {
            panic!("truncated TLS record header: {:?}", shown());
        };
        assert!((20..=23).contains(kind), "not a TLS record: {:?}", shown());
        assert!(
            *major == 3 && (1..=4).contains(minor),
            "bad record version: {:?}",
            shown()
        );
        let len = usize::from(u16::from_be_bytes([*hi, *lo]));
        assert!(len <= 16_384 + 2_048, "record too long: {len}");
        assert!(
            body.len() >= len,
            "record cut short: {} of {len}",
            body.len()
        );
        rest = &body[len..];
    }
}

#[cfg(test)]
mod tests {
    use super::Replies;

    /// Whether checking `batch` (as a server's, or as free text) panics.
    fn refused(batch: &[u8], free_text: bool) -> bool {
        std::panic::catch_unwind(|| {
            let mut replies = if free_text {
                Replies::free_text()
            } else {
                Replies::default()
            };
            replies.batch(batch);
        })
        .is_err()
    }

    #[test]
    fn replies_oracle() {
        let mut replies = Replies::default();
        replies.batch(b"220 mx.example ESMTP\r\n250-mx.example\r\n250-SIZE 10\r\n250 DSN\r\n");
        replies.batch(b"");
        replies.batch(b"354 End data\r\n250 2.0.0 Ok\r\n550 5.1.1 No\r\n");
        assert_eq!(replies.count, 5);
        assert!(!refused(b"250 5.0.0 text\r\n", true));
        for bad in [
            &b"250 ok\n"[..],
            b"250 ok\r\r\n",
            b"250\r\n",
            b"250-a\r\n",
            b"250 ok",
            b"250-a\r\n251 b\r\n",
            b"199 no\r\n",
            b"25x no\r\n",
            b"250x\r\n",
            b"250 a\x01b\r\n",
            b"250 caf\xc3\xa9\r\n",
            b"250 5.0.0 class\r\n",
            b"354 3.0.0 class\r\n",
        ] {
            assert!(refused(bad, false), "{:?}", bad.escape_ascii().to_string());
        }
    }
}
