//! A small SMTP client for tests: one command at a time, every read with a deadline,
//! plain TCP, STARTTLS or implicit TLS (rustls, ring).

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

use rustls::{ClientConnection, ProtocolVersion, StreamOwned};
use smtp_proto::codec::reply::{ParsedReply, ReplyParser};

/// One SMTP reply: its code and the text of each line (after `NNN-` / `NNN `).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit code.
    pub code: u16,
    /// The text of each line, without the code, the separator and CR LF.
    pub lines: Vec<String>,
}

impl Reply {
    /// All the lines' text, joined with newlines.
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }

    /// Whether an EHLO reply advertises the extension `keyword` (case-insensitive), with
    /// any parameters.
    pub fn has_extension(&self, keyword: &str) -> bool {
        self.extension(keyword).is_some()
    }

    /// The line of an EHLO reply that advertises `keyword` (case-insensitive), e.g.
    /// `SIZE 1000`. The first line (the greeting) is skipped.
    pub fn extension(&self, keyword: &str) -> Option<&str> {
        self.lines.iter().skip(1).map(String::as_str).find(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|k| k.eq_ignore_ascii_case(keyword))
        })
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, line) in self.lines.iter().enumerate() {
            let sep = if i + 1 == self.lines.len() { ' ' } else { '-' };
            writeln!(f, "{}{sep}{line}", self.code)?;
        }
        Ok(())
    }
}

impl TryFrom<&ParsedReply> for Reply {
    type Error = String;

    /// The client's view of a reply the codec's [`ReplyParser`] read, held to what a
    /// server must send: every line ends in CR LF and none was cut short.
    fn try_from(reply: &ParsedReply) -> Result<Self, String> {
        if reply.bare_lf_seen() {
            return Err(format!("reply line ending in a bare LF: {reply}"));
        }
        if reply.is_truncated() {
            return Err(format!(
                "reply line longer than the parser's limit: {reply}"
            ));
        }
        let lines = reply
            .lines()
            .iter()
            .map(|line| String::from_utf8_lossy(line.raw_text()).into_owned())
            .collect();
        Ok(Self {
            code: reply.code(),
            lines,
        })
    }
}

/// Replies read from a byte stream in pieces of any size, by the codec's [`ReplyParser`]
/// (default limits) and [`Reply::try_from`]: a line that is not `NNN`, `NNN-…` or
/// `NNN …` with CR LF, or a code that changes inside a multiline reply, is an error.
#[derive(Debug, Default)]
pub struct ReplyReader {
    parser: ReplyParser,
}

impl ReplyReader {
    /// A reader with nothing buffered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends bytes read from the server.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.parser.feed(bytes);
    }

    /// The next complete reply, or `None` if more bytes are needed.
    pub fn next_reply(&mut self) -> Result<Option<Reply>, String> {
        match self.parser.next_reply() {
            Ok(Some(reply)) => Reply::try_from(&reply).map(Some),
            Ok(None) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Octets fed but not yet returned in a reply.
    pub fn buffered(&self) -> usize {
        self.parser.buffered()
    }
}

/// The connection under the client.
enum Stream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
    /// Only while switching to TLS.
    Gone,
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Self::Plain(s) => s,
            Self::Tls(s) => &s.sock,
            Self::Gone => panic!("connection lost while switching to TLS"),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Plain(s) => s.read(buf),
            Self::Tls(s) => s.read(buf),
            Self::Gone => Err(io::ErrorKind::NotConnected.into()),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::Plain(s) => s.write(buf),
            Self::Tls(s) => s.write(buf),
            Self::Gone => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Plain(s) => s.flush(),
            Self::Tls(s) => s.flush(),
            Self::Gone => Err(io::ErrorKind::NotConnected.into()),
        }
    }
}

