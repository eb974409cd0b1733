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
mod faults;
mod maildir;
mod policy;
mod proxy;
mod stats;
mod switches;
#[cfg(test)]
mod testing;

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use smtp_proto::tls::{Endpoint, TlsMode, TlsServerConfig};
use smtp_proto::{
    AbortReason, AuthData, CloseReason, Domain, ForwardPath, MailParams, MessageInfo, Protocol,
    RcptParams, Reply, ReversePath, ServerConfig, TlsInfo,
};
use smtp_proto_tokio::{ConnectionInfo, Decision, Handler, Listener, Output, shutdown_signal};

use crate::cli::Settings;
use crate::faults::{Facts, Faults, Phase, SessionFaults};
use crate::maildir::{Delivery, Maildir, Trace};
use crate::stats::Stats;
use crate::switches::HeaderSwitches;

/// How often the summary line is printed (when something changed).
const SUMMARY_EVERY: Duration = Duration::from_secs(5);

/// How long a graceful shutdown waits for messages in flight (the listener's grace
/// period).
const GRACE: Duration = Duration::from_secs(30);

/// What every session shares.
struct Shared {
    settings: Settings,
    stats: Stats,
    maildir: Option<Maildir>,
    /// The `--fault` rules and their counters.
    faults: Faults,
    /// The bound addresses of the LMTP listeners (for the trace headers' protocol), set
    /// once every listener is bound, before the first connection is accepted.
    lmtp_addrs: OnceLock<Vec<SocketAddr>>,
}

/// One session's handler: counts, applies the mode and delay, stores if asked.
struct Blackhole {
    shared: Arc<Shared>,
    message: Option<Message>,
    session: Session,
    /// This session's side of the `--fault` rules.
    faults: SessionFaults,
}

/// Sessions started by this process: each session's id.
static SESSIONS: AtomicU64 = AtomicU64::new(0);

impl Blackhole {
    /// The handler of a new session, with the next session id.
    fn new(shared: Arc<Shared>) -> Self {
        let id = SESSIONS.fetch_add(1, Ordering::Relaxed) + 1;
        Self {
            faults: shared.faults.session(id),
            shared,
            message: None,
            session: Session {
                id,
                ..Session::default()
            },
        }
    }

    /// Runs the `--fault` rules of `phase` (`rcpt` and `user` as the phase knows them):
    /// `Err` carries the reply a rule chose.
    async fn fault(&mut self, phase: Phase, rcpt: &str, user: &str) -> Decision {
        let session = &self.session;
        let facts = Facts {
            client: session.peer.map(|peer| peer.ip()),
            helo: &session.helo,
            user,
            sender: &session.from,
            rcpt,
        };
        self.faults.at(&self.shared.faults, phase, &facts).await
    }

    /// The trace header fields of the message about to start.
    fn trace(&self) -> Trace<'_> {
        let session = &self.session;
        let protocol = match (session.lmtp, session.tls.is_some(), session.user.is_some()) {
            (true, _, _) => "LMTP",
            (false, false, false) => "ESMTP",
            (false, false, true) => "ESMTPA",
            (false, true, false) => "ESMTPS",
            (false, true, true) => "ESMTPSA",
        };
        Trace {
            from: &session.from,
            rcpts: &session.rcpts,
            helo: &session.helo,
            peer: session.peer,
            host: &self.shared.settings.hostname,
            protocol,
            tls: session
                .tls
                .as_ref()
                .map(|(version, cipher)| (version.as_str(), cipher.as_str())),
            unix_secs: maildir::unix_secs(),
        }
    }

    /// The `info` line of one message: who sent it, to whom, how big, and the answer.
    fn log_message(&self, size: Option<u64>, reply: &str) {
        let session = &self.session;
        let client = session
            .peer
            .map_or_else(|| "?".to_owned(), |peer| peer.to_string());
        let size = size.map_or_else(|| "-".to_owned(), |size| size.to_string());
        tracing::info!(
            session = session.id,
            client = %client,
            tls = %if session.tls.is_some() { "yes" } else { "no" },
            user = %session.user.as_deref().unwrap_or("-"),
            from = %session.from,
            rcpt = %session.rcpts.join(","),
            size = %size,
            reply = %reply,
            "message"
        );
    }
}

/// What one session said about itself, for log lines and trace headers.
#[derive(Default)]
struct Session {
    /// Numbered from 1 in the order sessions start.
    id: u64,
    /// The client's address.
    peer: Option<SocketAddr>,
    /// The TLS protocol and cipher suite, once TLS is on.
    tls: Option<(String, String)>,
    /// The authenticated user.
    user: Option<String>,
    /// The session came in on an LMTP listener.
    lmtp: bool,
    /// The name the client gave in HELO, EHLO or LHLO.
    helo: String,
    /// A load balancer's health check (module `proxy`): not counted as a session.
    health_check: bool,
    /// The envelope sender of the current transaction, as `<...>`.
    from: String,
    /// The envelope recipients of the current transaction, each as `<...>`.
    rcpts: Vec<String>,
}

