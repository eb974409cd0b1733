//! Command-line flags (clap), checked and turned into [`Settings`].
//!
//! The flags are part of blackhole's public interface: keep them stable and documented.
//! Every bad flag is a clap usage error: a message naming the flag, and exit code 2.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use clap::builder::RangedU64ValueParser;
use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};

use crate::faults::Rule;
use crate::faults::parse::GRAMMAR;
use crate::policy::{Delay, Mode};

/// Where blackhole listens when no listener flag is given.
pub(crate) const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 2525);

/// Shown after the flags in `--help`.
const AFTER_HELP: &str = "\
Per-message switches: the header fields X-Blackhole-Mode (accept, bounce or random) and
X-Blackhole-Delay (MS or MIN-MAX) override --mode and --delay for that message; only the
header section counts, never the body. --no-header-switches turns them off.

Exit codes: 0 after Ctrl-C (a second Ctrl-C stops at once, without waiting for sessions);
1 when a listener cannot bind; 2 for bad flags or an unreadable certificate or key.";

/// Examples of `--fault`, shown after the grammar in `--help` (the README has the same).
const FAULT_EXAMPLES: &str = "Examples:
  Greylisting: the first attempt per sender and recipient gets 451, the retry is accepted
    --fault 'rcpt:first=1,key=sender+rcpt:reply=451 4.7.1 Greylisted, try again later'
  Drop 1% of connections in the middle of DATA, after 1000 bytes of content
    --fault 'data:p=0.01:disconnect=1000' --seed 7
  Rate limit: 421 and close at the 11th message of a connection
    --fault 'mail:after=10:close,reply=421 4.7.0 Too many messages, 10 per connection'
  A slow server: every EHLO reply one byte per 200 ms, each message answered after 2 s
    --fault 'ehlo:tarpit=200ms' --fault 'dot:delay=2s'";

/// Everything `--help` shows after the flags.
fn after_help() -> String {
    format!("{AFTER_HELP}\n\nScripted faults:\n{GRAMMAR}\n\n{FAULT_EXAMPLES}")
}

/// The flags as clap parses them (see [`Settings`] for their meaning once checked).
#[derive(Parser)]
#[command(
    name = "blackhole",
    version,
    about = "A test SMTP server that accepts and forgets (or keeps) every message",
    after_help = after_help()
)]
struct Args {
    /// Listen for SMTP (plain, STARTTLS) on IP:PORT; repeatable [default: 127.0.0.1:2525 if no listener is given]
    #[arg(long, value_name = "ADDR", value_parser = parse_listen)]
    listen: Vec<SocketAddr>,

    /// Listen for SMTP over implicit TLS (RFC 8314, like port 465) on IP:PORT; repeatable
    #[arg(long, value_name = "ADDR", value_parser = parse_listen)]
    tls_listen: Vec<SocketAddr>,

    /// Listen for LMTP (RFC 2033; plain, STARTTLS) on IP:PORT; repeatable
    #[arg(long, value_name = "ADDR", value_parser = parse_listen)]
    lmtp_listen: Vec<SocketAddr>,

    /// TLS certificate chain, PEM (needs --key) [default: self-signed, made at start]
    #[arg(long, value_name = "PEM", requires = "key")]
    cert: Option<PathBuf>,

    /// TLS private key, PEM: PKCS#8, PKCS#1 or SEC1 (needs --cert)
    #[arg(long, value_name = "PEM", requires = "cert")]
    key: Option<PathBuf>,

    /// Host name in the greeting, the EHLO reply and the self-signed certificate
    #[arg(long, value_name = "NAME", default_value = "blackhole.localhost")]
    hostname: String,

