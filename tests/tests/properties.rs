//! Properties of the whole machine over generated sessions and arbitrary bytes:
//! split invariance, one reply per command, enhanced-code classes, no panic, bounded memory.

use proptest::prelude::*;
use smtp_proto::LineEndingPolicy;
use smtp_proto_tests::transcript::{Harness, Input, TestConfig, check_enhanced_codes, config};

/// One client line of a generated session (valid, invalid and hostile commands).
fn command() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"EHLO c.example\r\n".to_vec()),
        Just(b"HELO c.example\r\n".to_vec()),
        Just(b"EHLO\r\n".to_vec()),
        Just(b"MAIL FROM:<a@x.example>\r\n".to_vec()),
        Just(b"MAIL FROM:<a@x.example> SIZE=100 BODY=8BITMIME\r\n".to_vec()),
        Just(b"MAIL FROM:<>\r\n".to_vec()),
        Just(b"MAIL FROM:<;sleep 1;>\r\n".to_vec()),
        Just(b"MAIL FROM:<a@x> FOO=1\r\n".to_vec()),
        Just(b"RCPT TO:<b@y.example>\r\n".to_vec()),
        Just(b"RCPT TO:<Postmaster>\r\n".to_vec()),
        Just(b"RCPT TO:<b@y> NOTIFY=NEVER,SUCCESS\r\n".to_vec()),
        Just(b"RSET\r\n".to_vec()),
        Just(b"NOOP\r\n".to_vec()),
        Just(b"HELP\r\n".to_vec()),
        Just(b"VRFY bob\r\n".to_vec()),
        Just(b"XYZZY\r\n".to_vec()),
        Just(b"DATA x\r\n".to_vec()),
        Just(b"AUTH PLAIN\r\n".to_vec()),
        Just(b"NOOP\x00\r\n".to_vec()),
        Just(b"MAIL FROM:<a@x>\rRCPT TO:<b@y>\r\n".to_vec()),
        "[A-Z]{4} [ -~]{0,40}\r\n".prop_map(String::into_bytes),
        (1usize..700).prop_map(|n| [b"NOOP ".as_slice(), &vec![b'a'; n], b"\r\n"].concat()),
    ]
}

/// A message transaction: MAIL, RCPT, DATA with a body built from hostile pieces.
fn transaction() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"line\r\n".to_vec()),
        Just(b"..stuffed\r\n".to_vec()),
        Just(b".\r\r\n".to_vec()),
        Just(b"\n.\n".to_vec()),
        Just(b"\r.\r".to_vec()),
        Just(b"x\x00y".to_vec()),
        Just(b"\r\n".to_vec()),
        "[ -~]{0,80}".prop_map(String::into_bytes),
    ];
    prop::collection::vec(piece, 0..12).prop_map(|pieces| {
        let mut t = b"MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\nDATA\r\n".to_vec();
        for p in pieces {
            t.extend_from_slice(&p);
        }
        t.extend_from_slice(b"\r\n.\r\n");
        t
    })
}

fn bdat_transaction() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 1..4).prop_map(|chunks| {
        let mut t = b"MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\n".to_vec();
        let n = chunks.len();
        for (i, c) in chunks.into_iter().enumerate() {
            let last = if i + 1 == n { " LAST" } else { "" };
            t.extend_from_slice(format!("BDAT {}{last}\r\n", c.len()).as_bytes());
            t.extend_from_slice(&c);
        }
        t
    })
}

fn session() -> impl Strategy<Value = Vec<u8>> {
    let unit = prop_oneof![4 => command(), 1 => transaction(), 1 => bdat_transaction()];
    prop::collection::vec(unit, 0..25).prop_map(|units| {
        let mut s = b"EHLO c.example\r\n".to_vec();
        for u in units {
            s.extend_from_slice(&u);
        }
        s
    })
}

