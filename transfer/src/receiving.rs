//! The receiver's half of a transfer: answer the offer, place and hash arriving bytes,
//! and compare each file with the digest the sender announced.
//!
//! Chunks arrive on the data channel and `FileEnd`s on the control channel, and the two
//! are not ordered with each other: a digest may arrive long before the file's last
//! byte, or after it. So each file keeps both digests, and is judged as soon as it has
//! both, whichever came last. Its own digest is known once its last byte arrived and
//! its last block was hashed.

use std::collections::VecDeque;

use meshdrop_protocol::frame::{ControlFrame, FileMeta, TransferId};

use crate::cursor::PastEnd;
use crate::digest::{BlockDigest, BlockHashing};
use crate::transfer::{Ending, Transfer};
use crate::{Direction, Output, TransferError, TransferState, Write};

const RECEIVING: [TransferState; 2] = [TransferState::Transferring, TransferState::Verifying];

#[derive(Debug)]
pub(crate) struct Receiving {
    pub transfer: Transfer,
    /// One per file, in order.
    digests: Vec<FileDigests>,
    /// How many files, from the first, have their `received` digest.
    received: u32,
    verified: usize,
}

/// The two SHA-256s of a file, in lowercase hex, each known once it has arrived.
#[derive(Debug, Clone, Default)]
struct FileDigests {
    /// From the sender's `FileEnd`.
    announced: Option<String>,
    /// Computed here over the bytes that arrived.
    received: Option<String>,
}

impl FileDigests {
    fn is_verified(&self) -> bool {
        self.received.is_some() && self.received == self.announced
    }
}

impl Receiving {
    /// The peer offers `files`; the user has to answer.
    pub fn offered(
        id: TransferId,
        files: Vec<FileMeta>,
        hashing: BlockHashing,
        outputs: &mut VecDeque<Output>,
    ) -> Result<Self, TransferError> {
        let digests = vec![FileDigests::default(); files.len()];
        Ok(Self {
            transfer: Transfer::offered(id, Direction::Incoming, files, hashing, outputs)?,
            digests,
            received: 0,
            verified: 0,
        })
    }

    pub fn accept(&mut self, outputs: &mut VecDeque<Output>) -> Result<(), TransferError> {
        self.transfer
            .expect(&[TransferState::Offered], "accepting")?;
        let transfer = self.transfer.id();
        outputs.push_back(Output::Control(ControlFrame::Accept { transfer }));
        self.transfer.enter(TransferState::Transferring, outputs);
        self.transfer.cursor.finish_complete_files();
        self.received(outputs);
        Ok(())
    }

    pub fn decline(&mut self, outputs: &mut VecDeque<Output>) -> Result<(), TransferError> {
        self.transfer
            .expect(&[TransferState::Offered], "declining")?;
        let transfer = self.transfer.id();
        outputs.push_back(Output::Control(ControlFrame::Decline { transfer }));
        self.transfer.enter(TransferState::Declined, outputs);
        Ok(())
    }

    /// Places the payload of a chunk. A chunk holds bytes of one file only, so bytes
    /// past the end of the current file fail the transfer: the sender and this end no
    /// longer agree on which byte is which.
    pub fn on_chunk<'a>(
        &mut self,
        payload: &'a [u8],
        outputs: &mut VecDeque<Output>,
    ) -> Result<Option<Write<'a>>, TransferError> {
        self.transfer.expect(&RECEIVING, "a data chunk")?;
        let position = self.transfer.cursor.position();
        match self.transfer.advance(payload) {
            Err(PastEnd) => {
                let reason = match position {
                    Some(position) => format!(
                        "a data chunk ran past the end of file {} ({}); a chunk holds bytes of one file only",
                        position.index,
                        self.transfer.files()[position.index as usize].name
                    ),
                    None => "received more bytes than the offer announced".to_owned(),
                };
                self.end(Ending::FailedByMe(reason), outputs);
                Ok(None)
            }
            Ok(()) => {
                self.received(outputs);
                // No position means every file was complete and the payload empty.
                Ok(position.map(|position| Write {
                    transfer: self.transfer.id(),
                    index: position.index,
                    offset: position.offset,
                    bytes: payload,
                }))
            }
        }
    }

    pub fn on_file_end(
        &mut self,
        index: u32,
        sha256: String,
        outputs: &mut VecDeque<Output>,
    ) -> Result<(), TransferError> {
        self.transfer.expect(&RECEIVING, "a FileEnd")?;
        let transfer = self.transfer.id();
        let digests = self
            .digests
            .get_mut(index as usize)
            .ok_or(TransferError::NoSuchFile { transfer, index })?;
        if digests.announced.is_some() {
            return Err(TransferError::DuplicateFileEnd { transfer, index });
        }
        digests.announced = Some(sha256);
        self.judge(index, outputs);
        Ok(())
    }

    /// Ends the transfer and discards every file that has bytes on disk but was not
    /// verified.
    pub fn end(&mut self, ending: Ending, outputs: &mut VecDeque<Output>) {
        let transfer = self.transfer.id();
        for (index, digests) in (0..).zip(&self.digests) {
            if self.transfer.cursor.has_bytes(index) && !digests.is_verified() {
                outputs.push_back(Output::FileDiscarded { transfer, index });
            }
        }
        self.transfer.end(ending, outputs);
    }

    /// The driver hashed block `block` of file `index`.
    pub fn on_block_digest(
        &mut self,
        index: u32,
        block: u64,
        digest: BlockDigest,
        outputs: &mut VecDeque<Output>,
    ) -> Result<(), TransferError> {
        self.transfer.add_block_digest(index, block, digest)?;
        self.received(outputs);
        Ok(())
    }

    /// Records the digest of each file, in order, once all of it arrived and was hashed,
    /// and judges it.
    fn received(&mut self, outputs: &mut VecDeque<Output>) {
        while let Some(sha256) = self.transfer.file_digest(self.received) {
            let index = self.received;
            self.digests[index as usize].received = Some(sha256);
            self.received += 1;
            self.judge(index, outputs);
        }
        let all_bytes_in = self.transfer.cursor.position().is_none();
        if all_bytes_in && self.transfer.state() == &TransferState::Transferring {
            self.transfer.enter(TransferState::Verifying, outputs);
        }
    }

    /// Verifies or fails file `index` once both of its digests are known; completes the
    /// transfer when it was the last file to verify.
    fn judge(&mut self, index: u32, outputs: &mut VecDeque<Output>) {
        if self.transfer.state().is_final() {
            return;
        }
        let Some(FileDigests {
            announced: Some(announced),
            received: Some(received),
        }) = self.digests.get(index as usize)
        else {
            return;
        };
        let transfer = self.transfer.id();
        if announced != received {
            let name = self.transfer.files()[index as usize].name.clone();
            let reason = format!("file {index} ({name}) does not match its SHA-256");
            self.end(Ending::FailedByMe(reason), outputs);
            return;
        }
        outputs.push_back(Output::FileVerified { transfer, index });
        self.verified += 1;
        if self.verified == self.digests.len() {
            outputs.push_back(Output::Control(ControlFrame::Complete { transfer }));
            self.transfer.enter(TransferState::Done, outputs);
        }
    }
}
