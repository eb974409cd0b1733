//! A minimal blocking SMTP sink: accepts every message on 127.0.0.1:2526 (or the address
//! given as the first argument) and prints one line per message, until Ctrl-C.
//!
//! `cargo run -p smtp-proto-blocking --example sink -- 127.0.0.1:2526`

use std::net::TcpListener;
use std::sync::Arc;

use smtp_proto::tls::{Endpoint, TlsMode};
use smtp_proto::{Decision, MessageInfo, ReversePath, ServerConfig};
use smtp_proto_blocking::{Handler, Listener};

/// Prints a line for each message.
#[derive(Default)]
struct Sink {
    from: String,
}

impl Handler for Sink {
    fn mail(&mut self, from: &ReversePath, _params: &smtp_proto::MailParams) -> Decision {
        self.from = from.to_string();
        Ok(())
    }

    fn message_complete(&mut self, info: &MessageInfo) -> Decision {
        println!("message from {}: {} octets", self.from, info.size);
        Ok(())
    }
}

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:2526".to_owned());
    let socket = TcpListener::bind(&addr)?;
    println!("sink listening on {}", socket.local_addr()?);
    let config = Arc::new(ServerConfig::new("sink.localhost"));
    let endpoint = Endpoint::new(config, TlsMode::Off);
    Listener::new(|_| Sink::default())
        .listen(socket, endpoint)
        .run()
}
