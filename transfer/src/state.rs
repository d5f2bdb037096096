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
    /// Every file arrived and matched its SHA-256. Final.
    Done,
    /// Stopped by a person on either end. Final.
    Cancelled { by_me: bool, reason: String },
    /// One end found something wrong (a digest mismatch, bytes past the end of a file,
    /// a file that changed while being read) and told the other with a `Fail`, or the
    /// connection closed. Final.
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
    pub(crate) fn is_aborted(&self) -> bool {
        matches!(self, Self::Cancelled { .. } | Self::Failed { .. })
    }
}

/// How far a transfer has come, in bytes over all of its files.
///
/// For a sender `bytes_done` counts bytes handed to the data channel; for a receiver,
/// bytes that arrived.
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
