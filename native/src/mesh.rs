//! The mesh: one [`PeerLink`] to every other peer in the room, steered by signaling.
//!
//! The rules are the web client's (see `docs/protocol.md`, section 2), so a terminal and
//! a browser can share a room:
//! * the **newcomer offers**: `welcome` lists the peers already there and we offer to
//!   each; a `peer_joined` only records the peer and waits for its offer;
//! * an **offer replaces** whatever link we had with its sender;
//! * the server is needed only to set links up: a peer the server reports gone keeps a
//!   working link until the link itself closes.
//!
//! The mesh runs as a task of its own so that its negotiation steps never sit inside an
//! application `select!` that might drop them half-way. The application gets a
//! [`Mesh`] handle: [`MeshEvent`]s in order, and an `Arc<PeerLink>` for every connected
//! peer to send on directly, so sending never waits for the mesh task.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use meshdrop_protocol::frame::ControlFrame;
use meshdrop_protocol::signaling::{ClientMessage, IceServer, PeerInfo, ServerMessage, Signal};
use meshdrop_protocol::{PeerId, RoomId};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use webrtc::peer_connection::RTCIceServer;

use crate::error::Result;
use crate::link::{EventSinks, LinkEvent, LinkId, PeerLink};
use crate::signaling::{Signaling, Welcome};

/// Events waiting for the application before the mesh stops reading its links. Small, so
/// a slow disk slows the sending peer down instead of filling memory.
const EVENT_BACKLOG: usize = 64;
/// How long closing waits for chat lines and final frames to be acknowledged.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(3);

/// Everything needed to join.
pub struct JoinConfig {
    pub server_url: String,
    /// `None` for the room of this machine's network.
    pub room: Option<RoomId>,
    pub name: String,
    /// Ours, from the command line; the server's from `welcome` are added to them.
    pub ice_servers: Vec<IceServer>,
}

/// What the mesh tells the application, in the order it happened.
pub enum MeshEvent {
    /// The control channel to `peer` is open; send to it through `link`.
    Connected {
        peer: PeerId,
        name: String,
        link: Arc<PeerLink>,
    },
    /// The link to `peer` failed, closed, or could not be set up. Its `link` is dead.
    Disconnected(PeerId),
    /// The server says `peer` left the room. Its link, if working, stays up until it
    /// closes (the peer may only be reconnecting to the server).
    Left(PeerId),
    Renamed {
        peer: PeerId,
        name: String,
    },
    Control {
        from: PeerId,
        frame: ControlFrame,
    },
    Data {
        from: PeerId,
        chunk: Bytes,
    },
    /// The data channel to `peer` drained below its low-water mark.
    DataDrained(PeerId),
}

