//! Tests of the DATA and BDAT content decoders, grouped by RFC 5321 section (end-of-data,
//! dot-unstuffing, flags, line length), then the smuggling cases, BDAT, and properties
//! (including agreement with the reference decoders).

use super::*;
use proptest::prelude::*;

use crate::codec::reference::content::{self as reference, Decoded};

const STRICT: LineEndingPolicy = LineEndingPolicy::Strict;
const NORMALIZE: LineEndingPolicy = LineEndingPolicy::Normalize;
const BOTH: [LineEndingPolicy; 2] = [STRICT, NORMALIZE];

fn flags(bare_lf: bool, bare_cr: bool, nul: bool, long_line: bool) -> ContentFlags {
    ContentFlags {
        bare_lf,
        bare_cr,
        nul,
        long_line,
    }
}

const NO_FLAGS: ContentFlags = ContentFlags {
    bare_lf: false,
    bare_cr: false,
    nul: false,
    long_line: false,
};
const LF: ContentFlags = ContentFlags {
    bare_lf: true,
    ..NO_FLAGS
};
const CR: ContentFlags = ContentFlags {
    bare_cr: true,
    ..NO_FLAGS
};
const CR_LF: ContentFlags = ContentFlags {
    bare_lf: true,
    bare_cr: true,
    ..NO_FLAGS
};
const NUL: ContentFlags = ContentFlags {
    nul: true,
    ..NO_FLAGS
};
const LONG: ContentFlags = ContentFlags {
    long_line: true,
    ..NO_FLAGS
};

/// Feeds one chunk, checking the call contract; returns the offset of end-of-data in it.
fn feed(decoder: &mut DotDecoder, chunk: &[u8], out: &mut Vec<u8>) -> Option<usize> {
    let mut offset = 0;
    while offset < chunk.len() {
        let rest = &chunk[offset..];
        let step = decoder.decode(rest);
        assert!(step.consumed >= 1, "no progress on {rest:?}");
        assert!(step.consumed <= rest.len());
        match step.piece {
            Some(Piece::Input(range)) => {
                assert!(range.start < range.end && range.end <= step.consumed);
                out.extend_from_slice(&rest[range]);
            }
            Some(Piece::Static(bytes)) => out.extend_from_slice(bytes),
            None => {}
        }
        offset += step.consumed;
        if step.end_of_data {
            return Some(offset);
        }
    }
    None
}

/// Decodes `input` cut at the sorted positions `cuts`, with every content kernel this CPU
/// has; they must agree.
fn decode_split(policy: LineEndingPolicy, max: usize, input: &[u8], cuts: &[usize]) -> Decoded {
    let decoded = decode_split_with(Kernel::Portable, policy, max, input, cuts);
    for kernel in Kernel::available() {
        if kernel != Kernel::Portable {
            let other = decode_split_with(kernel, policy, max, input, cuts);
            assert_eq!(
                other, decoded,
                "{kernel:?} differs from Portable on {input:?} cut at {cuts:?}"
            );
        }
        let pieces = decode_pieces_split(kernel, policy, max, input, cuts);
        assert_eq!(
            pieces, decoded,
            "decode_pieces with {kernel:?} on {input:?} cut at {cuts:?}"
        );
    }
    decoded
}

/// [`decode_split_with`] through [`DotDecoder::decode_pieces`], checking its contract: the
/// pieces are in order and inside what was consumed, a static piece is the last, and the
/// call consumes its whole input unless end-of-data or a static piece came first.
fn decode_pieces_split(
    kernel: Kernel,
    policy: LineEndingPolicy,
    max: usize,
    input: &[u8],
    cuts: &[usize],
) -> Decoded {
    let mut decoder = DotDecoder::new(policy, max).with_kernel(kernel);
    let mut content = Vec::new();
    let mut end_of_data = None;
    let mut from = 0;
    let mut pieces = Vec::new();
    'reads: for &to in cuts.iter().chain(std::iter::once(&input.len())) {
        let mut chunk = &input[from..to];
        while !chunk.is_empty() {
            pieces.clear();
            let progress = decoder.decode_pieces(chunk, &mut pieces);
            let mut last_end = 0;
            for (i, piece) in pieces.iter().enumerate() {
                match piece {
                    Piece::Input(range) => {
                        assert!(range.start >= last_end && range.start < range.end);
                        assert!(range.end <= progress.consumed);
                        last_end = range.end;
                        content.extend_from_slice(&chunk[range.clone()]);
                    }
                    Piece::Static(bytes) => {
                        assert_eq!(i + 1, pieces.len(), "a static piece is the last");
                        content.extend_from_slice(bytes);
                    }
                }
            }
            let early = matches!(pieces.last(), Some(Piece::Static(_)));
            assert!(progress.consumed > 0, "no progress on {chunk:?}");
            if progress.end_of_data {
                end_of_data = Some(to - chunk.len() + progress.consumed);
                break 'reads;
            }
            assert!(
                early || progress.consumed == chunk.len(),
                "stopped early on {chunk:?}"
            );
            chunk = &chunk[progress.consumed..];
        }
        from = to;
    }
    Decoded {
        content,
        flags: decoder.flags(),
        end_of_data,
    }
}

