//! Command-line flags (clap), checked and turned into [`Settings`].
//!
//! Every bad flag is a clap usage error: a message naming the flag, and exit code 2.

use std::ffi::OsString;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::RangedU64ValueParser;
use clap::error::ErrorKind;
use clap::{CommandFactory, Parser, ValueEnum};

/// Shown after the flags in `--help`.
const AFTER_HELP: &str = "\
Latency: each phase is the time from the moment the command's bytes were handed to the
socket to the moment its reply was read (connect: the TCP handshake; tls: from the
STARTTLS reply, or the TCP connection under --tls, to the write that follows the
handshake). Under pipelining MAIL, RCPT and DATA leave in one write, so RCPT and DATA
include the wait for the replies before theirs: only their sum is separable. 'message' is
the whole message, from its intended start time (--rate: open loop, so a slow server
cannot hide behind coordinated omission; a session that was idle and waited for that time
counts from when it woke, as the timer's lateness is the generator's) or from the moment a
session took it (as fast as possible), to the final reply after its content.

Addresses: in --from and --to, {n} is the message number (from 0), {s} the session number
and {r} the recipient number within the message (from 0).

Exit codes: 0 every message accepted (or --allow-failures); 1 some message was not, or
nothing could be sent; 2 bad flags or an unreadable --body.";

/// Whether commands are pipelined when the server offers PIPELINING.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Pipelining {
    /// Pipeline when the server offers PIPELINING (RFC 2920).
    Auto,
    /// One command at a time, whatever the server offers.
    Off,
}

/// The flags as clap parses them (see [`Settings`] for their meaning once checked).
#[derive(Parser)]
#[command(
    name = "smtp-load",
    version,
    about = "An SMTP/LMTP load generator: sessions, rates, per-phase latency percentiles",
    after_help = AFTER_HELP
)]
struct Args {
    /// The server, HOST:PORT; repeatable: sessions take them in turn (round robin)
    #[arg(long, value_name = "HOST:PORT", required = true)]
    server: Vec<String>,

    /// Sessions (connections) open at once
    #[arg(long, value_name = "N", default_value = "10",
          value_parser = RangedU64ValueParser::<usize>::new().range(1..=100_000))]
    sessions: usize,

    /// Messages to send in all [default: 1000 unless --duration]
    #[arg(long, value_name = "N")]
    messages: Option<u64>,

    /// Send for this many seconds (with --messages: whichever ends first)
    #[arg(long, value_name = "SECONDS")]
    duration: Option<f64>,

    /// Open loop: start MSG/S messages a second at fixed intervals, and measure each
    /// message's latency from its intended start [default: as fast as possible]
    #[arg(long, value_name = "MSG/S")]
    rate: Option<f64>,

    /// Message size in octets, or MIN-MAX drawn uniformly per message (headers included)
    #[arg(long, value_name = "BYTES|MIN-MAX", default_value = "1000", value_parser = parse_size)]
    size: (usize, usize),

    /// Recipients per message (--to needs {r} when more than one)
    #[arg(long, value_name = "N", default_value = "1",
          value_parser = RangedU64ValueParser::<usize>::new().range(1..=10_000))]
    recipients: usize,

    /// Messages per connection before QUIT (1: a connection per message)
    #[arg(long, value_name = "N", default_value = "1",
          value_parser = RangedU64ValueParser::<u64>::new().range(1..))]
    reuse: u64,

    /// Pipeline MAIL, RCPT and DATA when the server offers PIPELINING, or never
    #[arg(long, value_name = "WHEN", default_value = "auto")]
    pipelining: Pipelining,

    /// Send with BDAT when the server offers CHUNKING, in chunks of this many octets
    #[arg(long, value_name = "OCTETS", num_args = 0..=1, default_missing_value = "65536",
          value_parser = RangedU64ValueParser::<usize>::new().range(1..))]
    chunking: Option<usize>,

    /// Require STARTTLS (the certificate is not verified: encrypted, not authenticated)
    #[arg(long, conflicts_with = "tls")]
    starttls: bool,

    /// TLS from the first byte (RFC 8314, like port 465); the certificate is not verified
    #[arg(long)]
    tls: bool,

    /// AUTH PLAIN (else LOGIN) with USER:PASS, split at the first ':'; without --starttls
    /// or --tls the credentials go in clear
    #[arg(long, value_name = "USER:PASS", value_parser = parse_auth)]
    auth: Option<(String, String)>,

    /// The envelope sender pattern; `<>` for the null sender
    #[arg(long, value_name = "PATTERN", default_value = "load{s}@client.example")]
    from: String,

    /// The recipient pattern
    #[arg(long, value_name = "PATTERN", default_value = "rcpt{r}@sink.example")]
    to: String,

    /// Send this file as every message instead of generated ones (--size is then ignored)
    #[arg(long, value_name = "FILE")]
    body: Option<PathBuf>,

    /// Speak LMTP (LHLO; one reply per recipient after the content)
    #[arg(long)]
    lmtp: bool,

    /// The EHLO name
    #[arg(long, value_name = "NAME", default_value = "client.example")]
    helo: String,

    /// Give up on a TCP connection, or a reply, after this many seconds
    #[arg(long, value_name = "SECONDS", default_value = "30")]
    timeout: f64,

    /// Write the final report as JSON to FILE (`-` for standard output)
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,

    /// Exit 0 even when some messages were not accepted
    #[arg(long)]
    allow_failures: bool,

    /// No progress line every second
    #[arg(long)]
    quiet: bool,

    /// Runtime threads: 1 runs every session on one thread, 0 one per CPU core
    #[arg(long, value_name = "N", default_value = "0")]
    threads: usize,
}

