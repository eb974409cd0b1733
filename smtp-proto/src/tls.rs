//! STARTTLS and implicit TLS (RFC 3207, RFC 8314) over rustls, still without I/O.
//!
//! A [`Connection`] runs its machine over a transport that is either plaintext or TLS:
//! the adapter feeds it raw socket bytes and writes the raw bytes it returns, whatever
//! the TLS state. Everything that makes STARTTLS safe happens here, once, for every
//! adapter and for both roles:
//!
//! * The reply that starts TLS (`220 Ready to start TLS`) leaves in plaintext, then every
//!   later byte is TLS.
//! * Plaintext the peer pipelined after the switch is dropped by the machine (the
//!   CVE-2011-0411 injection) and counted; nothing read after TLS starts is ever taken as
//!   plaintext.
//! * The machine hears that the handshake finished before the first decrypted byte is
//!   fed: the client's first command may arrive in the same read as its `Finished`.
//! * A TLS error, or a TLS record after the peer's `close_notify`, ends the session; it
//!   never falls back to plaintext (RFC 3207 §4.1, go-smtp's 2024 bug).
//!
//! Only making the `rustls` connection depends on the role ([`TlsRole`]); the layer holds
//! a [`rustls::Connection`], the client-or-server enum.
//!
//! # Example
//!
//! ```
//! # use std::{sync::Arc, time::Instant};
//! # use smtp_proto::{ServerConfig, connection::Next, tls::{Endpoint, TlsMode}};
//! let endpoint = Endpoint::new(Arc::new(ServerConfig::new("mx.example")), TlsMode::Off);
//! let now = Instant::now();
//! let mut connection = endpoint.accept(now);
//! assert!(matches!(connection.next(now), Next::Read { .. })); // anything sent early?
//! connection.handle_timeout(now); // no
//! let Next::Transmit { bytes, .. } = connection.next(now) else { panic!() };
//! assert!(bytes.starts_with(b"220 mx.example"));
//! ```

use std::io::{self, BufRead, Write};
use std::sync::Arc;
use std::time::Instant;

use rustls::ProtocolVersion;

/// The rustls this module is built against, so applications configure TLS with the same
/// version.
pub use rustls;
/// rustls's server configuration, named apart from [`crate::ServerConfig`] (the SMTP
/// one), so a file can import both.
pub use rustls::ServerConfig as TlsServerConfig;

use crate::client::{Client, ClientConfig, ConfigError, TlsPolicy};
use crate::connection::{Connection, ConnectionInfo, Machine};
use crate::proxy::Stage;
use crate::{Reply, Server, ServerConfig, TlsInfo};

/// How a connection uses TLS.
#[derive(Clone, Debug)]
pub enum TlsMode {
    /// No TLS.
    Off,
    /// Plaintext first, TLS after a `STARTTLS` (RFC 3207).
    StartTls(Arc<TlsServerConfig>),
    /// TLS from the first byte (RFC 8314 implicit TLS, port 465); the greeting follows
    /// the handshake.
    Implicit(Arc<TlsServerConfig>),
}

/// Which side of the handshake this end plays, and its configuration.
#[derive(Clone, Debug)]
pub enum TlsRole {
    /// The server side.
    Server(Arc<TlsServerConfig>),
    /// The client side, and the name of the server it expects.
    Client(
        Arc<rustls::ClientConfig>,
        rustls::pki_types::ServerName<'static>,
    ),
}

impl TlsRole {
    fn start(&self) -> Result<rustls::Connection, rustls::Error> {
        let mut tls: rustls::Connection = match self {
            Self::Server(config) => rustls::ServerConnection::new(config.clone())?.into(),
            Self::Client(config, name) => {
                rustls::ClientConnection::new(config.clone(), name.clone())?.into()
            }
        };
        // rustls's default limit (64 KiB) would make a write of more plaintext than that
        // short, losing the rest. Nothing accumulates without it: the layer hands rustls
        // one `poll_transmit` of the machine (bounded by the machine) and takes every
        // record out in the same call, and it writes plaintext only after the handshake,
        // so none waits in rustls's plaintext buffer either.
        tls.set_buffer_limit(None);
        Ok(tls)
    }
}

