//! The delivering side: one task per connection the queue opens. It walks the
//! destination's hosts with an [`Attempt`] (DNS, TCP, greeting, EHLO, STARTTLS, AUTH), then
//! runs the queue's transactions on the open session until the queue closes it, recording
//! settled recipients in the spool before reporting them (SPL-05).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use smtp_proto::client::{
    ClientAuth, ClientConfig, ClientError, CloseReason, Envelope, TlsPolicy, Verdict,
};
use smtp_proto::codec::reply::ParsedReply;
use smtp_proto::relay::{
    Attempt, BadAddresses, ConnId, Destination, Diagnosis, Job, RecipientResult, Route, Step,
};
use smtp_proto::tls::{ClientTls, rustls};
use smtp_proto_tokio::SmtpClient;
use tokio::sync::mpsc;

use crate::dns::Dns;
use crate::spool::Spool;
use crate::{Input, Settings, now};

/// What every connection task shares.
pub(crate) struct Outbound {
    pub(crate) settings: Settings,
    pub(crate) dns: Dns,
    pub(crate) spool: Arc<Spool>,
    pub(crate) bad: Mutex<BadAddresses>,
    pub(crate) roots: Arc<rustls::RootCertStore>,
    pub(crate) inputs: mpsc::UnboundedSender<Input>,
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

impl Outbound {
    fn client_config(&self) -> Result<Arc<ClientConfig>, String> {
        let mut config = ClientConfig::new(&self.settings.hostname).map_err(|e| e.to_string())?;
        config.tls = tls_policy(&self.settings.route, self.settings.tls_required);
        if let Some((user, password)) = &self.settings.smarthost_auth {
            config.auth = Some(ClientAuth::password(user, password));
            config.auth_required = true;
        }
        Ok(Arc::new(config))
    }

