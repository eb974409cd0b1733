//! The content kernel: one pass over message content, 64 octets at a time, that finds where
//! a [`DotDecoder`](super::DotDecoder) piece must end and everything the flags and the line
//! limit need on the way, without ever looking at an octet twice.
//!
//! Each 64-octet chunk is first *classified*: four 64-bit masks, one bit per octet, for CR,
//! LF, NUL and ".". Everything else is arithmetic on those masks, with two bits carried from
//! one chunk to the next (was the octet before the chunk a CR, and did it end a line):
//!
//! - `cr_before = cr << 1 | carry`: the octet before is a CR;
//! - `ends = lf & cr_before`: the LFs that end a line (RFC 5321 §2.3.8: CR LF only);
//! - `starts = ends << 1 | carry`: the octets that begin a line;
//! - a *stop* is a "." that begins a line (stuffing or end-of-data, RFC 5321 §4.5.2), and
//!   in Normalize mode also a bare LF: the piece ends there;
//! - `cr_before ^ lf` marks a bare LF where it is, and a bare CR one octet after it; with
//!   `nul`, these are the *anomalies*, which only set flags.
//!
//! A chunk with no stop and no anomaly costs the classification, a dozen integer operations
//! and the line check; a stuffed dot costs finding its bit. Only the chunk with the first stop
//! looks at bits below it, and nothing is re-scanned.
//!
//! Lines: within one chunk two line ends are less than 64 octets apart, so with a limit of
//! 64 or more only the first line end of a chunk can end a long line (its start is carried);
//! below that every line end of the chunk is checked.
//!
//! Classification is the only part that differs between [`Kernel`]s: [`Portable`] here (the
//! reference, and what runs under Miri and off x86_64), SSE2, AVX2 and AVX-512 in [`x86`], the
//! crate's only `unsafe` code. The differential tests run every kernel this CPU has against
//! the portable one.

use super::{ContentFlags, LineLength};

#[cfg(all(target_arch = "x86_64", not(miri)))]
mod x86;

/// Octets classified per step.
pub(super) const CHUNK: usize = 64;

/// Which implementation of the content kernel decodes DATA and scans BDAT content.
///
/// [`Kernel::detect`] picks the fastest one this CPU has, and decoders use it unless told
/// otherwise ([`DotDecoder::with_kernel`](super::DotDecoder::with_kernel)). All kernels give
/// the same result for every input, which the tests and the `content_kernels` fuzz target
/// check; choosing one only matters for measuring them, or to rule one out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Kernel {
    /// Safe Rust, eight octets at a time in a `u64`. The reference for the others; runs
    /// everywhere (and is what targets other than x86_64 run).
    Portable,
    /// x86_64 SSE2 (every x86_64 CPU has it): four 16-octet compares per class.
    Sse2,
    /// x86_64 AVX2: two 32-octet compares per class.
    Avx2,
    /// x86_64 AVX-512BW: one 64-octet compare per class, straight into a mask register.
    Avx512,
}

impl Kernel {
    /// Every kernel, fastest last.
    pub const ALL: [Self; 4] = [Self::Portable, Self::Sse2, Self::Avx2, Self::Avx512];

    /// The fastest kernel this CPU has (checked at run time, once per call: the standard
    /// library caches the CPU's answer).
    pub fn detect() -> Self {
        Self::ALL
            .into_iter()
            .rev()
            .find(|kernel| kernel.is_available())
            .unwrap_or(Self::Portable)
    }

    /// Whether this CPU can run the kernel. A decoder told to use a kernel the CPU lacks
    /// uses [`Self::Portable`] instead.
    pub fn is_available(self) -> bool {
        match self {
            Self::Portable => true,
            #[cfg(all(target_arch = "x86_64", not(miri)))]
            Self::Sse2 => x86::Sse2::detect().is_some(),
            #[cfg(all(target_arch = "x86_64", not(miri)))]
            Self::Avx2 => x86::Avx2::detect().is_some(),
            #[cfg(all(target_arch = "x86_64", not(miri)))]
            Self::Avx512 => x86::Avx512::detect().is_some(),
            #[cfg(not(all(target_arch = "x86_64", not(miri))))]
            _ => false,
        }
    }

