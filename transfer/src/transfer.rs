//! The record both ends keep of one transfer, and the public view of it.
//!
//! Sending and receiving differ in what they do with bytes but share everything a user
//! sees: the files, the state, the progress. Keeping that in one [`Transfer`] means a
//! state change is reported the same way on both sides, and the UI reads both kinds
//! through the same accessors.

use std::collections::VecDeque;

use meshdrop_protocol::frame::{ControlFrame, FileMeta, TransferId};

use crate::cursor::{FileCursor, PastEnd};
use crate::digest::{BadBlock, BlockDigest, BlockHashing, FileDigest};
use crate::{safe_paths, Direction, Output, Progress, SafePath, TransferError, TransferState};

#[derive(Debug, Clone)]
pub struct Transfer {
    id: TransferId,
    direction: Direction,
    files: Vec<FileMeta>,
    /// Where each file goes under the folder it is saved in, sanitised.
    paths: Vec<SafePath>,
    state: TransferState,
    /// Bytes read so far when sending, received so far when receiving.
    pub(crate) cursor: FileCursor,
    /// One per file: of the bytes read when sending, of those received when receiving.
    digests: Vec<FileDigest>,
    hashing: BlockHashing,
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
        hashing: BlockHashing,
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
            digests: files
                .iter()
                .map(|file| FileDigest::new(file.size))
                .collect(),
            hashing,
            paths: safe_paths(&files),
            files,
            state: TransferState::Offered,
        };
        transfer.report_state(outputs);
        Ok(transfer)
    }

    /// Pass the next `bytes` of the stream through the cursor, and through the current
    /// file's digest if the engine hashes blocks.
    pub(crate) fn advance(&mut self, bytes: &[u8]) -> Result<(), PastEnd> {
        let position = self.cursor.position();
        self.cursor.advance(bytes.len())?;
        if let (BlockHashing::Engine, Some(position)) = (self.hashing, position) {
            self.digests[position.index as usize].hash_bytes(bytes);
        }
        Ok(())
    }

    /// The driver hashed block `block` of file `index`. Blocks are read or received
    /// only while the transfer is transferring or verifying.
    pub(crate) fn add_block_digest(
        &mut self,
        index: u32,
        block: u64,
        digest: BlockDigest,
    ) -> Result<(), TransferError> {
        self.expect(
            &[TransferState::Transferring, TransferState::Verifying],
            "a block digest",
        )?;
        let transfer = self.id;
        if self.hashing != BlockHashing::Driver {
            return Err(TransferError::EngineHashes);
        }
        let file = self
            .digests
            .get_mut(index as usize)
            .ok_or(TransferError::NoSuchFile { transfer, index })?;
        file.add_block(block, digest).map_err(|bad| match bad {
            BadBlock::OutOfRange => TransferError::NoSuchBlock {
                transfer,
                index,
                block,
            },
            BadBlock::Duplicate => TransferError::DuplicateBlock {
                transfer,
                index,
                block,
            },
        })
    }

    /// The digest of file `index` in lowercase hex, once all its bytes passed and all
    /// its blocks are hashed.
    pub(crate) fn file_digest(&self, index: u32) -> Option<String> {
        if !self.cursor.is_finished(index) {
            return None;
        }
        self.digests.get(index as usize)?.hex()
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
