//! Fuzz harness logic: plain functions that take arbitrary bytes and panic when an oracle
//! fails. They use the public API of `smtp_proto` only. The cargo-fuzz targets in `fuzz/` wrap
//! them for libFuzzer (nightly); `tests/tests/fuzz_corpus.rs` replays the committed corpus
//! and every crash artifact through them on the stable toolchain, so a bug once found
//! stays fixed in `cargo test`.
//!
//! | function | what it drives | oracles beyond "no panic" |
//! |---|---|---|
//! | [`server_bytes`] | [`Server`](smtp_proto::Server) under a configuration, read sizes and decisions chosen by the first bytes | bounded buffer, one `MessageComplete`/`MessageAborted` per accepted `DataStart`, content ≤ `max_message_size` and equal to `MessageInfo::size`, well-formed replies in whole batches, silence after `Closed` and after a TLS failure; in its line mode, exactly one reply per command line |
//! | [`split_invariance`] | the same input fed whole and split at fuzzer-chosen points | identical events and identical reply bytes |
//! | [`tls_session`] | a TLS [`Connection`](smtp_proto::Connection) against a real rustls client, in memory | only TLS records after the handshake starts (never a plaintext reply), nothing read after close_notify or a TLS error |
//! | [`parsers`] | each codec function on its own | parse → encode → parse round trips where an encoder exists |
//! | [`proxy_header`] | the PROXY header reader, and a server [`Connection`](smtp_proto::Connection) with a PROXY stage | bounded intake, split invariance of both, agreement with one-shot `parse`, a refused header closes without a byte |
//! | [`content_kernels`] | the DATA decoder and BDAT scanner with every content kernel the CPU has (AVX-512, AVX2, SSE2, portable) | every kernel, fed whole and in reads, gives what the portable one gives whole |
//! | [`client_replies`] | the SMTP [`Client`](smtp_proto::client::Client) with two queued transactions, fed arbitrary reply bytes | no content before `354`/BDAT, no UTF-8 envelope without SMTPUTF8, no bare CR or LF over DATA, silence after `Closed`, every transaction reported once |
//!
//! Input layouts are documented on each function; corpus seeds follow them.

mod client;
mod config;
mod content;
mod driver;
mod parsers;
mod proxy;
mod server;
mod tls_session;
mod wire;

use std::time::Instant;

pub use client::client_replies;
pub use content::content_kernels;
pub use parsers::parsers;
pub use proxy::proxy_header;
pub use server::{server_bytes, split_invariance};
pub use tls_session::tls_session;

/// The instant every harness run starts from. The core never reads the clock; the harness
/// needs one `Instant` to start from and moves it forward by itself.
fn epoch() -> Instant {
    crate::now()
}

/// Takes bytes off the front of a fuzz input: a header byte at a time, then the rest.
#[derive(Debug)]
struct Input<'a> {
    rest: &'a [u8],
}

impl<'a> Input<'a> {
    fn new(data: &'a [u8]) -> Self {
        Self { rest: data }
    }

    /// The next byte, or 0 once the input is used up.
    fn byte(&mut self) -> u8 {
        match self.rest.split_first() {
            Some((&first, rest)) => {
                self.rest = rest;
                first
            }
            None => 0,
        }
    }

    /// Up to `n` bytes.
    fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.rest.split_at(n.min(self.rest.len()));
        self.rest = rest;
        head
    }

    /// Everything left.
    fn rest(self) -> &'a [u8] {
        self.rest
    }
}

/// A small deterministic generator (xorshift64), seeded from fuzz bytes, for choices that
/// must not eat into the SMTP payload (read sizes, decisions).
#[derive(Clone, Debug)]
struct Rng(u64);

impl Rng {
    fn new(seed: u8) -> Self {
        Self(0x9e37_79b9_7f4a_7c15 ^ (u64::from(seed) << 17 | u64::from(seed)))
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `0..n` (`n` > 0).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Cuts `bytes` into pieces of the given sizes, cycling through `sizes` (a size of 0 counts
/// as 1) until everything is covered.
fn cut<'a>(bytes: &'a [u8], sizes: &[u8]) -> Vec<&'a [u8]> {
    if sizes.is_empty() {
        return vec![bytes];
    }
    let mut pieces = Vec::new();
    let mut rest = bytes;
    for &size in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (piece, tail) = rest.split_at(usize::from(size.max(1)).min(rest.len()));
        pieces.push(piece);
        rest = tail;
    }
    pieces
}

/// Cuts `bytes` after every LF: one read per line, as a client that waits for each reply.
fn lines(bytes: &[u8]) -> Vec<&[u8]> {
    bytes.split_inclusive(|&b| b == b'\n').collect()
}
