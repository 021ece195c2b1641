//! The Chebyshev ball of a polytope: its largest inscribed ball.

use ndarray::{s, Array1, Array2, ArrayView1};

use super::{LpOutcome, LpProblem};
use crate::geometry::{Polytope, PolytopeView};
use crate::tol::{CHEBYSHEV_RADIUS_CAP_REL, TOL_LP_FEAS, TOL_ZERO_ROW};
use crate::{Error, Result};

/// The centre and radius of the largest ball inside `p`, or `None` when `p` is
/// empty.
///
/// Solves one LP over `(x, r)`:
///
/// ```text
/// maximise r   subject to   a_i . x + r ||a_i|| <= b_i  (every row i),   0 <= r <= cap,
/// ```
///
/// with every row scaled to unit norm. The cap is [`CHEBYSHEV_RADIUS_CAP_REL`]
/// times the largest distance of a constraint hyperplane from the origin (at
/// least 1), so the LP is bounded even when the set holds arbitrarily large
/// balls (a half-space, a wedge); such a set is reported with radius
/// `f64::INFINITY` and a centre deep inside it. An unbounded set of finite width
/// (a slab) has a finite radius.
///
/// A zero row (norm below [`TOL_ZERO_ROW`]) says `0 <= b_i`: it is dropped when
/// `b_i >= 0` and makes the set empty otherwise. With no rows left the set is
/// the whole space: centre at the origin, infinite radius, no LP. A nonempty set
/// without interior gives radius 0 (the thin-cell policy is the caller's).
///
/// `p` is a [`Polytope`] or a borrowed [`PolytopeView`] (a region's rows in
/// a partition's pool): the rows are read in place, never copied.
///
/// # Errors
///
/// [`Error::Shape`] when `p.a` and `p.b` disagree; [`Error::Lp`] (naming
/// `context`) when the solver fails.
///
/// # Complexity
///
/// One LP with `dim + 1` variables and `len + 2` rows.
pub(crate) fn chebyshev_ball<'a>(
    p: impl Into<PolytopeView<'a>>,
    context: &str,
) -> Result<Option<(Array1<f64>, f64)>> {
    let p = p.into();
    if p.a.nrows() != p.b.len() {
        return Err(Error::shape(
            format!("polytope right-hand side ({context})"),
            p.a.nrows(),
            p.b.len(),
        ));
    }
    ball_on_rows(p, 0..p.len(), context)
}

/// [`chebyshev_ball`] of the rows `rows` (ascending) of `p` alone, the
/// others read as absent; `p`'s shape is checked by the caller.
fn ball_on_rows(
    p: PolytopeView<'_>,
    rows: impl Iterator<Item = usize>,
    context: &str,
) -> Result<Option<(Array1<f64>, f64)>> {
    let d = p.dim();
    // Indexed by row of `p`; only the rows read are filled.
    let mut norms = vec![0.0; p.len()];
    let mut kept = Vec::with_capacity(p.len());
    for i in rows {
        let row = p.a.row(i);
        let norm = row.dot(&row).sqrt();
        norms[i] = norm;
        if norm >= TOL_ZERO_ROW {
            kept.push(i);
        } else if p.b[i] < 0.0 {
            return Ok(None);
        }
    }
    if kept.is_empty() {
        return Ok(Some((Array1::zeros(d), f64::INFINITY)));
    }
    let reach = kept.iter().map(|&i| p.b[i].abs() / norms[i]).fold(1.0, f64::max);
    let cap = CHEBYSHEV_RADIUS_CAP_REL * reach;
    let (a, b) = ball_constraints(p, &kept, &norms, cap);
    let mut c = Array1::zeros(d + 1);
    c[d] = 1.0;
    match LpProblem::new(c.view(), a.view(), b.view()).solve(context)? {
        LpOutcome::Infeasible => Ok(None),
        LpOutcome::Unbounded => Err(Error::Lp {
            context: context.to_owned(),
            reason: "Chebyshev LP reported unbounded despite the radius cap".to_owned(),
        }),
        LpOutcome::Optimal { x, .. } => {
            let r = x[d].max(0.0);
            let radius = if r >= cap * (1.0 - TOL_LP_FEAS) {
                f64::INFINITY
            } else {
                r
            };
            Ok(Some((Array1::from(x[..d].to_vec()), radius)))
        }
    }
}

