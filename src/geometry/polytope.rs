//! Polytopes in H-representation.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};

use crate::error::{Error, Result};

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
        let p = Self { a, b };
        p.view().check()?;
        Ok(p)
    }

    /// The dimension of the ambient space.
    pub fn dim(&self) -> usize {
        self.view().dim()
    }

    /// The number of constraint rows.
    pub fn len(&self) -> usize {
        self.view().len()
    }

    /// True when there are no constraints (the whole space).
    pub fn is_empty(&self) -> bool {
        self.view().is_empty()
    }

    /// The largest violation `max_i (a_i . x - b_i)` (negative inside).
    pub fn max_violation(&self, x: ArrayView1<f64>) -> f64 {
        self.view().max_violation(x)
    }

    /// A borrowed view of the constraints.
    pub fn view(&self) -> PolytopeView<'_> {
        PolytopeView {
            a: self.a.view(),
            b: self.b.view(),
        }
    }

    /// The vertices of a bounded polytope, one per row (none when it is
    /// empty); `None` when it is unbounded.
    ///
    /// Found by the double description method (see `docs/ALGORITHMS.md`); a
    /// row counts as through a vertex within rounding
    /// ([`crate::tol::TOL_SIGN_REL`]).
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] or [`Error::NonFinite`] when the fields are invalid
    /// (as for [`Polytope::new`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use cpwl::Polytope;
    /// use ndarray::array;
    /// // The triangle x >= 0, y >= 0, x + y <= 1.
    /// let p = Polytope::new(array![[-1.0, 0.0], [0.0, -1.0], [1.0, 1.0]], array![0.0, 0.0, 1.0])?;
    /// assert_eq!(p.vertices()?.unwrap().nrows(), 3);
    /// # Ok::<(), cpwl::Error>(())
    /// ```
    pub fn vertices(&self) -> Result<Option<Array2<f64>>> {
        self.view().vertices()
    }

    /// The volume in the ambient dimension (length in 1-D, area in 2-D): 0
    /// for an empty or flat set, `None` for an unbounded one.
    ///
    /// Exact up to rounding in every dimension: the vertices and their rows
    /// ([`Polytope::vertices`]) give every face, and the volume is summed over
    /// pyramids from a vertex (see `docs/ALGORITHMS.md`). The cost grows with
    /// the number of faces, which is exponential in the dimension in general.
    ///
    /// # Errors
    ///
    /// As [`Polytope::vertices`].
    ///
    /// # Examples
    ///
    /// ```
    /// use cpwl::Polytope;
    /// use ndarray::{array, Array1, Array2};
    /// // The unit cube of R^3 cut by x + y + z <= 1: the simplex of volume 1/6.
    /// let mut a = Array2::eye(3) * -1.0;
    /// a.push_row(array![1.0, 1.0, 1.0].view()).unwrap();
    /// let p = Polytope::new(a, array![0.0, 0.0, 0.0, 1.0])?;
    /// assert!((p.volume()?.unwrap() - 1.0 / 6.0).abs() < 1e-15);
    /// # Ok::<(), cpwl::Error>(())
    /// ```
    pub fn volume(&self) -> Result<Option<f64>> {
        self.view().volume()
    }

    /// True when `x` satisfies every constraint up to `tol`.
    pub fn contains(&self, x: ArrayView1<f64>, tol: f64) -> bool {
        self.view().contains(x, tol)
    }
}

/// A borrowed polytope `{ x : a x <= b }`, as
/// [`crate::regions::Region::polytope`] gives it (a partition keeps every
/// region's rows in one pool).
///
/// # Examples
///
/// ```
/// use cpwl::Polytope;
/// use ndarray::array;
/// let p = Polytope::new(array![[1.0], [-1.0]], array![1.0, 0.0])?;
/// let view = p.view();
/// assert_eq!(view.len(), 2);
/// assert!(view.contains(array![0.5].view(), 0.0));
/// assert_eq!(view.to_owned(), p);
/// # Ok::<(), cpwl::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PolytopeView<'a> {
    /// Constraint normals, one row per half-space.
    pub a: ArrayView2<'a, f64>,
    /// Right-hand sides.
    pub b: ArrayView1<'a, f64>,
}

impl PolytopeView<'_> {
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
        (self.a.dot(&x) - self.b).fold(f64::NEG_INFINITY, |m, &v| m.max(v))
    }

    /// True when `x` satisfies every constraint up to `tol`.
    pub fn contains(&self, x: ArrayView1<f64>, tol: f64) -> bool {
        self.b.is_empty() || self.max_violation(x) <= tol
    }

    /// The same rows borrowed for a shorter lifetime (views are invariant in
    /// their lifetime, so views of different sources need this to meet).
    pub(crate) fn reborrow(&self) -> PolytopeView<'_> {
        PolytopeView {
            a: self.a.view(),
            b: self.b.view(),
        }
    }

    /// The vertices, as [`Polytope::vertices`].
    ///
    /// # Errors
    ///
    /// As [`Polytope::vertices`].
    pub fn vertices(&self) -> Result<Option<Array2<f64>>> {
        self.check()?;
        Ok(match super::vertices::vertex_set(*self) {
            super::vertices::Hull::Empty => Some(Array2::zeros((0, self.dim()))),
            super::vertices::Hull::Unbounded => None,
            super::vertices::Hull::Bounded(v) => Some(v.points),
        })
    }

    /// The volume, as [`Polytope::volume`].
    ///
    /// # Errors
    ///
    /// As [`Polytope::volume`].
    pub fn volume(&self) -> Result<Option<f64>> {
        self.check()?;
        Ok(super::volume::polytope_volume(*self))
    }

    /// Checks shapes and finiteness of the rows.
    fn check(&self) -> Result<()> {
        if self.a.nrows() != self.b.len() {
            return Err(Error::shape(
                "polytope right-hand side",
                self.a.nrows(),
                self.b.len(),
            ));
        }
        crate::error::check_finite("polytope matrix", self.a.iter())?;
        crate::error::check_finite("polytope right-hand side", self.b.iter())
    }

    /// The owned polytope.
    pub fn to_owned(&self) -> Polytope {
        Polytope {
            a: self.a.to_owned(),
            b: self.b.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{array, s};

    use super::*;

    #[test]
    fn views_into_a_pool_give_the_vertices_and_volume_of_the_owned_rows() {
        // A pool of rows as a partition keeps them: a square's four rows, then
        // a triangle's three (x >= 0, y >= 0, x + y <= 1).
        let a = array![
            [1.0, 0.0],
            [-1.0, 0.0],
            [0.0, 1.0],
            [0.0, -1.0],
            [-1.0, 0.0],
            [0.0, -1.0],
            [1.0, 1.0]
        ];
        let b = array![1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 1.0];
        for (rows, area, corners) in [(0..4, 4.0, 4), (4..7, 0.5, 3)] {
            let view = PolytopeView {
                a: a.slice(s![rows.clone(), ..]),
                b: b.slice(s![rows]),
            };
            assert_eq!(view.volume().unwrap(), Some(area));
            assert_eq!(view.volume().unwrap(), view.to_owned().volume().unwrap());
            let vertices = view.vertices().unwrap().unwrap();
            assert_eq!(vertices.nrows(), corners);
            assert_eq!(Some(vertices), view.to_owned().vertices().unwrap());
        }
        let bad = PolytopeView {
            a: a.slice(s![0..2, ..]),
            b: b.slice(s![0..3]),
        };
        assert!(matches!(bad.volume(), Err(Error::Shape { .. })));
    }
}
