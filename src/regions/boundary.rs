//! [`DecisionBoundary`]: where a classifier's arg-max changes, region by region.
//!
//! Pieces inside a region come from the tie hyperplanes of its class maps
//! (this file); pieces on a facet between two regions from the arg-max on
//! either side of it (`boundary_facets.rs`).

use ndarray::{s, Array1, Array2, ArrayView1};

use super::{Partition, Region};
use crate::geometry::predicates::{line_sign, Sign};
use crate::geometry::volume::polytope_volume;
use crate::lp::chebyshev_ball;
use crate::tol::{TOL_RADIUS_REL, TOL_SAME_HYPERPLANE_REL, TOL_SIGN_REL};
use crate::{Polytope, PolytopeView, Result};

/// One piece of a decision boundary: a `(d-1)`-dimensional part of a
/// hyperplane across which the arg-max of the outputs changes.
///
/// # Semantics
///
/// With class maps `f_k(y) = a_k . y + b_k` on region `R`, a piece *inside*
/// `R` for classes `i < j` is `{y in R : f_i(y) = f_j(y) >= f_k(y) for every
/// k}` when the tie hyperplane `f_i = f_j` crosses the interior of `R` and `i`
/// and `j` are the classes that win on its two sides. A piece *on a facet*
/// ([`BoundaryPiece::on_facet`]) is the part of the facet shared by `R` and
/// its neighbour [`BoundaryPiece::neighbor`] where a group of classes ties for
/// the top on the whole facet and the winner just inside `R` differs from the
/// winner just inside the neighbour (`classes` holds the two winners, lower
/// first); it is reported once, from the lower-indexed region. With one
/// output, the classes are "`f <= 0`" and "`f > 0`" and pieces are reported as
/// classes `(0, 0)`.
#[derive(Clone, Debug, PartialEq)]
pub struct BoundaryPiece {
    pub(super) region: usize,
    pub(super) neighbor: Option<usize>,
    pub(super) classes: (usize, usize),
    pub(super) normal: Array1<f64>,
    pub(super) offset: f64,
    pub(super) polytope: Polytope,
    pub(super) segment: Option<[[f64; 2]; 2]>,
    pub(super) measure: f64,
    /// The number of the region's rows (first in the polytope).
    pub(super) region_rows: usize,
}

impl BoundaryPiece {
    /// The index of the region (in the partition) that holds the piece.
    pub fn region(&self) -> usize {
        self.region
    }

    /// The region across the facet, for a piece on a facet.
    pub fn neighbor(&self) -> Option<usize> {
        self.neighbor
    }

    /// The two classes whose winning sides the piece separates, lower index
    /// first (`(0, 0)` for one output).
    pub fn classes(&self) -> (usize, usize) {
        self.classes
    }

    /// The hyperplane `normal . y + offset = 0` of the piece in domain coordinates.
    pub fn hyperplane(&self) -> (ArrayView1<'_, f64>, f64) {
        (self.normal.view(), self.offset)
    }

    /// The half-spaces that bound the piece within the hyperplane: the
    /// region's rows, then (on a facet) the neighbour's, then `f_k - f_i <= 0`
    /// for every class `k` that does not tie.
    pub fn polytope(&self) -> &Polytope {
        &self.polytope
    }

    /// The piece's end points in a 2-D domain.
    pub fn segment(&self) -> Option<[[f64; 2]; 2]> {
        self.segment
    }

    /// True when the piece lies on a facet between two regions.
    pub fn on_facet(&self) -> bool {
        self.neighbor.is_some()
    }

    /// The `(d-1)`-dimensional volume of the piece: its length in 2-D, its
    /// area in 3-D (1 in 1-D, where a piece is a point).
    pub fn measure(&self) -> f64 {
        self.measure
    }

    /// The length of a 2-D piece.
    pub fn length(&self) -> Option<f64> {
        self.segment.map(|[p, q]| (q[0] - p[0]).hypot(q[1] - p[1]))
    }
}

