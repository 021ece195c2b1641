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
//! The faces are made and paired in one sharded pass ([`by_key`]): every
//! new vertex's faces with the additive hashes of their keys ([`BitKeys`]:
//! a face's key differs from the vertex's by a bit or two, so each hash
//! costs an addition or two), scattered once by their hashes' low bits, then
//! paired shard by shard, each with its own [`Index`] and taking its faces in
//! order. A face's key is never stored: it is compared from its vertex's
//! sign vector where two hashes agree. Which faces pair is a property of the
//! keys alone, and the pairs come back in face order, so the shards (and
//! the threads) change no edge.

use std::ops::Range;

use super::complex::{clear, has, ones, Complex, FACE_VERTICES_PER_TASK};
use super::shards::{by_key, merge_by_key, shard_count, Scatter};
use super::table::{BitKeys, Index};
use super::Fail;

/// A 2-face through a new vertex: the face leaving hyperplane `left` of the
/// vertex's, on the positive side of it or not (16 bytes: the faces of a
/// unit are many).
#[derive(Clone, Copy, Debug)]
struct Face {
    /// The hash of the face's key.
    hash: u64,
    /// The vertex, by its place among the unit's new vertices.
    place: u32,
    /// `left` shifted up one bit, with the side (1: positive) below it: a
    /// vertex lists its faces in the order of this field.
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

    /// Where the face comes in the unit's list of faces: by vertex, then by
    /// its place among the vertex's faces.
    fn order(&self) -> (u32, u32) {
        (self.place, self.side)
    }
}

/// A later face joined to an earlier one of the same key: the later face,
/// and the earlier face's vertex (its place).
type Join = (Face, u32);

/// One shard's pairing of faces by key, kept between units for its memory.
struct Pairing {
    /// The keys met, by hash.
    index: Index,
    /// Per key met: its first face, and whether a second has joined it.
    met: Vec<(Face, bool)>,
    /// The joins, in the order of the later face.
    joins: Vec<Join>,
}

impl Pairing {
    fn new() -> Pairing {
        Pairing {
            index: Index::new(),
            met: Vec::new(),
            joins: Vec::new(),
        }
    }

    fn clear(&mut self) {
        self.index.clear();
        self.met.clear();
        self.joins.clear();
    }

    /// Pairs face `f` (of new vertices `first..` of `cx`) with the face of
    /// its key met before, or records it as the first of its key.
    ///
    /// # Errors
    ///
    /// [`Fail::Fallback`] for a key met a third time.
    fn take(&mut self, cx: &Complex, first: usize, f: Face) -> Result<(), Fail> {
        let met = &self.met;
        let (item, new) = self
            .index
            .find_or_add(f.hash, |item| same_key(cx, first, &met[item].0, &f))
            .map_err(|_| Fail::Fallback("more than 2^32 faces cut by one unit"))?;
        if new {
            self.met.push((f, false));
            return Ok(());
        }
        let (earlier, joined) = &mut self.met[item];
        if *joined {
            return Err(Fail::Fallback("a 2-face is cut on more than two edges"));
        }
        *joined = true;
        self.joins.push((f, earlier.place));
        Ok(())
    }

    /// # Errors
    ///
    /// [`Fail::Fallback`] when a key was met once only.
    fn all_joined(&self) -> Result<(), Fail> {
        if self.met.iter().all(|&(_, joined)| joined) {
            Ok(())
        } else {
            Err(Fail::Fallback("a 2-face is cut on one edge only"))
        }
    }
}

/// The new vertices of one unit, paired by the 2-faces they share.
pub(super) struct FaceCuts {
    /// The hash of keys (bit `i` of the `pos` words is bit `i`, bit `i` of
    /// the `zero` words is bit `64 * words + i`).
    hashes: BitKeys,
    /// One pairing per shard, kept between units for its memory.
    shards: Vec<Pairing>,
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
        let new = cx.len() - first;
        let shards = shard_count(serial, new, FACE_VERTICES_PER_TASK);
        let hashes = &self.hashes;
        let faces = |range: Range<usize>, out: &mut Scatter<Face>| {
            let mut key = vec![0u64; 2 * cx.words];
            for v in range {
                faces_of(hashes, cx, first, first + v, h, m, &mut key, out);
            }
            Ok(())
        };
        pair(cx, first, new, &mut self.shards, shards, faces)
    }
}

