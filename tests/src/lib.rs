//! Loopback test harness: real SMTP clients (lettre, Python's smtplib, curl, swaks,
//! openssl) and hand-written adversarial sessions against the `blackhole` test server,
//! over real sockets on 127.0.0.1; and, in memory, the transcript language of the core's
//! rule suites ([`transcript`]).
//!
//! The harness panics with a clear message when something goes wrong (a server that does
//! not start, a read that times out, a client that hangs): it exists to make tests fail
//! loudly and never to hang CI. Every socket read has a timeout and every spawned program
//! is killed after a deadline.
//!
//! Modules:
//! - [`blackhole`]: build, start, interrupt and stop the `blackhole` binary;
//! - [`client`]: a small line-oriented SMTP client over plain TCP or TLS;
//! - [`client_script`]: client transcripts: the core's SMTP client driven in memory by a
//!   scripted server (manual::client);
//! - [`tls`]: a rustls client configuration that accepts blackhole's self-signed certificate;
//! - [`message`]: test messages that exercise dot-stuffing, long lines and 8-bit text;
//! - [`fs`]: temporary directories and Maildir inspection;
//! - [`haproxy`]: HAProxy in front of blackhole instances, with the repository's
//!   configuration;
//! - [`proxy`]: a TCP forwarder that counts connections;
//! - [`proxied`]: PROXY headers byte by byte, and a whole server connection (PROXY stage
//!   included) driven in memory;
//! - [`dns`]: a small authoritative DNS server on a loopback port (the relay's MX tests);
//! - [`relay`]: build, start and kill the `relay` example;
//! - [`relay_sim`]: a virtual network and clock for the relay's queue (manual::relay);
//! - [`peers`] (feature `peers`): real SMTP servers we did not write (a private Postfix,
//!   smtp-sink, aiosmtpd) on loopback, for interop tests of the client;
//! - [`tools`]: external programs (skip or fail when missing, run with a deadline);
//! - [`wire`]: socket-only scripted sessions (writes, expected replies, TLS, silence,
//!   close) for tables of rows;
//! - [`transcript`]: the transcript language (`C:`/`S:`/`E:`/`A:` scripts) that the rule
//!   suites `tests/{rfc5321,smuggling,starttls,…}.rs` are written in, run in memory against
//!   a core `Server` (re-fed split at every byte and at random points) and, for
//!   `smuggling` and `classic_bugs`, over a socket against every target;
//! - [`servers`] (feature `adapters`): blackhole and the in-process servers of both
//!   adapters behind one type, tables of rows written once and run both ways,
//!   [`on_targets!`] to run a test on each target and [`in_memory!`] to run rows in memory;
//! - [`faulty`] (feature `adapters`): a tokio transport that misbehaves on purpose;
//! - [`fuzzing`]: the fuzz harness, plain functions of arbitrary bytes that the cargo-fuzz
//!   targets in `fuzz/` call under libFuzzer and `tests/fuzz_corpus.rs` replays the corpus
//!   through on stable.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod blackhole;
pub mod client;
pub mod client_script;
pub mod dns;
#[cfg(feature = "adapters")]
pub mod faulty;
pub mod fs;
pub mod fuzzing;
pub mod haproxy;
pub mod message;
#[cfg(feature = "peers")]
pub mod peers;
pub mod proxied;
pub mod proxy;
pub mod relay;
pub mod relay_sim;
#[cfg(feature = "adapters")]
pub mod servers;
pub mod tls;
pub mod tools;
pub mod transcript;
pub mod wire;

pub use blackhole::{Blackhole, Listener, ListenerKind};
pub use client::{Reply, SmtpClient, deliver_once};
pub use fs::{TempDir, assert_maildir_eq, maildir_messages, maildir_tmp_files, wait_for_empty_tmp};
pub use message::{
    data_payload, dot_stuff, message_with_body_line, message_with_header, sample_body,
    sample_message,
};
pub use proxy::CountingProxy;
pub use tools::{require_tool, run_with_paced_input, run_with_timeout};
pub use wire::{Script, Step};

use std::time::{Duration, Instant};

/// The default deadline for one read from a server (a hung server fails the test).
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The default deadline for one external client program.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

/// The current instant. The workspace forbids `Instant::now` in library code (the core
/// never reads a clock); tests measure delays and deadlines through this one function.
#[allow(clippy::disallowed_methods)]
pub fn now() -> Instant {
    Instant::now()
}
