//! The pull face of a connection: `next_event().await` over any `AsyncRead + AsyncWrite`.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use smtp_proto::connection::{Connection, Machine, Next, Stop};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::watch;
use tokio::time::Sleep;

use crate::output::Output;

/// The largest buffer a read that may have to wait for the peer is given: the first
/// read after a wait, whatever size the core asks (see [`poll_read_sized`]).
const WAITING_READ: usize = 2 * 1024;

/// Drives one [`Connection`] over a socket: it writes, reads, keeps the timer and hears
/// stop requests, and returns only the events, for the application to handle. Answer
/// every decision token ([`answer`](Self::answer)) before asking for the next event; an
/// event the application does not handle goes to [`unhandled`](Self::unhandled).
///
/// The [`Handler`](crate::Handler) pump is this loop with a trait on top; use `Driver`
/// directly when a trait does not fit:
///
/// ```no_run
/// # async fn example(socket: tokio::net::TcpStream, endpoint: smtp_proto::tls::Endpoint) -> std::io::Result<()> {
/// use smtp_proto::{Event, Reply};
/// use smtp_proto_tokio::Driver;
///
/// let mut driver = Driver::new(socket, endpoint.accept(std::time::Instant::now()));
/// while let Some(event) = driver.next_event().await? {
///     match event {
///         Event::Rcpt { pending, to, .. } if to.mailbox().is_none() => {
///             // RCPT TO:<Postmaster>, which every server must take (RFC 5321 §4.5.1).
///             driver.answer(pending, Ok(()));
///         }
///         Event::Rcpt { pending, .. } => {
///             driver.answer(pending, Err(Reply::new(550, "No such user here").expect("a valid reply")));
///         }
///         Event::DataChunk(bytes) => println!("{} octets", bytes.len()),
///         other => match other.into_pending() {
///             Some(pending) => driver.answer(pending, Ok(())),
///             None => {}
///         },
///     }
/// }
/// # Ok(())
/// # }
/// ```
pub struct Driver<S, M: Machine> {
    io: S,
    connection: Connection<M>,
    /// The buffer of the read in progress: empty while a read waits for the peer (see
    /// [`poll_read_sized`]), the size the core asks while data flows.
    read_buf: Vec<u8>,
    /// One timer for the whole session, only ever moved earlier: when it fires before
    /// the machine's (later) deadline, `handle_timeout` does nothing and it is armed again.
    timer: Pin<Box<Sleep>>,
    armed: Option<Instant>,
    /// The next stop request, kept for the whole session so a round trip registers no
    /// new waiter.
    stop: StopSignal,
    error: Option<io::Error>,
    /// How the next bytes leave (see [`set_output`](Self::set_output)).
    output: Output,
    /// The connection was closed on purpose ([`Output::disconnect`], or after a write
    /// with [`Output::and_close`]).
    disconnected: bool,
}

