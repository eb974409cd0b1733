//! Each grammar function on its own, with round trips where an encoder exists.

use std::str::FromStr;

use super::content;
use smtp_proto::codec::address::{
    self, ForwardPath, Mailbox, ReversePath, parse_forward_path, parse_hello_domain,
    parse_reverse_path,
};
use smtp_proto::codec::command::{
    self, CommandLine, auth_argument, bdat_argument, classify, path_argument, peek_verb,
};
use smtp_proto::codec::params::{
    MailParams, ParamSupport, RcptParams, decode_xtext, encode_xtext, parse_mail_params,
    parse_rcpt_params,
};
use smtp_proto::codec::sasl;

/// One parser, chosen by the first byte (modulo 15), on the rest of the input:
///
/// | byte | parser | oracle |
/// |---|---|---|
/// | 0 | `command::classify`, `peek_verb`, `path_argument`, `trim_blanks` | the parts are slices of the line and agree with each other |
/// | 1 | `parse_reverse_path` | `Display` re-parses to an equal value; limits hold; the fast path for plain addresses agrees with the full grammar |
/// | 2 | `parse_forward_path` | the same |
/// | 3 | `parse_hello_domain` | the same |
/// | 4 | `parse_mail_params` (all extensions) | `encode` re-parses to an equal value and is canonical |
/// | 5 | `parse_rcpt_params` (all extensions) | the same |
/// | 6 | `decode_xtext`, `encode_xtext` | decode → encode → decode; encode → decode |
/// | 7 | the SASL base64 engine | decode → encode gives the input back; encode → decode |
/// | 8 | `sasl::parse_plain`, `login_field` | the fields rebuild the input exactly |
/// | 9 | `command::bdat_argument` | the canonical form parses to the same size |
/// | 10 | `command::auth_argument` | the rebuilt argument parses to the same value |
/// | 11 | `DotDecoder` (second byte: policy, line limit, read sizes) | split invariance; in strict mode, equal to a reference decoder |
/// | 12 | `ContentScanner` (second byte: line limit, read sizes) | split invariance; equal to reference flags |
/// | 13 | `Reply::new`, `with_enhanced`, the reply encoder, `sanitize_text` | well-formed lines carrying the text exactly |
/// | 14 | `Mailbox::from_str` | `Display` re-parses to an equal value, also inside a path |
///
/// # Panics
///
/// When an oracle fails.
pub fn parsers(data: &[u8]) {
    let Some((&selector, input)) = data.split_first() else {
        return;
    };
    match selector % 15 {
        0 => command_line(input),
        1 => reverse_path(input),
        2 => forward_path(input),
        3 => hello_domain(input),
        4 => mail_params(input),
        5 => rcpt_params(input),
        6 => xtext(input),
        7 => base64(input),
        8 => plain(input),
        9 => bdat(input),
        10 => auth(input),
        11 => content::dot_decoder(input),
        12 => content::scanner(input),
        13 => content::reply(input),
        _ => mailbox(input),
    }
}

/// Whether `part` is a sub-slice of `whole` ending where `whole` ends.
fn is_tail(whole: &[u8], part: &[u8]) -> bool {
    part.is_empty()
        || (whole.ends_with(part) && part.as_ptr() == whole[whole.len() - part.len()..].as_ptr())
}

fn command_line(line: &[u8]) {
    let classified = classify(line);
    if let CommandLine::Known(verb, args) = classified {
        assert!(is_tail(line, args), "arguments are not the end of the line");
        let name = verb.as_str().as_bytes();
        assert!(line.len() >= name.len() && line[..name.len()].eq_ignore_ascii_case(name));
        let after = &line[name.len()..];
        assert!(
            after.is_empty() || after[0] == b' ',
            "verb not followed by a space"
        );
        let trimmed = command::trim_blanks(args);
        assert!(args.starts_with(trimmed) && !trimmed.ends_with(b" "));
        for keyword in [b"FROM:".as_slice(), b"TO:"] {
            if let Some(path) = path_argument(args, keyword) {
                assert!(path.starts_with(b"<") && is_tail(args, path));
            }
        }
    }
    if let Some(verb) = peek_verb(line) {
        assert!(
            matches!(classified, CommandLine::Known(v, _) if v == verb),
            "peek_verb says {verb:?}, classify says {classified:?}"
        );
    }
}

/// A path's length limits (RFC 5321 §4.5.3.1) and its re-parse from `Display`.
fn check_mailbox(mailbox: &Mailbox) {
    assert!(mailbox.local_part().len() <= address::MAX_LOCAL_PART_LEN);
    assert!(mailbox.domain().to_string().len() <= address::MAX_DOMAIN_LEN);
    let text = mailbox.to_string();
    assert!(
        text.len() + 2 <= address::MAX_PATH_LEN,
        "{text:?} does not fit a path"
    );
    let again = Mailbox::from_str(&text);
    assert_eq!(again.as_ref(), Ok(mailbox), "{text:?} does not parse back");
}

/// The fast path for plain addresses against the full grammar: where it answers, the
/// grammar gives the same mailbox and rest (it must accept exactly a subset).
fn plain_path(input: &[u8]) {
    if let Some(plain) = address::parse_plain_path(input) {
        assert_eq!(
            address::parse_path_full(input).as_ref(),
            Ok(&plain),
            "the fast path and the grammar disagree on {:?}",
            String::from_utf8_lossy(input)
        );
    }
}

