//! Who is in which room: plain data, no sockets and no runtime.
//!
//! Keeping membership apart from the connection tasks means every rule about rooms
//! (capacity, replacing a reconnecting peer, who may be addressed) is tested here
//! without a socket, and the connection code only decides what to *send*.
//!
//! Each member carries a `handle` of a type chosen by the caller; the server stores
//! its connection's outbox there, the tests store plain numbers.
//!
//! A successful [`Rooms::join`] hands out a [`Membership`], the caller's proof that it
//! holds a seat. When the same peer id joins the same room again (a client
//! reconnecting with its session key), the new connection takes the seat over, the old
//! handle is given back so the caller can close that connection, and the old
//! `Membership` goes stale: leaving, renaming or looking peers up with it does nothing.
//! That is what lets the old connection clean up after itself without evicting its
//! successor. Empty rooms are deleted.
//!
//! A meeting place (the room a pairing code names) seats at most two peers while it
//! exists, and never a third one, even after one of the two left: a pairing code is
//! good for one attempt, right or wrong.

use std::collections::HashMap;

use meshdrop_protocol::signaling::PeerInfo;
use meshdrop_protocol::{PeerId, RoomId};

/// Why [`Rooms::join`] refused a seat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    #[error("the room already has {max} peers")]
    RoomFull { max: usize },
    #[error("this pairing code was already used: make a new one")]
    CodeSpent,
}

/// How many peers a meeting place ever seats: the two ends of one pairing.
const MEETING_PLACE_SEATS: usize = 2;

/// Proof of holding a seat in a room; handed out by [`Rooms::join`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    room: RoomId,
    peer: PeerId,
    /// Tells this seat apart from a later one taken with the same peer id.
    seat: u64,
}

impl Membership {
    /// A seat numbered elsewhere (by Redis, see `cluster`).
    pub(crate) fn new(room: RoomId, peer: PeerId, seat: u64) -> Self {
        Self { room, peer, seat }
    }

    pub fn room(&self) -> &RoomId {
        &self.room
    }

    pub fn peer(&self) -> &PeerId {
        &self.peer
    }

    pub fn seat(&self) -> u64 {
        self.seat
    }
}

/// One peer in a room, as seen by the others.
#[derive(Debug)]
pub struct Member<H> {
    pub info: PeerInfo,
    pub handle: H,
    seat: u64,
}

/// The outcome of a successful [`Rooms::join`].
#[derive(Debug)]
pub struct Joined<H> {
    pub membership: Membership,
    /// Set when the peer id already held a seat in the room: the handle of the
    /// connection that was just replaced, and the name it went by.
    pub replaced: Option<Replaced<H>>,
}

/// The connection a reconnecting peer took its seat back from.
#[derive(Debug)]
pub struct Replaced<H> {
    pub handle: H,
    pub previous_name: String,
}

/// All rooms of one server.
#[derive(Debug)]
pub struct Rooms<H> {
    rooms: HashMap<RoomId, Vec<Member<H>>>,
    /// Per meeting place, every peer it has seated since it was made.
    admitted: HashMap<RoomId, Vec<PeerId>>,
    max_peers_per_room: usize,
    next_seat: u64,
}

impl<H> Rooms<H> {
    pub fn new(max_peers_per_room: usize) -> Self {
        Self {
            rooms: HashMap::new(),
            admitted: HashMap::new(),
            max_peers_per_room,
            next_seat: 0,
        }
    }

