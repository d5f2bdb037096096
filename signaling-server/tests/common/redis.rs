//! A private `redis-server` for the cluster tests: on a free loopback port, without
//! persistence, killed on drop. The end-to-end tests include this file too (`tests/`),
//! so it needs nothing but tokio.

use std::net::TcpListener;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

/// How long `redis-server` may take to answer its first `PING`.
const STARTUP: Duration = Duration::from_secs(10);

/// A running `redis-server`.
pub struct Redis {
    /// Where to connect, like `redis://127.0.0.1:40123/`.
    pub url: String,
    child: Child,
}

impl Redis {
    pub async fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server is installed (cargo xtask test installs it)");
        let started = tokio::time::Instant::now();
        while !answers_ping(port).await {
            assert!(started.elapsed() < STARTUP, "redis-server did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Self {
            url: format!("redis://127.0.0.1:{port}/"),
            child,
        }
    }

    /// Its process id, where its CPU time can be read; `None` once it was killed.
    pub fn process_id(&self) -> Option<u32> {
        self.child.id()
    }

    /// Stop it at once, as a crash would.
    pub async fn kill(&mut self) {
        self.child.kill().await.unwrap();
    }
}

async fn answers_ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    let mut answer = [0u8; 7];
    stream.write_all(b"PING\r\n").await.is_ok()
        && stream.read_exact(&mut answer).await.is_ok()
        && &answer == b"+PONG\r\n"
}
