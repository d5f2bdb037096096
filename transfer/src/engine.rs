//! [`Transfers`]: every file transfer with one peer, in both directions, over all the
//! links (peer connections) that come and go between the two.
//!
//! This is the engine's only entry point. It routes each input (a user's answer, a
//! control frame, a data chunk, bytes the driver read) to the transfer it names, and
//! queues the effects as [`Output`]s. It also enforces the rules that span transfers:
//! who may pick which id, that frames about a cancelled or failed transfer are dropped,
//! and what the link's state means for them: paused while it is down, resumed when a
//! new one is up, failed once the peer left the room and the grace period ran out.

use std::collections::VecDeque;
use std::num::NonZeroUsize;
use std::time::Duration;

use meshdrop_protocol::frame::{
    message_len_for, ControlFrame, DataChunk, FileMeta, ResumeFile, SwarmId, TransferId,
    CHUNK_HEADER_LEN,
};
use meshdrop_sorted_map::SortedMap;

use crate::credit::Credit;
use crate::digest::{BlockDigest, BlockHashing};
use crate::partial::{BadPartial, Partial};
use crate::payload::Payload;
use crate::receiving::Receiving;
use crate::sending::Sending;
use crate::transfer::{Ending, Transfer};
use crate::{IdParity, Output, Placement, ReadRequest, TransferError, Write};

/// Payload bytes per chunk unless [`Transfers::set_chunk_len`] says otherwise: a whole
/// chunk, header included, is then 64 KiB.
pub const DEFAULT_CHUNK_LEN: NonZeroUsize =
    NonZeroUsize::new(64 * 1024 - CHUNK_HEADER_LEN).unwrap();

/// How long a peer that left the room has to come back before its transfers fail,
/// unless [`Transfers::set_grace`] says otherwise.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(5 * 60);

/// The transfers with one peer. See the crate documentation for how a driver uses it.
#[derive(Debug)]
pub struct Transfers {
    parity: IdParity,
    next_id: TransferId,
    chunk_len: NonZeroUsize,
    hashing: BlockHashing,
    entries: SortedMap<TransferId, Entry>,
    outputs: VecDeque<Output>,
    /// Whether a link is up; a new engine assumes it is.
    link_up: bool,
    grace: Duration,
    /// Once the peer left the room: when its transfers fail unless it is back.
    gives_up_at_ms: Option<u64>,
    /// Partial incoming transfers handed to [`Self::restore`], by the driver's key,
    /// waiting for an offer of their files.
    restored: Vec<(String, Partial)>,
    /// How many chunk bytes may cross the data channel, each way; see [`crate::credit`].
    credit: Credit,
}

/// One transfer and the half of the protocol this end plays in it. Ids of this end's
/// parity are always `Sending`, the peer's always `Receiving`.
#[derive(Debug)]
enum Entry {
    Sending(Sending),
    Receiving(Receiving),
}

impl Entry {
    fn transfer(&self) -> &Transfer {
        match self {
            Self::Sending(sending) => &sending.transfer,
            Self::Receiving(receiving) => &receiving.transfer,
        }
    }

    fn transfer_mut(&mut self) -> &mut Transfer {
        match self {
            Self::Sending(sending) => &mut sending.transfer,
            Self::Receiving(receiving) => &mut receiving.transfer,
        }
    }

    fn end(&mut self, ending: Ending, outputs: &mut VecDeque<Output>) {
        match self {
            Self::Sending(sending) => sending.transfer.end(ending, outputs),
            Self::Receiving(receiving) => receiving.end(ending, outputs),
        }
    }

    /// Whether this is a transfer accepted in a swarm, which goes on through the
    /// swarm's other members while the link to its sender is down or gone.
    fn received_in_swarm(&self) -> bool {
        matches!(self, Self::Receiving(receiving) if receiving.transfer.in_swarm)
    }

    fn on_link_down(&mut self, gives_up_at_ms: Option<u64>, outputs: &mut VecDeque<Output>) {
        if self.received_in_swarm() {
            return;
        }
        if self.transfer_mut().pause(gives_up_at_ms, outputs) {
            match self {
                Self::Sending(sending) => sending.on_link_down(),
                Self::Receiving(receiving) => receiving.on_link_down(),
            }
        }
    }

