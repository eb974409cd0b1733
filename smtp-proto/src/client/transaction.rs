//! Transactions: MAIL, RCPT, DATA or BDAT, the content, and what each reply means for each
//! recipient (manual::client).

use std::time::Instant;

use crate::codec::stuffing::{BodyEncoder, Framing};
use crate::config::Protocol;
use crate::error::ApiMisuse;
use crate::{ForwardPath, ReversePath};

use super::envelope::{BodyType, Envelope, Hop, plan};
use super::{
    Chunking, Client, ClientEvent, CloseReason, Command, Kind, Outcome, Phase, RecipientResult,
    Stage, TransactionId, TransactionReport, Verdict,
};

/// A queued transaction, not started yet.
#[derive(Debug)]
pub(super) struct Job {
    pub(super) id: TransactionId,
    pub(super) envelope: Envelope,
}

impl Job {
    /// The report of a transaction that never started: every recipient gets `outcome`.
    pub(super) fn report_all(self, outcome: &Outcome, dsn_sent: bool) -> TransactionReport {
        let recipients = self
            .envelope
            .recipients()
            .iter()
            .map(|(recipient, _)| RecipientResult {
                recipient: recipient.clone(),
                outcome: outcome.clone(),
            })
            .collect();
        TransactionReport {
            id: self.id,
            from: self.envelope.from().clone(),
            recipients,
            dsn_sent,
        }
    }
}

/// Where the content of a running transaction is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Content {
    /// MAIL, RCPT (and DATA) are in flight.
    Envelope,
    /// The application gives the content piece by piece.
    Streaming,
    /// The content ended; final replies are awaited.
    Sent,
    /// A lone `.` went after a `354` nobody can use (PIPE-09).
    Dot,
}

/// The transaction that is running.
#[derive(Debug)]
pub(super) struct Transaction {
    id: TransactionId,
    from: ReversePath,
    recipients: Vec<ForwardPath>,
    results: Vec<Option<Outcome>>,
    /// Recipients whose RCPT was accepted, in order: LMTP's final replies follow it.
    accepted: Vec<usize>,
    /// How many RCPT commands there are (the rest were over the limit).
    rcpts: usize,
    mail_refused: Option<Outcome>,
    /// DATA refused, or a BDAT chunk refused (BDAT-04).
    failure: Option<Outcome>,
    /// End-of-data replies read (LMTP: one per accepted recipient).
    finals: usize,
    bdat: bool,
    content: Content,
    /// A [`ClientEvent::BodyWanted`] is unanswered.
    pub(super) wanted: bool,
    encoder: BodyEncoder,
    /// BDAT: content not yet in a chunk.
    chunk: Vec<u8>,
    chunk_size: usize,
    body_type: BodyType,
    dsn_sent: bool,
}

impl Transaction {
    /// The report: every recipient without a result gets `fallback`; with
    /// `awaiting_final`, accepted recipients are marked `maybe_delivered` (TMO-02).
    pub(super) fn finish_unfinished(
        self,
        fallback: &Outcome,
        awaiting_final: bool,
    ) -> TransactionReport {
        let maybe = awaiting_final && self.content == Content::Sent;
        let accepted = self.accepted;
        let recipients = self
            .recipients
            .into_iter()
            .zip(self.results)
            .enumerate()
            .map(|(i, (recipient, result))| {
                let outcome = result.unwrap_or_else(|| {
                    let mut outcome = fallback.clone();
                    outcome.maybe_delivered = maybe && accepted.contains(&i);
                    outcome
                });
                RecipientResult { recipient, outcome }
            })
            .collect();
        TransactionReport {
            id: self.id,
            from: self.from,
            recipients,
            dsn_sent: self.dsn_sent,
        }
    }
}

