//! Decision-boundary pieces on facets between two regions.
//!
//! The class maps of two neighbours agree on their shared facet (the network
//! is continuous), so the decision can change across the facet only where a
//! group of classes ties for the top on the whole facet: their maps agree on
//! the facet's hyperplane. Just inside a region the group's winner is the
//! class that grows fastest into it (ties, which mean identical maps there, to
//! the lower index). The facet is part of the boundary where the winners on
//! the two sides differ; it is reported once, from the lower-indexed region.

use ndarray::Array1;

use super::boundary::{
    same_hyperplane, stack_rows, BoundaryPiece, ClassMaps, DecisionBoundary, OnHyperplane,
};
use super::hrep::RowSource;
use super::{Partition, Region};
use crate::tol::TOL_SAME_HYPERPLANE_REL;
use crate::Result;

impl Partition {
    /// The decision boundary of the network's outputs over the partition.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Lp`] when an LP fails (pieces in domains of dimension
    /// other than 2, and pieces on facets, are checked for a relative interior
    /// by one LP each).
    ///
    /// # Complexity
    ///
    /// `O(K^3)` per region and `O(K^2)` per pair of neighbours for `K`
    /// outputs; in 2-D no LP for pieces inside regions. The measure of a piece
    /// in `d > 2` dimensions costs a vertex enumeration of the piece.
    ///
    /// # Examples
    ///
    /// ```
    /// use cpwl::regions::{enumerate, EnumOptions};
    /// use cpwl::{Domain, Network};
    /// use ndarray::array;
    /// // Outputs (x, y): the classes tie on the diagonal of the square.
    /// let net = Network::builder(2)
    ///     .dense(array![[1.0, 0.0], [0.0, 1.0]], array![0.0, 0.0])?
    ///     .build()?;
    /// let partition = enumerate(&net, &Domain::cube(2, 0.0, 1.0), &EnumOptions::default())?;
    /// let boundary = partition.decision_boundary()?;
    /// assert!((boundary.total_measure() - 2f64.sqrt()).abs() < 1e-12);
    /// # Ok::<(), cpwl::Error>(())
    /// ```
    pub fn decision_boundary(&self) -> Result<DecisionBoundary> {
        let (mut pieces, tol_radius) = self.interior_boundary_pieces()?;
        // Each region's maps and their scale, once rather than once per neighbour.
        let maps: Vec<(ClassMaps, f64)> = self
            .regions()
            .iter()
            .map(|region| {
                let maps = ClassMaps::of(region);
                let scale = maps.scale(region.center.view());
                (maps, scale)
            })
            .collect();
        for (index, region) in self.regions().iter().enumerate() {
            for &other in region.neighbors.iter().filter(|&&n| n > index) {
                let pair = [(index, &maps[index]), (other, &maps[other])];
                pieces.extend(facet_pieces(self, pair, tol_radius)?);
            }
        }
        Ok(DecisionBoundary { pieces })
    }
}

/// The pieces of the decision boundary on the facet shared by regions `r`
/// and `s` of `part` (none when they share no facet hyperplane), given with
/// their class maps and the maps' scales at the regions' centres.
fn facet_pieces(
    part: &Partition,
    [(r, (maps_here, scale_here)), (s, (maps_there, scale_there))]: [(usize, &(ClassMaps, f64)); 2],
    tol_radius: f64,
) -> Result<Vec<BoundaryPiece>> {
    let (here, there) = (part.region(r), part.region(s));
    let Some(p) = shared_facet(here, there) else {
        return Ok(Vec::new());
    };
    let row = here.polytope.a.row(p);
    let norm = row.dot(&row).sqrt();
    let u: Array1<f64> = row.mapv(|v| v / norm);
    let beta = here.polytope.b[p] / norm;
    let tol = TOL_SAME_HYPERPLANE_REL * scale_here.max(*scale_there);
    let groups = tie_groups(maps_here, &u, beta, tol);
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    let inward = -&u;
    let mut pieces = Vec::new();
    for group in groups {
        let winner_here = maps_here.steepest(&group, inward.view(), tol);
        let winner_there = maps_there.steepest(&group, u.view(), tol);
        if winner_here == winner_there {
            continue;
        }
        let g = group[0];
        let (a, b) = (&maps_here.a, &maps_here.b);
        let rivals = (0..maps_here.len())
            .filter(|k| !group.contains(k))
            .map(|k| (&a.row(k) - &a.row(g), b[g] - b[k]));
        let polytope = stack_rows(&[here.polytope, there.polytope], rivals);
        let cut = OnHyperplane::new(&polytope, &u, beta, here.center.view());
        let context = format!("decision boundary on the facet between regions {r} and {s}");
        if !cut.has_interior(tol_radius, &context)? {
            continue;
        }
        let piece = BoundaryPiece {
            region: r,
            neighbor: Some(s),
            classes: (winner_here.min(winner_there), winner_here.max(winner_there)),
            normal: u.clone(),
            offset: -beta,
            segment: cut.segment(),
            measure: cut.measure(),
            polytope,
            region_rows: here.polytope.len(),
        };
        pieces.push(maps_here.relabel(piece));
    }
    Ok(pieces)
}

/// The row of `here` (not from the domain) whose hyperplane bounds `there`
/// from the other side.
fn shared_facet(here: Region<'_>, there: Region<'_>) -> Option<usize> {
    (0..here.polytope.len())
        .filter(|&p| !matches!(here.sources.get(p), Some(RowSource::Domain(_))))
        .find(|&p| {
            let row = here.polytope.a.row(p);
            let norm = row.dot(&row).sqrt();
            if norm == 0.0 {
                return false;
            }
            let u: Array1<f64> = row.mapv(|v| v / norm);
            let beta = here.polytope.b[p] / norm;
            (0..there.polytope.len()).any(|q| {
                there.polytope.a.row(q).dot(&u) < 0.0 && same_hyperplane(there.polytope, q, &u, beta)
            })
        })
}

/// The groups (ascending, two classes or more) of classes whose maps agree on
/// the hyperplane `u . y = beta`.
fn tie_groups(maps: &ClassMaps, u: &Array1<f64>, beta: f64, tol: f64) -> Vec<Vec<usize>> {
    // Usually no two classes agree on a facet: that answer costs no allocation.
    let any_tie = (1..maps.len()).any(|k| (0..k).any(|g| maps.agree_on(k, g, u, beta, tol)));
    if !any_tie {
        return Vec::new();
    }
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for k in 0..maps.len() {
        match groups.iter_mut().find(|g| maps.agree_on(k, g[0], u, beta, tol)) {
            Some(g) => g.push(k),
            None => groups.push(vec![k]),
        }
    }
    groups.retain(|g| g.len() > 1);
    groups
}
