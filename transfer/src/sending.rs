//! The sender's half of a transfer: offer, then read, hash and chunk what the receiver
//! still lacks.
//!
//! The sender never decides when to send: the driver asks for the next read when the
//! data channel has room ([`Sending::next_read`]), reads the bytes however its platform
//! does, and hands them back ([`Sending::on_read`]). One read is outstanding at a time,
//! so the bytes pass in the order of the [`Plan`]: every file whole after the accept,
//! only the blocks a `resume` names after a new link, plus any block a `refetch` asks
//! for again. Each block's digest goes out in a `block` frame as soon as it is known
//! (and before the bytes when a `resume` asks for a block hashed before the cut); a
//! file's `file_end` once every one of its blocks is hashed.

use std::collections::VecDeque;

use meshdrop_protocol::frame::{
    ControlFrame, DataChunk, FileMeta, ResumeFile, SwarmId, TransferId,
};

use crate::digest::{
    block_count, block_span, file_digest, BlockDigest, BlockHasher, BlockHashing, DIGEST_BLOCK_LEN,
};
use crate::payload::Payload;
use crate::plan::Plan;
use crate::transfer::{Ending, Transfer};
use crate::{Direction, Output, ReadRequest, TransferError, TransferState};

#[derive(Debug)]
pub(crate) struct Sending {
    pub transfer: Transfer,
    hashing: BlockHashing,
    hasher: BlockHasher,
    /// Per file, per block: its digest once hashed. Kept for the whole transfer, so a
    /// file's digest is known without reading again the blocks the receiver has.
    digests: Vec<Vec<Option<BlockDigest>>>,
    plan: Plan,
    /// Blocks the receiver holds but whose digests this end does not know (it
    /// restarted since they were sent): read and hashed after the plan, not sent, so
    /// that the files' `file_end` can be computed.
    to_hash: Plan,
    pending_read: Option<PendingRead>,
    /// Files whose `file_end` is owed on this link, by index, each once (a `resume`
    /// lists its files in increasing order, or is refused).
    file_ends_due: Vec<u32>,
    /// Restored without its files (the sending page reloaded), until the driver has
    /// them again: the receiver's answer waits meanwhile.
    awaiting_files: bool,
    /// The receiver's latest answer while the files are awaited.
    held_answer: Option<Answer>,
}

/// An answer of the receiver that starts sending.
#[derive(Debug)]
enum Answer {
    Accept,
    Resume(Vec<ResumeFile>),
}

/// The read handed out by `next_read` and not yet answered by `on_read`.
#[derive(Debug, Clone, Copy)]
struct PendingRead {
    index: u32,
    offset: u64,
    len: usize,
    /// Only to hash, from `to_hash`.
    hash_only: bool,
    /// Asked for on a link that is gone, or under a plan a `resume` replaced: its bytes
    /// are dropped when they come.
    stale: bool,
}

impl Sending {
    /// Offers `files` to the peer.
    pub fn offer(
        id: TransferId,
        files: Vec<FileMeta>,
        swarm: Option<SwarmId>,
        hashing: BlockHashing,
        outputs: &mut VecDeque<Output>,
    ) -> Result<Self, TransferError> {
        let mut transfer = Transfer::offered(id, Direction::Outgoing, files, outputs)?;
        transfer.swarm = swarm;
        let digests = transfer
            .files()
            .iter()
            .map(|file| vec![None; block_count(file.size) as usize])
            .collect();
        let sending = Self {
            transfer,
            hashing,
            hasher: BlockHasher::default(),
            digests,
            plan: Plan::default(),
            to_hash: Plan::default(),
            pending_read: None,
            file_ends_due: Vec::new(),
            awaiting_files: false,
            held_answer: None,
        };
        sending.send_offer(outputs);
        Ok(sending)
    }

