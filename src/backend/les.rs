//! The LES Gram matrix of a categorical decoder, the reduction behind
//! [`crate::scales::les`], as a backend kernel: for each latent point,
//! `G = sum_t A_t^T [(D_t - p_t p_t^T)^2 + p_t p_t^T / Z_t^2] A_t`, with
//! `A_t` the Jacobian rows of position `t`, `p_t` its softmax and `Z_t` its
//! partition function.
//!
//! Written as one product: with `s_t = p_t^T A_t`, the rows
//! `p_tv (A_tv - s_t)` (that is `(D_t - p_t p_t^T) A_t`) and the row
//! `s_t / Z_t` give `G = X^T X`, where `X` stacks those `L (V + 1)` rows.
//! This is the plain-`f64` route: `1 / Z_t` is `exp(-log Z_t)`, which
//! overflows for logits below about -709 and underflows above 709;
//! [`crate::scales`] keeps the exact scaled route for such ranges.

use ndarray::{s, Array2, Array3, ArrayView1, ArrayView2, Axis};
use rayon::prelude::*;

use super::{Backend, LesGramBatch};
use crate::linalg::matmul_nt;
use crate::softmax::Softmax;
use crate::{Error, Network, Result};

/// Checks that `seq_len x vocab` tiles the decoder's outputs and the latent
/// points have the decoder's input width.
pub(crate) fn check_les(net: &Network, z: ArrayView2<f64>, seq_len: usize, vocab: usize) -> Result<()> {
    net.check_input_shape(z)?;
    if vocab == 0 || seq_len.checked_mul(vocab) != Some(net.output_dim()) {
        return Err(Error::shape(
            "LES output shape (seq_len x vocab)",
            format!("a tiling of {} outputs", net.output_dim()),
            format!("{seq_len} x {vocab}"),
        ));
    }
    Ok(())
}

/// The rows of `X^T` (d x L(V+1)) for one latent point: column `t V + v` is
/// `p_tv (A_tv - s_t)` (the difference taken around the top symbol, so that
/// a peaked softmax keeps it: `Softmax::centred`), column `L V + t` is
/// `s_t / Z_t`.
fn gram_factor(logits: ArrayView1<f64>, jac: ArrayView2<f64>, seq_len: usize, vocab: usize) -> Array2<f64> {
    let d = jac.ncols();
    let lv = seq_len * vocab;
    let mut xt = Array2::zeros((d, lv + seq_len));
    for t in 0..seq_len {
        let rows = t * vocab..(t + 1) * vocab;
        let soft = Softmax::of(logits.slice(s![rows.clone()]));
        let block = jac.slice(s![rows, ..]);
        let inv_z = (-soft.log_z).exp();
        for j in 0..d {
            let s_tj = soft.centred(block.column(j), |v, r| xt[[j, t * vocab + v]] = r);
            xt[[j, lv + t]] = s_tj * inv_z;
        }
    }
    xt
}

/// The LES Gram matrix (d x d) of one latent point from its logits and
/// Jacobian (`(L V) x d`).
pub(crate) fn les_gram(
    logits: ArrayView1<f64>,
    jac: ArrayView2<f64>,
    seq_len: usize,
    vocab: usize,
) -> Array2<f64> {
    let xt = gram_factor(logits, jac, seq_len, vocab);
    matmul_nt(xt.view(), xt.view())
}

