//! Reference oracles for the hand-tuned codec parsers (test builds only).
//!
//! An oracle is a second implementation of a grammar, written to be obviously right rather
//! than fast: where the parsers scan with byte-class tables, skip clean blocks and convert
//! UTF-8 once per address, the oracles split into vectors, search tables and look at one
//! octet at a time. Property tests in each parser's `tests` module give both the same input
//! and require the same answer, errors included, so an optimisation that changes behaviour
//! fails there.
//!
//! An oracle never calls the fast path it checks. It re-implements every routine that was
//! optimised (the parameter tokenizer and keyword lookup, the dot-string and domain scans,
//! the content decoder and scanner) and shares only what has a single implementation and is
//! not under test: byte classes, quoted strings and address literals, parameter values, the
//! conversion to owned types.

/// Oracles for `codec::params`.
///
/// The parameter parsers as they were before the one-pass tokenizer: the whole list
/// checked and split first (into a `Vec`), then each parameter classified by a search
/// of [`Keyword::TABLE`]. The fast parsers must return exactly what these return.
pub(crate) mod params {
    use crate::codec::params::*;
    use memchr::memchr;

    fn value_ok(value: &[u8]) -> bool {
        let mut non_ascii = false;
        for &b in value {
            match b {
                0x80.. => non_ascii = true,
                b'=' => return false,
                33..=126 => {}
                _ => return false,
            }
        }
        !value.is_empty() && (!non_ascii || std::str::from_utf8(value).is_ok())
    }

    fn split(input: &[u8]) -> Result<(RawParam<'_>, &[u8]), ParamError> {
        let syntax = |keyword| ParamError::new(ParamErrorKind::Syntax, keyword);
        let keyword_len = match input.first() {
            Some(b) if b.is_ascii_alphanumeric() => input
                .iter()
                .take_while(|&&b| b.is_ascii_alphanumeric() || b == b'-')
                .count(),
            _ => 0,
        };
        if keyword_len == 0 {
            return Err(syntax(b""));
        }
        let (keyword, rest) = input.split_at(keyword_len);
        match rest.split_first() {
            None | Some((b' ', _)) => Ok((
                RawParam {
                    keyword,
                    value: None,
                },
                rest,
            )),
            Some((b'=', after)) => {
                let len = memchr(b' ', after).unwrap_or(after.len());
                let (value, rest) = after.split_at(len);
                if !value_ok(value) {
                    return Err(syntax(keyword));
                }
                Ok((
                    RawParam {
                        keyword,
                        value: Some(value),
                    },
                    rest,
                ))
            }
            Some(_) => Err(syntax(keyword)),
        }
    }

