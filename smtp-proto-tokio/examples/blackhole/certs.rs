//! The TLS server configuration: a certificate from PEM files, or a self-signed one made at
//! start so that STARTTLS and implicit TLS work out of the box.

use std::path::Path;
use std::sync::Arc;

use rustls::crypto::ring;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use smtp_proto::tls::TlsServerConfig;

/// A certificate chain and its private key.
type Identity = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

/// The rustls server configuration (ring provider, safe default protocol versions, no
/// client certificates). `cert` is `(chain PEM, key PEM)`; without it, a self-signed
/// certificate for `hostname`, `localhost` and `127.0.0.1` is generated now.
///
/// The error names the file at fault and the reason.
pub(crate) fn server_config(
    cert: Option<(&Path, &Path)>,
    hostname: &str,
) -> Result<Arc<TlsServerConfig>, String> {
    match cert {
        None => build(self_signed(hostname)?).map_err(|e| format!("self-signed certificate: {e}")),
        Some((chain_path, key_path)) => {
            let identity = (load_chain(chain_path)?, load_key(key_path)?);
            build(identity).map_err(|e| match e {
                rustls::Error::InconsistentKeys(_) => format!(
                    "{}: the private key does not match the certificate in {}",
                    key_path.display(),
                    chain_path.display()
                ),
                other => format!(
                    "{} with {}: unusable certificate or key: {other}",
                    chain_path.display(),
                    key_path.display()
                ),
            })
        }
    }
}

/// Builds the configuration around one identity.
fn build((chain, key): Identity) -> Result<Arc<TlsServerConfig>, rustls::Error> {
    let config = TlsServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    Ok(Arc::new(config))
}

/// A fresh self-signed certificate (ECDSA P-256) for `hostname`, `localhost` and the IP
/// address `127.0.0.1`.
fn self_signed(hostname: &str) -> Result<Identity, String> {
    let mut names = vec![hostname.to_owned()];
    for extra in ["localhost", "127.0.0.1"] {
        if !names.iter().any(|n| n.eq_ignore_ascii_case(extra)) {
            names.push(extra.to_owned());
        }
    }
    let certified = rcgen::generate_simple_self_signed(names)
        .map_err(|e| format!("cannot make a self-signed certificate for {hostname}: {e}"))?;
    let key = PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der());
    Ok((vec![certified.cert.der().clone()], key.into()))
}

/// Reads every certificate of a PEM file; an empty chain is an error.
fn load_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let bad = |e: rustls_pki_types::pem::Error| {
        format!("{}: cannot read the certificate chain: {e}", path.display())
    };
    let chain = CertificateDer::pem_file_iter(path)
        .map_err(bad)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(bad)?;
    if chain.is_empty() {
        return Err(format!(
            "{}: no certificate found (expected PEM \"BEGIN CERTIFICATE\" blocks)",
            path.display()
        ));
    }
    Ok(chain)
}

