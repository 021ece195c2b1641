//! [`RegionStats`]: the shape of each region in every dimension, and the
//! regions meeting a polytope (the exact local complexity around a point).

use ndarray::{Array1, ArrayView1};
use rayon::prelude::*;

use super::boundary::stack_rows;
use super::{Partition, Region};
use crate::geometry::vertices::{vertex_set, Hull};
use crate::geometry::volume::Faces;
use crate::lp::chebyshev_ball;
use crate::tol::TOL_RADIUS_REL;
use crate::{Error, Polytope, Result};

/// The shape of one region, in the domain's coordinates.
///
/// # Semantics
///
/// - `volume`: as [`Region::volume`];
/// - `inradius`: the radius of the largest ball inside (the Chebyshev radius);
/// - `circumradius`: the largest distance from the Chebyshev centre to a
///   vertex, the radius of the smallest ball *centred at the Chebyshev centre*
///   that holds the region (not the smallest enclosing ball, which can be up
///   to twice smaller);
/// - `eccentricity`: `circumradius / inradius` (at least 1; large for thin
///   cells);
/// - `vertices`, `facets`: the numbers of vertices and of facets (rows whose
///   vertices span a `(d-1)`-face; redundant and duplicate rows do not count).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RegionStats {
    /// The volume (area in 2-D).
    pub volume: f64,
    /// The Chebyshev radius.
    pub inradius: f64,
    /// The largest distance from the Chebyshev centre to a vertex.
    pub circumradius: f64,
    /// `circumradius / inradius`.
    pub eccentricity: f64,
    /// The number of vertices.
    pub vertices: usize,
    /// The number of facets.
    pub facets: usize,
}

impl Region {
    /// The region's shape statistics ([`RegionStats`]), in every dimension.
    ///
    /// # Errors
    ///
    /// [`Error::Lp`] when the Chebyshev LP fails.
    ///
    /// # Complexity
    ///
    /// One LP and a vertex enumeration of the region.
    ///
    /// # Examples
    ///
    /// ```
    /// use cpwl::regions::{enumerate, EnumOptions};
    /// use cpwl::{Domain, Network};
    /// use ndarray::array;
    /// // relu(x + y + z - 1) on the unit cube: the corner simplex and the rest.
    /// let net = Network::builder(3).dense(array![[1.0, 1.0, 1.0]], array![-1.0])?.relu().build()?;
    /// let part = enumerate(&net, &Domain::cube(3, 0.0, 1.0), &EnumOptions::default())?;
    /// let simplex = part.regions().iter().map(|r| r.stats()).find(|s| matches!(s, Ok(s) if s.vertices == 4)).unwrap()?;
    /// assert_eq!(simplex.facets, 4);
    /// assert!((simplex.volume - 1.0 / 6.0).abs() < 1e-15);
    /// # Ok::<(), cpwl::Error>(())
    /// ```
    pub fn stats(&self) -> Result<RegionStats> {
        let context = format!("statistics of region {}", self.pattern);
        let (center, inradius) = chebyshev_ball(&self.polytope, &context)?
            .ok_or_else(|| Error::invalid("region", format!("{} is empty", self.pattern)))?;
        let Hull::Bounded(vertices) = vertex_set(&self.polytope) else {
            return Err(Error::invalid(
                "region",
                format!("{} is unbounded or empty", self.pattern),
            ));
        };
        let d = self.polytope.dim();
        let faces = Faces::new(&vertices, self.polytope.len());
        let circumradius = vertices
            .points
            .outer_iter()
            .map(|v| distance(v, center.view()))
            .fold(0.0, f64::max);
        let volume = match self.volume {
            Some(area) => area,
            None => crate::geometry::volume::volume_of_vertices(&vertices, self.polytope.len(), d),
        };
        Ok(RegionStats {
            volume,
            inradius,
            circumradius,
            eccentricity: circumradius / inradius,
            vertices: vertices.points.nrows(),
            facets: faces.facet_count(d),
        })
    }
}

fn distance(p: ArrayView1<f64>, q: ArrayView1<f64>) -> f64 {
    let v: Array1<f64> = &p - &q;
    v.dot(&v).sqrt()
}

impl Partition {
    /// The shape statistics of every region, in region order.
    ///
    /// # Errors
    ///
    /// As [`Region::stats`].
    pub fn region_stats(&self) -> Result<Vec<RegionStats>> {
        self.regions.par_iter().map(Region::stats).collect()
    }

    /// The regions (indices, ascending) that meet the polytope `set` (domain
    /// coordinates) in a full-dimensional part: the intersection holds a
    /// ball of radius above the thin-cell tolerance (`1e-9` times the
    /// domain's diameter, as in enumeration). For a box or cross-polytope
    /// around a point, their number is the exact local complexity there.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when `set` is not in the domain's dimension;
    /// [`Error::NonFinite`] for non-finite rows; [`Error::Lp`] when an LP fails.
    ///
    /// # Complexity
    ///
    /// One LP per region whose Chebyshev ball does not already decide (a
    /// region whose centre lies in `set` with its ball meets it).
    ///
    /// # Examples
    ///
    /// ```
    /// use cpwl::regions::{enumerate, EnumOptions};
    /// use cpwl::{Domain, Network, Polytope};
    /// use ndarray::array;
    /// // The four quadrants of [-1, 1]^2; the box [0.5, 0.7] x [-0.1, 0.1] meets two.
    /// let net = Network::builder(2).dense(array![[1.0, 0.0], [0.0, 1.0]], array![0.0, 0.0])?.relu().build()?;
    /// let part = enumerate(&net, &Domain::cube(2, -1.0, 1.0), &EnumOptions::default())?;
    /// let window = Domain::boxed(array![0.5, -0.1], array![0.7, 0.1]).constraints()?;
    /// assert_eq!(part.regions_meeting(&window)?.len(), 2);
    /// # Ok::<(), cpwl::Error>(())
    /// ```
    pub fn regions_meeting(&self, set: &Polytope) -> Result<Vec<usize>> {
        let set = Polytope::new(set.a.clone(), set.b.clone())?;
        if set.dim() != self.domain.dim() {
            return Err(Error::shape("polytope", self.domain.dim(), set.dim()));
        }
        let diameter = self
            .domain
            .bounding_box()
            .map_or(1.0, |(lo, hi)| (hi - lo).mapv(|v| v * v).sum().sqrt());
        let tol_radius = TOL_RADIUS_REL * diameter;
        let meets: Vec<bool> = self
            .regions
            .par_iter()
            .map(|r| meets(r, &set, tol_radius))
            .collect::<Result<_>>()?;
        Ok((0..meets.len()).filter(|&i| meets[i]).collect())
    }
}

/// True when `region ∩ set` holds a ball of radius above `tol_radius`.
fn meets(region: &Region, set: &Polytope, tol_radius: f64) -> Result<bool> {
    // A ball around the centre inside both decides without an LP.
    if super::hrep::inscribed_radius(set, region.center.view()).min(region.radius) > tol_radius {
        return Ok(true);
    }
    let both = stack_rows(&[&region.polytope, set], std::iter::empty());
    let context = format!("region {} within a polytope", region.pattern);
    Ok(chebyshev_ball(&both, &context)?.is_some_and(|(_, r)| r > tol_radius))
}
