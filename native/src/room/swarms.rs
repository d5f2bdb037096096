//! The room's swarms: files sent to everyone travel between the receivers too.
//!
//! Each swarm is a [`meshdrop_swarm::Swarm`] core; this module carries out what it
//! asks with the room's links and files. The origin reads blocks from the files it
//! offered; a receiver writes what it gets into the temporary files of its transfer
//! from the origin (a [`crate::driver::PeerTransfers`] shell that shows the progress
//! and saves each file once the swarm verified it) and serves blocks back from them,
//! or from where they were saved. Blocks go out whole, as pieces on the peer's data channel, one
//! while less than [`SERVE_AHEAD`] waits in its send buffer; the rest a moment later.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use meshdrop_protocol::frame::{
    ControlFrame, SwarmFrame, SwarmId, SwarmPiece, TransferId, MIN_MAX_MESSAGE_LEN,
    SWARM_PIECE_HEADER_LEN,
};
use meshdrop_protocol::PeerId;
use meshdrop_swarm::{pieces, Output, Swarm};

use super::{Room, RoomEvent};
use crate::driver::read_at;
use crate::link::DATA_LOW_WATER;
use crate::outgoing::OutgoingFile;

/// Bytes of a block per piece: whole messages of the size every peer takes.
const PIECE_LEN: usize = MIN_MAX_MESSAGE_LEN - SWARM_PIECE_HEADER_LEN;

/// A member starts serving another block to a peer only while less than this waits in
/// the peer's send buffer (the level at which the link reports it drained): plenty to
/// keep the link busy, while a block asked for still waits here, where a
/// `swarm_unwant` can call it off, and each block arrives soon enough to be passed on.
/// Queued as deep as a plain transfer's (`DATA_HIGH_WATER`), the origin's first blocks
/// were all in flight before the receivers' stripes were known, and came twice.
const SERVE_AHEAD: usize = DATA_LOW_WATER as usize;

/// How soon a peer whose send buffer was too full is served again. The link reports a
/// drained buffer by the bytes it has not sent yet, not by those the peer has not
/// acknowledged, which [`SERVE_AHEAD`] counts, so it may never report it: a short
/// timer looks again.
pub(super) const SERVE_AGAIN: Duration = Duration::from_millis(20);

/// The swarms this peer takes part in.
#[derive(Default)]
pub(super) struct Swarms {
    entries: HashMap<SwarmId, SwarmEntry>,
    /// Swarms with outputs queued by calls that could not carry them out.
    dirty: BTreeSet<SwarmId>,
    /// Peers with blocks to serve that wait for room on their link.
    waiting_for_room: BTreeSet<PeerId>,
    /// For testing: flip the first byte of every block served (`receive
    /// --corrupt-served`).
    corrupt_served: bool,
}

struct SwarmEntry {
    core: Swarm,
    role: Role,
}

enum Role {
    /// This peer offered the files, read from these paths.
    Origin { sources: Vec<PathBuf> },
    /// This peer receives them in `transfer` from `origin`.
    Receiver {
        origin: PeerId,
        transfer: TransferId,
    },
}

impl Swarms {
    /// Whether this peer holds blocks another member of one of its swarms still lacks.
    pub(super) fn still_needed(&self) -> bool {
        self.entries.values().any(|entry| {
            let total = entry.core.progress().total;
            entry.core.is_complete() && entry.core.member_progress().any(|(_, held)| held < total)
        })
    }

    /// Whether some peer waits for room on its link ([`SERVE_AGAIN`]).
    pub(super) fn waits_for_room(&self) -> bool {
        !self.waiting_for_room.is_empty()
    }

    pub(super) fn corrupt_served(&mut self) {
        self.corrupt_served = true;
    }
}

