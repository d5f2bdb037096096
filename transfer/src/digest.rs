//! A file's digest: the SHA-256 of the SHA-256s of its 1 MiB blocks, in order.
//!
//! Why blocks, not one running SHA-256 of the file: a browser has no streaming SHA-256.
//! A page either hashes every byte in wasm (about 200 MiB/s in V8 here) or hands whole
//! buffers to WebCrypto, which hashes them natively (about 460 MiB/s in Chromium here);
//! on a machine whose cores the data channel keeps busy, that difference is throughput.
//! With blocks, each block is hashed where it already sits (a slice read from the file,
//! a buffer gathered for the disk) by whatever is fastest there, and only the 32-byte
//! block digests pass through the engine, which folds them into the file's digest. It
//! is as strong as SHA-256 and still checked once per file; Dropbox's content hash is
//! the same construction with 4 MiB blocks. Since protocol version 3 the sender also
//! sends each block digest on its own (`block` frames), so the receiver checks every
//! block as it completes: a transfer cut short resumes from the blocks it verified, and
//! a block that arrived damaged is fetched again alone. An empty file has no blocks, so its digest
//! is the SHA-256 of nothing.
//!
//! Who hashes the blocks is the driver's choice ([`BlockHashing`]): the engine itself
//! as bytes pass through it, or the driver, which hands each block's digest to
//! [`crate::Transfers::on_block_digest`] in any order.

use std::ops::Range;

use sha2::{Digest, Sha256};

/// Bytes per block; a file's last block may be shorter.
pub const DIGEST_BLOCK_LEN: u64 = 1 << 20;

/// The SHA-256 of one block.
pub type BlockDigest = [u8; 32];

/// Who computes the SHA-256 of each block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BlockHashing {
    /// The engine, over the bytes passed to `on_read` and `on_chunk`.
    #[default]
    Engine,
    /// The driver, which reports each block with `on_block_digest`.
    Driver,
}

/// How many blocks a file of `size` bytes has; an empty file has none.
pub fn block_count(size: u64) -> u64 {
    size.div_ceil(DIGEST_BLOCK_LEN)
}

/// The bytes of block `block` of a file of `size` bytes.
pub fn block_span(size: u64, block: u64) -> Range<u64> {
    let start = block * DIGEST_BLOCK_LEN;
    start..size.min(start + DIGEST_BLOCK_LEN)
}

/// The length of block `block` of a file of `size` bytes.
pub(crate) fn block_len(size: u64, block: u64) -> u64 {
    let span = block_span(size, block);
    span.end - span.start
}

/// The blocks whose last byte is among the `len` bytes at `offset` of a file of `size`.
pub(crate) fn blocks_completed(size: u64, offset: u64, len: u64) -> Range<u64> {
    let end = offset + len;
    let complete = if end == size {
        block_count(size)
    } else {
        end / DIGEST_BLOCK_LEN
    };
    (offset / DIGEST_BLOCK_LEN).min(complete)..complete
}

/// A file's digest in lowercase hex, from all of its block digests in order.
pub fn file_digest<'a>(blocks: impl IntoIterator<Item = &'a BlockDigest>) -> String {
    let mut outer = Sha256::new();
    for block in blocks {
        outer.update(block);
    }
    hex::encode(outer.finalize())
}

/// A block digest as `block` frames carry it: 64 hex digits.
pub fn parse_block_digest(hex_digest: &str) -> Option<BlockDigest> {
    let mut digest = [0; 32];
    hex::decode_to_slice(hex_digest, &mut digest).ok()?;
    Some(digest)
}

/// Hashes runs of bytes that start at a block's start ([`BlockHashing::Engine`]), and
/// gives each block's digest when its last byte has passed. Bytes that do not continue
/// the previous ones start a new run.
#[derive(Debug, Clone, Default)]
pub(crate) struct BlockHasher {
    /// File and offset the next bytes must have to continue the run.
    next: Option<(u32, u64)>,
    block: Sha256,
}

