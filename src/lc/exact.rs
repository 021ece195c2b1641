//! The exact variant of local complexity: linear regions inside the true
//! neighbourhood, by region enumeration restricted to the cross-polytope.

use ndarray::{Array1, Array2, ArrayView2};

use super::LcOptions;
use crate::regions::{enumerate, EnumOptions, Method, Partition};
use crate::run::{Outcome, RunOptions, Watch};
use crate::{Domain, Error, Network, Polytope, Result};

/// The largest number of directions the exact variant accepts: the
/// cross-polytope of `P` directions has `2^P` facets.
pub const MAX_EXACT_DIRECTIONS: usize = 12;

/// The exact local complexity of one point.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExactLc {
    /// Linear regions that meet the neighbourhood's interior (at least 1 for
    /// a computed point; 0 marks a point the run did not reach).
    pub regions: usize,
    /// Distinct hidden units whose (bent) zero set meets the neighbourhood's
    /// interior: the units that differ between two adjacent regions inside it.
    pub units: usize,
}

/// The result of [`exact_local_complexity`]: one [`ExactLc`] per point and
/// how the run ended.
///
/// A run stopped by its cancel flag or time budget has finished the first
/// [`ExactLcReport::finished`] points; the others hold
/// `ExactLc { regions: 0, units: 0 }` (a computed point has at least one
/// region).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExactLcReport {
    points: Vec<ExactLc>,
    finished: usize,
    outcome: Outcome,
}

impl ExactLcReport {
    /// One entry per point, in order.
    pub fn points(&self) -> &[ExactLc] {
        &self.points
    }

    /// The points computed: the first `finished` entries.
    pub fn finished(&self) -> usize {
        self.finished
    }

    /// How the run ended.
    pub fn outcome(&self) -> Outcome {
        self.outcome
    }
}

/// The exact local complexity around every row of `points`: the
/// neighbourhood is the cross-polytope `{x + r sum_i c_i v_i : sum_i |c_i| <= 1}`
/// of the same radius and directions as [`super::local_complexity`] (the
/// same [`LcOptions`]; `count_output_layer` does not apply: hidden units
/// are counted), enumerated exactly with the LP walk in the `P` coordinates
/// `c`.
///
/// The approximation counts, layer by layer, hyperplanes that separate the
/// vertices' embeddings; this counts what is really there, so the two can be
/// compared point by point.
///
/// Points are enumerated one after another (each enumeration on the
/// threads of `opts.run`); cancellation and the time budget stop the run
/// between points or inside an enumeration, and the report says so.
///
/// # Errors
///
/// [`Error::Shape`] / [`Error::NonFinite`] for bad points (naming the row),
/// [`Error::Unsupported`] for more than [`MAX_EXACT_DIRECTIONS`] directions,
/// [`Error::Invalid`] for a bad radius, bad run options (among them
/// [`crate::run::Precision::F32`]: the exact count runs in f64) or linearly
/// dependent directions; LP failures.
///
/// # Examples
///
/// ```
/// use cpwl::lc::{exact_local_complexity, Directions, LcOptions};
/// use cpwl::Network;
/// use ndarray::array;
/// // One hidden unit with its hyperplane at x = 0.
/// let net = Network::builder(1).dense(array![[1.0]], array![0.0])?.relu().dense(array![[1.0]], array![0.5])?.build()?;
/// let opts = LcOptions::new(0.1, Directions::Given(array![[1.0]]));
/// let report = exact_local_complexity(&net, array![[0.05], [0.5]].view(), &opts)?;
/// assert_eq!(report.points()[0].regions, 2);
/// assert_eq!(report.points()[1].regions, 1);
/// # Ok::<(), cpwl::Error>(())
/// ```
pub fn exact_local_complexity(
    net: &Network,
    points: ArrayView2<f64>,
    opts: &LcOptions,
) -> Result<ExactLcReport> {
    opts.run.validate_f64("exact local complexity")?;
    let directions = opts.check(net, points)?;
    let p = directions.nrows();
    if p > MAX_EXACT_DIRECTIONS {
        return Err(Error::Unsupported {
            layer: "exact local complexity".into(),
            op: format!("{p} directions (at most {MAX_EXACT_DIRECTIONS}: the cross-polytope has 2^P facets)"),
        });
    }
    let ball = l1_ball(p);
    let basis = directions.mapv(|v| v * opts.radius);
    let watch = Watch::new(&opts.run);
    let mut report = ExactLcReport {
        points: vec![ExactLc::default(); points.nrows()],
        finished: 0,
        outcome: Outcome::Complete,
    };
    for (i, x) in points.outer_iter().enumerate() {
        let stop = match watch.stop(0) {
            Some(outcome) => Some(outcome),
            None => {
                let domain = Domain::affine(x.to_owned(), basis.clone(), ball.clone());
                match point_partition(net, &domain, &watch)? {
                    Ok(part) => {
                        report.points[i] = count(net, &part);
                        report.finished = i + 1;
                        None
                    }
                    Err(outcome) => Some(outcome),
                }
            }
        };
        watch.report(
            report.finished,
            Some(points.nrows() - report.finished),
            stop.is_some(),
        );
        if let Some(outcome) = stop {
            report.outcome = outcome;
            return Ok(report);
        }
    }
    watch.report(report.finished, Some(0), true);
    Ok(report)
}

