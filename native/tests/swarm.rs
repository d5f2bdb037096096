//! Files sent to everyone go by a swarm between receivers, `meshdrop` processes and the
//! web app in headless Chromium: a real signaling server and real WebRTC, in a private
//! network namespace.

mod common;

use std::path::{Path, PathBuf};

use common::{
    in_private_network, listing, number_before, open_app, peer_id, sha256_of, signaling_url,
    Meshdrop,
};
use futures_util::future::try_join_all;
use meshdrop_e2e::app::TransferEntry;
use meshdrop_e2e::{
    run_in, App, NetNs, Recipient, Result, SignalingServer, TestFile, TransferButton,
};

const MIB: u64 = 1 << 20;

/// Receivers `names`, each with its download directory under `work`, each passing
/// `extra` arguments; started one after another so that each is connected to the
/// ones before.
async fn receivers(
    server: &str,
    room: &str,
    work: &Path,
    names: &[&str],
    extra: &[&[&str]],
) -> Vec<(Meshdrop, PathBuf)> {
    let mut started: Vec<(Meshdrop, PathBuf)> = Vec::new();
    for (at, name) in names.iter().enumerate() {
        let dir = work.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let mut args = vec![
            "receive",
            "--room",
            room,
            "--yes",
            "--dir",
            dir.to_str().unwrap(),
        ];
        args.extend_from_slice(extra.get(at).copied().unwrap_or_default());
        let mut receiver = Meshdrop::start(server, name, &args);
        receiver.expect_status(&format!("joined room {room}")).await;
        for (earlier, _) in &mut started {
            earlier.expect_status(&format!("connected to {name}")).await;
        }
        started.push((receiver, dir));
    }
    started
}

/// The bytes a receiver says came from peers other than the sender.
async fn from_peers(receiver: &mut Meshdrop) -> u64 {
    let line = receiver.expect_status("all blocks here:").await;
    number_before(&line, " bytes from peers")
}

#[test]
fn three_receivers_get_a_file_by_swarm_each_partly_from_the_others() {
    let work = tempfile::tempdir().unwrap();
    let file = TestFile::random(work.path(), "swarmed.bin", 48 * MIB + 5).unwrap();
    let digest = file.sha256().unwrap();
    let base = work.path();

    in_private_network(|server| async move {
        let mut receivers = receivers(&server, "swarm", base, &["bob", "carol", "dave"], &[]).await;
        let mut ann = Meshdrop::start(
            &server,
            "ann",
            &["send", file.path().to_str().unwrap(), "--room", "swarm"],
        );
        for (receiver, _) in &mut receivers {
            let from_peers = from_peers(receiver).await;
            println!("{from_peers} bytes from peers");
            assert!(from_peers > 0, "some blocks came from other receivers");
        }
        assert_eq!(ann.exit_code().await, 0, "sender");
        for (receiver, dir) in &mut receivers {
            assert_eq!(receiver.exit_code().await, 0, "receiver");
            assert_eq!(listing(dir), ["swarmed.bin"]);
            assert_eq!(sha256_of(&dir.join("swarmed.bin")), digest);
        }
    });
}

#[test]
fn a_receiver_serving_damaged_blocks_is_dropped_and_the_files_still_arrive() {
    let work = tempfile::tempdir().unwrap();
    let file = TestFile::random(work.path(), "checked.bin", 32 * MIB).unwrap();
    let digest = file.sha256().unwrap();
    let base = work.path();

    in_private_network(|server| async move {
        let extra: &[&[&str]] = &[&[], &["--corrupt-served"], &[]];
        let mut receivers =
            receivers(&server, "liar", base, &["bob", "carol", "dave"], extra).await;
        let mut ann = Meshdrop::start(
            &server,
            "ann",
            &["send", file.path().to_str().unwrap(), "--room", "liar"],
        );
        assert_eq!(ann.exit_code().await, 0, "sender");
        for (at, (receiver, dir)) in receivers.iter_mut().enumerate() {
            assert_eq!(receiver.exit_code().await, 0, "receiver");
            assert_eq!(sha256_of(&dir.join("checked.bin")), digest);
            let dropped = receiver.printed().contains("carol served block");
            // Carol checks what she receives; the others catch her damage, if she
            // served them anything (she holds a third of the blocks first).
            assert!(at == 1 || dropped, "{}", receiver.printed());
        }
    });
}

/// What ann sends to a [`MixedSwarm`]: a random file in a scratch directory, and dave's
/// inbox; the namespace the room runs in.
struct Sending {
    _work: tempfile::TempDir,
    file: TestFile,
    digest: String,
    inbox: PathBuf,
    ns: NetNs,
}

impl Sending {
    fn new(name: &str, size: u64) -> Self {
        let work = tempfile::tempdir().unwrap();
        let file = TestFile::random(work.path(), name, size).unwrap();
        let digest = file.sha256().unwrap();
        let inbox = work.path().join("inbox");
        std::fs::create_dir_all(&inbox).unwrap();
        Self {
            _work: work,
            file,
            digest,
            inbox,
            ns: NetNs::create().unwrap(),
        }
    }

