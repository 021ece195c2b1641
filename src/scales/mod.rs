//! ScaLES / LES: how well a decoder's induced distribution supports a latent point.
//!
//! Ronen, Humayun, Balestriero, Baraniuk and Yu, *Mitigating over-exploration in
//! latent space optimization using LES* (arXiv 2406.09657). On a linear region
//! a CPWL decoder is affine, `l(z) = A z + b`, so the pushforward density of the
//! latent prior has a closed form; the scores below are its log-volume terms.
//!
//! - [`les_from_jacobian`]: LES, `-1/2 log det(J^T J)` with `J` the Jacobian of
//!   the per-position softmax probabilities and normalisers.
//! - [`polarity_from_jacobian`]: `-1/2 log det(A^T A)`, the pure volume term.
//! - [`scales_v1_from_jacobian`]: the first published ScaLES score.
//! - [`les_grad_from_jacobian`]: the exact gradient of LES inside a region.
//!
//! [`les`], [`polarity`], [`scales_v1`] and [`les_grad`] evaluate a decoder
//! [`crate::Network`] at a batch of latents with exact Jacobians; their
//! `_with` forms ([`les_with`], [`polarity_with`], [`scales_v1_with`],
//! [`les_grad_with`]) take [`ScoreOptions`] (backend, threads, chunking,
//! progress, cancel, time budget) and return a [`ScoreReport`]: the values,
//! one [`LatentStatus`] per latent (regular, rank-deficient, saturated, not
//! computed), and how the run ended. One bad latent never fails a batch.
//!
//! The `*_from_jacobian` functions take one latent point's logits and exact Jacobian; rank-deficient
//! Jacobians give infinite scores flagged in [`Score::full_rank`], never NaN.

mod decoder;
mod gram;
mod logdet;
mod options;

pub use decoder::{
    les, les_grad, les_grad_with, les_with, polarity, polarity_with, scales_v1, scales_v1_with, scores,
    ScoreKind,
};
pub use logdet::{
    les_from_jacobian, les_grad_from_jacobian, polarity_from_jacobian, scales_v1_from_jacobian,
};
pub use options::{Gradient, LatentStatus, OutputShape, Score, ScoreOptions, ScoreReport, V1Options};

#[cfg(test)]
mod conformance;
