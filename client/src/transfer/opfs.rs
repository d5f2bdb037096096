//! Received files go to the Origin Private File System, chunk by chunk.
//!
//! A `FileSystemWritableFileStream` queues each write and lands it on disk; `getFile()`
//! then hands back a disk-backed `File` the user can save. Every incoming file is opened
//! before the transfer is accepted, so a chunk never waits for a file to exist.
//!
//! Chunks are gathered into 1 MiB writes. Each write is a round trip to the browser's
//! storage process, and at one per 64 KiB chunk the writes fell behind the network: the
//! stream's queue grew with the file, each queued chunk holding its whole data-channel
//! message (a 1 GiB file peaked at 800 MiB more renderer memory).

use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    FileSystemDirectoryHandle, FileSystemFileHandle, FileSystemGetDirectoryOptions,
    FileSystemGetFileOptions, FileSystemRemoveOptions, FileSystemWritableFileStream,
};

/// The folder, inside the origin's private file system, that holds incoming files.
const INCOMING_DIR: &str = "meshdrop-incoming";

/// How many received bytes are gathered before they are handed to the stream.
const WRITE_BYTES: usize = 1 << 20;

/// A file being received.
pub struct IncomingFile {
    directory: FileSystemDirectoryHandle,
    handle: FileSystemFileHandle,
    stream: FileSystemWritableFileStream,
    /// Name in the private folder; unique per page, so transfers never collide.
    stored_name: String,
    /// Received bytes not yet handed to the stream.
    pending: Vec<u8>,
}

impl IncomingFile {
    pub async fn create(stored_name: String) -> Result<Self, JsValue> {
        let directory = incoming_directory().await?;
        let options = FileSystemGetFileOptions::new();
        options.set_create(true);
        let handle: FileSystemFileHandle =
            JsFuture::from(directory.get_file_handle_with_options(&stored_name, &options))
                .await?
                .dyn_into()?;
        let stream: FileSystemWritableFileStream =
            JsFuture::from(handle.create_writable()).await?.dyn_into()?;
        Ok(Self {
            directory,
            handle,
            stream,
            stored_name,
            pending: Vec::with_capacity(WRITE_BYTES),
        })
    }

    /// Add `bytes` to the file; they are written once a write's worth has gathered.
    pub fn write(&mut self, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
        if self.pending.len() >= WRITE_BYTES {
            self.write_pending();
        }
    }

    /// Queue the gathered bytes on the stream. The stream keeps writes in order; a failed
    /// write also fails `close()`, which is where it is reported.
    fn write_pending(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        // A copy the stream owns: it reads the bytes later, after `pending` is reused.
        let bytes = Uint8Array::from(self.pending.as_slice());
        let _ = self.stream.write_with_js_u8_array(&bytes);
        self.pending.clear();
    }

    /// Write what is left, flush and close; returns the stored file, ready to save.
    pub async fn finish(mut self) -> Result<web_sys::File, JsValue> {
        self.write_pending();
        JsFuture::from(self.stream.close()).await?;
        JsFuture::from(self.handle.get_file()).await?.dyn_into()
    }

    /// Give up on the file and delete what was written.
    pub async fn discard(self) {
        let _ = JsFuture::from(self.stream.abort()).await;
        let _ = JsFuture::from(self.directory.remove_entry(&self.stored_name)).await;
    }
}

async fn incoming_directory() -> Result<FileSystemDirectoryHandle, JsValue> {
    let root: FileSystemDirectoryHandle = JsFuture::from(storage_manager()?.get_directory())
        .await?
        .dyn_into()?;
    let options = FileSystemGetDirectoryOptions::new();
    options.set_create(true);
    JsFuture::from(root.get_directory_handle_with_options(INCOMING_DIR, &options))
        .await?
        .dyn_into()
}

fn storage_manager() -> Result<web_sys::StorageManager, JsValue> {
    let window = web_sys::window().ok_or_else(|| JsValue::from_str("no window"))?;
    let navigator = window.navigator();
    if Reflect::get(&navigator, &"storage".into())?.is_undefined() {
        return Err(JsValue::from_str(
            "this page is not a secure context, so the browser offers no file storage; open it over https or on localhost",
        ));
    }
    Ok(navigator.storage())
}

/// Delete the files earlier visits left behind. Files another tab is still writing are
/// locked by the browser and survive.
pub async fn clear_leftovers() {
    let Ok(manager) = storage_manager() else {
        return;
    };
    let Ok(root) = JsFuture::from(manager.get_directory()).await else {
        return;
    };
    let root: FileSystemDirectoryHandle = root.unchecked_into();
    let options = FileSystemRemoveOptions::new();
    options.set_recursive(true);
    let _ = JsFuture::from(root.remove_entry_with_options(INCOMING_DIR, &options)).await;
}
