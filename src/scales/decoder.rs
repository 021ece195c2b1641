//! The scores of a decoder [`Network`] at a batch of latent points.
//!
//! Every batch score is checked once here (options, output shape, latents)
//! and then runs in waves of [`RunOptions::chunk`](crate::run::RunOptions::chunk)
//! latents through the backend of its [`ScoreOptions`]: LES through
//! [`Backend::les_grams`] when the backend prefers it, otherwise through
//! [`Backend::jacobians`] (or, on the default CPU route, forward-mode
//! Jacobians made next to where they are used) and the exact reduction.

use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2, Axis};
use rayon::prelude::*;

use super::gram::GramFactor;
use super::logdet::{check_v1_options, les_checked, les_grad_checked, polarity_checked, scales_v1_status};
use super::{LatentStatus, OutputShape, ScoreOptions, ScoreReport, V1Options};
use crate::backend::cpu::ForwardJacobian;
use crate::backend::{check_rows, Backend, CpuBackend, Keep};
use crate::run::Watch;
use crate::softmax::Softmax;
use crate::tol::PLAIN_LES_LOG_RANGE;
use crate::waves::in_waves;
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

/// One latent's result and status.
type Latent<T> = (T, LatentStatus);

/// The latents finished by a run, in order, and how it ended.
struct Latents<T> {
    items: Vec<Latent<T>>,
    report: ScoreReport<()>,
}

/// Checks a batch once (options, shape, latents, then `extra`), then runs
/// `wave` on consecutive waves of latents with the run's backend and
/// threads, stopping between waves at the cancel flag or the time budget.
fn run_latents<T: Send>(
    decoder: &Network,
    z: ArrayView2<f64>,
    shape: OutputShape,
    opts: &ScoreOptions,
    wave: impl Fn(&dyn Backend, ArrayView2<f64>) -> Result<Vec<Latent<T>>> + Sync + Send,
) -> Result<Latents<T>> {
    let run = &opts.run;
    run.validate_f64("a ScaLES / LES score")?;
    check_shape(decoder, shape)?;
    decoder.check_input(z)?;
    let watch = Watch::new(run);
    let done = run.install(|| {
        run.with_backend_ref(|backend| {
            in_waves(&watch, z.nrows(), run.chunk_size(), |rows| {
                let got = wave(backend, z.slice(s![rows.clone(), ..]))?;
                debug_assert_eq!(got.len(), rows.len());
                Ok(got)
            })
        })
    })??;
    let mut status = vec![LatentStatus::NotComputed; z.nrows()];
    let items: Vec<Latent<T>> = done.parts.into_iter().flatten().collect();
    for (s, (_, st)) in status.iter_mut().zip(&items) {
        *s = *st;
    }
    Ok(Latents {
        items,
        report: ScoreReport {
            values: (),
            status,
            finished: done.finished,
            outcome: done.outcome,
        },
    })
}

/// One wave through exact Jacobians: `per_point` on each latent (its value,
/// logits and Jacobian, `outputs x latent`, of any layout), in parallel.
///
/// On the default backend with a decoder wider at the output than at the
/// input, each latent's Jacobian is made in forward mode right where it is
/// used, as `A^T` (so `per_point` sees it as a transposed view), instead of
/// storing a wave of `outputs x latent` matrices first: `L V d` values per
/// latent (1.9 MB for the SMILES-sized decoder) stay in cache.
fn jacobian_wave<T: Send>(
    decoder: &Network,
    backend: &dyn Backend,
    fused: Option<&ForwardJacobian<'_>>,
    zc: ArrayView2<f64>,
    per_point: &(impl Fn(ArrayView1<f64>, ArrayView1<f64>, ArrayView2<f64>) -> Latent<T> + Sync),
) -> Result<Vec<Latent<T>>> {
    let (n, m, d) = (zc.nrows(), decoder.output_dim(), decoder.input_dim());
    if let Some(forward) = fused {
        let fwd = backend.forward(decoder, zc, Keep::Patterns)?;
        let patterns = fwd
            .patterns
            .ok_or_else(|| Error::invalid("forward pass", "the backend kept no patterns"))?;
        check_rows("backend outputs", fwd.outputs.dim(), (n, m))?;
        check_rows("backend patterns", patterns.dim(), (n, decoder.unit_count()))?;
        return Ok((0..n)
            .into_par_iter()
            .map(|i| {
                let at = forward.at(zc.row(i), patterns.row(i));
                per_point(zc.row(i), fwd.outputs.row(i), at.t())
            })
            .collect());
    }
    let jac = backend.jacobians(decoder, zc)?;
    check_rows("backend outputs", jac.outputs.dim(), (n, m))?;
    let (jn, jm, jd) = jac.jacobians.dim();
    check_rows("backend Jacobians", (jn, jm * jd), (n, m * d))?;
    check_rows("backend Jacobian blocks", (jm, jd), (m, d))?;
    Ok((0..n)
        .into_par_iter()
        .map(|i| {
            per_point(
                zc.row(i),
                jac.outputs.row(i),
                jac.jacobians.index_axis(Axis(0), i),
            )
        })
        .collect())
}

