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
//! Two passes, both parallel: every new vertex's faces with the additive
//! hashes of their keys ([`BitKeys`]: a face's key differs from the
//! vertex's by a bit or two, so each hash costs an addition or two), then
//! the faces paired by key in shards of the hashes, each shard with its own
//! [`Index`] and taking its faces in order. A face's key is never stored: it
//! is compared from its vertex's sign vector where two hashes agree. Which
//! faces pair is a property of the keys alone, and the pairs come back in
//! face order, so the shards (and the threads) change no edge.

use rayon::prelude::*;

use super::complex::{clear, has, ones, parallel, Complex};
use super::table::{BitKeys, Index};
use super::Fail;

/// New vertices per parallel task when their faces are listed.
const VERTICES_PER_TASK: usize = 256;

/// A 2-face through a new vertex: the face leaving hyperplane `left` of the
/// vertex's, on the positive side of it or not (16 bytes: the faces of a
/// unit are many).
#[derive(Clone, Copy, Debug)]
struct Face {
    /// The hash of the face's key.
    hash: u64,
    /// The vertex, by its place among the unit's new vertices.
    place: u32,
    /// `left` shifted up one bit, with the side (1: positive) below it.
    side: u32,
}

impl Face {
    fn new(hash: u64, place: u32, left: usize, positive: bool) -> Face {
        // Fits: a network's units number far fewer than 2^31.
        let side = (left as u32) << 1 | u32::from(positive);
        Face { hash, place, side }
    }

    fn left(&self) -> usize {
        (self.side >> 1) as usize
    }

    fn positive(&self) -> bool {
        self.side & 1 == 1
    }
}

/// The new vertices of one unit, paired by the 2-faces they share.
pub(super) struct FaceCuts {
    /// The hash of keys (bit `i` of the `pos` words is bit `i`, bit `i` of
    /// the `zero` words is bit `64 * words + i`).
    hashes: BitKeys,
    /// One index per shard, kept between units for its memory.
    shards: Vec<Index>,
}

impl FaceCuts {
    /// Face pairing for bit sets of `words` words.
    pub fn new(words: usize) -> FaceCuts {
        FaceCuts {
            hashes: BitKeys::new(2 * words),
            shards: Vec::new(),
        }
    }

    /// The edges joining the new vertices of a unit (vertices `first..` of
    /// `cx`, on hyperplane `h`; `m` domain facets) across the 2-faces they
    /// share, as `(later, earlier)` places among the new vertices, in the
    /// order of the later vertex and then of its faces (that in which the
    /// edges are numbered). In parallel unless `serial`.
    ///
    /// # Errors
    ///
    /// [`Fail::Fallback`] for a face cut other than twice.
    pub fn joins(
        &mut self,
        cx: &Complex,
        first: usize,
        h: usize,
        m: usize,
        serial: bool,
    ) -> Result<Vec<(u32, u32)>, Fail> {
        let faces = self.faces(cx, first, h, m, serial);
        let shards = if serial {
            1
        } else {
            rayon::current_num_threads().next_power_of_two()
        };
        self.pair(cx, first, &faces, shards)
    }

    /// Every face of the new vertices `first..` with its key's hash, in the
    /// order of the vertices and, per vertex, of its hyperplanes (then the
    /// negative side first).
    fn faces(&self, cx: &Complex, first: usize, h: usize, m: usize, serial: bool) -> Vec<Face> {
        let starts: Vec<usize> = (first..cx.len()).step_by(VERTICES_PER_TASK).collect();
        // At most two faces per hyperplane of the edge split (`d - 1`).
        let most = 2 * cx.d.saturating_sub(1).max(1);
        let task = |&start: &usize| {
            let mut out = Vec::with_capacity(VERTICES_PER_TASK.min(cx.len() - start) * most);
            let mut key = vec![0u64; 2 * cx.words];
            for v in start..cx.len().min(start + VERTICES_PER_TASK) {
                self.faces_of(cx, first, v, h, m, &mut key, &mut out);
            }
            out
        };
        let parts: Vec<Vec<Face>> = if parallel(serial, cx.len() - first, VERTICES_PER_TASK) {
            starts.par_iter().map(task).collect()
        } else {
            starts.iter().map(task).collect()
        };
        parts.concat()
    }

