//! The scores of one latent point from its logits and exact Jacobian.
//!
//! Notation: `l` holds the logits (`L` positions of `V` symbols, position-major),
//! `A = dl/dz` is `(L V) x d` with `V x d` blocks `A_t`, `p_t = softmax(l_t)`,
//! `Z_t = sum_v exp(l_tv)` and `M_t = diag(p_t) - p_t p_t^T`.
//!
//! Every score is a log-determinant of a `d x d` Gram matrix `C^T C`, where `C`
//! stacks a few rows per position. The `L (V + 1) x L V` softmax Jacobian is
//! never formed: `C^T` is built position by position (cost `O(L V d)`, the
//! size of `A`) and its Gram matrix is one GEMM (`O(L V d^2)`). Softmax and `log Z_t` come from log-sum-exp; the row factors
//! `1 / Z_t` and `1 / p_tv` are carried as logarithms (see `gram.rs`).

use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2, Axis};

use super::gram::{times_exp, GramFactor, TransposedRows};
use super::options::{Gradient, LatentStatus, OutputShape, Score, V1Options};
use crate::error::{check_finite, Error, Result};
use crate::softmax::Softmax;
use crate::tol::SATURATION_LOGIT_SPREAD;

/// LES at one latent point: `-1/2 log det(J^T J)`.
///
/// For categorical outputs `J = blockdiag(S_t) A`, where `S_t` stacks
/// `M_t` over the row `-p_t^T / Z_t` (the derivative of `1 / Z_t`), so
/// `J^T J = sum_t A_t^T (M_t^2 + p_t p_t^T / Z_t^2) A_t`. For continuous outputs
/// there is no softmax and LES is the [polarity](polarity_from_jacobian).
///
/// # Arguments
///
/// - `logits`: the decoder's output at `z` (`L V` values, or the continuous output).
/// - `jac`: the exact Jacobian of that output with respect to `z`, `len(logits) x d`.
/// - `shape`: how to read the output.
///
/// # Returns
///
/// The score, or `+inf` with `full_rank == false` when `J` lacks full column rank
/// (for example `d > L V` or dead units).
///
/// # Errors
///
/// [`Error::Shape`] when the lengths disagree with each other or with `shape`,
/// [`Error::Invalid`] for an empty shape, [`Error::NonFinite`] for NaN or
/// infinite inputs.
///
/// # Complexity
///
/// `O(L V d^2 + d^3)` time, `O(L V d)` memory.
pub fn les_from_jacobian(logits: ArrayView1<f64>, jac: ArrayView2<f64>, shape: OutputShape) -> Result<Score> {
    check_inputs(logits, jac, shape)?;
    match shape {
        OutputShape::Continuous => Ok(polarity(jac)),
        OutputShape::Categorical { vocab, .. } => Ok(volume_score(les_factor(logits, jac, vocab))),
    }
}

/// Polarity at one latent point: `-1/2 log det(A^T A)`, the log-volume term of
/// the pushforward density through the affine piece `A z + b`.
///
/// # Returns
///
/// The score, or `+inf` with `full_rank == false` when `A` lacks full column rank.
///
/// # Errors
///
/// [`Error::Shape`] for a Jacobian without columns, [`Error::NonFinite`] for
/// NaN or infinite entries.
///
/// # Example
///
/// ```
/// use cpwl::scales::polarity_from_jacobian;
/// use ndarray::array;
///
/// // A square decoder: the score is -log |det A| = -log 6.
/// let a = array![[2.0, 1.0], [0.0, 3.0]];
/// let score = polarity_from_jacobian(a.view())?;
/// assert!(score.full_rank);
/// assert!((score.value + 6f64.ln()).abs() < 1e-14);
/// # Ok::<(), cpwl::Error>(())
/// ```
pub fn polarity_from_jacobian(jac: ArrayView2<f64>) -> Result<Score> {
    check_jacobian(jac)?;
    Ok(polarity(jac))
}

/// ScaLES v1 at one latent point:
/// `-1/2 |z|^2 + tau * sum_i log sigma_i(A^+ P^T)`.
///
/// `P^T` is block diagonal with `V x (V + 1)` blocks `[diag(1 / p_t) | 1 / Z_t]`.
/// With `A` of full column rank, `g g^T = G^-1 (A^T H A) G^-1` for `G = A^T A`
/// and `H = blockdiag(diag(1 / p_t^2) + 1 1^T / Z_t^2)`, so the sum of log
/// singular values is `1/2 log det(A^T H A) - log det(A^T A)`. For continuous
/// outputs `P^T` is the identity and the sum is the polarity. With
/// `max_positions = Some(k)` only the first `k` positions of the logits and of
/// `A` enter (as in the reference). The prior term is added when `opts.prior`.
///
/// # Returns
///
/// The score, or `-inf` with `full_rank == false` when `A` lacks full column rank.
///
/// # Errors
///
/// As [`les_from_jacobian`], plus [`Error::Shape`] when `z` has not `d` entries
/// and [`Error::Invalid`] for a non-finite `tau`, `max_positions == Some(0)` or
/// a truncation of a continuous output.
pub fn scales_v1_from_jacobian(
    z: ArrayView1<f64>,
    logits: ArrayView1<f64>,
    jac: ArrayView2<f64>,
    shape: OutputShape,
    opts: &V1Options,
) -> Result<Score> {
    check_inputs(logits, jac, shape)?;
    check_latent(z, jac.ncols())?;
    check_v1_options(shape, opts)?;
    Ok(scales_v1_checked(z, logits, jac, shape, opts))
}

