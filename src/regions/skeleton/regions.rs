//! The regions read off the finished skeleton, each once, from its lowest
//! vertex along a fixed generic direction.
//!
//! Every region is a convex polytope, so along a generic direction `c` it
//! has one lowest vertex, and a vertex is lowest in a region exactly when
//! the region's `d` edges at it all rise. At a vertex on hyperplanes `T`
//! (`|T| = d`), the region on side `s_t` of each `t` in `T` has as its edges
//! the ones that leave `t` towards `s_t` and stay on the rest of `T`; so the
//! regions read at a vertex are the choices of a rising side for every `t`.
//! A region's vertices are then those reached from its lowest vertex along
//! edges whose sign is compatible with its pattern (its 1-skeleton is
//! connected), and its facets are the hyperplanes they lie on: in a simple
//! arrangement every hyperplane through a vertex of a region bounds it.

use rayon::prelude::*;

use super::complex::{has, ones, set, Complex};
use super::Fail;
use crate::tol::TOL_SKELETON_TIE_REL;

/// A region read off the skeleton.
pub(super) struct Found {
    /// The pattern as `pos` bits over the hyperplanes.
    pub bits: Vec<u64>,
    /// The hyperplanes of its facets, ascending.
    pub facets: Vec<usize>,
    /// The mean of its vertices: a point inside it, from which its
    /// Chebyshev ball is found ([`crate::lp::chebyshev_ball_inside`]).
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

/// Every region of the complex (`m` domain facets), each once.
///
/// # Errors
///
/// [`Fail::Fallback`] when a vertex's star is not that of a simple vertex or
/// an edge is level along the direction.
pub(super) fn read(cx: &Complex, m: usize, serial: bool) -> Result<Vec<Found>, Fail> {
    let star = Star::of(cx);
    let c = direction(cx.d);
    let at = |seen: &mut Visited, v: usize| -> Result<Vec<Found>, Fail> {
        Ok(lowest_at(cx, &star, &c, v, m)?
            .into_iter()
            .map(|bits| region_from(cx, &star, seen, v, bits))
            .collect())
    };
    let per_vertex: Vec<Result<Vec<Found>, Fail>> = if serial {
        let mut seen = Visited::new(cx.len());
        (0..cx.len()).map(|v| at(&mut seen, v)).collect()
    } else {
        (0..cx.len())
            .into_par_iter()
            .map_init(|| Visited::new(cx.len()), at)
            .collect()
    };
    let mut found = Vec::new();
    for regions in per_vertex {
        found.extend(regions?);
    }
    Ok(found)
}

/// The vertices one search has visited: a stamp per vertex, so that a new
/// search starts by changing the stamp rather than clearing a set.
struct Visited {
    stamps: Vec<u32>,
    stamp: u32,
}

impl Visited {
    fn new(vertices: usize) -> Visited {
        Visited {
            stamps: vec![0; vertices],
            stamp: 0,
        }
    }

    /// Starts a new search.
    fn next(&mut self) {
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            // Wrapped: old stamps could pass for new ones.
            self.stamps.fill(0);
            self.stamp = 1;
        }
    }

    /// Marks `v`; whether it was new to this search.
    fn insert(&mut self, v: usize) -> bool {
        let new = self.stamps[v] != self.stamp;
        self.stamps[v] = self.stamp;
        new
    }
}

/// A fixed direction with no rational relation between its coordinates
/// (fractional parts of multiples of the plastic number's inverse), so that
/// no edge of a real arrangement is level along it except by accident, which
/// is detected.
fn direction(d: usize) -> Vec<f64> {
    (1..=d)
        .map(|i| 0.5 + (i as f64 * 0.754_877_666_246_692_7).fract())
        .collect()
}