impl Room {
    /// The swarm for `files`, one offer's worth, made when first offered.
    pub(super) fn swarm_for(&mut self, files: &[OutgoingFile]) -> crate::error::Result<SwarmId> {
        let sources: Vec<PathBuf> = files.iter().map(|file| file.source.clone()).collect();
        let known = self.swarms.entries.iter().find(|(_, entry)| {
            matches!(&entry.role, Role::Origin { sources: theirs } if *theirs == sources)
        });
        if let Some((id, _)) = known {
            return Ok(*id);
        }
        let id = loop {
            let id: SwarmId = rand::random();
            if !self.swarms.entries.contains_key(&id) {
                break id;
            }
        };
        let sizes = files.iter().map(|file| file.meta.size).collect();
        let core = Swarm::origin(id, self.self_id.clone(), sizes)
            .map_err(|error| crate::error::Error::Usage(error.to_string()))?;
        let role = Role::Origin { sources };
        self.swarms.entries.insert(id, SwarmEntry { core, role });
        Ok(id)
    }

    /// Accepted `transfer` from `origin` in the swarm its offer named: takes part.
    pub(super) async fn join_swarm(
        &mut self,
        origin: &PeerId,
        transfer: TransferId,
    ) -> Vec<RoomEvent> {
        let Some(offered) = self.transfer(origin, transfer) else {
            return Vec::new();
        };
        let Some(id) = offered.swarm() else {
            return Vec::new();
        };
        let sizes = offered.files().iter().map(|file| file.size).collect();
        let core = match Swarm::receiver(id, self.self_id.clone(), origin.clone(), sizes) {
            Ok(core) => core,
            Err(error) => {
                self.ui
                    .status(format!("cannot take part in the swarm: {error}"));
                return Vec::new();
            }
        };
        let role = Role::Receiver {
            origin: origin.clone(),
            transfer,
        };
        self.swarms.entries.insert(id, SwarmEntry { core, role });
        self.swarms.dirty.insert(id);
        self.drive_swarms().await
    }

    /// The receiver of our `transfer` to `peer` accepted it in `swarm`.
    pub(super) fn add_to_swarm(&mut self, swarm: SwarmId, peer: &PeerId) {
        if let Some(entry) = self.swarms.entries.get_mut(&swarm) {
            if let Err(error) = entry.core.add_receiver(peer.clone()) {
                tracing::warn!(%error, "receiver not added to the swarm");
            }
            self.swarms.dirty.insert(swarm);
        }
    }

    /// `peer`'s transfer in `swarm` ended before it was done (cancelled, or failed). For
    /// the origin, that receiver takes no more part: the others hear so, and ask it for
    /// nothing more.
    pub(super) fn swarm_transfer_ended(&mut self, swarm: SwarmId, peer: &PeerId) {
        let entry = self.swarms.entries.get_mut(&swarm);
        if let Some(entry) = entry.filter(|entry| entry.core.is_origin()) {
            entry.core.peer_left(peer);
            self.swarms.dirty.insert(swarm);
        }
    }

    /// A swarm frame from `from`.
    pub(super) async fn on_swarm_frame(
        &mut self,
        from: &PeerId,
        frame: SwarmFrame,
    ) -> Vec<RoomEvent> {
        let id = frame.swarm();
        let Some(entry) = self.swarms.entries.get_mut(&id) else {
            tracing::debug!(%from, swarm = id, "frame for a swarm we are not in");
            return Vec::new();
        };
        if let Err(error) = entry.core.on_frame(from, frame) {
            tracing::warn!(%from, %error, "swarm frame refused");
        }
        self.swarms.dirty.insert(id);
        self.drive_swarms().await
    }

    /// A swarm piece from `from`'s data channel.
    pub(super) async fn on_swarm_piece(&mut self, from: &PeerId, message: &[u8]) -> Vec<RoomEvent> {
        let piece = match SwarmPiece::decode(message) {
            Ok(piece) => piece,
            Err(error) => {
                tracing::warn!(%from, %error, "swarm piece refused");
                return Vec::new();
            }
        };
        let Some(entry) = self.swarms.entries.get_mut(&piece.swarm) else {
            return Vec::new();
        };
        if let Err(error) = entry.core.on_piece(from, piece) {
            tracing::warn!(%from, %error, "swarm piece refused");
        }
        self.swarms.dirty.insert(piece.swarm);
        self.drive_swarms().await
    }

