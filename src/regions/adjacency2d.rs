//! Neighbours of the regions of a 2-D partition, by matching edges.
//!
//! Two regions are neighbours when they share an edge of positive length. A
//! shared edge lies on the line of one cut (a unit's line in one parent cell,
//! or the tie line of two candidates of a max unit), and both sides tag it
//! with that cut, so edges are grouped by the cut's unit and the exact bits of
//! its line; within a group, edges are intervals along the line, and
//! overlapping intervals of different regions make neighbours.

use rayon::prelude::*;

use super::hrep::RowSource;
use super::table::RegionTable;
use super::Region;
use crate::tol::TOL_SHARED_EDGE_REL;

/// What identifies the line of an edge on both of its sides.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct LineKey {
    /// The unit whose line it is.
    unit: usize,
    /// For a max unit, the two candidates that tie on the line (lower first).
    pair: (u8, u8),
    /// The line's coefficients, with the sign fixed, as bits.
    bits: [u64; 3],
}

/// An edge: its line, the interval it covers along the line, its region.
struct EdgeSpan {
    key: LineKey,
    from: f64,
    to: f64,
    region: usize,
}

/// Fills in every region's neighbours (indices in push order, unsorted;
/// [`super::Partition::from_table`] sorts them).
pub(crate) fn link_neighbors(regions: &mut RegionTable, diameter: f64, parallel: bool) {
    let eps = TOL_SHARED_EDGE_REL * diameter;
    let table = &*regions;
    let mut edges: Vec<EdgeSpan> = if parallel {
        (0..table.len())
            .into_par_iter()
            .flat_map_iter(|i| spans(i, table.region(i)))
            .collect()
    } else {
        (0..table.len()).flat_map(|i| spans(i, table.region(i))).collect()
    };
    let order = |x: &EdgeSpan, y: &EdgeSpan| {
        x.key
            .cmp(&y.key)
            .then(x.from.total_cmp(&y.from))
            .then(x.region.cmp(&y.region))
    };
    if parallel {
        edges.par_sort_unstable_by(order);
    } else {
        edges.sort_unstable_by(order);
    }
    let mut pairs = Vec::new();
    for group in edges.chunk_by(|x, y| x.key == y.key) {
        for (i, e) in group.iter().enumerate() {
            for f in group[i + 1..].iter().take_while(|f| f.from < e.to - eps) {
                if f.region != e.region && e.to.min(f.to) - f.from > eps {
                    pairs.push((e.region, f.region));
                }
            }
        }
    }
    drop(edges);
    regions.set_neighbor_pairs(&pairs);
}

/// The edges of a region that other regions can share (not the domain's).
fn spans(index: usize, region: Region<'_>) -> Vec<EdgeSpan> {
    let Some(vertices) = region.polygon else {
        return Vec::new();
    };
    let n = vertices.len();
    region
        .sources
        .iter()
        .enumerate()
        .filter_map(|(k, source)| {
            let line = [
                region.polytope.a[[k, 0]],
                region.polytope.a[[k, 1]],
                -region.polytope.b[k],
            ];
            let (unit, pair) = match *source {
                RowSource::Domain(_) => return None,
                RowSource::Unit(u) => (u, (0, 0)),
                RowSource::MaxRival { unit, rival } => {
                    let own = region.pattern.get(unit).unwrap_or(0);
                    (unit, (own.min(rival), own.max(rival)))
                }
            };
            let line = with_fixed_sign(line);
            let norm = line[0].hypot(line[1]);
            if norm == 0.0 {
                return None;
            }
            let along = |p: [f64; 2]| (p[1] * line[0] - p[0] * line[1]) / norm;
            let (s, t) = (along(vertices[k]), along(vertices[(k + 1) % n]));
            Some(EdgeSpan {
                key: LineKey {
                    unit,
                    pair,
                    bits: line.map(f64::to_bits),
                },
                from: s.min(t),
                to: s.max(t),
                region: index,
            })
        })
        .collect()
}

/// The line's coefficients scaled by -1 when needed, so that the first nonzero
/// one is positive, and without negative zeros: both sides of a cut give the
/// same bits.
fn with_fixed_sign(line: [f64; 3]) -> [f64; 3] {
    let flip = line.iter().find(|v| **v != 0.0).is_some_and(|v| *v < 0.0);
    line.map(|v| (if flip { -v } else { v }) + 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_sign_matches_both_sides() {
        let line = [0.0, -2.5, 1.0 / 3.0];
        let other = line.map(|v| -v);
        assert_eq!(
            with_fixed_sign(line).map(f64::to_bits),
            with_fixed_sign(other).map(f64::to_bits)
        );
        assert_eq!(with_fixed_sign(line), [0.0, 2.5, -1.0 / 3.0]);
    }
}
