//! The room as the commands see it: connected peers by name, chat, and file transfers.
//!
//! [`Room`] ties the [`Mesh`] to one [`PeerTransfers`] per peer and to the terminal.
//! A peer's transfers outlive its links: a link that closes pauses them, the next link
//! to the same peer resumes them, and only a peer that left the room and is not back
//! within the grace period fails them. It routes every mesh event (control frames to the engine or the chat, data
//! to the engine, drains to the sender), keeps the progress bars current, prints what
//! happened, and hands the commands only what they decide on: [`RoomEvent`]s.
//!
//! The commands loop with `tokio::select!` over [`Room::recv`] (cancel-safe) and their own
//! inputs, and call [`Room::handle`] in the branch body, so no handling is ever cut off.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use meshdrop_chat::{Chat, ChatError, Heard, DEFAULT_LIMIT};
use meshdrop_mesh::path::Reach;
use meshdrop_protocol::frame::{
    offers_within, ControlFrame, SwarmPiece, TransferId, MIN_MAX_MESSAGE_LEN,
};
use meshdrop_protocol::{PeerId, RoomId};
use meshdrop_transfer::{Direction, Transfer, TransferState};
use meshdrop_verify::{Admission, Effects, PairingError, VerifierEvent};

use crate::driver::{Corruption, DriverEvent, PeerTransfers};
use crate::error::Result;
use crate::history::History;
use crate::link::PeerLink;
use crate::mesh::{JoinConfig, Mesh, MeshEvent};
use crate::outgoing::OutgoingFile;
use crate::progress::ProgressUi;
use crate::verification::{Verification, VerifyOptions};

mod swarms;

/// What happened, for the command to decide on.
#[derive(Debug)]
pub enum RoomEvent {
    Connected {
        peer: PeerId,
        name: String,
    },
    Disconnected {
        peer: PeerId,
    },
    /// `peer` is not verified and `--require-verified` keeps it out for this run.
    Refused {
        peer: PeerId,
    },
    Chat {
        name: String,
        text: String,
        sent_at_ms: u64,
        /// Written to us alone.
        private: bool,
    },
    Transfer {
        peer: PeerId,
        transfer: TransferId,
        state: TransferState,
    },
    /// Pairing by code failed: nothing will flow in this run.
    PairingFailed(PairingError),
}

/// What the room waits for: the mesh, or the end of a grace period.
pub enum RoomInput {
    Mesh(MeshEvent),
    /// A peer's grace period may have run out.
    Timeout,
}

struct Peer {
    transfers: PeerTransfers,
    /// False once the server said the peer left, until a link is up again.
    in_room: bool,
}

pub struct Room {
    mesh: Mesh,
    self_id: PeerId,
    /// Display names of every peer we have heard of, including those gone since.
    names: HashMap<PeerId, String>,
    /// Where received files go; `None` for commands that receive nothing, whose room
    /// declines every offer by itself.
    download_dir: Option<PathBuf>,
    /// How long a peer that left has to come back before its transfers fail.
    grace: Duration,
    /// What to damage of what is sent, to test receivers.
    corruption: Option<Corruption>,
    peers: HashMap<PeerId, Peer>,
    /// Who is on the other end of each link, and whom to let in.
    verification: Verification,
    /// Peers with a link up that are not let in: not yet paired, or refused; with
    /// their names and links.
    held: HashMap<PeerId, (String, Arc<PeerLink>)>,
    /// Peers already told refused, so each is told once.
    refused: HashSet<PeerId>,
    /// Our display name, which our chat lines keep.
    self_name: String,
    /// The room's chat: who has our lines, what waits for a link.
    chat: Chat,
    /// Where the chat is kept, if it is (`chat --history`).
    history: Option<History>,
    /// The chat's version last kept there.
    kept: u64,
    /// Files sent to everyone, passed on between their receivers.
    swarms: swarms::Swarms,
    ui: ProgressUi,
}

