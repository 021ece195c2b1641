//! The element-wise kernels of the f32 route ([`crate::backend::Precision::F32`]):
//! the same operations as their f64 versions in [`super::simd`], written as
//! plain slice loops that the compiler vectorises (branch-free selects), so
//! that the f32 route needs no second set of explicit SIMD kernels.

use ndarray::{ArrayViewMut2, Zip};

/// [`super::simd::bias_two_piece_record`] in `f32`: adds `bias` (when given)
/// to every row of `z`, applies the two-piece activation with
/// `slopes = [negative piece, positive piece]` in place and writes each
/// entry's piece (`1` when `z > 0`) to `choices`, one row at a time.
pub(crate) fn bias_two_piece_record(
    mut z: ArrayViewMut2<f32>,
    bias: Option<&[f32]>,
    mut choices: ArrayViewMut2<u8>,
    slopes: [f32; 2],
) {
    debug_assert_eq!(z.dim(), choices.dim());
    for (mut zr, mut cr) in z.rows_mut().into_iter().zip(choices.rows_mut()) {
        if let Some(b) = bias {
            zr.iter_mut().zip(b).for_each(|(v, b)| *v += b);
        }
        match (zr.as_slice_mut(), cr.as_slice_mut()) {
            (Some(zs), Some(cs)) => {
                for (v, c) in zs.iter_mut().zip(cs) {
                    let positive = *v > 0.0;
                    *c = u8::from(positive);
                    *v *= if positive { slopes[1] } else { slopes[0] };
                }
            }
            _ => Zip::from(&mut zr).and(&mut cr).for_each(|v, c| {
                *c = u8::from(*v > 0.0);
                *v *= slopes[usize::from(*c)];
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array2};

    /// The f64 kernels on the same values (exactly representable in f32) as the reference.
    fn as_f64(z: &Array2<f32>) -> Array2<f64> {
        z.mapv(f64::from)
    }

    fn sample() -> Array2<f32> {
        array![
            [0.0, -0.0, 1.5, -2.0, 1e-40, 3.0, -1.0],
            [-0.0, 0.0, 2.0, -1.0, -1e-30, 0.0, -4.0],
            [1.0, 0.0, -3.0, -1.0, 2.0, 5.0, -0.5]
        ]
    }

    #[test]
    fn two_piece_matches_the_f64_kernel() {
        // Bias values whose sums with the sample are exact in f32 (the
        // subnormal 1e-40 meets a zero), so both precisions agree bit for bit.
        let bias = [0.5f32, -0.5, 0.0, 1.0, 0.0, -3.0, 0.25];
        for slopes in [[0.0f32, 1.0], [0.25, 1.0], [-1.0, 1.0]] {
            for b in [None, Some(&bias[..])] {
                let mut z = sample();
                let mut c = Array2::zeros(z.dim());
                bias_two_piece_record(z.view_mut(), b, c.view_mut(), slopes);
                let mut z64 = as_f64(&sample());
                let mut c64 = Array2::zeros(z64.dim());
                let slopes64 = slopes.map(f64::from);
                let b64: Option<Vec<f64>> = b.map(|b| b.iter().map(|&v| f64::from(v)).collect());
                crate::kernels::simd::bias_two_piece_record(
                    z64.view_mut(),
                    b64.as_deref(),
                    c64.view_mut(),
                    slopes64,
                );
                assert_eq!(c, c64);
                assert_eq!(z.mapv(f64::from), z64);
            }
        }
    }
}
