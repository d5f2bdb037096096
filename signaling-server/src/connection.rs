//! One client's WebSocket: read its messages, enforce the limits, act on them, and
//! write back both the answers and whatever the room sends its way.
//!
//! A single task owns the socket and does everything in turn, so what the client sees
//! is always ordered: `welcome` is written before any room news queued for it.
//!
//! The task ends, and the socket closes, when:
//!
//! | cause                                          | error sent first      | close code, reason           |
//! |------------------------------------------------|-----------------------|------------------------------|
//! | the client sends a close frame                 | none                  | the client's, echoed         |
//! | the socket breaks, or the client breaks WebSocket framing (e.g. invalid UTF-8 in a text frame) | none | none: TCP just closes |
//! | a frame or message over `max_message_bytes`   | `message_too_large`   | 1009 `message_too_large`     |
//! | `join` with another protocol version           | `unsupported_version` | 1008 `unsupported_version`   |
//! | `join` to a room of `max_peers_per_room`       | `room_full`           | 1008 `room_full`             |
//! | the same peer id joined the room on another connection | `replaced`    | 1008 `replaced`              |
//! | over 10 × `max_messages_per_second` within one second | (`rate_limited` at the window's first dropped message) | 1008 `rate_limited` |
//! | a client that does not read: a write stuck for 5 s, or more than 256 messages or 16 × `max_message_bytes` (1 MiB) queued for it | none | 1008 `too_slow`, once the client reads again (within 5 s; else TCP just closes) |
//! | no `join` within `handshake_timeout` (10 s) of the upgrade | none       | 1008 `join_timeout`          |
//! | nothing received for `idle_timeout_secs`       | none                  | 1000 `idle_timeout`          |
//! | in a cluster, Redis out of reach (see `cluster`) | none                | 1011 `unavailable`           |
//! | the server shuts down                          | none                  | 1001 `shutting_down`         |
//!
//! After its close frame the server waits up to 1 s for the client's before it drops
//! the TCP connection. Every other refused message gets its error and the connection
//! stays open; the message is dropped.

use std::error::Error as _;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::extract::ws::{close_code, CloseFrame, Message, WebSocket};
use meshdrop_protocol::signaling::{
    parse_client_message, ClientMessage, ErrorCode, ServerMessage, SignalObject,
};
use meshdrop_protocol::{PeerId, RoomId, PROTOCOL_VERSION};
use tokio::time::{sleep_until, timeout, Instant};

use crate::admission::AddressKey;
use crate::network_room::room_to_join;
use crate::outbox::{self, Delivery, Outbox, OutboxReceiver, Queued};
use crate::rate_limit::{RateLimiter, Verdict};
use crate::rooms::{JoinError, Membership};
use crate::state::State;
use crate::{ice, identity};

/// How long one write may take before the client counts as gone.
const SEND_TIMEOUT: Duration = Duration::from_secs(5);

/// How long to wait for the client to answer our close frame.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// What the upgrade request told about the client.
#[derive(Debug)]
pub struct Handshake {
    /// The host the client addressed (its `Host` header), which names the built-in
    /// STUN server in its `welcome`.
    pub host: Option<String>,
    /// Where the client is (see `client_address`): its rate limit is kept by it.
    pub address: AddressKey,
    /// The room of the client's network, which a `join` without a room enters.
    pub network_room: RoomId,
}

/// Serve one upgraded WebSocket until it ends, then leave the room and close it.
pub async fn run(socket: WebSocket, state: Arc<State>, handshake: Handshake) {
    let (outbox, inbox) = outbox::channel(Arc::clone(&state.outbox_budget));
    let limiter = state
        .rate_limits
        .take(handshake.address, Instant::now().into_std());
    let mut connection = Connection {
        socket,
        state,
        outbox,
        inbox,
        limiter,
        host: handshake.host,
        network_room: handshake.network_room,
        membership: None,
    };
    let ending = connection.serve().await;
    tracing::debug!(peer = ?connection.membership.as_ref().map(Membership::peer), ?ending, "connection ends");
    if let Some(membership) = connection.membership.take() {
        if let Err(error) = connection.state.leave(&membership).await {
            tracing::warn!(%error, peer = %membership.peer(), "cannot leave the room");
        }
    }
    // Parked before the closing handshake, which can take seconds, so a client that
    // reconnects meanwhile already finds its bucket.
    let limiter = connection.limiter.clone();
    connection
        .state
        .rate_limits
        .park(handshake.address, limiter, Instant::now().into_std());
    connection.close(ending).await;
}

