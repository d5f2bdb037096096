//! A proxy in front of the real signaling server that records what the clients send it.
//!
//! Pages opened on the proxy's URL load the web app from the proxy and open its `/ws`,
//! whose frames it relays both ways, unchanged, to the real server's `/ws`. So the pages
//! work exactly as on the server itself, and a test can check everything the server
//! received ([`RecordingProxy::received`]): that no secret, and nothing derived from one
//! that would allow an offline guess, ever reached it.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::extract::ws::{self, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

use crate::error::Result;
use crate::server::{ServesApp, SignalingServer};
use crate::stand_in::StandIn;

/// A running proxy; see the module documentation.
#[derive(Debug)]
pub struct RecordingProxy {
    http: StandIn,
    proxy: Arc<Proxy>,
}

#[derive(Debug)]
struct Proxy {
    /// The real server's WebSocket URL.
    upstream: String,
    /// Every text frame a client sent, verbatim, in the order the proxy read them.
    received: Mutex<Vec<String>>,
}

impl RecordingProxy {
    /// Starts a proxy in front of `server`, on a free port of every address.
    pub async fn start(server: &SignalingServer) -> Result<RecordingProxy> {
        let proxy = Arc::new(Proxy {
            upstream: server.websocket_url(Ipv4Addr::LOCALHOST),
            received: Mutex::default(),
        });
        let routes = Router::new()
            .route("/ws", get(accept))
            .with_state(Arc::clone(&proxy));
        let http = StandIn::start(routes).await?;
        Ok(RecordingProxy { http, proxy })
    }

    /// Every text frame the clients sent the server so far, verbatim, in arrival order.
    /// (The app never sends binary frames; the proxy relays them, but only texts are kept.)
    pub fn received(&self) -> Vec<String> {
        self.proxy.received.lock().unwrap().clone()
    }
}

impl ServesApp for RecordingProxy {
    fn address(&self, host: Ipv4Addr) -> SocketAddr {
        self.http.address(host)
    }
}

/// Connects to the real server first, so a page whose server is down sees its WebSocket
/// fail as it would without the proxy.
async fn accept(upgrade: WebSocketUpgrade, State(proxy): State<Arc<Proxy>>) -> Response {
    match tokio_tungstenite::connect_async(&proxy.upstream).await {
        Ok((server, _)) => upgrade.on_upgrade(move |client| relay(client, server, proxy)),
        Err(error) => (StatusCode::BAD_GATEWAY, error.to_string()).into_response(),
    }
}

type Upstream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Relays until either side closes. Pings and pongs are not relayed: each hop answers
/// its own.
async fn relay(client: WebSocket, server: Upstream, proxy: Arc<Proxy>) {
    let (mut to_client, mut from_client) = client.split();
    let (mut to_server, mut from_server) = server.split();
    let upward = async {
        while let Some(Ok(message)) = from_client.next().await {
            if let ws::Message::Text(text) = &message {
                proxy.received.lock().unwrap().push(text.to_string());
            }
            let Some(message) = upward_message(message) else {
                continue;
            };
            let closing = message.is_close();
            if to_server.send(message).await.is_err() || closing {
                return;
            }
        }
    };
    let downward = async {
        while let Some(Ok(message)) = from_server.next().await {
            let Some(message) = downward_message(message) else {
                continue;
            };
            let closing = matches!(message, ws::Message::Close(_));
            if to_client.send(message).await.is_err() || closing {
                return;
            }
        }
    };
    tokio::select! {
        () = upward => {}
        () = downward => {}
    }
}

/// A client's frame as the proxy sends it on; `None` for pings and pongs.
fn upward_message(message: ws::Message) -> Option<Message> {
    Some(match message {
        ws::Message::Text(text) => Message::text(text.as_str()),
        ws::Message::Binary(bytes) => Message::Binary(bytes),
        ws::Message::Close(frame) => Message::Close(frame.map(|frame| CloseFrame {
            code: frame.code.into(),
            reason: frame.reason.as_str().into(),
        })),
        ws::Message::Ping(_) | ws::Message::Pong(_) => return None,
    })
}

/// The server's frame as the proxy sends it on; `None` for pings, pongs and raw frames.
fn downward_message(message: Message) -> Option<ws::Message> {
    Some(match message {
        Message::Text(text) => ws::Message::text(text.as_str()),
        Message::Binary(bytes) => ws::Message::Binary(bytes),
        Message::Close(frame) => ws::Message::Close(frame.map(|frame| ws::CloseFrame {
            code: frame.code.into(),
            reason: frame.reason.as_str().into(),
        })),
        Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => return None,
    })
}
