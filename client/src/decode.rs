//! Reads the tagged messages the app receives, [`ControlFrame`], [`ServerMessage`] and the
//! [`Signal`] inside one, from their JSON: the same wire format as their serde derives,
//! for much less wasm.
//!
//! Serde derives an internally tagged enum (`{"type": "offer", ...}`) as a buffer of the
//! whole object followed by a full struct deserializer per variant over that buffer: about
//! 40 KB of the app's wasm for these two enums. Here the object is parsed once into a JSON
//! value, the `type` picks the variant, and each field is read from the value by
//! [`FromJson`], written out for the few types the app reads (as are the records it keeps,
//! [`record`]): no serde deserializer but the JSON parser's in the wasm. The protocol
//! crate keeps its derives (the server and the native peer use them); the tests below
//! check that both read the same messages the same way, variant by variant.

use meshdrop_protocol::frame::ControlFrame;
use meshdrop_protocol::frame::{Device, DeviceKind, FileMeta, ResumeFile};
use meshdrop_protocol::signaling::{ErrorCode, IceServer, Limits, PeerInfo};
use meshdrop_protocol::signaling::{ServerMessage, Signal, SignalObject};
use meshdrop_protocol::{PeerId, RoomId};
use meshdrop_verify::{KnownDevice, KnownDevices};
use serde_json::{Map, Value};

use crate::json::{self, NotJson};

/// Why a message could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error(transparent)]
    NotJson(#[from] NotJson),
    #[error("not a JSON object")]
    NotAnObject,
    #[error("no \"type\" (or, in a signal, \"kind\") field")]
    NoType,
    #[error("unknown type \"{0}\"")]
    UnknownType(String),
    /// A field (or, for a record, the record itself: `field` empty) is not what it
    /// should be.
    #[error("field `{field}`: expected {expected}")]
    Field {
        field: &'static str,
        expected: &'static str,
    },
}

/// A frame from the control channel.
pub fn control_frame(text: &str) -> Result<ControlFrame, DecodeError> {
    let (kind, mut fields) = tagged(text)?;
    Ok(match kind.as_str() {
        "chat" => ControlFrame::Chat {
            id: fields.take::<Option<String>>("id")?.unwrap_or_default(),
            text: fields.take("text")?,
            sent_at_ms: whole_millis(fields.take("sent_at_ms")?)?,
            private: fields.take::<Option<bool>>("private")?.unwrap_or_default(),
        },
        "chat_ack" => ControlFrame::ChatAck {
            id: fields.take("id")?,
        },
        "offer" => ControlFrame::Offer {
            transfer: fields.take("transfer")?,
            files: fields.take("files")?,
            swarm: fields.take("swarm")?,
        },
        "accept" => ControlFrame::Accept {
            transfer: fields.take("transfer")?,
            swarm: fields.take::<Option<bool>>("swarm")?.unwrap_or_default(),
        },
        "decline" => ControlFrame::Decline {
            transfer: fields.take("transfer")?,
        },
        "cancel" => ControlFrame::Cancel {
            transfer: fields.take("transfer")?,
            reason: fields.take("reason")?,
        },
        "fail" => ControlFrame::Fail {
            transfer: fields.take("transfer")?,
            reason: fields.take("reason")?,
        },
        "file_end" => ControlFrame::FileEnd {
            transfer: fields.take("transfer")?,
            index: fields.take("index")?,
            sha256: fields.take("sha256")?,
        },
        "complete" => ControlFrame::Complete {
            transfer: fields.take("transfer")?,
        },
        "block" => ControlFrame::Block {
            transfer: fields.take("transfer")?,
            index: fields.take("index")?,
            block: fields.take("block")?,
            sha256: fields.take("sha256")?,
        },
        "resume" => ControlFrame::Resume {
            transfer: fields.take("transfer")?,
            files: fields.take("files")?,
        },
        "refetch" => ControlFrame::Refetch {
            transfer: fields.take("transfer")?,
            index: fields.take("index")?,
            block: fields.take("block")?,
        },
        "credit" => ControlFrame::Credit {
            upto: fields.take("upto")?,
        },
        "hello" => ControlFrame::Hello {
            device: fields.take("device")?,
        },
        "safety_commit" => ControlFrame::SafetyCommit {
            commitment: fields.take("commitment")?,
        },
        "safety_reveal" => ControlFrame::SafetyReveal {
            nonce: fields.take("nonce")?,
        },
        "pair_confirm" => ControlFrame::PairConfirm {
            key_mac: fields.take("key_mac")?,
            link_mac: fields.take("link_mac")?,
        },
        _ => return Err(DecodeError::UnknownType(kind)),
    })
}

