//! Data-channel frames: what peers send each other directly, never through the server.
//!
//! Every peer connection carries two pre-negotiated data channels (both ordered and
//! reliable), so neither side has to wait for the other to announce them:
//!
//! * [`CONTROL_CHANNEL`] (id [`CONTROL_CHANNEL_ID`]): JSON text messages, one
//!   [`ControlFrame`] each: chat, and the small messages that steer file transfers.
//! * [`DATA_CHANNEL`] (id [`DATA_CHANNEL_ID`]): binary messages, one [`DataChunk`] each:
//!   the bytes of files. Keeping bulk data off the control channel means a chat message
//!   never queues behind megabytes of file data.

use serde::{Deserialize, Serialize};

use crate::PeerId;

/// The longest chat line, in bytes of UTF-8: a longer one is refused, neither shown nor
/// acknowledged. (The web app's input takes 4,000 UTF-16 units, at most 12,000 bytes.)
pub const MAX_CHAT_BYTES: usize = 16_384;
/// The longest chat line id, in bytes.
pub const MAX_CHAT_ID_LEN: usize = 32;

/// Label of the control channel.
pub const CONTROL_CHANNEL: &str = "meshdrop-control";
/// Pre-negotiated stream id of the control channel.
pub const CONTROL_CHANNEL_ID: u16 = 0;
/// Label of the bulk data channel.
pub const DATA_CHANNEL: &str = "meshdrop-data";
/// Pre-negotiated stream id of the bulk data channel.
pub const DATA_CHANNEL_ID: u16 = 1;

/// Identifies one transfer among those a sender has started on a connection.
/// Chosen by the sender; unique per sender and connection.
pub type TransferId = u32;

