//! Network rooms: which network a client address is on, and the name of its room.
//!
//! Pages whose connections come from the same public IPv4 address, or from the same
//! IPv6 /64, are on one network (a home or an office behind one NAT, or behind one
//! router's IPv6 prefix) and share a room, so they meet without exchanging a link.
//!
//! Addresses that are not routed on the internet reach the server without crossing it:
//! the server is on their network, and all of them share this server's one LAN room.
//! These are RFC 1918 private addresses, loopback, link-local (IPv4 and IPv6), IPv6
//! unique local addresses (fc00::/7), and the shared address space of RFC 6598
//! (100.64.0.0/10). The last one because a server sees such addresses only from inside
//! that space, most often an overlay network such as a Tailscale tailnet, which gives
//! every device an address of its own there: treated as public, each device would sit
//! alone in its room, while the people running the overlay mean it as one network.
//!
//! A network room's name is [`NETWORK_ROOM_PREFIX`] and 32 hex digits of
//! HMAC-SHA256, keyed with the server's [`NetworkSecret`], over the network. The same
//! network always gets the same room, but neither the name nor anything else the
//! server keeps reveals the address, and without the secret nobody can tell which
//! network a name belongs to. Since a `join` may not name a room with the prefix
//! ([`ReservedRoomName`]), a network room is entered only from its network.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hmac::{Hmac, Mac};
use ipnet::Ipv4Net;
use meshdrop_protocol::signaling::NETWORK_ROOM_PREFIX;
use meshdrop_protocol::RoomId;
use sha2::Sha256;

/// RFC 6598's shared address space, for carrier-grade NAT and overlay networks.
const SHARED_ADDRESS_SPACE: Ipv4Net = Ipv4Net::new_assert(Ipv4Addr::new(100, 64, 0, 0), 10);

/// Domain separation, so these hashes are good for nothing else.
const HASH_CONTEXT: &[u8] = b"meshdrop-network-room:";

/// Bytes of the HMAC kept in the room name (128 bits, 32 hex digits).
const NAME_HASH_BYTES: usize = 16;

/// Size of the secret made up when none is configured.
const RANDOM_SECRET_BYTES: usize = 32;

/// The network a client is on, as far as rooms go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Network {
    /// Any address not routed on the internet: the server's own network.
    Lan,
    /// One public IPv4 address, typically a NAT with everyone behind it.
    Ipv4(Ipv4Addr),
    /// The first 64 bits of a public IPv6 address: one subnet.
    Ipv6Prefix([u8; 8]),
}

impl Network {
    /// The network `address` belongs to.
    pub fn of(address: IpAddr) -> Self {
        match address.to_canonical() {
            IpAddr::V4(address) if is_local_v4(address) => Self::Lan,
            IpAddr::V4(address) => Self::Ipv4(address),
            IpAddr::V6(address) if is_local_v6(address) => Self::Lan,
            IpAddr::V6(address) => {
                let mut prefix = [0; 8];
                prefix.copy_from_slice(&address.octets()[..8]);
                Self::Ipv6Prefix(prefix)
            }
        }
    }

    /// An unambiguous encoding of the network: the HMAC's message.
    fn hash_input(&self) -> Vec<u8> {
        let (kind, bytes): (&[u8], &[u8]) = match self {
            Self::Lan => (b"lan", &[]),
            Self::Ipv4(address) => (b"ipv4:", &address.octets()),
            Self::Ipv6Prefix(prefix) => (b"ipv6/64:", prefix),
        };
        [HASH_CONTEXT, kind, bytes].concat()
    }
}

fn is_local_v4(address: Ipv4Addr) -> bool {
    address.is_private()
        || address.is_loopback()
        || address.is_link_local()
        || address.is_unspecified()
        || SHARED_ADDRESS_SPACE.contains(&address)
}

fn is_local_v6(address: Ipv6Addr) -> bool {
    address.is_loopback()
        || address.is_unspecified()
        || address.is_unique_local()
        || address.is_unicast_link_local()
}

/// The key of the hash that names network rooms; never printed.
#[derive(Clone)]
pub struct NetworkSecret(Vec<u8>);

/// A configured secret too short to keep the hash from being guessed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be at least {} bytes", NetworkSecret::MIN_BYTES)]
pub struct SecretTooShort;

impl NetworkSecret {
    /// Shortest configured secret: the room names of one's own network are known to
    /// everyone on it, so a short secret could be found by trying them all.
    pub const MIN_BYTES: usize = 16;

    /// A configured secret, such as `--network-secret`.
    pub fn new(secret: impl Into<Vec<u8>>) -> Result<Self, SecretTooShort> {
        let secret = secret.into();
        if secret.len() < Self::MIN_BYTES {
            return Err(SecretTooShort);
        }
        Ok(Self(secret))
    }

    /// A fresh secret from the operating system's random source: network rooms get new
    /// names at every start of the server.
    pub fn random() -> Self {
        let mut secret = vec![0; RANDOM_SECRET_BYTES];
        getrandom::fill(&mut secret).expect("the operating system provides random bytes");
        Self(secret)
    }
}

impl fmt::Debug for NetworkSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NetworkSecret(<redacted>)")
    }
}

/// Names network rooms with one server's secret.
#[derive(Clone)]
pub struct NetworkRooms {
    mac: Hmac<Sha256>,
}

impl NetworkRooms {
    pub fn new(secret: &NetworkSecret) -> Self {
        Self {
            mac: Hmac::new_from_slice(&secret.0).expect("HMAC accepts keys of any length"),
        }
    }

