//! Which blocks a member holds, one bit each, and its hex form on the wire.

use meshdrop_protocol::frame::SwarmBits;

/// One bit per block of a swarm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bits {
    bytes: Vec<u8>,
    len: u32,
}

/// A bitmap whose length does not fit the swarm, or that is not hex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a block bitmap must be {bytes} bytes of lowercase hex with no bit past block {len}")]
pub struct BadBits {
    pub bytes: usize,
    pub len: u32,
}

impl Bits {
    /// `len` bits, all clear.
    pub fn empty(len: u32) -> Self {
        Self {
            bytes: vec![0; (len as usize).div_ceil(8)],
            len,
        }
    }

    /// `len` bits, all set.
    pub fn full(len: u32) -> Self {
        let mut bits = Self::empty(len);
        (0..len).for_each(|block| bits.set(block));
        bits
    }

    /// Reads the wire form of a bitmap of `len` blocks.
    pub fn from_wire(wire: &SwarmBits, len: u32) -> Result<Self, BadBits> {
        let bad = BadBits {
            bytes: (len as usize).div_ceil(8),
            len,
        };
        let bytes = hex::decode(&wire.0).map_err(|_| bad)?;
        let bits = Self { bytes, len };
        let past_end = (len..bits.bytes.len() as u32 * 8).any(|block| bits.get_raw(block));
        if bits.bytes.len() != bad.bytes || past_end {
            return Err(bad);
        }
        Ok(bits)
    }

    pub fn to_wire(&self) -> SwarmBits {
        SwarmBits(hex::encode(&self.bytes))
    }

    pub fn len(&self) -> u32 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether block `block` is set; blocks past the end are not.
    pub fn get(&self, block: u32) -> bool {
        block < self.len && self.get_raw(block)
    }

    fn get_raw(&self, block: u32) -> bool {
        self.bytes[block as usize / 8] & (0x80 >> (block % 8)) != 0
    }

    /// Sets block `block`, which must be below the length.
    pub fn set(&mut self, block: u32) {
        self.bytes[block as usize / 8] |= 0x80 >> (block % 8);
    }

    /// Clears block `block`, which must be below the length.
    pub fn clear(&mut self, block: u32) {
        self.bytes[block as usize / 8] &= !(0x80 >> (block % 8));
    }

    /// How many blocks are set.
    pub fn count(&self) -> u32 {
        self.bytes.iter().map(|byte| byte.count_ones()).sum()
    }

    /// Whether every block is set.
    pub fn is_full(&self) -> bool {
        self.count() == self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_go_most_significant_first_and_round_trip() {
        let mut bits = Bits::empty(10);
        bits.set(0);
        bits.set(9);
        assert_eq!(bits.to_wire(), SwarmBits("8040".into()));
        assert_eq!(Bits::from_wire(&bits.to_wire(), 10), Ok(bits.clone()));
        assert_eq!(bits.count(), 2);
        assert!(!bits.get(10), "past the end");
        assert!(Bits::full(10).is_full());
        assert_eq!(Bits::full(10).to_wire(), SwarmBits("ffc0".into()));
    }

    #[test]
    fn bitmaps_of_the_wrong_size_or_with_bits_past_the_end_are_refused() {
        for wire in ["80", "804000", "8041", "zz40", "804"] {
            assert!(
                Bits::from_wire(&SwarmBits(wire.into()), 10).is_err(),
                "{wire}"
            );
        }
        assert_eq!(
            Bits::from_wire(&SwarmBits(String::new()), 0),
            Ok(Bits::empty(0))
        );
    }
}
