//! Tests of the MAIL and RCPT parameter parsers and encoders, grouped as the grammar is:
//! RFC 5321 §4.1.2 grammar, §4.1.1.11 classification, each parameter's value, RFC 3461 xtext,
//! errors, encoding, then properties (including agreement with the reference parsers).

use super::*;
use proptest::prelude::*;

use crate::codec::reference::params as reference;

const ALL: ParamSupport = ParamSupport::all();
const NONE: ParamSupport = ParamSupport {
    size: false,
    eight_bit_mime: false,
    binary_mime: false,
    smtputf8: false,
    dsn: false,
    requiretls: false,
    mt_priority: false,
    deliver_by: false,
    future_release: false,
    auth: false,
};

fn mail(input: &[u8]) -> Result<MailParams, ParamError> {
    parse_mail_params(input, &ALL)
}

fn rcpt(input: &[u8]) -> Result<RcptParams, ParamError> {
    parse_rcpt_params(input, &ALL)
}

/// (kind, keyword) of a MAIL error.
fn mail_err(input: &[u8]) -> (ParamErrorKind, String) {
    mail_err_with(input, &ALL)
}

fn mail_err_with(input: &[u8], support: &ParamSupport) -> (ParamErrorKind, String) {
    match parse_mail_params(input, support) {
        Ok(params) => panic!("expected an error, got {params:?}"),
        Err(error) => (error.kind(), error.keyword().to_owned()),
    }
}

fn rcpt_err(input: &[u8]) -> (ParamErrorKind, String) {
    match rcpt(input) {
        Ok(params) => panic!("expected an error, got {params:?}"),
        Err(error) => (error.kind(), error.keyword().to_owned()),
    }
}

fn err(kind: ParamErrorKind, keyword: &str) -> (ParamErrorKind, String) {
    (kind, keyword.to_owned())
}

use ParamErrorKind::{Duplicate, Forbidden, Syntax, TooLong, Unknown, Unsupported};

// ----- grammar (RFC 5321 §4.1.2) -----

#[test]
fn empty_input_has_no_parameters_and_blanks_are_errors() {
    assert_eq!(mail(b""), Ok(MailParams::default()));
    assert_eq!(rcpt(b""), Ok(RcptParams::default()));
    assert_eq!(mail_err(b" "), err(Syntax, ""));
    assert_eq!(mail_err(b"   "), err(Syntax, ""));
}

#[test]
fn parameters_need_a_leading_space() {
    assert_eq!(mail_err(b"SIZE=100"), err(Syntax, ""));
    assert_eq!(mail_err(b"\tSIZE=100"), err(Syntax, ""));
}

#[test]
fn space_runs_and_trailing_space_are_syntax_errors() {
    assert_eq!(mail_err(b"  SIZE=100"), err(Syntax, ""));
    assert_eq!(mail_err(b" SIZE=100  BODY=8BITMIME"), err(Syntax, ""));
    assert_eq!(mail_err(b" SIZE=100 "), err(Syntax, ""));
    assert_eq!(mail_err(b" "), err(Syntax, ""));
    let params = mail(b" SIZE=100 BODY=8BITMIME").unwrap();
    assert_eq!(params.size, Some(100));
    assert_eq!(params.body, Some(Body::EightBitMime));
}

#[test]
fn keywords_are_case_insensitive() {
    let params = mail(b" size=7 Body=8bitmime smtpUTF8 mt-priority=1").unwrap();
    assert_eq!(params.size, Some(7));
    assert_eq!(params.body, Some(Body::EightBitMime));
    assert!(params.smtputf8);
    assert_eq!(params.mt_priority, Some(1));
}

#[test]
fn malformed_grammar_is_syntax() {
    assert_eq!(mail_err(b" ="), err(Syntax, ""));
    assert_eq!(mail_err(b" =1"), err(Syntax, ""));
    assert_eq!(mail_err(b" SIZE="), err(Syntax, "SIZE"));
    assert_eq!(mail_err(b" SIZE=="), err(Syntax, "SIZE"));
    assert_eq!(mail_err(b" SIZE==1"), err(Syntax, "SIZE"));
    assert_eq!(mail_err(b" SIZE=1=2"), err(Syntax, "SIZE"));
    assert_eq!(mail_err(b" SIZE=1\tBODY=7BIT"), err(Syntax, "SIZE"));
    assert_eq!(mail_err(b" SIZE\t=1"), err(Syntax, "SIZE"));
    assert_eq!(mail_err(b" SIZE=1\r\n"), err(Syntax, "SIZE"));
    assert_eq!(mail_err(b" SIZE=1\x00"), err(Syntax, "SIZE"));
    assert_eq!(mail_err(b" SIZE=1\x7f"), err(Syntax, "SIZE"));
    assert_eq!(mail_err(b" -SIZE=1"), err(Syntax, ""));
    assert_eq!(mail_err(b" S_ZE=1"), err(Syntax, "S"));
    assert_eq!(mail_err(b" \xc3\xa9=1"), err(Syntax, ""));
}

#[test]
fn grammar_errors_win_over_unknown_keywords() {
    // Pass 1 checks the whole list before any keyword is classified.
    assert_eq!(mail_err(b" FOO=1 SIZE=="), err(Syntax, "SIZE"));
}

#[test]
fn utf8_values_pass_the_grammar_invalid_utf8_does_not() {
    // RFC 6531 §3.3: esmtp-value may carry UTF8-non-ascii.
    assert_eq!(mail_err(b" FOO=\xc3\xa9"), err(Unknown, "FOO"));
    assert_eq!(mail_err(b" FOO=\xc3\x28"), err(Syntax, "FOO"));
    assert_eq!(mail_err(b" FOO=\xff"), err(Syntax, "FOO"));
    // ...but no known parameter accepts raw non-ASCII.
    assert_eq!(mail_err(b" ENVID=\xc3\xa9"), err(Syntax, "ENVID"));
}

