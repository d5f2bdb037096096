//! The `meshdrop-server` binary as a process of its own, for what only a process shows:
//! its exit, its log, and being killed.

use std::net::SocketAddr;
use std::process::Stdio;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;

use super::PATIENCE;

const SERVER: &str = env!("CARGO_BIN_EXE_meshdrop-server");

/// The server with `args`, on a free port unless `--listen` is among them, and no
/// settings leaking in from this process's environment.
pub fn command(args: &[&str]) -> Command {
    let mut command = Command::new(SERVER);
    if !args.contains(&"--listen") {
        command.args(["--listen", "127.0.0.1:0"]);
    }
    command
        .args(args)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// A running binary, its JSON log lines read as they come.
pub struct Running {
    pub child: Child,
    /// The `fields` of the `listening` line.
    pub listening: Value,
    /// Every later log line, once the process has ended.
    pub rest: oneshot::Receiver<Vec<Value>>,
}

impl Running {
    pub async fn start(args: &[&str]) -> Self {
        let mut child = command(&[&["--log-format", "json"], args].concat())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let (listening_tx, listening_rx) = oneshot::channel();
        let (rest_tx, rest) = oneshot::channel();
        tokio::spawn(async move {
            let mut listening_tx = Some(listening_tx);
            let mut rest = Vec::new();
            while let Ok(Some(line)) = lines.next_line().await {
                // The binary's last words on a failure are plain text, whatever the
                // log format: kept as a JSON string.
                let log = serde_json::from_str(&line).unwrap_or(Value::String(line));
                match listening_tx.take() {
                    Some(tx) if log["fields"]["message"] == "listening" => {
                        let _ = tx.send(log["fields"].clone());
                    }
                    unsent => {
                        listening_tx = unsent;
                        rest.push(log);
                    }
                }
            }
            let _ = rest_tx.send(rest);
        });
        let listening = tokio::time::timeout(PATIENCE, listening_rx)
            .await
            .expect("the server logs that it listens")
            .expect("the server started");
        Self {
            child,
            listening,
            rest,
        }
    }

    pub fn address(&self, field: &str) -> SocketAddr {
        self.listening[field].as_str().unwrap().parse().unwrap()
    }

    pub fn terminate(&self) {
        self.signal(Signal::SIGTERM);
    }

    /// Stop it at once, as a crash would: no close frames, no goodbyes.
    pub fn kill(&self) {
        self.signal(Signal::SIGKILL);
    }

    fn signal(&self, signal: Signal) {
        let pid = Pid::from_raw(self.child.id().unwrap() as i32);
        kill(pid, signal).unwrap();
    }
}
