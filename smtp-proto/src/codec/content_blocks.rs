//! The block kernel behind the fast path of [`super::data`]: finds, in one pass that never
//! stops per line, how far message content holds nothing the exact per-line walk must look
//! at.
//!
//! Each position `i` of the content is looked at together with the octet after it. Position
//! `i` is an *anomaly* when
//! - it is a CR not followed by LF, or it is followed by an LF but is not a CR (a bare CR,
//!   a bare LF; RFC 5321 §2.3.8),
//! - it is a NUL (RFC 5322 §3.5),
//! - with `DOTS` (DATA, not BDAT), it is an LF followed by "." (a line starting with a dot:
//!   stuffing or end-of-data, RFC 5321 §4.5.2).
//!
//! The vector steps test the dot case one position earlier, as a CR whose second next octet
//! is "." (a third load instead of a fourth compare): where CR and LF pair up, which the same
//! step checks, both say the same.
//!
//! Content is cut into blocks of `block` octets (a block needs `block + 2` octets: the
//! lookahead of its last positions is in the next block). A block is *clean* when it has no
//! anomaly and at least one CR (which, having no anomaly, is followed by LF: a line ending).
//! So within consecutive clean blocks every line ending is CR LF, no line but the first
//! starts with a dot, and two consecutive LFs are less than `2 * block` octets apart: with
//! `block <= max_line_len / 2` ([`block_len`]), no line that starts and ends there can be too
//! long (RFC 5321 §4.5.3.1.6).
//!
//! The loop over a block has no early exit and no bounds checks, so LLVM vectorises it
//! (SSE2 on x86_64, the baseline: per 16 positions three unaligned loads, `pminub` for NUL,
//! three `pcmpeqb`, `pxor`, `pand`, three `por`).

/// Largest block. The accumulators are masks (OR, AND, min), which cannot overflow, so any
/// size works; 256 keeps the re-scan of a dirty block short and is a multiple of [`LANES`].
const MAX_BLOCK: usize = 256;

/// Octets looked at per vector step.
const LANES: usize = 16;

/// Block size for the line limit `max_line_len` (octets, CR LF included): at most half of it,
/// so that the LFs of two consecutive clean blocks delimit an acceptable line, and a multiple
/// of [`LANES`] when that is possible. Zero (no fast path) when the limit is below 2.
pub(super) fn block_len(max_line_len: usize) -> usize {
    let half = (max_line_len / 2).min(MAX_BLOCK);
    if half >= LANES {
        half - half % LANES
    } else {
        half
    }
}

/// Length `v` of the prefix of `content` that the exact walk may skip: every position before
/// `v` is no anomaly (so its follower, up to `content[v]`, was looked at too; an LF at `v`
/// may be followed by "."), and any two consecutive LFs in `content[1..=v]` are less than
/// `2 * block` octets apart, the first one at most at `block`.
///
/// Whole clean blocks are consumed first; then the first block that is not clean (or the
/// part of a block left at the end of `content`) is searched for its first anomaly, or, if it
/// has none and no CR, is taken whole. Zero when `block` is zero.
///
/// `content[0]` must not be an LF: whether its CR comes before it is not known here, and an
/// LF first in a block is checked (for a "." after it) only by the block before.
pub(super) fn skippable<const DOTS: bool>(content: &[u8], block: usize) -> usize {
    if block == 0 {
        return 0;
    }
    let run = if block.is_multiple_of(LANES) {
        clean_blocks_by_chunks::<DOTS>(content, block / LANES)
    } else {
        let mut run = 0;
        while let Some(window) = content.get(run..run + block + 2)
            && is_clean::<DOTS>(window)
        {
            run += block;
        }
        run
    };
    // The run stopped at a block that is not clean, or at one that does not fit.
    match content.get(run..run + block + 2) {
        Some(window) => run + anomaly_free::<DOTS>(window, block),
        None => {
            let tail = content.get(run..).unwrap_or_default();
            run + anomaly_free::<DOTS>(tail, tail.len().saturating_sub(1))
        }
    }
}

/// The common case of [`skippable`]'s run of clean blocks, for blocks of `chunks_per_block`
/// whole [`LANES`]-octet chunks: the three lanes are cut into chunks once, each block is a
/// sub-range of them. Returns the octets of the clean blocks at the start of `content`: it
/// stops at the first block that is not clean or that does not fit (`block + 2` octets), as
/// the generic loop of [`skippable`] does.
fn clean_blocks_by_chunks<const DOTS: bool>(content: &[u8], chunks_per_block: usize) -> usize {
    let (octets, followers, seconds) = lanes(content, content.len());
    let (octet_chunks, _) = octets.as_chunks::<LANES>();
    let (follower_chunks, _) = followers.as_chunks::<LANES>();
    let (second_chunks, _) = seconds.as_chunks::<LANES>();
    let mut done = 0;
    loop {
        let end = done + chunks_per_block;
        let (Some(octets), Some(followers), Some(seconds)) = (
            octet_chunks.get(done..end),
            follower_chunks.get(done..end),
            second_chunks.get(done..end),
        ) else {
            break;
        };
        if !chunks_are_clean::<DOTS>(octets, followers, seconds, true) {
            break;
        }
        done = end;
    }
    done * LANES
}