/// One message on the control channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ControlFrame {
    /// A chat line to the receiving peer. `sent_at_ms` is the sender's clock in whole
    /// milliseconds since the Unix epoch. Version 2 web apps sent it as a float
    /// (`1795983180621.0`), which is still read, truncated. `text` holds at most
    /// [`MAX_CHAT_BYTES`] bytes.
    Chat {
        /// Names the line among the sender's, for [`ControlFrame::ChatAck`]: 1 to
        /// [`MAX_CHAT_ID_LEN`] of `0-9 a-z -`. Empty (left out) from peers that predate
        /// delivery marks; such a line is shown and never acknowledged.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        id: String,
        text: String,
        #[serde(deserialize_with = "whole_millis")]
        sent_at_ms: u64,
        /// Written to the receiver alone, not to everyone in the room.
        #[serde(default, skip_serializing_if = "is_false")]
        private: bool,
    },
    /// Receiver → sender of a chat line: the line `id` arrived (again, if it is a
    /// repeat). Sent for every `chat` with an id, however often it comes.
    ChatAck { id: String },
    /// Sender → receiver: these files are waiting for an answer.
    Offer {
        transfer: TransferId,
        files: Vec<FileMeta>,
        /// The same files go to several peers, which may fetch them from each other in
        /// this swarm (see the `swarm_*` frames). A receiver that ignores it accepts
        /// plainly and gets the files streamed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        swarm: Option<SwarmId>,
    },
    /// Receiver → sender: send them. The sender then streams every file, in order, as
    /// [`DataChunk`]s on the data channel, each followed by a [`ControlFrame::FileEnd`].
    /// With `swarm`, the receiver takes part in the offer's swarm instead: nothing is
    /// streamed, it asks for blocks, and sends `complete` once it holds them all.
    Accept {
        transfer: TransferId,
        #[serde(default, skip_serializing_if = "is_false")]
        swarm: bool,
    },
    /// Receiver → sender: no thanks. The transfer is over.
    Decline { transfer: TransferId },
    /// Either side: stop. `transfer` always names the sender's id; `reason` is for people.
    Cancel {
        transfer: TransferId,
        reason: String,
    },
    /// Either side: the transfer broke (bad digest, more bytes than announced, a source
    /// file changed); both ends end Failed. `transfer` and `reason` as in
    /// [`ControlFrame::Cancel`].
    Fail {
        transfer: TransferId,
        reason: String,
    },
    /// Sender → receiver: file `index` of `transfer` is complete; its SHA-256 is `sha256`
    /// (lowercase hex). Sent on the control channel after the file's last chunk; the two
    /// channels are not ordered with each other, so the receiver waits until it holds all
    /// `size` bytes before it compares.
    FileEnd {
        transfer: TransferId,
        index: u32,
        sha256: String,
    },
    /// Receiver → sender: every file arrived and matched its digest.
    Complete { transfer: TransferId },
    /// Sender → receiver: the SHA-256 of block `block` (bytes from `block` MiB on; see
    /// `DIGEST_BLOCK_LEN` in the transfer engine) of file `index`, lowercase hex. Sent as
    /// soon as the sender has hashed the block, and again before the block's bytes when
    /// a `resume` asks for a block whose digest the sender already knows. The receiver
    /// checks the block once it holds both its bytes and this digest, in either order.
    Block {
        transfer: TransferId,
        index: u32,
        block: u64,
        sha256: String,
    },
    /// Receiver → sender, on a new link: go on with `transfer` by sending only what
    /// `files` lists, in that order. Files not listed are verified on this end. See
    /// [`ResumeFile`].
    Resume {
        transfer: TransferId,
        files: Vec<ResumeFile>,
    },
    /// Receiver → sender: block `block` of file `index` did not match its digest; send
    /// its bytes once more, after everything already asked for. A block is fetched again
    /// at most once: a second mismatch fails the transfer.
    Refetch {
        transfer: TransferId,
        index: u32,
        block: u64,
    },
    /// Receiver → sender, as each link's control channel opens and again as the receiver
    /// works through what came: send chunk payload bytes on this link's data channel up
    /// to `upto` in total, counted from the link's start, and then wait for the next
    /// grant. Keeps what a receiver has queued, unhandled, small: a browser's page
    /// gets data-channel messages as fast as the wire brings them, whether or not it
    /// keeps up. A peer that never sends it is sent to as fast as the channel takes.
    Credit { upto: u64 },
    /// Either side, once, when the control channel opens: what kind of device this peer
    /// runs on, so the other can show it the way people recognise their devices
    /// ("Chrome on Android", with a phone icon). Purely informative; a peer may never
    /// send it, and one that does not know it drops it like any unknown frame.
    Hello { device: Device },
    /// Either side, once per link, as the control channel opens: the SHA-256 (lowercase
    /// hex) of a fresh 32-byte nonce, the first half of the safety-number exchange. See
    /// `docs/security.md`: a peer reveals its nonce only after it holds the other's
    /// commitment, so nobody in the middle can pick a nonce that makes two safety
    /// numbers match.
    SafetyCommit { commitment: String },
    /// Either side, once it holds the other's [`ControlFrame::SafetyCommit`]: the nonce
    /// it committed to (lowercase hex).
    SafetyReveal { nonce: String },
    /// Either side of a pairing by code, once the link is up and the PAKE is done: two
    /// HMAC-SHA-256 tags (lowercase hex) under the key both sides derived from the code.
    /// `key_mac` proves the sender knows the code; `link_mac` binds the two DTLS
    /// fingerprints as the sender sees them, so a link through anybody else fails.
    PairConfirm { key_mac: String, link_mac: String },
    /// A frame of a swarm ([`SwarmFrame`]), on the wire under its own `type`. Boxed:
    /// peers that take no part in swarms (the web app) handle frames without their code.
    #[serde(untagged)]
    Swarm(Box<SwarmFrame>),
}

/// One file of a [`ControlFrame::Resume`]: the receiver lacks the blocks in `blocks`
/// (half-open ranges `[first, end)` of block numbers, ascending, not overlapping, maybe
/// none) and still needs the file's `file_end`. The sender sends those blocks' digests
/// and bytes from each block's start, then the `file_end`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumeFile {
    pub index: u32,
    pub blocks: Vec<[u64; 2]>,
}

