//! [`DecisionBoundary`]: where a classifier's arg-max changes, region by region.

use ndarray::{s, Array1, Array2, ArrayView1};

use super::{Partition, Region};
use crate::geometry::predicates::{line_sign, Sign};
use crate::lp::chebyshev_ball;
use crate::tol::{TOL_RADIUS_REL, TOL_SIGN_REL};
use crate::{Polytope, Result};

/// One piece of a decision boundary: the part of one region where two classes
/// tie for the top output (or, with one output, where it is zero).
///
/// # Semantics
///
/// With outputs `f_i(y) = a_i . y + b_i` on region `R`, the piece of classes
/// `i < j` is `{y in R : f_i(y) = f_j(y) >= f_k(y) for every k}`: the region's
/// rows and the rows `f_k - f_i <= 0` ([`BoundaryPiece::polytope`]) cut by the
/// tie hyperplane `f_i - f_j = 0` ([`BoundaryPiece::hyperplane`]). With one
/// output it is `{y in R : f_0(y) = 0}`, reported as classes `(0, 0)`.
///
/// A piece on the region's boundary (the tie hyperplane is the hyperplane of
/// one of the region's facets) is also found from the region across that
/// facet, so it has [`BoundaryPiece::weight`] `1/2`; other pieces have weight 1.
#[derive(Clone, Debug, PartialEq)]
pub struct BoundaryPiece {
    region: usize,
    classes: (usize, usize),
    normal: Array1<f64>,
    offset: f64,
    polytope: Polytope,
    segment: Option<[[f64; 2]; 2]>,
    on_facet: bool,
    /// The number of the region's rows (first in the polytope).
    region_rows: usize,
}

impl BoundaryPiece {
    /// The index of the region (in the partition) that holds the piece.
    pub fn region(&self) -> usize {
        self.region
    }

    /// The two classes that tie, lower index first (`(0, 0)` for one output).
    pub fn classes(&self) -> (usize, usize) {
        self.classes
    }

    /// The tie hyperplane `normal . y + offset = 0` in domain coordinates.
    pub fn hyperplane(&self) -> (ArrayView1<'_, f64>, f64) {
        (self.normal.view(), self.offset)
    }

    /// The half-spaces that bound the piece within the hyperplane: the region's
    /// rows, then `f_k - f_i <= 0` for every other class `k`.
    pub fn polytope(&self) -> &Polytope {
        &self.polytope
    }

    /// The piece's end points in a 2-D domain.
    pub fn segment(&self) -> Option<[[f64; 2]; 2]> {
        self.segment
    }

    /// True when the piece lies on a facet of its region.
    pub fn on_facet(&self) -> bool {
        self.on_facet
    }

    /// The weight of the piece in [`DecisionBoundary::total_measure`]: `1/2`
    /// for a piece on a facet (its neighbour reports it too), else 1.
    pub fn weight(&self) -> f64 {
        if self.on_facet {
            0.5
        } else {
            1.0
        }
    }

    /// The length of a 2-D piece.
    pub fn length(&self) -> Option<f64> {
        self.segment.map(|[p, q]| (q[0] - p[0]).hypot(q[1] - p[1]))
    }
}

/// The decision boundary of a classifier over a [`Partition`].
///
/// # Semantics
///
/// For `K > 1` outputs, the set where the arg-max of the outputs changes: in
/// every region, the pieces where two classes tie for the top
/// ([`BoundaryPiece`]); pieces between regions (on a facet) are included. For
/// `K = 1`, the zero set of the output. Classes with identical affine maps on
/// a region never change the arg-max there (ties go to the lower index), so
/// only the lowest of them takes part. A region where the single output is
/// identically zero is part of the zero set with full dimension, and is left
/// out.
///
/// # Invariants
///
/// Every piece is nonempty within its hyperplane (in 2-D: a segment of
/// positive length); pieces are listed by region, then class pair.
#[derive(Clone, Debug, PartialEq)]
pub struct DecisionBoundary {
    pieces: Vec<BoundaryPiece>,
    dim: usize,
}

impl DecisionBoundary {
    /// The pieces.
    pub fn pieces(&self) -> &[BoundaryPiece] {
        &self.pieces
    }

    /// The number of pieces.
    pub fn len(&self) -> usize {
        self.pieces.len()
    }

    /// True when the boundary does not meet the domain.
    pub fn is_empty(&self) -> bool {
        self.pieces.is_empty()
    }

