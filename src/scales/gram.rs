//! `log det(C^T C)` for a tall matrix `C` whose rows may carry scale factors far
//! outside the range of `f64`, through a Cholesky factorisation of its Gram matrix.
//!
//! The scores scale rows by `1 / p` and `1 / Z`, which overflow for very peaked or
//! very negative logits even when the determinant is moderate. Each row is
//! therefore given as `exp(log_scale) * body`, and each column `j` of `C` is
//! divided by a power of two `2^e_j` near its largest entry before the Gram
//! matrix is formed: `C = C' S` with `S = diag(2^e_j)` and entries of `C'` at
//! most 1, so `log det(C^T C) = log det(C'^T C') + 2 ln 2 sum_j e_j` with no
//! overflow, and powers of two add no rounding. (Rows of very different
//! magnitudes still limit the accuracy, as for any Gram-matrix method: the
//! result loses about `log10(cond(C)^2)` digits.)
//!
//! `C` is never stored row by row: the caller hands over its transpose `C^T`
//! (`d x rows`, standard layout), split into the columns that carry no scale
//! factor (most of them) and the few that do, and the Gram matrix is one
//! matrix product per part (faer GEMM). Scaling the unscaled columns is one
//! multiplication by an exact power of two per latent coordinate.

use std::f64::consts::LN_2;

use faer::linalg::matmul::triangular::{matmul, BlockStructure};
use faer::linalg::triangular_solve::solve_lower_triangular_in_place;
use faer::{Accum, MatMut, MatRef, Par};
use ndarray::{s, Array2, ArrayView2, ArrayViewMut1};

use crate::tol::TOL_GRAM_PIVOT_REL;

/// Exponents beyond this are clamped: their entries are 0 or 1 after scaling anyway.
const MAX_EXPONENT_SHIFT: i64 = 2200;

/// The transpose of a tall matrix `C` (`d x rows`): the rows of `C` that carry
/// no scale factor as the columns of `plain`, and the rows `exp(log_scale[i]) *
/// scaled[.., i]` (scale factors that may lie outside the range of `f64`).
pub(super) struct TransposedRows {
    /// `d x n`, standard layout.
    pub plain: Array2<f64>,
    /// `d x k`, standard layout.
    pub scaled: Array2<f64>,
    /// `k` natural logarithms of the column factors of `scaled`.
    pub log_scale: Vec<f64>,
}

/// The Cholesky factorisation `C'^T C' = L L^T` of the equilibrated Gram
/// matrix, together with the column exponents `e_j` (`C = C' diag(2^e_j)`).
pub(super) struct GramFactor {
    lower: Array2<f64>,
    column_exponent: Vec<i64>,
}

impl GramFactor {
    /// Factors `C^T C`; `None` when `C` lacks full column rank (fewer rows than
    /// columns, a zero column, or a Cholesky pivot at or below
    /// [`TOL_GRAM_PIVOT_REL`] times the row count times the largest diagonal entry).
    pub(super) fn new(rows: TransposedRows) -> Option<GramFactor> {
        let TransposedRows {
            mut plain,
            mut scaled,
            log_scale,
        } = rows;
        let dim = plain.nrows();
        debug_assert_eq!(dim, scaled.nrows());
        debug_assert_eq!(scaled.ncols(), log_scale.len());
        let count = plain.ncols() + scaled.ncols();
        if count < dim || dim == 0 {
            return None;
        }
        let scaled_exponent = split_column_scales(&mut scaled, &log_scale);
        let mut column_exponent = Vec::with_capacity(dim);
        for (plain_row, scaled_row) in plain.rows_mut().into_iter().zip(scaled.rows_mut()) {
            let e = largest_exponent(&plain_row, &scaled_row, &scaled_exponent)?;
            scale_by_power_of_two(plain_row, -e);
            for (v, &se) in scaled_row.into_iter().zip(&scaled_exponent) {
                *v = times_power_of_two(*v, se - e);
            }
            column_exponent.push(e);
        }
        let mut gram = Array2::zeros((dim, dim));
        add_outer_product(&mut gram, &plain);
        add_outer_product(&mut gram, &scaled);
        let lower = cholesky_lower(gram, count)?;
        Some(GramFactor {
            lower,
            column_exponent,
        })
    }

