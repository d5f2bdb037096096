//! The built-in TURN relay over real sockets on loopback (UDP, TCP and TLS to it),
//! used by a TURN client we did not write (`rtc-turn`'s, the one webrtc-rs peers use)
//! with the credentials of a real `welcome`: allocate, permit a peer, and relay
//! datagrams both ways, compared by hash.

mod common;

use std::net::SocketAddr;
use std::time::Instant;

use bytes::BytesMut;
use common::{http_get, metric, Certificate, TestServer, PATIENCE};
use meshdrop_protocol::signaling::IceServer;
use meshdrop_relay::frame_length;
use meshdrop_signaling_server::{Config, RelayConfig, RelayLimits, TurnSecret};
use rtc_shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use rtc_turn::client::{Client, ClientConfig, Event};
use sansio::Protocol;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// Datagrams relayed each way, and their size: a short exchange of DTLS-record-sized
/// payloads.
const DATAGRAMS: usize = 32;
const DATAGRAM_BYTES: usize = 1200;

/// A TCP or TLS connection.
trait ByteStream: AsyncRead + AsyncWrite + Unpin + Send {}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> ByteStream for S {}

/// How the client reaches the relay.
enum Link {
    Udp(UdpSocket),
    /// With the relay's address: the stream has no datagram sources to tell it.
    Stream(Box<dyn ByteStream>, SocketAddr),
}

/// Which of the relay's URLs a client uses.
#[derive(Clone, Copy)]
enum Via<'a> {
    Udp,
    Tcp,
    Tls(&'a Certificate),
}

impl Link {
    async fn send(&mut self, message: &[u8], to: SocketAddr) {
        match self {
            Link::Udp(socket) => {
                socket.send_to(message, to).await.unwrap();
            }
            Link::Stream(stream, _) => stream.write_all(message).await.unwrap(),
        }
    }

    /// The next datagram, or over a stream the next message, and where it came from.
    async fn receive(&mut self) -> (Vec<u8>, SocketAddr) {
        match self {
            Link::Udp(socket) => {
                let mut buffer = vec![0u8; 65_536];
                let (length, from) = socket.recv_from(&mut buffer).await.unwrap();
                buffer.truncate(length);
                (buffer, from)
            }
            Link::Stream(stream, server) => {
                let mut header = [0u8; 4];
                stream.read_exact(&mut header).await.unwrap();
                let mut message = vec![0u8; frame_length(header).unwrap()];
                message[..4].copy_from_slice(&header);
                stream.read_exact(&mut message[4..]).await.unwrap();
                (message, *server)
            }
        }
    }
}

/// `rtc-turn`'s sans-IO client on a real socket.
struct TurnClient {
    client: Client,
    link: Link,
    local_addr: SocketAddr,
}

impl TurnClient {
    /// A client of the relay named by the `turn:` entry of `ice_servers`, over UDP.
    async fn of_welcome(ice_servers: &[IceServer]) -> Self {
        Self::over(ice_servers, Via::Udp).await
    }

    /// A client of the relay's URL in `ice_servers` for `via`.
    async fn over(ice_servers: &[IceServer], via: Via<'_>) -> Self {
        let (scheme, suffix) = match via {
            Via::Udp => ("turn:", "?transport=udp"),
            Via::Tcp => ("turn:", "?transport=tcp"),
            Via::Tls(_) => ("turns:", "?transport=tcp"),
        };
        let (entry, server) = ice_servers
            .iter()
            .flat_map(|entry| entry.urls.iter().map(move |url| (entry, url)))
            .find_map(|(entry, url)| {
                let server = url.strip_prefix(scheme)?.strip_suffix(suffix)?;
                Some((entry, server.parse::<SocketAddr>().unwrap()))
            })
            .expect("welcome lists the relay");
        let (link, local_addr, protocol) = match via {
            Via::Udp => {
                let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
                let local = socket.local_addr().unwrap();
                (Link::Udp(socket), local, TransportProtocol::UDP)
            }
            Via::Tcp => {
                let stream = TcpStream::connect(server).await.unwrap();
                let local = stream.local_addr().unwrap();
                (
                    Link::Stream(Box::new(stream), server),
                    local,
                    TransportProtocol::TCP,
                )
            }
            Via::Tls(certificate) => {
                let stream = certificate.connect(server).await;
                let local = stream.get_ref().0.local_addr().unwrap();
                (
                    Link::Stream(Box::new(stream), server),
                    local,
                    TransportProtocol::TCP,
                )
            }
        };
        let config = ClientConfig {
            turn_serv_addr: server.to_string(),
            local_addr,
            transport_protocol: protocol,
            username: entry.username.clone().unwrap(),
            password: entry.credential.clone().unwrap(),
            ..ClientConfig::default()
        };
        let crypto = rtc_turn::crypto::default_provider().unwrap();
        Self {
            client: Client::new(config, crypto).unwrap(),
            link,
            local_addr,
        }
    }

