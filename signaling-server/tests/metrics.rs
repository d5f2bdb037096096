//! `/metrics` over a real socket: the numbers move with what clients do.

mod common;

use std::time::Duration;

use common::{assert_forwarding_works, http_get, metric, offer, TestServer, PATIENCE};
use meshdrop_protocol::signaling::{ErrorCode, ServerMessage};
use meshdrop_protocol::PeerId;

async fn scrape(server: &TestServer) -> String {
    let response = http_get(server.addr, "/metrics", &[]).await;
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    response.body
}

/// Scrape until `series` reads `value`: a closing connection is counted out only once
/// its task has finished.
async fn wait_for(server: &TestServer, series: &str, value: u64) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let seen = metric(&scrape(server).await, series);
        if seen == Some(value) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{series} stayed {seen:?}, expected {value}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn counters_and_gauges_follow_the_clients() {
    let server = TestServer::with_defaults().await;
    let before = scrape(&server).await;
    assert_eq!(metric(&before, "meshdrop_connections"), Some(0));
    assert_eq!(metric(&before, "meshdrop_signals_forwarded_total"), Some(0));

    let mut ann = server.join("room", "Ann", 'a').await;
    let mut bob = server.join("room", "Bob", 'b').await;
    let _cy = server.join("other-room", "Cy", 'c').await;
    let mut lurker = server.connect().await;
    ann.client.recv().await; // peer_joined Bob
    assert_forwarding_works(&mut ann, &mut bob).await;
    assert_forwarding_works(&mut bob, &mut ann).await;
    let stranger = PeerId::new("ffffffffffffffff").unwrap();
    ann.client.send_signal(&stranger, &offer("v=0")).await;
    ann.client.expect_error(ErrorCode::UnknownPeer).await;
    lurker.send_text("not json").await;
    lurker.expect_error(ErrorCode::MalformedMessage).await;
    lurker.send_text(r#"{"type":"ping"}"#).await;
    lurker.expect_error(ErrorCode::NotJoined).await;

    let during = scrape(&server).await;
    assert_eq!(metric(&during, "meshdrop_connections"), Some(4));
    assert_eq!(metric(&during, "meshdrop_peers"), Some(3));
    assert_eq!(metric(&during, "meshdrop_rooms"), Some(2));
    assert_eq!(metric(&during, "meshdrop_signals_forwarded_total"), Some(2));
    let rejected = |reason: &str| {
        metric(
            &during,
            &format!("meshdrop_messages_rejected_total{{reason=\"{reason}\"}}"),
        )
    };
    assert_eq!(rejected("unknown_peer"), Some(1));
    assert_eq!(rejected("malformed_message"), Some(1));
    assert_eq!(rejected("not_joined"), Some(1));
    assert_eq!(rejected("rate_limited"), None);

    ann.client.close().await;
    assert!(matches!(
        bob.client.recv().await,
        ServerMessage::PeerLeft { .. }
    ));
    wait_for(&server, "meshdrop_connections", 3).await;
    let after = scrape(&server).await;
    assert_eq!(metric(&after, "meshdrop_peers"), Some(2));
    assert_eq!(metric(&after, "meshdrop_rooms"), Some(2));
    server.stop().await;
}
