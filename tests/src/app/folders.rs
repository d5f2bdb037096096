//! Folders in the app's UI contract: sending a folder, and "Save all" of a received one.
//!
//! No headless browser can drive the system's folder picker, so [`App::pick_private_folder`]
//! makes `showDirectoryPicker` hand the app a folder of the origin private file system
//! instead. The app writes into whatever folder handle it gets with the same code, and
//! [`App::private_folder_files`] reads back what it wrote.

use std::collections::BTreeMap;
use std::path::Path;

use fantoccini::Locator;
use serde::Deserialize;
use serde_json::json;

use super::App;
use crate::app::Recipient;
use crate::browser::BrowserKind;
use crate::error::Result;
use crate::files::sha256_of;

/// Makes `showDirectoryPicker` resolve to the private folder `arguments[0]`, made if
/// missing.
const PICK_PRIVATE_FOLDER_SCRIPT: &str = r##"
const [name] = arguments;
window.showDirectoryPicker = async () =>
  (await navigator.storage.getDirectory()).getDirectoryHandle(name, { create: true });
"##;

/// Writes the text `arguments[1]` into the private file at path `arguments[0]`, making
/// its folders.
const PUT_PRIVATE_FILE_SCRIPT: &str = r##"
const [path, text] = arguments;
return (async () => {
  let folder = await navigator.storage.getDirectory();
  const names = path.split("/");
  for (const name of names.slice(0, -1)) {
    folder = await folder.getDirectoryHandle(name, { create: true });
  }
  const file = await folder.getFileHandle(names.at(-1), { create: true });
  const writable = await file.createWritable();
  await writable.write(text);
  await writable.close();
})();
"##;

/// Hands the folder input `arguments[0]` the files of the scratch input `arguments[1]`,
/// each with its path `arguments[2][i]` as `webkitRelativePath`, as the folder picker
/// would, and tells the page they were picked.
const PICKED_AS_FOLDER_SCRIPT: &str = r##"
const [folderInput, scratchId, paths] = arguments;
const scratch = document.getElementById(scratchId);
Array.from(scratch.files).forEach((file, index) =>
  Object.defineProperty(file, "webkitRelativePath", { value: paths[index] }));
Object.defineProperty(document.querySelector(folderInput), "files", {
  value: scratch.files,
  configurable: true,
});
scratch.remove();
document.querySelector(folderInput).dispatchEvent(new Event("change", { bubbles: true }));
"##;

/// Adds an `<input type="file" multiple>` with id `arguments[0]` to the page, a folder
/// input (`webkitdirectory`) if `arguments[1]`. Its `picked` promise settles on the
/// first `change`: Chromium lists a folder after the upload call has returned.
const SCRATCH_INPUT_SCRIPT: &str = r##"
const [id, folder] = arguments;
const input = document.createElement("input");
input.type = "file";
input.multiple = true;
input.webkitdirectory = folder;
input.id = id;
input.picked = new Promise((settle) => input.addEventListener("change", settle, { once: true }));
document.body.append(input);
"##;

/// Waits until the scratch input `arguments[0]` has its files.
const SCRATCH_PICKED_SCRIPT: &str = r##"
return document.getElementById(arguments[0]).picked.then(() => null);
"##;

/// Takes `showDirectoryPicker` away, as in browsers without it (Firefox, Safari).
const NO_FOLDER_PICKER_SCRIPT: &str = "window.showDirectoryPicker = undefined;";

/// The bytes behind the "Save all" zip link of one transfer, in lowercase hex; empty if
/// there is no link.
const SAVED_ZIP_SCRIPT: &str = r##"
const [peer, id] = arguments;
const link = document.querySelector(
  `#transfers li.transfer[data-peer-id="${peer}"][data-transfer-id="${id}"] a.save-all-zip`);
return (async () => {
  if (!link) return "";
  const bytes = new Uint8Array(await (await fetch(link.href)).arrayBuffer());
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
})();
"##;

/// A file in a private folder, as the page reads it back.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FolderFile {
    /// `/`-separated, relative to the folder.
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

impl App {
    /// Picks the folder `dir` in the recipient's "Send folder" input, as a user would.
    /// ChromeDriver uploads every file under it, with its relative path. Geckodriver
    /// uploads files only, never a folder (Marionette: "File not found"), so in Firefox
    /// the files under `dir` are uploaded into a scratch input and handed to the folder
    /// input with the relative paths Firefox's folder picker would give them.
    pub async fn send_folder(&self, to: Recipient<'_>, dir: &Path) -> Result<()> {
        let folder_input = format!("{} input.send-folder", to.row_selector());
        if self.browser.kind() == BrowserKind::Chromium {
            self.browser
                .client()
                .find(Locator::Css(&folder_input))
                .await?
                .send_keys(&dir.display().to_string())
                .await?;
            return Ok(());
        }
        const SCRATCH: &str = "e2e-folder-files";
        let parent = dir.parent().unwrap_or(dir);
        let paths: Vec<String> = folder_digests(dir)?.into_keys().collect();
        let files: Vec<String> = paths
            .iter()
            .map(|path| parent.join(path).display().to_string())
            .collect();
        self.upload_to_scratch_input(SCRATCH, false, &files.join("\n"))
            .await?;
        self.browser
            .run(
                "picking the files as a folder",
                PICKED_AS_FOLDER_SCRIPT,
                vec![json!(folder_input), json!(SCRATCH), json!(paths)],
            )
            .await
    }

