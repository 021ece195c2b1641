//! SIMD kernels of the evaluator and the CPU backend: the element-wise work around the GEMMs.
//!
//! Each kernel is a small [`pulp::WithSimd`] struct dispatched once per call
//! through [`pulp::Arch`], which picks the widest instruction set the running
//! CPU has (AVX2/FMA, AVX-512 when pulp is built with it, or scalar code).
//! Every kernel performs exactly the floating-point operations of its scalar
//! version (the same products, no fused multiply-adds, comparisons with the
//! same NaN and signed-zero behaviour), so results are bit-identical whatever
//! instruction set runs; the unit tests below check that against the scalar
//! versions.
//!
//! The kernels:
//!
//! - [`two_piece_record`]: a two-piece activation on a block of
//!   pre-activations, recording each unit's piece (`z > 0`) in the pattern;
//! - [`scale_blocks`]: the reverse-pass masking, each point's rows scaled
//!   column by column by the slopes its pattern selects;
//! - [`first_row_changes`]: the local-complexity count of a block of
//!   pre-activations, the number of units whose three-valued sign at some
//!   vertex (row) differs from the first vertex's.

use ndarray::{ArrayView1, ArrayView2, ArrayViewMut1, ArrayViewMut2, Axis, Zip};
use pulp::{Arch, Simd, WithSimd};

/// The three-valued sign: `1` above zero, `-1` below, `0` for both zeros
/// (and for NaN, which compares false both ways).
pub(crate) fn sign3(v: f64) -> i8 {
    if v > 0.0 {
        1
    } else if v < 0.0 {
        -1
    } else {
        0
    }
}

/// Applies a two-piece activation with `slopes = [negative piece, positive
/// piece]` to every entry of `z` in place and writes each entry's piece
/// (`1` when `z > 0`) to the same position of `choices` (same shape).
pub(crate) fn two_piece_record(z: ArrayViewMut2<f64>, choices: ArrayViewMut2<u8>, slopes: [f64; 2]) {
    bias_two_piece_record(z, None, choices, slopes);
}

/// [`two_piece_record`] of `z + bias` (the bias added to every row first,
/// in the same walk, when given): the dense layer's bias and the units'
/// activation in one pass over values still in cache, with the same
/// operations as adding the bias on its own pass.
pub(crate) fn bias_two_piece_record(
    z: ArrayViewMut2<f64>,
    bias: Option<&[f64]>,
    choices: ArrayViewMut2<u8>,
    slopes: [f64; 2],
) {
    debug_assert_eq!(z.dim(), choices.dim());
    debug_assert!(bias.is_none_or(|b| b.len() == z.ncols()));
    Arch::new().dispatch(TwoPiece {
        z,
        bias,
        choices,
        slopes,
    });
}

/// Multiplies the rows of `g` column by column by the slopes selected by a
/// pattern: rows `p * block .. (p + 1) * block` belong to point `p`, whose
/// pieces are row `p` of `pieces` (points x columns of `g`).
pub(crate) fn scale_blocks(g: ArrayViewMut2<f64>, block: usize, pieces: ArrayView2<u8>, slopes: [f64; 2]) {
    debug_assert_eq!(g.ncols(), pieces.ncols());
    Arch::new().dispatch(ScaleBlocks {
        g,
        block: block.max(1),
        pieces,
        slopes,
    });
}

/// The number of columns of `z` where the three-valued sign of some row
/// differs from the first row's.
pub(crate) fn first_row_changes(z: ArrayView2<f64>) -> u32 {
    Arch::new().dispatch(FirstRowChanges { z })
}

struct TwoPiece<'a> {
    z: ArrayViewMut2<'a, f64>,
    bias: Option<&'a [f64]>,
    choices: ArrayViewMut2<'a, u8>,
    slopes: [f64; 2],
}

impl WithSimd for TwoPiece<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let TwoPiece {
            mut z,
            bias,
            mut choices,
            slopes,
        } = self;
        for (mut zr, cr) in z.rows_mut().into_iter().zip(choices.rows_mut()) {
            if let Some(b) = bias {
                add_row(simd, zr.view_mut(), b);
            }
            two_piece_view(simd, zr, cr, slopes);
        }
    }
}

