//! Chat, without I/O: the lines of a room, who each of ours is for and who has it.
//!
//! The web app and the native peer both keep one [`Chat`] per room and drive it the
//! same way as the mesh rules (in the style of str0m): tell it what happened (a line
//! written, a frame heard, a link up or down, a peer gone) and send every
//! [`Output::Send`] that [`Chat::poll_output`] returns on that peer's control channel.
//! What it keeps is what the page shows and what a device stores as history.
//!
//! The rules (see also `docs/protocol.md`, "Chat"):
//! * **Every line has an id**, unique among its sender's lines, and goes to everyone
//!   in the room or to one peer alone (`private`).
//! * **Every receiver acknowledges** each line with an id (`chat_ack`), a repeat too;
//!   the sender marks the line delivered to that peer.
//! * **Delivery waits for a link.** A line is sent at once to each recipient whose link
//!   is up. When a link comes up (again), the recipient gets every line of ours it has
//!   not acknowledged, in the order written: lines written while it was away, and any
//!   sent on a link that died before the ack came back.
//! * **Once.** A line heard again (same sender, same id) is acknowledged and not shown
//!   twice.
//! * **History.** A chat keeps at most [`Chat::limit`] lines, dropping the oldest; lines
//!   restored from a device's history are [`Line::earlier`]. Lines of ours from an
//!   earlier run under another peer id are not delivered any more: a receiver would
//!   take them for a stranger's.

pub mod links;

use meshdrop_protocol::frame::{ControlFrame, MAX_CHAT_BYTES, MAX_CHAT_ID_LEN};
use meshdrop_protocol::PeerId;
use meshdrop_sorted_map::SortedMap;
use serde::{Deserialize, Serialize};

/// How many lines a room keeps by default.
pub const DEFAULT_LIMIT: usize = 1_000;

/// One line of the chat, ours or a peer's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    /// Unique among `from`'s lines; empty for a line from a peer that sends none.
    pub id: String,
    pub from: PeerId,
    /// The sender's display name when the line was written or heard, for a history
    /// read after the sender is gone.
    pub name: String,
    /// Whether we wrote it (under this run's peer id or an earlier one).
    pub mine: bool,
    /// The one peer it was written to, or `None` for everyone in the room. A private
    /// line we heard names us.
    pub to: Option<PeerId>,
    pub text: String,
    /// The sender's clock, milliseconds since the Unix epoch.
    pub sent_at_ms: u64,
    /// Ours only: every recipient, and whether it has acknowledged the line.
    pub receipts: Vec<Receipt>,
    /// Restored from history: written or heard before this run.
    #[serde(skip)]
    pub earlier: bool,
}

impl Line {
    pub fn is_private(&self) -> bool {
        self.to.is_some()
    }

    /// Whether `peer` has acknowledged this line of ours.
    pub fn delivered_to(&self, peer: &PeerId) -> bool {
        self.receipts
            .iter()
            .any(|receipt| &receipt.peer == peer && receipt.delivered)
    }
}

/// A recipient of a line of ours, and whether the line reached it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub peer: PeerId,
    pub delivered: bool,
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Send `frame` to `peer` on its control channel, whose link is up.
    Send { peer: PeerId, frame: ControlFrame },
}

/// What a frame heard from a peer was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// A new line, now the last of [`Chat::lines`].
    Line,
    /// A line already shown; it is acknowledged again.
    Repeat,
    /// `peer` acknowledged our line `id` for the first time.
    Delivered { id: String },
    /// An acknowledgement already counted.
    AlreadyDelivered,
}

/// Why a line was not written or a frame not taken. Nothing is lost by it: the chat is
/// as it was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChatError {
    #[error("a chat line is empty")]
    Empty,
    #[error("a chat line of {bytes} bytes is longer than the limit of {MAX_CHAT_BYTES}")]
    TooLong { bytes: usize },
    #[error("chat line id {id:?} is not 1 to {MAX_CHAT_ID_LEN} of 0-9 a-z -")]
    BadId { id: String },
    #[error("{peer} is not in the room, so it cannot be written to")]
    UnknownPeer { peer: PeerId },
    #[error("{peer} acknowledged chat line {id:?}, which was never sent to it")]
    UnknownLine { peer: PeerId, id: String },
    #[error("not a chat frame")]
    NotChat,
    /// From a driver that has no chat yet: the server has not let us into a room.
    #[error("not in a room yet")]
    NotInRoom,
}

