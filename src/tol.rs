//! Named tolerances: every comparison of a float with a threshold uses one of these.

/// Relative Chebyshev radius below which a cell is rejected as thin
/// (the threshold is this times the domain's diameter).
pub const TOL_RADIUS_REL: f64 = 1e-9;

/// Relative tolerance of the sign tests that place a point on a hyperplane
/// (scaled by the magnitude of the terms that were summed).
pub const TOL_SIGN_REL: f64 = 1e-12;

/// Rows of a constraint matrix with a norm below this are treated as zero rows.
pub const TOL_ZERO_ROW: f64 = 1e-14;

/// Slack with which a constraint counts as active or redundant in LP tests,
/// relative to the row norm.
pub const TOL_LP_FEAS: f64 = 1e-9;

/// Largest constraint violation of a point an LP solver returns as optimal,
/// relative to the magnitude of the terms of each row (`sum_j |a_ij x_j| + |b_i|`
/// plus the row's norm); a worse answer counts as a solver failure and is retried.
pub const TOL_LP_RESIDUAL: f64 = 1e-7;

/// Cap on the Chebyshev radius, relative to the largest distance of a constraint
/// hyperplane from the origin (at least 1): a set whose inscribed balls reach the
/// cap is reported with an infinite radius.
pub const CHEBYSHEV_RADIUS_CAP_REL: f64 = 1e6;

/// Largest deviation from 1 of the norm of a user-supplied direction row.
pub const TOL_UNIT_NORM: f64 = 1e-9;

/// Relative norm (against the original row) below which Gram-Schmidt treats a
/// row as linearly dependent on the rows before it.
pub const TOL_DEPENDENT_REL: f64 = 1e-10;

/// Cholesky pivots of a Gram matrix `C^T C` at or below this times the number
/// of rows of `C` times the largest diagonal entry count as zero (rank deficiency):
/// a few units of rounding per summed term.
pub const TOL_GRAM_PIVOT_REL: f64 = 4.0 * f64::EPSILON;

/// Two edges of a 2-D partition on one line share a segment (their regions
/// are neighbours) when they overlap by more than this times the domain's
/// diameter; edges that only meet at an endpoint overlap by rounding only.
pub const TOL_SHARED_EDGE_REL: f64 = 1e-12;

/// The LP walk accepts the pattern read at a witness point across a facet as
/// the neighbour when that pattern's region reaches back to the facet, within
/// this fraction of the step.
pub const TOL_WITNESS_REACH: f64 = 1e-7;

/// The LP walk stops halving its witness step across a facet once the step
/// is below this times the largest coordinate of the facet's foot: a
/// thousand rounding units, where a smaller step could not move the point.
pub const TOL_WITNESS_STEP_FLOOR_REL: f64 = 1e3 * f64::EPSILON;

/// With a thin-cell radius of 0, the LP walk settles in exact arithmetic
/// every cell whose Chebyshev radius (from an `f64` LP) is at most this times
/// `1 +` the largest coordinate of its centre: below it the LP's answer may
/// be rounding, and the cell may have no interior at all.
pub const TOL_SETTLE_RADIUS: f64 = TOL_LP_FEAS;

/// A vertex of a polytope (unit rows) is simple when every row not among its
/// `d` tight ones keeps at least this slack; a row whose slack exceeds it at
/// every vertex is redundant.
pub const TOL_VERTEX_SLACK: f64 = TOL_LP_FEAS;

/// Three points span a plane only when the third lies farther than this,
/// relative to the points' spread, from the line through the first two.
pub const TOL_COLLINEAR_REL: f64 = 1e-12;

/// Largest deviation from an orthonormal pair (norms 1, dot product 0) of a
/// user-supplied plane basis.
pub const TOL_ORTHONORMAL: f64 = 1e-9;

/// A direction keeps less than this fraction of its norm after its components
/// along an orthonormal frame are removed: it counts as lying in the frame's
/// span (loose, because the frame comes from LP vertices).
pub const TOL_FRAME_REL: f64 = 1e-6;

/// A vertex of the LP walk whose basis inverse was pivoted (not inverted
/// afresh) is inverted afresh when one of its `d` basis rows misses the
/// vertex by more than this times `1 + |offset|` (unit rows). A fresh
/// Gauss-Jordan inverse leaves residuals of a few roundings (about `d`
/// times `1e-16` relative); a pivot divides by the entering row's rate,
/// so a chain of pivots through an ill-conditioned basis can leave the
/// vertex far off its rows without any pivot being small. `1e-12` lets
/// the rounding of well-conditioned pivots through (a thousand-fold
/// margin), stays a thousand times below [`TOL_VERTEX_SLACK`] (so a
/// pivoted vertex is tight to within the walk's own resolution) and sends
/// ill-conditioned bases to a fresh inverse, which refuses the singular.
pub const TOL_BASIS_RESIDUAL_REL: f64 = 1e-12;

