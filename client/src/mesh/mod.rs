//! The mesh: one [`PeerLink`] to every other peer in the room, steered by signaling.
//!
//! Which link to open, answer, ICE-restart, rebuild or close is decided by the mesh rules
//! of `meshdrop-mesh` (shared with the native peer): this module only feeds them what
//! the signaling socket, the links and the clock say, and carries out their outputs on
//! the browser's WebRTC. Transfers live per peer, not per link, so a rebuilt link
//! takes the running transfers over.
//!
//! Every link presents this browser profile's one [`certificate`], so peers see the same
//! device on every visit; the page joins once it is loaded (while the socket opens).
//!
//! This module knows nothing about the UI: it reports [`MeshEvent`]s to a callback.

mod certificate;
mod chat;
mod link;
mod signaling;
mod swarms;
mod tally;
mod verification;

use std::cell::RefCell;
use std::rc::{Rc, Weak};
use std::time::Duration;

use gloo_timers::callback::Timeout;
use meshdrop_chat::{ChatError, Heard, Line};
use meshdrop_mesh::path::{offers_relay, Reach};
use meshdrop_mesh::{Config, LinkId, Output};
use meshdrop_protocol::frame::{ControlFrame, Device};
use meshdrop_protocol::signaling::{IceServer, PeerInfo, ServerMessage, Signal};
use meshdrop_protocol::{PeerId, RoomId, PROTOCOL_VERSION};
use meshdrop_sorted_map::SortedMap;
use meshdrop_transfer::Direction;
use meshdrop_verify::PairingCode;

pub use link::Channels;
use link::{LinkEvent, PeerLink};

use crate::encode;
use crate::transfer::{
    self, OutgoingFile, PeerTransfers, TransferAction, TransferKey, TransferView,
};
use signaling::{Signaling, SignalingEvent};
use tally::Tally;
pub use verification::VerificationEvent;
use verification::{admits, Effects, Verification};

/// How far the link to a peer has come, as the peer list shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    Connecting,
    /// Up, and waiting for the peer to prove the pairing code.
    Verifying,
    Connected,
    /// It was up and is being recovered.
    Reconnecting,
    Failed,
}

impl LinkState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connecting => "connecting",
            Self::Verifying => "verifying",
            Self::Connected => "connected",
            Self::Reconnecting => "reconnecting",
            Self::Failed => "failed",
        }
    }
}

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
    /// How the peer is reached, or that it cannot be.
    PeerPath {
        peer: PeerId,
        reach: Reach,
    },
    /// The peer said what device it runs on.
    PeerDevice {
        peer: PeerId,
        device: Device,
    },
    /// The peer left and its link is gone.
    PeerGone(PeerId),
    /// The room's chat changed: every line, oldest first.
    Chat(Rc<Vec<Line>>),
    /// A peer wrote a new line, the chat's last.
    ChatHeard,
    /// A transfer changed: its state, progress or saved files.
    Transfer(TransferView),
    /// Who a peer is: its fingerprint, the safety number, a pairing's outcome.
    Verification(VerificationEvent),
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
    /// In a meeting place, the code to pair with the other device by.
    pub pairing: Option<PairingCode>,
}

/// A handle to the running mesh; dropping it closes the socket and every link.
pub struct Mesh {
    inner: Rc<RefCell<Inner>>,
}

struct Inner {
    identity: Identity,
    certificate: DeviceCertificate,
    emit: Rc<dyn Fn(MeshEvent)>,
    signaling: Option<Signaling>,
    self_id: Option<PeerId>,
    ice_servers: Vec<IceServer>,
    /// The mesh rules; every decision about links is theirs.
    rules: meshdrop_mesh::Mesh,
    /// The rules' wake-up call, replaced each time they are driven.
    timer: Option<Timeout>,
    links: SortedMap<PeerId, Link>,
    /// Per peer, not per link: they outlive a link's rebuild.
    transfers: SortedMap<PeerId, PeerTransfers>,
    /// The [`Milestone`]s recorded so far.
    milestones: Vec<Milestone>,
    /// The room's chat, once welcomed (its rules need our peer id).
    chat: Option<chat::RoomChat>,
    /// Every peer's name as last seen, which its chat lines keep.
    names: SortedMap<PeerId, String>,
    verification: Verification,
    swarms: swarms::Swarms,
}

