//! The client as a [`Machine`] for the connection driver: the same pump that drives the
//! server drives it.

use std::convert::Infallible;
use std::time::Instant;

use super::{Client, ClientEvent, CloseReason, Outcome, Stage};
use crate::connection::{Machine, Stop};
use crate::error::ApiMisuse;
use crate::server::TlsInfo;

impl Machine for Client {
    type Event = ClientEvent;
    /// The client owes no decision tokens: content and SASL answers go through
    /// [`Client::send_body`] and [`Client::respond_auth`].
    type Pending = Infallible;
    type Decision = Infallible;

    fn handle_input(&mut self, now: Instant, bytes: &[u8]) {
        Self::handle_input(self, now, bytes);
    }

    fn handle_eof(&mut self, now: Instant) {
        Self::handle_eof(self, now);
    }

    fn handle_timeout(&mut self, now: Instant) {
        Self::handle_timeout(self, now);
    }

    fn handle_tls_established(&mut self, now: Instant, info: TlsInfo) -> Result<(), ApiMisuse> {
        self.tls_established(now, info)
    }

    fn handle_tls_failure(&mut self, now: Instant) {
        self.tls_failed(now);
    }

    fn poll_event(&mut self) -> Option<ClientEvent> {
        Self::poll_event(self)
    }

    fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        Self::poll_transmit(self, out)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        Self::poll_timeout(self)
    }

    fn wants_read(&self) -> bool {
        !self.is_closed()
    }

    /// Content or a SASL answer is owed.
    fn awaits_decision(&self) -> bool {
        self.current.as_ref().is_some_and(|tx| tx.wanted) || self.auth.challenge_outstanding()
    }

    fn is_closed(&self) -> bool {
        Self::is_closed(self)
    }

    fn answer(&mut self, _: Instant, pending: Infallible, _: Infallible) -> Result<(), ApiMisuse> {
        match pending {}
    }

    /// Content nobody gives is cut off (the connection closes without the terminator, so
    /// nothing is delivered); a SASL challenge nobody answers is cancelled.
    fn unhandled(&mut self, now: Instant, event: ClientEvent) -> bool {
        match event {
            ClientEvent::BodyWanted(_) => {
                self.abort(now);
                true
            }
            ClientEvent::AuthChallenge(_) => {
                let _ = self.respond_auth(now, None);
                true
            }
            _ => false,
        }
    }

    fn starts_tls(event: &ClientEvent) -> Option<usize> {
        // Bytes after the 220 end the session before this event exists (CTLS-04).
        matches!(event, ClientEvent::StartTls).then_some(0)
    }

    /// [`Stop::Drain`]: QUIT after the queued work; [`Stop::Now`]: close now, deferring it.
    fn stop(&mut self, now: Instant, level: Stop) {
        match level {
            Stop::Run => {}
            Stop::Drain => self.quit(now),
            Stop::Now => {
                self.tick(now);
                if !self.is_closed() {
                    self.fail_all(
                        &Outcome::local(451, "4.3.0 the client is shutting down", Stage::Session),
                        CloseReason::Aborted,
                    );
                }
            }
        }
    }

    fn reads_first(&self) -> bool {
        false
    }
}
