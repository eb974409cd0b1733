//! One connection: connect, then drive the core's client machine through
//! [`smtp_proto_tokio::Driver`] for up to `--reuse` messages, noting the time of every
//! reply. The protocol is all the machine's; this loop only hands it messages and content
//! and reads the clock.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use smtp_proto::client::{Client, ClientConfig, ClientEvent, CloseReason, TransactionReport};
use smtp_proto::codec::ParsedReply;
use smtp_proto::tls::{ClientTls, client_connection};
use smtp_proto_tokio::Driver;
use tokio::net::TcpStream;

use crate::clock::{IoMarks, TimedStream, now};
use crate::message::Messages;
use crate::schedule::{Schedule, Ticket};
use crate::stats::{Phase, Shards};

/// What every session shares.
#[derive(Debug)]
pub(crate) struct Context {
    /// The client configuration.
    pub(crate) config: Arc<ClientConfig>,
    /// TLS for STARTTLS or implicit TLS, if asked for.
    pub(crate) tls: Option<ClientTls>,
    /// Whether TLS starts before the greeting.
    pub(crate) implicit_tls: bool,
    /// Messages per connection.
    pub(crate) reuse: u64,
    /// The TCP connect deadline.
    pub(crate) connect_timeout: Duration,
    /// The messages.
    pub(crate) messages: Messages,
    /// The tickets.
    pub(crate) schedule: Schedule,
    /// Where the numbers go.
    pub(crate) shards: Shards,
}

/// The message a connection is sending.
struct Current {
    ticket: Ticket,
    content: Vec<u8>,
}

/// The times a connection keeps to turn replies into latencies.
struct Clock {
    connected: Instant,
    /// When the STARTTLS reply was read, until the handshake is measured.
    starttls: Option<Instant>,
    /// Under implicit TLS, until the handshake is measured.
    implicit_tls: bool,
    io: IoMarks,
}

impl Clock {
    /// When the reply just handed out was read (the last read; `at`, the event's time,
    /// if none).
    fn read_at(&self, at: Instant) -> Instant {
        self.io.last_read().unwrap_or(at)
    }

    /// The latency of a reply of `phase`: from the last write before the read that
    /// brought it (or from the connection, for a greeting nothing was written before) to
    /// that read; and the TLS handshake it ends, if any (to the write that followed it).
    fn reply(&mut self, at: Instant, phase: Phase) -> (Duration, Option<Duration>) {
        let read = self.read_at(at);
        let sent = self.io.sent_before_read().unwrap_or(self.connected);
        let mut tls = None;
        if phase == Phase::Greeting && self.implicit_tls {
            self.implicit_tls = false;
            tls = Some(sent.saturating_duration_since(self.connected));
        }
        if phase == Phase::Ehlo
            && let Some(accepted) = self.starttls.take()
        {
            tls = Some(sent.saturating_duration_since(accepted));
        }
        (read.saturating_duration_since(sent), tls)
    }
}

/// Runs one connection to `server` for `first` and up to `--reuse - 1` more tickets;
/// `id` is the session's number (shard and `{s}`).
pub(crate) async fn run(
    ctx: &Context,
    id: usize,
    server: SocketAddr,
    first: Ticket,
    rng: &mut fastrand::Rng,
) {
    let began = now();
    ctx.shards.lock(id).sessions += 1;
    let connect = tokio::time::timeout(ctx.connect_timeout, TcpStream::connect(server)).await;
    let stream = match connect {
        Ok(Ok(stream)) => stream,
        Ok(Err(error)) => return session_failed(ctx, id, first, format!("connect: {error}")),
        Err(_) => return session_failed(ctx, id, first, "connect: timeout".to_owned()),
    };
    let _ = stream.set_nodelay(true);
    let connected = now();
    ctx.shards
        .lock(id)
        .record(Phase::Connect, connected - began);
    let io = IoMarks::new(connected);
    let stream = TimedStream::new(stream, io.clone());
    let connection = match client_connection(ctx.config.clone(), ctx.tls.clone(), connected) {
        Ok(connection) => connection,
        Err(error) => return session_failed(ctx, id, first, format!("config: {error}")),
    };
    let mut driver = Driver::new(stream, connection);
    let mut clock = Clock {
        connected,
        starttls: None,
        implicit_tls: ctx.implicit_tls,
        io,
    };
    let mut current = match queue(ctx, &mut driver, id, first, rng) {
        Ok(current) => Some(current),
        Err(kind) => return session_failed(ctx, id, first, kind),
    };
    let mut sent = 1;
    let mut ending = None;
    loop {
        let event = match driver.next_event().await {
            Ok(Some(event)) => event,
            Ok(None) => break,
            Err(error) => {
                ending.get_or_insert_with(|| format!("session: i/o: {error}"));
                break;
            }
        };
        let at = now();
        match event {
            ClientEvent::Reply {
                stage,
                command,
                reply,
            } => on_reply(ctx, id, &mut clock, at, command, stage, &reply),
            ClientEvent::StartTls => clock.starttls = Some(clock.read_at(at)),
            ClientEvent::BodyWanted(_) => {
                let machine = driver.connection_mut().machine_mut();
                let content = current.as_ref().map_or(&[][..], |c| &c.content[..]);
                let result = machine
                    .send_body(at, content)
                    .and_then(|()| machine.end_body(at));
                if let Err(error) = result {
                    ending.get_or_insert_with(|| format!("session: {error}"));
                    machine.abort(at);
                }
            }
            ClientEvent::TransactionDone(report) => {
                if let Some(done) = current.take() {
                    finished(ctx, id, &done, &report, at);
                }
                current = next(ctx, &mut driver, id, &mut sent, rng).await;
            }
            ClientEvent::Closed(CloseReason::Quit) => {}
            ClientEvent::Closed(reason) => {
                ending.get_or_insert_with(|| format!("session: {}", close_kind(&reason)));
            }
            other => driver.unhandled(other),
        }
    }
    let mut stats = ctx.shards.lock(id);
    if let Some(lost) = current {
        // The machine reports every queued message; this is a safety net.
        stats.messages += 1;
        stats.error("message: no report".to_owned());
        stats.record(
            Phase::Message,
            now().saturating_duration_since(lost.ticket.start),
        );
    }
    if let Some(kind) = ending {
        stats.sessions_failed += 1;
        stats.error(kind);
    }
}

