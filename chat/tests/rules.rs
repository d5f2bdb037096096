//! The chat rules, driven in memory: three peers whose outputs are carried by hand.

use meshdrop_chat::{Chat, ChatError, Heard, Line, Output};
use meshdrop_protocol::frame::{ControlFrame, MAX_CHAT_BYTES};
use meshdrop_protocol::PeerId;

fn id(text: &str) -> PeerId {
    PeerId::new(text).unwrap()
}

/// A room of chats, whose frames the tests carry by hand.
struct Room {
    chats: Vec<(PeerId, Chat)>,
}

impl Room {
    /// `count` peers (at most three), every link up.
    fn new(count: usize) -> Self {
        let ids: Vec<PeerId> = ["aaaa000000000001", "bbbb000000000002", "cccc000000000003"]
            .into_iter()
            .take(count)
            .map(id)
            .collect();
        let chats = ids
            .iter()
            .enumerate()
            .map(|(run, me)| {
                let mut chat = Chat::new(me.clone(), 1_000, run as u64 + 7);
                for other in ids.iter().filter(|other| *other != me) {
                    chat.link_up(other);
                }
                (me.clone(), chat)
            })
            .collect();
        Self { chats }
    }

    fn id(&self, index: usize) -> PeerId {
        self.chats[index].0.clone()
    }

    fn chat(&mut self, index: usize) -> &mut Chat {
        &mut self.chats[index].1
    }

    /// Carries every output to its peer, until none is left; returns what was carried
    /// as (from, to, frame).
    fn deliver(&mut self) -> Vec<(usize, usize, ControlFrame)> {
        let mut carried = Vec::new();
        loop {
            let mut frames = Vec::new();
            for (from, (_, chat)) in self.chats.iter_mut().enumerate() {
                while let Some(Output::Send { peer, frame }) = chat.poll_output() {
                    frames.push((from, peer, frame));
                }
            }
            if frames.is_empty() {
                return carried;
            }
            for (from, peer, frame) in frames {
                let to = self.chats.iter().position(|(id, _)| *id == peer).unwrap();
                let from_id = self.id(from);
                carried.push((from, to, frame.clone()));
                self.chat(to).hear(&from_id, "name", frame).unwrap();
            }
        }
    }

    fn texts(&mut self, index: usize) -> Vec<String> {
        self.chat(index)
            .lines()
            .iter()
            .map(|line| line.text.clone())
            .collect()
    }
}

/// Whether any line `chat` wrote still waits for some peer's acknowledgement.
fn owes_any(chat: &Chat) -> bool {
    let mine = chat.lines().iter().filter(|line| line.mine);
    mine.flat_map(|line| &line.receipts)
        .any(|receipt| !receipt.delivered)
}

fn delivered(line: &Line) -> Vec<PeerId> {
    line.receipts
        .iter()
        .filter(|receipt| receipt.delivered)
        .map(|receipt| receipt.peer.clone())
        .collect()
}

#[test]
fn a_line_to_everyone_reaches_each_peer_once_and_is_marked_by_each() {
    let mut room = Room::new(3);
    room.chat(0)
        .write("hi".into(), None, 5, "Ann".into())
        .unwrap();
    let carried = room.deliver();
    assert_eq!(carried.len(), 4, "two lines, two acks: {carried:?}");
    assert_eq!(room.texts(1), ["hi"]);
    assert_eq!(room.texts(2), ["hi"]);
    let heard = room.chat(1).lines().first().unwrap().clone();
    assert!(!heard.mine && !heard.is_private());
    assert_eq!((heard.name.as_str(), heard.sent_at_ms), ("name", 5));
    let line = room.chat(0).lines().first().unwrap().clone();
    assert!(line.mine);
    assert_eq!(delivered(&line), [room.id(1), room.id(2)]);
    assert!(!owes_any(room.chat(0)));
}

#[test]
fn a_private_line_goes_to_its_peer_alone_and_is_private_on_both_sides() {
    let mut room = Room::new(3);
    let bob = room.id(1);
    room.chat(0)
        .write("psst".into(), Some(bob.clone()), 5, "Ann".into())
        .unwrap();
    let carried = room.deliver();
    assert!(carried.iter().all(|(from, to, _)| *from != 2 && *to != 2));
    assert_eq!(room.texts(1), ["psst"]);
    assert!(room.texts(2).is_empty());
    let heard = room.chat(1).lines().first().unwrap().clone();
    assert_eq!(heard.to, Some(bob.clone()));
    let line = room.chat(0).lines().first().unwrap().clone();
    assert_eq!(line.to, Some(bob.clone()));
    assert_eq!(delivered(&line), [bob]);
}

