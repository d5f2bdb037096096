//! The record both ends keep of one transfer, and the public view of it.
//!
//! Sending and receiving differ in what they do with bytes but share everything a user
//! sees: the files, the state, the progress. Keeping that in one [`Transfer`] means a
//! state change is reported the same way on both sides, and the UI reads both kinds
//! through the same accessors.

use std::collections::VecDeque;

use meshdrop_protocol::frame::{ControlFrame, FileMeta, SwarmId, TransferId};

use crate::{safe_paths, Direction, Output, Progress, SafePath, TransferError, TransferState};

#[derive(Debug, Clone)]
pub struct Transfer {
    id: TransferId,
    direction: Direction,
    files: Vec<FileMeta>,
    /// Where each file goes under the folder it is saved in, sanitised.
    paths: Vec<SafePath>,
    state: TransferState,
    pub(crate) bytes_done: u64,
    pub(crate) bytes_total: u64,
    /// This end's last frame about a transfer that ended (`complete`, `decline`,
    /// `cancel`, `fail`), until the next link comes up: it may have been lost with the
    /// link it went out on, so it is said once more on the new one.
    pub(crate) last_word: Option<LastWord>,
    /// The swarm the offer named, if any.
    pub(crate) swarm: Option<SwarmId>,
    /// Accepted as part of that swarm: the blocks travel by the swarm, not by this
    /// transfer, which only keeps its state and progress.
    pub(crate) in_swarm: bool,
}

/// What an end says last about a transfer: kept as this rather than as its frame, so
/// that a page never clones frames (which costs the web app's download).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LastWord {
    Complete,
    Decline,
    Cancel(String),
    Fail(String),
}

impl LastWord {
    pub(crate) fn frame(&self, transfer: TransferId) -> ControlFrame {
        match self {
            Self::Complete => ControlFrame::Complete { transfer },
            Self::Decline => ControlFrame::Decline { transfer },
            Self::Cancel(reason) => ControlFrame::Cancel {
                transfer,
                reason: reason.clone(),
            },
            Self::Fail(reason) => ControlFrame::Fail {
                transfer,
                reason: reason.clone(),
            },
        }
    }
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
    /// The peer is gone for good: nobody to tell.
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

    /// Each file's relative path (its `path`, or its `name` for a loose file), made safe
    /// to create under a folder the person picked and unique within the transfer; see
    /// [`crate::safe_path`]. A receiver saves files under these, never under their
    /// announced names.
    pub fn paths(&self) -> &[SafePath] {
        &self.paths
    }

    pub fn state(&self) -> &TransferState {
        &self.state
    }

    /// The swarm the offer named, if any.
    pub fn swarm(&self) -> Option<SwarmId> {
        self.swarm
    }

    /// Whether this transfer goes by its swarm ([`crate::Transfers::accept_in_swarm`]).
    pub fn in_swarm(&self) -> bool {
        self.in_swarm
    }

    pub fn progress(&self) -> Progress {
        Progress {
            bytes_done: self.bytes_done,
            bytes_total: self.bytes_total,
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
            bytes_done: 0,
            bytes_total: files
                .iter()
                .fold(0, |total, file| total.saturating_add(file.size)),
            paths: safe_paths(&files),
            files,
            state: TransferState::Offered,
            last_word: None,
            swarm: None,
            in_swarm: false,
        };
        transfer.report_state(outputs);
        Ok(transfer)
    }

    /// The name of file `index`, for reasons people read.
    pub(crate) fn file_name(&self, index: u32) -> &str {
        &self.files[index as usize].name
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
        let (state, word) = match ending {
            Ending::CancelledByMe(reason) => (
                TransferState::Cancelled {
                    by_me: true,
                    reason: reason.clone(),
                },
                Some(LastWord::Cancel(reason)),
            ),
            Ending::CancelledByPeer(reason) => (
                TransferState::Cancelled {
                    by_me: false,
                    reason,
                },
                None,
            ),
            Ending::FailedByMe(reason) => (
                TransferState::Failed {
                    reason: reason.clone(),
                },
                Some(LastWord::Fail(reason)),
            ),
            Ending::FailedByPeer(reason) | Ending::Disconnected(reason) => {
                (TransferState::Failed { reason }, None)
            }
        };
        if let Some(word) = word {
            self.say_last(word, outputs);
        }
        self.enter(state, outputs);
    }

    /// The link is down: a running transfer shows [`TransferState::Paused`], with the
    /// time it gives up at if the peer left the room. Returns whether it is running.
    pub(crate) fn pause(
        &mut self,
        gives_up_at_ms: Option<u64>,
        outputs: &mut VecDeque<Output>,
    ) -> bool {
        if !self.state.is_running() {
            return false;
        }
        let paused = TransferState::Paused { gives_up_at_ms };
        if self.state != paused {
            self.enter(paused, outputs);
        }
        true
    }

    /// Sends `frame`, this end's last about the transfer, and keeps it to repeat on
    /// the next link.
    pub(crate) fn say_last(&mut self, word: LastWord, outputs: &mut VecDeque<Output>) {
        outputs.push_back(Output::Control(word.frame(self.id)));
        self.last_word = Some(word);
    }
}
