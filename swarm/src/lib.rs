//! Swarm delivery, as a state machine that performs no I/O.
//!
//! Files sent to several peers of a room need not leave the sender once per receiver:
//! the receivers pass blocks on to each other over the mesh links they already have,
//! as BitTorrent's peers pass pieces. The sender (the *origin*) then uploads each block
//! about once, and the time to reach N receivers grows far slower than N.
//!
//! # The flow
//!
//! ```text
//! origin                       receiver A                   receiver B
//! add_receiver(A), (B) ─ swarm_members [A, B] ─►  (and to B)
//!                              ─ swarm_have (bitmap) ──────► (to everyone it meets)
//!   ◄── swarm_want 7 ──────────  rarest first, a few per link
//! next_serve, read, served
//!   ─ swarm_digests 7 ─►  (to every receiver, from the origin alone)
//!   ═ pieces of 7 ═════►  verify → Write, swarm_got 7 ─────►
//!                              ◄─────────────────────── swarm_want 7
//!                              ═ pieces of 7 ══════════════► verify against the origin's digest
//! ```
//!
//! Every member announces what it holds (a bitmap, then one `swarm_got` per block) and
//! asks members that hold a block it lacks: the rarest block first (held by the fewest
//! linked members, ties broken at random so receivers spread out), at most
//! [`WANTS_PER_LINK`] outstanding per link, the origin asked only for what no other
//! member can give. When every missing block has been asked for, the last ones are
//! asked of a second member too (the endgame) and the slower copy is called off.
//! Every block is checked against the digest the origin sent over its own link,
//! whoever served it; a member that serves a bad block is never asked again for this
//! swarm ([`Output::SourceDropped`]). Blocks travel as [`SwarmPiece`]s on the data
//! channel, whole blocks in order, so each member assembles at most one block per link.
//!
//! # Driving it
//!
//! The origin makes a [`Swarm::origin`] and calls [`Swarm::add_receiver`] for each peer
//! that accepts; a receiver makes a [`Swarm::receiver`]. Then, for every swarm: give it
//! each swarm frame ([`Swarm::on_frame`]) and piece ([`Swarm::on_piece`]) from the
//! data channel; tell it links going down and up and peers leaving; after every call,
//! carry out [`Swarm::poll_output`] until it returns `None`. When
//! [`Output::ServeReady`] names a peer, and whenever that peer's data channel has room,
//! take [`Swarm::next_serve`], read that block, hand the bytes to [`Swarm::served`],
//! and send them with [`pieces`].

mod bits;
mod layout;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use meshdrop_protocol::frame::{SwarmFrame, SwarmId, SwarmPiece};
use meshdrop_protocol::PeerId;
use meshdrop_transfer::digest::{file_digest, parse_block_digest};
use meshdrop_transfer::BlockDigest;
use sha2::{Digest, Sha256};

pub use bits::{BadBits, Bits};
pub use layout::{BlockPlace, Layout, TooManyBlocks};

/// Wants a receiver keeps outstanding on each link: enough to keep a link busy while
/// the next request crosses, few enough that a slow member holds little.
pub const WANTS_PER_LINK: usize = 4;

/// Members asked for the same block at most, in the endgame.
pub const ENDGAME_SOURCES: usize = 2;

/// Block digests per `swarm_digests` frame: 512 of 64 hex digits fit 64 KiB messages.
pub const DIGESTS_PER_FRAME: usize = 512;

/// An effect for the driver, taken with [`Swarm::poll_output`] in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Send `frame` to `to` on the control channel, as a
    /// [`meshdrop_protocol::frame::ControlFrame::Swarm`] (drop it if no link is up: what
    /// matters is said again on the next link).
    Send { to: PeerId, frame: SwarmFrame },
    /// `to` waits for blocks: take them with [`Swarm::next_serve`] as its data channel
    /// has room.
    ServeReady { to: PeerId },
    /// Write these verified bytes at `offset` of file `index`.
    Write {
        index: u32,
        offset: u64,
        bytes: Vec<u8>,
    },
    /// Every block of file `index` is held and verified; its digest as the transfer
    /// engine makes it.
    FileComplete { index: u32, sha256: String },
    /// Every block of every file is held and verified. The swarm goes on serving
    /// others until the driver drops it.
    Complete,
    /// `peer` served block `block` with bytes that do not match the origin's digest:
    /// it is asked for nothing more in this swarm.
    SourceDropped { peer: PeerId, block: u32 },
    /// The origin left. `finishing_from_peers`: every block this receiver lacks is
    /// held by a linked member, so it can finish without the origin.
    OriginLeft { finishing_from_peers: bool },
    /// Origin, once: every block is held by a receiver now, so the receivers can finish
    /// among themselves if the origin leaves.
    EveryBlockOut,
}