    /// Largest message accepted, in bytes (advertised with SIZE)
    #[arg(long, value_name = "BYTES", default_value = "33554432", allow_negative_numbers = true,
          value_parser = RangedU64ValueParser::<u64>::new().range(1..))]
    max_message_size: u64,

    /// Most recipients accepted per message
    #[arg(long, value_name = "N", default_value = "1000", allow_negative_numbers = true,
          value_parser = RangedU64ValueParser::<usize>::new().range(1..))]
    max_recipients: usize,

    /// Most sessions open at once, over all listeners
    #[arg(long, value_name = "N", default_value = "1000", allow_negative_numbers = true,
          value_parser = RangedU64ValueParser::<usize>::new().range(1..))]
    max_connections: usize,

    /// Accept AUTH PLAIN/LOGIN with USER:PASSWORD (split at the first ':'), offered only after TLS (STARTTLS or --tls-listen); repeatable
    #[arg(long, value_name = "USER:PASSWORD", value_parser = parse_auth)]
    auth: Vec<(String, String)>,

    /// Refuse MAIL until the session uses TLS (STARTTLS or implicit TLS)
    #[arg(long)]
    require_tls: bool,

    /// Refuse MAIL until the client has authenticated (needs --auth)
    #[arg(long, requires = "auth")]
    require_auth: bool,

    /// Let clients send commands without waiting for the replies RFC 2920 says to wait for
    /// (`printf 'HELO x\r\nMAIL FROM:<a@b>\r\n…' | nc`); by default such a session gets
    /// "554 5.5.0 … synchronization" and is closed, as a public server should
    #[arg(long)]
    allow_blind_pipelining: bool,

    /// Keep every accepted message as a file in this Maildir (tmp/, new/, cur/ are created)
    #[arg(long, value_name = "DIR")]
    maildir: Option<PathBuf>,

    /// Write Maildir files exactly as received: no Return-Path, Delivered-To or Received
    #[arg(long)]
    no_trace_headers: bool,

    /// What to answer each message: accept, bounce (a random 4xx/5xx) or random (50/50)
    #[arg(long, value_name = "MODE", default_value = "accept")]
    mode: Mode,

    /// Wait before the final reply to a message: MS, or MIN-MAX drawn uniformly (milliseconds)
    #[arg(
        long,
        value_name = "MS|MIN-MAX",
        default_value = "0",
        allow_hyphen_values = true
    )]
    delay: Delay,

    /// Ignore the X-Blackhole-Mode and X-Blackhole-Delay header fields
    #[arg(long)]
    no_header_switches: bool,

    /// Inject a fault at a phase of the session: PHASE:[CONDITIONS:]ACTIONS (below); repeatable
    #[arg(long = "fault", value_name = "RULE")]
    faults: Vec<Rule>,

    /// Seed the random draws of --fault p= rules, so a run can be repeated [default: random, logged]
    #[arg(long, value_name = "N")]
    seed: Option<u64>,

    /// Print no summary line every 5 seconds
    #[arg(long)]
    quiet: bool,

    /// Runtime threads: 1 serves every session on one thread (least overhead on a small
    /// machine), 0 means one per CPU core
    #[arg(long, value_name = "N", default_value = "0")]
    threads: usize,

    /// Log level (RUST_LOG, if set, wins over it) [default: info]
    #[arg(long, value_name = "LEVEL", ignore_case = true,
          value_parser = ["error", "warn", "info", "debug", "trace"])]
    log_level: Option<String>,

    /// Behind a load balancer: PROXY protocol and XCLIENT.
    #[command(flatten)]
    proxy: crate::proxy::ProxyArgs,
}

/// Parses `IP:PORT`, or `NAME:PORT` for a name the system resolves (`localhost:2525`:
/// its first address); anything else says that IP:PORT is wanted.
fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = s.parse() {
        return Ok(addr);
    }
    let wanted = "expected IP:PORT, e.g. 127.0.0.1:2525 or [::1]:2525 (or NAME:PORT for a name that resolves, e.g. localhost:2525)";
    let Some((host, port)) = s.rsplit_once(':') else {
        return Err(format!("no port ({wanted})"));
    };
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err(wanted.to_owned());
    }
    std::net::ToSocketAddrs::to_socket_addrs(s)
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| format!("'{host}' does not resolve ({wanted})"))
}

