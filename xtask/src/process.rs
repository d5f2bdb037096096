//! Running commands the same way everywhere: announced, from the workspace root, and failing
//! loudly.

use std::ffi::OsStr;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::error::{Error, Result};
use crate::workspace;

/// Prints a banner for the next step of a task, so a long log shows where it is.
pub fn step(title: &str) {
    println!("\n==> {title}");
}

/// A command for `program` that runs in the workspace root.
pub fn command(program: impl AsRef<OsStr>) -> Command {
    let mut command = Command::new(program);
    command.current_dir(workspace::root());
    command
}

/// Runs `command` with inherited output; fails unless it exits with success.
pub fn run(command: &mut Command) -> Result<()> {
    let shown = show(command);
    println!("$ {shown}");
    let started = Instant::now();
    let status = command.status().map_err(|source| Error::Spawn {
        command: shown.clone(),
        source,
    })?;
    println!("  ({:.0?})", started.elapsed());
    if status.success() {
        Ok(())
    } else {
        Err(Error::Failed {
            command: shown,
            status,
        })
    }
}

/// The trimmed standard output of `command`, or `None` if it cannot run or fails: for asking
/// tools what version they are, where "not installed" is an expected answer.
pub fn probe(command: &mut Command) -> Option<String> {
    let output = command.stderr(Stdio::null()).output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn show(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|part| part.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ")
}
