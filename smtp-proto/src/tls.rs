//! STARTTLS and implicit TLS (RFC 3207, RFC 8314) over rustls, still without I/O.
//!
//! A [`Session`] owns a [`Server`] and, once TLS starts, a [`rustls::ServerConnection`]:
//! the adapter feeds it raw socket bytes and writes the raw bytes it returns, whatever the
//! TLS state. Everything that makes STARTTLS safe happens here, once, for every adapter:
//!
//! * The `220 Ready to start TLS` leaves in plaintext, then every later byte is TLS.
//! * Plaintext the client pipelined after `STARTTLS` is dropped by the core (the
//!   CVE-2011-0411 injection); nothing read after TLS starts is ever taken as plaintext.
//! * [`Server::handle_tls_established`] runs before the first decrypted byte is fed: the
//!   client's first command may arrive in the same read as its `Finished`.
//! * A TLS error, or a TLS record after the client's `close_notify`, ends the session; it
//!   never falls back to plaintext (RFC 3207 §4.1, go-smtp's 2024 bug).
//!
//! # Example
//!
//! ```
//! # use std::{sync::Arc, time::Instant};
//! # use smtp_proto::{ServerConfig, tls::{Session, TlsMode}};
//! let config = Arc::new(ServerConfig::new("mx.example"));
//! let mut session = Session::new(config, TlsMode::Off, Instant::now()).unwrap();
//! let mut out = Vec::new();
//! let _ = session.poll_transmit(&mut out);
//! assert!(out.starts_with(b"220 mx.example"));
//! ```

use std::io::{self, BufRead, Write};
use std::sync::Arc;
use std::time::Instant;

use rustls::{ProtocolVersion, ServerConnection};

/// The rustls this module is built against, so applications configure TLS with the same
/// version.
pub use rustls;

use crate::server::Decision;
use crate::{ApiMisuse, Event, Pending, Reply, Server, ServerConfig, TlsInfo};

/// How a connection uses TLS.
#[derive(Clone, Debug)]
pub enum TlsMode {
    /// No TLS: `extensions.starttls` must be off.
    Off,
    /// Plaintext first, TLS after a `STARTTLS` (RFC 3207): `extensions.starttls` must be on.
    StartTls(Arc<rustls::ServerConfig>),
    /// TLS from the first byte (RFC 8314 implicit TLS, port 465); the greeting follows
    /// the handshake.
    Implicit(Arc<rustls::ServerConfig>),
}

/// What one listening socket speaks: the SMTP configuration and the TLS mode, checked
/// to fit together once, then used for every connection it accepts.
#[derive(Clone, Debug)]
pub struct Endpoint {
    config: Arc<ServerConfig>,
    tls: TlsMode,
}

impl Endpoint {
    /// Checks that `config` and `tls` agree: `extensions.starttls` is on exactly when
    /// `tls` is [`TlsMode::StartTls`] (for implicit TLS it does not matter: STARTTLS is
    /// never offered under TLS).
    ///
    /// # Errors
    ///
    /// [`ApiMisuse::StartTlsMismatch`] when they disagree.
    pub fn new(config: Arc<ServerConfig>, tls: TlsMode) -> Result<Self, ApiMisuse> {
        let starttls = matches!(tls, TlsMode::StartTls(_));
        if !matches!(tls, TlsMode::Implicit(_)) && config.extensions.starttls != starttls {
            return Err(ApiMisuse::StartTlsMismatch);
        }
        Ok(Self { config, tls })
    }

    /// The SMTP configuration.
    pub fn config(&self) -> &Arc<ServerConfig> {
        &self.config
    }

    /// The TLS mode.
    pub fn tls(&self) -> &TlsMode {
        &self.tls
    }

    /// A session for a connection just accepted.
    pub fn session(&self, now: Instant) -> Session {
        let (starttls, implicit) = match &self.tls {
            TlsMode::Off => (None, None),
            TlsMode::StartTls(tls) => (Some(tls.clone()), None),
            TlsMode::Implicit(tls) => (None, Some(tls.clone())),
        };
        let mut session =
            Session::with_server(Server::new(self.config.clone(), now), starttls, now);
        if let Some(tls) = implicit {
            session.begin_tls(tls);
        }
        session
    }

    /// A session that refuses the connection at once (see [`Server::refuse`]). It runs
    /// in plaintext even on an implicit-TLS endpoint: a refusal is not worth a handshake.
    pub fn refuse(&self, now: Instant, reply: Option<Reply>) -> Session {
        Session::with_server(Server::refuse(self.config.clone(), now, reply), None, now)
    }
}

