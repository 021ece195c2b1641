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

use rayon::prelude::*;

use super::complex::{has, ones, set, Complex};
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

/// Every region of the complex (`m` domain facets), each once, in the order
/// of the first vertex (then side choice) that names it, whatever the
/// threads; `keys` hashes bit sets of the complex's words.
///
/// # Errors
///
/// [`Fail::Fallback`] when a vertex's star is not that of a simple vertex.
pub(super) fn read(cx: &Complex, m: usize, keys: &BitKeys, serial: bool) -> Result<Vec<Found>, Fail> {
    let star = Star::of(cx);
    let check = |seen: &mut Vec<(usize, [u8; 2])>, v: usize| simple(cx, &star, v, m, seen);
    let base = |v: usize| keys.of(cx.pos(v));
    let (shards, bases) = if serial {
        let mut seen = Vec::new();
        (0..cx.len()).try_for_each(|v| check(&mut seen, v))?;
        (1, (0..cx.len()).map(base).collect::<Vec<u64>>())
    } else {
        (0..cx.len()).into_par_iter().try_for_each_init(Vec::new, check)?;
        let bases = (0..cx.len()).into_par_iter().map(base).collect();
        (rayon::current_num_threads().next_power_of_two(), bases)
    };
    gather(cx, m, keys, &bases, shards)
}

/// The regions from `shards` (a power of two) groupings of the vertices
/// (`bases`: their patterns' keys), in parallel when more than one, in the
/// order of their first vertex and choice.
///
/// # Errors
///
/// [`Fail::Fallback`] past `2^32 - 1` regions in a shard.
fn gather(cx: &Complex, m: usize, keys: &BitKeys, bases: &[u64], shards: usize) -> Result<Vec<Found>, Fail> {
    let group = |s: usize| Groups::of_shard(cx, m, keys, bases, s, shards).map(Groups::found);
    let groups: Vec<_> = if shards == 1 {
        vec![group(0)?]
    } else {
        (0..shards)
            .into_par_iter()
            .map(group)
            .collect::<Result<_, Fail>>()?
    };
    let mut found: Vec<((usize, usize), Found)> = groups.into_iter().flatten().collect();
    found.sort_unstable_by_key(|(first, _)| *first);
    Ok(found.into_iter().map(|(_, f)| f).collect())
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

/// The regions of one shard (those whose key is `s` modulo the shard
/// count), with their vertices' sums, in flat arrays, and an index from
/// key (a pattern's [`BitKeys`] key: the wrapping sum of a word per
/// hyperplane on its positive side, so that a vertex's `2^j` choices cost
/// one addition each) to region.
struct Groups {
    words: usize,
    d: usize,
    /// Per region: `words` words of pattern bits, then as many of facets.
    bits: Vec<u64>,
    /// Per region: its pattern's key.
    keys: Vec<u64>,
    sums: Vec<f64>,
    counts: Vec<usize>,
    /// The first vertex and side choice naming each region.
    first: Vec<(usize, usize)>,
    /// The regions by key.
    index: Index,
}

impl Groups {
    /// Groups the vertices of `cx` into the regions of shard `s` of `shards`.
    fn of_shard(
        cx: &Complex,
        m: usize,
        keys: &BitKeys,
        bases: &[u64],
        s: usize,
        shards: usize,
    ) -> Result<Groups, Fail> {
        let mut g = Groups {
            words: cx.words,
            d: cx.d,
            bits: Vec::new(),
            keys: Vec::new(),
            sums: Vec::new(),
            counts: Vec::new(),
            first: Vec::new(),
            index: Index::new(),
        };
        let (mut units, mut choice_keys) = (Vec::new(), Vec::new());
        let mut pattern = vec![0u64; cx.words];
        for (v, &base) in bases.iter().enumerate() {
            units.clear();
            units.extend(ones(cx.zero(v)).filter(|&t| t >= m));
            choice_keys.clear();
            choice_keys.push(base);
            for &t in &units {
                for c in 0..choice_keys.len() {
                    choice_keys.push(choice_keys[c].wrapping_add(keys.word(t)));
                }
            }
            for (c, &key) in choice_keys.iter().enumerate() {
                if key & (shards as u64 - 1) != s as u64 {
                    continue;
                }
                pattern.copy_from_slice(cx.pos(v));
                // The units chosen positive: the set bits of `c`, each once.
                let mut chosen = c;
                while chosen != 0 {
                    set(&mut pattern, units[chosen.trailing_zeros() as usize]);
                    chosen &= chosen - 1;
                }
                let r = g.region(&pattern, key, (v, c))?;
                g.add(r, cx.zero(v), cx.point(v));
            }
        }
        Ok(g)
    }

    /// The index of the region with `pattern` (and `key`), added with
    /// `first` as its first vertex and choice when new.
    ///
    /// # Errors
    ///
    /// [`Fail::Fallback`] past `2^32 - 1` regions in a shard.
    fn region(&mut self, pattern: &[u64], key: u64, first: (usize, usize)) -> Result<usize, Fail> {
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
            self.first.push(first);
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

    /// The regions, each with its first vertex and choice.
    fn found(self) -> Vec<((usize, usize), Found)> {
        (0..self.counts.len())
            .map(|r| {
                let n = self.counts[r] as f64;
                let facets = &self.bits[(2 * r + 1) * self.words..(2 * r + 2) * self.words];
                let found = Found {
                    bits: self.pattern(r).to_vec(),
                    key: self.keys[r],
                    facets: ones(facets).collect(),
                    centroid: self.sums[r * self.d..(r + 1) * self.d]
                        .iter()
                        .map(|s| s / n)
                        .collect(),
                };
                (self.first[r], found)
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
    fn any_shard_count_gives_the_same_regions_in_the_same_order() {
        let cx = cut_square();
        let keys = BitKeys::new(cx.words);
        let bases: Vec<u64> = (0..cx.len()).map(|v| keys.of(cx.pos(v))).collect();
        let one = gather(&cx, 4, &keys, &bases, 1).ok().unwrap();
        for shards in [2, 4, 8] {
            let many = gather(&cx, 4, &keys, &bases, shards).ok().unwrap();
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
