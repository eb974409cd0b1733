//! The command phase: one function per verb, each applying RFC 5321 §4.1.4's sequencing
//! rules before asking the application.

use std::fmt::{self, Write as _};

use super::replies::{self as r};
use super::{
    Awaited, ChunkPhase, ChunkedMessage, Event, Line, PendingKind, Phase, Server, Timer,
    Transaction,
};
use crate::codec::address::{
    ForwardPath, ReversePath, parse_forward_path, parse_hello_domain, parse_reverse_path,
};
use crate::codec::command::{self, CommandLine, Verb};
use crate::codec::params::{Body, ParamSupport, parse_mail_params, parse_rcpt_params};
use crate::codec::reply::{Reply, encode_lines};
use crate::config::{InjectionPolicy, Protocol};
use crate::server::CloseReason;

impl Server {
    /// Reads and runs one command line; false when none is complete yet.
    pub(super) fn step_command(&mut self) -> bool {
        if !self.check_greeting() {
            return true;
        }
        match self.reader.next_command() {
            Line::Complete(line) => self.command(&line),
            Line::Incomplete => return false,
            Line::TooLong => self.send_error(&r::LINE_TOO_LONG),
            Line::BareLf => self.bare_lf(),
        }
        true
    }

    /// A command line ended in a bare LF under the strict policy.
    pub(super) fn bare_lf(&mut self) {
        // Smuggling defence (SMG-C1): a bare LF is never a line end, and a client sending
        // one cannot be resynchronised safely.
        self.send(&r::BARE_LF_IN_COMMAND);
        self.close(CloseReason::ProtocolViolation, None);
    }

    fn command(&mut self, line: &[u8]) {
        if self.config.no_service {
            return self.no_service(line);
        }
        let (verb, args) = match command::classify(line) {
            CommandLine::Known(verb, args) => (verb, args),
            CommandLine::Unknown => return self.send_error(&r::UNKNOWN_COMMAND),
            CommandLine::Forbidden if self.config.close_on_forbidden_commands => {
                self.send(&r::FORBIDDEN_COMMAND);
                return self.close(CloseReason::ProtocolViolation, None);
            }
            CommandLine::Forbidden => return self.send_error(&r::UNKNOWN_COMMAND),
        };
        if verb == Verb::Bdat {
            // First, whatever else happens: the chunk octets must be skipped even when the
            // command is refused, or they would run as commands (RFC 3030 §2).
            return self.bdat(args);
        }
        let (controls, non_ascii) = octet_classes(args);
        if controls {
            // Controls never belong in a command (RFC 5321 §4.1.2; SMG-C2, SMG-C3).
            return self.reject(verb, &r::CONTROL_CHARACTER);
        }
        if verb != Verb::Auth && non_ascii && std::str::from_utf8(args).is_err() {
            // RFC 6531 §3.3 allows UTF-8 only; AUTH's base64 gets its own 501 (RFC 4954 §4).
            return self.reject(verb, &r::INVALID_UTF8);
        }
        let args = match verb {
            Verb::Mail
            | Verb::Rcpt
            | Verb::Auth
            | Verb::Vrfy
            | Verb::Expn
            | Verb::Noop
            | Verb::Help => args,
            _ => command::trim_blanks(args),
        };
        if let Some(reply) = self.tls_gate(verb) {
            return self.reject(verb, reply);
        }
        match verb {
            Verb::Helo | Verb::Ehlo | Verb::Lhlo => self.hello(verb, args),
            Verb::Mail => self.mail(args),
            Verb::Rcpt => self.rcpt(args),
            Verb::Data => self.data(args),
            Verb::Rset => self.rset(args),
            Verb::Noop => self.reply(verb, &r::OK),
            Verb::Help => self.reply(verb, &r::HELP),
            Verb::Vrfy | Verb::Expn => self.verify(verb, args),
            Verb::Quit => self.quit(args),
            Verb::StartTls => self.starttls(args),
            Verb::Auth => self.auth(args),
            Verb::Xclient => self.xclient(args),
            Verb::Bdat => {}
        }
    }

    /// RFC 5321 §3.1: after a 554 greeting, wait for QUIT and answer anything else 503.
    fn no_service(&mut self, line: &[u8]) {
        if command::classify(line) == CommandLine::Known(Verb::Quit, b"") {
            self.send(&r::BYE);
            self.close(CloseReason::Quit, None);
        } else {
            self.send(&r::NO_SERVICE);
        }
    }

