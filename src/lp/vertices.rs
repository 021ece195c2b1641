//! Facets of a simple polytope from its vertices, without LPs.
//!
//! Starting from an interior point, `d` ray shots within the rows already hit
//! reach a vertex; from there the edge graph is walked as the simplex method
//! does (drop one of the `d` tight rows, move along the edge to the first row
//! hit). When every vertex met is simple (exactly `d` tight rows, every other
//! row at a distance above [`TOL_VERTEX_SLACK`]) the walk has found all
//! vertices, and then
//!
//! - a row tight at some vertex is a facet (in a simple polytope each of the
//!   `d` rows of a vertex bounds a facet); it is certified against the LP of
//!   [`facets`](super::facets) by the centroid of its vertices: every other row
//!   keeps a slack above `2` [`TOL_LP_FEAS`] there, so stepping half that slack
//!   past the hyperplane exceeds its bound by more than the tolerance while the
//!   other rows hold;
//! - a row tight at no vertex, whose slack at every vertex exceeds
//!   [`TOL_VERTEX_SLACK`], is redundant.
//!
//! Anything else (a degenerate vertex, a singular basis, an unbounded edge, too
//! many vertices) gives up and leaves the rows to the LPs.

use ndarray::{Array1, Array2, ArrayView1, Axis};

use super::screen::{Rows, Status};
use super::vertex_step::{ndarray_dot, Bases, Step};
use crate::tol::{TOL_BASIS_RESIDUAL_REL, TOL_LP_FEAS, TOL_VERTEX_SLACK};

/// Along each chain of the walk, every this-many-th vertex has its basis
/// inverted afresh (and the rows' rates along its edges computed from it,
/// `O(d^3 + m d^2)` for `m` rows); the others pivot the inverse and rates
/// of the vertex that found them (`O(d^2 + m d)`), so rounding grows over
/// at most this many minus one pivots.
pub(super) const PIVOTS_PER_INVERSE: usize = 8;

/// The walk gives up past this many vertices (the LPs are then cheaper).
pub(super) const MAX_VERTICES: usize = 4096;

/// The walk gives up when its vertices would cost more than this many
/// multiply-adds, each counted at the cost of a fresh inverse, `(m + d) d^2`
/// for `m` rows in `d` dimensions, so that high-dimensional regions, whose
/// vertices are too many to list, go straight to the LPs. Pivoted vertices
/// cost about `m d` (the slacks, the pivoted rates, the edges' first hits),
/// so the walk does less work than this counts; the budget is kept as set
/// (when it was tuned every vertex cost the full count) because it decides
/// which regions go to the LPs.
const VERTEX_WORK_BUDGET: usize = 100_000_000;

/// The rounding allowance of [`Reach::clears`], relative to the size of the
/// coordinates and the row's offset (many times the rounding of a dot product
/// in the dimensions where vertices can be listed).
const REACH_ROUNDING_REL: f64 = 1e-12;

/// A vertex: its `d` tight rows (ascending) and its point.
pub(super) struct Vertex {
    pub(super) basis: Vec<usize>,
    pub(super) point: Array1<f64>,
}

impl Rows {
    /// Decides the undecided active rows from the polytope's vertices when it
    /// is simple; returns a point in the relative interior of each facet found
    /// (by row), or `None` when the vertex walk gave up (nothing is changed).
    pub(super) fn decide_by_vertices(
        &mut self,
        interior: ArrayView1<'_, f64>,
    ) -> Option<Vec<Option<Array1<f64>>>> {
        self.decide_by_vertices_with(interior, PIVOTS_PER_INVERSE)
    }