    /// Appends to `out` the faces of new vertex `v` (`key` is scratch of
    /// `2 words` words).
    #[allow(clippy::too_many_arguments)]
    fn faces_of(
        &self,
        cx: &Complex,
        first: usize,
        v: usize,
        h: usize,
        m: usize,
        key: &mut [u64],
        out: &mut Vec<Face>,
    ) {
        let w = cx.words;
        key[..w].copy_from_slice(cx.pos(v));
        key[w..].copy_from_slice(cx.zero(v));
        clear(&mut key[w..], h);
        let base = self.hashes.of(key);
        // Fits: the new vertices were checked to number fewer than 2^32.
        let place = (v - first) as u32;
        for t in ones(&key[w..]) {
            // The face leaves `t`: its zero bit goes, the hash loses its word.
            let hash = base.wrapping_sub(self.hashes.word(64 * w + t));
            out.push(Face::new(hash, place, t, false));
            if t >= m {
                // A unit's hyperplane: the face on its positive side too. The
                // vertex lies on it, so its side bit is clear and the key's
                // hash just adds the bit's word.
                debug_assert!(
                    !has(cx.pos(v), t),
                    "a vertex on hyperplane {t} with its side bit set"
                );
                out.push(Face::new(hash.wrapping_add(self.hashes.word(t)), place, t, true));
            }
        }
    }

    /// Pairs `faces` by key, in `shards` (a power of two) shards of their
    /// hashes, in parallel when more than one: the `(later, earlier)`
    /// places of each pair, in the order of the later face.
    ///
    /// # Errors
    ///
    /// [`Fail::Fallback`] for a key met other than twice.
    fn pair(
        &mut self,
        cx: &Complex,
        first: usize,
        faces: &[Face],
        shards: usize,
    ) -> Result<Vec<(u32, u32)>, Fail> {
        self.shards.resize_with(shards.max(self.shards.len()), Index::new);
        let mask = shards as u64 - 1;
        let shard = |(s, index): (usize, &mut Index)| {
            let mine = faces
                .iter()
                .enumerate()
                .filter(|(_, f)| f.hash & mask == s as u64);
            pair_shard(cx, first, faces, mine, index)
        };
        let indices = &mut self.shards[..shards];
        let found: Vec<Result<Vec<(usize, u32)>, Fail>> = if shards == 1 {
            indices.iter_mut().enumerate().map(shard).collect()
        } else {
            indices.par_iter_mut().enumerate().map(shard).collect()
        };
        // Each shard's pairs come in face order: scattered by the later face
        // and read back in order, they are the pairs in face order. No place
        // is `u32::MAX`: the vertices number fewer than 2^32.
        let mut earlier = vec![u32::MAX; faces.len()];
        for part in found {
            for (later, with) in part? {
                earlier[later] = with;
            }
        }
        Ok(faces
            .iter()
            .zip(earlier)
            .filter(|&(_, with)| with != u32::MAX)
            .map(|(f, with)| (f.place, with))
            .collect())
    }
}

/// Pairs the faces `mine` (indices into `faces`, ascending) by key with
/// `index` (cleared first): `(later face, earlier face's place)` per pair.
///
/// # Errors
///
/// [`Fail::Fallback`] for a key met other than twice.
fn pair_shard<'a>(
    cx: &Complex,
    first: usize,
    faces: &[Face],
    mine: impl Iterator<Item = (usize, &'a Face)>,
    index: &mut Index,
) -> Result<Vec<(usize, u32)>, Fail> {
    index.clear();
    // Per face met: its first face, and whether a second has joined it.
    let mut met: Vec<(usize, bool)> = Vec::new();
    let mut pairs = Vec::new();
    for (i, f) in mine {
        let (item, new) = index
            .find_or_add(f.hash, |item| same_key(cx, first, &faces[met[item].0], f))
            .map_err(|_| Fail::Fallback("more than 2^32 faces cut by one unit"))?;
        if new {
            met.push((i, false));
            continue;
        }
        let (earlier, joined) = &mut met[item];
        if *joined {
            return Err(Fail::Fallback("a 2-face is cut on more than two edges"));
        }
        *joined = true;
        pairs.push((i, faces[*earlier].place));
    }
    if met.iter().all(|&(_, joined)| joined) {
        Ok(pairs)
    } else {
        Err(Fail::Fallback("a 2-face is cut on one edge only"))
    }
}

