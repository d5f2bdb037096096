//! A real man in the middle: a signaling server that sits inside the WebRTC connection
//! of the two clients it serves.
//!
//! Whoever runs the signaling server sees every SDP, so nothing but verification stops
//! it from swapping the DTLS fingerprints and terminating each side's connection itself.
//! [`MitmServer`] does exactly that, for the tests of that verification: it speaks the
//! signaling protocol (docs/protocol.md) to exactly two clients, serves the web app like
//! the real server, and instead of forwarding their offers, answers and candidates it
//! opens a WebRTC connection of its own to each, with a certificate of its own, posing as
//! the other client. It relays every message of both pre-negotiated data channels from
//! one side to the other, unchanged and in order, so chat and files still work, and each
//! side sees the man in the middle's fingerprint instead of its peer's.
//!
//! Signals of any other `kind` (a key exchange the verification adds, say) it does not
//! understand: they go to the other client verbatim, as the real server would pass them.
//!
//! It records what it sees, for the tests to check: every text frame the clients sent
//! ([`MitmServer::received`]), every control-channel message it relayed
//! ([`MitmServer::relayed_control`]), and the fingerprint it showed each client
//! ([`MitmServer::fingerprints`]).
//!
//! Only the first connection is supported: the first two session keys to join are the
//! two clients (a third gets `room_full`), and a client that reconnects its WebSocket
//! gets its seat back, but an ICE restart or a rebuilt connection is answered as well as
//! webrtc-rs manages, or only logged. The WebRTC side gathers host candidates on the
//! namespace's interfaces, like the native peer.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use futures_util::{SinkExt, StreamExt};
use meshdrop_protocol::frame::{
    CONTROL_CHANNEL, CONTROL_CHANNEL_ID, DATA_CHANNEL, DATA_CHANNEL_ID,
};
use meshdrop_protocol::signaling::{
    parse_client_message, ClientMessage, ErrorCode, PeerInfo, ServerMessage, Signal, SignalObject,
};
use meshdrop_protocol::{PeerId, RoomId, PROTOCOL_VERSION};
use meshdrop_signaling_server::DEFAULT_LIMITS;
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, watch};
use webrtc::data_channel::{DataChannel, DataChannelEvent, RTCDataChannelInit};
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCConfigurationBuilder,
    RTCIceCandidateInit, RTCPeerConnectionIceEvent, RTCSessionDescription,
};

use crate::error::Result;
use crate::server::ServesApp;
use crate::stand_in::StandIn;

/// How long after a channel opens the man in the middle waits before relaying into it,
/// unless the client speaks first: webrtc-rs peers drop what reaches them earlier (see
/// "Opening" in docs/protocol.md).
const OPEN_GRACE: Duration = Duration::from_millis(500);

/// Bytes queued on one channel before relaying into it waits: a slow side slows the other
/// down instead of filling memory.
const SEND_BUFFER: usize = 16 << 20;

/// A running man in the middle; see the module documentation. Dropping it stops it
/// accepting connections; those it has live on until the test's runtime ends.
pub struct MitmServer {
    http: StandIn,
    mitm: Arc<Mitm>,
}

/// The fingerprint the man in the middle shows one client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShownFingerprint {
    /// The client's peer id.
    pub client: String,
    /// Its certificate's fingerprint as in its SDP's `a=fingerprint:` line, like
    /// `sha-256 AB:CD:…`.
    pub fingerprint: String,
}

impl MitmServer {
    /// Starts the man in the middle on a free port of every address of the namespace.
    pub async fn start() -> Result<MitmServer> {
        let mitm = Arc::new(Mitm::default());
        let routes = Router::new()
            .route("/ws", get(accept))
            .with_state(Arc::clone(&mitm));
        let http = StandIn::start(routes).await?;
        Ok(MitmServer { http, mitm })
    }

    /// Every text frame the clients sent it so far, verbatim, in arrival order.
    pub fn received(&self) -> Vec<String> {
        self.mitm.record.lock().unwrap().received.clone()
    }

    /// Every control-channel message it relayed so far, either way, in the clear.
    pub fn relayed_control(&self) -> Vec<String> {
        self.mitm.record.lock().unwrap().relayed_control.clone()
    }

    /// The fingerprints it has shown the clients so far, one per client, in the order it
    /// made them.
    pub fn fingerprints(&self) -> Vec<ShownFingerprint> {
        self.mitm.record.lock().unwrap().fingerprints.clone()
    }
}

impl ServesApp for MitmServer {
    fn address(&self, host: Ipv4Addr) -> SocketAddr {
        self.http.address(host)
    }
}

