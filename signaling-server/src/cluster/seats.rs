//! The seats one node of a cluster holds, and which of the cluster's room events each
//! of them is told: plain data, no sockets and no Redis.
//!
//! With `--redis-url`, Redis decides who sits where (see the `cluster` module) and
//! sends each node the events of the rooms it holds seats in, all in one order, each
//! stamped with a number from one counter. A seat's own number comes from the same
//! counter when Redis seats it, and its `welcome` lists the room as it was then; so the
//! seat must be told exactly the events numbered after it. Its join's answer and the
//! events reach the node by different connections, so events can arrive before the
//! node knows the seat's number: a seat still joining holds them until it does.

use std::collections::HashMap;

use meshdrop_protocol::signaling::{ErrorCode, PeerInfo, ServerMessage, SignalObject};
use meshdrop_protocol::{PeerId, RoomId};
use serde::{Deserialize, Serialize};

use crate::rooms::Membership;

/// What one node tells another through Redis (the room events are sent by the Lua
/// scripts in this directory, with the same fields).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    Joined {
        seq: u64,
        room: RoomId,
        peer: PeerInfo,
    },
    Renamed {
        seq: u64,
        room: RoomId,
        peer: PeerInfo,
    },
    Left {
        seq: u64,
        room: RoomId,
        peer_id: PeerId,
    },
    /// A newer connection of the same peer took `seat` over; the old one is closed.
    Replaced {
        room: RoomId,
        peer_id: PeerId,
        seat: u64,
    },
    Signal {
        room: RoomId,
        to: PeerId,
        from: PeerId,
        signal: SignalObject,
    },
}

impl Event {
    fn room(&self) -> &RoomId {
        match self {
            Self::Joined { room, .. }
            | Self::Renamed { room, .. }
            | Self::Left { room, .. }
            | Self::Replaced { room, .. }
            | Self::Signal { room, .. } => room,
        }
    }
}

/// A seat that Redis is being asked for; see [`Seats::reserve`].
#[derive(Debug)]
pub struct Reservation {
    room: RoomId,
    peer: PeerId,
    token: u64,
}

/// This node's seats, by room. Rooms are small, so each is a plain list.
#[derive(Debug)]
pub struct Seats<H> {
    rooms: HashMap<RoomId, Vec<Seat<H>>>,
    next_token: u64,
}

#[derive(Debug)]
struct Seat<H> {
    peer: PeerId,
    handle: H,
    state: SeatState,
}

#[derive(Debug)]
enum SeatState {
    /// Redis has not answered the join yet; the room's events wait here.
    Joining {
        token: u64,
        held: Vec<Event>,
    },
    Seated {
        seat: u64,
    },
}

impl<H> Default for Seats<H> {
    fn default() -> Self {
        Self {
            rooms: HashMap::new(),
            next_token: 0,
        }
    }
}

impl<H> Seats<H> {
    /// Note a join about to be sent to Redis, so that events for the room are kept for
    /// it from now on.
    pub fn reserve(&mut self, room: RoomId, peer: PeerId, handle: H) -> Reservation {
        let token = self.next_token;
        self.next_token += 1;
        self.rooms.entry(room.clone()).or_default().push(Seat {
            peer: peer.clone(),
            handle,
            state: SeatState::Joining {
                token,
                held: Vec::new(),
            },
        });
        Reservation { room, peer, token }
    }

    /// Redis seated the reservation as `seat`: deliver, through `deliver`, the events
    /// held for it that came after its seat, and return its membership.
    pub fn seat(
        &mut self,
        reservation: Reservation,
        seat: u64,
        mut deliver: impl FnMut(&H, ServerMessage),
    ) -> Membership {
        let Reservation { room, peer, token } = reservation;
        let held = self
            .rooms
            .get_mut(&room)
            .and_then(|members| members.iter_mut().find(|member| joining(member, token)))
            .map(
                |member| match std::mem::replace(&mut member.state, SeatState::Seated { seat }) {
                    SeatState::Joining { held, .. } => held,
                    SeatState::Seated { .. } => Vec::new(),
                },
            );
        for event in held.into_iter().flatten() {
            self.dispatch_to(event, Some(seat), &mut deliver);
        }
        Membership::new(room, peer, seat)
    }

