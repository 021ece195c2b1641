//! Conversions to and from [`nalgebra`] (feature `nalgebra`), the linear
//! algebra crate of Rust's geometry ecosystem (parry, rapier, kiss3d).
//!
//! Matrices become [`DMatrix<f64>`] with the same rows and columns (nalgebra
//! stores them column-major; the copy reorders), vectors and points become
//! [`DVector<f64>`]. [`Affine`] maps `x -> a x + b` and [`Polytope`]s
//! `{x : a x <= b}` convert as the pair `(a, b)`; a batch of Jacobians
//! (`points x outputs x inputs`, as in [`crate::backend::JacobianBatch`])
//! converts to one matrix per point. Conversions from nalgebra check shapes
//! (and, for polytopes, finiteness) and report a typed error.
//!
//! # Examples
//!
//! ```
//! use cpwl::interop::{vector_from_nalgebra, vector_to_nalgebra};
//! use cpwl::Affine;
//! use nalgebra::{DMatrix, DVector};
//! let a = DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 0.0, -1.0]);
//! let b = DVector::from_column_slice(&[0.5, 0.0]);
//! let map = Affine::from_nalgebra(&a, &b)?;
//! let x = DVector::from_column_slice(&[1.0, 1.0]);
//! let y = map.apply(vector_from_nalgebra(&x).view())?;
//! assert_eq!(vector_to_nalgebra(y.view()), &a * &x + &b);
//! # Ok::<(), cpwl::Error>(())
//! ```

use nalgebra::{DMatrix, DVector};
use ndarray::{Array1, Array2, Array3, ArrayView1, ArrayView2, ArrayView3};

use crate::{Affine, Error, Polytope, Result};

/// An ndarray matrix as a nalgebra matrix with the same entries.
pub fn matrix_to_nalgebra(m: ArrayView2<f64>) -> DMatrix<f64> {
    DMatrix::from_fn(m.nrows(), m.ncols(), |i, j| m[[i, j]])
}

/// A nalgebra matrix as an ndarray matrix with the same entries.
pub fn matrix_from_nalgebra(m: &DMatrix<f64>) -> Array2<f64> {
    Array2::from_shape_fn(m.shape(), |(i, j)| m[(i, j)])
}

/// An ndarray vector (a point) as a nalgebra vector.
pub fn vector_to_nalgebra(v: ArrayView1<f64>) -> DVector<f64> {
    DVector::from_iterator(v.len(), v.iter().copied())
}

/// A nalgebra vector (a point) as an ndarray vector.
pub fn vector_from_nalgebra(v: &DVector<f64>) -> Array1<f64> {
    v.iter().copied().collect()
}

/// The rows of a batch of points (`points x dim`) as nalgebra vectors.
pub fn points_to_nalgebra(points: ArrayView2<f64>) -> Vec<DVector<f64>> {
    points.outer_iter().map(vector_to_nalgebra).collect()
}

/// nalgebra points as the rows of an ndarray batch (`points x dim`).
///
/// # Errors
///
/// [`Error::Shape`] when the points do not all have the first one's length;
/// [`Error::Invalid`] for an empty slice, whose dimension is unknown.
pub fn points_from_nalgebra(points: &[DVector<f64>]) -> Result<Array2<f64>> {
    let (dim, _) = common_shape(points, "point")?;
    Ok(Array2::from_shape_fn((points.len(), dim), |(k, i)| points[k][i]))
}

/// A batch of Jacobians (`points x outputs x inputs`) as one matrix per point.
pub fn jacobians_to_nalgebra(jacobians: ArrayView3<f64>) -> Vec<DMatrix<f64>> {
    jacobians.outer_iter().map(matrix_to_nalgebra).collect()
}

/// One Jacobian matrix per point as a batch (`points x outputs x inputs`).
///
/// # Errors
///
/// [`Error::Shape`] when the matrices do not all have the first one's shape;
/// [`Error::Invalid`] for an empty slice.
pub fn jacobians_from_nalgebra(jacobians: &[DMatrix<f64>]) -> Result<Array3<f64>> {
    let (rows, cols) = common_shape(jacobians, "jacobian")?;
    Ok(Array3::from_shape_fn(
        (jacobians.len(), rows, cols),
        |(k, i, j)| jacobians[k][(i, j)],
    ))
}

