//! manual::replies rows CAP-01..CAP-16 (and EHLO-01), one test per row.

use super::*;
use crate::codec::reply::ReplyParser;

/// The capabilities of the EHLO reply whose lines after the first are `lines`, on a
/// plaintext session.
fn caps(lines: &[&str]) -> Capabilities {
    caps_tls(lines, false)
}

fn caps_tls(lines: &[&str], tls_active: bool) -> Capabilities {
    let mut wire = String::from("250");
    wire.push(if lines.is_empty() { ' ' } else { '-' });
    wire.push_str("mx.example greets client.example\r\n");
    for (i, line) in lines.iter().enumerate() {
        let sep = if i + 1 == lines.len() { ' ' } else { '-' };
        wire.push_str(&format!("250{sep}{line}\r\n"));
    }
    Capabilities::from_ehlo(&reply(wire.as_bytes()), tls_active).expect("250")
}

fn reply(wire: &[u8]) -> ParsedReply {
    let mut parser = ReplyParser::new();
    parser.feed(wire);
    parser.next_reply().expect("parses").expect("complete")
}

#[test]
fn ehlo_01_single_line_means_no_extensions() {
    let c = caps(&[]);
    assert_eq!(c.server_name(), "mx.example");
    assert_eq!(
        c,
        Capabilities {
            server_name: "mx.example".into(),
            ..Capabilities::default()
        }
    );
    assert!(c.keywords().is_empty());
    // A refused EHLO has no capabilities to read (the client falls back to HELO).
    assert_eq!(
        Capabilities::from_ehlo(&reply(b"502 5.5.1 unrecognized\r\n"), false),
        Err(EhloError::NotAccepted(502))
    );
}

#[test]
fn cap_01_first_line_is_not_a_capability() {
    let c = Capabilities::from_ehlo(
        &reply(b"250-mx.example PIPELINING\r\n250 8BITMIME\r\n"),
        false,
    )
    .expect("250");
    assert_eq!(c.server_name(), "mx.example");
    assert!(!c.pipelining());
    assert!(c.eight_bit_mime());
    assert_eq!(c.keywords(), ["8BITMIME"]);
}

#[test]
fn cap_02_keywords_are_case_insensitive() {
    assert!(caps(&["pipelining"]).pipelining());
    assert!(caps(&["Pipelining"]).pipelining());
    assert!(caps(&["Pipelining"]).supports("PIPELINING"));
    assert!(caps(&["x-Foo bar"]).supports("X-FOO"));
}

#[test]
fn cap_03_size_with_limit() {
    let c = caps(&["SIZE 10240000"]);
    assert!(c.size_supported());
    assert_eq!(c.size_limit(), Some(10_240_000));
}

#[test]
fn cap_04_size_without_fixed_limit() {
    for line in ["SIZE", "SIZE 0", "size"] {
        let c = caps(&[line]);
        assert!(c.size_supported(), "{line}");
        assert_eq!(c.size_limit(), None, "{line}");
    }
    assert!(!caps(&["PIPELINING"]).size_supported());
}

#[test]
fn cap_05_malformed_size_is_no_fixed_limit() {
    for line in [
        "SIZE abc",
        "SIZE 99999999999999999999999",
        "SIZE -1",
        "SIZE 12k",
    ] {
        let c = caps(&[line]);
        assert!(c.size_supported(), "{line}");
        assert_eq!(c.size_limit(), None, "{line}");
    }
    assert_eq!(
        caps(&["SIZE 18446744073709551615"]).size_limit(),
        Some(u64::MAX)
    );
    assert_eq!(caps(&["SIZE 18446744073709551616"]).size_limit(), None);
}

#[test]
fn cap_06_auth_mechanisms() {
    assert_eq!(
        caps(&["AUTH PLAIN LOGIN XOAUTH2"]).auth(),
        [
            AuthMechanism::Plain,
            AuthMechanism::Login,
            AuthMechanism::XOAuth2
        ]
    );
    assert_eq!(caps(&["auth plain"]).auth(), [AuthMechanism::Plain]);
    assert!(caps(&["PIPELINING"]).auth().is_empty());
}

#[test]
fn cap_07_obsolete_auth_form_and_second_line_union() {
    assert_eq!(
        caps(&["AUTH=LOGIN PLAIN"]).auth(),
        [AuthMechanism::Login, AuthMechanism::Plain]
    );
    assert_eq!(
        caps(&["AUTH PLAIN LOGIN", "AUTH=LOGIN", "AUTH CRAM-MD5"]).auth(),
        [
            AuthMechanism::Plain,
            AuthMechanism::Login,
            AuthMechanism::CramMd5
        ]
    );
}

#[test]
fn cap_08_unknown_mechanism_kept_by_name() {
    let c = caps(&["AUTH FOO-BAR PLAIN"]);
    assert_eq!(
        c.auth(),
        [AuthMechanism::Other("FOO-BAR".into()), AuthMechanism::Plain]
    );
    assert_eq!(c.auth()[0].name(), "FOO-BAR");
}

#[test]
fn cap_09_binarymime_only_with_chunking() {
    let c = caps(&["CHUNKING", "BINARYMIME"]);
    assert!(c.chunking() && c.binarymime());
    let c = caps(&["BINARYMIME"]);
    assert!(!c.chunking() && !c.binarymime());
    assert!(c.supports("BINARYMIME"));
}

