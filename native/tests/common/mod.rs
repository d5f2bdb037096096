//! What every native test needs: a private network, the real signaling server in it, and
//! real `meshdrop` processes to drive through their stdin, stdout, stderr and exit status.
//!
//! webrtc-rs gathers no usable candidates on loopback alone, so each test runs in a
//! network namespace of its own (from the `meshdrop-e2e` harness); the server and every
//! child process inherit it.

// Each test binary compiles this module and uses only part of it.
#![allow(dead_code)]

use std::future::Future;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use meshdrop_e2e::{run_in, App, Browser, NetNs, Result, ServesApp, SignalingServer};
use meshdrop_signaling_server::{serve, Config};
use sha2::{Digest, Sha256};
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::{mpsc, oneshot};

/// How long any one step (a connection, a line, an exit) may take on a busy 2-core box
/// running debug builds.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(120);

/// Run `body` in a fresh namespace with a signaling server; it gets the server's URL.
pub fn in_private_network<F, Fut>(body: F)
where
    F: FnOnce(String) -> Fut + Send,
    Fut: Future<Output = ()> + Send,
{
    let ns = NetNs::create().expect("create a network namespace (needs root and `ip`)");
    run_in(&ns, async move {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind the signaling server");
        let url = format!("ws://{}/ws", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, Config::default(), async {
            let _ = stopped.await;
        }));
        body(url).await;
        let _ = stop.send(());
        let _ = tokio::time::timeout(STEP_TIMEOUT, server).await;
        Ok(())
    })
    .expect("run the test in its namespace");
}

/// One running `meshdrop` process.
pub struct Meshdrop {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: mpsc::UnboundedReceiver<String>,
    stderr: mpsc::UnboundedReceiver<String>,
    /// Everything it printed, for the failure message.
    transcript: Arc<Mutex<Vec<String>>>,
    /// Its own config directory (its own device certificate), unless `args` named one.
    _config_dir: Option<TempDir>,
}

impl Meshdrop {
    /// Start `meshdrop <args>` against `server`, named `name`.
    pub fn start(server: &str, name: &str, args: &[&str]) -> Self {
        Self::spawn(
            Command::new(env!("CARGO_BIN_EXE_meshdrop")),
            server,
            name,
            args,
        )
    }

    /// [`Meshdrop::start`] on another host: in namespace `ns`.
    pub fn start_in(ns: &NetNs, server: &str, name: &str, args: &[&str]) -> Self {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", ns.name(), env!("CARGO_BIN_EXE_meshdrop")]);
        Self::spawn(command, server, name, args)
    }

    fn spawn(mut command: Command, server: &str, name: &str, args: &[&str]) -> Self {
        let config_dir = (!args.contains(&"--config-dir")).then(|| {
            let dir = TempDir::new().expect("create a config directory");
            command.arg("--config-dir").arg(dir.path());
            dir
        });
        let mut child = command
            .args(args)
            .args(["--server", server, "--name", name])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start meshdrop");
        let transcript = Arc::new(Mutex::new(Vec::new()));
        let stdout = lines_of(child.stdout.take().unwrap(), "out", &transcript);
        let stderr = lines_of(child.stderr.take().unwrap(), "err", &transcript);
        Self {
            name: name.to_owned(),
            stdin: child.stdin.take(),
            child,
            stdout,
            stderr,
            transcript,
            _config_dir: config_dir,
        }
    }

    /// Wait for a stderr line containing `needle`.
    pub async fn expect_status(&mut self, needle: &str) -> String {
        let lines = &mut self.stderr;
        let found = wait_for_line(lines, |line| line.contains(needle)).await;
        found.unwrap_or_else(|| self.fail(&format!("no stderr line with {needle:?}")))
    }

    /// Wait for stderr lines containing each of `needles`, in any order; returns them
    /// in the order of `needles`.
    pub async fn expect_statuses(&mut self, needles: &[&str]) -> Vec<String> {
        let mut found: Vec<Option<String>> = vec![None; needles.len()];
        while found.iter().any(Option::is_none) {
            let missing: Vec<&str> = (needles.iter().zip(&found))
                .filter(|(_, line)| line.is_none())
                .map(|(needle, _)| *needle)
                .collect();
            let line = wait_for_line(&mut self.stderr, |line| {
                missing.iter().any(|needle| line.contains(needle))
            })
            .await
            .unwrap_or_else(|| self.fail(&format!("no stderr lines with {missing:?}")));
            for (needle, slot) in needles.iter().zip(&mut found) {
                if slot.is_none() && line.contains(needle) {
                    *slot = Some(line.clone());
                }
            }
        }
        found.into_iter().flatten().collect()
    }

