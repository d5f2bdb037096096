//! Everything an operator can tune, in one value handed to [`crate::serve`].

use std::path::PathBuf;
use std::time::Duration;

use meshdrop_protocol::signaling::{IceServer, Limits};

use crate::admission::default_max_connections;
use crate::client_address::TrustedProxy;
use crate::network_room::NetworkSecret;
use crate::origin::Origin;
use crate::outbox::DEFAULT_BUDGET_BYTES;
use crate::tls::Tls;
use crate::turn::Turn;

/// The limits enforced on every connection unless configured otherwise.
///
/// * `max_message_bytes`: 64 KiB per WebSocket message (and per frame). An SDP offer is
///   a few KiB, so this leaves ample room while bounding what one read can allocate.
/// * `max_messages_per_second`: 50, as a token bucket (see `rate_limit`).
/// * `max_peers_per_room`: 16. Every pair of peers holds its own WebRTC connection, so
///   a full room is 120 connections; more would not run well in a browser anyway.
/// * `idle_timeout_secs`: 60. Clients send `ping` every 20 s, so three missed pings.
pub const DEFAULT_LIMITS: Limits = Limits {
    max_message_bytes: 64 * 1024,
    max_messages_per_second: 50,
    max_peers_per_room: 16,
    idle_timeout_secs: 60,
};

/// How long a client may take to send an HTTP request head (counted from the
/// connection, or from the previous response), and then, on `/ws`, its `join`.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections one client address may hold at once: every tab of everyone behind one
/// NAT (an office, a school) holds one WebSocket, plus a few while a page loads.
pub const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS: usize = 256;

/// How to run the server.
#[derive(Debug, Clone)]
pub struct Config {
    /// Enforced on every connection and announced to clients in `welcome`.
    pub limits: Limits,
    /// Passed to clients in `welcome` for their peer connections, after the built-in
    /// STUN server (if it runs) and before the TURN relays.
    pub ice_servers: Vec<IceServer>,
    /// TURN relays sharing a secret with this server; each client gets its own
    /// time-limited credentials for them.
    pub turn: Option<Turn>,
    /// The origin of the URL users open, like `https://meshdrop.example.com`. Its host
    /// names the built-in STUN server in `welcome`, and its pages may open WebSockets.
    pub public_origin: Option<Origin>,
    /// Pages that may open the signaling WebSocket. Empty: the public origin, and pages
    /// of the host the request is addressed to (see the `origin` module).
    pub allowed_origins: Vec<Origin>,
    /// Speak HTTPS and WSS with this certificate instead of plain HTTP.
    pub tls: Option<Tls>,
    /// Directory of the built web app, served at `/`. Paths that name no file get its
    /// `index.html`, so the app can route on the client side. Without it, a binary
    /// built with the `embed-web` feature serves the app it carries.
    pub static_dir: Option<PathBuf>,
    /// Reverse proxies whose `Forwarded` / `X-Forwarded-For` headers tell the client's
    /// address. Empty: those headers are ignored and the TCP peer is the client.
    pub trusted_proxies: Vec<TrustedProxy>,
    /// The key that network room names are hashed with (see `network_room`). `None`: a
    /// random one at every start or, in a cluster, the one its nodes share in Redis.
    pub network_secret: Option<NetworkSecret>,
    /// Share rooms with the other servers using this Redis (see `cluster`). `None`:
    /// rooms live in this process alone.
    pub redis_url: Option<String>,
    /// Deadline for an HTTP request head, and for a WebSocket's `join` after its upgrade.
    pub handshake_timeout: Duration,
    /// Connections served at once; past it `/ws` gets `503` (see `admission`).
    pub max_connections: usize,
    /// Connections one client address may hold at once (see `admission`).
    pub max_connections_per_address: usize,
    /// Bytes queued for all clients together before the one a message is for is cut
    /// as too slow (see `outbox`).
    pub max_queued_bytes: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            limits: DEFAULT_LIMITS,
            ice_servers: Vec::new(),
            turn: None,
            public_origin: None,
            allowed_origins: Vec::new(),
            tls: None,
            static_dir: None,
            trusted_proxies: Vec::new(),
            network_secret: None,
            redis_url: None,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            max_connections: default_max_connections(),
            max_connections_per_address: DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
            max_queued_bytes: DEFAULT_BUDGET_BYTES,
        }
    }
}