/// The signal a peer sent through the server (tagged by `kind`).
pub fn signal(object: &SignalObject) -> Result<Signal, DecodeError> {
    let mut object = object.fields().clone();
    let Some(Value::String(kind)) = object.remove("kind") else {
        return Err(DecodeError::NoType);
    };
    let mut fields = Fields(object);
    Ok(match kind.as_str() {
        "offer" => Signal::Offer {
            sdp: fields.take("sdp")?,
        },
        "answer" => Signal::Answer {
            sdp: fields.take("sdp")?,
        },
        "candidate" => Signal::Candidate {
            candidate: fields.take("candidate")?,
            sdp_mid: fields.take("sdp_mid")?,
            sdp_m_line_index: fields.take("sdp_m_line_index")?,
            username_fragment: fields.take("username_fragment")?,
        },
        "pake" => Signal::Pake {
            message: fields.take("message")?,
        },
        _ => return Err(DecodeError::UnknownType(kind)),
    })
}

/// A message from the signaling server.
pub fn server_message(text: &str) -> Result<ServerMessage, DecodeError> {
    let (kind, mut fields) = tagged(text)?;
    Ok(match kind.as_str() {
        "welcome" => ServerMessage::Welcome {
            version: fields.take("version")?,
            peer_id: fields.take("peer_id")?,
            room: fields.take("room")?,
            network: fields.take::<Option<bool>>("network")?.unwrap_or_default(),
            peers: fields.take("peers")?,
            ice_servers: fields.take("ice_servers")?,
            limits: fields.take("limits")?,
        },
        "peer_joined" => ServerMessage::PeerJoined {
            peer: fields.take("peer")?,
        },
        "peer_left" => ServerMessage::PeerLeft {
            peer_id: fields.take("peer_id")?,
        },
        "peer_renamed" => ServerMessage::PeerRenamed {
            peer: fields.take("peer")?,
        },
        "signal" => ServerMessage::Signal {
            from: fields.take("from")?,
            signal: fields.take("signal")?,
        },
        "pong" => ServerMessage::Pong,
        "error" => ServerMessage::Error {
            code: fields.take("code")?,
            message: fields.take("message")?,
        },
        _ => return Err(DecodeError::UnknownType(kind)),
    })
}

/// A record the app kept (in `localStorage`, `sessionStorage` or a journal file), from
/// its JSON text.
pub fn record<T: FromJson>(text: &str) -> Result<T, DecodeError> {
    let value = json::parse(text)?;
    T::from_json(value).map_err(|expected| DecodeError::Field {
        field: "",
        expected,
    })
}

/// A type read from a JSON value as its serde derive reads it from an object (the
/// protocol's form; serde's derive would also take an array of the fields in order).
/// `Err` says what the value should have been.
pub trait FromJson: Sized {
    fn from_json(value: Value) -> Result<Self, &'static str>;
}

/// The fields of one object, each read at most once.
pub struct Fields(Map<String, Value>);

impl Fields {
    pub fn of(value: Value) -> Result<Self, &'static str> {
        match value {
            Value::Object(object) => Ok(Self(object)),
            _ => Err("an object"),
        }
    }

    /// `field` as a `T`; a missing field reads as `null`, so only an `Option` may be
    /// missing, as with serde's derive.
    pub fn get<T: FromJson>(&mut self, field: &str) -> Result<T, &'static str> {
        T::from_json(self.0.remove(field).unwrap_or(Value::Null))
    }

    /// [`Self::get`] for a message's field, which the error names.
    fn take<T: FromJson>(&mut self, field: &'static str) -> Result<T, DecodeError> {
        self.get(field)
            .map_err(|expected| DecodeError::Field { field, expected })
    }
}

impl FromJson for Value {
    fn from_json(value: Value) -> Result<Self, &'static str> {
        Ok(value)
    }
}

