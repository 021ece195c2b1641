//! [`Region`]: one linear region of a network inside a domain, borrowed
//! from a partition; [`RegionBuf`]: the same, owned.

use ndarray::{Array1, ArrayView1};

use crate::{AffineView, PatternRef, PolytopeView};

use super::hrep::{inscribed_radius, raw_region, RowSource};
use super::setup::Frame;
use crate::{Affine, Domain, Error, Network, Pattern, Polytope, Result};

/// One linear region of a network inside a domain, owned: what
/// [`Network::region_at`] returns and what a stored partition lists (a
/// [`super::Partition`] keeps its regions in shared buffers and lends
/// [`Region`] views; [`Region::to_owned`] gives this type back).
///
/// # Semantics
///
/// As [`Region`]; [`RegionBuf::view`] gives the borrowed form, which has the
/// statistics ([`Region::stats`], [`Region::distance`]).
///
/// # Invariants
///
/// As [`Region`].
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct RegionBuf {
    pub(crate) pattern: Pattern,
    pub(crate) polytope: Polytope,
    pub(crate) sources: Vec<RowSource>,
    pub(crate) center: Array1<f64>,
    pub(crate) radius: f64,
    pub(crate) affine: Affine,
    pub(crate) neighbors: Vec<usize>,
    pub(crate) volume: Option<f64>,
    pub(crate) polygon: Option<Vec<[f64; 2]>>,
}

impl RegionBuf {
    /// The borrowed view, with every accessor of [`Region`].
    pub fn view(&self) -> Region<'_> {
        Region {
            pattern: self.pattern.view(),
            polytope: self.polytope.view(),
            sources: &self.sources,
            center: self.center.view(),
            radius: self.radius,
            affine: self.affine.view(),
            neighbors: &self.neighbors,
            volume: self.volume,
            polygon: self.polygon.as_deref(),
        }
    }

    /// The activation pattern.
    pub fn pattern(&self) -> &Pattern {
        &self.pattern
    }

    /// The region as `{y : a y <= b}` in domain coordinates.
    pub fn polytope(&self) -> &Polytope {
        &self.polytope
    }

    /// Where each row of [`RegionBuf::polytope`] comes from.
    pub fn sources(&self) -> &[RowSource] {
        &self.sources
    }

    /// An interior point (the Chebyshev centre for enumerated regions).
    pub fn center(&self) -> ArrayView1<'_, f64> {
        self.center.view()
    }

    /// The radius of a ball around [`RegionBuf::center`] inside the region.
    pub fn radius(&self) -> f64 {
        self.radius
    }

    /// The network's affine map on the region, from domain coordinates to outputs.
    pub fn affine(&self) -> &Affine {
        &self.affine
    }

    /// Indices of the regions sharing a facet with this one (within a
    /// partition; empty for [`Network::region_at`]).
    pub fn neighbors(&self) -> &[usize] {
        &self.neighbors
    }

    /// The volume (area in 2-D), as [`Region::volume`].
    pub fn volume(&self) -> f64 {
        self.view().volume()
    }

    /// The vertices of a 2-D region, counter-clockwise.
    pub fn polygon(&self) -> Option<&[[f64; 2]]> {
        self.polygon.as_deref()
    }

    /// True when the region's shapes are those of a region in `dim` domain
    /// coordinates of a network with `outputs` outputs and `units` units
    /// (what a partition's storage needs; checked on regions read back).
    pub(crate) fn fits(&self, dim: usize, outputs: usize, units: usize) -> bool {
        let (p, f) = (&self.polytope, &self.affine);
        self.pattern.len() == units
            && p.a.ncols() == dim
            && p.a.nrows() == p.b.len()
            && self.sources.len() == p.b.len()
            && self.center.len() == dim
            && f.a.dim() == (outputs, dim)
            && f.b.len() == outputs
    }
}

/// One linear region of a network inside a domain, borrowed from a
/// [`super::Partition`] (or from a [`RegionBuf`]).
///
/// # Semantics
///
/// The closure of `{y in D : pattern(x(y)) = p}` for the region's pattern `p`,
/// in the domain's coordinates `y` (input coordinates for boxes and polytopes,
/// slice coordinates for planes). The network equals [`Region::affine`] on it.
///
/// # Invariants
///
/// The polytope has one row per constraint source ([`Region::sources`]); the
/// centre lies inside at distance at least [`Region::radius`] from every facet.
/// Regions listed by a partition are full-dimensional (radius above the
/// thin-cell tolerance).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Region<'a> {
    pub(crate) pattern: PatternRef<'a>,
    pub(crate) polytope: PolytopeView<'a>,
    pub(crate) sources: &'a [RowSource],
    pub(crate) center: ArrayView1<'a, f64>,
    pub(crate) radius: f64,
    pub(crate) affine: AffineView<'a>,
    pub(crate) neighbors: &'a [usize],
    pub(crate) volume: Option<f64>,
    pub(crate) polygon: Option<&'a [[f64; 2]]>,
}

