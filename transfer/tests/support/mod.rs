//! Two engines wired together in memory, with a driver as small as a real one.
//!
//! A [`Peer`] is a [`Transfers`] plus what a driver owns: the files it offers, the files
//! it is writing, and the two data channels' outgoing queues. [`exchange`] then plays
//! the network, with a choice of which channel wins the race.

use std::collections::{HashMap, VecDeque};
use std::num::NonZeroUsize;

use meshdrop_protocol::frame::{
    ControlFrame, DataChunk, FileMeta, SwarmId, TransferId, CHUNK_HEADER_LEN,
};
use meshdrop_transfer::{
    BlockDigest, BlockHashing, IdParity, Output, TransferState, Transfers, DIGEST_BLOCK_LEN,
};
use sha2::{Digest, Sha256};

pub struct Peer {
    pub engine: Transfers,
    /// The contents of the files this peer offered, by transfer.
    pub sources: HashMap<TransferId, Vec<Vec<u8>>>,
    /// Files being written, by (transfer, index).
    pub partial: HashMap<(TransferId, u32), Vec<u8>>,
    /// Files of partial transfers restored into the engine and not yet resumed, by the
    /// key they were restored under, then file index.
    pub restored: HashMap<String, HashMap<u32, Vec<u8>>>,
    /// Files verified and handed to the user.
    pub kept: HashMap<(TransferId, u32), Vec<u8>>,
    pub discarded: Vec<(TransferId, u32)>,
    /// Every block reported verified, in order.
    pub verified_blocks: Vec<HashedBlock>,
    /// Every state change, in order.
    pub history: Vec<(TransferId, TransferState)>,
    /// Every control frame sent, in order.
    pub sent: Vec<ControlFrame>,
    /// Outgoing transfers whose receiver joined their swarm.
    pub joined: Vec<(TransferId, SwarmId)>,
    pub control_out: VecDeque<ControlFrame>,
    pub data_out: VecDeque<Vec<u8>>,
    /// With [`BlockHashing::Driver`]: block digests computed and not yet handed to the
    /// engine, as a browser's would be while WebCrypto works.
    pub hashing_blocks: Option<Vec<HashedBlock>>,
    /// Payload bytes handed to the data channel, over all links.
    pub bytes_sent: u64,
    /// A sender that damages what it sends, after hashing it: byte 0 of block `block`
    /// of file `index`, the first `times` times it is sent.
    pub corrupt: Option<Corruption>,
}

/// Where and how often a sender damages the bytes it reads.
#[derive(Debug, Clone, Copy)]
pub struct Corruption {
    pub index: u32,
    pub block: u64,
    pub times: usize,
}

/// A block the driver hashed: (transfer, file index, block, digest).
pub type HashedBlock = (TransferId, u32, u64, BlockDigest);

/// Which channel's messages arrive first when both have some in flight.
#[derive(Debug, Clone, Copy)]
pub enum Race {
    ControlFirst,
    DataFirst,
}

impl Peer {
    pub fn new(parity: IdParity, chunk_len: usize) -> Self {
        let mut engine = Transfers::new(parity);
        engine.set_chunk_len(NonZeroUsize::new(chunk_len).unwrap());
        Self {
            engine,
            sources: HashMap::new(),
            partial: HashMap::new(),
            restored: HashMap::new(),
            kept: HashMap::new(),
            discarded: Vec::new(),
            verified_blocks: Vec::new(),
            history: Vec::new(),
            sent: Vec::new(),
            joined: Vec::new(),
            control_out: VecDeque::new(),
            data_out: VecDeque::new(),
            hashing_blocks: None,
            bytes_sent: 0,
            corrupt: None,
        }
    }

    /// A peer whose driver hashes the blocks, reporting them late and last block first.
    pub fn hashing_blocks(mut self) -> Self {
        self.engine.set_block_hashing(BlockHashing::Driver);
        self.hashing_blocks = Some(Vec::new());
        self
    }

    /// Queues the digest of every block of file `index` whose last byte is among the
    /// `len` bytes at `offset`: `file` holds the file at least up to there, `size` is its
    /// whole size.
    fn hash_blocks(
        &mut self,
        (transfer, index): (TransferId, u32),
        file: &[u8],
        size: u64,
        offset: u64,
        len: u64,
    ) {
        let Some(hashed) = &mut self.hashing_blocks else {
            return;
        };
        let end = offset + len;
        let complete = if end == size {
            size.div_ceil(DIGEST_BLOCK_LEN)
        } else {
            end / DIGEST_BLOCK_LEN
        };
        for block in offset / DIGEST_BLOCK_LEN..complete {
            let start = block * DIGEST_BLOCK_LEN;
            let block_end = size.min(start + DIGEST_BLOCK_LEN);
            let digest = Sha256::digest(&file[start as usize..block_end as usize]).into();
            hashed.push((transfer, index, block, digest));
        }
    }

