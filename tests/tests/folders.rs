//! Folders between browsers: a folder picked in one page arrives in another with every
//! file's relative path and content, and "Save all" writes it, subfolders and all, into
//! the folder the person picks. Real headless Chromium in a private network namespace.
//!
//! Needs the web app in `dist/` (`cargo xtask test` builds it first).

use std::collections::BTreeMap;
use std::time::Instant;

use meshdrop_e2e::app::{folder_digests, folder_file_digests, zip_digests, TransferEntry};
use meshdrop_e2e::room::{everyone_connected, join, send_folder};
use meshdrop_e2e::{
    files::scratch_dir, run_in, App, NetNs, Recipient, Result, SignalingServer, TestFile,
    TransferButton,
};
use sha2::{Digest, Sha256};

const MIB: u64 = 1 << 20;

/// A folder dropped on the page (to its only peer) is walked, entry by entry, a
/// folder of 150 files in two batches, and arrives with every file's path.
#[test]
fn a_dropped_folder_arrives_with_its_paths() -> Result<()> {
    let dir = scratch_dir()?;
    let album = dir.path().join("album");
    std::fs::create_dir_all(album.join("2024/summer")).unwrap();
    std::fs::create_dir_all(album.join("many")).unwrap();
    for n in 0..150 {
        TestFile::random(&album.join("many"), &format!("{n:03}.txt"), 10)?;
    }
    TestFile::random(&album.join("2024/summer"), "beach.bin", MIB)?;
    TestFile::random(&album.join("2024"), "notes.txt", 1000)?;
    TestFile::random(&album, "Grüße 日本語.txt", 77)?;
    TestFile::random(&album, "empty.txt", 0)?;
    let sent = folder_digests(&album)?;

    let ns = NetNs::create()?;
    run_in(&ns, async {
        let server = SignalingServer::start().await?;
        let peers = join(&server, "dropped", &["alice", "bob"]).await?;
        everyone_connected(&peers).await?;
        let (alice, bob) = (&peers[0], &peers[1]);
        alice.0.drop_folder(".app", &album).await?;
        let offer = bob
            .0
            .wait_for(&format!("an offer of {} files", sent.len()), |s| {
                s.transfers
                    .iter()
                    .find(|entry| entry.state == "offered" && entry.files.len() == sent.len())
                    .cloned()
            })
            .await?;
        bob.0
            .click_transfer_button(&alice.1, &offer.id, TransferButton::Accept)
            .await?;
        let done = bob
            .0
            .wait_for("every file ready to save", |s| {
                s.transfers
                    .iter()
                    .find(|entry| entry.id == offer.id && entry.saved_paths.len() == sent.len())
                    .cloned()
            })
            .await?;
        let sent_paths: Vec<String> = sent.keys().cloned().collect();
        assert_eq!(sorted(done.saved_paths.clone()), sent_paths);
        assert_eq!(received_by_path(&bob.0, &alice.1, &done).await?, sent);
        server.stop().await
    })
}

/// A folder whose offer would not fit one message (1,000 files with 205-byte names:
/// some 450 KB of offer, where Chromium takes 256 KiB messages) goes as several
/// offers of whole files; accepting each brings every file, path and hash intact.
#[test]
fn a_folder_too_large_for_one_offer_goes_as_several() -> Result<()> {
    const FILES: usize = 1000;
    let dir = scratch_dir()?;
    let album = dir.path().join("album");
    std::fs::create_dir_all(&album).unwrap();
    for n in 0..FILES {
        let name = format!("{n:04}-{}.txt", "ü".repeat(98));
        TestFile::random(&album, &name, 16)?;
    }
    let sent = folder_digests(&album)?;
    assert_eq!(sent.len(), FILES);

    let ns = NetNs::create()?;
    run_in(&ns, async {
        let server = SignalingServer::start().await?;
        let peers = join(&server, "big-folder", &["alice", "bob"]).await?;
        everyone_connected(&peers).await?;
        let (alice, bob) = (&peers[0], &peers[1]);
        alice.0.send_folder(Recipient::Peer(&bob.1), &album).await?;
        let offers = bob
            .0
            .wait_for(&format!("offers of {FILES} files in all"), |s| {
                let offers: Vec<_> = s
                    .transfers
                    .iter()
                    .filter(|entry| entry.state == "offered")
                    .cloned()
                    .collect();
                let files: usize = offers.iter().map(|entry| entry.files.len()).sum();
                (files == FILES).then_some(offers)
            })
            .await?;
        println!("{FILES} files offered in {} offers", offers.len());
        assert!(
            offers.len() > 1,
            "one offer cannot hold them: {}",
            offers.len()
        );
        let mut received = BTreeMap::new();
        for offer in &offers {
            bob.0
                .click_transfer_button(&alice.1, &offer.id, TransferButton::Accept)
                .await?;
        }
        for offer in &offers {
            let done = bob
                .0
                .wait_for(&format!("offer {} with every file saved", offer.id), |s| {
                    s.transfers
                        .iter()
                        .find(|entry| entry.is(&alice.1, &offer.id))
                        .filter(|entry| entry.saved_paths.len() == offer.files.len())
                        .cloned()
                })
                .await?;
            received.extend(received_by_path(&bob.0, &alice.1, &done).await?);
        }
        assert_eq!(received, sent, "every file once, with its path and bytes");
        server.stop().await
    })
}