impl FromJson for String {
    fn from_json(value: Value) -> Result<Self, &'static str> {
        match value {
            Value::String(text) => Ok(text),
            _ => Err("a string"),
        }
    }
}

impl FromJson for bool {
    fn from_json(value: Value) -> Result<Self, &'static str> {
        value.as_bool().ok_or("true or false")
    }
}

impl FromJson for u64 {
    fn from_json(value: Value) -> Result<Self, &'static str> {
        value.as_u64().ok_or("a whole number")
    }
}

/// The unsigned integers narrower than `u64`: in their range, as serde checks.
macro_rules! narrow_from_json {
    ($($integer:ty),*) => {$(
        impl FromJson for $integer {
            fn from_json(value: Value) -> Result<Self, &'static str> {
                value
                    .as_u64()
                    .and_then(|whole| Self::try_from(whole).ok())
                    .ok_or("a whole number in range")
            }
        }
    )*};
}
narrow_from_json!(u16, u32, usize);

impl<T: FromJson> FromJson for Option<T> {
    fn from_json(value: Value) -> Result<Self, &'static str> {
        match value {
            Value::Null => Ok(None),
            value => T::from_json(value).map(Some),
        }
    }
}

impl<T: FromJson> FromJson for Vec<T> {
    fn from_json(value: Value) -> Result<Self, &'static str> {
        match value {
            // A loop rather than `collect` into a `Result`: less wasm per `T`.
            Value::Array(items) => {
                let mut read = Vec::with_capacity(items.len());
                for item in items {
                    read.push(T::from_json(item)?);
                }
                Ok(read)
            }
            _ => Err("an array"),
        }
    }
}

/// A `[from, to]` range of blocks.
impl FromJson for [u64; 2] {
    fn from_json(value: Value) -> Result<Self, &'static str> {
        match <Vec<u64>>::from_json(value)?[..] {
            [from, to] => Ok([from, to]),
            _ => Err("two numbers"),
        }
    }
}

impl FromJson for PeerId {
    fn from_json(value: Value) -> Result<Self, &'static str> {
        PeerId::new(String::from_json(value)?).map_err(|_| "a peer id")
    }
}

impl FromJson for RoomId {
    fn from_json(value: Value) -> Result<Self, &'static str> {
        RoomId::new(String::from_json(value)?).map_err(|_| "a room name")
    }
}

impl FromJson for FileMeta {
    fn from_json(value: Value) -> Result<Self, &'static str> {
        let mut fields = Fields::of(value)?;
        Ok(Self {
            name: fields.get("name")?,
            size: fields.get("size")?,
            mime: fields.get("mime")?,
            path: fields.get("path")?,
        })
    }
}

impl FromJson for ResumeFile {
    fn from_json(value: Value) -> Result<Self, &'static str> {
        let mut fields = Fields::of(value)?;
        Ok(Self {
            index: fields.get("index")?,
            blocks: fields.get("blocks")?,
        })
    }
}

impl FromJson for Device {
    fn from_json(value: Value) -> Result<Self, &'static str> {
        let mut fields = Fields::of(value)?;
        let kind = match fields.get::<String>("kind")?.as_str() {
            "phone" => DeviceKind::Phone,
            "tablet" => DeviceKind::Tablet,
            "desktop" => DeviceKind::Desktop,
            _ => return Err("phone, tablet or desktop"),
        };
        Ok(Self {
            kind,
            browser: fields.get("browser")?,
            os: fields.get("os")?,
        })
    }
}

impl FromJson for PeerInfo {
    fn from_json(value: Value) -> Result<Self, &'static str> {
        let mut fields = Fields::of(value)?;
        Ok(Self {
            id: fields.get("id")?,
            name: fields.get("name")?,
        })
    }
}

impl FromJson for IceServer {
    fn from_json(value: Value) -> Result<Self, &'static str> {
        let mut fields = Fields::of(value)?;
        Ok(Self {
            urls: fields.get("urls")?,
            username: fields.get("username")?,
            credential: fields.get("credential")?,
        })
    }
}

