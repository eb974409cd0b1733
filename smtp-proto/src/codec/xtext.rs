//! RFC 3461 §4 xtext, the encoding of the DSN and AUTH parameter values:
//!
//! ```text
//! xtext   = *( xchar / hexchar )
//! xchar   = any ASCII CHAR between "!" (33) and "~" (126) inclusive, except "+" and "="
//! hexchar = ASCII "+" immediately followed by two upper case hexadecimal digits
//! ```
//!
//! [`super::params::decode_xtext`] and [`super::params::encode_xtext`] are the public entry
//! points; the parameter parser calls the helpers here.

use memchr::memchr;

use super::params::ParamErrorKind;

fn is_xchar(b: u8) -> bool {
    matches!(b, b'!'..=b'~') && b != b'+' && b != b'='
}

fn upper_hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

pub(super) fn decode_xtext_value(input: &[u8]) -> Result<String, ParamErrorKind> {
    if memchr(b'+', input).is_none() {
        // Fast path: only xchars are possible, which are printable ASCII.
        if !input.iter().all(|&b| is_xchar(b)) {
            return Err(ParamErrorKind::Syntax);
        }
        return std::str::from_utf8(input)
            .map(str::to_owned)
            .map_err(|_| ParamErrorKind::Syntax);
    }
    let decoded = decode_xtext_octets(input)?;
    if decoded.iter().any(|&b| b < 0x20 || b == 0x7f) {
        return Err(ParamErrorKind::Forbidden);
    }
    let decoded = String::from_utf8(decoded).map_err(|_| ParamErrorKind::Syntax)?;
    // C1 controls (U+0080..U+009F) are controls too.
    if decoded.chars().any(char::is_control) {
        return Err(ParamErrorKind::Forbidden);
    }
    Ok(decoded)
}

fn decode_xtext_octets(input: &[u8]) -> Result<Vec<u8>, ParamErrorKind> {
    let mut decoded = Vec::with_capacity(input.len());
    let mut rest = input;
    while let Some((&b, tail)) = rest.split_first() {
        rest = tail;
        if b == b'+' {
            let (hi, lo, tail) = match rest {
                [hi, lo, tail @ ..] => (*hi, *lo, tail),
                _ => return Err(ParamErrorKind::Syntax),
            };
            let (Some(hi), Some(lo)) = (upper_hex_value(hi), upper_hex_value(lo)) else {
                return Err(ParamErrorKind::Syntax);
            };
            decoded.push(hi << 4 | lo);
            rest = tail;
        } else if is_xchar(b) {
            decoded.push(b);
        } else {
            return Err(ParamErrorKind::Syntax);
        }
    }
    Ok(decoded)
}

pub(super) fn push_xtext(out: &mut String, input: &str) {
    for &b in input.as_bytes() {
        if is_xchar(b) {
            out.push(char::from(b));
        } else {
            out.push('+');
            out.push(upper_hex_digit(b >> 4));
            out.push(upper_hex_digit(b & 0x0f));
        }
    }
}

/// The uppercase hex digit of the low nibble of `nibble`.
fn upper_hex_digit(nibble: u8) -> char {
    let nibble = nibble & 0x0f;
    char::from(if nibble < 10 {
        b'0' + nibble
    } else {
        b'A' + (nibble - 10)
    })
}