impl BlockHasher {
    /// Hashes `bytes` at `offset` of file `index`, of `size` bytes; returns the blocks
    /// they complete with their digests.
    pub fn hash(
        &mut self,
        index: u32,
        size: u64,
        mut offset: u64,
        mut bytes: &[u8],
    ) -> Vec<(u64, BlockDigest)> {
        if self.next != Some((index, offset)) {
            self.block = Sha256::new();
        }
        let mut complete = Vec::new();
        while !bytes.is_empty() {
            let block = offset / DIGEST_BLOCK_LEN;
            let take = bytes
                .len()
                .min((block_span(size, block).end - offset) as usize);
            self.block.update(&bytes[..take]);
            offset += take as u64;
            bytes = &bytes[take..];
            if offset == block_span(size, block).end {
                complete.push((block, self.block.finalize_reset().into()));
            }
        }
        self.next = Some((index, offset));
        complete
    }

    /// Forgets the run: the next bytes start a new block.
    pub fn reset(&mut self) {
        self.next = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    /// Three blocks, the last a short one.
    fn sample() -> Vec<u8> {
        (0..2 * DIGEST_BLOCK_LEN + 5)
            .map(|i| (i % 251) as u8)
            .collect()
    }

    fn by_definition(bytes: &[u8]) -> String {
        let mut outer = Sha256::new();
        for block in bytes.chunks(DIGEST_BLOCK_LEN as usize) {
            outer.update(Sha256::digest(block));
        }
        hex::encode(outer.finalize())
    }

    #[test]
    fn an_empty_file_has_the_sha256_of_nothing() {
        assert_eq!(file_digest(&[]), EMPTY_SHA256);
        assert_eq!(block_count(0), 0);
    }

    #[test]
    fn bytes_in_any_pieces_give_the_digest_by_definition() {
        let bytes = sample();
        let size = bytes.len() as u64;
        let mut hasher = BlockHasher::default();
        let mut blocks = Vec::new();
        for (n, piece) in bytes.chunks(300_001).enumerate() {
            let offset = n as u64 * 300_001;
            blocks.extend(hasher.hash(0, size, offset, piece));
        }
        let numbers: Vec<u64> = blocks.iter().map(|(block, _)| *block).collect();
        assert_eq!(numbers, [0, 1, 2]);
        let digests = blocks.iter().map(|(_, digest)| digest);
        assert_eq!(file_digest(digests), by_definition(&bytes));
    }

    #[test]
    fn a_run_restarted_at_a_block_start_hashes_that_block_afresh() {
        let bytes = sample();
        let size = bytes.len() as u64;
        let mut hasher = BlockHasher::default();
        assert!(hasher.hash(0, size, 0, &bytes[..10]).is_empty());
        let one = DIGEST_BLOCK_LEN as usize;
        let again = hasher.hash(0, size, DIGEST_BLOCK_LEN, &bytes[one..2 * one]);
        let expected: BlockDigest = Sha256::digest(&bytes[one..2 * one]).into();
        assert_eq!(again, [(1, expected)]);
    }

    #[test]
    fn completed_blocks_are_those_whose_last_byte_passed() {
        let size = 2 * DIGEST_BLOCK_LEN + 5;
        assert_eq!(blocks_completed(size, 0, 10), 0..0);
        assert_eq!(blocks_completed(size, 10, DIGEST_BLOCK_LEN - 10), 0..1);
        assert_eq!(blocks_completed(size, 0, 2 * DIGEST_BLOCK_LEN), 0..2);
        assert_eq!(blocks_completed(size, 2 * DIGEST_BLOCK_LEN, 5), 2..3);
        assert_eq!(blocks_completed(3, 0, 3), 0..1);
        assert_eq!(block_span(size, 2), 2 * DIGEST_BLOCK_LEN..size);
    }

    #[test]
    fn block_digests_parse_from_hex_only() {
        let digest: BlockDigest = Sha256::digest(b"abc").into();
        assert_eq!(parse_block_digest(&hex::encode(digest)), Some(digest));
        assert_eq!(parse_block_digest("00"), None);
        assert_eq!(parse_block_digest(&"zz".repeat(32)), None);
    }
}
