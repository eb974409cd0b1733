//! The fixed replies the server sends on its own, in one table so that codes, enhanced
//! codes (RFC 3463) and texts can be reviewed together.

use crate::codec::params::ParamError;
use crate::codec::reply::{EnhancedCode, Reply, Wire, sanitize_text};

/// A one-line reply with an enhanced code, its wire forms spelled out at compile time.
macro_rules! r {
    ($code:literal, $class:literal, $subject:literal, $detail:literal, $text:expr $(,)?) => {
        Reply::fixed(
            $code,
            Some(EnhancedCode::known($class, $subject, $detail)),
            $text,
            &Wire {
                enhanced: concat!(
                    $code, " ", $class, ".", $subject, ".", $detail, " ", $text, "\r\n"
                ),
                plain: concat!($code, " ", $text, "\r\n"),
            },
        )
    };
}

/// A one-line reply without an enhanced code (3xx replies, RFC 2034 §3).
macro_rules! plain {
    ($code:literal, $text:expr $(,)?) => {
        Reply::fixed(
            $code,
            None,
            $text,
            &Wire {
                enhanced: concat!($code, " ", $text, "\r\n"),
                plain: concat!($code, " ", $text, "\r\n"),
            },
        )
    };
}

// Positive.
pub(crate) static MAIL_OK: Reply = r!(250, 2, 1, 0, "Ok");
pub(crate) static RCPT_OK: Reply = r!(250, 2, 1, 5, "Ok");
pub(crate) static OK: Reply = r!(250, 2, 0, 0, "Ok");
pub(crate) static QUEUED: Reply = r!(250, 2, 0, 0, "Ok: queued");
pub(crate) static DELIVERED: Reply = r!(250, 2, 1, 5, "Ok: delivered");
pub(crate) static START_DATA: Reply = plain!(354, "End data with <CR><LF>.<CR><LF>");
pub(crate) static CANNOT_VRFY: Reply = r!(
    252,
    2,
    0,
    0,
    "Cannot VRFY user, but will accept message and attempt delivery",
);
pub(crate) static HELP: Reply = r!(214, 2, 0, 0, "See https://www.rfc-editor.org/rfc/rfc5321");
pub(crate) static BYE: Reply = r!(221, 2, 0, 0, "Bye");
pub(crate) static AUTH_OK: Reply = r!(235, 2, 7, 0, "Authentication successful");
pub(crate) static READY_FOR_TLS: Reply = r!(220, 2, 0, 0, "Ready to start TLS");

// Syntax (RFC 5321 §4.2.2 500/501, RFC 3463 X.5.2 syntax, X.5.4 invalid arguments).
pub(crate) static UNKNOWN_COMMAND: Reply = r!(500, 5, 5, 2, "Error: command not recognized");
pub(crate) static LINE_TOO_LONG: Reply = r!(500, 5, 5, 2, "Error: line too long");
pub(crate) static BARE_LF_IN_COMMAND: Reply = r!(500, 5, 5, 2, "Error: bare <LF> received");
pub(crate) static INVALID_UTF8: Reply = r!(500, 5, 5, 2, "Error: invalid UTF-8 in command");
pub(crate) static CONTROL_CHARACTER: Reply =
    r!(501, 5, 5, 2, "Error: control character in command");
pub(crate) static NO_ARGUMENTS: Reply = r!(501, 5, 5, 4, "Syntax error: no arguments allowed");
pub(crate) static HELLO_SYNTAX: Reply = r!(501, 5, 5, 4, "Syntax: EHLO hostname");
pub(crate) static MAIL_SYNTAX: Reply = r!(501, 5, 5, 4, "Syntax: MAIL FROM:<address>");
pub(crate) static RCPT_SYNTAX: Reply = r!(501, 5, 5, 4, "Syntax: RCPT TO:<address>");
pub(crate) static VRFY_SYNTAX: Reply = r!(501, 5, 5, 4, "Syntax: VRFY address");
pub(crate) static AUTH_SYNTAX: Reply =
    r!(501, 5, 5, 4, "Syntax: AUTH mechanism [initial-response]");
pub(crate) static BDAT_SYNTAX: Reply = r!(521, 5, 5, 4, "Syntax: BDAT count [LAST]");
pub(crate) static NULL_BDAT: Reply = r!(504, 5, 5, 4, "Error: null BDAT request");
pub(crate) static NOT_IMPLEMENTED: Reply = r!(502, 5, 5, 1, "Error: command not implemented");
pub(crate) static SMTPUTF8_REQUIRED: Reply = r!(
    553,
    5,
    6,
    7,
    "Error: must declare SMTPUTF8 to send a UTF-8 address",
);

