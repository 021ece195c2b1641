//! The arithmetic of one vertex of the walk in [`vertices`](super::vertices),
//! on flat buffers reused from vertex to vertex: the basis inverse (by
//! Gauss-Jordan elimination, or pivoted from the vertex that found this
//! one), the vertex it gives, every row's rate along each of its edges (from
//! the inverse, or pivoted with it) and the first row met along each edge.
//!
//! The walk visits hundreds of vertices per region in 6 to 8 dimensions, so
//! the small arrays of a vertex (a `d x d` inverse, `d` edges) cost more in
//! allocation and bookkeeping than in arithmetic when each is a fresh
//! `ndarray`; here none is allocated but the vertex's point. A fresh inverse
//! and its point come out bit for bit as [`crate::linalg::invert`] and
//! `ndarray`'s products give them; a pivot costs `O(d^2)` for the inverse
//! and `O(d)` per row for the rates, against `O(d^3)` and `O(d^2)` afresh.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

use ndarray::Array1;

use crate::linalg::invert_in_place;
use crate::tol::TOL_LP_FEAS;

/// The buffers of one walk in `d` dimensions, and the inverse of the basis
/// of the vertex last computed.
pub(super) struct Step {
    d: usize,
    /// The basis rows, then scratch for the elimination.
    matrix: Vec<f64>,
    /// The basis's inverse, row-major: column `j` is minus the edge that
    /// leaves the basis's row `j`.
    inverse: Vec<f64>,
    /// The basis rows' offsets.
    rhs: Vec<f64>,
    /// A pivot's entering row: its products with the columns of the inverse
    /// pivoted from.
    entering: Vec<f64>,
    /// Per edge, the rate up to which a row counts as parallel.
    parallel: Vec<f64>,
    /// Per edge, the first row met so far and when.
    best: Vec<Option<(usize, f64)>>,
}

impl Step {
    /// Buffers for `d >= 1` dimensions.
    pub(super) fn new(d: usize) -> Step {
        debug_assert!(d >= 1, "a vertex walk needs a dimension");
        Step {
            d,
            matrix: vec![0.0; d * d],
            inverse: vec![0.0; d * d],
            rhs: vec![0.0; d],
            entering: vec![0.0; d],
            parallel: vec![0.0; d],
            best: vec![None; d],
        }
    }

    /// The vertex where the rows `basis` of the row-major unit rows `u`
    /// (offsets `beta`) are tight; `None` when they are (nearly) dependent.
    pub(super) fn vertex(&mut self, u: &[f64], beta: &[f64], basis: &[usize]) -> Option<Array1<f64>> {
        let d = self.d;
        for (i, &k) in basis.iter().enumerate() {
            self.matrix[i * d..(i + 1) * d].copy_from_slice(&u[k * d..(k + 1) * d]);
            self.rhs[i] = beta[k];
        }
        if !invert_in_place(&mut self.matrix, &mut self.inverse, d) {
            return None;
        }
        Some(self.point())
    }

    /// The vertex where the rows `basis` (offsets `beta`) are tight, from
    /// the basis inverse that [`Step::pivot`] left.
    pub(super) fn vertex_pivoted(&mut self, beta: &[f64], basis: &[usize]) -> Array1<f64> {
        for (i, &k) in basis.iter().enumerate() {
            self.rhs[i] = beta[k];
        }
        self.point()
    }

    /// The inverse times the basis rows' offsets, row by row as `ndarray`
    /// multiplies a matrix and a vector.
    fn point(&self) -> Array1<f64> {
        self.inverse
            .chunks_exact(self.d)
            .map(|row| ndarray_dot(row, &self.rhs))
            .collect()
    }

    /// The basis inverse of the vertex last computed (row-major).
    pub(super) fn inverse(&self) -> &[f64] {
        &self.inverse
    }

    /// The rates of every row of `u` along the edges of the vertex last
    /// computed, from its inverse, written to `rates` (`d` per row): row
    /// `k`'s rate along the edge that leaves basis row `j` is `-u_k . C_j`
    /// for column `C_j` of the inverse, `O(d^2)` per row.
    pub(super) fn rates_of(&self, u: &[f64], rates: &mut [f64]) {
        let d = self.d;
        for (row, out) in u.chunks_exact(d).zip(rates.chunks_exact_mut(d)) {
            out.fill(0.0);
            for (&ukl, inv_row) in row.iter().zip(self.inverse.chunks_exact(d)) {
                for (rate, &v) in out.iter_mut().zip(inv_row) {
                    *rate -= ukl * v;
                }
            }
        }
    }

