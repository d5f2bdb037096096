//! File transfers, end to end: real Chromium browsers pick files from disk, offer them,
//! answer offers, cancel, and read back what they received to compare its SHA-256 with
//! the file on disk.
//!
//! Needs the web app in `dist/` (`cargo xtask test` builds it first).

use meshdrop_e2e::app::{INCOMING_FOLDER, UI_TIMEOUT};
use meshdrop_e2e::room::{assert_delivered, connected_and_named, join, join_across_with, Peer};
use meshdrop_e2e::wait::{self, Probe};
use meshdrop_e2e::{
    files::scratch_dir, run_in, Launch, NetNs, Recipient, Result, SignalingServer, TestFile,
    TransferButton, TwoHosts,
};
use tempfile::TempDir;

const MIB: u64 = 1 << 20;

#[test]
fn two_peers_send_each_other_files_at_the_same_time() -> Result<()> {
    let ns = NetNs::create()?;
    run_in(&ns, async {
        let server = SignalingServer::start().await?;
        let peers = named_mesh(&server, "exchange", &["alice", "bob"]).await?;
        let (alice, bob) = (&peers[0], &peers[1]);
        let dir = scratch_dir()?;
        let alices = three_files(&dir, "alice")?;
        let bobs = three_files(&dir, "bob")?;

        let to_bob = offer(alice, bob, &alices.each()).await?;
        let to_alice = offer(bob, alice, &bobs.each()).await?;
        for (receiver, sender, id) in [(bob, alice, &to_bob), (alice, bob, &to_alice)] {
            receiver
                .0
                .click_transfer_button(&sender.1, id, TransferButton::Accept)
                .await?;
        }
        // Both transfers now run at once, one each way.
        assert_delivered(alice, bob, &to_bob, &alices.each()).await?;
        assert_delivered(bob, alice, &to_alice, &bobs.each()).await
    })
}

/// The size floor for "big": 2 GiB must go through, streamed at both ends.
#[test]
fn a_2_gib_file_goes_through() -> Result<()> {
    const GIB: u64 = 1024 * MIB;
    let ns = NetNs::create()?;
    run_in(&ns, async {
        let server = SignalingServer::start().await?;
        let peers = named_mesh(&server, "big", &["alice", "bob"]).await?;
        let (alice, bob) = (&peers[0], &peers[1]);
        let dir = scratch_dir()?;
        let file = TestFile::random(dir.path(), "two-gib.bin", 2 * GIB)?;

        let id = offer(alice, bob, &[&file]).await?;
        bob.0
            .click_transfer_button(&alice.1, &id, TransferButton::Accept)
            .await?;
        bob.0.wait_for_transfer(&alice.1, &id, "done").await?;
        alice.0.wait_for_transfer(&bob.1, &id, "done").await?;
        // "done" means the receiver's digest of every byte that arrived matched the
        // sender's. The stored file is too big to hash whole in a page, so check its size
        // and slices from its start, middle and end against the file on disk.
        let offsets = [0, GIB - MIB / 2, 2 * GIB - MIB];
        bob.0
            .wait_for("a save link for the 2 GiB file", |s| {
                s.transfers
                    .iter()
                    .any(|entry| entry.peer == alice.1 && entry.id == id && !entry.saved.is_empty())
                    .then_some(())
            })
            .await?;
        let slices = bob
            .0
            .received_slices(&alice.1, &id, file.name(), &offsets, MIB)
            .await?;
        assert_eq!(slices.size, 2 * GIB as i64, "the saved file is whole");
        let expected: Vec<String> = offsets
            .iter()
            .map(|offset| file.slice_sha256(*offset, MIB))
            .collect::<Result<_>>()?;
        assert_eq!(
            slices.sha256s, expected,
            "the saved file's bytes are the sent ones"
        );
        Ok(())
    })
}

#[test]
fn a_declined_offer_shows_declined_on_both_sides() -> Result<()> {
    let ns = NetNs::create()?;
    run_in(&ns, async {
        let server = SignalingServer::start().await?;
        let peers = named_mesh(&server, "decline", &["alice", "bob"]).await?;
        let (alice, bob) = (&peers[0], &peers[1]);
        let dir = scratch_dir()?;
        let file = TestFile::random(dir.path(), "unwanted.txt", 1000)?;

        let id = offer(alice, bob, &[&file]).await?;
        bob.0
            .click_transfer_button(&alice.1, &id, TransferButton::Decline)
            .await?;
        for (app, other) in [(&bob.0, &alice.1), (&alice.0, &bob.1)] {
            let entry = app.wait_for_transfer(other, &id, "declined").await?;
            assert_eq!(entry.error, "Declined.", "{} says why", app.label());
            assert!(
                entry.buttons.is_empty() && entry.saved.is_empty(),
                "{} offers nothing more to do: {entry:#?}",
                app.label()
            );
        }
        Ok(())
    })
}

