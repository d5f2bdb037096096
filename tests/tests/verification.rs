//! Who is on the other end of a link: the safety number both pages show, devices marked
//! verified, and pairing by code. Real Chromium pages, with the real server (behind a
//! proxy that records what it receives), or with a real man in the middle in its place.

use meshdrop_e2e::files::scratch_dir;
use meshdrop_e2e::room::{assert_delivered, connected_and_named, join, welcomed};
use std::net::Ipv4Addr;

use meshdrop_e2e::{
    run_in, App, Browser, MitmServer, NetNs, RawClient, Recipient, RecordingProxy, Result,
    ServesApp, SignalingServer, TestFile, TransferButton,
};
use meshdrop_protocol::signaling::Signal;
use meshdrop_verify::{Pairing, PairingCode};
use serde_json::{json, Value};

#[test]
fn an_honest_server_gives_both_pages_the_same_safety_number() -> Result<()> {
    let ns = NetNs::create()?;
    run_in(&ns, async {
        let server = SignalingServer::start().await?;
        let peers = connected_and_named(join(&server, "honest", &["alice", "bob"]).await?).await?;
        let ((alice, alice_id), (bob, bob_id)) = (&peers[0], &peers[1]);
        let seen_by_alice = alice.wait_for_safety_number(bob_id).await?;
        let seen_by_bob = bob.wait_for_safety_number(alice_id).await?;
        assert_eq!(seen_by_alice, seen_by_bob);
        assert_eq!(seen_by_alice.split(", ").count(), 7, "{seen_by_alice}");
        for (app, peer) in [(alice, bob_id), (bob, alice_id)] {
            let shown = app.verification().await?;
            assert_eq!(shown.peer(peer).unwrap().trust, "unverified", "{shown:#?}");
        }
        Ok(())
    })
}

#[test]
fn a_device_marked_verified_stays_verified_and_its_name_on_another_device_is_a_warning(
) -> Result<()> {
    let ns = NetNs::create()?;
    run_in(&ns, async {
        let server = SignalingServer::start().await?;
        let peers =
            connected_and_named(join(&server, "remember", &["alice", "bob"]).await?).await?;
        let ((alice, alice_id), (bob, bob_id)) = (&peers[0], &peers[1]);
        alice.wait_for_safety_number(bob_id).await?;
        alice.mark_verified(bob_id).await?;

        for app in [alice, bob] {
            app.reload().await?;
        }
        alice.wait_for_peers(&[bob_id], "connected").await?;
        let bob_now = alice.wait_for_trust(bob_id, "verified").await?;
        assert!(!bob_now.fingerprint.is_empty(), "{bob_now:#?}");
        // Verification is this side's decision: Bob has not verified Alice.
        bob.wait_for_trust(alice_id, "unverified").await?;

        // Another browser calls itself Bob.
        let (carol, carol_id) =
            welcomed(open(&server.room_url("remember"), "carol").await?).await?;
        carol.set_name("bob").await?;
        alice.wait_for_peer_name(&carol_id, "bob").await?;
        let impostor = alice.wait_for_trust(&carol_id, "name-of-verified").await?;
        assert_ne!(impostor.fingerprint, bob_now.fingerprint);
        // The real Bob is still verified.
        alice.wait_for_trust(bob_id, "verified").await?;
        Ok(())
    })
}

#[test]
fn pairing_by_code_finds_the_other_device_verifies_it_and_a_file_goes_through() -> Result<()> {
    let ns = NetNs::create()?;
    run_in(&ns, async {
        let server = SignalingServer::start().await?;
        let proxy = RecordingProxy::start(&server).await?;
        // Two rooms: the code is what brings them together.
        let alice = open(&proxy.room_url("alices-room"), "alice").await?;
        let bob = open(&proxy.room_url("bobs-room"), "bob").await?;
        let code = alice.show_pairing_code().await?;
        let shown = alice.verification().await?;
        assert!(
            shown.code_link.ends_with(&format!("/#code={code}")),
            "{shown:#?}"
        );
        bob.enter_pairing_code(&code).await?;
        alice.wait_for_pairing("paired").await?;
        let bob_sees = bob.wait_for_pairing("paired").await?;
        let (alice, bob) = (welcomed(alice).await?, welcomed(bob).await?);
        alice.0.wait_for_peers(&[&bob.1], "connected").await?;
        bob.0.wait_for_peers(&[&alice.1], "connected").await?;
        // Bob saw Alice's own certificate.
        let alice_fingerprint = &bob_sees.peer(&alice.1).unwrap().fingerprint;
        assert_eq!(
            alice_fingerprint,
            &alice.0.verification().await?.device_fingerprint
        );

        server_learnt_nothing_of(&code, &proxy.received());

        alice.0.remember_paired_device().await?;
        alice.0.wait_for_trust(&bob.1, "verified").await?;

        let dir = scratch_dir()?;
        let file = TestFile::random(dir.path(), "paired.bin", 3 << 20)?;
        alice
            .0
            .send_files(Recipient::Peer(&bob.1), &[&file])
            .await?;
        let offered = bob.0.wait_for_offer(&alice.1, &[&file]).await?;
        bob.0
            .click_transfer_button(&alice.1, &offered.id, TransferButton::Accept)
            .await?;
        assert_delivered(&alice, &bob, &offered.id, &[&file]).await?;

        // Bob remembers Alice too; files from her may then come in without asking, once
        // he says so (it is off until then).
        bob.0.remember_paired_device().await?;
        bob.0.wait_for_trust(&alice.1, "verified").await?;
        assert!(
            !bob.0.set_auto_accept(true).await?,
            "auto-accept starts off"
        );
        let second = TestFile::random(dir.path(), "trusted.bin", 1 << 20)?;
        alice
            .0
            .send_files(Recipient::Peer(&bob.1), &[&second])
            .await?;
        let second_id = alice
            .0
            .wait_for("the second transfer", |seen| {
                seen.transfers
                    .iter()
                    .find(|entry| entry.peer == bob.1 && entry.id != offered.id)
                    .map(|entry| entry.id.clone())
            })
            .await?;
        assert_delivered(&alice, &bob, &second_id, &[&second]).await
    })
}

