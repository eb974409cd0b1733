//! The rustls binding against a real rustls client, in memory.

use std::io::{Read, Write};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore};

use super::config::{HOSTNAME, variant};
use super::wire::{Replies, tls_records};
use super::{Input, Rng};
use smtp_proto::connection::{Connection, Next};
use smtp_proto::tls::{Endpoint, TlsMode};
use smtp_proto::{Event, Protocol, Server, ServerConfig};

/// A self-signed certificate for `mx.example` (ECDSA P-256, valid 1975 to 4096), made once
/// with rcgen for this harness. Test material only: the key is public.
const CERT: &[u8] = include_bytes!("cert.der");
/// The PKCS#8 private key of [`CERT`].
const KEY: &[u8] = include_bytes!("key.der");

/// The server's TLS configuration and two clients that trust it (TLS 1.3, TLS 1.2 only).
struct Configs {
    server: Arc<rustls::ServerConfig>,
    tls13: Arc<ClientConfig>,
    tls12: Arc<ClientConfig>,
}

fn configs() -> &'static Configs {
    static CONFIGS: OnceLock<Configs> = OnceLock::new();
    CONFIGS.get_or_init(|| {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let cert = CertificateDer::from(CERT.to_vec());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(KEY.to_vec()));
        let server = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("ring supports the defaults")
            .with_no_client_auth()
            .with_single_cert(vec![cert.clone()], key)
            .expect("the embedded key fits the certificate");
        let mut roots = RootCertStore::empty();
        roots.add(cert).expect("the embedded certificate parses");
        let client = |versions: &[&'static rustls::SupportedProtocolVersion]| {
            let config = ClientConfig::builder_with_provider(provider.clone())
                .with_protocol_versions(versions)
                .expect("ring supports TLS 1.2 and 1.3")
                .with_root_certificates(roots.clone())
                .with_no_client_auth();
            Arc::new(config)
        };
        Configs {
            server: Arc::new(server),
            tls13: client(&[&rustls::version::TLS13]),
            tls12: client(&[&rustls::version::TLS12]),
        }
    })
}

/// A TLS [`Connection`] against a rustls client.
///
/// Layout: `[mode, config a, config b, splits, tail, payload…]`.
/// * `mode`: bit 0 implicit TLS (else STARTTLS after EHLO); bit 1 the payload is sent raw
///   where the client's handshake belongs; bit 2 after the payload the client sends
///   close_notify and then the tail as more application data; bit 3 the tail is appended
///   as raw garbage after the client's records; bit 4 the client speaks TLS 1.2 only;
///   bits 5 to 7 times 8: octets of the payload pipelined in plaintext right behind
///   `STARTTLS` (the CVE-2011-0411 injection).
/// * `config a`, `config b`: the SMTP configuration, as for
///   [`server_bytes`](super::server_bytes) (STARTTLS set by the mode).
/// * `splits`: 0 delivers each flight of records in one read; other values seed read
///   sizes of 1 to 64 octets.
/// * `tail`: how many octets at the end of the payload form the tail.
///
/// Oracles: once TLS starts, the server writes only whole TLS records (never a plaintext
/// reply, also not after a TLS failure); the decrypted replies are well formed; after the
/// client's close_notify, after garbage, or after a failed handshake the only events are
/// the closing ones (`MessageAborted`, `TransactionReset`, `Closed`); the session closes
/// at EOF and stays silent.
///
/// # Panics
///
/// When an oracle fails.
pub fn tls_session(data: &[u8]) {
    let mut input = Input::new(data);
    let (mode, a, b, splits, tail) = (
        input.byte(),
        input.byte(),
        input.byte(),
        input.byte(),
        input.byte(),
    );
    let payload = input.rest();
    let (main, tail) = payload.split_at(payload.len().saturating_sub(usize::from(tail)));
    let bit = |n: u8| mode & (1 << n) != 0;
    let implicit = bit(0);
    let smtp = variant(a, b).config;
    let mut pair = Pair::new(smtp, implicit, bit(4), splits);
    let mut main = main;
    if !implicit {
        let inject = main.len().min(usize::from(mode >> 5) * 8);
        let (injected, rest) = main.split_at(inject);
        main = rest;
        if !pair.starttls(injected) {
            // No TLS on this session (refused, or closed on injection): the rest is
            // plaintext SMTP.
            pair.raw(main);
            return pair.finish();
        }
    }
    if bit(1) {
        pair.guarded(|pair| pair.raw(main));
        return pair.finish();
    }
    pair.handshake();
    pair.plaintext(main);
    if bit(2) {
        pair.guarded(|pair| pair.close_notify_then(tail));
    }
    if bit(3) {
        pair.guarded(|pair| pair.raw(tail));
    }
    pair.finish();
}

