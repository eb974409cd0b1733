//! Recipient limits (RCPT-02, RCPT-05): recipients deferred for a limit go again in
//! another transaction on the same connection, as long as each round delivers to someone.

use crate::ForwardPath;

use super::{Envelope, TransactionReport};

/// The rounds after a first transaction that met a recipient limit. An adapter that holds
/// the content (so it can send it again) runs:
///
/// ```text
/// let mut rounds = LimitRetry::new(&report);
/// while let Some(next) = rounds.next(&envelope) {
///     let retry = submit(next, body)?;   // one more transaction
///     rounds.absorb(&mut report, retry);
/// }
/// ```
#[derive(Clone, Debug)]
pub struct LimitRetry {
    again: Vec<ForwardPath>,
    progressed: bool,
}

impl LimitRetry {
    /// The rounds after `report`: none when no recipient met a limit, or when every one
    /// did (nothing was delivered, so another round would meet the same limit).
    pub fn new(report: &TransactionReport) -> Self {
        let again = report.limited_recipients();
        let progressed = again.len() < report.recipients.len();
        Self { again, progressed }
    }

    /// The envelope of the next round, if one is due.
    pub fn next(&self, envelope: &Envelope) -> Option<Envelope> {
        (self.progressed && !self.again.is_empty()).then(|| envelope.only(&self.again))
    }

    /// Takes a round's results into `report`.
    pub fn absorb(&mut self, report: &mut TransactionReport, retry: TransactionReport) {
        let still = retry.limited_recipients();
        self.progressed = still.len() < self.again.len();
        report.merge(retry);
        self.again = still;
    }
}
