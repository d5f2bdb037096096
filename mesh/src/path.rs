//! How a link reaches its peer, worked out from the candidate pair ICE selected, and what
//! a peer row says about it: same network, direct across networks, relayed, or no path
//! at all (see [`crate::Output::NoPath`]).
//!
//! People ask "why is this slow?" and "why does it not connect?": the answer is the path.
//! Both the web app and the native peer read the selected pair from their WebRTC stack
//! and describe it with these words, so a phone and a terminal say the same thing.

/// The kinds of ICE candidate (RFC 8445), as `RTCIceCandidateType` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CandidateKind {
    /// An address of the device's own interface.
    Host,
    /// The device's address as a STUN server saw it: its NAT's public mapping.
    ServerReflexive,
    /// An address the peer's checks came from, learnt during the checks.
    PeerReflexive,
    /// An address on a TURN relay.
    Relay,
}

impl CandidateKind {
    /// `"host"`, `"srflx"`, `"prflx"` or `"relay"`, as in SDP and `RTCIceCandidateStats`.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "host" => Self::Host,
            "srflx" => Self::ServerReflexive,
            "prflx" => Self::PeerReflexive,
            "relay" => Self::Relay,
            _ => return None,
        })
    }
}

/// One end of the selected candidate pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate<'a> {
    pub kind: CandidateKind,
    /// Its address: an IP, an mDNS `.local` name, or empty where the stack hides it
    /// (browsers do for a remote peer-reflexive candidate).
    pub address: &'a str,
}

/// How a working link reaches the peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// Straight across the local network.
    SameNetwork,
    /// Straight across the internet, through whatever NATs are in between.
    Direct,
    /// Through a TURN relay, which forwards the encrypted packets.
    Relayed,
}

impl Path {
    /// The pair `local`–`remote` that ICE selected.
    ///
    /// A relay on either end makes the path relayed. Otherwise a server-reflexive end
    /// means a NAT mapping is in use, and the peer is across networks; a remote address
    /// that is private (RFC 1918, unique-local, link-local) or an mDNS name can only be
    /// reached on the local network. A remote peer-reflexive candidate whose address is
    /// hidden is taken as direct: on one network the peer's host candidate would have
    /// matched first.
    pub fn of_pair(local: Candidate<'_>, remote: Candidate<'_>) -> Path {
        use CandidateKind::*;
        if local.kind == Relay || remote.kind == Relay {
            return Path::Relayed;
        }
        if local.kind == ServerReflexive || remote.kind == ServerReflexive {
            return Path::Direct;
        }
        if remote.address.ends_with(".local") {
            return Path::SameNetwork;
        }
        match is_local(remote.address) {
            Some(true) => Path::SameNetwork,
            Some(false) => Path::Direct,
            None if remote.kind == Host => Path::SameNetwork,
            None => Path::Direct,
        }
    }
}

/// Whether the IP literal `address` is only meaningful on a local network; `None` if it
/// is not an IP literal. (Read from the text: the web app is spared the weight of the
/// standard library's address parser.)
fn is_local(address: &str) -> Option<bool> {
    if address.contains(':') {
        // fc00::/7 unique-local, fe80::/10 link-local, loopback.
        let first = address.split(':').next()?.to_ascii_lowercase();
        let ula = first.len() == 4 && (first.starts_with("fc") || first.starts_with("fd"));
        let link_local = first.len() == 4
            && ["fe8", "fe9", "fea", "feb"]
                .iter()
                .any(|p| first.starts_with(p));
        return Some(ula || link_local || address == "::1");
    }
    let mut octets = [0u8; 4];
    let mut parts = address.split('.');
    for octet in &mut octets {
        *octet = parts.next()?.parse().ok()?;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(match octets {
        [10 | 127, ..] => true,
        [172, second, ..] => (16..32).contains(&second),
        [192, 168, ..] | [169, 254, ..] => true,
        _ => false,
    })
}

/// What a peer row says about how the peer is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// The link works, along this path.
    Via(Path),
    /// No path has worked for [`crate::Config::no_path_after`]. `relay_offered`: the
    /// server listed a TURN relay, so even relaying failed.
    NoPath { relay_offered: bool },
}

impl Reach {
    /// A short machine-readable name: `same-network`, `direct`, `relayed` or `none`
    /// (the web app's `data-path`, the native peer's output).
    pub fn name(self) -> &'static str {
        match self {
            Reach::Via(Path::SameNetwork) => "same-network",
            Reach::Via(Path::Direct) => "direct",
            Reach::Via(Path::Relayed) => "relayed",
            Reach::NoPath { .. } => "none",
        }
    }

    /// The words a person reads, saying what would help when there is no path.
    pub fn describe(self) -> &'static str {
        match self {
            Reach::Via(Path::SameNetwork) => "Same network",
            Reach::Via(Path::Direct) => "Direct, across networks",
            Reach::Via(Path::Relayed) => "Relayed (still end-to-end encrypted)",
            Reach::NoPath {
                relay_offered: false,
            } => {
                "Can't connect: your networks block a direct link, and this server has no relay. \
                 Try the same Wi-Fi, or ask the server's admin to turn on its TURN relay."
            }
            Reach::NoPath {
                relay_offered: true,
            } => {
                "Can't connect, not even through this server's relay. A firewall may block \
                 it: try another network."
            }
        }
    }
}

