//! Accepting connections: several listening sockets, a thread per session up to a
//! connection limit, and graceful shutdown.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use smtp_proto::ConnectionInfo;
use smtp_proto::tls::Endpoint;

use crate::connection::{refuse, run};
use crate::handler::Handler;
use smtp_proto::Stop;

/// How often the accept loop looks for connections and for a shutdown request.
const ACCEPT_POLL: Duration = Duration::from_millis(10);

/// After the grace period, sessions get `421` at once; this is how long they may take to
/// send it before `run` returns without them.
const HARD_STOP: Duration = Duration::from_secs(5);

/// Asks a running [`Listener`] to shut down gracefully; clone it freely.
#[derive(Clone, Debug, Default)]
pub struct ShutdownHandle(Arc<AtomicBool>);

impl ShutdownHandle {
    /// Starts the graceful shutdown; [`Listener::run`] returns once it is over.
    pub fn shutdown(&self) {
        self.0.store(true, Ordering::Release);
    }

    fn requested(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// Serves SMTP on one or more `TcpListener`s (plain with STARTTLS, implicit TLS, LMTP:
/// each with its own [`Endpoint`]), one thread per session, until
/// [`ShutdownHandle::shutdown`].
///
/// * Over [`max_connections`](Self::max_connections) open sessions, a new connection gets
///   `421 4.3.2 … Too many connections` and is closed.
/// * On shutdown, listening stops; idle sessions get `421 4.3.2` at once, sessions with
///   a transaction open finish it and then get the 421. After the
///   [`grace_period`](Self::grace_period) every session still open gets the 421 at once.
pub struct Listener<F> {
    sockets: Vec<(TcpListener, Endpoint)>,
    make_handler: F,
    max_connections: usize,
    grace: Duration,
    shutdown: ShutdownHandle,
}

impl<F, H> Listener<F>
where
    F: Fn(&ConnectionInfo) -> H,
    H: Handler + 'static,
{
    /// A listener that makes one handler per connection with `make_handler`. Defaults:
    /// 1000 connections, 30 s grace period.
    pub fn new(make_handler: F) -> Self {
        Self {
            sockets: Vec::new(),
            make_handler,
            max_connections: 1000,
            grace: Duration::from_secs(30),
            shutdown: ShutdownHandle::default(),
        }
    }

    /// Adds a listening socket and what it speaks.
    #[must_use]
    pub fn listen(mut self, socket: TcpListener, endpoint: Endpoint) -> Self {
        self.sockets.push((socket, endpoint));
        self
    }

    /// The most sessions (threads) open at once (at least 1).
    #[must_use]
    pub fn max_connections(mut self, limit: usize) -> Self {
        self.max_connections = limit.max(1);
        self
    }

    /// How long a graceful shutdown waits for transactions in flight.
    #[must_use]
    pub fn grace_period(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// The addresses of the listening sockets, in the order they were added.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.sockets
            .iter()
            .filter_map(|(socket, _)| socket.local_addr().ok())
            .collect()
    }

    /// A handle that stops [`run`](Self::run) from another thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    /// Accepts and serves connections until shutdown is asked for, then shuts down
    /// gracefully and returns once every session has ended (or the grace period and a
    /// short hard stop have passed).
    ///
    /// # Errors
    ///
    /// Setting a listening socket non-blocking failed. Accept errors (e.g. out of file
    /// descriptors) are retried.
    pub fn run(self) -> io::Result<()> {
        let stop = Arc::new(AtomicU8::new(Stop::Run as u8));
        let open = Arc::new(AtomicUsize::new(0));
        let refusing = Arc::new(AtomicUsize::new(0));
        let sockets: Vec<(TcpListener, Arc<Endpoint>)> = self
            .sockets
            .into_iter()
            .map(|(socket, endpoint)| (socket, Arc::new(endpoint)))
            .collect();
        for (socket, _) in &sockets {
            socket.set_nonblocking(true)?;
        }
        while !self.shutdown.requested() {
            let mut idle = true;
            for (socket, endpoint) in &sockets {
                let (stream, peer) = match socket.accept() {
                    Ok(accepted) => accepted,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                    Err(_) => continue,
                };
                idle = false;
                let endpoint = endpoint.clone();
                if prepare(&stream).is_err() {
                    continue;
                }
                if open.load(Ordering::Acquire) >= self.max_connections {
                    if refusing.load(Ordering::Acquire) < self.max_connections {
                        let guard = Counted::new(&refusing);
                        thread::spawn(move || {
                            let _guard = guard;
                            let _ = refuse(stream, &endpoint);
                        });
                    }
                    continue;
                }
                let local = stream.local_addr().unwrap_or(peer);
                let info = ConnectionInfo::new(peer, local);
                let mut handler = (self.make_handler)(&info);
                let guard = Counted::new(&open);
                let stop = stop.clone();
                thread::spawn(move || {
                    let _guard = guard;
                    let _ = run(stream, &mut handler, &endpoint, info, &stop);
                });
            }
            if idle {
                thread::sleep(ACCEPT_POLL);
            }
        }
        drop(sockets);
        stop.store(Stop::Drain as u8, Ordering::Release);
        if !wait_until_closed(&open, self.grace) {
            stop.store(Stop::Now as u8, Ordering::Release);
            wait_until_closed(&open, HARD_STOP);
        }
        Ok(())
    }
}

/// Blocking mode and no Nagle delay for an accepted connection.
fn prepare(stream: &TcpStream) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_nodelay(true)
}

/// Waits for the open-session count to reach zero; false if `limit` passed first.
fn wait_until_closed(open: &AtomicUsize, limit: Duration) -> bool {
    let start = now();
    while open.load(Ordering::Acquire) > 0 {
        if now().saturating_duration_since(start) >= limit {
            return false;
        }
        thread::sleep(ACCEPT_POLL);
    }
    true
}

/// The listener's clock, for the shutdown waits only.
#[allow(clippy::disallowed_methods)]
fn now() -> Instant {
    Instant::now()
}

/// Counts a live thread for as long as it is held.
struct Counted(Arc<AtomicUsize>);

impl Counted {
    fn new(counter: &Arc<AtomicUsize>) -> Self {
        counter.fetch_add(1, Ordering::AcqRel);
        Self(counter.clone())
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}
