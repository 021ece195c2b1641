//! [`local_complexity`] and its [`LcOptions`] and [`LcReport`].

use std::ops::Range;

use ndarray::{s, Array1, Array2, ArrayView2, Axis};

use super::Directions;
use crate::backend::{check_rows, Backend, Neighbourhood};
use crate::run::{Outcome, RunOptions, Watch};
use crate::waves::{in_waves, wave_size};
use crate::{Error, Network, Result};

/// Settings of [`local_complexity`] and [`super::exact_local_complexity`]
/// (both take `(net, points, &LcOptions)`).
#[derive(Clone, Debug)]
pub struct LcOptions {
    /// The radius `r` of the neighbourhood (0.005 in the papers).
    pub radius: f64,
    /// The directions `v_1..v_P`.
    pub directions: Directions,
    /// Whether the output layer's units are counted as a last layer (the MLP
    /// reference script counts them; its ResNet script and the papers' CNN
    /// experiments do not). The exact variant counts hidden units only.
    pub count_output_layer: bool,
    /// Backend, threads, chunking, progress, cancellation and time budget
    /// (`max_regions` does not apply).
    pub run: RunOptions,
}

impl LcOptions {
    /// The options of the reference MLP script: the given radius and
    /// directions, output layer counted.
    pub fn new(radius: f64, directions: Directions) -> Self {
        LcOptions {
            radius,
            directions,
            count_output_layer: true,
            run: RunOptions::default(),
        }
    }

    /// Checks the options and the points and resolves the directions
    /// (`P x D`), once, before any work.
    pub(crate) fn check(&self, net: &Network, points: ArrayView2<f64>) -> Result<Array2<f64>> {
        self.check_run_and_radius()?;
        net.check_input(points)?;
        self.directions.resolve(net.input_dim())
    }

    /// The run options and the radius.
    pub(crate) fn check_run_and_radius(&self) -> Result<()> {
        self.run.validate()?;
        if !(self.radius.is_finite() && self.radius > 0.0) {
            return Err(Error::invalid(
                "radius",
                format!("{} must be finite and positive", self.radius),
            ));
        }
        Ok(())
    }
}

/// Local-complexity counts of a set of points.
///
/// # Semantics
///
/// Row `i` of [`LcReport::per_layer`] holds, for point `i` and each counted
/// layer (every two-piece and maxout nonlinearity in order, never max
/// pooling, then the output layer when counted), the number of units whose
/// three-valued pre-activation sign differs between some vertex of the
/// point's cross-polytope and its first vertex `x + r v_1` (for maxout units:
/// whose arg-max differs).
///
/// A run stopped by its cancel flag or time budget
/// ([`LcReport::outcome`]) has finished the first [`LcReport::finished`]
/// points; the rows of the others hold zeros.
#[derive(Clone, Debug, PartialEq)]
pub struct LcReport {
    per_layer: Array2<u32>,
    widths: Vec<usize>,
    finished: usize,
    outcome: Outcome,
}

impl LcReport {
    /// Counts, points x counted layers (zeros from row [`LcReport::finished`]
    /// on when the run stopped early).
    pub fn per_layer(&self) -> &Array2<u32> {
        &self.per_layer
    }

    /// LC of every point: the sum over counted layers.
    pub fn total(&self) -> Array1<u32> {
        self.per_layer.sum_axis(Axis(1))
    }

    /// The mean LC over the finished points (0 for none).
    pub fn mean(&self) -> f64 {
        if self.finished == 0 {
            return 0.0;
        }
        let done = self.per_layer.slice(s![..self.finished, ..]);
        done.iter().map(|&v| f64::from(v)).sum::<f64>() / self.finished as f64
    }

    /// How the run ended.
    pub fn outcome(&self) -> Outcome {
        self.outcome
    }

    /// The points computed: the first `finished` rows (all of them when the
    /// run is complete).
    pub fn finished(&self) -> usize {
        self.finished
    }

