//! The `relay` example as a child process: built once per test process, started on an
//! ephemeral port with a spool directory, killed (`SIGKILL`, as a crash) or dropped.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::blackhole::{Collected, build_example, collect};

/// The relay binary of this build.
pub fn binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| build_example("relay"))
}

/// A running relay. Dropping it kills the process.
pub struct Relay {
    child: Child,
    addr: SocketAddr,
    stdout: Arc<Collected>,
    stderr: Arc<Collected>,
}

impl Relay {
    /// Starts `relay --listen 127.0.0.1:0 --spool SPOOL ARGS` and waits for its listening
    /// line. Retries come after 1 to 3 s instead of 300 s: a transient failure on a busy
    /// machine (a late DNS answer) then costs seconds, not the test; the back-off schedule
    /// itself is tested in virtual time (`relay_queue.rs`).
    ///
    /// # Panics
    /// If it cannot be built or started, or does not listen within 30 s.
    pub fn start(spool: &Path, args: &[&str]) -> Self {
        let mut child = Command::new(binary())
            .args([
                "--listen",
                "127.0.0.1:0",
                "--status-interval",
                "1s",
                "--min-backoff",
                "1s",
                "--max-backoff",
                "3s",
                "--spool",
            ])
            .arg(spool)
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start relay: {e}"));
        let stdout = Arc::new(Collected::default());
        let stderr = Arc::new(Collected::default());
        if let Some(pipe) = child.stdout.take() {
            collect(pipe, stdout.clone());
        }
        if let Some(pipe) = child.stderr.take() {
            collect(pipe, stderr.clone());
        }
        let deadline = crate::now() + Duration::from_secs(30);
        loop {
            let text = stdout.snapshot();
            if let Some(addr) = text
                .lines()
                .find_map(|l| l.strip_prefix("relay listening: smtp "))
                .and_then(|a| a.trim().parse().ok())
            {
                return Self {
                    child,
                    addr,
                    stdout,
                    stderr,
                };
            }
            let exited = child.try_wait().ok().flatten();
            if exited.is_some() || crate::now() >= deadline {
                panic!(
                    "relay did not start ({exited:?}):\n{text}\n--- stderr\n{}",
                    stderr.snapshot()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The SMTP listener's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What it printed on standard output so far.
    pub fn stdout(&self) -> String {
        self.stdout.snapshot()
    }

    /// What it logged so far.
    pub fn stderr(&self) -> String {
        self.stderr.snapshot()
    }

    /// Waits until `check` holds, up to `timeout`.
    ///
    /// # Panics
    /// On timeout, with what the relay printed and logged.
    pub fn wait_for(&self, timeout: Duration, what: &str, mut check: impl FnMut() -> bool) {
        let deadline = crate::now() + timeout;
        while !check() {
            if crate::now() >= deadline {
                panic!(
                    "timed out waiting for {what}\n--- relay stdout\n{}\n--- relay stderr\n{}",
                    self.stdout(),
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `kill -9`: a crash, with no chance to clean up.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Queue files left in `spool/queue` (progress records excluded).
pub fn queued(spool: &Path) -> usize {
    std::fs::read_dir(spool.join("queue"))
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter(|e| !e.file_name().to_string_lossy().ends_with(".done"))
                .count()
        })
        .unwrap_or(0)
}
