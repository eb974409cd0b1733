//! DNS through hickory-resolver, mapped onto the queue's answers (`manual::relay` MX, DNS):
//! records, a null MX, NoData (the name exists without such records), NXDOMAIN, or a
//! temporary failure for everything else (SERVFAIL, REFUSED, timeouts), which defers.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::{Resolver, TokioResolver};
use smtp_proto::relay::{AddrAnswer, MxAnswer, MxRecord};

/// The relay's resolver.
pub(crate) struct Dns {
    resolver: TokioResolver,
}

/// What a failed lookup means.
enum Failure {
    NxDomain,
    NoData,
    Temporary(String),
}

fn classify(error: &NetError) -> Failure {
    if error.is_nx_domain() {
        Failure::NxDomain
    } else if let NetError::Dns(hickory_resolver::net::DnsError::NoRecordsFound(records)) = error {
        if records.response_code == ResponseCode::NoError {
            Failure::NoData
        } else {
            Failure::Temporary(error.to_string())
        }
    } else {
        Failure::Temporary(error.to_string())
    }
}

impl Dns {
    /// The system's resolvers (`/etc/resolv.conf`), or the one server given (tests, and
    /// operators who run a local caching resolver), with answers cached by TTL.
    pub(crate) fn new(server: Option<SocketAddr>) -> Result<Self, String> {
        let mut builder = match server {
            None => Resolver::builder_tokio()
                .map_err(|e| format!("cannot read the system DNS configuration: {e}"))?,
            Some(addr) => {
                let mut name_server = NameServerConfig::udp_and_tcp(addr.ip());
                let mut udp = ConnectionConfig::udp();
                udp.port = addr.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = addr.port();
                name_server.connections = vec![udp, tcp];
                let config = ResolverConfig::from_parts(None, vec![], vec![name_server]);
                let mut builder =
                    Resolver::builder_with_config(config, TokioRuntimeProvider::default());
                let options = builder.options_mut();
                options.timeout = Duration::from_secs(2);
                options.attempts = 1;
                options.cache_size = 0;
                options.use_hosts_file = hickory_resolver::config::ResolveHosts::Never;
                builder
            }
        };
        builder.options_mut().ndots = 0;
        let resolver = builder
            .build()
            .map_err(|e| format!("cannot start the DNS resolver: {e}"))?;
        Ok(Self { resolver })
    }

    /// The MX answer for `domain` (fully qualified: no search domains; U-labels become
    /// A-labels in hickory's name parsing, RT-07).
    pub(crate) async fn mx(&self, domain: &str) -> MxAnswer {
        match self.resolver.mx_lookup(format!("{domain}.")).await {
            Ok(lookup) => {
                let records: Vec<MxRecord> = lookup
                    .answers()
                    .iter()
                    .filter_map(|record| match &record.data {
                        RData::MX(mx) => Some(MxRecord::new(mx.preference, mx.exchange.to_ascii())),
                        _ => None,
                    })
                    .collect();
                if records.is_empty() {
                    MxAnswer::NoData
                } else {
                    MxAnswer::Records(records)
                }
            }
            Err(error) => match classify(&error) {
                Failure::NxDomain => MxAnswer::NxDomain,
                Failure::NoData => MxAnswer::NoData,
                Failure::Temporary(why) => MxAnswer::TempFail(why),
            },
        }
    }

    /// The A and AAAA records of `host`, in the resolver's order (MX-04: both families).
    pub(crate) async fn addresses(&self, host: &str) -> AddrAnswer {
        match self.resolver.lookup_ip(format!("{host}.")).await {
            Ok(lookup) => {
                let addrs: Vec<IpAddr> = lookup.iter().collect();
                if addrs.is_empty() {
                    AddrAnswer::NoData
                } else {
                    AddrAnswer::Records(addrs)
                }
            }
            Err(error) => match classify(&error) {
                Failure::NxDomain => AddrAnswer::NxDomain,
                Failure::NoData => AddrAnswer::NoData,
                Failure::Temporary(why) => AddrAnswer::TempFail(why),
            },
        }
    }
}