/// Why the server stops serving a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// The client sent its close frame; the WebSocket layer answers it.
    ClientClosed,
    /// The socket broke or stalled; there is nobody left to tell.
    Gone,
    /// This fatal error was just sent to the client.
    Fatal(ErrorCode),
    Flood,
    Overflowed,
    /// No `join` within the handshake timeout.
    NoJoin,
    Idle,
    ShuttingDown,
    /// The cluster's Redis did not answer.
    Unavailable,
}

impl Ending {
    fn close_frame(self) -> Option<CloseFrame> {
        let (code, reason) = match self {
            Self::ClientClosed | Self::Gone => return None,
            Self::Fatal(ErrorCode::MessageTooLarge) => {
                (close_code::SIZE, wire_name(ErrorCode::MessageTooLarge))
            }
            Self::Fatal(code) => (close_code::POLICY, wire_name(code)),
            Self::Flood => (close_code::POLICY, wire_name(ErrorCode::RateLimited)),
            Self::Overflowed => (close_code::POLICY, "too_slow".into()),
            Self::NoJoin => (close_code::POLICY, "join_timeout".into()),
            Self::Idle => (close_code::NORMAL, "idle_timeout".into()),
            Self::ShuttingDown => (close_code::AWAY, "shutting_down".into()),
            Self::Unavailable => (close_code::ERROR, "unavailable".into()),
        };
        Some(CloseFrame {
            code,
            reason: reason.into(),
        })
    }
}

/// The snake_case name an error code has on the wire.
pub fn wire_name(code: ErrorCode) -> String {
    match serde_json::to_value(code) {
        Ok(serde_json::Value::String(name)) => name,
        _ => format!("{code:?}"),
    }
}

/// `Ok` to keep serving the connection, `Err` to end it.
type Step = Result<(), Ending>;

struct Connection {
    socket: WebSocket,
    state: Arc<State>,
    /// This connection's own handle, given to the rooms on join.
    outbox: Outbox,
    inbox: OutboxReceiver,
    limiter: RateLimiter,
    host: Option<String>,
    network_room: RoomId,
    membership: Option<Membership>,
}

impl Connection {
    async fn serve(&mut self) -> Ending {
        let idle_timeout = Duration::from_secs(self.state.config.limits.idle_timeout_secs);
        let mut idle_deadline = Instant::now() + idle_timeout;
        let join_deadline = Instant::now() + self.state.config.handshake_timeout;
        loop {
            let (deadline, missed) = match self.membership {
                None => (join_deadline.min(idle_deadline), Ending::NoJoin),
                Some(_) => (idle_deadline, Ending::Idle),
            };
            let step = tokio::select! {
                biased;
                () = self.state.shutdown.cancelled() => Err(Ending::ShuttingDown),
                delivery = self.inbox.next() => match delivery {
                    Delivery::Message(queued) => self.write(queued).await,
                    Delivery::Overflowed => Err(Ending::Overflowed),
                },
                frame = self.socket.recv() => {
                    idle_deadline = Instant::now() + idle_timeout;
                    self.on_frame(frame).await
                }
                () = sleep_until(deadline) => Err(missed),
            };
            if let Err(ending) = step {
                return ending;
            }
        }
    }

