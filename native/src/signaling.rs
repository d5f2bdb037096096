//! The WebSocket to the signaling server: join a room, then trade messages, and join
//! again whenever the socket is lost.
//!
//! The server is only needed to find peers and to exchange SDP and ICE; once a peer
//! connection stands it no longer matters. So this module hands the mesh two plain
//! channels and keeps the socket alive with pings in a task of its own. When the socket
//! ends, the mesh hears [`SignalingEvent::Lost`] and the links carry on, while the task
//! dials again with jittered backoff (as the web app does) and joins with the same
//! session key, so the server gives back the same peer id; the new `welcome` comes
//! through as any other message.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use meshdrop_protocol::signaling::{
    ClientMessage, IceServer, PeerInfo, ServerMessage, MIN_SESSION_KEY_HEX,
};
use meshdrop_protocol::{PeerId, RoomId, PROTOCOL_VERSION};
use rand::{Rng, RngCore};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::error::{Error, Result};

/// Well inside the server's idle timeout (60 s by default).
const PING_INTERVAL: Duration = Duration::from_secs(20);
/// How long to wait for the TCP + WebSocket handshake and then for `welcome`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// First redial delay; doubled after each failed attempt up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// A restarted server has every peer back within about this long. Each waits a random
/// half to whole of the delay, so a restart is not met by every peer at once.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What the server told us when it let us in.
#[derive(Debug)]
pub struct Welcome {
    pub peer_id: PeerId,
    /// The room joined: the one asked for, or the network's.
    pub room: RoomId,
    pub peers: Vec<PeerInfo>,
    pub ice_servers: Vec<IceServer>,
}

/// What the connection tells the mesh.
#[derive(Debug)]
pub enum SignalingEvent {
    Message(ServerMessage),
    /// The socket closed; [`SignalingEvent::Rejoined`] follows once it is joined again.
    Lost,
    /// Joined again after [`SignalingEvent::Lost`], with the same peer id.
    Rejoined(Welcome),
}

/// A joined signaling connection, rejoining by itself.
pub struct Signaling {
    outgoing: mpsc::UnboundedSender<ClientMessage>,
    incoming: mpsc::UnboundedReceiver<SignalingEvent>,
}

impl Signaling {
    /// Connect to `url`, join `room` (or without one, our network's) as `name` and wait
    /// for the welcome.
    pub async fn join(url: &str, room: Option<&RoomId>, name: &str) -> Result<(Self, Welcome)> {
        let join = ClientMessage::Join {
            version: PROTOCOL_VERSION,
            room: room.cloned(),
            name: name.to_owned(),
            session_key: fresh_session_key(),
        };
        let (socket, welcome) = connect(url, &join).await?;
        let (outgoing, outgoing_rx) = mpsc::unbounded_channel();
        let (incoming_tx, incoming) = mpsc::unbounded_channel();
        tokio::spawn(stay_joined(
            url.to_owned(),
            join,
            socket,
            outgoing_rx,
            incoming_tx,
        ));
        Ok((Self { outgoing, incoming }, welcome))
    }

    /// Queue a message for the server; dropped silently while the socket is down, since
    /// the mesh rules derive everything again from the next `welcome`.
    pub fn send(&self, message: ClientMessage) {
        let _ = self.outgoing.send(message);
    }

    /// A handle to queue messages with, like [`Self::send`], from elsewhere.
    pub fn sender(&self) -> mpsc::UnboundedSender<ClientMessage> {
        self.outgoing.clone()
    }

    /// The next message from the server or loss of the socket; `None` only once the
    /// connection task has stopped.
    pub async fn recv(&mut self) -> Option<SignalingEvent> {
        self.incoming.recv().await
    }
}

