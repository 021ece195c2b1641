//! The [`Domain`] in which regions are enumerated.

use ndarray::{Array1, Array2, ArrayView1};

use super::{Plane, Polytope, Window};
use crate::error::{Error, Result};

/// A bounded convex set of input space, or a 2-D slice of it, in which regions
/// are enumerated.
///
/// # Semantics
///
/// A domain has its own coordinates: input coordinates for boxes and polytopes,
/// slice coordinates `(s, t)` for planes. [`Domain::constraints`] gives the set
/// as a [`Polytope`] in those coordinates and [`Domain::embedding`] the affine map
/// from them to input space. Constructors never fail; [`Domain::validate`]
/// (called by every algorithm) reports bad data as a typed error.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Domain {
    kind: DomainKind,
}

#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
enum DomainKind {
    Boxed {
        lo: Array1<f64>,
        hi: Array1<f64>,
    },
    Polytope(Polytope),
    Plane {
        plane: Plane,
        window: Window,
    },
    Affine {
        origin: Array1<f64>,
        basis: Array2<f64>,
        set: Polytope,
    },
}

impl Domain {
    /// The cube `[lo, hi]^dim`.
    ///
    /// # Examples
    ///
    /// ```
    /// let d = cpwl::Domain::cube(3, -1.0, 1.0);
    /// assert_eq!(d.dim(), 3);
    /// assert!((d.volume().unwrap() - 8.0).abs() < 1e-12);
    /// ```
    pub fn cube(dim: usize, lo: f64, hi: f64) -> Domain {
        Domain::boxed(Array1::from_elem(dim, lo), Array1::from_elem(dim, hi))
    }

    /// The box `[lo_1, hi_1] x ... x [lo_d, hi_d]`.
    pub fn boxed(lo: impl Into<Array1<f64>>, hi: impl Into<Array1<f64>>) -> Domain {
        Domain {
            kind: DomainKind::Boxed {
                lo: lo.into(),
                hi: hi.into(),
            },
        }
    }

    /// The bounded polytope `{x : a x <= b}` of input space.
    pub fn polytope(a: Array2<f64>, b: Array1<f64>) -> Domain {
        Domain {
            kind: DomainKind::Polytope(Polytope { a, b }),
        }
    }

    /// A window of a 2-D slice of input space.
    pub fn plane(plane: Plane, window: Window) -> Domain {
        Domain {
            kind: DomainKind::Plane { plane, window },
        }
    }

    /// A bounded polytope `{y : a y <= b}` of a `k`-dimensional affine subspace
    /// of input space, `x = origin + basis^T y`, `basis` being `k x D` with
    /// linearly independent rows (for example the cross-polytope spanned by
    /// local-complexity directions).
    pub fn affine(origin: Array1<f64>, basis: Array2<f64>, set: Polytope) -> Domain {
        Domain {
            kind: DomainKind::Affine { origin, basis, set },
        }
    }

    /// The domain's own dimension (2 for slices).
    pub fn dim(&self) -> usize {
        match &self.kind {
            DomainKind::Boxed { lo, .. } => lo.len(),
            DomainKind::Polytope(p) => p.dim(),
            DomainKind::Plane { .. } => 2,
            DomainKind::Affine { basis, .. } => basis.nrows(),
        }
    }

    /// The dimension of the input space the domain lives in.
    pub fn input_dim(&self) -> usize {
        match &self.kind {
            DomainKind::Plane { plane, .. } => plane.input_dim(),
            DomainKind::Affine { origin, .. } => origin.len(),
            _ => self.dim(),
        }
    }

    /// The plane of a slice domain.
    pub fn as_plane(&self) -> Option<&Plane> {
        match &self.kind {
            DomainKind::Plane { plane, .. } => Some(plane),
            _ => None,
        }
    }

    /// Checks the domain's data: shapes, finiteness, `lo < hi`, a valid window.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`], [`Error::NonFinite`] or [`Error::Invalid`] naming the fault.
    pub fn validate(&self) -> Result<()> {
        match &self.kind {
            DomainKind::Boxed { lo, hi } => {
                if lo.len() != hi.len() {
                    return Err(Error::shape("box bounds", lo.len(), hi.len()));
                }
                if lo.is_empty() {
                    return Err(Error::invalid("box", "dimension 0"));
                }
                crate::error::check_finite("box lower bounds", lo.iter())?;
                crate::error::check_finite("box upper bounds", hi.iter())?;
                if let Some(i) = lo.iter().zip(hi).position(|(l, h)| l >= h) {
                    return Err(Error::invalid("box", format!("lo >= hi in coordinate {i}")));
                }
                Ok(())
            }
            DomainKind::Polytope(p) => {
                Polytope::new(p.a.clone(), p.b.clone())?;
                if p.dim() == 0 {
                    return Err(Error::invalid("polytope domain", "dimension 0"));
                }
                Ok(())
            }
            DomainKind::Plane { plane, window } => window.vertices(plane).map(|_| ()),
            DomainKind::Affine { origin, basis, set } => {
                if basis.ncols() != origin.len() || basis.nrows() != set.dim() || basis.nrows() == 0 {
                    return Err(Error::shape(
                        "affine domain",
                        format!("basis k x {} with k = {} > 0", origin.len(), set.dim()),
                        format!("{:?}", basis.dim()),
                    ));
                }
                crate::error::check_finite("affine domain origin", origin.iter())?;
                crate::error::check_finite("affine domain basis", basis.iter())?;
                Polytope::new(set.a.clone(), set.b.clone()).map(|_| ())
            }
        }
    }

