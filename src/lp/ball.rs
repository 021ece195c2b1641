//! The Chebyshev ball of a bounded polytope from a point inside it, without a
//! general LP solver: a dense active-set (primal simplex) method over the
//! `d + 1` variables `z = (x, r)` of
//!
//! ```text
//! maximise r   subject to   g_i . z = a_i . x / ||a_i|| + r <= b_i / ||a_i||   (every row i).
//! ```
//!
//! It starts at `(inside, 0)`, which is feasible, and repeats: move along the
//! objective projected onto the rows held tight (the active set) until a row
//! blocks, and make that row active; where the projection vanishes, the
//! objective is a combination of the active rows, and either every
//! multiplier is non-negative (the point is optimal: that is the certificate)
//! or the row of the first negative one is released. Ties go to the smallest
//! row index both ways (Bland's rule), so degenerate points do not cycle.
//! The active rows' QR factors grow by one row per step and are refactored
//! only from a released row on.
//!
//! Meant for the minimal H-representations of skeleton regions (a few dozen
//! rows in up to about ten dimensions), where building a general solver's
//! program costs far more than the few pivots: every step is `O(rows d)`
//! plus `O(d^2)` for the new row's factors. Where the method
//! cannot certify its answer (a start not strictly inside, a dependent or
//! unbounded step, a zero or non-finite row, too many pivots) it says so
//! with `None`, and the caller runs [`super::chebyshev_ball`].
//!
//! Where the optimum is not unique (a region longer than wide), the centre
//! is one of the optimal points, not necessarily the general solver's; the
//! radius is the same up to rounding.

use ndarray::Array1;

use crate::geometry::Polytope;
use crate::tol::{TOL_BALL_PIVOT, TOL_ZERO_ROW};

/// Pivots allowed per row and variable before the method gives up (far more
/// than the few per variable it takes; a bound, not a tuning).
const MAX_PIVOTS_PER_ROW: usize = 4;

/// The centre and radius of the largest ball inside the bounded polytope `p`,
/// starting from `inside` (a point strictly inside it), or `None` where the
/// method does not certify an answer (see the module's notes). The radius
/// returned is the centre's smallest distance to a row's hyperplane,
/// recomputed from the rows, so the ball of that radius at that centre lies
/// inside `p` up to rounding.
pub(crate) fn chebyshev_ball_inside(p: &Polytope, inside: &[f64]) -> Option<(Array1<f64>, f64)> {
    let rows = UnitRows::of(p)?;
    if inside.len() != p.dim() || rows.len() == 0 {
        return None;
    }
    let mut z: Vec<f64> = inside.iter().copied().chain([0.0]).collect();
    let mut slack: Vec<f64> = (0..rows.len()).map(|i| rows.slack(i, &z)).collect();
    if !slack.iter().all(|&s| s > 0.0) {
        return None;
    }
    let mut active: Vec<usize> = Vec::with_capacity(rows.n);
    let mut is_active = vec![false; rows.len()];
    let mut basis = Basis::new(rows.n);
    let mut dir = vec![0.0; rows.n];
    // Each row's rate of change along `dir`.
    let mut rate = vec![0.0; rows.len()];
    for _ in 0..MAX_PIVOTS_PER_ROW * (rows.len() + rows.n) {
        basis.factor(&rows, &active)?;
        basis.project_objective(&mut dir);
        if norm(&dir) > TOL_BALL_PIVOT {
            for (k, r) in rate.iter_mut().enumerate() {
                *r = dot(rows.row(k), &dir);
            }
            let (i, t) = blocking(&rate, &slack, &is_active)?;
            for (s, r) in slack.iter_mut().zip(&rate) {
                *s -= t * r;
            }
            slack[i] = 0.0;
            for (zj, pj) in z.iter_mut().zip(&dir) {
                *zj += t * pj;
            }
            active.push(i);
            is_active[i] = true;
        } else {
            let lambda = basis.multipliers()?;
            let released = (0..active.len())
                .filter(|&k| lambda[k] < -TOL_BALL_PIVOT)
                .min_by_key(|&k| active[k]);
            match released {
                Some(k) => {
                    is_active[active.remove(k)] = false;
                    basis.truncate(k);
                }
                None => return Some(rows.ball(&z)),
            }
        }
    }
    None
}