/// Input that breaks the swarm's rules; it changed nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SwarmError {
    #[error("{0} is not a member of this swarm")]
    NotMember(PeerId),
    #[error("only the origin may send {0}")]
    NotOrigin(&'static str),
    #[error("block {block} is past the swarm's {blocks} blocks")]
    NoSuchBlock { block: u32, blocks: u32 },
    #[error(transparent)]
    BadBits(#[from] BadBits),
    #[error("a block digest must be 64 lowercase hex digits")]
    BadDigest,
    #[error("a piece of block {block} at offset {offset} does not continue the {held} bytes held")]
    PieceOutOfOrder { block: u32, offset: u32, held: u64 },
    #[error("{len} bytes read for block {block}, which holds {expected}")]
    WrongReadLength {
        block: u32,
        len: usize,
        expected: u64,
    },
    #[error("frame for swarm {0}, not this one")]
    OtherSwarm(SwarmId),
}

/// Bytes held and where they came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    pub total: u64,
    pub held: u64,
    /// Verified bytes that came from the origin.
    pub from_origin: u64,
    /// Verified bytes that came from other receivers.
    pub from_peers: u64,
    /// Bytes this member served to others.
    pub served: u64,
}

/// One peer of the swarm as this member sees it.
#[derive(Debug, Clone)]
struct Member {
    has: Bits,
    linked: bool,
    /// Served a bad block: never asked again.
    dropped: bool,
    /// The block whose pieces are arriving from it, and the bytes so far.
    arriving: Option<(u32, Vec<u8>)>,
    /// Blocks it asked this member for, not yet taken by the driver.
    to_serve: VecDeque<u32>,
}

impl Member {
    fn new(has: Bits) -> Self {
        Self {
            has,
            linked: true,
            dropped: false,
            arriving: None,
            to_serve: VecDeque::new(),
        }
    }

    fn is_source(&self) -> bool {
        self.linked && !self.dropped
    }
}

/// One member's view of one swarm: the origin's or a receiver's.
#[derive(Debug)]
pub struct Swarm {
    id: SwarmId,
    me: PeerId,
    origin: PeerId,
    layout: Layout,
    digests: Vec<Option<BlockDigest>>,
    held: Bits,
    members: BTreeMap<PeerId, Member>,
    /// Whether the origin's list of receivers came: until then a receiver asks for
    /// nothing, since its stripe is not known.
    members_known: bool,
    /// Bitmaps from peers the origin has not named yet (its list may come later).
    early_haves: BTreeMap<PeerId, Bits>,
    /// Origin: the receiver each block went to first. The origin's upload is the one
    /// everybody shares, so it serves a block once; others get it from that receiver
    /// while it is a source.
    first_given: BTreeMap<u32, PeerId>,
    /// Origin: the receivers refused each block because it went to another first; told
    /// with a `swarm_got` if that one calls it off.
    refused: BTreeMap<u32, BTreeSet<PeerId>>,
    /// Receiver: blocks the origin refused because it gave them to another receiver,
    /// not asked of it again until the members or links change or the origin says
    /// (`swarm_got`) that the other called it off, unless a source was dropped. Asked
    /// again, the origin serves.
    origin_refused: BTreeSet<u32>,
    /// Receiver: blocks a member other than the origin refused though it had said it
    /// held them (it could not read them). If no other member holds one, the origin is
    /// asked for it whatever the stripes and its refusals: asked again, it serves.
    refused_by_members: BTreeSet<u32>,
    /// Origin: the blocks below this one are each held by a receiver, as far as it has
    /// looked; [`Output::EveryBlockOut`] once it reaches the end.
    out_below: u32,
    every_block_out: bool,
    /// This receiver's outstanding wants: block → members asked.
    wanted: BTreeMap<u32, Vec<PeerId>>,
    /// Whole blocks waiting for their digest, with the member that served them.
    unverified: BTreeMap<u32, (PeerId, Vec<u8>)>,
    outputs: VecDeque<Output>,
    progress: Progress,
    rng: u64,
}