#[test]
fn lines_for_a_peer_whose_link_is_down_wait_and_go_once_in_order_when_it_is_back() {
    let mut room = Room::new(3);
    let carol = room.id(2);
    room.chat(0).link_down(&carol);
    room.chat(0)
        .write("one".into(), None, 1, "Ann".into())
        .unwrap();
    room.chat(0)
        .write("two".into(), None, 2, "Ann".into())
        .unwrap();
    room.deliver();
    assert_eq!(room.texts(1), ["one", "two"]);
    assert!(room.texts(2).is_empty());
    assert!(owes_any(room.chat(0)));
    let first = room.chat(0).lines().first().unwrap().clone();
    assert!(!first.delivered_to(&carol));

    room.chat(0).link_up(&carol);
    room.deliver();
    assert_eq!(room.texts(2), ["one", "two"]);
    assert!(room
        .chat(0)
        .lines()
        .iter()
        .all(|line| line.delivered_to(&carol)));
    // A link up again with nothing owed sends nothing.
    room.chat(0).link_up(&carol);
    assert!(room.deliver().is_empty());
}

#[test]
fn a_line_lost_with_its_link_is_sent_again_and_shown_once() {
    let mut room = Room::new(2);
    let bob = room.id(1);
    room.chat(0)
        .write("hello".into(), None, 1, "Ann".into())
        .unwrap();
    // It reaches Bob, but his ack dies with the link.
    let Some(Output::Send { frame, .. }) = room.chat(0).poll_output() else {
        panic!("nothing sent")
    };
    let ann = room.id(0);
    assert_eq!(room.chat(1).hear(&ann, "Ann", frame).unwrap(), Heard::Line);
    while room.chat(1).poll_output().is_some() {}
    room.chat(0).link_down(&bob);
    room.chat(0).link_up(&bob);
    room.deliver();
    assert_eq!(room.texts(1), ["hello"], "shown once");
    assert!(room.chat(0).lines().first().unwrap().delivered_to(&bob));
}

#[test]
fn a_peer_that_left_gets_no_new_lines_but_those_it_was_owed() {
    let mut room = Room::new(2);
    let bob = room.id(1);
    room.chat(0).link_down(&bob);
    room.chat(0)
        .write("owed".into(), None, 1, "Ann".into())
        .unwrap();
    room.chat(0).peer_left(&bob);
    room.chat(0)
        .write("after".into(), None, 2, "Ann".into())
        .unwrap();
    assert_eq!(
        room.chat(0)
            .write("to bob".into(), Some(bob.clone()), 3, "Ann".into()),
        Err(ChatError::UnknownPeer { peer: bob.clone() })
    );
    room.chat(0).link_up(&bob);
    room.deliver();
    assert_eq!(room.texts(1), ["owed"]);
}

#[test]
fn bad_frames_are_refused_and_change_nothing() {
    let mut room = Room::new(2);
    let ann = room.id(0);
    let bob = room.id(1);
    let long = "x".repeat(MAX_CHAT_BYTES + 1);
    let chat = |id: &str, text: &str| ControlFrame::Chat {
        id: id.into(),
        text: text.into(),
        sent_at_ms: 1,
        private: false,
    };
    assert_eq!(
        room.chat(1).hear(&ann, "Ann", chat("a-1", &long)),
        Err(ChatError::TooLong {
            bytes: MAX_CHAT_BYTES + 1
        })
    );
    for bad in ["A-1", "a b", &"a".repeat(33)] {
        assert!(matches!(
            room.chat(1).hear(&ann, "Ann", chat(bad, "hi")),
            Err(ChatError::BadId { .. })
        ));
    }
    assert_eq!(
        room.chat(1).hear(&ann, "Ann", chat("a-1", "  ")),
        Err(ChatError::Empty)
    );
    assert_eq!(
        room.chat(0)
            .hear(&bob, "Bob", ControlFrame::ChatAck { id: "nope".into() }),
        Err(ChatError::UnknownLine {
            peer: bob.clone(),
            id: "nope".into()
        })
    );
    assert_eq!(
        room.chat(0).write(long, None, 1, "Ann".into()).unwrap_err(),
        ChatError::TooLong {
            bytes: MAX_CHAT_BYTES + 1
        }
    );
    assert!(room.texts(0).is_empty() && room.texts(1).is_empty());
    assert!(room.chat(1).poll_output().is_none(), "nothing acknowledged");
    // A line without an id (an older peer) is shown and not acknowledged.
    assert_eq!(
        room.chat(1).hear(&ann, "Ann", chat("", "old")),
        Ok(Heard::Line)
    );
    assert!(room.chat(1).poll_output().is_none());
}

