//! Screening: the tests that decide rows of a polytope before their own LPs
//! (steps 1-4 and 6 of [`facets`](super::facets)): zero rows, parallel and duplicate
//! rows, rows that miss a bounding box, facets certified by ray shooting, and the
//! bounding box of the known facets (a few small LPs).

use ndarray::{Array1, Array2, ArrayView1, Axis};

use super::{LpOutcome, LpProblem, LpStats};
use crate::geometry::Polytope;
use crate::tol::{TOL_LP_FEAS, TOL_ZERO_ROW};
use crate::{Error, Result};

/// Step 6 runs when more than this many rows per dimension are undecided, so
/// its `2 d` LPs are at most half of the LPs it can save.
const BOX_SCREEN_ROWS_PER_DIM: usize = 4;

/// What is known about a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Status {
    /// Not decided yet.
    Undecided,
    /// A facet, proved by a ray or an LP.
    Facet,
    /// Redundant (or a zero row): it never bounds the set.
    Redundant,
    /// Redundant within [`TOL_LP_FEAS`], although its LP optimum passes its
    /// bound: a facet shorter than the tolerance, or a row that touches the
    /// set only where rounding blurs it (for the caller to settle exactly).
    NearlyRedundant,
    /// The same hyperplane as the given representative row.
    DuplicateOf(usize),
}

/// The rows scaled to unit norm, with what is known about each.
pub(super) struct Rows {
    /// The rows scaled to unit norm.
    pub(super) u: Array2<f64>,
    /// The right-hand sides scaled with them.
    pub(super) beta: Array1<f64>,
    /// What is known about each row.
    pub(super) status: Vec<Status>,
}

impl Rows {
    /// Scales every row to unit norm; zero rows are redundant or prove the set empty.
    pub(super) fn normalised(p: &Polytope, context: &str) -> Result<Rows> {
        let mut u = p.a.clone();
        let mut beta = p.b.clone();
        let mut status = vec![Status::Undecided; p.len()];
        for (i, mut row) in u.rows_mut().into_iter().enumerate() {
            let norm = row.dot(&row).sqrt();
            if norm >= TOL_ZERO_ROW {
                row /= norm;
                beta[i] /= norm;
            } else if beta[i] < 0.0 {
                return Err(empty_polytope(context));
            } else {
                status[i] = Status::Redundant;
            }
        }
        Ok(Rows { u, beta, status })
    }

    /// The rows that still bound the set as far as is known.
    pub(super) fn is_active(&self, k: usize) -> bool {
        matches!(self.status[k], Status::Undecided | Status::Facet)
    }

    /// Step 2: groups rows with the same unit normal. Sorting by a generic linear
    /// key brings equal normals next to each other, so only rows whose keys are
    /// within the tolerance window are compared.
    pub(super) fn mark_parallel(&mut self) {
        let d = self.u.ncols();
        let weights: Array1<f64> = (0..d).map(key_weight).collect();
        let keys = self.u.dot(&weights);
        let window = TOL_LP_FEAS * weights.sum();
        let mut order: Vec<usize> = (0..self.beta.len()).filter(|&i| self.is_active(i)).collect();
        order.sort_by(|&i, &j| keys[i].total_cmp(&keys[j]));
        let mut grouped = vec![false; self.beta.len()];
        for (pos, &i) in order.iter().enumerate() {
            if grouped[i] {
                continue;
            }
            let next_in_window = order.get(pos + 1).is_some_and(|&j| keys[j] - keys[i] <= window);
            if !next_in_window {
                continue; // a class of one (most rows): nothing to resolve
            }
            let class: Vec<usize> = std::iter::once(i)
                .chain(
                    order[pos + 1..]
                        .iter()
                        .copied()
                        .take_while(|&j| keys[j] - keys[i] <= window)
                        .filter(|&j| !grouped[j] && self.same_normal(i, j)),
                )
                .collect();
            for &j in &class {
                grouped[j] = true;
            }
            self.resolve_parallel_class(&class);
        }
    }

    /// True when rows `i` and `j` have the same unit normal up to [`TOL_LP_FEAS`].
    fn same_normal(&self, i: usize, j: usize) -> bool {
        let (ui, uj) = (self.u.row(i), self.u.row(j));
        ui.iter().zip(uj).all(|(a, b)| (a - b).abs() <= TOL_LP_FEAS)
    }

    /// Within a class of parallel rows only the tightest can bound the set; the
    /// rows within tolerance of it coincide with it.
    fn resolve_parallel_class(&mut self, class: &[usize]) {
        if class.len() < 2 {
            return;
        }
        let tightest = class.iter().map(|&i| self.beta[i]).fold(f64::INFINITY, f64::min);
        let representative = class
            .iter()
            .copied()
            .filter(|&i| self.beta[i] <= tightest + TOL_LP_FEAS)
            .min()
            .unwrap_or(class[0]);
        for &i in class {
            if i == representative {
                continue;
            }
            self.status[i] = if self.beta[i] <= tightest + TOL_LP_FEAS {
                Status::DuplicateOf(representative)
            } else {
                Status::Redundant
            };
        }
    }

    /// Step 3: a row whose hyperplane misses the box by more than the tolerance
    /// is redundant. A row that only touches the box may still be a facet (the
    /// box's own faces are usually rows of the polytope).
    pub(super) fn mark_outside_box(&mut self, lo: ArrayView1<'_, f64>, hi: ArrayView1<'_, f64>) {
        for i in 0..self.beta.len() {
            if self.status[i] != Status::Undecided {
                continue;
            }
            let box_max: f64 = self
                .u
                .row(i)
                .iter()
                .zip(lo.iter().zip(hi))
                .map(|(&uj, (&l, &h))| (uj * l).max(uj * h))
                .sum();
            if box_max < self.beta[i] - TOL_LP_FEAS {
                self.status[i] = Status::Redundant;
            }
        }
    }

