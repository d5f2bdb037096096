//! The Meshdrop web app.
//!
//! [`mesh`] owns the signaling socket and the WebRTC peer connections; [`ui`] owns the
//! Yew components that show them. The two meet only through `MeshEvent`s going up and
//! method calls on `Mesh` coming down. [`pwa`] makes it an installable app that opens
//! offline, and [`notify`] reaches the person while the page is hidden.

mod decode;
mod device;
mod encode;
mod idb;
mod identity;
mod json;
mod mesh;
mod notify;
mod on_demand;
mod pwa;
mod saving;
mod transfer;
mod trust;
mod ui;

/// Talc instead of the standard library's dlmalloc: less wasm (the first visit's
/// download), and faster.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

fn main() {
    // A panic stops the app (wasm aborts); say why in the console, for a bug report.
    std::panic::set_hook(Box::new(|panic| {
        web_sys::console::error_1(&format!("Meshdrop stopped: {panic}").into());
    }));
    yew::Renderer::<ui::App>::new().render();
}
