//! The HTTP side and the server's lifetime: health check, the web app's files, and
//! a shutdown that really closes every socket.

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;

use common::{http_get, TestServer};
use meshdrop_signaling_server::Config;
use tokio::net::TcpStream;

/// A plain HTTP/1.1 GET; returns the status code and the body.
async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let response = http_get(addr, path, &[]).await;
    (response.status, response.body)
}

/// A directory with a tiny web app in it, removed again on drop.
struct WebApp(PathBuf);

impl WebApp {
    fn new(test: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("meshdrop-{test}-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("assets")).unwrap();
        std::fs::write(dir.join("index.html"), "<title>Meshdrop</title>").unwrap();
        std::fs::write(dir.join("assets/app.js"), "run()").unwrap();
        Self(dir)
    }
}

impl Drop for WebApp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test]
async fn healthz_answers_ok() {
    let server = TestServer::with_defaults().await;
    assert_eq!(get(server.addr, "/healthz").await, (200, "ok".into()));
}

#[tokio::test]
async fn the_web_app_is_served_with_index_html_for_unknown_paths() {
    let app = WebApp::new("static");
    let server = TestServer::start(Config {
        static_dir: Some(app.0.clone()),
        ..Config::default()
    })
    .await;
    let index = (200, "<title>Meshdrop</title>".to_owned());
    assert_eq!(get(server.addr, "/").await, index);
    assert_eq!(get(server.addr, "/room/quiet-otter").await, index);
    assert_eq!(
        get(server.addr, "/assets/app.js").await,
        (200, "run()".into())
    );
    assert_eq!(get(server.addr, "/healthz").await, (200, "ok".into()));
}

#[tokio::test]
async fn without_a_web_app_other_paths_are_not_found() {
    let server = TestServer::with_defaults().await;
    assert_eq!(get(server.addr, "/").await.0, 404);
}

#[tokio::test]
async fn shutdown_closes_every_websocket_and_stops_listening() {
    let server = TestServer::with_defaults().await;
    let addr = server.addr;
    let mut ann = server.join("room", "Ann", 'a').await;
    let mut bob = server.join("room", "Bob", 'b').await;
    let mut lurker = server.connect().await; // Connected, never joined.
    ann.client.recv().await; // peer_joined Bob

    // `stop` returns only once `serve` has; every socket must be closed by then.
    server.stop().await;
    for client in [&mut ann.client, &mut bob.client, &mut lurker] {
        assert_eq!(client.expect_close().await, (1001, "shutting_down".into()));
        client.expect_end().await;
    }
    assert!(TcpStream::connect(addr).await.is_err(), "still listening");
}