/// The application's handle on the running mesh.
pub struct Mesh {
    /// The id the server gave us in this room.
    pub self_id: PeerId,
    /// Who was in the room when we joined: we are offering to each of them.
    pub initial_peers: Vec<PeerInfo>,
    events: mpsc::Receiver<MeshEvent>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Mesh {
    /// Join the room and start offering to everyone in it.
    pub async fn join(config: JoinConfig) -> Result<Self> {
        let (signaling, welcome) =
            Signaling::join(&config.server_url, config.room.as_ref(), &config.name).await?;
        tracing::info!(peer_id = %welcome.peer_id, peers = welcome.peers.len(), "joined");
        let initial_peers = welcome.peers.clone();
        let self_id = welcome.peer_id.clone();
        let (events_tx, events) = mpsc::channel(EVENT_BACKLOG);
        let (shutdown, shutdown_rx) = oneshot::channel();
        let state = MeshState::new(signaling, welcome, config.ice_servers, events_tx);
        let task = tokio::spawn(state.run(shutdown_rx));
        Ok(Self {
            self_id,
            initial_peers,
            events,
            shutdown: Some(shutdown),
            task,
        })
    }

    /// The next event; `None` once the mesh has stopped.
    pub async fn next(&mut self) -> Option<MeshEvent> {
        self.events.recv().await
    }

    /// Let every link deliver what was sent on it, then close them all.
    pub async fn shutdown(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        // Keep draining so the mesh task never waits on a full queue while flushing.
        while self.events.recv().await.is_some() {}
        let _ = (&mut self.task).await;
    }
}

struct Link {
    generation: u64,
    peer: Arc<PeerLink>,
    open: bool,
}

/// Everything the mesh task owns.
struct MeshState {
    signaling: Option<Signaling>,
    ice_servers: Vec<RTCIceServer>,
    names: HashMap<PeerId, String>,
    links: HashMap<PeerId, Link>,
    next_generation: u64,
    sinks: EventSinks,
    control_events: mpsc::UnboundedReceiver<(LinkId, LinkEvent)>,
    data_events: mpsc::Receiver<(LinkId, LinkEvent)>,
    app: mpsc::Sender<MeshEvent>,
    welcome_peers: Vec<PeerInfo>,
}

impl MeshState {
    fn new(
        signaling: Signaling,
        welcome: Welcome,
        ours: Vec<IceServer>,
        app: mpsc::Sender<MeshEvent>,
    ) -> Self {
        let (control, control_events) = mpsc::unbounded_channel();
        let (data, data_events) = mpsc::channel(EVENT_BACKLOG);
        let ice_servers = ours
            .iter()
            .chain(&welcome.ice_servers)
            .map(to_rtc_ice_server)
            .collect();
        Self {
            signaling: Some(signaling),
            ice_servers,
            names: HashMap::new(),
            links: HashMap::new(),
            next_generation: 0,
            sinks: EventSinks { control, data },
            control_events,
            data_events,
            app,
            welcome_peers: welcome.peers,
        }
    }

    async fn run(mut self, mut shutdown: oneshot::Receiver<()>) {
        for peer in std::mem::take(&mut self.welcome_peers) {
            self.see(&peer);
            self.open_link(peer.id, None).await;
        }
        loop {
            let keep_going = tokio::select! {
                _ = &mut shutdown => break,
                message = recv_server(&mut self.signaling) => match message {
                    Some(message) => self.on_server_message(message).await,
                    None => {
                        tracing::info!("signaling server connection closed; links stay up");
                        self.signaling = None;
                        true
                    }
                },
                Some((id, event)) = self.control_events.recv() => self.on_link_event(id, event).await,
                Some((id, event)) = self.data_events.recv() => self.on_link_event(id, event).await,
            };
            if !keep_going {
                break;
            }
        }
        self.close_all().await;
    }

    fn see(&mut self, peer: &PeerInfo) {
        self.names.insert(peer.id.clone(), peer.name.clone());
    }

    /// Handle one server message; false once the application is gone.
    async fn on_server_message(&mut self, message: ServerMessage) -> bool {
        match message {
            ServerMessage::PeerJoined { peer } => self.see(&peer),
            ServerMessage::PeerRenamed { peer } => {
                self.see(&peer);
                return self
                    .emit(MeshEvent::Renamed {
                        peer: peer.id,
                        name: peer.name,
                    })
                    .await;
            }
            ServerMessage::PeerLeft { peer_id } => {
                if !self.emit(MeshEvent::Left(peer_id.clone())).await {
                    return false;
                }
                let working = self.links.get(&peer_id).is_some_and(|link| link.open);
                if !working {
                    return self.drop_link(&peer_id).await;
                }
            }
            ServerMessage::Signal { from, signal } => match signal.to_signal() {
                Err(error) => {
                    tracing::warn!(peer = %from, %error, "ignored a signal this peer cannot read");
                }
                Ok(signal @ Signal::Offer { .. }) => self.open_link(from, Some(signal)).await,
                Ok(other) => self.apply_signal(&from, other).await,
            },
            ServerMessage::Error { code, message } => {
                tracing::warn!(?code, %message, "the signaling server refused a message");
            }
            ServerMessage::Welcome { .. } | ServerMessage::Pong => {}
        }
        true
    }