impl Room {
    /// Join the room; received files will be saved in `download_dir`, and without one
    /// every offer is declined. A peer that left has `grace` to come back before the
    /// transfers with it fail.
    pub async fn join(
        config: JoinConfig,
        download_dir: Option<PathBuf>,
        grace: Duration,
        verify: VerifyOptions,
    ) -> Result<Self> {
        let verification = Verification::new(verify)?;
        let room = match &config.room {
            Some(room) => format!("room {room}"),
            None => "this network's room".to_owned(),
        };
        let name = config.name.clone();
        let mesh = Mesh::join(config).await?;
        let names = mesh
            .initial_peers
            .iter()
            .map(|peer| (peer.id.clone(), peer.name.clone()))
            .collect();
        let ui = ProgressUi::new();
        ui.status(format!(
            "joined {room} as {name} (peer id {}, {} other peers)",
            mesh.self_id,
            mesh.initial_peers.len()
        ));
        let chat = Chat::new(mesh.self_id.clone(), DEFAULT_LIMIT, rand::random());
        let mut room = Self {
            self_id: mesh.self_id.clone(),
            mesh,
            names,
            download_dir,
            grace,
            corruption: None,
            peers: HashMap::new(),
            verification,
            held: HashMap::new(),
            refused: HashSet::new(),
            self_name: name,
            chat,
            history: None,
            kept: 0,
            swarms: swarms::Swarms::default(),
            ui,
        };
        let present: Vec<PeerId> = room.initial_peers().map(|(id, _)| id.clone()).collect();
        for peer in present {
            // In a meeting place, the PAKE message to the one already there.
            let effects = room.verification.verifier.on_peer_present(&peer);
            room.carry_out(&peer, None, effects).await;
        }
        Ok(room)
    }

    /// Damage what is sent to peers met from now on (`send --corrupt`), to test
    /// receivers.
    pub fn corrupt_what_is_sent(&mut self, corruption: Corruption) {
        self.corruption = Some(corruption);
    }

    /// Names of the peers that were in the room when we joined.
    pub fn initial_peers(&self) -> impl Iterator<Item = (&PeerId, &str)> {
        self.mesh
            .initial_peers
            .iter()
            .map(|peer| (&peer.id, peer.name.as_str()))
    }

    pub fn ui(&self) -> &ProgressUi {
        &self.ui
    }

    /// The next input. Cancel-safe; pass what it returns to [`Room::handle`].
    pub async fn recv(&mut self) -> Option<RoomInput> {
        let serve_again = self
            .swarms
            .waits_for_room()
            .then(|| now_ms() + swarms::SERVE_AGAIN.as_millis() as u64);
        let deadline = self
            .peers
            .values()
            .filter_map(|peer| peer.transfers.poll_timeout())
            .chain(serve_again)
            .min();
        let Some(deadline) = deadline else {
            return self.mesh.next().await.map(RoomInput::Mesh);
        };
        let wait = Duration::from_millis(deadline.saturating_sub(now_ms()));
        tokio::select! {
            event = self.mesh.next() => event.map(RoomInput::Mesh),
            () = tokio::time::sleep(wait) => Some(RoomInput::Timeout),
        }
    }

    pub fn name<'a>(&'a self, peer: &'a PeerId) -> &'a str {
        self.names.get(peer).map_or(peer.as_str(), String::as_str)
    }

    pub fn transfer(&self, peer: &PeerId, transfer: TransferId) -> Option<&Transfer> {
        self.peers.get(peer)?.transfers.get(transfer)
    }

    pub fn is_anyone_connected(&self) -> bool {
        self.peers
            .values()
            .any(|peer| peer.transfers.link().is_some())
    }

    /// Whether `state` is a peer's offer to us, waiting for an answer.
    fn is_offer_to_us(&self, peer: &PeerId, transfer: TransferId, state: &TransferState) -> bool {
        *state == TransferState::Offered
            && self
                .transfer(peer, transfer)
                .is_some_and(|t| t.direction() == Direction::Incoming)
    }

    pub async fn handle(&mut self, input: RoomInput) -> Vec<RoomEvent> {
        let mut events = match input {
            RoomInput::Mesh(event) => self.on_mesh_event(event).await,
            RoomInput::Timeout => self.on_timeout().await,
        };
        events.extend(self.drive_swarms().await);
        events
    }

