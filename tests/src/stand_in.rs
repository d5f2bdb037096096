//! The HTTP side of the test's stand-ins for the signaling server ([`crate::MitmServer`],
//! [`crate::RecordingProxy`]): the built web app from `dist/`, and a WebSocket route of the
//! stand-in's own at `/ws`.
//!
//! Like [`crate::SignalingServer`] it listens on a free port of every address of the
//! calling thread's namespace, so pages load the app from loopback, a secure context.

use std::net::{Ipv4Addr, SocketAddr};

use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tower_http::services::{ServeDir, ServeFile};

use crate::error::{Error, Result};
use crate::server::web_app;

/// A running stand-in; dropping it stops accepting connections. WebSockets already open
/// live on until the test's runtime ends.
#[derive(Debug)]
pub(crate) struct StandIn {
    port: u16,
    task: JoinHandle<std::io::Result<()>>,
}

impl StandIn {
    /// Serves `routes` (at least `/ws`) and, for every other path, the web app.
    pub(crate) async fn start(routes: Router) -> Result<StandIn> {
        let dist = web_app()?;
        let app = routes.fallback_service(
            ServeDir::new(&dist).fallback(ServeFile::new(dist.join("index.html"))),
        );
        let listener = TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0))
            .await
            .map_err(Error::io("bind a stand-in signaling server"))?;
        let port = listener
            .local_addr()
            .map_err(Error::io("read the stand-in's address"))?
            .port();
        let task = tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(StandIn { port, task })
    }

    /// Its address on `host`.
    pub(crate) fn address(&self, host: Ipv4Addr) -> SocketAddr {
        SocketAddr::from((host, self.port))
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}
