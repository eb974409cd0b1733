//! External client programs: detect them, and run them with a deadline.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::Duration;

/// The environment variable that turns a missing tool into a test failure (CI sets it).
pub const REQUIRE_TOOLS_VAR: &str = "SMTP_PROTO_REQUIRE_TOOLS";

/// Whether an executable called `name` is on the `PATH`.
pub fn tool_installed(name: &str) -> bool {
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|dir| is_executable(&dir.join(name)))
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        path.metadata()
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

/// Whether the test may use the program `name`. When it is missing: with
/// `SMTP_PROTO_REQUIRE_TOOLS=1` the test fails; otherwise this prints
/// `SKIPPED: <name> not installed` to stderr and returns `false`, and the test returns.
///
/// # Panics
/// When the tool is missing and `SMTP_PROTO_REQUIRE_TOOLS=1`.
pub fn require_tool(name: &str) -> bool {
    if tool_installed(name) {
        return true;
    }
    if std::env::var(REQUIRE_TOOLS_VAR).as_deref() == Ok("1") {
        panic!("{name} is not installed, and {REQUIRE_TOOLS_VAR}=1 requires it");
    }
    eprintln!("SKIPPED: {name} not installed");
    false
}

/// Runs `command` with `stdin` as its standard input, capturing stdout and stderr; kills
/// it if it has not exited after `timeout`.
///
/// # Panics
/// If the program cannot be started, or it had to be killed (the panic message shows what
/// it printed).
pub fn run_with_timeout(command: &mut Command, stdin: &[u8], timeout: Duration) -> Output {
    run_with_paced_input(command, &[(Duration::ZERO, stdin)], timeout)
}

/// As [`run_with_timeout`], but the standard input is written in pieces: each `(pause,
/// bytes)` waits `pause`, then writes `bytes` (for interactive programs such as
/// `openssl s_client`, which send what they read at once).
///
/// # Panics
/// As [`run_with_timeout`].
pub fn run_with_paced_input(
    command: &mut Command,
    stdin: &[(Duration, &[u8])],
    timeout: Duration,
) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
    let input: Vec<(Duration, Vec<u8>)> = stdin.iter().map(|(p, b)| (*p, b.to_vec())).collect();
    let mut child_stdin = child.stdin.take();
    let writer = thread::spawn(move || {
        if let Some(pipe) = child_stdin.as_mut() {
            for (pause, bytes) in input {
                thread::sleep(pause);
                // The program may exit without reading everything: ignore EPIPE.
                if pipe.write_all(&bytes).and_then(|()| pipe.flush()).is_err() {
                    break;
                }
            }
        }
        // Dropping the pipe closes the program's stdin.
    });
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let deadline = crate::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if crate::now() < deadline => thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                let stdout = join(out);
                let stderr = join(err);
                panic!(
                    "{command:?} still running after {timeout:?}, killed\n--- stdout\n{}\n--- stderr\n{}",
                    String::from_utf8_lossy(&stdout),
                    String::from_utf8_lossy(&stderr)
                );
            }
            Err(e) => panic!("waiting for {command:?}: {e}"),
        }
    };
    let _ = writer.join();
    Output {
        status,
        stdout: join(out),
        stderr: join(err),
    }
}

fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut buf);
        }
        buf
    })
}

fn join(handle: thread::JoinHandle<Vec<u8>>) -> Vec<u8> {
    handle.join().unwrap_or_default()
}
