//! "Save all": the received files of a transfer, saved together with their folders.
//!
//! Where the browser lets the page write into a folder the person picks (the File System
//! Access API's `showDirectoryPicker`, Chromium on https or localhost), every file is
//! streamed from the private file system into it, subfolders created. Elsewhere
//! (Firefox, Safari) the files go into one zip, built in the private file system and
//! downloaded. The page asks for the folder (the picker needs the person's click); the
//! writing is code a first visit does not need, in the module loaded on demand
//! ([`crate::on_demand`]). Nothing is ever held whole in memory.

use js_sys::{Array, Function, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::FileSystemDirectoryHandle;

use crate::on_demand;
use crate::transfer::SavedFile;

/// How a "Save all" ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Saved {
    /// Every file is in the folder of this name.
    IntoFolder(String),
    /// Every file is in this archive, whose download has started.
    AsZip(Zip),
    /// The person closed the picker: nothing was saved, nothing went wrong.
    Dismissed,
}

/// A finished archive, ready to download.
#[derive(Debug, Clone, PartialEq)]
pub struct Zip {
    /// What to call the download: the files' folder, or "meshdrop-files", `.zip`.
    pub name: String,
    /// An object URL of the archive in the private file system.
    pub url: String,
}

/// Save `files` into a folder the person picks, or else as a zip download.
pub async fn save_all(files: &[SavedFile]) -> Result<Saved, JsValue> {
    let sources: Array = files
        .iter()
        .map(|saved| JsValue::from(&saved.file))
        .collect();
    let paths: Array = files
        .iter()
        .map(|saved| JsValue::from(saved.path.to_string()))
        .collect();
    if directory_picker().is_none() {
        // Whole milliseconds: an integer formats without core's float formatting (~5 KB
        // gzipped wasm).
        let stored_name = format!("save-all-{}.zip", js_sys::Date::now() as u64);
        let module = on_demand::load().await?;
        let zip = JsFuture::from(module.save_as_zip(&stored_name, &sources, &paths)).await?;
        let field = |name: &str| Reflect::get(&zip, &name.into()).map(|v| v.as_string());
        let (Some(name), Some(url)) = (field("name")?, field("url")?) else {
            return Err(JsValue::from_str("the zip came back without a name or URL"));
        };
        let zip = Zip { name, url };
        download(&zip)?;
        return Ok(Saved::AsZip(zip));
    }
    let Some(folder) = pick_folder().await? else {
        return Ok(Saved::Dismissed);
    };
    let module = on_demand::load().await?;
    JsFuture::from(module.save_into_folder(&folder, &sources, &paths)).await?;
    Ok(Saved::IntoFolder(folder.name()))
}

/// Start the download of `zip`, as a click on a link to it would.
fn download(zip: &Zip) -> Result<(), JsValue> {
    let document = web_sys::window()
        .and_then(|window| window.document())
        .ok_or_else(|| JsValue::from_str("no document"))?;
    let link: web_sys::HtmlAnchorElement = document.create_element("a")?.dyn_into()?;
    link.set_href(&zip.url);
    link.set_download(&zip.name);
    link.click();
    Ok(())
}

/// `window.showDirectoryPicker`, where the browser has it.
fn directory_picker() -> Option<Function> {
    let window = web_sys::window()?;
    Reflect::get(&window, &"showDirectoryPicker".into())
        .ok()?
        .dyn_into()
        .ok()
}

/// The folder the person picks, writable; `None` if they close the picker.
async fn pick_folder() -> Result<Option<FileSystemDirectoryHandle>, JsValue> {
    let picker = directory_picker()
        .ok_or_else(|| JsValue::from_str("this browser cannot save into a folder"))?;
    let options = Object::new();
    Reflect::set(&options, &"mode".into(), &"readwrite".into())?;
    let window = web_sys::window().ok_or_else(|| JsValue::from_str("no window"))?;
    let picking = picker.call1(&window, &options)?;
    match JsFuture::from(js_sys::Promise::resolve(&picking)).await {
        Ok(folder) => Ok(Some(folder.dyn_into()?)),
        Err(error) if error_name(&error).as_deref() == Some("AbortError") => Ok(None),
        Err(error) => Err(error),
    }
}

/// The `name` of a DOMException (`NotFoundError`, `TypeMismatchError`…).
fn error_name(error: &JsValue) -> Option<String> {
    Reflect::get(error, &"name".into()).ok()?.as_string()
}
