//! The way into a connection from outside it: other peers' signals and room news.
//!
//! Delivering never waits, because it happens while the rooms are locked. Each
//! connection has a bounded queue; if it is full, the connection's client is not
//! reading fast enough to take part in the room, so rather than drop a message (a lost
//! ICE candidate silently breaks a peer connection) the connection is told to close.

use meshdrop_protocol::signaling::ServerMessage;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Messages that may wait for one connection before it counts as too slow.
pub const OUTBOX_CAPACITY: usize = 256;

/// The sending side, stored in the rooms as the member's handle.
#[derive(Debug, Clone)]
pub struct Outbox {
    queue: mpsc::Sender<ServerMessage>,
    overflowed: CancellationToken,
}

/// The connection's own side of its [`Outbox`].
#[derive(Debug)]
pub struct OutboxReceiver {
    queue: mpsc::Receiver<ServerMessage>,
    overflowed: CancellationToken,
}

pub fn channel() -> (Outbox, OutboxReceiver) {
    let (sender, receiver) = mpsc::channel(OUTBOX_CAPACITY);
    let overflowed = CancellationToken::new();
    let outbox = Outbox {
        queue: sender,
        overflowed: overflowed.clone(),
    };
    (
        outbox,
        OutboxReceiver {
            queue: receiver,
            overflowed,
        },
    )
}

impl Outbox {
    /// Queue `message`; a connection that is already gone is not an error.
    pub fn deliver(&self, message: ServerMessage) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.queue.try_send(message) {
            self.overflowed.cancel();
        }
    }
}

/// What [`OutboxReceiver::next`] found.
#[derive(Debug, PartialEq)]
pub enum Delivery {
    Message(ServerMessage),
    /// A delivery found the queue full; the connection should close.
    Overflowed,
}

impl OutboxReceiver {
    /// The next queued message, or the news that the queue overflowed (which wins
    /// over the messages still queued: they are stale by then).
    pub async fn next(&mut self) -> Delivery {
        // While the connection holds its own `Outbox` the queue never ends, and if it
        // did, the overflow branch would still be waiting, so the select never runs
        // out of branches.
        tokio::select! {
            biased;
            () = self.overflowed.cancelled() => Delivery::Overflowed,
            Some(message) = self.queue.recv() => Delivery::Message(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn messages_arrive_in_order() {
        let (outbox, mut receiver) = channel();
        outbox.deliver(ServerMessage::Pong);
        outbox.deliver(ServerMessage::Error {
            code: meshdrop_protocol::signaling::ErrorCode::Replaced,
            message: String::new(),
        });
        assert_eq!(
            receiver.next().await,
            Delivery::Message(ServerMessage::Pong)
        );
        assert!(matches!(
            receiver.next().await,
            Delivery::Message(ServerMessage::Error { .. })
        ));
    }

    #[tokio::test]
    async fn a_full_queue_reports_overflow_before_anything_queued() {
        let (outbox, mut receiver) = channel();
        for _ in 0..OUTBOX_CAPACITY {
            outbox.deliver(ServerMessage::Pong);
        }
        assert!(!receiver.overflowed.is_cancelled());
        outbox.deliver(ServerMessage::Pong);
        assert_eq!(receiver.next().await, Delivery::Overflowed);
    }

    #[test]
    fn delivering_to_a_closed_connection_is_ignored() {
        let (outbox, receiver) = channel();
        let overflowed = receiver.overflowed.clone();
        drop(receiver);
        outbox.deliver(ServerMessage::Pong);
        assert!(!overflowed.is_cancelled());
    }
}