struct Link {
    id: LinkId,
    peer: PeerLink,
    /// Until verification starts on this link: the wake-up that starts it anyway.
    /// Dropping it cancels it.
    opening: Opening,
}

/// Whether verification has started on a link. Its first frames wait until the peer has
/// spoken on the control channel, or [`OPENING_GRACE_MS`] has passed since it opened: a
/// webrtc-rs peer (the native peer) drops what reaches it before its own end of the
/// channel is set up (docs/protocol.md, "Opening"), and a lost commitment or
/// confirmation would leave the link without a safety number or a pairing.
enum Opening {
    NotOpen,
    Waiting { _wake_up: Timeout },
    Started,
}

/// See [`Opening`]; the native peer waits as long before its own first message.
const OPENING_GRACE_MS: u32 = 500;

/// This device's certificate, which every link presents.
enum DeviceCertificate {
    /// Being loaded; `join_waiting` once the socket is open and the page should join
    /// as soon as it is there. (Joining first would open links without it.)
    Loading { join_waiting: bool },
    /// Loaded; `None` if the browser could not make one.
    Ready(Option<web_sys::RtcCertificate>),
}

impl Mesh {
    pub fn start(
        server_url: String,
        identity: Identity,
        on_event: impl Fn(MeshEvent) + 'static,
    ) -> Self {
        let verification = verification::new(identity.pairing.as_ref());
        let inner = Rc::new(RefCell::new(Inner {
            identity,
            certificate: DeviceCertificate::Loading {
                join_waiting: false,
            },
            emit: Rc::new(on_event),
            signaling: None,
            self_id: None,
            ice_servers: Vec::new(),
            rules: meshdrop_mesh::Mesh::new(Config::default()),
            timer: None,
            links: SortedMap::new(),
            transfers: SortedMap::new(),
            milestones: Vec::new(),
            chat: None,
            names: SortedMap::new(),
            verification,
            swarms: swarms::Swarms::default(),
        }));
        let weak = Rc::downgrade(&inner);
        let signaling = Signaling::connect(server_url, move |event| {
            if let Some(inner) = weak.upgrade() {
                on_signaling_event(&inner, event);
            }
        });
        inner.borrow_mut().signaling = Some(signaling);
        emit(&inner, MeshEvent::Signaling(SignalingStatus::Connecting));
        wasm_bindgen_futures::spawn_local(load_certificate(Rc::downgrade(&inner)));
        Self { inner }
    }

    pub fn rename(&self, name: String) {
        let mut inner = self.inner.borrow_mut();
        inner.identity.name = name.clone();
        inner.send_signaling(&encode::rename(&name));
    }

    /// Writes a chat line to everyone in the room (`to` is `None`) or to one peer
    /// alone. Peers whose link is down get it when it is up again.
    pub fn send_chat(&self, text: String, to: Option<PeerId>) -> Result<(), ChatError> {
        {
            let mut state = self.inner.borrow_mut();
            let name = state.identity.name.clone();
            let Some(room_chat) = &mut state.chat else {
                return Err(ChatError::NotInRoom);
            };
            room_chat
                .chat
                .write(text, to, js_sys::Date::now() as u64, name)?;
        }
        drive_chat(&self.inner);
        Ok(())
    }

    /// Forgets this room's chat, here and in the kept history.
    pub fn clear_chat(&self) {
        if let Some(room_chat) = &mut self.inner.borrow_mut().chat {
            room_chat.chat.clear();
        }
        drive_chat(&self.inner);
    }

    /// Offer `files` to one connected peer, or to every connected peer when `to` is
    /// `None` (to two or more, in a swarm: see [`swarms::offer`]).
    pub fn send_files(&self, to: Option<&PeerId>, files: Vec<OutgoingFile>) {
        let targets: Vec<PeerTransfers> = {
            let inner = self.inner.borrow();
            inner
                .transfers
                .iter()
                .filter(|(peer, _)| to.is_none_or(|to| to == *peer))
                .filter(|(peer, _)| {
                    let link = inner.links.get(*peer);
                    link.is_some_and(|link| link.peer.channels().is_open())
                })
                .map(|(_, transfers)| transfers.clone())
                .collect()
        };
        if to.is_none() && targets.len() > 1 {
            return swarms::offer(&self.inner, files, targets);
        }
        for transfers in targets {
            transfers.offer(files.clone());
        }
    }

