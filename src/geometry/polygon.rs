//! Convex polygons in slice coordinates and their splitting by lines.

use super::predicates::{self, Sign};
use super::signed_area;
use crate::error::{Error, Result};

/// A convex polygon in the `(s, t)` coordinates of a 2-D slice.
///
/// # Semantics
///
/// The closed convex set bounded by the vertex cycle `v_0, ..., v_{n-1}`, listed
/// counter-clockwise; edge `k` joins `v_k` to `v_{(k+1) mod n}`. A vertex may be
/// collinear with its neighbours: a cut can leave a point in the middle of an
/// edge of its piece. Regions of a slice are convex polygons; the 2-D splitter
/// cuts them by one line per unit with [`ConvexPolygon::split`].
///
/// # Invariants
///
/// At least three finite vertices, no two consecutive ones equal;
/// counter-clockwise and convex up to rounding of the coordinates (no turn is
/// clockwise beyond [`crate::tol::TOL_SIGN_REL`] for polygons built by
/// [`ConvexPolygon::from_vertices`]); an area that rounding cannot explain.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(try_from = "StoredPolygon")
)]
pub struct ConvexPolygon {
    vertices: Vec<[f64; 2]>,
}

/// The stored form of a [`ConvexPolygon`], checked by
/// [`ConvexPolygon::from_vertices`] when read back.
#[cfg(feature = "serde")]
#[derive(serde::Deserialize)]
struct StoredPolygon {
    vertices: Vec<[f64; 2]>,
}

#[cfg(feature = "serde")]
impl TryFrom<StoredPolygon> for ConvexPolygon {
    type Error = Error;

    fn try_from(s: StoredPolygon) -> Result<ConvexPolygon> {
        ConvexPolygon::from_vertices(s.vertices)
    }
}

/// How a line `a . p + c = 0` divides a [`ConvexPolygon`].
///
/// A polygon is never cut into a piece of zero area: when the line passes
/// through a vertex or along an edge, or would cut off only a sliver whose area
/// rounding could explain, the polygon stays whole on one side.
#[derive(Clone, Debug, PartialEq)]
pub enum Split {
    /// The whole polygon lies in `a . p + c <= 0` (up to rounding); this
    /// includes a polygon with every vertex on the line.
    Negative,
    /// The whole polygon lies in `a . p + c >= 0` (up to rounding), and some
    /// vertex strictly on the positive side.
    Positive,
    /// The line crosses the interior: the pieces in `a . p + c <= 0` and in
    /// `a . p + c >= 0`, both counter-clockwise, sharing the cut segment.
    Both(ConvexPolygon, ConvexPolygon),
}

impl ConvexPolygon {
    /// A convex polygon from its vertices in either orientation (stored
    /// counter-clockwise). Consecutive repeated vertices, including a last
    /// vertex that repeats the first, are merged.
    ///
    /// # Errors
    ///
    /// [`Error::NonFinite`] for NaN or infinite coordinates; [`Error::Invalid`]
    /// for fewer than three distinct vertices, a polygon without area, or a
    /// non-convex one.
    ///
    /// # Examples
    ///
    /// ```
    /// use cpwl::geometry::ConvexPolygon;
    /// let square = ConvexPolygon::from_vertices(vec![[0.0, 0.0], [0.0, 2.0], [2.0, 2.0], [2.0, 0.0]])?;
    /// assert_eq!(square.area(), 4.0);
    /// assert_eq!(square.vertices()[1], [2.0, 2.0]); // reordered counter-clockwise
    /// # Ok::<(), cpwl::Error>(())
    /// ```
    pub fn from_vertices(vertices: Vec<[f64; 2]>) -> Result<ConvexPolygon> {
        crate::error::check_finite("polygon vertices", vertices.iter().flatten())?;
        let mut vertices = without_repeats(vertices);
        if vertices.len() < 3 {
            return Err(Error::invalid("polygon", "needs at least 3 distinct vertices"));
        }
        if signed_area(&vertices) < 0.0 {
            vertices.reverse();
        }
        if !predicates::has_area(&vertices) {
            return Err(Error::invalid("polygon", "has no area"));
        }
        let n = vertices.len();
        let clockwise_turn = (0..n).any(|k| {
            let (p, q, r) = (vertices[k], vertices[(k + 1) % n], vertices[(k + 2) % n]);
            predicates::turn(p, q, r) == Sign::Negative
        });
        if clockwise_turn {
            return Err(Error::invalid("polygon", "is not convex"));
        }
        Ok(ConvexPolygon { vertices })
    }

