//! The vocabulary of the scores: output shapes, options and results.

use ndarray::Array1;

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
