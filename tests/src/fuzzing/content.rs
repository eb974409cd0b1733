//! Message content decoders and the reply encoder, each against a plain reference.

use memchr::memmem;

use super::wire::Replies;
use super::{Rng, cut};
use smtp_proto::codec::data::{
    ContentFlags, ContentScanner, DotDecoder, Kernel, LineEndingPolicy, Piece,
};
use smtp_proto::codec::reply::sanitize_text;
use smtp_proto::{EnhancedCode, Reply};

/// Line limits the content targets pick from.
const LINE_LIMITS: [usize; 8] = [usize::MAX, 1000, 80, 10, 3, 1, 2, 5];

/// Read sizes (1 to 16 octets) drawn from `seed`, enough for `len` octets.
fn sizes(seed: u8, len: usize) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let count = len.min(4096);
    (0..count)
        .map(|_| u8::try_from(1 + rng.below(16)).unwrap_or(1))
        .collect()
}

/// What a [`DotDecoder`] made of a stream.
#[derive(Debug, Default, PartialEq, Eq)]
struct Decoded {
    content: Vec<u8>,
    consumed: usize,
    ended: bool,
    flags: ContentFlags,
}

fn decode(pieces: &[&[u8]], policy: LineEndingPolicy, max: usize) -> Decoded {
    decode_with(Kernel::detect(), pieces, policy, max)
}

fn decode_with(kernel: Kernel, pieces: &[&[u8]], policy: LineEndingPolicy, max: usize) -> Decoded {
    let mut decoder = DotDecoder::new(policy, max).with_kernel(kernel);
    let mut out = Decoded::default();
    'reads: for piece in pieces {
        let mut rest = *piece;
        while !rest.is_empty() {
            let step = decoder.decode(rest);
            assert!(step.consumed <= rest.len(), "consumed more than given");
            assert!(
                step.consumed > 0 || step.end_of_data,
                "no progress on {rest:?}"
            );
            match step.piece {
                Some(Piece::Input(range)) => {
                    assert!(range.end <= step.consumed, "content from unconsumed input");
                    out.content.extend_from_slice(&rest[range]);
                }
                Some(Piece::Static(bytes)) => out.content.extend_from_slice(bytes),
                None => {}
            }
            out.consumed += step.consumed;
            rest = &rest[step.consumed..];
            if step.end_of_data {
                out.ended = true;
                break 'reads;
            }
        }
    }
    out.flags = decoder.flags();
    out
}

/// The policy (bit 0: Normalize) and line limit (bits 1 to 3) of a decoder target's
/// options byte.
fn decoder_options(options: u8) -> (LineEndingPolicy, usize) {
    let policy = if options & 1 == 0 {
        LineEndingPolicy::Strict
    } else {
        LineEndingPolicy::Normalize
    };
    (policy, LINE_LIMITS[usize::from(options >> 1 & 7)])
}

/// The flags a [`ContentScanner`] running `kernel` reports for content fed in `pieces`.
fn scan_with(kernel: Kernel, max: usize, pieces: &[&[u8]]) -> ContentFlags {
    let mut scanner = ContentScanner::new(max).with_kernel(kernel);
    for piece in pieces {
        scanner.scan(piece);
    }
    scanner.finish();
    scanner.flags()
}

/// [`DotDecoder`]: `[options, stream…]`; options bit 0 Normalize, bits 1 to 3 the line
/// limit, bits 4 to 7 the read-size seed. Whole and split give the same result; in
/// strict mode the result equals [`reference_strict`].
pub(super) fn dot_decoder(input: &[u8]) {
    let Some((&options, stream)) = input.split_first() else {
        return;
    };
    let (policy, max) = decoder_options(options);
    let whole = decode(&[stream], policy, max);
    let sizes = sizes(options >> 4, stream.len());
    let split = decode(&cut(stream, &sizes), policy, max);
    assert_eq!(whole, split, "DotDecoder depends on the reads");
    if policy == LineEndingPolicy::Strict {
        let expected = reference_strict(stream, max);
        match expected {
            Some(expected) => assert_eq!(whole, expected, "differs from the reference"),
            None => assert!(!whole.ended, "end of data where the reference has none"),
        }
    }
}

/// RFC 5321 §4.1.1.4 and §4.5.2 on whole lines, strict mode: lines end at CR LF only;
/// the first line that is exactly "." ends the data; a leading dot is removed. `None`
/// when there is no end of data. Flags from the raw octets up to the terminator.
fn reference_strict(stream: &[u8], max: usize) -> Option<Decoded> {
    let mut out = Decoded::default();
    let mut at = 0;
    while let Some(offset) = memmem::find(&stream[at..], b"\r\n") {
        let line = &stream[at..at + offset];
        at += offset + 2;
        if line == b"." {
            let raw = &stream[..at];
            out.consumed = at;
            out.ended = true;
            out.flags.nul = raw.contains(&0);
            out.flags.bare_lf = (0..raw.len()).any(|i| raw[i] == b'\n' && !is(raw, i, b'\r', -1));
            out.flags.bare_cr = (0..raw.len()).any(|i| raw[i] == b'\r' && !is(raw, i, b'\n', 1));
            return Some(out);
        }
        let line = line.strip_prefix(b".").unwrap_or(line);
        out.flags.long_line |= line.len().saturating_add(2) > max;
        out.content.extend_from_slice(line);
        out.content.extend_from_slice(b"\r\n");
    }
    None
}

