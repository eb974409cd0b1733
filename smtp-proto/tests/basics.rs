//! Smoke transcripts: a full session, and the README-level basics.

mod common;
use common::{config, transcript};

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

/// `answer` with a positive reply of the wrong class (an application bug) still answers
/// the client, with `451 4.3.0`, and reports the misuse; `respond` refuses it and leaves
/// the decision pending.
#[test]
fn answer_replaces_a_reply_that_does_not_fit() {
    use smtp_proto::{ApiMisuse, Event, Reply, Server};
    let now = common::t0();
    let mut server = Server::new(std::sync::Arc::new(common::config()), now);
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