#[test]
fn keyword_with_inner_and_trailing_dash_is_grammatical() {
    assert_eq!(mail_err(b" X-FOO-=1"), err(Unknown, "X-FOO-"));
    assert_eq!(mail_err(b" 9X"), err(Unknown, "9X"));
}

#[test]
fn parameter_count_is_bounded() {
    let sixteen = b" X=1".repeat(MAX_PARAMS);
    assert_eq!(mail_err(&sixteen), err(Unknown, "X"));
    let seventeen = b" X=1".repeat(MAX_PARAMS + 1);
    assert_eq!(mail_err(&seventeen), err(TooLong, ""));
    let thousand = b" X=1".repeat(1000);
    assert_eq!(mail_err(&thousand), err(TooLong, ""));
    assert_eq!(rcpt_err(&thousand), err(TooLong, ""));
}

#[test]
fn tokenizer_keeps_exactly_sixteen() {
    let sixteen = b" A".repeat(MAX_PARAMS);
    let mut raw = Vec::new();
    let result = for_each_param(&sixteen, |param| {
        raw.push(param);
        Ok(())
    });
    assert_eq!(result, Ok(()));
    assert_eq!(raw.len(), MAX_PARAMS);
    assert!(raw.iter().all(|p| p.keyword == b"A" && p.value.is_none()));
    let seventeen = b" A".repeat(MAX_PARAMS + 1);
    raw.clear();
    let result = for_each_param(&seventeen, |param| {
        raw.push(param);
        Ok(())
    });
    assert_eq!(result, Err(ParamError::new(TooLong, b"")));
    // Every parameter was handed over before the grammar failed.
    assert_eq!(raw.len(), MAX_PARAMS);
}

// ----- classification (RFC 5321 §4.1.1.11) -----

#[test]
fn unknown_keywords_are_unknown() {
    let error = mail(b" FOO=1").unwrap_err();
    assert_eq!(error.kind(), Unknown);
    assert_eq!(error.reply_code(), 555);
    assert_eq!(error.description(), "Unknown parameter FOO");
    assert_eq!(mail_err(b" FOO"), err(Unknown, "FOO"));
}

#[test]
fn parameters_of_the_other_command_are_unknown() {
    assert_eq!(mail_err(b" NOTIFY=NEVER"), err(Unknown, "NOTIFY"));
    assert_eq!(mail_err(b" ORCPT=rfc822;a@b"), err(Unknown, "ORCPT"));
    assert_eq!(rcpt_err(b" SIZE=1"), err(Unknown, "SIZE"));
    assert_eq!(rcpt_err(b" RET=FULL"), err(Unknown, "RET"));
}

#[test]
fn every_parameter_needs_its_extension() {
    let cases: [(&[u8], &str); 12] = [
        (b" SIZE=1", "SIZE"),
        (b" BODY=7BIT", "BODY"),
        (b" SMTPUTF8", "SMTPUTF8"),
        (b" RET=FULL", "RET"),
        (b" ENVID=x", "ENVID"),
        (b" AUTH=<>", "AUTH"),
        (b" REQUIRETLS", "REQUIRETLS"),
        (b" MT-PRIORITY=1", "MT-PRIORITY"),
        (b" BY=10;N", "BY"),
        (b" HOLDFOR=10", "HOLDFOR"),
        (b" HOLDUNTIL=2030-01-01T00:00:00Z", "HOLDUNTIL"),
        (b" body=binarymime", "body"),
    ];
    for (input, keyword) in cases {
        assert_eq!(mail_err_with(input, &NONE), err(Unsupported, keyword));
    }
    for input in [&b" NOTIFY=NEVER"[..], b" ORCPT=rfc822;a"] {
        let error = parse_rcpt_params(input, &NONE).unwrap_err();
        assert_eq!(error.kind(), Unsupported);
        assert_eq!(error.reply_code(), 555);
    }
}

#[test]
fn unsupported_comes_before_value_checks() {
    assert_eq!(mail_err_with(b" SIZE=abc", &NONE), err(Unsupported, "SIZE"));
}

#[test]
fn body_values_need_their_own_extension() {
    let only_8bit = ParamSupport {
        eight_bit_mime: true,
        ..NONE
    };
    let only_binary = ParamSupport {
        binary_mime: true,
        ..NONE
    };
    assert_eq!(
        parse_mail_params(b" BODY=8BITMIME", &only_8bit)
            .unwrap()
            .body,
        Some(Body::EightBitMime)
    );
    assert_eq!(
        parse_mail_params(b" BODY=7BIT", &only_8bit).unwrap().body,
        Some(Body::SevenBit)
    );
    assert_eq!(
        mail_err_with(b" BODY=BINARYMIME", &only_8bit),
        err(Unsupported, "BODY")
    );
    assert_eq!(
        parse_mail_params(b" BODY=BINARYMIME", &only_binary)
            .unwrap()
            .body,
        Some(Body::BinaryMime)
    );
    assert_eq!(
        mail_err_with(b" BODY=8BITMIME", &only_binary),
        err(Unsupported, "BODY")
    );
    assert_eq!(
        mail_err_with(b" BODY=7BIT", &only_binary),
        err(Unsupported, "BODY")
    );
}

#[test]
fn duplicates_are_rejected() {
    assert_eq!(mail_err(b" RET=FULL RET=HDRS"), err(Duplicate, "RET"));
    assert_eq!(mail_err(b" SIZE=1 size=1"), err(Duplicate, "size"));
    assert_eq!(mail_err(b" SMTPUTF8 SMTPUTF8"), err(Duplicate, "SMTPUTF8"));
    assert_eq!(mail_err(b" HOLDFOR=1 HOLDFOR=2"), err(Duplicate, "HOLDFOR"));
    assert_eq!(
        rcpt_err(b" NOTIFY=NEVER NOTIFY=NEVER"),
        err(Duplicate, "NOTIFY")
    );
    let error = rcpt(b" ORCPT=rfc822;a ORCPT=rfc822;b").unwrap_err();
    assert_eq!(error.kind(), Duplicate);
    assert_eq!(error.reply_code(), 501);
    assert_eq!(error.description(), "Duplicate parameter ORCPT");
}

