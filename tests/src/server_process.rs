//! The built `meshdrop-server` as a process of its own: where the benchmark reads what
//! the server costs (run in-process, [`meshdrop_e2e::SignalingServer`], its CPU time would
//! be mixed with the benchmark's own), and what a test kills, as a crash would.
//!
//! The caller picks the [`Build`]. It starts in the calling thread's namespace, serves
//! the web app from the workspace's `dist/`, and logs to a file of its own, which errors
//! quote.
//! Dropping [`ServerProcess`] kills it (SIGKILL).

use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::wait::{self, Probe};
use crate::{Error, Result, ServesApp};
use tempfile::TempDir;

/// Which build of the server to run.
#[derive(Debug, Clone, Copy)]
pub enum Build {
    /// `target/release`, the app inside: what `cargo xtask bench` and `load` build.
    Release,
    /// `target/debug`: what `cargo xtask test` builds.
    Debug,
}

impl Build {
    fn binary(self) -> &'static Path {
        Path::new(match self {
            Build::Release => concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../target/release/meshdrop-server"
            ),
            Build::Debug => concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../target/debug/meshdrop-server"
            ),
        })
    }
}
/// Where `trunk build` puts the web app.
const DIST: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../dist");
/// How long the server may take to accept its first connection.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);

/// A running `meshdrop-server`; killed on drop.
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    port: u16,
    log: PathBuf,
    /// Holds the log.
    _dir: TempDir,
}

impl ServerProcess {
    /// Starts the `build` of `meshdrop-server` on a free port of every address of the calling thread's
    /// namespace, with `args` and the environment variables `env` besides, and waits
    /// until it accepts connections.
    pub async fn start(build: Build, args: &[&str], env: &[(&str, &str)]) -> Result<ServerProcess> {
        let binary = build.binary();
        fs::metadata(binary).map_err(Error::io(format!(
            "find {} (`cargo xtask test` and `cargo xtask bench` build it)",
            binary.display()
        )))?;
        let dir = tempfile::Builder::new()
            .prefix("meshdrop-server-")
            .tempdir()
            .map_err(Error::io("create a directory for meshdrop-server"))?;
        let log = dir.path().join("meshdrop-server.log");
        let stderr = File::create(&log).map_err(Error::io("create meshdrop-server's log"))?;
        let port = free_port()?;
        let child = Command::new(binary)
            .arg("--listen")
            .arg(format!("0.0.0.0:{port}"))
            .arg("--static-dir")
            .arg(DIST)
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(Error::io(format!("start {}", binary.display())))?;
        let mut server = ServerProcess {
            child,
            port,
            log,
            _dir: dir,
        };
        server.wait_until_ready().await?;
        Ok(server)
    }

    /// Its process id, where its CPU time can be read.
    pub fn process_id(&self) -> u32 {
        self.child.id()
    }

    /// An unlabelled series of its `/metrics`.
    pub fn metric(&self, series: &str) -> Result<u64> {
        let address = self.address(Ipv4Addr::LOCALHOST);
        // A server that stopped answering has usually exited: its log says why.
        let mut stream = TcpStream::connect(address).map_err(|error| Error::Command {
            command: format!("GET http://{address}/metrics"),
            stderr: format!("{error}; the server's log:\n{}", self.log()),
        })?;
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: metrics\r\nConnection: close\r\n\r\n")
            .map_err(Error::io("ask for /metrics"))?;
        let mut text = String::new();
        stream
            .read_to_string(&mut text)
            .map_err(Error::io("read /metrics"))?;
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
            .ok_or_else(|| Error::Command {
                command: "GET /metrics".into(),
                stderr: format!("no {series} in {text}"),
            })
    }

    /// Everything it logged so far.
    fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Connects until a connection is accepted; fails early if the server exited.
    async fn wait_until_ready(&mut self) -> Result<()> {
        let address = self.address(Ipv4Addr::LOCALHOST);
        wait::until(
            format!("meshdrop-server to accept connections at {address}"),
            STARTUP_TIMEOUT,
            || {
                let seen = match self.child.try_wait() {
                    Ok(Some(status)) => Err(Error::Command {
                        command: "meshdrop-server".into(),
                        stderr: format!("exited with {status}; its log:\n{}", self.log()),
                    }),
                    _ if TcpStream::connect(address).is_ok() => Ok(Probe::Ready(())),
                    _ => Ok(Probe::NotYet(self.log())),
                };
                async move { seen }
            },
        )
        .await
    }
}

impl ServesApp for ServerProcess {
    fn address(&self, host: Ipv4Addr) -> SocketAddr {
        SocketAddr::from((host, self.port))
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // It may have exited already: then there is nothing to kill, and if it failed
        // its log says why.
        if let Ok(Some(status)) = self.child.try_wait() {
            if !status.success() {
                let log = self.log();
                let lines: Vec<&str> = log.lines().collect();
                let last = &lines[lines.len().saturating_sub(20)..];
                eprintln!(
                    "meshdrop-server exited with {status}; its log ends:\n{}",
                    last.join("\n")
                );
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP port free on every address of this namespace right now: the namespace is the
/// caller's own, so nothing else takes it before the server binds it.
fn free_port() -> Result<u16> {
    TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0))
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(Error::io("find a free port for meshdrop-server"))
}