fn decode_split_with(
    kernel: Kernel,
    policy: LineEndingPolicy,
    max: usize,
    input: &[u8],
    cuts: &[usize],
) -> Decoded {
    let mut decoder = DotDecoder::new(policy, max).with_kernel(kernel);
    let mut content = Vec::new();
    let mut end_of_data = None;
    let mut from = 0;
    for &to in cuts.iter().chain(std::iter::once(&input.len())) {
        if let Some(at) = feed(&mut decoder, &input[from..to], &mut content) {
            end_of_data = Some(from + at);
            break;
        }
        from = to;
    }
    Decoded {
        content,
        flags: decoder.flags(),
        end_of_data,
    }
}

fn decode_whole(policy: LineEndingPolicy, max: usize, input: &[u8]) -> Decoded {
    decode_split(policy, max, input, &[])
}

fn decode_bytewise(policy: LineEndingPolicy, max: usize, input: &[u8]) -> Decoded {
    let cuts: Vec<usize> = (1..input.len()).collect();
    decode_split(policy, max, input, &cuts)
}

/// Scans `input` cut at `cuts` with every content kernel this CPU has; they must agree.
fn scan_split(max: usize, input: &[u8], cuts: &[usize]) -> ContentScanner {
    let scanner = scan_split_with(Kernel::Portable, max, input, cuts);
    for kernel in Kernel::available().skip(1) {
        let other = scan_split_with(kernel, max, input, cuts);
        assert_eq!(
            other.flags(),
            scanner.flags(),
            "{kernel:?} on {input:?} cut at {cuts:?}"
        );
        assert_eq!(other.pending_cr, scanner.pending_cr);
    }
    scanner
}

fn scan_split_with(kernel: Kernel, max: usize, input: &[u8], cuts: &[usize]) -> ContentScanner {
    let mut scanner = ContentScanner::new(max).with_kernel(kernel);
    let mut from = 0;
    for &to in cuts.iter().chain(std::iter::once(&input.len())) {
        scanner.scan(&input[from..to]);
        from = to;
    }
    scanner
}

fn step(consumed: usize, piece: Option<Piece>, end_of_data: bool) -> Step {
    Step {
        consumed,
        piece,
        end_of_data,
    }
}

// ---- RFC 5321 §4.1.1.4: end-of-data -------------------------------------------------

#[test]
fn dot_crlf_as_first_line_ends_an_empty_message() {
    for policy in BOTH {
        let mut decoder = DotDecoder::new(policy, 1000);
        assert_eq!(decoder.decode(b".\r\nQUIT\r\n"), step(3, None, true));
        assert_eq!(decoder.flags(), NO_FLAGS);
    }
}

#[test]
fn terminator_crlf_is_the_last_lines_ending() {
    for policy in BOTH {
        let mut decoder = DotDecoder::new(policy, 1000);
        let step1 = decoder.decode(b"a\r\n.\r\nMAIL");
        assert_eq!(step1, step(6, Some(Piece::Input(0..3)), true));
    }
}

#[test]
fn empty_line_then_terminator() {
    let decoded = decode_whole(STRICT, 1000, b"\r\n.\r\n");
    assert_eq!(decoded.content, b"\r\n");
    assert_eq!(decoded.end_of_data, Some(5));
}

#[test]
fn bytes_after_end_of_data_are_never_consumed() {
    let mut decoder = DotDecoder::new(STRICT, 1000);
    assert_eq!(decoder.decode(b".\r\nX"), step(3, None, true));
    assert_eq!(decoder.decode(b"X\r\n.\r\n"), step(0, None, true));
    assert_eq!(decoder.decode(b""), step(0, None, true));
}

#[test]
fn empty_input_consumes_nothing() {
    let mut decoder = DotDecoder::new(STRICT, 1000);
    assert_eq!(decoder.decode(b""), step(0, None, false));
    assert_eq!(decoder.decode(b".\r\n"), step(3, None, true));
}

#[test]
fn terminator_held_across_calls_in_every_position() {
    for policy in BOTH {
        let mut decoder = DotDecoder::new(policy, 1000);
        assert_eq!(
            decoder.decode(b"a\r"),
            step(2, Some(Piece::Input(0..2)), false)
        );
        assert_eq!(
            decoder.decode(b"\n"),
            step(1, Some(Piece::Input(0..1)), false)
        );
        assert_eq!(decoder.decode(b"."), step(1, None, false));
        assert_eq!(decoder.decode(b"\r"), step(1, None, false));
        assert_eq!(decoder.decode(b"\nNOOP"), step(1, None, true));
    }
}

#[test]
fn dot_cr_lf_in_one_call_after_held_dot() {
    let mut decoder = DotDecoder::new(STRICT, 1000);
    assert_eq!(decoder.decode(b"."), step(1, None, false));
    assert_eq!(decoder.decode(b"\r\nQ"), step(2, None, true));
}

#[test]
fn dot_not_at_line_start_is_content() {
    let decoded = decode_whole(STRICT, 1000, b"a.\r\nb.b\r\n.\r\n");
    assert_eq!(decoded.content, b"a.\r\nb.b\r\n");
    assert_eq!(decoded.end_of_data, Some(12));
}

// ---- RFC 5321 §4.5.2: dot-unstuffing ---------------------------------------------