/// How the run ends.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Limit {
    /// After this many messages, if set.
    pub(crate) messages: Option<u64>,
    /// After this long, if set.
    pub(crate) duration: Option<Duration>,
}

/// smtp-load's settings, checked.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    /// The servers as given, for the report.
    pub(crate) server_names: Vec<String>,
    /// The servers, resolved once at start.
    pub(crate) servers: Vec<SocketAddr>,
    /// Sessions at once.
    pub(crate) sessions: usize,
    /// When to stop.
    pub(crate) limit: Limit,
    /// Messages a second (open loop), or `None` for as fast as possible.
    pub(crate) rate: Option<f64>,
    /// Smallest and largest message size.
    pub(crate) size: (usize, usize),
    /// Recipients per message.
    pub(crate) recipients: usize,
    /// Messages per connection.
    pub(crate) reuse: u64,
    /// Pipelining on or off.
    pub(crate) pipelining: Pipelining,
    /// BDAT chunk size, if BDAT is wanted.
    pub(crate) chunking: Option<usize>,
    /// STARTTLS required.
    pub(crate) starttls: bool,
    /// Implicit TLS.
    pub(crate) tls: bool,
    /// AUTH credentials.
    pub(crate) auth: Option<(String, String)>,
    /// Sender pattern.
    pub(crate) from: String,
    /// Recipient pattern.
    pub(crate) to: String,
    /// The message file's content, if one was given.
    pub(crate) body: Option<Vec<u8>>,
    /// LMTP instead of SMTP.
    pub(crate) lmtp: bool,
    /// The EHLO name.
    pub(crate) helo: String,
    /// Connect and reply deadline.
    pub(crate) timeout: Duration,
    /// Where the JSON report goes.
    pub(crate) json: Option<PathBuf>,
    /// Exit 0 despite failures.
    pub(crate) allow_failures: bool,
    /// No progress lines.
    pub(crate) quiet: bool,
    /// Runtime threads (0: one per core).
    pub(crate) threads: usize,
}

/// Parses `BYTES` or `MIN-MAX`.
fn parse_size(s: &str) -> Result<(usize, usize), String> {
    let number = |t: &str| {
        t.trim()
            .parse::<usize>()
            .map_err(|_| format!("{t:?} is not a number of octets"))
    };
    let (min, max) = match s.split_once('-') {
        Some((a, b)) => (number(a)?, number(b)?),
        None => {
            let n = number(s)?;
            (n, n)
        }
    };
    if min > max {
        return Err(format!("the range {min}-{max} is empty"));
    }
    if max > 1 << 30 {
        return Err("at most 1 GiB per message".to_owned());
    }
    Ok((min, max))
}

/// Parses `USER:PASS`, split at the first `:`; the user must not be empty.
fn parse_auth(s: &str) -> Result<(String, String), String> {
    match s.split_once(':') {
        Some((user, password)) if !user.is_empty() => Ok((user.to_owned(), password.to_owned())),
        Some(_) => Err("the user before ':' is empty (expected USER:PASS)".to_owned()),
        None => Err("no ':' (expected USER:PASS)".to_owned()),
    }
}

/// A positive, finite number of seconds.
fn seconds(flag: &str, value: f64) -> Result<Duration, String> {
    if value.is_finite() && value > 0.0 && value < 1e9 {
        Ok(Duration::from_secs_f64(value))
    } else {
        Err(format!(
            "{flag} wants a positive number of seconds, not {value}"
        ))
    }
}

