//! The anchor libraries we measure against, driven over the same transcript and the
//! same reads as ours, each the way its own API asks:
//!
//! * Stalwart's smtp-proto 0.2: its `RequestReceiver` for command lines and its
//!   `DataReceiver` for bodies (parser and receivers only: it has no session logic and
//!   produces no replies). Its receiver copies the unstuffed content into a `Vec`, as the
//!   Stalwart server does; that buffer is reused and cleared after each message.
//! * mailrs-smtp-proto: lines framed here with memchr ([`LineFramer`]), `parse_command` on
//!   each (it takes `&str`, so each line is UTF-8 checked first) and its `Session`; DATA is
//!   left to the caller, done here the simplest way: each framed line through its
//!   `unstuff_line`, the `.` line ends the message.
//! * mailin: lines framed the same way, every line (commands and content) through
//!   `Session::process`; a `Handler` sums the content lines it is given.

use std::io;
use std::net::{IpAddr, Ipv4Addr};

use stalwart_smtp_proto::Error as StalwartError;
use stalwart_smtp_proto::Request;
use stalwart_smtp_proto::request::receiver::{DataReceiver, RequestReceiver};

use super::LineFramer;
use super::transcript::Tally;

/// Stalwart's receivers over `input`, read `chunk` octets at a time. `message` is the
/// content buffer the data receiver appends to.
pub(crate) fn run_stalwart(input: &[u8], chunk: usize, message: &mut Vec<u8>) -> Tally {
    let mut tally = Tally::default();
    let mut requests = RequestReceiver::default();
    let mut data: Option<DataReceiver> = None;
    message.clear();
    for read in input.chunks(chunk) {
        let mut bytes = read.iter();
        while !bytes.as_slice().is_empty() {
            if let Some(receiver) = data.as_mut() {
                if !receiver.ingest(&mut bytes, message) {
                    break;
                }
                tally.messages += 1;
                tally.content += message.len() as u64;
                message.clear();
                data = None;
                continue;
            }
            let is_data = match requests.ingest(&mut bytes) {
                Ok(request) => {
                    let is_data = matches!(request, Request::Data);
                    std::hint::black_box(request);
                    is_data
                }
                Err(StalwartError::NeedsMoreData { .. }) => break,
                Err(e) => panic!("stalwart: {e:?}"),
            };
            if is_data {
                data = Some(DataReceiver::new());
            }
        }
    }
    tally
}

/// mailrs-smtp-proto's parser and session over framed lines.
pub(crate) fn run_mailrs(input: &[u8], chunk: usize, out: &mut Vec<u8>) -> Tally {
    use mailrs_smtp_proto::{
        Command, Event, Response, Session, SessionConfig, format_ehlo_response, parse_command,
        unstuff_line,
    };
    let mut tally = Tally::default();
    let mut session = Session::new("mx.example", SessionConfig::default());
    let mut framer = LineFramer::default();
    let mut in_data = false;
    out.clear();
    out.extend_from_slice(
        Response::greeting(&session.hostname)
            .format_greeting()
            .as_bytes(),
    );
    tally.replies += out.len();
    for read in input.chunks(chunk) {
        out.clear();
        framer.feed(read, |line| {
            if in_data {
                match unstuff_line(line) {
                    Some(content) => tally.content += content.len() as u64,
                    None => {
                        tally.messages += 1;
                        in_data = false;
                        out.extend_from_slice(Response::data_ok().format().as_bytes());
                    }
                }
                return;
            }
            let text = line.strip_suffix(b"\r\n").expect("CR LF line");
            let text = std::str::from_utf8(text).expect("UTF-8 command");
            let command = parse_command(text).expect("mailrs parses the transcript");
            let reply = match session.handle_command(&command) {
                Event::Reply(_) if matches!(command, Command::Ehlo(_)) => {
                    format_ehlo_response(&session.hostname, &session.capabilities())
                }
                Event::Reply(reply) | Event::Shutdown(reply) => reply.format(),
                Event::NeedData { .. } => {
                    in_data = true;
                    Response::data_start().format()
                }
                other => panic!("mailrs: unexpected {other:?}"),
            };
            out.extend_from_slice(reply.as_bytes());
        });
        tally.replies += out.len();
    }
    tally
}

/// mailin's `Handler`: accepts everything, counts content octets and messages.
#[derive(Debug, Default)]
pub(crate) struct MailinCounter {
    /// What it saw.
    tally: Tally,
}

impl mailin::Handler for &mut MailinCounter {
    fn data(&mut self, buf: &[u8]) -> io::Result<()> {
        self.tally.content += buf.len() as u64;
        Ok(())
    }

    fn data_end(&mut self) -> mailin::Response {
        self.tally.messages += 1;
        mailin::response::OK
    }
}

/// mailin's session over framed lines.
pub(crate) fn run_mailin(input: &[u8], chunk: usize, out: &mut Vec<u8>) -> Tally {
    let mut counter = MailinCounter::default();
    let mut replies = 0;
    {
        let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let mut session = mailin::SessionBuilder::new("mx.example").build(ip, &mut counter);
        let mut framer = LineFramer::default();
        out.clear();
        session.greeting().write_to(out).expect("Vec write");
        replies += out.len();
        for read in input.chunks(chunk) {
            out.clear();
            framer.feed(read, |line| {
                let response = session.process(line);
                assert!(!response.is_error, "mailin refused {line:?}");
                if response.action != mailin::Action::NoReply {
                    response.write_to(out).expect("Vec write");
                }
            });
            replies += out.len();
        }
    }
    counter.tally.replies = replies;
    counter.tally
}
