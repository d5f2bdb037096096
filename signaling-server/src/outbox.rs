//! The way into a connection from outside it: other peers' signals and room news.
//!
//! Delivering never waits, because it happens while the rooms are locked. Each
//! connection has a queue bounded in messages and in bytes, and all queues together
//! draw on one [`Budget`] of bytes. If a delivery does not fit, the connection's client
//! is not reading fast enough to take part in the room, so rather than drop a message
//! (a lost ICE candidate silently breaks a peer connection) the queue is emptied and the
//! connection is told to close (`too_slow`).
//!
//! Messages are queued as the JSON text they are sent as, so the bytes counted are the
//! bytes held; an empty queue holds no allocation, which keeps idle connections small.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use meshdrop_protocol::signaling::{ErrorCode, ServerMessage};
use tokio::sync::Notify;

/// Messages that may wait for one connection before it counts as too slow.
pub const MAX_QUEUED_MESSAGES: usize = 256;

/// Bytes that may wait for one connection before it counts as too slow, in messages of
/// the largest size a client may send (1 MiB with the default 64 KiB).
pub const QUEUED_LARGEST_MESSAGES: usize = 16;

/// Bytes that may wait for all connections together, by default.
pub const DEFAULT_BUDGET_BYTES: usize = 256 << 20;

/// Bytes queued for all connections, how many may be, and how many for one.
#[derive(Debug)]
pub struct Budget {
    queued: AtomicUsize,
    max: usize,
    max_per_connection: usize,
}

impl Budget {
    pub fn new(max: usize, max_per_connection: usize) -> Self {
        Self {
            queued: AtomicUsize::new(0),
            max,
            max_per_connection,
        }
    }

    /// Bytes queued for all connections now.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    fn take(&self, bytes: usize) -> bool {
        self.queued
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |queued| {
                queued.checked_add(bytes).filter(|total| *total <= self.max)
            })
            .is_ok()
    }

    fn give_back(&self, bytes: usize) {
        self.queued.fetch_sub(bytes, Ordering::Relaxed);
    }
}

/// One message as it goes on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    pub text: String,
    /// For an error that ends the connection once written (`replaced`).
    pub fatal: Option<ErrorCode>,
}

impl Queued {
    /// `None` if `message` does not serialize, which no server message should fail to.
    pub fn of(message: &ServerMessage) -> Option<Self> {
        let fatal = match message {
            ServerMessage::Error { code, .. } if code.is_fatal() => Some(*code),
            _ => None,
        };
        match serde_json::to_string(message) {
            Ok(text) => Some(Self { text, fatal }),
            Err(error) => {
                tracing::error!(%error, "a server message did not serialize");
                None
            }
        }
    }
}

/// The sending side, stored in the rooms as the member's handle.
#[derive(Debug, Clone)]
pub struct Outbox {
    shared: Arc<Shared>,
}

/// The connection's own side of its [`Outbox`].
#[derive(Debug)]
pub struct OutboxReceiver {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    queue: Mutex<Queue>,
    /// Woken on every delivery and on overflow.
    changed: Notify,
    budget: Arc<Budget>,
}

#[derive(Debug, Default)]
struct Queue {
    messages: VecDeque<Queued>,
    bytes: usize,
    overflowed: bool,
    /// The receiver is gone; deliveries are dropped.
    closed: bool,
}

pub fn channel(budget: Arc<Budget>) -> (Outbox, OutboxReceiver) {
    let shared = Arc::new(Shared {
        queue: Mutex::default(),
        changed: Notify::new(),
        budget,
    });
    (
        Outbox {
            shared: Arc::clone(&shared),
        },
        OutboxReceiver { shared },
    )
}

impl Shared {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        // Every change under the lock is complete before it is released.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Empty the queue, giving its bytes back to the budget.
    fn drain(&self, queue: &mut Queue) {
        queue.messages = VecDeque::new();
        self.budget.give_back(std::mem::take(&mut queue.bytes));
    }
}

impl Outbox {
    /// Queue `message`; a connection that is already gone is not an error.
    pub fn deliver(&self, message: ServerMessage) {
        let Some(queued) = Queued::of(&message) else {
            return;
        };
        let shared = &*self.shared;
        let mut queue = shared.queue();
        if queue.closed || queue.overflowed {
            return;
        }
        let size = queued.text.len();
        let fits = queue.messages.len() < MAX_QUEUED_MESSAGES
            && queue.bytes + size <= shared.budget.max_per_connection
            && shared.budget.take(size);
        if fits {
            queue.messages.push_back(queued);
            queue.bytes += size;
        } else {
            queue.overflowed = true;
            shared.drain(&mut queue);
        }
        drop(queue);
        shared.changed.notify_one();
    }
}

/// What [`OutboxReceiver::next`] found.
#[derive(Debug, PartialEq)]
pub enum Delivery {
    Message(Queued),
    /// A delivery did not fit; the connection should close.
    Overflowed,
}