    /// [`Rows::decide_by_vertices`], with a fresh basis inverse every
    /// `pivots` vertices along a chain of the walk (see [`Local::walk_with`]).
    fn decide_by_vertices_with(
        &mut self,
        interior: ArrayView1<'_, f64>,
        pivots: usize,
    ) -> Option<Vec<Option<Array1<f64>>>> {
        let d = self.u.ncols();
        if d == 0 {
            return None; // a point: no vertices to walk (the walk needs d >= 1)
        }
        let active: Vec<usize> = (0..self.beta.len()).filter(|&k| self.is_active(k)).collect();
        let per_vertex = (active.len() + d) * d * d;
        let max_vertices = (VERTEX_WORK_BUDGET / per_vertex).min(MAX_VERTICES);
        if max_vertices <= d {
            return None; // fewer than a simplex's vertices: not worth starting
        }
        let vertices = self.screened_vertex_walk(&active, interior, (max_vertices, pivots))?;
        let m = self.beta.len();
        let mut members: Vec<Vec<usize>> = vec![Vec::new(); m];
        for (v, vertex) in vertices.iter().enumerate() {
            for &k in &vertex.basis {
                members[k].push(v);
            }
        }
        if active
            .iter()
            .any(|&k| self.status[k] == Status::Facet && members[k].is_empty())
        {
            return None; // a certified facet missed: the walk is not to be trusted
        }
        let mut inside = vec![None; m];
        let mut decided = self.status.clone();
        let reach = Reach::of(&vertices, interior);
        for &k in &active {
            if members[k].is_empty() {
                let clear = || clear_of_vertices(self.u.row(k), self.beta[k], &vertices, &reach);
                if decided[k] == Status::Undecided && clear() {
                    decided[k] = Status::Redundant;
                }
                continue;
            }
            let centroid = centroid(&vertices, &members[k]);
            let margin = active
                .iter()
                .filter(|&&j| j != k)
                .map(|&j| self.beta[j] - self.u.row(j).dot(&centroid))
                .fold(f64::INFINITY, f64::min);
            if margin > 2.0 * TOL_LP_FEAS {
                decided[k] = Status::Facet;
                inside[k] = Some(centroid);
            }
        }
        self.status = decided;
        Some(inside)
    }

    /// All vertices of the polytope of the active rows (bases as row indices),
    /// or `None` when one is degenerate or the walk fails: the walk over every
    /// active row, which [`Rows::screened_vertex_walk`] reproduces.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(super) fn vertex_walk(
        &self,
        active: &[usize],
        interior: ArrayView1<'_, f64>,
        max_vertices: usize,
    ) -> Option<Vec<Vertex>> {
        let local = self.local(active);
        let start = local.first_vertex(interior)?;
        let mut vertices = local.walk(start, max_vertices)?;
        relabel(&mut vertices, active);
        Some(vertices)
    }

    /// The given rows, contiguous.
    pub(super) fn local(&self, rows: &[usize]) -> Local {
        Local {
            u: self.u.select(Axis(0), rows),
            beta: rows.iter().map(|&k| self.beta[k]).collect(),
        }
    }
}

/// True when the unit row `row . x <= beta` keeps a slack above
/// [`TOL_VERTEX_SLACK`] at every vertex: by the bound of `reach` when it is
/// far enough from the interior point, else vertex by vertex.
pub(super) fn clear_of_vertices(
    row: ArrayView1<'_, f64>,
    beta: f64,
    vertices: &[Vertex],
    reach: &Reach,
) -> bool {
    reach.clears(row, beta)
        || vertices
            .iter()
            .all(|v| beta - row.dot(&v.point) > TOL_VERTEX_SLACK)
}

/// Maps the bases of `vertices` from positions in `rows` to the rows.
pub(super) fn relabel(vertices: &mut [Vertex], rows: &[usize]) {
    for v in vertices {
        for k in &mut v.basis {
            *k = rows[*k];
        }
    }
}

/// How far the vertices of a polytope lie from a point inside it, to clear
/// rows far from that point without a test per vertex.
pub(super) struct Reach<'a> {
    /// The point the distances are measured from.
    from: ArrayView1<'a, f64>,
    /// The largest distance of a vertex from `from`.
    radius: f64,
    /// The size of the coordinates involved (for the rounding allowance).
    scale: f64,
}

impl<'a> Reach<'a> {
    /// The reach of `vertices` from `from`.
    pub(super) fn of(vertices: &[Vertex], from: ArrayView1<'a, f64>) -> Reach<'a> {
        let radius = vertices
            .iter()
            .map(|v| {
                let gap = &v.point - &from;
                gap.dot(&gap).sqrt()
            })
            .fold(0.0, f64::max);
        let scale = from.iter().fold(radius, |m, x| m + x.abs());
        Reach { from, radius, scale }
    }

    /// True when the unit row `row . x <= beta` has a slack above
    /// [`TOL_VERTEX_SLACK`] at every vertex as the walk computes it: its
    /// slack at `from` exceeds the radius (a unit row changes by at most the
    /// distance moved) with room for that tolerance and for rounding.
    pub(super) fn clears(&self, row: ArrayView1<'_, f64>, beta: f64) -> bool {
        let allowance = TOL_VERTEX_SLACK + REACH_ROUNDING_REL * (beta.abs() + self.scale);
        beta - row.dot(&self.from) > self.radius + allowance
    }
}

/// The active rows of a polytope, contiguous, indexed by position.
pub(super) struct Local {
    u: Array2<f64>,
    beta: Array1<f64>,
}

impl Local {
    /// The number of rows.
    pub(super) fn len(&self) -> usize {
        self.beta.len()
    }

