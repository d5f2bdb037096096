//! `meshdrop` against `meshdrop`: real processes, a real signaling server and real
//! WebRTC, in a private network namespace. Needs root and `ip`.

mod common;

use common::{
    in_private_network, listing, number_before, sha256_of, verified_blocks_at_least, Meshdrop,
};
use std::path::{Path, PathBuf};

use meshdrop_e2e::TestFile;

const MIB: u64 = 1 << 20;

#[test]
fn a_64_mib_file_crosses_both_ways_intact() {
    let work = tempfile::tempdir().unwrap();
    let (ann_dir, bob_dir) = (work.path().join("ann"), work.path().join("bob"));
    std::fs::create_dir_all(&ann_dir).unwrap();
    std::fs::create_dir_all(&bob_dir).unwrap();
    let to_bob = TestFile::random(work.path(), "to-bob.bin", 64 * MIB).unwrap();
    let to_ann = TestFile::random(work.path(), "to-ann.bin", 64 * MIB).unwrap();
    let to_bob_digest = to_bob.sha256().unwrap();
    let to_ann_digest = to_ann.sha256().unwrap();
    let (ann_inbox, bob_inbox) = (&ann_dir, &bob_dir);

    in_private_network(|server| async move {
        // Receiver first: the sender is the newcomer and makes the WebRTC offer.
        let mut bob = start_receiver(&server, "bob", "r", bob_inbox);
        bob.expect_status("joined room r").await;
        let mut ann = Meshdrop::start(
            &server,
            "ann",
            &[
                "send",
                to_bob.path().to_str().unwrap(),
                "--room",
                "r",
                "--to",
                "bob",
            ],
        );
        assert_eq!(ann.exit_code().await, 0, "sender");
        assert_eq!(bob.exit_code().await, 0, "receiver");

        // Sender first: now the receiver is the newcomer and offers.
        let mut bob = Meshdrop::start(
            &server,
            "bob",
            &[
                "send",
                to_ann.path().to_str().unwrap(),
                "--room",
                "r2",
                "--to",
                "ann",
            ],
        );
        bob.expect_status("joined room r2").await;
        let mut ann = start_receiver(&server, "ann", "r2", ann_inbox);
        assert_eq!(ann.exit_code().await, 0, "receiver");
        assert_eq!(bob.exit_code().await, 0, "sender");
    });

    assert_eq!(listing(&bob_dir), ["to-bob.bin"]);
    assert_eq!(sha256_of(&bob_dir.join("to-bob.bin")), to_bob_digest);
    assert_eq!(listing(&ann_dir), ["to-ann.bin"]);
    assert_eq!(sha256_of(&ann_dir.join("to-ann.bin")), to_ann_digest);
}

#[test]
fn an_offer_to_everyone_reaches_every_receiver() {
    let work = tempfile::tempdir().unwrap();
    let file = TestFile::random(work.path(), "for-all.bin", 4 * MIB).unwrap();
    let digest = file.sha256().unwrap();
    let (bob_dir, carol_dir) = (work.path().join("bob"), work.path().join("carol"));
    std::fs::create_dir_all(&bob_dir).unwrap();
    std::fs::create_dir_all(&carol_dir).unwrap();
    let (bob_inbox, carol_inbox) = (&bob_dir, &carol_dir);

    in_private_network(|server| async move {
        let receive = |dir| ["receive", "--room", "all", "--yes", "--dir", dir];
        let mut bob = Meshdrop::start(&server, "bob", &receive(bob_inbox.to_str().unwrap()));
        bob.expect_status("joined room all").await;
        let mut carol = Meshdrop::start(&server, "carol", &receive(carol_inbox.to_str().unwrap()));
        // Carol is the newcomer: she connects to Bob before Ann arrives.
        carol.expect_status("connected to bob").await;
        let mut ann = Meshdrop::start(
            &server,
            "ann",
            &["send", file.path().to_str().unwrap(), "--room", "all"],
        );
        assert_eq!(ann.exit_code().await, 0, "sender");
        assert_eq!(bob.exit_code().await, 0, "bob");
        assert_eq!(carol.exit_code().await, 0, "carol");
    });

    for dir in [&bob_dir, &carol_dir] {
        assert_eq!(listing(dir), ["for-all.bin"]);
        assert_eq!(sha256_of(&dir.join("for-all.bin")), digest);
    }
}