    /// Open a fresh link to `peer`, replacing any old one: as the offerer when `offer` is
    /// `None`, else as the answerer of that offer.
    async fn open_link(&mut self, peer: PeerId, offer: Option<Signal>) {
        self.next_generation += 1;
        let generation = self.next_generation;
        let id = LinkId {
            peer: peer.clone(),
            generation,
        };
        if let Some(old) = self.links.remove(&peer) {
            tokio::spawn(async move { old.peer.close().await });
            if old.open {
                self.emit(MeshEvent::Disconnected(peer.clone())).await;
            }
        }
        let opened = match offer {
            Some(Signal::Offer { sdp }) => {
                PeerLink::answer(id, &self.ice_servers, &self.sinks, sdp).await
            }
            _ => PeerLink::offer(id, &self.ice_servers, &self.sinks).await,
        };
        match opened {
            Ok(link) => {
                let link = Link {
                    generation,
                    peer: Arc::new(link),
                    open: false,
                };
                self.links.insert(peer, link);
            }
            Err(error) => {
                tracing::warn!(%peer, %error, "cannot set up a connection");
                self.emit(MeshEvent::Disconnected(peer)).await;
            }
        }
    }

    async fn apply_signal(&mut self, from: &PeerId, signal: Signal) {
        let Some(link) = self.links.get(from) else {
            return;
        };
        // A candidate the stack refuses only costs that one path.
        if let Err(error) = link.peer.apply_signal(signal).await {
            tracing::debug!(peer = %from, %error, "signal not applied");
        }
    }

    /// Handle one link event; false once the application is gone.
    async fn on_link_event(&mut self, id: LinkId, event: LinkEvent) -> bool {
        let current = self
            .links
            .get(&id.peer)
            .is_some_and(|link| link.generation == id.generation);
        if !current {
            return true;
        }
        let peer = id.peer;
        match event {
            LinkEvent::Signal(signal) => {
                if let Some(signaling) = &self.signaling {
                    signaling.send(ClientMessage::Signal {
                        to: peer,
                        signal: signal.into(),
                    });
                }
                true
            }
            LinkEvent::Open => {
                let Some(link) = self.links.get_mut(&peer) else {
                    return true;
                };
                link.open = true;
                let event = MeshEvent::Connected {
                    name: self
                        .names
                        .get(&peer)
                        .cloned()
                        .unwrap_or_else(|| peer.to_string()),
                    link: link.peer.clone(),
                    peer,
                };
                self.emit(event).await
            }
            LinkEvent::Closed => self.drop_link(&peer).await,
            LinkEvent::Control(frame) => self.emit(MeshEvent::Control { from: peer, frame }).await,
            LinkEvent::Data(chunk) => self.emit(MeshEvent::Data { from: peer, chunk }).await,
            LinkEvent::DataDrained => self.emit(MeshEvent::DataDrained(peer)).await,
        }
    }

    async fn drop_link(&mut self, peer: &PeerId) -> bool {
        let Some(link) = self.links.remove(peer) else {
            return true;
        };
        link.peer.close().await;
        self.emit(MeshEvent::Disconnected(peer.clone())).await
    }

    /// Hand an event to the application; false once it stopped listening.
    async fn emit(&self, event: MeshEvent) -> bool {
        self.app.send(event).await.is_ok()
    }

    async fn close_all(&mut self) {
        let links: Vec<_> = self.links.drain().map(|(_, link)| link.peer).collect();
        let flushed = futures_util::future::join_all(links.iter().map(|link| async move {
            while !link.control_flushed().await {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }));
        let _ = tokio::time::timeout(FLUSH_TIMEOUT, flushed).await;
        futures_util::future::join_all(links.iter().map(|link| link.close())).await;
    }
}

/// The next server message, or never once the server is gone (the links carry on).
async fn recv_server(signaling: &mut Option<Signaling>) -> Option<ServerMessage> {
    match signaling {
        Some(signaling) => signaling.recv().await,
        None => std::future::pending().await,
    }
}

fn to_rtc_ice_server(server: &IceServer) -> RTCIceServer {
    RTCIceServer {
        urls: server.urls.clone(),
        username: server.username.clone().unwrap_or_default(),
        credential: server.credential.clone().unwrap_or_default(),
    }
}