/// One SMTP server session with its TLS layer: raw socket bytes in, raw socket bytes out.
///
/// The drain order is the [`Server`]'s: after each input, decision or control call, take
/// events with [`poll_event`](Self::poll_event) until `None`, write what
/// [`poll_transmit`](Self::poll_transmit) gives in one write, and arm the timer from
/// [`poll_timeout`](Self::poll_timeout). Read again only while
/// [`wants_read`](Self::wants_read); close the socket once [`is_closed`](Self::is_closed)
/// and the last bytes are written.
#[derive(Debug)]
pub struct Session {
    server: Server,
    /// The configuration a `STARTTLS` will use.
    starttls: Option<Arc<rustls::ServerConfig>>,
    /// The TLS connection, from `STARTTLS` (or the first byte, for implicit TLS) on.
    tls: Option<Box<ServerConnection>>,
    /// The handshake finished and the core knows it.
    established: bool,
    /// No more input is taken: the client's close_notify, its EOF, or a TLS error.
    input_closed: bool,
    /// The close_notify was queued after the session closed.
    close_notify_sent: bool,
    /// Plaintext that must leave before any TLS byte (the `220` to `STARTTLS`).
    plaintext_out: Vec<u8>,
    /// Replies on their way into rustls.
    replies: Vec<u8>,
    now: Instant,
}

impl Session {
    /// A session for a connection just accepted; the greeting is queued (for implicit TLS,
    /// it leaves after the handshake). With many connections, make an [`Endpoint`] once
    /// and call [`Endpoint::session`].
    ///
    /// # Errors
    ///
    /// [`ApiMisuse::StartTlsMismatch`], as for [`Endpoint::new`].
    pub fn new(config: Arc<ServerConfig>, mode: TlsMode, now: Instant) -> Result<Self, ApiMisuse> {
        Ok(Endpoint::new(config, mode)?.session(now))
    }

    fn with_server(
        server: Server,
        starttls: Option<Arc<rustls::ServerConfig>>,
        now: Instant,
    ) -> Self {
        Self {
            server,
            starttls,
            tls: None,
            established: false,
            input_closed: false,
            close_notify_sent: false,
            plaintext_out: Vec::new(),
            replies: Vec::new(),
            now,
        }
    }

    /// The SMTP state machine, for its getters (`in_transaction`, `is_tls`, `tls_info`, …).
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// Feeds bytes read from the socket. Input after the session closed, after the
    /// client's close_notify or after a TLS error is ignored.
    pub fn handle_input(&mut self, now: Instant, bytes: &[u8]) {
        self.now = now;
        if self.input_closed || self.server.is_closed() {
            return;
        }
        if self.tls.is_none() {
            // Outside TLS the core refuses input only during a handshake, and a handshake
            // always has a TLS connection; an error here cannot happen.
            let _ = self.server.handle_input(now, bytes);
            return;
        }
        let mut rest = bytes;
        while !rest.is_empty() && !self.input_closed {
            let Some(tls) = self.tls.as_mut() else { return };
            if tls.read_tls(&mut rest).is_err() {
                self.fail();
                return;
            }
            self.process_tls();
        }
    }

    /// The client closed its side of the connection (EOF on the socket).
    pub fn handle_eof(&mut self, now: Instant) {
        self.now = now;
        self.input_closed = true;
        self.server.handle_eof(now);
    }

