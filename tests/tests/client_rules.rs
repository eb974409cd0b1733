//! manual::client, row by row: each test is named after its row IDs and runs a client
//! transcript (`smtp_proto_tests::client_script`), as written and byte by byte.
#![allow(clippy::unwrap_used)]

use smtp_proto::Protocol;
use smtp_proto::client::{BodyType, Chunking, ClientAuth, Envelope, TlsPolicy};
use smtp_proto::codec::params::{MailParams, Notify, Orcpt, RcptParams, Ret};
use smtp_proto_tests::client_script::{
    ClientScript, EHLO_E, client_config, default_job, greeted, greeted_lockstep, greeted_with,
    mailbox,
};

/// The pipelined flight of the default job on `[E]`.
const FLIGHT: &str = r"C: MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\nRCPT TO:<c@y.example>\r\nDATA\r\n
";

/// The default job's content, its end and QUIT, after a 354.
fn body_then_quit(final_reply: &str, done: &str) -> String {
    format!(
        "R: BodyWanted #0\nB: Subject: t\\r\\n\\r\\nhi\\r\\n\nR: BodyWanted #0\nB: END\n\
         C: Subject: t\\r\\n\\r\\nhi\\r\\n.\\r\\n\nS: {final_reply}\\r\\n\nR: {done}\nR: Idle\n\
         QUIT\nC: QUIT\\r\\n\nS: 221 bye\\r\\n\nR: Closed Quit\n"
    )
}

// ---------------------------------------------------------------- §1 replies

/// REP-01..05, REP-17: texts optional, multi-line, UTF-8 text; all are one reply each.
#[test]
fn rep_01_to_05_and_17_reply_forms() {
    let script = r"
S: 220-mx.example\r\n220-\r\n220 \xc3\xa9t\xc3\xa9\r\n
C: EHLO client.example\r\n
S: 250\r\n
R: Ready
R: Idle
QUIT
C: QUIT\r\n
S: 221 \r\n
R: Closed Quit
";
    ClientScript::new(client_config()).run(script);
}

/// REP-06: codes differ inside a multi-line reply: protocol error, work deferred 4.5.0.
#[test]
fn rep_06_code_mismatch_is_a_protocol_error() {
    let script = greeted()
        + r"
C: MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\nRCPT TO:<c@y.example>\r\nDATA\r\n
S: 250-a\r\n251 b\r\n
R: Done #0 <b@y.example> Deferred 451 4.5.0 Session local | <c@y.example> Deferred 451 4.5.0 Session local
R: Closed ProtocolError
";
    ClientScript::default_job().run(&script);
}

/// REP-08, REP-09, PIPE-04: several replies in one read, and a reply split across reads.
#[test]
fn rep_08_09_replies_in_one_read_and_split() {
    let script = greeted()
        + FLIGHT
        + r"
S: 250 a\r\n25‖0 b\r\n250 c\r\n354 go\r\n
" + &body_then_quit(
        "250 2.0.0 ok",
        "Done #0 <b@y.example> Delivered 250 2.0.0 EndOfData | <c@y.example> Delivered 250 2.0.0 EndOfData",
    );
    ClientScript::default_job().run(&script);
}

/// REP-10: malformed reply lines close the session.
#[test]
fn rep_10_malformed_lines() {
    for bad in [r"2500 OK\r\n", r"25 OK\r\n", r"250OK\r\n", r"2x0 OK\r\n"] {
        let script = format!(
            "S: 220 mx.example\\r\\n\nC: EHLO client.example\\r\\n\nS: {bad}\nR: Closed ProtocolError\n"
        );
        ClientScript::new(client_config()).run(&script);
    }
}

/// REP-11: a first digit outside 2–5 is fatal: QUIT, best effort, and close.
#[test]
fn rep_11_out_of_range_code_is_fatal() {
    for bad in ["199 x", "600 x", "000 x"] {
        let script = format!(
            "S: 220 mx.example\\r\\n\nC: EHLO client.example\\r\\n\nS: {bad}\\r\\n\nC: QUIT\\r\\n\n\
             R: Done #0 <b@y.example> Deferred 451 4.5.0 Session local | <c@y.example> Deferred 451 4.5.0 Session local\n\
             R: Closed ProtocolError\n"
        );
        ClientScript::default_job().run(&script);
    }
}

/// REP-12: odd codes act by their first digit.
#[test]
fn rep_12_first_digit_decides() {
    let script = greeted()
        + FLIGHT
        + r"
S: 299 odd\r\n571 blocked\r\n458 later\r\n354 go\r\n
C: .\r\n
S: 250 ok\r\n
R: Done #0 <b@y.example> Rejected 571 Rcpt | <c@y.example> Deferred 458 Rcpt
C: RSET\r\n
S: 250 ok\r\n
R: Idle
";
    ClientScript::default_job().run(&script);
}

/// REP-16: an endless multi-line reply hits the cap.
#[test]
fn rep_16_endless_reply_is_capped() {
    let script = r"
S: 220 mx.example\r\n
C: EHLO client.example\r\n
S: {250-x\r\n*200}
R: Closed ProtocolError
";
    ClientScript::new(client_config()).run(script);
}

/// REP-18, PIPE-15: a reply nobody asked for.
#[test]
fn rep_18_unsolicited_reply() {
    let script = greeted_with(EHLO_E)
        + r"
R: Idle
S: 250 ok\r\n
R: Closed ProtocolError
";
    ClientScript::new(client_config()).run(&script);
}

/// REP-19, REP-20, END-01: an unsolicited 421 ends the session cleanly.
#[test]
fn rep_19_20_unsolicited_421() {
    let script = greeted_with(EHLO_E)
        + r"
R: Idle
S: 421 4.3.2 shutting down\r\n
R: Closed ServiceClosing 421
EOF
";
    ClientScript::new(client_config()).run(&script);
}

// ---------------------------------------------------------------- §2 greeting

/// GRT-01, GRT-02: nothing before the complete greeting.
#[test]
fn grt_01_02_wait_for_the_greeting() {
    let script = r"
C:
S: 220 mx‖.example ESMTP
C:
S: \r\n
C: EHLO client.example\r\n
";
    // The session is left open: only the first writes matter here.
    let script = script.to_owned() + "S: 250 mx.example\\r\\n\nR: Ready\nR: Idle\n";
    ClientScript::new(client_config()).run(&script);
}

/// GRT-04: a 554 greeting: QUIT, host refused, everything deferred (never a bounce).
#[test]
fn grt_04_refusing_greeting() {
    let script = r"
S: 554 5.3.2 no service\r\n
R: Done #0 <b@y.example> Deferred 554 5.3.2 Session | <c@y.example> Deferred 554 5.3.2 Session
C: QUIT\r\n
S: 221 bye\r\n
R: Closed Refused 554
";
    ClientScript::default_job().run(script);
}

/// GRT-05: 421 greeting.
#[test]
fn grt_05_busy_greeting() {
    let script = r"
S: 421 4.3.2 busy\r\n
R: Done #0 <b@y.example> Deferred 421 4.3.2 Session | <c@y.example> Deferred 421 4.3.2 Session
R: Closed ServiceClosing 421
";
    ClientScript::default_job().run(script);
}

/// GRT-06, TMO-03: no greeting in 300 s (time comes only from `now`).
#[test]
fn grt_06_greeting_timeout() {
    let script = r"
T: +299
T: +1
R: Done #0 <b@y.example> Deferred 451 4.4.2 Session local | <c@y.example> Deferred 451 4.4.2 Session local
R: Closed Timeout
";
    ClientScript::default_job().run(script);
}

/// EHLO-01: a single-line EHLO reply: no extensions, lock-step, no SIZE.
#[test]
fn ehlo_01_no_extensions() {
    let script = greeted_with(r"250 mx.example\r\n")
        + r"
C: MAIL FROM:<a@x.example>\r\n
S: 250 ok\r\n
C: RCPT TO:<b@y.example>\r\n
S: 250 ok\r\n
C: RCPT TO:<c@y.example>\r\n
S: 250 ok\r\n
C: DATA\r\n
S: 354 go\r\n
" + &body_then_quit(
        "250 ok",
        "Done #0 <b@y.example> Delivered 250 EndOfData | <c@y.example> Delivered 250 EndOfData",
    );
    ClientScript::default_job().run(&script);
}