    /// Redis refused the reservation, or could not be asked.
    pub fn abandon(&mut self, reservation: Reservation) {
        self.remove(&reservation.room, |member| {
            joining(member, reservation.token)
        });
    }

    /// Forget the seat of `membership`. Returns whether this node still held it.
    pub fn leave(&mut self, membership: &Membership) -> bool {
        self.remove(membership.room(), |member| holds(member, membership))
    }

    /// Whether `membership` is still seated here (not replaced).
    pub fn holds(&self, membership: &Membership) -> bool {
        self.members(membership.room())
            .any(|member| holds(member, membership))
    }

    /// The connection of `to`, if it is seated in the room of `membership` on this node.
    pub fn seated_here(&self, membership: &Membership, to: &PeerId) -> Option<&H> {
        let mut members = self.members(membership.room());
        members
            .find(|member| &member.peer == to && matches!(member.state, SeatState::Seated { .. }))
            .map(|member| &member.handle)
    }

    /// Hand `event` to the seats it is for, as the messages their clients get.
    pub fn dispatch(&mut self, event: Event, deliver: &mut impl FnMut(&H, ServerMessage)) {
        self.dispatch_to(event, None, deliver);
    }

    /// [`Seats::dispatch`], to the seat numbered `only` alone if given.
    fn dispatch_to(
        &mut self,
        event: Event,
        only: Option<u64>,
        deliver: &mut impl FnMut(&H, ServerMessage),
    ) {
        let Some(members) = self.rooms.get_mut(event.room()) else {
            return;
        };
        let chosen = |member: &Seat<H>| match (only, &member.state) {
            (None, _) => true,
            (Some(only), SeatState::Seated { seat }) => *seat == only,
            (Some(_), SeatState::Joining { .. }) => false,
        };
        let mut replaced = None;
        match &event {
            Event::Joined { seq, peer, .. } | Event::Renamed { seq, peer, .. } => {
                let message = match event {
                    Event::Joined { .. } => ServerMessage::PeerJoined { peer: peer.clone() },
                    _ => ServerMessage::PeerRenamed { peer: peer.clone() },
                };
                let told = members
                    .iter_mut()
                    .filter(|member| chosen(member) && member.peer != peer.id);
                for member in told {
                    tell_after(member, *seq, &event, &message, deliver);
                }
            }
            Event::Left { seq, peer_id, .. } => {
                let message = ServerMessage::PeerLeft {
                    peer_id: peer_id.clone(),
                };
                let told = members
                    .iter_mut()
                    .filter(|member| chosen(member) && &member.peer != peer_id);
                for member in told {
                    tell_after(member, *seq, &event, &message, deliver);
                }
            }
            Event::Replaced { peer_id, seat, .. } => {
                for (index, member) in members.iter_mut().enumerate() {
                    if !chosen(member) {
                        continue;
                    }
                    match &mut member.state {
                        SeatState::Seated { seat: held } if held == seat => {
                            deliver(
                                &member.handle,
                                ServerMessage::Error {
                                    code: ErrorCode::Replaced,
                                    message: "this peer joined again from another connection"
                                        .into(),
                                },
                            );
                            replaced = Some(index);
                        }
                        // It may be this one, whose number is not known yet.
                        SeatState::Joining { held, .. } if &member.peer == peer_id => {
                            held.push(event.clone());
                        }
                        _ => {}
                    }
                }
            }
            Event::Signal {
                to, from, signal, ..
            } => {
                // A joining seat of the peer is its newest connection.
                let recipient = members
                    .iter_mut()
                    .filter(|member| chosen(member) && &member.peer == to)
                    .max_by_key(|member| matches!(member.state, SeatState::Joining { .. }));
                if let Some(member) = recipient {
                    match &mut member.state {
                        SeatState::Joining { held, .. } => held.push(event.clone()),
                        SeatState::Seated { .. } => deliver(
                            &member.handle,
                            ServerMessage::Signal {
                                from: from.clone(),
                                signal: signal.clone(),
                            },
                        ),
                    }
                }
            }
        }
        if let Some(index) = replaced {
            members.remove(index);
            if members.is_empty() {
                self.rooms.remove(event.room());
            }
        }
    }

    /// Seats on this node, joining or seated.
    pub fn peer_count(&self) -> usize {
        self.rooms.values().map(Vec::len).sum()
    }

