//! HAProxy (the Debian package) in front of blackhole instances: started on loopback ports
//! with the repository's configuration, `tests/haproxy/blackhole.cfg`, whose addresses
//! come from the environment. Dropping it kills the process.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The configuration the README documents and the tests run.
pub fn config_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("haproxy/blackhole.cfg")
}

/// A loopback port free right now (bound and released: HAProxy cannot bind port 0 and
/// tell us, so a small race with other programs remains).
///
/// # Panics
/// If no port can be bound.
pub fn free_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
    listener
        .local_addr()
        .unwrap_or_else(|e| panic!("local_addr: {e}"))
}

/// A running HAProxy.
pub struct Haproxy {
    child: Child,
}

impl Haproxy {
    /// Runs `haproxy -db -f <config>` with `env` (the `${VAR}`s of the configuration).
    ///
    /// # Panics
    /// If it cannot be started.
    pub fn start(config: &std::path::Path, env: &[(&str, String)]) -> Self {
        let mut command = Command::new("haproxy");
        command
            .args(["-db", "-f"])
            .arg(config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start haproxy: {e}"));
        Self { child }
    }

    /// Waits until a session through `frontend` gets a greeting (the backends are up and
    /// their health checks passed).
    ///
    /// # Panics
    /// After `timeout`, or when HAProxy exited.
    pub fn wait_greeting(&mut self, frontend: SocketAddr, timeout: Duration) {
        let deadline = crate::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("haproxy exited: {status}");
            }
            if greets(frontend) {
                return;
            }
            assert!(crate::now() < deadline, "no greeting through {frontend}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Whether a connection to `addr` gets a 220 line (then says QUIT).
fn greets(addr: SocketAddr) -> bool {
    let Ok(stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut line = String::new();
    let ok = BufReader::new(&stream).read_line(&mut line).is_ok() && line.starts_with("220 ");
    if ok {
        let _ = std::io::Write::write_all(&mut &stream, b"QUIT\r\n");
    }
    ok
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