#[test]
fn the_version_moves_with_the_lines_and_marks_only() {
    let mut room = Room::new(2);
    let bob = room.id(1);
    let start = room.chat(0).version();
    room.chat(0).link_down(&bob);
    room.chat(0).link_up(&bob);
    assert_eq!(room.chat(0).version(), start, "links change no line");
    room.chat(0)
        .write("hi".into(), None, 1, "Ann".into())
        .unwrap();
    let written = room.chat(0).version();
    assert_ne!(written, start);
    room.deliver();
    assert_ne!(room.chat(0).version(), written, "the mark moved it");
}

#[test]
fn an_ack_counts_once() {
    let mut room = Room::new(2);
    let bob = room.id(1);
    let line_id = room
        .chat(0)
        .write("hi".into(), None, 1, "Ann".into())
        .unwrap()
        .id
        .clone();
    room.deliver();
    let ack = ControlFrame::ChatAck { id: line_id };
    assert_eq!(
        room.chat(0).hear(&bob, "Bob", ack),
        Ok(Heard::AlreadyDelivered)
    );
}

#[test]
fn the_oldest_lines_go_beyond_the_limit() {
    let me = id("aaaa000000000001");
    let mut chat = Chat::new(me, 3, 1);
    for n in 0..5 {
        chat.write(format!("{n}"), None, n, "Ann".into()).unwrap();
    }
    let texts: Vec<_> = chat.lines().iter().map(|line| line.text.as_str()).collect();
    assert_eq!(texts, ["2", "3", "4"]);
}

#[test]
fn history_comes_back_earlier_and_owed_lines_still_go_from_the_same_peer_id() {
    let mut room = Room::new(2);
    let (ann, bob) = (room.id(0), room.id(1));
    room.chat(0).link_down(&bob);
    room.chat(0)
        .write("while away".into(), None, 1, "Ann".into())
        .unwrap();
    room.chat(1)
        .write("from bob".into(), None, 2, "Bob".into())
        .unwrap();
    room.deliver();
    let kept: Vec<Line> = room.chat(0).lines().to_vec().into_iter().collect();
    let json = serde_json::to_string(&kept).unwrap();

    // Ann's page reloads: same peer id, a new run.
    let mut again = Chat::new(ann.clone(), 1_000, 99);
    again
        .write("before the history came".into(), None, 3, "Ann".into())
        .unwrap();
    again.restore(serde_json::from_str(&json).unwrap());
    let texts: Vec<&str> = again
        .lines()
        .iter()
        .map(|line| line.text.as_str())
        .collect();
    assert_eq!(texts, ["while away", "from bob", "before the history came"]);
    assert_eq!(
        again.lines().iter().filter(|line| line.earlier).count(),
        2,
        "the history's lines are earlier, this run's are not"
    );
    let mine = again.lines().iter().find(|line| line.mine).unwrap();
    assert_eq!(mine.text, "while away");
    let new_id = again
        .write("now".into(), None, 3, "Ann".into())
        .unwrap()
        .id
        .clone();
    assert!(again
        .lines()
        .iter()
        .all(|line| line.id != new_id || !line.earlier));
    again.link_up(&bob);
    let mut sent = Vec::new();
    while let Some(Output::Send { peer, frame }) = again.poll_output() {
        assert_eq!(peer, bob);
        sent.push(frame);
    }
    assert!(matches!(&sent[..], [ControlFrame::Chat { text, .. }] if text == "while away"));

    // Under another peer id (a new tab), our old lines are history only.
    let mut other_tab = Chat::new(id("dddd000000000004"), 1_000, 5);
    other_tab.restore(serde_json::from_str(&json).unwrap());
    other_tab.link_up(&bob);
    assert!(other_tab.poll_output().is_none());
    assert!(other_tab.lines().first().unwrap().mine);
}

#[test]
fn clearing_forgets_every_line() {
    let mut room = Room::new(2);
    let bob = room.id(1);
    room.chat(0).link_down(&bob);
    room.chat(0)
        .write("gone".into(), None, 1, "Ann".into())
        .unwrap();
    room.chat(0).clear();
    assert_eq!(room.chat(0).lines().len(), 0);
    room.chat(0).link_up(&bob);
    assert!(room.deliver().is_empty());
}
