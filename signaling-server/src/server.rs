//! HTTP routes and the server's lifetime: what is served where, and how it stops.

use std::future::Future;
use std::sync::Arc;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::State as Shared;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::trace::TraceLayer;

use crate::config::Config;
use crate::connection;
use crate::state::State;

/// Serve on `listener` until `shutdown` resolves.
///
/// Then the server stops accepting, every WebSocket is sent a close frame (1001,
/// `shutting_down`), and this returns once all of them are closed, so after it
/// returns no socket of this server is left open.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let state = Arc::new(State::new(config));
    let stop = state.shutdown.clone();
    let served = axum::serve(listener, router(Arc::clone(&state)))
        .with_graceful_shutdown(async move {
            shutdown.await;
            // Upgraded WebSockets are no longer HTTP requests that graceful shutdown
            // waits for; they watch this token instead.
            stop.cancel();
        })
        .await;
    state.shutdown.cancel();
    state.connections.close();
    state.connections.wait().await;
    served
}

fn router(state: Arc<State>) -> Router {
    let routes = Router::new()
        .route("/ws", get(websocket))
        .route("/healthz", get(|| async { "ok" }));
    let routes = match &state.config.static_dir {
        Some(dir) => routes
            .fallback_service(ServeDir::new(dir).fallback(ServeFile::new(dir.join("index.html")))),
        None => routes,
    };
    routes.layer(TraceLayer::new_for_http()).with_state(state)
}

async fn websocket(Shared(state): Shared<Arc<State>>, upgrade: WebSocketUpgrade) -> Response {
    // Tracked from the request on, so a shutdown that starts while the upgrade is
    // still in flight waits for this connection too.
    let tracked = state.connections.token();
    let max_bytes = state.config.limits.max_message_bytes;
    upgrade
        .max_message_size(max_bytes)
        .max_frame_size(max_bytes)
        .on_upgrade(move |socket| async move {
            connection::run(socket, state).await;
            drop(tracked);
        })
}
