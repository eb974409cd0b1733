//! Postfix's `smtp-sink` test server on a free port of 127.0.0.1, dumping every message
//! (`-d`) into a temporary directory.
//!
//! smtp-sink accepts any sender and recipient, and answers every command at once; it is a
//! fast, permissive peer whose EHLO keywords can be switched off one by one. It does not
//! offer CHUNKING or STARTTLS. Each dump file holds smtp-sink's own headers
//! (`X-Client-Addr:`, `X-Client-Proto:`, `X-Helo-Args:`, `X-Mail-Args:`, one
//! `X-Rcpt-Args:` per recipient, a three-line `Received:`), the message with LF line
//! endings, and one empty line.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::Duration;

use super::{Captured, START_TIMEOUT, StoredMessage};
use crate::TempDir;

/// How many times [`SmtpSink::start`] tries a new port when smtp-sink exits at start.
const START_ATTEMPTS: usize = 5;

/// smtp-sink's options. The default advertises everything smtp-sink can (PIPELINING,
/// 8BITMIME, DSN, ENHANCEDSTATUSCODES, XCLIENT, XFORWARD, and AUTH, which it accepts
/// without checking anything).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SmtpSinkOptions {
    /// Speak LMTP (`-L`).
    pub lmtp: bool,
    /// Do not advertise PIPELINING (`-p`).
    pub no_pipelining: bool,
    /// Do not advertise 8BITMIME (`-8`).
    pub no_8bitmime: bool,
    /// Do not advertise ENHANCEDSTATUSCODES (`-E`).
    pub no_enhanced_status_codes: bool,
    /// Do not advertise DSN (`-N`).
    pub no_dsn: bool,
    /// Do not advertise AUTH (`-a`).
    pub no_auth: bool,
    /// Do not support ESMTP at all (`-e`: EHLO is refused).
    pub no_esmtp: bool,
    /// Commands refused with a hard error, 5xx (`-f`, e.g. `["RCPT"]`); implies no
    /// PIPELINING.
    pub hard_reject: Vec<String>,
    /// Commands refused with a soft error, 4xx (`-r`); implies no PIPELINING.
    pub soft_reject: Vec<String>,
    /// More arguments, placed before the address.
    pub extra_args: Vec<String>,
}

/// A running smtp-sink. Dropping it kills the process and removes its directory.
pub struct SmtpSink {
    child: Child,
    addr: SocketAddr,
    greeting: String,
    stdout: Captured,
    stderr: Captured,
    readers: Vec<JoinHandle<()>>,
    // Dropped after the process (fields drop after `Drop::drop`).
    dir: TempDir,
}

impl SmtpSinkOptions {
    fn args(&self) -> Vec<String> {
        let mut args = Vec::new();
        for (on, flag) in [
            (self.lmtp, "-L"),
            (self.no_pipelining, "-p"),
            (self.no_8bitmime, "-8"),
            (self.no_enhanced_status_codes, "-E"),
            (self.no_dsn, "-N"),
            (self.no_auth, "-a"),
            (self.no_esmtp, "-e"),
        ] {
            if on {
                args.push(flag.to_owned());
            }
        }
        if !self.hard_reject.is_empty() {
            args.push("-f".to_owned());
            args.push(self.hard_reject.join(","));
        }
        if !self.soft_reject.is_empty() {
            args.push("-r".to_owned());
            args.push(self.soft_reject.join(","));
        }
        args.extend(self.extra_args.iter().cloned());
        args
    }
}

impl SmtpSink {
    /// Why smtp-sink cannot run here, if it cannot (it is not on the `PATH`).
    pub fn availability() -> Result<(), String> {
        if crate::tools::tool_installed("smtp-sink") {
            Ok(())
        } else {
            Err("smtp-sink not installed (package postfix)".to_owned())
        }
    }

    /// Whether smtp-sink is installed.
    pub fn is_available() -> bool {
        Self::availability().is_ok()
    }

