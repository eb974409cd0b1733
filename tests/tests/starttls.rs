//! STARTTLS (manual::starttls, TLS-01..TLS-09, TLS-13, TLS-14): plaintext command
//! injection (CVE-2011-0411, CVE-2021-33515, CVE-2024-34083), the reset RFC 3207 §4.2
//! requires, and the TLS-dependent EHLO keywords and AUTH (RFC 4954 §4, §6).
//!
//! TLS-10 (handshake failure), TLS-11 (close_notify then cleartext, Exim CVE-2026-45185)
//! and TLS-12 (the adapter's own read buffer) are adapter rows: the core never sees TLS
//! records, so they are not tested here.

use smtp_proto::{ApiMisuse, Event, InjectionPolicy, TlsInfo};
use smtp_proto_tests::transcript::{
    EHLO_REPLY, EHLO_REPLY_TLS, QUIT, config, exact, greeted, t0, transcript,
};

/// [G], then STARTTLS and a finished handshake (no EHLO yet).
fn after_starttls() -> String {
    greeted()
        + r"
C: STARTTLS\r\n
S: 220 2.0.0 Ready to start TLS
E: StartTls discarded=0
TLS
"
}

/// The EHLO that follows a handshake.
fn ehlo_tls() -> String {
    format!("C: EHLO c.example\\r\\n\nE: Hello EHLO c.example{EHLO_REPLY_TLS}")
}

/// TLS-01 (RFC 3207 §4): `220 2.0.0 Ready to start TLS`, `StartTls` with nothing
/// discarded, then no further reply until the handshake is done.
#[test]
fn tls_01_starttls_is_answered_220() {
    let script = after_starttls() + &ehlo_tls() + QUIT;
    transcript(config(), &script);
}

/// TLS-01, at the API: after `StartTls` the server wants no input and refuses it (those
/// octets belong to the handshake), produces nothing more, and emits no event.
#[test]
fn tls_01_nothing_happens_during_the_handshake() {
    let now = t0();
    let mut server = config().server(now);
    let mut out = Vec::new();
    let _ = server.poll_transmit(&mut out);
    server
        .handle_input(now, b"EHLO c.example\r\n")
        .expect("input");
    while let Some(event) = server.poll_event() {
        if let Event::Hello { pending, .. } = event {
            server.accept(now, pending).expect("pending");
        }
    }
    out.clear();
    let _ = server.poll_transmit(&mut out);
    server.handle_input(now, b"STARTTLS\r\n").expect("input");
    let event = server.poll_event();
    assert!(
        matches!(event, Some(Event::StartTls { discarded: 0 })),
        "{event:?}"
    );
    assert!(server.poll_event().is_none());
    out.clear();
    let _ = server.poll_transmit(&mut out);
    assert_eq!(out, b"220 2.0.0 Ready to start TLS\r\n");
    assert!(!server.wants_read());
    assert_eq!(
        server.handle_input(now, b"NOOP\r\n"),
        Err(ApiMisuse::InputDuringTlsHandshake)
    );
    assert!(server.poll_event().is_none());
    out.clear();
    assert_eq!(server.poll_transmit(&mut out), 0);
    server
        .handle_tls_established(now, TlsInfo::default())
        .expect("handshake expected");
    assert!(server.is_tls() && server.wants_read());
    assert!(matches!(
        server.poll_event(),
        Some(Event::TlsEstablished { .. })
    ));
    assert!(server.poll_event().is_none());
    assert_eq!(server.poll_transmit(&mut out), 0);
}

/// TLS-02 (CVE-2011-0411, command-injection-tester): the 28 octets behind STARTTLS in the
/// same read are dropped *(choice: `InjectionPolicy::Discard`, the default, as Postfix and
/// aiosmtpd)*. After the handshake no reply arrives without new input; the injected EHLO
/// and MAIL never ran (a new EHLO gets one reply, a new MAIL is not "nested").
#[test]
fn tls_02_injected_commands_are_discarded() {
    let script = greeted()
        + r"
C: STARTTLS\r\nEHLO evil\r\nMAIL FROM:<x@y>\r\n
S: 220 2.0.0 Ready to start TLS
E: StartTls discarded=28
TLS
" + &ehlo_tls()
        + r"
C: MAIL FROM:<a@x.example>\r\n
E: Mail <a@x.example>
S: 250 2.1.0 Ok
C: QUIT\r\n
S: 221 2.0.0 Bye
E: TransactionReset
E: Closed Quit
";
    exact(config(), &script);
}

