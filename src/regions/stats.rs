//! [`RegionStats`]: the shape of each region in every dimension, and the
//! regions meeting a polytope or a Euclidean ball (the exact local complexity
//! around a point).

use ndarray::{Array1, ArrayView1};
use rayon::prelude::*;

use super::boundary::stack_rows;
use super::{Partition, Region};
use crate::error::check_finite;
use crate::geometry::projection::project;
use crate::geometry::vertices::{vertex_set, Hull};
use crate::geometry::volume::Faces;
use crate::lp::chebyshev_ball;
use crate::tol::{TOL_RADIUS_REL, TOL_ZERO_ROW};
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

impl Region<'_> {
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
        // The rows are read where the partition keeps them (no copy).
        let polytope = self.polytope;
        let (center, inradius) = chebyshev_ball(polytope, &context)?
            .ok_or_else(|| Error::invalid("region", format!("{} is empty", self.pattern)))?;
        let Hull::Bounded(vertices) = vertex_set(polytope) else {
            return Err(Error::invalid(
                "region",
                format!("{} is unbounded or empty", self.pattern),
            ));
        };
        let d = polytope.dim();
        let faces = Faces::new(&vertices, polytope.len());
        let circumradius = vertices
            .points
            .outer_iter()
            .map(|v| distance(v, center.view()))
            .fold(0.0, f64::max);
        let volume = match self.volume {
            Some(area) => area,
            None => crate::geometry::volume::volume_of_vertices(&vertices, polytope.len(), d),
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

impl Region<'_> {
    /// The Euclidean distance from the point `y` (domain coordinates) to the
    /// region (0 inside it), exact up to rounding: the projection onto the
    /// region's polytope by an active-set method (see `docs/ALGORITHMS.md`).
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when `y` is not in the region's dimension,
    /// [`Error::NonFinite`] for a non-finite coordinate, [`Error::Lp`] in the
    /// unlikely case the active-set method cycles on a degenerate vertex.
    ///
    /// # Examples
    ///
    /// ```
    /// use cpwl::regions::{enumerate, EnumOptions};
    /// use cpwl::{Domain, Network};
    /// use ndarray::array;
    /// // relu(x) on [-1, 1]^2: the regions x <= 0 and x >= 0.
    /// let net = Network::builder(2).dense(array![[1.0, 0.0]], array![0.0])?.relu().build()?;
    /// let part = enumerate(&net, &Domain::cube(2, -1.0, 1.0), &EnumOptions::default())?;
    /// let right = part.locate(array![0.5, 0.0].view()).unwrap();
    /// // (-3, 5) is 3 away from the half x >= 0 and sqrt(9 + 16) = 5 from its corner (0, 1).
    /// assert!((part.region(right).distance(array![-3.0, 5.0].view())? - 5.0).abs() < 1e-12);
    /// # Ok::<(), cpwl::Error>(())
    /// ```
    pub fn distance(&self, y: ArrayView1<f64>) -> Result<f64> {
        let d = self.polytope.dim();
        if y.len() != d {
            return Err(Error::shape("point", d, y.len()));
        }
        check_finite("point", y.iter())?;
        let context = format!("distance to region {}", self.pattern);
        Ok(project(&self.polytope.to_owned(), y, self.center, &context)?.distance)
    }

    /// True when the open ball `B(c, r)` meets the region: its distance from
    /// `c` is below `r`. The Chebyshev ball and a separating row decide most
    /// regions without the projection.
    fn meets_ball(&self, c: ArrayView1<f64>, r: f64) -> Result<bool> {
        let to_center = distance(self.center, c);
        if to_center < r + self.radius {
            return Ok(true);
        }
        // The distance to the region is at least its distance to any row's half-space.
        let norms = self
            .polytope
            .a
            .map_axis(ndarray::Axis(1), |row| row.dot(&row).sqrt());
        let separated = (self.polytope.a.dot(&c) - self.polytope.b)
            .iter()
            .zip(&norms)
            .any(|(&excess, &n)| n > TOL_ZERO_ROW && excess >= r * n);
        if separated {
            return Ok(false);
        }
        let context = format!("region {} within a ball", self.pattern);
        Ok(project(&self.polytope.to_owned(), c, self.center, &context)?.distance < r)
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
        self.regions().par_iter().map(|r| r.stats()).collect()
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
            .regions()
            .par_iter()
            .map(|r| meets(r, &set, tol_radius))
            .collect::<Result<_>>()?;
        Ok((0..meets.len()).filter(|&i| meets[i]).collect())
    }

    /// The regions (indices, ascending) that meet the open Euclidean ball of
    /// radius `radius` around `center` (domain coordinates): those at a
    /// distance below `radius` from `center` ([`Region::distance`]), which are
    /// exactly the regions whose intersection with the ball is
    /// full-dimensional (a region that only touches the sphere does not
    /// count). Their number is the exact local complexity at `center` for
    /// Euclidean balls, the round counterpart of
    /// [`Partition::regions_meeting`] with a box or cross-polytope.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when `center` is not in the domain's dimension;
    /// [`Error::NonFinite`] for a non-finite coordinate; [`Error::Invalid`]
    /// when `radius` is not finite and positive; [`Error::Lp`] as for
    /// [`Region::distance`].
    ///
    /// # Complexity
    ///
    /// One small quadratic program (`O(d)` active-set steps of `O(m d^2)`
    /// for a region of `m` rows) per region that neither its Chebyshev ball
    /// (which meets the ball) nor one of its rows (which separates it)
    /// decides; regions run in parallel.
    ///
    /// # Examples
    ///
    /// ```
    /// use cpwl::regions::{enumerate, EnumOptions};
    /// use cpwl::{Domain, Network};
    /// use ndarray::array;
    /// // The four quadrants of [-1, 1]^2 seen from (0.4, 0.3): its own, the one
    /// // across y = 0 (0.3 away), the one across x = 0 (0.4 away), and the
    /// // opposite one, sqrt(0.4^2 + 0.3^2) = 0.5 away.
    /// let net = Network::builder(2).dense(array![[1.0, 0.0], [0.0, 1.0]], array![0.0, 0.0])?.relu().build()?;
    /// let part = enumerate(&net, &Domain::cube(2, -1.0, 1.0), &EnumOptions::default())?;
    /// assert_eq!(part.regions_meeting_ball(array![0.4, 0.3].view(), 0.45)?.len(), 3);
    /// assert_eq!(part.regions_meeting_ball(array![0.4, 0.3].view(), 0.55)?.len(), 4);
    /// # Ok::<(), cpwl::Error>(())
    /// ```
    pub fn regions_meeting_ball(&self, center: ArrayView1<f64>, radius: f64) -> Result<Vec<usize>> {
        let d = self.domain.dim();
        if center.len() != d {
            return Err(Error::shape("ball centre", d, center.len()));
        }
        check_finite("ball centre", center.iter())?;
        if !(radius.is_finite() && radius > 0.0) {
            return Err(Error::invalid(
                "ball radius",
                format!("{radius} is not finite and positive"),
            ));
        }
        let meets: Vec<bool> = self
            .regions()
            .par_iter()
            .map(|r| r.meets_ball(center, radius))
            .collect::<Result<_>>()?;
        Ok((0..meets.len()).filter(|&i| meets[i]).collect())
    }
}

