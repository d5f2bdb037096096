//! Meshdrop's TURN relay, sans-IO.
//!
//! Two peers that cannot reach each other (both behind symmetric NATs, or a firewall
//! that lets only one port out) connect through a relay: each allocates an address on
//! it, and the relay forwards datagrams between that address and the peer's. This crate
//! is the relay's logic ([`Server`]: RFC 5766, clients over UDP, TCP or TLS, relaying over
//! UDP, with TURN REST credentials and per-credential limits); the signaling server runs
//! it on real sockets.
//!
//! What passes through is whatever the peers send, unread: for Meshdrop, DTLS
//! ciphertext. The relay sees addresses, timing and volumes, never content.

mod allocation;
mod bandwidth;
mod credentials;
mod framing;
mod server;
mod stats;

pub use allocation::{AllocationId, CHANNEL_LIFETIME, PERMISSION_LIFETIME};
pub use bandwidth::MIN_BURST;
pub use credentials::{expiry, TurnSecret};
pub use framing::frame_length;
pub use server::{
    ClientAddr, Config, Limits, Output, Server, Socket, Transmit, Transport, DEFAULT_LIFETIME,
    MAX_LIFETIME, MAX_PAYLOAD,
};
pub use stats::{Refusal, Stats};