#[test]
fn holdfor_and_holduntil_exclude_each_other() {
    assert_eq!(
        mail_err(b" HOLDFOR=10 HOLDUNTIL=2030-01-01T00:00:00Z"),
        err(Duplicate, "HOLDUNTIL")
    );
    assert_eq!(
        mail_err(b" HOLDUNTIL=2030-01-01T00:00:00Z HOLDFOR=10"),
        err(Duplicate, "HOLDFOR")
    );
}

// ----- values -----

#[test]
fn size_values() {
    assert_eq!(mail(b" SIZE=0").unwrap().size, Some(0));
    assert_eq!(mail(b" SIZE=00100").unwrap().size, Some(100));
    assert_eq!(
        mail(b" SIZE=18446744073709551614").unwrap().size,
        Some(u64::MAX - 1)
    );
    assert_eq!(
        mail(b" SIZE=18446744073709551615").unwrap().size,
        Some(u64::MAX)
    );
    // 20 digits beyond u64 saturate (the server answers 552).
    assert_eq!(
        mail(b" SIZE=18446744073709551616").unwrap().size,
        Some(u64::MAX)
    );
    assert_eq!(
        mail(b" SIZE=99999999999999999999").unwrap().size,
        Some(u64::MAX)
    );
    // 21 digits: over the RFC 1870 1*20DIGIT limit.
    assert_eq!(
        mail_err(b" SIZE=000000000000000000001"),
        err(Syntax, "SIZE")
    );
    assert_eq!(mail_err(b" SIZE=abc"), err(Syntax, "SIZE"));
    assert_eq!(mail_err(b" SIZE=-1"), err(Syntax, "SIZE"));
    assert_eq!(mail_err(b" SIZE=+1"), err(Syntax, "SIZE"));
    assert_eq!(mail_err(b" SIZE"), err(Syntax, "SIZE"));
}

#[test]
fn body_values() {
    assert_eq!(mail(b" BODY=7bit").unwrap().body, Some(Body::SevenBit));
    assert_eq!(
        mail(b" BODY=8BITMIME").unwrap().body,
        Some(Body::EightBitMime)
    );
    assert_eq!(
        mail(b" BODY=BinaryMime").unwrap().body,
        Some(Body::BinaryMime)
    );
    assert_eq!(mail_err(b" BODY=FOO"), err(Syntax, "BODY"));
    assert_eq!(mail_err(b" BODY=8BIT"), err(Syntax, "BODY"));
    assert_eq!(mail_err(b" BODY"), err(Syntax, "BODY"));
}

#[test]
fn valueless_parameters_reject_values() {
    assert!(mail(b" SMTPUTF8").unwrap().smtputf8);
    assert!(mail(b" REQUIRETLS").unwrap().requiretls);
    assert_eq!(mail_err(b" SMTPUTF8=1"), err(Syntax, "SMTPUTF8"));
    assert_eq!(mail_err(b" REQUIRETLS=YES"), err(Syntax, "REQUIRETLS"));
}

#[test]
fn ret_values() {
    assert_eq!(mail(b" RET=FULL").unwrap().ret, Some(Ret::Full));
    assert_eq!(mail(b" RET=hdrs").unwrap().ret, Some(Ret::Headers));
    assert_eq!(mail_err(b" RET=HEADERS"), err(Syntax, "RET"));
    assert_eq!(mail_err(b" RET"), err(Syntax, "RET"));
}

#[test]
fn envid_values() {
    assert_eq!(
        mail(b" ENVID=QQ314159").unwrap().envid.as_deref(),
        Some("QQ314159")
    );
    assert_eq!(
        mail(b" ENVID=a+2Bb+3Dc").unwrap().envid.as_deref(),
        Some("a+b=c")
    );
    assert_eq!(
        mail(b" ENVID=+C3+A9").unwrap().envid.as_deref(),
        Some("\u{e9}")
    );
    assert_eq!(mail_err(b" ENVID=a+0Ab"), err(Forbidden, "ENVID"));
    assert_eq!(mail_err(b" ENVID=a+2bb"), err(Syntax, "ENVID"));
    assert_eq!(mail_err(b" ENVID=+C3"), err(Syntax, "ENVID"));
    assert_eq!(mail_err(b" ENVID"), err(Syntax, "ENVID"));
}

#[test]
fn envid_length_limit_is_on_the_encoded_form() {
    let at_limit = [b" ENVID=".as_slice(), &[b'a'; MAX_ENVID_LEN]].concat();
    assert_eq!(
        mail(&at_limit).unwrap().envid.map(|e| e.len()),
        Some(MAX_ENVID_LEN)
    );
    let over = [b" ENVID=".as_slice(), &[b'a'; MAX_ENVID_LEN + 1]].concat();
    assert_eq!(mail_err(&over), err(TooLong, "ENVID"));
    // 34 hexchars = 102 encoded characters for 34 decoded ones.
    let encoded_over = [b" ENVID=".as_slice(), &b"+41".repeat(34)].concat();
    assert_eq!(mail_err(&encoded_over), err(TooLong, "ENVID"));
    let encoded_at = [b" ENVID=a".as_slice(), &b"+41".repeat(33)].concat();
    assert_eq!(mail(&encoded_at).unwrap().envid.map(|e| e.len()), Some(34));
}

#[test]
fn auth_values() {
    assert_eq!(mail(b" AUTH=<>").unwrap().auth, Some(AuthParam::Null));
    assert_eq!(mail(b" AUTH=+3C+3E").unwrap().auth, Some(AuthParam::Null));
    assert_eq!(
        mail(b" AUTH=e+3Dmc2@example.com").unwrap().auth,
        Some(AuthParam::Mailbox("e=mc2@example.com".to_owned()))
    );
    let error = mail(b" AUTH=a+0Ab").unwrap_err();
    assert_eq!(error.kind(), Forbidden);
    assert_eq!(error.reply_code(), 501);
    assert_eq!(error.description(), "Control character in parameter AUTH");
    assert_eq!(mail_err(b" AUTH=a+0D+0Ab"), err(Forbidden, "AUTH"));
    assert_eq!(mail_err(b" AUTH"), err(Syntax, "AUTH"));
}

