//! Real SMTP servers we did not write, started on loopback for interop tests of our
//! client: a private [`Postfix`] instance, Postfix's [`SmtpSink`] test server, and Python's
//! [`Aiosmtpd`] (SMTP or LMTP, with AUTH and STARTTLS options).
//!
//! Each peer is one process tree with its own temporary directory and its own port on
//! 127.0.0.1, so tests running in parallel threads never share anything. Starting waits
//! (bounded by [`START_TIMEOUT`]) until the port answers with a `220` greeting; dropping a
//! peer stops it (bounded by [`STOP_TIMEOUT`], then killed) and removes its directory. When
//! the thread is panicking, the drop prints the peer's log to stderr first, so a failing
//! test shows what the server saw.
//!
//! Each peer has `is_available()` (is the program installed, can it run here) and
//! `require()`, which follows [`crate::require_tool`]: a missing peer skips the test
//! (`SKIPPED: …` on stderr, `false`), or fails it when `SMTP_PROTO_REQUIRE_TOOLS=1`.
//!
//! What each peer stored is returned as [`StoredMessage`]s: the bytes as the peer stored
//! them, the message as the client sent it as far as it can be recovered, and the
//! envelope as far as the peer records it.
//!
//! Test rule shared by the peers that can refuse recipients (Postfix, aiosmtpd): a
//! recipient whose local part starts with `fail` is refused with `550` (at RCPT; with
//! aiosmtpd in LMTP mode, by its own reply after the data).

pub mod aiosmtpd;
pub mod postfix;
pub mod smtp_sink;

pub use aiosmtpd::{Aiosmtpd, AiosmtpdOptions};
pub use postfix::{Postfix, PostfixOptions};
pub use smtp_sink::{SmtpSink, SmtpSinkOptions};

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// The mail domain the peers accept mail for (Postfix delivers it to its Maildir).
pub const PEER_DOMAIN: &str = "peer.example";

/// How long a peer may take to answer its first connection with `220`.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a peer may take to exit after it is asked to stop, before it is killed.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// One message as a peer stored it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredMessage {
    /// The envelope sender without angle brackets (`""` for the null sender), when the
    /// peer records it: Postfix's `Return-Path:`, smtp-sink's `X-Mail-Args:`, aiosmtpd's
    /// envelope.
    pub mail_from: Option<String>,
    /// The envelope recipients that were accepted, without angle brackets: Postfix
    /// delivers one file per recipient (from `X-Original-To:`, else `Delivered-To:`);
    /// smtp-sink's `X-Rcpt-Args:`; aiosmtpd's envelope.
    pub rcpt_to: Vec<String>,
    /// The MAIL parameters (`SIZE=…`, `BODY=8BITMIME`, `SMTPUTF8`), when recorded
    /// (smtp-sink, aiosmtpd).
    pub mail_params: Vec<String>,
    /// The RCPT parameters of all recipients, in order, when recorded (smtp-sink,
    /// aiosmtpd).
    pub rcpt_params: Vec<String>,
    /// The AUTH identity of the session, when recorded (aiosmtpd).
    pub login: Option<String>,
    /// The stored bytes exactly as the peer wrote them.
    pub raw: Vec<u8>,
    /// The message as the client sent it (after dot-unstuffing), as far as it can be
    /// recovered: aiosmtpd stores it exactly; Postfix and smtp-sink store lines ending in
    /// LF, so this is their message with the headers they prepend removed and every LF
    /// turned back into CR LF (a bare CR or LF the client sent is not recovered).
    pub content: Vec<u8>,
    /// Where the peer stored it.
    pub path: PathBuf,
}

impl StoredMessage {
    /// The value of the first header field called `name` (case-insensitive) in
    /// [`raw`](Self::raw), unfolded and trimmed; the header section ends at the first
    /// empty line.
    pub fn header(&self, name: &str) -> Option<String> {
        header_value(&self.raw, name)
    }

    /// [`content`](Self::content) as text (lossy), for assertions and messages.
    pub fn content_text(&self) -> String {
        String::from_utf8_lossy(&self.content).into_owned()
    }
}