    /// Accept, decline or cancel a transfer.
    pub fn act(&self, key: &TransferKey, action: TransferAction) {
        let transfers = self.inner.borrow().transfers.get(&key.peer).cloned();
        let Some(transfers) = transfers else { return };
        match (transfers.swarm_offer(key.id), action) {
            (Some((swarm, sizes)), TransferAction::Accept) => {
                swarms::join(&self.inner, key.clone(), swarm, sizes)
            }
            (_, action) => transfers.act(key.id, action),
        }
    }
}

impl Inner {
    /// Sends a `ClientMessage`'s JSON (see [`encode`]).
    fn send_signaling(&self, message: &str) {
        if let Some(signaling) = &self.signaling {
            signaling.send(message);
        }
    }

    /// Sends `signal` to `peer` through the server.
    fn send_signal(&self, peer: &PeerId, signal: &Signal) {
        self.send_signaling(&encode::signal_message(peer, signal));
    }
}

/// Report an event without holding a borrow, so the UI may call back into the mesh.
fn emit(inner: &Rc<RefCell<Inner>>, event: MeshEvent) {
    let emit = inner.borrow().emit.clone();
    emit(event);
}

/// The rules' clock: the page's monotonic time.
fn now() -> Duration {
    let ms = web_sys::window()
        .and_then(|window| window.performance())
        .map_or(0.0, |performance| performance.now());
    Duration::from_secs_f64(ms.max(0.0) / 1000.0)
}

/// Load this device's certificate, join if the socket waits for it, and record its
/// fingerprint in `document.body.dataset.deviceFingerprint`.
async fn load_certificate(inner: Weak<RefCell<Inner>>) {
    let certificate = certificate::load().await;
    let Some(strong) = inner.upgrade() else {
        return;
    };
    let loaded = DeviceCertificate::Ready(certificate.clone());
    let was = std::mem::replace(&mut strong.borrow_mut().certificate, loaded);
    if let DeviceCertificate::Loading { join_waiting: true } = was {
        join(&strong);
    }
    drop(strong);
    let Some(certificate) = certificate else {
        return;
    };
    match certificate::fingerprint(&certificate).await {
        Ok(fingerprint) => {
            let body = web_sys::window()
                .and_then(|window| window.document())
                .and_then(|document| document.body());
            if let Some(body) = body {
                let _ = body.dataset().set("deviceFingerprint", &fingerprint);
            }
        }
        Err(error) => web_sys::console::warn_2(
            &"Meshdrop: cannot read this device's fingerprint:".into(),
            &error,
        ),
    }
}

fn join(inner: &Rc<RefCell<Inner>>) {
    let state = inner.borrow();
    let identity = &state.identity;
    state.send_signaling(&encode::join(
        PROTOCOL_VERSION,
        identity.room.as_ref(),
        &identity.name,
        &identity.session_key,
    ));
}

fn on_signaling_event(inner: &Rc<RefCell<Inner>>, event: SignalingEvent) {
    match event {
        SignalingEvent::Opened => {
            let loading = match &mut inner.borrow_mut().certificate {
                DeviceCertificate::Loading { join_waiting } => {
                    *join_waiting = true;
                    true
                }
                DeviceCertificate::Ready(_) => false,
            };
            if !loading {
                join(inner);
            }
        }
        SignalingEvent::Lost { retry_in_ms } => {
            if let DeviceCertificate::Loading { join_waiting } = &mut inner.borrow_mut().certificate
            {
                *join_waiting = false;
            }
            inner.borrow_mut().rules.handle_signaling_lost();
            emit(
                inner,
                MeshEvent::Signaling(SignalingStatus::Reconnecting { retry_in_ms }),
            );
        }
        SignalingEvent::Message(message) => on_server_message(inner, message),
    }
}