/// A session and the client talking to it.
struct Pair {
    session: Connection<Server>,
    client: Option<ClientConnection>,
    client_config: Arc<ClientConfig>,
    now: Instant,
    rng: Option<Rng>,
    /// Server output is TLS records from now on.
    tls: bool,
    /// Plaintext replies the server wrote (before TLS) and the client decrypted (after).
    plain: Replies,
    client_plain: Replies,
    /// Only closing events are allowed.
    closing_only: bool,
    closed: bool,
    lmtp: bool,
}

impl Pair {
    fn new(smtp: ServerConfig, implicit: bool, tls12: bool, splits: u8) -> Self {
        let configs = configs();
        let now = super::epoch();
        let lmtp = smtp.protocol == Protocol::Lmtp;
        let enhanced = smtp.extensions.enhanced_status_codes;
        let tls = if implicit {
            TlsMode::Implicit(configs.server.clone())
        } else {
            TlsMode::StartTls(configs.server.clone())
        };
        let session = Endpoint::new(Arc::new(smtp), tls).accept(now);
        let client_config = if tls12 {
            configs.tls12.clone()
        } else {
            configs.tls13.clone()
        };
        let mut pair = Self {
            session,
            client: None,
            client_config,
            now,
            rng: (splits != 0).then(|| Rng::new(splits)),
            tls: implicit,
            plain: Replies::server(enhanced),
            client_plain: Replies::server(enhanced),
            closing_only: false,
            closed: false,
            lmtp,
        };
        pair.drain();
        pair
    }

    /// Plaintext EHLO, then `STARTTLS` with `injected` behind it in the same read. True if
    /// the server started TLS.
    fn starttls(&mut self, injected: &[u8]) -> bool {
        let hello: &[u8] = if self.lmtp {
            b"LHLO c.example\r\n"
        } else {
            b"EHLO c.example\r\n"
        };
        self.session.handle_input(self.now, hello);
        self.drain();
        let line = [b"STARTTLS\r\n".as_slice(), injected].concat();
        self.session.handle_input(self.now, &line);
        self.drain();
        self.tls
    }

    /// Runs `f` and checks that it caused nothing but the session's end.
    fn guarded(&mut self, f: impl FnOnce(&mut Self)) {
        self.closing_only = true;
        f(self);
    }

    /// The client's handshake, delivered in the chosen pieces.
    fn handshake(&mut self) {
        let name = ServerName::try_from(HOSTNAME).expect("a valid name");
        let client = ClientConnection::new(self.client_config.clone(), name)
            .expect("a client for the embedded configuration");
        self.client = Some(client);
        self.pump();
    }

    /// Sends `data` through the client, one write per line, each flight delivered.
    fn plaintext(&mut self, data: &[u8]) {
        for line in super::lines(data) {
            let Some(client) = self.client.as_mut() else {
                return;
            };
            client
                .writer()
                .write_all(line)
                .expect("rustls buffers plaintext");
            self.pump();
        }
    }

    /// The client's close_notify, then `tail` as application data behind it.
    fn close_notify_then(&mut self, tail: &[u8]) {
        let Some(client) = self.client.as_mut() else {
            return;
        };
        client.send_close_notify();
        if !tail.is_empty() {
            let _ = client.writer().write_all(tail);
        }
        self.pump();
        assert!(
            self.closed,
            "the session outlived the client's close_notify"
        );
    }