    /// Adds a scratch input `id` (a folder input if `folder`) out of the app's sight and
    /// has the WebDriver upload `paths` (newline-separated) into it, as a person picking.
    pub(super) async fn upload_to_scratch_input(
        &self,
        id: &str,
        folder: bool,
        paths: &str,
    ) -> Result<()> {
        self.browser
            .run::<()>(
                "adding a scratch file input",
                SCRATCH_INPUT_SCRIPT,
                vec![json!(id), json!(folder)],
            )
            .await?;
        self.browser
            .client()
            .find(Locator::Id(id))
            .await?
            .send_keys(paths)
            .await?;
        self.browser
            .run(
                "waiting for the scratch input's files",
                SCRATCH_PICKED_SCRIPT,
                vec![json!(id)],
            )
            .await
    }

    /// From now on, the app's folder picker picks the private folder `name`.
    pub async fn pick_private_folder(&self, name: &str) -> Result<()> {
        self.browser
            .run(
                "replacing the folder picker",
                PICK_PRIVATE_FOLDER_SCRIPT,
                vec![json!(name)],
            )
            .await
    }

    /// Puts a file holding `text` at `path` (`/`-separated) in the private file system.
    pub async fn put_private_file(&self, path: &str, text: &str) -> Result<()> {
        self.browser
            .run(
                "writing a private file",
                PUT_PRIVATE_FILE_SCRIPT,
                vec![json!(path), json!(text)],
            )
            .await
    }

    /// From now on, the app finds no folder picker, as in Firefox or Safari.
    pub async fn remove_folder_picker(&self) -> Result<()> {
        self.browser
            .run(
                "removing the folder picker",
                NO_FOLDER_PICKER_SCRIPT,
                vec![],
            )
            .await
    }

    /// The zip "Save all" made of transfer `id` with `peer`, read back through its link.
    pub async fn saved_zip(&self, peer: &str, id: &str) -> Result<Vec<u8>> {
        let hex: String = self
            .browser
            .run(
                "reading back the saved zip",
                SAVED_ZIP_SCRIPT,
                vec![json!(peer), json!(id)],
            )
            .await?;
        Ok(hex::decode(hex).expect("the page writes hex"))
    }

    /// Clicks "Save all" on transfer `id` with `peer` and waits until it says saved.
    pub async fn save_all(&self, peer: &str, id: &str) -> Result<()> {
        let row =
            format!(r#"#transfers li.transfer[data-peer-id="{peer}"][data-transfer-id="{id}"]"#);
        self.click(&format!("{row} button.save-all")).await?;
        self.wait_for(&format!("transfer {id} with {peer} saved all"), |s| {
            s.transfers
                .iter()
                .any(|entry| entry.peer == peer && entry.id == id && entry.save_all == "saved")
                .then_some(())
        })
        .await
    }

    /// Every file in the private folder `name`, by path; empty if there is no folder.
    pub async fn private_folder_files(&self, name: &str) -> Result<Vec<FolderFile>> {
        let files: Option<Vec<FolderFile>> = self
            .browser
            .run(
                "reading back a private folder",
                include_str!("../../js/private_folder_files.js"),
                vec![json!(name)],
            )
            .await?;
        Ok(files.unwrap_or_default())
    }
}

/// Every file under `dir` on disk, by `/`-separated path relative to `dir`'s parent
/// (so starting with `dir`'s name, as the offer does), with its SHA-256.
pub fn folder_digests(dir: &Path) -> Result<BTreeMap<String, String>> {
    let parent = dir.parent().unwrap_or(dir);
    let mut found = BTreeMap::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(folder) = pending.pop() {
        let action = format!("list {}", folder.display());
        for entry in std::fs::read_dir(&folder).map_err(crate::Error::io(&action))? {
            let path = entry.map_err(crate::Error::io(&action))?.path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let relative = path.strip_prefix(parent).unwrap_or(&path);
            let relative = relative.to_string_lossy().replace('\\', "/");
            let digest = sha256_of(&path)?;
            found.insert(relative, digest);
        }
    }
    Ok(found)
}

/// `files` by path, with their SHA-256, to compare with [`folder_digests`].
pub fn folder_file_digests(files: &[FolderFile]) -> BTreeMap<String, String> {
    files
        .iter()
        .map(|file| (file.path.clone(), file.sha256.clone()))
        .collect()
}

/// Every entry of the zip `bytes`, by name, with the SHA-256 of its contents, to compare
/// with [`folder_digests`]. Reading each entry to its end also checks its CRC-32.
pub fn zip_digests(bytes: Vec<u8>) -> BTreeMap<String, String> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a zip");
    let mut unzipped = BTreeMap::new();
    for index in 0..zip.len() {
        let mut entry = zip.by_index(index).expect("a readable entry");
        let mut contents = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut contents).expect("intact contents");
        unzipped.insert(
            entry.name().to_owned(),
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&contents)),
        );
    }
    unzipped
}
