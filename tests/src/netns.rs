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
use std::net::Ipv4Addr;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Once;
use std::thread;

use nix::sched::{setns, CloneFlags};

use crate::error::{Error, Result};

/// Every namespace this harness makes is named `<PREFIX><pid>-<n>`, so namespaces left behind
/// by a crashed run can be recognised and removed.
const PREFIX: &str = "meshdrop-e2e-";

/// The first host's address: one end of the veth pair.
pub const HOST_A: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
/// The second host's address: the other end of the veth pair, and the default gateway of A.
pub const HOST_B: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);

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
        ns.ip(&[
            "link", "add", "name", "veth-a", "type", "veth", "peer", "name", "veth-b",
        ])?;
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
    fn with_loopback() -> Result<NetNs> {
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

    fn bring_up(&self, device: &str, address: Ipv4Addr) -> Result<()> {
        self.ip(&["addr", "add", &format!("{address}/24"), "dev", device])?;
        self.ip(&["link", "set", device, "up"])
    }

    fn route_default(&self, device: &str, gateway: Ipv4Addr) -> Result<()> {
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
        #[rustfmt::skip]
        a.ip(&["link", "add", "name", "veth-a", "type", "veth", "peer", "name", "veth-b", "netns", b.name()])?;
        a.bring_up("veth-a", HOST_A)?;
        b.bring_up("veth-b", HOST_B)?;
        a.route_default("veth-a", HOST_B)?;
        b.route_default("veth-b", HOST_A)?;
        Ok(TwoHosts { a, b })
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
    let command = format!("ip {}", args.join(" "));
    let output = Command::new("ip")
        .args(args)
        .output()
        .map_err(Error::io(format!(
            "run `{command}` (is iproute2 installed?)"
        )))?;
    if !output.status.success() {
        return Err(Error::Command {
            command,
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
