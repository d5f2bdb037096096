//! The mesh: one [`PeerLink`] to every other peer in the room, steered by signaling.
//!
//! Rules that keep the mesh to exactly one connection per pair without glare:
//! * the **newcomer offers**: a `welcome` lists the peers already there, and we offer to
//!   each one we have no working link with; a `peer_joined` only records the peer and
//!   waits for its offer;
//! * an **offer replaces** whatever link we had with its sender, since the sender only
//!   offers when it has no working link to us;
//! * the server is needed only to set links up: when it goes away, working links stay,
//!   and a peer the server reports gone keeps its link until the link itself closes
//!   (it may just be reconnecting its own socket, with the same id).
//!
//! This module knows nothing about the UI: it reports [`MeshEvent`]s to a callback.

mod link;
mod signaling;

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::{Rc, Weak};

use meshdrop_protocol::frame::{ControlFrame, Device};
use meshdrop_protocol::signaling::{ClientMessage, IceServer, PeerInfo, ServerMessage, Signal};
use meshdrop_protocol::{PeerId, RoomId, PROTOCOL_VERSION};

pub use link::{Channels, LinkState};
use link::{LinkEvent, PeerLink};

use crate::transfer::{OutgoingFile, PeerTransfers, TransferAction, TransferKey, TransferView};
use signaling::{Signaling, SignalingEvent};

/// The state of the signaling connection, as the UI shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalingStatus {
    Connecting,
    Connected,
    Reconnecting { retry_in_ms: u32 },
}

/// Everything the mesh tells the UI.
pub enum MeshEvent {
    Signaling(SignalingStatus),
    /// The server accepted us into the room under this id.
    Joined {
        self_id: PeerId,
    },
    /// A peer is in the room, or changed its name.
    PeerSeen(PeerInfo),
    PeerState {
        peer: PeerId,
        state: LinkState,
    },
    /// The peer said what device it runs on.
    PeerDevice {
        peer: PeerId,
        device: Device,
    },
    /// The peer left and its link is gone.
    PeerGone(PeerId),
    Chat {
        from: PeerId,
        text: String,
        sent_at_ms: f64,
    },
    /// A transfer changed: its state, progress or saved files.
    Transfer(TransferView),
    /// The server refused something; shown to the user.
    ServerError(String),
}

/// Who we are when we join (and join again after every reconnect).
pub struct Identity {
    /// A private room from the link, or `None` for the room of our network.
    pub room: Option<RoomId>,
    pub name: String,
    /// Secret that makes the server give us the same peer id after a reconnect.
    pub session_key: String,
    /// Told to every peer as its link opens.
    pub device: Device,
}

/// A handle to the running mesh; dropping it closes the socket and every link.
pub struct Mesh {
    inner: Rc<RefCell<Inner>>,
}

struct Inner {
    identity: Identity,
    emit: Rc<dyn Fn(MeshEvent)>,
    signaling: Option<Signaling>,
    self_id: Option<PeerId>,
    ice_servers: Vec<IceServer>,
    /// Peers the server last said are in the room.
    present: HashSet<PeerId>,
    links: HashMap<PeerId, Link>,
    /// Each peer's transfers, made when a link to it first opens; they outlive links.
    transfers: HashMap<PeerId, PeerTransfers>,
    /// Stamps each link so events from a replaced link are recognised and ignored.
    next_generation: u64,
    /// The [`Milestone`]s recorded so far.
    milestones: HashSet<Milestone>,
}

struct Link {
    generation: u64,
    peer: PeerLink,
}

impl Mesh {
    pub fn start(
        server_url: String,
        identity: Identity,
        on_event: impl Fn(MeshEvent) + 'static,
    ) -> Self {
        let inner = Rc::new(RefCell::new(Inner {
            identity,
            emit: Rc::new(on_event),
            signaling: None,
            self_id: None,
            ice_servers: Vec::new(),
            present: HashSet::new(),
            links: HashMap::new(),
            transfers: HashMap::new(),
            next_generation: 0,
            milestones: HashSet::new(),
        }));
        let weak = Rc::downgrade(&inner);
        let signaling = Signaling::connect(server_url, move |event| {
            if let Some(inner) = weak.upgrade() {
                on_signaling_event(&inner, event);
            }
        });
        inner.borrow_mut().signaling = Some(signaling);
        emit(&inner, MeshEvent::Signaling(SignalingStatus::Connecting));
        Self { inner }
    }

