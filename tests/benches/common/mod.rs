//! Shared pieces of the micro-benchmarks: the pipelined transcript,
//! one driver per implementation (ours and the anchors), and a line framer for the anchors
//! that take whole lines. Each bench uses a subset, hence `dead_code` is allowed here.
#![allow(dead_code)]

pub(crate) mod anchors;
pub(crate) mod ours;
pub(crate) mod transcript;

use std::time::Instant;

/// The one clock reading a bench needs: the core never reads the clock, the caller
/// injects it, and a constant `now` is a valid (frozen) clock.
#[allow(clippy::disallowed_methods)]
pub(crate) fn now() -> Instant {
    Instant::now()
}

/// Splits a byte stream into LF-terminated lines for the libraries that take whole lines
/// (mailrs, mailin), zero-copy except for a line that spans two reads.
#[derive(Debug, Default)]
pub(crate) struct LineFramer {
    /// The start of a line whose end has not arrived yet.
    partial: Vec<u8>,
}

impl LineFramer {
    /// Calls `on_line` with every complete line in `input` (its CR LF included), keeping
    /// an incomplete tail for the next call.
    pub(crate) fn feed(&mut self, mut input: &[u8], mut on_line: impl FnMut(&[u8])) {
        if !self.partial.is_empty() {
            let Some(lf) = memchr::memchr(b'\n', input) else {
                self.partial.extend_from_slice(input);
                return;
            };
            self.partial.extend_from_slice(&input[..=lf]);
            on_line(&self.partial);
            self.partial.clear();
            input = &input[lf + 1..];
        }
        let mut start = 0;
        for lf in memchr::memchr_iter(b'\n', input) {
            on_line(&input[start..=lf]);
            start = lf + 1;
        }
        self.partial.extend_from_slice(&input[start..]);
    }
}
