//! `meshdrop` against the web app in headless Chromium: files both ways and chat, through
//! the app's UI contract (the `meshdrop-e2e` page object). Needs root, `ip`,
//! chromedriver, Chromium and the built web app in `dist/` (`cargo xtask test` provides
//! them).

mod common;

use std::time::{Duration, Instant};

use common::{after, open_app, peer_id, sha256_of, signaling_url, Meshdrop};
use meshdrop_e2e::app::TransferEntry;
use meshdrop_e2e::files::scratch_dir;
use meshdrop_e2e::{
    run_in, App, Browser, NetNs, Recipient, Result, ServesApp, SignalingServer, TestFile,
    TransferButton, TwoHosts, HOST_A,
};

const MIB: u64 = 1 << 20;

#[test]
fn a_file_goes_from_the_browser_to_meshdrop() -> Result<()> {
    let work = scratch_dir()?;
    let file = TestFile::random(work.path(), "from-browser.bin", 8 * MIB)?;
    let inbox = work.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();

    let ns = NetNs::create()?;
    run_in(&ns, async {
        let server = SignalingServer::start().await?;
        let alice = open_app(&server, "web", "alice").await?;
        let dir = inbox.to_str().unwrap();
        let mut bob = Meshdrop::start(
            &signaling_url(&server),
            "bob",
            &["receive", "--room", "web", "--yes", "--dir", dir],
        );
        let bob_id = peer_id(&bob.expect_status("joined room web").await);
        alice.wait_for_peers(&[&bob_id], "connected").await?;

        alice.send_files(Recipient::Peer(&bob_id), &[&file]).await?;
        assert_eq!(bob.exit_code().await, 0, "receiver");
        let sent = outgoing_transfer(&alice, &bob_id).await?;
        alice.wait_for_transfer(&bob_id, &sent.id, "done").await?;
        server.stop().await
    })?;

    assert_eq!(sha256_of(&inbox.join(file.name())), file.sha256()?);
    Ok(())
}

/// The page on host a sends 64 MiB to `meshdrop receive` on host b, and the wire between
/// them is cut for 12 s at about 40 %: long enough for the link to go down and be
/// ICE-restarted. The transfer goes on and the file arrives whole.
#[test]
fn a_file_from_the_browser_to_meshdrop_survives_a_wire_cut() -> Result<()> {
    let work = scratch_dir()?;
    let file = TestFile::random(work.path(), "across-the-cut.bin", 64 * MIB)?;
    let inbox = work.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();

    let hosts = TwoHosts::create()?;
    run_in(&hosts.a, async {
        let server = SignalingServer::start().await?;
        let alice = open_app(&server, "cut", "alice").await?;
        let url = format!("ws://{}/ws", server.address(HOST_A));
        let dir = inbox.to_str().unwrap();
        let mut bob = Meshdrop::start_in(
            &hosts.b,
            &url,
            "bob",
            &["receive", "--room", "cut", "--yes", "--dir", dir],
        );
        let bob_id = peer_id(&bob.expect_status("joined room cut").await);
        alice.wait_for_peers(&[&bob_id], "connected").await?;

        alice.send_files(Recipient::Peer(&bob_id), &[&file]).await?;
        let sent = outgoing_transfer(&alice, &bob_id).await?;
        alice
            .wait_for_transfer_where(&bob_id, &sent.id, "at 40%", |entry| {
                entry.percent().is_some_and(|percent| percent >= 40)
            })
            .await?;
        hosts.set_wire(false)?;
        let cut = Instant::now();
        alice.wait_for_transfer(&bob_id, &sent.id, "paused").await?;
        println!("the page showed it paused {:?} into the cut", cut.elapsed());
        tokio::time::sleep(Duration::from_secs(12).saturating_sub(cut.elapsed())).await;
        hosts.set_wire(true)?;
        let mended = Instant::now();
        alice.wait_for_transfer(&bob_id, &sent.id, "done").await?;
        assert_eq!(bob.exit_code().await, 0, "receiver");
        println!("done {:?} after the mend", mended.elapsed());
        server.stop().await
    })?;

    assert_eq!(sha256_of(&inbox.join(file.name())), file.sha256()?);
    Ok(())
}

#[test]
fn a_file_goes_from_meshdrop_to_the_browser() -> Result<()> {
    let work = scratch_dir()?;
    let file = TestFile::random(work.path(), "from-terminal.bin", 8 * MIB)?;

    let ns = NetNs::create()?;
    run_in(&ns, async {
        let server = SignalingServer::start().await?;
        let alice = open_app(&server, "web", "alice").await?;
        let path = file.path().to_str().unwrap();
        let mut bob = Meshdrop::start(
            &signaling_url(&server),
            "bob",
            &["send", path, "--room", "web", "--to", "alice"],
        );
        let bob_id = peer_id(&bob.expect_status("joined room web").await);
        alice.wait_for_peer_name(&bob_id, "bob").await?;

        let offer = alice.wait_for_offer(&bob_id, &[&file]).await?;
        alice
            .click_transfer_button(&bob_id, &offer.id, TransferButton::Accept)
            .await?;
        assert_eq!(bob.exit_code().await, 0, "sender");
        let received = alice.received_once_saved(&bob_id, &offer.id).await?;
        assert_eq!(received.len(), 1);
        assert_eq!(received[0].name, file.name());
        assert_eq!(received[0].sha256, file.sha256()?);
        server.stop().await
    })
}