impl FromJson for Limits {
    fn from_json(value: Value) -> Result<Self, &'static str> {
        let mut fields = Fields::of(value)?;
        Ok(Self {
            max_message_bytes: fields.get("max_message_bytes")?,
            max_messages_per_second: fields.get("max_messages_per_second")?,
            max_peers_per_room: fields.get("max_peers_per_room")?,
            idle_timeout_secs: fields.get("idle_timeout_secs")?,
        })
    }
}

impl FromJson for ErrorCode {
    fn from_json(value: Value) -> Result<Self, &'static str> {
        Ok(match String::from_json(value)?.as_str() {
            "malformed_message" => Self::MalformedMessage,
            "unknown_type" => Self::UnknownType,
            "message_too_large" => Self::MessageTooLarge,
            "rate_limited" => Self::RateLimited,
            "unsupported_version" => Self::UnsupportedVersion,
            "room_full" => Self::RoomFull,
            "unknown_peer" => Self::UnknownPeer,
            "not_joined" => Self::NotJoined,
            "already_joined" => Self::AlreadyJoined,
            "invalid_field" => Self::InvalidField,
            _ => return Err("an error code"),
        })
    }
}

impl FromJson for SignalObject {
    fn from_json(value: Value) -> Result<Self, &'static str> {
        Ok(Self::from_fields(Fields::of(value)?.0))
    }
}

impl FromJson for KnownDevice {
    fn from_json(value: Value) -> Result<Self, &'static str> {
        let mut fields = Fields::of(value)?;
        Ok(Self {
            fingerprint: fields.get("fingerprint")?,
            name: fields.get("name")?,
            // `#[serde(default)]`: may be missing, but not `null`.
            paired: match fields.0.remove("paired") {
                Some(paired) => bool::from_json(paired)?,
                None => false,
            },
        })
    }
}

impl FromJson for KnownDevices {
    fn from_json(value: Value) -> Result<Self, &'static str> {
        Vec::from_json(value).map(Self::from)
    }
}

fn tagged(text: &str) -> Result<(String, Fields), DecodeError> {
    let mut object = match json::parse(text)? {
        Value::Object(object) => object,
        _ => return Err(DecodeError::NotAnObject),
    };
    match object.remove("type") {
        Some(Value::String(kind)) => Ok((kind, Fields(object))),
        _ => Err(DecodeError::NoType),
    }
}

