//! tokio adapter for [`smtp_proto`]: a byte pump between a socket and the core's
//! [`Session`](smtp_proto::tls::Session) (STARTTLS and implicit TLS included), a
//! [`Handler`] trait whose async methods make the decisions, and a [`Listener`] with a
//! connection limit and graceful shutdown.
//!
//! The adapter never parses SMTP and holds no read buffer of its own: every byte read goes
//! straight into the core, the replies to a pipelined batch leave in one write, and the
//! deadlines come from `poll_timeout`.
#![forbid(unsafe_code)]

mod connection;
mod handler;
mod listener;

pub use connection::serve;
pub use handler::Handler;
pub use listener::Listener;
pub use smtp_proto::ConnectionInfo;
pub use smtp_proto::Decision;
