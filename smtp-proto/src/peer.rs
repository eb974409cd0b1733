//! Facts about a connection that the application may want before the first byte.

use std::net::SocketAddr;

/// Where a connection comes from and which listener took it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionInfo {
    /// The client's address.
    pub peer: SocketAddr,
    /// The local address that accepted the connection.
    pub local: SocketAddr,
}

impl ConnectionInfo {
    /// Facts of one accepted connection.
    pub fn new(peer: SocketAddr, local: SocketAddr) -> Self {
        Self { peer, local }
    }
}
