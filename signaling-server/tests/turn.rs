//! TURN credentials in `welcome` over a real socket: the coturn `use-auth-secret`
//! scheme, per peer and time-limited.
//!
//! The password is recomputed here with the `hmac`/`sha1`/`base64` crates; that those
//! agree with an independent implementation (Python's `hmac`) is pinned by the vector
//! in the `turn` module's unit test.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::prelude::{Engine, BASE64_STANDARD};
use common::TestServer;
use hmac::{Hmac, Mac};
use meshdrop_signaling_server::{Config, Turn, TurnSecret};
use sha1::Sha1;

const SECRET: &str = "shared-with-coturn";
const TTL: Duration = Duration::from_secs(600);

fn expected_password(username: &str) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(username.as_bytes());
    BASE64_STANDARD.encode(mac.finalize().into_bytes())
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn each_peer_gets_its_own_time_limited_credentials() {
    let server = TestServer::start(Config {
        turn: Some(Turn {
            urls: vec![
                "turn:relay.example:3478?transport=udp".into(),
                "turns:relay.example:5349".into(),
            ],
            secret: TurnSecret::new(SECRET),
            ttl: TTL,
        }),
        ..Config::default()
    })
    .await;
    let mut usernames = Vec::new();
    for seed in ['a', 'b'] {
        let before = unix_now();
        let joined = server.join("room", "Ann", seed).await;
        let (peer_id, ice_servers) = (joined.id, joined.ice_servers);
        let after = unix_now();
        let [turn] = &ice_servers[..] else {
            panic!("expected only the TURN entry, got {ice_servers:?}");
        };
        assert_eq!(
            turn.urls,
            [
                "turn:relay.example:3478?transport=udp",
                "turns:relay.example:5349"
            ]
        );
        let username = turn.username.clone().unwrap();
        let (expiry, label) = username.split_once(':').unwrap();
        let expiry: u64 = expiry.parse().unwrap();
        assert!((before + TTL.as_secs()..=after + TTL.as_secs()).contains(&expiry));
        assert_eq!(label, peer_id.as_str());
        assert_eq!(turn.credential, Some(expected_password(&username)));
        usernames.push(username);
    }
    assert_ne!(usernames[0], usernames[1]);
    server.stop().await;
}