impl Swarm {
    /// The origin's swarm over files of `sizes`: it holds every block.
    pub fn origin(id: SwarmId, me: PeerId, sizes: Vec<u64>) -> Result<Self, TooManyBlocks> {
        let mut swarm = Self::new(id, me.clone(), me, sizes)?;
        swarm.held = Bits::full(swarm.layout.blocks());
        swarm.progress.held = swarm.progress.total;
        Ok(swarm)
    }

    /// A receiver's swarm over files of `sizes` from `origin`, which it is linked to.
    pub fn receiver(
        id: SwarmId,
        me: PeerId,
        origin: PeerId,
        sizes: Vec<u64>,
    ) -> Result<Self, TooManyBlocks> {
        let mut swarm = Self::new(id, me, origin.clone(), sizes)?;
        let blocks = swarm.layout.blocks();
        swarm
            .members
            .insert(origin, Member::new(Bits::full(blocks)));
        for index in 0..swarm.layout.files() {
            if swarm.layout.blocks_of(index).is_empty() {
                swarm.file_complete(index);
            }
        }
        if swarm.held.is_full() {
            swarm.outputs.push_back(Output::Complete);
        }
        swarm.send_have(&swarm.origin.clone());
        swarm.schedule();
        Ok(swarm)
    }

    fn new(
        id: SwarmId,
        me: PeerId,
        origin: PeerId,
        sizes: Vec<u64>,
    ) -> Result<Self, TooManyBlocks> {
        let layout = Layout::new(sizes)?;
        let blocks = layout.blocks();
        let total = layout.bytes();
        // Each member its own tie-breaks, the same on every run.
        let seed = Sha256::digest(format!("{me}/{id}"));
        Ok(Self {
            id,
            me,
            origin,
            layout,
            digests: vec![None; blocks as usize],
            held: Bits::empty(blocks),
            members: BTreeMap::new(),
            members_known: false,
            early_haves: BTreeMap::new(),
            first_given: BTreeMap::new(),
            refused: BTreeMap::new(),
            origin_refused: BTreeSet::new(),
            refused_by_members: BTreeSet::new(),
            out_below: 0,
            every_block_out: false,
            wanted: BTreeMap::new(),
            unverified: BTreeMap::new(),
            outputs: VecDeque::new(),
            progress: Progress {
                total,
                ..Progress::default()
            },
            rng: u64::from_le_bytes(seed[..8].try_into().unwrap()) | 1,
        })
    }