    /// Hands the queued block digests to the engine, newest first; returns whether there
    /// were any.
    pub fn report_blocks(&mut self) -> bool {
        let hashed = self.hashing_blocks.as_mut().map(std::mem::take);
        let Some(hashed) = hashed.filter(|hashed| !hashed.is_empty()) else {
            return false;
        };
        for (transfer, index, block, digest) in hashed.into_iter().rev() {
            self.engine
                .on_block_digest(transfer, index, block, digest)
                .unwrap();
        }
        self.carry_out();
        true
    }

    pub fn offer(&mut self, files: &[(&str, Vec<u8>)]) -> TransferId {
        let id = self.engine.offer(metas(files)).unwrap();
        let contents = files.iter().map(|(_, bytes)| bytes.clone()).collect();
        self.sources.insert(id, contents);
        self.carry_out();
        id
    }

    pub fn offer_to_swarm(&mut self, files: &[(&str, Vec<u8>)], swarm: SwarmId) -> TransferId {
        let id = self.engine.offer_to_swarm(metas(files), swarm).unwrap();
        let contents = files.iter().map(|(_, bytes)| bytes.clone()).collect();
        self.sources.insert(id, contents);
        self.carry_out();
        id
    }

    pub fn accept(&mut self, id: TransferId) {
        self.engine.accept(id).unwrap();
        self.carry_out();
    }

    pub fn cancel(&mut self, id: TransferId, reason: &str) {
        self.engine.cancel(id, reason).unwrap();
        self.carry_out();
    }

    pub fn state(&self, id: TransferId) -> TransferState {
        self.engine.get(id).unwrap().state().clone()
    }

    /// The states `id` went through, in order.
    pub fn states(&self, id: TransferId) -> Vec<TransferState> {
        let of_id = self.history.iter().filter(|(transfer, _)| *transfer == id);
        of_id.map(|(_, state)| state.clone()).collect()
    }

    /// Does what a driver does with every queued output.
    pub fn carry_out(&mut self) {
        while let Some(output) = self.engine.poll_output() {
            match output {
                Output::Control(frame) => {
                    self.sent.push(frame.clone());
                    self.control_out.push_back(frame);
                }
                Output::FileVerified { transfer, index } => {
                    let bytes = self.partial.remove(&(transfer, index)).unwrap_or_default();
                    self.kept.insert((transfer, index), bytes);
                }
                Output::BlockVerified {
                    transfer,
                    index,
                    block,
                    digest,
                } => self.verified_blocks.push((transfer, index, block, digest)),
                Output::FileDiscarded { transfer, index } => {
                    assert!(self.partial.remove(&(transfer, index)).is_some());
                    self.discarded.push((transfer, index));
                }
                Output::Resumed { transfer, key } => {
                    let files = self.restored.remove(&key).unwrap();
                    for (index, bytes) in files {
                        self.partial.insert((transfer, index), bytes);
                    }
                }
                Output::JoinedSwarm { transfer, swarm } => self.joined.push((transfer, swarm)),
                Output::State { transfer, state } => self.history.push((transfer, state)),
            }
        }
    }

    /// Reads and queues up to `max_chunks` chunks, as the data channel's room allows.
    /// Returns how many it queued.
    pub fn pump(&mut self, max_chunks: usize) -> usize {
        let mut queued = 0;
        while queued < max_chunks {
            let Some(read) = self.engine.next_read() else {
                break;
            };
            let file = self.sources[&read.transfer][read.index as usize].clone();
            let (start, end) = (read.offset, read.offset + read.len as u64);
            let size = file.len() as u64;
            self.hash_blocks(
                (read.transfer, read.index),
                &file,
                size,
                start,
                read.len as u64,
            );
            let bytes = &file[start as usize..end as usize];
            // A driver that hashes blocks keeps what it read, as the web app does.
            let header = match self.hashing_blocks {
                Some(_) => self.engine.on_read_held(read.transfer, bytes.len()),
                None => self
                    .engine
                    .on_read(read.transfer, bytes)
                    .map(|chunk| chunk.map(|chunk| DataChunk::header(chunk.transfer))),
            };
            if let Some(header) = header.unwrap() {
                let mut message = [&header[..], bytes].concat();
                self.bytes_sent += bytes.len() as u64;
                if let Some(corrupt) = &mut self.corrupt {
                    let at = corrupt.block * DIGEST_BLOCK_LEN;
                    let hit = corrupt.index == read.index && (start..end).contains(&at);
                    if hit && corrupt.times > 0 {
                        corrupt.times -= 1;
                        message[CHUNK_HEADER_LEN + (at - start) as usize] ^= 0xff;
                    }
                }
                self.data_out.push_back(message);
                queued += 1;
            }
            self.carry_out();
        }
        queued
    }

