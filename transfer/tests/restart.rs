//! A receiver that lost its engine (its page reloaded, its process was killed) goes on
//! from the blocks it saved, when the sender offers the same files again: the same
//! sender repeating its offer on a new link, or a sender that restarted too and offers
//! them afresh. Only the blocks it lacks cross again.

// Shared by the test binaries, each of which uses a part of it.
#[allow(dead_code)]
mod support;

use std::collections::HashMap;

use meshdrop_protocol::frame::{ControlFrame, TransferId};
use meshdrop_transfer::{IdParity, Partial, TransferState, DIGEST_BLOCK_LEN};
use support::{exchange, metas, noise, Peer, Race};

const CHUNK_LEN: usize = 64 * 1024;

fn peer(parity: IdParity, driver_hashes: bool) -> Peer {
    let peer = Peer::new(parity, CHUNK_LEN);
    if driver_hashes {
        peer.hashing_blocks()
    } else {
        peer
    }
}

fn files(seed: u64) -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("small", noise(5000, 2 * seed)),
        (
            "big",
            noise(6 * DIGEST_BLOCK_LEN as usize + 1234, 2 * seed + 1),
        ),
        ("empty", Vec::new()),
    ]
}

/// Runs `alice` → `bob` until Bob holds about `blocks` verified blocks of the big file
/// (Bob accepts the offer), then returns what Bob's driver saved: the partial and the
/// bytes of its unverified files.
fn half_sent(
    alice: &mut Peer,
    bob: &mut Peer,
    id: TransferId,
    blocks: usize,
) -> (Partial, HashMap<u32, Vec<u8>>) {
    support::deliver(alice, bob, Race::ControlFirst);
    bob.accept(id);
    loop {
        alice.pump(4);
        support::deliver(bob, alice, Race::ControlFirst);
        support::deliver(alice, bob, Race::DataFirst);
        alice.report_blocks();
        bob.report_blocks();
        let partial = bob.engine.partial(id).unwrap();
        let verified = partial.held[1].blocks.iter().flatten().count();
        if verified >= blocks {
            let files = bob
                .partial
                .iter()
                .filter(|((transfer, _), _)| *transfer == id)
                .map(|((_, index), bytes)| (*index, bytes.clone()))
                .collect();
            return (partial, files);
        }
    }
}

fn verified_bytes(partial: &Partial) -> u64 {
    (partial.files.iter().zip(&partial.held))
        .map(|(meta, held)| {
            if held.verified {
                return meta.size;
            }
            (0..)
                .zip(&held.blocks)
                .filter(|(_, digest)| digest.is_some())
                .map(|(block, _)| (meta.size - block * DIGEST_BLOCK_LEN).min(DIGEST_BLOCK_LEN))
                .sum()
        })
        .sum()
}

/// A new Bob, as after a reload, with the saved partial restored.
fn restarted_bob(partial: Partial, files: HashMap<u32, Vec<u8>>, driver_hashes: bool) -> Peer {
    let mut bob = peer(IdParity::Odd, driver_hashes);
    bob.engine.restore("saved", partial).unwrap();
    bob.restored.insert("saved".into(), files);
    bob
}

#[test]
fn a_reloaded_receiver_resumes_from_its_saved_blocks_when_the_sender_offers_again() {
    for driver_hashes in [false, true] {
        let files = files(1);
        let total: u64 = files.iter().map(|(_, bytes)| bytes.len() as u64).sum();
        let mut alice = peer(IdParity::Even, driver_hashes);
        let mut bob = peer(IdParity::Odd, driver_hashes);
        let id = alice.offer(&files);
        let (partial, held) = half_sent(&mut alice, &mut bob, id, 3);
        let saved = verified_bytes(&partial);
        assert!(partial.held[0].verified, "the small file came first");
        assert!(partial.held[2].verified, "an empty file needs no bytes");
        assert!(saved >= 3 * DIGEST_BLOCK_LEN && saved < total);
        // Bob's page reloads; Alice sees the link go and a new one come, and offers
        // again the transfer it still has.
        let mut bob = restarted_bob(partial, held, driver_hashes);
        alice.link_down();
        alice.link_up();
        let sent_before = alice.bytes_sent;
        exchange(&mut alice, &mut bob, Race::ControlFirst);

        assert_eq!(alice.state(id), TransferState::Done);
        assert_eq!(bob.state(id), TransferState::Done);
        assert_eq!(
            bob.states(id)[0],
            TransferState::Transferring,
            "not asked again"
        );
        assert_eq!(bob.kept[&(id, 1)], files[1].1);
        assert_eq!(bob.kept.len(), 1, "the others were kept before the reload");
        assert_eq!(alice.bytes_sent - sent_before, total - saved);
        let accepts = bob
            .sent
            .iter()
            .filter(|f| matches!(f, ControlFrame::Accept { .. }));
        assert_eq!(accepts.count(), 0, "the resume stands for the accept");
    }
}