    /// Moves the client's records to the server until the client has nothing to say.
    fn pump(&mut self) {
        for _ in 0..32 {
            let Some(client) = self.client.as_mut() else {
                return;
            };
            let mut flight = Vec::new();
            while client.wants_write() {
                if client.write_tls(&mut flight).is_err() {
                    break;
                }
            }
            if flight.is_empty() {
                return;
            }
            self.raw(&flight);
        }
    }

    /// Raw socket bytes to the server, in the chosen pieces.
    fn raw(&mut self, bytes: &[u8]) {
        let mut rest = bytes;
        while !rest.is_empty() {
            let size = self.rng.as_mut().map_or(rest.len(), |rng| {
                usize::try_from(1 + rng.below(64)).unwrap_or(1)
            });
            let (piece, tail) = rest.split_at(size.min(rest.len()));
            rest = tail;
            self.session.handle_input(self.now, piece);
            self.drain();
        }
    }

    /// Events (every decision accepted) and the server's bytes to the client, until the
    /// connection waits for input or closes.
    fn drain(&mut self) {
        let mut started = false;
        loop {
            let event = match self.session.next(self.now) {
                Next::Event(event) => event,
                Next::Transmit { bytes, .. } => {
                    let batch = bytes.to_vec();
                    self.session.transmitted(self.now);
                    self.transmit(&batch);
                    if std::mem::take(&mut started) {
                        assert!(
                            batch.ends_with(b"Ready to start TLS\r\n")
                                && batch
                                    .rsplit(|&b| b == b'\n')
                                    .nth(1)
                                    .is_some_and(|l| l.starts_with(b"220 ")),
                            "STARTTLS accepted without its 220 last in plaintext: {:?}",
                            batch.escape_ascii().to_string()
                        );
                        self.tls = true;
                    }
                    continue;
                }
                Next::Read {
                    until: Some(at), ..
                } if at <= self.now => {
                    self.session.handle_timeout(self.now);
                    continue;
                }
                Next::Read { .. } | Next::Wait { .. } | Next::Close => break,
            };
            assert!(!self.closed, "event after Closed: {event:?}");
            if self.closing_only {
                assert!(
                    matches!(
                        event,
                        Event::MessageAborted { .. }
                            | Event::TransactionReset
                            | Event::Closed { .. }
                    ),
                    "parsed after close_notify, garbage or a failed handshake: {event:?}"
                );
            }
            assert!(!started, "an event between STARTTLS and its 220: {event:?}");
            started = matches!(event, Event::StartTls { .. });
            self.closed |= matches!(event, Event::Closed { .. });
            if let Some(pending) = event.into_pending() {
                let result = self.session.answer(self.now, pending, Ok(()));
                assert_eq!(result, Ok(()), "accept refused");
            }
        }
        assert!(!started, "STARTTLS accepted without a 220 to send");
        assert!(
            !self.session.machine().is_closed() || self.closed,
            "the connection stopped while Event::Closed was still queued"
        );
    }

    /// The server's output: plaintext replies before TLS (the batch with `STARTTLS`'s
    /// `220` last), whole TLS records after.
    fn transmit(&mut self, wire: &[u8]) {
        if !self.tls {
            self.plain.batch(wire);
            return;
        }
        tls_records(wire);
        let Some(client) = self.client.as_mut() else {
            return;
        };
        let mut rest = wire;
        let mut decrypted = Vec::new();
        while !rest.is_empty() {
            if client.read_tls(&mut rest).is_err() || client.process_new_packets().is_err() {
                return;
            }
            let _ = client.reader().read_to_end(&mut decrypted);
        }
        self.client_plain.batch(&decrypted);
    }

    /// The client closes the connection: the session ends and stays silent.
    fn finish(mut self) {
        self.session.handle_eof(self.now);
        self.drain();
        assert!(
            self.closed && self.session.machine().is_closed(),
            "open after EOF"
        );
        assert!(matches!(self.session.next(self.now), Next::Close));
        self.closing_only = true;
        self.session.handle_input(self.now, b"NOOP\r\n");
        self.drain();
        assert!(matches!(self.session.next(self.now), Next::Close));
    }
}
