//! The sender's half of a transfer: offer, then read, hash and chunk each file in order.
//!
//! The sender never decides when to send: the driver asks for the next read when the
//! data channel has room ([`Sending::next_read`]), reads the bytes however its platform
//! does, and hands them back ([`Sending::on_read`]). One read is outstanding at a time,
//! so the bytes pass in file order. A file's `FileEnd` goes out once all its bytes are
//! read and all its blocks hashed, whichever comes last.

use std::collections::VecDeque;

use meshdrop_protocol::frame::{ControlFrame, DataChunk, FileMeta, TransferId};

use crate::digest::{BlockDigest, BlockHashing};
use crate::transfer::{Ending, Transfer};
use crate::{Direction, Output, ReadRequest, TransferError, TransferState};

#[derive(Debug)]
pub(crate) struct Sending {
    pub transfer: Transfer,
    /// Length of the read handed out by `next_read` and not yet answered by `on_read`.
    pending_read: Option<usize>,
    /// How many files, from the first, had their `FileEnd` sent.
    announced: u32,
}

impl Sending {
    /// Offers `files` to the peer.
    pub fn offer(
        id: TransferId,
        files: Vec<FileMeta>,
        hashing: BlockHashing,
        outputs: &mut VecDeque<Output>,
    ) -> Result<Self, TransferError> {
        let offer = ControlFrame::Offer {
            transfer: id,
            files: files.clone(),
        };
        let transfer = Transfer::offered(id, Direction::Outgoing, files, hashing, outputs)?;
        outputs.push_back(Output::Control(offer));
        Ok(Self {
            transfer,
            pending_read: None,
            announced: 0,
        })
    }

    pub fn on_accept(&mut self, outputs: &mut VecDeque<Output>) -> Result<(), TransferError> {
        self.transfer
            .expect(&[TransferState::Offered], "an Accept")?;
        self.transfer.enter(TransferState::Transferring, outputs);
        self.transfer.cursor.finish_complete_files();
        self.announce(outputs);
        Ok(())
    }

    pub fn on_decline(&mut self, outputs: &mut VecDeque<Output>) -> Result<(), TransferError> {
        self.transfer
            .expect(&[TransferState::Offered], "a Decline")?;
        self.transfer.enter(TransferState::Declined, outputs);
        Ok(())
    }

    pub fn on_complete(&mut self, outputs: &mut VecDeque<Output>) -> Result<(), TransferError> {
        self.transfer
            .expect(&[TransferState::Verifying], "a Complete")?;
        self.transfer.enter(TransferState::Done, outputs);
        Ok(())
    }

    /// The next bytes to read, at most `chunk_len` of them, unless a read is already
    /// outstanding or there is nothing (more) to send.
    pub fn next_read(&mut self, chunk_len: usize) -> Option<ReadRequest> {
        if self.pending_read.is_some() || self.transfer.state() != &TransferState::Transferring {
            return None;
        }
        let position = self.transfer.cursor.position()?;
        let len = usize::try_from(position.remaining)
            .map_or(chunk_len, |remaining| remaining.min(chunk_len));
        self.pending_read = Some(len);
        Some(ReadRequest {
            transfer: self.transfer.id(),
            index: position.index,
            offset: position.offset,
            len,
        })
    }

    /// Takes the bytes of the outstanding read and makes them a chunk to send. A read of
    /// the wrong length means the file changed under us: its digest could never match,
    /// so the transfer fails.
    pub fn on_read<'a>(
        &mut self,
        bytes: &'a [u8],
        outputs: &mut VecDeque<Output>,
    ) -> Result<Option<DataChunk<'a>>, TransferError> {
        let len = self
            .pending_read
            .take()
            .ok_or_else(|| self.transfer.unexpected("a read nobody asked for"))?;
        let advanced = bytes.len() == len && self.transfer.advance(bytes).is_ok();
        if !advanced {
            let reason = format!(
                "reading a file gave {} bytes instead of {len}; did it change on disk?",
                bytes.len()
            );
            self.transfer.end(Ending::FailedByMe(reason), outputs);
            return Ok(None);
        }
        self.announce(outputs);
        Ok(Some(DataChunk {
            transfer: self.transfer.id(),
            payload: bytes,
        }))
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
        self.announce(outputs);
        Ok(())
    }

    /// Tells the receiver the digest of each file, in order, as soon as it is read and
    /// hashed; once every byte is out, waits for the verdict.
    fn announce(&mut self, outputs: &mut VecDeque<Output>) {
        while let Some(sha256) = self.transfer.file_digest(self.announced) {
            outputs.push_back(Output::Control(ControlFrame::FileEnd {
                transfer: self.transfer.id(),
                index: self.announced,
                sha256,
            }));
            self.announced += 1;
        }
        let all_read = self.transfer.cursor.position().is_none();
        if all_read && self.transfer.state() == &TransferState::Transferring {
            self.transfer.enter(TransferState::Verifying, outputs);
        }
    }
}