impl Client {
    /// Starts the next queued transaction when the session is ready and free; with none
    /// left, QUIT if asked, else [`ClientEvent::Idle`].
    pub(super) fn start_next(&mut self, now: Instant) {
        if self.phase != Phase::Ready || self.current.is_some() || self.resetting() {
            return;
        }
        loop {
            let Some(job) = self.jobs.pop_front() else {
                if self.quit_requested {
                    self.send_quit(now);
                } else if !self.idle_reported {
                    self.idle_reported = true;
                    self.events.push_back(ClientEvent::Idle);
                }
                return;
            };
            let mail_max = self.caps.limits().and_then(|l| l.mail_max);
            if mail_max.is_some_and(|max| self.transactions_started >= max) {
                // CAP-13: LIMITS MAILMAX.
                let outcome = Outcome::local(
                    451,
                    "4.5.3 the server's limit of transactions per connection (LIMITS MAILMAX) is reached",
                    Stage::Session,
                );
                self.report(job.report_all(&outcome, false));
                continue;
            }
            let hop = Hop {
                caps: &self.caps,
                verified_tls: self.tls.is_some() && self.tls_verified,
            };
            match plan(&job.envelope, &hop) {
                Err(outcome) => self.report(job.report_all(&outcome, false)),
                Ok(commands) => {
                    self.begin(job, commands);
                    return;
                }
            }
        }
    }

    /// Whether an RSET is queued or unanswered: nothing starts before its reply.
    fn resetting(&self) -> bool {
        self.inflight.iter().any(|(k, _)| *k == Kind::Rset)
            || self.queue.iter().any(|c| c.kind == Kind::Rset)
    }

    fn report(&mut self, report: TransactionReport) {
        self.events.push_back(ClientEvent::TransactionDone(report));
    }