    /// [`super::require_peer`] for smtp-sink.
    ///
    /// # Panics
    /// When smtp-sink is missing and `SMTP_PROTO_REQUIRE_TOOLS=1`.
    pub fn require() -> bool {
        super::require_peer("smtp-sink", Self::availability())
    }

    /// Starts smtp-sink with `options` on a free port of 127.0.0.1 (another free port
    /// when it exits at start, up to 5 times), with `-c` (counters on stdout), `-h
    /// sink.peer.example`, and `-d` into its directory; waits up to [`START_TIMEOUT`] for
    /// its `220` greeting. As root it runs with `-u root`.
    ///
    /// # Panics
    /// If smtp-sink is missing or does not greet in time (the message shows its output).
    pub fn start(options: SmtpSinkOptions) -> Self {
        if let Err(why) = Self::availability() {
            panic!("SmtpSink::start: {why}");
        }
        let dir = TempDir::new("smtp-sink");
        let dump = dir.path().join("dump");
        std::fs::create_dir(&dump)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dump.display()));
        // strftime, then smtp-sink appends a random hexadecimal number.
        let template = format!("{}/%Y%m%d%H%M%S.", dump.display());
        let mut failures = String::new();
        for attempt in 1..=START_ATTEMPTS {
            let port = super::free_port();
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            let mut command = Command::new("smtp-sink");
            command.args(["-c", "-h", "sink.peer.example", "-d", &template]);
            if super::running_as_root() {
                command.args(["-u", "root"]);
            }
            command
                .args(options.args())
                .arg(format!("127.0.0.1:{port}"))
                .arg("64")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let mut child = command
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
            let (stdout, out_reader) = Captured::spawn(child.stdout.take());
            let (stderr, err_reader) = Captured::spawn(child.stderr.take());
            let outcome = super::poll(START_TIMEOUT, Duration::from_millis(20), || {
                if let Ok(Some(status)) = child.try_wait() {
                    return Some(Err(format!("exited: {status}")));
                }
                super::wait_for_greeting(addr, Duration::ZERO).ok().map(Ok)
            });
            match outcome {
                Some(Ok(greeting)) => {
                    return Self {
                        child,
                        addr,
                        greeting,
                        stdout,
                        stderr,
                        readers: vec![out_reader, err_reader],
                        dir,
                    };
                }
                Some(Err(e)) => {
                    let _ = err_reader.join();
                    failures.push_str(&format!(
                        "attempt {attempt} ({command:?}): {e}: {}\n",
                        stderr.text().trim()
                    ));
                }
                None => {
                    super::stop_child(&mut child, false);
                    panic!(
                        "smtp-sink did not greet on {addr} within {START_TIMEOUT:?}\n{failures}--- stderr\n{}",
                        stderr.text()
                    );
                }
            }
        }
        panic!("smtp-sink did not start in {START_ATTEMPTS} attempts:\n{failures}");
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The `220` greeting read at start (that probe is session 1 in the counters).
    pub fn greeting(&self) -> &str {
        &self.greeting
    }

    /// The directory the messages are dumped into.
    pub fn dump_dir(&self) -> PathBuf {
        self.dir.path().join("dump")
    }

    /// What smtp-sink printed: its counters (`-c`) on stdout, then stderr.
    pub fn output(&self) -> String {
        format!(
            "--- stdout\n{}\n--- stderr\n{}",
            self.stdout.text(),
            self.stderr.text()
        )
    }

    /// The messages dumped so far and complete (no longer open in smtp-sink), oldest
    /// first.
    pub fn messages(&self) -> Vec<StoredMessage> {
        let open = super::open_files(self.child.id());
        super::files_by_mtime(&self.dump_dir())
            .into_iter()
            .filter(|path| !open.contains(path))
            .map(|path| {
                let raw = super::read(&path);
                parse_dump(&path, raw)
            })
            .collect()
    }

    /// Waits up to `timeout` until at least `n` complete messages are dumped, and returns
    /// all of them, oldest first.
    ///
    /// # Panics
    /// If fewer than `n` arrive in time (the message shows smtp-sink's output).
    pub fn wait_for_messages(&self, n: usize, timeout: Duration) -> Vec<StoredMessage> {
        super::poll(timeout, Duration::from_millis(20), || {
            let messages = self.messages();
            (messages.len() >= n).then_some(messages)
        })
        .unwrap_or_else(|| {
            panic!(
                "smtp-sink dumped {} message(s) within {timeout:?}, expected {n}\n{}",
                self.messages().len(),
                self.output()
            )
        })
    }
}

