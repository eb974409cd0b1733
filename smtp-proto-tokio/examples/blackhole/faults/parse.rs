//! Parsing `--fault` rules; see [`GRAMMAR`].
//!
//! Every error names the part of the rule that is wrong and what was expected there.

use std::str::FromStr;
use std::time::Duration;

use smtp_proto::{EnhancedCode, Reply};

use super::rule::{Action, Conditions, Disconnect, Part, Phase, Rule};

/// The grammar, as `--help` and the README show it.
pub(crate) const GRAMMAR: &str = "\
--fault PHASE:[CONDITIONS:]ACTIONS   (repeatable; tried in order, the first that holds acts)
  PHASE      greeting ehlo starttls auth mail rcpt data (the 354) dot (end of data) bdat quit
  CONDITIONS comma-separated, all must hold (none: every time):
             p=0.01          with this probability (drawn from --seed)
             every=3         every 3rd time the phase is reached (all sessions)
             after=5         when this session reached the phase more than 5 times
             first=1         the first time per key (all sessions; the last 65536 keys)
             key=sender+rcpt the key of first= (client, helo, user, sender, rcpt; default client)
             match=*@slow.example  the phase's address matches (* and ?, any case): the
                             sender at mail/data/dot/bdat, the recipient at rcpt, the
                             HELO name at ehlo, the user at auth, the client IP otherwise
  ACTIONS    comma-separated; reply= comes last (its text runs to the end):
             delay=2s        wait before answering (ms, s or m; at most 10m)
             tarpit=1s       write the reply one byte per interval
             reply=451 4.7.1 Try again later   answer this 4xx/5xx instead
             disconnect      close before the reply (=after: after it; at data or bdat
                             =4096: after 4096 bytes of content)
             close           421 (or reply=) and close
  reply= is not possible at starttls and quit, where the library answers itself.";

/// The longest delay or tarpit interval: the time an SMTP client waits for the reply to
/// the end of data (RFC 5321 §4.5.3.2.6).
const MAX_DURATION: Duration = Duration::from_secs(600);

/// The longest `match=` pattern.
const MAX_PATTERN: usize = 256;

/// The condition names, which tell the optional CONDITIONS part from ACTIONS.
const CONDITION_KEYS: [&str; 6] = ["p", "every", "after", "first", "key", "match"];

impl FromStr for Rule {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        parse(s.trim()).map_err(|why| format!("{why} (see --help for the rule grammar)"))
    }
}

fn parse(s: &str) -> Result<Rule, String> {
    let (phase, rest) = s.split_once(':').ok_or_else(|| {
        "expected PHASE:[CONDITIONS:]ACTIONS, like rcpt:p=0.1:reply=451 Try later".to_owned()
    })?;
    let phase = parse_phase(phase)?;
    let first_key = rest
        .split(['=', ',', ':'])
        .next()
        .unwrap_or_default()
        .trim();
    let (conditions, actions) = match rest.split_once(':') {
        Some((conditions, actions)) if CONDITION_KEYS.contains(&first_key) => {
            (Some(conditions), actions)
        }
        _ => (None, rest),
    };
    let when = match conditions {
        Some(text) => parse_conditions(phase, text)?,
        None => Conditions::default(),
    };
    let action = parse_actions(phase, actions)?;
    Ok(Rule {
        phase,
        when,
        action,
        text: s.to_owned(),
    })
}

fn parse_phase(s: &str) -> Result<Phase, String> {
    let s = s.trim();
    Phase::ALL
        .into_iter()
        .find(|phase| phase.name().eq_ignore_ascii_case(s))
        .ok_or_else(|| {
            let names: Vec<&str> = Phase::ALL.iter().map(|p| p.name()).collect();
            format!(
                "phase '{s}' is unknown: expected one of {}",
                names.join(", ")
            )
        })
}