impl<S, M> Driver<S, M>
where
    S: AsyncRead + AsyncWrite + Unpin,
    M: Machine,
{
    /// Drives `connection` over `io`.
    pub fn new(io: S, connection: Connection<M>) -> Self {
        Self {
            io,
            connection,
            read_buf: Vec::new(),
            timer: Box::pin(tokio::time::sleep_until(now().into())),
            armed: None,
            stop: Box::pin(std::future::pending()),
            error: None,
            output: Output::NORMAL,
            disconnected: false,
        }
    }

    /// How the session's next bytes leave: a tarpit, a close after them, or a close now
    /// (before they are written). [`Output::NORMAL`] changes nothing; anything else
    /// replaces what an earlier call asked for the next write.
    pub fn set_output(&mut self, output: Output) {
        if !output.is_normal() {
            self.output = output;
        }
    }

    /// Whether the connection was closed on purpose through [`set_output`](Self::set_output):
    /// the peer hears nothing more, and decisions still owed need no real answer.
    pub fn is_disconnected(&self) -> bool {
        self.disconnected
    }

    /// Listens for stop requests (graceful, then immediate shutdown) on `stop`; a sender
    /// that goes away counts as [`Stop::Now`].
    #[must_use]
    pub fn with_stop(mut self, stop: watch::Receiver<Stop>) -> Self {
        self.stop = Box::pin(next_stop(stop));
        self
    }

    /// The connection, for its machine's getters.
    pub fn connection(&self) -> &Connection<M> {
        &self.connection
    }

    /// The connection, for calls on its machine (a client's `send`, `send_body`, `quit`).
    pub fn connection_mut(&mut self) -> &mut Connection<M> {
        &mut self.connection
    }

    /// Answers a decision token from an event (see [`Connection::answer`]).
    pub fn answer(&mut self, pending: M::Pending, decision: M::Decision) {
        // A misfit answer is logged and answered safely by the connection.
        let _ = self.connection.answer(now(), pending, decision);
    }

    /// Gives back an event the application does not handle (see
    /// [`Connection::unhandled`]).
    pub fn unhandled(&mut self, event: M::Event) {
        self.connection.unhandled(now(), event);
    }

    /// The next event, or `None` once the session is over and the socket shut down.
    ///
    /// # Errors
    ///
    /// The I/O error that ended the session (after the machine wound down and its last
    /// events were returned), or [`io::ErrorKind::Other`] when a decision is owed and
    /// was never answered.
    pub async fn next_event(&mut self) -> io::Result<Option<M::Event>> {
        loop {
            if self.output.closes_now() {
                self.output = Output::NORMAL;
                self.disconnect().await;
            }
            match self.connection.next(now()) {
                Next::Event(event) => return Ok(Some(event)),
                Next::Transmit { bytes, by } => {
                    let output = std::mem::take(&mut self.output);
                    let write = async {
                        match output.tarpit_interval() {
                            Some(interval) => write_slowly(&mut self.io, bytes, interval).await,
                            None => write_all(&mut self.io, bytes).await,
                        }
                    };
                    match tokio::time::timeout_at(by.into(), write).await {
                        Ok(Ok(())) => self.connection.transmitted(now()),
                        Ok(Err(error)) => self.fail(error),
                        Err(_) => self.fail(io::ErrorKind::TimedOut.into()),
                    }
                    if output.closes_after_write() {
                        self.disconnect().await;
                    }
                }
                Next::Read { until, size } => self.read(until, size).await,
                Next::Wait { until: None } => {
                    return Err(io::Error::other(
                        "a decision is owed: answer the event's Pending before the next event",
                    ));
                }
                Next::Wait { until } => self.wait(until).await,
                Next::Close => {
                    let _ = self.io.shutdown().await;
                    return self.error.take().map_or(Ok(None), Err);
                }
            }
        }
    }

    /// Closes the connection on purpose: nothing more is written or read, the socket is
    /// shut down, and the machine winds down as if the peer had gone.
    async fn disconnect(&mut self) {
        if !self.disconnected {
            self.disconnected = true;
            self.connection.write_failed(now());
            let _ = self.io.shutdown().await;
        }
    }

    fn fail(&mut self, error: io::Error) {
        self.error.get_or_insert(error);
        self.connection.write_failed(now());
    }

    async fn read(&mut self, until: Option<Instant>, size: usize) {
        self.arm(until);
        let armed = self.armed.is_some();
        let Self {
            io,
            read_buf,
            timer,
            stop,
            ..
        } = &mut *self;
        let read = std::future::poll_fn(|cx| poll_read_sized(cx, io, read_buf, size));
        tokio::select! {
            biased;
            result = read => match result {
                Ok(0) => self.connection.handle_eof(now()),
                Ok(n) => self.connection.handle_input(now(), &self.read_buf[..n]),
                Err(error) => {
                    self.error.get_or_insert(error);
                    self.connection.handle_eof(now());
                }
            },
            () = timer.as_mut(), if armed => {
                self.armed = None;
                self.connection.handle_timeout(now());
            }
            (level, next) = stop.as_mut() => self.on_stop(level, next),
        }
    }

    async fn wait(&mut self, until: Option<Instant>) {
        self.arm(until);
        let armed = self.armed.is_some();
        tokio::select! {
            () = &mut self.timer, if armed => {
                self.armed = None;
                self.connection.handle_timeout(now());
            }
            (level, stop) = &mut self.stop => self.on_stop(level, stop),
        }
    }

    fn on_stop(&mut self, level: Stop, stop: Option<watch::Receiver<Stop>>) {
        self.stop = match stop {
            Some(stop) => Box::pin(next_stop(stop)),
            None => Box::pin(std::future::pending()),
        };
        self.connection.stop(now(), level);
    }

    fn arm(&mut self, until: Option<Instant>) {
        if let Some(at) = until
            && self.armed.is_none_or(|armed| at < armed)
        {
            self.timer.as_mut().reset(at.into());
            self.armed = Some(at);
        }
    }
}

