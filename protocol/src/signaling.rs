//! Signaling: the JSON messages between a client and the server over the WebSocket.
//!
//! Every message is one WebSocket text frame holding one JSON object with a `type`
//! field. The server's whole job is rooms and forwarding [`Signal`]s between their
//! members, so there is deliberately no message that could carry chat or file bytes.

use serde::{Deserialize, Serialize};

use crate::{PeerId, RoomId};

/// A message from a client to the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// The first message on every connection: enter `room` as `name`.
    ///
    /// Without a `room` the client enters its network's room: the server picks it from
    /// the connection's address, so pages on the same network meet without a link.
    ///
    /// `session_key` is a secret the client picks (at least 32 hex digits) and keeps
    /// for the lifetime of its page: the server derives the peer id from it, so a
    /// client that reconnects after a network blip gets its old id back and its peers
    /// keep their connections, while nobody can claim an id without its key.
    Join {
        version: u32,
        /// A private room, as in a shared link; `None` for this network's room. Names
        /// starting with [`NETWORK_ROOM_PREFIX`] are refused: only the server hands
        /// those out.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<RoomId>,
        name: String,
        session_key: String,
    },
    /// Change this peer's display name; the room is told with [`ServerMessage::PeerRenamed`].
    Rename { name: String },
    /// Forward `signal` to peer `to` in the same room, as it is.
    Signal { to: PeerId, signal: SignalObject },
    /// Keepalive; answered with [`ServerMessage::Pong`].
    Ping,
}

/// A message from the server to a client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// The answer to a successful `join`.
    Welcome {
        version: u32,
        peer_id: PeerId,
        room: RoomId,
        /// Whether `room` is the network room the server picked for a `join` without a
        /// room (its name starts with [`NETWORK_ROOM_PREFIX`] and reveals nothing).
        #[serde(default)]
        network: bool,
        /// Everyone already in the room. The newcomer opens a connection to each of them.
        peers: Vec<PeerInfo>,
        /// ICE servers the client should use for its peer connections (may be empty).
        ice_servers: Vec<IceServer>,
        limits: Limits,
    },
    PeerJoined {
        peer: PeerInfo,
    },
    PeerLeft {
        peer_id: PeerId,
    },
    PeerRenamed {
        peer: PeerInfo,
    },
    /// A signal from another peer; `from` is stamped by the server, never by the sender.
    Signal {
        from: PeerId,
        signal: SignalObject,
    },
    Pong,
    /// Something the client sent was refused. Unless `code` is fatal the connection
    /// stays open and the offending message is dropped.
    Error {
        code: ErrorCode,
        message: String,
    },
}

/// A peer as the others see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerInfo {
    pub id: PeerId,
    pub name: String,
}

/// What the server forwards between two peers: any JSON object, passed on with every
/// field and value as the sender wrote it.
///
/// The server never looks inside, so peers can add fields (or kinds of signal) without
/// a server that knows them. Peers read it as a [`Signal`] with [`Self::to_signal`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SignalObject(serde_json::Map<String, serde_json::Value>);

impl SignalObject {
    /// The signal this object holds, or why a peer cannot use it (an unknown `kind`, a
    /// missing field).
    pub fn to_signal(&self) -> Result<Signal, serde_json::Error> {
        serde_json::from_value(serde_json::Value::Object(self.0.clone()))
    }

    /// Its fields as sent, `kind` included.
    /// The object of a signal read by other means than serde (the web app's decoder).
    pub fn from_fields(fields: serde_json::Map<String, serde_json::Value>) -> Self {
        Self(fields)
    }

    pub fn fields(&self) -> &serde_json::Map<String, serde_json::Value> {
        &self.0
    }
}

impl From<Signal> for SignalObject {
    fn from(signal: Signal) -> Self {
        match serde_json::to_value(signal) {
            Ok(serde_json::Value::Object(object)) => Self(object),
            _ => unreachable!("a Signal serializes to a JSON object"),
        }
    }
}

/// The WebRTC negotiation payloads peers send each other inside [`SignalObject`]s.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Signal {
    Offer {
        sdp: String,
    },
    Answer {
        sdp: String,
    },
    /// One trickled ICE candidate, with the fields of `RTCIceCandidateInit`. `candidate`
    /// is the browser's `candidate` attribute, `candidate:` prefix included. The end of
    /// candidates is never signalled: peers stop sending them.
    Candidate {
        candidate: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sdp_mid: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sdp_m_line_index: Option<u16>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        username_fragment: Option<String>,
    },
    /// One SPAKE2 message (lowercase hex) of a pairing by code. It reveals nothing that
    /// allows an offline guess of the code; see `docs/security.md`.
    Pake {
        message: String,
    },
}