/// The decision boundary of a classifier over a [`Partition`].
///
/// # Semantics
///
/// The decision is the arg-max of the outputs, ties going to the lower index
/// (with one output, whether it is positive). The boundary is the set where the
/// decision changes: pieces inside regions where two classes tie for the top
/// and win on opposite sides, and pieces on facets between regions where the
/// winners on the two sides differ ([`BoundaryPiece`]). Classes with identical
/// maps on a region never change the decision there, nor does a tie that
/// holds on a facet when the same class wins on both sides of it, nor a tie
/// along the domain's boundary. Each part of the boundary is in exactly one
/// piece, so [`DecisionBoundary::total_measure`] sums the pieces.
///
/// # Invariants
///
/// Every piece has a relative interior wider than the thin-cell tolerance
/// within its hyperplane; pieces inside regions come first, by region then
/// class pair, then pieces on facets, by region pair.
#[derive(Clone, Debug, PartialEq)]
pub struct DecisionBoundary {
    pub(super) pieces: Vec<BoundaryPiece>,
}

impl DecisionBoundary {
    /// The pieces.
    pub fn pieces(&self) -> &[BoundaryPiece] {
        &self.pieces
    }

    /// The number of pieces.
    pub fn len(&self) -> usize {
        self.pieces.len()
    }

    /// True when the boundary does not meet the domain.
    pub fn is_empty(&self) -> bool {
        self.pieces.is_empty()
    }

    /// The `(d-1)`-dimensional volume of the boundary in the domain's
    /// coordinates (its length in 2-D), in every dimension: the sum of
    /// [`BoundaryPiece::measure`].
    pub fn total_measure(&self) -> f64 {
        self.pieces.iter().map(BoundaryPiece::measure).sum()
    }
}

impl Partition {
    /// The boundary pieces inside regions (see [`Partition::decision_boundary`])
    /// and the tolerance on inradii they were checked with.
    pub(super) fn interior_boundary_pieces(&self) -> Result<(Vec<BoundaryPiece>, f64)> {
        let dim = self.domain.dim();
        let diameter = self
            .domain
            .bounding_box()
            .map_or(1.0, |(lo, hi)| (hi - lo).mapv(|v| v * v).sum().sqrt());
        let tol_radius = TOL_RADIUS_REL * diameter;
        let mut pieces = Vec::new();
        for (index, region) in self.regions().iter().enumerate() {
            let maps = ClassMaps::of(region);
            let scale = maps.scale(region.center.view());
            let polygon = region.polygon().filter(|_| dim == 2);
            for (i, j) in maps.pairs() {
                // Most tie lines miss a small polygon: those are dropped
                // before a piece (and its rows) is built for them.
                if polygon.is_some_and(|vertices| !tie_line_may_cross(&maps, (i, j), vertices)) {
                    continue;
                }
                let candidate = candidate_piece(index, region, &maps, i, j);
                if !winners_are(&maps, &candidate, scale) {
                    continue;
                }
                let piece = match polygon {
                    Some(vertices) => piece_in_polygon(candidate, vertices),
                    None => piece_in_polytope(candidate, region, tol_radius)?,
                };
                pieces.extend(piece.map(|p| maps.relabel(p)));
            }
        }
        Ok((pieces, tol_radius))
    }
}

/// The class maps of a region: its outputs, or for one output `f` the two
/// classes "`f <= 0`" (the zero map, class 0) and "`f > 0`" (class 1).
pub(super) struct ClassMaps {
    pub a: Array2<f64>,
    pub b: Array1<f64>,
    /// The rows of `a` back to back (whatever `a`'s memory order), for the
    /// tests that run for every class pair of every region and facet.
    rows: Vec<f64>,
    single: bool,
}