fn reverse_path(input: &[u8]) {
    plain_path(input);
    let Ok((path, rest)) = parse_reverse_path(input) else {
        return;
    };
    assert!(is_tail(input, rest));
    assert!(
        input.len() - rest.len() <= address::MAX_PATH_LEN,
        "path over 256 octets"
    );
    if let ReversePath::Mailbox(mailbox) = &path {
        check_mailbox(mailbox);
    }
    let text = path.to_string();
    let again = parse_reverse_path(text.as_bytes());
    assert_eq!(again, Ok((path, &b""[..])), "{text:?} does not parse back");
}

fn forward_path(input: &[u8]) {
    plain_path(input);
    let Ok((path, rest)) = parse_forward_path(input) else {
        return;
    };
    assert!(is_tail(input, rest));
    assert!(
        input.len() - rest.len() <= address::MAX_PATH_LEN,
        "path over 256 octets"
    );
    if let ForwardPath::Mailbox(mailbox) = &path {
        check_mailbox(mailbox);
    }
    let text = path.to_string();
    let again = parse_forward_path(text.as_bytes());
    assert_eq!(again, Ok((path, &b""[..])), "{text:?} does not parse back");
}

fn hello_domain(input: &[u8]) {
    let Ok(domain) = parse_hello_domain(input) else {
        return;
    };
    let text = domain.to_string();
    assert!(text.len() <= address::MAX_DOMAIN_LEN, "{text:?} too long");
    assert_eq!(parse_hello_domain(text.as_bytes()), Ok(domain), "{text:?}");
}

fn mailbox(input: &[u8]) {
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    let Ok(mailbox) = Mailbox::from_str(text) else {
        return;
    };
    check_mailbox(&mailbox);
    let path = format!("<{mailbox}>");
    let parsed = parse_forward_path(path.as_bytes());
    assert_eq!(
        parsed,
        Ok((ForwardPath::Mailbox(mailbox), &b""[..])),
        "{path:?}"
    );
}

fn mail_params(input: &[u8]) {
    params_round_trip(input, parse_mail_params, MailParams::encode);
}

fn rcpt_params(input: &[u8]) {
    params_round_trip(input, parse_rcpt_params, RcptParams::encode);
}

/// A parameter list that parses encodes to a list that parses back to the same value, and
/// that encoding is canonical (encoding it again gives the same text).
fn params_round_trip<P: PartialEq + std::fmt::Debug, E: PartialEq + std::fmt::Debug>(
    input: &[u8],
    parse: fn(&[u8], &ParamSupport) -> Result<P, E>,
    encode: fn(&P, &mut String),
) {
    let support = ParamSupport::all();
    let Ok(params) = parse(input, &support) else {
        return;
    };
    let mut encoded = String::new();
    encode(&params, &mut encoded);
    let again = parse(encoded.as_bytes(), &support);
    assert_eq!(
        again.as_ref(),
        Ok(&params),
        "{encoded:?} does not parse back"
    );
    if let Ok(again) = again {
        let mut twice = String::new();
        encode(&again, &mut twice);
        assert_eq!(twice, encoded, "encoding is not canonical");
    }
}

fn xtext(input: &[u8]) {
    if let Ok(decoded) = decode_xtext(input) {
        let encoded = encode_xtext(&decoded);
        assert!(
            encoded.len() <= input.len(),
            "{encoded:?} longer than {input:?}"
        );
        assert_eq!(decode_xtext(encoded.as_bytes()).as_ref(), Ok(&decoded));
    }
    if let Ok(text) = std::str::from_utf8(input)
        && !text.chars().any(char::is_control)
    {
        let encoded = encode_xtext(text);
        assert_eq!(decode_xtext(encoded.as_bytes()).as_deref(), Ok(text));
    }
}

fn base64(input: &[u8]) {
    if let Some(decoded) = sasl::decode_response(input) {
        let encoded = sasl::encode_challenge(&decoded);
        if input != b"=" {
            assert_eq!(encoded.as_bytes(), input, "strict base64 is not canonical");
        }
        assert_eq!(sasl::decode_response(encoded.as_bytes()), Some(decoded));
    }
    let encoded = sasl::encode_challenge(input);
    let decoded = sasl::decode_response(encoded.as_bytes());
    assert_eq!(decoded.as_deref(), Some(input), "encode → decode");
}

fn plain(input: &[u8]) {
    if let Some(c) = sasl::parse_plain(input) {
        let rebuilt = [
            c.authzid.as_deref().unwrap_or("").as_bytes(),
            b"\0",
            c.username.as_bytes(),
            b"\0",
            c.password.expose().as_bytes(),
        ]
        .concat();
        assert_eq!(rebuilt, input, "PLAIN fields do not rebuild the message");
        assert!(c.authzid.as_ref().is_none_or(|z| !z.is_empty()));
    }
    if let Some(field) = sasl::login_field(input.to_vec()) {
        assert_eq!(field.as_bytes(), input);
    }
}

fn bdat(input: &[u8]) {
    let Some((size, last)) = bdat_argument(input) else {
        return;
    };
    let canonical = format!("{size}{}", if last { " LAST" } else { "" });
    assert_eq!(bdat_argument(canonical.as_bytes()), Some((size, last)));
}

fn auth(input: &[u8]) {
    let Some((mechanism, initial)) = auth_argument(input) else {
        return;
    };
    assert!((1..=20).contains(&mechanism.len()));
    assert!(!mechanism.bytes().any(|b| b.is_ascii_lowercase()));
    if let Some(initial) = initial {
        assert!(!initial.is_empty() && is_tail(input, initial));
    }
    let mut rebuilt = mechanism.clone().into_bytes();
    if let Some(initial) = initial {
        rebuilt.push(b' ');
        rebuilt.extend_from_slice(initial);
    }
    assert_eq!(auth_argument(&rebuilt), Some((mechanism, initial)));
}
