//! A transaction as the application describes it, and the commands it becomes on a given
//! server: parameters only when advertised, local refusals before anything is sent.

use std::fmt::Write as _;

use crate::codec::ehlo::Capabilities;
use crate::codec::params::{
    Body, MailParams, ParamSupport, RcptParams, parse_mail_params, parse_rcpt_params,
};
use crate::{ForwardPath, ReversePath};

use super::event::{Outcome, Stage};

/// What the content is, which decides `BODY=` and whether the server can take it.
/// Ordered from the most to the least restricted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BodyType {
    /// 7-bit text (no `BODY=` parameter, I18N-06).
    #[default]
    SevenBit,
    /// Text with 8-bit octets: `BODY=8BITMIME`, only if offered (RFC 6152, BODY-09).
    EightBit,
    /// Anything, NUL and long lines included: `BODY=BINARYMIME` over BDAT, only if both
    /// CHUNKING and BINARYMIME are offered (RFC 3030 §3, BDAT-05).
    Binary,
}

impl BodyType {
    /// The smallest type that carries content with these facts.
    ///
    /// ```
    /// use smtp_proto::client::BodyType;
    /// use smtp_proto::codec::stuffing::BodyFacts;
    /// assert_eq!(BodyType::of(&BodyFacts::scan(b"hi\r\n")), BodyType::SevenBit);
    /// assert_eq!(BodyType::of(&BodyFacts::scan(b"h\xc3\xa9\r\n")), BodyType::EightBit);
    /// assert_eq!(BodyType::of(&BodyFacts::scan(b"\0")), BodyType::Binary);
    /// ```
    pub fn of(facts: &crate::codec::stuffing::BodyFacts) -> Self {
        if facts.nul || facts.longest_line > 998 {
            Self::Binary
        } else if facts.eight_bit {
            Self::EightBit
        } else {
            Self::SevenBit
        }
    }
}

/// One message's envelope: the reverse-path, the recipients, the MAIL parameters the
/// application chose, and what the content is. Addresses are typed values that cannot
/// hold CR, LF or any control (INJ-01, INJ-02).
///
/// ```
/// use smtp_proto::{Mailbox, client::{BodyType, Envelope}};
/// let envelope = Envelope::new("a@x.example".parse::<Mailbox>()?)
///     .to("b@y.example".parse::<Mailbox>()?)
///     .to("c@y.example".parse::<Mailbox>()?)
///     .body_type(BodyType::EightBit)
///     .size(1234);
/// assert_eq!(envelope.recipients().len(), 2);
/// # Ok::<(), smtp_proto::codec::address::AddressError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    from: ReversePath,
    recipients: Vec<(ForwardPath, RcptParams)>,
    params: MailParams,
    body_type: BodyType,
    size: Option<u64>,
}

impl Envelope {
    /// An envelope from `from` (a mailbox, or `ReversePath::Null` for a bounce), with no
    /// recipient yet.
    pub fn new(from: impl Into<ReversePath>) -> Self {
        Self {
            from: from.into(),
            recipients: Vec::new(),
            params: MailParams::default(),
            body_type: BodyType::SevenBit,
            size: None,
        }
    }

    /// Adds a recipient. A recipient already present (the same local part, the domain
    /// in any case) is not added twice (RCPT-06).
    #[must_use]
    pub fn to(self, recipient: impl Into<ForwardPath>) -> Self {
        self.to_with(recipient, RcptParams::default())
    }

    /// Adds a recipient with DSN parameters (`NOTIFY`, `ORCPT`).
    #[must_use]
    pub fn to_with(mut self, recipient: impl Into<ForwardPath>, params: RcptParams) -> Self {
        let recipient = recipient.into();
        if !self
            .recipients
            .iter()
            .any(|(r, _)| same_recipient(r, &recipient))
        {
            self.recipients.push((recipient, params));
        }
        self
    }