#[test]
fn a_wrong_code_fails_on_both_sides_with_a_clear_message() -> Result<()> {
    let ns = NetNs::create()?;
    run_in(&ns, async {
        let server = SignalingServer::start().await?;
        let alice = open(&server.room_url("a-room"), "alice").await?;
        let bob = open(&server.room_url("b-room"), "bob").await?;
        let code = alice.show_pairing_code().await?;
        let wrong = with_other_last_word(&code);
        bob.enter_pairing_code(&wrong).await?;
        both_refuse([&alice, &bob], "wrong code").await
    })
}

/// Someone who recorded a PAKE message for this very code (from an earlier pairing, or
/// from this one) joins the meeting place and plays it to the page, twice: the page
/// refuses, and says so.
#[test]
fn a_replayed_pake_message_is_refused() -> Result<()> {
    let ns = NetNs::create()?;
    run_in(&ns, async {
        let server = SignalingServer::start().await?;
        let alice = open(&server.room_url("a-room"), "alice").await?;
        let code: PairingCode = alice.show_pairing_code().await?.parse().unwrap();
        let Some(Signal::Pake { message }) = Pairing::start(&code, [7; 32]).poll_signal() else {
            unreachable!("a pairing starts with its PAKE message");
        };
        let url = server.websocket_url(Ipv4Addr::LOCALHOST);
        let place = code.meeting_place();
        let mut replayer = RawClient::join(&url, place.as_str(), "replayer", 0x5a).await;
        let welcome = replayer.next_of("welcome").await;
        let alice_id = welcome["peers"][0]["id"].as_str().unwrap().to_owned();
        let replay = json!({
            "type": "signal", "to": alice_id,
            "signal": { "kind": "pake", "message": message },
        });
        for _ in 0..2 {
            replayer.send(&replay.to_string()).await;
        }
        let failed = alice.wait_for_pairing("failed").await?;
        assert!(failed.error.contains("replayed"), "{failed:#?}");
        Ok(())
    })
}

#[test]
fn a_mistyped_code_is_refused_before_the_page_goes_anywhere() -> Result<()> {
    let ns = NetNs::create()?;
    run_in(&ns, async {
        let server = SignalingServer::start().await?;
        let bob = open(&server.room_url("stay"), "bob").await?;
        bob.self_id().await?;
        bob.enter_pairing_code("4172-pupil-bravx").await?;
        let refused = bob
            .wait_for_verification("why the code is refused", |seen| {
                (!seen.error.is_empty()).then(|| seen.clone())
            })
            .await?;
        assert!(refused.error.contains("\"bravx\""), "{refused:#?}");
        assert_eq!(refused.pairing, "", "no pairing started: {refused:#?}");
        assert_eq!(bob.wait_for_room_kind("private").await?, "stay");
        Ok(())
    })
}

#[test]
fn through_a_man_in_the_middle_the_pages_show_different_safety_numbers() -> Result<()> {
    let ns = NetNs::create()?;
    run_in(&ns, async {
        let mitm = MitmServer::start().await?;
        let peers = connected_and_named(join(&mitm, "middle", &["alice", "bob"]).await?).await?;
        let ((alice, alice_id), (bob, bob_id)) = (&peers[0], &peers[1]);
        let seen_by_alice = alice.wait_for_safety_number(bob_id).await?;
        let seen_by_bob = bob.wait_for_safety_number(alice_id).await?;
        assert_ne!(
            seen_by_alice, seen_by_bob,
            "the two numbers tell the people"
        );
        // Each page saw the man in the middle's certificate as the other's.
        for (app, me, other) in [(alice, alice_id, bob_id), (bob, bob_id, alice_id)] {
            let shown = app.verification().await?;
            let mitm_shown = mitm.fingerprints();
            let theirs = mitm_shown.iter().find(|shown| &shown.client == me).unwrap();
            assert_eq!(shown.peer(other).unwrap().fingerprint, theirs.fingerprint);
        }
        Ok(())
    })
}