#[test]
fn the_sender_cancels_mid_way_and_the_next_transfer_succeeds() -> Result<()> {
    cancel_mid_way_then_send_again(Canceller::Sender)
}

#[test]
fn the_receiver_cancels_mid_way_and_the_next_transfer_succeeds() -> Result<()> {
    cancel_mid_way_then_send_again(Canceller::Receiver)
}

#[test]
fn sending_to_everyone_delivers_to_every_peer() -> Result<()> {
    let ns = NetNs::create()?;
    run_in(&ns, async {
        let server = SignalingServer::start().await?;
        let peers = named_mesh(&server, "everyone", &["alice", "bob", "carol"]).await?;
        let (alice, receivers) = (&peers[0], &peers[1..]);
        let dir = scratch_dir()?;
        let big = TestFile::random(dir.path(), "everyone.bin", 16 * MIB)?;
        let small = TestFile::random(dir.path(), "everyone.txt", 1)?;
        let files = [&big, &small];

        alice.0.send_files(Recipient::Everyone, &files).await?;
        let mut ids = Vec::new();
        for receiver in receivers {
            let offered = receiver.0.wait_for_offer(&alice.1, &files).await?;
            receiver
                .0
                .click_transfer_button(&alice.1, &offered.id, TransferButton::Accept)
                .await?;
            ids.push(offered.id);
        }
        for (receiver, id) in receivers.iter().zip(&ids) {
            assert_delivered(alice, receiver, id, &files).await?;
        }
        Ok(())
    })
}

/// Who clicks "Cancel" while the bytes flow.
#[derive(Debug, Clone, Copy)]
enum Canceller {
    Sender,
    Receiver,
}

/// Alice sends Bob a file big enough to still be running when one of them cancels it;
/// both must show it cancelled, Bob must keep nothing of it, and a second transfer over
/// the same connection must arrive intact.
fn cancel_mid_way_then_send_again(canceller: Canceller) -> Result<()> {
    let ns = NetNs::create()?;
    run_in(&ns, async {
        let server = SignalingServer::start().await?;
        let peers = named_mesh(&server, "cancel", &["alice", "bob"]).await?;
        let (alice, bob) = (&peers[0], &peers[1]);
        let dir = scratch_dir()?;
        // A gigabyte takes many seconds even on loopback; sparse, it costs no disk.
        let big = TestFile::sparse(dir.path(), "too-big.bin", 1024 * MIB)?;

        let id = offer(alice, bob, &[&big]).await?;
        bob.0
            .click_transfer_button(&alice.1, &id, TransferButton::Accept)
            .await?;
        let (cancelling, other) = match canceller {
            Canceller::Sender => (alice, bob),
            Canceller::Receiver => (bob, alice),
        };
        cancelling.0.wait_for_progress(&other.1, &id).await?;
        cancelling
            .0
            .click_transfer_button(&other.1, &id, TransferButton::Cancel)
            .await?;

        let mine = cancelling
            .0
            .wait_for_transfer(&other.1, &id, "cancelled")
            .await?;
        assert_eq!(mine.error, "You cancelled.");
        let theirs = other
            .0
            .wait_for_transfer(&cancelling.1, &id, "cancelled")
            .await?;
        assert_eq!(
            theirs.error,
            format!("Cancelled by {}.", cancelling.0.label()),
            "{} says who cancelled, once",
            other.0.label()
        );
        for entry in [&mine, &theirs] {
            assert!(
                entry.buttons.is_empty() && entry.saved.is_empty(),
                "a cancelled transfer offers nothing to do or save: {entry:#?}"
            );
        }

        let next = TestFile::random(dir.path(), "after-cancel.bin", 4 * MIB)?;
        let id = offer(alice, bob, &[&next]).await?;
        bob.0
            .click_transfer_button(&alice.1, &id, TransferButton::Accept)
            .await?;
        assert_delivered(alice, bob, &id, &[&next]).await
    })
}