    /// Queues MAIL, the RCPTs within the limits (RCPT-05: the rest are deferred, for
    /// another transaction) and, for DATA, the DATA command: one flight under PIPELINING.
    fn begin(&mut self, job: Job, commands: super::envelope::Commands) {
        self.transactions_started += 1;
        let envelope = job.envelope;
        let body_type = envelope.content_type();
        let chunk_size = match self.config.chunking {
            Chunking::WhenOffered(size) => size,
            Chunking::Never => 64 * 1024,
        };
        let bdat = body_type == BodyType::Binary
            || (matches!(self.config.chunking, Chunking::WhenOffered(_)) && self.caps.chunking());
        let framing = match (bdat, body_type) {
            (false, _) => Framing::Data,
            (true, BodyType::Binary) => Framing::Binary,
            (true, _) => Framing::Bdat,
        };
        let server_max = self
            .caps
            .limits()
            .and_then(|l| l.rcpt_max)
            .map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX));
        let limit = self.config.max_recipients.min(server_max).max(1);
        let recipients: Vec<ForwardPath> = envelope
            .recipients()
            .iter()
            .map(|(r, _)| r.clone())
            .collect();
        let mut results = vec![None; recipients.len()];
        for result in results.iter_mut().skip(limit) {
            *result = Some(Outcome::local(
                452,
                "4.5.3 too many recipients for one transaction; send them in another",
                Stage::Rcpt,
            ));
        }
        self.push(Kind::Mail, commands.mail);
        let rcpts = commands.rcpts.len().min(limit);
        for (i, line) in commands.rcpts.into_iter().take(limit).enumerate() {
            self.push(Kind::Rcpt(i), line);
        }
        if !bdat {
            self.push(Kind::Data, b"DATA\r\n".to_vec());
        }
        self.current = Some(Transaction {
            id: job.id,
            from: envelope.from().clone(),
            recipients,
            results,
            accepted: Vec::new(),
            rcpts,
            mail_refused: None,
            failure: None,
            finals: 0,
            bdat,
            content: Content::Envelope,
            wanted: false,
            encoder: BodyEncoder::new(framing),
            chunk: Vec::new(),
            chunk_size: chunk_size.max(1),
            body_type,
            dsn_sent: commands.dsn_sent,
        });
    }

    /// A reply to MAIL, RCPT, DATA, the content or a BDAT.
    pub(super) fn on_transaction_reply(
        &mut self,
        now: Instant,
        kind: Kind,
        reply: crate::codec::reply::ParsedReply,
    ) {
        let lmtp = self.config.protocol == Protocol::Lmtp;
        let Some(tx) = self.current.as_mut() else {
            self.protocol_error("a transaction reply arrived outside a transaction", false);
            return;
        };
        match kind {
            Kind::Mail if !reply.is_positive() => {
                tx.mail_refused = Some(Outcome::from_reply(reply, Stage::Mail));
                // Lock-step: what was not sent is not sent (the RCPTs, DATA).
                let unsent = self.queue.len();
                self.queue
                    .retain(|c| !matches!(c.kind, Kind::Rcpt(_) | Kind::Data));
                if self.queue.len() < unsent && !self.envelope_in_flight() {
                    self.finish(now, false);
                }
            }
            Kind::Rcpt(i) => {
                if tx.mail_refused.is_some() {
                    // PIPE-06: the MAIL reply is the cause, not the 503s that follow it.
                } else if reply.is_positive() {
                    tx.accepted.push(i);
                } else if let Some(slot) = tx.results.get_mut(i) {
                    *slot = Some(Outcome::from_reply(reply, Stage::Rcpt));
                }
                self.after_rcpt(now, i);
            }
            Kind::Data => {
                if reply.code() == 354 {
                    if tx.mail_refused.is_some() || tx.accepted.is_empty() {
                        // PIPE-09: a lone dot, no content.
                        tx.content = Content::Dot;
                        self.push(Kind::Dot, b".\r\n".to_vec());
                    } else {
                        tx.content = Content::Streaming;
                        self.deadline = Some(now + self.config.timeouts.data_block);
                    }
                } else {
                    // PIPE-07, PIPE-08, PIPE-12: RSET follows.
                    tx.failure = Some(data_refusal(reply));
                    self.finish(now, true);
                }
            }
            Kind::Dot => self.finish(now, true),
            Kind::EndOfData | Kind::Bdat { last: true } => {
                let outcome = match &tx.failure {
                    Some(failure) => failure.clone(),
                    None => Outcome::from_reply(reply, Stage::EndOfData),
                };
                let reset = outcome.verdict != Verdict::Delivered && !lmtp;
                if lmtp {
                    // LMTP-01: one reply per accepted recipient, in RCPT order.
                    if let Some(&i) = tx.accepted.get(tx.finals)
                        && let Some(slot) = tx.results.get_mut(i)
                    {
                        *slot = Some(outcome);
                    }
                    tx.finals += 1;
                    if tx.finals >= tx.accepted.len() {
                        self.finish(now, false);
                    }
                } else {
                    for &i in &tx.accepted {
                        if let Some(slot) = tx.results.get_mut(i) {
                            *slot = Some(outcome.clone());
                        }
                    }
                    self.finish(now, reset && kind != Kind::EndOfData);
                }
            }
            Kind::Bdat { last: false } => {
                if !reply.is_positive() && tx.failure.is_none() {
                    // BDAT-04: no further chunk leaves.
                    tx.failure = Some(Outcome::from_reply(reply, Stage::Bdat));
                    self.queue.retain(|c| !matches!(c.kind, Kind::Bdat { .. }));
                    tx.chunk.clear();
                }
                let done = tx.content == Content::Sent && tx.failure.is_some();
                if done && !self.bdat_in_flight() {
                    self.finish(now, true);
                }
            }
            _ => {}
        }
    }

    /// After the reply to RCPT number `i`: with BDAT, the content starts once every RCPT
    /// is answered and one was accepted (by choice: no chunk is sent for nobody); without
    /// PIPELINING, DATA is not sent when nobody was accepted.
    fn after_rcpt(&mut self, now: Instant, i: usize) {
        let Some(tx) = self.current.as_mut() else {
            return;
        };
        if i + 1 < tx.rcpts {
            return;
        }
        let nobody = tx.mail_refused.is_some() || tx.accepted.is_empty();
        if tx.bdat {
            if nobody {
                // A transaction is open only if MAIL was accepted.
                let reset = tx.mail_refused.is_none() || self.caps.pipelining();
                self.finish(now, reset);
            } else {
                tx.content = Content::Streaming;
                self.deadline = Some(now + self.config.timeouts.data_block);
            }
        } else if nobody && self.queue.iter().any(|c| c.kind == Kind::Data) {
            self.queue.retain(|c| c.kind != Kind::Data);
            let reset = tx.mail_refused.is_none();
            self.finish(now, reset);
        }
    }

    /// Whether MAIL, RCPT or DATA of the running transaction still await a reply.
    fn envelope_in_flight(&self) -> bool {
        self.inflight
            .iter()
            .any(|(k, _)| matches!(k, Kind::Mail | Kind::Rcpt(_) | Kind::Data))
    }

    fn bdat_in_flight(&self) -> bool {
        self.inflight
            .iter()
            .any(|(k, _)| matches!(k, Kind::Bdat { .. }))
    }

    /// The transaction is over: report it, then RSET (REUSE-02) or start the next one.
    fn finish(&mut self, now: Instant, reset: bool) {
        let Some(tx) = self.current.take() else {
            return;
        };
        let fallback = tx
            .mail_refused
            .clone()
            .or_else(|| tx.failure.clone())
            .unwrap_or_else(|| {
                Outcome::local(
                    451,
                    "4.3.0 the transaction ended without a reply",
                    Stage::Session,
                )
            });
        let report = tx.finish_unfinished(&fallback, false);
        self.report(report);
        if reset {
            self.push(Kind::Rset, b"RSET\r\n".to_vec());
        } else {
            self.start_next(now);
        }
    }

    /// Asks for content when the last piece has left (memory stays flat) and, for BDAT,
    /// the chunk window has room.
    pub(super) fn want_body(&mut self) {
        let window = self.config.bdat_window;
        let chunks = self
            .inflight
            .iter()
            .filter(|(k, _)| matches!(k, Kind::Bdat { .. }))
            .count()
            + self.queue.len();
        let out_empty = self.out.is_empty();
        let Some(tx) = self.current.as_mut() else {
            return;
        };
        if tx.content != Content::Streaming || tx.wanted || !out_empty {
            return;
        }
        if tx.bdat && tx.failure.is_none() && chunks >= window {
            return;
        }
        tx.wanted = true;
        self.events.push_back(ClientEvent::BodyWanted(tx.id));
    }

    /// The running transaction, if its content is being sent (after the first
    /// [`ClientEvent::BodyWanted`]; more than one piece per event is allowed, at the cost
    /// of the memory it takes).
    fn wanting(current: &mut Option<Transaction>) -> Result<&mut Transaction, ApiMisuse> {
        match current.as_mut() {
            Some(tx) if tx.content == Content::Streaming => {
                tx.wanted = false;
                Ok(tx)
            }
            _ => Err(ApiMisuse::BodyNotWanted),
        }
    }

    /// The next piece of content, after [`ClientEvent::BodyWanted`]: any size, any cut.
    /// Line endings become CR LF, and for DATA a dot at a line start is doubled.
    ///
    /// # Errors
    ///
    /// [`ApiMisuse::BodyNotWanted`] before the first [`ClientEvent::BodyWanted`] of the
    /// transaction, or after `end_body`.
    pub fn send_body(&mut self, now: Instant, bytes: &[u8]) -> Result<(), ApiMisuse> {
        self.tick(now);
        let deadline = now + self.config.timeouts.data_block;
        let tx = Self::wanting(&mut self.current)?;
        if tx.failure.is_some() {
            // BDAT-04: the server refused a chunk; the rest is dropped.
            return Ok(());
        }
        if tx.bdat {
            tx.encoder.encode(bytes, &mut tx.chunk);
            let size = tx.chunk_size;
            let mut chunks = Vec::new();
            while tx.chunk.len() >= size {
                let rest = tx.chunk.split_off(size);
                chunks.push(std::mem::replace(&mut tx.chunk, rest));
            }
            for chunk in chunks {
                self.queue.push_back(bdat(chunk, false, 0));
            }
        } else {
            tx.encoder.encode(bytes, &mut self.out);
        }
        self.deadline = Some(deadline);
        self.check_content();
        Ok(())
    }

    /// Ends the content: for DATA the terminator, for BDAT the last chunk.
    ///
    /// # Errors
    ///
    /// [`ApiMisuse::BodyNotWanted`] when no content was asked for.
    pub fn end_body(&mut self, now: Instant) -> Result<(), ApiMisuse> {
        self.tick(now);
        let lmtp = self.config.protocol == Protocol::Lmtp;
        let tx = Self::wanting(&mut self.current)?;
        tx.content = Content::Sent;
        let extra = if lmtp {
            tx.accepted.len().saturating_sub(1)
        } else {
            0
        };
        if tx.failure.is_some() {
            if !self.bdat_in_flight() {
                self.finish(now, true);
            }
            return Ok(());
        }
        let command = if tx.bdat {
            tx.encoder.finish(&mut tx.chunk);
            bdat(std::mem::take(&mut tx.chunk), true, extra)
        } else {
            let mut tail = Vec::new();
            tx.encoder.finish(&mut tail);
            Command {
                kind: Kind::EndOfData,
                bytes: tail,
                extra_replies: extra,
            }
        };
        self.queue.push_back(command);
        self.check_content();
        Ok(())
    }

    /// BODY-08..10: content the server was not told about never leaves. After `354` the
    /// only way to cancel is to close without the terminator (PIPE-11).
    fn check_content(&mut self) {
        let max_line = self.config.max_line_length;
        let Some(tx) = self.current.as_ref() else {
            return;
        };
        let facts = tx.encoder.facts();
        let text = tx.body_type != BodyType::Binary;
        let problem = if text && facts.nul {
            Some("5.6.0 NUL in text content; send it as BINARYMIME")
        } else if text && facts.longest_line > max_line {
            Some("5.6.0 a content line is longer than 998 octets (RFC 5321 4.5.3.1.6)")
        } else if tx.body_type == BodyType::SevenBit && facts.eight_bit {
            Some("5.6.3 8-bit content in a message declared 7-bit")
        } else {
            None
        };
        let Some(text) = problem else { return };
        self.out.clear();
        self.queue.clear();
        if let Some(tx) = self.current.take() {
            let outcome = Outcome::local(554, text, Stage::Data);
            let report = tx.finish_unfinished(&outcome, false);
            self.report(report);
        }
        self.fail_all(
            &Outcome::local(
                451,
                "4.3.0 connection closed after a content error",
                Stage::Session,
            ),
            CloseReason::Aborted,
        );
    }
}

/// A BDAT command with its chunk (BDAT-02: `BDAT 0 LAST` ends an empty tail).
fn bdat(chunk: Vec<u8>, last: bool, extra_replies: usize) -> Command {
    let mut bytes = format!(
        "BDAT {}{}\r\n",
        chunk.len(),
        if last { " LAST" } else { "" }
    )
    .into_bytes();
    bytes.extend_from_slice(&chunk);
    Command {
        kind: Kind::Bdat { last },
        bytes,
        extra_replies,
    }
}

/// The outcome of a reply to DATA other than `354`: a 2xx or 3xx there is a server bug,
/// deferred rather than taken as delivery.
fn data_refusal(reply: crate::codec::reply::ParsedReply) -> Outcome {
    if reply.is_transient() || reply.is_permanent() {
        Outcome::from_reply(reply, Stage::Data)
    } else {
        let text = format!("4.5.0 unexpected reply {} to DATA", reply.code());
        Outcome::local(451, &text, Stage::Data)
    }
}
