//! Python's aiosmtpd as an SMTP or LMTP server on 127.0.0.1, run by
//! `tests/scripts/aiosmtpd_peer.py`.
//!
//! The script binds a port the system picks and prints it; each accepted message becomes
//! one JSON line in a file of the peer's temporary directory (envelope, MAIL and RCPT
//! parameters, AUTH identity, the exact bytes). aiosmtpd offers SIZE, 8BITMIME and,
//! optionally, SMTPUTF8, AUTH PLAIN and LOGIN, STARTTLS; it does not offer PIPELINING or
//! CHUNKING.
//!
//! Test rule: a recipient whose local part starts with `fail` is refused with `550`: at
//! RCPT in SMTP mode; in LMTP mode it is accepted at RCPT and gets its own `550` after the
//! data while the others get `250`.
//!
//! The Python interpreter is the first of `$SMTP_PROTO_PYTHON`, `python3` and
//! `/usr/bin/python3` that can import aiosmtpd (Debian's `python3-aiosmtpd` installs for
//! the system interpreter, which may not be the first `python3` on the `PATH`).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use super::{Captured, START_TIMEOUT, StoredMessage};
use crate::TempDir;

/// The prefix of the line the script prints once it listens.
const LISTENING: &str = "aiosmtpd_peer listening: ";

/// The environment variable naming a Python interpreter to try first.
pub const PYTHON_VAR: &str = "SMTP_PROTO_PYTHON";

/// aiosmtpd's options. The default: plain SMTP, no AUTH, no STARTTLS, no SMTPUTF8.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AiosmtpdOptions {
    /// Speak LMTP (`aiosmtpd.lmtp.LMTP`: LHLO, one reply per recipient after the data).
    pub lmtp: bool,
    /// Advertise and accept SMTPUTF8 (`enable_SMTPUTF8`).
    pub smtputf8: bool,
    /// Offer AUTH PLAIN and LOGIN, accepting these `(user, password)` pairs, also without
    /// TLS (`auth_require_tls = False`).
    pub auth: Vec<(String, String)>,
    /// Refuse mail before AUTH (`auth_required`).
    pub auth_required: bool,
    /// Offer STARTTLS with a fresh self-signed certificate ([`Aiosmtpd::cert_path`]).
    pub starttls: bool,
    /// Refuse everything but STARTTLS before TLS (`require_starttls`).
    pub require_starttls: bool,
    /// The SIZE limit in bytes (aiosmtpd's default, 33554432, when `None`).
    pub size_limit: Option<u64>,
}

/// A running aiosmtpd. Dropping it kills the process and removes its directory.
pub struct Aiosmtpd {
    child: Child,
    addr: SocketAddr,
    cert: Option<PathBuf>,
    stderr: Captured,
    readers: Vec<JoinHandle<()>>,
    // Dropped after the process (fields drop after `Drop::drop`).
    dir: TempDir,
}

/// The first interpreter that can import aiosmtpd (looked up once per process).
fn python() -> Option<&'static str> {
    static PYTHON: OnceLock<Option<String>> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let mut candidates: Vec<String> = std::env::var(PYTHON_VAR).into_iter().collect();
            candidates.push("python3".to_owned());
            candidates.push("/usr/bin/python3".to_owned());
            candidates.into_iter().find(|python| {
                Command::new(python)
                    .args(["-c", "import aiosmtpd.smtp, aiosmtpd.lmtp"])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            })
        })
        .as_deref()
}

/// The script, `tests/scripts/aiosmtpd_peer.py`.
pub fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/aiosmtpd_peer.py")
}

impl Aiosmtpd {
    /// Why aiosmtpd cannot run here, if it cannot (no interpreter imports it).
    pub fn availability() -> Result<(), String> {
        match python() {
            Some(_) => Ok(()),
            None => Err(format!(
                "aiosmtpd not installed (no ${PYTHON_VAR}, python3 or /usr/bin/python3 can import it; package python3-aiosmtpd)"
            )),
        }
    }

    /// Whether aiosmtpd can run here.
    pub fn is_available() -> bool {
        Self::availability().is_ok()
    }

    /// [`super::require_peer`] for aiosmtpd.
    ///
    /// # Panics
    /// When aiosmtpd is missing and `SMTP_PROTO_REQUIRE_TOOLS=1`.
    pub fn require() -> bool {
        super::require_peer("aiosmtpd", Self::availability())
    }

