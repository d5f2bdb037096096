//! The stand-ins for the signaling server that the tests of peer verification use: a real
//! man in the middle ([`MitmServer`]) and a proxy that records what the real server
//! receives ([`RecordingProxy`]). Each must be invisible to pages that do not verify.
//!
//! Needs the web app in `dist/` (`cargo xtask test` builds it first).

use meshdrop_e2e::files::scratch_dir;
use meshdrop_e2e::room::{connected_and_named, everyone_chats, join, send_and_accept};
use meshdrop_e2e::{
    run_in, MitmServer, NetNs, RawClient, RecordingProxy, Result, SignalingServer, TestFile,
};
use std::net::Ipv4Addr;

use meshdrop_e2e::ServesApp;
use serde_json::{json, Value};

/// Two pages through the man in the middle connect, chat and send a file as if nobody
/// were there, while it reads their chat in the clear and shows each a certificate of its
/// own.
#[test]
fn a_man_in_the_middle_relays_what_it_reads_in_the_clear() -> Result<()> {
    let ns = NetNs::create()?;
    run_in(&ns, async {
        let mitm = MitmServer::start().await?;
        let peers = connected_and_named(join(&mitm, "middle", &["alice", "bob"]).await?).await?;
        let line = |label: &str| format!("{label}, through the middle");
        everyone_chats(&peers, line).await?;

        let relayed = mitm.relayed_control();
        for (app, _) in &peers {
            let text = line(app.label());
            assert!(
                relayed.iter().any(|message| is_chat(message, &text)),
                "the man in the middle read {text:?} in the clear; it relayed {relayed:#?}"
            );
        }

        let shown = mitm.fingerprints();
        let mut clients: Vec<&str> = shown.iter().map(|shown| shown.client.as_str()).collect();
        let mut ids: Vec<&str> = peers.iter().map(|(_, id)| id.as_str()).collect();
        clients.sort_unstable();
        ids.sort_unstable();
        assert_eq!(
            clients, ids,
            "one fingerprint shown to each page: {shown:#?}"
        );
        assert_ne!(shown[0].fingerprint, shown[1].fingerprint, "{shown:#?}");
        // The pages' own certificates, from the SDP they sent, are not the ones it showed.
        let mut own = sent_fingerprints(&mitm.received());
        own.sort_unstable();
        own.dedup();
        assert_eq!(own.len(), 2, "each page sent its fingerprint: {own:?}");
        for shown in &shown {
            assert!(
                !own.contains(&shown.fingerprint),
                "{shown:?} is the man in the middle's own"
            );
        }

        // Binary messages go through unchanged too.
        let dir = scratch_dir()?;
        let file = TestFile::random(dir.path(), "through-the-middle.bin", 3 << 20)?;
        send_and_accept(&peers[0], &peers[1], &file).await
    })
}