    fn on_link_up(&mut self, outputs: &mut VecDeque<Output>) {
        let transfer = self.transfer_mut();
        if let Some(word) = transfer.last_word.take() {
            outputs.push_back(Output::Control(word.frame(transfer.id())));
        }
        match self {
            Self::Sending(sending) => sending.on_link_up(outputs),
            Self::Receiving(receiving) => receiving.on_link_up(outputs),
        }
    }
}

impl Transfers {
    /// An engine that picks outgoing ids of `parity`; see
    /// [`IdParity::for_connection`].
    pub fn new(parity: IdParity) -> Self {
        Self {
            parity,
            next_id: parity.first_id(),
            chunk_len: DEFAULT_CHUNK_LEN,
            hashing: BlockHashing::default(),
            entries: SortedMap::new(),
            outputs: VecDeque::new(),
            link_up: true,
            grace: DEFAULT_GRACE,
            gives_up_at_ms: None,
            restored: Vec::new(),
            credit: Credit::new(),
        }
    }

    /// How long a peer that left the room has to come back, from the next time it
    /// leaves.
    pub fn set_grace(&mut self, grace: Duration) {
        self.grace = grace;
    }

    /// Payload bytes per chunk from the next read on. The receiver does not care, so
    /// the driver may tune this while transfers run.
    pub fn set_chunk_len(&mut self, chunk_len: NonZeroUsize) {
        self.chunk_len = chunk_len;
    }

    /// Chunks as large as a connection that takes messages of `max_message_size` bytes
    /// allows, up to [`meshdrop_protocol::frame::MAX_MESSAGE_LEN`] a message; see
    /// [`Self::set_chunk_len`].
    pub fn fit_chunks_to(&mut self, max_message_size: usize) {
        let payload = message_len_for(max_message_size).saturating_sub(CHUNK_HEADER_LEN);
        self.chunk_len = NonZeroUsize::new(payload).unwrap_or(DEFAULT_CHUNK_LEN);
    }

    /// How many chunk bytes the peer may have on their way to this end, unhandled,
    /// from the next link on ([`crate::RECEIVE_WINDOW`] unless set): enough to keep
    /// the channel busy while a grant travels back, and what a chat line or a `cancel`
    /// from the peer may wait behind.
    pub fn set_receive_window(&mut self, bytes: u64) {
        self.credit.set_window(bytes);
    }

    /// Who hashes the blocks of transfers offered from now on; see [`crate::digest`].
    /// With [`BlockHashing::Driver`], hand every block's digest to
    /// [`Self::on_block_digest`].
    pub fn set_block_hashing(&mut self, hashing: BlockHashing) {
        self.hashing = hashing;
    }