/// A receiver whose page goes away mid-transfer (a new tab instead: a new peer) only
/// pauses the sender's transfer, which shows when it gives up, and can still be
/// cancelled; it does not fail at once.
#[test]
fn a_receiver_that_leaves_mid_transfer_pauses_the_sender_until_a_deadline() -> Result<()> {
    let ns = NetNs::create()?;
    run_in(&ns, async {
        let server = SignalingServer::start().await?;
        let peers = named_mesh(&server, "leave", &["alice", "bob"]).await?;
        let (alice, bob) = (&peers[0], &peers[1]);
        let dir = scratch_dir()?;
        let big = TestFile::sparse(dir.path(), "big.bin", 1024 * MIB)?;
        let id = offer(alice, bob, &[&big]).await?;
        bob.0
            .click_transfer_button(&alice.1, &id, TransferButton::Accept)
            .await?;
        alice.0.wait_for_progress(&bob.1, &id).await?;

        bob.0.reload_as_new_tab().await?;
        let paused = alice
            .0
            .wait_for_transfer_where(&bob.1, &id, "paused with a deadline", |entry| {
                entry.state == "paused" && entry.status.contains("gives up at")
            })
            .await?;
        assert!(
            paused
                .status
                .starts_with("Paused: reconnecting… bob left the room; gives up at "),
            "{paused:#?}"
        );
        assert_eq!(paused.buttons, ["cancel"], "{paused:#?}");
        alice
            .0
            .click_transfer_button(&bob.1, &id, TransferButton::Cancel)
            .await?;
        let cancelled = alice.0.wait_for_transfer(&bob.1, &id, "cancelled").await?;
        assert_eq!(cancelled.error, "You cancelled.");
        Ok(())
    })
}

/// A receiving page reloaded at about half of a file is the same peer (its session key
/// is kept in the tab), still holds what it verified, and goes on when the sender
/// offers the transfer again: done, digest equal, and no block it showed verified and
/// kept before the reload is asked for again; only what was in flight is sent twice.
#[test]
fn a_receiving_page_reloaded_at_half_resumes_without_the_verified_blocks() -> Result<()> {
    const SIZE: u64 = 128 * MIB;
    let ns = NetNs::create()?;
    run_in(&ns, async {
        let server = SignalingServer::start().await?;
        let peers = named_mesh(&server, "reload", &["alice", "bob"]).await?;
        let (alice, bob) = (&peers[0], &peers[1]);
        let dir = scratch_dir()?;
        let file = TestFile::random(dir.path(), "reloaded.bin", SIZE)?;
        let id = offer(alice, bob, &[&file]).await?;
        bob.0
            .click_transfer_button(&alice.1, &id, TransferButton::Accept)
            .await?;
        let half = alice
            .0
            .wait_for_transfer_where(&bob.1, &id, "half sent", |entry| {
                entry.bytes_sent >= SIZE / 2 || entry.state == "done"
            })
            .await?;
        assert_ne!(half.state, "done", "the transfer ended before the reload");
        let before = bob.0.snapshot().await?.transfers;
        let kept = before
            .iter()
            .find(|entry| entry.is(&alice.1, &id))
            .map_or(0, |entry| entry.blocks_kept);
        assert!(kept > 0, "bob kept no block by half of the file");

        bob.0.reload().await?;
        let resumed = bob
            .0
            .wait_for_transfer_where(&alice.1, &id, "resumed", |entry| {
                entry.blocks_restored > 0 || entry.is_final()
            })
            .await?;
        println!(
            "{kept} blocks kept before the reload, {} restored after it",
            resumed.blocks_restored
        );
        assert!(
            resumed.blocks_restored >= kept,
            "every block kept before the reload is kept after it: {resumed:#?}"
        );
        bob.0.wait_for_transfer(&alice.1, &id, "done").await?;
        let done = alice.0.wait_for_transfer(&bob.1, &id, "done").await?;
        let again = done.bytes_sent - SIZE;
        println!(
            "reloaded at {} MiB sent; {} bytes ({:.1} MiB) sent twice",
            half.bytes_sent / MIB,
            again,
            again as f64 / MIB as f64
        );
        // From zero would be at least half the file again.
        assert!(again < SIZE / 4, "{again} bytes sent twice");
        let rows = bob.0.snapshot().await?.transfers;
        let rows: Vec<_> = rows.iter().filter(|row| row.id == id).collect();
        assert_eq!(rows.len(), 1, "one row, never offered again: {rows:#?}");
        assert_delivered(alice, bob, &id, &[&file]).await?;

        // Reloaded once more, the page keeps nothing of the ended transfer.
        bob.0.reload().await?;
        wait::until(
            "bob's page to delete what it stored",
            UI_TIMEOUT,
            || async {
                // Reading races the deleting: a file listed may be gone when read.
                Ok(match bob.0.private_folder_files(INCOMING_FOLDER).await {
                    Ok(left) if left.is_empty() => Probe::Ready(()),
                    Ok(left) => Probe::NotYet(format!("{left:#?}")),
                    Err(error) => Probe::NotYet(error.to_string()),
                })
            },
        )
        .await
    })
}