    /// The room of `network`.
    pub fn room_of(&self, network: Network) -> RoomId {
        let mut mac = self.mac.clone();
        mac.update(&network.hash_input());
        let hash = mac.finalize().into_bytes();
        let name = format!(
            "{NETWORK_ROOM_PREFIX}{}",
            hex::encode(&hash[..NAME_HASH_BYTES])
        );
        RoomId::new(name).expect("the prefix and hex digits make a valid room name")
    }
}

/// A `join` that names a network room: those are entered by joining without a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "room names starting with {NETWORK_ROOM_PREFIX} are network rooms; \
     join without a room to enter the room of your network"
)]
pub struct ReservedRoomName;

/// The room a `join` asking for `requested` enters, given the client's `network_room`,
/// and whether that is the network room.
pub fn room_to_join(
    requested: Option<RoomId>,
    network_room: &RoomId,
) -> Result<(RoomId, bool), ReservedRoomName> {
    match requested {
        None => Ok((network_room.clone(), true)),
        Some(room) if room.is_network_room() => Err(ReservedRoomName),
        Some(room) => Ok((room, false)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn network(address: &str) -> Network {
        Network::of(address.parse().unwrap())
    }

    fn rooms(secret: &str) -> NetworkRooms {
        NetworkRooms::new(&NetworkSecret::new(secret).unwrap())
    }

    #[test]
    fn a_public_ipv4_address_is_a_network_of_its_own() {
        assert_eq!(
            network("198.51.100.7"),
            Network::Ipv4(Ipv4Addr::new(198, 51, 100, 7))
        );
        assert_ne!(network("198.51.100.7"), network("198.51.100.8"));
        assert_eq!(network("::ffff:198.51.100.7"), network("198.51.100.7"));
    }

    #[test]
    fn ipv6_addresses_share_a_network_by_their_64_bit_prefix() {
        assert_eq!(network("2001:db8:1:2::1"), network("2001:db8:1:2:ffff::9"));
        assert_ne!(network("2001:db8:1:2::1"), network("2001:db8:1:3::1"));
        assert_eq!(
            network("2001:db8:1:2::1"),
            Network::Ipv6Prefix([0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2])
        );
    }

    #[test]
    fn addresses_not_routed_on_the_internet_are_the_lan() {
        for address in [
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.254",
            "192.168.1.20",
            "127.0.0.1",
            "169.254.10.1",
            "100.64.0.1",
            "100.127.255.254",
            "::1",
            "fd12:3456::1",
            "fc00::1",
            "fe80::1",
            "::ffff:192.168.1.20",
        ] {
            assert_eq!(network(address), Network::Lan, "{address}");
        }
        // Just outside those ranges.
        for address in [
            "172.32.0.1",
            "100.128.0.1",
            "100.63.255.255",
            "11.0.0.1",
            "2001:db8::1",
        ] {
            assert_ne!(network(address), Network::Lan, "{address}");
        }
    }

    #[test]
    fn room_names_are_stable_per_network_and_hide_the_address() {
        let rooms = rooms("a secret of sixteen+ bytes");
        let home = rooms.room_of(network("198.51.100.7"));
        assert_eq!(home, rooms.room_of(network("198.51.100.7")));
        assert!(home.is_network_room());
        assert_eq!(home.as_str().len(), NETWORK_ROOM_PREFIX.len() + 32);
        for other in ["198.51.100.8", "10.0.0.1", "2001:db8::1"] {
            assert_ne!(home, rooms.room_of(network(other)), "{other}");
        }
        for revealing in ["198", "c63364", "51.100"] {
            assert!(!home.as_str().contains(revealing), "{home} has {revealing}");
        }
    }

    #[test]
    fn room_names_are_the_documented_keyed_hash() {
        let secret = "a secret of sixteen+ bytes";
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(b"meshdrop-network-room:ipv4:\xc6\x33\x64\x07");
        let expected = hex::encode(&mac.finalize().into_bytes()[..16]);
        let room = rooms(secret).room_of(network("198.51.100.7"));
        assert_eq!(room.as_str(), format!("_net-{expected}"));
    }

    #[test]
    fn another_secret_gives_other_names() {
        let lan = |rooms: NetworkRooms| rooms.room_of(Network::Lan);
        assert_ne!(
            lan(rooms("a secret of sixteen+ bytes")),
            lan(rooms("another secret, also long"))
        );
        let random = || NetworkRooms::new(&NetworkSecret::random());
        assert_ne!(lan(random()), lan(random()));
    }

    #[test]
    fn short_secrets_are_refused_and_none_is_printed() {
        assert_eq!(NetworkSecret::new("too short").unwrap_err(), SecretTooShort);
        let secret = NetworkSecret::new("a secret of sixteen+ bytes").unwrap();
        assert!(!format!("{secret:?}").contains("sixteen"));
    }

    #[test]
    fn a_join_goes_to_the_network_room_unless_it_names_a_private_one() {
        let network_room = rooms("a secret of sixteen+ bytes").room_of(Network::Lan);
        assert_eq!(
            room_to_join(None, &network_room),
            Ok((network_room.clone(), true))
        );
        let private = RoomId::new("quiet-otter").unwrap();
        assert_eq!(
            room_to_join(Some(private.clone()), &network_room),
            Ok((private, false))
        );
        assert_eq!(
            room_to_join(Some(network_room.clone()), &network_room),
            Err(ReservedRoomName)
        );
        let guessed = RoomId::new("_net-anything").unwrap();
        assert_eq!(
            room_to_join(Some(guessed), &network_room),
            Err(ReservedRoomName)
        );
    }
}
