//! blackhole: a test SMTP server that accepts and forgets every message.
//!
//! `cargo run --release -p smtp-proto-tokio --example blackhole` listens on
//! 127.0.0.1:2525 and prints a summary line every 5 seconds and one on Ctrl-C.
//! `--listen ADDR` picks another address.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use smtp_proto::{MessageInfo, ServerConfig};
use smtp_proto_tokio::{Decision, Handler, serve};
use tokio::net::TcpListener;

#[derive(Default)]
struct Stats {
    sessions_open: AtomicU64,
    messages: AtomicU64,
    bytes: AtomicU64,
}

/// Accepts everything, counts it, keeps nothing.
struct Forget(Arc<Stats>);

impl Handler for Forget {
    async fn data_chunk(&mut self, chunk: Bytes) {
        self.0
            .bytes
            .fetch_add(chunk.len() as u64, Ordering::Relaxed);
    }

    async fn message(&mut self, _info: &MessageInfo) -> Decision {
        self.0.messages.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

fn parse_listen() -> Result<SocketAddr, String> {
    let mut args = std::env::args().skip(1);
    let mut listen = "127.0.0.1:2525".to_owned();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => listen = args.next().ok_or("--listen needs an address")?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    listen
        .parse()
        .map_err(|e| format!("bad address {listen}: {e}"))
}

#[tokio::main]
async fn main() {
    let addr = match parse_listen() {
        Ok(addr) => addr,
        Err(e) => {
            eprintln!("blackhole: {e}");
            std::process::exit(2);
        }
    };
    let listener = match TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("blackhole: cannot listen on {addr}: {e}");
            std::process::exit(1);
        }
    };
    let mut config = ServerConfig::new("blackhole.localhost");
    config.greeting = "ESMTP blackhole".to_owned();
    let config = Arc::new(config);
    let stats = Arc::new(Stats::default());
    println!("blackhole: listening on {addr}");

    let reporter = tokio::spawn(report(stats.clone()));
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((socket, _peer)) = accepted else { continue };
                let _ = socket.set_nodelay(true);
                let (config, stats) = (config.clone(), stats.clone());
                tokio::spawn(async move {
                    stats.sessions_open.fetch_add(1, Ordering::Relaxed);
                    let _ = serve(socket, config, Forget(stats.clone())).await;
                    stats.sessions_open.fetch_sub(1, Ordering::Relaxed);
                });
            }
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    reporter.abort();
    let m = stats.messages.load(Ordering::Relaxed);
    let b = stats.bytes.load(Ordering::Relaxed);
    println!(
        "blackhole: stopped; {m} messages, {:.1} MB in total",
        b as f64 / 1e6
    );
}

#[allow(clippy::disallowed_methods)]
async fn report(stats: Arc<Stats>) {
    let (mut last_m, mut last_b, mut last_t) = (0, 0, Instant::now());
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    tick.tick().await;
    loop {
        tick.tick().await;
        let (m, b, t) = (
            stats.messages.load(Ordering::Relaxed),
            stats.bytes.load(Ordering::Relaxed),
            Instant::now(),
        );
        let secs = t.duration_since(last_t).as_secs_f64();
        println!(
            "sessions {:>5} | {:>9.1} msg/s | {:>8.2} MB/s | total {} messages, {:.1} MB",
            stats.sessions_open.load(Ordering::Relaxed),
            (m - last_m) as f64 / secs,
            (b - last_b) as f64 / secs / 1e6,
            m,
            b as f64 / 1e6
        );
        (last_m, last_b, last_t) = (m, b, t);
    }
}