    /// The vertices, counter-clockwise.
    pub fn vertices(&self) -> &[[f64; 2]] {
        &self.vertices
    }

    /// The area (shoelace formula, shifted by the first vertex for accuracy far
    /// from the origin).
    pub fn area(&self) -> f64 {
        signed_area(&self.vertices)
    }

    /// The centroid (centre of mass of the filled polygon), from a fan of
    /// triangles at the first vertex.
    pub fn centroid(&self) -> [f64; 2] {
        let o = self.vertices[0];
        let (mut twice_area, mut sx, mut sy) = (0.0, 0.0, 0.0);
        for w in self.vertices[1..].windows(2) {
            let (p, q) = ([w[0][0] - o[0], w[0][1] - o[1]], [w[1][0] - o[0], w[1][1] - o[1]]);
            let twice = p[0] * q[1] - q[0] * p[1];
            twice_area += twice;
            sx += twice * (p[0] + q[0]);
            sy += twice * (p[1] + q[1]);
        }
        [o[0] + sx / (3.0 * twice_area), o[1] + sy / (3.0 * twice_area)]
    }

    /// Divides the polygon by the line `a . p + c = 0`.
    ///
    /// The signed value of `a . p + c` is evaluated once per vertex and
    /// classified with a tolerance relative to `|a| |p| + |c|` (see
    /// [`crate::tol::TOL_SIGN_REL`]). Vertices on the line go to both pieces as
    /// they are; a new vertex is made only on an edge whose endpoints lie
    /// strictly on opposite sides, by interpolating the two values (from the
    /// lexicographically smaller endpoint, so polygons sharing the edge get the
    /// same point). `a` and `c` should be finite: a NaN leaves the polygon whole
    /// on the negative side.
    ///
    /// # Examples
    ///
    /// ```
    /// use cpwl::geometry::{ConvexPolygon, Split};
    /// let square = ConvexPolygon::from_vertices(vec![[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])?;
    /// // The diagonal x = y passes through two vertices: two triangles.
    /// let Split::Both(below, above) = square.split([-1.0, 1.0], 0.0) else { panic!() };
    /// assert_eq!((below.area(), above.area()), (0.5, 0.5));
    /// // The line x = 0 runs along an edge: the square stays whole.
    /// assert_eq!(square.split([1.0, 0.0], 0.0), Split::Positive);
    /// # Ok::<(), cpwl::Error>(())
    /// ```
    pub fn split(&self, a: [f64; 2], c: f64) -> Split {
        let values = self.line_values(a, c);
        let has = |sign| values.iter().any(|&(_, s)| s == sign);
        if !has(Sign::Positive) {
            return Split::Negative;
        }
        if !has(Sign::Negative) {
            return Split::Positive;
        }
        match (
            self.piece(&values, Sign::Negative),
            self.piece(&values, Sign::Positive),
        ) {
            (Some(neg), Some(pos)) => Split::Both(neg, pos),
            (None, _) => Split::Positive,
            (_, None) => Split::Negative,
        }
    }

    /// The part of the polygon where `a . p + c <= 0`, or `None` when it has no
    /// area; consistent with [`ConvexPolygon::split`].
    pub fn clip(&self, a: [f64; 2], c: f64) -> Option<ConvexPolygon> {
        match self.split(a, c) {
            Split::Negative => Some(self.clone()),
            Split::Positive => None,
            Split::Both(neg, _) => Some(neg),
        }
    }

    /// True when `p` lies in the polygon or within distance `tol` of every edge
    /// line it is outside of (so within `tol` of the polygon along an edge).
    pub fn contains(&self, p: [f64; 2], tol: f64) -> bool {
        let n = self.vertices.len();
        (0..n).all(|k| predicates::left_of_or_within(self.vertices[k], self.vertices[(k + 1) % n], p, tol))
    }

