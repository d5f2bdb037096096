//! HTTP routes and the server's lifetime: what is served where, and how it stops.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::State as Shared;
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, UdpSocket};
use tokio_util::task::TaskTracker;
use tower::ServiceExt;
use tower_http::trace::TraceLayer;

use crate::admission::{Accept, Accepted, AddressKey, Admitting};
use crate::client_address::{client_address, forwarded_secure};
use crate::cluster::Cluster;
use crate::config::Config;
use crate::connection::Handshake;
use crate::ice::{Builtin, BuiltinRelay};
use crate::network_room::{Network, NetworkSecret};
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
    let cluster = match &config.redis_url {
        Some(url) => {
            let (cluster, events) = Cluster::connect(url, config.limits.max_peers_per_room)
                .await
                .map_err(std::io::Error::other)?;
            Some((Arc::new(cluster), events))
        }
        None => None,
    };
    let network_secret = match (&config.network_secret, &cluster) {
        (Some(secret), _) => secret.clone(),
        (None, Some((cluster, _))) => cluster
            .network_secret()
            .await
            .map_err(std::io::Error::other)?,
        (None, None) => NetworkSecret::random(),
    };
    let state = Arc::new(State::new(
        config,
        builtin,
        relay_stats,
        cluster.as_ref().map(|(cluster, _)| Arc::clone(cluster)),
        &network_secret,
    ));
    // A node that loses its place in the cluster stops, so its clients go elsewhere.
    let cluster = cluster.map(|(cluster, events)| {
        let stop = state.shutdown.clone();
        tokio::spawn(async move {
            let lost = cluster.run(events, stop.clone()).await;
            if let Err(lost) = &lost {
                tracing::error!(%lost, "stopping: this node lost its place in the cluster");
                stop.cancel();
            }
            lost
        })
    });
    let stun = stun.map(|socket| {
        let (metrics, stop) = (Arc::clone(&state.metrics), state.shutdown.clone());
        tokio::spawn(stun::serve(socket, metrics, stop))
    });
    let relay = relay.map(|relay| tokio::spawn(relay.run(state.shutdown.clone())));
    let stop = state.shutdown.clone();
    tokio::spawn(async move {
        shutdown.await;
        stop.cancel();
    });
    let app = router(Arc::clone(&state));
    let listener = Admitting::new(
        listener,
        Arc::clone(&state.admission),
        Arc::clone(&state.metrics),
    );
    match &state.config.tls {
        Some(tls) => serve_http(TlsListener::new(listener, tls), app, &state).await,
        None => serve_http(listener, app, &state).await,
    }
    state.connections.close();
    state.connections.wait().await;
    // They only end on the shutdown token; a panic in one has been reported already.
    if let Some(stun) = stun {
        let _ = stun.await;
    }
    if let Some(relay) = relay {
        let _ = relay.await;
    }
    match cluster {
        Some(cluster) => match cluster.await {
            Ok(Err(lost)) => Err(std::io::Error::other(lost)),
            _ => Ok(()),
        },
        None => Ok(()),
    }
}

/// Take admitted connections (see `admission`) until the shutdown token is cancelled,
/// serve each as HTTP/1.1 (WebSockets upgrade from it), then wait for the HTTP
/// connections to finish.
///
/// Hyper closes a connection whose request head takes longer than the handshake
/// timeout, counted from its start or from the previous response, so an idle keep-alive
/// connection does not hold its place either.
async fn serve_http(mut listener: impl Accept<Addr = Accepted>, app: Router, state: &Arc<State>) {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(state.config.handshake_timeout);
    let http_connections = TaskTracker::new();
    loop {
        let (io, accepted) = tokio::select! {
            () = state.shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let app = app.clone();
        let service = service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(accepted.clone());
            app.clone().oneshot(request.map(Body::new))
        });
        let connection = http
            .serve_connection(TokioIo::new(io), service)
            .with_upgrades();
        let stop = state.shutdown.clone();
        http_connections.spawn(async move {
            tokio::pin!(connection);
            tokio::select! {
                // Errors are the client's: a bad request, a timeout, a reset.
                _ = connection.as_mut() => return,
                () = stop.cancelled() => connection.as_mut().graceful_shutdown(),
            }
            let _ = connection.await;
        });
    }
    http_connections.close();
    http_connections.wait().await;
}

/// What each WebSocket reads into at once. Tungstenite's default, 128 KiB, is held by
/// every connection for its whole life and made idle peers cost 143 KB each. Larger
/// frames are still read whole: once a frame's header is in, tungstenite makes room
/// for all of it.
const READ_BUFFER_BYTES: usize = 1024;

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

async fn websocket(
    Shared(state): Shared<Arc<State>>,
    Extension(accepted): Extension<Accepted>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    if accepted.ticket.is_overflow() {
        let text = "this server holds all the connections it can; try again later";
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "10")],
            text,
        )
            .into_response();
    }
    let peer = accepted.peer;
    let value_of = |name| headers.get(name).and_then(|value| value.to_str().ok());
    let (origin, host) = (value_of(header::ORIGIN), value_of(header::HOST));
    let secure = state.config.tls.is_some()
        || forwarded_secure(peer, &headers, &state.config.trusted_proxies).unwrap_or(false);
    let request = host.and_then(|host| origin::of_request(secure, host));
    if !origin::is_allowed(origin, request.as_ref(), &state.config) {
        tracing::debug!(?origin, ?host, "WebSocket from another origin refused");
        let text = "this page's origin may not use this signaling server";
        return (StatusCode::FORBIDDEN, text).into_response();
    }
    let address = client_ip(&state, peer, &headers);
    let handshake = Handshake {
        host: host.and_then(origin::host_of),
        address: AddressKey::of(address),
        network_room: state.network_rooms.room_of(Network::of(address)),
    };
    // Tracked from the request on, so a shutdown that starts while the upgrade is
    // still in flight waits for this connection too.
    let tracked = state.connections.token();
    let max_bytes = state.config.limits.max_message_bytes;
    upgrade
        .read_buffer_size(READ_BUFFER_BYTES)
        .max_message_size(max_bytes)
        .max_frame_size(max_bytes)
        .on_upgrade(move |socket| async move {
            connection::run(socket, state, handshake).await;
            drop((tracked, accepted.ticket));
        })
}

/// The address of the client at `peer`, which may be a trusted proxy (see
/// `client_address`).
fn client_ip(state: &State, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
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
    client.address
}
