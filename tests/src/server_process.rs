//! The release-built `meshdrop-server` as a process of its own, where the benchmark reads
//! what the server costs: run in-process ([`meshdrop_e2e::SignalingServer`]), its CPU time
//! would be mixed with the benchmark's own.
//!
//! `cargo xtask bench` builds the binary first (as `cargo xtask dist` does, with the app
//! inside). It starts in the calling thread's namespace, serves the web app from the
//! workspace's `dist/`, and logs to a file of its own, which errors quote.
//! Dropping [`ServerProcess`] kills it.

use std::fs::{self, File};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::wait::{self, Probe};
use crate::{Error, Result, ServesApp};
use tempfile::TempDir;

/// Where `cargo xtask dist` puts the binary.
const BINARY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../target/release/meshdrop-server"
);
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
    /// Starts `meshdrop-server` on a free port of every address of the calling thread's
    /// namespace, with `args` and the environment variables `env` besides, and waits
    /// until it accepts connections.
    pub async fn start(args: &[&str], env: &[(&str, &str)]) -> Result<ServerProcess> {
        let binary = Path::new(BINARY);
        fs::metadata(binary).map_err(Error::io(format!(
            "find {} (build it with `cargo xtask dist`)",
            binary.display()
        )))?;
        let dir = tempfile::Builder::new()
            .prefix("meshdrop-bench-server-")
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
        // It may have exited already; then there is nothing to kill.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP port free on every address of this namespace right now: the namespace is the
/// benchmark's own, so nothing else takes it before the server binds it.
fn free_port() -> Result<u16> {
    TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0))
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(Error::io("find a free port for meshdrop-server"))
}