    async fn on_frame(&mut self, frame: Option<Result<Message, axum::Error>>) -> Step {
        let message = match frame {
            Some(Ok(Message::Close(_))) => return Err(Ending::ClientClosed),
            None => return Err(Ending::Gone),
            Some(Err(error)) if is_too_large(&error) => {
                let limit = self.state.config.limits.max_message_bytes;
                let text = format!("messages are limited to {limit} bytes");
                return self.refuse(ErrorCode::MessageTooLarge, text).await;
            }
            Some(Err(_)) => return Err(Ending::Gone),
            Some(Ok(message)) => message,
        };
        match self.limiter.check(Instant::now().into_std()) {
            Verdict::Accept => self.on_message(message).await,
            Verdict::Drop { notify: false } => {
                self.state.metrics.message_rejected(ErrorCode::RateLimited);
                Ok(())
            }
            Verdict::Drop { notify: true } => {
                let limit = self.state.config.limits.max_messages_per_second;
                let text = format!("more than {limit} messages per second; dropped");
                self.refuse(ErrorCode::RateLimited, text).await
            }
            Verdict::Flood => {
                self.state.metrics.message_rejected(ErrorCode::RateLimited);
                Err(Ending::Flood)
            }
        }
    }

    async fn on_message(&mut self, message: Message) -> Step {
        match message {
            Message::Text(text) => match parse_client_message(text.as_str()) {
                Ok(message) => self.on_client_message(message).await,
                Err(code) => self.refuse(code, describe_parse_error(code)).await,
            },
            Message::Binary(_) => {
                let text = "binary messages are not part of the protocol";
                self.refuse(ErrorCode::MalformedMessage, text).await
            }
            // Answered by the WebSocket layer; only counted as activity.
            Message::Ping(_) | Message::Pong(_) | Message::Close(_) => Ok(()),
        }
    }

    async fn on_client_message(&mut self, message: ClientMessage) -> Step {
        match (message, self.membership.clone()) {
            (
                ClientMessage::Join {
                    version,
                    room,
                    name,
                    session_key,
                },
                None,
            ) => self.join(version, room, &name, &session_key).await,
            (ClientMessage::Join { .. }, Some(_)) => {
                let text = "this connection already joined a room";
                self.refuse(ErrorCode::AlreadyJoined, text).await
            }
            (_, None) => self.refuse(ErrorCode::NotJoined, "send join first").await,
            (ClientMessage::Rename { name }, Some(membership)) => {
                self.rename(&membership, &name).await
            }
            (ClientMessage::Signal { to, signal }, Some(membership)) => {
                self.forward(&membership, to, signal).await
            }
            (ClientMessage::Ping, Some(_)) => self.send(ServerMessage::Pong).await,
        }
    }

    async fn join(
        &mut self,
        version: u32,
        room: Option<RoomId>,
        name: &str,
        session_key: &str,
    ) -> Step {
        if version != PROTOCOL_VERSION {
            // Shown as it is by pages of older versions, which cannot know better.
            let text = format!(
                "this server speaks Meshdrop protocol version {PROTOCOL_VERSION}, not {version}: reload the page (or update the meshdrop program)"
            );
            return self.refuse(ErrorCode::UnsupportedVersion, text).await;
        }
        let (room, network) = match room_to_join(room, &self.network_room) {
            Ok(room) => room,
            Err(reserved) => {
                return self
                    .refuse(ErrorCode::InvalidField, reserved.to_string())
                    .await
            }
        };
        let peer = match identity::joining_peer(name, session_key) {
            Ok(peer) => peer,
            Err(invalid) => {
                return self
                    .refuse(ErrorCode::InvalidField, invalid.to_string())
                    .await
            }
        };
        let joined = self.state.join(room, peer, self.outbox.clone()).await;
        let (membership, peers) = match joined.map_err(unavailable)? {
            Ok(joined) => joined,
            Err(refused) => {
                let code = match refused {
                    JoinError::RoomFull { .. } => ErrorCode::RoomFull,
                    JoinError::CodeSpent => ErrorCode::CodeSpent,
                };
                return self.refuse(code, refused.to_string()).await;
            }
        };
        tracing::debug!(room = %membership.room(), network, peer = %membership.peer(), "joined");
        let welcome = ServerMessage::Welcome {
            version: PROTOCOL_VERSION,
            peer_id: membership.peer().clone(),
            room: membership.room().clone(),
            network,
            peers,
            ice_servers: ice::servers(
                &self.state.config,
                &self.state.builtin,
                ice::Client {
                    peer: membership.peer(),
                    host: self.host.as_deref(),
                },
                SystemTime::now(),
            ),
            limits: self.state.config.limits,
        };
        self.membership = Some(membership);
        self.send(welcome).await
    }