#[test]
fn auth_length_limit() {
    let at_limit = [b" AUTH=".as_slice(), &[b'a'; MAX_AUTH_LEN]].concat();
    assert!(
        matches!(mail(&at_limit).unwrap().auth, Some(AuthParam::Mailbox(m)) if m.len() == MAX_AUTH_LEN)
    );
    let over = [b" AUTH=".as_slice(), &[b'a'; MAX_AUTH_LEN + 1]].concat();
    assert_eq!(mail_err(&over), err(TooLong, "AUTH"));
}

#[test]
fn mt_priority_values() {
    for (input, expected) in [
        (&b" MT-PRIORITY=-9"[..], -9),
        (b" MT-PRIORITY=9", 9),
        (b" MT-PRIORITY=+3", 3),
        (b" MT-PRIORITY=0", 0),
        (b" MT-PRIORITY=-0", 0),
    ] {
        assert_eq!(mail(input).unwrap().mt_priority, Some(expected));
    }
    for input in [
        &b" MT-PRIORITY=10"[..],
        b" MT-PRIORITY=-10",
        b" MT-PRIORITY=09",
        b" MT-PRIORITY=+-1",
        b" MT-PRIORITY=-",
        b" MT-PRIORITY=a",
        b" MT-PRIORITY",
    ] {
        assert_eq!(mail_err(input), err(Syntax, "MT-PRIORITY"));
    }
}

#[test]
fn deliver_by_values() {
    let by = |seconds, mode, trace| {
        Some(DeliverBy {
            seconds,
            mode,
            trace,
        })
    };
    assert_eq!(
        mail(b" BY=120;R").unwrap().deliver_by,
        by(120, ByMode::Return, false)
    );
    assert_eq!(
        mail(b" BY=120;RT").unwrap().deliver_by,
        by(120, ByMode::Return, true)
    );
    assert_eq!(
        mail(b" BY=+1;r").unwrap().deliver_by,
        by(1, ByMode::Return, false)
    );
    assert_eq!(
        mail(b" BY=-5;N").unwrap().deliver_by,
        by(-5, ByMode::Notify, false)
    );
    assert_eq!(
        mail(b" BY=0;nt").unwrap().deliver_by,
        by(0, ByMode::Notify, true)
    );
    assert_eq!(
        mail(b" BY=999999999;N").unwrap().deliver_by,
        by(999_999_999, ByMode::Notify, false)
    );
    assert_eq!(
        mail(b" BY=-999999999;N").unwrap().deliver_by,
        by(-999_999_999, ByMode::Notify, false)
    );
    for input in [
        &b" BY=1000000000;N"[..], // 10 digits
        b" BY=0;R",               // RFC 2852 §4: by-time <= 0 not allowed with R
        b" BY=-1;R",
        b" BY=-0;RT",
        b" BY=120",
        b" BY=120;",
        b" BY=120;X",
        b" BY=120;T",
        b" BY=120;RTT",
        b" BY=120;RX",
        b" BY=;R",
        b" BY=-;R",
        b" BY=1;2;R",
        b" BY",
    ] {
        assert_eq!(mail_err(input), err(Syntax, "BY"), "{input:?}");
    }
}

#[test]
fn holdfor_values() {
    assert_eq!(mail(b" HOLDFOR=0").unwrap().hold, Some(Hold::For(0)));
    assert_eq!(
        mail(b" HOLDFOR=999999999").unwrap().hold,
        Some(Hold::For(999_999_999))
    );
    assert_eq!(mail_err(b" HOLDFOR=1000000000"), err(Syntax, "HOLDFOR"));
    assert_eq!(mail_err(b" HOLDFOR=-1"), err(Syntax, "HOLDFOR"));
    assert_eq!(mail_err(b" HOLDFOR=1h"), err(Syntax, "HOLDFOR"));
    assert_eq!(mail_err(b" HOLDFOR"), err(Syntax, "HOLDFOR"));
}

#[test]
fn holduntil_accepts_rfc3339_date_times_as_sent() {
    for value in [
        "2030-01-31T12:00:00Z",
        "2028-02-29T00:00:00Z",
        "2000-02-29T00:00:00Z",
        "2030-12-31T23:59:60Z",
        "2030-01-01t00:00:00z",
        "2030-01-01T00:00:00.5+05:30",
        "2030-01-01T00:00:00.123456789-23:59",
    ] {
        let input = format!(" HOLDUNTIL={value}");
        assert_eq!(
            mail(input.as_bytes()).unwrap().hold,
            Some(Hold::Until(value.to_owned()))
        );
    }
}

#[test]
fn holduntil_rejects_invalid_date_times() {
    for value in [
        "2030-02-29T00:00:00Z",
        "1900-02-29T00:00:00Z",
        "2030-04-31T00:00:00Z",
        "2030-13-01T00:00:00Z",
        "2030-00-01T00:00:00Z",
        "2030-01-00T00:00:00Z",
        "2030-01-01T24:00:00Z",
        "2030-01-01T00:60:00Z",
        "2030-01-01T00:00:61Z",
        "2030-01-01T00:00:00.Z",
        "2030-01-01T00:00:00.1234567890Z",
        "2030-01-01T00:00:00+24:00",
        "2030-01-01T00:00:00+05:60",
        "2030-01-01T00:00:00+0530",
        "2030-01-01T00:00:00",
        "2030-01-01T00:00:00ZZ",
        "2030-01-01",
        "30-01-01T00:00:00Z",
        "2030-1-01T00:00:00Z",
        "2030-01-01X00:00:00Z",
    ] {
        let input = format!(" HOLDUNTIL={value}");
        assert_eq!(
            mail_err(input.as_bytes()),
            err(Syntax, "HOLDUNTIL"),
            "{value}"
        );
    }
}

