//! The `blackhole` binary: build it once per test process, start it on ephemeral ports,
//! read its listening lines, interrupt it, and collect what it printed.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// How long [`Blackhole::start`] waits for the listening lines.
pub const START_TIMEOUT: Duration = Duration::from_secs(20);

/// The prefix of the line blackhole prints for each bound listener.
const LISTENING: &str = "blackhole listening: ";

/// The kind of a listener, as printed in its listening line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListenerKind {
    /// `smtp`: plain SMTP offering STARTTLS (`--listen`).
    Smtp,
    /// `smtps`: implicit TLS, RFC 8314 (`--tls-listen`).
    Smtps,
    /// `lmtp`: LMTP offering STARTTLS (`--lmtp-listen`).
    Lmtp,
}

/// One bound listener.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Listener {
    /// What it speaks.
    pub kind: ListenerKind,
    /// Where it listens.
    pub addr: SocketAddr,
}

/// Parses `blackhole listening: <kind> <ip:port>`; `None` for any other line.
pub fn parse_listening_line(line: &str) -> Option<Listener> {
    let rest = line.strip_prefix(LISTENING)?;
    let (kind, addr) = rest.trim_end().split_once(' ')?;
    let kind = match kind {
        "smtp" => ListenerKind::Smtp,
        "smtps" => ListenerKind::Smtps,
        "lmtp" => ListenerKind::Lmtp,
        _ => return None,
    };
    Some(Listener {
        kind,
        addr: addr.parse().ok()?,
    })
}

/// Text collected from one of the child's pipes, with a signal for each new line.
#[derive(Default)]
pub(crate) struct Collected {
    pub(crate) text: Mutex<String>,
    pub(crate) changed: Condvar,
}

impl Collected {
    pub(crate) fn snapshot(&self) -> String {
        self.text.lock().map(|t| t.clone()).unwrap_or_default()
    }
}

/// Reads `pipe` line by line into `sink` until end of file, so the child never blocks on
/// a full pipe.
pub(crate) fn collect(pipe: impl Read + Send + 'static, sink: Arc<Collected>) -> JoinHandle<()> {
    thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if let Ok(mut text) = sink.text.lock() {
                        text.push_str(&String::from_utf8_lossy(&line));
                    }
                    sink.changed.notify_all();
                }
            }
        }
        sink.changed.notify_all();
    })
}

/// The blackhole binary of this build: builds it on first use (once per test process)
/// with `$CARGO build -q -p smtp-proto-tokio --example blackhole`, in the same target
/// directory and profile as the running test.
///
/// # Panics
/// If the build fails.
pub fn binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| build_example("blackhole")).as_path()
}

/// Builds the example `name` of `smtp-proto-tokio` with `$CARGO build -q -p
/// smtp-proto-tokio --example NAME`, in the same target directory and profile as the
/// running test, and returns its path. Callers keep the result in a `OnceLock` (one build
/// per test process).
///
/// # Panics
/// If the build fails or the binary is not where cargo puts it.
pub fn build_example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current_exe: {e}"));
    // <target>/<profile>/deps/<test binary>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .unwrap_or_else(|| panic!("unexpected test binary path {}", exe.display()));
    let target_dir = profile_dir
        .parent()
        .unwrap_or_else(|| panic!("unexpected test binary path {}", exe.display()));
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or_else(|| panic!("tests crate has no parent directory"));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .env("CARGO_TARGET_DIR", target_dir)
        .args(["build", "-q", "-p", "smtp-proto-tokio", "--example", name]);
    if profile_dir.file_name().is_some_and(|p| p == "release") {
        command.arg("--release");
    }
    let output = crate::run_with_timeout(&mut command, b"", Duration::from_secs(900));
    assert!(
        output.status.success(),
        "building {name} failed ({:?}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let binary = profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(binary.is_file(), "no {name} at {}", binary.display());
    binary
}

/// How many listening lines `args` should produce: one per listen flag, or the single
/// default listener when there is none.
fn expected_listeners(args: &[&str]) -> usize {
    let n = args
        .iter()
        .filter(|a| matches!(**a, "--listen" | "--tls-listen" | "--lmtp-listen"))
        .count();
    n.max(1)
}

