//! Flow control of the data channel: the receiver grants, the sender keeps within.
//!
//! A browser hands each data-channel message to the page's main thread as soon as SCTP
//! has it, and SCTP frees its window at that moment, not when the page gets to the
//! message. A receiver whose main thread is slower than the wire (hashing, writing,
//! drawing) thus queues messages without bound: memory grows, and a chat line, a
//! `cancel` or a click waits behind every chunk queued before it. So the receiver says
//! how far the sender may go (`credit` frames, counted in chunk payload bytes since the
//! link opened), [`RECEIVE_WINDOW`] past what it has handled, and the sender stops
//! there. A peer that never grants (one from before the `credit` frame) is sent to as
//! fast as the channel takes.

use meshdrop_protocol::frame::ControlFrame;

/// How many chunk bytes a receiver lets be on their way to it, unhandled, unless the
/// driver sets another window ([`crate::Transfers::set_receive_window`]).
pub const RECEIVE_WINDOW: u64 = 512 << 10;

/// Both directions' accounts for the link that is up.
#[derive(Debug)]
pub(crate) struct Credit {
    window: u64,
    /// Chunk payload bytes handed in from the data channel on this link.
    received: u64,
    /// How far this end last let the peer go; `None` before the first link this end
    /// saw come up, whose start the counts would not match.
    granted: Option<u64>,
    /// Chunk payload bytes this end sent on this link.
    sent: u64,
    /// How far the peer lets this end go; `None` until it says.
    allowed: Option<u64>,
}

impl Credit {
    pub(crate) fn new() -> Self {
        Self {
            window: RECEIVE_WINDOW,
            received: 0,
            granted: None,
            sent: 0,
            allowed: None,
        }
    }

    pub(crate) fn set_window(&mut self, window: u64) {
        self.window = window;
    }

    /// A new link: both accounts start again, and the peer gets its first grant.
    pub(crate) fn on_link_up(&mut self) -> ControlFrame {
        *self = Self {
            window: self.window,
            ..Self::new()
        };
        self.grant()
    }

    /// This end handled `len` chunk bytes from the peer; a new grant once a quarter of
    /// the window is used, so the sender never waits for one while the receiver keeps up.
    pub(crate) fn on_received(&mut self, len: usize) -> Option<ControlFrame> {
        self.received += len as u64;
        let granted = self.granted?;
        (self.received + self.window - granted >= self.window / 4).then(|| self.grant())
    }

    fn grant(&mut self) -> ControlFrame {
        let upto = self.received + self.window;
        self.granted = Some(upto);
        ControlFrame::Credit { upto }
    }

    /// The peer's grant. Grants only grow; an older one arriving late changes nothing.
    pub(crate) fn on_grant(&mut self, upto: u64) {
        self.allowed = Some(self.allowed.map_or(upto, |allowed| allowed.max(upto)));
    }

    /// Whether this end may send another chunk. It may go past the grant by the chunks
    /// of reads already asked for, one per transfer at most.
    pub(crate) fn may_send(&self) -> bool {
        self.allowed.is_none_or(|allowed| self.sent < allowed)
    }

    pub(crate) fn on_sent(&mut self, len: usize) {
        self.sent += len as u64;
    }
}