    /// The next effect for the driver to carry out, oldest first.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    pub fn get(&self, id: TransferId) -> Option<&Transfer> {
        self.entries.get(&id).map(Entry::transfer)
    }

    /// Every transfer with this peer, by id.
    pub fn iter(&self) -> impl Iterator<Item = (TransferId, &Transfer)> {
        self.entries
            .iter()
            .map(|(id, entry)| (*id, entry.transfer()))
    }

    /// Offers `files` to the peer and returns the new transfer's id.
    pub fn offer(&mut self, files: Vec<FileMeta>) -> Result<TransferId, TransferError> {
        self.offer_in(files, None)
    }

    /// Offers `files` to the peer as one of the receivers of `swarm`: a receiver that
    /// takes part accepts in the swarm ([`Output::JoinedSwarm`]), one that does not
    /// accepts plainly and gets the files streamed.
    pub fn offer_to_swarm(
        &mut self,
        files: Vec<FileMeta>,
        swarm: SwarmId,
    ) -> Result<TransferId, TransferError> {
        self.offer_in(files, Some(swarm))
    }

    fn offer_in(
        &mut self,
        files: Vec<FileMeta>,
        swarm: Option<SwarmId>,
    ) -> Result<TransferId, TransferError> {
        let id = self.next_id;
        let sending = Sending::offer(id, files, swarm, self.hashing, &mut self.outputs)?;
        self.entries.insert(id, Entry::Sending(sending));
        // Wrapping takes 2^31 offers to one peer; ids stay of this end's parity, and
        // skip the one id whose chunks would read as swarm pieces.
        self.next_id = match id.wrapping_add(2) {
            TransferId::MAX => 1,
            next => next,
        };
        Ok(id)
    }

    /// Keeps `partial`, an incoming transfer this end accepted and partly received
    /// before it lost its engine (saved from [`Self::partial`]), to continue it when the
    /// peer offers the same files: see [`crate::partial`]. `key` is the driver's name
    /// for it, given back in [`Output::Resumed`]. Restoring under a key already kept
    /// replaces that one.
    pub fn restore(&mut self, key: impl Into<String>, partial: Partial) -> Result<(), BadPartial> {
        partial.digests()?;
        let key = key.into();
        self.restored.retain(|(kept, _)| *kept != key);
        self.restored.push((key, partial));
        Ok(())
    }

    /// What to save of incoming transfer `id` to go on after a restart ([`Self::restore`]);
    /// `None` unless it is incoming, accepted and not ended. Cheap enough to call once per
    /// verified block, but a driver saving it to disk might do so once a second.
    pub fn partial(&self, id: TransferId) -> Option<Partial> {
        match self.entries.get(&id) {
            Some(Entry::Receiving(receiving)) => receiving.partial(),
            _ => None,
        }
    }

    /// Takes back transfer `id` of `files`, which this end offered before it lost its
    /// engine (the sending page reloaded) and which is not done: it is
    /// [`crate::TransferState::Paused`] and offered again on each new link, and the
    /// receiver's answer (a `resume`, or an `accept` if it lost the transfer too) waits
    /// until the driver has the files again and says so with [`Self::files_found`].
    /// Ids offered from now on come after `id`.
    pub fn restore_sending(
        &mut self,
        id: TransferId,
        files: Vec<FileMeta>,
    ) -> Result<(), TransferError> {
        if !self.parity.owns(id) {
            return Err(TransferError::WrongParity(id));
        }
        if self.entries.contains_key(&id) {
            return Err(TransferError::DuplicateTransfer(id));
        }
        let sending = Sending::restored(id, files, self.hashing, &mut self.outputs)?;
        self.entries.insert(id, Entry::Sending(sending));
        if id >= self.next_id {
            self.next_id = id.wrapping_add(2);
        }
        Ok(())
    }

    /// The driver can read the files of transfer `id` (restored with
    /// [`Self::restore_sending`]) again: what the receiver asked for meanwhile is sent.
    pub fn files_found(&mut self, id: TransferId) -> Result<(), TransferError> {
        match live_sending(&mut self.entries, id)? {
            Some(sending) => sending.files_found(&mut self.outputs),
            None => Ok(()),
        }
    }

    /// The user takes the files the peer offered.
    pub fn accept(&mut self, id: TransferId) -> Result<(), TransferError> {
        let receiving = receiving(&mut self.entries, id)?;
        receiving.accept(&mut self.outputs)?;
        if !self.link_up {
            // The accept is lost with the link; the resume on the next one says it.
            receiving
                .transfer
                .pause(self.gives_up_at_ms, &mut self.outputs);
            receiving.on_link_down();
        }
        Ok(())
    }

    /// The user takes the files the peer offered to a swarm, and this end takes part
    /// in it: the driver brings the files with the swarm and reports here
    /// ([`Self::swarm_progress`], [`Self::swarm_file_verified`]). The transfer stays
    /// on while the link to the sender is down, and even once the sender has gone:
    /// the swarm's other members may finish it.
    pub fn accept_in_swarm(&mut self, id: TransferId) -> Result<(), TransferError> {
        receiving(&mut self.entries, id)?.accept_in_swarm(&mut self.outputs)
    }

    /// A transfer accepted in a swarm: its receiver holds `bytes` of its files, verified
    /// (as this receiver knows, or as the origin heard).
    pub fn swarm_progress(&mut self, id: TransferId, bytes: u64) -> Result<(), TransferError> {
        let transfer = entry(&mut self.entries, id)?.transfer_mut();
        if transfer.in_swarm {
            transfer.bytes_done = bytes.min(transfer.bytes_total);
        }
        Ok(())
    }

    /// File `index` of a transfer accepted in a swarm is whole and verified: it is
    /// [`Output::FileVerified`], and once every file is, the transfer is done and the
    /// sender is told.
    pub fn swarm_file_verified(&mut self, id: TransferId, index: u32) -> Result<(), TransferError> {
        let receiving = receiving(&mut self.entries, id)?;
        if !receiving.transfer.in_swarm || index as usize >= receiving.transfer.files().len() {
            return Err(TransferError::NoSuchFile {
                transfer: id,
                index,
            });
        }
        receiving.swarm_file_verified(index, &mut self.outputs);
        Ok(())
    }

    /// The user turns down the files the peer offered.
    pub fn decline(&mut self, id: TransferId) -> Result<(), TransferError> {
        receiving(&mut self.entries, id)?.decline(&mut self.outputs)
    }

    /// The user stops a transfer in either direction, at any point before it ends.
    pub fn cancel(
        &mut self,
        id: TransferId,
        reason: impl Into<String>,
    ) -> Result<(), TransferError> {
        let entry = entry(&mut self.entries, id)?;
        if entry.transfer().state().is_final() {
            return Err(entry.transfer().unexpected("cancelling"));
        }
        entry.end(Ending::CancelledByMe(reason.into()), &mut self.outputs);
        Ok(())
    }

    /// This end cannot go on with a transfer in either direction (it cannot store or
    /// read the files, say): both ends end [`crate::TransferState::Failed`] with
    /// `reason`, so the peer learns why. Unlike a cancel, nobody chose this.
    pub fn fail(&mut self, id: TransferId, reason: impl Into<String>) -> Result<(), TransferError> {
        let entry = entry(&mut self.entries, id)?;
        if entry.transfer().state().is_final() {
            return Err(entry.transfer().unexpected("failing"));
        }
        entry.end(Ending::FailedByMe(reason.into()), &mut self.outputs);
        Ok(())
    }

    /// The link to the peer is down (its peer connection closed or failed, its
    /// channels closed): running transfers are [`crate::TransferState::Paused`] until
    /// [`Self::on_link_up`]; nothing fails. Reads still outstanding are dropped when
    /// they come; frames and chunks of the link that went down must not be handed in
    /// any more.
    pub fn on_link_down(&mut self) {
        self.link_up = false;
        for entry in self.entries.values_mut() {
            entry.on_link_down(self.gives_up_at_ms, &mut self.outputs);
        }
    }

    /// A new link to the same peer is up: call it once its control channel is open,
    /// before handing in anything that arrives on it. Only for new channels (a new peer
    /// connection): while the channels themselves stay open, as through an ICE restart,
    /// nothing is lost, and the engine needs neither this nor [`Self::on_link_down`];
    /// bytes of the old plan still in flight on the same ordered channel would land in
    /// the new one's place (and fail their blocks' digests). (It implies
    /// [`Self::on_link_down`] of the link before, if the driver did not call that.)
    /// The receiver of each running transfer sends a `resume` naming what it lacks,
    /// and the sender goes on with exactly that; offers of transfers not done are made
    /// again (a receiver that lost one, its page reloaded, is asked again), and each end
    /// repeats its last word about transfers that ended since the link before came up
    /// (`complete`, `decline`, `cancel`, `fail`), in case it was lost. The grace
    /// period, if running, stops.
    pub fn on_link_up(&mut self) {
        self.on_link_down();
        self.link_up = true;
        self.gives_up_at_ms = None;
        let grant = self.credit.on_link_up();
        self.outputs.push_back(Output::Control(grant));
        for entry in self.entries.values_mut() {
            entry.on_link_up(&mut self.outputs);
        }
    }

    /// The peer left the room at `now_ms` (milliseconds on any clock the driver keeps
    /// using, such as the Unix epoch's): transfers pause, and fail at
    /// [`Self::poll_timeout`] unless a link is up again before. Leaving again while the
    /// grace runs keeps the first deadline.
    pub fn on_peer_left(&mut self, now_ms: u64) {
        let grace_ms = u64::try_from(self.grace.as_millis()).unwrap_or(u64::MAX);
        let deadline = *self
            .gives_up_at_ms
            .get_or_insert(now_ms.saturating_add(grace_ms));
        self.link_up = false;
        for entry in self.entries.values_mut() {
            entry.on_link_down(Some(deadline), &mut self.outputs);
        }
    }

    /// When [`Self::handle_timeout`] must be called next, if at all.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.gives_up_at_ms
    }

    /// The time is `now_ms`: once the grace period of a peer that left has run out,
    /// its transfers fail.
    pub fn handle_timeout(&mut self, now_ms: u64) {
        if self
            .gives_up_at_ms
            .is_some_and(|deadline| now_ms >= deadline)
        {
            let grace = self.grace.as_secs();
            let (count, unit) = if grace > 0 && grace.is_multiple_of(60) {
                (grace / 60, "minute")
            } else {
                (grace, "second")
            };
            let plural = if count == 1 { "" } else { "s" };
            self.on_disconnect(format!(
                "the peer left and was not back within {count} {unit}{plural}"
            ));
        }
    }

    /// The peer is gone for good (it was removed, or this end is closing): every
    /// transfer not ended yet fails, as nothing more can cross.
    pub fn on_disconnect(&mut self, reason: impl Into<String>) {
        let reason = reason.into();
        self.gives_up_at_ms = None;
        for entry in self.entries.values_mut() {
            if !entry.transfer().state().is_final() && !entry.received_in_swarm() {
                entry.end(Ending::Disconnected(reason.clone()), &mut self.outputs);
            }
        }
    }

    /// A frame arrived on the control channel.
    pub fn on_control(&mut self, frame: ControlFrame) -> Result<(), TransferError> {
        match frame {
            ControlFrame::Chat { .. }
            | ControlFrame::ChatAck { .. }
            | ControlFrame::Hello { .. }
            | ControlFrame::SafetyCommit { .. }
            | ControlFrame::SafetyReveal { .. }
            | ControlFrame::PairConfirm { .. }
            | ControlFrame::Swarm(_) => Err(TransferError::NotATransferFrame),
            ControlFrame::Credit { upto } => {
                self.credit.on_grant(upto);
                Ok(())
            }
            ControlFrame::Offer {
                transfer,
                files,
                swarm,
            } => self.on_offer(transfer, files, swarm),
            ControlFrame::Accept { transfer, swarm } => self
                .on_answer(transfer, |sending, outputs| {
                    sending.on_accept(swarm, outputs)
                }),
            ControlFrame::Decline { transfer } => self.on_answer(transfer, Sending::on_decline),
            ControlFrame::Complete { transfer } => self.on_answer(transfer, Sending::on_complete),
            ControlFrame::FileEnd {
                transfer,
                index,
                sha256,
            } => match live_receiving(&mut self.entries, transfer)? {
                Some(receiving) => receiving.on_file_end(index, sha256, &mut self.outputs),
                None => Ok(()),
            },
            ControlFrame::Block {
                transfer,
                index,
                block,
                sha256,
            } => match live_receiving(&mut self.entries, transfer)? {
                Some(receiving) => receiving.on_block(index, block, &sha256, &mut self.outputs),
                None => Ok(()),
            },
            ControlFrame::Resume { transfer, files } => self.on_resume(transfer, files),
            ControlFrame::Refetch {
                transfer,
                index,
                block,
            } => self.on_answer(transfer, |sending, outputs| {
                sending.on_refetch(index, block, outputs)
            }),
            ControlFrame::Cancel { transfer, reason } => {
                self.on_peer_ending(transfer, Ending::CancelledByPeer(reason))
            }
            ControlFrame::Fail { transfer, reason } => {
                self.on_peer_ending(transfer, Ending::FailedByPeer(reason))
            }
        }
    }

    /// A message arrived on the data channel. Returns where to write its bytes, or
    /// `None` for chunks of a transfer that was cancelled or failed (they were in flight,
    /// which is normal) and for chunks that fail the transfer.
    ///
    /// Carry out the write before the outputs this call queued: they may finalize the
    /// very file it writes to.
    pub fn on_chunk<'a>(&mut self, message: &'a [u8]) -> Result<Option<Write<'a>>, TransferError> {
        self.received(message.len().saturating_sub(CHUNK_HEADER_LEN));
        let chunk = DataChunk::decode(message)?;
        match live_receiving(&mut self.entries, chunk.transfer)? {
            Some(receiving) => receiving.on_chunk(chunk.payload, &mut self.outputs),
            None => Ok(None),
        }
    }

    /// [`Self::on_chunk`] for a driver that hashes blocks itself ([`BlockHashing::Driver`])
    /// and keeps each message where it arrived: the web app, whose bytes stay in the
    /// browser's buffer instead of being copied into wasm memory and out again. Hand in
    /// the message's header and its payload's length; the payload goes where the
    /// returned [`Placement`] says.
    pub fn on_chunk_held(
        &mut self,
        header: [u8; CHUNK_HEADER_LEN],
        payload_len: usize,
    ) -> Result<Option<Placement>, TransferError> {
        self.received(payload_len);
        match live_receiving(&mut self.entries, DataChunk::transfer_in(header))? {
            Some(receiving) => receiving.on_payload(Payload::Held(payload_len), &mut self.outputs),
            None => Ok(None),
        }
    }

    /// The next read the driver should make for the outgoing transfers, or `None` if
    /// none needs one now. Ask again after each [`Self::on_read`] and whenever the data
    /// channel has room; each transfer has at most one read outstanding, and the oldest
    /// transfer is served first.
    pub fn next_read(&mut self) -> Option<ReadRequest> {
        if !self.credit.may_send() {
            return None;
        }
        let chunk_len = self.chunk_len.get();
        self.entries.values_mut().find_map(|entry| match entry {
            Entry::Sending(sending) => sending.next_read(chunk_len),
            Entry::Receiving(_) => None,
        })
    }

    /// The bytes of the outstanding read of transfer `id`. Returns the chunk to send on
    /// the data channel, or `None` if the transfer ended while the read was in flight,
    /// the read failed it, or the bytes were only to hash (a block the receiver kept
    /// from before this end restarted; see [`crate::partial`]). Encode it with [`DataChunk::encode_into`].
    pub fn on_read<'a>(
        &mut self,
        id: TransferId,
        bytes: &'a [u8],
    ) -> Result<Option<DataChunk<'a>>, TransferError> {
        let chunk = match live_sending(&mut self.entries, id)? {
            Some(sending) => sending.on_read(bytes, &mut self.outputs)?,
            None => None,
        };
        if let Some(chunk) = &chunk {
            self.credit.on_sent(chunk.payload.len());
        }
        Ok(chunk)
    }

    /// [`Self::on_read`] for a driver that hashes blocks itself ([`BlockHashing::Driver`])
    /// and keeps the bytes it read (the web app, in the browser's memory): hand in how
    /// many there are. Returns the header to send them behind, as one data-channel
    /// message, or `None` as [`Self::on_read`] does.
    pub fn on_read_held(
        &mut self,
        id: TransferId,
        len: usize,
    ) -> Result<Option<[u8; CHUNK_HEADER_LEN]>, TransferError> {
        let send = match live_sending(&mut self.entries, id)? {
            Some(sending) => sending.on_payload(Payload::Held(len), &mut self.outputs)?,
            None => false,
        };
        if send {
            self.credit.on_sent(len);
        }
        Ok(send.then(|| DataChunk::header(id)))
    }

    /// Counts `len` chunk bytes handed in, whatever becomes of them, and grants the
    /// peer more when it is time.
    fn received(&mut self, len: usize) {
        if let Some(grant) = self.credit.on_received(len) {
            self.outputs.push_back(Output::Control(grant));
        }
    }

    /// The driver hashed block `block` (of [`crate::DIGEST_BLOCK_LEN`] bytes from the
    /// file's start) of file `index` of `transfer`: bytes it read to send, or bytes it
    /// was told to write. Blocks may come in any order, each once. Digests for a
    /// transfer that was cancelled or failed meanwhile are dropped.
    pub fn on_block_digest(
        &mut self,
        transfer: TransferId,
        index: u32,
        block: u64,
        digest: BlockDigest,
    ) -> Result<(), TransferError> {
        let entry = entry(&mut self.entries, transfer)?;
        if entry.transfer().state().is_aborted() {
            return Ok(());
        }
        let outputs = &mut self.outputs;
        match entry {
            Entry::Sending(sending) => sending.on_block_digest(index, block, digest, outputs),
            Entry::Receiving(receiving) => receiving.on_block_digest(index, block, digest, outputs),
        }
    }

    /// Records an offer, or refuses it with a `Fail` to the peer, whose transfer would
    /// otherwise wait for an answer forever. The same offer again is the sender's
    /// repeat on a new link, and changes nothing.
    fn on_offer(
        &mut self,
        id: TransferId,
        files: Vec<FileMeta>,
        swarm: Option<SwarmId>,
    ) -> Result<(), TransferError> {
        if let Some(Entry::Receiving(known)) = self.entries.get(&id) {
            if known.transfer.files() == files {
                return Ok(());
            }
        }
        let offered = if self.parity.owns(id) {
            Err(TransferError::WrongParity(id))
        } else if self.entries.contains_key(&id) {
            Err(TransferError::DuplicateTransfer(id))
        } else if let Some(at) = self.restored.iter().position(|(_, p)| p.files == files) {
            let (key, partial) = self.restored.remove(at);
            self.outputs
                .push_back(Output::Resumed { transfer: id, key });
            // `restore` checked the partial.
            Receiving::restored(id, &partial, self.hashing, &mut self.outputs)
                .map_err(|error| TransferError::BadPartial(error.0))
        } else {
            Receiving::offered(id, files, swarm, self.hashing, &mut self.outputs)
        };
        match offered {
            Ok(receiving) => {
                self.entries.insert(id, Entry::Receiving(receiving));
                Ok(())
            }
            Err(error) => {
                let reason = format!("offer refused: {error}");
                let fail = ControlFrame::Fail {
                    transfer: id,
                    reason,
                };
                self.outputs.push_back(Output::Control(fail));
                Err(error)
            }
        }
    }

    /// The receiver lacks `files` of transfer `id`. A resume of a transfer this end
    /// does not have (it restarted, say) is answered with a `fail`, so the receiver
    /// does not wait forever.
    fn on_resume(&mut self, id: TransferId, files: Vec<ResumeFile>) -> Result<(), TransferError> {
        match self.entries.get_mut(&id) {
            Some(Entry::Sending(sending)) => sending.on_resume(files, &mut self.outputs),
            _ => {
                let reason =
                    format!("cannot resume transfer {id}: the sender has no such transfer");
                self.outputs.push_back(Output::Control(ControlFrame::Fail {
                    transfer: id,
                    reason,
                }));
                Err(TransferError::UnknownTransfer(id))
            }
        }
    }

    /// Hands the receiver's answer about outgoing transfer `id` to `handle`.
    fn on_answer(
        &mut self,
        id: TransferId,
        handle: impl FnOnce(&mut Sending, &mut VecDeque<Output>) -> Result<(), TransferError>,
    ) -> Result<(), TransferError> {
        match live_sending(&mut self.entries, id)? {
            Some(sending) => handle(sending, &mut self.outputs),
            None => Ok(()),
        }
    }

    /// The peer cancelled or failed transfer `id`. Such a frame for a transfer that
    /// already ended crossed this end's own ending on the wire, and changes nothing.
    fn on_peer_ending(&mut self, id: TransferId, ending: Ending) -> Result<(), TransferError> {
        let entry = entry(&mut self.entries, id)?;
        if !entry.transfer().state().is_final() {
            entry.end(ending, &mut self.outputs);
        }
        Ok(())
    }
}

