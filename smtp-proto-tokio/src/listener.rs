//! Accepting connections: several listening sockets, one single-threaded runtime per
//! core, a connection limit, and graceful shutdown.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use smtp_proto::tls::Endpoint;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;

use crate::connection::{refuse, run};
use crate::handler::Handler;
use smtp_proto::ConnectionInfo;
use smtp_proto::Stop;

/// After the grace period, sessions get `421` at once; this is how long their last
/// replies may take before the tasks are aborted.
const HARD_STOP: Duration = Duration::from_secs(5);

/// The listen backlog of the sockets [`Listener::bind`] makes (each runtime's socket has
/// its own queue).
const BACKLOG: i32 = 1024;

/// Serves SMTP on one or more listening sockets (plain with STARTTLS, implicit TLS, LMTP:
/// each with its own [`Endpoint`]) until a shutdown future completes.
///
/// * By default the sessions run on one single-threaded tokio runtime per core, each on
///   its own thread: a session never moves between threads, so no wake-up crosses
///   threads. A socket added with [`bind`](Self::bind) is bound once per runtime with
///   `SO_REUSEPORT` and the kernel spreads new connections over them; a socket added with
///   [`listen`](Self::listen) is shared, and whichever runtime accepts first serves the
///   connection. [`threads`](Self::threads) sets how many runtimes;
///   [`on_current_runtime`](Self::on_current_runtime) serves on the runtime that awaits
///   [`run`](Self::run) instead.
/// * `make_handler` is called, and the handler runs, on the runtime that accepted the
///   connection.
/// * Over [`max_connections`](Self::max_connections) open sessions (counted across all
///   runtimes), a new connection gets `421 4.3.2 … Too many connections` and is closed;
///   on an implicit-TLS socket it is closed without a byte (see
///   [`Endpoint::refuse`]).
/// * On shutdown, listening stops on every runtime; idle sessions get `421 4.3.2` at
///   once, sessions with a transaction open finish it (a message in flight gets its final
///   reply) and then get the 421. After the [`grace_period`](Self::grace_period) every
///   session still open gets the 421 at once.
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
/// Listener::new(|_info| AcceptAll)
///     .bind("127.0.0.1:2525".parse().expect("an address"), endpoint)?
///     .max_connections(500)
///     .run(async { let _ = tokio::signal::ctrl_c().await; })
///     .await
/// # }
/// ```
pub struct Listener<F> {
    sockets: Vec<Socket>,
    make_handler: F,
    max_connections: usize,
    grace: Duration,
    /// Dedicated single-threaded runtimes (`Some(0)`: one per core), or `None`: the
    /// runtime that awaits `run`.
    threads: Option<usize>,
}

/// A listening socket, what it speaks, and how more runtimes get it.
struct Socket {
    socket: std::net::TcpListener,
    endpoint: Endpoint,
    /// Bound with `SO_REUSEPORT`: every further runtime binds a socket of its own to the
    /// same address. Otherwise every runtime accepts on a duplicate of this one.
    reuse_port: bool,
}

