//! Which transfer ids each end of a connection may pick.
//!
//! A [`ControlFrame::Cancel`](meshdrop_protocol::frame::ControlFrame::Cancel) or
//! [`ControlFrame::Fail`](meshdrop_protocol::frame::ControlFrame::Fail) names its
//! transfer by the sender's id whichever end sends it, so if both ends could pick the
//! same id, "cancel 4" would be ambiguous the moment files flow both ways. The two ends
//! therefore split the id space: the one with the smaller peer id picks even ids, the
//! other odd ones. Every id is then unique on the connection and tells by itself which
//! end sends the files.

use meshdrop_protocol::{frame::TransferId, PeerId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdParity {
    Even,
    Odd,
}

impl IdParity {
    /// The parity of the ids `local` picks on its connection to `remote`. The two ends
    /// compute opposite answers from the same two peer ids.
    pub fn for_connection(local: &PeerId, remote: &PeerId) -> Self {
        if local < remote {
            Self::Even
        } else {
            Self::Odd
        }
    }

    /// The first id of this parity.
    pub(crate) fn first_id(self) -> TransferId {
        match self {
            Self::Even => 0,
            Self::Odd => 1,
        }
    }

    /// Whether `id` is of this parity.
    pub(crate) fn owns(self, id: TransferId) -> bool {
        id % 2 == self.first_id()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_two_ends_of_a_connection_get_opposite_parities() {
        let alice = PeerId::new("alice").unwrap();
        let bob = PeerId::new("bob").unwrap();
        assert_eq!(IdParity::for_connection(&alice, &bob), IdParity::Even);
        assert_eq!(IdParity::for_connection(&bob, &alice), IdParity::Odd);
    }

    #[test]
    fn ids_belong_to_exactly_one_parity() {
        for id in [0, 1, 2, 7, u32::MAX - 1, u32::MAX] {
            assert_ne!(IdParity::Even.owns(id), IdParity::Odd.owns(id), "id {id}");
        }
        assert!(IdParity::Even.owns(IdParity::Even.first_id()));
        assert!(IdParity::Odd.owns(IdParity::Odd.first_id()));
    }
}
