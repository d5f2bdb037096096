//! Transfers that outlive their link: cut the in-memory network at every kind of
//! point, bring up a new link, and check that the files arrive whole with only the
//! unverified blocks sent again; and what fails when resuming cannot work.

// Shared by the test binaries, each of which uses a part of it.
#[allow(dead_code)]
mod support;

use meshdrop_protocol::frame::{ControlFrame, ResumeFile};
use meshdrop_transfer::{IdParity, TransferError, TransferState, DEFAULT_GRACE, DIGEST_BLOCK_LEN};
use support::{deliver, exchange, noise, reconnect, Peer, Race};

const CHUNK_LEN: usize = 64 * 1024;

fn peers(driver_hashes: bool) -> (Peer, Peer) {
    let alice = Peer::new(IdParity::Even, CHUNK_LEN);
    let bob = Peer::new(IdParity::Odd, CHUNK_LEN);
    if driver_hashes {
        (alice.hashing_blocks(), bob.hashing_blocks())
    } else {
        (alice, bob)
    }
}

fn files() -> [(&'static str, Vec<u8>); 3] {
    [
        ("empty", Vec::new()),
        ("big", noise(2 * DIGEST_BLOCK_LEN as usize + 300_000, 31)),
        ("small", noise(5000, 32)),
    ]
}

/// One round of the network: each peer sends what its data channel takes, everything
/// queued is delivered, drivers report the blocks they hashed, and Bob accepts every
/// offer he sees. Returns whether anything happened.
fn round(alice: &mut Peer, bob: &mut Peer, race: Race) -> bool {
    let pumped = alice.pump(2) + bob.pump(2);
    let moved = deliver(alice, bob, race) | deliver(bob, alice, race);
    let hashed = alice.report_blocks() | bob.report_blocks();
    let offered: Vec<u32> = bob
        .history
        .iter()
        .filter(|(_, state)| *state == TransferState::Offered)
        .map(|(id, _)| *id)
        .filter(|id| bob.state(*id) == TransferState::Offered)
        .collect();
    for id in &offered {
        bob.accept(*id);
    }
    pumped > 0 || moved || hashed || !offered.is_empty()
}

#[test]
fn a_cut_at_any_point_resumes_and_sends_again_only_what_was_not_verified() {
    let files = files();
    let total: u64 = files.iter().map(|(_, bytes)| bytes.len() as u64).sum();
    let mut cuts_while_running = 0;
    for driver_hashes in [false, true] {
        for race in [Race::ControlFirst, Race::DataFirst] {
            for cut_after in (0..48).step_by(5).chain([1, 2]) {
                let what = format!(
                    "cut after round {cut_after}, {race:?}, driver hashes: {driver_hashes}"
                );
                let (mut alice, mut bob) = peers(driver_hashes);
                let id = alice.offer(&files);
                for _ in 0..cut_after {
                    round(&mut alice, &mut bob, race);
                }
                // What the sender has handed to its data channel and not yet arrived is
                // lost with the link, and so is what its driver is still hashing.
                alice.pump(3);
                let in_flight: u64 = alice.data_out.iter().map(|m| m.len() as u64 - 4).sum();
                let sent_before = alice.bytes_sent;
                let running = |peer: &Peer| {
                    let transfer = peer.engine.get(id);
                    transfer.is_some_and(|transfer| transfer.state().is_running())
                };
                let (alice_running, bob_running) = (running(&alice), running(&bob));
                alice.link_down();
                bob.link_down();
                let paused = TransferState::Paused {
                    gives_up_at_ms: None,
                };
                for (peer, was_running) in [(&alice, alice_running), (&bob, bob_running)] {
                    if was_running {
                        assert_eq!(peer.state(id), paused, "{what}");
                    }
                }
                if alice_running && bob_running {
                    cuts_while_running += 1;
                }
                let held = bob.engine.get(id).map_or(0, |t| t.progress().bytes_done);
                alice.link_up();
                bob.link_up();
                while round(&mut alice, &mut bob, race) {}

                assert_eq!(alice.state(id), TransferState::Done, "{what}");
                assert_eq!(bob.state(id), TransferState::Done, "{what}");
                for (index, (name, bytes)) in (0..).zip(&files) {
                    assert!(bob.kept[&(id, index)] == *bytes, "{name}, {what}");
                }
                let again = alice.bytes_sent - total;
                if !driver_hashes {
                    // Blocks held whole had their digests (sent on the control channel
                    // as soon as read), so they were verified and not sent again.
                    assert_eq!(again, sent_before - held, "{what}");
                }
                assert!(
                    again <= DIGEST_BLOCK_LEN + in_flight,
                    "{again} sent again, {what}"
                );
            }
        }
    }
    assert!(cuts_while_running >= 20, "{cuts_while_running}");
}

#[test]
fn repeated_cuts_and_a_cut_during_the_resume_still_deliver() {
    let files = files();
    let (mut alice, mut bob) = peers(false);
    let id = alice.offer(&files);
    let mut cuts = 0;
    while alice.state(id) != TransferState::Done {
        // Long enough for a block and a bit to cross.
        for _ in 0..10 {
            round(&mut alice, &mut bob, Race::DataFirst);
        }
        // The resume itself gets lost every other time.
        reconnect(&mut alice, &mut bob);
        if cuts % 2 == 0 {
            reconnect(&mut alice, &mut bob);
        }
        cuts += 1;
        assert!(cuts < 100, "no progress");
    }
    assert!(cuts > 2, "{cuts}");
    assert!(bob.kept[&(id, 1)] == files[1].1);
    let again = alice.bytes_sent - files.iter().map(|(_, b)| b.len() as u64).sum::<u64>();
    assert!(
        again <= cuts * DIGEST_BLOCK_LEN,
        "{again} sent again over {cuts} cuts"
    );
}

#[test]
fn answers_lost_with_the_link_are_given_again() {
    // The accept is lost: the receiver's resume stands for it.
    let (mut alice, mut bob) = peers(false);
    let id = alice.offer(&[("a", b"abc".to_vec())]);
    deliver(&mut alice, &mut bob, Race::ControlFirst);
    bob.accept(id);
    reconnect(&mut alice, &mut bob);
    exchange(&mut alice, &mut bob, Race::ControlFirst);
    assert_eq!(alice.state(id), TransferState::Done);
    assert_eq!(bob.kept[&(id, 0)], b"abc");

    // The offer is lost: it is made again, once.
    let (mut alice, mut bob) = peers(false);
    let id = alice.offer(&[("a", b"abc".to_vec())]);
    reconnect(&mut alice, &mut bob);
    deliver(&mut alice, &mut bob, Race::ControlFirst);
    assert_eq!(bob.state(id), TransferState::Offered);
    reconnect(&mut alice, &mut bob);
    deliver(&mut alice, &mut bob, Race::ControlFirst);
    assert_eq!(
        bob.states(id),
        [TransferState::Offered],
        "a repeated offer is dropped"
    );

    // The decline, and the complete, are lost: each is said again.
    bob.engine.decline(id).unwrap();
    bob.carry_out();
    reconnect(&mut alice, &mut bob);
    exchange(&mut alice, &mut bob, Race::ControlFirst);
    assert_eq!(alice.state(id), TransferState::Declined);

    let id = alice.offer(&[("b", b"b".to_vec())]);
    deliver(&mut alice, &mut bob, Race::ControlFirst);
    bob.accept(id);
    deliver(&mut bob, &mut alice, Race::ControlFirst);
    alice.pump(1);
    deliver(&mut alice, &mut bob, Race::ControlFirst);
    assert_eq!(bob.state(id), TransferState::Done);
    reconnect(&mut alice, &mut bob);
    exchange(&mut alice, &mut bob, Race::ControlFirst);
    assert_eq!(alice.state(id), TransferState::Done);

    // A cancel made while the link is down reaches the peer on the next one.
    let id = alice.offer(&[("c", noise(100_000, 3))]);
    deliver(&mut alice, &mut bob, Race::ControlFirst);
    bob.accept(id);
    alice.link_down();
    bob.link_down();
    alice.cancel(id, "no more");
    alice.link_up();
    bob.link_up();
    exchange(&mut alice, &mut bob, Race::ControlFirst);
    assert_eq!(
        bob.state(id),
        TransferState::Cancelled {
            by_me: false,
            reason: "no more".into()
        }
    );
    assert!(bob.partial.is_empty());
}

#[test]
fn a_resume_the_sender_cannot_follow_fails_the_transfer_with_the_reason() {
    // Of a transfer the sender does not know (it restarted, say).
    let mut alice = Peer::new(IdParity::Even, CHUNK_LEN);
    let unknown = ControlFrame::Resume {
        transfer: 8,
        files: vec![],
    };
    assert_eq!(
        alice.engine.on_control(unknown),
        Err(TransferError::UnknownTransfer(8))
    );
    alice.carry_out();
    let reason = "cannot resume transfer 8: the sender has no such transfer";
    assert_eq!(
        alice.sent,
        [ControlFrame::Fail {
            transfer: 8,
            reason: reason.into()
        }]
    );

    // Of blocks past the end of a file, of a file the transfer does not have, and of
    // ranges out of order.
    let cases = [
        (
            vec![ResumeFile { index: 1, blocks: vec![[2, 4]] }],
            "cannot resume transfer 0: file 1 (big) has 3 blocks, not 4",
        ),
        (
            vec![ResumeFile { index: 3, blocks: vec![] }],
            "cannot resume transfer 0: it has no file 3",
        ),
        (
            vec![ResumeFile { index: 1, blocks: vec![[1, 2], [0, 1]] }],
            "cannot resume transfer 0: block ranges of file 1 must be non-empty, ascending and apart",
        ),
    ];
    for (files_asked, reason) in cases {
        let (mut alice, mut bob) = peers(false);
        let id = alice.offer(&files());
        deliver(&mut alice, &mut bob, Race::ControlFirst);
        bob.accept(id);
        deliver(&mut bob, &mut alice, Race::ControlFirst);
        alice.pump(2);
        deliver(&mut alice, &mut bob, Race::ControlFirst);
        alice.link_down();
        bob.link_down();
        alice.link_up();
        bob.engine.on_link_up();
        bob.carry_out();
        bob.control_out.clear();
        alice.receive_control(ControlFrame::Resume {
            transfer: id,
            files: files_asked,
        });
        let failed = TransferState::Failed {
            reason: reason.into(),
        };
        assert_eq!(alice.state(id), failed);
        deliver(&mut alice, &mut bob, Race::ControlFirst);
        assert_eq!(bob.state(id), failed);
        assert_eq!(
            bob.discarded,
            [(id, 1)],
            "nothing is kept of the unverified file"
        );
    }
}

#[test]
fn a_peer_that_left_fails_its_transfers_after_the_grace_unless_it_is_back() {
    let grace_ms = DEFAULT_GRACE.as_millis() as u64;
    assert_eq!(grace_ms, 5 * 60 * 1000);
    let start = |alice: &mut Peer, bob: &mut Peer| {
        let id = alice.offer(&files());
        deliver(alice, bob, Race::ControlFirst);
        bob.accept(id);
        for _ in 0..5 {
            round(alice, bob, Race::ControlFirst);
        }
        id
    };

    // Back in time: the transfer resumes.
    let (mut alice, mut bob) = peers(false);
    let id = start(&mut alice, &mut bob);
    alice.link_down();
    alice.engine.on_peer_left(1_000);
    alice.carry_out();
    let waiting = TransferState::Paused {
        gives_up_at_ms: Some(1_000 + grace_ms),
    };
    assert_eq!(alice.state(id), waiting);
    assert_eq!(alice.engine.poll_timeout(), Some(1_000 + grace_ms));
    alice.engine.on_peer_left(60_000);
    assert_eq!(
        alice.engine.poll_timeout(),
        Some(1_000 + grace_ms),
        "the first deadline holds"
    );
    alice.engine.handle_timeout(grace_ms);
    assert_eq!(alice.state(id), waiting);
    bob.link_down();
    alice.link_up();
    bob.link_up();
    assert_eq!(alice.engine.poll_timeout(), None);
    while round(&mut alice, &mut bob, Race::ControlFirst) {}
    assert_eq!(alice.state(id), TransferState::Done);
    assert!(bob.kept[&(id, 1)] == files()[1].1);

    // Not back in time: both ends fail, and the receiver keeps nothing unverified.
    let (mut alice, mut bob) = peers(false);
    let id = start(&mut alice, &mut bob);
    for (peer, left_at) in [(&mut alice, 1_000), (&mut bob, 2_000)] {
        peer.link_down();
        peer.engine.on_peer_left(left_at);
        peer.engine.handle_timeout(left_at + grace_ms);
        peer.carry_out();
        let gone = TransferState::Failed {
            reason: "the peer left and was not back within 5 minutes".into(),
        };
        assert_eq!(peer.state(id), gone);
        assert_eq!(peer.engine.poll_timeout(), None);
    }
    assert_eq!(bob.discarded, [(id, 1)]);
    assert!(
        bob.kept.contains_key(&(id, 0)),
        "the empty file was verified"
    );
}

#[test]
fn a_receiver_that_lost_the_transfer_is_offered_it_again_and_gets_it_whole() {
    let files = files();
    let (mut alice, mut bob) = peers(false);
    let id = alice.offer(&files);
    for _ in 0..8 {
        round(&mut alice, &mut bob, Race::ControlFirst);
    }
    assert_eq!(alice.state(id), TransferState::Transferring);
    // Bob's page reloads: same peer id, nothing of the transfer left.
    let mut bob = Peer::new(IdParity::Odd, CHUNK_LEN);
    alice.link_down();
    alice.link_up();
    bob.link_up();
    deliver(&mut alice, &mut bob, Race::ControlFirst);
    assert_eq!(bob.state(id), TransferState::Offered, "asked again");
    let sent_before = alice.bytes_sent;
    while round(&mut alice, &mut bob, Race::ControlFirst) {}
    assert_eq!(alice.state(id), TransferState::Done);
    assert!(bob.kept[&(id, 1)] == files[1].1);
    let total: u64 = files.iter().map(|(_, bytes)| bytes.len() as u64).sum();
    assert_eq!(
        alice.bytes_sent - sent_before,
        total,
        "all of it, once more"
    );
}