    async fn on_mesh_event(&mut self, event: MeshEvent) -> Vec<RoomEvent> {
        match event {
            MeshEvent::Connected { peer, name, link } => {
                self.names.insert(peer.clone(), name.clone());
                self.on_link_up(peer, name, link).await
            }
            MeshEvent::LinkDown(peer) => {
                self.chat.link_down(&peer);
                self.swarm_link(&peer, false).await;
                // The mesh is recovering the link (ICE restart, else a new connection,
                // whose `Connected` resumes the transfers); nothing fails meanwhile.
                self.ui.status(format!(
                    "connection to {} lost; transfers paused, reconnecting",
                    self.name(&peer)
                ));
                Vec::new()
            }
            MeshEvent::Left(peer) => self.on_left(peer).await,
            MeshEvent::Disconnected(peer) => self.on_disconnected(peer).await,
            MeshEvent::NoPath { peer, reach } => {
                let name = self.name(&peer);
                self.ui
                    .status(format!("no path to {name}: {}", reach.describe()));
                Vec::new()
            }
            MeshEvent::Rejoined { self_id } => {
                self.ui
                    .status(format!("back in the room (peer id {self_id})"));
                Vec::new()
            }
            MeshEvent::Renamed { peer, name } => {
                self.names.insert(peer, name);
                Vec::new()
            }
            MeshEvent::Joined(peer) => {
                let effects = self.verification.verifier.on_peer_present(&peer);
                self.carry_out(&peer, None, effects).await
            }
            MeshEvent::Pake { from, message } => {
                let effects = self.verification.verifier.on_pake(&from, &message);
                self.carry_out(&from, None, effects).await
            }
            MeshEvent::Control {
                from,
                link,
                frame:
                    frame @ (ControlFrame::SafetyCommit { .. }
                    | ControlFrame::SafetyReveal { .. }
                    | ControlFrame::PairConfirm { .. }),
            } => {
                let fingerprints = link.fingerprints().await;
                let effects = self.verification.verifier.on_frame(
                    &from,
                    link.generation(),
                    fingerprints.as_ref(),
                    &frame,
                );
                self.carry_out(&from, Some(&link), effects).await
            }
            // Peers not let in (yet) are not heard: their frames go nowhere.
            MeshEvent::Control { from, .. } | MeshEvent::Data { from, .. }
                if !self.is_let_in(&from) =>
            {
                tracing::debug!(peer = %from, "dropped a message from a peer not let in");
                Vec::new()
            }
            MeshEvent::Control {
                from,
                frame: frame @ (ControlFrame::Chat { .. } | ControlFrame::ChatAck { .. }),
                ..
            } => self.hear_chat(&from, frame).await,
            MeshEvent::Control {
                from,
                frame: ControlFrame::Swarm(frame),
                ..
            } => self.on_swarm_frame(&from, *frame).await,
            MeshEvent::Data { from, chunk } if SwarmPiece::is_piece(&chunk) => {
                self.on_swarm_piece(&from, &chunk).await
            }
            // This peer shows no devices; the frame is for pages that do.
            MeshEvent::Control {
                frame: ControlFrame::Hello { .. },
                ..
            } => Vec::new(),
            MeshEvent::Control { from, frame, .. } => {
                let events = match self.transfers_mut(&from) {
                    Some(transfers) => transfers.on_control(frame).await,
                    None => Vec::new(),
                };
                let events = self.report(&from, events);
                self.refuse_offers_unless_receiving(&from, events).await
            }
            MeshEvent::Data { from, chunk } => {
                let events = match self.transfers_mut(&from) {
                    Some(transfers) => transfers.on_data(&chunk).await,
                    None => Vec::new(),
                };
                self.report(&from, events)
            }
            MeshEvent::DataDrained(peer) => {
                let events = match self.transfers_mut(&peer) {
                    Some(transfers) => transfers.on_drained().await,
                    None => Vec::new(),
                };
                let mut events = self.report(&peer, events);
                events.extend(self.serve_swarms(&peer).await);
                events
            }
        }
    }

