//! A map as a list kept sorted by key: the mesh's peers by id, the transfer engine's
//! transfers, and the web app's maps.
//!
//! A room holds a few peers, a page a few transfers. A sorted list does what a
//! `BTreeMap` or a `HashMap` would (in key order, so outputs come in the same order
//! every time), for much less code in the web app's wasm, where every map type is
//! compiled anew: a lookup is a binary search, an insertion or a removal a move of the
//! entries after it.

use std::ops::Index;

#[derive(Debug, Clone)]
pub struct SortedMap<K, V>(Vec<(K, V)>);

impl<K, V> Default for SortedMap<K, V> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<K: Ord, V> SortedMap<K, V> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Where `key` is, or where it would go.
    fn find(&self, key: &K) -> Result<usize, usize> {
        self.0.binary_search_by(|(known, _)| known.cmp(key))
    }

    pub fn get(&self, key: &K) -> Option<&V> {
        let at = self.find(key).ok()?;
        Some(&self.0[at].1)
    }

    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        let at = self.find(key).ok()?;
        Some(&mut self.0[at].1)
    }

    pub fn contains_key(&self, key: &K) -> bool {
        self.find(key).is_ok()
    }

    /// Sets `key` to `value`; the value it had, if any.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(at) => Some(std::mem::replace(&mut self.0[at].1, value)),
            Err(at) => {
                self.0.insert(at, (key, value));
                None
            }
        }
    }

    /// The value of `key`, added as `make()` if `key` is not there.
    pub fn or_insert_with(&mut self, key: &K, make: impl FnOnce() -> V) -> &mut V
    where
        K: Clone,
    {
        let at = self.find(key).unwrap_or_else(|at| {
            self.0.insert(at, (key.clone(), make()));
            at
        });
        &mut self.0[at].1
    }

    /// The value of `key`, added as `V::default()` if `key` is not there.
    pub fn or_default(&mut self, key: &K) -> &mut V
    where
        K: Clone,
        V: Default,
    {
        self.or_insert_with(key, V::default)
    }

    pub fn remove(&mut self, key: &K) -> Option<V> {
        let at = self.find(key).ok()?;
        Some(self.0.remove(at).1)
    }

    /// Every entry, by key.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.0.iter().map(|(key, value)| (key, value))
    }

    pub fn keys(&self) -> impl Iterator<Item = &K> {
        self.0.iter().map(|(key, _)| key)
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.0.iter().map(|(_, value)| value)
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&K, &mut V)> {
        self.0.iter_mut().map(|(key, value)| (&*key, value))
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.0.iter_mut().map(|(_, value)| value)
    }

    /// Every entry, by key, taken out.
    pub fn drain(&mut self) -> impl Iterator<Item = (K, V)> + '_ {
        self.0.drain(..)
    }
}

impl<K: Ord, V> Index<&K> for SortedMap<K, V> {
    type Output = V;

    fn index(&self, key: &K) -> &V {
        self.get(key).expect("a known key")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use meshdrop_protocol::PeerId;

    fn id(text: &str) -> PeerId {
        PeerId::new(text).unwrap()
    }

    #[test]
    fn keeps_peers_sorted_by_id_each_once() {
        let mut peers = SortedMap::<PeerId, u32>::new();
        for (name, value) in [("cccccccc", 3), ("aaaaaaaa", 1), ("bbbbbbbb", 2)] {
            *peers.or_default(&id(name)) = value;
        }
        *peers.or_default(&id("aaaaaaaa")) += 10;
        let listed: Vec<(&str, u32)> = peers.iter().map(|(id, v)| (id.as_str(), *v)).collect();
        assert_eq!(listed, [("aaaaaaaa", 11), ("bbbbbbbb", 2), ("cccccccc", 3)]);
        assert_eq!(peers.remove(&id("bbbbbbbb")), Some(2));
        assert_eq!(peers.remove(&id("dddddddd")), None);
        assert_eq!(peers.get(&id("bbbbbbbb")), None);
        assert_eq!(peers[&id("cccccccc")], 3);
        assert_eq!(peers.keys().count(), 2);
        assert_eq!(peers.values().sum::<u32>(), 14);
    }

    #[test]
    fn insert_replaces_and_drain_empties_in_key_order() {
        let mut map = SortedMap::new();
        assert_eq!(map.insert(5, "five"), None);
        assert_eq!(map.insert(1, "one"), None);
        assert_eq!(map.insert(5, "FIVE"), Some("five"));
        assert!(map.contains_key(&1) && !map.contains_key(&2));
        *map.or_insert_with(&3, || "three") = "THREE";
        for value in map.values_mut() {
            *value = &value[..1];
        }
        assert_eq!(
            map.drain().collect::<Vec<_>>(),
            [(1, "o"), (3, "T"), (5, "F")]
        );
        assert_eq!(map.iter().count(), 0);
    }
}
