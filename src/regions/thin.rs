//! [`ThinCell`]: a candidate cell that an enumeration rejected as thinner
//! than its tolerance, kept when [`super::EnumOptions::record_thin`] asks.

use ndarray::{Array1, ArrayView1};

use crate::Pattern;

/// A cell whose pattern holds on a set with a Chebyshev radius at most
/// [`super::EnumOptions::tol_radius`]: not listed as a region, but reported
/// so that a user can settle it (for example with
/// [`super::exact::is_full_dimensional`], which decides in exact arithmetic
/// whether the set has an interior).
///
/// # Examples
///
/// ```
/// use cpwl::regions::{enumerate, EnumOptions};
/// use cpwl::{Domain, Network};
/// use ndarray::array;
/// // Two parallel lines 1e-10 apart: the strip between them is thin.
/// let net = Network::builder(2)
///     .dense(array![[1.0, 0.0], [1.0, 0.0]], array![0.0, -1e-10])?
///     .relu()
///     .build()?;
/// let opts = EnumOptions { record_thin: true, ..Default::default() };
/// let partition = enumerate(&net, &Domain::cube(2, -1.0, 1.0), &opts)?;
/// assert_eq!(partition.len(), 2);
/// assert_eq!(partition.thin_cells()[0].pattern().to_string(), "10");
/// # Ok::<(), cpwl::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ThinCell {
    pub(crate) pattern: Pattern,
    pub(crate) center: Array1<f64>,
    pub(crate) radius: f64,
}

impl ThinCell {
    /// The activation pattern of the cell.
    pub fn pattern(&self) -> &Pattern {
        &self.pattern
    }

    /// A witness point (domain coordinates): the centre of the cell's largest
    /// inscribed ball as the enumeration computed it.
    pub fn center(&self) -> ArrayView1<'_, f64> {
        self.center.view()
    }

    /// The radius of that ball (at most the tolerance; zero or rounding-sized
    /// for a cell without interior).
    pub fn radius(&self) -> f64 {
        self.radius
    }
}