    /// A link to `peer` is up: verification starts on it, and the peer is let in at
    /// once, once paired, or never (`--require-verified`).
    async fn on_link_up(
        &mut self,
        peer: PeerId,
        name: String,
        link: Arc<PeerLink>,
    ) -> Vec<RoomEvent> {
        let fingerprints = link.fingerprints().await;
        let mut events = Vec::new();
        if let Some(fingerprints) = &fingerprints {
            let effects =
                self.verification
                    .verifier
                    .on_link_up(&peer, link.generation(), fingerprints);
            events.extend(self.carry_out(&peer, Some(&link), effects).await);
        }
        let theirs = fingerprints.as_ref().map(|(_, theirs)| theirs.as_str());
        match self.verification.admission(&peer, theirs) {
            Admission::Admitted => {
                self.held.remove(&peer);
                events.extend(self.admit(peer, name, link).await);
            }
            Admission::Pairing => events.extend(self.hold(peer, name, link).await),
            Admission::Refused => {
                if self.refused.insert(peer.clone()) {
                    self.ui.status(format!(
                        "refused {name}: not verified (fingerprint {})",
                        theirs.unwrap_or("unknown")
                    ));
                    events.push(RoomEvent::Refused { peer: peer.clone() });
                }
                events.extend(self.hold(peer, name, link).await);
            }
        }
        events
    }

    /// `peer`'s link is up but not let in: nothing is heard from it or sent on it. A
    /// peer let in over an earlier link (which a new link to another device replaced)
    /// has its transfers paused and its chat kept, as for a link that is down.
    async fn hold(&mut self, peer: PeerId, name: String, link: Arc<PeerLink>) -> Vec<RoomEvent> {
        self.held.insert(peer.clone(), (name, link));
        self.chat.link_down(&peer);
        self.swarm_link(&peer, false).await;
        let Some(known) = self.peers.get_mut(&peer) else {
            return Vec::new();
        };
        let events = known.transfers.on_link_down().await;
        self.report(&peer, events)
    }

    /// `peer` may send and receive chat and files, over `link`.
    async fn admit(&mut self, peer: PeerId, name: String, link: Arc<PeerLink>) -> Vec<RoomEvent> {
        let restored = self.peers.get(&peer).is_some_and(|known| {
            known
                .transfers
                .link()
                .is_some_and(|old| Arc::ptr_eq(old, &link))
        });
        if restored {
            // An ICE restart kept the channels: nothing was lost, nothing resumes.
            self.ui.status(format!("reconnected to {name}"));
            self.chat.link_up(&peer);
            self.drive_chat().await;
            return Vec::new();
        }
        let known = self.peers.contains_key(&peer);
        let (self_id, download_dir) = (&self.self_id, &self.download_dir);
        let (grace, corruption) = (self.grace, self.corruption);
        let entry = self.peers.entry(peer.clone()).or_insert_with(|| {
            let mut transfers = PeerTransfers::new(self_id, &peer, download_dir.clone(), grace);
            if let Some(corruption) = corruption {
                transfers.corrupt(corruption);
            }
            Peer {
                transfers,
                in_room: true,
            }
        });
        entry.in_room = true;
        let device = match link.fingerprints().await {
            Some((ours, theirs)) => {
                tracing::debug!(%peer, %ours, %theirs, "DTLS fingerprints");
                format!(" (device {theirs})")
            }
            None => String::new(),
        };
        let path = link.path().await.map(Reach::Via);
        let events = entry.transfers.on_link_up(link).await;
        self.chat.link_up(&peer);
        self.drive_chat().await;
        let mut room_events = self.swarm_link(&peer, true).await;
        if known {
            self.ui.status(format!("reconnected to {name}{device}"));
        } else {
            self.ui.status(format!("connected to {name}{device}"));
            room_events.push(RoomEvent::Connected {
                peer: peer.clone(),
                name: name.clone(),
            });
        }
        if let Some(path) = path {
            self.ui.status(format!(
                "path to {name}: {} ({})",
                path.name(),
                path.describe()
            ));
        }
        room_events.extend(self.report(&peer, events));
        room_events
    }

    /// Whether `peer`'s current link was let in.
    fn is_let_in(&self, peer: &PeerId) -> bool {
        self.peers.contains_key(peer) && !self.held.contains_key(peer)
    }