/// Reads the first private key (PKCS#8, PKCS#1 or SEC1) of a PEM file.
fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => format!(
            "{}: no private key found (expected a PEM \"PRIVATE KEY\" block)",
            path.display()
        ),
        other => format!("{}: cannot read the private key: {other}", path.display()),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use rustls::{ClientConfig, ClientConnection, Connection, RootCertStore, ServerConnection};
    use rustls_pki_types::ServerName;
    use std::io::{Read, Write};

    use crate::testing::TempDir;

    /// A client that trusts exactly `cert`.
    fn client_trusting(cert: &CertificateDer<'static>) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        roots.add(cert.clone()).unwrap();
        let config = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        Arc::new(config)
    }

    /// Moves all pending TLS bytes from `from` to `to` and lets `to` process them.
    fn pump(from: &mut Connection, to: &mut Connection) -> Result<(), rustls::Error> {
        let mut wire = Vec::new();
        while from.wants_write() {
            from.write_tls(&mut wire).unwrap();
        }
        let mut rest = &wire[..];
        while !rest.is_empty() {
            to.read_tls(&mut rest).unwrap();
            to.process_new_packets()?;
        }
        Ok(())
    }

    /// Runs a whole handshake in memory for `name`, then sends one line through it.
    fn handshake(
        server: Arc<TlsServerConfig>,
        client: Arc<ClientConfig>,
        name: &str,
    ) -> Result<(), rustls::Error> {
        let name = ServerName::try_from(name.to_owned()).unwrap();
        let mut client = Connection::from(ClientConnection::new(client, name)?);
        let mut server = Connection::from(ServerConnection::new(server)?);
        for _ in 0..10 {
            pump(&mut client, &mut server)?;
            pump(&mut server, &mut client)?;
            if !client.is_handshaking() && !server.is_handshaking() {
                break;
            }
        }
        assert!(!client.is_handshaking() && !server.is_handshaking());
        client
            .writer()
            .write_all(b"EHLO client.example\r\n")
            .unwrap();
        pump(&mut client, &mut server)?;
        let mut got = [0u8; 21];
        server.reader().read_exact(&mut got).unwrap();
        assert_eq!(&got, b"EHLO client.example\r\n");
        Ok(())
    }

    #[test]
    fn self_signed_certificate_handshakes_for_its_names() {
        let identity = self_signed("mx.test").unwrap();
        let client = client_trusting(&identity.0[0]);
        let server = build(identity).unwrap();
        for name in ["mx.test", "localhost", "127.0.0.1"] {
            handshake(server.clone(), client.clone(), name).unwrap();
        }
        // A name the certificate does not hold is refused: the check is real.
        let err = handshake(server, client, "other.test").unwrap_err();
        assert!(
            matches!(err, rustls::Error::InvalidCertificate(_)),
            "{err:?}"
        );
    }

    #[test]
    fn server_config_without_files_makes_one() {
        assert!(server_config(None, "blackhole.localhost").is_ok());
        assert!(server_config(None, "localhost").is_ok());
        let err = server_config(None, "b\u{e4}d.example").unwrap_err();
        assert!(err.contains("b\u{e4}d.example"), "{err}");
    }

    /// A fresh self-signed certificate and key as PEM text.
    fn pem_pair(name: &str) -> (String, String) {
        let c = rcgen::generate_simple_self_signed(vec![name.to_owned()]).unwrap();
        (c.cert.pem(), c.key_pair.serialize_pem())
    }

    #[test]
    fn pem_files_load_and_handshake() {
        let dir = TempDir::created("load");
        let (cert_pem, key_pem) = pem_pair("files.test");
        let cert = dir.write("cert.pem", &cert_pem);
        let key = dir.write("key.pem", &key_pem);
        let server = server_config(Some((&cert, &key)), "ignored.test").unwrap();
        let trusted = CertificateDer::from_pem_slice(cert_pem.as_bytes()).unwrap();
        handshake(server, client_trusting(&trusted), "files.test").unwrap();
    }

    #[test]
    fn errors_name_the_file() {
        let dir = TempDir::created("errors");
        let (cert_pem, key_pem) = pem_pair("a.test");
        let (_, other_key_pem) = pem_pair("b.test");
        let cert = dir.write("cert.pem", &cert_pem);
        let key = dir.write("key.pem", &key_pem);
        let other_key = dir.write("other-key.pem", &other_key_pem);
        let empty = dir.write("empty.pem", "");
        let garbage = dir.write(
            "garbage.pem",
            "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
        );
        let missing = dir.0.join("missing.pem");

        let cases: [(&Path, &Path, &Path, &str); 6] = [
            (&missing, &key, &missing, "No such file"),
            (&cert, &missing, &missing, "No such file"),
            (&empty, &key, &empty, "no certificate found"),
            (&key, &key, &key, "no certificate found"),
            (&cert, &cert, &cert, "no private key found"),
            (
                &garbage,
                &key,
                &garbage,
                "cannot read the certificate chain",
            ),
        ];
        for (c, k, named, why) in cases {
            let err = server_config(Some((c, k)), "h").unwrap_err();
            assert!(err.contains(&named.display().to_string()), "{err}");
            assert!(err.contains(why), "{err}");
        }

        let err = server_config(Some((&cert, &other_key)), "h").unwrap_err();
        assert!(err.contains("does not match"), "{err}");
        assert!(err.starts_with(&other_key.display().to_string()), "{err}");
        assert!(err.contains(&cert.display().to_string()), "{err}");
    }
}
