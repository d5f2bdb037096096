//! The page-wide gestures of the app's UI contract: files dropped anywhere or pasted,
//! text pasted, the "Send to…" picker, clearing finished transfers, and reloading.
//!
//! Drops and pastes are dispatched as the browser would dispatch them (a `DragEvent` or
//! `ClipboardEvent` carrying a `DataTransfer` of real `File`s): WebDriver cannot drag
//! files from the desktop or use the system clipboard.
//!
//! * `#recipient-picker` (a modal `dialog`, `open` while it asks) with a
//!   `button.picker-choice[data-peer-id]` per connected device and `.picker-everyone`.
//! * `button.clear-finished`, shown while some transfer has ended.

use std::path::Path;

use serde_json::{json, Value};

use super::App;
use crate::error::{Error, Result};
use crate::files::TestFile;

/// Fires `dragover` and `drop` with `arguments[1]` (files) on the element `arguments[0]`.
const DROP_SCRIPT: &str = r##"
const [selector, files] = arguments;
const data = new DataTransfer();
for (const file of files) data.items.add(new File([new Uint8Array(file.bytes)], file.name));
const target = document.querySelector(selector);
for (const type of ["dragover", "drop"]) {
  target.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: data }));
}
"##;

/// Fires `dragover` and `drop` on the element `arguments[0]`, dropping the folder picked
/// in the folder input `arguments[1]`. A desktop drop hands the page the folder as a
/// `FileSystemDirectoryEntry`; no page can make one (a picked input's `webkitEntries`
/// stays empty when ChromeDriver picks), so the entries are built here, around the real
/// picked `File`s, answering as Chromium's do: `readEntries` in batches of at most 100,
/// then an empty one, every answer in a later task.
const DROP_FOLDER_SCRIPT: &str = r##"
const [selector, inputId] = arguments;
const input = document.getElementById(inputId);
const files = [...input.files];
input.remove();
const later = (answer, value) => setTimeout(() => answer(value));
const folder = (fullPath) => ({
  isFile: false,
  isDirectory: true,
  name: fullPath.split("/").pop(),
  fullPath,
  children: new Map(),
  createReader() {
    const rest = [...this.children.values()];
    return { readEntries: (answer) => later(answer, rest.splice(0, 100)) };
  },
});
const root = folder("");
for (const file of files) {
  let at = root;
  for (const name of file.webkitRelativePath.split("/").slice(0, -1)) {
    if (!at.children.has(name)) at.children.set(name, folder(`${at.fullPath}/${name}`));
    at = at.children.get(name);
  }
  const fullPath = `${at.fullPath}/${file.name}`;
  at.children.set(file.name, {
    isFile: true,
    isDirectory: false,
    name: file.name,
    fullPath,
    file: (answer) => later(answer, file),
  });
}
const items = [...root.children.values()].map((entry) => ({
  kind: "file",
  type: "",
  webkitGetAsEntry: () => entry,
}));
const dropped = { items, files: new DataTransfer().files, types: ["Files"] };
const target = document.querySelector(selector);
for (const type of ["dragover", "drop"]) {
  const event = new DragEvent(type, { bubbles: true, cancelable: true });
  Object.defineProperty(event, "dataTransfer", { value: dropped });
  target.dispatchEvent(event);
}
"##;

/// Fires `paste` on the focused element (or the body) with `arguments[0]` (files) or
/// `arguments[1]` (text).
const PASTE_SCRIPT: &str = r##"
const [files, text] = arguments;
const data = new DataTransfer();
for (const file of files) data.items.add(new File([new Uint8Array(file.bytes)], file.name));
if (text !== null) data.setData("text/plain", text);
const target = document.activeElement ?? document.body;
target.dispatchEvent(new ClipboardEvent("paste", { bubbles: true, cancelable: true, clipboardData: data }));
"##;

