//! The receiver's half of a transfer: answer the offer, place and hash arriving bytes,
//! check each block against the digest the sender announced, and each file against its
//! `file_end`.
//!
//! Chunks arrive on the data channel and `block` and `file_end` frames on the control
//! channel, and the two are not ordered with each other: a digest may arrive long
//! before its block's last byte, or after it. So each block keeps both digests, and is
//! judged as soon as it has both, whichever came last. A block that does not match is
//! asked for once more (`refetch`); a second mismatch fails the transfer. The verified
//! blocks are what a new link resumes from: the `resume` this end sends on it names
//! every block it still lacks.

use std::collections::VecDeque;

use meshdrop_protocol::frame::{ControlFrame, FileMeta, ResumeFile, SwarmId, TransferId};

use crate::digest::{
    block_count, block_len, blocks_completed, file_digest, parse_block_digest, BlockDigest,
    BlockHasher, BlockHashing, DIGEST_BLOCK_LEN,
};
use crate::partial::{BadPartial, Partial, PartialFile};
use crate::payload::Payload;
use crate::plan::{PastEnd, Plan};
use crate::transfer::{Ending, LastWord, Transfer};
use crate::{Direction, Output, Placement, TransferError, TransferState, Write};

const RECEIVING: [TransferState; 2] = [TransferState::Transferring, TransferState::Verifying];

#[derive(Debug)]
pub(crate) struct Receiving {
    pub transfer: Transfer,
    hashing: BlockHashing,
    hasher: BlockHasher,
    files: Vec<FileIn>,
    /// What the sender sends on this link, in order.
    plan: Plan,
    /// Bytes of the blocks held whole, and of the one block arriving.
    held_bytes: u64,
    partial_bytes: u64,
    verified_files: usize,
}

#[derive(Debug, Clone)]
struct FileIn {
    size: u64,
    blocks: Vec<BlockIn>,
    /// The digest from the sender's `file_end`, until the file is verified.
    file_end: Option<String>,
    verified: bool,
    /// Whether any bytes were written, so there is something to delete.
    written: bool,
}

#[derive(Debug, Clone, Default)]
struct BlockIn {
    /// From the sender's `block` frame.
    announced: Option<BlockDigest>,
    held: Held,
    /// Asked for once more after a mismatch.
    refetched: bool,
}

/// What this end has of a block.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Held {
    /// Not all of it (bytes of a block cut short are written over when it comes again).
    #[default]
    Missing,
    /// All of its bytes, waiting for the driver's digest.
    Whole,
    /// All of its bytes, with their digest, waiting for the sender's.
    Hashed(BlockDigest),
    Verified,
}

impl Receiving {
    /// The peer offers `files`; the user has to answer.
    pub fn offered(
        id: TransferId,
        files: Vec<FileMeta>,
        swarm: Option<SwarmId>,
        hashing: BlockHashing,
        outputs: &mut VecDeque<Output>,
    ) -> Result<Self, TransferError> {
        let mut transfer = Transfer::offered(id, Direction::Incoming, files, outputs)?;
        transfer.swarm = swarm;
        let files = transfer
            .files()
            .iter()
            .map(|file| FileIn {
                size: file.size,
                blocks: vec![BlockIn::default(); block_count(file.size) as usize],
                file_end: None,
                verified: false,
                written: false,
            })
            .collect();
        Ok(Self {
            transfer,
            hashing,
            hasher: BlockHasher::default(),
            files,
            plan: Plan::default(),
            held_bytes: 0,
            partial_bytes: 0,
            verified_files: 0,
        })
    }

