//! The receiving side: one [`Receiver`] per SMTP session. It decides who may relay
//! (`manual::relay` AZ), refuses loops (RCV-08), prepends the Received header (RCV-01..05),
//! spools the message durably and only then lets the server say 250 (SPL-01, DSP-09).

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use smtp_proto::relay::spool::Envelope;
use smtp_proto::trace::{Received, count_received, with_keyword};
use smtp_proto::{
    AbortReason, AuthData, ConnectionInfo, Decision, Domain, ForwardPath, MailParams, MessageInfo,
    RcptParams, Reply, ReversePath, TlsInfo,
};
use smtp_proto_tokio::Handler;

use crate::cli::Settings;
use crate::proxy;
use crate::spool::Spool;
use crate::{Input, Shared, unix_now};

/// `554 5.7.1 <b@remote.example>: Relay access denied` (AZ-01, Postfix's text).
fn relay_denied(to: &ForwardPath) -> Reply {
    smtp_proto::EnhancedCode::new(5, 7, 1)
        .and_then(|code| {
            Reply::new(554, format!("{to}: Relay access denied"))
                .ok()?
                .with_enhanced(code)
                .ok()
        })
        .unwrap_or(RELAY_DENIED)
}

const RELAY_DENIED: Reply = Reply::constant(554, Some((5, 7, 1)), "Relay access denied");
const TOO_MANY_HOPS: Reply = Reply::constant(
    554,
    Some((5, 4, 6)),
    "Too many hops (Received header fields): mail loop?",
);
const QUEUE_FULL: Reply = Reply::constant(452, Some((4, 3, 1)), "Queue full, try again later");
const SPOOL_FAILED: Reply = Reply::constant(
    452,
    Some((4, 3, 1)),
    "Cannot write the message to the spool, try again later",
);
const NO_POSTMASTER: Reply = Reply::constant(
    550,
    Some((5, 1, 1)),
    "This relay has no local mailboxes, not even <Postmaster>",
);

/// One session's state.
pub(crate) struct Receiver {
    shared: Arc<Shared>,
    client: Option<IpAddr>,
    helo: String,
    tls: Option<(String, String)>,
    user: Option<String>,
    from: Option<(ReversePath, MailParams)>,
    rcpts: Vec<(ForwardPath, RcptParams)>,
    content: Vec<Bytes>,
}

impl Receiver {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            client: None,
            helo: String::new(),
            tls: None,
            user: None,
            from: None,
            rcpts: Vec::new(),
            content: Vec::new(),
        }
    }

    /// AZ-02, AZ-03: an authenticated client, or one in a trusted network. The address is
    /// the session's client (the effective one once a PROXY header or XCLIENT gave it).
    fn may_relay(&self) -> bool {
        self.user.is_some()
            || self
                .client
                .is_some_and(|ip| trusted(&self.shared.settings, ip))
    }

    fn reset(&mut self) {
        self.from = None;
        self.rcpts.clear();
        self.content.clear();
    }

    fn received_header(&self, id: &str, now_unix: u64) -> String {
        let smtputf8 = self
            .from
            .as_ref()
            .is_some_and(|(_, params)| params.smtputf8);
        let recipient = match self.rcpts.as_slice() {
            [(path, _)] => Some(path.to_string()),
            _ => None,
        };
        Received {
            helo: &self.helo,
            reverse_dns: None,
            ip: self.client.unwrap_or(IpAddr::from([0, 0, 0, 0])),
            by: &self.shared.settings.hostname,
            with: with_keyword(false, smtputf8, self.tls.is_some(), self.user.is_some()),
            id: Some(id),
            recipient: recipient.as_deref(),
            tls: self.tls.as_ref().map(|(v, c)| (v.as_str(), c.as_str())),
            unix_secs: now_unix,
        }
        .to_string()
    }
}

/// `true` if `ip` is in one of the trusted networks.
pub(crate) fn trusted(settings: &Settings, ip: IpAddr) -> bool {
    settings.trusted.iter().any(|network| network.contains(ip))
}

impl Handler for Receiver {
    /// Behind a PROXY header, `info.peer` is already the real client (PX-11), so relay
    /// authorisation never trusts the balancer's address (AZ-04, PXV-X4).
    async fn connect(&mut self, info: &ConnectionInfo) -> Decision {
        self.client = Some(info.peer.ip());
        tracing::debug!(client = %info.peer, proxy = %proxy::via(info), health_check = proxy::is_health_check(info), "session");
        Ok(())
    }