    /// The total length of a 2-D boundary (pieces on facets count once,
    /// through their weights); `None` in other dimensions, where the
    /// `(dim - 1)`-volume of the pieces is not computed.
    pub fn total_measure(&self) -> Option<f64> {
        if self.dim != 2 {
            return None;
        }
        Some(
            self.pieces
                .iter()
                .map(|p| p.weight() * p.length().unwrap_or(0.0))
                .sum(),
        )
    }
}

impl Partition {
    /// The decision boundary of the network's outputs over the partition.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Lp`] when an LP fails (only for domains of dimension
    /// other than 2, where every candidate piece is checked for a relative
    /// interior by one LP).
    ///
    /// # Complexity
    ///
    /// `O(K^3)` per region for `K` outputs; in 2-D no LP.
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
    /// assert!((boundary.total_measure().unwrap() - 2f64.sqrt()).abs() < 1e-12);
    /// # Ok::<(), cpwl::Error>(())
    /// ```
    pub fn decision_boundary(&self) -> Result<DecisionBoundary> {
        let dim = self.domain.dim();
        let diameter = self
            .domain
            .bounding_box()
            .map_or(1.0, |(lo, hi)| (hi - lo).mapv(|v| v * v).sum().sqrt());
        let mut pieces = Vec::new();
        for (index, region) in self.regions.iter().enumerate() {
            for (i, j) in class_pairs(region) {
                let candidate = candidate_piece(index, region, i, j);
                let piece = match region.polygon() {
                    Some(vertices) if dim == 2 => piece_in_polygon(candidate, vertices),
                    _ => piece_in_polytope(candidate, region, TOL_RADIUS_REL * diameter)?,
                };
                pieces.extend(piece);
            }
        }
        Ok(DecisionBoundary { pieces, dim })
    }
}

/// The class pairs whose tie can bound the arg-max on the region: pairs of
/// distinct affine maps among the lowest of each group of identical ones;
/// `(0, 0)` for a single output.
fn class_pairs(region: &Region) -> Vec<(usize, usize)> {
    let (a, b) = (&region.affine.a, &region.affine.b);
    let k = b.len();
    if k == 1 {
        return vec![(0, 0)];
    }
    let same = |i: usize, j: usize| b[i] == b[j] && a.row(i) == a.row(j);
    let reps: Vec<usize> = (0..k).filter(|&i| (0..i).all(|h| !same(h, i))).collect();
    let mut pairs = Vec::new();
    for (x, &i) in reps.iter().enumerate() {
        pairs.extend(reps[x + 1..].iter().map(|&j| (i, j)));
    }
    pairs
}

/// The tie hyperplane of classes `(i, j)` and the piece's rows, before it is
/// known to be nonempty.
fn candidate_piece(region_index: usize, region: &Region, i: usize, j: usize) -> BoundaryPiece {
    let (a, b) = (&region.affine.a, &region.affine.b);
    let (normal, offset) = if i == j {
        (a.row(i).to_owned(), b[i])
    } else {
        (&a.row(i) - &a.row(j), b[i] - b[j])
    };
    let rivals: Vec<usize> = if i == j {
        Vec::new()
    } else {
        class_pairs(region)
            .iter()
            .flat_map(|&(p, q)| [p, q])
            .filter(|&k| k != i && k != j)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect()
    };
    let poly = &region.polytope;
    let d = poly.dim();
    let mut rows = Array2::zeros((poly.len() + rivals.len(), d));
    let mut rhs = Array1::zeros(poly.len() + rivals.len());
    rows.slice_mut(s![..poly.len(), ..]).assign(&poly.a);
    rhs.slice_mut(s![..poly.len()]).assign(&poly.b);
    for (r, &k) in rivals.iter().enumerate() {
        // f_k - f_i <= 0.
        rows.row_mut(poly.len() + r).assign(&(&a.row(k) - &a.row(i)));
        rhs[poly.len() + r] = b[i] - b[k];
    }
    BoundaryPiece {
        region: region_index,
        classes: (i, j),
        normal,
        offset,
        polytope: Polytope { a: rows, b: rhs },
        segment: None,
        on_facet: false,
        region_rows: poly.len(),
    }
}