/// The message being received.
struct Message {
    switches: HeaderSwitches,
    delivery: Option<Delivery>,
    /// The first storage error; the message is then refused with 451.
    failed: bool,
}

impl Handler for Blackhole {
    async fn xclient(&mut self, _attributes: &smtp_proto::Xclient, info: &ConnectionInfo) {
        self.session.peer = Some(info.peer);
        tracing::debug!(session = self.session.id, peer = %info.peer, proxy = %proxy::via(info), "XCLIENT");
    }

    async fn connect(&mut self, info: &ConnectionInfo) -> Decision {
        self.session.health_check = proxy::is_health_check(info);
        if self.session.health_check {
            tracing::debug!(session = self.session.id, "load balancer health check");
        } else {
            self.shared.stats.session_opened();
        }
        self.session.peer = Some(info.peer);
        self.session.lmtp = self
            .shared
            .lmtp_addrs
            .get()
            .is_some_and(|addrs| addrs.contains(&info.local));
        tracing::debug!(session = self.session.id, peer = %info.peer, local = %info.local, proxy = %proxy::via(info), "session opened");
        self.fault(Phase::Greeting, "", "").await
    }

    async fn start_tls(&mut self, _discarded: usize) {
        // No reply to choose here (the parser refuses one): delays, tarpits, disconnects.
        let _ = self.fault(Phase::Starttls, "", "").await;
    }

    async fn tls_established(&mut self, info: &TlsInfo) {
        let known = |s: &Option<String>| s.clone().unwrap_or_else(|| "unknown".to_owned());
        self.session.tls = Some((known(&info.protocol), known(&info.cipher_suite)));
    }

    async fn hello(&mut self, domain: &Domain) -> Decision {
        self.session.helo = domain.to_string();
        self.fault(Phase::Ehlo, "", "").await
    }

    async fn mail(&mut self, from: &ReversePath, _params: &MailParams) -> Decision {
        self.session.from = from.to_string();
        self.session.rcpts.clear();
        self.fault(Phase::Mail, "", "").await
    }

    async fn rcpt(&mut self, to: &ForwardPath, _params: &RcptParams) -> Decision {
        let to = to.to_string();
        self.fault(Phase::Rcpt, &to, "").await?;
        self.session.rcpts.push(to);
        Ok(())
    }

    /// Checks the user name and password against `--auth`. An authorization identity
    /// (PLAIN's `authzid`, RFC 4616 §2) asks to act as someone else: only the user's own
    /// (or none) is allowed here, so a known password never opens another account. An
    /// application that copies this must keep that check, or decide who may act as whom.
    async fn auth(&mut self, mechanism: &str, data: &AuthData) -> Decision {
        let user = match data {
            AuthData::Credentials(credentials) => credentials.username.as_str(),
            _ => "",
        };
        self.fault(Phase::Auth, "", user).await?;
        let AuthData::Credentials(credentials) = data else {
            return Err(Reply::authentication_failed());
        };
        if let Some(authzid) = &credentials.authzid
            && *authzid != credentials.username
        {
            tracing::debug!(mechanism, user = %credentials.username, %authzid, "AUTH as another identity refused");
            return Err(authzid_refused());
        }
        let known = self.shared.settings.auth.iter().any(|(user, password)| {
            *user == credentials.username && *password == *credentials.password.expose()
        });
        tracing::debug!(mechanism, user = %credentials.username, known, "AUTH");
        if known {
            self.session.user = Some(credentials.username.clone());
            Ok(())
        } else {
            Err(Reply::authentication_failed())
        }
    }

    async fn data_start(&mut self) -> Decision {
        self.fault(Phase::Data, "", "").await?;
        self.begin_message().await
    }

    async fn bdat_start(&mut self) -> Decision {
        self.fault(Phase::Bdat, "", "").await?;
        self.begin_message().await
    }

    async fn data_chunk(&mut self, chunk: Bytes) {
        self.faults.content(chunk.len());
        self.store_chunk(chunk).await;
    }

    async fn message_complete(&mut self, info: &MessageInfo) -> Decision {
        let decision = match self.fault(Phase::Dot, "", "").await {
            Ok(()) => self.complete(info).await,
            Err(reply) => {
                if let Some(message) = self.message.take() {
                    discard(message.delivery).await;
                }
                self.shared.stats.message_bounced();
                Err(reply)
            }
        };
        let reply = match &decision {
            Ok(()) => "250 accepted".to_owned(),
            Err(reply) => reply.to_string(),
        };
        self.log_message(Some(info.size), &reply);
        decision
    }