/// Checks the ScaLES v1 options against the output shape.
pub(super) fn check_v1_options(shape: OutputShape, opts: &V1Options) -> Result<()> {
    if !opts.tau.is_finite() {
        return Err(Error::invalid("tau", format!("{} is not finite", opts.tau)));
    }
    check_truncation(shape, opts.max_positions)
}

/// [`scales_v1_from_jacobian`] on checked inputs.
fn scales_v1_checked(
    z: ArrayView1<f64>,
    logits: ArrayView1<f64>,
    jac: ArrayView2<f64>,
    shape: OutputShape,
    opts: &V1Options,
) -> Score {
    // The options were checked by the caller: a failure cannot happen here.
    let (logits, jac) = truncated(logits, jac, shape, opts.max_positions).unwrap_or((logits, jac));
    let log_volume = match shape {
        OutputShape::Continuous => polarity(jac),
        OutputShape::Categorical { vocab, .. } => v1_log_volume(logits, jac, vocab),
    };
    if !log_volume.full_rank {
        return Score {
            value: f64::NEG_INFINITY,
            full_rank: false,
        };
    }
    let prior = if opts.prior { -0.5 * z.dot(&z) } else { 0.0 };
    Score {
        value: prior + opts.tau * log_volume.value,
        full_rank: true,
    }
}

/// The exact gradient of LES with respect to `z` inside the linear region of `z`.
///
/// `A` is constant on the region, so the gradient flows through `p_t` and `Z_t`:
/// with `G = J^T J`, `W_t = A_t G^-1 A_t^T`, `N_t = W_t M_t`,
/// `c_t = diag(N_t) - (N_t + N_t^T) p_t` and `w_t = W_t p_t`,
///
/// `dLES/dz = - sum_t A_t^T [ M_t c_t + (p_t o w_t - 2 (p_t . w_t) p_t) / Z_t^2 ]`
///
/// (from `d(-1/2 log det G) = -1/2 tr(G^-1 dG)`, `dp_t = M_t A_t dz`,
/// `dZ_t = Z_t p_t^T A_t dz`). For continuous outputs LES is constant on the
/// region and the gradient is zero.
///
/// # Returns
///
/// The gradient, or zeros with `full_rank == false` where LES is infinite.
///
/// # Errors
///
/// As [`les_from_jacobian`]; [`Error::NonFinite`] (what: `LES gradient
/// component`) when the gradient itself overflows at a saturated softmax
/// (the batch [`super::les_grad`] reports such a latent as
/// [`LatentStatus::Saturated`] with a `NaN` row instead).
///
/// # Complexity
///
/// `O(L V d^2 + L V^2 d + d^3)` time.
pub fn les_grad_from_jacobian(
    logits: ArrayView1<f64>,
    jac: ArrayView2<f64>,
    shape: OutputShape,
) -> Result<Gradient> {
    check_inputs(logits, jac, shape)?;
    let (gradient, _) = les_grad_checked(logits, jac, shape);
    check_finite("LES gradient component", gradient.value.iter())?;
    Ok(gradient)
}

/// LES at one latent point on checked inputs, with its [`LatentStatus`].
pub(super) fn les_checked(
    logits: ArrayView1<f64>,
    jac: ArrayView2<f64>,
    shape: OutputShape,
) -> (f64, LatentStatus) {
    match shape {
        OutputShape::Continuous => polarity_checked(jac),
        OutputShape::Categorical { vocab, .. } => match les_factor(logits, jac, vocab) {
            Some(f) => (-0.5 * f.log_det(), softmax_status(logits, vocab)),
            None => (f64::INFINITY, singular_les_status(jac)),
        },
    }
}

/// Polarity at one latent point on checked inputs, with its status (never
/// [`LatentStatus::Saturated`]: polarity sees no softmax).
pub(super) fn polarity_checked(jac: ArrayView2<f64>) -> (f64, LatentStatus) {
    let score = polarity(jac);
    let status = if score.full_rank {
        LatentStatus::Regular
    } else {
        LatentStatus::RankDeficient
    };
    (score.value, status)
}

/// ScaLES v1 at one latent point on checked inputs, with the status LES
/// would report there (so that the scores agree), or
/// [`LatentStatus::RankDeficient`] when the (truncated) Jacobian is.
pub(super) fn scales_v1_status(
    z: ArrayView1<f64>,
    logits: ArrayView1<f64>,
    jac: ArrayView2<f64>,
    shape: OutputShape,
    opts: &V1Options,
) -> (f64, LatentStatus) {
    let score = scales_v1_checked(z, logits, jac, shape, opts);
    if !score.full_rank {
        return (score.value, LatentStatus::RankDeficient);
    }
    (score.value, les_checked(logits, jac, shape).1)
}