/// EHLO-02, I18N-07: EHLO unknown → HELO; then 7-bit only.
#[test]
fn ehlo_02_helo_fallback() {
    for code in ["500", "501", "502", "504", "550"] {
        let script = format!(
            "S: 220 mx.example\\r\\n\nC: EHLO client.example\\r\\n\nS: {code} 5.5.1 what\\r\\n\n\
             C: HELO client.example\\r\\n\nS: 250 mx.example\\r\\n\nR: Ready helo\n\
             R: Done #0 <b@y.example> Rejected 554 5.6.3 Mail local\nR: Idle\n"
        );
        let job = Envelope::new(mailbox("a@x.example"))
            .to(mailbox("b@y.example"))
            .body_type(BodyType::EightBit);
        ClientScript::new(client_config()).job(job).run(&script);
    }
}

/// EHLO-03: HELO refused too: QUIT, host refused.
#[test]
fn ehlo_03_helo_refused() {
    let script = r"
S: 220 mx.example\r\n
C: EHLO client.example\r\n
S: 502 no\r\n
C: HELO client.example\r\n
S: 550 no\r\n
C: QUIT\r\n
EOF
R: Closed Refused 550
";
    ClientScript::new(client_config()).run(script);
}

/// EHLO-04: EHLO gets a 4xx: QUIT, temporary failure.
#[test]
fn ehlo_04_temporary_refusal() {
    let script = r"
S: 220 mx.example\r\n
C: EHLO client.example\r\n
S: 450 4.7.1 later\r\n
R: Done #0 <b@y.example> Deferred 450 4.7.1 Session | <c@y.example> Deferred 450 4.7.1 Session
C: QUIT\r\n
EOF
R: Closed Refused 450
";
    ClientScript::default_job().run(script);
}

/// EHLO-06: LMTP says LHLO, never HELO.
#[test]
fn ehlo_06_lhlo() {
    let mut config = client_config();
    config.protocol = Protocol::Lmtp;
    let script = r"
S: 220 mx.example LMTP\r\n
C: LHLO client.example\r\n
S: 500 what\r\n
C: QUIT\r\n
EOF
R: Closed Refused 500
";
    ClientScript::new(config).run(script);
}

/// EHLO-07, INJ-07: the EHLO name is a domain or an address literal.
#[test]
fn ehlo_07_inj_07_hello_name() {
    use smtp_proto::client::ClientConfig;
    assert!(ClientConfig::new("[192.0.2.1]").is_ok());
    assert!(ClientConfig::new("[IPv6:2001:db8::1]").is_ok());
    for bad in ["host name", "[300.1.1.1]", "a\r\nMAIL FROM:<x>", ""] {
        assert!(ClientConfig::new(bad).is_err(), "{bad:?}");
    }
}

// ---------------------------------------------------------------- §3 capabilities

/// CAP-01, CAP-02: the first line is the server's name; keywords in any case.
#[test]
fn cap_01_02_first_line_and_case() {
    let script = greeted_with(r"250-mx.example PIPELINING\r\n250 size 100\r\n")
        + r"
# no pipelining (the first line does not count): lock-step; SIZE in lower case counts.
C: MAIL FROM:<a@x.example> SIZE=10\r\n
S: 250 ok\r\n
C: RCPT TO:<b@y.example>\r\n
S: 250 ok\r\n
C: DATA\r\n
S: 451 later\r\n
R: Done #0 <b@y.example> Deferred 451 Data
C: RSET\r\n
S: 250 ok\r\n
R: Idle
";
    let job = Envelope::new(mailbox("a@x.example"))
        .to(mailbox("b@y.example"))
        .size(10);
    ClientScript::new(client_config()).job(job).run(&script);
}

/// CAP-16, CTLS-05, CTLS-06: after STARTTLS the capabilities are replaced; STARTTLS is
/// not sent twice.
#[test]
fn cap_16_ctls_05_06_capabilities_replaced_after_tls() {
    let script = r"
S: 220 mx.example\r\n
C: EHLO client.example\r\n
S: 250-mx.example\r\n250-PIPELINING\r\n250 STARTTLS\r\n
C: STARTTLS\r\n
S: 220 2.0.0 go\r\n
R: StartTls
TLS
C: EHLO client.example\r\n
S: 250-mx.example\r\n250 STARTTLS\r\n
R: Ready tls
C: MAIL FROM:<a@x.example>\r\n
S: 250 ok\r\n
C: RCPT TO:<b@y.example>\r\n
S: 250 ok\r\n
C: RCPT TO:<c@y.example>\r\n
";
    // Pipelining was offered only before TLS: lock-step now. End with EOF.
    let script = script.to_owned()
        + r"EOF
R: Done #0 <b@y.example> Deferred 451 4.4.2 Session local | <c@y.example> Deferred 451 4.4.2 Session local
R: Closed ConnectionLost
";
    ClientScript::default_job().run(&script);
}

// ---------------------------------------------------------------- §4 STARTTLS

/// CTLS-01: policy None never sends STARTTLS.
#[test]
fn ctls_01_policy_none() {
    let mut config = client_config();
    config.tls = TlsPolicy::None;
    let script = greeted_with(r"250-mx.example\r\n250 STARTTLS\r\n") + "R: Idle\n";
    ClientScript::new(config).run(&script);
}

/// CTLS-02, CTLS-03: STARTTLS alone; nothing in plaintext after the 220.
#[test]
fn ctls_02_03_starttls_alone() {
    let script = r"
S: 220 mx.example\r\n
C: EHLO client.example\r\n
S: 250-mx.example\r\n250-PIPELINING\r\n250 STARTTLS\r\n
C: STARTTLS\r\n
S: 220 2.0.0 Ready to start TLS\r\n
R: StartTls
C:
";
    ClientScript::default_job().run(script);
}

/// CTLS-04: bytes after the 220 in the same read are an injection: abort.
#[test]
fn ctls_04_response_injection() {
    let script = r"
S: 220 mx.example\r\n
C: EHLO client.example\r\n
S: 250-mx.example\r\n250 STARTTLS\r\n
C: STARTTLS\r\n
S: 220 Ready\r\n250 injected\r\n
R: Done #0 <b@y.example> Deferred 451 4.5.0 Session local | <c@y.example> Deferred 451 4.5.0 Session local
R: Closed ProtocolError
";
    ClientScript::default_job().run_as_written(script);
    // Byte by byte, the 220 is complete before the injection arrives: the handshake
    // starts, and plaintext during it is the injection (under a `Connection` the TLS
    // layer takes those bytes, and the handshake fails).
    let script = script.replace("R: Done #0", "R: StartTls\nR: Done #0");
    ClientScript::default_job().run_bytewise(&script);
}

/// CTLS-07: 454 to STARTTLS: opportunistic goes on in plaintext; required defers.
#[test]
fn ctls_07_starttls_refused() {
    let script = r"
S: 220 mx.example\r\n
C: EHLO client.example\r\n
S: 250-mx.example\r\n250 STARTTLS\r\n
C: STARTTLS\r\n
S: 454 4.7.0 TLS not available\r\n
R: Ready
R: Idle
";
    ClientScript::new(client_config()).run(script);
    let mut config = client_config();
    config.tls = TlsPolicy::Required;
    let script = r"
S: 220 mx.example\r\n
C: EHLO client.example\r\n
S: 250-mx.example\r\n250 STARTTLS\r\n
C: STARTTLS\r\n
S: 454 4.7.0 TLS not available\r\n
R: Done #0 <b@y.example> Deferred 451 4.7.4 Session local | <c@y.example> Deferred 451 4.7.4 Session local
C: QUIT\r\n
S: 221 bye\r\n
R: Closed TlsUnavailable
";
    ClientScript::new(config).job(default_job()).run(script);
}

/// CTLS-11: Required, STARTTLS not offered: QUIT, deferred 4.7.4.
#[test]
fn ctls_required_but_not_offered() {
    let mut config = client_config();
    config.tls = TlsPolicy::Required;
    let script = greeted_with(EHLO_E).replace("R: Ready\n", "")
        + r"
R: Done #0 <b@y.example> Deferred 451 4.7.4 Session local | <c@y.example> Deferred 451 4.7.4 Session local
C: QUIT\r\n
EOF
R: Closed TlsUnavailable
";
    ClientScript::new(config).job(default_job()).run(&script);
}

// ---------------------------------------------------------------- §5 AUTH

/// AUTH in these plaintext transcripts is allowed explicitly (CTLS-13 has its own row).
fn with_auth(auth: ClientAuth) -> smtp_proto::client::ClientConfig {
    let mut config = client_config();
    config.auth = Some(auth);
    config.auth_over_plaintext = true;
    config
}

