//! Token bookkeeping: which command awaits the application's decision, and how that
//! decision finishes it.
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

/// The command waiting for the application's decision: the token's id and what
/// finishing the command needs.
#[derive(Debug)]
pub(super) struct Awaiting {
    /// The id of the [`Pending`] token handed out.
    pub(super) id: u64,
    /// What the command needs once answered.
    pub(super) awaited: Awaited,
}

/// What a command waiting for the application's decision needs to finish.
#[derive(Debug)]
pub(super) enum Awaited {
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
    Auth(auth::Step),
}

/// Whether `reply` may answer `awaited`: any refusal, or a positive reply of the
/// command's class (3xx for DATA, 2xx otherwise, BDAT included: its reply is 250).
pub(super) fn fits(reply: &Reply, awaited: Option<&Awaited>) -> bool {
    let positive_class = match awaited {
        Some(Awaited::Data) => 3,
        _ => 2,
    };
    !reply.is_positive() || reply.code() / 100 == positive_class
}

impl Server {
    /// Registers what the command awaits and emits `event(pending)`.
    pub(super) fn await_decision(
        &mut self,
        awaited: Awaited,
        kind: PendingKind,
        event: impl FnOnce(Pending) -> Event,
    ) {
        let id = self.next_pending_id;
        self.next_pending_id = self.next_pending_id.wrapping_add(1);
        self.awaiting = Some(Awaiting { id, awaited });
        self.events.push_back(event(Pending { id, kind }));
    }

    /// What the command waiting for a decision needs, if one waits.
    pub(super) fn awaited(&self) -> Option<&Awaited> {
        self.awaiting.as_ref().map(|a| &a.awaited)
    }

    /// Whether `pending` is the token of the command waiting for a decision.
    pub(super) fn check_pending(&self, pending: &Pending) -> Result<(), ApiMisuse> {
        match &self.awaiting {
            Some(a) if a.id == pending.id => Ok(()),
            _ => Err(ApiMisuse::NotPending),
        }
    }

    /// Spends `pending`: what was awaited, to finish the command with.
    pub(super) fn take_awaited(
        &mut self,
        now: Instant,
        pending: &Pending,
    ) -> Result<Awaited, ApiMisuse> {
        self.check_pending(pending)?;
        self.now = now;
        self.awaiting
            .take()
            .map(|a| a.awaited)
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
        let awaited = self.take_awaited(now, pending)?;
        self.decide(awaited, Some(replies::LOCAL_ERROR.clone()));
        Err(misuse)
    }

    /// Finishes the command behind `awaited` with the application's `reply` (or the
    /// default positive one).
    pub(super) fn decide(&mut self, awaited: Awaited, reply: Option<Reply>) {
        match awaited {
            Awaited::Hello(verb) => self.finish_hello(verb, reply),
            Awaited::Mail { body, smtputf8 } => self.finish_mail(body, smtputf8, reply),
            Awaited::Rcpt => self.finish_rcpt(reply),
            Awaited::Data => self.finish_data_start(reply),
            Awaited::Chunk { size, last } => self.finish_chunk_start(size, last, reply),
            Awaited::Message => self.finish_message(reply),
            Awaited::Verify => self.finish_verify(reply),
            Awaited::Auth(_) => self.finish_auth(reply),
        }
    }
}
