//! The real signaling server, run in-process inside the test's namespace.
//!
//! It serves the web app from the workspace's `dist/` (built by Trunk) and the signaling
//! WebSocket at `/ws`. It listens on every address of the namespace, so browsers on the same
//! host load the app from loopback (a secure context) and browsers on a second host of a
//! [`crate::TwoHosts`] reach it at [`crate::HOST_A`].

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use meshdrop_signaling_server::{
    serve, serve_with_relay, serve_with_stun, Config, Relay, RelayConfig, Turn,
};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::error::{Error, Result};

/// Where `trunk build` puts the web app.
pub(crate) const DIST: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../dist");

/// The built web app's directory, or why there is none.
pub(crate) fn web_app() -> Result<PathBuf> {
    let dist = PathBuf::from(DIST);
    let index = dist.join("index.html");
    if !index.is_file() {
        return Err(Error::WebAppNotBuilt { index });
    }
    Ok(dist)
}

/// How long [`SignalingServer::stop`] waits for every WebSocket to close.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// A server pages open the web app from: the real one, or a stand-in in its place
/// ([`crate::MitmServer`]) or in front of it ([`crate::RecordingProxy`]), so the helpers of
/// [`crate::room`] take any of them.
pub trait ServesApp {
    /// Its address on `host` (loopback, [`crate::HOST_A`], ...); it listens on every
    /// address of the namespace.
    fn address(&self, host: Ipv4Addr) -> SocketAddr;

    /// The app's URL on loopback, in `room`: what a browser on this host opens.
    fn room_url(&self, room: &str) -> String {
        self.room_url_at(Ipv4Addr::LOCALHOST, room)
    }

    /// The app's URL at `host` without a room: the page joins its network's room.
    fn network_url_at(&self, host: Ipv4Addr) -> String {
        format!("{}/", self.origin_at(host))
    }

    /// The app's URL at `host`, in `room`.
    fn room_url_at(&self, host: Ipv4Addr, room: &str) -> String {
        format!("{}/#{room}", self.origin_at(host))
    }

    /// The app's origin at `host`, like `http://10.77.0.1:41234`: what a browser on another
    /// host must treat as secure (see [`crate::Launch::treat_as_secure`]).
    fn origin_at(&self, host: Ipv4Addr) -> String {
        format!("http://{}", self.address(host))
    }

    /// The signaling WebSocket's URL at `host`: what a native peer connects to.
    fn websocket_url(&self, host: Ipv4Addr) -> String {
        format!("ws://{}/ws", self.address(host))
    }
}

impl ServesApp for SignalingServer {
    fn address(&self, host: Ipv4Addr) -> SocketAddr {
        SignalingServer::address(self, host)
    }
}

/// The ICE services a [`SignalingServer`] runs or names.
#[derive(Default)]
struct Ice {
    /// The built-in STUN responder's socket.
    stun: Option<UdpSocket>,
    /// An outside TURN relay (coturn) the server makes credentials for.
    turn: Option<Turn>,
    /// The built-in TURN relay.
    relay: Option<Relay>,
}

/// A running signaling server; dropping it without [`stop`](SignalingServer::stop) leaves it
/// running until the test's runtime ends.
#[derive(Debug)]
pub struct SignalingServer {
    port: u16,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl SignalingServer {
    /// Starts the server with the built web app on a free port.
    pub async fn start() -> Result<SignalingServer> {
        Self::start_with(Ice::default(), 0).await
    }

    /// [`start`](Self::start), with the built-in STUN responder on a free UDP port of every
    /// address; the server names it in `welcome` as the clients' default ICE server.
    pub async fn start_with_stun() -> Result<SignalingServer> {
        let stun = Some(stun_socket().await?);
        Self::start_with(
            Ice {
                stun,
                ..Ice::default()
            },
            0,
        )
        .await
    }

    /// [`start_with_stun`](Self::start_with_stun), with `turn` (like
    /// [`crate::Coturn::turn`]) configured: `welcome` then names the relay too, with
    /// credentials made for each peer.
    pub async fn start_with_turn(turn: Turn) -> Result<SignalingServer> {
        let (stun, turn) = (Some(stun_socket().await?), Some(turn));
        let ice = Ice {
            stun,
            turn,
            ..Ice::default()
        };
        Self::start_with(ice, 0).await
    }

    /// Starts the server with its built-in TURN relay (default limits) on a free UDP port
    /// of `address`, which also answers STUN: `welcome` names it as both.
    pub async fn start_with_relay(address: Ipv4Addr) -> Result<SignalingServer> {
        let socket = UdpSocket::bind((address, 0))
            .await
            .map_err(Error::io("bind the TURN relay's socket"))?;
        let relay = Relay {
            socket,
            tcp: None,
            tls: None,
            config: RelayConfig::new(address.into()),
        };
        let ice = Ice {
            relay: Some(relay),
            ..Ice::default()
        };
        Self::start_with(ice, 0).await
    }

    /// Starts a server on `port`: a fresh process, with no memory of the rooms of the
    /// one that was there before, as after a restart.
    pub async fn start_on(port: u16) -> Result<SignalingServer> {
        Self::start_with(Ice::default(), port).await
    }

    /// Starts the server on `port`, or on a free one for 0.
    async fn start_with(ice: Ice, port: u16) -> Result<SignalingServer> {
        let config = Config {
            static_dir: Some(web_app()?),
            turn: ice.turn,
            ..Config::default()
        };
        let listener = TcpListener::bind((Ipv4Addr::UNSPECIFIED, port))
            .await
            .map_err(Error::io("bind the signaling server"))?;
        let port = listener
            .local_addr()
            .map_err(Error::io("read the signaling server's address"))?
            .port();
        let (stop, stopped) = oneshot::channel();
        let shutdown = async {
            // A dropped sender also means stop.
            let _ = stopped.await;
        };
        let task = match (ice.stun, ice.relay) {
            (stun, Some(relay)) => {
                tokio::spawn(serve_with_relay(listener, stun, relay, config, shutdown))
            }
            (Some(stun), None) => tokio::spawn(serve_with_stun(listener, stun, config, shutdown)),
            (None, None) => tokio::spawn(serve(listener, config, shutdown)),
        };
        Ok(SignalingServer { port, stop, task })
    }

    /// The server's address on `host` (loopback, [`crate::HOST_A`], ...).
    pub fn address(&self, host: Ipv4Addr) -> SocketAddr {
        SocketAddr::from((host, self.port))
    }

    /// Stops the server: it closes every WebSocket, and this returns once they are closed.
    pub async fn stop(self) -> Result<()> {
        // The server may already have failed; `task` then tells how.
        let _ = self.stop.send(());
        match tokio::time::timeout(STOP_TIMEOUT, self.task).await {
            Err(_) => Err(Error::ServerDidNotStop(STOP_TIMEOUT)),
            Ok(Err(join_error)) => std::panic::resume_unwind(join_error.into_panic()),
            Ok(Ok(served)) => served.map_err(Error::Server),
        }
    }
}

/// A socket for the built-in STUN responder, on a free UDP port of every address.
async fn stun_socket() -> Result<UdpSocket> {
    UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))
        .await
        .map_err(Error::io("bind the STUN socket"))
}