#[test]
fn notify_values() {
    let notify = |success, failure, delay| {
        Some(Notify {
            success,
            failure,
            delay,
        })
    };
    assert_eq!(
        rcpt(b" NOTIFY=NEVER").unwrap().notify,
        notify(false, false, false)
    );
    assert_eq!(
        rcpt(b" NOTIFY=never").unwrap().notify,
        notify(false, false, false)
    );
    assert_eq!(
        rcpt(b" NOTIFY=failure").unwrap().notify,
        notify(false, true, false)
    );
    assert_eq!(
        rcpt(b" NOTIFY=DELAY,SUCCESS,FAILURE").unwrap().notify,
        notify(true, true, true)
    );
    for input in [
        &b" NOTIFY=NEVER,SUCCESS"[..],
        b" NOTIFY=SUCCESS,NEVER",
        b" NOTIFY=SUCCESS,SUCCESS",
        b" NOTIFY=SUCCESS,",
        b" NOTIFY=,SUCCESS",
        b" NOTIFY=SUCCESS,,DELAY",
        b" NOTIFY=FOO",
        b" NOTIFY",
    ] {
        assert_eq!(rcpt_err(input), err(Syntax, "NOTIFY"), "{input:?}");
    }
}

#[test]
fn orcpt_values() {
    let orcpt = |addr_type: &str, address: &str| {
        Some(Box::new(Orcpt {
            addr_type: addr_type.to_owned(),
            address: address.to_owned(),
        }))
    };
    assert_eq!(
        rcpt(b" ORCPT=rfc822;a@b").unwrap().orcpt,
        orcpt("rfc822", "a@b")
    );
    assert_eq!(
        rcpt(b" ORCPT=utf-8;a+40b").unwrap().orcpt,
        orcpt("utf-8", "a@b")
    );
    assert_eq!(
        rcpt(b" ORCPT=rfc822;a;b").unwrap().orcpt,
        orcpt("rfc822", "a;b")
    );
    assert_eq!(
        rcpt_err(b" ORCPT=rfc822;b+0D+0A@y"),
        err(Forbidden, "ORCPT")
    );
    for input in [
        &b" ORCPT=rfc822"[..],
        b" ORCPT=;a@b",
        b" ORCPT=rfc822;",
        b" ORCPT=rf(c;a@b",
        b" ORCPT=a@b;c",
        b" ORCPT=rfc822;a+zz",
        b" ORCPT",
    ] {
        assert_eq!(rcpt_err(input), err(Syntax, "ORCPT"), "{input:?}");
    }
}

#[test]
fn orcpt_length_limit_counts_the_whole_value() {
    let at_limit = [b" ORCPT=rfc822;".as_slice(), &[b'a'; MAX_ORCPT_LEN - 7]].concat();
    assert_eq!(
        rcpt(&at_limit).unwrap().orcpt.map(|o| o.address.len()),
        Some(MAX_ORCPT_LEN - 7)
    );
    let over = [b" ORCPT=rfc822;".as_slice(), &[b'a'; MAX_ORCPT_LEN - 6]].concat();
    assert_eq!(rcpt_err(&over), err(TooLong, "ORCPT"));
}

#[test]
fn full_mail_and_rcpt_lines() {
    let params = mail(
        b" SIZE=1000 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=QQ314159 AUTH=<> \
          REQUIRETLS MT-PRIORITY=-3 BY=60;RT HOLDFOR=30",
    )
    .unwrap();
    let expected = MailParams {
        size: Some(1000),
        body: Some(Body::EightBitMime),
        smtputf8: true,
        ret: Some(Ret::Headers),
        envid: Some("QQ314159".to_owned()),
        auth: Some(AuthParam::Null),
        requiretls: true,
        mt_priority: Some(-3),
        deliver_by: Some(DeliverBy {
            seconds: 60,
            mode: ByMode::Return,
            trace: true,
        }),
        hold: Some(Hold::For(30)),
    };
    assert_eq!(params, expected);

    let params = rcpt(b" NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;Bob@Example.COM").unwrap();
    assert_eq!(
        params.notify,
        Some(Notify {
            success: true,
            failure: true,
            delay: false
        })
    );
    assert_eq!(params.orcpt.unwrap().address, "Bob@Example.COM");
}

// ----- xtext (RFC 3461 §4) -----

fn xtext_err(input: &[u8]) -> ParamErrorKind {
    decode_xtext(input).unwrap_err().kind()
}

#[test]
fn xtext_decoding() {
    assert_eq!(decode_xtext(b"").unwrap(), "");
    assert_eq!(decode_xtext(b"abc").unwrap(), "abc");
    assert_eq!(decode_xtext(b"+41+2B+3D").unwrap(), "A+=");
    assert_eq!(decode_xtext(b"+20").unwrap(), " ");
    assert_eq!(decode_xtext(b"+7E").unwrap(), "~");
    assert_eq!(decode_xtext(b"+E2+82+AC").unwrap(), "\u{20ac}");
    assert_eq!(xtext_err(b"+"), Syntax);
    assert_eq!(xtext_err(b"+4"), Syntax);
    assert_eq!(xtext_err(b"+4g"), Syntax);
    assert_eq!(xtext_err(b"+e9"), Syntax);
    assert_eq!(xtext_err(b"a=b"), Syntax);
    assert_eq!(xtext_err(b"a b"), Syntax);
    assert_eq!(xtext_err(b"\xc3\xa9"), Syntax);
    assert_eq!(xtext_err(b"+C3+28"), Syntax);
    assert_eq!(xtext_err(b"+FF"), Syntax);
}

