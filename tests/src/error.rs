//! The one error type of the harness.
//!
//! Tests return `Result<(), Error>`, so a failing test prints this error. Its `Debug` output
//! is therefore written for people: the message and its chain of causes, not a struct dump.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong while setting up or driving an end-to-end test.
#[derive(thiserror::Error)]
pub enum Error {
    #[error("`{command}` failed: {stderr}")]
    Command { command: String, stderr: String },

    #[error("{action}")]
    Io {
        action: String,
        #[source]
        source: std::io::Error,
    },

    #[error("could not enter network namespace {name}")]
    EnterNamespace {
        name: String,
        #[source]
        source: nix::Error,
    },

    #[error("{driver} did not start: {reason}")]
    DriverStart {
        driver: &'static str,
        reason: String,
    },

    #[error("could not start a browser session")]
    NewSession(#[from] fantoccini::error::NewSessionError),

    #[error("WebDriver command failed")]
    WebDriver(#[from] fantoccini::error::CmdError),

    #[error("script for {what} returned unexpected JSON {value}")]
    UnexpectedJson {
        what: &'static str,
        value: serde_json::Value,
        #[source]
        source: serde_json::Error,
    },

    #[error("timed out after {waited:?} waiting for {what}; last seen: {last_seen}")]
    Timeout {
        what: String,
        waited: Duration,
        last_seen: String,
    },

    #[error("{what}, but it ended otherwise: {last_seen}")]
    TransferEnded { what: String, last_seen: String },

    #[error("the app in {page}'s page stopped: {error}")]
    AppStopped { page: String, error: String },

    #[error(
        "the web app is not built ({} is missing): run `cargo xtask test`, which builds the web app first",
        .index.display()
    )]
    WebAppNotBuilt { index: PathBuf },

    #[error("the signaling server failed")]
    Server(#[source] std::io::Error),

    #[error("the signaling server did not stop within {0:?}")]
    ServerDidNotStop(Duration),
}

impl Error {
    /// Wraps an I/O error with what the harness was doing when it happened.
    pub fn io(action: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let action = action.into();
        move |source| Error::Io { action, source }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")?;
        let mut cause = std::error::Error::source(self);
        while let Some(error) = cause {
            write!(f, "\n  caused by: {error}")?;
            cause = error.source();
        }
        Ok(())
    }
}

/// Result with the harness [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
