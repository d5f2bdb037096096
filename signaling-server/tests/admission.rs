//! Nothing holds a place for free, over real sockets: connections that never finish
//! their handshake are closed on the deadline, caps per address and for the server
//! refuse early while `/healthz` still answers, and reconnecting does not refill the rate
//! limit. (Clients that do not read: `backpressure.rs`.)

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{http_get, metric, parse_http_response, TestServer};
use meshdrop_protocol::signaling::{ErrorCode, Limits, ServerMessage};
use meshdrop_signaling_server::{raise_open_files_limit, Config, DEFAULT_LIMITS};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// The handshake deadline these tests configure, to keep them short.
const DEADLINE: Duration = Duration::from_secs(2);

/// A TCP connection to `server` from the loopback address `source` (all of
/// 127.0.0.0/8 is this host, so each address is another client).
async fn connect_from(source: &str, server: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::new(source.parse().unwrap(), 0))
        .unwrap();
    socket.connect(server).await.unwrap()
}

/// Whether the server closed `stream` (end of stream or reset) within `wait`.
async fn closed_within(stream: &mut TcpStream, wait: Duration) -> bool {
    let mut byte = [0; 1];
    match tokio::time::timeout(wait, stream.read(&mut byte)).await {
        Ok(Ok(0) | Err(_)) => true,
        Ok(Ok(_)) | Err(_) => false,
    }
}

#[tokio::test]
async fn silent_and_half_sent_connections_are_closed_on_the_deadline_and_others_get_in() {
    // Two thousand connections, both ends in this process.
    raise_open_files_limit().unwrap();
    let server = TestServer::start(Config {
        handshake_timeout: DEADLINE,
        max_connections_per_address: 10_000,
        ..Config::default()
    })
    .await;
    let opened = Instant::now();
    let mut held = Vec::new();
    for _ in 0..1000 {
        held.push(TcpStream::connect(server.addr).await.unwrap());
    }
    for _ in 0..1000 {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream
            .write_all(b"GET /ws HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\n")
            .await
            .unwrap();
        held.push(stream);
    }

    // Meanwhile a real client gets in and joins.
    let joined = server.join("room", "Ann", 'a').await;
    assert!(
        opened.elapsed() < DEADLINE,
        "the join came before the deadline"
    );
    let exposition = http_get(server.addr, "/metrics", &[]).await.body;
    assert!(metric(&exposition, "meshdrop_tcp_connections").unwrap() >= 2001);

    // Every one of the 2,000 is closed within a second of the deadline.
    let until = opened + DEADLINE + Duration::from_secs(1);
    for (n, stream) in held.iter_mut().enumerate() {
        let wait = until.saturating_duration_since(Instant::now());
        assert!(
            closed_within(stream, wait).await,
            "connection {n} still open"
        );
    }
    // The joined client is not affected.
    let mut client = joined.client;
    client.send_json(json!({"type": "ping"})).await;
    assert_eq!(client.recv().await, ServerMessage::Pong);
}

#[tokio::test]
async fn a_websocket_that_never_joins_is_closed_with_join_timeout() {
    let server = TestServer::start(Config {
        handshake_timeout: DEADLINE,
        ..Config::default()
    })
    .await;
    let mut client = server.connect().await;
    let opened = Instant::now();
    // Pings do not count: only a join takes a seat.
    client.send_json(json!({"type": "ping"})).await;
    client.expect_error(ErrorCode::NotJoined).await;
    assert_eq!(client.expect_close().await, (1008, "join_timeout".into()));
    let took = opened.elapsed();
    assert!(took >= DEADLINE - Duration::from_millis(100), "{took:?}");
}

#[tokio::test]
async fn at_the_server_cap_websockets_get_503_and_healthz_and_metrics_answer() {
    let server = TestServer::start(Config {
        handshake_timeout: Duration::from_secs(30),
        max_connections: 20,
        ..Config::default()
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..20 {
        held.push(TcpStream::connect(server.addr).await.unwrap());
    }
    // The server counts each connection as it accepts it; let it catch up.
    let health = http_get(server.addr, "/healthz", &[]).await;
    assert_eq!((health.status, health.body.as_str()), (200, "ok"));
    let exposition = http_get(server.addr, "/metrics", &[]).await.body;
    assert_eq!(metric(&exposition, "meshdrop_tcp_connections"), Some(21));

    let mut upgrade = TcpStream::connect(server.addr).await.unwrap();
    let request = "GET /ws HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\n\
                   Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
                   Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    upgrade.write_all(request.as_bytes()).await.unwrap();
    // The connection stays open for the next request, so read just this response.
    let mut response = Vec::new();
    while !String::from_utf8_lossy(&response).ends_with("try again later") {
        let mut chunk = [0; 1024];
        let read = upgrade.read(&mut chunk).await.unwrap();
        assert_ne!(
            read,
            0,
            "closed after {:?}",
            String::from_utf8_lossy(&response)
        );
        response.extend_from_slice(&chunk[..read]);
    }
    let upgrade = parse_http_response(&String::from_utf8(response).unwrap());
    assert_eq!(upgrade.status, 503);
    assert_eq!(upgrade.header("retry-after"), Some("10"));

    // Once places are given back, WebSockets get in again.
    held.clear();
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.join("room", "Ann", 'a').await;
}

#[tokio::test]
async fn an_address_past_its_cap_is_refused_and_others_are_not() {
    let server = TestServer::start(Config {
        max_connections_per_address: 5,
        ..Config::default()
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(connect_from("127.0.0.2", server.addr).await);
    }
    let mut sixth = connect_from("127.0.0.2", server.addr).await;
    assert!(closed_within(&mut sixth, Duration::from_secs(2)).await);
    for stream in &mut held {
        assert!(!closed_within(stream, Duration::from_millis(50)).await);
    }
    // Another address still gets in.
    server.join("room", "Ann", 'a').await;
    let exposition = http_get(server.addr, "/metrics", &[]).await.body;
    let refused = "meshdrop_connections_refused_total{reason=\"address_full\"}";
    assert_eq!(metric(&exposition, refused), Some(1));
}

#[tokio::test]
async fn reconnecting_does_not_refill_the_rate_limit() {
    let server = TestServer::start(Config {
        limits: Limits {
            max_messages_per_second: 5,
            ..DEFAULT_LIMITS
        },
        ..Config::default()
    })
    .await;
    let mut first = server.connect().await;
    for _ in 0..5 {
        first.send_json(json!({"type": "ping"})).await;
        first.expect_error(ErrorCode::NotJoined).await;
    }
    first.close().await;

    let mut second = server.connect().await;
    second.send_json(json!({"type": "ping"})).await;
    second.expect_error(ErrorCode::RateLimited).await;

    // The bucket refills at 5 per second, so after a second the address is welcome.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    second.send_json(json!({"type": "ping"})).await;
    second.expect_error(ErrorCode::NotJoined).await;
}