/// CTLS-13: no credentials in clear unless allowed: the session ends (or, with AUTH
/// optional, goes on unauthenticated); after STARTTLS they go.
#[test]
fn ctls_13_no_auth_in_clear() {
    let mut config = client_config();
    config.auth = Some(ClientAuth::password("user", "pass"));
    let script = r"
S: 220 mx.example\r\n
C: EHLO client.example\r\n
S: 250-mx.example\r\n250 AUTH PLAIN\r\n
R: Done #0 <b@y.example> Deferred 451 4.7.11 Session local | <c@y.example> Deferred 451 4.7.11 Session local
C: QUIT\r\n
S: 221 bye\r\n
R: Closed AuthNeedsTls
";
    ClientScript::new(config.clone())
        .job(default_job())
        .run(script);
    let mut optional = config.clone();
    optional.auth_required = false;
    let script = greeted_with(r"250-mx.example\r\n250 AUTH PLAIN\r\n") + "R: Idle\n";
    ClientScript::new(optional).run(&script);
    let script = r"
S: 220 mx.example\r\n
C: EHLO client.example\r\n
S: 250-mx.example\r\n250-AUTH PLAIN\r\n250 STARTTLS\r\n
C: STARTTLS\r\n
S: 220 go\r\n
R: StartTls
TLS
C: EHLO client.example\r\n
S: 250-mx.example\r\n250 AUTH PLAIN\r\n
C: AUTH PLAIN AHVzZXIAcGFzcw==\r\n
S: 235 ok\r\n
R: Ready tls auth=PLAIN
R: Idle
";
    ClientScript::new(config).run(script);
}

/// AUTH-01: no common mechanism: nothing sent, session ends (relay defers).
#[test]
fn auth_01_no_common_mechanism() {
    let config = with_auth(ClientAuth::password("user", "pass"));
    let script = r"
S: 220 mx.example\r\n
C: EHLO client.example\r\n
S: 250-mx.example\r\n250 AUTH CRAM-MD5\r\n
C: QUIT\r\n
S: 221 bye\r\n
R: Closed AuthFailed
";
    ClientScript::new(config).run(script);
}

/// AUTH-02, AUTH-12: PLAIN with an initial response; no AUTH or EHLO after 235.
#[test]
fn auth_02_12_plain() {
    let config = with_auth(ClientAuth::password("user", "pass"));
    let script = r"
S: 220 mx.example\r\n
C: EHLO client.example\r\n
S: 250-mx.example\r\n250 AUTH LOGIN PLAIN\r\n
C: AUTH PLAIN AHVzZXIAcGFzcw==\r\n
S: 235 2.7.0 ok\r\n
R: Ready auth=PLAIN
R: Idle
";
    ClientScript::new(config).run(script);
}

/// AUTH-03: an initial response that would pass 512 octets goes after an empty 334.
#[test]
fn auth_03_long_plain_after_334() {
    let password = "p".repeat(400);
    let config = with_auth(ClientAuth::password("user", password.as_str()));
    let encoded = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(format!("\0user\0{password}"))
    };
    let script = format!(
        "S: 220 mx.example\\r\\n\nC: EHLO client.example\\r\\n\nS: 250-mx.example\\r\\n250 AUTH PLAIN\\r\\n\n\
         C: AUTH PLAIN\\r\\n\nS: 334 \\r\\n\nC: {encoded}\\r\\n\nS: 235 ok\\r\\n\nR: Ready auth=PLAIN\nR: Idle\n"
    );
    ClientScript::new(config).run(&script);
}

/// AUTH-04: an empty initial response is `=`.
#[test]
fn auth_04_empty_initial_response() {
    let config = with_auth(ClientAuth::Sasl {
        mechanism: "X-EMPTY".to_owned(),
        initial: Some(smtp_proto::Secret::new(Vec::new())),
    });
    let script = r"
S: 220 mx.example\r\n
C: EHLO client.example\r\n
S: 250-mx.example\r\n250 AUTH X-EMPTY\r\n
C: AUTH X-EMPTY =\r\n
S: 235 ok\r\n
R: Ready auth=X-EMPTY
R: Idle
";
    ClientScript::new(config).run(script);
}

/// AUTH-05, AUTH-06: LOGIN answers by step, whatever the prompt; a third challenge is
/// cancelled.
#[test]
fn auth_05_06_login_by_step() {
    let config = with_auth(ClientAuth::password("user", "pass"));
    let script = r"
S: 220 mx.example\r\n
C: EHLO client.example\r\n
S: 250-mx.example\r\n250 AUTH LOGIN\r\n
C: AUTH LOGIN\r\n
S: 334 dXNlcm5hbWU6\r\n
C: dXNlcg==\r\n
S: 334 UGFzc3dvcmQ6\r\n
C: cGFzcw==\r\n
S: 334 VGhpcmQ=\r\n
C: *\r\n
S: 501 5.7.0 cancelled\r\n
C: QUIT\r\n
S: 221 bye\r\n
R: Closed AuthFailed 501
";
    ClientScript::new(config).run(script);
}

/// AUTH-07, AUTH-08: XOAUTH2, and its error challenge answered with an empty line.
#[test]
fn auth_07_08_xoauth2() {
    let config = with_auth(ClientAuth::OAuth2 {
        username: "u@x.example".to_owned(),
        token: smtp_proto::Secret::new("tok".to_owned()),
    });
    let encoded = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .encode("user=u@x.example\x01auth=Bearer tok\x01\x01")
    };
    let script = format!(
        "S: 220 mx.example\\r\\n\nC: EHLO client.example\\r\\n\nS: 250-mx.example\\r\\n250 AUTH XOAUTH2\\r\\n\n\
         C: AUTH XOAUTH2 {encoded}\\r\\n\nS: 334 eyJzdGF0dXMiOiI0MDEifQ==\\r\\n\nC: \\r\\n\n\
         S: 535 5.7.8 bad token\\r\\n\nC: QUIT\\r\\n\nEOF\nR: Closed AuthFailed 535\n"
    );
    ClientScript::new(config).run(&script);
}

/// AUTH-09: a challenge that is not base64 is cancelled.
#[test]
fn auth_09_bad_base64_cancels() {
    let mut config = with_auth(ClientAuth::password("user", "pass"));
    config.auth_required = false;
    let script = r"
S: 220 mx.example\r\n
C: EHLO client.example\r\n
S: 250-mx.example\r\n250 AUTH LOGIN\r\n
C: AUTH LOGIN\r\n
S: 334 !!!\r\n
C: *\r\n
S: 501 5.7.0 cancelled\r\n
R: Ready
R: Idle
";
    ClientScript::new(config).run(script);
}

/// AUTH-10, AUTH-11: 535 and 454 end the session with every message deferred.
#[test]
fn auth_10_11_failures_defer() {
    for (reply, code) in [
        ("535 5.7.8 bad credentials", "535 5.7.8"),
        ("454 4.7.0 temporary", "454 4.7.0"),
    ] {
        let config = with_auth(ClientAuth::password("user", "pass"));
        let short = &code[..3];
        let script = format!(
            "S: 220 mx.example\\r\\n\nC: EHLO client.example\\r\\n\nS: 250-mx.example\\r\\n250 AUTH PLAIN\\r\\n\n\
             C: AUTH PLAIN AHVzZXIAcGFzcw==\\r\\n\nS: {reply}\\r\\n\n\
             R: Done #0 <b@y.example> Deferred {code} Session | <c@y.example> Deferred {code} Session\n\
             C: QUIT\\r\\n\nEOF\nR: Closed AuthFailed {short}\n"
        );
        ClientScript::new(config).job(default_job()).run(&script);
    }
}

/// AUTH-14, AUTH-15: credentials with NUL/CR/LF are refused; secrets never print.
#[test]
fn auth_14_15_credentials() {
    use smtp_proto::client::Client;
    use std::sync::Arc;
    for bad in ["a\0b", "a\r\nb"] {
        let config = with_auth(ClientAuth::password(bad, "pass"));
        assert!(Client::new(Arc::new(config), smtp_proto_tests::now()).is_err());
    }
    let shown = format!("{:?}", ClientAuth::password("user", "hunter2"));
    assert!(!shown.contains("hunter2"), "{shown}");
}

