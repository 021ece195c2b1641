//! Local complexity of one point set at many networks (training
//! checkpoints): [`prepare_points`] hands the points to the backend once,
//! [`local_complexity_prepared`] evaluates them for each network.

use ndarray::ArrayView2;

use super::report::{counts_in_waves, LcOptions, LcReport};
use crate::backend::PreparedPoints;
use crate::error::check_finite_rows;
use crate::run::RunOptions;
use crate::{Error, Network, Result};

/// Checks a point set once and hands it to the backend of `run`
/// ([`crate::backend::Backend::prepare_points`]), which may keep its own
/// copy (the CUDA backend keeps the points in device memory).
///
/// Evaluate the set with [`local_complexity_prepared`], preferably on the
/// same backend: any other backend answers from the host copy, with the
/// same counts.
///
/// # Errors
///
/// [`Error::NonFinite`] naming the row of a NaN or infinite value;
/// [`Error::Invalid`] for bad run options; backend failures (a set larger
/// than the device's memory).
///
/// # Examples
///
/// ```
/// use cpwl::lc::{local_complexity, local_complexity_prepared, prepare_points, Directions, LcOptions};
/// use cpwl::Network;
/// use ndarray::array;
///
/// let points = array![[0.05], [0.5]];
/// let opts = LcOptions::new(0.1, Directions::Given(array![[1.0]]));
/// let prepared = prepare_points(points.view(), &opts.run)?;
/// // Two checkpoints of a one-unit network: its hyperplane moves from 0 to 0.5.
/// for bias in [0.0, -0.5] {
///     let net = Network::builder(1).dense(array![[1.0]], array![bias])?.relu().build()?;
///     let report = local_complexity_prepared(&net, &prepared, &opts)?;
///     assert_eq!(report, local_complexity(&net, points.view(), &opts)?);
/// }
/// # Ok::<(), cpwl::Error>(())
/// ```
pub fn prepare_points(points: ArrayView2<f64>, run: &RunOptions) -> Result<PreparedPoints> {
    run.validate()?;
    check_finite_rows("points", points)?;
    let host = points.as_standard_layout().into_owned();
    run.install(|| run.with_backend_ref(|backend| backend.prepare_points(host)))?
}

/// [`super::local_complexity`] of a prepared point set: the same counts,
/// report and stops, with the points read from where the backend keeps them.
///
/// The options are checked here, the points' width against the network; the
/// values were checked by [`prepare_points`]. The points go to
/// [`crate::backend::Backend::sign_changes_prepared`] in waves of
/// [`RunOptions::chunk`] points per thread, with cancellation and the time
/// budget checked between waves.
///
/// # Errors
///
/// [`Error::Shape`] when the points do not have the network's input width;
/// [`Error::Invalid`] for a bad radius, directions or run options; backend
/// failures.
///
/// # Examples
///
/// See [`prepare_points`].
pub fn local_complexity_prepared(
    net: &Network,
    prepared: &PreparedPoints,
    opts: &LcOptions,
) -> Result<LcReport> {
    opts.check_run_and_radius()?;
    if prepared.dim() != net.input_dim() {
        return Err(Error::shape(
            "prepared points",
            format!("{} columns", net.input_dim()),
            prepared.dim(),
        ));
    }
    let dirs = opts.directions.resolve(net.input_dim())?;
    counts_in_waves(net, prepared.len(), dirs.view(), opts, |backend, rows, hood| {
        backend.sign_changes_prepared(net, prepared, rows, hood)
    })
}
