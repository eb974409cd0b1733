//! The typed form of a `--fault` rule: where it fires, when, and what it does.

use std::fmt;
use std::time::Duration;

use smtp_proto::Reply;

/// Where in a session a rule fires: the decision the server is about to answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Phase {
    /// The connection is accepted; the `220` greeting is next.
    Greeting,
    /// HELO, EHLO or LHLO.
    Ehlo,
    /// STARTTLS (the `220` before the handshake).
    Starttls,
    /// An AUTH step.
    Auth,
    /// MAIL FROM.
    Mail,
    /// RCPT TO.
    Rcpt,
    /// DATA (the `354`).
    Data,
    /// The end of the content (the final reply to a message, `.` or BDAT LAST).
    Dot,
    /// The first BDAT of a message.
    Bdat,
    /// QUIT (the `221`).
    Quit,
}

impl Phase {
    /// Every phase, in session order.
    pub(crate) const ALL: [Self; 10] = [
        Self::Greeting,
        Self::Ehlo,
        Self::Starttls,
        Self::Auth,
        Self::Mail,
        Self::Rcpt,
        Self::Data,
        Self::Dot,
        Self::Bdat,
        Self::Quit,
    ];

    /// The phase's name in a rule.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Greeting => "greeting",
            Self::Ehlo => "ehlo",
            Self::Starttls => "starttls",
            Self::Auth => "auth",
            Self::Mail => "mail",
            Self::Rcpt => "rcpt",
            Self::Data => "data",
            Self::Dot => "dot",
            Self::Bdat => "bdat",
            Self::Quit => "quit",
        }
    }

    /// The position in [`ALL`](Self::ALL).
    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// Whether a fault may choose the reply here (the library answers STARTTLS and QUIT
    /// itself).
    pub(crate) fn takes_reply(self) -> bool {
        !matches!(self, Self::Starttls | Self::Quit)
    }

    /// Whether content follows, so a disconnect after K octets of it makes sense.
    pub(crate) fn has_content(self) -> bool {
        matches!(self, Self::Data | Self::Bdat)
    }

    /// What `match=` is compared with here.
    pub(crate) fn subject(self) -> Part {
        match self {
            Self::Greeting | Self::Starttls | Self::Quit => Part::Client,
            Self::Ehlo => Part::Helo,
            Self::Auth => Part::User,
            Self::Mail | Self::Data | Self::Dot | Self::Bdat => Part::Sender,
            Self::Rcpt => Part::Rcpt,
        }
    }

    /// Whether `part` is known when the phase fires.
    pub(crate) fn knows(self, part: Part) -> bool {
        match part {
            Part::Client => true,
            Part::Helo => !matches!(self, Self::Greeting),
            Part::User => self == Self::Auth,
            Part::Sender => matches!(
                self,
                Self::Mail | Self::Rcpt | Self::Data | Self::Dot | Self::Bdat
            ),
            Part::Rcpt => self == Self::Rcpt,
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A fact about the session a rule can key on or match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Part {
    /// The client's IP address.
    Client,
    /// The HELO/EHLO name.
    Helo,
    /// The AUTH user name.
    User,
    /// The envelope sender, without angle brackets (empty for `<>`).
    Sender,
    /// The recipient of this RCPT, without angle brackets.
    Rcpt,
}

impl Part {
    /// Every part, for parsing.
    pub(crate) const ALL: [Self; 5] = [
        Self::Client,
        Self::Helo,
        Self::User,
        Self::Sender,
        Self::Rcpt,
    ];

    /// The part's name in a rule.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::Helo => "helo",
            Self::User => "user",
            Self::Sender => "sender",
            Self::Rcpt => "rcpt",
        }
    }
}

/// When a rule fires; every condition given must hold (none: every time).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Conditions {
    /// `match=GLOB`: the phase's subject (see [`Phase::subject`]) matches.
    pub(crate) matches: Option<String>,
    /// `after=N`: this session reached the phase more than N times.
    pub(crate) after: Option<u32>,
    /// `every=N`: every Nth time the phase is reached (across sessions).
    pub(crate) every: Option<u64>,
    /// `first=N` with `key=`: the first N times per key (across sessions).
    pub(crate) first: Option<(u32, Vec<Part>)>,
    /// `p=P`: with probability P.
    pub(crate) probability: Option<f64>,
}

/// How a fault ends the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Disconnect {
    /// Before the reply: the client hears nothing.
    Before,
    /// After the reply.
    After,
    /// After this many octets of message content (DATA and BDAT only).
    AfterContent(u64),
}

/// What a rule does when it fires.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Action {
    /// Wait this long before answering.
    pub(crate) delay: Option<Duration>,
    /// Write the reply one octet per this interval.
    pub(crate) tarpit: Option<Duration>,
    /// Answer this instead of the normal reply.
    pub(crate) reply: Option<Reply>,
    /// End the connection.
    pub(crate) disconnect: Option<Disconnect>,
}

/// One `--fault` rule.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Rule {
    /// Where it fires.
    pub(crate) phase: Phase,
    /// When.
    pub(crate) when: Conditions,
    /// What it does.
    pub(crate) action: Action,
    /// The rule as given, for log lines.
    pub(crate) text: String,
}

/// Whether `text` matches `pattern`: `*` any run of characters, `?` one, ASCII case
/// ignored.
pub(crate) fn glob(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    // The last `*` seen and the text position it was tried at.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some(b'*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == b'?' || c.eq_ignore_ascii_case(&t[ti]) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi.min(p.len())..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches() {
        assert!(glob("*@slow.example", "a@slow.example"));
        assert!(glob("*@slow.example", "A@SLOW.Example"));
        assert!(!glob("*@slow.example", "a@fast.example"));
        assert!(glob("a?c*", "abcdef"));
        assert!(glob("*", ""));
        assert!(!glob("?", ""));
        assert!(glob("*b*b*", "abxbyb"));
        assert!(!glob("*b*c", "abxbyb"));
        assert!(glob("127.0.0.*", "127.0.0.1"));
    }

    #[test]
    fn phases_know_their_parts() {
        assert!(Phase::Rcpt.knows(Part::Sender) && Phase::Rcpt.knows(Part::Rcpt));
        assert!(!Phase::Mail.knows(Part::Rcpt));
        assert!(!Phase::Greeting.knows(Part::Helo));
        for (i, phase) in Phase::ALL.into_iter().enumerate() {
            assert_eq!(phase.index(), i);
            assert!(phase.knows(phase.subject()), "{phase}");
        }
    }
}
