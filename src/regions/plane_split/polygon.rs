//! The polygons at both ends of a run: the domain's, with its edges tagged
//! by the domain's rows, and each final cell's region.

use ndarray::{Array1, Array2};

use super::cut::{line_scale, max_coordinate, EdgeTag};
use super::rows::FinalCell;
use crate::geometry::predicates::{line_sign, Sign};
use crate::geometry::{cut_piece, largest_inscribed_circle, signed_area};
use crate::regions::hrep::RowSource;
use crate::regions::setup::Setup;
use crate::regions::{RegionBuf, ThinCell};
use crate::{Domain, Error, Result};

/// The domain's polygon with its edges tagged by the domain's rows: a slice's
/// window as given, a box or polytope as its bounding box cut by every row.
pub(super) fn domain_polygon(domain: &Domain, setup: &Setup) -> Result<(Vec<[f64; 2]>, Vec<EdgeTag>)> {
    let cons = &setup.frame.constraints;
    let tag = |i: usize| EdgeTag {
        source: RowSource::Domain(i),
        line: [cons.a[[i, 0]], cons.a[[i, 1]], -cons.b[i]],
    };
    if let Some(window) = domain.window_polygon()? {
        let n = window.len();
        let tags = (0..n)
            .map(|k| tag(row_along(cons, window[k], window[(k + 1) % n])))
            .collect();
        return Ok((window, tags));
    }
    let (lo, hi) = setup
        .bbox
        .as_ref()
        .ok_or_else(|| Error::invalid("domain", "unbounded"))?;
    let margin = 1.0 + (hi - lo).iter().fold(0.0f64, |m, v| m.max(*v));
    let (l, h) = ([lo[0] - margin, lo[1] - margin], [hi[0] + margin, hi[1] + margin]);
    let outside = EdgeTag {
        source: RowSource::Domain(usize::MAX),
        line: [0.0; 3],
    };
    let mut vertices = vec![l, [h[0], l[1]], h, [l[0], h[1]]];
    let mut tags = vec![outside; 4];
    for i in 0..cons.len() {
        let t = tag(i);
        let a = [t.line[0], t.line[1]];
        let scale = line_scale(a, t.line[2], max_coordinate(&vertices));
        let signs: Vec<(f64, Sign)> = vertices
            .iter()
            .map(|&p| line_sign(a, t.line[2], p, scale))
            .collect();
        if !signs.iter().any(|s| s.1 == Sign::Positive) {
            continue;
        }
        (vertices, tags) = cut_piece(&vertices, &tags, &signs, Sign::Negative, t)
            .ok_or_else(|| Error::invalid("domain", "empty or without area"))?;
    }
    if tags.contains(&outside) {
        return Err(Error::invalid("domain", "unbounded"));
    }
    Ok((corners_of(&tags).unwrap_or(vertices), tags))
}

/// The row of `cons` whose boundary line holds the edge `p q` (the smallest
/// distance of the two end points from the line): the domain's rows need not
/// follow the order of its polygon's edges.
fn row_along(cons: &crate::Polytope, p: [f64; 2], q: [f64; 2]) -> usize {
    let miss = |i: usize| {
        let (a, b) = (cons.a.row(i), cons.b[i]);
        let norm = a[0].hypot(a[1]);
        ((a[0] * p[0] + a[1] * p[1] - b).abs() + (a[0] * q[0] + a[1] * q[1] - b).abs()) / norm
    };
    (0..cons.len())
        .min_by(|&i, &j| miss(i).total_cmp(&miss(j)))
        .unwrap_or(0)
}

/// The vertices recomputed as the crossings of consecutive edge lines (exact
/// for axis-aligned boxes); `None` when two consecutive lines are parallel.
fn corners_of(tags: &[EdgeTag]) -> Option<Vec<[f64; 2]>> {
    let n = tags.len();
    (0..n)
        .map(|k| {
            let (p, q) = (tags[(k + n - 1) % n].line, tags[k].line);
            let det = p[0] * q[1] - p[1] * q[0];
            (det != 0.0).then(|| {
                [
                    (-p[2] * q[1] + q[2] * p[1]) / det,
                    (-p[0] * q[2] + q[0] * p[2]) / det,
                ]
            })
        })
        .collect()
}