    /// Carries out what verification asks about `peer`: frames on `link`, or else on
    /// its current link, signals through the server; and says what it found.
    async fn carry_out(
        &mut self,
        peer: &PeerId,
        link: Option<&Arc<PeerLink>>,
        effects: Effects<PeerId>,
    ) -> Vec<RoomEvent> {
        let current = self
            .held
            .get(peer)
            .map(|(_, link)| link)
            .or_else(|| self.peers.get(peer)?.transfers.link());
        if let Some(link) = link.or(current) {
            for frame in &effects.frames {
                if let Err(error) = link.send_control(frame).await {
                    tracing::debug!(%error, "verification frame not sent");
                }
            }
        }
        for signal in effects.signals {
            self.mesh.send_signal(peer.clone(), signal);
        }
        let mut room_events = Vec::new();
        for event in effects.events {
            match event {
                // Printed as part of "connected to NAME (device …)".
                VerifierEvent::Fingerprint { .. } => {}
                VerifierEvent::SafetyFailed { peer, error } => {
                    let name = self.name(&peer);
                    self.ui
                        .status(format!("no safety number with {name}: {error}"));
                }
                VerifierEvent::SafetyNumber { peer, number } => {
                    let name = self.name(&peer);
                    self.ui
                        .status(format!("safety number with {name}: {number}"));
                }
                VerifierEvent::Paired { peer, fingerprint } => {
                    let name = self.name(&peer).to_owned();
                    self.ui
                        .status(format!("paired with {name} (device {fingerprint})"));
                    match self.verification.remember(&name, &fingerprint) {
                        Ok(Some(path)) => self
                            .ui
                            .status(format!("remembered {name} in {}", path.display())),
                        Ok(None) => {}
                        Err(error) => self.ui.status(format!("{error}")),
                    }
                    if let Some((name, link)) = self.held.remove(&peer) {
                        room_events.extend(self.admit(peer, name, link).await);
                    }
                }
                VerifierEvent::PairingFailed(error) => {
                    room_events.push(RoomEvent::PairingFailed(error));
                }
            }
        }
        room_events
    }

    /// Offer files to a connected peer: in one transfer, or in several if their offer
    /// would not fit one message a browser or another native peer takes. In a
    /// `swarm`, every peer offered the same files may fetch blocks from the others.
    pub async fn offer(
        &mut self,
        peer: &PeerId,
        files: &[OutgoingFile],
        swarm: bool,
    ) -> Result<(Vec<TransferId>, Vec<RoomEvent>)> {
        if !self.peers.contains_key(peer) {
            return Err(crate::error::Error::NoPeer(format!(
                "{peer} is not connected"
            )));
        }
        let metas = files.iter().map(|file| file.meta.clone()).collect();
        let mut rest = files;
        let (mut ids, mut room_events) = (Vec::new(), Vec::new());
        for run in offers_within(metas, MIN_MAX_MESSAGE_LEN) {
            let (run, after) = rest.split_at(run.len());
            rest = after;
            let swarm = if swarm {
                Some(self.swarm_for(run)?)
            } else {
                None
            };
            let transfers = self.transfers_mut(peer).expect("checked above");
            let (id, events) = transfers.offer(run, swarm).await?;
            ids.push(id);
            room_events.extend(self.report(peer, events));
        }
        room_events.extend(self.drive_swarms().await);
        Ok((ids, room_events))
    }

    /// Takes the files `peer` offered in `transfer`; as a member of its swarm if the
    /// offer named one.
    pub async fn accept(&mut self, peer: &PeerId, transfer: TransferId) -> Vec<RoomEvent> {
        let in_swarm = self
            .transfer(peer, transfer)
            .is_some_and(|offered| offered.swarm().is_some());
        let events = match self.transfers_mut(peer) {
            Some(transfers) if in_swarm => transfers.accept_in_swarm(transfer).await,
            Some(transfers) => transfers.accept(transfer).await,
            None => Vec::new(),
        };
        let mut events = self.report(peer, events);
        if in_swarm {
            events.extend(self.join_swarm(peer, transfer).await);
        }
        events
    }

    /// Whether this peer holds blocks that a member of one of its swarms still lacks.
    pub fn serving_others(&self) -> bool {
        self.swarms.still_needed()
    }

    /// For testing: damage every swarm block served (`receive --corrupt-served`).
    pub fn corrupt_served(&mut self) {
        self.swarms.corrupt_served();
    }

