//! Blackhole's modes (accept, bounce, random), delays and simulated bounce replies.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use smtp_proto::{EnhancedCode, Reply};

/// What blackhole answers at the end of a message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Accept every message (250).
    #[default]
    Accept,
    /// Refuse every message with a random bounce (see [`bounce_reply`]).
    Bounce,
    /// Accept or bounce, 50/50.
    Random,
}

impl Mode {
    /// Decides one message: `Ok` accepts it, `Err` carries the bounce to send.
    pub(crate) fn decide(self) -> Result<(), Reply> {
        match self {
            Self::Accept => Ok(()),
            Self::Bounce => Err(bounce_reply()),
            Self::Random if fastrand::bool() => Ok(()),
            Self::Random => Err(bounce_reply()),
        }
    }

    /// The mode's name as on the command line.
    fn name(self) -> &'static str {
        match self {
            Self::Accept => "accept",
            Self::Bounce => "bounce",
            Self::Random => "random",
        }
    }
}

impl FromStr for Mode {
    type Err = String;

    /// Parses `accept`, `bounce` or `random`, in any case, surrounding spaces ignored.
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        [Self::Accept, Self::Bounce, Self::Random]
            .into_iter()
            .find(|mode| mode.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown mode '{s}' (expected accept, bounce or random)"))
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The longest delay accepted, in milliseconds: 10 minutes, the time an SMTP client waits
/// for the reply to the end of data (RFC 5321 §4.5.3.2.6); longer would only time out.
pub(crate) const MAX_DELAY_MS: u64 = 600_000;

/// A delay before the final reply to a message: fixed, or uniform in `min..=max`
/// (millisecond resolution).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Delay {
    /// The shortest delay.
    min: Duration,
    /// The longest delay.
    max: Duration,
}

impl Delay {
    /// No delay at all.
    pub(crate) const NONE: Self = Self {
        min: Duration::ZERO,
        max: Duration::ZERO,
    };

    /// Draws one delay, uniformly in `min..=max` milliseconds.
    pub(crate) fn pick(&self) -> Duration {
        if self.min >= self.max {
            return self.min;
        }
        let (min, max) = (millis(self.min), millis(self.max));
        Duration::from_millis(fastrand::u64(min..=max))
    }

    /// True when no delay is ever drawn.
    pub(crate) fn is_zero(&self) -> bool {
        *self == Self::NONE
    }
}

/// A duration in whole milliseconds (saturating; delays are capped far below that).
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Parses one side of a delay: a plain count of milliseconds up to [`MAX_DELAY_MS`].
fn parse_millis(s: &str) -> Result<u64, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty delay (expected MS or MIN-MAX in milliseconds)".to_owned());
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "'{s}' is not a number of milliseconds (expected MS or MIN-MAX)"
        ));
    }
    match s.parse::<u64>() {
        Ok(ms) if ms <= MAX_DELAY_MS => Ok(ms),
        _ => Err(format!(
            "delay {s} ms is too long (at most {MAX_DELAY_MS} ms)"
        )),
    }
}

impl FromStr for Delay {
    type Err = String;

    /// Parses `MS` (fixed) or `MIN-MAX` (a range), in milliseconds.
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.starts_with('-') {
            return Err(format!("negative delay '{s}'"));
        }
        let (min, max) = match s.split_once('-') {
            Some((min, max)) => (parse_millis(min)?, parse_millis(max)?),
            None => {
                let ms = parse_millis(s)?;
                (ms, ms)
            }
        };
        if min > max {
            return Err(format!("delay range {min}-{max}: MIN is greater than MAX"));
        }
        Ok(Self {
            min: Duration::from_millis(min),
            max: Duration::from_millis(max),
        })
    }
}

impl fmt::Display for Delay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (min, max) = (millis(self.min), millis(self.max));
        if min == max {
            write!(f, "{min}")
        } else {
            write!(f, "{min}-{max}")
        }
    }
}

/// Builds an enhanced code at compile time (a bad constant fails the build, not the run).
const fn enhanced(class: u8, subject: u16, detail: u16) -> EnhancedCode {
    match EnhancedCode::new(class, subject, detail) {
        Some(code) => code,
        None => panic!("invalid enhanced status code"),
    }
}

