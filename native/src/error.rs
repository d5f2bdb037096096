//! Everything that can end a `meshdrop` run early, and the one place that turns it into
//! an exit code.
//!
//! Scripts drive `meshdrop`, so the exit status is part of its interface: each variant
//! belongs to exactly one documented code ([`Error::exit_code`]), and the table in
//! `meshdrop --help` and `native/README.md` is written from that function.

use std::path::PathBuf;

use meshdrop_protocol::signaling::ErrorCode;

/// Exit status of a run that did everything it was asked to.
pub const EXIT_OK: u8 = 0;
/// Bad arguments or unusable local files.
pub const EXIT_USAGE: u8 = 1;
/// The signaling server could not be reached or refused us.
pub const EXIT_SERVER: u8 = 2;
/// Nobody to talk to: the room stayed empty, or the named peer never connected.
pub const EXIT_NO_PEER: u8 = 3;
/// The receiver said no.
pub const EXIT_DECLINED: u8 = 4;
/// A transfer started but did not complete.
pub const EXIT_TRANSFER_FAILED: u8 = 5;
/// Pairing by code failed: a wrong code, or a connection that is not authentic.
pub const EXIT_PAIRING_FAILED: u8 = 6;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Usage(String),

    #[error("cannot read {path}: {source}")]
    ReadInput {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("cannot use {path} as the download directory: {source}")]
    OutputDir {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("cannot use {path} as this device's certificate: {reason}")]
    Certificate { path: PathBuf, reason: String },

    #[error("cannot use {path} as the list of verified devices: {reason}")]
    KnownDevices { path: PathBuf, reason: String },

    #[error("cannot use {path} as the chat history: {reason}")]
    History { path: PathBuf, reason: String },

    #[error("cannot reach the signaling server at {url}: {reason}")]
    ServerUnreachable { url: String, reason: String },

    #[error("the signaling server refused us ({code:?}): {message}")]
    ServerRefused { code: ErrorCode, message: String },

    #[error("the signaling server closed the connection before welcoming us")]
    ServerClosed,

    #[error("{0}")]
    NoPeer(String),

    #[error("{peer} declined the offer")]
    Declined { peer: String },

    #[error("transfer to/from {peer} did not complete: {reason}")]
    TransferFailed { peer: String, reason: String },

    #[error("pairing failed: {0}")]
    Pairing(#[from] meshdrop_verify::PairingError),
}

impl Error {
    /// The process exit status for this error; see the table in `meshdrop --help`.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_)
            | Self::ReadInput { .. }
            | Self::OutputDir { .. }
            | Self::Certificate { .. }
            | Self::KnownDevices { .. }
            | Self::History { .. } => EXIT_USAGE,
            Self::ServerUnreachable { .. } | Self::ServerRefused { .. } | Self::ServerClosed => {
                EXIT_SERVER
            }
            Self::NoPeer(_) => EXIT_NO_PEER,
            Self::Declined { .. } => EXIT_DECLINED,
            Self::TransferFailed { .. } => EXIT_TRANSFER_FAILED,
            Self::Pairing(_) => EXIT_PAIRING_FAILED,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