/// One entry of `RTCConfiguration.iceServers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// The limits the server enforces on this connection, so a client can stay inside them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub max_message_bytes: usize,
    pub max_messages_per_second: u32,
    pub max_peers_per_room: usize,
    /// A connection that sends nothing (not even `ping`) for this long is closed.
    pub idle_timeout_secs: u64,
}

/// Why the server refused a message. The wire form is the snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Not JSON, or not one of the [`ClientMessage`] shapes.
    MalformedMessage,
    /// A valid message of a `type` the server does not know.
    UnknownType,
    /// The frame is larger than [`Limits::max_message_bytes`]; the connection is closed.
    MessageTooLarge,
    /// More than [`Limits::max_messages_per_second`]; the message is dropped.
    RateLimited,
    /// `join` with a `version` this server does not speak; the connection is closed.
    UnsupportedVersion,
    /// The room already has [`Limits::max_peers_per_room`] peers; the connection is closed.
    RoomFull,
    /// A `signal` to a peer id that is not in the sender's room.
    UnknownPeer,
    /// Any message other than `join` before joining.
    NotJoined,
    /// A second `join` on the same connection.
    AlreadyJoined,
    /// A `name` that is empty or longer than [`MAX_NAME_CHARS`], a bad `session_key`, or
    /// a `room` named like a network room.
    InvalidField,
    /// The same session key joined again from another connection, which replaces this one.
    Replaced,
    /// A `join` to a meeting place that already had its two devices: the pairing code
    /// is spent. The connection is closed.
    CodeSpent,
}

impl ErrorCode {
    /// Whether the server closes the connection after sending this error.
    pub fn is_fatal(self) -> bool {
        matches!(
            self,
            Self::MessageTooLarge
                | Self::UnsupportedVersion
                | Self::RoomFull
                | Self::Replaced
                | Self::CodeSpent
        )
    }
}

/// Longest display name, in characters.
pub const MAX_NAME_CHARS: usize = 64;

/// How the names of network rooms start. The server hands them out for a `join` without
/// a room and refuses a `join` that names one, so a network room can only be entered
/// from that network.
pub const NETWORK_ROOM_PREFIX: &str = "_net-";

/// How the names of meeting places start: the one-off room that a pairing code names
/// (`_pair-` and the code's number; the rest of the code never reaches the server). The
/// server lets at most two devices into a meeting place, ever, so a code is spent after
/// one attempt, right or wrong.
pub const MEETING_PLACE_PREFIX: &str = "_pair-";

/// Shortest accepted `session_key`, in hex digits (128 bits).
pub const MIN_SESSION_KEY_HEX: usize = 32;