    /// This kernel if the CPU has it, else [`Kernel::Portable`].
    pub(super) fn or_portable(self) -> Self {
        if self.is_available() {
            self
        } else {
            Self::Portable
        }
    }

    /// The available kernels, portable first.
    pub fn available() -> impl Iterator<Item = Self> {
        Self::ALL.into_iter().filter(|kernel| kernel.is_available())
    }
}

/// One bit per octet of a chunk (bit `i` is octet `i`), for each class the kernel needs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Masks {
    pub(super) cr: u64,
    pub(super) lf: u64,
    pub(super) nul: u64,
    pub(super) dot: u64,
}

/// A way to classify a chunk. Implementors that need CPU features can only be had from a
/// detection that found them (see [`x86`]).
pub(super) trait Classify: Copy {
    /// The masks of `chunk`.
    fn classify(self, chunk: &[u8; CHUNK]) -> Masks;
}

/// The portable classification: eight octets at a time in a `u64` (SWAR), exact per octet.
#[derive(Clone, Copy, Debug)]
pub(super) struct Portable;

/// `0x01` in every octet of a word.
const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
/// `0x7F` in every octet of a word.
const LOW7: u64 = ONES * 0x7F;
/// `0x80` in every octet of a word.
const HIGH: u64 = ONES * 0x80;

/// The high bit of each octet of `word` that equals `class` (no false positives: the low
/// seven bits are added without carrying into the next octet).
#[inline(always)]
fn equal_octets(word: u64, class: u8) -> u64 {
    let diff = word ^ (ONES * u64::from(class));
    !(((diff & LOW7) + LOW7) | diff) & HIGH
}

/// The eight high bits of `high` (one per octet) packed into the low octet, in octet order:
/// the multiplication moves octet `k`'s bit to bit `56 + k`, and no two partial products
/// meet, so nothing carries.
#[inline(always)]
fn pack(high: u64) -> u64 {
    ((high >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56
}

impl Classify for Portable {
    #[inline(always)]
    fn classify(self, chunk: &[u8; CHUNK]) -> Masks {
        let mut masks = Masks::default();
        let (words, _) = chunk.as_chunks::<8>();
        for (k, word) in words.iter().enumerate() {
            let word = u64::from_le_bytes(*word);
            let shift = 8 * k;
            masks.cr |= pack(equal_octets(word, b'\r')) << shift;
            masks.lf |= pack(equal_octets(word, b'\n')) << shift;
            masks.nul |= pack(equal_octets(word, 0)) << shift;
            masks.dot |= pack(equal_octets(word, b'.')) << shift;
        }
        masks
    }
}

/// Where a scan ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Stop {
    /// A "." at this index begins a line (after a CR LF this scan saw).
    Dot(usize),
    /// Normalize mode: the LF at this index is not preceded by CR. It is not flagged.
    BareLf(usize),
    /// The input ended.
    End,
}

/// Told of each stuffing dot a scan may go past (RFC 5321 §4.5.2: a "." beginning a line that
/// is not "." CR LF is removed): `true` lets the scan go on after it, `false` makes it stop
/// there with [`Stop::Dot`]. Only dots whose next octet is in the input and says so (not CR,
/// nor a Normalize-mode LF) are offered, and only with a line limit of at least a chunk.
pub(super) trait DotSink {
    /// The stuffing dot at index `at`.
    fn stuffing_dot(&mut self, at: usize) -> bool;
}

/// Stops at every dot: one piece per call.
impl DotSink for () {
    #[inline(always)]
    fn stuffing_dot(&mut self, _at: usize) -> bool {
        false
    }
}

/// The result of [`scan`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Outcome {
    /// Where and why it stopped.
    pub(super) stop: Stop,
    /// Index where the current line began, for its length: after the last CR LF before the
    /// stop (or the end), else the scan's `start`, and after its stuffing dot if the scan
    /// went past one. Octets of that line before `start` are in `LineLength::so_far`.
    pub(super) line_begin: usize,
}

