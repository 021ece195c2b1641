//! The Euclidean projection of a point onto a polytope `{x : a x <= b}`: the
//! closest point of the polytope and its distance, exact up to rounding.
//!
//! The problem `min |x - c|^2 / 2` subject to `a x <= b` is a strictly convex
//! quadratic program, solved by a primal active-set method from a feasible
//! start (see `docs/ALGORITHMS.md`):
//!
//! 1. With the working set `W` (rows held as equalities), the best point of
//!    the affine subspace `{a_W x = b_W}` is `x + p` with
//!    `p = (I - Q Q^T)(c - x)`, `Q` an orthonormal basis of the rows of `W`
//!    (Gram-Schmidt): `p` moves along the subspace, so no system is solved.
//! 2. When `p` is not zero, the step goes as far towards `x + p` as the rows
//!    outside `W` allow; the first row met (smallest index on ties) joins `W`.
//! 3. When `p` is zero, `c - x = sum_W lambda_i a_i` (back substitution in the
//!    triangular factor): all `lambda_i >= 0` is the optimality certificate
//!    (KKT), otherwise the row of the most negative multiplier leaves `W`.
//!
//! Rows are scaled to unit norm first, so slacks are distances. A row joins
//! `W` only when the step moves towards it by more than
//! [`TOL_DEPENDENT_REL`] of the step's length, so `W` stays linearly
//! independent (at most `d` rows) and the basis never loses rank; a row the
//! step runs almost parallel to moves by less than that fraction of the step.

use ndarray::{Array1, Array2, ArrayView1, Axis};

use super::Polytope;
use crate::error::{Error, Result};
use crate::tol::{TOL_DEPENDENT_REL, TOL_PROJECTION_STEP_REL, TOL_ZERO_ROW};

/// The closest point of a polytope to a target, and its distance.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Projection {
    /// The closest point.
    pub(crate) point: Array1<f64>,
    /// `|point - target|`.
    pub(crate) distance: f64,
}

/// Active-set iterations allowed per row and dimension: each iteration adds or
/// drops one row, and without degeneracy no working set repeats.
const ITERATIONS_PER_ROW: usize = 8;

/// The projection of `target` onto `poly`, from a point `start` of `poly`.
///
/// # Errors
///
/// [`Error::Lp`] (`context` names the problem) when the active-set method
/// does not finish within its iteration cap (cycling on a degenerate vertex).
pub(crate) fn project(
    poly: &Polytope,
    target: ArrayView1<f64>,
    start: ArrayView1<f64>,
    context: &str,
) -> Result<Projection> {
    let rows = UnitRows::new(poly);
    if rows.max_violation(target) <= 0.0 {
        return Ok(Projection {
            point: target.to_owned(),
            distance: 0.0,
        });
    }
    let mut state = ActiveSet {
        rows: &rows,
        target,
        x: start.to_owned(),
        working: Vec::new(),
        step_floor: TOL_PROJECTION_STEP_REL * (1.0 + norm(start) + norm(target)),
    };
    let cap = ITERATIONS_PER_ROW * (rows.u.nrows() + target.len()) + 16;
    for _ in 0..cap {
        if state.iterate() {
            let distance = norm((&state.x - &target).view());
            return Ok(Projection {
                point: state.x,
                distance,
            });
        }
    }
    Err(Error::Lp {
        context: context.to_string(),
        reason: format!("the projection did not converge within {cap} active-set steps"),
    })
}

/// The rows of a polytope scaled to unit norm, zero rows left out.
struct UnitRows {
    u: Array2<f64>,
    beta: Array1<f64>,
}

impl UnitRows {
    fn new(poly: &Polytope) -> UnitRows {
        let kept: Vec<usize> = (0..poly.len())
            .filter(|&i| norm(poly.a.row(i)) > TOL_ZERO_ROW)
            .collect();
        let mut u = poly.a.select(Axis(0), &kept);
        let mut beta = poly.b.select(Axis(0), &kept);
        for (mut row, b) in u.rows_mut().into_iter().zip(beta.iter_mut()) {
            let n = norm(row.view());
            row /= n;
            *b /= n;
        }
        UnitRows { u, beta }
    }

