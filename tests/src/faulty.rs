//! A transport that misbehaves on purpose, for driving `smtp_proto_tokio::serve` over
//! `tokio::io::duplex`: at most N bytes per `poll_read` or `poll_write`, and writes that
//! fail after a number of bytes. A shared [`Probe`] tells the test what the server did.
//!
//! Feature `adapters` (default): it needs tokio.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// What the server did to a [`Faulty`] transport.
#[derive(Debug, Default)]
pub struct Probe {
    /// Bytes the server wrote successfully.
    pub written: AtomicUsize,
    /// `poll_write` calls after the first injected failure (must stay 0: a dead
    /// connection is never written again, CVE-2020-28018).
    pub writes_after_failure: AtomicUsize,
    /// Whether a write failed.
    pub failed: AtomicBool,
}

/// Wraps a transport: reads and writes at most `max_read`/`max_write` bytes per call, and
/// every write fails with `BrokenPipe` once `fail_after` bytes were written.
#[derive(Debug)]
pub struct Faulty<S> {
    inner: S,
    max_read: usize,
    max_write: usize,
    fail_after: Option<usize>,
    probe: Arc<Probe>,
}

impl<S> Faulty<S> {
    /// A transport that passes everything through unchanged (so far).
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            max_read: usize::MAX,
            max_write: usize::MAX,
            fail_after: None,
            probe: Arc::default(),
        }
    }

    /// At most `n` (≥ 1) bytes per read.
    #[must_use]
    pub fn max_read(mut self, n: usize) -> Self {
        self.max_read = n.max(1);
        self
    }

    /// At most `n` (≥ 1) bytes per write.
    #[must_use]
    pub fn max_write(mut self, n: usize) -> Self {
        self.max_write = n.max(1);
        self
    }

    /// Writes fail once `n` bytes were written.
    #[must_use]
    pub fn fail_writes_after(mut self, n: usize) -> Self {
        self.fail_after = Some(n);
        self
    }

    /// What the server did.
    pub fn probe(&self) -> Arc<Probe> {
        self.probe.clone()
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Faulty<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if buf.remaining() <= this.max_read {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        }
        let mut scratch = vec![0u8; this.max_read];
        let mut small = ReadBuf::new(&mut scratch);
        ready!(Pin::new(&mut this.inner).poll_read(cx, &mut small))?;
        buf.put_slice(small.filled());
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Faulty<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = this.probe.written.load(Ordering::SeqCst);
        if this.probe.failed.load(Ordering::SeqCst) {
            this.probe
                .writes_after_failure
                .fetch_add(1, Ordering::SeqCst);
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        let mut len = buf.len().min(this.max_write);
        if let Some(limit) = this.fail_after {
            if written >= limit && !buf.is_empty() {
                this.probe.failed.store(true, Ordering::SeqCst);
                return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
            }
            len = len.min(limit - written);
        }
        let n = ready!(Pin::new(&mut this.inner).poll_write(cx, &buf[..len]))?;
        this.probe.written.fetch_add(n, Ordering::SeqCst);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
