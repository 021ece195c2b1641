//! The vertices and edges of a polyhedral complex, with the sign vector of
//! every vertex, and the complex of the domain to start from.
//!
//! Hyperplanes are numbered domain facets first (row `k` of the domain's
//! constraints is hyperplane `k`), then the units in pattern order (unit `u`
//! is hyperplane `m + u` for `m` domain rows): the numbering of the rows of
//! [`crate::regions::hrep::raw_region`] for networks of two-piece units, so a
//! hyperplane index is also a row index there.

use rayon::prelude::*;

use super::Fail;
use crate::tol::TOL_SKELETON_ZERO_REL;
use crate::Polytope;

/// The skeleton: vertex points, sign vectors and edges.
///
/// A vertex's sign vector is two bit sets over the hyperplanes: `pos` (the
/// function is `> 0` there; never set for domain facets, whose inside is
/// negative) and `zero` (the vertex lies on the hyperplane). The sign on an
/// edge's relative interior is `pos_a | pos_b` outside `zero_a & zero_b`.
pub(super) struct Complex {
    /// The domain's dimension.
    pub d: usize,
    /// `u64` words per bit set.
    pub words: usize,
    /// Vertex coordinates in domain coordinates, `d` per vertex.
    pub points: Vec<f64>,
    /// Per vertex, `words` words of `pos` bits then `words` of `zero` bits.
    pub signs: Vec<u64>,
    /// Edges as vertex index pairs.
    pub edges: Vec<[u32; 2]>,
}

impl Complex {
    /// The number of vertices.
    pub fn len(&self) -> usize {
        self.points.len() / self.d
    }

    /// The point of vertex `v`.
    pub fn point(&self, v: usize) -> &[f64] {
        &self.points[v * self.d..(v + 1) * self.d]
    }

    /// The `pos` bits of vertex `v`.
    pub fn pos(&self, v: usize) -> &[u64] {
        &self.signs[2 * v * self.words..(2 * v + 1) * self.words]
    }

    /// The `zero` bits of vertex `v`.
    pub fn zero(&self, v: usize) -> &[u64] {
        &self.signs[(2 * v + 1) * self.words..(2 * v + 2) * self.words]
    }

    /// Marks vertex `v` as on the positive side of hyperplane `h`.
    #[cfg(test)]
    pub fn set_pos(&mut self, v: usize, h: usize) {
        set(&mut self.signs[2 * v * self.words..(2 * v + 1) * self.words], h);
    }

    /// Adds a vertex; returns its index.
    pub fn push_vertex(&mut self, point: &[f64], pos: &[u64], zero: &[u64]) -> Result<u32, Fail> {
        let v = self.next()?;
        self.points.extend_from_slice(point);
        self.signs.extend_from_slice(pos);
        self.signs.extend_from_slice(zero);
        Ok(v)
    }

    /// The index the next vertex gets.
    ///
    /// # Errors
    ///
    /// [`Fail::Fallback`] past `2^32 - 1` vertices.
    fn next(&self) -> Result<u32, Fail> {
        u32::try_from(self.len()).map_err(|_| Fail::Fallback("more than 2^32 vertices"))
    }

    /// Splits edge `e` at `a + t (b - a)` by hyperplane `h`: the new vertex
    /// takes the sign of the edge's interior and lies on `h`; the edge becomes
    /// its two halves. Its index is returned.
    ///
    /// # Errors
    ///
    /// [`Fail::Fallback`] when the edge does not lie on exactly `d - 1`
    /// hyperplanes (a degenerate arrangement).
    #[cfg(test)]
    pub fn split_edge(&mut self, e: usize, t: f64, h: usize) -> Result<u32, Fail> {
        let [a, b] = self.edges[e];
        let split = Split { e, a, b, t };
        let v = self.len() as u32;
        self.add_splits(&[split], h, true)?;
        self.halve(&split, v);
        Ok(v)
    }