fn parse_conditions(phase: Phase, text: &str) -> Result<Conditions, String> {
    let mut when = Conditions::default();
    let mut first = None;
    let mut key = None;
    for item in text.split(',').map(str::trim) {
        let (name, value) = item.split_once('=').ok_or_else(|| {
            format!(
                "condition '{item}': expected NAME=VALUE (p=, every=, after=, first=, key=, match=)"
            )
        })?;
        let value = value.trim();
        let bad = |expected: &str| format!("condition '{item}': expected {expected}");
        match name.trim() {
            "p" => {
                let p: f64 = value
                    .parse()
                    .map_err(|_| bad("a probability from 0 to 1, like p=0.01"))?;
                if !(0.0..=1.0).contains(&p) {
                    return Err(bad("a probability from 0 to 1, like p=0.01"));
                }
                when.probability = Some(p);
            }
            "every" => {
                when.every =
                    Some(count(value).ok_or_else(|| bad("a count of at least 1, like every=3"))?);
            }
            "after" => {
                when.after = Some(value.parse().map_err(|_| bad("a count, like after=5"))?);
            }
            "first" => {
                first = Some(
                    count(value)
                        .and_then(|n| u32::try_from(n).ok())
                        .ok_or_else(|| bad("a count of at least 1, like first=1"))?,
                );
            }
            "key" => key = Some(parse_key(phase, item, value)?),
            "match" => {
                if value.is_empty() || value.len() > MAX_PATTERN {
                    return Err(bad(&format!(
                        "a pattern of 1 to {MAX_PATTERN} characters, like match=*@slow.example"
                    )));
                }
                when.matches = Some(value.to_owned());
            }
            other => {
                return Err(format!(
                    "condition '{item}': '{other}' is unknown: expected p, every, after, first, key or match"
                ));
            }
        }
    }
    when.first = match (first, key) {
        (Some(n), key) => Some((n, key.unwrap_or_else(|| vec![Part::Client]))),
        (None, Some(_)) => {
            return Err("condition 'key=' needs first=N (the count per key)".to_owned());
        }
        (None, None) => None,
    };
    Ok(when)
}

/// A count of at least 1.
fn count(value: &str) -> Option<u64> {
    value.parse().ok().filter(|&n| n >= 1)
}

fn parse_key(phase: Phase, item: &str, value: &str) -> Result<Vec<Part>, String> {
    let mut parts = Vec::new();
    for name in value.split('+').map(str::trim) {
        let part = Part::ALL
            .into_iter()
            .find(|part| part.name() == name)
            .ok_or_else(|| {
                format!("condition '{item}': '{name}' is unknown: expected client, helo, user, sender or rcpt, joined with +")
            })?;
        if !phase.knows(part) {
            return Err(format!(
                "condition '{item}': the {} is not known at the {phase} phase",
                part.name()
            ));
        }
        parts.push(part);
    }
    Ok(parts)
}

fn parse_actions(phase: Phase, text: &str) -> Result<Action, String> {
    let mut action = Action::default();
    let mut close = false;
    let mut rest = text.trim();
    while !rest.is_empty() {
        if let Some(reply) = rest.strip_prefix("reply=") {
            action.reply = Some(parse_reply(phase, reply.trim())?);
            break;
        }
        let (item, tail) = rest.split_once(',').unwrap_or((rest, ""));
        rest = tail.trim();
        let item = item.trim();
        let (name, value) = match item.split_once('=') {
            Some((name, value)) => (name.trim(), Some(value.trim())),
            None => (item, None),
        };
        let bad = |expected: &str| format!("action '{item}': expected {expected}");
        match (name, value) {
            ("delay", Some(value)) => action.delay = Some(duration(value).map_err(|e| bad(&e))?),
            ("tarpit", Some(value)) => {
                let interval = duration(value).map_err(|e| bad(&e))?;
                if interval.is_zero() {
                    return Err(bad("an interval above 0, like tarpit=1s"));
                }
                action.tarpit = Some(interval);
            }
            ("disconnect", None) | ("disconnect", Some("before")) => {
                action.disconnect = Some(Disconnect::Before);
            }
            ("disconnect", Some("after")) => action.disconnect = Some(Disconnect::After),
            ("disconnect", Some(value)) => {
                let octets: u64 = value.parse().map_err(|_| {
                    bad("disconnect, disconnect=after, or (at data and bdat) disconnect=OCTETS")
                })?;
                if !phase.has_content() {
                    return Err(format!(
                        "action '{item}': a disconnect after content octets is only possible at data and bdat, not at {phase}"
                    ));
                }
                action.disconnect = Some(Disconnect::AfterContent(octets));
            }
            ("close", None) => close = true,
            ("", None) => {
                return Err(
                    "an empty action: expected delay=, tarpit=, reply=, disconnect or close"
                        .to_owned(),
                );
            }
            _ => {
                return Err(format!(
                    "action '{item}' is unknown: expected delay=DURATION, tarpit=DURATION, reply=CODE [X.Y.Z] TEXT, disconnect[=after|=OCTETS] or close"
                ));
            }
        }
    }
    if close {
        if action.disconnect.is_some() {
            return Err(
                "close already disconnects after its reply: drop the disconnect action".to_owned(),
            );
        }
        if !phase.takes_reply() {
            return Err(format!(
                "close sends a 421, which is not possible at {phase}: use disconnect"
            ));
        }
        action.disconnect = Some(Disconnect::After);
        action.reply.get_or_insert(closing_reply());
    }
    if action.reply.is_some() && action.disconnect == Some(Disconnect::Before) {
        return Err("disconnect closes before the reply, so reply= would never be sent: use disconnect=after".to_owned());
    }
    if action == Action::default() {
        return Err(format!(
            "'{}' has no action: expected delay=, tarpit=, reply=, disconnect or close",
            text.trim()
        ));
    }
    Ok(action)
}

