//! The Meshdrop wire protocol, shared by the signaling server, the web client and the
//! native peer.
//!
//! This crate owns every type that crosses a socket or a data channel and nothing else:
//! no I/O, no async, no platform code, so each side of the wire compiles the very same
//! definitions. [`signaling`] is the JSON spoken over the WebSocket to the server;
//! [`frame`] is what peers send each other over their data channels, which the server
//! never sees. `docs/protocol.md` is the prose specification of both.

pub mod frame;
pub mod ids;
pub mod signaling;

pub use ids::{IdError, PeerId, RoomId};

/// Version of the protocol, signaling and peer frames alike, sent by the client in its
/// first message.
///
/// A server answers a `join` carrying any other version with
/// [`signaling::ErrorCode::UnsupportedVersion`] and closes the socket, so peers that
/// could not understand each other never meet. Version 2 changed how a file's digest is
/// made (docs/protocol.md): a version 1 peer would fail every file from a version 2 one.
/// Version 3 added per-block digests and resuming (`block`, `resume` and `refetch`
/// frames): a version 2 receiver would refuse the first `block` frame, and a version 2
/// sender would never send one.
pub const PROTOCOL_VERSION: u32 = 3;