fn on_server_message(inner: &Rc<RefCell<Inner>>, message: ServerMessage) {
    match message {
        ServerMessage::Welcome {
            peer_id,
            room,
            peers,
            ice_servers,
            ..
        } => {
            {
                let mut state = inner.borrow_mut();
                state.ice_servers = ice_servers;
                if state.chat.as_ref().is_none_or(|chat| chat.room() != &room) {
                    state.chat = Some(chat::RoomChat::new(peer_id.clone(), room.clone()));
                    wasm_bindgen_futures::spawn_local(load_chat(Rc::downgrade(inner), room));
                }
                if state.self_id.is_none() {
                    // Only now is it known which stored files are this tab's.
                    wasm_bindgen_futures::spawn_local(transfer::clear_leftovers(peer_id.clone()));
                }
                state.self_id = Some(peer_id.clone());
                if let Some(signaling) = &state.signaling {
                    signaling.reset_backoff();
                }
            }
            emit(inner, MeshEvent::Signaling(SignalingStatus::Connected));
            emit(
                inner,
                MeshEvent::Joined {
                    self_id: peer_id.clone(),
                },
            );
            let ids: Vec<PeerId> = peers.iter().map(|peer| peer.id.clone()).collect();
            for peer in peers {
                peer_seen(inner, peer);
            }
            for peer in &ids {
                let effects = inner.borrow_mut().verification.on_peer_present(peer);
                apply(inner, peer, effects, true);
            }
            inner
                .borrow_mut()
                .rules
                .handle_welcome(now(), peer_id, &ids);
        }
        ServerMessage::PeerJoined { peer } => {
            inner.borrow_mut().rules.handle_peer_joined(now(), &peer.id);
            let effects = inner.borrow_mut().verification.on_peer_present(&peer.id);
            apply(inner, &peer.id, effects, true);
            peer_seen(inner, peer);
        }
        ServerMessage::PeerRenamed { peer } => peer_seen(inner, peer),
        ServerMessage::PeerLeft { peer_id } => {
            inner.borrow_mut().rules.handle_peer_left(now(), &peer_id);
        }
        ServerMessage::Signal { from, signal } => match crate::decode::signal(&signal) {
            // A kind or shape this app does not know, perhaps from a newer peer.
            Err(error) => web_sys::console::warn_1(
                &format!("ignored a signal from {from} that this app cannot read: {error}").into(),
            ),
            Ok(Signal::Pake { message }) => {
                let effects = inner.borrow_mut().verification.on_pake(&from, &message);
                apply(inner, &from, effects, true);
            }
            Ok(signal) => inner.borrow_mut().rules.handle_signal(now(), &from, signal),
        },
        ServerMessage::Pong => {}
        // The message is written for people; the code is for programs.
        ServerMessage::Error { message, .. } => emit(inner, MeshEvent::ServerError(message)),
    }
    drive(inner);
}

/// Tell the UI about a peer in the room.
fn peer_seen(inner: &Rc<RefCell<Inner>>, peer: PeerInfo) {
    mark_once(inner, Milestone::FirstPeerSeen);
    inner
        .borrow_mut()
        .names
        .insert(peer.id.clone(), peer.name.clone());
    emit(inner, MeshEvent::PeerSeen(peer));
}

/// Carry out everything the rules ask, then set their next wake-up.
fn drive(inner: &Rc<RefCell<Inner>>) {
    loop {
        let output = inner.borrow_mut().rules.poll_output();
        let Some(output) = output else { break };
        act(inner, output);
    }
    let due = inner.borrow().rules.poll_timeout();
    let timer = due.map(|due| {
        let delay = due.saturating_sub(now()).as_millis();
        let weak = Rc::downgrade(inner);
        Timeout::new(u32::try_from(delay).unwrap_or(u32::MAX), move || {
            if let Some(inner) = weak.upgrade() {
                inner.borrow_mut().rules.handle_timeout(now());
                drive(&inner);
            }
        })
    });
    // Replacing the timer cancels the previous one.
    inner.borrow_mut().timer = timer;
}

