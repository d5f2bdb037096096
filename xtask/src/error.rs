//! What can make a task fail. Every variant says what to do about it.

use std::fmt;
use std::io;
use std::process::ExitStatus;

#[derive(Debug)]
pub enum Error {
    /// Unknown or missing task.
    Usage(&'static str),
    /// A command could not be started at all.
    Spawn { command: String, source: io::Error },
    /// A command ran and failed.
    Failed { command: String, status: ExitStatus },
    /// A file the task needs could not be read.
    Read { path: String, source: io::Error },
    /// A version the task needs is not where it should be, or two pins disagree.
    Version(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(usage) => write!(f, "{usage}"),
            Error::Spawn { command, source } => write!(f, "could not start `{command}`: {source}"),
            Error::Failed { command, status } => write!(f, "`{command}` failed ({status})"),
            Error::Read { path, source } => write!(f, "could not read {path}: {source}"),
            Error::Version(message) => write!(f, "{message}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Spawn { source, .. } | Error::Read { source, .. } => Some(source),
            Error::Usage(_) | Error::Failed { .. } | Error::Version(_) => None,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
