//! Crate-private dense kernels over ndarray views, backed by the `gemm` crate
//! (the GEMM kernels faer is built on, without the rest of faer: see the
//! build-time section of `docs/PERFORMANCE.md`).

use ndarray::{Array2, ArrayView2};

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
    let slice = out.as_slice_mut().expect("fresh arrays are contiguous");
    gemm_slice(slice, x, w, false);
    out
}

/// `x w^T` written into `out` (n x m, row-major), for callers that reuse
/// their buffers across batches.
pub(crate) fn matmul_nt_into(x: ArrayView2<f64>, w: ArrayView2<f64>, out: &mut [f64]) {
    debug_assert_eq!(x.ncols(), w.ncols());
    gemm_slice(out, x, w.t(), false);
}

/// `out = lhs rhs` (or `out += lhs rhs` with `accumulate`) for the
/// row-major `r x c` matrix `out`, any strides of `lhs` (r x k) and `rhs`
/// (k x c), on the calling thread.
// The one unsafe call outside the CUDA backend: `gemm::gemm` takes raw
// pointers and strides (faer wrapped the same kernels in a safe API).
#[allow(unsafe_code)]
pub(crate) fn gemm_slice(out: &mut [f64], lhs: ArrayView2<f64>, rhs: ArrayView2<f64>, accumulate: bool) {
    let (r, k) = lhs.dim();
    let c = rhs.ncols();
    assert!(out.len() == r * c && rhs.nrows() == k, "gemm shapes");
    if r == 0 || c == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            out.fill(0.0);
        }
        return;
    }
    let (ls, rs) = (lhs.strides(), rhs.strides());
    // SAFETY: `out` holds `r * c` elements at row stride `c` and column stride
    // 1, and the views' pointers and strides (in elements, possibly negative
    // or zero) address exactly their `r x k` and `k x c` elements; `out` is a
    // unique borrow, so it aliases neither input.
    unsafe {
        gemm::gemm(
            r,
            c,
            k,
            out.as_mut_ptr(),
            1,
            c as isize,
            accumulate,
            lhs.as_ptr(),
            ls[1],
            ls[0],
            rhs.as_ptr(),
            rs[1],
            rs[0],
            // out = alpha out + beta lhs rhs (alpha is read only with `accumulate`).
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
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
        // Reversed and broadcast (zero-stride) views, and an empty inner dimension.
        let reversed = x.slice(ndarray::s![..;-1, ..;-1]);
        assert_eq!(matmul_nn(reversed, w.t()), reversed.dot(&w.t()));
        let broadcast = ndarray::Array1::from(vec![1.0, -2.0, 0.5]);
        let rows = broadcast.broadcast((3, 3)).unwrap();
        assert_eq!(matmul_nt(rows, w.view()), rows.dot(&w.t()));
        let empty = ndarray::Array2::<f64>::zeros((2, 0));
        let none = Array2::<f64>::zeros((3, 0));
        assert_eq!(matmul_nt(empty.view(), none.view()), Array2::<f64>::zeros((2, 3)));
    }

    /// Larger than the kernels' blocks, with an accumulating call: against a
    /// plain triple loop.
    #[test]
    fn blocked_products_and_accumulation_match_a_triple_loop() {
        let (r, k, c) = (37, 300, 29);
        let lhs = Array2::from_shape_fn((r, k), |(i, j)| ((i * 7 + j * 3) % 11) as f64 - 5.0);
        let rhs = Array2::from_shape_fn((k, c), |(i, j)| ((i + 5 * j) % 13) as f64 * 0.25);
        let mut want = Array2::<f64>::ones((r, c));
        for i in 0..r {
            for j in 0..c {
                want[[i, j]] += (0..k).map(|l| lhs[[i, l]] * rhs[[l, j]]).sum::<f64>();
            }
        }
        let mut out = vec![1.0; r * c];
        gemm_slice(&mut out, lhs.view(), rhs.view(), true);
        // Small integers and quarters: every sum is exact in any order.
        assert_eq!(Array2::from_shape_vec((r, c), out).unwrap(), want);
    }
}