/// The first row (smallest step, then smallest index) that a move along a
/// direction reaches, given each row's `rate` of change along it, and the
/// step; `None` when no row blocks (the program is unbounded: the polytope
/// was not).
fn blocking(rate: &[f64], slack: &[f64], is_active: &[bool]) -> Option<(usize, f64)> {
    let mut best: Option<(usize, f64)> = None;
    for (i, (&r, &s)) in rate.iter().zip(slack).enumerate() {
        if r > 0.0 && !is_active[i] {
            let t = s.max(0.0) / r;
            if best.is_none_or(|(_, tb)| t < tb) {
                best = Some((i, t));
            }
        }
    }
    best
}

/// The rows `g_i = (a_i / ||a_i||, 1)` and `h_i = b_i / ||a_i||`, flat.
struct UnitRows {
    /// Variables: the dimension and the radius.
    n: usize,
    g: Vec<f64>,
    h: Vec<f64>,
}

impl UnitRows {
    /// The unit rows of `p`, or `None` for a zero or non-finite row.
    fn of(p: &Polytope) -> Option<UnitRows> {
        let n = p.dim() + 1;
        let mut g = Vec::with_capacity(p.len() * n);
        let mut h = Vec::with_capacity(p.len());
        for (row, &b) in p.a.rows().into_iter().zip(&p.b) {
            let norm = row.dot(&row).sqrt();
            if !(norm >= TOL_ZERO_ROW && norm.is_finite() && b.is_finite()) {
                return None;
            }
            g.extend(row.iter().map(|v| v / norm));
            g.push(1.0);
            h.push(b / norm);
        }
        Some(UnitRows { n, g, h })
    }

    fn len(&self) -> usize {
        self.h.len()
    }

    fn row(&self, i: usize) -> &[f64] {
        &self.g[i * self.n..(i + 1) * self.n]
    }

    /// `h_i - g_i . z`.
    fn slack(&self, i: usize, z: &[f64]) -> f64 {
        self.h[i] - dot(self.row(i), z)
    }

    /// The centre `x` of `z` and its smallest distance to a row's hyperplane.
    fn ball(&self, z: &[f64]) -> (Array1<f64>, f64) {
        let x = &z[..self.n - 1];
        let radius = (0..self.len())
            .map(|i| self.h[i] - dot(&self.row(i)[..self.n - 1], x))
            .fold(f64::INFINITY, f64::min);
        (Array1::from(x.to_vec()), radius.max(0.0))
    }
}

/// The active rows' QR factors by Gram-Schmidt (each row orthogonalised
/// twice, which keeps the factors orthonormal to rounding): row `g_{w_j}`
/// is `sum_l r[l][j] q_l`. A row made active is appended, so only it needs
/// factoring; a row released invalidates the factors from its place on.
struct Basis {
    n: usize,
    /// Orthonormal vectors `q_l`, `n` each.
    q: Vec<f64>,
    /// Upper triangle, `r[l * n + j]`.
    r: Vec<f64>,
    /// How many leading active rows are factored.
    k: usize,
    /// The row being orthogonalised.
    v: Vec<f64>,
}

impl Basis {
    fn new(n: usize) -> Basis {
        Basis {
            n,
            q: vec![0.0; n * n],
            r: vec![0.0; n * n],
            k: 0,
            v: vec![0.0; n],
        }
    }

    fn q(&self, l: usize) -> &[f64] {
        &self.q[l * self.n..(l + 1) * self.n]
    }

    /// Forgets the factors of the active rows from place `j` on.
    fn truncate(&mut self, j: usize) {
        self.k = self.k.min(j);
    }

