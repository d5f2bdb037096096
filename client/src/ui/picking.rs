//! The files a person hands the app to send, folders included: picked in a file input
//! (plain or `webkitdirectory`), or dropped. Each file keeps its path in the folder it
//! came from, so the receiver can rebuild the folder.
//!
//! A folder input gives every file its `webkitRelativePath` (`photos/2024/a.jpg`). A
//! drop gives entries instead: a dropped folder is walked, reading its entries in the
//! batches the browser hands out (Chromium gives at most 100 per call), and each file
//! takes the entry's full path without its leading `/`.

use js_sys::{Array, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    DataTransfer, File, FileList, FileSystemDirectoryEntry, FileSystemEntry, FileSystemFileEntry,
    HtmlInputElement,
};

use crate::transfer::OutgoingFile;

/// The files picked in `input`, with their folder paths if it picks folders.
pub fn picked(input: &HtmlInputElement) -> Vec<OutgoingFile> {
    input.files().map(files_of).unwrap_or_default()
}

/// The files of a drop, handed to `send` once known: at once for loose files, after
/// walking them for folders. Must be called from the drop event's handler, while the
/// dropped entries are readable.
pub fn dropped(transfer: &DataTransfer, send: impl FnOnce(Vec<OutgoingFile>) + 'static) {
    let entries = dropped_entries(transfer);
    if !entries.iter().any(FileSystemEntry::is_directory) {
        send(transfer.files().map(files_of).unwrap_or_default());
        return;
    }
    wasm_bindgen_futures::spawn_local(async move {
        let mut files = Vec::new();
        for entry in entries {
            // An entry that cannot be read (removed meanwhile, no permission) is left
            // out, as a file input leaves out what it cannot read.
            let _ = walk(entry, &mut files).await;
        }
        send(files);
    });
}

/// The files of a file input's or a clipboard's list, each with its folder path if any.
pub fn files_of(list: FileList) -> Vec<OutgoingFile> {
    (0..list.length())
        .filter_map(|index| list.get(index))
        .map(|file| {
            let path = relative_path_of(&file);
            OutgoingFile { file, path }
        })
        .collect()
}

/// A file's `webkitRelativePath`, set by folder inputs; `None` when empty.
fn relative_path_of(file: &File) -> Option<String> {
    Reflect::get(file, &"webkitRelativePath".into())
        .ok()
        .and_then(|path| path.as_string())
        .filter(|path| !path.is_empty())
}

fn dropped_entries(transfer: &DataTransfer) -> Vec<FileSystemEntry> {
    let items = transfer.items();
    (0..items.length())
        .filter_map(|index| items.get(index))
        .filter(|item| item.kind() == "file")
        .filter_map(|item| item.webkit_get_as_entry().ok().flatten())
        .collect()
}

/// Add the files under `entry` (itself, if it is a file) to `files`, in name order.
async fn walk(entry: FileSystemEntry, files: &mut Vec<OutgoingFile>) -> Result<(), JsValue> {
    let mut pending = vec![entry];
    while let Some(entry) = pending.pop() {
        if entry.is_directory() {
            // Popped from the end: in reverse name order, they are visited in name order.
            // Put in place one by one: a sort would bring the app a sorting routine.
            let mut children: Vec<FileSystemEntry> = Vec::new();
            for child in read_directory(entry.unchecked_ref()).await? {
                let name = child.name();
                let at = children.partition_point(|known| known.name() > name);
                children.insert(at, child);
            }
            pending.extend(children);
        } else if entry.is_file() {
            let file = read_file(entry.unchecked_ref()).await?;
            let path = entry.full_path();
            let path = path.trim_start_matches('/');
            // A file dropped on its own is loose; one found in a folder has a path.
            let path = path.contains('/').then(|| path.to_owned());
            files.push(OutgoingFile { file, path });
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
