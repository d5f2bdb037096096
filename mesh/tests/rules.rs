//! The mesh rules, driven in memory: peers, a signaling server, wires that are cut and
//! mended, and a fake clock (see `world`).

mod world;

use meshdrop_mesh::Output;
use world::{id, secs, World};

fn is_open(o: &Output) -> bool {
    matches!(o, Output::OpenLink { .. })
}
fn is_restart(o: &Output) -> bool {
    matches!(o, Output::RestartIce { .. })
}
fn is_link_down(o: &Output) -> bool {
    matches!(o, Output::LinkDown { .. })
}
fn is_rebuilt(o: &Output) -> bool {
    matches!(
        o,
        Output::OpenLink { rebuild: true, .. } | Output::AnswerOffer { rebuild: true, .. }
    )
}

fn two_linked() -> World {
    let mut world = World::new();
    world.join("alice");
    world.join("bob");
    world.run_for(secs(1));
    assert!(world.linked("alice", "bob"));
    world
}

#[test]
fn the_newcomer_offers_and_the_other_answers() {
    let world = two_linked();
    assert_eq!(world.count("bob", is_open), 1, "{:?}", world.outputs("bob"));
    assert_eq!(world.count("alice", is_open), 0);
    assert_eq!(
        world.count("alice", |o| matches!(o, Output::AnswerOffer { .. })),
        1
    );
    assert!(world.up_since("alice", "bob").is_some());
    assert!(world.up_since("bob", "alice").is_some());
    assert_eq!(world.connections("alice"), 1);
}

/// Three peers wait in a room and dave opens it.
fn dave_joins_three(cut_from_alice: bool) -> World {
    let mut world = World::new();
    for name in ["alice", "bob", "carol"] {
        world.join(name);
    }
    world.run_for(secs(1));
    world.clear_logs();
    if cut_from_alice {
        world.cut("alice", "dave");
    }
    world.join("dave");
    world
}

#[test]
fn a_newcomer_offers_to_one_peer_first_and_to_the_rest_once_that_link_is_up() {
    let mut world = dave_joins_three(false);
    world.run_for(secs(1));
    for peer in ["alice", "bob", "carol"] {
        assert!(world.linked("dave", peer), "dave and {peer}");
    }
    let log = world.outputs("dave");
    let opens: Vec<usize> = (0..log.len()).filter(|i| is_open(&log[*i])).collect();
    let first_up = log.iter().position(|o| matches!(o, Output::LinkUp { .. }));
    assert_eq!(opens.len(), 3, "{log:?}");
    assert_eq!(
        log[opens[0]],
        Output::OpenLink {
            peer: id("alice"),
            link: meshdrop_mesh::LinkId(1),
            rebuild: false
        }
    );
    assert!(first_up.unwrap() < opens[1], "{log:?}");
}

#[test]
fn held_offers_go_out_after_the_hold_when_the_first_link_does_not_come_up() {
    let mut world = dave_joins_three(true);
    let hold = meshdrop_mesh::Config::default().hold_offers_for;
    world.run_for(hold - world::TICK);
    assert_eq!(
        world.count("dave", is_open),
        1,
        "{:?}",
        world.outputs("dave")
    );
    world.run_for(world::TICK);
    assert_eq!(
        world.count("dave", is_open),
        3,
        "{:?}",
        world.outputs("dave")
    );
    assert!(world.linked("dave", "bob") && world.linked("dave", "carol"));
    assert!(!world.linked("dave", "alice"));
    world.mend("alice", "dave");
    world.run_for(secs(11));
    assert!(
        world.linked("dave", "alice"),
        "the first link is rebuilt as before"
    );
}

#[test]
fn a_short_cut_is_mended_by_one_ice_restart_of_the_offerer() {
    let mut world = two_linked();
    world.clear_logs();
    world.cut("alice", "bob");
    world.run_for(secs(8));
    assert_eq!(world.count("alice", is_link_down), 1);
    assert_eq!(world.count("bob", is_link_down), 1);
    world.mend("alice", "bob");
    let mended = world.now;
    world.run_for(secs(3));
    assert!(world.linked("alice", "bob"));
    assert_eq!(
        world.count("bob", is_restart),
        1,
        "{:?}",
        world.outputs("bob")
    );
    assert_eq!(
        world.count("alice", is_restart),
        0,
        "only the offerer restarts"
    );
    assert_eq!(
        world.count("bob", is_rebuilt) + world.count("alice", is_rebuilt),
        0
    );
    assert!(world.up_since("alice", "bob").unwrap() - mended < secs(1));
    assert!(world.up_since("bob", "alice").is_some());
    // The restart was answered on the same connection on both sides.
    assert_eq!(world.connections("alice"), 1);
    assert_eq!(world.connections("bob"), 1);
}

