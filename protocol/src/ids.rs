//! Validated identifiers: a room name and a peer id.
//!
//! Both are plain strings on the wire; wrapping them means a value that exists has
//! already been checked, so the server's room logic never sees an empty room name or
//! a peer id with odd characters in it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a string was refused as an identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {max} characters")]
    TooLong { max: usize },
    #[error("may only contain ASCII letters, digits, '-' and '_'")]
    BadCharacter,
}

fn validate(value: &str, max: usize) -> Result<(), IdError> {
    if value.is_empty() {
        return Err(IdError::Empty);
    }
    if value.len() > max {
        return Err(IdError::TooLong { max });
    }
    if !value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(IdError::BadCharacter);
    }
    Ok(())
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, max = $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Longest accepted value, in bytes.
            pub const MAX_LEN: usize = $max;

            pub fn new(value: impl Into<String>) -> Result<Self, IdError> {
                let value = value.into();
                validate(&value, Self::MAX_LEN)?;
                Ok(Self(value))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(value: String) -> Result<Self, IdError> {
                Self::new(value)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_id!(
    /// A room name, as it appears in a shareable link: 1 to 64 of `[A-Za-z0-9_-]`.
    RoomId,
    max = 64
);

impl RoomId {
    /// Whether this is a network room's name, which only the server hands out (see
    /// [`NETWORK_ROOM_PREFIX`](crate::signaling::NETWORK_ROOM_PREFIX)).
    pub fn is_network_room(&self) -> bool {
        self.0.starts_with(crate::signaling::NETWORK_ROOM_PREFIX)
    }

    /// Whether this is the meeting place of a pairing code (see
    /// [`MEETING_PLACE_PREFIX`](crate::signaling::MEETING_PLACE_PREFIX)).
    pub fn is_meeting_place(&self) -> bool {
        self.0.starts_with(crate::signaling::MEETING_PLACE_PREFIX)
    }
}

string_id!(
    /// A peer's identity inside a room, assigned by the server from the client's secret
    /// session key: 1 to 32 of `[A-Za-z0-9_-]`.
    PeerId,
    max = 32
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_link_friendly_names() {
        assert_eq!(
            RoomId::new("quiet-otter_42").unwrap().as_str(),
            "quiet-otter_42"
        );
    }

    #[test]
    fn refuses_empty_long_and_odd_names() {
        assert_eq!(RoomId::new(""), Err(IdError::Empty));
        assert_eq!(
            RoomId::new("a".repeat(65)),
            Err(IdError::TooLong { max: 64 })
        );
        assert_eq!(RoomId::new("a b"), Err(IdError::BadCharacter));
        assert_eq!(RoomId::new("ü"), Err(IdError::BadCharacter));
    }

    #[test]
    fn network_room_names_are_told_apart() {
        assert!(RoomId::new("_net-0123abcd").unwrap().is_network_room());
        assert!(!RoomId::new("net-party").unwrap().is_network_room());
        assert!(!RoomId::new("quiet-otter").unwrap().is_network_room());
    }

    #[test]
    fn meeting_places_are_told_apart() {
        assert!(RoomId::new("_pair-4172").unwrap().is_meeting_place());
        assert!(!RoomId::new("pair-4172").unwrap().is_meeting_place());
        assert!(!RoomId::new("_net-0123abcd").unwrap().is_meeting_place());
    }

    #[test]
    fn deserializing_validates() {
        assert!(serde_json::from_str::<RoomId>("\"ok\"").is_ok());
        assert!(serde_json::from_str::<RoomId>("\"not ok\"").is_err());
    }
}
