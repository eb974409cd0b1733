//! A run: `--sessions` workers take tickets and open connections (servers in turn), a
//! ticker prints the progress line every second, and the shards are merged at the end.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use smtp_proto::Protocol;
use smtp_proto::client::{Chunking, ClientAuth, ClientConfig, TlsPolicy};
use smtp_proto::tls::ClientTls;

use crate::cli::{Pipelining, Settings};
use crate::clock::now;
use crate::cpu::CpuTime;
use crate::message::Messages;
use crate::report::{Summary, progress_line};
use crate::schedule::Schedule;
use crate::session::{self, Context};
use crate::stats::Shards;

/// How often the progress line is printed.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// The most shards: sessions beyond share them.
const MAX_SHARDS: usize = 16;

/// The client configuration the flags describe.
fn client_config(settings: &Settings) -> Result<ClientConfig, String> {
    let mut config = ClientConfig::new(&settings.helo).map_err(|e| format!("--helo: {e}"))?;
    config.tls = if settings.tls {
        TlsPolicy::Implicit
    } else if settings.starttls {
        TlsPolicy::Required
    } else {
        TlsPolicy::None
    };
    if settings.lmtp {
        config.protocol = Protocol::Lmtp;
    }
    if let Some(size) = settings.chunking {
        config.chunking = Chunking::WhenOffered(size);
    }
    if settings.pipelining == Pipelining::Off {
        // Nothing may be sent while a reply is awaited: one command at a time.
        config.pipelining_window = 0;
        config.bdat_window = 1;
    }
    if let Some((user, password)) = &settings.auth {
        config.auth = Some(ClientAuth::password(user, password));
        config.auth_over_plaintext = true;
    }
    let t = &mut config.timeouts;
    for timeout in [
        &mut t.greeting,
        &mut t.hello,
        &mut t.starttls,
        &mut t.auth,
        &mut t.mail,
        &mut t.rcpt,
        &mut t.data_init,
        &mut t.data_block,
        &mut t.data_done,
        &mut t.rset,
        &mut t.quit,
    ] {
        *timeout = settings.timeout;
    }
    Ok(config)
}

/// TLS that accepts any certificate (test servers are self-signed), for the first server's
/// host name; `None` without `--starttls` or `--tls`.
fn client_tls(settings: &Settings) -> Result<Option<ClientTls>, String> {
    if !(settings.starttls || settings.tls) {
        return Ok(None);
    }
    let name = settings.server_names[0]
        .rsplit_once(':')
        .map_or(settings.server_names[0].as_str(), |(host, _)| host)
        .trim_start_matches('[')
        .trim_end_matches(']');
    ClientTls::dangerous_accept_any_certificate(name)
        .map(Some)
        .map_err(|_| format!("{name:?} is not a DNS name or an IP address"))
}

/// Runs the load and returns what it measured.
pub(crate) async fn run(settings: &Settings) -> Result<Summary, String> {
    let start = now();
    let ctx = Arc::new(Context {
        config: Arc::new(client_config(settings)?),
        tls: client_tls(settings)?,
        implicit_tls: settings.tls,
        reuse: settings.reuse,
        connect_timeout: settings.timeout,
        messages: Messages::new(settings)?,
        schedule: Schedule::new(start, settings.limit, settings.rate),
        shards: Shards::new(settings.sessions.min(MAX_SHARDS)),
    });
    let cpu_before = CpuTime::now();
    let ticker = (!settings.quiet).then(|| tokio::spawn(progress(ctx.clone())));
    let next_server = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::with_capacity(settings.sessions);
    for id in 0..settings.sessions {
        let ctx = ctx.clone();
        let servers = settings.servers.clone();
        let next_server = next_server.clone();
        workers.push(tokio::spawn(async move {
            let mut rng = fastrand::Rng::with_seed(id as u64);
            while let Some(mut ticket) = ctx.schedule.take() {
                ticket.due().await;
                let server = servers[next_server.fetch_add(1, Ordering::Relaxed) % servers.len()];
                session::run(&ctx, id, server, ticket, &mut rng).await;
            }
        }));
    }
    for worker in workers {
        if let Err(error) = worker.await {
            return Err(format!("a session task failed: {error}"));
        }
    }
    let elapsed = now() - start;
    if let Some(ticker) = ticker {
        ticker.abort();
    }
    let cpu = match (cpu_before, CpuTime::now()) {
        (Some(before), Some(after)) => Some(after.since(before)),
        _ => None,
    };
    Ok(Summary {
        stats: ctx.shards.total(),
        elapsed,
        cpu,
    })
}

/// Prints the progress line every second, on standard error.
async fn progress(ctx: Arc<Context>) {
    let mut ticks = tokio::time::interval(PROGRESS_EVERY);
    ticks.tick().await;
    let mut before = 0;
    let mut last = now();
    loop {
        ticks.tick().await;
        let progress = ctx.shards.progress();
        let at = now();
        eprintln!("{}", progress_line(&progress, before, at - last));
        (before, last) = (progress.messages, at);
    }
}