fn act(inner: &Rc<RefCell<Inner>>, output: Output) {
    match output {
        Output::OpenLink {
            peer,
            link,
            rebuild,
        } => open_link(inner, peer, link, None, rebuild),
        Output::AnswerOffer {
            peer,
            link,
            sdp,
            rebuild,
        } => open_link(inner, peer, link, Some(sdp), rebuild),
        Output::ApplySignal { peer, link, signal } => {
            let on_event = link_handler(inner, &peer, link);
            if let Some(current) = inner.borrow().links.get(&peer).filter(|l| l.id == link) {
                current.peer.apply_signal(signal, on_event);
            }
        }
        Output::RestartIce { peer, link } => {
            tally::add(Tally::IceRestarts, 1);
            let on_event = link_handler(inner, &peer, link);
            if let Some(current) = inner.borrow().links.get(&peer).filter(|l| l.id == link) {
                current.peer.restart_ice(on_event);
            }
        }
        Output::CloseLink { peer, link } => {
            let closed = {
                let mut state = inner.borrow_mut();
                let current = state.links.get(&peer).is_some_and(|l| l.id == link);
                // Dropping a link closes its connection.
                current.then(|| state.links.remove(&peer))
            };
            if closed.is_some() {
                with_transfers(inner, &peer, PeerTransfers::on_link_down);
                swarms::link(inner, &peer, false);
            }
        }
        Output::LinkUp { peer } => {
            link_opened(inner, &peer);
            report_path(inner, peer);
        }
        Output::LinkDown { peer } => link_down(inner, &peer),
        // Its link was closed just before: the peer list drops it; its transfers wait.
        // Its link was closed just before: the peer list drops it; its transfers wait
        // out their grace period, and go on if it is back in time.
        Output::PeerLeft { peer } => {
            if let Some(room_chat) = &mut inner.borrow_mut().chat {
                room_chat.chat.peer_left(&peer);
            }
            with_transfers(inner, &peer, PeerTransfers::on_peer_left);
            swarms::left(inner, &peer);
            emit(inner, MeshEvent::PeerGone(peer));
        }
        // The transfers' own grace period, as long as the rules', has failed them.
        Output::PeerGone { .. } => {}
        Output::NoPath { peer } => {
            // The borrow ends before the UI hears of it.
            let relay_offered = {
                let state = inner.borrow();
                let urls = state.ice_servers.iter().flat_map(|server| &server.urls);
                offers_relay(urls.map(String::as_str))
            };
            let reach = Reach::NoPath { relay_offered };
            emit(inner, MeshEvent::PeerPath { peer, reach });
        }
    }
}

/// Tell the UI the path of the link to `peer` that just came up, and again a moment
/// later: a check from the peer can arrive before its candidate does, and until then
/// the browser hides the address it came from (a peer-reflexive candidate), which only
/// the second reading sees.
fn report_path(inner: &Rc<RefCell<Inner>>, peer: PeerId) {
    let weak = Rc::downgrade(inner);
    wasm_bindgen_futures::spawn_local(async move {
        for wait_ms in [0, PATH_SETTLES_MS] {
            gloo_timers::future::TimeoutFuture::new(wait_ms).await;
            let Some(inner) = weak.upgrade() else { return };
            let Some(path) = inner.borrow().links.get(&peer).map(|link| link.peer.path()) else {
                return;
            };
            if let Some(path) = path.await {
                let (peer, reach) = (peer.clone(), Reach::Via(path));
                emit(&inner, MeshEvent::PeerPath { peer, reach });
            }
        }
    });
}

/// See [`report_path`].
const PATH_SETTLES_MS: u32 = 2_000;

/// Create link `link` to `peer`: as the offerer when `offer` is `None`, else as the
/// answerer of that offer.
fn open_link(
    inner: &Rc<RefCell<Inner>>,
    peer: PeerId,
    link: LinkId,
    offer: Option<String>,
    rebuild: bool,
) {
    if rebuild {
        tally::add(Tally::LinkRebuilds, 1);
    }
    let on_event = link_handler(inner, &peer, link);
    let (ice_servers, certificate) = {
        let state = inner.borrow();
        let certificate = match &state.certificate {
            DeviceCertificate::Ready(certificate) => certificate.clone(),
            // Not joined yet, so no link is opened.
            DeviceCertificate::Loading { .. } => None,
        };
        (state.ice_servers.clone(), certificate)
    };
    let Ok(connection) = PeerLink::new(&ice_servers, certificate.as_ref(), on_event.clone()) else {
        inner.borrow_mut().links.remove(&peer);
        let state = meshdrop_mesh::LinkState::Failed;
        inner
            .borrow_mut()
            .rules
            .handle_link_state(now(), &peer, link, state);
        emit(
            inner,
            MeshEvent::PeerState {
                peer,
                state: LinkState::Failed,
            },
        );
        return;
    };
    match offer {
        Some(sdp) => connection.apply_signal(Signal::Offer { sdp }, on_event),
        None => connection.start_offer(on_event),
    }
    let replaced = inner.borrow_mut().links.insert(
        peer.clone(),
        Link {
            id: link,
            peer: connection,
            opening: Opening::NotOpen,
        },
    );
    // Dropping a replaced link closes its connection; transfers on its channels pause
    // until the new link is up.
    if replaced.is_some() {
        with_transfers(inner, &peer, PeerTransfers::on_link_down);
    }
    if !rebuild {
        emit(
            inner,
            MeshEvent::PeerState {
                peer,
                state: LinkState::Connecting,
            },
        );
    }
}

