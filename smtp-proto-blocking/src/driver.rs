//! The pull face of a connection: `next_event()` over a `std::net::TcpStream`.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use smtp_proto::connection::{Connection, Machine, Next, Stop};

/// How often a blocked read wakes up to look at the stop flag.
const STOP_CHECK: Duration = Duration::from_millis(100);

/// The largest buffer a read that follows a wait is given, whatever size the core asks:
/// a session whose peer went quiet does not keep a 64 KiB buffer through its timeout.
const WAITING_READ: usize = 2 * 1024;

/// Drives one [`Connection`] over a `TcpStream`: it writes, reads, keeps the deadlines
/// and looks at the stop flag, and returns only the events, for the application to
/// handle. Answer every decision token ([`answer`](Self::answer)) before asking for the
/// next event; an event the application does not handle goes to
/// [`unhandled`](Self::unhandled). The [`Handler`](crate::Handler) pump is this loop with
/// a trait on top.
pub struct Driver<'a, M: Machine> {
    stream: TcpStream,
    connection: Connection<M>,
    /// The read buffer: the size the core asks while reads return data, at most
    /// [`WAITING_READ`] for the first read after one that found nothing.
    read_buf: Vec<u8>,
    stop: Option<&'a AtomicU8>,
    error: Option<io::Error>,
}

impl<'a, M: Machine> Driver<'a, M> {
    /// Drives `connection` over `stream`.
    pub fn new(stream: TcpStream, connection: Connection<M>) -> Self {
        Self {
            stream,
            connection,
            read_buf: Vec::new(),
            stop: None,
            error: None,
        }
    }

    /// Looks at `stop` (a [`Stop`] level stored as `u8`) at least every 100 ms.
    #[must_use]
    pub fn with_stop(mut self, stop: &'a AtomicU8) -> Self {
        self.stop = Some(stop);
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
    pub fn next_event(&mut self) -> io::Result<Option<M::Event>> {
        loop {
            if let Some(stop) = self.stop {
                self.connection
                    .stop(now(), Stop::from_u8(stop.load(Ordering::Acquire)));
            }
            match self.connection.next(now()) {
                Next::Event(event) => return Ok(Some(event)),
                Next::Transmit { bytes, by } => match write_by(&mut self.stream, bytes, by) {
                    Ok(()) => self.connection.transmitted(now()),
                    Err(error) => {
                        self.error.get_or_insert(error);
                        self.connection.write_failed(now());
                    }
                },
                Next::Read { until, size } => self.read(until, size)?,
                Next::Wait { until: None } => {
                    return Err(io::Error::other(
                        "a decision is owed: answer the event's Pending before the next event",
                    ));
                }
                Next::Wait { until } => {
                    std::thread::sleep(wait_for(until));
                    self.timeout_if_due(until);
                }
                Next::Close => {
                    let _ = self.stream.shutdown(Shutdown::Both);
                    return self.error.take().map_or(Ok(None), Err);
                }
            }
        }
    }

    fn read(&mut self, until: Option<Instant>, size: usize) -> io::Result<()> {
        let want = if self.read_buf.is_empty() {
            size.min(WAITING_READ)
        } else {
            size
        };
        if self.read_buf.len() != want {
            // A new vector rather than a resize: a smaller size gives the memory back.
            self.read_buf = vec![0; want];
        }
        let waited = if until.is_some_and(|at| at <= now()) {
            // One read that does not wait.
            self.stream.set_nonblocking(true)?;
            let read = self.stream.read(&mut self.read_buf);
            self.stream.set_nonblocking(false)?;
            read
        } else {
            self.stream.set_read_timeout(Some(wait_for(until)))?;
            self.stream.read(&mut self.read_buf)
        };
        match waited {
            Ok(0) => self.connection.handle_eof(now()),
            Ok(n) => self.connection.handle_input(now(), &self.read_buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                // Nothing came: the peer is quiet, the large buffer goes back.
                self.read_buf = Vec::new();
                self.timeout_if_due(until);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => {
                self.error.get_or_insert(error);
                self.connection.handle_eof(now());
            }
        }
        Ok(())
    }

    /// After a wait that may have ended early (to look at the stop flag).
    fn timeout_if_due(&mut self, until: Option<Instant>) {
        if until.is_some_and(|at| at <= now()) {
            self.connection.handle_timeout(now());
        }
    }
}

/// How long to block: until `until`, but at most [`STOP_CHECK`] and at least a
/// millisecond (a zero timeout means "none" to the socket).
fn wait_for(until: Option<Instant>) -> Duration {
    until
        .map_or(STOP_CHECK, |at| at.saturating_duration_since(now()))
        .clamp(Duration::from_millis(1), STOP_CHECK)
}

/// Writes all of `bytes` by `deadline`: the deadline bounds the whole write, not each
/// `send` (a peer draining one byte at a time cannot stretch it).
fn write_by(stream: &mut TcpStream, mut bytes: &[u8], deadline: Instant) -> io::Result<()> {
    while !bytes.is_empty() {
        let left = deadline.saturating_duration_since(now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        stream.set_write_timeout(Some(left.max(Duration::from_millis(1))))?;
        match stream.write(bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = bytes.get(n..).unwrap_or_default(),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The clock the adapter gives the core: the one place it is read.
#[allow(clippy::disallowed_methods)]
pub(crate) fn now() -> Instant {
    Instant::now()
}