/// Sessions are fed as one pipelined stream, so the RFC 2920 sync check (which depends on
/// how the client waits) is off here; `transcript()` covers it with fixed reads.
fn lenient(policy: LineEndingPolicy) -> TestConfig {
    let mut c = config();
    c.pipelining_sync_check = false;
    c.limits.max_errors = 10_000;
    c.line_endings = policy;
    c
}

fn feed(config: TestConfig, input: &[u8], sizes: &[usize]) -> Harness {
    let mut h = Harness::new(config);
    let mut rest = input;
    let mut reads = Vec::new();
    for &size in sizes {
        if rest.is_empty() {
            break;
        }
        let (a, b) = rest.split_at(size.min(rest.len()));
        reads.push(a.to_vec());
        rest = b;
    }
    if !rest.is_empty() {
        reads.push(rest.to_vec());
    }
    h.apply(&Input::Send(reads), None);
    h.apply(&Input::Eof, None);
    h
}

fn policy() -> impl Strategy<Value = LineEndingPolicy> {
    prop_oneof![
        Just(LineEndingPolicy::Strict),
        Just(LineEndingPolicy::Normalize)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// SMUG-10: any split of the input gives identical events and reply bytes.
    #[test]
    fn split_invariance(input in session(), sizes in prop::collection::vec(1usize..64, 0..200), policy in policy()) {
        let whole = feed(lenient(policy), &input, &[]).run;
        let split = feed(lenient(policy), &input, &sizes).run;
        let bytewise = feed(lenient(policy), &input, &vec![1; input.len()]).run;
        prop_assert_eq!(&split.log, &whole.log);
        prop_assert_eq!(&split.wire, &whole.wire);
        prop_assert_eq!(&bytewise.log, &whole.log);
        prop_assert_eq!(&bytewise.wire, &whole.wire);
        check_enhanced_codes(&whole.wire, true);
    }

    /// RFC 5321 §4.2: every command gets exactly one reply (final reply lines are counted;
    /// multiline continuations are not).
    #[test]
    fn one_reply_per_command(lines in prop::collection::vec(command(), 0..40)) {
        let mut input = b"EHLO c.example\r\n".to_vec();
        let mut count = 1;
        for line in &lines {
            if line.starts_with(b"AUTH") {
                continue; // its 334 exchange reads the next line as a response
            }
            input.extend_from_slice(line);
            count += 1;
        }
        let run = feed(lenient(LineEndingPolicy::Strict), &input, &[]).run;
        let finals = run.wire.split(|&b| b == b'\n').filter(|l| l.len() > 3 && l[3] == b' ').count();
        // + 1 for the greeting.
        prop_assert_eq!(finals, count + 1, "{}", String::from_utf8_lossy(&run.wire));
    }

    /// Arbitrary bytes never panic, and after draining, the server holds at most one
    /// incomplete line (bounded by the longest line limit) and no undelivered events.
    #[test]
    fn arbitrary_bytes_are_bounded(reads in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..2000), 0..20), policy in policy()) {
        let mut c = config();
        c.line_endings = policy;
        c.pipelining_sync_check = false;
        let cap = c.limits.auth_line;
        let mut h = Harness::new(c);
        for read in reads {
            h.apply(&Input::Send(vec![read]), None);
            prop_assert!(h.server.buffered_input() <= cap, "buffered {}", h.server.buffered_input());
        }
        h.apply(&Input::Eof, None);
        prop_assert!(h.server.is_closed());
    }

    /// The same with SMTP-shaped noise, which reaches deeper states than uniform bytes.
    #[test]
    fn smtp_noise_is_bounded(input in session(), noise in prop::collection::vec((any::<usize>(), any::<u8>()), 0..30)) {
        let mut input = input;
        for (at, byte) in noise {
            if !input.is_empty() {
                let at = at % input.len();
                input[at] = byte;
            }
        }
        let c = lenient(LineEndingPolicy::Strict);
        let cap = c.limits.auth_line;
        let mut h = Harness::new(c);
        for chunk in input.chunks(97) {
            h.apply(&Input::Send(vec![chunk.to_vec()]), None);
            prop_assert!(h.server.buffered_input() <= cap);
        }
    }
}
