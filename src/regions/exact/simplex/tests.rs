use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;

fn q(v: i64) -> Q {
    Q::from_integer(v.into())
}

fn qs(v: &[i64]) -> Vec<Q> {
    v.iter().map(|&x| q(x)).collect()
}

#[test]
fn solves_a_small_program_exactly() {
    // max x + y s.t. x + 2y <= 4, 3x + y <= 6, x >= 0, y >= 0: (8/5, 6/5).
    let a = vec![qs(&[1, 2]), qs(&[3, 1]), qs(&[-1, 0]), qs(&[0, -1])];
    let Exact::Optimal(x) = maximize(&qs(&[1, 1]), &a, &qs(&[4, 6, 0, 0])) else {
        panic!("optimal expected")
    };
    assert_eq!(x, vec![Q::new(8.into(), 5.into()), Q::new(6.into(), 5.into())]);
}

#[test]
fn negative_right_hand_sides_and_free_variables() {
    // max -x s.t. x >= 3 (as -x <= -3), x <= 5: x = 3; then x <= 2 too: empty.
    let a = vec![qs(&[-1]), qs(&[1])];
    let Exact::Optimal(x) = maximize(&qs(&[-1]), &a, &qs(&[-3, 5])) else {
        panic!("optimal expected")
    };
    assert_eq!(x, qs(&[3]));
    let a = vec![qs(&[-1]), qs(&[1])];
    assert!(matches!(
        maximize(&qs(&[1]), &a, &qs(&[-3, 2])),
        Exact::Infeasible
    ));
    // max x with only x >= -1: unbounded; over a free variable below zero.
    assert!(matches!(
        maximize(&qs(&[1]), &[qs(&[-1])], &qs(&[1])),
        Exact::Unbounded
    ));
    let Exact::Optimal(x) = maximize(&qs(&[1]), &[qs(&[1])], &qs(&[-7])) else {
        panic!("optimal expected")
    };
    assert_eq!(x, qs(&[-7]));
}

#[test]
fn degenerate_and_repeated_rows_terminate() {
    // Three rows through the optimum (1, 1), one repeated with a negative
    // right-hand side scaled: x <= 1, y <= 1, x + y <= 2, -2x <= -2.
    let a = vec![qs(&[1, 0]), qs(&[0, 1]), qs(&[1, 1]), qs(&[-2, 0]), qs(&[-2, 0])];
    let Exact::Optimal(x) = maximize(&qs(&[1, 1]), &a, &qs(&[1, 1, 2, -2, -2])) else {
        panic!("optimal expected")
    };
    assert_eq!(x, qs(&[1, 1]));
}

#[test]
fn a_negative_pivot_while_driving_out_keeps_the_answer() {
    // x = 1 as -x <= -1 and x <= 1: phase 1 ends with the artificial basic at
    // zero in a row reading -1 under the first slack, so driving it out
    // pivots on a negative entry (the tableau's sign flips).
    let a = vec![qs(&[-1]), qs(&[1])];
    for (c, v) in [(1, 1), (-1, 1)] {
        let Exact::Optimal(x) = maximize(&qs(&[c]), &a, &qs(&[-1, 1])) else {
            panic!("optimal expected")
        };
        assert_eq!(x, qs(&[v]));
    }
}

/// A random `f64` entry: small integers (with many zeros and repeats, so
/// degenerate vertices and parallel rows are common), halves, or an extreme
/// dyadic (up to `2^±300`, subnormals' scale included in a few).
fn entry(rng: &mut StdRng) -> f64 {
    let sign = if rng.random_bool(0.5) { -1.0 } else { 1.0 };
    match rng.random_range(0..10) {
        0..=4 => f64::from(rng.random_range(-3_i32..=3)),
        5 | 6 => f64::from(rng.random_range(-9_i32..=9)) / 2.0,
        7 => sign * rng.random_range(1.0..2.0) * 2f64.powi(rng.random_range(-300..=300)),
        8 => sign * f64::from(rng.random_range(1_u32..1 << 20)) * 2f64.powi(-1074 + 40),
        _ => sign * rng.random_range(0.0..1.0),
    }
}

