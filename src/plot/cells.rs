//! The exact arg-max cells of a 2-D partition: each region cut by the lines
//! where two of its affine outputs tie.

use rayon::prelude::*;

use crate::geometry::{ConvexPolygon, Split};
use crate::regions::{Partition, Region};
use crate::{AffineView, Result};

/// The part of one region where one class wins: a convex polygon on which the
/// class's output is the largest (ties going to the lower class index, as in
/// [`crate::regions::DecisionBoundary`]); with one output, class 1 where it is
/// positive and class 0 where it is not.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassCell {
    /// The index of the region (in the partition) that holds the cell.
    pub region: usize,
    /// The winning class.
    pub class: usize,
    /// The cell, in domain coordinates.
    pub polygon: ConvexPolygon,
}

/// The arg-max cells of every region of a 2-D partition, by region.
///
/// On a region the network is affine, `f_k(y) = a_k . y + b_k`, so the set
/// where class `c` wins is the region cut by the half-planes
/// `f_k - f_c <= 0` (strict for `k < c`): a convex polygon computed exactly
/// by clipping, with no sampling. The cells of a region cover it, and their
/// edges inside it are the pieces of
/// [`Partition::decision_boundary`](crate::regions::Partition::decision_boundary).
/// A region may give several cells of one class (they are pieces of one
/// convex cell); cells without area are left out.
///
/// # Errors
///
/// [`crate::Error::Invalid`] when the domain is not 2-D; LP errors when the
/// bounding box of a 2-D polytope domain must be computed.
///
/// # Examples
///
/// ```
/// use cpwl::plot::class_cells;
/// use cpwl::regions::{enumerate, EnumOptions};
/// use cpwl::{Domain, Network};
/// use ndarray::array;
/// // One affine region whose two outputs tie on the line x = y.
/// let net = Network::builder(2).dense(array![[1.0, 0.0], [0.0, 1.0]], array![0.0, 0.0])?.build()?;
/// let partition = enumerate(&net, &Domain::cube(2, -1.0, 1.0), &EnumOptions::default())?;
/// let cells = class_cells(&partition)?;
/// assert_eq!(cells.len(), 2);
/// assert!(cells.iter().all(|c| (c.polygon.area() - 2.0).abs() < 1e-12));
/// # Ok::<(), cpwl::Error>(())
/// ```
pub fn class_cells(partition: &Partition) -> Result<Vec<ClassCell>> {
    Ok(cells_of(partition, &region_polygons(partition)?))
}

/// The arg-max cells of the regions, given their polygons
/// ([`region_polygons`]), so that a picture computes the polygons once.
pub(crate) fn cells_of(partition: &Partition, polygons: &[Option<ConvexPolygon>]) -> Vec<ClassCell> {
    let by_region: Vec<Vec<ClassCell>> = partition
        .regions()
        .par_iter()
        .zip(polygons)
        .enumerate()
        .map(|(index, (region, polygon))| {
            let Some(polygon) = polygon else {
                return Vec::new();
            };
            region_cells(region.affine(), polygon.clone())
                .into_iter()
                .map(|(class, polygon)| ClassCell {
                    region: index,
                    class,
                    polygon,
                })
                .collect()
        })
        .collect();
    by_region.into_iter().flatten().collect()
}

/// Every region's polygon (its stored one, or the domain's bounding box cut
/// by its rows), `None` for a region without area.
pub(crate) fn region_polygons(partition: &Partition) -> Result<Vec<Option<ConvexPolygon>>> {
    partition.check_planar("pictures")?;
    let regions = partition.regions();
    // The frame costs an LP for polytope domains: only when some region needs it.
    let frame = if regions.iter().any(|r| r.polygon().is_none()) {
        Some(partition.frame()?)
    } else {
        None
    };
    Ok(regions
        .par_iter()
        .map(|region| match region.polygon() {
            Some(p) => ConvexPolygon::from_vertices(p.to_vec()).ok(),
            None => frame.as_ref().and_then(|frame| polygon_of(frame, region)),
        })
        .collect())
}

fn polygon_of(frame: &ConvexPolygon, region: Region<'_>) -> Option<ConvexPolygon> {
    ConvexPolygon::from_vertices(Partition::clip_to(frame, region)).ok()
}

/// The arg-max cells of one region: its polygon cut, class after class, by
/// the lines where the new class ties with the current winner of each piece.
fn region_cells(affine: AffineView<'_>, polygon: ConvexPolygon) -> Vec<(usize, ConvexPolygon)> {
    let outputs = affine.a.nrows();
    if outputs == 1 {
        // One output: class 1 where it is positive, class 0 elsewhere.
        let line = output_line(affine, 0);
        return match polygon.split(line.0, line.1) {
            Split::Negative => vec![(0, polygon)],
            Split::Positive => vec![(1, polygon)],
            Split::Both(neg, pos) => vec![(0, neg), (1, pos)],
        };
    }
    let mut cells = vec![(0, polygon)];
    for challenger in 1..outputs {
        let mut next = Vec::with_capacity(cells.len() + 1);
        for (winner, piece) in cells {
            // `f_challenger - f_winner <= 0`: the winner keeps it (ties go to
            // the lower index, which the winner has).
            let (a, c) = difference_line(affine, challenger, winner);
            match piece.split(a, c) {
                Split::Negative => next.push((winner, piece)),
                Split::Positive => next.push((challenger, piece)),
                Split::Both(keep, lose) => {
                    next.push((winner, keep));
                    next.push((challenger, lose));
                }
            }
        }
        cells = next;
    }
    cells
}

/// The line `f_i(y) = 0` as `(a, c)` with `a . y + c`.
fn output_line(affine: AffineView<'_>, i: usize) -> ([f64; 2], f64) {
    ([affine.a[[i, 0]], affine.a[[i, 1]]], affine.b[i])
}

/// The line `f_i(y) - f_j(y) = 0` as `(a, c)` with `a . y + c`.
fn difference_line(affine: AffineView<'_>, i: usize, j: usize) -> ([f64; 2], f64) {
    let (ai, ci) = output_line(affine, i);
    let (aj, cj) = output_line(affine, j);
    ([ai[0] - aj[0], ai[1] - aj[1]], ci - cj)
}