#[test]
fn xtext_rejects_decoded_controls() {
    for input in [
        &b"a+0Ab"[..],
        b"+0D",
        b"+00",
        b"+09",
        b"+1F",
        b"+7F",
        b"+C2+80",
        b"+C2+9F",
    ] {
        let error = decode_xtext(input).unwrap_err();
        assert_eq!(error.kind(), Forbidden, "{input:?}");
        assert_eq!(error.keyword(), "");
    }
    // A control wins over invalid UTF-8 elsewhere in the value.
    assert_eq!(xtext_err(b"+0A+FF"), Forbidden);
    // U+00A0 is not a control.
    assert_eq!(decode_xtext(b"+C2+A0").unwrap(), "\u{a0}");
}

#[test]
fn xtext_encoding() {
    assert_eq!(encode_xtext(""), "");
    assert_eq!(encode_xtext("a+b=c d"), "a+2Bb+3Dc+20d");
    assert_eq!(encode_xtext("\u{e9}"), "+C3+A9");
    assert_eq!(encode_xtext("!~<>"), "!~<>");
    assert_eq!(encode_xtext("\r\n"), "+0D+0A");
}

// ----- errors -----

#[test]
fn error_reply_codes_and_descriptions() {
    let cases: [(&[u8], u16, &str); 6] = [
        (b" FOO=1", 555, "Unknown parameter FOO"),
        (b" AUTH=x", 555, "Unsupported parameter AUTH"),
        (b" SIZE=x", 501, "Syntax error in parameter SIZE"),
        (b" SIZE=1 SIZE=2", 501, "Duplicate parameter SIZE"),
        (b"SIZE=1", 501, "Syntax error in parameters"),
        (b" SMTPUTF8 SMTPUTF8", 501, "Duplicate parameter SMTPUTF8"),
    ];
    let support = ParamSupport { auth: false, ..ALL };
    for (input, code, text) in cases {
        let error = parse_mail_params(input, &support).unwrap_err();
        assert_eq!(error.reply_code(), code, "{input:?}");
        assert_eq!(error.description(), text, "{input:?}");
        assert_eq!(error.enhanced_code(), "5.5.4");
    }
    let too_many = mail(&b" X".repeat(17)).unwrap_err();
    assert_eq!(
        (too_many.reply_code(), too_many.description()),
        (501, "Too many parameters".to_owned())
    );
    let too_long = mail(&[b" ENVID=".as_slice(), &[b'a'; 101]].concat()).unwrap_err();
    assert_eq!(too_long.description(), "Parameter ENVID too long");
    assert_eq!(
        decode_xtext(b"+0A").unwrap_err().description(),
        "Control character in parameter value"
    );
}

#[test]
fn error_keyword_is_capped_at_32_characters() {
    let keyword_32 = "K".repeat(32);
    let error = mail(format!(" {keyword_32}").as_bytes()).unwrap_err();
    assert_eq!(error.keyword(), keyword_32);
    let error = mail(format!(" {}", "K".repeat(33)).as_bytes()).unwrap_err();
    assert_eq!(error.keyword(), keyword_32);
    assert_eq!(
        error.description(),
        format!("Unknown parameter {keyword_32}")
    );
    let error = mail(format!(" {}", "K".repeat(5000)).as_bytes()).unwrap_err();
    assert_eq!(error.keyword().len(), 32);
}

// ----- encoding -----

#[test]
fn mail_encoding_is_canonical() {
    let params = MailParams {
        size: Some(100),
        body: Some(Body::BinaryMime),
        smtputf8: true,
        ret: Some(Ret::Full),
        envid: Some("a+b c".to_owned()),
        auth: Some(AuthParam::Mailbox("u=1@x".to_owned())),
        requiretls: true,
        mt_priority: Some(-3),
        deliver_by: Some(DeliverBy {
            seconds: -5,
            mode: ByMode::Notify,
            trace: true,
        }),
        hold: Some(Hold::Until("2030-01-01T00:00:00Z".to_owned())),
    };
    let mut out = String::new();
    params.encode(&mut out);
    assert_eq!(
        out,
        " SIZE=100 BODY=BINARYMIME SMTPUTF8 RET=FULL ENVID=a+2Bb+20c AUTH=u+3D1@x \
         REQUIRETLS MT-PRIORITY=-3 BY=-5;NT HOLDUNTIL=2030-01-01T00:00:00Z"
    );
    assert_eq!(mail(out.as_bytes()), Ok(params));

    let mut out = String::new();
    MailParams::default().encode(&mut out);
    assert_eq!(out, "");
    let params = MailParams {
        auth: Some(AuthParam::Null),
        hold: Some(Hold::For(9)),
        deliver_by: Some(DeliverBy {
            seconds: 7,
            mode: ByMode::Return,
            trace: false,
        }),
        ..MailParams::default()
    };
    params.encode(&mut out);
    assert_eq!(out, " AUTH=<> BY=7;R HOLDFOR=9");
}

#[test]
fn rcpt_encoding_is_canonical() {
    let params = RcptParams {
        notify: Some(Notify {
            success: true,
            failure: false,
            delay: true,
        }),
        orcpt: Some(Box::new(Orcpt {
            addr_type: "rfc822".to_owned(),
            address: "a+b@x".to_owned(),
        })),
    };
    let mut out = String::new();
    params.encode(&mut out);
    assert_eq!(out, " NOTIFY=SUCCESS,DELAY ORCPT=rfc822;a+2Bb@x");
    assert_eq!(rcpt(out.as_bytes()), Ok(params));

    let params = RcptParams {
        notify: Some(Notify::default()),
        ..RcptParams::default()
    };
    let mut out = String::new();
    params.encode(&mut out);
    assert_eq!(out, " NOTIFY=NEVER");
}

// ----- property tests -----

/// Text without control characters: up to `max_chars` printable ASCII
/// characters, or a few arbitrary ones, so that the xtext form stays
/// within about `3 * max_chars` octets.
fn text(max_chars: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::string::string_regex(&format!("[ -~]{{1,{max_chars}}}")).unwrap(),
        proptest::string::string_regex(&format!("[^\\p{{Cc}}]{{1,{}}}", max_chars / 12 + 1))
            .unwrap(),
    ]
}