/// A random program `max c.x, a x <= b` of 1-3 variables and 1-6 rows; a
/// third of them get the interior test's shape (a last column of ones and
/// a cap `t <= 1`), which is how [`super::super::interior`] calls it.
fn program(rng: &mut StdRng) -> (Vec<Q>, Vec<Vec<Q>>, Vec<Q>) {
    let exact = |v: f64| Q::from_float(v).expect("finite");
    let n = rng.random_range(1..=3);
    let m = rng.random_range(1..=6);
    let shaped = rng.random_range(0..3) == 0;
    let mut a: Vec<Vec<Q>> = (0..m)
        .map(|_| {
            (0..n)
                .map(|j| exact(if shaped && j == n - 1 { 1.0 } else { entry(rng) }))
                .collect()
        })
        .collect();
    let mut b: Vec<Q> = (0..m).map(|_| exact(entry(rng))).collect();
    if m > 1 && rng.random_range(0..4) == 0 {
        // A repeated row, scaled: redundant equalities for phase 1.
        let k = rng.random_range(2..=4);
        a.push(a[0].iter().map(|v| v * q(k)).collect());
        b.push(&b[0] * q(k));
    }
    let mut c: Vec<Q> = (0..n).map(|_| exact(entry(rng))).collect();
    if shaped {
        let mut cap = vec![Q::zero(); n];
        cap[n - 1] = q(1);
        a.push(cap.clone());
        b.push(q(1));
        c = cap;
    }
    (c, a, b)
}

#[test]
fn matches_the_rational_simplex_on_random_programs() {
    let mut rng = StdRng::seed_from_u64(0x51_3c1e);
    let mut seen = [0usize; 3];
    for case in 0..1500 {
        let (c, a, b) = program(&mut rng);
        let new = maximize(&c, &a, &b);
        let old = oracle::maximize(&c, &a, &b);
        assert_eq!(new, old, "case {case}: c {c:?}, a {a:?}, b {b:?}");
        let kind = match &new {
            Exact::Optimal(x) => {
                // Feasible, checked directly.
                for (row, bound) in a.iter().zip(&b) {
                    let lhs = row.iter().zip(x).fold(Q::zero(), |acc, (u, v)| acc + u * v);
                    assert!(lhs <= *bound, "case {case}: row violated");
                }
                0
            }
            Exact::Infeasible => 1,
            Exact::Unbounded => 2,
        };
        seen[kind] += 1;
    }
    // Every outcome is exercised, not only optimal points.
    assert!(seen.iter().all(|&k| k >= 50), "outcomes {seen:?}");
}

/// The rational two-phase simplex this module replaced (each operation
/// normalised by a gcd): the oracle the fraction-free tableau must agree
/// with, pivot for pivot and so point for point.
mod oracle {
    use super::{Exact, Q};
    use num_traits::{One, Signed, Zero};

    struct Tableau {
        rows: Vec<Vec<Q>>,
        basis: Vec<usize>,
        allowed: Vec<bool>,
    }

