//! Behind a load balancer: the PROXY protocol and XCLIENT flags (`--proxy-protocol`,
//! `--trusted-proxy`, `--xclient`), applied to every listener's configuration, and what a
//! session learns from them (the real client, for log lines and the Received header).
//!
//! A connection through which the balancer speaks for itself (its health checks) is not
//! counted as a session: its header names no client (v2 `LOCAL`, v1 `UNKNOWN`), or names
//! the connection's own socket peer (HAProxy's v1 checks send `PROXY TCP4` with the
//! check connection's addresses).

use smtp_proto::{Cidr, ConnectionInfo, ProxyConfig, ProxyProtocol, ServerConfig};

/// The flags, grouped (flattened into blackhole's).
#[derive(clap::Args, Clone, Debug, Default)]
pub(crate) struct ProxyArgs {
    /// Expect a PROXY protocol header (v1, v2 or any) before anything else on every
    /// connection, from a --trusted-proxy; the real client then appears in log lines and
    /// Received headers. Direct clients are refused on such listeners
    #[arg(long, value_name = "VERSION", requires = "trusted_proxy")]
    pub(crate) proxy_protocol: Option<ProxyProtocol>,

    /// A network (CIDR, or one address) the load balancer connects from; other peers are
    /// closed at once (needs --proxy-protocol); repeatable
    #[arg(long, value_name = "CIDR", requires = "proxy_protocol")]
    pub(crate) trusted_proxy: Vec<Cidr>,

    /// Offer and accept XCLIENT (Postfix) from peers in this network (CIDR); repeatable
    #[arg(long, value_name = "CIDR")]
    pub(crate) xclient: Vec<Cidr>,
}

impl ProxyArgs {
    /// Puts the flags into a listener's configuration.
    pub(crate) fn apply(&self, config: &mut ServerConfig) {
        config.proxy = self
            .proxy_protocol
            .map(|protocol| ProxyConfig::new(protocol, self.trusted_proxy.clone()));
        config.xclient.clone_from(&self.xclient);
    }
}

/// Whether the connection is the balancer speaking for itself (a health check): after
/// the PROXY header, the effective client is still the socket peer.
pub(crate) fn is_health_check(info: &ConnectionInfo) -> bool {
    info.proxy == Some(info.peer)
}

/// The `proxy` field of a log line: the balancer's address, or `-`.
pub(crate) fn via(info: &ConnectionInfo) -> String {
    info.proxy
        .map_or_else(|| "-".to_owned(), |proxy| proxy.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn applies_to_the_config() {
        let args = ProxyArgs {
            proxy_protocol: Some(ProxyProtocol::V2),
            trusted_proxy: vec!["127.0.0.1".parse().unwrap()],
            xclient: vec!["10.0.0.0/8".parse().unwrap()],
        };
        let mut config = ServerConfig::new("x");
        args.apply(&mut config);
        let proxy = config.proxy.clone().unwrap();
        assert_eq!(proxy.protocol, ProxyProtocol::V2);
        assert!(proxy.trusts("127.0.0.1".parse().unwrap()));
        assert!(config.xclient_allowed("10.1.2.3".parse().unwrap()));
        let mut config = ServerConfig::new("x");
        ProxyArgs::default().apply(&mut config);
        assert!(config.proxy.is_none() && config.xclient.is_empty());
    }
}