/// [`is_clean`] for whole chunks: no anomaly, and at least one CR in them if `need_cr`.
#[inline(always)]
fn chunks_are_clean<const DOTS: bool>(
    octets: &[[u8; LANES]],
    followers: &[[u8; LANES]],
    seconds: &[[u8; LANES]],
    need_cr: bool,
) -> bool {
    let mut bad = [0u8; LANES];
    let mut lowest = [u8::MAX; LANES];
    let mut cr = [0u8; LANES];
    for ((octets, followers), seconds) in octets.iter().zip(followers).zip(seconds) {
        for lane in 0..LANES {
            let octet = octets[lane];
            let is_cr = octet == b'\r';
            lowest[lane] = lowest[lane].min(octet);
            bad[lane] |= byte_mask(
                (is_cr != (followers[lane] == b'\n')) | (DOTS & is_cr & (seconds[lane] == b'.')),
            );
            cr[lane] |= byte_mask(is_cr);
        }
    }
    for lane in 0..LANES {
        bad[lane] |= byte_mask(lowest[lane] == 0);
    }
    (u128::from_ne_bytes(bad) == 0) & (!need_cr | (u128::from_ne_bytes(cr) != 0))
}

/// Whether position `octet`, followed by `follower`, is an anomaly (the dot check in its
/// own terms: an LF followed by ".").
#[inline(always)]
fn anomaly<const DOTS: bool>(octet: u8, follower: u8) -> bool {
    ((octet == b'\r') != (follower == b'\n'))
        | (octet == 0)
        | (DOTS & (octet == b'\n') & (follower == b'.'))
}

/// The first `positions` octets of `window`, their followers and the octets two on, as
/// three equal-length slices (shorter if `window` lacks octets).
fn lanes(window: &[u8], positions: usize) -> (&[u8], &[u8], &[u8]) {
    let len = positions.min(window.len().saturating_sub(2));
    let octets = window.get(..len).unwrap_or_default();
    let followers = window.get(1..len + 1).unwrap_or_default();
    let seconds = window.get(2..len + 2).unwrap_or_default();
    (octets, followers, seconds)
}

/// `0xFF` for true, `0` for false: the form a vector compare produces, so that LLVM keeps
/// the lanes as byte masks.
#[inline(always)]
fn byte_mask(condition: bool) -> u8 {
    if condition { 0xFF } else { 0 }
}

/// Whether the block `window[..len - 2]` (lookahead `window[len - 2..]`) is clean: no
/// anomaly, at least one CR. Branch-free over the block: byte-mask accumulators, reduced
/// once at the end (a NUL is found as a lane minimum of 0).
fn is_clean<const DOTS: bool>(window: &[u8]) -> bool {
    let (octets, followers, seconds) = lanes(window, window.len());
    let (octet_chunks, octet_tail) = octets.as_chunks::<LANES>();
    let (follower_chunks, follower_tail) = followers.as_chunks::<LANES>();
    let (second_chunks, second_tail) = seconds.as_chunks::<LANES>();
    let mut clean = true;
    let mut line_end = false;
    let tail = octet_tail.iter().zip(follower_tail).zip(second_tail);
    for ((&octet, &follower), &second) in tail {
        let is_cr = octet == b'\r';
        clean &= (is_cr == (follower == b'\n')) & (octet != 0) & !(DOTS & is_cr & (second == b'.'));
        line_end |= is_cr;
    }
    if octet_chunks.is_empty() {
        // Without an anomaly every CR is followed by LF.
        return clean & line_end;
    }
    let chunks = (octet_chunks, follower_chunks, second_chunks);
    // A CR in the tail is enough; then the chunks only need to be anomaly-free.
    let line_end_in_chunks = !line_end;
    clean & chunks_are_clean::<DOTS>(chunks.0, chunks.1, chunks.2, line_end_in_chunks)
}

