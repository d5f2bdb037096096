//! The files a person hands the app to send, folders included: picked in a file input
//! (plain or `webkitdirectory`), or dropped. Each file keeps its path in the folder it
//! came from, so the receiver can rebuild the folder.
//!
//! A folder input gives every file its `webkitRelativePath` (`photos/2024/a.jpg`). A
//! drop gives entries instead: a dropped folder is walked by the module loaded on
//! demand ([`crate::on_demand`]), and each file takes the entry's full path without its
//! leading `/`.

use js_sys::{Array, Reflect};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{DataTransfer, File, FileList, FileSystemEntry, HtmlInputElement};

use crate::transfer::OutgoingFile;

/// The files picked in `input`, with their folder paths if it picks folders.
pub fn picked(input: &HtmlInputElement) -> Vec<OutgoingFile> {
    input.files().map(files_of).unwrap_or_default()
}

/// The files of a drop, handed to `send` once known: at once for loose files, after
/// walking them for folders. Must be called from the drop event's handler, while the
/// dropped entries are readable.
pub fn dropped(transfer: &DataTransfer, send: impl FnOnce(Vec<OutgoingFile>) + 'static) {
    // One copy of the walk for every caller, not one per caller's closure type.
    dropped_to(transfer, Box::new(send))
}

fn dropped_to(transfer: &DataTransfer, send: Box<dyn FnOnce(Vec<OutgoingFile>)>) {
    let entries = dropped_entries(transfer);
    if !entries.iter().any(FileSystemEntry::is_directory) {
        send(transfer.files().map(files_of).unwrap_or_default());
        return;
    }
    wasm_bindgen_futures::spawn_local(async move {
        let entries: Array = entries.into_iter().collect();
        let walked = match crate::on_demand::load().await {
            Ok(module) => JsFuture::from(module.walk_dropped(&entries)).await,
            Err(error) => Err(error),
        };
        // Pairs of a file and its path (`null` for a loose file); none if the module
        // could not load.
        let pairs: Array = walked.map(JsCast::unchecked_into).unwrap_or_default();
        let files = pairs.iter().map(|pair| {
            let pair: Array = pair.unchecked_into();
            let file = pair.get(0).unchecked_into();
            OutgoingFile {
                file,
                path: pair.get(1).as_string(),
            }
        });
        send(files.collect());
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
