//! A dense two-phase simplex method over exact rationals, with Bland's rule
//! (which cannot cycle): small programs only, decided without rounding.

use num_rational::BigRational;
use num_traits::{One, Signed, Zero};

/// An exact rational number.
pub(crate) type Q = BigRational;

/// The outcome of [`maximize`].
pub(crate) enum Exact {
    /// An optimal point.
    Optimal(Vec<Q>),
    /// No point satisfies the constraints.
    Infeasible,
    /// The objective grows without bound.
    Unbounded,
}

/// A tableau in standard form: `rows` hold the coefficients of every column
/// then the right-hand side (kept non-negative); `basis[i]` is the basic
/// column of row `i`.
struct Tableau {
    rows: Vec<Vec<Q>>,
    basis: Vec<usize>,
    /// Columns that may enter the basis (artificial columns leave for good).
    allowed: Vec<bool>,
}

/// Maximises `c . x` subject to `a x <= b` over free variables `x`.
pub(crate) fn maximize(c: &[Q], a: &[Vec<Q>], b: &[Q]) -> Exact {
    let (n, m) = (c.len(), a.len());
    // Columns: x+ (n), x- (n), one slack per row, one artificial per row
    // whose right-hand side is negative.
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

    /// The objective `cost` at the current basic solution.
    fn value(&self, cost: &[Q]) -> Q {
        let w = self.width();
        self.rows
            .iter()
            .zip(&self.basis)
            .fold(Q::zero(), |acc, (row, &col)| acc + &cost[col] * &row[w])
    }

    /// Pivots until `cost` is optimal (true) or unbounded (false).
    fn optimise(&mut self, cost: &[Q]) -> bool {
        while let Some(enter) = self.entering(cost) {
            match self.leaving(enter) {
                Some(row) => self.pivot(row, enter),
                None => return false,
            }
        }
        true
    }

    /// Bland's rule: the lowest allowed column with a positive reduced cost.
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

    /// The ratio test; ties go to the lowest basic column (Bland's rule).
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

    /// After a feasible phase 1: artificial columns leave the basis (at
    /// value zero) or, when their row has no other entry, the row goes (it
    /// repeats others); then they may never enter again.
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

#[cfg(test)]
mod tests {
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
}