/// A raw SASL exchange for any other mechanism, through the application.
#[test]
fn auth_raw_sasl_exchange() {
    let config = with_auth(ClientAuth::Sasl {
        mechanism: "X-TEST".to_owned(),
        initial: None,
    });
    let script = r"
S: 220 mx.example\r\n
C: EHLO client.example\r\n
S: 250-mx.example\r\n250 AUTH X-TEST\r\n
C: AUTH X-TEST\r\n
S: 334 Y2hhbGxlbmdl\r\n
R: AuthChallenge challenge
AUTH: answer
C: YW5zd2Vy\r\n
S: 235 ok\r\n
R: Ready auth=X-TEST
R: Idle
";
    ClientScript::new(config).run(script);
}

// ---------------------------------------------------------------- §6 pipelining

/// PIPE-01: without PIPELINING, one command, one reply.
#[test]
fn pipe_01_lockstep() {
    let script = greeted_lockstep()
        + r"
C: MAIL FROM:<a@x.example>\r\n
S: 250 ok\r\n
C: RCPT TO:<b@y.example>\r\n
S: 250 ok\r\n
C: RCPT TO:<c@y.example>\r\n
S: 250 ok\r\n
C: DATA\r\n
S: 354 go\r\n
" + &body_then_quit(
        "250 2.0.0 ok",
        "Done #0 <b@y.example> Delivered 250 2.0.0 EndOfData | <c@y.example> Delivered 250 2.0.0 EndOfData",
    );
    ClientScript::default_job().run(&script);
}

/// PIPE-02, PIPE-10, RCPT-01: one flight, no body before 354; one refused recipient does
/// not fail the other.
#[test]
fn pipe_02_10_rcpt_01_partial_success() {
    let script = greeted()
        + FLIGHT
        + r"
C:
S: 250 ok\r\n250 ok\r\n550 5.1.1 no c\r\n354 go\r\n
R: BodyWanted #0
B: x
R: BodyWanted #0
B: END
C: x\r\n.\r\n
S: 250 2.0.0 ok\r\n
R: Done #0 <b@y.example> Delivered 250 2.0.0 EndOfData | <c@y.example> Rejected 550 5.1.1 Rcpt
R: Idle
";
    ClientScript::default_job().run(&script);
}

/// PIPE-06: MAIL refused: every reply consumed, RSET, both rejected by the MAIL reply.
#[test]
fn pipe_06_mail_refused() {
    let script = greeted()
        + FLIGHT
        + r"
S: 550 5.1.8 bad sender\r\n503 5.5.1 need MAIL\r\n503 5.5.1 need MAIL\r\n503 5.5.1 need MAIL\r\n
R: Done #0 <b@y.example> Rejected 550 5.1.8 Mail | <c@y.example> Rejected 550 5.1.8 Mail
C: RSET\r\n
S: 250 ok\r\n
R: Idle
";
    ClientScript::default_job().run(&script);
}

/// PIPE-07, PIPE-08: all recipients refused, DATA refused (554 or 503): RSET.
#[test]
fn pipe_07_08_all_refused() {
    for data in ["554 5.5.1 no valid recipients", "503 5.5.1 need RCPT"] {
        let script = greeted()
            + FLIGHT
            + &format!("S: 250 ok\\r\\n550 5.1.1 no b\\r\\n550 5.1.1 no c\\r\\n{data}\\r\\n\n")
            + r"
R: Done #0 <b@y.example> Rejected 550 5.1.1 Rcpt | <c@y.example> Rejected 550 5.1.1 Rcpt
C: RSET\r\n
S: 250 ok\r\n
R: Idle
";
        ClientScript::default_job().run(&script);
    }
}

/// PIPE-09: all refused but DATA got 354: a lone dot, its reply ignored, RSET.
#[test]
fn pipe_09_lone_dot() {
    let script = greeted()
        + FLIGHT
        + r"
S: 250\r\n550 5.1.1 no\r\n550 5.1.1 no\r\n354 go ahead\r\n
C: .\r\n
S: 554 5.5.1 no recipients\r\n
R: Done #0 <b@y.example> Rejected 550 5.1.1 Rcpt | <c@y.example> Rejected 550 5.1.1 Rcpt
C: RSET\r\n
S: 250 ok\r\n
R: Idle
";
    ClientScript::default_job().run(&script);
}

/// PIPE-11: after 354 the application aborts: close without the terminator.
#[test]
fn pipe_11_abort_after_354() {
    let script = greeted()
        + FLIGHT
        + r"
S: 250 ok\r\n250 ok\r\n550 5.1.1 no c\r\n354 go\r\n
R: BodyWanted #0
B: partial
C: partial
R: BodyWanted #0
ABORT
R: Done #0 <b@y.example> Deferred 451 4.3.0 Session local | <c@y.example> Rejected 550 5.1.1 Rcpt
R: Closed Aborted
";
    ClientScript::default_job().run(&script);
}

/// PIPE-12: DATA refused with 451 after accepted recipients: RSET, deferred by DATA.
#[test]
fn pipe_12_data_deferred() {
    let script = greeted()
        + FLIGHT
        + r"
S: 250 ok\r\n250 ok\r\n250 ok\r\n451 4.3.0 try later\r\n
R: Done #0 <b@y.example> Deferred 451 4.3.0 Data | <c@y.example> Deferred 451 4.3.0 Data
C: RSET\r\n
S: 250 ok\r\n
R: Idle
";
    ClientScript::default_job().run(&script);
}

/// PIPE-13: 421 in the middle of a flight.
#[test]
fn pipe_13_421_mid_flight() {
    let script = greeted()
        + FLIGHT
        + r"
S: 250 ok\r\n421 4.7.0 too many errors\r\n
R: Done #0 <b@y.example> Deferred 421 4.7.0 Rcpt | <c@y.example> Deferred 421 4.7.0 Rcpt
R: Closed ServiceClosing 421
";
    ClientScript::default_job().run(&script);
}

/// PIPE-14, END-02: EOF after 2 of 4 replies.
#[test]
fn pipe_14_eof_mid_flight() {
    let script = greeted()
        + FLIGHT
        + r"
S: 250 ok\r\n250 ok\r\n
EOF
R: Done #0 <b@y.example> Deferred 451 4.4.2 Session local | <c@y.example> Deferred 451 4.4.2 Session local
R: Closed ConnectionLost
";
    ClientScript::default_job().run(&script);
}

/// PIPE-16: RSET refused: the connection is not reused; the next job is deferred.
#[test]
fn pipe_16_rset_refused() {
    let script = greeted()
        + FLIGHT
        + r"
S: 550 5.1.8 bad\r\n503 x\r\n503 x\r\n503 x\r\n
R: Done #0 <b@y.example> Rejected 550 5.1.8 Mail | <c@y.example> Rejected 550 5.1.8 Mail
C: RSET\r\n
SEND
S: 500 what\r\n
R: Done #1 <d@y.example> Deferred 451 4.4.2 Session local
C: QUIT\r\n
S: 221 bye\r\n
R: Closed CannotReset
";
    let later = Envelope::new(mailbox("a@x.example")).to(mailbox("d@y.example"));
    ClientScript::default_job().later(later).run(&script);
}

/// PIPE-03, BUG-04: 500 recipients leave in window-sized flights; 500 results in order.
#[test]
fn pipe_03_many_recipients_within_the_window() {
    use smtp_proto::client::{Client, ClientEvent, Verdict};
    use std::sync::Arc;
    let now = smtp_proto_tests::now();
    let config = client_config();
    let window = config.pipelining_window;
    let mut client = Client::new(Arc::new(config), now).unwrap();
    let mut job = Envelope::new(mailbox("a@x.example"));
    for i in 0..500 {
        job = job.to(mailbox(&format!("user{i:03}@y.example")));
    }
    client.send(now, job).unwrap();
    let mut wire = Vec::new();
    client.handle_input(now, b"220 mx\r\n");
    client.poll_transmit(&mut wire);
    client.handle_input(now, EHLO_E.replace("\\r\\n", "\r\n").as_bytes());
    let mut answered = 0usize;
    let mut flights = 0;
    loop {
        wire.clear();
        client.poll_transmit(&mut wire);
        if wire.is_empty() {
            break;
        }
        flights += 1;
        assert!(wire.len() <= window, "a flight of {} octets", wire.len());
        let commands = wire
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .count();
        let mut replies = Vec::new();
        for _ in 0..commands {
            // every 7th recipient refused
            let reply: &[u8] = if answered > 0 && answered.is_multiple_of(7) {
                b"550 5.1.1 no\r\n"
            } else {
                b"250 ok\r\n"
            };
            replies.extend_from_slice(if answered == 501 {
                b"354 go\r\n"
            } else {
                reply
            });
            answered += 1;
        }
        // Replies chunked at odd places.
        for piece in replies.chunks(13) {
            client.handle_input(now, piece);
        }
        if answered > 501 {
            break;
        }
    }
    assert!(flights > 3, "the RCPTs left in {flights} flights");
    let mut done = None;
    while let Some(event) = client.poll_event() {
        match event {
            ClientEvent::BodyWanted(_) => client.end_body(now).unwrap(),
            ClientEvent::TransactionDone(report) => done = Some(report),
            _ => {}
        }
        wire.clear();
        client.poll_transmit(&mut wire);
        if wire == b".\r\n" {
            client.handle_input(now, b"250 ok\r\n");
        }
    }
    let report = done.expect("a report");
    assert_eq!(report.recipients.len(), 500);
    for (i, r) in report.recipients.iter().enumerate() {
        assert_eq!(r.recipient.to_string(), format!("<user{i:03}@y.example>"));
        let expected = if (i + 1) % 7 == 0 {
            Verdict::Rejected
        } else {
            Verdict::Delivered
        };
        assert_eq!(r.outcome.verdict, expected, "recipient {i}");
    }
}