/// The link to `peer` is open: verification starts on it, and unless it waits for a
/// pairing to succeed, the link is up for chat and files.
fn link_opened(inner: &Rc<RefCell<Inner>>, peer: &PeerId) {
    let weak = Rc::downgrade(inner);
    let waiting = peer.clone();
    let timer = Timeout::new(OPENING_GRACE_MS, move || {
        if let Some(inner) = weak.upgrade() {
            start_verification(&inner, &waiting);
        }
    });
    if let Some(link) = inner.borrow_mut().links.get_mut(peer) {
        // An ICE restart brings a link up again: its verification runs already.
        if matches!(link.opening, Opening::NotOpen) {
            link.opening = Opening::Waiting { _wake_up: timer };
        }
    }
    if admits(&inner.borrow().verification, peer) {
        link_up(inner, peer);
    } else {
        // Chat written meanwhile waits, as for a link that is down.
        chat_link(inner, peer, false);
        emit(
            inner,
            MeshEvent::PeerState {
                peer: peer.clone(),
                state: LinkState::Verifying,
            },
        );
    }
}

/// Starts verification on the current link to `peer`, once (see [`Opening`]). A
/// pairing that it completes lets the link up, unless the link was let in already.
fn start_verification(inner: &Rc<RefCell<Inner>>, peer: &PeerId) {
    let started = {
        let mut state = inner.borrow_mut();
        let Some(link) = state.links.get_mut(peer) else {
            return;
        };
        if !matches!(link.opening, Opening::Waiting { .. }) {
            return;
        }
        link.opening = Opening::Started;
        (link.id, link.peer.fingerprints())
    };
    let (link, Some(fingerprints)) = started else {
        return;
    };
    let admitted = admits(&inner.borrow().verification, peer);
    let effects = inner
        .borrow_mut()
        .verification
        .on_link_up(peer, link, &fingerprints);
    apply(inner, peer, effects, !admitted);
}

/// Carry out what verification asks: frames on the peer's link, signals through the
/// server, events for the page. A pairing that just succeeded lets an open link up,
/// unless the caller does that itself (`link_opened`).
fn apply(inner: &Rc<RefCell<Inner>>, peer: &PeerId, effects: Effects, let_up: bool) {
    {
        let state = inner.borrow();
        if let Some(link) = state.links.get(peer) {
            for frame in &effects.frames {
                link.peer.channels().send_control(frame);
            }
        }
        for signal in &effects.signals {
            state.send_signal(peer, signal);
        }
    }
    for event in effects.events {
        if let VerificationEvent::SafetyFailed { peer, error } = &event {
            web_sys::console::warn_1(&format!("safety number with {peer}: {error}").into());
        }
        let paired = matches!(event, VerificationEvent::Paired { .. });
        emit(inner, MeshEvent::Verification(event));
        let open = inner
            .borrow()
            .links
            .get(peer)
            .is_some_and(|link| link.peer.channels().is_open());
        if paired && open && let_up {
            link_up(inner, peer);
        }
    }
}

/// The link to `peer` carries data (again). Transfers go on here: on the same channels
/// after an ICE restart (nothing was lost), or from what the receiver lacks on a new
/// link's.
fn link_up(inner: &Rc<RefCell<Inner>>, peer: &PeerId) {
    mark_once(inner, Milestone::LinkUp(peer.clone()));
    say_hello(inner, peer);
    chat_link(inner, peer, true);
    let restored = inner
        .borrow()
        .transfers
        .get(peer)
        .is_some_and(PeerTransfers::has_channels);
    if restored {
        with_transfers(inner, peer, PeerTransfers::on_link_restored);
    } else {
        start_transfers(inner, peer);
    }
    swarms::link(inner, peer, true);
    emit(
        inner,
        MeshEvent::PeerState {
            peer: peer.clone(),
            state: LinkState::Connected,
        },
    );
}

