//! The loopback property (manual::client BODY-11, INJ-08): our client and our
//! server, connected in memory, every read split at arbitrary boundaries on both sides,
//! arbitrary envelopes, bodies and server decisions. The server's events must reproduce
//! exactly what the client was asked to send (the content byte for byte after unstuffing,
//! over DATA and BDAT alike), and the client's per-recipient results must equal the
//! server's decisions.

use std::sync::Arc;

use proptest::prelude::*;
use smtp_proto::client::{
    BodyType, Chunking, Client, ClientConfig, ClientEvent, CloseReason, Envelope, Stage,
    TransactionReport, Verdict,
};
use smtp_proto::codec::stuffing::{BodyEncoder, BodyFacts, Framing};
use smtp_proto::{Event, Mailbox, Reply, Server, ServerConfig};

/// What the server decides for a MAIL, a RCPT or a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Decision {
    Accept,
    Refuse(u16),
}

impl Decision {
    fn reply(self) -> Option<Reply> {
        match self {
            Self::Accept => None,
            Self::Refuse(code) => Reply::new(code, "decided by the test").ok(),
        }
    }
}

fn decision() -> impl Strategy<Value = Decision> {
    prop_oneof![
        6 => Just(Decision::Accept),
        1 => Just(Decision::Refuse(550)),
        1 => Just(Decision::Refuse(452)),
        1 => Just(Decision::Refuse(451)),
    ]
}

/// One job: sender index, recipient indices, body.
#[derive(Clone, Debug)]
struct Job {
    from: usize,
    to: Vec<usize>,
    body: Vec<u8>,
}

const SENDERS: [&str; 3] = ["s0@x.example", "s1@x.example", "s\u{fc}@x.example"];
const RECIPIENTS: [&str; 5] = [
    "r0@y.example",
    "r1@y.example",
    "r2@y.example",
    "r3@y.example",
    "r\u{e9}@y.example",
];

fn body() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b".".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"\r\n.\r\n".to_vec()),
        Just(b"..".to_vec()),
        Just(b"\xc3\xa9".to_vec()),
        Just(b"\0".to_vec()),
        Just(vec![b'x'; 1200]),
        "[ -~]{0,60}".prop_map(String::into_bytes),
    ];
    prop::collection::vec(piece, 0..16).prop_map(|pieces| pieces.concat())
}

fn job() -> impl Strategy<Value = Job> {
    (
        0..SENDERS.len(),
        prop::collection::btree_set(0..RECIPIENTS.len(), 1..4),
        body(),
    )
        .prop_map(|(from, to, body)| Job {
            from,
            to: to.into_iter().collect(),
            body,
        })
}

/// The whole scenario.
#[derive(Clone, Debug)]
struct Scenario {
    jobs: Vec<Job>,
    mail: Vec<Decision>,
    rcpt: Vec<Decision>,
    message: Vec<Decision>,
    pipelining: bool,
    smtputf8: bool,
    chunk: Option<usize>,
    /// Read sizes, cycled: client→server and server→client.
    c2s: Vec<usize>,
    s2c: Vec<usize>,
    /// Content piece sizes, cycled.
    pieces: Vec<usize>,
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        prop::collection::vec(job(), 1..4),
        prop::collection::vec(decision(), SENDERS.len()),
        prop::collection::vec(decision(), RECIPIENTS.len()),
        prop::collection::vec(decision(), 1..4),
        any::<bool>(),
        any::<bool>(),
        prop_oneof![Just(None), (1usize..600).prop_map(Some)],
        prop::collection::vec(1usize..200, 1..6),
        prop::collection::vec(1usize..200, 1..6),
        prop::collection::vec(1usize..700, 1..6),
    )
        .prop_map(
            |(jobs, mail, rcpt, message, pipelining, smtputf8, chunk, c2s, s2c, pieces)| Scenario {
                jobs,
                mail,
                rcpt,
                message,
                pipelining,
                smtputf8,
                chunk,
                c2s,
                s2c,
                pieces,
            },
        )
}

fn mailbox(text: &str) -> Mailbox {
    text.parse().expect("test address")
}

/// Feeds `bytes` in reads of the cycled sizes.
fn split<'a>(bytes: &'a [u8], sizes: &'a [usize], turn: &mut usize) -> Vec<&'a [u8]> {
    let mut reads = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let n = sizes[*turn % sizes.len()].min(rest.len());
        *turn += 1;
        reads.push(&rest[..n]);
        rest = &rest[n..];
    }
    reads
}

/// A message the server stored: sender, accepted recipients, content.
#[derive(Debug, PartialEq, Eq)]
struct Stored {
    from: String,
    to: Vec<String>,
    content: Vec<u8>,
}