    pub fn is_origin(&self) -> bool {
        self.me == self.origin
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    pub fn progress(&self) -> Progress {
        self.progress
    }

    /// Whether this member holds block `block`, verified.
    pub fn holds(&self, block: u32) -> bool {
        self.held.get(block)
    }

    /// Whether this member holds every block, verified.
    pub fn is_complete(&self) -> bool {
        self.held.is_full()
    }

    /// Each other member, with the bytes it says it holds.
    pub fn member_progress(&self) -> impl Iterator<Item = (&PeerId, u64)> + '_ {
        self.members.iter().map(|(peer, member)| {
            let held = (0..self.layout.blocks())
                .filter(|block| member.has.get(*block))
                .map(|block| self.layout.block_len(block))
                .sum();
            (peer, held)
        })
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// Origin: `peer` accepted; it joins the swarm and every receiver learns of it.
    pub fn add_receiver(&mut self, peer: PeerId) -> Result<(), SwarmError> {
        if !self.is_origin() {
            return Err(SwarmError::NotOrigin("swarm_members"));
        }
        self.meet(&peer);
        self.send_digests(&peer);
        self.announce_members();
        Ok(())
    }

    /// `peer` left the room (or the swarm) for good.
    pub fn peer_left(&mut self, peer: &PeerId) {
        // Who has which block coming may have changed: the origin may be asked again.
        self.origin_refused.clear();
        self.early_haves.remove(peer);
        if self.members.remove(peer).is_none() {
            return;
        }
        self.forget_wants_to(peer);
        if self.is_origin() {
            self.announce_members();
        } else if *peer == self.origin {
            let finishing_from_peers = (0..self.layout.blocks())
                .filter(|block| !self.held.get(*block))
                .all(|block| {
                    self.members
                        .values()
                        .any(|m| m.is_source() && m.has.get(block))
                });
            self.outputs.push_back(Output::OriginLeft {
                finishing_from_peers,
            });
        }
        self.schedule();
    }

    /// The link to `peer` went down: what was asked of it is asked elsewhere.
    pub fn link_down(&mut self, peer: &PeerId) {
        // Who has which block coming may have changed: the origin may be asked again.
        self.origin_refused.clear();
        if let Some(member) = self.members.get_mut(peer) {
            member.linked = false;
            member.arriving = None;
            member.to_serve.clear();
            self.forget_wants_to(peer);
            self.schedule();
        }
    }

    /// A new link to `peer` is up: it hears what this member holds again.
    pub fn link_up(&mut self, peer: &PeerId) {
        // Who has which block coming may have changed: the origin may be asked again.
        self.origin_refused.clear();
        if let Some(member) = self.members.get_mut(peer) {
            member.linked = true;
            self.send_have(peer);
            if self.is_origin() {
                self.send_digests(peer);
            }
            self.schedule();
        }
    }

    /// A swarm frame from `from`. Refused input changes nothing.
    pub fn on_frame(&mut self, from: &PeerId, frame: SwarmFrame) -> Result<(), SwarmError> {
        let swarm = frame.swarm();
        if swarm != self.id {
            return Err(SwarmError::OtherSwarm(swarm));
        }
        match frame {
            SwarmFrame::Members { peers, .. } => self.on_members(from, peers),
            SwarmFrame::Have { blocks, .. } => {
                let bits = Bits::from_wire(&blocks, self.layout.blocks())?;
                match self.members.get_mut(from) {
                    Some(member) => member.has = bits,
                    None => {
                        self.early_haves.insert(from.clone(), bits);
                        return Ok(());
                    }
                }
                self.look_for_every_block_out();
                self.schedule();
                Ok(())
            }
            SwarmFrame::Got { block, .. } => {
                self.check_block(block)?;
                if *from == self.origin {
                    // The origin may be asked for it again (see `first_given`).
                    self.origin_refused.remove(&block);
                }
                let has = match self.members.get_mut(from) {
                    Some(member) => &mut member.has,
                    // From a peer the origin has not named yet: kept for when it does.
                    None => self
                        .early_haves
                        .get_mut(from)
                        .ok_or_else(|| SwarmError::NotMember(from.clone()))?,
                };
                has.set(block);
                self.look_for_every_block_out();
                self.schedule();
                Ok(())
            }
            SwarmFrame::Want { block, .. } => self.on_want(from, block),
            SwarmFrame::Unwant { block, .. } => {
                self.check_block(block)?;
                let member = self.member_mut(from)?;
                let queued = member.to_serve.len();
                member.to_serve.retain(|asked| *asked != block);
                let called_off = member.to_serve.len() < queued;
                if called_off && self.first_given.get(&block) == Some(from) {
                    // It will not have the block from here: those refused may ask again.
                    self.first_given.remove(&block);
                    for peer in self.refused.remove(&block).unwrap_or_default() {
                        let frame = SwarmFrame::Got {
                            swarm: self.id,
                            block,
                        };
                        self.send(&peer, frame);
                    }
                }
                Ok(())
            }
            SwarmFrame::Refuse { block, .. } => {
                self.check_block(block)?;
                if *from == self.origin {
                    // Another receiver has it coming: ask that one, once it holds it.
                    self.origin_refused.insert(block);
                } else {
                    // It does not hold the block after all: ask someone else.
                    self.member_mut(from)?.has.clear(block);
                    self.refused_by_members.insert(block);
                }
                self.forget_want(block, from);
                self.schedule();
                Ok(())
            }
            SwarmFrame::Digests { first, sha256, .. } => self.on_digests(from, first, sha256),
        }
    }

    fn on_members(&mut self, from: &PeerId, peers: Vec<PeerId>) -> Result<(), SwarmError> {
        if *from != self.origin || self.is_origin() {
            return Err(SwarmError::NotOrigin("swarm_members"));
        }
        let gone: Vec<PeerId> = self
            .members
            .keys()
            .filter(|peer| **peer != self.origin && !peers.contains(peer))
            .cloned()
            .collect();
        for peer in gone {
            self.peer_left(&peer);
        }
        for peer in peers {
            if peer == self.me || self.members.contains_key(&peer) {
                continue;
            }
            self.meet(&peer);
            self.send_have(&peer);
        }
        self.members_known = true;
        self.origin_refused.clear();
        // The stripes moved: call off what was asked of the origin outside this one's.
        let stripes = self.stripes();
        let outside: Vec<u32> = self
            .wanted
            .iter()
            .filter(|(block, asked)| {
                let (owner, source) = stripes[**block as usize % stripes.len()];
                *owner != self.me && source && asked.contains(&self.origin)
            })
            .map(|(block, _)| *block)
            .collect();
        let origin = self.origin.clone();
        for block in outside {
            self.forget_want(block, &origin);
            let frame = SwarmFrame::Unwant {
                swarm: self.id,
                block,
            };
            self.send(&origin, frame);
        }
        self.schedule();
        Ok(())
    }

    /// A want from `from`. One this member cannot serve is refused: the block is not
    /// here; or `from` is no member yet (the origin's list reached it before this
    /// member), and then this member's own `swarm_have`, once the list names `from`,
    /// tells it again what is here; or, at the origin, the block went to another
    /// receiver that is still a source, which `from` then gets it from.
    fn on_want(&mut self, from: &PeerId, block: u32) -> Result<(), SwarmError> {
        self.check_block(block)?;
        // Refused once, an asker is served: it found no other way (see `origin_refused`).
        let asked_before = self
            .refused
            .get(&block)
            .is_some_and(|refused| refused.contains(from));
        let given_elsewhere = !asked_before
            && self.first_given.get(&block).is_some_and(|first| {
                first != from && self.members.get(first).is_some_and(Member::is_source)
            });
        if self.is_origin() && self.members.contains_key(from) {
            if given_elsewhere {
                self.refused.entry(block).or_default().insert(from.clone());
            } else {
                self.first_given.insert(block, from.clone());
            }
        }
        let held = self.held.get(block) && !given_elsewhere;
        let member = match self.members.get_mut(from) {
            Some(member) if held => member,
            _ => {
                let frame = SwarmFrame::Refuse {
                    swarm: self.id,
                    block,
                };
                self.outputs.push_back(Output::Send {
                    to: from.clone(),
                    frame,
                });
                return Ok(());
            }
        };
        member.to_serve.push_back(block);
        if member.to_serve.len() == 1 {
            self.outputs
                .push_back(Output::ServeReady { to: from.clone() });
        }
        Ok(())
    }

    fn on_digests(
        &mut self,
        from: &PeerId,
        first: u32,
        sha256: Vec<String>,
    ) -> Result<(), SwarmError> {
        if *from != self.origin || self.is_origin() {
            return Err(SwarmError::NotOrigin("swarm_digests"));
        }
        let end = u64::from(first) + sha256.len() as u64;
        if end > u64::from(self.layout.blocks()) {
            return Err(SwarmError::NoSuchBlock {
                block: end.saturating_sub(1).min(u64::from(u32::MAX)) as u32,
                blocks: self.layout.blocks(),
            });
        }
        let digests = sha256
            .iter()
            .map(|hex| parse_block_digest(hex).ok_or(SwarmError::BadDigest))
            .collect::<Result<Vec<_>, _>>()?;
        for (block, digest) in (first..).zip(digests) {
            self.digests[block as usize] = Some(digest);
            if let Some((peer, bytes)) = self.unverified.remove(&block) {
                self.judge(block, peer, bytes);
            }
        }
        self.schedule();
        Ok(())
    }

    /// Bytes of a block from `from`'s data channel.
    pub fn on_piece(&mut self, from: &PeerId, piece: SwarmPiece<'_>) -> Result<(), SwarmError> {
        if piece.swarm != self.id {
            return Err(SwarmError::OtherSwarm(piece.swarm));
        }
        self.check_block(piece.block)?;
        let block_len = self.layout.block_len(piece.block);
        let member = self.member_mut(from)?;
        if member.dropped {
            return Ok(());
        }
        let held = match &member.arriving {
            Some((block, bytes)) if *block == piece.block => bytes.len() as u64,
            // A new block starts at its start; one left unfinished was given up.
            _ => 0,
        };
        if u64::from(piece.offset) != held || held + piece.payload.len() as u64 > block_len {
            return Err(SwarmError::PieceOutOfOrder {
                block: piece.block,
                offset: piece.offset,
                held,
            });
        }
        let block = piece.block;
        let mut bytes = match member.arriving.take() {
            Some((_, bytes)) if held > 0 => bytes,
            _ => Vec::with_capacity(block_len as usize),
        };
        bytes.extend_from_slice(piece.payload);
        if (bytes.len() as u64) < block_len {
            member.arriving = Some((block, bytes));
            return Ok(());
        }
        self.forget_want(block, from);
        if self.held.get(block) || self.unverified.contains_key(&block) {
            // A second copy (the endgame), or one nobody asked for.
        } else if self.digests[block as usize].is_some() {
            self.judge(block, from.clone(), bytes);
        } else {
            self.unverified.insert(block, (from.clone(), bytes));
        }
        self.schedule();
        Ok(())
    }

    /// The next block `to` asked for, for the driver to read; `None` when it waits for
    /// nothing more.
    pub fn next_serve(&mut self, to: &PeerId) -> Option<u32> {
        self.members.get_mut(to)?.to_serve.pop_front()
    }

    /// The driver cannot read block `block` for `to` (it took it with
    /// [`Swarm::next_serve`]): `to` is refused it and asks elsewhere.
    pub fn cannot_serve(&mut self, to: &PeerId, block: u32) {
        let frame = SwarmFrame::Refuse {
            swarm: self.id,
            block,
        };
        self.send(to, frame);
    }

    /// The driver read `bytes` of block `block` to send to `to`. The origin learns the
    /// block's digest here and tells every receiver.
    pub fn served(&mut self, to: &PeerId, block: u32, bytes: &[u8]) -> Result<(), SwarmError> {
        self.check_block(block)?;
        let expected = self.layout.block_len(block);
        if bytes.len() as u64 != expected {
            return Err(SwarmError::WrongReadLength {
                block,
                len: bytes.len(),
                expected,
            });
        }
        self.member_mut(to)?;
        if self.is_origin() && self.digests[block as usize].is_none() {
            let digest: BlockDigest = Sha256::digest(bytes).into();
            self.digests[block as usize] = Some(digest);
            self.send_to_all(SwarmFrame::Digests {
                swarm: self.id,
                first: block,
                sha256: vec![hex::encode(digest)],
            });
        }
        self.progress.served += expected;
        Ok(())
    }

    /// Checks a whole block from `from` and keeps it, or drops `from` as a source.
    fn judge(&mut self, block: u32, from: PeerId, bytes: Vec<u8>) {
        let digest: BlockDigest = Sha256::digest(&bytes).into();
        if Some(digest) != self.digests[block as usize] {
            if let Some(member) = self.members.get_mut(&from) {
                member.dropped = true;
                member.arriving = None;
            }
            self.forget_wants_to(&from);
            self.outputs
                .push_back(Output::SourceDropped { peer: from, block });
            return;
        }
        let place = self.layout.place(block);
        let len = bytes.len() as u64;
        self.held.set(block);
        self.progress.held += len;
        if from == self.origin {
            self.progress.from_origin += len;
        } else {
            self.progress.from_peers += len;
        }
        self.outputs.push_back(Output::Write {
            index: place.index,
            offset: place.span.start,
            bytes,
        });
        // Call off the other copies asked for in the endgame.
        for peer in self.wanted.remove(&block).unwrap_or_default() {
            let frame = SwarmFrame::Unwant {
                swarm: self.id,
                block,
            };
            self.send(&peer, frame);
        }
        self.send_to_all(SwarmFrame::Got {
            swarm: self.id,
            block,
        });
        let file = self.layout.blocks_of(place.index);
        if file.clone().all(|block| self.held.get(block)) {
            self.file_complete(place.index);
        }
        if self.held.is_full() {
            self.outputs.push_back(Output::Complete);
        }
    }

    fn file_complete(&mut self, index: u32) {
        let digests: Vec<BlockDigest> = self
            .layout
            .blocks_of(index)
            .map(|block| self.digests[block as usize].expect("a held block was verified"))
            .collect();
        let sha256 = file_digest(&digests);
        self.outputs
            .push_back(Output::FileComplete { index, sha256 });
    }

    /// Asks linked members for blocks, rarest first, up to [`WANTS_PER_LINK`] each.
    /// Origin: says [`Output::EveryBlockOut`] once every block is held by a receiver.
    /// Looks on from where it stopped, so all the looking costs blocks × members over the
    /// whole swarm; at the end it checks again from the start, as a receiver may have
    /// left with blocks it looked at.
    fn look_for_every_block_out(&mut self) {
        if !self.is_origin() || self.every_block_out {
            return;
        }
        let held = |swarm: &Self, block: u32| swarm.members.values().any(|m| m.has.get(block));
        let blocks = self.layout.blocks();
        while self.out_below < blocks && held(self, self.out_below) {
            self.out_below += 1;
        }
        if self.out_below < blocks {
            return;
        }
        match (0..blocks).find(|block| !held(self, *block)) {
            Some(missing) => self.out_below = missing,
            None => {
                self.every_block_out = true;
                self.outputs.push_back(Output::EveryBlockOut);
            }
        }
    }

    fn schedule(&mut self) {
        if self.is_origin() || !self.members_known || self.held.is_full() {
            return;
        }
        let blocks = self.layout.blocks();
        let mut holders = vec![0u32; blocks as usize];
        for member in self.members.values().filter(|m| m.is_source()) {
            for block in 0..blocks {
                if member.has.get(block) {
                    holders[block as usize] += 1;
                }
            }
        }
        // Receivers first: the origin is asked only for what they cannot give.
        let mut askable: Vec<PeerId> = self
            .members
            .iter()
            .filter(|(peer, member)| member.is_source() && **peer != self.origin)
            .map(|(peer, _)| peer.clone())
            .collect();
        if self
            .members
            .get(&self.origin)
            .is_some_and(Member::is_source)
        {
            askable.push(self.origin.clone());
        }
        for peer in askable {
            while self.outstanding(&peer) < WANTS_PER_LINK {
                let Some(block) = self.pick(&peer, &holders) else {
                    break;
                };
                self.wanted.entry(block).or_default().push(peer.clone());
                let frame = SwarmFrame::Want {
                    swarm: self.id,
                    block,
                };
                self.send(&peer, frame);
            }
        }
    }

    /// The block to ask `peer` for: the rarest it holds that nobody was asked for, or
    /// in the endgame one asked of fewer than [`ENDGAME_SOURCES`] others. The origin is
    /// asked only for blocks of this receiver's stripe (see [`Self::stripes`]).
    fn pick(&mut self, peer: &PeerId, holders: &[u32]) -> Option<u32> {
        let member = &self.members[peer];
        let lacking = |block: &u32| !self.held.get(*block) && !self.unverified.contains_key(block);
        let stripes = (*peer == self.origin).then(|| self.stripes());
        // Once a source served a bad block, a refused block may be one the origin gave
        // to that source: ask again, and the origin serves it.
        let trust_refusals = !self.members.values().any(|member| member.dropped);
        let mut fresh: Vec<u32> = Vec::new();
        let mut rarest = u32::MAX;
        for block in (0..self.layout.blocks()).filter(lacking) {
            if !member.has.get(block) || self.wanted.contains_key(&block) {
                continue;
            }
            if let Some(stripes) = &stripes {
                let (owner, source) = stripes[block as usize % stripes.len()];
                let refused = trust_refusals && self.origin_refused.contains(&block);
                let only_origin = self.refused_by_members.contains(&block)
                    && !self.members.iter().any(|(other, m)| {
                        *other != self.origin && m.is_source() && m.has.get(block)
                    });
                if !only_origin && ((*owner != self.me && source) || refused) {
                    continue;
                }
            }
            let count = holders[block as usize];
            if count < rarest {
                rarest = count;
                fresh.clear();
            }
            if count == rarest {
                fresh.push(block);
            }
        }
        if !fresh.is_empty() {
            return Some(fresh[self.random(fresh.len())]);
        }
        // Endgame only once nothing anyone holds is left unasked.
        let unasked = (0..self.layout.blocks()).filter(lacking).any(|block| {
            !self.wanted.contains_key(&block)
                && self
                    .members
                    .values()
                    .any(|m| m.is_source() && m.has.get(block))
        });
        if unasked {
            return None;
        }
        // The origin's uplink is the one everybody shares: never a second source.
        if *peer == self.origin {
            return None;
        }
        (0..self.layout.blocks()).filter(lacking).find(|block| {
            member.has.get(*block)
                && self
                    .wanted
                    .get(block)
                    .is_some_and(|asked| asked.len() < ENDGAME_SOURCES && !asked.contains(peer))
        })
    }

    /// The receivers in the order of their stripes, this one included, each with
    /// whether it is a source now. Receivers ask the origin for different blocks, so
    /// that each block leaves the origin about once and the others get it from the
    /// receiver that did: block `n` is the stripe of the receiver at `n` modulo their
    /// number, in peer id order. Blocks of a receiver that is no source now (its link
    /// is down, or it served a bad block) anyone may ask the origin for.
    fn stripes(&self) -> Vec<(&PeerId, bool)> {
        let others = self
            .members
            .iter()
            .filter(|(peer, _)| **peer != self.origin);
        let mut receivers: Vec<(&PeerId, bool)> = others
            .map(|(peer, member)| (peer, member.is_source()))
            .chain([(&self.me, true)])
            .collect();
        receivers.sort();
        receivers
    }

    fn outstanding(&self, peer: &PeerId) -> usize {
        self.wanted
            .values()
            .filter(|asked| asked.contains(peer))
            .count()
    }

    fn forget_want(&mut self, block: u32, peer: &PeerId) {
        if let Some(asked) = self.wanted.get_mut(&block) {
            asked.retain(|asked| asked != peer);
            if asked.is_empty() {
                self.wanted.remove(&block);
            }
        }
    }

    fn forget_wants_to(&mut self, peer: &PeerId) {
        let blocks: Vec<u32> = self.wanted.keys().copied().collect();
        for block in blocks {
            self.forget_want(block, peer);
        }
    }

    /// `peer` joins the members, with the bitmap it sent before the origin named it.
    fn meet(&mut self, peer: &PeerId) {
        let has = self
            .early_haves
            .remove(peer)
            .unwrap_or_else(|| Bits::empty(self.layout.blocks()));
        self.members.insert(peer.clone(), Member::new(has));
    }

    fn announce_members(&mut self) {
        let peers = self.members.keys().cloned().collect();
        self.send_to_all(SwarmFrame::Members {
            swarm: self.id,
            peers,
        });
    }

    /// Origin: every digest it knows, to `peer`.
    fn send_digests(&mut self, peer: &PeerId) {
        let mut run: Option<(u32, Vec<String>)> = None;
        for block in 0..=self.layout.blocks() {
            let digest = self.digests.get(block as usize).copied().flatten();
            match (&mut run, digest) {
                (Some((_, digests)), Some(digest)) if digests.len() < DIGESTS_PER_FRAME => {
                    digests.push(hex::encode(digest));
                    continue;
                }
                _ => {}
            }
            if let Some((first, sha256)) = run.take() {
                let frame = SwarmFrame::Digests {
                    swarm: self.id,
                    first,
                    sha256,
                };
                self.send(peer, frame);
            }
            if let Some(digest) = digest {
                run = Some((block, vec![hex::encode(digest)]));
            }
        }
    }

    fn send_have(&mut self, peer: &PeerId) {
        let frame = SwarmFrame::Have {
            swarm: self.id,
            blocks: self.held.to_wire(),
        };
        self.send(peer, frame);
    }

    /// Sends `frame` to every member with a link up.
    fn send_to_all(&mut self, frame: SwarmFrame) {
        for (peer, member) in &self.members {
            if member.linked {
                self.outputs.push_back(Output::Send {
                    to: peer.clone(),
                    frame: frame.clone(),
                });
            }
        }
    }

    fn send(&mut self, to: &PeerId, frame: SwarmFrame) {
        if self.members.get(to).is_some_and(|member| member.linked) {
            self.outputs.push_back(Output::Send {
                to: to.clone(),
                frame,
            });
        }
    }

    fn member_mut(&mut self, peer: &PeerId) -> Result<&mut Member, SwarmError> {
        self.members
            .get_mut(peer)
            .ok_or_else(|| SwarmError::NotMember(peer.clone()))
    }

    fn check_block(&self, block: u32) -> Result<(), SwarmError> {
        let blocks = self.layout.blocks();
        if block >= blocks {
            return Err(SwarmError::NoSuchBlock { block, blocks });
        }
        Ok(())
    }

    /// A number below `below`, from this member's own sequence (xorshift).
    fn random(&mut self, below: usize) -> usize {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng % below as u64) as usize
    }
}

/// The data-channel messages carrying `bytes` of block `block`, at most `payload_len`
/// bytes of them each.
pub fn pieces(
    swarm: SwarmId,
    block: u32,
    bytes: &[u8],
    payload_len: usize,
) -> impl Iterator<Item = SwarmPiece<'_>> {
    bytes
        .chunks(payload_len.max(1))
        .enumerate()
        .map(move |(n, payload)| SwarmPiece {
            swarm,
            block,
            offset: (n * payload_len.max(1)) as u32,
            payload,
        })
}
