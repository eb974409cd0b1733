//! The sequencing state table of manual::conformance: every state (row) × command (column)
//! cell, each from a fresh session, followed where it matters by a probe command that
//! shows which state the cell left the session in (RFC 5321 §4.1.4, §3.3; RFC 3030 §2;
//! RFC 3207 §4.2; RFC 4954 §4).
//!
//! Choices pinned here: STARTTLS is allowed before EHLO (as Postfix); MAIL in the Bdat
//! state gets the same `503 5.5.1 nested MAIL` as in the Mail state; RSET, EHLO and
//! STARTTLS in the Bdat state report the dropped message with `TransactionReset` only
//! (QUIT adds `MessageAborted SessionEnded`); a refused BDAT *LAST* ends the transaction
//! even when it was refused for sequence (554 no valid recipients), following the §3 row
//! "after BDAT LAST (success or error) the transaction is fully reset" (Postfix 2026 fix)
//! rather than R-SEQ-5's "stay in the same state" — a refused non-LAST BDAT keeps it.

use smtp_proto_tests::transcript::{
    EHLO_E, GREETING, QUIT, STARTTLS_HANDSHAKE, TLS_EHLO_E, config, transcript,
};

const HELO_E: &str = r"
C: HELO c.example\r\n
E: Hello HELO c.example
S: 250 mx.example
";

const MAIL_E: &str = r"
C: MAIL FROM:<a@x.example>\r\n
E: Mail <a@x.example>
S: 250 2.1.0 Ok
";

const RCPT_E: &str = r"
C: RCPT TO:<b@y.example>\r\n
E: Rcpt <b@y.example>
S: 250 2.1.5 Ok
";

const BDAT_E: &str = r#"
C: BDAT 3\r\nabc
E: DataStart chunked
E: Content "abc"
S: 250 2.0.0 3 octets received
"#;

/// As [`STARTTLS_HANDSHAKE`] in an open transaction, which it drops.
const STARTTLS_RESET: &str = r"
C: STARTTLS\r\n
S: 220 2.0.0 Ready to start TLS
E: TransactionReset
E: StartTls discarded=0
TLS
";

/// STARTTLS between BDAT chunks: the message whose content was flowing is aborted first.
const STARTTLS_RESET_BDAT: &str = r"
C: STARTTLS\r\n
S: 220 2.0.0 Ready to start TLS
E: MessageAborted Reset
E: TransactionReset
E: StartTls discarded=0
TLS
";

/// Probe: the session is in Greeted (no transaction: MAIL is accepted).
const IS_GREETED: &str = MAIL_E;

/// Probe: no HELO/EHLO in force (after TLS the client must greet again).
const NEEDS_HELLO: &str = r"
C: MAIL FROM:<a@x.example>\r\n
S: 503 5.5.1 Error: send HELO/EHLO first
";

/// Probe: no transaction (RCPT refused).
const NO_TRANSACTION: &str = r"
C: RCPT TO:<b@y.example>\r\n
S: 503 5.5.1 Error: need MAIL command
";

/// Runs every cell `prefix + cell` as its own session.
#[track_caller]
fn cells(prefix: &[&str], cells: &[&[&str]]) {
    for cell in cells {
        let mut s = String::from(GREETING);
        for part in prefix.iter().chain(cell.iter()) {
            s.push_str(part);
        }
        transcript(config(), &s);
    }
}

