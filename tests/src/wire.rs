//! Scripted sessions over real sockets: a [`Script`] is a list of [`Step`]s (writes,
//! expected replies, a TLS upgrade, silence, the server closing), run by [`Script::run`]
//! with every read bounded. A failure is returned as text with the transcript so far, so a
//! table of rows can report every failing row at once.

use std::fmt::Write as _;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use crate::SmtpClient;

/// How long a [`Step::Reply`] or [`Step::Closed`] waits.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(5);

/// How long [`Script::quiet`] listens for unexpected replies.
pub const QUIET: Duration = Duration::from_millis(300);

/// The pause of [`Script::pause`]: long enough for the server to read what came before on
/// its own.
pub const PAUSE: Duration = Duration::from_millis(20);

/// One step of a scripted session.
#[derive(Clone, Debug)]
pub enum Step {
    /// Write these bytes in one write.
    Send(Vec<u8>),
    /// Write these bytes in writes of at most this many bytes each, without pauses.
    Trickle(Vec<u8>, usize),
    /// Sleep (so that what follows reaches the server in a separate read).
    Pause(Duration),
    /// Read one reply: this code and, unless empty, a first line starting with this
    /// enhanced status code.
    Reply(u16, &'static str),
    /// Start TLS on the connection now (after a `220` to `STARTTLS`).
    StartTls,
    /// Nothing arrives for this long.
    Quiet(Duration),
    /// The server closes the connection without another reply.
    Closed,
    /// The client closes its sending side (the server reads end of stream).
    Eof,
    /// The server closes the connection; what it sent first, read raw from the socket, is
    /// TLS records (an alert, a handshake flight), never a plaintext reply.
    ClosedTls,
}

/// A scripted session: the steps, run in order on one fresh connection.
#[derive(Clone, Debug, Default)]
pub struct Script {
    /// The steps.
    pub steps: Vec<Step>,
}

impl Script {
    /// An empty script (connect, nothing read yet).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a step.
    pub fn step(mut self, step: Step) -> Self {
        self.steps.push(step);
        self
    }

    /// Writes `bytes` in one write.
    pub fn send(self, bytes: impl AsRef<[u8]>) -> Self {
        self.step(Step::Send(bytes.as_ref().to_vec()))
    }

    /// Writes `bytes` in writes of at most `size` bytes.
    pub fn trickle(self, bytes: impl AsRef<[u8]>, size: usize) -> Self {
        self.step(Step::Trickle(bytes.as_ref().to_vec(), size.max(1)))
    }

    /// Expects one reply with `code` and, unless empty, the enhanced code `enhanced`.
    pub fn reply(self, code: u16, enhanced: &'static str) -> Self {
        self.step(Step::Reply(code, enhanced))
    }

    /// Sends `line` and CR LF, and expects one reply.
    pub fn cmd(self, line: impl AsRef<[u8]>, code: u16, enhanced: &'static str) -> Self {
        let mut bytes = line.as_ref().to_vec();
        bytes.extend_from_slice(b"\r\n");
        self.send(bytes).reply(code, enhanced)
    }

    /// A short pause ([`PAUSE`]).
    pub fn pause(self) -> Self {
        self.step(Step::Pause(PAUSE))
    }

    /// Upgrades to TLS.
    pub fn tls(self) -> Self {
        self.step(Step::StartTls)
    }

    /// `STARTTLS` answered `220 2.0.0`, then the handshake.
    pub fn starttls(self) -> Self {
        self.cmd("STARTTLS", 220, "2.0.0").tls()
    }

    /// Nothing arrives for [`QUIET`].
    pub fn quiet(self) -> Self {
        self.step(Step::Quiet(QUIET))
    }

    /// The server closes the connection.
    pub fn closed(self) -> Self {
        self.step(Step::Closed)
    }

    /// The server closes; it sent nothing but TLS records first.
    pub fn closed_tls(self) -> Self {
        self.step(Step::ClosedTls)
    }

    /// The client closes its sending side.
    pub fn eof(self) -> Self {
        self.step(Step::Eof)
    }

    /// The greeting (`220`).
    pub fn greeting(self) -> Self {
        self.reply(220, "")
    }

    /// smtp_proto::manual \[G\]: greeted, `EHLO c.example` answered 250.
    pub fn greeted(self) -> Self {
        self.greeting().ehlo()
    }

    /// `EHLO c.example` answered 250.
    pub fn ehlo(self) -> Self {
        self.cmd("EHLO c.example", 250, "")
    }

    /// \[T\]: \[G\] plus `MAIL FROM:<a@x.example>` and `RCPT TO:<b@y.example>` answered 250.
    pub fn in_transaction(self) -> Self {
        self.greeted().mail_rcpt()
    }

    /// `MAIL FROM:<a@x.example>` and `RCPT TO:<b@y.example>`, each answered 250.
    pub fn mail_rcpt(self) -> Self {
        self.cmd("MAIL FROM:<a@x.example>", 250, "2.1.0")
            .cmd("RCPT TO:<b@y.example>", 250, "2.1.5")
    }

    /// \[D\]: \[T\] plus `DATA` answered 354.
    pub fn in_data(self) -> Self {
        self.in_transaction().cmd("DATA", 354, "")
    }

    /// `QUIT` answered `221 2.0.0`, then the server closes.
    pub fn quit(self) -> Self {
        self.cmd("QUIT", 221, "2.0.0").closed()
    }