    /// `max_i (u_i . x - beta_i)`, a distance (negative inside).
    fn max_violation(&self, x: ArrayView1<f64>) -> f64 {
        (self.u.dot(&x) - &self.beta).fold(f64::NEG_INFINITY, |m, &v| m.max(v))
    }
}

/// The state of the active-set method.
struct ActiveSet<'a> {
    rows: &'a UnitRows,
    target: ArrayView1<'a, f64>,
    /// The current (feasible) point.
    x: Array1<f64>,
    /// The working set, in the order rows joined it.
    working: Vec<usize>,
    /// Steps shorter than this count as zero.
    step_floor: f64,
}

impl ActiveSet<'_> {
    /// One step: true when `x` is optimal.
    fn iterate(&mut self) -> bool {
        let (basis, r) = self.factor();
        let gradient: Array1<f64> = &self.target - &self.x;
        let mut p = gradient.clone();
        for q in &basis {
            let along = q.dot(&p);
            p.scaled_add(-along, q);
        }
        if norm(p.view()) > self.step_floor {
            self.advance(&p);
            return false;
        }
        match self.most_negative_multiplier(&basis, &r, &gradient) {
            Some(k) => {
                self.working.remove(k);
                false
            }
            None => true,
        }
    }

    /// Gram-Schmidt of the working rows: the orthonormal basis `Q` and the
    /// upper-triangular `R` (column `k` holds row `W_k` in that basis).
    fn factor(&self) -> (Vec<Array1<f64>>, Array2<f64>) {
        let k = self.working.len();
        let mut basis: Vec<Array1<f64>> = Vec::with_capacity(k);
        let mut r = Array2::zeros((k, k));
        for (j, &row) in self.working.iter().enumerate() {
            let mut v = self.rows.u.row(row).to_owned();
            for (i, q) in basis.iter().enumerate() {
                let along = q.dot(&v);
                r[[i, j]] = along;
                v.scaled_add(-along, q);
            }
            let n = norm(v.view());
            r[[j, j]] = n;
            basis.push(v / n);
        }
        (basis, r)
    }

    /// Moves `x` along `p` as far as the rows outside the working set allow
    /// (at most all of `p`); the row that stops it joins the working set.
    fn advance(&mut self, p: &Array1<f64>) {
        let length = norm(p.view());
        let rates = self.rows.u.dot(p);
        let slacks = &self.rows.beta - &self.rows.u.dot(&self.x);
        let mut blocking: Option<(usize, f64)> = None;
        for (i, (&rate, &slack)) in rates.iter().zip(&slacks).enumerate() {
            if rate <= TOL_DEPENDENT_REL * length || self.working.contains(&i) {
                continue;
            }
            let t = slack.max(0.0) / rate;
            if t < blocking.map_or(1.0, |(_, best)| best) {
                blocking = Some((i, t));
            }
        }
        let t = blocking.map_or(1.0, |(_, t)| t);
        self.x.scaled_add(t, p);
        if let Some((i, _)) = blocking {
            self.working.push(i);
        }
    }

    /// The position in the working set of the most negative multiplier of
    /// `gradient = sum_k lambda_k u_{W_k}`, or `None` when all are `>= 0`
    /// (up to rounding: the multipliers are distances' scale).
    fn most_negative_multiplier(
        &self,
        basis: &[Array1<f64>],
        r: &Array2<f64>,
        gradient: &Array1<f64>,
    ) -> Option<usize> {
        let k = basis.len();
        let mut lambda: Vec<f64> = basis.iter().map(|q| q.dot(gradient)).collect();
        for j in (0..k).rev() {
            let above: f64 = (j + 1..k).map(|l| r[[j, l]] * lambda[l]).sum();
            lambda[j] = (lambda[j] - above) / r[[j, j]];
        }
        let floor = -TOL_PROJECTION_STEP_REL * (1.0 + norm(gradient.view()));
        (0..k)
            .filter(|&j| lambda[j] < floor)
            .min_by(|&a, &b| lambda[a].total_cmp(&lambda[b]))
    }
}

