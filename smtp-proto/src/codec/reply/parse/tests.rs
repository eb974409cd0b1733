//! manual::replies rows REP-01..REP-17 and ESC-01..ESC-06, one test per row, plus
//! split invariance and the encode/parse round trip as properties.

use proptest::prelude::*;

use super::*;

/// Every reply in `wire` fed in one piece; panics on a parse error.
fn all(wire: &[u8]) -> Vec<ParsedReply> {
    all_with(ReplyParser::new(), &[wire]).expect("parses")
}

/// Every reply from `pieces` fed one after the other to `parser`.
fn all_with(
    mut parser: ReplyParser,
    pieces: &[&[u8]],
) -> Result<Vec<ParsedReply>, ReplyParseError> {
    let mut out = Vec::new();
    for piece in pieces {
        parser.feed(piece);
        while let Some(reply) = parser.next_reply()? {
            out.push(reply);
        }
    }
    Ok(out)
}

/// The only reply in `wire`.
fn one(wire: &[u8]) -> ParsedReply {
    let mut replies = all(wire);
    assert_eq!(replies.len(), 1, "{replies:?}");
    replies.remove(0)
}

/// The error `wire` gives.
fn error(wire: &[u8]) -> ReplyParseError {
    all_with(ReplyParser::new(), &[wire]).expect_err("a protocol error")
}

fn texts(reply: &ParsedReply) -> Vec<&[u8]> {
    reply.lines().iter().map(ReplyLine::text).collect()
}

fn esc(class: u8, subject: u16, detail: u16) -> Option<EnhancedCode> {
    EnhancedCode::new(class, subject, detail)
}

#[test]
fn rep_01_single_line() {
    let r = one(b"250 OK\r\n");
    assert_eq!(r.code(), 250);
    assert_eq!(texts(&r), [b"OK"]);
    assert!(!r.bare_lf_seen() && !r.is_truncated());
}

#[test]
fn rep_02_code_alone_is_not_an_error() {
    let r = one(b"250\r\n");
    assert_eq!(r.code(), 250);
    assert_eq!(texts(&r), [b""]);
}

#[test]
fn rep_03_code_and_space() {
    let r = one(b"250 \r\n");
    assert_eq!(r.code(), 250);
    assert_eq!(texts(&r), [b""]);
}

#[test]
fn rep_04_multiline() {
    let r = one(b"250-a\r\n250-b\r\n250 c\r\n");
    assert_eq!(r.code(), 250);
    assert_eq!(texts(&r), [b"a", b"b", b"c"]);
    assert_eq!(r.text_lossy(), "a\nb\nc");
}

#[test]
fn rep_05_continuation_without_text() {
    let r = one(b"250-\r\n250 c\r\n");
    assert_eq!(texts(&r), [&b""[..], b"c"]);
}

#[test]
fn rep_06_codes_differ() {
    assert_eq!(
        error(b"250-a\r\n251 b\r\n"),
        ReplyParseError::CodeMismatch {
            first: 250,
            found: 251
        }
    );
}

#[test]
fn rep_07_split_at_every_byte_boundary() {
    let wire = b"250-a\r\n250 b\r\n";
    let whole = all(wire);
    assert_eq!(texts(&whole[0]), [b"a", b"b"]);
    for at in 0..=wire.len() {
        let (left, right) = wire.split_at(at);
        assert_eq!(
            all_with(ReplyParser::new(), &[left, right]).expect("parses"),
            whole
        );
    }
    let bytes: Vec<&[u8]> = wire.chunks(1).collect();
    assert_eq!(all_with(ReplyParser::new(), &bytes).expect("parses"), whole);
}

#[test]
fn rep_08_two_replies_in_one_read() {
    let replies = all(b"250 a\r\n250 b\r\n");
    assert_eq!(replies.len(), 2);
    assert_eq!(texts(&replies[0]), [b"a"]);
    assert_eq!(texts(&replies[1]), [b"b"]);
}

#[test]
fn rep_09_partial_second_reply_kept_across_reads() {
    let mut parser = ReplyParser::new();
    parser.feed(b"250 a\r\n25");
    assert_eq!(
        texts(&parser.next_reply().expect("ok").expect("one")),
        [b"a"]
    );
    assert_eq!(parser.next_reply(), Ok(None));
    assert_eq!(parser.buffered(), 2);
    parser.feed(b"0 b\r\n");
    assert_eq!(
        texts(&parser.next_reply().expect("ok").expect("two")),
        [b"b"]
    );
    assert_eq!(parser.next_reply(), Ok(None));
    assert_eq!(parser.buffered(), 0);
}

