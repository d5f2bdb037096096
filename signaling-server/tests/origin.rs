//! Which pages may open the WebSocket, checked with real handshakes: a refused origin
//! gets 403 before any upgrade.

mod common;

use std::net::SocketAddr;

use common::{parse_http_response, TestServer, PATIENCE};
use meshdrop_signaling_server::{Config, Origin};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The status of a WebSocket handshake sent with `host` and, if given, `origin`.
async fn handshake(addr: SocketAddr, host: &str, origin: Option<&str>) -> u16 {
    handshake_with(addr, host, origin, "").await
}

/// [`handshake`] with `extra` header lines, each ending in CRLF.
async fn handshake_with(addr: SocketAddr, host: &str, origin: Option<&str>, extra: &str) -> u16 {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let origin = origin.map_or(String::new(), |origin| format!("Origin: {origin}\r\n"));
    let request = format!(
        "GET /ws HTTP/1.1\r\nHost: {host}\r\n{origin}{extra}Upgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    // Read the head only: after a 101 the connection stays open.
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8];
        let read = tokio::time::timeout(PATIENCE, stream.read(&mut byte))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(read, 1, "the connection closed within the response head");
        head.push(byte[0]);
    }
    parse_http_response(&String::from_utf8(head).unwrap()).status
}

#[tokio::test]
async fn by_default_only_pages_of_the_request_s_own_origin_may_connect() {
    let server = TestServer::with_defaults().await;
    let host = server.addr.to_string();
    let own = format!("http://{host}");
    assert_eq!(handshake(server.addr, &host, Some(&own)).await, 101);
    assert_eq!(
        handshake(server.addr, &host, None).await,
        101,
        "native clients"
    );
    let other_port = format!("http://{}:80", server.addr.ip());
    let other_scheme = format!("https://{host}");
    for foreign in ["http://evil.example", "null", &other_port, &other_scheme] {
        assert_eq!(
            handshake(server.addr, &host, Some(foreign)).await,
            403,
            "{foreign}"
        );
    }
    // The DNS-rebinding case: an HTTPS page whose name now points at this server.
    assert_eq!(
        handshake(server.addr, "evil.example", Some("https://evil.example")).await,
        403
    );
    server.stop().await;
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_scheme_counts() {
    let server = TestServer::start(Config {
        trusted_proxies: vec!["127.0.0.1".parse().unwrap()],
        ..Config::default()
    })
    .await;
    // A TLS-terminating proxy passes the host without the port, and says https.
    let page = Some("https://meshdrop.example");
    let https = "X-Forwarded-Proto: https\r\n";
    assert_eq!(
        handshake_with(server.addr, "meshdrop.example", page, https).await,
        101
    );
    assert_eq!(
        handshake(server.addr, "meshdrop.example", page).await,
        403,
        "without the proxy's word the request is plain HTTP"
    );
    server.stop().await;
}

#[tokio::test]
async fn the_public_url_is_allowed_behind_a_proxy_that_rewrites_host() {
    let server = TestServer::start(Config {
        public_origin: Some(Origin::of_url("https://meshdrop.example/").unwrap()),
        ..Config::default()
    })
    .await;
    let host = server.addr.to_string();
    let public = Some("https://meshdrop.example");
    assert_eq!(handshake(server.addr, &host, public).await, 101);
    assert_eq!(
        handshake(server.addr, &host, Some("https://other.example")).await,
        403
    );
    server.stop().await;
}

#[tokio::test]
async fn configured_origins_are_the_only_ones_allowed() {
    let server = TestServer::start(Config {
        allowed_origins: vec!["https://app.example".parse().unwrap()],
        ..Config::default()
    })
    .await;
    let host = server.addr.to_string();
    assert_eq!(
        handshake(server.addr, &host, Some("https://app.example")).await,
        101
    );
    let own = format!("http://{host}");
    assert_eq!(handshake(server.addr, &host, Some(&own)).await, 403);
    server.stop().await;
}