impl ClassMaps {
    /// The class maps on `region`.
    pub fn of(region: Region<'_>) -> ClassMaps {
        let (a, b) = (&region.affine.a, &region.affine.b);
        if b.len() != 1 {
            return ClassMaps::new(a.to_owned(), b.to_owned(), false);
        }
        let mut two = Array2::zeros((2, a.ncols()));
        two.row_mut(1).assign(&a.row(0));
        ClassMaps::new(two, Array1::from(vec![0.0, b[0]]), true)
    }

    fn new(a: Array2<f64>, b: Array1<f64>, single: bool) -> ClassMaps {
        let rows = a.iter().copied().collect();
        ClassMaps { a, b, rows, single }
    }

    /// Row `k` of `a` as a slice.
    fn row(&self, k: usize) -> &[f64] {
        let d = self.a.ncols();
        &self.rows[k * d..(k + 1) * d]
    }

    /// The number of classes.
    pub fn len(&self) -> usize {
        self.b.len()
    }

    /// The scale of the maps near `y`: `max |a_k| (1 + |y|) + max |b_k|`.
    pub fn scale(&self, y: ArrayView1<f64>) -> f64 {
        let reach = 1.0 + y.dot(&y).sqrt();
        let amax = self
            .a
            .rows()
            .into_iter()
            .map(|r| r.dot(&r).sqrt())
            .fold(0.0, f64::max);
        amax * reach + self.b.iter().fold(0.0f64, |m, v| m.max(v.abs()))
    }

    /// True when classes `i` and `j` have the same map (ties go to the lower).
    fn same(&self, i: usize, j: usize) -> bool {
        self.b[i] == self.b[j] && self.row(i) == self.row(j)
    }

    /// The lowest class of each group of identical maps.
    fn representatives(&self) -> Vec<usize> {
        (0..self.len())
            .filter(|&i| (0..i).all(|h| !self.same(h, i)))
            .collect()
    }

    /// The class pairs whose tie can bound the arg-max inside the region:
    /// pairs of distinct maps among the representatives.
    fn pairs(&self) -> Vec<(usize, usize)> {
        let reps = self.representatives();
        let mut pairs = Vec::new();
        for (x, &i) in reps.iter().enumerate() {
            pairs.extend(reps[x + 1..].iter().map(|&j| (i, j)));
        }
        pairs
    }

    /// True when `f_k - f_g` vanishes on the hyperplane `u . y = beta` (`u`
    /// a unit vector): it is a multiple of `u . y - beta` up to `tol`.
    pub fn agree_on(&self, k: usize, g: usize, u: &Array1<f64>, beta: f64, tol: f64) -> bool {
        // c = a_k - a_g = lambda u + rest, without allocating (this runs for
        // every class pair of every facet).
        let (mut lambda, mut cc) = (0.0, 0.0);
        for ((&x, &y), &w) in self.row(k).iter().zip(self.row(g)).zip(u) {
            lambda += (x - y) * w;
            cc += (x - y) * (x - y);
        }
        let miss = (self.b[k] - self.b[g] + lambda * beta).abs();
        if miss > tol {
            // The other term is not negative: the sum exceeds `tol` too.
            return false;
        }
        let rest = (cc - lambda * lambda).max(0.0).sqrt();
        rest * (1.0 + beta.abs()) + miss <= tol
    }

    /// Among `group`, the class that grows fastest along `dir` (ties, within
    /// `tol`, to the lower index): the winner just off a hyperplane where the
    /// group ties.
    pub fn steepest(&self, group: &[usize], dir: ArrayView1<f64>, tol: f64) -> usize {
        let mut best = (group[0], self.a.row(group[0]).dot(&dir));
        for &k in &group[1..] {
            let slope = self.a.row(k).dot(&dir);
            if slope > best.1 + tol {
                best = (k, slope);
            }
        }
        best.0
    }

    /// The piece with its classes as the caller sees them (`(0, 0)` for one output).
    pub fn relabel(&self, mut piece: BoundaryPiece) -> BoundaryPiece {
        if self.single {
            piece.classes = (0, 0);
        }
        piece
    }
}