#[test]
fn stuffing_dot_is_removed() {
    let cases: [(&[u8], &[u8], ContentFlags); 6] = [
        (b"..\r\n.\r\n", b".\r\n", NO_FLAGS),
        (b".x\r\n.\r\n", b"x\r\n", NO_FLAGS),
        (b". \r\n.\r\n", b" \r\n", NO_FLAGS),
        (b".\x00\r\n.\r\n", b"\x00\r\n", NUL),
        (b"...\r\n.\r\n", b"..\r\n", NO_FLAGS),
        (b"a\r\n.b.\r\n.\r\n", b"a\r\nb.\r\n", NO_FLAGS),
    ];
    for (input, content, expected_flags) in cases {
        for policy in BOTH {
            let decoded = decode_whole(policy, 1000, input);
            assert_eq!(decoded.content, content, "{input:?}");
            assert_eq!(decoded.flags, expected_flags, "{input:?}");
            assert_eq!(decoded.end_of_data, Some(input.len()), "{input:?}");
        }
    }
}

#[test]
fn pieces_are_maximal_and_end_at_stuffing_dots() {
    let input = b"abc\r\n..def\r\n.\r\n";
    let mut decoder = DotDecoder::new(STRICT, 1000);
    assert_eq!(
        decoder.decode(input),
        step(5, Some(Piece::Input(0..5)), false)
    );
    assert_eq!(
        decoder.decode(&input[5..]),
        step(10, Some(Piece::Input(1..7)), true)
    );
}

#[test]
fn whole_lines_form_one_piece() {
    let input = b"Subject: a\r\n\r\nline 1\r\nline 2\r\n";
    let mut decoder = DotDecoder::new(STRICT, 1000);
    assert_eq!(
        decoder.decode(input),
        step(input.len(), Some(Piece::Input(0..input.len())), false)
    );
}

#[test]
fn held_dot_cr_followed_by_other_octet_is_emitted_as_static() {
    for policy in BOTH {
        let mut decoder = DotDecoder::new(policy, 1000);
        assert_eq!(decoder.decode(b".\r"), step(2, None, false));
        assert_eq!(
            decoder.decode(b"xy"),
            step(1, Some(Piece::Static(b"\rx")), false)
        );
        assert_eq!(
            decoder.decode(b"y"),
            step(1, Some(Piece::Input(0..1)), false)
        );
        assert_eq!(decoder.flags(), CR);
    }
}

#[test]
fn held_dot_cr_followed_by_cr_lf_is_content_line() {
    let mut decoder = DotDecoder::new(STRICT, 1000);
    assert_eq!(decoder.decode(b".\r"), step(2, None, false));
    assert_eq!(
        decoder.decode(b"\r"),
        step(1, Some(Piece::Static(b"\r\r")), false)
    );
    assert_eq!(
        decoder.decode(b"\n"),
        step(1, Some(Piece::Input(0..1)), false)
    );
    assert_eq!(decoder.decode(b".\r\n"), step(3, None, true));
    assert_eq!(decoder.flags(), CR);
}

#[test]
fn held_dot_cr_followed_by_nul() {
    let mut decoder = DotDecoder::new(STRICT, 1000);
    assert_eq!(decoder.decode(b".\r"), step(2, None, false));
    assert_eq!(
        decoder.decode(b"\x00"),
        step(1, Some(Piece::Static(b"\r\x00")), false)
    );
    assert_eq!(decoder.flags(), flags(false, true, true, false));
}

#[test]
fn cr_then_table_covers_every_octet() {
    for octet in 0..=255u8 {
        assert_eq!(cr_then(octet), [b'\r', octet]);
    }
}

// ---- flags (RFC 5321 §2.3.8) ------------------------------------------------------

#[test]
fn cr_lf_split_across_calls_is_not_bare() {
    let decoded = decode_split(STRICT, 1000, b"a\r\nb\r\n.\r\n", &[2, 6]);
    assert_eq!(decoded.content, b"a\r\nb\r\n");
    assert_eq!(decoded.flags, NO_FLAGS);
    assert_eq!(decoded.end_of_data, Some(9));
}

#[test]
fn bare_cr_at_end_of_call_is_flagged_by_the_next_octet() {
    let mut decoder = DotDecoder::new(STRICT, 1000);
    assert_eq!(
        decoder.decode(b"a\r"),
        step(2, Some(Piece::Input(0..2)), false)
    );
    assert_eq!(decoder.flags(), NO_FLAGS);
    assert_eq!(
        decoder.decode(b"b"),
        step(1, Some(Piece::Input(0..1)), false)
    );
    assert_eq!(decoder.flags(), CR);
}

#[test]
fn bare_lf_in_strict_is_content() {
    let decoded = decode_whole(STRICT, 1000, b"a\nb\r\n.\r\n");
    assert_eq!(decoded.content, b"a\nb\r\n");
    assert_eq!(decoded.flags, LF);
    let decoded = decode_whole(STRICT, 1000, b"\n.\r\n.\r\n");
    assert_eq!(decoded.content, b"\n.\r\n");
    assert_eq!(decoded.end_of_data, Some(7));
}

#[test]
fn nul_anywhere_is_flagged() {
    let decoded = decode_whole(STRICT, 1000, b"a\x00b\r\n.\r\n");
    assert_eq!(decoded.content, b"a\x00b\r\n");
    assert_eq!(decoded.flags, NUL);
    let decoded = decode_whole(STRICT, 1000, b"\x00\r\n.\r\n");
    assert_eq!(decoded.flags, NUL);
}

// ---- Normalize mode (manual::smuggling SMUG-4) ------------------------------------