fn date_time() -> impl Strategy<Value = String> {
    (
        0u32..=9999,
        1u32..=12,
        1u32..=28,
        0u32..=23,
        0u32..=59,
        0u32..=60,
        proptest::option::of(0u32..=999_999_999),
        prop_oneof![
            Just("Z".to_owned()),
            Just("z".to_owned()),
            (any::<bool>(), 0u32..=23, 0u32..=59).prop_map(|(minus, h, m)| format!(
                "{}{h:02}:{m:02}",
                if minus { '-' } else { '+' }
            )),
        ],
    )
        .prop_map(|(y, mo, d, h, mi, s, frac, offset)| {
            let frac = frac.map(|f| format!(".{f}")).unwrap_or_default();
            format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{frac}{offset}")
        })
}

fn deliver_by() -> impl Strategy<Value = DeliverBy> {
    (-999_999_999i64..=999_999_999, any::<bool>(), any::<bool>()).prop_map(|(seconds, r, trace)| {
        let mode = if r && seconds > 0 {
            ByMode::Return
        } else {
            ByMode::Notify
        };
        DeliverBy {
            seconds,
            mode,
            trace,
        }
    })
}

prop_compose! {
    fn mail_params()(
        size in proptest::option::of(any::<u64>()),
        body in proptest::option::of(prop_oneof![
            Just(Body::SevenBit), Just(Body::EightBitMime), Just(Body::BinaryMime)
        ]),
        smtputf8 in any::<bool>(),
        ret in proptest::option::of(prop_oneof![Just(Ret::Full), Just(Ret::Headers)]),
        envid in proptest::option::of(text(33)),
        auth in proptest::option::of(prop_oneof![
            Just(AuthParam::Null),
            text(160).prop_filter("<> is Null", |m| m != "<>").prop_map(AuthParam::Mailbox),
        ]),
        requiretls in any::<bool>(),
        mt_priority in proptest::option::of(-9i8..=9),
        deliver_by in proptest::option::of(deliver_by()),
        hold in proptest::option::of(prop_oneof![
            (0u64..=999_999_999).prop_map(Hold::For),
            date_time().prop_map(Hold::Until),
        ]),
    ) -> MailParams {
        MailParams {
            size,
            body,
            smtputf8,
            ret,
            envid,
            auth,
            requiretls,
            mt_priority,
            deliver_by,
            hold,
        }
    }
}

prop_compose! {
    fn rcpt_params()(
        notify in proptest::option::of(
            (any::<bool>(), any::<bool>(), any::<bool>())
                .prop_map(|(success, failure, delay)| Notify { success, failure, delay })
        ),
        orcpt in proptest::option::of(
            ("[A-Za-z0-9!#$%&'*+/?^_`{|}~-]{1,10}", text(160))
                .prop_map(|(addr_type, address)| Box::new(Orcpt { addr_type, address }))
        ),
    ) -> RcptParams {
        RcptParams { notify, orcpt }
    }
}

/// Tokens for parameter-shaped fuzz input: real keywords and values,
/// separators and the bytes that broke other parsers.
const SOUP_TOKENS: &[&[u8]] = &[
    b" ",
    b"=",
    b";",
    b",",
    b"+",
    b"-",
    b"\t",
    b"\r\n",
    b"\x00",
    b"+0A",
    b"+C3+A9",
    b"\xc3\xa9",
    b"\xff",
    b"SIZE",
    b"BODY",
    b"8BITMIME",
    b"BINARYMIME",
    b"SMTPUTF8",
    b"RET",
    b"FULL",
    b"ENVID",
    b"AUTH",
    b"<>",
    b"REQUIRETLS",
    b"MT-PRIORITY",
    b"BY",
    b"R",
    b"NT",
    b"HOLDFOR",
    b"HOLDUNTIL",
    b"2030-02-28T23:59:60.5+01:00",
    b"NOTIFY",
    b"NEVER",
    b"SUCCESS",
    b"ORCPT",
    b"rfc822",
    b"0",
    b"9",
    b"999999999",
    b"18446744073709551616",
];

/// Parameter-shaped fuzz input: tokens from [`SOUP_TOKENS`] mixed with
/// random bytes.
fn param_soup() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec((0..SOUP_TOKENS.len() + 8, any::<u8>()), 0..40).prop_map(|parts| {
        let mut out = Vec::new();
        for (index, byte) in parts {
            match SOUP_TOKENS.get(index) {
                Some(token) => out.extend_from_slice(token),
                None => out.push(byte),
            }
        }
        out
    })
}

