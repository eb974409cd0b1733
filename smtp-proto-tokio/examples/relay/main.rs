//! relay: a smart-host SMTP relay with a durable queue.
//!
//! `cargo run --release -p smtp-proto-tokio --example relay -- --smarthost [127.0.0.1]:2525`
//! accepts mail on 127.0.0.1:2526 from loopback clients (or after AUTH), writes each
//! message to the spool and fsyncs it before the 250, and delivers it to the smart host —
//! or, without `--smarthost`, to each recipient domain's MX hosts. Deferred mail is retried
//! with Postfix's back-off; what cannot be delivered comes back as an RFC 3464 bounce. A
//! restart delivers everything acknowledged and not yet delivered.
//!
//! The decisions live in the core's sans-IO [`smtp_proto::relay::Queue`]; this program
//! only moves bytes, files and DNS answers to and from it:
//!
//! * `receive`: the SMTP server side (relay authorisation, Received header, spooling);
//! * `spool`: the queue files (fsync, rename, recovery, quarantine);
//! * `dns`: hickory-resolver mapped onto the queue's DNS answers;
//! * `deliver`: one task per outbound connection (the core's client);
//! * this file: the scheduler task that runs the queue, and the status line.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

// The self-signed certificate for STARTTLS is made the way blackhole makes it.
#[path = "../blackhole/certs.rs"]
mod certs;
mod cli;
mod deliver;
mod dns;
// --proxy-protocol, --trusted-proxy and --xclient, as blackhole has them.
#[path = "../blackhole/proxy.rs"]
mod proxy;
mod receive;
mod spool;
#[cfg(test)]
#[path = "../blackhole/testing.rs"]
mod testing;

use std::collections::HashMap;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use smtp_proto::client::Verdict;
use smtp_proto::relay::dsn::{self, Context};
use smtp_proto::relay::spool::Envelope;
use smtp_proto::relay::{
    Action, BadAddresses, ConnId, Diagnosis, Job, Message, MxAnswer, Queue, QueueConfig, QueueId,
    RecipientResult,
};
use smtp_proto::tls::{Endpoint, TlsMode, rustls};
use smtp_proto::{ConnectionInfo, ReversePath, ServerConfig};
use smtp_proto_tokio::{Listener, shutdown_signal};
use tokio::sync::mpsc;

use crate::cli::Settings;
use crate::deliver::Outbound;
use crate::receive::Receiver;
use crate::spool::Spool;

/// What the sessions share.
pub(crate) struct Shared {
    pub(crate) settings: Settings,
    pub(crate) spool: Arc<Spool>,
    /// Messages acknowledged and not yet removed (admission control: 452 4.3.1 beyond
    /// `--max-queue`).
    pub(crate) queued: AtomicUsize,
    pub(crate) inputs: mpsc::UnboundedSender<Input>,
}

/// What reaches the scheduler task.
pub(crate) enum Input {
    /// A message was spooled (or recovered at start).
    Enqueue {
        id: QueueId,
        envelope: Envelope,
        settled: Vec<usize>,
    },
    /// An MX answer.
    Resolved(String, MxAnswer),
    /// A connection is ready for transactions.
    Connected(ConnId),
    /// A connection could not be opened.
    ConnectFailed(ConnId, Diagnosis),
    /// A transaction ended; the next hop offered DSN.
    Done(ConnId, Vec<RecipientResult>, bool),
    /// A reused connection was dead before its transaction started.
    Unsent(ConnId),
    /// A connection ended unasked.
    Closed(ConnId),
}

/// Counters for the status line.
#[derive(Default)]
struct Counters {
    delivered: AtomicU64,
    bounced: AtomicU64,
    deferred: AtomicU64,
}

/// The one place the relay reads the monotonic clock.
#[allow(clippy::disallowed_methods)]
pub(crate) fn now() -> Instant {
    Instant::now()
}

/// The one place the relay reads the wall clock: time since the Unix epoch (queue
/// identifiers, arrival dates, Received and DSN dates).
#[allow(clippy::disallowed_methods)]
pub(crate) fn since_epoch() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    since_epoch().as_secs()
}

