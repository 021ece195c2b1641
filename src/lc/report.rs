//! [`local_complexity`] and its [`LcOptions`] and [`LcReport`].

use ndarray::{concatenate, s, Array1, Array2, ArrayView2, Axis};

use super::Directions;
use crate::backend::Neighbourhood;
use crate::batch::BatchOptions;
use crate::{Error, Network, Result};

/// Settings of [`local_complexity`].
#[derive(Clone, Debug)]
pub struct LcOptions {
    /// The radius `r` of the neighbourhood (0.005 in the papers).
    pub radius: f64,
    /// The directions `v_1..v_P`.
    pub directions: Directions,
    /// Whether the output layer's units are counted as a last layer (the MLP
    /// reference script counts them; its ResNet script and the papers' CNN
    /// experiments do not).
    pub count_output_layer: bool,
    /// Chunking, backend, progress and cancellation.
    pub batch: BatchOptions,
}

impl LcOptions {
    /// The options of the reference MLP script: the given radius and
    /// directions, output layer counted.
    pub fn new(radius: f64, directions: Directions) -> Self {
        LcOptions {
            radius,
            directions,
            count_output_layer: true,
            batch: BatchOptions::default(),
        }
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
#[derive(Clone, Debug, PartialEq)]
pub struct LcReport {
    per_layer: Array2<u32>,
    widths: Vec<usize>,
}

impl LcReport {
    /// Counts, points x counted layers.
    pub fn per_layer(&self) -> &Array2<u32> {
        &self.per_layer
    }

    /// LC of every point: the sum over counted layers.
    pub fn total(&self) -> Array1<u32> {
        self.per_layer.sum_axis(Axis(1))
    }

    /// The mean LC over the points (0 for no points).
    pub fn mean(&self) -> f64 {
        let n = self.per_layer.nrows();
        if n == 0 {
            return 0.0;
        }
        self.total().iter().map(|&v| v as f64).sum::<f64>() / n as f64
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
/// # Errors
///
/// [`Error::Shape`] / [`Error::NonFinite`] for bad points, [`Error::Invalid`]
/// for a non-positive or non-finite radius or bad directions,
/// [`Error::Budget`] when cancelled.
///
/// # Complexity
///
/// `2 P` forward passes per point, in chunks of [`BatchOptions::chunk`] points;
/// memory is bounded by the chunk, not the number of points.
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
/// # Ok::<(), cpwl::Error>(())
/// ```
///
/// # References
///
/// Humayun, Balestriero, Baraniuk: arXiv 2310.12977 (section 3.2) and
/// arXiv 2402.15555 (section 2.2).
pub fn local_complexity(net: &Network, points: ArrayView2<f64>, opts: &LcOptions) -> Result<LcReport> {
    if !(opts.radius.is_finite() && opts.radius > 0.0) {
        return Err(Error::invalid(
            "radius",
            format!("{} must be finite and positive", opts.radius),
        ));
    }
    let dirs = opts.directions.resolve(net.input_dim())?;
    let widths = counted_widths(net, opts.count_output_layer);
    let hood = Neighbourhood {
        directions: dirs.view(),
        radius: opts.radius,
        count_output: opts.count_output_layer,
    };
    let parts = opts.batch.run(points.nrows(), |a, b, backend| {
        backend.sign_changes(net, points.slice(s![a..b, ..]), hood)
    })?;
    let views: Vec<_> = parts.iter().map(|p| p.view()).collect();
    let per_layer = if views.is_empty() {
        Array2::zeros((0, widths.len()))
    } else {
        concatenate(Axis(0), &views).map_err(|e| Error::invalid("backend output", e.to_string()))?
    };
    Ok(LcReport { per_layer, widths })
}

fn counted_widths(net: &Network, count_output: bool) -> Vec<usize> {
    let mut widths: Vec<usize> = net.program().lc_layers().map(|(_, l)| l.len).collect();
    if count_output {
        widths.push(net.output_dim());
    }
    widths
}
