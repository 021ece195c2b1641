//! Facets of a polytope: the rows of `a x <= b` that are not redundant.
//!
//! With rows scaled to unit norm (`u_i . x <= beta_i`), row `i` is a **facet**
//! when
//!
//! ```text
//! max u_i . x   subject to   u_k . x <= beta_k (k != i),   u_i . x <= beta_i + 1
//! ```
//!
//! exceeds `beta_i` by more than [`TOL_LP_FEAS`]; otherwise it is redundant.
//! Rows are decided in this order, cheapest first:
//!
//! 1. zero rows are redundant;
//! 2. rows with the same unit normal: only the tightest can be a facet, and rows
//!    within [`TOL_LP_FEAS`] of it are its duplicates (one representative, the
//!    lowest index, is decided for all);
//! 3. a row whose hyperplane misses a known bounding box (its maximum over the
//!    box stays below `beta_i` by more than the tolerance) is redundant;
//! 4. ray shooting from the interior point along each undecided normal: the
//!    first hyperplane hit is a facet when every other row keeps a slack above
//!    the tolerance at the hit point (that point then certifies the LP above);
//! 5. when rows are left, the vertices of the polytope (by walking its edge
//!    graph, see [`vertices`](super::vertices)) decide them all when it is
//!    simple, with a point inside each facet;
//! 6. when many rows are left (more than `BOX_SCREEN_ROWS_PER_DIM` (4) per
//!    dimension), `2 d` small LPs give the bounding box of the facets found so
//!    far (within the known box), which contains the polytope, and step 3 runs
//!    again with it;
//! 7. the LP above, by constraint generation: it starts from the facets known so
//!    far and adds the most violated row to the solved program (a warm re-solve)
//!    until its optimum satisfies every row or falls below `beta_i`.
//!
//! A row that the LP of step 7 finds redundant only within the tolerance (its
//! optimum passes `beta_i`, by at most [`TOL_LP_FEAS`]) is reported as
//! **nearly redundant**: its facet, if it has one, is shorter than the
//! tolerance, and only exact arithmetic can tell (the LP walk settles such
//! rows with `regions::exact` when its thin-cell radius is 0).
//!
//! A row found redundant leaves the system for the later LPs (sequential
//! elimination), so two nearly coinciding rows that escaped step 2 still leave
//! exactly one facet.

use ndarray::{Array1, ArrayView1, Axis};

use super::screen::{empty_polytope, push_row, Rows, Status};
use super::{LpOutcome, LpProblem, LpStats, WarmLp};
use crate::geometry::Polytope;
use crate::tol::TOL_LP_FEAS;
use crate::{Error, Result};

/// One facet of a polytope: a representative row and the rows that coincide with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Facet {
    /// The representative: the lowest index among the coinciding rows.
    pub row: usize,
    /// The other rows with the same unit normal and right-hand side (within
    /// [`TOL_LP_FEAS`]), ascending: several network units can share a hyperplane.
    pub duplicates: Vec<usize>,
}

/// The facets of a polytope and the LP work it took.
///
/// # Invariants
///
/// `facets` is sorted by `row`; every row index appears at most once as a
/// representative or duplicate; `stats.lps_skipped` plus the number of rows
/// decided by their own LP is the number of rows (`stats.lps_solved` counts
/// those LPs and the bounding-box LPs of step 5).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct FacetReport {
    /// The facets, by ascending representative row.
    pub facets: Vec<Facet>,
    /// LPs solved (`lps_solved`), rows decided by a cheap test (`lps_skipped`)
    /// and warm re-solves.
    pub stats: LpStats,
    /// For each facet (in the order of `facets`), a point in its relative
    /// interior when the vertex walk found one.
    pub inside: Vec<Option<Array1<f64>>>,
    /// The nearly redundant rows (ascending): not facets within the
    /// tolerance, but their LP optimum passed their bound.
    pub near: Vec<usize>,
}

