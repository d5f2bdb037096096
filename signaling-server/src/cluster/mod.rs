//! Rooms that span several server processes ("nodes"), through Redis (`--redis-url`).
//!
//! Each node keeps only its own connections (see `seats`); who sits where in every room
//! lives in Redis, changed only by the Lua scripts in `scripts/`, each of which runs
//! atomically: a join (with the room's capacity, the meeting-place rule and the takeover
//! of a reconnecting peer's seat, as in `rooms`), a rename, a leave, a signal. A script
//! publishes what it changed to the channel of each node that holds a seat in the room,
//! and each node hands those events to its own connections. A signal to a peer on the
//! same node skips Redis.
//!
//! Every node renews a presence key each [`HEARTBEAT`], which lasts [`PRESENCE`]. The
//! heartbeat also frees the seats of any node whose presence expired, and its rooms get
//! `peer_left` for them; a peer that came back through another node first took its seat
//! over, silently, as a reconnect does on one node. A node that finds its own presence
//! expired (Redis was out of reach, or the node stalled) may have lost its seats so, and
//! so does a node whose Redis connection breaks: it stops (see [`Cluster::run`]), its
//! clients are closed with 1001 and reconnect through the other nodes.

mod seats;

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures_util::StreamExt;
use meshdrop_protocol::signaling::{PeerInfo, ServerMessage, SignalObject};
use meshdrop_protocol::{PeerId, RoomId};
use redis::aio::{MultiplexedConnection, PubSubStream};
use redis::{AsyncConnectionConfig, Script, ScriptInvocation};
use tokio_util::sync::CancellationToken;

use crate::network_room::NetworkSecret;
use crate::outbox::Outbox;
use crate::rooms::{JoinError, Membership};
use seats::{Event, Seats};

/// How often a node renews its presence.
const HEARTBEAT: Duration = Duration::from_secs(1);

/// How long a node's presence lasts unless renewed: its peers are freed this long
/// (plus at most one heartbeat of another node) after it stops.
pub const PRESENCE: Duration = Duration::from_secs(5);

/// How long a Redis command may take before the node counts Redis as out of reach.
const REDIS_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the network-room secret is kept, so all nodes name network rooms alike.
const NETWORK_SECRET_KEY: &str = "meshdrop:network-secret";

/// Redis did not answer, or the node lost its connection to it.
#[derive(Debug, thiserror::Error)]
#[error("Redis: {0}")]
pub struct Unavailable(#[from] redis::RedisError);

/// Why a node stopped serving.
#[derive(Debug, thiserror::Error)]
pub enum Lost {
    #[error("the Redis subscription ended")]
    Subscription,
    #[error("this node's presence in Redis expired; other nodes may have freed its seats")]
    Expired,
    #[error("no heartbeat reached Redis for {0:?}: {1}")]
    Heartbeat(Duration, Unavailable),
}

/// What a join in the cluster came to.
pub type Seated = Result<(Membership, Vec<PeerInfo>), JoinError>;

/// The scripts, each prefixed with the helpers they share.
struct Scripts {
    join: Script,
    leave: Script,
    rename: Script,
    signal: Script,
    heartbeat: Script,
}

/// The first three arguments of every script that acts for a seat holder: the room,
/// the peer and its seat, which the script checks the holder still has.
fn on_seat<'a>(script: &'a Script, membership: &Membership) -> ScriptInvocation<'a> {
    let mut invocation = script.arg(membership.room().as_str());
    invocation
        .arg(membership.peer().as_str())
        .arg(membership.seat());
    invocation
}

macro_rules! script {
    ($file:literal) => {
        Script::new(concat!(
            include_str!("scripts/common.lua"),
            include_str!(concat!("scripts/", $file))
        ))
    };
}

impl Scripts {
    fn new() -> Self {
        Self {
            join: script!("join.lua"),
            leave: script!("leave.lua"),
            rename: script!("rename.lua"),
            signal: script!("signal.lua"),
            heartbeat: script!("heartbeat.lua"),
        }
    }
}

/// This node's part of the cluster.
pub struct Cluster {
    /// A random name, new at every start, so a restarted node is a new node.
    node: String,
    redis: MultiplexedConnection,
    /// The heartbeat's own connection, so a backlog of signals on `redis` cannot delay
    /// it past this node's presence.
    heartbeat_redis: MultiplexedConnection,
    seats: Mutex<Seats<Outbox>>,
    scripts: Scripts,
    max_peers_per_room: usize,
}