/// Parses `USER:PASSWORD`, split at the first `:`; the user must not be empty.
fn parse_auth(s: &str) -> Result<(String, String), String> {
    match s.split_once(':') {
        Some((user, password)) if !user.is_empty() => Ok((user.to_owned(), password.to_owned())),
        Some(_) => Err("the user before ':' is empty (expected USER:PASSWORD)".to_owned()),
        None => Err("no ':' (expected USER:PASSWORD)".to_owned()),
    }
}

/// blackhole's settings, checked.
#[derive(Clone)]
pub(crate) struct Settings {
    /// SMTP listeners (plain, with STARTTLS).
    pub(crate) listen: Vec<SocketAddr>,
    /// Implicit-TLS SMTP listeners (RFC 8314).
    pub(crate) tls_listen: Vec<SocketAddr>,
    /// LMTP listeners (plain, with STARTTLS).
    pub(crate) lmtp_listen: Vec<SocketAddr>,
    /// Certificate chain and key PEM files; `None` for a self-signed certificate.
    pub(crate) cert: Option<(PathBuf, PathBuf)>,
    /// The server's host name.
    pub(crate) hostname: String,
    /// The message size limit in bytes (at least 1).
    pub(crate) max_message_size: u64,
    /// The recipient limit per message (at least 1).
    pub(crate) max_recipients: usize,
    /// The limit on open sessions (at least 1).
    pub(crate) max_connections: usize,
    /// Accepted AUTH credentials, `(user, password)`.
    pub(crate) auth: Vec<(String, String)>,
    /// MAIL needs TLS.
    pub(crate) require_tls: bool,
    /// MAIL needs AUTH (then `auth` is not empty).
    pub(crate) require_auth: bool,
    /// The RFC 2920 synchronisation check is off.
    pub(crate) allow_blind_pipelining: bool,
    /// Where to keep accepted messages, if anywhere.
    pub(crate) maildir: Option<PathBuf>,
    /// Maildir files start with Return-Path, Delivered-To and Received header fields.
    pub(crate) trace_headers: bool,
    /// The default answer to each message.
    pub(crate) mode: Mode,
    /// The default delay before the final reply to a message.
    pub(crate) delay: Delay,
    /// Whether X-Blackhole-Mode / X-Blackhole-Delay header fields are honoured.
    pub(crate) header_switches: bool,
    /// The `--fault` rules, in the order given.
    pub(crate) faults: Vec<Rule>,
    /// `--seed`, if given.
    pub(crate) seed: Option<u64>,
    /// No periodic summary lines.
    pub(crate) quiet: bool,
    /// Single-threaded runtimes serving sessions (each on its own SO_REUSEPORT socket);
    /// 0 means one per core.
    pub(crate) threads: usize,
    /// `--log-level`, lower case, if given (RUST_LOG wins over it).
    pub(crate) log_level: Option<String>,
    /// PROXY protocol and XCLIENT settings (module `proxy`).
    pub(crate) proxy: crate::proxy::ProxyArgs,
}

impl fmt::Debug for Settings {
    /// Like a derived `Debug`, but passwords are not shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let users: Vec<&str> = self.auth.iter().map(|(user, _)| user.as_str()).collect();
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("tls_listen", &self.tls_listen)
            .field("lmtp_listen", &self.lmtp_listen)
            .field("cert", &self.cert)
            .field("hostname", &self.hostname)
            .field("max_message_size", &self.max_message_size)
            .field("max_recipients", &self.max_recipients)
            .field("max_connections", &self.max_connections)
            .field("auth_users", &users)
            .field("require_tls", &self.require_tls)
            .field("require_auth", &self.require_auth)
            .field("allow_blind_pipelining", &self.allow_blind_pipelining)
            .field("maildir", &self.maildir)
            .field("trace_headers", &self.trace_headers)
            .field("mode", &self.mode)
            .field("delay", &self.delay)
            .field("header_switches", &self.header_switches)
            .field("faults", &self.faults)
            .field("seed", &self.seed)
            .field("quiet", &self.quiet)
            .field("threads", &self.threads)
            .field("log_level", &self.log_level)
            .field("proxy", &self.proxy)
            .finish()
    }
}

