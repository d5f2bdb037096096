//! The sender's half of a transfer: offer, then read, hash and chunk each file in order.
//!
//! The sender never decides when to send: the driver asks for the next read when the
//! data channel has room ([`Sending::next_read`]), reads the bytes however its platform
//! does, and hands them back ([`Sending::on_read`]). One read is outstanding at a time,
//! so the bytes pass through the running digest in file order.

use std::collections::VecDeque;

use meshdrop_protocol::frame::{ControlFrame, DataChunk, FileMeta, TransferId};

use crate::cursor::FinishedFile;
use crate::transfer::{Ending, Transfer};
use crate::{Direction, Output, ReadRequest, TransferError, TransferState};

#[derive(Debug)]
pub(crate) struct Sending {
    pub transfer: Transfer,
    /// Length of the read handed out by `next_read` and not yet answered by `on_read`.
    pending_read: Option<usize>,
}

impl Sending {
    /// Offers `files` to the peer.
    pub fn offer(
        id: TransferId,
        files: Vec<FileMeta>,
        outputs: &mut VecDeque<Output>,
    ) -> Result<Self, TransferError> {
        let offer = ControlFrame::Offer {
            transfer: id,
            files: files.clone(),
        };
        let transfer = Transfer::offered(id, Direction::Outgoing, files, outputs)?;
        outputs.push_back(Output::Control(offer));
        Ok(Self {
            transfer,
            pending_read: None,
        })
    }

    pub fn on_accept(&mut self, outputs: &mut VecDeque<Output>) -> Result<(), TransferError> {
        self.transfer
            .expect(&[TransferState::Offered], "an Accept")?;
        self.transfer.enter(TransferState::Transferring, outputs);
        let empty_files = self.transfer.cursor.finish_complete_files();
        self.announce(empty_files, outputs);
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
        let finished = if bytes.len() == len {
            self.transfer.cursor.advance(bytes).ok()
        } else {
            None
        };
        let Some(finished) = finished else {
            let reason = format!(
                "reading a file gave {} bytes instead of {len}; did it change on disk?",
                bytes.len()
            );
            self.transfer.end(Ending::FailedByMe(reason), outputs);
            return Ok(None);
        };
        self.announce(finished, outputs);
        Ok(Some(DataChunk {
            transfer: self.transfer.id(),
            payload: bytes,
        }))
    }

    /// Tells the receiver the digest of each finished file; once every file is out,
    /// waits for its verdict.
    fn announce(&mut self, finished: Vec<FinishedFile>, outputs: &mut VecDeque<Output>) {
        for file in finished {
            outputs.push_back(Output::Control(ControlFrame::FileEnd {
                transfer: self.transfer.id(),
                index: file.index,
                sha256: file.sha256,
            }));
        }
        if self.transfer.cursor.position().is_none() {
            self.transfer.enter(TransferState::Verifying, outputs);
        }
    }
}
