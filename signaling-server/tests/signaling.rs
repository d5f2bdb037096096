//! The protocol over a real socket: rooms, forwarding, renames, reconnects, and the
//! errors that leave a connection open.

mod common;

use common::{assert_forwarding_works, offer, session_key, TestServer};
use meshdrop_protocol::signaling::{ErrorCode, IceServer, PeerInfo, ServerMessage};
use meshdrop_protocol::PROTOCOL_VERSION;
use meshdrop_signaling_server::{Config, DEFAULT_LIMITS};
use serde_json::json;
use sha2::{Digest, Sha256};

#[tokio::test]
async fn welcome_lists_the_peers_already_there_and_the_room_hears_of_the_newcomer() {
    let ice_servers = vec![IceServer {
        urls: vec!["stun:stun.example.org:3478".into()],
        username: None,
        credential: None,
    }];
    let server = TestServer::start(Config {
        ice_servers: ice_servers.clone(),
        ..Config::default()
    })
    .await;
    let mut ann = server.join("room", "Ann", 'a').await;
    assert!(ann.peers.is_empty());

    let mut bob = server.connect().await;
    bob.send_join("room", "  Bob  ", 'b').await;
    let ServerMessage::Welcome {
        version,
        peer_id,
        room,
        network,
        peers,
        ice_servers: offered,
        limits,
    } = bob.recv().await
    else {
        panic!("expected welcome");
    };
    assert_eq!(version, PROTOCOL_VERSION);
    let digest = hex::encode(Sha256::digest(format!(
        "meshdrop-peer-id:{}",
        session_key('b')
    )));
    assert_eq!(peer_id.as_str(), &digest[..16]);
    assert_eq!(room.as_str(), "room");
    assert!(!network, "a named room is a private room");
    assert_eq!(
        peers,
        [PeerInfo {
            id: ann.id.clone(),
            name: "Ann".into()
        }]
    );
    assert_eq!(offered, ice_servers);
    assert_eq!(limits, DEFAULT_LIMITS);

    let bob_info = PeerInfo {
        id: peer_id,
        name: "Bob".into(),
    };
    assert_eq!(
        ann.client.recv().await,
        ServerMessage::PeerJoined { peer: bob_info }
    );
    bob.expect_silence().await;
}

#[tokio::test]
async fn leaving_is_announced_whether_the_socket_closes_cleanly_or_not() {
    let server = TestServer::with_defaults().await;
    let mut ann = server.join("room", "Ann", 'a').await;
    let bob = server.join("room", "Bob", 'b').await;
    let cy = server.join("room", "Cy", 'c').await;
    ann.client.recv().await; // peer_joined Bob
    ann.client.recv().await; // peer_joined Cy

    bob.client.close().await;
    assert_eq!(
        ann.client.recv().await,
        ServerMessage::PeerLeft { peer_id: bob.id }
    );
    drop(cy.client); // No close frame: the TCP connection just ends.
    assert_eq!(
        ann.client.recv().await,
        ServerMessage::PeerLeft { peer_id: cy.id }
    );
}

#[tokio::test]
async fn signals_carry_the_real_sender_whatever_the_sender_claims() {
    let server = TestServer::with_defaults().await;
    let mut ann = server.join("room", "Ann", 'a').await;
    let mut bob = server.join("room", "Bob", 'b').await;
    ann.client.recv().await; // peer_joined Bob

    let forged = json!({
        "type": "signal", "to": bob.id, "from": "0000000000000000",
        "signal": {"kind": "answer", "sdp": "v=0 forged"},
    });
    ann.client.send_json(forged).await;
    let ServerMessage::Signal { from, signal } = bob.client.recv().await else {
        panic!("expected a signal");
    };
    assert_eq!(from, ann.id);
    assert_eq!(
        serde_json::to_value(signal).unwrap(),
        json!({"kind": "answer", "sdp": "v=0 forged"})
    );
    assert_forwarding_works(&mut bob, &mut ann).await;
}