#[test]
fn rep_10_malformed_codes() {
    for wire in [
        &b"2500 OK\r\n"[..],
        b"25 OK\r\n",
        b"250OK\r\n",
        b"2x0 OK\r\n",
    ] {
        let e = error(wire);
        assert!(
            matches!(e, ReplyParseError::Malformed { .. }),
            "{wire:?}: {e:?}"
        );
        assert!(!e.is_fatal_code());
    }
    // The parser stays failed.
    let mut parser = ReplyParser::new();
    parser.feed(b"2x0 OK\r\n");
    let e = parser.next_reply().expect_err("malformed");
    parser.feed(b"250 OK\r\n");
    assert_eq!(parser.next_reply(), Err(e));
}

#[test]
fn rep_11_first_digit_out_of_range_is_fatal() {
    for (wire, code) in [
        (&b"199 x\r\n"[..], 199),
        (b"600 x\r\n", 600),
        (b"000 x\r\n", 0),
    ] {
        let e = error(wire);
        assert_eq!(e, ReplyParseError::CodeOutOfRange(code));
        assert!(e.is_fatal_code());
    }
    // Also on a continuation line, and as soon as the line head has arrived.
    assert_eq!(
        error(b"250-a\r\n600 b\r\n"),
        ReplyParseError::CodeOutOfRange(600)
    );
    let mut parser = ReplyParser::new();
    parser.feed(b"600 no line end yet");
    assert_eq!(
        parser.next_reply(),
        Err(ReplyParseError::CodeOutOfRange(600))
    );
}

#[test]
fn rep_12_judged_by_first_digit() {
    let r = one(b"571 blocked\r\n");
    assert!(r.is_permanent() && !r.is_transient());
    let r = one(b"458 later\r\n");
    assert!(r.is_transient());
    let r = one(b"299 odd\r\n");
    assert!(r.is_positive());
    assert!(one(b"354 go\r\n").is_intermediate());
}

#[test]
fn rep_13_bare_lf_accepted_and_flagged() {
    let r = one(b"250 ok\n");
    assert_eq!(texts(&r), [b"ok"]);
    assert!(r.bare_lf_seen());
    assert!(r.lines()[0].bare_lf());
    let r = one(b"250-a\r\n250 b\n");
    assert!(!r.lines()[0].bare_lf() && r.lines()[1].bare_lf());
}

#[test]
fn rep_14_text_raw_and_sanitised() {
    let r = one(b"250 a\rb\r\n");
    assert_eq!(texts(&r), [b"a\rb"]);
    assert_eq!(r.lines()[0].sanitized_text(), "ab");
    let r = one(b"550-x\x1b[31m\ty\r\n550 z\x00\x7f\r\n");
    assert_eq!(r.sanitized_text(), "x[31m y z");
    assert!(!r.sanitized_text().chars().any(char::is_control));
}

#[test]
fn rep_15_long_line_truncated() {
    let mut wire = b"250 ".to_vec();
    wire.extend(std::iter::repeat_n(b'x', 5000));
    wire.extend_from_slice(b"\r\n250 next\r\n");
    let replies = all(&wire);
    assert_eq!(replies.len(), 2);
    let long = &replies[0];
    assert_eq!(long.code(), 250);
    assert!(long.is_truncated() && long.lines()[0].is_truncated());
    assert_eq!(long.lines()[0].text(), &[b'x'; 2048][..]);
    assert!(!long.bare_lf_seen());
    assert_eq!(texts(&replies[1]), [b"next"]);
    // The same when the line arrives in small reads, which are never all buffered.
    let mut parser = ReplyParser::new();
    let mut out = Vec::new();
    for piece in wire.chunks(100) {
        parser.feed(piece);
        assert!(parser.buf.len() <= 2048 + 5 + 100);
        while let Some(reply) = parser.next_reply().expect("parses") {
            out.push(reply);
        }
    }
    assert_eq!(out, replies);
}

#[test]
fn rep_16_endless_multiline_reply() {
    let wire = b"250-x\r\n".repeat(10_000);
    assert_eq!(error(&wire), ReplyParseError::TooManyLines(128));
    // 128 lines are allowed.
    let mut wire = b"250-x\r\n".repeat(127);
    wire.extend_from_slice(b"250 x\r\n");
    assert_eq!(one(&wire).lines().len(), 128);
    // The octet cap: 40 lines of 2,000 octets exceed 64 KiB.
    let line = [&b"250-"[..], &[b'y'; 1994], b"\r\n"].concat();
    assert_eq!(error(&line.repeat(40)), ReplyParseError::TooLong(65536));
    // Fed in pieces, the parser holds at most the cap plus one read.
    let mut parser = ReplyParser::new();
    let mut failed = false;
    for piece in line.repeat(40).chunks(512) {
        parser.feed(piece);
        if parser.next_reply().is_err() {
            failed = true;
            break;
        }
        assert!(parser.buffered() <= 65536 + 512);
    }
    assert!(failed);
}

