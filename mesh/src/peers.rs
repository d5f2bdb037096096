//! The peers a [`crate::Mesh`] knows, by id: a list kept sorted by id.
//!
//! A room holds a few peers. A sorted list does what a `BTreeMap` would, in the same
//! order (so the outputs come in the same order), for much less code in the web app's
//! wasm, where every map type is compiled anew.

use std::ops::Index;

use meshdrop_protocol::PeerId;

pub(crate) struct Peers<T>(Vec<(PeerId, T)>);

impl<T> Peers<T> {
    pub fn new() -> Self {
        Self(Vec::new())
    }

    /// Where `id` is, or where it would go.
    fn find(&self, id: &PeerId) -> Result<usize, usize> {
        self.0.binary_search_by(|(known, _)| known.cmp(id))
    }

    pub fn get(&self, id: &PeerId) -> Option<&T> {
        let at = self.find(id).ok()?;
        Some(&self.0[at].1)
    }

    pub fn get_mut(&mut self, id: &PeerId) -> Option<&mut T> {
        let at = self.find(id).ok()?;
        Some(&mut self.0[at].1)
    }

    /// The peer `id`, added as `T::default()` if unknown.
    pub fn or_default(&mut self, id: &PeerId) -> &mut T
    where
        T: Default,
    {
        let at = self.find(id).unwrap_or_else(|at| {
            self.0.insert(at, (id.clone(), T::default()));
            at
        });
        &mut self.0[at].1
    }

    pub fn remove(&mut self, id: &PeerId) {
        if let Ok(at) = self.find(id) {
            self.0.remove(at);
        }
    }

    /// Every peer, by id.
    pub fn iter(&self) -> impl Iterator<Item = (&PeerId, &T)> {
        self.0.iter().map(|(id, peer)| (id, peer))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&PeerId, &mut T)> {
        self.0.iter_mut().map(|(id, peer)| (&*id, peer))
    }

    pub fn keys(&self) -> impl Iterator<Item = &PeerId> {
        self.0.iter().map(|(id, _)| id)
    }

    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.0.iter().map(|(_, peer)| peer)
    }
}

impl<T> Index<&PeerId> for Peers<T> {
    type Output = T;

    fn index(&self, id: &PeerId) -> &T {
        self.get(id).expect("a known peer")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(text: &str) -> PeerId {
        PeerId::new(text).unwrap()
    }

    #[test]
    fn keeps_peers_sorted_by_id_each_once() {
        let mut peers = Peers::<u32>::new();
        for (name, value) in [("cccccccc", 3), ("aaaaaaaa", 1), ("bbbbbbbb", 2)] {
            *peers.or_default(&id(name)) = value;
        }
        *peers.or_default(&id("aaaaaaaa")) += 10;
        let listed: Vec<(&str, u32)> = peers.iter().map(|(id, v)| (id.as_str(), *v)).collect();
        assert_eq!(listed, [("aaaaaaaa", 11), ("bbbbbbbb", 2), ("cccccccc", 3)]);
        peers.remove(&id("bbbbbbbb"));
        peers.remove(&id("dddddddd"));
        assert_eq!(peers.get(&id("bbbbbbbb")), None);
        assert_eq!(peers[&id("cccccccc")], 3);
        assert_eq!(peers.keys().count(), 2);
        assert_eq!(peers.values().sum::<u32>(), 14);
    }
}