    fn tokenize(input: &[u8]) -> Result<Vec<RawParam<'_>>, ParamError> {
        let mut params = Vec::new();
        let mut rest = input;
        while let Some((&first, after)) = rest.split_first() {
            if first != b' ' || after.first().is_none_or(|&b| b == b' ') {
                return Err(ParamError::new(ParamErrorKind::Syntax, b""));
            }
            let (param, next) = split(after)?;
            if params.len() == MAX_PARAMS {
                return Err(ParamError::new(ParamErrorKind::TooLong, b""));
            }
            params.push(param);
            rest = next;
        }
        Ok(params)
    }

    pub(crate) fn lookup<K: Keyword>(keyword: &[u8]) -> Option<K> {
        K::TABLE
            .iter()
            .find(|(name, _)| name.as_bytes().eq_ignore_ascii_case(keyword))
            .map(|&(_, keyword)| keyword)
    }

    fn classify<K: Keyword>(
        param: &RawParam<'_>,
        support: &ParamSupport,
        seen: &mut u32,
    ) -> Result<K, ParamError> {
        let error = |kind| ParamError::new(kind, param.keyword);
        let keyword: K = lookup(param.keyword).ok_or_else(|| error(ParamErrorKind::Unknown))?;
        if !keyword.is_supported(support) {
            return Err(error(ParamErrorKind::Unsupported));
        }
        let bit = 1u32 << keyword.slot();
        if *seen & bit != 0 {
            return Err(error(ParamErrorKind::Duplicate));
        }
        *seen |= bit;
        Ok(keyword)
    }

    pub(crate) fn body(value: &[u8], support: &ParamSupport) -> Result<Body, ParamErrorKind> {
        let (body, advertised) = if value.eq_ignore_ascii_case(b"7BIT") {
            (Body::SevenBit, support.eight_bit_mime)
        } else if value.eq_ignore_ascii_case(b"8BITMIME") {
            (Body::EightBitMime, support.eight_bit_mime)
        } else if value.eq_ignore_ascii_case(b"BINARYMIME") {
            (Body::BinaryMime, support.binary_mime)
        } else {
            return Err(ParamErrorKind::Syntax);
        };
        if advertised {
            Ok(body)
        } else {
            Err(ParamErrorKind::Unsupported)
        }
    }

    pub(crate) fn mail(input: &[u8], support: &ParamSupport) -> Result<MailParams, ParamError> {
        let mut params = MailParams::default();
        let mut seen = 0;
        for param in tokenize(input)? {
            let keyword: MailKeyword = classify(&param, support, &mut seen)?;
            apply_mail_param(&mut params, keyword, param.value, support)
                .map_err(|kind| ParamError::new(kind, param.keyword))?;
        }
        Ok(params)
    }

    pub(crate) fn rcpt(input: &[u8], support: &ParamSupport) -> Result<RcptParams, ParamError> {
        let mut params = RcptParams::default();
        let mut seen = 0;
        for param in tokenize(input)? {
            let keyword: RcptKeyword = classify(&param, support, &mut seen)?;
            apply_rcpt_param(&mut params, keyword, param.value)
                .map_err(|kind| ParamError::new(kind, param.keyword))?;
        }
        Ok(params)
    }
}

/// Oracles for `codec::address`.
///
/// The address parsers as they were before the ASCII fast path: each part converted
/// with its own `from_utf8`, the length limits checked at every octet. The fast parsers
/// must return exactly what these return, errors included.
pub(crate) mod address {
    use crate::codec::address::*;

    pub(crate) fn reverse(input: &[u8]) -> Result<(ReversePath, &[u8]), AddressError> {
        if let Some(rest) = input.strip_prefix(b"<>") {
            return Ok((ReversePath::Null, rest));
        }
        let (mailbox, rest) = path(input)?;
        Ok((ReversePath::Mailbox(mailbox.into_owned()), rest))
    }

    pub(crate) fn forward(input: &[u8]) -> Result<(ForwardPath, &[u8]), AddressError> {
        if input.starts_with(b"<>") {
            return Err(AddressError::NullPathNotAllowed);
        }
        if let Some(rest) = strip_postmaster(input) {
            return Ok((ForwardPath::Postmaster, rest));
        }
        let (mailbox, rest) = path(input)?;
        Ok((ForwardPath::Mailbox(mailbox.into_owned()), rest))
    }

    pub(crate) fn mailbox_from_str(text: &str) -> Result<Mailbox, AddressError> {
        let input = text.as_bytes();
        let (mailbox, rest) = mailbox(input)?;
        if let Some(&byte) = rest.first() {
            return Err(error_at(Some(byte), AddressError::Syntax));
        }
        if input.len().saturating_add(2) > MAX_PATH_LEN {
            return Err(AddressError::PathTooLong);
        }
        Ok(mailbox.into_owned())
    }

    pub(crate) fn hello(input: &[u8]) -> Result<Domain, AddressError> {
        let (domain, rest) = domain(input, Labels::AllowUnderscore)?;
        if let Some(&byte) = rest.first() {
            return Err(error_at(Some(byte), AddressError::BadDomain));
        }
        Ok(domain.into_owned())
    }