/// TLS-02, the other choice (`InjectionPolicy::Close`, Momentum's default): STARTTLS is
/// refused with `554 5.5.0` and the session closes; no handshake, nothing executed.
#[test]
fn tls_02_injection_policy_close() {
    let mut c = config();
    c.starttls_injection = InjectionPolicy::Close;
    let script = greeted()
        + r"
C: STARTTLS\r\nEHLO evil\r\nMAIL FROM:<x@y>\r\n
S: 554 5.5.0 Error: plaintext received after STARTTLS
E: Closed ProtocolViolation
";
    exact(c.clone(), &script);
    // Without injected octets, the Close policy starts TLS normally.
    transcript(c, &(after_starttls() + &ehlo_tls() + QUIT));
}

/// TLS-03 (RFC 3207 §4.2; aiosmtpd `test_forget_ehlo`): the EHLO before TLS is forgotten:
/// MAIL right after the handshake ⇒ `503 5.5.1`.
#[test]
fn tls_03_ehlo_is_forgotten() {
    let script = after_starttls()
        + r"
C: MAIL FROM:<a@x>\r\n
S: 503 5.5.1 Error: send HELO/EHLO first
" + &ehlo_tls()
        + r"
C: MAIL FROM:<a@x>\r\n
E: Mail <a@x>
S: 250 2.1.0 Ok
C: QUIT\r\n
S: 221 2.0.0 Bye
E: TransactionReset
E: Closed Quit
";
    transcript(config(), &script);
}

/// TLS-04 (RFC 3207 §4.2; aiosmtpd `test_forget_mail`/`test_forget_rcpt`; Postfix resets
/// mail and rcpt state): STARTTLS in a transaction drops it (`TransactionReset`); after
/// the handshake and a new EHLO, RCPT ⇒ `503 5.5.1` need MAIL, and DATA too.
#[test]
fn tls_04_transaction_is_forgotten() {
    let script = greeted()
        + r"
C: MAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\n
E: Mail <a@x.example>
S: 250 2.1.0 Ok
E: Rcpt <b@y.example>
S: 250 2.1.5 Ok
C: STARTTLS\r\n
S: 220 2.0.0 Ready to start TLS
E: TransactionReset
E: StartTls discarded=0
TLS
" + &ehlo_tls()
        + r"
C: RCPT TO:<b@y>\r\n
S: 503 5.5.1 Error: need MAIL command
C: DATA\r\n
S: 503 5.5.1 Error: need MAIL command
" + QUIT;
    transcript(config(), &script);
}

/// TLS-04 / §2.2 "no AUTH" after the reset: an AUTH that succeeded in plaintext (allowed
/// here with `auth_requires_tls = false`) is forgotten, so AUTH is accepted again after the
/// handshake instead of `503 already authenticated`.
#[test]
fn tls_04_authentication_is_forgotten() {
    let mut c = config();
    c.auth_requires_tls = false;
    let plain_ehlo = EHLO_REPLY.replace(
        "S: 250-STARTTLS\n",
        "S: 250-STARTTLS\nS: 250-AUTH PLAIN LOGIN XTEST\n",
    );
    let script = format!(
        "S: 220 mx.example ESMTP\nC: EHLO c.example\\r\\n\nE: Hello EHLO c.example{plain_ehlo}"
    ) + r"
C: AUTH PLAIN AHVzZXIAcGFzcw==\r\n
E: Auth PLAIN user pass
S: 235 2.7.0 Authentication successful
C: AUTH PLAIN AHVzZXIAcGFzcw==\r\n
S: 503 5.5.1 Error: already authenticated
C: STARTTLS\r\n
S: 220 2.0.0 Ready to start TLS
E: StartTls discarded=0
TLS
" + &ehlo_tls()
        + r"
C: AUTH PLAIN AHVzZXIAcGFzcw==\r\n
E: Auth PLAIN user pass
S: 235 2.7.0 Authentication successful
" + QUIT;
    transcript(c, &script);
}