/// The exact LES gradient at one latent point on checked inputs, with its
/// status: zeros (and `full_rank == false`) where LES is infinite, `NaN`
/// where the gradient overflows.
pub(super) fn les_grad_checked(
    logits: ArrayView1<f64>,
    jac: ArrayView2<f64>,
    shape: OutputShape,
) -> (Gradient, LatentStatus) {
    let d = jac.ncols();
    let no_gradient = |status: LatentStatus| {
        let gradient = Gradient {
            value: Array1::zeros(d),
            full_rank: status == LatentStatus::Regular,
        };
        (gradient, status)
    };
    let OutputShape::Categorical { vocab, .. } = shape else {
        return no_gradient(polarity_checked(jac).1);
    };
    let Some(factor) = les_factor(logits, jac, vocab) else {
        return no_gradient(singular_les_status(jac));
    };
    let value = les_grad_value(logits, jac, vocab, &factor);
    if !value.iter().all(|g| g.is_finite()) {
        let overflowed = Gradient {
            value: Array1::from_elem(d, f64::NAN),
            full_rank: true,
        };
        return (overflowed, LatentStatus::Saturated);
    }
    let status = softmax_status(logits, vocab);
    (
        Gradient {
            value,
            full_rank: true,
        },
        status,
    )
}

/// [`LatentStatus::Saturated`] when some position's logit spread exceeds
/// [`SATURATION_LOGIT_SPREAD`], else [`LatentStatus::Regular`].
fn softmax_status(logits: ArrayView1<f64>, vocab: usize) -> LatentStatus {
    let saturated = logits.exact_chunks(vocab).into_iter().any(|l| {
        let (lo, hi) = l.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
        hi - lo > SATURATION_LOGIT_SPREAD
    });
    if saturated {
        LatentStatus::Saturated
    } else {
        LatentStatus::Regular
    }
}

/// Why the LES Gram matrix is singular: `A` itself lacks full column rank,
/// or the softmax has squeezed a direction below working precision.
fn singular_les_status(jac: ArrayView2<f64>) -> LatentStatus {
    if jacobian_factor(jac).is_none() {
        LatentStatus::RankDeficient
    } else {
        LatentStatus::Saturated
    }
}

/// The gradient sum of [`les_grad_from_jacobian`] from the LES factor.
fn les_grad_value(
    logits: ArrayView1<f64>,
    jac: ArrayView2<f64>,
    vocab: usize,
    factor: &GramFactor,
) -> Array1<f64> {
    let mut grad = Array1::zeros(jac.ncols());
    for (l_t, a_t) in positions(logits, jac, vocab) {
        let soft = Softmax::of(l_t);
        let y = factor.whiten(a_t);
        // W_t / Z_t^2 from Y_t / Z_t: when the normaliser rows dominate, W_t is
        // of order Z_t^2 and may underflow while W_t / Z_t^2 stays of order one.
        let y_over_z = times_exp(y.view(), -soft.log_z);
        let weights = les_grad_weights(&soft, y.t().dot(&y).view(), y_over_z.t().dot(&y_over_z).view());
        grad -= &a_t.t().dot(&weights);
    }
    grad
}

/// The vector `u_t` with `dLES/dz = -sum_t A_t^T u_t` (see [`les_grad_from_jacobian`]),
/// from `W_t` and `W_t / Z_t^2`.
///
/// Every product with `M = diag(p) - p p^T` goes through
/// [`Softmax::centred`]: for a peaked softmax `M x` is of the size of
/// `1 - p_top`, which the plain forms (`diag(W) - W p`, `p o p - |p|^2 p`)
/// lose once `p_top` rounds to 1 (the gradient off by 5e-8 at a logit spread
/// of 20 and by O(1) from about 37).
fn les_grad_weights(soft: &Softmax, w: ArrayView2<f64>, w_over_z_sq: ArrayView2<f64>) -> Array1<f64> {
    let p = &soft.p;
    // N = W M, so diag(N)_v = (M w_v)_v for the row w_v of W, N p = W (M p)
    // and N^T p = M W p (W is symmetric).
    let diag_n: Array1<f64> = w
        .rows()
        .into_iter()
        .enumerate()
        .map(|(v, w_v)| {
            let mut entry = 0.0;
            soft.centred(w_v, |u, r| {
                if u == v {
                    entry = r;
                }
            });
            entry
        })
        .collect();
    let n_p = w.dot(&times_m(soft, p.view()));
    let nt_p = times_m(soft, w.dot(p).view());
    let c = diag_n - n_p - nt_p;
    let m_c = times_m(soft, c.view());
    let wp_z = w_over_z_sq.dot(p);
    let normaliser = p * &wp_z - p * (2.0 * p.dot(&wp_z));
    m_c + normaliser
}

/// `M x = (diag(p) - p p^T) x` for the softmax `p`, by [`Softmax::centred`].
fn times_m(soft: &Softmax, x: ArrayView1<f64>) -> Array1<f64> {
    let mut out = Array1::zeros(x.len());
    soft.centred(x, |v, r| out[v] = r);
    out
}

fn polarity(jac: ArrayView2<f64>) -> Score {
    volume_score(jacobian_factor(jac))
}

/// `-1/2 log det` of a factored Gram matrix, `+inf` when it is singular.
fn volume_score(factor: Option<GramFactor>) -> Score {
    match factor {
        Some(f) => Score {
            value: -0.5 * f.log_det(),
            full_rank: true,
        },
        None => Score {
            value: f64::INFINITY,
            full_rank: false,
        },
    }
}

