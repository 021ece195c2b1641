//! The largest circle inside a convex polygon (its Chebyshev ball), exactly,
//! without an LP.

use crate::tol::TOL_SIGN_REL;

/// The centre and radius of the largest circle inside the convex polygon
/// `{y : n_i . y <= beta_i}` whose vertices are `vertices`; `rows` are the
/// polygon's edges as `(n_i, beta_i)`, one per edge, with distinct normals.
///
/// The problem is the LP `max r` subject to `n_i . y + r |n_i| <= beta_i` in
/// the three unknowns `(y, r)`. Its optimum is a vertex of the feasible set,
/// where three constraints are tight, and any three distinct unit normals give
/// an invertible system (three distinct points of the unit circle are never
/// collinear); so every triple of edges is solved and the best feasible one
/// kept. The centroid's inscribed circle is the starting lower bound, which
/// prunes most triples before their feasibility check.
///
/// # Complexity
///
/// `O(m^3)` triples with an `O(m)` check each, for `m` edges (a handful for
/// the cells of a network's partition).
pub(crate) fn largest_inscribed_circle(rows: &[([f64; 2], f64)], vertices: &[[f64; 2]]) -> ([f64; 2], f64) {
    let unit: Vec<([f64; 2], f64)> = rows
        .iter()
        .filter_map(|&(n, beta)| {
            let len = n[0].hypot(n[1]);
            (len > 0.0).then(|| ([n[0] / len, n[1] / len], beta / len))
        })
        .collect();
    let centroid = mean(vertices);
    let mut best = (centroid, clearance(&unit, centroid));
    let m = unit.len();
    for i in 0..m {
        for j in i + 1..m {
            for k in j + 1..m {
                let Some(tangent) = Tangent::new([unit[i], unit[j], unit[k]]) else {
                    continue;
                };
                // The radius first: most triples lose to the best so far,
                // and their centres are never needed.
                let r = tangent.radius();
                if r <= best.1 {
                    continue;
                }
                let y = tangent.centre();
                if fits(&unit, y, r) {
                    best = (y, r);
                }
            }
        }
    }
    best
}

/// The vertex average: a point inside a convex polygon.
fn mean(vertices: &[[f64; 2]]) -> [f64; 2] {
    let n = vertices.len().max(1) as f64;
    let (sx, sy) = vertices.iter().fold((0.0, 0.0), |(x, y), p| (x + p[0], y + p[1]));
    [sx / n, sy / n]
}

/// The distance from `y` to the nearest edge line (negative outside).
fn clearance(unit: &[([f64; 2], f64)], y: [f64; 2]) -> f64 {
    unit.iter()
        .map(|&(n, beta)| beta - n[0] * y[0] - n[1] * y[1])
        .fold(f64::INFINITY, f64::min)
}

/// The circle tangent to three edge lines (on their inner sides): the system
/// `n_i . y + r = beta_i`, solved by Cramer's rule one unknown at a time.
struct Tangent {
    /// The rows `[n_i, 1]`.
    m: [[f64; 3]; 3],
    rhs: [f64; 3],
    det: f64,
}

impl Tangent {
    /// `None` when the system is singular.
    fn new(rows: [([f64; 2], f64); 3]) -> Option<Tangent> {
        let m = rows.map(|(n, _)| [n[0], n[1], 1.0]);
        let det = det3(m);
        (det.abs() > TOL_SIGN_REL).then(|| Tangent {
            m,
            rhs: rows.map(|(_, beta)| beta),
            det,
        })
    }

    /// The circle's radius (the system's third unknown).
    fn radius(&self) -> f64 {
        self.solve(2)
    }

    /// The circle's centre (the system's first two unknowns).
    fn centre(&self) -> [f64; 2] {
        [self.solve(0), self.solve(1)]
    }

    /// Unknown `col` of `[y_0, y_1, r]`, by Cramer's rule.
    fn solve(&self, col: usize) -> f64 {
        let mut c = self.m;
        for (row, &b) in c.iter_mut().zip(&self.rhs) {
            row[col] = b;
        }
        det3(c) / self.det
    }
}

/// The determinant of a 3 x 3 matrix, by its first row.
fn det3(c: [[f64; 3]; 3]) -> f64 {
    c[0][0] * (c[1][1] * c[2][2] - c[1][2] * c[2][1]) - c[0][1] * (c[1][0] * c[2][2] - c[1][2] * c[2][0])
        + c[0][2] * (c[1][0] * c[2][1] - c[1][1] * c[2][0])
}

/// True when the circle lies inside every edge line, up to rounding.
fn fits(unit: &[([f64; 2], f64)], y: [f64; 2], r: f64) -> bool {
    unit.iter().all(|&(n, beta)| {
        let reach = n[0] * y[0] + n[1] * y[1] + r;
        let scale = beta.abs() + y[0].hypot(y[1]) + r.abs();
        reach <= beta + TOL_SIGN_REL * scale
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows_of(vertices: &[[f64; 2]]) -> Vec<([f64; 2], f64)> {
        let n = vertices.len();
        (0..n)
            .map(|k| {
                let (p, q) = (vertices[k], vertices[(k + 1) % n]);
                let normal = [q[1] - p[1], p[0] - q[0]];
                (normal, normal[0] * p[0] + normal[1] * p[1])
            })
            .collect()
    }

    #[test]
    fn rectangle_touches_its_long_sides() {
        let v = [[0.0, 0.0], [10.0, 0.0], [10.0, 2.0], [0.0, 2.0]];
        let (c, r) = largest_inscribed_circle(&rows_of(&v), &v);
        assert!((r - 1.0).abs() < 1e-14);
        assert!((c[1] - 1.0).abs() < 1e-14 && c[0] > 1.0 - 1e-14 && c[0] < 9.0 + 1e-14);
    }

    #[test]
    fn right_triangle_inradius_has_closed_form() {
        // Legs 3 and 4, hypotenuse 5: inradius (3 + 4 - 5) / 2 = 1 at (1, 1).
        let v = [[0.0, 0.0], [4.0, 0.0], [0.0, 3.0]];
        let (c, r) = largest_inscribed_circle(&rows_of(&v), &v);
        assert!((r - 1.0).abs() < 1e-14);
        assert!((c[0] - 1.0).abs() < 1e-14 && (c[1] - 1.0).abs() < 1e-14);
    }

    #[test]
    fn regular_polygon_inradius_is_apothem() {
        let n = 7;
        let v: Vec<[f64; 2]> = (0..n)
            .map(|k| {
                let a = std::f64::consts::TAU * k as f64 / n as f64;
                [5.0 + 2.0 * a.cos(), -3.0 + 2.0 * a.sin()]
            })
            .collect();
        let (c, r) = largest_inscribed_circle(&rows_of(&v), &v);
        let apothem = 2.0 * (std::f64::consts::PI / n as f64).cos();
        assert!((r - apothem).abs() < 1e-13);
        assert!((c[0] - 5.0).abs() < 1e-12 && (c[1] + 3.0).abs() < 1e-12);
    }
}
