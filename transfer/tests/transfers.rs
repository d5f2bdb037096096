//! The transfer engine's behaviour, end to end: two real engines exchanging real frames
//! through an in-memory network.

// Shared by the test binaries, each of which uses a part of it.
#[allow(dead_code)]
mod support;

use meshdrop_protocol::frame::{ControlFrame, DataChunk, FileMeta, CHUNK_HEADER_LEN};
use meshdrop_transfer::{
    BlockHashing, Direction, IdParity, Output, Progress, TransferError, TransferState, Transfers,
    DIGEST_BLOCK_LEN,
};
use sha2::{Digest, Sha256};
use support::{deliver, exchange, noise, reconnect, Corruption, Peer, Race};

const CHUNK_LEN: usize = 4096;

fn peers() -> (Peer, Peer) {
    (
        Peer::new(IdParity::Even, CHUNK_LEN),
        Peer::new(IdParity::Odd, CHUNK_LEN),
    )
}

fn cancelled(by_me: bool, reason: &str) -> TransferState {
    TransferState::Cancelled {
        by_me,
        reason: reason.into(),
    }
}

fn failed(reason: &str) -> TransferState {
    TransferState::Failed {
        reason: reason.into(),
    }
}

fn meta(name: &str, size: u64) -> FileMeta {
    FileMeta {
        name: name.into(),
        size,
        mime: String::new(),
        path: None,
    }
}

fn chunk(transfer: u32, payload: &[u8]) -> Vec<u8> {
    let mut message = Vec::new();
    DataChunk { transfer, payload }.encode_into(&mut message);
    message
}

#[test]
fn files_arrive_intact_whichever_channel_wins_the_race() {
    for race in [Race::ControlFirst, Race::DataFirst] {
        let (mut alice, mut bob) = peers();
        let files = [
            ("empty.txt", Vec::new()),
            ("one.bin", vec![42]),
            ("noise.bin", noise(10 * CHUNK_LEN + 3, 7)),
            ("trailing-empty.txt", Vec::new()),
        ];
        let id = alice.offer(&files);
        deliver(&mut alice, &mut bob, race);
        assert_eq!(bob.state(id), TransferState::Offered, "{race:?}");
        assert_eq!(bob.engine.get(id).unwrap().direction(), Direction::Incoming);
        assert_eq!(bob.engine.get(id).unwrap().files()[2].name, "noise.bin");

        bob.accept(id);
        exchange(&mut alice, &mut bob, race);

        for (index, (name, bytes)) in (0..).zip(&files) {
            assert_eq!(bob.kept[&(id, index)], *bytes, "{name} {race:?}");
        }
        assert!(bob.partial.is_empty() && bob.discarded.is_empty());
        let total = files.iter().map(|(_, bytes)| bytes.len() as u64).sum();
        let all_done = Progress {
            bytes_done: total,
            bytes_total: total,
        };
        for peer in [&alice, &bob] {
            assert_eq!(peer.state(id), TransferState::Done, "{race:?}");
            assert_eq!(peer.engine.get(id).unwrap().progress(), all_done);
        }
        let through_verifying = [
            TransferState::Offered,
            TransferState::Transferring,
            TransferState::Verifying,
            TransferState::Done,
        ];
        assert_eq!(alice.states(id), through_verifying);
        if let Race::DataFirst = race {
            // The last byte arrives before the last digest.
            assert_eq!(bob.states(id), through_verifying);
        }
    }
}

/// A file's digest as docs/protocol.md defines it: the SHA-256 of its 1 MiB blocks'
/// SHA-256s.
fn digest_by_definition(bytes: &[u8]) -> String {
    let mut outer = Sha256::new();
    for block in bytes.chunks(DIGEST_BLOCK_LEN as usize) {
        outer.update(Sha256::digest(block));
    }
    hex::encode(outer.finalize())
}