/// The content the server must see for `body` sent as `body_type`.
fn expected_content(body: &[u8], body_type: BodyType, bdat: bool) -> Vec<u8> {
    let framing = match (bdat, body_type) {
        (true, BodyType::Binary) => Framing::Binary,
        _ => Framing::Bdat,
    };
    let mut encoder = BodyEncoder::new(framing);
    let mut out = Vec::new();
    encoder.encode(body, &mut out);
    encoder.finish(&mut out);
    out
}

/// Runs the scenario; returns the client's reports, the server's stored messages, and
/// the close reason.
fn run(s: &Scenario) -> (Vec<TransactionReport>, Vec<Stored>, Option<CloseReason>) {
    let now = smtp_proto_tests::now();
    let mut config = ServerConfig::new("mx.example");
    config.extensions.pipelining = s.pipelining;
    config.extensions.smtputf8 = s.smtputf8;
    let mut server = Server::new(Arc::new(config), now);
    let mut client_config = ClientConfig::new("client.example").expect("name");
    client_config.chunking = s.chunk.map_or(Chunking::Never, Chunking::WhenOffered);
    let mut client = Client::new(Arc::new(client_config), now).expect("config");
    let mut bodies = Vec::new();
    for job in &s.jobs {
        let facts = BodyFacts::scan(&job.body);
        let mut envelope = Envelope::new(mailbox(SENDERS[job.from]))
            .body_type(BodyType::of(&facts))
            .size(facts.size);
        for &r in &job.to {
            envelope = envelope.to(mailbox(RECIPIENTS[r]));
        }
        client.send(now, envelope).expect("queued");
        bodies.push(job.body.clone());
    }
    client.quit(now);

    let (mut c2s_turn, mut s2c_turn, mut piece_turn) = (0, 0, 0);
    let mut reports = Vec::new();
    let mut stored = Vec::new();
    let mut closed = None;
    // The server's view of the transaction in progress.
    let mut from = String::new();
    let mut to = Vec::new();
    let mut content = Vec::new();
    let mut messages = 0usize;
    // The client's content in progress: (job index, offset).
    let mut sending: Option<(usize, usize)> = None;
    let mut wire = Vec::new();
    for _round in 0..100_000 {
        let mut progress = false;
        // Client events.
        while let Some(event) = client.poll_event() {
            progress = true;
            match event {
                ClientEvent::BodyWanted(id) => {
                    let job = usize::try_from(id.number()).expect("small");
                    let (index, offset) = sending.unwrap_or((job, 0));
                    assert_eq!(index, job, "content asked for another transaction");
                    let body = &bodies[job];
                    if offset >= body.len() {
                        client.end_body(now).expect("end");
                        sending = None;
                    } else {
                        let n = s.pieces[piece_turn % s.pieces.len()].min(body.len() - offset);
                        piece_turn += 1;
                        client
                            .send_body(now, &body[offset..offset + n])
                            .expect("piece");
                        sending = Some((job, offset + n));
                    }
                }
                ClientEvent::TransactionDone(report) => reports.push(report),
                ClientEvent::Closed(reason) => closed = Some(reason),
                _ => {}
            }
        }
        wire.clear();
        client.poll_transmit(&mut wire);
        for read in split(&wire, &s.c2s, &mut c2s_turn) {
            progress = true;
            server.handle_input(now, read).expect("server input");
            // The server's events after each read.
            while let Some(event) = server.poll_event() {
                match event {
                    Event::Hello { pending, .. } | Event::DataStart { pending, .. } => {
                        server.accept(now, pending).expect("accept");
                    }
                    Event::Mail {
                        pending, from: f, ..
                    } => {
                        from = f.to_string();
                        to.clear();
                        content.clear();
                        let index = SENDERS
                            .iter()
                            .position(|x| format!("<{x}>") == from)
                            .expect("sender");
                        match s.mail[index].reply() {
                            None => server.accept(now, pending).expect("accept"),
                            Some(reply) => server.respond(now, pending, reply).expect("respond"),
                        }
                    }
                    Event::Rcpt { pending, to: t, .. } => {
                        let name = t.to_string();
                        let index = RECIPIENTS
                            .iter()
                            .position(|x| format!("<{x}>") == name)
                            .expect("rcpt");
                        match s.rcpt[index].reply() {
                            None => {
                                to.push(name);
                                server.accept(now, pending).expect("accept");
                            }
                            Some(reply) => server.respond(now, pending, reply).expect("respond"),
                        }
                    }
                    Event::DataChunk(bytes) => content.extend_from_slice(&bytes),
                    Event::MessageComplete { pending, .. } => {
                        let decision = s.message[messages % s.message.len()];
                        messages += 1;
                        match decision.reply() {
                            None => {
                                stored.push(Stored {
                                    from: from.clone(),
                                    to: to.clone(),
                                    content: std::mem::take(&mut content),
                                });
                                server.accept(now, pending).expect("accept");
                            }
                            Some(reply) => server.respond(now, pending, reply).expect("respond"),
                        }
                    }
                    Event::MessageAborted { .. } | Event::TransactionReset => content.clear(),
                    _ => {}
                }
            }
        }
        wire.clear();
        let _ = server.poll_transmit(&mut wire);
        for read in split(&wire, &s.s2c, &mut s2c_turn) {
            progress = true;
            client.handle_input(now, read);
        }
        if server.is_closed() && !client.is_closed() {
            client.handle_eof(now);
            progress = true;
        }
        if !progress && client.is_closed() {
            break;
        }
        assert!(progress || client.is_closed(), "the two machines stalled");
    }
    (reports, stored, closed)
}