    /// Row `k` and its offset.
    pub(super) fn row(&self, k: usize) -> (ArrayView1<'_, f64>, f64) {
        (self.u.row(k), self.beta[k])
    }

    /// The rows at the given positions, contiguous.
    pub(super) fn select(&self, positions: &[usize]) -> Local {
        Local {
            u: self.u.select(Axis(0), positions),
            beta: positions.iter().map(|&k| self.beta[k]).collect(),
        }
    }

    /// All vertices, from the vertex with basis `start` (positions,
    /// ascending); `None` past `max_vertices`.
    pub(super) fn walk(&self, start: Vec<usize>, max_vertices: usize) -> Option<Vec<Vertex>> {
        self.walk_with(start, max_vertices, PIVOTS_PER_INVERSE)
    }

    /// [`Local::walk`], with a fresh basis inverse (and the rows' rates
    /// along the edges from it) every `pivots` steps from the start (1: at
    /// every vertex) and pivoted ones between.
    ///
    /// The walk is depth first (a stack), each vertex taking the inverse and
    /// rates of the vertex that found it, pivoted, so the chains of pivots
    /// are bounded by `pivots`, not by the walk's length. What a vertex gets
    /// depends only on its chain and on each row's own entries, so the
    /// screened walk, which repeats the chain over a subset of the rows,
    /// computes the same bits for the rows it keeps. A pivoted vertex is
    /// checked by its basis rows' slacks only, which the screened walk
    /// keeps too, so both redo the same vertices afresh.
    pub(super) fn walk_with(
        &self,
        start: Vec<usize>,
        max_vertices: usize,
        pivots: usize,
    ) -> Option<Vec<Vertex>> {
        self.walk_counting(start, (max_vertices, pivots), &mut Inverses::default())
    }

    /// [`Local::walk_with`] (`max_vertices` and `pivots` as there), adding
    /// to `inverses` how the vertices visited got their basis inverses.
    fn walk_counting(
        &self,
        start: Vec<usize>,
        (max_vertices, pivots): (usize, usize),
        inverses: &mut Inverses,
    ) -> Option<Vec<Vertex>> {
        let (u, beta) = (self.u.as_slice()?, self.beta.as_slice()?);
        let d = self.u.ncols();
        if d == 0 || start.len() != d {
            return None; // no vertices to walk (or no vertex given)
        }
        let mut step = Step::new(d);
        let mut seen = Bases::default();
        let n = self.len();
        // The bases still to visit (`d` positions each, popped last first)
        // and how each is reached; the inverses and rates they pivot from.
        let mut todo = start.clone();
        let mut pending = vec![Reached::FRESH];
        let mut frames = Frames::default();
        seen.insert(start);
        let mut vertices = Vec::new();
        let mut at = Arithmetic {
            u,
            beta,
            d,
            slack: vec![0.0; n],
            rates: vec![0.0; n * d],
        };
        let mut in_basis = vec![false; n];
        let mut hits = Vec::with_capacity(d);
        let mut next = Vec::with_capacity(d);
        while let Some(how) = pending.pop() {
            let basis = todo.split_off(todo.len() - d);
            let (point, age) = at.visit(&mut step, &mut frames, (how, &basis), inverses)?;
            for &k in &basis {
                in_basis[k] = true;
            }
            let simple = at
                .slack
                .iter()
                .zip(&in_basis)
                .all(|(&s, &tight)| tight || s > TOL_VERTEX_SLACK);
            let bounded = simple && step.edge_hits(&at.rates, &at.slack, &in_basis, &mut hits);
            for &k in &basis {
                in_basis[k] = false;
            }
            if !bounded {
                return None;
            }
            // The children pivot from this vertex until a chain is
            // `pivots` long; then they are inverted afresh.
            let age = if age + 1 < pivots { age + 1 } else { 0 };
            let mut children = 0;
            for (drop, &hit) in hits.iter().enumerate() {
                let position = swap_in(&basis, drop, hit, &mut next);
                if seen.contains(&next) {
                    continue;
                }
                seen.insert(next.clone());
                todo.extend_from_slice(&next);
                pending.push(Reached {
                    age,
                    pivot: (hit, drop, position),
                });
                children += 1;
            }
            if age > 0 && children > 0 {
                frames.push(step.inverse(), &at.rates, children);
            }
            vertices.push(Vertex { basis, point });
            if vertices.len() > max_vertices {
                return None;
            }
        }
        Some(vertices)
    }