/// Files for the block-hashing tests: empty, two blocks and a bit, smaller than a block.
fn files_across_blocks() -> [(&'static str, Vec<u8>); 3] {
    let size = 2 * DIGEST_BLOCK_LEN as usize + 5;
    [
        ("empty", Vec::new()),
        ("blocks", noise(size, 7)),
        ("abc", b"abc".to_vec()),
    ]
}

#[test]
fn blocks_hashed_by_the_drivers_late_and_out_of_order_verify_the_same() {
    for race in [Race::ControlFirst, Race::DataFirst] {
        let mut alice = Peer::new(IdParity::Even, 64 * 1024).hashing_blocks();
        let mut bob = Peer::new(IdParity::Odd, 64 * 1024).hashing_blocks();
        let files = files_across_blocks();
        let id = alice.offer(&files);
        deliver(&mut alice, &mut bob, race);
        bob.accept(id);
        exchange(&mut alice, &mut bob, race);

        for peer in [&alice, &bob] {
            assert_eq!(peer.state(id), TransferState::Done, "{race:?}");
        }
        for (index, (name, bytes)) in (0..).zip(&files) {
            assert_eq!(bob.kept[&(id, index)], *bytes, "{name} {race:?}");
        }
        let mut announced: Vec<(u32, String)> = alice
            .sent
            .iter()
            .filter_map(|frame| match frame {
                ControlFrame::FileEnd { index, sha256, .. } => Some((*index, sha256.clone())),
                _ => None,
            })
            .collect();
        announced.sort();
        let announced: Vec<String> = announced.into_iter().map(|(_, sha256)| sha256).collect();
        let expected: Vec<String> = files
            .iter()
            .map(|(_, bytes)| digest_by_definition(bytes))
            .collect();
        assert_eq!(announced, expected, "{race:?}");
    }
}

#[test]
fn a_wrong_block_digest_from_the_receivers_driver_refetches_then_fails_the_block() {
    let mut alice = Peer::new(IdParity::Even, 64 * 1024).hashing_blocks();
    let mut bob = Peer::new(IdParity::Odd, 64 * 1024);
    bob.engine.set_block_hashing(BlockHashing::Driver);
    let files = files_across_blocks();
    let id = alice.offer(&files);
    deliver(&mut alice, &mut bob, Race::ControlFirst);
    bob.accept(id);
    exchange(&mut alice, &mut bob, Race::ControlFirst);
    assert_eq!(
        bob.state(id),
        TransferState::Verifying,
        "no blocks hashed yet"
    );

    let report_wrong_digests = |bob: &mut Peer| {
        for block in 0..3 {
            bob.engine
                .on_block_digest(id, 1, block, [block as u8; 32])
                .unwrap();
        }
        bob.carry_out();
    };
    report_wrong_digests(&mut bob);
    let refetches = |bob: &Peer| {
        let refetch = |frame: &&ControlFrame| matches!(frame, ControlFrame::Refetch { .. });
        bob.sent.iter().filter(refetch).count()
    };
    assert_eq!(refetches(&bob), 3, "each block is asked for once more");
    assert_eq!(bob.state(id), TransferState::Transferring);
    exchange(&mut alice, &mut bob, Race::ControlFirst);
    report_wrong_digests(&mut bob);
    exchange(&mut alice, &mut bob, Race::ControlFirst);
    let mismatch = failed("block 0 of file 1 (blocks) did not match its SHA-256, twice");
    assert_eq!(bob.state(id), mismatch);
    assert_eq!(alice.state(id), mismatch);
    assert_eq!(refetches(&bob), 3, "a block is fetched again at most once");
    assert!(
        bob.kept.contains_key(&(id, 0)),
        "the empty file has no blocks to hash"
    );
    assert_eq!(bob.discarded, [(id, 1), (id, 2)]);
}

#[test]
fn block_digests_out_of_place_are_refused() {
    let (mut alice, mut bob) = (
        Peer::new(IdParity::Even, CHUNK_LEN),
        Peer::new(IdParity::Odd, CHUNK_LEN),
    );
    let id = alice.offer(&[("one", noise(10, 1))]);
    deliver(&mut alice, &mut bob, Race::ControlFirst);
    bob.accept(id);
    assert_eq!(
        bob.engine.on_block_digest(id, 0, 0, [0; 32]),
        Err(TransferError::EngineHashes)
    );
    assert_eq!(
        bob.engine.on_block_digest(id + 2, 0, 0, [0; 32]),
        Err(TransferError::UnknownTransfer(id + 2))
    );

    let mut alice = Peer::new(IdParity::Even, CHUNK_LEN).hashing_blocks();
    let id = alice.offer(&[("one", noise(10, 1))]);
    let (wrong_file, wrong_block) = (
        TransferError::NoSuchFile {
            transfer: id,
            index: 1,
        },
        TransferError::NoSuchBlock {
            transfer: id,
            index: 0,
            block: 1,
        },
    );
    assert!(matches!(
        alice.engine.on_block_digest(id, 0, 0, [0; 32]),
        Err(TransferError::Unexpected {
            what: "a block digest",
            ..
        })
    ));
    let mut bob = Peer::new(IdParity::Odd, CHUNK_LEN);
    deliver(&mut alice, &mut bob, Race::ControlFirst);
    bob.accept(id);
    deliver(&mut bob, &mut alice, Race::ControlFirst);
    assert_eq!(
        alice.engine.on_block_digest(id, 1, 0, [0; 32]),
        Err(wrong_file)
    );
    assert_eq!(
        alice.engine.on_block_digest(id, 0, 1, [0; 32]),
        Err(wrong_block)
    );
    alice.engine.on_block_digest(id, 0, 0, [0; 32]).unwrap();
    // A block read again (after a cut) must hash the same; another digest means the
    // file changed on disk.
    alice.engine.on_block_digest(id, 0, 0, [0; 32]).unwrap();
    assert!(alice.engine.get(id).unwrap().state().is_running());
    alice.engine.on_block_digest(id, 0, 0, [1; 32]).unwrap();
    assert!(matches!(
        alice.state(id),
        TransferState::Failed { reason } if reason.contains("read differently the second time")
    ));
}

#[test]
fn file_ends_carry_each_files_digest_and_chunks_respect_the_chunk_length() {
    let (mut alice, mut bob) = peers();
    let files = [
        ("empty", Vec::new()),
        ("abc", b"abc".to_vec()),
        ("noise", noise(5 * CHUNK_LEN + 1, 3)),
    ];
    let id = alice.offer(&files);
    deliver(&mut alice, &mut bob, Race::ControlFirst);
    bob.accept(id);
    deliver(&mut bob, &mut alice, Race::ControlFirst);
    alice.pump(usize::MAX);

    let chunk_lens: Vec<usize> = alice.data_out.iter().map(Vec::len).collect();
    let whole = CHUNK_HEADER_LEN + CHUNK_LEN;
    assert_eq!(chunk_lens[..2], [CHUNK_HEADER_LEN + 3, whole]);
    assert_eq!(chunk_lens.len(), 1 + 6, "a chunk never spans two files");

    let file_ends: Vec<(u32, String)> = alice
        .sent
        .iter()
        .filter_map(|frame| match frame {
            ControlFrame::FileEnd {
                transfer,
                index,
                sha256,
            } if *transfer == id => Some((*index, sha256.clone())),
            _ => None,
        })
        .collect();
    let expected: Vec<(u32, String)> = (0..)
        .zip(&files)
        .map(|(index, (_, bytes))| (index, digest_by_definition(bytes)))
        .collect();
    assert_eq!(file_ends, expected);
    assert_eq!(
        file_ends[0].1,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

#[test]
fn an_offer_of_only_empty_files_completes_without_a_chunk() {
    let (mut alice, mut bob) = peers();
    let id = alice.offer(&[("a", Vec::new()), ("b", Vec::new())]);
    deliver(&mut alice, &mut bob, Race::ControlFirst);
    bob.accept(id);
    exchange(&mut alice, &mut bob, Race::ControlFirst);
    assert!(alice.data_out.is_empty() && bob.partial.is_empty());
    assert_eq!(bob.kept[&(id, 0)], b"");
    assert_eq!(bob.kept[&(id, 1)], b"");
    assert_eq!(alice.state(id), TransferState::Done);
    assert_eq!(bob.state(id), TransferState::Done);
}

#[test]
fn a_declined_offer_ends_on_both_sides_and_sends_no_bytes() {
    let (mut alice, mut bob) = peers();
    let id = alice.offer(&[("secret.txt", b"no".to_vec())]);
    deliver(&mut alice, &mut bob, Race::ControlFirst);
    bob.engine.decline(id).unwrap();
    bob.carry_out();
    exchange(&mut alice, &mut bob, Race::ControlFirst);
    assert_eq!(alice.state(id), TransferState::Declined);
    assert_eq!(bob.state(id), TransferState::Declined);
    assert_eq!(alice.engine.next_read(), None);
    assert!(bob.kept.is_empty() && bob.partial.is_empty());
}

#[test]
fn the_sender_cancels_midway_and_chunks_in_flight_are_dropped() {
    let (mut alice, mut bob) = peers();
    let id = alice.offer(&[("big.bin", noise(8 * CHUNK_LEN, 1))]);
    deliver(&mut alice, &mut bob, Race::ControlFirst);
    bob.accept(id);
    deliver(&mut bob, &mut alice, Race::ControlFirst);
    alice.pump(3);
    let first = alice.data_out.pop_front().unwrap();
    assert!(bob.receive_data(&first));

    alice.cancel(id, "changed my mind");
    assert_eq!(alice.pump(usize::MAX), 0, "nothing more is read");
    // The cancel overtakes the two chunks still in flight, which are then dropped.
    deliver(&mut alice, &mut bob, Race::ControlFirst);
    assert_eq!(
        bob.engine.get(id).unwrap().progress().bytes_done,
        CHUNK_LEN as u64
    );

    assert_eq!(alice.state(id), cancelled(true, "changed my mind"));
    assert_eq!(bob.state(id), cancelled(false, "changed my mind"));
    assert_eq!(bob.discarded, [(id, 0)]);
    assert!(bob.partial.is_empty() && bob.kept.is_empty());

    let next = alice.offer(&[("small.txt", b"hello".to_vec())]);
    assert_ne!(next, id);
    deliver(&mut alice, &mut bob, Race::ControlFirst);
    bob.accept(next);
    exchange(&mut alice, &mut bob, Race::ControlFirst);
    assert_eq!(bob.kept[&(next, 0)], b"hello");
    assert_eq!(alice.state(next), TransferState::Done);
}

#[test]
fn the_receiver_cancels_midway_and_reads_and_chunks_in_flight_are_dropped() {
    let (mut alice, mut bob) = peers();
    let source = noise(8 * CHUNK_LEN, 2);
    let id = alice.offer(&[("big.bin", source.clone())]);
    deliver(&mut alice, &mut bob, Race::ControlFirst);
    bob.accept(id);
    deliver(&mut bob, &mut alice, Race::ControlFirst);
    alice.pump(2);
    let read_in_flight = alice.engine.next_read().unwrap();

    bob.cancel(id, "out of space");
    assert_eq!(bob.state(id), cancelled(true, "out of space"));
    assert_eq!(bob.discarded, [], "no byte had arrived");
    // Alice's chunks cross Bob's cancel on the wire.
    deliver(&mut alice, &mut bob, Race::DataFirst);
    assert!(bob.partial.is_empty());
    deliver(&mut bob, &mut alice, Race::ControlFirst);
    assert_eq!(alice.state(id), cancelled(false, "out of space"));

    let start = read_in_flight.offset as usize;
    let late = alice
        .engine
        .on_read(id, &source[start..start + read_in_flight.len])
        .unwrap();
    assert_eq!(late, None, "a read finishing after the cancel is dropped");
    assert_eq!(alice.engine.next_read(), None);

    // The other direction works on the same connection.
    let back = bob.offer(&[("reply.txt", b"ok".to_vec())]);
    deliver(&mut bob, &mut alice, Race::ControlFirst);
    alice.accept(back);
    exchange(&mut alice, &mut bob, Race::ControlFirst);
    assert_eq!(alice.kept[&(back, 0)], b"ok");
    assert_eq!(bob.state(back), TransferState::Done);
}

#[test]
fn a_chunk_damaged_on_the_way_is_fetched_again_and_the_file_verifies() {
    let (mut alice, mut bob) = peers();
    let source = noise(4 * CHUNK_LEN, 5);
    let id = alice.offer(&[
        ("fine.txt", b"fine".to_vec()),
        ("noise.bin", source.clone()),
    ]);
    deliver(&mut alice, &mut bob, Race::ControlFirst);
    bob.accept(id);
    deliver(&mut bob, &mut alice, Race::ControlFirst);
    alice.pump(usize::MAX);
    alice.data_out[2][CHUNK_HEADER_LEN + 100] ^= 0xff;
    exchange(&mut alice, &mut bob, Race::DataFirst);

    assert_eq!(bob.state(id), TransferState::Done);
    assert_eq!(alice.state(id), TransferState::Done);
    assert!(bob.sent.contains(&ControlFrame::Refetch {
        transfer: id,
        index: 1,
        block: 0
    }));
    assert!(bob.kept[&(id, 1)] == source);
    assert_eq!(
        alice.bytes_sent,
        4 + 2 * source.len() as u64,
        "only the damaged block is sent again"
    );
}

#[test]
fn a_block_read_damaged_once_is_fetched_again_alone() {
    for hashing in [false, true] {
        let (mut alice, mut bob) = (
            Peer::new(IdParity::Even, 64 * 1024),
            Peer::new(IdParity::Odd, 64 * 1024),
        );
        if hashing {
            (alice, bob) = (alice.hashing_blocks(), bob.hashing_blocks());
        }
        alice.corrupt = Some(Corruption {
            index: 0,
            block: 1,
            times: 1,
        });
        let source = noise(3 * DIGEST_BLOCK_LEN as usize + 10, 21);
        let id = alice.offer(&[("big.bin", source.clone())]);
        deliver(&mut alice, &mut bob, Race::ControlFirst);
        bob.accept(id);
        exchange(&mut alice, &mut bob, Race::ControlFirst);
        assert_eq!(
            bob.state(id),
            TransferState::Done,
            "hashing by driver: {hashing}"
        );
        assert!(bob.kept[&(id, 0)] == source);
        assert_eq!(
            alice.bytes_sent,
            source.len() as u64 + DIGEST_BLOCK_LEN,
            "block 1 twice, the others once"
        );
        // Each block is reported verified once, with its true digest: block 1 only
        // once it came again undamaged.
        let mut verified = bob.verified_blocks.clone();
        verified.sort_by_key(|&(_, _, block, _)| block);
        let expected: Vec<_> = source
            .chunks(DIGEST_BLOCK_LEN as usize)
            .zip(0..)
            .map(|(bytes, block)| (id, 0, block, Sha256::digest(bytes).into()))
            .collect();
        assert_eq!(verified, expected, "hashing by driver: {hashing}");
    }
}

#[test]
fn a_block_damaged_every_time_fails_the_transfer_and_nothing_is_kept() {
    let (mut alice, mut bob) = (
        Peer::new(IdParity::Even, 64 * 1024),
        Peer::new(IdParity::Odd, 64 * 1024),
    );
    alice.corrupt = Some(Corruption {
        index: 0,
        block: 0,
        times: usize::MAX,
    });
    let id = alice.offer(&[("bad.bin", noise(DIGEST_BLOCK_LEN as usize + 3, 22))]);
    deliver(&mut alice, &mut bob, Race::ControlFirst);
    bob.accept(id);
    exchange(&mut alice, &mut bob, Race::DataFirst);
    let reason = failed("block 0 of file 0 (bad.bin) did not match its SHA-256, twice");
    assert_eq!(bob.state(id), reason);
    assert_eq!(alice.state(id), reason);
    assert!(bob.kept.is_empty() && bob.partial.is_empty());
    assert_eq!(bob.discarded, [(id, 0)]);
}

#[test]
fn bytes_past_the_end_of_a_file_fail_the_transfer() {
    let (mut alice, mut bob) = peers();
    let id = alice.offer(&[("three", b"abc".to_vec()), ("two", b"de".to_vec())]);
    deliver(&mut alice, &mut bob, Race::ControlFirst);
    bob.accept(id);

    assert!(bob.receive_data(&chunk(id, b"ab")));
    // One byte of "three", two of "two": chunks never span files.
    assert!(!bob.receive_data(&chunk(id, b"cde")));
    let reason =
        "a data chunk ran past the end of file 0 (three); a chunk holds bytes of one file only";
    assert_eq!(bob.state(id), failed(reason));
    assert_eq!(bob.discarded, [(id, 0)]);
    assert!(!bob.receive_data(&chunk(id, b"more")), "later chunks drop");

    deliver(&mut bob, &mut alice, Race::ControlFirst);
    assert_eq!(alice.state(id), failed(reason));
}

/// An offer the receiver cannot take is answered with `Fail`, so the offering end's
/// transfer ends instead of waiting for an answer forever.
#[test]
fn refused_offers_are_answered_with_fail() {
    let (mut alice, mut bob) = peers();
    let id = alice.offer(&[("one", b"x".to_vec())]);
    deliver(&mut alice, &mut bob, Race::ControlFirst);
    let refused = [
        (3, vec![meta("mine", 1)], TransferError::WrongParity(3)),
        (
            id,
            vec![meta("again", 1)],
            TransferError::DuplicateTransfer(id),
        ),
        (4, vec![], TransferError::EmptyOffer),
    ];
    for (transfer, files, error) in refused {
        let offer = ControlFrame::Offer {
            transfer,
            files,
            swarm: None,
        };
        assert_eq!(bob.engine.on_control(offer), Err(error.clone()));
        let reason = format!("offer refused: {error}");
        assert_eq!(
            bob.engine.poll_output(),
            Some(Output::Control(ControlFrame::Fail { transfer, reason }))
        );
    }
    assert_eq!(bob.engine.poll_output(), None);
    assert_eq!(
        bob.state(id),
        TransferState::Offered,
        "the first offer stands"
    );
}

#[test]
fn bytes_after_the_last_file_fail_the_transfer() {
    let (mut alice, mut bob) = peers();
    let id = alice.offer(&[("one", b"x".to_vec())]);
    deliver(&mut alice, &mut bob, Race::ControlFirst);
    bob.accept(id);
    assert!(bob.receive_data(&chunk(id, b"x")));
    assert_eq!(bob.state(id), TransferState::Verifying);
    assert!(!bob.receive_data(&chunk(id, b"y")));
    assert!(matches!(bob.state(id), TransferState::Failed { .. }));
    assert_eq!(bob.discarded, [(id, 0)], "an unverified file is discarded");
}

#[test]
fn a_file_that_changes_while_being_read_fails_both_sides() {
    let (mut alice, mut bob) = peers();
    let id = alice.offer(&[("log.txt", noise(2 * CHUNK_LEN, 4))]);
    deliver(&mut alice, &mut bob, Race::ControlFirst);
    bob.accept(id);
    deliver(&mut bob, &mut alice, Race::ControlFirst);
    alice.pump(1);
    deliver(&mut alice, &mut bob, Race::ControlFirst);

    let read = alice.engine.next_read().unwrap();
    assert_eq!((read.offset, read.len), (CHUNK_LEN as u64, CHUNK_LEN));
    let truncated = vec![0; read.len - 1];
    assert_eq!(alice.engine.on_read(id, &truncated), Ok(None));
    alice.carry_out();
    let TransferState::Failed { reason } = alice.state(id) else {
        panic!("the sender should have failed, is {:?}", alice.state(id));
    };
    deliver(&mut alice, &mut bob, Race::ControlFirst);
    assert_eq!(bob.state(id), failed(&reason));
    assert_eq!(bob.discarded, [(id, 0)]);
}

#[test]
fn each_transfer_has_one_read_outstanding_and_the_chunk_length_can_change() {
    let (mut alice, mut bob) = peers();
    let id = alice.offer(&[("f", noise(10_000, 6))]);
    deliver(&mut alice, &mut bob, Race::ControlFirst);
    assert_eq!(alice.engine.next_read(), None, "nothing before the accept");
    bob.accept(id);
    deliver(&mut bob, &mut alice, Race::ControlFirst);

    let first = alice.engine.next_read().unwrap();
    assert_eq!((first.index, first.offset, first.len), (0, 0, CHUNK_LEN));
    assert_eq!(
        alice.engine.next_read(),
        None,
        "the first read is outstanding"
    );
    let bytes = alice.sources[&id][0][..first.len].to_vec();
    assert!(alice.engine.on_read(id, &bytes).unwrap().is_some());

    alice
        .engine
        .set_chunk_len(std::num::NonZeroUsize::new(1000).unwrap());
    let second = alice.engine.next_read().unwrap();
    assert_eq!((second.offset, second.len), (CHUNK_LEN as u64, 1000));
}

#[test]
fn transfers_in_both_directions_interleave_on_one_connection() {
    let (mut alice, mut bob) = peers();
    let to_bob = alice.offer(&[("a1", noise(7 * CHUNK_LEN + 5, 8)), ("a2", vec![1])]);
    let to_alice = bob.offer(&[("b1", noise(9 * CHUNK_LEN, 9))]);
    let to_bob_too = alice.offer(&[("a3", noise(3 * CHUNK_LEN, 10))]);
    assert!([to_bob, to_bob_too].iter().all(|id| id % 2 == 0));
    assert_eq!(to_alice % 2, 1, "the two ends pick ids of opposite parity");

    deliver(&mut alice, &mut bob, Race::ControlFirst);
    deliver(&mut bob, &mut alice, Race::ControlFirst);
    bob.accept(to_bob);
    bob.accept(to_bob_too);
    alice.accept(to_alice);
    exchange(&mut alice, &mut bob, Race::DataFirst);

    for (sender, receiver, id, files) in [
        (&alice, &bob, to_bob, 2),
        (&alice, &bob, to_bob_too, 1),
        (&bob, &alice, to_alice, 1),
    ] {
        for index in 0..files {
            assert_eq!(
                receiver.kept[&(id, index)],
                sender.sources[&id][index as usize]
            );
        }
        assert_eq!(sender.state(id), TransferState::Done);
        assert_eq!(receiver.state(id), TransferState::Done);
    }
}

#[test]
fn crossing_cancels_and_answers_change_nothing_more() {
    let (mut alice, mut bob) = peers();
    let id = alice.offer(&[("f", noise(4 * CHUNK_LEN, 11))]);
    deliver(&mut alice, &mut bob, Race::ControlFirst);
    bob.accept(id);
    deliver(&mut bob, &mut alice, Race::ControlFirst);
    alice.pump(1);
    alice.cancel(id, "alice stops");
    bob.cancel(id, "bob stops");
    deliver(&mut alice, &mut bob, Race::DataFirst);
    deliver(&mut bob, &mut alice, Race::DataFirst);
    assert_eq!(alice.state(id), cancelled(true, "alice stops"));
    assert_eq!(bob.state(id), cancelled(true, "bob stops"));

    // An accept that crosses the sender's cancel of its offer is dropped too.
    let offer = alice.offer(&[("g", b"g".to_vec())]);
    deliver(&mut alice, &mut bob, Race::ControlFirst);
    alice.cancel(offer, "too slow");
    bob.accept(offer);
    deliver(&mut bob, &mut alice, Race::ControlFirst);
    assert_eq!(alice.state(offer), cancelled(true, "too slow"));
    assert_eq!(alice.engine.next_read(), None);
}

#[test]
fn refused_inputs_change_nothing() {
    let (mut alice, mut bob) = peers();
    let id = alice.offer(&[("a", b"abc".to_vec()), ("b", b"de".to_vec())]);
    deliver(&mut alice, &mut bob, Race::ControlFirst);

    let unexpected = |what, state| TransferError::Unexpected {
        transfer: id,
        what,
        state,
    };
    let file_end = |index: u32| ControlFrame::FileEnd {
        transfer: id,
        index,
        sha256: "00".into(),
    };
    let offered = TransferState::Offered;
    let transferring = TransferState::Transferring;

    // Before the answer.
    assert_eq!(
        bob.engine.on_chunk(&chunk(id, b"a")),
        Err(unexpected("a data chunk", offered.clone()))
    );
    assert_eq!(
        bob.engine.on_control(file_end(0)),
        Err(unexpected("a FileEnd", offered.clone()))
    );
    assert_eq!(
        alice
            .engine
            .on_control(ControlFrame::Complete { transfer: id }),
        Err(unexpected("a Complete", offered.clone()))
    );
    assert_eq!(
        alice.engine.on_read(id, b"abc"),
        Err(unexpected("a read nobody asked for", offered.clone()))
    );
    assert_eq!(
        alice.engine.accept(id),
        Err(TransferError::UnknownTransfer(id)),
        "only incoming transfers are accepted"
    );
    assert_eq!(alice.engine.offer(vec![]), Err(TransferError::EmptyOffer));
    assert_eq!(
        bob.engine.on_control(ControlFrame::Accept {
            transfer: 99,
            swarm: false,
        }),
        Err(TransferError::UnknownTransfer(99))
    );
    assert_eq!(
        bob.engine.on_control(ControlFrame::Chat {
            id: String::new(),
            text: "hi".into(),
            sent_at_ms: 0,
            private: false,
        }),
        Err(TransferError::NotATransferFrame)
    );
    assert!(matches!(
        bob.engine.on_chunk(&[0, 0]),
        Err(TransferError::ShortChunk(_))
    ));
    assert_eq!(bob.engine.poll_output(), None);
    assert_eq!(alice.engine.poll_output(), None);

    // While transferring.
    bob.accept(id);
    assert_eq!(
        bob.engine.accept(id),
        Err(unexpected("accepting", transferring.clone()))
    );
    deliver(&mut bob, &mut alice, Race::ControlFirst);
    assert_eq!(
        alice.engine.on_control(ControlFrame::Accept {
            transfer: id,
            swarm: false,
        }),
        Err(unexpected("an Accept", transferring.clone()))
    );
    assert_eq!(
        alice
            .engine
            .on_control(ControlFrame::Decline { transfer: id }),
        Err(unexpected("a Decline", transferring.clone()))
    );
    assert_eq!(
        bob.engine.on_control(file_end(2)),
        Err(TransferError::NoSuchFile {
            transfer: id,
            index: 2
        })
    );
    bob.receive_control(file_end(0));
    assert_eq!(
        bob.engine.on_control(file_end(0)),
        Err(TransferError::DuplicateFileEnd {
            transfer: id,
            index: 0
        })
    );
    assert_eq!(bob.engine.poll_output(), None);
    assert_eq!(alice.engine.poll_output(), None);

    // None of it got in the way: the bogus digest of file 0 is what fails it.
    exchange(&mut alice, &mut bob, Race::DataFirst);
    let bad_digest = failed("file 0 (a) does not match its SHA-256");
    assert_eq!(alice.state(id), bad_digest);
    assert_eq!(bob.state(id), bad_digest);
    assert_eq!(
        bob.engine.cancel(id, "late"),
        Err(unexpected("cancelling", bad_digest))
    );
}

#[test]
fn an_engine_that_hashes_blocks_refuses_bytes_the_driver_kept_and_carries_on() {
    let (mut alice, mut bob) = peers();
    let id = alice.offer(&[("a", b"abc".to_vec())]);
    deliver(&mut alice, &mut bob, Race::ControlFirst);
    bob.accept(id);
    deliver(&mut bob, &mut alice, Race::ControlFirst);

    let read = alice.engine.next_read().expect("alice reads her file");
    assert_eq!(
        alice.engine.on_read_held(id, read.len),
        Err(TransferError::EngineNeedsBytes)
    );
    let sent = alice.engine.on_read(id, b"abc").unwrap();
    assert!(sent.is_some(), "the refused call changed nothing");
    alice.carry_out();
    assert_eq!(
        bob.engine.on_chunk_held(DataChunk::header(id), 3),
        Err(TransferError::EngineNeedsBytes)
    );
    assert!(bob.receive_data(&chunk(id, b"abc")));
    exchange(&mut alice, &mut bob, Race::ControlFirst);
    assert_eq!(bob.state(id), TransferState::Done);
}

#[test]
fn finished_transfers_refuse_what_only_a_running_one_takes() {
    let (mut alice, mut bob) = peers();
    let id = alice.offer(&[("a", b"a".to_vec())]);
    deliver(&mut alice, &mut bob, Race::ControlFirst);
    bob.accept(id);
    exchange(&mut alice, &mut bob, Race::ControlFirst);
    assert_eq!(alice.state(id), TransferState::Done);

    let done = TransferState::Done;
    // A receiver repeats its `complete` on a new link, in case it was lost.
    alice
        .engine
        .on_control(ControlFrame::Complete { transfer: id })
        .unwrap();
    assert_eq!(alice.engine.poll_output(), None);
    assert_eq!(
        bob.engine.on_chunk(&chunk(id, b"b")),
        Err(TransferError::Unexpected {
            transfer: id,
            what: "a data chunk",
            state: done.clone()
        })
    );
    assert_eq!(
        alice.engine.cancel(id, "too late"),
        Err(TransferError::Unexpected {
            transfer: id,
            what: "cancelling",
            state: done
        })
    );
    // A cancel or fail from the peer that crossed the Complete is no error.
    assert_eq!(
        bob.engine.on_control(ControlFrame::Cancel {
            transfer: id,
            reason: "crossed".into()
        }),
        Ok(())
    );
    assert_eq!(
        bob.engine.on_control(ControlFrame::Fail {
            transfer: id,
            reason: "crossed".into()
        }),
        Ok(())
    );
    assert_eq!(bob.state(id), TransferState::Done);
    assert_eq!(bob.engine.poll_output(), None);
}

#[test]
fn the_ui_learns_of_incoming_offers_from_state_outputs() {
    let mut alice = Transfers::new(IdParity::Even);
    let mut bob = Transfers::new(IdParity::Odd);
    let id = alice.offer(vec![meta("photo.jpg", 2048)]).unwrap();
    assert_eq!(
        alice.poll_output(),
        Some(Output::State {
            transfer: id,
            state: TransferState::Offered
        })
    );
    let Some(Output::Control(offer)) = alice.poll_output() else {
        panic!("the offer frame follows");
    };
    bob.on_control(offer).unwrap();
    assert_eq!(
        bob.poll_output(),
        Some(Output::State {
            transfer: id,
            state: TransferState::Offered
        })
    );
    let incoming = bob.get(id).unwrap();
    assert_eq!(incoming.direction(), Direction::Incoming);
    assert_eq!(incoming.files(), [meta("photo.jpg", 2048)]);
    assert_eq!(
        incoming.progress(),
        Progress {
            bytes_done: 0,
            bytes_total: 2048
        }
    );
    assert_eq!(incoming.progress().fraction(), 0.0);
}

#[test]
fn a_peer_gone_for_good_fails_what_was_running_and_keeps_what_was_done() {
    let (mut alice, mut bob) = peers();
    let done = alice.offer(&[("done.txt", b"done".to_vec())]);
    deliver(&mut alice, &mut bob, Race::ControlFirst);
    bob.accept(done);
    exchange(&mut alice, &mut bob, Race::ControlFirst);
    let running = alice.offer(&[("big.bin", noise(4 * CHUNK_LEN, 12))]);
    deliver(&mut alice, &mut bob, Race::ControlFirst);
    bob.accept(running);
    deliver(&mut bob, &mut alice, Race::ControlFirst);
    alice.pump(1);
    deliver(&mut alice, &mut bob, Race::ControlFirst);

    // A lost link only pauses the transfer...
    reconnect(&mut alice, &mut bob);
    assert_eq!(bob.state(running), TransferState::Transferring);
    // ...the peer gone for good fails it, paused or not.
    alice.link_down();
    bob.link_down();
    let lost = TransferState::Failed {
        reason: "connection lost".into(),
    };
    for peer in [&mut alice, &mut bob] {
        peer.engine.on_disconnect("connection lost");
        peer.carry_out();
        assert_eq!(peer.state(running), lost);
        assert_eq!(peer.state(done), TransferState::Done);
        assert!(peer.control_out.is_empty(), "there is nobody left to tell");
    }
    assert_eq!(bob.discarded, [(running, 0)]);
    assert_eq!(bob.kept[&(done, 0)], b"done");
}

#[test]
fn a_receiver_that_cannot_store_an_offer_fails_it_and_the_sender_learns_why() {
    let (mut alice, mut bob) = peers();
    let id = alice.offer(&[("photo.jpg", noise(3 * CHUNK_LEN, 2))]);
    deliver(&mut alice, &mut bob, Race::ControlFirst);

    let reason = "the receiving page cannot store files";
    bob.engine.fail(id, reason).unwrap();
    bob.carry_out();
    deliver(&mut bob, &mut alice, Race::ControlFirst);

    assert_eq!(bob.state(id), failed(reason));
    assert_eq!(alice.state(id), failed(reason));
    assert_eq!(alice.pump(usize::MAX), 0, "nothing is sent");
    assert!(matches!(
        bob.engine.fail(id, "again"),
        Err(TransferError::Unexpected { .. })
    ));
}

#[test]
fn block_frames_out_of_place_are_refused_and_a_malformed_digest_fails() {
    let (mut alice, mut bob) = peers();
    let id = alice.offer(&[("a", b"abc".to_vec())]);
    deliver(&mut alice, &mut bob, Race::ControlFirst);
    bob.accept(id);
    let block = |index, block, sha256: &str| ControlFrame::Block {
        transfer: id,
        index,
        block,
        sha256: sha256.into(),
    };
    assert_eq!(
        bob.engine.on_control(block(0, 1, &"00".repeat(32))),
        Err(TransferError::NoSuchBlock {
            transfer: id,
            index: 0,
            block: 1
        })
    );
    assert_eq!(
        bob.engine.on_control(block(1, 0, &"00".repeat(32))),
        Err(TransferError::NoSuchFile {
            transfer: id,
            index: 1
        })
    );
    assert_eq!(bob.state(id), TransferState::Transferring);
    bob.receive_control(block(0, 0, "not hex"));
    let reason = failed("the digest of block 0 of file 0 is not 64 hexadecimal digits");
    assert_eq!(bob.state(id), reason);
    deliver(&mut bob, &mut alice, Race::ControlFirst);
    assert_eq!(alice.state(id), reason);
}
