//! The session's one timer (RFC 5321 §4.5.3.2) and the phase it belongs to.
//!
//! Each phase runs on one of two timeouts: the command timeout while the server waits for a
//! command line (also during an AUTH exchange and the TLS handshake), the data timeout
//! while message content flows. [`Server::enter`] is the only place the phase changes, and
//! it arms the new phase's timer in the same move, so the two cannot disagree. Within a
//! phase, [`Server::arm`] restarts the timer: after each reply (the client's next command
//! is timed from the moment the server is ready for it) and on content progress.
//! While the application owes a decision the timer does not run (`poll_timeout`).

use std::time::Duration;

use super::{Phase, Server};
use crate::config::ServerConfig;

/// Which timeout runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Timer {
    /// Waiting for a command line (`Timeouts::command`).
    Command,
    /// Waiting for message content (`Timeouts::data`).
    Data,
}

impl Timer {
    /// The timer a phase runs on; none once the session is closed.
    #[inline]
    fn of(phase: &Phase) -> Option<Self> {
        match phase {
            Phase::Command | Phase::Sasl(_) | Phase::TlsHandshake => Some(Self::Command),
            Phase::Data(_) | Phase::Chunk(_) => Some(Self::Data),
            Phase::Closed => None,
        }
    }

    /// How long it runs under `config`.
    #[inline]
    fn duration(self, config: &ServerConfig) -> Duration {
        match self {
            Self::Command => config.timeouts.command,
            Self::Data => config.timeouts.data,
        }
    }
}

impl Server {
    /// Moves the session to `phase` and arms that phase's timer from `now`.
    ///
    /// One exception: entering the command phase from the middle of a command (an AUTH
    /// exchange, or DATA content whose verdict comes next) keeps the running timer. What
    /// finishes that command arms it when it replies (`finish_command`,
    /// `end_transaction`); while the application decides, no timer runs; and the reply to
    /// an over-long line arms nothing, in either phase.
    #[inline]
    pub(super) fn enter(&mut self, phase: Phase) {
        let keep = matches!(phase, Phase::Command)
            && matches!(self.phase, Phase::Sasl(_) | Phase::Data(_));
        if !keep {
            self.deadline = Timer::of(&phase).map(|timer| self.now + timer.duration(&self.config));
        }
        self.phase = phase;
    }

    /// Restarts `timer` from `now`, within the current phase.
    #[inline]
    pub(super) fn arm(&mut self, timer: Timer) {
        self.deadline = Some(self.now + timer.duration(&self.config));
    }
}
