//! blackhole: a test SMTP server that accepts and forgets (or keeps) every message.
//!
//! `cargo run --release -p smtp-proto-tokio --example blackhole` listens on
//! 127.0.0.1:2525 with STARTTLS (a self-signed certificate made at start), accepts every
//! message, prints a summary line every 5 seconds and a final one on Ctrl-C, which shuts
//! down gracefully. `--help` lists the flags (modes, delays, Maildir, AUTH, LMTP, implicit
//! TLS); the README has the table.
#![forbid(unsafe_code)]

mod certs;
mod cli;
mod maildir;
mod policy;
mod stats;
mod switches;
#[cfg(test)]
mod testing;

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use smtp_proto::tls::{Endpoint, TlsMode, TlsServerConfig};
use smtp_proto::{AbortReason, AuthData, CloseReason, MessageInfo, Protocol, Reply, ServerConfig};
use smtp_proto_tokio::{ConnectionInfo, Decision, Handler, Listener};

use crate::cli::Settings;
use crate::maildir::{Delivery, Maildir};
use crate::stats::Stats;
use crate::switches::HeaderSwitches;

/// How often the summary line is printed.
const SUMMARY_EVERY: Duration = Duration::from_secs(5);

/// What every session shares.
struct Shared {
    settings: Settings,
    stats: Stats,
    maildir: Option<Maildir>,
}

/// One session's handler: counts, applies the mode and delay, stores if asked.
struct Blackhole {
    shared: Arc<Shared>,
    message: Option<Message>,
}

/// The message being received.
struct Message {
    switches: HeaderSwitches,
    delivery: Option<Delivery>,
    /// The first storage error; the message is then refused with 451.
    failed: bool,
}

impl Handler for Blackhole {
    async fn connect(&mut self, info: &ConnectionInfo) -> Decision {
        self.shared.stats.session_opened();
        tracing::debug!(peer = %info.peer, local = %info.local, "session opened");
        Ok(())
    }

    async fn auth(&mut self, mechanism: &str, data: &AuthData) -> Decision {
        let AuthData::Credentials(credentials) = data else {
            return Err(Reply::authentication_failed());
        };
        let known = self.shared.settings.auth.iter().any(|(user, password)| {
            *user == credentials.username && *password == *credentials.password.expose()
        });
        tracing::debug!(mechanism, user = %credentials.username, known, "AUTH");
        if known {
            Ok(())
        } else {
            Err(Reply::authentication_failed())
        }
    }

    async fn data_start(&mut self) -> Decision {
        let delivery = match &self.shared.maildir {
            Some(maildir) => match maildir.begin().await {
                Ok(delivery) => Some(delivery),
                Err(error) => {
                    tracing::error!(%error, "cannot create a Maildir file");
                    return Err(Reply::local_error());
                }
            },
            None => None,
        };
        self.message = Some(Message {
            switches: HeaderSwitches::new(),
            delivery,
            failed: false,
        });
        Ok(())
    }

    async fn data_chunk(&mut self, chunk: Bytes) {
        let Some(message) = self.message.as_mut() else {
            return;
        };
        if self.shared.settings.header_switches {
            message.switches.feed(&chunk);
        }
        if let Some(delivery) = message.delivery.as_mut()
            && !message.failed
            && let Err(error) = delivery.write(&chunk).await
        {
            tracing::error!(%error, "cannot write a Maildir file");
            message.failed = true;
        }
    }

    async fn message_complete(&mut self, info: &MessageInfo) -> Decision {
        let Some(message) = self.message.take() else {
            return Err(Reply::local_error());
        };
        let settings = &self.shared.settings;
        let mode = message.switches.mode().unwrap_or(settings.mode);
        let delay = message.switches.delay().unwrap_or(settings.delay);
        if !delay.is_zero() {
            tokio::time::sleep(delay.pick()).await;
        }
        if let Err(bounce) = mode.decide() {
            discard(message.delivery).await;
            self.shared.stats.message_bounced();
            return Err(bounce);
        }
        if message.failed {
            discard(message.delivery).await;
            return Err(Reply::local_error());
        }
        if let Some(delivery) = message.delivery {
            // Stored and synced before the 250: nothing acknowledged is lost.
            match delivery.commit().await {
                Ok(path) => tracing::debug!(path = %path.display(), "message stored"),
                Err(error) => {
                    tracing::error!(%error, "cannot store a Maildir file");
                    return Err(Reply::local_error());
                }
            }
        }
        self.shared.stats.message_accepted(info.size);
        Ok(())
    }

    async fn message_aborted(&mut self, reason: AbortReason) {
        tracing::debug!(?reason, "message aborted");
        if let Some(message) = self.message.take() {
            discard(message.delivery).await;
        }
    }

    async fn closed(&mut self, reason: CloseReason) {
        tracing::debug!(?reason, "session closed");
        if let Some(message) = self.message.take() {
            discard(message.delivery).await;
        }
        self.shared.stats.session_closed();
    }
}

async fn discard(delivery: Option<Delivery>) {
    if let Some(delivery) = delivery {
        delivery.discard().await;
    }
}

