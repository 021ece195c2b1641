//! Geometric predicates in the plane: the only code that compares a float with
//! a tolerance for 2-D geometry.
//!
//! Each predicate evaluates a small expression once and classifies it against
//! [`TOL_SIGN_REL`] times the magnitude of the terms that were summed, so a
//! point within rounding of a line is reported as lying on it.

use super::signed_area;
use crate::tol::TOL_SIGN_REL;

/// Where a value lies relative to zero, after the tolerance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sign {
    /// Below `-tolerance`.
    Negative,
    /// Within the tolerance of zero.
    Zero,
    /// Above `tolerance`.
    Positive,
}

impl Sign {
    /// The opposite sign (`Zero` stays `Zero`).
    pub(crate) fn flipped(self) -> Sign {
        match self {
            Sign::Negative => Sign::Positive,
            Sign::Zero => Sign::Zero,
            Sign::Positive => Sign::Negative,
        }
    }

    /// True when `self` and `other` are strictly opposite (neither is `Zero`).
    pub(crate) fn opposes(self, other: Sign) -> bool {
        self != Sign::Zero && other == self.flipped()
    }
}

/// The value of the affine function `a . p + c` at `p`, with the scale
/// `|a| |p| + |c|` that bounds its rounding error.
pub(crate) fn line_value(a: [f64; 2], c: f64, p: [f64; 2]) -> (f64, f64) {
    let value = a[0] * p[0] + a[1] * p[1] + c;
    let scale = a[0].hypot(a[1]) * p[0].hypot(p[1]) + c.abs();
    (value, scale)
}

/// The value and sign of `a . p + c` at `p`, against a scale the caller
/// bounds for a whole polygon (`|a| max|p| + |c|`), so that every vertex of
/// the polygon is classified with the same tolerance.
pub(crate) fn line_sign(a: [f64; 2], c: f64, p: [f64; 2], scale: f64) -> (f64, Sign) {
    let value = a[0] * p[0] + a[1] * p[1] + c;
    (value, classify(value, scale))
}

/// The sign of `value`, a sum of terms of total magnitude `scale`: values
/// within [`TOL_SIGN_REL`]` * scale` of zero are `Zero`.
pub(crate) fn classify(value: f64, scale: f64) -> Sign {
    let tol = TOL_SIGN_REL * scale;
    if value > tol {
        Sign::Positive
    } else if value < -tol {
        Sign::Negative
    } else {
        Sign::Zero
    }
}

/// Twice the signed area of the triangle `p, q, r` (positive when `p -> q -> r`
/// turns counter-clockwise), computed relative to `p`.
pub(crate) fn cross(p: [f64; 2], q: [f64; 2], r: [f64; 2]) -> f64 {
    (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])
}

/// The turn `p -> q -> r`: `Positive` counter-clockwise, `Negative` clockwise,
/// `Zero` when collinear up to rounding.
pub(crate) fn turn(p: [f64; 2], q: [f64; 2], r: [f64; 2]) -> Sign {
    let (dq, dr) = ([q[0] - p[0], q[1] - p[1]], [r[0] - p[0], r[1] - p[1]]);
    let scale = dq[0].hypot(dq[1]) * dr[0].hypot(dr[1]);
    classify(cross(p, q, r), scale)
}

/// True when `x` lies left of the directed line `p -> q` or at most `dist`
/// to its right.
pub(crate) fn left_of_or_within(p: [f64; 2], q: [f64; 2], x: [f64; 2], dist: f64) -> bool {
    let length = (q[0] - p[0]).hypot(q[1] - p[1]);
    cross(p, q, x) >= -dist * length
}

/// True when the vertex cycle encloses, counter-clockwise, an area that rounding
/// cannot explain (relative to the squared [`extent`]).
pub(crate) fn has_area(vertices: &[[f64; 2]]) -> bool {
    if vertices.len() < 3 {
        return false;
    }
    let area = signed_area(vertices);
    // Most polygons clear the tolerance by far, which a bound of the extent
    // without square roots shows: the computed extent is at most the bound
    // times (1 + 4 eps) (`hypot` errs by under an ulp, and `hypot(x, y) <=
    // |x| + |y|`), so twice the bound's tolerance exceeds the extent's
    // despite every rounding, and the answer is the one below. NaN and
    // infinite bounds fall through to it.
    if area > 2.0 * TOL_SIGN_REL * l1_extent(vertices).powi(2) {
        return true;
    }
    classify(area, extent(vertices).powi(2)) == Sign::Positive
}

