//! Writes the JSON the app sends and keeps: the same bytes as `serde_json::to_string` of
//! the protocol's derives, for much less wasm.
//!
//! Serde's serializer is generic over every type it writes: each derive is its own code,
//! and with it comes the serializer's machinery. The app writes a handful of shapes, so
//! [`Json`] is a string with a few appending methods and each shape is one function
//! here; the tests below check every one against serde, byte for byte, variant by
//! variant. (Reading is [`crate::decode`]'s.)

use std::fmt::Write;

use meshdrop_chat::Line;
use meshdrop_protocol::frame::{ControlFrame, Device, DeviceKind, FileMeta, ResumeFile};
use meshdrop_protocol::signaling::{IceServer, Signal};
use meshdrop_protocol::{PeerId, RoomId};
use meshdrop_verify::KnownDevices;

/// JSON text being written. An object or array is opened with `{`/`[`; every key or
/// item after the first is preceded by a comma.
struct Json(String);

impl Json {
    /// An object that starts with `"type":kind`, as the protocol's tagged enums do.
    fn tagged(tag: &str, kind: &str) -> Self {
        let mut json = Self(String::from("{"));
        json.key(tag).string(kind);
        json
    }

    /// Starts `{` or `[`, as an item of the array being written if there is one.
    fn open(&mut self, bracket: char) -> &mut Self {
        self.item();
        self.0.push(bracket);
        self
    }

    fn close(&mut self, bracket: char) -> &mut Self {
        self.0.push(bracket);
        self
    }

    /// A comma unless this is the first key or item of its object or array.
    fn item(&mut self) -> &mut Self {
        if !self.0.is_empty() && !self.0.ends_with(['{', '[', ':']) {
            self.0.push(',');
        }
        self
    }

    fn key(&mut self, key: &str) -> &mut Self {
        self.string(key);
        self.0.push(':');
        self
    }

    /// A string, escaped as serde_json does: quote, backslash and control characters.
    /// Runs between those are copied whole: a history of a thousand lines is written
    /// at each change.
    fn string(&mut self, text: &str) -> &mut Self {
        self.item();
        self.0.push('"');
        let mut rest = text;
        // Every character escaped is ASCII, so `at` is a character's boundary.
        while let Some(at) = rest
            .bytes()
            .position(|b| b == b'"' || b == b'\\' || b < b' ')
        {
            self.0.push_str(&rest[..at]);
            let _ = match rest.as_bytes()[at] {
                b'"' => self.0.write_str("\\\""),
                b'\\' => self.0.write_str("\\\\"),
                b'\n' => self.0.write_str("\\n"),
                b'\r' => self.0.write_str("\\r"),
                b'\t' => self.0.write_str("\\t"),
                0x08 => self.0.write_str("\\b"),
                0x0c => self.0.write_str("\\f"),
                control => write!(self.0, "\\u{:04x}", control),
            };
            rest = &rest[at + 1..];
        }
        self.0.push_str(rest);
        self.0.push('"');
        self
    }

    fn number(&mut self, number: u64) -> &mut Self {
        self.item();
        let _ = write!(self.0, "{number}");
        self
    }

    fn bool(&mut self, value: bool) -> &mut Self {
        self.item();
        self.0.push_str(if value { "true" } else { "false" });
        self
    }

    fn optional(&mut self, text: Option<&str>) -> &mut Self {
        match text {
            Some(text) => self.string(text),
            None => {
                self.item();
                self.0.push_str("null");
                self
            }
        }
    }

    /// `"key":"text"`, left out when `text` is `None` (serde's `skip_serializing_if`).
    fn unless_none(&mut self, key: &str, text: Option<&str>) -> &mut Self {
        if let Some(text) = text {
            self.key(key).string(text);
        }
        self
    }

