//! What a user interface shows about a transfer: its direction, state and progress.
//!
//! These are plain values, cloned out to the driver in [`crate::Output::State`] and read
//! through [`crate::Transfer`], so the UI never needs to know how the engine works inside.

/// Which way a transfer's bytes flow, seen from this end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// This end offered the files and sends them.
    Outgoing,
    /// The peer offered the files and this end receives them.
    Incoming,
}

/// Where a transfer stands. Both ends go through the same states; see the crate
/// documentation for which final state each end reaches in each case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferState {
    /// Offered and waiting for the receiver's answer.
    Offered,
    /// The receiver said no. Final.
    Declined,
    /// Accepted; bytes are flowing.
    Transferring,
    /// Every byte has crossed; waiting for the digests to be compared.
    Verifying,
    /// The link to the peer is down; the transfer goes on from the verified blocks when
    /// it is back. Shown as "Paused: reconnecting…". `gives_up_at_ms`: once the peer
    /// left the room, when the transfer fails unless the peer is back (milliseconds on
    /// the clock the driver passes to [`crate::Transfers::on_peer_left`]).
    Paused { gives_up_at_ms: Option<u64> },
    /// Every file arrived and matched its SHA-256. Final.
    Done,
    /// Stopped by a person on either end. Final.
    Cancelled { by_me: bool, reason: String },
    /// One end found something wrong (a digest mismatch, bytes past the end of a file,
    /// a file that changed while being read) and told the other with a `Fail`, or the
    /// peer is gone for good. Final.
    Failed { reason: String },
}

impl TransferState {
    /// Whether nothing more will happen to the transfer.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            Self::Declined | Self::Done | Self::Cancelled { .. } | Self::Failed { .. }
        )
    }

    /// Whether the transfer was cut short. Frames the peer sent before it heard about
    /// that are still on their way, so anything more about such a transfer is dropped.
    pub fn is_aborted(&self) -> bool {
        matches!(self, Self::Cancelled { .. } | Self::Failed { .. })
    }

    /// Whether bytes are (or, once the link is back, will be) flowing.
    pub fn is_running(&self) -> bool {
        matches!(
            self,
            Self::Transferring | Self::Verifying | Self::Paused { .. }
        )
    }
}

/// How far a transfer has come, in bytes over all of its files.
///
/// For a sender `bytes_done` counts the bytes the receiver holds or that are on their
/// way; for a receiver, the bytes of the blocks it holds whole plus those of the block
/// arriving. After a cut, the bytes of blocks that were partly across go back to
/// missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub bytes_done: u64,
    pub bytes_total: u64,
}

impl Progress {
    /// Share of the bytes done, from 0.0 to 1.0; a transfer of empty files counts as done.
    pub fn fraction(&self) -> f64 {
        if self.bytes_total == 0 {
            1.0
        } else {
            self.bytes_done as f64 / self.bytes_total as f64
        }
    }
}
