//! `meshdrop` and the web app behind two symmetric NATs ([`NatNetwork`]), where only a
//! relay gets through: real coturn, or the signaling server's own relay, with credentials
//! from its `welcome`. Needs root, `ip`, `nft`, coturn, chromedriver, Chromium and the built web
//! app in `dist/` (`cargo xtask test` provides them).

mod common;

use std::time::Instant;

use common::{peer_id, sha256_of, Meshdrop};
use meshdrop_e2e::files::scratch_dir;
use meshdrop_e2e::room::open_on;
use meshdrop_e2e::{
    run_in, Coturn, Launch, NatKind, NatNetwork, Recipient, Result, ServesApp, SignalingServer,
    TestFile, TransferButton,
};

const MIB: u64 = 1 << 20;

/// The page sends a file to `meshdrop receive`, then `meshdrop send` sends one back, each
/// on a link relayed by coturn, as both sides say ([`both_ways`]).
#[test]
fn files_go_both_ways_between_the_browser_and_meshdrop_through_coturn() -> Result<()> {
    let network = NatNetwork::create(&[(NatKind::Symmetric, 1), (NatKind::Symmetric, 1)])?;
    run_in(&network.server, async {
        let coturn = Coturn::start(NatNetwork::SERVER).await?;
        let server = SignalingServer::start_with_turn(coturn.turn()).await?;
        both_ways(&network, &server).await?;
        server.stop().await
    })
}

/// The same through the signaling server's built-in relay.
#[test]
fn files_go_both_ways_between_the_browser_and_meshdrop_through_the_built_in_relay() -> Result<()> {
    let network = NatNetwork::create(&[(NatKind::Symmetric, 1), (NatKind::Symmetric, 1)])?;
    run_in(&network.server, async {
        let server = SignalingServer::start_with_relay(NatNetwork::SERVER).await?;
        both_ways(&network, &server).await?;
        server.stop().await
    })
}

/// Without a relay nothing gets through two symmetric NATs: `meshdrop` says so, as the
/// page does, and what would help.
#[test]
fn without_a_relay_meshdrop_says_there_is_no_path() -> Result<()> {
    let network = NatNetwork::create(&[(NatKind::Symmetric, 1), (NatKind::Symmetric, 1)])?;
    run_in(&network.server, async {
        let server = SignalingServer::start_with_stun().await?;
        let room = "blocked";
        let home = Launch::on(network.homes[0].remote(0));
        let (alice, _) = open_on(home, &server, NatNetwork::SERVER, Some(room), "alice").await?;
        alice.set_name("alice").await?;
        let mut bob = Meshdrop::start_in(
            &network.homes[1].hosts[0].ns,
            &server.websocket_url(NatNetwork::SERVER),
            "bob",
            &["chat", "--room", room],
        );
        let bob_id = peer_id(&bob.expect_status(&format!("joined room {room}")).await);
        let said = bob.expect_status("no path to alice: ").await;
        assert!(said.contains("this server has no relay"), "{said:?}");
        let entry = alice.wait_for_path(&bob_id, "none").await?;
        assert!(entry.path_note.contains("no relay"), "{entry:#?}");
        assert!(!bob.printed().contains("connected to alice"));
        bob.close_stdin();
        assert_eq!(bob.exit_code().await, 0);
        server.stop().await
    })
}

/// Between the two homes of `network`, through `server`'s relay: a file from the page to
/// `meshdrop receive`, then one from `meshdrop send` back; both sides say "relayed".
async fn both_ways(network: &NatNetwork, server: &SignalingServer) -> Result<()> {
    let work = scratch_dir()?;
    let file = TestFile::random(work.path(), "relayed-to-terminal.bin", 16 * MIB)?;
    let reply = TestFile::random(work.path(), "relayed-to-browser.bin", 16 * MIB)?;
    let inbox = work.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let room = "relayed";
    let home = Launch::on(network.homes[0].remote(0));
    let (alice, _) = open_on(home, server, NatNetwork::SERVER, Some(room), "alice").await?;
    alice.set_name("alice").await?;

    let start = Instant::now();
    let dir = inbox.to_str().unwrap();
    let mut bob = Meshdrop::start_in(
        &network.homes[1].hosts[0].ns,
        &server.websocket_url(NatNetwork::SERVER),
        "bob",
        &["receive", "--room", room, "--yes", "--dir", dir],
    );
    let bob_id = peer_id(&bob.expect_status(&format!("joined room {room}")).await);
    alice.wait_for_peers(&[&bob_id], "connected").await?;
    alice.wait_for_path(&bob_id, "relayed").await?;
    bob.expect_status("path to alice: relayed").await;
    println!("connected through the relay in {:?}", start.elapsed());

    let start = Instant::now();
    alice.send_files(Recipient::Peer(&bob_id), &[&file]).await?;
    assert_eq!(bob.exit_code().await, 0, "receiver: {}", bob.printed());
    println!("16 MiB received in {:?}", start.elapsed());

    let start = Instant::now();
    let path = reply.path().to_str().unwrap();
    let mut carol = Meshdrop::start_in(
        &network.homes[1].hosts[0].ns,
        &server.websocket_url(NatNetwork::SERVER),
        "carol",
        &["send", path, "--room", room, "--to", "alice"],
    );
    let carol_id = peer_id(&carol.expect_status(&format!("joined room {room}")).await);
    carol.expect_status("path to alice: relayed").await;
    let offer = alice.wait_for_offer(&carol_id, &[&reply]).await?;
    alice.wait_for_path(&carol_id, "relayed").await?;
    alice
        .click_transfer_button(&carol_id, &offer.id, TransferButton::Accept)
        .await?;
    assert_eq!(carol.exit_code().await, 0, "sender: {}", carol.printed());
    let received = alice.received_once_saved(&carol_id, &offer.id).await?;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].sha256, reply.sha256()?);
    println!("16 MiB sent back in {:?}", start.elapsed());
    assert_eq!(sha256_of(&inbox.join(file.name())), file.sha256()?);
    Ok(())
}
