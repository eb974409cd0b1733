//! The byte pump: one session over any `AsyncRead + AsyncWrite`.

use std::io;
use std::time::{Duration, Instant};

use smtp_proto::tls::{Endpoint, Session};
use smtp_proto::{CloseReason, Event};
use std::pin::Pin;
use std::task::Poll;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::watch;

use crate::handler::Handler;
use smtp_proto::ConnectionInfo;

/// Bytes taken from the socket per read; they go straight into the core. An idle or
/// chatty session reads into the small size; a read that fills the buffer doubles it, up
/// to the large size (bulk DATA), and a short read brings it back down, so 10,000 idle
/// sessions do not hold 64 KiB each.
const READ_SMALL: usize = 2 * 1024;
const READ_LARGE: usize = 64 * 1024;
/// Short reads in a row after which a large read buffer is given back.
const SHRINK_AFTER: u32 = 8;

/// How long the last replies may take to leave once the session has closed.
const FINAL_WRITE: Duration = Duration::from_secs(30);

/// What the listener asks of a running session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Stop {
    /// Keep serving.
    Run,
    /// Graceful shutdown: finish the transaction in flight, then `421`.
    Drain,
    /// The grace period is over: `421` now.
    Now,
}

/// Runs one SMTP session over `io` until it ends, and returns why it ended. The session
/// uses `endpoint`'s configuration and TLS mode; `info` goes to [`Handler::connect`].
///
/// # Errors
///
/// The I/O error that ended the session, if one did. The handler has been told
/// (`message_aborted`, `close`) either way.
pub async fn serve<S, H>(
    io: S,
    mut handler: H,
    endpoint: &Endpoint,
    info: ConnectionInfo,
) -> io::Result<CloseReason>
where
    S: AsyncRead + AsyncWrite + Unpin,
    H: Handler,
{
    let (_keep, stop) = watch::channel(Stop::Run);
    run(io, &mut handler, endpoint, info, stop).await
}

/// Asks the handler about the connection, then pumps the session until it ends.
pub(crate) async fn run<S, H>(
    io: S,
    handler: &mut H,
    endpoint: &Endpoint,
    info: ConnectionInfo,
    stop: watch::Receiver<Stop>,
) -> io::Result<CloseReason>
where
    S: AsyncRead + AsyncWrite + Unpin,
    H: Handler,
{
    let session = match handler.connect(&info).await {
        Ok(()) => endpoint.session(now()),
        Err(reply) => endpoint.refuse(now(), Some(reply)),
    };
    pump(io, session, handler, stop).await
}

/// Writes a refusal (`421 4.3.2` by default) and closes, without a handler.
pub(crate) async fn refuse<S>(mut io: S, endpoint: &Endpoint) -> io::Result<()>
where
    S: AsyncWrite + Unpin,
{
    let mut session = endpoint.refuse(now(), None);
    while session.poll_event().is_some() {}
    let mut out = Vec::new();
    let _ = session.poll_transmit(&mut out);
    tokio::time::timeout(FINAL_WRITE, write_all(&mut io, &out))
        .await
        .map_err(|_| io::ErrorKind::TimedOut)??;
    io.shutdown().await
}

/// The loop of the core's drain order: events, one write, timer; then read.
async fn pump<S, H>(
    mut io: S,
    mut session: Session,
    handler: &mut H,
    stop: watch::Receiver<Stop>,
) -> io::Result<CloseReason>
where
    S: AsyncRead + AsyncWrite + Unpin,
    H: Handler,
{
    // The timer and the stop signal live as long as the session, so a command's round
    // trip registers neither anew. The timer is only ever moved earlier: when it fires
    // before the session's (later) deadline it is simply armed again.
    let mut timer = Box::pin(tokio::time::sleep(FINAL_WRITE));
    let mut armed: Option<Instant> = None;
    let mut stop_signal = Box::pin(next_stop(stop));
    let mut read_buf = vec![0u8; READ_SMALL];
    let mut short_reads = 0;
    let mut out = Vec::new();
    let mut closed = CloseReason::PeerEof;
    let mut io_error = None;
    let mut stopping = Stop::Run;
    // Whatever the client sent before it could see the greeting goes in first, so the
    // core can refuse a client that does not wait for it (smtp-rules.md SMG-P5).
    if let Some(n) = read_now(&mut io, &mut read_buf).await {
        match n {
            Ok(0) => session.handle_eof(now()),
            Ok(n) => session.handle_input(now(), &read_buf[..n]),
            Err(e) => {
                io_error = Some(e);
                session.handle_eof(now());
            }
        }
    }
    loop {
        while let Some(event) = session.poll_event() {
            if let Some(reason) = dispatch(&mut session, handler, event).await {
                closed = reason;
            }
        }
        out.clear();
        if session.poll_transmit(&mut out) > 0 && io_error.is_none() {
            let deadline = session
                .poll_timeout()
                .unwrap_or_else(|| now() + FINAL_WRITE);
            match tokio::time::timeout_at(deadline.into(), write_all(&mut io, &out)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => io_error = Some(e),
                Err(_) => io_error = Some(io::ErrorKind::TimedOut.into()),
            }
            if io_error.is_some() {
                // The client is gone: let the core wind down and tell the handler.
                session.handle_eof(now());
                continue;
            }
        }
        if session.is_closed() {
            let _ = io.shutdown().await;
            return io_error.map_or(Ok(closed), Err);
        }
        let deadline = session.poll_timeout();
        if let Some(at) = deadline
            && armed.is_none_or(|armed| at < armed)
        {
            timer.as_mut().reset(at.into());
            armed = Some(at);
        }
        let wants_read = session.wants_read();
        tokio::select! {
            result = io.read(&mut read_buf), if wants_read => match result {
                Ok(0) => session.handle_eof(now()),
                Ok(n) => {
                    session.handle_input(now(), &read_buf[..n]);
                    resize_for(&mut read_buf, &mut short_reads, n);
                }
                Err(e) => {
                    io_error = Some(e);
                    session.handle_eof(now());
                }
            },
            () = &mut timer, if armed.is_some() => {
                // Before a deadline that moved later this does nothing (the core checks),
                // and the loop arms the timer again.
                armed = None;
                session.handle_timeout(now());
            }
            (asked, stop) = &mut stop_signal, if stopping != Stop::Now => {
                stop_signal = Box::pin(next_stop(stop));
                if asked > stopping {
                    stopping = asked;
                    match asked {
                        Stop::Run => {}
                        Stop::Drain => session.shutdown_gracefully(now()),
                        Stop::Now => session.shutdown(now(), None),
                    }
                }
            }
        }
    }
}

