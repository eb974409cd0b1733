//! Test messages, and the DATA transparency procedure (RFC 5321 §4.5.2).

/// A line of 900 characters (RFC 5321 allows 998 plus CR LF).
pub fn long_line(tag: &str) -> String {
    let mut line = format!("long line {tag}: ");
    let mut i = 0u32;
    while line.len() < 900 {
        line.push(char::from(b'a' + (i % 26) as u8));
        i += 1;
    }
    line.truncate(900);
    line
}

/// The body of a test message (CRLF line ends, ending with CR LF), unique to `tag`: lines
/// that start with `.`, `..`, `. ` and `.x` (dot-stuffing), an empty line, a 900-character
/// line and 8-bit UTF-8 text.
pub fn sample_body(tag: &str) -> String {
    format!(
        "Hello {tag},\r\n\
         .starts with one dot\r\n\
         ..starts with two dots\r\n\
         ...\r\n\
         . dot space\r\n\
         .x\r\n\
         \r\n\
         (an empty line is above)\r\n\
         {long}\r\n\
         8-bit: Grüße, naïve café, 日本語, ☃ ✉\r\n\
         .\tdot tab\r\n\
         last line {tag}\r\n",
        long = long_line(tag)
    )
}

/// A complete RFC 5322 message (header section, empty line, [`sample_body`]), unique to
/// `tag`, with CRLF line ends. `tag` should be ASCII without CR or LF.
pub fn sample_message(tag: &str) -> Vec<u8> {
    format!(
        "From: Test Sender <sender@client.example>\r\n\
         To: <rcpt@blackhole.localhost>\r\n\
         Subject: test message {tag}\r\n\
         Message-ID: <{tag}@client.example>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\
         \r\n\
         {body}",
        body = sample_body(tag)
    )
    .into_bytes()
}

/// `sample_message(tag)` with `header` (one field, without CR LF) added at the end of the
/// header section.
pub fn message_with_header(tag: &str, header: &str) -> Vec<u8> {
    let message = String::from_utf8_lossy(&sample_message(tag)).into_owned();
    message
        .replacen("\r\n\r\n", &format!("\r\n{header}\r\n\r\n"), 1)
        .into_bytes()
}

/// `sample_message(tag)` with `line` (without CR LF) added as the first body line.
pub fn message_with_body_line(tag: &str, line: &str) -> Vec<u8> {
    let message = String::from_utf8_lossy(&sample_message(tag)).into_owned();
    message
        .replacen("\r\n\r\n", &format!("\r\n\r\n{line}\r\n"), 1)
        .into_bytes()
}

/// Dot-stuffs `message`: a `.` is added before every line that starts with `.`.
pub fn dot_stuff(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 16);
    let mut line_start = true;
    for &b in message {
        if line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        line_start = b == b'\n';
    }
    out
}

/// What a client sends after `354` for `message`: the message dot-stuffed, then
/// `.` CR LF. `message` must end with CR LF (else a CR LF is added, and the server stores
/// a message that differs from `message`).
pub fn data_payload(message: &[u8]) -> Vec<u8> {
    let mut out = dot_stuff(message);
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stuffing() {
        assert_eq!(dot_stuff(b".a\r\nb.\r\n..\r\n"), b"..a\r\nb.\r\n...\r\n");
        assert_eq!(data_payload(b"x\r\n.\r\n"), b"x\r\n..\r\n.\r\n");
        assert_eq!(data_payload(b"x"), b"x\r\n.\r\n");
    }

    #[test]
    fn sample_is_crlf_and_long() {
        let m = sample_message("t1");
        assert!(m.ends_with(b"\r\n"));
        // Every LF is preceded by CR.
        for (i, &b) in m.iter().enumerate() {
            if b == b'\n' {
                assert_eq!(m[i - 1], b'\r');
            }
        }
        let text = String::from_utf8(m).unwrap();
        assert!(text.lines().any(|l| l.trim_end_matches('\r').len() == 900));
        assert!(text.contains("\r\n\r\n(an empty line"));
        assert!(
            !text.contains("\r\n.\r\n"),
            "a lone dot line would end DATA early"
        );
        let h = String::from_utf8(message_with_header("t", "X-A: b")).unwrap();
        assert!(h.contains("8bit\r\nX-A: b\r\n\r\nHello"));
        let b = String::from_utf8(message_with_body_line("t", "X-A: b")).unwrap();
        assert!(b.contains("8bit\r\n\r\nX-A: b\r\nHello"));
    }
}
