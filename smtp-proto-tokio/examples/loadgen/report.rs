//! The lines smtp-load prints: progress every second, the final text report, and the same
//! report as JSON for scripts.

use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::{Map, Value, json};

use crate::cli::Settings;
use crate::cpu::CpuTime;
use crate::stats::{Phase, Progress, Stats};

/// The percentiles reported, as (name, quantile).
const PERCENTILES: [(&str, f64); 4] = [
    ("p50", 0.50),
    ("p90", 0.90),
    ("p99", 0.99),
    ("p99.9", 0.999),
];

/// Everything the final report says.
#[derive(Debug)]
pub(crate) struct Summary {
    /// The merged statistics.
    pub(crate) stats: Stats,
    /// Wall time of the run.
    pub(crate) elapsed: Duration,
    /// CPU time the process used during the run, if known.
    pub(crate) cpu: Option<CpuTime>,
}

/// Microseconds as milliseconds, three decimals.
fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

/// `count` per second over `elapsed` (0 when no time passed).
fn per_second(count: f64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 { count / secs } else { 0.0 }
}

/// The progress line: `sent 1234 | 1000.0 msg/s | errors 0 | p50 1.234 ms | p99 5.678 ms`,
/// with the rate over the last `interval`.
pub(crate) fn progress_line(now: &Progress, before: u64, interval: Duration) -> String {
    let latency = &now.latency;
    format!(
        "sent {} | {:.1} msg/s | errors {} | p50 {:.3} ms | p99 {:.3} ms",
        now.messages,
        per_second(now.messages.saturating_sub(before) as f64, interval),
        now.failed,
        ms(latency.value_at_quantile(0.5)),
        ms(latency.value_at_quantile(0.99)),
    )
}

impl Summary {
    /// Messages a second over the run.
    fn rate(&self) -> f64 {
        per_second(self.stats.messages as f64, self.elapsed)
    }

    /// MB (10^6 octets) of accepted content a second.
    fn megabytes_per_second(&self) -> f64 {
        per_second(self.stats.bytes as f64 / 1e6, self.elapsed)
    }

    /// CPU microseconds per message answered.
    fn cpu_per_message(&self) -> Option<f64> {
        let cpu = self.cpu?;
        (self.stats.messages > 0)
            .then(|| cpu.total().as_secs_f64() * 1e6 / self.stats.messages as f64)
    }

    /// The phases that were measured at least once, in report order.
    fn phases(&self) -> impl Iterator<Item = (Phase, &Histogram<u64>)> {
        Phase::ALL
            .iter()
            .map(|&p| (p, self.stats.latency(p)))
            .filter(|(_, h)| !h.is_empty())
    }

    /// The report as text; its first line is a `final:` line with the totals.
    pub(crate) fn text(&self) -> String {
        let s = &self.stats;
        let mut out = format!(
            "final: total {} msg, {} accepted, {} failed, {:.2} MB, {} sessions ({} failed) | \
             {:.1} msg/s | {:.2} MB/s | {:.2} s",
            s.messages,
            s.accepted,
            s.failed(),
            s.bytes as f64 / 1e6,
            s.sessions,
            s.sessions_failed,
            self.rate(),
            self.megabytes_per_second(),
            self.elapsed.as_secs_f64(),
        );
        if let (Some(cpu), Some(per)) = (self.cpu, self.cpu_per_message()) {
            let _ = write!(
                out,
                "\ncpu: {:.2} s user, {:.2} s system | {per:.1} µs/msg",
                cpu.user.as_secs_f64(),
                cpu.system.as_secs_f64()
            );
        }
        let _ = write!(
            out,
            "\nrecipients: {} delivered, {} failed",
            s.recipients_delivered, s.recipients_failed
        );
        out.push_str("\nreplies:");
        for ((phase, code), n) in &s.replies {
            let _ = write!(out, " {} {code} ×{n};", phase.name());
        }
        out.push_str("\nerrors:");
        if s.errors.is_empty() {
            out.push_str(" none");
        }
        for (kind, n) in &s.errors {
            let _ = write!(out, "\n  {n:>8}  {kind}");
        }
        let _ = write!(
            out,
            "\nlatency (ms)  {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "count", "mean", "p50", "p90", "p99", "p99.9", "max"
        );
        for (phase, h) in self.phases() {
            let _ = write!(
                out,
                "\n  {:<11} {:>9} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
                phase.name(),
                h.len(),
                h.mean() / 1000.0,
                ms(h.value_at_quantile(0.5)),
                ms(h.value_at_quantile(0.9)),
                ms(h.value_at_quantile(0.99)),
                ms(h.value_at_quantile(0.999)),
                ms(h.max()),
            );
        }
        out
    }

