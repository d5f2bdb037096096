//! A load balancer in front of several signaling servers, as nginx or Caddy stand in
//! front of a Meshdrop cluster: each TCP connection goes to the first server, in the
//! balancer's order, that accepts it, and its bytes are copied both ways unchanged (so
//! pages load the app and open `/ws` through it as through the server itself). A dead
//! server refuses connections, and the next one gets them, as after a proxy's failover.

use std::net::{Ipv4Addr, SocketAddr};

use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::error::{Error, Result};
use crate::server::ServesApp;

/// A running balancer; dropping it stops taking connections.
#[derive(Debug)]
pub struct Balancer {
    port: u16,
    task: JoinHandle<()>,
}

impl Balancer {
    /// Listens on a free port of every address of the namespace, for `upstreams` in the
    /// order they are tried.
    pub async fn start(upstreams: Vec<SocketAddr>) -> Result<Balancer> {
        let listener = TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0))
            .await
            .map_err(Error::io("bind the load balancer"))?;
        let port = listener
            .local_addr()
            .map_err(Error::io("read the load balancer's address"))?
            .port();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay(client, upstreams.clone()));
            }
        });
        Ok(Balancer { port, task })
    }
}

/// Copies `client` to and from the first of `upstreams` that accepts; drops it if none.
async fn relay(mut client: TcpStream, upstreams: Vec<SocketAddr>) {
    for upstream in upstreams {
        if let Ok(mut server) = TcpStream::connect(upstream).await {
            // Either side may end the connection at any time; the other just closes.
            let _ = copy_bidirectional(&mut client, &mut server).await;
            return;
        }
    }
}

impl ServesApp for Balancer {
    fn address(&self, host: Ipv4Addr) -> SocketAddr {
        SocketAddr::from((host, self.port))
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
