//! Message content: DATA (dot-stuffed, RFC 5321 §4.1.1.4) and BDAT chunks (counted,
//! RFC 3030). Both stream `DataChunk`s straight out of the input buffer and give their
//! verdict only after the end of the content (smtp-rules.md SMUG-3, SMUG-5).

use bytes::Bytes;

use super::replies as r;
use super::{AbortReason, DataPhase, Decision, Event, MessageInfo, PendingKind, Phase, Server};
use crate::codec::command::Verb;
use crate::codec::data::{ContentFlags, DotDecoder, LineEndingPolicy, Piece};
use crate::codec::params::Body;
use crate::codec::reply::{EnhancedCode, Reply};
use crate::config::Protocol;

/// Whether `flags` make a text message unacceptable under `policy` (SMUG-3).
fn refused_line_endings(policy: LineEndingPolicy, flags: ContentFlags) -> bool {
    policy == LineEndingPolicy::Strict && (flags.bare_cr || flags.bare_lf || flags.nul)
}

impl Server {
    /// The application answered DATA.
    pub(super) fn finish_data_start(&mut self, reply: Option<Reply>) {
        let reply = reply.unwrap_or_else(|| r::START_DATA.clone());
        let accepted = reply.is_positive();
        if self.finish_command(Verb::Data, &reply, false) && accepted {
            let decoder = DotDecoder::new(self.config.line_endings, self.config.limits.text_line);
            self.phase = Phase::Data(DataPhase {
                decoder,
                size: 0,
                refused: None,
            });
            self.deadline = Some(self.now + self.config.timeouts.data);
        }
    }

    pub(super) fn step_data(&mut self) -> bool {
        let Phase::Data(data) = &mut self.phase else {
            return false;
        };
        if self.input.is_empty() {
            return false;
        }
        let step = data.decoder.decode(&self.input);
        let consumed = self.input.split_to(step.consumed);
        if let Some(piece) = step.piece {
            let chunk = match piece {
                Piece::Input(range) => consumed.freeze().slice(range),
                Piece::Static(bytes) => Bytes::from_static(bytes),
            };
            data.size = data.size.saturating_add(chunk.len() as u64);
            if data.refused.is_none() {
                if data.size > self.config.limits.max_message_size {
                    data.refused = Some(AbortReason::TooBig);
                } else if refused_line_endings(self.config.line_endings, data.decoder.flags()) {
                    data.refused = Some(AbortReason::BareLineEnding);
                } else if !chunk.is_empty() {
                    self.events.push_back(Event::DataChunk(chunk));
                }
            }
        }
        if step.end_of_data {
            let (size, flags, refused) = (data.size, data.decoder.flags(), data.refused);
            self.phase = Phase::Command;
            self.end_of_data(size, flags, refused);
        }
        true
    }

    pub(super) fn step_chunk(&mut self) -> bool {
        let Phase::Chunk(chunk) = &mut self.phase else {
            return false;
        };
        if chunk.remaining > 0 {
            if self.input.is_empty() {
                return false;
            }
            let n = usize::try_from(chunk.remaining)
                .map_or(self.input.len(), |r| r.min(self.input.len()));
            chunk.remaining -= n as u64;
            let bytes = self.input.split_to(n).freeze();
            if chunk.refused.is_none() {
                self.chunk_content(bytes);
            }
            return true;
        }
        let (size, last, refused) = (chunk.size, chunk.last, chunk.refused.take());
        self.phase = Phase::Command;
        self.deadline = Some(self.now + self.config.timeouts.command);
        if let Some(reply) = refused {
            self.send_verdict(&reply);
            if last {
                // RFC 3030 §2 and Postfix's 2026 fix: after BDAT LAST, success or not,
                // the transaction is over.
                self.reset_transaction();
            }
            return true;
        }
        let failed = self
            .transaction
            .as_ref()
            .and_then(|tx| tx.chunked.as_ref())
            .and_then(|m| m.failed.clone());
        match failed {
            Some(reply) => {
                // The chunk failed while it was read (size, bare line ending): RFC 3030 §2.
                self.send_verdict(&reply);
                if last {
                    self.reset_transaction();
                }
            }
            None if last => self.last_chunk_read(),
            None => {
                let text = format!("{size} octets received");
                self.send(&Reply::owned(250, Some(EnhancedCode::known(2, 0, 0)), text));
            }
        }
        true
    }

