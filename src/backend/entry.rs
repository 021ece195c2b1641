//! The [`Network`] methods that run on a backend: forward passes and
//! activation patterns of points.
//!
//! They live here, above both the network model and the backends, so that
//! `network/` names no backend: the model is a pure description that the
//! backends evaluate, and the entry points that pick a backend sit with them.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};

use super::{Backend, CpuBackend, Keep};
use crate::network::{Affine, Pattern};
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
        Ok(backend.forward(self, x, Keep::Outputs)?.outputs)
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
        let fwd = CpuBackend::default().forward(self, x, Keep::Patterns)?;
        let choices = fwd
            .patterns
            .ok_or_else(|| Error::invalid("backend", "returned no patterns"))?;
        Ok(choices
            .outer_iter()
            .map(|row| Pattern::from_checked(row.as_slice().unwrap_or(&row.to_vec())))
            .collect())
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
