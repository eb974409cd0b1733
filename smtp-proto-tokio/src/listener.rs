//! Accepting connections: several listening sockets, a connection limit, and graceful
//! shutdown.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use smtp_proto::tls::Endpoint;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::connection::{refuse, run};
use crate::handler::Handler;
use smtp_proto::ConnectionInfo;
use smtp_proto::Stop;

/// After the grace period, sessions get `421` at once; this is how long their last
/// replies may take before the tasks are aborted.
const HARD_STOP: Duration = Duration::from_secs(5);

/// Serves SMTP on one or more `TcpListener`s (plain with STARTTLS, implicit TLS, LMTP:
/// each with its own [`Endpoint`]) until a shutdown future completes.
///
/// * Over [`max_connections`](Self::max_connections) open sessions, a new connection gets
///   `421 4.3.2 … Too many connections` and is closed.
/// * On shutdown, listening stops; idle sessions get `421 4.3.2` at once, sessions with
///   a transaction open finish it (a message in flight gets its final reply) and then
///   get the 421. After the [`grace_period`](Self::grace_period) every session still
///   open gets the 421 at once.
///
/// ```no_run
/// # async fn example() -> std::io::Result<()> {
/// use std::sync::Arc;
/// use smtp_proto::{ServerConfig, tls::{Endpoint, TlsMode}};
/// use smtp_proto_tokio::{Handler, Listener};
///
/// struct AcceptAll;
/// impl Handler for AcceptAll {}
///
/// let endpoint = Endpoint::new(Arc::new(ServerConfig::new("mx.example")), TlsMode::Off);
/// let socket = tokio::net::TcpListener::bind("127.0.0.1:2525").await?;
/// Listener::new(|_info| AcceptAll)
///     .listen(socket, endpoint)
///     .max_connections(500)
///     .run(async { let _ = tokio::signal::ctrl_c().await; })
///     .await
/// # }
/// ```
pub struct Listener<F> {
    sockets: Vec<(TcpListener, Endpoint)>,
    make_handler: F,
    max_connections: usize,
    grace: Duration,
}

impl<F, H> Listener<F>
where
    F: Fn(&ConnectionInfo) -> H + Send + Sync + 'static,
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
        }
    }

    /// Adds a listening socket and what it speaks.
    #[must_use]
    pub fn listen(mut self, socket: TcpListener, endpoint: Endpoint) -> Self {
        self.sockets.push((socket, endpoint));
        self
    }

    /// The most sessions open at once (at least 1).
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

    /// Accepts and serves connections until `shutdown` completes, then shuts down
    /// gracefully and returns once every session has ended.
    ///
    /// # Errors
    ///
    /// None so far: accept errors (e.g. out of file descriptors) are logged and retried.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        let (stop_tx, stop_rx) = watch::channel(Stop::Run);
        let (accepted_tx, mut accepted) = mpsc::channel(64);
        let mut acceptors = JoinSet::new();
        for (socket, endpoint) in self.sockets {
            acceptors.spawn(accept_loop(socket, Arc::new(endpoint), accepted_tx.clone()));
        }
        drop(accepted_tx);
        let make_handler = Arc::new(self.make_handler);
        let open = Arc::new(AtomicUsize::new(0));
        let refusing = Arc::new(AtomicUsize::new(0));
        let mut sessions = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
                next = accepted.recv() => {
                    let Some((stream, info, endpoint)) = next else { break };
                    if open.load(Ordering::Acquire) >= self.max_connections {
                        refuse_over_limit(&mut sessions, stream, endpoint, &refusing, self.max_connections);
                        continue;
                    }
                    let handler = make_handler(&info);
                    let guard = Counted::new(&open);
                    let stop = stop_rx.clone();
                    sessions.spawn(async move {
                        let _guard = guard;
                        serve_accepted(stream, handler, &endpoint, info, stop).await;
                    });
                }
            }
        }
        acceptors.abort_all();
        let _ = stop_tx.send(Stop::Drain);
        let drained = tokio::time::timeout(self.grace, join_all(&mut sessions)).await;
        if drained.is_err() {
            let _ = stop_tx.send(Stop::Now);
            if tokio::time::timeout(HARD_STOP, join_all(&mut sessions))
                .await
                .is_err()
            {
                sessions.abort_all();
            }
        }
        Ok(())
    }
}

/// A connection waiting to be served.
type Accepted = (TcpStream, ConnectionInfo, Arc<Endpoint>);

async fn accept_loop(socket: TcpListener, endpoint: Arc<Endpoint>, out: mpsc::Sender<Accepted>) {
    loop {
        match socket.accept().await {
            Ok((stream, peer)) => {
                // Replies are small and pipelined batches are written at once.
                let _ = stream.set_nodelay(true);
                let local = stream.local_addr().unwrap_or(peer);
                let info = ConnectionInfo::new(peer, local);
                if out.send((stream, info, endpoint.clone())).await.is_err() {
                    return;
                }
            }
            Err(error) => {
                // Out of descriptors or a connection reset before accept: try again soon.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn serve_accepted<H: Handler>(
    stream: TcpStream,
    mut handler: H,
    endpoint: &Endpoint,
    info: ConnectionInfo,
    stop: watch::Receiver<Stop>,
) {
    if let Err(error) = run(stream, &mut handler, endpoint, info, stop).await {
        tracing::debug!(%error, peer = %info.peer, "session ended by an I/O error");
    }
}

/// Over the limit: `421 4.3.2` and close. Refusals are bounded too: past as many again,
/// connections are dropped without a word.
fn refuse_over_limit(
    sessions: &mut JoinSet<()>,
    stream: TcpStream,
    endpoint: Arc<Endpoint>,
    refusing: &Arc<AtomicUsize>,
    limit: usize,
) {
    if refusing.load(Ordering::Acquire) >= limit {
        return;
    }
    let guard = Counted::new(refusing);
    sessions.spawn(async move {
        let _guard = guard;
        let _ = refuse(stream, &endpoint).await;
    });
}

async fn join_all(sessions: &mut JoinSet<()>) {
    while sessions.join_next().await.is_some() {}
}

/// Counts a live task for as long as it is held.
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