#[test]
fn rep_17_utf8_text_is_bytes() {
    let r = one(b"250 \xc3\xa9t\xc3\xa9\r\n");
    assert_eq!(texts(&r), ["été".as_bytes()]);
    assert_eq!(r.sanitized_text(), "été");
    let r = one(b"250 \xff\xfe\r\n");
    assert_eq!(texts(&r), [b"\xff\xfe"]);
}

#[test]
fn esc_01_enhanced_code_and_text() {
    let r = one(b"550 5.1.1 No such user\r\n");
    assert_eq!(r.code(), 550);
    assert_eq!(r.enhanced(), esc(5, 1, 1));
    assert_eq!(texts(&r), [b"No such user"]);
    assert_eq!(r.lines()[0].raw_text(), b"5.1.1 No such user");
}

#[test]
fn esc_02_enhanced_code_without_text() {
    let r = one(b"550 5.1.1\r\n");
    assert_eq!(r.enhanced(), esc(5, 1, 1));
    assert_eq!(texts(&r), [b""]);
}

#[test]
fn esc_03_class_differs_from_code() {
    let r = one(b"550 4.1.1 x\r\n");
    assert_eq!(r.enhanced(), None);
    assert_eq!(texts(&r), [b"4.1.1 x"]);
}

#[test]
fn esc_04_not_an_enhanced_code() {
    for (wire, text) in [
        (&b"550 5.1234.1 x\r\n"[..], &b"5.1234.1 x"[..]),
        (b"550 5.1.\r\n", b"5.1."),
        (b"250 2.0.0Ok\r\n", b"2.0.0Ok"),
        (b"250 2.0.0\tOk\r\n", b"2.0.0\tOk"),
        (b"550 5.1.1234 x\r\n", b"5.1.1234 x"),
        (b"550 3.1.1 x\r\n", b"3.1.1 x"),
    ] {
        let r = one(wire);
        assert_eq!(r.enhanced(), None, "{wire:?}");
        assert_eq!(texts(&r), [text]);
    }
}

#[test]
fn esc_05_enhanced_code_on_every_line() {
    let r = one(b"250-2.0.0 a\r\n250 2.0.0 b\r\n");
    assert_eq!(r.enhanced(), esc(2, 0, 0));
    assert_eq!(texts(&r), [b"a", b"b"]);
    assert!(r.lines().iter().all(|l| l.enhanced() == esc(2, 0, 0)));
}

#[test]
fn esc_06_parsed_without_enhancedstatuscodes() {
    // The parser knows nothing of what the server advertised: one function for both cases.
    let r = one(b"550 5.7.1 x\r\n");
    assert_eq!(r.enhanced(), esc(5, 7, 1));
    assert_eq!(texts(&r), [b"x"]);
}

#[test]
fn grt_03_multiline_greeting_and_server_name() {
    let r = one(b"220-mx.example ESMTP\r\n220 ready\r\n");
    assert_eq!(r.code(), 220);
    assert_eq!(r.server_name(), "mx.example");
    assert_eq!(r.to_string(), "220-mx.example ESMTP\n220 ready");
    assert_eq!(one(b"220\r\n").server_name(), "");
    assert_eq!(one(b"220 [192.0.2.1]\r\n").server_name(), "[192.0.2.1]");
}

#[test]
fn from_wire_refuses_what_encode_never_writes() {
    assert_eq!(
        Reply::from_wire(b"250 a\r\n250"),
        Err(FromWireError::TrailingBytes)
    );
    assert_eq!(
        Reply::from_wire(b"250-a\r\n"),
        Err(FromWireError::Incomplete)
    );
    assert_eq!(Reply::from_wire(b"250 a\n"), Err(FromWireError::BareLf));
    assert_eq!(
        Reply::from_wire(b"250 \xc3\xa9\r\n"),
        Err(FromWireError::Reply(ReplyError::InvalidText))
    );
    assert_eq!(
        Reply::from_wire(b"199 x\r\n"),
        Err(FromWireError::Parse(ReplyParseError::CodeOutOfRange(199)))
    );
    // A line whose enhanced code differs from the first line's keeps it in its text.
    let r = Reply::from_wire(b"550-5.1.1 a\r\n550 5.2.2 b\r\n").expect("parses");
    assert_eq!(r.enhanced(), esc(5, 1, 1));
    assert_eq!(r.text(), "a\n5.2.2 b");
}

/// Bytes of one reply line's text: anything but LF, often printable.
fn text_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(0x20u8..0x7f, 0..12),
        proptest::collection::vec(any::<u8>().prop_filter("no LF", |b| *b != b'\n'), 0..12),
        Just(b"5.1.1 x".to_vec()),
        Just(b"2.0.0".to_vec()),
        Just(b"x".repeat(40)),
    ]
}

