//! Folders with `meshdrop`: a folder arrives with its relative paths, and hostile paths
//! a peer puts in its offer stay inside the receiver's directory, whether the receiver is
//! `meshdrop` or the web app. Real processes, server, WebRTC and headless Chromium in a
//! private network namespace; needs root, `ip`, and for the web app chromedriver,
//! Chromium and the built app in `dist/`.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{in_private_network, open_app, peer_id, sha256_of, signaling_url, Meshdrop};
use meshdrop_e2e::files::scratch_dir;
use meshdrop_e2e::{run_in, NetNs, Result, SignalingServer, TestFile, TransferButton};

/// Every file under `dir`, by `/`-separated path relative to it, with its SHA-256.
/// Symbolic links are skipped, not followed, so nothing outside `dir` is counted.
fn tree(dir: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, found: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let kind = entry.file_type().unwrap();
            let path = entry.path();
            if kind.is_symlink() {
                continue;
            }
            if kind.is_dir() {
                walk(root, &path, found);
            } else {
                assert!(kind.is_file(), "{} is not a plain file", path.display());
                let relative = path.strip_prefix(root).unwrap();
                let relative = relative.to_str().unwrap().to_owned();
                found.insert(relative, sha256_of(&path));
            }
        }
    }
    let mut found = BTreeMap::new();
    walk(dir, dir, &mut found);
    found
}

/// Send `args` from one process to a `meshdrop receive --dir inbox` in room `room`.
async fn send_to_receiver(server: &str, room: &str, inbox: &Path, args: &[&str]) {
    let inbox = inbox.to_str().unwrap();
    let receive = ["receive", "--room", room, "--yes", "--dir", inbox];
    let mut bob = Meshdrop::start(server, "bob", &receive);
    bob.expect_status(&format!("joined room {room}")).await;
    let mut send = vec!["send", "--room", room, "--to", "bob"];
    send.extend_from_slice(args);
    let mut ann = Meshdrop::start(server, "ann", &send);
    assert_eq!(ann.exit_code().await, 0, "sender");
    assert_eq!(bob.exit_code().await, 0, "receiver");
}

/// Paths a hostile sender puts in its offer, and where a receiver saves each.
fn hostile_offer() -> ([&'static str; 7], [&'static str; 7]) {
    (
        [
            "../../x",
            "/etc/x",
            "C:\\x",
            "a\u{0}b",
            "a\nb",
            "../../../../../../../../tmp/meshdrop-escape",
            "up/x",
        ],
        [
            "x",
            "etc/x",
            "C_/x",
            "a_b",
            "a_b (2)",
            "tmp/meshdrop-escape",
            "up/x",
        ],
    )
}

#[test]
fn a_folder_arrives_with_its_paths_and_contents() {
    let work = tempfile::tempdir().unwrap();
    let album = work.path().join("album");
    std::fs::create_dir_all(album.join("2024/summer")).unwrap();
    std::fs::create_dir_all(album.join(".meta")).unwrap();
    TestFile::random(&album.join("2024/summer"), "beach.bin", 3 << 20).unwrap();
    TestFile::random(&album.join("2024"), "notes.txt", 1000).unwrap();
    TestFile::random(&album, "Grüße 日本語.txt", 77).unwrap();
    TestFile::random(&album.join(".meta"), "index", 5).unwrap();
    std::fs::write(album.join("empty.txt"), b"").unwrap();
    let inbox = work.path().join("inbox");
    std::fs::create_dir(&inbox).unwrap();
    let album_arg = album.to_str().unwrap();

    in_private_network(|server| async move {
        send_to_receiver(&server, "folder", &inbox, &[album_arg]).await;
    });

    let sent: BTreeMap<String, String> = tree(&album)
        .into_iter()
        .map(|(path, digest)| (format!("album/{path}"), digest))
        .collect();
    assert_eq!(sent.len(), 5);
    assert_eq!(tree(&work.path().join("inbox")), sent);
}

/// 400 files with 200-character names make an offer of some 190 KB, where a native
/// peer sends 64 KiB messages: it goes as several offers, and `meshdrop receive`
/// (without `--stay`) takes them all before it exits.
#[test]
fn a_folder_too_large_for_one_offer_arrives_whole() {
    let work = tempfile::tempdir().unwrap();
    let album = work.path().join("album");
    std::fs::create_dir_all(&album).unwrap();
    for n in 0..400 {
        let name = format!("{n:03}-{}.txt", "ü".repeat(98));
        TestFile::random(&album, &name, 16).unwrap();
    }
    let inbox = work.path().join("inbox");
    std::fs::create_dir(&inbox).unwrap();
    let album_arg = album.to_str().unwrap();

    in_private_network(|server| async move {
        send_to_receiver(&server, "big-folder", &inbox, &[album_arg]).await;
    });

    let sent: BTreeMap<String, String> = tree(&album)
        .into_iter()
        .map(|(path, digest)| (format!("album/{path}"), digest))
        .collect();
    assert_eq!(sent.len(), 400);
    assert_eq!(tree(&work.path().join("inbox")), sent);
}

