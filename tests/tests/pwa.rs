//! The installed app: it opens without the server (service worker), tells a person who
//! looks elsewhere about offers and chat (notifications, title count), and takes files
//! shared to it from the system's share sheet. Real Chromium, the built app.

use meshdrop_e2e::files::scratch_dir;
use meshdrop_e2e::permissions::grant;
use meshdrop_e2e::room::{connected_and_named, everyone_connected, join};
use meshdrop_e2e::{
    run_in, App, Browser, NetNs, Recipient, Result, ServesApp, SignalingServer, TestFile,
    TransferButton,
};

#[test]
fn a_reload_without_the_server_is_served_by_the_service_worker() -> Result<()> {
    let ns = NetNs::create()?;
    run_in(&ns, async {
        let server = SignalingServer::start().await?;
        let url = server.room_url("offline");
        let app = App::open(Browser::launch().await?, &url, "alice").await?;
        app.wait_for_connection("connected").await?;
        app.wait_until_offline_ready().await?;

        server.stop().await?;
        app.browser().client().refresh().await?;
        // Nothing listens any more: only the service worker can have served the page.
        let shown = app
            .wait_for("the app rendered, not connected", |s| {
                s.connection.clone().filter(|state| state != "connected")
            })
            .await?;
        println!("offline reload shows the connection as {shown:?}");
        assert_eq!(app.room_link().await?, url);
        Ok(())
    })
}

#[test]
fn a_hidden_page_is_notified_of_chat_and_offers_and_counts_them_in_its_title() -> Result<()> {
    let ns = NetNs::create()?;
    run_in(&ns, async {
        let server = SignalingServer::start().await?;
        let peers = connected_and_named(join(&server, "notify", &["alice", "bob"]).await?).await?;
        let ((alice, _), (bob, bob_id)) = (&peers[0], &peers[1]);
        grant(alice.browser(), "notifications").await?;
        alice.turn_notifications_on().await?;
        alice.wait_until_offline_ready().await?;

        alice.cover_with_another_tab().await?;
        bob.send_chat("are you there?").await?;
        let chat = alice
            .wait_for_notification("bob's chat line", |n| n.tag == "chat")
            .await?;
        assert_eq!(
            (chat.title.as_str(), chat.body.as_str()),
            ("bob", "are you there?")
        );
        alice.wait_for_title("(1) Meshdrop").await?;

        let dir = scratch_dir()?;
        let file = TestFile::random(dir.path(), "for-alice.bin", 2048)?;
        bob.send_files(Recipient::Peer(&peers[0].1), &[&file])
            .await?;
        let offer = alice
            .wait_for_notification("bob's offer", |n| n.tag == "offer")
            .await?;
        assert_eq!(offer.title, "bob wants to send you files");
        assert_eq!(offer.body, "for-alice.bin");
        alice.wait_for_title("(2) Meshdrop").await?;
        alice.wait_for_offer(bob_id, &[&file]).await?;

        alice.bring_to_front().await?;
        alice.wait_for_title("Meshdrop").await?;
        Ok(())
    })
}

#[test]
fn files_shared_to_the_app_are_ready_to_send_to_a_peer() -> Result<()> {
    let ns = NetNs::create()?;
    run_in(&ns, async {
        let server = SignalingServer::start().await?;
        let peers = join(&server, "share-sheet", &["alice", "bob"]).await?;
        everyone_connected(&peers).await?;
        let ((alice, alice_id), (bob, bob_id)) = (&peers[0], &peers[1]);
        alice.wait_until_offline_ready().await?;

        let dir = scratch_dir()?;
        let file = TestFile::random(dir.path(), "from-the-share-sheet.bin", 4096)?;
        alice.share_to_app(&[&file]).await?;
        // The share sheet opens the app at its start URL, outside this room.
        alice.wait_for_shared_files(&[file.name()]).await?;
        alice
            .browser()
            .goto(&server.room_url("share-sheet"))
            .await?;
        // A new page load in the same tab keeps its peer id (the session key is kept in
        // `sessionStorage`), and links up with bob again.
        alice.wait_for_peers(&[bob_id], "connected").await?;
        assert_eq!(
            alice.snapshot().await?.self_id,
            *alice_id,
            "the same peer id"
        );
        alice.send_shared_files_to(bob_id).await?;

        let offered = bob.wait_for_offer(alice_id, &[&file]).await?;
        bob.click_transfer_button(alice_id, &offered.id, TransferButton::Accept)
            .await?;
        bob.wait_for_transfer(alice_id, &offered.id, "done").await?;
        let received = bob.received_files(alice_id, &offered.id).await?;
        assert_eq!(received.len(), 1);
        assert_eq!(received[0].sha256, file.sha256()?);
        Ok(())
    })
}
