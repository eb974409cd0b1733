//! The byte pump: one session over a `std::net::TcpStream`.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use smtp_proto::tls::{Endpoint, Session};
use smtp_proto::{CloseReason, ConnectionInfo, Event};

use crate::handler::Handler;

/// Bytes taken from the socket per read; they go straight into the core.
const READ_SIZE: usize = 64 * 1024;

/// How long the last replies may take to leave once the session has closed.
const FINAL_WRITE: Duration = Duration::from_secs(30);

/// How often a blocked read wakes up to look at the shutdown flag.
const STOP_CHECK: Duration = Duration::from_millis(100);

/// What the listener asks of running sessions (an `AtomicU8` shared with them).
pub(crate) mod stop {
    /// Keep serving.
    pub(crate) const RUN: u8 = 0;
    /// Graceful shutdown: finish the transaction in flight, then `421`.
    pub(crate) const DRAIN: u8 = 1;
    /// The grace period is over: `421` now.
    pub(crate) const NOW: u8 = 2;
}

/// Runs one SMTP session over `stream` until it ends, and returns why it ended. The
/// session uses `endpoint`'s configuration and TLS mode; `info` goes to
/// [`Handler::connect`].
///
/// # Errors
///
/// The I/O error that ended the session, if one did. The handler has been told
/// (`message_aborted`, `close`) either way.
pub fn serve<H: Handler>(
    stream: TcpStream,
    mut handler: H,
    endpoint: &Endpoint,
    info: ConnectionInfo,
) -> io::Result<CloseReason> {
    run(
        stream,
        &mut handler,
        endpoint,
        info,
        &AtomicU8::new(stop::RUN),
    )
}

/// Asks the handler about the connection, then pumps the session until it ends.
pub(crate) fn run<H: Handler>(
    stream: TcpStream,
    handler: &mut H,
    endpoint: &Endpoint,
    info: ConnectionInfo,
    stop: &AtomicU8,
) -> io::Result<CloseReason> {
    let session = match handler.connect(&info) {
        Ok(()) => endpoint.session(now()),
        Err(reply) => endpoint.refuse(now(), Some(reply)),
    };
    pump(stream, session, handler, stop)
}

/// Writes a refusal (`421 4.3.2` by default) and closes, without a handler.
pub(crate) fn refuse(mut stream: TcpStream, endpoint: &Endpoint) -> io::Result<()> {
    let mut session = endpoint.refuse(now(), None);
    while session.poll_event().is_some() {}
    let mut out = Vec::new();
    let _ = session.poll_transmit(&mut out);
    stream.set_write_timeout(Some(FINAL_WRITE))?;
    stream.write_all(&out)?;
    stream.shutdown(Shutdown::Both)
}

/// The loop of the core's drain order: events, one write, timer; then read.
fn pump<H: Handler>(
    mut stream: TcpStream,
    mut session: Session,
    handler: &mut H,
    stop: &AtomicU8,
) -> io::Result<CloseReason> {
    let mut read_buf = vec![0u8; READ_SIZE];
    let mut out = Vec::with_capacity(4096);
    let mut closed = CloseReason::PeerEof;
    let mut io_error = None;
    let mut stopping = stop::RUN;
    // Whatever the client sent before it could see the greeting goes in first, so the
    // core can refuse a client that does not wait for it (smtp-rules.md SMG-P5).
    match read_now(&mut stream, &mut read_buf) {
        Ok(None) => {}
        Ok(Some(0)) => session.handle_eof(now()),
        Ok(Some(n)) => session.handle_input(now(), &read_buf[..n]),
        Err(e) => {
            io_error = Some(e);
            session.handle_eof(now());
        }
    }
    loop {
        while let Some(event) = session.poll_event() {
            if let Some(reason) = dispatch(&mut session, handler, event) {
                closed = reason;
            }
        }
        out.clear();
        if session.poll_transmit(&mut out) > 0 && io_error.is_none() {
            let deadline = session
                .poll_timeout()
                .unwrap_or_else(|| now() + FINAL_WRITE);
            if let Err(e) = write_by(&mut stream, &out, deadline) {
                // The client is gone: let the core wind down and tell the handler.
                io_error = Some(e);
                session.handle_eof(now());
                continue;
            }
        }
        if session.is_closed() {
            let _ = stream.shutdown(Shutdown::Both);
            return io_error.map_or(Ok(closed), Err);
        }
        let asked = stop.load(Ordering::Acquire);
        if asked > stopping {
            stopping = asked;
            if asked == stop::DRAIN {
                session.shutdown_gracefully(now());
            } else {
                session.shutdown(now(), None);
            }
            continue;
        }
        let deadline = session.poll_timeout();
        if deadline.is_some_and(|at| at <= now()) {
            session.handle_timeout(now());
            continue;
        }
        if !session.wants_read() {
            // Only while a decision is pending, which this loop never leaves open; or
            // before the timer fires.
            std::thread::sleep(deadline.map_or(STOP_CHECK, until).min(STOP_CHECK));
            continue;
        }
        let wait = deadline.map_or(STOP_CHECK, until).min(STOP_CHECK);
        stream.set_read_timeout(Some(wait.max(Duration::from_millis(1))))?;
        match stream.read(&mut read_buf) {
            Ok(0) => session.handle_eof(now()),
            Ok(n) => session.handle_input(now(), &read_buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                session.handle_timeout(now());
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                io_error = Some(e);
                session.handle_eof(now());
            }
        }
    }
}

