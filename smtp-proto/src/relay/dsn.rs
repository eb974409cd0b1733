//! Delivery status notifications (RFC 3464): a `multipart/report` with a human-readable
//! part, a `message/delivery-status` part and the original message or its header.
//!
//! The [`Queue`](super::Queue) decides *when* and *about whom* ([`Notice`]); [`render`]
//! writes the message. Every required field is present — `Reporting-MTA`, `Final-Recipient`,
//! `Action`, `Status` — with `Arrival-Date`, `Remote-MTA`, `Diagnostic-Code`,
//! `Last-Attempt-Date` and `Will-Retry-Until` where they apply (DSN-01, DSN-02, DSN-12).
//! Diagnostic text is the next hop's reply with every control and 8-bit byte removed, folded,
//! so a hostile reply cannot add a header field (DSN-04).

use std::fmt::Write as _;

use super::queue::{Notice, NoticeAction, NoticeRecipient};
use crate::codec::address::{ForwardPath, Mailbox};
use crate::codec::params::Ret;
use crate::trace::rfc5322_date;

/// The facts a notice needs beyond the [`Notice`].
#[derive(Clone, Debug)]
pub struct Context<'a> {
    /// Our host name (`Reporting-MTA: dns; …`, `From: MAILER-DAEMON@…`).
    pub reporting_mta: &'a str,
    /// The notice's own queue identifier (its `Message-ID` and MIME boundary).
    pub id: &'a str,
    /// Now, in seconds since the Unix epoch (`Date`, `Last-Attempt-Date`).
    pub now_unix: u64,
    /// The original message's arrival, in seconds since the Unix epoch (`Arrival-Date`).
    pub arrival_unix: u64,
    /// The original message as spooled (header section, empty line, body).
    pub original: &'a [u8],
    /// `RET=FULL` returns the whole message only up to this size, else the header
    /// section (DSN-08).
    pub full_limit: usize,
    /// Return only the header section whatever RET says (a REQUIRETLS message, PT-08).
    pub headers_only: bool,
}

/// A rendered notice: sent `MAIL FROM:<>` (DSN-06) to the original sender.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    /// The recipient: the original sender.
    pub to: ForwardPath,
    /// The message, CR LF line endings, ready for the spool.
    pub content: Vec<u8>,
    /// The notice carries UTF-8 addresses (`message/global-delivery-status`, RFC 6533,
    /// DSN-11): send it with `SMTPUTF8`.
    pub smtputf8: bool,
}

/// Writes the notice (see the [module documentation](self)).
pub fn render(notice: &Notice, context: &Context<'_>) -> Rendered {
    let global = !notice.to.is_ascii()
        || notice
            .recipients
            .iter()
            .any(|r| r.recipient.mailbox().is_some_and(|m| !m.is_ascii()));
    let boundary = boundary(context);
    let mut out = String::new();
    write_header(&mut out, notice, context, &boundary, global);
    let _ = write!(out, "--{boundary}\r\n");
    write_human(&mut out, notice, context, global);
    let _ = write!(out, "--{boundary}\r\n");
    write_status(&mut out, notice, context, global);
    let _ = write!(out, "--{boundary}\r\n");
    let mut content = out.into_bytes();
    write_original(&mut content, notice, context, global);
    content.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    Rendered {
        to: ForwardPath::Mailbox(notice.to.clone()),
        content,
        smtputf8: global,
    }
}

/// A boundary that does not occur in the returned content.
fn boundary(context: &Context<'_>) -> String {
    let mut boundary = format!("=_{}_{}", context.id, context.now_unix);
    while memchr::memmem::find(context.original, boundary.as_bytes()).is_some() {
        boundary.push('x');
    }
    boundary
}

fn subject(notice: &Notice) -> &'static str {
    let failed = notice
        .recipients
        .iter()
        .any(|r| r.action == NoticeAction::Failed);
    let delayed = notice
        .recipients
        .iter()
        .any(|r| r.action == NoticeAction::Delayed);
    if failed {
        "Undelivered Mail Returned to Sender"
    } else if delayed {
        "Delayed Mail (still being retried)"
    } else {
        "Successful Mail Delivery Report"
    }
}

fn write_header(
    out: &mut String,
    notice: &Notice,
    context: &Context<'_>,
    boundary: &str,
    global: bool,
) {
    let mta = context.reporting_mta;
    let _ = write!(
        out,
        "From: Mail Delivery System <MAILER-DAEMON@{mta}>\r\n\
         To: <{}>\r\n\
         Subject: {}\r\n\
         Date: {}\r\n\
         Message-ID: <{}.dsn@{mta}>\r\n\
         Auto-Submitted: auto-replied\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type={};\r\n\tboundary=\"{boundary}\"\r\n\
         \r\n\
         This is a MIME-encapsulated message.\r\n\r\n",
        notice.to,
        subject(notice),
        rfc5322_date(context.now_unix),
        context.id,
        if global {
            "global-delivery-status"
        } else {
            "delivery-status"
        },
    );
}

