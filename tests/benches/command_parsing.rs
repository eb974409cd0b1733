//! Bench 2: command parsing per line, on a mix of EHLO, MAIL with SIZE and
//! BODY, RCPT, NOOP and RSET. Each iteration handles the 5 lines once (criterion reports
//! elements/s; time per line = time / 5).
//!
//! * `ours_session`: the real per-command cost: a long-lived `Server` fed one line at a
//!   time, events drained (decisions accepted), replies drained.
//! * `ours_parse`: like-for-like with the anchors' parsers: `codec::command::classify`,
//!   `path_argument`, `parse_hello_domain`, `parse_reverse_path` / `parse_forward_path`,
//!   `parse_mail_params` / `parse_rcpt_params` on the line without its CR LF.
//! * `stalwart`: `Request::parse` on the line with its CR LF (it finds the LF itself).
//! * `mailrs`: `parse_command` on the line as `&str` without CR LF (its own benches' setup:
//!   UTF-8 checking and framing are not counted).
//!
//! `cargo bench -p smtp-proto-tests --bench command_parsing`
#![forbid(unsafe_code)]

mod common;

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use smtp_proto::codec::address::{parse_forward_path, parse_hello_domain, parse_reverse_path};
use smtp_proto::codec::command::{CommandLine, Verb, classify, path_argument};
use smtp_proto::codec::params::{ParamSupport, parse_mail_params, parse_rcpt_params};
use smtp_proto::{Server, ServerConfig};

use common::transcript::Tally;
use common::{now, ours};

/// The mix, each line with its CR LF; in this order it is also a valid session.
const LINES: [&[u8]; 5] = [
    b"EHLO client.example.org\r\n",
    b"MAIL FROM:<sender.name@example.org> SIZE=4290 BODY=8BITMIME\r\n",
    b"RCPT TO:<recipient.one@example.net>\r\n",
    b"NOOP\r\n",
    b"RSET\r\n",
];

/// Our pure parsers on one line (without CR LF); returns a value so nothing is optimised
/// away. Panics on a parse error (the mix is valid).
fn parse_ours(line: &[u8], support: &ParamSupport) -> usize {
    let CommandLine::Known(verb, args) = classify(line) else {
        panic!("unknown command {line:?}");
    };
    match verb {
        Verb::Ehlo => {
            black_box(parse_hello_domain(args).expect("domain"));
        }
        Verb::Mail => {
            let path = path_argument(args, b"FROM:").expect("FROM:");
            let (from, rest) = parse_reverse_path(path).expect("reverse-path");
            black_box((from, parse_mail_params(rest, support).expect("params")));
        }
        Verb::Rcpt => {
            let path = path_argument(args, b"TO:").expect("TO:");
            let (to, rest) = parse_forward_path(path).expect("forward-path");
            black_box((to, parse_rcpt_params(rest, support).expect("params")));
        }
        Verb::Noop | Verb::Rset => {}
        other => panic!("not in the mix: {other:?}"),
    }
    args.len()
}

fn command_parsing(c: &mut Criterion) {
    let mut group = c.benchmark_group("command_parsing");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .throughput(Throughput::Elements(LINES.len() as u64));

    // The session: one line at a time, as a non-pipelining client sends them. The default
    // configuration (synchronisation check on): the input is empty at every reply.
    let now = now();
    let mut server = Server::new(Arc::new(ServerConfig::new("mx.example")), now);
    let mut out = Vec::with_capacity(4096);
    let _ = server.poll_transmit(&mut out);
    group.bench_function("ours_session", |b| {
        b.iter(|| {
            let mut tally = Tally::default();
            for line in LINES {
                server.handle_input(now, black_box(line)).expect("input");
                out.clear();
                tally.replies += ours::drain(&mut server, now, &mut tally, &mut out);
            }
            assert!(!server.is_closed(), "the mix is a valid session");
            tally.replies
        });
    });

    let support = ParamSupport::all();
    let stripped: Vec<&[u8]> = LINES
        .iter()
        .map(|l| l.strip_suffix(b"\r\n").expect("CR LF"))
        .collect();
    group.bench_function("ours_parse", |b| {
        b.iter(|| {
            stripped
                .iter()
                .map(|line| parse_ours(black_box(line), &support))
                .sum::<usize>()
        });
    });

    group.bench_function("stalwart", |b| {
        b.iter(|| {
            for line in LINES {
                let request = stalwart_smtp_proto::Request::parse(&mut black_box(line).iter())
                    .expect("stalwart parses the mix");
                black_box(request);
            }
        });
    });

    let texts: Vec<&str> = stripped
        .iter()
        .map(|l| std::str::from_utf8(l).expect("ASCII"))
        .collect();
    group.bench_function("mailrs", |b| {
        b.iter(|| {
            for text in &texts {
                let command =
                    mailrs_smtp_proto::parse_command(black_box(text)).expect("mailrs parses");
                black_box(command);
            }
        });
    });
    group.finish();
}

criterion_group!(benches, command_parsing);
criterion_main!(benches);