#[derive(Default)]
struct Mitm {
    record: Mutex<Record>,
    room: Mutex<Room>,
}

#[derive(Default)]
struct Record {
    received: Vec<String>,
    relayed_control: Vec<String>,
    fingerprints: Vec<ShownFingerprint>,
}

#[derive(Default)]
struct Room {
    /// The two clients, in join order, once they have joined.
    clients: Vec<PeerInfo>,
    /// Where each client's WebSocket takes messages, while it is connected.
    outboxes: HashMap<PeerId, Outbox>,
    /// Where each client's negotiation goes: to the man in the middle's connection with
    /// it, which applies it in order once it is set up.
    negotiation: HashMap<PeerId, mpsc::UnboundedSender<Signal>>,
}

/// One client's WebSocket, told apart from its earlier ones by `socket`.
struct Outbox {
    socket: u64,
    messages: mpsc::UnboundedSender<ServerMessage>,
}

impl Mitm {
    /// Sends `message` to `client`'s WebSocket, if it is connected.
    fn send(&self, client: &PeerId, message: ServerMessage) {
        if let Some(outbox) = self.room.lock().unwrap().outboxes.get(client) {
            let _ = outbox.messages.send(message);
        }
    }

    /// The client other than `client`, once both have joined.
    fn other(&self, client: &PeerId) -> Option<PeerInfo> {
        let room = self.room.lock().unwrap();
        room.clients
            .iter()
            .find(|other| other.id != *client)
            .cloned()
    }
}

async fn accept(upgrade: WebSocketUpgrade, State(mitm): State<Arc<Mitm>>) -> Response {
    upgrade.on_upgrade(move |socket| client(socket, mitm))
}

/// Serves one client's WebSocket until it closes.
async fn client(socket: WebSocket, mitm: Arc<Mitm>) {
    static NEXT_SOCKET: AtomicU64 = AtomicU64::new(0);
    let socket_id = NEXT_SOCKET.fetch_add(1, Ordering::Relaxed);
    let (mut sink, mut stream) = socket.split();
    let (outbox, mut messages) = mpsc::unbounded_channel::<ServerMessage>();
    let writer = tokio::spawn(async move {
        while let Some(message) = messages.recv().await {
            let text = serde_json::to_string(&message).expect("server messages serialize");
            if sink.send(Message::text(text)).await.is_err() {
                return;
            }
            if let ServerMessage::Error { code, .. } = message {
                if code.is_fatal() {
                    let _ = sink.close().await;
                    return;
                }
            }
        }
    });
    let mut joined = None;
    while let Some(Ok(frame)) = stream.next().await {
        let text = match frame {
            Message::Text(text) => text,
            // Like the real server: messages are text.
            Message::Binary(_) => {
                let _ = outbox.send(refusal(ErrorCode::MalformedMessage));
                continue;
            }
            _ => continue,
        };
        mitm.record.lock().unwrap().received.push(text.to_string());
        let reply = match parse_client_message(&text) {
            Err(code) => Err(code),
            Ok(message) => match &joined {
                None => join(&mitm, message, socket_id, &outbox).map(|id| joined = Some(id)),
                Some(id) => handle(&mitm, id, message, &outbox),
            },
        };
        if let Err(code) = reply {
            let _ = outbox.send(refusal(code));
        }
    }
    writer.abort();
    if let Some(id) = joined {
        leave(&mitm, &id, socket_id);
    }
}

fn refusal(code: ErrorCode) -> ServerMessage {
    ServerMessage::Error {
        code,
        message: format!("the man in the middle refused this: {code:?}"),
    }
}

