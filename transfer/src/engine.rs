//! [`Transfers`]: every file transfer on one peer connection, in both directions.
//!
//! This is the engine's only entry point. It routes each input (a user's answer, a
//! control frame, a data chunk, bytes the driver read) to the transfer it names, and
//! queues the effects as [`Output`]s. It also enforces the rules that span transfers:
//! who may pick which id, and that frames about a cancelled or failed transfer are
//! dropped.

use std::collections::{BTreeMap, VecDeque};
use std::num::NonZeroUsize;

use meshdrop_protocol::frame::{ControlFrame, DataChunk, FileMeta, TransferId, CHUNK_HEADER_LEN};

use crate::digest::{BlockDigest, BlockHashing};
use crate::receiving::Receiving;
use crate::sending::Sending;
use crate::transfer::{Ending, Transfer};
use crate::{IdParity, Output, ReadRequest, TransferError, Write};

/// Payload bytes per chunk unless [`Transfers::set_chunk_len`] says otherwise: a whole
/// chunk, header included, is then 64 KiB.
pub const DEFAULT_CHUNK_LEN: NonZeroUsize =
    NonZeroUsize::new(64 * 1024 - CHUNK_HEADER_LEN).unwrap();

/// The transfers of one peer connection. See the crate documentation for how a driver
/// uses it.
#[derive(Debug)]
pub struct Transfers {
    parity: IdParity,
    next_id: TransferId,
    chunk_len: NonZeroUsize,
    hashing: BlockHashing,
    entries: BTreeMap<TransferId, Entry>,
    outputs: VecDeque<Output>,
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

    fn end(&mut self, ending: Ending, outputs: &mut VecDeque<Output>) {
        match self {
            Self::Sending(sending) => sending.transfer.end(ending, outputs),
            Self::Receiving(receiving) => receiving.end(ending, outputs),
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
            entries: BTreeMap::new(),
            outputs: VecDeque::new(),
        }
    }

    /// Payload bytes per chunk from the next read on. The receiver does not care, so
    /// the driver may tune this while transfers run.
    pub fn set_chunk_len(&mut self, chunk_len: NonZeroUsize) {
        self.chunk_len = chunk_len;
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

    /// Offers `files` to the peer and returns the new transfer's id.
    pub fn offer(&mut self, files: Vec<FileMeta>) -> Result<TransferId, TransferError> {
        let id = self.next_id;
        let sending = Sending::offer(id, files, self.hashing, &mut self.outputs)?;
        self.entries.insert(id, Entry::Sending(sending));
        // Wrapping takes 2^31 offers on one connection; ids stay of this end's parity.
        self.next_id = id.wrapping_add(2);
        Ok(id)
    }

    /// The user takes the files the peer offered.
    pub fn accept(&mut self, id: TransferId) -> Result<(), TransferError> {
        receiving(&mut self.entries, id)?.accept(&mut self.outputs)
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

    /// The peer connection closed: every transfer still running fails, as nothing more
    /// can cross. A new connection to the same peer gets a new `Transfers`.
    pub fn on_disconnect(&mut self, reason: impl Into<String>) {
        let reason = reason.into();
        for entry in self.entries.values_mut() {
            if !entry.transfer().state().is_final() {
                entry.end(Ending::Disconnected(reason.clone()), &mut self.outputs);
            }
        }
    }

    /// A frame arrived on the control channel.
    pub fn on_control(&mut self, frame: ControlFrame) -> Result<(), TransferError> {
        match frame {
            ControlFrame::Chat { .. } | ControlFrame::Hello { .. } => {
                Err(TransferError::NotATransferFrame)
            }
            ControlFrame::Offer { transfer, files } => self.on_offer(transfer, files),
            ControlFrame::Accept { transfer } => self.on_answer(transfer, Sending::on_accept),
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
        let chunk = DataChunk::decode(message)?;
        match live_receiving(&mut self.entries, chunk.transfer)? {
            Some(receiving) => receiving.on_chunk(chunk.payload, &mut self.outputs),
            None => Ok(None),
        }
    }

    /// The next read the driver should make for the outgoing transfers, or `None` if
    /// none needs one now. Ask again after each [`Self::on_read`] and whenever the data
    /// channel has room; each transfer has at most one read outstanding, and the oldest
    /// transfer is served first.
    pub fn next_read(&mut self) -> Option<ReadRequest> {
        let chunk_len = self.chunk_len.get();
        self.entries.values_mut().find_map(|entry| match entry {
            Entry::Sending(sending) => sending.next_read(chunk_len),
            Entry::Receiving(_) => None,
        })
    }

    /// The bytes of the outstanding read of transfer `id`. Returns the chunk to send on
    /// the data channel, or `None` if the transfer ended while the read was in flight or
    /// the read failed it. Encode it with [`DataChunk::encode_into`].
    pub fn on_read<'a>(
        &mut self,
        id: TransferId,
        bytes: &'a [u8],
    ) -> Result<Option<DataChunk<'a>>, TransferError> {
        match live_sending(&mut self.entries, id)? {
            Some(sending) => sending.on_read(bytes, &mut self.outputs),
            None => Ok(None),
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
    /// otherwise wait for an answer forever.
    fn on_offer(&mut self, id: TransferId, files: Vec<FileMeta>) -> Result<(), TransferError> {
        let offered = if self.parity.owns(id) {
            Err(TransferError::WrongParity(id))
        } else if self.entries.contains_key(&id) {
            Err(TransferError::DuplicateTransfer(id))
        } else {
            Receiving::offered(id, files, self.hashing, &mut self.outputs)
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
    entries: &mut BTreeMap<TransferId, Entry>,
    id: TransferId,
) -> Result<&mut Entry, TransferError> {
    entries
        .get_mut(&id)
        .ok_or(TransferError::UnknownTransfer(id))
}

fn receiving(
    entries: &mut BTreeMap<TransferId, Entry>,
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
    entries: &mut BTreeMap<TransferId, Entry>,
    id: TransferId,
) -> Result<Option<&mut Receiving>, TransferError> {
    let receiving = receiving(entries, id)?;
    Ok((!receiving.transfer.state().is_aborted()).then_some(receiving))
}

/// The outgoing transfer `id`, or `None` if it was cancelled or failed; see
/// [`live_receiving`].
fn live_sending(
    entries: &mut BTreeMap<TransferId, Entry>,
    id: TransferId,
) -> Result<Option<&mut Sending>, TransferError> {
    match entries.get_mut(&id) {
        Some(Entry::Sending(sending)) => {
            Ok((!sending.transfer.state().is_aborted()).then_some(sending))
        }
        _ => Err(TransferError::UnknownTransfer(id)),
    }
}
