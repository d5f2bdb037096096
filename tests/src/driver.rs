//! A WebDriver server process (chromedriver or geckodriver), which starts and drives one
//! browser.
//!
//! The driver is asked for port 0 and reports the port it got, so there is no race for a
//! free port. It runs in its own process group, and dropping [`Driver`] kills the whole
//! group: the driver and the browser processes it started, even when a test panics.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};

use crate::browser::BrowserKind;
use crate::error::{Error, Result};
use crate::firefox;
use crate::netns::RemoteHost;

/// How long a driver may take to report its port.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// What differs between the drivers: how to run one, and where it says its port.
struct DriverProgram {
    name: &'static str,
    /// Arguments that make it listen on a free port.
    args: &'static [&'static str],
    /// Environment for the browser, which inherits the driver's.
    environment: &'static [(&'static str, &'static str)],
    /// Arguments that let the test body drive it on a remote host.
    remote_args: fn(&RemoteHost) -> Vec<String>,
    /// The port in one line of its banner (on standard output), if that line names it.
    port_in: fn(&str) -> Option<u16>,
}

const CHROMEDRIVER: DriverProgram = DriverProgram {
    name: "chromedriver",
    args: &["--port=0"],
    environment: &[],
    // chromedriver then listens on every address, and answers only the test body.
    remote_args: |host| {
        let mut args = vec![format!("--allowed-ips={}", host.driven_from)];
        // Behind a NAT the test body's requests name the router's port forward as their
        // Host, which chromedriver refuses unless told.
        if let Some(home) = host.behind {
            args.push(format!("--allowed-origins={}", home.public));
        }
        args
    },
    port_in: |line| {
        line.trim_end_matches('.')
            .strip_prefix("ChromeDriver was started successfully on port ")?
            .parse()
            .ok()
    },
};

const GECKODRIVER: DriverProgram = DriverProgram {
    name: "geckodriver",
    args: &["--port", "0"],
    environment: firefox::ENVIRONMENT,
    // geckodriver listens on the one address it is given.
    remote_args: |host| {
        let mut args = vec!["--host".to_owned(), host.address.to_string()];
        // Behind a NAT the test body's requests name the router's port forward as their
        // Host, which geckodriver refuses unless told (the port must be its own).
        if let Some(home) = host.behind {
            args.extend(["--allow-hosts".to_owned(), home.public.to_string()]);
        }
        args
    },
    // "1732912345678	geckodriver	INFO	Listening on 127.0.0.1:41234"
    port_in: |line| {
        let (_, address) = line.split_once("\tListening on ")?;
        address.trim().rsplit_once(':')?.1.parse().ok()
    },
};

impl BrowserKind {
    fn driver(self) -> &'static DriverProgram {
        match self {
            BrowserKind::Chromium => &CHROMEDRIVER,
            BrowserKind::Firefox => &GECKODRIVER,
        }
    }
}

#[derive(Debug)]
pub(crate) struct Driver {
    /// Held so the process is reaped (and killed, if the group kill failed) on drop.
    _child: Child,
    process_group: Pid,
    url: String,
}

impl Driver {
    /// Starts the driver for `kind` in the calling thread's namespace, reachable on
    /// loopback; or, given a remote `host`, in that host, reachable from the test body at
    /// the host's address, or through a port forward on its router when it is behind one.
    pub(crate) async fn start(kind: BrowserKind, host: Option<RemoteHost<'_>>) -> Result<Driver> {
        let program = kind.driver();
        let (mut command, reachable_at) = match host {
            None => (Command::new(program.name), Ipv4Addr::LOCALHOST),
            Some(host) => {
                let mut command = Command::new("ip");
                command.args(["netns", "exec", host.ns.name(), program.name]);
                command.args((program.remote_args)(&host));
                (command, host.address)
            }
        };
        command
            .args(program.args)
            .envs(program.environment.iter().copied());
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .kill_on_drop(true);
        let mut child = command.spawn().map_err(Error::io(format!(
            "start {} (`cargo xtask test` installs it)",
            program.name
        )))?;
        let pid = child.id().expect("a just-spawned child has a pid");
        let process_group = Pid::from_raw(i32::try_from(pid).expect("pids fit in i32"));
        let stdout = child.stdout.take().expect("stdout is piped");
        // From here on, dropping `driver` kills the process group.
        let mut driver = Driver {
            _child: child,
            process_group,
            url: String::new(),
        };
        let port = tokio::time::timeout(STARTUP_TIMEOUT, reported_port(stdout, program))
            .await
            .map_err(|_| Error::DriverStart {
                driver: program.name,
                reason: format!("no port reported within {STARTUP_TIMEOUT:?}"),
            })??;
        let reachable_at = match host.and_then(|host| Some((host, host.behind?))) {
            Some((host, home)) => home.forward_tcp(host.address, port, host.driven_from)?,
            None => SocketAddr::from((reachable_at, port)),
        };
        driver.url = format!("http://{reachable_at}");
        Ok(driver)
    }

    /// The WebDriver endpoint.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// The driver's process id; every process of its browser descends from it.
    pub(crate) fn process_id(&self) -> u32 {
        self.process_group.as_raw().unsigned_abs()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The group may already be gone after a clean shutdown; nothing to do then.
        let _ = killpg(self.process_group, Signal::SIGKILL);
    }
}

/// Reads the driver's banner up to the line naming its port, and returns the port. The
/// rest of the output is drained in the background so the driver never blocks on a full
/// pipe.
async fn reported_port(stdout: ChildStdout, program: &DriverProgram) -> Result<u16> {
    let mut lines = BufReader::new(stdout).lines();
    while let Some(line) = lines
        .next_line()
        .await
        .map_err(Error::io(format!("read {}'s output", program.name)))?
    {
        if let Some(port) = (program.port_in)(&line) {
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            return Ok(port);
        }
    }
    Err(Error::DriverStart {
        driver: program.name,
        reason: "it exited without reporting its port".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_port_from_each_drivers_banner() {
        let chromedriver = "ChromeDriver was started successfully on port 43567.";
        assert_eq!((CHROMEDRIVER.port_in)(chromedriver), Some(43567));
        let geckodriver = "1732912345678\tgeckodriver\tINFO\tListening on 10.77.0.2:41234";
        assert_eq!((GECKODRIVER.port_in)(geckodriver), Some(41234));
    }

    #[test]
    fn ignores_other_banner_lines() {
        assert_eq!((CHROMEDRIVER.port_in)("Starting ChromeDriver 131.0"), None);
        let geckodriver = "1732912345678\tmozrunner::runner\tINFO\tRunning command: ...";
        assert_eq!((GECKODRIVER.port_in)(geckodriver), None);
    }
}