    /// Factors the active rows not factored yet; `None` when one depends on
    /// the others (its orthogonal part is shorter than [`TOL_BALL_PIVOT`]).
    fn factor(&mut self, rows: &UnitRows, active: &[usize]) -> Option<()> {
        let n = self.n;
        for (j, &i) in active.iter().enumerate().skip(self.k) {
            self.v.copy_from_slice(rows.row(i));
            for l in 0..j {
                self.r[l * n + j] = 0.0;
            }
            orthogonalise(&self.q[..j * n], &mut self.v, |l, c| self.r[l * n + j] += c);
            let len = norm(&self.v);
            if len <= TOL_BALL_PIVOT {
                return None;
            }
            self.r[j * n + j] = len;
            for (qk, vk) in self.q[j * n..(j + 1) * n].iter_mut().zip(&self.v) {
                *qk = vk / len;
            }
            self.k = j + 1;
        }
        Some(())
    }

    /// Writes to `p` the objective `e_r` less its projection onto the
    /// factored rows (twice, as in [`Basis::factor`]).
    fn project_objective(&self, p: &mut [f64]) {
        p.fill(0.0);
        p[self.n - 1] = 1.0;
        orthogonalise(&self.q[..self.k * self.n], p, |_, _| {});
    }

    /// The multipliers `lambda` with `sum_j lambda_j g_{w_j} = e_r`, by back
    /// substitution in `r lambda = q^T e_r`; `None` if not finite.
    fn multipliers(&self) -> Option<Vec<f64>> {
        let n = self.n;
        let mut lambda = vec![0.0; self.k];
        for l in (0..self.k).rev() {
            let tail: f64 = (l + 1..self.k).map(|j| self.r[l * n + j] * lambda[j]).sum();
            lambda[l] = (self.q(l)[n - 1] - tail) / self.r[l * n + l];
        }
        lambda.iter().all(|v| v.is_finite()).then_some(lambda)
    }
}

