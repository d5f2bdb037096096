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

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use futures_util::{SinkExt, StreamExt};
use meshdrop_protocol::signaling::{
    parse_client_message, ClientMessage, ErrorCode, PeerInfo, ServerMessage, Signal, SignalObject,
};
use meshdrop_protocol::{PeerId, RoomId, PROTOCOL_VERSION};
use meshdrop_signaling_server::DEFAULT_LIMITS;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

mod leg;

use crate::error::Result;
use crate::server::ServesApp;
use crate::stand_in::StandIn;

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
    fn other(&self, client: &PeerId) -> Option<PeerId> {
        let room = self.room.lock().unwrap();
        room.clients
            .iter()
            .find(|other| other.id != *client)
            .map(|other| other.id.clone())
    }

    /// Sends `message` to the client other than `client`, if it is connected.
    fn tell_other(&self, client: &PeerId, message: ServerMessage) {
        if let Some(other) = self.other(client) {
            self.send(&other, message);
        }
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
            if let Err(error) = leg::stand_between(&mitm, first, second).await {
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
            let mut room = mitm.room.lock().unwrap();
            for client in room.clients.iter_mut().filter(|client| client.id == *id) {
                client.name = peer.name.clone();
            }
            drop(room);
            mitm.tell_other(id, ServerMessage::PeerRenamed { peer });
        }
        ClientMessage::Signal { to, signal } => {
            if mitm.other(id) != Some(to) {
                return Err(ErrorCode::UnknownPeer);
            }
            if !is_negotiation(&signal) {
                let from = id.clone();
                mitm.tell_other(id, ServerMessage::Signal { from, signal });
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
    let mut room = mitm.room.lock().unwrap();
    if room.outboxes.get(id).map(|outbox| outbox.socket) != Some(socket) {
        return;
    }
    room.outboxes.remove(id);
    drop(room);
    let peer_id = id.clone();
    mitm.tell_other(id, ServerMessage::PeerLeft { peer_id });
}