/// Gives to `out` the faces of new vertex `v` (of vertices `first..`, on
/// hyperplane `h`; `m` domain facets) with their keys' hashes by `hashes`,
/// in the order of its hyperplanes, the negative side first (`key` is
/// scratch of `2 words` words).
#[allow(clippy::too_many_arguments)]
fn faces_of(
    hashes: &BitKeys,
    cx: &Complex,
    first: usize,
    v: usize,
    h: usize,
    m: usize,
    key: &mut [u64],
    out: &mut Scatter<Face>,
) {
    let w = cx.words;
    key[..w].copy_from_slice(cx.pos(v));
    key[w..].copy_from_slice(cx.zero(v));
    clear(&mut key[w..], h);
    let base = hashes.of(key);
    // Fits: the new vertices were checked to number fewer than 2^32.
    let place = (v - first) as u32;
    for t in ones(&key[w..]) {
        // The face leaves `t`: its zero bit goes, the hash loses its word.
        let hash = base.wrapping_sub(hashes.word(64 * w + t));
        out.push(hash, Face::new(hash, place, t, false));
        if t >= m {
            // A unit's hyperplane: the face on its positive side too. The
            // vertex lies on it, so its side bit is clear and the key's
            // hash just adds the bit's word.
            debug_assert!(
                !has(cx.pos(v), t),
                "a vertex on hyperplane {t} with its side bit set"
            );
            let hash = hash.wrapping_add(hashes.word(t));
            out.push(hash, Face::new(hash, place, t, true));
        }
    }
}