/// The tie hyperplane of classes `(i, j)` and the piece's rows (the region's,
/// then `f_k - f_i <= 0` for the other representatives), before it is known
/// to be nonempty.
fn candidate_piece(
    region_index: usize,
    region: Region<'_>,
    maps: &ClassMaps,
    i: usize,
    j: usize,
) -> BoundaryPiece {
    let (a, b) = (&maps.a, &maps.b);
    let normal = &a.row(i) - &a.row(j);
    let offset = b[i] - b[j];
    let rivals: Vec<usize> = maps
        .representatives()
        .into_iter()
        .filter(|&k| k != i && k != j)
        .collect();
    let rival_rows = rivals.iter().map(|&k| (&a.row(k) - &a.row(i), b[i] - b[k]));
    BoundaryPiece {
        region: region_index,
        neighbor: None,
        classes: (i, j),
        normal,
        offset,
        polytope: stack_rows(&[region.polytope], rival_rows),
        segment: None,
        measure: 0.0,
        region_rows: region.polytope.len(),
    }
}

/// The rows of `blocks`, then the `extra` rows.
pub(super) fn stack_rows(
    blocks: &[PolytopeView<'_>],
    extra: impl Iterator<Item = (Array1<f64>, f64)>,
) -> Polytope {
    let extra: Vec<(Array1<f64>, f64)> = extra.collect();
    let d = blocks[0].dim();
    let m = blocks.iter().map(|p| p.len()).sum::<usize>() + extra.len();
    let mut rows = Array2::zeros((m, d));
    let mut rhs = Array1::zeros(m);
    let mut at = 0;
    for p in blocks {
        rows.slice_mut(s![at..at + p.len(), ..]).assign(&p.a);
        rhs.slice_mut(s![at..at + p.len()]).assign(&p.b);
        at += p.len();
    }
    for (row, b) in extra {
        rows.row_mut(at).assign(&row);
        rhs[at] = b;
        at += 1;
    }
    Polytope { a: rows, b: rhs }
}

/// True when the tie of `(i, j)` is not shared by a third class with a map
/// between theirs: of the classes whose maps agree with `f_i` on the tie
/// hyperplane, `i` and `j` must be the ones that win on its two sides.
fn winners_are(maps: &ClassMaps, piece: &BoundaryPiece, scale: f64) -> bool {
    let (i, j) = piece.classes;
    let n = &piece.normal;
    let norm = n.dot(n).sqrt();
    let u = n / norm;
    let beta = -piece.offset / norm;
    let tol = TOL_SAME_HYPERPLANE_REL * scale;
    let group: Vec<usize> = maps
        .representatives()
        .into_iter()
        .filter(|&k| k == i || k == j || maps.agree_on(k, i, &u, beta, tol))
        .collect();
    if group.len() == 2 {
        return true;
    }
    let up = maps.steepest(&group, u.view(), tol);
    let down = maps.steepest(&group, (-&u).view(), tol);
    (up == i && down == j) || (up == j && down == i)
}

/// The piece inside a 2-D region with polygon `vertices`: the chord of the tie
/// line, clipped by the rivals' rows; `None` when it has no length or runs
/// along an edge (a facet: see `boundary_facets.rs`).
fn piece_in_polygon(mut piece: BoundaryPiece, vertices: &[[f64; 2]]) -> Option<BoundaryPiece> {
    let g = [piece.normal[0], piece.normal[1]];
    let radius = vertices.iter().map(|p| p[0].hypot(p[1])).fold(0.0, f64::max);
    let scale = g[0].hypot(g[1]) * radius + piece.offset.abs();
    let signs: Vec<(f64, Sign)> = vertices
        .iter()
        .map(|&p| line_sign(g, piece.offset, p, scale))
        .collect();
    let n = vertices.len();
    let on_line = |k: usize| signs[k].1 == Sign::Zero;
    if (0..n).any(|k| on_line(k) && on_line((k + 1) % n)) {
        // Along an edge, or the tie holds on the whole region (up to rounding):
        // nothing inside the region.
        return None;
    }
    let ends = chord(vertices, &signs)?;
    let [p, q] = clip_segment(ends, &piece.polytope, piece.region_rows)?;
    piece.segment = Some([p, q]);
    piece.measure = (q[0] - p[0]).hypot(q[1] - p[1]);
    Some(piece)
}

/// False when the tie line of classes `(i, j)` leaves every vertex of the
/// 2-D polygon on one side or on the line, so that [`chord`] finds no chord
/// (its signs need values beyond a tolerance of either sign, these only of
/// either sign); without allocating, on the numbers of [`candidate_piece`]'s
/// normal and offset.
fn tie_line_may_cross(maps: &ClassMaps, (i, j): (usize, usize), vertices: &[[f64; 2]]) -> bool {
    let (ai, aj) = (maps.row(i), maps.row(j));
    let g = [ai[0] - aj[0], ai[1] - aj[1]];
    let offset = maps.b[i] - maps.b[j];
    let (mut negative, mut positive) = (false, false);
    for p in vertices {
        let value = g[0] * p[0] + g[1] * p[1] + offset;
        negative |= value < 0.0;
        positive |= value > 0.0;
    }
    negative && positive
}

/// The two points where a line crosses a convex polygon, from the signs of
/// the line at the vertices; `None` when it does not cross the interior.
fn chord(vertices: &[[f64; 2]], signs: &[(f64, Sign)]) -> Option<[[f64; 2]; 2]> {
    let has = |sign| signs.iter().any(|&(_, s)| s == sign);
    if !(has(Sign::Negative) && has(Sign::Positive)) {
        return None;
    }
    let n = vertices.len();
    let mut points = Vec::with_capacity(2);
    for k in 0..n {
        let next = (k + 1) % n;
        if signs[k].1 == Sign::Zero {
            points.push(vertices[k]);
        } else if signs[k].1.opposes(signs[next].1) {
            let (fp, fq) = (signs[k].0, signs[next].0);
            let t = fp / (fp - fq);
            let (p, q) = (vertices[k], vertices[next]);
            points.push([p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])]);
        }
    }
    (points.len() == 2).then(|| [points[0], points[1]])
}