/// `z += b` on one row (vectorised where the row is contiguous); the row is
/// then still in cache for the activation.
#[inline(always)]
fn add_row<S: Simd>(simd: S, mut z: ArrayViewMut1<f64>, b: &[f64]) {
    let Some(zs) = z.as_slice_mut() else {
        return z.iter_mut().zip(b).for_each(|(z, b)| *z += b);
    };
    let (head, tail) = S::as_mut_simd_f64s(zs);
    let (b_head, b_tail) = S::as_simd_f64s(&b[..head.len() * S::F64_LANES + tail.len()]);
    for (zv, bv) in head.iter_mut().zip(b_head) {
        *zv = simd.add_f64s(*zv, *bv);
    }
    for (z, b) in tail.iter_mut().zip(b_tail) {
        *z += b;
    }
}

#[inline(always)]
fn two_piece_view<S: Simd>(simd: S, mut z: ArrayViewMut1<f64>, mut c: ArrayViewMut1<u8>, slopes: [f64; 2]) {
    if let (Some(zs), Some(cs)) = (z.as_slice_mut(), c.as_slice_mut()) {
        return two_piece_slice(simd, zs, cs, slopes);
    }
    Zip::from(&mut z)
        .and(&mut c)
        .for_each(|z, c| two_piece_scalar(z, c, slopes));
}

#[inline(always)]
fn two_piece_scalar(z: &mut f64, c: &mut u8, slopes: [f64; 2]) {
    let piece = u8::from(*z > 0.0);
    *c = piece;
    *z *= slopes[piece as usize];
}

#[inline(always)]
fn two_piece_slice<S: Simd>(simd: S, z: &mut [f64], c: &mut [u8], slopes: [f64; 2]) {
    let (head, tail) = S::as_mut_simd_f64s(z);
    let (c_head, c_tail) = c.split_at_mut(head.len() * S::F64_LANES);
    let zero = simd.splat_f64s(0.0);
    let (lo, hi) = (simd.splat_f64s(slopes[0]), simd.splat_f64s(slopes[1]));
    let (one_u, zero_u) = (simd.splat_u64s(1), simd.splat_u64s(0));
    for (zv, cv) in head.iter_mut().zip(c_head.chunks_exact_mut(S::F64_LANES)) {
        let positive = simd.greater_than_f64s(*zv, zero);
        let pieces = simd.select_u64s(positive, one_u, zero_u);
        let pieces: &[u64] = pulp::bytemuck::cast_slice(std::slice::from_ref(&pieces));
        for (dst, &p) in cv.iter_mut().zip(pieces) {
            *dst = p as u8;
        }
        *zv = simd.mul_f64s(*zv, simd.select_f64s(positive, hi, lo));
    }
    for (z, c) in tail.iter_mut().zip(c_tail) {
        two_piece_scalar(z, c, slopes);
    }
}

struct ScaleBlocks<'a> {
    g: ArrayViewMut2<'a, f64>,
    block: usize,
    pieces: ArrayView2<'a, u8>,
    slopes: [f64; 2],
}

impl WithSimd for ScaleBlocks<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let ScaleBlocks {
            mut g,
            block,
            pieces,
            slopes,
        } = self;
        let mut factors = vec![0.0; pieces.ncols()];
        for (mut rows, prow) in g.axis_chunks_iter_mut(Axis(0), block).zip(pieces.rows()) {
            for (f, &c) in factors.iter_mut().zip(prow) {
                *f = slopes[c as usize];
            }
            for row in rows.rows_mut() {
                scale_view(simd, row, &factors);
            }
        }
    }
}

#[inline(always)]
fn scale_view<S: Simd>(simd: S, mut row: ArrayViewMut1<f64>, factors: &[f64]) {
    if let Some(r) = row.as_slice_mut() {
        return scale_slice(simd, r, factors);
    }
    Zip::from(&mut row)
        .and(&ArrayView1::from(factors))
        .for_each(|x, &f| *x *= f);
}

#[inline(always)]
fn scale_slice<S: Simd>(simd: S, row: &mut [f64], factors: &[f64]) {
    let (head, tail) = S::as_mut_simd_f64s(row);
    let (f_head, f_tail) = S::as_simd_f64s(factors);
    for (x, &f) in head.iter_mut().zip(f_head) {
        *x = simd.mul_f64s(*x, f);
    }
    for (x, &f) in tail.iter_mut().zip(f_tail) {
        *x *= f;
    }
}

struct FirstRowChanges<'a> {
    z: ArrayView2<'a, f64>,
}

