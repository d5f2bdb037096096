//! A chromedriver process, which starts and drives one Chromium.
//!
//! chromedriver is asked for port 0 and reports the port it got, so there is no race for a
//! free port. It runs in its own process group, and dropping [`ChromeDriver`] kills the whole
//! group: chromedriver and the Chromium processes it started, even when a test panics.

use std::net::Ipv4Addr;
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};

use crate::error::{Error, Result};
use crate::netns::RemoteHost;

/// How long chromedriver may take to report its port.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug)]
pub(crate) struct ChromeDriver {
    /// Held so the process is reaped (and killed, if the group kill failed) on drop.
    _child: Child,
    process_group: Pid,
    url: String,
}

impl ChromeDriver {
    /// Starts chromedriver in the calling thread's namespace, reachable on loopback.
    pub(crate) async fn start_local() -> Result<ChromeDriver> {
        Self::start(Command::new("chromedriver"), Ipv4Addr::LOCALHOST).await
    }

    /// Starts chromedriver in `host`, reachable from the test body only.
    pub(crate) async fn start_on(host: RemoteHost<'_>) -> Result<ChromeDriver> {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", host.ns.name(), "chromedriver"]);
        command.arg(format!("--allowed-ips={}", host.driven_from));
        Self::start(command, host.address).await
    }

    /// The WebDriver endpoint.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// chromedriver's process id; every process of its Chromium descends from it.
    pub(crate) fn process_id(&self) -> u32 {
        self.process_group.as_raw().unsigned_abs()
    }

    async fn start(mut command: Command, reachable_at: Ipv4Addr) -> Result<ChromeDriver> {
        command
            .arg("--port=0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .kill_on_drop(true);
        let mut child = command.spawn().map_err(Error::io(
            "start chromedriver (is chromium-driver installed?)",
        ))?;
        let pid = child.id().expect("a just-spawned child has a pid");
        let process_group = Pid::from_raw(i32::try_from(pid).expect("pids fit in i32"));
        let stdout = child.stdout.take().expect("stdout is piped");
        // From here on, dropping `driver` kills the process group.
        let mut driver = ChromeDriver {
            _child: child,
            process_group,
            url: String::new(),
        };
        let port = tokio::time::timeout(STARTUP_TIMEOUT, reported_port(stdout))
            .await
            .map_err(|_| {
                Error::ChromeDriverStart(format!("no port reported within {STARTUP_TIMEOUT:?}"))
            })??;
        driver.url = format!("http://{reachable_at}:{port}");
        Ok(driver)
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        // The group may already be gone after a clean shutdown; nothing to do then.
        let _ = killpg(self.process_group, Signal::SIGKILL);
    }
}

/// Reads chromedriver's banner up to "...started successfully on port N." and returns N.
/// The rest of its output is drained in the background so chromedriver never blocks on a
/// full pipe.
async fn reported_port(stdout: ChildStdout) -> Result<u16> {
    let mut lines = BufReader::new(stdout).lines();
    while let Some(line) = lines
        .next_line()
        .await
        .map_err(Error::io("read chromedriver's output"))?
    {
        let port = line
            .trim_end_matches('.')
            .strip_prefix("ChromeDriver was started successfully on port ")
            .and_then(|port| port.parse().ok());
        if let Some(port) = port {
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            return Ok(port);
        }
    }
    Err(Error::ChromeDriverStart(
        "it exited without reporting its port".into(),
    ))
}