/// The unfolded value of the first header field `name` of `message`.
pub(crate) fn header_value(message: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(message);
    let mut found: Option<String> = None;
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some(value) = found.as_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
            continue;
        }
        if found.is_some() {
            break;
        }
        if let Some((field, value)) = line.split_once(':')
            && field.trim().eq_ignore_ascii_case(name)
        {
            found = Some(value.trim().to_owned());
        }
    }
    found
}

/// `text` with every LF (not already preceded by CR) turned into CR LF.
pub(crate) fn lf_to_crlf(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + text.len() / 32);
    let mut previous = 0u8;
    for &b in text {
        if b == b'\n' && previous != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        previous = b;
    }
    out
}

/// `address` without one pair of enclosing angle brackets.
pub(crate) fn strip_brackets(address: &str) -> String {
    let address = address.trim();
    address
        .strip_prefix('<')
        .and_then(|a| a.strip_suffix('>'))
        .unwrap_or(address)
        .to_owned()
}

/// Whether a peer may be used, following [`crate::require_tool`]: `availability` is
/// `Err(why)` when it cannot run here. Then, with `SMTP_PROTO_REQUIRE_TOOLS=1`, this
/// panics; otherwise it prints `SKIPPED: <name>: <why>` to stderr and returns `false`.
///
/// # Panics
/// When the peer is unavailable and `SMTP_PROTO_REQUIRE_TOOLS=1`.
pub fn require_peer(name: &str, availability: Result<(), String>) -> bool {
    let Err(why) = availability else {
        return true;
    };
    let var = crate::tools::REQUIRE_TOOLS_VAR;
    if std::env::var(var).as_deref() == Ok("1") {
        panic!("peer {name} is not available ({why}), and {var}=1 requires it");
    }
    eprintln!("SKIPPED: {name}: {why}");
    false
}

/// Whether this process runs as root (Postfix needs it; smtp-sink then needs `-u`).
pub fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().next().map(|uid| uid == "0"))
        })
        .unwrap_or(false)
}

/// A port on 127.0.0.1 that was free a moment ago (bound with port 0, then released).
/// Another process may take it before the peer binds it: peers that bind themselves retry
/// with a new port when they fail to start.
///
/// # Panics
/// If no socket can be bound.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap_or_else(|e| panic!("cannot bind 127.0.0.1:0: {e}"));
    listener
        .local_addr()
        .unwrap_or_else(|e| panic!("local_addr: {e}"))
        .port()
}

/// Connects to `addr` and reads its greeting: the whole (possibly multiline) reply, as
/// text, if it starts with `220`; then sends QUIT. Retries refused connections until
/// `timeout`.
///
/// # Errors
/// The last error (refused connection, timeout, or a greeting other than `220`) when no
/// `220` arrived within `timeout`.
pub fn wait_for_greeting(addr: SocketAddr, timeout: Duration) -> Result<String, String> {
    let deadline = crate::now() + timeout;
    loop {
        let error = match try_greeting(addr) {
            Ok(greeting) if greeting.starts_with("220") => return Ok(greeting),
            Ok(greeting) => format!("greeting is not 220: {greeting:?}"),
            Err(e) => e,
        };
        if crate::now() >= deadline {
            return Err(error);
        }
        thread::sleep(Duration::from_millis(50));
    }
}

fn try_greeting(addr: SocketAddr) -> Result<String, String> {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))
        .map_err(|e| format!("connect {addr}: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(&stream);
    let mut greeting = String::new();
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) => {
                return Err(format!(
                    "{addr} closed before a full greeting: {greeting:?}"
                ));
            }
            Ok(_) => {}
            Err(e) => return Err(format!("reading the greeting of {addr}: {e}")),
        }
        greeting.push_str(&line);
        // The last line of a reply has a space (or nothing) after the code.
        if line.len() < 4 || line.as_bytes()[3] != b'-' {
            break;
        }
    }
    let _ = (&stream).write_all(b"QUIT\r\n");
    Ok(greeting)
}

