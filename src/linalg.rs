//! Crate-private dense kernels over ndarray views: products backed by faer,
//! and the Gauss-Jordan inverse of small square matrices.

use std::cmp::Ordering;

use faer::{Accum, MatMut, MatRef, Par};
use ndarray::{Array2, ArrayView2};

use crate::tol::TOL_PIVOT;

/// A standard-layout view of `x` as a faer matrix (copying only when `x` is strided).
fn as_faer<'a>(x: &ArrayView2<'a, f64>, buf: &'a mut Option<Array2<f64>>) -> MatRef<'a, f64> {
    let (r, c) = x.dim();
    if let Some(s) = (*x).to_slice() {
        return MatRef::from_row_major_slice(s, r, c);
    }
    if let Some(s) = (*x).reversed_axes().to_slice() {
        return MatRef::from_column_major_slice(s, r, c);
    }
    let owned = buf.insert(x.as_standard_layout().into_owned());
    MatRef::from_row_major_slice(owned.as_slice().expect("standard layout"), r, c)
}

/// `x w^T` (single-threaded: callers parallelise over batches) for `x` (n x k) and `w` (m x k): the product of a batch of rows with
/// a weight matrix stored PyTorch-style (out x in).
pub(crate) fn matmul_nt(x: ArrayView2<f64>, w: ArrayView2<f64>) -> Array2<f64> {
    debug_assert_eq!(x.ncols(), w.ncols());
    let mut out = Array2::zeros((x.nrows(), w.nrows()));
    let slice = out.as_slice_mut().expect("fresh arrays are contiguous");
    matmul_nt_into(x, w, slice);
    out
}

/// `x w` for `x` (n x k) and `w` (k x m).
pub(crate) fn matmul_nn(x: ArrayView2<f64>, w: ArrayView2<f64>) -> Array2<f64> {
    debug_assert_eq!(x.ncols(), w.nrows());
    let mut out = Array2::zeros((x.nrows(), w.ncols()));
    let (mut bx, mut bw) = (None, None);
    let xf = as_faer(&x, &mut bx);
    let wf = as_faer(&w, &mut bw);
    gemm_into(&mut out, xf, wf);
    out
}

/// `x w^T` written into `out` (n x m, row-major), for callers that reuse
/// their buffers across batches.
pub(crate) fn matmul_nt_into(x: ArrayView2<f64>, w: ArrayView2<f64>, out: &mut [f64]) {
    debug_assert_eq!(x.ncols(), w.ncols());
    let (mut bx, mut bw) = (None, None);
    let xf = as_faer(&x, &mut bx);
    let wf = as_faer(&w, &mut bw);
    gemm_slice(out, x.nrows(), w.nrows(), xf, wf.transpose());
}

fn gemm_into(out: &mut Array2<f64>, lhs: MatRef<'_, f64>, rhs: MatRef<'_, f64>) {
    let (r, c) = out.dim();
    let slice = out.as_slice_mut().expect("fresh arrays are contiguous");
    gemm_slice(slice, r, c, lhs, rhs);
}

/// `lhs rhs` into the row-major `r x c` matrix `out`.
fn gemm_slice(out: &mut [f64], r: usize, c: usize, lhs: MatRef<'_, f64>, rhs: MatRef<'_, f64>) {
    if r == 0 || c == 0 {
        return;
    }
    let dst = MatMut::from_row_major_slice_mut(out, r, c);
    faer::linalg::matmul::matmul(dst, Accum::Replace, lhs, rhs, 1.0, Par::Seq);
}

/// The inverse of a small square matrix by Gauss-Jordan elimination with
/// partial pivoting; `None` when it is (nearly) singular.
pub(crate) fn invert(a: &Array2<f64>) -> Option<Array2<f64>> {
    let n = a.nrows();
    let mut m: Vec<f64> = a.iter().copied().collect();
    let mut inv = vec![0.0; n * n];
    if !invert_in_place(&mut m, &mut inv, n) {
        return None;
    }
    Array2::from_shape_vec((n, n), inv).ok()
}

/// Inverts the row-major `n x n` matrix `m` into `inv` (both `n * n` long;
/// `m` is overwritten); false when a pivot falls below [`TOL_PIVOT`].
pub(crate) fn invert_in_place(m: &mut [f64], inv: &mut [f64], n: usize) -> bool {
    inv.fill(0.0);
    for i in 0..n {
        inv[i * n + i] = 1.0;
    }
    let mut pivot_row = vec![0.0; 2 * n];
    for col in 0..n {
        // The last of equally large candidates, as `Iterator::max_by` picks.
        let mut pivot = col;
        for i in col + 1..n {
            if m[i * n + col].abs().total_cmp(&m[pivot * n + col].abs()) != Ordering::Less {
                pivot = i;
            }
        }
        if m[pivot * n + col].abs() < TOL_PIVOT {
            return false;
        }
        if pivot != col {
            for j in 0..n {
                m.swap(pivot * n + j, col * n + j);
                inv.swap(pivot * n + j, col * n + j);
            }
        }
        let p = m[col * n + col];
        let (pm, pi) = pivot_row.split_at_mut(n);
        for ((x, y), (mx, ix)) in pm.iter_mut().zip(pi.iter_mut()).zip(
            m[col * n..(col + 1) * n]
                .iter_mut()
                .zip(&mut inv[col * n..(col + 1) * n]),
        ) {
            *mx /= p;
            *ix /= p;
            (*x, *y) = (*mx, *ix);
        }
        // The pivot row does not change while the others are reduced; the
        // columns left of `col` hold zeros in it, which change nothing.
        let rows = m.chunks_exact_mut(n).zip(inv.chunks_exact_mut(n));
        for (i, (m_row, inv_row)) in rows.enumerate() {
            let f = m_row[col];
            if i == col || f == 0.0 {
                continue;
            }
            let alpha = -f;
            for (x, &v) in m_row[col..].iter_mut().zip(&pm[col..]) {
                *x += alpha * v;
            }
            for (x, &v) in inv_row.iter_mut().zip(pi.iter()) {
                *x += alpha * v;
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn matmul_matches_ndarray_dot() {
        let x = array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]];
        let w = array![
            [1.0, 0.0, -1.0],
            [2.0, 1.0, 0.5],
            [0.0, 0.0, 1.0],
            [1.0, 1.0, 1.0]
        ];
        let got = matmul_nt(x.view(), w.view());
        assert_eq!(got, x.dot(&w.t()));
        let got = matmul_nn(x.view(), w.t());
        assert_eq!(got, x.dot(&w.t()));
        let strided = x.slice(ndarray::s![.., ..;2]);
        let w2 = array![[1.0, 2.0], [3.0, 4.0]];
        assert_eq!(matmul_nt(strided, w2.view()), strided.dot(&w2.t()));
    }

    #[test]
    fn inverse_of_a_permuted_matrix() {
        let a = array![[0.0, 2.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 4.0]];
        let inv = invert(&a).unwrap();
        let eye = a.dot(&inv);
        for i in 0..3 {
            for j in 0..3 {
                assert!((eye[[i, j]] - f64::from(u8::from(i == j))).abs() < 1e-15);
            }
        }
        assert!(invert(&array![[1.0, 2.0], [2.0, 4.0]]).is_none());
    }
}
