//! The room as the UI shows it: a reducer over [`MeshEvent`]s.
//!
//! Keeping this a plain reducer means every screen is a pure function of this state,
//! and the mesh never touches the DOM.

use std::rc::Rc;

use meshdrop_chat::Line;
use meshdrop_mesh::path::Reach;
use meshdrop_protocol::frame::Device;
use meshdrop_protocol::PeerId;
use meshdrop_verify::{KnownDevices, SafetyNumber, Trust};
use yew::Reducible;

use super::save_all;
use crate::mesh::{LinkState, MeshEvent, SignalingStatus, VerificationEvent};
use crate::transfer::{TransferKey, TransferView};

#[derive(Debug, Clone, PartialEq)]
pub struct PeerView {
    pub name: String,
    pub state: LinkState,
    /// What the peer said it runs on, once its link opened.
    pub device: Option<Device>,
    /// Its DTLS fingerprint, from the link's remote description.
    pub fingerprint: Option<String>,
    /// The number both ends of the link agreed on.
    pub safety: Option<SafetyNumber>,
    /// How its link reaches it, once known.
    pub reach: Option<Reach>,
}

/// The chat lines the page shows at first, and how many more each "Show earlier lines"
/// adds. The history holds up to 1,000; drawing and laying all of them out at each new
/// line kept both main threads busy enough to delay chat by hundreds of milliseconds
/// under a transfer (`cargo xtask bench chat`).
pub const CHAT_SHOWN: usize = 100;

/// The peers in the room, ordered by id, each once. A room has a few: a sorted list
/// costs the app less wasm than a map.
pub type Peers = Vec<(PeerId, PeerView)>;

#[derive(Debug, Clone, PartialEq)]
pub struct RoomState {
    pub signaling: SignalingStatus,
    pub self_id: Option<PeerId>,
    pub peers: Peers,
    /// The name of every peer seen this visit, kept after it left for the transfers
    /// and chat lines it leaves behind. (A few: a list, which costs less wasm than a map.)
    pub names: Vec<(PeerId, String)>,
    /// The room's chat, oldest first, history included.
    pub chat: Rc<Vec<Line>>,
    /// How many of the newest chat lines the page shows; "Show earlier lines" adds more.
    pub chat_shown: usize,
    /// How many lines peers wrote to us since the page opened, for the notifications.
    pub chat_heard: u32,
    /// The peer the next chat line goes to alone; `None` for everyone.
    pub chat_to: Option<PeerId>,
    /// Every transfer of this visit, oldest first; finished ones stay listed until
    /// the user clears them.
    pub transfers: Rc<Vec<TransferView>>,
    /// Received transfers whose files the user saved (clicked "Save"), each once.
    pub saved: Rc<Vec<TransferKey>>,
    /// Where each "Save all" the user clicked is.
    pub save_all: Rc<Vec<(TransferKey, save_all::Status)>>,
    pub last_error: Option<String>,
    /// The devices verified on this browser.
    pub known: Rc<KnownDevices>,
    pub pairing: PairingView,
}

/// A pairing by code, as the page shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum PairingView {
    /// This page is not pairing.
    None,
    /// Waiting for the other device; `shown` is the code when this page shows it.
    Waiting {
        shown: Option<String>,
    },
    Paired {
        peer: PeerId,
        fingerprint: String,
    },
    Failed(String),
}

impl RoomState {
    pub fn new(known: KnownDevices, pairing: PairingView) -> Self {
        Self {
            known: Rc::new(known),
            pairing,
            ..Self::default()
        }
    }

    /// How to show `peer`: verified, unverified, or using a verified device's name.
    pub fn trust(&self, peer: &PeerView) -> Option<Trust> {
        let fingerprint = peer.fingerprint.as_deref()?;
        Some(self.known.trust(&peer.name, fingerprint))
    }
}

impl Default for RoomState {
    fn default() -> Self {
        Self {
            signaling: SignalingStatus::Connecting,
            self_id: None,
            peers: Vec::new(),
            names: Vec::new(),
            chat: Rc::default(),
            chat_shown: CHAT_SHOWN,
            chat_heard: 0,
            chat_to: None,
            transfers: Rc::default(),
            saved: Rc::default(),
            save_all: Rc::default(),
            last_error: None,
            known: Rc::default(),
            pairing: PairingView::None,
        }
    }
}

pub enum RoomAction {
    Mesh(MeshEvent),
    /// The user saved the files of a received transfer.
    Saved(TransferKey),
    /// The person picked whom to write to: one peer alone, or everyone.
    ChatTo(Option<PeerId>),
    /// The person asked for earlier chat lines.
    ShowEarlierChat,
    /// A "Save all" of a transfer's files moved on.
    SaveAll(TransferKey, save_all::Status),
    /// The user cleared the transfers that ended.
    ClearFinished,
    /// Something the user tried could not be done; shown like a server error.
    Problem(String),
    /// The person verified or forgot a device (already stored).
    Known(KnownDevices),
}

impl RoomState {
    /// The display name for a peer id, falling back to the id itself.
    pub fn name_of(&self, peer: &PeerId) -> String {
        self.names
            .iter()
            .find(|(id, _)| id == peer)
            .map_or_else(|| peer.to_string(), |(_, name)| name.clone())
    }

