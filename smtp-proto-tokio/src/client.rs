//! An SMTP client over tokio: [`SmtpClient::connect`], [`SmtpClient::send`],
//! [`SmtpClient::quit`]. The protocol is the core's [`Client`] machine, driven by the same
//! [`Driver`] as the server; this file only moves bytes and waits.

use std::sync::Arc;
use std::time::Duration;

use smtp_proto::client::{
    BodyType, Client, ClientConfig, ClientError, ClientEvent, CloseReason, Envelope, LimitRetry,
    SessionInfo, TransactionReport,
};
use smtp_proto::codec::ParsedReply;
use smtp_proto::codec::stuffing::BodyFacts;
use smtp_proto::connection::Connection;
use smtp_proto::tls::{ClientTls, client_connection};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::net::{TcpStream, ToSocketAddrs};

use crate::driver::{Driver, now};

/// How long [`SmtpClient::connect`] waits for TCP: 30 s (Postfix `smtp_connect_timeout`).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// The size of the pieces content is read and handed to the machine in.
const PIECE: usize = 64 * 1024;

/// A callback that sees every reply: the command's verb and the reply.
pub type ReplyLog = Box<dyn FnMut(&str, &ParsedReply) + Send>;

/// One SMTP client session over tokio.
///
/// ```no_run
/// # async fn example() -> Result<(), smtp_proto::client::ClientError> {
/// use std::sync::Arc;
/// use smtp_proto::Mailbox;
/// use smtp_proto::client::{ClientConfig, Envelope};
/// use smtp_proto_tokio::SmtpClient;
///
/// let config = Arc::new(ClientConfig::new("client.example")?);
/// let mut client = SmtpClient::connect("127.0.0.1:2525", config, None).await?;
/// let from: Mailbox = "a@x.example".parse().expect("an address");
/// let to: Mailbox = "b@y.example".parse().expect("an address");
/// let report = client.send(Envelope::new(from).to(to), b"Subject: hi\r\n\r\nhello\r\n").await?;
/// println!("delivered: {}", report.all_delivered());
/// client.quit().await?;
/// # Ok(())
/// # }
/// ```
pub struct SmtpClient<S = TcpStream> {
    driver: Driver<S, Client>,
    session: Option<SessionInfo>,
    log: Option<ReplyLog>,
}

impl SmtpClient<TcpStream> {
    /// Connects to `addr` (within [`CONNECT_TIMEOUT`]), and waits until the session is
    /// set up: greeting, EHLO, STARTTLS (per `config.tls`, with `tls`), AUTH.
    ///
    /// # Errors
    ///
    /// [`ClientError::ConnectTimeout`], [`ClientError::Io`], or
    /// [`ClientError::Closed`] with the reason the server or TLS refused the session.
    pub async fn connect(
        addr: impl ToSocketAddrs + std::fmt::Debug,
        config: Arc<ClientConfig>,
        tls: Option<ClientTls>,
    ) -> Result<Self, ClientError> {
        Self::connect_with(addr, config, tls, CONNECT_TIMEOUT, None).await
    }

