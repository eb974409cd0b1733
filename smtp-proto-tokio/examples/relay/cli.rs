//! Command-line flags (clap), checked and turned into [`Settings`].
//!
//! Names follow Postfix's parameters where one exists (`relayhost` → `--smarthost`,
//! `mynetworks` → `--trusted-network`, `hopcount_limit` → `--max-received`, …).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use smtp_proto::Cidr;
use smtp_proto::relay::Route;

use crate::proxy::ProxyArgs;

/// Shown after the flags in `--help`.
const AFTER_HELP: &str = "\
Relaying is allowed only for clients in --trusted-network (default: loopback) or after
AUTH (--auth, offered after STARTTLS); everyone else gets 554 5.7.1 at RCPT. A message is
written to the spool and fsynced before the 250; after a crash, a restart delivers
everything that was acknowledged.

Examples:
  relay --spool /var/spool/relay --smarthost [127.0.0.1]:2525      # everything to blackhole
  relay --spool /var/spool/relay                                    # MX lookups, port 25
  relay --spool q --dns-server 127.0.0.1:5353 --mx-port 2525        # test DNS, test port

Exit codes: 0 after Ctrl-C; 1 when the listener cannot bind or the spool cannot be opened;
2 for bad flags.";

/// The flags as clap parses them.
#[derive(Parser)]
#[command(
    name = "relay",
    version,
    about = "A smart-host SMTP relay with a durable queue, MX routing and RFC 3464 bounces",
    after_help = AFTER_HELP
)]
struct Args {
    /// Listen for SMTP (plain, STARTTLS) on IP:PORT
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:2526")]
    listen: SocketAddr,

    /// Spool directory (created if missing): queue files, fsynced before each 250
    #[arg(long, value_name = "DIR", default_value = "relay-spool")]
    spool: PathBuf,

    /// Our host name: greeting, Received headers, bounces, MX loop detection
    #[arg(long, value_name = "NAME", default_value = "relay.localhost")]
    hostname: String,

    /// Send everything to this host: [HOST]:PORT or HOST:PORT (no MX lookup; RT-01, RT-02)
    #[arg(long, value_name = "HOST:PORT", value_parser = parse_smarthost)]
    smarthost: Option<(String, u16)>,

    /// Look up the smart host's MX records instead of connecting to it directly
    #[arg(long, requires = "smarthost")]
    smarthost_mx: bool,

    /// AUTH to the smart host as USER:PASSWORD (only over TLS)
    #[arg(long, value_name = "USER:PASSWORD", value_parser = parse_auth, requires = "smarthost")]
    smarthost_auth: Option<(String, String)>,

    /// The port of MX hosts (tests point it at a local sink)
    #[arg(long, value_name = "PORT", default_value_t = 25)]
    mx_port: u16,

    /// Ask this DNS server (IP:PORT) instead of the system's resolvers
    #[arg(long, value_name = "IP:PORT")]
    dns_server: Option<SocketAddr>,

    /// Relay for clients in this network (CIDR); repeatable [default: 127.0.0.0/8 and ::1/128].
    /// Behind a load balancer, use --proxy-protocol: the network is matched against the
    /// real client, never the balancer (AZ-04)
    #[arg(long, value_name = "CIDR")]
    trusted_network: Vec<Cidr>,

    #[command(flatten)]
    proxy: ProxyArgs,

    /// Relay for a client authenticated as USER:PASSWORD (AUTH PLAIN/LOGIN after STARTTLS); repeatable
    #[arg(long, value_name = "USER:PASSWORD", value_parser = parse_auth)]
    auth: Vec<(String, String)>,

    /// Deliver only over TLS (STARTTLS required); default: opportunistic
    #[arg(long)]
    tls_required: bool,

    /// Verify next hops' certificates (Mozilla's roots); default: not verified, like Postfix's "may"/"encrypt"
    #[arg(long)]
    tls_verify: bool,

    /// Refuse a message with this many Received header fields (a loop; 554 5.4.6)
    #[arg(long, value_name = "N", default_value_t = 50)]
    max_received: usize,

    /// Largest message accepted, in octets (SIZE)
    #[arg(long, value_name = "OCTETS", default_value_t = 10 << 20)]
    max_size: u64,

