//! The built-in TURN relay on real sockets, so two peers that cannot reach each other
//! directly (both behind symmetric NATs, say) connect through this one binary, without
//! a coturn to run next to it.
//!
//! The relay's logic is `meshdrop_relay::Server`, which does no I/O; this module is its
//! driver. One task owns it and the listening sockets: it feeds it what clients send
//! (over UDP, or over TCP or TLS connections whose readers cut the stream into
//! messages), what peers send to the relay sockets (each read by a task of its own that
//! passes the datagrams on), and the time when a lifetime is due, and carries out what
//! it asks:
//! sending, and opening and closing a relay socket per allocation, on the relay address
//! at a port of [`RelayConfig::ports`]. Relaying to peers is over UDP either way.
//!
//! Clients get credentials for it in `welcome` (see `ice`), made with
//! [`RelayConfig::secret`] like those of a coturn that shares the secret.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use meshdrop_relay::{
    frame_length, AllocationId, ClientAddr, Config, Limits, Output, Server, Socket, Stats,
    Transmit, Transport, MAX_LIFETIME,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::admission::Accept;
use crate::tls::{Tls, TlsListener};
use crate::turn::{TurnSecret, DEFAULT_TTL};

/// Relay ports unless configured otherwise: the dynamic range of RFC 6335, which the
/// operating system does not hand out to outgoing connections on Linux by default
/// (those come from 32768–60999 there, so some overlap is possible: narrow it to keep
/// clear of them).
pub const DEFAULT_RELAY_PORTS: RangeInclusive<u16> = 49152..=65535;

/// The realm of the relay's long-term credentials.
const REALM: &str = "meshdrop";

/// The largest UDP datagram.
const MAX_DATAGRAM: usize = 65_536;

/// Datagrams from peers (or messages from TCP clients) waiting for the relay task;
/// beyond this, their readers wait and the kernel's buffers fill (and then drop).
const PEER_QUEUE: usize = 1024;

/// Messages waiting to be written to one TCP client; beyond this, they are dropped, as
/// a datagram would be, rather than holding up the relay for one slow connection.
const TCP_QUEUE: usize = 256;

/// A TCP connection that sends nothing for this long is closed: a client that holds an
/// allocation refreshes it within its lifetime, which is at most this.
const TCP_IDLE: Duration = Duration::from_secs(MAX_LIFETIME.as_secs() + 60);

/// TCP clients at once; more wait in the listen backlog. Each costs two small tasks
/// and buffers, and a client needs none before it has credentials.
const MAX_TCP_CONNECTIONS: usize = 4096;

/// After a failed accept (out of file descriptors, say), the wait before the next, so
/// the relay task does not spin on it.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// How the built-in relay runs.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// The address relay sockets are bound on and that peers send to: it must be
    /// reachable from the peers (a public address, or the test network's).
    pub relay_ip: IpAddr,
    /// The ports relay sockets are bound on, one per allocation.
    pub ports: RangeInclusive<u16>,
    pub limits: Limits,
    /// Checks the credentials; clients get theirs made with it.
    pub secret: TurnSecret,
    /// How long each client's credentials stay valid.
    pub ttl: Duration,
}

impl RelayConfig {
    /// Relaying on `relay_ip` with the default ports, limits and credential lifetime,
    /// and a random secret (which only this process knows, so only the clients of this
    /// server get credentials that work).
    pub fn new(relay_ip: IpAddr) -> Self {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).expect("the operating system provides random bytes");
        let secret: String = secret.iter().map(|byte| format!("{byte:02x}")).collect();
        Self {
            relay_ip,
            ports: DEFAULT_RELAY_PORTS,
            limits: Limits::DEFAULT,
            secret: TurnSecret::new(secret),
            ttl: DEFAULT_TTL,
        }
    }
}

/// The built-in relay: the sockets clients talk TURN to, and how it relays.
#[derive(Debug)]
pub struct Relay {
    pub socket: UdpSocket,
    /// TURN over TCP (RFC 5766, 2.1), for clients whose network lets no UDP out;
    /// usually on the same port as [`Relay::socket`].
    pub tcp: Option<TcpListener>,
    /// TURN over TLS (`turns:`), for networks that let little but HTTPS out.
    pub tls: Option<RelayTls>,
    pub config: RelayConfig,
}