    /// Makes the split edge its two halves at the split's vertex `v`: the
    /// first keeps the edge's index, the second is appended.
    pub fn halve(&mut self, s: &Split, v: u32) {
        self.edges[s.e] = [s.a, v];
        self.edges.push([v, s.b]);
    }

    /// Appends the vertex of each split (vertex `len() + k` for split `k`),
    /// in parallel unless `serial`: it lies at `a + t (b - a)` on hyperplane
    /// `h` and takes the sign of the edge's interior. The edges are left to
    /// the caller, who numbers them in its own order. Each vertex depends on
    /// its split's ends alone (earlier vertices), so the threads do not
    /// change a bit.
    ///
    /// # Errors
    ///
    /// [`Fail::Fallback`] when an edge does not lie on exactly `d - 1`
    /// hyperplanes (a degenerate arrangement), or past `2^32 - 1` vertices.
    pub fn add_splits(&mut self, splits: &[Split], h: usize, serial: bool) -> Result<(), Fail> {
        let (d, w, n) = (self.d, self.words, self.len());
        u32::try_from(n + splits.len()).map_err(|_| Fail::Fallback("more than 2^32 vertices"))?;
        self.points.resize((n + splits.len()) * d, 0.0);
        self.signs.resize((n + splits.len()) * 2 * w, 0);
        let (old_points, new_points) = self.points.split_at_mut(n * d);
        let (old_signs, new_signs) = self.signs.split_at_mut(n * 2 * w);
        let ends = Ends {
            d,
            w,
            points: old_points,
            signs: old_signs,
        };
        let fill = |(s, (point, signs)): (&Split, (&mut [f64], &mut [u64]))| ends.split(s, h, point, signs);
        if !parallel(serial, splits.len(), SPLITS_PER_TASK) {
            splits
                .iter()
                .zip(
                    new_points
                        .chunks_exact_mut(d)
                        .zip(new_signs.chunks_exact_mut(2 * w)),
                )
                .try_for_each(fill)
        } else {
            splits
                .par_iter()
                .zip(
                    new_points
                        .par_chunks_exact_mut(d)
                        .zip(new_signs.par_chunks_exact_mut(2 * w)),
                )
                .with_min_len(SPLITS_PER_TASK)
                .try_for_each(fill)
        }
    }
}

/// Splits per parallel task: enough that a task outweighs its hand-off.
pub(super) const SPLITS_PER_TASK: usize = 256;

/// New vertices per parallel task when their 2-faces are listed (a vertex
/// costs an addition or two per hyperplane it lies on); with fewer new
/// vertices in all, a unit pairs its faces in one shard on its own thread.
pub(super) const FACE_VERTICES_PER_TASK: usize = 256;

/// Vertices per parallel task when their side choices are scattered to the
/// shards of the regions (a vertex on `j` units' hyperplanes gives `2^j`).
pub(super) const CHOICE_VERTICES_PER_TASK: usize = 256;

/// Regions per parallel task of the passes over the regions found (their
/// sort into unit order, the links to their neighbours: a look-up per unit
/// facet).
pub(super) const REGIONS_PER_TASK: usize = 256;

/// Vertices per parallel task of the passes over one value per vertex
/// (a layer's columns, the side marks of a unit).
pub(super) const VERTICES_PER_TASK: usize = 4096;

/// The one rule for every parallel pass of the skeleton: in parallel unless
/// `serial` or the pass's `items` fit one task of `per_task` (then the
/// hand-off would cost more than the second thread gives). `items` is what
/// `per_task` counts, which need not be what a task is: a pass with a task
/// per column counts the column's entries (see each call). Each pass does
/// the same arithmetic per item either way, so the rule changes no bit.
pub(super) fn parallel(serial: bool, items: usize, per_task: usize) -> bool {
    !serial && items > per_task
}

/// An edge to split: its index, its ends and where (`a + t (b - a)`).
#[derive(Clone, Copy, Debug)]
pub(super) struct Split {
    pub e: usize,
    pub a: u32,
    pub b: u32,
    pub t: f64,
}

/// The points and sign vectors of the vertices so far, read by the splits.
struct Ends<'a> {
    d: usize,
    w: usize,
    points: &'a [f64],
    signs: &'a [u64],
}

