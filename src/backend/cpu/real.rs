//! The floating-point types of the CPU backend's batched MLP passes: `f64`
//! (the default route) and `f32` ([`crate::backend::Precision::F32`]), with
//! the GEMM and the element-wise kernels of each.

use std::borrow::Cow;
use std::ops::{AddAssign, Mul};

use faer::{Accum, MatMut, MatRef, Par};
use ndarray::{ArrayView1, ArrayView2, ArrayViewMut2, CowArray, Ix2};

use crate::kernels::fused::Lane;
use crate::kernels::{simd, single};

/// A floating-point type the batched passes run in.
pub(super) trait Real:
    faer::traits::ComplexField
    + Copy
    + Default
    + PartialOrd
    + AddAssign
    + Mul<Output = Self>
    + Send
    + Sync
    + Lane
    + 'static
{
    /// `v` rounded to this type.
    fn from_f64(v: f64) -> Self;

    /// `self` as an `f64` (exact).
    fn to_f64(self) -> f64;

    /// A matrix of the network in this type: borrowed for `f64`, rounded once for `f32`.
    fn cast2(a: ArrayView2<'_, f64>) -> CowArray<'_, Self, Ix2>;

    /// A vector (a bias) in this type as one contiguous slice: borrowed for
    /// `f64` when `a` is contiguous, else copied once, so that every pass
    /// reads biases as slices whatever the caller's strides.
    fn cast1(a: ArrayView1<'_, f64>) -> Cow<'_, [Self]>;

    /// The points themselves when they are already of this type (`f64`):
    /// a pass can then multiply them without copying them first.
    fn borrow_rows(x: ArrayView2<'_, f64>) -> Option<ArrayView2<'_, Self>>;

    /// The two-piece activation of `z + bias` in place (the bias added
    /// first when given), recording the pieces (see
    /// [`simd::bias_two_piece_record`]).
    fn bias_two_piece_record(
        z: ArrayViewMut2<Self>,
        bias: Option<&[Self]>,
        choices: ArrayViewMut2<u8>,
        slopes: [Self; 2],
    );
}

impl Real for f64 {
    fn from_f64(v: f64) -> Self {
        v
    }

    fn to_f64(self) -> f64 {
        self
    }

    fn cast2(a: ArrayView2<'_, f64>) -> CowArray<'_, Self, Ix2> {
        CowArray::from(a)
    }

    fn cast1(a: ArrayView1<'_, f64>) -> Cow<'_, [Self]> {
        match a.to_slice() {
            Some(s) => Cow::Borrowed(s),
            None => Cow::Owned(a.to_vec()),
        }
    }

    fn borrow_rows(x: ArrayView2<'_, f64>) -> Option<ArrayView2<'_, Self>> {
        Some(x)
    }

    fn bias_two_piece_record(
        z: ArrayViewMut2<Self>,
        bias: Option<&[Self]>,
        choices: ArrayViewMut2<u8>,
        slopes: [Self; 2],
    ) {
        simd::bias_two_piece_record(z, bias, choices, slopes);
    }
}

impl Real for f32 {
    fn from_f64(v: f64) -> Self {
        v as f32
    }

    fn to_f64(self) -> f64 {
        f64::from(self)
    }

    fn cast2(a: ArrayView2<'_, f64>) -> CowArray<'_, Self, Ix2> {
        CowArray::from(a.mapv(Self::from_f64))
    }

    fn cast1(a: ArrayView1<'_, f64>) -> Cow<'_, [Self]> {
        Cow::Owned(a.iter().map(|&v| Self::from_f64(v)).collect())
    }

    fn borrow_rows(_: ArrayView2<'_, f64>) -> Option<ArrayView2<'_, Self>> {
        None
    }

    fn bias_two_piece_record(
        z: ArrayViewMut2<Self>,
        bias: Option<&[Self]>,
        choices: ArrayViewMut2<u8>,
        slopes: [Self; 2],
    ) {
        single::bias_two_piece_record(z, bias, choices, slopes);
    }
}

/// A view of `x` as a faer matrix, when its rows or columns are contiguous.
fn faer_view<'a, T: Real>(x: &ArrayView2<'a, T>) -> Option<MatRef<'a, T>> {
    let (r, c) = x.dim();
    if let Some(s) = (*x).to_slice() {
        return Some(MatRef::from_row_major_slice(s, r, c));
    }
    (*x).reversed_axes()
        .to_slice()
        .map(|s| MatRef::from_column_major_slice(s, r, c))
}

/// `lhs rhs` written into the row-major `rows x cols` matrix `out`
/// (single-threaded: callers parallelise over tasks). Strided operands are
/// copied to standard layout first.
pub(super) fn gemm_into<T: Real>(lhs: ArrayView2<T>, rhs: ArrayView2<T>, out: &mut [T]) {
    let (rows, cols) = (lhs.nrows(), rhs.ncols());
    debug_assert_eq!(lhs.ncols(), rhs.nrows());
    if rows == 0 || cols == 0 {
        return;
    }
    let (l_owned, r_owned);
    let l = match faer_view(&lhs) {
        Some(m) => m,
        None => {
            l_owned = lhs.as_standard_layout().into_owned();
            MatRef::from_row_major_slice(l_owned.as_slice().expect("standard layout"), rows, lhs.ncols())
        }
    };
    let r = match faer_view(&rhs) {
        Some(m) => m,
        None => {
            r_owned = rhs.as_standard_layout().into_owned();
            MatRef::from_row_major_slice(r_owned.as_slice().expect("standard layout"), rhs.nrows(), cols)
        }
    };
    let dst = MatMut::from_row_major_slice_mut(&mut out[..rows * cols], rows, cols);
    faer::linalg::matmul::matmul(dst, Accum::Replace, l, r, T::from_f64(1.0), Par::Seq);
}
