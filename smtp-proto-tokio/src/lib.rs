//! tokio adapter for [`smtp_proto::Server`]: a byte pump between a socket and the core,
//! and a [`Handler`] trait whose async methods make the decisions.
//!
//! The adapter never parses SMTP and holds no read buffer of its own: every byte read goes
//! straight into the core, the replies to a pipelined batch leave in one write, and the
//! read deadline comes from `poll_timeout`.
#![forbid(unsafe_code)]

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use smtp_proto::{
    AuthData, CloseReason, Domain, Event, ForwardPath, MailParams, MessageInfo, RcptParams, Reply,
    ReversePath, Server, ServerConfig,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// What a handler decides about a command: `Ok(())` accepts with the normal reply,
/// `Err(reply)` answers with `reply` (normally a refusal).
pub type Decision = Result<(), Reply>;

/// The application's side of one SMTP session. Every method has an accepting default, so
/// a handler implements only what it cares about. One handler value serves one connection.
pub trait Handler: Send {
    /// HELO, EHLO or LHLO.
    fn ehlo(&mut self, domain: &Domain) -> impl Future<Output = Decision> + Send {
        let _ = domain;
        async { Ok(()) }
    }

    /// MAIL FROM.
    fn mail(
        &mut self,
        from: &ReversePath,
        params: &MailParams,
    ) -> impl Future<Output = Decision> + Send {
        let _ = (from, params);
        async { Ok(()) }
    }

    /// RCPT TO.
    fn rcpt(
        &mut self,
        to: &ForwardPath,
        params: &RcptParams,
    ) -> impl Future<Output = Decision> + Send {
        let _ = (to, params);
        async { Ok(()) }
    }

    /// DATA, or the first BDAT of a message.
    fn data_start(&mut self) -> impl Future<Output = Decision> + Send {
        async { Ok(()) }
    }

    /// Message content, in order, dot-unstuffed. A failure to store it should be
    /// remembered and reported from [`Handler::message`].
    fn data_chunk(&mut self, chunk: Bytes) -> impl Future<Output = ()> + Send {
        let _ = chunk;
        async {}
    }

    /// The end of the message. Return `Ok` only once the message is stored: the client
    /// gets its 250 only then, so nothing acknowledged is lost.
    fn message(&mut self, info: &MessageInfo) -> impl Future<Output = Decision> + Send {
        let _ = info;
        async { Ok(()) }
    }

    /// The message in progress will not complete (refused, or the client left).
    fn message_aborted(&mut self) -> impl Future<Output = ()> + Send {
        async {}
    }

    /// An AUTH step. The default refuses, so a server with AUTH configured must decide.
    fn auth(&mut self, mechanism: &str, data: &AuthData) -> impl Future<Output = Decision> + Send {
        let _ = (mechanism, data);
        async { Err(Reply::new(535, "Authentication credentials invalid").expect("valid reply")) }
    }

    /// VRFY or EXPN; `Ok` answers 252 (cannot verify, will accept).
    fn vrfy(&mut self, argument: &str) -> impl Future<Output = Decision> + Send {
        let _ = argument;
        async { Ok(()) }
    }

    /// The transaction was reset (RSET, EHLO, STARTTLS, QUIT).
    fn reset(&mut self) -> impl Future<Output = ()> + Send {
        async {}
    }

    /// The session ended.
    fn close(&mut self, reason: CloseReason) -> impl Future<Output = ()> + Send {
        let _ = reason;
        async {}
    }
}

/// Runs one SMTP session over `io` until it ends. Returns the reason it closed.
///
/// # Errors
///
/// I/O errors on the socket (the session is dead then; the handler's `close` is called
/// with [`CloseReason::PeerEof`]).
pub async fn serve<S, H>(
    mut io: S,
    config: Arc<ServerConfig>,
    mut handler: H,
) -> io::Result<CloseReason>
where
    S: AsyncRead + AsyncWrite + Unpin,
    H: Handler,
{
    let mut server = Server::new(config, now());
    let mut read_buf = vec![0u8; 64 * 1024];
    let mut out = Vec::with_capacity(4096);
    let mut closed = None;
    loop {
        while let Some(event) = server.poll_event() {
            if let Some(reason) = dispatch(&mut server, &mut handler, event).await {
                closed = Some(reason);
            }
        }
        out.clear();
        if server.poll_transmit(&mut out) > 0
            && let Err(e) = write_all(&mut io, &out).await
        {
            handler.close(CloseReason::PeerEof).await;
            return Err(e);
        }
        if let Some(reason) = closed {
            let _ = io.shutdown().await;
            return Ok(reason);
        }
        let deadline = server.poll_timeout();
        let read = async {
            if server.wants_read() {
                io.read(&mut read_buf).await
            } else {
                std::future::pending().await
            }
        };
        let timer = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            result = read => match result {
                Ok(0) => server.handle_eof(now()),
                Ok(n) => {
                    // The core refuses input only during a TLS handshake, which this
                    // plaintext loop never starts.
                    let _ = server.handle_input(now(), &read_buf[..n]);
                }
                Err(e) => {
                    handler.close(CloseReason::PeerEof).await;
                    return Err(e);
                }
            },
            () = timer => server.handle_timeout(now()),
        }
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

/// Hands one event to the handler and answers the core. Returns the close reason when the
/// session ended.
async fn dispatch<H: Handler>(
    server: &mut Server,
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
        Event::MessageAborted { .. } => {
            handler.message_aborted().await;
            return None;
        }
        Event::TransactionReset => {
            handler.reset().await;
            return None;
        }
        Event::Closed { reason } => {
            handler.close(reason).await;
            return Some(reason);
        }
        _ => return None,
    };
    let now = now();
    // The token came from this server and is answered once, so the core cannot refuse it.
    let _ = match decision {
        Ok(()) => server.accept(now, pending),
        Err(reply) => server.respond(now, pending, reply),
    };
    None
}