    /// The neighbouring vertex's inverse (kept in `self`) and rows' rates
    /// (written to `rates_out`), from a vertex's `inverse` and `rates`, when
    /// its basis row `drop` leaves and row `entering` takes position `at` of
    /// the new (ascending) basis: a pivot of the simplex method, `O(d^2)` for
    /// the inverse and `O(d)` per row instead of `O(d^3)` and `O(d^2)`.
    ///
    /// The entering row was met along edge `drop` ([`Step::edge_hits`]), so
    /// its rate there, the pivot, is above [`TOL_LP_FEAS`] times the edge's
    /// length and never zero; whether the pivoted inverse is accurate enough
    /// is the walk's to check, by the basis rows' slacks at the vertex.
    pub(super) fn pivot(
        &mut self,
        (inverse, rates): (&[f64], &[f64]),
        (entering, drop, at): (usize, usize, usize),
        rates_out: &mut [f64],
    ) {
        let d = self.d;
        // w[i] = u_entering . C_i = -(entering row's rate along edge i).
        let w = &mut self.entering;
        for (wi, &rate) in w.iter_mut().zip(&rates[entering * d..(entering + 1) * d]) {
            *wi = -rate;
        }
        debug_assert!(w[drop] != 0.0, "the entering row was met along the edge");
        // Column `drop` over the pivot becomes the entering row's column;
        // every other column loses its multiple of it. A row's rates are its
        // products with the columns, so they change the same way.
        pivot_rows(inverse, w, (drop, at), &mut self.inverse);
        pivot_rows(rates, w, (drop, at), rates_out);
    }

    /// For each edge of the vertex last computed, the first row (not
    /// `skip`ped) that it meets, given the rows' `slack` there and `rates`
    /// (as [`Step::rates_of`] gives them), written to `hits`; false when an
    /// edge meets none (the set is unbounded). A row whose rate along an
    /// edge is at most [`TOL_LP_FEAS`] times the edge's length (which bounds
    /// the rate of every unit row) counts as parallel to it; ties go to the
    /// lower row.
    pub(super) fn edge_hits(
        &mut self,
        rates: &[f64],
        slack: &[f64],
        skip: &[bool],
        hits: &mut Vec<usize>,
    ) -> bool {
        let d = self.d;
        for (j, limit) in self.parallel.iter_mut().enumerate() {
            let length = (0..d)
                .map(|l| self.inverse[l * d + j].powi(2))
                .sum::<f64>()
                .sqrt();
            *limit = TOL_LP_FEAS * length;
        }
        self.best.fill(None);
        for (k, (row_rates, (&s, &skipped))) in rates.chunks_exact(d).zip(slack.iter().zip(skip)).enumerate()
        {
            if skipped {
                continue;
            }
            let s = s.max(0.0);
            for ((slot, &rate), &limit) in self.best.iter_mut().zip(row_rates).zip(&self.parallel) {
                if rate <= limit {
                    continue;
                }
                let t = s / rate;
                if slot.is_none_or(|(_, b)| t < b) {
                    *slot = Some((k, t));
                }
            }
        }
        hits.clear();
        for b in &self.best {
            match b {
                Some((k, _)) => hits.push(*k),
                None => return false,
            }
        }
        true
    }
}

/// One pivot applied to rows of products with the basis inverse's columns
/// (`src`, `d` per row; `w` the entering row's products): entry `drop`
/// over `w[drop]` moves to position `at`, and every other entry `i` loses
/// `w[i]` times it, keeping its order among the others.
fn pivot_rows(src: &[f64], w: &[f64], (drop, at): (usize, usize), out: &mut [f64]) {
    let d = w.len();
    for (row, out_row) in src.chunks_exact(d).zip(out.chunks_exact_mut(d)) {
        let entered = row[drop] / w[drop];
        for ((o, &v), &wi) in out_row.iter_mut().zip(row).zip(w) {
            *o = v - wi * entered;
        }
        out_row[drop] = entered;
        // Entry `drop` to position `at`, the others keeping their order.
        if at < drop {
            out_row[at..=drop].rotate_right(1);
        } else {
            out_row[drop..=at].rotate_left(1);
        }
    }
}