    /// The domain as `{y : a y <= b}` in its own coordinates.
    ///
    /// # Errors
    ///
    /// As [`Domain::validate`].
    pub fn constraints(&self) -> Result<Polytope> {
        self.validate()?;
        Ok(match &self.kind {
            DomainKind::Boxed { lo, hi } => {
                let d = lo.len();
                let mut a = Array2::zeros((2 * d, d));
                let mut b = Array1::zeros(2 * d);
                for i in 0..d {
                    a[[2 * i, i]] = 1.0;
                    b[2 * i] = hi[i];
                    a[[2 * i + 1, i]] = -1.0;
                    b[2 * i + 1] = -lo[i];
                }
                Polytope { a, b }
            }
            DomainKind::Polytope(p) | DomainKind::Affine { set: p, .. } => p.clone(),
            DomainKind::Plane { plane, window } => polygon_constraints(&window.vertices(plane)?),
        })
    }

    /// The affine map from domain coordinates to input space as
    /// `(basis, origin)`: `x = origin + basis^T y`, `basis` being dim x D.
    pub fn embedding(&self) -> (Array2<f64>, Array1<f64>) {
        match &self.kind {
            DomainKind::Plane { plane, .. } => (plane.basis(), plane.origin().to_owned()),
            DomainKind::Affine { origin, basis, .. } => (basis.clone(), origin.clone()),
            _ => {
                let d = self.dim();
                (Array2::eye(d), Array1::zeros(d))
            }
        }
    }

    /// The input-space point of domain coordinates `y`.
    pub fn to_input(&self, y: ArrayView1<f64>) -> Array1<f64> {
        match &self.kind {
            DomainKind::Plane { plane, .. } => plane.lift([y[0], y[1]]),
            DomainKind::Affine { origin, basis, .. } => origin + &basis.t().dot(&y),
            _ => y.to_owned(),
        }
    }

    /// The window polygon of a 2-D domain (a slice or a 2-D box), counter-clockwise.
    ///
    /// # Errors
    ///
    /// As [`Window::vertices`]; `Ok(None)` for domains that are not slices.
    pub fn window_polygon(&self) -> Result<Option<Vec<[f64; 2]>>> {
        match &self.kind {
            DomainKind::Plane { plane, window } => window.vertices(plane).map(Some),
            DomainKind::Boxed { lo, hi } if lo.len() == 2 => {
                self.validate()?;
                Ok(Some(vec![
                    [lo[0], lo[1]],
                    [hi[0], lo[1]],
                    [hi[0], hi[1]],
                    [lo[0], hi[1]],
                ]))
            }
            _ => Ok(None),
        }
    }

    /// The bounding box `(lo, hi)` in domain coordinates, when it is known
    /// without solving LPs (boxes and slices).
    pub fn bounding_box(&self) -> Option<(Array1<f64>, Array1<f64>)> {
        match &self.kind {
            DomainKind::Boxed { lo, hi } => Some((lo.clone(), hi.clone())),
            DomainKind::Plane { .. } => {
                let pts = self.window_polygon().ok()??;
                let mut lo = Array1::from_elem(2, f64::INFINITY);
                let mut hi = Array1::from_elem(2, f64::NEG_INFINITY);
                for p in &pts {
                    for k in 0..2 {
                        lo[k] = lo[k].min(p[k]);
                        hi[k] = hi[k].max(p[k]);
                    }
                }
                Some((lo, hi))
            }
            DomainKind::Polytope(_) | DomainKind::Affine { .. } => None,
        }
    }

    /// The volume in the domain's coordinates (area for slices): in closed
    /// form for boxes and slices, from the vertices ([`Polytope::volume`]) for
    /// polytopes; `None` for invalid or unbounded data.
    pub fn volume(&self) -> Option<f64> {
        match &self.kind {
            DomainKind::Boxed { lo, hi } => Some(lo.iter().zip(hi).map(|(l, h)| h - l).product()),
            DomainKind::Plane { .. } => {
                let pts = self.window_polygon().ok()??;
                Some(super::plane::signed_area(&pts))
            }
            DomainKind::Polytope(p) | DomainKind::Affine { set: p, .. } => p.volume().ok().flatten(),
        }
    }
}

/// Half-planes `a y <= b` of a counter-clockwise convex polygon, rows normalised.
fn polygon_constraints(pts: &[[f64; 2]]) -> Polytope {
    let n = pts.len();
    let mut a = Array2::zeros((n, 2));
    let mut b = Array1::zeros(n);
    for i in 0..n {
        let (p, q) = (pts[i], pts[(i + 1) % n]);
        // The outward normal of a CCW edge p -> q is (dy, -dx).
        let (nx, ny) = (q[1] - p[1], p[0] - q[0]);
        let norm = nx.hypot(ny);
        a[[i, 0]] = nx / norm;
        a[[i, 1]] = ny / norm;
        b[i] = (nx * p[0] + ny * p[1]) / norm;
    }
    Polytope { a, b }
}