/// The part of the segment `ends` where the rows from `first` on hold;
/// `None` when it has no length.
fn clip_segment(ends: [[f64; 2]; 2], rows: &Polytope, first: usize) -> Option<[[f64; 2]; 2]> {
    let [p, q] = ends;
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    for r in first..rows.len() {
        let at = |y: [f64; 2]| rows.a[[r, 0]] * y[0] + rows.a[[r, 1]] * y[1] - rows.b[r];
        let (hp, hq) = (at(p), at(q));
        match (hp > 0.0, hq > 0.0) {
            (false, false) => {}
            (true, true) => return None,
            (true, false) => lo = lo.max(hp / (hp - hq)),
            (false, true) => hi = hi.min(hp / (hp - hq)),
        }
    }
    if hi <= lo {
        return None;
    }
    let at = |t: f64| [p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])];
    Some([at(lo), at(hi)])
}

/// The piece in a region of any dimension: nonempty when its largest ball
/// within the tie hyperplane has a radius above `tol_radius` (one LP); `None`
/// when the hyperplane is that of one of the region's rows (a facet, or the
/// domain's boundary: no change of the decision inside the region).
fn piece_in_polytope(
    mut piece: BoundaryPiece,
    region: Region<'_>,
    tol_radius: f64,
) -> Result<Option<BoundaryPiece>> {
    let norm = piece.normal.dot(&piece.normal).sqrt();
    if norm == 0.0 {
        return Ok(None);
    }
    let u = &piece.normal / norm;
    let beta = -piece.offset / norm;
    if facet_row(region.polytope, &u, beta).is_some() {
        return Ok(None);
    }
    let restricted = OnHyperplane::new(&piece.polytope, &u, beta, region.center.view());
    if !restricted.has_interior(tol_radius, "decision boundary piece")? {
        return Ok(None);
    }
    piece.measure = restricted.measure();
    piece.segment = restricted.segment();
    Ok(Some(piece))
}