/// The server passes the signal object on as the sender wrote it: fields it does not know
/// (`username_fragment`), absent fields (no `sdp_mid` becomes `null`) and kinds it has
/// never heard of.
#[tokio::test]
async fn signals_are_forwarded_verbatim() {
    let server = TestServer::with_defaults().await;
    let mut ann = server.join("room", "Ann", 'a').await;
    let mut bob = server.join("room", "Bob", 'b').await;
    ann.client.recv().await; // peer_joined Bob

    for signal in [
        json!({"kind": "candidate", "candidate": "candidate:1 1 udp 1 10.0.0.1 5000 typ host", "username_fragment": "abcd"}),
        json!({"kind": "end_of_candidates", "extra": {"nested": [1, 2.5, null, true]}}),
    ] {
        ann.client
            .send_json(json!({"type": "signal", "to": bob.id, "signal": signal}))
            .await;
        let ServerMessage::Signal { from, signal: got } = bob.client.recv().await else {
            panic!("expected a signal");
        };
        assert_eq!(from, ann.id);
        assert_eq!(serde_json::to_value(got).unwrap(), signal);
    }
}

#[tokio::test]
async fn a_signal_cannot_reach_another_room() {
    let server = TestServer::with_defaults().await;
    let mut ann = server.join("one", "Ann", 'a').await;
    let mut cy = server.join("two", "Cy", 'c').await;

    ann.client.send_signal(&cy.id, &offer("v=0")).await;
    ann.client.expect_error(ErrorCode::UnknownPeer).await;
    cy.client.expect_silence().await;

    // Nor can a peer signal itself.
    ann.client.send_signal(&ann.id, &offer("v=0")).await;
    ann.client.expect_error(ErrorCode::UnknownPeer).await;
}

#[tokio::test]
async fn rename_is_broadcast_to_the_others_and_validated() {
    let server = TestServer::with_defaults().await;
    let mut ann = server.join("room", "Ann", 'a').await;
    let mut bob = server.join("room", "Bob", 'b').await;
    ann.client.recv().await; // peer_joined Bob

    ann.client
        .send_json(json!({"type": "rename", "name": " Anna "}))
        .await;
    assert_eq!(
        bob.client.recv().await,
        ServerMessage::PeerRenamed {
            peer: PeerInfo {
                id: ann.id.clone(),
                name: "Anna".into()
            }
        }
    );

    ann.client
        .send_json(json!({"type": "rename", "name": "   "}))
        .await;
    ann.client.expect_error(ErrorCode::InvalidField).await;
    ann.client
        .send_json(json!({"type": "rename", "name": "x".repeat(65)}))
        .await;
    ann.client.expect_error(ErrorCode::InvalidField).await;
    bob.client.expect_silence().await;
}

#[tokio::test]
async fn ping_gets_pong() {
    let server = TestServer::with_defaults().await;
    let mut ann = server.join("room", "Ann", 'a').await;
    ann.client.send_json(json!({"type": "ping"})).await;
    assert_eq!(ann.client.recv().await, ServerMessage::Pong);
}

#[tokio::test]
async fn only_join_is_allowed_before_joining_and_only_once() {
    let server = TestServer::with_defaults().await;
    let mut client = server.connect().await;
    client.send_json(json!({"type": "ping"})).await;
    client.expect_error(ErrorCode::NotJoined).await;
    client
        .send_json(json!({"type": "rename", "name": "Ann"}))
        .await;
    client.expect_error(ErrorCode::NotJoined).await;
    client
        .send_json(json!({"type": "signal", "to": "abc", "signal": {"kind": "offer", "sdp": ""}}))
        .await;
    client.expect_error(ErrorCode::NotJoined).await;

    client.send_join("room", "Ann", 'a').await;
    assert!(matches!(client.recv().await, ServerMessage::Welcome { .. }));
    client.send_join("other", "Ann", 'a').await;
    client.expect_error(ErrorCode::AlreadyJoined).await;
    client.send_json(json!({"type": "ping"})).await;
    assert_eq!(client.recv().await, ServerMessage::Pong);
}