impl App {
    /// Drops `files` on the element `selector` matches, as if dragged from the desktop.
    pub async fn drop_files(&self, selector: &str, files: &[&TestFile]) -> Result<()> {
        let files = file_values(files)?;
        self.browser
            .run("dropping files", DROP_SCRIPT, vec![json!(selector), files])
            .await
    }

    /// Drops the folder `dir` from disk on the element `selector` matches, as if dragged
    /// from the desktop (Chromium only: ChromeDriver picks folders in inputs).
    pub async fn drop_folder(&self, selector: &str, dir: &Path) -> Result<()> {
        const SCRATCH: &str = "e2e-dropped-folder";
        self.upload_to_scratch_input(SCRATCH, true, &dir.display().to_string())
            .await?;
        self.browser
            .run(
                "dropping a folder",
                DROP_FOLDER_SCRIPT,
                vec![json!(selector), json!(SCRATCH)],
            )
            .await
    }

    /// Pastes `files` (Ctrl/Cmd-V) with nothing focused.
    pub async fn paste_files(&self, files: &[&TestFile]) -> Result<()> {
        let files = file_values(files)?;
        self.browser
            .run("pasting files", PASTE_SCRIPT, vec![files, Value::Null])
            .await
    }

    /// Pastes `text` (Ctrl/Cmd-V) with nothing focused.
    pub async fn paste_text(&self, text: &str) -> Result<()> {
        self.browser
            .run("pasting text", PASTE_SCRIPT, vec![json!([]), json!(text)])
            .await
    }

    /// What the chat input holds, not yet sent.
    pub async fn chat_draft(&self) -> Result<String> {
        self.browser
            .run(
                "reading the chat input",
                r##"return document.querySelector("#chat-input").value"##,
                vec![],
            )
            .await
    }

    /// The display name in `#name-input`.
    pub async fn display_name(&self) -> Result<String> {
        self.browser
            .run(
                "reading the display name",
                r##"return document.querySelector("#name-input")?.value ?? """##,
                vec![],
            )
            .await
    }

    /// The peer ids the "Send to…" picker offers while it is open; `None` while closed.
    pub async fn picker_choices(&self) -> Result<Option<Vec<String>>> {
        self.browser
            .run(
                "reading the recipient picker",
                r##"const dialog = document.querySelector("#recipient-picker");
                   return dialog?.open
                     ? [...dialog.querySelectorAll("button.picker-choice[data-peer-id]")].map((b) => b.dataset.peerId)
                     : null;"##,
                vec![],
            )
            .await
    }

    /// Clicks `peer` in the "Send to…" picker.
    pub async fn pick_recipient(&self, peer: &str) -> Result<()> {
        let selector = format!(r#"#recipient-picker button.picker-choice[data-peer-id="{peer}"]"#);
        self.click(&selector).await
    }

    /// Clicks "Clear finished".
    pub async fn clear_finished(&self) -> Result<()> {
        self.click("button.clear-finished").await
    }

    /// Reloads the page, as a person pressing F5 would: the tab keeps its session key,
    /// so the page is the same peer, and its partial incoming transfers.
    pub async fn reload(&self) -> Result<()> {
        Ok(self.browser.client().refresh().await?)
    }

    /// Reloads the page as a new peer, as if its tab were closed and another opened:
    /// what the tab kept (`sessionStorage`) is forgotten first.
    pub async fn reload_as_new_tab(&self) -> Result<()> {
        let forget = "sessionStorage.clear(); return null";
        let () = self
            .browser
            .run("forgetting the tab's session", forget, vec![])
            .await?;
        self.reload().await
    }
}

/// `files` as the scripts take them: name and bytes. For small files only.
fn file_values(files: &[&TestFile]) -> Result<Value> {
    let values = files
        .iter()
        .map(|file| {
            let bytes = std::fs::read(file.path())
                .map_err(Error::io(format!("read {}", file.path().display())))?;
            Ok(json!({ "name": file.name(), "bytes": bytes }))
        })
        .collect::<Result<Vec<Value>>>()?;
    Ok(Value::Array(values))
}
