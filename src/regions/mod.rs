//! Exact linear regions of a network inside a domain.
//!
//! [`enumerate`] lists every region of a network inside a [`Domain`] as a
//! [`Partition`]; [`crate::Network::region_at`] gives the region of one point.
//!
//! Three algorithms, which agree wherever they apply:
//!
//! - [`Method::Lp`]: a breadth-first walk over the adjacency graph of regions,
//!   any dimension, with LPs for feasibility and facets and cheap tests that
//!   skip most of them;
//! - [`Method::Skeleton`]: the vertices and edges of the complex, built
//!   layer by layer with one batched product per layer through the backend,
//!   each region read once by grouping the vertices, any dimension, one LP per
//!   region (its Chebyshev ball); it hands networks with other steps than
//!   dense layers and two-piece units, and degenerate arrangements, to the LP
//!   walk;
//! - [`Method::PlaneSplit`]: exact splitting of polygons, layer by layer and
//!   unit by unit, for 2-D domains (slices and 2-D boxes or polytopes), with
//!   no LP; [`Method::Auto`] picks it for every 2-D domain. A line through a
//!   vertex or along an edge, a repeated unit, a dead unit (zero row) or a
//!   tie of max candidates never makes a piece of zero area: the bit comes
//!   from the side the cell is on (ties go to the lower candidate).
//!
//! [`Partition::decision_boundary`] gives the arg-max boundary of the outputs
//! ([`DecisionBoundary`]): pieces inside regions and on facets between them,
//! where the decision (arg-max, ties to the lower index) changes.
//!
//! # Volumes, boundary measures and statistics
//!
//! In every dimension, exact up to rounding: [`Region::volume`] and
//! [`Partition::total_volume`] (from the region's vertices, found by double
//! description, and a pyramid decomposition over its faces; the polygon's
//! shoelace area in 2-D); [`BoundaryPiece::measure`] and
//! [`DecisionBoundary::total_measure`] (the `(d-1)`-volume of each piece
//! within its hyperplane); [`Region::stats`] (volume, Chebyshev inradius,
//! circumradius as the largest distance from the Chebyshev centre to a
//! vertex, eccentricity, vertex and facet counts) and
//! [`Partition::regions_meeting`] (the regions whose intersection with a
//! polytope holds a ball wider than the thin-cell tolerance: the exact local
//! complexity in a box or cross-polytope) and
//! [`Partition::regions_meeting_ball`] (the regions within distance `r` of a
//! point, [`Region::distance`], by an exact active-set projection: the exact
//! local complexity in a Euclidean ball). A row counts as through a vertex
//! within [`crate::tol::TOL_SIGN_REL`]; class maps tie on a hyperplane within
//! [`crate::tol::TOL_SAME_HYPERPLANE_REL`]. The cost follows the number of
//! faces, which grows exponentially with the dimension.
//!
//! # Which regions
//!
//! cpwl counts activation regions: for each activation pattern `p` (a
//! two-piece unit is on piece 1 where its pre-activation is `> 0`, a max unit
//! takes the first of its largest candidates), the closure of the set of
//! points of the domain with that pattern, when the set is
//! full-dimensional; one region per pattern. Fixing every unit's piece makes
//! every constraint affine, so that set is a convex polytope: a pattern never
//! has a disconnected set. Neighbouring regions with the same affine map stay
//! two regions (this is not the partition into maximal affine pieces). A
//! unit that is constant on a cell (dead, or a zero row) takes the bit of its
//! constant without splitting it; sets without interior (the patterns that
//! hold only on a hyperplane, the losing side of a tie) are never regions.
//!
//! # Thin cells
//!
//! A candidate cell counts as a region only when its Chebyshev ball (within
//! the domain's coordinates) has a radius above
//! [`EnumOptions::tol_radius`] (default [`crate::tol::TOL_RADIUS_REL`] times
//! the domain's diameter). Rejected cells are counted in
//! [`Partition::rejected_thin`] and, with [`EnumOptions::record_thin`],
//! listed in [`Partition::thin_cells`] (pattern, witness point, radius),
//! never dropped silently. With `tol_radius` set to 0 every cell that the
//! `f64` sign tests resolve is a region; the LP walk then also settles in
//! exact arithmetic the cells whose LP radius is rounding-sized and the
//! facets shorter than [`crate::tol::TOL_LP_FEAS`], so it reaches a cell
//! whose facets are all that short. The walk decides every cell it rejects
//! exactly: thin cells have an interior, and the flat sets it tries are
//! counted apart ([`EnumStats::rejected_flat`]). What the `f64` sign tests
//! cannot resolve at all (a sliver narrower than
//! [`crate::tol::TOL_SIGN_REL`] relative to the line's scale) is settled in
//! exact rational arithmetic by [`exact`]: [`exact::is_full_dimensional`]
//! for one pattern, [`exact::enumerate_exact`] for the exact list of
//! full-dimensional regions of a small network.

mod adjacency2d;
mod boundary;
mod boundary_facets;
pub mod exact;
mod geojson;
mod hrep;
mod options;
mod partition;
mod plane_split;
mod region;
pub(crate) mod setup;
mod skeleton;
mod stats;
#[cfg(feature = "serde")]
mod stored;
mod table;
mod thin;
pub(crate) mod walk;