    fn path(input: &[u8]) -> Result<(ParsedMailbox<'_>, &[u8]), AddressError> {
        let Some(after_open) = input.strip_prefix(b"<") else {
            return Err(AddressError::MissingAngleBrackets);
        };
        let after_route = source_route(after_open)?;
        let (mailbox, after_mailbox) = mailbox(after_route)?;
        let rest = match after_mailbox.split_first() {
            Some((b'>', rest)) => rest,
            None => return Err(AddressError::MissingAngleBrackets),
            Some((&byte, _)) => return Err(error_at(Some(byte), AddressError::Syntax)),
        };
        if consumed(input, rest) > MAX_PATH_LEN {
            return Err(AddressError::PathTooLong);
        }
        Ok((mailbox, rest))
    }

    fn source_route(input: &[u8]) -> Result<&[u8], AddressError> {
        let mut rest = input;
        while let Some(after_at) = rest.strip_prefix(b"@") {
            let (_, after_domain) = domain_name(after_at, Labels::Strict)?;
            if consumed(input, after_domain) >= MAX_PATH_LEN {
                return Err(AddressError::PathTooLong);
            }
            match after_domain.split_first() {
                Some((b',', next)) if next.first() == Some(&b'@') => rest = next,
                Some((b':', mailbox)) => return Ok(mailbox),
                other => {
                    return Err(error_at(
                        other.map(|(&byte, _)| byte),
                        AddressError::BadSourceRoute,
                    ));
                }
            }
        }
        Ok(rest)
    }

    fn mailbox(input: &[u8]) -> Result<(ParsedMailbox<'_>, &[u8]), AddressError> {
        let (local_part, after_local) = local_part(input)?;
        let after_at = match after_local.split_first() {
            Some((b'@', after_at)) => after_at,
            None | Some((b'>', _)) => return Err(AddressError::MissingDomain),
            Some((&byte, _)) => return Err(error_at(Some(byte), AddressError::BadLocalPart)),
        };
        let (domain, rest) = domain(after_at, Labels::Strict)?;
        Ok((ParsedMailbox::Parts { local_part, domain }, rest))
    }

    fn local_part(input: &[u8]) -> Result<(&str, &[u8]), AddressError> {
        let len = if input.first() == Some(&b'"') {
            quoted_string_len(input)?.0
        } else {
            dot_string_len(input)?
        };
        let (local_part, rest) = input.split_at(len);
        Ok((utf8(local_part)?, rest))
    }

    fn dot_string_len(input: &[u8]) -> Result<usize, AddressError> {
        let mut len = input.len();
        let mut previous = b'.';
        for (index, &byte) in input.iter().enumerate() {
            if !has_class(byte, ATEXT | DOT) {
                len = index;
                break;
            }
            if index == MAX_LOCAL_PART_LEN {
                return Err(AddressError::LocalPartTooLong);
            }
            if byte == b'.' && previous == b'.' {
                return Err(AddressError::BadLocalPart);
            }
            previous = byte;
        }
        if len == 0 {
            return Err(error_at(input.first().copied(), AddressError::BadLocalPart));
        }
        if previous == b'.' {
            return Err(AddressError::BadLocalPart);
        }
        Ok(len)
    }

    fn domain(input: &[u8], labels: Labels) -> Result<(ParsedDomain<'_>, &[u8]), AddressError> {
        if input.first() == Some(&b'[') {
            let (literal, rest) = parse_address_literal(input)?;
            Ok((ParsedDomain::Literal(literal), rest))
        } else {
            let (name, rest) = domain_name(input, labels)?;
            Ok((ParsedDomain::Name(name), rest))
        }
    }

    fn domain_name(input: &[u8], labels: Labels) -> Result<(&str, &[u8]), AddressError> {
        let classes = labels.domain_classes();
        let mut len = input.len();
        let mut previous = b'.';
        for (index, &byte) in input.iter().enumerate() {
            if !has_class(byte, classes) {
                len = index;
                break;
            }
            if index == MAX_DOMAIN_LEN {
                return Err(AddressError::DomainTooLong);
            }
            let label_starts = previous == b'.';
            let label_ends = byte == b'.';
            if (label_starts && (byte == b'.' || byte == b'-')) || (label_ends && previous == b'-')
            {
                return Err(AddressError::BadDomain);
            }
            previous = byte;
        }
        if len == 0 {
            return Err(error_at(input.first().copied(), AddressError::BadDomain));
        }
        if previous == b'.' || previous == b'-' {
            return Err(AddressError::BadDomain);
        }
        let (name, rest) = input.split_at(len);
        Ok((utf8(name)?, rest))
    }
}