    /// XCLIENT from an authorised proxy names the real client: authorisation follows it.
    async fn xclient(&mut self, _attributes: &smtp_proto::Xclient, info: &ConnectionInfo) {
        self.client = Some(info.peer.ip());
        tracing::debug!(client = %info.peer, proxy = %proxy::via(info), "XCLIENT");
    }

    async fn tls_established(&mut self, info: &TlsInfo) {
        self.tls = Some((
            format!("{:?}", info.protocol),
            format!("{:?}", info.cipher_suite),
        ));
    }

    async fn hello(&mut self, domain: &Domain) -> Decision {
        self.helo = domain.to_string();
        self.reset();
        Ok(())
    }

    async fn auth(&mut self, _mechanism: &str, data: &AuthData) -> Decision {
        let AuthData::Credentials(credentials) = data else {
            return Err(Reply::authentication_failed());
        };
        let own = credentials
            .authzid
            .as_ref()
            .is_none_or(|authzid| *authzid == credentials.username);
        let known = self.shared.settings.auth.iter().any(|(user, password)| {
            *user == credentials.username && *password == *credentials.password.expose()
        });
        if own && known {
            self.user = Some(credentials.username.clone());
            Ok(())
        } else {
            Err(Reply::authentication_failed())
        }
    }

    async fn mail(&mut self, from: &ReversePath, params: &MailParams) -> Decision {
        if self.shared.queued.load(Ordering::Relaxed) >= self.shared.settings.max_queue {
            return Err(QUEUE_FULL);
        }
        self.reset();
        self.from = Some((from.clone(), params.clone()));
        Ok(())
    }

    async fn rcpt(&mut self, to: &ForwardPath, params: &RcptParams) -> Decision {
        if matches!(to, ForwardPath::Postmaster) {
            return Err(NO_POSTMASTER);
        }
        // AZ-05..AZ-09: with no local domains, every recipient is relayed, so the only
        // question is who asks; the sender address authorises nothing.
        if !self.may_relay() {
            tracing::info!(client = ?self.client, rcpt = %to, "relay access denied");
            return Err(relay_denied(to));
        }
        self.rcpts.push((to.clone(), params.clone()));
        Ok(())
    }

    async fn data_chunk(&mut self, chunk: Bytes) {
        self.content.push(chunk);
    }

    async fn message_complete(&mut self, _info: &MessageInfo) -> Decision {
        let head: Vec<u8> = self
            .content
            .iter()
            .flat_map(|c| c.iter().copied())
            .take(64 << 10)
            .collect();
        if count_received(&head) >= self.shared.settings.max_received {
            self.reset();
            return Err(TOO_MANY_HOPS);
        }
        let Some((from, params)) = self.from.clone() else {
            return Err(SPOOL_FAILED);
        };
        let spool: &Arc<Spool> = &self.shared.spool;
        let id = spool.new_id();
        let now_unix = unix_now();
        let received = Bytes::from(self.received_header(id.as_str(), now_unix));
        let envelope = Envelope {
            arrival_unix: now_unix,
            from,
            params,
            recipients: std::mem::take(&mut self.rcpts),
        };
        let mut pieces = vec![received];
        pieces.append(&mut self.content);
        let (spool, job_id, job_envelope) = (spool.clone(), id.clone(), envelope.clone());
        let stored = tokio::task::spawn_blocking(move || {
            let slices: Vec<&[u8]> = pieces.iter().map(|p| p.as_ref()).collect();
            spool.store(&job_id, &job_envelope, &slices)
        })
        .await;
        self.reset();
        match stored {
            Ok(Ok(())) => {
                self.shared.queued.fetch_add(1, Ordering::Relaxed);
                let _ = self.shared.inputs.send(Input::Enqueue {
                    id,
                    envelope,
                    settled: Vec::new(),
                });
                Ok(())
            }
            Ok(Err(error)) => {
                tracing::error!(%error, "cannot write to the spool (SPL-08)");
                Err(SPOOL_FAILED)
            }
            Err(error) => {
                tracing::error!(%error, "the spool writer failed");
                Err(SPOOL_FAILED)
            }
        }
    }

    async fn message_aborted(&mut self, _reason: AbortReason) {
        self.content.clear();
    }

    async fn transaction_reset(&mut self) {
        self.reset();
    }
}
