//! Dropped folders, walked: every file under the entries of a drop, with its path in
//! the folder it came from, reading each folder's entries in the batches the browser
//! hands out (Chromium gives at most 100 per call).

use js_sys::{Array, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{File, FileSystemDirectoryEntry, FileSystemEntry, FileSystemFileEntry};

/// `[file, path]` pairs of the files under `entries`, in name order; `path` is the
/// entry's full path without its leading `/`, or null for a file dropped on its own.
#[wasm_bindgen(js_name = walkDropped)]
pub async fn walk_dropped(entries: Array) -> Array {
    let files = Array::new();
    for entry in entries.iter() {
        // An entry that cannot be read (removed meanwhile, no permission) is left
        // out, as a file input leaves out what it cannot read.
        let _ = walk(entry.unchecked_into(), &files).await;
    }
    files
}

/// Adds the files under `entry` (itself, if it is a file) to `files`, in name order.
async fn walk(entry: FileSystemEntry, files: &Array) -> Result<(), JsValue> {
    let mut pending = vec![entry];
    while let Some(entry) = pending.pop() {
        if entry.is_directory() {
            let mut children = read_directory(entry.unchecked_ref()).await?;
            // Popped from the end: in reverse name order, they are visited in name order.
            children.sort_by_key(|child| std::cmp::Reverse(child.name()));
            pending.extend(children);
        } else if entry.is_file() {
            let file = read_file(entry.unchecked_ref()).await?;
            let path = entry.full_path();
            let path = path.trim_start_matches('/');
            // A file dropped on its own is loose; one found in a folder has a path.
            let path = match path.contains('/') {
                true => JsValue::from(path),
                false => JsValue::NULL,
            };
            files.push(&Array::of2(&file, &path));
        }
    }
    Ok(())
}

/// Every entry of a folder: `readEntries` answers in batches until one is empty.
async fn read_directory(
    directory: &FileSystemDirectoryEntry,
) -> Result<Vec<FileSystemEntry>, JsValue> {
    let reader = directory.create_reader();
    let mut entries = Vec::new();
    loop {
        let batch = Promise::new(&mut |resolve, reject| {
            if let Err(error) = reader.read_entries_with_callback_and_callback(&resolve, &reject) {
                let _ = reject.call1(&JsValue::NULL, &error);
            }
        });
        let batch: Array = JsFuture::from(batch).await?.unchecked_into();
        if batch.length() == 0 {
            return Ok(entries);
        }
        entries.extend(batch.iter().map(JsValue::unchecked_into::<FileSystemEntry>));
    }
}

async fn read_file(entry: &FileSystemFileEntry) -> Result<File, JsValue> {
    let file = Promise::new(&mut |resolve, reject| {
        entry.file_with_callback_and_callback(&resolve, &reject);
    });
    Ok(JsFuture::from(file).await?.unchecked_into())
}
