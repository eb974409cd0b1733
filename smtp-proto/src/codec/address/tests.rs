//! Tests of the address parsers, grouped by RFC 5321 section (null path and postmaster, path
//! structure, local part, domain, address literals, path length, the EHLO argument), then
//! properties (including agreement with the reference parsers).

use super::*;
use proptest::prelude::*;

use crate::codec::reference::address as reference;

// ---- helpers ------------------------------------------------------------------------

fn mailbox(text: &str) -> Mailbox {
    match text.parse() {
        Ok(mailbox) => mailbox,
        Err(err) => panic!("{text:?} should parse: {err:?}"),
    }
}

fn reverse(input: &[u8]) -> Result<(ReversePath, &[u8]), AddressError> {
    parse_reverse_path(input)
}

fn forward(input: &[u8]) -> Result<(ForwardPath, &[u8]), AddressError> {
    parse_forward_path(input)
}

/// Parses `input` as a forward-path that must succeed with an empty rest.
fn rcpt_ok(input: &[u8]) -> Mailbox {
    match forward(input) {
        Ok((ForwardPath::Mailbox(mailbox), b"")) => mailbox,
        other => panic!("{:?}: unexpected {other:?}", String::from_utf8_lossy(input)),
    }
}

fn rcpt_err(input: &[u8]) -> AddressError {
    match forward(input) {
        Err(err) => err,
        Ok(ok) => panic!(
            "{:?}: unexpectedly accepted {ok:?}",
            String::from_utf8_lossy(input)
        ),
    }
}

fn name(text: &str) -> Domain {
    Domain::Name(text.to_owned())
}

/// A valid domain name of exactly `len` octets: labels of 'a' with a dot every 10 octets.
fn domain_of_len(len: usize) -> String {
    (0..len)
        .map(|i| {
            if i % 10 == 9 && i + 1 != len {
                '.'
            } else {
                'a'
            }
        })
        .collect()
}

fn local_of_len(len: usize) -> String {
    "l".repeat(len)
}

fn path(local: &str, domain: &str) -> Vec<u8> {
    format!("<{local}@{domain}>").into_bytes()
}

// ---- null path and postmaster (RFC 5321 §4.1.1.2, §4.1.1.3, §4.5.1) ------------------

#[test]
fn reverse_null_path() {
    assert_eq!(reverse(b"<>"), Ok((ReversePath::Null, &b""[..])));
    assert_eq!(
        reverse(b"<> SIZE=10"),
        Ok((ReversePath::Null, &b" SIZE=10"[..]))
    );
}

#[test]
fn forward_null_path_is_error() {
    assert_eq!(rcpt_err(b"<>"), AddressError::NullPathNotAllowed);
    assert_eq!(
        rcpt_err(b"<> NOTIFY=NEVER"),
        AddressError::NullPathNotAllowed
    );
}

#[test]
fn forward_postmaster_any_case() {
    for input in [
        &b"<Postmaster>"[..],
        b"<postmaster>",
        b"<postMASTER>",
        b"<POSTMASTER>",
    ] {
        assert_eq!(forward(input), Ok((ForwardPath::Postmaster, &b""[..])));
    }
    assert_eq!(
        forward(b"<Postmaster> NOTIFY=NEVER"),
        Ok((ForwardPath::Postmaster, &b" NOTIFY=NEVER"[..]))
    );
}

#[test]
fn postmaster_is_not_null() {
    assert_ne!(
        reverse(b"<>").map(|(path, _)| path.to_string()),
        forward(b"<postmaster>").map(|(path, _)| path.to_string())
    );
    assert_eq!(ForwardPath::Postmaster.to_string(), "<Postmaster>");
    assert_eq!(ReversePath::Null.to_string(), "<>");
}

#[test]
fn reverse_postmaster_without_domain_is_error() {
    assert_eq!(reverse(b"<Postmaster>"), Err(AddressError::MissingDomain));
}

#[test]
fn postmaster_with_domain_is_normal_mailbox() {
    let mailbox = rcpt_ok(b"<postmaster@x>");
    assert_eq!(mailbox.local_part(), "postmaster");
    assert_eq!(mailbox.domain(), &name("x"));
}

#[test]
fn postmaster_lookalikes_are_not_postmaster() {
    assert_eq!(rcpt_err(b"<postmaste>"), AddressError::MissingDomain);
    assert_eq!(rcpt_err(b"<postmasters>"), AddressError::MissingDomain);
    assert_eq!(rcpt_err(b"<\"postmaster\">"), AddressError::MissingDomain);
    assert_eq!(rcpt_err(b"<postmaster >"), AddressError::InvalidCharacter);
    assert_eq!(rcpt_err(b"<@a:postmaster>"), AddressError::MissingDomain);
    assert_eq!(rcpt_err(b"<postmaster"), AddressError::MissingDomain);
}

// ---- path structure (RFC 5321 §4.1.2) -------------------------------------------------

#[test]
fn simple_path_and_rest() {
    let (path, rest) = reverse(b"<a@b.example> SIZE=100").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(path, ReversePath::Mailbox(mailbox("a@b.example")));
    assert_eq!(rest, b" SIZE=100");
}

#[test]
fn extra_closing_brackets_are_left_as_rest() {
    let (path, rest) = reverse(b"<a@b.c>>>>").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(path, ReversePath::Mailbox(mailbox("a@b.c")));
    assert_eq!(rest, b">>>");
    assert!(matches!(forward(b"<a@b.c>>>>"), Ok((_, b">>>"))));
}

#[test]
fn missing_angle_brackets() {
    assert_eq!(reverse(b"a@b.c"), Err(AddressError::MissingAngleBrackets));
    assert_eq!(rcpt_err(b"a@b.c"), AddressError::MissingAngleBrackets);
    assert_eq!(reverse(b""), Err(AddressError::MissingAngleBrackets));
    assert_eq!(
        reverse(b" <a@b.c>"),
        Err(AddressError::MissingAngleBrackets)
    );
    assert_eq!(reverse(b"<a@b.c"), Err(AddressError::MissingAngleBrackets));
    assert_eq!(
        rcpt_err(b"<a@[1.2.3.4]"),
        AddressError::MissingAngleBrackets
    );
}

