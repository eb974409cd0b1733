//! What the server tells the application.

use bytes::Bytes;

use crate::codec::address::{Domain, ForwardPath, ReversePath};
use crate::codec::command::Verb;
use crate::codec::data::ContentFlags;
use crate::codec::params::{MailParams, RcptParams};
use crate::codec::reply::Reply;
use crate::codec::sasl::Credentials;
use crate::secret::Secret;

/// Something the application must learn about or decide. Variants that carry a
/// [`Pending`] owe the client a reply: pass the token back to `Server::accept`,
/// `Server::respond` (or `challenge`/`respond_each` where noted), now or later. Until then
/// the server reads no further command, and pipelined input waits in its buffer.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event {
    /// HELO, EHLO or LHLO with a valid domain. Accepting sends the greeting reply (the
    /// extension list for EHLO/LHLO) and resets any transaction (RFC 5321 §4.1.4).
    /// Refusing (4xx/5xx) leaves the session as it was.
    Hello {
        /// Answer with `accept` or `respond`.
        pending: Pending,
        /// The client's name for itself (never trusted, RFC 5321 §4.1.4).
        domain: Domain,
        /// Which command: `Helo`, `Ehlo` or `Lhlo`.
        verb: Verb,
    },
    /// MAIL FROM, syntactically valid and in sequence. Accepting (`250 2.1.0`) opens a
    /// transaction.
    Mail {
        /// Answer with `accept` or `respond`.
        pending: Pending,
        /// The reverse-path (`Null` for bounces).
        from: ReversePath,
        /// Validated ESMTP parameters; the declared SIZE was already checked. Boxed, so
        /// that every event stays small to move (most carry no parameters).
        params: Box<MailParams>,
    },
    /// RCPT TO, valid, in sequence and under the recipient limit. Accepting (`250 2.1.5`)
    /// adds the recipient.
    Rcpt {
        /// Answer with `accept` or `respond`.
        pending: Pending,
        /// The forward-path.
        to: ForwardPath,
        /// Validated ESMTP parameters.
        params: RcptParams,
    },
    /// DATA, or the first BDAT of a message. Accepting lets the content flow: `354` for
    /// DATA; for BDAT the chunk is read and answered when complete. Refusing sends the reply
    /// (a refused BDAT chunk is still read and discarded).
    DataStart {
        /// Answer with `accept` or `respond`.
        pending: Pending,
        /// True for BDAT (RFC 3030), false for DATA.
        chunked: bool,
    },
    /// Message content, dot-unstuffed, in order, usually a slice of the input buffer (no
    /// copy). Owes nothing. At most `max_message_size` octets of a message are emitted; a
    /// message that is then refused ends with [`Event::MessageAborted`].
    DataChunk(Bytes),
    /// The end of the content: the client waits for the verdict. `accept` means the
    /// message is stored (`250 2.0.0`): answer only once it is (RFC 5321 §4.2.5). In LMTP
    /// mode `respond_each` gives one reply per accepted recipient (RFC 2033 §4.2).
    MessageComplete {
        /// Answer with `accept`, `respond` or (LMTP) `respond_each`.
        pending: Pending,
        /// Size and what the content held.
        info: MessageInfo,
    },
    /// The message the `DataChunk`s belonged to will not be delivered; the server already
    /// replied (or the client is gone). Owes nothing.
    MessageAborted {
        /// Why.
        reason: AbortReason,
    },
    /// An open transaction was dropped by RSET, HELO/EHLO, STARTTLS or QUIT. Owes nothing.
    TransactionReset,
    /// VRFY or EXPN (RFC 5321 §3.5). `accept` answers `252 2.0.0` (cannot verify, will
    /// try; RFC 5321 §7.3); `respond` gives a real answer.
    Verify {
        /// Answer with `accept` or `respond`.
        pending: Pending,
        /// The argument as sent (UTF-8, no controls).
        argument: String,
        /// True for EXPN.
        expand: bool,
    },
    /// An AUTH step (RFC 4954). `accept` succeeds (`235 2.7.0`), `respond` fails (normally
    /// `535 5.7.8`); for a raw mechanism `challenge` sends a `334` and another `Auth` event
    /// follows with the client's answer.
    Auth {
        /// Answer with `accept`, `respond` or (raw mechanisms) `challenge`.
        pending: Pending,
        /// The mechanism name, upper case.
        mechanism: String,
        /// What the client sent.
        data: AuthData,
    },
    /// STARTTLS was accepted: the `220` is queued. Transmit it, then run the TLS handshake
    /// on the raw transport and call `handle_tls_established`. Owes nothing.
    StartTls {
        /// Plaintext octets that followed the STARTTLS line and were discarded (injection,
        /// CVE-2011-0411).
        discarded: usize,
    },
    /// The TLS handshake finished (after STARTTLS, or at the start of an implicit-TLS
    /// session): the facts the TLS layer reported. Owes nothing.
    TlsEstablished {
        /// Protocol, cipher suite, SNI, client certificate. Boxed (once per connection),
        /// so that every event stays small to move.
        info: Box<TlsInfo>,
    },
    /// The connection's PROXY header ([`crate::proxy`]), reported once, before anything
    /// else; the greeting follows. The connection's `ConnectionInfo` now names the real
    /// client. An adapter takes its connect-time decision here (refusing with
    /// `Server::refuse_now`). Owes nothing.
    ProxyHeader {
        /// What the header said. Boxed (once per connection), so that every event stays
        /// small to move.
        header: Box<crate::proxy::ProxyHeader>,
    },
    /// An authorised XCLIENT was applied: `220` is queued and the session is back at its
    /// start (no HELO, no AUTH unless a trusted LOGIN); the client must send EHLO again.
    /// The connection's `ConnectionInfo` carries the new address. Owes nothing.
    Xclient {
        /// The attributes sent.
        attributes: Box<super::Xclient>,
    },
    /// The session is over. Transmit what `poll_transmit` still holds, then close.
    Closed {
        /// Why.
        reason: CloseReason,
    },
}