/// The link to `peer` stopped carrying data; the rules are recovering it. Transfers
/// show Paused; they fail only if the peer leaves and is not back within the grace.
fn link_down(inner: &Rc<RefCell<Inner>>, peer: &PeerId) {
    chat_link(inner, peer, false);
    with_transfers(inner, peer, PeerTransfers::on_link_interrupted);
    swarms::link(inner, peer, false);
    emit(
        inner,
        MeshEvent::PeerState {
            peer: peer.clone(),
            state: LinkState::Reconnecting,
        },
    );
}

/// The callback a link reports through, bound to its peer and id.
fn link_handler(
    inner: &Rc<RefCell<Inner>>,
    peer: &PeerId,
    link: LinkId,
) -> impl Fn(LinkEvent) + Clone + 'static {
    let weak: Weak<RefCell<Inner>> = Rc::downgrade(inner);
    let peer = peer.clone();
    move |event| {
        let Some(inner) = weak.upgrade() else { return };
        let current = inner
            .borrow()
            .links
            .get(&peer)
            .is_some_and(|current| current.id == link);
        if current {
            on_link_event(&inner, &peer, link, event);
        }
    }
}

fn on_link_event(inner: &Rc<RefCell<Inner>>, peer: &PeerId, link: LinkId, event: LinkEvent) {
    if let LinkEvent::Control(_) = &event {
        // The peer has spoken: our side of verification may start.
        start_verification(inner, peer);
    }
    match event {
        LinkEvent::Signal(signal) => inner.borrow().send_signal(peer, &signal),
        LinkEvent::State(state) => {
            inner
                .borrow_mut()
                .rules
                .handle_link_state(now(), peer, link, state);
            drive(inner);
        }
        LinkEvent::Control(
            frame @ (ControlFrame::SafetyCommit { .. }
            | ControlFrame::SafetyReveal { .. }
            | ControlFrame::PairConfirm { .. }),
        ) => {
            let fingerprints = inner
                .borrow()
                .links
                .get(peer)
                .and_then(|current| current.peer.fingerprints());
            let effects =
                inner
                    .borrow_mut()
                    .verification
                    .on_frame(peer, link, fingerprints.as_ref(), &frame);
            apply(inner, peer, effects, true);
        }
        LinkEvent::Control(_)
        | LinkEvent::Data(_)
        | LinkEvent::SwarmFrame(_)
        | LinkEvent::SwarmPiece(_)
            if !admits(&inner.borrow().verification, peer) =>
        {
            web_sys::console::warn_1(
                &format!("dropped a message from {peer}, who has not proved the pairing code")
                    .into(),
            );
        }
        LinkEvent::Control(frame @ (ControlFrame::Chat { .. } | ControlFrame::ChatAck { .. })) => {
            hear_chat(inner, peer, frame)
        }
        LinkEvent::Control(ControlFrame::Hello { device }) => emit(
            inner,
            MeshEvent::PeerDevice {
                peer: peer.clone(),
                device,
            },
        ),
        LinkEvent::Control(frame) => with_transfers(inner, peer, |t| t.on_control(frame)),
        LinkEvent::Data(message) => with_transfers(inner, peer, |t| t.on_data(message)),
        LinkEvent::SwarmFrame(text) => swarms::hear(inner, peer, swarms::Arrived::Frame(text)),
        LinkEvent::SwarmPiece(bytes) => swarms::hear(inner, peer, swarms::Arrived::Piece(bytes)),
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

/// The link to `peer` carries chat (`up`), and gets what it is owed; or it does not.
fn chat_link(inner: &Rc<RefCell<Inner>>, peer: &PeerId, up: bool) {
    if let Some(room_chat) = &mut inner.borrow_mut().chat {
        match up {
            true => room_chat.chat.link_up(peer),
            false => room_chat.chat.link_down(peer),
        }
    }
    drive_chat(inner);
}

/// A chat line or acknowledgement from `peer`.
fn hear_chat(inner: &Rc<RefCell<Inner>>, peer: &PeerId, frame: ControlFrame) {
    let heard = {
        let mut state = inner.borrow_mut();
        let name = state.names.get(peer).cloned().unwrap_or_default();
        let Some(room_chat) = &mut state.chat else {
            return;
        };
        room_chat.chat.hear(peer, &name, frame)
    };
    drive_chat(inner);
    match heard {
        // After the line is in the page's chat, which the notification reads.
        Ok(Heard::Line) => emit(inner, MeshEvent::ChatHeard),
        Ok(_) => {}
        Err(error) => web_sys::console::warn_1(&format!("chat from {peer}: {error}").into()),
    }
}

/// Sends what the chat asks; keeps and shows its lines if they changed.
fn drive_chat(inner: &Rc<RefCell<Inner>>) {
    let lines = {
        let mut state = inner.borrow_mut();
        let Inner { chat, links, .. } = &mut *state;
        let Some(room_chat) = chat else { return };
        while let Some(meshdrop_chat::Output::Send { peer, frame }) = room_chat.chat.poll_output() {
            if let Some(link) = links.get(&peer) {
                link.peer.channels().send_control(&frame);
            }
        }
        if !room_chat.changed() {
            return;
        }
        room_chat.keep();
        Rc::new(room_chat.chat.lines().to_vec())
    };
    emit(inner, MeshEvent::Chat(lines));
}

/// Brings the kept history of `room` into its chat.
async fn load_chat(inner: Weak<RefCell<Inner>>, room: RoomId) {
    let (history, store) = chat::load(&room).await;
    let Some(inner) = inner.upgrade() else { return };
    if let Some(room_chat) = inner
        .borrow_mut()
        .chat
        .as_mut()
        .filter(|c| c.room() == &room)
    {
        room_chat.chat.restore(history);
        room_chat.loaded(store);
    }
    drive_chat(&inner);
}

/// A new link to `peer` has its channels open: hand them to the peer's transfers (made
/// on its first link, reporting through the mesh), which resume on them.
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
        state.transfers.or_insert_with(peer, || {
            PeerTransfers::new(me, peer.clone(), move |view| {
                if let Some(inner) = weak.upgrade() {
                    match &view.swarm {
                        Some(news) if view.state.is_aborted() => {
                            swarms::ended(&inner, news.swarm, &view.key)
                        }
                        Some(news) if view.direction == Direction::Outgoing => {
                            swarms::add_receiver(&inner, news.swarm, &view.key.peer)
                        }
                        _ => {}
                    }
                    emit(&inner, MeshEvent::Transfer(view));
                }
            })
        });
        channels
    };
    with_transfers(inner, peer, |transfers| transfers.on_link_up(channels));
}