impl Ends<'_> {
    /// Writes the vertex of split `s` by hyperplane `h` to `point` and
    /// `signs` (`pos` words, then `zero` words).
    ///
    /// # Errors
    ///
    /// [`Fail::Fallback`] when the edge does not lie on exactly `d - 1`
    /// hyperplanes.
    fn split(&self, s: &Split, h: usize, point: &mut [f64], signs: &mut [u64]) -> Result<(), Fail> {
        let (d, w) = (self.d, self.w);
        let (a, b) = (s.a as usize, s.b as usize);
        let (sa, sb) = (
            &self.signs[2 * a * w..(2 * a + 2) * w],
            &self.signs[2 * b * w..(2 * b + 2) * w],
        );
        let on: usize = sa[w..]
            .iter()
            .zip(&sb[w..])
            .map(|(x, y)| (x & y).count_ones() as usize)
            .sum();
        if on + 1 != d {
            return Err(Fail::Fallback("an edge lies on other than d - 1 hyperplanes"));
        }
        let (pa, pb) = (&self.points[a * d..(a + 1) * d], &self.points[b * d..(b + 1) * d]);
        for ((x, &xa), &xb) in point.iter_mut().zip(pa).zip(pb) {
            *x = xa + s.t * (xb - xa);
        }
        // The edge interior's sign: positive where either end is, on the
        // hyperplanes both ends lie on.
        for k in 0..w {
            signs[k] = sa[k] | sb[k];
            signs[w + k] = sa[w + k] & sb[w + k];
        }
        clear(&mut signs[..w], h);
        set(&mut signs[w..], h);
        Ok(())
    }
}

/// Sets bit `i`.
pub(super) fn set(bits: &mut [u64], i: usize) {
    bits[i / 64] |= 1 << (i % 64);
}

/// Clears bit `i`.
pub(super) fn clear(bits: &mut [u64], i: usize) {
    bits[i / 64] &= !(1 << (i % 64));
}

/// Whether bit `i` is set.
pub(super) fn has(bits: &[u64], i: usize) -> bool {
    bits[i / 64] >> (i % 64) & 1 == 1
}

/// The number of bits set.
pub(super) fn count(bits: &[u64]) -> usize {
    bits.iter().map(|w| w.count_ones() as usize).sum()
}

/// The indices of the bits set, ascending.
pub(super) fn ones(bits: &[u64]) -> impl Iterator<Item = usize> + '_ {
    bits.iter().enumerate().flat_map(|(k, &w)| {
        let mut rest = w;
        std::iter::from_fn(move || {
            (rest != 0).then(|| {
                let i = rest.trailing_zeros() as usize;
                rest &= rest - 1;
                64 * k + i
            })
        })
    })
}

/// The skeleton of a bounded, simple polytope domain: its vertices (double
/// description), the facets each lies on (slack at most
/// [`TOL_SKELETON_ZERO_REL`] times the row's largest slack over the vertices),
/// and its edges (the vertex pairs sharing `d - 1` facets, which in a simple
/// polytope are exactly the edges). `hyperplanes` sizes the bit sets.
///
/// # Errors
///
/// [`Fail::Fallback`] for a vertex on more than `d` facets (a polytope that is
/// not simple, or a repeated row) or an unbounded domain; errors of
/// [`Polytope::vertices`].
pub(super) fn of_domain(dom: &Polytope, hyperplanes: usize) -> Result<Complex, Fail> {
    let d = dom.dim();
    let vertices = dom.vertices()?.ok_or(Fail::Fallback("the domain is unbounded"))?;
    let slack = vertices.dot(&dom.a.t()) * -1.0 + &dom.b;
    let words = hyperplanes.div_ceil(64).max(1);
    let mut cx = Complex {
        d,
        words,
        points: Vec::with_capacity(vertices.len()),
        signs: Vec::new(),
        edges: Vec::new(),
    };
    let scale: Vec<f64> = slack
        .columns()
        .into_iter()
        .map(|c| c.iter().fold(0.0f64, |m, s| m.max(s.abs())))
        .collect();
    let pos = vec![0u64; words];
    for (point, row) in vertices.outer_iter().zip(slack.outer_iter()) {
        let mut zero = vec![0u64; words];
        for (k, s) in row.iter().enumerate() {
            if s.abs() <= TOL_SKELETON_ZERO_REL * scale[k] {
                set(&mut zero, k);
            }
        }
        if count(&zero) != d {
            return Err(Fail::Fallback("a domain vertex lies on other than d facets"));
        }
        cx.push_vertex(&polish(dom, &zero, point.to_vec()), &pos, &zero)?;
    }
    let n = cx.len();
    for a in 0..n {
        for b in a + 1..n {
            let shared: usize = cx
                .zero(a)
                .iter()
                .zip(cx.zero(b))
                .map(|(x, y)| (x & y).count_ones() as usize)
                .sum();
            if shared + 1 == d {
                cx.edges.push([a as u32, b as u32]);
            }
        }
    }
    Ok(cx)
}