/// Scans `input[start..]` with `kernel` up to the first stop: a "." beginning a line when
/// `DOTS` (DATA), a bare LF when `BARE_LF_STOPS` (Normalize). `after_cr` says the octet just
/// before `start` (in this input or an earlier one) is a CR.
///
/// Before the stop (or the end of input): bare CR (a CR followed by something else than LF;
/// a CR that is the last octet is left to the caller), bare LF and NUL set their flags, and
/// every line that ends (at CR LF) is added to `line` and checked against its limit.
pub(super) fn scan<S: DotSink, const DOTS: bool, const BARE_LF_STOPS: bool>(
    kernel: Kernel,
    input: &[u8],
    start: usize,
    after_cr: bool,
    line: &mut LineLength,
    flags: &mut ContentFlags,
    sink: &mut S,
) -> Outcome {
    let state = State::new(start, after_cr, line);
    match kernel {
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        Kernel::Avx512 => {
            if let Some(avx512) = x86::Avx512::detect() {
                return x86::scan_avx512::<S, DOTS, BARE_LF_STOPS>(
                    avx512, input, state, line, flags, sink,
                );
            }
        }
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        Kernel::Sse2 => {
            if let Some(sse2) = x86::Sse2::detect() {
                return x86::scan_sse2::<S, DOTS, BARE_LF_STOPS>(
                    sse2, input, state, line, flags, sink,
                );
            }
        }
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        Kernel::Avx2 => {
            if let Some(avx2) = x86::Avx2::detect() {
                return x86::scan_avx2::<S, DOTS, BARE_LF_STOPS>(
                    avx2, input, state, line, flags, sink,
                );
            }
        }
        _ => {}
    }
    run::<Portable, S, DOTS, BARE_LF_STOPS>(Portable, input, state, line, flags, sink)
}

/// What is carried from one chunk to the next: the position, the two carry bits, the line
/// state and the flags, as locals of the loop (written back once at the end).
#[derive(Clone, Copy, Debug)]
pub(super) struct State {
    /// Index of the first octet of the next chunk.
    base: usize,
    /// Bit 0 set: the octet before `base` is a CR.
    cr: u64,
    /// Bit 0 set: the octet before `base` is an LF that ended a line.
    end: u64,
    /// Index of the last line end (LF) seen, if one was: the current line began after it.
    last_end: Option<usize>,
    /// Where the current line began when no line end was seen yet (`start`).
    start: usize,
    /// Octets of the current line before `start` (from earlier calls), then 0.
    so_far: usize,
    /// 1 when the current line began with a stuffing dot the scan went past (not counted
    /// in its length), else 0.
    dot: usize,
    /// The longest line allowed, terminator included.
    max: usize,
    /// Set when a line passed `max`.
    long_line: bool,
}

impl State {
    pub(super) fn new(start: usize, after_cr: bool, line: &LineLength) -> Self {
        Self {
            base: start,
            cr: u64::from(after_cr),
            end: 0,
            last_end: None,
            start,
            so_far: line.so_far,
            dot: 0,
            max: line.max,
            long_line: false,
        }
    }

    /// Where the current line began.
    fn line_begin(&self) -> usize {
        self.last_end.map_or(self.start, |end| end + 1)
    }

    /// The line ending at the LF at `at` (which is past `line_begin`): checked, then the
    /// next line begins after it.
    #[inline(always)]
    fn end_line(&mut self, at: usize) {
        let len = (at + 1 - self.line_begin() - self.dot).saturating_add(self.so_far);
        self.long_line |= len > self.max;
        self.so_far = 0;
        self.dot = 0;
        self.last_end = Some(at);
    }

    /// The outcome, with the line state and flags written back.
    fn finish(self, stop: Stop, line: &mut LineLength, flags: &mut ContentFlags) -> Outcome {
        line.so_far = self.so_far;
        flags.long_line |= self.long_line;
        Outcome {
            stop,
            line_begin: self.line_begin() + self.dot,
        }
    }
}

