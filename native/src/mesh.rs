//! The mesh: one [`PeerLink`] to every other peer in the room, steered by signaling.
//!
//! Which link to open, answer, ICE-restart, rebuild or close is decided by the mesh rules
//! of `meshdrop-mesh`, the web app's too (see `docs/protocol.md`, section 2), so a
//! terminal and a browser can share a room: this module feeds them what signaling, the
//! links and the clock say, and carries out their outputs on webrtc-rs.
//!
//! The mesh runs as a task of its own so that its negotiation steps never sit inside an
//! application `select!` that might drop them half-way. The application gets a
//! [`Mesh`] handle: [`MeshEvent`]s in order, and an `Arc<PeerLink>` for every connected
//! peer to send on directly, so sending never waits for the mesh task.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use meshdrop_mesh::path::{offers_relay, Reach};
use meshdrop_mesh::{Config, LinkState, Output};
use meshdrop_protocol::frame::ControlFrame;
use meshdrop_protocol::signaling::{ClientMessage, IceServer, PeerInfo, ServerMessage, Signal};
use meshdrop_protocol::{PeerId, RoomId};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use webrtc::peer_connection::{RTCCertificate, RTCConfigurationBuilder, RTCIceServer};

use crate::certificate::DeviceCertificate;
use crate::error::Result;
use crate::link::{EventSinks, LinkEvent, LinkId, PeerLink};
use crate::signaling::{Signaling, SignalingEvent, Welcome};

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
    /// How long a peer out of the room may take to come back before it is gone.
    pub gone_after: Duration,
    /// Presented on every connection, so peers see the same device every time.
    pub device: DeviceCertificate,
}

/// What the mesh tells the application, in the order it happened.
pub enum MeshEvent {
    /// The link to `peer` is up (first, or again: then `link` may be a new one); send
    /// to it through `link`.
    Connected {
        peer: PeerId,
        name: String,
        link: Arc<PeerLink>,
    },
    /// The link to `peer` is down for now; the mesh is recovering it.
    LinkDown(PeerId),
    /// `peer` left the room without a working link; it may come back under its id.
    Left(PeerId),
    /// `peer` has been away too long: gone for good. Its `link` is dead.
    Disconnected(PeerId),
    /// The signaling server is back (after a restart or a lost socket) and let us in
    /// again under `self_id`, our id from before.
    Rejoined {
        self_id: PeerId,
    },
    Renamed {
        peer: PeerId,
        name: String,
    },
    /// No link has reached `peer` since we met it; the mesh goes on trying.
    NoPath {
        peer: PeerId,
        reach: Reach,
    },
    /// `peer` joined the room (those already there are in [`Mesh::initial_peers`]).
    Joined(PeerId),
    /// A PAKE message from `peer`, for pairing by code; not the mesh rules' business.
    Pake {
        from: PeerId,
        message: String,
    },
    /// A control frame from `peer`, on `link`, the link it arrived on.
    Control {
        from: PeerId,
        link: Arc<PeerLink>,
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
    /// The room joined: the one asked for, or the network's.
    pub room: RoomId,
    /// Who was in the room when we joined: we are offering to each of them.
    pub initial_peers: Vec<PeerInfo>,
    /// To send signals of the application's own (PAKE messages) through the server.
    signals: mpsc::UnboundedSender<ClientMessage>,
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
        let room = welcome.room.clone();
        let signals = signaling.sender();
        let (events_tx, events) = mpsc::channel(EVENT_BACKLOG);
        let (shutdown, shutdown_rx) = oneshot::channel();
        let rules = meshdrop_mesh::Mesh::new(Config {
            gone_after: config.gone_after,
            ..Config::default()
        });
        let state = MeshState::new(
            signaling,
            welcome,
            config.ice_servers,
            config.device.certificate,
            rules,
            events_tx,
        );
        let task = tokio::spawn(state.run(shutdown_rx));
        Ok(Self {
            self_id,
            room,
            initial_peers,
            signals,
            events,
            shutdown: Some(shutdown),
            task,
        })
    }

    /// Send `signal` to `peer` through the server (dropped while it is unreachable).
    pub fn send_signal(&self, to: PeerId, signal: Signal) {
        let _ = self.signals.send(ClientMessage::Signal {
            to,
            signal: signal.into(),
        });
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
    id: meshdrop_mesh::LinkId,
    peer: Arc<PeerLink>,
}

/// Everything the mesh task owns.
struct MeshState {
    signaling: Signaling,
    /// Our ICE servers; the server's from the latest `welcome` are added to them.
    ours: Vec<IceServer>,
    ice_servers: Vec<RTCIceServer>,
    /// This device's certificate, presented on every connection.
    certificate: RTCCertificate,
    /// The mesh rules; every decision about links is theirs.
    rules: meshdrop_mesh::Mesh,
    /// The rules' clock starts here.
    epoch: tokio::time::Instant,
    names: HashMap<PeerId, String>,
    links: HashMap<PeerId, Link>,
    sinks: EventSinks,
    control_events: mpsc::UnboundedReceiver<(LinkId, LinkEvent)>,
    data_events: mpsc::Receiver<(LinkId, LinkEvent)>,
    app: mpsc::Sender<MeshEvent>,
    welcome: Option<Welcome>,
    /// What the server said that is still to be told to the application.
    pending: Vec<MeshEvent>,
}

impl MeshState {
    fn new(
        signaling: Signaling,
        welcome: Welcome,
        ours: Vec<IceServer>,
        certificate: RTCCertificate,
        rules: meshdrop_mesh::Mesh,
        app: mpsc::Sender<MeshEvent>,
    ) -> Self {
        let (control, control_events) = mpsc::unbounded_channel();
        let (data, data_events) = mpsc::channel(EVENT_BACKLOG);
        Self {
            signaling,
            ours,
            ice_servers: Vec::new(),
            certificate,
            rules,
            epoch: tokio::time::Instant::now(),
            names: HashMap::new(),
            links: HashMap::new(),
            sinks: EventSinks { control, data },
            control_events,
            data_events,
            app,
            welcome: Some(welcome),
            pending: Vec::new(),
        }
    }

    fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    async fn run(mut self, mut shutdown: oneshot::Receiver<()>) {
        if let Some(welcome) = self.welcome.take() {
            self.on_welcome(welcome);
        }
        loop {
            if !self.drive().await {
                break;
            }
            let wake = self.rules.poll_timeout().map(|due| self.epoch + due);
            let now = self.now();
            tokio::select! {
                _ = &mut shutdown => break,
                event = self.signaling.recv() => match event {
                    Some(SignalingEvent::Message(message)) => self.on_server_message(message, now),
                    Some(SignalingEvent::Lost) => {
                        tracing::info!("signaling server connection lost; links stay up");
                        self.rules.handle_signaling_lost();
                    }
                    Some(SignalingEvent::Rejoined(welcome)) => {
                        let self_id = welcome.peer_id.clone();
                        self.on_welcome(welcome);
                        if !self.emit(MeshEvent::Rejoined { self_id }).await {
                            break;
                        }
                    }
                    None => break,
                },
                Some((id, event)) = self.control_events.recv() => {
                    if !self.on_link_event(id, event).await {
                        break;
                    }
                }
                Some((id, event)) = self.data_events.recv() => {
                    if !self.on_link_event(id, event).await {
                        break;
                    }
                }
                () = sleep_until(wake) => {
                    let now = self.now();
                    self.rules.handle_timeout(now);
                }
            }
        }
        self.close_all().await;
    }

    fn on_welcome(&mut self, welcome: Welcome) {
        self.ice_servers = self
            .ours
            .iter()
            .chain(&welcome.ice_servers)
            .map(to_rtc_ice_server)
            .collect();
        for peer in &welcome.peers {
            self.names.insert(peer.id.clone(), peer.name.clone());
        }
        let ids: Vec<PeerId> = welcome.peers.iter().map(|peer| peer.id.clone()).collect();
        let now = self.now();
        self.rules.handle_welcome(now, welcome.peer_id, &ids);
    }

    fn on_server_message(&mut self, message: ServerMessage, now: Duration) {
        match message {
            ServerMessage::PeerJoined { peer } => {
                self.names.insert(peer.id.clone(), peer.name);
                self.rules.handle_peer_joined(now, &peer.id);
                self.pending.push(MeshEvent::Joined(peer.id));
            }
            ServerMessage::PeerRenamed { peer } => {
                self.names.insert(peer.id.clone(), peer.name.clone());
                // Told to the application with the next drive.
                self.pending.push(MeshEvent::Renamed {
                    peer: peer.id,
                    name: peer.name,
                });
            }
            ServerMessage::PeerLeft { peer_id } => self.rules.handle_peer_left(now, &peer_id),
            ServerMessage::Signal { from, signal } => match signal.to_signal() {
                Err(error) => {
                    tracing::warn!(peer = %from, %error, "ignored a signal this peer cannot read");
                }
                Ok(Signal::Pake { message }) => {
                    self.pending.push(MeshEvent::Pake { from, message });
                }
                Ok(signal) => self.rules.handle_signal(now, &from, signal),
            },
            ServerMessage::Error { code, message } => {
                tracing::warn!(?code, %message, "the signaling server refused a message");
            }
            ServerMessage::Welcome { .. } | ServerMessage::Pong => {}
        }
    }

    /// Carry out everything the rules ask; false once the application is gone.
    async fn drive(&mut self) -> bool {
        for event in std::mem::take(&mut self.pending) {
            if !self.emit(event).await {
                return false;
            }
        }
        while let Some(output) = self.rules.poll_output() {
            if !self.act(output).await {
                return false;
            }
        }
        true
    }

