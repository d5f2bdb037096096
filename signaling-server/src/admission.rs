//! Who may hold a connection: a cap per client address and one for the whole server,
//! checked as each TCP connection is accepted, before it costs more than its socket.
//!
//! Without caps, connections that never send a byte pile up until the process runs out
//! of file descriptors, and then nobody gets in, not even `/healthz`. So:
//!
//! * One address (an IPv4 address, or an IPv6 /64, which one host usually owns whole)
//!   holds at most `max_connections_per_address` connections; more are closed as soon as
//!   they are accepted. Trusted reverse proxies are exempt: every client behind them
//!   shares their address.
//! * The server holds at most `max_connections`. Past it, [`OVERFLOW`] more are still
//!   served, but only plain HTTP: `/healthz` and `/metrics` answer and `/ws` gets `503`,
//!   so a full server says so instead of failing silently. Beyond that, connections are
//!   closed as soon as they are accepted.
//!
//! A connection's place is a [`Ticket`], given back when it is dropped. Together with
//! the deadlines of `server` and `connection` (an HTTP request head and then a `join`,
//! each within `handshake_timeout`), nothing holds a place for free for long.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};

use axum::serve::Listener;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};

use crate::client_address::{is_trusted, TrustedProxy};
use crate::metrics::Metrics;

/// Connections served past `max_connections`, for `/healthz`, `/metrics` and `503`s.
pub const OVERFLOW: usize = 128;

/// File descriptors kept out of `max_connections` by default: [`OVERFLOW`], the
/// listening sockets, the STUN socket, logs and the web app's files. A quarter of the
/// limit at most, where the limit is small.
const RESERVED_FILES: usize = 512;

/// The caps, and how many connections hold places now.
#[derive(Debug)]
pub struct Admission {
    max_connections: usize,
    max_per_address: usize,
    trusted_proxies: Vec<TrustedProxy>,
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    per_address: HashMap<AddressKey, usize>,
}

/// What counts as one client address: an IPv4 address or an IPv6 /64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressKey {
    V4([u8; 4]),
    V6Prefix([u8; 8]),
}

impl AddressKey {
    pub fn of(address: IpAddr) -> Self {
        match address.to_canonical() {
            IpAddr::V4(address) => Self::V4(address.octets()),
            IpAddr::V6(address) => {
                let mut prefix = [0; 8];
                prefix.copy_from_slice(&address.octets()[..8]);
                Self::V6Prefix(prefix)
            }
        }
    }
}

/// Why a connection was closed as soon as it was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("this address already holds its share of connections")]
    AddressFull,
    #[error("the server holds all the connections it can")]
    ServerFull,
}

impl Refusal {
    /// The label of `meshdrop_connections_refused_total`.
    pub fn label(self) -> &'static str {
        match self {
            Self::AddressFull => "address_full",
            Self::ServerFull => "server_full",
        }
    }
}

/// A connection's place; dropping it gives the place back.
#[derive(Debug)]
pub struct Ticket {
    admission: Arc<Admission>,
    /// `None` for a trusted proxy's connections, which no address cap counts.
    address: Option<AddressKey>,
    overflow: bool,
}

impl Ticket {
    /// Admitted past `max_connections`: serve `/healthz` and `/metrics`, not `/ws`.
    pub fn is_overflow(&self) -> bool {
        self.overflow
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut open = self.admission.open();
        open.total -= 1;
        if let Some(address) = self.address {
            if let Some(count) = open.per_address.get_mut(&address) {
                *count -= 1;
                if *count == 0 {
                    open.per_address.remove(&address);
                }
            }
        }
    }
}

impl Admission {
    pub fn new(
        max_connections: usize,
        max_per_address: usize,
        trusted_proxies: Vec<TrustedProxy>,
    ) -> Self {
        Self {
            max_connections,
            max_per_address,
            trusted_proxies,
            open: Mutex::default(),
        }
    }

    /// A place for a connection from `peer` (its TCP peer address), or why not.
    pub fn admit(self: &Arc<Self>, peer: IpAddr) -> Result<Ticket, Refusal> {
        let mut open = self.open();
        if open.total >= self.max_connections + OVERFLOW {
            return Err(Refusal::ServerFull);
        }
        let peer = peer.to_canonical();
        let address = if is_trusted(&self.trusted_proxies, peer) {
            None
        } else {
            let key = AddressKey::of(peer);
            let count = open.per_address.entry(key).or_default();
            if *count >= self.max_per_address {
                return Err(Refusal::AddressFull);
            }
            *count += 1;
            Some(key)
        };
        let overflow = open.total >= self.max_connections;
        open.total += 1;
        Ok(Ticket {
            admission: Arc::clone(self),
            address,
            overflow,
        })
    }

    /// Connections holding a place now, overflow included.
    pub fn open_connections(&self) -> usize {
        self.open().total
    }

