//! The replies to a pipelined batch leave in one write (RFC 2920 §3.2), counted on an
//! in-memory transport that records every write the adapter makes.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use smtp_proto::tls::{Endpoint, TlsMode};
use smtp_proto::{ConnectionInfo, ServerConfig};
use smtp_proto_tokio::{Handler, serve};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf};

/// A transport that remembers each write as one entry.
struct RecordingWrites {
    inner: DuplexStream,
    writes: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl AsyncRead for RecordingWrites {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for RecordingWrites {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &poll {
            self.writes
                .lock()
                .expect("not poisoned")
                .push(buf[..*n].to_vec());
        }
        poll
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

struct AcceptAll;
impl Handler for AcceptAll {}

#[tokio::test]
async fn pipelined_replies_leave_in_one_write() {
    let (client, server_side) = tokio::io::duplex(1 << 20);
    let writes = Arc::new(Mutex::new(Vec::new()));
    let transport = RecordingWrites {
        inner: server_side,
        writes: writes.clone(),
    };
    let endpoint = Endpoint::new(Arc::new(ServerConfig::new("mx.example")), TlsMode::Off);
    let info = ConnectionInfo::new(
        "127.0.0.1:1".parse().expect("address"),
        "127.0.0.1:25".parse().expect("address"),
    );
    let served = tokio::spawn(async move { serve(transport, AcceptAll, &endpoint, info).await });
    let mut client = client;
    // A client must wait for the greeting (one that does not is refused, SMG-P5).
    wait_for_writes(&writes, 1).await;
    client
        .write_all(b"EHLO c.example\r\n")
        .await
        .expect("write");
    // Wait for the EHLO reply before the batch (EHLO must end a batch, RFC 2920 §3.1).
    wait_for_writes(&writes, 2).await;
    client
        .write_all(b"MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nRCPT TO:<c@y>\r\nDATA\r\n")
        .await
        .expect("write");
    wait_for_writes(&writes, 3).await;
    client
        .write_all(b"x\r\n.\r\nQUIT\r\n")
        .await
        .expect("write");
    let reason = served.await.expect("joined").expect("no I/O error");
    assert_eq!(reason, smtp_proto::CloseReason::Quit);
    let writes = writes.lock().expect("not poisoned").clone();
    let text: Vec<String> = writes
        .iter()
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect();
    assert_eq!(
        text.len(),
        4,
        "greeting, EHLO, the batch, the end: {text:?}"
    );
    assert_eq!(
        text[2],
        "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
    );
    assert_eq!(text[3], "250 2.0.0 Ok: queued\r\n221 2.0.0 Bye\r\n");
}

async fn wait_for_writes(writes: &Arc<Mutex<Vec<Vec<u8>>>>, n: usize) {
    for _ in 0..1000 {
        if writes.lock().expect("not poisoned").len() >= n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    panic!("expected {n} writes");
}
