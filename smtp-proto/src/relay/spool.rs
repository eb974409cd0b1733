//! The queue file format: one file per message, envelope first, then the content; and the
//! progress records that settle recipients durably (SPL-01, SPL-05).
//!
//! ```text
//! SMTP-PROTO-QUEUE 1\r\n
//! arrival 1764700000\r\n
//! mail <a@x.example> SIZE=1234 RET=HDRS\r\n
//! rcpt <b@y.example> NOTIFY=FAILURE\r\n
//! rcpt <c@z.example>\r\n
//! \r\n
//! <the message content, exactly as it will be sent>
//! ```
//!
//! Addresses and parameters are written in SMTP syntax and read back with the same parsers
//! the server uses, so a queue file can never hold what a client could not have sent. A file
//! with another first line is of an unknown version: [`decode`] says so and the program moves
//! it aside (SPL-07). Progress records are lines `done <index>` appended (and fsynced) to a
//! separate file as recipients settle; a torn last line (no LF) is ignored.

use crate::codec::address::{ForwardPath, ReversePath, parse_forward_path, parse_reverse_path};
use crate::codec::params::{
    MailParams, ParamSupport, RcptParams, parse_mail_params, parse_rcpt_params,
};

/// The first line of every queue file of this version.
pub const MAGIC: &str = "SMTP-PROTO-QUEUE 1";

/// A queue file's envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// Arrival, in seconds since the Unix epoch.
    pub arrival_unix: u64,
    /// The reverse-path.
    pub from: ReversePath,
    /// The MAIL parameters.
    pub params: MailParams,
    /// The recipients with their parameters, in order.
    pub recipients: Vec<(ForwardPath, RcptParams)>,
}

/// Why a queue file could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SpoolError {
    /// The first line is not [`MAGIC`]: another version or not a queue file.
    #[error("not a queue file of version 1 (first line {0:?})")]
    UnknownVersion(String),
    /// A line of the envelope is malformed.
    #[error("queue file line {line}: {what}")]
    Malformed {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        what: String,
    },
}

/// Writes the envelope part of a queue file (everything before the content).
pub fn encode(envelope: &Envelope) -> Vec<u8> {
    let mut out = format!(
        "{MAGIC}\r\narrival {}\r\nmail {}",
        envelope.arrival_unix, envelope.from
    );
    envelope.params.encode(&mut out);
    out.push_str("\r\n");
    for (path, params) in &envelope.recipients {
        out.push_str("rcpt ");
        out.push_str(&path.to_string());
        params.encode(&mut out);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.into_bytes()
}

/// Reads a queue file: the envelope and the offset where the content starts.
pub fn decode(file: &[u8]) -> Result<(Envelope, usize), SpoolError> {
    let mut pos = 0;
    let mut number = 0;
    let mut next_line = |pos: &mut usize| -> Option<&[u8]> {
        let rest = file.get(*pos..)?;
        let end = memchr::memmem::find(rest, b"\r\n")?;
        *pos += end + 2;
        number += 1;
        rest.get(..end)
    };
    let malformed = |line: usize, what: &str| SpoolError::Malformed {
        line,
        what: what.to_owned(),
    };
    let first = next_line(&mut pos).unwrap_or_default();
    if first != MAGIC.as_bytes() {
        return Err(SpoolError::UnknownVersion(
            String::from_utf8_lossy(first.get(..first.len().min(40)).unwrap_or_default())
                .into_owned(),
        ));
    }
    let arrival = next_line(&mut pos).ok_or_else(|| malformed(2, "missing arrival"))?;
    let arrival_unix = arrival
        .strip_prefix(b"arrival ")
        .and_then(|n| std::str::from_utf8(n).ok())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| malformed(2, "expected `arrival <seconds>`"))?;
    let mail = next_line(&mut pos).ok_or_else(|| malformed(3, "missing mail"))?;
    let mail = mail
        .strip_prefix(b"mail ")
        .ok_or_else(|| malformed(3, "expected `mail <path>`"))?;
    let (from, rest) = parse_reverse_path(mail).map_err(|e| malformed(3, e.description()))?;
    let params = parse_mail_params(rest, &ParamSupport::all())
        .map_err(|e| malformed(3, &e.description()))?;
    let mut recipients = Vec::new();
    loop {
        let line_number = recipients.len() + 4;
        let line = next_line(&mut pos)
            .ok_or_else(|| malformed(line_number, "envelope not ended by an empty line"))?;
        if line.is_empty() {
            break;
        }
        let rcpt = line
            .strip_prefix(b"rcpt ")
            .ok_or_else(|| malformed(line_number, "expected `rcpt <path>`"))?;
        let (path, rest) =
            parse_forward_path(rcpt).map_err(|e| malformed(line_number, e.description()))?;
        let params = parse_rcpt_params(rest, &ParamSupport::all())
            .map_err(|e| malformed(line_number, &e.description()))?;
        recipients.push((path, params));
    }
    if recipients.is_empty() {
        return Err(malformed(4, "no recipient"));
    }
    Ok((
        Envelope {
            arrival_unix,
            from,
            params,
            recipients,
        },
        pos,
    ))
}

/// One progress record: recipient `index` is settled.
pub fn progress_record(index: usize) -> Vec<u8> {
    format!("done {index}\n").into_bytes()
}

/// The settled recipient indices in a progress file; malformed or torn lines are ignored.
pub fn settled(progress: &[u8]) -> Vec<usize> {
    let mut done: Vec<usize> = progress
        .split_inclusive(|&b| b == b'\n')
        .filter_map(|line| line.strip_suffix(b"\n"))
        .filter_map(|line| line.strip_prefix(b"done "))
        .filter_map(|n| std::str::from_utf8(n).ok()?.parse().ok())
        .collect();
    done.sort_unstable();
    done.dedup();
    done
}