    fn strings<'a>(&mut self, texts: impl IntoIterator<Item = &'a str>) -> &mut Self {
        self.open('[');
        for text in texts {
            self.string(text);
        }
        self.close(']')
    }

    fn files(&mut self, files: &[FileMeta]) -> &mut Self {
        self.open('[');
        for file in files {
            self.open('{');
            self.key("name").string(&file.name);
            self.key("size").number(file.size);
            self.key("mime").string(&file.mime);
            self.unless_none("path", file.path.as_deref());
            self.close('}');
        }
        self.close(']')
    }

    fn resume_files(&mut self, files: &[ResumeFile]) -> &mut Self {
        self.open('[');
        for file in files {
            self.open('{');
            self.key("index").number(file.index.into());
            self.key("blocks").open('[');
            for [from, to] in &file.blocks {
                self.open('[').number(*from).number(*to).close(']');
            }
            self.close(']').close('}');
        }
        self.close(']')
    }

    fn device(&mut self, device: &Device) -> &mut Self {
        let kind = match device.kind {
            DeviceKind::Phone => "phone",
            DeviceKind::Tablet => "tablet",
            DeviceKind::Desktop => "desktop",
        };
        self.open('{');
        self.key("kind").string(kind);
        self.key("browser").string(&device.browser);
        self.key("os").string(&device.os);
        self.close('}')
    }

    /// A signal's object as `SignalObject::from` makes it: its fields in key order.
    fn signal(&mut self, signal: &Signal) -> &mut Self {
        self.open('{');
        match signal {
            Signal::Offer { sdp } | Signal::Answer { sdp } => {
                let kind = if matches!(signal, Signal::Offer { .. }) {
                    "offer"
                } else {
                    "answer"
                };
                self.key("kind").string(kind);
                self.key("sdp").string(sdp);
            }
            Signal::Candidate {
                candidate,
                sdp_mid,
                sdp_m_line_index,
                username_fragment,
            } => {
                self.key("candidate").string(candidate);
                self.key("kind").string("candidate");
                if let Some(index) = sdp_m_line_index {
                    self.key("sdp_m_line_index").number((*index).into());
                }
                self.unless_none("sdp_mid", sdp_mid.as_deref());
                self.unless_none("username_fragment", username_fragment.as_deref());
            }
            Signal::Pake { message } => {
                self.key("kind").string("pake");
                self.key("message").string(message);
            }
        }
        self.close('}')
    }

    fn end(mut self) -> String {
        self.0.push('}');
        self.0
    }
}

/// A frame for the control channel.
pub fn control_frame(frame: &ControlFrame) -> String {
    let transfer = |kind: &str, transfer: &u32| {
        let mut json = Json::tagged("type", kind);
        json.key("transfer").number((*transfer).into());
        json
    };
    let json = match frame {
        ControlFrame::Chat {
            id,
            text,
            sent_at_ms,
            private,
        } => {
            let mut json = Json::tagged("type", "chat");
            json.unless_none("id", Some(id.as_str()).filter(|id| !id.is_empty()));
            json.key("text").string(text);
            json.key("sent_at_ms").number(*sent_at_ms);
            if *private {
                json.key("private").bool(true);
            }
            json
        }
        ControlFrame::ChatAck { id } => {
            let mut json = Json::tagged("type", "chat_ack");
            json.key("id").string(id);
            json
        }
        ControlFrame::Offer {
            transfer: id,
            files,
            swarm,
        } => {
            let mut json = transfer("offer", id);
            json.key("files").files(files);
            if let Some(swarm) = swarm {
                json.key("swarm").number(u64::from(*swarm));
            }
            json
        }
        ControlFrame::Accept {
            transfer: id,
            swarm,
        } => {
            let mut json = transfer("accept", id);
            if *swarm {
                json.key("swarm").bool(true);
            }
            json
        }
        ControlFrame::Decline { transfer: id } => transfer("decline", id),
        ControlFrame::Cancel {
            transfer: id,
            reason,
        } => {
            let mut json = transfer("cancel", id);
            json.key("reason").string(reason);
            json
        }
        ControlFrame::Fail {
            transfer: id,
            reason,
        } => {
            let mut json = transfer("fail", id);
            json.key("reason").string(reason);
            json
        }
        ControlFrame::FileEnd {
            transfer: id,
            index,
            sha256,
        } => {
            let mut json = transfer("file_end", id);
            json.key("index").number((*index).into());
            json.key("sha256").string(sha256);
            json
        }
        ControlFrame::Complete { transfer: id } => transfer("complete", id),
        ControlFrame::Block {
            transfer: id,
            index,
            block,
            sha256,
        } => {
            let mut json = transfer("block", id);
            json.key("index").number((*index).into());
            json.key("block").number(*block);
            json.key("sha256").string(sha256);
            json
        }
        ControlFrame::Resume {
            transfer: id,
            files,
        } => {
            let mut json = transfer("resume", id);
            json.key("files").resume_files(files);
            json
        }
        ControlFrame::Refetch {
            transfer: id,
            index,
            block,
        } => {
            let mut json = transfer("refetch", id);
            json.key("index").number((*index).into());
            json.key("block").number(*block);
            json
        }
        ControlFrame::Credit { upto } => {
            let mut json = Json::tagged("type", "credit");
            json.key("upto").number(*upto);
            json
        }
        ControlFrame::Hello { device } => {
            let mut json = Json::tagged("type", "hello");
            json.key("device").device(device);
            json
        }
        ControlFrame::SafetyCommit { commitment } => {
            let mut json = Json::tagged("type", "safety_commit");
            json.key("commitment").string(commitment);
            json
        }
        ControlFrame::SafetyReveal { nonce } => {
            let mut json = Json::tagged("type", "safety_reveal");
            json.key("nonce").string(nonce);
            json
        }
        ControlFrame::PairConfirm { key_mac, link_mac } => {
            let mut json = Json::tagged("type", "pair_confirm");
            json.key("key_mac").string(key_mac);
            json.key("link_mac").string(link_mac);
            json
        }
        // Its swarm module writes these itself (mesh/swarms.rs).
        ControlFrame::Swarm(_) => unreachable!("the page makes no swarm frames"),
    };
    json.end()
}