/// TLS-05 (Postfix; aiosmtpd `test_starttls_arg`): STARTTLS takes no argument ⇒
/// `501 5.5.4`; no handshake starts and the session goes on.
#[test]
fn tls_05_starttls_with_argument() {
    let script = greeted()
        + r"
C: STARTTLS now\r\n
S: 501 5.5.4 Syntax error: no arguments allowed
C: NOOP\r\n
S: 250 2.0.0 Ok
" + QUIT;
    transcript(config(), &script);
}

/// TLS-06 (RFC 3207 §4.2; Stalwart `basic_commands`): under TLS the EHLO reply no longer
/// lists STARTTLS.
#[test]
fn tls_06_ehlo_under_tls_omits_starttls() {
    let script = after_starttls() + &ehlo_tls() + QUIT;
    let run = transcript(config(), &script);
    let wire = String::from_utf8_lossy(&run.wire);
    assert_eq!(
        wire.matches("STARTTLS").count(),
        1,
        "only the plaintext EHLO"
    );
}

/// TLS-07 (Postfix "554 5.5.1 Error: TLS already active"): STARTTLS under TLS is refused,
/// with no second handshake (no `StartTls` event); the session goes on.
#[test]
fn tls_07_starttls_when_tls_is_active() {
    let script = after_starttls()
        + &ehlo_tls()
        + r"
C: STARTTLS\r\n
S: 554 5.5.1 Error: TLS already active
C: NOOP\r\n
S: 250 2.0.0 Ok
" + QUIT;
    transcript(config(), &script);
}

/// TLS-08 (RFC 3207 §4): with no TLS configured, STARTTLS is not advertised and gets
/// `502 5.5.1` *(choice: "not implemented"; `454 4.7.0` is for a temporary problem)*.
#[test]
fn tls_08_starttls_not_configured() {
    let mut c = config();
    c.offers_starttls = false;
    let ehlo = EHLO_REPLY.replace("S: 250-STARTTLS\n", "");
    let script =
        format!("S: 220 mx.example ESMTP\nC: EHLO c.example\\r\\n\nE: Hello EHLO c.example{ehlo}")
            + r"
C: STARTTLS\r\n
S: 502 5.5.1 Error: command not implemented
C: NOOP\r\n
S: 250 2.0.0 Ok
" + QUIT;
    transcript(c, &script);
}

/// TLS-09 (RFC 3207 §4; Postfix, OpenSMTPD, aiosmtpd `TestRequireTLS`): with `require_tls`
/// MAIL before TLS ⇒ `530 5.7.0 Must issue a STARTTLS command first`. Pinned pre-TLS
/// allow-list *(choice: Postfix's minus XCLIENT)*: HELO, EHLO, STARTTLS, NOOP, HELP and
/// QUIT work; RSET, VRFY, AUTH, RCPT, DATA and BDAT get `530` (BDAT's octets are still
/// skipped). After the handshake and EHLO, mail flows.
#[test]
fn tls_09_require_tls() {
    let mut c = config();
    c.require_tls = true;
    let script = greeted()
        + r"
C: MAIL FROM:<a@x>\r\n
S: 530 5.7.0 Must issue a STARTTLS command first
C: RCPT TO:<b@y>\r\n
S: 530 5.7.0 Must issue a STARTTLS command first
C: DATA\r\n
S: 530 5.7.0 Must issue a STARTTLS command first
C: BDAT 6 LAST\r\nQUIT\r\n
S: 530 5.7.0 Must issue a STARTTLS command first
C: RSET\r\n
S: 530 5.7.0 Must issue a STARTTLS command first
C: VRFY bob\r\n
S: 530 5.7.0 Must issue a STARTTLS command first
C: AUTH PLAIN AHVzZXIAcGFzcw==\r\n
S: 530 5.7.0 Must issue a STARTTLS command first
C: NOOP\r\n
S: 250 2.0.0 Ok
C: HELP\r\n
S: 214 2.0.0 See https://www.rfc-editor.org/rfc/rfc5321
C: HELO c.example\r\n
E: Hello HELO c.example
S: 250 mx.example
C: EHLO c.example\r\n
E: Hello EHLO c.example
" + EHLO_REPLY.trim_start()
        + r"
C: STARTTLS\r\n
S: 220 2.0.0 Ready to start TLS
E: StartTls discarded=0
TLS
" + &ehlo_tls()
        + r"
C: MAIL FROM:<a@x>\r\n
E: Mail <a@x>
S: 250 2.1.0 Ok
C: QUIT\r\n
S: 221 2.0.0 Bye
E: TransactionReset
E: Closed Quit
";
    transcript(c.clone(), &script);
    // QUIT is allowed before TLS too.
    transcript(c, &(greeted() + QUIT));
}

