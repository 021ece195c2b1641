//! Vertices of a polytope from its H-representation, by double description.
//!
//! The polyhedron `P = {x : a x <= b}` in `R^d` is the slice `t = 1` of the
//! cone `C = {(x, t) : a x - b t <= 0, t >= 0}` of `R^(d+1)`. The double
//! description method (Motzkin et al. 1953; Fukuda and Prodon 1996) keeps the
//! extreme rays of the cone cut out by the rows seen so far: it starts from the
//! simplicial cone of `d + 1` independent rows (its rays are the columns of
//! minus the inverse) and adds the other rows one at a time. A row keeps the
//! rays on its inner side, drops those outside, and adds a ray on the row's
//! hyperplane for every pair of *adjacent* rays on opposite sides. Two rays are
//! adjacent when no third ray is tight at every row tight at both (the
//! combinatorial test), which stays exact at degenerate vertices, where more
//! than `d` rows meet.
//!
//! At the end, rays with `t > 0` are the vertices `x / t` of `P`, each with the
//! rows tight there (its incidences); a ray with `t = 0` is a direction in
//! which `P` is unbounded. A row is tight at a ray when its value is within
//! [`TOL_SIGN_REL`] of the magnitude of the terms summed (the sign-test
//! tolerance used everywhere a point is placed on a hyperplane).
//!
//! # Complexity
//!
//! Output-sensitive but without a polynomial bound in general: with `n` rays
//! alive, a row costs `O(n^2 m)` for the adjacency tests. Regions of small
//! networks in a few dimensions have tens to hundreds of vertices.

use ndarray::{s, Array1, Array2, ArrayView1};

use super::{Polytope, PolytopeView};
use crate::linalg::invert;
use crate::tol::{TOL_DEPENDENT_REL, TOL_RAY_AT_INFINITY, TOL_SIGN_REL, TOL_ZERO_ROW};

/// The vertices of a polyhedron, with the rows tight at each.
#[derive(Clone, Debug)]
pub(crate) struct VertexSet {
    /// One vertex per row.
    pub points: Array2<f64>,
    /// For each vertex, the (ascending) indices of the polytope's rows tight there.
    pub tight: Vec<Vec<usize>>,
}

/// What the double description found.
#[derive(Clone, Debug)]
pub(crate) enum Hull {
    /// No point satisfies the rows.
    Empty,
    /// The set is nonempty and unbounded (it holds a ray or a line).
    Unbounded,
    /// The set is a bounded polytope with these vertices.
    Bounded(VertexSet),
}

/// An orthonormal frame grown one vector at a time (modified Gram-Schmidt,
/// twice): ranks, affine hulls and distances to them.
#[derive(Clone, Debug, Default)]
pub(crate) struct Frame {
    vectors: Vec<Array1<f64>>,
}

impl Frame {
    /// The number of vectors in the frame.
    pub fn len(&self) -> usize {
        self.vectors.len()
    }

    /// The vectors, orthonormal.
    pub fn vectors(&self) -> &[Array1<f64>] {
        &self.vectors
    }

    /// `v` minus its components along the frame.
    pub fn residual(&self, v: ArrayView1<f64>) -> Array1<f64> {
        let mut r = v.to_owned();
        for _pass in 0..2 {
            for f in &self.vectors {
                let along = r.dot(f);
                r.scaled_add(-along, f);
            }
        }
        r
    }

    /// Adds the part of `v` orthogonal to the frame when it is more than
    /// [`TOL_DEPENDENT_REL`] of `v`'s norm; returns whether it was added.
    pub fn push(&mut self, v: ArrayView1<f64>) -> bool {
        let before = v.dot(&v).sqrt();
        let r = self.residual(v);
        let after = r.dot(&r).sqrt();
        if before == 0.0 || after <= TOL_DEPENDENT_REL * before {
            return false;
        }
        self.vectors.push(r / after);
        true
    }
}

/// A ray of the homogenised cone, unit norm, with its tight rows (ascending).
struct Ray {
    z: Array1<f64>,
    tight: Vec<usize>,
}

/// The rows of the polyhedron, unit-normalised, zero rows removed.
struct Rows {
    u: Array2<f64>,
    beta: Array1<f64>,
    /// The original index of each kept row.
    index: Vec<usize>,
}