/// The piece inside a 2-D region with polygon `vertices`: the chord of the tie
/// line (or the edge it runs along), clipped by the rivals' rows; `None` when
/// it has no length.
fn piece_in_polygon(mut piece: BoundaryPiece, vertices: &[[f64; 2]]) -> Option<BoundaryPiece> {
    let g = [piece.normal[0], piece.normal[1]];
    let radius = vertices.iter().map(|p| p[0].hypot(p[1])).fold(0.0, f64::max);
    let scale = g[0].hypot(g[1]) * radius + piece.offset.abs();
    let signs: Vec<(f64, Sign)> = vertices
        .iter()
        .map(|&p| line_sign(g, piece.offset, p, scale))
        .collect();
    let n = vertices.len();
    let on_line = |k: usize| signs[k].1 == Sign::Zero;
    if (0..n).all(on_line) {
        // The tie holds on the whole region (up to rounding): no boundary.
        return None;
    }
    let (ends, on_facet) = if let Some(k) = (0..n).find(|&k| on_line(k) && on_line((k + 1) % n)) {
        ([vertices[k], vertices[(k + 1) % n]], true)
    } else {
        (chord(vertices, &signs)?, false)
    };
    let [p, q] = clip_segment(ends, &piece.polytope, piece.region_rows)?;
    piece.segment = Some([p, q]);
    piece.on_facet = on_facet;
    Some(piece)
}

/// The two points where a line crosses a convex polygon, from the signs of
/// the line at the vertices; `None` when it does not cross the interior.
fn chord(vertices: &[[f64; 2]], signs: &[(f64, Sign)]) -> Option<[[f64; 2]; 2]> {
    let has = |sign| signs.iter().any(|&(_, s)| s == sign);
    if !(has(Sign::Negative) && has(Sign::Positive)) {
        return None;
    }
    let n = vertices.len();
    let mut points = Vec::with_capacity(2);
    for k in 0..n {
        let next = (k + 1) % n;
        if signs[k].1 == Sign::Zero {
            points.push(vertices[k]);
        } else if signs[k].1.opposes(signs[next].1) {
            let (fp, fq) = (signs[k].0, signs[next].0);
            let t = fp / (fp - fq);
            let (p, q) = (vertices[k], vertices[next]);
            points.push([p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])]);
        }
    }
    (points.len() == 2).then(|| [points[0], points[1]])
}

/// The part of the segment `ends` where the rows from `first` on hold;
/// `None` when it has no length.
fn clip_segment(ends: [[f64; 2]; 2], rows: &Polytope, first: usize) -> Option<[[f64; 2]; 2]> {
    let [p, q] = ends;
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    for r in first..rows.len() {
        let at = |y: [f64; 2]| rows.a[[r, 0]] * y[0] + rows.a[[r, 1]] * y[1] - rows.b[r];
        let (hp, hq) = (at(p), at(q));
        match (hp > 0.0, hq > 0.0) {
            (false, false) => {}
            (true, true) => return None,
            (true, false) => lo = lo.max(hp / (hp - hq)),
            (false, true) => hi = hi.min(hp / (hp - hq)),
        }
    }
    if hi <= lo {
        return None;
    }
    let at = |t: f64| [p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])];
    Some([at(lo), at(hi)])
}

/// The piece in a region of any dimension: nonempty when its largest ball
/// within the tie hyperplane has a radius above `tol_radius` (one LP).
fn piece_in_polytope(
    mut piece: BoundaryPiece,
    region: &Region,
    tol_radius: f64,
) -> Result<Option<BoundaryPiece>> {
    let norm = piece.normal.dot(&piece.normal).sqrt();
    if norm == 0.0 {
        return Ok(None);
    }
    let u = &piece.normal / norm;
    let beta = -piece.offset / norm;
    let on_facet = facet_row(&region.polytope, &u, beta);
    let c = region.center.view();
    let y0 = &c + &(&u * (beta - u.dot(&c)));
    let basis = complement_basis(&u);
    let keep: Vec<usize> = (0..piece.polytope.len())
        .filter(|&r| Some(r) != on_facet)
        .collect();
    let a = piece.polytope.a.select(ndarray::Axis(0), &keep);
    let rhs = piece.polytope.b.select(ndarray::Axis(0), &keep) - a.dot(&y0);
    let restricted = Polytope {
        a: a.dot(&basis),
        b: rhs,
    };
    let nonempty = if basis.ncols() == 0 {
        restricted
            .b
            .iter()
            .all(|&v| v >= -TOL_SIGN_REL * (1.0 + y0.dot(&y0).sqrt()))
    } else {
        chebyshev_ball(&restricted, "decision boundary piece")?.is_some_and(|(_, r)| r > tol_radius)
    };
    piece.on_facet = on_facet.is_some();
    Ok(nonempty.then_some(piece))
}

