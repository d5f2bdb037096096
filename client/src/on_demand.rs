//! The app's code that a first visit does not need: a wasm module of its own
//! (`client-on-demand/`, `meshdrop-on-demand.js`) that the page imports the first time
//! the person accepts files in a swarm, saves all of a transfer's files or drops a
//! folder. Its [`Member`]s take part in swarms (`mesh/swarms.rs`); its savers write
//! "Save all" (`saving`); it walks dropped folders (`ui/picking.rs`).

use std::cell::RefCell;

use js_sys::{Array, Function, Promise, Uint8Array};
use meshdrop_protocol::frame::SwarmId;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{FileSystemDirectoryHandle, RtcDataChannel};

/// The module's script, next to index.html (Trunk builds it under this fixed name).
const MODULE_SCRIPT: &str = "./meshdrop-on-demand.js";

#[wasm_bindgen]
extern "C" {
    /// The module, imported and started.
    pub type OnDemand;
    #[wasm_bindgen(method, getter = Member)]
    pub fn member(this: &OnDemand) -> MemberClass;
    /// Resolves once `files` are in `folder`, at `paths`.
    #[wasm_bindgen(method, js_name = saveIntoFolder)]
    pub fn save_into_folder(
        this: &OnDemand,
        folder: &FileSystemDirectoryHandle,
        files: &Array,
        paths: &Array,
    ) -> Promise;
    /// Resolves to `{ name, url }` of the zip of `files` at `paths`, stored as
    /// `stored_name`.
    #[wasm_bindgen(method, js_name = saveAsZip)]
    pub fn save_as_zip(this: &OnDemand, stored_name: &str, files: &Array, paths: &Array)
        -> Promise;

    /// Resolves to `[file, path]` pairs of the files under the dropped `entries`
    /// (`path` null for a file dropped on its own).
    #[wasm_bindgen(method, js_name = walkDropped)]
    pub fn walk_dropped(this: &OnDemand, entries: &Array) -> Promise;

    pub type MemberClass;
    /// Resolves to a [`Member`] of `swarm`, as a receiver of `origin`'s files of these
    /// `sizes`, keeping them under names that start with `stored_name` and reporting
    /// through `report`.
    #[wasm_bindgen(method)]
    pub fn join(
        this: &MemberClass,
        swarm: SwarmId,
        me: &str,
        origin: &str,
        sizes: &[f64],
        stored_name: &str,
        report: &Function,
    ) -> Promise;

    /// A [`Member`] that is the origin of `swarm`, offering `files` (of `File`s).
    #[wasm_bindgen(method, catch)]
    pub fn origin(
        this: &MemberClass,
        swarm: SwarmId,
        me: &str,
        files: &Array,
        report: &Function,
    ) -> Result<Member, JsValue>;

    /// The page's part in one swarm.
    #[derive(Clone)]
    pub type Member;
    #[wasm_bindgen(method, js_name = linkUp)]
    pub fn link_up(this: &Member, peer: &str, control: &RtcDataChannel, data: &RtcDataChannel);
    #[wasm_bindgen(method, js_name = linkDown)]
    pub fn link_down(this: &Member, peer: &str);
    #[wasm_bindgen(method)]
    pub fn left(this: &Member, peer: &str);
    #[wasm_bindgen(method, catch)]
    pub fn frame(this: &Member, from: &str, text: &str) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch)]
    pub fn piece(this: &Member, from: &str, message: &Uint8Array) -> Result<(), JsValue>;
    #[wasm_bindgen(method)]
    pub fn leave(this: &Member);
    /// Origin: `peer` accepted its offer in the swarm.
    #[wasm_bindgen(method, js_name = addReceiver)]
    pub fn add_receiver(this: &Member, peer: &str);
}

/// The module, imported once.
pub async fn load() -> Result<OnDemand, JsValue> {
    thread_local! {
        static MODULE: RefCell<Option<Promise>> = const { RefCell::new(None) };
    }
    let started = MODULE.with_borrow_mut(|module| {
        module
            .get_or_insert_with(|| {
                // `import()` is syntax, not a function the wasm can import; relative to
                // the page, where the module sits.
                Function::new_with_args(
                    "url",
                    "return import(url).then(async m => { await m.default(); return m; })",
                )
                .call1(&JsValue::NULL, &MODULE_SCRIPT.into())
                .map_or_else(|error| Promise::reject(&error), Promise::unchecked_from_js)
            })
            .clone()
    });
    Ok(JsFuture::from(started).await?.unchecked_into())
}
