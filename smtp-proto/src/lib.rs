//! A sans-IO SMTP server: bytes in; events and reply bytes out.
//!
//! This crate holds the whole SMTP protocol (RFC 5321 and its extensions) as a state
//! machine that performs no I/O, spawns no task and never reads the clock. Adapters feed it
//! the bytes they read, hand the application its [`Event`]s, and write out the reply bytes
//! it produces. `smtp-proto-tokio` and `smtp-proto-blocking` are such adapters.
//!
//! ```text
//!   socket bytes ──► Server::handle_input ──► poll_event ──► Event (+ Pending token)
//!                                                              │ application decides
//!   socket ◄── poll_transmit ◄── replies, in command order ◄── accept / respond
//! ```
//!
//! * [`Server`]: one session; its documentation states the drain order.
//! * [`Connection`]: what adapters drive: a machine (the server today, the client next)
//!   with its TLS layer (module `tls`, feature `rustls`) and the I/O policy, behind one method,
//!   [`Connection::next`], that names the caller's next action.
//! * [`ServerConfig`]: host name, extensions, limits, timeouts, policies; every default
//!   cites its RFC.
//! * [`codec`]: the grammar as pure functions (addresses, parameters, DATA decoding, replies
//!   in both directions, EHLO capabilities, SASL), usable on their own.
//! * [`manual`]: the rule book: every rule ID the code and tests cite, and why each default
//!   is what it is.
//!
//! A session in memory: the greeting, a HELO accepted by the application, the reply.
//!
//! ```
//! use std::{sync::Arc, time::Instant};
//! use smtp_proto::{Event, Server, ServerConfig};
//!
//! let now = Instant::now();
//! let mut server = Server::new(Arc::new(ServerConfig::try_new("mx.example")?), now);
//! let mut wire = Vec::new();
//! server.poll_transmit(&mut wire); // the 220 greeting
//! assert!(wire.starts_with(b"220 mx.example"));
//! server.handle_input(now, b"HELO client.example\r\n")?;
//! while let Some(event) = server.poll_event() {
//!     if let Event::Hello { pending, .. } = event {
//!         server.accept(now, pending)?; // or server.respond(now, pending, reply)
//!     }
//! }
//! wire.clear();
//! server.poll_transmit(&mut wire);
//! assert!(wire.starts_with(b"250 mx.example"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The README has a longer session, the client machine, and the adapters' servers and
//! clients over sockets.
//!
//! `unsafe` code is denied everywhere but in one module: the AVX2 and AVX-512 classification
//! of the DATA content kernel ([`codec::data::Kernel`]), reached only after run-time CPU
//! detection and tested against the portable kernel (which Miri runs in CI).
//!
//! Client misbehaviour is answered on the wire with the reply the RFCs require and never
//! surfaces as a Rust error; [`ApiMisuse`] is only for a caller that breaks the API contract.
//! Addresses and parameters in events are typed, validated data: never pass them to a shell
//! or an expansion language (OpenSMTPD CVE-2020-7247, Exim CVE-2019-10149).
#![deny(unsafe_code)]
#![cfg_attr(not(fuzzing), warn(missing_docs))]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod client;
pub mod codec;
mod config;
pub mod connection;
mod error;
/// The rule book: every rule ID cited in this repository (`SMG-*`, `SMUG-*`, `TLS-*`, `R-*`),
/// the bugs behind them, and why each default is what it is. Documentation only.
pub mod manual;
pub mod proxy;
pub mod relay;
mod secret;
mod server;
pub mod trace;

pub use codec::address::{AddressLiteral, Domain, DomainRef, ForwardPath, Mailbox, ReversePath};
pub use codec::command::Verb;
pub use codec::data::{ContentFlags, LineEndingPolicy};
pub use codec::params::{MailParams, RcptParams};
pub use codec::reply::{EnhancedCode, Reply, ReplyError};
pub use codec::sasl::Credentials;
pub use config::{Extensions, InjectionPolicy, Limits, Protocol, ServerConfig, Timeouts};
pub use connection::{ClientUpdate, Connection, ConnectionInfo, Next, Stop};
pub use error::{ApiMisuse, ServerConfigError};
pub use proxy::{Cidr, ProxyConfig, ProxyHeader, ProxyProtocol};
pub use secret::Secret;
pub use server::{
    AbortReason, AuthData, CloseReason, Decision, Event, MessageInfo, Pending, PendingKind, Server,
    TlsInfo, Xclient, XclientValue,
};

#[cfg(feature = "rustls")]
pub mod tls;