    /// A vertex reached from `interior` by `d` ray shots, each within the rows
    /// hit before; its basis, ascending.
    pub(super) fn first_vertex(&self, interior: ArrayView1<'_, f64>) -> Option<Vec<usize>> {
        let d = self.u.ncols();
        let mut x = interior.to_owned();
        let mut tight = vec![false; self.beta.len()];
        let mut frame: Vec<Array1<f64>> = Vec::with_capacity(d);
        for _ in 0..d {
            let dir = generic_direction_orthogonal_to(&frame, d)?;
            let slack = &self.beta - &self.u.dot(&x);
            let rates = self.u.dot(&dir);
            let scale = rates.iter().fold(0.0f64, |m, r| m.max(r.abs()));
            let hit = first_hit(&slack, rates.view(), &tight, scale)?;
            let step = slack[hit].max(0.0) / rates[hit];
            x.scaled_add(step, &dir);
            frame.push(orthogonalised(self.u.row(hit).to_owned(), &frame)?);
            tight[hit] = true;
        }
        Some((0..self.beta.len()).filter(|&k| tight[k]).collect())
    }
}

/// How the vertices of a walk got their basis inverses (a walk that gives
/// up counts the vertices visited until then).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Inverses {
    /// Inverted afresh as scheduled: the start, and every `pivots`-th
    /// vertex along a chain.
    fresh: usize,
    /// Pivoted from the inverse of the vertex that found them.
    pivoted: usize,
    /// Pivoted, then inverted afresh because a basis row missed the
    /// pivoted vertex by more than [`TOL_BASIS_RESIDUAL_REL`].
    refreshed: usize,
}

/// How the walk reaches a basis it is to visit.
#[derive(Clone, Copy)]
struct Reached {
    /// Pivots since the last fresh inverse (0: invert afresh).
    age: usize,
    /// When pivoted: the entering row, the basis position it replaces in
    /// the vertex that found this one, and its position in this basis.
    pivot: (usize, usize, usize),
}

impl Reached {
    /// A basis to invert afresh.
    const FRESH: Reached = Reached {
        age: 0,
        pivot: (0, 0, 0),
    };
}

/// The inverses and rows' rates of the vertices whose children are still to
/// be pivoted from them, with how many children each has left, on flat
/// stacks: the walk is depth first, so the basis popped is always a child
/// of the vertex on top, and a vertex's record goes once its last child is
/// popped. One record per vertex (not per child), so the memory is that of
/// the walk's depth, not of its pending bases.
#[derive(Default)]
struct Frames {
    inverses: Vec<f64>,
    rates: Vec<f64>,
    children: Vec<usize>,
}

impl Frames {
    /// Records a vertex's inverse and rates for its `children`.
    fn push(&mut self, inverse: &[f64], rates: &[f64], children: usize) {
        self.inverses.extend_from_slice(inverse);
        self.rates.extend_from_slice(rates);
        self.children.push(children);
    }

    /// The inverse and rates on top (`d * d` and `n * d` entries).
    fn top(&self, inverse_len: usize, rates_len: usize) -> (&[f64], &[f64]) {
        let (i, r) = (self.inverses.len(), self.rates.len());
        (&self.inverses[i - inverse_len..], &self.rates[r - rates_len..])
    }

    /// One child of the vertex on top has been pivoted: drops the record
    /// when it was the last.
    fn release_one(&mut self, inverse_len: usize, rates_len: usize) {
        let Some(left) = self.children.last_mut() else {
            return;
        };
        *left -= 1;
        if *left == 0 {
            self.children.pop();
            self.inverses.truncate(self.inverses.len() - inverse_len);
            self.rates.truncate(self.rates.len() - rates_len);
        }
    }
}

/// The rows of a walk (row-major unit rows `u`, offsets `beta`, `d`
/// columns) and, at the vertex last visited, every row's slack and rates
/// along its edges (`d` per row).
struct Arithmetic<'a> {
    u: &'a [f64],
    beta: &'a [f64],
    d: usize,
    slack: Vec<f64>,
    rates: Vec<f64>,
}

