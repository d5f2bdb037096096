//! The per-connection limits over a real socket: each offender gets its typed error
//! and documented close, and the rest of the room carries on.

mod common;

use std::time::Duration;

use common::{assert_forwarding_works, Joined, TestServer};
use meshdrop_protocol::signaling::{ErrorCode, ServerMessage};
use meshdrop_signaling_server::{Config, DEFAULT_LIMITS};
use serde_json::json;

/// A room of two bystanders, Ann and Bob, who have seen each other join.
async fn bystanders(server: &TestServer) -> (Joined, Joined) {
    let mut ann = server.join("room", "Ann", 'a').await;
    let bob = server.join("room", "Bob", 'b').await;
    ann.client.recv().await; // peer_joined Bob
    (ann, bob)
}

/// Ann and Bob hear that `offender` joined, then that it left, and can still talk.
async fn room_survives(ann: &mut Joined, bob: &mut Joined, offender: &Joined) {
    for bystander in [&mut *ann, &mut *bob] {
        assert!(matches!(
            bystander.client.recv().await,
            ServerMessage::PeerJoined { peer } if peer.id == offender.id
        ));
        assert_eq!(
            bystander.client.recv().await,
            ServerMessage::PeerLeft {
                peer_id: offender.id.clone()
            }
        );
    }
    assert_forwarding_works(ann, bob).await;
    assert_forwarding_works(bob, ann).await;
}

#[tokio::test]
async fn an_oversized_frame_is_refused_and_closes_the_connection() {
    let server = TestServer::with_defaults().await;
    let (mut ann, mut bob) = bystanders(&server).await;
    let mut offender = server.join("room", "Cy", 'c').await;

    let huge = "x".repeat(DEFAULT_LIMITS.max_message_bytes + 1);
    offender.client.send_text(huge).await;
    offender
        .client
        .expect_error(ErrorCode::MessageTooLarge)
        .await;
    assert_eq!(
        offender.client.expect_close().await,
        (1009, "message_too_large".into())
    );
    room_survives(&mut ann, &mut bob, &offender).await;
}

#[tokio::test]
async fn a_message_at_the_size_limit_is_fine() {
    let server = TestServer::with_defaults().await;
    let mut ann = server.join("room", "Ann", 'a').await;
    let mut bob = server.join("room", "Bob", 'b').await;
    ann.client.recv().await; // peer_joined Bob
    let envelope = json!({"type": "signal", "to": bob.id, "signal": {"kind": "offer", "sdp": ""}});
    let padding = DEFAULT_LIMITS.max_message_bytes - envelope.to_string().len();
    let sdp = "s".repeat(padding);
    let message = json!({"type": "signal", "to": bob.id, "signal": {"kind": "offer", "sdp": sdp}});
    assert_eq!(message.to_string().len(), DEFAULT_LIMITS.max_message_bytes);
    ann.client.send_json(message).await;
    assert!(matches!(
        bob.client.recv().await,
        ServerMessage::Signal { from, .. } if from == ann.id
    ));
}

