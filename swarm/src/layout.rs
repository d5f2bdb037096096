//! Where each block of a swarm lies: the blocks of all its files, numbered in order.
//!
//! A swarm's blocks are the transfer engine's digest blocks (1 MiB, the last of each
//! file shorter), file after file, so one number names a block across every file and
//! one bitmap covers them all. An empty file has no block.

use std::ops::Range;

use meshdrop_transfer::digest::{block_count, block_span};

/// The blocks of a swarm's files.
#[derive(Debug, Clone)]
pub struct Layout {
    sizes: Vec<u64>,
    /// The number of each file's first block; one more entry, the count of all blocks.
    first_blocks: Vec<u32>,
}

/// Where one block lies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockPlace {
    /// The file's index among the swarm's files.
    pub index: u32,
    /// The block's number within its file.
    pub block_in_file: u64,
    /// The block's bytes within its file.
    pub span: Range<u64>,
}

/// Files with more blocks than a `u32` numbers (4 PiB).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the files hold more blocks than a swarm numbers")]
pub struct TooManyBlocks;

impl Layout {
    pub fn new(sizes: Vec<u64>) -> Result<Self, TooManyBlocks> {
        let mut first_blocks = Vec::with_capacity(sizes.len() + 1);
        let mut next = 0u32;
        for size in &sizes {
            first_blocks.push(next);
            let count = u32::try_from(block_count(*size)).map_err(|_| TooManyBlocks)?;
            next = next.checked_add(count).ok_or(TooManyBlocks)?;
        }
        first_blocks.push(next);
        Ok(Self {
            sizes,
            first_blocks,
        })
    }

    /// Blocks in all files.
    pub fn blocks(&self) -> u32 {
        *self.first_blocks.last().expect("one entry past the files")
    }

    /// Bytes in all files.
    pub fn bytes(&self) -> u64 {
        self.sizes.iter().sum()
    }

    pub fn files(&self) -> u32 {
        self.sizes.len() as u32
    }

    /// The blocks of file `index`.
    pub fn blocks_of(&self, index: u32) -> Range<u32> {
        self.first_blocks[index as usize]..self.first_blocks[index as usize + 1]
    }

    /// Where block `block` (below [`Layout::blocks`]) lies.
    pub fn place(&self, block: u32) -> BlockPlace {
        // The last file whose first block is not past `block` and that has blocks.
        let index = self.first_blocks.partition_point(|first| *first <= block) - 1;
        let block_in_file = u64::from(block - self.first_blocks[index]);
        BlockPlace {
            index: index as u32,
            block_in_file,
            span: block_span(self.sizes[index], block_in_file),
        }
    }

    /// The length of block `block`.
    pub fn block_len(&self, block: u32) -> u64 {
        let span = self.place(block).span;
        span.end - span.start
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use meshdrop_transfer::DIGEST_BLOCK_LEN;

    #[test]
    fn blocks_are_numbered_across_files_and_empty_files_have_none() {
        let layout = Layout::new(vec![DIGEST_BLOCK_LEN + 3, 0, 5, 2 * DIGEST_BLOCK_LEN]).unwrap();
        assert_eq!(layout.blocks(), 5);
        assert_eq!(layout.bytes(), 3 * DIGEST_BLOCK_LEN + 8);
        assert_eq!(layout.blocks_of(1), 2..2);
        let places: Vec<(u32, u64, u64)> = (0..5)
            .map(|block| {
                let place = layout.place(block);
                (place.index, place.block_in_file, layout.block_len(block))
            })
            .collect();
        assert_eq!(
            places,
            [
                (0, 0, DIGEST_BLOCK_LEN),
                (0, 1, 3),
                (2, 0, 5),
                (3, 0, DIGEST_BLOCK_LEN),
                (3, 1, DIGEST_BLOCK_LEN),
            ]
        );
        assert_eq!(layout.place(4).span, DIGEST_BLOCK_LEN..2 * DIGEST_BLOCK_LEN);
    }
}