    /// See [`Server::handle_timeout`].
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        self.server.handle_timeout(now);
    }

    /// The next event; see [`Server::poll_event`]. On [`Event::StartTls`] the `220` is
    /// already set aside to leave in plaintext, and the TLS handshake is under way.
    pub fn poll_event(&mut self) -> Option<Event> {
        let event = self.server.poll_event()?;
        if matches!(event, Event::StartTls { .. }) {
            // Replies queued up to here (the 220 last) leave before the handshake.
            let _ = self.server.poll_transmit(&mut self.plaintext_out);
            match self.starttls.clone() {
                Some(tls) => self.begin_tls(tls),
                None => self.fail(),
            }
        }
        Some(event)
    }

    /// Appends the raw bytes to write to the socket (plaintext, or TLS records) and
    /// returns how many there were; one call covers a whole pipelined batch.
    #[must_use = "the bytes must be written to the client"]
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        let start = out.len();
        out.append(&mut self.plaintext_out);
        match self.tls.as_mut() {
            None => {
                let _ = self.server.poll_transmit(out);
            }
            Some(tls) => {
                if self.established {
                    self.replies.clear();
                    if self.server.poll_transmit(&mut self.replies) > 0 {
                        // The rustls buffer for outgoing plaintext is unbounded by
                        // default, so this write takes everything.
                        let _ = tls.writer().write_all(&self.replies);
                    }
                    if self.server.is_closed() && !self.close_notify_sent {
                        tls.send_close_notify();
                        self.close_notify_sent = true;
                    }
                }
                while tls.wants_write() {
                    // Writing into a Vec cannot fail.
                    if tls.write_tls(out).is_err() {
                        break;
                    }
                }
            }
        }
        out.len() - start
    }

    /// See [`Server::poll_timeout`] (it also bounds the TLS handshake).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.server.poll_timeout()
    }

    /// Whether the adapter should read from the socket now.
    pub fn wants_read(&self) -> bool {
        if self.input_closed || self.server.is_closed() {
            false
        } else if self.tls.is_some() && !self.established {
            true
        } else {
            self.server.wants_read()
        }
    }

    /// Whether the session is over: write what `poll_transmit` gives, then close.
    pub fn is_closed(&self) -> bool {
        self.server.is_closed()
    }

    /// See [`Server::accept`].
    ///
    /// # Errors
    ///
    /// As there.
    pub fn accept(&mut self, now: Instant, pending: Pending) -> Result<(), ApiMisuse> {
        self.server.accept(now, pending)
    }

    /// See [`Server::respond`].
    ///
    /// # Errors
    ///
    /// As there.
    pub fn respond(
        &mut self,
        now: Instant,
        pending: Pending,
        reply: Reply,
    ) -> Result<(), ApiMisuse> {
        self.server.respond(now, pending, reply)
    }

    /// See [`Server::answer`].
    ///
    /// # Errors
    ///
    /// As there.
    pub fn answer(
        &mut self,
        now: Instant,
        pending: Pending,
        decision: Decision,
    ) -> Result<(), ApiMisuse> {
        self.server.answer(now, pending, decision)
    }

    /// See [`Server::respond_each`].
    ///
    /// # Errors
    ///
    /// As there.
    pub fn respond_each(
        &mut self,
        now: Instant,
        pending: Pending,
        replies: Vec<Reply>,
    ) -> Result<(), ApiMisuse> {
        self.server.respond_each(now, pending, replies)
    }

    /// See [`Server::challenge`].
    ///
    /// # Errors
    ///
    /// As there.
    pub fn challenge(
        &mut self,
        now: Instant,
        pending: Pending,
        data: &[u8],
    ) -> Result<(), ApiMisuse> {
        self.server.challenge(now, pending, data)
    }

    /// See [`Server::shutdown`].
    pub fn shutdown(&mut self, now: Instant, reply: Option<Reply>) {
        self.server.shutdown(now, reply);
    }

    /// See [`Server::shutdown_gracefully`].
    pub fn shutdown_gracefully(&mut self, now: Instant) {
        self.server.shutdown_gracefully(now);
    }

    fn begin_tls(&mut self, config: Arc<rustls::ServerConfig>) {
        match ServerConnection::new(config) {
            Ok(tls) => self.tls = Some(Box::new(tls)),
            Err(_) => self.fail(),
        }
    }

    /// Runs rustls on the records read so far and moves decrypted bytes into the core.
    fn process_tls(&mut self) {
        let Some(tls) = self.tls.as_mut() else { return };
        let Ok(state) = tls.process_new_packets() else {
            // rustls has queued an alert for `poll_transmit`.
            self.fail();
            return;
        };
        let peer_closed = state.peer_has_closed();
        if !self.established && !tls.is_handshaking() {
            self.established = true;
            let info = tls_info(tls);
            if self.server.handle_tls_established(self.now, info).is_err() {
                self.fail();
                return;
            }
        }
        if !self.established {
            return;
        }
        // Decrypted records go straight from rustls's buffer into the core (no copy here).
        let (Some(tls), server) = (self.tls.as_mut(), &mut self.server) else {
            return;
        };
        let failed = loop {
            let mut reader = tls.reader();
            let taken = match reader.fill_buf() {
                Ok([]) => break false,
                Ok(chunk) => {
                    // TLS is established, so the core is not in its handshake phase.
                    let _ = server.handle_input(self.now, chunk);
                    chunk.len()
                }
                Err(e) => break e.kind() != io::ErrorKind::WouldBlock,
            };
            reader.consume(taken);
        };
        if failed {
            self.fail();
            return;
        }
        if peer_closed {
            // close_notify: what came before it is processed, nothing after it is read.
            self.handle_eof(self.now);
        }
    }

    /// Ends the session after a TLS failure; nothing more is read.
    fn fail(&mut self) {
        self.input_closed = true;
        self.server.handle_tls_failure(self.now);
    }
}

/// The handshake's facts, as strings an application can log or match.
fn tls_info(tls: &ServerConnection) -> TlsInfo {
    let protocol = tls.protocol_version().map(|version| match version {
        ProtocolVersion::TLSv1_3 => "TLSv1.3".to_owned(),
        ProtocolVersion::TLSv1_2 => "TLSv1.2".to_owned(),
        other => format!("{other:?}"),
    });
    let cipher_suite = tls
        .negotiated_cipher_suite()
        .map(|suite| format!("{:?}", suite.suite()));
    TlsInfo::new(
        protocol,
        cipher_suite,
        tls.server_name().map(str::to_owned),
        tls.peer_certificates()
            .is_some_and(|certs| !certs.is_empty()),
    )
}
