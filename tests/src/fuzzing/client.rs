//! Arbitrary reply bytes into the SMTP client.

use std::sync::Arc;

use smtp_proto::client::{
    BodyType, Chunking, Client, ClientAuth, ClientConfig, ClientEvent, Envelope, TlsPolicy,
};
use smtp_proto::{Mailbox, Protocol, TlsInfo};

use super::{Input, cut, epoch, lines};

/// A marker inside the content: it must never leave before the server asked for content.
const MARK: &[u8] = b"CONTENTMARK";

fn mailbox(text: &str) -> Option<Mailbox> {
    text.parse().ok()
}

/// Feeds arbitrary server bytes to a [`Client`] with two queued transactions.
///
/// Layout: byte 0 picks the configuration (bit 0 LMTP, bit 1 BDAT when offered, bits 2–3
/// the TLS policy, bit 4 AUTH with a password, bit 5 one read per line instead of the
/// read sizes); byte 1 is the content piece size; bytes 2–5 are read sizes, cycled; the
/// rest is what the server sends. A `\x00TLS\x00` sequence is the TLS handshake finishing
/// (when the client waits for one), `\x00T\x00` ten minutes passing.
///
/// Oracles beyond "no panic":
/// * content (the marker) never leaves before a `354` to DATA or a `BDAT` command;
/// * no MAIL or RCPT line with a non-ASCII octet unless the last EHLO offered SMTPUTF8;
/// * over DATA, no bare CR or LF in anything the client writes (never the first hop of a
///   smuggling chain);
/// * after `Closed`, nothing more is written and no more events come;
/// * every queued transaction is reported exactly once, and the session closes, by the
///   end of the input followed by EOF.
pub fn client_replies(data: &[u8]) {
    let mut input = Input::new(data);
    let flags = input.byte();
    let piece = usize::from(input.byte().max(1));
    let sizes = input.take(4).to_vec();
    let wire = input.rest();
    let Ok(mut config) = ClientConfig::new("client.example") else {
        return;
    };
    if flags & 1 != 0 {
        config.protocol = Protocol::Lmtp;
    }
    let bdat = flags & 2 != 0;
    if bdat {
        config.chunking = Chunking::WhenOffered(7);
    }
    config.tls = match (flags >> 2) & 3 {
        0 => TlsPolicy::None,
        1 => TlsPolicy::Opportunistic,
        2 => TlsPolicy::Required,
        _ => TlsPolicy::Implicit,
    };
    if flags & 16 != 0 {
        config.auth = Some(ClientAuth::password("user", "pass"));
    }
    let now = epoch();
    let Ok(mut client) = Client::new(Arc::new(config), now) else {
        return;
    };
    let (Some(a), Some(b), Some(u)) = (
        mailbox("a@x.example"),
        mailbox("b@y.example"),
        mailbox("\u{fc}@y.example"),
    ) else {
        return;
    };
    let jobs = [
        Envelope::new(a.clone())
            .to(b.clone())
            .to(u)
            .body_type(BodyType::EightBit),
        Envelope::new(a).to(b),
    ];
    for job in jobs.iter().cloned() {
        if client.send(now, job).is_err() {
            return;
        }
    }
    let body: Vec<u8> = [b"Subject: x\n\n.".as_slice(), MARK, b"\r\n.\r\nx\ry\n"].concat();
    let mut state = State::default();
    let reads = if flags & 32 != 0 {
        lines(wire)
    } else {
        cut(wire, &sizes)
    };
    let mut now = now;
    for read in reads {
        if read == b"\x00TLS\x00" {
            let info = TlsInfo::new(Some("TLSv1.3".to_owned()), None, None, true);
            let _ = smtp_proto::connection::Machine::handle_tls_established(&mut client, now, info);
        } else if read == b"\x00T\x00" {
            now += std::time::Duration::from_secs(600);
            client.handle_timeout(now);
        } else {
            client.handle_input(now, read);
        }
        state.pump(&mut client, now, &body, piece, bdat);
    }
    client.handle_eof(now);
    state.pump(&mut client, now, &body, piece, bdat);
    client.handle_timeout(now + std::time::Duration::from_secs(3600));
    state.pump(&mut client, now, &body, piece, bdat);
    assert!(client.is_closed(), "the session is over after EOF");
    assert!(state.closed, "Closed was reported");
    assert_eq!(state.reports, jobs.len(), "every transaction reported once");
}

/// What the oracles remember.
#[derive(Debug, Default)]
struct State {
    /// A `354` to DATA was read, or a BDAT left: content may follow.
    content_allowed: bool,
    offset: usize,
    closed: bool,
    reports: usize,
    written: Vec<u8>,
}

impl State {
    fn pump(
        &mut self,
        client: &mut Client,
        now: std::time::Instant,
        body: &[u8],
        piece: usize,
        bdat: bool,
    ) {
        for _ in 0..10_000 {
            let mut progressed = false;
            while let Some(event) = client.poll_event() {
                progressed = true;
                assert!(!self.closed, "an event after Closed: {event:?}");
                match event {
                    ClientEvent::Reply { command, reply, .. }
                        if command == "DATA" && reply.code() == 354 =>
                    {
                        self.content_allowed = true;
                    }
                    ClientEvent::BodyWanted(_) => {
                        if self.offset >= body.len() {
                            let _ = client.end_body(now);
                            self.offset = 0;
                        } else {
                            let end = (self.offset + piece).min(body.len());
                            let _ = client.send_body(now, &body[self.offset..end]);
                            self.offset = end;
                        }
                    }
                    ClientEvent::AuthChallenge(_) => {
                        let _ = client.respond_auth(now, None);
                    }
                    ClientEvent::TransactionDone(_) => {
                        self.reports += 1;
                        self.offset = 0;
                        self.content_allowed = false;
                    }
                    ClientEvent::Closed(_) => self.closed = true,
                    _ => {}
                }
            }
            let before = self.written.len();
            if client.poll_transmit(&mut self.written) > 0 {
                progressed = true;
                self.check(client, before, bdat);
            }
            if !progressed {
                return;
            }
        }
        panic!("the client never stops producing output");
    }

    /// Checks the bytes written since `before`.
    fn check(&mut self, client: &Client, before: usize, bdat: bool) {
        let new = &self.written[before..];
        if new.windows(5).any(|w| w == b"BDAT ") {
            self.content_allowed = true;
        }
        if memchr::memmem::find(new, MARK).is_some() {
            assert!(self.content_allowed, "content before 354 or BDAT");
        }
        for line in new.split(|&b| b == b'\n') {
            let command = line.starts_with(b"MAIL FROM:") || line.starts_with(b"RCPT TO:");
            if command && !line.is_ascii() {
                assert!(
                    client.capabilities().smtputf8(),
                    "a UTF-8 envelope without SMTPUTF8"
                );
            }
        }
        if !bdat {
            // A bare LF or CR anywhere in what was written so far.
            let all = &self.written;
            for (i, &byte) in all.iter().enumerate().skip(before.saturating_sub(1)) {
                match byte {
                    b'\n' => assert!(i > 0 && all[i - 1] == b'\r', "a bare LF was written"),
                    b'\r' => {
                        if let Some(&next) = all.get(i + 1) {
                            assert_eq!(next, b'\n', "a bare CR was written");
                        }
                    }
                    _ => {}
                }
            }
        }
        if self.closed {
            // QUIT may be the last thing written after a fatal reply; nothing else.
            assert!(
                new == b"QUIT\r\n" || new.is_empty(),
                "bytes written after Closed"
            );
        }
    }
}
