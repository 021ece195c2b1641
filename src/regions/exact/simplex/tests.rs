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
    for case in 0..500 {
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
    assert!(seen.iter().all(|&k| k >= 25), "outcomes {seen:?}");
}

/// The rational two-phase simplex this module replaced (each operation
/// normalised by a gcd; the same columns, phases and rules, written more
/// compactly): the oracle the fraction-free tableau must agree with, pivot
/// for pivot and so point for point.
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
        let artificials = b.iter().filter(|v| v.is_negative()).count();
        let width = 2 * n + m + artificials;
        let mut tab = Tableau {
            rows: Vec::new(),
            basis: Vec::new(),
            allowed: vec![true; width],
        };
        // Rows with a negative right-hand side are negated and get the next
        // artificial column as their basic one.
        let mut next = 2 * n + m;
        for (i, (coefficients, bound)) in a.iter().zip(b).enumerate() {
            let s = if bound.is_negative() { -Q::one() } else { Q::one() };
            let plus = coefficients.iter().map(|v| v * &s);
            let mut row: Vec<Q> = plus.clone().chain(plus.map(|v| -v)).collect();
            row.resize(width + 1, Q::zero());
            row[2 * n + i] = s.clone();
            row[width] = bound * &s;
            if s.is_negative() {
                row[next] = Q::one();
                tab.basis.push(next);
                next += 1;
            } else {
                tab.basis.push(2 * n + i);
            }
            tab.rows.push(row);
        }
        let artificial = |j: usize| j >= 2 * n + m;
        if artificials > 0 {
            let phase1: Vec<Q> = (0..width)
                .map(|j| if artificial(j) { -Q::one() } else { Q::zero() })
                .collect();
            let feasible = tab.optimise(&phase1) && !tab.value(&phase1).is_negative();
            if !feasible {
                return Exact::Infeasible;
            }
            tab.drive_out(artificial);
        }
        let mut phase2 = vec![Q::zero(); width];
        phase2[..n].clone_from_slice(c);
        phase2[n..2 * n].iter_mut().zip(c).for_each(|(p, v)| *p = -v);
        if tab.optimise(&phase2) {
            Exact::Optimal(tab.point(n))
        } else {
            Exact::Unbounded
        }
    }

    impl Tableau {
        fn rhs(&self, i: usize) -> &Q {
            &self.rows[i][self.allowed.len()]
        }

        /// `x = x+ - x-` at the current basic solution.
        fn point(&self, n: usize) -> Vec<Q> {
            let mut x = vec![Q::zero(); n];
            for (i, &col) in self.basis.iter().enumerate() {
                match col {
                    _ if col < n => x[col] += self.rhs(i),
                    _ if col < 2 * n => x[col - n] -= self.rhs(i),
                    _ => {}
                }
            }
            x
        }

        fn value(&self, cost: &[Q]) -> Q {
            (0..self.rows.len())
                .map(|i| &cost[self.basis[i]] * self.rhs(i))
                .sum()
        }

        fn optimise(&mut self, cost: &[Q]) -> bool {
            loop {
                let Some(enter) = self.entering(cost) else {
                    return true;
                };
                let Some(r) = self.leaving(enter) else {
                    return false;
                };
                self.pivot(r, enter);
            }
        }

        /// Bland: the lowest allowed column whose reduced cost is positive.
        fn entering(&self, cost: &[Q]) -> Option<usize> {
            (0..self.allowed.len()).find(|&j| {
                let priced: Q = (0..self.rows.len())
                    .map(|i| &cost[self.basis[i]] * &self.rows[i][j])
                    .sum();
                self.allowed[j] && (&cost[j] - priced).is_positive()
            })
        }

        /// The smallest ratio, ties to the lowest basic column.
        fn leaving(&self, enter: usize) -> Option<usize> {
            (0..self.rows.len())
                .filter(|&i| self.rows[i][enter].is_positive())
                .map(|i| (self.rhs(i) / &self.rows[i][enter], self.basis[i], i))
                .min_by(|x, y| (&x.0, x.1).cmp(&(&y.0, y.1)))
                .map(|(_, _, i)| i)
        }

        fn pivot(&mut self, r: usize, enter: usize) {
            let p = self.rows[r][enter].clone();
            let pivot_row: Vec<Q> = self.rows[r].iter().map(|v| v / &p).collect();
            for row in &mut self.rows {
                let factor = row[enter].clone();
                row.iter_mut()
                    .zip(&pivot_row)
                    .for_each(|(v, pv)| *v -= &factor * pv);
            }
            self.rows[r] = pivot_row;
            self.basis[r] = enter;
        }

        /// Artificials basic at zero leave; a row with nothing else (a
        /// repeated one) is dropped; artificials never enter again.
        fn drive_out(&mut self, artificial: impl Fn(usize) -> bool) {
            let mut dropped = Vec::new();
            for i in 0..self.rows.len() {
                if artificial(self.basis[i]) {
                    let other =
                        (0..self.allowed.len()).find(|&j| !artificial(j) && !self.rows[i][j].is_zero());
                    match other {
                        Some(j) => self.pivot(i, j),
                        None => dropped.push(i),
                    }
                }
            }
            for &i in dropped.iter().rev() {
                self.rows.remove(i);
                self.basis.remove(i);
            }
            for (j, allowed) in self.allowed.iter_mut().enumerate() {
                *allowed = !artificial(j);
            }
        }
    }
}
