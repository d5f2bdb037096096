//! HTTP routes and the server's lifetime: what is served where, and how it stops.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::connect_info::{ConnectInfo, Connected};
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::State as Shared;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::IncomingStream;
use axum::Router;
use meshdrop_protocol::RoomId;
use tokio::net::{TcpListener, UdpSocket};
use tower_http::trace::TraceLayer;

use crate::client_address::client_address;
use crate::config::Config;
use crate::ice::{Builtin, BuiltinRelay};
use crate::network_room::Network;
use crate::relay::{Driver, Relay};
use crate::state::State;
use crate::tls::TlsListener;
use crate::{connection, metrics, origin, stun, web_app};

/// Serve on `listener` until `shutdown` resolves; over TLS if [`Config::tls`] is set.
///
/// Then the server stops accepting, every WebSocket is sent a close frame (1001,
/// `shutting_down`), and this returns once all of them are closed, so after it
/// returns no socket of this server is left open.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    run(listener, None, None, config, shutdown).await
}

/// [`serve`], and answer STUN requests on `stun` (see the `stun` module) until the
/// same shutdown; clients are told about it in `welcome`.
pub async fn serve_with_stun(
    listener: TcpListener,
    stun: UdpSocket,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    run(listener, Some(stun), None, config, shutdown).await
}

/// [`serve`], with the built-in TURN relay (see the `relay` module) and, if given, the
/// STUN server, until the same shutdown; clients are told about both in `welcome`.
/// Without a STUN socket, clients are sent to the relay's, which answers STUN too.
pub async fn serve_with_relay(
    listener: TcpListener,
    stun: Option<UdpSocket>,
    relay: Relay,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    run(listener, stun, Some(relay), config, shutdown).await
}

async fn run(
    listener: TcpListener,
    stun: Option<UdpSocket>,
    relay: Option<Relay>,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let stun_port = match &stun {
        Some(socket) => Some(socket.local_addr()?.port()),
        None => None,
    };
    let builtin_relay = match &relay {
        Some(relay) => Some(BuiltinRelay {
            port: relay.socket.local_addr()?.port(),
            tcp_port: match &relay.tcp {
                Some(listener) => Some(listener.local_addr()?.port()),
                None => None,
            },
            tls_port: match &relay.tls {
                Some(tls) => Some(tls.listener.local_addr()?.port()),
                None => None,
            },
            secret: relay.config.secret.clone(),
            ttl: relay.config.ttl,
        }),
        None => None,
    };
    let builtin = Builtin {
        stun_port,
        relay: builtin_relay,
    };
    let relay = relay.map(Driver::new);
    let relay_stats = relay.as_ref().map(Driver::stats);
    let state = Arc::new(State::new(config, builtin, relay_stats));
    let stun = stun.map(|socket| {
        let (metrics, stop) = (Arc::clone(&state.metrics), state.shutdown.clone());
        tokio::spawn(stun::serve(socket, metrics, stop))
    });
    let relay = relay.map(|relay| tokio::spawn(relay.run(state.shutdown.clone())));
    let stop = state.shutdown.clone();
    let graceful = async move {
        shutdown.await;
        // Upgraded WebSockets are no longer HTTP requests that graceful shutdown
        // waits for; they watch this token instead.
        stop.cancel();
    };
    let app = router(Arc::clone(&state)).into_make_service_with_connect_info::<PeerAddress>();
    let served = match &state.config.tls {
        Some(tls) => {
            let listener = TlsListener::new(listener, tls);
            axum::serve(listener, app)
                .with_graceful_shutdown(graceful)
                .await
        }
        None => {
            axum::serve(listener, app)
                .with_graceful_shutdown(graceful)
                .await
        }
    };
    state.shutdown.cancel();
    state.connections.close();
    state.connections.wait().await;
    // They only end on the shutdown token; a panic in one has been reported already.
    if let Some(stun) = stun {
        let _ = stun.await;
    }
    if let Some(relay) = relay {
        let _ = relay.await;
    }
    served
}

fn router(state: Arc<State>) -> Router {
    let routes = Router::new()
        .route("/ws", get(websocket))
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics));
    let routes = match web_app::router(state.config.static_dir.as_deref()) {
        Some(app) => routes.fallback_service(app),
        None => routes,
    };
    routes.layer(TraceLayer::new_for_http()).with_state(state)
}

async fn metrics(Shared(state): Shared<Arc<State>>) -> impl IntoResponse {
    let text = state
        .metrics
        .render(state.gauges(), state.relay_stats.as_deref());
    ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text)
}

/// The TCP peer of a connection, plain or TLS.
#[derive(Debug, Clone, Copy)]
struct PeerAddress(SocketAddr);

impl Connected<IncomingStream<'_, TcpListener>> for PeerAddress {
    fn connect_info(stream: IncomingStream<'_, TcpListener>) -> Self {
        Self(*stream.remote_addr())
    }
}

impl Connected<IncomingStream<'_, TlsListener>> for PeerAddress {
    fn connect_info(stream: IncomingStream<'_, TlsListener>) -> Self {
        Self(*stream.remote_addr())
    }
}

async fn websocket(
    Shared(state): Shared<Arc<State>>,
    ConnectInfo(PeerAddress(peer)): ConnectInfo<PeerAddress>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let value_of = |name| headers.get(name).and_then(|value| value.to_str().ok());
    let (origin, host) = (value_of(header::ORIGIN), value_of(header::HOST));
    if !origin::is_allowed(origin, host, &state.config) {
        tracing::debug!(?origin, ?host, "WebSocket from another origin refused");
        let text = "this page's origin may not use this signaling server";
        return (StatusCode::FORBIDDEN, text).into_response();
    }
    let host = host.and_then(origin::host_of);
    let network_room = network_room(&state, peer, &headers);
    // Tracked from the request on, so a shutdown that starts while the upgrade is
    // still in flight waits for this connection too.
    let tracked = state.connections.token();
    let max_bytes = state.config.limits.max_message_bytes;
    upgrade
        .max_message_size(max_bytes)
        .max_frame_size(max_bytes)
        .on_upgrade(move |socket| async move {
            connection::run(socket, state, host, network_room).await;
            drop(tracked);
        })
}

/// The room of the network the client at `peer` is on.
fn network_room(state: &State, peer: SocketAddr, headers: &HeaderMap) -> RoomId {
    let client = client_address(peer, headers, &state.config.trusted_proxies);
    if client.ignored_headers {
        state.untrusted_forwarding_warned.call_once(|| {
            tracing::warn!(
                peer = %peer.ip(),
                "forwarding headers from a peer that is not a trusted proxy are ignored; \
                 behind a reverse proxy, name it with --trusted-proxy, or every client \
                 shares the proxy's network room"
            );
        });
    }
    state.network_rooms.room_of(Network::of(client.address))
}
