//! Token bookkeeping: which decision the client waits for, and how the application's
//! answer finishes the command behind it.
//!
//! At most one decision is owed at a time. [`Server::await_decision`] registers it and
//! emits the event carrying its [`Pending`] token; the answer methods check the token,
//! take what was awaited and hand it to [`Server::decide`], which only routes it to the
//! command's second half beside its first (`commands.rs`, `content.rs`, `auth.rs`). A
//! wrong answer spends the token: the client gets `451 4.3.0` and never waits for ever.

use std::time::Instant;

use super::replies;
use super::{Event, Pending, PendingKind, Server, auth};
use crate::codec::command::Verb;
use crate::codec::params::Body;
use crate::codec::reply::Reply;
use crate::error::ApiMisuse;

/// The decision the client waits for: the token's id and what finishing it needs.
#[derive(Debug)]
pub(super) struct Awaiting {
    /// The id of the [`Pending`] token handed out.
    pub(super) id: u64,
    /// What the command needs once answered.
    pub(super) decision: Outstanding,
}

/// What an outstanding decision needs to finish the command.
#[derive(Debug)]
pub(super) enum Outstanding {
    /// HELO, EHLO or LHLO.
    Hello(Verb),
    /// MAIL, with what the transaction keeps of its parameters.
    Mail {
        /// The BODY parameter.
        body: Option<Body>,
        /// The SMTPUTF8 parameter.
        smtputf8: bool,
    },
    /// RCPT.
    Rcpt,
    /// DATA.
    Data,
    /// The first BDAT chunk of a message.
    Chunk {
        /// The chunk's declared size.
        size: u64,
        /// BDAT LAST.
        last: bool,
    },
    /// The end of the content.
    Message,
    /// VRFY or EXPN.
    Verify,
    /// An AUTH step.
    Auth(auth::Pending),
}

/// Whether `reply` may answer `outstanding`: any refusal, or a positive reply of the
/// command's class (3xx for DATA, 2xx otherwise, BDAT included: its reply is 250).
pub(super) fn fits(reply: &Reply, outstanding: Option<&Outstanding>) -> bool {
    let positive_class = match outstanding {
        Some(Outstanding::Data) => 3,
        _ => 2,
    };
    !reply.is_positive() || reply.code() / 100 == positive_class
}

impl Server {
    /// Registers a decision and emits `event(pending)`.
    pub(super) fn await_decision(
        &mut self,
        decision: Outstanding,
        kind: PendingKind,
        event: impl FnOnce(Pending) -> Event,
    ) {
        let id = self.next_pending_id;
        self.next_pending_id = self.next_pending_id.wrapping_add(1);
        self.awaiting = Some(Awaiting { id, decision });
        self.events.push_back(event(Pending { id, kind }));
    }

    /// The decision the client waits for, if any.
    pub(super) fn outstanding(&self) -> Option<&Outstanding> {
        self.awaiting.as_ref().map(|a| &a.decision)
    }

    /// Whether `pending` is the token of the decision the client waits for.
    pub(super) fn check_pending(&self, pending: &Pending) -> Result<(), ApiMisuse> {
        match &self.awaiting {
            Some(a) if a.id == pending.id => Ok(()),
            _ => Err(ApiMisuse::NotPending),
        }
    }

    /// Spends `pending`: what was awaited, to finish the command with.
    pub(super) fn take_decision(
        &mut self,
        now: Instant,
        pending: &Pending,
    ) -> Result<Outstanding, ApiMisuse> {
        self.check_pending(pending)?;
        self.now = now;
        self.awaiting
            .take()
            .map(|a| a.decision)
            .ok_or(ApiMisuse::NotPending)
    }

    /// The application answered `pending` wrongly (`misuse`): the command is answered
    /// `451 4.3.0` instead, because the token is spent and the client must not wait for ever.
    pub(super) fn fail_decision(
        &mut self,
        now: Instant,
        pending: &Pending,
        misuse: ApiMisuse,
    ) -> Result<(), ApiMisuse> {
        let decision = self.take_decision(now, pending)?;
        self.decide(decision, Some(replies::LOCAL_ERROR.clone()));
        Err(misuse)
    }

    /// Finishes the command behind `decision` with the application's `reply` (or the
    /// default positive one).
    pub(super) fn decide(&mut self, decision: Outstanding, reply: Option<Reply>) {
        match decision {
            Outstanding::Hello(verb) => self.finish_hello(verb, reply),
            Outstanding::Mail { body, smtputf8 } => self.finish_mail(body, smtputf8, reply),
            Outstanding::Rcpt => self.finish_rcpt(reply),
            Outstanding::Data => self.finish_data_start(reply),
            Outstanding::Chunk { size, last } => self.finish_chunk_start(size, last, reply),
            Outstanding::Message => self.finish_message(reply),
            Outstanding::Verify => self.finish_verify(reply),
            Outstanding::Auth(_) => self.finish_auth(reply),
        }
    }
}
