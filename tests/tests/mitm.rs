//! The stand-ins for the signaling server that the tests of peer verification use: a real
//! man in the middle ([`MitmServer`]) and a proxy that records what the real server
//! receives ([`RecordingProxy`]). Each must be invisible to pages that do not verify.
//!
//! Needs the web app in `dist/` (`cargo xtask test` builds it first).

use meshdrop_e2e::files::scratch_dir;
use meshdrop_e2e::room::{assert_delivered, connected_and_named, everyone_chats, join, Peer};
use meshdrop_e2e::{
    run_in, MitmServer, NetNs, Recipient, RecordingProxy, Result, SignalingServer, TestFile,
    TransferButton,
};
use serde_json::Value;

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

/// `sender` offers `file` to `receiver`, who accepts; it must arrive intact.
async fn send_and_accept(sender: &Peer, receiver: &Peer, file: &TestFile) -> Result<()> {
    sender
        .0
        .send_files(Recipient::Peer(&receiver.1), &[file])
        .await?;
    let offered = receiver.0.wait_for_offer(&sender.1, &[file]).await?;
    receiver
        .0
        .click_transfer_button(&sender.1, &offered.id, TransferButton::Accept)
        .await?;
    assert_delivered(sender, receiver, &offered.id, &[file]).await
}