    /// Every swarm hears that the link to `peer` is up (`true`) or down.
    pub(super) async fn swarm_link(&mut self, peer: &PeerId, up: bool) -> Vec<RoomEvent> {
        for (id, entry) in &mut self.swarms.entries {
            if up {
                entry.core.link_up(peer);
            } else {
                entry.core.link_down(peer);
            }
            self.swarms.dirty.insert(*id);
        }
        self.drive_swarms().await
    }

    /// `peer` left the room: it is no member of any swarm now.
    pub(super) async fn swarm_peer_left(&mut self, peer: &PeerId) -> Vec<RoomEvent> {
        for (id, entry) in &mut self.swarms.entries {
            entry.core.peer_left(peer);
            self.swarms.dirty.insert(*id);
        }
        self.drive_swarms().await
    }

    /// Carries out what the swarms with news ask.
    pub(super) async fn drive_swarms(&mut self) -> Vec<RoomEvent> {
        let mut events = Vec::new();
        let mut to_serve = BTreeSet::new();
        while let Some(id) = self.swarms.dirty.pop_first() {
            while let Some(output) = self
                .swarms
                .entries
                .get_mut(&id)
                .and_then(|e| e.core.poll_output())
            {
                match output {
                    Output::Send { to, frame } => {
                        if let Some(link) = self.peers.get(&to).and_then(|p| p.transfers.link()) {
                            let frame = ControlFrame::Swarm(Box::new(frame));
                            if let Err(error) = link.send_control(&frame).await {
                                tracing::debug!(%error, "swarm frame not sent");
                            }
                        }
                    }
                    Output::ServeReady { to } => {
                        to_serve.insert(to);
                    }
                    Output::Write {
                        index,
                        offset,
                        bytes,
                    } => {
                        let p = self.swarms.entries[&id].core.progress();
                        tracing::debug!(
                            offset,
                            origin = p.from_origin >> 20,
                            peers = p.from_peers >> 20,
                            served = p.served >> 20,
                            "wrote"
                        );
                        events.extend(self.write_from_swarm(id, index, offset, &bytes).await)
                    }
                    Output::FileComplete { index, .. } => {
                        if let Some((origin, transfer)) = self.receiving_of(id) {
                            let driver_events = match self.transfers_mut(&origin) {
                                Some(transfers) => {
                                    transfers.swarm_file_verified(transfer, index).await
                                }
                                None => Vec::new(),
                            };
                            events.extend(self.report(&origin, driver_events));
                        }
                    }
                    Output::Complete => {
                        let progress = self.swarms.entries[&id].core.progress();
                        self.ui.status(format!(
                            "all blocks here: {} bytes from peers, {} from the sender",
                            progress.from_peers, progress.from_origin
                        ));
                    }
                    Output::EveryBlockOut => {
                        let core = &self.swarms.entries[&id].core;
                        let total = core.progress().total;
                        let members: Vec<u64> =
                            core.member_progress().map(|(_, held)| held).collect();
                        let whole = members.iter().filter(|held| **held == total).count();
                        self.ui.status(format!(
                            "every block is with a receiver ({whole} of {} hold them all): \
                             they can finish without this sender",
                            members.len()
                        ));
                    }
                    Output::SourceDropped { peer, block } => {
                        let name = self.name(&peer).to_owned();
                        self.ui.status(format!(
                            "{name} served block {block} damaged: no longer asked for blocks"
                        ));
                    }
                    Output::OriginLeft {
                        finishing_from_peers,
                    } => self.ui.status(if finishing_from_peers {
                        "Sender left; finishing from peers"
                    } else {
                        "Sender left; some blocks are with nobody else: waiting for it"
                    }),
                }
            }
        }
        for peer in to_serve {
            events.extend(self.serve_swarms(&peer).await);
        }
        events
    }

    /// Serves again the peers that waited for room on their links.
    pub(super) async fn serve_waiting(&mut self) -> Vec<RoomEvent> {
        let mut events = Vec::new();
        let waiting: Vec<PeerId> = self.swarms.waiting_for_room.iter().cloned().collect();
        for peer in waiting {
            events.extend(self.serve_swarms(&peer).await);
        }
        events
    }

