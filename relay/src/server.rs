//! The relay core: what to answer and what to forward, given datagrams and the time.
//!
//! It owns no socket and reads no clock. The driver feeds it what arrives on the
//! listening socket ([`Server::handle_client`]) and on each relay socket
//! ([`Server::handle_peer`]), tells it the time ([`Server::handle_timeout`] when
//! [`Server::poll_timeout`] is due), and carries out what [`Server::poll_output`] asks:
//! send bytes, open a relay socket for an allocation, close one.
//!
//! # What it speaks (RFC 5766, the part ICE agents use)
//!
//! Clients reach it over UDP, or over TCP or TLS (the driver cuts the stream into messages
//! with [`crate::frame_length`]; a TCP client's allocation ends with its connection,
//! [`Server::client_closed`]). It relays to peers over UDP only.
//!
//! * Binding: answered like the built-in STUN server, without credentials.
//! * Allocate: UDP relaying only (REQUESTED-TRANSPORT 17), the relay address's family
//!   (RFC 6156), long-term credentials; DONT-FRAGMENT is accepted and not enforced,
//!   EVEN-PORT and RESERVATION-TOKEN are refused as unknown (420).
//! * Refresh (LIFETIME 0 deletes), CreatePermission (several peers at once), ChannelBind.
//! * Send indications and ChannelData to peers; from peers, ChannelData where a channel
//!   is bound and Data indications where not.
//!
//! # Credentials
//!
//! Usernames and passwords are TURN REST credentials (see `credentials`): the password is
//! recomputed from the username, and a username whose expiry time has passed is refused
//! with 401 like a wrong password. Nonces are an HMAC of the client's address, so they
//! need no table; they do not age, because the credential itself does, and a client that
//! does not retry a refresh refused as stale (438) would otherwise lose its allocation.
//! Time: allocations and permissions run on the [`Instant`]s passed in; credential
//! expiry is in Unix seconds, reckoned from the pair of clocks given to [`Server::new`].
//!
//! # Limits
//!
//! Per credential (username): at most [`Limits::max_allocations`] allocations (then 486),
//! and [`Limits::bandwidth`] bytes per second relayed in both directions together, beyond
//! which datagrams are dropped (see `bandwidth`). Peers on loopback, unspecified,
//! multicast or broadcast addresses are refused (403), except loopback when the relay
//! itself is on loopback, so the relay cannot be used to reach the server's own services;
//! what a relay socket sends to the listening socket is ignored, so no allocation can
//! be made through another.
//!
//! The relay never looks into what it relays: for Meshdrop that is DTLS ciphertext.
//! Nothing that arrives makes it panic; what it cannot parse is dropped and counted.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rtc_stun::attributes::{
    AttrType, ATTR_CHANNEL_NUMBER, ATTR_DATA, ATTR_DONT_FRAGMENT, ATTR_ERROR_CODE,
    ATTR_FINGERPRINT, ATTR_LIFETIME, ATTR_MAPPED_ADDRESS, ATTR_MESSAGE_INTEGRITY, ATTR_NONCE,
    ATTR_REALM, ATTR_REQUESTED_ADDRESS_FAMILY, ATTR_REQUESTED_TRANSPORT, ATTR_SOFTWARE,
    ATTR_UNKNOWN_ATTRIBUTES, ATTR_USERNAME, ATTR_XORMAPPED_ADDRESS, ATTR_XOR_PEER_ADDRESS,
    ATTR_XOR_RELAYED_ADDRESS,
};
use rtc_stun::crypto::RTCCryptoProvider;
use rtc_stun::error_code::{ErrorCode, ErrorCodeAttribute};
use rtc_stun::fingerprint::FINGERPRINT;
use rtc_stun::integrity::MessageIntegrity;
use rtc_stun::message::{
    Getter, Message, MessageClass, MessageType, Setter, CLASS_ERROR_RESPONSE, CLASS_INDICATION,
    CLASS_REQUEST, CLASS_SUCCESS_RESPONSE, MAGIC_COOKIE, MESSAGE_HEADER_SIZE, METHOD_ALLOCATE,
    METHOD_BINDING, METHOD_CHANNEL_BIND, METHOD_CREATE_PERMISSION, METHOD_DATA, METHOD_REFRESH,
    METHOD_SEND,
};
use rtc_stun::textattrs::TextAttribute;
use rtc_stun::uattrs::UnknownAttributes;
use rtc_stun::xoraddr::XorMappedAddress;
use rtc_turn::proto::chandata::ChannelData;
use rtc_turn::proto::channum::ChannelNumber;
use rtc_turn::proto::data::Data;
use rtc_turn::proto::lifetime::Lifetime;
use rtc_turn::proto::peeraddr::PeerAddress;
use rtc_turn::proto::relayaddr::RelayedAddress;
use rtc_turn::proto::reqtrans::RequestedTransport;
use rtc_turn::proto::PROTO_UDP;

