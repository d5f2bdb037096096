//! End-to-end test harness: real headless Chromium, in network namespaces of their own.
//!
//! A test makes a namespace ([`NetNs`], or [`TwoHosts`] for two machines), runs its body in
//! it with [`run_in`], starts the real signaling server there ([`SignalingServer`]) and
//! browsers ([`Browser::launch`], [`Launch`]), and drives the web app through its UI
//! contract ([`App`]); [`room`] gathers several apps into one mesh.
//! [`baseline`] measures a raw RTCDataChannel between two browsers, with none of our code.
//!
//! Everything here needs root (namespaces), `ip`, `chromedriver` and `/usr/bin/chromium`;
//! `cargo xtask test` installs them.

pub mod app;
pub mod baseline;
mod browser;
mod chromedriver;
mod error;
pub mod files;
pub mod memory;
mod netns;
pub mod processes;
pub mod room;
mod server;
pub mod wait;

pub use app::{App, Recipient, TransferButton, TRANSFER_TIMEOUT};
pub use browser::{Browser, Launch, PHONE_SCREEN};
pub use error::{Error, Result};
pub use files::TestFile;
pub use netns::{run_in, NetNs, TwoHosts, HOST_A, HOST_B};
pub use server::SignalingServer;