/// A running blackhole process. Dropping it kills the process.
pub struct Blackhole {
    child: Child,
    listeners: Vec<Listener>,
    stdout: Arc<Collected>,
    stderr: Arc<Collected>,
    readers: Vec<JoinHandle<()>>,
}

impl Blackhole {
    /// Starts blackhole with `args` and waits (up to [`START_TIMEOUT`]) for one
    /// listening line per listen flag. Pass `--listen 127.0.0.1:0` (and the like) so the
    /// system picks free ports; the listening lines give them.
    ///
    /// # Panics
    /// If the binary cannot be built or started, exits early, or does not print its
    /// listening lines in time (the message shows what it printed).
    ///
    /// With `--maildir`, `--no-trace-headers` is added unless given: the suites compare
    /// Maildir files byte for byte with what was sent. [`start_exact`](Self::start_exact)
    /// keeps the trace headers.
    pub fn start(args: &[&str]) -> Self {
        if args.contains(&"--maildir") && !args.contains(&"--no-trace-headers") {
            let mut args = args.to_vec();
            args.push("--no-trace-headers");
            return Self::start_exact(&args);
        }
        Self::start_exact(args)
    }

    /// Starts blackhole with exactly `args`, as [`start`](Self::start) does but adding
    /// nothing (Maildir files get blackhole's trace header fields).
    ///
    /// # Panics
    /// As [`start`](Self::start).
    pub fn start_exact(args: &[&str]) -> Self {
        let mut child = Command::new(binary())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start blackhole: {e}"));
        let stdout = Arc::new(Collected::default());
        let stderr = Arc::new(Collected::default());
        let mut readers = Vec::new();
        if let Some(pipe) = child.stdout.take() {
            readers.push(collect(pipe, stdout.clone()));
        }
        if let Some(pipe) = child.stderr.take() {
            readers.push(collect(pipe, stderr.clone()));
        }
        let mut blackhole = Self {
            child,
            listeners: Vec::new(),
            stdout,
            stderr,
            readers,
        };
        blackhole.wait_for_listeners(args, expected_listeners(args));
        blackhole
    }

    /// Starts blackhole with one listener of each kind on ephemeral ports, `--quiet`, and
    /// then `extra`.
    pub fn start_all(extra: &[&str]) -> Self {
        let mut args = vec![
            "--listen",
            "127.0.0.1:0",
            "--tls-listen",
            "127.0.0.1:0",
            "--lmtp-listen",
            "127.0.0.1:0",
            "--quiet",
        ];
        args.extend_from_slice(extra);
        Self::start(&args)
    }

    /// Starts blackhole with one plain SMTP listener on an ephemeral port, `--quiet`, and
    /// then `extra`.
    pub fn start_smtp(extra: &[&str]) -> Self {
        let mut args = vec!["--listen", "127.0.0.1:0", "--quiet"];
        args.extend_from_slice(extra);
        Self::start(&args)
    }

    fn wait_for_listeners(&mut self, args: &[&str], expected: usize) {
        let deadline = crate::now() + START_TIMEOUT;
        let mut text = self
            .stdout
            .text
            .lock()
            .unwrap_or_else(|e| panic!("stdout lock: {e}"));
        loop {
            let found: Vec<Listener> = text.lines().filter_map(parse_listening_line).collect();
            if found.len() >= expected {
                self.listeners = found;
                return;
            }
            let exited = self.child.try_wait().ok().flatten();
            let now = crate::now();
            if exited.is_some() || now >= deadline {
                let stdout = text.clone();
                drop(text);
                panic!(
                    "blackhole {args:?} did not print {expected} listening line(s) ({}):\n--- stdout\n{stdout}\n--- stderr\n{}",
                    exited.map_or_else(|| "timeout".to_owned(), |s| format!("exited: {s}")),
                    self.stderr.snapshot()
                );
            }
            let wait = (deadline - now).min(Duration::from_millis(100));
            text = match self.stdout.changed.wait_timeout(text, wait) {
                Ok((guard, _)) => guard,
                Err(e) => panic!("stdout lock: {e}"),
            };
        }
    }