/// A sending page reloaded at about half has lost its `File`: it shows the transfer
/// paused until the person picks the file again, then sends only what the receiver
/// lacks.
#[test]
fn a_sending_page_reloaded_at_half_resumes_once_the_file_is_picked_again() -> Result<()> {
    const SIZE: u64 = 128 * MIB;
    let ns = NetNs::create()?;
    run_in(&ns, async {
        let server = SignalingServer::start().await?;
        let peers = named_mesh(&server, "repick", &["alice", "bob"]).await?;
        let (alice, bob) = (&peers[0], &peers[1]);
        let dir = scratch_dir()?;
        let file = TestFile::random(dir.path(), "picked-again.bin", SIZE)?;
        let elsewhere = dir.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).map_err(meshdrop_e2e::Error::io("make a folder"))?;
        let other = TestFile::random(&elsewhere, "picked-again.bin", SIZE)?;
        let id = offer(alice, bob, &[&file]).await?;
        bob.0
            .click_transfer_button(&alice.1, &id, TransferButton::Accept)
            .await?;
        let half = alice
            .0
            .wait_for_transfer_where(&bob.1, &id, "half sent", |entry| {
                entry.bytes_sent >= SIZE / 2 || entry.state == "done"
            })
            .await?;
        assert_ne!(half.state, "done", "the transfer ended before the reload");

        alice.0.reload().await?;
        let waiting = alice
            .0
            .wait_for_transfer_where(&bob.1, &id, "asking for the file", |entry| {
                entry.state == "paused" && entry.status.contains("pick the file again")
            })
            .await?;
        assert_eq!(waiting.bytes_sent, 0, "{waiting:#?}");
        // Another file of the same name and size is not taken.
        alice.0.pick_again(&bob.1, &id, &[&other]).await?;
        alice
            .0
            .wait_for_transfer_where(&bob.1, &id, "refusing another file", |entry| {
                entry.status.contains("not the same files")
            })
            .await?;
        alice.0.pick_again(&bob.1, &id, &[&file]).await?;
        let done = alice.0.wait_for_transfer(&bob.1, &id, "done").await?;
        println!(
            "reloaded at {} MiB sent; {} MiB sent after the file was picked again",
            half.bytes_sent / MIB,
            done.bytes_sent / MIB
        );
        assert!(
            done.bytes_sent <= SIZE * 3 / 4,
            "{} bytes sent",
            done.bytes_sent
        );
        assert_delivered(alice, bob, &id, &[&file]).await
    })
}

/// A page loaded over plain http from another host is not a secure context, so it has
/// no WebCrypto and its engine hashes the files' blocks in wasm. What it sends must
/// verify at a page that hashes with WebCrypto.
#[test]
fn files_from_a_page_without_webcrypto_verify() -> Result<()> {
    let hosts = TwoHosts::create()?;
    run_in(&hosts.a, async {
        let server = SignalingServer::start().await?;
        let plain_http = Launch::on_host(&hosts.b);
        let peers = connected_and_named(
            join_across_with(plain_http, &server, "plain-http", ["alice", "bob"]).await?,
        )
        .await?;
        let (alice, bob) = (&peers[0], &peers[1]);
        let secure: bool = bob
            .0
            .browser()
            .run(
                "asking whether the page is a secure context",
                "return isSecureContext",
                vec![],
            )
            .await?;
        assert!(!secure, "bob's page must be one without WebCrypto");
        let dir = scratch_dir()?;
        let files = three_files(&dir, "bob")?;
        let id = offer(bob, alice, &files.each()).await?;
        alice
            .0
            .click_transfer_button(&bob.1, &id, TransferButton::Accept)
            .await?;
        assert_delivered(bob, alice, &id, &files.each()).await
    })
}

