//! The Meshdrop signaling server.
//!
//! Browsers find each other here and exchange the SDP offers, answers and ICE
//! candidates that set up their WebRTC connections; after that they talk directly and
//! the server is no longer needed. The server keeps no state but who is in which room,
//! forwards nothing but signals ([`SignalObject`](meshdrop_protocol::signaling::SignalObject)s,
//! passed on unread), and also
//! serves the web app's files.
//!
//! # Endpoints
//!
//! * `GET /ws`: the signaling WebSocket (JSON text messages, see `meshdrop_protocol`).
//!   Handshakes from pages of other origins get `403` (see `origin`).
//! * `GET /healthz`: `200 ok`.
//! * `GET /metrics`: counters and gauges in the Prometheus text format (see `metrics`).
//! * anything else: the web app from [`Config::static_dir`] when set, or else the one
//!   built into the binary (feature `embed-web`), with its `index.html` for paths that
//!   name no file, compressed when the browser accepts it; without an app, 404.
//!
//! # Behaviour
//!
//! * A connection must `join` first; anything else before that is `not_joined`.
//! * A `join` without a room enters the room of the client's network: one per public
//!   IPv4 address or IPv6 /64, one for all local addresses, named by a keyed hash (see
//!   `network_room`). The client's address is the TCP peer's, or what a trusted
//!   reverse proxy forwarded (see `client_address`). A `join` may not name such a room.
//! * The peer id is derived from the client's secret session key (see `identity`), so
//!   a reconnecting client keeps its id. If that id is still seated in the room on an
//!   older connection, the new connection takes over: the old one gets `replaced` and
//!   is closed, the others get no `peer_left`/`peer_joined` for it (their WebRTC
//!   connections to it stay valid), only `peer_renamed` if the name changed.
//! * `signal` is forwarded only within the sender's room, with `from` set by the server.
//! * `rename` is announced to the others with `peer_renamed`.
//! * When a connection ends, the room gets `peer_left`; an empty room is deleted.
//! * `welcome` lists the ICE servers for this client: the built-in STUN server, the
//!   configured ones, and TURN relays with credentials of its own (see `ice`).
//! * With [`serve_with_stun`], a STUN server answers on a UDP socket too (see `stun`).
//! * With [`serve_with_relay`], a TURN relay runs too (see `relay`), and `welcome`
//!   lists it with credentials for each client.
//! * With [`Config::tls`], all of the above is HTTPS and WSS (see `tls`).
//! * Limits ([`DEFAULT_LIMITS`]) are per connection and announced in `welcome`; the
//!   rate limit's bucket outlives the connection, by client address (see `rate_limit`).
//!   The errors, and which of them close the socket with which code, are listed in the
//!   `connection` module.
//! * Nothing holds a place for free (see `admission`): connections past a cap per client
//!   address or past the server's cap are closed as they are accepted (past the
//!   server's cap, a reserve still answers `/healthz` and `/metrics`, and `/ws` with
//!   `503`); an HTTP request head must arrive within [`Config::handshake_timeout`], and
//!   a WebSocket's `join` within the same time after its upgrade.
//! * Messages wait for a client in a queue bounded in messages and bytes, and all queues
//!   share one byte budget; a client that does not keep up is closed as `too_slow`
//!   (see `outbox`).
//! * With [`Config::redis_url`], rooms span every server on that Redis (see `cluster`):
//!   the rules above hold for the room as a whole, whichever server each peer reached,
//!   and a server that dies gives its peers' seats up within seconds.

mod admission;
mod client_address;
mod cluster;
mod config;
mod connection;
mod ice;
mod identity;
mod metrics;
mod network_room;
mod origin;
mod outbox;
mod rate_limit;
mod relay;
mod rooms;
mod server;
mod state;
mod stun;
mod tls;
mod turn;
mod web_app;

pub use admission::{default_max_connections, raise_open_files_limit};
pub use client_address::{InvalidTrustedProxy, TrustedProxy};
pub use config::{
    Config, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_LIMITS, DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
};
pub use meshdrop_relay::Limits as RelayLimits;
pub use network_room::{NetworkSecret, SecretTooShort};
pub use origin::{InvalidOrigin, Origin};
pub use outbox::DEFAULT_BUDGET_BYTES as DEFAULT_QUEUED_BYTES;
pub use relay::{Relay, RelayConfig, RelayTls, DEFAULT_RELAY_PORTS};
pub use server::{serve, serve_with_relay, serve_with_stun};
pub use tls::{Tls, TlsError};
pub use turn::{Turn, TurnSecret, DEFAULT_TTL as DEFAULT_TURN_TTL};