/// What one listening socket speaks: the SMTP configuration and the TLS mode, used for
/// every connection it accepts.
#[derive(Clone, Debug)]
pub struct Endpoint {
    config: Arc<ServerConfig>,
    tls: TlsMode,
}

impl Endpoint {
    /// The endpoint for `config` and `tls`. Its servers offer STARTTLS exactly when `tls`
    /// is [`TlsMode::StartTls`] (see [`Server::offering_starttls`]); under implicit TLS it
    /// is never offered, since TLS is already active.
    pub fn new(config: Arc<ServerConfig>, tls: TlsMode) -> Self {
        Self { config, tls }
    }

    /// The SMTP configuration.
    pub fn config(&self) -> &Arc<ServerConfig> {
        &self.config
    }

    /// The TLS mode.
    pub fn tls(&self) -> &TlsMode {
        &self.tls
    }

    /// The connection for a client just accepted; its greeting is queued (for implicit
    /// TLS, it leaves after the handshake). Nothing is known of the peer, so on a PROXY
    /// listener ([`ServerConfig::proxy`]) the connection is closed at once, without a byte:
    /// use [`accept_from`](Self::accept_from) there.
    pub fn accept(&self, now: Instant) -> Connection<Server> {
        let mut connection = self.start(now);
        if self.config.proxy.is_some() {
            connection.machine_mut().proxy_failed(now);
        }
        connection
    }

    /// A fresh connection for this endpoint's TLS mode.
    fn start(&self, now: Instant) -> Connection<Server> {
        let config = self.config.clone();
        let (server, layer) = match &self.tls {
            TlsMode::Off => (Server::new(config, now), Layer::plain()),
            TlsMode::StartTls(tls) => (
                Server::offering_starttls(config, now),
                Layer::starttls(TlsRole::Server(tls.clone())),
            ),
            TlsMode::Implicit(tls) => (
                Server::new(config, now),
                Layer::implicit(&TlsRole::Server(tls.clone())),
            ),
        };
        Connection::with_transport(server, layer)
    }

    /// The connection for a client just accepted, with what the listener knows of it:
    /// what adapters call. On top of [`accept`](Self::accept) it applies the listener's
    /// peer-dependent settings:
    ///
    /// * with [`ServerConfig::proxy`] the connection starts with the PROXY stage
    ///   ([`crate::proxy`]); a socket peer that is not a trusted proxy is closed at once,
    ///   without a byte ([`CloseReason::ProxyRejected`](crate::CloseReason::ProxyRejected));
    /// * a socket peer in [`ServerConfig::xclient`] may use XCLIENT.
    ///
    /// [`Connection::info`] then gives `info`, updated by the PROXY header and XCLIENT.
    pub fn accept_from(&self, now: Instant, info: ConnectionInfo) -> Connection<Server> {
        let mut connection = self.start(now);
        let socket_peer = info.socket_peer().ip();
        if self.config.xclient_allowed(socket_peer) {
            connection.machine_mut().allow_xclient();
        }
        if let Some(proxy) = &self.config.proxy {
            if proxy.trusts(socket_peer) {
                connection = connection.with_proxy_stage(Stage::new(proxy, now));
            } else {
                tracing::debug!(peer = %info.peer, "PROXY header expected from an untrusted peer: closed");
                connection.machine_mut().proxy_failed(now);
            }
        }
        connection.with_info(info)
    }

    /// A connection that refuses the client at once (see [`Server::refuse`]): it writes
    /// the reply and closes. On an implicit-TLS endpoint it closes without a byte: a TLS
    /// client cannot read a plaintext reply (it reports a protocol error), and a refusal
    /// (typically over a connection limit, when the server is busiest) is not worth a
    /// handshake. The client sees the connection close before the handshake, a transient
    /// failure it retries like a `421`.
    ///
    /// On a PROXY listener ([`ServerConfig::proxy`]) the reply goes out without waiting
    /// for the header: the balancer passes it on to its client.
    pub fn refuse(&self, now: Instant, reply: Option<Reply>) -> Connection<Server> {
        let mut server = Server::refuse(self.config.clone(), now, reply);
        if let TlsMode::Implicit(_) = self.tls {
            // Dropped unwritten: nothing leaves in plaintext.
            let _ = server.poll_transmit(&mut Vec::new());
        }
        Connection::plain(server)
    }
}