    /// Seat `peer` in `room`, or give a reconnecting peer its seat back.
    ///
    /// A peer id already in the room never counts against the capacity: it takes
    /// over its own seat, with the new name and handle.
    pub fn join(
        &mut self,
        room: RoomId,
        peer: PeerInfo,
        handle: H,
    ) -> Result<Joined<H>, JoinError> {
        if room.is_meeting_place() {
            let admitted = self.admitted.entry(room.clone()).or_default();
            if !admitted.contains(&peer.id) {
                if admitted.len() >= MEETING_PLACE_SEATS {
                    return Err(JoinError::CodeSpent);
                }
                admitted.push(peer.id.clone());
            }
        }
        let seat = self.next_seat;
        let members = self.rooms.entry(room.clone()).or_default();
        let membership = Membership {
            room,
            peer: peer.id.clone(),
            seat,
        };
        let seated = members.iter().position(|member| member.info.id == peer.id);
        let replaced = match seated {
            Some(index) => {
                let previous = std::mem::replace(
                    &mut members[index],
                    Member {
                        info: peer,
                        handle,
                        seat,
                    },
                );
                Some(Replaced {
                    handle: previous.handle,
                    previous_name: previous.info.name,
                })
            }
            None if members.len() >= self.max_peers_per_room => {
                let max = self.max_peers_per_room;
                // `or_default` may just have created it; never leave an empty room behind.
                if members.is_empty() {
                    self.rooms.remove(&membership.room);
                }
                return Err(JoinError::RoomFull { max });
            }
            None => {
                members.push(Member {
                    info: peer,
                    handle,
                    seat,
                });
                None
            }
        };
        self.next_seat += 1;
        Ok(Joined {
            membership,
            replaced,
        })
    }

    /// Give up the seat. Returns the member that left, or `None` when the seat was
    /// already taken over by a reconnect (then nobody has left the room).
    pub fn leave(&mut self, membership: &Membership) -> Option<Member<H>> {
        let members = self.rooms.get_mut(&membership.room)?;
        let index = members
            .iter()
            .position(|member| holds(member, membership))?;
        let member = members.remove(index);
        if members.is_empty() {
            self.rooms.remove(&membership.room);
            self.admitted.remove(&membership.room);
        }
        Some(member)
    }

    /// Change the seat holder's display name. Returns its new [`PeerInfo`], or `None`
    /// for a stale membership.
    pub fn rename(&mut self, membership: &Membership, name: String) -> Option<&PeerInfo> {
        let member = self
            .rooms
            .get_mut(&membership.room)?
            .iter_mut()
            .find(|member| holds(member, membership))?;
        member.info.name = name;
        Some(&member.info)
    }

    /// The member `id` in the room of `membership`, unless that is the asker itself
    /// or the membership is stale.
    pub fn peer<'a>(&'a self, membership: &'a Membership, id: &PeerId) -> Option<&'a Member<H>> {
        if id == &membership.peer {
            return None;
        }
        self.others(membership).find(|member| &member.info.id == id)
    }

    pub fn room_count(&self) -> usize {
        self.rooms.len()
    }

    /// Peers seated in any room.
    pub fn peer_count(&self) -> usize {
        self.rooms.values().map(Vec::len).sum()
    }

    /// Everyone in `room`, in join order.
    pub fn members(&self, room: &RoomId) -> impl Iterator<Item = &Member<H>> {
        self.rooms
            .get(room)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
    }

    /// Everyone in the room of `membership` but its holder; nobody for a stale
    /// membership, so a replaced connection can no longer reach the room.
    pub fn others<'a>(&'a self, membership: &'a Membership) -> impl Iterator<Item = &'a Member<H>> {
        let seated = self
            .members(&membership.room)
            .any(|member| holds(member, membership));
        self.members(&membership.room)
            .filter(move |member| seated && member.info.id != membership.peer)
    }
}