impl OutboxReceiver {
    /// The next queued message, or the news that the queue overflowed.
    pub async fn next(&mut self) -> Delivery {
        loop {
            {
                let mut queue = self.shared.queue();
                if queue.overflowed {
                    return Delivery::Overflowed;
                }
                if let Some(queued) = queue.messages.pop_front() {
                    queue.bytes -= queued.text.len();
                    self.shared.budget.give_back(queued.text.len());
                    return Delivery::Message(queued);
                }
            }
            // `notify_one` keeps a wakeup for a receiver that is not waiting yet, so a
            // delivery between the check above and this wait is not missed.
            self.shared.changed.notified().await;
        }
    }

    /// Resolves once the queue has overflowed; for waiting on while a write is stuck.
    pub async fn overflowed(&self) {
        loop {
            if self.shared.queue().overflowed {
                return;
            }
            self.shared.changed.notified().await;
        }
    }
}

impl Drop for OutboxReceiver {
    fn drop(&mut self) {
        let mut queue = self.shared.queue();
        queue.closed = true;
        self.shared.drain(&mut queue);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signal_of(bytes: usize) -> ServerMessage {
        ServerMessage::Error {
            code: ErrorCode::UnknownPeer,
            message: "x".repeat(bytes),
        }
    }

    /// Per connection, what the default limits allow.
    const PER_CONNECTION: usize = 1 << 20;

    fn budget(max: usize) -> Arc<Budget> {
        Arc::new(Budget::new(max, PER_CONNECTION))
    }

    #[tokio::test]
    async fn messages_arrive_in_order_as_their_wire_text() {
        let (outbox, mut receiver) = channel(budget(usize::MAX));
        outbox.deliver(ServerMessage::Pong);
        outbox.deliver(ServerMessage::Error {
            code: ErrorCode::Replaced,
            message: String::new(),
        });
        assert_eq!(
            receiver.next().await,
            Delivery::Message(Queued {
                text: r#"{"type":"pong"}"#.into(),
                fatal: None
            })
        );
        let Delivery::Message(replaced) = receiver.next().await else {
            panic!("expected the error");
        };
        assert_eq!(replaced.fatal, Some(ErrorCode::Replaced));
    }

    #[tokio::test]
    async fn too_many_messages_overflow_before_anything_queued() {
        let (outbox, mut receiver) = channel(budget(usize::MAX));
        for _ in 0..MAX_QUEUED_MESSAGES {
            outbox.deliver(ServerMessage::Pong);
        }
        assert!(!receiver.shared.queue().overflowed);
        outbox.deliver(ServerMessage::Pong);
        assert_eq!(receiver.next().await, Delivery::Overflowed);
    }

    #[tokio::test]
    async fn too_many_bytes_overflow_and_are_given_back() {
        let budget = budget(usize::MAX);
        let (outbox, mut receiver) = channel(Arc::clone(&budget));
        let big = PER_CONNECTION / 4;
        for _ in 0..3 {
            outbox.deliver(signal_of(big));
        }
        assert!(budget.queued() > 3 * big);
        outbox.deliver(signal_of(big));
        assert_eq!(receiver.next().await, Delivery::Overflowed);
        assert_eq!(budget.queued(), 0);
    }

    #[tokio::test]
    async fn the_shared_budget_overflows_the_queue_that_would_exceed_it() {
        let budget = budget(10_000);
        let (first, mut first_receiver) = channel(Arc::clone(&budget));
        let (second, mut second_receiver) = channel(Arc::clone(&budget));
        first.deliver(signal_of(6_000));
        second.deliver(signal_of(6_000));
        assert_eq!(second_receiver.next().await, Delivery::Overflowed);
        assert!(matches!(first_receiver.next().await, Delivery::Message(_)));
        assert_eq!(budget.queued(), 0);
    }

    #[tokio::test]
    async fn a_waiting_receiver_wakes_for_a_delivery_and_for_overflow() {
        let (outbox, mut receiver) = channel(budget(usize::MAX));
        let waiting = tokio::spawn(async move {
            let first = receiver.next().await;
            receiver.overflowed().await;
            first
        });
        tokio::task::yield_now().await;
        outbox.deliver(ServerMessage::Pong);
        tokio::task::yield_now().await;
        for _ in 0..=MAX_QUEUED_MESSAGES {
            outbox.deliver(ServerMessage::Pong);
        }
        assert!(matches!(waiting.await.unwrap(), Delivery::Message(_)));
    }

    #[test]
    fn delivering_to_a_closed_connection_is_ignored_and_holds_nothing() {
        let budget = budget(usize::MAX);
        let (outbox, receiver) = channel(Arc::clone(&budget));
        outbox.deliver(ServerMessage::Pong);
        drop(receiver);
        outbox.deliver(ServerMessage::Pong);
        assert_eq!(budget.queued(), 0);
        assert!(!outbox.shared.queue().overflowed);
    }
}
