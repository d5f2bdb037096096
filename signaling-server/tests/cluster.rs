//! Several servers sharing rooms through a real `redis-server` (`--redis-url`): a room
//! behaves as on one server whichever node each peer reached, and a node that dies or
//! loses Redis gives its peers up to the others.

mod common;

use std::time::{Duration, Instant};

use common::process::Running;
use common::redis::Redis;
use common::{assert_forwarding_works, join, offer, session_key, Joined, TestServer, PATIENCE};
use meshdrop_protocol::signaling::{ErrorCode, Limits, PeerInfo, ServerMessage};
use meshdrop_protocol::PeerId;
use meshdrop_signaling_server::{Config, DEFAULT_LIMITS};
use serde_json::{json, Value};

/// How long a dead node's peers may stay seated: its presence (5 s) and one heartbeat
/// of a surviving node, with a second to spare.
const FREED_WITHIN: Duration = Duration::from_secs(7);

/// Two in-process nodes on one Redis, with `limits`.
async fn two_nodes(redis: &Redis, limits: Limits) -> (TestServer, TestServer) {
    let config = || Config {
        redis_url: Some(redis.url.clone()),
        limits,
        ..Config::default()
    };
    (
        TestServer::start(config()).await,
        TestServer::start(config()).await,
    )
}

async fn expect_joined(joined: &mut Joined, peer: &Joined, name: &str) {
    assert_eq!(
        joined.client.recv().await,
        ServerMessage::PeerJoined {
            peer: PeerInfo {
                id: peer.id.clone(),
                name: name.into()
            }
        }
    );
}

async fn expect_left(joined: &mut Joined, peer: &PeerId) {
    assert_eq!(
        joined.client.recv().await,
        ServerMessage::PeerLeft {
            peer_id: peer.clone()
        }
    );
}