/// Checks what clap cannot: ranges of floats, patterns, address resolution, the body file.
fn check(args: Args) -> Result<Settings, String> {
    let mut servers = Vec::new();
    for name in &args.server {
        let addr = name
            .to_socket_addrs()
            .map_err(|e| format!("--server {name}: {e}"))?
            .next()
            .ok_or_else(|| format!("--server {name}: no address"))?;
        servers.push(addr);
    }
    let duration = args
        .duration
        .map(|d| seconds("--duration", d))
        .transpose()?;
    let messages = match (args.messages, duration) {
        (None, None) => Some(1000),
        (m, _) => m,
    };
    if let Some(rate) = args.rate
        && !(rate.is_finite() && rate > 0.0)
    {
        return Err(format!("--rate wants a positive number, not {rate}"));
    }
    if args.recipients > 1 && !args.to.contains("{r}") {
        return Err(
            "--to needs {r} when --recipients is more than 1 (recipients must differ)".into(),
        );
    }
    let body = match &args.body {
        Some(path) => {
            Some(std::fs::read(path).map_err(|e| format!("--body {}: {e}", path.display()))?)
        }
        None => None,
    };
    Ok(Settings {
        server_names: args.server,
        servers,
        sessions: args.sessions,
        limit: Limit { messages, duration },
        rate: args.rate,
        size: args.size,
        recipients: args.recipients,
        reuse: args.reuse,
        pipelining: args.pipelining,
        chunking: args.chunking,
        starttls: args.starttls,
        tls: args.tls,
        auth: args.auth,
        from: args.from,
        to: args.to,
        body,
        lmtp: args.lmtp,
        helo: args.helo,
        timeout: seconds("--timeout", args.timeout)?,
        json: args.json,
        allow_failures: args.allow_failures,
        quiet: args.quiet,
        threads: args.threads,
    })
}

/// Parses and checks `args` (the program name first).
pub(crate) fn try_parse_from<I, T>(args: I) -> Result<Settings, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let parsed = Args::try_parse_from(args)?;
    check(parsed).map_err(|message| Args::command().error(ErrorKind::ValueValidation, message))
}

/// Parses the process's flags; prints the usage error and exits with 2 on a bad one.
pub(crate) fn parse() -> Settings {
    try_parse_from(std::env::args_os()).unwrap_or_else(|e| e.exit())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `args` after the program name.
    fn parse(args: &[&str]) -> Result<Settings, clap::Error> {
        try_parse_from(std::iter::once("smtp-load").chain(args.iter().copied()))
    }

    #[test]
    fn defaults() {
        let s = parse(&["--server", "127.0.0.1:25"]).expect("parses");
        assert_eq!(s.servers, ["127.0.0.1:25".parse().expect("an address")]);
        assert_eq!(s.sessions, 10);
        assert_eq!(s.limit.messages, Some(1000));
        assert_eq!(s.limit.duration, None);
        assert_eq!(s.size, (1000, 1000));
        assert_eq!(s.reuse, 1);
        assert_eq!(s.pipelining, Pipelining::Auto);
        assert_eq!(s.rate, None);
    }

    #[test]
    fn sizes_rates_and_limits() {
        let s = parse(&[
            "--server",
            "127.0.0.1:25",
            "--server",
            "127.0.0.1:26",
            "--size",
            "100-2000",
            "--duration",
            "2.5",
            "--rate",
            "500",
            "--chunking",
            "--pipelining",
            "off",
        ])
        .expect("parses");
        assert_eq!(s.servers.len(), 2);
        assert_eq!(s.size, (100, 2000));
        assert_eq!(s.limit.messages, None);
        assert_eq!(s.limit.duration, Some(Duration::from_millis(2500)));
        assert_eq!(s.rate, Some(500.0));
        assert_eq!(s.chunking, Some(65536));
        assert_eq!(s.pipelining, Pipelining::Off);
    }

    #[test]
    fn bad_flags() {
        for args in [
            &["--server", "127.0.0.1:25", "--size", "10-5"][..],
            &["--server", "127.0.0.1:25", "--rate", "0"],
            &["--server", "127.0.0.1:25", "--duration", "-1"],
            &[
                "--server",
                "127.0.0.1:25",
                "--recipients",
                "2",
                "--to",
                "x@y.example",
            ],
            &["--server", "127.0.0.1:25", "--auth", "nocolon"],
            &["--server", "127.0.0.1:25", "--sessions", "0"],
            &["--server", "127.0.0.1:25", "--starttls", "--tls"],
            &[],
        ] {
            assert!(parse(args).is_err(), "{args:?} parsed");
        }
    }
}