    pub async fn decline(&mut self, peer: &PeerId, transfer: TransferId) -> Vec<RoomEvent> {
        let events = match self.transfers_mut(peer) {
            Some(transfers) => transfers.decline(transfer).await,
            None => Vec::new(),
        };
        self.report(peer, events)
    }

    /// Stop every transfer with everyone, e.g. on Ctrl-C.
    pub async fn cancel_all(&mut self, reason: &str) -> Vec<RoomEvent> {
        let peers: Vec<PeerId> = self.peers.keys().cloned().collect();
        let mut room_events = Vec::new();
        for peer in peers {
            let events = match self.transfers_mut(&peer) {
                Some(transfers) => transfers.cancel_all(reason).await,
                None => Vec::new(),
            };
            room_events.extend(self.report(&peer, events));
        }
        room_events
    }

    /// The room joined: the one asked for, or the network's.
    pub fn room_id(&self) -> &RoomId {
        &self.mesh.room
    }

    /// The room's chat lines, oldest first.
    pub fn chat_lines(&self) -> &[meshdrop_chat::Line] {
        self.chat.lines()
    }

    /// The connected peers called `name`.
    pub fn peers_named(&self, name: &str) -> Vec<PeerId> {
        self.peers
            .keys()
            .filter(|peer| self.name(peer) == name)
            .cloned()
            .collect()
    }

    /// Keeps the chat in `history` from now on, starting with what it holds.
    pub async fn keep_history(&mut self, history: History) -> Result<()> {
        self.chat.restore(history.load()?);
        self.ui.status(format!(
            "chat history: {} ({} earlier lines)",
            history.path().display(),
            self.chat.lines().len()
        ));
        self.history = Some(history);
        self.drive_chat().await;
        Ok(())
    }

    /// Forgets the room's chat, here and in the history kept.
    pub async fn clear_chat(&mut self) {
        self.chat.clear();
        self.drive_chat().await;
    }

    /// Writes a chat line to everyone in the room (`to` is `None`) or to one peer
    /// alone; a peer whose link is down gets it when the link is up again.
    pub async fn chat(&mut self, text: String, to: Option<PeerId>) -> Result<(), ChatError> {
        let name = self.self_name.clone();
        self.chat.write(text, to, now_ms(), name)?;
        self.drive_chat().await;
        Ok(())
    }

    /// A chat line or acknowledgement from `from`.
    async fn hear_chat(&mut self, from: &PeerId, frame: ControlFrame) -> Vec<RoomEvent> {
        let name = self.name(from).to_owned();
        let heard = self.chat.hear(from, &name, frame);
        self.drive_chat().await;
        match heard {
            Ok(Heard::Line) => {
                let line = self.chat.lines().last().expect("the line just heard");
                vec![RoomEvent::Chat {
                    name,
                    text: line.text.clone(),
                    sent_at_ms: line.sent_at_ms,
                    private: line.is_private(),
                }]
            }
            Ok(Heard::Delivered { id }) => {
                if let Some(line) = self
                    .chat
                    .lines()
                    .iter()
                    .find(|line| line.mine && line.id == id)
                {
                    self.ui
                        .status(format!("{name} has your line {:?}", short(&line.text)));
                }
                Vec::new()
            }
            Ok(Heard::Repeat | Heard::AlreadyDelivered) => Vec::new(),
            Err(error) => {
                self.ui.status(format!("chat from {name} refused: {error}"));
                Vec::new()
            }
        }
    }

    /// Sends what the chat asks, and keeps its lines where asked to if they changed.
    async fn drive_chat(&mut self) {
        while let Some(meshdrop_chat::Output::Send { peer, frame }) = self.chat.poll_output() {
            if let Some(link) = self
                .peers
                .get(&peer)
                .and_then(|known| known.transfers.link())
            {
                send_chat(&peer, link, &frame).await;
            }
        }
        let version = self.chat.version();
        let changed = std::mem::replace(&mut self.kept, version) != version;
        if let Some(history) = self.history.as_ref().filter(|_| changed) {
            if let Err(error) = history.save(self.chat.lines()) {
                self.ui.status(format!("chat not kept: {error}"));
            }
        }
    }

