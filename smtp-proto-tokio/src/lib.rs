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
pub use listener::Listener;
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