/// The largest `|x| + |y|` from the first vertex to another: a bound of
/// [`extent`] without square roots.
fn l1_extent(vertices: &[[f64; 2]]) -> f64 {
    let Some(&o) = vertices.first() else {
        return 0.0;
    };
    vertices
        .iter()
        .map(|p| (p[0] - o[0]).abs() + (p[1] - o[1]).abs())
        .fold(0.0, f64::max)
}

/// The largest distance from the first vertex to another: the length scale of
/// a polygon's rounding errors.
pub(crate) fn extent(vertices: &[[f64; 2]]) -> f64 {
    let Some(&o) = vertices.first() else {
        return 0.0;
    };
    vertices
        .iter()
        .map(|p| (p[0] - o[0]).hypot(p[1] - o[1]))
        .fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_uses_relative_tolerance() {
        assert_eq!(classify(1e-3, 1.0), Sign::Positive);
        assert_eq!(classify(-1e-3, 1.0), Sign::Negative);
        assert_eq!(classify(1e-13, 1.0), Sign::Zero);
        assert_eq!(classify(1e-13, 1e-3), Sign::Positive);
    }

    #[test]
    fn line_value_puts_rounded_points_on_line() {
        // 0.1 + 0.2 - 0.3 is not exactly zero in f64 but lies on the line.
        let (v, s) = line_value([1.0, 1.0], -0.3, [0.1, 0.2]);
        assert_ne!(v, 0.0);
        assert_eq!(classify(v, s), Sign::Zero);
        assert_eq!(
            classify(line_value([1.0, 0.0], -0.5, [1.0, 0.0]).0, 1.0),
            Sign::Positive
        );
    }

    #[test]
    fn turn_detects_orientation_and_collinearity() {
        assert_eq!(turn([0.0, 0.0], [1.0, 0.0], [1.0, 1.0]), Sign::Positive);
        assert_eq!(turn([0.0, 0.0], [1.0, 1.0], [1.0, 0.0]), Sign::Negative);
        assert_eq!(turn([0.1, 0.1], [0.2, 0.2], [0.3, 0.3]), Sign::Zero);
        assert_eq!(turn([1e8, 1e8], [1e8 + 1.0, 1e8], [1e8 + 2.0, 1e8]), Sign::Zero);
    }

    #[test]
    fn signs_flip_and_oppose() {
        assert!(Sign::Negative.opposes(Sign::Positive));
        assert!(!Sign::Zero.opposes(Sign::Zero));
        assert!(!Sign::Positive.opposes(Sign::Zero));
    }

    #[test]
    fn the_quick_area_test_answers_as_the_extent_does() {
        // Triangles of every flatness around the tolerance, at several
        // scales and orientations: the answer is that of the extent itself.
        for scale in [1e-3, 1.0, 7.3, 1e5] {
            for k in 0..200 {
                let height = scale * 1e-13 * 1.1f64.powi(k);
                let angle = 0.37 * k as f64;
                let (c, s) = (angle.cos(), angle.sin());
                let turn = |[x, y]: [f64; 2]| [x * c - y * s, x * s + y * c];
                let v = [turn([0.0, 0.0]), turn([scale, 0.0]), turn([0.5 * scale, height])];
                let want = classify(signed_area(&v), extent(&v).powi(2)) == Sign::Positive;
                assert_eq!(has_area(&v), want, "scale {scale}, height {height}");
            }
        }
    }

    #[test]
    fn has_area_ignores_rounding_slivers() {
        assert!(has_area(&[[0.0, 0.0], [1.0, 0.0], [0.0, 1e-6]]));
        assert!(!has_area(&[[0.0, 0.0], [1.0, 0.0], [0.5, 1e-14]]));
        assert!(!has_area(&[[0.0, 0.0], [0.0, 1.0], [1.0, 0.0]])); // clockwise
        assert!(!has_area(&[[0.0, 0.0], [1.0, 0.0]]));
    }

    #[test]
    fn left_of_or_within_measures_distance() {
        let (p, q) = ([0.0, 0.0], [2.0, 0.0]);
        assert!(left_of_or_within(p, q, [1.0, 1.0], 0.0));
        assert!(!left_of_or_within(p, q, [1.0, -0.1], 0.05));
        assert!(left_of_or_within(p, q, [1.0, -0.1], 0.2));
    }
}