    /// Let everything sent be delivered, then close every connection.
    pub async fn leave(self) {
        self.mesh.shutdown().await;
    }

    /// `peer` left the room and has no working link: its transfers pause and wait out
    /// the grace period.
    async fn on_left(&mut self, peer: PeerId) -> Vec<RoomEvent> {
        self.ui
            .status(format!("{} left the room", self.name(&peer)));
        self.chat.peer_left(&peer);
        let swarm_events = self.swarm_peer_left(&peer).await;
        let Some(known) = self.peers.get_mut(&peer) else {
            return swarm_events;
        };
        known.in_room = false;
        let mut driver_events = known.transfers.on_link_down().await;
        driver_events.extend(known.transfers.on_peer_left(now_ms()).await);
        self.report(&peer, driver_events)
    }

    /// The mesh says `peer` is gone for good, its grace over. The transfers' own grace,
    /// as long and started at the same `Left`, has failed them or does so now.
    async fn on_disconnected(&mut self, peer: PeerId) -> Vec<RoomEvent> {
        self.held.remove(&peer);
        self.chat.peer_left(&peer);
        let Some(known) = self.peers.get_mut(&peer) else {
            return Vec::new();
        };
        let due = known.transfers.poll_timeout().unwrap_or(0).max(now_ms());
        let driver_events = known.transfers.handle_timeout(due).await;
        let mut events = self.report(&peer, driver_events);
        self.forget(&peer);
        self.ui.status(format!("{} disconnected", self.name(&peer)));
        events.push(RoomEvent::Disconnected { peer });
        events
    }

    /// Fails the transfers of peers whose grace ran out, and forgets those peers; serves
    /// swarm blocks to peers that waited for room on their links.
    async fn on_timeout(&mut self) -> Vec<RoomEvent> {
        let mut events = self.serve_waiting().await;
        let now = now_ms();
        let due: Vec<PeerId> = self
            .peers
            .iter()
            .filter(|(_, peer)| peer.transfers.poll_timeout().is_some_and(|at| at <= now))
            .map(|(id, _)| id.clone())
            .collect();
        for peer in due {
            let driver_events = match self.transfers_mut(&peer) {
                Some(transfers) => transfers.handle_timeout(now).await,
                None => Vec::new(),
            };
            events.extend(self.report(&peer, driver_events));
            self.forget(&peer);
        }
        events
    }

    /// Forgets a peer gone for good, unless files it sent still come by a swarm: that
    /// transfer saves them.
    fn forget(&mut self, peer: &PeerId) {
        if !self
            .peers
            .get(peer)
            .is_some_and(|known| known.transfers.runs_in_swarm())
        {
            self.peers.remove(peer);
        }
    }

    /// Without a download directory, decline `peer`'s offers at once: they are not
    /// the command's business, and the peer should not wait for an answer.
    async fn refuse_offers_unless_receiving(
        &mut self,
        peer: &PeerId,
        events: Vec<RoomEvent>,
    ) -> Vec<RoomEvent> {
        if self.download_dir.is_some() {
            return events;
        }
        let mut kept = Vec::new();
        for event in events {
            match event {
                RoomEvent::Transfer {
                    transfer, state, ..
                } if self.is_offer_to_us(peer, transfer, &state) => {
                    self.ui.status(format!(
                        "{} offered files; declined (use `meshdrop receive` to receive)",
                        self.name(peer)
                    ));
                    kept.extend(self.decline(peer, transfer).await);
                }
                event => kept.push(event),
            }
        }
        kept
    }

    fn transfers_mut(&mut self, peer: &PeerId) -> Option<&mut PeerTransfers> {
        self.peers.get_mut(peer).map(|known| &mut known.transfers)
    }