#[test]
fn hostile_paths_stay_inside_the_receiving_directory() {
    let work = tempfile::tempdir().unwrap();
    let sources = work.path().join("sources");
    let inbox = work.path().join("jail/inbox");
    std::fs::create_dir_all(&sources).unwrap();
    std::fs::create_dir_all(&inbox).unwrap();
    // A link the receiver must not follow out of its directory.
    std::os::unix::fs::symlink(work.path().join("jail"), inbox.join("up")).unwrap();
    let (raw, expected) = hostile_offer();
    let files: Vec<TestFile> = (0..raw.len())
        .map(|i| TestFile::random(&sources, &format!("{i}.bin"), 100 + i as u64).unwrap())
        .collect();
    let digests: Vec<String> = files.iter().map(|f| f.sha256().unwrap()).collect();
    let raw_json = serde_json::to_string(&raw).unwrap();
    let paths: Vec<&str> = files.iter().map(|f| f.path().to_str().unwrap()).collect();

    in_private_network(|server| async move {
        let mut args = vec!["--raw-paths", raw_json.as_str()];
        args.extend(paths);
        send_to_receiver(&server, "hostile", &inbox, &args).await;
    });

    // `up` is a link out of the directory: the receiver numbers the folder instead.
    let expected: BTreeMap<String, String> = expected
        .iter()
        .map(|path| path.replace("up/", "up (1)/"))
        .zip(digests)
        .collect();
    let mut received = tree(&work.path().join("jail/inbox"));
    assert_eq!(received, expected);
    // Nothing landed next to the directory, or anywhere else the paths pointed.
    received = tree(&work.path().join("jail"));
    assert!(received.keys().all(|path| path.starts_with("inbox/")));
    assert_eq!(tree(&sources).len(), raw.len());
    assert!(!Path::new("/tmp/meshdrop-escape").exists());
}

/// The same hostile offer to the web app: it lists the files under safe paths, and
/// "Save all" writes them there, inside the folder picked.
#[test]
fn hostile_paths_stay_inside_the_folder_a_browser_saves_in() -> Result<()> {
    let work = scratch_dir()?;
    let (raw, expected) = hostile_offer();
    let files: Vec<TestFile> = (0..raw.len())
        .map(|i| TestFile::random(work.path(), &format!("{i}.bin"), 100 + i as u64))
        .collect::<Result<_>>()?;
    let raw_json = serde_json::to_string(&raw).unwrap();

    let ns = NetNs::create()?;
    run_in(&ns, async {
        let server = SignalingServer::start().await?;
        let alice = open_app(&server, "hostile", "alice").await?;
        alice.pick_private_folder("picked").await?;
        let mut args = vec![
            "send",
            "--room",
            "hostile",
            "--to",
            "alice",
            "--raw-paths",
            &raw_json,
        ];
        args.extend(files.iter().map(|file| file.path().to_str().unwrap()));
        let mut ann = Meshdrop::start(&signaling_url(&server), "ann", &args);
        let ann_id = peer_id(&ann.expect_status("joined room hostile").await);

        let offer = alice
            .wait_for("the hostile offer", |s| {
                s.transfers
                    .iter()
                    .find(|entry| entry.peer == ann_id && entry.state == "offered")
                    .cloned()
            })
            .await?;
        alice
            .click_transfer_button(&ann_id, &offer.id, TransferButton::Accept)
            .await?;
        assert_eq!(ann.exit_code().await, 0, "sender");
        let done = alice.wait_for_transfer(&ann_id, &offer.id, "done").await?;
        let done = alice
            .wait_for("every file ready to save", |s| {
                s.transfers
                    .iter()
                    .find(|entry| entry.id == done.id && entry.saved_paths.len() == raw.len())
                    .cloned()
            })
            .await?;
        let mut shown = done.saved_paths.clone();
        shown.sort_unstable();
        let mut wanted: Vec<String> = expected.iter().map(|path| path.to_string()).collect();
        wanted.sort_unstable();
        assert_eq!(shown, wanted);

        alice.save_all(&ann_id, &done.id).await?;
        let written: BTreeMap<String, String> = alice
            .private_folder_files("picked")
            .await?
            .into_iter()
            .map(|file| (file.path, file.sha256))
            .collect();
        let sent: BTreeMap<String, String> = expected
            .iter()
            .map(|path| path.to_string())
            .zip(files.iter().map(|file| file.sha256().unwrap()))
            .collect();
        assert_eq!(written, sent);
        server.stop().await
    })
}
