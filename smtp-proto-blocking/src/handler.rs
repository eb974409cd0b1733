//! The application's side of a session: plain methods with accepting defaults.

use bytes::Bytes;
use smtp_proto::{
    AbortReason, AuthData, CloseReason, ConnectionInfo, Decision, Domain, ForwardPath, MailParams,
    MessageInfo, ProxyHeader, RcptParams, Reply, ReversePath, TlsInfo, Xclient,
};

/// The application's side of one SMTP session. Every method has an accepting default, so
/// a handler implements only what it cares about; one handler value serves one connection.
///
/// The adapter calls each method before it reads further commands, and the client gets
/// the reply only after the method returned: in particular the `250` for a message comes
/// only after [`message_complete`](Self::message_complete) returned `Ok`, so nothing acknowledged is lost.
pub trait Handler: Send {
    /// A client connected; `Err(reply)` refuses it with `reply` (e.g. `554 5.7.1`) and
    /// closes.
    fn connect(&mut self, info: &ConnectionInfo) -> Decision {
        let _ = info;
        Ok(())
    }

    /// `STARTTLS` was accepted and the handshake begins. `discarded` counts the plaintext
    /// octets the client sent after the command, which were dropped unread (a
    /// CVE-2011-0411 command injection when non-zero; the connection also logs it).
    fn start_tls(&mut self, discarded: usize) {
        let _ = discarded;
    }

    /// The TLS handshake finished (after STARTTLS, or on an implicit-TLS listener).
    fn tls_established(&mut self, info: &TlsInfo) {
        let _ = info;
    }

    /// A PROXY listener's header arrived (`smtp_proto::proxy`), just before
    /// [`connect`](Self::connect) is asked about the real client; `header.local` marks the
    /// balancer's own health checks. A connection closed in the PROXY stage (untrusted
    /// peer, malformed header, none in time) reaches neither `connect` nor `closed`.
    fn proxy_header(&mut self, header: &ProxyHeader) {
        let _ = header;
    }

    /// An authorised XCLIENT was applied (`220` sent, session reset); `info` names the
    /// new client.
    fn xclient(&mut self, attributes: &Xclient, info: &ConnectionInfo) {
        let _ = (attributes, info);
    }

    /// HELO, EHLO or LHLO.
    fn hello(&mut self, domain: &Domain) -> Decision {
        let _ = domain;
        Ok(())
    }

    /// MAIL FROM.
    fn mail(&mut self, from: &ReversePath, params: &MailParams) -> Decision {
        let _ = (from, params);
        Ok(())
    }

    /// RCPT TO.
    fn rcpt(&mut self, to: &ForwardPath, params: &RcptParams) -> Decision {
        let _ = (to, params);
        Ok(())
    }

    /// DATA, or the first BDAT of a message.
    fn data_start(&mut self) -> Decision {
        Ok(())
    }

    /// Message content, in order, dot-unstuffed. A failure to store it should be
    /// remembered and reported from [`message_complete`](Self::message_complete).
    fn data_chunk(&mut self, chunk: Bytes) {
        let _ = chunk;
    }

    /// The end of the message. Return `Ok` only once the message is stored. Under LMTP
    /// the decision is given to every accepted recipient.
    fn message_complete(&mut self, info: &MessageInfo) -> Decision {
        let _ = info;
        Ok(())
    }

    /// The message in progress will not complete (too big, refused, reset, or the client
    /// left): drop what [`data_chunk`](Self::data_chunk) stored.
    fn message_aborted(&mut self, reason: AbortReason) {
        let _ = reason;
    }

    /// An AUTH step. The default refuses (`535 5.7.8`), so a server that offers AUTH must
    /// decide.
    ///
    /// Checking the password is not all: PLAIN carries an authorization identity
    /// ([`Credentials::authzid`](smtp_proto::Credentials::authzid), RFC 4616 §2), a request
    /// to act as someone else. Refuse one that is not the user's own unless the user may
    /// act as it; accepting any would let every known password open every account.
    fn auth(&mut self, mechanism: &str, data: &AuthData) -> Decision {
        let _ = (mechanism, data);
        Err(Reply::authentication_failed())
    }

    /// VRFY or EXPN; `Ok` answers 252 (cannot verify, will accept).
    fn verify(&mut self, argument: &str) -> Decision {
        let _ = argument;
        Ok(())
    }

    /// An open transaction was dropped (RSET, HELO/EHLO, STARTTLS, or the session ended).
    fn transaction_reset(&mut self) {}

    /// The session ended.
    fn closed(&mut self, reason: CloseReason) {
        let _ = reason;
    }
}
