//! The regions read off the finished skeleton, each once, by grouping the
//! vertices by the regions they belong to.
//!
//! In a simple arrangement a vertex lies on exactly `d` hyperplanes `T`, and
//! the regions whose closures hold it are the choices of a side of every
//! unit hyperplane in `T` (the domain's facets keep their inside): `2^j`
//! regions for `j` units in `T`, each the vertex's sign vector with the
//! chosen sides on `T`. A region's vertices are then exactly the vertices
//! that name its pattern among their choices, so one pass over the vertices,
//! with a table keyed by pattern, gives every region's vertex set; its facets
//! are the hyperplanes its vertices lie on (in a simple arrangement every
//! hyperplane through a vertex of a region bounds it). This replaces a
//! search over each region's edges, which cost a region's vertices times
//! their `2 d` edges, by one table look-up per vertex and region.

use std::ops::Range;

use rayon::prelude::*;

use super::complex::{has, ones, set, Complex, CHOICE_VERTICES_PER_TASK};
use super::shards::{by_key, shard_count, Scatter};
use super::table::{BitKeys, Index};
use super::Fail;

/// A region read off the skeleton.
pub(super) struct Found {
    /// The pattern as `pos` bits over the hyperplanes.
    pub bits: Vec<u64>,
    /// The pattern's key ([`BitKeys::of`] its bits), for the neighbours.
    pub key: u64,
    /// The hyperplanes of its facets, ascending.
    pub facets: Vec<usize>,
    /// The mean of its vertices (summed in vertex order): a point inside
    /// it, from which its Chebyshev ball is found
    /// ([`crate::lp::chebyshev_ball_inside`]).
    pub centroid: Vec<f64>,
}

/// The edges at each vertex (compressed rows).
struct Star {
    start: Vec<usize>,
    ends: Vec<u32>,
}

impl Star {
    fn of(cx: &Complex) -> Star {
        let mut start = vec![0usize; cx.len() + 1];
        for &[a, b] in &cx.edges {
            start[a as usize + 1] += 1;
            start[b as usize + 1] += 1;
        }
        for v in 0..cx.len() {
            start[v + 1] += start[v];
        }
        let mut fill = start.clone();
        let mut ends = vec![0u32; start[cx.len()]];
        for &[a, b] in &cx.edges {
            for (x, y) in [(a, b), (b, a)] {
                ends[fill[x as usize]] = y;
                fill[x as usize] += 1;
            }
        }
        Star { start, ends }
    }

    fn at(&self, v: usize) -> &[u32] {
        &self.ends[self.start[v]..self.start[v + 1]]
    }
}

/// Every region of the complex (`m` domain facets), each once, shard by
/// shard (an order that follows the shard count: the caller sorts them);
/// `keys` hashes bit sets of the complex's words. In parallel unless
/// `serial`.
///
/// # Errors
///
/// [`Fail::Fallback`] when a vertex's star is not that of a simple vertex.
pub(super) fn read(cx: &Complex, m: usize, keys: &BitKeys, serial: bool) -> Result<Vec<Found>, Fail> {
    let star = Star::of(cx);
    let shards = shard_count(serial, cx.len(), CHOICE_VERTICES_PER_TASK);
    gather(cx, m, keys, &star, shards)
}

/// A vertex's choice of sides of the unit hyperplanes through it: the
/// region with the vertex's sign vector and the `k`-th of those units
/// positive for each bit `k` of `c`, whose pattern has key `key`.
#[derive(Clone, Copy)]
struct Choice {
    key: u64,
    v: u32,
    c: u32,
}