/// Writes a self-signed certificate (names `localhost`, `127.0.0.1` and
/// `mx.`[`PEER_DOMAIN`]) and its key as PEM files `cert.pem` and `key.pem` in `dir`;
/// returns their paths.
///
/// # Panics
/// If the certificate cannot be generated or written.
pub fn write_self_signed_cert(dir: &Path) -> (PathBuf, PathBuf) {
    let names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        format!("mx.{PEER_DOMAIN}"),
    ];
    let certified = rcgen::generate_simple_self_signed(names)
        .unwrap_or_else(|e| panic!("rcgen cannot generate a certificate: {e}"));
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(&cert, certified.cert.pem())
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", cert.display()));
    std::fs::write(&key, certified.key_pair.serialize_pem())
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", key.display()));
    (cert, key)
}

/// Polls `check` every `interval` until it returns `Some`, or `timeout` has passed.
pub(crate) fn poll<T>(
    timeout: Duration,
    interval: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> Option<T> {
    let deadline = crate::now() + timeout;
    loop {
        if let Some(value) = check() {
            return Some(value);
        }
        if crate::now() >= deadline {
            return None;
        }
        thread::sleep(interval);
    }
}

/// Sends `signal` (a name such as `TERM`) to the process `pid` with the `kill` program;
/// errors (the process is gone) are ignored.
pub(crate) fn signal(pid: u32, signal: &str) {
    let _ = Command::new("kill")
        .args(["-s", signal, &pid.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Waits up to `timeout` for `child` to exit.
pub(crate) fn wait_exit(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    poll(timeout, Duration::from_millis(20), || {
        child.try_wait().ok().flatten()
    })
}

/// Stops `child`: `SIGTERM` (when `term`), up to [`STOP_TIMEOUT`] to exit, then
/// `SIGKILL`; always reaps it.
pub(crate) fn stop_child(child: &mut Child, term: bool) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    if term {
        signal(child.id(), "TERM");
        if wait_exit(child, STOP_TIMEOUT).is_some() {
            return;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The files that process `pid` has open (from `/proc/<pid>/fd`; empty where there is no
/// `/proc`).
pub(crate) fn open_files(pid: u32) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .collect()
}

/// Regular files in `dir` (recursively), sorted by modification time, then by name.
pub(crate) fn files_by_mtime(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_dir() => dirs.push(path),
                Ok(t) if t.is_file() => {
                    let mtime = entry.metadata().and_then(|m| m.modified()).ok();
                    found.push((mtime, path));
                }
                _ => {}
            }
        }
    }
    found.sort();
    found.into_iter().map(|(_, p)| p).collect()
}

/// Reads `path`.
///
/// # Panics
/// If it cannot be read.
pub(crate) fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Everything read from a child's pipe, collected by a thread so the child never blocks.
#[derive(Clone, Default)]
pub(crate) struct Captured {
    bytes: Arc<Mutex<Vec<u8>>>,
}

impl Captured {
    /// Starts a thread that reads `pipe` to the end into a new buffer.
    pub(crate) fn spawn(pipe: Option<impl Read + Send + 'static>) -> (Self, JoinHandle<()>) {
        let captured = Self::default();
        let sink = captured.bytes.clone();
        let handle = thread::spawn(move || {
            let Some(mut pipe) = pipe else { return };
            let mut buf = [0u8; 4096];
            loop {
                match pipe.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if let Ok(mut bytes) = sink.lock() {
                            bytes.extend_from_slice(&buf[..n]);
                        }
                    }
                }
            }
        });
        (captured, handle)
    }

    /// What was read so far, as text (lossy).
    pub(crate) fn text(&self) -> String {
        self.bytes
            .lock()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_and_line_ends() {
        let message =
            b"Return-Path: <a@b>\nReceived: from x\n\tby y;\n\tdate\nSubject: hi\n\nBody: no\n";
        assert_eq!(
            header_value(message, "return-path").as_deref(),
            Some("<a@b>")
        );
        assert_eq!(
            header_value(message, "Received").as_deref(),
            Some("from x by y; date")
        );
        assert_eq!(header_value(message, "Body"), None);
        assert_eq!(lf_to_crlf(b"a\nb\r\nc\n"), b"a\r\nb\r\nc\r\n");
        assert_eq!(strip_brackets(" <a@b> "), "a@b");
        assert_eq!(strip_brackets("<>"), "");
    }
}