/// The patterns (as `pos` bits) of the regions whose lowest vertex is `v`.
fn lowest_at(cx: &Complex, star: &Star, c: &[f64], v: usize, m: usize) -> Result<Vec<Vec<u64>>, Fail> {
    let tight: Vec<usize> = ones(cx.zero(v)).collect();
    if tight.len() != cx.d {
        return Err(Fail::Fallback("a vertex lies on other than d hyperplanes"));
    }
    // Per hyperplane of `v`: the edges leaving it to each side, and whether
    // the one on that side rises.
    let mut seen = vec![[0u8; 2]; tight.len()];
    let mut rises = vec![[false; 2]; tight.len()];
    for &w in star.at(v) {
        let w = w as usize;
        let t = left_hyperplane(cx.zero(v), cx.zero(w))
            .ok_or(Fail::Fallback("an edge leaves other than one hyperplane"))?;
        let k = tight.binary_search(&t).unwrap_or_default();
        let side = usize::from(has(cx.pos(w), t));
        seen[k][side] += 1;
        rises[k][side] = rise(cx, c, v, w)?;
    }
    for (k, &t) in tight.iter().enumerate() {
        let want = if t < m { [1, 0] } else { [1, 1] };
        if seen[k] != want {
            return Err(Fail::Fallback("a vertex's star is not simple"));
        }
    }
    let mut patterns = vec![cx.pos(v).to_vec()];
    for (k, &t) in tight.iter().enumerate() {
        let mut next = Vec::new();
        for p in patterns {
            if rises[k][1] {
                let mut q = p.clone();
                set(&mut q, t);
                next.push(q);
            }
            if rises[k][0] {
                next.push(p);
            }
        }
        patterns = next;
    }
    Ok(patterns)
}

/// The one hyperplane in `from` and not in `to` (bit sets), or `None` when
/// there are none or several.
fn left_hyperplane(from: &[u64], to: &[u64]) -> Option<usize> {
    let mut left = None;
    for (k, (a, b)) in from.iter().zip(to).enumerate() {
        let bits = a & !b;
        match (bits.count_ones(), left) {
            (0, _) => {}
            (1, None) => left = Some(64 * k + bits.trailing_zeros() as usize),
            _ => return None,
        }
    }
    left
}

/// Whether the edge from `v` to `w` rises along `c`.
///
/// # Errors
///
/// [`Fail::Fallback`] for a level edge.
fn rise(cx: &Complex, c: &[f64], v: usize, w: usize) -> Result<bool, Fail> {
    let (mut up, mut len) = (0.0, 0.0);
    for ((a, b), ci) in cx.point(v).iter().zip(cx.point(w)).zip(c) {
        up += ci * (b - a);
        len += (b - a) * (b - a);
    }
    if up.abs() <= TOL_SKELETON_TIE_REL * len.sqrt() {
        return Err(Fail::Fallback("an edge is level along the direction"));
    }
    Ok(up > 0.0)
}

/// The region with pattern `bits` from one of its vertices: its vertices by
/// a search along compatible edges, and the hyperplanes they lie on.
fn region_from(cx: &Complex, star: &Star, seen: &mut Visited, v: usize, bits: Vec<u64>) -> Found {
    seen.next();
    seen.insert(v);
    let mut stack = vec![v];
    let mut facets = vec![0u64; cx.words];
    let (mut centroid, mut count) = (vec![0.0; cx.d], 0usize);
    while let Some(u) = stack.pop() {
        for (f, z) in facets.iter_mut().zip(cx.zero(u)) {
            *f |= z;
        }
        for (c, x) in centroid.iter_mut().zip(cx.point(u)) {
            *c += x;
        }
        count += 1;
        for &w in star.at(u) {
            let w = w as usize;
            if compatible(cx, u, w, &bits) && seen.insert(w) {
                stack.push(w);
            }
        }
    }
    centroid.iter_mut().for_each(|c| *c /= count as f64);
    Found {
        facets: ones(&facets).collect(),
        bits,
        centroid,
    }
}

/// Whether the edge from `a` to `b` lies in the closure of the region with
/// pattern `bits`: its interior's sign agrees with `bits` off its hyperplanes.
fn compatible(cx: &Complex, a: usize, b: usize, bits: &[u64]) -> bool {
    let (pa, pb, za, zb) = (cx.pos(a), cx.pos(b), cx.zero(a), cx.zero(b));
    (0..cx.words).all(|k| ((pa[k] | pb[k]) ^ bits[k]) & !(za[k] & zb[k]) == 0)
}