/// The vertices of `p`, or why it has none: empty, or unbounded.
pub(crate) fn vertex_set(p: PolytopeView<'_>) -> Hull {
    let Some(rows) = normalised_rows(p) else {
        return Hull::Empty;
    };
    let d = p.dim();
    let mut frame = Frame::default();
    let basis: Vec<usize> = (0..rows.beta.len())
        .filter(|&i| frame.len() < d && frame.push(rows.u.row(i)))
        .collect();
    if basis.len() < d {
        return rank_deficient(&rows, &frame);
    }
    let Some(mut rays) = initial_rays(&rows, &basis) else {
        return Hull::Unbounded; // unreachable for independent unit rows
    };
    for i in (0..rows.beta.len()).filter(|i| !basis.contains(i)) {
        rays = add_row(rays, &rows, i);
        if rays.is_empty() {
            return Hull::Empty;
        }
    }
    finish(&rows, rays, d)
}

/// Unit rows `u x <= beta`; zero rows are dropped when `0 <= b` holds and make
/// the set empty (`None`) otherwise.
fn normalised_rows(p: PolytopeView<'_>) -> Option<Rows> {
    let scale = p.b.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    let mut index = Vec::with_capacity(p.len());
    for (i, row) in p.a.outer_iter().enumerate() {
        let norm = row.dot(&row).sqrt();
        if norm >= TOL_ZERO_ROW {
            index.push(i);
        } else if p.b[i] < -TOL_SIGN_REL * scale {
            return None;
        }
    }
    let mut u = Array2::zeros((index.len(), p.dim()));
    let mut beta = Array1::zeros(index.len());
    for (k, &i) in index.iter().enumerate() {
        let row = p.a.row(i);
        let norm = row.dot(&row).sqrt();
        u.row_mut(k).assign(&row.mapv(|v| v / norm));
        beta[k] = p.b[i] / norm;
    }
    Some(Rows { u, beta, index })
}

/// A set whose rows span fewer than `d` directions is a cylinder over its
/// image in their span: empty when that image is, else unbounded.
fn rank_deficient(rows: &Rows, frame: &Frame) -> Hull {
    let q = Array2::from_shape_fn((frame.len(), rows.u.ncols()), |(r, c)| frame.vectors()[r][c]);
    let reduced = Polytope {
        a: rows.u.dot(&q.t()),
        b: rows.beta.clone(),
    };
    match vertex_set(reduced.view()) {
        Hull::Empty => Hull::Empty,
        _ => Hull::Unbounded,
    }
}

/// The homogenised row `i`: `(u_i, -beta_i)`; index `m` is `-t <= 0`.
fn homogenised(rows: &Rows, i: usize) -> Array1<f64> {
    let d = rows.u.ncols();
    let mut h = Array1::zeros(d + 1);
    if i == rows.beta.len() {
        h[d] = -1.0;
    } else {
        h.slice_mut(s![..d]).assign(&rows.u.row(i));
        h[d] = -rows.beta[i];
    }
    h
}

/// The rays of the simplicial cone of the rows `basis` and `t >= 0`: the
/// columns of `-M^-1`, ray `j` tight at every row of the cone but row `j`.
fn initial_rays(rows: &Rows, basis: &[usize]) -> Option<Vec<Ray>> {
    let m = rows.beta.len();
    let all: Vec<usize> = basis.iter().copied().chain(std::iter::once(m)).collect();
    let n = all.len();
    let mut mat = Array2::zeros((n, n));
    for (r, &i) in all.iter().enumerate() {
        mat.row_mut(r).assign(&homogenised(rows, i));
    }
    let inv = invert(&mat)?;
    let rays = (0..n)
        .map(|j| {
            let z = inv.column(j).mapv(|v| -v);
            let norm = z.dot(&z).sqrt();
            let mut tight: Vec<usize> = all.iter().copied().filter(|&i| i != all[j]).collect();
            tight.sort_unstable();
            Ray { z: z / norm, tight }
        })
        .collect();
    Some(rays)
}

