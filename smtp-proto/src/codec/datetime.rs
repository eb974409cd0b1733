//! RFC 3339 §5.6 date-time, the value of the FUTURERELEASE `HOLDUNTIL=` parameter
//! (RFC 4865): validated, never converted.

use super::params::parse_bounded_digits;

/// RFC 3339 `time-secfrac` has no limit; nanoseconds is plenty (choice).
const MAX_SECFRAC_DIGITS: usize = 9;

/// A forward-only reader over ASCII bytes.
struct Cursor<'a> {
    rest: &'a [u8],
}

impl Cursor<'_> {
    fn next(&mut self) -> Option<u8> {
        let (&b, rest) = self.rest.split_first()?;
        self.rest = rest;
        Some(b)
    }

    fn expect(&mut self, expected: u8) -> Option<()> {
        (self.next()?.eq_ignore_ascii_case(&expected)).then_some(())
    }

    /// Exactly `digits` decimal digits (at most 4 here, so no overflow).
    fn number(&mut self, digits: usize) -> Option<u32> {
        let (number, rest) = self.rest.split_at_checked(digits)?;
        self.rest = rest;
        let value = parse_bounded_digits(number, digits)?;
        u32::try_from(value).ok()
    }

    /// A run of digits, returning how many.
    fn digit_run(&mut self) -> usize {
        let count = self.rest.iter().take_while(|b| b.is_ascii_digit()).count();
        self.rest = self.rest.get(count..).unwrap_or(&[]);
        count
    }

    fn peek(&self) -> Option<u8> {
        self.rest.first().copied()
    }
}

/// RFC 3339 §5.6 `date-time = full-date "T" full-time`, with the §5.7 range
/// restrictions (day within the month, leap years per Appendix C, second 60
/// for a leap second). "T" and "Z" may be lowercase (§5.6 NOTE).
pub(super) fn is_rfc3339_date_time(value: &[u8]) -> bool {
    let mut cursor = Cursor { rest: value };
    full_date(&mut cursor).is_some()
        && cursor.expect(b'T').is_some()
        && full_time(&mut cursor).is_some()
        && cursor.rest.is_empty()
}

fn full_date(cursor: &mut Cursor<'_>) -> Option<()> {
    let year = cursor.number(4)?;
    cursor.expect(b'-')?;
    let month = cursor.number(2)?;
    cursor.expect(b'-')?;
    let day = cursor.number(2)?;
    (day >= 1 && day <= days_in_month(year, month)?).then_some(())
}

fn days_in_month(year: u32, month: u32) -> Option<u32> {
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => Some(31),
        4 | 6 | 9 | 11 => Some(30),
        2 if leap => Some(29),
        2 => Some(28),
        _ => None,
    }
}

fn full_time(cursor: &mut Cursor<'_>) -> Option<()> {
    let hour = cursor.number(2)?;
    cursor.expect(b':')?;
    let minute = cursor.number(2)?;
    cursor.expect(b':')?;
    let second = cursor.number(2)?;
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    if cursor.peek() == Some(b'.') {
        cursor.next()?;
        let digits = cursor.digit_run();
        if digits == 0 || digits > MAX_SECFRAC_DIGITS {
            return None;
        }
    }
    time_offset(cursor)
}

fn time_offset(cursor: &mut Cursor<'_>) -> Option<()> {
    match cursor.next()? {
        b'Z' | b'z' => Some(()),
        b'+' | b'-' => {
            let hour = cursor.number(2)?;
            cursor.expect(b':')?;
            let minute = cursor.number(2)?;
            (hour <= 23 && minute <= 59).then_some(())
        }
        _ => None,
    }
}
