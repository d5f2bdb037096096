//! What all connections share: the configuration, the rooms, the metrics, and the
//! shutdown switch.
//!
//! Each method here is one room-level event (a join, a rename, a forwarded signal, a
//! departure) together with the messages it causes, done under one lock so every
//! member of a room sees the room's events in the same order. Nothing here waits: the
//! lock is never held across an `.await`.

use std::sync::{Arc, Mutex, MutexGuard, Once, PoisonError};

use meshdrop_protocol::signaling::{ErrorCode, PeerInfo, ServerMessage, SignalObject};
use meshdrop_protocol::{PeerId, RoomId};
use meshdrop_relay::Stats as RelayStats;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::admission::Admission;
use crate::config::Config;
use crate::ice::Builtin;
use crate::metrics::{Gauges, Metrics};
use crate::network_room::NetworkRooms;
use crate::outbox::{Budget, Outbox, QUEUED_LARGEST_MESSAGES};
use crate::rate_limit::RateLimits;
use crate::rooms::{JoinError, Joined, Membership, Rooms};

pub struct State {
    pub config: Config,
    /// The built-in STUN server and TURN relay, if they run.
    pub builtin: Builtin,
    /// The built-in relay's counters, if it runs.
    pub relay_stats: Option<Arc<RelayStats>>,
    rooms: Mutex<Rooms<Outbox>>,
    /// Names the room of each client's network.
    pub network_rooms: NetworkRooms,
    /// Forwarding headers from a peer that is not a trusted proxy are worth one warning.
    pub untrusted_forwarding_warned: Once,
    /// Shared with the STUN responder, which counts its requests there too.
    pub metrics: Arc<Metrics>,
    /// Cancelled when the server stops; every connection then closes.
    pub shutdown: CancellationToken,
    /// Every live WebSocket connection, so stopping can wait until all are closed.
    pub connections: TaskTracker,
    /// The connection caps and who holds places (see `admission`).
    pub admission: Arc<Admission>,
    /// Rate limits that outlive their connections, so reconnecting does not refill them.
    pub rate_limits: RateLimits,
    /// Bytes all connections' outboxes may hold together.
    pub outbox_budget: Arc<Budget>,
}

/// A `signal` addressed to someone who is not in the sender's room.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no peer {0} in this room")]
pub struct UnknownPeer(pub PeerId);

impl State {
    pub fn new(config: Config, builtin: Builtin, relay_stats: Option<Arc<RelayStats>>) -> Self {
        Self {
            builtin,
            relay_stats,
            rooms: Mutex::new(Rooms::new(config.limits.max_peers_per_room)),
            network_rooms: NetworkRooms::new(&config.network_secret),
            untrusted_forwarding_warned: Once::new(),
            admission: Arc::new(Admission::new(
                config.max_connections,
                config.max_connections_per_address,
                config.trusted_proxies.clone(),
            )),
            rate_limits: RateLimits::new(config.limits.max_messages_per_second),
            outbox_budget: Arc::new(Budget::new(
                config.max_queued_bytes,
                QUEUED_LARGEST_MESSAGES * config.limits.max_message_bytes,
            )),
            config,
            metrics: Arc::default(),
            shutdown: CancellationToken::new(),
            connections: TaskTracker::new(),
        }
    }

    /// Seat `peer` in `room` and tell the room. Returns the seat and who else is there.
    ///
    /// A newcomer is announced with `peer_joined`. A peer taking its seat back from an
    /// older connection is not announced again (the others still hold their WebRTC
    /// connections to it); they hear `peer_renamed` only if it came back under another
    /// name, and the old connection gets the fatal `replaced` error.
    pub fn join(
        &self,
        room: RoomId,
        peer: PeerInfo,
        outbox: Outbox,
    ) -> Result<(Membership, Vec<PeerInfo>), JoinError> {
        let mut rooms = self.rooms();
        let Joined {
            membership,
            replaced,
        } = rooms.join(room, peer.clone(), outbox)?;
        let news = match replaced {
            None => Some(ServerMessage::PeerJoined { peer }),
            Some(replaced) => {
                replaced.handle.deliver(ServerMessage::Error {
                    code: ErrorCode::Replaced,
                    message: "this peer joined again from another connection".into(),
                });
                (replaced.previous_name != peer.name).then_some(ServerMessage::PeerRenamed { peer })
            }
        };
        let mut others = Vec::new();
        for member in rooms.others(&membership) {
            if let Some(news) = &news {
                member.handle.deliver(news.clone());
            }
            others.push(member.info.clone());
        }
        Ok((membership, others))
    }

    /// Change the seat holder's name and tell the others. Does nothing for a seat
    /// that was taken over.
    pub fn rename(&self, membership: &Membership, name: String) {
        let mut rooms = self.rooms();
        let Some(peer) = rooms.rename(membership, name).cloned() else {
            return;
        };
        for member in rooms.others(membership) {
            member
                .handle
                .deliver(ServerMessage::PeerRenamed { peer: peer.clone() });
        }
    }

    /// Pass `signal` to `to`, stamped with the sender's id.
    pub fn forward(
        &self,
        membership: &Membership,
        to: PeerId,
        signal: SignalObject,
    ) -> Result<(), UnknownPeer> {
        let rooms = self.rooms();
        let recipient = rooms.peer(membership, &to).ok_or(UnknownPeer(to))?;
        recipient.handle.deliver(ServerMessage::Signal {
            from: membership.peer().clone(),
            signal,
        });
        self.metrics.signal_forwarded();
        Ok(())
    }

    /// Give up the seat and tell the room, unless the seat was taken over by a
    /// reconnect (then, for the others, nobody left).
    pub fn leave(&self, membership: &Membership) {
        let mut rooms = self.rooms();
        if rooms.leave(membership).is_none() {
            return;
        }
        for member in rooms.members(membership.room()) {
            member.handle.deliver(ServerMessage::PeerLeft {
                peer_id: membership.peer().clone(),
            });
        }
    }

    /// The gauges of `/metrics`, as they are right now.
    pub fn gauges(&self) -> Gauges {
        let rooms = self.rooms();
        Gauges {
            accepted: self.admission.open_connections(),
            // Counts every WebSocket from its upgrade request until it is closed.
            connections: self.connections.len(),
            peers: rooms.peer_count(),
            rooms: rooms.room_count(),
            queued_bytes: self.outbox_budget.queued(),
        }
    }

    fn rooms(&self) -> MutexGuard<'_, Rooms<Outbox>> {
        // Nothing panics while holding the lock, and the rooms stay consistent
        // after every single call anyway, so a poisoned lock is still usable.
        self.rooms.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
