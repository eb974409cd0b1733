//! Trace header fields (RFC 5321 §4.4): the `Received` line a server prepends for each hop,
//! the protocol keyword in its `with` clause (RFC 3848, RFC 6531 §3.7.3), counting earlier
//! hops to stop loops (RFC 5321 §6.3), and the RFC 5322 date they carry.
//!
//! ```
//! use smtp_proto::trace::{Received, count_received, with_keyword};
//!
//! let received = Received {
//!     helo: "client.example",
//!     reverse_dns: None,
//!     ip: "192.0.2.7".parse().unwrap(),
//!     by: "relay.example",
//!     with: with_keyword(false, false, true, false),
//!     id: Some("4F3A"),
//!     recipient: None,
//!     tls: None,
//!     unix_secs: 0,
//! };
//! let header = received.to_string();
//! assert!(header.starts_with("Received: from client.example (unknown [192.0.2.7])\r\n\tby relay.example with ESMTPS id 4F3A;"));
//! assert_eq!(count_received(header.as_bytes()), 1);
//! ```

use std::fmt;
use std::net::IpAddr;

/// The `with` keyword for a session (RFC 3848, RFC 6531 §3.7.3): `ESMTP` plus `S` for TLS
/// and `A` for AUTH; `UTF8SMTP…` when the message used SMTPUTF8; `LMTP…` for LMTP. (Plain
/// `SMTP` after HELO is the caller's choice: this is for EHLO/LHLO sessions.)
pub fn with_keyword(lmtp: bool, smtputf8: bool, tls: bool, auth: bool) -> &'static str {
    match (lmtp, smtputf8, tls, auth) {
        (true, _, false, false) => "LMTP",
        (true, _, true, false) => "LMTPS",
        (true, _, false, true) => "LMTPA",
        (true, _, true, true) => "LMTPSA",
        (false, true, false, false) => "UTF8SMTP",
        (false, true, true, false) => "UTF8SMTPS",
        (false, true, false, true) => "UTF8SMTPA",
        (false, true, true, true) => "UTF8SMTPSA",
        (false, false, false, false) => "ESMTP",
        (false, false, true, false) => "ESMTPS",
        (false, false, false, true) => "ESMTPA",
        (false, false, true, true) => "ESMTPSA",
    }
}

/// One `Received:` field (RFC 5321 §4.4, RCV-02); [`fmt::Display`] writes it folded, each
/// line CR LF-ended. Client-supplied names are sanitised (RCV-05): only printable ASCII
/// other than `(`, `)`, `\`, `;` and `"` is kept, at most 255 characters.
#[derive(Clone, Debug)]
pub struct Received<'a> {
    /// The name the client gave in EHLO/HELO/LHLO (`unknown` if none).
    pub helo: &'a str,
    /// The client's reverse DNS name, if looked up (`unknown` otherwise).
    pub reverse_dns: Option<&'a str>,
    /// The client's address: the effective one behind a proxy (RCV-06).
    pub ip: IpAddr,
    /// Our host name.
    pub by: &'a str,
    /// The protocol keyword ([`with_keyword`]).
    pub with: &'a str,
    /// Our queue identifier.
    pub id: Option<&'a str>,
    /// The one recipient, when the message has exactly one (RCV-03); written `for <…>`.
    pub recipient: Option<&'a str>,
    /// TLS protocol version and cipher suite, as a comment.
    pub tls: Option<(&'a str, &'a str)>,
    /// Seconds since the Unix epoch.
    pub unix_secs: u64,
}

impl fmt::Display for Received<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let helo = sanitise(self.helo);
        let helo = if helo.is_empty() {
            "unknown".to_owned()
        } else {
            helo
        };
        let rdns = self
            .reverse_dns
            .map(sanitise)
            .filter(|name| !name.is_empty());
        let ip = match self.ip {
            IpAddr::V4(ip) => ip.to_string(),
            IpAddr::V6(ip) => format!("IPv6:{ip}"),
        };
        write!(
            f,
            "Received: from {helo} ({} [{ip}])\r\n",
            rdns.as_deref().unwrap_or("unknown")
        )?;
        write!(f, "\tby {} with {}", sanitise(self.by), sanitise(self.with))?;
        if let Some((version, cipher)) = self.tls {
            write!(
                f,
                "\r\n\t(using {} with cipher {})",
                sanitise(version),
                sanitise(cipher)
            )?;
        }
        if let Some(id) = self.id {
            write!(f, " id {}", sanitise(id))?;
        }
        if let Some(recipient) = self.recipient {
            let recipient = sanitise(recipient.trim_start_matches('<').trim_end_matches('>'));
            write!(f, "\r\n\tfor <{recipient}>")?;
        }
        write!(f, ";\r\n\t{}\r\n", rfc5322_date(self.unix_secs))
    }
}