    /// A positive or neutral reply the server gives by itself.
    fn reply(&mut self, verb: Verb, reply: &Reply) {
        self.finish_command(verb, reply, false);
    }

    /// A reply to a client error, counted towards `max_errors`.
    pub(super) fn reject(&mut self, verb: Verb, reply: &Reply) {
        self.finish_command(verb, reply, true);
    }

    /// RFC 3207 §4 with `require_tls`: before TLS only HELO, EHLO, LHLO, STARTTLS, NOOP,
    /// HELP and QUIT (Postfix's list, minus XCLIENT).
    fn tls_gate(&self, verb: Verb) -> Option<&'static Reply> {
        let allowed = matches!(
            verb,
            Verb::Helo
                | Verb::Ehlo
                | Verb::Lhlo
                | Verb::StartTls
                | Verb::Noop
                | Verb::Help
                | Verb::Quit
        );
        (self.config.require_tls && self.session.tls.is_none() && !allowed)
            .then_some(&r::TLS_REQUIRED)
    }

    fn hello(&mut self, verb: Verb, args: &[u8]) {
        let lmtp = self.config.protocol == Protocol::Lmtp;
        if (verb == Verb::Lhlo) != lmtp {
            // RFC 2033 §4.1: LHLO only in LMTP, HELO/EHLO never there.
            return self.send_error(&r::UNKNOWN_COMMAND);
        }
        let Ok(domain) = parse_hello_domain(args) else {
            return self.reject(verb, &r::HELLO_SYNTAX);
        };
        if self.check_sync(verb) {
            self.await_decision(Awaited::Hello(verb), PendingKind::Hello, |pending| {
                Event::Hello {
                    pending,
                    domain,
                    verb,
                }
            });
        }
    }

    /// Sends the reply to an accepted or refused HELO/EHLO/LHLO.
    pub(super) fn finish_hello(&mut self, verb: Verb, reply: Option<Reply>) {
        if let Some(reply) = reply.as_ref().filter(|r| !r.is_positive()) {
            // Refused: the session stays as it was (RFC 5321 §4.1.4).
            self.finish_command(verb, reply, false);
            return;
        }
        if !self.check_sync(verb) {
            return;
        }
        self.reset_transaction();
        self.session.hello = Some(verb);
        let first = reply.map_or_else(
            || self.config.hostname.clone(),
            |r| r.text().replace('\n', " "),
        );
        let text = self.capabilities(verb, first);
        // RFC 2034 §3: no enhanced codes on HELO/EHLO replies.
        encode_lines(250, None, text.split('\n'), &mut self.output);
        self.arm(Timer::Command);
    }

    /// The HELO/EHLO/LHLO reply text, one line per `\n`: `first`, then the keywords of each
    /// extension only when configured (and TLS-dependent ones only in the right TLS state:
    /// RFC 3207 §4.2, RFC 8689 §4, RFC 4954 §4). Built in one string.
    fn capabilities(&self, verb: Verb, first: String) -> String {
        if verb == Verb::Helo {
            return first;
        }
        // Room for the usual keywords, so the string grows once at most.
        let mut text = String::with_capacity(first.len() + 192);
        text.push_str(&first);
        let x = &self.config.extensions;
        let tls = self.session.tls.is_some();
        let mut add = |on: bool, keyword: fmt::Arguments<'_>| {
            if on {
                text.push('\n');
                // Writing into a String cannot fail.
                let _ = text.write_fmt(keyword);
            }
        };
        add(x.pipelining, format_args!("PIPELINING"));
        let size = self.config.limits.max_message_size;
        add(x.size, format_args!("SIZE {size}"));
        add(x.eight_bit_mime, format_args!("8BITMIME"));
        add(x.chunking, format_args!("CHUNKING"));
        add(x.chunking && x.binary_mime, format_args!("BINARYMIME"));
        add(x.smtputf8, format_args!("SMTPUTF8"));
        add(x.enhanced_status_codes, format_args!("ENHANCEDSTATUSCODES"));
        add(x.dsn, format_args!("DSN"));
        add(self.session.starttls && !tls, format_args!("STARTTLS"));
        add(x.requiretls && tls, format_args!("REQUIRETLS"));
        if self.auth_offered() {
            let mechanisms = x.auth_mechanisms.join(" ");
            add(true, format_args!("AUTH {mechanisms}"));
        }
        add(x.mt_priority, format_args!("MT-PRIORITY"));
        add(
            self.session.xclient,
            format_args!("{}", super::xclient::KEYWORD),
        );
        if let Some(min) = x.deliver_by {
            add(true, format_args!("DELIVERBY {min}"));
        }
        if let Some((interval, until)) = &x.future_release {
            add(true, format_args!("FUTURERELEASE {interval} {until}"));
        }
        text
    }

    /// Which ESMTP parameters this session accepts: none after HELO (RFC 5321 §4.1.1.1
    /// reserves them for EHLO), REQUIRETLS only under TLS (RFC 8689 §4).
    fn param_support(&self) -> ParamSupport {
        if self.session.hello == Some(Verb::Helo) {
            return ParamSupport::default();
        }
        let x = &self.config.extensions;
        ParamSupport {
            size: x.size,
            eight_bit_mime: x.eight_bit_mime,
            binary_mime: x.chunking && x.binary_mime,
            smtputf8: x.smtputf8,
            dsn: x.dsn,
            requiretls: x.requiretls && self.session.tls.is_some(),
            mt_priority: x.mt_priority,
            deliver_by: x.deliver_by.is_some(),
            future_release: x.future_release.is_some(),
            auth: self.auth_offered(),
        }
    }

    fn mail(&mut self, args: &[u8]) {
        if self.session.hello.is_none() {
            return self.reject(Verb::Mail, &r::NEED_HELLO);
        }
        if self.transaction.is_some() {
            return self.reject(Verb::Mail, &r::NESTED_MAIL);
        }
        if self.config.require_auth && !self.session.authenticated {
            return self.reject(Verb::Mail, &r::AUTH_REQUIRED);
        }
        let Some(path) = command::path_argument(args, b"FROM:") else {
            return self.reject(Verb::Mail, &r::MAIL_SYNTAX);
        };
        let (from, rest) = match parse_reverse_path(path) {
            Ok((from, rest)) if rest.is_empty() || rest[0] == b' ' => (from, rest),
            Ok(_) => {
                return self.reject(
                    Verb::Mail,
                    &r::bad_address(7, "sender", "Bad address syntax"),
                );
            }
            Err(e) => {
                return self.reject(Verb::Mail, &r::bad_address(7, "sender", e.description()));
            }
        };
        let params = match parse_mail_params(rest, &self.param_support()) {
            Ok(params) => params,
            Err(e) => return self.reject(Verb::Mail, &r::param_error(&e)),
        };
        let utf8 = matches!(&from, ReversePath::Mailbox(m) if !m.is_ascii());
        if utf8 && !params.smtputf8 {
            return self.reject(Verb::Mail, &r::SMTPUTF8_REQUIRED);
        }
        if params
            .size
            .is_some_and(|size| size > self.config.limits.max_message_size)
        {
            // RFC 1870 §6.1: declared size over the fixed limit.
            return self.reply(Verb::Mail, &r::TOO_BIG);
        }
        let awaited = Awaited::Mail {
            body: params.body,
            smtputf8: params.smtputf8,
        };
        self.await_decision(awaited, PendingKind::Mail, |pending| Event::Mail {
            pending,
            from,
            params: Box::new(params),
        });
    }

    /// The application answered MAIL: an accepted sender opens the transaction.
    pub(super) fn finish_mail(&mut self, body: Option<Body>, smtputf8: bool, reply: Option<Reply>) {
        let refused = reply.as_ref().is_some_and(|r| !r.is_positive());
        if self.finish_command(Verb::Mail, reply.as_ref().unwrap_or(&r::MAIL_OK), false) && !refused
        {
            self.transaction = Some(Transaction {
                body,
                smtputf8,
                recipients: 0,
                refused_recipients: false,
                chunked: None,
            });
        }
    }

    fn rcpt(&mut self, args: &[u8]) {
        let Some(tx) = &self.transaction else {
            return self.reject(Verb::Rcpt, &r::NEED_MAIL);
        };
        if tx.chunked.is_some() {
            return self.reject(Verb::Rcpt, &r::BDAT_IN_PROGRESS);
        }
        if tx.recipients >= self.config.limits.max_recipients {
            // RFC 5321 §4.5.3.1.10: 452; earlier recipients stay accepted.
            return self.reply(Verb::Rcpt, &r::TOO_MANY_RECIPIENTS);
        }
        let smtputf8 = tx.smtputf8;
        let Some(path) = command::path_argument(args, b"TO:") else {
            return self.reject(Verb::Rcpt, &r::RCPT_SYNTAX);
        };
        let (to, rest) = match parse_forward_path(path) {
            Ok((to, rest)) if rest.is_empty() || rest[0] == b' ' => (to, rest),
            Ok(_) => {
                return self.reject(
                    Verb::Rcpt,
                    &r::bad_address(3, "recipient", "Bad address syntax"),
                );
            }
            Err(e) => {
                return self.reject(Verb::Rcpt, &r::bad_address(3, "recipient", e.description()));
            }
        };
        let params = match parse_rcpt_params(rest, &self.param_support()) {
            Ok(params) => params,
            Err(e) => return self.reject(Verb::Rcpt, &r::param_error(&e)),
        };
        if matches!(&to, ForwardPath::Mailbox(m) if !m.is_ascii()) && !smtputf8 {
            return self.reject(Verb::Rcpt, &r::SMTPUTF8_REQUIRED);
        }
        self.await_decision(Awaited::Rcpt, PendingKind::Rcpt, |pending| Event::Rcpt {
            pending,
            to,
            params,
        });
    }

    /// The application answered RCPT: the transaction counts the recipient (or notes the
    /// refusal, for DATA's 554).
    pub(super) fn finish_rcpt(&mut self, reply: Option<Reply>) {
        let refused = reply.as_ref().is_some_and(|r| !r.is_positive());
        if self.finish_command(Verb::Rcpt, reply.as_ref().unwrap_or(&r::RCPT_OK), false)
            && let Some(tx) = self.transaction.as_mut()
        {
            if refused {
                tx.refused_recipients = true;
            } else {
                tx.recipients += 1;
            }
        }
    }

    /// Why DATA or BDAT cannot start a message now (RFC 5321 §3.3, RFC 3030 §2).
    fn content_refusal(&self) -> Option<&'static Reply> {
        let Some(tx) = &self.transaction else {
            return Some(&r::NEED_MAIL);
        };
        if tx.recipients == 0 {
            return Some(if tx.refused_recipients {
                &r::NO_VALID_RECIPIENTS
            } else {
                &r::NEED_RCPT
            });
        }
        None
    }

    fn data(&mut self, args: &[u8]) {
        if !args.is_empty() {
            return self.reject(Verb::Data, &r::NO_ARGUMENTS);
        }
        if let Some(reply) = self.content_refusal() {
            return self.reject(Verb::Data, reply);
        }
        let tx = self.transaction.as_ref();
        if tx.is_some_and(|tx| tx.chunked.is_some()) {
            return self.reject(Verb::Data, &r::BDAT_IN_PROGRESS);
        }
        if tx.is_some_and(|tx| tx.body == Some(Body::BinaryMime)) {
            return self.reject(Verb::Data, &r::BINARYMIME_NEEDS_BDAT);
        }
        if self.check_sync(Verb::Data) {
            self.await_decision(Awaited::Data, PendingKind::DataStart, |pending| {
                Event::DataStart {
                    pending,
                    chunked: false,
                }
            });
        }
    }

    fn bdat(&mut self, args: &[u8]) {
        let Some((size, last)) = command::bdat_argument(args) else {
            // Without a size there is no telling where the chunk ends: close (Postfix).
            self.send(&r::BDAT_SYNTAX);
            return self.close(CloseReason::ProtocolViolation, None);
        };
        let refusal = if !self.config.extensions.chunking {
            Some(&r::NOT_IMPLEMENTED)
        } else if let Some(reply) = self.tls_gate(Verb::Bdat) {
            Some(reply)
        } else {
            self.content_refusal()
        };
        if let Some(reply) = refusal {
            return self.read_chunk(size, last, Some(reply.clone()));
        }
        if size == 0 && !last {
            return self.reject(Verb::Bdat, &r::NULL_BDAT);
        }
        let failed = self
            .transaction
            .as_ref()
            .and_then(|tx| tx.chunked.as_ref())
            .map(|c| c.failed.clone());
        match failed {
            None => self.await_decision(
                Awaited::Chunk { size, last },
                PendingKind::DataStart,
                |pending| Event::DataStart {
                    pending,
                    chunked: true,
                },
            ),
            Some(Some(reply)) => self.read_chunk(size, last, Some(reply)),
            Some(None) => self.read_chunk(size, last, None),
        }
    }

    /// The application answered the DataStart of a BDAT message.
    pub(super) fn finish_chunk_start(&mut self, size: u64, last: bool, reply: Option<Reply>) {
        let failed = reply.filter(|r| !r.is_positive());
        if let Some(tx) = self.transaction.as_mut() {
            let scanner = crate::codec::data::ContentScanner::new(self.config.limits.text_line);
            tx.chunked = Some(ChunkedMessage {
                size: 0,
                scanner,
                failed: failed.clone(),
            });
        }
        self.read_chunk(size, last, failed);
    }

    /// Reads (or, when refused, skips) `size` octets of chunk content, then replies.
    pub(super) fn read_chunk(&mut self, size: u64, last: bool, refused: Option<Reply>) {
        self.enter(Phase::Chunk(ChunkPhase {
            remaining: size,
            size,
            last,
            refused,
        }));
    }

    fn rset(&mut self, args: &[u8]) {
        if !args.is_empty() {
            return self.reject(Verb::Rset, &r::NO_ARGUMENTS);
        }
        // RFC 5321 §4.1.1.5: always 250, never a close; the HELO identity stays.
        self.reset_transaction();
        self.reply(Verb::Rset, &r::OK);
    }

    fn verify(&mut self, verb: Verb, args: &[u8]) {
        let Ok(argument) = std::str::from_utf8(args) else {
            return self.reject(verb, &r::INVALID_UTF8);
        };
        if argument.is_empty() {
            return self.reject(verb, &r::VRFY_SYNTAX);
        }
        if self.check_sync(verb) {
            let argument = argument.to_owned();
            let expand = verb == Verb::Expn;
            self.await_decision(Awaited::Verify, PendingKind::Verify, |pending| {
                Event::Verify {
                    pending,
                    argument,
                    expand,
                }
            });
        }
    }

    /// The application answered VRFY or EXPN (`252` by default, RFC 5321 §3.5.3).
    pub(super) fn finish_verify(&mut self, reply: Option<Reply>) {
        self.finish_command(Verb::Vrfy, reply.as_ref().unwrap_or(&r::CANNOT_VRFY), false);
    }

    fn quit(&mut self, args: &[u8]) {
        if !args.is_empty() {
            return self.reject(Verb::Quit, &r::NO_ARGUMENTS);
        }
        self.send(&r::BYE);
        self.close(CloseReason::Quit, None);
    }

    /// RFC 3207 §4 and CVE-2011-0411: anything already buffered after the STARTTLS line
    /// was sent before the client could see our 220, so it is dropped (or refused).
    fn starttls(&mut self, args: &[u8]) {
        if !args.is_empty() {
            return self.reject(Verb::StartTls, &r::NO_ARGUMENTS);
        }
        if self.session.tls.is_some() {
            return self.reject(Verb::StartTls, &r::TLS_ACTIVE);
        }
        if !self.session.starttls {
            return self.reject(Verb::StartTls, &r::NOT_IMPLEMENTED);
        }
        if !self.reader.is_empty() && self.config.starttls_injection == InjectionPolicy::Close {
            self.send(&r::STARTTLS_INJECTION);
            return self.close(CloseReason::ProtocolViolation, None);
        }
        self.send(&r::READY_FOR_TLS);
        let discarded = self.reader.discard_all();
        self.reset_transaction();
        self.session.hello = None;
        self.events.push_back(Event::StartTls { discarded });
        self.enter(Phase::TlsHandshake);
    }
}

/// Whether `args` holds a control octet (below SP, or DEL) and whether it holds a non-ASCII
/// octet, in one pass without early exit (so that it vectorises).
fn octet_classes(args: &[u8]) -> (bool, bool) {
    let (mut controls, mut high) = (false, 0u8);
    for &octet in args {
        controls |= octet < 0x20 || octet == 0x7f;
        high |= octet;
    }
    (controls, high >= 0x80)
}