/// Where and with which certificate the relay takes TURN over TLS.
#[derive(Debug)]
pub struct RelayTls {
    pub listener: TcpListener,
    /// The certificate of the host name clients are told (the public URL's, usually
    /// the server's own [`crate::Config::tls`]).
    pub tls: Tls,
}

/// What the readers pass to the relay task.
enum Received {
    /// A datagram a peer sent to an allocation's relay socket.
    FromPeer {
        allocation: AllocationId,
        from: SocketAddr,
        payload: Vec<u8>,
    },
    /// A message a TCP (or TLS) client sent.
    FromTcp { from: ClientAddr, message: Vec<u8> },
    /// A TCP (or TLS) client's connection ended.
    TcpClosed(ClientAddr),
}

/// The relay's task: the core, its sockets, and the readers of the relay sockets.
pub struct Driver {
    core: Server,
    listen: UdpSocket,
    tcp: Option<TcpListener>,
    tls: Option<TlsListener<TcpListener>>,
    relay_ip: IpAddr,
    ports: RangeInclusive<u16>,
    relays: HashMap<AllocationId, RelaySocket>,
    /// The writers of the TCP and TLS clients' connections.
    connections: HashMap<ClientAddr, TcpWriter>,
    /// No accepting before this, after a failed accept.
    accept_after: Option<tokio::time::Instant>,
    to_driver: mpsc::Sender<Received>,
    received: mpsc::Receiver<Received>,
    readers: TaskTracker,
}

struct TcpWriter {
    messages: mpsc::Sender<Vec<u8>>,
    stop: CancellationToken,
}

struct RelaySocket {
    socket: Arc<UdpSocket>,
    stop: CancellationToken,
}

/// What woke the relay task.
enum Wake {
    Stop,
    Client(io::Result<(usize, SocketAddr)>),
    Accepted(io::Result<(TcpStream, SocketAddr)>),
    /// A TLS connection whose handshake is done (boxed: a TLS session is large).
    AcceptedTls(Box<TlsStream<TcpStream>>, SocketAddr),
    Received(Received),
    Timeout,
}

impl Driver {
    pub fn new(relay: Relay) -> Self {
        let config = Config {
            secret: relay.config.secret,
            realm: REALM.into(),
            relay_ip: relay.config.relay_ip,
            limits: relay.config.limits,
        };
        let (to_driver, received) = mpsc::channel(PEER_QUEUE);
        Self {
            core: Server::new(config, Instant::now(), SystemTime::now()),
            listen: relay.socket,
            tcp: relay.tcp,
            tls: relay
                .tls
                .map(|tls| TlsListener::new(tls.listener, &tls.tls.for_turn())),
            relay_ip: relay.config.relay_ip,
            ports: relay.config.ports,
            relays: HashMap::new(),
            connections: HashMap::new(),
            accept_after: None,
            to_driver,
            received,
            readers: TaskTracker::new(),
        }
    }

    /// The relay's counters, for `/metrics`.
    pub fn stats(&self) -> Arc<Stats> {
        self.core.stats()
    }