/// The TLS side of a client connection: the rustls configuration and the name the
/// server's certificate must carry (also sent as SNI).
#[derive(Clone, Debug)]
pub struct ClientTls {
    config: Arc<rustls::ClientConfig>,
    name: rustls::pki_types::ServerName<'static>,
    verified: bool,
}

impl ClientTls {
    /// Verifies the server's certificate against `roots` and `name` (CTLS, RFC 7817 §3):
    /// the default, and what REQUIRETLS needs.
    ///
    /// # Errors
    ///
    /// When `name` is not a DNS name or an IP address.
    pub fn verified(
        roots: rustls::RootCertStore,
        name: &str,
    ) -> Result<Self, rustls::pki_types::InvalidDnsNameError> {
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|_| rustls::pki_types::InvalidDnsNameError)?
        .with_root_certificates(roots)
        .with_no_client_auth();
        Self::with_config(Arc::new(config), name)
    }

    /// An application-built rustls configuration (client certificates, other roots),
    /// taken as verifying.
    ///
    /// # Errors
    ///
    /// When `name` is not a DNS name or an IP address.
    pub fn with_config(
        config: Arc<rustls::ClientConfig>,
        name: &str,
    ) -> Result<Self, rustls::pki_types::InvalidDnsNameError> {
        Ok(Self {
            config,
            name: rustls::pki_types::ServerName::try_from(name.to_owned())?,
            verified: true,
        })
    }

    /// **Accepts any certificate.** For tests against self-signed servers only: the
    /// session is encrypted but not authenticated, so a machine in the middle can read
    /// it, and REQUIRETLS mail is never sent over it (RTLS-01).
    ///
    /// # Errors
    ///
    /// When `name` is not a DNS name or an IP address.
    pub fn dangerous_accept_any_certificate(
        name: &str,
    ) -> Result<Self, rustls::pki_types::InvalidDnsNameError> {
        let config = accept_any_config().ok_or(rustls::pki_types::InvalidDnsNameError)?;
        let mut tls = Self::with_config(config, name)?;
        tls.verified = false;
        Ok(tls)
    }

    /// The same server name with a verifier that accepts any certificate (CTLS-09).
    fn unverified(self) -> Self {
        match accept_any_config() {
            Some(config) => Self {
                config,
                name: self.name,
                verified: false,
            },
            // The ring provider supports the default versions; keep verifying if not.
            None => self,
        }
    }

    /// Whether the certificate is verified.
    pub fn is_verified(&self) -> bool {
        self.verified
    }

    /// The rustls configuration (for a client that speaks TLS without this crate's
    /// machine, such as a test harness).
    pub fn config(&self) -> &Arc<rustls::ClientConfig> {
        &self.config
    }
}

/// The connection for a client that has just connected: plaintext (STARTTLS later, when
/// `tls` is given and the policy asks for it), or TLS from the first byte under
/// [`TlsPolicy::Implicit`]. Without `tls`, STARTTLS cannot succeed: a policy that
/// requires it ends the session as `TlsUnavailable`.
///
/// # Errors
///
/// A [`ConfigError`] from [`Client::new`].
pub fn client_connection(
    config: Arc<ClientConfig>,
    tls: Option<ClientTls>,
    now: Instant,
) -> Result<Connection<Client>, ConfigError> {
    let policy = config.tls;
    // CTLS-09: opportunistic TLS encrypts without verifying (Postfix `may`): a
    // self-signed or wrong-name certificate must not cost the message its encryption.
    let tls = match tls {
        Some(tls) if policy == TlsPolicy::Opportunistic && tls.verified => Some(tls.unverified()),
        other => other,
    };
    let verified = tls.as_ref().is_some_and(ClientTls::is_verified);
    let mut client = Client::new(config, now)?;
    client.set_tls_verified(verified);
    let layer = match (tls, policy) {
        (None, _) | (Some(_), TlsPolicy::None) => Layer::plain(),
        (Some(tls), TlsPolicy::Implicit) => Layer::implicit(&TlsRole::Client(tls.config, tls.name)),
        (Some(tls), _) => Layer::starttls(TlsRole::Client(tls.config, tls.name)),
    };
    Ok(Connection::with_transport(client, layer))
}