/// The vertex on the rows `tight` (exactly `d` of them) by solving them,
/// which is exact for a box's rows; `point` (from the double description)
/// when they are singular.
fn polish(dom: &Polytope, tight: &[u64], point: Vec<f64>) -> Vec<f64> {
    let rows: Vec<usize> = ones(tight).collect();
    let a = dom.a.select(ndarray::Axis(0), &rows);
    let b = dom.b.select(ndarray::Axis(0), &rows);
    match crate::linalg::invert(&a) {
        Some(inv) => inv.dot(&b).to_vec(),
        None => point,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Domain;

    #[test]
    fn a_cube_has_its_closed_form_skeleton() {
        for d in 1..=5 {
            let dom = Domain::cube(d, -1.0, 2.0).constraints().unwrap();
            let cx = of_domain(&dom, 2 * d).ok().unwrap();
            assert_eq!(cx.len(), 1 << d);
            assert_eq!(cx.edges.len(), d << (d - 1));
            for &[a, b] in &cx.edges {
                // A cube's edge joins corners that differ in one coordinate.
                let differ = cx
                    .point(a as usize)
                    .iter()
                    .zip(cx.point(b as usize))
                    .filter(|(x, y)| x != y)
                    .count();
                assert_eq!(differ, 1);
            }
        }
    }

    #[test]
    fn parallel_splits_give_the_serial_bits() {
        // More splits than one task takes, so the parallel branch runs: the
        // vertices it appends are the serial branch's, bit for bit.
        let dom = Domain::cube(3, -1.0, 2.0).constraints().unwrap();
        let edges = of_domain(&dom, 7).ok().unwrap().edges;
        let n = 3 * SPLITS_PER_TASK;
        let splits: Vec<Split> = (0..n)
            .map(|k| {
                let e = k % edges.len();
                let [a, b] = edges[e];
                let t = (k as f64 + 0.5) / n as f64;
                Split { e, a, b, t }
            })
            .collect();
        let with = |serial| {
            let mut cx = of_domain(&dom, 7).ok().unwrap();
            cx.add_splits(&splits, 6, serial).ok().unwrap();
            cx
        };
        let (one, many) = (with(true), with(false));
        assert_eq!(one.len(), 8 + splits.len());
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&one.points), bits(&many.points));
        assert_eq!(one.signs, many.signs);
        // Every new vertex lies on the new hyperplane.
        assert!((8..one.len()).all(|v| has(one.zero(v), 6)));
    }

    #[test]
    fn bit_helpers_agree_with_a_list() {
        let mut bits = vec![0u64; 3];
        for i in [0, 5, 63, 64, 130] {
            set(&mut bits, i);
        }
        clear(&mut bits, 5);
        assert_eq!(ones(&bits).collect::<Vec<_>>(), vec![0, 63, 64, 130]);
        assert_eq!(count(&bits), 4);
        assert!(has(&bits, 64) && !has(&bits, 5));
    }
}
