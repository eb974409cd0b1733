//! A loopback TCP forwarder that counts the connections it carries: it proves how many
//! sessions a client library opened, whatever it does inside them (TLS included). It can
//! also act as a load balancer that sends a PROXY v2 header naming the real client before
//! the client's bytes ([`CountingProxy::sending_proxy_header`]).

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;

/// Forwards every connection made to [`CountingProxy::addr`] to a target address, byte
/// for byte in both directions. Stops accepting when dropped.
pub struct CountingProxy {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl CountingProxy {
    /// Listens on an ephemeral port of 127.0.0.1 and forwards to `target`.
    ///
    /// # Panics
    /// If it cannot listen.
    pub fn start(target: SocketAddr) -> Self {
        Self::start_with(target, false)
    }

    /// Like [`start`](Self::start), but each connection to `target` starts with a PROXY
    /// v2 header for the client's address and ours (what HAProxy's `send-proxy-v2` does);
    /// both sockets have Nagle off, so reads are forwarded as they came.
    ///
    /// # Panics
    /// If it cannot listen.
    pub fn sending_proxy_header(target: SocketAddr) -> Self {
        Self::start_with(target, true)
    }

    fn start_with(target: SocketAddr, header: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("local_addr: {e}"));
        let connections = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, stopped) = (connections.clone(), stop.clone());
        thread::spawn(move || {
            for client in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                count.fetch_add(1, Ordering::SeqCst);
                let Ok(mut server) = TcpStream::connect(target) else {
                    continue;
                };
                if header {
                    let (Ok(peer), Ok(local)) = (client.peer_addr(), client.local_addr()) else {
                        continue;
                    };
                    let _ = (client.set_nodelay(true), server.set_nodelay(true));
                    if server
                        .write_all(&crate::proxied::v2_for(peer, local))
                        .is_err()
                    {
                        continue;
                    }
                }
                let _ = pipe_both(client, server);
            }
        });
        Self {
            addr,
            connections,
            stop,
        }
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many connections were accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

/// Copies both directions on two threads; each half-closes its destination at the end.
fn pipe_both(client: TcpStream, server: TcpStream) -> io::Result<()> {
    let (client2, server2) = (client.try_clone()?, server.try_clone()?);
    thread::spawn(move || copy(client, server2));
    thread::spawn(move || copy(server, client2));
    Ok(())
}

fn copy(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}