/// True when `region ∩ set` holds a ball of radius above `tol_radius`.
fn meets(region: Region<'_>, set: &Polytope, tol_radius: f64) -> Result<bool> {
    // A ball around the centre inside both decides without an LP.
    if super::hrep::inscribed_radius(set, region.center).min(region.radius) > tol_radius {
        return Ok(true);
    }
    let both = stack_rows(&[region.polytope.reborrow(), set.view()], std::iter::empty());
    let context = format!("region {} within a polytope", region.pattern);
    Ok(chebyshev_ball(&both, &context)?.is_some_and(|(_, r)| r > tol_radius))
}

#[cfg(test)]
mod tests {
    use ndarray::{array, Array2};

    use crate::regions::{enumerate, EnumOptions};
    use crate::{Domain, Network};

    #[test]
    fn stats_of_the_octants_of_a_cube() {
        // Three units x, y, z cut [-1, 1]^3 into its eight unit octant cubes,
        // each read from the partition's pooled rows: inradius 1/2 (the
        // Chebyshev centre is the octant's centre, unique for a cube), 8
        // corners, circumradius half the unit cube's diagonal.
        let net = Network::builder(3)
            .dense(Array2::eye(3), array![0.0, 0.0, 0.0])
            .unwrap()
            .relu()
            .build()
            .unwrap();
        let part = enumerate(&net, &Domain::cube(3, -1.0, 1.0), &EnumOptions::default()).unwrap();
        assert_eq!(part.len(), 8);
        for region in part.regions() {
            let stats = region.stats().unwrap();
            assert!((stats.inradius - 0.5).abs() < 1e-12, "{}", stats.inradius);
            assert!(
                (stats.circumradius - 0.75f64.sqrt()).abs() < 1e-12,
                "{}",
                stats.circumradius
            );
            assert_eq!(stats.vertices, 8);
        }
    }
}