/// A client configuration whose verifier accepts any certificate; `None` only if the ring
/// provider lacked the default protocol versions.
fn accept_any_config() -> Option<Arc<rustls::ClientConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .ok()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
        .with_no_client_auth();
    Some(Arc::new(config))
}

/// The verifier of [`ClientTls::dangerous_accept_any_certificate`]: signatures are still
/// checked (the handshake stays sound), the certificate chain and name are not.
#[derive(Debug)]
struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The transport under a [`Connection`]: plaintext, or TLS from a switch (STARTTLS) or
/// from the first byte.
#[derive(Debug)]
pub(crate) struct Layer {
    /// How a switch to TLS makes its connection; `None`: a switch fails the session.
    switch: Option<TlsRole>,
    /// The TLS connection, from the switch (or the first byte) on.
    tls: Option<Box<rustls::Connection>>,
    /// The handshake finished and the machine knows it.
    established: bool,
    /// No more input is taken: the peer's close_notify, its EOF, or a TLS error.
    input_closed: bool,
    /// The close_notify was queued after the machine closed.
    close_notify_sent: bool,
    /// Plaintext that must leave before any TLS byte (the reply that started TLS).
    plaintext_out: Vec<u8>,
    /// An implicit-TLS connection could not be made, or rustls refused the machine's
    /// bytes: the session fails at its next event.
    broken: bool,
}

impl Layer {
    /// Plaintext for ever.
    pub(crate) fn plain() -> Self {
        Self {
            switch: None,
            tls: None,
            established: false,
            input_closed: false,
            close_notify_sent: false,
            plaintext_out: Vec::new(),
            broken: false,
        }
    }

    /// Plaintext until the machine asks for TLS.
    pub(crate) fn starttls(role: TlsRole) -> Self {
        Self {
            switch: Some(role),
            ..Self::plain()
        }
    }

    /// TLS from the first byte.
    pub(crate) fn implicit(role: &TlsRole) -> Self {
        let mut layer = Self::plain();
        match role.start() {
            Ok(tls) => layer.tls = Some(Box::new(tls)),
            // rustls checks its configuration when it is built, so this does not happen in
            // practice; if it does, the session fails at its first event.
            Err(_) => layer.broken = true,
        }
        layer
    }

    #[inline]
    pub(crate) fn handle_input<M: Machine>(&mut self, machine: &mut M, now: Instant, bytes: &[u8]) {
        if self.input_closed || machine.is_closed() {
            return;
        }
        if self.tls.is_none() {
            machine.handle_input(now, bytes);
            return;
        }
        let mut rest = bytes;
        while !rest.is_empty() && !self.input_closed {
            let Some(tls) = self.tls.as_mut() else { return };
            if tls.read_tls(&mut rest).is_err() {
                self.fail(machine, now);
                return;
            }
            self.process_tls(machine, now);
        }
    }

    #[inline]
    pub(crate) fn handle_eof<M: Machine>(&mut self, machine: &mut M, now: Instant) {
        self.input_closed = true;
        machine.handle_eof(now);
    }

    #[inline]
    pub(crate) fn poll_event<M: Machine>(
        &mut self,
        machine: &mut M,
        now: Instant,
    ) -> Option<M::Event> {
        if std::mem::take(&mut self.broken) {
            self.fail(machine, now);
        }
        let event = machine.poll_event()?;
        if M::starts_tls(&event).is_some() {
            // Bytes queued up to here (the reply that starts TLS last) leave before the
            // handshake.
            let _ = machine.poll_transmit(&mut self.plaintext_out);
            match self.switch.take().map(|role| role.start()) {
                Some(Ok(tls)) => self.tls = Some(Box::new(tls)),
                _ => self.fail(machine, now),
            }
        }
        Some(event)
    }

