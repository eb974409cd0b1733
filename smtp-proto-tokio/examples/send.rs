//! `send`: a tiny swaks on the smtp-proto client. Sends one message, prints every reply
//! and each recipient's result, and exits non-zero unless every recipient was delivered.
//!
//! ```text
//! cargo run -p smtp-proto-tokio --example send -- \
//!     --server 127.0.0.1:2525 --from a@x.example --to b@y.example --body message.eml
//! ```
//!
//! Exit status: 0 every recipient delivered; 1 some were not, or the session failed;
//! 2 bad flags.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use smtp_proto::client::{Chunking, ClientAuth, ClientConfig, Envelope, TlsPolicy, Verdict};
use smtp_proto::tls::{ClientTls, rustls};
use smtp_proto::{Mailbox, Protocol, ReversePath};
use smtp_proto_tokio::SmtpClient;

/// Send one message over SMTP (or LMTP) and print what the server said.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Flags {
    /// The server, HOST:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    server: String,
    /// The envelope sender; `<>` for the null sender.
    #[arg(long, value_name = "ADDRESS")]
    from: String,
    /// An envelope recipient; repeatable.
    #[arg(long, value_name = "ADDRESS", required = true)]
    to: Vec<String>,
    /// Require STARTTLS (default: use it when offered).
    #[arg(long, conflicts_with_all = ["tls", "no_tls"])]
    starttls: bool,
    /// TLS from the first byte (RFC 8314, like port 465).
    #[arg(long, conflicts_with = "no_tls")]
    tls: bool,
    /// Never use TLS.
    #[arg(long)]
    no_tls: bool,
    /// Accept any server certificate (self-signed test servers). Encrypted, not
    /// authenticated.
    #[arg(long)]
    insecure: bool,
    /// A PEM file of trusted certificates, besides the Mozilla roots.
    #[arg(long, value_name = "PEM")]
    ca: Option<PathBuf>,
    /// The name the certificate must carry (default: the host of --server).
    #[arg(long, value_name = "NAME")]
    tls_name: Option<String>,
    /// AUTH with these credentials (PLAIN, else LOGIN), split at the first `:`. Only
    /// over TLS, unless --auth-plaintext.
    #[arg(long, value_name = "USER:PASSWORD")]
    auth: Option<String>,
    /// Allow AUTH on a session without TLS (credentials in clear).
    #[arg(long, requires = "auth")]
    auth_plaintext: bool,
    /// The message (headers and body); standard input when absent.
    #[arg(long, value_name = "FILE")]
    body: Option<PathBuf>,
    /// Send with BDAT (CHUNKING) when offered, in chunks of this many octets.
    #[arg(long, value_name = "OCTETS", num_args = 0..=1, default_missing_value = "65536")]
    chunking: Option<usize>,
    /// The EHLO name.
    #[arg(long, value_name = "NAME", default_value = "localhost")]
    helo: String,
    /// Speak LMTP (LHLO; one result per recipient after the content).
    #[arg(long)]
    lmtp: bool,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let flags = Flags::parse();
    match run(flags).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(message) => {
            eprintln!("send: {message}");
            ExitCode::from(1)
        }
    }
}

/// Sends the message; `Ok(true)` when every recipient was delivered.
async fn run(flags: Flags) -> Result<bool, String> {
    let mut config = ClientConfig::new(&flags.helo).map_err(|e| format!("--helo: {e}"))?;
    config.tls = if flags.tls {
        TlsPolicy::Implicit
    } else if flags.starttls {
        TlsPolicy::Required
    } else if flags.no_tls {
        TlsPolicy::None
    } else {
        TlsPolicy::Opportunistic
    };
    if flags.lmtp {
        config.protocol = Protocol::Lmtp;
    }
    if let Some(size) = flags.chunking {
        config.chunking = Chunking::WhenOffered(size.max(1));
    }
    if let Some(auth) = &flags.auth {
        let (user, password) = auth.split_once(':').ok_or("--auth wants USER:PASSWORD")?;
        config.auth = Some(ClientAuth::password(user, password));
        config.auth_over_plaintext = flags.auth_plaintext;
    }
    let tls = tls(&flags)?;
    let from = if matches!(flags.from.as_str(), "" | "<>") {
        ReversePath::Null
    } else {
        ReversePath::Mailbox(address(&flags.from)?)
    };
    let mut envelope = Envelope::new(from);
    for to in &flags.to {
        envelope = envelope.to(address(to)?);
    }
    let body = match &flags.body {
        Some(path) => std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?,
        None => {
            // Read before the connection opens, so a slow pipe cannot hold a session.
            let mut body = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut body)
                .map_err(|e| format!("standard input: {e}"))?;
            body
        }
    };
    let log = Box::new(|command: &str, reply: &smtp_proto::codec::ParsedReply| {
        println!("<- [{command}] {reply}");
    });
    let mut client = SmtpClient::connect_with(
        flags.server.as_str(),
        Arc::new(config),
        tls,
        smtp_proto_tokio::CONNECT_TIMEOUT,
        Some(log),
    )
    .await
    .map_err(|e| format!("{}: {e}", flags.server))?;
    if let Some(session) = client.session() {
        if let Some(tls) = &session.tls {
            println!(
                "== TLS {} {}",
                tls.protocol.as_deref().unwrap_or("?"),
                tls.cipher_suite.as_deref().unwrap_or("?")
            );
        }
        if let Some(mechanism) = &session.authenticated {
            println!("== authenticated with {mechanism}");
        }
    }
    let report = client
        .send(envelope, &body)
        .await
        .map_err(|e| format!("sending: {e}"))?;
    for result in &report.recipients {
        let outcome = &result.outcome;
        println!(
            "== {} {:?} ({} {}{}): {}",
            result.recipient,
            outcome.verdict,
            outcome.stage.command(),
            outcome.reply.code(),
            if outcome.local {
                ", decided locally"
            } else {
                ""
            },
            outcome.reply.sanitized_text()
        );
    }
    client.quit().await.map_err(|e| format!("QUIT: {e}"))?;
    Ok(report
        .recipients
        .iter()
        .all(|r| r.outcome.verdict == Verdict::Delivered))
}

/// A mailbox, with the parser's reason when it is not one.
fn address(text: &str) -> Result<Mailbox, String> {
    let bare = text.trim_start_matches('<').trim_end_matches('>');
    bare.parse()
        .map_err(|e| format!("{text:?} is not an address: {e}"))
}

/// The TLS side: Mozilla's roots plus `--ca`, or no verification with `--insecure`.
fn tls(flags: &Flags) -> Result<Option<ClientTls>, String> {
    if flags.no_tls {
        return Ok(None);
    }
    let host = flags
        .server
        .rsplit_once(':')
        .map_or(flags.server.as_str(), |(h, _)| h);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let name = flags.tls_name.as_deref().unwrap_or(host);
    let tls = if flags.insecure {
        ClientTls::dangerous_accept_any_certificate(name)
    } else {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(path) = &flags.ca {
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            for cert in certs {
                let cert = cert.map_err(|e| format!("{}: {e}", path.display()))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
            }
        }
        ClientTls::verified(roots, name)
    };
    tls.map(Some)
        .map_err(|_| format!("{name:?} is not a DNS name or an IP address"))
}