impl WithSimd for FirstRowChanges<'_> {
    type Output = u32;

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> u32 {
        let z = self.z;
        if z.nrows() < 2 {
            return 0;
        }
        let first = z.row(0);
        let Some(first) = first.as_slice() else {
            return first_row_changes_scalar(z);
        };
        let mut changed = vec![0u64; first.len()];
        for row in z.rows().into_iter().skip(1) {
            let Some(row) = row.as_slice() else {
                return first_row_changes_scalar(z);
            };
            mark_sign_changes(simd, first, row, &mut changed);
        }
        changed.iter().filter(|&&c| c != 0).count() as u32
    }
}

/// Sets `changed[u]` to a nonzero value where `row[u]` and `first[u]` have
/// different three-valued signs.
#[inline(always)]
fn mark_sign_changes<S: Simd>(simd: S, first: &[f64], row: &[f64], changed: &mut [u64]) {
    let (f_head, f_tail) = S::as_simd_f64s(first);
    let (r_head, r_tail) = S::as_simd_f64s(row);
    let (c_head, c_tail) = S::as_mut_simd_u64s(changed);
    let zero = simd.splat_f64s(0.0);
    let (ones, zero_u) = (simd.splat_u64s(u64::MAX), simd.splat_u64s(0));
    for ((&f, &r), c) in f_head.iter().zip(r_head).zip(c_head) {
        let above = simd.xor_m64s(simd.greater_than_f64s(f, zero), simd.greater_than_f64s(r, zero));
        let below = simd.xor_m64s(simd.less_than_f64s(f, zero), simd.less_than_f64s(r, zero));
        let differs = simd.or_m64s(above, below);
        *c = simd.or_u64s(*c, simd.select_u64s(differs, ones, zero_u));
    }
    for ((&f, &r), c) in f_tail.iter().zip(r_tail).zip(c_tail) {
        *c |= u64::from(sign3(f) != sign3(r));
    }
}

