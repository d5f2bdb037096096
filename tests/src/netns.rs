//! Private network namespaces, so every test has a network of its own.
//!
//! Chromium gathers no ICE candidates when loopback is its only interface, and tests must
//! never reach the outside world. A namespace with a veth pair and a default route gives
//! Chromium a real-looking interface that leads nowhere but back into the test.
//!
//! Linux namespaces belong to threads, so [`run_in`] runs a test body on a fresh thread that
//! joined the namespace and builds the tokio runtime there: runtime workers, the in-process
//! signaling server and every child process (WebDriver servers, browsers) inherit the namespace.

use std::fs::File;
use std::future::Future;
use std::io::Write;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Once;
use std::thread;

use nix::sched::{setns, CloneFlags};

use crate::error::{Error, Result};
use crate::nat::Home;

/// Every namespace this harness makes is named `<PREFIX><pid>-<n>`, so namespaces left behind
/// by a crashed run can be recognised and removed.
const PREFIX: &str = "meshdrop-e2e-";

/// The first host's address: one end of the veth pair.
pub const HOST_A: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
/// The second host's address: the other end of the veth pair, and the default gateway of A.
pub const HOST_B: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);

/// [`PublicNetworks`]' home network: the server's address on its link (TEST-NET-2).
const HOME_GATEWAY: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
/// The home network's public address.
const HOME: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);
/// [`PublicNetworks`]' other network: the server's address on its link (TEST-NET-3).
const AWAY_GATEWAY: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);
/// The other network's public address.
const AWAY: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 2);

/// A named network namespace, deleted on drop.
#[derive(Debug)]
pub struct NetNs {
    name: String,
}

impl NetNs {
    /// One host: a namespace whose veth pair has both ends ([`HOST_A`], [`HOST_B`]) inside it
    /// and a default route through [`HOST_A`]'s end.
    pub fn create() -> Result<NetNs> {
        let ns = NetNs::with_loopback()?;
        ns.link(&ns, "veth-a", "veth-b")?;
        ns.bring_up("veth-a", HOST_A)?;
        ns.bring_up("veth-b", HOST_B)?;
        ns.route_default("veth-a", HOST_B)?;
        Ok(ns)
    }

    /// The name to pass to `ip netns exec`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A fresh namespace with only loopback, up.
    pub(crate) fn with_loopback() -> Result<NetNs> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        static CLEAN_UP_STALE: Once = Once::new();
        CLEAN_UP_STALE.call_once(remove_stale_namespaces);

        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("{PREFIX}{}-{n}", std::process::id());
        ip(&["netns", "add", &name])?;
        let ns = NetNs { name };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// A veth pair: `here` in this namespace, `there` in `other` (which may be this one).
    pub(crate) fn link(&self, other: &NetNs, here: &str, there: &str) -> Result<()> {
        #[rustfmt::skip]
        let args = ["link", "add", "name", here, "type", "veth", "peer", "name", there, "netns", other.name()];
        self.ip(&args)
    }

    /// Gives `device` `address` on a /24 and brings it up.
    pub(crate) fn bring_up(&self, device: &str, address: Ipv4Addr) -> Result<()> {
        self.ip(&["addr", "add", &format!("{address}/24"), "dev", device])?;
        self.ip(&["link", "set", device, "up"])
    }

    /// A bridge named `bridge`, up, with `address` on a /24: a switch whose ports are
    /// added with [`NetNs::plug`], and this namespace a host on it.
    pub(crate) fn add_bridge(&self, bridge: &str, address: Ipv4Addr) -> Result<()> {
        self.ip(&["link", "add", "name", bridge, "type", "bridge"])?;
        self.bring_up(bridge, address)
    }

    /// Makes `device` a port of `bridge`, and brings it up.
    pub(crate) fn plug(&self, device: &str, bridge: &str) -> Result<()> {
        self.ip(&["link", "set", device, "master", bridge, "up"])
    }

    pub(crate) fn route_default(&self, device: &str, gateway: Ipv4Addr) -> Result<()> {
        self.ip(&[
            "route",
            "add",
            "default",
            "via",
            &gateway.to_string(),
            "dev",
            device,
        ])
    }

    /// Runs `ip -n <this namespace> <args>`.
    fn ip(&self, args: &[&str]) -> Result<()> {
        let mut full = vec!["-n", &self.name];
        full.extend_from_slice(args);
        ip(&full).map(drop)
    }