    /// Messages held at most; beyond it new mail gets 452 4.3.1
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    max_queue: usize,

    /// Shortest retry delay (Postfix minimal_backoff_time)
    #[arg(long, value_name = "DURATION", default_value = "300s", value_parser = parse_duration)]
    min_backoff: Duration,

    /// Longest retry delay (Postfix maximal_backoff_time)
    #[arg(long, value_name = "DURATION", default_value = "4000s", value_parser = parse_duration)]
    max_backoff: Duration,

    /// Give up and bounce after this long (Postfix maximal_queue_lifetime)
    #[arg(long, value_name = "DURATION", default_value = "5d", value_parser = parse_duration)]
    lifetime: Duration,

    /// Send one delay notice when a message is this old (off by default)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    delay_warning: Option<Duration>,

    /// Connections in all
    #[arg(long, value_name = "N", default_value_t = 100)]
    connections: usize,

    /// Connections per destination at most
    #[arg(long, value_name = "N", default_value_t = 20)]
    destination_concurrency: usize,

    /// Transactions per connection
    #[arg(long, value_name = "N", default_value_t = 100)]
    messages_per_connection: usize,

    /// Status line interval; 0 turns it off
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    status_interval: Duration,

    /// Per-destination counts in each status line
    #[arg(long)]
    status_destinations: bool,

    /// Log level
    #[arg(long, value_name = "LEVEL", default_value = "info",
          value_parser = ["error", "warn", "info", "debug", "trace"])]
    log_level: String,
}

/// The relay's settings, checked.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub(crate) listen: SocketAddr,
    pub(crate) spool: PathBuf,
    pub(crate) hostname: String,
    pub(crate) route: Route,
    pub(crate) smarthost_auth: Option<(String, String)>,
    pub(crate) dns_server: Option<SocketAddr>,
    pub(crate) trusted: Vec<Cidr>,
    pub(crate) proxy: ProxyArgs,
    pub(crate) auth: Vec<(String, String)>,
    pub(crate) tls_required: bool,
    pub(crate) tls_verify: bool,
    pub(crate) max_received: usize,
    pub(crate) max_size: u64,
    pub(crate) max_queue: usize,
    pub(crate) min_backoff: Duration,
    pub(crate) max_backoff: Duration,
    pub(crate) lifetime: Duration,
    pub(crate) delay_warning: Option<Duration>,
    pub(crate) connections: usize,
    pub(crate) destination_concurrency: usize,
    pub(crate) messages_per_connection: usize,
    pub(crate) status_interval: Duration,
    pub(crate) status_destinations: bool,
    pub(crate) log_level: String,
}

impl Settings {
    /// Parses the process arguments; exits with a usage error (code 2) on bad flags.
    pub(crate) fn from_args() -> Self {
        Self::from(Args::parse())
    }

    /// Parses `args` (the program name first), for tests.
    #[cfg(test)]
    pub(crate) fn try_parse<I: IntoIterator<Item = &'static str>>(
        args: I,
    ) -> Result<Self, clap::Error> {
        Args::try_parse_from(args).map(Self::from)
    }
}

impl From<Args> for Settings {
    fn from(args: Args) -> Self {
        let route = match args.smarthost {
            Some((host, port)) => Route::SmartHost {
                host,
                port,
                mx_lookup: args.smarthost_mx,
            },
            None => Route::Mx { port: args.mx_port },
        };
        let trusted = if args.trusted_network.is_empty() {
            [
                IpAddr::from([127, 0, 0, 0]),
                IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1]),
            ]
            .into_iter()
            .zip([8, 128])
            .filter_map(|(addr, prefix)| Cidr::new(addr, prefix))
            .collect()
        } else {
            args.trusted_network
        };
        Self {
            listen: args.listen,
            spool: args.spool,
            hostname: args.hostname,
            route,
            smarthost_auth: args.smarthost_auth,
            dns_server: args.dns_server,
            trusted,
            proxy: args.proxy,
            auth: args.auth,
            tls_required: args.tls_required,
            tls_verify: args.tls_verify,
            max_received: args.max_received,
            max_size: args.max_size,
            max_queue: args.max_queue,
            min_backoff: args.min_backoff,
            max_backoff: args.max_backoff,
            lifetime: args.lifetime,
            delay_warning: args.delay_warning,
            connections: args.connections,
            destination_concurrency: args.destination_concurrency,
            messages_per_connection: args.messages_per_connection,
            status_interval: args.status_interval,
            status_destinations: args.status_destinations,
            log_level: args.log_level,
        }
    }
}

