//! What all connections share: the configuration, the rooms, the metrics, and the
//! shutdown switch.
//!
//! Each method here is one room-level event (a join, a rename, a forwarded signal, a
//! departure) together with the messages it causes. On one node that is done under one
//! lock, so every member of a room sees the room's events in the same order, and the
//! lock is never held across an `.await`; in a cluster, a Redis script does it (see
//! `cluster`), and Redis may be out of reach: then the method says [`Unavailable`].

use std::sync::{Arc, Mutex, MutexGuard, Once, PoisonError};

use meshdrop_protocol::signaling::{ErrorCode, PeerInfo, ServerMessage, SignalObject};
use meshdrop_protocol::{PeerId, RoomId};
use meshdrop_relay::Stats as RelayStats;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::admission::Admission;
pub use crate::cluster::Unavailable;
use crate::cluster::{Cluster, Seated};
use crate::config::Config;
use crate::ice::Builtin;
use crate::metrics::{Gauges, Metrics};
use crate::network_room::{NetworkRooms, NetworkSecret};
use crate::outbox::{Budget, Outbox, QUEUED_LARGEST_MESSAGES};
use crate::rate_limit::RateLimits;
use crate::rooms::{JoinError, Joined, Membership, Rooms};

pub struct State {
    pub config: Config,
    /// The built-in STUN server and TURN relay, if they run.
    pub builtin: Builtin,
    /// The built-in relay's counters, if it runs.
    pub relay_stats: Option<Arc<RelayStats>>,
    rooms: Directory,
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

/// Who is in which room: in this process, or shared by a cluster through Redis.
enum Directory {
    Local(Mutex<Rooms<Outbox>>),
    Cluster(Arc<Cluster>),
}

/// A `signal` addressed to someone who is not in the sender's room.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no peer {0} in this room")]
pub struct UnknownPeer(pub PeerId);

impl State {
    /// The state of one server; with `cluster`, its rooms are the cluster's, and
    /// `network_secret` must be the one the cluster shares.
    pub fn new(
        config: Config,
        builtin: Builtin,
        relay_stats: Option<Arc<RelayStats>>,
        cluster: Option<Arc<Cluster>>,
        network_secret: &NetworkSecret,
    ) -> Self {
        Self {
            builtin,
            relay_stats,
            rooms: match cluster {
                Some(cluster) => Directory::Cluster(cluster),
                None => Directory::Local(Mutex::new(Rooms::new(config.limits.max_peers_per_room))),
            },
            network_rooms: NetworkRooms::new(network_secret),
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
    pub async fn join(
        &self,
        room: RoomId,
        peer: PeerInfo,
        outbox: Outbox,
    ) -> Result<Seated, Unavailable> {
        let rooms = match &self.rooms {
            Directory::Local(rooms) => rooms,
            Directory::Cluster(cluster) => return cluster.join(room, peer, outbox).await,
        };
        Ok(Self::join_here(&mut lock(rooms), room, peer, outbox))
    }

    fn join_here(
        rooms: &mut Rooms<Outbox>,
        room: RoomId,
        peer: PeerInfo,
        outbox: Outbox,
    ) -> Result<(Membership, Vec<PeerInfo>), JoinError> {
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
    pub async fn rename(&self, membership: &Membership, name: String) -> Result<(), Unavailable> {
        let rooms = match &self.rooms {
            Directory::Local(rooms) => rooms,
            Directory::Cluster(cluster) => return cluster.rename(membership, &name).await,
        };
        let mut rooms = lock(rooms);
        let Some(peer) = rooms.rename(membership, name).cloned() else {
            return Ok(());
        };
        for member in rooms.others(membership) {
            member
                .handle
                .deliver(ServerMessage::PeerRenamed { peer: peer.clone() });
        }
        Ok(())
    }

    /// Pass `signal` to `to`, stamped with the sender's id.
    pub async fn forward(
        &self,
        membership: &Membership,
        to: PeerId,
        signal: SignalObject,
    ) -> Result<Result<(), UnknownPeer>, Unavailable> {
        let delivered = match &self.rooms {
            Directory::Local(rooms) => {
                let rooms = lock(rooms);
                match rooms.peer(membership, &to) {
                    Some(recipient) => {
                        recipient.handle.deliver(ServerMessage::Signal {
                            from: membership.peer().clone(),
                            signal,
                        });
                        true
                    }
                    None => false,
                }
            }
            Directory::Cluster(cluster) => cluster.forward(membership, to.clone(), signal).await?,
        };
        if !delivered {
            return Ok(Err(UnknownPeer(to)));
        }
        self.metrics.signal_forwarded();
        Ok(Ok(()))
    }

    /// Give up the seat and tell the room, unless the seat was taken over by a
    /// reconnect (then, for the others, nobody left).
    pub async fn leave(&self, membership: &Membership) -> Result<(), Unavailable> {
        let rooms = match &self.rooms {
            Directory::Local(rooms) => rooms,
            Directory::Cluster(cluster) => return cluster.leave(membership).await,
        };
        let mut rooms = lock(rooms);
        if rooms.leave(membership).is_none() {
            return Ok(());
        }
        for member in rooms.members(membership.room()) {
            member.handle.deliver(ServerMessage::PeerLeft {
                peer_id: membership.peer().clone(),
            });
        }
        Ok(())
    }

    /// The gauges of `/metrics`, as they are right now.
    pub fn gauges(&self) -> Gauges {
        let (peers, rooms) = match &self.rooms {
            Directory::Local(rooms) => {
                let rooms = lock(rooms);
                (rooms.peer_count(), rooms.room_count())
            }
            Directory::Cluster(cluster) => cluster.counts(),
        };
        Gauges {
            accepted: self.admission.open_connections(),
            // Counts every WebSocket from its upgrade request until it is closed.
            connections: self.connections.len(),
            peers,
            rooms,
            queued_bytes: self.outbox_budget.queued(),
        }
    }
}

fn lock(rooms: &Mutex<Rooms<Outbox>>) -> MutexGuard<'_, Rooms<Outbox>> {
    // Nothing panics while holding the lock, and the rooms stay consistent after every
    // single call anyway, so a poisoned lock is still usable.
    rooms.lock().unwrap_or_else(PoisonError::into_inner)
}