    /// Runs `program <args>` in this namespace (`ip netns exec`), with `input` on its
    /// standard input; returns its standard output.
    pub(crate) fn exec(&self, program: &str, args: &[&str], input: &str) -> Result<String> {
        let mut full = vec!["netns", "exec", &self.name, program];
        full.extend_from_slice(args);
        run("ip", &full, input)
    }

    /// Moves the calling thread into this namespace.
    fn enter(&self) -> Result<()> {
        let path = format!("/run/netns/{}", self.name);
        let file = File::open(&path).map_err(Error::io(format!("open {path}")))?;
        setns(file, CloneFlags::CLONE_NEWNET).map_err(|source| Error::EnterNamespace {
            name: self.name.clone(),
            source,
        })
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        if let Err(error) = ip(&["netns", "delete", &self.name]) {
            eprintln!("warning: {error:?}");
        }
    }
}

/// Two hosts joined by one veth pair: `a` owns [`HOST_A`], `b` owns [`HOST_B`], and each
/// routes everything to the other.
///
/// Run the test body in `a` with [`run_in`]; start processes in `b` with
/// `ip netns exec <b.name()> ...` (see [`crate::Browser::launch_in`]).
#[derive(Debug)]
pub struct TwoHosts {
    pub a: NetNs,
    pub b: NetNs,
}

impl TwoHosts {
    pub fn create() -> Result<TwoHosts> {
        let a = NetNs::with_loopback()?;
        let b = NetNs::with_loopback()?;
        a.link(&b, "veth-a", "veth-b")?;
        a.bring_up("veth-a", HOST_A)?;
        b.bring_up("veth-b", HOST_B)?;
        a.route_default("veth-a", HOST_B)?;
        b.route_default("veth-b", HOST_A)?;
        Ok(TwoHosts { a, b })
    }

    /// Cut (`false`) or mend (`true`) the wire between the hosts: `ip link set veth-a
    /// down` / `up`. Taking the device down drops A's default route; mending puts it back.
    pub fn set_wire(&self, up: bool) -> Result<()> {
        if !up {
            return self.a.ip(&["link", "set", "veth-a", "down"]);
        }
        self.a.ip(&["link", "set", "veth-a", "up"])?;
        let gateway = HOST_B.to_string();
        self.a.ip(&[
            "route", "replace", "default", "via", &gateway, "dev", "veth-a",
        ])
    }
}

/// Hosts on one switch, as machines on one LAN: `hub` holds the bridge, at
/// [`Switch::HUB`], where the test body and the signaling server run; host `n` of `hosts`
/// has one port on it, at [`Switch::address`]`(n)`, and its default route through the
/// hub. With a rate, each host sends at most that fast (`tc qdisc … tbf` on its port),
/// as over a home uplink: what limits a swarm is every peer's upload.
#[derive(Debug)]
pub struct Switch {
    pub hub: NetNs,
    pub hosts: Vec<NetNs>,
}

impl Switch {
    /// The hub's address on the bridge.
    pub const HUB: Ipv4Addr = Ipv4Addr::new(10, 78, 0, 1);

    /// `hosts` hosts, each sending at most `egress_mbit` megabits per second if given.
    pub fn create(hosts: usize, egress_mbit: Option<u32>) -> Result<Switch> {
        let hub = NetNs::with_loopback()?;
        hub.add_bridge("br0", Self::HUB)?;
        let mut made = Vec::with_capacity(hosts);
        for n in 0..hosts {
            let host = NetNs::with_loopback()?;
            let port = format!("port{n}");
            hub.link(&host, &port, "eth0")?;
            hub.plug(&port, "br0")?;
            host.bring_up("eth0", Self::address(n))?;
            host.route_default("eth0", Self::HUB)?;
            if let Some(mbit) = egress_mbit {
                let rate = format!("{mbit}mbit");
                #[rustfmt::skip]
                let args = ["qdisc", "add", "dev", "eth0", "root", "tbf", "rate", &rate, "burst", "64kb", "latency", "50ms"];
                host.exec("tc", &args, "")?;
            }
            made.push(host);
        }
        Ok(Switch { hub, hosts: made })
    }

    /// Host `n`'s address.
    pub fn address(n: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, 78, 0, 10 + u8::try_from(n).expect("at most 245 hosts"))
    }
}

/// A host in another namespace than the test body's, and how the test body reaches it.
#[derive(Debug, Clone, Copy)]
pub struct RemoteHost<'a> {
    pub ns: &'a NetNs,
    /// Its own address: where the test body reaches it, unless it is `behind` a NAT.
    pub address: Ipv4Addr,
    /// Where its connections from the test body come from.
    pub driven_from: Ipv4Addr,
    /// The home network it sits in, behind a NAT router: the test body then reaches a
    /// port of it through a port forward on the router ([`Home::forward_tcp`]).
    pub behind: Option<&'a Home>,
}

