//! Smoke transcripts: a full session, and the README-level basics.

use smtp_proto_tests::transcript::{TestConfig, config, t0, transcript};

#[test]
fn full_session_with_events() {
    transcript(
        config(),
        r#"
        S: 220 mx.example ESMTP
        C: EHLO c.example\r\n
        E: Hello EHLO c.example
        S: 250-mx.example
        S: 250-PIPELINING
        S: 250-SIZE 10000
        S: 250-8BITMIME
        S: 250-CHUNKING
        S: 250-BINARYMIME
        S: 250-SMTPUTF8
        S: 250-ENHANCEDSTATUSCODES
        S: 250-DSN
        S: 250-STARTTLS
        S: 250-MT-PRIORITY
        S: 250-DELIVERBY 3600
        S: 250 FUTURERELEASE 604800 2026-12-01T00:00:00Z
        C: MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\nDATA\r\n
        E: Mail <a@x.example>
        S: 250 2.1.0 Ok
        E: Rcpt <b@y.example>
        S: 250 2.1.5 Ok
        E: DataStart
        S: 354 End data with <CR><LF>.<CR><LF>
        C: Subject: t\r\n\r\n..body\r\n.\r\n
        E: Content "Subject: t\r\n\r\n.body\r\n"
        E: MessageComplete size=21
        S: 250 2.0.0 Ok: queued
        C: QUIT\r\n
        S: 221 2.0.0 Bye
        E: Closed Quit
        "#,
    );
}

/// A session fed `input`, with its greeting drained, returning the next event.
fn session_at(config: TestConfig, input: &[u8]) -> (smtp_proto::Server, smtp_proto::Event) {
    let now = t0();
    let mut server = config.server(now);
    let _ = server.poll_transmit(&mut Vec::new());
    server.handle_input(now, input).expect("input");
    let event = server.poll_event().expect("an event");
    (server, event)
}

/// Everything the server has queued for the client.
fn sent(server: &mut smtp_proto::Server) -> String {
    let mut out = Vec::new();
    let _ = server.poll_transmit(&mut out);
    String::from_utf8(out).expect("ASCII replies")
}

/// A wrong answer spends the token and still answers the client (`451 4.3.0`), so the
/// session never waits for ever on an application bug; the next command is then served.
#[test]
fn respond_with_a_reply_that_does_not_fit_answers_451_and_goes_on() {
    use smtp_proto::{ApiMisuse, Event, Reply};
    let now = t0();
    let (mut server, event) = session_at(config(), b"HELO c.example\r\n");
    let Event::Hello { pending, .. } = event else {
        panic!("Hello expected, got {event:?}");
    };
    let wrong = Reply::new(354, "go ahead").expect("valid reply");
    assert_eq!(
        server.respond(now, pending, wrong),
        Err(ApiMisuse::InvalidReplyForCommand(354))
    );
    server.handle_input(now, b"NOOP\r\n").expect("input");
    assert!(server.poll_event().is_none(), "NOOP owes no decision");
    assert_eq!(
        sent(&mut server),
        "451 4.3.0 Error: local error in processing\r\n250 2.0.0 Ok\r\n"
    );
}

/// `challenge` outside a raw SASL exchange: the command is answered `451 4.3.0`.
#[test]
fn challenge_outside_sasl_answers_451() {
    use smtp_proto::{ApiMisuse, Event};
    let now = t0();
    let (mut server, event) = session_at(config(), b"EHLO c.example\r\n");
    let Event::Hello { pending, .. } = event else {
        panic!("Hello expected, got {event:?}");
    };
    assert_eq!(
        server.challenge(now, pending, b"x"),
        Err(ApiMisuse::NotASaslExchange)
    );
    assert_eq!(
        sent(&mut server),
        "451 4.3.0 Error: local error in processing\r\n"
    );
    assert!(!server.is_closed());
}

/// LMTP `respond_each` with the wrong number of replies, or a positive one of the wrong
/// class: every accepted recipient still gets its reply, `451 4.3.0` (RFC 2033 §4.2).
#[test]
fn respond_each_misuse_answers_every_recipient() {
    use smtp_proto::{ApiMisuse, Event, Protocol, Reply};
    let now = t0();
    let bad_replies = [
        vec![Reply::new(250, "one").expect("valid")],
        vec![
            Reply::new(250, "ok").expect("valid"),
            Reply::new(354, "no").expect("valid"),
        ],
    ];
    for replies in bad_replies {
        let mut lmtp = config();
        lmtp.protocol = Protocol::Lmtp;
        let (mut server, hello) = session_at(lmtp, b"LHLO c.example\r\n");
        let Event::Hello { pending, .. } = hello else {
            panic!("Hello expected, got {hello:?}");
        };
        server.accept(now, pending).expect("accept");
        server
            .handle_input(now, b"MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\nRCPT TO:<c@y.example>\r\nDATA\r\n")
            .expect("input");
        let pending = loop {
            match server.poll_event().expect("an event") {
                Event::MessageComplete { pending, .. } => break pending,
                Event::DataStart { pending, .. } => {
                    server.accept(now, pending).expect("accept");
                    server.handle_input(now, b"hi\r\n.\r\n").expect("input");
                }
                other => {
                    if let Some(pending) = other.into_pending() {
                        server.accept(now, pending).expect("accept");
                    }
                }
            }
        };
        let given = replies.len();
        let result = server.respond_each(now, pending, replies);
        assert!(
            matches!(
                result,
                Err(ApiMisuse::WrongReplyCount {
                    expected: 2,
                    given: 1
                }) | Err(ApiMisuse::InvalidReplyForCommand(354))
            ),
            "{given} replies: {result:?}"
        );
        let wire = sent(&mut server);
        let tail: Vec<&str> = wire.lines().rev().take(2).collect();
        assert_eq!(
            tail, ["451 4.3.0 Error: local error in processing"; 2],
            "{given} replies: {wire}"
        );
        assert!(!server.in_transaction());
    }
}

/// `answer` with a positive reply of the wrong class (an application bug) still answers
/// the client, with `451 4.3.0`, and reports the misuse.
#[test]
fn answer_replaces_a_reply_that_does_not_fit() {
    use smtp_proto::{ApiMisuse, Event, Reply};
    let now = t0();
    let mut server = config().server(now);
    let mut out = Vec::new();
    let _ = server.poll_transmit(&mut out);
    server
        .handle_input(now, b"HELO c.example\r\n")
        .expect("input");
    let Some(Event::Hello { pending, .. }) = server.poll_event() else {
        panic!("Hello expected");
    };
    let wrong = Reply::new(354, "go ahead").expect("valid reply");
    assert_eq!(
        server.answer(now, pending, Err(wrong)),
        Err(ApiMisuse::InvalidReplyForCommand(354))
    );
    out.clear();
    let _ = server.poll_transmit(&mut out);
    assert_eq!(out, b"451 4.3.0 Error: local error in processing\r\n");
}