impl Arithmetic<'_> {
    /// Visits `basis`, reached as `how` says: its point and its age (pivots
    /// since a fresh inverse), leaving its inverse in `step` and the rows'
    /// slacks and rates in `self`; `None` when its basis is singular. A
    /// pivoted vertex that one of its basis rows misses by more than
    /// [`TOL_BASIS_RESIDUAL_REL`] (an ill-conditioned basis) is inverted
    /// afresh instead, which refuses the bases a fresh walk refuses.
    fn visit(
        &mut self,
        step: &mut Step,
        frames: &mut Frames,
        (how, basis): (Reached, &[usize]),
        inverses: &mut Inverses,
    ) -> Option<(Array1<f64>, usize)> {
        let d = self.d;
        if how.age > 0 {
            step.pivot(frames.top(d * d, self.rates.len()), how.pivot, &mut self.rates);
            frames.release_one(d * d, self.rates.len());
            let point = step.vertex_pivoted(self.beta, basis);
            self.fill_slack(&point)?;
            if self.basis_holds(basis) {
                inverses.pivoted += 1;
                return Some((point, how.age));
            }
            inverses.refreshed += 1;
        } else {
            inverses.fresh += 1;
        }
        let point = step.vertex(self.u, self.beta, basis)?;
        step.rates_of(self.u, &mut self.rates);
        self.fill_slack(&point)?;
        Some((point, 0))
    }

    /// Every row's slack at `point`.
    fn fill_slack(&mut self, point: &Array1<f64>) -> Option<()> {
        let at = point.as_slice()?;
        let rows = self.u.chunks_exact(self.d);
        for ((s, &b), row) in self.slack.iter_mut().zip(self.beta).zip(rows) {
            *s = b - ndarray_dot(row, at);
        }
        Some(())
    }

    /// True when every row of `basis` passes through the vertex within
    /// [`TOL_BASIS_RESIDUAL_REL`] (false on a NaN).
    fn basis_holds(&self, basis: &[usize]) -> bool {
        basis
            .iter()
            .all(|&k| self.slack[k].abs() <= TOL_BASIS_RESIDUAL_REL * (1.0 + self.beta[k].abs()))
    }
}

/// The ascending `basis` with its entry at `drop` replaced by `hit` (not in
/// it), ascending, written to `next`; returns the position of `hit` there.
fn swap_in(basis: &[usize], drop: usize, hit: usize, next: &mut Vec<usize>) -> usize {
    next.clear();
    let mut placed = None;
    for (j, &k) in basis.iter().enumerate() {
        if j == drop {
            continue;
        }
        if placed.is_none() && hit < k {
            placed = Some(next.len());
            next.push(hit);
        }
        next.push(k);
    }
    placed.unwrap_or_else(|| {
        next.push(hit);
        next.len() - 1
    })
}

/// The first row (not `skip`ped) that a ray meets, given the rows' slacks at
/// its origin and the rates at which it closes them; rates up to
/// [`TOL_LP_FEAS`] times `scale` count as parallel.
fn first_hit(slack: &Array1<f64>, rates: ArrayView1<'_, f64>, skip: &[bool], scale: f64) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for (k, (&s, &rate)) in slack.iter().zip(&rates).enumerate() {
        if skip[k] || rate <= TOL_LP_FEAS * scale {
            continue;
        }
        let t = s.max(0.0) / rate;
        if best.is_none_or(|(_, b)| t < b) {
            best = Some((k, t));
        }
    }
    best.map(|(k, _)| k)
}

/// The average of the given vertices.
fn centroid(vertices: &[Vertex], which: &[usize]) -> Array1<f64> {
    let mut sum = Array1::zeros(vertices[which[0]].point.len());
    for &v in which {
        sum += &vertices[v].point;
    }
    sum / which.len() as f64
}

/// A fixed generic unit direction orthogonal to the orthonormal `frame`.
fn generic_direction_orthogonal_to(frame: &[Array1<f64>], d: usize) -> Option<Array1<f64>> {
    const GOLDEN: f64 = 0.618_033_988_749_894_8;
    let generic: Array1<f64> = (0..d)
        .map(|j| 0.5 - ((j as f64 + 1.0) * GOLDEN).fract())
        .collect();
    std::iter::once(generic)
        .chain((0..d).map(|j| Array1::from_shape_fn(d, |i| f64::from(u8::from(i == j)))))
        .find_map(|g| orthogonalised(g, frame))
}

/// `v` minus its components along the orthonormal `frame`, normalised; `None`
/// when little of it is left.
fn orthogonalised(mut v: Array1<f64>, frame: &[Array1<f64>]) -> Option<Array1<f64>> {
    let before = v.dot(&v).sqrt();
    for f in frame {
        let along = v.dot(f);
        v.scaled_add(-along, f);
    }
    let after = v.dot(&v).sqrt();
    (after > crate::tol::TOL_FRAME_REL * before).then(|| v / after)
}

#[cfg(test)]
mod tests {
    use ndarray::{array, Array1, Array2};

    use super::*;
    use crate::geometry::Polytope;
    use crate::test_support::{cube, with_rows};

    fn rows(a: Array2<f64>, b: Array1<f64>) -> Rows {
        Rows::normalised(&Polytope { a, b }, "test").unwrap()
    }

    /// The cube `[0, 1]^3` and the extra rows given.
    fn cube_with(extra: &[([f64; 3], f64)]) -> Rows {
        let extra: Vec<(&[f64], f64)> = extra.iter().map(|(row, rhs)| (&row[..], *rhs)).collect();
        let p = with_rows(cube(3, 0.0, 1.0), &extra);
        rows(p.a, p.b)
    }