#[test]
fn a_restart_lost_in_the_cut_is_followed_by_a_new_connection() {
    let mut world = two_linked();
    world.clear_logs();
    // The restart is sent 2 s into the cut but reaches a connection that cannot carry
    // it: after 10 s more the offerer builds a new connection, and again every 10 s
    // until the wire is back.
    world.cut("alice", "bob");
    world.run_for(secs(25));
    world.mend("alice", "bob");
    world.run_for(secs(1));
    assert!(world.linked("alice", "bob"));
    assert_eq!(world.count("bob", is_restart), 1);
    assert_eq!(
        world.count("bob", is_rebuilt),
        2,
        "{:?}",
        world.outputs("bob")
    );
    assert_eq!(
        world.count("alice", is_open),
        0,
        "only the offerer rebuilds"
    );
    assert_eq!(world.connections("alice"), 1);
    assert_eq!(world.connections("bob"), 1);
}

#[test]
fn a_failed_connection_is_rebuilt_by_the_offerer_once_the_wire_is_back() {
    let mut world = two_linked();
    world.clear_logs();
    world.cut("alice", "bob");
    world.run_for(secs(45));
    world.mend("alice", "bob");
    let mended = world.now;
    world.run_for(secs(11));
    assert!(world.linked("alice", "bob"));
    assert_eq!(world.count("alice", is_open), 0);
    assert!(world.count("bob", is_rebuilt) >= 1);
    let up = world.up_since("alice", "bob").unwrap();
    assert!(
        up - mended <= secs(10),
        "up {:?} after the mend",
        up - mended
    );
    assert_eq!(
        world.count("alice", |o| matches!(o, Output::LinkUp { .. })),
        1
    );
    assert_eq!(
        world.count("alice", |o| matches!(o, Output::PeerGone { .. })),
        0
    );
}

#[test]
fn links_outlive_a_server_restart_untouched() {
    let mut world = World::new();
    for name in ["alice", "bob", "carol"] {
        world.join(name);
    }
    world.run_for(secs(1));
    world.clear_logs();
    world.stop_server();
    world.run_for(secs(5));
    world.start_server(secs(1));
    world.run_for(secs(3));
    for name in ["alice", "bob", "carol"] {
        let outputs = world.outputs(name);
        assert!(outputs.is_empty(), "{name} did {outputs:?}");
    }
    assert!(world.linked("alice", "bob"));
    assert!(world.linked("bob", "carol"));
    assert!(world.linked("alice", "carol"));
}

#[test]
fn recovery_waits_for_the_server_and_goes_on_when_it_is_back() {
    let mut world = two_linked();
    world.clear_logs();
    world.stop_server();
    world.cut("alice", "bob");
    world.run_for(secs(20));
    assert_eq!(world.count("bob", |o| is_restart(o) || is_open(o)), 0);
    world.start_server(secs(1));
    // Bob, back second, is the newcomer: he restarts ICE on the connection he has.
    assert_eq!(
        world.count("bob", is_restart),
        1,
        "{:?}",
        world.outputs("bob")
    );
    assert_eq!(world.count("alice", |o| is_restart(o) || is_open(o)), 0);
    world.mend("alice", "bob");
    world.run_for(secs(2));
    assert!(world.linked("alice", "bob"));
    assert_eq!(world.connections("alice"), 1);
}

#[test]
fn three_peers_recover_only_the_pair_that_was_cut() {
    let mut world = World::new();
    for name in ["alice", "bob", "carol"] {
        world.join(name);
    }
    world.run_for(secs(1));
    assert!(world.linked("alice", "carol") && world.linked("bob", "carol"));
    world.clear_logs();
    world.cut("alice", "carol");
    world.run_for(secs(8));
    world.mend("alice", "carol");
    world.run_for(secs(2));
    assert!(world.linked("alice", "carol"));
    assert!(world.linked("alice", "bob"));
    assert!(world.linked("bob", "carol"));
    assert_eq!(world.count("carol", is_restart), 1);
    assert_eq!(world.count("alice", is_restart), 0);
    assert_eq!(world.count("bob", |_| true), 0, "bob saw nothing");
}

#[test]
fn a_leaver_is_dropped_at_once_and_gone_for_good_after_the_grace() {
    let mut world = World::new();
    for name in ["alice", "bob"] {
        world.join(name);
    }
    world.run_for(secs(1));
    world.close("bob");
    world.run_for(secs(1));
    assert_eq!(
        world.count("alice", |o| matches!(o, Output::PeerLeft { .. })),
        1
    );
    assert_eq!(world.connections("alice"), 0);
    world.run_for(secs(298));
    assert_eq!(
        world.count("alice", |o| matches!(o, Output::PeerGone { .. })),
        0
    );
    world.run_for(secs(2));
    assert_eq!(
        world.outputs("alice").last(),
        Some(&Output::PeerGone { peer: id("bob") })
    );
}

#[test]
fn a_leaver_whose_link_closes_before_the_server_notices_is_dropped_too() {
    let mut world = World::new();
    // Alice joins second: she offered the link, so she rebuilds it when it closes.
    for name in ["bob", "alice"] {
        world.join(name);
    }
    world.run_for(secs(1));
    world.clear_logs();
    world.close_noticed_after("bob", secs(1));
    assert_eq!(
        world.count("alice", is_open),
        1,
        "{:?}",
        world.outputs("alice")
    );
    assert_eq!(
        world.count("alice", |o| matches!(o, Output::PeerLeft { .. })),
        1,
        "{:?}",
        world.outputs("alice")
    );
    assert_eq!(world.connections("alice"), 0);
}

