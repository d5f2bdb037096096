//! The HTTP side and the server's lifetime: health check, the web app's files, and
//! a shutdown that really closes every socket.

mod common;

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;

use common::{http_get, TestServer, PATIENCE};
use meshdrop_signaling_server::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A plain HTTP/1.1 GET; returns the status code and the body.
async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let response = http_get(addr, path, &[]).await;
    (response.status, response.body)
}

/// An HTTP/1.0 GET (so the body is not chunked) accepting `encoding`; returns the
/// response head and the raw body bytes.
async fn get_encoded(addr: SocketAddr, path: &str, encoding: &str) -> (String, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request =
        format!("GET {path} HTTP/1.0\r\nHost: test\r\nAccept-Encoding: {encoding}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut response))
        .await
        .unwrap()
        .unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8(response[..split].to_vec())
        .unwrap()
        .to_ascii_lowercase();
    (head, response[split + 4..].to_vec())
}

/// A file named the way Trunk names what it builds: with a content hash.
const HASHED: &str = "styles-9f86d081884c7d65.css";

fn big_script() -> String {
    "run();\n".repeat(1000)
}

/// A directory with a tiny web app in it, removed again on drop.
struct WebApp(PathBuf);

impl WebApp {
    fn new(test: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("meshdrop-{test}-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("assets")).unwrap();
        std::fs::write(dir.join("index.html"), "<title>Meshdrop</title>").unwrap();
        std::fs::write(dir.join("assets/app.js"), "run()").unwrap();
        std::fs::write(dir.join("assets/big.js"), big_script()).unwrap();
        std::fs::write(dir.join(HASHED), "hashed()").unwrap();
        Self(dir)
    }

    /// A server that serves this app from its directory.
    async fn serve(&self) -> TestServer {
        TestServer::start(Config {
            static_dir: Some(self.0.clone()),
            ..Config::default()
        })
        .await
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
    let server = app.serve().await;
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
async fn files_are_compressed_when_the_browser_accepts_it() {
    let app = WebApp::new("compressed");
    let server = app.serve().await;
    let (head, body) = get_encoded(server.addr, "/assets/big.js", "gzip").await;
    assert!(head.contains("content-encoding: gzip"), "{head}");
    assert!(head.contains("content-type: text/javascript"), "{head}");
    let mut unpacked = String::new();
    flate2::read::GzDecoder::new(&body[..])
        .read_to_string(&mut unpacked)
        .unwrap();
    assert_eq!(unpacked, big_script());
    let (head, body) = get_encoded(server.addr, "/assets/big.js", "br").await;
    assert!(head.contains("content-encoding: br"), "{head}");
    assert!(body.len() < big_script().len() / 10);
    let (head, body) = get_encoded(server.addr, "/assets/big.js", "identity").await;
    assert!(!head.contains("content-encoding"), "{head}");
    assert_eq!(body, big_script().as_bytes());
}

/// With the app built in, `/` and unknown paths are its `index.html`, and its files
/// come with their content types.
/// The path of the script `index_html` loads: Trunk names it with a hash.
#[cfg(feature = "embed-web")]
fn script_of(index_html: &str) -> &str {
    index_html
        .split('"')
        .find(|part| part.starts_with('/') && part.ends_with(".js"))
        .expect("index.html loads a script")
}

#[cfg(feature = "embed-web")]
#[tokio::test]
async fn the_embedded_web_app_is_served() {
    let server = TestServer::with_defaults().await;
    let index = http_get(server.addr, "/", &[]).await;
    assert_eq!(index.status, 200);
    assert_eq!(index.header("content-type"), Some("text/html"));
    assert_eq!(http_get(server.addr, "/room/x", &[]).await.body, index.body);
    let script = http_get(server.addr, script_of(&index.body), &[]).await;
    assert_eq!(script.status, 200);
    assert_eq!(script.header("content-type"), Some("text/javascript"));
    assert_ne!(script.body, index.body);
}

#[tokio::test]
async fn hashed_files_are_immutable_and_the_rest_is_revalidated() {
    let app = WebApp::new("caching");
    let server = app.serve().await;
    let hashed = http_get(server.addr, &format!("/{HASHED}"), &[]).await;
    assert_eq!(hashed.status, 200);
    assert_eq!(
        hashed.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    for path in ["/", "/assets/app.js", "/room/quiet-otter"] {
        assert_revalidated(server.addr, path).await;
    }
    // A path that looks hashed but names no file is index.html, never immutable.
    let missing = http_get(server.addr, "/gone-0123456789abcdef.js", &[]).await;
    assert_eq!(missing.header("cache-control"), Some("no-cache"));
}

/// With the app built in, the same rules hold for the files of the real build.
#[cfg(feature = "embed-web")]
#[tokio::test]
async fn the_embedded_web_app_has_the_same_caching_headers() {
    let server = TestServer::with_defaults().await;
    let index = assert_revalidated(server.addr, "/").await;
    let script = http_get(server.addr, script_of(&index.body), &[]).await;
    assert_eq!(
        script.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
}

/// `path` is `no-cache` with an `ETag`, and asking again with that tag gets `304` and
/// no body. Returns the first response.
async fn assert_revalidated(addr: SocketAddr, path: &str) -> common::HttpResponse {
    let first = http_get(addr, path, &[]).await;
    assert_eq!(first.status, 200, "{path}");
    assert_eq!(first.header("cache-control"), Some("no-cache"), "{path}");
    let etag = first.header("etag").expect("an ETag").to_owned();
    let again = http_get(addr, path, &[&format!("If-None-Match: {etag}")]).await;
    assert_eq!(again.status, 304, "{path}");
    assert_eq!(again.body, "", "{path}");
    assert_eq!(again.header("etag"), Some(etag.as_str()), "{path}");
    let changed = http_get(addr, path, &["If-None-Match: W/\"other\""]).await;
    assert_eq!(changed.status, 200, "{path}");
    first
}

#[cfg(not(feature = "embed-web"))]
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