    /// The peer offers `files` again, and they are those of `partial`, which this end
    /// accepted and partly received before it lost its engine: it asks at once for the
    /// blocks it lacks, with a `resume` that stands for the accept. Nothing is asked of
    /// the user, so no [`TransferState::Offered`] is shown.
    pub fn restored(
        id: TransferId,
        partial: &Partial,
        hashing: BlockHashing,
        outputs: &mut VecDeque<Output>,
    ) -> Result<Self, BadPartial> {
        let digests = partial.digests()?;
        let mut unseen = VecDeque::new();
        let mut receiving = Self::offered(id, partial.files.clone(), None, hashing, &mut unseen)
            .map_err(|error| BadPartial(error.to_string()))?;
        for ((file, held), digests) in receiving.files.iter_mut().zip(&partial.held).zip(digests) {
            for (block, (entry, digest)) in (0..).zip(file.blocks.iter_mut().zip(digests)) {
                if let Some(digest) = digest {
                    entry.announced = Some(digest);
                    entry.held = Held::Verified;
                    receiving.held_bytes += block_len(file.size, block);
                    file.written = true;
                }
            }
            if held.verified {
                file.verified = true;
                receiving.verified_files += 1;
            }
        }
        if receiving.verified_files == receiving.files.len() {
            // Lost before the complete went out: say it now.
            receiving.transfer.say_last(LastWord::Complete, outputs);
            receiving.transfer.enter(TransferState::Done, outputs);
        } else {
            receiving.ask_lacking(outputs);
        }
        Ok(receiving)
    }

    /// What to save to go on after a restart, while the transfer runs; `None` once it
    /// ended or before it was accepted.
    pub fn partial(&self) -> Option<Partial> {
        if !self.transfer.state().is_running() || self.transfer.in_swarm {
            return None;
        }
        let held = self
            .files
            .iter()
            .map(|file| PartialFile {
                verified: file.verified,
                blocks: file
                    .blocks
                    .iter()
                    .map(|block| match (block.held, block.announced) {
                        (Held::Verified, Some(digest)) => Some(hex::encode(digest)),
                        _ => None,
                    })
                    .collect(),
            })
            .collect();
        Some(Partial {
            files: self.transfer.files().to_vec(),
            held,
        })
    }

    pub fn accept(&mut self, outputs: &mut VecDeque<Output>) -> Result<(), TransferError> {
        self.transfer
            .expect(&[TransferState::Offered], "accepting")?;
        let transfer = self.transfer.id();
        outputs.push_back(Output::Control(ControlFrame::Accept {
            transfer,
            swarm: false,
        }));
        self.plan = Plan::whole(self.transfer.files());
        self.transfer.enter(TransferState::Transferring, outputs);
        self.settle(outputs);
        Ok(())
    }

    /// Accepts the offer as a member of the swarm it named: the blocks come by the
    /// swarm, and this transfer only shows what the driver reports of it.
    pub fn accept_in_swarm(&mut self, outputs: &mut VecDeque<Output>) -> Result<(), TransferError> {
        self.transfer
            .expect(&[TransferState::Offered], "accepting")?;
        if self.transfer.swarm.is_none() {
            return Err(self.transfer.unexpected("accepting in a swarm"));
        }
        self.transfer.in_swarm = true;
        self.say_in_swarm(outputs);
        Ok(())
    }

    /// The accept in the swarm, said (again): the sender pauses transfers when a link
    /// goes down and goes on with this one when it hears it on the next.
    fn say_in_swarm(&mut self, outputs: &mut VecDeque<Output>) {
        let transfer = self.transfer.id();
        outputs.push_back(Output::Control(ControlFrame::Accept {
            transfer,
            swarm: true,
        }));
        if self.transfer.state() != &TransferState::Transferring {
            self.transfer.enter(TransferState::Transferring, outputs);
        }
    }

    /// Swarm: file `index` is held whole and verified.
    pub fn swarm_file_verified(&mut self, index: u32, outputs: &mut VecDeque<Output>) {
        let transfer = self.transfer.id();
        if let Some(file) = self
            .files
            .get_mut(index as usize)
            .filter(|file| !file.verified)
        {
            file.verified = true;
            file.written = true;
            self.verified_files += 1;
            outputs.push_back(Output::FileVerified { transfer, index });
        }
        if self.verified_files == self.files.len() && self.transfer.state().is_running() {
            self.transfer.say_last(LastWord::Complete, outputs);
            self.transfer.enter(TransferState::Done, outputs);
        }
    }

