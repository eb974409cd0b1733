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

/// When one socket last wrote and read, shared between the socket (inside the driver)
/// and the session loop. The driver writes the next command as soon as a reply is read,
/// before it hands out the reply's event, so a reply's latency is taken from the read
/// that brought it back to the last write before that read, never from the event.
#[derive(Clone, Debug)]
pub(crate) struct IoMarks {
    base: Instant,
    /// Nanoseconds after `base`, plus one (0: never): the last write, the last read, and
    /// the last write before that read.
    times: Arc<[AtomicU64; 3]>,
}

/// The index of the last write in [`IoMarks::times`].
const WRITE: usize = 0;
/// The index of the last read.
const READ: usize = 1;
/// The index of the last write before the last read.
const SENT_BEFORE_READ: usize = 2;

impl IoMarks {
    /// Nothing yet; times are kept relative to `base`.
    pub(crate) fn new(base: Instant) -> Self {
        Self {
            base,
            times: Arc::new(std::array::from_fn(|_| AtomicU64::new(0))),
        }
    }

    /// The time `now` as stored.
    fn stamp(&self) -> u64 {
        let nanos = now().saturating_duration_since(self.base).as_nanos();
        u64::try_from(nanos).unwrap_or(u64::MAX - 1) + 1
    }

    /// A write finished now.
    fn wrote(&self) {
        self.times[WRITE].store(self.stamp(), Ordering::Relaxed);
    }

    /// A read brought bytes now.
    fn read(&self) {
        let sent = self.times[WRITE].load(Ordering::Relaxed);
        self.times[SENT_BEFORE_READ].store(sent, Ordering::Relaxed);
        self.times[READ].store(self.stamp(), Ordering::Relaxed);
    }

    /// The time at index `which`, if it was noted.
    fn get(&self, which: usize) -> Option<Instant> {
        match self.times[which].load(Ordering::Relaxed) {
            0 => None,
            n => Some(self.base + Duration::from_nanos(n - 1)),
        }
    }

    /// When the last read brought bytes, if one did.
    pub(crate) fn last_read(&self) -> Option<Instant> {
        self.get(READ)
    }

    /// When the last write before the last read finished, if there was one.
    pub(crate) fn sent_before_read(&self) -> Option<Instant> {
        self.get(SENT_BEFORE_READ)
    }
}

/// A stream that notes the time of every write and read in [`IoMarks`].
#[derive(Debug)]
pub(crate) struct TimedStream<S> {
    inner: S,
    marks: IoMarks,
}

impl<S> TimedStream<S> {
    /// Wraps `inner`; writes and reads are noted in `marks`.
    pub(crate) fn new(inner: S, marks: IoMarks) -> Self {
        Self { inner, marks }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for TimedStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = result
            && buf.filled().len() > before
        {
            self.marks.read();
        }
        result
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
            self.marks.wrote();
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
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn writes_and_reads_are_noted() {
        let base = now();
        let marks = IoMarks::new(base);
        assert_eq!((marks.last_read(), marks.sent_before_read()), (None, None));
        let (client, mut server) = tokio::io::duplex(64);
        let mut stream = TimedStream::new(client, marks.clone());
        stream.write_all(b"EHLO x\r\n").await.expect("a write");
        let mut line = [0; 8];
        server.read_exact(&mut line).await.expect("the command");
        server.write_all(b"250 ok\r\n").await.expect("a reply");
        let mut reply = [0; 8];
        stream.read_exact(&mut reply).await.expect("the reply");
        let (sent, read) = (marks.sent_before_read(), marks.last_read());
        assert!(sent.is_some_and(|s| s >= base));
        assert!(read.is_some_and(|r| Some(r) >= sent && r <= now()));
        // A later write does not move the pair of the last read.
        stream.write_all(b"QUIT\r\n").await.expect("a write");
        assert_eq!(marks.sent_before_read(), sent);
    }
}
