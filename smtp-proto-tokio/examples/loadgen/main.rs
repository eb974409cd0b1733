//! smtp-load: an SMTP/LMTP load generator on the smtp-proto client, the counterpart of
//! blackhole.
//!
//! ```text
//! cargo run --release -p smtp-proto-tokio --example smtp-load -- \
//!     --server 127.0.0.1:2525 --sessions 20 --messages 20000 --size 1000 --reuse 100
//! ```
//!
//! `--sessions` connections at once send `--messages` messages (or for `--duration`), as
//! fast as possible or at `--rate` messages a second (open loop). A progress line goes to
//! standard error every second; the report (totals, rates, reply codes, errors, latency
//! percentiles per phase from HDR histograms) to standard output, and as JSON with
//! `--json`. `--help` explains every flag.
//!
//! Modules: [`cli`] (flags), [`run`] (workers and progress), [`session`] (one connection
//! through the core's client machine), [`schedule`] (tickets and intended start times),
//! [`message`] (envelopes and content), [`stats`] (histograms and counters), [`report`]
//! (text and JSON), [`clock`] (the clock and write times), [`cpu`] (CPU time).
#![forbid(unsafe_code)]

mod cli;
mod clock;
mod cpu;
mod message;
mod report;
mod run;
mod schedule;
mod session;
mod stats;

use std::io::Write as _;
use std::process::ExitCode;

use crate::cli::Settings;

/// Parses the flags, runs the load on a tokio runtime, prints the report; the exit status
/// says whether every message was accepted.
fn main() -> ExitCode {
    let settings = cli::parse();
    let runtime = match settings.threads {
        1 => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        0 => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
        n => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n)
            .enable_all()
            .build(),
    };
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("smtp-load: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let summary = match runtime.block_on(run::run(&settings)) {
        Ok(summary) => summary,
        Err(message) => {
            eprintln!("smtp-load: {message}");
            return ExitCode::from(2);
        }
    };
    // A closed pipe (`| head`) is not an error worth a panic.
    let _ = writeln!(std::io::stdout(), "{}", summary.text());
    if let Err(message) = write_json(&settings, &summary) {
        eprintln!("smtp-load: {message}");
        return ExitCode::FAILURE;
    }
    let stats = &summary.stats;
    if stats.messages > 0 && stats.failed() == 0 || settings.allow_failures {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Writes the JSON report where `--json` says, if it does.
fn write_json(settings: &Settings, summary: &report::Summary) -> Result<(), String> {
    let Some(path) = &settings.json else {
        return Ok(());
    };
    let text =
        serde_json::to_string_pretty(&summary.json(settings)).map_err(|e| format!("JSON: {e}"))?;
    if path.as_os_str() == "-" {
        writeln!(std::io::stdout(), "{text}").map_err(|e| format!("--json -: {e}"))
    } else {
        std::fs::write(path, text + "\n").map_err(|e| format!("--json {}: {e}", path.display()))
    }
}