    pub(super) fn maximize(c: &[Q], a: &[Vec<Q>], b: &[Q]) -> Exact {
        let (n, m) = (c.len(), a.len());
        let negative: Vec<usize> = (0..m).filter(|&i| b[i].is_negative()).collect();
        let width = 2 * n + m + negative.len();
        let mut tab = Tableau {
            rows: Vec::with_capacity(m),
            basis: Vec::with_capacity(m),
            allowed: vec![true; width],
        };
        for i in 0..m {
            let flip = b[i].is_negative();
            let sign = |v: &Q| if flip { -v.clone() } else { v.clone() };
            let mut row = vec![Q::zero(); width + 1];
            for j in 0..n {
                row[j] = sign(&a[i][j]);
                row[n + j] = -sign(&a[i][j]);
            }
            row[2 * n + i] = sign(&Q::one());
            row[width] = sign(&b[i]);
            let basic = match negative.iter().position(|&k| k == i) {
                Some(k) => {
                    row[2 * n + m + k] = Q::one();
                    2 * n + m + k
                }
                None => 2 * n + i,
            };
            tab.rows.push(row);
            tab.basis.push(basic);
        }
        let artificial = |j: usize| j >= 2 * n + m;
        if !negative.is_empty() {
            let phase1: Vec<Q> = (0..width)
                .map(|j| if artificial(j) { -Q::one() } else { Q::zero() })
                .collect();
            if !tab.optimise(&phase1) || tab.value(&phase1).is_negative() {
                return Exact::Infeasible;
            }
            tab.drive_out(artificial);
        }
        let mut phase2 = vec![Q::zero(); width];
        for j in 0..n {
            phase2[j] = c[j].clone();
            phase2[n + j] = -c[j].clone();
        }
        if !tab.optimise(&phase2) {
            return Exact::Unbounded;
        }
        let mut x = vec![Q::zero(); n];
        for (row, &col) in tab.rows.iter().zip(&tab.basis) {
            let rhs = row[width].clone();
            if col < n {
                x[col] += rhs;
            } else if col < 2 * n {
                x[col - n] -= rhs;
            }
        }
        Exact::Optimal(x)
    }

    impl Tableau {
        fn width(&self) -> usize {
            self.allowed.len()
        }

        fn value(&self, cost: &[Q]) -> Q {
            let w = self.width();
            self.rows
                .iter()
                .zip(&self.basis)
                .fold(Q::zero(), |acc, (row, &col)| acc + &cost[col] * &row[w])
        }

        fn optimise(&mut self, cost: &[Q]) -> bool {
            while let Some(enter) = self.entering(cost) {
                match self.leaving(enter) {
                    Some(row) => self.pivot(row, enter),
                    None => return false,
                }
            }
            true
        }

        fn entering(&self, cost: &[Q]) -> Option<usize> {
            (0..self.width()).filter(|&j| self.allowed[j]).find(|&j| {
                let reduced = self
                    .rows
                    .iter()
                    .zip(&self.basis)
                    .fold(cost[j].clone(), |acc, (row, &col)| acc - &cost[col] * &row[j]);
                reduced.is_positive()
            })
        }

        fn leaving(&self, enter: usize) -> Option<usize> {
            let w = self.width();
            let mut best: Option<(usize, Q)> = None;
            for (i, row) in self.rows.iter().enumerate() {
                if !row[enter].is_positive() {
                    continue;
                }
                let ratio = &row[w] / &row[enter];
                let better = match &best {
                    None => true,
                    Some((k, r)) => ratio < *r || (ratio == *r && self.basis[i] < self.basis[*k]),
                };
                if better {
                    best = Some((i, ratio));
                }
            }
            best.map(|(i, _)| i)
        }

        fn pivot(&mut self, r: usize, enter: usize) {
            let p = self.rows[r][enter].clone();
            self.rows[r].iter_mut().for_each(|v| *v = &*v / &p);
            let pivot_row = self.rows[r].clone();
            for (i, row) in self.rows.iter_mut().enumerate() {
                if i == r || row[enter].is_zero() {
                    continue;
                }
                let factor = row[enter].clone();
                for (v, pv) in row.iter_mut().zip(&pivot_row) {
                    if !pv.is_zero() {
                        *v -= &factor * pv;
                    }
                }
            }
            self.basis[r] = enter;
        }

        fn drive_out(&mut self, artificial: impl Fn(usize) -> bool) {
            let w = self.width();
            let mut i = 0;
            while i < self.rows.len() {
                if artificial(self.basis[i]) {
                    match (0..w).find(|&j| !artificial(j) && !self.rows[i][j].is_zero()) {
                        Some(j) => self.pivot(i, j),
                        None => {
                            self.rows.remove(i);
                            self.basis.remove(i);
                            continue;
                        }
                    }
                }
                i += 1;
            }
            for j in 0..w {
                self.allowed[j] = !artificial(j);
            }
        }
    }
}