    #[test]
    fn cube_with_a_cut_corner() {
        // x + y + z <= 2.5 cuts the corner (1, 1, 1): 7 facets, 10 vertices;
        // x <= 3 and x + y <= 2.5 miss the cut cube.
        let mut r = cube_with(&[
            ([1.0, 1.0, 1.0], 2.5),
            ([1.0, 0.0, 0.0], 3.0),
            ([1.0, 1.0, 0.0], 2.5),
        ]);
        let z = array![0.3, 0.4, 0.5];
        let active: Vec<usize> = (0..9).collect();
        assert_eq!(r.vertex_walk(&active, z.view(), MAX_VERTICES).unwrap().len(), 10);
        let inside = r.decide_by_vertices(z.view()).unwrap();
        let facets: Vec<usize> = (0..9).filter(|&k| r.status[k] == Status::Facet).collect();
        assert_eq!(facets, vec![0, 1, 2, 3, 4, 5, 6]);
        assert_eq!(r.status[7], Status::Redundant);
        assert_eq!(r.status[8], Status::Redundant);
        // The cut's point is the centroid of its triangle, on its plane.
        let p = inside[6].as_ref().unwrap();
        assert!((p.sum() - 2.5).abs() < 1e-12);
        assert!((p[0] - (1.0 + 1.0 + 0.5) / 3.0).abs() < 1e-12);
        assert!(inside[7].is_none());
    }

    #[test]
    fn degenerate_vertex_gives_up() {
        // x + y + z <= 3 touches the cube at its corner only: four rows are
        // tight there, so the walk leaves every row to the LPs.
        let mut r = cube_with(&[([1.0, 1.0, 1.0], 3.0)]);
        let before = r.status.clone();
        assert!(r.decide_by_vertices(array![0.5, 0.5, 0.5].view()).is_none());
        assert_eq!(r.status, before);
    }

    #[test]
    fn unbounded_set_gives_up() {
        let mut r = rows(array![[-1.0, 0.0], [0.0, -1.0]], array![0.0, 0.0]);
        assert!(r.decide_by_vertices(array![1.0, 1.0].view()).is_none());
    }

    #[test]
    fn simplex_vertices_match_closed_form() {
        // The simplex x >= 0, sum x <= 1 in d dimensions has d + 1 vertices.
        for d in [2, 5, 8] {
            let r = Rows::normalised(&crate::test_support::simplex(d), "test").unwrap();
            let active: Vec<usize> = (0..=d).collect();
            let z = Array1::from_elem(d, 0.5 / d as f64);
            let vertices = r.vertex_walk(&active, z.view(), MAX_VERTICES).unwrap();
            assert_eq!(vertices.len(), d + 1);
            for v in &vertices {
                let ones = v.point.iter().filter(|x| (**x - 1.0).abs() < 1e-12).count();
                let zeros = v.point.iter().filter(|x| x.abs() < 1e-12).count();
                assert!(zeros == d || (ones == 1 && zeros == d - 1), "{:?}", v.point);
            }
        }
    }

    #[test]
    fn swap_in_keeps_bases_sorted() {
        let mut next = Vec::new();
        for (drop, hit, want) in [
            (0, 9, vec![3, 5, 9]),
            (1, 0, vec![0, 1, 5]),
            (2, 4, vec![1, 3, 4]),
            (1, 2, vec![1, 2, 5]),
        ] {
            let at = swap_in(&[1, 3, 5], drop, hit, &mut next);
            let mut sorted = vec![1, 3, 5];
            sorted[drop] = hit;
            sorted.sort_unstable();
            assert_eq!(next, want);
            assert_eq!(next, sorted);
            assert_eq!(next[at], hit);
        }
    }