use crate::allocation::{Allocation, AllocationId};
use crate::bandwidth::Bucket;
use crate::credentials::{expiry, TurnSecret};
use crate::stats::{Refusal, Stats};

/// An allocation's lifetime when the client asks for none or less (RFC 5766, 2.2).
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(600);

/// The longest lifetime granted, whatever the client asks.
pub const MAX_LIFETIME: Duration = Duration::from_secs(3600);

/// The largest payload relayed: what still fits in a Data indication of at most 65535
/// bytes with an IPv6 peer address and a FINGERPRINT.
pub const MAX_PAYLOAD: usize = 65_535 - MESSAGE_HEADER_SIZE - 24 - 4 - 8;

/// The comprehension-required attributes understood in TURN requests. Any other type
/// below 0x8000 gets 420 Unknown Attribute.
const KNOWN_REQUIRED: [AttrType; 16] = [
    ATTR_MAPPED_ADDRESS,
    ATTR_USERNAME,
    ATTR_MESSAGE_INTEGRITY,
    ATTR_ERROR_CODE,
    ATTR_UNKNOWN_ATTRIBUTES,
    ATTR_REALM,
    ATTR_NONCE,
    ATTR_XORMAPPED_ADDRESS,
    ATTR_CHANNEL_NUMBER,
    ATTR_LIFETIME,
    ATTR_XOR_PEER_ADDRESS,
    ATTR_DATA,
    ATTR_XOR_RELAYED_ADDRESS,
    ATTR_REQUESTED_ADDRESS_FAMILY,
    ATTR_REQUESTED_TRANSPORT,
    // Accepted and not enforced: the relay sends from an ordinary UDP socket.
    ATTR_DONT_FRAGMENT,
];

/// How the relay runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// Checks the passwords of TURN REST credentials.
    pub secret: TurnSecret,
    /// The realm of the long-term credentials, told to clients in the 401 challenge.
    pub realm: String,
    /// The address relay sockets are opened on; its family is the one relayed.
    pub relay_ip: IpAddr,
    pub limits: Limits,
}

/// What one credential (one username) may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Allocations held at once.
    pub max_allocations: usize,
    /// Payload bytes per second relayed, both directions together.
    pub bandwidth: u64,
}

impl Limits {
    /// 32 allocations: a browser opens one per peer connection (and per local network
    /// interface), and a full room of 16 is 15 connections; twice that leaves room for
    /// ICE restarts and a second interface. 16 MiB/s (about 134 Mbit/s): a transfer at
    /// the speed of a good home uplink, without one credential taking a small server's
    /// whole link.
    pub const DEFAULT: Limits = Limits {
        max_allocations: 32,
        bandwidth: 16 * 1024 * 1024,
    };
}

/// How a client reaches the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    /// A TCP connection, framed as RFC 5766 section 2.2 says.
    Tcp,
    /// A TLS connection, framed the same way inside.
    Tls,
}

/// A client of the relay: its address, and how it reaches the relay. A TCP client is
/// one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientAddr {
    pub transport: Transport,
    pub address: SocketAddr,
}

impl ClientAddr {
    pub fn udp(address: SocketAddr) -> Self {
        Self {
            transport: Transport::Udp,
            address,
        }
    }

    pub fn tcp(address: SocketAddr) -> Self {
        Self {
            transport: Transport::Tcp,
            address,
        }
    }

    pub fn tls(address: SocketAddr) -> Self {
        Self {
            transport: Transport::Tls,
            address,
        }
    }
}

/// Which of the driver's sockets a datagram leaves from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Socket {
    /// Where clients of this transport talk TURN to (over TCP: the connection of the
    /// [`Transmit::to`] address).
    Listen(Transport),
    /// The relay socket of an allocation, which peers see.
    Relay(AllocationId),
}

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub from: Socket,
    pub to: SocketAddr,
    pub payload: Vec<u8>,
}

/// What the driver should do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Transmit(Transmit),
    /// Open a UDP socket on the relay address for this allocation, then call
    /// [`Server::relay_opened`] or [`Server::relay_failed`].
    OpenRelay(AllocationId),
    /// The allocation is gone: close its socket.
    CloseRelay(AllocationId),
}