    /// Rooms this node holds a seat in.
    pub fn room_count(&self) -> usize {
        self.rooms.len()
    }

    fn members(&self, room: &RoomId) -> impl Iterator<Item = &Seat<H>> {
        self.rooms.get(room).into_iter().flatten()
    }

    fn remove(&mut self, room: &RoomId, which: impl Fn(&Seat<H>) -> bool) -> bool {
        let Some(members) = self.rooms.get_mut(room) else {
            return false;
        };
        let Some(index) = members.iter().position(which) else {
            return false;
        };
        members.remove(index);
        if members.is_empty() {
            self.rooms.remove(room);
        }
        true
    }
}

/// Tell `member` about event number `seq` if it was seated before it; a joining seat
/// keeps the event until it knows.
fn tell_after<H>(
    member: &mut Seat<H>,
    seq: u64,
    event: &Event,
    message: &ServerMessage,
    deliver: &mut impl FnMut(&H, ServerMessage),
) {
    match &mut member.state {
        SeatState::Joining { held, .. } => held.push(event.clone()),
        SeatState::Seated { seat } if *seat < seq => deliver(&member.handle, message.clone()),
        SeatState::Seated { .. } => {}
    }
}

fn joining<H>(member: &Seat<H>, token: u64) -> bool {
    matches!(member.state, SeatState::Joining { token: held, .. } if held == token)
}