    /// Relay until `shutdown` is cancelled; then every relay socket is closed.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let mut buffer = vec![0u8; MAX_DATAGRAM];
        loop {
            let wake = self.next_wake(&mut buffer, &shutdown).await;
            let now = Instant::now();
            match wake {
                Wake::Stop => break,
                Wake::Client(Ok((length, from))) => {
                    self.core
                        .handle_client(now, ClientAddr::udp(from), &buffer[..length]);
                }
                Wake::Client(Err(error)) => tracing::debug!(%error, "TURN receive failed"),
                Wake::Accepted(Ok((stream, from))) => {
                    self.accept_after = None;
                    self.connected(stream, ClientAddr::tcp(from));
                }
                Wake::AcceptedTls(stream, from) => self.connected(stream, ClientAddr::tls(from)),
                Wake::Accepted(Err(error)) => {
                    tracing::debug!(%error, "TURN accept failed");
                    self.accept_after = Some(tokio::time::Instant::now() + ACCEPT_BACKOFF);
                }
                Wake::Received(Received::FromPeer {
                    allocation,
                    from,
                    payload,
                }) => self.core.handle_peer(now, allocation, from, &payload),
                Wake::Received(Received::FromTcp { from, message }) => {
                    self.core.handle_client(now, from, &message);
                }
                Wake::Received(Received::TcpClosed(from)) => {
                    if let Some(writer) = self.connections.remove(&from) {
                        writer.stop.cancel();
                    }
                    self.core.client_closed(from);
                }
                Wake::Timeout => self.core.handle_timeout(now),
            }
            self.carry_out().await;
        }
        for relay in self.relays.values() {
            relay.stop.cancel();
        }
        for connection in self.connections.values() {
            connection.stop.cancel();
        }
        self.readers.close();
        self.readers.wait().await;
    }

    async fn next_wake(&mut self, buffer: &mut [u8], shutdown: &CancellationToken) -> Wake {
        let due = self.core.poll_timeout();
        let timeout = async {
            match due {
                Some(due) => tokio::time::sleep_until(due.into()).await,
                None => std::future::pending().await,
            }
        };
        let accepting = self.connections.len() < MAX_TCP_CONNECTIONS;
        let accept_after = self.accept_after;
        let accepted = async {
            match &self.tcp {
                Some(listener) if accepting => {
                    if let Some(after) = accept_after {
                        tokio::time::sleep_until(after).await;
                    }
                    listener.accept().await
                }
                _ => std::future::pending().await,
            }
        };
        let accepting_tls = accepting && self.tls.is_some();
        let accepted_tls = async {
            match &mut self.tls {
                // Handshake failures are the listener's business; it yields only successes.
                Some(listener) if accepting_tls => listener.accept().await,
                _ => std::future::pending().await,
            }
        };
        tokio::select! {
            () = shutdown.cancelled() => Wake::Stop,
            received = self.listen.recv_from(buffer) => Wake::Client(received),
            accepted = accepted => Wake::Accepted(accepted),
            (stream, from) = accepted_tls => Wake::AcceptedTls(Box::new(stream), from),
            // The driver holds a sender itself, so this never ends.
            Some(received) = self.received.recv() => Wake::Received(received),
            () = timeout => Wake::Timeout,
        }
    }

    /// Do what the core asks until it asks nothing more.
    async fn carry_out(&mut self) {
        while let Some(output) = self.core.poll_output() {
            match output {
                Output::Transmit(transmit) => self.send(transmit).await,
                Output::OpenRelay(allocation) => match self.open(allocation) {
                    Ok(relayed) => self.core.relay_opened(Instant::now(), allocation, relayed),
                    Err(error) => {
                        tracing::warn!(%error, ports = ?self.ports, "no relay port could be opened");
                        self.core.relay_failed(Instant::now(), allocation);
                    }
                },
                Output::CloseRelay(allocation) => {
                    if let Some(relay) = self.relays.remove(&allocation) {
                        relay.stop.cancel();
                    }
                }
            }
        }
    }

    async fn send(&self, Transmit { from, to, payload }: Transmit) {
        let socket = match from {
            Socket::Listen(Transport::Udp) => &self.listen,
            Socket::Listen(transport @ (Transport::Tcp | Transport::Tls)) => {
                let client = ClientAddr {
                    transport,
                    address: to,
                };
                if let Some(connection) = self.connections.get(&client) {
                    // Full: dropped, as a datagram would be (see `TCP_QUEUE`).
                    let _ = connection.messages.try_send(payload);
                }
                return;
            }
            Socket::Relay(allocation) => match self.relays.get(&allocation) {
                Some(relay) => &relay.socket,
                None => return,
            },
        };
        if let Err(error) = socket.send_to(&payload, to).await {
            tracing::debug!(%error, %to, "relay datagram not sent");
        }
    }

    /// Bind a relay socket for `allocation` and start reading it; its address.
    fn open(&mut self, allocation: AllocationId) -> io::Result<SocketAddr> {
        let socket = Arc::new(bind_in_range(self.relay_ip, &self.ports)?);
        let relayed = socket.local_addr()?;
        let stop = CancellationToken::new();
        self.readers.spawn(read_peers(
            allocation,
            Arc::clone(&socket),
            self.to_driver.clone(),
            stop.clone(),
        ));
        self.relays.insert(allocation, RelaySocket { socket, stop });
        Ok(relayed)
    }
}

impl Driver {
    /// Start reading and writing a TCP or TLS client's connection.
    fn connected<S>(&mut self, stream: S, client: ClientAddr)
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (reader, writer) = tokio::io::split(stream);
        let (messages, queued) = mpsc::channel(TCP_QUEUE);
        let stop = CancellationToken::new();
        self.readers.spawn(read_tcp(
            client,
            reader,
            self.to_driver.clone(),
            stop.clone(),
        ));
        self.readers.spawn(write_tcp(writer, queued, stop.clone()));
        self.connections
            .insert(client, TcpWriter { messages, stop });
    }
}