    /// Every listener, in the order of the flags.
    pub fn listeners(&self) -> &[Listener] {
        &self.listeners
    }

    fn first(&self, kind: ListenerKind) -> SocketAddr {
        self.listeners
            .iter()
            .find(|l| l.kind == kind)
            .map(|l| l.addr)
            .unwrap_or_else(|| panic!("blackhole has no {kind:?} listener: {:?}", self.listeners))
    }

    /// The first plain SMTP listener.
    ///
    /// # Panics
    /// If there is none.
    pub fn smtp_addr(&self) -> SocketAddr {
        self.first(ListenerKind::Smtp)
    }

    /// The first implicit-TLS listener.
    ///
    /// # Panics
    /// If there is none.
    pub fn smtps_addr(&self) -> SocketAddr {
        self.first(ListenerKind::Smtps)
    }

    /// The first LMTP listener.
    ///
    /// # Panics
    /// If there is none.
    pub fn lmtp_addr(&self) -> SocketAddr {
        self.first(ListenerKind::Lmtp)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGINT (graceful shutdown) with the `kill` program.
    ///
    /// # Panics
    /// If `kill` cannot be run or fails.
    pub fn interrupt(&self) {
        let status = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .unwrap_or_else(|e| panic!("cannot run kill: {e}"));
        assert!(
            status.success(),
            "kill -INT {} failed: {status}",
            self.child.id()
        );
    }

    /// Waits up to `timeout` for the process to exit, then for its output to be read to
    /// the end, and returns its exit status.
    ///
    /// # Panics
    /// If it is still running after `timeout` (it is then killed).
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = crate::now() + timeout;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if crate::now() < deadline => thread::sleep(Duration::from_millis(20)),
                Ok(None) => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    panic!(
                        "blackhole still running {timeout:?} after the request, killed\n--- stdout\n{}\n--- stderr\n{}",
                        self.stdout(),
                        self.stderr()
                    );
                }
                Err(e) => panic!("waiting for blackhole: {e}"),
            }
        };
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        status
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits up to `timeout` for a stdout line containing `needle` and returns it.
    ///
    /// # Panics
    /// If no such line is printed in time (the message shows what was).
    pub fn wait_for_stdout_line(&self, needle: &str, timeout: Duration) -> String {
        let deadline = crate::now() + timeout;
        loop {
            let stdout = self.stdout();
            if let Some(line) = stdout.lines().find(|line| line.contains(needle)) {
                return line.to_owned();
            }
            assert!(
                crate::now() < deadline,
                "no stdout line with {needle:?} within {timeout:?}:\n--- stdout\n{stdout}\n--- stderr\n{}",
                self.stderr()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Everything printed on stdout so far.
    pub fn stdout(&self) -> String {
        self.stdout.snapshot()
    }

    /// Everything printed on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.snapshot()
    }

    /// Runs blackhole with `args` to completion (flag errors, `--help`, bind failures),
    /// with a deadline of `timeout`.
    ///
    /// # Panics
    /// If it cannot be started or is still running after `timeout`.
    pub fn run(args: &[&str], timeout: Duration) -> Output {
        crate::run_with_timeout(Command::new(binary()).args(args), b"", timeout)
    }
}

impl Drop for Blackhole {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_lines() {
        assert_eq!(
            parse_listening_line("blackhole listening: smtps 127.0.0.1:4650\n"),
            Some(Listener {
                kind: ListenerKind::Smtps,
                addr: "127.0.0.1:4650".parse().unwrap(),
            })
        );
        assert_eq!(
            parse_listening_line("blackhole listening: imap 127.0.0.1:1"),
            None
        );
        assert_eq!(parse_listening_line("sessions 3 open | …"), None);
        assert_eq!(expected_listeners(&["--quiet"]), 1);
        assert_eq!(
            expected_listeners(&["--listen", "a", "--tls-listen", "b", "--lmtp-listen", "c"]),
            3
        );
    }
}
