//! Command lines (RFC 5321 §4.1.1): the verb, and the arguments of the commands whose
//! syntax is fixed here. Addresses and ESMTP parameters have their own modules.
//!
//! # Why hand-written
//!
//! The verb classifier is hand-written rather than built from nom combinators because it is the
//! measured hot path: every command line goes through it. The benches `command_parsing` and
//! `session_throughput` (`tests/benches`) measure it; in a pipelined session (callgrind, 4 KiB
//! reads) MAIL and RCPT handling is about 17% of the instructions (their parsing about 10%) and
//! content decoding about 42% (issue 16; `BENCHMARKS.md`). nom is for the cold
//! paths, where combinators read better and speed does not matter.

/// The commands this server knows (RFC 5321 §4.1.1, RFC 2033, RFC 3030, RFC 3207, RFC 4954).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verb {
    /// `HELO` (RFC 5321 §4.1.1.1).
    Helo,
    /// `EHLO` (RFC 5321 §4.1.1.1).
    Ehlo,
    /// `LHLO` (RFC 2033 §4.1), LMTP only.
    Lhlo,
    /// `MAIL FROM:` (RFC 5321 §4.1.1.2).
    Mail,
    /// `RCPT TO:` (RFC 5321 §4.1.1.3).
    Rcpt,
    /// `DATA` (RFC 5321 §4.1.1.4).
    Data,
    /// `BDAT` (RFC 3030 §2).
    Bdat,
    /// `RSET` (RFC 5321 §4.1.1.5).
    Rset,
    /// `VRFY` (RFC 5321 §4.1.1.6).
    Vrfy,
    /// `EXPN` (RFC 5321 §4.1.1.7).
    Expn,
    /// `HELP` (RFC 5321 §4.1.1.8).
    Help,
    /// `NOOP` (RFC 5321 §4.1.1.9).
    Noop,
    /// `QUIT` (RFC 5321 §4.1.1.10).
    Quit,
    /// `STARTTLS` (RFC 3207 §4).
    StartTls,
    /// `AUTH` (RFC 4954 §4).
    Auth,
    /// `XCLIENT` (Postfix `XCLIENT_README`): a proxy names the real client.
    Xclient,
}

impl Verb {
    /// RFC 2920 §3.1: commands that may only be the last in a pipelined group. Extension
    /// commands are last unless their RFC says otherwise, so STARTTLS and AUTH are too;
    /// HELO and LHLO are treated like EHLO (Postfix ≥ 3.9 does the same for HELO).
    pub fn ends_pipeline_group(self) -> bool {
        matches!(
            self,
            Self::Helo
                | Self::Ehlo
                | Self::Lhlo
                | Self::Data
                | Self::Vrfy
                | Self::Expn
                | Self::Noop
                | Self::Quit
                | Self::StartTls
                | Self::Auth
        )
    }

    /// The verb as written on the wire (upper case).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Helo => "HELO",
            Self::Ehlo => "EHLO",
            Self::Lhlo => "LHLO",
            Self::Mail => "MAIL",
            Self::Rcpt => "RCPT",
            Self::Data => "DATA",
            Self::Bdat => "BDAT",
            Self::Rset => "RSET",
            Self::Vrfy => "VRFY",
            Self::Expn => "EXPN",
            Self::Help => "HELP",
            Self::Noop => "NOOP",
            Self::Quit => "QUIT",
            Self::StartTls => "STARTTLS",
            Self::Auth => "AUTH",
            Self::Xclient => "XCLIENT",
        }
    }
}

/// What a command line is, before its arguments are parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommandLine<'a> {
    /// A known verb and the bytes after its separating space (empty if none).
    Known(Verb, &'a [u8]),
    /// A line that cannot be a command: empty, or a verb we do not know.
    Unknown,
    /// A line that shows the client is not speaking SMTP at all: an HTTP request line, a
    /// `Header:` line, or a line that does not start with a letter. Postfix's
    /// `smtpd_forbidden_commands` closes such sessions; so do we.
    Forbidden,
}

/// HTTP methods a browser or a proxy probe sends (Postfix default: CONNECT GET POST).
const HTTP_METHODS: [&[u8]; 5] = [b"CONNECT", b"GET", b"POST", b"HEAD", b"PUT"];

/// Classifies one command line (without its CR LF). Verbs are case-insensitive (RFC 5321
/// §2.4); the arguments follow exactly one space and are returned as sent.
pub fn classify(line: &[u8]) -> CommandLine<'_> {
    // Fast path: a known four-letter verb (or STARTTLS) followed by the end of the line or a
    // space. Such a line starts with a letter, its verb has no colon and is no HTTP method,
    // so the general path below would return the same.
    if let Some((&word, after)) = line.split_first_chunk::<4>()
        && let Some(args) = verb_end(after)
        && let Some(verb) = lookup_word(word)
    {
        return CommandLine::Known(verb, args);
    }
    if let Some((&word, after)) = line.split_first_chunk::<8>()
        && u64::from_le_bytes(word) | FOLD_8 == STARTTLS
        && let Some(args) = verb_end(after)
    {
        return CommandLine::Known(Verb::StartTls, args);
    }
    classify_general(line)
}