/// The shape every item shares (`what k` names the first that differs).
fn common_shape<R: nalgebra::Dim, C: nalgebra::Dim, S>(
    items: &[nalgebra::Matrix<f64, R, C, S>],
    what: &str,
) -> Result<(usize, usize)>
where
    S: nalgebra::RawStorage<f64, R, C>,
{
    let shape = items
        .first()
        .ok_or_else(|| Error::invalid(format!("{what}s"), "none given: the shape is unknown"))?
        .shape();
    match items.iter().enumerate().find(|(_, m)| m.shape() != shape) {
        Some((k, m)) => Err(Error::shape(
            format!("{what} {k}"),
            format!("{} x {}", shape.0, shape.1),
            format!("{} x {}", m.nrows(), m.ncols()),
        )),
        None => Ok(shape),
    }
}

impl Affine {
    /// The map's linear part and offset as nalgebra values `(a, b)`.
    pub fn to_nalgebra(&self) -> (DMatrix<f64>, DVector<f64>) {
        (
            matrix_to_nalgebra(self.a.view()),
            vector_to_nalgebra(self.b.view()),
        )
    }

    /// The map `x -> a x + b` from nalgebra values.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when `b` does not have one entry per row of `a`.
    pub fn from_nalgebra(a: &DMatrix<f64>, b: &DVector<f64>) -> Result<Affine> {
        if b.len() != a.nrows() {
            return Err(Error::shape("affine offset", a.nrows(), b.len()));
        }
        Ok(Affine {
            a: matrix_from_nalgebra(a),
            b: vector_from_nalgebra(b),
        })
    }
}

impl Polytope {
    /// The constraint rows and right-hand sides as nalgebra values `(a, b)`.
    pub fn to_nalgebra(&self) -> (DMatrix<f64>, DVector<f64>) {
        (
            matrix_to_nalgebra(self.a.view()),
            vector_to_nalgebra(self.b.view()),
        )
    }

