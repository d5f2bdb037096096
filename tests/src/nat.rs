//! Home networks behind NAT routers, on a shared "internet": where peers that are not on
//! one LAN meet, and where a relay is the only way through some NATs.
//!
//! ```text
//!   server namespace: test body, signaling server, STUN, coturn   192.0.2.1
//!        │ bridge `internet` (TEST-NET-1: public-looking, never leaves these namespaces)
//!   ┌────┴─────────────┬──────────────────┐
//!  router 192.0.2.11  router 192.0.2.12  ...   each: `wan` up there, NAT, bridge `lan` below
//!   │ 192.168.1.1      │ 192.168.2.1
//!  hosts 192.168.1.2…  hosts 192.168.2.2…
//! ```
//!
//! Each router masquerades what leaves its `wan` (nftables), as a home router does:
//!
//! * [`NatKind::EndpointIndependent`]: plain `masquerade`, which keeps a host's source
//!   port, so one socket has one public port whatever it talks to. A peer learns it from
//!   STUN and hole punching works.
//! * [`NatKind::Symmetric`]: `masquerade fully-random`: every new destination gets a fresh
//!   random port, so the port STUN saw is not the one a peer would have to answer, and
//!   only a relay gets through.
//!
//! Either router drops whatever arrives on `wan` unsolicited, both to itself and to the
//! LAN: only replies to what a host sent get in. Dropping in the router's own input
//! matters for hole punching too: a peer's first check usually arrives before the host
//! behind this router has sent anything to that peer, and accepting it (even only to
//! answer "port unreachable") would leave a connection-tracking entry for that pair of
//! addresses, which makes the router map the host's own packets to the peer onto another
//! port than the one STUN saw.
//!
//! **How the test body drives browsers behind a NAT.** The test body runs in the server
//! namespace, on the public side, and WebDriver is plain TCP to the driver on the host.
//! Each router forwards the port of each driver behind it ([`Home::forward_tcp`]), accepted
//! only from the test body's address ([`NatNetwork::SERVER`]), as a port forward at home
//! would. That gives ICE no way around the NAT: the forward reaches one TCP port, the
//! driver's, which no ICE candidate uses, and a host has one interface, its LAN, with no
//! other route than its router. The server namespace does not forward between routers,
//! and IPv6 is off throughout, so no link-local path joins two homes either. A second
//! network just for driving would have given every browser a host candidate on a network
//! shared with every other browser: a path that bypasses the NAT.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Mutex;

use crate::error::{Error, Result};
use crate::netns::{NetNs, RemoteHost};

/// How a router maps its hosts' connections to its public address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NatKind {
    /// One public port per host socket, whatever the destination: STUN tells a peer
    /// where to reach it. (The filtering still lets in only replies, from the address
    /// and port the host sent to, so both peers must send: hole punching.)
    EndpointIndependent,
    /// A fresh random public port for every destination: only a relay gets through.
    Symmetric,
}

impl NatKind {
    /// The nftables masquerade statement for this kind.
    fn masquerade(self) -> &'static str {
        match self {
            NatKind::EndpointIndependent => "masquerade",
            NatKind::Symmetric => "masquerade fully-random",
        }
    }
}

/// The public network and the homes on it; see the module's documentation.
///
/// Run the test body and the servers in `server` ([`crate::run_in`]); start browsers on
/// hosts with [`Home::remote`], which the [`crate::Launch`] and [`crate::room`] helpers take.
#[derive(Debug)]
pub struct NatNetwork {
    /// The namespace on the public side, at [`NatNetwork::SERVER`].
    pub server: NetNs,
    /// In the order they were asked for.
    pub homes: Vec<Home>,
}

/// A home network: a NAT router and the hosts on its LAN.
#[derive(Debug)]
pub struct Home {
    pub router: NetNs,
    pub kind: NatKind,
    /// The router's public address: where this home's connections come from, as the
    /// server and the other homes see them.
    pub public: Ipv4Addr,
    /// The hosts on its LAN.
    pub hosts: Vec<HomeHost>,
    /// The public ports it forwards to a host.
    forwarded: Mutex<BTreeSet<u16>>,
}

/// A host on a [`Home`]'s LAN.
#[derive(Debug)]
pub struct HomeHost {
    pub ns: NetNs,
    /// Its private address.
    pub address: Ipv4Addr,
}

/// The rest of the internet, where the public network's default routes lead: nobody
/// answers there, so what is sent to an address of no one here (a private address of
/// another home, say) is lost on the way, as on the real internet, rather than refused
/// at once. (coturn closed allocations whose peers it could not send to at all.)
const UPSTREAM: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 254);

impl NatNetwork {
    /// The server namespace's address on the public network.
    pub const SERVER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