fn main() -> ExitCode {
    let settings = Settings::from_args();
    init_logging(&settings.log_level);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build();
    match runtime {
        Ok(runtime) => runtime.block_on(serve(settings)),
        Err(error) => {
            eprintln!("relay: cannot start the runtime: {error}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
}

fn queue_config(settings: &Settings) -> QueueConfig {
    let mut config = QueueConfig::new(settings.route.clone(), settings.hostname.clone());
    config.min_backoff = settings.min_backoff;
    config.max_backoff = settings.max_backoff;
    config.lifetime = settings.lifetime;
    config.bounce_lifetime = settings.lifetime;
    config.delay_warning = settings.delay_warning;
    config.connection_limit = settings.connections.max(1);
    config.concurrency_limit = settings.destination_concurrency.max(1);
    config.initial_concurrency = config.initial_concurrency.min(config.concurrency_limit);
    config.messages_per_connection = settings.messages_per_connection.max(1);
    // Room for bounces beyond what clients may fill.
    config.max_messages = settings.max_queue.saturating_mul(2).max(1);
    config.seed = u64::from(std::process::id()) ^ unix_now().rotate_left(17);
    config
}

async fn serve(settings: Settings) -> ExitCode {
    let spool = match Spool::open(&settings.spool) {
        Ok(spool) => Arc::new(spool),
        Err(error) => {
            eprintln!(
                "relay: cannot use the spool {}: {error}",
                settings.spool.display()
            );
            return ExitCode::from(1);
        }
    };
    let dns = match dns::Dns::new(settings.dns_server) {
        Ok(dns) => dns,
        Err(error) => {
            eprintln!("relay: {error}");
            return ExitCode::from(1);
        }
    };
    let tls = match certs::server_config(None, &settings.hostname) {
        Ok(tls) => tls,
        Err(error) => {
            eprintln!("relay: {error}");
            return ExitCode::from(1);
        }
    };
    let (inputs, receiver) = mpsc::unbounded_channel();
    let recovered = match spool.recover() {
        Ok(found) => found,
        Err(error) => {
            eprintln!(
                "relay: cannot read the spool {}: {error}",
                settings.spool.display()
            );
            return ExitCode::from(1);
        }
    };
    let shared = Arc::new(Shared {
        settings: settings.clone(),
        spool: spool.clone(),
        queued: AtomicUsize::new(recovered.len()),
        inputs: inputs.clone(),
    });
    if !recovered.is_empty() {
        println!(
            "relay: {} queued messages recovered from {}",
            recovered.len(),
            settings.spool.display()
        );
    }
    for found in recovered {
        let _ = inputs.send(Input::Enqueue {
            id: found.id,
            envelope: found.envelope,
            settled: found.settled,
        });
    }
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let out = Arc::new(Outbound {
        settings: settings.clone(),
        dns,
        spool,
        bad: Mutex::new(BadAddresses::default()),
        roots: Arc::new(roots),
        inputs,
    });
    let scheduler = tokio::spawn(schedule(
        Queue::new(queue_config(&settings)),
        receiver,
        out,
        shared.clone(),
    ));

    let mut config = match ServerConfig::try_new(settings.hostname.clone()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("relay: --hostname {}: {error}", settings.hostname);
            return ExitCode::from(2);
        }
    };
    config.limits.max_message_size = settings.max_size;
    settings.proxy.apply(&mut config);
    if !settings.auth.is_empty() {
        config.extensions.auth_mechanisms = vec!["PLAIN".to_owned(), "LOGIN".to_owned()];
    }
    let endpoint = Endpoint::new(Arc::new(config), TlsMode::StartTls(tls));
    let for_sessions = shared.clone();
    let listener = Listener::new(move |_: &ConnectionInfo| Receiver::new(for_sessions.clone()))
        .on_current_runtime();
    let listener = match listener.bind(settings.listen, endpoint) {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("relay: cannot listen on {}: {error}", settings.listen);
            return ExitCode::from(1);
        }
    };
    for addr in listener.local_addrs() {
        println!("relay listening: smtp {addr}");
    }
    let result = listener.run(shutdown_signal()).await;
    scheduler.abort();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("relay: {error}");
            ExitCode::from(1)
        }
    }
}

/// The scheduler task: feeds the queue its inputs and carries out its actions.
async fn schedule(
    mut queue: Queue,
    mut inputs: mpsc::UnboundedReceiver<Input>,
    out: Arc<Outbound>,
    shared: Arc<Shared>,
) {
    let mut conns: HashMap<ConnId, mpsc::UnboundedSender<Job>> = HashMap::new();
    let counters = Counters::default();
    let interval = shared.settings.status_interval;
    let mut status = tokio::time::interval(if interval.is_zero() {
        Duration::from_secs(3600)
    } else {
        interval
    });
    let mut last_line = String::new();
    loop {
        while let Some(action) = queue.poll_action() {
            perform(&mut queue, action, &out, &shared, &mut conns).await;
        }
        let deadline = queue
            .poll_timeout()
            .map_or_else(|| now() + Duration::from_secs(3600), |at| at.max(now()));
        tokio::select! {
            input = inputs.recv() => match input {
                Some(input) => apply(&mut queue, input, &counters),
                None => return,
            },
            () = tokio::time::sleep_until(deadline.into()) => queue.handle_timeout(now()),
            _ = status.tick(), if !interval.is_zero() => {
                let line = status_line(&queue, &counters, shared.settings.status_destinations);
                if line != last_line {
                    println!("{line}");
                    last_line = line;
                }
            }
        }
    }
}