/// The next stop request, with the receiver to wait for the one after it. A listener that
/// went away counts as [`Stop::Now`].
async fn next_stop(mut stop: watch::Receiver<Stop>) -> (Stop, watch::Receiver<Stop>) {
    let asked = match stop.changed().await {
        Ok(()) => *stop.borrow_and_update(),
        Err(_) => Stop::Now,
    };
    (asked, stop)
}

/// Grows the read buffer after a read that filled it; shrinks it back after a run of
/// short reads (one short read in bulk DATA must not make the next ones small).
fn resize_for(read_buf: &mut Vec<u8>, short_reads: &mut u32, last_read: usize) {
    let len = read_buf.len();
    if last_read == len && len < READ_LARGE {
        read_buf.resize(len * 2, 0);
    }
    if last_read >= READ_SMALL {
        *short_reads = 0;
    } else if len > READ_SMALL {
        *short_reads += 1;
        if *short_reads >= SHRINK_AFTER {
            *read_buf = vec![0u8; READ_SMALL];
            *short_reads = 0;
        }
    }
}

/// One read that does not wait: `None` when nothing is there yet.
async fn read_now<S: AsyncRead + Unpin>(io: &mut S, buf: &mut [u8]) -> Option<io::Result<usize>> {
    let mut read_buf = ReadBuf::new(buf);
    let polled =
        std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut *io).poll_read(cx, &mut read_buf)))
            .await;
    match polled {
        Poll::Pending => None,
        Poll::Ready(result) => Some(result.map(|()| read_buf.filled().len())),
    }
}

async fn write_all<S: AsyncWrite + Unpin>(io: &mut S, bytes: &[u8]) -> io::Result<()> {
    io.write_all(bytes).await?;
    io.flush().await
}

/// The one place the adapter reads the clock.
#[allow(clippy::disallowed_methods)]
fn now() -> Instant {
    Instant::now()
}

/// Hands one event to the handler and answers the core. Returns the close reason when
/// the session ended.
async fn dispatch<H: Handler>(
    session: &mut Session,
    handler: &mut H,
    event: Event,
) -> Option<CloseReason> {
    let (pending, decision) = match event {
        Event::Hello {
            pending, domain, ..
        } => (pending, handler.ehlo(&domain).await),
        Event::Mail {
            pending,
            from,
            params,
        } => (pending, handler.mail(&from, &params).await),
        Event::Rcpt {
            pending,
            to,
            params,
        } => (pending, handler.rcpt(&to, &params).await),
        Event::DataStart { pending, .. } => (pending, handler.data_start().await),
        Event::MessageComplete { pending, info } => (pending, handler.message(&info).await),
        Event::Verify {
            pending, argument, ..
        } => (pending, handler.vrfy(&argument).await),
        Event::Auth {
            pending,
            mechanism,
            data,
        } => (pending, handler.auth(&mechanism, &data).await),
        Event::DataChunk(chunk) => {
            handler.data_chunk(chunk).await;
            return None;
        }
        Event::MessageAborted { reason } => {
            handler.message_aborted(reason).await;
            return None;
        }
        Event::TransactionReset => {
            handler.reset().await;
            return None;
        }
        Event::TlsEstablished { info } => {
            handler.tls_established(&info).await;
            return None;
        }
        Event::Closed { reason } => {
            handler.close(reason).await;
            return Some(reason);
        }
        _ => return None,
    };
    if let Err(misuse) = session.answer(now(), pending, decision) {
        // A reply of the wrong class from the handler (e.g. 354 for MAIL): refuse with
        // the core's default rather than leave the client waiting.
        tracing::warn!(%misuse, "handler answered with a reply that does not fit; refusing");
    }
    None
}