/// A peer that can be written to: met over a link, not reported gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    Up,
    Down,
}

/// The chat of one room; see the module documentation for its rules.
#[derive(Debug)]
pub struct Chat {
    me: PeerId,
    limit: usize,
    lines: Vec<Line>,
    /// Peers in the room that have had a link: the recipients of a line to everyone.
    peers: SortedMap<PeerId, Link>,
    /// Makes this run's line ids unique: a random number from the driver.
    run: u64,
    next_line: u64,
    /// Counts the changes to the lines, so a driver keeps and shows them only when
    /// they changed.
    version: u64,
    outputs: Vec<Output>,
}

impl Chat {
    /// The chat of `me`, keeping the last `limit` lines. `run` is random, picked by the
    /// driver for each run, so that line ids differ from an earlier run's.
    pub fn new(me: PeerId, limit: usize, run: u64) -> Self {
        Self {
            me,
            limit: limit.max(1),
            lines: Vec::new(),
            peers: SortedMap::new(),
            run,
            next_line: 0,
            version: 0,
            outputs: Vec::new(),
        }
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Changes with every change to [`Self::lines`] (a line, a mark, a restore, a
    /// clear), and only then.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Every line, oldest first.
    pub fn lines(&self) -> &[Line] {
        &self.lines
    }

    /// Puts lines from a device's history before this run's, marked earlier. Once per
    /// run: the lines of this run are not in that history yet.
    pub fn restore(&mut self, mut history: Vec<Line>) {
        for line in &mut history {
            line.earlier = true;
        }
        history.append(&mut self.lines);
        self.lines = history;
        self.version += 1;
        self.trim();
        // Lines of ours still owed to a peer whose link is up go now.
        let up: Vec<PeerId> = self.peers_up().cloned().collect();
        for peer in up {
            self.send_owed(&peer);
        }
    }

    /// Forgets every line, and what was still to be delivered.
    pub fn clear(&mut self) {
        self.lines.clear();
        self.version += 1;
    }

    /// Writes `text` to everyone in the room (`to` is `None`) or to one peer alone.
    pub fn write(
        &mut self,
        text: String,
        to: Option<PeerId>,
        sent_at_ms: u64,
        name: String,
    ) -> Result<&Line, ChatError> {
        check_text(&text)?;
        let recipients: Vec<PeerId> = match &to {
            Some(peer) if self.peers.contains_key(peer) => vec![peer.clone()],
            Some(peer) => return Err(ChatError::UnknownPeer { peer: peer.clone() }),
            None => self.peers.keys().cloned().collect(),
        };
        let id = format!("{:x}-{:x}", self.run, self.next_line);
        self.next_line += 1;
        let line = Line {
            id,
            from: self.me.clone(),
            name,
            mine: true,
            to,
            text,
            sent_at_ms,
            receipts: recipients
                .iter()
                .map(|peer| Receipt {
                    peer: peer.clone(),
                    delivered: false,
                })
                .collect(),
            earlier: false,
        };
        for peer in &recipients {
            if self.peers.get(peer) == Some(&Link::Up) {
                self.outputs.push(Output::Send {
                    peer: peer.clone(),
                    frame: frame_of(&line),
                });
            }
        }
        self.lines.push(line);
        self.version += 1;
        self.trim();
        Ok(self.lines.last().expect("just pushed"))
    }

    /// The link to `peer` carries chat (again): it gets every line of ours it has not
    /// acknowledged, in order.
    pub fn link_up(&mut self, peer: &PeerId) {
        self.peers.insert(peer.clone(), Link::Up);
        self.send_owed(peer);
    }

    /// The link to `peer` stopped; lines for it wait.
    pub fn link_down(&mut self, peer: &PeerId) {
        if let Some(link) = self.peers.get_mut(peer) {
            *link = Link::Down;
        }
    }

    /// `peer` left the room: new lines to everyone are not for it. Lines it is owed
    /// still go if it comes back.
    pub fn peer_left(&mut self, peer: &PeerId) {
        self.peers.remove(peer);
    }

    /// A control frame from `peer`, known as `name`: a line, or an acknowledgement.
    pub fn hear(
        &mut self,
        from: &PeerId,
        name: &str,
        frame: ControlFrame,
    ) -> Result<Heard, ChatError> {
        match frame {
            ControlFrame::Chat {
                id,
                text,
                sent_at_ms,
                private,
            } => {
                if !id.is_empty() {
                    check_id(&id)?;
                }
                check_text(&text)?;
                if !id.is_empty() {
                    self.outputs.push(Output::Send {
                        peer: from.clone(),
                        frame: ControlFrame::ChatAck { id: id.clone() },
                    });
                    let seen = self
                        .lines
                        .iter()
                        .any(|line| &line.from == from && line.id == id);
                    if seen {
                        return Ok(Heard::Repeat);
                    }
                }
                self.version += 1;
                self.lines.push(Line {
                    id,
                    from: from.clone(),
                    name: name.to_owned(),
                    mine: false,
                    to: private.then(|| self.me.clone()),
                    text,
                    sent_at_ms,
                    receipts: Vec::new(),
                    earlier: false,
                });
                self.trim();
                Ok(Heard::Line)
            }
            ControlFrame::ChatAck { id } => {
                let me = &self.me;
                let receipt = self
                    .lines
                    .iter_mut()
                    .filter(|line| &line.from == me && line.id == id)
                    .flat_map(|line| line.receipts.iter_mut())
                    .find(|receipt| &receipt.peer == from);
                match receipt {
                    None => Err(ChatError::UnknownLine {
                        peer: from.clone(),
                        id,
                    }),
                    Some(receipt) if receipt.delivered => Ok(Heard::AlreadyDelivered),
                    Some(receipt) => {
                        receipt.delivered = true;
                        self.version += 1;
                        Ok(Heard::Delivered { id })
                    }
                }
            }
            _ => Err(ChatError::NotChat),
        }
    }

    /// The next thing to do, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        // A few at a time: a list costs the web app less than a queue.
        (!self.outputs.is_empty()).then(|| self.outputs.remove(0))
    }

    fn peers_up(&self) -> impl Iterator<Item = &PeerId> {
        self.peers
            .iter()
            .filter(|(_, link)| **link == Link::Up)
            .map(|(peer, _)| peer)
    }

    fn send_owed(&mut self, peer: &PeerId) {
        let owed = self
            .lines
            .iter()
            .filter(|line| line.from == self.me)
            .filter(|line| {
                line.receipts
                    .iter()
                    .any(|receipt| &receipt.peer == peer && !receipt.delivered)
            });
        for line in owed {
            self.outputs.push(Output::Send {
                peer: peer.clone(),
                frame: frame_of(line),
            });
        }
    }

    fn trim(&mut self) {
        let excess = self.lines.len().saturating_sub(self.limit);
        self.lines.drain(..excess);
    }
}

/// The frame that carries `line` of ours.
fn frame_of(line: &Line) -> ControlFrame {
    ControlFrame::Chat {
        id: line.id.clone(),
        text: line.text.clone(),
        sent_at_ms: line.sent_at_ms,
        private: line.is_private(),
    }
}

fn check_text(text: &str) -> Result<(), ChatError> {
    // Bytes, not characters: the web app carries this code, and is smaller without
    // `str`'s Unicode tables.
    if text.bytes().all(|byte| byte.is_ascii_whitespace()) {
        return Err(ChatError::Empty);
    }
    if text.len() > MAX_CHAT_BYTES {
        return Err(ChatError::TooLong { bytes: text.len() });
    }
    Ok(())
}

fn check_id(id: &str) -> Result<(), ChatError> {
    let valid = (1..=MAX_CHAT_ID_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|byte| byte.is_ascii_digit() || byte.is_ascii_lowercase() || byte == b'-');
    if valid {
        Ok(())
    } else {
        Err(ChatError::BadId { id: id.to_owned() })
    }
}