/// A server on the internet and two networks that reach it from public addresses of
/// their own: what the server sees of clients that are not on its LAN.
///
/// The test body and the signaling server run in `server`. `home` and `away` are one
/// host each, on a link of its own to `server` with a default route through it, at
/// [`Site::address`]; they reach the server at their [`Site::gateway`]. The server does
/// not forward between the links, so the two networks only ever meet at the server.
/// The addresses are documentation ranges (TEST-NET-2 and -3): public-looking, and
/// they never leave these namespaces.
#[derive(Debug)]
pub struct PublicNetworks {
    pub server: NetNs,
    pub home: Site,
    pub away: Site,
}

/// A network of one host with a public address, linked to a [`PublicNetworks`] server.
#[derive(Debug)]
pub struct Site {
    pub ns: NetNs,
    /// The host's address, which the server sees its connections come from.
    pub address: Ipv4Addr,
    /// The server's address on this site's link.
    pub gateway: Ipv4Addr,
}

impl PublicNetworks {
    pub fn create() -> Result<PublicNetworks> {
        let server = NetNs::with_loopback()?;
        let home = Site::linked_to(&server, "to-home", HOME_GATEWAY, HOME)?;
        let away = Site::linked_to(&server, "to-away", AWAY_GATEWAY, AWAY)?;
        Ok(PublicNetworks { server, home, away })
    }
}

impl Site {
    /// A new host whose link to `server` is `device` there, `uplink` on the host.
    fn linked_to(
        server: &NetNs,
        device: &str,
        gateway: Ipv4Addr,
        address: Ipv4Addr,
    ) -> Result<Site> {
        let ns = NetNs::with_loopback()?;
        server.link(&ns, device, "uplink")?;
        server.bring_up(device, gateway)?;
        ns.bring_up("uplink", address)?;
        ns.route_default("uplink", gateway)?;
        Ok(Site {
            ns,
            address,
            gateway,
        })
    }

    /// This host, as the test body in the server's namespace reaches it.
    pub fn remote(&self) -> RemoteHost<'_> {
        RemoteHost {
            ns: &self.ns,
            address: self.address,
            driven_from: self.gateway,
            behind: None,
        }
    }
}

/// Runs `body` to completion on a new thread inside `ns`, on a multi-threaded tokio runtime
/// built on that thread. A panic in `body` is re-raised on the caller's thread.
pub fn run_in<T, F>(ns: &NetNs, body: F) -> Result<T>
where
    F: Future<Output = Result<T>> + Send,
    T: Send,
{
    thread::scope(|scope| {
        let thread = thread::Builder::new()
            .name(ns.name.clone())
            .spawn_scoped(scope, move || {
                ns.enter()?;
                tokio::runtime::Builder::new_multi_thread()
                    .enable_all()
                    .build()
                    .map_err(Error::io("build a tokio runtime"))?
                    .block_on(body)
            })
            .map_err(Error::io("spawn the namespace thread"))?;
        thread
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Deletes namespaces of earlier runs whose process is gone (a crash skips `Drop`).
fn remove_stale_namespaces() {
    let listing = match ip(&["netns", "list"]) {
        Ok(listing) => listing,
        Err(error) => return eprintln!("warning: {error:?}"),
    };
    for name in listing
        .lines()
        .filter_map(|line| line.split_whitespace().next())
    {
        let Some(pid) = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('-').next())
        else {
            continue;
        };
        if !std::path::Path::new("/proc").join(pid).exists() {
            if let Err(error) = ip(&["netns", "delete", name]) {
                eprintln!("warning: {error:?}");
            }
        }
    }
}

/// Runs `ip <args>` and returns its standard output.
fn ip(args: &[&str]) -> Result<String> {
    run("ip", args, "")
}

/// Runs `program <args>` with `input` on its standard input, and returns its standard
/// output; a failure names the command and says what it printed on standard error.
fn run(program: &str, args: &[&str], input: &str) -> Result<String> {
    let command = format!("{program} {}", args.join(" "));
    let action = format!("run `{command}` (`cargo xtask test` installs what the tests run)");
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(Error::io(&action))?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    stdin
        .write_all(input.as_bytes())
        .map_err(Error::io(&action))?;
    drop(stdin);
    let output = child.wait_with_output().map_err(Error::io(action))?;
    if !output.status.success() {
        return Err(Error::Command {
            command,
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