#[test]
fn missing_domain() {
    assert_eq!(reverse(b"<abc>"), Err(AddressError::MissingDomain));
    assert_eq!(rcpt_err(b"<\"a b\">"), AddressError::MissingDomain);
    assert_eq!(reverse(b"<a@>"), Err(AddressError::BadDomain));
}

#[test]
fn garbage_after_domain() {
    assert_eq!(rcpt_err(b"<a@b@c>"), AddressError::Syntax);
    assert_eq!(rcpt_err(b"<a@b;c>"), AddressError::Syntax);
    assert_eq!(rcpt_err(b"<a@b,c>"), AddressError::Syntax);
    assert_eq!(rcpt_err(b"<a@b\">"), AddressError::Syntax);
    assert_eq!(rcpt_err(b"<a@[1.2.3.4]x>"), AddressError::Syntax);
}

#[test]
fn source_route_is_accepted_and_dropped() {
    assert_eq!(rcpt_ok(b"<@a,@b:u@c>"), mailbox("u@c"));
    assert_eq!(rcpt_ok(b"<@a.example:u@c>"), mailbox("u@c"));
    assert_eq!(
        reverse(b"<@a,@b:u@c>"),
        Ok((ReversePath::Mailbox(mailbox("u@c")), &b""[..]))
    );
    assert_eq!(rcpt_ok(b"<@a:u@[1.2.3.4]>"), mailbox("u@[1.2.3.4]"));
}

#[test]
fn malformed_source_routes() {
    assert_eq!(rcpt_err(b"<@a u@c>"), AddressError::InvalidCharacter);
    assert_eq!(rcpt_err(b"<@a;u@c>"), AddressError::BadSourceRoute);
    assert_eq!(rcpt_err(b"<@a,b:u@c>"), AddressError::BadSourceRoute);
    assert_eq!(rcpt_err(b"<@a,:u@c>"), AddressError::BadSourceRoute);
    assert_eq!(rcpt_err(b"<@a>"), AddressError::BadSourceRoute);
    assert_eq!(rcpt_err(b"<@a"), AddressError::BadSourceRoute);
    assert_eq!(rcpt_err(b"<@:u@c>"), AddressError::BadDomain);
    assert_eq!(rcpt_err(b"<@-a:u@c>"), AddressError::BadDomain);
    assert_eq!(rcpt_err(b"<@[1.2.3.4]:u@c>"), AddressError::BadDomain);
    assert_eq!(rcpt_err(b"<@a:>"), AddressError::BadLocalPart);
    assert_eq!(rcpt_err(b"<@a,@b:@c>"), AddressError::BadLocalPart);
}

// ---- fail-closed regressions (OpenSMTPD CVE-2020-7247, Exim CVE-2019-10149) -----------

#[test]
fn shell_metacharacters_are_rejected() {
    assert_eq!(reverse(b"<;sleep 66;>"), Err(AddressError::BadLocalPart));
    assert_eq!(rcpt_err(b"<;id;@x>"), AddressError::BadLocalPart);
    assert_eq!(rcpt_err(b"<a;b@x>"), AddressError::BadLocalPart);
    assert_eq!(rcpt_err(b"<a(b)@x>"), AddressError::BadLocalPart);
    assert_eq!(rcpt_err(b"<a<b@x>"), AddressError::BadLocalPart);
}

#[test]
fn expansion_syntax_is_plain_data() {
    let mailbox = rcpt_ok(b"<${run{x}}@localhost>");
    assert_eq!(mailbox.local_part(), "${run{x}}");
    assert_eq!(mailbox.domain(), &name("localhost"));
}