/// The dot product of two slices of equal length, in the order `ndarray`'s
/// `dot` sums contiguous vectors (eight running sums over blocks of eight,
/// added in pairs, then up to seven products one by one), so that the bits
/// agree with the `ndarray` products the walk was written against, without
/// the cost of a view and a dispatch per row.
pub(super) fn ndarray_dot(x: &[f64], y: &[f64]) -> f64 {
    debug_assert_eq!(x.len(), y.len());
    let blocks = x.len() / 8 * 8;
    let mut p = [0.0f64; 8];
    for (xb, yb) in x[..blocks].chunks_exact(8).zip(y[..blocks].chunks_exact(8)) {
        for ((acc, &a), &b) in p.iter_mut().zip(xb).zip(yb) {
            *acc += a * b;
        }
    }
    let mut sum = 0.0;
    for j in 0..4 {
        sum += p[j] + p[j + 4];
    }
    for (&a, &b) in x[blocks..].iter().zip(&y[blocks..]) {
        sum += a * b;
    }
    sum
}

/// The bases seen by a walk (sorted row positions).
pub(super) type Bases = HashSet<Vec<usize>, BuildHasherDefault<BasisHasher>>;

/// A multiply-rotate hash of small integers: a basis is a handful of row
/// positions, for which the default (DoS-resistant) hasher costs more than
/// the lookup; the keys come from the walk, not from outside.
#[derive(Default)]
pub(super) struct BasisHasher(u64);

impl BasisHasher {
    /// Mixes one word into the state.
    fn add(&mut self, word: u64) {
        const MIX: u64 = 0x517c_c1b7_2722_0a95;
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(MIX);
    }
}

impl Hasher for BasisHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // A basis arrives here whole (a slice of integers hashes as its
        // bytes): whole words first, without a copy of variable length each.
        let words = bytes.chunks_exact(8);
        let tail = words.remainder();
        for word in words {
            let mut le = [0u8; 8];
            le.copy_from_slice(word);
            self.add(u64::from_le_bytes(le));
        }
        if !tail.is_empty() {
            let mut word = [0u8; 8];
            word[..tail.len()].copy_from_slice(tail);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_finds_the_corner_of_a_square_and_its_edges() {
        // Rows x <= 1, y <= 1, -x <= 0, -y <= 0, x + y <= 1.5 (unit); the
        // corner of rows 0 and 1 is (1, 1), outside x + y <= 1.5, so take
        // the corner (1, 0.5) of rows 0 and 4 instead.
        let r = std::f64::consts::FRAC_1_SQRT_2;
        let u = [1.0, 0.0, 0.0, 1.0, -1.0, 0.0, 0.0, -1.0, r, r];
        let beta = [1.0, 1.0, 0.0, 0.0, 1.5 * r];
        let mut step = Step::new(2);
        let point = step.vertex(&u, &beta, &[0, 4]).unwrap();
        assert!((point[0] - 1.0).abs() < 1e-15 && (point[1] - 0.5).abs() < 1e-15);
        let slack: Vec<f64> = u
            .chunks_exact(2)
            .zip(beta)
            .map(|(row, b)| b - row[0] * point[0] - row[1] * point[1])
            .collect();
        let skip = [true, false, false, false, true];
        // Leaving x <= 1 along x + y = 1.5 reaches y <= 1 at (0.5, 1);
        // leaving x + y <= 1.5 down the side x = 1 reaches y >= 0.
        let mut hits = Vec::new();
        let mut rates = vec![0.0; u.len()];
        step.rates_of(&u, &mut rates);
        assert!(step.edge_hits(&rates, &slack, &skip, &mut hits));
        assert_eq!(hits, vec![1, 3]);
        assert!(step.vertex(&u, &beta, &[0, 2]).is_none(), "parallel rows");
    }

    #[test]
    fn ndarray_dot_has_ndarrays_bits() {
        // Lengths around the blocks of eight, with entries of mixed signs
        // and scales so that the order of the sums shows in the last bits.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        for len in 0..=40 {
            for _ in 0..20 {
                let x: Vec<f64> = (0..len).map(|i| next() * 10f64.powi(i % 7 - 3)).collect();
                let y: Vec<f64> = (0..len).map(|_| next()).collect();
                let want = ndarray::ArrayView1::from(&x[..]).dot(&ndarray::ArrayView1::from(&y[..]));
                assert_eq!(ndarray_dot(&x, &y).to_bits(), want.to_bits(), "length {len}");
            }
        }
    }

    #[test]
    fn basis_hasher_tells_bases_apart() {
        let mut seen = Bases::default();
        for a in 0..40 {
            for b in a + 1..40 {
                assert!(seen.insert(vec![a, b]));
            }
        }
        assert!(seen.contains(&[3usize, 17][..]));
        assert!(!seen.contains(&[17usize, 3][..]));
        assert_eq!(seen.len(), 40 * 39 / 2);
    }
}