/// Blackhole's bounces: reply code, RFC 3463 enhanced code and text.
#[rustfmt::skip]
const BOUNCES: [(u16, EnhancedCode, &str); 10] = [
    (450, enhanced(4, 2, 1), "Mailbox unavailable (blackhole bounce)"),
    (451, enhanced(4, 3, 0), "Local error in processing (blackhole bounce)"),
    (452, enhanced(4, 2, 2), "Insufficient storage (blackhole bounce)"),
    (458, enhanced(4, 4, 0), "Unable to queue message (blackhole bounce)"),
    (521, enhanced(5, 3, 2), "Host does not accept mail (blackhole bounce)"),
    (550, enhanced(5, 1, 1), "No such user here (blackhole bounce)"),
    (551, enhanced(5, 1, 6), "User not local; mailbox moved (blackhole bounce)"),
    (552, enhanced(5, 2, 2), "Mailbox full (blackhole bounce)"),
    (553, enhanced(5, 1, 3), "Mailbox name not allowed (blackhole bounce)"),
    (571, enhanced(5, 7, 1), "Delivery not authorized (blackhole bounce)"),
];

/// True when `Reply::new(code, text)?.with_enhanced(e)` accepts the entry: a code in
/// 200..=599 whose first digit is the enhanced class, and printable ASCII text.
#[allow(
    dead_code,
    reason = "used only by the `const _` check below, which Rust 1.88 (the MSRV) does not count"
)]
const fn valid_bounce(code: u16, e: EnhancedCode, text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] < 0x20 || bytes[i] > 0x7e {
            return false;
        }
        i += 1;
    }
    code >= 200 && code <= 599 && code / 100 == e.class() as u16
}

/// Checks every entry of [`BOUNCES`] at compile time.
const _: () = {
    let mut i = 0;
    while i < BOUNCES.len() {
        let (code, e, text) = BOUNCES[i];
        assert!(valid_bounce(code, e, text), "invalid bounce entry");
        i += 1;
    }
};