// Sequence (RFC 5321 §4.1.4, RFC 3463 X.5.1).
pub(crate) static NEED_HELLO: Reply = r!(503, 5, 5, 1, "Error: send HELO/EHLO first");
pub(crate) static NEED_EHLO: Reply = r!(503, 5, 5, 1, "Error: send EHLO first");
pub(crate) static NESTED_MAIL: Reply = r!(503, 5, 5, 1, "Error: nested MAIL command");
pub(crate) static NEED_MAIL: Reply = r!(503, 5, 5, 1, "Error: need MAIL command");
pub(crate) static NEED_RCPT: Reply = r!(503, 5, 5, 1, "Error: need RCPT command");
pub(crate) static NO_VALID_RECIPIENTS: Reply = r!(554, 5, 5, 1, "Error: no valid recipients");
pub(crate) static BDAT_IN_PROGRESS: Reply = r!(503, 5, 5, 1, "Error: BDAT transaction in progress");
pub(crate) static BINARYMIME_NEEDS_BDAT: Reply =
    r!(503, 5, 5, 1, "Error: BODY=BINARYMIME requires BDAT");
pub(crate) static TX_IN_PROGRESS: Reply = r!(503, 5, 5, 1, "Error: MAIL transaction in progress");
pub(crate) static ALREADY_AUTHENTICATED: Reply = r!(503, 5, 5, 1, "Error: already authenticated");
pub(crate) static NO_SERVICE: Reply = r!(503, 5, 5, 1, "Error: no SMTP service here");
pub(crate) static XCLIENT_IN_TRANSACTION: Reply =
    r!(503, 5, 5, 1, "Error: MAIL transaction in progress");
pub(crate) static XCLIENT_SYNTAX: Reply = r!(
    501,
    5,
    5,
    4,
    "Syntax: XCLIENT attribute=value [attribute=value ...]",
);
pub(crate) static XCLIENT_DENIED: Reply = r!(550, 5, 7, 0, "Error: insufficient authorization");
pub(crate) static TLS_ACTIVE: Reply = r!(554, 5, 5, 1, "Error: TLS already active");

// Policy and limits.
pub(crate) static TOO_MANY_RECIPIENTS: Reply = r!(452, 4, 5, 3, "Error: too many recipients");
pub(crate) static TOO_BIG: Reply = r!(552, 5, 3, 4, "Error: message size exceeds fixed limit");
pub(crate) static BARE_LINE_ENDING: Reply = r!(
    550,
    5,
    5,
    2,
    "Error: bare <CR>, bare <LF> or NUL received in message content",
);
pub(crate) static TLS_REQUIRED: Reply = r!(530, 5, 7, 0, "Must issue a STARTTLS command first");
pub(crate) static AUTH_REQUIRED: Reply = r!(530, 5, 7, 0, "Authentication required");

// AUTH (RFC 4954 §6).
pub(crate) static AUTH_UNSUPPORTED: Reply =
    r!(504, 5, 5, 4, "Error: unrecognized authentication mechanism");
/// AUTH before TLS on a session that offers STARTTLS: the text says what to do.
pub(crate) static AUTH_NEEDS_TLS: Reply = r!(
    538,
    5,
    7,
    11,
    "Encryption required for requested authentication mechanism: AUTH is offered only after TLS, send STARTTLS first",
);
/// AUTH before TLS where STARTTLS is not offered (only a TLS port could help).
pub(crate) static AUTH_NEEDS_TLS_PORT: Reply = r!(
    538,
    5,
    7,
    11,
    "Encryption required for requested authentication mechanism: AUTH is offered only over TLS, use this server's TLS port",
);
/// AUTH on a server without mechanisms.
pub(crate) static AUTH_NOT_OFFERED: Reply = r!(
    502,
    5,
    5,
    1,
    "Error: AUTH is not offered by this server, send MAIL without it",
);
pub(crate) static AUTH_ABORTED: Reply = r!(501, 5, 7, 0, "Error: authentication aborted");
pub(crate) static AUTH_BAD_BASE64: Reply = r!(501, 5, 5, 2, "Error: cannot decode response");
pub(crate) static AUTH_LINE_TOO_LONG: Reply = r!(
    500,
    5,
    5,
    6,
    "Error: authentication exchange line is too long",
);
/// Sent in place of an application's reply that does not fit the command (see
/// `Server::answer`): the client must not wait for ever because of a local bug.
pub(crate) static LOCAL_ERROR: Reply = r!(451, 4, 3, 0, "Error: local error in processing");
/// The default reply of an application that refuses an AUTH attempt.
pub(crate) static AUTH_FAILED: Reply =
    r!(535, 5, 7, 8, "Error: authentication credentials invalid");

// Closing.
/// In place of the greeting when the configuration fails `ServerConfig::validate`
/// (RFC 3463 X.3.5).
pub(crate) static MISCONFIGURED: Reply = r!(421, 4, 3, 5, "System incorrectly configured");
pub(crate) static SYNC_VIOLATION: Reply = r!(
    554,
    5,
    5,
    0,
    "Error: SMTP protocol synchronization: a command came before the reply it must wait for (RFC 2920)"
);
pub(crate) static STARTTLS_INJECTION: Reply =
    r!(554, 5, 5, 0, "Error: plaintext received after STARTTLS");
