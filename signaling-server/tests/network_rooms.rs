//! Network rooms over a real socket: a `join` without a room enters the room of the
//! client's network, as the TCP peer shows it or, only from a trusted proxy, as the
//! proxy's forwarding headers say. Every client here connects from 127.0.0.1.

mod common;

use common::{assert_forwarding_works, session_key, Client, Joined, TestServer};
use meshdrop_protocol::signaling::{ErrorCode, PeerInfo, ServerMessage};
use meshdrop_protocol::RoomId;
use meshdrop_signaling_server::{Config, TrustedProxy};
use serde_json::json;

/// A client that joined without naming a room, and the room it got.
struct InNetworkRoom {
    joined: Joined,
    room: RoomId,
}

impl InNetworkRoom {
    fn peer_ids(&self) -> Vec<String> {
        let ids = self.joined.peers.iter().map(|peer| peer.id.to_string());
        ids.collect()
    }
}

/// Sends a `join` without a room (and a session key made from `seed`).
async fn send_network_join(client: &mut Client, name: &str, seed: char) {
    client
        .send_json(json!({
            "type": "join", "version": 3, "name": name, "session_key": session_key(seed),
        }))
        .await;
}

/// Connects with `headers` on the upgrade request and joins without a room; the
/// welcome must say it is a network room.
async fn join_network(
    server: &TestServer,
    name: &str,
    seed: char,
    headers: &[(&str, &str)],
) -> InNetworkRoom {
    let mut client = Client::connect_with_headers(server.addr, headers).await;
    send_network_join(&mut client, name, seed).await;
    welcomed_to_network_room(client).await
}

async fn welcomed_to_network_room(mut client: Client) -> InNetworkRoom {
    match client.recv().await {
        ServerMessage::Welcome {
            peer_id,
            room,
            network,
            peers,
            ice_servers,
            ..
        } => {
            assert!(network, "the welcome says it is a network room");
            assert!(room.is_network_room(), "{room} is named as a network room");
            InNetworkRoom {
                joined: Joined {
                    client,
                    id: peer_id,
                    peers,
                    ice_servers,
                },
                room,
            }
        }
        other => panic!("expected welcome, got {other:?}"),
    }
}

fn trusting(proxies: &[&str]) -> Config {
    Config {
        trusted_proxies: proxies
            .iter()
            .map(|proxy| proxy.parse::<TrustedProxy>().unwrap())
            .collect(),
        ..Config::default()
    }
}

#[tokio::test]
async fn clients_from_the_same_address_meet_without_naming_a_room() {
    let server = TestServer::with_defaults().await;
    let mut ann = join_network(&server, "Ann", 'a', &[]).await;
    assert!(ann.joined.peers.is_empty());

    let mut bob = join_network(&server, "Bob", 'b', &[]).await;
    assert_eq!(bob.room, ann.room);
    assert_eq!(bob.peer_ids(), [ann.joined.id.to_string()]);
    assert_eq!(
        ann.joined.client.recv().await,
        ServerMessage::PeerJoined {
            peer: PeerInfo {
                id: bob.joined.id.clone(),
                name: "Bob".into()
            }
        }
    );
    assert_forwarding_works(&mut bob.joined, &mut ann.joined).await;

    // Naming a room still makes a private room, apart from the network's.
    let carol = server.join("quiet-otter", "Carol", 'c').await;
    assert!(carol.peers.is_empty());
    ann.joined.client.expect_silence().await;
}

#[tokio::test]
async fn forged_forwarding_headers_change_nothing_without_the_trust_flag() {
    // No proxy trusted, or one at another address than this client's.
    for config in [Config::default(), trusting(&["10.9.9.9", "192.168.0.0/16"])] {
        let server = TestServer::start(config).await;
        let ann = join_network(&server, "Ann", 'a', &[]).await;
        for (seed, forged) in [
            ('b', ("x-forwarded-for", "198.51.100.7")),
            ('c', ("forwarded", "for=203.0.113.9")),
            ('d', ("x-real-ip", "198.51.100.7")),
        ] {
            let forger = join_network(&server, "Mallory", seed, &[forged]).await;
            assert_eq!(forger.room, ann.room, "{forged:?} moved the client");
            assert!(forger.peer_ids().contains(&ann.joined.id.to_string()));
        }
    }
}

#[tokio::test]
async fn a_trusted_proxy_names_the_client_address() {
    let server = TestServer::start(trusting(&["127.0.0.1"])).await;
    let home = join_network(&server, "Ann", 'a', &[("x-forwarded-for", "198.51.100.7")]).await;
    assert!(home.joined.peers.is_empty());

    // What the client wrote itself is left of what the proxy appended, and is ignored.
    let forged_then_appended = [("x-forwarded-for", "203.0.113.9, 198.51.100.7")];
    let same_home = join_network(&server, "Bob", 'b', &forged_then_appended).await;
    assert_eq!(same_home.room, home.room);
    assert_eq!(same_home.peer_ids(), [home.joined.id.to_string()]);

    let away = join_network(&server, "Cy", 'c', &[("forwarded", "for=203.0.113.9")]).await;
    assert_ne!(away.room, home.room);
    assert!(
        away.joined.peers.is_empty(),
        "another address, another room"
    );

    // The proxy's own requests are from its own (local) network.
    let direct = join_network(&server, "Dee", 'd', &[]).await;
    assert!(direct.joined.peers.is_empty());
    assert_ne!(direct.room, home.room);
    assert_ne!(direct.room, away.room);
}

#[tokio::test]
async fn a_network_room_cannot_be_joined_by_its_name() {
    let server = TestServer::start(trusting(&["127.0.0.1"])).await;
    let mut home = join_network(&server, "Ann", 'a', &[("x-forwarded-for", "198.51.100.7")]).await;

    // From another network, with the name the home network's welcome gave away.
    let mut intruder = Client::connect(server.addr).await;
    for name in [home.room.as_str(), "_net-anything"] {
        intruder.send_join(name, "Mallory", 'f').await;
        match intruder.recv().await {
            ServerMessage::Error {
                code: ErrorCode::InvalidField,
                message,
            } => assert!(message.contains("_net-"), "{message:?} says why"),
            other => panic!("expected invalid_field, got {other:?}"),
        }
    }
    home.joined.client.expect_silence().await;

    // The connection stays open, and joining without a room still works.
    send_network_join(&mut intruder, "Mallory", 'f').await;
    let intruder = welcomed_to_network_room(intruder).await;
    assert_ne!(intruder.room, home.room);
    assert!(intruder.joined.peers.is_empty());
}
