//! Reads a file to send ahead of the data channel, in large slices, and serves the
//! engine's chunk-sized requests from them.
//!
//! Every `Blob.arrayBuffer()` is an asynchronous round trip to the browser's file
//! machinery, and each `Blob.slice()` costs the page time of its own. Reads go a few
//! megabytes at a time, and two are in flight at once: with one read at a time, a busy
//! machine kept the sender waiting for its file while the data channel ran dry. Each
//! read starts at one of the engine's digest blocks and holds whole blocks, so they can
//! be hashed as soon as it arrives. Requests may jump to any block (a resume, a block
//! fetched again): the reads then start over from there.

use std::collections::VecDeque;

use js_sys::{ArrayBuffer, Promise, Uint8Array};
use meshdrop_transfer::{ReadRequest, DIGEST_BLOCK_LEN};
use wasm_bindgen::JsValue;

/// How much of a file one read fetches: whole digest blocks, from a block's start.
const SLICE_BYTES: u64 = 4 * DIGEST_BLOCK_LEN;
/// How many slices are read, or being read, at once.
const SLICES_AHEAD: usize = 2;

/// The slices of one file from the one being sent on.
pub struct ReadAhead {
    file: web_sys::File,
    index: u32,
    /// In file order, without gaps.
    slices: VecDeque<Slice>,
}

struct Slice {
    start: u64,
    end: u64,
    bytes: SliceBytes,
}

enum SliceBytes {
    Reading(Promise),
    Read(Uint8Array),
}

/// Where the bytes of a request are.
pub enum Ahead {
    /// Read: here they are, in the slices' buffers, in order (a request can span two
    /// slices). Fewer than asked for if the file ended early.
    Ready(Vec<Uint8Array>),
    /// The slice starting at `start` is still being read: settle it with what `read`
    /// resolves to, then ask again.
    Reading { start: u64, read: Promise },
}

impl ReadAhead {
    /// Reading ahead in `file`, file `index` of its transfer.
    pub fn new(file: web_sys::File, index: u32) -> Self {
        Self {
            file,
            index,
            slices: VecDeque::new(),
        }
    }

    /// The file index this reads.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// Where the bytes of `request` are; starts the reads ahead of them.
    pub fn get(&mut self, request: &ReadRequest) -> Result<Ahead, JsValue> {
        let end = request.offset + request.len as u64;
        while self
            .slices
            .front()
            .is_some_and(|slice| slice.end <= request.offset)
        {
            self.slices.pop_front();
        }
        if self
            .slices
            .front()
            .is_some_and(|slice| slice.start > request.offset)
        {
            // Only a request from before what was read; start over from it.
            self.slices.clear();
        }
        self.read_ahead(request.offset)?;

        let mut parts = Vec::new();
        let mut at = request.offset;
        for slice in &self.slices {
            if at >= end {
                break;
            }
            match &slice.bytes {
                SliceBytes::Reading(read) => {
                    return Ok(Ahead::Reading {
                        start: slice.start,
                        read: read.clone(),
                    })
                }
                SliceBytes::Read(read) => {
                    let to = end.min(slice.end);
                    parts.push(read.subarray((at - slice.start) as u32, (to - slice.start) as u32));
                    at = to;
                }
            }
        }
        Ok(Ahead::Ready(parts))
    }

    /// The read of the slice at `start` finished with `buffer`. Returns its blocks,
    /// numbered, to hash: a block read again (after a jump back) hashes again, and the
    /// engine checks it hashes the same.
    pub fn settle(&mut self, start: u64, buffer: &ArrayBuffer) -> Vec<(u64, Uint8Array)> {
        let Some(slice) = self.slices.iter_mut().find(|slice| slice.start == start) else {
            return Vec::new();
        };
        let bytes = Uint8Array::new(buffer);
        slice.bytes = SliceBytes::Read(bytes.clone());
        let len = bytes.length();
        (0..len)
            .step_by(DIGEST_BLOCK_LEN as usize)
            .map(|at| {
                let block = (start + u64::from(at)) / DIGEST_BLOCK_LEN;
                let end = len.min(at + DIGEST_BLOCK_LEN as u32);
                (block, bytes.subarray(at, end))
            })
            .collect()
    }

    /// Keep [`SLICES_AHEAD`] slices read or being read, the first holding `offset`.
    fn read_ahead(&mut self, offset: u64) -> Result<(), JsValue> {
        let size = self.file.size() as u64;
        while self.slices.len() < SLICES_AHEAD {
            let block_start = offset - offset % DIGEST_BLOCK_LEN;
            let start = self.slices.back().map_or(block_start, |slice| slice.end);
            if start >= size {
                break;
            }
            let end = size.min(start + SLICE_BYTES);
            let slice = self.file.slice_with_f64_and_f64(start as f64, end as f64)?;
            self.slices.push_back(Slice {
                start,
                end,
                bytes: SliceBytes::Reading(slice.array_buffer()),
            });
        }
        Ok(())
    }
}
