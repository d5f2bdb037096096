//! "Save all" where the page cannot write into a folder (Firefox, Safari): one zip of
//! the files, at their paths, built in the private file system and then downloaded.
//!
//! Each file is streamed from its disk-backed `File`, its CRC-32 computed on the way,
//! into a store-only archive ([`ZipLayout`]) that the writer worker writes to disk; the
//! download then reads that disk-backed archive. No file, and not the archive, is ever
//! whole in memory: the page waits for the writer every few megabytes.

use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::ReadableStreamDefaultReader;

use meshdrop_opfs::PrivateFile;

use super::zip_layout::{ZipLayout, CRC32};
use super::SavedFile;

/// How far reading may run ahead of the disk before waiting for the writer.
const WRITE_AHEAD: u64 = 16 << 20;

/// A finished archive, ready to download.
#[derive(Debug, Clone, PartialEq)]
pub struct Zip {
    /// What to call the download: the files' folder, or "meshdrop-files", `.zip`.
    pub name: String,
    /// An object URL of the archive in the private file system.
    pub url: String,
}

/// Build the archive of `files`, named `stored_name` in the private file system.
pub async fn build(stored_name: String, files: &[SavedFile]) -> Result<Zip, JsValue> {
    let archive = PrivateFile::create(stored_name).await?;
    match write_entries(&archive, files).await {
        Ok(()) => {
            let file = archive.finish().await?;
            Ok(Zip {
                name: format!("{}.zip", common_folder(files).unwrap_or("meshdrop-files")),
                url: web_sys::Url::create_object_url_with_blob(&file)?,
            })
        }
        Err(error) => {
            archive.discard().await;
            Err(error)
        }
    }
}

async fn write_entries(archive: &PrivateFile, files: &[SavedFile]) -> Result<(), JsValue> {
    let mut layout = ZipLayout::default();
    for saved in files {
        let name = saved.path.to_string();
        let size = saved.file.size() as u64;
        let header_at = layout.end();
        let contents_at = header_at + ZipLayout::header_len(&name, size);
        let crc = copy_contents(archive, &saved.file, contents_at, size).await?;
        archive.write_at(header_at, &layout.add(&name, size, crc));
    }
    archive.write_at(layout.end(), &layout.finish());
    archive.written().await
}

/// Stream `file` into `archive` at `at`; returns its CRC-32.
async fn copy_contents(
    archive: &PrivateFile,
    file: &web_sys::File,
    mut at: u64,
    size: u64,
) -> Result<u32, JsValue> {
    let reader: ReadableStreamDefaultReader = file.stream().get_reader().dyn_into()?;
    let mut crc = CRC32.digest();
    let (mut copied, mut unsynced) = (0, 0);
    loop {
        let read = JsFuture::from(reader.read()).await?;
        if Reflect::get(&read, &"done".into())?.is_truthy() {
            break;
        }
        let bytes = Uint8Array::new(&Reflect::get(&read, &"value".into())?).to_vec();
        crc.update(&bytes);
        archive.write_at(at, &bytes);
        at += bytes.len() as u64;
        copied += bytes.len() as u64;
        unsynced += bytes.len() as u64;
        if unsynced >= WRITE_AHEAD {
            archive.written().await?;
            unsynced = 0;
        }
    }
    if copied != size {
        return Err(JsValue::from_str(
            "a received file changed size while being zipped",
        ));
    }
    Ok(crc.finalize())
}

/// The folder every file is in, if they were all sent in one.
fn common_folder(files: &[SavedFile]) -> Option<&str> {
    let first = files.first()?.path.folders().first()?;
    files
        .iter()
        .all(|saved| saved.path.folders().first() == Some(first))
        .then_some(first.as_str())
}
