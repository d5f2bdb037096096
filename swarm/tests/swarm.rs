//! Swarms driven in memory: an origin and receivers whose frames and pieces the tests
//! carry by hand, each member uploading one block per round, as equal uplinks would.

use std::collections::{BTreeMap, VecDeque};

use meshdrop_protocol::frame::{SwarmBits, SwarmFrame, SwarmPiece};
use meshdrop_protocol::PeerId;
use meshdrop_swarm::{pieces, Output, Swarm, SwarmError};
use meshdrop_transfer::DIGEST_BLOCK_LEN;

const MIB: usize = DIGEST_BLOCK_LEN as usize;
/// Bytes per piece, as a native peer's data channel takes them.
const PIECE: usize = 64 * 1024;
const SWARM: u32 = 0x5eed;

fn id(n: usize) -> PeerId {
    PeerId::new(format!("{n:04x}000000000000")).unwrap()
}

/// Bytes nobody would guess, the same on every run.
fn content(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

struct Member {
    id: PeerId,
    swarm: Swarm,
    /// The files as this member holds them (the origin's from the start).
    files: Vec<Vec<u8>>,
    /// Peers waiting for blocks, served in turn.
    ready: VecDeque<PeerId>,
    /// Serves every block with one byte flipped.
    corrupt: bool,
    /// Refuses every block it is asked for, though it holds it.
    refusing: bool,
    here: bool,
    /// Whether it said `Output::Complete`.
    completed: bool,
    files_complete: BTreeMap<u32, String>,
    dropped_sources: Vec<PeerId>,
    origin_left: Option<bool>,
    /// How often it said `Output::EveryBlockOut`.
    every_block_out: usize,
}

impl Member {
    fn new(id: PeerId, swarm: Swarm, files: Vec<Vec<u8>>) -> Self {
        Self {
            id,
            swarm,
            files,
            ready: VecDeque::new(),
            corrupt: false,
            refusing: false,
            here: true,
            completed: false,
            files_complete: BTreeMap::new(),
            dropped_sources: Vec::new(),
            origin_left: None,
            every_block_out: 0,
        }
    }
}

/// An origin (member 0) and receivers, all linked to each other.
struct Room {
    members: Vec<Member>,
    sizes: Vec<u64>,
    round: u32,
    /// Blocks each member uploaded.
    uploads: Vec<u32>,
}

impl Room {
    /// An origin with files of `sizes` and `receivers` receivers, all accepted at once.
    fn new(sizes: &[u64], receivers: usize) -> Self {
        let files: Vec<Vec<u8>> = sizes
            .iter()
            .enumerate()
            .map(|(n, size)| content(*size as usize, n as u64 + 1))
            .collect();
        let swarm = Swarm::origin(SWARM, id(0), sizes.to_vec()).unwrap();
        let origin = Member::new(id(0), swarm, files);
        let mut room = Self {
            members: vec![origin],
            sizes: sizes.to_vec(),
            round: 0,
            uploads: vec![0],
        };
        for _ in 0..receivers {
            room.add_receiver();
        }
        room
    }

    /// One more receiver accepts now.
    fn add_receiver(&mut self) -> usize {
        let n = self.members.len();
        let swarm = Swarm::receiver(SWARM, id(n), id(0), self.sizes.clone()).unwrap();
        let files = self.sizes.iter().map(|size| vec![0; *size as usize]);
        self.members
            .push(Member::new(id(n), swarm, files.collect()));
        self.uploads.push(0);
        self.members[0].swarm.add_receiver(id(n)).unwrap();
        self.settle();
        n
    }

    fn index(&self, peer: &PeerId) -> usize {
        self.members.iter().position(|m| m.id == *peer).unwrap()
    }

    /// Carries control frames until none is left.
    fn settle(&mut self) {
        loop {
            let mut frames = Vec::new();
            for (from, member) in self.members.iter_mut().enumerate() {
                while let Some(output) = member.swarm.poll_output() {
                    match output {
                        Output::Send { to, frame } => frames.push((from, to, frame)),
                        Output::ServeReady { to } if !member.ready.contains(&to) => {
                            member.ready.push_back(to)
                        }
                        Output::ServeReady { .. } => {}
                        Output::Write {
                            index,
                            offset,
                            bytes,
                        } => {
                            let offset = offset as usize;
                            member.files[index as usize][offset..offset + bytes.len()]
                                .copy_from_slice(&bytes);
                        }
                        Output::FileComplete { index, sha256 } => {
                            member.files_complete.insert(index, sha256);
                        }
                        Output::Complete => member.completed = true,
                        Output::SourceDropped { peer, .. } => member.dropped_sources.push(peer),
                        Output::OriginLeft {
                            finishing_from_peers,
                        } => member.origin_left = Some(finishing_from_peers),
                        Output::EveryBlockOut => member.every_block_out += 1,
                    }
                }
            }
            if frames.is_empty() {
                return;
            }
            for (from, to, frame) in frames {
                let from_id = self.members[from].id.clone();
                let to = self.index(&to);
                if self.members[to].here && self.members[from].here {
                    self.members[to].swarm.on_frame(&from_id, frame).unwrap();
                }
            }
        }
    }

    /// One round: every member still here uploads one block to the next peer waiting.
    fn round(&mut self) {
        self.round += 1;
        for from in 0..self.members.len() {
            self.upload(from);
        }
    }

    /// Member `from`, if still here, uploads one block to the next peer waiting.
    fn upload(&mut self, from: usize) {
        if self.members[from].here {
            let Some((to, block)) = self.next_upload(from) else {
                return;
            };
            let member = &mut self.members[from];
            if member.refusing {
                member.swarm.cannot_serve(&to, block);
                self.settle();
                return;
            }
            let place = member.swarm.layout().place(block);
            let span = place.span.start as usize..place.span.end as usize;
            let mut bytes = member.files[place.index as usize][span].to_vec();
            member.swarm.served(&to, block, &bytes).unwrap();
            if member.corrupt {
                bytes[0] ^= 1;
            }
            self.uploads[from] += 1;
            let from_id = self.members[from].id.clone();
            let to = self.index(&to);
            let mut wire = Vec::new();
            for piece in pieces(SWARM, block, &bytes, PIECE) {
                piece.encode_into(&mut wire);
                let piece = SwarmPiece::decode(&wire).unwrap();
                self.members[to].swarm.on_piece(&from_id, piece).unwrap();
            }
            self.settle();
        }
    }

    fn next_upload(&mut self, from: usize) -> Option<(PeerId, u32)> {
        let member = &mut self.members[from];
        while let Some(to) = member.ready.pop_front() {
            if let Some(block) = member.swarm.next_serve(&to) {
                member.ready.push_back(to.clone());
                return Some((to, block));
            }
        }
        None
    }

    /// Rounds until every receiver still here is complete; panics after `limit`.
    fn run(&mut self, limit: u32) -> u32 {
        while !self.members[1..]
            .iter()
            .filter(|m| m.here)
            .all(|m| m.swarm.is_complete())
        {
            assert!(self.round < limit, "not done after {limit} rounds");
            self.round();
        }
        self.round
    }

    /// `n` leaves: the others hear it from the room.
    fn leave(&mut self, n: usize) {
        self.members[n].here = false;
        let gone = self.members[n].id.clone();
        for member in self.members.iter_mut().filter(|m| m.here) {
            member.swarm.peer_left(&gone);
        }
        self.settle();
    }

    fn assert_receivers_hold_the_files(&self) {
        let origin = &self.members[0];
        for member in self.members[1..].iter().filter(|m| m.here) {
            assert!(member.swarm.is_complete(), "{} complete", member.id);
            assert!(
                member.files == origin.files,
                "{} holds the origin's bytes",
                member.id
            );
            assert_eq!(member.files_complete.len(), self.sizes.len());
            assert!(member.completed, "{} said it is complete", member.id);
        }
    }
}

/// 25 blocks over three files, one of them empty.
fn sizes() -> Vec<u64> {
    vec![20 * MIB as u64 + 7, 0, 3 * MIB as u64 + 5]
}

#[test]
fn four_receivers_get_every_block_while_the_origin_uploads_each_about_once() {
    let blocks = 25;
    let mut alone = Room::new(&sizes(), 1);
    let rounds_alone = alone.run(100);
    alone.assert_receivers_hold_the_files();

    let mut room = Room::new(&sizes(), 4);
    let rounds = room.run(200);
    room.assert_receivers_hold_the_files();
    for member in &room.members[1..] {
        let progress = member.swarm.progress();
        assert!(
            progress.from_peers > 0,
            "{} got blocks from peers",
            member.id
        );
        assert_eq!(progress.from_origin + progress.from_peers, progress.total);
    }
    let mut eight = Room::new(&sizes(), 8);
    let rounds_eight = eight.run(200);
    eight.assert_receivers_hold_the_files();
    // Plain fan-out would take 4 × 25 rounds and 100 uploads from the origin.
    println!(
        "1 receiver: {rounds_alone} rounds; 4: {rounds} rounds, the origin uploaded {} blocks; \
         8: {rounds_eight} rounds, {} blocks",
        room.uploads[0], eight.uploads[0]
    );
    assert!(rounds_alone >= blocks);
    assert!(
        rounds * 4 <= rounds_alone * 5,
        "4 receivers: {rounds} rounds"
    );
    assert_eq!(room.uploads[0], blocks, "each block left the origin once");
    assert_eq!(eight.uploads[0], blocks, "each block left the origin once");
    assert!(
        rounds_eight * 2 <= rounds_alone * 3,
        "8 receivers: {rounds_eight} rounds"
    );
    // The file digests are the transfer engine's, the same at every receiver.
    let digests: Vec<_> = room.members[1..]
        .iter()
        .map(|m| &m.files_complete)
        .collect();
    assert!(digests.windows(2).all(|pair| pair[0] == pair[1]));
}

#[test]
fn a_receiver_that_accepts_late_catches_up_from_everyone() {
    let mut room = Room::new(&sizes(), 3);
    while room.members[1].swarm.progress().held < room.members[1].swarm.progress().total / 2 {
        room.round();
    }
    let late = room.add_receiver();
    room.run(200);
    room.assert_receivers_hold_the_files();
    let progress = room.members[late].swarm.progress();
    assert!(
        progress.from_peers > progress.from_origin,
        "most from peers: {progress:?}"
    );
}

#[test]
fn a_receiver_leaving_half_way_does_not_stall_the_others() {
    let mut room = Room::new(&sizes(), 4);
    while room.members[2].swarm.progress().held < room.members[2].swarm.progress().total / 2 {
        room.round();
    }
    room.leave(2);
    room.run(200);
    room.assert_receivers_hold_the_files();
}

#[test]
fn once_every_block_is_at_some_receiver_the_origin_may_leave() {
    let mut room = Room::new(&sizes(), 3);
    let everywhere =
        |room: &Room| (0..25).all(|block| room.members[1..].iter().any(|m| m.swarm.holds(block)));
    // Only the origin uploads until every block is at some receiver, which it says
    // once, as soon as it is so.
    while room.members[0].every_block_out == 0 {
        assert!(!everywhere(&room));
        room.upload(0);
    }
    assert!(everywhere(&room));
    assert_eq!(room.members[0].every_block_out, 1);
    assert!(room.members[1..].iter().all(|m| !m.swarm.is_complete()));
    room.leave(0);
    for member in &room.members[1..] {
        if !member.swarm.is_complete() {
            assert_eq!(
                member.origin_left,
                Some(true),
                "{} finishes from peers",
                member.id
            );
        }
    }
    room.run(200);
    room.assert_receivers_hold_the_files();
}

#[test]
fn a_member_serving_bad_blocks_is_dropped_and_every_file_still_arrives() {
    let mut room = Room::new(&sizes(), 3);
    room.members[1].corrupt = true;
    room.run(300);
    for member in &room.members[2..] {
        assert_eq!(
            member.dropped_sources,
            [id(1)],
            "{} dropped the liar",
            member.id
        );
    }
    // The liar's own copy is good: it checked what it received.
    room.assert_receivers_hold_the_files();
}

/// A member may refuse a block it said it holds (its storage failed to read it): the
/// asker then gets it elsewhere, from the origin if nobody else has it, though the origin
/// gave it to that member first.
#[test]
fn a_member_refusing_blocks_it_holds_does_not_stall_the_others() {
    let mut room = Room::new(&sizes(), 3);
    room.members[1].refusing = true;
    room.run(300);
    room.assert_receivers_hold_the_files();
}

#[test]
fn input_that_breaks_the_rules_is_refused_and_changes_nothing() {
    let mut room = Room::new(&sizes(), 2);
    let stranger = id(9);
    let other = id(2);
    let swarm = &mut room.members[1].swarm;
    let want = |block| SwarmFrame::Want {
        swarm: SWARM,
        block,
    };
    // A stranger gets no block: its want is refused.
    assert_eq!(swarm.on_frame(&stranger, want(0)), Ok(()));
    assert_eq!(
        swarm.poll_output(),
        Some(Output::Send {
            to: stranger.clone(),
            frame: SwarmFrame::Refuse {
                swarm: SWARM,
                block: 0
            }
        })
    );
    let got = SwarmFrame::Got {
        swarm: SWARM,
        block: 0,
    };
    assert_eq!(
        swarm.on_frame(&stranger, got),
        Err(SwarmError::NotMember(stranger.clone()))
    );
    assert!(matches!(
        swarm.on_frame(&other, want(25)),
        Err(SwarmError::NoSuchBlock {
            block: 25,
            blocks: 25
        })
    ));
    let members = SwarmFrame::Members {
        swarm: SWARM,
        peers: vec![stranger.clone()],
    };
    assert_eq!(
        swarm.on_frame(&other, members),
        Err(SwarmError::NotOrigin("swarm_members"))
    );
    let digests = SwarmFrame::Digests {
        swarm: SWARM,
        first: 0,
        sha256: vec!["00".repeat(32)],
    };
    assert_eq!(
        swarm.on_frame(&other, digests),
        Err(SwarmError::NotOrigin("swarm_digests"))
    );
    let short = SwarmFrame::Have {
        swarm: SWARM,
        blocks: SwarmBits("ff".into()),
    };
    assert!(matches!(
        swarm.on_frame(&other, short),
        Err(SwarmError::BadBits(_))
    ));
    assert_eq!(
        swarm.on_frame(&other, SwarmFrame::Got { swarm: 7, block: 0 }),
        Err(SwarmError::OtherSwarm(7))
    );
    let piece = SwarmPiece {
        swarm: SWARM,
        block: 3,
        offset: 10,
        payload: b"late",
    };
    assert!(matches!(
        swarm.on_piece(&other, piece),
        Err(SwarmError::PieceOutOfOrder {
            block: 3,
            offset: 10,
            held: 0
        })
    ));
    assert!(swarm.poll_output().is_none(), "nothing said");
    // The swarm still completes.
    room.run(200);
    room.assert_receivers_hold_the_files();
}