/// The scalar version of [`first_row_changes`], for strided views.
fn first_row_changes_scalar(z: ArrayView2<f64>) -> u32 {
    let first = z.row(0);
    (0..z.ncols())
        .filter(|&u| z.column(u).iter().skip(1).any(|v| sign3(*v) != sign3(first[u])))
        .count() as u32
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use ndarray::{s, Array2};
    use proptest::prelude::*;

    /// Values that exercise every branch: both zeros, tiny and ordinary
    /// magnitudes of both signs (shared with the fused kernels' tests).
    pub(crate) fn value() -> impl Strategy<Value = f64> {
        prop_oneof![
            Just(0.0),
            Just(-0.0),
            Just(f64::MIN_POSITIVE),
            Just(-f64::MIN_POSITIVE),
            -1e3..1e3f64,
            -1e-300..1e-300f64,
        ]
    }

    /// A matrix of `value()`s, with shapes that are not multiples of the lane count.
    fn matrix(max_rows: usize, max_cols: usize) -> impl Strategy<Value = Array2<f64>> {
        (1..=max_rows, 0..=max_cols).prop_flat_map(|(r, c)| {
            proptest::collection::vec(value(), r * c)
                .prop_map(move |v| Array2::from_shape_vec((r, c), v).expect("r * c values"))
        })
    }

    fn slopes() -> impl Strategy<Value = [f64; 2]> {
        prop_oneof![
            Just([0.0, 1.0]),
            Just([-1.0, 1.0]),
            (-1.0..1.0f64).prop_map(|a| [a, 1.0]),
        ]
    }

    /// The reference definition of the LC count, written independently.
    fn changes_reference(z: &Array2<f64>) -> u32 {
        let sign = |v: f64| (v > 0.0) as i8 - (v < 0.0) as i8;
        let mut count = 0;
        for u in 0..z.ncols() {
            if (1..z.nrows()).any(|r| sign(z[[r, u]]) != sign(z[[0, u]])) {
                count += 1;
            }
        }
        count
    }

    fn bits(a: &Array2<f64>) -> Vec<u64> {
        a.iter().map(|v| v.to_bits()).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn two_piece_record_matches_scalar(z in matrix(5, 37), slopes in slopes()) {
            let mut fast = z.clone();
            let mut fast_choices = Array2::<u8>::zeros(z.dim());
            two_piece_record(fast.view_mut(), fast_choices.view_mut(), slopes);
            let mut slow = z.clone();
            let mut slow_choices = Array2::<u8>::zeros(z.dim());
            Zip::from(&mut slow).and(&mut slow_choices).for_each(|z, c| {
                *c = u8::from(*z > 0.0);
                *z *= slopes[usize::from(*c)];
            });
            prop_assert_eq!(bits(&fast), bits(&slow));
            prop_assert_eq!(fast_choices, slow_choices);
        }

        #[test]
        fn bias_two_piece_record_equals_adding_the_bias_first(
            z in matrix(5, 37),
            b in proptest::collection::vec(value(), 37),
            slopes in slopes(),
            every_other in any::<bool>(),
        ) {
            // Contiguous rows, and (every other column) strided ones.
            let step = if every_other { 2 } else { 1 };
            let mut fused = z.clone();
            let mut fused_view = fused.slice_mut(s![.., ..;step]);
            let bias = &b[..fused_view.ncols()];
            let mut fused_choices = Array2::<u8>::zeros(fused_view.dim());
            bias_two_piece_record(fused_view.view_mut(), Some(bias), fused_choices.view_mut(), slopes);
            let mut plain = z.slice(s![.., ..;step]).to_owned();
            for mut row in plain.rows_mut() {
                row.iter_mut().zip(bias).for_each(|(v, b)| *v += b);
            }
            let mut plain_choices = Array2::<u8>::zeros(plain.dim());
            two_piece_record(plain.view_mut(), plain_choices.view_mut(), slopes);
            prop_assert_eq!(bits(&fused.slice(s![.., ..;step]).to_owned()), bits(&plain));
            prop_assert_eq!(fused_choices, plain_choices);
        }

        #[test]
        fn two_piece_record_on_column_slices(z in matrix(4, 23), slopes in slopes()) {
            // The forward pass writes into a column slice of the whole pattern.
            let cols = z.ncols();
            let mut all = Array2::<u8>::from_elem((z.nrows(), cols + 3), 7);
            let mut fast = z.clone();
            two_piece_record(fast.view_mut(), all.slice_mut(s![.., 2..2 + cols]), slopes);
            for ((r, c), &v) in z.indexed_iter() {
                prop_assert_eq!(all[[r, c + 2]], u8::from(v > 0.0));
            }
            prop_assert!(all.column(0).iter().chain(all.column(1)).chain(all.column(cols + 2)).all(|&c| c == 7));
        }

        #[test]
        fn scale_blocks_matches_scalar(g in matrix(12, 29), block in 1usize..4, slopes in slopes(), seed in any::<u64>()) {
            let points = g.nrows().div_ceil(block);
            let pieces = Array2::from_shape_fn((points, g.ncols()), |(p, u)| ((seed >> ((p * 7 + u) % 64)) & 1) as u8);
            let mut fast = g.clone();
            scale_blocks(fast.view_mut(), block, pieces.view(), slopes);
            let slow = Array2::from_shape_fn(g.dim(), |(r, u)| g[[r, u]] * slopes[usize::from(pieces[[r / block, u]])]);
            prop_assert_eq!(bits(&fast), bits(&slow));
        }

        #[test]
        fn first_row_changes_matches_reference(z in matrix(9, 41)) {
            prop_assert_eq!(first_row_changes(z.view()), changes_reference(&z));
            prop_assert_eq!(first_row_changes_scalar(z.view()), changes_reference(&z));
        }

        #[test]
        fn first_row_changes_on_strided_views(z in matrix(6, 20)) {
            let t = z.t().as_standard_layout().into_owned();
            // A transposed view has no contiguous rows: the scalar path runs.
            prop_assert_eq!(first_row_changes(t.t()), changes_reference(&z));
        }
    }

    #[test]
    fn signed_zeros_do_not_count_as_changes() {
        let z = ndarray::array![[0.0, -0.0, 1.0, -2.0, 0.0], [-0.0, 0.0, 3.0, -1.0, 1e-310]];
        assert_eq!(first_row_changes(z.view()), 1);
    }

    #[test]
    fn negative_zero_takes_the_negative_piece() {
        let mut z = ndarray::array![[-0.0, 0.0, 2.0, -3.0, 1e-310]];
        let mut c = Array2::zeros(z.dim());
        two_piece_record(z.view_mut(), c.view_mut(), [0.5, 1.0]);
        assert_eq!(c, ndarray::array![[0u8, 0, 1, 0, 1]]);
        assert_eq!(z[[0, 3]], -1.5);
        assert!(z[[0, 0]] == 0.0 && z[[0, 0]].is_sign_negative());
    }
}