/// `[host]:port`, `host:port` or `[ipv6]:port`; the brackets only mark a literal host (the
/// MX choice is `--smarthost-mx`, RT-02).
fn parse_smarthost(s: &str) -> Result<(String, u16), String> {
    let wanted = "expected HOST:PORT or [HOST]:PORT, e.g. [smtp.example]:587";
    let (host, port) = s
        .rsplit_once(':')
        .ok_or_else(|| format!("no port ({wanted})"))?;
    let port = port
        .parse::<u16>()
        .map_err(|_| format!("bad port '{port}' ({wanted})"))?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("bad host ({wanted})"));
    }
    Ok((host.to_owned(), port))
}

/// `USER:PASSWORD`, split at the first `:`.
fn parse_auth(s: &str) -> Result<(String, String), String> {
    match s.split_once(':') {
        Some((user, password)) if !user.is_empty() => Ok((user.to_owned(), password.to_owned())),
        _ => Err("expected USER:PASSWORD with a non-empty user".to_owned()),
    }
}

/// `300s`, `5m`, `2h`, `5d` or bare seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let (number, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = number
        .parse()
        .map_err(|_| format!("'{s}' is not a duration (e.g. 300s, 5m, 2h, 5d)"))?;
    let scale = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("unknown unit '{unit}' (s, m, h or d)")),
    };
    Ok(Duration::from_secs(n.saturating_mul(scale)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_route_by_mx_and_trust_loopback_only() {
        let settings = Settings::try_parse(["relay"]).unwrap();
        assert_eq!(settings.route, Route::Mx { port: 25 });
        let trusted = |ip: &str| {
            settings
                .trusted
                .iter()
                .any(|n| n.contains(ip.parse().unwrap()))
        };
        assert!(
            trusted("127.0.0.1") && trusted("127.9.9.9") && trusted("::1"),
            "AZ-03"
        );
        assert!(trusted("::ffff:127.0.0.1"));
        assert!(!trusted("203.0.113.9") && !trusted("10.0.0.1") && !trusted("::2"));
    }

    #[test]
    fn smart_hosts_parse_with_or_without_brackets() {
        assert_eq!(
            parse_smarthost("[smtp.example]:587"),
            Ok(("smtp.example".into(), 587))
        );
        assert_eq!(
            parse_smarthost("127.0.0.1:2525"),
            Ok(("127.0.0.1".into(), 2525))
        );
        assert_eq!(parse_smarthost("[::1]:25"), Ok(("::1".into(), 25)));
        assert!(
            parse_smarthost("smtp.example")
                .unwrap_err()
                .contains("no port")
        );
        assert!(parse_smarthost(":25").is_err());
        let settings = Settings::try_parse(["relay", "--smarthost", "[smtp.example]:587"]).unwrap();
        assert_eq!(
            settings.route,
            Route::SmartHost {
                host: "smtp.example".into(),
                port: 587,
                mx_lookup: false
            }
        );
    }

    #[test]
    fn networks_and_durations_parse() {
        let settings = Settings::try_parse(["relay", "--trusted-network", "10.0.0.0/8"]).unwrap();
        assert!(
            settings
                .trusted
                .iter()
                .any(|n| n.contains("10.200.0.1".parse().unwrap()))
        );
        assert!(
            !settings
                .trusted
                .iter()
                .any(|n| n.contains("127.0.0.1".parse().unwrap()))
        );
        assert!(Settings::try_parse(["relay", "--trusted-network", "10.0.0.0/33"]).is_err());
        assert_eq!(parse_duration("5d"), Ok(Duration::from_secs(432_000)));
        assert_eq!(parse_duration("300"), Ok(Duration::from_secs(300)));
        assert!(parse_duration("5w").is_err());
    }
}