#[test]
fn a_reloaded_page_comes_back_under_its_id_and_is_not_gone() {
    let mut world = World::new();
    for name in ["alice", "bob"] {
        world.join(name);
    }
    world.run_for(secs(1));
    world.close("bob");
    world.run_for(secs(2));
    world.join("bob");
    world.run_for(secs(1));
    assert!(world.linked("alice", "bob"));
    world.run_for(secs(600));
    assert_eq!(
        world.count("alice", |o| matches!(o, Output::PeerGone { .. })),
        0
    );
    assert!(world.up_since("alice", "bob").is_some());
}

#[test]
fn crossed_offers_end_in_one_connection() {
    use meshdrop_protocol::signaling::Signal;
    // Alice and Bob each think the other is new (a welcome raced a join): both offer.
    let mut alice = meshdrop_mesh::Mesh::new(Default::default());
    let mut bob = meshdrop_mesh::Mesh::new(Default::default());
    let now = secs(0);
    alice.handle_welcome(now, id("alice"), &[id("bob")]);
    bob.handle_welcome(now, id("bob"), &[id("alice")]);
    let offer = |session: &str| Signal::Offer {
        sdp: format!("v=0\r\no=- {session} 1 IN IP4 0.0.0.0\r\n"),
    };
    alice.handle_signal(now, &id("bob"), offer("2"));
    bob.handle_signal(now, &id("alice"), offer("1"));
    let alice_out: Vec<Output> = std::iter::from_fn(|| alice.poll_output()).collect();
    let bob_out: Vec<Output> = std::iter::from_fn(|| bob.poll_output()).collect();
    // Alice's id is the smaller: her offer wins, Bob answers it, Alice ignores his.
    assert!(!alice_out
        .iter()
        .any(|o| matches!(o, Output::AnswerOffer { .. })));
    assert!(bob_out
        .iter()
        .any(|o| matches!(o, Output::AnswerOffer { .. })));
    assert!(bob_out
        .iter()
        .any(|o| matches!(o, Output::CloseLink { .. })));
}

#[test]
fn a_late_answer_for_a_replaced_connection_is_ignored() {
    use meshdrop_mesh::{LinkState, Mesh};
    use meshdrop_protocol::signaling::Signal;
    let mut bob = Mesh::new(Default::default());
    let now = secs(0);
    bob.handle_welcome(now, id("bob"), &[id("alice")]);
    let first = bob.current_link(&id("alice")).unwrap();
    let answer = |session: &str, version: u32| Signal::Answer {
        sdp: format!("v=0\r\no=- {session} {version} IN IP4 0.0.0.0\r\n"),
    };
    bob.handle_signal(now, &id("alice"), answer("7", 1));
    bob.handle_link_state(now, &id("alice"), first, LinkState::Failed);
    bob.handle_timeout(now);
    let second = bob.current_link(&id("alice")).unwrap();
    assert_ne!(first, second);
    while bob.poll_output().is_some() {}
    bob.handle_signal(now, &id("alice"), answer("7", 2));
    assert_eq!(
        bob.poll_output(),
        None,
        "the old connection's answer is dropped"
    );
    bob.handle_signal(now, &id("alice"), answer("8", 1));
    assert!(matches!(
        bob.poll_output(),
        Some(Output::ApplySignal { link, .. }) if link == second
    ));
}

#[test]
fn peers_no_path_reaches_hear_so_once_in_time_and_connect_when_one_appears() {
    let no_path = |o: &Output| matches!(o, Output::NoPath { .. });
    let mut world = World::new();
    world.cut("alice", "bob");
    world.join("alice");
    world.join("bob");
    world.run_for(secs(7));
    assert_eq!(
        world.count("alice", no_path) + world.count("bob", no_path),
        0
    );
    world.run_for(secs(2));
    assert_eq!(
        world.count("alice", no_path),
        1,
        "{:?}",
        world.outputs("alice")
    );
    assert_eq!(world.count("bob", no_path), 1, "{:?}", world.outputs("bob"));
    // Said once; the rules go on trying, and a path that appears is taken.
    world.run_for(secs(30));
    assert_eq!(
        world.count("alice", no_path) + world.count("bob", no_path),
        2
    );
    world.mend("alice", "bob");
    world.run_for(secs(11));
    assert!(world.linked("alice", "bob"));
}

#[test]
fn peers_that_connect_or_leave_in_time_never_hear_of_no_path() {
    let no_path = |o: &Output| matches!(o, Output::NoPath { .. });
    let mut world = two_linked();
    world.run_for(secs(60));
    // A cut after the link was up is recovery, which the link state shows.
    world.cut("alice", "bob");
    world.run_for(secs(60));
    world.join("carol");
    world.cut("alice", "carol");
    world.run_for(secs(2));
    world.close("carol");
    world.run_for(secs(60));
    for name in ["alice", "bob"] {
        assert_eq!(world.count(name, no_path), 0, "{:?}", world.outputs(name));
    }
}