/// Whether faces `f` and `g` (of new vertices `first..`) have one key,
/// compared word by word from their vertices' sign vectors. A vertex lies
/// on the unit's hyperplane and on its face's `left` (its `zero` bits are
/// set there, its `pos` bit at `left` is clear), so dropping those bits or
/// setting the side bit flips them: the keys agree exactly where the
/// vertices' words differ by those flips alone (the unit's hyperplane,
/// on both, cancels).
fn same_key(cx: &Complex, first: usize, f: &Face, g: &Face) -> bool {
    let (vf, vg) = (first + f.place as usize, first + g.place as usize);
    let (pf, pg, zf, zg) = (cx.pos(vf), cx.pos(vg), cx.zero(vf), cx.zero(vg));
    let (lf, lg) = (f.left(), g.left());
    let flip = |i: usize, on: bool, k: usize| if on && i / 64 == k { 1u64 << (i % 64) } else { 0 };
    (0..cx.words).all(|k| {
        let pos = pf[k] ^ pg[k] ^ flip(lf, f.positive(), k) ^ flip(lg, g.positive(), k);
        let zero = zf[k] ^ zg[k] ^ flip(lf, true, k) ^ flip(lg, true, k);
        pos | zero == 0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A complex with loose vertices on hyperplanes 0 and 1 (in 2-D) and
    /// the given `pos` bits (one word), no edges.
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
    fn vertices_with_one_key_are_joined_once_in_any_shards() {
        // Pairs of vertices with equal pos bits share their faces: in 2-D a
        // vertex on hyperplanes {0, 1} cut by h = 0 lies on the faces of
        // hyperplane 1 (a unit when m = 1: both sides), so each pair is
        // joined twice, once per side. Enough pairs to grow the tables and
        // to list the faces in parallel tasks.
        let pairs = 3000u32;
        let pos: Vec<u64> = (0..u64::from(pairs)).flat_map(|p| [p << 2, p << 2]).collect();
        let cx = loose(&pos);
        let want: Vec<(u32, u32)> = (0..pairs)
            .flat_map(|p| [(2 * p + 1, 2 * p), (2 * p + 1, 2 * p)])
            .collect();
        let mut cuts = FaceCuts::new(1);
        for serial in [true, false] {
            assert_eq!(cuts.joins(&cx, 0, 0, 1, serial).ok().unwrap(), want);
        }
        let faces = cuts.faces(&cx, 0, 0, 1, true);
        assert_eq!(faces.len(), 4 * pairs as usize);
        for shards in [1, 2, 4, 8, 2] {
            assert_eq!(cuts.pair(&cx, 0, &faces, shards).ok().unwrap(), want);
        }
        // New vertices after old ones: places count from `first`.
        let tail: Vec<(u32, u32)> = want.iter().skip(2).map(|&(a, b)| (a - 2, b - 2)).collect();
        assert_eq!(cuts.joins(&cx, 2, 0, 1, false).ok().unwrap(), tail);
    }

    #[test]
    fn a_face_cut_once_or_three_times_is_degenerate() {
        let mut cuts = FaceCuts::new(1);
        for pos in [&[0u64][..], &[0, 0, 0]] {
            let cx = loose(pos);
            for serial in [true, false] {
                assert!(matches!(cuts.joins(&cx, 0, 0, 1, serial), Err(Fail::Fallback(_))));
            }
        }
        // Two vertices on one key and a third elsewhere: the third is alone.
        let cx = loose(&[0, 0, 4]);
        assert!(matches!(cuts.joins(&cx, 0, 0, 1, true), Err(Fail::Fallback(_))));
        let cx = loose(&[0, 0, 4, 4]);
        assert_eq!(
            cuts.joins(&cx, 0, 0, 1, true).ok().unwrap(),
            vec![(1, 0), (1, 0), (3, 2), (3, 2)]
        );
    }
}