#[test]
fn cap_10_flags() {
    let c = caps(&["8BITMIME", "SMTPUTF8", "DSN", "ENHANCEDSTATUSCODES"]);
    assert!(c.eight_bit_mime() && c.smtputf8() && c.dsn() && c.enhanced_status_codes());
    let none = caps(&["PIPELINING"]);
    assert!(!none.eight_bit_mime() && !none.smtputf8() && !none.dsn());
    assert!(!none.enhanced_status_codes());
}

#[test]
fn cap_11_starttls_ignored_under_tls() {
    assert!(caps_tls(&["STARTTLS"], false).starttls());
    let c = caps_tls(&["STARTTLS"], true);
    assert!(!c.starttls() && !c.supports("STARTTLS"));
}

#[test]
fn cap_12_requiretls_ignored_on_plaintext() {
    let c = caps_tls(&["REQUIRETLS"], false);
    assert!(!c.requiretls() && !c.supports("REQUIRETLS"));
    assert!(caps_tls(&["REQUIRETLS"], true).requiretls());
}

#[test]
fn cap_13_limits() {
    let l = caps(&["LIMITS RCPTMAX=100 MAILMAX=1000"])
        .limits()
        .expect("advertised");
    assert_eq!(
        (l.rcpt_max, l.mail_max, l.rcpt_domain_max),
        (Some(100), Some(1000), None)
    );
    assert_eq!(caps(&["PIPELINING"]).limits(), None);
    let l = caps(&["LIMITS RCPTMAX=x rcptdomainmax=5 MAILMAX"])
        .limits()
        .expect("advertised");
    assert_eq!(
        (l.rcpt_max, l.mail_max, l.rcpt_domain_max),
        (None, None, Some(5))
    );
}

#[test]
fn cap_14_xclient_attributes() {
    let c = caps(&["XCLIENT NAME ADDR PROTO HELO"]);
    assert_eq!(
        c.xclient().expect("advertised"),
        ["NAME", "ADDR", "PROTO", "HELO"]
    );
    assert_eq!(caps(&["PIPELINING"]).xclient(), None);
}

#[test]
fn cap_15_odd_lines_ignored_not_fatal() {
    let c = caps(&[
        "",
        "!!!",
        "X-UNKNOWN foo",
        "-BAD",
        "PIPE LINING\u{7f}",
        "DSN",
    ]);
    assert!(c.dsn());
    assert!(!c.pipelining());
    assert_eq!(
        c.unknown(),
        [Extension {
            keyword: "X-UNKNOWN".into(),
            params: vec!["foo".into()]
        }]
    );
    assert_eq!(c.keywords(), ["X-UNKNOWN", "DSN"]);
}

#[test]
fn cap_16_new_ehlo_replaces_capabilities() {
    let before = caps_tls(&["STARTTLS", "PIPELINING", "SIZE 1000"], false);
    let after = caps_tls(&["PIPELINING", "AUTH PLAIN"], true);
    assert!(before.starttls() && before.size_supported());
    assert!(!after.starttls() && !after.size_supported());
    assert_eq!(after.auth(), [AuthMechanism::Plain]);
}

#[test]
fn typed_extensions_with_parameters() {
    let c = caps(&[
        "MT-PRIORITY mixer",
        "DELIVERBY 240",
        "FUTURERELEASE 604800 2026-12-09T00:00:00Z",
    ]);
    assert_eq!(c.mt_priority(), Some(Some("MIXER")));
    assert_eq!(c.deliver_by(), Some(Some(240)));
    let f = c.future_release().expect("advertised");
    assert_eq!(f.max_interval, Some(604_800));
    assert_eq!(f.max_date_time.as_deref(), Some("2026-12-09T00:00:00Z"));
    let c = caps(&["MT-PRIORITY", "DELIVERBY", "FUTURERELEASE"]);
    assert_eq!(c.mt_priority(), Some(None));
    assert_eq!(c.deliver_by(), Some(None));
    assert_eq!(c.future_release(), Some(&FutureRelease::default()));
}

#[test]
fn enhanced_codes_and_trailing_spaces_on_capability_lines() {
    let c = Capabilities::from_ehlo(
        &reply(b"250-2.0.0 mx.example\r\n250-2.0.0 PIPELINING \r\n250 2.0.0 SIZE  500\r\n"),
        false,
    )
    .expect("250");
    assert_eq!(c.server_name(), "mx.example");
    assert!(c.pipelining());
    assert_eq!(c.size_limit(), Some(500));
}

proptest::proptest! {
    /// Any bytes on capability lines: never a panic, and the parse is the same whatever
    /// the case of the input's ASCII letters.
    #[test]
    fn arbitrary_lines_never_panic(
        lines in proptest::collection::vec("[ -~]{0,24}", 0..6),
        tls in proptest::bool::ANY,
    ) {
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        let c = caps_tls(&lines, tls);
        let upper: Vec<String> = lines.iter().map(|l| l.to_ascii_uppercase()).collect();
        let upper: Vec<&str> = upper.iter().map(String::as_str).collect();
        let u = caps_tls(&upper, tls);
        proptest::prop_assert_eq!(c.keywords(), u.keywords());
        proptest::prop_assert_eq!(c.auth(), u.auth());
        proptest::prop_assert_eq!(c.size_limit(), u.size_limit());
    }
}