/// The man in the middle speaks the signaling protocol to clients of our own: welcomes,
/// tells the first of the second, offers to the first posing as the second, passes a
/// signal of a kind it does not know verbatim, answers `ping`, and seats no third client.
#[test]
fn a_man_in_the_middle_speaks_signaling_and_passes_unknown_signals_verbatim() -> Result<()> {
    let ns = NetNs::create()?;
    run_in(&ns, async {
        let mitm = MitmServer::start().await?;
        let url = mitm.websocket_url(Ipv4Addr::LOCALHOST);
        let mut first = RawClient::join(&url, "raw", "first", 1).await;
        let welcome = first.next_of("welcome").await;
        assert_eq!(welcome["peers"], json!([]), "{welcome}");
        let first_id = welcome["peer_id"].clone();

        let mut second = RawClient::join(&url, "raw", "second", 2).await;
        let welcome = second.next_of("welcome").await;
        assert_eq!(welcome["peers"], json!([{"id": first_id, "name": "first"}]));
        let second_id = welcome["peer_id"].clone();
        assert_ne!(first_id, second_id);
        assert_eq!(second_id.as_str().map(str::len), Some(16), "{second_id}");
        let joined = first.next_of("peer_joined").await;
        assert_eq!(joined["peer"], json!({"id": second_id, "name": "second"}));

        // The first waits for the newcomer's offer: the man in the middle makes it.
        let offer = first.next_of("signal").await;
        assert_eq!(offer["from"], second_id);
        assert_eq!(offer["signal"]["kind"], "offer", "{offer}");
        let shown = mitm.fingerprints();
        assert_eq!(shown.len(), 1, "{shown:?}");
        assert_eq!(Some(shown[0].client.as_str()), first_id.as_str());
        assert!(shown[0].fingerprint.starts_with("sha-256 "), "{shown:?}");
        let sdp = offer["signal"]["sdp"].as_str().unwrap_or_default();
        assert!(sdp.contains(&format!("a=fingerprint:{}", shown[0].fingerprint)));

        let unknown =
            json!({"kind": "pake", "message": "bXNn", "n": 1.5, "x": [null, {"y": true}]});
        let sent = json!({"type": "signal", "to": first_id, "signal": unknown}).to_string();
        second.send(&sent).await;
        let passed = loop {
            let signal = first.next_of("signal").await;
            if signal["signal"]["kind"] != "candidate" {
                break signal;
            }
        };
        assert_eq!(
            passed,
            json!({"type": "signal", "from": second_id, "signal": unknown})
        );
        assert!(mitm.received().contains(&sent), "recorded verbatim");

        second.send(r#"{"type":"ping"}"#).await;
        second.next_of("pong").await;
        let mut third = RawClient::join(&url, "raw", "third", 3).await;
        assert_eq!(third.next_of("error").await["code"], "room_full");

        drop(second);
        let left = first.next_of("peer_left").await;
        assert_eq!(left["peer_id"], second_id);
        Ok(())
    })
}

/// Two pages through the recording proxy work as on the real server, and the recording
/// holds what they sent it: their `join`s and the signals that connected them.
#[test]
fn a_recording_proxy_relays_and_records_what_the_server_receives() -> Result<()> {
    let ns = NetNs::create()?;
    run_in(&ns, async {
        let server = SignalingServer::start().await?;
        let proxy = RecordingProxy::start(&server).await?;
        let peers = connected_and_named(join(&proxy, "recorded", &["alice", "bob"]).await?).await?;
        everyone_chats(&peers, |label| format!("{label}, past the proxy")).await?;

        let received: Vec<Value> = proxy
            .received()
            .iter()
            .map(|text| serde_json::from_str(text).expect("the pages send JSON"))
            .collect();
        let of_type = |kind: &'static str| {
            received
                .iter()
                .filter(move |message| message["type"] == kind)
        };
        let joins: Vec<&Value> = of_type("join").collect();
        assert_eq!(joins.len(), 2, "{joins:#?}");
        assert!(
            joins.iter().all(|join| join["room"] == "recorded"),
            "{joins:#?}"
        );
        for kind in ["offer", "answer", "candidate"] {
            assert!(
                of_type("signal").any(|signal| signal["signal"]["kind"] == kind),
                "the recording holds a {kind}: {received:#?}"
            );
        }
        assert!(of_type("rename").count() >= 2, "{received:#?}");
        server.stop().await
    })
}

/// Whether `message` is a chat control frame saying `text`.
fn is_chat(message: &str, text: &str) -> bool {
    serde_json::from_str::<Value>(message)
        .is_ok_and(|frame| frame["type"] == "chat" && frame["text"] == text)
}

/// The `a=fingerprint:` values of the offers and answers among `received` frames.
fn sent_fingerprints(received: &[String]) -> Vec<String> {
    received
        .iter()
        .filter_map(|text| serde_json::from_str::<Value>(text).ok())
        .filter_map(|message| message["signal"]["sdp"].as_str().map(str::to_owned))
        .filter_map(|sdp| {
            sdp.lines()
                .find_map(|line| line.strip_prefix("a=fingerprint:"))
                .map(str::to_owned)
        })
        .collect()
}
