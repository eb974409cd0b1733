//! The messages: envelopes from the --from/--to patterns, and content generated to a size
//! (or the --body file).

use smtp_proto::client::{BodyType, Envelope};
use smtp_proto::codec::stuffing::BodyFacts;
use smtp_proto::{Mailbox, ReversePath};

use crate::cli::Settings;

/// Makes each message's envelope and content.
#[derive(Debug)]
pub(crate) struct Messages {
    from: String,
    to: String,
    recipients: usize,
    size: (usize, usize),
    file: Option<Vec<u8>>,
    /// The envelope when the patterns name neither message nor session.
    fixed: Option<Envelope>,
}

/// One message, ready to queue.
#[derive(Debug)]
pub(crate) struct Message {
    /// Sender and recipients, with SIZE and BODY declared.
    pub(crate) envelope: Envelope,
    /// The content: headers and body, CR LF line ends.
    pub(crate) content: Vec<u8>,
}

/// `pattern` with `{n}`, `{s}` and `{r}` replaced.
fn expand(pattern: &str, message: u64, session: usize, recipient: usize) -> String {
    pattern
        .replace("{n}", &message.to_string())
        .replace("{s}", &session.to_string())
        .replace("{r}", &recipient.to_string())
}

/// A mailbox, with the parser's reason when it is not one.
fn mailbox(text: &str) -> Result<Mailbox, String> {
    let bare = text.trim_start_matches('<').trim_end_matches('>');
    bare.parse()
        .map_err(|e| format!("{text:?} is not an address: {e}"))
}

impl Messages {
    /// The messages `settings` describe; fails on a pattern that makes no address.
    pub(crate) fn new(settings: &Settings) -> Result<Self, String> {
        let mut messages = Self {
            from: settings.from.clone(),
            to: settings.to.clone(),
            recipients: settings.recipients,
            size: settings.size,
            file: settings.body.clone(),
            fixed: None,
        };
        // Checks the patterns once, whatever they name.
        let sample = messages.envelope(0, 0)?;
        let varies = |p: &str| p.contains("{n}") || p.contains("{s}");
        if !varies(&settings.from) && !varies(&settings.to) {
            messages.fixed = Some(sample);
        }
        Ok(messages)
    }

    /// The envelope of message `n` of session `session`.
    fn envelope(&self, n: u64, session: usize) -> Result<Envelope, String> {
        if let Some(fixed) = &self.fixed {
            return Ok(fixed.clone());
        }
        let from = expand(&self.from, n, session, 0);
        let from = if matches!(from.as_str(), "" | "<>") {
            ReversePath::Null
        } else {
            ReversePath::Mailbox(mailbox(&from)?)
        };
        let mut envelope = Envelope::new(from);
        for r in 0..self.recipients {
            envelope = envelope.to(mailbox(&expand(&self.to, n, session, r))?);
        }
        Ok(envelope)
    }

    /// Message `n` for session `session`, its size drawn from `rng`.
    pub(crate) fn make(
        &self,
        n: u64,
        session: usize,
        rng: &mut fastrand::Rng,
    ) -> Result<Message, String> {
        let envelope = self.envelope(n, session)?;
        let content = match &self.file {
            Some(file) => file.clone(),
            None => generate(&envelope, n, rng.usize(self.size.0..=self.size.1)),
        };
        let facts = BodyFacts::scan(&content);
        let envelope = envelope.size(facts.size).body_type(BodyType::of(&facts));
        Ok(Message { envelope, content })
    }
}

/// A 7-bit message of about `size` octets (one more when a line cannot be shorter):
/// a few header fields, then lines of text.
fn generate(envelope: &Envelope, n: u64, size: usize) -> Vec<u8> {
    let to = envelope
        .recipients()
        .first()
        .map_or_else(String::new, |(r, _)| r.to_string());
    let mut out = format!(
        "From: {}\r\nTo: {to}\r\nSubject: smtp-load message {n}\r\n\
         Message-ID: <{n}.{}@smtp-load.invalid>\r\n\r\n",
        envelope.from(),
        std::process::id()
    )
    .into_bytes();
    const LINE: &[u8] =
        b"The quick brown fox jumps over the lazy dog; 0123456789 abcdefghijklmnopqrstuvw";
    while out.len() < size {
        let room = (size - out.len()).min(LINE.len() + 2);
        let text = room.saturating_sub(2).max(1);
        out.extend_from_slice(&LINE[..text]);
        out.extend_from_slice(b"\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Settings from the defaults and `extra` flags.
    fn settings(extra: &[&str]) -> Settings {
        let args = ["smtp-load", "--server", "127.0.0.1:25"];
        crate::cli::try_parse_from(args.iter().chain(extra)).expect("parses")
    }

    #[test]
    fn sizes_are_met() {
        let messages = Messages::new(&settings(&["--size", "1000"])).expect("valid");
        let mut rng = fastrand::Rng::with_seed(1);
        for n in [0, 7, 123_456] {
            let m = messages.make(n, 3, &mut rng).expect("a message");
            assert!(
                (1000..=1001).contains(&m.content.len()),
                "{}",
                m.content.len()
            );
            assert!(m.content.ends_with(b"\r\n"));
            assert!(m.content.iter().all(|&b| b < 128));
        }
        let ranged = Messages::new(&settings(&["--size", "200-300"])).expect("valid");
        for n in 0..50 {
            let len = ranged
                .make(n, 0, &mut rng)
                .expect("a message")
                .content
                .len();
            assert!((200..=301).contains(&len), "{len}");
        }
    }

    #[test]
    fn patterns_expand() {
        let messages = Messages::new(&settings(&[
            "--from",
            "s{s}@x.example",
            "--to",
            "m{n}r{r}@y.example",
            "--recipients",
            "2",
        ]))
        .expect("valid");
        let mut rng = fastrand::Rng::with_seed(1);
        let m = messages.make(5, 2, &mut rng).expect("a message");
        assert_eq!(m.envelope.from().to_string(), "<s2@x.example>");
        let to: Vec<String> = m
            .envelope
            .recipients()
            .iter()
            .map(|(r, _)| r.to_string())
            .collect();
        assert_eq!(to, ["<m5r0@y.example>", "<m5r1@y.example>"]);
        assert!(Messages::new(&settings(&["--from", "not an address"])).is_err());
    }
}