#[tokio::test]
async fn bad_join_fields_are_invalid_and_the_connection_may_try_again() {
    let server = TestServer::with_defaults().await;
    let mut client = server.connect().await;
    let join = |name: &str, key: &str| json!({"type": "join", "version": 3, "room": "room", "name": name, "session_key": key});
    let cases = [
        join("", &session_key('a')),
        join(&"ü".repeat(65), &session_key('a')),
        join("Ann", "abc"),
        join("Ann", &"a".repeat(129)),
        join("Ann", &"z".repeat(32)),
    ];
    for case in cases {
        client.send_json(case).await;
        client.expect_error(ErrorCode::InvalidField).await;
    }
    client.send_join("room", "Ann", 'a').await;
    assert!(matches!(client.recv().await, ServerMessage::Welcome { .. }));
}

#[tokio::test]
async fn garbage_gets_typed_errors_and_everyone_carries_on() {
    let server = TestServer::with_defaults().await;
    let mut ann = server.join("room", "Ann", 'a').await;
    let mut bob = server.join("room", "Bob", 'b').await;
    ann.client.recv().await; // peer_joined Bob

    ann.client.send_text("{not json").await;
    ann.client.expect_error(ErrorCode::MalformedMessage).await;
    ann.client
        .send_json(json!({"type": "signal", "to": bob.id}))
        .await;
    ann.client.expect_error(ErrorCode::MalformedMessage).await;
    ann.client
        .send_json(json!({"type": "signal", "to": "not a peer id!", "signal": {"kind": "offer", "sdp": ""}}))
        .await;
    ann.client.expect_error(ErrorCode::MalformedMessage).await;
    ann.client
        .send_json(json!({"type": "chat", "text": "hi"}))
        .await;
    ann.client.expect_error(ErrorCode::UnknownType).await;
    ann.client.send_binary(vec![0, 159, 146, 150]).await;
    ann.client.expect_error(ErrorCode::MalformedMessage).await;

    bob.client.expect_silence().await;
    assert_forwarding_works(&mut ann, &mut bob).await;
    assert_forwarding_works(&mut bob, &mut ann).await;
}

#[tokio::test]
async fn a_reconnect_with_the_same_key_takes_over_the_seat() {
    let server = TestServer::with_defaults().await;
    let mut old = server.join("room", "Ann", 'a').await;
    let mut bob = server.join("room", "Bob", 'b').await;
    old.client.recv().await; // peer_joined Bob

    // Same name: the others hear nothing at all.
    let mut new = server.join("room", "Ann", 'a').await;
    assert_eq!(new.id, old.id);
    assert_eq!(
        new.peers,
        [PeerInfo {
            id: bob.id.clone(),
            name: "Bob".into()
        }]
    );
    old.client.expect_error(ErrorCode::Replaced).await;
    assert_eq!(old.client.expect_close().await, (1008, "replaced".into()));
    old.client.expect_end().await;
    bob.client.expect_silence().await;
    assert_forwarding_works(&mut bob, &mut new).await;
    assert_forwarding_works(&mut new, &mut bob).await;

    // Another name: the others hear of the rename only.
    let mut newest = server.join("room", "Anna", 'a').await;
    new.client.expect_error(ErrorCode::Replaced).await;
    assert_eq!(new.client.expect_close().await.0, 1008);
    assert_eq!(
        bob.client.recv().await,
        ServerMessage::PeerRenamed {
            peer: PeerInfo {
                id: newest.id.clone(),
                name: "Anna".into()
            }
        }
    );
    bob.client.expect_silence().await;
    assert_forwarding_works(&mut bob, &mut newest).await;

    // Leaving for real is announced once.
    newest.client.close().await;
    assert_eq!(
        bob.client.recv().await,
        ServerMessage::PeerLeft { peer_id: old.id }
    );
    bob.client.expect_silence().await;
}
