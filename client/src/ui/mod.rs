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
