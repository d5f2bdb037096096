//! Received files go to the private file system ([`meshdrop_opfs`]), block by block.
//!
//! Every incoming file is opened before the transfer is accepted, so a chunk never waits
//! for a file to exist. Chunks are gathered into the engine's digest blocks (1 MiB from
//! the file's start), so the writer gets few, large messages, and each block can be
//! hashed in one piece. The bytes never enter wasm memory: each chunk is copied once,
//! from the data channel's message into its block's buffer, which WebCrypto hashes and
//! the writer then takes over whole. Blocks come in any order (after a resume, or fetched
//! again), each written at its offset; a block cut short by a lost link is started again
//! from its first byte.

use js_sys::Uint8Array;
use meshdrop_opfs::PrivateFile;
use meshdrop_transfer::DIGEST_BLOCK_LEN;
use wasm_bindgen::JsValue;

/// A file being received.
pub struct IncomingFile {
    file: PrivateFile,
    size: u64,
    /// Where the block being gathered starts.
    block_start: u64,
    /// The block being gathered, once its first bytes came.
    pending: Option<Uint8Array>,
    /// How much of `pending` holds received bytes.
    filled: u32,
}

impl IncomingFile {
    /// A file of `size` bytes to come, empty or holding what an earlier page wrote
    /// under the same name (bytes are written over, never cut off).
    pub async fn create(stored_name: String, size: u64) -> Result<Self, JsValue> {
        Ok(Self {
            file: PrivateFile::create(stored_name).await?,
            size,
            block_start: 0,
            pending: None,
            filled: 0,
        })
    }

    /// Add `bytes` at `offset`, which the engine has checked fit in the file. Bytes
    /// that do not continue the block being gathered start a new one (the engine only
    /// starts runs at a block's start), and what was gathered is dropped: its block is
    /// sent again. Each block is handed to the writer once it is complete, and first to
    /// `on_block` with its number.
    pub fn write(
        &mut self,
        offset: u64,
        mut bytes: Uint8Array,
        mut on_block: impl FnMut(u64, &Uint8Array),
    ) {
        if offset != self.block_start + u64::from(self.filled) {
            self.filled = 0;
            self.block_start = offset - offset % DIGEST_BLOCK_LEN;
        }
        while bytes.length() > 0 && self.block_start < self.size {
            let block_len = DIGEST_BLOCK_LEN.min(self.size - self.block_start) as u32;
            let pending = match self.pending.take() {
                Some(pending) if pending.length() == block_len => pending,
                _ => self.file.buffer(block_len),
            };
            let take = bytes.length().min(block_len - self.filled);
            pending.set(&bytes.subarray(0, take), self.filled);
            bytes = bytes.subarray(take, bytes.length());
            self.filled += take;
            if self.filled < block_len {
                self.pending = Some(pending);
                continue;
            }
            on_block(self.block_start / DIGEST_BLOCK_LEN, &pending);
            self.file
                .write_buffer_at(self.block_start, pending.buffer());
            self.block_start += u64::from(block_len);
            self.filled = 0;
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
