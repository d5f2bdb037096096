//! Writing received files into a folder handle, at their sanitised paths.
//!
//! The same code runs whether the handle came from the person's folder picker or from
//! anywhere else (the tests use a folder of the private file system, since no headless
//! browser can drive the picker). Each file is piped from its disk-backed `File` into a
//! writable stream of the new file, so it is never whole in memory; the browser swaps
//! the file in when the stream closes, so a file that failed halfway never appears.
//! Nothing already in the folder is replaced: a name that is taken, by a file or a
//! folder, gets a number (`a (1).txt`), with the engine's own numbering.

use meshdrop_transfer::safe_path::numbered;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    FileSystemDirectoryHandle, FileSystemFileHandle, FileSystemGetDirectoryOptions,
    FileSystemGetFileOptions, FileSystemWritableFileStream,
};

use super::{error_name, SavedFile};

/// How many numbered names to try before giving up on a taken one.
const MAX_NUMBER: u32 = 1000;

/// Write `files` into `folder`, each at its path, creating the subfolders.
pub async fn write_into(
    folder: &FileSystemDirectoryHandle,
    files: &[SavedFile],
) -> Result<(), JsValue> {
    for saved in files {
        let mut parent = folder.clone();
        for name in saved.path.folders() {
            parent = subfolder(&parent, name).await?;
        }
        let target = new_file(&parent, saved.path.file_name()).await?;
        let writable: FileSystemWritableFileStream =
            JsFuture::from(target.create_writable()).await?.dyn_into()?;
        // Closes the writable once the whole file went through, which commits it.
        JsFuture::from(saved.file.stream().pipe_to(&writable)).await?;
    }
    Ok(())
}

/// The folder `name` in `parent`, made if missing; if a file has that name, the first
/// free numbered one.
async fn subfolder(
    parent: &FileSystemDirectoryHandle,
    name: &str,
) -> Result<FileSystemDirectoryHandle, JsValue> {
    let options = FileSystemGetDirectoryOptions::new();
    options.set_create(true);
    let mut last_error = JsValue::UNDEFINED;
    for n in 0..MAX_NUMBER {
        let candidate = numbered(name, n);
        match JsFuture::from(parent.get_directory_handle_with_options(&candidate, &options)).await {
            Ok(folder) => return folder.dyn_into(),
            Err(error) if error_name(&error).as_deref() == Some("TypeMismatchError") => {
                last_error = error;
            }
            Err(error) => return Err(error),
        }
    }
    Err(last_error)
}

/// A new, empty file `name` in `parent`, or the first free numbered name.
async fn new_file(
    parent: &FileSystemDirectoryHandle,
    name: &str,
) -> Result<FileSystemFileHandle, JsValue> {
    let create = FileSystemGetFileOptions::new();
    create.set_create(true);
    for n in 0..MAX_NUMBER {
        let candidate = numbered(name, n);
        let existing = JsFuture::from(parent.get_file_handle(&candidate)).await;
        match existing {
            Ok(_) => continue,
            Err(error) => match error_name(&error).as_deref() {
                Some("NotFoundError") => {
                    let created = parent.get_file_handle_with_options(&candidate, &create);
                    return JsFuture::from(created).await?.dyn_into();
                }
                Some("TypeMismatchError") => continue,
                _ => return Err(error),
            },
        }
    }
    Err(JsValue::from_str(&format!(
        "no free name for {name} in the folder"
    )))
}
