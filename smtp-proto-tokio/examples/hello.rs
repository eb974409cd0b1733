//! The smallest whole program: a server that accepts every message and prints its size,
//! and a client that sends it one message. `cargo run -p smtp-proto-tokio --example hello`
//! (`cargo test --examples` runs it as a test).

use std::sync::Arc;

use smtp_proto_tokio::smtp_proto::MessageInfo;
use smtp_proto_tokio::{ClientConfig, Decision, Endpoint, Envelope, Handler, Listener};
use smtp_proto_tokio::{Mailbox, ServerConfig, SmtpClient, TlsMode};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// The server's side: every method not written here accepts.
struct Print;

impl Handler for Print {
    async fn message_complete(&mut self, info: &MessageInfo) -> Decision {
        println!("server: a message of {} octets", info.size);
        Ok(()) // 250: say so only once the message is stored
    }
}

/// Serves on a free port, sends one message to it, stops; true when it was delivered.
async fn run() -> Result<bool, Error> {
    let config = ServerConfig::try_new("mx.localhost")?;
    let endpoint = Endpoint::new(Arc::new(config), TlsMode::Off);
    let listener = Listener::new(|_| Print)
        .bind("127.0.0.1:0".parse()?, endpoint)?
        .on_current_runtime();
    let addr = *listener.local_addrs().first().ok_or("no address")?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = listener.run(async { drop(stopped.await) });
    let client = async move {
        let config = Arc::new(ClientConfig::new("client.localhost")?);
        let mut client = SmtpClient::connect(addr, config, None).await?;
        let to: Mailbox = "b@y.example".parse()?;
        let envelope = Envelope::new("a@x.example".parse::<Mailbox>()?).to(to);
        let report = client.send(envelope, b"Subject: hi\r\n\r\nHi.\r\n").await?;
        client.quit().await?;
        println!("client: delivered: {}", report.all_delivered());
        let _ = stop.send(());
        Ok::<_, Error>(report.all_delivered())
    };
    let (served, delivered) = tokio::join!(server, client);
    served?;
    delivered
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    run().await.map(|_| ())
}

#[cfg(test)]
#[tokio::test]
async fn delivers_one_message() {
    assert!(matches!(run().await, Ok(true)));
}