/// One read that does not wait: `None` when nothing is there yet.
fn read_now(stream: &mut TcpStream, buf: &mut [u8]) -> io::Result<Option<usize>> {
    stream.set_nonblocking(true)?;
    let read = stream.read(buf);
    stream.set_nonblocking(false)?;
    match read {
        Ok(n) => Ok(Some(n)),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
        Err(e) => Err(e),
    }
}

/// Writes all of `bytes` by `deadline`: the deadline bounds the whole write, not each
/// `send` (a client draining one byte at a time cannot stretch it).
fn write_by(stream: &mut TcpStream, mut bytes: &[u8], deadline: Instant) -> io::Result<()> {
    while !bytes.is_empty() {
        if now() >= deadline {
            return Err(io::ErrorKind::TimedOut.into());
        }
        stream.set_write_timeout(Some(until(deadline)))?;
        match stream.write(bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Time left until `deadline`, at least a millisecond (a zero timeout means "none").
fn until(deadline: Instant) -> Duration {
    deadline
        .saturating_duration_since(now())
        .max(Duration::from_millis(1))
}

/// The one place the adapter reads the clock.
#[allow(clippy::disallowed_methods)]
fn now() -> Instant {
    Instant::now()
}

/// Hands one event to the handler and answers the core. Returns the close reason when
/// the session ended.
fn dispatch<H: Handler>(
    session: &mut Session,
    handler: &mut H,
    event: Event,
) -> Option<CloseReason> {
    let (pending, decision) = match event {
        Event::Hello {
            pending, domain, ..
        } => (pending, handler.ehlo(&domain)),
        Event::Mail {
            pending,
            from,
            params,
        } => (pending, handler.mail(&from, &params)),
        Event::Rcpt {
            pending,
            to,
            params,
        } => (pending, handler.rcpt(&to, &params)),
        Event::DataStart { pending, .. } => (pending, handler.data_start()),
        Event::MessageComplete { pending, info } => (pending, handler.message(&info)),
        Event::Verify {
            pending, argument, ..
        } => (pending, handler.vrfy(&argument)),
        Event::Auth {
            pending,
            mechanism,
            data,
        } => (pending, handler.auth(&mechanism, &data)),
        Event::DataChunk(chunk) => {
            handler.data_chunk(chunk);
            return None;
        }
        Event::MessageAborted { reason } => {
            handler.message_aborted(reason);
            return None;
        }
        Event::TransactionReset => {
            handler.reset();
            return None;
        }
        Event::TlsEstablished { info } => {
            handler.tls_established(&info);
            return None;
        }
        Event::Closed { reason } => {
            handler.close(reason);
            return Some(reason);
        }
        _ => return None,
    };
    // A reply that does not fit the command was already replaced by a 451 in the core.
    let _ = session.answer(now(), pending, decision);
    None
}

/// Shared by the listener and its session threads.
pub(crate) type StopFlag = Arc<AtomicU8>;