    /// Where the "Save all" of transfer `key` is.
    pub fn save_all_status(&self, key: &TransferKey) -> &save_all::Status {
        let status = self.save_all.iter().find(|(known, _)| known == key);
        status.map_or(&save_all::Status::Idle, |(_, status)| status)
    }

    fn peer_mut(&mut self, peer: &PeerId) -> Option<&mut (PeerId, PeerView)> {
        self.peers.iter_mut().find(|(id, _)| id == peer)
    }
}

impl RoomState {
    fn verification(&mut self, event: VerificationEvent) {
        match event {
            VerificationEvent::Fingerprint { peer, fingerprint } => {
                if let Some((_, view)) = self.peer_mut(&peer) {
                    // A new link may lead to another device: its old number is void.
                    if view.fingerprint.as_ref() != Some(&fingerprint) {
                        view.safety = None;
                    }
                    view.fingerprint = Some(fingerprint);
                }
            }
            VerificationEvent::SafetyNumber { peer, number } => {
                if let Some((_, view)) = self.peer_mut(&peer) {
                    view.safety = Some(number);
                }
            }
            VerificationEvent::Paired { peer, fingerprint } => {
                self.pairing = PairingView::Paired { peer, fingerprint }
            }
            // The exchange broke: that link shows no number.
            VerificationEvent::SafetyFailed { peer, .. } => {
                if let Some((_, view)) = self.peer_mut(&peer) {
                    view.safety = None;
                }
            }
            VerificationEvent::PairingFailed(error) => {
                self.pairing = PairingView::Failed(error.to_string())
            }
        }
    }
}

impl Reducible for RoomState {
    type Action = RoomAction;

    fn reduce(self: Rc<Self>, action: RoomAction) -> Rc<Self> {
        let mut next = (*self).clone();
        match action {
            RoomAction::Mesh(MeshEvent::Signaling(status)) => next.signaling = status,
            RoomAction::Mesh(MeshEvent::Joined { self_id }) => {
                next.self_id = Some(self_id);
                next.last_error = None;
            }
            RoomAction::Mesh(MeshEvent::PeerSeen(peer)) => {
                match next.names.iter_mut().find(|(id, _)| *id == peer.id) {
                    Some((_, name)) => name.clone_from(&peer.name),
                    None => next.names.push((peer.id.clone(), peer.name.clone())),
                }
                match next.peers.binary_search_by(|(id, _)| id.cmp(&peer.id)) {
                    Ok(at) => next.peers[at].1.name = peer.name,
                    Err(at) => next.peers.insert(
                        at,
                        (
                            peer.id,
                            PeerView {
                                name: peer.name,
                                state: LinkState::Connecting,
                                device: None,
                                fingerprint: None,
                                safety: None,
                                reach: None,
                            },
                        ),
                    ),
                }
            }
            RoomAction::Mesh(MeshEvent::PeerState { peer, state }) => {
                if let Some((_, view)) = next.peer_mut(&peer) {
                    view.state = state;
                }
            }
            RoomAction::Mesh(MeshEvent::PeerPath { peer, reach }) => {
                if let Some((_, view)) = next.peer_mut(&peer) {
                    view.reach = Some(reach);
                }
            }
            RoomAction::Mesh(MeshEvent::PeerDevice { peer, device }) => {
                if let Some((_, view)) = next.peer_mut(&peer) {
                    view.device = Some(device);
                }
            }
            RoomAction::Mesh(MeshEvent::PeerGone(peer)) => {
                next.peers.retain(|(id, _)| *id != peer);
            }
            RoomAction::Mesh(MeshEvent::Chat(lines)) => next.chat = lines,
            RoomAction::Mesh(MeshEvent::ChatHeard) => next.chat_heard += 1,
            RoomAction::Mesh(MeshEvent::Transfer(view)) => {
                let transfers = Rc::make_mut(&mut next.transfers);
                match transfers.iter_mut().find(|known| known.key == view.key) {
                    Some(known) => *known = view,
                    None => transfers.push(view),
                }
            }
            RoomAction::Mesh(MeshEvent::ServerError(message)) => next.last_error = Some(message),
            RoomAction::Mesh(MeshEvent::Verification(event)) => next.verification(event),
            RoomAction::Known(known) => next.known = Rc::new(known),
            RoomAction::ChatTo(peer) => next.chat_to = peer,
            RoomAction::ShowEarlierChat => next.chat_shown += CHAT_SHOWN,
            RoomAction::SaveAll(key, status) => {
                let all = Rc::make_mut(&mut next.save_all);
                all.retain(|(known, _)| *known != key);
                all.push((key, status));
            }
            RoomAction::Saved(key) => {
                if !next.saved.contains(&key) {
                    Rc::make_mut(&mut next.saved).push(key);
                }
            }
            RoomAction::ClearFinished => {
                Rc::make_mut(&mut next.transfers).retain(|view| !view.state.is_final());
                let transfers = &next.transfers;
                let live = |key: &&TransferKey| transfers.iter().any(|view| view.key == **key);
                next.saved = Rc::new(next.saved.iter().filter(live).cloned().collect());
                let all = Rc::make_mut(&mut next.save_all);
                all.retain(|(key, _)| transfers.iter().any(|view| view.key == *key));
            }
            RoomAction::Problem(message) => next.last_error = Some(message),
        }
        Rc::new(next)
    }
}
