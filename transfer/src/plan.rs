//! The bytes one end still expects to send or receive on the current link, in order.
//!
//! Data chunks carry no offsets: both ends walk the same list of spans, the sender as it
//! reads, the receiver as chunks arrive, so the n-th byte on the data channel is the
//! n-th byte of the plan. At the start the plan is every file whole, in order. After a
//! `resume` it is the blocks the receiver lacks, and a `refetch` appends one block at
//! the end, so both ends always extend or replace the plan at the same point of the
//! stream.

use std::collections::VecDeque;

use meshdrop_protocol::frame::FileMeta;

use crate::digest::block_span;

/// Bytes `start..end` of file `index`; never empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub index: u32,
    pub start: u64,
    pub end: u64,
}

/// More bytes than the current span holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PastEnd;

#[derive(Debug, Clone, Default)]
pub(crate) struct Plan {
    spans: VecDeque<Span>,
    remaining: u64,
}

impl Plan {
    /// Every byte of `files`, in order. Callers have checked that their indices fit a
    /// `u32`, as the wire's do.
    pub fn whole(files: &[FileMeta]) -> Self {
        let mut plan = Self::default();
        for (index, file) in (0..).zip(files) {
            plan.push(index, 0, file.size);
        }
        plan
    }

    /// Appends blocks `first..end` of file `index` of `size` bytes; the caller has
    /// checked that they exist.
    pub fn push_blocks(&mut self, index: u32, size: u64, first: u64, end: u64) {
        if first < end {
            let start = block_span(size, first).start;
            let end = block_span(size, end - 1).end;
            self.push(index, start, end);
        }
    }

    fn push(&mut self, index: u32, start: u64, end: u64) {
        if start == end {
            return;
        }
        self.remaining += end - start;
        match self.spans.back_mut() {
            Some(last) if last.index == index && last.end == start => last.end = end,
            _ => self.spans.push_back(Span { index, start, end }),
        }
    }

    /// Where the next bytes go, or `None` once the plan is done.
    pub fn front(&self) -> Option<Span> {
        self.spans.front().copied()
    }

    /// Passes `len` bytes at the front. Bytes that would run past the end of the front
    /// span are refused whole: a chunk never spans two spans, so never two files.
    pub fn advance(&mut self, len: usize) -> Result<(), PastEnd> {
        let room = self.front().map_or(0, |span| span.end - span.start);
        if len as u64 > room {
            return Err(PastEnd);
        }
        if let Some(front) = self.spans.front_mut() {
            front.start += len as u64;
            self.remaining -= len as u64;
            if front.start == front.end {
                self.spans.pop_front();
            }
        }
        Ok(())
    }

    /// Bytes still planned.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    pub fn is_done(&self) -> bool {
        self.spans.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DIGEST_BLOCK_LEN;

    fn files(sizes: &[u64]) -> Vec<FileMeta> {
        sizes
            .iter()
            .map(|&size| FileMeta {
                name: format!("{size}.bin"),
                size,
                mime: String::new(),
                path: None,
            })
            .collect()
    }

    #[test]
    fn a_whole_plan_skips_empty_files_and_refuses_bytes_spanning_two() {
        let mut plan = Plan::whole(&files(&[0, 3, 0, 2]));
        assert_eq!(plan.remaining(), 5);
        let first = Span {
            index: 1,
            start: 0,
            end: 3,
        };
        assert_eq!(plan.front(), Some(first));
        assert_eq!(plan.advance(4), Err(PastEnd));
        plan.advance(2).unwrap();
        plan.advance(1).unwrap();
        assert_eq!(plan.front().map(|span| span.index), Some(3));
        plan.advance(2).unwrap();
        assert!(plan.is_done());
        assert_eq!(plan.advance(1), Err(PastEnd));
        assert_eq!(plan.advance(0), Ok(()));
    }

    #[test]
    fn adjacent_blocks_make_one_span_and_the_last_block_may_be_short() {
        let size = 3 * DIGEST_BLOCK_LEN + 7;
        let mut plan = Plan::default();
        plan.push_blocks(0, size, 0, 1);
        plan.push_blocks(0, size, 1, 2);
        plan.push_blocks(0, size, 3, 4);
        plan.push_blocks(0, size, 2, 2);
        let spans: Vec<Span> = plan.spans.iter().copied().collect();
        assert_eq!(
            spans,
            [
                Span {
                    index: 0,
                    start: 0,
                    end: 2 * DIGEST_BLOCK_LEN
                },
                Span {
                    index: 0,
                    start: 3 * DIGEST_BLOCK_LEN,
                    end: size
                }
            ]
        );
        assert_eq!(plan.remaining(), 2 * DIGEST_BLOCK_LEN + 7);
    }
}
