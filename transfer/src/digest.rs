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
//! the same construction with 4 MiB blocks. An empty file has no blocks, so its digest
//! is the SHA-256 of nothing.
//!
//! Who hashes the blocks is the driver's choice ([`BlockHashing`]): the engine itself
//! as bytes pass through it, or the driver, which hands each block's digest to
//! [`crate::Transfers::on_block_digest`] in any order.

use std::collections::BTreeMap;

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

/// Why a block digest from the driver was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BadBlock {
    /// The file has no such block.
    OutOfRange,
    /// That block's digest is already in.
    Duplicate,
}

/// One file's digest, folded from its block digests.
#[derive(Debug, Clone)]
pub(crate) struct FileDigest {
    size: u64,
    /// The next block to fold in; blocks are folded in order.
    next: u64,
    /// Digests that arrived ahead of `next`.
    early: BTreeMap<u64, BlockDigest>,
    outer: Sha256,
    /// With [`BlockHashing::Engine`]: the running SHA-256 of the block being read, and
    /// how many of its bytes it has seen.
    block: Sha256,
    block_bytes: u64,
}

impl FileDigest {
    pub fn new(size: u64) -> Self {
        Self {
            size,
            next: 0,
            early: BTreeMap::new(),
            outer: Sha256::new(),
            block: Sha256::new(),
            block_bytes: 0,
        }
    }

    fn blocks(&self) -> u64 {
        self.size.div_ceil(DIGEST_BLOCK_LEN)
    }

    /// Whether every block is in.
    pub fn is_complete(&self) -> bool {
        self.next == self.blocks()
    }

    /// The digest in lowercase hex, once every block is in.
    pub fn hex(&self) -> Option<String> {
        self.is_complete()
            .then(|| hex::encode(self.outer.clone().finalize()))
    }

    /// Record the digest of block `block`.
    pub fn add_block(&mut self, block: u64, digest: BlockDigest) -> Result<(), BadBlock> {
        if block >= self.blocks() {
            return Err(BadBlock::OutOfRange);
        }
        if block < self.next || self.early.contains_key(&block) {
            return Err(BadBlock::Duplicate);
        }
        self.early.insert(block, digest);
        while let Some(digest) = self.early.remove(&self.next) {
            self.outer.update(digest);
            self.next += 1;
        }
        Ok(())
    }

    /// Hash the file's next `bytes` into its blocks ([`BlockHashing::Engine`]). The
    /// caller has checked that they fit in the file.
    pub fn hash_bytes(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let block_start = self.next * DIGEST_BLOCK_LEN;
            let block_len = DIGEST_BLOCK_LEN.min(self.size - block_start);
            let take = bytes.len().min((block_len - self.block_bytes) as usize);
            self.block.update(&bytes[..take]);
            self.block_bytes += take as u64;
            bytes = &bytes[take..];
            if self.block_bytes == block_len {
                let digest = self.block.finalize_reset().into();
                self.block_bytes = 0;
                // In range and next in line: cannot be refused.
                let _ = self.add_block(self.next, digest);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_digest(bytes: &[u8]) -> String {
        let mut digest = FileDigest::new(bytes.len() as u64);
        digest.hash_bytes(bytes);
        digest.hex().expect("every block was hashed")
    }

    const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn block_digest(bytes: &[u8]) -> BlockDigest {
        Sha256::digest(bytes).into()
    }

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
        assert_eq!(file_digest(b""), EMPTY_SHA256);
        assert!(FileDigest::new(0).is_complete());
    }

    #[test]
    fn a_small_file_is_the_sha256_of_its_sha256() {
        assert_eq!(
            file_digest(b"abc"),
            hex::encode(Sha256::digest(Sha256::digest(b"abc")))
        );
    }

    #[test]
    fn bytes_in_any_pieces_give_the_digest_by_definition() {
        let bytes = sample();
        let mut digest = FileDigest::new(bytes.len() as u64);
        for piece in bytes.chunks(300_001) {
            assert!(!digest.is_complete());
            digest.hash_bytes(piece);
        }
        assert_eq!(digest.hex(), Some(by_definition(&bytes)));
    }

    #[test]
    fn block_digests_in_any_order_give_the_same_digest() {
        let bytes = sample();
        let blocks: Vec<&[u8]> = bytes.chunks(DIGEST_BLOCK_LEN as usize).collect();
        let mut digest = FileDigest::new(bytes.len() as u64);
        for block in [2, 0] {
            digest
                .add_block(block, block_digest(blocks[block as usize]))
                .unwrap();
        }
        assert_eq!(digest.hex(), None, "block 1 is missing");
        digest.add_block(1, block_digest(blocks[1])).unwrap();
        assert_eq!(digest.hex(), Some(by_definition(&bytes)));
    }

    #[test]
    fn a_block_twice_or_past_the_end_is_refused() {
        let mut digest = FileDigest::new(DIGEST_BLOCK_LEN + 1);
        assert_eq!(digest.add_block(2, [0; 32]), Err(BadBlock::OutOfRange));
        digest.add_block(1, [0; 32]).unwrap();
        assert_eq!(digest.add_block(1, [0; 32]), Err(BadBlock::Duplicate));
        digest.add_block(0, [0; 32]).unwrap();
        assert_eq!(digest.add_block(0, [0; 32]), Err(BadBlock::Duplicate));
        assert!(digest.is_complete());
    }
}