/// `sent_at_ms` as the protocol reads it: whole milliseconds, or a float (as version 2
/// web apps sent) truncated.
fn whole_millis(value: Value) -> Result<u64, DecodeError> {
    match (value.as_u64(), value.as_f64()) {
        (Some(whole), _) => Ok(whole),
        (None, Some(float)) if float >= 0.0 && float < u64::MAX as f64 => Ok(float as u64),
        _ => Err(DecodeError::Field {
            field: "sent_at_ms",
            expected: "milliseconds since 1970",
        }),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use meshdrop_protocol::signaling::Signal;
    use serde_json::json;

    use super::*;

    /// Every variant, so a variant added to the protocol fails to compile here until the
    /// decoder above reads it (no wildcard arm).
    pub(crate) fn control_frames() -> Vec<ControlFrame> {
        let frames = vec![
            ControlFrame::Chat {
                id: String::new(),
                text: "héllo\n\"there\"".into(),
                sent_at_ms: 1_795_983_180_621,
                private: false,
            },
            ControlFrame::Chat {
                id: "1f-0".into(),
                text: "to you".into(),
                sent_at_ms: 1,
                private: true,
            },
            ControlFrame::ChatAck { id: "1f-0".into() },
            ControlFrame::Offer {
                transfer: 7,
                files: vec![
                    FileMeta {
                        name: "a.txt".into(),
                        size: 0,
                        mime: String::new(),
                        path: None,
                    },
                    FileMeta {
                        name: "ü.bin".into(),
                        size: u64::MAX,
                        mime: "application/octet-stream".into(),
                        path: Some("dir/sub/ü.bin".into()),
                    },
                ],
                swarm: Some(9),
            },
            ControlFrame::Accept {
                transfer: 1,
                swarm: true,
            },
            ControlFrame::Decline { transfer: 2 },
            ControlFrame::Cancel {
                transfer: 3,
                reason: "cancelled by the user".into(),
            },
            ControlFrame::Fail {
                transfer: u32::MAX,
                reason: "digest mismatch".into(),
            },
            ControlFrame::FileEnd {
                transfer: 4,
                index: 1,
                sha256: "ab".repeat(32),
            },
            ControlFrame::Complete { transfer: 5 },
            ControlFrame::Credit { upto: 2 << 20 },
            ControlFrame::Block {
                transfer: 6,
                index: 2,
                block: 7,
                sha256: "cd".repeat(32),
            },
            ControlFrame::Resume {
                transfer: 6,
                files: vec![ResumeFile {
                    index: 2,
                    blocks: vec![[0, 3], [5, 9]],
                }],
            },
            ControlFrame::Refetch {
                transfer: 6,
                index: 2,
                block: 4,
            },
            ControlFrame::Hello {
                device: Device {
                    kind: DeviceKind::Phone,
                    browser: "Firefox".into(),
                    os: "Android".into(),
                },
            },
            ControlFrame::SafetyCommit {
                commitment: "ef".repeat(32),
            },
            ControlFrame::SafetyReveal {
                nonce: "01".repeat(32),
            },
            ControlFrame::PairConfirm {
                key_mac: "23".repeat(32),
                link_mac: "45".repeat(32),
            },
        ];
        for frame in &frames {
            match frame {
                ControlFrame::Chat { .. }
                | ControlFrame::ChatAck { .. }
                | ControlFrame::Offer { .. }
                | ControlFrame::Accept { .. }
                | ControlFrame::Decline { .. }
                | ControlFrame::Cancel { .. }
                | ControlFrame::Fail { .. }
                | ControlFrame::FileEnd { .. }
                | ControlFrame::Complete { .. }
                | ControlFrame::Credit { .. }
                | ControlFrame::Block { .. }
                | ControlFrame::Resume { .. }
                | ControlFrame::Refetch { .. }
                | ControlFrame::Hello { .. }
                | ControlFrame::SafetyCommit { .. }
                | ControlFrame::SafetyReveal { .. }
                | ControlFrame::PairConfirm { .. } => {}
                // The page hands these, unread, to its swarm module (mesh/swarms.rs).
                ControlFrame::Swarm(_) => {}
            }
        }
        frames
    }

    /// Every variant, as [`control_frames`].
    fn server_messages() -> Vec<ServerMessage> {
        let peer = PeerInfo {
            id: PeerId::new("0123456789abcdef").unwrap(),
            name: "Quiet Otter".into(),
        };
        let signal = |signal: &Signal| serde_json::from_value(json!(signal)).unwrap();
        let messages = vec![
            ServerMessage::Welcome {
                version: 3,
                peer_id: peer.id.clone(),
                room: RoomId::new("room-1").unwrap(),
                network: true,
                peers: vec![peer.clone()],
                ice_servers: vec![IceServer {
                    urls: vec!["stun:127.0.0.1:3478".into()],
                    username: Some("u".into()),
                    credential: None,
                }],
                limits: Limits {
                    max_message_bytes: 65_536,
                    max_messages_per_second: 50,
                    max_peers_per_room: 16,
                    idle_timeout_secs: 60,
                },
            },
            ServerMessage::PeerJoined { peer: peer.clone() },
            ServerMessage::PeerLeft {
                peer_id: peer.id.clone(),
            },
            ServerMessage::PeerRenamed { peer: peer.clone() },
            ServerMessage::Signal {
                from: peer.id.clone(),
                signal: signal(&Signal::Offer { sdp: "v=0".into() }),
            },
            ServerMessage::Pong,
            ServerMessage::Error {
                code: ErrorCode::RateLimited,
                message: "slow down".into(),
            },
        ];
        for message in &messages {
            match message {
                ServerMessage::Welcome { .. }
                | ServerMessage::PeerJoined { .. }
                | ServerMessage::PeerLeft { .. }
                | ServerMessage::PeerRenamed { .. }
                | ServerMessage::Signal { .. }
                | ServerMessage::Pong
                | ServerMessage::Error { .. } => {}
            }
        }
        messages
    }

    #[test]
    fn reads_every_control_frame_as_serde_writes_it() {
        for frame in control_frames() {
            let text = serde_json::to_string(&frame).unwrap();
            assert_eq!(control_frame(&text).unwrap(), frame, "{text}");
        }
    }

    #[test]
    fn reads_every_signal_as_serde_writes_it() {
        let signals = [
            Signal::Offer { sdp: "v=0".into() },
            Signal::Answer { sdp: "v=1".into() },
            Signal::Candidate {
                candidate: "candidate:1 1 udp 1 10.0.0.1 9 typ host".into(),
                sdp_mid: Some("0".into()),
                sdp_m_line_index: Some(0),
                username_fragment: None,
            },
            Signal::Pake {
                message: "53".repeat(33),
            },
        ];
        for signal in signals {
            match &signal {
                Signal::Offer { .. }
                | Signal::Answer { .. }
                | Signal::Candidate { .. }
                | Signal::Pake { .. } => {}
            }
            let object = SignalObject::from(signal.clone());
            assert_eq!(super::signal(&object).unwrap(), signal);
            assert_eq!(object.to_signal().unwrap(), signal);
        }
        let unknown: SignalObject =
            serde_json::from_str(r#"{"kind":"teleport","sdp":"v=0"}"#).unwrap();
        assert!(matches!(
            super::signal(&unknown),
            Err(DecodeError::UnknownType(_))
        ));
        let incomplete: SignalObject = serde_json::from_str(r#"{"kind":"offer"}"#).unwrap();
        assert!(incomplete.to_signal().is_err() && super::signal(&incomplete).is_err());
    }

    #[test]
    fn reads_every_server_message_as_serde_writes_it() {
        for message in server_messages() {
            let text = serde_json::to_string(&message).unwrap();
            assert_eq!(server_message(&text).unwrap(), message, "{text}");
        }
    }

    #[test]
    fn agrees_with_serde_on_loose_and_broken_messages() {
        let frames = [
            // Version 2's float timestamp, truncated; extra fields are ignored.
            r#"{"type":"chat","text":"hi","sent_at_ms":1795983180621.7,"extra":1}"#,
            r#"{"type":"chat","text":"hi","sent_at_ms":-1}"#,
            r#"{"type":"chat","text":"hi"}"#,
            r#"{"type":"accept","transfer":"1"}"#,
            r#"{"type":"accept","transfer":4294967296}"#,
            r#"{"type":"teleport","transfer":1}"#,
            r#"{"transfer":1}"#,
            r#"{"type":7}"#,
            "not json",
            // Nested values, well and badly formed.
            r#"{"type":"offer","transfer":1,"files":[{"name":"a","size":1,"mime":"","path":null,"x":1}]}"#,
            r#"{"type":"offer","transfer":1,"files":[{"name":"a","size":1}]}"#,
            r#"{"type":"offer","transfer":1,"files":[{"name":"a","size":-1,"mime":""}]}"#,
            r#"{"type":"offer","transfer":1,"files":[{"name":"a","size":1.5,"mime":""}]}"#,
            r#"{"type":"offer","transfer":1,"files":{"name":"a"}}"#,
            r#"{"type":"resume","transfer":1,"files":[{"index":0,"blocks":[[0,1],[2,3]]}]}"#,
            r#"{"type":"resume","transfer":1,"files":[{"index":0,"blocks":[[0,1,2]]}]}"#,
            r#"{"type":"resume","transfer":1,"files":[{"index":0,"blocks":[[0]]}]}"#,
            r#"{"type":"resume","transfer":1,"files":[{"index":4294967296,"blocks":[]}]}"#,
            r#"{"type":"hello","device":{"kind":"phone","browser":"","os":""}}"#,
            r#"{"type":"hello","device":{"kind":"watch","browser":"","os":""}}"#,
            r#"{"type":"hello","device":{"kind":"desktop","browser":null,"os":""}}"#,
            r#"{"type":"refetch","transfer":1,"index":2,"block":18446744073709551615}"#,
            r#"{"type":"safety_commit","commitment":null}"#,
        ];
        for text in frames {
            let serde = serde_json::from_str::<ControlFrame>(text).ok();
            assert_eq!(control_frame(text).ok(), serde, "{text}");
        }
        let messages = [
            // `network` may be missing (servers before network rooms).
            r#"{"type":"welcome","version":3,"peer_id":"0123456789abcdef","room":"r",
                "peers":[],"ice_servers":[],"limits":{"max_message_bytes":1,
                "max_messages_per_second":1,"max_peers_per_room":2,"idle_timeout_secs":3}}"#,
            r#"{"type":"peer_left","peer_id":"not an id"}"#,
            r#"{"type":"error","code":"no_such_code","message":""}"#,
            r#"{"type":"signal","from":"0123456789abcdef","signal":"offer"}"#,
            r#"{"type":"pong","extra":true}"#,
            r#"{"type":"welcome"}"#,
            r#"{"type":"welcome","version":3,"peer_id":"0123456789abcdef","room":"r","network":true,
                "peers":[{"id":"0123456789abcdef","name":"A"}],"ice_servers":[{"urls":["stun:x"],
                "username":null}],"limits":{"max_message_bytes":1,"max_messages_per_second":1,
                "max_peers_per_room":2,"idle_timeout_secs":3}}"#,
            r#"{"type":"welcome","version":3,"peer_id":"0123456789abcdef","room":"r",
                "peers":[],"ice_servers":[{"urls":"stun:x"}],"limits":{"max_message_bytes":1,
                "max_messages_per_second":1,"max_peers_per_room":2,"idle_timeout_secs":3}}"#,
            r#"{"type":"welcome","version":3,"peer_id":"0123456789abcdef","room":"r",
                "peers":[],"ice_servers":[],"limits":{"max_message_bytes":1,
                "max_messages_per_second":4294967296,"max_peers_per_room":2,"idle_timeout_secs":3}}"#,
            r#"{"type":"peer_joined","peer":{"id":"0123456789abcdef","name":"A","x":[]}}"#,
            r#"{"type":"peer_joined","peer":{"id":"0123456789abcdef"}}"#,
            r#"{"type":"peer_renamed","peer":{"id":"not an id","name":"A"}}"#,
            r#"{"type":"signal","from":"0123456789abcdef","signal":{"kind":"offer","sdp":"v=0"}}"#,
            r#"{"type":"error","code":"room_full","message":"full"}"#,
            r#"{"type":"error","code":"invalid_field","message":null}"#,
        ];
        for text in messages {
            let serde = serde_json::from_str::<ServerMessage>(text).ok();
            assert_eq!(server_message(text).ok(), serde, "{text}");
        }
    }

    #[test]
    fn reads_kept_verified_devices_as_serde_does() {
        let kept = [
            r#"[]"#,
            r#"[{"fingerprint":"sha-256 AB","name":"Sam","paired":true},{"fingerprint":"f","name":"n","paired":false,"x":1}]"#,
            r#"[{"fingerprint":"sha-256 AB","name":"Sam"}]"#,
            r#"[{"fingerprint":"sha-256 AB","name":"Sam","paired":null}]"#,
            r#"[{"fingerprint":"sha-256 AB","paired":true}]"#,
            r#"{"fingerprint":"sha-256 AB","name":"Sam"}"#,
            r#"[1]"#,
            "not json",
        ];
        for text in kept {
            let serde = serde_json::from_str::<KnownDevices>(text).ok();
            assert_eq!(record::<KnownDevices>(text).ok(), serde, "{text}");
        }
    }

    #[test]
    fn says_what_is_wrong() {
        assert!(matches!(
            control_frame(r#"{"type":"teleport"}"#),
            Err(DecodeError::UnknownType(kind)) if kind == "teleport"
        ));
        assert!(matches!(
            control_frame(r#"{"type":"accept"}"#),
            Err(DecodeError::Field {
                field: "transfer",
                ..
            })
        ));
        // Serde's derive also reads a variant's fields as an array (`["accept", 1]`); the
        // protocol sends objects only.
        assert!(matches!(
            control_frame(r#"["accept",1]"#),
            Err(DecodeError::NotAnObject)
        ));
        assert!(matches!(
            server_message("[]"),
            Err(DecodeError::NotAnObject)
        ));
        assert!(matches!(
            server_message(r#"{"type":"pong""#),
            Err(DecodeError::NotJson(_))
        ));
        assert!(matches!(
            server_message(r#"{"peer":1}"#),
            Err(DecodeError::NoType)
        ));
    }
}
