//! Where a client connects from: the TCP peer, or, behind a trusted reverse proxy, the
//! address the proxy says it forwarded for.
//!
//! Anyone can send `Forwarded` or `X-Forwarded-For`, so these headers are believed only
//! on connections from a proxy the operator named ([`TrustedProxy`]), and only as far
//! as the chain of trusted proxies goes: each proxy appends the address it received the
//! request from, so the hops are read from the right, skipping trusted proxies, and the
//! first address that is not one of them is the client. Whatever a client wrote further
//! left is never looked at. Without a trusted proxy the headers are ignored entirely.
//!
//! `Forwarded` (RFC 7239) is read when present, else `X-Forwarded-For`; several lines
//! of one header count as one list, in order.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use axum::http::header::{HeaderMap, FORWARDED};
use ipnet::IpNet;

/// The de-facto standard headers, which have no constants in `http`.
const X_FORWARDED_FOR: &str = "x-forwarded-for";
const X_FORWARDED_PROTO: &str = "x-forwarded-proto";

/// An address, or a range of addresses, of reverse proxies whose forwarding headers
/// are believed: `203.0.113.7`, `::1` or `172.16.0.0/12`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustedProxy(IpNet);

/// A `--trusted-proxy` value that is neither an IP address nor a range of them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an IP address or a range like 172.16.0.0/12")]
pub struct InvalidTrustedProxy(String);

impl TrustedProxy {
    fn contains(&self, address: IpAddr) -> bool {
        self.0.contains(&address)
    }
}

/// Whether `address` is one of the `trusted` proxies.
pub fn is_trusted(trusted: &[TrustedProxy], address: IpAddr) -> bool {
    trusted.iter().any(|proxy| proxy.contains(address))
}

impl FromStr for TrustedProxy {
    type Err = InvalidTrustedProxy;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let value = value.trim();
        let range = match value.parse::<IpNet>() {
            Ok(range) => range,
            Err(_) => value
                .parse::<IpAddr>()
                .map(|address| IpNet::from(address.to_canonical()))
                .map_err(|_| InvalidTrustedProxy(value.to_owned()))?,
        };
        Ok(Self(range.trunc()))
    }
}

impl fmt::Display for TrustedProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What the server goes by to place a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress {
    pub address: IpAddr,
    /// Forwarding headers came from a peer that is not a trusted proxy and were ignored;
    /// worth a warning, since behind an untrusted proxy every client looks alike.
    pub ignored_headers: bool,
}

/// The client's address for a request that arrived from `peer` with `headers`.
pub fn client_address(
    peer: SocketAddr,
    headers: &HeaderMap,
    trusted: &[TrustedProxy],
) -> ClientAddress {
    let peer = peer.ip().to_canonical();
    let hops = forwarded_hops(headers);
    if !is_trusted(trusted, peer) {
        return ClientAddress {
            address: peer,
            ignored_headers: hops.is_some(),
        };
    }
    let mut client = peer;
    for hop in hops.unwrap_or_default().into_iter().rev() {
        // A hop that is no address (`unknown`, an obfuscated name, garbage) cannot be
        // placed; the last address known stands.
        let Some(address) = hop else { break };
        client = address;
        if !is_trusted(trusted, address) {
            break;
        }
    }
    ClientAddress {
        address: client,
        ignored_headers: false,
    }
}

/// Whether the client reached the trusted proxy that `peer` is over HTTPS, as that
/// proxy says in `Forwarded: proto=` or `X-Forwarded-Proto` (the last value, which the
/// proxy next to the server wrote); `None` if `peer` is not trusted or says nothing.
pub fn forwarded_secure(
    peer: SocketAddr,
    headers: &HeaderMap,
    trusted: &[TrustedProxy],
) -> Option<bool> {
    let peer = peer.ip().to_canonical();
    if !is_trusted(trusted, peer) {
        return None;
    }
    let last_value = |name| {
        let line = headers.get_all(name).iter().next_back()?.to_str().ok()?;
        line.rsplit(',').next().map(str::trim)
    };
    let proto = match last_value(FORWARDED.as_str()) {
        Some(element) => element.split(';').find_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            let value = value.trim().trim_matches('"');
            name.trim().eq_ignore_ascii_case("proto").then_some(value)
        }),
        None => last_value(X_FORWARDED_PROTO),
    }?;
    Some(proto.eq_ignore_ascii_case("https"))
}