/// `ClientMessage::Join`.
pub fn join(version: u32, room: Option<&RoomId>, name: &str, session_key: &str) -> String {
    let mut json = Json::tagged("type", "join");
    json.key("version").number(version.into());
    json.unless_none("room", room.map(RoomId::as_str));
    json.key("name").string(name);
    json.key("session_key").string(session_key);
    json.end()
}

/// `ClientMessage::Rename`.
pub fn rename(name: &str) -> String {
    let mut json = Json::tagged("type", "rename");
    json.key("name").string(name);
    json.end()
}

/// `ClientMessage::Ping`.
pub const PING: &str = r#"{"type":"ping"}"#;

/// `ClientMessage::Signal` carrying `signal` to `to`.
pub fn signal_message(to: &PeerId, signal: &Signal) -> String {
    let mut json = Json::tagged("type", "signal");
    json.key("to").string(to.as_str());
    json.key("signal").signal(signal);
    json.end()
}

/// `RTCConfiguration.iceServers`.
pub fn ice_servers(servers: &[IceServer]) -> String {
    let mut json = Json(String::new());
    json.open('[');
    for server in servers {
        json.open('{');
        json.key("urls")
            .strings(server.urls.iter().map(String::as_str));
        json.unless_none("username", server.username.as_deref());
        json.unless_none("credential", server.credential.as_deref());
        json.close('}');
    }
    json.close(']');
    json.0
}

/// The devices verified on this browser, as `localStorage` keeps them.
pub fn known_devices(known: &KnownDevices) -> String {
    let mut json = Json(String::new());
    json.open('[');
    for device in known.iter() {
        json.open('{');
        json.key("fingerprint").string(&device.fingerprint);
        json.key("name").string(&device.name);
        json.key("paired").bool(device.paired);
        json.close('}');
    }
    json.close(']');
    json.0
}

/// A room's chat history, as IndexedDB keeps it: the lines as serde writes them.
pub fn chat_lines<'a>(lines: impl IntoIterator<Item = &'a Line>) -> String {
    let mut json = Json(String::new());
    json.open('[');
    for line in lines {
        json.open('{');
        json.key("id").string(&line.id);
        json.key("from").string(line.from.as_str());
        json.key("name").string(&line.name);
        json.key("mine").bool(line.mine);
        json.key("to")
            .optional(line.to.as_ref().map(PeerId::as_str));
        json.key("text").string(&line.text);
        json.key("sent_at_ms").number(line.sent_at_ms);
        json.key("receipts").open('[');
        for receipt in &line.receipts {
            json.open('{');
            json.key("peer").string(receipt.peer.as_str());
            json.key("delivered").bool(receipt.delivered);
            json.close('}');
        }
        json.close(']');
        json.close('}');
    }
    json.close(']');
    json.0
}

/// A kept record of files with one string (or `null`) per file under `per_file`.
pub fn files_record<'a>(
    files: &[FileMeta],
    per_file: &str,
    values: impl IntoIterator<Item = Option<&'a str>>,
) -> String {
    let mut json = Json(String::from("{"));
    json.key("files").files(files);
    json.key(per_file).open('[');
    for value in values {
        json.optional(value);
    }
    json.close(']');
    json.end()
}

#[cfg(test)]
mod tests {
    use meshdrop_protocol::signaling::{ClientMessage, SignalObject};
    use meshdrop_protocol::PROTOCOL_VERSION;

    use super::*;
    use crate::decode::tests::control_frames;
    use meshdrop_chat::Receipt;

    fn serde(value: &impl serde::Serialize) -> String {
        serde_json::to_string(value).unwrap()
    }