/// `1/2 log det(A^T H A) - log det(A^T A)`, the v1 sum of log singular values
/// (as a [`Score`] whose `full_rank` tells whether `A` has full column rank).
fn v1_log_volume(logits: ArrayView1<f64>, jac: ArrayView2<f64>, vocab: usize) -> Score {
    match (jacobian_factor(jac), v1_factor(logits, jac, vocab)) {
        (Some(g), Some(h)) => Score {
            value: 0.5 * h.log_det() - g.log_det(),
            full_rank: true,
        },
        _ => Score {
            value: f64::NEG_INFINITY,
            full_rank: false,
        },
    }
}

/// `A^T A`, factored.
fn jacobian_factor(jac: ArrayView2<f64>) -> Option<GramFactor> {
    let d = jac.ncols();
    GramFactor::new(TransposedRows {
        plain: jac.t().as_standard_layout().into_owned(),
        scaled: Array2::zeros((d, 0)),
        log_scale: Vec::new(),
    })
}

/// `J^T J`, factored; the rows of `J` are, per position, `M_t A_t` and then
/// `-(p_t^T A_t) / Z_t`.
///
/// Works on `A^T` (one latent coordinate per row, contiguous over the
/// outputs), which the forward-mode Jacobian produces directly: row `j` of
/// `(M_t A_t)^T` is `p_t o (a_j - (p_t . a_j) 1)` for `a_j` the position's
/// slice of row `j` of `A^T`, the differences taken around the top symbol
/// so that a peaked softmax keeps them (`Softmax::centred`).
fn les_factor(logits: ArrayView1<f64>, jac: ArrayView2<f64>, vocab: usize) -> Option<GramFactor> {
    let at = jac.t();
    let at = at.as_standard_layout();
    let (d, outputs) = at.dim();
    let seq_len = outputs / vocab;
    let soft: Vec<Softmax> = logits.exact_chunks(vocab).into_iter().map(Softmax::of).collect();
    let mut centred = Vec::with_capacity(d * outputs);
    let mut means = Vec::with_capacity(d * seq_len);
    for a_row in at.rows() {
        let a_row = a_row.as_slice().expect("standard layout");
        for (s, a) in soft.iter().zip(a_row.chunks_exact(vocab)) {
            let m = s.centred(ArrayView1::from(a), |_, r| centred.push(r));
            means.push(-m);
        }
    }
    GramFactor::new(TransposedRows {
        plain: Array2::from_shape_vec((d, outputs), centred).expect("one value per output and coordinate"),
        scaled: Array2::from_shape_vec((d, seq_len), means).expect("one value per position and coordinate"),
        log_scale: soft.iter().map(|s| -s.log_z).collect(),
    })
}

/// `A^T H A`, factored; the rows of `blockdiag(P_t) A` are, per position,
/// `A_t`'s rows divided by `p_tv` and then their sum divided by `Z_t`.
fn v1_factor(logits: ArrayView1<f64>, jac: ArrayView2<f64>, vocab: usize) -> Option<GramFactor> {
    let seq_len = logits.len() / vocab;
    let d = jac.ncols();
    let mut scaled = Array2::zeros((d, logits.len() + seq_len));
    let mut log_scale = Vec::with_capacity(logits.len() + seq_len);
    let mut log_z = Vec::with_capacity(seq_len);
    for (t, (l_t, a_t)) in positions(logits, jac, vocab).enumerate() {
        let lz = Softmax::of(l_t).log_z;
        scaled
            .slice_mut(s![.., t * vocab..(t + 1) * vocab])
            .assign(&a_t.t());
        log_scale.extend(l_t.iter().map(|&l| lz - l));
        scaled.column_mut(logits.len() + t).assign(&a_t.sum_axis(Axis(0)));
        log_z.push(lz);
    }
    log_scale.extend(log_z.iter().map(|lz| -lz));
    GramFactor::new(TransposedRows {
        plain: Array2::zeros((d, 0)),
        scaled,
        log_scale,
    })
}

/// Each position's logits and Jacobian block.
fn positions<'a>(
    logits: ArrayView1<'a, f64>,
    jac: ArrayView2<'a, f64>,
    vocab: usize,
) -> impl Iterator<Item = (ArrayView1<'a, f64>, ArrayView2<'a, f64>)> {
    (0..logits.len() / vocab).map(move |t| {
        let rows = t * vocab..(t + 1) * vocab;
        (logits.slice_move(s![rows.clone()]), jac.slice_move(s![rows, ..]))
    })
}

fn check_jacobian(jac: ArrayView2<f64>) -> Result<()> {
    if jac.ncols() == 0 || jac.nrows() == 0 {
        return Err(Error::shape(
            "jacobian",
            "at least one row and one latent column",
            format!("{} x {}", jac.nrows(), jac.ncols()),
        ));
    }
    // A pass in memory order first (the Jacobian may be a transposed view);
    // the logical order only to name the first bad entry.
    let all_finite = match jac.as_slice_memory_order() {
        Some(values) => values.iter().all(|v| v.is_finite()),
        None => jac.iter().all(|v| v.is_finite()),
    };
    if all_finite {
        return Ok(());
    }
    check_finite("jacobian", jac.iter())
}