/// PIPE-05, BUG-05: a command is awaited only once it was handed out: a reply to the
/// EHLO still in the send queue is a reply to nothing.
#[test]
fn pipe_05_unsent_commands_are_not_awaited() {
    use smtp_proto::client::{Client, ClientEvent, CloseReason};
    use std::sync::Arc;
    let now = smtp_proto_tests::now();
    let mut client = Client::new(Arc::new(client_config()), now).unwrap();
    client.handle_input(now, b"220 mx.example\r\n");
    // EHLO is queued, not handed out: the 250 answers nothing.
    client.handle_input(now, b"250 mx.example\r\n");
    let closed = std::iter::from_fn(|| client.poll_event())
        .any(|e| matches!(e, ClientEvent::Closed(CloseReason::ProtocolError(_))));
    assert!(closed);
}

/// PIPE-18: QUIT is a sync point; REUSE-01: the next job's MAIL goes without RSET.
#[test]
fn reuse_01_next_job_without_rset() {
    let script = greeted()
        + FLIGHT
        + r"
S: 250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n
R: BodyWanted #0
B: x
R: BodyWanted #0
B: END
C: x\r\n.\r\n
S: 250 ok\r\n
R: Done #0 <b@y.example> Delivered 250 EndOfData | <c@y.example> Delivered 250 EndOfData
R: Idle
SEND
C: MAIL FROM:<a@x.example>\r\nRCPT TO:<d@y.example>\r\nDATA\r\n
S: 250 ok\r\n250 ok\r\n354 go\r\n
R: BodyWanted #1
B: y
R: BodyWanted #1
B: END
C: y\r\n.\r\n
QUIT
S: 250 ok\r\n
R: Done #1 <d@y.example> Delivered 250 EndOfData
C: QUIT\r\n
S: 221 bye\r\n
R: Closed Quit
";
    let later = Envelope::new(mailbox("a@x.example")).to(mailbox("d@y.example"));
    ClientScript::default_job().later(later).run(&script);
}

// ---------------------------------------------------------------- §7 recipients

/// RCPT-02, RCPT-03: 452 and 552 at RCPT are limits: deferred, not rejected.
#[test]
fn rcpt_02_03_limits_defer() {
    let script = greeted()
        + FLIGHT
        + r"
S: 250 ok\r\n250 ok\r\n452 4.5.3 Too many recipients\r\n354 go\r\n
R: BodyWanted #0
B: x
R: BodyWanted #0
B: END
C: x\r\n.\r\n
S: 250 ok\r\n
R: Done #0 <b@y.example> Delivered 250 EndOfData | <c@y.example> Deferred 452 4.5.3 Rcpt
R: Idle
";
    ClientScript::default_job().run(&script);
    let script = script
        .replace("452 4.5.3 Too many", "552 5.5.3 Too many")
        .replace("Deferred 452 4.5.3", "Deferred 552 5.5.3");
    ClientScript::default_job().run(&script);
}

/// RCPT-04: 251 is accepted; 551 is a rejection with its text kept.
#[test]
fn rcpt_04_251_551() {
    let script = greeted()
        + FLIGHT
        + r"
S: 250 ok\r\n251 2.1.5 forwarded\r\n551 5.1.6 try <b@z>\r\n354 go\r\n
R: BodyWanted #0
B: END
C: .\r\n
S: 250 ok\r\n
R: Done #0 <b@y.example> Delivered 250 EndOfData | <c@y.example> Rejected 551 5.1.6 Rcpt
R: Idle
";
    ClientScript::default_job().run(&script);
}

/// RCPT-05, CAP-13: LIMITS RCPTMAX splits: the surplus is deferred for another transaction.
#[test]
fn rcpt_05_limits_rcptmax() {
    let script = greeted_with(r"250-mx.example\r\n250-PIPELINING\r\n250 LIMITS RCPTMAX=1\r\n")
        + r"
C: MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\nDATA\r\n
S: 250 ok\r\n250 ok\r\n354 go\r\n
R: BodyWanted #0
B: END
C: .\r\n
S: 250 ok\r\n
R: Done #0 <b@y.example> Delivered 250 EndOfData | <c@y.example> Deferred 452 4.5.3 Rcpt local
R: Idle
";
    ClientScript::default_job().run(&script);
}

/// RCPT-06: duplicates are sent once (domain in any case).
#[test]
fn rcpt_06_duplicates() {
    let job = default_job().to(mailbox("b@Y.EXAMPLE"));
    assert_eq!(job.recipients().len(), 2);
    let job = default_job().to(mailbox("B@y.example"));
    assert_eq!(job.recipients().len(), 3);
}

/// LMTP-01, LMTP-02: one reply per accepted recipient, in RCPT order.
#[test]
fn lmtp_01_02_one_reply_per_recipient() {
    let mut config = client_config();
    config.protocol = Protocol::Lmtp;
    let job = default_job().to(mailbox("d@y.example"));
    let script = r"
S: 220 mx.example LMTP\r\n
C: LHLO client.example\r\n
S: 250-mx.example\r\n250 PIPELINING\r\n
R: Ready
C: MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\nRCPT TO:<c@y.example>\r\nRCPT TO:<d@y.example>\r\nDATA\r\n
S: 250 ok\r\n250 ok\r\n550 no\r\n250 ok\r\n354 go\r\n
R: BodyWanted #0
B: x
R: BodyWanted #0
B: END
C: x\r\n.\r\n
S: 250 2.0.0 b ok\r\n
S: 452 4.2.2 d full\r\n
R: Done #0 <b@y.example> Delivered 250 2.0.0 EndOfData | <c@y.example> Rejected 550 Rcpt | <d@y.example> Deferred 452 4.2.2 EndOfData
R: Idle
";
    ClientScript::new(config).job(job).run(script);
}

/// LMTP-04: EOF after 1 of 2 replies: the second is unknown (deferred, maybe delivered).
#[test]
fn lmtp_04_eof_between_replies() {
    let mut config = client_config();
    config.protocol = Protocol::Lmtp;
    let script = r"
S: 220 mx.example LMTP\r\n
C: LHLO client.example\r\n
S: 250-mx.example\r\n250 PIPELINING\r\n
R: Ready
C: MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\nRCPT TO:<c@y.example>\r\nDATA\r\n
S: 250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n
R: BodyWanted #0
B: END
C: .\r\n
S: 250 ok\r\n
EOF
R: Done #0 <b@y.example> Delivered 250 EndOfData | <c@y.example> Deferred 451 4.4.2 Session local maybe
R: Closed ConnectionLost
";
    ClientScript::new(config).job(default_job()).run(script);
}

// ---------------------------------------------------------------- §8 content

/// BODY-01..07 through the machine (the encoder's own table is in the core).
#[test]
fn body_01_to_07_on_the_wire() {
    let rows = [
        (r"a\r\n.b\r\n", r"a\r\n..b\r\n.\r\n"),
        (r".\r\n", r"..\r\n.\r\n"),
        (r"a\nb\n", r"a\r\nb\r\n.\r\n"),
        (r"a\rb\r\n", r"a\r\nb\r\n.\r\n"),
        (r"a", r"a\r\n.\r\n"),
    ];
    for (body, wire) in rows {
        let script = greeted()
            + FLIGHT
            + &format!(
                "S: 250 ok\\r\\n250 ok\\r\\n250 ok\\r\\n354 go\\r\\n\nR: BodyWanted #0\nB: {body}\nR: BodyWanted #0\nB: END\nC: {wire}\n\
                 S: 250 ok\\r\\n\nR: Done #0 <b@y.example> Delivered 250 EndOfData | <c@y.example> Delivered 250 EndOfData\nR: Idle\n"
            );
        ClientScript::default_job().run(&script);
    }
}