    #[test]
    fn writes_chat_history_as_serde_does() {
        let lines = vec![
            Line {
                id: "1f-0".into(),
                from: PeerId::new("aaaa000000000001").unwrap(),
                name: "Ann \"A\"".into(),
                mine: true,
                to: Some(PeerId::new("bbbb000000000002").unwrap()),
                text: "see https://a.example\n<b>".into(),
                sent_at_ms: 1_795_983_180_621,
                receipts: vec![Receipt {
                    peer: PeerId::new("bbbb000000000002").unwrap(),
                    delivered: true,
                }],
                earlier: false,
            },
            Line {
                id: String::new(),
                from: PeerId::new("cccc000000000003").unwrap(),
                name: "Cy".into(),
                mine: false,
                to: None,
                text: "é😀".into(),
                sent_at_ms: 0,
                receipts: Vec::new(),
                earlier: true,
            },
        ];
        let written = chat_lines(&lines);
        assert_eq!(written, serde_json::to_string(&lines).unwrap());
    }

    #[test]
    fn writes_every_control_frame_as_serde_does() {
        let mut frames = control_frames();
        // Every character JSON escapes, and some it does not.
        frames.push(ControlFrame::Chat {
            id: "0".into(),
            text: "\u{0}\u{1}\u{8}\t\n\u{b}\u{c}\r\u{1f} \"\\/\u{7f}é😀".into(),
            sent_at_ms: 0,
            private: false,
        });
        frames.push(ControlFrame::Offer {
            transfer: 0,
            files: Vec::new(),
            swarm: None,
        });
        frames.push(ControlFrame::Resume {
            transfer: 1,
            files: Vec::new(),
        });
        for kind in [DeviceKind::Phone, DeviceKind::Tablet, DeviceKind::Desktop] {
            frames.push(ControlFrame::Hello {
                device: Device {
                    kind,
                    browser: String::new(),
                    os: "\"".into(),
                },
            });
        }
        for frame in frames {
            assert_eq!(control_frame(&frame), serde(&frame));
        }
    }

    #[test]
    fn writes_every_client_message_as_serde_does() {
        let to = PeerId::new("0123456789abcdef").unwrap();
        let signals = [
            Signal::Offer {
                sdp: "v=0\r\n".into(),
            },
            Signal::Answer { sdp: "v=1".into() },
            Signal::Candidate {
                candidate: "candidate:1 1 udp 1 10.0.0.1 9 typ host".into(),
                sdp_mid: Some("0".into()),
                sdp_m_line_index: Some(u16::MAX),
                username_fragment: Some("frag".into()),
            },
            Signal::Candidate {
                candidate: String::new(),
                sdp_mid: None,
                sdp_m_line_index: None,
                username_fragment: None,
            },
            Signal::Pake {
                message: "53".repeat(33),
            },
        ];
        for signal in signals {
            let message = ClientMessage::Signal {
                to: to.clone(),
                signal: SignalObject::from(signal.clone()),
            };
            assert_eq!(signal_message(&to, &signal), serde(&message));
        }
        for room in [None, Some(RoomId::new("room-1").unwrap())] {
            let message = ClientMessage::Join {
                version: PROTOCOL_VERSION,
                room: room.clone(),
                name: "Quiet \"Otter\"".into(),
                session_key: "key".into(),
            };
            let written = join(PROTOCOL_VERSION, room.as_ref(), "Quiet \"Otter\"", "key");
            assert_eq!(written, serde(&message));
        }
        let renamed = ClientMessage::Rename { name: "Ann".into() };
        assert_eq!(rename("Ann"), serde(&renamed));
        assert_eq!(PING, serde(&ClientMessage::Ping));
    }

    #[test]
    fn writes_ice_servers_and_verified_devices_as_serde_does() {
        let servers = vec![
            IceServer {
                urls: vec!["stun:127.0.0.1:3478".into(), "turn:[::1]:3478".into()],
                username: Some("u".into()),
                credential: Some("c".into()),
            },
            IceServer {
                urls: Vec::new(),
                username: None,
                credential: None,
            },
        ];
        assert_eq!(ice_servers(&servers), serde(&servers));
        assert_eq!(ice_servers(&[]), "[]");

        let mut known = KnownDevices::default();
        assert_eq!(known_devices(&known), serde(&known));
        known.verify("Sam's \"phone\"", "sha-256 AB:CD", true);
        known.verify("Ann", "sha-256 01:23", false);
        assert_eq!(known_devices(&known), serde(&known));
    }
}