/// Whether `e` is a read deadline passing (`EAGAIN` or `ETIMEDOUT`).
fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Whether `e` means the peer closed or reset the connection.
fn is_closed(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

/// An SMTP client session. Its methods panic with a clear message when the server does
/// not answer as expected; the `try_` methods return errors instead.
pub struct SmtpClient {
    stream: Stream,
    /// Bytes received and not yet returned in a reply; `replies` has been fed exactly these.
    buf: Vec<u8>,
    replies: ReplyReader,
    timeout: Duration,
}

impl SmtpClient {
    /// Connects over plain TCP (the greeting is not read yet).
    ///
    /// # Panics
    /// If the connection fails.
    pub fn connect(addr: SocketAddr) -> Self {
        Self::try_connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"))
    }

    /// Connects over plain TCP.
    pub fn try_connect(addr: SocketAddr) -> io::Result<Self> {
        let tcp = TcpStream::connect_timeout(&addr, crate::READ_TIMEOUT)?;
        tcp.set_nodelay(true)?;
        tcp.set_read_timeout(Some(crate::READ_TIMEOUT))?;
        tcp.set_write_timeout(Some(crate::READ_TIMEOUT))?;
        Ok(Self {
            stream: Stream::Plain(tcp),
            buf: Vec::new(),
            replies: ReplyReader::new(),
            timeout: crate::READ_TIMEOUT,
        })
    }

    /// Connects and completes a TLS handshake first (implicit TLS, RFC 8314); the
    /// greeting is not read yet.
    ///
    /// # Panics
    /// If the connection or the handshake fails.
    pub fn connect_tls(addr: SocketAddr) -> Self {
        let mut client = Self::connect(addr);
        client
            .try_upgrade_tls()
            .unwrap_or_else(|e| panic!("TLS handshake with {addr}: {e}"));
        client
    }

    /// Connects over plain TCP, reads the greeting (must be 220) and sends EHLO.
    pub fn connect_ehlo(addr: SocketAddr) -> Self {
        let mut client = Self::connect(addr);
        client.expect_greeting();
        client.ehlo("client.example");
        client
    }

    /// Changes the deadline of each read (default [`crate::READ_TIMEOUT`]).
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// The raw TCP socket (for tests that bypass TLS on purpose).
    pub fn tcp(&self) -> &TcpStream {
        self.stream.tcp()
    }

    /// The TLS connection, if TLS is active.
    pub fn tls(&mut self) -> Option<&mut StreamOwned<ClientConnection, TcpStream>> {
        match &mut self.stream {
            Stream::Tls(s) => Some(s),
            _ => None,
        }
    }

    /// The negotiated TLS version, if TLS is active.
    pub fn tls_version(&self) -> Option<ProtocolVersion> {
        match &self.stream {
            Stream::Tls(s) => s.conn.protocol_version(),
            _ => None,
        }
    }

    /// Writes `bytes` (one write call on the socket, or one TLS flush).
    ///
    /// # Panics
    /// If the write fails.
    pub fn send(&mut self, bytes: &[u8]) {
        self.try_send(bytes)
            .unwrap_or_else(|e| panic!("write {:?}: {e}", String::from_utf8_lossy(bytes)));
    }

    /// Writes `bytes`.
    pub fn try_send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)?;
        self.stream.flush()
    }

    /// Reads one more chunk into the buffer within `timeout`: `Ok(0)` at end of stream.
    fn fill(&mut self, timeout: Duration) -> io::Result<usize> {
        self.stream
            .tcp()
            .set_read_timeout(Some(timeout.max(Duration::from_millis(1))))?;
        let mut chunk = [0u8; 16 * 1024];
        let n = match self.stream.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if is_closed(&e) => 0,
            Err(e) => return Err(e),
        };
        self.buf.extend_from_slice(&chunk[..n]);
        self.replies.feed(&chunk[..n]);
        Ok(n)
    }

    /// Reads one reply. End of stream before a complete reply is `UnexpectedEof`; no reply
    /// within the deadline is `TimedOut`.
    pub fn try_read_reply(&mut self) -> io::Result<Reply> {
        let deadline = crate::now() + self.timeout;
        loop {
            match self.replies.next_reply() {
                Ok(Some(reply)) => {
                    let used = self.buf.len().saturating_sub(self.replies.buffered());
                    self.buf.drain(..used);
                    return Ok(reply);
                }
                Ok(None) => {}
                Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e)),
            }
            let now = crate::now();
            if now >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "no complete reply within {:?}; received {:?}",
                        self.timeout,
                        String::from_utf8_lossy(&self.buf)
                    ),
                ));
            }
            match self.fill(deadline - now) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!(
                            "connection closed; received {:?}",
                            String::from_utf8_lossy(&self.buf)
                        ),
                    ));
                }
                Ok(_) => {}
                Err(e) if is_timeout(&e) => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads one reply.
    ///
    /// # Panics
    /// If none arrives in time, the connection closes, or the reply is malformed.
    pub fn read_reply(&mut self) -> Reply {
        self.try_read_reply()
            .unwrap_or_else(|e| panic!("reading a reply: {e}"))
    }

    /// Reads one reply and checks its code.
    ///
    /// # Panics
    /// As [`Self::read_reply`], or if the code differs.
    pub fn expect_reply(&mut self, code: u16) -> Reply {
        let reply = self.read_reply();
        assert_eq!(reply.code, code, "expected {code}, got:\n{reply}");
        reply
    }

    /// Reads the greeting and checks it is 220.
    pub fn expect_greeting(&mut self) -> Reply {
        self.expect_reply(220)
    }

    /// Sends `line` plus CR LF and reads the reply.
    pub fn command(&mut self, line: &str) -> Reply {
        self.send(format!("{line}\r\n").as_bytes());
        self.read_reply()
    }

    /// Sends `line` plus CR LF and checks the reply's code.
    ///
    /// # Panics
    /// If the code differs.
    pub fn expect(&mut self, line: &str, code: u16) -> Reply {
        let reply = self.command(line);
        assert_eq!(reply.code, code, "{line:?}: expected {code}, got:\n{reply}");
        reply
    }

    /// Sends `EHLO name` and expects 250.
    pub fn ehlo(&mut self, name: &str) -> Reply {
        self.expect(&format!("EHLO {name}"), 250)
    }

    /// Sends `STARTTLS`, expects 220 and completes the handshake.
    ///
    /// # Panics
    /// If STARTTLS is refused or the handshake fails.
    pub fn starttls(&mut self) {
        self.expect("STARTTLS", 220);
        self.try_upgrade_tls()
            .unwrap_or_else(|e| panic!("TLS handshake after STARTTLS: {e}"));
    }

    /// Starts TLS on the connection (after a 220 to STARTTLS, or at once for implicit
    /// TLS) and completes the handshake.
    ///
    /// Fails with `InvalidData` if the server sent plaintext after its 220 (a client must
    /// never read it after the handshake: response injection).
    pub fn try_upgrade_tls(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "plaintext after the 220: {:?}",
                    String::from_utf8_lossy(&self.buf)
                ),
            ));
        }
        let Stream::Plain(mut tcp) = std::mem::replace(&mut self.stream, Stream::Gone) else {
            return Err(io::Error::other("TLS is already active"));
        };
        let mut conn = ClientConnection::new(
            crate::tls::insecure_client_config(),
            crate::tls::server_name(),
        )
        .map_err(io::Error::other)?;
        tcp.set_read_timeout(Some(self.timeout))?;
        while conn.is_handshaking() {
            conn.complete_io(&mut tcp)?;
        }
        self.stream = Stream::Tls(Box::new(StreamOwned::new(conn, tcp)));
        Ok(())
    }

    /// Runs one transaction: `MAIL FROM:<from>` (250), `RCPT TO:<…>` for each of `to`
    /// (250 each), `DATA` (354), then `message` dot-stuffed and the final dot. Returns the
    /// reply to the message (the first one, for LMTP).
    ///
    /// # Panics
    /// If a command before the content is not accepted.
    pub fn deliver(&mut self, from: &str, to: &[&str], message: &[u8]) -> Reply {
        self.expect(&format!("MAIL FROM:<{from}>"), 250);
        for rcpt in to {
            self.expect(&format!("RCPT TO:<{rcpt}>"), 250);
        }
        self.expect("DATA", 354);
        self.send(&crate::data_payload(message));
        self.read_reply()
    }

    /// Sends QUIT and ignores what happens next.
    pub fn quit(mut self) {
        if self.try_send(b"QUIT\r\n").is_ok() {
            let _ = self.try_read_reply();
        }
    }

    /// Collects every byte that arrives within `duration` (and what was already buffered);
    /// stops early at end of stream.
    ///
    /// # Panics
    /// On a read error other than the deadline or the peer closing.
    pub fn read_for(&mut self, duration: Duration) -> Vec<u8> {
        let deadline = crate::now() + duration;
        loop {
            let now = crate::now();
            if now >= deadline {
                break;
            }
            match self.fill(deadline - now) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if is_timeout(&e) => {}
                Err(e) => panic!("read error: {e}"),
            }
        }
        self.take_received()
    }

    /// Waits up to `timeout` for the server to close the connection; returns what arrived
    /// before the close (already-buffered bytes included). For a TLS session, decrypted
    /// bytes; a TLS error counts as closed.
    ///
    /// # Panics
    /// If the connection is still open after `timeout`.
    pub fn expect_closed(&mut self, timeout: Duration) -> Vec<u8> {
        let deadline = crate::now() + timeout;
        loop {
            let now = crate::now();
            assert!(
                now < deadline,
                "the server did not close the connection within {timeout:?}; received {:?}",
                String::from_utf8_lossy(&self.buf)
            );
            match self.fill(deadline - now) {
                Ok(0) => return self.take_received(),
                Ok(_) => {}
                Err(e) if is_timeout(&e) => {}
                // InvalidData: a TLS alert or a broken record: the session is over.
                Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                    return self.take_received();
                }
                Err(e) => panic!("read error while waiting for the close: {e}"),
            }
        }
    }

    /// Everything received and not yet read as a reply; the reply reader starts afresh.
    fn take_received(&mut self) -> Vec<u8> {
        self.replies = ReplyReader::new();
        std::mem::take(&mut self.buf)
    }

    /// Closes the socket in both directions at once (a client that vanishes).
    pub fn abort(self) {
        let _ = self.stream.tcp().shutdown(Shutdown::Both);
    }
}

