//! Rank-one corrections of a block of rows: `y_k += c_k x` for a list of
//! source rows `x`, term after term.
//!
//! The 2-D splitter derives a child cell's rows from its parent's by one such
//! term per unit whose piece differs (see `regions::plane_split::rows`). The
//! block's rows stay in registers across all of a child's terms, a few
//! columns at a time, instead of being loaded and stored once per term. Each
//! element still gets exactly the scalar loop's operations (one product and
//! one sum per term, no fused multiply-add, the terms in list order), so the
//! result is bit-identical to it whatever instruction set [`pulp::Arch`]
//! picks; the unit tests check that against the scalar loop.

use std::ops::Range;

use pulp::{Arch, Simd, WithSimd};

/// Rows per block (the splitter's `d/ds`, `d/dt` and offset rows).
pub(crate) const ROWS: usize = 3;

/// One correction: the source row's index and its coefficient for each row
/// of the block.
pub(crate) type Term = (usize, [f64; ROWS]);

/// Adds `c[k] * x.row(j)` to row `k` of `rows` for every term `(j, c)`, in
/// the order of `terms`: `rows` holds [`ROWS`] rows of `width` values, `x`
/// rows of `width` values each (row `j` at `x[j * width..]`).
pub(crate) fn add_terms(rows: &mut [f64], x: &[f64], width: usize, terms: &[Term]) {
    debug_assert_eq!(rows.len(), ROWS * width);
    debug_assert!(terms.iter().all(|&(j, _)| (j + 1) * width <= x.len()));
    if terms.is_empty() || width == 0 {
        return;
    }
    Arch::new().dispatch(AddTerms {
        rows,
        x,
        width,
        terms,
    });
}

/// The scalar loop [`add_terms`] is bit-identical to, on columns `cols` of
/// every row: the SIMD pass's tail, and the tests' reference on all columns.
fn add_columns_scalar(rows: &mut [f64], x: &[f64], width: usize, terms: &[Term], cols: Range<usize>) {
    for &(j, c) in terms {
        let source = &x[j * width..][cols.clone()];
        for (k, coef) in c.iter().enumerate() {
            let row = &mut rows[k * width..][cols.clone()];
            row.iter_mut().zip(source).for_each(|(y, x)| *y += coef * x);
        }
    }
}

struct AddTerms<'a> {
    rows: &'a mut [f64],
    x: &'a [f64],
    width: usize,
    terms: &'a [Term],
}

/// Vectors per row kept in registers at once: `ROWS * WIDE` accumulators,
/// `WIDE` loaded sources and a broadcast coefficient fit AVX2's 16 registers.
const WIDE: usize = 3;

impl WithSimd for AddTerms<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let AddTerms {
            rows,
            x,
            width,
            terms,
        } = self;
        let vectors = width / S::F64_LANES;
        let mut v = 0;
        while v + WIDE <= vectors {
            add_columns::<S, WIDE>(simd, rows, x, width, terms, v);
            v += WIDE;
        }
        while v < vectors {
            add_columns::<S, 1>(simd, rows, x, width, terms, v);
            v += 1;
        }
        add_columns_scalar(rows, x, width, terms, vectors * S::F64_LANES..width);
    }
}

/// [`AddTerms`] on vectors `v..v + N` of every row (whole vectors only).
#[inline(always)]
fn add_columns<S: Simd, const N: usize>(
    simd: S,
    rows: &mut [f64],
    x: &[f64],
    width: usize,
    terms: &[Term],
    v: usize,
) {
    let lanes = S::F64_LANES;
    let span = v * lanes..(v + N) * lanes;
    let mut acc = [[simd.splat_f64s(0.0); N]; ROWS];
    for (k, row_acc) in acc.iter_mut().enumerate() {
        let (head, _) = S::as_simd_f64s(&rows[k * width..][span.clone()]);
        row_acc.copy_from_slice(head);
    }
    for &(j, c) in terms {
        let (source, _) = S::as_simd_f64s(&x[j * width..][span.clone()]);
        for (row_acc, &coef) in acc.iter_mut().zip(&c) {
            let coef = simd.splat_f64s(coef);
            for (a, &s) in row_acc.iter_mut().zip(source) {
                *a = simd.add_f64s(*a, simd.mul_f64s(coef, s));
            }
        }
    }
    for (k, row_acc) in acc.iter().enumerate() {
        let (head, _) = S::as_mut_simd_f64s(&mut rows[k * width..][span.clone()]);
        head.copy_from_slice(row_acc);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::simd::tests::value;
    use proptest::prelude::*;

    proptest! {
        /// Bit for bit the scalar loop, for widths around the vector and
        /// block sizes and terms that repeat rows, on values with zeros of
        /// both signs, tiny and large magnitudes.
        #[test]
        fn matches_the_scalar_loop_bit_for_bit(
            width in 0usize..40,
            seed_rows in proptest::collection::vec(value(), 3 * 40),
            x in proptest::collection::vec(value(), 5 * 40),
            picks in proptest::collection::vec((0usize..5, value(), value(), value()), 0..9),
        ) {
            let x = &x[..5 * width];
            let terms: Vec<Term> = picks.iter().map(|&(j, a, b, c)| (j, [a, b, c])).collect();
            let mut fast = seed_rows[..3 * width].to_vec();
            let mut slow = fast.clone();
            add_terms(&mut fast, x, width, &terms);
            add_columns_scalar(&mut slow, x, width, &terms, 0..width);
            let bits = |v: &[f64]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            prop_assert_eq!(bits(&fast), bits(&slow));
        }
    }

    #[test]
    fn terms_add_in_order() {
        // 1e16 + 1 - 1e16 is 0 in f64 when summed left to right, 1 the other way.
        let width = 9;
        let x: Vec<f64> = [vec![1e16; width], vec![1.0; width], vec![-1e16; width]].concat();
        let mut rows = vec![0.0; 3 * width];
        add_terms(
            &mut rows,
            &x,
            width,
            &[(0, [1.0; 3]), (1, [1.0; 3]), (2, [1.0; 3])],
        );
        assert!(rows.iter().all(|&v| v == 0.0), "{rows:?}");
        let mut rows = vec![0.0; 3 * width];
        add_terms(
            &mut rows,
            &x,
            width,
            &[(0, [1.0, 2.0, 0.0]), (2, [1.0, 1.0, 0.0])],
        );
        assert_eq!(&rows[..width], &[0.0; 9]);
        assert_eq!(&rows[width..2 * width], &[1e16; 9]);
        assert_eq!(&rows[2 * width..], &[0.0; 9]);
    }
}