/// The row of `p` whose hyperplane is `u . y = beta` (same side or opposite),
/// up to rounding.
fn facet_row(p: &Polytope, u: &Array1<f64>, beta: f64) -> Option<usize> {
    (0..p.len()).find(|&r| {
        let row = p.a.row(r);
        let n = row.dot(&row).sqrt();
        if n == 0.0 {
            return false;
        }
        let cos = row.dot(u) / n;
        let tol = TOL_SIGN_REL.sqrt();
        (cos.abs() - 1.0).abs() <= tol && (p.b[r] / n - cos.signum() * beta).abs() <= tol * (1.0 + beta.abs())
    })
}

/// An orthonormal basis (as columns) of the complement of the unit vector `u`,
/// from the Householder reflection that maps `u` to a coordinate axis.
fn complement_basis(u: &Array1<f64>) -> Array2<f64> {
    let d = u.len();
    let mut w = u.clone();
    let sign = if u[0] >= 0.0 { 1.0 } else { -1.0 };
    w[0] += sign;
    let ww = w.dot(&w);
    let mut h = Array2::eye(d);
    for r in 0..d {
        for c in 0..d {
            h[[r, c]] -= 2.0 * w[r] * w[c] / ww;
        }
    }
    h.slice(s![.., 1..]).to_owned()
}

#[cfg(test)]
mod tests {
    use ndarray::array;

    use crate::regions::{enumerate, EnumOptions, Method};
    use crate::{Domain, Network};

    fn boundary_length(net: &Network, half: f64) -> f64 {
        let part = enumerate(net, &Domain::cube(2, -half, half), &EnumOptions::default()).unwrap();
        part.decision_boundary().unwrap().total_measure().unwrap()
    }

    #[test]
    fn one_output_gives_its_zero_line() {
        let net = Network::builder(2)
            .dense(array![[1.0, 1.0]], array![-0.5])
            .unwrap()
            .build()
            .unwrap();
        // x + y = 0.5 runs from (1, -0.5) to (-0.5, 1) in [-1, 1]^2.
        assert!((boundary_length(&net, 1.0) - 1.5 * 2f64.sqrt()).abs() < 1e-12);
    }

    #[test]
    fn three_classes_meet_at_a_point() {
        // Outputs (x, y, 0): the rays x = y >= 0, x = 0 >= y and y = 0 >= x.
        let net = Network::builder(2)
            .dense(array![[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]], array![0.0, 0.0, 0.0])
            .unwrap()
            .build()
            .unwrap();
        assert!((boundary_length(&net, 1.0) - (2.0 + 2f64.sqrt())).abs() < 1e-12);
    }

    #[test]
    fn ties_along_region_edges_count_once() {
        // relu(x) against relu(-x): the classes tie on x = 0, which is also
        // the edge between the two regions; each side reports half of it.
        let net = Network::builder(2)
            .dense(array![[1.0, 0.0], [-1.0, 0.0]], array![0.0, 0.0])
            .unwrap()
            .relu()
            .dense(array![[1.0, 0.0], [0.0, 1.0]], array![0.0, 0.0])
            .unwrap()
            .build()
            .unwrap();
        let part = enumerate(&net, &Domain::cube(2, -1.0, 1.0), &EnumOptions::default()).unwrap();
        let boundary = part.decision_boundary().unwrap();
        assert_eq!(boundary.len(), 2);
        assert!(boundary
            .pieces()
            .iter()
            .all(|p| p.on_facet() && p.weight() == 0.5));
        assert!((boundary.total_measure().unwrap() - 2.0).abs() < 1e-12);
    }

    #[test]
    fn pieces_in_three_dimensions_have_no_measure() {
        let net = Network::builder(3)
            .dense(array![[1.0, -1.0, 0.0], [0.0, 0.0, 0.0]], array![0.0, 0.5])
            .unwrap()
            .build()
            .unwrap();
        let opts = EnumOptions {
            method: Method::Lp,
            ..Default::default()
        };
        let part = enumerate(&net, &Domain::cube(3, -1.0, 1.0), &opts).unwrap();
        let boundary = part.decision_boundary().unwrap();
        // x - y = 0.5 crosses the cube; the constant second class never ties
        // the first elsewhere.
        assert_eq!(boundary.len(), 1);
        assert_eq!(boundary.pieces()[0].classes(), (0, 1));
        assert!(boundary.total_measure().is_none());
        let far = Network::builder(3)
            .dense(array![[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]], array![5.0, 0.0])
            .unwrap()
            .build()
            .unwrap();
        let part = enumerate(&far, &Domain::cube(3, -1.0, 1.0), &opts).unwrap();
        assert!(part.decision_boundary().unwrap().is_empty());
    }
}