/// A short description of a peer's device, as it describes itself. Peers may send
/// anything here: show it as text, never trust it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    pub kind: DeviceKind,
    /// Like "Chrome", "Firefox", "Safari"; empty if unknown.
    pub browser: String,
    /// Like "Android", "iOS", "Windows", "macOS", "Linux"; empty if unknown.
    pub os: String,
}

/// The shape of a device, which decides its icon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    Phone,
    Tablet,
    Desktop,
}

fn is_false(value: &bool) -> bool {
    !value
}

/// Reads a timestamp written as a non-negative integer or float, as a whole number.
fn whole_millis<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    let number = serde_json::Number::deserialize(deserializer)?;
    match (number.as_u64(), number.as_f64()) {
        (Some(whole), _) => Ok(whole),
        (None, Some(float)) if float >= 0.0 && float < u64::MAX as f64 => Ok(float as u64),
        _ => Err(serde::de::Error::custom(format!(
            "sent_at_ms must be milliseconds since 1970, not {number}"
        ))),
    }
}

/// What the receiver is told about a file before accepting it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileMeta {
    pub name: String,
    pub size: u64,
    /// MIME type as the sender's platform reported it; may be empty.
    pub mime: String,
    /// Where the file sits in a folder the sender picked, `/`-separated and relative to
    /// that folder's parent (`photos/2024/a.jpg`, ending in `name`); `None` for a loose
    /// file. Chosen by the peer, so a receiver sanitises it before creating anything
    /// (`meshdrop_transfer::SafePath`). Absent on the wire when `None`, and ignored by
    /// receivers that predate it, which save the file by `name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// A control frame between the members of a swarm: receivers of the same files that
/// fetch blocks from each other as well as from the sender, the *origin* (see
/// docs/protocol.md, "Swarms"). Every one names its swarm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum SwarmFrame {
    /// Origin → each receiver: every receiver taking part now (the origin not
    /// included), sent again whenever one joins or leaves. Receivers exchange blocks with
    /// the peers listed, over the links they already have.
    #[serde(rename = "swarm_members")]
    Members { swarm: SwarmId, peers: Vec<PeerId> },
    /// Any member → another, when it first meets it (and on every new link to it): the
    /// blocks it holds and has verified, as [`SwarmBits`].
    #[serde(rename = "swarm_have")]
    Have { swarm: SwarmId, blocks: SwarmBits },
    /// Any member → every other: it now holds block `block`, verified.
    #[serde(rename = "swarm_got")]
    Got { swarm: SwarmId, block: u32 },
    /// Any member → a member that holds `block`: send it, as [`SwarmPiece`]s on the data
    /// channel. A member keeps a few of these outstanding per link.
    #[serde(rename = "swarm_want")]
    Want { swarm: SwarmId, block: u32 },
    /// Any member → a member it sent a `swarm_want`: never mind (another peer brought the
    /// block first). A block already started is still sent whole.
    #[serde(rename = "swarm_unwant")]
    Unwant { swarm: SwarmId, block: u32 },
    /// The answer to a `swarm_want` for a block the member cannot serve: the asker asks
    /// someone else.
    #[serde(rename = "swarm_refuse")]
    Refuse { swarm: SwarmId, block: u32 },
    /// Origin → each receiver, over the origin's own link only: the SHA-256 of blocks
    /// `first`, `first + 1`, … (lowercase hex), as the origin learns them by reading the
    /// files. A receiver checks every block against these, whoever served it.
    #[serde(rename = "swarm_digests")]
    Digests {
        swarm: SwarmId,
        first: u32,
        sha256: Vec<String>,
    },
}

impl SwarmFrame {
    /// The swarm the frame is about.
    pub fn swarm(&self) -> SwarmId {
        match self {
            Self::Members { swarm, .. }
            | Self::Have { swarm, .. }
            | Self::Got { swarm, .. }
            | Self::Want { swarm, .. }
            | Self::Unwant { swarm, .. }
            | Self::Refuse { swarm, .. }
            | Self::Digests { swarm, .. } => *swarm,
        }
    }
}

