//! The process's own CPU time, from `/proc/self/stat` (Linux; `None` elsewhere).

use std::time::Duration;

/// Clock ticks a second in `/proc` (`USER_HZ`: 100 on every Linux port).
const TICKS_PER_SECOND: u64 = 100;

/// CPU time used so far by every thread of the process.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct CpuTime {
    /// In user mode.
    pub(crate) user: Duration,
    /// In the kernel.
    pub(crate) system: Duration,
}

impl CpuTime {
    /// The process's CPU time now, if `/proc/self/stat` can be read.
    pub(crate) fn now() -> Option<Self> {
        parse(&std::fs::read_to_string("/proc/self/stat").ok()?)
    }

    /// User plus system.
    pub(crate) fn total(self) -> Duration {
        self.user + self.system
    }

    /// The time used since `before`.
    pub(crate) fn since(self, before: Self) -> Self {
        Self {
            user: self.user.saturating_sub(before.user),
            system: self.system.saturating_sub(before.system),
        }
    }
}

/// Fields 14 and 15 (`utime`, `stime`) of a `stat` line; the command name (field 2) may
/// hold spaces and parentheses, so fields are counted after its last `)`.
fn parse(stat: &str) -> Option<CpuTime> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let ticks = |t: &str| t.parse::<u64>().ok();
    let user = ticks(fields.next()?)?;
    let system = ticks(fields.next()?)?;
    let time = |t: u64| Duration::from_millis(t * 1000 / TICKS_PER_SECOND);
    Some(CpuTime {
        user: time(user),
        system: time(system),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines() {
        let line = "4242 (smtp load) R 1 2 3 4 5 6 7 8 9 10 250 37 0 0 20 0 5 0 100 0 0";
        assert_eq!(
            parse(line),
            Some(CpuTime {
                user: Duration::from_millis(2500),
                system: Duration::from_millis(370),
            })
        );
        assert_eq!(parse("garbage"), None);
        assert!(CpuTime::now().is_some_and(|t| t.total() < Duration::from_secs(86_400)));
    }
}