    /// A transfer this end offered before it lost its engine, without the files yet:
    /// paused, and offered again on each new link, until [`Self::files_found`].
    pub fn restored(
        id: TransferId,
        files: Vec<FileMeta>,
        hashing: BlockHashing,
        outputs: &mut VecDeque<Output>,
    ) -> Result<Self, TransferError> {
        let mut unseen = VecDeque::new();
        let mut sending = Self::offer(id, files, None, hashing, &mut unseen)?;
        sending.awaiting_files = true;
        let paused = TransferState::Paused {
            gives_up_at_ms: None,
        };
        sending.transfer.enter(paused, outputs);
        Ok(sending)
    }

    /// The driver has the files of a restored transfer again: the receiver's answer
    /// held meanwhile is followed now (or the next one, on the next link).
    pub fn files_found(&mut self, outputs: &mut VecDeque<Output>) -> Result<(), TransferError> {
        if !self.awaiting_files {
            return Err(self.transfer.unexpected("files found again"));
        }
        self.awaiting_files = false;
        match self.held_answer.take() {
            Some(Answer::Accept) => self.on_accept(false, outputs),
            Some(Answer::Resume(files)) => self.on_resume(files, outputs),
            None => Ok(()),
        }
    }

    fn send_offer(&self, outputs: &mut VecDeque<Output>) {
        outputs.push_back(Output::Control(ControlFrame::Offer {
            transfer: self.transfer.id(),
            files: self.transfer.files().to_vec(),
            swarm: self.transfer.swarm,
        }));
    }

    /// An `accept` of the offer, or, while paused, of the offer made again on a new
    /// link to a receiver that had lost the transfer (its page reloaded): everything
    /// is sent from the start. An accept `in_swarm` of an offer that named a swarm
    /// sends nothing: the receiver joins the swarm ([`Output::JoinedSwarm`]).
    pub fn on_accept(
        &mut self,
        in_swarm: bool,
        outputs: &mut VecDeque<Output>,
    ) -> Result<(), TransferError> {
        if !matches!(
            self.transfer.state(),
            TransferState::Offered | TransferState::Paused { .. }
        ) {
            return Err(self.transfer.unexpected("an Accept"));
        }
        if let (true, Some(swarm), false) = (in_swarm, self.transfer.swarm, self.awaiting_files) {
            self.transfer.in_swarm = true;
            self.transfer.enter(TransferState::Transferring, outputs);
            outputs.push_back(Output::JoinedSwarm {
                transfer: self.transfer.id(),
                swarm,
            });
            return Ok(());
        }
        if self.awaiting_files {
            self.held_answer = Some(Answer::Accept);
            return Ok(());
        }
        self.on_link_down();
        self.plan = Plan::whole(self.transfer.files());
        self.to_hash = Plan::default();
        self.file_ends_due = (0..self.digests.len() as u32).collect();
        self.transfer.enter(TransferState::Transferring, outputs);
        self.announce(outputs);
        Ok(())
    }

    /// A `decline` (of the offer, or of the offer made again while paused); one
    /// repeated on a new link changes nothing.
    pub fn on_decline(&mut self, outputs: &mut VecDeque<Output>) -> Result<(), TransferError> {
        match self.transfer.state() {
            TransferState::Declined => return Ok(()),
            TransferState::Offered | TransferState::Paused { .. } => {}
            _ => return Err(self.transfer.unexpected("a Decline")),
        }
        self.transfer.enter(TransferState::Declined, outputs);
        Ok(())
    }

    /// A `complete`, which may arrive after this end saw the link go down, or again on
    /// a new link.
    pub fn on_complete(&mut self, outputs: &mut VecDeque<Output>) -> Result<(), TransferError> {
        match self.transfer.state() {
            TransferState::Done => Ok(()),
            TransferState::Transferring if self.transfer.in_swarm => {
                self.transfer.enter(TransferState::Done, outputs);
                Ok(())
            }
            TransferState::Verifying | TransferState::Paused { .. } => {
                self.transfer.enter(TransferState::Done, outputs);
                Ok(())
            }
            _ => Err(self.transfer.unexpected("a Complete")),
        }
    }

