//! End-to-end test harness: real headless Chromium, in network namespaces of their own.
//!
//! A test makes a namespace ([`NetNs`], or [`TwoHosts`] for two machines), runs its body in
//! it with [`run_in`], and starts browsers there with [`Browser::launch`] or [`Launch`].
//! [`baseline`] measures a raw RTCDataChannel between two browsers, with none of our code.
//!
//! Everything here needs root (namespaces), `ip`, `chromedriver` and `/usr/bin/chromium`;
//! `cargo xtask test` installs them.

pub mod baseline;
mod browser;
mod chromedriver;
mod error;
mod netns;
pub mod wait;

pub use browser::{Browser, Launch};
pub use error::{Error, Result};
pub use netns::{run_in, NetNs, TwoHosts, HOST_A, HOST_B};
