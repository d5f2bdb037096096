//! The browser's own SHA-256 (WebCrypto), for the blocks the transfer engine verifies
//! files by.
//!
//! WebCrypto hashes natively: in headless Chromium on this project's test machine about
//! 460 MiB/s, where SHA-256 compiled to wasm does about 200. It only hashes whole
//! buffers, which is what the engine's blocks are (see [`meshdrop_transfer::digest`]).
//! Pages on insecure origins have no WebCrypto; there the engine hashes the blocks
//! itself.

use js_sys::{Object, Uint8Array};
use meshdrop_transfer::BlockDigest;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use web_sys::SubtleCrypto;

#[derive(Clone)]
pub struct WebCrypto {
    subtle: SubtleCrypto,
}

/// A block of a file on its way through WebCrypto.
pub struct HashingBlock {
    pub block: u64,
    digest: JsFuture,
}

impl WebCrypto {
    /// The page's WebCrypto, if it has one.
    pub fn get() -> Option<Self> {
        let window = web_sys::window()?;
        if !window.is_secure_context() {
            return None;
        }
        let subtle = window.crypto().ok()?.subtle();
        Some(Self { subtle })
    }

    /// Starts hashing block `block`, held in `bytes` (an `ArrayBuffer` or a view of one).
    /// WebCrypto copies the bytes before this returns, so the caller may reuse or move
    /// the buffer at once.
    pub fn hash_buffer(&self, block: u64, bytes: &Object) -> Result<HashingBlock, JsValue> {
        let digest = self
            .subtle
            .digest_with_str_and_buffer_source("SHA-256", bytes)?;
        Ok(HashingBlock {
            block,
            digest: JsFuture::from(digest),
        })
    }
}

impl HashingBlock {
    /// The block's SHA-256, once WebCrypto has it.
    pub async fn digest(self) -> Result<BlockDigest, JsValue> {
        let digest = Uint8Array::new(&self.digest.await?);
        let mut bytes = BlockDigest::default();
        if digest.length() as usize != bytes.len() {
            return Err(JsValue::from_str(
                "WebCrypto gave a SHA-256 of the wrong size",
            ));
        }
        digest.copy_to(&mut bytes);
        Ok(bytes)
    }
}
