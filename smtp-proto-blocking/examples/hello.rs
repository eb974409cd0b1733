//! The smallest whole program, with threads and blocking sockets: a server that accepts
//! every message and prints its size, and a client that sends it one message.
//! `cargo run -p smtp-proto-blocking --example hello` (`cargo test --examples` runs it).

use std::net::TcpListener;
use std::sync::Arc;

use smtp_proto_blocking::smtp_proto::MessageInfo;
use smtp_proto_blocking::{ClientConfig, Decision, Endpoint, Envelope, Handler, Listener};
use smtp_proto_blocking::{Mailbox, ServerConfig, SmtpClient, TlsMode};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// The server's side: every method not written here accepts.
struct Print;

impl Handler for Print {
    fn message_complete(&mut self, info: &MessageInfo) -> Decision {
        println!("server: a message of {} octets", info.size);
        Ok(()) // 250: say so only once the message is stored
    }
}

/// Serves on a free port, sends one message to it, stops; true when it was delivered.
fn run() -> Result<bool, Error> {
    let socket = TcpListener::bind("127.0.0.1:0")?;
    let addr = socket.local_addr()?;
    let endpoint = Endpoint::new(
        Arc::new(ServerConfig::try_new("mx.localhost")?),
        TlsMode::Off,
    );
    let listener = Listener::new(|_| Print).listen(socket, endpoint);
    let stop = listener.shutdown_handle();
    let server = std::thread::spawn(move || listener.run());

    let mut client =
        SmtpClient::connect(addr, Arc::new(ClientConfig::new("client.localhost")?), None)?;
    let to: Mailbox = "b@y.example".parse()?;
    let envelope = Envelope::new("a@x.example".parse::<Mailbox>()?).to(to);
    let report = client.send(envelope, b"Subject: hi\r\n\r\nHello.\r\n")?;
    client.quit()?;
    println!("client: delivered: {}", report.all_delivered());

    stop.shutdown();
    server.join().map_err(|_| "the server thread panicked")??;
    Ok(report.all_delivered())
}

fn main() -> Result<(), Error> {
    run().map(|_| ())
}

#[cfg(test)]
#[test]
fn delivers_one_message() {
    assert!(matches!(run(), Ok(true)));
}