/// Oracles for `codec::data`: the DATA decoder and the BDAT scanner.
pub(crate) mod content {
    use crate::codec::data::{ContentFlags, LineEndingPolicy};

    /// Everything a decoder produced for one input.
    #[derive(Debug, PartialEq, Eq)]
    pub(crate) struct Decoded {
        /// The decoded content.
        pub(crate) content: Vec<u8>,
        /// The flags after the last octet.
        pub(crate) flags: ContentFlags,
        /// Absolute offset just after the terminator's final LF.
        pub(crate) end_of_data: Option<usize>,
    }

    /// Obviously-correct reference: takes one octet at a time into a line buffer and decides
    /// each complete line as a whole (RFC 5321 §4.1.1.4, §4.5.2; Postfix normalize rules).
    pub(crate) fn decode(policy: LineEndingPolicy, max: usize, input: &[u8]) -> Decoded {
        let normalize = policy == LineEndingPolicy::Normalize;
        let mut content = Vec::new();
        let mut flags = ContentFlags::default();
        let mut line: Vec<u8> = Vec::new();
        let mut previous_bare_lf = false;
        let note = |text: &[u8], flags: &mut ContentFlags, cr_may_be_pending: bool| {
            for (i, &octet) in text.iter().enumerate() {
                match octet {
                    0 => flags.nul = true,
                    b'\n' => flags.bare_lf = true,
                    b'\r' if !(cr_may_be_pending && i + 1 == text.len()) => flags.bare_cr = true,
                    _ => {}
                }
            }
        };
        for (i, &octet) in input.iter().enumerate() {
            line.push(octet);
            let crlf = line.ends_with(b"\r\n");
            if octet != b'\n' || !(crlf || normalize) {
                continue;
            }
            let body = &line[..line.len() - if crlf { 2 } else { 1 }];
            if body == b"." {
                if crlf && !previous_bare_lf {
                    return Decoded {
                        content,
                        flags,
                        end_of_data: Some(i + 1),
                    };
                }
                flags.bare_lf |= !crlf;
                previous_bare_lf = !crlf;
                line.clear();
                continue;
            }
            let text = body.strip_prefix(b".").unwrap_or(body);
            note(text, &mut flags, false);
            flags.bare_lf |= !crlf;
            flags.long_line |= text.len() + 2 > max;
            content.extend_from_slice(text);
            content.extend_from_slice(b"\r\n");
            previous_bare_lf = !crlf;
            line.clear();
        }
        if line != b"." && line != b".\r" {
            let text = line.strip_prefix(b".").unwrap_or(&line);
            note(text, &mut flags, true);
            flags.long_line |= text.len() > max;
            content.extend_from_slice(text);
        }
        Decoded {
            content,
            flags,
            end_of_data: None,
        }
    }

    /// Reference for [`ContentScanner`] over the whole content, after `finish`.
    pub(crate) fn scan(max: usize, input: &[u8]) -> ContentFlags {
        let mut flags = ContentFlags::default();
        for (i, &octet) in input.iter().enumerate() {
            match octet {
                0 => flags.nul = true,
                b'\r' if input.get(i + 1) != Some(&b'\n') => flags.bare_cr = true,
                b'\n' if i == 0 || input[i - 1] != b'\r' => flags.bare_lf = true,
                _ => {}
            }
        }
        let mut rest = input;
        while let Some(at) = rest.windows(2).position(|w| w == b"\r\n") {
            flags.long_line |= at + 2 > max;
            rest = &rest[at + 2..];
        }
        flags.long_line |= rest.len() > max;
        flags
    }
}