#[test]
fn normalize_rewrites_bare_lf_as_static_crlf() {
    let mut decoder = DotDecoder::new(NORMALIZE, 1000);
    assert_eq!(
        decoder.decode(b"a\nb"),
        step(1, Some(Piece::Input(0..1)), false)
    );
    assert_eq!(
        decoder.decode(b"\nb"),
        step(1, Some(Piece::Static(b"\r\n")), false)
    );
    assert_eq!(
        decoder.decode(b"b"),
        step(1, Some(Piece::Input(0..1)), false)
    );
    assert_eq!(decoder.flags(), LF);
}

#[test]
fn normalize_bare_lf_lines_unstuff_like_crlf_lines() {
    let decoded = decode_whole(NORMALIZE, 1000, b"a\n..b\n.c\r\n.\r\n");
    assert_eq!(decoded.content, b"a\r\n.b\r\nc\r\n");
    assert_eq!(decoded.flags, LF);
    assert_eq!(decoded.end_of_data, Some(13));
}

#[test]
fn normalize_discards_dot_lines_touching_bare_lf() {
    let cases: [(&[u8], &[u8]); 4] = [
        (b"a\n.\r\nb\r\n.\r\n", b"a\r\nb\r\n"),
        (b"a\r\n.\nb\r\n.\r\n", b"a\r\nb\r\n"),
        (b"a\n.\nb\r\n.\r\n", b"a\r\nb\r\n"),
        (b".\nb\r\n.\r\n", b"b\r\n"),
    ];
    for (input, content) in cases {
        let decoded = decode_whole(NORMALIZE, 1000, input);
        assert_eq!(decoded.content, content, "{input:?}");
        assert_eq!(decoded.flags, LF, "{input:?}");
        assert_eq!(decoded.end_of_data, Some(input.len()), "{input:?}");
    }
}

#[test]
fn normalize_dot_line_after_discarded_crlf_dot_line_ends_data() {
    // The discarded "." line ended in CR LF, so the next "." CR LF follows a CR LF:
    // end-of-data at the same offset as in Strict mode.
    let input = b"a\n.\r\n.\r\nMAIL";
    let normalized = decode_whole(NORMALIZE, 1000, input);
    assert_eq!(normalized.content, b"a\r\n");
    assert_eq!(normalized.end_of_data, Some(8));
    let strict = decode_whole(STRICT, 1000, input);
    assert_eq!(strict.content, b"a\n.\r\n");
    assert_eq!(strict.end_of_data, Some(8));
}

#[test]
fn normalize_cr_normalization_never_creates_terminator() {
    // SMUG-2: bare CR is content, "\r.\r" is not a dot line.
    let decoded = decode_whole(NORMALIZE, 1000, b"a\r.\rb\r\n.\r\n");
    assert_eq!(decoded.content, b"a\r.\rb\r\n");
    assert_eq!(decoded.flags, CR);
    assert_eq!(decoded.end_of_data, Some(10));
}

// ---- line length (RFC 5321 §4.5.3.1.6) --------------------------------------------

fn line_of(prefix: &[u8], len: usize, ending: &[u8]) -> Vec<u8> {
    let mut line = prefix.to_vec();
    line.resize(prefix.len() + len, b'a');
    line.extend_from_slice(ending);
    line.extend_from_slice(b".\r\n");
    line
}

#[test]
fn line_of_exactly_1000_octets_is_accepted() {
    for policy in BOTH {
        let input = line_of(b"", 998, b"\r\n");
        let decoded = decode_whole(policy, 1000, &input);
        assert_eq!(decoded.flags, NO_FLAGS);
        assert_eq!(decoded.content.len(), 1000);
        assert_eq!(decode_bytewise(policy, 1000, &input).flags, NO_FLAGS);
    }
}

#[test]
fn line_of_1001_octets_is_long_and_not_cut() {
    for policy in BOTH {
        let input = line_of(b"", 999, b"\r\n");
        let decoded = decode_whole(policy, 1000, &input);
        assert_eq!(decoded.flags, LONG);
        assert_eq!(decoded.content.len(), 1001);
        assert_eq!(decoded.end_of_data, Some(1004));
        assert_eq!(decode_bytewise(policy, 1000, &input).flags, LONG);
    }
}

#[test]
fn stuffing_dot_is_not_counted_in_line_length() {
    let at_limit = line_of(b".", 998, b"\r\n");
    assert_eq!(decode_whole(STRICT, 1000, &at_limit).flags, NO_FLAGS);
    let over = line_of(b".", 999, b"\r\n");
    assert_eq!(decode_whole(STRICT, 1000, &over).flags, LONG);
}

/// The same for a stuffed line after others, where `decode_pieces` goes past the dot inside
/// the kernel, wherever the dot falls in a chunk, and for a limit below a chunk.
#[test]
#[cfg_attr(
    miri,
    ignore = "thousands of decodes: slow under Miri; cargo test runs it natively"
)]
fn stuffing_dot_inside_the_input_is_not_counted_in_line_length() {
    for (max, offsets) in [(1000, 0..70), (70, 0..69), (20, 0..3)] {
        for offset in offsets {
            for (len, expected) in [(max - 2, NO_FLAGS), (max - 1, LONG)] {
                let mut input = b"x".repeat(offset);
                input.extend_from_slice(b"\r\n");
                input.extend(line_of(b".", len, b"\r\n"));
                let decoded = decode_whole(STRICT, max, &input);
                assert_eq!(
                    decoded.flags, expected,
                    "max {max} offset {offset} len {len}"
                );
                assert_eq!(decoded.content.len(), input.len() - 4);
            }
        }
    }
}

