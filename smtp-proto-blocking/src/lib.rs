//! Blocking `std::net` adapter for [`smtp_proto`]: an SMTP client ([`SmtpClient`]), and
//! for servers sockets and deadlines for the core's
//! [`Connection`](smtp_proto::Connection) (STARTTLS and implicit TLS included), a
//! [`Handler`] trait with plain methods (the same interface as the tokio adapter's, as
//! `Read` is `AsyncRead`'s), a pull-style [`Driver`], and a [`Listener`] running one
//! thread per session with a connection limit and graceful shutdown.
//!
//! The adapter never parses SMTP and decides no policy: it does what
//! [`Connection::next`](smtp_proto::Connection::next) says.
//!
//! ```no_run
//! use std::sync::Arc;
//! use smtp_proto::{ServerConfig, tls::{Endpoint, TlsMode}};
//! use smtp_proto_blocking::{Handler, Listener};
//!
//! struct AcceptAll;
//! impl Handler for AcceptAll {}
//!
//! let endpoint = Endpoint::new(Arc::new(ServerConfig::new("mx.example")), TlsMode::Off);
//! let socket = std::net::TcpListener::bind("127.0.0.1:2525")?;
//! let listener = Listener::new(|_info| AcceptAll).listen(socket, endpoint);
//! let stop = listener.shutdown_handle();
//! std::thread::spawn(move || { std::thread::sleep(std::time::Duration::from_secs(60)); stop.shutdown() });
//! listener.run()?;
//! # Ok::<(), std::io::Error>(())
//! ```
#![forbid(unsafe_code)]

mod client;
mod connection;
mod driver;
mod handler;
mod listener;

pub use client::{CONNECT_TIMEOUT, ReplyLog, SmtpClient};
pub use connection::serve;
pub use driver::Driver;
pub use handler::Handler;
pub use listener::{Listener, ShutdownHandle};
/// The core crate, so that this one dependency is enough: `smtp_proto_*::smtp_proto::…`
/// reaches everything the adapter does not name itself.
pub use smtp_proto;
/// The core's items that handlers and client programs name most.
pub use smtp_proto::client::{
    BodyType, ClientAuth, ClientConfig, ClientError, Envelope, TlsPolicy, TransactionReport,
    Verdict,
};
pub use smtp_proto::tls::{ClientTls, Endpoint, TlsMode};
pub use smtp_proto::{
    ConnectionInfo, Decision, EnhancedCode, Event, Mailbox, Reply, ServerConfig, Stop,
};