#[tokio::test]
async fn peers_on_two_nodes_meet_signal_rename_and_leave() {
    let redis = Redis::start().await;
    let (a, b) = two_nodes(&redis, DEFAULT_LIMITS).await;
    let mut ann = a.join("room", "Ann", 'a').await;
    let mut bob = b.join("room", "Bob", 'b').await;
    assert_eq!(
        bob.peers,
        [PeerInfo {
            id: ann.id.clone(),
            name: "Ann".into()
        }]
    );
    expect_joined(&mut ann, &bob, "Bob").await;
    let mut cy = a.join("room", "Cy", 'c').await;
    assert_eq!(
        cy.peers.len(),
        2,
        "both others, in join order: {:?}",
        cy.peers
    );
    assert_eq!((&cy.peers[0].id, &cy.peers[1].id), (&ann.id, &bob.id));
    expect_joined(&mut ann, &cy, "Cy").await;
    expect_joined(&mut bob, &cy, "Cy").await;

    // Across nodes both ways, and on one node.
    assert_forwarding_works(&mut ann, &mut bob).await;
    assert_forwarding_works(&mut bob, &mut cy).await;
    assert_forwarding_works(&mut cy, &mut ann).await;
    let stranger = PeerId::new("0".repeat(16)).unwrap();
    bob.client.send_signal(&stranger, &offer("v=0")).await;
    bob.client.expect_error(ErrorCode::UnknownPeer).await;
    // Another room on the same nodes is apart.
    let mut elsewhere = b.join("elsewhere", "Dee", 'd').await;
    assert!(elsewhere.peers.is_empty());
    elsewhere.client.send_signal(&ann.id, &offer("v=0")).await;
    elsewhere.client.expect_error(ErrorCode::UnknownPeer).await;

    bob.client
        .send_json(json!({"type": "rename", "name": "Robert"}))
        .await;
    for other in [&mut ann, &mut cy] {
        assert_eq!(
            other.client.recv().await,
            ServerMessage::PeerRenamed {
                peer: PeerInfo {
                    id: bob.id.clone(),
                    name: "Robert".into()
                }
            }
        );
    }

    let bob_id = bob.id.clone();
    bob.client.close().await;
    expect_left(&mut ann, &bob_id).await;
    expect_left(&mut cy, &bob_id).await;
    ann.client.expect_silence().await;
    elsewhere.client.expect_silence().await;
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn a_reconnect_through_another_node_takes_the_seat_over_quietly() {
    let redis = Redis::start().await;
    let (a, b) = two_nodes(&redis, DEFAULT_LIMITS).await;
    let mut old = a.join("room", "Ann", 'a').await;
    let mut bob = a.join("room", "Bob", 'b').await;
    old.client.recv().await; // peer_joined Bob

    let mut new = b.join("room", "Ann", 'a').await;
    assert_eq!(new.id, old.id);
    assert_eq!(new.peers.len(), 1);
    old.client.expect_error(ErrorCode::Replaced).await;
    assert_eq!(old.client.expect_close().await, (1008, "replaced".into()));
    bob.client.expect_silence().await;
    assert_forwarding_works(&mut bob, &mut new).await;
    assert_forwarding_works(&mut new, &mut bob).await;

    new.client.close().await;
    expect_left(&mut bob, &old.id).await;
    bob.client.expect_silence().await;
}

#[tokio::test]
async fn room_capacity_and_meeting_places_count_every_node() {
    let redis = Redis::start().await;
    let limits = Limits {
        max_peers_per_room: 2,
        ..DEFAULT_LIMITS
    };
    let (a, b) = two_nodes(&redis, limits).await;
    let mut ann = a.join("room", "Ann", 'a').await;
    let _bob = b.join("room", "Bob", 'b').await;
    ann.client.recv().await; // peer_joined Bob
    let mut third = a.connect().await;
    third.send_join("room", "Cy", 'c').await;
    third.expect_error(ErrorCode::RoomFull).await;
    assert_eq!(third.expect_close().await, (1008, "room_full".into()));
    ann.client.expect_silence().await;

    let place = "_pair-4172";
    let _ann = a.join(place, "Ann", 'a').await;
    let bob = b.join(place, "Bob", 'b').await;
    bob.client.close().await;
    let mut third = a.connect().await;
    third.send_join(place, "Cy", 'c').await;
    third.expect_error(ErrorCode::CodeSpent).await;
    assert_eq!(third.expect_close().await, (1008, "code_spent".into()));
}

#[tokio::test]
async fn nodes_share_the_network_room_secret() {
    let redis = Redis::start().await;
    let (a, b) = two_nodes(&redis, DEFAULT_LIMITS).await;
    let mut rooms = Vec::new();
    let mut clients = Vec::new();
    for (node, seed) in [(&a, 'a'), (&b, 'b')] {
        let mut client = node.connect().await;
        client
            .send_json(json!({
                "type": "join", "version": 3, "name": "Ann", "session_key": session_key(seed),
            }))
            .await;
        match client.recv().await {
            ServerMessage::Welcome { room, peers, .. } => rooms.push((room, peers.len())),
            other => panic!("expected a welcome, got {other:?}"),
        }
        clients.push(client);
    }
    assert_eq!(
        rooms[0].0, rooms[1].0,
        "one network, one room, on either node"
    );
    assert_eq!(rooms[1].1, 1, "the second sees the first");
}

#[tokio::test]
async fn a_killed_node_gives_its_peers_up_to_the_other_nodes() {
    let redis = Redis::start().await;
    let args = ["--redis-url", &redis.url, "--no-stun"];
    let a = Running::start(&args).await;
    let b = Running::start(&args).await;
    let (a_addr, b_addr) = (a.address("address"), b.address("address"));
    let mut ann = join(a_addr, "room", "Ann", 'a').await;
    let bob = join(a_addr, "room", "Bob", 'b').await;
    let mut cy = join(b_addr, "room", "Cy", 'c').await;
    ann.client.recv().await; // peer_joined Bob
    ann.client.recv().await; // peer_joined Cy

    a.kill();
    let killed = Instant::now();
    // Ann's app reconnects through the surviving node and gets her seat back: Cy, who
    // never lost her, hears nothing of it.
    let mut ann = join(b_addr, "room", "Ann", 'a').await;
    assert_eq!(ann.peers.len(), 2, "Bob is not freed yet: {:?}", ann.peers);
    assert_forwarding_works(&mut ann, &mut cy).await;
    assert_forwarding_works(&mut cy, &mut ann).await;
    // Bob, who did not come back, is freed once the dead node's presence expires.
    for survivor in [&mut cy, &mut ann] {
        assert_eq!(
            survivor.client.recv_within(FREED_WITHIN).await,
            Some(ServerMessage::PeerLeft {
                peer_id: bob.id.clone()
            })
        );
    }
    println!("a killed node's peers freed after {:?}", killed.elapsed());
    cy.client.expect_silence().await;
    let rejoined = join(b_addr, "room", "Bob", 'b').await;
    assert_eq!(rejoined.id, bob.id);
}

#[tokio::test]
async fn a_node_that_loses_redis_closes_its_clients_and_exits_with_an_error() {
    let mut redis = Redis::start().await;
    let node = Running::start(&["--redis-url", &redis.url, "--no-stun"]).await;
    let mut ann = join(node.address("address"), "room", "Ann", 'a').await;

    redis.kill().await;
    assert_eq!(
        ann.client.expect_close().await,
        (1001, "shutting_down".into())
    );
    let mut node = node;
    let status = tokio::time::timeout(PATIENCE * 2, node.child.wait())
        .await
        .expect("the node stops")
        .unwrap();
    assert_ne!(status.code(), Some(0));
    let rest = node.rest.await.unwrap();
    assert!(
        rest.iter().any(|log| log["level"] == "ERROR"
            && log["fields"]["message"]
                .as_str()
                .is_some_and(|message| message.contains("lost its place in the cluster"))),
        "{rest:?}"
    );
    let last_words = rest.last().and_then(Value::as_str).unwrap_or_default();
    assert!(last_words.contains("Redis"), "{rest:?}");
}