fn entry(
    entries: &mut SortedMap<TransferId, Entry>,
    id: TransferId,
) -> Result<&mut Entry, TransferError> {
    entries
        .get_mut(&id)
        .ok_or(TransferError::UnknownTransfer(id))
}

fn receiving(
    entries: &mut SortedMap<TransferId, Entry>,
    id: TransferId,
) -> Result<&mut Receiving, TransferError> {
    match entries.get_mut(&id) {
        Some(Entry::Receiving(receiving)) => Ok(receiving),
        _ => Err(TransferError::UnknownTransfer(id)),
    }
}

/// The incoming transfer `id`, or `None` if it was cancelled or failed: the peer sent
/// whatever still arrives before it heard, so it is dropped.
fn live_receiving(
    entries: &mut SortedMap<TransferId, Entry>,
    id: TransferId,
) -> Result<Option<&mut Receiving>, TransferError> {
    let receiving = receiving(entries, id)?;
    Ok((!receiving.transfer.state().is_aborted()).then_some(receiving))
}

/// The outgoing transfer `id`, or `None` if it was cancelled or failed; see
/// [`live_receiving`].
fn live_sending(
    entries: &mut SortedMap<TransferId, Entry>,
    id: TransferId,
) -> Result<Option<&mut Sending>, TransferError> {
    match entries.get_mut(&id) {
        Some(Entry::Sending(sending)) => {
            Ok((!sending.transfer.state().is_aborted()).then_some(sending))
        }
        _ => Err(TransferError::UnknownTransfer(id)),
    }
}