fn holds<H>(member: &Member<H>, membership: &Membership) -> bool {
    member.seat == membership.seat
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(name: &str) -> RoomId {
        RoomId::new(name).unwrap()
    }

    fn peer(id: &str, name: &str) -> PeerInfo {
        PeerInfo {
            id: PeerId::new(id).unwrap(),
            name: name.into(),
        }
    }

    fn other_ids<H>(rooms: &Rooms<H>, membership: &Membership) -> Vec<String> {
        rooms
            .others(membership)
            .map(|member| member.info.id.to_string())
            .collect()
    }

    #[test]
    fn joining_lists_the_others_in_join_order() {
        let mut rooms = Rooms::new(16);
        let a = rooms.join(room("r"), peer("a", "Ann"), 1).unwrap();
        let b = rooms.join(room("r"), peer("b", "Bob"), 2).unwrap();
        let c = rooms.join(room("r"), peer("c", "Cy"), 3).unwrap();
        assert!(a.replaced.is_none() && b.replaced.is_none() && c.replaced.is_none());
        assert_eq!(other_ids(&rooms, &c.membership), ["a", "b"]);
        assert_eq!(other_ids(&rooms, &a.membership), ["b", "c"]);
        let handles: Vec<i32> = rooms.others(&a.membership).map(|m| m.handle).collect();
        assert_eq!(handles, [2, 3]);
    }

    #[test]
    fn a_meeting_place_seats_two_peers_ever() {
        let mut rooms = Rooms::new(16);
        let place = room("_pair-4172");
        let a = rooms.join(place.clone(), peer("a", "Ann"), 1).unwrap();
        let b = rooms.join(place.clone(), peer("b", "Bob"), 2).unwrap();
        assert_eq!(
            rooms.join(place.clone(), peer("c", "Cy"), 3).unwrap_err(),
            JoinError::CodeSpent
        );
        // One of the two left: still no third, but the one who left may come back.
        rooms.leave(&b.membership).unwrap();
        assert_eq!(
            rooms.join(place.clone(), peer("c", "Cy"), 3).unwrap_err(),
            JoinError::CodeSpent
        );
        rooms.join(place.clone(), peer("b", "Bob"), 4).unwrap();
        // A reconnect keeps its seat.
        let again = rooms.join(place.clone(), peer("a", "Ann"), 5).unwrap();
        assert_eq!(again.replaced.map(|r| r.handle), Some(1));
        assert_eq!(other_ids(&rooms, &a.membership), Vec::<String>::new());
        // Private rooms are not limited so.
        for (id, handle) in [("a", 1), ("b", 2), ("c", 3)] {
            rooms.join(room("party"), peer(id, id), handle).unwrap();
        }
    }

    #[test]
    fn an_emptied_meeting_place_is_forgotten() {
        let mut rooms = Rooms::new(16);
        let place = room("_pair-1");
        let a = rooms.join(place.clone(), peer("a", "Ann"), 1).unwrap();
        let b = rooms.join(place.clone(), peer("b", "Bob"), 2).unwrap();
        rooms.leave(&a.membership).unwrap();
        rooms.leave(&b.membership).unwrap();
        assert_eq!(rooms.room_count(), 0);
        rooms.join(place, peer("c", "Cy"), 3).unwrap();
    }

    #[test]
    fn rooms_are_separate() {
        let mut rooms = Rooms::new(16);
        let a = rooms.join(room("r1"), peer("a", "Ann"), 1).unwrap();
        let b = rooms.join(room("r2"), peer("b", "Bob"), 2).unwrap();
        assert!(other_ids(&rooms, &a.membership).is_empty());
        assert!(rooms.peer(&a.membership, b.membership.peer()).is_none());
        assert_eq!((rooms.room_count(), rooms.peer_count()), (2, 2));
    }

    #[test]
    fn a_full_room_refuses_newcomers_and_nothing_changes() {
        let mut rooms = Rooms::new(2);
        let a = rooms.join(room("r"), peer("a", "Ann"), 1).unwrap();
        rooms.join(room("r"), peer("b", "Bob"), 2).unwrap();
        let refused = rooms.join(room("r"), peer("c", "Cy"), 3).unwrap_err();
        assert_eq!(refused, JoinError::RoomFull { max: 2 });
        assert_eq!(other_ids(&rooms, &a.membership), ["b"]);
    }

    #[test]
    fn a_room_of_capacity_zero_is_not_left_behind() {
        let mut rooms = Rooms::new(0);
        assert!(rooms.join(room("r"), peer("a", "Ann"), 1).is_err());
        assert!(rooms.rooms.is_empty());
    }

    #[test]
    fn leaving_removes_the_member_and_empty_rooms() {
        let mut rooms = Rooms::new(16);
        let a = rooms.join(room("r"), peer("a", "Ann"), 1).unwrap();
        let b = rooms.join(room("r"), peer("b", "Bob"), 2).unwrap();
        let left = rooms.leave(&a.membership).unwrap();
        assert_eq!((left.info.name.as_str(), left.handle), ("Ann", 1));
        assert!(other_ids(&rooms, &b.membership).is_empty());
        assert!(rooms.leave(&a.membership).is_none(), "leaving twice");
        let names: Vec<&str> = rooms
            .members(&room("r"))
            .map(|m| m.info.name.as_str())
            .collect();
        assert_eq!(names, ["Bob"]);
        rooms.leave(&b.membership).unwrap();
        assert_eq!(rooms.members(&room("r")).count(), 0);
        assert!(rooms.rooms.is_empty(), "the empty room is deleted");
    }

    #[test]
    fn rename_changes_what_the_others_see() {
        let mut rooms = Rooms::new(16);
        let a = rooms.join(room("r"), peer("a", "Ann"), 1).unwrap();
        let b = rooms.join(room("r"), peer("b", "Bob"), 2).unwrap();
        let info = rooms.rename(&a.membership, "Anna".into()).unwrap();
        assert_eq!(info, &peer("a", "Anna"));
        let seen = rooms.peer(&b.membership, a.membership.peer()).unwrap();
        assert_eq!(seen.info.name, "Anna");
    }

    #[test]
    fn lookup_finds_peers_of_the_same_room_only_and_never_oneself() {
        let mut rooms = Rooms::new(16);
        let a = rooms.join(room("r"), peer("a", "Ann"), 1).unwrap();
        rooms.join(room("r"), peer("b", "Bob"), 2).unwrap();
        rooms.join(room("elsewhere"), peer("c", "Cy"), 3).unwrap();
        let b_id = PeerId::new("b").unwrap();
        assert_eq!(rooms.peer(&a.membership, &b_id).unwrap().handle, 2);
        assert!(rooms
            .peer(&a.membership, &PeerId::new("c").unwrap())
            .is_none());
        assert!(rooms.peer(&a.membership, a.membership.peer()).is_none());
    }

    #[test]
    fn rejoining_with_the_same_id_replaces_the_seat() {
        let mut rooms = Rooms::new(2);
        let old = rooms.join(room("r"), peer("a", "Ann"), 1).unwrap();
        let b = rooms.join(room("r"), peer("b", "Bob"), 2).unwrap();
        // The room is full, but a peer taking its own seat back never counts twice.
        let new = rooms.join(room("r"), peer("a", "Anna"), 10).unwrap();
        assert_eq!(rooms.peer_count(), 2);
        let replaced = new.replaced.unwrap();
        assert_eq!(
            (replaced.handle, replaced.previous_name.as_str()),
            (1, "Ann")
        );
        assert_eq!(new.membership.peer(), old.membership.peer());
        let seen = rooms.peer(&b.membership, new.membership.peer()).unwrap();
        assert_eq!((seen.handle, seen.info.name.as_str()), (10, "Anna"));
        assert_eq!(other_ids(&rooms, &b.membership), ["a"]);
    }

    #[test]
    fn a_replaced_membership_is_stale() {
        let mut rooms = Rooms::new(16);
        let old = rooms.join(room("r"), peer("a", "Ann"), 1).unwrap();
        rooms.join(room("r"), peer("b", "Bob"), 2).unwrap();
        let new = rooms.join(room("r"), peer("a", "Ann"), 10).unwrap();
        let b_id = PeerId::new("b").unwrap();

        assert!(rooms.peer(&old.membership, &b_id).is_none());
        assert!(other_ids(&rooms, &old.membership).is_empty());
        assert!(rooms.rename(&old.membership, "Old".into()).is_none());
        assert!(rooms.leave(&old.membership).is_none());

        // The successor is untouched by all of that.
        assert_eq!(rooms.peer(&new.membership, &b_id).unwrap().handle, 2);
        let seen = rooms.others(&new.membership).next().unwrap();
        assert_eq!(seen.info.name, "Bob");
        assert_eq!(rooms.leave(&new.membership).unwrap().handle, 10);
    }

    #[test]
    fn the_same_id_in_another_room_is_another_seat() {
        let mut rooms = Rooms::new(16);
        let first = rooms.join(room("r1"), peer("a", "Ann"), 1).unwrap();
        let second = rooms.join(room("r2"), peer("a", "Ann"), 2).unwrap();
        assert!(second.replaced.is_none());
        assert_eq!(rooms.leave(&first.membership).unwrap().handle, 1);
        assert_eq!(rooms.leave(&second.membership).unwrap().handle, 2);
    }
}
