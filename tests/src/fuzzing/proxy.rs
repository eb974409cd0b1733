//! The PROXY protocol stage: the header reader alone and a whole server connection.

use std::sync::Arc;

use smtp_proto::connection::ConnectionInfo;
use smtp_proto::proxy::{HeaderReader, parse};
use smtp_proto::tls::{Endpoint, TlsMode};
use smtp_proto::{ProxyProtocol, ServerConfig};

use crate::proxied::{Step, balancer, drive, listener_addr, proxy_config};

/// The longest v1 line.
const V1_MAX: usize = 107;

/// Layout: byte 0 picks the versions accepted (`% 3`: v1, v2, any) and the v2 length cap
/// (`/ 3`, times 8, so 0…680, raised to 216 by the core); byte 1 is a cut point; the
/// rest is what the balancer sends. Oracles:
///
/// * the reader takes at most the header's bytes (≤ 107 for v1, ≤ 16 + cap for v2) and
///   never more than it was given;
/// * split invariance: fed in two reads cut anywhere, the reader decides the same (and
///   takes the same bytes when it accepts), and the whole connection writes, reports and
///   knows the same;
/// * a refused header closes the connection without a byte; an accepted one is reported
///   first and followed by the greeting (or the pre-greeting rule's reply);
/// * the reader's result equals the one-shot `parse`.
///
/// # Panics
///
/// When an oracle fails.
pub fn proxy_header(data: &[u8]) {
    let [mode, cut, input @ ..] = data else {
        return;
    };
    let protocol = match mode % 3 {
        0 => ProxyProtocol::V1,
        1 => ProxyProtocol::V2,
        _ => ProxyProtocol::Any,
    };
    let cap = usize::from(mode / 3) * 8;
    let whole = HeaderReader::new(protocol, cap.max(216)).feed(input);
    assert!(whole.0 <= input.len());
    if let (taken, Some(Ok(header))) = &whole {
        let limit = if header.version == 1 {
            V1_MAX
        } else {
            16 + cap.max(216)
        };
        assert!(*taken <= limit, "took {taken} > {limit}");
    }
    let once = parse(input, protocol, cap.max(216));
    match (&whole, &once) {
        ((taken, Some(Ok(h))), Ok(Some((g, n)))) => assert!(h == g && taken == n),
        // Refused: the same reason (the length taken is unspecified).
        ((_, Some(Err(e))), Err(f)) => assert_eq!(e, f),
        ((_, None), Ok(None)) => {}
        other => panic!("reader and parse disagree: {other:?}"),
    }
    let at = usize::from(*cut) % (input.len() + 1);
    let mut reader = HeaderReader::new(protocol, cap.max(216));
    let (a, first) = reader.feed(&input[..at]);
    let split = match first {
        Some(result) => (a, Some(result)),
        None => {
            let (b, second) = reader.feed(&input[at..]);
            (a + b, second)
        }
    };
    // The decision is the same; so is the length taken when there is a header (after a
    // refusal it is unspecified: the connection closes).
    match (&split, &whole) {
        ((_, Some(Err(e))), (_, Some(Err(f)))) => assert_eq!(e, f, "split at {at}"),
        _ => assert_eq!(split, whole, "split at {at}"),
    }

    let mut config: ServerConfig = proxy_config(protocol, &["127.0.0.1"]);
    if let Some(proxy) = &mut config.proxy {
        proxy.max_length = cap;
    }
    let endpoint = Endpoint::new(Arc::new(config), TlsMode::Off);
    let run = |reads: &[&[u8]]| {
        let t0 = super::epoch();
        let connection = endpoint.accept_from(t0, ConnectionInfo::new(balancer(), listener_addr()));
        let steps: Vec<Step> = reads.iter().map(|r| Step::Read(r.to_vec())).collect();
        drive(connection, t0, &steps)
    };
    let one = run(&[input]);
    // The cut stays inside the header, so what follows it arrives with its end (a later
    // read would come after the greeting: another session).
    let inside = at.min(whole.0.saturating_sub(1));
    if inside > 0 {
        assert_eq!(
            run(&[&input[..inside], &input[inside..]]),
            one,
            "connection split at {inside}"
        );
    }
    match whole.1 {
        Some(Err(_)) => assert!(
            one.closed_silently() && one.events == ["Closed ProxyRejected"],
            "{one:?}"
        ),
        Some(Ok(_)) => {
            assert!(one.events[0].starts_with("ProxyHeader"), "{one:?}");
            assert!(one.text().starts_with("220 mx.example"), "{one:?}");
        }
        None => assert!(one.written.is_empty() && one.events.is_empty(), "{one:?}"),
    }
}