    async fn message_aborted(&mut self, reason: AbortReason) {
        self.log_message(None, &format!("aborted ({reason:?})"));
        if let Some(message) = self.message.take() {
            discard(message.delivery).await;
        }
    }

    async fn closed(&mut self, reason: CloseReason) {
        tracing::debug!(session = self.session.id, ?reason, "session closed");
        if let Some(message) = self.message.take() {
            discard(message.delivery).await;
        }
        if !self.session.health_check {
            self.shared.stats.session_closed();
        }
        if reason == CloseReason::Quit {
            // Before the 221 leaves: delays, tarpits, disconnects.
            let _ = self.fault(Phase::Quit, "", "").await;
        }
    }

    fn output(&mut self) -> Output {
        self.faults.output()
    }
}

impl Blackhole {
    /// DATA or BDAT accepted: a Maildir file opened (with the trace header fields) if
    /// messages are kept.
    async fn begin_message(&mut self) -> Decision {
        let delivery = match &self.shared.maildir {
            Some(maildir) => match maildir.begin().await {
                Ok(mut delivery) if self.shared.settings.trace_headers => {
                    let header = self.trace().header();
                    if let Err(error) = delivery.write(header.as_bytes()).await {
                        tracing::error!(%error, "cannot write a Maildir file");
                        delivery.discard().await;
                        return Err(Reply::local_error());
                    }
                    Some(delivery)
                }
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

    /// Message content: scanned for the header switches, written to the Maildir file.
    async fn store_chunk(&mut self, chunk: Bytes) {
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

    /// The end of a message: mode, delay, storage; the answer to give.
    async fn complete(&mut self, info: &MessageInfo) -> Decision {
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
}

/// `535 5.7.8`: a PLAIN authorization identity other than the user's own (RFC 4616 §2,
/// RFC 4954 §6).
fn authzid_refused() -> Reply {
    smtp_proto::EnhancedCode::new(5, 7, 8)
        .and_then(|code| {
            Reply::new(
                535,
                "Authentication credentials invalid (acting as another identity is not allowed)",
            )
            .ok()?
            .with_enhanced(code)
            .ok()
        })
        .unwrap_or_else(Reply::authentication_failed)
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
    config.pipelining_sync_check = !settings.allow_blind_pipelining;
    settings.proxy.apply(&mut config);
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
        // Colour only on a terminal: a file or a pipe gets plain text.
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
}

/// Prints the summary line every 5 seconds, when something changed.
async fn report(shared: Arc<Shared>) {
    let mut before = shared.stats.snapshot();
    let mut last = now();
    let mut ticks = tokio::time::interval(SUMMARY_EVERY);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let snapshot = shared.stats.snapshot();
        let at = now();
        if let Some(line) = stats::periodic_line(snapshot, before, at - last) {
            println!("{line}");
        }
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
    let seed = settings.seed.unwrap_or_else(|| fastrand::u64(..));
    let faults = Faults::new(settings.faults.clone(), seed);
    if !faults.is_empty() {
        tracing::info!(
            rules = settings.faults.len(),
            seed = faults.seed(),
            "faults armed (--seed {} repeats this run's draws)",
            faults.seed()
        );
    }
    let shared = Arc::new(Shared {
        faults,
        settings,
        stats: Stats::new(),
        maildir,
        lmtp_addrs: OnceLock::new(),
    });
    let for_handlers = shared.clone();
    let mut listener =
        Listener::new(move |_: &ConnectionInfo| Blackhole::new(for_handlers.clone()))
            .max_connections(max_connections)
            .grace_period(GRACE)
            .threads(threads);
    let mut stdout = std::io::stdout().lock();
    let mut lmtp_addrs = Vec::new();
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
        if kind == "lmtp" {
            lmtp_addrs.extend(listener.local_addrs().last().copied());
        }
    }
    let _ = shared.lmtp_addrs.set(lmtp_addrs);
    let _ = stdout.flush();
    drop(stdout);
    let started = now();
    let reporter = (!quiet).then(|| tokio::spawn(report(shared.clone())));
    // The first Ctrl-C (or SIGTERM) starts a graceful shutdown and says what it waits
    // for; a second one stops at once.
    let (asked, stopping) = tokio::sync::oneshot::channel();
    let first = {
        let shared = shared.clone();
        async move {
            shutdown_signal().await;
            let open = shared.stats.snapshot().sessions_open;
            println!("{}", stats::shutdown_line(open, GRACE));
            let _ = asked.send(());
        }
    };
    let second = async {
        if stopping.await.is_ok() {
            shutdown_signal().await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    let result = tokio::select! {
        result = listener.run(first) => result,
        () = second => {
            println!("{}", stats::stopped_line(shared.stats.snapshot().sessions_open));
            Ok(())
        }
    };
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