fn norm(v: ArrayView1<f64>) -> f64 {
    v.dot(&v).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array2};

    fn cube(d: usize, half: f64) -> Polytope {
        let mut a = Array2::zeros((2 * d, d));
        for i in 0..d {
            a[[2 * i, i]] = 1.0;
            a[[2 * i + 1, i]] = -1.0;
        }
        Polytope::new(a, Array1::from_elem(2 * d, half)).unwrap()
    }

    fn projection(poly: &Polytope, target: &Array1<f64>, start: &Array1<f64>) -> Projection {
        project(poly, target.view(), start.view(), "test").unwrap()
    }

    /// The projection onto a box is the coordinate-wise clamp.
    #[test]
    fn box_projection_is_the_clamp() {
        let poly = cube(3, 1.0);
        let origin = Array1::zeros(3);
        for target in [
            array![2.0, 0.5, -0.25],
            array![3.0, -4.0, 0.0],
            array![-2.0, 5.0, 7.0],
            array![0.5, 0.5, 0.5],
            array![1.0, 1.0, 1.5],
        ] {
            let clamp = target.mapv(|v: f64| v.clamp(-1.0, 1.0));
            let got = projection(&poly, &target, &origin);
            let want = norm((&clamp - &target).view());
            assert!((got.distance - want).abs() < 1e-14, "{target}: {got:?} vs {want}");
            assert!((&got.point - &clamp).iter().all(|v| v.abs() < 1e-14));
        }
    }

    /// The distance to a half-space `a x <= b` is `(a c - b) / |a|`.
    #[test]
    fn half_space_distance_is_the_closed_form() {
        let a = array![[3.0, -4.0, 12.0]];
        let poly = Polytope::new(a, array![2.0]).unwrap();
        let start = array![0.0, 0.0, 0.0];
        let target = array![5.0, -1.0, 2.0];
        let want = (15.0 + 4.0 + 24.0 - 2.0) / 13.0;
        let got = projection(&poly, &target, &start);
        assert!((got.distance - want).abs() < 1e-14);
    }

    /// In 2-D the distance to a convex polygon is the smallest distance to
    /// its edges (a segment's closest point in closed form).
    #[test]
    fn polygon_distance_is_the_nearest_edge() {
        // The pentagon with these vertices (counter-clockwise) and its rows.
        let vertices = [[0.0, 0.0], [2.0, -0.5], [3.0, 1.0], [1.5, 2.5], [-0.5, 1.5]];
        let mut a = Array2::zeros((5, 2));
        let mut b = Array1::zeros(5);
        for i in 0..5 {
            let (p, q) = (vertices[i], vertices[(i + 1) % 5]);
            a[[i, 0]] = q[1] - p[1];
            a[[i, 1]] = p[0] - q[0];
            b[i] = a[[i, 0]] * p[0] + a[[i, 1]] * p[1];
        }
        let poly = Polytope::new(a, b).unwrap();
        let start = array![1.0, 1.0];
        for k in 0..200 {
            let angle = k as f64 * 0.37;
            let reach = 0.5 + (k % 7) as f64;
            let target = array![1.2 + reach * angle.cos(), 0.9 + reach * angle.sin()];
            let want = if poly.max_violation(target.view()) <= 0.0 {
                0.0
            } else {
                (0..5)
                    .map(|i| segment_distance(vertices[i], vertices[(i + 1) % 5], &target))
                    .fold(f64::INFINITY, f64::min)
            };
            let got = projection(&poly, &target, &start);
            assert!(
                (got.distance - want).abs() < 1e-12,
                "{target}: {} vs {want}",
                got.distance
            );
        }
    }

    fn segment_distance(p: [f64; 2], q: [f64; 2], c: &Array1<f64>) -> f64 {
        let (dx, dy) = (q[0] - p[0], q[1] - p[1]);
        let t = (((c[0] - p[0]) * dx + (c[1] - p[1]) * dy) / (dx * dx + dy * dy)).clamp(0.0, 1.0);
        ((p[0] + t * dx - c[0]).powi(2) + (p[1] + t * dy - c[1]).powi(2)).sqrt()
    }

    /// Redundant, duplicate and zero rows, and a start on the boundary, do not
    /// change the answer: the unit square with extra rows, from a corner.
    #[test]
    fn redundant_rows_and_a_boundary_start() {
        let a = array![
            [1.0, 0.0],
            [-1.0, 0.0],
            [0.0, 1.0],
            [0.0, -1.0],
            [2.0, 0.0],
            [1.0, 1.0],
            [0.0, 0.0],
            [1.0, 1e-13]
        ];
        let b = array![1.0, 0.0, 1.0, 0.0, 2.0, 2.0, 1.0, 1.0];
        let poly = Polytope::new(a, b).unwrap();
        let corner = array![1.0, 1.0];
        for (target, want) in [
            (array![3.0, 3.0], 8f64.sqrt()),
            (array![-1.0, 0.5], 1.0),
            (array![2.0, 0.5], 1.0),
            (array![0.5, -2.0], 2.0),
        ] {
            let got = projection(&poly, &target, &corner);
            assert!(
                (got.distance - want).abs() < 1e-12,
                "{target}: {} vs {want}",
                got.distance
            );
        }
    }

    /// In 4-D, against the KKT conditions checked independently: the point is
    /// feasible and `c - x` is a nonnegative combination of the rows active at
    /// `x`, found by nonnegative least squares over all subsets of active rows
    /// (brute force, few rows).
    #[test]
    fn random_polytopes_satisfy_the_optimality_conditions() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut uniform = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        };
        for _ in 0..40 {
            let d = 4;
            let m = 9;
            let a = Array2::from_shape_simple_fn((m, d), &mut uniform);
            // Every row at distance >= 0.1 from the origin: the origin is inside.
            let b = Array1::from_shape_fn(m, |i| norm(a.row(i)) * (0.1 + uniform().abs()));
            let poly = Polytope::new(a.clone(), b.clone()).unwrap();
            let target = Array1::from_shape_simple_fn(d, || 3.0 * uniform());
            let got = projection(&poly, &target, &Array1::zeros(d));
            assert!(poly.max_violation(got.point.view()) < 1e-12);
            let residual = &target - &got.point;
            let active: Vec<usize> = (0..m)
                .filter(|&i| (b[i] - a.row(i).dot(&got.point)).abs() < 1e-9)
                .collect();
            assert!(
                cone_contains(&a, &active, &residual),
                "c - x = {residual} is not in the cone of the active rows {active:?}"
            );
        }
    }

    /// True when `v` is a nonnegative combination of `a`'s rows in `active`:
    /// some linearly independent subset solves it exactly with `lambda >= 0`
    /// (Caratheodory), tried by normal equations on every subset.
    fn cone_contains(a: &Array2<f64>, active: &[usize], v: &Array1<f64>) -> bool {
        if norm(v.view()) < 1e-12 {
            return true;
        }
        (1u32..1 << active.len()).any(|mask| {
            let rows: Vec<usize> = (0..active.len())
                .filter(|k| mask >> k & 1 == 1)
                .map(|k| active[k])
                .collect();
            let sub = a.select(Axis(0), &rows);
            let gram = sub.dot(&sub.t());
            let rhs = sub.dot(v);
            solve(gram, rhs).is_some_and(|lambda| {
                let fit = sub.t().dot(&lambda);
                lambda.iter().all(|&l| l >= -1e-9) && norm((&fit - v).view()) < 1e-9
            })
        })
    }

    /// Gaussian elimination with partial pivoting; `None` when singular.
    fn solve(mut m: Array2<f64>, mut rhs: Array1<f64>) -> Option<Array1<f64>> {
        let n = rhs.len();
        for col in 0..n {
            let pivot = (col..n).max_by(|&i, &j| m[[i, col]].abs().total_cmp(&m[[j, col]].abs()))?;
            if m[[pivot, col]].abs() < 1e-12 {
                return None;
            }
            for k in 0..n {
                m.swap([col, k], [pivot, k]);
            }
            rhs.swap(col, pivot);
            for row in col + 1..n {
                let f = m[[row, col]] / m[[col, col]];
                for k in col..n {
                    m[[row, k]] -= f * m[[col, k]];
                }
                rhs[row] -= f * rhs[col];
            }
        }
        let mut x = Array1::zeros(n);
        for row in (0..n).rev() {
            let above: f64 = (row + 1..n).map(|k| m[[row, k]] * x[k]).sum();
            x[row] = (rhs[row] - above) / m[[row, row]];
        }
        Some(x)
    }
}