/// A TURN server without I/O. See the module documentation.
pub struct Server {
    config: Config,
    crypto: Arc<dyn RTCCryptoProvider>,
    /// The same moment on both clocks, to tell credential expiry from an [`Instant`].
    epoch: (Instant, SystemTime),
    allocations: HashMap<AllocationId, Allocation>,
    by_client: HashMap<ClientAddr, AllocationId>,
    /// The relay sockets' addresses, which are never clients.
    relayed: HashSet<SocketAddr>,
    credentials: HashMap<String, Credential>,
    next_id: u64,
    outputs: VecDeque<Output>,
    /// No expiry happens before this; it may be early (a renewal moved an expiry later).
    next_wake: Option<Instant>,
    stats: Arc<Stats>,
}

/// What one credential holds.
#[derive(Debug)]
struct Credential {
    allocations: usize,
    bandwidth: Bucket,
}

/// An authenticated request's credential.
struct Auth {
    username: String,
    key: Vec<u8>,
}

/// A refusal with what goes into its error response besides the code.
struct Refused {
    reason: Refusal,
    /// Sign it: the request was authenticated.
    key: Option<Vec<u8>>,
    extra: Vec<Box<dyn Setter>>,
}

impl Refused {
    fn new(reason: Refusal) -> Self {
        Self {
            reason,
            key: None,
            extra: Vec::new(),
        }
    }

    fn signed(reason: Refusal, auth: &Auth) -> Self {
        Self {
            key: Some(auth.key.clone()),
            ..Self::new(reason)
        }
    }
}

impl Server {
    /// A relay with no allocations; `now` and `wall_now` are the same moment.
    pub fn new(config: Config, now: Instant, wall_now: SystemTime) -> Self {
        Self {
            config,
            crypto: rtc_stun::crypto::default_provider()
                // rtc-stun is built with its ring provider (the default feature).
                .expect("rtc-stun has a built-in crypto provider"),
            epoch: (now, wall_now),
            allocations: HashMap::new(),
            by_client: HashMap::new(),
            relayed: HashSet::new(),
            credentials: HashMap::new(),
            next_id: 0,
            outputs: VecDeque::new(),
            next_wake: None,
            stats: Arc::default(),
        }
    }

    /// The counters, to be read from elsewhere while the relay runs.
    pub fn stats(&self) -> Arc<Stats> {
        Arc::clone(&self.stats)
    }