pub use crate::Private;
pub use boundary::{BoundaryPiece, DecisionBoundary};
pub use geojson::GeoJsonOptions;
pub use hrep::RowSource;
pub use options::{EnumOptions, Method};
pub use partition::{EnumStats, Partition};
pub use region::{Region, RegionBuf};
pub use stats::RegionStats;
pub use table::{RegionIter, Regions};
pub use thin::ThinCell;

use crate::{Domain, Error, Network, Result};

/// Every linear region of `net` inside `domain`.
///
/// # Errors
///
/// Invalid options or domain; [`Error::Shape`] when the domain lives in
/// another input space; [`Error::Lp`]
/// when an LP fails even after a fresh, normalised retry, naming the region;
/// [`Error::Invalid`] when no region is wider than `tol_radius` (a nearly
/// flat domain, or values that overflow `f64`), instead of an empty partition.
/// A budget or a cancel is no error: the partition then holds the regions
/// found before the stop, and [`Partition::outcome`] says which limit
/// stopped it (never more than `max_regions` regions are returned).
///
/// # Examples
///
/// ```
/// use cpwl::regions::{enumerate, EnumOptions};
/// use cpwl::{Domain, Network};
/// use ndarray::array;
/// // Two lines through the square: 4 regions.
/// let net = Network::builder(2)
///     .dense(array![[1.0, 0.0], [0.0, 1.0]], array![0.0, 0.0])?
///     .relu()
///     .dense(array![[1.0, 1.0]], array![0.0])?
///     .build()?;
/// let partition = enumerate(&net, &Domain::cube(2, -1.0, 1.0), &EnumOptions::default())?;
/// assert_eq!(partition.len(), 4);
/// assert!((partition.total_volume() - 4.0).abs() < 1e-12);
/// # Ok::<(), cpwl::Error>(())
/// ```
pub fn enumerate(net: &Network, domain: &Domain, opts: &EnumOptions) -> Result<Partition> {
    opts.validate()?;
    check_domain(net, domain)?;
    let partition = opts.run.install(|| match opts.method {
        Method::Auto if domain.dim() == 2 => plane_split::plane_split(net, domain, opts),
        Method::Auto if auto_skeleton(domain) => skeleton::skeleton(net, domain, opts),
        Method::PlaneSplit => plane_split::plane_split(net, domain, opts),
        Method::Skeleton => skeleton::skeleton(net, domain, opts),
        Method::Auto | Method::Lp => walk::walk(net, domain, opts),
    })??;
    if partition.is_empty() && partition.outcome().is_complete() {
        // A valid domain has an interior, so some region meets it: none
        // means every cell was rejected as thin or the arithmetic failed,
        // never an empty answer.
        return Err(Error::invalid(
            "domain",
            format!(
                "no region of radius above tol_radius found ({} thinner cells rejected): the domain is \
                 nearly flat for its diameter, tol_radius is too large, or the network's values lose \
                 every digit to rounding there",
                partition.stats().rejected_thin
            ),
        ));
    }
    Ok(partition)
}

/// The smallest domain dimension from which [`Method::Auto`] takes the
/// skeleton instead of the LP walk (2-D domains always take the splitter).
/// Measured side by side on a quiet machine (`docs/PERFORMANCE.md`, fourth
/// session): on W2 at d = 3, 4, 6 and 8 the skeleton took 0.026 to 3.1 s
/// where the walk took 0.19 to 29 s (4x to 10x faster), with identical
/// pattern sets. The skeleton itself falls back to the walk for networks and
/// arrangements it does not handle.
const AUTO_SKELETON_MIN_DIM: Option<usize> = Some(3);

/// The largest domain dimension for which [`Method::Auto`] takes the
/// skeleton: a box has `2^d` vertices, so past the measured range (d <= 8)
/// the LP walk, whose cost does not grow with the domain's vertex count, runs.
const AUTO_SKELETON_MAX_DIM: usize = 8;

/// Whether [`Method::Auto`] takes the skeleton on this (non-2-D) domain.
fn auto_skeleton(domain: &Domain) -> bool {
    AUTO_SKELETON_MIN_DIM.is_some_and(|min| (min..=AUTO_SKELETON_MAX_DIM).contains(&domain.dim()))
}

/// Validates a domain and checks that it lives in the network's input space.
pub(crate) fn check_domain(net: &Network, domain: &Domain) -> Result<()> {
    domain.validate()?;
    if domain.input_dim() != net.input_dim() {
        return Err(Error::shape(
            "domain",
            format!("input dimension {}", net.input_dim()),
            domain.input_dim(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn domains_flatter_than_tol_radius_are_errors_for_both_methods() {
        let net = Network::builder(2)
            .dense(array![[1.0, 0.0], [0.0, 1.0]], array![0.5, 0.0])
            .unwrap()
            .relu()
            .build()
            .unwrap();
        // 1 wide and 1e-12 high: every cell's inradius is far below
        // TOL_RADIUS_REL times the diameter.
        let flat = Domain::boxed(array![0.0, 0.0], array![1.0, 1e-12]);
        for method in [Method::PlaneSplit, Method::Lp] {
            let opts = EnumOptions {
                method,
                ..Default::default()
            };
            assert!(
                matches!(enumerate(&net, &flat, &opts), Err(Error::Invalid { .. })),
                "{method:?}"
            );
        }
        let square = Domain::boxed(array![0.0, 0.0], array![1.0, 1.0]);
        assert_eq!(
            enumerate(&net, &square, &EnumOptions::default()).unwrap().len(),
            1
        );
    }
}