    pub fn decline(&mut self, outputs: &mut VecDeque<Output>) -> Result<(), TransferError> {
        self.transfer
            .expect(&[TransferState::Offered], "declining")?;
        self.transfer.say_last(LastWord::Decline, outputs);
        self.transfer.enter(TransferState::Declined, outputs);
        Ok(())
    }

    /// Places the payload of a chunk. A chunk holds bytes of one run of the plan only,
    /// so bytes past its end fail the transfer: the sender and this end no longer agree
    /// on which byte is which. Chunks that arrive while the link is down are from the
    /// link that went down, and dropped.
    pub fn on_chunk<'a>(
        &mut self,
        payload: &'a [u8],
        outputs: &mut VecDeque<Output>,
    ) -> Result<Option<Write<'a>>, TransferError> {
        let placed = self.on_payload(Payload::Bytes(payload), outputs)?;
        Ok(placed.map(|placement| Write {
            transfer: placement.transfer,
            index: placement.index,
            offset: placement.offset,
            bytes: payload,
        }))
    }

    /// [`Self::on_chunk`] for a payload given as its bytes or, to a driver that hashes
    /// blocks itself, as its length.
    pub fn on_payload(
        &mut self,
        payload: Payload<'_>,
        outputs: &mut VecDeque<Output>,
    ) -> Result<Option<Placement>, TransferError> {
        if let TransferState::Paused { .. } = self.transfer.state() {
            return Ok(None);
        }
        self.transfer.expect(&RECEIVING, "a data chunk")?;
        let hash_here = payload.bytes_to_hash(self.hashing)?;
        let payload_len = payload.len();
        let span = self.plan.front();
        if let Err(PastEnd) = self.plan.advance(payload_len) {
            let reason = match span {
                Some(span) => format!(
                    "a data chunk ran past the end of file {} ({}); a chunk holds bytes of one file only",
                    span.index,
                    self.transfer.file_name(span.index)
                ),
                None => "received more bytes than were asked for".to_owned(),
            };
            self.end(Ending::FailedByMe(reason), outputs);
            return Ok(None);
        }
        // No span means nothing was asked for and the payload was empty.
        let Some(span) = span else {
            return Ok(None);
        };
        let (index, offset, len) = (span.index, span.start, payload_len as u64);
        let file = &mut self.files[index as usize];
        file.written |= len > 0;
        let size = file.size;
        let end = offset + len;
        self.partial_bytes = if end == size {
            0
        } else {
            end % DIGEST_BLOCK_LEN
        };
        match hash_here {
            Some(bytes) => {
                for (block, digest) in self.hasher.hash(index, size, offset, bytes) {
                    self.hold(index, block);
                    self.files[index as usize].blocks[block as usize].held = Held::Hashed(digest);
                    self.judge_block(index, block, outputs);
                }
            }
            None => {
                for block in blocks_completed(size, offset, len) {
                    self.hold(index, block);
                }
            }
        }
        self.settle(outputs);
        Ok(Some(Placement {
            transfer: self.transfer.id(),
            index,
            offset,
            len: payload_len,
        }))
    }

    /// The sender's digest of block `block` of file `index`. One that arrives while the
    /// link is down is from the link that went down, and dropped: the sender repeats it.
    pub fn on_block(
        &mut self,
        index: u32,
        block: u64,
        sha256: &str,
        outputs: &mut VecDeque<Output>,
    ) -> Result<(), TransferError> {
        if let TransferState::Paused { .. } = self.transfer.state() {
            return Ok(());
        }
        self.transfer.expect(&RECEIVING, "a Block")?;
        self.check_block(index, block)?;
        let Some(digest) = parse_block_digest(sha256) else {
            let reason =
                format!("the digest of block {block} of file {index} is not 64 hexadecimal digits");
            self.end(Ending::FailedByMe(reason), outputs);
            return Ok(());
        };
        let entry = &mut self.files[index as usize].blocks[block as usize];
        if entry.held != Held::Verified {
            entry.announced = Some(digest);
            self.judge_block(index, block, outputs);
            self.settle(outputs);
        }
        Ok(())
    }

    pub fn on_file_end(
        &mut self,
        index: u32,
        sha256: String,
        outputs: &mut VecDeque<Output>,
    ) -> Result<(), TransferError> {
        if let TransferState::Paused { .. } = self.transfer.state() {
            return Ok(());
        }
        self.transfer.expect(&RECEIVING, "a FileEnd")?;
        let transfer = self.transfer.id();
        let file = self
            .files
            .get_mut(index as usize)
            .ok_or(TransferError::NoSuchFile { transfer, index })?;
        if file.verified {
            return Ok(());
        }
        if file.file_end.is_some() {
            return Err(TransferError::DuplicateFileEnd { transfer, index });
        }
        file.file_end = Some(sha256);
        self.judge_file(index, outputs);
        Ok(())
    }

    /// The driver hashed block `block` of file `index`. A digest of bytes that are no
    /// longer held whole (the link went down, or the block is being fetched again) is
    /// dropped.
    pub fn on_block_digest(
        &mut self,
        index: u32,
        block: u64,
        digest: BlockDigest,
        outputs: &mut VecDeque<Output>,
    ) -> Result<(), TransferError> {
        if !self.transfer.state().is_running() {
            return Err(self.transfer.unexpected("a block digest"));
        }
        if self.hashing != BlockHashing::Driver {
            return Err(TransferError::EngineHashes);
        }
        self.check_block(index, block)?;
        let entry = &mut self.files[index as usize].blocks[block as usize];
        if entry.held == Held::Whole {
            entry.held = Held::Hashed(digest);
            self.judge_block(index, block, outputs);
            self.settle(outputs);
        }
        Ok(())
    }

    /// Ends the transfer and discards every file that has bytes on disk but was not
    /// verified.
    pub fn end(&mut self, ending: Ending, outputs: &mut VecDeque<Output>) {
        let transfer = self.transfer.id();
        for (index, file) in (0..).zip(&self.files) {
            if file.written && !file.verified {
                outputs.push_back(Output::FileDiscarded { transfer, index });
            }
        }
        self.transfer.end(ending, outputs);
    }

    /// The link is down: the block arriving is lost; blocks held whole stay.
    pub fn on_link_down(&mut self) {
        self.hasher.reset();
        self.plan = Plan::default();
        self.partial_bytes = 0;
        self.transfer.bytes_done = self.held_bytes;
    }

    /// A new link is up: asks the sender for everything not verified yet, with a
    /// `resume` naming each block this end lacks, or holds without the sender's digest.
    pub fn on_link_up(&mut self, outputs: &mut VecDeque<Output>) {
        if !self.transfer.state().is_running() {
            return;
        }
        if self.transfer.in_swarm {
            self.say_in_swarm(outputs);
        } else {
            self.ask_lacking(outputs);
        }
    }

    /// Sends the `resume` naming every block not verified yet, and plans to receive
    /// exactly those.
    fn ask_lacking(&mut self, outputs: &mut VecDeque<Output>) {
        self.on_link_down();
        let mut resume = Vec::new();
        for (index, file) in (0..).zip(&mut self.files) {
            if file.verified {
                continue;
            }
            file.file_end = None;
            let mut ranges: Vec<[u64; 2]> = Vec::new();
            for (block, entry) in (0..).zip(&mut file.blocks) {
                let lacking = match entry.held {
                    Held::Verified => false,
                    Held::Missing => true,
                    Held::Whole | Held::Hashed(_) => entry.announced.is_none(),
                };
                if !lacking {
                    continue;
                }
                if entry.held != Held::Missing {
                    entry.held = Held::Missing;
                    self.held_bytes -= block_len(file.size, block);
                }
                match ranges.last_mut() {
                    Some(last) if last[1] == block => last[1] = block + 1,
                    _ => ranges.push([block, block + 1]),
                }
            }
            for &[first, end] in &ranges {
                self.plan.push_blocks(index, file.size, first, end);
            }
            resume.push(ResumeFile {
                index,
                blocks: ranges,
            });
        }
        let transfer = self.transfer.id();
        outputs.push_back(Output::Control(ControlFrame::Resume {
            transfer,
            files: resume,
        }));
        self.transfer.enter(TransferState::Transferring, outputs);
        self.settle(outputs);
    }

    fn check_block(&self, index: u32, block: u64) -> Result<(), TransferError> {
        let transfer = self.transfer.id();
        let file = self
            .files
            .get(index as usize)
            .ok_or(TransferError::NoSuchFile { transfer, index })?;
        if block >= file.blocks.len() as u64 {
            return Err(TransferError::NoSuchBlock {
                transfer,
                index,
                block,
            });
        }
        Ok(())
    }

    /// Every byte of block `block` of file `index` is in.
    fn hold(&mut self, index: u32, block: u64) {
        let file = &mut self.files[index as usize];
        let entry = &mut file.blocks[block as usize];
        if entry.held == Held::Missing {
            entry.held = Held::Whole;
            self.held_bytes += block_len(file.size, block);
        }
    }

    /// Verifies block `block` of file `index` once both of its digests are known, or
    /// asks for it once more, or fails the transfer if it was asked for once already.
    fn judge_block(&mut self, index: u32, block: u64, outputs: &mut VecDeque<Output>) {
        let file = &mut self.files[index as usize];
        let size = file.size;
        let entry = &mut file.blocks[block as usize];
        let (Held::Hashed(held), Some(announced)) = (entry.held, entry.announced) else {
            return;
        };
        if held == announced {
            entry.held = Held::Verified;
            outputs.push_back(Output::BlockVerified {
                transfer: self.transfer.id(),
                index,
                block,
                digest: held,
            });
            self.judge_file(index, outputs);
            return;
        }
        let name = self.transfer.file_name(index).to_owned();
        if entry.refetched {
            let reason =
                format!("block {block} of file {index} ({name}) did not match its SHA-256, twice");
            self.end(Ending::FailedByMe(reason), outputs);
            return;
        }
        entry.refetched = true;
        entry.held = Held::Missing;
        self.held_bytes -= block_len(size, block);
        let transfer = self.transfer.id();
        outputs.push_back(Output::Control(ControlFrame::Refetch {
            transfer,
            index,
            block,
        }));
        self.plan.push_blocks(index, size, block, block + 1);
    }

    /// Verifies or fails file `index` once all of its blocks are verified and its
    /// `file_end` is in; completes the transfer when it was the last file to verify.
    fn judge_file(&mut self, index: u32, outputs: &mut VecDeque<Output>) {
        if !self.transfer.state().is_running() {
            return;
        }
        let file = &mut self.files[index as usize];
        if file.verified || file.blocks.iter().any(|block| block.held != Held::Verified) {
            return;
        }
        let Some(announced) = &file.file_end else {
            return;
        };
        let blocks = file
            .blocks
            .iter()
            .filter_map(|block| block.announced.as_ref());
        let transfer = self.transfer.id();
        if *announced != file_digest(blocks) {
            let name = self.transfer.file_name(index);
            let reason = format!("file {index} ({name}) does not match its SHA-256");
            self.end(Ending::FailedByMe(reason), outputs);
            return;
        }
        file.verified = true;
        file.file_end = None;
        outputs.push_back(Output::FileVerified { transfer, index });
        self.verified_files += 1;
        if self.verified_files == self.files.len() {
            self.transfer.say_last(LastWord::Complete, outputs);
            self.transfer.enter(TransferState::Done, outputs);
        }
    }

    /// Shows the progress, and whether bytes are still to come.
    fn settle(&mut self, outputs: &mut VecDeque<Output>) {
        self.transfer.bytes_done = self.held_bytes + self.partial_bytes;
        let state = self.transfer.state();
        if state == &TransferState::Transferring && self.plan.is_done() {
            self.transfer.enter(TransferState::Verifying, outputs);
        } else if state == &TransferState::Verifying && !self.plan.is_done() {
            self.transfer.enter(TransferState::Transferring, outputs);
        }
    }
}