/// Queues ticket `ticket`'s message on the machine.
fn queue(
    ctx: &Context,
    driver: &mut Driver<TimedStream<TcpStream>, Client>,
    id: usize,
    ticket: Ticket,
    rng: &mut fastrand::Rng,
) -> Result<Current, String> {
    let message = ctx
        .messages
        .make(ticket.number, id, rng)
        .map_err(|e| format!("message: {e}"))?;
    driver
        .connection_mut()
        .machine_mut()
        .send(now(), message.envelope)
        .map_err(|e| format!("message: {e}"))?;
    Ok(Current {
        ticket,
        content: message.content,
    })
}

/// After a message: the next one on this connection, when `--reuse` allows and a ticket
/// is left (waiting until it is due), or QUIT.
async fn next(
    ctx: &Context,
    driver: &mut Driver<TimedStream<TcpStream>, Client>,
    id: usize,
    sent: &mut u64,
    rng: &mut fastrand::Rng,
) -> Option<Current> {
    let closed = driver.connection().machine().is_closed();
    if !closed
        && *sent < ctx.reuse
        && let Some(mut ticket) = ctx.schedule.take()
    {
        ticket.due().await;
        *sent += 1;
        match queue(ctx, driver, id, ticket, rng) {
            Ok(current) => return Some(current),
            Err(kind) => {
                let mut stats = ctx.shards.lock(id);
                stats.messages += 1;
                stats.error(kind);
            }
        }
    }
    driver.connection_mut().machine_mut().quit(now());
    None
}

/// Counts a reply and its latency.
fn on_reply(
    ctx: &Context,
    id: usize,
    clock: &mut Clock,
    at: Instant,
    command: &str,
    stage: smtp_proto::client::Stage,
    reply: &ParsedReply,
) {
    let Some(phase) = Phase::of_reply(command, stage) else {
        return;
    };
    let (latency, tls) = clock.reply(at, phase);
    let mut stats = ctx.shards.lock(id);
    stats.reply(phase, reply.code());
    stats.record(phase, latency);
    if let Some(tls) = tls {
        stats.record(Phase::Tls, tls);
    }
}

/// Counts a finished message.
fn finished(ctx: &Context, id: usize, done: &Current, report: &TransactionReport, at: Instant) {
    let mut stats = ctx.shards.lock(id);
    stats.messages += 1;
    stats.record(
        Phase::Message,
        at.saturating_duration_since(done.ticket.start),
    );
    let delivered = report.delivered().count() as u64;
    stats.recipients_delivered += delivered;
    stats.recipients_failed += report.recipients.len() as u64 - delivered;
    if report.all_delivered() {
        stats.accepted += 1;
        stats.bytes += done.content.len() as u64;
    } else if let Some(failed) = report
        .recipients
        .iter()
        .find(|r| r.outcome.verdict != smtp_proto::client::Verdict::Delivered)
    {
        let outcome = &failed.outcome;
        stats.error(format!(
            "message: {:?} at {}: {}{}",
            outcome.verdict,
            outcome.stage.command(),
            outcome.reply.code(),
            if outcome.local { " (local)" } else { "" }
        ));
    }
}

/// A connection that failed before its machine ran: its first message fails with it.
fn session_failed(ctx: &Context, id: usize, ticket: Ticket, kind: String) {
    let mut stats = ctx.shards.lock(id);
    stats.sessions_failed += 1;
    stats.messages += 1;
    stats.record(
        Phase::Message,
        now().saturating_duration_since(ticket.start),
    );
    stats.error(kind);
}

/// A close reason as an error kind: its name, without the reply text.
fn close_kind(reason: &CloseReason) -> String {
    let text = format!("{reason:?}");
    let name = text.split(['(', ' ']).next().unwrap_or(&text).to_owned();
    match reason {
        CloseReason::Refused(reply) | CloseReason::ServiceClosing(reply) => {
            format!("{name} {}", reply.code())
        }
        _ => name,
    }
}