impl<F, H> Listener<F>
where
    F: Fn(&ConnectionInfo) -> H + Send + Sync + 'static,
    H: Handler + 'static,
{
    /// A listener that makes one handler per connection with `make_handler`. Defaults:
    /// 1000 connections, 30 s grace period, one single-threaded runtime per core.
    pub fn new(make_handler: F) -> Self {
        Self {
            sockets: Vec::new(),
            make_handler,
            max_connections: 1000,
            grace: Duration::from_secs(30),
            threads: Some(0),
        }
    }

    /// Adds a listening socket and what it speaks. With several runtimes they share it
    /// (each accepts on a duplicate); [`bind`](Self::bind) gives each its own.
    ///
    /// # Panics
    ///
    /// If the socket cannot be taken out of its runtime (see
    /// [`TcpListener::into_std`]), which does not happen for a socket that is listening.
    #[must_use]
    pub fn listen(mut self, socket: TcpListener, endpoint: Endpoint) -> Self {
        let socket = socket
            .into_std()
            .expect("a tokio TcpListener converts to a std one");
        self.sockets.push(Socket {
            socket,
            endpoint,
            reuse_port: false,
        });
        self
    }

    /// Binds `addr` with `SO_REUSEPORT` (and `SO_REUSEADDR`) and adds it with what it
    /// speaks. When [`run`](Self::run) starts several runtimes, each binds one more socket
    /// to the same address (the port this one got, if `addr`'s was 0) and the kernel
    /// spreads new connections over them. Any process of the same user could join the
    /// group by binding the port with `SO_REUSEPORT` too.
    ///
    /// # Errors
    ///
    /// Binding or listening failed (e.g. the address is in use).
    pub fn bind(mut self, addr: SocketAddr, endpoint: Endpoint) -> io::Result<Self> {
        self.sockets.push(Socket {
            socket: bind_reuse_port(addr)?,
            endpoint,
            reuse_port: true,
        });
        Ok(self)
    }

    /// The most sessions open at once (at least 1), across all runtimes.
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

    /// Serves on `threads` single-threaded runtimes, each on a thread of its own; 0 (the
    /// default) means one per core ([`std::thread::available_parallelism`]).
    #[must_use]
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = Some(threads);
        self
    }

    /// Serves on the runtime that awaits [`run`](Self::run), with no thread of its own:
    /// for an application that builds its runtime to measure.
    #[must_use]
    pub fn on_current_runtime(mut self) -> Self {
        self.threads = None;
        self
    }

    /// The addresses of the listening sockets, in the order they were added.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.sockets
            .iter()
            .filter_map(|socket| socket.socket.local_addr().ok())
            .collect()
    }

    /// Accepts and serves connections until `shutdown` completes, then shuts down
    /// gracefully and returns once every session on every runtime has ended.
    ///
    /// # Errors
    ///
    /// When the runtimes cannot be started: a thread or runtime cannot be made, or a
    /// further `SO_REUSEPORT` socket cannot be bound. Accept errors (e.g. out of file
    /// descriptors) are logged and retried.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        let Self {
            sockets,
            make_handler,
            max_connections,
            grace,
            threads,
        } = self;
        let (stop_tx, stop_rx) = watch::channel(Stop::Run);
        let (abort_tx, abort_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            make_handler,
            limit: max_connections,
            open: Arc::new(AtomicUsize::new(0)),
            refusing: Arc::new(AtomicUsize::new(0)),
        });
        let mut done = Vec::new();
        match threads {
            None => {
                let sockets = sockets
                    .into_iter()
                    .map(|s| (s.socket, Arc::new(s.endpoint)))
                    .collect();
                let (tx, rx) = oneshot::channel();
                tokio::spawn(async move {
                    serve_all(sockets, shared, stop_rx, abort_rx).await;
                    let _ = tx.send(());
                });
                done.push(rx);
            }
            Some(threads) => {
                let threads = match threads {
                    0 => thread::available_parallelism().map_or(1, usize::from),
                    n => n,
                };
                for shard in per_runtime(sockets, threads)? {
                    done.push(spawn_runtime(
                        shard,
                        shared.clone(),
                        stop_rx.clone(),
                        abort_rx.clone(),
                    )?);
                }
                drop((stop_rx, abort_rx));
            }
        }
        let all_done = async {
            for rx in &mut done {
                let _ = rx.await;
            }
        };
        tokio::pin!(all_done);
        tokio::select! {
            () = shutdown => {}
            // Every runtime ended on its own (its thread died): nothing left to stop.
            () = &mut all_done => return Ok(()),
        }
        let _ = stop_tx.send(Stop::Drain);
        if tokio::time::timeout(grace, &mut all_done).await.is_err() {
            let _ = stop_tx.send(Stop::Now);
            if tokio::time::timeout(HARD_STOP, &mut all_done)
                .await
                .is_err()
            {
                let _ = abort_tx.send(true);
                all_done.await;
            }
        }
        Ok(())
    }
}