/// The fused forward-mode route of the default CPU backend, when it applies.
fn fused_route<'a>(decoder: &'a Network, opts: &ScoreOptions) -> Option<ForwardJacobian<'a>> {
    (opts.run.backend.is_none() && CpuBackend::prefers_forward_mode(decoder))
        .then(|| ForwardJacobian::new(decoder))
}

/// `per_point` at every latent through exact Jacobians.
fn per_latent<T: Send>(
    decoder: &Network,
    z: ArrayView2<f64>,
    shape: OutputShape,
    opts: &ScoreOptions,
    per_point: impl Fn(ArrayView1<f64>, ArrayView1<f64>, ArrayView2<f64>) -> Latent<T> + Sync + Send,
) -> Result<Latents<T>> {
    let fused = fused_route(decoder, opts);
    run_latents(decoder, z, shape, opts, |backend, zc| {
        jacobian_wave(decoder, backend, fused.as_ref(), zc, &per_point)
    })
}

/// LES of one wave through the backend's [`Backend::les_grams`]: latents
/// whose logits keep the plain-`f64` Gram matrix in range
/// ([`PLAIN_LES_LOG_RANGE`]) and whose Gram matrix factors are done;
/// the others (far-out logits, singular matrices) take the exact scaled
/// route through [`Backend::jacobians`], for those latents only.
fn les_grams_wave(
    decoder: &Network,
    backend: &dyn Backend,
    zc: ArrayView2<f64>,
    seq_len: usize,
    vocab: usize,
) -> Result<Vec<Latent<f64>>> {
    let (n, d) = (zc.nrows(), decoder.input_dim());
    let batch = backend.les_grams(decoder, zc, seq_len, vocab)?;
    check_rows("backend outputs", batch.outputs.dim(), (n, seq_len * vocab))?;
    let (gn, gd, gd2) = batch.grams.dim();
    check_rows("backend LES Gram matrices", (gn, gd * gd2), (n, d * d))?;
    let rows = seq_len * (vocab + 1);
    let mut got: Vec<Option<Latent<f64>>> = (0..n)
        .into_par_iter()
        .map(|i| {
            let logits = batch.outputs.row(i);
            if !plain_route_holds(logits, vocab) {
                return None;
            }
            let factor = GramFactor::from_gram(batch.grams.index_axis(Axis(0), i).to_owned(), rows)?;
            Some((-0.5 * factor.log_det(), LatentStatus::Regular))
        })
        .collect();
    let exact: Vec<usize> = (0..n).filter(|&i| got[i].is_none()).collect();
    if !exact.is_empty() {
        let shape = OutputShape::Categorical { seq_len, vocab };
        let sub = zc.select(Axis(0), &exact);
        let fixed = jacobian_wave(decoder, backend, None, sub.view(), &|_, logits, jac| {
            les_checked(logits, jac, shape)
        })?;
        for (i, latent) in exact.into_iter().zip(fixed) {
            got[i] = Some(latent);
        }
    }
    Ok(got.into_iter().flatten().collect())
}