/// Seats the client of a `join`, welcomes it, and once both clients are there, puts the
/// man in the middle between them. Returns its peer id.
fn join(
    mitm: &Arc<Mitm>,
    message: ClientMessage,
    socket: u64,
    outbox: &mpsc::UnboundedSender<ServerMessage>,
) -> Result<PeerId, ErrorCode> {
    let ClientMessage::Join {
        room,
        name,
        session_key,
        ..
    } = message
    else {
        return Err(ErrorCode::NotJoined);
    };
    let id = peer_id(&session_key);
    let me = PeerInfo {
        id: id.clone(),
        name,
    };
    let mut state = mitm.room.lock().unwrap();
    let newcomer = !state.clients.iter().any(|client| client.id == id);
    if newcomer && state.clients.len() == 2 {
        return Err(ErrorCode::RoomFull);
    }
    if newcomer {
        state.clients.push(me.clone());
    }
    let others: Vec<PeerInfo> = state
        .clients
        .iter()
        .filter(|client| client.id != id && state.outboxes.contains_key(&client.id))
        .cloned()
        .collect();
    let network = room.is_none();
    let room = room.unwrap_or_else(|| {
        RoomId::new(format!("_net-{}", "0".repeat(32))).expect("a valid room name")
    });
    let _ = outbox.send(ServerMessage::Welcome {
        version: PROTOCOL_VERSION,
        peer_id: id.clone(),
        room,
        network,
        peers: others.clone(),
        ice_servers: Vec::new(),
        limits: DEFAULT_LIMITS,
    });
    for other in &others {
        if let Some(outbox) = state.outboxes.get(&other.id) {
            let _ = outbox
                .messages
                .send(ServerMessage::PeerJoined { peer: me.clone() });
        }
    }
    state.outboxes.insert(
        id.clone(),
        Outbox {
            socket,
            messages: outbox.clone(),
        },
    );
    if newcomer && state.clients.len() == 2 {
        // The first client was told of the second and waits for its offer: the man in
        // the middle makes that offer, and answers the one the newcomer sends it.
        let first_id = state.clients[0].id.clone();
        let mut negotiation = |client: PeerId| {
            let (signals, queued) = mpsc::unbounded_channel();
            state.negotiation.insert(client.clone(), signals);
            (client, queued)
        };
        let first = negotiation(first_id);
        let second = negotiation(id.clone());
        drop(state);
        let mitm = Arc::clone(mitm);
        tokio::spawn(async move {
            if let Err(error) = stand_between(&mitm, first, second).await {
                eprintln!("the man in the middle could not set up its connections: {error}");
            }
        });
    }
    Ok(id)
}

/// The peer id the real server derives from `session_key`.
fn peer_id(session_key: &str) -> PeerId {
    let digest = Sha256::digest(format!("meshdrop-peer-id:{session_key}"));
    PeerId::new(&hex::encode(digest)[..16]).expect("hex digits make a valid peer id")
}

/// A message from a client that has joined.
fn handle(
    mitm: &Arc<Mitm>,
    id: &PeerId,
    message: ClientMessage,
    outbox: &mpsc::UnboundedSender<ServerMessage>,
) -> Result<(), ErrorCode> {
    match message {
        ClientMessage::Join { .. } => return Err(ErrorCode::AlreadyJoined),
        ClientMessage::Ping => {
            let _ = outbox.send(ServerMessage::Pong);
        }
        ClientMessage::Rename { name } => {
            let peer = PeerInfo {
                id: id.clone(),
                name,
            };
            let other = {
                let mut room = mitm.room.lock().unwrap();
                for client in room.clients.iter_mut().filter(|client| client.id == *id) {
                    client.name = peer.name.clone();
                }
                room.clients.iter().find(|other| other.id != *id).cloned()
            };
            if let Some(other) = other {
                mitm.send(&other.id, ServerMessage::PeerRenamed { peer });
            }
        }
        ClientMessage::Signal { to, signal } => {
            if mitm.other(id).map(|other| other.id) != Some(to.clone()) {
                return Err(ErrorCode::UnknownPeer);
            }
            if !is_negotiation(&signal) {
                let from = id.clone();
                mitm.send(&to, ServerMessage::Signal { from, signal });
            } else if let Ok(signal) = signal.to_signal() {
                // Negotiation that cannot be read (a field missing) nobody could use.
                if let Some(queue) = mitm.room.lock().unwrap().negotiation.get(id) {
                    let _ = queue.send(signal);
                }
            }
        }
    }
    Ok(())
}

/// Whether `signal` is of a kind the man in the middle terminates.
fn is_negotiation(signal: &SignalObject) -> bool {
    let kind = serde_json::to_value(signal).ok().and_then(|value| {
        value
            .get("kind")
            .and_then(|kind| kind.as_str().map(str::to_owned))
    });
    matches!(kind.as_deref(), Some("offer" | "answer" | "candidate"))
}

/// The client of `socket` is gone: unless it already reconnected, the other is told.
fn leave(mitm: &Mitm, id: &PeerId, socket: u64) {
    let other = {
        let mut room = mitm.room.lock().unwrap();
        if room.outboxes.get(id).map(|outbox| outbox.socket) != Some(socket) {
            return;
        }
        room.outboxes.remove(id);
        room.clients.iter().find(|other| other.id != *id).cloned()
    };
    if let Some(other) = other {
        mitm.send(
            &other.id,
            ServerMessage::PeerLeft {
                peer_id: id.clone(),
            },
        );
    }
}