    #[test]
    fn pivoted_inverses_find_the_fresh_inverses_vertices() {
        // Random cuts of [0, 2]^d: the walk with pivoted inverses meets the
        // same bases in the same order as with a fresh inverse at every
        // vertex, at the same points up to rounding.
        use rand::{rngs::StdRng, SeedableRng};
        let mut rng = StdRng::seed_from_u64(11);
        let mut pivoted_vertices = 0;
        for trial in 0..24 {
            let d = 2 + trial % 6;
            let p = super::super::vertex_screen::tests::random_polytope(d, 10 + 2 * trial, &mut rng);
            let r = Rows::normalised(&p, "test").unwrap();
            let active: Vec<usize> = (0..r.beta.len()).collect();
            let local = r.local(&active);
            let z = Array1::from_shape_fn(d, |j| 1.0 + 0.01 * j as f64);
            let start = local.first_vertex(z.view()).unwrap();
            let Some(fresh) = local.walk_with(start.clone(), MAX_VERTICES, 1) else {
                continue; // the walk gave up (degenerate, unbounded or too many vertices)
            };
            let pivoted = local.walk(start, MAX_VERTICES).unwrap();
            assert_eq!(fresh.len(), pivoted.len(), "trial {trial}");
            for (f, p) in fresh.iter().zip(&pivoted) {
                assert_eq!(f.basis, p.basis, "trial {trial}");
                let gap = (&f.point - &p.point).iter().fold(0.0f64, |m, v| m.max(v.abs()));
                assert!(gap < 1e-12, "trial {trial}: {gap:e}");
                pivoted_vertices += usize::from(f.point != p.point);
            }
        }
        // Most vertices of a pivoted walk are pivoted; a pivoted point
        // almost always differs from the fresh one in its last bits, so
        // this many differing points shows that the pivots were taken (and
        // the comparisons above were not of two fresh walks).
        assert!(
            pivoted_vertices > 100,
            "only {pivoted_vertices} points differ from the fresh walk's in their bits"
        );
    }

    /// The cube `[0, 2]^3` cut to the thin wedge `0 <= y <= theta (x - 1/2)`
    /// (its apex edge at `x = 1/2`, its two faces at an angle `theta`), turned
    /// by a random rotation so that no entry is round; and a point inside.
    fn rotated_thin_wedge(theta: f64, rng: &mut rand::rngs::StdRng) -> (Polytope, Array1<f64>) {
        use rand::Rng;
        let mut a = Array2::zeros((7, 3));
        let mut b = Array1::zeros(7);
        for j in 0..3 {
            a[[2 * j, j]] = 1.0;
            b[2 * j] = 2.0;
            a[[2 * j + 1, j]] = -1.0;
        }
        a.row_mut(6).assign(&array![-theta, 1.0, 0.0]);
        b[6] = -0.5 * theta;
        // A rotation: Gram-Schmidt on random columns.
        let mut q = Array2::<f64>::zeros((3, 3));
        for j in 0..3 {
            let mut v = Array1::from_shape_fn(3, |_| rng.random_range(-1.0..1.0));
            for i in 0..j {
                let along = v.dot(&q.column(i));
                v.scaled_add(-along, &q.column(i));
            }
            let norm = v.dot(&v).sqrt();
            q.column_mut(j).assign(&(v / norm));
        }
        // {x : a x <= b} turned by q is {y : a q^T y <= b}. The point inside
        // is near the edge x = 2, z = 0, so that the walk's first ray shots
        // (after one of the wedge's faces) mostly meet those rows, not the
        // other face, which they cannot tell from the first.
        let x = 2.0 - 1e-3;
        let inside = q.dot(&array![x, 0.5 * theta * (x - 0.5), 1e-3]);
        (Polytope { a: a.dot(&q.t()), b }, inside)
    }

    #[test]
    fn ill_conditioned_bases_decide_as_with_fresh_inverses() {
        // The wedge's apex vertices hold both faces, nearly parallel: their
        // bases have condition numbers near 1 / theta, and the walk reaches
        // them by a pivot through a rate near theta. The walk with pivoted
        // inverses must decide every row as the walk with a fresh inverse at
        // every vertex does (the wedge's two faces, x <= 2 and z's two rows
        // are facets) and meet the same bases.
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let mut walked = 0;
        for trial in 0..24 {
            let theta = [1e-8, 3e-8, 5e-9][trial % 3];
            let (wedge, z) = rotated_thin_wedge(theta, &mut rng);
            let decided = [1, PIVOTS_PER_INVERSE].map(|pivots| {
                let mut r = rows(wedge.a.clone(), wedge.b.clone());
                let inside = r.decide_by_vertices_with(z.view(), pivots);
                (inside.is_some(), r.status)
            });
            assert_eq!(decided[0], decided[1], "trial {trial}");
            if !decided[0].0 {
                // The ray shots to the first vertex met both faces, which
                // they cannot tell apart: the walk gave up before its first
                // pivot, alike for both.
                continue;
            }
            walked += 1;
            let facets: Vec<usize> = (0..7).filter(|&k| decided[0].1[k] == Status::Facet).collect();
            assert_eq!(facets, vec![0, 3, 4, 5, 6], "trial {trial}");
            let local = rows(wedge.a, wedge.b).local(&(0..7).collect::<Vec<_>>());
            let start = local.first_vertex(z.view()).unwrap();
            let fresh = local.walk_with(start.clone(), MAX_VERTICES, 1).unwrap();
            let pivoted = local.walk(start, MAX_VERTICES).unwrap();
            assert_eq!(fresh.len(), 6, "trial {trial}");
            // The same bases in the same order; the apex points agree only to
            // about 1e-16 / theta along the apex edge, where both faces hold.
            for (f, p) in fresh.iter().zip(&pivoted) {
                assert_eq!(f.basis, p.basis, "trial {trial}");
            }
        }
        assert!(walked >= 8, "only {walked} of 24 wedges walked");
    }