/// Connects, reads the greeting, sends EHLO, delivers `message` from
/// `sender@client.example` to `rcpt@blackhole.localhost`, sends QUIT, and returns the
/// reply to the message.
pub fn deliver_once(addr: SocketAddr, message: &[u8]) -> Reply {
    let mut client = SmtpClient::connect_ehlo(addr);
    let reply = client.deliver(
        "sender@client.example",
        &["rcpt@blackhole.localhost"],
        message,
    );
    client.quit();
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads every reply in `wire` at once, then byte by byte; both ways must agree.
    /// Returns the replies and the octets left over.
    fn read_all(wire: &[u8]) -> Result<(Vec<Reply>, usize), String> {
        let mut whole = ReplyReader::new();
        whole.feed(wire);
        let mut replies = Vec::new();
        while let Some(reply) = whole.next_reply()? {
            replies.push(reply);
        }
        let mut bytewise = ReplyReader::new();
        let mut again = Vec::new();
        for b in wire {
            bytewise.feed(std::slice::from_ref(b));
            while let Some(reply) = bytewise.next_reply()? {
                again.push(reply);
            }
        }
        assert_eq!(again, replies);
        assert_eq!(bytewise.buffered(), whole.buffered());
        Ok((replies, whole.buffered()))
    }

    #[test]
    fn replies() {
        let (r, left) = read_all(b"250-a.example\r\n250-SIZE 1000\r\n250 STARTTLS\r\n2").unwrap();
        assert_eq!(left, 1);
        let [r] = &r[..] else { panic!("{r:?}") };
        assert_eq!(r.code, 250);
        assert_eq!(r.extension("size"), Some("SIZE 1000"));
        assert!(r.has_extension("STARTTLS"));
        assert!(!r.has_extension("a.example"));
        assert_eq!(
            r.to_string(),
            "250-a.example\r\n250-SIZE 1000\r\n250 STARTTLS\n".replace("\r\n", "\n")
        );
        assert_eq!(read_all(b"250-a\r\n250 b").unwrap(), (Vec::new(), 12));
        assert_eq!(read_all(b"354\r\n").unwrap().0[0].code, 354);
        assert_eq!(
            read_all(b"250 2.0.0 ok\r\n").unwrap().0[0].lines,
            ["2.0.0 ok"]
        );
        assert!(read_all(b"hello\r\n").is_err());
        assert!(read_all(b"250x\r\n").is_err());
        // Stricter than a client must be: the server under test writes CR LF only, and
        // one code per reply.
        assert!(read_all(b"250 a\n").is_err());
        assert!(read_all(b"250-a\r\n251 b\r\n").is_err());
    }
}