/// Checks every client report against the decisions and the server's store.
fn check(s: &Scenario) {
    let (reports, stored, closed) = run(s);
    assert_eq!(
        closed,
        Some(CloseReason::Quit),
        "the session ends with QUIT"
    );
    assert_eq!(reports.len(), s.jobs.len(), "one report per job");
    let mut stored = stored.into_iter();
    let mut messages = 0usize;
    for (job, report) in s.jobs.iter().zip(&reports) {
        let facts = BodyFacts::scan(&job.body);
        let body_type = BodyType::of(&facts);
        let utf8 =
            !SENDERS[job.from].is_ascii() || job.to.iter().any(|&r| !RECIPIENTS[r].is_ascii());
        if utf8 && !s.smtputf8 {
            // I18N-01: refused locally, nothing reached the server.
            for r in &report.recipients {
                assert_eq!(r.outcome.verdict, Verdict::Rejected);
                assert!(r.outcome.local);
            }
            continue;
        }
        let mail = s.mail[job.from];
        let accepted: Vec<usize> = job
            .to
            .iter()
            .copied()
            .filter(|&r| s.rcpt[r] == Decision::Accept)
            .collect();
        let message = if mail == Decision::Accept && !accepted.is_empty() {
            let d = s.message[messages % s.message.len()];
            messages += 1;
            Some(d)
        } else {
            None
        };
        for (r, result) in job.to.iter().zip(&report.recipients) {
            let expected = match (mail, s.rcpt[*r], message) {
                (Decision::Refuse(code), _, _) => Some((code, Stage::Mail)),
                (_, Decision::Refuse(code), _) => Some((code, Stage::Rcpt)),
                (_, _, Some(Decision::Refuse(code))) => Some((code, Stage::EndOfData)),
                _ => None,
            };
            match expected {
                Some((code, stage)) => {
                    assert_eq!(result.outcome.reply.code(), code, "{result:?}");
                    assert_eq!(result.outcome.stage, stage, "{result:?}");
                    assert_ne!(result.outcome.verdict, Verdict::Delivered);
                }
                None => assert_eq!(result.outcome.verdict, Verdict::Delivered, "{result:?}"),
            }
        }
        if message == Some(Decision::Accept) {
            let bdat = s.chunk.is_some() || body_type == BodyType::Binary;
            let got = stored.next().expect("the server stored the message");
            assert_eq!(got.from, format!("<{}>", SENDERS[job.from]));
            let want: Vec<String> = accepted
                .iter()
                .map(|&r| format!("<{}>", RECIPIENTS[r]))
                .collect();
            assert_eq!(got.to, want);
            let content = expected_content(&job.body, body_type, bdat);
            assert!(
                got.content == content,
                "content differs: {:?} vs {:?}",
                got.content.escape_ascii().to_string(),
                content.escape_ascii().to_string()
            );
        }
    }
    assert!(
        stored.next().is_none(),
        "the server stored a message nobody sent"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// BODY-11, PIPE-04, REP-07, INJ-08: client and server agree exactly.
    #[test]
    fn client_and_server_agree(s in scenario()) {
        check(&s);
    }
}

/// A 10 MiB body through the pair in 64 KiB pieces: the client never holds more than one
/// piece of content (flat memory), whatever the body's size.
#[test]
fn large_body_flat_memory() {
    let body: Vec<u8> = b"0123456789abcdef.\n"
        .iter()
        .copied()
        .cycle()
        .take(10 << 20)
        .collect();
    let scenario = Scenario {
        jobs: vec![Job {
            from: 0,
            to: vec![0],
            body,
        }],
        mail: vec![Decision::Accept; 3],
        rcpt: vec![Decision::Accept; 5],
        message: vec![Decision::Accept],
        pipelining: true,
        smtputf8: true,
        chunk: None,
        c2s: vec![65536],
        s2c: vec![4096],
        pieces: vec![65536],
    };
    check(&scenario);
}