/// [`chebyshev_ball`] of `p` given a box `(lo, hi)` that the rows marked
/// `bounding` alone keep it in (a region's domain rows and the domain's
/// box): any other row whose hyperplane misses the box by more than
/// [`TOL_LP_FEAS`] (relative to the row's norm) is left out of the LP. A
/// ball in the box keeps more than that slack on such a row, so it never
/// binds: the LP has the same optimum with fewer rows (in a small box, most
/// of a network's units are far away).
///
/// # Errors
///
/// As [`chebyshev_ball`]; [`Error::Shape`] also when `bounding` or the box
/// disagree with `p` in size.
pub(crate) fn chebyshev_ball_in_box(
    p: &Polytope,
    (lo, hi): (ArrayView1<'_, f64>, ArrayView1<'_, f64>),
    bounding: &[bool],
    context: &str,
) -> Result<Option<(Array1<f64>, f64)>> {
    if bounding.len() != p.len() {
        return Err(Error::shape(
            format!("bounding rows ({context})"),
            p.len(),
            bounding.len(),
        ));
    }
    if lo.len() != p.dim() || hi.len() != p.dim() {
        let got = format!("{} and {}", lo.len(), hi.len());
        return Err(Error::shape(format!("bounding box ({context})"), p.dim(), got));
    }
    // The rows are read in place: those left out are skipped, not copied.
    let near = (0..p.len()).filter(|&i| bounding[i] || !misses_box(p.a.row(i), p.b[i], lo, hi));
    ball_on_rows(p.into(), near, context)
}

/// True when `row . y <= b` holds on the whole box with more than
/// [`TOL_LP_FEAS`] times the row's norm to spare.
fn misses_box(row: ArrayView1<'_, f64>, b: f64, lo: ArrayView1<'_, f64>, hi: ArrayView1<'_, f64>) -> bool {
    let box_max: f64 = row
        .iter()
        .zip(lo.iter().zip(hi))
        .map(|(&aj, (&l, &h))| (aj * l).max(aj * h))
        .sum();
    box_max < b - TOL_LP_FEAS * row.dot(&row).sqrt()
}

/// The rows `[a_i / ||a_i||, 1] <= b_i / ||a_i||` of the kept rows, then
/// `-r <= 0` and `r <= cap`.
fn ball_constraints(
    p: PolytopeView<'_>,
    kept: &[usize],
    norms: &[f64],
    cap: f64,
) -> (Array2<f64>, Array1<f64>) {
    let (d, m) = (p.dim(), kept.len());
    let mut a = Array2::zeros((m + 2, d + 1));
    let mut b = Array1::zeros(m + 2);
    for (k, &i) in kept.iter().enumerate() {
        a.slice_mut(s![k, ..d]).assign(&(&p.a.row(i) / norms[i]));
        a[[k, d]] = 1.0;
        b[k] = p.b[i] / norms[i];
    }
    a[[m, d]] = -1.0;
    a[[m + 1, d]] = 1.0;
    b[m + 1] = cap;
    (a, b)
}

#[cfg(test)]
mod tests {
    use ndarray::{array, Array1, Array2};

    use super::*;

    /// `lo <= x <= hi` in every coordinate, rows scaled by `scale`.
    fn cube(d: usize, lo: f64, hi: f64, scale: f64) -> Polytope {
        let mut a = Array2::zeros((2 * d, d));
        let mut b = Array1::zeros(2 * d);
        for j in 0..d {
            a[[2 * j, j]] = scale;
            b[2 * j] = scale * hi;
            a[[2 * j + 1, j]] = -scale;
            b[2 * j + 1] = -scale * lo;
        }
        Polytope { a, b }
    }

    fn ball(p: &Polytope) -> (Array1<f64>, f64) {
        chebyshev_ball(p, "test").unwrap().expect("nonempty")
    }

    #[test]
    fn chebyshev_unit_cube_has_radius_half() {
        for d in [1, 2, 3, 6] {
            for scale in [1.0, 1e-3, 250.0] {
                let (centre, r) = ball(&cube(d, 0.0, 1.0, scale));
                assert!((r - 0.5).abs() < 1e-12, "d={d} r={r}");
                assert!(centre.iter().all(|&c| (c - 0.5).abs() < 1e-9));
            }
        }
    }

    #[test]
    fn chebyshev_simplex_matches_closed_form() {
        // The ball touches x_j = 0 (so centre = r 1) and sum x = 1:
        // d r + sqrt(d) r = 1.
        for d in [1usize, 2, 3, 5, 8] {
            let (centre, r) = ball(&crate::test_support::simplex(d));
            let expected = 1.0 / (d as f64 + (d as f64).sqrt());
            assert!((r - expected).abs() < 1e-12, "d={d}");
            assert!(centre.iter().all(|&c| (c - expected).abs() < 1e-9));
        }
    }