/// §4.3 row "Connected (no HELO)": HELO/EHLO 250 → Greeted; MAIL, RCPT, DATA 503; BDAT
/// 503 with its octets skipped; RSET 250; STARTTLS allowed (choice); AUTH 503; QUIT 221.
#[test]
fn seq_state_connected() {
    cells(
        &[],
        &[
            &[HELO_E, IS_GREETED],
            &[EHLO_E, IS_GREETED],
            &[r"
                C: MAIL FROM:<a@x.example>\r\n
                S: 503 5.5.1 Error: send HELO/EHLO first
                "],
            &[r"
                C: RCPT TO:<b@y.example>\r\n
                S: 503 5.5.1 Error: need MAIL command
                "],
            &[r"
                C: DATA\r\n
                S: 503 5.5.1 Error: need MAIL command
                "],
            &[r"
                C: BDAT 6\r\nQUIT\r\n
                S: 503 5.5.1 Error: need MAIL command
                C: NOOP\r\n
                S: 250 2.0.0 Ok
                "],
            &[
                r"
                C: RSET\r\n
                S: 250 2.0.0 Ok
                ",
                EHLO_E,
            ],
            &[STARTTLS_HANDSHAKE, NEEDS_HELLO, TLS_EHLO_E, IS_GREETED],
            &[r"
                C: AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n
                S: 503 5.5.1 Error: send EHLO first
                "],
            &[QUIT],
        ],
    );
}

/// §4.3 row "Greeted": EHLO/HELO 250 (reset); MAIL 250 → Mail; RCPT, DATA 503; BDAT 503
/// (skip N); RSET 250; STARTTLS 220 → TLS (EHLO required again); AUTH 334/235 (once TLS
/// is up, `auth_requires_tls`); QUIT 221.
#[test]
fn seq_state_greeted() {
    cells(
        &[EHLO_E],
        &[
            &[EHLO_E, IS_GREETED],
            &[HELO_E, IS_GREETED],
            &[MAIL_E, RCPT_E],
            &[NO_TRANSACTION],
            &[r"
                C: DATA\r\n
                S: 503 5.5.1 Error: need MAIL command
                "],
            &[r"
                C: BDAT 6\r\nQUIT\r\n
                S: 503 5.5.1 Error: need MAIL command
                C: NOOP\r\n
                S: 250 2.0.0 Ok
                "],
            &[
                r"
                C: RSET\r\n
                S: 250 2.0.0 Ok
                ",
                IS_GREETED,
            ],
            &[STARTTLS_HANDSHAKE, NEEDS_HELLO],
            &[r"
                C: AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n
                S: 538 5.7.11 Encryption required for requested authentication mechanism: AUTH is offered only after TLS, send STARTTLS first
                "],
            &[
                STARTTLS_HANDSHAKE,
                TLS_EHLO_E,
                r"
                C: AUTH LOGIN\r\n
                S: 334 VXNlcm5hbWU6
                C: dXNlcg==\r\n
                S: 334 UGFzc3dvcmQ6
                C: cGFzcw==\r\n
                E: Auth LOGIN user pass
                S: 235 2.7.0 Authentication successful
                ",
                IS_GREETED,
            ],
            &[QUIT],
        ],
    );
}

/// §4.3 row "Mail": EHLO 250 resets → Greeted; MAIL 503 nested; RCPT 250 → Rcpt, or
/// refused and the state stays; DATA 503 (554 once a RCPT was refused); BDAT likewise,
/// octets skipped; RSET 250 → Greeted; STARTTLS 220 and reset; AUTH 503; QUIT 221.
#[test]
fn seq_state_mail() {
    let refused = r"
        A: 550 5.1.1 No such user
        C: RCPT TO:<nobody@y.example>\r\n
        E: Rcpt <nobody@y.example>
        S: 550 5.1.1 No such user
    ";
    cells(
        &[EHLO_E, MAIL_E],
        &[
            &[EHLO_E, "E: TransactionReset\n", NO_TRANSACTION],
            &[HELO_E, "E: TransactionReset\n", NO_TRANSACTION],
            &[
                r"
                C: MAIL FROM:<c@z.example>\r\n
                S: 503 5.5.1 Error: nested MAIL command
                ",
                RCPT_E,
            ],
            &[
                RCPT_E,
                r"
                C: DATA\r\n
                E: DataStart
                S: 354 End data with <CR><LF>.<CR><LF>
                ",
            ],
            &[refused, RCPT_E],
            &[r"
                C: DATA\r\n
                S: 503 5.5.1 Error: need RCPT command
                "],
            &[
                refused,
                r"
                C: DATA\r\n
                S: 554 5.5.1 Error: no valid recipients
                ",
            ],
            &[
                r"
                C: BDAT 6\r\nQUIT\r\n
                S: 503 5.5.1 Error: need RCPT command
                ",
                RCPT_E,
            ],
            &[
                refused,
                r"
                C: BDAT 6 LAST\r\nQUIT\r\n
                S: 554 5.5.1 Error: no valid recipients
                E: TransactionReset
                C: NOOP\r\n
                S: 250 2.0.0 Ok
                ",
                NO_TRANSACTION,
            ],
            &[
                r"
                C: RSET\r\n
                S: 250 2.0.0 Ok
                E: TransactionReset
                ",
                IS_GREETED,
            ],
            &[STARTTLS_RESET, NEEDS_HELLO, TLS_EHLO_E, NO_TRANSACTION],
            &[r"
                C: AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n
                S: 503 5.5.1 Error: MAIL transaction in progress
                "],
            &[r"
                C: QUIT\r\n
                S: 221 2.0.0 Bye
                E: TransactionReset
                E: Closed Quit
                "],
        ],
    );
}

/// §4.3 row "Rcpt": EHLO 250 (reset); MAIL 503; RCPT 250, `452` over the recipient limit,
/// or the application's 5xx; DATA 354 → Data; BDAT 250 → Bdat; RSET 250 → Greeted;
/// STARTTLS 220 and reset; AUTH 503; QUIT 221.
#[test]
fn seq_state_rcpt() {
    cells(
        &[EHLO_E, MAIL_E, RCPT_E],
        &[
            &[EHLO_E, "E: TransactionReset\n", NO_TRANSACTION],
            &[r"
                C: MAIL FROM:<c@z.example>\r\n
                S: 503 5.5.1 Error: nested MAIL command
                "],
            &[r"
                C: RCPT TO:<c@y.example>\r\n
                E: Rcpt <c@y.example>
                S: 250 2.1.5 Ok
                A: 550 5.1.1 No such user
                C: RCPT TO:<nobody@y.example>\r\n
                E: Rcpt <nobody@y.example>
                S: 550 5.1.1 No such user
                C: DATA\r\n
                E: DataStart
                S: 354 End data with <CR><LF>.<CR><LF>
                "],
            &[
                r#"
                C: DATA\r\n
                E: DataStart
                S: 354 End data with <CR><LF>.<CR><LF>
                C: x\r\n.\r\n
                E: Content "x\r\n"
                E: MessageComplete size=3
                S: 250 2.0.0 Ok: queued
                "#,
                NO_TRANSACTION,
            ],
            &[
                BDAT_E,
                r"
                C: DATA\r\n
                S: 503 5.5.1 Error: BDAT transaction in progress
                ",
            ],
            &[
                r"
                C: RSET\r\n
                S: 250 2.0.0 Ok
                E: TransactionReset
                ",
                IS_GREETED,
            ],
            &[STARTTLS_RESET, NEEDS_HELLO],
            &[r"
                C: AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n
                S: 503 5.5.1 Error: MAIL transaction in progress
                "],
            &[r"
                C: QUIT\r\n
                S: 221 2.0.0 Bye
                E: TransactionReset
                E: Closed Quit
                "],
        ],
    );
    // The 452 cell needs a recipient limit of 1.
    let mut c = config();
    c.limits.max_recipients = 1;
    transcript(
        c,
        &[
            GREETING,
            EHLO_E,
            MAIL_E,
            RCPT_E,
            r"
            C: RCPT TO:<c@y.example>\r\n
            S: 452 4.5.3 Error: too many recipients
            C: DATA\r\n
            E: DataStart
            S: 354 End data with <CR><LF>.<CR><LF>
            ",
        ]
        .concat(),
    );
}

/// §4.3 row "Data": every command is content until `\r\n.\r\n`.
#[test]
fn seq_state_data() {
    cells(
        &[EHLO_E, MAIL_E, RCPT_E],
        &[&[r#"
            C: DATA\r\n
            E: DataStart
            S: 354 End data with <CR><LF>.<CR><LF>
            C: EHLO c\r\nMAIL FROM:<c@z.example>\r\nRCPT TO:<d@z.example>\r\nDATA\r\nBDAT 1\r\nRSET\r\nSTARTTLS\r\nAUTH PLAIN\r\nQUIT\r\n.\r\n
            E: Content "EHLO c\r\nMAIL FROM:<c@z.example>\r\nRCPT TO:<d@z.example>\r\nDATA\r\nBDAT 1\r\nRSET\r\nSTARTTLS\r\nAUTH PLAIN\r\nQUIT\r\n"
            E: MessageComplete size=104
            S: 250 2.0.0 Ok: queued
            "#]],
    );
}

/// §4.3 row "Bdat (non-LAST seen)": EHLO 250 (reset); MAIL, RCPT, DATA 503; BDAT 250, LAST
/// completes; RSET 250 → Greeted; STARTTLS 220 and reset; AUTH 503; QUIT 221. Every reset
/// of a message whose content was flowing ends it with `MessageAborted` first.
#[test]
fn seq_state_bdat() {
    cells(
        &[EHLO_E, MAIL_E, RCPT_E, BDAT_E],
        &[
            &[
                EHLO_E,
                "E: MessageAborted Reset\nE: TransactionReset\n",
                NO_TRANSACTION,
            ],
            &[r"
                C: MAIL FROM:<c@z.example>\r\n
                S: 503 5.5.1 Error: nested MAIL command
                "],
            &[r"
                C: RCPT TO:<c@y.example>\r\n
                S: 503 5.5.1 Error: BDAT transaction in progress
                "],
            &[r"
                C: DATA\r\n
                S: 503 5.5.1 Error: BDAT transaction in progress
                "],
            &[
                r#"
                C: BDAT 2\r\nde
                E: Content "de"
                S: 250 2.0.0 2 octets received
                C: BDAT 1 LAST\r\nf
                E: Content "f"
                E: MessageComplete size=6
                S: 250 2.0.0 Ok: queued
                "#,
                NO_TRANSACTION,
            ],
            &[
                r"
                C: RSET\r\n
                S: 250 2.0.0 Ok
                E: MessageAborted Reset
                E: TransactionReset
                ",
                IS_GREETED,
            ],
            &[STARTTLS_RESET_BDAT, NEEDS_HELLO],
            &[r"
                C: AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n
                S: 503 5.5.1 Error: MAIL transaction in progress
                "],
            &[r"
                C: QUIT\r\n
                S: 221 2.0.0 Bye
                E: MessageAborted SessionEnded
                E: TransactionReset
                E: Closed Quit
                "],
        ],
    );
}

/// RFC 5321 §4.1.4 (R-SEQ-5 across the table): a refused command never moves the state;
/// the error replies above, in a row, leave a working transaction.
#[test]
fn seq_errors_keep_state() {
    transcript(
        config(),
        &[
            GREETING,
            EHLO_E,
            MAIL_E,
            r"
            C: MAIL FROM:<c@z.example>\r\n
            S: 503 5.5.1 Error: nested MAIL command
            C: DATA\r\n
            S: 503 5.5.1 Error: need RCPT command
            C: RCPT TO:<bad\r\n
            S: 501 5.1.3 Bad recipient address syntax: Missing domain in address
            C: AUTH PLAIN\r\n
            S: 503 5.5.1 Error: MAIL transaction in progress
            C: EHLO\r\n
            S: 501 5.5.4 Syntax: EHLO hostname
            C: STARTTLS now\r\n
            S: 501 5.5.4 Syntax error: no arguments allowed
            ",
            RCPT_E,
            r#"
            C: DATA\r\n
            E: DataStart
            S: 354 End data with <CR><LF>.<CR><LF>
            C: x\r\n.\r\n
            E: Content "x\r\n"
            E: MessageComplete size=3
            S: 250 2.0.0 Ok: queued
            "#,
        ]
        .concat(),
    );
}
