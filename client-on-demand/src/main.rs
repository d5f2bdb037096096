//! The web app's code that a first visit does not need, loaded by the page when it is
//! first used (`client/src/on_demand.rs`): taking part in a swarm ([`swarm`]), writing
//! "Save all" into a folder or a zip ([`saving`]), and walking dropped folders
//! ([`dropped`]). Kept out of the app's own wasm, it costs the first visit nothing.

mod dropped;
mod saving;
mod swarm;

use wasm_bindgen::{JsCast, JsValue};

#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

fn main() {}

/// A JavaScript error in words.
fn describe(error: &JsValue) -> String {
    error
        .as_string()
        .or_else(|| {
            error
                .dyn_ref::<js_sys::Error>()
                .map(|error| error.message().into())
        })
        .unwrap_or_else(|| format!("{error:?}"))
}