    /// The MAIL parameters (DSN `RET`/`ENVID`, `REQUIRETLS`, `MT-PRIORITY`, `BY`,
    /// `HOLDFOR`/`HOLDUNTIL`, `AUTH=`). `SIZE`, `BODY` and `SMTPUTF8` are the client's to
    /// set: the values given here are ignored.
    #[must_use]
    pub fn params(mut self, params: MailParams) -> Self {
        self.params = params;
        self
    }

    /// What the content is (default 7-bit).
    #[must_use]
    pub fn body_type(mut self, body_type: BodyType) -> Self {
        self.body_type = body_type;
        self
    }

    /// The content's size in octets with CR LF line ends, before dot-stuffing
    /// ([`BodyFacts::size`](crate::codec::stuffing::BodyFacts::size)): declared with
    /// `SIZE=` and checked against the server's limit before anything is sent (SIZE-01,
    /// SIZE-03).
    #[must_use]
    pub fn size(mut self, size: u64) -> Self {
        self.size = Some(size);
        self
    }

    /// The same envelope for only those of its recipients that are in `recipients`
    /// (with their parameters): for another transaction after a recipient limit
    /// (RCPT-02, RCPT-05).
    #[must_use]
    pub fn only(&self, recipients: &[ForwardPath]) -> Self {
        let mut envelope = self.clone();
        envelope.recipients.retain(|(r, _)| recipients.contains(r));
        envelope
    }

    /// The reverse-path.
    pub fn from(&self) -> &ReversePath {
        &self.from
    }

    /// The recipients, in order.
    pub fn recipients(&self) -> &[(ForwardPath, RcptParams)] {
        &self.recipients
    }

    /// What the content is.
    pub fn content_type(&self) -> BodyType {
        self.body_type
    }

    /// Whether an address needs SMTPUTF8 (RFC 6531).
    fn needs_utf8(&self) -> bool {
        let ascii = self.from.mailbox().is_none_or(|m| m.is_ascii())
            && self
                .recipients
                .iter()
                .all(|(r, _)| r.mailbox().is_none_or(|m| m.is_ascii()));
        !ascii
    }
}

impl From<crate::Mailbox> for ReversePath {
    fn from(mailbox: crate::Mailbox) -> Self {
        Self::Mailbox(mailbox)
    }
}

impl From<crate::Mailbox> for ForwardPath {
    fn from(mailbox: crate::Mailbox) -> Self {
        Self::Mailbox(mailbox)
    }
}

/// RCPT-06 (choice): the local part exactly, the domain in any case.
fn same_recipient(a: &ForwardPath, b: &ForwardPath) -> bool {
    match (a.mailbox(), b.mailbox()) {
        (Some(a), Some(b)) => {
            a.local_part() == b.local_part()
                && a.domain()
                    .to_string()
                    .eq_ignore_ascii_case(&b.domain().to_string())
        }
        (None, None) => true,
        _ => false,
    }
}

/// What the session knows that decides the commands.
pub(crate) struct Hop<'a> {
    pub(crate) caps: &'a Capabilities,
    /// The session runs over TLS with a verified certificate.
    pub(crate) verified_tls: bool,
}

/// The commands of one transaction, ready to send.
#[derive(Debug)]
pub(crate) struct Commands {
    pub(crate) mail: Vec<u8>,
    pub(crate) rcpts: Vec<Vec<u8>>,
    pub(crate) dsn_sent: bool,
}