    /// [`connect`](Self::connect) with a connect timeout and a reply log that sees every
    /// reply from the greeting on.
    ///
    /// # Errors
    ///
    /// As [`connect`](Self::connect).
    pub async fn connect_with(
        addr: impl ToSocketAddrs + std::fmt::Debug,
        config: Arc<ClientConfig>,
        tls: Option<ClientTls>,
        connect_timeout: Duration,
        log: Option<ReplyLog>,
    ) -> Result<Self, ClientError> {
        let name = format!("{addr:?}");
        let stream = tokio::time::timeout(connect_timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| ClientError::ConnectTimeout(name))??;
        stream.set_nodelay(true)?;
        let connection = client_connection(config, tls, now())?;
        let mut client = Self::new(stream, connection);
        client.log = log;
        client.ready().await?;
        Ok(client)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> SmtpClient<S> {
    /// A session over a stream that is already connected (a proxy, a test pipe).
    pub fn new(io: S, connection: Connection<Client>) -> Self {
        Self {
            driver: Driver::new(io, connection),
            session: None,
            log: None,
        }
    }

    /// Waits until the session is set up and returns its facts.
    ///
    /// # Errors
    ///
    /// [`ClientError::Closed`] when the server refused the session, [`ClientError::Io`].
    pub async fn ready(&mut self) -> Result<&SessionInfo, ClientError> {
        while self.session.is_none() {
            match self.next().await? {
                ClientEvent::Ready(info) => self.session = Some(*info),
                ClientEvent::Closed(reason) => return Err(ClientError::Closed(reason)),
                other => self.driver.unhandled(other),
            }
        }
        self.session
            .as_ref()
            .ok_or(ClientError::Closed(CloseReason::ConnectionLost))
    }

    /// Sets the callback that sees every reply from now on (for a client made with
    /// [`new`](Self::new) over a stream of its own).
    pub fn set_reply_log(&mut self, log: Option<ReplyLog>) {
        self.log = log;
    }

    /// The session's facts (greeting, capabilities, TLS, AUTH), once set up.
    pub fn session(&self) -> Option<&SessionInfo> {
        self.session.as_ref()
    }

    /// The machine, for everything this type does not wrap.
    pub fn machine(&self) -> &Client {
        self.driver.connection().machine()
    }

    /// The driver, for applications that run the event loop themselves.
    pub fn driver_mut(&mut self) -> &mut Driver<S, Client> {
        &mut self.driver
    }

    /// Sends one message held in memory and returns the per-recipient results. The
    /// content's size and type (7-bit, 8-bit, binary) are measured first, so SIZE and
    /// BODY are declared and a server that cannot take it is never sent a byte. Recipients
    /// the server deferred for a recipient limit (`452`, RCPT-02) go again in another
    /// transaction on the same connection, as long as each round makes progress.
    ///
    /// # Errors
    ///
    /// [`ClientError::Io`] or [`ClientError::Closed`] when the session ended first
    /// (the report of a transaction cut off that way says `Deferred`, so an error here
    /// means no report came at all), [`ClientError::Misuse`] for an envelope without
    /// recipients.
    pub async fn send(
        &mut self,
        envelope: Envelope,
        body: &[u8],
    ) -> Result<TransactionReport, ClientError> {
        let facts = BodyFacts::scan(body);
        let body_type = BodyType::of(&facts).max(envelope.content_type());
        let envelope = envelope.size(facts.size).body_type(body_type);
        let mut report = self.submit(&envelope, &mut &body[..]).await?;
        let mut rounds = LimitRetry::new(&report);
        while let Some(next) = rounds.next(&envelope) {
            let retry = self.submit(&next, &mut &body[..]).await?;
            rounds.absorb(&mut report, retry);
        }
        Ok(report)
    }

    /// Sends one message whose content comes from `body`, in pieces, with flat memory
    /// (no SIZE declared: the size is not known in advance). Declare the content type on
    /// the envelope; content that does not fit it stops the message (BODY-08..10).
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send); a read error of `body` aborts the session.
    pub async fn send_stream<R: AsyncRead + Unpin>(
        &mut self,
        envelope: Envelope,
        mut body: R,
    ) -> Result<TransactionReport, ClientError> {
        self.submit(&envelope, &mut body).await
    }

    /// Ends the session with QUIT (END-03).
    ///
    /// # Errors
    ///
    /// [`ClientError::Io`].
    pub async fn quit(mut self) -> Result<(), ClientError> {
        self.driver.connection_mut().machine_mut().quit(now());
        while let Some(event) = self.driver.next_event().await? {
            self.observe(&event);
        }
        Ok(())
    }

    /// Queues `envelope`, feeds its content from `body`, and waits for its report.
    async fn submit<R: AsyncRead + Unpin>(
        &mut self,
        envelope: &Envelope,
        body: &mut R,
    ) -> Result<TransactionReport, ClientError> {
        let id = self
            .driver
            .connection_mut()
            .machine_mut()
            .send(now(), envelope.clone())?;
        let mut piece = vec![0; PIECE];
        loop {
            match self.next().await? {
                ClientEvent::BodyWanted(wanted) if wanted == id => {
                    let read = match body.read(&mut piece).await {
                        Ok(n) => n,
                        Err(error) => {
                            self.driver.connection_mut().machine_mut().abort(now());
                            return Err(error.into());
                        }
                    };
                    let machine = self.driver.connection_mut().machine_mut();
                    if read == 0 {
                        machine.end_body(now())?;
                    } else {
                        machine.send_body(now(), &piece[..read])?;
                    }
                }
                ClientEvent::TransactionDone(report) if report.id == id => return Ok(report),
                ClientEvent::Closed(reason) => return Err(ClientError::Closed(reason)),
                other => self.driver.unhandled(other),
            }
        }
    }

    /// The next event; replies go to the log on the way.
    async fn next(&mut self) -> Result<ClientEvent, ClientError> {
        loop {
            let Some(event) = self.driver.next_event().await? else {
                return Err(ClientError::Closed(CloseReason::ConnectionLost));
            };
            if self.observe(&event) {
                continue;
            }
            return Ok(event);
        }
    }

    /// Logs a reply; true when the event was only that.
    fn observe(&mut self, event: &ClientEvent) -> bool {
        match event {
            ClientEvent::Reply { command, reply, .. } => {
                if let Some(log) = &mut self.log {
                    log(command, reply);
                }
                true
            }
            ClientEvent::Idle | ClientEvent::StartTls | ClientEvent::TlsEstablished(_) => true,
            _ => false,
        }
    }
}

impl<S> std::fmt::Debug for SmtpClient<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpClient")
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}
