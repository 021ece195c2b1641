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

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use super::complex::{clear, ones, set, Complex};
use super::Fail;

/// The new vertices of one unit, by the key of each 2-face they lie on.
#[derive(Default)]
pub(super) struct FaceCuts {
    /// The first vertex seen on each face, and whether a second has joined it.
    seen: HashMap<Vec<u64>, (u32, bool)>,
}

impl FaceCuts {
    /// Records the faces of new vertex `v` (on hyperplane `h`; `m` domain
    /// facets) and joins it to the vertex met earlier on each face.
    ///
    /// # Errors
    ///
    /// [`Fail::Fallback`] for a third vertex on one face.
    pub fn add(&mut self, cx: &mut Complex, v: u32, h: usize, m: usize) -> Result<(), Fail> {
        let w = cx.words;
        let mut key = Vec::with_capacity(2 * w);
        key.extend_from_slice(cx.pos(v as usize));
        key.extend_from_slice(cx.zero(v as usize));
        clear(&mut key[w..], h);
        let tight: Vec<usize> = ones(&key[w..]).collect();
        for t in tight {
            let sides: &[bool] = if t < m { &[false] } else { &[false, true] };
            for &positive in sides {
                let mut face = key.clone();
                clear(&mut face[w..], t);
                if positive {
                    set(&mut face[..w], t);
                }
                self.meet(cx, face, v)?;
            }
        }
        Ok(())
    }

    /// Records `v` on the face `key`, joining it to the face's first vertex.
    fn meet(&mut self, cx: &mut Complex, key: Vec<u64>, v: u32) -> Result<(), Fail> {
        match self.seen.entry(key) {
            Entry::Vacant(slot) => {
                slot.insert((v, false));
            }
            Entry::Occupied(mut slot) => {
                let (first, joined) = slot.get_mut();
                if *joined {
                    return Err(Fail::Fallback("a 2-face is cut on more than two edges"));
                }
                *joined = true;
                cx.edges.push([*first, v]);
            }
        }
        Ok(())
    }

    /// Checks that every face met was cut exactly twice.
    ///
    /// # Errors
    ///
    /// [`Fail::Fallback`] for a face cut once.
    pub fn finish(self) -> Result<(), Fail> {
        if self.seen.values().all(|&(_, joined)| joined) {
            Ok(())
        } else {
            Err(Fail::Fallback("a 2-face is cut on one edge only"))
        }
    }
}
