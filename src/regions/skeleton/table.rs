//! The one hash table of the skeleton: keys that are bit sets of a few
//! words, hashed additively ([`BitKeys`]), and an open-addressing index
//! from those hashes to items the caller stores ([`Index`]).
//!
//! The 2-faces a unit cuts ([`super::faces`]) and the regions read off the
//! vertices ([`super::regions`]) both look up millions of keys that differ
//! from a key already hashed by a bit or two; an additive hash gives each
//! such key for one addition, and the caller compares the keys in its own
//! pool (no boxed keys, no allocation per look-up).

/// An additive hash of bit sets: the wrapping sum of a fixed pseudo-random
/// word per bit set, so that setting or clearing one bit adds or subtracts
/// one word.
pub(super) struct BitKeys {
    /// The word of each bit.
    words: Vec<u64>,
    /// Per byte of a bit set, the sum of the words of each of its 256
    /// values, so that a whole set's key costs one look-up per byte rather
    /// than one per bit set.
    bytes: Vec<[u64; 256]>,
}

impl BitKeys {
    /// Keys for bit sets of `words` `u64` words.
    pub fn new(words: usize) -> BitKeys {
        let words: Vec<u64> = (0..64 * words as u64).map(mix).collect();
        let bytes = words
            .chunks(8)
            .map(|eight| {
                let mut sums = [0u64; 256];
                for value in 1..256 {
                    // The sum for `value` is that without its lowest bit,
                    // plus that bit's word.
                    let low = (value as u32).trailing_zeros() as usize;
                    sums[value] = sums[value & (value - 1)].wrapping_add(eight[low]);
                }
                sums
            })
            .collect();
        BitKeys { words, bytes }
    }

    /// The word of bit `i`: what setting it adds to a key.
    pub fn word(&self, i: usize) -> u64 {
        self.words[i]
    }

    /// The key of the bit set `bits` (at most the words given to [`BitKeys::new`]).
    pub fn of(&self, bits: &[u64]) -> u64 {
        let mut key = 0u64;
        for (&w, eight) in bits.iter().zip(self.bytes.chunks_exact(8)) {
            // Byte by byte with shifts: an iterator over each word's bytes
            // cost several times as many instructions.
            for (i, sums) in eight.iter().enumerate() {
                key = key.wrapping_add(sums[(w >> (8 * i)) as usize & 0xff]);
            }
        }
        key
    }
}

/// A 64-bit finaliser (splitmix64's), spreading `x` over all bits.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// An open-addressing index (linear probing) from 64-bit hashes to items
/// `0, 1, 2, ...` that the caller stores, in the order they came in. The
/// caller says which item holds a key ([`Index::find_or_add`]); the index
/// keeps every item's hash, so it grows and clears without the keys.
pub(super) struct Index {
    /// Item plus one per slot; 0 is empty. A power of two long, at least
    /// twice the number of items.
    slots: Vec<u32>,
    /// The hash of each item.
    hashes: Vec<u64>,
}

/// Slots of a fresh index (a power of two).
const INITIAL_SLOTS: usize = 64;

/// Why an item could not be added.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Full;

impl Index {
    /// An empty index with room for its first items.
    pub fn new() -> Index {
        Index {
            slots: vec![0; INITIAL_SLOTS],
            hashes: Vec::new(),
        }
    }

    /// The item with hash `hash` that `same` accepts, as `(item, false)`;
    /// otherwise a new item (the next index, which the caller then stores)
    /// as `(item, true)`. `same` is asked only about items of equal hash.
    ///
    /// # Errors
    ///
    /// [`Full`] past `u32::MAX - 1` items.
    pub fn find_or_add(&mut self, hash: u64, same: impl Fn(usize) -> bool) -> Result<(usize, bool), Full> {
        let slot = match self.probe(hash, same) {
            Ok(i) => return Ok((i, false)),
            Err(slot) => slot,
        };
        let i = self.hashes.len();
        self.slots[slot] = u32::try_from(i + 1).map_err(|_| Full)?;
        self.hashes.push(hash);
        if 2 * self.hashes.len() > self.slots.len() {
            self.grow();
        }
        Ok((i, true))
    }