    pub fn receive_control(&mut self, frame: ControlFrame) {
        self.engine.on_control(frame).unwrap();
        self.carry_out();
    }

    /// Hands a data-channel message to the engine; returns whether it wrote anything. A
    /// driver that hashes blocks keeps the payload and hands in only its header and
    /// length, as the web app does.
    pub fn receive_data(&mut self, message: &[u8]) -> bool {
        let (header, payload) = message.split_first_chunk::<CHUNK_HEADER_LEN>().unwrap();
        let placed = match self.hashing_blocks {
            Some(_) => self.engine.on_chunk_held(*header, payload.len()),
            None => self
                .engine
                .on_chunk(message)
                .map(|write| write.map(|write| write.placement())),
        };
        if let Some(at) = placed.unwrap() {
            let size = self.engine.get(at.transfer).unwrap().files()[at.index as usize].size;
            let file = self.partial.entry((at.transfer, at.index)).or_default();
            let end = at.offset as usize + at.len;
            if file.len() < end {
                file.resize(end, 0);
            }
            file[at.offset as usize..end].copy_from_slice(payload);
            let file = file.clone();
            self.hash_blocks(
                (at.transfer, at.index),
                &file,
                size,
                at.offset,
                at.len as u64,
            );
            self.carry_out();
            return true;
        }
        self.carry_out();
        false
    }
}

impl Peer {
    /// The link goes down: what is queued on it is lost.
    pub fn link_down(&mut self) {
        self.control_out.clear();
        self.data_out.clear();
        self.engine.on_link_down();
        self.carry_out();
    }

    pub fn link_up(&mut self) {
        self.engine.on_link_up();
        self.carry_out();
    }
}

/// Cuts the link between `a` and `b`, losing everything in flight, and brings up a new
/// one.
pub fn reconnect(a: &mut Peer, b: &mut Peer) {
    a.link_down();
    b.link_down();
    a.link_up();
    b.link_up();
}

/// Delivers everything `from` has queued for `to`, the channel `race` names first.
/// Returns whether anything moved.
pub fn deliver(from: &mut Peer, to: &mut Peer, race: Race) -> bool {
    let moved = !from.control_out.is_empty() || !from.data_out.is_empty();
    let deliver_control = |from: &mut Peer, to: &mut Peer| {
        while let Some(frame) = from.control_out.pop_front() {
            to.receive_control(frame);
        }
    };
    let deliver_data = |from: &mut Peer, to: &mut Peer| {
        while let Some(message) = from.data_out.pop_front() {
            to.receive_data(&message);
        }
    };
    match race {
        Race::ControlFirst => {
            deliver_control(from, to);
            deliver_data(from, to);
        }
        Race::DataFirst => {
            deliver_data(from, to);
            deliver_control(from, to);
        }
    }
    moved
}

/// Runs both peers until nothing moves, each sending at most two chunks per round as if
/// its data channel's buffer filled up, and reporting the blocks hashed in the round.
pub fn exchange(a: &mut Peer, b: &mut Peer, race: Race) {
    loop {
        let pumped = a.pump(2) + b.pump(2);
        let a_sent = deliver(a, b, race);
        let b_sent = deliver(b, a, race);
        let hashed = a.report_blocks() | b.report_blocks();
        if pumped == 0 && !a_sent && !b_sent && !hashed {
            break;
        }
    }
}

/// What an offer of `files` says of them.
pub fn metas(files: &[(&str, Vec<u8>)]) -> Vec<FileMeta> {
    files
        .iter()
        .map(|(name, bytes)| FileMeta {
            name: (*name).into(),
            size: bytes.len() as u64,
            mime: "application/octet-stream".into(),
            path: None,
        })
        .collect()
}

/// Random-looking bytes, the same for the same seed, without a `rand` dependency.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}