pub(crate) static FORBIDDEN_COMMAND: Reply =
    r!(221, 2, 7, 0, "Error: I can break rules, too. Goodbye.");

// Built at run time, from the session's host name or the command's details.

/// A reply whose text starts with the server's host name (RFC 5321 §4.2: 220 and 421).
fn with_host(code: u16, enhanced: Option<(u8, u16, u16)>, host: &str, text: &str) -> Reply {
    let enhanced = enhanced.map(|(c, s, d)| EnhancedCode::known(c, s, d));
    Reply::owned(code, enhanced, format!("{host} {text}"))
}

/// `421 4.3.2 <host> Too many connections, try again later`: the default of
/// `Server::refuse` (RFC 5321 §3.1 allows a 421 in place of the greeting).
pub(crate) fn too_many_connections(host: &str) -> Reply {
    with_host(
        421,
        Some((4, 3, 2)),
        host,
        "Too many connections, try again later",
    )
}

/// `421 4.4.2 <host> Error: timeout exceeded` (RFC 5321 §4.5.3.2).
pub(crate) fn timeout(host: &str) -> Reply {
    with_host(421, Some((4, 4, 2)), host, "Error: timeout exceeded")
}

/// `421 4.3.2 <host> Service not available, closing transmission channel`: the default of
/// `Server::shutdown` (RFC 5321 §3.8).
pub(crate) fn shutting_down(host: &str) -> Reply {
    with_host(
        421,
        Some((4, 3, 2)),
        host,
        "Service not available, closing transmission channel",
    )
}

/// `421 4.7.0 <host> Error: too many errors`: past `max_errors` (Postfix
/// `smtpd_hard_error_limit`).
pub(crate) fn too_many_errors(host: &str) -> Reply {
    with_host(421, Some((4, 7, 0)), host, "Error: too many errors")
}

/// `501 5.1.7` (sender, RFC 3463 X.1.7) or `501 5.1.3` (recipient, X.1.3).
pub(crate) fn bad_address(detail: u16, role: &str, why: &str) -> Reply {
    Reply::owned(
        501,
        Some(EnhancedCode::known(5, 1, detail)),
        format!("Bad {role} address syntax: {why}"),
    )
}

/// `555 5.5.4` for unknown/unsupported parameters (RFC 5321 §4.1.1.11), `501 5.5.4` else.
pub(crate) fn param_error(e: &ParamError) -> Reply {
    let text = sanitize_text(e.description().as_bytes(), 200);
    Reply::owned(e.reply_code(), Some(EnhancedCode::known(5, 5, 4)), text)
}

/// `250 2.0.0 <size> octets received`: a BDAT chunk other than the last was accepted
/// (RFC 3030 §2).
pub(crate) fn chunk_received(size: u64) -> Reply {
    Reply::owned(
        250,
        Some(EnhancedCode::known(2, 0, 0)),
        format!("{size} octets received"),
    )
}

impl Reply {
    /// `535 5.7.8 Error: authentication credentials invalid` (RFC 4954 §6): the answer to
    /// credentials the application does not accept.
    pub fn authentication_failed() -> Self {
        AUTH_FAILED.clone()
    }

    /// `451 4.3.0 Error: local error in processing` (RFC 5321 §4.2.3, RFC 3463 §3.5): the
    /// answer when the application cannot store or process a message; the client retries.
    pub fn local_error() -> Self {
        LOCAL_ERROR.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(reply: &Reply, enhanced: bool) -> String {
        let mut out = Vec::new();
        reply.encode(enhanced, &mut out);
        String::from_utf8(out).unwrap_or_default()
    }

    /// The compile-time wire forms say what the encoder says (debug builds also check this
    /// on every send).
    #[test]
    fn wire_forms_match_the_encoder() {
        assert_eq!(wire(&MAIL_OK, true), "250 2.1.0 Ok\r\n");
        assert_eq!(wire(&MAIL_OK, false), "250 Ok\r\n");
        assert_eq!(
            wire(&START_DATA, true),
            "354 End data with <CR><LF>.<CR><LF>\r\n"
        );
        assert_eq!(
            wire(&AUTH_NEEDS_TLS, true),
            "538 5.7.11 Encryption required for requested authentication mechanism: \
             AUTH is offered only after TLS, send STARTTLS first\r\n"
        );
        assert_eq!(
            MAIL_OK,
            Reply::new(250, "Ok")
                .and_then(|r| r.with_enhanced(EnhancedCode::known(2, 1, 0)))
                .unwrap_or_else(|_| Reply::local_error())
        );
    }
}
