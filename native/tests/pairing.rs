//! Verified peers between `meshdrop` processes: pairing by code (`send --code`,
//! `receive --code`), the safety number of every link, and `--require-verified` with
//! devices remembered by `--remember`. Real processes, a real signaling server and real
//! WebRTC, in a private network namespace. Needs root and `ip`.

mod common;

use std::path::Path;

use common::{after, in_private_network, listing, sha256_of, Meshdrop};
use meshdrop_e2e::TestFile;

const MIB: u64 = 1 << 20;
const CODE_LINE: &str = "On the other device, type: ";

/// `meshdrop send FILE --code` with `extra` arguments; returns it and the code it printed.
async fn send_with_code(
    server: &str,
    name: &str,
    file: &Path,
    extra: &[&str],
) -> (Meshdrop, String) {
    let mut args = vec!["send", file.to_str().unwrap(), "--code"];
    args.extend_from_slice(extra);
    let mut sender = Meshdrop::start(server, name, &args);
    let line = sender.expect_status(CODE_LINE).await;
    let code = after(&line, CODE_LINE).to_owned();
    (sender, code)
}

/// `meshdrop receive --code CODE --yes --dir DIR` with `extra` arguments.
fn receive_with_code(server: &str, name: &str, code: &str, dir: &Path, extra: &[&str]) -> Meshdrop {
    let mut args = vec![
        "receive",
        "--code",
        code,
        "--yes",
        "--dir",
        dir.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    Meshdrop::start(server, name, &args)
}

/// This device's fingerprint, from the first line `meshdrop` prints.
async fn own_fingerprint(peer: &mut Meshdrop) -> String {
    after(&peer.expect_status("This device: ").await, "This device: ").to_owned()
}

/// Waits for the pairing and the safety number with `other`; returns the fingerprint
/// it paired with and the number.
async fn paired_with(peer: &mut Meshdrop, other: &str) -> (String, String) {
    let paired = format!("paired with {other} (device ");
    let safety = format!("safety number with {other}: ");
    let lines = peer.expect_statuses(&[&paired, &safety]).await;
    let fingerprint = after(&lines[0], &paired).trim_end_matches(')').to_owned();
    (fingerprint, after(&lines[1], &safety).to_owned())
}

#[test]
fn a_file_goes_to_the_device_that_typed_the_code() {
    let work = tempfile::tempdir().unwrap();
    let file = TestFile::random(work.path(), "paired.bin", 3 * MIB).unwrap();
    let digest = file.sha256().unwrap();
    let inbox = work.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let inbox_ref = &inbox;

    in_private_network(|server| async move {
        let (mut ann, code) = send_with_code(&server, "ann", file.path(), &[]).await;
        assert!(code.starts_with(char::is_numeric), "{code:?}");
        let mut bob = receive_with_code(&server, "bob", &code, inbox_ref, &[]);
        let bob_device = own_fingerprint(&mut bob).await;
        bob.expect_status("joined room _pair-").await;

        let (ann_paired, ann_number) = paired_with(&mut ann, "bob").await;
        let (bob_paired, bob_number) = paired_with(&mut bob, "ann").await;
        assert_eq!(ann_number, bob_number, "both show the same safety number");
        assert_eq!(ann_number.matches(" · ").count(), 6, "{ann_number:?}");
        assert_eq!(ann_paired, bob_device, "ann paired with bob's device");
        assert!(bob_paired.starts_with("sha-256 "), "{bob_paired:?}");

        assert_eq!(ann.exit_code().await, 0, "sender");
        assert_eq!(bob.exit_code().await, 0, "receiver");
        // The code's words are shown once, to the person who has to read them out.
        let words = code.split_once('-').unwrap().1;
        assert_eq!(ann.printed().matches(words).count(), 1, "{}", ann.printed());
        assert!(!bob.printed().contains(words), "{}", bob.printed());
    });

    assert_eq!(listing(&inbox), ["paired.bin"]);
    assert_eq!(sha256_of(&inbox.join("paired.bin")), digest);
}

#[test]
fn a_wrong_code_fails_on_both_sides_and_a_third_device_is_turned_away() {
    let work = tempfile::tempdir().unwrap();
    let file = TestFile::random(work.path(), "secret.bin", MIB).unwrap();
    let inbox = work.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let inbox_ref = &inbox;

    in_private_network(|server| async move {
        let (mut ann, code) = send_with_code(&server, "ann", file.path(), &[]).await;
        // The right meeting place, one word off.
        let (head, last) = code.rsplit_once('-').unwrap();
        let other = if last == "abandon" {
            "ability"
        } else {
            "abandon"
        };
        let wrong = format!("{head}-{other}");
        let mut bob = receive_with_code(&server, "bob", &wrong, inbox_ref, &[]);
        bob.expect_status("joined room _pair-").await;
        // The meeting place seats its two devices, ever (while they are in it): a
        // third, even with the right code, is turned away.
        let mut carol = receive_with_code(&server, "carol", &code, inbox_ref, &[]);
        carol
            .expect_status("this pairing code was already used")
            .await;
        assert_eq!(carol.exit_code().await, 2, "third device");

        let failed = "meshdrop: pairing failed: wrong code";
        ann.expect_status(failed).await;
        bob.expect_status(failed).await;
        assert_eq!(ann.exit_code().await, 6, "sender");
        assert_eq!(bob.exit_code().await, 6, "receiver");
    });

    assert!(listing(&inbox).is_empty(), "{:?}", listing(&inbox));
}

#[test]
fn require_verified_refuses_strangers_and_lets_remembered_devices_in() {
    let work = tempfile::tempdir().unwrap();
    let first = TestFile::random(work.path(), "first.bin", MIB).unwrap();
    let from_stranger = TestFile::random(work.path(), "stranger.bin", MIB).unwrap();
    let later = TestFile::random(work.path(), "later.bin", 2 * MIB).unwrap();
    let later_digest = later.sha256().unwrap();
    let (ann_config, bob_config) = (
        work.path().join("ann-config"),
        work.path().join("bob-config"),
    );
    let (inbox, later_inbox) = (work.path().join("inbox"), work.path().join("later"));
    let stranger_inbox = work.path().join("stranger");
    for dir in [
        &ann_config,
        &bob_config,
        &inbox,
        &later_inbox,
        &stranger_inbox,
    ] {
        std::fs::create_dir_all(dir).unwrap();
    }
    let (ann_dir, bob_dir) = (ann_config.to_str().unwrap(), bob_config.to_str().unwrap());
    let (inbox_ref, later_ref, stranger_ref_dir) = (&inbox, &later_inbox, &stranger_inbox);
    let (first_ref, stranger_ref, later_file) = (&first, &from_stranger, &later);

    in_private_network(|server| async move {
        // Ann and Bob pair by code once, and remember each other.
        let remember_ann = ["--remember", "--config-dir", ann_dir];
        let (mut ann, code) = send_with_code(&server, "ann", first_ref.path(), &remember_ann).await;
        let remember_bob = ["--remember", "--config-dir", bob_dir];
        let mut bob = receive_with_code(&server, "bob", &code, inbox_ref, &remember_bob);
        bob.expect_status("remembered ann").await;
        assert_eq!(ann.exit_code().await, 0, "pairing sender");
        assert_eq!(bob.exit_code().await, 0, "pairing receiver");

        // Later, in an ordinary room, Bob lets in only verified devices.
        let later_dir = later_ref.to_str().unwrap();
        let mut bob = Meshdrop::start(
            &server,
            "bob",
            &[
                "receive",
                "--room",
                "r",
                "--yes",
                "--dir",
                later_dir,
                "--require-verified",
                "--config-dir",
                bob_dir,
            ],
        );
        bob.expect_status("joined room r").await;
        let stranger_path = stranger_ref.path().to_str().unwrap();
        let mut carol = Meshdrop::start(
            &server,
            "carol",
            &["send", stranger_path, "--room", "r", "--to", "bob"],
        );
        let carol_device = own_fingerprint(&mut carol).await;
        let refused = bob.expect_status("refused carol: not verified").await;
        assert!(refused.contains(&carol_device), "{refused:?}");
        carol.expect_status("offered to bob").await;

        let later_path = later_file.path().to_str().unwrap();
        let mut ann = Meshdrop::start(
            &server,
            "ann",
            &[
                "send",
                later_path,
                "--room",
                "r",
                "--to",
                "bob",
                "--config-dir",
                ann_dir,
            ],
        );
        assert_eq!(ann.exit_code().await, 0, "remembered sender");
        assert_eq!(bob.exit_code().await, 0, "receiver");
        // Said once, however often Carol's frames came.
        assert_eq!(bob.printed().matches("refused carol").count(), 1);
        assert!(!bob.printed().contains("connected to carol"));
        carol.interrupt();
        assert_ne!(
            carol.exit_code().await,
            0,
            "the stranger's offer never completed"
        );

        // A sender that requires verified peers offers to the remembered one only, and
        // does not wait for the stranger.
        let stranger_dir = stranger_ref_dir.to_str().unwrap();
        let receive = |dir| ["receive", "--room", "r2", "--yes", "--dir", dir];
        let bob_args = [&receive(later_dir)[..], &["--config-dir", bob_dir]].concat();
        let mut bob = Meshdrop::start(&server, "bob", &bob_args);
        bob.expect_status("joined room r2").await;
        let mut carol = Meshdrop::start(&server, "carol", &receive(stranger_dir));
        carol.expect_status("connected to bob").await;
        let first_path = first_ref.path().to_str().unwrap();
        let mut ann = Meshdrop::start(
            &server,
            "ann",
            &[
                "send",
                first_path,
                "--room",
                "r2",
                "--require-verified",
                "--config-dir",
                ann_dir,
            ],
        );
        ann.expect_status("refused carol: not verified").await;
        assert_eq!(ann.exit_code().await, 0, "strict sender");
        assert_eq!(bob.exit_code().await, 0, "remembered receiver");
        // Nothing was offered to the stranger (its inbox stays empty, below).
        carol.interrupt();
        carol.exit_code().await;
    });

    assert_eq!(listing(&later_inbox), ["first.bin", "later.bin"]);
    assert!(listing(&stranger_inbox).is_empty());
    assert_eq!(sha256_of(&later_inbox.join("later.bin")), later_digest);
    let known: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(bob_config.join("verified_devices.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(known[0]["name"], "ann");
    assert_eq!(known[0]["paired"], true);
}
