//! How a session's next bytes leave: at once, slowly (a tarpit), or not at all.

use std::time::Duration;

/// What the adapter does with a session's output, as a handler asks through
/// [`Handler::output`](crate::Handler::output) or a program through
/// [`Driver::set_output`](crate::Driver::set_output). For test servers that simulate
/// slow or failing peers; a production server has no use for it.
///
/// ```
/// use std::time::Duration;
/// use smtp_proto_tokio::Output;
///
/// // The next reply one octet per second, then the connection closes.
/// let output = Output::tarpit(Duration::from_secs(1)).and_close();
/// assert!(output.closes_after_write());
/// assert_eq!(Output::default(), Output::NORMAL);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Output {
    /// Write the next bytes one octet per this interval.
    tarpit: Option<Duration>,
    /// Close the connection once the next bytes are written.
    close_after: bool,
    /// Close the connection now; what is queued is never written.
    close_now: bool,
}

impl Output {
    /// Write as usual: everything queued, at once.
    pub const NORMAL: Self = Self {
        tarpit: None,
        close_after: false,
        close_now: false,
    };

    /// Write the next bytes one octet per `interval`, within the write's usual deadline.
    /// The next write holds every reply queued by then: for a pipelining client, the
    /// replies to the whole batch the command came in (RFC 2920 replies leave together).
    pub const fn tarpit(interval: Duration) -> Self {
        Self {
            tarpit: Some(interval),
            ..Self::NORMAL
        }
    }

    /// Close the connection now, without writing what the session queued: the reply to
    /// the command just decided, and for a pipelining client the replies to the earlier
    /// commands of its batch, which had not left yet. The handler then hears only the end of the
    /// session: decisions still owed are refused by the adapter, content is dropped, and
    /// a message in progress is aborted.
    pub const fn disconnect() -> Self {
        Self {
            close_now: true,
            ..Self::NORMAL
        }
    }

    /// The same, and close the connection once the next bytes (see
    /// [`tarpit`](Self::tarpit) for what they hold) are written.
    #[must_use]
    pub const fn and_close(mut self) -> Self {
        self.close_after = true;
        self
    }

    /// The interval of a tarpit, if the next bytes go slowly.
    pub const fn tarpit_interval(&self) -> Option<Duration> {
        self.tarpit
    }

    /// Whether the connection closes once the next bytes are written.
    pub const fn closes_after_write(&self) -> bool {
        self.close_after
    }

    /// Whether the connection closes now.
    pub const fn closes_now(&self) -> bool {
        self.close_now
    }

    /// Whether this is [`NORMAL`](Self::NORMAL).
    pub fn is_normal(&self) -> bool {
        *self == Self::NORMAL
    }
}
