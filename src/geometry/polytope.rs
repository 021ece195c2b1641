//! Polytopes in H-representation.

use ndarray::{Array1, Array2, ArrayView1};

use crate::{Error, Result};

/// A convex polyhedron `{ x : a x <= b }` in H-representation.
///
/// # Semantics
///
/// Row `i` of `a` with `b[i]` is the half-space `a_i . x <= b_i`. The set may be
/// unbounded or empty; a [`crate::Domain`] built from one must be bounded.
///
/// # Invariants
///
/// `a.nrows() == b.len()`; entries are finite.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Polytope {
    /// Constraint normals, one row per half-space.
    pub a: Array2<f64>,
    /// Right-hand sides.
    pub b: Array1<f64>,
}

impl Polytope {
    /// A polytope from its constraints, checking shapes and finiteness.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when `a` and `b` disagree on the number of rows,
    /// [`Error::NonFinite`] for NaN or infinite entries.
    pub fn new(a: Array2<f64>, b: Array1<f64>) -> Result<Self> {
        if a.nrows() != b.len() {
            return Err(Error::shape("polytope right-hand side", a.nrows(), b.len()));
        }
        crate::error::check_finite("polytope matrix", a.iter())?;
        crate::error::check_finite("polytope right-hand side", b.iter())?;
        Ok(Self { a, b })
    }

    /// The dimension of the ambient space.
    pub fn dim(&self) -> usize {
        self.a.ncols()
    }

    /// The number of constraint rows.
    pub fn len(&self) -> usize {
        self.b.len()
    }

    /// True when there are no constraints (the whole space).
    pub fn is_empty(&self) -> bool {
        self.b.is_empty()
    }

    /// The largest violation `max_i (a_i . x - b_i)` (negative inside).
    pub fn max_violation(&self, x: ArrayView1<f64>) -> f64 {
        (self.a.dot(&x) - &self.b).fold(f64::NEG_INFINITY, |m, &v| m.max(v))
    }

    /// True when `x` satisfies every constraint up to `tol`.
    pub fn contains(&self, x: ArrayView1<f64>, tol: f64) -> bool {
        self.b.is_empty() || self.max_violation(x) <= tol
    }
}