    /// The item with hash `hash` that `same` accepts, if any.
    pub fn find(&self, hash: u64, same: impl Fn(usize) -> bool) -> Option<usize> {
        self.probe(hash, same).ok()
    }

    /// The item with hash `hash` that `same` accepts, or else the empty
    /// slot where its probe sequence ends.
    fn probe(&self, hash: u64, same: impl Fn(usize) -> bool) -> Result<usize, usize> {
        let mask = self.slots.len() - 1;
        let mut slot = self.home(hash);
        loop {
            match self.slots[slot] {
                0 => return Err(slot),
                i => {
                    let i = i as usize - 1;
                    if self.hashes[i] == hash && same(i) {
                        return Ok(i);
                    }
                }
            }
            slot = (slot + 1) & mask;
        }
    }

    /// Forgets every item, clearing only the slots they hold (an index
    /// reused for many small sets does not sweep its peak size each time).
    pub fn clear(&mut self) {
        let mask = self.slots.len() - 1;
        for (i, &hash) in self.hashes.iter().enumerate() {
            // Items cleared before may have emptied slots of this probe
            // sequence: look for the item itself, not for an empty slot.
            let mut slot = self.home(hash);
            while self.slots[slot] as usize != i + 1 {
                slot = (slot + 1) & mask;
            }
            self.slots[slot] = 0;
        }
        self.hashes.clear();
    }

    /// The first slot to probe for `hash`: its high bits (callers may use
    /// the low ones for their own ends, as the shards of the regions do).
    fn home(&self, hash: u64) -> usize {
        let bits = self.slots.len().trailing_zeros();
        (hash >> (64 - bits)) as usize
    }

    /// Doubles the slots, placing every item again.
    fn grow(&mut self) {
        self.slots = vec![0; 2 * self.slots.len()];
        let mask = self.slots.len() - 1;
        for (i, &hash) in self.hashes.iter().enumerate() {
            let mut slot = self.home(hash);
            while self.slots[slot] != 0 {
                slot = (slot + 1) & mask;
            }
            // Fits: `i + 1` was checked to fit a `u32` when the item came in.
            self.slots[slot] = (i + 1) as u32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_the_sum_of_its_bits_words() {
        let keys = BitKeys::new(1);
        let mut bits = vec![0u64; 1];
        assert_eq!(keys.of(&bits), 0);
        bits[0] = 1 << 4 | 1 << 1;
        assert_eq!(keys.of(&bits), mix(4).wrapping_add(mix(1)));
        assert_eq!(keys.word(4), mix(4));
        // Bits across bytes and words: the same sum by the byte tables.
        let keys = BitKeys::new(3);
        let mut wide = vec![0u64; 3];
        let mut want = 0u64;
        for i in [0, 7, 8, 63, 64, 100, 191] {
            wide[i / 64] |= 1 << (i % 64);
            want = want.wrapping_add(mix(i as u64));
        }
        assert_eq!(keys.of(&wide), want);
    }

    #[test]
    fn items_are_found_again_across_growth_collisions_and_clears() {
        // Keys 0..n with a hash that collides in pairs (k and k + 1 share
        // one when k is even), so every look-up must ask `same`.
        let hash = |k: u64| mix(k / 2);
        let mut index = Index::new();
        for round in 0..3 {
            let n = 5000 >> round;
            let mut keys: Vec<u64> = Vec::new();
            for k in 0..n {
                let (i, new) = index.find_or_add(hash(k), |i| keys[i] == k).unwrap();
                assert!(new);
                assert_eq!(i, keys.len());
                keys.push(k);
            }
            assert_eq!(index.hashes.len(), n as usize);
            for k in (0..n).rev() {
                let (i, new) = index.find_or_add(hash(k), |i| keys[i] == k).unwrap();
                assert_eq!((i, new), (k as usize, false));
                assert_eq!(index.find(hash(k), |i| keys[i] == k), Some(i));
                assert_eq!(index.hashes[i], hash(k));
            }
            assert_eq!(index.find(hash(n), |i| keys[i] == n), None);
            index.clear();
            assert!(index.hashes.is_empty());
            assert!(index.slots.iter().all(|&s| s == 0));
        }
    }
}