#[test]
fn normalize_counts_bare_lf_as_emitted_crlf() {
    let at_limit = line_of(b"", 998, b"\n");
    assert_eq!(decode_whole(NORMALIZE, 1000, &at_limit).flags, LF);
    let over = line_of(b"", 999, b"\n");
    assert_eq!(
        decode_whole(NORMALIZE, 1000, &over).flags,
        flags(true, false, false, true)
    );
}

#[test]
fn terminator_line_is_not_counted() {
    let decoded = decode_whole(STRICT, 3, b"a\r\n.\r\n");
    assert_eq!(decoded.flags, NO_FLAGS);
    let decoded = decode_whole(STRICT, 3, b"ab\r\n.\r\n");
    assert_eq!(decoded.flags, LONG);
    let decoded = decode_whole(STRICT, 0, b".\r\n");
    assert_eq!(decoded.flags, NO_FLAGS);
}

#[test]
fn line_length_counter_spans_calls() {
    let input = line_of(b"", 999, b"\r\n");
    let decoded = decode_split(STRICT, 1000, &input, &[500, 1000]);
    assert_eq!(decoded.flags, LONG);
    let input = line_of(b"", 998, b"\r\n");
    let decoded = decode_split(STRICT, 1000, &input, &[500, 999]);
    assert_eq!(decoded.flags, NO_FLAGS);
}

// ---- manual::smuggling: SMG-01..SMG-17 --------------------------------------------

const PRE: &[u8] = b"Subject: t\r\n\r\nbody";
const POST: &[u8] = b"MAIL FROM:<evil@a.example>\r\nRCPT TO:<victim@b.example>\r\nDATA\r\nSubject: smuggled\r\n\r\nx\r\n.\r\n";

fn smuggled() -> &'static [u8] {
    &POST[..POST.len() - 3]
}

fn attack(seq: &[u8]) -> Vec<u8> {
    [PRE, seq, POST].concat()
}

/// The sequence is not end-of-data: one message, ending at the real final terminator,
/// whose content is PRE + `decoded_seq` + the smuggled commands as plain text.
fn assert_smuggling_fails(
    policy: LineEndingPolicy,
    seq: &[u8],
    decoded_seq: &[u8],
    expected: ContentFlags,
) {
    let input = attack(seq);
    for decoded in [
        decode_whole(policy, 1000, &input),
        decode_bytewise(policy, 1000, &input),
    ] {
        assert_eq!(decoded.end_of_data, Some(input.len()), "{policy:?} {seq:?}");
        assert_eq!(
            decoded.content,
            [PRE, decoded_seq, smuggled()].concat(),
            "{policy:?} {seq:?}"
        );
        assert_eq!(decoded.flags, expected, "{policy:?} {seq:?}");
    }
}

#[test]
fn smg_01_crlf_dot_crlf_is_end_of_data() {
    for policy in BOTH {
        let input = attack(b"\r\n.\r\n");
        let decoded = decode_whole(policy, 1000, &input);
        assert_eq!(decoded.end_of_data, Some(PRE.len() + 5));
        assert_eq!(decoded.content, [PRE, b"\r\n"].concat());
        assert_eq!(decoded.flags, NO_FLAGS);
        assert_eq!(&input[PRE.len() + 5..], POST);
    }
}

#[test]
fn smg_02_lf_dot_lf() {
    assert_smuggling_fails(STRICT, b"\n.\n", b"\n.\n", LF);
    assert_smuggling_fails(NORMALIZE, b"\n.\n", b"\r\n", LF);
}

#[test]
fn smg_03_lf_dot_crlf() {
    assert_smuggling_fails(STRICT, b"\n.\r\n", b"\n.\r\n", LF);
    assert_smuggling_fails(NORMALIZE, b"\n.\r\n", b"\r\n", LF);
}

#[test]
fn smg_04_crlf_dot_lf() {
    assert_smuggling_fails(STRICT, b"\r\n.\n", b"\r\n\n", LF);
    assert_smuggling_fails(NORMALIZE, b"\r\n.\n", b"\r\n", LF);
}

#[test]
fn smg_05_cr_dot_cr() {
    for policy in BOTH {
        assert_smuggling_fails(policy, b"\r.\r", b"\r.\r", CR);
    }
}

#[test]
fn smg_06_cr_dot_crlf() {
    for policy in BOTH {
        assert_smuggling_fails(policy, b"\r.\r\n", b"\r.\r\n", CR);
    }
}

#[test]
fn smg_07_cr_dot_lf_and_lf_dot_cr() {
    assert_smuggling_fails(STRICT, b"\r.\n", b"\r.\n", CR_LF);
    assert_smuggling_fails(NORMALIZE, b"\r.\n", b"\r.\r\n", CR_LF);
    assert_smuggling_fails(STRICT, b"\n.\r", b"\n.\r", CR_LF);
    assert_smuggling_fails(NORMALIZE, b"\n.\r", b"\r\n\r", CR_LF);
}

#[test]
fn smg_08_crlf_dot_cr_then_other() {
    for policy in BOTH {
        assert_smuggling_fails(policy, b"\r\n.\r", b"\r\n\r", CR);
    }
}

#[test]
fn smg_09_crlf_dot_cr_cr_lf() {
    for policy in BOTH {
        assert_smuggling_fails(policy, b"\r\n.\r\r\n", b"\r\n\r\r\n", CR);
    }
}

