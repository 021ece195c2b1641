//! [`EnumOptions`]: the settings of region enumeration.

use crate::run::RunOptions;
use crate::{Error, Private, Result};

/// The algorithm that enumerates regions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Method {
    /// The 2-D splitter for 2-D domains, [`Method::Skeleton`] in 3 to 8
    /// dimensions (it hands a run it cannot decide to the LP walk; measured
    /// 4x to 10x faster than the walk on W2), the LP walk otherwise.
    #[default]
    Auto,
    /// Breadth-first walk over the adjacency graph with LPs (any dimension).
    Lp,
    /// Exact polygon splitting, layer by layer (2-D domains only, no LP).
    PlaneSplit,
    /// The vertex skeleton of the complex, built layer by layer (any
    /// dimension, networks of dense layers and two-piece units); falls back
    /// to [`Method::Lp`] for other networks and degenerate arrangements, and
    /// [`super::EnumStats::method`] then says `Lp`.
    Skeleton,
}

/// Settings of [`super::enumerate`].
///
/// # Examples
///
/// ```
/// use cpwl::regions::{EnumOptions, Method};
/// use cpwl::run::RunOptions;
/// let opts = EnumOptions {
///     method: Method::Lp,
///     run: RunOptions { max_regions: Some(10_000), ..Default::default() },
///     ..Default::default()
/// };
/// assert!(opts.validate().is_ok());
/// ```
#[derive(Clone, Debug, Default)]
pub struct EnumOptions {
    /// Cells whose Chebyshev radius is at most this are rejected as thin
    /// (`None`: [`crate::tol::TOL_RADIUS_REL`] times the domain's diameter).
    pub tol_radius: Option<f64>,
    /// Keep the rejected thin cells (pattern, witness point, radius) in
    /// [`super::Partition::thin_cells`]; they are counted either way.
    pub record_thin: bool,
    /// The algorithm.
    pub method: Method,
    /// Threads, progress, cancellation and budgets (`max_regions`,
    /// `time_budget`): a run stopped by one returns the regions found so far
    /// with [`crate::run::Outcome`] saying why ([`super::Partition::outcome`]).
    /// The progress callback's `done` counts regions found.
    pub run: RunOptions,
    #[doc(hidden)]
    pub _private: Private,
}

impl EnumOptions {
    /// Checks the settings.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for a negative or non-finite `tol_radius`, or run
    /// options that [`RunOptions::validate`] rejects (zero threads,
    /// `max_regions: Some(0)`).
    pub fn validate(&self) -> Result<()> {
        if let Some(t) = self.tol_radius {
            if !(t.is_finite() && t >= 0.0) {
                return Err(Error::invalid(
                    "tol_radius",
                    format!("{t} must be finite and >= 0"),
                ));
            }
        }
        self.run.validate()
    }
}
