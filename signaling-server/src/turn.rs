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
//! in it has passed. Nothing needs to be stored or exchanged between the two.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::prelude::{Engine, BASE64_STANDARD};
use hmac::{Hmac, Mac};
use meshdrop_protocol::signaling::IceServer;
use meshdrop_protocol::PeerId;
use sha1::Sha1;

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

/// The secret shared with the TURN relay (coturn's `static-auth-secret`); never logged.
#[derive(Clone)]
pub struct TurnSecret(String);

impl TurnSecret {
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }
}

impl fmt::Debug for TurnSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TurnSecret(<redacted>)")
    }
}

impl Turn {
    /// The ICE server entry for `peer`, with credentials valid for [`Turn::ttl`] from `now`.
    pub fn ice_server(&self, peer: &PeerId, now: SystemTime) -> IceServer {
        let expires = now + self.ttl;
        let expires = expires
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let username = format!("{expires}:{peer}");
        IceServer {
            urls: self.urls.clone(),
            credential: Some(password(&self.secret, &username)),
            username: Some(username),
        }
    }
}

/// `base64(HMAC-SHA1(secret, username))`.
fn password(secret: &TurnSecret, username: &str) -> String {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac =
        Hmac::<Sha1>::new_from_slice(secret.0.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(username.as_bytes());
    BASE64_STANDARD.encode(mac.finalize().into_bytes())
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

    #[test]
    fn the_secret_is_not_printed() {
        let debug = format!("{:?}", TurnSecret::new("north-gate-secret"));
        assert!(!debug.contains("north"));
    }
}