    /// Factors a Gram matrix `G = C^T C` handed over as it is (`d x d`, of
    /// which only the lower triangle is read; `rows` terms summed into each
    /// entry), as a backend's [`crate::backend::Backend::les_grams`] returns
    /// it: column `j` is scaled by the power of two nearest `sqrt(G_jj)`, so
    /// the factored matrix has a diagonal in `[1/4, 1)`. `None` as for
    /// [`GramFactor::new`], or for a non-finite or non-positive diagonal.
    pub(super) fn from_gram(mut gram: Array2<f64>, rows: usize) -> Option<GramFactor> {
        let dim = gram.nrows();
        if dim == 0 || rows < dim || gram.ncols() != dim {
            return None;
        }
        let column_exponent = gram
            .diag()
            .iter()
            .map(|&g| (g > 0.0 && g.is_finite()).then(|| i64::from(binary_exponent(g.sqrt()))))
            .collect::<Option<Vec<i64>>>()?;
        for ((i, j), v) in gram.indexed_iter_mut() {
            *v = times_power_of_two(*v, -(column_exponent[i] + column_exponent[j]));
        }
        let lower = cholesky_lower(gram, rows)?;
        Some(GramFactor {
            lower,
            column_exponent,
        })
    }

    /// `log det(C^T C)`.
    pub(super) fn log_det(&self) -> f64 {
        let diagonal: f64 = self.lower.diag().iter().map(|v| v.ln()).sum();
        let exponents: f64 = self.column_exponent.iter().map(|&e| e as f64).sum();
        2.0 * diagonal + 2.0 * LN_2 * exponents
    }

    /// `Y = L^-1 S^-1 x^T` for `x` (`m x d`), so that `x (C^T C)^-1 x^T = Y^T Y`.
    pub(super) fn whiten(&self, x: ArrayView2<f64>) -> Array2<f64> {
        let d = self.lower.nrows();
        let m = x.nrows();
        let mut y = Array2::zeros((d, m));
        for (mut out, (column, &e)) in y
            .rows_mut()
            .into_iter()
            .zip(x.columns().into_iter().zip(&self.column_exponent))
        {
            out.zip_mut_with(&column, |o, &v| *o = times_power_of_two(v, -e));
        }
        if m > 0 {
            let lower = self.lower.as_slice().expect("the factor is contiguous");
            let lower = MatRef::from_row_major_slice(lower, d, d);
            let rhs = y.as_slice_mut().expect("a fresh array is contiguous");
            let rhs = MatMut::from_row_major_slice_mut(rhs, d, m);
            solve_lower_triangular_in_place(lower, rhs, Par::Seq);
        }
        y
    }
}

/// `e^log_factor * x`, with the factor applied as a power of two and a factor in
/// `[1/2, 1)`, so that it may lie outside the range of `f64`.
pub(super) fn times_exp(x: ArrayView2<f64>, log_factor: f64) -> Array2<f64> {
    let (exponent, factor) = split_scale(log_factor);
    x.mapv(|v| times_power_of_two(v * factor, exponent))
}

/// The leading 32 bits of `ln 2`, so that `e * LN_2_HIGH` is exact for
/// `|e| < 2^21` (Cody and Waite's argument reduction).
const LN_2_HIGH: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
/// `ln 2 - LN_2_HIGH`.
const LN_2_LOW: f64 = 1.908_214_929_270_587_7e-10;

/// Splits a row factor `exp(log_scale)` into a power of two `2^e` and a factor
/// in `[1/2, 1)` (which cannot make a finite entry overflow).
fn split_scale(log_scale: f64) -> (i64, f64) {
    let bound = (4 * MAX_EXPONENT_SHIFT) as f64;
    let e = ((log_scale / LN_2).floor() + 1.0).clamp(-bound, bound);
    // `rest` lies in [-ln 2, 0) up to rounding; the clamp keeps absurd scales
    // (beyond about 1e15) from producing an overflowing factor.
    let rest = ((log_scale - e * LN_2_HIGH) - e * LN_2_LOW).clamp(-LN_2, 0.0);
    (e as i64, rest.exp())
}