    #[test]
    fn chebyshev_empty_polytope_is_none() {
        let p = Polytope {
            a: array![[1.0, 0.0], [-1.0, 0.0]],
            b: array![0.0, -1.0],
        };
        assert_eq!(chebyshev_ball(&p, "empty").unwrap(), None);
    }

    #[test]
    fn chebyshev_half_space_has_infinite_radius() {
        let p = Polytope {
            a: array![[1.0, 1.0]],
            b: array![3.0],
        };
        let (centre, r) = ball(&p);
        assert_eq!(r, f64::INFINITY);
        assert!(centre[0] + centre[1] < 3.0);
    }

    #[test]
    fn chebyshev_slab_is_unbounded_with_finite_radius() {
        let p = Polytope {
            a: array![[1.0, 0.0], [-1.0, 0.0]],
            b: array![2.0, 0.0],
        };
        let (centre, r) = ball(&p);
        assert!((r - 1.0).abs() < 1e-12);
        assert!((centre[0] - 1.0).abs() < 1e-9);
    }

    #[test]
    fn chebyshev_zero_rows_are_dropped_or_empty() {
        let mut p = cube(2, -1.0, 1.0, 1.0);
        p.a.push_row(array![0.0, 0.0].view()).unwrap();
        p.b = array![1.0, 1.0, 1.0, 1.0, 0.0];
        assert!((ball(&p).1 - 1.0).abs() < 1e-12);
        p.b[4] = -1e-3;
        assert_eq!(chebyshev_ball(&p, "zero row").unwrap(), None);
        let only_zero = Polytope {
            a: Array2::zeros((2, 3)),
            b: array![0.0, 1.0],
        };
        assert_eq!(ball(&only_zero), (Array1::zeros(3), f64::INFINITY));
    }

    #[test]
    fn chebyshev_flat_polytope_has_radius_zero() {
        // The segment x = 0, -1 <= y <= 1 is nonempty but has no interior.
        let p = Polytope {
            a: array![[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]],
            b: array![0.0, 0.0, 1.0, 1.0],
        };
        let (centre, r) = ball(&p);
        assert!(r.abs() < 1e-12);
        assert!(centre[0].abs() < 1e-9 && centre[1].abs() <= 1.0 + 1e-9);
    }

    #[test]
    fn chebyshev_in_box_leaves_out_far_rows_only() {
        // The cube [-1, 1]^3 cut by x + y + z <= 1 (it binds) and by rows
        // that miss the box (x <= 5, -x - y - z <= 3.5): the same ball with
        // and without the far rows, as the closed form gives it (it touches
        // x = -1, y = -1, z = -1 and the cut).
        let mut p = cube(3, -1.0, 1.0, 1.0);
        for (row, b) in [
            ([1.0, 1.0, 1.0], 1.0),
            ([1.0, 0.0, 0.0], 5.0),
            ([-1.0, -1.0, -1.0], 3.5),
        ] {
            p.a.push_row(ArrayView1::from(&row)).unwrap();
            p.b = p.b.iter().copied().chain([b]).collect();
        }
        let (lo, hi) = (Array1::from_elem(3, -1.0), Array1::from_elem(3, 1.0));
        let mut bounding = vec![true; 6];
        bounding.extend([false; 3]);
        let (c1, r1) = chebyshev_ball(&p, "all").unwrap().unwrap();
        let (c2, r2) = chebyshev_ball_in_box(&p, (lo.view(), hi.view()), &bounding, "box")
            .unwrap()
            .unwrap();
        // Centre c 1 on the cut's side: 3 c + sqrt(3) r = 1 and c = r - 1.
        let r = 4.0 / (3.0 + 3f64.sqrt());
        assert!((r1 - r).abs() < 1e-12 && (r2 - r).abs() < 1e-12, "{r1} {r2} {r}");
        assert!(c1.iter().chain(&c2).all(|&c| (c - (r - 1.0)).abs() < 1e-9));
        // A row violated on the whole box is kept: the set is empty.
        p.b[8] = -3.5;
        let empty = chebyshev_ball_in_box(&p, (lo.view(), hi.view()), &bounding, "empty").unwrap();
        assert_eq!(empty, None);
        assert!(matches!(
            chebyshev_ball_in_box(&p, (lo.view(), hi.view()), &bounding[1..], "bad"),
            Err(Error::Shape { .. })
        ));
    }

    #[test]
    fn chebyshev_reports_shape_mismatch() {
        let p = Polytope {
            a: Array2::zeros((2, 2)),
            b: Array1::zeros(3),
        };
        assert!(matches!(chebyshev_ball(&p, "bad"), Err(Error::Shape { .. })));
    }
}