/// Pivots below this in absolute value make the small (at most the domain's
/// dimension) matrices inverted by Gauss-Jordan elimination count as singular.
pub const TOL_PIVOT: f64 = 1e-10;

/// A ray `(x, t)` (unit norm) of the homogenised cone of a polyhedron with
/// `t` at or below this is a direction of unboundedness, not a vertex: vertices
/// farther than about `1 / TOL_RAY_AT_INFINITY` from the origin are not told
/// apart from directions.
pub const TOL_RAY_AT_INFINITY: f64 = 1e-12;

/// Two hyperplanes (unit normals, offsets relative to `1 + |offset|`) are the
/// same when their normals and offsets agree within this; two class maps agree
/// on a hyperplane when their difference is a multiple of its equation within
/// this, relative to the size of the maps. Decision-boundary ties are found
/// with it: looser than the sign tests, since the maps come out of a chain of
/// products.
pub const TOL_SAME_HYPERPLANE_REL: f64 = 1e-6;

/// Logit spread (largest minus smallest logit of one position) beyond which
/// that position's softmax counts as saturated: `ln(f64::MAX) / 2`, where the
/// square of the smallest probability, which the LES Gram matrix carries,
/// leaves the range of `f64` (see [`crate::scales::LatentStatus::Saturated`]).
pub const SATURATION_LOGIT_SPREAD: f64 = 354.891_356_446_692;

/// Largest `|log Z_t|` and logit spread of a position for which a backend's
/// plain-`f64` LES Gram matrix ([`crate::backend::Backend::les_grams`]) is
/// used: the squared factors `1 / Z_t^2` and `p_tv^2` stay within about
/// `e^±600`, inside the normal range of `f64`. Latents beyond it take the
/// exact scaled route.
pub const PLAIN_LES_LOG_RANGE: f64 = 300.0;

/// The vertex skeleton ([`crate::regions::Method::Skeleton`]) treats a vertex
/// as lying on a unit's hyperplane, or on a domain facet, when the function's
/// value there is at most this times its largest magnitude over the vertices:
/// on a facet of the domain that makes the vertex tight; on a unit's
/// hyperplane (other than the unit that made the vertex) it is a degenerate
/// position, and the run falls back to the LP walk.
pub const TOL_SKELETON_ZERO_REL: f64 = 1e-10;

/// Steps of the projection onto a polytope (`geometry::projection`) shorter
/// than this times `1 + |start| + |target|` count as zero, and so do
/// Lagrange multipliers above minus this times `1 + |target - x|`: a few
/// hundred units of rounding of the distances involved.
pub const TOL_PROJECTION_STEP_REL: f64 = 1e-13;

/// Relative margin below which an `f32` sign test may disagree with `f64`
/// ([`crate::backend::Precision::F32`]): a point whose `f64` pre-activations
/// satisfy `|z| > F32_TIE_BOUND * |(w, b)| * |(x, 1)|` at every unit of
/// every layer (norm of the unit's weight row with its bias, times the norm
/// of the layer's input with a 1 appended) takes the same signs in both
/// precisions, for the networks this margin is sized for. About 800 `f32`
/// ulps: a dot product of length `k` errs by at most about `k` ulps of
/// `|w| |x|` (so layers of up to about 800 inputs, as W3's 784), and the
/// error carried in from earlier `f32` layers is of the same order for the
/// networks of the workloads. A sized margin, not a proof for every network:
/// much wider or much deeper networks can need a larger one.
pub const F32_TIE_BOUND: f64 = 1e-4;

/// The 2-D splitter's cell-side test: rounding errors of its bounds are at most a few `f64::EPSILON` of
/// the terms involved (all within a few times a line's scale); widening the
/// bound by this much more makes it hold despite them.
pub const TOL_ROUNDING_MARGIN_REL: f64 = 64.0 * f64::EPSILON;

/// The dense Chebyshev-ball method (`lp::ball`) over the unit-norm rows of a
/// polytope and the unit objective `max r`: a projected objective shorter
/// than this is zero (the active rows span it), a Lagrange multiplier above
/// minus this counts as non-negative (the point is optimal), and an active
/// row whose part orthogonal to the other active rows is shorter than this is
/// dependent (the method gives up and the general LP runs). All three are
/// quantities of order one; this is a few thousand units of rounding of them.
pub const TOL_BALL_PIVOT: f64 = 1e-12;