#[test]
fn controls_and_spaces_are_invalid_characters() {
    for input in [
        &b"<a\r@b>"[..],
        b"<a\n@b>",
        b"<a\r\n@b>",
        b"<a@b\r>",
        b"<a@b\r\n>",
        b"<a\x00b@c>",
        b"<a\x7fb@c>",
        b"<a\tb@c>",
        b"<b\x01b@x>",
        b"<a b@c>",
        b"< a@b>",
        b"<a@b >",
        b"<a @b>",
        b"<a@ b>",
        b"<\"a\rb\"@c>",
        b"<\"a\x00\"@c>",
        b"<\"a\\\r\"@c>",
        b"<a@[1.2.3.4\r]>",
        b"<a@[1.2. 3.4]>",
    ] {
        assert_eq!(
            rcpt_err(input),
            AddressError::InvalidCharacter,
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
}

// ---- local part (RFC 5321 §4.1.2, §2.4) ---------------------------------------------

#[test]
fn dot_string_accepts_all_atext() {
    let local = "a!#$%&'*+-/=?^_`{|}~9.Z";
    assert_eq!(rcpt_ok(&path(local, "x")).local_part(), local);
}

#[test]
fn dot_string_rejects_bad_dots() {
    assert_eq!(rcpt_err(b"<.a@x>"), AddressError::BadLocalPart);
    assert_eq!(rcpt_err(b"<a.@x>"), AddressError::BadLocalPart);
    assert_eq!(rcpt_err(b"<a..b@x>"), AddressError::BadLocalPart);
    assert_eq!(rcpt_err(b"<.@x>"), AddressError::BadLocalPart);
    assert_eq!(rcpt_err(b"<@x>"), AddressError::BadSourceRoute);
}

#[test]
fn local_part_case_is_preserved() {
    let mailbox = rcpt_ok(b"<Bob.SMITH@Example.COM>");
    assert_eq!(mailbox.local_part(), "Bob.SMITH");
    assert_eq!(mailbox.domain(), &name("Example.COM"));
    assert_ne!(mailbox, self::mailbox("bob.smith@Example.COM"));
}

#[test]
fn quoted_string_kept_with_quotes() {
    assert_eq!(rcpt_ok(b"<\"a b\"@c>").local_part(), "\"a b\"");
    assert_eq!(rcpt_ok(b"<\"a\\\"b\"@c>").local_part(), "\"a\\\"b\"");
    assert_eq!(rcpt_ok(b"<\"a\\\\\"@c>").local_part(), "\"a\\\\\"");
    assert_eq!(rcpt_ok(b"<\"a@b>c\"@d>").local_part(), "\"a@b>c\"");
    assert_eq!(rcpt_ok(b"<\"\"@c>").local_part(), "\"\"");
    assert_eq!(rcpt_ok(b"<\"\\ \"@c>").local_part(), "\"\\ \"");
}

#[test]
fn quoted_string_errors() {
    assert_eq!(rcpt_err(b"<\"abc@d>"), AddressError::BadLocalPart);
    assert_eq!(rcpt_err(b"<\"abc\\\"@d>"), AddressError::BadLocalPart);
    assert_eq!(rcpt_err(b"<\"a\"b@c>"), AddressError::BadLocalPart);
    assert_eq!(rcpt_err(b"<a\"b\"@c>"), AddressError::BadLocalPart);
    assert_eq!(
        rcpt_err("<\"\\é\"@c>".as_bytes()),
        AddressError::BadLocalPart
    );
    assert_eq!(rcpt_err(b"<\"a\\\x7f\"@c>"), AddressError::InvalidCharacter);
    assert_eq!(rcpt_err(b"<\"a\x7f\"@c>"), AddressError::InvalidCharacter);
    assert_eq!(rcpt_err(b"<\"a\tb\"@c>"), AddressError::InvalidCharacter);
    assert_eq!(rcpt_err(b"<\""), AddressError::BadLocalPart);
}

#[test]
fn local_part_length_limit_dot_string() {
    let ok = local_of_len(MAX_LOCAL_PART_LEN);
    assert_eq!(rcpt_ok(&path(&ok, "x")).local_part(), ok);
    let too_long = local_of_len(MAX_LOCAL_PART_LEN + 1);
    assert_eq!(
        rcpt_err(&path(&too_long, "x")),
        AddressError::LocalPartTooLong
    );
    let far_too_long = local_of_len(10_000);
    assert_eq!(
        rcpt_err(&path(&far_too_long, "x")),
        AddressError::LocalPartTooLong
    );
}

#[test]
fn local_part_length_limit_quoted_string() {
    let ok = format!("\"{}\"", local_of_len(MAX_LOCAL_PART_LEN - 2));
    assert_eq!(ok.len(), 64);
    assert_eq!(rcpt_ok(&path(&ok, "x")).local_part(), ok);
    let too_long = format!("\"{}\"", local_of_len(MAX_LOCAL_PART_LEN - 1));
    assert_eq!(
        rcpt_err(&path(&too_long, "x")),
        AddressError::LocalPartTooLong
    );
}

#[test]
fn local_part_limit_counts_utf8_octets() {
    // 32 two-octet characters = 64 octets.
    let ok = "é".repeat(32);
    assert_eq!(rcpt_ok(&path(&ok, "x")).local_part(), ok);
    let too_long = format!("{ok}a");
    assert_eq!(
        rcpt_err(&path(&too_long, "x")),
        AddressError::LocalPartTooLong
    );
}

// ---- domain (RFC 5321 §4.1.2, RFC 6531 §3.3) ----------------------------------------

#[test]
fn domain_names() {
    assert_eq!(rcpt_ok(b"<a@b>").domain(), &name("b"));
    assert_eq!(
        rcpt_ok(b"<a@mx-1.b2.example>").domain(),
        &name("mx-1.b2.example")
    );
    assert_eq!(rcpt_ok(b"<a@1.2.3.4>").domain(), &name("1.2.3.4"));
    assert_eq!(rcpt_ok(b"<a@a--b>").domain(), &name("a--b"));
}

#[test]
fn bad_domain_names() {
    for input in [
        &b"<a@-b>"[..],
        b"<a@b->",
        b"<a@b.-c>",
        b"<a@b-.c>",
        b"<a@.b>",
        b"<a@b.>",
        b"<a@b..c>",
        b"<a@.>",
        b"<a@_b>",
        b"<a@b_c.example>",
        b"<a@b;>",
    ] {
        let expected = if input == b"<a@b;>" || input == b"<a@b_c.example>" {
            AddressError::Syntax
        } else {
            AddressError::BadDomain
        };
        assert_eq!(
            rcpt_err(input),
            expected,
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn domain_length_limit() {
    // Inside a path the 256-octet path limit binds first; over 255 the domain error wins.
    let too_long = domain_of_len(MAX_DOMAIN_LEN + 1);
    assert_eq!(rcpt_err(&path("a", &too_long)), AddressError::DomainTooLong);
    assert_eq!(
        rcpt_err(&path("a", &domain_of_len(100_000))),
        AddressError::DomainTooLong
    );
    // The 255 limit itself is reachable through EHLO.
    let ok = domain_of_len(MAX_DOMAIN_LEN);
    assert_eq!(parse_hello_domain(ok.as_bytes()), Ok(name(&ok)));
    assert_eq!(
        parse_hello_domain(too_long.as_bytes()),
        Err(AddressError::DomainTooLong)
    );
}

#[test]
fn utf8_addresses() {
    let mailbox = rcpt_ok("<üser@bücher.example>".as_bytes());
    assert_eq!(mailbox.local_part(), "üser");
    assert_eq!(mailbox.domain(), &name("bücher.example"));
    assert!(!mailbox.is_ascii());
    assert!(!rcpt_ok("<a@ü.example>".as_bytes()).is_ascii());
    assert!(!rcpt_ok("<ü@x>".as_bytes()).is_ascii());
    assert!(!rcpt_ok("<\"ü x\"@x>".as_bytes()).is_ascii());
    assert!(rcpt_ok(b"<a@x>").is_ascii());
    assert!(rcpt_ok(b"<a@[1.2.3.4]>").is_ascii());
    assert_eq!(
        rcpt_ok("<日本@例え.jp>".as_bytes()).to_string(),
        "日本@例え.jp"
    );
}

#[test]
fn malformed_utf8_is_its_own_error() {
    for input in [
        &b"<\xc3\x28@x>"[..],
        b"<\xff@x>",
        b"<\xc0\xaf@x>",
        b"<a\xc3@x>",
        b"<\xed\xa0\x80@x>",
        b"<a@\xc3\x28>",
        b"<a@b\xc3>",
        b"<\"\xc3\x28\"@x>",
        b"<@\xff:a@b>",
    ] {
        assert_eq!(
            rcpt_err(input),
            AddressError::InvalidUtf8,
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
    assert_eq!(reverse(b"<\xc3\x28@x>"), Err(AddressError::InvalidUtf8));
    assert_eq!(parse_hello_domain(b"a\xc3"), Err(AddressError::InvalidUtf8));
}

// ---- address literals (RFC 5321 §4.1.3) -----------------------------------------------

fn literal(input: &str) -> Result<Domain, AddressError> {
    parse_hello_domain(input.as_bytes())
}

fn lit(value: AddressLiteral) -> Result<Domain, AddressError> {
    Ok(Domain::Literal(value))
}

#[test]
fn ipv4_literals() {
    assert_eq!(
        literal("[192.0.2.1]"),
        lit(AddressLiteral::Ipv4(Ipv4Addr::new(192, 0, 2, 1)))
    );
    assert_eq!(
        literal("[0.0.0.0]"),
        lit(AddressLiteral::Ipv4(Ipv4Addr::UNSPECIFIED))
    );
    assert_eq!(
        literal("[255.255.255.255]"),
        lit(AddressLiteral::Ipv4(Ipv4Addr::BROADCAST))
    );
    let mailbox = rcpt_ok(b"<a@[192.0.2.1]>");
    assert_eq!(
        mailbox.domain(),
        &Domain::Literal(AddressLiteral::Ipv4(Ipv4Addr::new(192, 0, 2, 1)))
    );
    assert_eq!(mailbox.to_string(), "a@[192.0.2.1]");
}

#[test]
fn bad_ipv4_literals() {
    for input in [
        "[256.0.0.1]",
        "[1.2.3]",
        "[1.2.3.4.5]",
        "[+1.2.3.4]",
        "[1.+2.3.4]",
        "[0001.2.3.4]",
        "[1.2.3.0004]",
        "[01.2.3.4]",
        "[1..3.4]",
        "[1.2.3.4.]",
        "[]",
        "[a.b.c.d]",
        "[example.com]",
        "[-1.2.3.4]",
        "[1.2.3.4",
        "[1.2.3.4\\]",
        "[1.2.3.4[]",
    ] {
        assert_eq!(
            literal(input),
            Err(AddressError::BadAddressLiteral),
            "{input}"
        );
    }
}

#[test]
fn ipv6_literals() {
    let loopback = lit(AddressLiteral::Ipv6(Ipv6Addr::LOCALHOST));
    assert_eq!(literal("[IPv6:::1]"), loopback);
    assert_eq!(literal("[ipv6:::1]"), loopback);
    assert_eq!(literal("[IPV6:0:0:0:0:0:0:0:1]"), loopback);
    assert_eq!(
        literal("[IPv6:2001:DB8::1]"),
        lit(AddressLiteral::Ipv6(Ipv6Addr::new(
            0x2001, 0xdb8, 0, 0, 0, 0, 0, 1
        )))
    );
    assert_eq!(
        literal("[IPv6:::ffff:192.0.2.1]"),
        lit(AddressLiteral::Ipv6(
            Ipv4Addr::new(192, 0, 2, 1).to_ipv6_mapped()
        ))
    );
    assert_eq!(
        literal("[IPv6:1:2:3:4:5:6:1.2.3.4]"),
        lit(AddressLiteral::Ipv6(Ipv6Addr::new(
            1, 2, 3, 4, 5, 6, 0x102, 0x304
        )))
    );
    // Six groups besides "::" is the maximum (RFC 5321 §4.1.3).
    assert_eq!(
        literal("[IPv6:1:2:3:4:5:6::]"),
        lit(AddressLiteral::Ipv6(Ipv6Addr::new(1, 2, 3, 4, 5, 6, 0, 0)))
    );
    assert_eq!(
        literal("[IPv6:1:2:3:4::1.2.3.4]"),
        lit(AddressLiteral::Ipv6(Ipv6Addr::new(
            1, 2, 3, 4, 0, 0, 0x102, 0x304
        )))
    );
    assert_eq!(rcpt_ok(b"<a@[IPv6:::1]>").to_string(), "a@[IPv6:::1]");
}

#[test]
fn bad_ipv6_literals() {
    for input in [
        "[IPv6:1:2:3:4:5:6:7::]",
        "[IPv6:::1:2:3:4:5:6:7]",
        "[IPv6:1:2:3:4:5::1.2.3.4]",
        "[IPv6:fe80::1%eth0]",
        "[IPv6:1.2.3.4]",
        "[IPv6:]",
        "[IPv6:12345::]",
        "[IPv6:1:2:3:4:5:6:7]",
        "[IPv6:1:2:3:4:5:6:7:8:9]",
        "[IPv6:g::1]",
        "[IPv6:::01.2.3.4]",
        "[IPv6::::1]",
        "[IPv6:1::2::3]",
    ] {
        assert_eq!(
            literal(input),
            Err(AddressError::BadAddressLiteral),
            "{input}"
        );
    }
}

#[test]
fn general_literals() {
    assert_eq!(
        literal("[x-tag:some.thing:else]"),
        lit(AddressLiteral::General {
            tag: "x-tag".to_owned(),
            content: "some.thing:else".to_owned(),
        })
    );
    assert_eq!(
        literal("[-1:a]"),
        lit(AddressLiteral::General {
            tag: "-1".to_owned(),
            content: "a".to_owned()
        })
    );
    assert_eq!(rcpt_ok(b"<a@[tag:v]>").to_string(), "a@[tag:v]");
    for input in [
        "[tag-:x]",
        "[:x]",
        "[tag:]",
        "[t_g:x]",
        "[t.g:x]",
        "[IPv6x:1]",
    ] {
        let expected = if input == "[IPv6x:1]" {
            lit(AddressLiteral::General {
                tag: "IPv6x".to_owned(),
                content: "1".to_owned(),
            })
        } else {
            Err(AddressError::BadAddressLiteral)
        };
        assert_eq!(literal(input), expected, "{input}");
    }
    assert_eq!(literal("[t:ü]"), Err(AddressError::BadAddressLiteral));
    assert_eq!(literal("[t:a b]"), Err(AddressError::InvalidCharacter));
}

#[test]
fn literal_length_limit() {
    // 255 octets including the brackets is the maximum.
    let ok = format!("[t:{}]", "c".repeat(MAX_DOMAIN_LEN - 4));
    assert_eq!(ok.len(), MAX_DOMAIN_LEN);
    assert!(literal(&ok).is_ok());
    let too_long = format!("[t:{}]", "c".repeat(MAX_DOMAIN_LEN - 3));
    assert_eq!(literal(&too_long), Err(AddressError::DomainTooLong));
    assert_eq!(rcpt_err(&path("a", &too_long)), AddressError::DomainTooLong);
}

// ---- path length (RFC 5321 §4.5.3.1.3) ----------------------------------------------

#[test]
fn path_length_limit() {
    let local = local_of_len(MAX_LOCAL_PART_LEN);
    // "<" + 64 + "@" + 189 + ">" = 256.
    let ok = path(&local, &domain_of_len(189));
    assert_eq!(ok.len(), MAX_PATH_LEN);
    assert_eq!(rcpt_ok(&ok).to_string().len(), MAX_PATH_LEN - 2);
    let too_long = path(&local, &domain_of_len(190));
    assert_eq!(too_long.len(), MAX_PATH_LEN + 1);
    assert_eq!(rcpt_err(&too_long), AddressError::PathTooLong);
    assert_eq!(reverse(&too_long), Err(AddressError::PathTooLong));
}

#[test]
fn path_length_counts_source_route() {
    let mailbox = format!("{}@b", local_of_len(60));
    // "<" + "@" + route + ":" + 62 + ">" = 256  =>  route = 190.
    let ok = format!("<@{}:{mailbox}>", domain_of_len(190));
    assert_eq!(ok.len(), MAX_PATH_LEN);
    assert_eq!(rcpt_ok(ok.as_bytes()).to_string(), mailbox);
    let too_long = format!("<@{}:{mailbox}>", domain_of_len(191));
    assert_eq!(rcpt_err(too_long.as_bytes()), AddressError::PathTooLong);
}

#[test]
fn endless_source_route_is_bounded() {
    let mut input = b"<".to_vec();
    for _ in 0..10_000 {
        input.extend_from_slice(b"@a,");
    }
    assert_eq!(rcpt_err(&input), AddressError::PathTooLong);
    let long_route = format!("<@{}:a@b>", domain_of_len(254));
    assert_eq!(rcpt_err(long_route.as_bytes()), AddressError::PathTooLong);
}

// ---- EHLO / HELO argument (RFC 5321 §4.1.1.1) -------------------------------------

#[test]
fn hello_domain() {
    assert_eq!(
        parse_hello_domain(b"mail.example"),
        Ok(name("mail.example"))
    );
    assert_eq!(
        parse_hello_domain(b"WIN_HOST.corp"),
        Ok(name("WIN_HOST.corp"))
    );
    assert_eq!(parse_hello_domain(b"_x_"), Ok(name("_x_")));
    assert_eq!(
        parse_hello_domain(b"[192.0.2.1]"),
        lit(AddressLiteral::Ipv4(Ipv4Addr::new(192, 0, 2, 1)))
    );
    assert_eq!(
        parse_hello_domain("bücher.example".as_bytes()),
        Ok(name("bücher.example"))
    );
}

#[test]
fn bad_hello_domain() {
    assert_eq!(parse_hello_domain(b""), Err(AddressError::BadDomain));
    assert_eq!(parse_hello_domain(b"host."), Err(AddressError::BadDomain));
    assert_eq!(parse_hello_domain(b"-host"), Err(AddressError::BadDomain));
    assert_eq!(parse_hello_domain(b"a/b"), Err(AddressError::BadDomain));
    assert_eq!(
        parse_hello_domain(b"[1.2.3.4]x"),
        Err(AddressError::BadDomain)
    );
    assert_eq!(
        parse_hello_domain(b"a b"),
        Err(AddressError::InvalidCharacter)
    );
    assert_eq!(
        parse_hello_domain(b"a\r\n"),
        Err(AddressError::InvalidCharacter)
    );
    assert_eq!(
        parse_hello_domain(b"a\x00"),
        Err(AddressError::InvalidCharacter)
    );
    assert_eq!(
        parse_hello_domain(b" a"),
        Err(AddressError::InvalidCharacter)
    );
    assert_eq!(parse_hello_domain(b"1.2.3.4"), Ok(name("1.2.3.4")));
}

// ---- FromStr, Display, errors ---------------------------------------------------------

#[test]
fn from_str() {
    let parsed = mailbox("user@example.org");
    assert_eq!(parsed.local_part(), "user");
    assert_eq!(parsed.domain(), &name("example.org"));
    assert_eq!("<a@b>".parse::<Mailbox>(), Err(AddressError::BadLocalPart));
    assert_eq!("a@b>".parse::<Mailbox>(), Err(AddressError::Syntax));
    assert_eq!(
        "a@b ".parse::<Mailbox>(),
        Err(AddressError::InvalidCharacter)
    );
    assert_eq!("ab".parse::<Mailbox>(), Err(AddressError::MissingDomain));
    assert_eq!("".parse::<Mailbox>(), Err(AddressError::BadLocalPart));
    assert_eq!("@a:b@c".parse::<Mailbox>(), Err(AddressError::BadLocalPart));
}

#[test]
fn from_str_enforces_path_limit() {
    let local = local_of_len(MAX_LOCAL_PART_LEN);
    let ok = format!("{local}@{}", domain_of_len(189));
    assert_eq!(ok.len(), MAX_PATH_LEN - 2);
    assert_eq!(mailbox(&ok).to_string(), ok);
    let too_long = format!("{local}@{}", domain_of_len(190));
    assert_eq!(too_long.parse::<Mailbox>(), Err(AddressError::PathTooLong));
}

#[test]
fn display_forms() {
    let mailbox = mailbox("\"a b\"@[IPv6:2001:db8:0:0:0:0:0:1]");
    assert_eq!(mailbox.to_string(), "\"a b\"@[IPv6:2001:db8::1]");
    assert_eq!(
        ReversePath::Mailbox(mailbox.clone()).to_string(),
        "<\"a b\"@[IPv6:2001:db8::1]>"
    );
    assert_eq!(
        ForwardPath::Mailbox(mailbox.clone()).to_string(),
        "<\"a b\"@[IPv6:2001:db8::1]>"
    );
    assert_eq!(
        ForwardPath::Mailbox(mailbox.clone()).mailbox(),
        Some(&mailbox)
    );
    assert_eq!(
        ReversePath::Mailbox(mailbox.clone()).mailbox(),
        Some(&mailbox)
    );
    assert_eq!(ForwardPath::Postmaster.mailbox(), None);
    assert_eq!(ReversePath::Null.mailbox(), None);
    assert_eq!(name("x.example").to_string(), "x.example");
}

#[test]
fn mailbox_parts_are_views_of_one_string() {
    // A name: the parts borrow from `local@domain`; the view equals and becomes the Domain.
    let named = mailbox("Üser.x@Bücher.example");
    assert_eq!(named.local_part(), "Üser.x");
    assert_eq!(named.domain(), DomainRef::Name("Bücher.example"));
    assert_eq!(named.domain(), name("Bücher.example"));
    assert_eq!(name("Bücher.example"), named.domain());
    assert_eq!(named.domain().into_owned(), name("Bücher.example"));
    assert_eq!(named.domain().to_string(), "Bücher.example");
    assert!(!named.domain().is_ascii() && !named.is_ascii());
    assert_ne!(named.domain(), name("bücher.example"));
    // A literal: kept parsed; Display writes it as Domain does.
    let literal = mailbox("a@[IPv6:2001:DB8::1]");
    let owned = Domain::Literal(AddressLiteral::Ipv6("2001:db8::1".parse().unwrap()));
    assert_eq!(literal.local_part(), "a");
    assert_eq!(literal.domain(), DomainRef::from(&owned));
    assert_eq!(literal.domain().into_owned(), owned);
    assert_eq!(literal.domain().to_string(), owned.to_string());
    assert!(literal.domain().is_ascii() && literal.is_ascii());
    assert_ne!(literal.domain(), name("a"));
    // Equality and Debug read the parts, not the representation.
    assert_ne!(mailbox("a@b.c"), mailbox("a.b@c"));
    assert_eq!(
        format!("{named:?}"),
        "Mailbox { local_part: \"Üser.x\", domain: Name(\"Bücher.example\") }"
    );
}

#[test]
fn inline_and_heap_mailboxes_agree() {
    // A `Mailbox` stays as small as the `String` + index it replaced.
    assert!(std::mem::size_of::<Mailbox>() <= 40);
    assert_eq!(
        std::mem::size_of::<ReversePath>(),
        std::mem::size_of::<Mailbox>()
    );
    // Around the inline limit, ASCII and UTF-8, by every constructor: the parts, Display,
    // equality and hashing do not depend on where the text is kept.
    let hash = |mailbox: &Mailbox| {
        use std::hash::{BuildHasher, RandomState};
        static STATE: std::sync::LazyLock<RandomState> = std::sync::LazyLock::new(RandomState::new);
        STATE.hash_one(mailbox)
    };
    for len in MAILBOX_INLINE_LEN - 3..=MAILBOX_INLINE_LEN + 3 {
        for (local, domain) in [
            (local_of_len(len - 10), "b.example".to_owned()),
            (
                "Ü".repeat((len - 9) / 2),
                "ex.ample".to_owned() + &"x".repeat((len - 9) % 2),
            ),
            ("\"a@b\"".to_owned(), domain_of_len(len - 6)),
        ] {
            let text = format!("{local}@{domain}");
            let parsed = mailbox(&text);
            assert_eq!(parsed.local_part(), local, "{text}");
            assert_eq!(parsed.domain(), DomainRef::Name(&domain), "{text}");
            assert_eq!(parsed.to_string(), text);
            assert_eq!(parsed.is_ascii(), text.is_ascii());
            let from_path = rcpt_ok(&path(&local, &domain));
            let from_parts = reference::mailbox_from_str(&text).expect("valid");
            assert_eq!(from_path, parsed);
            assert_eq!(from_parts, parsed);
            assert_eq!(hash(&from_parts), hash(&parsed));
            assert_eq!(parsed.clone(), parsed);
            assert_ne!(mailbox(&format!("{local}@{domain}x")), parsed);
        }
    }
    // A literal keeps its local part whatever its length.
    let literal = mailbox(&format!("{}@[192.0.2.1]", local_of_len(64)));
    assert_eq!(literal.local_part(), local_of_len(64));
    assert_eq!(
        literal.to_string(),
        format!("{}@[192.0.2.1]", local_of_len(64))
    );
    assert_ne!(mailbox("a@[192.0.2.1]"), mailbox("a@[192.0.2.2]"));
}

#[test]
fn error_descriptions() {
    let all = [
        (AddressError::MissingAngleBrackets, "Missing angle brackets"),
        (
            AddressError::NullPathNotAllowed,
            "Null path not allowed here",
        ),
        (AddressError::MissingDomain, "Missing domain in address"),
        (AddressError::BadLocalPart, "Bad local part syntax"),
        (AddressError::BadDomain, "Bad domain syntax"),
        (AddressError::BadAddressLiteral, "Bad address literal"),
        (AddressError::BadSourceRoute, "Bad source route"),
        (
            AddressError::InvalidCharacter,
            "Invalid character in address",
        ),
        (AddressError::Syntax, "Bad address syntax"),
        (AddressError::LocalPartTooLong, "Local part too long"),
        (AddressError::DomainTooLong, "Domain too long"),
        (AddressError::PathTooLong, "Path too long"),
        (AddressError::InvalidUtf8, "Invalid UTF-8"),
    ];
    for (error, text) in all {
        assert_eq!(error.description(), text);
        assert_eq!(error.to_string(), text);
        assert!(text.bytes().all(|b| (32..=126).contains(&b)));
    }
}

#[test]
fn byte_classes() {
    let atext: Vec<u8> = (0u8..0x80).filter(|&b| has_class(b, ATEXT)).collect();
    let mut expected: Vec<u8> = b"!#$%&'*+-/=?^_`{|}~".to_vec();
    expected.extend(b'0'..=b'9');
    expected.extend(b'A'..=b'Z');
    expected.extend(b'a'..=b'z');
    expected.sort_unstable();
    assert_eq!(atext, expected);
    let qtext_count = (0u8..0x80).filter(|&b| has_class(b, QTEXT)).count();
    assert_eq!(qtext_count, 95 - 2); // printable + space, minus '"' and '\'
    let dcontent_count = (0u8..0x80).filter(|&b| has_class(b, DCONTENT)).count();
    assert_eq!(dcontent_count, 94 - 3); // printable, minus '[', '\', ']'
    assert!(has_class(0x80, ATEXT | QTEXT | LABEL) && !has_class(0xff, DCONTENT));
}

// ---- properties ---------------------------------------------------------------------

/// Bytes that make the parsers reach deep states.
fn smtp_byte() -> impl Strategy<Value = u8> {
    prop::sample::select(
        b"<>@.:,[]\"\\-_aAzZ09 \r\n\x00\x7f\xc3\xa9\xffIPv6:Postmaster!{}$;".to_vec(),
    )
}

fn check_no_panic(input: &[u8]) {
    if let Ok((_, rest)) = parse_reverse_path(input) {
        assert!(input.ends_with(rest) && rest.len() < input.len());
    }
    if let Ok((path, rest)) = parse_forward_path(input) {
        assert!(input.ends_with(rest) && rest.len() < input.len());
        if let ForwardPath::Mailbox(mailbox) = path {
            // Every accepted mailbox round-trips through Display and FromStr.
            assert_eq!(mailbox.to_string().parse::<Mailbox>(), Ok(mailbox.clone()));
            assert!(mailbox.local_part().len() <= MAX_LOCAL_PART_LEN);
            assert!(mailbox.to_string().len() + 2 <= MAX_PATH_LEN);
        }
    }
    if let Ok(domain) = parse_hello_domain(input) {
        assert!(domain.to_string().len() <= MAX_DOMAIN_LEN);
    }
    if let Ok(text) = std::str::from_utf8(input) {
        let _ = text.parse::<Mailbox>();
    }
}

/// Compares every public parser with its reference on `input`.
fn check_against_reference(input: &[u8]) {
    check_plain_path(input);
    let show = || String::from_utf8_lossy(input).into_owned();
    assert_eq!(
        parse_reverse_path(input),
        reference::reverse(input),
        "{}",
        show()
    );
    assert_eq!(
        parse_forward_path(input),
        reference::forward(input),
        "{}",
        show()
    );
    assert_eq!(
        parse_hello_domain(input),
        reference::hello(input),
        "{}",
        show()
    );
    // The inside of the brackets as an EHLO argument, as a mailbox (`FromStr`), and
    // bracketed again as a forward-path.
    if let Some(inner) = input.strip_prefix(b"<") {
        let inner = inner.strip_suffix(b">").unwrap_or(inner);
        if let Ok(text) = std::str::from_utf8(inner) {
            assert_eq!(
                text.parse::<Mailbox>(),
                reference::mailbox_from_str(text),
                "{text}"
            );
        }
        assert_eq!(
            parse_hello_domain(inner),
            reference::hello(inner),
            "{}",
            show()
        );
        let bracketed = [b"<".as_slice(), inner, b">"].concat();
        assert_eq!(
            parse_forward_path(&bracketed),
            reference::forward(&bracketed),
            "{}",
            show()
        );
    }
}

/// Mailbox-shaped input: local parts (atoms, quoted strings, UTF-8, stray octets) and
/// domains (names, U-labels, literals) around the length limits.
fn mailbox_like() -> impl Strategy<Value = Vec<u8>> {
    let atom = prop_oneof![
        "[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]{1,12}".prop_map(String::into_bytes),
        "[a-zé\u{10348}]{1,6}".prop_map(String::into_bytes),
        Just(b"\xc3".to_vec()),
        Just(b"\xff".to_vec()),
        Just(b"\xe2\x82".to_vec()),
        Just(vec![b'a'; 60]),
    ];
    let local = prop_oneof![
        prop::collection::vec(atom.clone(), 1..4).prop_map(|atoms| atoms.join(&b'.')),
        "\"[ -~é]{0,10}\"".prop_map(String::into_bytes),
        prop::collection::vec(atom.clone(), 1..4).prop_map(|atoms| atoms.join(&b'-')),
    ];
    let label = prop_oneof![
        "[a-z0-9]([a-z0-9_-]{0,8}[a-z0-9])?".prop_map(String::into_bytes),
        "[a-zü-]{1,6}".prop_map(String::into_bytes),
        Just(b"\xc3\xbc".to_vec()),
        Just(b"\xfc".to_vec()),
        Just(vec![b'a'; 63]),
        Just(b"-a".to_vec()),
        Just(b"a-".to_vec()),
        Just(Vec::new()),
    ];
    let domain = prop_oneof![
        prop::collection::vec(label, 1..6).prop_map(|labels| labels.join(&b'.')),
        Just(b"[192.0.2.1]".to_vec()),
        Just(b"[IPv6:2001:db8::1]".to_vec()),
        Just(b"[x-tag:\xc3\xa9]".to_vec()),
    ];
    let route = prop_oneof![
        Just(Vec::new()),
        Just(b"@a.b,@\xc3\xbc:".to_vec()),
        Just(b"@\xff:".to_vec())
    ];
    let rest = prop_oneof![
        Just(Vec::new()),
        Just(b" SIZE=1".to_vec()),
        Just(b">".to_vec())
    ];
    (route, local, domain, rest).prop_map(|(route, local, domain, rest)| {
        [b"<".as_slice(), &route, &local, b"@", &domain, b">", &rest].concat()
    })
}

/// Where the fast path answers, the full grammar gives the same mailbox (text, split) and
/// rest; the public parsers agree with both.
fn check_plain_path(input: &[u8]) {
    let Some((plain, rest)) = plain_path(input) else {
        return;
    };
    let show = || String::from_utf8_lossy(input).into_owned();
    let ParsedMailbox::Name { text, at } = plain else {
        panic!("the fast path only makes names: {}", show());
    };
    match full_path(input) {
        Ok((
            ParsedMailbox::Name {
                text: full_text,
                at: full_at,
            },
            full_rest,
        )) => {
            assert_eq!(
                (text, at, rest),
                (full_text, full_at, full_rest),
                "{}",
                show()
            );
        }
        Ok(_) => panic!("the grammar found a literal: {}", show()),
        Err(err) => panic!("the grammar refuses {}: {err:?}", show()),
    }
    assert_eq!(parse_plain_path(input), parse_path_full(input).ok());
}

#[test]
fn plain_path_takes_the_usual_addresses() {
    for input in [
        &b"<a@b>"[..],
        b"<sender.name@example.org> SIZE=1",
        b"<x-y+z=w!#$%&'*/?^_`{|}~@mx-1.example-2.org>",
        b"<postmaster@example.org>",
    ] {
        assert!(plain_path(input).is_some(), "{input:?}");
        check_plain_path(input);
    }
    let long_local = path(&local_of_len(64), "b");
    assert!(plain_path(&long_local).is_some());
    let too_long_local = path(&local_of_len(65), "b");
    assert!(plain_path(&too_long_local).is_none());
    let longest = path(&local_of_len(64), &domain_of_len(189));
    assert_eq!(longest.len(), MAX_PATH_LEN);
    assert!(plain_path(&longest).is_some());
    let too_long = path(&local_of_len(64), &domain_of_len(190));
    assert!(plain_path(&too_long).is_none());
    assert_eq!(forward(&too_long), Err(AddressError::PathTooLong));
    // Everything unusual goes to the grammar.
    for input in [
        &b"<>"[..],
        b"<@a:b@c>",
        b"<\"a\"@b>",
        b"<a@[1.2.3.4]>",
        "<é@b>".as_bytes(),
        "<a@ü>".as_bytes(),
        b"<.a@b>",
        b"<a.@b>",
        b"<a..b@c>",
        b"<a@-b>",
        b"<a@b->",
        b"<a@b-.c>",
        b"<a@.b>",
        b"<a@b.>",
        b"<a@b..c>",
        b"<a@>",
        b"<@>",
        b"<a@b_c>",
        b"<a@b",
        b"<a b@c>",
    ] {
        assert!(plain_path(input).is_none(), "{input:?}");
    }
}

#[test]
fn every_byte_at_every_position_matches_the_reference() {
    for base in [
        &b"<ab.c@d-e.f>"[..],
        b"<\"a b\"@x.y>",
        b"<@r.s:u@[1.2.3.4]>",
        "<é.a@ü-b.c>".as_bytes(),
        b"client_1.example",
    ] {
        for position in 0..=base.len() {
            for byte in 0..=u8::MAX {
                let mut input = base.to_vec();
                input.insert(position, byte);
                check_against_reference(&input);
                if position < base.len() {
                    input.remove(position);
                    input[position] = byte;
                    check_against_reference(&input);
                }
            }
        }
    }
}

#[test]
fn length_limits_match_the_reference() {
    for len in [62, 63, 64, 65, 66] {
        let local = "a.".repeat(len / 2) + &"b".repeat(len % 2 + 1);
        for domain_len in [253, 254, 255, 256, 257] {
            let domain = domain_of_len(domain_len);
            check_against_reference(&path(&local, &domain));
            check_against_reference(&path(&local_of_len(len), &domain));
            check_against_reference(&path(&local_of_len(len), "x"));
            check_against_reference(domain.as_bytes());
            check_against_reference(format!("{domain}.").as_bytes());
            check_against_reference(format!("{domain}-").as_bytes());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn fast_path_matches_reference_on_mailboxes(input in mailbox_like()) {
        check_against_reference(&input);
    }

    #[test]
    fn fast_path_matches_reference_on_smtp_alphabet(
        input in prop::collection::vec(smtp_byte(), 0..300),
    ) {
        check_against_reference(&input);
    }
}

/// Domains compare without ASCII case through `eq_ignore_ascii_case` (RFC 5321 §2.4);
/// `==` stays byte for byte; literals compare by address; names never equal literals.
#[test]
fn domains_compare_without_ascii_case() {
    let name = |s: &str| Domain::Name(s.to_owned());
    assert!(name("MX.Example").eq_ignore_ascii_case(&name("mx.example")));
    assert_ne!(name("MX.Example"), name("mx.example"));
    assert!(!name("mx.example").eq_ignore_ascii_case(&name("mx.example.org")));
    assert!(!name("mx.example").eq_ignore_ascii_case(&name("mx-example")));
    // Outside ASCII, bytes must match (no Unicode case folding).
    assert!(name("Bücher.example").eq_ignore_ascii_case(&name("bücher.EXAMPLE")));
    assert!(!name("BÜCHER.example").eq_ignore_ascii_case(&name("bücher.example")));
    let v4 = parse_hello_domain(b"[192.0.2.1]").unwrap();
    assert!(v4.eq_ignore_ascii_case(&parse_hello_domain(b"[192.0.2.1]").unwrap()));
    let v6 = parse_hello_domain(b"[IPv6:2001:DB8::1]").unwrap();
    assert!(v6.eq_ignore_ascii_case(&parse_hello_domain(b"[ipv6:2001:db8:0::1]").unwrap()));
    assert!(!v4.eq_ignore_ascii_case(&name("192.0.2.1")));
    // A mailbox's borrowed domain, both ways.
    let mailbox: Mailbox = "user@MX.example".parse().unwrap();
    assert!(name("mx.EXAMPLE").eq_ignore_ascii_case(mailbox.domain()));
    assert!(
        mailbox
            .domain()
            .eq_ignore_ascii_case((&name("mx.example")).into())
    );
    // No trailing dot to ignore: the grammar refuses one.
    assert!(parse_hello_domain(b"mx.example.").is_err());
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(input in prop::collection::vec(any::<u8>(), 0..600)) {
        check_no_panic(&input);
    }

    #[test]
    fn smtp_alphabet_never_panics(input in prop::collection::vec(smtp_byte(), 0..300)) {
        check_no_panic(&input);
    }

    #[test]
    fn generated_mailboxes_round_trip(
        local in "[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]{1,20}(\\.[a-z0-9]{1,10}){0,3}",
        domain in "[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?(\\.[a-z0-9]{1,10}){0,3}",
        rest in "( [A-Z]+=[a-z0-9]+)?",
    ) {
        let input = format!("<{local}@{domain}>{rest}");
        let (path, tail) = parse_forward_path(input.as_bytes())
            .map_err(|e| TestCaseError::fail(format!("{input}: {e}")))?;
        prop_assert_eq!(tail, rest.as_bytes());
        let mailbox = path.mailbox().cloned()
            .ok_or_else(|| TestCaseError::fail("not a mailbox"))?;
        prop_assert_eq!(mailbox.local_part(), local.as_str());
        prop_assert_eq!(mailbox.domain(), &Domain::Name(domain.clone()));
        prop_assert_eq!(mailbox.to_string(), format!("{local}@{domain}"));
    }
}
