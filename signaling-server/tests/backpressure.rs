//! A client that does not read is cut as `too_slow`, over real sockets, and the server
//! holds no more than its byte budget meanwhile. A test binary of its own, since it
//! reads the resident set of the whole process.

mod common;

use std::time::{Duration, Instant};

use common::{offer, Client, TestServer};
use meshdrop_protocol::signaling::{Limits, ServerMessage};
use meshdrop_signaling_server::{Config, DEFAULT_LIMITS};

/// This process's resident set, from /proc.
fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().strip_suffix("kB"))
        .map(|value| value.trim().parse().unwrap())
        .unwrap();
    kib * 1024
}

#[tokio::test]
async fn clients_that_never_read_are_cut_as_too_slow_within_the_byte_budget() {
    const BUDGET: usize = 8 << 20;
    const SLOW: usize = 20;
    let server = TestServer::start(Config {
        limits: Limits {
            max_messages_per_second: 100_000,
            ..DEFAULT_LIMITS
        },
        max_queued_bytes: BUDGET,
        ..Config::default()
    })
    .await;
    let mut sender = server.join("room", "Sender", 'f').await;
    let mut slow = Vec::new();
    for n in 0..SLOW {
        let seed = char::from_digit(n as u32 % 10, 10).unwrap();
        let room = format!("room-{n}");
        let mut readers = server.join(&room, "Slow", seed).await;
        // A second connection of the sender's in each room, to address the slow one.
        let mut talker = Client::connect(server.addr).await;
        talker.send_join(&room, "Talker", 'e').await;
        let ServerMessage::Welcome { .. } = talker.recv().await else {
            panic!("expected welcome");
        };
        readers.client.recv().await; // peer_joined Talker
        slow.push((readers, talker));
    }
    let before = resident_bytes();

    // About 60 KB per signal: without a byte bound, 256 of them per slow client
    // would be 300 MB.
    let signal = offer(&"a".repeat(60_000));
    let started = Instant::now();
    let mut peak = before;
    let mut cut = [false; SLOW];
    while cut.iter().any(|cut| !cut) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "not all were cut"
        );
        for (n, (readers, talker)) in slow.iter_mut().enumerate() {
            if cut[n] {
                continue;
            }
            talker.send_signal(&readers.id, &signal).await;
            if let Some(message) = talker.recv_within(Duration::ZERO).await {
                assert!(
                    matches!(message, ServerMessage::PeerLeft { .. }),
                    "{message:?}"
                );
                cut[n] = true;
            }
        }
        peak = peak.max(resident_bytes());
    }
    let growth = peak.saturating_sub(before);
    println!("resident set grew by {} KiB at most", growth / 1024);
    assert!(
        growth < BUDGET as u64 + (16 << 20),
        "grew by {growth} bytes with a budget of {BUDGET}"
    );

    // A slow client that reads again finds what it was sent, then why it was cut.
    let (readers, _) = &mut slow[0];
    let close = loop {
        match readers.client.recv_or_close().await {
            Ok(ServerMessage::Signal { .. }) => {}
            Ok(other) => panic!("unexpected {other:?}"),
            Err(close) => break close,
        }
    };
    assert_eq!(close, (1008, "too_slow".into()));
    sender.client.expect_silence().await;
}