/// Keeps printable ASCII except the characters that would end a comment or a clause.
fn sanitise(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_graphic() && !matches!(c, '(' | ')' | '\\' | ';' | '"'))
        .take(255)
        .collect()
}

/// The number of `Received:` fields in the header section of `content` (RCV-08, RCV-09):
/// only fields before the first empty line count, folded continuation lines are not fields,
/// the name matches in any case. Lines may end in CR LF or LF.
pub fn count_received(content: &[u8]) -> usize {
    let mut count = 0;
    for line in content.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line.len() >= 9 && line[..9].eq_ignore_ascii_case(b"received:") {
            count += 1;
        }
    }
    count
}

/// `Tue, 1 Jul 2003 10:52:37 +0000` (RFC 5322 §3.3), in UTC, from seconds since the Unix
/// epoch.
pub fn rfc5322_date(unix_secs: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = unix_secs / 86_400;
    let secs = unix_secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    let weekday = DAYS
        .get(usize::try_from(days % 7).unwrap_or(0))
        .unwrap_or(&"Thu");
    let month = MONTHS
        .get(usize::try_from(month.saturating_sub(1)).unwrap_or(0))
        .unwrap_or(&"Jan");
    format!(
        "{weekday}, {day} {month} {year} {:02}:{:02}:{:02} +0000",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Year, month (1-12) and day (1-31) of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, for days on or after the epoch).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_rfc5322() {
        assert_eq!(rfc5322_date(0), "Thu, 1 Jan 1970 00:00:00 +0000");
        assert_eq!(
            rfc5322_date(1_057_056_757),
            "Tue, 1 Jul 2003 10:52:37 +0000"
        );
        assert_eq!(rfc5322_date(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000");
        assert_eq!(
            rfc5322_date(4_102_444_799),
            "Thu, 31 Dec 2099 23:59:59 +0000"
        );
    }

    #[test]
    fn with_keywords_follow_rfc3848_and_rfc6531() {
        assert_eq!(with_keyword(false, false, false, false), "ESMTP");
        assert_eq!(with_keyword(false, false, true, true), "ESMTPSA");
        assert_eq!(with_keyword(false, true, true, false), "UTF8SMTPS");
        assert_eq!(with_keyword(true, false, true, false), "LMTPS");
    }

    /// RCV-05: a hostile EHLO argument cannot break out of the clause or add a line.
    #[test]
    fn client_names_are_sanitised() {
        let header = Received {
            helo: "evil\r\nX-Injected: 1 (comment) \\ ; \"",
            reverse_dns: Some("rdns(.example"),
            ip: "2001:db8::7".parse().unwrap(),
            by: "relay.example",
            with: "ESMTP",
            id: None,
            recipient: Some("<b@y.example>"),
            tls: None,
            unix_secs: 0,
        }
        .to_string();
        assert_eq!(
            header,
            "Received: from evilX-Injected:1comment (rdns.example [IPv6:2001:db8::7])\r\n\tby relay.example with ESMTP\r\n\tfor <b@y.example>;\r\n\tThu, 1 Jan 1970 00:00:00 +0000\r\n"
        );
        assert_eq!(header.matches("\r\n").count(), 4);
        assert!(header.lines().all(|line| line.len() <= 998));
    }

    /// RCV-08, RCV-09: only the header section counts, in any case, folded lines once.
    #[test]
    fn received_fields_are_counted_in_the_header_section_only() {
        let content = b"Received: from a\r\n\tby b;\r\n\tdate\r\nRECEIVED: from c\r\nSubject: x\r\n\r\nReceived: in the body\r\n";
        assert_eq!(count_received(content), 2);
        assert_eq!(count_received(b"Subject: x\n\nReceived: y\n"), 0);
        assert_eq!(count_received(b""), 0);
    }
}
