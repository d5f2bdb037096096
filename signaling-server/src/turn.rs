//! Time-limited TURN credentials, so a TURN relay can be offered without a fixed
//! password that anyone reading the page could reuse forever.
//!
//! This is the "TURN REST API" scheme that coturn implements as `use-auth-secret`:
//! the server and the TURN relay share a secret, and each client gets
//!
//! * username `"<unix time the credential expires>:<peer id>"`,
//! * password `base64(HMAC-SHA1(secret, username))`.
//!
//! The relay recomputes the password from the username and refuses it once the time
//! in it has passed. Nothing needs to be stored or exchanged between the two. The
//! password itself is computed by `meshdrop_relay`, whose built-in relay checks it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use meshdrop_protocol::signaling::IceServer;
use meshdrop_protocol::PeerId;
pub use meshdrop_relay::TurnSecret;

/// How long handed-out credentials stay valid unless configured otherwise: a day, so a
/// browser tab left open keeps working through a long transfer or a reconnect.
pub const DEFAULT_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// TURN relays that accept credentials made with a shared secret.
#[derive(Debug, Clone)]
pub struct Turn {
    /// `turn:` or `turns:` URLs of the relay(s), handed to clients as one ICE server.
    pub urls: Vec<String>,
    pub secret: TurnSecret,
    /// How long each client's credentials stay valid.
    pub ttl: Duration,
}

impl Turn {
    /// The ICE server entry for `peer`, with credentials valid for [`Turn::ttl`] from `now`.
    pub fn ice_server(&self, peer: &PeerId, now: SystemTime) -> IceServer {
        ice_server(self.urls.clone(), &self.secret, self.ttl, peer, now)
    }
}

/// An ICE server entry of `urls` for `peer`, with credentials made with `secret` that
/// stay valid for `ttl` from `now`.
pub fn ice_server(
    urls: Vec<String>,
    secret: &TurnSecret,
    ttl: Duration,
    peer: &PeerId,
    now: SystemTime,
) -> IceServer {
    let expires = now + ttl;
    let expires = expires
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let username = format!("{expires}:{peer}");
    IceServer {
        urls,
        credential: Some(secret.password(&username)),
        username: Some(username),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Computed independently with Python's standard library:
    /// `base64.b64encode(hmac.new(b"north-gate-secret",
    /// b"1767225600:0123456789abcdef", hashlib.sha1).digest())`.
    const PYTHON_PASSWORD: &str = "QmPlk6MMQb/oG499hLO2/CCxKHg=";

    #[test]
    fn credentials_match_an_independent_computation() {
        let turn = Turn {
            urls: vec!["turn:turn.example:3478".into()],
            secret: TurnSecret::new("north-gate-secret"),
            ttl: Duration::from_secs(3600),
        };
        let peer = PeerId::new("0123456789abcdef").unwrap();
        // 2026-01-01T00:00:00Z, one hour before the expiry in the vector.
        let now = UNIX_EPOCH + Duration::from_secs(1_767_225_600 - 3600);
        let server = turn.ice_server(&peer, now);
        assert_eq!(server.urls, ["turn:turn.example:3478"]);
        assert_eq!(
            server.username.as_deref(),
            Some("1767225600:0123456789abcdef")
        );
        assert_eq!(server.credential.as_deref(), Some(PYTHON_PASSWORD));
    }
}