/// The region of a final cell, or the thin cell when it is thin: its edges
/// merged into one row per line, its inscribed circle, polygon and area.
pub(super) fn region_of(cell: FinalCell, tol_radius: f64) -> std::result::Result<RegionBuf, ThinCell> {
    let (vertices, tags) = merge_collinear(cell.vertices, cell.tags);
    let rows: Vec<([f64; 2], f64)> = tags
        .iter()
        .map(|t| ([t.line[0], t.line[1]], -t.line[2]))
        .collect();
    let (center, radius) = largest_inscribed_circle(&rows, &vertices);
    if radius <= tol_radius {
        return Err(ThinCell {
            pattern: crate::Pattern::from_checked(&cell.pattern),
            center: Array1::from(center.to_vec()),
            radius,
        });
    }
    let mut a = Array2::zeros((rows.len(), 2));
    let mut b = Array1::zeros(rows.len());
    for (i, (n, beta)) in rows.iter().enumerate() {
        a[[i, 0]] = n[0];
        a[[i, 1]] = n[1];
        b[i] = *beta;
    }
    Ok(RegionBuf {
        pattern: crate::Pattern::from_checked(&cell.pattern),
        polytope: crate::Polytope { a, b },
        sources: tags.iter().map(|t| t.source).collect(),
        center: Array1::from(center.to_vec()),
        radius,
        affine: cell.affine,
        neighbors: Vec::new(),
        volume: Some(signed_area(&vertices)),
        polygon: Some(vertices),
    })
}

/// Drops the vertices in the middle of an edge (between two edges on the
/// same line, which carry the same tag).
fn merge_collinear(mut vertices: Vec<[f64; 2]>, mut tags: Vec<EdgeTag>) -> (Vec<[f64; 2]>, Vec<EdgeTag>) {
    let n = vertices.len();
    let starts_edge = |k: usize, tags: &[EdgeTag]| tags[(k + n - 1) % n] != tags[k];
    if (0..n).filter(|&k| starts_edge(k, &tags)).count() < 3 {
        return (vertices, tags);
    }
    // Compacted in place: `previous` keeps the tag read before it was
    // overwritten.
    let mut previous = tags[n - 1];
    let mut kept = 0;
    for k in 0..n {
        let tag = tags[k];
        if tag != previous {
            vertices[kept] = vertices[k];
            tags[kept] = tag;
            kept += 1;
        }
        previous = tag;
    }
    vertices.truncate(kept);
    tags.truncate(kept);
    (vertices, tags)
}

#[cfg(test)]
mod tests {
    use ndarray::array;

    use super::*;
    use crate::lp::LpStats;
    use crate::regions::plane_split::cut::tests::tag;

    #[test]
    fn box_corners_are_exact() {
        let domain = Domain::polytope(
            array![[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0], [1.0, 1.0]],
            array![0.3, 0.7, 0.1, 0.9, 10.0],
        );
        let mut lp = LpStats::default();
        let setup = Setup::new(&domain, None, &mut lp).unwrap();
        let (vertices, tags) = domain_polygon(&domain, &setup).unwrap();
        assert_eq!(vertices.len(), 4);
        for corner in [[-0.7, -0.9], [0.3, -0.9], [0.3, 0.1], [-0.7, 0.1]] {
            assert!(vertices.contains(&corner), "{corner:?} in {vertices:?}");
        }
        // The redundant row 4 bounds no edge.
        assert!(tags.iter().all(|t| t.source != RowSource::Domain(4)));
    }

    #[test]
    fn window_edges_find_their_rows_in_any_order() {
        // Box rows are x <= hi, -x <= -lo, y <= hi, -y <= -lo; the polygon's
        // edges run bottom, right, top, left.
        let cons = crate::Polytope {
            a: array![[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]],
            b: array![1.0, 2.0, 3.0, 4.0],
        };
        let square = [[-2.0, -4.0], [1.0, -4.0], [1.0, 3.0], [-2.0, 3.0]];
        let rows: Vec<usize> = (0..4)
            .map(|k| row_along(&cons, square[k], square[(k + 1) % 4]))
            .collect();
        assert_eq!(rows, [3, 0, 2, 1]);
    }

    #[test]
    fn merging_drops_vertices_inside_edges() {
        let vertices = vec![[0.0, 0.0], [0.5, 0.0], [1.0, 0.0], [0.0, 1.0]];
        let tags = vec![tag(0), tag(0), tag(1), tag(2)];
        let (v, t) = merge_collinear(vertices, tags);
        assert_eq!(v, [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]);
        assert_eq!(t, [tag(0), tag(1), tag(2)]);
    }
}