/// The partition of one neighbourhood by the LP walk, under the cancel flag
/// and what is left of the time budget; `Err(outcome)` when it stopped.
fn point_partition(
    net: &Network,
    domain: &Domain,
    watch: &Watch<'_>,
) -> Result<std::result::Result<Partition, Outcome>> {
    let run: &RunOptions = watch.options();
    // The same threads (and pool) and cancel flag; what is left of the time
    // budget; no region budget or progress of its own.
    let opts = EnumOptions {
        method: Method::Lp,
        run: RunOptions {
            time_budget: run.time_budget.map(|b| b.saturating_sub(watch.elapsed())),
            max_regions: None,
            progress: None,
            ..run.clone()
        },
        ..EnumOptions::default()
    };
    let part = enumerate(net, domain, &opts)?;
    Ok(match part.outcome() {
        Outcome::Complete => Ok(part),
        stopped => Err(stopped),
    })
}

/// The regions of a neighbourhood's partition and the units that differ
/// between adjacent ones.
fn count(net: &Network, part: &Partition) -> ExactLc {
    let mut units = vec![false; net.unit_count()];
    for (i, j) in part.adjacency() {
        let (a, b) = (part.region(i).pattern(), part.region(j).pattern());
        for (u, flag) in units.iter_mut().enumerate() {
            *flag |= a.get(u) != b.get(u);
        }
    }
    ExactLc {
        regions: part.len(),
        units: units.iter().filter(|&&f| f).count(),
    }
}

/// `{c : s . c <= 1 for every sign vector s}`, the unit L1 ball of R^p.
fn l1_ball(p: usize) -> Polytope {
    let rows = 1usize << p;
    let a = Array2::from_shape_fn((rows, p), |(r, k)| if r >> k & 1 == 1 { -1.0 } else { 1.0 });
    Polytope {
        a,
        b: Array1::ones(rows),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lc::Directions;
    use ndarray::array;

    #[test]
    fn first_layer_counts_equal_hyperplanes_meeting_the_cross_polytope() {
        // Three lines in the plane; the neighbourhood of the origin with
        // radius 1 (the diamond |x| + |y| <= 1) meets x = 0.5 and y = -0.2, not x + y = 3.
        let net = Network::builder(2)
            .dense(
                array![[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]],
                array![-0.5, 0.2, -3.0],
            )
            .unwrap()
            .relu()
            .dense(array![[1.0, 1.0, 1.0]], array![0.0])
            .unwrap()
            .build()
            .unwrap();
        let dirs = array![[1.0, 0.0], [0.0, 1.0]];
        let opts = LcOptions::new(1.0, Directions::Given(dirs));
        let got = exact_local_complexity(&net, array![[0.0, 0.0]].view(), &opts).unwrap();
        // The two lines cross inside the diamond (at (0.5, -0.2)): 4 regions.
        assert_eq!(got.points(), &[ExactLc { regions: 4, units: 2 }]);
        assert_eq!((got.finished(), got.outcome()), (1, Outcome::Complete));
    }

    #[test]
    fn a_cancelled_run_reports_no_points() {
        let net = Network::builder(1)
            .dense(array![[1.0]], array![0.0])
            .unwrap()
            .relu()
            .build()
            .unwrap();
        let opts = LcOptions {
            run: RunOptions {
                cancel: Some(std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true))),
                ..Default::default()
            },
            ..LcOptions::new(0.1, Directions::Given(array![[1.0]]))
        };
        let got = exact_local_complexity(&net, array![[0.0], [1.0]].view(), &opts).unwrap();
        assert_eq!((got.finished(), got.outcome()), (0, Outcome::Cancelled));
        assert_eq!(got.points(), &[ExactLc::default(); 2]);
    }

    #[test]
    fn too_many_directions_is_unsupported() {
        let net = Network::builder(13)
            .dense(Array2::eye(13), Array1::zeros(13))
            .unwrap()
            .relu()
            .build()
            .unwrap();
        let opts = LcOptions::new(0.1, Directions::Given(Array2::eye(13)));
        let e = exact_local_complexity(&net, Array2::zeros((1, 13)).view(), &opts);
        assert!(matches!(e, Err(Error::Unsupported { .. })));
    }
}