/// The arguments after a verb: `after` is empty (no arguments) or starts with the
/// separating space. `None` if the verb is longer.
fn verb_end(after: &[u8]) -> Option<&[u8]> {
    match after.split_first() {
        None => Some(after),
        Some((b' ', args)) => Some(args),
        Some(_) => None,
    }
}

/// [`classify`] without the fast path (the reference the fast path is tested against).
fn classify_general(line: &[u8]) -> CommandLine<'_> {
    let (verb, args) = match memchr::memchr(b' ', line) {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => (line, &line[line.len()..]),
    };
    match line.first() {
        None => return CommandLine::Unknown,
        Some(b) if !b.is_ascii_alphabetic() => return CommandLine::Forbidden,
        Some(_) => {}
    }
    if verb.last() == Some(&b':') || HTTP_METHODS.iter().any(|m| verb.eq_ignore_ascii_case(m)) {
        return CommandLine::Forbidden;
    }
    match lookup_verb(verb) {
        Some(verb) => CommandLine::Known(verb, args),
        None => CommandLine::Unknown,
    }
}

/// Folds ASCII letters to lower case in a little-endian word of four octets (`| 0x20` on each
/// octet). Comparing the folded word with a lower-case verb is exact: `b | 0x20 == l` for a
/// lower-case letter `l` holds only for `b == l` and `b == l - 0x20`, its upper case.
const FOLD_4: u32 = 0x2020_2020;
/// [`FOLD_4`] for eight octets.
const FOLD_8: u64 = 0x2020_2020_2020_2020;
/// `starttls` as a little-endian word.
const STARTTLS: u64 = u64::from_le_bytes(*b"starttls");
/// `XCLIENT`, the one seven-letter verb.
const XCLIENT: &[u8] = b"XCLIENT";

/// A four-letter verb as a little-endian word, in lower case.
const fn word(verb: &[u8; 4]) -> u32 {
    u32::from_le_bytes(*verb)
}

/// `MAIL` as a folded word (see [`FOLD_4`]).
const MAIL: u32 = word(b"mail");
/// `RCPT` as a folded word (see [`FOLD_4`]).
const RCPT: u32 = word(b"rcpt");
/// `DATA` as a folded word (see [`FOLD_4`]).
const DATA: u32 = word(b"data");
/// `BDAT` as a folded word (see [`FOLD_4`]).
const BDAT: u32 = word(b"bdat");
/// `EHLO` as a folded word (see [`FOLD_4`]).
const EHLO: u32 = word(b"ehlo");
/// `HELO` as a folded word (see [`FOLD_4`]).
const HELO: u32 = word(b"helo");
/// `LHLO` as a folded word (see [`FOLD_4`]).
const LHLO: u32 = word(b"lhlo");
/// `RSET` as a folded word (see [`FOLD_4`]).
const RSET: u32 = word(b"rset");
/// `NOOP` as a folded word (see [`FOLD_4`]).
const NOOP: u32 = word(b"noop");
/// `QUIT` as a folded word (see [`FOLD_4`]).
const QUIT: u32 = word(b"quit");
/// `VRFY` as a folded word (see [`FOLD_4`]).
const VRFY: u32 = word(b"vrfy");
/// `EXPN` as a folded word (see [`FOLD_4`]).
const EXPN: u32 = word(b"expn");
/// `HELP` as a folded word (see [`FOLD_4`]).
const HELP: u32 = word(b"help");
/// `AUTH` as a folded word (see [`FOLD_4`]).
const AUTH: u32 = word(b"auth");

/// The four-letter verb spelt by `word`, in any case: one folded 32-bit compare.
fn lookup_word(word: [u8; 4]) -> Option<Verb> {
    Some(match u32::from_le_bytes(word) | FOLD_4 {
        MAIL => Verb::Mail,
        RCPT => Verb::Rcpt,
        DATA => Verb::Data,
        BDAT => Verb::Bdat,
        EHLO => Verb::Ehlo,
        HELO => Verb::Helo,
        LHLO => Verb::Lhlo,
        RSET => Verb::Rset,
        NOOP => Verb::Noop,
        QUIT => Verb::Quit,
        VRFY => Verb::Vrfy,
        EXPN => Verb::Expn,
        HELP => Verb::Help,
        AUTH => Verb::Auth,
        _ => return None,
    })
}