fn any_support() -> impl Strategy<Value = ParamSupport> {
    proptest::collection::vec(any::<bool>(), 10).prop_map(|f| ParamSupport {
        size: f[0],
        eight_bit_mime: f[1],
        binary_mime: f[2],
        smtputf8: f[3],
        dsn: f[4],
        requiretls: f[5],
        mt_priority: f[6],
        deliver_by: f[7],
        future_release: f[8],
        auth: f[9],
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..600), support in any_support()) {
        let _ = parse_mail_params(&input, &support);
        let _ = parse_rcpt_params(&input, &support);
        let _ = decode_xtext(&input);
    }

    #[test]
    fn parameter_soup_never_panics(input in param_soup(), support in any_support()) {
        let mail = parse_mail_params(&input, &support);
        let rcpt = parse_rcpt_params(&input, &support);
        for error in [mail.err(), rcpt.err()].into_iter().flatten() {
            prop_assert!(error.keyword().len() <= 32);
            prop_assert!(matches!(error.reply_code(), 501 | 555));
        }
        let soup = [b" ".as_slice(), &input].concat();
        let _ = parse_mail_params(&soup, &ParamSupport::all());
        let _ = parse_rcpt_params(&soup, &ParamSupport::all());
    }

    #[test]
    fn accepted_values_never_contain_controls(input in param_soup()) {
        let soup = [b" ".as_slice(), &input].concat();
        if let Ok(params) = parse_mail_params(&soup, &ParamSupport::all()) {
            let strings = [
                params.envid.clone(),
                match params.auth { Some(AuthParam::Mailbox(m)) => Some(m), _ => None },
            ];
            for s in strings.into_iter().flatten() {
                prop_assert!(!s.chars().any(char::is_control));
            }
        }
        if let Ok(RcptParams { orcpt: Some(orcpt), .. }) = parse_rcpt_params(&soup, &ParamSupport::all()) {
            prop_assert!(!orcpt.address.chars().any(char::is_control));
        }
    }

    #[test]
    fn mail_round_trip(params in mail_params()) {
        let mut encoded = String::new();
        params.encode(&mut encoded);
        prop_assert_eq!(parse_mail_params(encoded.as_bytes(), &ParamSupport::all()), Ok(params));
    }

    #[test]
    fn rcpt_round_trip(params in rcpt_params()) {
        let mut encoded = String::new();
        params.encode(&mut encoded);
        prop_assert_eq!(parse_rcpt_params(encoded.as_bytes(), &ParamSupport::all()), Ok(params));
    }

    #[test]
    fn xtext_round_trip(s in "[^\\p{Cc}]{0,64}") {
        let encoded = encode_xtext(&s);
        prop_assert!(encoded.bytes().all(|b| b.is_ascii_graphic() && b != b'='));
        prop_assert_eq!(decode_xtext(encoded.as_bytes()), Ok(s));
    }

    #[test]
    fn xtext_with_controls_is_forbidden(
        prefix in "[^\\p{Cc}]{0,8}",
        control in proptest::char::range('\0', '\u{9f}').prop_filter("control", |c| c.is_control()),
        suffix in "[^\\p{Cc}]{0,8}",
    ) {
        let s = format!("{prefix}{control}{suffix}");
        let error = decode_xtext(encode_xtext(&s).as_bytes()).unwrap_err();
        prop_assert_eq!(error.kind(), ParamErrorKind::Forbidden);
    }
}

/// Every keyword and BODY value of the grammar, in random case, cut or extended: the
/// inputs where a by-length lookup and a table search could disagree.
fn keyword_like() -> impl Strategy<Value = Vec<u8>> {
    let names: Vec<&'static str> = MailKeyword::TABLE
        .iter()
        .map(|(name, _)| *name)
        .chain(RcptKeyword::TABLE.iter().map(|(name, _)| *name))
        .chain(["7BIT", "8BITMIME", "BINARYMIME", "NEVER", ""])
        .collect();
    (
        proptest::sample::select(names),
        any::<u64>(),
        0usize..3,
        proptest::collection::vec(any::<u8>(), 0..3),
    )
        .prop_map(|(name, case, cut, extra)| {
            let mut out: Vec<u8> = name
                .bytes()
                .enumerate()
                .map(|(i, b)| {
                    if case >> (i % 64) & 1 == 1 {
                        b.to_ascii_lowercase()
                    } else {
                        b
                    }
                })
                .collect();
            out.truncate(out.len().saturating_sub(cut % 2));
            if cut == 2 {
                out.extend_from_slice(&extra);
            }
            out
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn keyword_lookup_matches_the_table(keyword in keyword_like()) {
        prop_assert_eq!(MailKeyword::lookup(&keyword), reference::lookup::<MailKeyword>(&keyword));
        prop_assert_eq!(RcptKeyword::lookup(&keyword), reference::lookup::<RcptKeyword>(&keyword));
    }

    #[test]
    fn body_matches_the_reference(value in keyword_like(), support in any_support()) {
        prop_assert_eq!(parse_body(&value, &support), reference::body(&value, &support));
    }

    #[test]
    fn one_pass_matches_two_passes(input in param_soup(), support in any_support()) {
        let spaced = [b" ".as_slice(), &input].concat();
        for input in [&input, &spaced] {
            prop_assert_eq!(parse_mail_params(input, &support), reference::mail(input, &support));
            prop_assert_eq!(parse_rcpt_params(input, &support), reference::rcpt(input, &support));
        }
    }

    #[test]
    fn one_pass_matches_two_passes_on_bytes(
        input in proptest::collection::vec(prop_oneof![Just(b' '), Just(b'='), Just(b'A'), Just(b'-'), any::<u8>()], 0..80),
        support in any_support(),
    ) {
        prop_assert_eq!(parse_mail_params(&input, &support), reference::mail(&input, &support));
        prop_assert_eq!(parse_rcpt_params(&input, &support), reference::rcpt(&input, &support));
    }
}

#[test]
fn grammar_errors_come_before_earlier_classification_errors() {
    // FOO is unknown, but the later `==` is a grammar error, which is reported first.
    assert_eq!(mail_err(b" FOO=1 SIZE=="), err(Syntax, "SIZE"));
    assert_eq!(rcpt_err(b" FOO  NOTIFY=NEVER"), err(Syntax, ""));
    // Without a grammar error, the first classification error from the left wins.
    assert_eq!(mail_err(b" FOO=1 BAR=2"), err(Unknown, "FOO"));
    assert_eq!(mail_err(b" SIZE=x FOO=1"), err(Syntax, "SIZE"));
    let seventeen = [b" FOO".as_slice(), &b" X=1".repeat(MAX_PARAMS)].concat();
    assert_eq!(mail_err(&seventeen), err(TooLong, ""));
}

#[test]
fn spells_is_eq_ignore_ascii_case() {
    let names: [&[u8]; 8] = [
        b"SIZE",
        b"8BITMIME",
        b"7BIT",
        b"BINARYMIME",
        b"MT-PRIORITY",
        b"SMTPUTF8",
        b"BY",
        b"NOTIFY",
    ];
    for name in names {
        for position in 0..name.len() {
            for byte in 0..=u8::MAX {
                let mut spelt = name.to_vec();
                spelt[position] = byte;
                assert_eq!(spells(&spelt, name), spelt.eq_ignore_ascii_case(name));
                spelt.insert(position, byte);
                assert!(!spells(&spelt, name));
            }
        }
        assert!(spells(&name.to_ascii_lowercase(), name));
        assert!(!spells(&name[1..], name));
    }
}