/// Names one swarm among those of a room: a random number the origin picks.
pub type SwarmId = u32;

/// Which blocks of a swarm a member holds: bit `n` (the byte `n / 8`, from its most
/// significant bit) for block `n`, as lowercase hex; blocks past the end are 0.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SwarmBits(pub String);

/// Bytes of one block of a swarm on the data channel, in answer to a `swarm_want`. On
/// the wire: [`SWARM_PIECE_MARK`], then the swarm id, the block and the offset of the
/// bytes within the block, each a 4-byte big-endian integer, then the bytes. A member
/// sends the pieces of a block in order and without other pieces between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SwarmPiece<'a> {
    pub swarm: SwarmId,
    pub block: u32,
    pub offset: u32,
    pub payload: &'a [u8],
}

/// The first four bytes of a [`SwarmPiece`]: the one transfer id a [`DataChunk`] never
/// carries, so both share the data channel.
pub const SWARM_PIECE_MARK: [u8; 4] = [0xff; 4];

/// Bytes in front of every swarm piece's payload.
pub const SWARM_PIECE_HEADER_LEN: usize = 16;

impl<'a> SwarmPiece<'a> {
    /// Whether a data-channel message is a swarm piece rather than a [`DataChunk`].
    pub fn is_piece(message: &[u8]) -> bool {
        message.starts_with(&SWARM_PIECE_MARK)
    }

    /// Write header and payload into `out`, replacing its contents.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.clear();
        out.reserve(SWARM_PIECE_HEADER_LEN + self.payload.len());
        out.extend_from_slice(&SWARM_PIECE_MARK);
        for field in [self.swarm, self.block, self.offset] {
            out.extend_from_slice(&field.to_be_bytes());
        }
        out.extend_from_slice(self.payload);
    }

    /// Reads a message that [`SwarmPiece::is_piece`] said is one.
    pub fn decode(message: &'a [u8]) -> Result<Self, ShortChunk> {
        let (header, payload) = message
            .split_first_chunk::<SWARM_PIECE_HEADER_LEN>()
            .ok_or(ShortChunk(message.len()))?;
        let field = |at: usize| u32::from_be_bytes(header[at..at + 4].try_into().unwrap());
        Ok(Self {
            swarm: field(4),
            block: field(8),
            offset: field(12),
            payload,
        })
    }
}

/// The largest message every peer takes on a data channel: a connection that does not
/// say (no `max-message-size` in its SDP) takes 64 KiB. Used where the connection's own
/// maximum is not known.
pub const MIN_MAX_MESSAGE_LEN: usize = 64 * 1024;

/// The largest message a Meshdrop peer sends on a data channel (a chunk, an offer), where
/// the connection takes it: browsers take 256 KiB and more, and native peers advertise
/// this much. Fewer, larger messages cost both ends less CPU per byte.
pub const MAX_MESSAGE_LEN: usize = 256 * 1024;

/// The largest message to send on a connection that takes messages of
/// `max_message_size` bytes.
pub fn message_len_for(max_message_size: usize) -> usize {
    max_message_size.min(MAX_MESSAGE_LEN)
}

/// `files` in runs of whole files, in order, each small enough that its `offer` frame
/// fits a message of `max_message_len` bytes: an offer is one control message, so a
/// folder of more files than one holds goes as several offers. A file whose offer alone
/// would not fit still gets a run of its own (the connection will refuse it).
pub fn offers_within(files: Vec<FileMeta>, max_message_len: usize) -> Vec<Vec<FileMeta>> {
    offers_within_by(files, max_message_len, |frame| {
        serde_json::to_string(frame).map_or(usize::MAX, |text| text.len())
    })
}