    /// The value of `a . p + c` at each vertex with its classified sign.
    fn line_values(&self, a: [f64; 2], c: f64) -> Vec<(f64, Sign)> {
        self.vertices
            .iter()
            .map(|&p| {
                let (value, scale) = predicates::line_value(a, c, p);
                (value, predicates::classify(value, scale))
            })
            .collect()
    }

    /// The piece on the side `keep` (on-line vertices included), or `None` when
    /// it has no area.
    fn piece(&self, values: &[(f64, Sign)], keep: Sign) -> Option<ConvexPolygon> {
        let tags = vec![(); self.vertices.len()];
        cut_piece(&self.vertices, &tags, values, keep, ()).map(|(vertices, _)| ConvexPolygon { vertices })
    }
}

/// The piece of a convex vertex cycle on the side `keep` of a line, given the
/// line's value and sign at every vertex, with a tag for every edge: edge `k`
/// (from vertex `k` to the next) has tag `tags[k]`, and the new edge along the
/// line gets `cut_tag`. Vertices on the line are kept as they are; a new
/// vertex is made only on an edge whose endpoints lie strictly on opposite
/// sides. `None` when the piece has no area.
pub(crate) fn cut_piece<T: Copy>(
    vertices: &[[f64; 2]],
    tags: &[T],
    values: &[(f64, Sign)],
    keep: Sign,
    cut_tag: T,
) -> Option<(Vec<[f64; 2]>, Vec<T>)> {
    let mut out = Vec::with_capacity(vertices.len() + 2);
    let mut out_tags = Vec::with_capacity(vertices.len() + 2);
    cut_piece_into(vertices, tags, values, keep, cut_tag, (&mut out, &mut out_tags))
        .then_some((out, out_tags))
}

/// [`cut_piece`] into the given vectors (cleared first, so that callers can
/// reuse their allocations); false when the piece has no area.
pub(crate) fn cut_piece_into<T: Copy>(
    vertices: &[[f64; 2]],
    tags: &[T],
    values: &[(f64, Sign)],
    keep: Sign,
    cut_tag: T,
    (out, out_tags): (&mut Vec<[f64; 2]>, &mut Vec<T>),
) -> bool {
    out.clear();
    out_tags.clear();
    let n = vertices.len();
    let drop = keep.flipped();
    for k in 0..n {
        let next = (k + 1) % n;
        let next_dropped = values[next].1 == drop;
        if values[k].1 != drop {
            // From a vertex on the line towards a dropped one, the boundary
            // of the piece runs along the line.
            let along_line = values[k].1 == Sign::Zero && next_dropped;
            out.push(vertices[k]);
            out_tags.push(if along_line { cut_tag } else { tags[k] });
        }
        if values[k].1.opposes(values[next].1) {
            out.push(crossing(
                (vertices[k], values[k].0),
                (vertices[next], values[next].0),
            ));
            out_tags.push(if next_dropped { cut_tag } else { tags[k] });
        }
    }
    drop_repeats(out, out_tags);
    predicates::has_area(out)
}

/// Drops consecutive repeats from the vertex cycle; of two equal vertices the
/// later one stays, with its outgoing edge's tag (the zero-length edge between
/// them goes).
fn drop_repeats<T: Copy>(vertices: &mut Vec<[f64; 2]>, tags: &mut Vec<T>) {
    let n = vertices.len();
    if n < 2 {
        return;
    }
    // Compacted in place: the write position never passes the read one, but
    // the last vertex is compared with the first as it was.
    let first = vertices[0];
    let mut kept = 0;
    for k in 0..n {
        let next = if k + 1 < n { vertices[k + 1] } else { first };
        if vertices[k] == next {
            continue;
        }
        vertices[kept] = vertices[k];
        tags[kept] = tags[k];
        kept += 1;
    }
    // Every vertex the same point: one stays (nothing was overwritten).
    let kept = kept.max(1);
    vertices.truncate(kept);
    tags.truncate(kept);
}