/// The kernel's loop, for one way of classifying. Inlined into each `#[target_feature]`
/// entry point, so that the classification inlines too.
#[inline(always)]
pub(super) fn run<C: Classify, S: DotSink, const DOTS: bool, const BARE_LF_STOPS: bool>(
    classes: C,
    input: &[u8],
    mut state: State,
    line: &mut LineLength,
    flags: &mut ContentFlags,
    sink: &mut S,
) -> Outcome {
    let mut seen = *flags;
    let rest = input.get(state.base..).unwrap_or_default();
    let (chunks, tail) = rest.as_chunks::<CHUNK>();
    // A line end needs checking only when the line it ends may be long: its chunk is at
    // least `max - CHUNK + 2` octets after the previous end's chunk (or it is the first
    // end, whose line began before). Short limits check every end.
    let far = state
        .max
        .checked_sub(CHUNK - 2)
        .filter(|_| state.max >= CHUNK);
    for chunk in chunks {
        let masks = classes.classify(chunk);
        let chunk = (masks, u64::MAX, far);
        if let Some(stop) =
            step::<S, DOTS, BARE_LF_STOPS>(chunk, input, &mut state, &mut seen, sink)
        {
            *flags = seen;
            return state.finish(stop, line, flags);
        }
    }
    let mut stop = Stop::End;
    if !tail.is_empty() {
        // The padding is NUL, which the valid-octet mask keeps out of every decision.
        let mut padded = [0u8; CHUNK];
        padded
            .iter_mut()
            .zip(tail)
            .for_each(|(slot, &octet)| *slot = octet);
        let valid = (1u64 << tail.len()) - 1;
        let masks = classes.classify(&padded);
        let chunk = (masks, valid, far);
        if let Some(found) =
            step::<S, DOTS, BARE_LF_STOPS>(chunk, input, &mut state, &mut seen, sink)
        {
            stop = found;
        }
    }
    *flags = seen;
    state.finish(stop, line, flags)
}

/// One chunk at `state.base`: its masks, the octets that are valid (all but in the last,
/// partial chunk), and `far` (see [`end_lines`]). Returns the stop if there is one in it;
/// stuffing dots the sink accepts are gone past.
#[inline(always)]
fn step<S: DotSink, const DOTS: bool, const BARE_LF_STOPS: bool>(
    (masks, valid, far): (Masks, u64, Option<usize>),
    input: &[u8],
    state: &mut State,
    flags: &mut ContentFlags,
    sink: &mut S,
) -> Option<Stop> {
    let base = state.base;
    let cr_before = (masks.cr << 1) | state.cr;
    let ends = masks.lf & cr_before;
    let starts = (ends << 1) | state.end;
    let bare_lf = masks.lf & !cr_before;
    let dot_stops = if DOTS { masks.dot & starts } else { 0 };
    let lf_stops = if BARE_LF_STOPS { bare_lf } else { 0 };
    let anomalies = (cr_before ^ masks.lf) | masks.nul;
    state.base = base + CHUNK;
    state.cr = masks.cr >> 63;
    state.end = ends >> 63;
    if (dot_stops | lf_stops | anomalies) & valid == 0 {
        // The common case: nothing but line ends (`valid` is never 0).
        end_lines(ends, base, far, state);
        return None;
    }
    let mut stops = (dot_stops | lf_stops) & valid;
    // Stuffing dots the sink takes are not stops (the dot is not content, and not part of
    // its line's length).
    let mut passed = None;
    while stops != 0 && far.is_some() {
        let lowest = stops & stops.wrapping_neg();
        let at = base + lowest.trailing_zeros() as usize;
        let stuffing = match input.get(at + 1) {
            None | Some(b'\r') => false,
            Some(b'\n') => !BARE_LF_STOPS,
            Some(_) => true,
        };
        if dot_stops & lowest == 0 || !stuffing || !sink.stuffing_dot(at) {
            break;
        }
        passed = Some(at);
        stops &= stops - 1;
    }
    // The octets before the first stop (all valid ones if there is none).
    let before = if stops == 0 {
        valid
    } else {
        (stops & stops.wrapping_neg()) - 1
    };
    flags.bare_lf |= bare_lf & before != 0;
    flags.bare_cr |= cr_before & !masks.lf & before != 0;
    flags.nul |= masks.nul & before != 0;
    end_lines(ends & before, base, far, state);
    if passed.is_some_and(|at| at == state.line_begin()) {
        state.dot = 1;
    }
    if stops == 0 {
        return None;
    }
    let at = base + stops.trailing_zeros() as usize;
    Some(if dot_stops & stops & stops.wrapping_neg() != 0 {
        Stop::Dot(at)
    } else {
        Stop::BareLf(at)
    })
}

