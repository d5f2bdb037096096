//! Flow control of the data channel: a receiver that falls behind holds its sender
//! within the window it grants, and a peer that grants nothing is not held.

// Shared by the test binaries, each of which uses a part of it.
#[allow(dead_code)]
mod support;

use meshdrop_protocol::frame::ControlFrame;
use meshdrop_transfer::{IdParity, TransferState};
use support::{deliver, exchange, noise, reconnect, Peer, Race};

const CHUNK_LEN: usize = 4096;
/// Bob's window in these tests: eight chunks.
const WINDOW: u64 = 8 * CHUNK_LEN as u64;

/// Alice offers a file of 100 chunks to Bob, whose window is [`WINDOW`], over a link
/// both saw come up; Bob has accepted, and Alice has the answer. Unless `bob_grants`,
/// Bob plays a peer from before credit, which never grants.
fn accepted(bob_grants: bool) -> (Peer, Peer, u32, Vec<u8>) {
    let mut alice = Peer::new(IdParity::Even, CHUNK_LEN);
    let mut bob = Peer::new(IdParity::Odd, CHUNK_LEN);
    bob.engine.set_receive_window(WINDOW);
    alice.link_up();
    if bob_grants {
        bob.link_up();
    }
    let file = noise(100 * CHUNK_LEN, 3);
    let id = alice.offer(&[("big.bin", file.clone())]);
    deliver(&mut alice, &mut bob, Race::ControlFirst);
    bob.accept(id);
    deliver(&mut bob, &mut alice, Race::ControlFirst);
    (alice, bob, id, file)
}

fn grants(peer: &Peer) -> Vec<u64> {
    peer.sent
        .iter()
        .filter_map(|frame| match frame {
            ControlFrame::Credit { upto } => Some(*upto),
            _ => None,
        })
        .collect()
}

#[test]
fn a_receiver_that_falls_behind_holds_its_sender_to_the_window() {
    let (mut alice, mut bob, id, file) = accepted(true);
    assert_eq!(grants(&bob), [WINDOW], "the grant as the link came up");

    // Alice would send everything at once; Bob's grant stops her at his window.
    assert_eq!(alice.pump(usize::MAX), 8);
    assert_eq!(alice.bytes_sent, WINDOW);

    // Bob works through one chunk: not yet a quarter of his window since his grant.
    let message = alice.data_out.pop_front().unwrap();
    assert!(bob.receive_data(&message));
    assert_eq!(grants(&bob), [WINDOW]);
    // The second is: he lets her go a window past what he handled.
    let message = alice.data_out.pop_front().unwrap();
    bob.receive_data(&message);
    assert_eq!(grants(&bob), [WINDOW, WINDOW + 2 * CHUNK_LEN as u64]);
    deliver(&mut bob, &mut alice, Race::ControlFirst);
    assert_eq!(alice.pump(usize::MAX), 2);

    // Whatever the pace, the file arrives whole.
    exchange(&mut alice, &mut bob, Race::DataFirst);
    assert_eq!(bob.kept[&(id, 0)], file);
    assert_eq!(alice.state(id), TransferState::Done);
    assert_eq!(bob.state(id), TransferState::Done);
}

#[test]
fn a_peer_that_grants_nothing_is_sent_to_at_the_channels_pace() {
    let (mut alice, mut bob, id, file) = accepted(false);
    assert!(grants(&bob).is_empty());
    assert_eq!(alice.pump(usize::MAX), 100);
    exchange(&mut alice, &mut bob, Race::ControlFirst);
    assert_eq!(bob.kept[&(id, 0)], file);
}

#[test]
fn each_link_starts_its_accounts_again() {
    let (mut alice, mut bob, id, file) = accepted(true);
    assert_eq!(alice.pump(usize::MAX), 8);
    deliver(&mut alice, &mut bob, Race::DataFirst);

    // The link breaks with Bob's new grant in flight; on the next one, Bob asks for
    // the blocks he lacks and grants a window counted from zero again.
    reconnect(&mut alice, &mut bob);
    assert_eq!(grants(&bob).last(), Some(&WINDOW));
    deliver(&mut bob, &mut alice, Race::ControlFirst);
    assert_eq!(alice.pump(usize::MAX), 8);

    exchange(&mut alice, &mut bob, Race::ControlFirst);
    assert_eq!(bob.kept[&(id, 0)], file);
    assert_eq!(bob.state(id), TransferState::Done);
}