/// What every runtime shares: the handler factory and the connection counts.
struct Shared<F> {
    make_handler: F,
    limit: usize,
    /// Sessions open, across all runtimes.
    open: Arc<AtomicUsize>,
    /// Refusals being written, across all runtimes.
    refusing: Arc<AtomicUsize>,
}

/// One runtime's listening sockets, with what each speaks.
type Sockets = Vec<(std::net::TcpListener, Arc<Endpoint>)>;

/// Splits the sockets over `threads` runtimes: a duplicate of a shared socket, or a
/// further `SO_REUSEPORT` socket bound to the same address, for each runtime after the
/// first.
fn per_runtime(sockets: Vec<Socket>, threads: usize) -> io::Result<Vec<Sockets>> {
    let mut shards: Vec<Sockets> = (0..threads).map(|_| Vec::new()).collect();
    for Socket {
        socket,
        endpoint,
        reuse_port,
    } in sockets
    {
        let endpoint = Arc::new(endpoint);
        let addr = socket.local_addr()?;
        for shard in shards.iter_mut().skip(1) {
            let more = if reuse_port {
                bind_reuse_port(addr)?
            } else {
                socket.try_clone()?
            };
            shard.push((more, endpoint.clone()));
        }
        shards[0].push((socket, endpoint));
    }
    Ok(shards)
}

/// Starts a thread with a single-threaded runtime serving `sockets`; the receiver hears
/// when the runtime is gone (every session ended, every socket closed).
fn spawn_runtime<F, H>(
    sockets: Sockets,
    shared: Arc<Shared<F>>,
    stop: watch::Receiver<Stop>,
    abort: watch::Receiver<bool>,
) -> io::Result<oneshot::Receiver<()>>
where
    F: Fn(&ConnectionInfo) -> H + Send + Sync + 'static,
    H: Handler + 'static,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (tx, rx) = oneshot::channel();
    thread::Builder::new()
        .name("smtp-listener".to_owned())
        .spawn(move || {
            runtime.block_on(serve_all(sockets, shared, stop, abort));
            drop(runtime);
            let _ = tx.send(());
        })?;
    Ok(rx)
}

/// Serves `sockets` on the current runtime until the stop request, then drains.
async fn serve_all<F, H>(
    sockets: Sockets,
    shared: Arc<Shared<F>>,
    stop: watch::Receiver<Stop>,
    abort: watch::Receiver<bool>,
) where
    F: Fn(&ConnectionInfo) -> H + Send + Sync + 'static,
    H: Handler + 'static,
{
    let mut acceptors = JoinSet::new();
    for (socket, endpoint) in sockets {
        let socket = match tokio_listener(socket) {
            Ok(socket) => socket,
            Err(error) => {
                tracing::error!(%error, "cannot register a listening socket");
                continue;
            }
        };
        acceptors.spawn(accept_loop(
            socket,
            endpoint,
            shared.clone(),
            stop.clone(),
            abort.clone(),
        ));
    }
    drop((stop, abort));
    join_all(&mut acceptors).await;
}

fn tokio_listener(socket: std::net::TcpListener) -> io::Result<TcpListener> {
    socket.set_nonblocking(true)?;
    TcpListener::from_std(socket)
}

