//! The server as a [`Machine`] for the connection driver.

use std::time::Instant;

use super::{Decision, Event, Pending, Server, TlsInfo};
use crate::codec::reply::Reply;
use crate::connection::{ClientUpdate, Machine, Stop};
use crate::error::ApiMisuse;
use crate::proxy::{ProxyError, ProxyHeader};

impl Machine for Server {
    type Event = Event;
    type Pending = Pending;
    type Decision = Decision;

    #[inline]
    fn handle_input(&mut self, now: Instant, bytes: &[u8]) {
        // The driver feeds nothing during a handshake (the TLS layer holds the bytes), the
        // only time the server refuses input.
        let _ = Self::handle_input(self, now, bytes);
    }

    #[inline]
    fn handle_eof(&mut self, now: Instant) {
        Self::handle_eof(self, now);
    }

    #[inline]
    fn handle_timeout(&mut self, now: Instant) {
        Self::handle_timeout(self, now);
    }

    #[inline]
    fn handle_tls_established(&mut self, now: Instant, info: TlsInfo) -> Result<(), ApiMisuse> {
        Self::handle_tls_established(self, now, info)
    }

    #[inline]
    fn handle_tls_failure(&mut self, now: Instant) {
        Self::handle_tls_failure(self, now);
    }

    #[inline]
    fn poll_event(&mut self) -> Option<Event> {
        Self::poll_event(self)
    }

    #[inline]
    fn poll_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        Self::poll_transmit(self, out)
    }

    #[inline]
    fn poll_timeout(&self) -> Option<Instant> {
        Self::poll_timeout(self)
    }

    #[inline]
    fn wants_read(&self) -> bool {
        Self::wants_read(self)
    }

    #[inline]
    fn awaits_decision(&self) -> bool {
        Self::awaits_decision(self)
    }

    #[inline]
    fn is_closed(&self) -> bool {
        Self::is_closed(self)
    }

    #[inline]
    fn answer(
        &mut self,
        now: Instant,
        pending: Pending,
        decision: Decision,
    ) -> Result<(), ApiMisuse> {
        Self::answer(self, now, pending, decision)
    }

    #[inline]
    fn unhandled(&mut self, now: Instant, event: Event) -> bool {
        let Some(pending) = event.into_pending() else {
            return false;
        };
        // A temporary refusal fits every command, so this cannot be refused.
        let _ = self.respond(now, pending, Reply::local_error());
        true
    }

    #[inline]
    fn starts_tls(event: &Event) -> Option<usize> {
        match event {
            Event::StartTls { discarded } => Some(*discarded),
            _ => None,
        }
    }

    #[inline]
    fn stop(&mut self, now: Instant, level: Stop) {
        match level {
            Stop::Run => {}
            Stop::Drain => self.shutdown_gracefully(now),
            Stop::Now => self.shutdown(now, None),
        }
    }

    fn handle_proxy_header(&mut self, now: Instant, header: ProxyHeader) {
        self.proxy_header(now, header);
    }

    fn handle_proxy_failure(&mut self, now: Instant, error: ProxyError) {
        let _ = error;
        self.proxy_failed(now);
    }

    fn client_update(event: &Event) -> Option<ClientUpdate> {
        match event {
            Event::Xclient { attributes } => Some(attributes.client_update()),
            _ => None,
        }
    }

    #[inline]
    fn reads_first(&self) -> bool {
        // Input that came before the greeting is a client not waiting for it (the
        // server answers 554, RFC 5321 §4.3.1); a refused session closes anyway.
        !self.is_closed()
    }
}