/// [`offers_within`], with frames measured by `encoded_len`: for a peer that writes its
/// frames' JSON by other means than serde (the web app, for less wasm), the same bytes.
pub fn offers_within_by(
    files: Vec<FileMeta>,
    max_message_len: usize,
    encoded_len: impl Fn(&ControlFrame) -> usize,
) -> Vec<Vec<FileMeta>> {
    let frame_len = |files: Vec<FileMeta>| {
        encoded_len(&ControlFrame::Offer {
            transfer: TransferId::MAX,
            files,
            swarm: Some(SwarmId::MAX),
        })
    };
    let empty_len = frame_len(Vec::new());
    let mut runs: Vec<Vec<FileMeta>> = Vec::new();
    let mut run_len = empty_len;
    for file in files {
        // One more file in the run: its JSON, and a comma unless it is the first.
        let file_len = frame_len(vec![file.clone()]) - empty_len;
        match runs.last_mut() {
            Some(run) if run_len + 1 + file_len <= max_message_len => {
                run_len += 1 + file_len;
                run.push(file);
            }
            _ => {
                run_len = empty_len + file_len;
                runs.push(vec![file]);
            }
        }
    }
    runs
}

/// Bytes of the files of one transfer, in order. On the wire: the transfer id as a
/// 4-byte big-endian integer, then the payload. Offsets are implicit because the data
/// channel is ordered and reliable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataChunk<'a> {
    pub transfer: TransferId,
    pub payload: &'a [u8],
}

/// Bytes in front of every chunk's payload.
pub const CHUNK_HEADER_LEN: usize = 4;

/// A binary message too short to hold a chunk header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("data-channel message of {0} bytes is shorter than its header")]
pub struct ShortChunk(pub usize);

