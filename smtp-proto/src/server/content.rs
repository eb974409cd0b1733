//! Message content: DATA (dot-stuffed, RFC 5321 §4.1.1.4) and BDAT chunks (counted,
//! RFC 3030). Both stream `DataChunk`s straight out of the input buffer and give their
//! verdict only after the end of the content (DATA) or of the chunk (BDAT), never in the
//! middle ([`manual::smuggling`](crate::manual::smuggling) SMUG-3, SMUG-5).
//!
//! Split invariance: what is emitted must not depend on how the input was cut into reads.
//! So content is cut at a fixed octet position (exactly `max_message_size` octets pass),
//! and line-ending verdicts, which may need one octet of lookahead, are taken only at the
//! end of the content or chunk.

use bytes::Bytes;

use super::replies as r;
use super::{AbortReason, Awaited, DataPhase, Event, MessageInfo, PendingKind, Phase, Server};
use crate::codec::command::Verb;
use crate::codec::data::{ContentFlags, DotDecoder, LineEndingPolicy};
use crate::codec::params::Body;
use crate::codec::reply::Reply;
use crate::config::Protocol;

/// Whether `flags` make a text message unacceptable under `policy` (SMUG-3).
fn refused_line_endings(policy: LineEndingPolicy, flags: ContentFlags) -> bool {
    policy == LineEndingPolicy::Strict && (flags.bare_cr || flags.bare_lf || flags.nul)
}

/// The part of `chunk` that still fits under `max` after `before` octets.
fn within_limit(chunk: Bytes, before: u64, max: u64) -> Option<Bytes> {
    let room = usize::try_from(max.saturating_sub(before)).unwrap_or(usize::MAX);
    let chunk = if chunk.len() > room {
        chunk.slice(..room)
    } else {
        chunk
    };
    (!chunk.is_empty()).then_some(chunk)
}

impl Server {
    /// The application answered DATA.
    pub(super) fn finish_data_start(&mut self, reply: Option<Reply>) {
        let reply = reply.unwrap_or_else(|| r::START_DATA.clone());
        let accepted = reply.is_positive();
        if self.finish_command(Verb::Data, &reply, false) && accepted {
            let decoder = DotDecoder::new(self.config.line_endings, self.config.limits.text_line);
            self.enter(Phase::Data(DataPhase {
                decoder,
                size: 0,
                ended: false,
            }));
        }
    }

    /// Decodes the DATA content buffered so far, or gives the verdict after its end.
    pub(super) fn step_data(&mut self) -> bool {
        let Phase::Data(data) = &mut self.phase else {
            return false;
        };
        if data.ended {
            let (size, flags) = (data.size, data.decoder.flags());
            // The verdict's reply arms the command timer (no timer runs while the
            // application decides).
            self.enter(Phase::Command);
            self.end_of_data(size, flags);
            return true;
        }
        if self.reader.is_empty() {
            return false;
        }
        let content = self.reader.decode_content(&mut data.decoder);
        let max = self.config.limits.max_message_size;
        for chunk in [
            content.bytes,
            content.rewrite.map_or_else(Bytes::new, Bytes::from_static),
        ] {
            let len = chunk.len() as u64;
            if let Some(chunk) = within_limit(chunk, data.size, max) {
                self.events.push_back(Event::DataChunk(chunk));
            }
            data.size = data.size.saturating_add(len);
        }
        data.ended = content.ended;
        true
    }

    /// End of DATA content: refuse now, or ask the application.
    fn end_of_data(&mut self, size: u64, flags: ContentFlags) {
        let refused = if size > self.config.limits.max_message_size {
            Some(AbortReason::TooBig)
        } else if refused_line_endings(self.config.line_endings, flags) {
            Some(AbortReason::BareLineEnding)
        } else {
            None
        };
        match refused {
            Some(reason) => {
                self.send_verdict(&verdict_for(reason));
                self.events.push_back(Event::MessageAborted { reason });
                self.end_transaction();
            }
            None => self.message_complete(size, flags, false),
        }
    }

    /// Reads the BDAT chunk content buffered so far, or replies after its end.
    pub(super) fn step_chunk(&mut self) -> bool {
        let Phase::Chunk(chunk) = &mut self.phase else {
            return false;
        };
        if chunk.remaining > 0 {
            if self.reader.is_empty() {
                return false;
            }
            let bytes = self.reader.take(chunk.remaining);
            chunk.remaining -= bytes.len() as u64;
            if chunk.refused.is_none() {
                self.chunk_content(bytes);
            }
            return true;
        }
        let (size, last, refused) = (chunk.size, chunk.last, chunk.refused.take());
        self.enter(Phase::Command);
        if let Some(reply) = refused {
            self.send_verdict(&reply);
            if last {
                // RFC 3030 §2 and Postfix's 2026 fix: after BDAT LAST, success or not,
                // the transaction is over.
                self.reset_transaction();
            }
            return true;
        }
        self.chunk_read(size, last);
        true
    }

    /// Counts, checks and forwards the octets of an accepted chunk.
    fn chunk_content(&mut self, bytes: Bytes) {
        let max = self.config.limits.max_message_size;
        let Some(message) = self.chunked_message() else {
            return;
        };
        let before = message.size;
        message.size = message.size.saturating_add(bytes.len() as u64);
        message.scanner.scan(&bytes);
        if let Some(bytes) = within_limit(bytes, before, max) {
            self.events.push_back(Event::DataChunk(bytes));
        }
    }

    /// A chunk was read completely: judge it (RFC 3030 §2: a failed chunk fails the
    /// transaction; later chunks are discarded with the same reply).
    fn chunk_read(&mut self, size: u64, last: bool) {
        let policy = self.config.line_endings;
        let max = self.config.limits.max_message_size;
        let binary = self
            .transaction
            .as_ref()
            .is_some_and(|tx| tx.body == Some(Body::BinaryMime));
        let Some(message) = self.chunked_message() else {
            return;
        };
        if last {
            message.scanner.finish();
        }
        let (total, flags) = (message.size, message.scanner.flags());
        let reason = if total > max {
            Some(AbortReason::TooBig)
        } else if !binary && refused_line_endings(policy, flags) {
            // RFC 3030 §3: text sent by BDAT is still canonical CR LF text; only
            // BODY=BINARYMIME may carry any octets.
            Some(AbortReason::BareLineEnding)
        } else {
            None
        };
        match reason {
            Some(reason) => {
                let verdict = verdict_for(reason);
                message.failed = Some(verdict.clone());
                self.events.push_back(Event::MessageAborted { reason });
                self.send_verdict(&verdict);
                if last {
                    self.reset_transaction();
                }
            }
            None if last => {
                if let Some(tx) = self.transaction.as_mut() {
                    tx.chunked = None;
                }
                self.message_complete(total, flags, true);
            }
            None => {
                self.send(&r::chunk_received(size));
            }
        }
    }

    /// The BDAT message in progress, unless it already failed.
    fn chunked_message(&mut self) -> Option<&mut super::ChunkedMessage> {
        self.transaction
            .as_mut()?
            .chunked
            .as_mut()
            .filter(|m| m.failed.is_none())
    }

    fn message_complete(&mut self, size: u64, flags: ContentFlags, chunked: bool) {
        let recipients = self.transaction.as_ref().map_or(0, |tx| tx.recipients);
        let info = MessageInfo {
            size,
            flags,
            chunked,
            recipients,
        };
        self.await_decision(Awaited::Message, PendingKind::Message, |pending| {
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
