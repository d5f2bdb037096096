//! The page as people use it beyond the buttons: files dropped anywhere or pasted, text
//! pasted, finished transfers cleared, and a name that survives a reload.
//!
//! Needs the web app in `dist/` (`cargo xtask test` builds it first).

use meshdrop_e2e::app::UI_TIMEOUT;
use meshdrop_e2e::files::scratch_dir;
use meshdrop_e2e::room::{connected_and_named, everyone_connected, join, Peer};
use meshdrop_e2e::wait::{self, Probe};
use meshdrop_e2e::{run_in, App, NetNs, Result, SignalingServer, TestFile, TransferButton};

#[test]
fn dropped_or_pasted_files_go_to_the_only_device_or_to_the_one_picked() -> Result<()> {
    let ns = NetNs::create()?;
    run_in(&ns, async {
        let server = SignalingServer::start().await?;
        let mut peers =
            connected_and_named(join(&server, "gestures", &["alice", "bob"]).await?).await?;
        let dir = scratch_dir()?;

        // One other device: a drop anywhere goes straight to it.
        let dropped = TestFile::random(dir.path(), "dropped.txt", 300)?;
        peers[0].0.drop_files("#transfers", &[&dropped]).await?;
        let offer = peers[1].0.wait_for_offer(&peers[0].1, &[&dropped]).await?;
        receive_and_clear(&peers[1], &peers[0], &offer.id).await?;

        // Two: the page asks which, and only that one gets the offer.
        peers.extend(join(&server, "gestures", &["carol"]).await?);
        everyone_connected(&peers).await?;
        let (alice, bob, carol) = (&peers[0], &peers[1], &peers[2]);
        let pasted = TestFile::random(dir.path(), "pasted.bin", 500)?;
        alice.0.paste_files(&[&pasted]).await?;
        let mut offered = picker_choices(&alice.0).await?;
        offered.sort_unstable();
        let mut expected = vec![bob.1.clone(), carol.1.clone()];
        expected.sort_unstable();
        assert_eq!(
            offered, expected,
            "the picker offers every connected device"
        );
        alice.0.pick_recipient(&carol.1).await?;
        carol.0.wait_for_offer(&alice.1, &[&pasted]).await?;
        assert_eq!(alice.0.picker_choices().await?, None, "the picker closed");
        let bob_sees = bob.0.snapshot().await?;
        assert!(
            bob_sees.transfers.is_empty(),
            "bob, not picked, gets nothing: {:#?}",
            bob_sees.transfers
        );

        // Text pasted outside a field waits in the chat input; nothing is sent.
        alice.0.paste_text("a pasted note").await?;
        assert_eq!(alice.0.chat_draft().await?, "a pasted note");
        let chat = alice.0.snapshot().await?.chat;
        assert!(chat.is_empty(), "pasting sent nothing: {chat:#?}");
        Ok(())
    })
}

#[test]
fn the_random_name_is_kept_across_reloads() -> Result<()> {
    let ns = NetNs::create()?;
    run_in(&ns, async {
        let server = SignalingServer::start().await?;
        let peers = join(&server, "reload", &["alice"]).await?;
        let app = &peers[0].0;
        let first = app.display_name().await?;
        assert!(!first.is_empty(), "a name is made up at the first visit");
        app.reload().await?;
        app.self_id().await?;
        assert_eq!(
            app.display_name().await?,
            first,
            "the same name after a reload"
        );
        Ok(())
    })
}

/// `receiver` accepts transfer `id` from `sender`; once done, "Clear finished" removes it.
async fn receive_and_clear(receiver: &Peer, sender: &Peer, id: &str) -> Result<()> {
    receiver
        .0
        .click_transfer_button(&sender.1, id, TransferButton::Accept)
        .await?;
    receiver.0.wait_for_transfer(&sender.1, id, "done").await?;
    receiver.0.clear_finished().await?;
    receiver
        .0
        .wait_for("no transfers after clearing the finished ones", |s| {
            s.transfers.is_empty().then_some(())
        })
        .await
}

/// The picker's choices, once it is open.
async fn picker_choices(app: &App) -> Result<Vec<String>> {
    let what = format!("{} to open the recipient picker", app.label());
    wait::until(what, UI_TIMEOUT, || async {
        Ok(match app.picker_choices().await? {
            Some(choices) => Probe::Ready(choices),
            None => Probe::NotYet("closed".into()),
        })
    })
    .await
}
