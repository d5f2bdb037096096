//! "Save all": the received files of a transfer, saved together with their folders.
//!
//! The page asks the person where (its folder picker needs the click that started it)
//! and hands the files here: streamed from the private file system into the folder
//! picked ([`folder`]), subfolders created, or, where the browser has no folder picker
//! (Firefox, Safari), into one zip built in the private file system ([`zip`]), which
//! the page downloads. Nothing is ever held whole in memory.

mod folder;
mod zip;
mod zip_layout;

use js_sys::{Array, Object, Reflect};
use meshdrop_protocol::frame::FileMeta;
use meshdrop_transfer::safe_path::{safe_paths, SafePath};
use wasm_bindgen::prelude::*;
use web_sys::FileSystemDirectoryHandle;

/// A received file and where it goes.
struct SavedFile {
    path: SafePath,
    file: web_sys::File,
}

/// `files` (of `File`s) at `paths` (their sanitised paths, `/`-separated).
fn saved_files(files: &Array, paths: &Array) -> Result<Vec<SavedFile>, JsValue> {
    let metas: Vec<FileMeta> = paths
        .iter()
        .map(|path| {
            let path = path.as_string().unwrap_or_default();
            FileMeta {
                name: path.rsplit('/').next().unwrap_or_default().to_owned(),
                size: 0,
                mime: String::new(),
                path: Some(path),
            }
        })
        .collect();
    // Sanitised already: made safe again, they stay as they are.
    let paths = safe_paths(&metas);
    files
        .iter()
        .zip(paths)
        .map(|(file, path)| {
            Ok(SavedFile {
                path,
                file: file.dyn_into()?,
            })
        })
        .collect()
}

/// Writes `files` into `folder`, each at its path in `paths`.
#[wasm_bindgen(js_name = saveIntoFolder)]
pub async fn save_into_folder(
    folder: FileSystemDirectoryHandle,
    files: Array,
    paths: Array,
) -> Result<(), JsValue> {
    folder::write_into(&folder, &saved_files(&files, &paths)?).await
}

/// Builds the zip of `files` at `paths`, stored as `stored_name` in the private file
/// system; resolves to `{ name, url }`: what to call the download, and an object URL of
/// the archive.
#[wasm_bindgen(js_name = saveAsZip)]
pub async fn save_as_zip(
    stored_name: String,
    files: Array,
    paths: Array,
) -> Result<Object, JsValue> {
    let zip = zip::build(stored_name, &saved_files(&files, &paths)?).await?;
    let result = Object::new();
    Reflect::set(&result, &"name".into(), &zip.name.into())?;
    Reflect::set(&result, &"url".into(), &zip.url.into())?;
    Ok(result)
}

/// The `name` of a DOMException (`NotFoundError`, `TypeMismatchError`…).
fn error_name(error: &JsValue) -> Option<String> {
    Reflect::get(error, &"name".into()).ok()?.as_string()
}