impl<'a> DataChunk<'a> {
    /// Write header and payload into `out`, replacing its contents.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.clear();
        out.reserve(CHUNK_HEADER_LEN + self.payload.len());
        out.extend_from_slice(&Self::header(self.transfer));
        out.extend_from_slice(self.payload);
    }

    /// The header in front of every chunk of `transfer`, for a sender that puts the
    /// payload behind it itself.
    pub fn header(transfer: TransferId) -> [u8; CHUNK_HEADER_LEN] {
        transfer.to_be_bytes()
    }

    pub fn decode(message: &'a [u8]) -> Result<Self, ShortChunk> {
        let (header, payload) = message
            .split_first_chunk::<CHUNK_HEADER_LEN>()
            .ok_or(ShortChunk(message.len()))?;
        Ok(Self {
            transfer: Self::transfer_in(*header),
            payload,
        })
    }

    /// The transfer a chunk's header names, for a receiver that keeps the payload apart.
    pub fn transfer_in(header: [u8; CHUNK_HEADER_LEN]) -> TransferId {
        TransferId::from_be_bytes(header)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn chunk_round_trips() {
        let mut wire = Vec::new();
        DataChunk {
            transfer: 0x0102_0304,
            payload: b"abc",
        }
        .encode_into(&mut wire);
        assert_eq!(wire, [1, 2, 3, 4, b'a', b'b', b'c']);
        let chunk = DataChunk::decode(&wire).unwrap();
        assert_eq!(chunk.transfer, 0x0102_0304);
        assert_eq!(chunk.payload, b"abc");
    }

    #[test]
    fn empty_payload_is_allowed_and_short_header_is_not() {
        assert_eq!(DataChunk::decode(&[0, 0, 0, 7]).unwrap().payload, b"");
        assert_eq!(DataChunk::decode(&[0, 0, 7]), Err(ShortChunk(3)));
    }

    #[test]
    fn a_folder_too_large_for_one_offer_goes_as_offers_that_each_fit() {
        let files: Vec<FileMeta> = (0..3000)
            .map(|n| FileMeta {
                name: format!("Grüße \"{n}\".txt"),
                size: n,
                mime: "text/plain".into(),
                path: Some(format!("album/{}/Grüße \"{n}\".txt", n % 7)),
            })
            .collect();
        let runs = offers_within(files.clone(), MIN_MAX_MESSAGE_LEN);
        assert!(runs.len() > 1, "3,000 files do not fit one 64 KiB offer");
        for (at, run) in runs.iter().enumerate() {
            let frame = ControlFrame::Offer {
                transfer: TransferId::MAX,
                files: run.clone(),
                swarm: Some(SwarmId::MAX),
            };
            let len = serde_json::to_string(&frame).unwrap().len();
            assert!(len <= MIN_MAX_MESSAGE_LEN, "{len} bytes");
            // Runs but the last are packed: the next file would not have fitted.
            let last = at == runs.len() - 1;
            assert!(last || len > MIN_MAX_MESSAGE_LEN - 200, "{len} bytes");
        }
        assert_eq!(runs.concat(), files, "every file once, in order");
        assert_eq!(
            offers_within(files[..3].to_vec(), MIN_MAX_MESSAGE_LEN).len(),
            1
        );
        assert!(offers_within(Vec::new(), MIN_MAX_MESSAGE_LEN).is_empty());
        assert_eq!(
            offers_within(files[..2].to_vec(), 10).len(),
            2,
            "one file per run"
        );
    }

    #[test]
    fn control_frames_are_tagged_json() {
        let frame = ControlFrame::Offer {
            transfer: 7,
            swarm: None,
            files: vec![FileMeta {
                name: "a.txt".into(),
                size: 1,
                mime: "text/plain".into(),
                path: None,
            }],
        };
        assert_eq!(
            serde_json::to_value(&frame).unwrap(),
            json!({"type": "offer", "transfer": 7, "files": [{"name": "a.txt", "size": 1, "mime": "text/plain"}]})
        );
    }

    #[test]
    fn chat_times_are_whole_milliseconds_and_floats_are_still_read() {
        let frame = ControlFrame::Chat {
            id: String::new(),
            text: "hi".into(),
            sent_at_ms: 1_795_983_180_621,
            private: false,
        };
        let wire = json!({"type": "chat", "text": "hi", "sent_at_ms": 1_795_983_180_621_u64});
        assert_eq!(serde_json::to_value(&frame).unwrap(), wire);
        let from_v2 = r#"{"type":"chat","text":"hi","sent_at_ms":1795983180621.0}"#;
        assert_eq!(
            serde_json::from_str::<ControlFrame>(from_v2).unwrap(),
            frame
        );
        for bad in ["-1", "\"noon\"", "1e300"] {
            let text = format!(r#"{{"type":"chat","text":"hi","sent_at_ms":{bad}}}"#);
            assert!(
                serde_json::from_str::<ControlFrame>(&text).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn chat_lines_carry_an_id_and_privacy_only_when_they_have_them() {
        let frame = ControlFrame::Chat {
            id: "1f-3".into(),
            text: "hi".into(),
            sent_at_ms: 5,
            private: true,
        };
        let wire =
            json!({"type": "chat", "id": "1f-3", "text": "hi", "sent_at_ms": 5, "private": true});
        assert_eq!(serde_json::to_value(&frame).unwrap(), wire);
        assert_eq!(serde_json::from_value::<ControlFrame>(wire).unwrap(), frame);
        let ack = ControlFrame::ChatAck { id: "1f-3".into() };
        assert_eq!(
            serde_json::to_value(&ack).unwrap(),
            json!({"type": "chat_ack", "id": "1f-3"})
        );
    }

    #[test]
    fn a_file_in_a_folder_carries_its_path_and_old_offers_still_parse() {
        let file = FileMeta {
            name: "a.jpg".into(),
            size: 2,
            mime: String::new(),
            path: Some("photos/2024/a.jpg".into()),
        };
        let wire = json!({"name": "a.jpg", "size": 2, "mime": "", "path": "photos/2024/a.jpg"});
        assert_eq!(serde_json::to_value(&file).unwrap(), wire);
        assert_eq!(serde_json::from_value::<FileMeta>(wire).unwrap(), file);
        let loose = json!({"name": "a.jpg", "size": 2, "mime": ""});
        assert_eq!(
            serde_json::from_value::<FileMeta>(loose).unwrap().path,
            None
        );
    }

    #[test]
    fn hello_frames_carry_the_device() {
        let frame = ControlFrame::Hello {
            device: Device {
                kind: DeviceKind::Phone,
                browser: "Chrome".into(),
                os: "Android".into(),
            },
        };
        let wire = json!({"type": "hello", "device": {"kind": "phone", "browser": "Chrome", "os": "Android"}});
        assert_eq!(serde_json::to_value(&frame).unwrap(), wire);
        assert_eq!(serde_json::from_value::<ControlFrame>(wire).unwrap(), frame);
    }

    #[test]
    fn fail_frames_round_trip_as_tagged_json() {
        let frame = ControlFrame::Fail {
            transfer: 3,
            reason: "bad digest".into(),
        };
        let wire = json!({"type": "fail", "transfer": 3, "reason": "bad digest"});
        assert_eq!(serde_json::to_value(&frame).unwrap(), wire);
        assert_eq!(serde_json::from_value::<ControlFrame>(wire).unwrap(), frame);
    }

    #[test]
    fn swarm_frames_read_and_write_under_their_own_types() {
        let frames = [
            (
                SwarmFrame::Have {
                    swarm: 9,
                    blocks: SwarmBits("80".into()),
                },
                json!({"type": "swarm_have", "swarm": 9, "blocks": "80"}),
            ),
            (
                SwarmFrame::Digests {
                    swarm: 9,
                    first: 3,
                    sha256: vec!["ab".repeat(32)],
                },
                json!({"type": "swarm_digests", "swarm": 9, "first": 3, "sha256": ["ab".repeat(32)]}),
            ),
        ];
        for (frame, wire) in frames {
            let frame = ControlFrame::Swarm(Box::new(frame));
            assert_eq!(serde_json::to_value(&frame).unwrap(), wire);
            assert_eq!(serde_json::from_value::<ControlFrame>(wire).unwrap(), frame);
        }
        let unknown = json!({"type": "swarm_dance", "swarm": 9});
        assert!(serde_json::from_value::<ControlFrame>(unknown).is_err());
        let piece = SwarmPiece {
            swarm: 9,
            block: 2,
            offset: 65_520,
            payload: b"xyz",
        };
        let mut wire = Vec::new();
        piece.encode_into(&mut wire);
        assert!(SwarmPiece::is_piece(&wire));
        assert_eq!(SwarmPiece::decode(&wire), Ok(piece));
        assert_eq!(SwarmPiece::decode(&wire[..15]), Err(ShortChunk(15)));
    }

    #[test]
    fn resume_and_credit_frames_have_the_documented_shape() {
        let frames = [
            (
                ControlFrame::Block {
                    transfer: 2,
                    index: 0,
                    block: 5,
                    sha256: "ab".repeat(32),
                },
                json!({"type": "block", "transfer": 2, "index": 0, "block": 5, "sha256": "ab".repeat(32)}),
            ),
            (
                ControlFrame::Resume {
                    transfer: 2,
                    files: vec![
                        ResumeFile {
                            index: 0,
                            blocks: vec![[0, 3], [7, 8]],
                        },
                        ResumeFile {
                            index: 2,
                            blocks: vec![],
                        },
                    ],
                },
                json!({"type": "resume", "transfer": 2, "files": [
                    {"index": 0, "blocks": [[0, 3], [7, 8]]}, {"index": 2, "blocks": []}
                ]}),
            ),
            (
                ControlFrame::Refetch {
                    transfer: 2,
                    index: 1,
                    block: 4,
                },
                json!({"type": "refetch", "transfer": 2, "index": 1, "block": 4}),
            ),
            (
                ControlFrame::Credit { upto: 2 << 20 },
                json!({"type": "credit", "upto": 2_097_152}),
            ),
        ];
        for (frame, wire) in frames {
            assert_eq!(serde_json::to_value(&frame).unwrap(), wire);
            assert_eq!(serde_json::from_value::<ControlFrame>(wire).unwrap(), frame);
        }
    }
}