/// Dial `url`, send `join` and wait for the welcome.
async fn connect(url: &str, join: &ClientMessage) -> Result<(Socket, Welcome)> {
    let unreachable = |reason: String| Error::ServerUnreachable {
        url: url.to_owned(),
        reason,
    };
    let (mut socket, _) =
        tokio::time::timeout(CONNECT_TIMEOUT, tokio_tungstenite::connect_async(url))
            .await
            .map_err(|_| unreachable("timed out".into()))?
            .map_err(|error| unreachable(error.to_string()))?;
    socket
        .send(encode(join))
        .await
        .map_err(|error| unreachable(error.to_string()))?;
    let welcome = tokio::time::timeout(CONNECT_TIMEOUT, await_welcome(&mut socket))
        .await
        .map_err(|_| unreachable("no welcome from the server".into()))??;
    Ok((socket, welcome))
}

/// Pump `socket` until it ends, then dial and join again, for as long as the mesh
/// listens.
async fn stay_joined(
    url: String,
    join: ClientMessage,
    mut socket: Socket,
    mut outgoing: mpsc::UnboundedReceiver<ClientMessage>,
    incoming: mpsc::UnboundedSender<SignalingEvent>,
) {
    loop {
        if !pump(socket, &mut outgoing, &incoming).await {
            return;
        }
        if incoming.send(SignalingEvent::Lost).is_err() {
            return;
        }
        let mut backoff = FIRST_BACKOFF;
        socket = loop {
            let half = backoff / 2;
            let delay = half + half.mul_f64(rand::rng().random::<f64>());
            tokio::time::sleep(delay).await;
            // What was said to a server that is not there is void.
            while outgoing.try_recv().is_ok() {}
            match connect(&url, &join).await {
                Ok((socket, welcome)) => {
                    tracing::info!(peer_id = %welcome.peer_id, "joined again");
                    if incoming.send(SignalingEvent::Rejoined(welcome)).is_err() {
                        return;
                    }
                    break socket;
                }
                Err(error) => {
                    tracing::debug!(%error, ?delay, "signaling server still away");
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
            if incoming.is_closed() {
                return;
            }
        };
    }
}

/// A secret only this process knows: a fresh one per run, since a CLI run is a page
/// load, not a long-lived identity.
fn fresh_session_key() -> String {
    let mut key = [0u8; MIN_SESSION_KEY_HEX];
    rand::rng().fill_bytes(&mut key);
    hex::encode(key)
}

fn encode(message: &ClientMessage) -> Message {
    let text = serde_json::to_string(message).expect("client messages always serialize");
    Message::text(text)
}

fn decode(message: &Message) -> Option<ServerMessage> {
    match message {
        Message::Text(text) => serde_json::from_str(text.as_str()).ok(),
        _ => None,
    }
}

async fn await_welcome(socket: &mut Socket) -> Result<Welcome> {
    while let Some(message) = socket.next().await {
        let message = message.map_err(|_| Error::ServerClosed)?;
        match decode(&message) {
            Some(ServerMessage::Welcome {
                peer_id,
                room,
                peers,
                ice_servers,
                ..
            }) => {
                return Ok(Welcome {
                    peer_id,
                    room,
                    peers,
                    ice_servers,
                })
            }
            Some(ServerMessage::Error { code, message }) => {
                return Err(Error::ServerRefused { code, message })
            }
            _ => {}
        }
    }
    Err(Error::ServerClosed)
}

/// Move messages between the socket and the channels until either side ends; false
/// once the mesh is gone.
async fn pump(
    socket: Socket,
    outgoing: &mut mpsc::UnboundedReceiver<ClientMessage>,
    incoming: &mpsc::UnboundedSender<SignalingEvent>,
) -> bool {
    let (mut sink, mut stream) = socket.split();
    let mut keepalive = tokio::time::interval(PING_INTERVAL);
    keepalive.tick().await;
    loop {
        tokio::select! {
            message = stream.next() => {
                let Some(Ok(message)) = message else { break };
                if message.is_close() {
                    break;
                }
                if let Some(message) = decode(&message) {
                    if incoming.send(SignalingEvent::Message(message)).is_err() {
                        return false;
                    }
                }
            }
            message = outgoing.recv() => {
                let Some(message) = message else { return false };
                if sink.send(encode(&message)).await.is_err() {
                    break;
                }
            }
            _ = keepalive.tick() => {
                if sink.send(encode(&ClientMessage::Ping)).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = sink.close().await;
    true
}
