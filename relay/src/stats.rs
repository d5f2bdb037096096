//! What the relay did, for an operator's metrics: shared counters that the core bumps
//! and a scraper reads from another thread.
//!
//! The allocation count is set from the live table after each change, never counted up
//! and down, so it cannot drift.

use std::sync::atomic::{AtomicU64, Ordering};

/// Why a request got an error response (challenges for credentials, the first step of
/// every authenticated exchange, are not refusals and are not counted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// 400: a malformed or incomplete request.
    BadRequest,
    /// 401: the message integrity does not match the credential's password.
    WrongPassword,
    /// 401: the username's expiry time has passed, or it has none.
    ExpiredCredential,
    /// 403: a peer address the relay does not send to (loopback, multicast, ...).
    ForbiddenPeer,
    /// 420: a comprehension-required attribute this relay does not implement.
    UnknownAttribute,
    /// 437: no allocation for this client, or another one than the request assumes.
    AllocationMismatch,
    /// 438: a nonce this relay did not give this client.
    StaleNonce,
    /// 440: an allocation of an address family the relay does not relay.
    AddressFamily,
    /// 443: a peer of another address family than the relay's.
    PeerAddressFamily,
    /// 441: a request on an allocation under another username than the one that made it.
    WrongCredentials,
    /// 442: a transport other than UDP.
    UnsupportedTransport,
    /// 486: the credential already holds its maximum of allocations.
    AllocationQuota,
    /// 508: no relay port could be opened.
    InsufficientCapacity,
}

impl Refusal {
    pub const ALL: [Refusal; 13] = [
        Refusal::BadRequest,
        Refusal::WrongPassword,
        Refusal::ExpiredCredential,
        Refusal::ForbiddenPeer,
        Refusal::UnknownAttribute,
        Refusal::AllocationMismatch,
        Refusal::StaleNonce,
        Refusal::AddressFamily,
        Refusal::PeerAddressFamily,
        Refusal::WrongCredentials,
        Refusal::UnsupportedTransport,
        Refusal::AllocationQuota,
        Refusal::InsufficientCapacity,
    ];

    /// A snake_case name for metric labels.
    pub fn name(self) -> &'static str {
        match self {
            Refusal::BadRequest => "bad_request",
            Refusal::WrongPassword => "wrong_password",
            Refusal::ExpiredCredential => "expired_credential",
            Refusal::ForbiddenPeer => "forbidden_peer",
            Refusal::UnknownAttribute => "unknown_attribute",
            Refusal::AllocationMismatch => "allocation_mismatch",
            Refusal::StaleNonce => "stale_nonce",
            Refusal::AddressFamily => "address_family",
            Refusal::PeerAddressFamily => "peer_address_family",
            Refusal::WrongCredentials => "wrong_credentials",
            Refusal::UnsupportedTransport => "unsupported_transport",
            Refusal::AllocationQuota => "allocation_quota",
            Refusal::InsufficientCapacity => "insufficient_capacity",
        }
    }

    fn index(self) -> usize {
        Self::ALL
            .iter()
            .position(|refusal| *refusal == self)
            .unwrap_or_default()
    }
}

/// The relay's counters and its one gauge.
#[derive(Debug, Default)]
pub struct Stats {
    allocations: AtomicU64,
    bytes_relayed: AtomicU64,
    dropped_over_limit: AtomicU64,
    malformed: AtomicU64,
    refused: [AtomicU64; Refusal::ALL.len()],
}

impl Stats {
    /// Live allocations, including those whose relay socket is being opened.
    pub fn allocations(&self) -> u64 {
        self.allocations.load(Ordering::Relaxed)
    }

    /// Payload bytes relayed, both ways (client to peer and peer to client).
    pub fn bytes_relayed(&self) -> u64 {
        self.bytes_relayed.load(Ordering::Relaxed)
    }

    /// Datagrams dropped because their credential was over its bandwidth.
    pub fn dropped_over_limit(&self) -> u64 {
        self.dropped_over_limit.load(Ordering::Relaxed)
    }

    /// Datagrams dropped because they were neither well-formed STUN nor ChannelData.
    pub fn malformed(&self) -> u64 {
        self.malformed.load(Ordering::Relaxed)
    }

    /// Requests refused for `reason`.
    pub fn refused(&self, reason: Refusal) -> u64 {
        self.refused[reason.index()].load(Ordering::Relaxed)
    }

    pub(crate) fn set_allocations(&self, count: usize) {
        self.allocations.store(count as u64, Ordering::Relaxed);
    }

    pub(crate) fn relayed(&self, bytes: usize) {
        self.bytes_relayed
            .fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub(crate) fn dropped(&self) {
        self.dropped_over_limit.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn malformed_datagram(&self) {
        self.malformed.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn refusal(&self, reason: Refusal) {
        self.refused[reason.index()].fetch_add(1, Ordering::Relaxed);
    }
}
