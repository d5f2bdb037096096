//! The native peer in the benchmark: release-built `meshdrop` processes on either host,
//! watched through the status lines they print on stderr.
//!
//! `cargo xtask bench` builds the binary first (`cargo build --release -p
//! meshdrop-native`); a debug build would measure the compiler's optimisation level rather
//! than the peer. Processes on the benchmark's own host inherit its namespace; processes on
//! the other host start through `ip netns exec`.

use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use meshdrop_e2e::{Error, NetNs, Result, TRANSFER_TIMEOUT};
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStderr, Command};
use tokio::time::Instant;

/// Where `cargo build --release -p meshdrop-native` puts the binary.
const BINARY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/release/meshdrop");

/// One running `meshdrop`.
pub struct Meshdrop {
    /// The command line, for error messages.
    shown: String,
    child: Child,
    stderr: Lines<BufReader<ChildStderr>>,
    /// The stderr lines read so far, for error messages.
    transcript: Vec<String>,
    /// Its own config directory, so its device certificate is its own (and the user's
    /// is left alone).
    _config_dir: TempDir,
}

impl Meshdrop {
    /// Starts `meshdrop <args>` on the calling thread's host.
    pub fn start_here(args: &[&str]) -> Result<Meshdrop> {
        Self::spawn(Command::new(binary()?), args)
    }

    /// Starts `meshdrop <args>` on `host`.
    pub fn start_on(host: &NetNs, args: &[&str]) -> Result<Meshdrop> {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", host.name()]).arg(binary()?);
        Self::spawn(command, args)
    }

    fn spawn(mut command: Command, args: &[&str]) -> Result<Meshdrop> {
        let config_dir = TempDir::new().map_err(|source| Error::Io {
            action: "create a config directory for meshdrop".into(),
            source,
        })?;
        command
            .arg("--config-dir")
            .arg(config_dir.path())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let shown = format!("meshdrop {}", args.join(" "));
        let mut child = command.spawn().map_err(|source| Error::Io {
            action: format!("start `{shown}`"),
            source,
        })?;
        let stderr = child.stderr.take().expect("stderr is piped");
        Ok(Meshdrop {
            shown,
            child,
            stderr: BufReader::new(stderr).lines(),
            transcript: Vec::new(),
            _config_dir: config_dir,
        })
    }

    /// Waits for the next status line that `wanted` accepts; returns it and when it was read.
    pub async fn status(
        &mut self,
        what: &str,
        wanted: impl Fn(&str) -> bool,
    ) -> Result<(String, Instant)> {
        let search = async {
            while let Some(line) = self.stderr.next_line().await.map_err(|source| Error::Io {
                action: format!("read the stderr of `{}`", self.shown),
                source,
            })? {
                let read_at = Instant::now();
                self.transcript.push(line.clone());
                if wanted(&line) {
                    return Ok(Some((line, read_at)));
                }
            }
            Ok(None)
        };
        match tokio::time::timeout(TRANSFER_TIMEOUT, search).await {
            Ok(Ok(Some(found))) => Ok(found),
            Ok(Err(error)) => Err(error),
            Ok(Ok(None)) => Err(Error::TransferEnded {
                what: format!("`{}` to print {what}", self.shown),
                last_seen: self.transcript.join("\n"),
            }),
            Err(_) => Err(Error::Timeout {
                what: format!("`{}` to print {what}", self.shown),
                waited: TRANSFER_TIMEOUT,
                last_seen: self.transcript.join("\n"),
            }),
        }
    }

    /// Waits for the process to end, which must be with success.
    pub async fn succeeded(mut self) -> Result<()> {
        let status = tokio::time::timeout(TRANSFER_TIMEOUT, self.child.wait())
            .await
            .map_err(|_| Error::Timeout {
                what: format!("`{}` to exit", self.shown),
                waited: TRANSFER_TIMEOUT,
                last_seen: self.transcript.join("\n"),
            })?
            .map_err(|source| Error::Io {
                action: format!("wait for `{}`", self.shown),
                source,
            })?;
        if status.success() {
            Ok(())
        } else {
            Err(self.failed(status))
        }
    }

    /// The peer id from the "joined room R as NAME (peer id ID, N other peers)" line.
    pub async fn joined(&mut self) -> Result<String> {
        let (line, _) = self
            .status("that it joined the room", |line| {
                line.starts_with("joined room ")
            })
            .await?;
        let id = line
            .split_once("(peer id ")
            .and_then(|(_, rest)| rest.split(',').next());
        id.map(str::to_owned).ok_or_else(|| Error::Command {
            command: self.shown.clone(),
            stderr: format!("no peer id in {line:?}"),
        })
    }

    /// On a `meshdrop receive`: waits for one transfer of `bytes` from start to end.
    pub async fn receipt(&mut self, bytes: u64) -> Result<NativeReceipt> {
        let (_, started) = self
            .status("that it is receiving", |line| {
                line.starts_with("receiving ")
            })
            .await?;
        let (_, done) = self
            .status("that the transfer is done", |line| line.ends_with(": done"))
            .await?;
        Ok(NativeReceipt {
            bytes,
            elapsed: done - started,
        })
    }

    fn failed(&self, status: ExitStatus) -> Error {
        Error::Command {
            command: self.shown.clone(),
            stderr: format!("{status}; it printed:\n{}", self.transcript.join("\n")),
        }
    }
}

/// A transfer as a `meshdrop receive` process reported it.
pub struct NativeReceipt {
    pub bytes: u64,
    /// From its `receiving ...` line (it accepted) to its `...: done` line (digest matched).
    pub elapsed: Duration,
}

impl NativeReceipt {
    pub fn mib_per_second(&self) -> f64 {
        self.bytes as f64 / f64::from(1 << 20) / self.elapsed.as_secs_f64()
    }
}

fn binary() -> Result<&'static Path> {
    let binary = Path::new(BINARY);
    std::fs::metadata(binary).map_err(|source| Error::Io {
        action: format!(
            "find {} (build it with `cargo build --release -p meshdrop-native`)",
            binary.display()
        ),
        source,
    })?;
    Ok(binary)
}