/// Whether any of `urls` names a TURN relay (`turn:` or `turns:`).
pub fn offers_relay<'a>(urls: impl IntoIterator<Item = &'a str>) -> bool {
    urls.into_iter()
        .any(|url| url.starts_with("turn:") || url.starts_with("turns:"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use CandidateKind::*;

    fn pair(local: (CandidateKind, &str), remote: (CandidateKind, &str)) -> Path {
        let candidate = |(kind, address)| Candidate { kind, address };
        Path::of_pair(candidate(local), candidate(remote))
    }

    #[test]
    fn a_relay_on_either_end_is_relayed() {
        assert_eq!(
            pair((Relay, "192.0.2.1"), (Host, "10.0.0.2")),
            Path::Relayed
        );
        assert_eq!(
            pair((Host, "10.0.0.1"), (Relay, "192.0.2.1")),
            Path::Relayed
        );
        assert_eq!(
            pair((ServerReflexive, "198.51.100.7"), (Relay, "")),
            Path::Relayed
        );
    }

    #[test]
    fn a_nat_mapping_is_direct_across_networks() {
        let host = (Host, "10.0.1.2");
        assert_eq!(pair(host, (ServerReflexive, "198.51.100.7")), Path::Direct);
        assert_eq!(
            pair((ServerReflexive, "203.0.113.9"), (Host, "10.0.2.2")),
            Path::Direct
        );
        assert_eq!(pair(host, (PeerReflexive, "198.51.100.7")), Path::Direct);
        // A hidden peer-reflexive address.
        assert_eq!(pair(host, (PeerReflexive, "")), Path::Direct);
        // A public host address: a device with no NAT at all.
        assert_eq!(pair(host, (Host, "203.0.113.2")), Path::Direct);
    }

    #[test]
    fn private_or_mdns_remote_addresses_are_the_same_network() {
        let host = (Host, "192.168.1.10");
        assert_eq!(pair(host, (Host, "192.168.1.11")), Path::SameNetwork);
        assert_eq!(pair(host, (Host, "10.77.0.2")), Path::SameNetwork);
        assert_eq!(pair(host, (Host, "fd12::3")), Path::SameNetwork);
        assert_eq!(pair(host, (Host, "fe80::1")), Path::SameNetwork);
        assert_eq!(pair(host, (Host, "5b1c7a9e-1d2f.local")), Path::SameNetwork);
        assert_eq!(
            pair(host, (PeerReflexive, "192.168.1.11")),
            Path::SameNetwork
        );
        // A host candidate whose address is hidden.
        assert_eq!(pair(host, (Host, "")), Path::SameNetwork);
        assert_eq!(pair(host, (Host, "2001:db8::1")), Path::Direct);
    }

    #[test]
    fn local_addresses_are_told_from_public_ones_by_their_text() {
        for local in [
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.1",
            "192.168.0.1",
            "169.254.1.1",
        ] {
            assert_eq!(is_local(local), Some(true), "{local}");
        }
        for local in [
            "127.0.0.1",
            "::1",
            "FD00::1",
            "fc12:3::",
            "fe80::1",
            "febf::1",
        ] {
            assert_eq!(is_local(local), Some(true), "{local}");
        }
        for public in [
            "172.15.0.1",
            "172.32.0.1",
            "192.0.2.1",
            "8.8.8.8",
            "100.64.0.1",
        ] {
            assert_eq!(is_local(public), Some(false), "{public}");
        }
        for public in ["2001:db8::1", "fc::1", "fec0::1", "::ffff:10.0.0.1"] {
            assert_eq!(is_local(public), Some(false), "{public}");
        }
        for not_ip in [
            "",
            "1.2.3",
            "1.2.3.4.5",
            "256.1.1.1",
            "host.local",
            "a.b.c.d",
        ] {
            assert_eq!(is_local(not_ip), None, "{not_ip}");
        }
    }

    #[test]
    fn candidate_kinds_parse_by_their_sdp_names() {
        let names = ["host", "srflx", "prflx", "relay"];
        let kinds = names.map(|name| CandidateKind::parse(name).unwrap());
        assert_eq!(kinds, [Host, ServerReflexive, PeerReflexive, Relay]);
        assert_eq!(CandidateKind::parse("turn"), None);
    }

    #[test]
    fn no_path_says_what_would_help() {
        let without = Reach::NoPath {
            relay_offered: false,
        };
        let with = Reach::NoPath {
            relay_offered: true,
        };
        assert_eq!(without.name(), "none");
        assert!(without.describe().contains("no relay"));
        assert!(with.describe().contains("not even through"));
        assert!(offers_relay(["stun:a:3478", "turn:a:3478?transport=udp"]));
        assert!(offers_relay(["turns:a:5349"]));
        assert!(!offers_relay(["stun:a:3478"]));
    }
}
