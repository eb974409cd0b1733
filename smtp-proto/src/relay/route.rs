//! The next hop: a smart host, or a domain's MX records turned into an ordered candidate
//! list (RFC 5321 §5.1, RFC 7505).
//!
//! The candidate list is a pure function of the DNS answer, the relay's own names and the
//! injected randomness; [`Attempt`](super::Attempt) then walks the list.

use std::net::IpAddr;
use std::sync::Arc;

use super::rng::Rng;
use super::{Diagnosis, status};

/// Where the relay sends mail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// Every message goes to one next hop (Postfix `relayhost`, RT-01). With `mx_lookup`
    /// false (the default, RT-02) `host` is connected to directly (its A/AAAA records);
    /// with it true, `host`'s MX records are used as for [`Route::Mx`].
    SmartHost {
        /// A host name or an IP address.
        host: String,
        /// The port: 25, 587 (submission, RT-03) or 465 (implicit TLS).
        port: u16,
        /// Look up `host`'s MX records instead of connecting to it directly.
        mx_lookup: bool,
    },
    /// Each recipient domain's MX records (RT-07), on `port` (25 in production).
    Mx {
        /// The port of every MX host.
        port: u16,
    },
}

/// One MX record as the resolver returned it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MxRecord {
    /// The preference: lower is tried first.
    pub preference: u16,
    /// The exchange host name; `""` or `"."` is the root (a null MX, RFC 7505).
    pub exchange: String,
}

impl MxRecord {
    /// An MX record.
    pub fn new(preference: u16, exchange: impl Into<String>) -> Self {
        Self {
            preference,
            exchange: exchange.into(),
        }
    }

    fn is_root(&self) -> bool {
        matches!(self.exchange.as_str(), "" | ".")
    }
}

/// The answer to an MX query, as the scheduler needs it (`manual::relay` MX, DNS).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MxAnswer {
    /// MX records (possibly a null MX: a single root exchange).
    Records(Vec<MxRecord>),
    /// The name exists but has no MX records: the implicit MX applies (MX-03).
    NoData,
    /// The name does not exist (MX-06).
    NxDomain,
    /// SERVFAIL, REFUSED, a timeout or a network error: defer, never bounce (MX-07).
    TempFail(String),
}

/// The answer to an A/AAAA query for one host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AddrAnswer {
    /// The host's addresses, in the resolver's order.
    Records(Vec<IpAddr>),
    /// The name exists but has no address records.
    NoData,
    /// The name does not exist.
    NxDomain,
    /// A temporary failure.
    TempFail(String),
}

/// One candidate host of a destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NextHop {
    /// Host name (lower case, no trailing dot) or IP address text.
    pub host: String,
    /// The MX preference (0 for an implicit MX or a smart host).
    pub preference: u16,
}

/// A resolved destination: the candidate hosts of one attempt, in the order to try them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Destination {
    /// The routing key: a lower-cased domain, an address literal's address, or the smart host.
    pub key: String,
    /// Candidates, best first (MX-01, MX-02).
    pub hosts: Vec<NextHop>,
    /// The port to connect to.
    pub port: u16,
    /// The hosts come from the implicit MX rule (the domain's own A/AAAA, MX-03): a host
    /// with no address is then a bad destination (MX-05), not an unusable MX (MX-10).
    pub implicit: bool,
}

impl Destination {
    /// A destination with one host and no MX semantics (a smart host or an address literal).
    pub fn direct(key: impl Into<String>, host: impl Into<String>, port: u16) -> Arc<Self> {
        Arc::new(Self {
            key: key.into(),
            hosts: vec![NextHop {
                host: host.into(),
                preference: 0,
            }],
            port,
            implicit: true,
        })
    }
}

/// Normalises a host or domain name for comparison: ASCII lower case, no trailing dot.
pub(crate) fn normalise(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

/// The candidate list for `domain` from its MX answer (RFC 5321 §5.1):
///
/// * records sorted by preference, equal preferences shuffled with `rng` (MX-01, MX-02);
/// * no MX records: the domain itself, preference 0 (MX-03, MX-04);
/// * a null MX — only root exchanges — fails at once with 5.1.10 (NMX-01, NMX-03); a root
///   exchange beside real ones is ignored (NMX-02);
/// * an IP address as exchange is skipped (MX-12: the field must be a domain name);
/// * when one of `our_names` is an exchange, it and every record of equal or higher
///   preference are dropped; nothing left is a loop, 5.4.6 (MX-11);
/// * NXDOMAIN bounces 5.1.2 (MX-06); a temporary failure defers 4.4.3 (MX-07).
pub(crate) fn candidates(
    domain: &str,
    answer: MxAnswer,
    our_names: &[String],
    port: u16,
    rng: &mut Rng,
) -> Result<Arc<Destination>, Diagnosis> {
    let key = normalise(domain);
    let records = match answer {
        MxAnswer::Records(records) if !records.is_empty() => records,
        MxAnswer::Records(_) | MxAnswer::NoData => {
            return Ok(Arc::new(Destination {
                hosts: vec![NextHop {
                    host: key.clone(),
                    preference: 0,
                }],
                key,
                port,
                implicit: true,
            }));
        }
        MxAnswer::NxDomain => {
            return Err(Diagnosis::local(
                550,
                status::BAD_DESTINATION,
                &format!("Host or domain name not found: {key} does not exist (NXDOMAIN)"),
            ));
        }
        MxAnswer::TempFail(reason) => {
            return Err(Diagnosis::local(
                451,
                status::DNS_TEMPORARY,
                &format!(
                    "MX lookup for {key} failed temporarily: {}",
                    printable(&reason)
                ),
            ));
        }
    };
    let mut usable: Vec<MxRecord> = records
        .iter()
        .filter(|record| !record.is_root())
        .cloned()
        .collect();
    if usable.is_empty() {
        return Err(Diagnosis::local(
            556,
            status::NULL_MX,
            &format!("Recipient address rejected: {key} has a null MX and accepts no mail"),
        ));
    }
    usable.retain(|record| normalise(&record.exchange).parse::<IpAddr>().is_err());
    let ours = usable
        .iter()
        .filter(|record| {
            our_names
                .iter()
                .any(|name| normalise(name) == normalise(&record.exchange))
        })
        .map(|record| record.preference)
        .min();
    if let Some(own) = ours {
        usable.retain(|record| record.preference < own);
        if usable.is_empty() {
            return Err(Diagnosis::local(
                554,
                status::LOOP,
                &format!("mail for {key} loops back to myself"),
            ));
        }
    }
    if usable.is_empty() {
        return Err(Diagnosis::local(
            550,
            status::UNROUTABLE,
            &format!("MX records of {key} name no usable host"),
        ));
    }
    usable.sort_by_key(|record| record.preference);
    for group in usable.chunk_by_mut(|a, b| a.preference == b.preference) {
        rng.shuffle(group);
    }
    Ok(Arc::new(Destination {
        key,
        hosts: usable
            .into_iter()
            .map(|record| NextHop {
                host: normalise(&record.exchange),
                preference: record.preference,
            })
            .collect(),
        port,
        implicit: false,
    }))
}

/// Text from a resolver error, controls replaced, at most 200 characters.
pub(crate) fn printable(text: &str) -> String {
    text.chars()
        .take(200)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}
