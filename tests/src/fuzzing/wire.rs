//! Oracles on the bytes a session writes: SMTP replies (RFC 5321 §4.2) and TLS records
//! (RFC 8446 §5.1).

use smtp_proto::codec::reply::{ParsedReply, ReplyLimits, ReplyParser};

use super::config::HOSTNAME;
use super::driver::HELLO_WORD;

/// Checks reply batches as `poll_transmit` hands them out, read by the codec's
/// [`ReplyParser`] (which holds a reply to a code 200..=599, `-` on every line but the last,
/// and one code on every line), plus what a server owes beyond what a client must accept:
/// whole lines `ddd[ -]text CR LF` (no bare LF, no separator left out), text of HT and
/// printable ASCII only, every batch ending with a complete reply, and (for server
/// replies) an enhanced status code (RFC 3463) of the reply's own class. For a server
/// whose configuration is known ([`Replies::server`]), also RFC 2034 §3: with
/// ENHANCEDSTATUSCODES on, every 2xx/4xx/5xx line carries one (except the greeting and the
/// HELO/EHLO/LHLO reply, which start with the host name, or with [`HELLO_WORD`] when the
/// harness wrote the reply) and no 3xx line does; with it off,
/// no line does.
#[derive(Debug, Default)]
pub(super) struct Replies {
    /// Complete replies seen.
    pub(super) count: usize,
    /// The text is arbitrary (an application's): what looks like an enhanced code at its
    /// start may be plain text.
    free_text: bool,
    /// The server's ENHANCEDSTATUSCODES setting, when known.
    enhanced: Option<bool>,
}

impl Replies {
    /// A checker for replies whose text the caller chose freely.
    pub(super) fn free_text() -> Self {
        Self {
            free_text: true,
            ..Self::default()
        }
    }

    /// A checker for the replies of a server built with `ServerConfig::new(HOSTNAME)` and
    /// `enhanced_status_codes` set to `enhanced`.
    pub(super) fn server(enhanced: bool) -> Self {
        Self {
            enhanced: Some(enhanced),
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
        let code = reply.code();
        // A HELO/EHLO/LHLO reply: 250 from the line that starts with the host name (or the
        // harness's own text) on.
        let hello = (code == 250)
            .then(|| {
                let mut lines = reply.lines().iter();
                lines.position(|l| {
                    let text = l.raw_text();
                    text.starts_with(HOSTNAME.as_bytes()) || text.starts_with(HELLO_WORD.as_bytes())
                })
            })
            .flatten();
        let last = reply.lines().len() - 1;
        for (i, line) in reply.lines().iter().enumerate() {
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
            let Some(on) = self.enhanced else {
                continue;
            };
            let greeting =
                i == last && matches!(code, 220 | 554) && text.starts_with(HOSTNAME.as_bytes());
            if !on || code / 100 == 3 {
                assert!(
                    !enhanced_shaped(text),
                    "enhanced code where none belongs: {:?}",
                    shown()
                );
            } else {
                assert!(
                    line.enhanced().is_some() || greeting || hello.is_some_and(|h| i >= h),
                    "reply line without enhanced code: {:?}",
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
        let mut on = Replies::server(true);
        on.batch(b"220 mx.example ESMTP\r\n250-mx.example\r\n250 DSN\r\n250 mx.example\r\n");
        on.batch(b"554 mx.example no\r\n354 go\r\n250-2.1.0 a\r\n250 2.1.0 b\r\n");
        let mut off = Replies::server(false);
        off.batch(b"220 mx.example ESMTP\r\n250 Ok\r\n550 No\r\n354 go\r\n");
        for (bad, enhanced) in [
            (&b"250 Ok\r\n"[..], true),
            (b"250-2.1.0 a\r\n250 b\r\n", true),
            (b"550 No\r\n", true),
            (b"221 mx.example Bye\r\n", true),
            (b"354 2.0.0 go\r\n", true),
            (b"250 2.0.0 Ok\r\n", false),
            (b"550 5.1.1 No\r\n", false),
        ] {
            let caught = std::panic::catch_unwind(|| Replies::server(enhanced).batch(bad));
            assert!(caught.is_err(), "{:?}", bad.escape_ascii().to_string());
        }
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