/// Whether every position's `|log Z_t|` and logit spread lie within
/// [`PLAIN_LES_LOG_RANGE`], so that a plain-`f64` LES Gram matrix holds
/// every term in the normal range of `f64`.
fn plain_route_holds(logits: ArrayView1<f64>, vocab: usize) -> bool {
    logits.exact_chunks(vocab).into_iter().all(|l| {
        let lo = l.fold(f64::INFINITY, |m, &v| m.min(v));
        let hi = l.fold(f64::NEG_INFINITY, |m, &v| m.max(v));
        let log_z = Softmax::of(l).log_z;
        hi - lo <= PLAIN_LES_LOG_RANGE && log_z.abs() <= PLAIN_LES_LOG_RANGE
    })
}

/// The values of finished latents, `NaN` for the others, in a report.
fn score_report(latents: Latents<f64>, n: usize) -> ScoreReport<Array1<f64>> {
    let mut values = Array1::from_elem(n, f64::NAN);
    for (v, (value, _)) in values.iter_mut().zip(latents.items) {
        *v = value;
    }
    ScoreReport {
        values,
        status: latents.report.status,
        finished: latents.report.finished,
        outcome: latents.report.outcome,
    }
}

/// One score at every latent point (rows of `z`), with each latent's
/// [`LatentStatus`] and how the run ended.
///
/// `z` and the options are checked once, here; the latents then go through
/// the backend of `opts.run` in waves of [`crate::run::RunOptions::chunk`]
/// latents (memory grows with the wave: one Jacobian per latent on the
/// Jacobian routes). LES takes [`Backend::les_grams`] when the backend
/// prefers it ([`Backend::prefers_les_grams`]), with the exact scaled route
/// for each latent whose logits would over- or underflow plain `f64`.
/// Cancellation and the time budget are checked between waves: a stop is
/// reported in [`ScoreReport::outcome`], with the latents finished so far;
/// one latent's saturation or rank deficiency never fails the batch.
///
/// # Errors
///
/// [`Error::Shape`] when `shape` does not tile the decoder's output or `z` has
/// the wrong width; [`Error::NonFinite`] naming the latent's row;
/// [`Error::Invalid`] for bad options; backend failures.
///
/// # Examples
///
/// ```
/// use cpwl::scales::{scores, LatentStatus, OutputShape, ScoreKind, ScoreOptions};
/// use cpwl::Network;
/// use ndarray::array;
/// let dec = Network::builder(2).dense(array![[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], array![0.0, 0.0, 0.0])?.build()?;
/// let shape = OutputShape::Categorical { seq_len: 1, vocab: 3 };
/// let report = scores(&dec, array![[0.1, -0.2]].view(), shape, &ScoreKind::Les, &ScoreOptions::default())?;
/// assert_eq!(report.status(), &[LatentStatus::Regular]);
/// assert!(report.outcome().is_complete());
/// # Ok::<(), cpwl::Error>(())
/// ```
pub fn scores(
    decoder: &Network,
    z: ArrayView2<f64>,
    shape: OutputShape,
    kind: &ScoreKind,
    opts: &ScoreOptions,
) -> Result<ScoreReport<Array1<f64>>> {
    let latents = match (kind, shape) {
        (ScoreKind::Les, OutputShape::Categorical { seq_len, vocab }) if prefers_les_grams(decoder, opts) => {
            run_latents(decoder, z, shape, opts, |backend, zc| {
                les_grams_wave(decoder, backend, zc, seq_len, vocab)
            })?
        }
        (ScoreKind::Les, _) => per_latent(decoder, z, shape, opts, |_, logits, jac| {
            les_checked(logits, jac, shape)
        })?,
        (ScoreKind::Polarity, _) => per_latent(decoder, z, shape, opts, |_, _, jac| polarity_checked(jac))?,
        (ScoreKind::ScalesV1(v1), _) => {
            check_v1_options(shape, v1)?;
            per_latent(decoder, z, shape, opts, |zi, logits, jac| {
                scales_v1_status(zi, logits, jac, shape, v1)
            })?
        }
    };
    Ok(score_report(latents, z.nrows()))
}