/// BODY-03: a dot at the start of piece 2 after a line end in piece 1.
#[test]
fn body_03_state_across_pieces() {
    let script = greeted()
        + FLIGHT
        + r"
S: 250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n
R: BodyWanted #0
B: a\r\n
C: a\r\n
R: BodyWanted #0
B: .b\r
C: ..b
R: BodyWanted #0
B: \n
C: \r\n
R: BodyWanted #0
B: END
C: .\r\n
S: 250 ok\r\n
R: Done #0 <b@y.example> Delivered 250 EndOfData | <c@y.example> Delivered 250 EndOfData
R: Idle
";
    ClientScript::default_job().run(&script);
}

/// BODY-08, BODY-09, BODY-10: a long line, 8-bit in a 7-bit message, NUL: never sent;
/// the connection closes without the terminator.
#[test]
fn body_08_09_10_refused_content() {
    for (piece, text) in [
        ("{x*999}", "5.6.0"),
        (r"\xc3\xa9", "5.6.3"),
        (r"a\0b", "5.6.0"),
    ] {
        let script = greeted()
            + FLIGHT
            + &format!(
                "S: 250 ok\\r\\n250 ok\\r\\n250 ok\\r\\n354 go\\r\\n\nR: BodyWanted #0\nB: {piece}\n\
                 R: Done #0 <b@y.example> Rejected 554 {text} Data local | <c@y.example> Rejected 554 {text} Data local\n\
                 R: Closed Aborted\n"
            );
        ClientScript::default_job().run(&script);
    }
}

/// BDAT-01, BDAT-02, BDAT-06: BDAT is never stuffed, line ends still CR LF, and the last
/// chunk says LAST.
#[test]
fn bdat_01_02_06_chunks() {
    let mut config = client_config();
    config.chunking = Chunking::WhenOffered(4);
    let script = greeted_with(r"250-mx.example\r\n250-PIPELINING\r\n250 CHUNKING\r\n")
        + r"
C: MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\nRCPT TO:<c@y.example>\r\n
S: 250 ok\r\n250 ok\r\n250 ok\r\n
R: BodyWanted #0
B: ab\n.\r\n
R: BodyWanted #0
B: END
C: BDAT 4\r\nab\r\nBDAT 3 LAST\r\n.\r\n
S: 250 ok\r\n250 2.0.0 done\r\n
R: Done #0 <b@y.example> Delivered 250 2.0.0 EndOfData | <c@y.example> Delivered 250 2.0.0 EndOfData
R: Idle
";
    ClientScript::new(config).job(default_job()).run(&script);
}

/// BDAT-04: a refused chunk: nothing more is sent; RSET.
#[test]
fn bdat_04_refused_chunk() {
    let mut config = client_config();
    config.chunking = Chunking::WhenOffered(2);
    let script = greeted_with(r"250-mx.example\r\n250 CHUNKING\r\n")
        + r"
C: MAIL FROM:<a@x.example>\r\n
S: 250 ok\r\n
C: RCPT TO:<b@y.example>\r\n
S: 250 ok\r\n
R: BodyWanted #0
B: abcd
C: BDAT 2\r\nab
S: 554 5.6.0 no\r\n
R: BodyWanted #0
B: efgh
R: BodyWanted #0
B: END
R: Done #0 <b@y.example> Rejected 554 5.6.0 Bdat
C: RSET\r\n
S: 250 ok\r\n
R: Idle
";
    let job = Envelope::new(mailbox("a@x.example")).to(mailbox("b@y.example"));
    ClientScript::new(config).job(job).run(&script);
}

/// BDAT-05: BINARYMIME only with CHUNKING and BINARYMIME; then BDAT, never DATA.
#[test]
fn bdat_05_binarymime() {
    let job = Envelope::new(mailbox("a@x.example"))
        .to(mailbox("b@y.example"))
        .body_type(BodyType::Binary);
    let script = greeted_with(r"250-mx.example\r\n250-CHUNKING\r\n250 BINARYMIME\r\n")
        + r"
C: MAIL FROM:<a@x.example> BODY=BINARYMIME\r\n
S: 250 ok\r\n
C: RCPT TO:<b@y.example>\r\n
S: 250 ok\r\n
R: BodyWanted #0
B: a\n\0
R: BodyWanted #0
B: END
C: BDAT 3 LAST\r\na\n\0
S: 250 ok\r\n
R: Done #0 <b@y.example> Delivered 250 EndOfData
R: Idle
";
    ClientScript::new(client_config())
        .job(job.clone())
        .run(&script);
    let script = greeted_with(r"250-mx.example\r\n250 BINARYMIME\r\n")
        + "R: Done #0 <b@y.example> Rejected 554 5.6.3 Mail local\nR: Idle\n";
    ClientScript::new(client_config()).job(job).run(&script);
}

// ---------------------------------------------------------------- §9 parameters

/// SIZE-01, SIZE-02, SIZE-03.
#[test]
fn size_01_02_03() {
    let job = |size| {
        Envelope::new(mailbox("a@x.example"))
            .to(mailbox("b@y.example"))
            .size(size)
    };
    let script = greeted()
        + "C: MAIL FROM:<a@x.example> SIZE=10000000\\r\\nRCPT TO:<b@y.example>\\r\\nDATA\\r\\n\nEOF\n\
        R: Done #0 <b@y.example> Deferred 451 4.4.2 Session local\nR: Closed ConnectionLost\n";
    ClientScript::new(client_config())
        .job(job(10_000_000))
        .run(&script);
    let script = greeted() + "R: Done #0 <b@y.example> Rejected 552 5.3.4 Mail local\nR: Idle\n";
    ClientScript::new(client_config())
        .job(job(10_000_001))
        .run(&script);
    let script = greeted_with(r"250-mx.example\r\n250 PIPELINING\r\n")
        + "C: MAIL FROM:<a@x.example>\\r\\nRCPT TO:<b@y.example>\\r\\nDATA\\r\\n\nEOF\n\
        R: Done #0 <b@y.example> Deferred 451 4.4.2 Session local\nR: Closed ConnectionLost\n";
    ClientScript::new(client_config())
        .job(job(10_000_001))
        .run(&script);
}

/// I18N-01, I18N-02, I18N-05: UTF-8 only with SMTPUTF8; BODY=8BITMIME for 8-bit.
#[test]
fn i18n_01_02_05() {
    let job = Envelope::new(mailbox("ü@x.example"))
        .to(mailbox("b@y.example"))
        .body_type(BodyType::EightBit);
    let script = greeted() + "R: Done #0 <b@y.example> Rejected 553 5.6.7 Mail local\nR: Idle\n";
    ClientScript::new(client_config())
        .job(job.clone())
        .run(&script);
    let script = greeted_with(
        r"250-mx.example\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n",
    ) + "C: MAIL FROM:<\\xc3\\xbc@x.example> BODY=8BITMIME SMTPUTF8\\r\\nRCPT TO:<b@y.example>\\r\\nDATA\\r\\n\nEOF\n\
        R: Done #0 <b@y.example> Deferred 451 4.4.2 Session local\nR: Closed ConnectionLost\n";
    ClientScript::new(client_config()).job(job).run(&script);
}

/// DSN-01, DSN-02: DSN parameters when offered (xtext-encoded), dropped otherwise.
#[test]
fn dsn_01_02() {
    let mut params = MailParams::default();
    params.ret = Some(Ret::Headers);
    params.envid = Some("q+1".to_owned());
    let mut rcpt = RcptParams::default();
    rcpt.notify = Some(Notify {
        success: true,
        failure: true,
        delay: false,
    });
    rcpt.orcpt = Some(Box::new(Orcpt {
        addr_type: "rfc822".to_owned(),
        address: "b@y.example".to_owned(),
    }));
    let job = Envelope::new(mailbox("a@x.example"))
        .to_with(mailbox("b@y.example"), rcpt)
        .params(params);
    let script = greeted_with(r"250-mx.example\r\n250-PIPELINING\r\n250 DSN\r\n")
        + "C: MAIL FROM:<a@x.example> RET=HDRS ENVID=q+2B1\\r\\nRCPT TO:<b@y.example> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b@y.example\\r\\nDATA\\r\\n\nEOF\n\
        R: Done #0 <b@y.example> Deferred 451 4.4.2 Session local\nR: Closed ConnectionLost\n";
    ClientScript::new(client_config())
        .job(job.clone())
        .run(&script);
    let script = greeted()
        + "C: MAIL FROM:<a@x.example>\\r\\nRCPT TO:<b@y.example>\\r\\nDATA\\r\\n\nEOF\n\
        R: Done #0 <b@y.example> Deferred 451 4.4.2 Session local\nR: Closed ConnectionLost\n";
    ClientScript::new(client_config()).job(job).run(&script);
}