/// A reply as a server might write it: code, lines, line ends (CR LF or bare LF).
fn wire_reply() -> impl Strategy<Value = Vec<u8>> {
    (
        prop_oneof![200u16..600, Just(250), Just(550)],
        proptest::collection::vec((text_bytes(), any::<bool>(), any::<bool>()), 1..4),
    )
        .prop_map(|(code, lines)| {
            let mut out = Vec::new();
            let last = lines.len() - 1;
            for (i, (text, bare_lf, no_space)) in lines.into_iter().enumerate() {
                out.extend_from_slice(code.to_string().as_bytes());
                if i < last {
                    out.push(b'-');
                } else if !(no_space && text.is_empty()) {
                    out.push(b' ');
                }
                out.extend_from_slice(&text);
                // A text ending in CR before a bare LF reads as CR LF: the same reply.
                out.extend_from_slice(if bare_lf { b"\n" } else { b"\r\n" });
            }
            out
        })
}

/// A reply [`Reply::new`] accepts: code 200..=599, text of HT and printable ASCII in lines,
/// an enhanced code of the right class or none.
fn any_reply() -> impl Strategy<Value = Reply> {
    (
        200u16..600,
        proptest::collection::vec("[\t -~]{0,12}", 1..4),
        proptest::option::of((0u16..1000, 0u16..1000)),
    )
        .prop_map(|(code, lines, enhanced)| {
            let reply = Reply::new(code, lines.join("\n")).expect("valid text");
            match enhanced.and_then(|(s, d)| EnhancedCode::new((code / 100) as u8, s, d)) {
                Some(e) => reply.with_enhanced(e).expect("same class"),
                None => reply,
            }
        })
}

proptest! {
    /// REP-07 generalised: any split of a valid stream of replies, with a small line cap so
    /// that truncation happens, gives the same replies as the whole stream.
    #[test]
    fn split_invariance(
        replies in proptest::collection::vec(wire_reply(), 1..5),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
        line_text in prop_oneof![Just(2048usize), 0usize..20],
    ) {
        let wire = replies.concat();
        let limits = ReplyLimits { line_text, ..ReplyLimits::default() };
        let whole = all_with(ReplyParser::with_limits(limits), &[&wire]).expect("valid");
        prop_assert_eq!(whole.len(), replies.len());
        let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(wire.len() + 1)).collect();
        cuts.sort_unstable();
        let mut pieces = Vec::new();
        let mut start = 0;
        for cut in cuts {
            pieces.push(&wire[start..cut]);
            start = cut;
        }
        pieces.push(&wire[start..]);
        let split = all_with(ReplyParser::with_limits(limits), &pieces).expect("valid");
        prop_assert_eq!(split, whole);
    }

    /// `Reply::from_wire` inverts `encode` with ENHANCEDSTATUSCODES in force: the same
    /// reply, where a 2xx/4xx/5xx reply without an enhanced code gains `class.0.0`.
    #[test]
    fn encode_then_parse_round_trips(reply in any_reply()) {
        let mut wire = Vec::new();
        reply.encode(true, &mut wire);
        let expected = match reply.enhanced() {
            None if reply.code() / 100 != 3 => reply
                .clone()
                .with_enhanced(esc((reply.code() / 100) as u8, 0, 0).expect("class"))
                .expect("same class"),
            _ => reply.clone(),
        };
        prop_assert_eq!(Reply::from_wire(&wire), Ok(expected));
    }

    /// Without ENHANCEDSTATUSCODES, a reply whose lines do not start like an enhanced code
    /// comes back unchanged.
    #[test]
    fn encode_plain_then_parse_round_trips(reply in any_reply()) {
        prop_assume!(reply.enhanced().is_none());
        prop_assume!(!reply.text().split('\n').any(|l| l.starts_with(['2', '4', '5'])));
        let mut wire = Vec::new();
        reply.encode(false, &mut wire);
        prop_assert_eq!(Reply::from_wire(&wire), Ok(reply));
    }

    /// Arbitrary bytes in arbitrary pieces never panic, and memory stays bounded.
    #[test]
    fn arbitrary_input_never_panics(
        pieces in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..16),
    ) {
        let limits = ReplyLimits { line_text: 16, ..ReplyLimits::default() };
        let mut parser = ReplyParser::with_limits(limits);
        for piece in &pieces {
            parser.feed(piece);
            while let Ok(Some(_)) = parser.next_reply() {}
            prop_assert!(parser.buf.len() - parser.pos <= 16 + 5 + 64);
        }
    }
}