    async fn rename(&mut self, membership: &Membership, name: &str) -> Step {
        match identity::display_name(name) {
            Ok(name) => self
                .state
                .rename(membership, name)
                .await
                .map_err(unavailable),
            Err(invalid) => {
                self.refuse(ErrorCode::InvalidField, invalid.to_string())
                    .await
            }
        }
    }

    async fn forward(&mut self, membership: &Membership, to: PeerId, signal: SignalObject) -> Step {
        match self
            .state
            .forward(membership, to, signal)
            .await
            .map_err(unavailable)?
        {
            Ok(()) => Ok(()),
            Err(unknown) => {
                self.refuse(ErrorCode::UnknownPeer, unknown.to_string())
                    .await
            }
        }
    }

    /// Tell the client its message was refused; fatal codes end the connection.
    async fn refuse(&mut self, code: ErrorCode, message: impl Into<String>) -> Step {
        self.state.metrics.message_rejected(code);
        let message = message.into();
        self.send(ServerMessage::Error { code, message }).await
    }

    /// Write one message. A fatal error, whether refused here or queued by the room
    /// (`replaced`), ends the connection once it is written.
    async fn send(&mut self, message: ServerMessage) -> Step {
        match Queued::of(&message) {
            Some(queued) => self.write(queued).await,
            None => Err(Ending::Gone),
        }
    }

    /// Write `queued` to the socket. A client that does not read, so that the write is
    /// stuck for [`SEND_TIMEOUT`] or its queue overflows meanwhile, is too slow.
    async fn write(&mut self, queued: Queued) -> Step {
        let write = timeout(SEND_TIMEOUT, self.socket.send(Message::text(queued.text)));
        tokio::select! {
            written = write => match written {
                Ok(Ok(())) => queued.fatal.map_or(Ok(()), |code| Err(Ending::Fatal(code))),
                Ok(Err(_)) => Err(Ending::Gone),
                Err(_stuck) => Err(Ending::Overflowed),
            },
            () = self.inbox.overflowed() => Err(Ending::Overflowed),
        }
    }

    /// Finish the closing handshake for `ending`, then drop the socket.
    ///
    /// Unless the client closed first, the server sends its close frame. Then it reads
    /// on until the client's close frame (or [`CLOSE_TIMEOUT`]): reading is also what
    /// flushes the WebSocket layer's answer to a client's close frame, and dropping a
    /// TCP socket with unread input resets the connection, which can make the client
    /// discard the error and close frame just sent. After an oversized frame, though,
    /// reading on would buffer the rest of that frame, however large; then the task
    /// waits, unread, for the same grace period instead.
    async fn close(mut self, ending: Ending) {
        match ending.close_frame() {
            Some(frame) => {
                // A client too slow to read may still read what it has been sent, and
                // then the close frame that says why; it gets as long as a write does.
                let patience = match ending {
                    Ending::Overflowed => SEND_TIMEOUT,
                    _ => CLOSE_TIMEOUT,
                };
                let close = self.socket.send(Message::Close(Some(frame)));
                if !matches!(timeout(patience, close).await, Ok(Ok(()))) {
                    return;
                }
            }
            None if ending == Ending::ClientClosed => {}
            None => return,
        }
        if ending == Ending::Fatal(ErrorCode::MessageTooLarge) {
            tokio::time::sleep(CLOSE_TIMEOUT).await;
            return;
        }
        let _ = timeout(CLOSE_TIMEOUT, async {
            while let Some(Ok(_)) = self.socket.recv().await {}
        })
        .await;
    }
}

/// The cluster's Redis failed this connection; the client may try another node.
fn unavailable(error: crate::state::Unavailable) -> Ending {
    tracing::warn!(%error, "closing a connection: the rooms are out of reach");
    Ending::Unavailable
}

/// Whether a read failed because a frame or message exceeded the configured maximum.
fn is_too_large(error: &axum::Error) -> bool {
    matches!(
        error
            .source()
            .and_then(|source| source.downcast_ref::<tungstenite::Error>()),
        Some(tungstenite::Error::Capacity(_))
    )
}

fn describe_parse_error(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::UnknownType => "unknown message type",
        _ => "not a valid signaling message",
    }
}