/// A polytope cut by the hyperplane `u . y = beta`, in coordinates `z` of the
/// hyperplane (`y = y0 + basis z`, `basis` orthonormal columns); rows on the
/// hyperplane itself are dropped.
pub(super) struct OnHyperplane {
    y0: Array1<f64>,
    basis: Array2<f64>,
    poly: Polytope,
}

impl OnHyperplane {
    /// The cut of `p` by the hyperplane, with the origin at the foot of `anchor`.
    pub fn new(p: &Polytope, u: &Array1<f64>, beta: f64, anchor: ArrayView1<f64>) -> OnHyperplane {
        let y0 = &anchor + &(u * (beta - u.dot(&anchor)));
        let basis = complement_basis(u);
        let keep: Vec<usize> = (0..p.len())
            .filter(|&r| !same_hyperplane(p.view(), r, u, beta))
            .collect();
        let a = p.a.select(ndarray::Axis(0), &keep);
        let rhs = p.b.select(ndarray::Axis(0), &keep) - a.dot(&y0);
        let poly = Polytope {
            a: a.dot(&basis),
            b: rhs,
        };
        OnHyperplane { y0, basis, poly }
    }

    /// True when the cut has a relative interior: a ball of radius above
    /// `tol_radius` within the hyperplane (one LP; in 1-D, where the cut is a
    /// point, whether it satisfies the rows).
    pub fn has_interior(&self, tol_radius: f64, context: &str) -> Result<bool> {
        if self.basis.ncols() == 0 {
            let tol = TOL_SIGN_REL * (1.0 + self.y0.dot(&self.y0).sqrt());
            return Ok(self.poly.b.iter().all(|&v| v >= -tol));
        }
        Ok(chebyshev_ball(&self.poly, context)?.is_some_and(|(_, r)| r > tol_radius))
    }

    /// The `(d-1)`-volume of the cut (1 for a point).
    pub fn measure(&self) -> f64 {
        polytope_volume(self.poly.view()).unwrap_or(f64::INFINITY)
    }

    /// The end points of the cut of a 2-D polytope (a segment).
    pub fn segment(&self) -> Option<[[f64; 2]; 2]> {
        if self.y0.len() != 2 {
            return None;
        }
        let points = self.poly.vertices().ok()??;
        if points.nrows() != 2 {
            return None;
        }
        let at = |k: usize| {
            let y = &self.y0 + &self.basis.dot(&points.row(k));
            [y[0], y[1]]
        };
        Some([at(0), at(1)])
    }
}

/// True when row `r` of `p` lies on the hyperplane `u . y = beta` (either
/// side), up to [`TOL_SAME_HYPERPLANE_REL`].
pub(super) fn same_hyperplane(p: PolytopeView<'_>, r: usize, u: &Array1<f64>, beta: f64) -> bool {
    let row = p.a.row(r);
    let n = row.dot(&row).sqrt();
    if n == 0.0 {
        return false;
    }
    let cos = row.dot(u) / n;
    let tol = TOL_SAME_HYPERPLANE_REL;
    (cos.abs() - 1.0).abs() <= tol && (p.b[r] / n - cos.signum() * beta).abs() <= tol * (1.0 + beta.abs())
}

/// The row of `p` whose hyperplane is `u . y = beta` (same side or opposite),
/// up to rounding.
pub(super) fn facet_row(p: PolytopeView<'_>, u: &Array1<f64>, beta: f64) -> Option<usize> {
    (0..p.len()).find(|&r| same_hyperplane(p, r, u, beta))
}

