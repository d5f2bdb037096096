//! The WebSocket to the signaling server: join a room, then trade messages.
//!
//! The server is only needed to find peers and to exchange SDP and ICE; once a peer
//! connection stands it no longer matters. So this module hands the mesh two plain
//! channels and keeps the socket alive with pings in a task of its own; when the socket
//! ends, the incoming channel simply ends and the links carry on.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use meshdrop_protocol::signaling::{
    ClientMessage, IceServer, PeerInfo, ServerMessage, MIN_SESSION_KEY_HEX,
};
use meshdrop_protocol::{PeerId, RoomId, PROTOCOL_VERSION};
use rand::RngCore;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::error::{Error, Result};

/// Well inside the server's idle timeout (60 s by default).
const PING_INTERVAL: Duration = Duration::from_secs(20);
/// How long to wait for the TCP + WebSocket handshake and then for `welcome`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What the server told us when it let us in.
#[derive(Debug)]
pub struct Welcome {
    pub peer_id: PeerId,
    pub peers: Vec<PeerInfo>,
    pub ice_servers: Vec<IceServer>,
}

/// A joined signaling connection.
pub struct Signaling {
    outgoing: mpsc::UnboundedSender<ClientMessage>,
    incoming: mpsc::UnboundedReceiver<ServerMessage>,
}

impl Signaling {
    /// Connect to `url`, join `room` (or without one, our network's) as `name` and wait
    /// for the welcome.
    pub async fn join(url: &str, room: Option<&RoomId>, name: &str) -> Result<(Self, Welcome)> {
        let unreachable = |reason: String| Error::ServerUnreachable {
            url: url.to_owned(),
            reason,
        };
        let (mut socket, _) =
            tokio::time::timeout(CONNECT_TIMEOUT, tokio_tungstenite::connect_async(url))
                .await
                .map_err(|_| unreachable("timed out".into()))?
                .map_err(|error| unreachable(error.to_string()))?;

        let join = ClientMessage::Join {
            version: PROTOCOL_VERSION,
            room: room.cloned(),
            name: name.to_owned(),
            session_key: fresh_session_key(),
        };
        socket
            .send(encode(&join))
            .await
            .map_err(|error| unreachable(error.to_string()))?;
        let welcome = tokio::time::timeout(CONNECT_TIMEOUT, await_welcome(&mut socket))
            .await
            .map_err(|_| unreachable("no welcome from the server".into()))??;

        let (outgoing, outgoing_rx) = mpsc::unbounded_channel();
        let (incoming_tx, incoming) = mpsc::unbounded_channel();
        tokio::spawn(pump(socket, outgoing_rx, incoming_tx));
        Ok((Self { outgoing, incoming }, welcome))
    }

    /// Queue a message for the server; dropped silently once the socket is gone, since
    /// nothing the mesh sends is worth anything without a server to forward it.
    pub fn send(&self, message: ClientMessage) {
        let _ = self.outgoing.send(message);
    }

    /// The next message from the server, or `None` once the socket has closed.
    pub async fn recv(&mut self) -> Option<ServerMessage> {
        self.incoming.recv().await
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
                peers,
                ice_servers,
                ..
            }) => {
                return Ok(Welcome {
                    peer_id,
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

/// Move messages between the socket and the channels until either side ends.
async fn pump(
    socket: Socket,
    mut outgoing: mpsc::UnboundedReceiver<ClientMessage>,
    incoming: mpsc::UnboundedSender<ServerMessage>,
) {
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
                    if incoming.send(message).is_err() {
                        break;
                    }
                }
            }
            message = outgoing.recv() => {
                let Some(message) = message else { break };
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
}
