//! The record both ends keep of one transfer, and the public view of it.
//!
//! Sending and receiving differ in what they do with bytes but share everything a user
//! sees: the files, the state, the progress. Keeping that in one [`Transfer`] means a
//! state change is reported the same way on both sides, and the UI reads both kinds
//! through the same accessors.

use std::collections::VecDeque;

use meshdrop_protocol::frame::{ControlFrame, FileMeta, TransferId};

use crate::cursor::FileCursor;
use crate::{Direction, Output, Progress, TransferError, TransferState};

#[derive(Debug, Clone)]
pub struct Transfer {
    id: TransferId,
    direction: Direction,
    files: Vec<FileMeta>,
    state: TransferState,
    /// Bytes read so far when sending, received so far when receiving.
    pub(crate) cursor: FileCursor,
}

/// How a transfer is cut short.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ending {
    CancelledByMe(String),
    CancelledByPeer(String),
    /// This end found a fault; the peer is told with a `Fail` carrying the reason.
    FailedByMe(String),
    /// The peer found a fault and told this end with a `Fail`.
    FailedByPeer(String),
    /// The connection is gone, and the peer with it: nobody to tell.
    Disconnected(String),
}

impl Transfer {
    pub fn id(&self) -> TransferId {
        self.id
    }

    pub fn direction(&self) -> Direction {
        self.direction
    }

    pub fn files(&self) -> &[FileMeta] {
        &self.files
    }

    pub fn state(&self) -> &TransferState {
        &self.state
    }

    pub fn progress(&self) -> Progress {
        Progress {
            bytes_done: self.cursor.bytes_done(),
            bytes_total: self.cursor.bytes_total(),
        }
    }

    /// A transfer in state [`TransferState::Offered`], announced to the driver.
    pub(crate) fn offered(
        id: TransferId,
        direction: Direction,
        files: Vec<FileMeta>,
        outputs: &mut VecDeque<Output>,
    ) -> Result<Self, TransferError> {
        if files.is_empty() {
            return Err(TransferError::EmptyOffer);
        }
        // File indices travel as u32 in FileEnd frames.
        u32::try_from(files.len()).map_err(|_| TransferError::TooManyFiles)?;
        let transfer = Self {
            id,
            direction,
            cursor: FileCursor::new(&files),
            files,
            state: TransferState::Offered,
        };
        transfer.report_state(outputs);
        Ok(transfer)
    }

    pub(crate) fn enter(&mut self, state: TransferState, outputs: &mut VecDeque<Output>) {
        self.state = state;
        self.report_state(outputs);
    }

    fn report_state(&self, outputs: &mut VecDeque<Output>) {
        outputs.push_back(Output::State {
            transfer: self.id,
            state: self.state.clone(),
        });
    }

    /// Refuses `what` unless the transfer is in one of `states`.
    pub(crate) fn expect(
        &self,
        states: &[TransferState],
        what: &'static str,
    ) -> Result<(), TransferError> {
        if states.contains(&self.state) {
            Ok(())
        } else {
            Err(self.unexpected(what))
        }
    }

    pub(crate) fn unexpected(&self, what: &'static str) -> TransferError {
        TransferError::Unexpected {
            transfer: self.id,
            what,
            state: self.state.clone(),
        }
    }

    /// Ends the transfer, telling the peer if this end ended it.
    pub(crate) fn end(&mut self, ending: Ending, outputs: &mut VecDeque<Output>) {
        let state = match ending {
            Ending::CancelledByMe(reason) => {
                outputs.push_back(Output::Control(ControlFrame::Cancel {
                    transfer: self.id,
                    reason: reason.clone(),
                }));
                TransferState::Cancelled {
                    by_me: true,
                    reason,
                }
            }
            Ending::CancelledByPeer(reason) => TransferState::Cancelled {
                by_me: false,
                reason,
            },
            Ending::FailedByMe(reason) => {
                outputs.push_back(Output::Control(ControlFrame::Fail {
                    transfer: self.id,
                    reason: reason.clone(),
                }));
                TransferState::Failed { reason }
            }
            Ending::FailedByPeer(reason) | Ending::Disconnected(reason) => {
                TransferState::Failed { reason }
            }
        };
        self.enter(state, outputs);
    }
}