    pub fn rename(&self, name: String) {
        let mut inner = self.inner.borrow_mut();
        inner.identity.name = name.clone();
        inner.send_signaling(&ClientMessage::Rename { name });
    }

    /// Send a chat line to every connected peer; returns the timestamp it carries.
    pub fn send_chat(&self, text: String) -> f64 {
        let sent_at_ms = js_sys::Date::now() as u64;
        let frame = ControlFrame::Chat { text, sent_at_ms };
        for link in self.inner.borrow().links.values() {
            link.peer.channels().send_control(&frame);
        }
        sent_at_ms as f64
    }

    /// Offer `files` to one peer, or to every connected peer when `to` is `None`.
    pub fn send_files(&self, to: Option<&PeerId>, files: Vec<OutgoingFile>) {
        let targets: Vec<PeerTransfers> = {
            let inner = self.inner.borrow();
            inner
                .transfers
                .iter()
                .filter(|(peer, _)| to.is_none_or(|to| to == *peer))
                .filter(|(peer, _)| inner.links.contains_key(*peer))
                .map(|(_, transfers)| transfers.clone())
                .collect()
        };
        for transfers in targets {
            transfers.offer(files.clone());
        }
    }

    /// Accept, decline or cancel a transfer.
    pub fn act(&self, key: &TransferKey, action: TransferAction) {
        let transfers = self.inner.borrow().transfers.get(&key.peer).cloned();
        if let Some(transfers) = transfers {
            transfers.act(key.id, action);
        }
    }
}

impl Inner {
    fn send_signaling(&self, message: &ClientMessage) {
        if let Some(signaling) = &self.signaling {
            signaling.send(message);
        }
    }

    fn has_working_link(&self, peer: &PeerId) -> bool {
        self.links
            .get(peer)
            .is_some_and(|link| link.peer.channels().is_open())
    }
}

/// Report an event without holding a borrow, so the UI may call back into the mesh.
fn emit(inner: &Rc<RefCell<Inner>>, event: MeshEvent) {
    let emit = inner.borrow().emit.clone();
    emit(event);
}

fn on_signaling_event(inner: &Rc<RefCell<Inner>>, event: SignalingEvent) {
    match event {
        SignalingEvent::Opened => {
            let state = inner.borrow();
            state.send_signaling(&ClientMessage::Join {
                version: PROTOCOL_VERSION,
                room: state.identity.room.clone(),
                name: state.identity.name.clone(),
                session_key: state.identity.session_key.clone(),
            });
        }
        SignalingEvent::Lost { retry_in_ms } => emit(
            inner,
            MeshEvent::Signaling(SignalingStatus::Reconnecting { retry_in_ms }),
        ),
        SignalingEvent::Message(message) => on_server_message(inner, message),
    }
}

fn on_server_message(inner: &Rc<RefCell<Inner>>, message: ServerMessage) {
    match message {
        ServerMessage::Welcome {
            peer_id,
            peers,
            ice_servers,
            ..
        } => {
            {
                let mut state = inner.borrow_mut();
                state.ice_servers = ice_servers;
                state.self_id = Some(peer_id.clone());
                state.present = peers.iter().map(|peer| peer.id.clone()).collect();
                if let Some(signaling) = &state.signaling {
                    signaling.reset_backoff();
                }
            }
            emit(inner, MeshEvent::Signaling(SignalingStatus::Connected));
            emit(inner, MeshEvent::Joined { self_id: peer_id });
            for peer in peers {
                let offer = !inner.borrow().has_working_link(&peer.id);
                let id = peer.id.clone();
                peer_seen(inner, peer);
                if offer {
                    open_link(inner, id, None);
                }
            }
        }
        ServerMessage::PeerJoined { peer } | ServerMessage::PeerRenamed { peer } => {
            inner.borrow_mut().present.insert(peer.id.clone());
            peer_seen(inner, peer);
        }
        ServerMessage::PeerLeft { peer_id } => {
            let linger = {
                let mut state = inner.borrow_mut();
                state.present.remove(&peer_id);
                state.has_working_link(&peer_id)
            };
            if !linger {
                remove_link(inner, &peer_id);
            }
        }
        ServerMessage::Signal { from, signal } => match signal.to_signal() {
            // A kind or shape this app does not know, perhaps from a newer peer.
            Err(error) => web_sys::console::warn_1(
                &format!("ignored a signal from {from} that this app cannot read: {error}").into(),
            ),
            Ok(signal @ Signal::Offer { .. }) => open_link(inner, from, Some(signal)),
            Ok(other) => {
                let generation = inner.borrow().links.get(&from).map(|link| link.generation);
                if let Some(generation) = generation {
                    let on_event = link_handler(inner, &from, generation);
                    if let Some(link) = inner.borrow().links.get(&from) {
                        link.peer.apply_signal(other, on_event);
                    }
                }
            }
        },
        ServerMessage::Pong => {}
        ServerMessage::Error { code, message } => emit(
            inner,
            MeshEvent::ServerError(format!("{code:?}: {message}")),
        ),
    }
}