/// Pairs by key the faces that `faces` gives for the `count` new vertices
/// `first..` of `cx` (ranges of their places), in `shards` (a power of two)
/// shards of their hashes, in parallel when more than one, with the
/// pairings of `pairings` (grown to `shards`): the `(later, earlier)` places
/// of each pair, in the order of the later face.
///
/// # Errors
///
/// [`Fail::Fallback`] for a key met other than twice. Whether it fails
/// does not depend on `shards`, but its reason may: each shard stops at
/// its own first bad key, and which shard's error comes back first
/// (a face cut once or three times) follows the shard count.
fn pair(
    cx: &Complex,
    first: usize,
    count: usize,
    pairings: &mut Vec<Pairing>,
    shards: usize,
    faces: impl Fn(Range<usize>, &mut Scatter<Face>) -> Result<(), Fail> + Sync,
) -> Result<Vec<(u32, u32)>, Fail> {
    pairings.resize_with(shards.max(pairings.len()), Pairing::new);
    let pairings = &mut pairings[..shards];
    pairings.iter_mut().for_each(Pairing::clear);
    let take = |p: &mut Pairing, f: Face| p.take(cx, first, f);
    by_key(count, FACE_VERTICES_PER_TASK, pairings, faces, take)?;
    pairings.iter().try_for_each(Pairing::all_joined)?;
    let joins: Vec<&[Join]> = pairings.iter().map(|p| &p.joins[..]).collect();
    let in_order = merge_by_key(&joins, |(later, _)| later.order());
    Ok(in_order
        .into_iter()
        .map(|(later, with)| (later.place, with))
        .collect())
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
        // Every vertex has two faces, one per side of hyperplane 1, each
        // joined once (a face met once or three times fails the pairing).
        let faces = |range: Range<usize>, out: &mut Scatter<Face>| {
            let mut key = vec![0u64; 2];
            for v in range {
                faces_of(&cuts.hashes, &cx, 0, v, 0, 1, &mut key, out);
            }
            Ok(())
        };
        // The shard counts forced, whatever the threads: the parallel
        // scatter and pairing run for every count above one.
        for shards in [1, 2, 4, 8, 2] {
            let found = pair(&cx, 0, cx.len(), &mut cuts.shards, shards, faces);
            assert_eq!(found.ok().unwrap(), want);
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

    /// Face `f`'s key built bit by bit from its vertex's sign vector: the
    /// `pos` bits with `left` set on the positive side, then the `zero`
    /// bits without `h` and `left`.
    fn key_by_bits(cx: &Complex, first: usize, f: &Face, h: usize) -> Vec<bool> {
        let v = first + f.place as usize;
        let bits = 64 * cx.words;
        let pos = (0..bits).map(|i| has(cx.pos(v), i) || (f.positive() && i == f.left()));
        let zero = (0..bits).map(|i| has(cx.zero(v), i) && i != h && i != f.left());
        pos.chain(zero).collect()
    }

    #[test]
    fn same_key_agrees_with_keys_built_bit_by_bit_across_words() {
        use rand::{rngs::StdRng, Rng, SeedableRng};
        // Two words; the unit's hyperplane and the lefts on either word.
        let (h, lefts) = (100, [3usize, 70, 64, 127, 0]);
        let mut rng = StdRng::seed_from_u64(9);
        let (mut same, mut differ) = (0, 0);
        for _ in 0..4000 {
            let (lf, lg) = (lefts[rng.random_range(0..5)], lefts[rng.random_range(0..5)]);
            let (posf, posg) = (rng.random_bool(0.5), rng.random_bool(0.5));
            let bit = |i: usize| [u64::from(i < 64) << (i % 64), u64::from(i >= 64) << (i % 64)];
            let or = |a: [u64; 2], b: [u64; 2]| [a[0] | b[0], a[1] | b[1]];
            let not = |a: [u64; 2], b: [u64; 2]| [a[0] & !b[0], a[1] & !b[1]];
            let fixed = or(or(bit(h), bit(lf)), bit(lg));
            let shared_pos = not([rng.random(), rng.random()], fixed);
            let shared_zero = not([rng.random(), rng.random()], fixed);
            // Built to share a key (when `lf == lg`, only if `posf == posg`):
            // each vertex on `h` and its own left, with the other's side bit.
            let other = |l: usize, p: bool, mine: usize| if p && l != mine { bit(l) } else { [0; 2] };
            let pf = or(shared_pos, other(lg, posg, lf));
            let mut pg = or(shared_pos, other(lf, posf, lg));
            let zf = or(shared_zero, or(bit(h), bit(lf)));
            let mut zg = or(shared_zero, or(bit(h), bit(lg)));
            // Half the time a bit away from `h` and the lefts differs.
            if rng.random_bool(0.5) {
                let i = rng.random_range(0..128);
                if !has(&fixed, i) {
                    let flip = if rng.random_bool(0.5) { &mut pg } else { &mut zg };
                    flip[i / 64] ^= 1 << (i % 64);
                }
            }
            let mut cx = loose(&[]);
            cx.words = 2;
            // An old vertex first: places count from `first`.
            cx.push_vertex(&[0.0, 0.0], &[0, 0], &[0, 0]).ok().unwrap();
            cx.push_vertex(&[0.0, 0.0], &pf, &zf).ok().unwrap();
            cx.push_vertex(&[0.0, 0.0], &pg, &zg).ok().unwrap();
            let (f, g) = (Face::new(0, 0, lf, posf), Face::new(0, 1, lg, posg));
            let want = key_by_bits(&cx, 1, &f, h) == key_by_bits(&cx, 1, &g, h);
            assert_eq!(
                same_key(&cx, 1, &f, &g),
                want,
                "lefts {lf} {lg}, sides {posf} {posg}"
            );
            assert_eq!(same_key(&cx, 1, &g, &f), want);
            if want {
                same += 1;
            } else {
                differ += 1;
            }
        }
        // Both answers met often, and with lefts on different words.
        assert!(same > 1000 && differ > 1000, "{same} same, {differ} differ");
    }

    #[test]
    fn faces_with_one_hash_and_different_keys_are_not_paired() {
        // Vertices 0 and 2 share a key, 1 and 3 another (pos bit 2 set);
        // every face is given one hash, so only the keys tell them apart.
        let cx = loose(&[0, 4, 0, 4]);
        let one_hash = |range: Range<usize>, out: &mut Scatter<Face>| {
            range.for_each(|place| out.push(7, Face::new(7, place as u32, 1, false)));
            Ok(())
        };
        let mut cuts = FaceCuts::new(1);
        for shards in [1, 2, 4] {
            let found = pair(&cx, 0, 4, &mut cuts.shards, shards, one_hash);
            assert_eq!(found.ok().unwrap(), vec![(2, 0), (3, 1)]);
            // Two faces of different keys alone: each is cut once.
            for first in [0, 1, 2] {
                let found = pair(&cx, first, 2, &mut cuts.shards, shards, one_hash);
                assert!(matches!(found, Err(Fail::Fallback(_))));
            }
        }
    }
}
