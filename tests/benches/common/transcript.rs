//! The pipelined transcript all session benches share: EHLO, then N × [MAIL FROM
//! with BODY=8BITMIME, 2 × RCPT, DATA, a 4.2 KB dot-stuffed body, `.`], QUIT. Generated
//! once per benchmark run; every implementation gets the same bytes.

/// Messages in the full transcript.
pub(crate) const MESSAGES: usize = 20_000;

/// A generated transcript and what a correct receiver must find in it.
pub(crate) struct Transcript {
    /// The client's bytes, exactly as they go on the wire.
    pub(crate) bytes: Vec<u8>,
    /// Messages in it.
    pub(crate) messages: usize,
    /// Content octets over all messages after dot-unstuffing (the CR LF before the
    /// terminating `.` included, as RFC 5321 §4.1.1.4 counts it).
    pub(crate) content: u64,
}

/// Words for the body text: ASCII and a few 8-bit (UTF-8) ones, since the transcript
/// declares BODY=8BITMIME.
const WORDS: [&str; 16] = [
    "message",
    "relay",
    "Zürich",
    "throughput",
    "envelope",
    "pipelining",
    "café",
    "server",
    "octets",
    "recipient",
    "naïve",
    "transparency",
    "buffer",
    "stuffing",
    "köln",
    "session",
];

/// One message body as it goes on the wire, dot-stuffed, ending with CR LF but without the
/// terminating `.` line, and its size after unstuffing.
///
/// 4,177 octets (4.2 KB; the 20,000-message transcript is 85.95 MB): a
/// header section, then ~74-octet text lines; every 8th text line starts with a `.` and is
/// therefore sent stuffed as `..`. The first line never starts with `.` (Stalwart's
/// receiver misses a stuffing dot there).
pub(crate) fn body() -> (Vec<u8>, u64) {
    let mut wire = Vec::with_capacity(4400);
    let headers = "From: Sender Name <sender@example.org>\r\n\
        To: Recipient One <rcpt1@example.net>, Recipient Two <rcpt2@example.net>\r\n\
        Subject: Benchmark message for the pipelined transcript\r\n\
        Date: Mon, 01 Jan 2024 00:00:00 +0000\r\n\
        Message-ID: <bench.0001@example.org>\r\n\
        MIME-Version: 1.0\r\n\
        Content-Type: text/plain; charset=utf-8\r\n\
        Content-Transfer-Encoding: 8bit\r\n\
        \r\n";
    wire.extend_from_slice(headers.as_bytes());
    let mut stuffing_dots = 0u64;
    let mut line_no = 0usize;
    let mut word = 0usize;
    while wire.len() < 4150 {
        let mut line = String::new();
        if line_no % 8 == 7 {
            // A line that starts with "." goes on the wire as "..".
            line.push_str("..");
            stuffing_dots += 1;
        }
        while line.len() < 72 {
            line.push_str(WORDS[word % WORDS.len()]);
            line.push(' ');
            word += 7;
        }
        line.push_str("\r\n");
        wire.extend_from_slice(line.as_bytes());
        line_no += 1;
    }
    let content = wire.len() as u64 - stuffing_dots;
    (wire, content)
}

/// The transcript with `messages` messages.
pub(crate) fn transcript(messages: usize) -> Transcript {
    let (body, body_content) = body();
    let mut bytes = Vec::with_capacity(messages * (body.len() + 160) + 64);
    bytes.extend_from_slice(b"EHLO client.example.org\r\n");
    for i in 0..messages {
        let id = i % 1000;
        bytes.extend_from_slice(
            format!("MAIL FROM:<sender{id}@example.org> BODY=8BITMIME\r\n").as_bytes(),
        );
        bytes.extend_from_slice(format!("RCPT TO:<rcpt{id}@example.net>\r\n").as_bytes());
        bytes.extend_from_slice(format!("RCPT TO:<other{id}@example.com>\r\n").as_bytes());
        bytes.extend_from_slice(b"DATA\r\n");
        bytes.extend_from_slice(&body);
        bytes.extend_from_slice(b".\r\n");
    }
    bytes.extend_from_slice(b"QUIT\r\n");
    Transcript {
        bytes,
        messages,
        content: body_content * messages as u64,
    }
}

/// What a receiver counted over one transcript.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    /// Complete messages (end of data seen).
    pub(crate) messages: usize,
    /// Content octets after unstuffing.
    pub(crate) content: u64,
    /// Reply octets produced.
    pub(crate) replies: usize,
}

impl Tally {
    /// Panics unless the receiver found every message and every content octet.
    pub(crate) fn check(&self, transcript: &Transcript, who: &str) {
        assert_eq!(self.messages, transcript.messages, "{who}: messages");
        assert_eq!(self.content, transcript.content, "{who}: content octets");
    }
}