/// Whether the octet next to `i` (`step` -1 before, 1 after) is `b`.
fn is(bytes: &[u8], i: usize, b: u8, step: isize) -> bool {
    i.checked_add_signed(step)
        .and_then(|j| bytes.get(j))
        .is_some_and(|&x| x == b)
}

/// [`ContentScanner`]: `[options, content…]`; options bits 0 to 2 the line limit, bits 4
/// to 7 the read-size seed. Whole and split give the reference flags.
pub(super) fn scanner(input: &[u8]) {
    let Some((&options, content)) = input.split_first() else {
        return;
    };
    let max = LINE_LIMITS[usize::from(options & 7)];
    let whole = scan_with(Kernel::detect(), max, &[content]);
    let sizes = sizes(options >> 4, content.len());
    assert_eq!(
        whole,
        scan_with(Kernel::detect(), max, &cut(content, &sizes)),
        "ContentScanner depends on the reads"
    );
    let mut expected = ContentFlags {
        nul: content.contains(&0),
        bare_lf: (0..content.len()).any(|i| content[i] == b'\n' && !is(content, i, b'\r', -1)),
        bare_cr: (0..content.len()).any(|i| content[i] == b'\r' && !is(content, i, b'\n', 1)),
        long_line: false,
    };
    let mut at = 0;
    while let Some(offset) = memmem::find(&content[at..], b"\r\n") {
        expected.long_line |= offset.saturating_add(2) > max;
        at += offset + 2;
    }
    expected.long_line |= content.len() - at > max;
    assert_eq!(whole, expected, "flags differ from the reference");
}

/// Every content kernel this CPU has against the portable one: `[options, stream…]`;
/// options bit 0 Normalize, bits 1 to 3 the line limit, bits 4 to 7 the read-size seed.
/// The [`DotDecoder`] and the [`ContentScanner`] of each kernel, fed whole and in reads,
/// give exactly what the portable kernel gives whole.
///
/// # Panics
///
/// When a kernel differs.
pub fn content_kernels(input: &[u8]) {
    let Some((&options, stream)) = input.split_first() else {
        return;
    };
    let (policy, max) = decoder_options(options);
    let sizes = sizes(options >> 4, stream.len());
    let reads = cut(stream, &sizes);
    let decoded = decode_with(Kernel::Portable, &[stream], policy, max);
    let scanned = scan_with(Kernel::Portable, max, &[stream]);
    for kernel in Kernel::available() {
        for pieces in [&[stream][..], &reads] {
            assert_eq!(
                decode_with(kernel, pieces, policy, max),
                decoded,
                "DotDecoder with {kernel:?}"
            );
            assert_eq!(
                scan_with(kernel, max, pieces),
                scanned,
                "ContentScanner with {kernel:?}"
            );
        }
    }
}

/// `Reply::new` and the encoder: `[code lo, code hi, enhanced, text…]`. The reply is
/// accepted exactly when RFC 5321 §4.2 allows it, and its wire form carries the text
/// exactly, line by line. `sanitize_text` gives printable ASCII of the right length.
pub(super) fn reply(input: &[u8]) {
    let [lo, hi, enhanced, text @ ..] = input else {
        return;
    };
    let limit = usize::from(*enhanced);
    let clean = sanitize_text(text, limit);
    assert_eq!(clean.len(), text.len().min(limit));
    assert!(clean.bytes().all(|b| (0x20..0x7f).contains(&b)));
    let code = 150 + u16::from_le_bytes([*lo, *hi]) % 500;
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let valid_text = text
        .bytes()
        .all(|b| b == b'\t' || b == b'\n' || (0x20..0x7f).contains(&b));
    let reply = Reply::new(code, text.to_owned());
    assert_eq!(
        reply.is_ok(),
        (200..=599).contains(&code) && valid_text,
        "{code} {text:?}"
    );
    let Ok(mut reply) = reply else {
        return;
    };
    let class = u8::try_from(code / 100).unwrap_or(0);
    if let Some(e) = EnhancedCode::new(class, u16::from(*enhanced >> 4), u16::from(*hi)) {
        reply = reply.with_enhanced(e).expect("same class");
    }
    let on = enhanced & 1 == 1;
    let mut wire = Vec::new();
    reply.encode(on, &mut wire);
    Replies::free_text().batch(&wire);
    let shown = match reply.enhanced() {
        Some(e) if on => Some(e.to_string()),
        None if on && class != 3 => Some(format!("{class}.0.0")),
        _ => None,
    };
    let lines: Vec<&str> = text.split('\n').collect();
    let mut expected = String::new();
    for (i, line) in lines.iter().enumerate() {
        let sep = if i + 1 == lines.len() { ' ' } else { '-' };
        expected.push_str(&format!("{code}{sep}"));
        if let Some(e) = &shown {
            expected.push_str(e);
            if !line.is_empty() {
                expected.push(' ');
            }
        }
        expected.push_str(line);
        expected.push_str("\r\n");
    }
    assert_eq!(wire, expected.as_bytes(), "encoded reply");
}