/// Tell the UI about a peer in the room.
fn peer_seen(inner: &Rc<RefCell<Inner>>, peer: PeerInfo) {
    mark_once(inner, Milestone::FirstPeerSeen);
    emit(inner, MeshEvent::PeerSeen(peer));
}

/// Open a fresh link to `peer`, replacing any old one: as the offerer when `offer` is
/// `None`, else as the answerer of that offer.
fn open_link(inner: &Rc<RefCell<Inner>>, peer: PeerId, offer: Option<Signal>) {
    let generation = {
        let mut state = inner.borrow_mut();
        state.next_generation += 1;
        state.next_generation
    };
    let on_event = link_handler(inner, &peer, generation);
    let ice_servers = inner.borrow().ice_servers.clone();
    let link = match PeerLink::new(&ice_servers, on_event.clone()) {
        Ok(link) => link,
        Err(_) => {
            emit(
                inner,
                MeshEvent::PeerState {
                    peer,
                    state: LinkState::Failed,
                },
            );
            return;
        }
    };
    match offer {
        Some(offer) => link.apply_signal(offer, on_event),
        None => link.start_offer(on_event),
    }
    let link = Link {
        generation,
        peer: link,
    };
    let replaced = inner.borrow_mut().links.insert(peer.clone(), link);
    // Dropping a replaced link closes its connection; its transfers pause.
    if replaced.is_some() {
        with_transfers(inner, &peer, PeerTransfers::on_link_down);
    }
    emit(
        inner,
        MeshEvent::PeerState {
            peer,
            state: LinkState::Connecting,
        },
    );
}

/// The peer left the room and its link is gone: its transfers wait out the grace
/// period, and resume if it is back in time.
fn remove_link(inner: &Rc<RefCell<Inner>>, peer: &PeerId) {
    let removed = inner.borrow_mut().links.remove(peer);
    drop(removed);
    with_transfers(inner, peer, PeerTransfers::on_peer_left);
    emit(inner, MeshEvent::PeerGone(peer.clone()));
}

/// The callback a link reports through, bound to its peer and generation.
fn link_handler(
    inner: &Rc<RefCell<Inner>>,
    peer: &PeerId,
    generation: u64,
) -> impl Fn(LinkEvent) + Clone + 'static {
    let weak: Weak<RefCell<Inner>> = Rc::downgrade(inner);
    let peer = peer.clone();
    move |event| {
        let Some(inner) = weak.upgrade() else { return };
        let current = inner
            .borrow()
            .links
            .get(&peer)
            .is_some_and(|link| link.generation == generation);
        if current {
            on_link_event(&inner, &peer, event);
        }
    }
}

