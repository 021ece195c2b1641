//! The vocabulary of the scores: output shapes, options and results.

use ndarray::Array1;

use crate::run::{Outcome, RunOptions};
use crate::Private;

/// How a decoder's output vector is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputShape {
    /// `seq_len` positions of `vocab` logits each, position-major (`t * vocab + v`),
    /// each position followed by a softmax.
    Categorical {
        /// The number of positions `L`.
        seq_len: usize,
        /// The number of symbols `V` per position.
        vocab: usize,
    },
    /// A continuous output (an image, a signal) used as it is.
    Continuous,
}

/// Options of the first published ScaLES score ([`scales_v1_from_jacobian`](super::scales_v1_from_jacobian)).
#[derive(Clone, Debug, PartialEq)]
pub struct V1Options {
    /// The weight `tau` of the log-volume term (the paper used 1 for expressions,
    /// 0.001 for SMILES, 0.003 for SELFIES).
    pub tau: f64,
    /// Keep only the first `max_positions` positions (of both the probabilities
    /// and the Jacobian, as the reference truncates both); the paper used 60.
    /// Categorical outputs only.
    pub max_positions: Option<usize>,
    /// Add the standard normal log prior `-1/2 |z|^2` (its constant dropped), as
    /// the reference score does.
    pub prior: bool,
}

impl Default for V1Options {
    /// `tau = 1`, no truncation, prior included: the reference's defaults.
    fn default() -> Self {
        V1Options {
            tau: 1.0,
            max_positions: None,
            prior: true,
        }
    }
}

/// A score at one latent point.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Score {
    /// The score; `+inf` (LES, polarity) or `-inf` (ScaLES v1) when the
    /// Jacobian is rank-deficient.
    pub value: f64,
    /// Whether the Jacobian has full column rank (the score is finite).
    pub full_rank: bool,
}

/// The gradient of a score at one latent point.
#[derive(Clone, Debug, PartialEq)]
pub struct Gradient {
    /// `d score / d z`; all zeros when the Jacobian is rank-deficient, where the
    /// score is infinite and has no gradient.
    pub value: Array1<f64>,
    /// Whether the Jacobian has full column rank (the gradient exists).
    pub full_rank: bool,
}

/// How the batch scores run ([`super::les_with`], [`super::les_grad_with`],
/// [`super::polarity_with`], [`super::scales_v1_with`], [`super::scores`]).
///
/// # Examples
///
/// ```
/// use cpwl::run::RunOptions;
/// use cpwl::scales::ScoreOptions;
/// let opts = ScoreOptions { run: RunOptions { threads: Some(1), ..Default::default() }, ..Default::default() };
/// assert_eq!(opts.run.threads, Some(1));
/// ```
#[derive(Clone, Debug, Default)]
pub struct ScoreOptions {
    /// Backend, threads, chunking, progress, cancellation and time budget
    /// (`max_regions` does not apply).
    pub run: RunOptions,
    #[doc(hidden)]
    pub _private: Private,
}

/// What a batch score says about one latent point. Every score and the LES
/// gradient classify a latent the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LatentStatus {
    /// The decoder's Jacobian `A` has full column rank and the softmax is
    /// resolved in `f64`: the score and the gradient are finite.
    Regular,
    /// `A` lacks full column rank on the latent's region (dead units, more
    /// latents than outputs): the decoder collapses a direction, LES and
    /// polarity are `+inf`, ScaLES v1 is `-inf`, and the LES gradient row
    /// is zero (there is no gradient).
    RankDeficient,
    /// `A` has full column rank, but a position's softmax is saturated
    /// beyond `f64` (categorical outputs only): its logit spread exceeds
    /// [`crate::tol::SATURATION_LOGIT_SPREAD`], or the LES Gram matrix is
    /// singular at working precision, or the LES gradient overflows. The
    /// scores are what the exact scaled route gives: LES finite or `+inf`
    /// (its Gram matrix singular in `f64`), ScaLES v1 finite. A finite LES
    /// here is approximate: the terms of symbols whose probability underflows
    /// `f64` are lost (the normaliser rows, scaled, remain); the LES
    /// gradient row is zero where LES is `+inf`, `NaN` where it overflows,
    /// and exact otherwise.
    Saturated,
    /// The run stopped (cancel flag or time budget) before this latent: its
    /// values are `NaN`.
    NotComputed,
}

/// The result of a batch score: one value (or gradient row) per latent, its
/// [`LatentStatus`], and how the run ended.
///
/// A run stopped by its cancel flag or time budget has finished the first
/// [`ScoreReport::finished`] latents; the others are `NaN` with
/// [`LatentStatus::NotComputed`].
#[derive(Clone, Debug, PartialEq)]
pub struct ScoreReport<T> {
    pub(super) values: T,
    pub(super) status: Vec<LatentStatus>,
    pub(super) finished: usize,
    pub(super) outcome: Outcome,
}

impl<T> ScoreReport<T> {
    /// The values: one per latent ([`ndarray::Array1`]) or one gradient row
    /// per latent ([`ndarray::Array2`]).
    pub fn values(&self) -> &T {
        &self.values
    }

    /// The values, by value.
    pub fn into_values(self) -> T {
        self.values
    }

    /// Each latent's status.
    pub fn status(&self) -> &[LatentStatus] {
        &self.status
    }

    /// The latents computed: the first `finished`.
    pub fn finished(&self) -> usize {
        self.finished
    }

    /// How the run ended.
    pub fn outcome(&self) -> Outcome {
        self.outcome
    }
}