/// The facets of `p`, given a point `interior` of it and optionally a box `(lo, hi)`
/// known to contain it (for example the domain's box).
///
/// `interior` should lie strictly inside: it is the origin of the rays of step 4,
/// which are skipped (leaving the work to LPs) when some row has no slack there.
///
/// # Errors
///
/// [`Error::Shape`] when the sizes of `p`, `interior` or the box disagree;
/// [`Error::Lp`] (naming `context`) when the solver fails or the polytope turns
/// out to be empty.
///
/// # Complexity
///
/// `O(m log m + m^2 d)` for the cheap tests (`m` rows, `d` dimensions), at most
/// `2 d` small LPs for the facet box, and one LP (with warm re-solves) per row
/// left undecided.
pub(crate) fn facets(
    p: &Polytope,
    interior: ArrayView1<'_, f64>,
    bbox: Option<(ArrayView1<'_, f64>, ArrayView1<'_, f64>)>,
    context: &str,
) -> Result<FacetReport> {
    facets_with(p, interior, bbox, Steps::All, context)
}

/// Which of the steps [`facets_with`] takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Steps {
    /// Every step.
    All,
    /// Every step but the vertex walk (step 5), so the LP steps do the work.
    #[cfg_attr(not(test), allow(dead_code))]
    NoVertices,
}

/// [`facets`], with the vertex walk optional.
fn facets_with(
    p: &Polytope,
    interior: ArrayView1<'_, f64>,
    bbox: Option<(ArrayView1<'_, f64>, ArrayView1<'_, f64>)>,
    steps: Steps,
    context: &str,
) -> Result<FacetReport> {
    check_sizes(p, interior, bbox, context)?;
    let mut rows = Rows::normalised(p, context)?;
    rows.mark_parallel();
    if let Some((lo, hi)) = bbox {
        rows.mark_outside_box(lo, hi);
    }
    rows.certify_by_rays(interior);
    let inside_by_row = if steps == Steps::All && rows.status.contains(&Status::Undecided) {
        rows.decide_by_vertices(interior)
    } else {
        None
    };
    let mut stats = LpStats::default();
    rows.screen_by_facet_box(bbox, &mut stats, context)?;
    let rows_by_lp = rows.decide_by_lp(&mut stats, context)?;
    stats.lps_skipped = p.len() - rows_by_lp;
    let facets = rows.collect_facets();
    let near = (0..p.len())
        .filter(|&k| rows.status[k] == Status::NearlyRedundant)
        .collect();
    let inside = facets
        .iter()
        .map(|f| inside_by_row.as_ref().and_then(|points| points[f.row].clone()))
        .collect();
    Ok(FacetReport {
        facets,
        stats,
        inside,
        near,
    })
}

impl Rows {
    /// Step 7: decides every undecided row by an LP, in index order; returns
    /// how many rows it decided.
    fn decide_by_lp(&mut self, stats: &mut LpStats, context: &str) -> Result<usize> {
        let mut working: Vec<usize> = (0..self.beta.len())
            .filter(|&k| self.status[k] == Status::Facet)
            .collect();
        let mut decided_rows = 0;
        for i in 0..self.beta.len() {
            if self.status[i] != Status::Undecided {
                continue;
            }
            stats.lps_solved += 1;
            decided_rows += 1;
            let decided = self.decide_row(i, &mut working, stats, context)?;
            self.status[i] = decided;
            if decided == Status::Facet {
                working.push(i);
            } else {
                working.retain(|&k| k != i);
            }
        }
        Ok(decided_rows)
    }