    /// The report as JSON.
    pub(crate) fn json(&self, settings: &Settings) -> Value {
        let s = &self.stats;
        let mut latency = Map::new();
        for (phase, h) in self.phases() {
            let mut entry = Map::new();
            entry.insert("count".into(), json!(h.len()));
            entry.insert(
                "mean".into(),
                json!((h.mean() / 1000.0 * 1000.0).round() / 1000.0),
            );
            for (name, q) in PERCENTILES {
                entry.insert(name.into(), json!(ms(h.value_at_quantile(q))));
            }
            entry.insert("max".into(), json!(ms(h.max())));
            latency.insert(phase.name().into(), Value::Object(entry));
        }
        let mut replies = Map::new();
        for ((phase, code), n) in &s.replies {
            let by_code = replies
                .entry(phase.name())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(by_code) = by_code {
                by_code.insert(code.to_string(), json!(n));
            }
        }
        json!({
            "settings": {
                "servers": settings.server_names,
                "sessions": settings.sessions,
                "messages": settings.limit.messages,
                "duration_s": settings.limit.duration.map(|d| d.as_secs_f64()),
                "rate": settings.rate,
                "size": [settings.size.0, settings.size.1],
                "recipients": settings.recipients,
                "reuse": settings.reuse,
                "pipelining": format!("{:?}", settings.pipelining).to_lowercase(),
                "chunking": settings.chunking,
                "starttls": settings.starttls,
                "tls": settings.tls,
                "lmtp": settings.lmtp,
            },
            "elapsed_s": self.elapsed.as_secs_f64(),
            "messages": {
                "total": s.messages,
                "accepted": s.accepted,
                "failed": s.failed(),
            },
            "recipients": {
                "delivered": s.recipients_delivered,
                "failed": s.recipients_failed,
            },
            "sessions": { "total": s.sessions, "failed": s.sessions_failed },
            "bytes": s.bytes,
            "msg_per_s": self.rate(),
            "mb_per_s": self.megabytes_per_second(),
            "cpu": self.cpu.map(|c| json!({
                "user_s": c.user.as_secs_f64(),
                "system_s": c.system.as_secs_f64(),
                "us_per_msg": self.cpu_per_message(),
            })),
            "replies": replies,
            "errors": s.errors,
            "latency_ms": latency,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small run with one failure.
    fn summary() -> Summary {
        let mut stats = Stats::default();
        stats.messages = 4;
        stats.accepted = 3;
        stats.bytes = 3000;
        stats.sessions = 4;
        for ms in [1, 2, 3, 40] {
            stats.record(Phase::Message, Duration::from_millis(ms));
            stats.record(Phase::Mail, Duration::from_micros(ms * 100));
        }
        stats.reply(Phase::Mail, 250);
        stats.reply(Phase::EndOfData, 554);
        stats.error("message: Rejected at end of data: 554".into());
        Summary {
            stats,
            elapsed: Duration::from_secs(2),
            cpu: Some(CpuTime {
                user: Duration::from_millis(30),
                system: Duration::from_millis(10),
            }),
        }
    }

    #[test]
    fn text_report() {
        let text = summary().text();
        assert!(
            text.starts_with(
                "final: total 4 msg, 3 accepted, 1 failed, 0.00 MB, 4 sessions (0 failed) | \
                 2.0 msg/s | 0.00 MB/s | 2.00 s\ncpu: 0.03 s user, 0.01 s system | 10000.0 µs/msg"
            ),
            "{text}"
        );
        assert!(text.contains("mail 250 ×1; end_of_data 554 ×1;"), "{text}");
        assert!(text.contains("\n  message "), "{text}");
        assert!(!text.contains("\n  connect "), "{text}");
    }

    #[test]
    fn json_report() {
        let settings =
            crate::cli::try_parse_from(["smtp-load", "--server", "127.0.0.1:25"]).expect("parses");
        let json = summary().json(&settings);
        assert_eq!(json["messages"]["failed"], 1);
        assert_eq!(json["replies"]["end_of_data"]["554"], 1);
        let message = &json["latency_ms"]["message"];
        assert_eq!(message["count"], 4);
        assert_eq!(message["p50"], 2.0);
        // 3 significant figures: 40 ms is kept as 40.031 ms at most.
        let max = message["max"].as_f64().expect("a number");
        assert!((40.0..40.05).contains(&max), "{max}");
        for key in ["p90", "p99", "p99.9", "mean"] {
            assert!(message[key].is_number(), "{key}: {message}");
        }
        assert!(json["latency_ms"].get("connect").is_none());
    }
}
