//! The push face of a connection: the [`Driver`] loop, each event handed to a
//! [`Handler`].

use std::io;
use std::net::TcpStream;
use std::sync::atomic::AtomicU8;

use smtp_proto::connection::{ConnectionInfo, Stop};
use smtp_proto::tls::Endpoint;
use smtp_proto::{CloseReason, Event, Server};

use crate::driver::{Driver, now};
use crate::handler::Handler;

/// Runs one SMTP session over `stream` until it ends, and returns why it ended. The
/// session uses `endpoint`'s configuration and TLS mode; `info` goes to
/// [`Handler::connect`].
///
/// # Errors
///
/// The I/O error that ended the session, if one did. The handler has been told
/// (`message_aborted`, `closed`) either way.
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
        &AtomicU8::new(Stop::Run as u8),
    )
}

/// Asks the handler about the connection, then hands it every event until the session
/// ends.
pub(crate) fn run<H: Handler>(
    stream: TcpStream,
    handler: &mut H,
    endpoint: &Endpoint,
    info: ConnectionInfo,
    stop: &AtomicU8,
) -> io::Result<CloseReason> {
    let connect = if endpoint.config().proxy.is_some() {
        // The connect decision waits for the real client (PX-3): Event::ProxyHeader.
        Ok(())
    } else {
        handler.connect(&info)
    };
    let connection = match connect {
        Ok(()) => endpoint.accept_from(now(), info),
        Err(reply) => endpoint.refuse(now(), Some(reply)),
    };
    let mut driver = Driver::new(stream, connection.with_info(info)).with_stop(stop);
    let mut closed = CloseReason::PeerEof;
    while let Some(event) = driver.next_event()? {
        if let Some(reason) = dispatch(&mut driver, handler, event) {
            closed = reason;
        }
    }
    Ok(closed)
}

/// Writes a refusal (`421 4.3.2` by default) and closes, without a handler.
pub(crate) fn refuse(stream: TcpStream, endpoint: &Endpoint) -> io::Result<()> {
    let mut driver = Driver::new(stream, endpoint.refuse(now(), None));
    while let Some(event) = driver.next_event()? {
        driver.unhandled(event);
    }
    Ok(())
}

/// Hands one event to the handler and answers the core. Returns the close reason when
/// the session ended.
fn dispatch<H: Handler>(
    driver: &mut Driver<'_, Server>,
    handler: &mut H,
    event: Event,
) -> Option<CloseReason> {
    let (pending, decision) = match event {
        Event::Hello {
            pending, domain, ..
        } => (pending, handler.hello(&domain)),
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
        Event::MessageComplete { pending, info } => (pending, handler.message_complete(&info)),
        Event::Verify {
            pending, argument, ..
        } => (pending, handler.verify(&argument)),
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
            handler.transaction_reset();
            return None;
        }
        Event::StartTls { discarded } => {
            handler.start_tls(discarded);
            return None;
        }
        Event::TlsEstablished { info } => {
            handler.tls_established(&info);
            return None;
        }
        Event::ProxyHeader { header } => {
            handler.proxy_header(&header);
            if let Some(info) = driver.connection().info().copied()
                && let Err(reply) = handler.connect(&info)
            {
                driver
                    .connection_mut()
                    .machine_mut()
                    .refuse_now(now(), reply);
            }
            return None;
        }
        Event::Xclient { attributes } => {
            if let Some(info) = driver.connection().info().copied() {
                handler.xclient(&attributes, &info);
            }
            return None;
        }
        // Closed in the PROXY stage: `connect` was never asked, so no `closed` either.
        Event::Closed {
            reason: reason @ CloseReason::ProxyRejected,
        } => return Some(reason),
        Event::Closed { reason } => {
            handler.closed(reason);
            return Some(reason);
        }
        other => {
            driver.unhandled(other);
            return None;
        }
    };
    driver.answer(pending, decision);
    None
}
