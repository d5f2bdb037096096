//! Files sent to everyone go by a swarm between `meshdrop` receivers: real processes,
//! a real signaling server and real WebRTC, in a private network namespace.

mod common;

use std::path::{Path, PathBuf};

use common::{in_private_network, listing, number_before, sha256_of, Meshdrop};
use meshdrop_e2e::TestFile;

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
