//! Orthonormal frames: Gram-Schmidt of rows, row normalisation, and the
//! exponential of a (skew-symmetric) matrix.

use ndarray::{Array2, ArrayView1, ArrayView2, Axis};

use crate::error::{Error, Result};
use crate::tol::TOL_DEPENDENT_REL;

/// Largest number of Taylor terms of the scaled exponential (the series has
/// converged to rounding after about 18 terms at norm 1/2).
const MAX_TAYLOR_TERMS: usize = 30;

/// The norm the scaled matrix must not exceed before its Taylor series is summed.
const TAYLOR_NORM: f64 = 0.5;

/// Orthonormalises the rows of `m` in order: row `i` of the result is the unit
/// vector along the part of row `i` orthogonal to rows `0..i`.
///
/// This is the `Q` factor of the thin QR factorisation of `m^T` with a positive
/// diagonal of `R`, transposed. Modified Gram-Schmidt runs twice per row, which
/// keeps the rows orthogonal to working precision. A row whose orthogonal part
/// is below [`TOL_DEPENDENT_REL`] of its norm makes the rows dependent: an error.
pub(super) fn orthonormalise_rows(m: ArrayView2<f64>) -> Result<Array2<f64>> {
    let mut q = m.to_owned();
    for i in 0..q.nrows() {
        let original = norm(q.row(i));
        let (done, mut rest) = q.view_mut().split_at(Axis(0), i);
        let mut row = rest.row_mut(0);
        for _pass in 0..2 {
            for basis in done.rows() {
                let overlap = row.dot(&basis);
                row.scaled_add(-overlap, &basis);
            }
        }
        let residual = norm(row.view());
        if residual.is_nan() || residual <= TOL_DEPENDENT_REL * original {
            return Err(Error::invalid(
                "directions",
                format!("row {i} is linearly dependent on the rows before it"),
            ));
        }
        row.mapv_inplace(|v| v / residual);
    }
    Ok(q)
}

/// Scales every row of `m` to unit length; a (numerically) zero row is an error.
pub(super) fn normalise_rows(mut m: Array2<f64>) -> Result<Array2<f64>> {
    for (i, mut row) in m.rows_mut().into_iter().enumerate() {
        let n = norm(row.view());
        if n.is_nan() || n <= TOL_DEPENDENT_REL {
            return Err(Error::invalid("directions", format!("row {i} is zero")));
        }
        row.mapv_inplace(|v| v / n);
    }
    Ok(m)
}

/// `tril(w) - tril(w)^T`: the skew-symmetric matrix PyTorch's `matrix_exp`
/// orthogonal map builds from a square weight (the diagonal cancels).
pub(super) fn skew_from_lower(w: ArrayView2<f64>) -> Array2<f64> {
    let n = w.nrows();
    Array2::from_shape_fn((n, n), |(i, j)| match i.cmp(&j) {
        std::cmp::Ordering::Greater => w[[i, j]],
        std::cmp::Ordering::Less => -w[[j, i]],
        std::cmp::Ordering::Equal => 0.0,
    })
}

/// The matrix exponential of a square matrix of finite, moderate norm.
///
/// Scaling and squaring: `exp(a) = exp(a / 2^s)^(2^s)` with `s` chosen so that
/// `|a / 2^s|_1 <= 1/2`, where the Taylor series converges fast; its terms are
/// summed until they drop below rounding.
pub(super) fn expm(a: ArrayView2<f64>) -> Array2<f64> {
    let n = a.nrows();
    let norm = one_norm(a);
    let mut scale = 1.0;
    let mut squarings = 0;
    while norm * scale > TAYLOR_NORM && scale > f64::MIN_POSITIVE {
        scale *= 0.5;
        squarings += 1;
    }
    let scaled = a.mapv(|v| v * scale);
    let mut sum = Array2::eye(n);
    let mut term = Array2::eye(n);
    for k in 1..=MAX_TAYLOR_TERMS {
        term = term.dot(&scaled) / k as f64;
        sum += &term;
        if one_norm(term.view()) <= f64::EPSILON * one_norm(sum.view()) {
            break;
        }
    }
    for _ in 0..squarings {
        sum = sum.dot(&sum);
    }
    sum
}

fn norm(v: ArrayView1<f64>) -> f64 {
    v.dot(&v).sqrt()
}

/// The largest absolute column sum.
fn one_norm(a: ArrayView2<f64>) -> f64 {
    a.columns()
        .into_iter()
        .map(|c| c.iter().map(|v| v.abs()).sum::<f64>())
        .fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn max_abs_diff(a: ArrayView2<f64>, b: ArrayView2<f64>) -> f64 {
        (&a - &b).iter().fold(0.0, |m, v| m.max(v.abs()))
    }

    #[test]
    fn gram_schmidt_of_rows_is_qr_of_the_transpose() {
        let m = array![[3.0, 4.0, 0.0], [1.0, 1.0, 1.0]];
        let q = orthonormalise_rows(m.view()).unwrap();
        // Row 0 is m0 / 5; row 1 is the part of m1 orthogonal to it, normalised:
        // m1 - (7/5) q0 = (1 - 21/25, 1 - 28/25, 1) = (4/25, -3/25, 1).
        let r1: ndarray::Array1<f64> = array![4.0 / 25.0, -3.0 / 25.0, 1.0];
        let r1 = &r1 / r1.dot(&r1).sqrt();
        assert!(max_abs_diff(q.row(0).insert_axis(Axis(0)), array![[0.6, 0.8, 0.0]].view()) < 1e-15);
        assert!(max_abs_diff(q.row(1).insert_axis(Axis(0)), r1.view().insert_axis(Axis(0))) < 1e-15);
    }

    #[test]
    fn dependent_rows_are_an_error() {
        let m = array![[1.0, 2.0, 3.0], [2.0, 4.0, 6.0]];
        assert!(orthonormalise_rows(m.view()).is_err());
        let zero = array![[0.0, 0.0]];
        assert!(orthonormalise_rows(zero.view()).is_err());
        assert!(normalise_rows(array![[1.0, 0.0], [0.0, 0.0]]).is_err());
    }

    #[test]
    fn expm_of_a_plane_rotation_generator() {
        for theta in [0.0, 0.3, -1.2, 3.0, 40.0] {
            let a = array![[0.0, -theta], [theta, 0.0]];
            let e = expm(a.view());
            let (s, c) = f64::sin_cos(theta);
            let expected = array![[c, -s], [s, c]];
            assert!(max_abs_diff(e.view(), expected.view()) < 1e-13, "theta {theta}");
        }
    }

    #[test]
    fn expm_matches_rodrigues_in_three_dimensions() {
        // exp(K) for K = [k]_x with |k| = t is I + sin(t)/t K + (1 - cos t)/t^2 K^2.
        let k: [f64; 3] = [0.4, -1.1, 0.7];
        let t: f64 = (k[0] * k[0] + k[1] * k[1] + k[2] * k[2]).sqrt();
        let kx = array![[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]];
        let expected = Array2::eye(3) + &kx * (t.sin() / t) + kx.dot(&kx) * ((1.0 - t.cos()) / (t * t));
        assert!(max_abs_diff(expm(kx.view()).view(), expected.view()) < 1e-14);
    }

    #[test]
    fn skew_from_lower_cancels_the_diagonal() {
        let w = array![[5.0, 1.0], [2.0, 7.0]];
        assert_eq!(skew_from_lower(w.view()), array![[0.0, -2.0], [2.0, 0.0]]);
    }
}