/// An orthonormal basis (as columns) of the complement of the unit vector `u`,
/// from the Householder reflection that maps `u` to a coordinate axis.
fn complement_basis(u: &Array1<f64>) -> Array2<f64> {
    let d = u.len();
    let mut w = u.clone();
    let sign = if u[0] >= 0.0 { 1.0 } else { -1.0 };
    w[0] += sign;
    let ww = w.dot(&w);
    let mut h = Array2::eye(d);
    for r in 0..d {
        for c in 0..d {
            h[[r, c]] -= 2.0 * w[r] * w[c] / ww;
        }
    }
    h.slice(s![.., 1..]).to_owned()
}

#[cfg(test)]
mod tests {
    use ndarray::array;

    use crate::regions::{enumerate, EnumOptions, Method};
    use crate::{Domain, Network};

    fn boundary_length(net: &Network, half: f64) -> f64 {
        let part = enumerate(net, &Domain::cube(2, -half, half), &EnumOptions::default()).unwrap();
        part.decision_boundary().unwrap().total_measure()
    }

    #[test]
    fn one_output_gives_its_zero_line() {
        let net = Network::builder(2)
            .dense(array![[1.0, 1.0]], array![-0.5])
            .unwrap()
            .build()
            .unwrap();
        // x + y = 0.5 runs from (1, -0.5) to (-0.5, 1) in [-1, 1]^2.
        assert!((boundary_length(&net, 1.0) - 1.5 * 2f64.sqrt()).abs() < 1e-12);
    }

    #[test]
    fn three_classes_meet_at_a_point() {
        // Outputs (x, y, 0): the rays x = y >= 0, x = 0 >= y and y = 0 >= x.
        let net = Network::builder(2)
            .dense(array![[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]], array![0.0, 0.0, 0.0])
            .unwrap()
            .build()
            .unwrap();
        assert!((boundary_length(&net, 1.0) - (2.0 + 2f64.sqrt())).abs() < 1e-12);
    }

    #[test]
    fn ties_along_region_edges_count_once() {
        // relu(x) against relu(-x): the classes tie on x = 0, which is also
        // the edge between the two regions; the pair reports it once.
        let net = Network::builder(2)
            .dense(array![[1.0, 0.0], [-1.0, 0.0]], array![0.0, 0.0])
            .unwrap()
            .relu()
            .dense(array![[1.0, 0.0], [0.0, 1.0]], array![0.0, 0.0])
            .unwrap()
            .build()
            .unwrap();
        let part = enumerate(&net, &Domain::cube(2, -1.0, 1.0), &EnumOptions::default()).unwrap();
        let boundary = part.decision_boundary().unwrap();
        assert_eq!(boundary.len(), 1);
        let piece = &boundary.pieces()[0];
        assert!(piece.on_facet());
        assert_eq!(piece.classes(), (0, 1));
        assert!((boundary.total_measure() - 2.0).abs() < 1e-12);
        assert!((piece.length().unwrap() - 2.0).abs() < 1e-12);
    }

    #[test]
    fn pieces_in_three_dimensions_have_their_area() {
        let net = Network::builder(3)
            .dense(array![[1.0, -1.0, 0.0], [0.0, 0.0, 0.0]], array![0.0, 0.5])
            .unwrap()
            .build()
            .unwrap();
        let opts = EnumOptions {
            method: Method::Lp,
            ..Default::default()
        };
        let part = enumerate(&net, &Domain::cube(3, -1.0, 1.0), &opts).unwrap();
        let boundary = part.decision_boundary().unwrap();
        // x - y = 0.5 crosses the cube: a rectangle of sides 1.5 sqrt(2) (in
        // the square [-1, 1]^2) and 2 (along z).
        assert_eq!(boundary.len(), 1);
        assert_eq!(boundary.pieces()[0].classes(), (0, 1));
        assert!((boundary.total_measure() - 3.0 * 2f64.sqrt()).abs() < 1e-12);
        let far = Network::builder(3)
            .dense(array![[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]], array![5.0, 0.0])
            .unwrap()
            .build()
            .unwrap();
        let part = enumerate(&far, &Domain::cube(3, -1.0, 1.0), &opts).unwrap();
        assert!(part.decision_boundary().unwrap().is_empty());
    }
}
