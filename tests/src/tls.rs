//! A rustls client configuration for tests: the ring provider, and a verifier that accepts
//! any server certificate (blackhole generates a self-signed one at start) but still
//! checks the handshake signatures against it — the core's
//! [`ClientTls::dangerous_accept_any_certificate`].

use std::sync::Arc;

use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use smtp_proto::tls::ClientTls;

/// A client configuration (ring provider, TLS 1.2 and 1.3) that trusts any server
/// certificate. For tests only.
///
/// # Panics
/// If the ring provider does not support the default protocol versions (it does).
pub fn insecure_client_config() -> Arc<ClientConfig> {
    match ClientTls::dangerous_accept_any_certificate("localhost") {
        Ok(tls) => tls.config().clone(),
        Err(e) => panic!("test TLS configuration: {e}"),
    }
}

/// The name the tests present in SNI: blackhole's certificate covers `localhost`.
///
/// # Panics
/// Never: `localhost` is a valid DNS name.
pub fn server_name() -> ServerName<'static> {
    ServerName::try_from("localhost").unwrap_or_else(|e| panic!("localhost: {e}"))
}