    fn tls_for(&self, host: &str) -> Option<ClientTls> {
        if self.settings.tls_verify {
            ClientTls::verified((*self.roots).clone(), host).ok()
        } else {
            ClientTls::dangerous_accept_any_certificate(host).ok()
        }
    }
}

/// The STARTTLS policy: implicit TLS for a smart host on 465, required for one on 587
/// (submission, RT-03) or with `--tls-required`, opportunistic otherwise (CTLS-09).
fn tls_policy(route: &Route, tls_required: bool) -> TlsPolicy {
    match route {
        Route::SmartHost { port: 465, .. } => TlsPolicy::Implicit,
        Route::SmartHost { port: 587, .. } => TlsPolicy::Required,
        _ if tls_required => TlsPolicy::Required,
        _ => TlsPolicy::Opportunistic,
    }
}

/// Runs one connection: open it, then carry jobs until the queue drops `jobs`.
pub(crate) async fn connection(
    out: Arc<Outbound>,
    conn: ConnId,
    destination: Arc<Destination>,
    mut jobs: mpsc::UnboundedReceiver<Job>,
) {
    let config = match out.client_config() {
        Ok(config) => config,
        Err(error) => {
            let diagnosis = Diagnosis::local(
                451,
                code(4, 3, 5),
                &format!("client configuration: {error}"),
            );
            let _ = out.inputs.send(Input::ConnectFailed(conn, diagnosis));
            return;
        }
    };
    let (mut client, remote) = match open(&out, &config, destination).await {
        Ok(open) => open,
        Err(diagnosis) => {
            let _ = out.inputs.send(Input::ConnectFailed(conn, diagnosis));
            return;
        }
    };
    let dsn = client.session().is_some_and(|s| s.capabilities.dsn());
    let _ = out.inputs.send(Input::Connected(conn));
    let mut carried = 0;
    while let Some(job) = jobs.recv().await {
        match transaction(&out, &mut client, &remote, &job).await {
            Ok(results) => {
                let _ = out.inputs.send(Input::Done(conn, results, dsn));
                carried += 1;
            }
            Err(error) if carried > 0 && started_nothing(&error) => {
                tracing::debug!(%remote, %error, "reused connection found dead");
                let _ = out.inputs.send(Input::Unsent(conn));
                return;
            }
            Err(error) => {
                tracing::info!(%remote, %error, "connection lost");
                let _ = out.inputs.send(Input::Closed(conn));
                return;
            }
        }
    }
    let _ = client.quit().await;
}

/// An error that means the transaction never started (the server had closed the session).
fn started_nothing(error: &ClientError) -> bool {
    matches!(
        error,
        ClientError::Io(_)
            | ClientError::Closed(CloseReason::ConnectionLost | CloseReason::ServiceClosing(_))
    )
}

fn code(class: u8, subject: u16, detail: u16) -> smtp_proto::EnhancedCode {
    smtp_proto::EnhancedCode::new(class, subject, detail).unwrap_or_else(|| {
        smtp_proto::EnhancedCode::new(4, 0, 0)
            .unwrap_or_else(|| unreachable!("4.0.0 is a valid status"))
    })
}

/// Walks the destination until a session is ready (or none can be).
async fn open(
    out: &Outbound,
    config: &Arc<ClientConfig>,
    destination: Arc<Destination>,
) -> Result<(SmtpClient, String), Diagnosis> {
    let mut attempt = Attempt::new(destination);
    loop {
        let step = {
            let bad = out
                .bad
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            attempt.next(now(), &bad)
        };
        match step {
            Step::Resolve(host) => attempt.resolved(out.dns.addresses(&host).await),
            Step::Connect(addr) => {
                let host = attempt
                    .destination()
                    .hosts
                    .first()
                    .map_or_else(String::new, |h| h.host.clone());
                let host = name_of(&attempt, addr).unwrap_or(host);
                let result = SmtpClient::connect_with(
                    addr,
                    config.clone(),
                    out.tls_for(&host),
                    CONNECT_TIMEOUT,
                    None,
                )
                .await;
                match result {
                    Ok(client) => {
                        let greeting = client
                            .session()
                            .map(|s| s.capabilities.server_name().to_owned())
                            .unwrap_or_default();
                        if greeting.eq_ignore_ascii_case(&out.settings.hostname) {
                            tracing::warn!(%addr, "the next hop is ourselves (MX-14)");
                            attempt.loops_back();
                            continue;
                        }
                        out.bad
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .remove(addr.ip());
                        return Ok((client, format!("{host} [{}]", addr.ip())));
                    }
                    Err(ClientError::ConnectTimeout(_) | ClientError::Io(_)) => {
                        let mut bad = out
                            .bad
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner);
                        attempt.connect_failed(
                            now(),
                            addr,
                            "connection refused or timed out",
                            &mut bad,
                        );
                    }
                    Err(ClientError::Closed(reason)) => {
                        attempt.session_failed(session_diagnosis(reason, &host, addr));
                    }
                    Err(other) => attempt.session_failed(Diagnosis::local(
                        451,
                        code(4, 3, 0),
                        &other.to_string(),
                    )),
                }
            }
            Step::Failed(diagnosis) => return Err(diagnosis),
        }
    }
}

/// The host name the address was resolved from (for TLS SNI and Remote-MTA).
fn name_of(attempt: &Attempt, addr: SocketAddr) -> Option<String> {
    let hosts = &attempt.destination().hosts;
    hosts
        .iter()
        .find(|h| h.host.parse::<std::net::IpAddr>().ok() == Some(addr.ip()))
        .or_else(|| {
            hosts
                .iter()
                .find(|h| h.host.parse::<std::net::IpAddr>().is_err())
        })
        .map(|h| h.host.clone())
}

/// What a session that failed before it could carry mail means (MX-15, RT-04, RT-06).
fn session_diagnosis(reason: CloseReason, host: &str, addr: SocketAddr) -> Diagnosis {
    let remote = format!("{host} [{}]", addr.ip());
    match reason {
        CloseReason::Refused(reply) | CloseReason::ServiceClosing(reply) => {
            Diagnosis::remote(reply, remote)
        }
        // RT-06: an AUTH failure defers (Postfix smtp_sasl_auth_soft_bounce) and is an
        // operator's problem: say so loudly.
        CloseReason::AuthFailed(reply) => {
            tracing::error!(%remote, reply = ?reply.as_ref().map(ParsedReply::sanitized_text), "AUTH to the next hop failed: check --smarthost-auth");
            Diagnosis::local(451, code(4, 7, 8), &format!("AUTH to {remote} failed"))
        }
        CloseReason::TlsUnavailable => Diagnosis::local(
            451,
            code(4, 7, 5),
            &format!("TLS is required and {remote} could not provide it"),
        ),
        other => Diagnosis::local(
            451,
            code(4, 4, 2),
            &format!("session with {remote} failed: {other:?}"),
        ),
    }
}

