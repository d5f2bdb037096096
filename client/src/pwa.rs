//! The app as an installed one: its service worker (`web/sw.js`), which keeps the app
//! openable offline, and the files other apps shared to it through the system's share
//! sheet, which that worker keeps in a cache until the person sends them.
//!
//! Service workers only exist in secure contexts; elsewhere all of this does nothing.

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Cache, File, FilePropertyBag, Response, ServiceWorkerContainer};

const WORKER: &str = "/sw.js";
/// The cache `web/sw.js` puts shared files in, one response per file.
const SHARED: &str = "meshdrop-shared";

/// `navigator.serviceWorker`, where the page may have workers.
pub fn service_workers() -> Option<ServiceWorkerContainer> {
    let navigator = web_sys::window()?.navigator();
    js_sys::Reflect::get(&navigator, &JsValue::from_str("serviceWorker"))
        .ok()
        .filter(|container| !container.is_undefined())
        .map(JsCast::unchecked_into)
}

/// Registers the service worker; a failure only means no offline copy.
pub fn register() {
    let Some(container) = service_workers() else {
        return;
    };
    wasm_bindgen_futures::spawn_local(async move {
        let _ = JsFuture::from(container.register(WORKER)).await;
    });
}

/// The files shared to the app and not yet sent or discarded, oldest first.
pub async fn shared_files() -> Vec<File> {
    let Some(cache) = shared_cache().await else {
        return Vec::new();
    };
    let Ok(responses) = JsFuture::from(cache.match_all()).await else {
        return Vec::new();
    };
    let mut files = Vec::new();
    for response in js_sys::Array::from(&responses).iter() {
        if let Some(file) = to_file(response.unchecked_into()).await {
            files.push(file);
        }
    }
    files
}

/// Forgets the shared files: they were sent, or the person discarded them.
pub async fn clear_shared_files() {
    if let Some(caches) = web_sys::window().and_then(|window| window.caches().ok()) {
        let _ = JsFuture::from(caches.delete(SHARED)).await;
    }
}

async fn shared_cache() -> Option<Cache> {
    service_workers()?;
    let caches = web_sys::window()?.caches().ok()?;
    let has = JsFuture::from(caches.has(SHARED)).await.ok()?;
    if !has.is_truthy() {
        return None;
    }
    JsFuture::from(caches.open(SHARED))
        .await
        .ok()
        .map(JsCast::unchecked_into)
}

/// One stored response back into the `File` it was, name and type included.
async fn to_file(response: Response) -> Option<File> {
    let headers = response.headers();
    let name = headers.get("x-file-name").ok().flatten()?;
    let name = js_sys::decode_uri_component(&name).ok()?.as_string()?;
    let modified = headers
        .get("x-last-modified")
        .ok()
        .flatten()
        // JavaScript's parseFloat: Rust's `str::parse::<f64>` costs the app about 8 KB of wasm.
        .map(|stamp| js_sys::Number::parse_float(&stamp))
        .filter(|stamp| stamp.is_finite());
    let blob: web_sys::Blob = JsFuture::from(response.blob().ok()?)
        .await
        .ok()?
        .unchecked_into();
    let options = FilePropertyBag::new();
    options.set_type(&blob.type_());
    if let Some(modified) = modified {
        options.set_last_modified(modified);
    }
    File::new_with_blob_sequence_and_options(&js_sys::Array::of1(&blob), &name, &options).ok()
}