/// The client's side of an AUTH step.
#[derive(Debug)]
#[non_exhaustive]
pub enum AuthData {
    /// PLAIN or LOGIN, decoded and checked by the server. Boxed, so that every event
    /// stays small to move.
    Credentials(Box<Credentials>),
    /// A raw mechanism: the decoded initial response (`None` if none was sent) or the
    /// answer to the previous challenge.
    Response(Option<Secret<Vec<u8>>>),
}

/// Facts about a complete message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MessageInfo {
    /// Octets of content after dot-unstuffing: the sum of the `DataChunk` lengths.
    pub size: u64,
    /// Bare CR, bare LF, NUL and over-long lines seen ([`manual::smuggling`](crate::manual::smuggling) SMUG-6). A relay must
    /// never forward stray CR or LF (Postfix `cleanup_replace_stray_cr_lf`).
    pub flags: ContentFlags,
    /// True if the message came by BDAT.
    pub chunked: bool,
    /// Accepted recipients (the number of replies LMTP's `respond_each` takes).
    pub recipients: usize,
}

/// Why a message was not completed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AbortReason {
    /// Over `max_message_size` (`552 5.3.4`).
    TooBig,
    /// A bare CR, bare LF or NUL in strict mode (`550 5.5.2`).
    BareLineEnding,
    /// RSET, HELO/EHLO or STARTTLS dropped the transaction between BDAT chunks.
    Reset,
    /// The connection ended first (EOF, QUIT, timeout, shutdown, error limit).
    SessionEnded,
}

/// Why the session closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// QUIT (`221`).
    Quit,
    /// The client closed the connection (`handle_eof`).
    PeerEof,
    /// The client was silent too long (`421 4.4.2`).
    Timeout,
    /// Too many errors (`421 4.7.0`).
    TooManyErrors,
    /// The application called `shutdown`.
    Shutdown,
    /// The client broke a rule that makes going on unsafe: a pipelining synchronisation
    /// violation, a bare LF in a command, an HTTP request, an unparsable BDAT size, or
    /// STARTTLS injection under `InjectionPolicy::Close`.
    ProtocolViolation,
    /// The TLS layer failed (handshake error, bad record, or a TLS close in the middle of
    /// the session); no reply can be sent safely.
    TlsFailed,
    /// The connection was refused before the greeting ([`Server::refuse`](crate::Server::refuse)),
    /// e.g. over the connection limit.
    Refused,
    /// The PROXY stage failed (no trusted proxy, a malformed header, or none in time): the
    /// connection closed without a byte.
    ProxyRejected,
}