fn apply(queue: &mut Queue, input: Input, counters: &Counters) {
    let at = now();
    match input {
        Input::Enqueue {
            id,
            envelope,
            settled,
        } => {
            let age = Duration::from_secs(unix_now().saturating_sub(envelope.arrival_unix));
            let message = Message {
                id: id.clone(),
                from: envelope.from,
                params: envelope.params,
                recipients: envelope.recipients,
                settled,
                arrival: at.checked_sub(age).unwrap_or(at),
            };
            if let Err(error) = queue.enqueue(at, message) {
                tracing::error!(%id, %error, "not queued now; it stays in the spool for the next start");
            }
        }
        Input::Resolved(domain, answer) => queue.mx_resolved(at, &domain, answer),
        Input::Connected(conn) => queue.connected(at, conn),
        Input::ConnectFailed(conn, diagnosis) => {
            tracing::info!(?conn, reason = %diagnosis.line(), "connection failed");
            queue.connect_failed(at, conn, &diagnosis);
        }
        Input::Done(conn, results, dsn) => {
            for result in &results {
                let counter = match result.verdict {
                    Verdict::Delivered => &counters.delivered,
                    Verdict::Rejected => &counters.bounced,
                    Verdict::Deferred => &counters.deferred,
                };
                counter.fetch_add(1, Ordering::Relaxed);
            }
            queue.transaction_done(at, conn, &results, dsn);
        }
        Input::Unsent(conn) => queue.job_unsent(at, conn),
        Input::Closed(conn) => queue.closed(at, conn),
    }
}

async fn perform(
    queue: &mut Queue,
    action: Action,
    out: &Arc<Outbound>,
    shared: &Arc<Shared>,
    conns: &mut HashMap<ConnId, mpsc::UnboundedSender<Job>>,
) {
    match action {
        Action::Resolve { domain } => {
            let out = out.clone();
            tokio::spawn(async move {
                let answer = out.dns.mx(&domain).await;
                let _ = out.inputs.send(Input::Resolved(domain, answer));
            });
        }
        Action::Connect { conn, destination } => {
            let (jobs, receiver) = mpsc::unbounded_channel();
            conns.insert(conn, jobs);
            tokio::spawn(deliver::connection(
                out.clone(),
                conn,
                destination,
                receiver,
            ));
        }
        Action::Send { conn, job } => {
            if let Some(jobs) = conns.get(&conn) {
                let _ = jobs.send(job);
            }
        }
        Action::Close { conn } => {
            conns.remove(&conn);
        }
        Action::Notify(notice) => {
            if let Err(error) = bounce(queue, &notice, shared).await {
                tracing::error!(id = %notice.message, %error, "cannot write a delivery status notification");
            }
        }
        Action::Remove { id } => {
            let spool = shared.spool.clone();
            let _ = tokio::task::spawn_blocking(move || spool.remove(&id)).await;
            let _ = shared
                .queued
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                    Some(n.saturating_sub(1))
                });
        }
    }
}

/// Writes a notice as a new message from `<>` and queues it (DSN-06).
async fn bounce(
    queue: &mut Queue,
    notice: &smtp_proto::relay::Notice,
    shared: &Arc<Shared>,
) -> std::io::Result<()> {
    let spool = shared.spool.clone();
    let original_id = notice.message.clone();
    let original = tokio::task::spawn_blocking(move || spool.content(&original_id))
        .await
        .map_err(std::io::Error::other)??;
    let id = shared.spool.new_id();
    let now_unix = unix_now();
    let age = now().saturating_duration_since(notice.arrival).as_secs();
    let context = Context {
        reporting_mta: &shared.settings.hostname,
        id: id.as_str(),
        now_unix,
        arrival_unix: now_unix.saturating_sub(age),
        original: &original,
        full_limit: 1 << 20,
        headers_only: notice.requiretls,
    };
    let rendered = dsn::render(notice, &context);
    let mut params = smtp_proto::MailParams::default();
    params.smtputf8 = rendered.smtputf8;
    let envelope = Envelope {
        arrival_unix: now_unix,
        from: ReversePath::Null,
        params,
        recipients: vec![(rendered.to, Default::default())],
    };
    let spool = shared.spool.clone();
    let (store_id, store_envelope) = (id.clone(), envelope.clone());
    tokio::task::spawn_blocking(move || {
        spool.store(&store_id, &store_envelope, &[&rendered.content])
    })
    .await
    .map_err(std::io::Error::other)??;
    shared.queued.fetch_add(1, Ordering::Relaxed);
    let at = now();
    let message = Message {
        id,
        from: envelope.from,
        params: envelope.params,
        recipients: envelope.recipients,
        settled: Vec::new(),
        arrival: at,
    };
    queue.enqueue(at, message).map_err(std::io::Error::other)
}

/// `relay: 12 queued (3 deferred, 9 active), 4 connections; 120 delivered, 1 bounced, 7 deferrals`.
fn status_line(queue: &Queue, counters: &Counters, destinations: bool) -> String {
    let stats = queue.stats();
    let mut line = format!(
        "relay: {} queued ({} deferred, {} active), {} connections; {} delivered, {} bounced, {} deferrals",
        stats.messages,
        stats.deferred,
        stats.active,
        stats.connections,
        counters.delivered.load(Ordering::Relaxed),
        counters.bounced.load(Ordering::Relaxed),
        counters.deferred.load(Ordering::Relaxed),
    );
    if destinations {
        for (key, ready, connections) in queue.destinations() {
            line.push_str(&format!(
                "\n  {key}: {ready} ready, {connections} connections"
            ));
        }
    }
    line
}