/// Where a ray lies against a row.
#[derive(Clone, Copy, PartialEq)]
enum Side {
    Inside,
    On,
    Outside,
}

/// The row's value at the ray and the side it puts the ray on.
fn side(h: &Array1<f64>, z: &Array1<f64>) -> (f64, Side) {
    let value = h.dot(z);
    let terms: f64 = h.iter().zip(z).map(|(a, b)| (a * b).abs()).sum();
    let side = if value > TOL_SIGN_REL * terms {
        Side::Outside
    } else if value < -TOL_SIGN_REL * terms {
        Side::Inside
    } else {
        Side::On
    };
    (value, side)
}

/// The cone cut by row `i`: rays inside or on it, plus one new ray per
/// adjacent pair on opposite sides.
fn add_row(rays: Vec<Ray>, rows: &Rows, i: usize) -> Vec<Ray> {
    let h = homogenised(rows, i);
    let sides: Vec<(f64, Side)> = rays.iter().map(|r| side(&h, &r.z)).collect();
    if sides.iter().all(|s| s.1 != Side::Outside) {
        return tag_on(rays, &sides, i);
    }
    let mut fresh = Vec::new();
    for (p, sp) in sides.iter().enumerate().filter(|(_, s)| s.1 == Side::Inside) {
        for (q, sq) in sides.iter().enumerate().filter(|(_, s)| s.1 == Side::Outside) {
            if let Some(common) = adjacent(&rays, p, q) {
                // v_q z_p - v_p z_q, both weights positive: on the row's hyperplane.
                let z = &rays[p].z * sq.0 - &rays[q].z * sp.0;
                let norm = z.dot(&z).sqrt();
                let mut tight = common;
                tight.push(i);
                tight.sort_unstable();
                fresh.push(Ray { z: z / norm, tight });
            }
        }
    }
    let mut kept = tag_on(rays, &sides, i);
    kept.extend(fresh);
    kept
}

/// The rays not outside row `i`, with `i` added to the tight rows of those on it.
fn tag_on(rays: Vec<Ray>, sides: &[(f64, Side)], i: usize) -> Vec<Ray> {
    rays.into_iter()
        .zip(sides)
        .filter(|(_, s)| s.1 != Side::Outside)
        .map(|(mut r, s)| {
            if s.1 == Side::On {
                r.tight.push(i);
                r.tight.sort_unstable();
            }
            r
        })
        .collect()
}

/// The rows tight at both rays `p` and `q` when they are adjacent (no other
/// ray is tight at all of them).
fn adjacent(rays: &[Ray], p: usize, q: usize) -> Option<Vec<usize>> {
    let common = intersect(&rays[p].tight, &rays[q].tight);
    let d = rays[p].z.len() - 1;
    if common.len() + 1 < d {
        return None;
    }
    let blocked = rays
        .iter()
        .enumerate()
        .any(|(r, ray)| r != p && r != q && contains_all(&ray.tight, &common));
    (!blocked).then_some(common)
}