#[test]
fn smg_10_cr_crlf_dot_cr_crlf() {
    for policy in BOTH {
        assert_smuggling_fails(policy, b"\r\r\n.\r\r\n", b"\r\r\n\r\r\n", CR);
    }
}

#[test]
fn smg_11_nul_before_dot() {
    for policy in BOTH {
        assert_smuggling_fails(policy, b"\r\n\x00.\r\n", b"\r\n\x00.\r\n", NUL);
    }
}

#[test]
fn smg_12_nul_after_dot() {
    for policy in BOTH {
        assert_smuggling_fails(policy, b"\r\n.\x00\r\n", b"\r\n\x00\r\n", NUL);
    }
}

#[test]
fn smg_13_dot_whitespace_is_not_trimmed() {
    for policy in BOTH {
        assert_smuggling_fails(policy, b"\r\n. \r\n", b"\r\n \r\n", NO_FLAGS);
        assert_smuggling_fails(policy, b"\r\n.\t\r\n", b"\r\n\t\r\n", NO_FLAGS);
    }
}

#[test]
fn smg_14_dot_after_long_line_fragment() {
    for policy in BOTH {
        for (len, expected) in [(997, NO_FLAGS), (998, LONG)] {
            let mut seq = b"\r\n".to_vec();
            seq.resize(2 + len, b'A');
            seq.extend_from_slice(b".\r\n");
            assert_smuggling_fails(policy, &seq, &seq, expected);
            // SMUG-8: a feed boundary right before the "." changes nothing.
            let input = attack(&seq);
            let cut = PRE.len() + 2 + len;
            assert_eq!(input[cut], b'.');
            let decoded = decode_split(policy, 1000, &input, &[cut]);
            assert_eq!(decoded.end_of_data, Some(input.len()));
            assert_eq!(decoded.flags, expected);
        }
    }
}

#[test]
fn smg_15_dot_dot_is_stuffing() {
    for policy in BOTH {
        assert_smuggling_fails(policy, b"\r\n..\r\n", b"\r\n.\r\n", NO_FLAGS);
    }
}

#[test]
fn smg_16_terminator_split_at_every_boundary() {
    for policy in BOTH {
        let input = attack(b"\r\n.\r\n");
        for k in 0..=5 {
            let decoded = decode_split(policy, 1000, &input, &[PRE.len() + k]);
            assert_eq!(decoded.end_of_data, Some(PRE.len() + 5), "cut {k}");
            assert_eq!(decoded.content, [PRE, b"\r\n"].concat(), "cut {k}");
            assert_eq!(decoded.flags, NO_FLAGS);
        }
        let decoded = decode_bytewise(policy, 1000, &input);
        assert_eq!(decoded.end_of_data, Some(PRE.len() + 5));
        assert_eq!(decoded.content, [PRE, b"\r\n"].concat());
    }
}

#[test]
fn smg_17_lf_lf_dot_crlf() {
    assert_smuggling_fails(STRICT, b"\n\n.\r\n", b"\n\n.\r\n", LF);
    assert_smuggling_fails(NORMALIZE, b"\n\n.\r\n", b"\r\n\r\n", LF);
}

// ---- ContentScanner (RFC 3030, SMG-B1/B2) -----------------------------------------

#[test]
fn smg_b1_bdat_has_no_dot_handling() {
    let mut scanner = ContentScanner::new(1000);
    scanner.scan(b"ab\r\n.\r\nMAIL F");
    scanner.finish();
    assert_eq!(scanner.flags(), NO_FLAGS);
}

#[test]
fn smg_b2_bdat_bare_lf() {
    let mut scanner = ContentScanner::new(1000);
    scanner.scan(b"To: x\nab");
    scanner.finish();
    assert_eq!(scanner.flags(), LF);
}

#[test]
fn scanner_cr_lf_across_chunks_is_not_bare() {
    let mut scanner = ContentScanner::new(1000);
    scanner.scan(b"a\r");
    scanner.scan(b"");
    scanner.scan(b"\nb");
    scanner.finish();
    assert_eq!(scanner.flags(), NO_FLAGS);
}

#[test]
fn scanner_pending_cr_at_finish_is_bare() {
    let mut scanner = ContentScanner::new(1000);
    scanner.scan(b"a\r");
    assert_eq!(scanner.flags(), NO_FLAGS);
    scanner.finish();
    assert_eq!(scanner.flags(), CR);
}

#[test]
fn scanner_cr_then_other_chunk_is_bare() {
    let mut scanner = ContentScanner::new(1000);
    scanner.scan(b"a\r");
    scanner.scan(b"x");
    assert_eq!(scanner.flags(), CR);
}

#[test]
fn scanner_nul_and_lf() {
    let mut scanner = ContentScanner::new(1000);
    scanner.scan(b"\n\x00");
    assert_eq!(scanner.flags(), flags(true, false, true, false));
}

#[test]
fn scanner_line_length_limits() {
    let mut line = vec![b'a'; 998];
    line.extend_from_slice(b"\r\n");
    let mut scanner = ContentScanner::new(1000);
    scanner.scan(&line);
    assert_eq!(scanner.flags(), NO_FLAGS);
    line.insert(0, b'a');
    let mut scanner = ContentScanner::new(1000);
    scanner.scan(&line[..500]);
    scanner.scan(&line[500..]);
    assert_eq!(scanner.flags(), LONG);
    let mut scanner = ContentScanner::new(1000);
    scanner.scan(&[b'a'; 1000]);
    scanner.finish();
    assert_eq!(scanner.flags(), NO_FLAGS);
    scanner.scan(b"a");
    assert_eq!(scanner.flags(), LONG);
}

