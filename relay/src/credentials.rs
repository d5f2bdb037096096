//! TURN REST credentials: time-limited usernames whose password the relay recomputes,
//! so the signaling server and the relay share nothing but a secret.
//!
//! This is the "TURN REST API" scheme that coturn implements as `use-auth-secret`:
//!
//! * username `"<unix time the credential expires>:<label>"` (Meshdrop's label is the
//!   peer id),
//! * password `base64(HMAC-SHA1(secret, username))`.
//!
//! The signaling server mints them ([`TurnSecret::password`]); a relay, the built-in one
//! or coturn, recomputes the password from the username and refuses it once the time in
//! it has passed ([`expiry`]).

use std::fmt;

use base64::prelude::{Engine, BASE64_STANDARD};
use hmac::{Hmac, Mac};
use sha1::Sha1;

/// The secret shared by whoever mints credentials and the relays that check them
/// (coturn's `static-auth-secret`); never printed.
#[derive(Clone)]
pub struct TurnSecret(String);

impl TurnSecret {
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The password of `username`: `base64(HMAC-SHA1(secret, username))`.
    pub fn password(&self, username: &str) -> String {
        BASE64_STANDARD.encode(self.mac(&[username.as_bytes()]))
    }

    /// HMAC-SHA1 under this secret over the concatenated `parts`.
    pub(crate) fn mac(&self, parts: &[&[u8]]) -> [u8; 20] {
        // HMAC takes keys of any length, so this cannot fail.
        let mut mac = Hmac::<Sha1>::new_from_slice(self.0.as_bytes())
            .expect("HMAC accepts keys of any length");
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }
}

impl fmt::Debug for TurnSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TurnSecret(<redacted>)")
    }
}

/// When the credential of `username` expires, in seconds since the Unix epoch: the
/// number before its first `:`. `None` if there is no such number.
pub fn expiry(username: &str) -> Option<u64> {
    let (expiry, _label) = username.split_once(':')?;
    // `u64::from_str` takes a leading `+`; a minted username never has one.
    if !expiry.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    expiry.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_matches_an_independent_computation() {
        // Python's standard library: `base64.b64encode(hmac.new(b"north-gate-secret",
        // b"1767225600:0123456789abcdef", hashlib.sha1).digest())`.
        let secret = TurnSecret::new("north-gate-secret");
        assert_eq!(
            secret.password("1767225600:0123456789abcdef"),
            "QmPlk6MMQb/oG499hLO2/CCxKHg="
        );
    }

    #[test]
    fn the_expiry_is_the_number_before_the_colon() {
        assert_eq!(expiry("1767225600:0123456789abcdef"), Some(1_767_225_600));
        assert_eq!(expiry("1767225600:a:b"), Some(1_767_225_600));
        for bad in [
            "",
            "1767225600",
            "+1:a",
            "-1:a",
            "x:a",
            ":a",
            "99999999999999999999:a",
        ] {
            assert_eq!(expiry(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_secret_is_not_printed() {
        let debug = format!("{:?}", TurnSecret::new("north-gate-secret"));
        assert!(!debug.contains("north"));
    }
}
