//! The [`Network`] methods that run on a backend: forward passes and
//! activation patterns of points.
//!
//! They live here, above the network model, the backends and the run
//! options, so that `network/` names no backend and `backend/` no run
//! options: the model is a pure description that the backends evaluate, and
//! the entry points that pick a backend (and a run's threads) sit above both.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};

use crate::backend::{check_rows, patterns_on, Backend, CpuBackend, Keep};
use crate::error::Result;
use crate::network::{Affine, Network, Pattern};
use crate::run::RunOptions;

impl Network {
    /// The output at `x`.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`](crate::Error::Shape) for a wrong length, [`Error::NonFinite`](crate::Error::NonFinite) for NaN/inf.
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
    /// As [`Network::forward`]; [`Error::Invalid`](crate::Error::Invalid) for bad options or
    /// patterns that do not fit the network; backend failures, and
    /// [`Error::Shape`](crate::Error::Shape) when the backend returns patterns of the wrong shape.
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