    /// Pages `names` and dave in `room`, to whom ann sends the file.
    async fn to(&self, server: &SignalingServer, room: &str, names: &[&str]) -> Result<MixedSwarm> {
        MixedSwarm::start(server, room, names, &self.inbox, &self.file).await
    }

    /// Dave ends well, holding the file whole.
    async fn dave_has_it(&self, dave: &mut Meshdrop) {
        assert_eq!(dave.exit_code().await, 0, "dave");
        let saved = self.inbox.join(self.file.name());
        assert_eq!(sha256_of(&saved), self.digest);
    }
}

/// Waits until `pages` and `dave`, who just started, are all connected to each other;
/// returns their peer ids, dave's first.
async fn linked(pages: &[App], dave: &mut Meshdrop) -> Result<Vec<String>> {
    let mut ids = vec![peer_id(&dave.expect_status("joined room").await)];
    for page in pages {
        ids.push(page.self_id().await?);
    }
    for (at, page) in pages.iter().enumerate() {
        let mine = &ids[at + 1];
        let others: Vec<&str> = ids
            .iter()
            .filter(|id| *id != mine)
            .map(String::as_str)
            .collect();
        page.wait_for_peers(&others, "connected").await?;
    }
    Ok(ids)
}

/// A room of browsers and `dave` (`meshdrop receive` into `inbox`), all linked to each
/// other, to which `ann` (`meshdrop send`) offers `file`; the pages accept it together.
struct MixedSwarm {
    pages: Vec<App>,
    /// Each page's transfer from ann.
    offers: Vec<TransferEntry>,
    dave: Meshdrop,
    ann: Meshdrop,
    ann_id: String,
}

impl MixedSwarm {
    async fn start(
        server: &SignalingServer,
        room: &str,
        names: &[&str],
        inbox: &Path,
        file: &TestFile,
    ) -> Result<Self> {
        let mut pages = Vec::new();
        for name in names {
            pages.push(open_app(server, room, name).await?);
        }
        let url = signaling_url(server);
        let dir = inbox.to_str().unwrap();
        let args = ["receive", "--room", room, "--yes", "--dir", dir];
        let mut dave = Meshdrop::start(&url, "dave", &args);
        linked(&pages, &mut dave).await?;
        let path = file.path().to_str().unwrap();
        let mut ann = Meshdrop::start(&url, "ann", &["send", path, "--room", room]);
        let ann_id = peer_id(&ann.expect_status("joined room").await);
        let offered = [file];
        let offers = try_join_all(
            pages
                .iter()
                .map(|page| page.wait_for_offer(&ann_id, &offered)),
        )
        .await?;
        // All at once, so that no receiver has everything before the others take part.
        try_join_all(pages.iter().zip(&offers).map(|(page, offer)| {
            page.click_transfer_button(&ann_id, &offer.id, TransferButton::Accept)
        }))
        .await?;
        Ok(Self {
            pages,
            offers,
            dave,
            ann,
            ann_id,
        })
    }

    /// Waits until page `at` holds half the file or more; returns its transfer then.
    async fn half_way(&self, at: usize) -> Result<TransferEntry> {
        let (page, offer) = (&self.pages[at], &self.offers[at]);
        page.wait_for_transfer_where(&self.ann_id, &offer.id, "half way", |entry| {
            entry.percent().is_some_and(|percent| percent >= 50)
        })
        .await
    }

    /// Page `at` holds the file whole (`digest`); returns its transfer as it ended.
    async fn page_received(&self, at: usize, digest: &str) -> Result<TransferEntry> {
        let (page, offer) = (&self.pages[at], &self.offers[at]);
        let received = page.received_once_saved(&self.ann_id, &offer.id).await?;
        assert_eq!(received.len(), 1);
        assert_eq!(received[0].sha256, digest, "{}", page.label());
        let entry = page
            .wait_for_transfer(&self.ann_id, &offer.id, "done")
            .await?;
        println!(
            "{}: {:?} bytes from peers ({})",
            page.label(),
            entry.from_peers,
            entry.swarm
        );
        Ok(entry)
    }
}

#[test]
fn three_browsers_and_a_native_receiver_get_a_file_by_swarm() {
    let sending = Sending::new("to-everyone.bin", 48 * MIB + 3);
    run_in(&sending.ns, async {
        let server = SignalingServer::start().await?;
        let names = ["alice", "bea", "cleo"];
        let mut room = sending.to(&server, "swarm", &names).await?;
        let line = room.dave.expect_status("all blocks here:").await;
        let dave_from_peers = number_before(&line, " bytes from peers");
        assert!(dave_from_peers > 0, "dave: {line}");
        for at in 0..names.len() {
            let entry = room.page_received(at, &sending.digest).await?;
            let from_peers = entry.from_peers.expect("received in the swarm");
            assert!(from_peers > 0, "{entry:?}");
        }
        assert_eq!(room.ann.exit_code().await, 0, "sender");
        sending.dave_has_it(&mut room.dave).await;
        server.stop().await
    })
    .unwrap();
}