/// A page without a secure context has no file storage, so it cannot take files. When
/// its user accepts, both sides must say why, and how to fix it, not "You cancelled".
#[test]
fn a_receiver_that_cannot_store_files_says_why_on_both_sides() -> Result<()> {
    let hosts = TwoHosts::create()?;
    run_in(&hosts.a, async {
        let server = SignalingServer::start().await?;
        let plain_http = Launch::on_host(&hosts.b);
        let peers = connected_and_named(
            join_across_with(plain_http, &server, "no-storage", ["alice", "bob"]).await?,
        )
        .await?;
        let (alice, bob) = (&peers[0], &peers[1]);
        let dir = scratch_dir()?;
        let file = TestFile::random(dir.path(), "for-bob.bin", MIB)?;
        let id = offer(alice, bob, &[&file]).await?;
        bob.0
            .click_transfer_button(&alice.1, &id, TransferButton::Accept)
            .await?;
        for (app, other) in [(&alice.0, &bob.1), (&bob.0, &alice.1)] {
            let entry = app.wait_for_transfer(other, &id, "failed").await?;
            assert!(
                entry
                    .error
                    .starts_with("Failed: the receiving page cannot store files")
                    && entry.error.contains("not a secure context")
                    && entry.error.contains("HTTPS, or on localhost"),
                "{} says why and how to fix it: {entry:#?}",
                app.label()
            );
        }
        Ok(())
    })
}

/// Opens one app per label in `room`, waits for the full mesh and for everyone's name.
async fn named_mesh(server: &SignalingServer, room: &str, labels: &[&str]) -> Result<Vec<Peer>> {
    connected_and_named(join(server, room, labels).await?).await
}

/// The sizes the issue names: empty, one byte, and big enough for many chunks.
struct ThreeFiles([TestFile; 3]);

impl ThreeFiles {
    fn each(&self) -> Vec<&TestFile> {
        self.0.iter().collect()
    }
}

fn three_files(dir: &TempDir, owner: &str) -> Result<ThreeFiles> {
    Ok(ThreeFiles([
        TestFile::random(dir.path(), &format!("{owner}-empty.txt"), 0)?,
        TestFile::random(dir.path(), &format!("{owner}-one-byte.bin"), 1)?,
        TestFile::random(dir.path(), &format!("{owner}-random.bin"), 64 * MIB)?,
    ]))
}

/// `sender` picks `files` for `receiver`; the receiver must show the offer from the
/// sender, with every file's name, size and type, and a choice; the sender must show it
/// waiting, with a way to take it back. Returns the transfer id.
async fn offer(sender: &Peer, receiver: &Peer, files: &[&TestFile]) -> Result<String> {
    let (sending, sender_id) = sender;
    let (receiving, receiver_id) = receiver;
    sending
        .send_files(Recipient::Peer(receiver_id), files)
        .await?;
    let offered = receiving.wait_for_offer(sender_id, files).await?;
    assert!(
        offered.title.contains(sending.label()),
        "{} names the sender, {}: {offered:#?}",
        receiving.label(),
        sending.label()
    );
    for (shown, file) in offered.files.iter().zip(files) {
        assert_eq!(
            shown.size,
            shown_size(file.size()),
            "size of {}",
            file.name()
        );
        assert_eq!(shown.mime, mime_of(file.name()), "type of {}", file.name());
    }
    assert_eq!(offered.buttons, ["accept", "decline"], "{offered:#?}");
    let waiting = sending
        .wait_for_transfer(receiver_id, &offered.id, "offered")
        .await?;
    assert_eq!(waiting.direction, "outgoing");
    assert_eq!(waiting.buttons, ["cancel"], "{waiting:#?}");
    assert_eq!(waiting.status, "Waiting for answer", "{waiting:#?}");
    for entry in [&offered, &waiting] {
        assert!(
            entry.progress.is_empty(),
            "an offer not yet accepted shows no progress: {entry:#?}"
        );
    }
    Ok(offered.id)
}

/// How the app shows a file's size, for the sizes these tests use.
fn shown_size(bytes: u64) -> String {
    const GIB: u64 = 1024 * MIB;
    match bytes {
        0..1024 => format!("{bytes} B"),
        _ if bytes.is_multiple_of(GIB) => format!("{}.0 GiB", bytes / GIB),
        _ if bytes.is_multiple_of(MIB) => format!("{}.0 MiB", bytes / MIB),
        _ => unreachable!("tests use whole MiB or GiB above 1 KiB, not {bytes} bytes"),
    }
}

/// The type Chromium gives a picked file, by extension.
fn mime_of(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("txt") => "text/plain",
        Some("bin") => "application/octet-stream",
        _ => "",
    }
}