    /// Sends `peer` the blocks it asked for, while its data channel has room.
    pub(super) async fn serve_swarms(&mut self, peer: &PeerId) -> Vec<RoomEvent> {
        let Some(link) = self
            .peers
            .get(peer)
            .and_then(|p| p.transfers.link())
            .cloned()
        else {
            return Vec::new();
        };
        self.swarms.waiting_for_room.remove(peer);
        let ids: Vec<SwarmId> = self.swarms.entries.keys().copied().collect();
        for id in ids {
            loop {
                if link.data_buffered().await >= SERVE_AHEAD {
                    self.swarms.waiting_for_room.insert(peer.clone());
                    return Box::pin(self.drive_swarms()).await;
                }
                let entry = self.swarms.entries.get_mut(&id);
                let Some(block) = entry.and_then(|entry| entry.core.next_serve(peer)) else {
                    break;
                };
                let mut bytes = match self.read_block(id, block).await {
                    Ok(bytes) => bytes,
                    Err(reason) => {
                        tracing::warn!(reason, "swarm block not read");
                        let entry = self.swarms.entries.get_mut(&id).expect("read above");
                        entry.core.cannot_serve(peer, block);
                        self.swarms.dirty.insert(id);
                        continue;
                    }
                };
                let entry = self.swarms.entries.get_mut(&id).expect("read above");
                if let Err(error) = entry.core.served(peer, block, &bytes) {
                    tracing::warn!(%error, "swarm block not served");
                    continue;
                }
                self.swarms.dirty.insert(id);
                if self.swarms.corrupt_served {
                    if let Some(first) = bytes.first_mut() {
                        *first ^= 0xff;
                    }
                }
                for piece in pieces(id, block, &bytes, PIECE_LEN) {
                    let mut message = Vec::new();
                    piece.encode_into(&mut message);
                    if let Err(error) = link.send_data(BytesMut::from(Bytes::from(message))).await {
                        // The link is dying: the mesh reports it, and the peer asks again.
                        tracing::debug!(%error, "swarm piece not sent");
                        return Box::pin(self.drive_swarms()).await;
                    }
                }
            }
        }
        Box::pin(self.drive_swarms()).await
    }

    /// The bytes of block `block` of swarm `id`, from the files offered or received.
    async fn read_block(&mut self, id: SwarmId, block: u32) -> Result<Vec<u8>, String> {
        let entry = &self.swarms.entries[&id];
        let place = entry.core.layout().place(block);
        let mut bytes = vec![0; (place.span.end - place.span.start) as usize];
        match &entry.role {
            Role::Origin { sources } => {
                let path = sources[place.index as usize].clone();
                read_at(&path, place.span.start, &mut bytes).await?;
            }
            Role::Receiver { origin, transfer } => {
                let (origin, transfer) = (origin.clone(), *transfer);
                let transfers = self
                    .transfers_mut(&origin)
                    .ok_or("the transfer from the sender is gone")?;
                transfers
                    .read_received(transfer, place.index, place.span.start, &mut bytes)
                    .await?;
            }
        }
        Ok(bytes)
    }

    /// Writes verified bytes into the transfer they belong to, and shows the progress.
    async fn write_from_swarm(
        &mut self,
        id: SwarmId,
        index: u32,
        offset: u64,
        bytes: &[u8],
    ) -> Vec<RoomEvent> {
        let Some((origin, transfer)) = self.receiving_of(id) else {
            return Vec::new();
        };
        let held = self.swarms.entries[&id].core.progress().held;
        let Some(transfers) = self.transfers_mut(&origin) else {
            return Vec::new();
        };
        if let Err(reason) = transfers
            .write_from_swarm(transfer, index, offset, bytes)
            .await
        {
            let events = transfers.cancel(transfer, &reason).await;
            self.swarms.entries.remove(&id);
            return self.report(&origin, events);
        }
        transfers.swarm_progress(transfer, held);
        self.report(&origin, Vec::new())
    }

    /// The origin and transfer of a swarm this peer receives in.
    fn receiving_of(&self, id: SwarmId) -> Option<(PeerId, TransferId)> {
        match &self.swarms.entries.get(&id)?.role {
            Role::Receiver { origin, transfer } => Some((origin.clone(), *transfer)),
            Role::Origin { .. } => None,
        }
    }
}
