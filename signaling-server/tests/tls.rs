//! HTTPS and WSS with a freshly generated certificate, over real sockets, and the
//! errors for certificate files that cannot work.

mod common;

use std::path::Path;

use common::{http_get_over, parse_http_response, session_key, Certificate, TestServer, PATIENCE};
use futures_util::{SinkExt, StreamExt};
use meshdrop_protocol::signaling::ServerMessage;
use meshdrop_signaling_server::{Config, Tls, TlsError};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

async fn tls_server(certificate: &Certificate) -> TestServer {
    TestServer::start(Config {
        tls: Some(certificate.tls()),
        ..Config::default()
    })
    .await
}

#[tokio::test]
async fn healthz_answers_over_https() {
    let certificate = Certificate::generate();
    let server = tls_server(&certificate).await;
    let stream = certificate.connect(server.addr).await;
    let response = http_get_over(stream, "/healthz", &[]).await;
    assert_eq!((response.status, response.body.as_str()), (200, "ok"));
    server.stop().await;
}

#[tokio::test]
async fn a_client_joins_over_wss() {
    let certificate = Certificate::generate();
    let server = tls_server(&certificate).await;
    let stream = certificate.connect(server.addr).await;
    let (mut socket, _) = tokio_tungstenite::client_async("wss://localhost/ws", stream)
        .await
        .unwrap();
    let join = json!({
        "type": "join", "version": 3, "room": "room", "name": "Ann",
        "session_key": session_key('a'),
    });
    socket.send(Message::text(join.to_string())).await.unwrap();
    let reply = tokio::time::timeout(PATIENCE, socket.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let welcome: ServerMessage = serde_json::from_str(reply.to_text().unwrap()).unwrap();
    assert!(matches!(welcome, ServerMessage::Welcome { .. }));
    server.stop().await;
}

#[tokio::test]
async fn plain_http_gets_no_answer_from_a_tls_server() {
    let certificate = Certificate::generate();
    let server = tls_server(&certificate).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let request = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let _ = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut response)).await;
    assert!(!response.starts_with(b"HTTP/1.1 200"));
    // The failed handshake harms nobody else.
    let mut stream = certificate.connect(server.addr).await;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert_eq!(parse_http_response(&response).status, 200);
    server.stop().await;
}

#[test]
fn unusable_files_are_reported_with_their_path() {
    let certificate = Certificate::generate();
    let other = Certificate::generate();
    let missing = Path::new("/nonexistent/cert.pem");
    assert!(matches!(
        Tls::from_pem_files(missing, &certificate.key()),
        Err(TlsError::Certificates { path, .. }) if path == missing
    ));
    // A key file holds no certificate, and a certificate file no key.
    assert!(matches!(
        Tls::from_pem_files(&certificate.key(), &certificate.key()),
        Err(TlsError::Certificates { .. })
    ));
    assert!(matches!(
        Tls::from_pem_files(&certificate.cert(), &certificate.cert()),
        Err(TlsError::Key { path, .. }) if path == certificate.cert()
    ));
    assert!(matches!(
        Tls::from_pem_files(&certificate.cert(), &other.key()),
        Err(TlsError::Mismatch(_))
    ));
}
