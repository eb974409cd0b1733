//! The server-core targets: raw bytes in, and the split-invariance oracle.

use super::config::{line_mode, variant};
use super::driver::{Driver, Ending};
use super::{Input, Rng, cut, lines};
use smtp_proto::codec::command::{CommandLine, Verb, classify};

/// Raw bytes into one [`Server`](smtp_proto::Server) session.
///
/// Layout: `[config a, config b, decisions, reads, ending, payload…]`.
/// * `config a`, `config b`: the configuration (normalise, LMTP, small limits with a 1 KiB
///   message size, STARTTLS, sync check, AUTH, implicit TLS, … bit by bit).
/// * `decisions`: 0 accepts every decision at once; any other value seeds the choice of
///   accept, refuse (4xx/5xx, multiline), a positive reply of the application's own, a
///   SASL challenge, LMTP per-recipient replies, a reply of the wrong class, or holding the
///   decision back until after the next read. After STARTTLS the handshake is simulated
///   with `handle_tls_established` (or, sometimes, `handle_tls_failure`).
/// * `reads`: 0 one read per line (a client that waits for each reply), 1 the whole
///   payload in one read, `0xF0..=0xFF` the line mode below, anything else seeds read
///   sizes of 1 to 512 octets.
/// * `ending`: EOF, timeout, shutdown or graceful shutdown once the payload is sent.
///
/// Line mode checks RFC 5321 §4.2's "exactly one reply per command": the payload is cut
/// into lines, each ended with CR LF, and lines whose verb is DATA, BDAT or QUIT are left
/// out (content and the end of the session are not commands that get one reply each); the
/// server runs with no sync check, no AUTH, no STARTTLS and no error limit. The number of
/// complete replies must then equal the number of lines plus the greeting.
///
/// # Panics
///
/// When an oracle fails (see the module docs).
pub fn server_bytes(data: &[u8]) {
    let mut input = Input::new(data);
    let (a, b, decisions, reads, ending) = (
        input.byte(),
        input.byte(),
        input.byte(),
        input.byte(),
        input.byte(),
    );
    let payload = input.rest();
    if reads >= 0xF0 {
        return one_reply_per_line(a, decisions, payload);
    }
    let mut driver = Driver::new(variant(a, b), decisions, false);
    let pieces = match reads {
        0 => lines(payload),
        1 => vec![payload],
        seed => random_sizes(payload, seed),
    };
    driver.feed(&pieces);
    driver.finish(Ending::from_byte(ending));
}

/// Read sizes drawn from `seed`: mostly 1 to 8 octets, sometimes up to 64 or 512.
fn random_sizes(payload: &[u8], seed: u8) -> Vec<&[u8]> {
    let mut rng = Rng::new(seed);
    let mut pieces = Vec::new();
    let mut rest = payload;
    while !rest.is_empty() {
        let max = match rng.below(8) {
            0 => 512,
            1 | 2 => 64,
            _ => 8,
        };
        let size = usize::try_from(1 + rng.below(max)).unwrap_or(1);
        let (piece, tail) = rest.split_at(size.min(rest.len()));
        pieces.push(piece);
        rest = tail;
    }
    pieces
}

/// The line mode of [`server_bytes`].
fn one_reply_per_line(a: u8, decisions: u8, payload: &[u8]) {
    let mut wire = Vec::new();
    let mut commands = 0usize;
    for line in lines(payload) {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let CommandLine::Known(Verb::Data | Verb::Bdat | Verb::Quit, _) = classify(line) {
            continue;
        }
        wire.extend_from_slice(line);
        wire.extend_from_slice(b"\r\n");
        commands += 1;
    }
    let mut driver = Driver::new(
        super::config::Variant {
            config: line_mode(a),
            starttls: false,
            implicit_tls: false,
        },
        decisions,
        false,
    );
    driver.feed(&[&wire]);
    driver.finish(Ending::Eof);
    assert_eq!(
        driver.replies(),
        commands + 1,
        "{commands} command lines and the greeting, replies: {:?}",
        driver.wire.escape_ascii().to_string()
    );
}

/// The same input fed whole and split: identical events (content merged) and identical
/// reply bytes, interleaved the same way.
///
/// Layout: `[config a, config b, decisions, n, n sizes…, payload…]`: the configuration and
/// decisions as for [`server_bytes`] (without STARTTLS and the RFC 2920 sync check, which
/// depend on what one read holds by design), then `n % 33` read sizes used in turn (0
/// counts as 1; no sizes: one octet per read). Both runs end with EOF.
///
/// # Panics
///
/// When the two runs differ, or when an oracle of [`server_bytes`] fails.
pub fn split_invariance(data: &[u8]) {
    let mut input = Input::new(data);
    let a = input.byte() & !(1 << 3 | 1 << 4);
    let b = input.byte();
    let decisions = input.byte();
    let n = usize::from(input.byte() % 33);
    let sizes = input.take(n);
    let sizes = if sizes.is_empty() { &[1][..] } else { sizes };
    let payload = input.rest();
    let run = |pieces: &[&[u8]]| {
        let mut driver = Driver::new(variant(a, b), decisions, true);
        driver.feed(pieces);
        driver.finish(Ending::Eof);
        driver
    };
    let whole = run(&[payload]);
    let split = run(&cut(payload, sizes));
    assert_eq!(whole.wire, split.wire, "reply bytes depend on the reads");
    assert_eq!(whole.log, split.log, "events depend on the reads");
}