/// DSN-03: an ENVID over 100 characters is refused locally.
#[test]
fn dsn_03_envid_too_long() {
    let mut params = MailParams::default();
    params.envid = Some("x".repeat(101));
    let job = Envelope::new(mailbox("a@x.example"))
        .to(mailbox("b@y.example"))
        .params(params);
    let script = greeted_with(r"250-mx.example\r\n250 DSN\r\n")
        + "R: Done #0 <b@y.example> Rejected 501 5.5.4 Mail local\nR: Idle\n";
    ClientScript::new(client_config()).job(job).run(&script);
}

/// RTLS-01, RTLS-02: REQUIRETLS only over TLS with REQUIRETLS offered; otherwise 5.7.30.
#[test]
fn rtls_01_02() {
    let mut params = MailParams::default();
    params.requiretls = true;
    let job = Envelope::new(mailbox("a@x.example"))
        .to(mailbox("b@y.example"))
        .params(params);
    // Plaintext (REQUIRETLS listed but meaningless without TLS, CAP-12).
    let script = greeted_with(r"250-mx.example\r\n250 REQUIRETLS\r\n")
        + "R: Done #0 <b@y.example> Rejected 550 5.7.30 Mail local\nR: Idle\n";
    ClientScript::new(client_config())
        .job(job.clone())
        .run(&script);
    let script = r"
S: 220 mx.example\r\n
C: EHLO client.example\r\n
S: 250-mx.example\r\n250 STARTTLS\r\n
C: STARTTLS\r\n
S: 220 go\r\n
R: StartTls
TLS
C: EHLO client.example\r\n
S: 250-mx.example\r\n250 REQUIRETLS\r\n
R: Ready tls
C: MAIL FROM:<a@x.example> REQUIRETLS\r\n
EOF
R: Done #0 <b@y.example> Deferred 451 4.4.2 Session local
R: Closed ConnectionLost
";
    ClientScript::new(client_config()).job(job).run(script);
}

// ---------------------------------------------------------------- §10, §11

/// TMO-01: a MAIL reply that never comes.
#[test]
fn tmo_01_reply_deadline() {
    let script = greeted()
        + FLIGHT
        + r"
T: +299
T: +1
R: Done #0 <b@y.example> Deferred 451 4.4.2 Session local | <c@y.example> Deferred 451 4.4.2 Session local
R: Closed Timeout
";
    ClientScript::default_job().run(&script);
}

/// TMO-02: the end-of-data reply never comes: maybe delivered.
#[test]
fn tmo_02_end_of_data_deadline() {
    let script = greeted()
        + FLIGHT
        + r"
S: 250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n
R: BodyWanted #0
B: END
C: .\r\n
T: +599
T: +1
R: Done #0 <b@y.example> Deferred 451 4.4.2 Session local maybe | <c@y.example> Deferred 451 4.4.2 Session local maybe
R: Closed Timeout
";
    ClientScript::default_job().run(&script);
}

/// END-03: QUIT after the work; nothing after QUIT changes a result.
#[test]
fn end_03_quit() {
    let script = greeted() + "R: Idle\nQUIT\nC: QUIT\\r\\n\nT: +5\nR: Closed Quit\n";
    ClientScript::new(client_config()).run(&script);
}

// ---------------------------------------------------------------- §12 injection

/// INJ-01..06: addresses are typed; nothing with CR, LF or controls can be built.
#[test]
fn inj_01_to_06_typed_values() {
    use smtp_proto::Mailbox;
    for bad in [
        "a@x.example>\r\nRCPT TO:<evil@z",
        "a\0@x.example",
        "a b@x",
        "a@x\x7f.example",
    ] {
        assert!(bad.parse::<Mailbox>().is_err(), "{bad:?}");
    }
    assert!(
        format!("{}@x.example", "l".repeat(65))
            .parse::<Mailbox>()
            .is_err()
    );
    // A quoted local part is kept as sent.
    let quoted: Mailbox = "\"a b\"@x.example".parse().unwrap();
    let job = Envelope::new(quoted).to(mailbox("b@y.example"));
    let script = greeted()
        + "C: MAIL FROM:<\"a b\"@x.example>\\r\\nRCPT TO:<b@y.example>\\r\\nDATA\\r\\n\nEOF\n\
        R: Done #0 <b@y.example> Deferred 451 4.4.2 Session local\nR: Closed ConnectionLost\n";
    ClientScript::new(client_config()).job(job).run(&script);
    // A parameter value that cannot be sent is refused locally (INJ-03).
    let mut params = MailParams::default();
    params.hold = Some(smtp_proto::codec::params::Hold::Until("1 2".to_owned()));
    let job = Envelope::new(mailbox("a@x.example"))
        .to(mailbox("b@y.example"))
        .params(params);
    let script = greeted_with(r"250-mx.example\r\n250 FUTURERELEASE 100 2030-01-01T00:00:00Z\r\n")
        + "R: Done #0 <b@y.example> Rejected 501 5.5.4 Mail local\nR: Idle\n";
    ClientScript::new(client_config()).job(job).run(&script);
}

// ---------------------------------------------------------------- more rows

/// REP-13: a reply line ending in a bare LF is accepted (one CR stripped, flagged).
#[test]
fn rep_13_bare_lf_reply() {
    let script = "S: 220 mx.example\\n\nC: EHLO client.example\\r\\n\nS: 250 mx.example\\n\nR: Ready\nR: Idle\n";
    ClientScript::new(client_config()).run(script);
}

/// REP-14, ESC-07: reply text is kept raw and sanitised for display; the outcome carries
/// the code, the enhanced code, the text and the stage.
#[test]
fn rep_14_esc_07_reply_text_in_results() {
    use smtp_proto::client::{Client, ClientEvent, Stage};
    use std::sync::Arc;
    let now = smtp_proto_tests::now();
    let mut client = Client::new(Arc::new(client_config()), now).unwrap();
    client
        .send(
            now,
            Envelope::new(mailbox("a@x.example")).to(mailbox("b@y.example")),
        )
        .unwrap();
    let mut wire = Vec::new();
    client.handle_input(now, b"220 mx\r\n");
    client.poll_transmit(&mut wire);
    client.handle_input(now, b"250 mx\r\n");
    client.poll_transmit(&mut wire);
    client.handle_input(now, b"250 ok\r\n");
    client.poll_transmit(&mut wire);
    client.handle_input(now, b"550 5.1.1 no such\ruser\r\n");
    let report = std::iter::from_fn(|| client.poll_event())
        .find_map(|e| match e {
            ClientEvent::TransactionDone(r) => Some(r),
            _ => None,
        })
        .unwrap();
    let outcome = &report.recipients[0].outcome;
    assert_eq!(outcome.reply.code(), 550);
    assert_eq!(
        outcome.reply.enhanced().map(|e| e.to_string()).as_deref(),
        Some("5.1.1")
    );
    assert_eq!(outcome.reply.lines()[0].text(), b"no such\ruser");
    assert!(!outcome.reply.sanitized_text().contains('\r'));
    assert_eq!(outcome.stage, Stage::Rcpt);
    assert_eq!(outcome.stage.command(), "RCPT TO");
}

/// REP-15: a 5,000-octet line is read to its end, its text truncated; the session goes on.
#[test]
fn rep_15_long_reply_line() {
    let script =
        "S: 220 {x*5000}\\r\\n\nC: EHLO client.example\\r\\n\nS: 250 mx\\r\\n\nR: Ready\nR: Idle\n";
    ClientScript::new(client_config()).run(script);
}

/// EHLO-05: 421 to EHLO: close without waiting; everything deferred with the 421.
#[test]
fn ehlo_05_421() {
    let script = r"
S: 220 mx.example\r\n
C: EHLO client.example\r\n
S: 421 4.7.0 go away\r\n
R: Done #0 <b@y.example> Deferred 421 4.7.0 Session | <c@y.example> Deferred 421 4.7.0 Session
R: Closed ServiceClosing 421
";
    ClientScript::default_job().run(script);
}