/// Accepts on one socket and serves what it accepts until the stop request; then closes
/// the socket and waits for its sessions (or aborts them when told).
async fn accept_loop<F, H>(
    socket: TcpListener,
    endpoint: Arc<Endpoint>,
    shared: Arc<Shared<F>>,
    stop: watch::Receiver<Stop>,
    mut abort: watch::Receiver<bool>,
) where
    F: Fn(&ConnectionInfo) -> H + Send + Sync + 'static,
    H: Handler + 'static,
{
    let mut sessions = JoinSet::new();
    // A socket bound to one address accepts on that address: no system call per
    // connection to ask.
    let bound = socket
        .local_addr()
        .ok()
        .filter(|addr| !addr.ip().is_unspecified());
    let stopping = {
        let mut stop = stop.clone();
        async move {
            // A sender that went away is a stop too.
            let _ = stop.wait_for(|level| *level != Stop::Run).await;
        }
    };
    tokio::pin!(stopping);
    loop {
        tokio::select! {
            biased;
            () = &mut stopping => break,
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
            accepted = socket.accept() => match accepted {
                Ok((stream, peer)) => {
                    let local = bound.or_else(|| stream.local_addr().ok()).unwrap_or(peer);
                    accept(stream, ConnectionInfo::new(peer, local), &endpoint, &shared, &stop, &mut sessions);
                }
                Err(error) => {
                    // Out of descriptors or a connection reset before accept: try again
                    // soon.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
    drop(socket);
    tokio::select! {
        () = join_all(&mut sessions) => {}
        _ = abort.wait_for(|abort| *abort) => sessions.abort_all(),
    }
}

/// Serves a connection just accepted, or refuses it over the limit.
fn accept<F, H>(
    stream: TcpStream,
    info: ConnectionInfo,
    endpoint: &Arc<Endpoint>,
    shared: &Arc<Shared<F>>,
    stop: &watch::Receiver<Stop>,
    sessions: &mut JoinSet<()>,
) where
    F: Fn(&ConnectionInfo) -> H + Send + Sync + 'static,
    H: Handler + 'static,
{
    // Replies are small and pipelined batches are written at once.
    let _ = stream.set_nodelay(true);
    let Some(guard) = Counted::acquire(&shared.open, shared.limit) else {
        refuse_over_limit(sessions, stream, endpoint, shared);
        return;
    };
    let mut handler = (shared.make_handler)(&info);
    let endpoint = endpoint.clone();
    let stop = stop.clone();
    sessions.spawn(async move {
        let _guard = guard;
        if let Err(error) = run(stream, &mut handler, &endpoint, info, stop).await {
            tracing::debug!(%error, peer = %info.peer, "session ended by an I/O error");
        }
    });
}

/// Over the limit: `421 4.3.2` and close ([`Endpoint::refuse`]: on an implicit-TLS
/// socket, close without a byte). Refusals are bounded too: past as many again,
/// connections are dropped without a word.
fn refuse_over_limit<F>(
    sessions: &mut JoinSet<()>,
    stream: TcpStream,
    endpoint: &Arc<Endpoint>,
    shared: &Shared<F>,
) {
    let Some(guard) = Counted::acquire(&shared.refusing, shared.limit) else {
        return;
    };
    let endpoint = endpoint.clone();
    sessions.spawn(async move {
        let _guard = guard;
        let _ = refuse(stream, &endpoint).await;
    });
}

/// A listening socket with `SO_REUSEADDR` and `SO_REUSEPORT`, bound to `addr`.
fn bind_reuse_port(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    #[cfg(all(unix, not(any(target_os = "solaris", target_os = "illumos"))))]
    socket.set_reuse_port(true)?;
    if addr.is_ipv6() {
        // As std binds: an IPv6 socket takes IPv6 only.
        socket.set_only_v6(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

async fn join_all<T: 'static>(tasks: &mut JoinSet<T>) {
    while tasks.join_next().await.is_some() {}
}

/// Counts a live task for as long as it is held.
struct Counted(Arc<AtomicUsize>);

impl Counted {
    /// Counts one more, unless `limit` are counted already. Exact however many runtimes
    /// race for the last place: the check and the increment are one atomic step.
    fn acquire(counter: &Arc<AtomicUsize>, limit: usize) -> Option<Self> {
        counter
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < limit).then_some(n + 1)
            })
            .ok()
            .map(|_| Self(counter.clone()))
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Resolves on Ctrl-C or, on Unix, SIGTERM: the usual `shutdown` future for
/// [`Listener::run`].
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