    /// Step 4: shoots a ray from `z` along each undecided normal and certifies
    /// the first hyperplane it hits when every other row keeps slack there.
    /// Only the active rows take part (in a small box most rows miss it), so
    /// the rates are `O(a^2 d)` for `a` active rows, not `O(a m d)`.
    pub(super) fn certify_by_rays(&mut self, z: ArrayView1<'_, f64>) {
        let active: Vec<usize> = (0..self.beta.len()).filter(|&k| self.is_active(k)).collect();
        let slack: Vec<f64> = active
            .iter()
            .map(|&k| self.beta[k] - self.u.row(k).dot(&z))
            .collect();
        if slack.iter().any(|&s| s <= TOL_LP_FEAS) {
            return; // z is not deep inside: a hit point could lie outside the set
        }
        let mut approach = vec![0.0; active.len()];
        for &i in &active {
            if self.status[i] != Status::Undecided {
                continue;
            }
            let normal = self.u.row(i);
            for (rate, &k) in approach.iter_mut().zip(&active) {
                *rate = self.u.row(k).dot(&normal);
            }
            if let Some(hit) = certified_first_hit(&slack, &approach) {
                self.status[active[hit]] = Status::Facet;
            }
        }
    }

    /// Step 6: when many rows are left, bounds the polytope by the box of the
    /// known facets and the known box, and drops the rows that miss it.
    pub(super) fn screen_by_facet_box(
        &mut self,
        bbox: Option<(ArrayView1<'_, f64>, ArrayView1<'_, f64>)>,
        stats: &mut LpStats,
        context: &str,
    ) -> Result<()> {
        let d = self.u.ncols();
        let undecided = self.status.iter().filter(|&&s| s == Status::Undecided).count();
        if undecided <= BOX_SCREEN_ROWS_PER_DIM * d {
            return Ok(());
        }
        let facets: Vec<usize> = (0..self.beta.len())
            .filter(|&k| self.status[k] == Status::Facet)
            .collect();
        let mut a = self.u.select(Axis(0), &facets);
        let mut b: Vec<f64> = facets.iter().map(|&k| self.beta[k]).collect();
        if let Some((lo, hi)) = bbox {
            for j in 0..d {
                let mut row = Array1::zeros(d);
                row[j] = 1.0;
                push_row(&mut a, &mut b, row.view(), hi[j])?;
                row[j] = -1.0;
                push_row(&mut a, &mut b, row.view(), -lo[j])?;
            }
        }
        let (mut lo, mut hi) = (Array1::zeros(d), Array1::zeros(d));
        for j in 0..d {
            for sign in [1.0, -1.0] {
                let mut c = Array1::zeros(d);
                c[j] = sign;
                stats.lps_solved += 1;
                let outcome = LpProblem::new(c.view(), a.view(), ArrayView1::from(&b[..])).solve(context)?;
                match outcome {
                    LpOutcome::Optimal { value, .. } if sign > 0.0 => hi[j] = value,
                    LpOutcome::Optimal { value, .. } => lo[j] = -value,
                    LpOutcome::Unbounded => return Ok(()), // no finite box to test against
                    LpOutcome::Infeasible => return Err(empty_polytope(context)),
                }
            }
        }
        self.mark_outside_box(lo.view(), hi.view());
        Ok(())
    }
}

/// The first row a ray hits, when it is certified as a facet (positions in
/// the active rows): `slack[k]` is the slack of row `k` at the ray's origin
/// and `approach[k]` the rate at which the ray closes it. At the hit point
/// every other active row must keep a slack above [`TOL_LP_FEAS`], so
/// stepping past the hyperplane along its normal by that much stays inside
/// the other rows: the row's LP exceeds `beta` by more than the tolerance.
fn certified_first_hit(slack: &[f64], approach: &[f64]) -> Option<usize> {
    let (hit, step) = approach
        .iter()
        .enumerate()
        .filter(|&(_, &rate)| rate > 0.0)
        .map(|(k, &rate)| (k, slack[k] / rate))
        .min_by(|p, q| p.1.total_cmp(&q.1))?;
    let clear = slack
        .iter()
        .zip(approach)
        .enumerate()
        .all(|(k, (&s, &rate))| k == hit || s - step * rate > TOL_LP_FEAS);
    clear.then_some(hit)
}

/// Generic positive weights (fractional parts of multiples of the golden ratio),
/// so that different unit normals rarely share a sort key.
fn key_weight(j: usize) -> f64 {
    const GOLDEN: f64 = 0.618_033_988_749_894_8;
    1.0 + ((j as f64 + 1.0) * GOLDEN).fract()
}

/// The error for a polytope that turns out to have no point.
pub(super) fn empty_polytope(context: &str) -> Error {
    Error::Lp {
        context: context.to_owned(),
        reason: "the polytope is empty, so it has no facets".to_owned(),
    }
}

/// Appends the row `row . x <= rhs` to `(a, b)`.
pub(super) fn push_row(
    a: &mut Array2<f64>,
    b: &mut Vec<f64>,
    row: ArrayView1<'_, f64>,
    rhs: f64,
) -> Result<()> {
    a.push_row(row)
        .map_err(|e| Error::shape("LP row", a.ncols(), e))?;
    b.push(rhs);
    Ok(())
}