    /// The LP of row `i` by constraint generation: starts from the working rows
    /// and adds the most violated active row until the optimum is decisive.
    /// Rows it adds join `working`, as they are likely facets of later rows too.
    ///
    /// When the solver's point still violates a row it was given (rounding at
    /// extreme scales), adding rows would loop forever; the row is then
    /// decided by one fresh LP over every active row.
    fn decide_row(
        &self,
        i: usize,
        working: &mut Vec<usize>,
        stats: &mut LpStats,
        context: &str,
    ) -> Result<Status> {
        let in_lp: Vec<usize> = working.iter().copied().filter(|&k| k != i).collect();
        let mut a = self.u.select(Axis(0), &in_lp);
        let mut b: Vec<f64> = in_lp.iter().map(|&k| self.beta[k]).collect();
        push_row(&mut a, &mut b, self.u.row(i), self.beta[i] + 1.0)?;
        let problem = LpProblem::new(self.u.row(i), a.view(), ArrayView1::from(&b[..]));
        let mut lp = WarmLp::new(&problem, context)?;
        let mut given = in_lp;
        loop {
            let violated = match lp.outcome() {
                LpOutcome::Optimal { value, .. } if *value <= self.beta[i] + TOL_LP_FEAS => {
                    return Ok(self.redundant(i, *value))
                }
                LpOutcome::Optimal { x, .. } => self.most_violated(i, x),
                other => return Err(no_optimum(i, other, context)),
            };
            let Some(k) = violated else {
                return Ok(Status::Facet);
            };
            if given.contains(&k) {
                return self.decide_with_every_row(i, context);
            }
            given.push(k);
            lp.add_row(self.u.row(k), self.beta[k])?;
            stats.warm_resolves += 1;
            if !working.contains(&k) {
                working.push(k);
            }
        }
    }

    /// The LP of row `i` over every active row at once: a facet when the
    /// optimum passes `beta[i]` by more than the tolerance.
    fn decide_with_every_row(&self, i: usize, context: &str) -> Result<Status> {
        let rows: Vec<usize> = (0..self.beta.len())
            .filter(|&k| k != i && self.is_active(k))
            .collect();
        let mut a = self.u.select(Axis(0), &rows);
        let mut b: Vec<f64> = rows.iter().map(|&k| self.beta[k]).collect();
        push_row(&mut a, &mut b, self.u.row(i), self.beta[i] + 1.0)?;
        match LpProblem::new(self.u.row(i), a.view(), ArrayView1::from(&b[..])).solve(context)? {
            LpOutcome::Optimal { value, .. } if value <= self.beta[i] + TOL_LP_FEAS => {
                Ok(self.redundant(i, value))
            }
            LpOutcome::Optimal { .. } => Ok(Status::Facet),
            other => Err(no_optimum(i, &other, context)),
        }
    }

    /// Row `i` found redundant by an LP whose optimum is `value`: nearly
    /// redundant when the optimum passes its bound at all.
    fn redundant(&self, i: usize, value: f64) -> Status {
        if value > self.beta[i] {
            Status::NearlyRedundant
        } else {
            Status::Redundant
        }
    }

    /// The active row other than `i` that `x` violates most, if by more than the tolerance.
    fn most_violated(&self, i: usize, x: &[f64]) -> Option<usize> {
        let x = ArrayView1::from(x);
        (0..self.beta.len())
            .filter(|&k| k != i && self.is_active(k))
            .map(|k| (k, self.u.row(k).dot(&x) - self.beta[k]))
            .filter(|&(_, violation)| violation > TOL_LP_FEAS)
            .max_by(|p, q| p.1.total_cmp(&q.1))
            .map(|(k, _)| k)
    }

    /// The facets with their duplicates, by ascending row.
    fn collect_facets(&self) -> Vec<Facet> {
        let mut duplicates: Vec<Vec<usize>> = vec![Vec::new(); self.beta.len()];
        for (j, status) in self.status.iter().enumerate() {
            if let Status::DuplicateOf(rep) = *status {
                duplicates[rep].push(j);
            }
        }
        self.status
            .iter()
            .zip(duplicates)
            .enumerate()
            .filter(|(_, (status, _))| **status == Status::Facet)
            .map(|(row, (_, duplicates))| Facet { row, duplicates })
            .collect()
    }
}

/// Checks that the polytope, the interior point and the box agree in size.
fn check_sizes(
    p: &Polytope,
    interior: ArrayView1<'_, f64>,
    bbox: Option<(ArrayView1<'_, f64>, ArrayView1<'_, f64>)>,
    context: &str,
) -> Result<()> {
    if p.a.nrows() != p.b.len() {
        let what = format!("polytope right-hand side ({context})");
        return Err(Error::shape(what, p.a.nrows(), p.b.len()));
    }
    let d = p.dim();
    if interior.len() != d {
        return Err(Error::shape(
            format!("interior point ({context})"),
            d,
            interior.len(),
        ));
    }
    if let Some((lo, hi)) = bbox {
        if lo.len() != d || hi.len() != d {
            let got = format!("{} and {}", lo.len(), hi.len());
            return Err(Error::shape(format!("bounding box ({context})"), d, got));
        }
    }
    Ok(())
}

