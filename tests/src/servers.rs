//! The servers the wire suites run against: blackhole (a process, `--maildir`) and
//! in-process servers of both adapters (`smtp_proto_tokio::Listener`,
//! `smtp_proto_blocking::Listener`) with a handler that records every call and the bytes of
//! every message it accepted. One type, [`WireServer`], hides which is which; a [`Row`] is
//! a session (a [`Transcript`], run in memory too, or a socket-only [`Script`]) and what it
//! must leave behind; [`run_rows`] runs a table of rows against one target and reports
//! every failing row, [`run_in_memory`] runs transcript rows in memory;
//! [`on_targets!`](crate::on_targets) declares a test per target for a function of one
//! [`Target`], and [`in_memory!`](crate::in_memory) a test per function of rows.
//!
//! Feature `adapters` (default): it needs the adapters, tokio and rcgen.

use std::collections::BTreeSet;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::Duration;

use crate::transcript::{self, Run, Socket, Transcript};
use crate::wire::{Script, escape};
use crate::{Blackhole, TempDir, now, wait_for_empty_tmp};
use bytes::Bytes;
use smtp_proto::tls::{Endpoint, TlsMode};
use smtp_proto::{
    AbortReason, AuthData, CloseReason, ConnectionInfo, Decision, Domain, ForwardPath, MailParams,
    MessageInfo, RcptParams, Reply, ReversePath, ServerConfig, TlsInfo,
};

/// Where a wire test runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The blackhole binary, with [`blackhole_args`].
    Blackhole,
    /// `smtp_proto_tokio::Listener` in this process.
    Tokio,
    /// `smtp_proto_blocking::Listener` in this process.
    Blocking,
}

/// The name both blackhole and the in-process servers use.
pub const HOSTNAME: &str = "blackhole.localhost";

/// The credentials the recording handler and blackhole accept: `AUTH PLAIN
/// AHVzZXIAcGFzcw==` is `\0user\0pass`.
pub const USER: &str = "user";
/// See [`USER`].
pub const PASSWORD: &str = "pass";

/// The largest message of the shared profile: RFC 5321 §4.5.3.1.7's minimum, 64 KiB.
pub const MAX_MESSAGE: u64 = 65536;

/// How an in-process server uses TLS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tls {
    /// No TLS (STARTTLS not offered).
    Off,
    /// STARTTLS offered.
    Starttls,
    /// Implicit TLS (RFC 8314).
    Implicit,
}

/// What an in-process server is made of.
#[derive(Clone, Debug)]
pub struct Setup {
    /// The SMTP configuration.
    pub config: ServerConfig,
    /// The TLS mode.
    pub tls: Tls,
    /// How long the handler's `connect` takes.
    pub connect_delay: Duration,
    /// The listener's connection limit.
    pub max_connections: usize,
    /// The handler refuses every connection with this code.
    pub refuse_connect: Option<u16>,
    /// The handler refuses every message with this code.
    pub refuse_message: Option<u16>,
    /// How long the handler takes to decide about a message.
    pub message_delay: Duration,
}

impl Setup {
    /// The shared profile, the one [`blackhole_args`] gives blackhole: host name
    /// [`HOSTNAME`], STARTTLS, AUTH PLAIN and LOGIN (after TLS), messages up to
    /// [`MAX_MESSAGE`]; everything else at its default (strict line endings, the RFC 2920
    /// synchronisation check, STARTTLS injection discarded).
    pub fn new() -> Self {
        let mut config = ServerConfig::new(HOSTNAME);
        config.extensions.auth_mechanisms = vec!["PLAIN".to_owned(), "LOGIN".to_owned()];
        config.limits.max_message_size = MAX_MESSAGE;
        Self {
            config,
            tls: Tls::Starttls,
            connect_delay: Duration::ZERO,
            max_connections: 100,
            refuse_connect: None,
            refuse_message: None,
            message_delay: Duration::ZERO,
        }
    }

    /// The endpoint of a listener with this setup; it offers STARTTLS exactly when
    /// [`tls`](Self::tls) is [`Tls::Starttls`].
    pub fn endpoint(&self) -> Endpoint {
        let mode = match self.tls {
            Tls::Off => TlsMode::Off,
            Tls::Starttls => TlsMode::StartTls(server_tls()),
            Tls::Implicit => TlsMode::Implicit(server_tls()),
        };
        Endpoint::new(Arc::new(self.config.clone()), mode)
    }
}