    async fn flush(&mut self) {
        while let Some(transmit) = self.client.poll_write() {
            let to = transmit.transport.peer_addr;
            self.link.send(&transmit.message, to).await;
        }
    }

    /// Run the client on its socket until it reports an event.
    async fn next_event(&mut self) -> Event {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            self.flush().await;
            if let Some(event) = self.client.poll_event() {
                return event;
            }
            let wake = self.client.poll_timeout().map_or(deadline, |due| {
                tokio::time::Instant::from_std(due).min(deadline)
            });
            let local_addr = self.local_addr;
            tokio::select! {
                (received, from) = self.link.receive() => {
                    let message = TaggedBytesMut {
                        now: Instant::now(),
                        transport: TransportContext {
                            local_addr,
                            peer_addr: from,
                            transport_protocol: TransportProtocol::UDP,
                            ecn: None,
                        },
                        message: BytesMut::from(&received[..]),
                    };
                    let _ = self.client.handle_read(message);
                }
                () = tokio::time::sleep_until(wake) => {
                    assert!(tokio::time::Instant::now() < deadline, "no TURN event within {PATIENCE:?}");
                    self.client.handle_timeout(Instant::now()).unwrap();
                }
            }
        }
    }

    async fn allocate(&mut self) -> SocketAddr {
        self.client.allocate(Instant::now()).unwrap();
        match self.next_event().await {
            Event::AllocateResponse(_, relayed) => relayed,
            other => panic!("expected an allocation, got {other:?}"),
        }
    }

    /// Allocate, expecting a refusal; its text.
    async fn allocate_refused(&mut self) -> String {
        self.client.allocate(Instant::now()).unwrap();
        match self.next_event().await {
            Event::AllocateError(_, error) => error.to_string(),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    async fn permit(&mut self, relayed: SocketAddr, peer: SocketAddr) {
        let mut relay = self.client.relay(relayed).unwrap();
        relay.create_permission(Instant::now(), peer).unwrap();
        match self.next_event().await {
            Event::CreatePermissionResponse(_, permitted) => assert_eq!(permitted, peer),
            other => panic!("expected a permission, got {other:?}"),
        }
    }

    async fn send(&mut self, relayed: SocketAddr, peer: SocketAddr, payload: &[u8]) {
        let mut relay = self.client.relay(relayed).unwrap();
        relay.send_to(Instant::now(), payload, peer).unwrap();
        self.flush().await;
    }

    /// The next payload a peer sent through the relay, and who sent it.
    async fn receive(&mut self) -> (SocketAddr, Vec<u8>) {
        loop {
            match self.next_event().await {
                Event::DataIndicationOrChannelData(_, from, data) => return (from, data.to_vec()),
                // Such as the reply to the channel binding the first send starts.
                _ => continue,
            }
        }
    }
}

/// A payload that differs from datagram to datagram.
fn payload(direction: u8, index: usize) -> Vec<u8> {
    (0..DATAGRAM_BYTES)
        .map(|position| (position * 7 + index * 13) as u8 ^ direction)
        .collect()
}

/// A server with the relay on loopback over UDP, TCP and TLS (with the certificate
/// returned).
async fn relay_server() -> (TestServer, Certificate) {
    relay_server_with(RelayLimits::DEFAULT).await
}

async fn relay_server_with(limits: RelayLimits) -> (TestServer, Certificate) {
    let mut relay = RelayConfig::new("127.0.0.1".parse().unwrap());
    relay.secret = TurnSecret::new("relay-integration-secret");
    relay.limits = limits;
    let certificate = Certificate::generate();
    let tls = Some(certificate.tls());
    let server = TestServer::start_with_relay(Config::default(), relay, tls).await;
    (server, certificate)
}

#[tokio::test]
async fn welcome_lists_the_relay_and_its_stun_at_the_host_the_client_used() {
    let (server, _certificate) = relay_server().await;
    let joined = server.join("room", "Ann", 'a').await;
    let port = server.relay.unwrap().port();
    let urls: Vec<&str> = joined
        .ice_servers
        .iter()
        .map(|entry| entry.urls[0].as_str())
        .collect();
    assert_eq!(
        urls,
        [
            format!("stun:127.0.0.1:{port}"),
            format!("turn:127.0.0.1:{port}?transport=udp")
        ]
    );
    let turn = &joined.ice_servers[1];
    assert_eq!(turn.urls[1], format!("turn:127.0.0.1:{port}?transport=tcp"));
    assert!(turn.urls[2].starts_with("turns:127.0.0.1:"));
    let username = turn.username.as_deref().unwrap();
    assert!(username.ends_with(&format!(":{}", joined.id)));
    assert_eq!(
        turn.credential.as_deref(),
        Some(
            TurnSecret::new("relay-integration-secret")
                .password(username)
                .as_str()
        )
    );
    server.stop().await;
}

#[tokio::test]
async fn datagrams_are_relayed_both_ways_unchanged() {
    let (server, _certificate) = relay_server().await;
    relay_both_ways(&server, Via::Udp).await;
    server.stop().await;
}

#[tokio::test]
async fn a_client_over_tcp_is_relayed_the_same() {
    let (server, _certificate) = relay_server().await;
    relay_both_ways(&server, Via::Tcp).await;
    server.stop().await;
}

#[tokio::test]
async fn a_client_over_tls_is_relayed_the_same() {
    let (server, certificate) = relay_server().await;
    relay_both_ways(&server, Via::Tls(&certificate)).await;
    server.stop().await;
}

/// Allocate `via` a transport, then relay [`DATAGRAMS`] each way between the client
/// and a peer on a UDP socket, comparing hashes. Over TCP or TLS, the allocation then
/// ends with the connection.
async fn relay_both_ways(server: &TestServer, via: Via<'_>) {
    let joined = server.join("room", "Ann", 'a').await;
    let mut client = TurnClient::over(&joined.ice_servers, via).await;
    let relayed = client.allocate().await;
    assert_eq!(relayed.ip().to_string(), "127.0.0.1");
    assert_ne!(relayed.port(), server.relay.unwrap().port());

    let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let peer_addr = peer.local_addr().unwrap();
    client.permit(relayed, peer_addr).await;

    let (mut sent, mut arrived) = (Sha256::new(), Sha256::new());
    let (mut sent_back, mut arrived_back) = (Sha256::new(), Sha256::new());
    let mut buffer = vec![0u8; 65_536];
    for index in 0..DATAGRAMS {
        // Client to peer: the first as a Send indication, then on a channel.
        let outbound = payload(0x00, index);
        sent.update(&outbound);
        client.send(relayed, peer_addr, &outbound).await;
        let (length, from) = tokio::time::timeout(PATIENCE, peer.recv_from(&mut buffer))
            .await
            .expect("the peer hears the client")
            .unwrap();
        assert_eq!(from, relayed, "the peer hears the relayed address");
        arrived.update(&buffer[..length]);

        // Peer to client, through the relayed address.
        let inbound = payload(0xff, index);
        sent_back.update(&inbound);
        peer.send_to(&inbound, relayed).await.unwrap();
        let (from, data) = client.receive().await;
        assert_eq!(from, peer_addr);
        arrived_back.update(&data);
    }
    assert_eq!(sent.finalize(), arrived.finalize());
    assert_eq!(sent_back.finalize(), arrived_back.finalize());

    let metrics = http_get(server.addr, "/metrics", &[]).await.body;
    assert_eq!(metric(&metrics, "meshdrop_relay_allocations"), Some(1));
    assert_eq!(
        metric(&metrics, "meshdrop_relay_bytes_total"),
        Some((2 * DATAGRAMS * DATAGRAM_BYTES) as u64)
    );
    if !matches!(via, Via::Udp) {
        drop(client);
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let metrics = http_get(server.addr, "/metrics", &[]).await.body;
            if metric(&metrics, "meshdrop_relay_allocations") == Some(0) {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the allocation outlived its connection"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test]
async fn credentials_of_another_secret_are_refused_and_counted() {
    let (server, _certificate) = relay_server().await;
    let joined = server.join("room", "Ann", 'a').await;
    let mut forged = joined.ice_servers.clone();
    let username = forged[1].username.clone().unwrap();
    forged[1].credential = Some(TurnSecret::new("guessed").password(&username));
    let mut client = TurnClient::of_welcome(&forged).await;
    let error = client.allocate_refused().await;
    assert!(error.contains("401"), "{error}");
    let metrics = http_get(server.addr, "/metrics", &[]).await.body;
    assert_eq!(
        metric(
            &metrics,
            "meshdrop_relay_refused_total{reason=\"wrong_password\"}"
        ),
        Some(1)
    );
    assert_eq!(metric(&metrics, "meshdrop_relay_allocations"), Some(0));
    server.stop().await;
}

#[tokio::test]
async fn one_welcome_s_credential_holds_at_most_its_quota_of_allocations() {
    let (server, _certificate) = relay_server_with(RelayLimits {
        max_allocations: 2,
        ..RelayLimits::DEFAULT
    })
    .await;
    let joined = server.join("room", "Ann", 'a').await;
    let mut clients = Vec::new();
    for _ in 0..3 {
        clients.push(TurnClient::of_welcome(&joined.ice_servers).await);
    }
    clients[0].allocate().await;
    clients[1].allocate().await;
    let error = clients[2].allocate_refused().await;
    assert!(error.contains("486"), "{error}");
    // Another client's welcome has a credential of its own.
    let other = server.join("room", "Bob", 'b').await;
    TurnClient::of_welcome(&other.ice_servers)
        .await
        .allocate()
        .await;
    let metrics = http_get(server.addr, "/metrics", &[]).await.body;
    assert_eq!(metric(&metrics, "meshdrop_relay_allocations"), Some(3));
    assert_eq!(
        metric(
            &metrics,
            "meshdrop_relay_refused_total{reason=\"allocation_quota\"}"
        ),
        Some(1)
    );
    server.stop().await;
}