/// The verb spelt by `verb` (the octets before the first space), in any case.
fn lookup_verb(verb: &[u8]) -> Option<Verb> {
    if verb.eq_ignore_ascii_case(XCLIENT) {
        return Some(Verb::Xclient);
    }
    if let Ok(word) = <[u8; 8]>::try_from(verb) {
        return (u64::from_le_bytes(word) | FOLD_8 == STARTTLS).then_some(Verb::StartTls);
    }
    lookup_word(verb.try_into().ok()?)
}

/// The command a line starts with, if the first octets already tell (used to pick the
/// line-length limit while the line is still incomplete).
pub fn peek_verb(partial_line: &[u8]) -> Option<Verb> {
    let end = partial_line.len().min(5);
    match partial_line.get(..end)? {
        [a, b, c, d, b' '] => lookup_verb(&[*a, *b, *c, *d]),
        _ => None,
    }
}

/// Arguments that are only blanks count as none: trailing spaces after an argument-less
/// command or the EHLO name are harmless, so they are tolerated (unlike in MAIL/RCPT
/// parameter lists, where the grammar is applied strictly).
pub fn trim_blanks(args: &[u8]) -> &[u8] {
    let end = args.iter().rposition(|&b| b != b' ').map_or(0, |i| i + 1);
    &args[..end]
}

/// Splits `FROM:<path> params` (MAIL) or `TO:<path> params` (RCPT): checks the keyword
/// case-insensitively and returns the bytes from the `<` on. Choice: spaces after the colon
/// are tolerated (`MAIL FROM: <a@b>`, sent by many clients; Postfix accepts it too); a
/// missing `<` is an error (RFC 5321 §4.1.2 requires the angle brackets).
#[inline]
pub fn path_argument<'a>(args: &'a [u8], keyword: &[u8]) -> Option<&'a [u8]> {
    let (head, rest) = args.split_at_checked(keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    if rest.first() == Some(&b'<') {
        return Some(rest);
    }
    let start = rest.iter().position(|&b| b != b' ')?;
    let rest = rest.get(start..)?;
    (rest.first() == Some(&b'<')).then_some(rest)
}

/// `BDAT SP chunk-size [SP "LAST"]` (RFC 3030 §2): the size and whether this is the last
/// chunk. `None` when the size is not 1 to 20 digits, does not fit in `u64`, or anything
/// else is malformed; the server then cannot know where the chunk ends.
pub fn bdat_argument(args: &[u8]) -> Option<(u64, bool)> {
    let (digits, last) = match memchr::memchr(b' ', args) {
        Some(i) if args[i + 1..].eq_ignore_ascii_case(b"LAST") => (&args[..i], true),
        Some(_) => return None,
        None => (args, false),
    };
    if digits.is_empty() || digits.len() > 20 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let size = digits.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })?;
    Some((size, last))
}