    /// The polytope `{x : a x <= b}` from nalgebra values, checked as
    /// [`Polytope::new`] checks.
    ///
    /// # Errors
    ///
    /// As [`Polytope::new`].
    pub fn from_nalgebra(a: &DMatrix<f64>, b: &DVector<f64>) -> Result<Polytope> {
        Polytope::new(matrix_from_nalgebra(a), vector_from_nalgebra(b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{Backend, CpuBackend};
    use crate::Network;
    use ndarray::array;

    /// A nalgebra matrix from rows (nalgebra's `dmatrix!` needs its `macros` feature).
    fn dm<const C: usize>(rows: &[[f64; C]]) -> DMatrix<f64> {
        DMatrix::from_row_slice(rows.len(), C, rows.as_flattened())
    }

    fn dv(entries: &[f64]) -> DVector<f64> {
        DVector::from_column_slice(entries)
    }

    #[test]
    fn matrices_and_vectors_round_trip_entry_by_entry() {
        let m = array![[1.0, -2.0, 3.5], [0.25, 0.0, -7.0]];
        let n = matrix_to_nalgebra(m.view());
        assert_eq!(n.shape(), (2, 3));
        assert_eq!(n, dm(&[[1.0, -2.0, 3.5], [0.25, 0.0, -7.0]]));
        assert_eq!(matrix_from_nalgebra(&n), m);
        let v = array![3.0, -1.0];
        assert_eq!(vector_to_nalgebra(v.view()), dv(&[3.0, -1.0]));
        assert_eq!(vector_from_nalgebra(&vector_to_nalgebra(v.view())), v);
        let points = array![[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]];
        let vs = points_to_nalgebra(points.view());
        assert_eq!(vs[1], dv(&[3.0, 4.0]));
        assert_eq!(points_from_nalgebra(&vs).unwrap(), points);
    }

    #[test]
    fn an_affine_map_agrees_on_both_sides() {
        let (a, b) = (dm(&[[1.0, 2.0, -1.0], [0.5, 0.0, 3.0]]), dv(&[0.25, -1.0]));
        let map = Affine::from_nalgebra(&a, &b).unwrap();
        for x in [dv(&[1.0, 0.0, 0.0]), dv(&[0.3, -2.0, 5.0])] {
            let here = map.apply(vector_from_nalgebra(&x).view()).unwrap();
            let there = &a * &x + &b;
            assert_eq!(vector_to_nalgebra(here.view()), there);
        }
        assert_eq!(map.to_nalgebra(), (a, b));
    }

    #[test]
    fn polytopes_round_trip_and_contain_the_same_points() {
        let p = Polytope::new(
            array![[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]],
            array![1.0, 1.0, 0.0],
        )
        .unwrap();
        let (a, b) = p.to_nalgebra();
        // Membership tested with nalgebra arithmetic, then with the original rows.
        let inside = |x: &DVector<f64>| (&a * x - &b).iter().all(|&s| s <= 0.0);
        assert!(inside(&dv(&[0.5, 0.2])) && !inside(&dv(&[2.0, 0.0])));
        assert_eq!(Polytope::from_nalgebra(&a, &b).unwrap(), p);
        let bad = Polytope::from_nalgebra(&a, &dv(&[1.0, f64::NAN, 0.0]));
        assert!(matches!(bad, Err(Error::NonFinite { .. })));
    }

    #[test]
    fn jacobians_round_trip_and_match_finite_differences() {
        let net = Network::builder(2)
            .dense(array![[1.0, -1.0], [2.0, 0.5]], array![0.1, -0.2])
            .unwrap()
            .relu()
            .dense(array![[1.0, 1.0], [0.0, -3.0], [0.5, 0.5]], array![0.0, 0.0, 1.0])
            .unwrap()
            .build()
            .unwrap();
        let x = array![[0.7, 0.2], [0.3, 0.9]];
        let batch = CpuBackend::default().jacobians(&net, x.view()).unwrap();
        let mats = jacobians_to_nalgebra(batch.jacobians.view());
        assert_eq!(mats.len(), 2);
        assert_eq!(mats[0].shape(), (3, 2));
        assert_eq!(jacobians_from_nalgebra(&mats).unwrap(), batch.jacobians);
        // The nalgebra Jacobian predicts a small step as the network does (it
        // is affine near each point: no unit changes sign within the step).
        for (k, jac) in mats.iter().enumerate() {
            let step = dv(&[1e-6, -2e-6]);
            let x0 = x.row(k).to_owned();
            let x1 = &x0 + &vector_from_nalgebra(&step);
            let dy = net.forward(x1.view()).unwrap() - net.forward(x0.view()).unwrap();
            let predicted = jac * &step;
            for (d, p) in dy.iter().zip(predicted.iter()) {
                assert!((d - p).abs() < 1e-12, "{d} vs {p}");
            }
        }
    }

    #[test]
    fn shape_errors_are_typed() {
        let a = dm(&[[1.0, 2.0], [3.0, 4.0]]);
        assert!(matches!(
            Affine::from_nalgebra(&a, &dv(&[1.0])),
            Err(Error::Shape { .. })
        ));
        assert!(matches!(
            Polytope::from_nalgebra(&a, &dv(&[1.0])),
            Err(Error::Shape { .. })
        ));
        let err = points_from_nalgebra(&[dv(&[1.0, 2.0]), dv(&[1.0])]).unwrap_err();
        assert!(err.to_string().contains("point 1"), "{err}");
        assert!(matches!(points_from_nalgebra(&[]), Err(Error::Invalid { .. })));
        let err = jacobians_from_nalgebra(&[a.clone(), dm(&[[1.0, 2.0]])]).unwrap_err();
        assert!(err.to_string().contains("jacobian 1"), "{err}");
        assert!(matches!(jacobians_from_nalgebra(&[]), Err(Error::Invalid { .. })));
    }
}