    async fn act(&mut self, output: Output) -> bool {
        match output {
            Output::OpenLink {
                peer,
                link,
                rebuild,
            } => {
                if rebuild {
                    tracing::info!(%peer, "offering a new connection");
                }
                self.open_link(peer, link, None).await;
            }
            Output::AnswerOffer {
                peer, link, sdp, ..
            } => self.open_link(peer, link, Some(sdp)).await,
            Output::ApplySignal { peer, link, signal } => {
                let Some(current) = self.links.get(&peer).filter(|l| l.id == link) else {
                    return true;
                };
                match current.peer.apply_signal(signal).await {
                    Ok(Some(answer)) => self.send_signal(peer, answer),
                    Ok(None) => {}
                    // A candidate the stack refuses only costs that one path.
                    Err(error) => tracing::debug!(%peer, %error, "signal not applied"),
                }
            }
            Output::RestartIce { peer, link } => {
                let Some(current) = self.links.get(&peer).filter(|l| l.id == link) else {
                    return true;
                };
                tracing::info!(%peer, "restarting ICE");
                match current.peer.restart_ice().await {
                    Ok(offer) => self.send_signal(peer, offer),
                    Err(error) => {
                        tracing::warn!(%peer, %error, "cannot restart ICE");
                        let now = self.now();
                        self.rules
                            .handle_link_state(now, &peer, link, LinkState::Failed);
                    }
                }
            }
            Output::CloseLink { peer, link } => {
                if self.links.get(&peer).is_some_and(|l| l.id == link) {
                    if let Some(old) = self.links.remove(&peer) {
                        tokio::spawn(async move { old.peer.close().await });
                    }
                }
            }
            Output::LinkUp { peer } => {
                // LINK UP: the single place the application learns the link to `peer`
                // is (again) up, with the link to go on with.
                let Some(link) = self.links.get(&peer) else {
                    return true;
                };
                let event = MeshEvent::Connected {
                    name: self
                        .names
                        .get(&peer)
                        .cloned()
                        .unwrap_or_else(|| peer.to_string()),
                    link: link.peer.clone(),
                    peer,
                };
                return self.emit(event).await;
            }
            // LINK DOWN: the single place the application learns the link to `peer` is
            // down for now; nothing may fail because of it.
            Output::LinkDown { peer } => return self.emit(MeshEvent::LinkDown(peer)).await,
            // Its link was closed just before.
            Output::PeerLeft { peer } => return self.emit(MeshEvent::Left(peer)).await,
            Output::PeerGone { peer } => return self.emit(MeshEvent::Disconnected(peer)).await,
            Output::NoPath { peer } => {
                let urls = self.ice_servers.iter().flat_map(|server| &server.urls);
                let reach = Reach::NoPath {
                    relay_offered: offers_relay(urls.map(String::as_str)),
                };
                return self.emit(MeshEvent::NoPath { peer, reach }).await;
            }
        }
        true
    }

    /// Create link `link` to `peer`: as the offerer when `offer` is `None`, else as the
    /// answerer of that offer.
    async fn open_link(
        &mut self,
        peer: PeerId,
        link: meshdrop_mesh::LinkId,
        offer: Option<String>,
    ) {
        let id = LinkId {
            peer: peer.clone(),
            generation: link.0,
        };
        let configuration = RTCConfigurationBuilder::new()
            .with_ice_servers(self.ice_servers.clone())
            .with_certificates(vec![self.certificate.clone()])
            .build();
        let opened = match offer {
            Some(sdp) => PeerLink::answer(id, configuration, &self.sinks, sdp).await,
            None => PeerLink::offer(id, configuration, &self.sinks).await,
        };
        match opened {
            Ok(connection) => {
                let connection = Link {
                    id: link,
                    peer: Arc::new(connection),
                };
                if let Some(old) = self.links.insert(peer, connection) {
                    tokio::spawn(async move { old.peer.close().await });
                }
            }
            Err(error) => {
                tracing::warn!(%peer, %error, "cannot set up a connection");
                let now = self.now();
                self.rules
                    .handle_link_state(now, &peer, link, LinkState::Failed);
            }
        }
    }

    fn send_signal(&self, to: PeerId, signal: Signal) {
        self.signaling.send(ClientMessage::Signal {
            to,
            signal: signal.into(),
        });
    }

    /// Handle one link event; false once the application is gone.
    async fn on_link_event(&mut self, id: LinkId, event: LinkEvent) -> bool {
        let current = self
            .links
            .get(&id.peer)
            .is_some_and(|link| link.id.0 == id.generation);
        if !current {
            return true;
        }
        let peer = id.peer;
        match event {
            LinkEvent::Signal(signal) => {
                self.send_signal(peer, signal);
                true
            }
            LinkEvent::State(state) => {
                let now = self.now();
                let link = meshdrop_mesh::LinkId(id.generation);
                self.rules.handle_link_state(now, &peer, link, state);
                true
            }
            LinkEvent::Control(frame) => {
                let Some(link) = self.links.get(&peer).map(|link| link.peer.clone()) else {
                    return true;
                };
                self.emit(MeshEvent::Control {
                    from: peer,
                    link,
                    frame,
                })
                .await
            }
            LinkEvent::Data(chunk) => self.emit(MeshEvent::Data { from: peer, chunk }).await,
            LinkEvent::DataDrained => self.emit(MeshEvent::DataDrained(peer)).await,
        }
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

/// Wait until `wake`, or forever without one.
async fn sleep_until(wake: Option<tokio::time::Instant>) {
    match wake {
        Some(wake) => tokio::time::sleep_until(wake).await,
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