/// [`Backend::les_grams`] from the backend's Jacobians, reduced on the CPU
/// (the default for backends without a fused kernel).
pub(crate) fn les_grams_from_jacobians<B: Backend + ?Sized>(
    backend: &B,
    net: &Network,
    z: ArrayView2<f64>,
    seq_len: usize,
    vocab: usize,
) -> Result<LesGramBatch> {
    check_les(net, z, seq_len, vocab)?;
    let jac = backend.jacobians(net, z)?;
    let d = net.input_dim();
    let per_point: Vec<Array2<f64>> = (0..z.nrows())
        .into_par_iter()
        .map(|i| {
            les_gram(
                jac.outputs.row(i),
                jac.jacobians.index_axis(Axis(0), i),
                seq_len,
                vocab,
            )
        })
        .collect();
    let mut grams = Array3::zeros((z.nrows(), d, d));
    for (mut target, g) in grams.outer_iter_mut().zip(&per_point) {
        target.assign(g);
    }
    Ok(LesGramBatch {
        outputs: jac.outputs,
        grams,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::CpuBackend;
    use ndarray::{array, Array1};

    /// `J^T J` with `J = blockdiag(S_t) A` formed densely, as the spec
    /// defines it: the top V rows of `S_t` are `diag(p) - p p^T`, the last
    /// `-p^T / Z`.
    fn dense_reference(
        logits: ArrayView1<f64>,
        a: ArrayView2<f64>,
        seq_len: usize,
        vocab: usize,
    ) -> Array2<f64> {
        let d = a.ncols();
        let mut j = Array2::<f64>::zeros((seq_len * (vocab + 1), d));
        for t in 0..seq_len {
            let l = logits.slice(s![t * vocab..(t + 1) * vocab]);
            let z: f64 = l.iter().map(|v| v.exp()).sum();
            let p: Vec<f64> = l.iter().map(|v| v.exp() / z).collect();
            let mut st = Array2::<f64>::zeros((vocab + 1, vocab));
            for r in 0..vocab {
                for c in 0..vocab {
                    st[[r, c]] = if r == c { p[r] } else { 0.0 } - p[r] * p[c];
                }
                st[[vocab, r]] = -p[r] / z;
            }
            let block = st.dot(&a.slice(s![t * vocab..(t + 1) * vocab, ..]));
            j.slice_mut(s![t * (vocab + 1)..(t + 1) * (vocab + 1), ..])
                .assign(&block);
        }
        j.t().dot(&j)
    }

    #[test]
    fn factored_gram_equals_the_dense_definition() {
        let a = array![
            [1.0, -0.5],
            [0.25, 2.0],
            [-1.5, 0.75],
            [0.5, 0.5],
            [2.0, -1.0],
            [0.0, 1.5]
        ];
        let logits = array![0.3, -1.2, 0.8, 2.0, -0.4, 0.1];
        let got = les_gram(logits.view(), a.view(), 2, 3);
        let want = dense_reference(logits.view(), a.view(), 2, 3);
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() <= 1e-14 * want.iter().fold(0.0_f64, |m, v| m.max(v.abs())));
        }
    }

    #[test]
    fn grams_of_a_decoder_match_per_point_reductions() {
        let net = Network::builder(2)
            .dense(
                array![[1.0, -1.0], [0.5, 2.0], [-1.0, 0.25]],
                Array1::from(vec![0.1, -0.2, 0.3]),
            )
            .unwrap()
            .relu()
            .dense(
                array![
                    [1.0, 0.0, 2.0],
                    [0.0, 1.0, -1.0],
                    [1.5, -0.5, 0.0],
                    [-1.0, 1.0, 1.0]
                ],
                Array1::zeros(4),
            )
            .unwrap()
            .build()
            .unwrap();
        let z = array![[0.3, -0.7], [1.0, 0.2], [-0.4, 0.9]];
        let batch = les_grams_from_jacobians(&CpuBackend::default(), &net, z.view(), 2, 2).unwrap();
        for (i, zi) in z.outer_iter().enumerate() {
            let logits = net.forward(zi).unwrap();
            let a = net.local_affine(zi).unwrap().a;
            let want = dense_reference(logits.view(), a.view(), 2, 2);
            let got = batch.grams.index_axis(Axis(0), i);
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() <= 1e-12 * (1.0 + w.abs()));
            }
        }
    }

    #[test]
    fn shapes_that_do_not_tile_the_outputs_are_errors() {
        let net = Network::builder(1)
            .dense(array![[1.0], [2.0], [3.0]], Array1::zeros(3))
            .unwrap()
            .build()
            .unwrap();
        let z = array![[0.5]];
        let cpu = CpuBackend::default();
        assert!(matches!(
            cpu.les_grams(&net, z.view(), 2, 2),
            Err(Error::Shape { .. })
        ));
        assert!(matches!(
            cpu.les_grams(&net, z.view(), 3, 0),
            Err(Error::Shape { .. })
        ));
        assert!(cpu.les_grams(&net, z.view(), 1, 3).is_ok());
    }
}