#[test]
fn chat_lines_go_both_ways() {
    in_private_network(|server| async move {
        let mut ann = Meshdrop::start(&server, "ann", &["chat", "--room", "talk"]);
        ann.expect_status("joined room talk").await;
        let mut bob = Meshdrop::start(&server, "bob", &["chat", "--room", "talk"]);
        ann.expect_status("connected to bob").await;
        bob.expect_status("connected to ann").await;

        ann.type_line("hello from ann").await;
        let line = bob
            .expect_output(|line| line.ends_with("ann: hello from ann"))
            .await;
        assert!(is_chat_line(&line, "ann", "hello from ann"), "{line:?}");

        bob.type_line("hi ann, bob here").await;
        let line = ann
            .expect_output(|line| line.ends_with("bob: hi ann, bob here"))
            .await;
        assert!(is_chat_line(&line, "bob", "hi ann, bob here"), "{line:?}");

        ann.close_stdin();
        bob.close_stdin();
        assert_eq!(ann.exit_code().await, 0);
        assert_eq!(bob.exit_code().await, 0);
    });
}

#[test]
fn peers_without_a_room_meet_in_their_network_room() {
    in_private_network(|server| async move {
        let mut ann = Meshdrop::start(&server, "ann", &["chat"]);
        ann.expect_status("joined this network's room").await;
        let mut bob = Meshdrop::start(&server, "bob", &["chat"]);
        ann.expect_status("connected to bob").await;
        bob.expect_status("connected to ann").await;

        ann.type_line("same network").await;
        bob.expect_output(|line| line.ends_with("ann: same network"))
            .await;
        ann.close_stdin();
        bob.close_stdin();
        assert_eq!(ann.exit_code().await, 0);
        assert_eq!(bob.exit_code().await, 0);
    });
}

/// `[HH:MM] name: text`, exactly.
fn is_chat_line(line: &str, name: &str, text: &str) -> bool {
    let Some(rest) = line.strip_prefix('[') else {
        return false;
    };
    let (clock, message) = rest.split_at(5.min(rest.len()));
    let clock_ok = clock.len() == 5
        && clock.as_bytes()[2] == b':'
        && clock
            .bytes()
            .enumerate()
            .all(|(i, b)| i == 2 || b.is_ascii_digit());
    clock_ok && message == format!("] {name}: {text}")
}

#[test]
fn a_declined_offer_ends_both_with_status_4() {
    let work = tempfile::tempdir().unwrap();
    let file = TestFile::random(work.path(), "unwanted.txt", 1000).unwrap();
    let dir = work.path().join("inbox");
    std::fs::create_dir_all(&dir).unwrap();

    in_private_network(|server| async move {
        let mut bob = Meshdrop::start(
            &server,
            "bob",
            &["receive", "--room", "r", "--dir", dir.to_str().unwrap()],
        );
        bob.expect_status("joined room r").await;
        let mut ann = Meshdrop::start(
            &server,
            "ann",
            &["send", file.path().to_str().unwrap(), "--room", "r"],
        );
        let question = bob.expect_status("Accept? [y/N]").await;
        assert!(question.contains("ann offers unwanted.txt"), "{question:?}");
        bob.type_line("n").await;
        assert_eq!(ann.exit_code().await, 4, "sender");
        assert_eq!(bob.exit_code().await, 4, "receiver");
        assert!(listing(&dir).is_empty());
    });
}

#[test]
fn a_peer_that_only_chats_declines_offers_by_itself() {
    let work = tempfile::tempdir().unwrap();
    let file = TestFile::random(work.path(), "a.txt", 10).unwrap();
    in_private_network(|server| async move {
        let mut bob = Meshdrop::start(&server, "bob", &["chat", "--room", "r"]);
        bob.expect_status("joined room r").await;
        let mut ann = Meshdrop::start(
            &server,
            "ann",
            &["send", file.path().to_str().unwrap(), "--room", "r"],
        );
        bob.expect_status("ann offered files; declined").await;
        assert_eq!(ann.exit_code().await, 4);
        bob.close_stdin();
        assert_eq!(bob.exit_code().await, 0);
    });
}