/// The settings from the process's arguments; on a bad flag, prints clap's message and
/// exits with code 2 (`--help` and `--version` print and exit with 0).
pub(crate) fn parse() -> Settings {
    parse_from(std::env::args_os()).unwrap_or_else(|e| e.exit())
}

/// The settings from `args` (the first one is the program name).
pub(crate) fn parse_from<I, T>(args: I) -> Result<Settings, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args = Args::try_parse_from(args)?;
    check(&args).map_err(|msg| Args::command().error(ErrorKind::ValueValidation, msg))?;
    let mut listen = args.listen;
    if listen.is_empty() && args.tls_listen.is_empty() && args.lmtp_listen.is_empty() {
        listen.push(DEFAULT_LISTEN);
    }
    Ok(Settings {
        listen,
        tls_listen: args.tls_listen,
        lmtp_listen: args.lmtp_listen,
        cert: args.cert.zip(args.key),
        hostname: args.hostname,
        max_message_size: args.max_message_size,
        max_recipients: args.max_recipients,
        max_connections: args.max_connections,
        auth: args.auth,
        require_tls: args.require_tls,
        require_auth: args.require_auth,
        allow_blind_pipelining: args.allow_blind_pipelining,
        maildir: args.maildir,
        trace_headers: !args.no_trace_headers,
        mode: args.mode,
        delay: args.delay,
        header_switches: !args.no_header_switches,
        faults: args.faults,
        seed: args.seed,
        quiet: args.quiet,
        threads: args.threads,
        log_level: args.log_level.map(|level| level.to_ascii_lowercase()),
        proxy: args.proxy,
    })
}

