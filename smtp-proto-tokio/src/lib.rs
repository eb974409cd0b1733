//! tokio adapter for [`smtp_proto`]: an SMTP client ([`SmtpClient`]), and for servers
//! sockets and timers for the core's
//! [`Connection`](smtp_proto::Connection) (STARTTLS and implicit TLS included), a
//! [`Handler`] trait whose async methods make the decisions, a pull-style [`Driver`]
//! (`next_event().await`) for applications without a trait, and a [`Listener`] that
//! serves on one single-threaded runtime per core (a `SO_REUSEPORT` socket each), with a
//! connection limit exact across them and graceful shutdown.
//!
//! The adapter never parses SMTP and decides no policy: it does what
//! [`Connection::next`](smtp_proto::Connection::next) says (write these bytes by then,
//! read this much until then, close), so every byte read goes straight into the core
//! and the replies to a pipelined batch leave in one write.
//!
//! A server that prints the size of every message it accepts, until Ctrl-C:
//!
//! ```no_run
//! use std::sync::Arc;
//! use smtp_proto_tokio::smtp_proto::MessageInfo;
//! use smtp_proto_tokio::{Decision, Endpoint, Handler, Listener, ServerConfig, TlsMode};
//!
//! struct Print; // every Handler method left out accepts
//! impl Handler for Print {
//!     async fn message_complete(&mut self, info: &MessageInfo) -> Decision {
//!         println!("a message of {} octets", info.size);
//!         Ok(()) // the 250: return it only once the message is stored
//!     }
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let endpoint = Endpoint::new(Arc::new(ServerConfig::try_new("mx.localhost")?), TlsMode::Off);
//!     let listener = Listener::new(|_info| Print).bind("127.0.0.1:2525".parse()?, endpoint)?;
//!     listener.run(async { let _ = tokio::signal::ctrl_c().await; }).await?;
//!     Ok(())
//! }
//! ```
//!
//! [`SmtpClient`] has a client example; `examples/hello.rs` runs both in one program.
#![forbid(unsafe_code)]

mod client;
mod connection;
mod driver;
mod handler;
mod listener;
mod output;

pub use client::{CONNECT_TIMEOUT, ReplyLog, SmtpClient};
pub use connection::serve;
pub use driver::Driver;
pub use handler::Handler;
pub use listener::{Listener, shutdown_signal};
pub use output::Output;
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

/// The README's code blocks (the core's sans-IO examples and this crate's server and
/// client), compiled and run as doctests here, where the core, tokio and this crate are
/// all dependencies.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