fn check_inputs(logits: ArrayView1<f64>, jac: ArrayView2<f64>, shape: OutputShape) -> Result<()> {
    check_jacobian(jac)?;
    if logits.len() != jac.nrows() {
        return Err(Error::shape(
            "logits",
            format!("{} values (one per Jacobian row)", jac.nrows()),
            logits.len(),
        ));
    }
    if let OutputShape::Categorical { seq_len, vocab } = shape {
        if seq_len == 0 || vocab == 0 {
            return Err(Error::invalid(
                "output shape",
                format!("{seq_len} positions of {vocab} symbols"),
            ));
        }
        if seq_len.checked_mul(vocab) != Some(logits.len()) {
            return Err(Error::shape(
                "logits",
                format!("{seq_len} x {vocab} = seq_len x vocab values"),
                logits.len(),
            ));
        }
    }
    check_finite("logits", logits.iter())
}

fn check_latent(z: ArrayView1<f64>, dim: usize) -> Result<()> {
    if z.len() != dim {
        return Err(Error::shape("z", format!("{dim} entries"), z.len()));
    }
    check_finite("z", z.iter())
}

/// Checks a truncation: categorical outputs only, at least one position.
fn check_truncation(shape: OutputShape, max_positions: Option<usize>) -> Result<()> {
    match (max_positions, shape) {
        (None, _) => Ok(()),
        (Some(_), OutputShape::Continuous) => Err(Error::invalid(
            "max_positions",
            "truncation needs a categorical output shape",
        )),
        (Some(0), _) => Err(Error::invalid("max_positions", "must be at least 1")),
        (Some(_), _) => Ok(()),
    }
}