/// EHLO-08: a transaction never starts before EHLO succeeded, even when queued first.
#[test]
fn ehlo_08_mail_waits_for_ehlo() {
    let script = r"
C:
S: 220 mx.example\r\n
C: EHLO client.example\r\n
S: 250-mx.example\r\n250 PIPELINING\r\n
R: Ready
C: MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\nRCPT TO:<c@y.example>\r\nDATA\r\n
EOF
R: Done #0 <b@y.example> Deferred 451 4.4.2 Session local | <c@y.example> Deferred 451 4.4.2 Session local
R: Closed ConnectionLost
";
    ClientScript::default_job().run(script);
}

/// CAP-03..05, CAP-07, CAP-09, CAP-11..13, CAP-15 as the client uses them: SIZE limits,
/// AUTH lists merged, BINARYMIME only with CHUNKING, junk lines ignored.
#[test]
fn cap_rows_through_the_client() {
    // `SIZE abc` is SIZE without a usable limit: a big message goes (CAP-05).
    let job = Envelope::new(mailbox("a@x.example"))
        .to(mailbox("b@y.example"))
        .size(99_999_999);
    let script =
        greeted_with(r"250-mx.example\r\n250-\r\n250-!!!\r\n250-X-UNKNOWN foo\r\n250 SIZE abc\r\n")
            + "C: MAIL FROM:<a@x.example> SIZE=99999999\\r\\n\nEOF\n\
        R: Done #0 <b@y.example> Deferred 451 4.4.2 Session local\nR: Closed ConnectionLost\n";
    ClientScript::new(client_config()).job(job).run(&script);
    // CAP-07: `AUTH=LOGIN` and a second AUTH line: LOGIN usable.
    let config = with_auth(ClientAuth::password("user", "pass"));
    let script = r"
S: 220 mx.example\r\n
C: EHLO client.example\r\n
S: 250-mx.example\r\n250-AUTH=LOGIN\r\n250 AUTH CRAM-MD5\r\n
C: AUTH LOGIN\r\n
";
    let script = script.to_owned() + "EOF\nR: Closed ConnectionLost\n";
    ClientScript::new(config).run(&script);
    // CAP-09: BINARYMIME without CHUNKING is not usable.
    let job = Envelope::new(mailbox("a@x.example"))
        .to(mailbox("b@y.example"))
        .body_type(BodyType::Binary);
    let script = greeted_with(r"250-mx.example\r\n250 BINARYMIME\r\n")
        + "R: Done #0 <b@y.example> Rejected 554 5.6.3 Mail local\nR: Idle\n";
    ClientScript::new(client_config()).job(job).run(&script);
}

/// CTLS-08: the handshake fails: the connection is dead, everything deferred 4.7.5.
#[test]
fn ctls_08_handshake_failure() {
    let script = r"
S: 220 mx.example\r\n
C: EHLO client.example\r\n
S: 250-mx.example\r\n250 STARTTLS\r\n
C: STARTTLS\r\n
S: 220 go\r\n
R: StartTls
TLSFAIL
R: Done #0 <b@y.example> Deferred 451 4.7.5 Session local | <c@y.example> Deferred 451 4.7.5 Session local
R: Closed TlsUnavailable
";
    ClientScript::default_job().run(script);
}

/// CTLS-12: implicit TLS: handshake first, then the greeting and EHLO; no STARTTLS.
#[test]
fn ctls_12_implicit_tls() {
    let mut config = client_config();
    config.tls = TlsPolicy::Implicit;
    let script = r"
C:
TLS
S: 220 mx.example\r\n
C: EHLO client.example\r\n
S: 250-mx.example\r\n250 STARTTLS\r\n
R: Ready tls
R: Idle
";
    ClientScript::new(config).run(script);
}

/// LMTP-03, BDAT-03: LMTP over BDAT, chunks pipelined in one flight, one reply per
/// accepted recipient after LAST.
#[test]
fn lmtp_03_bdat_03_pipelined_chunks() {
    let mut config = client_config();
    config.protocol = Protocol::Lmtp;
    config.chunking = Chunking::WhenOffered(3);
    let script = r"
S: 220 mx.example LMTP\r\n
C: LHLO client.example\r\n
S: 250-mx.example\r\n250-PIPELINING\r\n250 CHUNKING\r\n
R: Ready
C: MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\nRCPT TO:<c@y.example>\r\n
S: 250 ok\r\n250 ok\r\n250 ok\r\n
R: BodyWanted #0
B: abcdefg
R: BodyWanted #0
B: END
C: BDAT 3\r\nabcBDAT 3\r\ndefBDAT 3 LAST\r\ng\r\n
S: 250 ok\r\n250 ok\r\n250 2.0.0 b\r\n450 4.2.0 c later\r\n
R: Done #0 <b@y.example> Delivered 250 2.0.0 EndOfData | <c@y.example> Deferred 450 4.2.0 EndOfData
R: Idle
";
    ClientScript::new(config).job(default_job()).run(script);
}

/// BDAT-07: CHUNKING offered, default configuration: DATA.
#[test]
fn bdat_07_data_by_default() {
    let script = greeted_with(r"250-mx.example\r\n250-PIPELINING\r\n250 CHUNKING\r\n")
        + FLIGHT
        + "EOF\n\
        R: Done #0 <b@y.example> Deferred 451 4.4.2 Session local | <c@y.example> Deferred 451 4.4.2 Session local\n\
        R: Closed ConnectionLost\n";
    ClientScript::default_job().run(&script);
}

/// SIZE-04: 552 to MAIL is permanent, 452 temporary.
#[test]
fn size_04_mail_refusals() {
    for (reply, verdict) in [
        ("552 5.3.4 too big", "Rejected 552 5.3.4"),
        ("452 4.3.1 full", "Deferred 452 4.3.1"),
    ] {
        let script = greeted()
            + FLIGHT
            + &format!(
                "S: {reply}\\r\\n503 x\\r\\n503 x\\r\\n503 x\\r\\n\n\
                 R: Done #0 <b@y.example> {verdict} Mail | <c@y.example> {verdict} Mail\nC: RSET\\r\\n\nS: 250 ok\\r\\n\nR: Idle\n"
            );
        ClientScript::default_job().run(&script);
    }
}

/// I18N-03 (choice: like I18N-01), I18N-04: a UTF-8 domain needs SMTPUTF8 too; invalid
/// UTF-8 never makes an address.
#[test]
fn i18n_03_04() {
    let job = Envelope::new(mailbox("a@x.example")).to(mailbox("a@b\u{fc}.example"));
    let script =
        greeted() + "R: Done #0 <a@b\u{fc}.example> Rejected 553 5.6.7 Mail local\nR: Idle\n";
    ClientScript::new(client_config()).job(job).run(&script);
    // Addresses are built from `str` (valid UTF-8 by type) or by the grammar, which refuses
    // invalid UTF-8 octets.
    assert!(smtp_proto::codec::address::parse_forward_path(b"<a\xff@x.example>").is_err());
}

/// AUTH-13: base64 on one line, however long (no MIME wrapping at 76 characters).
#[test]
fn auth_13_single_line_base64() {
    let config = with_auth(ClientAuth::password("user", "p".repeat(200).as_str()));
    let encoded = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(format!("\0user\0{}", "p".repeat(200)))
    };
    assert!(encoded.len() > 76);
    let script = format!(
        "S: 220 mx.example\\r\\n\nC: EHLO client.example\\r\\n\nS: 250-mx.example\\r\\n250 AUTH PLAIN\\r\\n\n\
         C: AUTH PLAIN {encoded}\\r\\n\nS: 235 ok\\r\\n\nR: Ready auth=PLAIN\nR: Idle\n"
    );
    ClientScript::new(config).run(&script);
}

/// PIPE-17 (default off): the next job's MAIL waits for the end-of-data reply.
#[test]
fn pipe_17_no_mail_after_the_dot_in_one_flight() {
    let script = greeted()
        + FLIGHT
        + r"
S: 250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n
R: BodyWanted #0
SEND
B: END
C: .\r\n
S: 250 ok\r\n
R: Done #0 <b@y.example> Delivered 250 EndOfData | <c@y.example> Delivered 250 EndOfData
C: MAIL FROM:<a@x.example>\r\nRCPT TO:<d@y.example>\r\nDATA\r\n
EOF
R: Done #1 <d@y.example> Deferred 451 4.4.2 Session local
R: Closed ConnectionLost
";
    let later = Envelope::new(mailbox("a@x.example")).to(mailbox("d@y.example"));
    ClientScript::default_job().later(later).run(&script);
}