    /// Counts divided by each counted layer's width.
    pub fn fraction(&self) -> Array2<f64> {
        let mut f = self.per_layer.mapv(|v| v as f64);
        for (mut col, &w) in f.axis_iter_mut(Axis(1)).zip(&self.widths) {
            col.mapv_inplace(|v| v / w.max(1) as f64);
        }
        f
    }

    /// The width (unit count) of each counted layer.
    pub fn widths(&self) -> &[usize] {
        &self.widths
    }
}

/// The local complexity of `net` around every row of `points`.
///
/// The points and options are checked once here; the points then go to the
/// backend of `opts.run` in waves of [`RunOptions::chunk`] points per
/// thread, one [`crate::backend::Backend::sign_changes`] call per wave.
/// Cancellation and the time budget are checked between waves: a stop is
/// reported in [`LcReport::outcome`], with the points finished so far.
///
/// # Errors
///
/// [`Error::Shape`] / [`Error::NonFinite`] for bad points (naming the row),
/// [`Error::Invalid`] for a non-positive or non-finite radius, bad directions
/// or bad run options; backend failures.
///
/// # Complexity
///
/// `2 P` forward passes per point; memory is bounded by the wave, not the
/// number of points.
///
/// # Examples
///
/// ```
/// use cpwl::lc::{local_complexity, Directions, LcOptions};
/// use cpwl::Network;
/// use ndarray::array;
/// // One hidden unit with its hyperplane at x = 0.
/// let net = Network::builder(1).dense(array![[1.0]], array![0.0])?.relu().dense(array![[1.0]], array![0.5])?.build()?;
/// let opts = LcOptions::new(0.1, Directions::Given(array![[1.0]]));
/// let report = local_complexity(&net, array![[0.05], [0.5]].view(), &opts)?;
/// assert_eq!(report.total().to_vec(), vec![1, 0]);
/// assert!(report.outcome().is_complete());
/// # Ok::<(), cpwl::Error>(())
/// ```
///
/// # References
///
/// Humayun, Balestriero, Baraniuk: arXiv 2310.12977 (section 3.2) and
/// arXiv 2402.15555 (section 2.2).
pub fn local_complexity(net: &Network, points: ArrayView2<f64>, opts: &LcOptions) -> Result<LcReport> {
    let dirs = opts.check(net, points)?;
    counts_in_waves(net, points.nrows(), dirs.view(), opts, |backend, rows, hood| {
        backend.sign_changes(net, points.slice(s![rows, ..]), hood)
    })
}

/// The counts of `n` points (options checked), one `counts` call per wave
/// of points on the run's backend and threads, stopping between waves;
/// every answer is checked for its shape before it is stored.
pub(crate) fn counts_in_waves(
    net: &Network,
    n: usize,
    dirs: ArrayView2<f64>,
    opts: &LcOptions,
    counts: impl Fn(&dyn Backend, Range<usize>, Neighbourhood<'_>) -> Result<Array2<u32>> + Send + Sync,
) -> Result<LcReport> {
    let widths = counted_widths(net, opts.count_output_layer);
    let hood = Neighbourhood {
        directions: dirs,
        radius: opts.radius,
        count_output: opts.count_output_layer,
    };
    let mut per_layer = Array2::zeros((n, widths.len()));
    let run = &opts.run;
    let watch = Watch::new(run);
    let waves = run.install(|| {
        run.with_backend_ref(|backend| {
            in_waves(&watch, n, wave_size(run), |rows| {
                let got = counts(backend, rows.clone(), hood)?;
                check_rows("backend sign changes", got.dim(), (rows.len(), widths.len()))?;
                per_layer.slice_mut(s![rows, ..]).assign(&got);
                Ok(())
            })
        })
    })??;
    Ok(LcReport {
        per_layer,
        widths,
        finished: waves.finished,
        outcome: waves.outcome,
    })
}

fn counted_widths(net: &Network, count_output: bool) -> Vec<usize> {
    let mut widths: Vec<usize> = net.program().lc_layers().map(|(_, l)| l.len).collect();
    if count_output {
        widths.push(net.output_dim());
    }
    widths
}
