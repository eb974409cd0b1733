//! The clock (the one place the generator reads it), and a socket wrapper that notes when
//! bytes last left, so a reply's latency can be taken from the write of its command.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The one place smtp-load reads the monotonic clock.
#[allow(clippy::disallowed_methods)]
pub(crate) fn now() -> Instant {
    Instant::now()
}

/// When the last write to one socket finished, shared between the socket (inside the
/// driver) and the session loop that reads it.
#[derive(Clone, Debug)]
pub(crate) struct WriteMark {
    base: Instant,
    /// Nanoseconds after `base`, plus one; 0 while nothing was written.
    nanos: Arc<AtomicU64>,
}

impl WriteMark {
    /// No write yet; times are kept relative to `base`.
    pub(crate) fn new(base: Instant) -> Self {
        Self {
            base,
            nanos: Arc::new(AtomicU64::new(0)),
        }
    }

    /// A write finished now.
    fn note(&self) {
        let nanos = now().saturating_duration_since(self.base).as_nanos();
        let nanos = u64::try_from(nanos).unwrap_or(u64::MAX - 1);
        self.nanos.store(nanos + 1, Ordering::Relaxed);
    }

    /// When the last write finished, if any did.
    pub(crate) fn last(&self) -> Option<Instant> {
        match self.nanos.load(Ordering::Relaxed) {
            0 => None,
            n => Some(self.base + Duration::from_nanos(n - 1)),
        }
    }
}

/// A stream that notes the time of every write in a [`WriteMark`].
#[derive(Debug)]
pub(crate) struct TimedStream<S> {
    inner: S,
    mark: WriteMark,
}

impl<S> TimedStream<S> {
    /// Wraps `inner`; writes are noted in `mark`.
    pub(crate) fn new(inner: S, mark: WriteMark) -> Self {
        Self { inner, mark }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for TimedStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for TimedStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = result
            && n > 0
        {
            self.mark.note();
        }
        result
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn writes_are_noted() {
        let base = now();
        let mark = WriteMark::new(base);
        assert_eq!(mark.last(), None);
        let mut stream = TimedStream::new(Vec::new(), mark.clone());
        stream
            .write_all(b"EHLO x\r\n")
            .await
            .expect("a write to memory");
        let at = mark.last().expect("noted");
        assert!(at >= base && at <= now());
        assert_eq!(stream.inner, b"EHLO x\r\n");
    }
}