/// Moments of a page's start that the end-to-end tests and the benchmark read.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Milestone {
    /// The page learnt of another peer in the room, and shows it.
    FirstPeerSeen,
    /// The first link to this peer came up: its data channels opened.
    LinkUp(PeerId),
}

impl Milestone {
    /// Where it is recorded: `document.body.dataset.<key>`, each milestone of a kind
    /// after the one before, separated by a space.
    fn dataset_key(&self) -> &'static str {
        match self {
            Self::FirstPeerSeen => "firstPeerMs",
            Self::LinkUp(_) => "linksUpMs",
        }
    }
}

/// Record, the first time only, how long after navigation `milestone` happened.
fn mark_once(inner: &Rc<RefCell<Inner>>, milestone: Milestone) {
    let key = milestone.dataset_key();
    {
        let milestones = &mut inner.borrow_mut().milestones;
        if milestones.contains(&milestone) {
            return;
        }
        milestones.push(milestone);
    }
    let window = web_sys::window();
    let elapsed = window
        .as_ref()
        .and_then(web_sys::Window::performance)
        .map(|p| p.now().round() as u64);
    let body = window.and_then(|w| w.document()).and_then(|d| d.body());
    if let (Some(elapsed), Some(body)) = (elapsed, body) {
        let recorded = match body.dataset().get(key) {
            Some(earlier) => format!("{earlier} {elapsed}"),
            None => elapsed.to_string(),
        };
        let _ = body.dataset().set(key, &recorded);
    }
}
