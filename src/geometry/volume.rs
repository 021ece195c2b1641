//! Volumes of polytopes in every dimension, from their vertices and incidences.
//!
//! With the vertices and the rows tight at each ([`vertex_set`]), every face
//! of the polytope is known by its vertex set: the facets of a `k`-face `F`
//! are the sets `F ∩ T_g` (`T_g` the vertices tight at row `g`) whose affine
//! hull has dimension `k - 1`. The volume follows from the pyramid (pulling)
//! decomposition
//!
//! ```text
//! vol_k(F) = (1/k) sum_{G facet of F, v ∉ G} dist(v, aff G) vol_{k-1}(G)
//! ```
//!
//! for a vertex `v` of `F` (its lowest-numbered one): the pyramids over the
//! facets not containing `v`, with apex `v`, tile `F`. The recursion ends at
//! edges (length) and vertices (1); face volumes are memoised by vertex set,
//! so each face is measured once. Affine ranks and distances come from a
//! Gram-Schmidt frame, with [`crate::tol::TOL_DEPENDENT_REL`] deciding rank.
//!
//! The result is exact up to rounding for a polytope whose incidences are
//! right; incidences are decided with the sign tolerance of the vertex
//! enumeration, so a row within rounding of a vertex counts as through it.
//!
//! # References
//!
//! B. Büeler, A. Enge, K. Fukuda, *Exact volume computation for polytopes: a
//! practical study* (2000), section 3 (triangulation and signed
//! decompositions).

use std::collections::{HashMap, HashSet};

use ndarray::{Array1, ArrayView1};

use super::vertices::{intersect, vertex_set, Frame, Hull, VertexSet};
use super::PolytopeView;

/// The faces of a polytope, known by vertex sets, with memoised volumes.
pub(crate) struct Faces<'a> {
    vertices: &'a VertexSet,
    /// For each row, the (ascending) vertices tight at it.
    by_row: Vec<Vec<usize>>,
    memo: HashMap<Vec<usize>, f64>,
}

impl<'a> Faces<'a> {
    /// The face structure of the vertices of a polytope with `rows` rows.
    pub fn new(vertices: &'a VertexSet, rows: usize) -> Faces<'a> {
        let mut by_row = vec![Vec::new(); rows];
        for (v, tight) in vertices.tight.iter().enumerate() {
            for &g in tight {
                by_row[g].push(v);
            }
        }
        Faces {
            vertices,
            by_row,
            memo: HashMap::new(),
        }
    }

    /// The affine frame of the vertices `set`: its length is their affine dimension.
    fn affine_frame(&self, set: &[usize]) -> Frame {
        let points = &self.vertices.points;
        let mut frame = Frame::default();
        if let Some((&first, rest)) = set.split_first() {
            for &v in rest {
                frame.push((&points.row(v) - &points.row(first)).view());
            }
        }
        frame
    }

    /// The affine dimension of the whole vertex set.
    pub fn dim(&self) -> usize {
        let all: Vec<usize> = (0..self.vertices.points.nrows()).collect();
        self.affine_frame(&all).len()
    }

    /// The facets of the `k`-face `face`, as vertex sets, each once; those
    /// holding `skip` (a vertex of `face`) are left out when it is given.
    fn facets_of(&self, face: &[usize], k: usize, skip: Option<usize>) -> Vec<(Vec<usize>, Frame)> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for tight in &self.by_row {
            let g = intersect(face, tight);
            if g.len() < k || g.len() == face.len() || skip.is_some_and(|v| g.contains(&v)) {
                continue;
            }
            if !seen.insert(g.clone()) {
                continue;
            }
            let frame = self.affine_frame(&g);
            if frame.len() + 1 == k {
                out.push((g, frame));
            }
        }
        out
    }

    /// The number of facets of the polytope (of dimension `d`).
    pub fn facet_count(&self, d: usize) -> usize {
        let all: Vec<usize> = (0..self.vertices.points.nrows()).collect();
        self.facets_of(&all, d, None).len()
    }

    /// The `k`-dimensional volume of the `k`-face with vertices `face` (ascending).
    pub fn volume(&mut self, face: &[usize], k: usize) -> f64 {
        match k {
            0 => return 1.0,
            1 => return self.diameter(face),
            _ => {}
        }
        if let Some(&v) = self.memo.get(face) {
            return v;
        }
        let points = &self.vertices.points;
        let apex = face[0];
        let mut total = 0.0;
        for (g, frame) in self.facets_of(face, k, Some(apex)) {
            let offset: Array1<f64> = &points.row(apex) - &points.row(g[0]);
            let height = norm(frame.residual(offset.view()).view());
            total += height * self.volume(&g, k - 1) / k as f64;
        }
        self.memo.insert(face.to_vec(), total);
        total
    }

    /// The largest distance between two of the vertices `set`.
    fn diameter(&self, set: &[usize]) -> f64 {
        let points = &self.vertices.points;
        let mut best = 0.0f64;
        for (x, &p) in set.iter().enumerate() {
            for &q in &set[x + 1..] {
                best = best.max(norm((&points.row(p) - &points.row(q)).view()));
            }
        }
        best
    }
}

/// The Euclidean norm.
fn norm(v: ArrayView1<f64>) -> f64 {
    v.dot(&v).sqrt()
}

/// The `d`-dimensional volume of a bounded full-dimensional polytope's vertex
/// set (0 when the vertices span less than `d` dimensions).
pub(crate) fn volume_of_vertices(vertices: &VertexSet, rows: usize, d: usize) -> f64 {
    let mut faces = Faces::new(vertices, rows);
    if faces.dim() < d {
        return 0.0;
    }
    let all: Vec<usize> = (0..vertices.points.nrows()).collect();
    faces.volume(&all, d)
}