/// `421 4.3.2 Service not available, closing transmission channel`: the reply of `close`.
fn closing_reply() -> Reply {
    const CLOSING: Reply = Reply::constant(
        421,
        Some((4, 3, 2)),
        "Service not available, closing transmission channel (blackhole fault)",
    );
    CLOSING
}

/// `CODE [X.Y.Z] [TEXT]`, a refusal.
fn parse_reply(phase: Phase, text: &str) -> Result<Reply, String> {
    let bad = |expected: &str| format!("action 'reply={text}': expected {expected}");
    if !phase.takes_reply() {
        return Err(format!(
            "action 'reply={text}': the library answers {} itself; use delay, tarpit or disconnect there",
            phase.name().to_ascii_uppercase()
        ));
    }
    let (code, rest) = text.split_once(' ').unwrap_or((text, ""));
    let code: u16 = code
        .parse()
        .ok()
        .filter(|code| (400..=599).contains(code))
        .ok_or_else(|| bad("a reply code from 400 to 599 first (a fault refuses), like reply=451 4.7.1 Try again later"))?;
    let rest = rest.trim();
    let (enhanced, rest) = match rest.split_once(' ').unwrap_or((rest, "")) {
        (word, tail) if word.contains('.') && word.starts_with(|c: char| c.is_ascii_digit()) => (
            Some(
                parse_enhanced(word)
                    .ok_or_else(|| bad("an enhanced code like 4.7.1 after the reply code"))?,
            ),
            tail.trim(),
        ),
        _ => (None, rest),
    };
    let text = if rest.is_empty() {
        if code < 500 {
            "Try again later (blackhole fault)"
        } else {
            "Refused (blackhole fault)"
        }
        .to_owned()
    } else {
        rest.to_owned()
    };
    let reply = Reply::new(code, text).map_err(|_| bad("printable ASCII text"))?;
    match enhanced {
        Some(enhanced) => reply.with_enhanced(enhanced).map_err(|_| {
            bad(&format!(
                "an enhanced code of class {} for reply code {code}",
                code / 100
            ))
        }),
        None => Ok(reply),
    }
}