    /// The next bytes to read, at most `chunk_len` of them, unless a read is already
    /// outstanding or there is nothing (more) to send now. Once everything planned is
    /// sent, blocks only to hash are read whole, one per read, so that a `refetch`
    /// never cuts into one.
    pub fn next_read(&mut self, chunk_len: usize) -> Option<ReadRequest> {
        if self.pending_read.is_some() || self.transfer.state() != &TransferState::Transferring {
            return None;
        }
        let (span, hash_only) = match self.plan.front() {
            Some(span) => (span, false),
            None => (self.to_hash.front()?, true),
        };
        let limit = if hash_only {
            let size = self.transfer.files()[span.index as usize].size;
            block_span(size, span.start / DIGEST_BLOCK_LEN).end - span.start
        } else {
            span.end - span.start
        };
        let len = match usize::try_from(limit) {
            Ok(limit) if hash_only => limit,
            Ok(limit) => limit.min(chunk_len),
            Err(_) => chunk_len,
        };
        self.pending_read = Some(PendingRead {
            index: span.index,
            offset: span.start,
            len,
            hash_only,
            stale: false,
        });
        Some(ReadRequest {
            transfer: self.transfer.id(),
            index: span.index,
            offset: span.start,
            len,
        })
    }

    /// Takes the bytes of the outstanding read and makes them a chunk to send (or only
    /// hashes them, for a block the receiver has). A read of the wrong length means the
    /// file changed under us: its digest could never match, so the transfer fails. The
    /// bytes of a stale read are dropped.
    pub fn on_read<'a>(
        &mut self,
        bytes: &'a [u8],
        outputs: &mut VecDeque<Output>,
    ) -> Result<Option<DataChunk<'a>>, TransferError> {
        let send = self.on_payload(Payload::Bytes(bytes), outputs)?;
        Ok(send.then(|| DataChunk {
            transfer: self.transfer.id(),
            payload: bytes,
        }))
    }

    /// [`Self::on_read`] for bytes given as themselves or, by a driver that hashes
    /// blocks itself, as their length; returns whether to send them.
    pub fn on_payload(
        &mut self,
        payload: Payload<'_>,
        outputs: &mut VecDeque<Output>,
    ) -> Result<bool, TransferError> {
        let read = self
            .pending_read
            .ok_or_else(|| self.transfer.unexpected("a read nobody asked for"))?;
        let hash_here = payload.bytes_to_hash(self.hashing)?;
        self.pending_read = None;
        if read.stale {
            return Ok(false);
        }
        let plan = if read.hash_only {
            &mut self.to_hash
        } else {
            &mut self.plan
        };
        if payload.len() != read.len || plan.advance(payload.len()).is_err() {
            let reason = format!(
                "reading a file gave {} bytes instead of {}; did it change on disk?",
                payload.len(),
                read.len
            );
            self.transfer.end(Ending::FailedByMe(reason), outputs);
            return Ok(false);
        }
        if let Some(bytes) = hash_here {
            let size = self.transfer.files()[read.index as usize].size;
            for (block, digest) in self.hasher.hash(read.index, size, read.offset, bytes) {
                self.record_digest(read.index, block, digest, outputs);
            }
        }
        self.update_progress();
        self.announce(outputs);
        Ok(!read.hash_only && !self.transfer.state().is_final())
    }

    /// The driver hashed block `block` of file `index`.
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
        self.record_digest(index, block, digest, outputs);
        self.announce(outputs);
        Ok(())
    }

    /// The link is down: whatever is read now is for nobody.
    pub fn on_link_down(&mut self) {
        if let Some(read) = &mut self.pending_read {
            read.stale = true;
        }
        self.hasher.reset();
    }

    /// A new link is up. The offer of a transfer not done is made again: a receiver
    /// that has it drops the repeat, and one that lost it (its page reloaded) is asked
    /// again. A running transfer stays paused until the receiver's `resume` says what
    /// it lacks, or its new `accept` asks for everything.
    pub fn on_link_up(&mut self, outputs: &mut VecDeque<Output>) {
        if matches!(
            self.transfer.state(),
            TransferState::Offered | TransferState::Paused { .. }
        ) {
            self.send_offer(outputs);
        }
    }

    /// The receiver lacks the blocks `files` lists (an accept that was lost with the
    /// link counts as given). A `resume` this end cannot follow fails the transfer.
    pub fn on_resume(
        &mut self,
        files: Vec<ResumeFile>,
        outputs: &mut VecDeque<Output>,
    ) -> Result<(), TransferError> {
        let state = self.transfer.state();
        if state.is_final() {
            // The receiver missed how the transfer ended: say it again.
            if let Some(word) = &self.transfer.last_word {
                outputs.push_back(Output::Control(word.frame(self.transfer.id())));
            }
            return Ok(());
        }
        if self.awaiting_files {
            self.held_answer = Some(Answer::Resume(files));
            return Ok(());
        }
        let plan = match self.plan_of(&files) {
            Ok(plan) => plan,
            Err(reason) => {
                self.transfer.end(Ending::FailedByMe(reason), outputs);
                return Ok(());
            }
        };
        self.plan = plan;
        self.to_hash = self.unknown_held(&files);
        self.on_link_down();
        self.file_ends_due = files.iter().map(|file| file.index).collect();
        let transfer = self.transfer.id();
        for file in &files {
            for &[first, end] in &file.blocks {
                for block in first..end {
                    if let Some(digest) = self.digests[file.index as usize][block as usize] {
                        outputs.push_back(Output::Control(block_frame(
                            transfer, file.index, block, &digest,
                        )));
                    }
                }
            }
        }
        self.transfer.enter(TransferState::Transferring, outputs);
        self.update_progress();
        self.announce(outputs);
        Ok(())
    }

    /// The receiver asks again for block `block` of file `index`, which arrived
    /// damaged. One asked for after this end saw the link go down is dropped: the
    /// receiver's `resume` names the block again.
    pub fn on_refetch(
        &mut self,
        index: u32,
        block: u64,
        outputs: &mut VecDeque<Output>,
    ) -> Result<(), TransferError> {
        match self.transfer.state() {
            TransferState::Paused { .. } => return Ok(()),
            TransferState::Transferring | TransferState::Verifying => {}
            _ => return Err(self.transfer.unexpected("a Refetch")),
        }
        if let Err(error) = self.check_block(index, block) {
            let reason = format!("refetch refused: {error}");
            self.transfer.end(Ending::FailedByMe(reason), outputs);
            return Ok(());
        }
        let size = self.transfer.files()[index as usize].size;
        self.plan.push_blocks(index, size, block, block + 1);
        if self.transfer.state() == &TransferState::Verifying {
            self.transfer.enter(TransferState::Transferring, outputs);
        }
        self.update_progress();
        Ok(())
    }

    /// The plan a `resume` asks for, or why it cannot be followed.
    fn plan_of(&self, files: &[ResumeFile]) -> Result<Plan, String> {
        let id = self.transfer.id();
        let mut plan = Plan::default();
        let mut previous_file = None;
        for file in files {
            let Some(meta) = self.transfer.files().get(file.index as usize) else {
                return Err(format!(
                    "cannot resume transfer {id}: it has no file {}",
                    file.index
                ));
            };
            if previous_file.is_some_and(|previous| previous >= file.index) {
                return Err(format!(
                    "cannot resume transfer {id}: files must be listed once each, in order"
                ));
            }
            previous_file = Some(file.index);
            let blocks = block_count(meta.size);
            let mut previous_end = 0;
            for &[first, end] in &file.blocks {
                if end > blocks {
                    return Err(format!(
                        "cannot resume transfer {id}: file {} ({}) has {blocks} blocks, not {end}",
                        file.index, meta.name
                    ));
                }
                if first >= end || first < previous_end {
                    return Err(format!(
                        "cannot resume transfer {id}: block ranges of file {} must be non-empty, ascending and apart",
                        file.index
                    ));
                }
                previous_end = end;
                plan.push_blocks(file.index, meta.size, first, end);
            }
        }
        Ok(plan)
    }

    /// The blocks of the files listed in a (followable) `resume` that the receiver
    /// holds and whose digests this end does not know: all of them, when this end
    /// restarted since it sent them. Their digests are needed for the `file_end`.
    fn unknown_held(&self, files: &[ResumeFile]) -> Plan {
        let mut to_hash = Plan::default();
        for file in files {
            let size = self.transfer.files()[file.index as usize].size;
            let digests = &self.digests[file.index as usize];
            let mut lacking = file.blocks.iter().peekable();
            for (block, digest) in (0..).zip(digests) {
                while lacking.next_if(|&&[_, end]| end <= block).is_some() {}
                let sent = lacking.peek().is_some_and(|&&[first, _]| first <= block);
                if digest.is_none() && !sent {
                    to_hash.push_blocks(file.index, size, block, block + 1);
                }
            }
        }
        to_hash
    }

    fn check_block(&self, index: u32, block: u64) -> Result<(), TransferError> {
        let transfer = self.transfer.id();
        let blocks = self
            .digests
            .get(index as usize)
            .ok_or(TransferError::NoSuchFile { transfer, index })?;
        if block >= blocks.len() as u64 {
            return Err(TransferError::NoSuchBlock {
                transfer,
                index,
                block,
            });
        }
        Ok(())
    }

    /// Keeps the digest of a block hashed for the first time and tells the receiver;
    /// a block read again must hash the same, or the file changed under us.
    fn record_digest(
        &mut self,
        index: u32,
        block: u64,
        digest: BlockDigest,
        outputs: &mut VecDeque<Output>,
    ) {
        let known = &mut self.digests[index as usize][block as usize];
        match known {
            None => {
                *known = Some(digest);
                let frame = block_frame(self.transfer.id(), index, block, &digest);
                outputs.push_back(Output::Control(frame));
            }
            Some(known) if *known == digest => {}
            Some(_) => {
                let name = self.transfer.file_name(index);
                let reason = format!(
                    "block {block} of file {index} ({name}) read differently the second time; did it change on disk?"
                );
                self.transfer.end(Ending::FailedByMe(reason), outputs);
            }
        }
    }

    fn update_progress(&mut self) {
        self.transfer.bytes_done = self.transfer.progress().bytes_total - self.plan.remaining();
    }

    /// Sends each owed `file_end` whose digest is known; once every planned byte is
    /// out, waits for the verdict.
    fn announce(&mut self, outputs: &mut VecDeque<Output>) {
        if !self.transfer.state().is_running() {
            return;
        }
        let transfer = self.transfer.id();
        let digests = &self.digests;
        self.file_ends_due.retain(|&index| {
            let blocks = &digests[index as usize];
            if blocks.iter().any(Option::is_none) {
                return true;
            }
            let sha256 = file_digest(blocks.iter().flatten());
            outputs.push_back(Output::Control(ControlFrame::FileEnd {
                transfer,
                index,
                sha256,
            }));
            false
        });
        let all_read = self.plan.is_done() && self.to_hash.is_done();
        if all_read && self.transfer.state() == &TransferState::Transferring {
            self.transfer.enter(TransferState::Verifying, outputs);
        }
    }
}

fn block_frame(transfer: TransferId, index: u32, block: u64, digest: &BlockDigest) -> ControlFrame {
    ControlFrame::Block {
        transfer,
        index,
        block,
        sha256: hex::encode(digest),
    }
}