    /// Appends the raw bytes to write (plaintext, or TLS records).
    #[inline]
    pub(crate) fn poll_transmit<M: Machine>(
        &mut self,
        machine: &mut M,
        out: &mut Vec<u8>,
    ) -> usize {
        let start = out.len();
        if !self.plaintext_out.is_empty() {
            // Taken, not appended: its capacity leaves with it (sent once per session).
            out.extend_from_slice(&std::mem::take(&mut self.plaintext_out));
        }
        let Some(tls) = self.tls.as_mut() else {
            let _ = machine.poll_transmit(out);
            return out.len() - start;
        };
        if self.established {
            // The machine's plaintext goes at the end of `out` for as long as rustls takes
            // to encrypt it, then makes room for the records: no buffer of its own.
            let plain = out.len();
            if machine.poll_transmit(out) > 0 {
                // Without a buffer limit (see `TlsRole::start`) rustls takes it all. If it
                // ever refuses bytes, the session fails at its next event rather than go on
                // with a gap in what it sent.
                if tls.writer().write_all(&out[plain..]).is_err() {
                    self.broken = true;
                }
                out.truncate(plain);
            }
            if machine.is_closed() && !self.close_notify_sent {
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
        out.len() - start
    }

    #[inline]
    pub(crate) fn wants_read<M: Machine>(&self, machine: &M) -> bool {
        if self.input_closed || machine.is_closed() {
            false
        } else if self.tls.is_some() && !self.established {
            true
        } else {
            machine.wants_read()
        }
    }

    /// Runs rustls on the records read so far and moves decrypted bytes into the machine.
    fn process_tls<M: Machine>(&mut self, machine: &mut M, now: Instant) {
        let Some(tls) = self.tls.as_mut() else { return };
        let Ok(state) = tls.process_new_packets() else {
            // rustls has queued an alert for `poll_transmit`.
            self.fail(machine, now);
            return;
        };
        let peer_closed = state.peer_has_closed();
        if !self.established && !tls.is_handshaking() {
            self.established = true;
            let info = tls_info(tls);
            if machine.handle_tls_established(now, info).is_err() {
                self.fail(machine, now);
                return;
            }
        }
        if !self.established {
            return;
        }
        // Decrypted records go straight from rustls's buffer into the machine (no copy).
        let Some(tls) = self.tls.as_mut() else { return };
        let failed = loop {
            let mut reader = tls.reader();
            let taken = match reader.fill_buf() {
                Ok([]) => break false,
                Ok(chunk) => {
                    machine.handle_input(now, chunk);
                    chunk.len()
                }
                Err(e) => break e.kind() != io::ErrorKind::WouldBlock,
            };
            reader.consume(taken);
        };
        if failed {
            self.fail(machine, now);
        } else if peer_closed {
            // close_notify: what came before it is processed, nothing after it is read.
            self.handle_eof(machine, now);
        }
    }

    /// Ends the session after a TLS failure; nothing more is read.
    fn fail<M: Machine>(&mut self, machine: &mut M, now: Instant) {
        self.input_closed = true;
        machine.handle_tls_failure(now);
    }
}

/// The handshake's facts, as strings an application can log or match.
fn tls_info(tls: &rustls::Connection) -> TlsInfo {
    let protocol = tls.protocol_version().map(|version| match version {
        ProtocolVersion::TLSv1_3 => "TLSv1.3".to_owned(),
        ProtocolVersion::TLSv1_2 => "TLSv1.2".to_owned(),
        other => format!("{other:?}"),
    });
    let cipher_suite = tls
        .negotiated_cipher_suite()
        .map(|suite| format!("{:?}", suite.suite()));
    let server_name = match tls {
        rustls::Connection::Server(server) => server.server_name().map(str::to_owned),
        rustls::Connection::Client(_) => None,
    };
    TlsInfo::new(
        protocol,
        cipher_suite,
        server_name,
        tls.peer_certificates()
            .is_some_and(|certs| !certs.is_empty()),
    )
}