/// A client, and its negotiation queued for the man in the middle's connection with it.
type Negotiating = (PeerId, mpsc::UnboundedReceiver<Signal>);

/// Opens a connection to each client, posing as the other, starts relaying between them,
/// and offers to `first`, who waits for an offer from `second`.
async fn stand_between(
    mitm: &Arc<Mitm>,
    first: Negotiating,
    second: Negotiating,
) -> webrtc::error::Result<()> {
    let (first, first_signals) = first;
    let (second, second_signals) = second;
    let toward_first = Leg::open(mitm, first.clone(), second.clone(), first_signals).await?;
    let toward_second = Leg::open(mitm, second, first, second_signals).await?;
    for (from, to) in [
        (&toward_first, &toward_second),
        (&toward_second, &toward_first),
    ] {
        for index in 0..2 {
            tokio::spawn(relay(
                Arc::clone(mitm),
                from.channels[index].clone(),
                to.channels[index].clone(),
                index == 0,
            ));
        }
    }
    toward_first.offer().await
}

/// The man in the middle's WebRTC connection with one client.
struct Leg {
    connection: Arc<dyn PeerConnection>,
    /// The control channel, then the data channel.
    channels: [RelayedChannel; 2],
    /// Our descriptions for the client, sent ahead of the candidates.
    descriptions: mpsc::UnboundedSender<Signal>,
    client: PeerId,
    mitm: Arc<Mitm>,
}

/// One of a leg's data channels, and whether it may be relayed into yet.
#[derive(Clone)]
struct RelayedChannel {
    channel: Arc<dyn DataChannel>,
    /// Set once the channel is open and the client has spoken on it or [`OPEN_GRACE`]
    /// has passed.
    ready: Arc<watch::Sender<bool>>,
}

impl Leg {
    /// A connection to `client`, whose signals appear to come from `posing_as`, and which
    /// applies the client's `signals` in order.
    async fn open(
        mitm: &Arc<Mitm>,
        client: PeerId,
        posing_as: PeerId,
        signals: mpsc::UnboundedReceiver<Signal>,
    ) -> webrtc::error::Result<Arc<Leg>> {
        let (candidates, candidates_rx) = mpsc::unbounded_channel();
        let connection: Arc<dyn PeerConnection> = Arc::new(
            PeerConnectionBuilder::new()
                .with_configuration(RTCConfigurationBuilder::new().build())
                .with_handler(Arc::new(Candidates(candidates)))
                .with_udp_addrs(vec!["0.0.0.0:0"])
                .with_data_channel_send_buffer_limit(SEND_BUFFER)
                .build()
                .await?,
        );
        let mut channels = Vec::new();
        for (label, id) in [
            (CONTROL_CHANNEL, CONTROL_CHANNEL_ID),
            (DATA_CHANNEL, DATA_CHANNEL_ID),
        ] {
            let init = RTCDataChannelInit {
                ordered: true,
                negotiated: Some(id),
                ..Default::default()
            };
            channels.push(RelayedChannel {
                channel: connection.create_data_channel(label, Some(init)).await?,
                ready: Arc::new(watch::channel(false).0),
            });
        }
        let (descriptions, descriptions_rx) = mpsc::unbounded_channel();
        let leg = Arc::new(Leg {
            connection,
            channels: [channels.remove(0), channels.remove(0)],
            descriptions,
            client: client.clone(),
            mitm: Arc::clone(mitm),
        });
        tokio::spawn(send_signals(
            Arc::clone(mitm),
            client,
            posing_as,
            descriptions_rx,
            candidates_rx,
        ));
        tokio::spawn(Arc::clone(&leg).apply_signals(signals));
        Ok(leg)
    }

    async fn apply_signals(self: Arc<Self>, mut signals: mpsc::UnboundedReceiver<Signal>) {
        while let Some(signal) = signals.recv().await {
            if let Err(error) = self.apply_one(signal).await {
                eprintln!(
                    "the man in the middle could not apply a signal of {}: {error}",
                    self.client
                );
            }
        }
    }