fn on_link_event(inner: &Rc<RefCell<Inner>>, peer: &PeerId, event: LinkEvent) {
    match event {
        LinkEvent::Signal(signal) => inner.borrow().send_signaling(&ClientMessage::Signal {
            to: peer.clone(),
            signal: signal.into(),
        }),
        LinkEvent::State(LinkState::Connected) => {
            mark_once(inner, Milestone::FirstChannelOpen);
            say_hello(inner, peer);
            start_transfers(inner, peer);
            emit(
                inner,
                MeshEvent::PeerState {
                    peer: peer.clone(),
                    state: LinkState::Connected,
                },
            );
        }
        LinkEvent::State(state) => {
            with_transfers(inner, peer, PeerTransfers::on_link_down);
            if inner.borrow().present.contains(peer) {
                emit(
                    inner,
                    MeshEvent::PeerState {
                        peer: peer.clone(),
                        state,
                    },
                );
            } else {
                remove_link(inner, peer);
            }
        }
        LinkEvent::Control(ControlFrame::Chat { text, sent_at_ms }) => emit(
            inner,
            MeshEvent::Chat {
                from: peer.clone(),
                text,
                // The page keeps times as JavaScript does.
                sent_at_ms: sent_at_ms as f64,
            },
        ),
        LinkEvent::Control(ControlFrame::Hello { device }) => emit(
            inner,
            MeshEvent::PeerDevice {
                peer: peer.clone(),
                device,
            },
        ),
        LinkEvent::Control(frame) => with_transfers(inner, peer, |t| t.on_control(frame)),
        LinkEvent::Data(message) => with_transfers(inner, peer, |t| t.on_data(message)),
        LinkEvent::DataDrained => with_transfers(inner, peer, PeerTransfers::pump),
    }
}

/// Run `f` on the peer's transfers without holding a borrow of the mesh.
fn with_transfers(inner: &Rc<RefCell<Inner>>, peer: &PeerId, f: impl FnOnce(&PeerTransfers)) {
    let transfers = inner.borrow().transfers.get(peer).cloned();
    if let Some(transfers) = transfers {
        f(&transfers);
    }
}

/// The link just opened: tell the peer what device we are.
fn say_hello(inner: &Rc<RefCell<Inner>>, peer: &PeerId) {
    let inner = inner.borrow();
    if let Some(link) = inner.links.get(peer) {
        let device = inner.identity.device.clone();
        link.peer
            .channels()
            .send_control(&ControlFrame::Hello { device });
    }
}

/// The link just opened: hand its channels to the peer's transfers (made on its first
/// link, reporting through the mesh), which resume on them.
fn start_transfers(inner: &Rc<RefCell<Inner>>, peer: &PeerId) {
    let channels = {
        let mut state = inner.borrow_mut();
        let Some(me) = state.self_id.clone() else {
            return;
        };
        let Some(channels) = state.links.get(peer).map(|l| l.peer.channels().clone()) else {
            return;
        };
        let weak = Rc::downgrade(inner);
        state.transfers.entry(peer.clone()).or_insert_with(|| {
            PeerTransfers::new(me, peer.clone(), move |view| {
                if let Some(inner) = weak.upgrade() {
                    emit(&inner, MeshEvent::Transfer(view));
                }
            })
        });
        channels
    };
    with_transfers(inner, peer, |transfers| transfers.on_link_up(channels));
}

/// Moments of a page's start that the end-to-end tests and the benchmark read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Milestone {
    /// The page learnt of another peer in the room, and shows it.
    FirstPeerSeen,
    /// A data channel to a peer opened.
    FirstChannelOpen,
}

impl Milestone {
    /// Where it is recorded: `document.body.dataset.<key>`.
    fn dataset_key(self) -> &'static str {
        match self {
            Self::FirstPeerSeen => "firstPeerMs",
            Self::FirstChannelOpen => "firstChannelMs",
        }
    }
}

/// Record, the first time only, how long after navigation `milestone` happened.
fn mark_once(inner: &Rc<RefCell<Inner>>, milestone: Milestone) {
    if !inner.borrow_mut().milestones.insert(milestone) {
        return;
    }
    let window = web_sys::window();
    let elapsed = window
        .as_ref()
        .and_then(web_sys::Window::performance)
        .map(|p| p.now());
    let body = window.and_then(|w| w.document()).and_then(|d| d.body());
    if let (Some(elapsed), Some(body)) = (elapsed, body) {
        let _ = body
            .dataset()
            .set(milestone.dataset_key(), &format!("{}", elapsed.round()));
    }
}
