//! The Yew components. They render [`state::RoomState`] and turn clicks into calls on
//! the [`crate::mesh::Mesh`]; no WebRTC or socket code lives here.

mod app;
mod attention;
mod chat;
mod pairing;
mod peers;
mod picker;
mod picking;
mod room;
mod save_all;
mod share;
mod shared;
mod state;
mod transfers;

pub use app::App;

/// A `class` of several names, the absent ones left out. A plain string costs the app
/// less wasm than Yew's `classes!`, which keeps a set.
fn class_names(names: &[Option<&str>]) -> String {
    let mut class = String::new();
    for name in names.iter().flatten() {
        if !class.is_empty() {
            class.push(' ');
        }
        class.push_str(name);
    }
    class
}