/// A uniformly random bounce from blackhole's set (450 451 452 458 521 550 551 552 553
/// 571), with its enhanced code and a text saying it is simulated.
pub(crate) fn bounce_reply() -> Reply {
    let (code, e, text) = BOUNCES[fastrand::usize(..BOUNCES.len())];
    // Cannot fail: the const block above proves every entry meets `Reply::new`'s and
    // `with_enhanced`'s rules at compile time (and a unit test builds each one).
    #[allow(clippy::expect_used)]
    Reply::new(code, text)
        .and_then(|reply| reply.with_enhanced(e))
        .expect("bounce table is checked at compile time")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn mode_parses_any_case_and_round_trips() {
        for mode in [Mode::Accept, Mode::Bounce, Mode::Random] {
            assert_eq!(mode.to_string().parse::<Mode>().unwrap(), mode);
        }
        assert_eq!("BOUNCE".parse::<Mode>().unwrap(), Mode::Bounce);
        assert_eq!(" Random ".parse::<Mode>().unwrap(), Mode::Random);
        assert_eq!(Mode::default(), Mode::Accept);
    }

    #[test]
    fn mode_rejects_unknown() {
        for bad in ["", "reject", "accepted", "bounce!"] {
            let err = bad.parse::<Mode>().unwrap_err();
            assert!(err.contains("unknown mode"), "{err}");
        }
    }

    #[test]
    fn mode_decides() {
        assert_eq!(Mode::Accept.decide(), Ok(()));
        for _ in 0..100 {
            assert!(Mode::Bounce.decide().is_err());
        }
        let accepted = (0..10_000)
            .filter(|_| Mode::Random.decide().is_ok())
            .count();
        assert!((4_000..6_000).contains(&accepted), "{accepted}");
    }

    #[test]
    fn delay_parses_and_round_trips() {
        let fixed: Delay = "250".parse().unwrap();
        assert_eq!(fixed.min, Duration::from_millis(250));
        assert_eq!(fixed.max, Duration::from_millis(250));
        let range: Delay = "100-2000".parse().unwrap();
        assert_eq!(range.min, Duration::from_millis(100));
        assert_eq!(range.max, Duration::from_millis(2000));
        assert_eq!(" 100 - 2000 ".parse::<Delay>().unwrap(), range);
        for text in ["0", "250", "100-2000", "5-5", "0-600000"] {
            let delay: Delay = text.parse().unwrap();
            let shown = delay.to_string();
            assert_eq!(shown.parse::<Delay>().unwrap(), delay);
        }
        assert_eq!("5-5".parse::<Delay>().unwrap().to_string(), "5");
        assert_eq!(Delay::NONE.to_string(), "0");
        assert_eq!("0".parse::<Delay>().unwrap(), Delay::NONE);
    }

    #[test]
    fn delay_rejects_bad_input() {
        let cases = [
            ("2000-100", "greater"),
            ("101-100", "greater"),
            ("", "empty"),
            ("  ", "empty"),
            ("100-", "empty"),
            ("-100", "negative"),
            ("-5-10", "negative"),
            ("abc", "not a number"),
            ("1.5", "not a number"),
            ("+5", "not a number"),
            ("10ms", "not a number"),
            ("1-2-3", "not a number"),
            ("600001", "too long"),
            ("99999999999999999999999", "too long"),
        ];
        for (input, why) in cases {
            let err = input.parse::<Delay>().unwrap_err();
            assert!(err.contains(why), "{input:?}: {err}");
        }
    }

    #[test]
    fn delay_pick_stays_in_range() {
        let delay: Delay = "100-200".parse().unwrap();
        let (mut low, mut high) = (Duration::MAX, Duration::ZERO);
        for _ in 0..10_000 {
            let d = delay.pick();
            assert!(d >= delay.min && d <= delay.max, "{d:?}");
            low = low.min(d);
            high = high.max(d);
        }
        // The whole range is used, ends included.
        assert_eq!(low, Duration::from_millis(100));
        assert_eq!(high, Duration::from_millis(200));
        assert_eq!(
            "42".parse::<Delay>().unwrap().pick(),
            Duration::from_millis(42)
        );
        assert_eq!(Delay::NONE.pick(), Duration::ZERO);
    }

    #[test]
    fn delay_is_zero() {
        assert!(Delay::NONE.is_zero());
        assert!("0-0".parse::<Delay>().unwrap().is_zero());
        assert!(!"0-1".parse::<Delay>().unwrap().is_zero());
        assert!(!"7".parse::<Delay>().unwrap().is_zero());
    }

    #[test]
    fn every_bounce_entry_builds() {
        for (code, e, text) in BOUNCES {
            let reply = Reply::new(code, text).unwrap().with_enhanced(e).unwrap();
            assert_eq!(reply.code(), code);
        }
    }

    #[test]
    fn bounces_cover_the_set_with_fitting_codes() {
        let expected: HashMap<u16, &str> = [
            (450, "4.2.1"),
            (451, "4.3.0"),
            (452, "4.2.2"),
            (458, "4.4.0"),
            (521, "5.3.2"),
            (550, "5.1.1"),
            (551, "5.1.6"),
            (552, "5.2.2"),
            (553, "5.1.3"),
            (571, "5.7.1"),
        ]
        .into_iter()
        .collect();
        let mut seen: HashMap<u16, usize> = HashMap::new();
        for _ in 0..10_000 {
            let reply = bounce_reply();
            let want = expected.get(&reply.code()).unwrap();
            let e = reply.enhanced().unwrap();
            assert_eq!(e.to_string(), *want);
            assert_eq!(u16::from(e.class()), reply.code() / 100);
            assert!(!reply.is_positive());
            assert!(reply.text().contains("blackhole bounce"), "{reply}");
            *seen.entry(reply.code()).or_default() += 1;
        }
        assert_eq!(seen.len(), expected.len(), "{seen:?}");
        // Uniform: each of 10 codes expects 1000 draws; 700 is far outside chance.
        assert!(seen.values().all(|&n| n > 700), "{seen:?}");
    }
}