/// The hops the forwarding headers list, left to right; `None` without such headers.
fn forwarded_hops(headers: &HeaderMap) -> Option<Vec<Option<IpAddr>>> {
    let lines = |name| {
        headers
            .get_all(name)
            .iter()
            .map(|value| value.to_str().unwrap_or_default())
            .collect::<Vec<_>>()
    };
    let forwarded = lines(FORWARDED.as_str());
    if !forwarded.is_empty() {
        return Some(forwarded.into_iter().flat_map(forwarded_for).collect());
    }
    let x_forwarded_for = lines(X_FORWARDED_FOR);
    if !x_forwarded_for.is_empty() {
        let hops = x_forwarded_for.into_iter().flat_map(|line| line.split(','));
        return Some(hops.map(node_address).collect());
    }
    None
}

/// The `for=` address of each element of one `Forwarded` line (RFC 7239, section 4).
/// An element without `for=` is a hop whose address is unknown.
fn forwarded_for(line: &str) -> impl Iterator<Item = Option<IpAddr>> + '_ {
    // Quoted strings in `Forwarded` hold addresses and ports, never `,` or `;`.
    line.split(',').map(|element| {
        element
            .split(';')
            .find_map(|pair| {
                let (name, value) = pair.split_once('=')?;
                name.trim()
                    .eq_ignore_ascii_case("for")
                    .then(|| node_address(value))
            })
            .flatten()
    })
}

