//! Local complexity: how many neurons' zero sets cross a small neighbourhood.
//!
//! The neighbourhood of a point is the cross-polytope spanned by `P` unit
//! directions around it (Humayun, Balestriero and Baraniuk, *Training Dynamics
//! of Deep Network Linear Regions*, arXiv 2310.12977, and *Deep Networks Always
//! Grok and Here is Why*, arXiv 2402.15555).
//!
//! - [`Directions`]: the direction matrix, given by the caller, drawn from a
//!   documented seeded generator, or drawn exactly as the authors' PyTorch
//!   scripts do so that counts reproduce theirs.
//! - [`local_complexity`]: the per-layer counts of [`LcReport`], exactly as the
//!   reference defines them.
//! - [`prepare_points`] and [`local_complexity_prepared`]: the same counts
//!   for one point set at many networks (training checkpoints), the points
//!   handed to the backend once (the CUDA backend keeps them on the device).
//! - [`exact_local_complexity`]: the exact variant, regions and units inside
//!   the true neighbourhood.

pub(crate) mod directions;
mod exact;
mod orthogonal;
mod prepared;
mod report;
mod torch_rng;

pub use directions::Directions;
pub use exact::{exact_local_complexity, ExactLc, ExactLcReport, MAX_EXACT_DIRECTIONS};
pub use prepared::{local_complexity_prepared, prepare_points};
pub use report::{local_complexity, LcOptions, LcReport};