/// Multiplies each column `i` of `scaled` by the factor in `[1/2, 1)` of
/// `exp(log_scale[i])` and returns the power-of-two exponents left over.
fn split_column_scales(scaled: &mut Array2<f64>, log_scale: &[f64]) -> Vec<i64> {
    let (exponents, factors): (Vec<i64>, Vec<f64>) = log_scale.iter().map(|&ls| split_scale(ls)).unzip();
    for mut row in scaled.rows_mut() {
        for (v, &f) in row.iter_mut().zip(&factors) {
            *v *= f;
        }
    }
    exponents
}

/// The binary exponent of the largest entry of one column of `C` (one row of
/// `C^T`), its scaled part's entries counting with their exponents; `None`
/// for a column of zeros.
fn largest_exponent(
    plain: &ArrayViewMut1<f64>,
    scaled: &ArrayViewMut1<f64>,
    scaled_exponent: &[i64],
) -> Option<i64> {
    // frexp's exponent grows with |x|, so the largest entry gives the largest exponent.
    let top = plain.fold(0.0f64, |m, &v| m.max(v.abs()));
    let mut best = (top > 0.0).then(|| i64::from(binary_exponent(top)));
    for (&v, &se) in scaled.iter().zip(scaled_exponent) {
        if v != 0.0 {
            let e = se + i64::from(binary_exponent(v));
            best = Some(best.map_or(e, |b| b.max(e)));
        }
    }
    best
}

/// `row *= 2^k`, one multiplication per entry when `2^k` is a normal number.
fn scale_by_power_of_two(mut row: ArrayViewMut1<f64>, k: i64) {
    if (-1022..=1023).contains(&k) {
        let factor = power_of_two(k);
        row.map_inplace(|v| *v *= factor);
    } else {
        row.map_inplace(|v| *v = times_power_of_two(*v, k));
    }
}

/// The lower triangle of `gram += x x^T` for `x` (`d x n`, standard layout),
/// one faer GEMM (the Cholesky factorisation reads no more).
fn add_outer_product(gram: &mut Array2<f64>, x: &Array2<f64>) {
    let (d, n) = x.dim();
    if n == 0 {
        return;
    }
    let x = MatRef::from_row_major_slice(x.as_slice().expect("standard layout"), d, n);
    let dst =
        MatMut::from_row_major_slice_mut(gram.as_slice_mut().expect("a fresh array is contiguous"), d, d);
    matmul(
        dst,
        BlockStructure::TriangularLower,
        Accum::Add,
        x,
        BlockStructure::Rectangular,
        x.transpose(),
        BlockStructure::Rectangular,
        1.0,
        Par::Seq,
    );
}

/// The exponent `e` with `|x| = m 2^e`, `m` in `[1/2, 1)` (C's `frexp`), for
/// finite nonzero `x`, subnormals included.
fn binary_exponent(x: f64) -> i32 {
    let bits = x.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    if biased != 0 {
        return biased - 1022;
    }
    let mantissa = bits & ((1u64 << 52) - 1);
    -1010 - mantissa.leading_zeros() as i32
}

/// `x * 2^k` without forming an out-of-range power of two.
fn times_power_of_two(x: f64, k: i64) -> f64 {
    const STEP: i64 = 1000;
    let mut k = k.clamp(-MAX_EXPONENT_SHIFT, MAX_EXPONENT_SHIFT);
    let mut x = x;
    while k > STEP {
        x *= power_of_two(STEP);
        k -= STEP;
    }
    while k < -STEP {
        x *= power_of_two(-STEP);
        k += STEP;
    }
    x * power_of_two(k)
}

/// `2^k` for `k` in the normal range `[-1022, 1023]`.
fn power_of_two(k: i64) -> f64 {
    f64::from_bits(((k + 1023) as u64) << 52)
}