fn parse_enhanced(word: &str) -> Option<EnhancedCode> {
    let mut parts = word.split('.').map(str::parse::<u16>);
    let (Some(Ok(class)), Some(Ok(subject)), Some(Ok(detail)), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    EnhancedCode::new(u8::try_from(class).ok()?, subject, detail)
}

/// `500ms`, `2s`, `1m`: at most [`MAX_DURATION`].
fn duration(value: &str) -> Result<Duration, String> {
    const EXPECTED: &str = "a duration like 500ms, 2s or 1m (at most 10m)";
    let (number, unit) = value
        .find(|c: char| !c.is_ascii_digit())
        .map_or((value, ""), |at| value.split_at(at));
    let number: u64 = number.parse().map_err(|_| EXPECTED.to_owned())?;
    let duration = match unit {
        "ms" => Duration::from_millis(number),
        "s" => Duration::from_secs(number),
        "m" => Duration::from_secs(number.saturating_mul(60)),
        _ => return Err(EXPECTED.to_owned()),
    };
    if duration > MAX_DURATION {
        return Err(EXPECTED.to_owned());
    }
    Ok(duration)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn rule(s: &str) -> Rule {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn error(s: &str) -> String {
        s.parse::<Rule>()
            .err()
            .unwrap_or_else(|| panic!("{s} parsed"))
    }

    #[test]
    fn greylisting() {
        let r = rule("rcpt:first=1,key=sender+rcpt:reply=451 4.7.1 Greylisted, try again: later");
        assert_eq!(r.phase, Phase::Rcpt);
        assert_eq!(r.when.first, Some((1, vec![Part::Sender, Part::Rcpt])));
        let reply = r.action.reply.unwrap();
        assert_eq!(reply.code(), 451);
        assert_eq!(reply.enhanced().unwrap().to_string(), "4.7.1");
        assert_eq!(reply.text(), "Greylisted, try again: later");
        assert_eq!(r.action.disconnect, None);
    }

    #[test]
    fn actions_without_conditions() {
        let r = rule("dot:disconnect");
        assert_eq!(r.when, Conditions::default());
        assert_eq!(r.action.disconnect, Some(Disconnect::Before));
        let r = rule("ehlo:delay=1500ms,tarpit=100ms");
        assert_eq!(r.action.delay, Some(Duration::from_millis(1500)));
        assert_eq!(r.action.tarpit, Some(Duration::from_millis(100)));
        let r = rule("MAIL:reply=550");
        assert_eq!(r.action.reply.unwrap().text(), "Refused (blackhole fault)");
        let r = rule("quit:delay=1m,disconnect");
        assert_eq!(r.action.delay, Some(Duration::from_secs(60)));
    }

    #[test]
    fn conditions_and_close() {
        let r = rule("data:p=0.01:disconnect=4096");
        assert_eq!(r.when.probability, Some(0.01));
        assert_eq!(r.action.disconnect, Some(Disconnect::AfterContent(4096)));
        let r = rule("mail:after=10:close");
        assert_eq!(r.when.after, Some(10));
        assert_eq!(r.action.disconnect, Some(Disconnect::After));
        assert_eq!(r.action.reply.as_ref().unwrap().code(), 421);
        let r = rule("mail:after=10:close,reply=421 4.7.0 Ten per connection");
        assert_eq!(r.action.reply.unwrap().text(), "Ten per connection");
        let r = rule("rcpt:every=3,match=*@slow.example:delay=2s,reply=450 4.2.1 Slow");
        assert_eq!(r.when.every, Some(3));
        assert_eq!(r.when.matches.as_deref(), Some("*@slow.example"));
        let r = rule("greeting:first=2:reply=554 5.7.1 Go away");
        assert_eq!(r.when.first, Some((2, vec![Part::Client])));
    }

    #[test]
    fn errors_name_the_part_and_what_was_expected() {
        let cases = [
            ("rcpt", "PHASE:[CONDITIONS:]ACTIONS"),
            (
                "rcp:reply=451",
                "phase 'rcp' is unknown: expected one of greeting",
            ),
            (
                "rcpt:p=2:reply=451",
                "condition 'p=2': expected a probability",
            ),
            (
                "rcpt:every=0:reply=451",
                "condition 'every=0': expected a count of at least 1",
            ),
            ("rcpt:key=sender:reply=451", "'key=' needs first=N"),
            (
                "mail:first=1,key=rcpt:reply=451",
                "the rcpt is not known at the mail phase",
            ),
            ("mail:first=1,key=color:reply=451", "'color' is unknown"),
            ("rcpt:reply=250 OK", "a reply code from 400 to 599"),
            ("rcpt:reply=451 5.7.1 x", "enhanced code of class 4"),
            ("rcpt:reply=451 4.7 x", "an enhanced code like 4.7.1"),
            ("quit:reply=421 bye", "answers QUIT itself"),
            ("starttls:close", "not possible at starttls"),
            ("rcpt:disconnect=4096", "only possible at data and bdat"),
            ("rcpt:disconnect,reply=451 x", "use disconnect=after"),
            (
                "rcpt:delay=fast",
                "action 'delay=fast': expected a duration",
            ),
            ("rcpt:delay=11m", "at most 10m"),
            ("rcpt:tarpit=0s", "above 0"),
            ("rcpt:explode", "action 'explode' is unknown"),
            ("rcpt:p=0.5:", "has no action"),
            ("rcpt:close,disconnect", "drop the disconnect"),
        ];
        for (rule, expected) in cases {
            let e = error(rule);
            assert!(e.contains(expected), "{rule}: {e}");
            assert!(e.ends_with("(see --help for the rule grammar)"), "{e}");
        }
    }
}