/// The checks that span flags or go beyond one value's syntax.
fn check(args: &Args) -> Result<(), String> {
    let name = &args.hostname;
    // The library's own check, so blackhole never starts with a name it would refuse.
    if let Err(error) = smtp_proto::ServerConfig::try_new(name.as_str()) {
        return Err(format!(
            "invalid value '{name}' for '--hostname <NAME>': {error}"
        ));
    }
    let mut seen = HashSet::new();
    let all = [
        ("--listen", &args.listen),
        ("--tls-listen", &args.tls_listen),
        ("--lmtp-listen", &args.lmtp_listen),
    ];
    for (flag, addrs) in all {
        for addr in addrs {
            // Port 0 asks the system for a free port each time, so it may repeat.
            if addr.port() != 0 && !seen.insert(*addr) {
                return Err(format!(
                    "address {addr} is given twice (second time with '{flag}')"
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ok(args: &[&str]) -> Settings {
        parse_from(std::iter::once("blackhole").chain(args.iter().copied())).unwrap()
    }

    fn err(args: &[&str]) -> clap::Error {
        parse_from(std::iter::once("blackhole").chain(args.iter().copied()))
            .err()
            .unwrap()
    }

    /// A usage error (exit code 2) whose message names `flag`.
    fn assert_usage_error(args: &[&str], kind: ErrorKind, flag: &str) {
        let e = err(args);
        assert_eq!(e.kind(), kind, "{args:?}: {e}");
        assert_eq!(e.exit_code(), 2, "{args:?}");
        let msg = e.to_string();
        assert!(msg.contains(flag), "{args:?}: {msg}");
    }

    #[test]
    fn command_is_well_formed() {
        Args::command().debug_assert();
    }

    #[test]
    fn defaults() {
        let s = ok(&[]);
        assert_eq!(s.listen, vec![DEFAULT_LISTEN]);
        assert_eq!(s.listen[0].to_string(), "127.0.0.1:2525");
        assert!(s.tls_listen.is_empty() && s.lmtp_listen.is_empty());
        assert_eq!(s.cert, None);
        assert_eq!(s.hostname, "blackhole.localhost");
        assert_eq!(s.max_message_size, 33_554_432);
        assert_eq!(s.max_recipients, 1000);
        assert_eq!(s.max_connections, 1000);
        assert!(s.auth.is_empty());
        assert!(!s.require_tls && !s.require_auth);
        assert!(!s.allow_blind_pipelining);
        assert_eq!(s.maildir, None);
        assert!(s.trace_headers);
        assert_eq!(s.mode, Mode::Accept);
        assert_eq!(s.delay, Delay::NONE);
        assert!(s.header_switches);
        assert!(!s.quiet);
        assert_eq!(s.threads, 0);
        assert_eq!(s.log_level, None);
    }

    #[test]
    fn listeners() {
        let s = ok(&["--listen", "0.0.0.0:25", "--listen", "[::1]:2525"]);
        assert_eq!(s.listen.len(), 2);
        assert_eq!(s.listen[1].to_string(), "[::1]:2525");
        // Any listener flag replaces the default plain one.
        let s = ok(&["--tls-listen", "127.0.0.1:4650"]);
        assert!(s.listen.is_empty());
        assert_eq!(s.tls_listen[0].port(), 4650);
        let s = ok(&[
            "--lmtp-listen",
            "127.0.0.1:2424",
            "--lmtp-listen",
            "127.0.0.1:2425",
        ]);
        assert!(s.listen.is_empty());
        assert_eq!(s.lmtp_listen.len(), 2);
        // Port 0 (any free port) may be given for several listeners.
        let s = ok(&["--listen", "127.0.0.1:0", "--tls-listen", "127.0.0.1:0"]);
        assert_eq!((s.listen.len(), s.tls_listen.len()), (1, 1));
    }

    #[test]
    fn every_other_flag() {
        let args: Vec<&str> = "--cert c.pem --key k.pem --hostname mx.test \
            --max-message-size 1000 --max-recipients 5 --max-connections 7 \
            --auth alice:s3cr:et --auth bob: --require-tls --require-auth --maildir /tmp/md \
            --mode Bounce --delay 100-200 --no-header-switches --no-trace-headers --quiet --threads 1 --log-level DEBUG"
            .split_whitespace()
            .collect();
        let s = ok(&args);
        assert_eq!(
            s.cert,
            Some((PathBuf::from("c.pem"), PathBuf::from("k.pem")))
        );
        assert_eq!(s.hostname, "mx.test");
        assert_eq!(s.max_message_size, 1000);
        assert_eq!(s.max_recipients, 5);
        assert_eq!(s.max_connections, 7);
        assert_eq!(
            s.auth,
            vec![
                ("alice".to_owned(), "s3cr:et".to_owned()),
                ("bob".to_owned(), String::new())
            ]
        );
        assert!(s.require_tls && s.require_auth);
        assert_eq!(s.maildir, Some(PathBuf::from("/tmp/md")));
        assert_eq!(s.mode, Mode::Bounce);
        assert_eq!(s.delay.to_string(), "100-200");
        assert!(s.delay.pick() >= Duration::from_millis(100));
        assert!(!s.header_switches);
        assert!(!s.trace_headers);
        assert!(s.quiet);
        assert_eq!(s.threads, 1);
        assert_eq!(s.log_level.as_deref(), Some("debug"));
        assert_eq!(ok(&["--mode", "random"]).mode, Mode::Random);
        assert_eq!(ok(&["--delay", "250"]).delay.to_string(), "250");
    }

    #[test]
    fn debug_hides_passwords() {
        let s = ok(&["--auth", "alice:hunter2"]);
        let shown = format!("{s:?}");
        assert!(
            shown.contains("alice") && !shown.contains("hunter2"),
            "{shown}"
        );
    }

    #[test]
    fn bad_values() {
        use ErrorKind::{InvalidValue, MissingRequiredArgument, ValueValidation};
        let cases: &[(&[&str], ErrorKind, &str)] = &[
            (
                &["--listen", "no-such-host.invalid:25"],
                ValueValidation,
                "--listen",
            ),
            (&["--listen", "127.0.0.1"], ValueValidation, "--listen"),
            (
                &["--tls-listen", "1.2.3.4:99999"],
                ValueValidation,
                "--tls-listen",
            ),
            (&["--lmtp-listen", "x"], ValueValidation, "--lmtp-listen"),
            (&["--cert", "c.pem"], MissingRequiredArgument, "--key"),
            (&["--key", "k.pem"], MissingRequiredArgument, "--cert"),
            (&["--require-auth"], MissingRequiredArgument, "--auth"),
            (&["--auth", "alice"], ValueValidation, "--auth"),
            (&["--auth", ":pw"], ValueValidation, "--auth"),
            (
                &["--max-message-size", "0"],
                ValueValidation,
                "--max-message-size",
            ),
            (
                &["--max-message-size", "-1"],
                ValueValidation,
                "--max-message-size",
            ),
            (
                &["--max-recipients", "0"],
                ValueValidation,
                "--max-recipients",
            ),
            (
                &["--max-connections", "0"],
                ValueValidation,
                "--max-connections",
            ),
            (
                &["--max-connections", "many"],
                ValueValidation,
                "--max-connections",
            ),
            (&["--mode", "reject"], ValueValidation, "--mode"),
            (&["--delay", "fast"], ValueValidation, "--delay"),
            (&["--delay", "2000-100"], ValueValidation, "--delay"),
            (&["--delay", "-5"], ValueValidation, "--delay"),
            (&["--log-level", "loud"], InvalidValue, "--log-level"),
            (&["--hostname", ""], ValueValidation, "--hostname"),
            (&["--hostname", "two words"], ValueValidation, "--hostname"),
            (
                &["--hostname", "mx.example."],
                ValueValidation,
                "--hostname",
            ),
            (
                &["--listen", "127.0.0.1:25", "--tls-listen", "127.0.0.1:25"],
                ValueValidation,
                "--tls-listen",
            ),
            (
                &["--no-such-flag"],
                ErrorKind::UnknownArgument,
                "--no-such-flag",
            ),
        ];
        for (args, kind, flag) in cases {
            assert_usage_error(args, *kind, flag);
        }
        // A name that resolves is taken; a bad one says what is wanted.
        assert!(
            ok(&["--listen", "localhost:2525"]).listen[0]
                .ip()
                .is_loopback()
        );
        assert!(
            err(&["--listen", "127.0.0.1"])
                .to_string()
                .contains("IP:PORT")
        );
        // The reason is in the message too.
        assert!(
            err(&["--delay", "2000-100"])
                .to_string()
                .contains("MIN is greater than MAX")
        );
        assert!(
            err(&["--auth", "alice"])
                .to_string()
                .contains("USER:PASSWORD")
        );
    }

    #[test]
    fn help_documents_every_flag_in_one_line_with_defaults() {
        let longs: Vec<String> = Args::command()
            .get_arguments()
            .filter_map(|arg| arg.get_long())
            .map(|long| format!("--{long}"))
            .collect();
        assert_eq!(longs.len(), 26, "{longs:?}");
        for option in ["--help", "-h"] {
            let e = err(&[option]);
            assert_eq!(e.kind(), ErrorKind::DisplayHelp);
            assert_eq!(e.exit_code(), 0);
            let help = e.to_string();
            let lines: Vec<&str> = help.lines().collect();
            for flag in &longs {
                let at = lines
                    .iter()
                    .position(|line| line.split_whitespace().any(|word| word == flag))
                    .unwrap();
                // The description is on the flag's own line; the next line is another flag.
                assert!(lines[at].split_whitespace().count() > 3, "{}", lines[at]);
                let next = lines.get(at + 1).copied().unwrap_or("");
                assert!(
                    next.is_empty() || next.trim_start().starts_with('-'),
                    "{next}"
                );
            }
            for default in [
                "[default: 127.0.0.1:2525",
                "[default: self-signed",
                "[default: blackhole.localhost]",
                "[default: 33554432]",
                "[default: 1000]",
                "[default: accept]",
                "[default: 0]",
                "[default: info]",
            ] {
                assert!(help.contains(default), "{default} missing from --help");
            }
            assert!(help.contains("accepts and forgets (or keeps) every message"));
            assert!(help.contains("X-Blackhole-Mode") && help.contains("--no-header-switches"));
        }
    }
}
