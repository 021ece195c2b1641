//! 2-D slices of input space: [`Plane`] and its [`Window`].

use ndarray::{Array1, Array2, ArrayView1};

use crate::error::{Error, Result};

/// An affine 2-D plane `x = origin + s u + t v` in input space, with an
/// orthonormal basis `u, v`.
///
/// # Semantics
///
/// Built by [`Plane::through`] from three points `x0, x1, x2` (Gram-Schmidt,
/// as SplineCam does): `u = unit(x1 - x0)` and `v` = unit of the part of
/// `x2 - x0` orthogonal to `u`. Slice coordinates `(s, t)` are lengths in input
/// space, so areas and lengths in the slice are true areas and lengths.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(try_from = "StoredPlane")
)]
pub struct Plane {
    origin: Array1<f64>,
    u: Array1<f64>,
    v: Array1<f64>,
    anchors: [[f64; 2]; 3],
}

impl Plane {
    /// The plane through three points, origin at `x0`.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when the points differ in length or have fewer than two
    /// coordinates, [`Error::NonFinite`] for NaN/inf, [`Error::Invalid`] when the
    /// points are (numerically) collinear.
    ///
    /// # Examples
    ///
    /// ```
    /// use cpwl::Plane;
    /// use ndarray::array;
    /// let p = Plane::through(array![0., 0., 0.].view(), array![2., 0., 0.].view(), array![1., 3., 0.].view())?;
    /// assert_eq!(p.lift([1.0, 1.0]).to_vec(), vec![1.0, 1.0, 0.0]);
    /// # Ok::<(), cpwl::Error>(())
    /// ```
    pub fn through(x0: ArrayView1<f64>, x1: ArrayView1<f64>, x2: ArrayView1<f64>) -> Result<Plane> {
        let dim = x0.len();
        if dim < 2 {
            return Err(Error::shape("plane points", "at least 2 coordinates", dim));
        }
        for (name, x) in [("x1", &x1), ("x2", &x2)] {
            if x.len() != dim {
                return Err(Error::shape(format!("plane point {name}"), dim, x.len()));
            }
        }
        for (name, x) in [("x0", &x0), ("x1", &x1), ("x2", &x2)] {
            crate::error::check_finite(&format!("plane point {name}"), x.iter())?;
        }
        let d1 = &x1 - &x0;
        let n1 = d1.dot(&d1).sqrt();
        if n1 == 0.0 {
            return Err(Error::invalid("plane points", "x1 equals x0"));
        }
        let u = d1 / n1;
        let d2 = &x2 - &x0;
        let along = u.dot(&d2);
        let w = &d2 - &(&u * along);
        let n2 = w.dot(&w).sqrt();
        let scale = d2.dot(&d2).sqrt().max(n1);
        if n2 <= crate::tol::TOL_COLLINEAR_REL * scale {
            return Err(Error::invalid("plane points", "x0, x1, x2 are collinear"));
        }
        let v = w / n2;
        Ok(Plane {
            origin: x0.to_owned(),
            u,
            v,
            anchors: [[0.0, 0.0], [n1, 0.0], [along, n2]],
        })
    }

    /// A plane from an origin and an orthonormal basis given explicitly (for
    /// example stored with a test vector, to reproduce inputs bit for bit).
    ///
    /// # Errors
    ///
    /// Shape and finiteness errors as for [`Plane::through`]; [`Error::Invalid`]
    /// when `u, v` are not orthonormal to 1e-9.
    pub fn from_basis(origin: Array1<f64>, u: Array1<f64>, v: Array1<f64>) -> Result<Plane> {
        let dim = origin.len();
        if u.len() != dim || v.len() != dim {
            return Err(Error::shape(
                "plane basis",
                dim,
                format!("{} and {}", u.len(), v.len()),
            ));
        }
        crate::error::check_finite("plane origin", origin.iter())?;
        crate::error::check_finite("plane basis u", u.iter())?;
        crate::error::check_finite("plane basis v", v.iter())?;
        let (uu, vv, uv) = (u.dot(&u), v.dot(&v), u.dot(&v));
        let tol = crate::tol::TOL_ORTHONORMAL;
        if (uu - 1.0).abs() > tol || (vv - 1.0).abs() > tol || uv.abs() > tol {
            return Err(Error::invalid("plane basis", "u and v must be orthonormal"));
        }
        Ok(Plane {
            origin,
            u,
            v,
            anchors: [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]],
        })
    }

    /// The input-space point at slice coordinates `(s, t)`.
    pub fn lift(&self, st: [f64; 2]) -> Array1<f64> {
        &self.origin + &(&self.u * st[0]) + &(&self.v * st[1])
    }

    /// The slice coordinates of the orthogonal projection of `x` onto the plane.
    pub fn project(&self, x: ArrayView1<f64>) -> [f64; 2] {
        let d = &x - &self.origin;
        [self.u.dot(&d), self.v.dot(&d)]
    }

    /// The origin `x0`.
    pub fn origin(&self) -> ArrayView1<'_, f64> {
        self.origin.view()
    }

    /// The basis as a 2 x D matrix with rows `u` and `v`.
    pub fn basis(&self) -> Array2<f64> {
        ndarray::stack![ndarray::Axis(0), self.u, self.v]
    }

    /// The input dimension D.
    pub fn input_dim(&self) -> usize {
        self.origin.len()
    }

    /// The slice coordinates of the three defining points (for
    /// [`Plane::from_basis`]: the origin and the tips of `u` and `v`).
    pub fn anchors(&self) -> [[f64; 2]; 3] {
        self.anchors
    }
}