    fn open(&self) -> std::sync::MutexGuard<'_, Open> {
        // Every change under the lock is a single step, so a poisoned lock is still
        // consistent.
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The default `max_connections`: this process's limit on open files, less
/// [`RESERVED_FILES`], so the server says it is full before it runs out.
pub fn default_max_connections() -> usize {
    let files = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .map_or(1024, |(soft, _hard)| soft);
    max_connections_for(usize::try_from(files).unwrap_or(usize::MAX))
}

fn max_connections_for(open_files: usize) -> usize {
    let reserved = RESERVED_FILES.min(open_files / 4);
    open_files.saturating_sub(reserved).max(1)
}

/// Raise this process's soft limit on open files to its hard limit, so
/// [`default_max_connections`] is as high as the system allows.
pub fn raise_open_files_limit() -> std::io::Result<()> {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard)?;
    }
    Ok(())
}

/// A connection that holds a place: its TCP peer and its ticket.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub peer: SocketAddr,
    pub ticket: Arc<Ticket>,
}

/// A source of connections: plain TCP, admitted TCP ([`Admitting`]), or TLS once the
/// handshake is done over either (`tls::TlsListener`). Like axum's `Listener`, without
/// the local address, which an [`Accepted`] is not.
pub trait Accept: Send + 'static {
    type Io: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// Who connected.
    type Addr: fmt::Debug + Send + 'static;

    /// The next connection; errors (and refusals) are dealt with inside.
    fn accept(&mut self) -> impl Future<Output = (Self::Io, Self::Addr)> + Send;
}

impl Accept for TcpListener {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        // axum's `accept` logs errors and pauses after those that would repeat.
        Listener::accept(self).await
    }
}

/// A TCP listener that closes what [`Admission`] refuses as soon as it is accepted.
pub struct Admitting {
    tcp: TcpListener,
    admission: Arc<Admission>,
    metrics: Arc<Metrics>,
}

impl Admitting {
    pub fn new(tcp: TcpListener, admission: Arc<Admission>, metrics: Arc<Metrics>) -> Self {
        Self {
            tcp,
            admission,
            metrics,
        }
    }
}

impl Accept for Admitting {
    type Io = TcpStream;
    type Addr = Accepted;

    async fn accept(&mut self) -> (TcpStream, Accepted) {
        loop {
            let (stream, peer) = Accept::accept(&mut self.tcp).await;
            match self.admission.admit(peer.ip()) {
                Ok(ticket) => {
                    // Signals are small and should not wait for the next ACK.
                    let _ = stream.set_nodelay(true);
                    let ticket = Arc::new(ticket);
                    return (stream, Accepted { peer, ticket });
                }
                Err(refusal) => {
                    tracing::debug!(%peer, %refusal, "connection refused");
                    self.metrics.connection_refused(refusal);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admission(max_connections: usize, max_per_address: usize) -> Arc<Admission> {
        let proxy = "10.9.0.0/16".parse().unwrap();
        Arc::new(Admission::new(
            max_connections,
            max_per_address,
            vec![proxy],
        ))
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_default_cap_leaves_files_for_everything_else() {
        assert_eq!(max_connections_for(20_000), 19_488);
        assert_eq!(max_connections_for(1024), 768);
        assert_eq!(max_connections_for(256), 192);
        assert_eq!(max_connections_for(0), 1);
    }

    #[test]
    fn an_address_past_its_cap_is_refused_and_others_are_not() {
        let admission = admission(100, 2);
        let held: Vec<_> = (0..2)
            .map(|_| admission.admit(ip("203.0.113.1")).unwrap())
            .collect();
        assert_eq!(
            admission.admit(ip("203.0.113.1")).unwrap_err(),
            Refusal::AddressFull
        );
        assert!(admission.admit(ip("203.0.113.2")).is_ok());
        drop(held);
        assert!(admission.admit(ip("203.0.113.1")).is_ok());
    }

    #[test]
    fn an_ipv6_subnet_counts_as_one_address() {
        let admission = admission(100, 1);
        let _held = admission.admit(ip("2001:db8:1:2::1")).unwrap();
        assert_eq!(
            admission.admit(ip("2001:db8:1:2::ffff")).unwrap_err(),
            Refusal::AddressFull
        );
        assert!(admission.admit(ip("2001:db8:1:3::1")).is_ok());
    }

    #[test]
    fn a_trusted_proxy_has_no_address_cap() {
        let admission = admission(100, 1);
        let held: Vec<_> = (0..10)
            .map(|_| admission.admit(ip("10.9.0.1")).unwrap())
            .collect();
        assert_eq!(held.len(), 10);
    }

    #[test]
    fn past_the_cap_come_overflow_places_then_refusals() {
        let admission = admission(3, usize::MAX);
        let mut held = Vec::new();
        for n in 0..3 + OVERFLOW {
            let ticket = admission.admit(ip("198.51.100.1")).unwrap();
            assert_eq!(ticket.is_overflow(), n >= 3, "connection {n}");
            held.push(ticket);
        }
        assert_eq!(
            admission.admit(ip("198.51.100.2")).unwrap_err(),
            Refusal::ServerFull
        );
        held.truncate(2);
        assert_eq!(admission.open_connections(), 2);
        assert!(!admission.admit(ip("198.51.100.2")).unwrap().is_overflow());
    }
}