/// Number of leading positions among the first `positions` of `window` that are no anomaly
/// (each position needs its follower in `window`): [`LANES`] positions at a time, then one
/// by one for the rest.
///
/// A vector step tests a dot line at the CR two octets before the "." (as [`is_clean`]
/// does), that is one lane before the LF it is an anomaly of: the first anomaly is the lowest
/// lane of the little-endian CR/LF/NUL mask, or one more than the lowest lane of the dot
/// mask.
fn anomaly_free<const DOTS: bool>(window: &[u8], positions: usize) -> usize {
    let (octets, followers, seconds) = lanes(window, positions);
    let (octet_chunks, _) = octets.as_chunks::<LANES>();
    let (follower_chunks, _) = followers.as_chunks::<LANES>();
    let (second_chunks, _) = seconds.as_chunks::<LANES>();
    let mut from = 0;
    let chunks = octet_chunks.iter().zip(follower_chunks).zip(second_chunks);
    for ((octets, followers), seconds) in chunks {
        let mut bare = [0u8; LANES];
        let mut dot = [0u8; LANES];
        for lane in 0..LANES {
            let octet = octets[lane];
            let is_cr = octet == b'\r';
            bare[lane] = byte_mask((is_cr != (followers[lane] == b'\n')) | (octet == 0));
            dot[lane] = byte_mask(DOTS & is_cr & (seconds[lane] == b'.'));
        }
        let (bare, dot) = (u128::from_le_bytes(bare), u128::from_le_bytes(dot));
        if bare | dot != 0 {
            let first_bare = (bare.trailing_zeros() / 8) as usize;
            let first_dot = (dot.trailing_zeros() / 8) as usize + 1;
            return from + first_bare.min(first_dot);
        }
        from += LANES;
    }
    let end = positions.min(window.len().saturating_sub(1));
    (from..end)
        .find(|&at| {
            let octet = window.get(at).copied().unwrap_or_default();
            let follower = window.get(at + 1).copied().unwrap_or_default();
            anomaly::<DOTS>(octet, follower)
        })
        .unwrap_or(end.max(from))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Obviously-correct [`skippable`]: position by position, block by block.
    fn skippable_reference(content: &[u8], dots: bool, block: usize) -> usize {
        if block == 0 {
            return 0;
        }
        let bad = |i: usize| {
            let (octet, follower) = (content[i], content[i + 1]);
            (octet == b'\r') != (follower == b'\n')
                || octet == 0
                || (dots && octet == b'\n' && follower == b'.')
        };
        let mut run = 0;
        while run + block + 1 < content.len()
            && (run..run + block).all(|i| !bad(i))
            && content[run..run + block].contains(&b'\r')
        {
            run += block;
        }
        let mut at = run;
        while at + 1 < content.len() && at < run + block && !bad(at) {
            at += 1;
        }
        at
    }

    fn check(content: &[u8], block: usize) {
        assert_eq!(
            skippable::<true>(content, block),
            skippable_reference(content, true, block),
            "DATA {content:?} block {block}"
        );
        assert_eq!(
            skippable::<false>(content, block),
            skippable_reference(content, false, block),
            "BDAT {content:?} block {block}"
        );
    }

    #[test]
    fn block_len_is_half_the_limit_capped_and_rounded() {
        assert_eq!(block_len(0), 0);
        assert_eq!(block_len(1), 0);
        assert_eq!(block_len(2), 1);
        assert_eq!(block_len(31), 15);
        assert_eq!(block_len(33), 16);
        assert_eq!(block_len(100), 48);
        assert_eq!(block_len(1000), 256);
        assert_eq!(block_len(usize::MAX), 256);
    }

    #[test]
    fn small_cases() {
        // Block 4: "ab\r\n" + lookahead.
        assert_eq!(skippable::<true>(b"ab\r\nc", 4), 4);
        assert_eq!(
            skippable::<true>(b"ab\r\n", 4),
            3,
            "no lookahead for the LF"
        );
        assert_eq!(
            skippable::<true>(b"abcdef", 4),
            4,
            "no CR: the block is taken whole"
        );
        assert_eq!(
            skippable::<true>(b"a\r\n.bc", 3),
            2,
            "the LF before the dot"
        );
        assert_eq!(skippable::<false>(b"a\r\n.bc", 3), 5, "no dots in BDAT");
        assert_eq!(skippable::<true>(b"a\rb\r\nx", 5), 1, "bare CR");
        assert_eq!(skippable::<true>(b"a\nb\r\nx", 5), 0, "bare LF");
        assert_eq!(skippable::<true>(b"a\0b\r\nx", 5), 1, "NUL");
        assert_eq!(skippable::<true>(b"abc\r\n.x\r\nyy", 4), 4);
        assert_eq!(skippable::<true>(b"abc\rx", 4), 3);
        assert_eq!(skippable::<true>(b"abc\r\n", 0), 0);
    }

    #[test]
    fn anomalies_everywhere_in_long_content() {
        let line =
            b"0123456789abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ01\r\n";
        let content = line.repeat(12);
        for block in [1, 2, 3, 15, 16, 17, 48, 64, 255, 256] {
            check(&content, block);
            for at in (0..content.len())
                .step_by(7)
                .chain([0, 1, 75, 76, 77, 255, 256, 257])
            {
                for anomaly in [b'\r', b'\n', 0, b'.'] {
                    let mut changed = content.clone();
                    changed[at] = anomaly;
                    check(&changed, block);
                    check(&changed[..at + 1], block);
                }
            }
        }
    }
}