#[test]
fn paired_by_code_through_a_man_in_the_middle_both_pages_refuse_the_connection() -> Result<()> {
    let ns = NetNs::create()?;
    run_in(&ns, async {
        let mitm = MitmServer::start().await?;
        let alice = open(&mitm.room_url("a-room"), "alice").await?;
        alice.show_pairing_code().await?;
        // Bob scans the QR code: the man in the middle terminates their first connection
        // (it builds no second one, which a page moving to the meeting place would need).
        let link = alice.verification().await?.code_link;
        let bob = open(&link, "bob").await?;
        both_refuse([&alice, &bob], "not authentic").await?;
        // The confirmations did go through it, and nothing else did.
        let relayed = mitm.relayed_control();
        let kinds: Vec<String> = relayed
            .iter()
            .filter_map(|message| serde_json::from_str::<Value>(message).ok())
            .filter_map(|frame| frame["type"].as_str().map(str::to_owned))
            .collect();
        assert_eq!(
            kinds.iter().filter(|kind| *kind == "pair_confirm").count(),
            2,
            "{relayed:#?}"
        );
        for kind in &kinds {
            assert!(
                ["pair_confirm", "safety_commit", "safety_reveal"].contains(&kind.as_str()),
                "nothing but verification crossed before the pairing: {relayed:#?}"
            );
        }
        Ok(())
    })
}

/// Everything the server received while two devices paired with `code`: never the
/// code's words, nor anything that would let it test guesses offline. What pairing sent
/// it is the meeting place (the code's public number) and one SPAKE2 message per side,
/// random each time: both sides had the same code and still sent different ones.
fn server_learnt_nothing_of(code: &str, received: &[String]) {
    let (number, words) = code.split_once('-').unwrap();
    let words: Vec<&str> = words.split('-').collect();
    for frame in received {
        let lower = frame.to_lowercase();
        // The words one after the other, in any spelling ("pupil-brave", "pupil brave"):
        // either word alone may be a word of the protocol ("offer", "kind", "signal").
        let tokens: Vec<&str> = lower
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|token| !token.is_empty())
            .collect();
        assert!(
            !tokens.windows(2).any(|pair| pair == words.as_slice()),
            "{words:?} reached the server: {frame}"
        );
        assert!(
            !lower.contains("confirm") && !lower.contains("mac"),
            "{frame}"
        );
    }
    let frames: Vec<Value> = received
        .iter()
        .map(|frame| serde_json::from_str(frame).expect("the app sends JSON"))
        .collect();
    let place = format!("_pair-{number}");
    let joined_place = frames
        .iter()
        .filter(|frame| frame["type"] == "join" && frame["room"] == place.as_str())
        .count();
    assert!(joined_place >= 2, "both joined {place}: {received:#?}");
    let pake: Vec<&str> = frames
        .iter()
        .filter(|frame| frame["signal"]["kind"] == "pake")
        .map(|frame| frame["signal"]["message"].as_str().unwrap())
        .collect();
    assert_eq!(pake.len(), 2, "one PAKE message each: {received:#?}");
    assert_ne!(pake[0], pake[1]);
    for message in pake {
        assert_eq!(message.len(), 2 * 33, "a SPAKE2 message: {message}");
    }
}

/// Opens the app at `url` in a browser of its own.
async fn open(url: &str, label: &str) -> Result<App> {
    App::open(Browser::launch().await?, url, label).await
}

/// Waits until both pages say the pairing failed, with `says` in the reason, and let
/// nothing from the other side in: the pairing is over.
async fn both_refuse(pages: [&App; 2], says: &str) -> Result<()> {
    for app in pages {
        let failed = app.wait_for_pairing("failed").await?;
        assert!(
            failed.error.contains(says),
            "{} says {says:?}: {failed:#?}",
            app.label()
        );
        assert!(
            failed.peers.iter().all(|peer| peer.state != "connected"),
            "{failed:#?}"
        );
    }
    Ok(())
}

/// `code` with its last word replaced by another word of the list.
fn with_other_last_word(code: &str) -> String {
    let (rest, last) = code.rsplit_once('-').expect("a code has words");
    let other = if last == "zoo" { "abandon" } else { "zoo" };
    format!("{rest}-{other}")
}