#[test]
fn cancelling_mid_transfer_ends_both_with_status_5_and_leaves_nothing() {
    let work = tempfile::tempdir().unwrap();
    let (file, dir) = huge_file_and_inbox(work.path());
    in_private_network(|server| async move {
        let (mut ann, mut bob) = start_huge_transfer(&server, &file, &dir, &[]).await;
        ann.interrupt();
        let reason = bob.expect_status("cancelled by ann").await;
        assert!(reason.contains("cancelled by the sender"), "{reason:?}");
        assert_eq!(ann.exit_code().await, 5, "sender");
        assert_eq!(bob.exit_code().await, 5, "receiver");
        // Neither the file nor its temporary part is left behind.
        assert!(listing(&dir).is_empty(), "{:?}", listing(&dir));
    });
}

#[test]
fn a_receiver_that_vanishes_mid_transfer_pauses_the_sender_then_fails_it_after_the_grace() {
    let work = tempfile::tempdir().unwrap();
    let (file, dir) = huge_file_and_inbox(work.path());
    in_private_network(|server| async move {
        // Bob may come back for 5 s (not the default 5 minutes) before Ann gives up.
        let grace = ["--grace", "5"];
        let (mut ann, mut bob) = start_huge_transfer(&server, &file, &dir, &grace).await;
        // No goodbye of any kind: only ICE noticing the silence can tell Ann.
        bob.kill().await;
        // Paused when the link goes, then with the time it gives up at, as Bob also
        // left the room.
        let paused = ann.expect_status("unless bob is back").await;
        let shown = "huge.bin (8.00 GiB) to bob: paused, reconnecting… (gives up at ";
        assert!(paused.starts_with(shown), "{paused:?}");
        let failure = ann
            .expect_status("huge.bin (8.00 GiB) to bob: failed")
            .await;
        assert!(
            failure.contains("the peer left and was not back within 5 seconds"),
            "{failure:?}"
        );
        assert_eq!(ann.exit_code().await, 5);
    });
}

#[test]
fn a_block_damaged_once_is_fetched_again_and_one_damaged_every_time_fails_and_leaves_nothing() {
    let work = tempfile::tempdir().unwrap();
    let (once_dir, always_dir) = (work.path().join("once"), work.path().join("always"));
    std::fs::create_dir_all(&once_dir).unwrap();
    std::fs::create_dir_all(&always_dir).unwrap();
    let file = TestFile::random(work.path(), "blocks.bin", 3 * MIB + 5).unwrap();
    let digest = file.sha256().unwrap();
    let (once, always) = (&once_dir, &always_dir);
    in_private_network(|server| async move {
        let send = |room: &'static str, corrupt: &'static str| {
            let path = file.path().to_str().unwrap().to_owned();
            let args = [
                "send",
                &path,
                "--room",
                room,
                "--to",
                "bob",
                "--corrupt",
                corrupt,
            ];
            Meshdrop::start(&server, "ann", &args)
        };
        let mut bob = start_receiver(&server, "bob", "once", once);
        bob.expect_status("joined room once").await;
        let mut ann = send("once", "1:1");
        assert_eq!(ann.exit_code().await, 0, "sender");
        assert_eq!(bob.exit_code().await, 0, "receiver");

        let mut bob = start_receiver(&server, "bob", "always", always);
        bob.expect_status("joined room always").await;
        let mut ann = send("always", "2:always");
        let failure = bob.expect_status("from ann: failed").await;
        let reason = "block 2 of file 0 (blocks.bin) did not match its SHA-256, twice";
        assert!(failure.contains(reason), "{failure:?}");
        let failure = ann.expect_status("to bob: failed").await;
        assert!(failure.contains(reason), "{failure:?}");
        assert_eq!(ann.exit_code().await, 5, "sender");
        assert_eq!(bob.exit_code().await, 5, "receiver");
    });
    assert_eq!(listing(&once_dir), ["blocks.bin"]);
    assert_eq!(sha256_of(&once_dir.join("blocks.bin")), digest);
    assert!(
        listing(&always_dir).is_empty(),
        "{:?}",
        listing(&always_dir)
    );
}

