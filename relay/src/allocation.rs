//! One allocation: a relay address held for one client, with the peers it may talk to
//! (permissions, by IP address) and the channels bound to them.
//!
//! Lifetimes are those of RFC 5766: the allocation lives as long as the client asked
//! (bounded by the server), a permission five minutes, a channel ten, each renewed by
//! the request that installed it.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use rtc_stun::message::TransactionId;

use crate::server::ClientAddr;

/// How long a permission lasts unless renewed (RFC 5766, section 8).
pub const PERMISSION_LIFETIME: Duration = Duration::from_secs(300);

/// How long a channel binding lasts unless renewed (RFC 5766, section 11).
pub const CHANNEL_LIFETIME: Duration = Duration::from_secs(600);

/// Names one allocation between the core and its driver (and its relay socket).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AllocationId(pub u64);

#[derive(Debug)]
pub struct Allocation {
    pub client: ClientAddr,
    /// The credential that made it; every later request must carry the same.
    pub username: String,
    /// The long-term key (MD5 of username, realm, password) that signs the responses.
    pub key: Vec<u8>,
    /// The Allocate request that made it, answered again if the client retransmits.
    pub request: TransactionId,
    /// The relay socket's address, once the driver has opened it.
    pub relayed: Option<SocketAddr>,
    pub expires: Instant,
    permissions: HashMap<IpAddr, Instant>,
    channels: HashMap<u16, Channel>,
}

#[derive(Debug, Clone, Copy)]
struct Channel {
    peer: SocketAddr,
    expires: Instant,
}

/// A channel request that conflicts with the bindings in place (RFC 5766, 11.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ChannelConflict {
    #[error("the channel is bound to another peer")]
    ChannelTaken,
    #[error("the peer is bound to another channel")]
    PeerTaken,
}

impl Allocation {
    pub fn new(
        client: ClientAddr,
        username: String,
        key: Vec<u8>,
        request: TransactionId,
        expires: Instant,
    ) -> Self {
        Self {
            client,
            username,
            key,
            request,
            relayed: None,
            expires,
            permissions: HashMap::new(),
            channels: HashMap::new(),
        }
    }

    /// Install or renew the permission for `peer`'s IP address.
    pub fn permit(&mut self, peer: IpAddr, now: Instant) {
        self.permissions.insert(peer, now + PERMISSION_LIFETIME);
    }

    pub fn is_permitted(&self, peer: IpAddr, now: Instant) -> bool {
        self.permissions
            .get(&peer)
            .is_some_and(|expires| *expires > now)
    }

    /// Bind `number` to `peer` (or renew that binding), and the peer's permission with it.
    pub fn bind(
        &mut self,
        number: u16,
        peer: SocketAddr,
        now: Instant,
    ) -> Result<(), ChannelConflict> {
        if let Some(channel) = self.channels.get(&number) {
            if channel.peer != peer {
                return Err(ChannelConflict::ChannelTaken);
            }
        } else if self.channel_of(peer).is_some() {
            return Err(ChannelConflict::PeerTaken);
        }
        self.channels.insert(
            number,
            Channel {
                peer,
                expires: now + CHANNEL_LIFETIME,
            },
        );
        self.permit(peer.ip(), now);
        Ok(())
    }

    /// The peer bound to channel `number`.
    pub fn peer_of(&self, number: u16) -> Option<SocketAddr> {
        self.channels.get(&number).map(|channel| channel.peer)
    }

    /// The channel bound to `peer`.
    pub fn channel_of(&self, peer: SocketAddr) -> Option<u16> {
        self.channels
            .iter()
            .find(|(_, channel)| channel.peer == peer)
            .map(|(number, _)| *number)
    }

    /// Forget the permissions and channels that expired by `now`.
    pub fn expire(&mut self, now: Instant) {
        self.permissions.retain(|_, expires| *expires > now);
        self.channels.retain(|_, channel| channel.expires > now);
    }

    /// The earliest time something in this allocation expires.
    pub fn next_expiry(&self) -> Instant {
        let permissions = self.permissions.values().copied();
        let channels = self.channels.values().map(|channel| channel.expires);
        permissions.chain(channels).fold(self.expires, Instant::min)
    }
}