impl Cluster {
    /// Connect to Redis at `url` and subscribe to this node's events. Returns the
    /// cluster and the events, which [`Cluster::run`] then serves.
    pub async fn connect(
        url: &str,
        max_peers_per_room: usize,
    ) -> Result<(Self, PubSubStream), Unavailable> {
        let client = redis::Client::open(url)?;
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(REDIS_TIMEOUT))
            .set_response_timeout(Some(REDIS_TIMEOUT));
        let redis = client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        let heartbeat_redis = client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        let mut random = [0u8; 8];
        getrandom::fill(&mut random).expect("the operating system provides random bytes");
        let node = hex::encode(random);
        let mut events = client.get_async_pubsub().await?;
        events.subscribe(format!("meshdrop:node:{node}")).await?;
        let cluster = Self {
            node,
            redis,
            heartbeat_redis,
            seats: Mutex::default(),
            scripts: Scripts::new(),
            max_peers_per_room,
        };
        // Present before the first join, so no other node frees its seats meanwhile.
        let _first_beat_finds_nothing = cluster.heartbeat().await?;
        tracing::info!(node = %cluster.node, "joined the cluster");
        Ok((cluster, events.into_on_message()))
    }

    /// The secret all nodes name network rooms with: the first node to ask makes it.
    pub async fn network_secret(&self) -> Result<NetworkSecret, Unavailable> {
        let mut redis = self.redis.clone();
        let mut random = [0u8; 32];
        getrandom::fill(&mut random).expect("the operating system provides random bytes");
        let made = hex::encode(random);
        let () = redis::cmd("SET")
            .arg(NETWORK_SECRET_KEY)
            .arg(&made)
            .arg("NX")
            .exec_async(&mut redis)
            .await?;
        let shared: String = redis::cmd("GET")
            .arg(NETWORK_SECRET_KEY)
            .query_async(&mut redis)
            .await?;
        NetworkSecret::new(shared).map_err(|too_short| {
            let detail = format!("{NETWORK_SECRET_KEY}: {too_short}");
            Unavailable(redis::RedisError::from((
                redis::ErrorKind::Parse,
                "bad network secret",
                detail,
            )))
        })
    }

    /// Seat `peer` in `room` (see `rooms::Rooms::join` for the rules; the room hears
    /// of it as it does on one node). Returns its seat and who else is there; messages
    /// for it from then on go to `outbox`.
    pub async fn join(
        &self,
        room: RoomId,
        peer: PeerInfo,
        outbox: Outbox,
    ) -> Result<Seated, Unavailable> {
        let reservation = self.seats().reserve(room.clone(), peer.id.clone(), outbox);
        let answer: Result<Vec<String>, _> = self
            .scripts
            .join
            .arg(room.as_str())
            .arg(peer.id.as_str())
            .arg(&peer.name)
            .arg(&self.node)
            .arg(self.max_peers_per_room)
            .arg(u8::from(room.is_meeting_place()))
            .invoke_async(&mut self.redis.clone())
            .await;
        let refused = match answer.as_deref() {
            Ok([ok, seat, others @ ..]) if ok == "ok" => match seat.parse() {
                Ok(seat) => {
                    let others = others
                        .chunks_exact(2)
                        .filter_map(|pair| {
                            let id = PeerId::new(pair[0].as_str()).ok()?;
                            Some(PeerInfo {
                                id,
                                name: pair[1].clone(),
                            })
                        })
                        .collect();
                    let membership = self.seats().seat(reservation, seat, |outbox, message| {
                        outbox.deliver(message);
                    });
                    return Ok(Ok((membership, others)));
                }
                Err(_) => None,
            },
            Ok([code]) if code == "room_full" => Some(JoinError::RoomFull {
                max: self.max_peers_per_room,
            }),
            Ok([code]) if code == "code_spent" => Some(JoinError::CodeSpent),
            _ => None,
        };
        self.seats().abandon(reservation);
        match (refused, answer) {
            (Some(refused), _) => Ok(Err(refused)),
            (None, Err(error)) => Err(Unavailable(error)),
            (None, Ok(answer)) => Err(Unavailable(redis::RedisError::from((
                redis::ErrorKind::Parse,
                "unexpected answer to join",
                format!("{answer:?}"),
            )))),
        }
    }

    /// Change the seat holder's name; the room hears `peer_renamed`.
    pub async fn rename(&self, membership: &Membership, name: &str) -> Result<(), Unavailable> {
        if !self.seats().holds(membership) {
            return Ok(());
        }
        let _: i64 = on_seat(&self.scripts.rename, membership)
            .arg(name)
            .invoke_async(&mut self.redis.clone())
            .await?;
        Ok(())
    }

    /// Pass `signal` to `to` in the sender's room. Returns whether `to` is there.
    pub async fn forward(
        &self,
        membership: &Membership,
        to: PeerId,
        signal: SignalObject,
    ) -> Result<bool, Unavailable> {
        {
            let seats = self.seats();
            if !seats.holds(membership) {
                return Ok(false);
            }
            if let Some(outbox) = seats.seated_here(membership, &to) {
                outbox.deliver(ServerMessage::Signal {
                    from: membership.peer().clone(),
                    signal,
                });
                return Ok(true);
            }
        }
        let event = Event::Signal {
            room: membership.room().clone(),
            to: to.clone(),
            from: membership.peer().clone(),
            signal,
        };
        let event = serde_json::to_string(&event).expect("events serialize");
        let sent: i64 = on_seat(&self.scripts.signal, membership)
            .arg(to.as_str())
            .arg(event)
            .invoke_async(&mut self.redis.clone())
            .await?;
        Ok(sent == 1)
    }

    /// Give up the seat; the room hears `peer_left` unless a reconnect took it over.
    pub async fn leave(&self, membership: &Membership) -> Result<(), Unavailable> {
        if !self.seats().leave(membership) {
            return Ok(());
        }
        let _: i64 = on_seat(&self.scripts.leave, membership)
            .invoke_async(&mut self.redis.clone())
            .await?;
        Ok(())
    }

    /// Peers seated on this node, and the rooms they are in.
    pub fn counts(&self) -> (usize, usize) {
        let seats = self.seats();
        (seats.peer_count(), seats.room_count())
    }

    /// Hand this node's events to its connections and keep its presence, until `stop`
    /// is cancelled or the node loses its place in the cluster (then it says why).
    pub async fn run(&self, mut events: PubSubStream, stop: CancellationToken) -> Result<(), Lost> {
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_beat = tokio::time::Instant::now();
        loop {
            tokio::select! {
                () = stop.cancelled() => return Ok(()),
                event = events.next() => {
                    let Some(event) = event else {
                        return Err(Lost::Subscription);
                    };
                    match serde_json::from_slice::<Event>(event.get_payload_bytes()) {
                        Ok(event) => self.seats().dispatch(event, &mut |outbox: &Outbox, message| {
                            outbox.deliver(message);
                        }),
                        Err(error) => tracing::warn!(%error, "unreadable event from Redis"),
                    }
                }
                _ = heartbeat.tick() => match self.heartbeat().await {
                    Ok(true) => last_beat = tokio::time::Instant::now(),
                    Ok(false) => return Err(Lost::Expired),
                    Err(error) if last_beat.elapsed() >= PRESENCE => {
                        return Err(Lost::Heartbeat(last_beat.elapsed(), error));
                    }
                    Err(error) => tracing::warn!(%error, "heartbeat failed"),
                },
            }
        }
    }

    /// Renew this node's presence and free the seats of expired nodes. Returns whether
    /// this node's presence had not expired (the first beat finds none, which is fine).
    async fn heartbeat(&self) -> Result<bool, Unavailable> {
        let (was_alive, freed): (u8, u64) = self
            .scripts
            .heartbeat
            .arg(&self.node)
            .arg(PRESENCE.as_millis() as u64)
            .invoke_async(&mut self.heartbeat_redis.clone())
            .await?;
        if freed > 0 {
            tracing::info!(freed, "freed the seats of nodes that stopped");
        }
        Ok(was_alive == 1)
    }

    fn seats(&self) -> MutexGuard<'_, Seats<Outbox>> {
        // Every change under the lock is complete before it is released.
        self.seats.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
