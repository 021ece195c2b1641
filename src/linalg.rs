//! Crate-private dense kernels over ndarray views, backed by faer.

use faer::{Accum, MatMut, MatRef, Par};
use ndarray::{Array2, ArrayView2};

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
}