    /// What the driver should do next, until `None`.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When [`Server::handle_timeout`] should be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_wake
    }

    /// Expire what is due at `now`: allocations (their relay sockets are closed),
    /// permissions and channels.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.next_wake.is_none_or(|wake| wake > now) {
            return;
        }
        let expired: Vec<AllocationId> = self
            .allocations
            .iter()
            .filter(|(_, allocation)| allocation.expires <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            self.remove(id);
        }
        for allocation in self.allocations.values_mut() {
            allocation.expire(now);
        }
        self.next_wake = self.allocations.values().map(Allocation::next_expiry).min();
    }

    /// A datagram (or, over TCP, a framed message) from the client at `from`.
    pub fn handle_client(&mut self, now: Instant, from: ClientAddr, datagram: &[u8]) {
        if from.transport == Transport::Udp && self.relayed.contains(&from.address) {
            // Relayed to the relay itself: a client hiding behind an allocation.
            return;
        }
        if matches!(datagram.first(), Some(0x40..=0x7f)) {
            self.channel_data_from_client(now, from, datagram);
            return;
        }
        let Some(message) = parse_stun(datagram) else {
            self.stats.malformed_datagram();
            return;
        };
        match (message.typ.class, message.typ.method) {
            (CLASS_REQUEST, METHOD_BINDING) => self.binding(from, &message),
            (CLASS_REQUEST, METHOD_ALLOCATE | METHOD_REFRESH)
            | (CLASS_REQUEST, METHOD_CREATE_PERMISSION | METHOD_CHANNEL_BIND) => {
                self.turn_request(now, from, message);
            }
            (CLASS_REQUEST, _) => self.refuse(from, &message, Refused::new(Refusal::BadRequest)),
            (CLASS_INDICATION, METHOD_SEND) => self.send_indication(now, from, &message),
            // Other indications, and responses: nothing to answer.
            _ => {}
        }
    }

    /// A datagram from `from` on the relay socket of `allocation`.
    pub fn handle_peer(
        &mut self,
        now: Instant,
        allocation: AllocationId,
        from: SocketAddr,
        datagram: &[u8],
    ) {
        let Some(current) = self.allocations.get(&allocation) else {
            return;
        };
        if !current.is_permitted(from.ip(), now) || datagram.len() > MAX_PAYLOAD {
            return;
        }
        let (client, channel) = (current.client, current.channel_of(from));
        if !self.take_bandwidth(allocation, datagram.len(), now) {
            return;
        }
        let payload = match channel {
            Some(number) => {
                let mut framed = ChannelData {
                    data: datagram.to_vec(),
                    number: ChannelNumber(number),
                    raw: Vec::new(),
                };
                framed.encode();
                framed.raw
            }
            None => {
                let mut indication = Message::new();
                let built = indication.build(&[
                    Box::new(rtc_stun::message::TransactionId::new()),
                    Box::new(MessageType::new(METHOD_DATA, CLASS_INDICATION)),
                    Box::new(PeerAddress {
                        ip: from.ip(),
                        port: from.port(),
                    }),
                    Box::new(Data(datagram.to_vec())),
                ]);
                if built.is_err() {
                    return;
                }
                indication.raw
            }
        };
        self.stats.relayed(datagram.len());
        self.transmit(Socket::Listen(client.transport), client.address, payload);
    }

    /// The TCP (or TLS) connection of `client` ended: its allocation goes with it
    /// (RFC 5766, 2.2).
    pub fn client_closed(&mut self, client: ClientAddr) {
        if let Some(id) = self.by_client.get(&client).copied() {
            self.remove(id);
        }
    }

    /// The driver opened the relay socket of `allocation` at `relayed`.
    pub fn relay_opened(&mut self, now: Instant, allocation: AllocationId, relayed: SocketAddr) {
        let Some(current) = self.allocations.get_mut(&allocation) else {
            // Deleted or expired while the socket was being opened.
            self.outputs.push_back(Output::CloseRelay(allocation));
            return;
        };
        current.relayed = Some(relayed);
        self.relayed.insert(relayed);
        self.answer_allocate(now, allocation);
    }

    /// The driver could not open a relay socket for `allocation`: 508 to its client.
    pub fn relay_failed(&mut self, _now: Instant, allocation: AllocationId) {
        let Some(current) = self.allocations.get(&allocation) else {
            return;
        };
        let (client, key) = (current.client, current.key.clone());
        let request = request_like(current.request, METHOD_ALLOCATE);
        self.remove(allocation);
        self.refuse(
            client,
            &request,
            Refused {
                key: Some(key),
                ..Refused::new(Refusal::InsufficientCapacity)
            },
        );
    }

    fn binding(&mut self, from: ClientAddr, request: &Message) {
        let client = canonical(from.address);
        self.reply(
            from,
            request,
            CLASS_SUCCESS_RESPONSE,
            vec![Box::new(XorMappedAddress {
                ip: client.ip(),
                port: client.port(),
            })],
            None,
        );
    }

    fn turn_request(&mut self, now: Instant, from: ClientAddr, mut request: Message) {
        let unknown: Vec<AttrType> = request
            .attributes
            .0
            .iter()
            .map(|attribute| attribute.typ)
            .filter(|kind| kind.required() && !KNOWN_REQUIRED.contains(kind))
            .collect();
        if !unknown.is_empty() {
            let refused = Refused {
                extra: vec![Box::new(UnknownAttributes(unknown))],
                ..Refused::new(Refusal::UnknownAttribute)
            };
            return self.refuse(from, &request, refused);
        }
        let Some(auth) = self.authenticate(now, from, &mut request) else {
            return;
        };
        let result = match request.typ.method {
            METHOD_ALLOCATE => self.allocate(now, from, &request, &auth),
            METHOD_REFRESH => self.refresh(now, from, &request, &auth),
            METHOD_CREATE_PERMISSION => self.create_permission(now, from, &request, &auth),
            _ => self.channel_bind(now, from, &request, &auth),
        };
        if let Err(refused) = result {
            self.refuse(from, &request, refused);
        }
    }

    /// The request's credential, or `None` when it was answered with a challenge or
    /// refused (RFC 5389, 10.2.2).
    fn authenticate(
        &mut self,
        now: Instant,
        from: ClientAddr,
        request: &mut Message,
    ) -> Option<Auth> {
        if !request.contains(ATTR_MESSAGE_INTEGRITY) {
            let challenge = self.challenge(from);
            self.reply(from, request, CLASS_ERROR_RESPONSE, challenge, None);
            return None;
        }
        let text = |kind| TextAttribute::get_from_as(request, kind).ok();
        let (Some(username), Some(realm), Some(nonce)) =
            (text(ATTR_USERNAME), text(ATTR_REALM), text(ATTR_NONCE))
        else {
            self.refuse(from, request, Refused::new(Refusal::BadRequest));
            return None;
        };
        let rechallenge = |server: &Self, reason| Refused {
            extra: server.challenge_attributes(from),
            ..Refused::new(reason)
        };
        if nonce.text != self.nonce(from) {
            let refused = rechallenge(self, Refusal::StaleNonce);
            self.refuse(from, request, refused);
            return None;
        }
        let unexpired = expiry(&username.text).is_some_and(|expiry| expiry > self.unix_time(now));
        if !unexpired {
            let refused = rechallenge(self, Refusal::ExpiredCredential);
            self.refuse(from, request, refused);
            return None;
        }
        let password = self.config.secret.password(&username.text);
        let crypto = self.crypto.crypto();
        let verified = MessageIntegrity::long_term_integrity_key(
            username.text.clone(),
            realm.text.clone(),
            password,
            crypto,
        )
        .ok()
        .filter(|_| realm.text == self.config.realm)
        // The check slices by the attribute's length: make sure it is an HMAC-SHA1's.
        .filter(|_| {
            request
                .get(ATTR_MESSAGE_INTEGRITY)
                .is_ok_and(|mac| mac.len() == 20)
        })
        .filter(|key| MessageIntegrity::check(request, key, crypto).is_ok());
        let Some(key) = verified else {
            let refused = rechallenge(self, Refusal::WrongPassword);
            self.refuse(from, request, refused);
            return None;
        };
        Some(Auth {
            username: username.text,
            key,
        })
    }

    fn allocate(
        &mut self,
        now: Instant,
        from: ClientAddr,
        request: &Message,
        auth: &Auth,
    ) -> Result<(), Refused> {
        if let Some(id) = self.by_client.get(&from).copied() {
            let existing = &self.allocations[&id];
            if existing.request != request.transaction_id {
                return Err(Refused::signed(Refusal::AllocationMismatch, auth));
            }
            // A retransmission: answer again once the socket is open (until then the
            // answer is still to come).
            if existing.relayed.is_some() {
                self.answer_allocate(now, id);
            }
            return Ok(());
        }
        let mut transport = RequestedTransport::default();
        if transport.get_from(request).is_err() {
            return Err(Refused::signed(Refusal::BadRequest, auth));
        }
        if transport.protocol != PROTO_UDP {
            return Err(Refused::signed(Refusal::UnsupportedTransport, auth));
        }
        let ipv6_wanted = match request.get(ATTR_REQUESTED_ADDRESS_FAMILY) {
            Ok(value) => value.first() == Some(&0x02),
            Err(_) => false,
        };
        if ipv6_wanted != self.config.relay_ip.is_ipv6() {
            return Err(Refused::signed(Refusal::AddressFamily, auth));
        }
        let held = self
            .credentials
            .get(&auth.username)
            .map_or(0, |credential| credential.allocations);
        if held >= self.config.limits.max_allocations {
            return Err(Refused::signed(Refusal::AllocationQuota, auth));
        }
        let lifetime = granted_lifetime(request).unwrap_or(DEFAULT_LIFETIME);
        let id = AllocationId(self.next_id);
        self.next_id += 1;
        let allocation = Allocation::new(
            from,
            auth.username.clone(),
            auth.key.clone(),
            request.transaction_id,
            now + lifetime,
        );
        self.wake_at(allocation.expires);
        self.allocations.insert(id, allocation);
        self.by_client.insert(from, id);
        let bandwidth = self.config.limits.bandwidth;
        self.credentials
            .entry(auth.username.clone())
            .or_insert_with(|| Credential {
                allocations: 0,
                bandwidth: Bucket::new(bandwidth, now),
            })
            .allocations += 1;
        self.stats.set_allocations(self.allocations.len());
        self.outputs.push_back(Output::OpenRelay(id));
        Ok(())
    }

    fn answer_allocate(&mut self, now: Instant, id: AllocationId) {
        let Some(allocation) = self.allocations.get(&id) else {
            return;
        };
        let Some(relayed) = allocation.relayed else {
            return;
        };
        let client = canonical(allocation.client.address);
        let request = request_like(allocation.request, METHOD_ALLOCATE);
        let lifetime = remaining_secs(allocation.expires, now);
        let key = allocation.key.clone();
        self.reply(
            allocation.client,
            &request,
            CLASS_SUCCESS_RESPONSE,
            vec![
                Box::new(RelayedAddress {
                    ip: relayed.ip(),
                    port: relayed.port(),
                }),
                Box::new(Lifetime(lifetime)),
                Box::new(XorMappedAddress {
                    ip: client.ip(),
                    port: client.port(),
                }),
            ],
            Some(&key),
        );
    }

    fn refresh(
        &mut self,
        now: Instant,
        from: ClientAddr,
        request: &Message,
        auth: &Auth,
    ) -> Result<(), Refused> {
        let id = self.own_allocation(from, auth)?;
        let lifetime = granted_lifetime(request).unwrap_or(DEFAULT_LIFETIME);
        if lifetime.is_zero() {
            self.remove(id);
        } else if let Some(allocation) = self.allocations.get_mut(&id) {
            allocation.expires = now + lifetime;
        }
        self.reply(
            from,
            request,
            CLASS_SUCCESS_RESPONSE,
            vec![Box::new(Lifetime(lifetime))],
            Some(&auth.key),
        );
        Ok(())
    }

    fn create_permission(
        &mut self,
        now: Instant,
        from: ClientAddr,
        request: &Message,
        auth: &Auth,
    ) -> Result<(), Refused> {
        let id = self.own_allocation(from, auth)?;
        let peers: Vec<Option<SocketAddr>> = request
            .attributes
            .0
            .iter()
            .filter(|attribute| attribute.typ == ATTR_XOR_PEER_ADDRESS)
            .map(|attribute| xor_address(&attribute.value, request))
            .collect();
        if peers.is_empty() || peers.contains(&None) {
            return Err(Refused::signed(Refusal::BadRequest, auth));
        }
        let peers: Vec<SocketAddr> = peers.into_iter().flatten().collect();
        for peer in &peers {
            self.check_peer(peer.ip(), auth)?;
        }
        if let Some(allocation) = self.allocations.get_mut(&id) {
            for peer in &peers {
                allocation.permit(peer.ip(), now);
            }
        }
        self.permitted(now, from, request, auth);
        Ok(())
    }

    /// Answers a CreatePermission or ChannelBind that took effect; the permissions it
    /// made expire after [`crate::allocation::PERMISSION_LIFETIME`] unless renewed.
    fn permitted(&mut self, now: Instant, from: ClientAddr, request: &Message, auth: &Auth) {
        self.wake_at(now + crate::allocation::PERMISSION_LIFETIME);
        self.reply(
            from,
            request,
            CLASS_SUCCESS_RESPONSE,
            Vec::new(),
            Some(&auth.key),
        );
    }

    fn channel_bind(
        &mut self,
        now: Instant,
        from: ClientAddr,
        request: &Message,
        auth: &Auth,
    ) -> Result<(), Refused> {
        let id = self.own_allocation(from, auth)?;
        let mut number = ChannelNumber::default();
        let peer = request
            .get(ATTR_XOR_PEER_ADDRESS)
            .ok()
            .and_then(|value| xor_address(&value, request));
        let (true, Some(peer)) = (number.get_from(request).is_ok() && number.valid(), peer) else {
            return Err(Refused::signed(Refusal::BadRequest, auth));
        };
        self.check_peer(peer.ip(), auth)?;
        if let Some(allocation) = self.allocations.get_mut(&id) {
            if allocation.bind(number.0, peer, now).is_err() {
                return Err(Refused::signed(Refusal::BadRequest, auth));
            }
        }
        self.permitted(now, from, request, auth);
        Ok(())
    }

    fn send_indication(&mut self, now: Instant, from: ClientAddr, indication: &Message) {
        let Some(id) = self.by_client.get(&from).copied() else {
            return;
        };
        let peer = indication
            .get(ATTR_XOR_PEER_ADDRESS)
            .ok()
            .and_then(|value| xor_address(&value, indication));
        let mut data = Data::default();
        let (Some(peer), Ok(())) = (peer, data.get_from(indication)) else {
            return;
        };
        self.relay_to_peer(now, id, peer, data.0);
    }

    fn channel_data_from_client(&mut self, now: Instant, from: ClientAddr, datagram: &[u8]) {
        let mut framed = ChannelData {
            raw: datagram.to_vec(),
            ..ChannelData::default()
        };
        if framed.decode().is_err() {
            self.stats.malformed_datagram();
            return;
        }
        let Some(id) = self.by_client.get(&from).copied() else {
            return;
        };
        let Some(peer) = self.allocations[&id].peer_of(framed.number.0) else {
            return;
        };
        self.relay_to_peer(now, id, peer, framed.data);
    }

    fn relay_to_peer(
        &mut self,
        now: Instant,
        id: AllocationId,
        peer: SocketAddr,
        payload: Vec<u8>,
    ) {
        let Some(allocation) = self.allocations.get(&id) else {
            return;
        };
        if allocation.relayed.is_none() || !allocation.is_permitted(peer.ip(), now) {
            return;
        }
        if !self.take_bandwidth(id, payload.len(), now) {
            return;
        }
        self.stats.relayed(payload.len());
        self.transmit(Socket::Relay(id), peer, payload);
    }

    /// Charge `bytes` to the credential of allocation `id`; false (and counted) if it
    /// is over its bandwidth.
    fn take_bandwidth(&mut self, id: AllocationId, bytes: usize, now: Instant) -> bool {
        let Some(allocation) = self.allocations.get(&id) else {
            return false;
        };
        let Some(credential) = self.credentials.get_mut(&allocation.username) else {
            return false;
        };
        let taken = credential.bandwidth.take(bytes, now);
        if !taken {
            self.stats.dropped();
        }
        taken
    }

    /// The allocation of the client at `from`, made with `auth`'s credential.
    fn own_allocation(&self, from: ClientAddr, auth: &Auth) -> Result<AllocationId, Refused> {
        let id = self
            .by_client
            .get(&from)
            .copied()
            .ok_or_else(|| Refused::signed(Refusal::AllocationMismatch, auth))?;
        if self.allocations[&id].username != auth.username {
            return Err(Refused::signed(Refusal::WrongCredentials, auth));
        }
        Ok(id)
    }

    /// Whether the relay may talk to `peer` (see "Limits" in the module docs).
    fn check_peer(&self, peer: IpAddr, auth: &Auth) -> Result<(), Refused> {
        if peer.is_ipv4() != self.config.relay_ip.is_ipv4() {
            return Err(Refused::signed(Refusal::PeerAddressFamily, auth));
        }
        let forbidden = peer.is_unspecified()
            || peer.is_multicast()
            || peer == IpAddr::V4(Ipv4Addr::BROADCAST)
            || (peer.is_loopback() && !self.config.relay_ip.is_loopback());
        if forbidden {
            return Err(Refused::signed(Refusal::ForbiddenPeer, auth));
        }
        Ok(())
    }

    fn remove(&mut self, id: AllocationId) {
        let Some(allocation) = self.allocations.remove(&id) else {
            return;
        };
        self.by_client.remove(&allocation.client);
        if let Some(relayed) = allocation.relayed {
            self.relayed.remove(&relayed);
        }
        if let Some(credential) = self.credentials.get_mut(&allocation.username) {
            credential.allocations -= 1;
            if credential.allocations == 0 {
                self.credentials.remove(&allocation.username);
            }
        }
        self.stats.set_allocations(self.allocations.len());
        self.outputs.push_back(Output::CloseRelay(id));
    }

    fn wake_at(&mut self, at: Instant) {
        self.next_wake = Some(self.next_wake.map_or(at, |wake| wake.min(at)));
    }

    fn unix_time(&self, now: Instant) -> u64 {
        let (instant, wall) = self.epoch;
        let elapsed = now.saturating_duration_since(instant);
        (wall + elapsed)
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs()
    }

    /// The nonce of the client at `from` (see "Credentials" in the module docs).
    fn nonce(&self, from: ClientAddr) -> String {
        let mac = self.config.secret.mac(&[
            b"meshdrop-relay nonce ",
            from.address.to_string().as_bytes(),
        ]);
        mac[..16].iter().fold(String::new(), |mut hex, byte| {
            // Writing to a String cannot fail.
            let _ = write!(hex, "{byte:02x}");
            hex
        })
    }

    fn challenge_attributes(&self, from: ClientAddr) -> Vec<Box<dyn Setter>> {
        vec![
            Box::new(TextAttribute::new(ATTR_REALM, self.config.realm.clone())),
            Box::new(TextAttribute::new(ATTR_NONCE, self.nonce(from))),
        ]
    }

    /// 401 with the realm and a nonce: the first step of every authenticated exchange.
    fn challenge(&self, from: ClientAddr) -> Vec<Box<dyn Setter>> {
        let mut attributes: Vec<Box<dyn Setter>> = vec![Box::new(ErrorCodeAttribute {
            code: ErrorCode(401),
            reason: b"Unauthorized".to_vec(),
        })];
        attributes.extend(self.challenge_attributes(from));
        attributes
    }

    fn refuse(&mut self, to: ClientAddr, request: &Message, refused: Refused) {
        self.stats.refusal(refused.reason);
        let (code, reason) = error_code(refused.reason);
        let mut attributes: Vec<Box<dyn Setter>> = vec![Box::new(ErrorCodeAttribute {
            code: ErrorCode(code),
            reason: reason.as_bytes().to_vec(),
        })];
        attributes.extend(refused.extra);
        self.reply(
            to,
            request,
            CLASS_ERROR_RESPONSE,
            attributes,
            refused.key.as_deref(),
        );
    }

    /// Answer `request` with `attributes`, signed with `key` if given, and a FINGERPRINT.
    fn reply(
        &mut self,
        to: ClientAddr,
        request: &Message,
        class: MessageClass,
        attributes: Vec<Box<dyn Setter>>,
        key: Option<&[u8]>,
    ) {
        let crypto = Arc::clone(&self.crypto);
        let mut setters: Vec<Box<dyn Setter + '_>> = vec![
            Box::new(request.transaction_id),
            Box::new(MessageType::new(request.typ.method, class)),
            Box::new(TextAttribute::new(ATTR_SOFTWARE, "meshdrop".into())),
        ];
        for attribute in attributes {
            setters.push(attribute);
        }
        if let Some(key) = key {
            setters.push(Box::new(MessageIntegrity::new_raw_integrity_with_provider(
                key.to_vec(),
                crypto.crypto(),
            )));
        }
        setters.push(Box::new(FINGERPRINT));
        let mut reply = Message::new();
        // Every attribute written here is small and well-formed.
        if reply.build(&setters).is_ok() {
            self.transmit(Socket::Listen(to.transport), to.address, reply.raw);
        }
    }

    fn transmit(&mut self, from: Socket, to: SocketAddr, payload: Vec<u8>) {
        self.outputs
            .push_back(Output::Transmit(Transmit { from, to, payload }));
    }
}