/// The stored form of a [`Plane`], checked by [`Plane::from_basis`] when read
/// back, so that a hand-edited file cannot give a plane whose vectors differ
/// in length.
#[cfg(feature = "serde")]
#[derive(serde::Deserialize)]
struct StoredPlane {
    origin: Array1<f64>,
    u: Array1<f64>,
    v: Array1<f64>,
    anchors: [[f64; 2]; 3],
}

#[cfg(feature = "serde")]
impl TryFrom<StoredPlane> for Plane {
    type Error = Error;

    fn try_from(s: StoredPlane) -> Result<Plane> {
        crate::error::check_finite("plane anchors", s.anchors.iter().flatten())?;
        let plane = Plane::from_basis(s.origin, s.u, s.v)?;
        Ok(Plane {
            anchors: s.anchors,
            ..plane
        })
    }
}

/// The convex window of a slice, in slice coordinates `(s, t)`.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Window {
    /// The square `[-a, a]^2`.
    Square(f64),
    /// The triangle of the plane's three defining points.
    Triangle,
    /// A convex polygon given by its vertices (either orientation).
    Polygon(Vec<[f64; 2]>),
}

impl Window {
    /// The square `[-a, a]^2`.
    pub fn square(a: f64) -> Window {
        Window::Square(a)
    }

    /// The triangle of the plane's three defining points.
    pub fn triangle() -> Window {
        Window::Triangle
    }

    /// The window's vertices, counter-clockwise, checked to form a convex polygon
    /// of positive area.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for fewer than three vertices, a non-positive square
    /// half-width, a non-convex or degenerate polygon; [`Error::NonFinite`].
    pub fn vertices(&self, plane: &Plane) -> Result<Vec<[f64; 2]>> {
        let mut pts = match self {
            Window::Square(a) => {
                if !(a.is_finite() && *a > 0.0) {
                    return Err(Error::invalid(
                        "square window",
                        format!("half-width {a} must be finite and positive"),
                    ));
                }
                vec![[-a, -a], [*a, -a], [*a, *a], [-a, *a]]
            }
            Window::Triangle => plane.anchors().to_vec(),
            Window::Polygon(p) => p.clone(),
        };
        crate::error::check_finite("window vertices", pts.iter().flatten())?;
        if pts.len() < 3 {
            return Err(Error::invalid("window", "a polygon needs at least 3 vertices"));
        }
        if signed_area(&pts) < 0.0 {
            pts.reverse();
        }
        let n = pts.len();
        for i in 0..n {
            let (p, q, r) = (pts[i], pts[(i + 1) % n], pts[(i + 2) % n]);
            let cross = (q[0] - p[0]) * (r[1] - q[1]) - (q[1] - p[1]) * (r[0] - q[0]);
            if cross <= 0.0 {
                return Err(Error::invalid("window", "polygon is not strictly convex"));
            }
        }
        Ok(pts)
    }
}

/// Shoelace area (positive for counter-clockwise vertices), shifted by the first
/// vertex for accuracy far from the origin.
pub(crate) fn signed_area(pts: &[[f64; 2]]) -> f64 {
    let Some(&o) = pts.first() else { return 0.0 };
    let mut twice = 0.0;
    for w in pts.windows(2).skip(1) {
        let (p, q) = (w[0], w[1]);
        twice += (p[0] - o[0]) * (q[1] - o[1]) - (q[0] - o[0]) * (p[1] - o[1]);
    }
    twice / 2.0
}