/// One dump file: smtp-sink's headers up to its three-line `Received:`, the message with
/// LF line endings, one empty line.
fn parse_dump(path: &Path, raw: Vec<u8>) -> StoredMessage {
    let mut mail_from = None;
    let mut mail_params = Vec::new();
    let mut rcpt_to = Vec::new();
    let mut rcpt_params = Vec::new();
    let mut offset = 0;
    let mut received_lines = 0;
    while offset < raw.len() {
        let end = raw[offset..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(raw.len(), |i| offset + i + 1);
        let line = String::from_utf8_lossy(&raw[offset..end]);
        let line = line.trim_end_matches(['\r', '\n']);
        if received_lines > 0 {
            if !line.starts_with([' ', '\t']) {
                break;
            }
            received_lines += 1;
        } else if line.starts_with("Received:") {
            received_lines = 1;
        } else if let Some(args) = line.strip_prefix("X-Mail-Args:") {
            let mut words = args.split_whitespace();
            mail_from = words.next().map(super::strip_brackets);
            mail_params.extend(words.map(str::to_owned));
        } else if let Some(args) = line.strip_prefix("X-Rcpt-Args:") {
            let mut words = args.split_whitespace();
            rcpt_to.extend(words.next().map(super::strip_brackets));
            rcpt_params.extend(words.map(str::to_owned));
        } else if !line.starts_with("X-") {
            // Not smtp-sink's header block after all: keep everything.
            offset = 0;
            break;
        }
        offset = end;
        // The Received header is three lines long.
        if received_lines == 3 {
            break;
        }
    }
    let message = &raw[offset..];
    // smtp-sink appends one empty line after the message.
    let message = message.strip_suffix(b"\n").unwrap_or(message);
    StoredMessage {
        mail_from,
        rcpt_to,
        mail_params,
        rcpt_params,
        login: None,
        content: super::lf_to_crlf(message),
        raw,
        path: path.to_path_buf(),
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        super::stop_child(&mut self.child, false);
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        if std::thread::panicking() {
            eprintln!("--- smtp-sink on {}\n{}", self.addr, self.output());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dump_format() {
        let raw = b"X-Client-Addr: 127.0.0.1\nX-Client-Proto: ESMTP\nX-Helo-Args: vm\nX-Mail-Args: <s@x.example> BODY=8BITMIME\nX-Rcpt-Args: <a@b.example>\nX-Rcpt-Args: <c@b.example> NOTIFY=NEVER\nReceived: from vm ([127.0.0.1])\n\tby smtp-sink (smtp-sink) with ESMTP id 6579aba9;\n\tWed,  2 Dec 2026 16:18:58 +0000 (UTC)\nSubject: t\n\nhi\n.dot\n\n";
        let m = parse_dump(Path::new("x"), raw.to_vec());
        assert_eq!(m.mail_from.as_deref(), Some("s@x.example"));
        assert_eq!(m.mail_params, ["BODY=8BITMIME"]);
        assert_eq!(m.rcpt_to, ["a@b.example", "c@b.example"]);
        assert_eq!(m.rcpt_params, ["NOTIFY=NEVER"]);
        assert_eq!(m.content, b"Subject: t\r\n\r\nhi\r\n.dot\r\n");
    }
}