/// A STUN message that passes every check RFC 5389 asks of a receiver: header, length,
/// attribute bounds, and the FINGERPRINT if there is one.
fn parse_stun(datagram: &[u8]) -> Option<Message> {
    let header = datagram.get(..MESSAGE_HEADER_SIZE)?;
    let length = usize::from(u16::from_be_bytes([header[2], header[3]]));
    let cookie = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
    if header[0] & 0xC0 != 0
        || cookie != MAGIC_COOKIE
        || length % 4 != 0
        || MESSAGE_HEADER_SIZE + length != datagram.len()
    {
        return None;
    }
    let mut message = Message::new();
    message.raw = datagram.to_vec();
    message.decode().ok()?;
    if message.contains(ATTR_FINGERPRINT) {
        let last = message.attributes.0.last()?;
        if last.typ != ATTR_FINGERPRINT || FINGERPRINT.check(&message).is_err() {
            return None;
        }
    }
    Some(message)
}

/// A request header alone, to answer a request after the fact (an Allocate once its
/// socket is open).
fn request_like(
    transaction_id: rtc_stun::message::TransactionId,
    method: rtc_stun::message::Method,
) -> Message {
    let mut request = Message::new();
    request.transaction_id = transaction_id;
    request.typ = MessageType::new(method, CLASS_REQUEST);
    request
}

