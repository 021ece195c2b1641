//! The [`Network`] methods that run on a backend: forward passes and
//! activation patterns of points.
//!
//! They live here, above both the network model and the backends, so that
//! `network/` names no backend: the model is a pure description that the
//! backends evaluate, and the entry points that pick a backend sit with them.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};

use super::{check_affine, check_rows, Backend, CpuBackend, Keep};
use crate::network::{Affine, Pattern};
use crate::run::RunOptions;
use crate::{Error, Network, Result};

impl Network {
    /// The output at `x`.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] for a wrong length, [`Error::NonFinite`] for NaN/inf.
    pub fn forward(&self, x: ArrayView1<f64>) -> Result<Array1<f64>> {
        let out = self.forward_batch(x.insert_axis(Axis(0)))?;
        Ok(out.row(0).to_owned())
    }

    /// The outputs at a batch of points (one per row), on the CPU backend.
    ///
    /// # Errors
    ///
    /// As [`Network::forward`].
    pub fn forward_batch(&self, x: ArrayView2<f64>) -> Result<Array2<f64>> {
        self.forward_batch_on(&CpuBackend::default(), x)
    }

    /// [`Network::forward_batch`] on a chosen backend.
    ///
    /// # Errors
    ///
    /// As [`Network::forward`], and backend failures.
    pub fn forward_batch_on(&self, backend: &dyn Backend, x: ArrayView2<f64>) -> Result<Array2<f64>> {
        self.check_input(x)?;
        let outputs = backend.forward(self, x, Keep::Outputs)?.outputs;
        check_rows("backend outputs", outputs.dim(), (x.nrows(), self.output_dim()))?;
        Ok(outputs)
    }

    /// The activation pattern at `x`.
    ///
    /// # Errors
    ///
    /// As [`Network::forward`].
    pub fn pattern(&self, x: ArrayView1<f64>) -> Result<Pattern> {
        Ok(self.pattern_batch(x.insert_axis(Axis(0)))?.remove(0))
    }

    /// The activation patterns of a batch of points, on the CPU backend.
    ///
    /// # Errors
    ///
    /// As [`Network::forward`].
    pub fn pattern_batch(&self, x: ArrayView2<f64>) -> Result<Vec<Pattern>> {
        self.pattern_batch_with(x, &RunOptions::default())
    }

    /// [`Network::pattern_batch`] on the backend and threads of `run`: the
    /// points are checked once here and handed to [`Backend::forward`] in one
    /// call (cancel and budgets do not apply to this short computation).
    ///
    /// # Errors
    ///
    /// As [`Network::forward`]; [`Error::Invalid`] for bad options or
    /// patterns that do not fit the network; backend failures, and
    /// [`Error::Shape`] when the backend returns patterns of the wrong shape.
    ///
    /// # Examples
    ///
    /// ```
    /// use cpwl::run::RunOptions;
    /// use cpwl::Network;
    /// use ndarray::array;
    /// let net = Network::builder(1).dense(array![[1.0]], array![0.0])?.relu().build()?;
    /// let run = RunOptions { threads: Some(1), ..Default::default() };
    /// let patterns = net.pattern_batch_with(array![[-1.0], [2.0]].view(), &run)?;
    /// assert_eq!(patterns[1].to_string(), "1");
    /// # Ok::<(), cpwl::Error>(())
    /// ```
    pub fn pattern_batch_with(&self, x: ArrayView2<f64>, run: &RunOptions) -> Result<Vec<Pattern>> {
        run.validate()?;
        self.check_input(x)?;
        run.install(|| run.with_backend_ref(|backend| patterns_on(self, backend, x)))?
    }

    /// The exact affine map of the region of `x` (where the pattern of `x` holds).
    ///
    /// # Errors
    ///
    /// As [`Network::forward`].
    pub fn local_affine(&self, x: ArrayView1<f64>) -> Result<Affine> {
        let pattern = self.pattern(x)?;
        self.affine_of(&pattern)
    }
}

/// The activation patterns of checked points (finite, of the network's
/// width) from one [`Backend::forward`] call: the route of every batch of
/// points whose patterns an algorithm needs (the walk's seeds and witness
/// points, [`Network::pattern_batch_with`]). The backend's answer is
/// checked before it is used.
///
/// # Errors
///
/// Backend failures; [`Error::Invalid`] when it returns no patterns or
/// patterns that do not fit the network; [`Error::Shape`] for patterns of
/// the wrong shape.
pub(crate) fn patterns_on(net: &Network, backend: &dyn Backend, x: ArrayView2<f64>) -> Result<Vec<Pattern>> {
    let choices = backend
        .forward(net, x, Keep::Patterns)?
        .patterns
        .ok_or_else(|| Error::invalid("backend", "returned no patterns"))?;
    check_rows("backend patterns", choices.dim(), (x.nrows(), net.unit_count()))?;
    net.check_pattern_rows(choices.view())?;
    Ok(choices
        .outer_iter()
        .map(|row| Pattern::from_checked(row.as_slice().unwrap_or(&row.to_vec())))
        .collect())
}

/// [`Backend::affine_values`] as an entry point runs it: the shapes checked
/// and the points found finite (an error names the row) before the call,
/// the backend's answer checked for its shape after it.
///
/// # Errors
///
/// [`Error::Shape`] for arguments or an answer of the wrong shape;
/// [`Error::NonFinite`] naming the first row with a NaN or infinity;
/// backend failures.
pub(crate) fn affine_values_on(
    backend: &dyn Backend,
    a: ArrayView2<f64>,
    c: ArrayView1<f64>,
    points: ArrayView2<f64>,
) -> Result<Array2<f64>> {
    check_affine(a, c, points)?;
    crate::error::check_finite_rows("affine map input", points)?;
    let values = backend.affine_values(a, c, points)?;
    check_rows("backend affine values", values.dim(), (points.nrows(), a.nrows()))?;
    Ok(values)
}