/// The address in a node like `192.0.2.60`, `"192.0.2.60:4711"`, `"[2001:db8::1]:4711"`
/// or `2001:db8::1` (as `X-Forwarded-For` writes IPv6); `None` for anything else.
fn node_address(node: &str) -> Option<IpAddr> {
    let node = node.trim().trim_matches('"');
    let address = node
        .parse::<IpAddr>()
        .ok()
        .or_else(|| node.parse::<SocketAddr>().ok().map(|socket| socket.ip()))
        .or_else(|| {
            let bracketed = node.strip_prefix('[')?.split_once(']')?.0;
            bracketed.parse::<IpAddr>().ok()
        })?;
    Some(address.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderName, HeaderValue};

    const PROXY: &str = "10.0.0.2";

    fn peer(address: &str) -> SocketAddr {
        SocketAddr::new(address.parse().unwrap(), 50_000)
    }

    fn headers(lines: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in lines {
            let name = HeaderName::from_bytes(name.as_bytes()).unwrap();
            map.append(name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn trusted(values: &[&str]) -> Vec<TrustedProxy> {
        values.iter().map(|value| value.parse().unwrap()).collect()
    }

    /// The client address of a request from `from` with `lines`, trusting `proxies`.
    fn resolve(from: &str, lines: &[(&str, &str)], proxies: &[&str]) -> IpAddr {
        client_address(peer(from), &headers(lines), &trusted(proxies)).address
    }

    fn ip(address: &str) -> IpAddr {
        address.parse().unwrap()
    }

    #[test]
    fn without_a_trusted_proxy_the_headers_change_nothing() {
        let forged = [
            ("x-forwarded-for", "198.51.100.7"),
            ("forwarded", "for=198.51.100.7"),
        ];
        let seen = client_address(peer("203.0.113.9"), &headers(&forged), &[]);
        assert_eq!(seen.address, ip("203.0.113.9"));
        assert!(seen.ignored_headers);
        // Trusting some other proxy does not make this peer one.
        assert_eq!(resolve("203.0.113.9", &forged, &[PROXY]), ip("203.0.113.9"));
    }

    #[test]
    fn a_plain_request_is_its_peer() {
        let seen = client_address(peer("203.0.113.9"), &HeaderMap::new(), &trusted(&[PROXY]));
        assert_eq!(seen.address, ip("203.0.113.9"));
        assert!(!seen.ignored_headers);
    }

    #[test]
    fn a_trusted_proxy_names_the_client() {
        let lines = [("x-forwarded-for", "198.51.100.7")];
        assert_eq!(resolve(PROXY, &lines, &[PROXY]), ip("198.51.100.7"));
        let lines = [("forwarded", "for=198.51.100.7;proto=https;by=10.0.0.2")];
        assert_eq!(resolve(PROXY, &lines, &[PROXY]), ip("198.51.100.7"));
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client_whatever_the_client_prepended() {
        // The client forged the first entry; the proxy appended what it saw.
        let lines = [("x-forwarded-for", "192.0.2.1, 198.51.100.7")];
        assert_eq!(resolve(PROXY, &lines, &[PROXY]), ip("198.51.100.7"));
        // Two trusted proxies in a row: the outer one's entry is skipped too.
        let lines = [("x-forwarded-for", "192.0.2.1, 198.51.100.7, 10.0.0.9")];
        assert_eq!(
            resolve(PROXY, &lines, &[PROXY, "10.0.0.0/24"]),
            ip("198.51.100.7")
        );
        // Every hop trusted: the left-most one.
        let lines = [("x-forwarded-for", "10.0.0.8, 10.0.0.9")];
        assert_eq!(resolve(PROXY, &lines, &["10.0.0.0/24"]), ip("10.0.0.8"));
    }

    #[test]
    fn several_header_lines_are_one_list() {
        let lines = [
            ("x-forwarded-for", "192.0.2.1"),
            ("x-forwarded-for", "198.51.100.7"),
        ];
        assert_eq!(resolve(PROXY, &lines, &[PROXY]), ip("198.51.100.7"));
    }

    #[test]
    fn forwarded_wins_over_x_forwarded_for() {
        let lines = [
            ("x-forwarded-for", "192.0.2.1"),
            ("forwarded", "for=198.51.100.7"),
        ];
        assert_eq!(resolve(PROXY, &lines, &[PROXY]), ip("198.51.100.7"));
    }

    #[test]
    fn forwarded_nodes_in_every_spelling() {
        for (value, expected) in [
            ("for=198.51.100.7", "198.51.100.7"),
            ("For=\"198.51.100.7:4711\"", "198.51.100.7"),
            ("for=\"[2001:db8:cafe::17]:4711\"", "2001:db8:cafe::17"),
            ("for=\"[2001:db8:cafe::17]\"", "2001:db8:cafe::17"),
            ("proto=https; for=198.51.100.7", "198.51.100.7"),
            ("for=192.0.2.1, for=198.51.100.7", "198.51.100.7"),
        ] {
            let lines = [("forwarded", value)];
            assert_eq!(resolve(PROXY, &lines, &[PROXY]), ip(expected), "{value}");
        }
        let lines = [("x-forwarded-for", "2001:db8:cafe::17")];
        assert_eq!(resolve(PROXY, &lines, &[PROXY]), ip("2001:db8:cafe::17"));
    }

    #[test]
    fn a_hop_that_is_no_address_stops_at_the_last_known_one() {
        for lines in [
            [("forwarded", "for=unknown")],
            [("forwarded", "for=_hidden")],
            [("forwarded", "proto=https")],
            [("x-forwarded-for", "not an address")],
        ] {
            assert_eq!(resolve(PROXY, &lines, &[PROXY]), ip(PROXY), "{lines:?}");
        }
        let lines = [("x-forwarded-for", "198.51.100.7, garbage, 10.0.0.9")];
        assert_eq!(resolve(PROXY, &lines, &["10.0.0.0/24"]), ip("10.0.0.9"));
    }

    #[test]
    fn ipv4_mapped_addresses_are_ipv4() {
        let lines = [("x-forwarded-for", "::ffff:198.51.100.7")];
        assert_eq!(
            resolve("::ffff:10.0.0.2", &lines, &[PROXY]),
            ip("198.51.100.7")
        );
        assert_eq!(resolve("::ffff:10.0.0.2", &[], &[]), ip(PROXY));
    }

    #[test]
    fn trusted_proxies_parse_from_addresses_and_ranges() {
        assert_eq!(
            "172.16.0.0/12".parse::<TrustedProxy>().unwrap().to_string(),
            "172.16.0.0/12"
        );
        assert_eq!(
            "::1".parse::<TrustedProxy>().unwrap().to_string(),
            "::1/128"
        );
        assert_eq!(
            " 10.0.0.2 ".parse::<TrustedProxy>().unwrap().to_string(),
            "10.0.0.2/32"
        );
        // Host bits are dropped: the range is what counts.
        assert_eq!(
            "10.1.2.3/8".parse::<TrustedProxy>().unwrap().to_string(),
            "10.0.0.0/8"
        );
        for bad in ["", "proxy.example", "10.0.0.0/33", "10.0.0.2:80"] {
            assert!(bad.parse::<TrustedProxy>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn a_trusted_proxy_tells_whether_the_client_came_over_https() {
        let secure = |from: &str, lines: &[(&str, &str)]| {
            forwarded_secure(peer(from), &headers(lines), &trusted(&[PROXY]))
        };
        assert_eq!(secure(PROXY, &[("x-forwarded-proto", "https")]), Some(true));
        assert_eq!(secure(PROXY, &[("x-forwarded-proto", "http")]), Some(false));
        assert_eq!(
            secure(PROXY, &[("forwarded", "for=192.0.2.1;proto=https")]),
            Some(true)
        );
        // The last element is the proxy next to the server's.
        assert_eq!(
            secure(
                PROXY,
                &[("forwarded", "proto=http, for=192.0.2.1;proto=https")]
            ),
            Some(true)
        );
        assert_eq!(secure(PROXY, &[]), None);
        assert_eq!(
            secure("203.0.113.9", &[("x-forwarded-proto", "https")]),
            None,
            "not from a trusted proxy"
        );
    }
}
