//! Transfers whose files travel by a swarm (`meshdrop-swarm`): the engine keeps their
//! offer, answer, state and progress, and streams nothing.

// Shared by the test binaries, each of which uses a part of it.
#[allow(dead_code)]
mod support;

use meshdrop_protocol::frame::ControlFrame;
use meshdrop_transfer::{IdParity, TransferState};
use support::{exchange, noise, reconnect, Peer, Race};

const SWARM: u32 = 77;

fn peers() -> (Peer, Peer) {
    (
        Peer::new(IdParity::Even, 4096),
        Peer::new(IdParity::Odd, 4096),
    )
}

#[test]
fn a_receiver_in_the_swarm_gets_nothing_streamed_and_ends_both_sides_done() {
    let (mut ann, mut bob) = peers();
    let files = [("a.bin", noise(3000, 1)), ("b.bin", noise(10, 2))];
    let id = ann.offer_to_swarm(&files, SWARM);
    exchange(&mut ann, &mut bob, Race::ControlFirst);
    assert_eq!(bob.engine.get(id).unwrap().swarm(), Some(SWARM));
    bob.engine.accept_in_swarm(id).unwrap();
    bob.carry_out();
    exchange(&mut ann, &mut bob, Race::ControlFirst);
    assert_eq!(ann.joined, [(id, SWARM)]);
    assert_eq!(ann.bytes_sent, 0, "nothing streamed");
    assert_eq!(ann.state(id), TransferState::Transferring);

    // The swarm brought the files: the driver wrote them and says so.
    bob.engine.swarm_progress(id, 3010).unwrap();
    assert_eq!(bob.engine.get(id).unwrap().progress().bytes_done, 3010);
    for (index, (_, bytes)) in (0..).zip(&files) {
        bob.partial.insert((id, index), bytes.clone());
        bob.engine.swarm_file_verified(id, index).unwrap();
        bob.carry_out();
    }
    assert!(
        bob.engine.swarm_file_verified(id, 2).is_err(),
        "no third file"
    );
    exchange(&mut ann, &mut bob, Race::ControlFirst);
    assert_eq!(bob.state(id), TransferState::Done);
    assert_eq!(ann.state(id), TransferState::Done);
    assert_eq!(bob.kept[&(id, 1)], files[1].1);
}

#[test]
fn a_receiver_that_takes_no_part_accepts_plainly_and_gets_the_files_streamed() {
    let (mut ann, mut bob) = peers();
    let files = [("a.bin", noise(9000, 3))];
    let id = ann.offer_to_swarm(&files, SWARM);
    exchange(&mut ann, &mut bob, Race::ControlFirst);
    bob.accept(id);
    exchange(&mut ann, &mut bob, Race::DataFirst);
    assert!(ann.joined.is_empty());
    assert_eq!(bob.state(id), TransferState::Done);
    assert_eq!(bob.kept[&(id, 0)], files[0].1);
}

#[test]
fn a_transfer_in_the_swarm_goes_on_without_the_link_to_its_sender() {
    let (mut ann, mut bob) = peers();
    let id = ann.offer_to_swarm(&[("a.bin", noise(100, 4))], SWARM);
    exchange(&mut ann, &mut bob, Race::ControlFirst);
    bob.engine.accept_in_swarm(id).unwrap();
    bob.carry_out();
    exchange(&mut ann, &mut bob, Race::ControlFirst);

    // The link goes: the sender pauses, the receiver goes on with the swarm.
    ann.link_down();
    bob.link_down();
    assert!(matches!(ann.state(id), TransferState::Paused { .. }));
    assert_eq!(bob.state(id), TransferState::Transferring);
    // A new link: the receiver says again that it is in the swarm; no resume.
    reconnect(&mut ann, &mut bob);
    exchange(&mut ann, &mut bob, Race::ControlFirst);
    assert_eq!(ann.state(id), TransferState::Transferring);
    assert!(!bob
        .sent
        .iter()
        .any(|f| matches!(f, ControlFrame::Resume { .. })));

    // The sender leaves for good: the receiver's transfer stays, for the swarm.
    bob.engine.on_peer_left(0);
    bob.engine.handle_timeout(u64::MAX);
    bob.carry_out();
    assert_eq!(bob.state(id), TransferState::Transferring);
    bob.engine.swarm_file_verified(id, 0).unwrap();
    bob.carry_out();
    assert_eq!(bob.state(id), TransferState::Done);
}
