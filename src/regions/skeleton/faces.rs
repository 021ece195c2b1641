//! The 2-faces a unit cuts, keyed by sign vectors, and the edges joining the
//! new vertices inside them.
//!
//! A new vertex `v` on hyperplane `h` comes from an edge `e` on `d - 1`
//! hyperplanes `T`. The 2-faces containing `e` are, for each `t` in `T` and
//! each side `s` of `t`, the face on the hyperplanes `T \ {t}` on side `s` of
//! `t`, with the sign of `e`'s interior elsewhere (only the inside of a
//! domain facet). Its key is that sign vector (`pos` bits, then `zero` bits),
//! without `h`, which the face straddles. `h` is affine on a 2-face (a convex
//! polygon inside one cell of the earlier layers) and no vertex lies on it,
//! so a face it cuts is cut on exactly two edges: the two new vertices with
//! one key are joined by an edge. A key seen other than twice is a
//! degenerate arrangement.
//!
//! The keys live in one pool, found again through the skeleton's
//! [`Index`] of their additive hashes ([`BitKeys`]): a unit meets `2 (d - 1)`
//! faces per new vertex, whose keys differ from the vertex's by a bit or
//! two, so each face's hash costs an addition or two.

use super::complex::{clear, has, set, Complex};
use super::table::{BitKeys, Index};
use super::Fail;

/// The new vertices of one unit, by the key of each 2-face they lie on.
pub(super) struct FaceCuts {
    /// `u64` words per key: `pos` bits, then `zero` bits.
    width: usize,
    /// The hash of keys (bit `i` of the `pos` words is bit `i`, bit `i` of
    /// the `zero` words is bit `64 * words + i`).
    hashes: BitKeys,
    /// The key being built.
    key: Vec<u64>,
    /// The keys of the faces met, `width` words each, in the order met.
    keys: Vec<u64>,
    /// Per face met: its first vertex, and whether a second has joined it.
    faces: Vec<(u32, bool)>,
    /// The faces met by the hashes of their keys.
    index: Index,
}

impl FaceCuts {
    /// An empty set of cuts for bit sets of `words` words.
    pub fn new(words: usize) -> FaceCuts {
        FaceCuts {
            width: 2 * words,
            hashes: BitKeys::new(2 * words),
            key: vec![0; 2 * words],
            keys: Vec::new(),
            faces: Vec::new(),
            index: Index::new(),
        }
    }

    /// Forgets the faces of the previous unit (keeping the memory).
    pub fn clear(&mut self) {
        self.keys.clear();
        self.faces.clear();
        self.index.clear();
    }

    /// Records the faces of new vertex `v` (on hyperplane `h`; `m` domain
    /// facets) and joins it to the vertex met earlier on each face.
    ///
    /// # Errors
    ///
    /// [`Fail::Fallback`] for a third vertex on one face.
    pub fn add(&mut self, cx: &mut Complex, v: u32, h: usize, m: usize) -> Result<(), Fail> {
        let w = cx.words;
        self.key[..w].copy_from_slice(cx.pos(v as usize));
        self.key[w..].copy_from_slice(cx.zero(v as usize));
        clear(&mut self.key[w..], h);
        let base = self.hashes.of(&self.key);
        // The key's zero words are restored after each face, so the loop may
        // read them from a copy taken word by word. The vertex lies on `t`,
        // so its `pos` bit `t` is clear: the hashes follow the bits changed.
        for k in 0..w {
            let mut rest = self.key[w + k];
            while rest != 0 {
                let t = 64 * k + rest.trailing_zeros() as usize;
                rest &= rest - 1;
                let off = base.wrapping_sub(self.hashes.word(64 * w + t));
                clear(&mut self.key[w..], t);
                self.meet(cx, v, off)?;
                if t >= m {
                    // A unit's hyperplane: the face on its positive side too.
                    // The vertex lies on it, so its side bit is clear and the
                    // key's hash just adds the bit's word.
                    debug_assert!(
                        !has(&self.key[..w], t),
                        "a vertex on hyperplane {t} with its side bit set"
                    );
                    set(&mut self.key[..w], t);
                    self.meet(cx, v, off.wrapping_add(self.hashes.word(t)))?;
                    clear(&mut self.key[..w], t);
                }
                set(&mut self.key[w..], t);
            }
        }
        Ok(())
    }

    /// Records `v` on the face of the current key (of hash `hash`), joining
    /// it to the face's first vertex.
    fn meet(&mut self, cx: &mut Complex, v: u32, hash: u64) -> Result<(), Fail> {
        let (width, keys, key) = (self.width, &self.keys, &self.key);
        let (f, new) = self
            .index
            .find_or_add(hash, |f| keys[f * width..(f + 1) * width] == key[..])
            .map_err(|_| Fail::Fallback("more than 2^32 faces cut by one unit"))?;
        if new {
            self.faces.push((v, false));
            self.keys.extend_from_slice(&self.key);
            return Ok(());
        }
        let (first, joined) = &mut self.faces[f];
        if *joined {
            return Err(Fail::Fallback("a 2-face is cut on more than two edges"));
        }
        *joined = true;
        cx.edges.push([*first, v]);
        Ok(())
    }

    /// Checks that every face met was cut exactly twice.
    ///
    /// # Errors
    ///
    /// [`Fail::Fallback`] for a face cut once.
    pub fn finish(&self) -> Result<(), Fail> {
        if self.faces.iter().all(|&(_, joined)| joined) {
            Ok(())
        } else {
            Err(Fail::Fallback("a 2-face is cut on one edge only"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A complex with `n` loose vertices on hyperplane 0 and the given `pos`
    /// bits (one word), no edges.
    fn loose(pos: &[u64]) -> Complex {
        let mut cx = Complex {
            d: 2,
            words: 1,
            points: Vec::new(),
            signs: Vec::new(),
            edges: Vec::new(),
        };
        for &p in pos {
            cx.push_vertex(&[0.0, 0.0], &[p], &[0b11]).ok().unwrap();
        }
        cx
    }

    #[test]
    fn vertices_with_one_key_are_joined_once_across_table_growth() {
        // Pairs of vertices with equal pos bits share their faces: in 2-D a
        // vertex on hyperplanes {0, 1} cut by h = 0 lies on the faces of
        // hyperplane 1 (a unit when m = 1: both sides), so each pair is
        // joined twice, once per side. Enough pairs to grow the table.
        let pairs = 3000u64;
        let pos: Vec<u64> = (0..pairs).flat_map(|p| [p << 2, p << 2]).collect();
        let mut cx = loose(&pos);
        let mut cuts = FaceCuts::new(1);
        for v in 0..cx.len() as u32 {
            cuts.add(&mut cx, v, 0, 1).ok().unwrap();
        }
        assert!(cuts.finish().is_ok());
        let want: Vec<[u32; 2]> = (0..pairs as u32)
            .flat_map(|p| [[2 * p, 2 * p + 1], [2 * p, 2 * p + 1]])
            .collect();
        assert_eq!(cx.edges, want);
        cuts.clear();
        assert!(cuts.finish().is_ok());
    }

    #[test]
    fn a_face_cut_once_or_three_times_is_degenerate() {
        let mut cx = loose(&[0, 0, 0]);
        let mut cuts = FaceCuts::new(1);
        cuts.add(&mut cx, 0, 0, 1).ok().unwrap();
        assert!(matches!(cuts.finish(), Err(Fail::Fallback(_))));
        cuts.add(&mut cx, 1, 0, 1).ok().unwrap();
        assert!(matches!(cuts.add(&mut cx, 2, 0, 1), Err(Fail::Fallback(_))));
    }
}