    /// Connects to `addr` and runs the steps. Returns the transcript on success, and on
    /// failure a description with the transcript so far.
    pub fn run(&self, addr: SocketAddr) -> Result<Vec<String>, String> {
        let mut transcript = Vec::new();
        let mut client = SmtpClient::try_connect(addr).map_err(|e| format!("connect: {e}"))?;
        client.set_timeout(STEP_TIMEOUT);
        for (i, step) in self.steps.iter().enumerate() {
            if let Err(e) = run_step(&mut client, step, &mut transcript) {
                let mut text = format!("step {i} ({}): {e}\n  transcript:", describe(step));
                for line in &transcript {
                    let _ = write!(text, "\n    {line}");
                }
                return Err(text);
            }
        }
        Ok(transcript)
    }
}

/// `bytes` as escaped text, long runs shortened.
pub fn escape(bytes: &[u8]) -> String {
    if bytes.len() <= 160 {
        return bytes.escape_ascii().to_string();
    }
    format!(
        "{}…({} bytes)…{}",
        bytes[..100].escape_ascii(),
        bytes.len(),
        bytes[bytes.len() - 40..].escape_ascii()
    )
}

/// A step, in words, for failure messages.
fn describe(step: &Step) -> String {
    match step {
        Step::Send(b) => format!("send {}", escape(b)),
        Step::Trickle(b, n) => format!("trickle {} by {n}", escape(b)),
        Step::Pause(d) => format!("pause {d:?}"),
        Step::Reply(code, enhanced) => format!("expect {code} {enhanced}"),
        Step::StartTls => "TLS handshake".to_owned(),
        Step::Quiet(d) => format!("quiet for {d:?}"),
        Step::Closed => "expect the close".to_owned(),
        Step::Eof => "end of stream".to_owned(),
        Step::ClosedTls => "expect the close (TLS records only)".to_owned(),
    }
}

/// Runs one step, appending what was sent and received to `transcript`.
fn run_step(
    client: &mut SmtpClient,
    step: &Step,
    transcript: &mut Vec<String>,
) -> Result<(), String> {
    match step {
        Step::Send(bytes) => {
            transcript.push(format!("C: {}", escape(bytes)));
            client.try_send(bytes).map_err(|e| format!("write: {e}"))
        }
        Step::Trickle(bytes, size) => {
            transcript.push(format!("C: {} (in pieces of {size})", escape(bytes)));
            for piece in bytes.chunks(*size) {
                client.try_send(piece).map_err(|e| format!("write: {e}"))?;
            }
            Ok(())
        }
        Step::Pause(d) => {
            std::thread::sleep(*d);
            Ok(())
        }
        Step::Reply(code, enhanced) => {
            let reply = client.try_read_reply().map_err(|e| e.to_string())?;
            transcript.push(format!("S: {}", reply.to_string().trim_end()));
            let first = reply.lines.first().map_or("", String::as_str);
            if reply.code != *code || !first.starts_with(enhanced) {
                return Err(format!("got {}", reply.to_string().trim_end()));
            }
            Ok(())
        }
        Step::StartTls => {
            transcript.push("TLS".to_owned());
            client
                .try_upgrade_tls()
                .map_err(|e| format!("TLS handshake: {e}"))
        }
        Step::Quiet(d) => {
            client.set_timeout(*d);
            let result = client.try_read_reply();
            client.set_timeout(STEP_TIMEOUT);
            match result {
                Err(e) if e.kind() == io::ErrorKind::TimedOut => Ok(()),
                Ok(reply) => Err(format!("unexpected {}", reply.to_string().trim_end())),
                Err(e) => Err(format!("instead of silence: {e}")),
            }
        }
        Step::Eof => {
            transcript.push("C: <EOF>".to_owned());
            client
                .tcp()
                .shutdown(std::net::Shutdown::Write)
                .map_err(|e| format!("shutdown: {e}"))
        }
        Step::ClosedTls => {
            let raw = read_to_close(client.tcp())?;
            transcript.push(format!("S: <raw> {}", escape(&raw)));
            // TLS content types: change_cipher_spec, alert, handshake, application_data.
            match raw.first() {
                None | Some(0x14..=0x17) => Ok(()),
                Some(_) => Err(format!("plaintext before the close: {}", escape(&raw))),
            }
        }
        Step::Closed => match client.try_read_reply() {
            Ok(reply) => Err(format!(
                "a reply instead of the close: {}",
                reply.to_string().trim_end()
            )),
            Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                Err(format!("still open after {STEP_TIMEOUT:?}: {e}"))
            }
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                transcript.push("closed".to_owned());
                Ok(())
            }
            // A reset, or a TLS alert: the session is over all the same.
            Err(e) => {
                transcript.push(format!("closed ({e})"));
                Ok(())
            }
        },
    }
}

/// Reads `tcp` raw until the peer closes (end of stream or reset), within
/// [`STEP_TIMEOUT`].
pub fn read_to_close(mut tcp: &std::net::TcpStream) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let deadline = crate::now() + STEP_TIMEOUT;
    let mut raw = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let left = deadline.saturating_duration_since(crate::now());
        if left.is_zero() {
            return Err(format!(
                "still open after {STEP_TIMEOUT:?}; received {}",
                escape(&raw)
            ));
        }
        tcp.set_read_timeout(Some(left))
            .map_err(|e| format!("set_read_timeout: {e}"))?;
        match tcp.read(&mut chunk) {
            Ok(0) => return Ok(raw),
            Ok(n) => raw.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // A reset: closed all the same.
            Err(_) => return Ok(raw),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_and_escape() {
        let s = Script::new()
            .in_data()
            .send(b"x\r\n.\r\n")
            .reply(250, "2.0.0")
            .quit();
        assert_eq!(s.steps.len(), 14);
        assert_eq!(escape(b"a\r\n\x00"), "a\\r\\n\\x00");
        let long = escape(&[b'a'; 1000]);
        assert!(long.contains("(1000 bytes)"), "{long}");
    }
}
