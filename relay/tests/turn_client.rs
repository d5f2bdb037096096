//! The relay core against a TURN client we did not write: the sans-IO client of
//! `rtc-turn` (the one webrtc-rs peers gather relay candidates with), in memory, with
//! time passed in, so lifetimes and rates are checked without waiting.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::BytesMut;
use meshdrop_relay::{
    AllocationId, ClientAddr, Config, Limits, Output, Refusal, Server, Socket, Transmit, Transport,
    TurnSecret, MIN_BURST,
};
use rtc_shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use rtc_stun::attributes::ATTR_EVEN_PORT;
use rtc_stun::error_code::ErrorCodeAttribute;
use rtc_stun::message::{
    Getter, Message, MessageType, TransactionId, CLASS_ERROR_RESPONSE, CLASS_REQUEST,
    METHOD_ALLOCATE,
};
use rtc_stun::uattrs::UnknownAttributes;
use rtc_turn::client::{Client, ClientConfig, Event};
use sansio::Protocol;

const SECRET: &str = "relay-test-secret";
const RELAY_IP: &str = "203.0.113.1";
const SERVER: &str = "203.0.113.1:3478";
const PEER: &str = "198.51.100.7:7000";

fn addr(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

/// The relay, its clients, and what it sent to peers, on one fake clock.
struct Net {
    server: Server,
    now: Instant,
    wall: SystemTime,
    clients: Vec<Client>,
    /// Client addresses, by index in `clients`.
    locals: Vec<SocketAddr>,
    /// What left relay sockets: (allocation, to, payload).
    to_peers: Vec<(AllocationId, SocketAddr, Vec<u8>)>,
    /// What clients sent to the server, in order.
    from_clients: Vec<Vec<u8>>,
    /// What the server sent to clients, in order.
    to_clients: Vec<Vec<u8>>,
    closed: Vec<AllocationId>,
    events: Vec<VecDeque<Event>>,
    /// Whether the driver's relay sockets fail to open (no free port).
    ports_exhausted: bool,
}

impl Net {
    fn new(limits: Limits) -> Self {
        let now = Instant::now();
        // 2026-01-01T00:00:00Z.
        let wall = UNIX_EPOCH + Duration::from_secs(1_767_225_600);
        let config = Config {
            secret: TurnSecret::new(SECRET),
            realm: "meshdrop.test".into(),
            relay_ip: RELAY_IP.parse().unwrap(),
            limits,
        };
        Self {
            server: Server::new(config, now, wall),
            now,
            wall,
            clients: Vec::new(),
            locals: Vec::new(),
            to_peers: Vec::new(),
            from_clients: Vec::new(),
            to_clients: Vec::new(),
            closed: Vec::new(),
            events: Vec::new(),
            ports_exhausted: false,
        }
    }

    fn unix_now(&self) -> u64 {
        self.wall.duration_since(UNIX_EPOCH).unwrap().as_secs()
    }

    /// A username valid for an hour from now, and its password.
    fn credential(&self, label: &str) -> (String, String) {
        self.credential_expiring(self.unix_now() + 3600, label)
    }

    fn credential_expiring(&self, expiry: u64, label: &str) -> (String, String) {
        let username = format!("{expiry}:{label}");
        let password = TurnSecret::new(SECRET).password(&username);
        (username, password)
    }

    /// A client at 192.0.2.<index + 10>:5000 with these credentials; returns its index.
    fn add_client(&mut self, (username, password): (String, String)) -> usize {
        let index = self.clients.len();
        let local = addr(&format!("192.0.2.{}:5000", index + 10));
        let config = ClientConfig {
            turn_serv_addr: SERVER.into(),
            local_addr: local,
            transport_protocol: TransportProtocol::UDP,
            username,
            password,
            realm: String::new(),
            ..ClientConfig::default()
        };
        let crypto = rtc_turn::crypto::default_provider().unwrap();
        self.clients.push(Client::new(config, crypto).unwrap());
        self.locals.push(local);
        self.events.push(VecDeque::new());
        index
    }

    /// Move datagrams between clients and server until nothing is left to move.
    fn settle(&mut self) {
        loop {
            let mut moved = false;
            for index in 0..self.clients.len() {
                while let Some(event) = self.clients[index].poll_event() {
                    self.events[index].push_back(event);
                }
                while let Some(transmit) = self.clients[index].poll_write() {
                    assert_eq!(transmit.transport.peer_addr, addr(SERVER));
                    let bytes = transmit.message.to_vec();
                    self.server.handle_client(
                        self.now,
                        ClientAddr::udp(self.locals[index]),
                        &bytes,
                    );
                    self.from_clients.push(bytes);
                    moved = true;
                }
            }
            while let Some(output) = self.server.poll_output() {
                moved = true;
                match output {
                    Output::Transmit(Transmit {
                        from: Socket::Listen(_),
                        to,
                        payload,
                    }) => self.deliver_to_client(to, payload),
                    Output::Transmit(Transmit {
                        from: Socket::Relay(id),
                        to,
                        payload,
                    }) => self.to_peers.push((id, to, payload)),
                    Output::OpenRelay(id) if self.ports_exhausted => {
                        self.server.relay_failed(self.now, id);
                    }
                    Output::OpenRelay(id) => {
                        let relayed =
                            SocketAddr::new(RELAY_IP.parse().unwrap(), 50_000 + id.0 as u16);
                        self.server.relay_opened(self.now, id, relayed);
                    }
                    Output::CloseRelay(id) => self.closed.push(id),
                }
            }
            if !moved {
                return;
            }
        }
    }

    fn deliver_to_client(&mut self, to: SocketAddr, payload: Vec<u8>) {
        let index = self
            .locals
            .iter()
            .position(|local| *local == to)
            .expect("replies go to a client");
        self.to_clients.push(payload.clone());
        let message = TaggedBytesMut {
            now: self.now,
            transport: TransportContext {
                local_addr: self.locals[index],
                peer_addr: addr(SERVER),
                transport_protocol: TransportProtocol::UDP,
                ecn: None,
            },
            message: BytesMut::from(&payload[..]),
        };
        // The client refuses some datagrams it has no use for; that is its business.
        let _ = self.clients[index].handle_read(message);
    }

    /// Let `by` pass, running every timer that falls due on the way, a second at a time.
    fn advance(&mut self, by: Duration) {
        let end = self.now + by;
        while self.now < end {
            self.now = (self.now + Duration::from_secs(1)).min(end);
            self.wall += Duration::from_secs(1);
            for client in &mut self.clients {
                client.handle_timeout(self.now).unwrap();
            }
            self.server.handle_timeout(self.now);
            self.settle();
        }
    }

    fn next_event(&mut self, client: usize) -> Event {
        self.settle();
        self.events[client].pop_front().expect("an event")
    }

    /// Allocate for `client`; the relayed address.
    fn allocate(&mut self, client: usize) -> SocketAddr {
        self.clients[client].allocate(self.now).unwrap();
        match self.next_event(client) {
            Event::AllocateResponse(_, relayed) => relayed,
            other => panic!("expected an allocation, got {other:?}"),
        }
    }

    /// Allocate for `client`; the error the client reports.
    fn allocate_error(&mut self, client: usize) -> String {
        self.clients[client].allocate(self.now).unwrap();
        match self.next_event(client) {
            Event::AllocateError(_, error) => error.to_string(),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    fn permit(&mut self, client: usize, relayed: SocketAddr, peer: SocketAddr) {
        let now = self.now;
        self.clients[client]
            .relay(relayed)
            .unwrap()
            .create_permission(now, peer)
            .unwrap();
        match self.next_event(client) {
            Event::CreatePermissionResponse(_, permitted) => assert_eq!(permitted, peer),
            other => panic!("expected a permission, got {other:?}"),
        }
    }

    fn send(&mut self, client: usize, relayed: SocketAddr, peer: SocketAddr, payload: &[u8]) {
        let now = self.now;
        self.clients[client]
            .relay(relayed)
            .unwrap()
            .send_to(now, payload, peer)
            .unwrap();
        self.settle();
    }

    /// A datagram from `peer` to the relay socket of `id`.
    fn peer_sends(&mut self, id: AllocationId, peer: SocketAddr, payload: &[u8]) {
        self.server.handle_peer(self.now, id, peer, payload);
        self.settle();
    }
}

fn allocation_of(relayed: SocketAddr) -> AllocationId {
    AllocationId(u64::from(relayed.port() - 50_000))
}

fn error_code(datagram: &[u8]) -> Option<u16> {
    let mut message = Message::new();
    message.unmarshal_binary(datagram).ok()?;
    if message.typ.class != CLASS_ERROR_RESPONSE {
        return None;
    }
    let mut code = ErrorCodeAttribute::default();
    code.get_from(&message).ok()?;
    Some(code.code.0)
}

#[test]
fn allocate_permit_send_and_receive_through_indications_then_a_channel() {
    let mut net = Net::new(Limits::DEFAULT);
    let client = net.add_client(net.credential("alice"));
    let relayed = net.allocate(client);
    assert_eq!(relayed.ip().to_string(), RELAY_IP);
    // The first Allocate carried no credentials and was challenged.
    assert_eq!(error_code(&net.to_clients[0]), Some(401));
    assert_eq!(net.server.stats().allocations(), 1);

    let peer = addr(PEER);
    net.permit(client, relayed, peer);
    let id = allocation_of(relayed);

    // The first send goes as a Send indication while the channel is being bound.
    net.send(client, relayed, peer, b"first, as an indication");
    assert_eq!(
        net.to_peers,
        [(id, peer, b"first, as an indication".to_vec())]
    );
    // The channel is bound now: the next goes as ChannelData.
    net.send(client, relayed, peer, b"second, on the channel");
    let last_from_client = net.from_clients.last().unwrap();
    assert!(
        (0x40..=0x7f).contains(&last_from_client[0]),
        "not ChannelData"
    );
    assert_eq!(
        net.to_peers[1],
        (id, peer, b"second, on the channel".to_vec())
    );

    // The peer answers; with a channel bound, it arrives as ChannelData.
    net.peer_sends(id, peer, b"and back");
    match net.next_event(client) {
        Event::DataIndicationOrChannelData(Some(_channel), from, data) => {
            assert_eq!(from, peer);
            assert_eq!(&data[..], b"and back");
        }
        other => panic!("expected channel data, got {other:?}"),
    }
    let stats = net.server.stats();
    let relayed_bytes = "first, as an indication".len() + "second, on the channel".len() + 8;
    assert_eq!(stats.bytes_relayed(), relayed_bytes as u64);
}

#[test]
fn a_peer_without_a_channel_is_heard_through_data_indications() {
    let mut net = Net::new(Limits::DEFAULT);
    let client = net.add_client(net.credential("alice"));
    let relayed = net.allocate(client);
    let peer = addr(PEER);
    net.permit(client, relayed, peer);
    net.peer_sends(allocation_of(relayed), peer, b"unbound");
    match net.next_event(client) {
        Event::DataIndicationOrChannelData(None, from, data) => {
            assert_eq!(from, peer);
            assert_eq!(&data[..], b"unbound");
        }
        other => panic!("expected a data indication, got {other:?}"),
    }
}

#[test]
fn nothing_passes_without_a_permission() {
    let mut net = Net::new(Limits::DEFAULT);
    let client = net.add_client(net.credential("alice"));
    let relayed = net.allocate(client);
    let id = allocation_of(relayed);
    net.peer_sends(id, addr(PEER), b"uninvited");
    assert!(net.events[client].is_empty());
    // Permitted for one peer's IP, any port of it passes, another IP does not.
    net.permit(client, relayed, addr(PEER));
    net.peer_sends(id, addr("198.51.100.7:9999"), b"same host");
    net.peer_sends(id, addr("198.51.100.8:7000"), b"other host");
    net.settle();
    assert_eq!(net.events[client].len(), 1);
    assert_eq!(net.server.stats().bytes_relayed(), "same host".len() as u64);
}

#[test]
fn refreshes_keep_an_allocation_and_its_permissions_alive() {
    let mut net = Net::new(Limits::DEFAULT);
    let client = net.add_client(net.credential("alice"));
    let relayed = net.allocate(client);
    let peer = addr(PEER);
    net.permit(client, relayed, peer);
    // Well past the default lifetime (600 s) and the permission lifetime (300 s): the
    // client refreshes both on its own timers.
    net.advance(Duration::from_secs(1500));
    assert!(net.closed.is_empty());
    net.peer_sends(allocation_of(relayed), peer, b"still here");
    assert!(matches!(
        net.events[client].pop_back(),
        Some(Event::DataIndicationOrChannelData(_, _, _))
    ));
}

#[test]
fn a_refresh_with_lifetime_zero_deletes_the_allocation() {
    let mut net = Net::new(Limits::DEFAULT);
    let client = net.add_client(net.credential("alice"));
    let relayed = net.allocate(client);
    let now = net.now;
    net.clients[client]
        .relay(relayed)
        .unwrap()
        .close(now)
        .unwrap();
    net.settle();
    assert_eq!(net.closed, [allocation_of(relayed)]);
    assert_eq!(net.server.stats().allocations(), 0);
}

#[test]
fn an_allocation_nobody_refreshes_expires_with_its_socket() {
    let mut net = Net::new(Limits::DEFAULT);
    let client = net.add_client(net.credential("alice"));
    let relayed = net.allocate(client);
    // The client goes away without a word.
    net.clients.clear();
    let due = net.server.poll_timeout().unwrap();
    assert_eq!(due, net.now + Duration::from_secs(600));
    net.server.handle_timeout(due - Duration::from_millis(1));
    assert!(net.server.poll_output().is_none());
    net.server.handle_timeout(due);
    assert_eq!(
        net.server.poll_output(),
        Some(Output::CloseRelay(allocation_of(relayed)))
    );
    assert_eq!(net.server.stats().allocations(), 0);
    assert_eq!(net.server.poll_timeout(), None);
}

#[test]
fn an_expired_credential_is_refused() {
    let mut net = Net::new(Limits::DEFAULT);
    let expired = net.credential_expiring(net.unix_now() - 1, "alice");
    let client = net.add_client(expired);
    let error = net.allocate_error(client);
    assert!(error.contains("401"), "{error}");
    assert_eq!(net.server.stats().refused(Refusal::ExpiredCredential), 1);
    assert_eq!(net.server.stats().allocations(), 0);
}

#[test]
fn a_credential_expires_while_the_relay_runs() {
    let mut net = Net::new(Limits::DEFAULT);
    let soon = net.credential_expiring(net.unix_now() + 10, "alice");
    let early = net.add_client(soon.clone());
    net.allocate(early);
    net.advance(Duration::from_secs(11));
    let late = net.add_client(soon);
    assert!(net.allocate_error(late).contains("401"));
}

#[test]
fn a_wrong_password_is_refused() {
    let mut net = Net::new(Limits::DEFAULT);
    let (username, _) = net.credential("alice");
    let client = net.add_client((username, "not-the-password".into()));
    let error = net.allocate_error(client);
    assert!(error.contains("401"), "{error}");
    assert_eq!(net.server.stats().refused(Refusal::WrongPassword), 1);
}

#[test]
fn a_credential_past_its_allocation_quota_is_refused_with_486() {
    let mut net = Net::new(Limits {
        max_allocations: 2,
        ..Limits::DEFAULT
    });
    let credential = net.credential("alice");
    let clients: Vec<usize> = (0..3).map(|_| net.add_client(credential.clone())).collect();
    let first = net.allocate(clients[0]);
    net.allocate(clients[1]);
    let error = net.allocate_error(clients[2]);
    assert!(error.contains("486"), "{error}");
    assert_eq!(net.server.stats().refused(Refusal::AllocationQuota), 1);
    // Another credential is not affected.
    let other = net.add_client(net.credential("bob"));
    net.allocate(other);
    // Once one is given back, there is room again.
    let now = net.now;
    net.clients[clients[0]]
        .relay(first)
        .unwrap()
        .close(now)
        .unwrap();
    net.settle();
    let again = net.add_client(credential);
    net.allocate(again);
    assert_eq!(net.server.stats().allocations(), 3);
}

#[test]
fn past_its_bandwidth_a_credential_s_datagrams_are_dropped() {
    let rate = MIN_BURST;
    let mut net = Net::new(Limits {
        bandwidth: rate,
        ..Limits::DEFAULT
    });
    let client = net.add_client(net.credential("alice"));
    let relayed = net.allocate(client);
    let peer = addr(PEER);
    net.permit(client, relayed, peer);
    let id = allocation_of(relayed);
    let datagram = [7u8; 1024];
    // A full bucket holds 64 of them; the 65th is dropped.
    for _ in 0..65 {
        net.server.handle_peer(net.now, id, peer, &datagram);
    }
    net.settle();
    assert_eq!(net.events[client].len(), 64);
    let stats = net.server.stats();
    assert_eq!(stats.dropped_over_limit(), 1);
    assert_eq!(stats.bytes_relayed(), 64 * 1024);
    // Half a second refills half the rate: 32 more, both directions share it.
    net.now += Duration::from_millis(500);
    for _ in 0..16 {
        net.server.handle_peer(net.now, id, peer, &datagram);
    }
    for _ in 0..17 {
        net.send(client, relayed, peer, &datagram);
    }
    assert_eq!(stats.bytes_relayed(), 96 * 1024);
    assert_eq!(stats.dropped_over_limit(), 2);
}

#[test]
fn peers_on_the_relay_host_s_loopback_are_forbidden() {
    let mut net = Net::new(Limits::DEFAULT);
    let client = net.add_client(net.credential("alice"));
    let relayed = net.allocate(client);
    let now = net.now;
    net.clients[client]
        .relay(relayed)
        .unwrap()
        .create_permission(now, addr("127.0.0.1:22"))
        .unwrap();
    match net.next_event(client) {
        Event::CreatePermissionError(_, error) => assert!(error.to_string().contains("403")),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(net.server.stats().refused(Refusal::ForbiddenPeer), 1);
}

#[test]
fn a_retransmitted_allocate_is_answered_again_and_another_is_a_mismatch() {
    let mut net = Net::new(Limits::DEFAULT);
    let client = net.add_client(net.credential("alice"));
    let relayed = net.allocate(client);
    // The authenticated Allocate, as if its answer had been lost.
    let allocate = net.from_clients[1].clone();
    let answers = net.to_clients.len();
    net.server
        .handle_client(net.now, ClientAddr::udp(net.locals[client]), &allocate);
    net.settle();
    let again = &net.to_clients[answers];
    assert_eq!(again, &net.to_clients[answers - 1], "the same answer");
    assert_eq!(net.server.stats().allocations(), 1);
    // A new Allocate from the same address while the first lives.
    net.clients[client].allocate(net.now).unwrap();
    let error = match net.next_event(client) {
        Event::AllocateError(_, error) => error.to_string(),
        other => panic!("expected a refusal, got {other:?}"),
    };
    assert!(error.contains("437"), "{error}");
    assert_eq!(net.server.stats().refused(Refusal::AllocationMismatch), 1);
    assert!(net.closed.is_empty(), "{relayed} still stands");
}

#[test]
fn unimplemented_required_attributes_get_420() {
    let mut net = Net::new(Limits::DEFAULT);
    let mut request = Message::new();
    request
        .build(&[
            Box::new(TransactionId::new()),
            Box::new(MessageType::new(METHOD_ALLOCATE, CLASS_REQUEST)),
        ])
        .unwrap();
    // EVEN-PORT, which this relay does not implement.
    request.add(ATTR_EVEN_PORT, &[0x80, 0, 0, 0]);
    request.write_length();
    net.server.handle_client(
        net.now,
        ClientAddr::udp(addr("192.0.2.99:5000")),
        &request.raw,
    );
    let Some(Output::Transmit(reply)) = net.server.poll_output() else {
        panic!("expected an answer");
    };
    assert_eq!(error_code(&reply.payload), Some(420));
    let mut answer = Message::new();
    answer.unmarshal_binary(&reply.payload).unwrap();
    let mut unknown = UnknownAttributes(Vec::new());
    unknown.get_from(&answer).unwrap();
    assert_eq!(unknown.0, [ATTR_EVEN_PORT]);
}

#[test]
fn without_a_free_relay_port_the_allocation_fails_with_508() {
    let mut net = Net::new(Limits {
        max_allocations: 1,
        ..Limits::DEFAULT
    });
    net.ports_exhausted = true;
    let client = net.add_client(net.credential("alice"));
    let error = net.allocate_error(client);
    assert!(error.contains("508"), "{error}");
    let stats = net.server.stats();
    assert_eq!(stats.refused(Refusal::InsufficientCapacity), 1);
    assert_eq!(stats.allocations(), 0);
    // The credential's one allocation is given back too.
    net.ports_exhausted = false;
    let retry = net.add_client(net.credential("alice"));
    net.allocate(retry);
}

#[test]
fn the_relay_does_not_serve_itself_through_its_own_sockets() {
    let mut net = Net::new(Limits::DEFAULT);
    let client = net.add_client(net.credential("alice"));
    let relayed = net.allocate(client);
    // The first Allocate of any client, as if relayed to the listening socket.
    let allocate = net.from_clients[0].clone();
    net.server
        .handle_client(net.now, ClientAddr::udp(relayed), &allocate);
    assert_eq!(net.server.poll_output(), None);
    net.server
        .handle_client(net.now, ClientAddr::udp(addr("192.0.2.99:5000")), &allocate);
    assert!(net.server.poll_output().is_some());
}

#[test]
fn a_tcp_client_s_allocation_ends_with_its_connection() {
    let mut net = Net::new(Limits::DEFAULT);
    let client = net.add_client(net.credential("alice"));
    net.allocate(client);
    // The same messages over a TCP connection from the same address: another client.
    let tcp = ClientAddr::tcp(net.locals[client]);
    let (challenge, allocate) = (net.from_clients[0].clone(), net.from_clients[1].clone());
    net.server.handle_client(net.now, tcp, &challenge);
    let Some(Output::Transmit(answer)) = net.server.poll_output() else {
        panic!("expected an answer");
    };
    assert_eq!(answer.from, Socket::Listen(Transport::Tcp));
    assert_eq!(error_code(&answer.payload), Some(401));
    net.server.handle_client(net.now, tcp, &allocate);
    let Some(Output::OpenRelay(id)) = net.server.poll_output() else {
        panic!("expected a relay socket to open");
    };
    net.server
        .relay_opened(net.now, id, addr("203.0.113.1:60000"));
    let Some(Output::Transmit(answer)) = net.server.poll_output() else {
        panic!("expected the allocation");
    };
    assert_eq!(answer.to, net.locals[client]);
    assert_eq!(error_code(&answer.payload), None);
    assert_eq!(net.server.stats().allocations(), 2);
    net.server.client_closed(tcp);
    assert_eq!(net.server.poll_output(), Some(Output::CloseRelay(id)));
    assert_eq!(net.server.stats().allocations(), 1);
}

#[test]
fn a_binding_request_learns_the_client_s_address() {
    let mut net = Net::new(Limits::DEFAULT);
    let client = net.add_client(net.credential("alice"));
    let now = net.now;
    net.clients[client]
        .send_binding_request_to(now, addr(SERVER))
        .unwrap();
    match net.next_event(client) {
        Event::BindingResponse(_, mapped) => assert_eq!(mapped, net.locals[client]),
        other => panic!("expected a binding response, got {other:?}"),
    }
}

/// A small deterministic generator, so the fuzz loop needs no dependency.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn no_datagram_makes_it_panic() {
    let mut net = Net::new(Limits::DEFAULT);
    let client = net.add_client(net.credential("alice"));
    let relayed = net.allocate(client);
    let peer = addr(PEER);
    net.permit(client, relayed, peer);
    net.send(client, relayed, peer, b"indication");
    net.send(client, relayed, peer, b"channel data");
    // Everything the client sent (Allocate with and without credentials, a permission,
    // a channel binding, a Send indication, ChannelData) is the seed.
    let seeds = net.from_clients.clone();
    let source = net.locals[client];
    let id = allocation_of(relayed);
    let mut random = XorShift(0x9E37_79B9_7F4A_7C15);
    for seed in &seeds {
        for length in 0..=seed.len() {
            net.server
                .handle_client(net.now, ClientAddr::udp(source), &seed[..length]);
        }
        for _ in 0..2000 {
            let mut mutated = seed.clone();
            for _ in 0..=random.next() % 4 {
                let position = (random.next() as usize) % mutated.len();
                mutated[position] = random.next() as u8;
            }
            net.server
                .handle_client(net.now, ClientAddr::udp(source), &mutated);
            net.server.handle_peer(net.now, id, peer, &mutated);
        }
    }
    for _ in 0..5000 {
        let length = (random.next() % 200) as usize;
        let junk: Vec<u8> = (0..length).map(|_| random.next() as u8).collect();
        net.server
            .handle_client(net.now, ClientAddr::udp(source), &junk);
    }
    while net.server.poll_output().is_some() {}
    assert!(net.server.stats().malformed() > 0);
    // And it still works.
    let other = net.add_client(net.credential("bob"));
    net.allocate(other);
}
