//! Checking what a client says about itself in `join` and `rename`.
//!
//! The peer id is never chosen by the client: it is the first 16 hex digits of
//! `SHA-256("meshdrop-peer-id:" + session_key)`. A client that reconnects with the same
//! secret key therefore gets the same id back, and nobody can take over an id without
//! knowing its key. The key is hashed exactly as sent (case included).

use meshdrop_protocol::signaling::{PeerInfo, MAX_NAME_CHARS, MIN_SESSION_KEY_HEX};
use meshdrop_protocol::PeerId;
use sha2::{Digest, Sha256};

/// Longest accepted `session_key`, in hex digits (512 bits).
pub const MAX_SESSION_KEY_HEX: usize = 128;

/// Domain separation for the peer id hash, so the id is useless for anything else.
const PEER_ID_CONTEXT: &str = "meshdrop-peer-id:";

/// Hex digits of the hash kept as the peer id (64 bits).
const PEER_ID_HEX: usize = 16;

/// A field of `join` or `rename` that the server refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidField {
    #[error("name must not be empty")]
    EmptyName,
    #[error("name must be at most {MAX_NAME_CHARS} characters")]
    NameTooLong,
    #[error("session_key must be {MIN_SESSION_KEY_HEX} to {MAX_SESSION_KEY_HEX} hex digits")]
    SessionKeyLength,
    #[error("session_key may only contain hex digits")]
    SessionKeyNotHex,
}

/// The display name to store: `raw` without surrounding whitespace, if acceptable.
pub fn display_name(raw: &str) -> Result<String, InvalidField> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(InvalidField::EmptyName);
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(InvalidField::NameTooLong);
    }
    Ok(name.to_owned())
}

/// The peer a `join` describes, if both its fields are acceptable.
pub fn joining_peer(name: &str, session_key: &str) -> Result<PeerInfo, InvalidField> {
    Ok(PeerInfo {
        id: peer_id(session_key)?,
        name: display_name(name)?,
    })
}

/// The peer id belonging to a client's secret `session_key`.
pub fn peer_id(session_key: &str) -> Result<PeerId, InvalidField> {
    if !(MIN_SESSION_KEY_HEX..=MAX_SESSION_KEY_HEX).contains(&session_key.len()) {
        return Err(InvalidField::SessionKeyLength);
    }
    if !session_key.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return Err(InvalidField::SessionKeyNotHex);
    }
    let digest = Sha256::new()
        .chain_update(PEER_ID_CONTEXT)
        .chain_update(session_key)
        .finalize();
    let mut id = hex::encode(digest);
    id.truncate(PEER_ID_HEX);
    Ok(PeerId::new(id).expect("16 lowercase hex digits are always a valid peer id"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_id_is_the_documented_hash_prefix() {
        let key = "0123456789abcdef".repeat(2);
        let expected = hex::encode(Sha256::digest(format!("meshdrop-peer-id:{key}")));
        assert_eq!(peer_id(&key).unwrap().as_str(), &expected[..16]);
    }

    #[test]
    fn the_same_key_gives_the_same_id_and_others_differ() {
        let key = "ab".repeat(16);
        assert_eq!(peer_id(&key).unwrap(), peer_id(&key).unwrap());
        assert_ne!(peer_id(&key).unwrap(), peer_id(&"ac".repeat(16)).unwrap());
    }

    #[test]
    fn session_key_length_is_bounded_both_ways() {
        assert_eq!(
            peer_id(&"a".repeat(MIN_SESSION_KEY_HEX - 1)),
            Err(InvalidField::SessionKeyLength)
        );
        assert!(peer_id(&"a".repeat(MIN_SESSION_KEY_HEX)).is_ok());
        assert!(peer_id(&"a".repeat(MAX_SESSION_KEY_HEX)).is_ok());
        assert_eq!(
            peer_id(&"a".repeat(MAX_SESSION_KEY_HEX + 1)),
            Err(InvalidField::SessionKeyLength)
        );
    }

    #[test]
    fn session_key_must_be_hex() {
        let key = format!("{}g", "a".repeat(MIN_SESSION_KEY_HEX));
        assert_eq!(peer_id(&key), Err(InvalidField::SessionKeyNotHex));
        // Multi-byte characters are refused, not miscounted.
        let key = "é".repeat(MIN_SESSION_KEY_HEX);
        assert_eq!(peer_id(&key), Err(InvalidField::SessionKeyNotHex));
    }

    #[test]
    fn names_are_trimmed_and_bounded_in_characters() {
        assert_eq!(display_name("  Ann \n").unwrap(), "Ann");
        assert_eq!(display_name(" \t "), Err(InvalidField::EmptyName));
        let longest = "ü".repeat(MAX_NAME_CHARS);
        assert_eq!(display_name(&longest).unwrap(), longest);
        let too_long = "ü".repeat(MAX_NAME_CHARS + 1);
        assert_eq!(display_name(&too_long), Err(InvalidField::NameTooLong));
    }
}
