//! Neighbours of the regions of a 2-D partition, by matching edges.
//!
//! Two regions are neighbours when they share an edge of positive length. A
//! shared edge lies on the line of one cut (a unit's line in one parent cell,
//! or the tie line of two candidates of a max unit), and both sides tag it
//! with that cut, so edges are grouped by the cut's unit and the exact bits of
//! its line; within a group, edges are intervals along the line, and
//! overlapping intervals of different regions make neighbours.

use std::ops::Range;

use rayon::prelude::*;

use super::hrep::RowSource;
use super::table::RegionTable;
use super::Region;
use crate::tol::TOL_SHARED_EDGE_REL;
use crate::{Error, Result};

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
    /// The region's index (a table never holds 2^32 regions: each takes
    /// hundreds of bytes).
    region: u32,
}

/// The most edges matched at once (32 MB of them, twice that while rayon
/// gathers them): a large partition's edges are matched in bands of units,
/// each band's edges collected by its own pass over the regions, so that they
/// are never all held at once (W1b's 4 million edges took 270 MB beside its
/// 770 MB partition; bands of 1M edges still added 130 MB to the peak).
const EDGES_PER_BAND: usize = 1 << 19;

/// Fills in every region's neighbours (indices in push order, unsorted;
/// [`super::Partition::from_table`] sorts them).
///
/// # Errors
///
/// [`Error::Invalid`] for a table of 2^32 regions or more, whose indices do
/// not fit the edges' `u32` (never met in practice: each region takes
/// hundreds of bytes).
pub(crate) fn link_neighbors(regions: &mut RegionTable, diameter: f64, parallel: bool) -> Result<()> {
    link_in_bands(regions, diameter, parallel, EDGES_PER_BAND)
}

/// [`link_neighbors`] with bands of at most `band_edges` edges.
fn link_in_bands(regions: &mut RegionTable, diameter: f64, parallel: bool, band_edges: usize) -> Result<()> {
    let eps = TOL_SHARED_EDGE_REL * diameter;
    let table = &*regions;
    // Checked once here, every index below fits `u32`.
    let count = u32::try_from(table.len()).map_err(|_| {
        Error::invalid(
            "partition",
            format!(
                "{} regions: neighbours are linked for fewer than 2^32",
                table.len()
            ),
        )
    })?;
    let mut pairs = Vec::new();
    for band in unit_bands(table, band_edges) {
        let band_spans = |i: u32| spans(i, table.region(i as usize), &band);
        let edges: Vec<EdgeSpan> = if parallel {
            (0..count).into_par_iter().flat_map_iter(band_spans).collect()
        } else {
            (0..count).flat_map(band_spans).collect()
        };
        match_edges(edges, eps, parallel, &mut pairs);
    }
    regions.set_neighbor_pairs(&pairs);
    Ok(())
}

/// Consecutive ranges of units covering every unit, each holding at most
/// `band_edges` edges unless one unit alone has more; one range when the
/// whole table has no more rows than that.
fn unit_bands(table: &RegionTable, band_edges: usize) -> Vec<Range<usize>> {
    if table.row_count() <= band_edges {
        return std::iter::once(0..usize::MAX).collect();
    }
    let mut per_unit: Vec<usize> = Vec::new();
    for i in 0..table.len() {
        for unit in table.region(i).sources.iter().filter_map(unit_of) {
            if unit >= per_unit.len() {
                per_unit.resize(unit + 1, 0);
            }
            per_unit[unit] += 1;
        }
    }
    let (mut bands, mut start, mut held) = (Vec::new(), 0, 0);
    for (unit, &count) in per_unit.iter().enumerate() {
        if held > 0 && held + count > band_edges {
            bands.push(start..unit);
            (start, held) = (unit, 0);
        }
        held += count;
    }
    bands.push(start..usize::MAX);
    bands
}

/// The unit whose line a row lies on (none for the domain's rows).
fn unit_of(source: &RowSource) -> Option<usize> {
    match *source {
        RowSource::Domain(_) => None,
        RowSource::Unit(unit) | RowSource::MaxRival { unit, .. } => Some(unit),
    }
}

/// Adds the pairs of regions whose edges overlap (each edge sorted with the
/// others on its line, which the band holds whole).
fn match_edges(mut edges: Vec<EdgeSpan>, eps: f64, parallel: bool, pairs: &mut Vec<(u32, u32)>) {
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
    for group in edges.chunk_by(|x, y| x.key == y.key) {
        for (i, e) in group.iter().enumerate() {
            for f in group[i + 1..].iter().take_while(|f| f.from < e.to - eps) {
                if f.region != e.region && e.to.min(f.to) - f.from > eps {
                    pairs.push((e.region, f.region));
                }
            }
        }
    }
}

/// The edges of a region that other regions can share (not the domain's),
/// on the lines of units in `band`.
fn spans(index: u32, region: Region<'_>, band: &Range<usize>) -> Vec<EdgeSpan> {
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
            if !band.contains(&unit) {
                return None;
            }
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
    use ndarray::array;

    use super::*;
    use crate::regions::{enumerate, EnumOptions, Method, Partition};
    use crate::{Domain, Network};

    #[test]
    fn bands_of_units_find_the_neighbours_of_one_pass() {
        let net = Network::builder(2)
            .dense(
                array![[1.0, 0.2], [-0.3, 1.0], [0.5, -0.7], [0.9, 0.4], [-1.0, 0.1]],
                array![0.0, 0.1, -0.1, 0.05, 0.2],
            )
            .unwrap()
            .relu()
            .dense(
                array![[1.0, -1.0, 0.5, 0.2, 0.3], [0.3, 0.2, -0.4, 1.0, -0.6]],
                array![0.0, 0.1],
            )
            .unwrap()
            .relu()
            .build()
            .unwrap();
        let opts = EnumOptions {
            method: Method::PlaneSplit,
            ..EnumOptions::default()
        };
        let part = enumerate(&net, &Domain::cube(2, -1.0, 1.0), &opts).unwrap();
        let one_pass = part.adjacency();
        assert!(one_pass.len() >= part.len() - 1, "{one_pass:?}");
        for (band_edges, parallel) in [1, 3, 7].into_iter().flat_map(|b| [(b, false), (b, true)]) {
            let mut table = part.table.clone();
            assert!(unit_bands(&table, band_edges).len() > 2);
            link_in_bands(&mut table, 2.0 * 2f64.sqrt(), parallel, band_edges).unwrap();
            let banded = Partition::from_table(table, *part.stats(), part.domain().clone(), net.clone());
            assert_eq!(
                banded.adjacency(),
                one_pass,
                "bands of {band_edges}, parallel {parallel}"
            );
        }
    }

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