/// `AUTH SP mechanism [SP initial-response]` (RFC 4954 §4): the mechanism name, upper-cased,
/// and the initial response as sent (base64, or `=` for an empty one).
pub fn auth_argument(args: &[u8]) -> Option<(String, Option<&[u8]>)> {
    let (mechanism, initial) = match memchr::memchr(b' ', args) {
        Some(i) => (&args[..i], Some(&args[i + 1..])),
        None => (args, None),
    };
    // RFC 4422 §3.1: sasl-mech = 1*20mech-char; mech-char = UPPER-ALPHA / DIGIT / "-" / "_".
    let valid = (1..=20).contains(&mechanism.len())
        && mechanism
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !valid || initial.is_some_and(<[u8]>::is_empty) {
        return None;
    }
    Some((
        String::from_utf8_lossy(mechanism).to_ascii_uppercase(),
        initial,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbs_are_case_insensitive() {
        assert_eq!(
            classify(b"mail FROM:<a@b>"),
            CommandLine::Known(Verb::Mail, b"FROM:<a@b>")
        );
        assert_eq!(
            classify(b"StartTLS"),
            CommandLine::Known(Verb::StartTls, b"")
        );
        assert_eq!(classify(b"QUIT  "), CommandLine::Known(Verb::Quit, b" "));
        assert_eq!(trim_blanks(b"  "), b"");
        assert_eq!(trim_blanks(b"c.example "), b"c.example");
        assert_eq!(classify(b"noop x"), CommandLine::Known(Verb::Noop, b"x"));
    }

    #[test]
    fn unknown_and_forbidden_lines() {
        assert_eq!(classify(b""), CommandLine::Unknown);
        assert_eq!(classify(b"XYZZY"), CommandLine::Unknown);
        assert_eq!(classify(b"NOOP\x00"), CommandLine::Unknown);
        assert_eq!(classify(b"MAI1 x"), CommandLine::Unknown);
        assert_eq!(classify(b"GET / HTTP/1.1"), CommandLine::Forbidden);
        assert_eq!(classify(b"post /x"), CommandLine::Forbidden);
        assert_eq!(classify(b"Host: example"), CommandLine::Forbidden);
        assert_eq!(classify(b" MAIL"), CommandLine::Forbidden);
        assert_eq!(classify(b"\x16\x03\x01"), CommandLine::Forbidden);
    }

    #[test]
    fn fast_path_matches_the_general_path_for_every_byte() {
        let bases: [&[u8]; 8] = [
            b"MAIL FROM:<a@b>",
            b"rcpt x",
            b"NOOP",
            b"StartTLS",
            b"STARTTLS x",
            b"HEAD /",
            b"Host: x",
            b"QUIT",
        ];
        for base in bases {
            for position in 0..=base.len() {
                for byte in 0..=u8::MAX {
                    let mut line = base.to_vec();
                    line.insert(position, byte);
                    assert_eq!(classify(&line), classify_general(&line), "{line:?}");
                    if position < base.len() {
                        line.remove(position);
                        line[position] = byte;
                        assert_eq!(classify(&line), classify_general(&line), "{line:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn verbs_in_every_case_match_the_general_path() {
        let verbs = [
            "HELO", "EHLO", "LHLO", "MAIL", "RCPT", "DATA", "BDAT", "RSET", "VRFY", "EXPN", "HELP",
            "NOOP", "QUIT", "STARTTLS", "AUTH",
        ];
        for verb in verbs {
            for mask in 0..(1u32 << verb.len()) {
                let cased: String = verb
                    .chars()
                    .enumerate()
                    .map(|(i, c)| {
                        if mask >> i & 1 == 1 {
                            c.to_ascii_lowercase()
                        } else {
                            c
                        }
                    })
                    .collect();
                for line in [cased.clone(), format!("{cased} x"), format!("{cased}x")] {
                    let expected = classify_general(line.as_bytes());
                    assert_eq!(classify(line.as_bytes()), expected, "{line}");
                }
                assert!(matches!(
                    classify(cased.as_bytes()),
                    CommandLine::Known(v, b"") if v.as_str() == verb
                ));
            }
        }
    }

    #[test]
    fn peek_needs_a_full_verb_and_space() {
        assert_eq!(peek_verb(b"MAIL FROM"), Some(Verb::Mail));
        assert_eq!(peek_verb(b"auth "), Some(Verb::Auth));
        assert_eq!(peek_verb(b"MAIL"), None);
        assert_eq!(peek_verb(b"MAILX"), None);
    }

    #[test]
    fn path_arguments() {
        assert_eq!(
            path_argument(b"FROM:<a@b> X", b"FROM:"),
            Some(&b"<a@b> X"[..])
        );
        assert_eq!(path_argument(b"from: <a@b>", b"FROM:"), Some(&b"<a@b>"[..]));
        assert_eq!(path_argument(b"FROM:a@b", b"FROM:"), None);
        assert_eq!(path_argument(b"FROM :<a@b>", b"FROM:"), None);
        assert_eq!(path_argument(b"TO:<a@b>", b"FROM:"), None);
        assert_eq!(path_argument(b"FROM:", b"FROM:"), None);
    }

    #[test]
    fn bdat_arguments() {
        assert_eq!(bdat_argument(b"5"), Some((5, false)));
        assert_eq!(bdat_argument(b"0 last"), Some((0, true)));
        assert_eq!(
            bdat_argument(b"18446744073709551615 LAST"),
            Some((u64::MAX, true))
        );
        assert_eq!(bdat_argument(b"18446744073709551616"), None);
        assert_eq!(bdat_argument(b"x"), None);
        assert_eq!(bdat_argument(b"1 FOO"), None);
        assert_eq!(bdat_argument(b""), None);
        assert_eq!(bdat_argument(b"-1"), None);
        assert_eq!(bdat_argument(b"1  LAST"), None);
    }

    #[test]
    fn auth_arguments() {
        assert_eq!(auth_argument(b"plain"), Some(("PLAIN".to_owned(), None)));
        assert_eq!(
            auth_argument(b"PLAIN AGEAYg=="),
            Some(("PLAIN".to_owned(), Some(&b"AGEAYg=="[..])))
        );
        assert_eq!(
            auth_argument(b"PLAIN ="),
            Some(("PLAIN".to_owned(), Some(&b"="[..])))
        );
        assert_eq!(auth_argument(b""), None);
        assert_eq!(auth_argument(b"PL@IN"), None);
        assert_eq!(auth_argument(b"ABCDEFGHIJKLMNOPQRSTU"), None);
    }
}