/// The SMTP configuration the flags describe.
fn smtp_config(settings: &Settings, protocol: Protocol) -> Arc<ServerConfig> {
    let mut config = ServerConfig::new(settings.hostname.clone());
    config.protocol = protocol;
    config.limits.max_message_size = settings.max_message_size;
    config.limits.max_recipients = settings.max_recipients;
    if !settings.auth.is_empty() {
        config.extensions.auth_mechanisms = vec!["PLAIN".to_owned(), "LOGIN".to_owned()];
    }
    config.require_tls = settings.require_tls;
    config.require_auth = settings.require_auth;
    Arc::new(config)
}

/// The listening addresses, each with what it speaks, in flag order.
fn endpoints(
    settings: &Settings,
    tls: &Arc<TlsServerConfig>,
) -> Vec<(SocketAddr, Endpoint, &'static str)> {
    let smtp = smtp_config(settings, Protocol::Smtp);
    let lmtp = smtp_config(settings, Protocol::Lmtp);
    let groups = [
        (
            &settings.listen,
            &smtp,
            TlsMode::StartTls(tls.clone()),
            "smtp",
        ),
        (
            &settings.tls_listen,
            &smtp,
            TlsMode::Implicit(tls.clone()),
            "smtps",
        ),
        (
            &settings.lmtp_listen,
            &lmtp,
            TlsMode::StartTls(tls.clone()),
            "lmtp",
        ),
    ];
    let mut all = Vec::new();
    for (addrs, config, mode, kind) in groups {
        for addr in addrs {
            all.push((*addr, Endpoint::new(config.clone(), mode.clone()), kind));
        }
    }
    all
}

fn init_logging(settings: &Settings) {
    let default = settings.log_level.as_deref().unwrap_or("info");
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
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

/// Prints the summary line every 5 seconds.
async fn report(shared: Arc<Shared>) {
    let mut before = shared.stats.snapshot();
    let mut last = now();
    let mut ticks = tokio::time::interval(SUMMARY_EVERY);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let snapshot = shared.stats.snapshot();
        let at = now();
        println!("{}", stats::summary_line(snapshot, before, at - last));
        (before, last) = (snapshot, at);
    }
}

/// The one place blackhole reads the monotonic clock.
#[allow(clippy::disallowed_methods)]
fn now() -> Instant {
    Instant::now()
}

fn main() -> ExitCode {
    let settings = cli::parse();
    init_logging(&settings);
    // The sessions run on the listener's own runtimes (`--threads`: one per core by
    // default); this one only waits for the signal and prints the summary lines.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    match runtime {
        Ok(runtime) => runtime.block_on(serve(settings)),
        Err(error) => {
            eprintln!("blackhole: cannot start the runtime: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Binds every listener and serves until Ctrl-C or SIGTERM.
async fn serve(settings: cli::Settings) -> ExitCode {
    let cert = settings
        .cert
        .as_ref()
        .map(|(chain, key)| (chain.as_path(), key.as_path()));
    let tls = match certs::server_config(cert, &settings.hostname) {
        Ok(tls) => tls,
        Err(message) => {
            eprintln!("blackhole: {message}");
            return ExitCode::from(2);
        }
    };
    let maildir = match &settings.maildir {
        Some(dir) => match Maildir::create(dir, &settings.hostname) {
            Ok(maildir) => Some(maildir),
            Err(error) => {
                eprintln!("blackhole: cannot use Maildir {}: {error}", dir.display());
                return ExitCode::from(2);
            }
        },
        None => None,
    };
    let endpoints = endpoints(&settings, &tls);
    let threads = settings.threads;
    let max_connections = settings.max_connections;
    let quiet = settings.quiet;
    let shared = Arc::new(Shared {
        settings,
        stats: Stats::new(),
        maildir,
    });
    let for_handlers = shared.clone();
    let mut listener = Listener::new(move |_: &ConnectionInfo| Blackhole {
        shared: for_handlers.clone(),
        message: None,
    })
    .max_connections(max_connections)
    .threads(threads);
    let mut stdout = std::io::stdout().lock();
    for (addr, endpoint, kind) in endpoints {
        listener = match listener.bind(addr, endpoint) {
            Ok(listener) => listener,
            Err(e) => {
                eprintln!("blackhole: cannot listen on {addr}: {e}");
                return ExitCode::from(1);
            }
        };
        let addr = listener
            .local_addrs()
            .last()
            .map_or_else(|| "?".to_owned(), SocketAddr::to_string);
        let _ = writeln!(stdout, "blackhole listening: {kind} {addr}");
    }
    let _ = stdout.flush();
    drop(stdout);
    let started = now();
    let reporter = (!quiet).then(|| tokio::spawn(report(shared.clone())));
    let result = listener.run(shutdown_signal()).await;
    if let Some(reporter) = reporter {
        reporter.abort();
    }
    println!(
        "{}",
        stats::final_line(shared.stats.snapshot(), now() - started)
    );
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("blackhole: {error}");
            ExitCode::from(1)
        }
    }
}
