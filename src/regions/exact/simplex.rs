//! A dense two-phase simplex method in exact integer arithmetic, with
//! Bland's rule (which cannot cycle): small programs only, decided without
//! rounding.
//!
//! The tableau is fraction-free (integer pivoting, as in Bareiss'
//! elimination): each constraint row is scaled to integers once, and the
//! tableau is kept as integers `T` over one positive common denominator
//! `det` (the determinant of the current basis), the rational tableau being
//! `T / det`. A pivot on `T[r][s]` computes every other entry as
//! `(T[i][j] T[r][s] - T[i][s] T[r][j]) / det`, a division that is exact
//! (both sides are minors of the integer matrix, by Cramer's rule), and
//! makes `T[r][s]` the new `det`. No rational is ever normalised (no gcd):
//! normalising after every operation made programs with extreme `f64`
//! values, whose exact integers run to thousands of bits, cost seconds.
//!
//! The scalings are positive per row (a row's slack is scaled with it) and
//! per objective, so every sign and every ratio the rules compare is the one
//! the rational tableau would give: the pivots, and so the point returned,
//! are the same.

use num_bigint::BigInt;
use num_integer::Integer;
use num_rational::BigRational;
use num_traits::{One, Signed, Zero};

/// An exact rational number.
pub(crate) type Q = BigRational;

/// The outcome of [`maximize`].
#[derive(Debug, PartialEq)]
pub(crate) enum Exact {
    /// An optimal point.
    Optimal(Vec<Q>),
    /// No point satisfies the constraints.
    Infeasible,
    /// The objective grows without bound.
    Unbounded,
}

/// A fraction-free tableau in standard form: `rows[i] / det` holds the
/// coefficients of every column then the right-hand side (kept
/// non-negative); `basis[i]` is the basic column of row `i`.
struct Tableau {
    rows: Vec<Vec<BigInt>>,
    /// `det` times the reduced costs negated (`c_B B^-1 A - c`), then the
    /// objective's value: a column may enter where its entry is negative.
    objective: Vec<BigInt>,
    /// The common denominator, always positive.
    det: BigInt,
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
        objective: Vec::new(),
        det: BigInt::one(),
        basis: Vec::with_capacity(m),
        allowed: vec![true; width],
    };
    // Artificial `k`'s phase-1 weight is `1 / scale` of its row (times a
    // common multiple), so that phase 1 minimises the same sum as the
    // rational method's unscaled artificials.
    let mut scales = Vec::with_capacity(negative.len());
    for i in 0..m {
        let (ints, scale) = integers(a[i].iter().chain([&b[i]]));
        let flip = b[i].is_negative();
        let sign = |v: &BigInt| if flip { -v } else { v.clone() };
        let mut row = vec![BigInt::zero(); width + 1];
        for j in 0..n {
            row[j] = sign(&ints[j]);
            row[n + j] = -&row[j];
        }
        row[2 * n + i] = sign(&BigInt::one());
        row[width] = sign(&ints[n]);
        let basic = match negative.iter().position(|&k| k == i) {
            Some(k) => {
                row[2 * n + m + k] = BigInt::one();
                scales.push(scale);
                2 * n + m + k
            }
            None => 2 * n + i,
        };
        tab.rows.push(row);
        tab.basis.push(basic);
    }
    let artificial = |j: usize| j >= 2 * n + m;
    if !negative.is_empty() {
        let common = scales.iter().fold(BigInt::one(), |acc, s| acc.lcm(s));
        let mut phase1 = vec![BigInt::zero(); width];
        for (k, s) in scales.iter().enumerate() {
            phase1[2 * n + m + k] = -(&common / s);
        }
        tab.price(&phase1);
        if !tab.optimise() || tab.objective[width].is_negative() {
            return Exact::Infeasible;
        }
        // Phase 2 prices its own objective row: none is carried through the
        // pivots that drive the artificials out.
        tab.objective.clear();
        tab.drive_out(artificial);
    }
    let (ints, _) = integers(c.iter());
    let mut phase2 = vec![BigInt::zero(); width];
    for j in 0..n {
        phase2[n + j] = -&ints[j];
        phase2[j] = ints[j].clone();
    }
    tab.price(&phase2);
    if !tab.optimise() {
        return Exact::Unbounded;
    }
    let mut x = vec![Q::zero(); n];
    for (row, &col) in tab.rows.iter().zip(&tab.basis) {
        let value = || Q::new(row[width].clone(), tab.det.clone());
        if col < n {
            x[col] += value();
        } else if col < 2 * n {
            x[col - n] -= value();
        }
    }
    Exact::Optimal(x)
}