impl Default for Setup {
    /// [`Setup::new`]: the shared profile.
    fn default() -> Self {
        Self::new()
    }
}

/// A rustls server configuration with a fresh self-signed certificate for `localhost`.
///
/// # Panics
/// If the certificate cannot be made (it can).
pub fn server_tls() -> Arc<rustls::ServerConfig> {
    let key = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("rcgen");
    let cert = rustls::pki_types::CertificateDer::from(key.cert.der().to_vec());
    let private = rustls::pki_types::PrivateKeyDer::Pkcs8(
        rustls::pki_types::PrivatePkcs8KeyDer::from(key.key_pair.serialize_der()),
    );
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("ring supports TLS 1.2 and 1.3")
    .with_no_client_auth()
    .with_single_cert(vec![cert], private)
    .expect("a valid certificate");
    Arc::new(config)
}

/// blackhole's flags for the shared profile ([`Setup::new`]), storing into `maildir`.
pub fn blackhole_args(maildir: &str) -> Vec<String> {
    let max = MAX_MESSAGE.to_string();
    let auth = format!("{USER}:{PASSWORD}");
    [
        "--listen",
        "127.0.0.1:0",
        "--quiet",
        "--hostname",
        HOSTNAME,
        "--auth",
        &auth,
        "--max-message-size",
        &max,
        "--maildir",
        maildir,
        // Maildir files compared byte for byte with what was sent.
        "--no-trace-headers",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

// ---- The recording handler ----------------------------------------------------------

/// What the handlers of one server saw: every call, in order, and the content of every
/// message they accepted.
#[derive(Debug, Default)]
pub struct Record {
    log: Mutex<Vec<String>>,
    delivered: Mutex<Vec<Vec<u8>>>,
}

impl Record {
    /// Appends one entry to the log.
    fn note(&self, entry: String) {
        self.log.lock().expect("log lock").push(entry);
    }

    /// Every call so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().expect("log lock").clone()
    }

    /// The messages accepted since the last call.
    pub fn take_delivered(&self) -> Vec<Vec<u8>> {
        std::mem::take(&mut *self.delivered.lock().expect("delivered lock"))
    }

    /// Waits up to `timeout` for the log to satisfy `done`; returns it either way.
    pub fn wait_for(&self, timeout: Duration, done: impl Fn(&[String]) -> bool) -> Vec<String> {
        let deadline = now() + timeout;
        loop {
            let log = self.log();
            if done(&log) || now() >= deadline {
                return log;
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Waits up to `timeout` for the `n`-th `close` entry; returns the log either way.
    pub fn wait_closes(&self, n: usize, timeout: Duration) -> Vec<String> {
        self.wait_for(timeout, |log| closes(log) >= n)
    }
}

/// How many sessions of `log` have ended.
pub fn closes(log: &[String]) -> usize {
    log.iter().filter(|e| e.starts_with("close ")).count()
}

/// A handler for both adapters that writes down every call in a [`Record`], accepts
/// everything (AUTH only for [`USER`]/[`PASSWORD`]) and keeps each accepted message, unless
/// its [`Setup`] says to refuse connections or messages.
#[derive(Debug)]
pub struct Recorder {
    record: Arc<Record>,
    content: Vec<u8>,
    connect_delay: Duration,
    refuse_connect: Option<u16>,
    refuse_message: Option<u16>,
    message_delay: Duration,
}

impl Recorder {
    /// A handler that records into `record`.
    pub fn new(record: Arc<Record>) -> Self {
        Self {
            record,
            content: Vec::new(),
            connect_delay: Duration::ZERO,
            refuse_connect: None,
            refuse_message: None,
            message_delay: Duration::ZERO,
        }
    }

    /// A handler that records into `record` and behaves as `setup` says.
    pub fn with_setup(record: Arc<Record>, setup: &Setup) -> Self {
        Self {
            connect_delay: setup.connect_delay,
            refuse_connect: setup.refuse_connect,
            refuse_message: setup.refuse_message,
            message_delay: setup.message_delay,
            ..Self::new(record)
        }
    }

    /// A new connection, for both adapters (after any `connect_delay`): recorded, and
    /// refused if the setup says so.
    fn on_connect(&self) -> Decision {
        self.note("connect".into());
        match self.refuse_connect {
            Some(code) => Err(Reply::new(code, "go away").expect("a valid refusal")),
            None => Ok(()),
        }
    }

    /// Writes one entry to the record.
    fn note(&self, entry: String) {
        self.record.note(entry);
    }

    /// MAIL FROM, for both adapters: recorded and accepted.
    fn on_mail(&self, from: &ReversePath) -> Decision {
        self.note(format!("mail {from}"));
        Ok(())
    }

    /// RCPT TO, for both adapters: recorded and accepted.
    fn on_rcpt(&self, to: &ForwardPath) -> Decision {
        self.note(format!("rcpt {to}"));
        Ok(())
    }

    /// DATA or the first BDAT: a new message begins.
    fn on_data_start(&mut self) -> Decision {
        self.note("data_start".into());
        self.content.clear();
        Ok(())
    }

    /// The end of a message, after `message_delay` (a blocking sleep: the tokio runtime of
    /// the in-process server has threads to spare): kept ("delivered") and accepted, or
    /// refused if the setup says so.
    fn on_message(&mut self, info: &MessageInfo) -> Decision {
        thread::sleep(self.message_delay);
        self.note(format!("message {}", info.size));
        let content = std::mem::take(&mut self.content);
        if let Some(code) = self.refuse_message {
            return Err(Reply::new(code, "not today").expect("a valid refusal"));
        }
        self.record
            .delivered
            .lock()
            .expect("delivered lock")
            .push(content);
        Ok(())
    }

    /// The message in progress is dropped.
    fn on_aborted(&mut self, reason: AbortReason) {
        self.note(format!("aborted {reason:?}"));
        self.content.clear();
    }

    /// AUTH: only [`USER`]/[`PASSWORD`] succeed.
    fn on_auth(&self, mechanism: &str, data: &AuthData) -> Decision {
        let known = matches!(data, AuthData::Credentials(c)
            if c.username == USER && c.password.expose() == PASSWORD);
        self.note(format!("auth {mechanism} {known}"));
        if known {
            Ok(())
        } else {
            Err(Reply::authentication_failed())
        }
    }
}

impl smtp_proto_tokio::Handler for Recorder {
    async fn connect(&mut self, _info: &ConnectionInfo) -> Decision {
        if !self.connect_delay.is_zero() {
            tokio::time::sleep(self.connect_delay).await;
        }
        self.on_connect()
    }
    async fn tls_established(&mut self, info: &TlsInfo) {
        self.note(format!("tls {}", info.protocol.as_deref().unwrap_or("?")));
    }
    async fn hello(&mut self, domain: &Domain) -> Decision {
        self.note(format!("ehlo {domain}"));
        Ok(())
    }
    async fn mail(&mut self, from: &ReversePath, _params: &MailParams) -> Decision {
        self.on_mail(from)
    }
    async fn rcpt(&mut self, to: &ForwardPath, _params: &RcptParams) -> Decision {
        self.on_rcpt(to)
    }
    async fn data_start(&mut self) -> Decision {
        self.on_data_start()
    }
    async fn data_chunk(&mut self, chunk: Bytes) {
        self.content.extend_from_slice(&chunk);
    }
    async fn message_complete(&mut self, info: &MessageInfo) -> Decision {
        self.on_message(info)
    }
    async fn message_aborted(&mut self, reason: AbortReason) {
        self.on_aborted(reason);
    }
    async fn auth(&mut self, mechanism: &str, data: &AuthData) -> Decision {
        self.on_auth(mechanism, data)
    }
    async fn transaction_reset(&mut self) {
        self.note("reset".into());
    }
    async fn closed(&mut self, reason: CloseReason) {
        self.note(format!("close {reason:?}"));
    }
}

impl smtp_proto_blocking::Handler for Recorder {
    fn connect(&mut self, _info: &ConnectionInfo) -> Decision {
        if !self.connect_delay.is_zero() {
            thread::sleep(self.connect_delay);
        }
        self.on_connect()
    }
    fn tls_established(&mut self, info: &TlsInfo) {
        self.note(format!("tls {}", info.protocol.as_deref().unwrap_or("?")));
    }
    fn hello(&mut self, domain: &Domain) -> Decision {
        self.note(format!("ehlo {domain}"));
        Ok(())
    }
    fn mail(&mut self, from: &ReversePath, _params: &MailParams) -> Decision {
        self.on_mail(from)
    }
    fn rcpt(&mut self, to: &ForwardPath, _params: &RcptParams) -> Decision {
        self.on_rcpt(to)
    }
    fn data_start(&mut self) -> Decision {
        self.on_data_start()
    }
    fn data_chunk(&mut self, chunk: Bytes) {
        self.content.extend_from_slice(&chunk);
    }
    fn message_complete(&mut self, info: &MessageInfo) -> Decision {
        self.on_message(info)
    }
    fn message_aborted(&mut self, reason: AbortReason) {
        self.on_aborted(reason);
    }
    fn auth(&mut self, mechanism: &str, data: &AuthData) -> Decision {
        self.on_auth(mechanism, data)
    }
    fn transaction_reset(&mut self) {
        self.note("reset".into());
    }
    fn closed(&mut self, reason: CloseReason) {
        self.note(format!("close {reason:?}"));
    }
}

// ---- Servers -------------------------------------------------------------------------

/// An in-process listener of one adapter serving [`Recorder`]s.
struct InProcess {
    stop: Option<Box<dyn FnOnce() + Send>>,
    done: mpsc::Receiver<()>,
}

impl InProcess {
    /// Binds 127.0.0.1:0 and serves `setup` with `target`'s listener on its own thread.
    fn start(target: Target, setup: &Setup, record: &Arc<Record>) -> (Self, SocketAddr) {
        let socket = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = socket.local_addr().expect("local_addr");
        let endpoint = setup.endpoint();
        let (done_tx, done) = mpsc::channel();
        let make = {
            let record = record.clone();
            let setup = setup.clone();
            move |_: &ConnectionInfo| Recorder::with_setup(record.clone(), &setup)
        };
        let limit = setup.max_connections;
        let grace = Duration::from_secs(2);
        let stop: Box<dyn FnOnce() + Send> = match target {
            Target::Tokio => {
                let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
                thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_multi_thread()
                        .worker_threads(2)
                        .enable_all()
                        .build()
                        .expect("tokio runtime");
                    runtime.block_on(async move {
                        socket.set_nonblocking(true).expect("nonblocking");
                        let socket = tokio::net::TcpListener::from_std(socket).expect("tokio");
                        smtp_proto_tokio::Listener::new(make)
                            .listen(socket, endpoint)
                            .max_connections(limit)
                            .grace_period(grace)
                            .run(async {
                                let _ = stop_rx.await;
                            })
                            .await
                            .expect("tokio listener");
                    });
                    let _ = done_tx.send(());
                });
                Box::new(move || {
                    let _ = stop_tx.send(());
                })
            }
            Target::Blocking => {
                let listener = smtp_proto_blocking::Listener::new(make)
                    .listen(socket, endpoint)
                    .max_connections(limit)
                    .grace_period(grace);
                let handle = listener.shutdown_handle();
                thread::spawn(move || {
                    listener.run().expect("blocking listener");
                    let _ = done_tx.send(());
                });
                Box::new(move || handle.shutdown())
            }
            Target::Blackhole => unreachable!("blackhole is not in-process"),
        };
        (
            Self {
                stop: Some(stop),
                done,
            },
            addr,
        )
    }
}

impl InProcess {
    /// Asks for a graceful shutdown and waits (bounded: the listener gives sessions a 2 s
    /// grace period) for the listener to return; false if it did not.
    fn stop(&mut self) -> bool {
        match self.stop.take() {
            Some(stop) => {
                stop();
                self.done.recv_timeout(Duration::from_secs(10)).is_ok()
            }
            None => true,
        }
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// blackhole with its Maildir, and the messages already reported.
struct Process {
    blackhole: Blackhole,
    maildir: TempDir,
    seen: Mutex<BTreeSet<PathBuf>>,
}

/// What a [`WireServer`] runs.
enum Inner {
    /// blackhole.
    Process(Box<Process>),
    /// An adapter's listener.
    InProcess(InProcess),
}

/// A running server of any [`Target`].
pub struct WireServer {
    /// What it is.
    pub target: Target,
    /// Where it listens (plain SMTP, or implicit TLS for [`Tls::Implicit`]).
    pub addr: SocketAddr,
    record: Arc<Record>,
    inner: Inner,
}

impl WireServer {
    /// Starts a server. blackhole always runs the shared profile ([`blackhole_args`]);
    /// `setup` shapes the in-process servers only.
    pub fn start(target: Target, setup: &Setup) -> Self {
        let record = Arc::new(Record::default());
        match target {
            Target::Blackhole => Self::start_blackhole(&[]),
            Target::Tokio | Target::Blocking => {
                let (server, addr) = InProcess::start(target, setup, &record);
                Self {
                    target,
                    addr,
                    record,
                    inner: Inner::InProcess(server),
                }
            }
        }
    }

    /// blackhole with the shared profile and `extra` flags.
    fn start_blackhole(extra: &[&str]) -> Self {
        let maildir = TempDir::new("wire");
        let mut args = blackhole_args(maildir.arg());
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let blackhole = Blackhole::start(&args);
        Self {
            target: Target::Blackhole,
            addr: blackhole.smtp_addr(),
            record: Arc::new(Record::default()),
            inner: Inner::Process(Box::new(Process {
                blackhole,
                maildir,
                seen: Mutex::default(),
            })),
        }
    }

    /// blackhole with the shared profile behind a load balancer: it requires a PROXY v2
    /// header from 127.0.0.1, and [`addr`](Self::addr) is a forwarder that sends one
    /// naming the real client before the client's bytes (`manual::proxy` PX-6: the rows must
    /// run exactly as without it). Keep the forwarder while the server is used.
    pub fn blackhole_behind_proxy() -> (Self, crate::CountingProxy) {
        let mut server =
            Self::start_blackhole(&["--proxy-protocol", "v2", "--trusted-proxy", "127.0.0.1"]);
        let forwarder = crate::CountingProxy::sending_proxy_header(server.addr);
        server.addr = forwarder.addr();
        (server, forwarder)
    }

    /// Graceful shutdown of an in-process server: returns the handler's log once the
    /// listener has returned.
    ///
    /// # Panics
    /// If the listener does not stop within 10 s, or for blackhole.
    pub fn shutdown(mut self) -> Vec<String> {
        match &mut self.inner {
            Inner::InProcess(server) => {
                assert!(server.stop(), "the listener stops within its grace period");
            }
            Inner::Process(_) => panic!("shutdown is for the in-process servers"),
        }
        self.record.log()
    }

    /// The recording handler's log, for the in-process servers.
    pub fn record(&self) -> Option<&Record> {
        match self.inner {
            Inner::Process(_) => None,
            Inner::InProcess(_) => Some(&self.record),
        }
    }

    /// The blackhole process, if this is one.
    pub fn blackhole(&self) -> Option<&Blackhole> {
        match &self.inner {
            Inner::Process(p) => Some(&p.blackhole),
            Inner::InProcess(_) => None,
        }
    }

    /// The Maildir of a blackhole server.
    pub fn maildir(&self) -> Option<&TempDir> {
        match &self.inner {
            Inner::Process(p) => Some(&p.maildir),
            Inner::InProcess(_) => None,
        }
    }

    /// The messages stored (blackhole: files that appeared in `new/`) or accepted by the
    /// handler since the last call, sorted.
    pub fn take_delivered(&self) -> Vec<Vec<u8>> {
        let mut messages = match &self.inner {
            Inner::InProcess(_) => self.record.take_delivered(),
            Inner::Process(p) => {
                let mut seen = p.seen.lock().expect("seen lock");
                let mut fresh = Vec::new();
                let dir = p.maildir.path().join("new");
                let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
                    .map(|entries| entries.filter_map(|e| Some(e.ok()?.path())).collect())
                    .unwrap_or_default();
                paths.sort();
                for path in paths {
                    if seen.insert(path.clone()) {
                        let bytes = std::fs::read(&path)
                            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
                        fresh.push(bytes);
                    }
                }
                fresh
            }
        };
        messages.sort();
        messages
    }
}

// ---- Tables of rows ------------------------------------------------------------------

/// The session of a [`Row`].
#[derive(Clone, Debug)]
pub enum Session {
    /// A socket-only [`Script`] of steps.
    Script(Script),
    /// A [`Transcript`], run in memory and over the socket: see
    /// [`transcript`]'s module docs for how its lines map to a socket.
    Transcript(Transcript),
}

impl From<Script> for Session {
    fn from(script: Script) -> Self {
        Self::Script(script)
    }
}

impl From<Transcript> for Session {
    fn from(transcript: Transcript) -> Self {
        Self::Transcript(transcript)
    }
}

/// A change to the SMTP configuration, made the same way to [`transcript::config`] in
/// memory and to [`Setup::new`]'s on the wire.
pub type Policy = fn(&mut ServerConfig);

/// One row of a table: a session and what it must leave behind. A row of a
/// [`Session::Transcript`] is written once and runs both ways: in memory
/// ([`Row::in_memory`], against [`transcript::config`]) and over a socket ([`run_rows`],
/// against each [`Target`]).
#[derive(Clone, Debug)]
pub struct Row {
    /// The rule's ID (smtp_proto::manual) and a few words.
    pub id: &'static str,
    /// A change to the SMTP configuration, in memory and on the wire. `Some`: on the
    /// adapters only (blackhole has no flag for it), each on a fresh server.
    pub policy: Option<Policy>,
    /// Changes to the shared profile on the wire. `Some`: on the adapters only, each on a
    /// fresh server.
    pub tweak: Option<fn(&mut Setup)>,
    /// The session.
    pub session: Session,
    /// The messages stored, byte for byte (any order). In memory: the content of the
    /// messages the application was asked to accept.
    pub delivered: Vec<Vec<u8>>,
    /// How many `MAIL` commands the handler saw (the smuggled ones must never be among
    /// them): on the in-process servers, and in memory (`Mail` events).
    pub transactions: usize,
    /// In-process servers: log entries that must not appear (substrings).
    pub absent: Vec<&'static str>,
    /// In-process servers: log entries that must appear (substrings).
    pub present: Vec<&'static str>,
    /// In memory: run only as written, not re-split (the row is about what one read holds).
    pub exact: bool,
    /// On the wire: write every `C:` read in writes of at most this many octets.
    pub pieces: Option<usize>,
}

impl Row {
    /// A row on the shared profile that stores nothing and opens `transactions`
    /// transactions.
    pub fn new(id: &'static str, transactions: usize, session: impl Into<Session>) -> Self {
        Self {
            id,
            policy: None,
            tweak: None,
            session: session.into(),
            delivered: Vec::new(),
            transactions,
            absent: Vec::new(),
            present: Vec::new(),
            exact: false,
            pieces: None,
        }
    }

    /// A row of the transcript `script` (see [`Row::new`]).
    ///
    /// # Panics
    /// If `script` does not parse, or has a line without a socket translation.
    pub fn transcript(id: &'static str, transactions: usize, script: impl Into<String>) -> Self {
        let transcript = Transcript::new(script);
        let memory_only = transcript.memory_only_lines();
        assert!(
            memory_only.is_empty(),
            "{id}: lines without a socket translation: {memory_only:?}"
        );
        Self::new(id, transactions, transcript)
    }

    /// The messages the row stores.
    #[must_use]
    pub fn delivers(mut self, messages: &[&[u8]]) -> Self {
        self.delivered = messages.iter().map(|m| m.to_vec()).collect();
        self
    }

    /// Runs on the adapters only, with the shared profile changed by `tweak`.
    #[must_use]
    pub fn tweak(mut self, tweak: fn(&mut Setup)) -> Self {
        self.tweak = Some(tweak);
        self
    }

    /// Changes the SMTP configuration in memory and on the wire; on the adapters only.
    #[must_use]
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = Some(policy);
        self
    }

    /// In memory, runs only as written ([`transcript::exact`]).
    #[must_use]
    pub fn exact(mut self) -> Self {
        self.exact = true;
        self
    }

    /// On the wire, writes in pieces of at most `size` octets.
    #[must_use]
    pub fn in_pieces(mut self, size: usize) -> Self {
        self.pieces = Some(size);
        self
    }

    /// A log entry (substring) that must not appear.
    #[must_use]
    pub fn absent(mut self, entry: &'static str) -> Self {
        self.absent.push(entry);
        self
    }

    /// A log entry (substring) that must appear.
    #[must_use]
    pub fn present(mut self, entry: &'static str) -> Self {
        self.present.push(entry);
        self
    }

    /// The shared profile with this row's policy and tweak.
    pub fn setup(&self) -> Setup {
        let mut setup = Setup::new();
        if let Some(policy) = self.policy {
            policy(&mut setup.config);
        }
        if let Some(tweak) = self.tweak {
            tweak(&mut setup);
        }
        setup
    }

    /// Whether the row runs on blackhole (no policy, no tweak).
    pub fn on_blackhole(&self) -> bool {
        self.policy.is_none() && self.tweak.is_none()
    }

    /// Runs the row's transcript in memory against [`transcript::config`] with the row's
    /// policy, as [`transcript::transcript`] or (for [`exact`](Self::exact) rows)
    /// [`transcript::exact`], and checks the messages and transactions.
    ///
    /// # Panics
    /// If the transcript does not run as written, the messages or the transactions differ,
    /// or the row is not a transcript.
    #[track_caller]
    pub fn in_memory(&self) -> Run {
        let Session::Transcript(transcript) = &self.session else {
            panic!("{}: a socket-only row", self.id);
        };
        let mut config = transcript::config();
        if let Some(policy) = self.policy {
            policy(&mut config.smtp);
        }
        let run = transcript.run_in_memory(config, self.exact);
        let mut messages: Vec<Vec<u8>> = run.messages.iter().map(|(m, _)| m.clone()).collect();
        messages.sort();
        let mut expected = self.delivered.clone();
        expected.sort();
        assert!(
            messages == expected,
            "{}: messages {:?}, expected {:?}",
            self.id,
            messages.iter().map(|m| escape(m)).collect::<Vec<_>>(),
            expected.iter().map(|m| escape(m)).collect::<Vec<_>>()
        );
        assert_eq!(
            run.transactions, self.transactions,
            "{}: Mail events",
            self.id
        );
        run
    }

    /// Runs the row on `server` and checks what it left behind.
    ///
    /// # Errors
    /// A description of what went wrong, with the session so far.
    pub fn check(&self, server: &WireServer) -> Result<(), String> {
        let log_start = server.record().map_or(0, |r| r.log().len());
        let closes_before = server.record().map_or(0, |r| closes(&r.log()));
        let outcome = match &self.session {
            Session::Script(script) => script.run(server.addr),
            Session::Transcript(transcript) => transcript.run_on_socket(
                server.addr,
                &Socket {
                    host: HOSTNAME.to_owned(),
                    pieces: self.pieces,
                },
            ),
        };
        // In-process: the row's session is over once its handler heard `close`.
        let log = server.record().map(|r| {
            let log = r.wait_closes(closes_before + 1, Duration::from_secs(5));
            log[log_start.min(log.len())..].to_vec()
        });
        outcome?;
        let mut expected = self.delivered.clone();
        expected.sort();
        let delivered = server.take_delivered();
        if delivered != expected {
            let show = |m: &[Vec<u8>]| m.iter().map(|m| escape(m)).collect::<Vec<_>>();
            return Err(format!(
                "stored {:?}, expected {:?}",
                show(&delivered),
                show(&expected)
            ));
        }
        if let Some(dir) = server.maildir() {
            let left = wait_for_empty_tmp(dir.path(), Duration::from_secs(3));
            if !left.is_empty() {
                return Err(format!("files left in the Maildir's tmp/: {left:?}"));
            }
        }
        if let Some(log) = log {
            if closes(&log) != 1 {
                return Err(format!("the handler did not hear one close: {log:?}"));
            }
            let mails = log.iter().filter(|e| e.starts_with("mail ")).count();
            if mails != self.transactions {
                return Err(format!(
                    "{mails} MAIL events, expected {}: {log:?}",
                    self.transactions
                ));
            }
            if let Some(bad) = self
                .absent
                .iter()
                .find(|a| log.iter().any(|e| e.contains(*a)))
            {
                return Err(format!("log has {bad:?}: {log:?}"));
            }
            if let Some(missing) = self
                .present
                .iter()
                .find(|p| !log.iter().any(|e| e.contains(*p)))
            {
                return Err(format!("log lacks {missing:?}: {log:?}"));
            }
        }
        Ok(())
    }
}

/// Runs every row in memory ([`Row::in_memory`]).
///
/// # Panics
/// If any row fails.
#[track_caller]
pub fn run_in_memory(rows: &[Row]) {
    for row in rows {
        row.in_memory();
    }
}

/// Runs every row that applies to `target` over a socket and panics with the list of the
/// failing ones.
///
/// # Panics
/// If any row fails.
pub fn run_rows(target: Target, rows: &[Row]) {
    let mut shared = None;
    let mut failures = Vec::new();
    let mut ran = 0;
    for row in rows {
        let result = if row.on_blackhole() {
            row.check(shared.get_or_insert_with(|| WireServer::start(target, &Setup::new())))
        } else if target == Target::Blackhole {
            continue;
        } else {
            row.check(&WireServer::start(target, &row.setup()))
        };
        ran += 1;
        if let Err(e) = result {
            failures.push(format!("{}: {e}", row.id));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {ran} rows failed on {target:?}:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// Runs the rows that apply to blackhole through a PROXY v2 forwarder
/// ([`WireServer::blackhole_behind_proxy`]) and panics with the list of failing ones.
///
/// # Panics
/// If any row fails, or none applies.
pub fn run_rows_behind_proxy(rows: &[Row]) {
    let (server, forwarder) = WireServer::blackhole_behind_proxy();
    let mut failures = Vec::new();
    let mut ran = 0;
    for row in rows.iter().filter(|row| row.on_blackhole()) {
        ran += 1;
        if let Err(e) = row.check(&server) {
            failures.push(format!("{}: {e}", row.id));
        }
    }
    assert!(ran > 0, "no row runs on blackhole");
    assert!(
        forwarder.connections() >= ran,
        "the rows did not go through the forwarder"
    );
    assert!(
        failures.is_empty(),
        "{} of {ran} rows failed behind a PROXY header:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// The resident set size of process `pid` in KiB (`VmRSS` in `/proc/<pid>/status`).
///
/// # Panics
/// If the file cannot be read or has no `VmRSS` line.
pub fn vm_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/status: {e}"));
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS in /proc/{pid}/status"))
}

/// Declares a `#[test]` per target and named function: each function takes a
/// [`Target`](crate::servers::Target), and runs on every target of the list, in a module
/// named after it (`blackhole`, `tokio_adapter`, `blocking_adapter`) inside the calling
/// module. A behaviour written once cannot pass on one adapter and be missing on another.
///
/// ```
/// use smtp_proto_tests::on_targets;
/// use smtp_proto_tests::servers::{Setup, Target, WireServer};
///
/// fn greets(target: Target) {
///     let server = WireServer::start(target, &Setup::new());
///     // …
/// }
///
/// fn quits(target: Target) {
///     // …
/// }
///
/// // blackhole::greets, tokio_adapter::greets, blocking_adapter::greets, and the same
/// // three for quits.
/// on_targets!([Blackhole, Tokio, Blocking]: greets, quits);
///
/// mod adapters {
///     use super::*;
///     // adapters::tokio_adapter::greets, adapters::blocking_adapter::greets.
///     on_targets!([Tokio, Blocking]: greets);
/// }
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! on_targets {
    ([$($target:ident),* $(,)?]: $($test:ident),+ $(,)?) => {
        $crate::on_targets!(@each [$($target),*] $($test),+);
    };
    (@each [] $($test:ident),+) => {};
    (@each [$first:ident $(, $rest:ident)*] $($test:ident),+) => {
        $crate::on_targets!(@module $first $($test),+);
        $crate::on_targets!(@each [$($rest),*] $($test),+);
    };
    (@module Blackhole $($test:ident),+) => {
        $crate::on_targets!(@tests blackhole Blackhole $($test),+);
    };
    (@module Tokio $($test:ident),+) => {
        $crate::on_targets!(@tests tokio_adapter Tokio $($test),+);
    };
    (@module Blocking $($test:ident),+) => {
        $crate::on_targets!(@tests blocking_adapter Blocking $($test),+);
    };
    (@tests $module:ident $target:ident $($test:ident),+) => {
        mod $module {
            $(#[test] fn $test() { super::$test($crate::servers::Target::$target); })+
        }
    };
}

/// Declares a `#[test]` per named function: each function returns the
/// [`Row`](crate::servers::Row)s of one rule, and the test of the same name runs them in
/// memory ([`run_in_memory`](crate::servers::run_in_memory)). Use it inside a module (the
/// functions are reached as `super::name`); the same functions make the tables that
/// [`run_rows`](crate::servers::run_rows) runs over sockets, so each row is written once.
///
/// ```
/// use smtp_proto_tests::servers::Row;
/// use smtp_proto_tests::transcript::{QUIT, greeted};
///
/// fn greets() -> Vec<Row> {
///     vec![Row::transcript("greets", 0, greeted() + QUIT)]
/// }
///
/// mod in_memory {
///     smtp_proto_tests::in_memory!(greets);
/// }
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! in_memory {
    ($($rows:ident),+ $(,)?) => {
        $(#[test] fn $rows() { $crate::servers::run_in_memory(&super::$rows()); })+
    };
}