/// Parse a client message, telling a well-formed message of an unknown `type` apart
/// from garbage so the client gets the precise [`ErrorCode`].
pub fn parse_client_message(text: &str) -> Result<ClientMessage, ErrorCode> {
    serde_json::from_str(text).map_err(|_| {
        let known = ["join", "rename", "signal", "ping"];
        match serde_json::from_str::<serde_json::Value>(text) {
            Ok(serde_json::Value::Object(object)) => match object.get("type") {
                Some(serde_json::Value::String(kind)) if !known.contains(&kind.as_str()) => {
                    ErrorCode::UnknownType
                }
                _ => ErrorCode::MalformedMessage,
            },
            _ => ErrorCode::MalformedMessage,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn join_has_the_documented_shape() {
        let message = ClientMessage::Join {
            version: 2,
            room: Some(RoomId::new("r1").unwrap()),
            name: "Ann".into(),
            session_key: "00".repeat(16),
        };
        assert_eq!(
            serde_json::to_value(&message).unwrap(),
            json!({"type": "join", "version": 2, "room": "r1", "name": "Ann", "session_key": "00".repeat(16)})
        );
    }

    #[test]
    fn join_without_a_room_means_the_network_room() {
        let key = "00".repeat(16);
        let message = ClientMessage::Join {
            version: 2,
            room: None,
            name: "Ann".into(),
            session_key: key.clone(),
        };
        let shape = json!({"type": "join", "version": 2, "name": "Ann", "session_key": key});
        assert_eq!(serde_json::to_value(&message).unwrap(), shape);
        let with_null =
            json!({"type": "join", "version": 2, "room": null, "name": "Ann", "session_key": key});
        for text in [shape.to_string(), with_null.to_string()] {
            assert_eq!(parse_client_message(&text), Ok(message.clone()));
        }
    }

    #[test]
    fn welcome_says_whether_the_room_is_a_network_room() {
        let welcome = |network: Option<bool>| {
            let mut value = json!({
                "type": "welcome", "version": 2, "peer_id": "p1", "room": "r1", "peers": [],
                "ice_servers": [], "limits": {"max_message_bytes": 1, "max_messages_per_second": 1,
                "max_peers_per_room": 1, "idle_timeout_secs": 1},
            });
            if let Some(network) = network {
                value["network"] = json!(network);
            }
            match serde_json::from_value(value).unwrap() {
                ServerMessage::Welcome { network, .. } => network,
                other => panic!("not a welcome: {other:?}"),
            }
        };
        assert!(welcome(Some(true)));
        assert!(!welcome(Some(false)));
        // From a server that predates network rooms.
        assert!(!welcome(None));
    }

    #[test]
    fn signal_round_trips() {
        let text = r#"{"type":"signal","to":"p2","signal":{"kind":"candidate","candidate":"candidate:1 1 udp 1 10.0.0.1 5000 typ host","sdp_mid":"0","sdp_m_line_index":0,"username_fragment":"abcd"}}"#;
        let message = parse_client_message(text).unwrap();
        assert_eq!(
            serde_json::to_value(&message).unwrap(),
            serde_json::from_str::<serde_json::Value>(text).unwrap()
        );
    }

    #[test]
    fn signal_objects_pass_unknown_fields_and_kinds_unchanged() {
        let signal = json!({"kind": "future", "x": {"nested": [1, 2.5, null]}, "y": "z"});
        let text = json!({"type": "signal", "to": "p2", "signal": signal}).to_string();
        let ClientMessage::Signal { signal: object, .. } = parse_client_message(&text).unwrap()
        else {
            panic!("a signal message");
        };
        assert_eq!(serde_json::to_value(&object).unwrap(), signal);
        assert!(
            object.to_signal().is_err(),
            "peers refuse a kind they do not know"
        );
    }

    /// What docs/protocol.md promises about numbers inside a forwarded signal.
    #[test]
    fn numbers_in_signal_objects_keep_their_value() {
        let text = r#"{"a":1.0,"b":1e2,"c":18446744073709551615,"d":-9223372036854775808,"e":0.1}"#;
        let object: SignalObject = serde_json::from_str(text).unwrap();
        assert_eq!(
            serde_json::to_string(&object).unwrap(),
            r#"{"a":1.0,"b":100.0,"c":18446744073709551615,"d":-9223372036854775808,"e":0.1}"#
        );
    }

    #[test]
    fn candidates_may_leave_out_optional_fields() {
        let object: SignalObject =
            serde_json::from_value(json!({"kind": "candidate", "candidate": "candidate:1"}))
                .unwrap();
        let signal = Signal::Candidate {
            candidate: "candidate:1".into(),
            sdp_mid: None,
            sdp_m_line_index: None,
            username_fragment: None,
        };
        assert_eq!(object.to_signal().unwrap(), signal);
        assert_eq!(
            SignalObject::from(signal),
            object,
            "absent stays absent, not null"
        );
    }

    #[test]
    fn a_signal_must_be_an_object() {
        let text = r#"{"type":"signal","to":"p2","signal":"offer"}"#;
        assert_eq!(parse_client_message(text), Err(ErrorCode::MalformedMessage));
    }

    #[test]
    fn error_codes_are_snake_case() {
        let message = ServerMessage::Error {
            code: ErrorCode::UnknownPeer,
            message: "no such peer".into(),
        };
        assert_eq!(
            serde_json::to_value(&message).unwrap(),
            json!({"type": "error", "code": "unknown_peer", "message": "no such peer"})
        );
    }

    #[test]
    fn tells_unknown_types_from_garbage() {
        assert_eq!(
            parse_client_message("{\"type\":\"chat\"}"),
            Err(ErrorCode::UnknownType)
        );
        assert_eq!(
            parse_client_message("{\"type\":\"join\"}"),
            Err(ErrorCode::MalformedMessage)
        );
        assert_eq!(
            parse_client_message("not json"),
            Err(ErrorCode::MalformedMessage)
        );
        assert_eq!(
            parse_client_message("[1]"),
            Err(ErrorCode::MalformedMessage)
        );
        assert_eq!(
            parse_client_message("{\"type\":\"ping\"}"),
            Ok(ClientMessage::Ping)
        );
    }
}