#[test]
fn chat_goes_both_ways_between_meshdrop_and_the_browser() -> Result<()> {
    let ns = NetNs::create()?;
    run_in(&ns, async {
        let server = SignalingServer::start().await?;
        let alice = open_app(&server, "chat", "alice").await?;
        let mut bob = Meshdrop::start(&signaling_url(&server), "bob", &["chat", "--room", "chat"]);
        let bob_id = peer_id(&bob.expect_status("joined room chat").await);
        alice.wait_for_peers(&[&bob_id], "connected").await?;
        bob.expect_status("connected to alice").await;
        // Both say how they reach each other, each from its own stack's selected pair.
        bob.expect_status("path to alice: same-network").await;
        alice.wait_for_path(&bob_id, "same-network").await?;

        alice.send_chat("hello from the browser").await?;
        bob.expect_output(|line| line.ends_with("] alice: hello from the browser"))
            .await;

        bob.type_line("hello from the terminal").await;
        alice
            .wait_for_chat(&bob_id, "hello from the terminal")
            .await?;

        bob.close_stdin();
        assert_eq!(bob.exit_code().await, 0);
        server.stop().await
    })
}

/// Each side's connection sees the other's device as the one it says it is: the page's
/// tile shows the fingerprint `meshdrop` printed for itself, and `meshdrop` shows the
/// page's own.
#[test]
fn meshdrop_and_the_browser_see_each_others_device_fingerprint() -> Result<()> {
    let ns = NetNs::create()?;
    run_in(&ns, async {
        let server = SignalingServer::start().await?;
        let alice = open_app(&server, "identity", "alice").await?;
        let mut bob = Meshdrop::start(
            &signaling_url(&server),
            "bob",
            &["chat", "--room", "identity"],
        );
        let printed = bob.expect_status("This device: ").await;
        let bob_device = printed.trim_start_matches("This device: ");
        let bob_id = peer_id(&bob.expect_status("joined room identity").await);
        assert_eq!(alice.peer_fingerprint(&bob_id).await?, bob_device);

        let alice_device = alice.device_fingerprint().await?;
        let connected = bob.expect_status("connected to alice").await;
        assert!(
            connected.contains(&format!("(device {alice_device})")),
            "meshdrop sees alice's device {alice_device}: {connected:?}"
        );

        bob.close_stdin();
        assert_eq!(bob.exit_code().await, 0);
        server.stop().await
    })
}

/// The page shows a pairing code, `meshdrop receive --code` types it: both end paired,
/// with the same safety number, and a file goes through with its digest equal.
#[test]
fn meshdrop_pairs_with_the_code_the_browser_shows() -> Result<()> {
    let work = scratch_dir()?;
    let file = TestFile::random(work.path(), "paired.bin", 2 * MIB)?;
    let inbox = work.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();

    let ns = NetNs::create()?;
    run_in(&ns, async {
        let server = SignalingServer::start().await?;
        let alice = App::open(Browser::launch().await?, &server.room_url("home"), "alice").await?;
        let code = alice.show_pairing_code().await?;
        let dir = inbox.to_str().unwrap();
        let mut bob = Meshdrop::start(
            &signaling_url(&server),
            "bob",
            &["receive", "--code", &code, "--yes", "--dir", dir],
        );
        let bob_device =
            after(&bob.expect_status("This device: ").await, "This device: ").to_owned();
        let bob_id = peer_id(&bob.expect_status("joined room _pair-").await);
        let paired = alice.wait_for_pairing("paired").await?;
        assert_eq!(
            paired.peer(&bob_id).map(|p| p.fingerprint.as_str()),
            Some(bob_device.as_str())
        );
        let alice_device = alice.device_fingerprint().await?;
        let lines = bob
            .expect_statuses(&["paired with ", "safety number with "])
            .await;
        assert!(
            lines[0].ends_with(&format!("(device {alice_device})")),
            "{lines:?}"
        );
        // "🐶 dog · 🔑 key · …" on the terminal, "dog, key, …" on the page.
        let words: Vec<&str> = after(&lines[1], ": ")
            .split(" · ")
            .map(|symbol| symbol.split_once(' ').unwrap().1)
            .collect();
        let shown = alice.wait_for_safety_number(&bob_id).await?;
        assert_eq!(shown.split(',').map(str::trim).collect::<Vec<_>>(), words);

        alice.wait_for_peers(&[&bob_id], "connected").await?;
        alice.send_files(Recipient::Peer(&bob_id), &[&file]).await?;
        assert_eq!(bob.exit_code().await, 0, "receiver");
        server.stop().await
    })?;

    assert_eq!(sha256_of(&inbox.join(file.name())), file.sha256()?);
    Ok(())
}

/// The transfer `app` started towards `peer`.
async fn outgoing_transfer(app: &App, peer: &str) -> Result<TransferEntry> {
    app.wait_for(&format!("a transfer to {peer}"), |s| {
        s.transfers
            .iter()
            .find(|entry| entry.peer == peer && entry.direction == "outgoing")
            .cloned()
    })
    .await
}
