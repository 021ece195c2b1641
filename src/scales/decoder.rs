//! The scores of a decoder [`Network`] at a batch of latent points.

use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2, Axis};
use rayon::prelude::*;

use super::{
    les_from_jacobian, les_grad_from_jacobian, polarity_from_jacobian, scales_v1_from_jacobian, OutputShape,
    Score, V1Options,
};
use crate::backend::cpu::ForwardJacobian;
use crate::backend::{CpuBackend, Keep};
use crate::batch::BatchOptions;
use crate::{Error, Network, Result};

/// Which score [`scores`] computes.
#[derive(Clone, Debug, PartialEq)]
pub enum ScoreKind {
    /// LES (the current reference).
    Les,
    /// The pure volume term `-1/2 log det(A^T A)`.
    Polarity,
    /// The first published ScaLES score.
    ScalesV1(V1Options),
}

fn check_shape(decoder: &Network, shape: OutputShape) -> Result<()> {
    if let OutputShape::Categorical { seq_len, vocab } = shape {
        if seq_len.checked_mul(vocab) != Some(decoder.output_dim()) || vocab == 0 {
            return Err(Error::shape(
                "categorical output shape",
                format!("seq_len x vocab = {}", decoder.output_dim()),
                format!("{seq_len} x {vocab}"),
            ));
        }
    }
    Ok(())
}

/// Exact Jacobians of the decoder at a chunk of latents, then `per_point` on
/// each (its logits and its Jacobian, `outputs x latent`, of any layout), in
/// parallel; chunks run one after another.
///
/// With the default backend and a decoder wider at the output than at the
/// input, each latent's Jacobian is made in forward mode right where it is
/// used, as `A^T` (so `per_point` sees it as a transposed view), instead of
/// storing a chunk of `outputs x latent` matrices first: `L V d` values per
/// latent (1.9 MB for the SMILES-sized decoder) stay in cache.
fn per_latent<T: Send>(
    decoder: &Network,
    z: ArrayView2<f64>,
    shape: OutputShape,
    opts: &BatchOptions,
    per_point: impl Fn(ArrayView1<f64>, ArrayView1<f64>, ArrayView2<f64>) -> Result<T> + Sync,
) -> Result<Vec<T>> {
    check_shape(decoder, shape)?;
    let fused = (opts.backend.is_none() && CpuBackend::prefers_forward_mode(decoder))
        .then(|| ForwardJacobian::new(decoder));
    let chunks = opts.run(z.nrows(), |a, b, backend| {
        let zc = z.slice(s![a..b, ..]);
        if let Some(forward) = &fused {
            let fwd = backend.forward(decoder, zc, Keep::Patterns)?;
            let patterns = fwd
                .patterns
                .ok_or_else(|| Error::invalid("forward pass", "the backend kept no patterns"))?;
            return (0..b - a)
                .into_par_iter()
                .map(|i| {
                    let at = forward.at(zc.row(i), patterns.row(i));
                    per_point(zc.row(i), fwd.outputs.row(i), at.t())
                })
                .collect::<Result<Vec<T>>>();
        }
        let jac = backend.jacobians(decoder, zc)?;
        (0..b - a)
            .into_par_iter()
            .map(|i| {
                per_point(
                    zc.row(i),
                    jac.outputs.row(i),
                    jac.jacobians.index_axis(Axis(0), i),
                )
            })
            .collect::<Result<Vec<T>>>()
    })?;
    Ok(chunks.into_iter().flatten().collect())
}

/// One score at every latent point (rows of `z`), with its rank flag.
///
/// # Errors
///
/// [`Error::Shape`] when `shape` does not tile the decoder's output or `z` has
/// the wrong width; [`Error::NonFinite`]; [`Error::Budget`] when cancelled.
pub fn scores(
    decoder: &Network,
    z: ArrayView2<f64>,
    shape: OutputShape,
    kind: &ScoreKind,
    opts: &BatchOptions,
) -> Result<Vec<Score>> {
    per_latent(decoder, z, shape, opts, |zi, logits, jac| match kind {
        ScoreKind::Les => les_from_jacobian(logits, jac, shape),
        ScoreKind::Polarity => polarity_from_jacobian(jac),
        ScoreKind::ScalesV1(v1) => scales_v1_from_jacobian(zi, logits, jac, shape, v1),
    })
}

fn values(scores: Vec<Score>) -> Array1<f64> {
    scores.iter().map(|s| s.value).collect()
}

/// LES at every latent point: `-1/2 log det(J^T J)`, exact (`+inf` where the
/// Jacobian is rank-deficient; see [`scores`] for the flags).
///
/// # Errors
///
/// As [`scores`].
///
/// # Examples
///
/// ```
/// use cpwl::scales::{les, OutputShape};
/// use cpwl::Network;
/// use ndarray::array;
/// // A linear decoder z -> logits of one position with three symbols.
/// let dec = Network::builder(2).dense(array![[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], array![0.0, 0.0, 0.0])?.build()?;
/// let s = les(&dec, array![[0.1, -0.2]].view(), OutputShape::Categorical { seq_len: 1, vocab: 3 })?;
/// assert!(s[0].is_finite());
/// # Ok::<(), cpwl::Error>(())
/// ```
///
/// # References
///
/// Ronen, Humayun, Balestriero, Baraniuk, Yu, arXiv 2406.09657.
pub fn les(decoder: &Network, z: ArrayView2<f64>, shape: OutputShape) -> Result<Array1<f64>> {
    scores(decoder, z, shape, &ScoreKind::Les, &BatchOptions::default()).map(values)
}

/// `-1/2 log det(A^T A)` at every latent point (`+inf` where rank-deficient).
///
/// # Errors
///
/// As [`scores`].
pub fn polarity(decoder: &Network, z: ArrayView2<f64>) -> Result<Array1<f64>> {
    scores(
        decoder,
        z,
        OutputShape::Continuous,
        &ScoreKind::Polarity,
        &BatchOptions::default(),
    )
    .map(values)
}

/// ScaLES v1 at every latent point (`-inf` where rank-deficient).
///
/// # Errors
///
/// As [`scores`]; [`Error::Invalid`] for bad options.
pub fn scales_v1(
    decoder: &Network,
    z: ArrayView2<f64>,
    shape: OutputShape,
    opts: &V1Options,
) -> Result<Array1<f64>> {
    scores(
        decoder,
        z,
        shape,
        &ScoreKind::ScalesV1(opts.clone()),
        &BatchOptions::default(),
    )
    .map(values)
}

/// The exact gradient of LES with respect to each latent point (rows), inside
/// each point's linear region; zero rows where the Jacobian is rank-deficient.
///
/// # Errors
///
/// As [`scores`].
pub fn les_grad(decoder: &Network, z: ArrayView2<f64>, shape: OutputShape) -> Result<Array2<f64>> {
    les_grad_with(decoder, z, shape, &BatchOptions::default())
}

/// [`les_grad`] with chunking, backend, progress and cancellation.
///
/// # Errors
///
/// As [`scores`].
pub fn les_grad_with(
    decoder: &Network,
    z: ArrayView2<f64>,
    shape: OutputShape,
    opts: &BatchOptions,
) -> Result<Array2<f64>> {
    let grads = per_latent(decoder, z, shape, opts, |_, logits, jac| {
        les_grad_from_jacobian(logits, jac, shape)
    })?;
    let mut out = Array2::zeros((grads.len(), decoder.input_dim()));
    for (mut row, g) in out.outer_iter_mut().zip(grads) {
        row.assign(&g.value);
    }
    Ok(out)
}