    /// The interpreter used, once [`availability`](Self::availability) found one.
    pub fn python() -> Option<&'static str> {
        python()
    }

    /// Starts the script with `options`, waits up to [`START_TIMEOUT`] for its listening
    /// line, then for its `220` greeting (LMTP too greets with 220).
    ///
    /// # Panics
    /// If aiosmtpd is missing, or the script exits or does not listen in time (the
    /// message shows its stderr).
    pub fn start(options: AiosmtpdOptions) -> Self {
        let Some(python) = python() else {
            panic!(
                "Aiosmtpd::start: {}",
                Self::availability().err().unwrap_or_default()
            );
        };
        let dir = TempDir::new("aiosmtpd");
        let out = dir.path().join("messages.jsonl");
        let mut command = Command::new(python);
        command.arg("-u").arg(script()).arg("--out").arg(&out);
        if options.lmtp {
            command.arg("--lmtp");
        }
        if options.smtputf8 {
            command.arg("--smtputf8");
        }
        for (user, password) in &options.auth {
            command.arg("--auth").arg(format!("{user}:{password}"));
        }
        if options.auth_required {
            command.arg("--auth-required");
        }
        let cert = options.starttls.then(|| {
            let (cert, key) = super::write_self_signed_cert(dir.path());
            command
                .arg("--tls-cert")
                .arg(&cert)
                .arg("--tls-key")
                .arg(key);
            cert
        });
        if options.require_starttls {
            command.arg("--require-starttls");
        }
        if let Some(size) = options.size_limit {
            command.arg("--size").arg(size.to_string());
        }
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
        let (stderr, err_reader) = Captured::spawn(child.stderr.take());
        let (lines, out_reader) = listening_lines(child.stdout.take());
        let mut readers = vec![err_reader, out_reader];

        let deadline = crate::now() + START_TIMEOUT;
        let addr = loop {
            let wait = deadline.saturating_duration_since(crate::now());
            match lines.recv_timeout(wait.min(Duration::from_millis(100))) {
                Ok(addr) => break addr,
                Err(mpsc::RecvTimeoutError::Timeout) if crate::now() < deadline => {
                    if let Ok(Some(status)) = child.try_wait() {
                        let _ = readers.remove(0).join();
                        panic!(
                            "aiosmtpd ({command:?}) exited before listening: {status}\n--- stderr\n{}",
                            stderr.text()
                        );
                    }
                }
                Err(_) => {
                    super::stop_child(&mut child, false);
                    panic!(
                        "aiosmtpd ({command:?}) printed no listening line within {START_TIMEOUT:?}\n--- stderr\n{}",
                        stderr.text()
                    );
                }
            }
        };
        let peer = Self {
            child,
            addr,
            cert,
            stderr,
            readers,
            dir,
        };
        if let Err(e) = super::wait_for_greeting(addr, START_TIMEOUT) {
            panic!("aiosmtpd on {addr} does not greet: {e}");
        }
        peer
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The certificate (PEM) when STARTTLS is on, for clients that verify it.
    pub fn cert_path(&self) -> Option<&Path> {
        self.cert.as_deref()
    }

    /// The peer's temporary directory (`messages.jsonl`, the certificate).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// aiosmtpd's log so far (its session transcripts, on stderr).
    pub fn log(&self) -> String {
        self.stderr.text()
    }

    /// The messages accepted so far, in order (one per transaction, with the recipients
    /// that were accepted).
    ///
    /// # Panics
    /// If a record is not what the script writes.
    pub fn messages(&self) -> Vec<StoredMessage> {
        let path = self.dir.path().join("messages.jsonl");
        let Ok(bytes) = std::fs::read(&path) else {
            return Vec::new();
        };
        let text = String::from_utf8_lossy(&bytes);
        // Only complete lines: the script may be writing the last one.
        let complete = text.rfind('\n').map_or("", |end| &text[..end]);
        complete
            .lines()
            .map(|line| parse_record(&path, line))
            .collect()
    }

    /// Waits up to `timeout` until at least `n` messages were accepted, and returns all of
    /// them, in order.
    ///
    /// # Panics
    /// If fewer than `n` arrive in time (the message shows aiosmtpd's log).
    pub fn wait_for_messages(&self, n: usize, timeout: Duration) -> Vec<StoredMessage> {
        super::poll(timeout, Duration::from_millis(20), || {
            let messages = self.messages();
            (messages.len() >= n).then_some(messages)
        })
        .unwrap_or_else(|| {
            panic!(
                "aiosmtpd accepted {} message(s) within {timeout:?}, expected {n}\n--- log\n{}",
                self.messages().len(),
                self.log()
            )
        })
    }
}

/// Reads the child's stdout; sends the address of its listening line.
fn listening_lines(pipe: Option<ChildStdout>) -> (mpsc::Receiver<SocketAddr>, JoinHandle<()>) {
    let (sender, receiver) = mpsc::channel();
    let handle = thread::spawn(move || {
        let Some(pipe) = pipe else { return };
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if let Some(addr) = line.strip_prefix(LISTENING)
                && let Ok(addr) = addr.trim().parse()
            {
                let _ = sender.send(addr);
            }
        }
    });
    (receiver, handle)
}

fn strings(value: &serde_json::Value, key: &str) -> Vec<String> {
    value[key]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// One JSON line of the script.
fn parse_record(path: &Path, line: &str) -> StoredMessage {
    let value: serde_json::Value = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("bad record in {}: {e}: {line}", path.display()));
    let content_latin1 = value["content_latin1"]
        .as_str()
        .unwrap_or_else(|| panic!("record without content_latin1: {line}"));
    let content: Vec<u8> = content_latin1
        .chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap_or_else(|_| panic!("not latin-1: {c:?}")))
        .collect();
    StoredMessage {
        mail_from: value["mail_from"].as_str().map(str::to_owned),
        rcpt_to: strings(&value, "rcpt_tos"),
        mail_params: strings(&value, "mail_options"),
        rcpt_params: strings(&value, "rcpt_options"),
        login: value["login"].as_str().map(str::to_owned),
        raw: content.clone(),
        content,
        path: path.to_path_buf(),
    }
}

impl Drop for Aiosmtpd {
    fn drop(&mut self) {
        super::stop_child(&mut self.child, false);
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        if std::thread::panicking() {
            eprintln!("--- aiosmtpd log ({})\n{}", self.addr, self.log());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records() {
        let line = r#"{"mail_from": "s@x", "rcpt_tos": ["a@b"], "rejected": [], "mail_options": ["SIZE=3"], "rcpt_options": [], "login": "dave", "smtputf8": false, "content_latin1": "a\u00ff\r\n"}"#;
        let m = parse_record(Path::new("x"), line);
        assert_eq!(m.mail_from.as_deref(), Some("s@x"));
        assert_eq!(m.rcpt_to, ["a@b"]);
        assert_eq!(m.mail_params, ["SIZE=3"]);
        assert_eq!(m.login.as_deref(), Some("dave"));
        assert_eq!(m.content, b"a\xff\r\n");
    }
}