    /// Everything it printed so far, stdout and stderr.
    pub fn printed(&self) -> String {
        self.transcript.lock().unwrap().join("\n")
    }

    /// Wait for a stdout line for which `accept` holds.
    pub async fn expect_output(&mut self, accept: impl Fn(&str) -> bool) -> String {
        let found = wait_for_line(&mut self.stdout, accept).await;
        found.unwrap_or_else(|| self.fail("no matching stdout line"))
    }

    pub async fn type_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .unwrap();
        stdin.flush().await.unwrap();
    }

    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Send SIGINT, as Ctrl-C does.
    pub fn interrupt(&self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id().expect("still running") as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    }

    /// SIGKILL: the process vanishes without a word to anyone.
    pub async fn kill(&mut self) {
        self.child.kill().await.unwrap();
    }

    /// Wait for the process to end and return its exit status.
    pub async fn exit_code(&mut self) -> i32 {
        match tokio::time::timeout(STEP_TIMEOUT, self.child.wait()).await {
            Ok(status) => status.unwrap().code().expect("exited, not killed"),
            Err(_) => self.fail("did not exit"),
        }
    }

    fn fail(&self, what: &str) -> ! {
        let transcript = self.transcript.lock().unwrap().join("\n");
        panic!("{}: {what}; it printed:\n{transcript}", self.name)
    }
}

fn lines_of(
    stream: impl tokio::io::AsyncRead + Unpin + Send + 'static,
    label: &'static str,
    transcript: &Arc<Mutex<Vec<String>>>,
) -> mpsc::UnboundedReceiver<String> {
    let (lines_tx, lines_rx) = mpsc::unbounded_channel();
    let transcript = transcript.clone();
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            transcript.lock().unwrap().push(format!("[{label}] {line}"));
            let _ = lines_tx.send(line);
        }
    });
    lines_rx
}

async fn wait_for_line(
    lines: &mut mpsc::UnboundedReceiver<String>,
    accept: impl Fn(&str) -> bool,
) -> Option<String> {
    let search = async {
        while let Some(line) = lines.recv().await {
            if accept(&line) {
                return Some(line);
            }
        }
        None
    };
    tokio::time::timeout(STEP_TIMEOUT, search)
        .await
        .ok()
        .flatten()
}

pub fn sha256_of(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

/// Names of the entries of `dir`, sorted.
pub fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A browser with the app open in `room`, named `name` before anyone else joins.
pub async fn open_app(server: &SignalingServer, room: &str, name: &str) -> Result<App> {
    let app = App::open(Browser::launch().await?, &server.room_url(room), name).await?;
    app.wait_for_connection("connected").await?;
    app.set_name(name).await?;
    Ok(app)
}

pub fn signaling_url(server: &SignalingServer) -> String {
    format!("ws://{}/ws", server.address(Ipv4Addr::LOCALHOST))
}

/// The peer id from `meshdrop`'s "joined room ... (peer id ID, ...)" line.
pub fn peer_id(joined: &str) -> String {
    let rest = joined
        .split_once("peer id ")
        .unwrap_or_else(|| panic!("no peer id in {joined:?}"))
        .1;
    rest.split(',').next().unwrap().to_owned()
}

/// Waits until a manifest in `dir` says at least `blocks` blocks are verified; returns
/// how many it says.
pub async fn verified_blocks_at_least(dir: &Path, blocks: usize) -> usize {
    loop {
        let manifests = std::fs::read_dir(dir).unwrap().flatten().filter(|entry| {
            let name = entry.file_name().into_string().unwrap_or_default();
            name.ends_with(".resume.json")
        });
        for entry in manifests {
            let Ok(text) = std::fs::read(entry.path()) else {
                continue;
            };
            let manifest: serde_json::Value = serde_json::from_slice(&text).unwrap();
            let held = &manifest["partial"]["held"][0]["blocks"];
            let verified = held.as_array().unwrap().iter().filter(|b| !b.is_null());
            let verified = verified.count();
            if verified >= blocks {
                return verified;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// The number that ends right before `marker` in `line`.
pub fn number_before(line: &str, marker: &str) -> u64 {
    let head = &line[..line.find(marker).unwrap_or_else(|| panic!("{line:?}"))];
    let digits = head.rsplit(|c: char| !c.is_ascii_digit()).next().unwrap();
    digits.parse().unwrap_or_else(|_| panic!("{line:?}"))
}

/// What follows `marker` in `line`.
pub fn after<'a>(line: &'a str, marker: &str) -> &'a str {
    let at = line
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker:?} in {line:?}"));
    &line[at + marker.len()..]
}