    /// A public network with one home per entry of `homes`: its kind of NAT and how many
    /// hosts its LAN has (at least one).
    pub fn create(homes: &[(NatKind, usize)]) -> Result<NatNetwork> {
        let server = NetNs::with_loopback()?;
        without_ipv6(&server)?;
        server.add_bridge("internet", Self::SERVER)?;
        server.route_default("internet", UPSTREAM)?;
        let homes = (0u8..)
            .zip(homes)
            .map(|(index, &(kind, hosts))| Home::create(&server, index, kind, hosts))
            .collect::<Result<_>>()?;
        Ok(NatNetwork { server, homes })
    }
}

impl Home {
    /// Home `index`: router at `192.0.2.<11 + index>` on the public side and
    /// `192.168.<1 + index>.1` on its LAN, hosts from `.2` up.
    fn create(server: &NetNs, index: u8, kind: NatKind, hosts: usize) -> Result<Home> {
        assert!(hosts >= 1, "a home has at least one host");
        let public = Ipv4Addr::new(192, 0, 2, 11 + index);
        let lan = |host: u8| Ipv4Addr::new(192, 168, 1 + index, host);

        let router = NetNs::with_loopback()?;
        without_ipv6(&router)?;
        let port = format!("home-{index}");
        server.link(&router, &port, "wan")?;
        server.plug(&port, "internet")?;
        router.bring_up("wan", public)?;
        router.route_default("wan", UPSTREAM)?;
        router.add_bridge("lan", lan(1))?;
        router.exec("sysctl", &["-qw", "net.ipv4.ip_forward=1"], "")?;
        router.exec("nft", &["-f", "-"], &ruleset(kind))?;

        let hosts = (2u8..)
            .take(hosts)
            .map(|host| {
                let ns = NetNs::with_loopback()?;
                without_ipv6(&ns)?;
                let port = format!("host-{host}");
                router.link(&ns, &port, "eth0")?;
                router.plug(&port, "lan")?;
                ns.bring_up("eth0", lan(host))?;
                ns.route_default("eth0", lan(1))?;
                Ok(HomeHost {
                    ns,
                    address: lan(host),
                })
            })
            .collect::<Result<_>>()?;
        Ok(Home {
            router,
            kind,
            public,
            hosts,
            forwarded: Mutex::default(),
        })
    }

    /// Host `index` of this home, driven from the test body in the server namespace.
    pub fn remote(&self, index: usize) -> RemoteHost<'_> {
        let host = &self.hosts[index];
        RemoteHost {
            ns: &host.ns,
            address: host.address,
            driven_from: NatNetwork::SERVER,
            behind: Some(self),
        }
    }

    /// Forwards `port` of the router's public address to `port` of the host at `to`, for
    /// connections from `from` only, and returns the public address and port. The port
    /// stays the same because geckodriver checks the port its requests name.
    pub fn forward_tcp(&self, to: Ipv4Addr, port: u16, from: Ipv4Addr) -> Result<SocketAddr> {
        let forwarded = self
            .forwarded
            .lock()
            .expect("no panic while held")
            .insert(port);
        if !forwarded {
            return Err(Error::Command {
                command: format!("forward port {port} of {} to {to}", self.public),
                stderr: "the router already forwards that port to another host".into(),
            });
        }
        let rule = format!(
            "add rule ip home prerouting iifname \"wan\" ip saddr {from} tcp dport {port} dnat to {to}:{port}\n"
        );
        self.router.exec("nft", &["-f", "-"], &rule)?;
        Ok(SocketAddr::from((self.public, port)))
    }
}

/// The router's nftables rules: masquerade what leaves on `wan`, and let in on `wan`
/// only replies and forwarded ports.
fn ruleset(kind: NatKind) -> String {
    let masquerade = kind.masquerade();
    format!(
        r#"
table ip home {{
    chain prerouting {{
        type nat hook prerouting priority dstnat; policy accept;
    }}
    chain postrouting {{
        type nat hook postrouting priority srcnat; policy accept;
        oifname "wan" {masquerade}
    }}
    chain input {{
        type filter hook input priority filter; policy accept;
        iifname "wan" ct state established,related accept
        iifname "wan" drop
    }}
    chain forward {{
        type filter hook forward priority filter; policy accept;
        iifname "wan" ct state established,related accept
        iifname "wan" ct status dnat accept
        iifname "wan" drop
    }}
}}
"#
    )
}

/// Turns IPv6 off in `ns`, for its links made from now on too: no link-local address
/// may give two homes a path that skips their routers.
fn without_ipv6(ns: &NetNs) -> Result<()> {
    ns.exec(
        "sysctl",
        &[
            "-qw",
            "net.ipv6.conf.all.disable_ipv6=1",
            "net.ipv6.conf.default.disable_ipv6=1",
        ],
        "",
    )
    .map(drop)
}