/// The sorted intersection of two ascending lists.
pub(crate) fn intersect(a: &[usize], b: &[usize]) -> Vec<usize> {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

/// True when the ascending list `a` holds every element of the ascending `b`.
fn contains_all(a: &[usize], b: &[usize]) -> bool {
    let mut i = 0;
    b.iter().all(|x| {
        while i < a.len() && a[i] < *x {
            i += 1;
        }
        i < a.len() && a[i] == *x
    })
}

/// Vertices from the final rays (tight rows renumbered to the polytope's), or
/// unbounded when a ray lies at infinity.
fn finish(rows: &Rows, rays: Vec<Ray>, d: usize) -> Hull {
    let at_infinity = |r: &Ray| r.z[d] <= TOL_RAY_AT_INFINITY;
    if rays.iter().all(at_infinity) {
        // Only directions: the cone meets t = 1 nowhere.
        return Hull::Empty;
    }
    if rays.iter().any(at_infinity) {
        return Hull::Unbounded;
    }
    let m = rows.beta.len();
    let mut points = Array2::zeros((rays.len(), d));
    let mut tight = Vec::with_capacity(rays.len());
    for (k, r) in rays.iter().enumerate() {
        let t = r.z[d];
        points.row_mut(k).assign(&r.z.slice(s![..d]).mapv(|v| v / t));
        tight.push(
            r.tight
                .iter()
                .filter(|&&i| i < m)
                .map(|&i| rows.index[i])
                .collect(),
        );
    }
    Hull::Bounded(VertexSet { points, tight })
}

#[cfg(test)]
mod tests {
    use ndarray::array;

    use super::*;

    fn cube(d: usize) -> Polytope {
        let mut a = Array2::zeros((2 * d, d));
        for j in 0..d {
            a[[2 * j, j]] = 1.0;
            a[[2 * j + 1, j]] = -1.0;
        }
        Polytope {
            a,
            b: Array1::ones(2 * d),
        }
    }

    fn bounded(p: &Polytope) -> VertexSet {
        match vertex_set(p.view()) {
            Hull::Bounded(v) => v,
            other => panic!("expected a bounded polytope, got {other:?}"),
        }
    }

    #[test]
    fn cube_has_two_to_the_d_simple_vertices() {
        for d in 1..=5 {
            let v = bounded(&cube(d));
            assert_eq!(v.points.nrows(), 1 << d);
            assert!(v.tight.iter().all(|t| t.len() == d));
            assert!(v.points.iter().all(|x| (x.abs() - 1.0).abs() < 1e-15));
        }
    }

    #[test]
    fn a_pyramid_apex_is_degenerate_and_found_once() {
        // The square pyramid: base [-1, 1]^2 at z = 0, apex (0, 0, 1): four
        // facets meet at the apex.
        let p = Polytope {
            a: array![
                [0.0, 0.0, -1.0],
                [1.0, 0.0, 1.0],
                [-1.0, 0.0, 1.0],
                [0.0, 1.0, 1.0],
                [0.0, -1.0, 1.0]
            ],
            b: array![0.0, 1.0, 1.0, 1.0, 1.0],
        };
        let v = bounded(&p);
        assert_eq!(v.points.nrows(), 5);
        let apex = (0..5).find(|&k| v.points[[k, 2]] > 0.5).unwrap();
        assert_eq!(v.tight[apex], vec![1, 2, 3, 4]);
    }

    #[test]
    fn redundant_duplicate_and_zero_rows_change_nothing() {
        let p = Polytope {
            a: array![
                [1.0, 0.0],
                [2.0, 0.0],
                [-1.0, 0.0],
                [0.0, 1.0],
                [0.0, -1.0],
                [1.0, 1.0],
                [0.0, 0.0]
            ],
            b: array![1.0, 2.0, 1.0, 1.0, 1.0, 5.0, 0.0],
        };
        let v = bounded(&p);
        assert_eq!(v.points.nrows(), 4);
        // Vertex (1, y) is tight at row 0 and its duplicate, row 1.
        assert!(v.tight.iter().filter(|t| t.contains(&0)).all(|t| t.contains(&1)));
    }

    #[test]
    fn empty_and_unbounded_sets_are_told_apart() {
        let empty = Polytope {
            a: array![[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]],
            b: array![-1.0, 0.0, 1.0, 1.0],
        };
        assert!(matches!(vertex_set(empty.view()), Hull::Empty));
        let wedge = Polytope {
            a: array![[-1.0, 0.0], [0.0, -1.0]],
            b: array![0.0, 0.0],
        };
        assert!(matches!(vertex_set(wedge.view()), Hull::Unbounded));
        let slab = Polytope {
            a: array![[1.0, 0.0], [-1.0, 0.0]],
            b: array![1.0, 1.0],
        };
        assert!(matches!(vertex_set(slab.view()), Hull::Unbounded));
        let empty_slab = Polytope {
            a: array![[1.0, 0.0], [-1.0, 0.0]],
            b: array![-1.0, 0.0],
        };
        assert!(matches!(vertex_set(empty_slab.view()), Hull::Empty));
        // Empty, with a recession direction (0, 1).
        let empty_strip = Polytope {
            a: array![[1.0, 0.0], [-1.0, 0.0], [0.0, -1.0]],
            b: array![-1.0, 0.0, 0.0],
        };
        assert!(matches!(vertex_set(empty_strip.view()), Hull::Empty));
    }
}