/// Removes from `v` its components along the orthonormal vectors `q` (`v`'s
/// length each, one after the other), in two passes, which keeps the
/// result orthogonal to them to rounding; `component(l, c)` is told each
/// component `c` removed along vector `l`.
fn orthogonalise(q: &[f64], v: &mut [f64], mut component: impl FnMut(usize, f64)) {
    for _ in 0..2 {
        for (l, q) in q.chunks_exact(v.len()).enumerate() {
            let c = dot(q, v);
            component(l, c);
            for (vk, qk) in v.iter_mut().zip(q) {
                *vk -= c * qk;
            }
        }
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

#[cfg(test)]
mod tests {
    use ndarray::{Array1, Array2};
    use rand::{rngs::StdRng, Rng, SeedableRng};

    use super::*;
    use crate::lp::chebyshev_ball;

    /// The smallest distance from `x` to a hyperplane of `p` (negative
    /// outside): the largest ball at `x` inside `p`.
    fn reach(p: &Polytope, x: &Array1<f64>) -> f64 {
        p.a.rows()
            .into_iter()
            .zip(&p.b)
            .map(|(row, b)| (b - row.dot(x)) / row.dot(&row).sqrt())
            .fold(f64::INFINITY, f64::min)
    }

    /// A random polytope around a random point: the box `[-1, 1]^d`, then
    /// `rows` random cuts at random distances from the point, and a point
    /// strictly inside (the point itself).
    fn random_polytope(rng: &mut StdRng, d: usize, rows: usize) -> (Polytope, Vec<f64>) {
        let x0: Vec<f64> = (0..d).map(|_| rng.random_range(-0.5..0.5)).collect();
        let mut a = Array2::zeros((2 * d + rows, d));
        let mut b = Array1::zeros(2 * d + rows);
        for j in 0..d {
            a[[2 * j, j]] = 1.0;
            a[[2 * j + 1, j]] = -1.0;
            b[2 * j] = 1.0;
            b[2 * j + 1] = 1.0;
        }
        for i in 2 * d..2 * d + rows {
            let scale = rng.random_range(0.01..100.0);
            let row: Vec<f64> = (0..d).map(|_| scale * rng.random_range(-1.0..1.0)).collect();
            let at: f64 = row.iter().zip(&x0).map(|(r, x)| r * x).sum();
            let norm = row.iter().map(|r| r * r).sum::<f64>().sqrt();
            a.row_mut(i).assign(&Array1::from(row));
            b[i] = at + norm * rng.random_range(0.001..0.6);
        }
        (Polytope { a, b }, x0)
    }

    #[test]
    fn closed_forms_cube_simplex_and_a_long_box() {
        for d in [1usize, 2, 3, 5, 8] {
            let simplex = crate::test_support::simplex(d);
            let inside = vec![0.5 / d as f64; d];
            let (centre, r) = chebyshev_ball_inside(&simplex, &inside).unwrap();
            let expected = 1.0 / (d as f64 + (d as f64).sqrt());
            assert!((r - expected).abs() < 1e-14, "d={d} r={r}");
            assert!(centre.iter().all(|&c| (c - expected).abs() < 1e-12));
        }
        // [0, 4] x [0, 1]: radius 1/2, centres on the segment y = 1/2,
        // 1/2 <= x <= 7/2 (not unique).
        let long = Polytope {
            a: ndarray::array![[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]],
            b: ndarray::array![4.0, 0.0, 1.0, 0.0],
        };
        let (centre, r) = chebyshev_ball_inside(&long, &[3.9, 0.05]).unwrap();
        assert!((r - 0.5).abs() < 1e-15);
        assert!((centre[1] - 0.5).abs() < 1e-15 && (0.5..=3.5).contains(&centre[0]));
    }

    #[test]
    fn agrees_with_the_general_lp_on_random_polytopes() {
        let mut rng = StdRng::seed_from_u64(12);
        let mut same_centre = 0;
        for case in 0..600 {
            let d = [2, 3, 4, 6, 8][case % 5];
            let cuts = rng.random_range(1..40);
            let (p, x0) = random_polytope(&mut rng, d, cuts);
            let (c_lp, r_lp) = chebyshev_ball(&p, "random").unwrap().unwrap();
            let (c, r) = chebyshev_ball_inside(&p, &x0).expect("certified");
            // Radii agree to rounding; the centre holds its ball.
            assert!(
                (r - r_lp).abs() <= 1e-12 * (1.0 + r_lp),
                "case {case}: {r} vs {r_lp}"
            );
            assert!(reach(&p, &c) >= r - 1e-13, "case {case}");
            if (&c - &c_lp).iter().all(|v| v.abs() <= 1e-9) {
                same_centre += 1;
            }
        }
        // Random cuts make the optimum unique almost always: the centres
        // agree there too.
        assert!(same_centre >= 590, "{same_centre}");
    }

    #[test]
    fn declines_what_it_cannot_certify() {
        let cube = Polytope {
            a: ndarray::array![[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]],
            b: ndarray::array![1.0, 1.0, 1.0, 1.0],
        };
        // A start on the boundary, outside, or of the wrong length.
        for start in [vec![1.0, 0.0], vec![2.0, 0.0], vec![0.0]] {
            assert_eq!(chebyshev_ball_inside(&cube, &start), None);
        }
        // An unbounded set (a half-plane) and a zero row.
        let half = Polytope {
            a: ndarray::array![[1.0, 1.0]],
            b: ndarray::array![1.0],
        };
        assert_eq!(chebyshev_ball_inside(&half, &[0.0, 0.0]), None);
        let zero = Polytope {
            a: ndarray::array![[1.0, 0.0], [0.0, 0.0]],
            b: ndarray::array![1.0, 1.0],
        };
        assert_eq!(chebyshev_ball_inside(&zero, &[0.0, 0.0]), None);
    }
}