/// Tries one read of at most `size` bytes into `buf` without holding a large buffer
/// while the peer is silent: a read that has to wait gives its buffer back (a stalled
/// session keeps no 64 KiB buffer for its whole timeout), and the first read after a
/// wait goes into a buffer of at most [`WAITING_READ`] bytes. While reads keep
/// returning data, `buf` stays allocated at the size the core asks.
fn poll_read_sized<S: AsyncRead + Unpin>(
    cx: &mut Context<'_>,
    io: &mut S,
    buf: &mut Vec<u8>,
    size: usize,
) -> Poll<io::Result<usize>> {
    let want = if buf.is_empty() {
        size.min(WAITING_READ)
    } else {
        size
    };
    if buf.len() != want {
        // A new vector rather than a resize: a smaller size gives the memory back.
        *buf = vec![0; want];
    }
    let mut read = ReadBuf::new(buf);
    match Pin::new(io).poll_read(cx, &mut read) {
        Poll::Ready(Ok(())) => Poll::Ready(Ok(read.filled().len())),
        Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
        Poll::Pending => {
            // The waker is registered; the buffer is not needed until data comes.
            *buf = Vec::new();
            Poll::Pending
        }
    }
}

/// A stop request, with the receiver to wait for the next one (`None` once the sender
/// went away).
type StopSignal = Pin<Box<dyn Future<Output = (Stop, Option<watch::Receiver<Stop>>)> + Send>>;

/// The next stop request. A sender that went away counts as [`Stop::Now`].
async fn next_stop(mut stop: watch::Receiver<Stop>) -> (Stop, Option<watch::Receiver<Stop>>) {
    match stop.changed().await {
        Ok(()) => {
            let level = *stop.borrow_and_update();
            (level, Some(stop))
        }
        Err(_) => (Stop::Now, None),
    }
}

/// Writes `bytes` one octet per `interval` (a tarpit).
async fn write_slowly<S: AsyncWrite + Unpin>(
    io: &mut S,
    bytes: &[u8],
    interval: std::time::Duration,
) -> io::Result<()> {
    for (i, byte) in bytes.iter().enumerate() {
        if i > 0 {
            tokio::time::sleep(interval).await;
        }
        write_all(io, std::slice::from_ref(byte)).await?;
    }
    Ok(())
}

async fn write_all<S: AsyncWrite + Unpin>(io: &mut S, bytes: &[u8]) -> io::Result<()> {
    io.write_all(bytes).await?;
    io.flush().await
}

/// The clock the adapter gives the core: the one place it is read.
#[allow(clippy::disallowed_methods)]
pub(crate) fn now() -> Instant {
    Instant::now()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Issue 15: a read that waits holds no buffer, the first read after a wait is
    /// small, and reads that keep finding data use the size the core asks.
    #[tokio::test]
    async fn a_waiting_read_holds_no_buffer() {
        let (mut peer, mut io) = tokio::io::duplex(256 * 1024);
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut buf = Vec::new();
        let size = 64 * 1024;
        assert!(poll_read_sized(&mut cx, &mut io, &mut buf, size).is_pending());
        assert_eq!(buf.capacity(), 0);
        peer.write_all(&[b'x'; 100 * 1024]).await.unwrap();
        let first = poll_read_sized(&mut cx, &mut io, &mut buf, size);
        assert!(matches!(first, Poll::Ready(Ok(WAITING_READ))), "{first:?}");
        let second = poll_read_sized(&mut cx, &mut io, &mut buf, size);
        assert!(
            matches!(second, Poll::Ready(Ok(n)) if n == size),
            "{second:?}"
        );
        let rest = poll_read_sized(&mut cx, &mut io, &mut buf, size);
        assert!(
            matches!(rest, Poll::Ready(Ok(n)) if n == 100 * 1024 - size - WAITING_READ),
            "{rest:?}"
        );
        // The burst is over: the next read waits, and gives the 64 KiB back.
        assert!(poll_read_sized(&mut cx, &mut io, &mut buf, size).is_pending());
        assert_eq!(buf.capacity(), 0);
    }
}