    /// Update the bars and print what happened; return the state changes.
    fn report(&mut self, peer: &PeerId, events: Vec<DriverEvent>) -> Vec<RoomEvent> {
        let mut room_events = Vec::new();
        for event in events {
            match event {
                DriverEvent::Saved { path } => self.ui.status(format!("saved {}", path.display())),
                DriverEvent::JoinedSwarm { swarm, .. } => self.add_to_swarm(swarm, peer),
                DriverEvent::Resumed { transfer } => {
                    let resumed = self.peers.get(peer).and_then(|p| p.transfers.get(transfer));
                    if let Some(t) = resumed {
                        let progress = t.progress();
                        self.ui.status(format!(
                            "resuming {} from {}: {} of {} bytes already here",
                            describe(t),
                            self.name(peer),
                            progress.bytes_done,
                            progress.bytes_total
                        ));
                    }
                }
                DriverEvent::State { transfer, state } => {
                    self.show_state(peer, transfer, &state);
                    let in_swarm = self
                        .transfer(peer, transfer)
                        .filter(|t| t.in_swarm())
                        .and_then(Transfer::swarm);
                    if let Some(swarm) = in_swarm.filter(|_| state.is_aborted()) {
                        self.swarm_transfer_ended(swarm, peer);
                    }
                    room_events.push(RoomEvent::Transfer {
                        peer: peer.clone(),
                        transfer,
                        state,
                    });
                }
            }
        }
        if let Some(known) = self.peers.get(peer) {
            for (transfer, bar) in self.ui.bars_of(peer) {
                if let Some(t) = known.transfers.get(transfer) {
                    bar.set_position(t.progress().bytes_done);
                }
            }
        }
        room_events
    }

    fn show_state(&mut self, peer: &PeerId, transfer: TransferId, state: &TransferState) {
        let Some(known) = self.peers.get(peer) else {
            return;
        };
        let Some(t) = known.transfers.get(transfer) else {
            return;
        };
        let files = describe(t);
        let name = self.name(peer);
        let (towards, verb) = match t.direction() {
            Direction::Outgoing => (format!("to {name}"), "sending"),
            Direction::Incoming => (format!("from {name}"), "receiving"),
        };
        match state {
            TransferState::Offered => {}
            TransferState::Transferring => {
                let label = format!("{verb} {files} {towards}");
                let total = t.progress().bytes_total;
                self.ui.status(&label);
                self.ui.start(peer, transfer, label, total);
            }
            TransferState::Verifying => {}
            TransferState::Paused { gives_up_at_ms } => {
                let until = gives_up_at_ms
                    .and_then(|ms| chrono::DateTime::from_timestamp_millis(ms as i64))
                    .map(|at| {
                        let at = at.with_timezone(&chrono::Local).format("%H:%M:%S");
                        format!(" (gives up at {at} unless {name} is back)")
                    })
                    .unwrap_or_default();
                self.ui
                    .status(format!("{files} {towards}: paused, reconnecting…{until}"));
            }
            TransferState::Declined => self.ui.status(format!("{files} {towards}: declined")),
            TransferState::Done => {
                let sent = match t.direction() {
                    Direction::Outgoing => {
                        format!(" ({} bytes sent)", known.transfers.bytes_sent(transfer))
                    }
                    Direction::Incoming => String::new(),
                };
                self.ui.status(format!("{files} {towards}: done{sent}"));
            }
            TransferState::Cancelled { by_me, reason } => {
                let who = if *by_me { "you" } else { name };
                self.ui
                    .status(format!("{files} {towards}: cancelled by {who} ({reason})"));
            }
            TransferState::Failed { reason } => self
                .ui
                .status(format!("{files} {towards}: failed ({reason})")),
        }
        if state.is_final() {
            self.ui.finish(peer, transfer);
        }
    }
}

/// "a.txt (12 B)" or "3 files (1.2 MiB)".
pub fn describe(transfer: &Transfer) -> String {
    let files = transfer.files();
    let total = indicatif::BinaryBytes(files.iter().map(|file| file.size).sum());
    match files {
        [only] => format!("{} ({total})", only.name),
        _ => format!("{} files ({total})", files.len()),
    }
}

/// Milliseconds since the Unix epoch, the clock the transfer engines are given.
fn now_ms() -> u64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX)
}

/// The start of a chat line, for a status line.
fn short(text: &str) -> String {
    const SHOWN: usize = 40;
    match text.char_indices().nth(SHOWN) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

async fn send_chat(peer: &PeerId, link: &PeerLink, frame: &ControlFrame) {
    if let Err(error) = link.send_control(frame).await {
        // The link is dying; the mesh reports it as disconnected.
        tracing::debug!(%peer, %error, "chat line not sent");
    }
}