fn holds<H>(member: &Seat<H>, membership: &Membership) -> bool {
    member.peer == *membership.peer()
        && matches!(member.state, SeatState::Seated { seat } if seat == membership.seat())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(name: &str) -> RoomId {
        RoomId::new(name).unwrap()
    }

    fn id(name: &str) -> PeerId {
        PeerId::new(name).unwrap()
    }

    fn peer(name: &str) -> PeerInfo {
        PeerInfo {
            id: id(name),
            name: name.to_uppercase(),
        }
    }

    fn joined(seq: u64, who: &str) -> Event {
        Event::Joined {
            seq,
            room: room("r"),
            peer: peer(who),
        }
    }

    fn left(seq: u64, who: &str) -> Event {
        Event::Left {
            seq,
            room: room("r"),
            peer_id: id(who),
        }
    }

    /// Dispatch `event`, returning (handle, message type) for each delivery.
    fn dispatch(seats: &mut Seats<u32>, event: Event) -> Vec<(u32, String)> {
        let mut told = Vec::new();
        seats.dispatch(event, &mut |handle, message| {
            told.push((*handle, describe(&message)))
        });
        told
    }

    fn describe(message: &ServerMessage) -> String {
        match message {
            ServerMessage::PeerJoined { peer } => format!("joined {}", peer.id),
            ServerMessage::PeerRenamed { peer } => format!("renamed {}", peer.id),
            ServerMessage::PeerLeft { peer_id } => format!("left {peer_id}"),
            ServerMessage::Signal { from, .. } => format!("signal from {from}"),
            ServerMessage::Error { code, .. } => format!("error {code:?}"),
            other => format!("{other:?}"),
        }
    }

    fn seat(seats: &mut Seats<u32>, who: &str, handle: u32, number: u64) -> Membership {
        let reservation = seats.reserve(room("r"), id(who), handle);
        seats.seat(reservation, number, |_, _| panic!("nothing held"))
    }

    #[test]
    fn a_seat_hears_only_what_came_after_it() {
        let mut seats = Seats::default();
        seat(&mut seats, "a", 1, 10);
        seat(&mut seats, "b", 2, 12);
        // b's welcome already listed a (10) and knew c (11) had left.
        assert_eq!(dispatch(&mut seats, left(11, "c")), [(1, "left c".into())]);
        assert_eq!(
            dispatch(&mut seats, joined(12, "b")),
            [(1, "joined b".into())]
        );
        assert_eq!(
            dispatch(&mut seats, joined(13, "d")),
            [(1, "joined d".into()), (2, "joined d".into())]
        );
        let elsewhere = Event::Left {
            seq: 20,
            room: room("other"),
            peer_id: id("a"),
        };
        assert!(dispatch(&mut seats, elsewhere).is_empty());
    }

    #[test]
    fn events_that_come_before_the_join_is_answered_wait_for_it() {
        let mut seats = Seats::default();
        seat(&mut seats, "a", 1, 5);
        let reservation = seats.reserve(room("r"), id("b"), 2);
        // b is seated as 7: 6 is in its welcome, 8 and 9 are news to it.
        assert_eq!(
            dispatch(&mut seats, joined(6, "c")),
            [(1, "joined c".into())]
        );
        assert_eq!(
            dispatch(&mut seats, joined(7, "b")),
            [(1, "joined b".into())]
        );
        assert_eq!(dispatch(&mut seats, left(8, "c")), [(1, "left c".into())]);
        let signal = Event::Signal {
            room: room("r"),
            to: id("b"),
            from: id("a"),
            signal: serde_json::from_str(r#"{"type":"offer","sdp":"v=0"}"#).unwrap(),
        };
        assert!(dispatch(&mut seats, signal).is_empty());
        let mut told = Vec::new();
        let membership = seats.seat(reservation, 7, |handle, message| {
            told.push((*handle, describe(&message)));
        });
        assert_eq!(told, [(2, "left c".into()), (2, "signal from a".into())]);
        assert!(seats.holds(&membership));
        assert_eq!(dispatch(&mut seats, left(9, "a")), [(2, "left a".into())]);
    }

    #[test]
    fn a_replaced_seat_is_told_and_forgotten_and_its_successor_stays() {
        let mut seats = Seats::default();
        let old = seat(&mut seats, "a", 1, 3);
        let new = seat(&mut seats, "a", 2, 4);
        let replaced = Event::Replaced {
            room: room("r"),
            peer_id: id("a"),
            seat: 3,
        };
        assert_eq!(
            dispatch(&mut seats, replaced),
            [(1, "error Replaced".into())]
        );
        assert!(!seats.holds(&old) && seats.holds(&new));
        assert!(
            !seats.leave(&old),
            "the old connection's leave does nothing"
        );
        assert_eq!(seats.seated_here(&new, &id("a")), Some(&2));
        assert!(seats.leave(&new));
        assert_eq!((seats.peer_count(), seats.room_count()), (0, 0));
    }

    #[test]
    fn a_replacement_that_overtakes_the_join_answer_still_closes_it() {
        let mut seats = Seats::default();
        let reservation = seats.reserve(room("r"), id("a"), 1);
        let replaced = Event::Replaced {
            room: room("r"),
            peer_id: id("a"),
            seat: 3,
        };
        assert!(dispatch(&mut seats, replaced).is_empty());
        let mut told = Vec::new();
        let membership = seats.seat(reservation, 3, |handle, message| {
            told.push((*handle, describe(&message)))
        });
        assert_eq!(told, [(1, "error Replaced".into())]);
        assert!(!seats.holds(&membership));
        assert_eq!(seats.peer_count(), 0);
    }

    #[test]
    fn signals_reach_the_seated_recipient_only() {
        let mut seats = Seats::default();
        let a = seat(&mut seats, "a", 1, 1);
        seat(&mut seats, "b", 2, 2);
        assert_eq!(seats.seated_here(&a, &id("b")), Some(&2));
        assert_eq!(seats.seated_here(&a, &id("z")), None);
        let signal = |to: &str| Event::Signal {
            room: room("r"),
            to: id(to),
            from: id("a"),
            signal: serde_json::from_str(r#"{"type":"candidate"}"#).unwrap(),
        };
        assert_eq!(
            dispatch(&mut seats, signal("b")),
            [(2, "signal from a".into())]
        );
        assert!(dispatch(&mut seats, signal("z")).is_empty());
    }

    #[test]
    fn an_abandoned_join_leaves_nothing() {
        let mut seats = Seats::default();
        let reservation = seats.reserve(room("r"), id("a"), 1);
        assert_eq!(seats.peer_count(), 1);
        seats.abandon(reservation);
        assert_eq!((seats.peer_count(), seats.room_count()), (0, 0));
        assert!(dispatch(&mut seats, joined(1, "b")).is_empty());
    }

    #[test]
    fn events_read_from_the_scripts_json() {
        let event: Event = serde_json::from_str(
            r#"{"kind":"joined","seq":42,"room":"r","peer":{"id":"b","name":"B\/x"}}"#,
        )
        .unwrap();
        assert_eq!(
            event,
            Event::Joined {
                seq: 42,
                room: room("r"),
                peer: PeerInfo {
                    id: id("b"),
                    name: "B/x".into()
                }
            }
        );
    }
}