/// The regions from `shards` (a power of two) groupings of the vertices,
/// each checked simple in `star` first, in parallel when more than one:
/// shard by shard, each shard's in the order of their first vertex and
/// choice.
///
/// # Errors
///
/// [`Fail::Fallback`] for a vertex that is not simple or lies on 32 unit
/// hyperplanes or more, or past `2^32 - 1` regions in a shard.
fn gather(cx: &Complex, m: usize, keys: &BitKeys, star: &Star, shards: usize) -> Result<Vec<Found>, Fail> {
    let choices = |range: Range<usize>, out: &mut Scatter<Choice>| {
        let (mut seen, mut choice_keys) = (Vec::new(), Vec::new());
        for v in range {
            simple(cx, star, v, m, &mut seen)?;
            // The units among the vertex's hyperplanes (`seen` lists them
            // all, ascending): each doubles the choices, the new half with
            // its word added.
            let units = || seen.iter().map(|&(t, _)| t).filter(|&t| t >= m);
            if units().count() >= 32 {
                return Err(Fail::Fallback("a vertex lies on 32 unit hyperplanes or more"));
            }
            choice_keys.clear();
            choice_keys.push(keys.of(cx.pos(v)));
            for t in units() {
                for c in 0..choice_keys.len() {
                    choice_keys.push(choice_keys[c].wrapping_add(keys.word(t)));
                }
            }
            for (c, &key) in choice_keys.iter().enumerate() {
                // Fit: fewer than 2^32 vertices (the complex checks) and choices.
                out.push(
                    key,
                    Choice {
                        key,
                        v: v as u32,
                        c: c as u32,
                    },
                );
            }
        }
        Ok(())
    };
    let mut groups: Vec<Groups> = (0..shards).map(|_| Groups::new(cx)).collect();
    let take = |g: &mut Groups, choice: Choice| g.take(cx, m, choice);
    by_key(cx.len(), CHOICE_VERTICES_PER_TASK, &mut groups, choices, take)?;
    let parts: Vec<Vec<Found>> = if shards > 1 {
        groups.into_par_iter().map(Groups::found).collect()
    } else {
        groups.into_iter().map(Groups::found).collect()
    };
    Ok(parts.into_iter().flatten().collect())
}

/// Checks that vertex `v` is simple: it lies on `d` hyperplanes, and each of
/// its edges leaves exactly one of them, one edge to the inside of each
/// domain facet and one to each side of each unit's hyperplane. `seen` is
/// scratch space (each of them, with the edges to each side of it).
///
/// # Errors
///
/// [`Fail::Fallback`] otherwise.
fn simple(
    cx: &Complex,
    star: &Star,
    v: usize,
    m: usize,
    seen: &mut Vec<(usize, [u8; 2])>,
) -> Result<(), Fail> {
    let tight = cx.zero(v);
    seen.clear();
    seen.extend(ones(tight).map(|t| (t, [0, 0])));
    if seen.len() != cx.d {
        return Err(Fail::Fallback("a vertex lies on other than d hyperplanes"));
    }
    for &w in star.at(v) {
        let w = w as usize;
        let t = left_hyperplane(tight, cx.zero(w))
            .ok_or_else(|| Fail::Fallback("an edge leaves other than one hyperplane"))?;
        // `t` is one of the vertex's hyperplanes (`from` holds it): a short
        // search, without the population counts of a rank (the baseline
        // x86-64 target has no instruction for them).
        let (_, sides) = seen
            .iter_mut()
            .find(|(s, _)| *s == t)
            .ok_or_else(|| Fail::Fallback("an edge leaves a hyperplane its end is not on"))?;
        let side = usize::from(has(cx.pos(w), t));
        sides[side] = sides[side].saturating_add(1);
    }
    for &(t, sides) in seen.iter() {
        let want = if t < m { [1, 0] } else { [1, 1] };
        if sides != want {
            return Err(Fail::Fallback("a vertex's star is not simple"));
        }
    }
    Ok(())
}

/// The one hyperplane in `from` and not in `to` (bit sets), or `None` when
/// there are none or several.
fn left_hyperplane(from: &[u64], to: &[u64]) -> Option<usize> {
    let mut left = None;
    for (k, (a, b)) in from.iter().zip(to).enumerate() {
        let bits = a & !b;
        if bits == 0 {
            continue;
        }
        if left.is_some() || bits & (bits - 1) != 0 {
            return None;
        }
        left = Some(64 * k + bits.trailing_zeros() as usize);
    }
    left
}