/// The line ends `ends` (LF positions) of the chunk at `base`. With a limit of a chunk or
/// more (`far` is `Some`), two ends in one chunk are less than a chunk apart, so only the
/// first end can end a long line, and only if the previous end is `far` back or more; the
/// last end is where the current line begins. Shorter limits check every end.
#[inline(always)]
fn end_lines(ends: u64, base: usize, far: Option<usize>, state: &mut State) {
    if ends == 0 {
        return;
    }
    let last = base + (CHUNK - 1) - ends.leading_zeros() as usize;
    match far {
        Some(far) if state.last_end.is_some_and(|end| base - end < far) => {}
        Some(_) => state.end_line(base + ends.trailing_zeros() as usize),
        None => {
            let mut rest = ends;
            while rest != 0 {
                state.end_line(base + rest.trailing_zeros() as usize);
                rest &= rest - 1;
            }
        }
    }
    state.last_end = Some(last);
    state.so_far = 0;
    state.dot = 0;
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The masks, octet by octet, written differently from [`Portable`].
    fn masks_reference(chunk: &[u8; CHUNK]) -> Masks {
        let bits = |class: u8| {
            (0..CHUNK)
                .filter(|&i| chunk[i] == class)
                .fold(0u64, |mask, i| mask | 1 << i)
        };
        Masks {
            cr: bits(b'\r'),
            lf: bits(b'\n'),
            nul: bits(0),
            dot: bits(b'.'),
        }
    }

    fn chunk_octet() -> impl Strategy<Value = u8> {
        prop_oneof![
            4 => Just(b'a'),
            2 => Just(b'\r'),
            2 => Just(b'\n'),
            1 => Just(b'.'),
            1 => Just(0u8),
            1 => any::<u8>(),
        ]
    }

    /// Runs `scan` with every available kernel; all must agree. Returns the common result.
    fn scan_all<const DOTS: bool, const STOPS: bool>(
        input: &[u8],
        start: usize,
        after_cr: bool,
        max: usize,
        so_far: usize,
    ) -> (Outcome, LineLength, ContentFlags) {
        let mut results = Kernel::available().map(|kernel| {
            let mut line = LineLength::new(max);
            line.so_far = so_far;
            let mut flags = ContentFlags::default();
            let (line_ref, flags_ref) = (&mut line, &mut flags);
            let outcome = scan::<(), DOTS, STOPS>(
                kernel,
                input,
                start,
                after_cr,
                line_ref,
                flags_ref,
                &mut (),
            );
            (kernel, outcome, line.so_far, flags)
        });
        let (_, outcome, so_far, flags) = results.next().expect("the portable kernel");
        for (kernel, other, other_so_far, other_flags) in results {
            assert_eq!(
                (other, other_so_far, other_flags),
                (outcome, so_far, flags),
                "{kernel:?} differs from Portable on {input:?} from {start}"
            );
        }
        let mut line = LineLength::new(max);
        line.so_far = so_far;
        (outcome, line, flags)
    }

    #[test]
    fn detect_picks_an_available_kernel() {
        assert!(Kernel::detect().is_available());
        assert!(Kernel::Portable.is_available());
        assert_eq!(Kernel::available().next(), Some(Kernel::Portable));
    }

    #[test]
    fn stops_at_a_dot_that_begins_a_line() {
        let input = b"ab\r\n.c\r\n";
        let (outcome, _, flags) = scan_all::<true, false>(input, 0, false, 1000, 0);
        assert_eq!(outcome.stop, Stop::Dot(4));
        assert_eq!(outcome.line_begin, 4);
        assert_eq!(flags, ContentFlags::default());
        // In BDAT there are no stops.
        let (outcome, _, _) = scan_all::<false, false>(input, 0, false, 1000, 0);
        assert_eq!(outcome.stop, Stop::End);
        assert_eq!(outcome.line_begin, input.len());
    }

    #[test]
    fn a_dot_after_a_bare_lf_is_content_in_strict_and_a_stop_in_normalize() {
        let input = b"ab\n.c\r\n";
        let (outcome, _, flags) = scan_all::<true, false>(input, 0, false, 1000, 0);
        assert_eq!(outcome.stop, Stop::End);
        assert!(flags.bare_lf);
        let (outcome, _, flags) = scan_all::<true, true>(input, 0, false, 1000, 0);
        assert_eq!(outcome.stop, Stop::BareLf(2));
        assert!(!flags.bare_lf, "the caller flags the stop");
    }

    #[test]
    fn carried_cr_pairs_with_a_leading_lf_or_is_bare() {
        let (outcome, line, flags) = scan_all::<true, false>(b"\n.x", 0, true, 1000, 0);
        assert_eq!(outcome.stop, Stop::Dot(1));
        assert_eq!(line.so_far, 0, "the line ended");
        assert_eq!(flags, ContentFlags::default());
        let (_, _, flags) = scan_all::<true, false>(b"x\r\n", 0, true, 1000, 0);
        assert!(flags.bare_cr);
    }

    #[test]
    fn a_cr_at_the_end_is_left_to_the_caller() {
        let (outcome, line, flags) = scan_all::<true, false>(b"abc\r", 0, false, 1000, 0);
        assert_eq!(outcome.stop, Stop::End);
        assert_eq!(outcome.line_begin, 0);
        assert_eq!(line.so_far, 0, "nothing ended: the caller extends the line");
        assert_eq!(flags, ContentFlags::default());
    }

    #[test]
    fn chunk_boundaries_carry_cr_and_line_ends() {
        for at in [62, 63, 64, 65, 126, 127, 128] {
            let mut input = vec![b'a'; 200];
            input[at - 1] = b'\r';
            input[at] = b'\n';
            input[at + 1] = b'.';
            let (outcome, _, flags) = scan_all::<true, false>(&input, 0, false, 1000, 0);
            assert_eq!(outcome.stop, Stop::Dot(at + 1), "at {at}");
            assert_eq!(flags, ContentFlags::default());
            input[at] = b'x';
            let (outcome, _, flags) = scan_all::<true, false>(&input, 0, false, 1000, 0);
            assert_eq!(outcome.stop, Stop::End);
            assert!(flags.bare_cr && !flags.bare_lf, "at {at}");
        }
    }

    #[test]
    fn line_limits_are_exact_across_chunks() {
        for max in [2, 3, 63, 64, 65, 100, 1000] {
            for len in [max, max + 1] {
                for offset in [0, 1, 30, 63, 64, 65] {
                    let mut input = b"\r\n".repeat(offset / 2);
                    input.extend(std::iter::repeat_n(b'x', len - 2));
                    input.extend_from_slice(b"\r\n\r\n");
                    let (_, _, flags) = scan_all::<true, false>(&input, 0, false, max, 0);
                    assert_eq!(
                        flags.long_line,
                        len > max,
                        "max {max} len {len} at {offset}"
                    );
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
    #[cfg_attr(miri, ignore = "proptest: thousands of cases; Miri runs the unit tests")]
        fn portable_masks_are_the_octet_classes(
            octets in prop::collection::vec(chunk_octet(), CHUNK),
        ) {
            let mut chunk = [0u8; CHUNK];
            chunk.copy_from_slice(&octets);
            prop_assert_eq!(Portable.classify(&chunk), masks_reference(&chunk));
        }

        /// Every kernel stops at the same place with the same flags and line state as the
        /// portable one, from any start, with or without a carried CR, for DATA, Normalize
        /// and BDAT (`scan_all` compares them).
        #[test]
    #[cfg_attr(miri, ignore = "proptest: thousands of cases; Miri runs the unit tests")]
        fn kernels_agree(
            input in prop::collection::vec(chunk_octet(), 0..400),
            start in 0usize..70,
            after_cr: bool,
            max in prop_oneof![Just(1000usize), 1usize..130],
            so_far in 0usize..1100,
        ) {
            let start = start.min(input.len());
            scan_all::<true, false>(&input, start, after_cr, max, so_far);
            scan_all::<true, true>(&input, start, after_cr, max, so_far);
            scan_all::<false, false>(&input, start, after_cr, max, so_far);
        }
    }
}