    /// Counts, checks and forwards the octets of an accepted chunk.
    fn chunk_content(&mut self, bytes: Bytes) {
        let max = self.config.limits.max_message_size;
        let policy = self.config.line_endings;
        let Some(tx) = self.transaction.as_mut() else {
            return;
        };
        let binary = tx.body == Some(Body::BinaryMime);
        let Some(message) = tx.chunked.as_mut().filter(|m| m.failed.is_none()) else {
            return;
        };
        message.size = message.size.saturating_add(bytes.len() as u64);
        message.scanner.scan(&bytes);
        let reason = if message.size > max {
            Some(AbortReason::TooBig)
        } else if !binary && refused_line_endings(policy, message.scanner.flags()) {
            // RFC 3030 §3: text content sent by BDAT is still canonical CR LF text; only
            // BODY=BINARYMIME may carry any octets.
            Some(AbortReason::BareLineEnding)
        } else {
            None
        };
        match reason {
            Some(reason) => {
                message.failed = Some(verdict_for(reason));
                self.events.push_back(Event::MessageAborted { reason });
            }
            None if !bytes.is_empty() => self.events.push_back(Event::DataChunk(bytes)),
            None => {}
        }
    }

    /// BDAT LAST was read and nothing failed so far: a CR at the very end is still a bare
    /// CR; then the application decides.
    fn last_chunk_read(&mut self) {
        let policy = self.config.line_endings;
        let Some(tx) = self.transaction.as_mut() else {
            return;
        };
        let binary = tx.body == Some(Body::BinaryMime);
        let Some(mut message) = tx.chunked.take() else {
            return;
        };
        message.scanner.finish();
        let flags = message.scanner.flags();
        if !binary && refused_line_endings(policy, flags) {
            self.events.push_back(Event::MessageAborted {
                reason: AbortReason::BareLineEnding,
            });
            self.send_verdict(&r::BARE_LINE_ENDING);
            self.reset_transaction();
        } else {
            self.message_complete(message.size, flags, true);
        }
    }

    /// End of DATA content: refuse now, or ask the application.
    fn end_of_data(&mut self, size: u64, flags: ContentFlags, refused: Option<AbortReason>) {
        match refused {
            Some(reason) => {
                self.send_verdict(&verdict_for(reason));
                self.events.push_back(Event::MessageAborted { reason });
                self.end_transaction();
            }
            None => self.message_complete(size, flags, false),
        }
    }

    fn message_complete(&mut self, size: u64, flags: ContentFlags, chunked: bool) {
        let recipients = self.transaction.as_ref().map_or(0, |tx| tx.recipients);
        let info = MessageInfo {
            size,
            flags,
            chunked,
            recipients,
        };
        self.await_decision(Decision::Message, PendingKind::Message, |pending| {
            Event::MessageComplete { pending, info }
        });
    }

    /// The application's verdict on a complete message.
    pub(super) fn finish_message(&mut self, reply: Option<Reply>) {
        let lmtp = self.config.protocol == Protocol::Lmtp;
        let reply = reply.unwrap_or_else(|| {
            if lmtp {
                r::DELIVERED.clone()
            } else {
                r::QUEUED.clone()
            }
        });
        self.send_verdict(&reply);
        self.end_transaction();
    }

    /// The reply after the end of content: once, or in LMTP once per accepted recipient
    /// (RFC 2033 §4.2).
    fn send_verdict(&mut self, reply: &Reply) {
        let recipients = self
            .transaction
            .as_ref()
            .map_or(1, |tx| tx.recipients.max(1));
        let times = if self.config.protocol == Protocol::Lmtp {
            recipients
        } else {
            1
        };
        for _ in 0..times {
            self.send(reply);
        }
    }
}

fn verdict_for(reason: AbortReason) -> Reply {
    match reason {
        AbortReason::TooBig => r::TOO_BIG.clone(),
        _ => r::BARE_LINE_ENDING.clone(),
    }
}