/// Alice's page goes away at about half of the file: the others finish without her.
#[test]
fn a_receiver_leaving_halfway_does_not_stall_the_others() {
    let sending = Sending::new("halfway.bin", 64 * MIB);
    run_in(&sending.ns, async {
        let server = SignalingServer::start().await?;
        let mut room = sending.to(&server, "leaving", &["alice", "bea"]).await?;
        let half = room.half_way(0).await?;
        room.pages[0].browser().goto("about:blank").await?;
        println!("alice left at {:?}%", half.percent());

        room.page_received(1, &sending.digest).await?;
        sending.dave_has_it(&mut room.dave).await;
        room.ann.kill().await;
        server.stop().await
    })
    .unwrap();
}

/// Alice cancels at about half of the file and stays in the room: she takes no more part
/// (nothing more arrives for her), and the others finish.
#[test]
fn a_receiver_cancelling_halfway_takes_no_more_part() {
    let sending = Sending::new("cancelled.bin", 64 * MIB);
    run_in(&sending.ns, async {
        let server = SignalingServer::start().await?;
        let mut room = sending.to(&server, "cancel", &["alice", "bea"]).await?;
        room.half_way(0).await?;
        let (alice, offer) = (&room.pages[0], &room.offers[0]);
        alice
            .click_transfer_button(&room.ann_id, &offer.id, TransferButton::Cancel)
            .await?;
        alice
            .wait_for_transfer(&room.ann_id, &offer.id, "cancelled")
            .await?;

        room.page_received(1, &sending.digest).await?;
        sending.dave_has_it(&mut room.dave).await;
        // The others are done: nothing is on its way to alice, and she asks for nothing.
        let alice = &room.pages[0];
        let before = alice.snapshot().await?.bytes_received;
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        assert_eq!(alice.snapshot().await?.bytes_received, before);
        room.ann.kill().await;
        server.stop().await
    })
    .unwrap();
}

/// Ann (the sender) vanishes as soon as every block is with some receiver: the
/// receivers finish among themselves.
#[test]
fn the_sender_may_leave_once_every_block_is_with_a_receiver() {
    let sending = Sending::new("without-ann.bin", 48 * MIB);
    run_in(&sending.ns, async {
        let server = SignalingServer::start().await?;
        let mut room = sending.to(&server, "no-sender", &["alice", "bea"]).await?;
        let line = room
            .ann
            .expect_status("every block is with a receiver")
            .await;
        room.ann.kill().await;
        // "(W of R hold them all)": some receivers still lacked blocks when ann left.
        let whole = number_before(&line, " of ");
        let receivers = number_before(&line, " hold them all");
        assert!(whole < receivers, "{line}");

        for at in 0..2 {
            room.page_received(at, &sending.digest).await?;
        }
        sending.dave_has_it(&mut room.dave).await;
        server.stop().await
    })
    .unwrap();
}

/// Alice's page sends a file to everyone: bea's and cleo's pages and dave get it by a
/// swarm with alice its origin, each partly from the others.
#[test]
fn a_page_sends_to_everyone_by_swarm() {
    let sending = Sending::new("from-a-page.bin", 32 * MIB + 7);
    run_in(&sending.ns, async {
        let server = SignalingServer::start().await?;
        let mut pages = Vec::new();
        for name in ["alice", "bea", "cleo"] {
            pages.push(open_app(&server, "from-page", name).await?);
        }
        let dir = sending.inbox.to_str().unwrap();
        let args = ["receive", "--room", "from-page", "--yes", "--dir", dir];
        let mut dave = Meshdrop::start(&signaling_url(&server), "dave", &args);
        let ids = linked(&pages, &mut dave).await?;

        let (alice, receivers) = (&pages[0], &pages[1..]);
        let alice_id = &ids[1];
        alice
            .send_files(Recipient::Everyone, &[&sending.file])
            .await?;
        let offered = [&sending.file];
        let offers = try_join_all(
            receivers
                .iter()
                .map(|page| page.wait_for_offer(alice_id, &offered)),
        )
        .await?;
        try_join_all(receivers.iter().zip(&offers).map(|(page, offer)| {
            page.click_transfer_button(alice_id, &offer.id, TransferButton::Accept)
        }))
        .await?;

        let line = dave.expect_status("all blocks here:").await;
        assert!(
            number_before(&line, " bytes from peers") > 0,
            "dave: {line}"
        );
        for (page, offer) in receivers.iter().zip(&offers) {
            let received = page.received_once_saved(alice_id, &offer.id).await?;
            assert_eq!(received[0].sha256, sending.digest, "{}", page.label());
            let entry = page.wait_for_transfer(alice_id, &offer.id, "done").await?;
            println!("{}: {:?} bytes from peers", page.label(), entry.from_peers);
            assert!(entry.from_peers.is_some_and(|bytes| bytes > 0), "{entry:?}");
        }
        // Alice's own rows: each receiver's transfer ends done.
        let sent = alice.snapshot().await?.transfers;
        assert_eq!(sent.len(), 3, "{sent:#?}");
        for entry in &sent {
            alice
                .wait_for_transfer(&entry.peer, &entry.id, "done")
                .await?;
        }
        sending.dave_has_it(&mut dave).await;
        server.stop().await
    })
    .unwrap();
}