/// One transaction: the content from the spool, the envelope from the job; settled
/// recipients recorded durably before they are reported.
async fn transaction(
    out: &Outbound,
    client: &mut SmtpClient,
    remote: &str,
    job: &Job,
) -> Result<Vec<RecipientResult>, ClientError> {
    let spool = out.spool.clone();
    let id = job.message.clone();
    let content = tokio::task::spawn_blocking(move || spool.content(&id)).await;
    let content = match content {
        Ok(Ok(content)) => content,
        Ok(Err(error)) => return Ok(deferred_all(job, &format!("spool read failed: {error}"))),
        Err(error) => return Ok(deferred_all(job, &format!("spool reader failed: {error}"))),
    };
    let mut envelope = Envelope::new(job.from.clone()).params(job.params.clone());
    for (_, path, params) in &job.recipients {
        envelope = envelope.to_with(path.clone(), params.clone());
    }
    let report = client.send(envelope, &content).await?;
    let results: Vec<RecipientResult> = job
        .recipients
        .iter()
        .zip(&report.recipients)
        .map(|((index, _, _), result)| {
            let outcome = &result.outcome;
            let diagnosis = if outcome.local {
                Diagnosis::local(
                    outcome.reply.code(),
                    outcome.reply.enhanced().unwrap_or_else(|| code(4, 0, 0)),
                    &outcome.reply.sanitized_text(),
                )
            } else {
                Diagnosis::remote(outcome.reply.clone(), remote)
            };
            RecipientResult {
                index: *index,
                verdict: outcome.verdict,
                diagnosis,
            }
        })
        .collect();
    for ((_, path, _), result) in job.recipients.iter().zip(&results) {
        // One line per recipient and attempt, as Postfix's `status=` lines.
        tracing::info!(id = %job.message, to = %path, relay = %remote, status = ?result.verdict, reason = %result.diagnosis.line(), "delivery attempt");
    }
    let settled: Vec<usize> = results
        .iter()
        .filter(|r| r.verdict != Verdict::Deferred)
        .map(|r| r.index)
        .collect();
    let spool = out.spool.clone();
    let id = job.message.clone();
    let recorded = tokio::task::spawn_blocking(move || spool.settle(&id, &settled)).await;
    if !matches!(recorded, Ok(Ok(()))) {
        tracing::error!(id = %job.message, "cannot record delivered recipients; they may be delivered again after a restart");
    }
    Ok(results)
}

fn deferred_all(job: &Job, why: &str) -> Vec<RecipientResult> {
    job.recipients
        .iter()
        .map(|(index, _, _)| RecipientResult {
            index: *index,
            verdict: Verdict::Deferred,
            diagnosis: Diagnosis::local(451, code(4, 3, 0), why),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn smarthost(port: u16) -> Route {
        Route::SmartHost {
            host: "smtp.example".into(),
            port,
            mx_lookup: false,
        }
    }

    /// RT-03: submission needs TLS; 465 is implicit TLS; elsewhere STARTTLS when offered.
    #[test]
    fn tls_policy_follows_the_port() {
        assert_eq!(tls_policy(&smarthost(587), false), TlsPolicy::Required);
        assert_eq!(tls_policy(&smarthost(465), false), TlsPolicy::Implicit);
        assert_eq!(tls_policy(&smarthost(25), false), TlsPolicy::Opportunistic);
        assert_eq!(
            tls_policy(&Route::Mx { port: 25 }, false),
            TlsPolicy::Opportunistic
        );
        assert_eq!(
            tls_policy(&Route::Mx { port: 25 }, true),
            TlsPolicy::Required
        );
    }

    /// RT-06: AUTH refused by the smart host defers (never bounces); MX-15: a refusing
    /// greeting keeps its reply, so a 5xx greeting moves on to the next MX.
    #[test]
    fn session_failures_defer_or_keep_the_remote_reply() {
        let addr: SocketAddr = "192.0.2.1:25".parse().unwrap();
        let auth = session_diagnosis(CloseReason::AuthFailed(None), "smtp.example", addr);
        assert!(!auth.is_permanent());
        assert_eq!(auth.status.to_string(), "4.7.8");
        let tls = session_diagnosis(CloseReason::TlsUnavailable, "smtp.example", addr);
        assert!(!tls.is_permanent());
        let timeout = session_diagnosis(CloseReason::Timeout, "smtp.example", addr);
        assert!(!timeout.is_permanent());
    }
}
