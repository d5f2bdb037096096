//! What the engine asks its driver to do.
//!
//! The engine performs no I/O, so every effect it wants is handed out as a value: frames
//! to send, file bytes to read or write, files to keep or delete, states to show. Most
//! queue up as [`Output`]s; the two that carry bulk bytes ([`Write`], and the
//! [`DataChunk`](meshdrop_protocol::frame::DataChunk) from
//! [`crate::Transfers::on_read`]) are returned directly and borrow the caller's buffer
//! instead of copying it.

use meshdrop_protocol::frame::{ControlFrame, SwarmId, TransferId};

use crate::{BlockDigest, TransferState};

/// An effect for the driver, taken with [`crate::Transfers::poll_output`] in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Send this frame on the control channel.
    Control(ControlFrame),
    /// File `index` of incoming `transfer` is complete and matched its SHA-256: close it
    /// and give it to the user. A file that never got a [`Write`] is empty; create it.
    FileVerified { transfer: TransferId, index: u32 },
    /// Block `block` of file `index` of incoming `transfer` matched the sender's
    /// `digest`: a driver that keeps partial transfers ([`crate::partial`]) may record it
    /// at once, after the block's bytes, instead of snapshotting the whole map.
    BlockVerified {
        transfer: TransferId,
        index: u32,
        block: u64,
        digest: BlockDigest,
    },
    /// File `index` of incoming `transfer` will never be complete: delete what was
    /// written of it. Files already verified are not discarded.
    FileDiscarded { transfer: TransferId, index: u32 },
    /// The peer offered incoming `transfer`, and it continues the partial transfer
    /// restored under `key` ([`crate::Transfers::restore`]): write to the files of that
    /// partial, which keep the bytes already held, and ask the user nothing. Comes
    /// before the transfer's first [`Output::State`], which is not
    /// [`TransferState::Offered`] but [`TransferState::Transferring`] (or
    /// [`TransferState::Done`], if only the `complete` was missing).
    Resumed { transfer: TransferId, key: String },
    /// The receiver of outgoing `transfer` accepted it as a member of `swarm`: the
    /// driver adds it to that swarm, which brings it the files; this transfer streams
    /// nothing and is done when the receiver says `complete`.
    JoinedSwarm {
        transfer: TransferId,
        swarm: SwarmId,
    },
    /// `transfer` entered `state`. The first one for each transfer is
    /// [`TransferState::Offered`] (unless [`Output::Resumed`] came first);
    /// [`crate::Transfers::get`] tells its files and direction.
    State {
        transfer: TransferId,
        state: TransferState,
    },
}

/// Write `bytes` at `offset` of file `index` of incoming `transfer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Write<'a> {
    pub transfer: TransferId,
    pub index: u32,
    pub offset: u64,
    pub bytes: &'a [u8],
}

impl Write<'_> {
    /// Where the bytes go, without them.
    pub fn placement(&self) -> Placement {
        Placement {
            transfer: self.transfer,
            index: self.index,
            offset: self.offset,
            len: self.bytes.len(),
        }
    }
}

/// Write the `len` bytes of a chunk's payload at `offset` of file `index` of incoming
/// `transfer`: a [`Write`] for a driver that kept the bytes out of the engine (see
/// [`crate::Transfers::on_chunk_held`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    pub transfer: TransferId,
    pub index: u32,
    pub offset: u64,
    pub len: usize,
}

/// Read `len` bytes at `offset` of file `index` of outgoing `transfer`, then hand them to
/// [`crate::Transfers::on_read`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadRequest {
    pub transfer: TransferId,
    pub index: u32,
    pub offset: u64,
    pub len: usize,
}