/// The logits and Jacobian rows of the first `max_positions` positions.
fn truncated<'a>(
    logits: ArrayView1<'a, f64>,
    jac: ArrayView2<'a, f64>,
    shape: OutputShape,
    max_positions: Option<usize>,
) -> Result<(ArrayView1<'a, f64>, ArrayView2<'a, f64>)> {
    check_truncation(shape, max_positions)?;
    let (Some(keep), OutputShape::Categorical { seq_len, vocab }) = (max_positions, shape) else {
        return Ok((logits, jac));
    };
    let rows = keep.min(seq_len) * vocab;
    Ok((logits.slice_move(s![..rows]), jac.slice_move(s![..rows, ..])))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array1, Array2};

    /// A deterministic pseudo-random matrix with entries in [-1, 1).
    fn test_matrix(rows: usize, cols: usize, seed: u64) -> Array2<f64> {
        let mut state = seed;
        Array2::from_shape_simple_fn((rows, cols), || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        })
    }

    fn categorical(seq_len: usize, vocab: usize) -> OutputShape {
        OutputShape::Categorical { seq_len, vocab }
    }

    /// `-1/2 log det(J^T J)` with `J` formed densely and its determinant by
    /// Gaussian elimination: an independent check of the streamed formula.
    fn les_dense(logits: ArrayView1<f64>, jac: ArrayView2<f64>, vocab: usize) -> f64 {
        let seq_len = logits.len() / vocab;
        let mut s_block = Array2::zeros((seq_len * (vocab + 1), seq_len * vocab));
        for t in 0..seq_len {
            let l = logits.slice(s![t * vocab..(t + 1) * vocab]);
            let e = l.mapv(f64::exp);
            let z = e.sum();
            let p = &e / z;
            for u in 0..vocab {
                for v in 0..vocab {
                    let delta = if u == v { p[u] } else { 0.0 };
                    s_block[[t * (vocab + 1) + u, t * vocab + v]] = delta - p[u] * p[v];
                }
                s_block[[t * (vocab + 1) + vocab, t * vocab + u]] = -p[u] / z;
            }
        }
        let j = s_block.dot(&jac);
        -0.5 * det_by_elimination(j.t().dot(&j)).ln()
    }

    fn det_by_elimination(mut m: Array2<f64>) -> f64 {
        let n = m.nrows();
        let mut det = 1.0;
        for k in 0..n {
            let pivot = (k..n)
                .max_by(|&a, &b| m[[a, k]].abs().total_cmp(&m[[b, k]].abs()))
                .unwrap();
            if pivot != k {
                for c in 0..n {
                    m.swap([k, c], [pivot, c]);
                }
                det = -det;
            }
            det *= m[[k, k]];
            for r in k + 1..n {
                let f = m[[r, k]] / m[[k, k]];
                for c in k..n {
                    m[[r, c]] -= f * m[[k, c]];
                }
            }
        }
        det
    }

    #[test]
    fn polarity_of_a_square_decoder_is_minus_log_abs_det() {
        for seed in 0..5 {
            let a = test_matrix(4, 4, seed);
            let score = polarity_from_jacobian(a.view()).unwrap();
            let expected = -det_by_elimination(a.clone()).abs().ln();
            assert!(score.full_rank);
            assert!((score.value - expected).abs() < 1e-12 * expected.abs().max(1.0));
            let les = les_from_jacobian(Array1::zeros(4).view(), a.view(), OutputShape::Continuous).unwrap();
            assert_eq!(les, score);
        }
    }

    #[test]
    fn les_equals_the_dense_formula() {
        for (seq_len, vocab, d, seed) in [(3, 5, 4, 1), (2, 7, 9, 2), (1, 4, 3, 3), (6, 2, 5, 4)] {
            let jac = test_matrix(seq_len * vocab, d, seed);
            let logits = test_matrix(seq_len * vocab, 1, seed + 100)
                .column(0)
                .mapv(|v| 3.0 * v);
            let got = les_from_jacobian(logits.view(), jac.view(), categorical(seq_len, vocab)).unwrap();
            let expected = les_dense(logits.view(), jac.view(), vocab);
            assert!(got.full_rank);
            assert!(
                (got.value - expected).abs() < 1e-10 * expected.abs().max(1.0),
                "{seq_len}x{vocab}, d={d}: {} vs {expected}",
                got.value
            );
        }
    }

    #[test]
    fn les_stays_exact_when_one_over_z_overflows() {
        // Shifting all logits by c keeps every p_t and scales the rows
        // -p_t^T A_t / Z_t by e^-c. With L >= d those rows alone span R^d, so for
        // c -> -inf, log det(J^T J) = -2 c d + const + O(e^2c) and LES = c d - const / 2:
        // LES moves by exactly 400 d between c = -400 and c = -800, where
        // 1 / Z_t^2 (about e^800 and e^1600) is far outside the range of f64.
        let (seq_len, vocab, d) = (5, 3, 4);
        let jac = test_matrix(seq_len * vocab, d, 7);
        let logits = test_matrix(seq_len * vocab, 1, 8).column(0).to_owned();
        let shape = categorical(seq_len, vocab);
        let les_shifted =
            |c: f64| les_from_jacobian(logits.mapv(|v| v + c).view(), jac.view(), shape).unwrap();
        let (near, far) = (les_shifted(-400.0), les_shifted(-800.0));
        assert!(near.full_rank && far.full_rank);
        let moved = far.value - near.value;
        assert!(
            (moved + 400.0 * d as f64).abs() < 1e-10 * 1600.0,
            "moved by {moved}"
        );
    }

    #[test]
    fn rank_deficiency_gives_flagged_infinities() {
        // d = 5 > L V = 4.
        let jac = test_matrix(4, 5, 3);
        let logits = Array1::zeros(4);
        let shape = categorical(2, 2);
        let les = les_from_jacobian(logits.view(), jac.view(), shape).unwrap();
        assert_eq!((les.value, les.full_rank), (f64::INFINITY, false));
        let pol = polarity_from_jacobian(jac.view()).unwrap();
        assert_eq!((pol.value, pol.full_rank), (f64::INFINITY, false));
        let v1 = scales_v1_from_jacobian(
            Array1::zeros(5).view(),
            logits.view(),
            jac.view(),
            shape,
            &V1Options::default(),
        )
        .unwrap();
        assert_eq!((v1.value, v1.full_rank), (f64::NEG_INFINITY, false));
        let grad = les_grad_from_jacobian(logits.view(), jac.view(), shape).unwrap();
        assert!(!grad.full_rank && grad.value.iter().all(|&g| g == 0.0));

        // A dead latent direction: a zero column.
        let mut dead = test_matrix(6, 2, 4);
        dead.column_mut(1).fill(0.0);
        let les = les_from_jacobian(Array1::zeros(6).view(), dead.view(), categorical(2, 3)).unwrap();
        assert_eq!((les.value, les.full_rank), (f64::INFINITY, false));
    }

    #[test]
    fn v1_equals_the_pseudo_inverse_formula() {
        // With A = Q R (thin QR), A^+ = R^-1 Q^T; sum log sigma(g) = 1/2 log det(g g^T)
        // computed densely, with g = A^+ P^T.
        let (seq_len, vocab, d) = (2, 3, 3);
        let jac = test_matrix(seq_len * vocab, d, 11);
        let logits = array![0.5, -1.0, 2.0, 0.0, 0.3, -0.7];
        let z = array![0.3, -1.2, 0.8];
        let mut pt = Array2::zeros((seq_len * vocab, seq_len * (vocab + 1)));
        for t in 0..seq_len {
            let l = logits.slice(s![t * vocab..(t + 1) * vocab]);
            let e = l.mapv(f64::exp);
            let zt = e.sum();
            for v in 0..vocab {
                pt[[t * vocab + v, t * (vocab + 1) + v]] = zt / e[v];
                pt[[t * vocab + v, t * (vocab + 1) + vocab]] = 1.0 / zt;
            }
        }
        let gram = jac.t().dot(&jac);
        let gram_inv = invert_3x3(&gram);
        let pinv = gram_inv.dot(&jac.t());
        let g = pinv.dot(&pt);
        let expected_volume = 0.5 * det_by_elimination(g.dot(&g.t())).ln();
        let tau = 0.7;
        let opts = V1Options {
            tau,
            ..V1Options::default()
        };
        let got =
            scales_v1_from_jacobian(z.view(), logits.view(), jac.view(), categorical(2, 3), &opts).unwrap();
        let expected = -0.5 * z.dot(&z) + tau * expected_volume;
        assert!((got.value - expected).abs() < 1e-11 * expected.abs().max(1.0));

        let no_prior = V1Options {
            prior: false,
            ..V1Options::default()
        };
        let got = scales_v1_from_jacobian(z.view(), logits.view(), jac.view(), categorical(2, 3), &no_prior)
            .unwrap();
        assert!((got.value - expected_volume).abs() < 1e-11 * expected_volume.abs().max(1.0));
    }

    fn invert_3x3(m: &Array2<f64>) -> Array2<f64> {
        let det = det_by_elimination(m.clone());
        Array2::from_shape_fn((3, 3), |(i, j)| {
            // Cofactor of (j, i).
            let rows: Vec<usize> = (0..3).filter(|&r| r != j).collect();
            let cols: Vec<usize> = (0..3).filter(|&c| c != i).collect();
            let minor =
                m[[rows[0], cols[0]]] * m[[rows[1], cols[1]]] - m[[rows[0], cols[1]]] * m[[rows[1], cols[0]]];
            let sign = if (i + j) % 2 == 0 { 1.0 } else { -1.0 };
            sign * minor / det
        })
    }

    #[test]
    fn v1_truncation_uses_the_first_positions_of_both_factors() {
        let (seq_len, vocab, d) = (4, 3, 2);
        let jac = test_matrix(seq_len * vocab, d, 5);
        let logits = test_matrix(seq_len * vocab, 1, 6).column(0).to_owned();
        let z = array![0.1, 0.2];
        let opts = V1Options {
            max_positions: Some(2),
            ..V1Options::default()
        };
        let cut =
            scales_v1_from_jacobian(z.view(), logits.view(), jac.view(), categorical(4, 3), &opts).unwrap();
        let first_two = scales_v1_from_jacobian(
            z.view(),
            logits.slice(s![..6]),
            jac.slice(s![..6, ..]),
            categorical(2, 3),
            &V1Options::default(),
        )
        .unwrap();
        assert_eq!(cut, first_two);
        let beyond = V1Options {
            max_positions: Some(10),
            ..V1Options::default()
        };
        let all =
            scales_v1_from_jacobian(z.view(), logits.view(), jac.view(), categorical(4, 3), &beyond).unwrap();
        let plain = scales_v1_from_jacobian(
            z.view(),
            logits.view(),
            jac.view(),
            categorical(4, 3),
            &V1Options::default(),
        )
        .unwrap();
        assert_eq!(all, plain);
    }

    #[test]
    fn v1_of_a_continuous_output_is_prior_plus_tau_polarity() {
        let a = test_matrix(5, 3, 8);
        let z = array![1.0, 0.5, -0.5];
        let opts = V1Options {
            tau: 2.0,
            ..V1Options::default()
        };
        let got = scales_v1_from_jacobian(
            z.view(),
            Array1::zeros(5).view(),
            a.view(),
            OutputShape::Continuous,
            &opts,
        )
        .unwrap();
        let pol = polarity_from_jacobian(a.view()).unwrap().value;
        assert!((got.value - (-0.75 + 2.0 * pol)).abs() < 1e-13);
    }

    #[test]
    fn les_gradient_matches_central_differences() {
        // The last case shifts every logit by -400, where 1 / Z_t^2 is beyond f64.
        let cases = [
            (3, 5, 4, 21, 0.0),
            (2, 4, 6, 22, 0.0),
            (5, 2, 3, 23, 0.0),
            (1, 6, 2, 24, 0.0),
            (5, 3, 4, 25, -400.0),
        ];
        for (seq_len, vocab, d, seed, shift) in cases {
            let a = test_matrix(seq_len * vocab, d, seed);
            let b = test_matrix(seq_len * vocab, 1, seed + 50)
                .column(0)
                .mapv(|v| 2.0 * v + shift);
            let z = test_matrix(d, 1, seed + 70).column(0).to_owned();
            let label = format!("{seq_len}x{vocab} d={d}");
            assert_gradient_matches_central_differences(&a, &b, &z, categorical(seq_len, vocab), &label);
        }
    }

    /// The LES gradient of the linear decoder `a z + b` at `z` against
    /// central differences of LES (step 1e-5, to 1e-6 of each component).
    fn assert_gradient_matches_central_differences(
        a: &Array2<f64>,
        b: &Array1<f64>,
        z: &Array1<f64>,
        shape: OutputShape,
        label: &str,
    ) {
        let les_at = |z: &Array1<f64>| {
            let logits = a.dot(z) + b;
            les_from_jacobian(logits.view(), a.view(), shape).unwrap().value
        };
        let logits = a.dot(z) + b;
        let grad = les_grad_from_jacobian(logits.view(), a.view(), shape).unwrap();
        assert!(grad.full_rank);
        let h = 1e-5;
        for k in 0..z.len() {
            let mut up = z.clone();
            up[k] += h;
            let mut down = z.clone();
            down[k] -= h;
            let fd = (les_at(&up) - les_at(&down)) / (2.0 * h);
            assert!(
                (grad.value[k] - fd).abs() < 1e-6 * fd.abs().max(1.0),
                "{label} k={k}: {} vs {fd}",
                grad.value[k]
            );
        }
    }

    /// Two positions of two symbols with logits `(z1, 0, z2, 0)` (latent
    /// `(z1, z2)`): `LES = -ln 3 - ln s(z1) - ln s(z2)` with
    /// `s = sigma (1 - sigma)` (`tests/scores_and_stops.rs` derives it), so
    /// `dLES/dz_t = -(ln s)'(z_t) = 2 sigma(z_t) - 1 = tanh(z_t / 2)`.
    #[test]
    fn les_gradient_of_peaked_softmaxes_is_the_closed_form() {
        // Spreads 5 to 300: from about 37 on the top probability rounds to
        // 1, where `1 - p` must not be read off `p` (`Softmax::centred`).
        let jac = array![[1.0, 0.0], [0.0, 0.0], [0.0, 1.0], [0.0, 0.0]];
        for (z1, z2) in [
            (5.0, 0.3),
            (20.0, -0.4),
            (37.0, 1.0),
            (-100.0, 45.0),
            (300.0, -250.0),
        ] {
            let logits = array![z1, 0.0, z2, 0.0];
            let grad = les_grad_from_jacobian(logits.view(), jac.view(), categorical(2, 2)).unwrap();
            for (k, z) in [z1, z2].into_iter().enumerate() {
                let want = (0.5 * z).tanh();
                let got = grad.value[k];
                assert!(
                    (got - want).abs() <= 1e-12,
                    "z = ({z1}, {z2}), component {k}: {got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn les_gradient_of_peaked_softmaxes_matches_central_differences() {
        // One symbol per position lifted by `spread` above the others: LES
        // itself is exact there (`Softmax::centred`), so its differences are
        // the reference for the gradient's own cancellation.
        for (spread, seed) in [(30.0, 31), (60.0, 32), (150.0, 33), (300.0, 34)] {
            let (seq_len, vocab, d) = (3, 4, 3);
            let a = test_matrix(seq_len * vocab, d, seed);
            let mut b = test_matrix(seq_len * vocab, 1, seed + 50).column(0).to_owned();
            for t in 0..seq_len {
                b[t * vocab + t % vocab] += spread;
            }
            let z = test_matrix(d, 1, seed + 70).column(0).to_owned();
            let label = format!("spread {spread}");
            assert_gradient_matches_central_differences(&a, &b, &z, categorical(seq_len, vocab), &label);
        }
    }

    #[test]
    fn les_gradient_of_a_continuous_output_is_zero() {
        let a = test_matrix(4, 2, 9);
        let g = les_grad_from_jacobian(Array1::zeros(4).view(), a.view(), OutputShape::Continuous).unwrap();
        assert!(g.full_rank);
        assert_eq!(g.value, Array1::<f64>::zeros(2));
    }

    #[test]
    fn invalid_inputs_are_errors() {
        let jac = test_matrix(6, 2, 1);
        let logits = Array1::zeros(6);
        let z = Array1::zeros(2);
        let opts = V1Options::default();
        assert!(matches!(
            les_from_jacobian(logits.view(), jac.view(), categorical(2, 2)),
            Err(Error::Shape { .. })
        ));
        assert!(matches!(
            les_from_jacobian(logits.slice(s![..5]), jac.view(), categorical(2, 3)),
            Err(Error::Shape { .. })
        ));
        assert!(matches!(
            les_from_jacobian(logits.view(), jac.view(), categorical(0, 3)),
            Err(Error::Invalid { .. })
        ));
        assert!(matches!(
            polarity_from_jacobian(Array2::zeros((3, 0)).view()),
            Err(Error::Shape { .. })
        ));
        let mut bad = jac.clone();
        bad[[1, 1]] = f64::NAN;
        assert!(matches!(
            les_from_jacobian(logits.view(), bad.view(), categorical(2, 3)),
            Err(Error::NonFinite { index: 3, .. })
        ));
        let mut inf_logits = logits.clone();
        inf_logits[0] = f64::NEG_INFINITY;
        assert!(matches!(
            les_grad_from_jacobian(inf_logits.view(), jac.view(), categorical(2, 3)),
            Err(Error::NonFinite { .. })
        ));
        assert!(matches!(
            scales_v1_from_jacobian(
                Array1::zeros(3).view(),
                logits.view(),
                jac.view(),
                categorical(2, 3),
                &opts
            ),
            Err(Error::Shape { .. })
        ));
        let bad_tau = V1Options {
            tau: f64::NAN,
            ..V1Options::default()
        };
        assert!(matches!(
            scales_v1_from_jacobian(z.view(), logits.view(), jac.view(), categorical(2, 3), &bad_tau),
            Err(Error::Invalid { .. })
        ));
        let zero_keep = V1Options {
            max_positions: Some(0),
            ..V1Options::default()
        };
        assert!(matches!(
            scales_v1_from_jacobian(z.view(), logits.view(), jac.view(), categorical(2, 3), &zero_keep),
            Err(Error::Invalid { .. })
        ));
        let keep = V1Options {
            max_positions: Some(1),
            ..V1Options::default()
        };
        assert!(matches!(
            scales_v1_from_jacobian(
                z.view(),
                logits.view(),
                jac.view(),
                OutputShape::Continuous,
                &keep
            ),
            Err(Error::Invalid { .. })
        ));
    }
}