/// An 8 GiB file, sparse so it costs no disk and large enough to still be moving when a
/// test interrupts it, and an empty download directory.
fn huge_file_and_inbox(work: &Path) -> (TestFile, PathBuf) {
    let file = TestFile::sparse(work, "huge.bin", 8 << 30).unwrap();
    let dir = work.join("inbox");
    std::fs::create_dir_all(&dir).unwrap();
    (file, dir)
}

/// Bob receives into `dir`, Ann sends `file`; returns once both say bytes are flowing.
async fn start_huge_transfer(
    server: &str,
    file: &TestFile,
    dir: &Path,
    sender_options: &[&str],
) -> (Meshdrop, Meshdrop) {
    let mut bob = start_receiver(server, "bob", "r", dir);
    bob.expect_status("joined room r").await;
    let mut args = vec!["send", file.path().to_str().unwrap(), "--room", "r"];
    args.extend_from_slice(sender_options);
    let mut ann = Meshdrop::start(server, "ann", &args);
    bob.expect_status("receiving huge.bin").await;
    ann.expect_status("sending huge.bin").await;
    (ann, bob)
}

#[test]
fn a_missing_peer_ends_the_sender_with_status_3() {
    let work = tempfile::tempdir().unwrap();
    let file = TestFile::random(work.path(), "a.txt", 10).unwrap();
    in_private_network(|server| async move {
        let mut ann = Meshdrop::start(
            &server,
            "ann",
            &[
                "send",
                file.path().to_str().unwrap(),
                "--room",
                "r",
                "--to",
                "nobody",
                "--wait",
                "2",
            ],
        );
        assert_eq!(ann.exit_code().await, 3);
    });
}

/// `meshdrop receive --yes` as `name` in `room`, saving into `dir`.
fn start_receiver(server: &str, name: &str, room: &str, dir: &Path) -> Meshdrop {
    Meshdrop::start(
        server,
        name,
        &[
            "receive",
            "--room",
            room,
            "--yes",
            "--dir",
            dir.to_str().unwrap(),
        ],
    )
}

#[test]
fn a_receiver_killed_mid_transfer_resumes_its_part_when_the_file_is_offered_again() {
    let work = tempfile::tempdir().unwrap();
    let file = TestFile::random(work.path(), "big.bin", 192 * MIB).unwrap();
    let digest = file.sha256().unwrap();
    let dir = work.path().join("inbox");
    std::fs::create_dir_all(&dir).unwrap();
    let inbox = &dir;
    in_private_network(|server| async move {
        let send = || {
            let args = ["send", file.path().to_str().unwrap(), "--room", "r"];
            Meshdrop::start(&server, "ann", &args)
        };
        let mut bob = start_receiver(&server, "bob", "r", inbox);
        bob.expect_status("joined room r").await;
        let mut ann = send();
        bob.expect_status("receiving big.bin").await;
        let verified = verified_blocks_at_least(inbox, 48);
        let verified = tokio::time::timeout(common::STEP_TIMEOUT, verified)
            .await
            .expect("48 blocks verified and saved, in time");
        // No goodbye: the process is gone, its `.part` and manifest stay.
        bob.kill().await;
        ann.kill().await;
        assert!(verified < 192, "the transfer ended before the kill");

        let mut bob = start_receiver(&server, "bob", "r", inbox);
        bob.expect_status("joined room r").await;
        let mut ann = send();
        let resuming = bob.expect_status("resuming big.bin").await;
        let held: u64 = number_before(&resuming, " of ");
        assert!(held >= 48 * MIB, "{resuming:?}");
        let done = ann.expect_status("to bob: done").await;
        let sent: u64 = number_before(&done, " bytes sent");
        assert_eq!(sent, 192 * MIB - held, "only the blocks lacking: {done:?}");
        eprintln!("killed at {verified} blocks verified and saved; {resuming}; {done}");
        assert_eq!(ann.exit_code().await, 0, "sender");
        assert_eq!(bob.exit_code().await, 0, "receiver");
    });
    // The manifest and the part went with the transfer.
    assert_eq!(listing(&dir), ["big.bin"]);
    assert_eq!(sha256_of(&dir.join("big.bin")), digest);
}