/// The lower Cholesky factor of `gram` (of which only the lower triangle is
/// read), or `None` at a pivot at or below the
/// rank tolerance (`rows` is the number of terms summed into each entry).
fn cholesky_lower(mut gram: Array2<f64>, rows: usize) -> Option<Array2<f64>> {
    let d = gram.nrows();
    let largest = gram.diag().iter().fold(0.0, |m: f64, &v| m.max(v));
    let threshold = TOL_GRAM_PIVOT_REL * rows as f64 * largest;
    for j in 0..d {
        let pivot = gram[[j, j]] - gram.slice(s![j, ..j]).dot(&gram.slice(s![j, ..j]));
        if pivot.is_nan() || pivot <= threshold {
            return None;
        }
        let root = pivot.sqrt();
        gram[[j, j]] = root;
        for i in j + 1..d {
            let known = gram.slice(s![i, ..j]).dot(&gram.slice(s![j, ..j]));
            gram[[i, j]] = (gram[[i, j]] - known) / root;
        }
    }
    for j in 1..d {
        gram.slice_mut(s![..j, j]).fill(0.0);
    }
    Some(gram)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    /// Every row of `c` as a scaled row.
    fn factor(c: &Array2<f64>, log_scale: &[f64]) -> Option<GramFactor> {
        GramFactor::new(TransposedRows {
            plain: Array2::zeros((c.ncols(), 0)),
            scaled: c.t().as_standard_layout().into_owned(),
            log_scale: log_scale.to_vec(),
        })
    }

    /// Every row of `c` as a plain row.
    fn unscaled(c: Array2<f64>) -> Option<GramFactor> {
        GramFactor::new(TransposedRows {
            plain: c.t().as_standard_layout().into_owned(),
            scaled: Array2::zeros((c.ncols(), 0)),
            log_scale: Vec::new(),
        })
    }

    #[test]
    fn log_det_of_a_diagonal_matrix() {
        let f = unscaled(array![[2.0, 0.0], [0.0, 3.0], [0.0, 0.0]]).unwrap();
        assert!((f.log_det() - 36f64.ln()).abs() < 1e-15);
    }

    #[test]
    fn row_scales_beyond_f64_range_stay_exact() {
        // Both rows scaled by e^900 (their squares by e^1800):
        // log det = log det(B^T B) + 4 * 900 with det B = -4.
        let body = array![[1.0, 2.0], [3.0, 2.0]];
        let f = factor(&body, &[900.0, 900.0]).unwrap();
        let expected = 2.0 * 4f64.ln() + 4.0 * 900.0;
        assert!((f.log_det() - expected).abs() < 1e-13 * expected);

        // Rows scaled by e^-800 and e^-798: the square case, where
        // det(D B) = det(D) det(B).
        let f = factor(&body, &[-800.0, -798.0]).unwrap();
        let expected = 2.0 * 4f64.ln() - 2.0 * 1598.0;
        assert!((f.log_det() - expected).abs() < 1e-13 * expected.abs());
    }

    #[test]
    fn plain_and_scaled_rows_give_one_gram_matrix() {
        // Rows split between the plain and the scaled part (with log scale 0)
        // give the Gram matrix of all of them.
        let n = 3 * 256 + 17;
        let c = Array2::from_shape_fn((n, 3), |(i, j)| {
            ((i * 7 + j * 13) % 11) as f64 - 5.0 + 0.1 * j as f64
        });
        let split = n / 3;
        let f = GramFactor::new(TransposedRows {
            plain: c.slice(s![split.., ..]).t().as_standard_layout().into_owned(),
            scaled: c.slice(s![..split, ..]).t().as_standard_layout().into_owned(),
            log_scale: vec![0.0; split],
        })
        .unwrap();
        let g = c.t().dot(&c);
        let det = g[[0, 0]] * (g[[1, 1]] * g[[2, 2]] - g[[1, 2]] * g[[2, 1]])
            - g[[0, 1]] * (g[[1, 0]] * g[[2, 2]] - g[[1, 2]] * g[[2, 0]])
            + g[[0, 2]] * (g[[1, 0]] * g[[2, 1]] - g[[1, 1]] * g[[2, 0]]);
        assert!((f.log_det() - det.ln()).abs() < 1e-12 * det.ln().abs());
    }

    #[test]
    fn a_gram_matrix_given_as_it_is_gives_the_same_log_det() {
        // Columns of very different magnitudes: the equilibration must hold.
        let c = array![[1.0, 2e-150], [0.5, -1e-150], [3.0, 4e-151]];
        let g = c.t().dot(&c);
        let direct = unscaled(c.clone()).unwrap().log_det();
        let given = GramFactor::from_gram(g, 3).unwrap().log_det();
        assert!(
            (direct - given).abs() < 1e-12 * direct.abs(),
            "{direct} vs {given}"
        );
        assert!(GramFactor::from_gram(array![[1.0, 2.0], [2.0, 4.0]], 3).is_none());
        assert!(GramFactor::from_gram(array![[f64::NAN, 0.0], [0.0, 1.0]], 3).is_none());
    }

    #[test]
    fn rank_deficiency_is_detected() {
        assert!(unscaled(array![[1.0, 2.0], [2.0, 4.0], [-1.0, -2.0]]).is_none());
        assert!(unscaled(array![[1.0, 0.0], [2.0, 0.0]]).is_none());
        assert!(unscaled(array![[1.0, 2.0, 3.0]]).is_none());
    }

    #[test]
    fn whiten_gives_the_inverse_gram_form() {
        let c = array![[1.0, 2.0], [0.5, -1.0], [3.0, 1e-3]];
        // Column 1 scaled by 2^-40 so that the column exponents differ.
        let c = &c * &array![1.0, 2f64.powi(-40)];
        let f = unscaled(c.clone()).unwrap();
        let g = c.t().dot(&c);
        let det = g[[0, 0]] * g[[1, 1]] - g[[0, 1]] * g[[1, 0]];
        let inv = array![[g[[1, 1]], -g[[0, 1]]], [-g[[1, 0]], g[[0, 0]]]] / det;
        let x = array![[1.0, -2.0], [0.3, 0.7]];
        let expected = x.dot(&inv).dot(&x.t());
        let y = f.whiten(x.view());
        let got = y.t().dot(&y);
        for (a, b) in got.iter().zip(expected.iter()) {
            assert!((a - b).abs() < 1e-10 * b.abs(), "{a} vs {b}");
        }
    }

    #[test]
    fn times_exp_reaches_beyond_the_range_of_exp() {
        // e^-1300 underflows, yet 1e300 e^-1300 (about 1e-265) is representable.
        let x = array![[1e300, -2.5e299]];
        let got = times_exp(x.view(), -1300.0);
        let half = (-650f64).exp();
        for (a, b) in got.iter().zip(x.iter()) {
            let expected = b * half * half;
            assert!(
                (a - expected).abs() <= 1e-13 * expected.abs(),
                "{a} vs {expected}"
            );
        }
        // Down and back up through the subnormal-free range keeps every digit.
        let y = array![[1.5, -0.25], [3.0, 0.7]];
        let back = times_exp(times_exp(y.view(), -700.0).view(), 700.0);
        for (a, b) in back.iter().zip(y.iter()) {
            assert!((a - b).abs() <= 1e-14 * b.abs());
        }
    }

    #[test]
    fn binary_exponent_matches_frexp() {
        for x in [1.0, 0.75, -3.0, 1e300, 1e-310, f64::MIN_POSITIVE, 5e-324] {
            let e = binary_exponent(x);
            let m = times_power_of_two(x.abs(), -i64::from(e));
            assert!((0.5..1.0).contains(&m), "{x}: exponent {e} gives mantissa {m}");
        }
    }

    #[test]
    fn power_of_two_scaling_is_exact() {
        assert_eq!(
            times_power_of_two(3.0, -1060),
            3.0 * 2f64.powi(-1000) * 2f64.powi(-60)
        );
        assert_eq!(times_power_of_two(0.75, 1023), 0.75 * 2f64.powi(1023));
        assert_eq!(times_power_of_two(1.0, -5000), 0.0);
        assert_eq!(times_power_of_two(-1.5, 0), -1.5);
    }
}
