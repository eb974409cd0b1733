//! The x86_64 classifications (SSE2, AVX2, AVX-512BW): the crate's only `unsafe` code.
//!
//! Soundness rests on one rule: a value of [`Sse2`], [`Avx2`] or [`Avx512`] exists only after run-time
//! detection found the CPU features its code needs (their field is private and `detect` is
//! their only constructor). Every intrinsic call and every `#[target_feature]` entry point is
//! reached only through such a value. Loads read exactly one `[u8; 64]` that the caller
//! borrows, unaligned. The portable kernel is the oracle: `kernel::tests` runs every kernel
//! this CPU has against it, as does the `content_kernels` fuzz target through the public API.
#![allow(unsafe_code)]

use std::arch::x86_64::{
    __m128i, __m256i, __m512i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
    _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_set1_epi8,
    _mm512_cmpeq_epi8_mask, _mm512_loadu_si512, _mm512_set1_epi8,
};

use super::{CHUNK, Classify, ContentFlags, DotSink, LineLength, Masks, Outcome, State, run};

/// Proof that the CPU has SSE2 (all x86_64 CPUs do; detected all the same, so that every
/// kernel follows the one rule).
#[derive(Clone, Copy, Debug)]
pub(super) struct Sse2(());

impl Sse2 {
    /// `Some` if and only if the CPU has SSE2.
    pub(super) fn detect() -> Option<Self> {
        std::arch::is_x86_feature_detected!("sse2").then_some(Self(()))
    }
}

impl Classify for Sse2 {
    #[inline(always)]
    fn classify(self, chunk: &[u8; CHUNK]) -> Masks {
        // SAFETY: `self` proves the CPU has SSE2 (see the module comment). The four loads
        // read 16 octets each at offsets 0, 16, 32 and 48 of `chunk`'s 64; `loadu` has no
        // alignment requirement.
        unsafe {
            let quarter = |at: usize| _mm_loadu_si128(chunk.as_ptr().add(at).cast::<__m128i>());
            let quarters = [quarter(0), quarter(16), quarter(32), quarter(48)];
            let mask = |octet: u8| {
                let class = _mm_set1_epi8(octet as i8);
                quarters
                    .iter()
                    .enumerate()
                    .fold(0u64, |mask, (k, &quarter)| {
                        let bits = _mm_movemask_epi8(_mm_cmpeq_epi8(quarter, class)) as u16;
                        mask | u64::from(bits) << (16 * k)
                    })
            };
            Masks {
                cr: mask(b'\r'),
                lf: mask(b'\n'),
                nul: mask(0),
                dot: mask(b'.'),
            }
        }
    }
}

/// Proof that the CPU has AVX2, BMI1 and LZCNT (every AVX2 CPU has the other two; the
/// kernel counts zeros with them).
#[derive(Clone, Copy, Debug)]
pub(super) struct Avx2(());

impl Avx2 {
    /// `Some` if and only if the CPU has AVX2, BMI1 and LZCNT.
    pub(super) fn detect() -> Option<Self> {
        (std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("bmi1")
            && std::arch::is_x86_feature_detected!("lzcnt"))
        .then_some(Self(()))
    }
}

impl Classify for Avx2 {
    #[inline(always)]
    fn classify(self, chunk: &[u8; CHUNK]) -> Masks {
        // SAFETY: `self` proves the CPU has AVX2 (see the module comment). Both loads read
        // 32 octets inside `chunk` (offsets 0 and 32 of 64); `loadu` has no alignment
        // requirement.
        unsafe {
            let low = _mm256_loadu_si256(chunk.as_ptr().cast::<__m256i>());
            let high = _mm256_loadu_si256(chunk.as_ptr().add(32).cast::<__m256i>());
            let mask = |octet: u8| {
                let class = _mm256_set1_epi8(octet as i8);
                let low = _mm256_movemask_epi8(_mm256_cmpeq_epi8(low, class)) as u32;
                let high = _mm256_movemask_epi8(_mm256_cmpeq_epi8(high, class)) as u32;
                u64::from(low) | u64::from(high) << 32
            };
            Masks {
                cr: mask(b'\r'),
                lf: mask(b'\n'),
                nul: mask(0),
                dot: mask(b'.'),
            }
        }
    }
}

/// Proof that the CPU has AVX-512F, AVX-512BW, BMI1 and LZCNT.
#[derive(Clone, Copy, Debug)]
pub(super) struct Avx512(());

impl Avx512 {
    /// `Some` if and only if the CPU has AVX-512F, AVX-512BW, BMI1 and LZCNT.
    pub(super) fn detect() -> Option<Self> {
        (std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("bmi1")
            && std::arch::is_x86_feature_detected!("lzcnt"))
        .then_some(Self(()))
    }
}

impl Classify for Avx512 {
    #[inline(always)]
    fn classify(self, chunk: &[u8; CHUNK]) -> Masks {
        // SAFETY: `self` proves the CPU has AVX-512F and AVX-512BW (see the module comment).
        // The load reads the 64 octets of `chunk`; `loadu` has no alignment requirement.
        unsafe {
            let octets = _mm512_loadu_si512(chunk.as_ptr().cast::<__m512i>());
            let mask = |octet: u8| _mm512_cmpeq_epi8_mask(octets, _mm512_set1_epi8(octet as i8));
            Masks {
                cr: mask(b'\r'),
                lf: mask(b'\n'),
                nul: mask(0),
                dot: mask(b'.'),
            }
        }
    }
}

/// The entry point of one kernel: `$scan` takes the token that proves the CPU features and
/// calls `$run`, [`run`] compiled with those features (so the classification inlines with
/// them).
macro_rules! entry_point {
    ($token:ident, $features:literal, $run:ident, $scan:ident) => {
        #[doc = concat!("[`run`] compiled for ", stringify!($token), ".")]
        #[target_feature(enable = $features)]
        fn $run<S: DotSink, const DOTS: bool, const BARE_LF_STOPS: bool>(
            token: $token,
            input: &[u8],
            state: State,
            line: &mut LineLength,
            flags: &mut ContentFlags,
            sink: &mut S,
        ) -> Outcome {
            run::<$token, S, DOTS, BARE_LF_STOPS>(token, input, state, line, flags, sink)
        }

        #[doc = concat!("The ", stringify!($token), " kernel; `token` proves the CPU can run it.")]
        pub(super) fn $scan<S: DotSink, const DOTS: bool, const BARE_LF_STOPS: bool>(
            token: $token,
            input: &[u8],
            state: State,
            line: &mut LineLength,
            flags: &mut ContentFlags,
            sink: &mut S,
        ) -> Outcome {
            // SAFETY: `token` exists only if its `detect` found every feature in `$features`,
            // all `$run` enables.
            unsafe { $run::<S, DOTS, BARE_LF_STOPS>(token, input, state, line, flags, sink) }
        }
    };
}

entry_point!(Sse2, "sse2", run_sse2, scan_sse2);
entry_point!(Avx2, "avx2,bmi1,lzcnt", run_avx2, scan_avx2);
entry_point!(
    Avx512,
    "avx512f,avx512bw,bmi1,lzcnt",
    run_avx512,
    scan_avx512
);