#[tokio::test]
async fn over_the_rate_limit_messages_are_dropped_with_one_error() {
    let server = TestServer::with_defaults().await;
    let (mut ann, mut bob) = bystanders(&server).await;
    let limit = DEFAULT_LIMITS.max_messages_per_second as usize;

    ann.client.blast(r#"{"type":"ping"}"#, 2 * limit).await;
    let mut pongs = 0;
    let mut rate_limited = 0;
    while let Some(message) = ann.client.recv_within(common::QUIET).await {
        match message {
            ServerMessage::Pong => pongs += 1,
            ServerMessage::Error {
                code: ErrorCode::RateLimited,
                ..
            } => rate_limited += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    // The join took one token of the bucket.
    assert!(
        pongs >= limit - 1,
        "a full second's burst passes, got {pongs}"
    );
    // Only what refilled while the burst was read (a few ms) gets through on top.
    assert!(pongs < 2 * limit, "some messages are dropped");
    assert_eq!(rate_limited, 1, "one error per second, not per message");

    // The connection is still open, and a second later the budget is back.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    ann.client.send_json(json!({"type": "ping"})).await;
    assert_eq!(ann.client.recv().await, ServerMessage::Pong);
    assert_forwarding_works(&mut ann, &mut bob).await;
    assert_forwarding_works(&mut bob, &mut ann).await;
}

#[tokio::test]
async fn a_flood_of_ten_times_the_limit_closes_the_connection() {
    let server = TestServer::with_defaults().await;
    let (mut ann, mut bob) = bystanders(&server).await;
    let mut offender = server.join("room", "Cy", 'c').await;
    let flood = 11 * DEFAULT_LIMITS.max_messages_per_second as usize;

    offender.client.blast(r#"{"type":"ping"}"#, flood).await;
    let mut rate_limited = 0;
    let close = loop {
        match offender.client.recv_or_close().await {
            Ok(ServerMessage::Pong) => {}
            Ok(ServerMessage::Error {
                code: ErrorCode::RateLimited,
                ..
            }) => rate_limited += 1,
            Ok(other) => panic!("unexpected {other:?}"),
            Err(close) => break close,
        }
    };
    assert_eq!(close, (1008, "rate_limited".into()));
    assert!(rate_limited >= 1);
    room_survives(&mut ann, &mut bob, &offender).await;
}

#[tokio::test]
async fn a_full_room_refuses_and_closes_and_its_members_carry_on() {
    let server = TestServer::start(Config {
        limits: meshdrop_protocol::signaling::Limits {
            max_peers_per_room: 2,
            ..DEFAULT_LIMITS
        },
        ..Config::default()
    })
    .await;
    let (mut ann, mut bob) = bystanders(&server).await;

    let mut third = server.connect().await;
    third.send_join("room", "Cy", 'c').await;
    third.expect_error(ErrorCode::RoomFull).await;
    assert_eq!(third.expect_close().await, (1008, "room_full".into()));

    ann.client.expect_silence().await;
    bob.client.expect_silence().await;
    assert_forwarding_works(&mut ann, &mut bob).await;
    // Another room is not affected by this one being full.
    server.join("other", "Cy", 'c').await;
}

#[tokio::test]
async fn a_meeting_place_takes_two_devices_ever_then_the_code_is_spent() {
    let server = TestServer::with_defaults().await;
    let place = "_pair-4172";
    let mut ann = server.join(place, "Ann", 'a').await;
    let bob = server.join(place, "Bob", 'b').await;
    // A wrong code used the place up: Bob leaves, and nobody else gets in.
    bob.client.close().await;
    let mut third = server.connect().await;
    third.send_join(place, "Cy", 'c').await;
    third.expect_error(ErrorCode::CodeSpent).await;
    assert_eq!(third.expect_close().await, (1008, "code_spent".into()));
    // Ann, who was there, saw Bob come and go, and nobody else; she may reconnect.
    assert!(matches!(
        ann.client.recv().await,
        ServerMessage::PeerJoined { .. }
    ));
    assert!(matches!(
        ann.client.recv().await,
        ServerMessage::PeerLeft { .. }
    ));
    ann.client.expect_silence().await;
    server.join(place, "Ann", 'a').await;
}

#[tokio::test]
async fn a_version_2_join_is_refused_with_what_to_do_and_closes_the_connection() {
    let server = TestServer::with_defaults().await;
    let (mut ann, mut bob) = bystanders(&server).await;

    let mut client = server.connect().await;
    client
        .send_json(json!({
            "type": "join", "version": 2, "room": "room", "name": "Cy",
            "session_key": common::session_key('c'),
        }))
        .await;
    // A version 2 page shows the message as it is: it must say what to do.
    match client.recv().await {
        ServerMessage::Error { code, message } => {
            assert_eq!(code, ErrorCode::UnsupportedVersion);
            assert_eq!(
                message,
                "this server speaks Meshdrop protocol version 3, not 2: reload the page (or update the meshdrop program)"
            );
        }
        other => panic!("expected the version error, got {other:?}"),
    }
    assert_eq!(
        client.expect_close().await,
        (1008, "unsupported_version".into())
    );
    ann.client.expect_silence().await;
    assert_forwarding_works(&mut ann, &mut bob).await;
}

#[tokio::test]
async fn a_silent_connection_is_closed_after_the_idle_timeout() {
    let server = TestServer::start(Config {
        limits: meshdrop_protocol::signaling::Limits {
            idle_timeout_secs: 2,
            ..DEFAULT_LIMITS
        },
        ..Config::default()
    })
    .await;
    let mut quiet = server.join("room", "Ann", 'a').await;
    let mut chatty = server.join("room", "Bob", 'b').await;
    quiet.client.recv().await; // peer_joined Bob

    assert!(
        quiet
            .client
            .recv_within(Duration::from_millis(700))
            .await
            .is_none(),
        "not closed before the timeout"
    );
    // Pinging every 500 ms keeps Bob's connection open well past the timeout, while
    // Ann, who sends nothing, is closed.
    let mut saw_ann_leave = false;
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        chatty.client.send_json(json!({"type": "ping"})).await;
        loop {
            match chatty.client.recv().await {
                ServerMessage::Pong => break,
                ServerMessage::PeerLeft { peer_id } if peer_id == quiet.id => saw_ann_leave = true,
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    assert!(saw_ann_leave);
    assert_eq!(
        quiet.client.expect_close().await,
        (1000, "idle_timeout".into())
    );
}