/// The point where the line crosses the edge `p q`, given the line's values
/// `fp`, `fq` of strictly opposite signs. Interpolating from the
/// lexicographically smaller endpoint makes the point independent of the
/// edge's direction.
fn crossing((p, fp): ([f64; 2], f64), (q, fq): ([f64; 2], f64)) -> [f64; 2] {
    let ((p, fp), (q, fq)) = if p <= q {
        ((p, fp), (q, fq))
    } else {
        ((q, fq), (p, fp))
    };
    let t = fp / (fp - fq);
    [p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])]
}

/// The vertex cycle without consecutive repeats (the last vertex is compared
/// with the first too).
fn without_repeats(mut vertices: Vec<[f64; 2]>) -> Vec<[f64; 2]> {
    vertices.dedup();
    while vertices.len() > 1 && vertices.first() == vertices.last() {
        vertices.pop();
    }
    vertices
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn square(lo: f64, hi: f64) -> ConvexPolygon {
        ConvexPolygon::from_vertices(vec![[lo, lo], [hi, lo], [hi, hi], [lo, hi]]).unwrap()
    }

    fn both(split: Split) -> (ConvexPolygon, ConvexPolygon) {
        match split {
            Split::Both(neg, pos) => (neg, pos),
            other => panic!("expected two pieces, got {other:?}"),
        }
    }

    fn side(a: [f64; 2], c: f64, p: [f64; 2]) -> Sign {
        let (value, scale) = predicates::line_value(a, c, p);
        predicates::classify(value, scale)
    }

    /// Twice the smallest turn of the cycle, relative to the squared extent:
    /// never clearly negative for a convex polygon.
    fn worst_turn(poly: &ConvexPolygon) -> f64 {
        let v = poly.vertices();
        let n = v.len();
        let scale = predicates::extent(v).powi(2);
        (0..n)
            .map(|k| predicates::cross(v[k], v[(k + 1) % n], v[(k + 2) % n]) / scale)
            .fold(f64::INFINITY, f64::min)
    }

    #[test]
    fn from_vertices_validates() {
        let invalid =
            |v: Vec<[f64; 2]>| matches!(ConvexPolygon::from_vertices(v), Err(Error::Invalid { .. }));
        assert!(invalid(vec![[0.0, 0.0], [1.0, 0.0]]));
        assert!(invalid(vec![[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]])); // collinear
        assert!(invalid(vec![[0.0, 0.0], [2.0, 0.0], [0.5, 0.5], [0.0, 2.0]])); // dart
        let nan = vec![[0.0, 0.0], [1.0, f64::NAN], [0.0, 1.0]];
        assert!(matches!(
            ConvexPolygon::from_vertices(nan),
            Err(Error::NonFinite { .. })
        ));
        let closed = vec![[0.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 0.0]];
        let triangle = ConvexPolygon::from_vertices(closed).unwrap();
        assert_eq!(triangle.vertices(), &[[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]);
    }

    #[test]
    fn area_and_centroid_far_from_origin() {
        let far = square(1e8, 1e8 + 1.0);
        assert_eq!(far.area(), 1.0);
        assert_eq!(far.centroid(), [1e8 + 0.5, 1e8 + 0.5]);
        let tri = ConvexPolygon::from_vertices(vec![[0.0, 0.0], [3.0, 0.0], [0.0, 3.0]]).unwrap();
        assert_eq!(tri.area(), 4.5);
        let c = tri.centroid();
        assert!((c[0] - 1.0).abs() < 1e-15 && (c[1] - 1.0).abs() < 1e-15);
    }

    #[test]
    fn split_through_middle() {
        let (neg, pos) = both(square(0.0, 1.0).split([1.0, 0.0], -0.5));
        assert_eq!((neg.area(), pos.area()), (0.5, 0.5));
        assert!(neg.vertices().iter().all(|p| p[0] <= 0.5));
        assert!(pos.vertices().iter().all(|p| p[0] >= 0.5));
    }

    #[test]
    fn split_through_opposite_vertices_reuses_them() {
        let sq = square(0.0, 1.0);
        let (neg, pos) = both(sq.split([1.0, 1.0], -1.0));
        assert_eq!((neg.vertices().len(), pos.vertices().len()), (3, 3));
        for corner in [[1.0, 0.0], [0.0, 1.0]] {
            assert!(neg.vertices().contains(&corner) && pos.vertices().contains(&corner));
        }
        assert_eq!(neg.area() + pos.area(), 1.0);
    }

    #[test]
    fn split_touching_a_vertex_or_edge_keeps_polygon_whole() {
        let sq = square(0.0, 1.0);
        assert_eq!(sq.split([1.0, 1.0], 0.0), Split::Positive); // through (0, 0) only
        assert_eq!(sq.split([1.0, 1.0], -2.0), Split::Negative); // through (1, 1) only
        assert_eq!(sq.split([1.0, 0.0], 0.0), Split::Positive); // along x = 0
        assert_eq!(sq.split([-1.0, 0.0], 0.0), Split::Negative);
        assert_eq!(sq.split([0.0, 2.0], -2.0), Split::Negative); // along y = 1
        assert_eq!(sq.split([1.0, 0.0], -5.0), Split::Negative); // misses
        assert_eq!(sq.split([1.0, 0.0], 5.0), Split::Positive);
        assert_eq!(sq.split([0.0, 0.0], 0.0), Split::Negative); // constant zero
    }

    #[test]
    fn split_by_nearly_parallel_lines() {
        let sq = square(0.0, 1.0);
        // Almost horizontal through the middle: two halves.
        let (neg, pos) = both(sq.split([-1e-15, 1.0], -0.5));
        assert!((neg.area() - 0.5).abs() < 1e-14 && (neg.area() + pos.area() - 1.0).abs() < 1e-15);
        // Almost along the bottom edge, within rounding of both its vertices.
        assert_eq!(sq.split([-1e-13, 1.0], 0.5e-13), Split::Positive);
        // Clearly tilted across the bottom edge: a thin but genuine sliver.
        let (neg, pos) = both(sq.split([-1e-6, 1.0], 0.5e-6));
        assert!((neg.area() - 1.25e-7).abs() < 1e-15);
        assert!((neg.area() + pos.area() - 1.0).abs() < 1e-15);
    }

    #[test]
    fn clip_and_contains() {
        let sq = square(0.0, 1.0);
        let tri = sq.clip([1.0, 1.0], -1.0).unwrap();
        assert_eq!(tri.area(), 0.5);
        assert!(sq.clip([-1.0, 0.0], 2.0).is_none());
        assert_eq!(sq.clip([1.0, 0.0], -2.0).unwrap(), sq);
        assert!(tri.contains(tri.centroid(), 0.0));
        assert!(!tri.contains([0.8, 0.8], 0.0));
        assert!(tri.contains([0.5 + 1e-10, 0.5], 1e-9));
        assert!(sq.contains([1.0, 1.0], 0.0));
        assert!(!sq.contains([2.0, 0.5], 0.5));
    }

    #[test]
    fn cut_piece_tags_old_edges_and_the_cut() {
        let sq = square(0.0, 1.0);
        let tags = ['b', 'r', 't', 'l']; // bottom, right, top, left
        let values = sq.line_values([1.0, 0.0], -0.5);
        let (v, t) = cut_piece(sq.vertices(), &tags, &values, Sign::Negative, 'c').unwrap();
        assert_eq!(v, [[0.0, 0.0], [0.5, 0.0], [0.5, 1.0], [0.0, 1.0]]);
        assert_eq!(t, ['b', 'c', 't', 'l']);
        let (v, t) = cut_piece(sq.vertices(), &tags, &values, Sign::Positive, 'C').unwrap();
        assert_eq!(v, [[0.5, 0.0], [1.0, 0.0], [1.0, 1.0], [0.5, 1.0]]);
        assert_eq!(t, ['b', 'r', 't', 'C']);
        // Through two opposite corners: the cut starts at a vertex on the line.
        let values = sq.line_values([1.0, -1.0], 0.0);
        let (v, t) = cut_piece(sq.vertices(), &tags, &values, Sign::Negative, 'd').unwrap();
        assert_eq!(v, [[0.0, 0.0], [1.0, 1.0], [0.0, 1.0]]);
        assert_eq!(t, ['d', 't', 'l']);
    }

    /// A convex polygon inscribed in a circle: `gaps` spread its angles.
    fn inscribed(centre: [f64; 2], radius: f64, gaps: &[f64]) -> ConvexPolygon {
        let total: f64 = gaps.iter().sum();
        let mut angle = 0.0;
        let pts = gaps
            .iter()
            .map(|g| {
                angle += std::f64::consts::TAU * g / total;
                [centre[0] + radius * angle.cos(), centre[1] + radius * angle.sin()]
            })
            .collect();
        ConvexPolygon::from_vertices(pts).unwrap()
    }

    fn polygons() -> impl Strategy<Value = ConvexPolygon> {
        (
            -10.0..10.0f64,
            -10.0..10.0f64,
            0.1..5.0f64,
            prop::collection::vec(0.2..1.0f64, 3..10),
        )
            .prop_map(|(x, y, r, gaps)| inscribed([x, y], r, &gaps))
    }

    /// Lines `a . p + c = 0` through a point near the polygon's centroid.
    fn line_near(poly: &ConvexPolygon, angle: f64, shift: [f64; 2], scale: f64) -> ([f64; 2], f64) {
        let a = [scale * angle.cos(), scale * angle.sin()];
        let c0 = poly.centroid();
        let p = [c0[0] + shift[0], c0[1] + shift[1]];
        (a, -(a[0] * p[0] + a[1] * p[1]))
    }

    proptest! {
        #[test]
        fn split_conserves_area_and_centroid(
            poly in polygons(), angle in 0.0..6.3f64, sx in -3.0..3.0f64, sy in -3.0..3.0f64,
            scale in 1e-3..1e3f64,
        ) {
            let (a, c) = line_near(&poly, angle, [sx, sy], scale);
            if let Split::Both(neg, pos) = poly.split(a, c) {
                let area = poly.area();
                prop_assert!((neg.area() + pos.area() - area).abs() <= 1e-12 * (1.0 + area));
                let (cn, cp, c0) = (neg.centroid(), pos.centroid(), poly.centroid());
                for k in 0..2 {
                    let mixed = (neg.area() * cn[k] + pos.area() * cp[k]) / area;
                    prop_assert!((mixed - c0[k]).abs() <= 1e-9 * (1.0 + c0[k].abs()));
                }
                for (piece, side) in [(&neg, Sign::Positive), (&pos, Sign::Negative)] {
                    prop_assert!(worst_turn(piece) > -1e-12);
                    prop_assert!(piece.vertices().iter().all(|&p| self::side(a, c, p) != side));
                }
                prop_assert_eq!(poly.clip(a, c), Some(neg));
            }
        }

        #[test]
        fn split_through_vertex_reuses_it(poly in polygons(), k in 0usize..10, angle in 0.0..6.3f64) {
            let v = poly.vertices()[k % poly.vertices().len()];
            let a = [angle.cos(), angle.sin()];
            let c = -(a[0] * v[0] + a[1] * v[1]);
            match poly.split(a, c) {
                Split::Both(neg, pos) => {
                    prop_assert!(neg.vertices().contains(&v) && pos.vertices().contains(&v));
                    prop_assert!((neg.area() + pos.area() - poly.area()).abs() <= 1e-12 * (1.0 + poly.area()));
                }
                whole => {
                    let consistent = poly.vertices().iter().all(|&p| match side(a, c, p) {
                        Sign::Zero => true,
                        sign => (sign == Sign::Positive) == (whole == Split::Positive),
                    });
                    prop_assert!(consistent);
                }
            }
        }

        #[test]
        fn repeated_splits_tile_the_polygon(
            poly in polygons(),
            lines in prop::collection::vec((0.0..6.3f64, -3.0..3.0f64, -3.0..3.0f64), 1..12),
        ) {
            let mut pieces = vec![poly.clone()];
            for (angle, sx, sy) in lines {
                let (a, c) = line_near(&poly, angle, [sx, sy], 1.0);
                pieces = pieces.into_iter().flat_map(|p| match p.split(a, c) {
                    Split::Both(neg, pos) => vec![neg, pos],
                    _ => vec![p],
                }).collect();
            }
            let total: f64 = pieces.iter().map(ConvexPolygon::area).sum();
            prop_assert!((total - poly.area()).abs() <= 1e-11 * (1.0 + poly.area()));
            prop_assert!(pieces.iter().all(|p| p.area() > 0.0 && worst_turn(p) > -1e-12));
        }
    }
}
