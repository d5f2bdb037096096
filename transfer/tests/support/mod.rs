//! Two engines wired together in memory, with a driver as small as a real one.
//!
//! A [`Peer`] is a [`Transfers`] plus what a driver owns: the files it offers, the files
//! it is writing, and the two data channels' outgoing queues. [`exchange`] then plays
//! the network, with a choice of which channel wins the race.

use std::collections::{HashMap, VecDeque};
use std::num::NonZeroUsize;

use meshdrop_protocol::frame::{ControlFrame, FileMeta, TransferId};
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
    /// Files verified and handed to the user.
    pub kept: HashMap<(TransferId, u32), Vec<u8>>,
    pub discarded: Vec<(TransferId, u32)>,
    /// Every state change, in order.
    pub history: Vec<(TransferId, TransferState)>,
    /// Every control frame sent, in order.
    pub sent: Vec<ControlFrame>,
    pub control_out: VecDeque<ControlFrame>,
    pub data_out: VecDeque<Vec<u8>>,
    /// With [`BlockHashing::Driver`]: block digests computed and not yet handed to the
    /// engine, as a browser's would be while WebCrypto works.
    pub hashing_blocks: Option<Vec<HashedBlock>>,
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
            kept: HashMap::new(),
            discarded: Vec::new(),
            history: Vec::new(),
            sent: Vec::new(),
            control_out: VecDeque::new(),
            data_out: VecDeque::new(),
            hashing_blocks: None,
        }
    }

    /// A peer whose driver hashes the blocks, reporting them late and last block first.
    pub fn hashing_blocks(mut self) -> Self {
        self.engine.set_block_hashing(BlockHashing::Driver);
        self.hashing_blocks = Some(Vec::new());
        self
    }

    /// Queues the digest of every block of file `index` that ends within `from..to`:
    /// `bytes` holds the file from its start to at least `to`, `size` is its whole size.
    fn hash_blocks(
        &mut self,
        (transfer, index): (TransferId, u32),
        bytes: &[u8],
        size: u64,
        from: u64,
        to: u64,
    ) {
        let Some(hashed) = &mut self.hashing_blocks else {
            return;
        };
        for block in from / DIGEST_BLOCK_LEN..size.div_ceil(DIGEST_BLOCK_LEN) {
            let start = block * DIGEST_BLOCK_LEN;
            let end = size.min(start + DIGEST_BLOCK_LEN);
            if end > to {
                break;
            }
            let digest = Sha256::digest(&bytes[start as usize..end as usize]).into();
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
        let metas = files
            .iter()
            .map(|(name, bytes)| FileMeta {
                name: (*name).into(),
                size: bytes.len() as u64,
                mime: "application/octet-stream".into(),
                path: None,
            })
            .collect();
        let id = self.engine.offer(metas).unwrap();
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
                Output::FileDiscarded { transfer, index } => {
                    assert!(self.partial.remove(&(transfer, index)).is_some());
                    self.discarded.push((transfer, index));
                }
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
            self.hash_blocks((read.transfer, read.index), &file, size, start, end);
            let chunk = self
                .engine
                .on_read(read.transfer, &file[start as usize..end as usize]);
            if let Some(chunk) = chunk.unwrap() {
                let mut message = Vec::new();
                chunk.encode_into(&mut message);
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

    /// Hands a data-channel message to the engine; returns whether it wrote anything.
    pub fn receive_data(&mut self, message: &[u8]) -> bool {
        let write = self.engine.on_chunk(message).unwrap();
        if let Some(write) = write {
            let file = self
                .partial
                .entry((write.transfer, write.index))
                .or_default();
            assert_eq!(file.len() as u64, write.offset, "writes arrive in order");
            file.extend_from_slice(write.bytes);
            let (file, end) = (file.clone(), write.offset + write.bytes.len() as u64);
            let size = self.engine.get(write.transfer).unwrap().files()[write.index as usize].size;
            self.hash_blocks(
                (write.transfer, write.index),
                &file,
                size,
                write.offset,
                end,
            );
        }
        self.carry_out();
        write.is_some()
    }
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