#[test]
fn a_restarted_sender_offering_the_same_files_sends_only_what_the_receiver_lacks() {
    for driver_hashes in [false, true] {
        let files = files(2);
        let total: u64 = files.iter().map(|(_, bytes)| bytes.len() as u64).sum();
        let mut alice = peer(IdParity::Even, driver_hashes);
        let mut bob = peer(IdParity::Odd, driver_hashes);
        let id = alice.offer(&files);
        let (partial, held) = half_sent(&mut alice, &mut bob, id, 2);
        let saved = verified_bytes(&partial);
        // Both ends start afresh: a new sender numbers its transfers from the start
        // and knows no digest; it offers the same files.
        let mut bob = restarted_bob(partial, held, driver_hashes);
        let mut alice = peer(IdParity::Even, driver_hashes);
        let id = alice.offer(&files);
        exchange(&mut alice, &mut bob, Race::DataFirst);

        assert_eq!(alice.state(id), TransferState::Done);
        assert_eq!(bob.state(id), TransferState::Done);
        assert_eq!(bob.kept[&(id, 1)], files[1].1);
        assert_eq!(alice.bytes_sent, total - saved);
    }
}

#[test]
fn a_file_changed_since_the_partial_fails_on_its_digest_and_is_discarded() {
    let mut alice = peer(IdParity::Even, false);
    let mut bob = peer(IdParity::Odd, false);
    let id = alice.offer(&files(30));
    let (partial, held) = half_sent(&mut alice, &mut bob, id, 2);
    let mut bob = restarted_bob(partial, held, false);
    // Same names and sizes, other bytes.
    let mut alice = peer(IdParity::Even, false);
    let id = alice.offer(&files(40));
    exchange(&mut alice, &mut bob, Race::ControlFirst);

    let failed = TransferState::Failed {
        reason: "file 1 (big) does not match its SHA-256".into(),
    };
    assert_eq!(bob.state(id), failed);
    assert_eq!(alice.state(id), failed);
    assert_eq!(bob.discarded, [(id, 1)]);
}

#[test]
fn an_offer_of_other_files_is_asked_about_and_a_damaged_partial_is_refused() {
    let mut alice = peer(IdParity::Even, false);
    let mut bob = peer(IdParity::Odd, false);
    let id = alice.offer(&files(5));
    let (partial, held) = half_sent(&mut alice, &mut bob, id, 1);

    let mut damaged = partial.clone();
    damaged.held[1].blocks.pop();
    let error = Peer::new(IdParity::Odd, CHUNK_LEN)
        .engine
        .restore("x", damaged)
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "the saved partial transfer is damaged: file 1 has 7 blocks, not 6"
    );

    let mut bob = restarted_bob(partial, held, false);
    let mut alice = peer(IdParity::Even, false);
    let mut other = files(5);
    other[0].0 = "renamed";
    let id = alice.offer(&other);
    support::deliver(&mut alice, &mut bob, Race::ControlFirst);
    assert_eq!(bob.states(id), [TransferState::Offered]);
    assert!(
        bob.restored.contains_key("saved"),
        "still waiting for its files"
    );
}

#[test]
fn a_reloaded_sender_waits_for_the_files_then_sends_only_what_the_receiver_lacks() {
    for driver_hashes in [false, true] {
        let files = files(6);
        let total: u64 = files.iter().map(|(_, bytes)| bytes.len() as u64).sum();
        let mut alice = peer(IdParity::Even, driver_hashes);
        let mut bob = peer(IdParity::Odd, driver_hashes);
        let id = alice.offer(&files);
        let (partial, _) = half_sent(&mut alice, &mut bob, id, 2);
        let held = verified_bytes(&partial);
        // Alice's page reloads: her new engine knows the transfer, not its files.
        let mut alice = peer(IdParity::Even, driver_hashes);
        alice.engine.restore_sending(id, metas(&files)).unwrap();
        alice.carry_out();
        bob.link_down();
        bob.link_up();
        alice.link_up();
        exchange(&mut alice, &mut bob, Race::ControlFirst);
        let paused = TransferState::Paused {
            gives_up_at_ms: None,
        };
        assert_eq!(alice.state(id), paused, "waiting for the files");
        assert_eq!(alice.bytes_sent, 0);
        assert_eq!(bob.state(id), TransferState::Transferring);

        // The person picks the files again.
        alice
            .sources
            .insert(id, files.iter().map(|(_, b)| b.clone()).collect());
        alice.engine.files_found(id).unwrap();
        alice.carry_out();
        exchange(&mut alice, &mut bob, Race::DataFirst);
        assert_eq!(alice.state(id), TransferState::Done);
        assert_eq!(bob.state(id), TransferState::Done);
        assert_eq!(bob.kept[&(id, 1)], files[1].1);
        assert!(
            alice.bytes_sent <= total - held,
            "{} of {total}",
            alice.bytes_sent
        );
        assert_eq!(alice.offer(&files), id + 2, "new ids come after");
    }
}
