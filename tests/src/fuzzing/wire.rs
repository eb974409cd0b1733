//! Oracles on the bytes a session writes: SMTP replies (RFC 5321 §4.2) and TLS records
//! (RFC 8446 §5.1).

/// Checks reply batches as `poll_transmit` hands them out: whole lines `ddd[ -]text CR LF`
/// with a code 200..=599, text of HT and printable ASCII only, every line of a multiline
/// reply with the same code, every batch ending with a complete reply, and (for server
/// replies) an enhanced status code (RFC 3463) of the reply's own class.
#[derive(Debug, Default)]
pub(super) struct Replies {
    /// The code of the multiline reply in progress.
    open: Option<[u8; 3]>,
    /// Complete replies seen (their last lines).
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
        for line in batch.split_inclusive(|&b| b == b'\n') {
            let Some(line) = line.strip_suffix(b"\r\n") else {
                panic!(
                    "reply line without CR LF: {:?}",
                    line.escape_ascii().to_string()
                );
            };
            self.line(line);
        }
        assert!(
            self.open.is_none(),
            "a batch ends inside a multiline reply: {:?}",
            batch.escape_ascii().to_string()
        );
    }

    fn line(&mut self, line: &[u8]) {
        let shown = || line.escape_ascii().to_string();
        let [a, b, c, sep, text @ ..] = line else {
            panic!("reply line too short: {:?}", shown());
        };
        let code = [*a, *b, *c];
        assert!(
            (b'2'..=b'5').contains(a) && b.is_ascii_digit() && c.is_ascii_digit(),
            "bad reply code: {:?}",
            shown()
        );
        assert!(matches!(sep, b' ' | b'-'), "bad separator: {:?}", shown());
        assert!(
            text.iter()
                .all(|&t| t == b'\t' || (0x20..0x7f).contains(&t)),
            "control or non-ASCII octet in reply text: {:?}",
            shown()
        );
        if let Some(open) = self.open {
            assert_eq!(
                open,
                code,
                "code changes inside a multiline reply: {:?}",
                shown()
            );
        }
        if let Some(class) = enhanced_class(text).filter(|_| !self.free_text) {
            assert_eq!(class, *a, "enhanced code of another class: {:?}", shown());
        }
        if *sep == b'-' {
            self.open = Some(code);
        } else {
            self.open = None;
            self.count += 1;
        }
    }
}

/// The class digit of an RFC 3463 enhanced code at the start of `text`, if there is one.
fn enhanced_class(text: &[u8]) -> Option<u8> {
    let word = text.split(|&b| b == b' ').next()?;
    let mut parts = word.split(|&b| b == b'.');
    let (class, subject, detail) = (parts.next()?, parts.next()?, parts.next()?);
    let number = |p: &[u8]| (1..=3).contains(&p.len()) && p.iter().all(u8::is_ascii_digit);
    let shaped = parts.next().is_none() && class.len() == 1 && number(subject) && number(detail);
    (shaped && number(class)).then(|| class[0])
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