/// The regions of one shard (those whose keys fall in it, see
/// [`super::shards`]), each with the vertices that name it, and the scratch
/// of the choices it takes.
struct Groups {
    regions: Table,
    choices: Chooser,
}

impl Groups {
    /// No regions yet, for the vertices of `cx`.
    fn new(cx: &Complex) -> Groups {
        Groups {
            regions: Table {
                words: cx.words,
                d: cx.d,
                bits: Vec::new(),
                keys: Vec::new(),
                sums: Vec::new(),
                counts: Vec::new(),
                index: Index::new(),
            },
            choices: Chooser {
                units_of: None,
                units: Vec::new(),
                pattern: vec![0; cx.words],
            },
        }
    }

    /// Adds the vertex of `choice` (of `cx`, `m` domain facets) to the
    /// region the choice names.
    ///
    /// # Errors
    ///
    /// [`Fail::Fallback`] past `2^32 - 1` regions in a shard.
    fn take(&mut self, cx: &Complex, m: usize, choice: Choice) -> Result<(), Fail> {
        let v = choice.v as usize;
        let pattern = self.choices.pattern(cx, m, choice);
        let r = self.regions.region(pattern, choice.key)?;
        self.regions.add(r, cx.zero(v), cx.point(v));
        Ok(())
    }

    /// The regions, in the order of their first vertex and choice.
    fn found(self) -> Vec<Found> {
        self.regions.found()
    }
}

/// The patterns of a vertex's side choices.
struct Chooser {
    /// The vertex of the last choice and its unit hyperplanes (a vertex's
    /// choices come in a row).
    units_of: Option<usize>,
    units: Vec<usize>,
    /// The last choice's pattern.
    pattern: Vec<u64>,
}

impl Chooser {
    /// The pattern of `choice` (at a vertex of `cx`, `m` domain facets): the
    /// vertex's `pos` bits with the units of the choice's bits set.
    fn pattern(&mut self, cx: &Complex, m: usize, choice: Choice) -> &[u64] {
        let v = choice.v as usize;
        if self.units_of != Some(v) {
            self.units.clear();
            self.units.extend(ones(cx.zero(v)).filter(|&t| t >= m));
            self.units_of = Some(v);
        }
        self.pattern.copy_from_slice(cx.pos(v));
        // The units chosen positive: the set bits of `c`, each once.
        let mut chosen = choice.c as usize;
        while chosen != 0 {
            set(&mut self.pattern, self.units[chosen.trailing_zeros() as usize]);
            chosen &= chosen - 1;
        }
        &self.pattern
    }
}

/// Regions with their vertices' sums, in flat arrays, and an index from key
/// (a pattern's [`BitKeys`] key: the wrapping sum of a word per hyperplane
/// on its positive side, so that a vertex's `2^j` choices cost one addition
/// each) to region.
struct Table {
    words: usize,
    d: usize,
    /// Per region: `words` words of pattern bits, then as many of facets.
    bits: Vec<u64>,
    /// Per region: its pattern's key.
    keys: Vec<u64>,
    sums: Vec<f64>,
    counts: Vec<usize>,
    /// The regions by key.
    index: Index,
}

impl Table {
    /// The index of the region with `pattern` (and `key`), added when new.
    ///
    /// # Errors
    ///
    /// [`Fail::Fallback`] past `2^32 - 1` regions.
    fn region(&mut self, pattern: &[u64], key: u64) -> Result<usize, Fail> {
        let (bits, words) = (&self.bits, self.words);
        // Word by word: a slice comparison calls `memcmp` for a few words.
        let same = |r: usize| {
            bits[2 * r * words..(2 * r + 1) * words]
                .iter()
                .zip(pattern)
                .all(|(a, b)| a == b)
        };
        let (r, new) = self
            .index
            .find_or_add(key, same)
            .map_err(|_| Fail::Fallback("more than 2^32 regions"))?;
        if new {
            self.bits.extend_from_slice(pattern);
            self.bits.extend(std::iter::repeat_n(0, self.words));
            self.keys.push(key);
            self.sums.extend(std::iter::repeat_n(0.0, self.d));
            self.counts.push(0);
        }
        Ok(r)
    }