/// The values times their denominators' least common multiple (positive),
/// and that multiple.
fn integers<'a>(values: impl Iterator<Item = &'a Q> + Clone) -> (Vec<BigInt>, BigInt) {
    let scale = values.clone().fold(BigInt::one(), |acc, v| acc.lcm(v.denom()));
    let ints = values.map(|v| v.numer() * (&scale / v.denom())).collect();
    (ints, scale)
}

/// `(row[j] p - f pivot[j]) / det` for every `j`, with `f = row[s]` and `p`
/// the pivot: one row of a fraction-free pivot (the division is exact).
fn eliminate(row: &mut [BigInt], pivot: &[BigInt], s: usize, p: &BigInt, det: &BigInt) {
    let f = row[s].clone();
    if f.is_zero() && p == det {
        return;
    }
    for (v, pv) in row.iter_mut().zip(pivot) {
        let scaled = &*v * p;
        let num = if f.is_zero() || pv.is_zero() {
            scaled
        } else {
            scaled - &f * pv
        };
        *v = exact_div(num, det);
    }
}

/// `num / det`, which the pivoting guarantees to be an integer.
fn exact_div(num: BigInt, det: &BigInt) -> BigInt {
    if num.is_zero() || det.is_one() {
        return num;
    }
    let (q, r) = num.div_rem(det);
    assert!(r.is_zero(), "a fraction-free pivot left a remainder");
    q
}

impl Tableau {
    fn width(&self) -> usize {
        self.allowed.len()
    }

    /// Sets the objective row for `cost` (integers) at the current basis:
    /// `c_B T[.][j] - det c_j` for every column, `c_B T[.][rhs]` last.
    fn price(&mut self, cost: &[BigInt]) {
        let w = self.width();
        self.objective = (0..=w)
            .map(|j| {
                let own = cost.get(j).map_or_else(BigInt::zero, |c| -(c * &self.det));
                self.rows
                    .iter()
                    .zip(&self.basis)
                    .filter(|&(_, &col)| !cost[col].is_zero())
                    .fold(own, |acc, (row, &col)| acc + &cost[col] * &row[j])
            })
            .collect();
    }

    /// Pivots until the objective is optimal (true) or unbounded (false).
    fn optimise(&mut self) -> bool {
        while let Some(enter) = self.entering() {
            match self.leaving(enter) {
                Some(row) => self.pivot(row, enter),
                None => return false,
            }
        }
        true
    }

    /// Bland's rule: the lowest allowed column with a positive reduced cost.
    fn entering(&self) -> Option<usize> {
        (0..self.width()).find(|&j| self.allowed[j] && self.objective[j].is_negative())
    }

    /// The ratio test; ties go to the lowest basic column (Bland's rule).
    /// Ratios `T[i][rhs] / T[i][enter]` (the common `det` cancels) are
    /// compared by cross-multiplying positive denominators.
    fn leaving(&self, enter: usize) -> Option<usize> {
        let w = self.width();
        let mut best: Option<usize> = None;
        for (i, row) in self.rows.iter().enumerate() {
            if !row[enter].is_positive() {
                continue;
            }
            let better = match best {
                None => true,
                Some(k) => {
                    let other = &self.rows[k];
                    let (mine, theirs) = (&row[w] * &other[enter], &other[w] * &row[enter]);
                    mine < theirs || (mine == theirs && self.basis[i] < self.basis[k])
                }
            };
            if better {
                best = Some(i);
            }
        }
        best
    }

    /// Pivots on `T[r][enter]`; a negative pivot (only when driving out
    /// artificials) negates the whole tableau so that `det` stays positive.
    fn pivot(&mut self, r: usize, enter: usize) {
        let pivot_row = std::mem::take(&mut self.rows[r]);
        let p = pivot_row[enter].clone();
        for row in self.rows.iter_mut().chain([&mut self.objective]) {
            // Empty: the pivot row itself (taken out above), or an objective
            // that is not kept between the phases.
            if !row.is_empty() {
                eliminate(row, &pivot_row, enter, &p, &self.det);
            }
        }
        self.rows[r] = pivot_row;
        self.basis[r] = enter;
        self.det = p;
        if self.det.is_negative() {
            let all = self.rows.iter_mut().chain([&mut self.objective]);
            all.flatten().for_each(|v| *v = -&*v);
            self.det = -&self.det;
        }
    }

    /// After a feasible phase 1: artificial columns leave the basis (at
    /// value zero) or, when their row has no other entry, the row goes (it
    /// repeats others; no later pivot reads it, so the others stay exact);
    /// then they may never enter again.
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
mod tests;
