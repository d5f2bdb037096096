//! Reads a file to send in large slices and serves the engine's chunk-sized requests
//! from them.
//!
//! Every `Blob.arrayBuffer()` is an asynchronous round trip to the browser's file
//! machinery; paying it once per megabyte instead of once per 64 KiB chunk keeps the
//! sender ahead of the data channel.

use js_sys::Uint8Array;
use meshdrop_transfer::ReadRequest;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

/// How much of a file one read fetches.
const SLICE_BYTES: u64 = 1 << 20;

/// The bytes of one file from `start` on, as far as the last read reached.
#[derive(Default)]
pub struct ReadAhead {
    index: u32,
    start: u64,
    bytes: Vec<u8>,
}

impl ReadAhead {
    /// Read a slice of `file` that begins with what `request` asks for.
    pub async fn fill(file: &web_sys::File, request: &ReadRequest) -> Result<Self, JsValue> {
        let size = file.size() as u64;
        let end = size.min(request.offset + SLICE_BYTES.max(request.len as u64));
        let slice = file.slice_with_f64_and_f64(request.offset as f64, end as f64)?;
        let buffer = JsFuture::from(slice.array_buffer()).await?;
        Ok(Self {
            index: request.index,
            start: request.offset,
            bytes: Uint8Array::new(&buffer).to_vec(),
        })
    }

    /// The requested bytes, if this slice holds all of them.
    pub fn take(&self, request: &ReadRequest) -> Option<Vec<u8>> {
        if request.index != self.index || request.offset < self.start {
            return None;
        }
        let from = usize::try_from(request.offset - self.start).ok()?;
        let to = from.checked_add(request.len)?;
        self.bytes.get(from..to).map(<[u8]>::to_vec)
    }
}