/// Whether the run's backend asks for [`Backend::les_grams`] on `decoder`.
fn prefers_les_grams(decoder: &Network, opts: &ScoreOptions) -> bool {
    opts.run
        .backend
        .as_ref()
        .is_some_and(|b| b.prefers_les_grams(decoder))
}

/// LES at every latent point: `-1/2 log det(J^T J)`, exact (`+inf` where the
/// Jacobian is rank-deficient or the softmax saturated; [`les_with`] says
/// which).
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
    les_with(decoder, z, shape, &ScoreOptions::default()).map(ScoreReport::into_values)
}

/// [`les`] with run options, per-latent statuses and the run's outcome.
///
/// # Errors
///
/// As [`scores`].
pub fn les_with(
    decoder: &Network,
    z: ArrayView2<f64>,
    shape: OutputShape,
    opts: &ScoreOptions,
) -> Result<ScoreReport<Array1<f64>>> {
    scores(decoder, z, shape, &ScoreKind::Les, opts)
}

/// `-1/2 log det(A^T A)` at every latent point (`+inf` where rank-deficient).
///
/// # Errors
///
/// As [`scores`].
pub fn polarity(decoder: &Network, z: ArrayView2<f64>) -> Result<Array1<f64>> {
    polarity_with(decoder, z, &ScoreOptions::default()).map(ScoreReport::into_values)
}

/// [`polarity`] with run options, per-latent statuses (never
/// [`LatentStatus::Saturated`]: polarity sees no softmax) and the run's
/// outcome.
///
/// # Errors
///
/// As [`scores`].
pub fn polarity_with(
    decoder: &Network,
    z: ArrayView2<f64>,
    opts: &ScoreOptions,
) -> Result<ScoreReport<Array1<f64>>> {
    scores(decoder, z, OutputShape::Continuous, &ScoreKind::Polarity, opts)
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
    scales_v1_with(decoder, z, shape, opts, &ScoreOptions::default()).map(ScoreReport::into_values)
}

/// [`scales_v1`] with run options, per-latent statuses (the ones LES
/// reports) and the run's outcome.
///
/// # Errors
///
/// As [`scales_v1`].
pub fn scales_v1_with(
    decoder: &Network,
    z: ArrayView2<f64>,
    shape: OutputShape,
    v1: &V1Options,
    opts: &ScoreOptions,
) -> Result<ScoreReport<Array1<f64>>> {
    scores(decoder, z, shape, &ScoreKind::ScalesV1(v1.clone()), opts)
}

/// The exact gradient of LES with respect to each latent point (rows), inside
/// each point's linear region: zero rows where LES is infinite, `NaN` rows
/// where the gradient overflows at a saturated softmax ([`les_grad_with`]
/// says which).
///
/// # Errors
///
/// As [`scores`].
pub fn les_grad(decoder: &Network, z: ArrayView2<f64>, shape: OutputShape) -> Result<Array2<f64>> {
    les_grad_with(decoder, z, shape, &ScoreOptions::default()).map(ScoreReport::into_values)
}

/// [`les_grad`] with run options, per-latent statuses (the ones LES
/// reports, and [`LatentStatus::Saturated`] where the gradient overflows)
/// and the run's outcome; rows of latents not computed are `NaN`.
///
/// # Errors
///
/// As [`scores`].
pub fn les_grad_with(
    decoder: &Network,
    z: ArrayView2<f64>,
    shape: OutputShape,
    opts: &ScoreOptions,
) -> Result<ScoreReport<Array2<f64>>> {
    let latents = per_latent(decoder, z, shape, opts, |_, logits, jac| {
        let (gradient, status) = les_grad_checked(logits, jac, shape);
        (gradient.value, status)
    })?;
    let mut values = Array2::from_elem((z.nrows(), decoder.input_dim()), f64::NAN);
    for (mut row, (g, _)) in values.outer_iter_mut().zip(latents.items) {
        row.assign(&g);
    }
    Ok(ScoreReport {
        values,
        status: latents.report.status,
        finished: latents.report.finished,
        outcome: latents.report.outcome,
    })
}