/// The lifetime a client asked for, bounded as RFC 5766 (6.2, 7.2) says: zero stays zero,
/// anything else is at least the default and at most the maximum. `None` if it asked
/// for none (or sent a malformed one).
fn granted_lifetime(request: &Message) -> Option<Duration> {
    let mut lifetime = Lifetime::default();
    lifetime.get_from(request).ok()?;
    if lifetime.0.is_zero() {
        return Some(Duration::ZERO);
    }
    Some(lifetime.0.clamp(DEFAULT_LIFETIME, MAX_LIFETIME))
}

fn remaining_secs(expires: Instant, now: Instant) -> Duration {
    Duration::from_secs(expires.saturating_duration_since(now).as_secs())
}

/// An XOR-PEER-ADDRESS value of `message` (RFC 5766, 14.3), or `None` if malformed.
fn xor_address(value: &[u8], message: &Message) -> Option<SocketAddr> {
    let [_, family, p0, p1, ref address @ ..] = *value else {
        return None;
    };
    let mut mask = [0u8; 16];
    mask[..4].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
    mask[4..].copy_from_slice(&message.transaction_id.0);
    let port = u16::from_be_bytes([p0, p1]) ^ (MAGIC_COOKIE >> 16) as u16;
    let ip = match (family, address.len()) {
        (0x01, 4) => {
            let octets: [u8; 4] = std::array::from_fn(|i| address[i] ^ mask[i]);
            IpAddr::V4(Ipv4Addr::from(octets))
        }
        (0x02, 16) => {
            let octets: [u8; 16] = std::array::from_fn(|i| address[i] ^ mask[i]);
            IpAddr::V6(Ipv6Addr::from(octets))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// `address` with an IPv4-mapped IPv6 address written as IPv4.
fn canonical(address: SocketAddr) -> SocketAddr {
    SocketAddr::new(address.ip().to_canonical(), address.port())
}

fn error_code(reason: Refusal) -> (u16, &'static str) {
    match reason {
        Refusal::BadRequest => (400, "Bad Request"),
        Refusal::WrongPassword | Refusal::ExpiredCredential => (401, "Unauthorized"),
        Refusal::ForbiddenPeer => (403, "Forbidden"),
        Refusal::UnknownAttribute => (420, "Unknown Attribute"),
        Refusal::AllocationMismatch => (437, "Allocation Mismatch"),
        Refusal::StaleNonce => (438, "Stale Nonce"),
        Refusal::AddressFamily => (440, "Address Family not Supported"),
        Refusal::WrongCredentials => (441, "Wrong Credentials"),
        Refusal::UnsupportedTransport => (442, "Unsupported Transport Protocol"),
        Refusal::PeerAddressFamily => (443, "Peer Address Family Mismatch"),
        Refusal::AllocationQuota => (486, "Allocation Quota Reached"),
        Refusal::InsufficientCapacity => (508, "Insufficient Capacity"),
    }
}