/// Builds the MAIL and RCPT lines for `envelope` on `hop`, or the local verdict that
/// stops it before a byte is sent.
pub(crate) fn plan(envelope: &Envelope, hop: &Hop<'_>) -> Result<Commands, Outcome> {
    let caps = hop.caps;
    let refuse = |code, text: &str| Err(Outcome::local(code, text, Stage::Mail));
    let utf8 = envelope.needs_utf8();
    if utf8 && !caps.smtputf8() {
        // I18N-01, and I18N-03 by choice: a non-ASCII domain is not converted to A-labels.
        return refuse(
            553,
            "5.6.7 SMTPUTF8 is required, but the server does not offer it",
        );
    }
    let body = match envelope.body_type {
        BodyType::SevenBit => None,
        BodyType::EightBit if caps.eight_bit_mime() => Some(Body::EightBitMime),
        BodyType::EightBit => {
            return refuse(
                554,
                "5.6.3 8-bit content, but the server does not offer 8BITMIME",
            );
        }
        BodyType::Binary if caps.binarymime() => Some(Body::BinaryMime),
        BodyType::Binary => {
            return refuse(
                554,
                "5.6.3 binary content, but the server does not offer BINARYMIME",
            );
        }
    };
    let requested = &envelope.params;
    if requested.requiretls && !(hop.verified_tls && caps.requiretls()) {
        // RTLS-01, RTLS-02: never downgraded.
        return refuse(550, "5.7.30 REQUIRETLS support required");
    }
    if let (Some(limit), Some(size)) = (caps.size_limit(), envelope.size)
        && size > limit
    {
        return refuse(552, "5.3.4 Message too big for the server");
    }
    if requested.deliver_by.is_some() && caps.deliver_by().is_none() {
        return refuse(
            555,
            "5.5.4 BY requested, but the server does not offer DELIVERBY",
        );
    }
    if requested.hold.is_some() && caps.future_release().is_none() {
        return refuse(
            555,
            "5.5.4 HOLDFOR/HOLDUNTIL requested, but the server does not offer FUTURERELEASE",
        );
    }
    if requested.envid.as_ref().is_some_and(|e| e.len() > 100) {
        return refuse(
            501,
            "5.5.4 ENVID longer than 100 characters (RFC 3461 §4.4)",
        );
    }
    let dsn = caps.dsn();
    let mut params = MailParams {
        size: envelope.size.filter(|_| caps.size_supported()),
        body,
        smtputf8: utf8,
        requiretls: requested.requiretls,
        mt_priority: requested
            .mt_priority
            .filter(|_| caps.mt_priority().is_some()),
        deliver_by: requested.deliver_by,
        hold: requested.hold.clone(),
        ..MailParams::default()
    };
    if dsn {
        params.ret = requested.ret;
        params.envid.clone_from(&requested.envid);
    }
    if !caps.auth().is_empty() {
        params.auth.clone_from(&requested.auth);
    }
    let dsn_sent = dsn
        && (requested.ret.is_some()
            || requested.envid.is_some()
            || envelope
                .recipients
                .iter()
                .any(|(_, p)| p.notify.is_some() || p.orcpt.is_some()));
    let mut mail = format!("MAIL FROM:{}", envelope.from);
    let start = mail.len();
    params.encode(&mut mail);
    // The server's own grammar is the oracle: what does not parse back exactly is never
    // sent (INJ-03, INJ-08).
    if parse_mail_params(&mail.as_bytes()[start..], &ParamSupport::all()).as_ref() != Ok(&params) {
        return refuse(501, "5.5.4 a MAIL parameter cannot be sent as given");
    }
    mail.push_str("\r\n");
    let mut rcpts = Vec::with_capacity(envelope.recipients.len());
    for (recipient, requested) in &envelope.recipients {
        let mut params = RcptParams::default();
        if dsn {
            params.clone_from(requested);
        }
        if params.orcpt.as_ref().is_some_and(|o| o.address.len() > 500) {
            return refuse(
                501,
                "5.5.4 ORCPT longer than 500 characters (RFC 3461 §4.2)",
            );
        }
        let mut line = String::new();
        let _ = write!(line, "RCPT TO:{recipient}");
        let start = line.len();
        params.encode(&mut line);
        if parse_rcpt_params(&line.as_bytes()[start..], &ParamSupport::all()).as_ref()
            != Ok(&params)
        {
            return refuse(501, "5.5.4 a RCPT parameter cannot be sent as given");
        }
        line.push_str("\r\n");
        rcpts.push(line.into_bytes());
    }
    Ok(Commands {
        mail: mail.into_bytes(),
        rcpts,
        dsn_sent,
    })
}