    async fn apply_one(&self, signal: Signal) -> webrtc::error::Result<()> {
        match signal {
            Signal::Offer { sdp } => {
                self.connection
                    .set_remote_description(RTCSessionDescription::offer(sdp)?)
                    .await?;
                let answer = self.connection.create_answer(None).await?;
                let sdp = answer.sdp.clone();
                self.connection.set_local_description(answer).await?;
                self.describe(Signal::Answer { sdp });
            }
            Signal::Answer { sdp } => {
                self.connection
                    .set_remote_description(RTCSessionDescription::answer(sdp)?)
                    .await?;
            }
            // An empty candidate only marks the end of the client's gathering.
            Signal::Candidate { candidate, .. } if candidate.is_empty() => {}
            Signal::Candidate {
                candidate,
                sdp_mid,
                sdp_m_line_index,
                username_fragment,
            } => {
                self.connection
                    .add_ice_candidate(RTCIceCandidateInit {
                        candidate,
                        sdp_mid,
                        sdp_mline_index: sdp_m_line_index,
                        username_fragment,
                        ..Default::default()
                    })
                    .await?;
            }
        }
        Ok(())
    }

    async fn offer(&self) -> webrtc::error::Result<()> {
        let offer = self.connection.create_offer(None).await?;
        let sdp = offer.sdp.clone();
        self.connection.set_local_description(offer).await?;
        self.describe(Signal::Offer { sdp });
        Ok(())
    }

    /// Sends our offer or answer, and records the fingerprint it shows the client.
    fn describe(&self, description: Signal) {
        let (Signal::Offer { sdp } | Signal::Answer { sdp }) = &description else {
            unreachable!("a description is an offer or an answer");
        };
        let fingerprint = sdp
            .lines()
            .find_map(|line| line.strip_prefix("a=fingerprint:"))
            .map(str::to_owned);
        let mut record = self.mitm.record.lock().unwrap();
        if let Some(fingerprint) = fingerprint {
            let shown = ShownFingerprint {
                client: self.client.to_string(),
                fingerprint,
            };
            if !record.fingerprints.contains(&shown) {
                record.fingerprints.push(shown);
            }
        }
        let _ = self.descriptions.send(description);
    }
}

/// Sends a leg's signals to its client as coming from `posing_as`: its first description
/// before any candidate, since the client cannot use a candidate before it.
async fn send_signals(
    mitm: Arc<Mitm>,
    client: PeerId,
    posing_as: PeerId,
    mut descriptions: mpsc::UnboundedReceiver<Signal>,
    mut candidates: mpsc::UnboundedReceiver<Signal>,
) {
    let send = |signal: Signal| {
        mitm.send(
            &client,
            ServerMessage::Signal {
                from: posing_as.clone(),
                signal: signal.into(),
            },
        );
    };
    let Some(first) = descriptions.recv().await else {
        return;
    };
    send(first);
    loop {
        tokio::select! {
            Some(description) = descriptions.recv() => send(description),
            Some(candidate) = candidates.recv() => send(candidate),
            else => return,
        }
    }
}

/// Relays every message of `from` into `to`, as it came: text as text, binary as binary.
/// Control messages are recorded when `control`.
async fn relay(mitm: Arc<Mitm>, from: RelayedChannel, to: RelayedChannel, control: bool) {
    let mut to_ready = to.ready.subscribe();
    while let Some(event) = from.channel.poll().await {
        let message = match event {
            DataChannelEvent::OnOpen => {
                let ready = Arc::clone(&from.ready);
                tokio::spawn(async move {
                    tokio::time::sleep(OPEN_GRACE).await;
                    ready.send_replace(true);
                });
                continue;
            }
            DataChannelEvent::OnMessage(message) => message,
            _ => continue,
        };
        from.ready.send_replace(true);
        if to_ready.wait_for(|ready| *ready).await.is_err() {
            return;
        }
        let sent = if message.is_string {
            let Ok(text) = std::str::from_utf8(&message.data) else {
                eprintln!("the man in the middle dropped a text message that was not UTF-8");
                continue;
            };
            if control {
                mitm.record
                    .lock()
                    .unwrap()
                    .relayed_control
                    .push(text.to_owned());
            }
            to.channel.send_text(text).await
        } else {
            to.channel.send(message.data).await
        };
        if let Err(error) = sent {
            eprintln!("the man in the middle could not relay a message: {error}");
        }
    }
}

/// Passes a leg's ICE candidates on; runs on the webrtc-rs driver, so it only queues.
struct Candidates(mpsc::UnboundedSender<Signal>);

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Candidates {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        let Ok(init) = event.candidate.to_json() else {
            return;
        };
        // One m-line; browsers refuse webrtc-rs's own sdp_mid of "" (as the native peer).
        let _ = self.0.send(Signal::Candidate {
            candidate: init.candidate,
            sdp_mid: None,
            sdp_m_line_index: Some(0),
            username_fragment: init.username_fragment,
        });
    }
}