/// The volume of `p` in its own dimension: 0 when it is empty or flat,
/// `None` when it is unbounded.
pub(crate) fn polytope_volume(p: PolytopeView<'_>) -> Option<f64> {
    match vertex_set(p) {
        Hull::Empty => Some(0.0),
        Hull::Unbounded => None,
        Hull::Bounded(v) => Some(volume_of_vertices(&v, p.len(), p.dim())),
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{array, Array2};

    use super::*;
    use crate::geometry::signed_area;
    use crate::geometry::Polytope;
    use crate::test_support::cube;

    fn with_row(p: &Polytope, row: &[f64], rhs: f64) -> Polytope {
        let mut a = p.a.clone();
        a.push_row(ArrayView1::from(row)).unwrap();
        let mut b = p.b.to_vec();
        b.push(rhs);
        Polytope {
            a,
            b: Array1::from(b),
        }
    }

    fn factorial(n: usize) -> f64 {
        (1..=n).map(|k| k as f64).product()
    }

    #[test]
    fn boxes_have_the_product_of_their_sides() {
        for d in 1..=6 {
            let v = polytope_volume(cube(d, -0.5, 1.5).view()).unwrap();
            assert!((v - 2f64.powi(d as i32)).abs() <= 1e-12 * v, "d = {d}: {v}");
        }
    }

    #[test]
    fn the_standard_simplex_has_volume_one_over_d_factorial() {
        for d in 1..=6 {
            // x >= 0, sum x <= 1.
            let mut a = -Array2::eye(d);
            a.push_row(Array1::ones(d).view()).unwrap();
            let mut b = Array1::zeros(d + 1);
            b[d] = 1.0;
            let v = polytope_volume(Polytope { a, b }.view()).unwrap();
            let exact = 1.0 / factorial(d);
            assert!((v - exact).abs() <= 1e-12 * exact, "d = {d}: {v}");
        }
    }

    #[test]
    fn a_cube_cut_by_a_hyperplane_keeps_the_closed_form_part() {
        // [0, 1]^d cut by sum x <= s: the part below is the sum over the
        // corners k of (-1)^k C(d, k) (s - k)_+^d / d! (the Irwin-Hall CDF).
        for d in 2..=5 {
            for &s in &[0.5, 1.0, 1.3, d as f64 / 2.0, d as f64 - 0.25] {
                let p = with_row(&cube(d, 0.0, 1.0), &vec![1.0; d], s);
                let v = polytope_volume(p.view()).unwrap();
                let mut exact = 0.0;
                let mut binom = 1.0;
                for k in 0..=d {
                    let t = s - k as f64;
                    if t > 0.0 {
                        exact += if k % 2 == 0 { 1.0 } else { -1.0 } * binom * t.powi(d as i32);
                    }
                    binom = binom * (d - k) as f64 / (k + 1) as f64;
                }
                exact /= factorial(d);
                assert!(
                    (v - exact).abs() <= 1e-12 * exact,
                    "d = {d}, s = {s}: {v} vs {exact}"
                );
            }
        }
    }

    #[test]
    fn planar_volume_equals_the_shoelace_area() {
        // A pentagon given by its edges, clipped from a square.
        let p = with_row(
            &with_row(&cube(2, -1.0, 1.0), &[1.0, 1.0], 1.2),
            &[-2.0, 1.0],
            2.1,
        );
        let Hull::Bounded(v) = vertex_set(p.view()) else {
            panic!("bounded");
        };
        // Order the vertices around their centroid for the shoelace formula.
        let c = v.points.mean_axis(ndarray::Axis(0)).unwrap();
        let mut ring: Vec<[f64; 2]> = v.points.outer_iter().map(|r| [r[0], r[1]]).collect();
        ring.sort_by(|p, q| {
            let ap = (p[1] - c[1]).atan2(p[0] - c[0]);
            let aq = (q[1] - c[1]).atan2(q[0] - c[0]);
            ap.total_cmp(&aq)
        });
        let shoelace = signed_area(&ring);
        let dd = polytope_volume(p.view()).unwrap();
        assert!((dd - shoelace).abs() <= 1e-14 * shoelace, "{dd} vs {shoelace}");
    }

    #[test]
    fn flat_empty_and_unbounded_sets() {
        let flat = with_row(&cube(3, 0.0, 1.0), &[0.0, 0.0, 1.0], 0.0);
        assert_eq!(polytope_volume(flat.view()), Some(0.0));
        let empty = with_row(&cube(3, 0.0, 1.0), &[1.0, 1.0, 1.0], -1.0);
        assert_eq!(polytope_volume(empty.view()), Some(0.0));
        let wedge = Polytope {
            a: array![[-1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]],
            b: array![0.0, 0.0, 0.0],
        };
        assert_eq!(polytope_volume(wedge.view()), None);
    }

    #[test]
    fn a_cube_through_a_vertex_counts_its_facets_once() {
        // [0, 1]^3 cut by x + y <= 1: a prism over a triangle, its cutting
        // plane through two vertices of the cube.
        let p = with_row(&cube(3, 0.0, 1.0), &[1.0, 1.0, 0.0], 1.0);
        let Hull::Bounded(v) = vertex_set(p.view()) else {
            panic!("bounded");
        };
        assert_eq!(v.points.nrows(), 6);
        assert_eq!(Faces::new(&v, p.len()).facet_count(3), 5);
        assert!((volume_of_vertices(&v, p.len(), 3) - 0.5).abs() < 1e-15);
    }
}