    /// The square `[-2, 2]^2` cut by `n` lines tangent to the unit circle at
    /// the angles `phi0 + k theta`: the polygon's vertices between tangents
    /// `k` and `k + 1` lie at angle `phi0 + (k + 1/2) theta`, distance
    /// `1 / cos(theta / 2)` from the origin, and their bases (two lines at
    /// an angle `theta`) have condition numbers near `1 / theta`.
    fn tangent_arc(n: usize, phi0: f64, theta: f64) -> Polytope {
        let mut p = cube(2, -2.0, 2.0);
        for k in 0..n {
            let phi = phi0 + k as f64 * theta;
            p = with_rows(p, &[(&[phi.cos(), phi.sin()], 1.0)]);
        }
        p
    }

    #[test]
    fn pivots_off_an_arc_of_tangents_are_refreshed() {
        // Found by a search over nearly parallel arrangements (arcs of
        // tangents, shallow caps of a sphere, thin wedges; angles 1e-2 to
        // 1e-8): along an arc at 1e-4 rad a chain of pivots through the
        // ill-conditioned bases leaves some pivoted vertices more than
        // `TOL_BASIS_RESIDUAL_REL` off their rows, and the walk inverts
        // those afresh. The pivoted walk must meet the bases of the walk
        // with a fresh inverse everywhere, in the same order, with every
        // arc vertex at its closed-form point, and decide every row alike.
        let (n, phi0, theta) = (40, 0.3, 1e-4);
        let p = tangent_arc(n, phi0, theta);
        let r = rows(p.a.clone(), p.b.clone());
        let all: Vec<usize> = (0..p.len()).collect();
        let local = r.local(&all);
        let z = array![0.01, 0.01];
        let start = local.first_vertex(z.view()).unwrap();
        let fresh = local.walk_with(start.clone(), MAX_VERTICES, 1).unwrap();
        let mut inverses = Inverses::default();
        let pivoted = local
            .walk_counting(start, (MAX_VERTICES, PIVOTS_PER_INVERSE), &mut inverses)
            .unwrap();
        assert!(inverses.refreshed > 0, "{inverses:?}");
        assert!(inverses.pivoted > inverses.refreshed, "{inverses:?}");
        assert_eq!(fresh.len(), pivoted.len());
        // The arc's n - 1 vertices, the square's corners it leaves and its
        // two ends on the square's sides.
        let on_arc = |v: &Vertex| v.basis.iter().all(|&k| k >= 4);
        assert_eq!(fresh.iter().filter(|v| on_arc(v)).count(), n - 1);
        for (f, q) in fresh.iter().zip(&pivoted) {
            assert_eq!(f.basis, q.basis);
            if on_arc(f) {
                // Tangents k and k + 1 (rows 4 + k, 5 + k).
                let angle = phi0 + (f.basis[0] - 4) as f64 * theta + 0.5 * theta;
                let reach = 1.0 / (0.5 * theta).cos();
                let want = array![reach * angle.cos(), reach * angle.sin()];
                for point in [&f.point, &q.point] {
                    let gap = (point - &want).iter().fold(0.0f64, |m, v| m.max(v.abs()));
                    // Rounding of order 1e-16 / theta^2 along the arc.
                    assert!(gap < 1e-6, "{:?}: {gap:e}", f.basis);
                }
            }
        }
        let decided = [1, PIVOTS_PER_INVERSE].map(|pivots| {
            let mut r = rows(p.a.clone(), p.b.clone());
            let inside = r.decide_by_vertices_with(z.view(), pivots);
            (inside.is_some(), r.status)
        });
        assert_eq!(decided[0], decided[1]);
        let facets = (0..p.len()).filter(|&k| decided[0].1[k] == Status::Facet).count();
        assert_eq!(
            facets,
            n + 3,
            "every tangent, the left side, the top and the bottom"
        );
    }

    #[test]
    fn high_dimensional_cube_goes_to_the_lps() {
        // [0, 1]^200 has 2^200 vertices: the walk must not start.
        let d = 200;
        let p = cube(d, 0.0, 1.0);
        let mut r = rows(p.a, p.b);
        assert!(r.decide_by_vertices(Array1::from_elem(d, 0.5).view()).is_none());
    }
}
