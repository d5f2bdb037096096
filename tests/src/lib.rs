//! End-to-end test harness: real headless Chromium and Firefox, in network namespaces of
//! their own.
//!
//! A test makes a namespace ([`NetNs`], [`TwoHosts`] for two machines,
//! [`PublicNetworks`] for networks with public addresses of their own, or [`NatNetwork`]
//! for home networks behind NAT routers), runs its body in
//! it with [`run_in`], starts the real signaling server there ([`SignalingServer`]) and
//! browsers ([`Browser::launch`], or [`Launch`] for Firefox and other placements), and
//! drives the web app through its UI contract ([`App`]), the same in either browser;
//! [`room`] gathers several apps into one mesh. Instead of the real server, pages may open
//! a man in the middle ([`MitmServer`]), or the real server through a proxy that records
//! what the clients send it ([`RecordingProxy`]).
//! [`baseline`] measures a raw RTCDataChannel between two browsers, with none of our code.
//!
//! Everything here needs root (namespaces), `ip`, `chromedriver` and `/usr/bin/chromium`,
//! for Firefox `geckodriver` and `/usr/bin/firefox-esr`, and for [`NatNetwork`] `nft`
//! (and coturn's `turnserver` for its relay); `cargo xtask test` installs them.

pub mod app;
mod balancer;
pub mod baseline;
mod browser;
mod chromium;
mod coturn;
pub mod cuts;
mod driver;
mod error;
pub mod files;
mod firefox;
pub mod memory;
mod mitm;
mod nat;
mod netns;
pub mod page_weight;
pub mod permissions;
pub mod processes;
pub mod profiler;
mod raw_client;
mod recording_proxy;
/// A private `redis-server`, as the server's own cluster tests start it.
#[path = "../../signaling-server/tests/common/redis.rs"]
pub mod redis;
pub mod room;
mod server;
pub mod server_process;
mod session_post;
mod stand_in;
pub mod wait;

pub use app::{App, Recipient, TransferButton, TRANSFER_TIMEOUT};
pub use balancer::Balancer;
pub use browser::{Browser, BrowserKind, Launch, PHONE_SCREEN};
pub use coturn::Coturn;
pub use error::{Error, Result};
pub use files::TestFile;
pub use mitm::{MitmServer, ShownFingerprint};
pub use nat::{Home, HomeHost, NatKind, NatNetwork};
pub use netns::{
    run_in, NetNs, PublicNetworks, RemoteHost, Site, Switch, TwoHosts, HOST_A, HOST_B,
};
pub use raw_client::RawClient;
pub use recording_proxy::RecordingProxy;
pub use server::{ServesApp, SignalingServer};