/// TLS-13 (RFC 8314 implicit TLS, port 465): the handshake finishes before any input (the
/// `TLS` line right after the greeting). The EHLO reply has no STARTTLS and has the
/// TLS-only keywords; STARTTLS is refused as in TLS-07.
#[test]
fn tls_13_implicit_tls() {
    let script = format!("S: 220 mx.example ESMTP\nTLS\n{}", ehlo_tls())
        + r"
C: STARTTLS\r\n
S: 554 5.5.1 Error: TLS already active
C: AUTH PLAIN AHVzZXIAcGFzcw==\r\n
E: Auth PLAIN user pass
S: 235 2.7.0 Authentication successful
" + QUIT;
    transcript(config(), &script);
}

/// TLS-13, at the API: implicit TLS must be established before any plaintext is fed;
/// afterwards `handle_tls_established` is refused (no second handshake).
#[test]
fn tls_13_implicit_tls_only_before_input() {
    let now = t0();
    let mut server = config().server(now);
    server.handle_input(now, b"NO").expect("input");
    assert_eq!(
        server.handle_tls_established(now, TlsInfo::default()),
        Err(ApiMisuse::NoTlsHandshake)
    );
    assert!(!server.is_tls());

    let mut server = config().server(now);
    server
        .handle_tls_established(now, TlsInfo::default())
        .expect("implicit TLS");
    assert!(server.is_tls());
    assert_eq!(
        server.handle_tls_established(now, TlsInfo::default()),
        Err(ApiMisuse::NoTlsHandshake)
    );
}

/// TLS-14 (RFC 4954 §4, §6; Postfix HISTORY 20110101): with `auth_requires_tls`, AUTH is
/// not advertised before TLS; AUTH PLAIN/LOGIN there ⇒ `538 5.7.11 Encryption required
/// for requested authentication mechanism`; an unknown mechanism is still `504 5.5.4`.
/// After STARTTLS the list is recomputed and AUTH works.
#[test]
fn tls_14_auth_needs_tls() {
    let script = greeted()
        + r"
C: AUTH PLAIN AHVzZXIAcGFzcw==\r\n
S: 538 5.7.11 Encryption required for requested authentication mechanism: AUTH is offered only after TLS, send STARTTLS first
C: AUTH LOGIN\r\n
S: 538 5.7.11 Encryption required for requested authentication mechanism: AUTH is offered only after TLS, send STARTTLS first
C: AUTH XTEST\r\n
S: 538 5.7.11 Encryption required for requested authentication mechanism: AUTH is offered only after TLS, send STARTTLS first
C: AUTH CRAM-MD5\r\n
S: 504 5.5.4 Error: unrecognized authentication mechanism
C: STARTTLS\r\n
S: 220 2.0.0 Ready to start TLS
E: StartTls discarded=0
TLS
" + &ehlo_tls()
        + r"
C: AUTH PLAIN AHVzZXIAcGFzcw==\r\n
E: Auth PLAIN user pass
S: 235 2.7.0 Authentication successful
" + QUIT;
    let run = transcript(config(), &script);
    let wire = String::from_utf8_lossy(&run.wire);
    assert_eq!(wire.matches("250-AUTH").count(), 1, "AUTH only under TLS");
}