fn write_human(out: &mut String, notice: &Notice, context: &Context<'_>, global: bool) {
    let charset = if global { "utf-8" } else { "us-ascii" };
    let _ = write!(out, "Content-Type: text/plain; charset={charset}\r\n\r\n");
    let _ = write!(
        out,
        "This is the mail system at host {}.\r\n\r\n",
        context.reporting_mta
    );
    for recipient in &notice.recipients {
        let what = match recipient.action {
            NoticeAction::Failed => "could not be delivered; no further attempts will be made:",
            NoticeAction::Delayed => "is not delivered yet; the mail system keeps trying:",
            NoticeAction::Delivered => "was delivered:",
            NoticeAction::Relayed => "went to a mail system that sends no delivery notices:",
        };
        let _ = write!(out, "{}\r\n    {what}\r\n", recipient.recipient);
        let _ = write!(
            out,
            "    {}\r\n\r\n",
            fold(&diagnostic_text(recipient), 4, "    ")
        );
    }
}

fn write_status(out: &mut String, notice: &Notice, context: &Context<'_>, global: bool) {
    let kind = if global {
        "message/global-delivery-status"
    } else {
        "message/delivery-status"
    };
    let _ = write!(out, "Content-Type: {kind}\r\n\r\n");
    let _ = write!(out, "Reporting-MTA: dns; {}\r\n", context.reporting_mta);
    if let Some(envid) = &notice.envid {
        let _ = write!(out, "Original-Envelope-Id: {}\r\n", printable(envid));
    }
    let _ = write!(
        out,
        "Arrival-Date: {}\r\n",
        rfc5322_date(context.arrival_unix)
    );
    for recipient in &notice.recipients {
        out.push_str("\r\n");
        write_recipient(out, notice, recipient, context);
    }
    out.push_str("\r\n");
}

fn write_recipient(
    out: &mut String,
    notice: &Notice,
    recipient: &NoticeRecipient,
    context: &Context<'_>,
) {
    let address = recipient
        .recipient
        .mailbox()
        .map_or_else(|| "Postmaster".to_owned(), Mailbox::to_string);
    let kind = if address.is_ascii() {
        "rfc822"
    } else {
        "utf-8"
    };
    let _ = write!(out, "Final-Recipient: {kind}; {address}\r\n");
    if let Some(orcpt) = &recipient.orcpt {
        let _ = write!(
            out,
            "Original-Recipient: {}; {}\r\n",
            printable(&orcpt.addr_type),
            printable(&orcpt.address)
        );
    }
    let action = match recipient.action {
        NoticeAction::Failed => "failed",
        NoticeAction::Delayed => "delayed",
        NoticeAction::Delivered => "delivered",
        NoticeAction::Relayed => "relayed",
    };
    let _ = write!(out, "Action: {action}\r\nStatus: {}\r\n", recipient.status);
    if let Some(mta) = &recipient.diagnosis.remote_mta {
        let _ = write!(out, "Remote-MTA: dns; {}\r\n", printable(mta));
        let line = fold(&diagnostic_text(recipient), 23, " ");
        let _ = write!(out, "Diagnostic-Code: smtp; {line}\r\n");
    } else {
        let line = fold(
            &printable(&recipient.diagnosis.reply.sanitized_text()),
            31,
            " ",
        );
        let _ = write!(out, "Diagnostic-Code: X-smtp-proto; {line}\r\n");
    }
    let _ = write!(
        out,
        "Last-Attempt-Date: {}\r\n",
        rfc5322_date(context.now_unix)
    );
    if recipient.action == NoticeAction::Delayed {
        let until = context
            .arrival_unix
            .saturating_add(notice.lifetime.as_secs());
        let _ = write!(out, "Will-Retry-Until: {}\r\n", rfc5322_date(until));
    }
}

fn write_original(content: &mut Vec<u8>, notice: &Notice, context: &Context<'_>, global: bool) {
    let full = notice.ret == Some(Ret::Full)
        && !context.headers_only
        && context.original.len() <= context.full_limit;
    let (kind, bytes) = if full {
        (
            if global {
                "message/global"
            } else {
                "message/rfc822"
            },
            context.original,
        )
    } else {
        let end = header_section_end(context.original);
        (
            if global {
                "message/global-headers"
            } else {
                "text/rfc822-headers"
            },
            context.original.get(..end).unwrap_or_default(),
        )
    };
    content.extend_from_slice(format!("Content-Type: {kind}\r\n\r\n").as_bytes());
    content.extend_from_slice(bytes);
}

/// Where the header section ends: after the empty line, or the whole input.
fn header_section_end(message: &[u8]) -> usize {
    let crlf = memchr::memmem::find(message, b"\r\n\r\n").map(|at| at + 2);
    let lf = memchr::memmem::find(message, b"\n\n").map(|at| at + 1);
    match (crlf, lf) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b).unwrap_or(message.len()),
    }
}

fn diagnostic_text(recipient: &NoticeRecipient) -> String {
    printable(&recipient.diagnosis.line())
}

/// Printable ASCII only: controls and 8-bit characters become `?` (DSN-04).
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c == ' ' || c.is_ascii_graphic() {
                c
            } else {
                '?'
            }
        })
        .take(2000)
        .collect()
}

/// Folds at spaces so no line exceeds 78 characters where a space allows it, the first line
/// starting at column `column`; continuation lines start with `indent` (which must begin
/// with white space).
fn fold(text: &str, column: usize, indent: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut line = column;
    for (i, word) in text.split(' ').enumerate() {
        if i > 0 {
            if line + 1 + word.len() > 78 {
                out.push_str("\r\n");
                out.push_str(indent);
                line = indent.len();
            } else {
                out.push(' ');
                line += 1;
            }
        }
        out.push_str(word);
        line += word.len();
    }
    out
}