impl<'a> Region<'a> {
    /// The activation pattern.
    pub fn pattern(&self) -> PatternRef<'a> {
        self.pattern
    }

    /// The region as `{y : a y <= b}` in domain coordinates.
    pub fn polytope(&self) -> PolytopeView<'a> {
        self.polytope
    }

    /// Where each row of [`Region::polytope`] comes from.
    pub fn sources(&self) -> &'a [RowSource] {
        self.sources
    }

    /// An interior point (the Chebyshev centre for enumerated regions).
    pub fn center(&self) -> ArrayView1<'a, f64> {
        self.center
    }

    /// The radius of a ball around [`Region::center`] inside the region.
    pub fn radius(&self) -> f64 {
        self.radius
    }

    /// The network's affine map on the region, from domain coordinates to outputs.
    pub fn affine(&self) -> AffineView<'a> {
        self.affine
    }

    /// Indices of the regions sharing a facet with this one (within a partition).
    pub fn neighbors(&self) -> &'a [usize] {
        self.neighbors
    }

    /// The volume (area in 2-D) in the domain's coordinates, in every dimension.
    ///
    /// A 2-D region keeps its polygon's (shoelace) area; in other dimensions
    /// the volume is computed on each call from the polytope's vertices and
    /// faces ([`Polytope::volume`]), exact up to rounding. Regions are
    /// bounded, so the value is finite.
    ///
    /// # Complexity
    ///
    /// Proportional to the number of faces of the region (exponential in the
    /// dimension in general; milliseconds for regions of small networks in up
    /// to 6 dimensions).
    pub fn volume(&self) -> f64 {
        self.volume.unwrap_or_else(|| {
            crate::geometry::volume::polytope_volume(self.polytope).unwrap_or(f64::INFINITY)
        })
    }

    /// The vertices of a 2-D region, counter-clockwise.
    pub fn polygon(&self) -> Option<&'a [[f64; 2]]> {
        self.polygon
    }

    /// The owned region.
    pub fn to_owned(&self) -> RegionBuf {
        RegionBuf {
            pattern: self.pattern.to_owned(),
            polytope: self.polytope.to_owned(),
            sources: self.sources.to_vec(),
            center: self.center.to_owned(),
            radius: self.radius,
            affine: self.affine.to_owned(),
            neighbors: self.neighbors.to_vec(),
            volume: self.volume,
            polygon: self.polygon.map(<[[f64; 2]]>::to_vec),
        }
    }
}

impl Network {
    /// The region of the point `y` of a domain, given in the domain's
    /// coordinates (input coordinates for boxes and polytopes, `(s, t)` for
    /// slices: see [`crate::Plane::project`]).
    ///
    /// The polytope lists every constraint (domain rows and one row per unit,
    /// or per rival of a max unit); redundant rows are kept. The centre is `y`
    /// itself and the radius that of the largest ball around `y` inside.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when `y` does not have the domain's dimension or the
    /// domain lives in another input space; [`Error::Invalid`] when `y` lies
    /// outside the domain; domain validation errors.
    ///
    /// # Examples
    ///
    /// ```
    /// use cpwl::{Domain, Network};
    /// use ndarray::array;
    /// let net = Network::builder(1).dense(array![[1.0]], array![0.0])?.relu().dense(array![[1.0]], array![0.0])?.build()?;
    /// let region = net.region_at(array![0.5].view(), &Domain::cube(1, -1.0, 1.0))?;
    /// assert_eq!(region.pattern().to_string(), "1");
    /// assert!((region.radius() - 0.5).abs() < 1e-12);
    /// # Ok::<(), cpwl::Error>(())
    /// ```
    pub fn region_at(&self, y: ArrayView1<f64>, domain: &Domain) -> Result<RegionBuf> {
        domain.validate()?;
        if domain.input_dim() != self.input_dim() {
            return Err(Error::shape(
                "domain",
                format!("input dimension {}", self.input_dim()),
                domain.input_dim(),
            ));
        }
        if y.len() != domain.dim() {
            return Err(Error::shape("point in domain coordinates", domain.dim(), y.len()));
        }
        crate::error::check_finite("point", y.iter())?;
        let x = domain.to_input(y);
        let pattern = self.pattern(x.view())?;
        let frame = Frame::of(domain)?;
        let raw = raw_region(self, &pattern.to_values(), &frame);
        if !frame.constraints.contains(
            y,
            crate::tol::TOL_LP_FEAS * (1.0 + y.iter().fold(0.0f64, |m, v| m.max(v.abs()))),
        ) {
            return Err(Error::invalid("point", "outside the domain"));
        }
        let radius = inscribed_radius(&raw.polytope, y).max(0.0);
        Ok(RegionBuf {
            pattern,
            polytope: raw.polytope,
            sources: raw.sources,
            center: y.to_owned(),
            radius,
            affine: raw.affine,
            neighbors: Vec::new(),
            volume: None,
            polygon: None,
        })
    }
}
