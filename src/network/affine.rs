//! [`Affine`] maps.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};

use crate::error::{Error, Result};

/// An affine map `y = a x + b`, `a` being (out x in).
///
/// On every linear region a CPWL network is exactly one such map.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Affine {
    /// The linear part (the Jacobian), out x in.
    pub a: Array2<f64>,
    /// The offset.
    pub b: Array1<f64>,
}

impl Affine {
    /// Evaluates the map at `x`.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when `x` has the wrong length.
    pub fn apply(&self, x: ArrayView1<f64>) -> Result<Array1<f64>> {
        self.view().apply(x)
    }

    /// A borrowed view of the map.
    pub fn view(&self) -> AffineView<'_> {
        AffineView {
            a: self.a.view(),
            b: self.b.view(),
        }
    }

    /// The input dimension.
    pub fn input_dim(&self) -> usize {
        self.a.ncols()
    }

    /// The output dimension.
    pub fn output_dim(&self) -> usize {
        self.a.nrows()
    }

    /// `self` after `inner`: `x -> self.a (inner.a x + inner.b) + self.b`.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when the dimensions do not chain.
    pub fn compose(&self, inner: &Affine) -> Result<Affine> {
        if inner.output_dim() != self.input_dim() {
            return Err(Error::shape(
                "affine composition",
                self.input_dim(),
                inner.output_dim(),
            ));
        }
        Ok(Affine {
            a: self.a.dot(&inner.a),
            b: self.a.dot(&inner.b) + &self.b,
        })
    }
}

/// A borrowed affine map `y = a x + b`, as [`crate::regions::Region::affine`]
/// gives it (a partition keeps every region's map in one block).
///
/// # Examples
///
/// ```
/// use cpwl::Affine;
/// use ndarray::array;
/// let f = Affine { a: array![[2.0, 0.0]], b: array![1.0] };
/// let view = f.view();
/// assert_eq!(view.apply(array![1.0, 5.0].view())?, array![3.0]);
/// assert_eq!(view.to_owned(), f);
/// # Ok::<(), cpwl::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AffineView<'a> {
    /// The linear part (the Jacobian), out x in.
    pub a: ArrayView2<'a, f64>,
    /// The offset.
    pub b: ArrayView1<'a, f64>,
}

impl AffineView<'_> {
    /// Evaluates the map at `x`.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when `x` has the wrong length.
    pub fn apply(&self, x: ArrayView1<f64>) -> Result<Array1<f64>> {
        if x.len() != self.a.ncols() {
            return Err(Error::shape("affine map input", self.a.ncols(), x.len()));
        }
        Ok(self.a.dot(&x) + self.b)
    }

    /// The input dimension.
    pub fn input_dim(&self) -> usize {
        self.a.ncols()
    }

    /// The output dimension.
    pub fn output_dim(&self) -> usize {
        self.a.nrows()
    }

    /// The owned map.
    pub fn to_owned(&self) -> Affine {
        Affine {
            a: self.a.to_owned(),
            b: self.b.to_owned(),
        }
    }
}
