//! Received files go to the private file system ([`meshdrop_opfs`]), block by block.
//!
//! Every incoming file is opened before the transfer is accepted, so a chunk never waits
//! for a file to exist. Chunks are gathered into the engine's digest blocks (1 MiB from
//! the file's start), so the writer gets few, large messages, and each block can be
//! hashed in one piece. Blocks come in any order (after a resume, or fetched again), each
//! written at its offset; a block cut short by a lost link is started again from its
//! first byte.

use meshdrop_opfs::PrivateFile;
use meshdrop_transfer::DIGEST_BLOCK_LEN;
use wasm_bindgen::JsValue;

/// A file being received.
pub struct IncomingFile {
    file: PrivateFile,
    size: u64,
    /// Where the block being gathered starts.
    block_start: u64,
    /// Received bytes of the block being gathered, not yet handed to the writer.
    pending: Vec<u8>,
}

impl IncomingFile {
    /// A file of `size` bytes to come, empty or holding what an earlier page wrote
    /// under the same name (bytes are written over, never cut off).
    pub async fn create(stored_name: String, size: u64) -> Result<Self, JsValue> {
        Ok(Self {
            file: PrivateFile::create(stored_name).await?,
            size,
            block_start: 0,
            pending: Vec::with_capacity(DIGEST_BLOCK_LEN as usize),
        })
    }

    /// Add `bytes` at `offset`, which the engine has checked fit in the file. Bytes
    /// that do not continue the block being gathered start a new one (the engine only
    /// starts runs at a block's start), and what was gathered is dropped: its block is
    /// sent again. Each block is handed to the writer once it is complete, and first to
    /// `on_block` with its number.
    pub fn write(&mut self, offset: u64, mut bytes: &[u8], mut on_block: impl FnMut(u64, &[u8])) {
        if offset != self.block_start + self.pending.len() as u64 {
            self.pending.clear();
            self.block_start = offset - offset % DIGEST_BLOCK_LEN;
        }
        while !bytes.is_empty() && self.block_start < self.size {
            let block_len = DIGEST_BLOCK_LEN.min(self.size - self.block_start) as usize;
            let take = bytes.len().min(block_len - self.pending.len());
            self.pending.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.pending.len() == block_len {
                on_block(self.block_start / DIGEST_BLOCK_LEN, &self.pending);
                self.file.write_at(self.block_start, &self.pending);
                self.block_start += block_len as u64;
                self.pending.clear();
            }
        }
    }

    /// Its name in the private folder.
    pub fn stored_name(&self) -> &str {
        self.file.stored_name()
    }

    /// Flush and close once every block is written; returns the stored file, ready to
    /// save.
    pub async fn finish(self) -> Result<web_sys::File, JsValue> {
        self.file.finish().await
    }

    /// Give up on the file and delete what was written.
    pub async fn discard(self) {
        self.file.discard().await
    }
}