/// The kind of decision a [`Pending`] stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PendingKind {
    /// HELO/EHLO/LHLO.
    Hello,
    /// MAIL.
    Mail,
    /// RCPT.
    Rcpt,
    /// DATA or first BDAT.
    DataStart,
    /// End of content.
    Message,
    /// VRFY/EXPN.
    Verify,
    /// AUTH step.
    Auth,
}

/// A client command waiting for its reply. Give it back to `Server::accept`,
/// `Server::respond`, `Server::challenge` or `Server::respond_each`.
#[must_use = "the client waits until this is answered"]
#[derive(Debug, PartialEq, Eq)]
pub struct Pending {
    pub(crate) id: u64,
    pub(crate) kind: PendingKind,
}

/// An application's decision about a command: `Ok(())` accepts with the normal reply,
/// `Err(reply)` answers with `reply` (normally a refusal). See
/// [`Server::answer`](crate::Server::answer).
pub type Decision = Result<(), Reply>;

impl Event {
    /// The decision token of an event that owes the client a reply, `None` for the others;
    /// for code that answers every decision alike (a sink, a test, a fuzzer).
    ///
    /// ```
    /// use std::{sync::Arc, time::Instant};
    /// use smtp_proto::{Server, ServerConfig};
    ///
    /// let now = Instant::now();
    /// let mut server = Server::new(Arc::new(ServerConfig::new("mx.example")), now);
    /// server.handle_input(now, b"HELO client.example\r\n").unwrap();
    /// while let Some(event) = server.poll_event() {
    ///     if let Some(pending) = event.into_pending() {
    ///         server.accept(now, pending).unwrap();
    ///     }
    /// }
    /// ```
    pub fn into_pending(self) -> Option<Pending> {
        match self {
            Self::Hello { pending, .. }
            | Self::Mail { pending, .. }
            | Self::Rcpt { pending, .. }
            | Self::DataStart { pending, .. }
            | Self::MessageComplete { pending, .. }
            | Self::Verify { pending, .. }
            | Self::Auth { pending, .. } => Some(pending),
            Self::DataChunk(_)
            | Self::MessageAborted { .. }
            | Self::TransactionReset
            | Self::StartTls { .. }
            | Self::TlsEstablished { .. }
            | Self::ProxyHeader { .. }
            | Self::Xclient { .. }
            | Self::Closed { .. } => None,
        }
    }
}

/// In debug builds a token dropped without an answer is logged: its client would wait
/// until its own timeout. Release builds do not check.
#[cfg(debug_assertions)]
impl Drop for Pending {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            tracing::warn!(
                kind = ?self.kind,
                "a Pending token was dropped without an answer; the client waits until it times out"
            );
        }
    }
}

impl Pending {
    /// What is being decided.
    pub fn kind(&self) -> PendingKind {
        self.kind
    }
}

/// What the TLS layer learned in the handshake (untrusted client-supplied values are
/// passed as sent and never interpreted: Exim CVE-2019-15846).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsInfo {
    /// Negotiated protocol, e.g. `TLSv1.3`.
    pub protocol: Option<String>,
    /// Negotiated cipher suite, e.g. `TLS13_AES_256_GCM_SHA384`.
    pub cipher_suite: Option<String>,
    /// Server name the client asked for (SNI).
    pub server_name: Option<String>,
    /// Whether the client presented a certificate.
    pub client_certificate: bool,
}

impl TlsInfo {
    /// Builds the facts of a handshake.
    pub fn new(
        protocol: Option<String>,
        cipher_suite: Option<String>,
        server_name: Option<String>,
        client_certificate: bool,
    ) -> Self {
        Self {
            protocol,
            cipher_suite,
            server_name,
            client_certificate,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Event;

    #[test]
    fn events_stay_small_to_move() {
        // Every event is moved into the queue and out of `poll_event`: the big, rare payloads
        // (PROXY header, TLS facts, AUTH credentials, ORCPT, MAIL parameters) are boxed so
        // that the common ones (MAIL, RCPT, content) set the size. Was 120 octets.
        let size = std::mem::size_of::<Event>();
        eprintln!("Event: {size} octets");
        assert!(size <= 80, "Event is {size} octets");
    }
}