/// The error for a facet LP of row `i` without an optimum: its polytope is
/// empty, or the solver ignored the cap on row `i`.
fn no_optimum(i: usize, outcome: &LpOutcome, context: &str) -> Error {
    match outcome {
        LpOutcome::Infeasible => empty_polytope(context),
        _ => Error::Lp {
            context: context.to_owned(),
            reason: format!("facet LP of row {i} unbounded despite its cap"),
        },
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{array, Array1, Array2};
    use rand::{rngs::StdRng, Rng, SeedableRng};

    use super::*;
    use crate::test_support::{cube, with_rows};

    /// The cube `[0, 1]^d`: rows `x_j <= 1` at `2j`, `-x_j <= 0` at `2j + 1`.
    fn unit_cube(d: usize) -> Polytope {
        cube(d, 0.0, 1.0)
    }

    fn facet_rows(report: &FacetReport) -> Vec<usize> {
        report.facets.iter().map(|f| f.row).collect()
    }

    fn run(p: &Polytope, z: &Array1<f64>) -> FacetReport {
        run_with(p, z, Steps::All)
    }

    fn run_with(p: &Polytope, z: &Array1<f64>, steps: Steps) -> FacetReport {
        let report = facets_with(p, z.view(), None, steps, "test").unwrap();
        let stats = report.stats;
        assert!(stats.lps_skipped <= p.len() && stats.lps_solved + stats.lps_skipped >= p.len());
        report
    }

    #[test]
    fn facets_of_cube_are_all_rows() {
        let p = unit_cube(3);
        let report = run(&p, &Array1::from_elem(3, 0.5));
        assert_eq!(facet_rows(&report), (0..6).collect::<Vec<_>>());
        assert!(report.facets.iter().all(|f| f.duplicates.is_empty()));
        assert_eq!(
            report.stats.lps_solved, 0,
            "rays from the centre certify every facet"
        );
    }

    #[test]
    fn facets_drop_redundant_rows_of_cube() {
        // x1 <= 2 is loose, x1 + x2 + x3 <= 3 only touches the vertex (1, 1, 1),
        // -x1 - x2 <= 0.5 holds on the whole cube, 0 . x <= 1 is a zero row.
        let rows: [(&[f64], f64); 4] = [
            (&[1.0, 0.0, 0.0], 2.0),
            (&[1.0, 1.0, 1.0], 3.0),
            (&[-1.0, -1.0, 0.0], 0.5),
            (&[0.0, 0.0, 0.0], 1.0),
        ];
        let p = with_rows(unit_cube(3), &rows);
        let report = run(&p, &Array1::from_elem(3, 0.5));
        assert_eq!(facet_rows(&report), (0..6).collect::<Vec<_>>());
    }

    #[test]
    fn facets_keep_one_representative_of_duplicates() {
        // Rows 6 and 7 are x1 <= 1 again (scaled); row 8 is a looser parallel row.
        let rows: [(&[f64], f64); 3] = [(&[2.0, 0.0], 2.0), (&[1.0, 0.0], 1.0), (&[3.0, 0.0], 3.5)];
        let p = with_rows(unit_cube(2), &rows);
        let report = run(&p, &array![0.25, 0.75]);
        assert_eq!(facet_rows(&report), vec![0, 1, 2, 3]);
        assert_eq!(report.facets[0].duplicates, vec![4, 5]);
        // Moving the duplicate ahead makes it the representative.
        let p = with_rows(unit_cube(2), &[(&[5.0, 0.0], 5.0)]);
        let mut swapped = p.clone();
        swapped.a.row_mut(0).assign(&p.a.row(4));
        swapped.a.row_mut(4).assign(&p.a.row(0));
        swapped.b.swap(0, 4);
        let report = run(&swapped, &array![0.5, 0.5]);
        assert_eq!(
            report.facets[0],
            Facet {
                row: 0,
                duplicates: vec![4]
            }
        );
    }

    #[test]
    fn facets_reject_negative_zero_row() {
        let p = with_rows(unit_cube(2), &[(&[0.0, 0.0], -1.0)]);
        let err = facets(&p, array![0.5, 0.5].view(), None, "zero row");
        assert!(matches!(err, Err(Error::Lp { .. })));
    }

    #[test]
    fn facets_keep_one_of_nearly_coinciding_rows() {
        // Row 4 tilts x <= 1 by 1e-8: it cuts the cube's edge x = 1 except at
        // (1, 0), so row 0 becomes redundant and row 4 the facet.
        let tilt = 1e-8;
        let p = with_rows(unit_cube(2), &[(&[1.0, tilt], 1.0)]);
        assert_eq!(facet_rows(&run(&p, &array![0.5, 0.5])), vec![1, 2, 3, 4]);
        assert_eq!(
            facet_rows(&run(&p, &array![1.0 - 2.0 * tilt, 0.5])),
            vec![1, 2, 3, 4]
        );
    }

    #[test]
    fn facets_of_simplex_are_all_rows() {
        for d in [2, 4, 7] {
            let z = Array1::from_elem(d, 0.5 / d as f64);
            let report = run(&crate::test_support::simplex(d), &z);
            assert_eq!(facet_rows(&report), (0..=d).collect::<Vec<_>>());
        }
    }

    #[test]
    fn facets_of_unbounded_cone() {
        // The quadrant x, y >= 0 with the redundant row x + y >= -1.
        let p = Polytope {
            a: array![[-1.0, 0.0], [0.0, -1.0], [-1.0, -1.0]],
            b: array![0.0, 0.0, 1.0],
        };
        assert_eq!(facet_rows(&run(&p, &array![1.0, 1.0])), vec![0, 1]);
    }

    #[test]
    fn facets_from_boundary_point_use_lps() {
        // The interior point lies on a facet, so rays are skipped and LPs decide;
        // the vertex walk still finds every vertex and needs none.
        let p = with_rows(unit_cube(3), &[(&[1.0, 1.0, 0.0], 2.5)]);
        let z = array![1.0, 0.5, 0.5];
        let report = run_with(&p, &z, Steps::NoVertices);
        assert_eq!(facet_rows(&report), (0..6).collect::<Vec<_>>());
        assert_eq!(report.stats.lps_solved, 7);
        let report = run(&p, &z);
        assert_eq!(facet_rows(&report), (0..6).collect::<Vec<_>>());
        assert_eq!(report.stats.lps_solved, 0);
        assert!(report.inside.iter().all(Option::is_some));
    }

    #[test]
    fn facets_skip_rows_outside_box() {
        // Both extra rows miss the box; x + y <= 2 touches its corner, so only an LP
        // (or a ray) can tell.
        let rows: [(&[f64], f64); 3] = [(&[1.0, 1.0], 2.5), (&[1.0, -1.0], 1.5), (&[1.0, 1.0], 2.0)];
        let p = with_rows(unit_cube(2), &rows);
        let (lo, hi) = (Array1::zeros(2), Array1::ones(2));
        let report = facets(&p, array![0.5, 0.5].view(), Some((lo.view(), hi.view())), "box").unwrap();
        assert_eq!(facet_rows(&report), vec![0, 1, 2, 3]);
        assert_eq!(report.stats.lps_solved, 1);
        assert_eq!(report.stats.lps_skipped, 6);
    }

    #[test]
    fn facets_screen_many_rows_by_facet_box() {
        // P = [0, 0.1]^2 inside the box [0, 1]^2; 20 rows at distance 0.5 from the
        // origin cross the box but miss P: 4 box LPs decide all of them.
        let mut p = unit_cube(2);
        p.b.mapv_inplace(|v| 0.1 * v);
        for k in 0..20 {
            let angle = std::f64::consts::FRAC_PI_2 * (k as f64 + 0.5) / 20.0;
            p = with_rows(p, &[(&[angle.cos(), angle.sin()], 0.5)]);
        }
        let (lo, hi) = (Array1::zeros(2), Array1::ones(2));
        let bbox = Some((lo.view(), hi.view()));
        let z = array![0.05, 0.05];
        let report = facets_with(&p, z.view(), bbox, Steps::NoVertices, "many").unwrap();
        assert_eq!(facet_rows(&report), vec![0, 1, 2, 3]);
        assert_eq!((report.stats.lps_solved, report.stats.lps_skipped), (4, 24));
        // The square's four vertices decide every row without an LP.
        let report = facets(&p, z.view(), bbox, "many").unwrap();
        assert_eq!(facet_rows(&report), vec![0, 1, 2, 3]);
        assert_eq!((report.stats.lps_solved, report.stats.lps_skipped), (0, 24));
    }

    #[test]
    fn facets_report_rows_redundant_only_within_the_tolerance() {
        // The square [0, 1]^2 without the corner x + y < 1e-9: that cut's
        // edge is 1.4e-9 long, so its LP passes the bound by 0.7e-9, within
        // the tolerance: nearly redundant, not a facet; x + y <= 2 touches
        // the corner (1, 1) only and is plainly redundant.
        let p = crate::test_support::square_without_corner(1e-9);
        let report = run(&p, &array![0.5, 0.5]);
        assert_eq!(facet_rows(&report), vec![0, 1, 3, 4]);
        assert_eq!(report.near, vec![2]);
    }

    #[test]
    fn facets_report_shape_errors() {
        let p = unit_cube(2);
        assert!(matches!(
            facets(&p, array![0.5].view(), None, "bad"),
            Err(Error::Shape { .. })
        ));
    }

    /// Row `i` is a facet by the definition, one full LP per row.
    fn reference_facets(p: &Polytope) -> Vec<(usize, f64)> {
        let norms: Vec<f64> = p.a.rows().into_iter().map(|r| r.dot(&r).sqrt()).collect();
        (0..p.len())
            .map(|i| {
                let mut b = &p.b / &Array1::from(norms.clone());
                let u = Array2::from_shape_fn(p.a.dim(), |(k, j)| p.a[[k, j]] / norms[k]);
                b[i] += 1.0;
                let outcome = LpProblem::new(u.row(i), u.view(), b.view()).solve("ref").unwrap();
                let LpOutcome::Optimal { value, .. } = outcome else {
                    panic!("{outcome:?}")
                };
                (i, value - (b[i] - 1.0))
            })
            .collect()
    }

    #[test]
    fn facets_agree_with_one_lp_per_row() {
        let mut rng = StdRng::seed_from_u64(11);
        let (mut by_lps, mut by_vertices) = (LpStats::default(), LpStats::default());
        for trial in 0..30 {
            let d = 2 + trial % 4;
            let mut p = unit_cube(d);
            p.b.mapv_inplace(|v| 2.0 * v); // the box [0, 2]^d around z = 1
            for _ in 0..(5 + 3 * trial) {
                let row: Vec<f64> = (0..d).map(|_| rng.random_range(-1.0..1.0)).collect();
                let centre_value: f64 = row.iter().sum();
                let rhs = centre_value + rng.random_range(0.05..1.5);
                p = with_rows(p, &[(&row, rhs)]);
            }
            let reference = reference_facets(&p);
            for (steps, total) in [(Steps::NoVertices, &mut by_lps), (Steps::All, &mut by_vertices)] {
                let report = run_with(&p, &Array1::ones(d), steps);
                *total += report.stats;
                let found = facet_rows(&report);
                for &(i, excess) in &reference {
                    if excess.abs() > 1e-6 {
                        assert_eq!(
                            found.contains(&i),
                            excess > 0.0,
                            "trial {trial} row {i} {steps:?}"
                        );
                    }
                }
            }
        }
        // Both the cheap tests and the warm LPs took part; the vertex walk
        // (random rows are in general position) left nothing to the LPs.
        assert!(by_lps.lps_skipped > 0 && by_lps.lps_solved > 0 && by_lps.warm_resolves > 0);
        assert_eq!(by_vertices.lps_solved, 0);
    }
}