/// Pass the messages of a TCP client's stream on to the relay task, until it ends,
/// breaks, idles for [`TCP_IDLE`], stops being STUN or ChannelData, or `stop`; then
/// tell the relay task it is closed.
async fn read_tcp(
    from: ClientAddr,
    mut reader: impl AsyncRead + Unpin,
    to_driver: mpsc::Sender<Received>,
    stop: CancellationToken,
) {
    let ended = tokio::select! {
        () = stop.cancelled() => return,
        ended = read_messages(from, &mut reader, &to_driver) => ended,
    };
    if let Err(error) = ended {
        tracing::debug!(%error, from = %from.address, "TURN over TCP ended");
    }
    let _ = to_driver.send(Received::TcpClosed(from)).await;
}

async fn read_messages(
    from: ClientAddr,
    reader: &mut (impl AsyncRead + Unpin),
    to_driver: &mpsc::Sender<Received>,
) -> io::Result<()> {
    let idle = || io::Error::new(io::ErrorKind::TimedOut, "idle");
    loop {
        let mut header = [0u8; 4];
        tokio::time::timeout(TCP_IDLE, reader.read_exact(&mut header))
            .await
            .map_err(|_| idle())??;
        let length = frame_length(header).ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidData, "neither STUN nor ChannelData")
        })?;
        let mut message = vec![0u8; length];
        message[..4].copy_from_slice(&header);
        tokio::time::timeout(TCP_IDLE, reader.read_exact(&mut message[4..]))
            .await
            .map_err(|_| idle())??;
        if to_driver
            .send(Received::FromTcp { from, message })
            .await
            .is_err()
        {
            return Ok(());
        }
    }
}

/// Write the relay's messages to a TCP client, until `stop`.
async fn write_tcp(
    mut writer: impl AsyncWrite + Unpin,
    mut queued: mpsc::Receiver<Vec<u8>>,
    stop: CancellationToken,
) {
    loop {
        let message = tokio::select! {
            () = stop.cancelled() => return,
            message = queued.recv() => message,
        };
        let Some(message) = message else { return };
        if writer.write_all(&message).await.is_err() {
            // The reader sees the connection end and tells the relay task.
            return;
        }
    }
}

/// A UDP socket on `ip` at a free port of `ports`, trying them in turn from a random one.
fn bind_in_range(ip: IpAddr, ports: &RangeInclusive<u16>) -> io::Result<UdpSocket> {
    let (low, high) = (u32::from(*ports.start()), u32::from(*ports.end()));
    let span = high.saturating_sub(low) + 1;
    let mut start = [0u8; 4];
    getrandom::fill(&mut start).expect("the operating system provides random bytes");
    let start = u32::from_ne_bytes(start) % span;
    let mut last_error = io::Error::new(io::ErrorKind::AddrInUse, "the relay port range is empty");
    for offset in 0..span {
        // Within `ports`, so it fits a u16.
        let port = (low + (start + offset) % span) as u16;
        match std::net::UdpSocket::bind((ip, port)) {
            Ok(socket) => {
                socket.set_nonblocking(true)?;
                return UdpSocket::from_std(socket);
            }
            Err(error) if error.kind() == io::ErrorKind::AddrInUse => last_error = error,
            Err(error) => return Err(error),
        }
    }
    Err(last_error)
}

/// Pass what peers send to `socket` on to the relay task, until `stop`.
async fn read_peers(
    allocation: AllocationId,
    socket: Arc<UdpSocket>,
    to_driver: mpsc::Sender<Received>,
    stop: CancellationToken,
) {
    let mut buffer = vec![0u8; MAX_DATAGRAM];
    loop {
        let received = tokio::select! {
            () = stop.cancelled() => return,
            received = socket.recv_from(&mut buffer) => received,
        };
        let (length, from) = match received {
            Ok(received) => received,
            Err(error) => {
                tracing::debug!(%error, "relay receive failed");
                continue;
            }
        };
        let datagram = Received::FromPeer {
            allocation,
            from,
            payload: buffer[..length].to_vec(),
        };
        if to_driver.send(datagram).await.is_err() {
            return;
        }
    }
}