// ---- properties (SMUG-10, SMG-16) -------------------------------------------------

fn smtp_octet() -> impl Strategy<Value = u8> {
    prop_oneof![
        4 => Just(b'\r'),
        4 => Just(b'\n'),
        4 => Just(b'.'),
        1 => Just(0u8),
        3 => Just(b'a'),
        1 => any::<u8>(),
    ]
}

fn cuts(len: usize, picks: &[prop::sample::Index]) -> Vec<usize> {
    let mut cuts: Vec<usize> = picks.iter().map(|pick| pick.index(len + 1)).collect();
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}

fn any_policy() -> impl Strategy<Value = LineEndingPolicy> {
    prop_oneof![Just(STRICT), Just(NORMALIZE)]
}

// ---- long content: the kernel's chunks ----------------------------------------------

/// One piece of long content: mostly ordinary lines, rarely one with something the kernel
/// must stop at or flag.
#[derive(Clone, Debug)]
enum Segment {
    /// An ordinary line: this many letters (70 to 80), then CR LF.
    Clean(usize),
    /// A line of exactly this many octets, CR LF included.
    Sized(usize),
    /// A line whose length, CR LF included, is `2 * CHUNK + delta`.
    BlockRelative(isize),
    /// Literal octets.
    Raw(&'static [u8]),
}

fn segment() -> impl Strategy<Value = Segment> {
    prop_oneof![
        120 => (70usize..=80).prop_map(Segment::Clean),
        1 => prop::sample::select(vec![999usize, 1000, 1001, 1002, 2000, 1, 2, 3])
            .prop_map(Segment::Sized),
        2 => (-3isize..=2).prop_map(Segment::BlockRelative),
        1 => prop::sample::select(vec![
            b"a\rb\r\n".as_slice(),
            b"a\nb\r\n",
            b"\n",
            b"\r",
            b"a\x00b\r\n",
            b"..stuffed\r\n",
            b".x\r\n",
            b".\r\n",
            b".\n",
            b".\r",
            b"\r\n",
            b"\r\r\n",
        ])
        .prop_map(Segment::Raw),
    ]
}

/// An octet to write at `k * CHUNK + delta` (`k`, `delta`, octet): at chunk edges.
fn boundary_hit() -> impl Strategy<Value = (usize, isize, u8)> {
    (
        0usize..24,
        -1isize..=1,
        prop::sample::select(vec![b'\r', b'\n', 0u8, b'.', b'x']),
    )
}

/// Line limits: the RFC's, tiny ones, short ones (below a chunk: several lines per chunk
/// per line), and none.
fn line_limit() -> impl Strategy<Value = usize> {
    prop_oneof![
        3 => Just(1000usize),
        1 => 0usize..4,
        2 => 4usize..80,
        1 => 80usize..600,
        1 => Just(usize::MAX),
    ]
}

/// Letters for ordinary lines (no CR, LF, NUL or ".").
fn letters(len: usize) -> impl Iterator<Item = u8> {
    (0..len).map(|i| b"Lorem ipsum dolor sit amet consectetur adipiscing"[i % 49])
}

fn long_content(segments: &[Segment], hits: &[(usize, isize, u8)]) -> Vec<u8> {
    let block = kernel::CHUNK;
    let mut input = Vec::new();
    let sized = |input: &mut Vec<u8>, len: usize| {
        input.extend(letters(len.saturating_sub(2)));
        input.extend_from_slice(&b"\r\n"[2usize.saturating_sub(len)..]);
    };
    for segment in segments {
        match *segment {
            Segment::Clean(len) => {
                input.extend(letters(len));
                input.extend_from_slice(b"\r\n");
            }
            Segment::Sized(len) => sized(&mut input, len),
            Segment::BlockRelative(delta) => {
                let len = (2 * block).saturating_add_signed(delta).min(3000);
                sized(&mut input, len);
            }
            Segment::Raw(bytes) => input.extend_from_slice(bytes),
        }
    }
    for &(k, delta, octet) in hits {
        if let Some(at) = (k * block).checked_add_signed(delta)
            && let Some(slot) = input.get_mut(at)
        {
            *slot = octet;
        }
    }
    input.extend_from_slice(b".\r\n");
    input
}

/// `offset` octets of short CR LF lines ("\r\n" and "a\r\n"), then a line of `len`
/// octets (CR LF included), then short lines, then the terminator.
fn line_at(offset: usize, len: usize) -> Vec<u8> {
    let mut input = Vec::new();
    let mut left = offset;
    while left > 0 {
        let line: &[u8] = if left % 2 == 1 { b"a\r\n" } else { b"\r\n" };
        input.extend_from_slice(line);
        left -= line.len();
    }
    input.extend(letters(len - 2));
    input.extend_from_slice(b"\r\n");
    for _ in 0..80 {
        input.extend_from_slice(b"ab\r\n");
    }
    input.extend_from_slice(b".\r\n");
    input
}

#[test]
#[cfg_attr(
    miri,
    ignore = "thousands of decodes: slow under Miri; cargo test runs it natively"
)]
fn line_just_over_the_limit_is_flagged_at_every_chunk_alignment() {
    let limits = (4..=40).chain([63, 64, 65, 100, 511, 512, 513, 1000, 1001]);
    for max in limits {
        for offset in (0..=2 * kernel::CHUNK + 2).filter(|&offset| offset != 1) {
            for (len, long) in [(max, false), (max + 1, true)] {
                let input = line_at(offset, len);
                let expected = if long { LONG } else { NO_FLAGS };
                let decoded = decode_whole(STRICT, max, &input);
                assert_eq!(
                    decoded.flags, expected,
                    "max {max} offset {offset} len {len}"
                );
                assert_eq!(decoded.end_of_data, Some(input.len()));
                let cut = decode_split(NORMALIZE, max, &input, &[offset + len / 2]);
                assert_eq!(
                    cut.flags, expected,
                    "max {max} offset {offset} len {len} cut"
                );
                let mut scanner = ContentScanner::new(max);
                scanner.scan(&input[..input.len() - 3]);
                scanner.finish();
                assert_eq!(scanner.flags(), expected, "scanner {max} {offset} {len}");
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    #[cfg_attr(miri, ignore = "proptest: thousands of cases; Miri runs the unit tests")]
    fn decoding_is_split_invariant(
        policy in any_policy(),
        max in 0usize..12,
        input in prop::collection::vec(smtp_octet(), 0..200),
        picks in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let whole = decode_whole(policy, max, &input);
        prop_assert_eq!(&decode_bytewise(policy, max, &input), &whole);
        prop_assert_eq!(&decode_split(policy, max, &input, &cuts(input.len(), &picks)), &whole);
    }

    #[test]
    #[cfg_attr(miri, ignore = "proptest: thousands of cases; Miri runs the unit tests")]
    fn decoding_matches_reference(
        policy in any_policy(),
        max in 0usize..12,
        input in prop::collection::vec(smtp_octet(), 0..200),
        picks in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let decoded = decode_split(policy, max, &input, &cuts(input.len(), &picks));
        prop_assert_eq!(decoded, reference::decode(policy, max, &input));
    }

    #[test]
    #[cfg_attr(miri, ignore = "proptest: thousands of cases; Miri runs the unit tests")]
    fn end_of_data_offset_does_not_depend_on_policy(
        input in prop::collection::vec(smtp_octet(), 0..200),
    ) {
        prop_assert_eq!(
            decode_whole(STRICT, 1000, &input).end_of_data,
            decode_whole(NORMALIZE, 1000, &input).end_of_data
        );
    }

    #[test]
    #[cfg_attr(miri, ignore = "proptest: thousands of cases; Miri runs the unit tests")]
    fn scanner_is_split_invariant_and_matches_reference(
        max in 0usize..12,
        input in prop::collection::vec(smtp_octet(), 0..200),
        picks in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let mut scanner = scan_split(max, &input, &cuts(input.len(), &picks));
        scanner.finish();
        prop_assert_eq!(scanner.flags(), reference::scan(max, &input));
    }

    #[test]
    #[cfg_attr(miri, ignore = "proptest: thousands of cases; Miri runs the unit tests")]
    fn long_content_decodes_like_the_reference(
        policy in any_policy(),
        max in line_limit(),
        segments in prop::collection::vec(segment(), 20..70),
        hits in prop::collection::vec(boundary_hit(), 0..4),
        picks in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let input = long_content(&segments, &hits);
        let expected = reference::decode(policy, max, &input);
        let cuts = cuts(input.len(), &picks);
        prop_assert_eq!(&decode_whole(policy, max, &input), &expected);
        prop_assert_eq!(&decode_split(policy, max, &input, &cuts), &expected);
    }

    #[test]
    #[cfg_attr(miri, ignore = "proptest: thousands of cases; Miri runs the unit tests")]
    fn long_content_decodes_like_the_reference_bytewise(
        policy in any_policy(),
        max in line_limit(),
        segments in prop::collection::vec(segment(), 10..40),
        hits in prop::collection::vec(boundary_hit(), 0..3),
    ) {
        let input = long_content(&segments, &hits);
        prop_assert_eq!(decode_bytewise(policy, max, &input), reference::decode(policy, max, &input));
    }

    #[test]
    #[cfg_attr(miri, ignore = "proptest: thousands of cases; Miri runs the unit tests")]
    fn long_content_scans_like_the_reference(
        max in line_limit(),
        segments in prop::collection::vec(segment(), 20..70),
        hits in prop::collection::vec(boundary_hit(), 0..4),
        picks in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let input = long_content(&segments, &hits);
        let expected = reference::scan(max, &input);
        for cuts in [Vec::new(), cuts(input.len(), &picks)] {
            let mut scanner = scan_split(max, &input, &cuts);
            scanner.finish();
            prop_assert_eq!(scanner.flags(), expected);
        }
    }

    #[test]
    #[cfg_attr(miri, ignore = "proptest: thousands of cases; Miri runs the unit tests")]
    fn arbitrary_bytes_never_panic(
        policy in any_policy(),
        max in any::<usize>(),
        input in prop::collection::vec(any::<u8>(), 0..512),
        picks in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let cuts = cuts(input.len(), &picks);
        let _ = decode_split(policy, max, &input, &cuts);
        let mut scanner = scan_split(max, &input, &cuts);
        scanner.finish();
        let _ = scanner.flags();
    }
}