#[test]
fn a_folder_arrives_with_its_paths_and_is_saved_into_a_picked_folder() -> Result<()> {
    let dir = scratch_dir()?;
    let album = dir.path().join("album");
    for folder in ["2024/summer", ".meta"] {
        std::fs::create_dir_all(album.join(folder)).unwrap();
    }
    TestFile::random(&album.join("2024/summer"), "beach.bin", 3 * MIB)?;
    TestFile::random(&album.join("2024"), "notes.txt", 1000)?;
    TestFile::random(&album, "Grüße 日本語.txt", 77)?;
    TestFile::random(&album.join(".meta"), "index", 5)?;
    TestFile::random(&album, "empty.txt", 0)?;
    let sent = folder_digests(&album)?;
    assert_eq!(sent.len(), 5);

    let ns = NetNs::create()?;
    run_in(&ns, async {
        let server = SignalingServer::start().await?;
        let peers = join(&server, "folders", &["alice", "bob"]).await?;
        everyone_connected(&peers).await?;
        let (alice, bob) = (&peers[0], &peers[1]);
        bob.0.pick_private_folder("picked").await?;

        let done = send_folder(alice, bob, &album, sent.len()).await?;
        let listed = done.files.iter().map(|file| {
            let folder = file
                .folder
                .strip_prefix(" in ")
                .expect("each file is in a folder");
            format!("{folder}/{}", file.name)
        });
        let sent_paths: Vec<String> = sent.keys().cloned().collect();
        assert_eq!(sorted(listed.collect()), sent_paths);
        assert_eq!(sorted(done.saved_paths.clone()), sent_paths);
        // Each save link holds its file: names are unique in this folder.
        assert_eq!(received_by_path(&bob.0, &alice.1, &done).await?, sent);

        // The picked folder already holds a file where one is to go: it is kept.
        bob.0
            .put_private_file("picked/album/empty.txt", "keep")
            .await?;
        bob.0.save_all(&alice.1, &done.id).await?;
        let mut expected = sent.clone();
        let empty = expected.remove("album/empty.txt").unwrap();
        expected.insert("album/empty (1).txt".into(), empty);
        expected.insert(
            "album/empty.txt".into(),
            hex::encode(Sha256::digest("keep")),
        );
        let written = bob.0.private_folder_files("picked").await?;
        assert_eq!(folder_file_digests(&written), expected);
        server.stop().await
    })
}

/// Without a folder picker (Firefox, Safari), "Save all" makes one zip of the folder.
#[test]
fn without_a_folder_picker_save_all_makes_one_zip() -> Result<()> {
    let dir = scratch_dir()?;
    let album = dir.path().join("album");
    std::fs::create_dir_all(album.join("2024")).unwrap();
    TestFile::random(&album.join("2024"), "beach.bin", 3 * MIB)?;
    TestFile::random(&album, "Grüße 日本語.txt", 77)?;
    TestFile::random(&album, "empty.txt", 0)?;
    let sent = folder_digests(&album)?;

    let ns = NetNs::create()?;
    run_in(&ns, async {
        let server = SignalingServer::start().await?;
        let peers = join(&server, "zip", &["alice", "bob"]).await?;
        everyone_connected(&peers).await?;
        let (alice, bob) = (&peers[0], &peers[1]);
        bob.0.remove_folder_picker().await?;

        let done = send_folder(alice, bob, &album, sent.len()).await?;
        bob.0.save_all(&alice.1, &done.id).await?;
        let bytes = bob.0.saved_zip(&alice.1, &done.id).await?;
        assert_eq!(zip_digests(bytes), sent);
        server.stop().await
    })
}

/// An offer of hundreds of files goes as fast as its bytes: prints how long the offer
/// took to show, and the whole transfer to finish.
#[test]
fn a_folder_of_hundreds_of_files_goes_through() -> Result<()> {
    const FILES: usize = 300;
    let dir = scratch_dir()?;
    let many = dir.path().join("many");
    for i in 0..FILES {
        let folder = many.join(format!("part-{}", i % 10));
        std::fs::create_dir_all(&folder).unwrap();
        TestFile::random(&folder, &format!("file-{i:03}.bin"), 1024 + i as u64)?;
    }
    let sent = folder_digests(&many)?;

    let ns = NetNs::create()?;
    run_in(&ns, async {
        let server = SignalingServer::start().await?;
        let peers = join(&server, "many", &["alice", "bob"]).await?;
        everyone_connected(&peers).await?;
        let (alice, bob) = (&peers[0], &peers[1]);
        bob.0.pick_private_folder("picked").await?;

        let started = Instant::now();
        let done = send_folder(alice, bob, &many, FILES).await?;
        println!(
            "{FILES} files: picked to all saved in {:?}",
            started.elapsed()
        );
        assert_eq!(
            sorted(done.saved_paths),
            sent.keys().cloned().collect::<Vec<_>>()
        );

        let saving = Instant::now();
        bob.0.save_all(&alice.1, &done.id).await?;
        println!(
            "{FILES} files: saved into a folder in {:?}",
            saving.elapsed()
        );
        let written = bob.0.private_folder_files("picked").await?;
        assert_eq!(folder_file_digests(&written), sent);
        server.stop().await
    })
}

fn sorted(mut paths: Vec<String>) -> Vec<String> {
    paths.sort_unstable();
    paths
}

/// What `receiver` got of transfer `done` from `sender`, read back from its save links:
/// each file's SHA-256 by the path it is saved under (names are unique in these folders).
async fn received_by_path(
    receiver: &App,
    sender: &str,
    done: &TransferEntry,
) -> Result<BTreeMap<String, String>> {
    let files = receiver.received_files(sender, &done.id).await?;
    Ok(files
        .into_iter()
        .map(|file| {
            let path = done
                .saved_paths
                .iter()
                .find(|path| path.ends_with(&*file.name));
            (path.cloned().unwrap_or_default(), file.sha256)
        })
        .collect())
}