    fn pattern(&self, r: usize) -> &[u64] {
        &self.bits[2 * r * self.words..(2 * r + 1) * self.words]
    }

    /// Adds a vertex (its `zero` bits and point) to region `r`.
    fn add(&mut self, r: usize, zero: &[u64], point: &[f64]) {
        let facets = &mut self.bits[(2 * r + 1) * self.words..(2 * r + 2) * self.words];
        for (f, z) in facets.iter_mut().zip(zero) {
            *f |= z;
        }
        for (s, x) in self.sums[r * self.d..(r + 1) * self.d].iter_mut().zip(point) {
            *s += x;
        }
        self.counts[r] += 1;
    }

    /// The regions, in the order they came in.
    fn found(self) -> Vec<Found> {
        (0..self.counts.len())
            .map(|r| {
                let n = self.counts[r] as f64;
                let facets = &self.bits[(2 * r + 1) * self.words..(2 * r + 2) * self.words];
                Found {
                    bits: self.pattern(r).to_vec(),
                    key: self.keys[r],
                    facets: ones(facets).collect(),
                    centroid: self.sums[r * self.d..(r + 1) * self.d]
                        .iter()
                        .map(|s| s / n)
                        .collect(),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::complex::of_domain;
    use super::*;
    use crate::Domain;

    /// The unit square (4 domain facets) cut by the line `x = 0.5`
    /// (hyperplane 4, positive on the right).
    fn cut_square() -> Complex {
        let square = Domain::cube(2, 0.0, 1.0).constraints().unwrap();
        let mut cx = of_domain(&square, 5).ok().unwrap();
        for v in 0..cx.len() {
            if cx.point(v)[0] > 0.5 {
                cx.set_pos(v, 4);
            }
        }
        let mut new = Vec::new();
        for e in 0..cx.edges.len() {
            let [a, b] = cx.edges[e];
            let (xa, xb) = (cx.point(a as usize)[0], cx.point(b as usize)[0]);
            if xa != xb {
                new.push(cx.split_edge(e, (0.5 - xa) / (xb - xa), 4).ok().unwrap());
            }
        }
        cx.edges.push([new[0], new[1]]);
        cx
    }

    #[test]
    fn a_cut_square_reads_as_its_two_halves() {
        let cx = cut_square();
        for serial in [true, false] {
            let found = read(&cx, 4, &BitKeys::new(cx.words), serial).ok().unwrap();
            assert_eq!(found.len(), 2);
            let mut halves: Vec<(bool, &Found)> = found.iter().map(|f| (has(&f.bits, 4), f)).collect();
            halves.sort_by_key(|(right, _)| *right);
            for ((right, f), x) in halves.into_iter().zip([0.25, 0.75]) {
                assert_eq!(right, x > 0.5);
                // Each half: its own side, top, bottom and the cut.
                assert_eq!(f.facets.len(), 4);
                assert!(f.facets.contains(&4));
                assert_eq!(f.centroid, vec![x, 0.5]);
                assert_eq!(f.key, BitKeys::new(cx.words).of(&f.bits));
            }
        }
    }

    #[test]
    fn any_shard_count_gives_the_same_regions() {
        // The shard counts forced, whatever the threads (the scatter and the
        // shards' folds run in parallel for every count above one): the
        // same regions, each with the same bits, facets and centroid.
        let cx = cut_square();
        let keys = BitKeys::new(cx.words);
        let star = Star::of(&cx);
        let sorted = |mut found: Vec<Found>| {
            found.sort_by(|a, b| a.bits.cmp(&b.bits));
            found
        };
        let one = sorted(gather(&cx, 4, &keys, &star, 1).ok().unwrap());
        for shards in [2, 4, 8] {
            let many = sorted(gather(&cx, 4, &keys, &star, shards).ok().unwrap());
            assert_eq!(many.len(), one.len());
            for (a, b) in many.iter().zip(&one) {
                assert_eq!(
                    (&a.bits, a.key, &a.facets, &a.centroid),
                    (&b.bits, b.key, &b.facets, &b.centroid)
                );
            }
        }
    }
}
