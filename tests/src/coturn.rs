//! Real coturn (Debian's `turnserver`), the TURN relay self-hosters run next to the
//! signaling server: started in the calling thread's namespace, sharing a secret with the
//! server, which hands each peer credentials made with it (coturn's `use-auth-secret`,
//! the TURN REST scheme of `meshdrop_signaling_server::Turn`).
//!
//! It runs with plain UDP and TCP listeners only (no TLS, DTLS or CLI), relays from a
//! small port range of its one address, and logs to a file of its own, which errors quote.
//! Dropping [`Coturn`] kills it.

use std::fs::{self, File};
use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use meshdrop_signaling_server::{Turn, TurnSecret};
use tempfile::TempDir;

use crate::error::{Error, Result};
use crate::wait::{self, Probe};

/// The standard TURN port. Each test's namespace is its own, so it is free there.
const PORT: u16 = 3478;
/// The relay ports, outside the range the kernel hands out for port 0 (32768–60999),
/// so no other socket of the namespace takes one.
const RELAY_PORTS: (u16, u16) = (20000, 20099);
/// How long coturn may take to answer its first STUN request.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);
/// How long credentials from the signaling server stay valid: the length of a test.
const CREDENTIAL_TTL: Duration = Duration::from_secs(600);

/// A running coturn; killed on drop.
#[derive(Debug)]
pub struct Coturn {
    child: Child,
    address: SocketAddr,
    secret: String,
    log: PathBuf,
    /// Holds the log and pid files.
    _dir: TempDir,
}

impl Coturn {
    /// Starts coturn at `address` (its listening and relay address) in the calling
    /// thread's namespace, with a fresh random secret, and waits until it answers STUN.
    pub async fn start(address: Ipv4Addr) -> Result<Coturn> {
        let dir = tempfile::Builder::new()
            .prefix("meshdrop-e2e-coturn-")
            .tempdir()
            .map_err(Error::io("create a directory for coturn"))?;
        let log = dir.path().join("turnserver.log");
        let secret = random_secret()?;
        #[rustfmt::skip]
        let child = Command::new("turnserver")
            .args([
                "-n", "--simple-log", "--no-stdout-log", "--no-tls", "--no-dtls", "--no-cli",
                "--fingerprint", "--use-auth-secret", "--realm", "meshdrop.test", "--verbose",
            ])
            .arg(format!("--static-auth-secret={secret}"))
            .arg(format!("--listening-ip={address}"))
            .arg(format!("--relay-ip={address}"))
            .arg(format!("--listening-port={PORT}"))
            .arg(format!("--min-port={}", RELAY_PORTS.0))
            .arg(format!("--max-port={}", RELAY_PORTS.1))
            .arg(format!("--log-file={}", log.display()))
            .arg(format!("--pidfile={}", dir.path().join("turnserver.pid").display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(Error::io(
                "start coturn's turnserver (`cargo xtask test` installs coturn)",
            ))?;
        let mut coturn = Coturn {
            child,
            address: SocketAddr::from((address, PORT)),
            secret,
            log,
            _dir: dir,
        };
        coturn.wait_until_ready().await?;
        Ok(coturn)
    }

    /// The relay as the signaling server's configuration names it: its URL and the
    /// shared secret, so the server's `welcome` carries credentials for it.
    pub fn turn(&self) -> Turn {
        Turn {
            urls: vec![format!("turn:{}?transport=udp", self.address)],
            secret: TurnSecret::new(&self.secret),
            ttl: CREDENTIAL_TTL,
        }
    }

    /// Where it listens.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The secret it shares with the signaling server: what a `meshdrop-server` process
    /// is given as `--turn-secret` (while [`turn`](Self::turn) configures one in-process).
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// Its process id, where its CPU time can be read.
    pub fn process_id(&self) -> u32 {
        self.child.id()
    }

    /// Everything it logged so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends STUN binding requests until one is answered; fails early if coturn exited.
    async fn wait_until_ready(&mut self) -> Result<()> {
        let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))
            .map_err(Error::io("bind a socket to probe coturn"))?;
        socket
            .set_nonblocking(true)
            .map_err(Error::io("probe coturn"))?;
        let request = binding_request();
        let address = self.address;
        let what = format!("coturn to answer STUN at {address}");
        wait::until(what, STARTUP_TIMEOUT, || {
            let seen = match self.child.try_wait() {
                Ok(Some(status)) => Err(Error::Command {
                    command: "turnserver".into(),
                    stderr: format!("exited with {status}; its log:\n{}", self.log()),
                }),
                _ if probe(&socket, &request, address) => Ok(Probe::Ready(())),
                _ => Ok(Probe::NotYet(self.log())),
            };
            async move { seen }
        })
        .await
    }
}

impl Drop for Coturn {
    fn drop(&mut self) {
        // It may have exited already; then there is nothing to kill.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A STUN binding request (RFC 5389): type, zero length, magic cookie, and a
/// transaction id.
fn binding_request() -> [u8; 20] {
    let mut request = [0; 20];
    request[..2].copy_from_slice(&0x0001u16.to_be_bytes());
    request[4..8].copy_from_slice(&0x2112_A442u32.to_be_bytes());
    request[8..].copy_from_slice(b"meshdrop-e2e");
    request
}

/// Whether a STUN success response to `request` is waiting on `socket`; sends
/// `request` to `to` for the next look.
fn probe(socket: &UdpSocket, request: &[u8; 20], to: SocketAddr) -> bool {
    let mut answer = [0; 512];
    let mut answered = false;
    while let Ok(len) = socket.recv(&mut answer) {
        answered |=
            len >= 20 && answer[..2] == 0x0101u16.to_be_bytes() && answer[8..20] == request[8..];
    }
    // A failed send (nothing listens yet) is a look that found nothing.
    let _ = socket.send_to(request, to);
    answered
}

/// 16 random bytes, in hex.
fn random_secret() -> Result<String> {
    let mut bytes = [0; 16];
    File::open("/dev/urandom")
        .and_then(|mut random| random.read_exact(&mut bytes))
        .map_err(Error::io("read a random TURN secret"))?;
    Ok(hex::encode(bytes))
}
