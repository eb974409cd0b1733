//! RFC 2920 command synchronisation, stated once.
//!
//! Without PIPELINING (no EHLO/LHLO yet, or the extension is off) every command must wait
//! for the reply to the one before it. With PIPELINING a client may send a group of
//! commands without waiting, but a command that ends a group
//! ([`Verb::ends_pipeline_group`], RFC 2920 §3.1: HELO, EHLO, LHLO, DATA, VRFY, EXPN, NOOP,
//! AUTH) must be the last thing sent before its reply came. QUIT and STARTTLS end a group
//! too but are exempt here: QUIT ends the session anyway, and what follows STARTTLS is the
//! CVE-2011-0411 check's business (`InjectionPolicy`). BDAT chunks are counted, not
//! framed, so they are not checked.
//!
//! The rule is broken when input is already buffered behind such a command
//! (SMUG-9, SMG-P1/P4). [`Server::check_sync`] answers that with `554 5.5.0` and closes. It
//! runs when a command's reply is about to be queued (`finish_command`, and the accepted
//! EHLO reply and an AUTH challenge, which are built apart), and for the commands the
//! application decides (HELO/EHLO/LHLO, DATA, VRFY/EXPN, AUTH) also **before the event**:
//! a client that did not wait is not worth asking about. The check **after the answer**
//! is still needed: input can arrive while the application decides, and it was sent
//! before the client could have seen our reply.
//!
//! The greeting is a reply too (SMG-P5): a client that talks before the `220` left through
//! `poll_transmit` gets the same `554` ([`Server::check_greeting`]).
//!
//! `ServerConfig::pipelining_sync_check` switches all of this off.

use super::replies as r;
use super::{CloseReason, Server};
use crate::codec::command::Verb;

/// What the synchronisation rule needs to remember.
#[derive(Debug, Default)]
pub(super) struct SyncState {
    /// The 220 greeting left through `poll_transmit` (SMG-P5).
    greeting_transmitted: bool,
}

impl SyncState {
    /// Reply bytes (the greeting first among them) were handed to the caller.
    pub(super) fn transmitted(&mut self) {
        self.greeting_transmitted = true;
    }

    /// Whether the greeting left.
    pub(super) fn greeting_transmitted(&self) -> bool {
        self.greeting_transmitted
    }
}

impl Server {
    /// Whether the client broke RFC 2920's synchronisation rule for the command `verb`
    /// just read: more input is already here, though it had to wait for our reply.
    #[inline]
    fn sync_violated(&self, verb: Verb) -> bool {
        let pipelining = self.config.extensions.pipelining
            && matches!(self.session.hello, Some(Verb::Ehlo | Verb::Lhlo));
        self.config.pipelining_sync_check
            && !self.reader.is_empty()
            && (!pipelining || verb.ends_pipeline_group())
            && !matches!(verb, Verb::Quit | Verb::StartTls)
    }

    /// The synchronisation check for command `verb`, before its event and again before
    /// its reply: on a violation queues `554 5.5.0` and closes. Returns whether the
    /// session goes on.
    #[inline]
    pub(super) fn check_sync(&mut self, verb: Verb) -> bool {
        if self.sync_violated(verb) {
            self.send(&r::SYNC_VIOLATION);
            self.close(CloseReason::ProtocolViolation, None);
            return false;
        }
        true
    }

    /// SMG-P5, before any command is read: the client spoke before our greeting left.
    /// On a violation queues `554 5.5.0` and closes; returns whether the session goes on.
    pub(super) fn check_greeting(&mut self) -> bool {
        if !self.sync.greeting_transmitted
            && !self.reader.is_empty()
            && self.config.pipelining_sync_check
        {
            self.send(&r::SYNC_VIOLATION);
            self.close(CloseReason::ProtocolViolation, None);
            return false;
        }
        true
    }
}
