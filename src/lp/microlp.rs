//! The `microlp` back end: the only file that names solver types.
//!
//! Programs go straight to `microlp` (good_lp would only add a layer: every
//! program here is `max c . x` over free variables and `<=` rows). Each free
//! variable is split as `x_j = x_j+ - x_j-` with both parts non-negative:
//! microlp 0.6.0 cycles forever when a free variable is non-basic with a zero
//! reduced cost (for example `max x` subject to `x <= 1, y <= 2, x + y <= 2.5`
//! with `y` free), which every LP with an unbounded optimal face reaches. A solve that
//! fails (a solver error, a panic inside the solver, or an "optimal" point that
//! violates a row by more than [`TOL_LP_RESIDUAL`]) is retried once with every
//! row scaled to unit norm; a second failure becomes [`Error::Lp`].
//!
//! The solver can also cycle where no split helps (a warm re-solve of a cell
//! whose rows span eight orders of magnitude, found by fuzzing), so every
//! solver call runs under a deadline of [`MAX_SOLVE_TIME`]: a call that
//! reaches it counts as a failed attempt, and a hung LP becomes an error
//! instead of a hung enumeration.

use std::panic::{catch_unwind, AssertUnwindSafe};

use microlp::{ComparisonOp, OptimizationDirection, Problem, Solution, SolveOutcome, Variable};
use ndarray::{Array1, Array2, ArrayView1};

use super::{LpOutcome, LpProblem};
use crate::tol::TOL_LP_RESIDUAL;
use crate::{Error, Result};

/// The longest one solver call may run (fresh solves take about a
/// millisecond at 20 variables and 200 rows, so only a cycling solver gets
/// near it).
pub(crate) const MAX_SOLVE_TIME: std::time::Duration = std::time::Duration::from_secs(5);

/// How rows are scaled before they reach the solver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scaling {
    AsGiven,
    UnitRows,
}

/// A row ready for the solver, or what a row without coefficients says.
enum ScaledRow {
    /// `0 <= rhs` with `rhs >= 0`: always true.
    Trivial,
    /// `0 <= rhs` with `rhs < 0`: never true.
    Impossible,
    /// The nonzero terms and the right-hand side.
    Row(Vec<(Variable, f64)>, f64),
}

/// What one solver call returned, before it is checked.
enum Raw {
    Solved(Solution),
    Infeasible,
    Unbounded,
}

/// The solver's columns: the non-negative parts `(x_j+, x_j-)` of each variable.
struct Columns(Vec<(Variable, Variable)>);

impl Columns {
    /// Adds the columns of `max c . x` to `lp`.
    fn add_to(lp: &mut Problem, c: ArrayView1<'_, f64>) -> Columns {
        let nonnegative = (0.0, f64::INFINITY);
        Columns(
            c.iter()
                .map(|&cj| (lp.add_var(cj, nonnegative), lp.add_var(-cj, nonnegative)))
                .collect(),
        )
    }

    /// The solver's terms of `scale * row . x`, skipping zero coefficients.
    fn terms(&self, row: ArrayView1<'_, f64>, scale: f64) -> Vec<(Variable, f64)> {
        let mut terms = Vec::with_capacity(2 * row.len());
        for (&(plus, minus), &v) in self.0.iter().zip(row) {
            if v != 0.0 {
                terms.push((plus, v * scale));
                terms.push((minus, -v * scale));
            }
        }
        terms
    }

    /// The point `x` of a solution.
    fn point(&self, solution: &Solution) -> Vec<f64> {
        self.0
            .iter()
            .map(|&(plus, minus)| solution.var_value_raw(plus) - solution.var_value_raw(minus))
            .collect()
    }
}

/// A solved program that can take more rows: the solver state and its columns.
struct Basis {
    solution: Solution,
    columns: Columns,
    scaling: Scaling,
}

/// A solve attempt: the outcome and, when optimal, the basis to extend; `Err`
/// holds the solver's complaint.
type Attempt = std::result::Result<(LpOutcome, Option<Basis>), String>;

/// Solves `problem`, retrying with unit rows when the solver fails.
pub(super) fn maximize(problem: &LpProblem<'_>, context: &str) -> Result<LpOutcome> {
    solve_with_retry(problem, context).map(|(outcome, _)| outcome)
}

/// A program that grows one row at a time, each re-solve starting from the
/// previous optimal basis.
///
/// # Semantics
///
/// Holds `max c . x` subject to the rows given so far and the outcome of the
/// latest solve. [`WarmLp::add_row`] hands the new row to the solved `microlp`
/// solution, which re-solves with the dual simplex (about 5x faster than a fresh
/// solve on the programs of region enumeration); when that fails, the whole
/// program is solved afresh under the usual retry policy.
///
/// # Invariants
///
/// `outcome()` is the answer for exactly the rows added so far; the shapes of
/// `c`, `a` and `b` agree.
pub(crate) struct WarmLp {
    c: Array1<f64>,
    a: Array2<f64>,
    b: Vec<f64>,
    context: String,
    basis: Option<Basis>,
    outcome: LpOutcome,
}

impl WarmLp {
    /// Solves `problem` and keeps its basis for later rows.
    ///
    /// # Errors
    ///
    /// As [`LpProblem::solve`].
    pub(crate) fn new(problem: &LpProblem<'_>, context: &str) -> Result<WarmLp> {
        problem.check_shapes(context)?;
        let (outcome, basis) = solve_with_retry(problem, context)?;
        Ok(WarmLp {
            c: problem.c.to_owned(),
            a: problem.a.to_owned(),
            b: problem.b.to_vec(),
            context: context.to_owned(),
            basis,
            outcome,
        })
    }

    /// The answer for the rows given so far.
    pub(crate) fn outcome(&self) -> &LpOutcome {
        &self.outcome
    }

    /// Adds the row `row . x <= rhs` and re-solves.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when `row` has the wrong length; [`Error::Lp`] when the
    /// warm re-solve and both fresh attempts fail.
    pub(crate) fn add_row(&mut self, row: ArrayView1<'_, f64>, rhs: f64) -> Result<&LpOutcome> {
        if row.len() != self.c.len() {
            return Err(Error::shape(
                format!("added LP row ({})", self.context),
                self.c.len(),
                row.len(),
            ));
        }
        self.a
            .push_row(row)
            .map_err(|e| Error::shape(format!("added LP row ({})", self.context), self.c.len(), e))?;
        self.b.push(rhs);
        if self.outcome == LpOutcome::Infeasible {
            return Ok(&self.outcome);
        }
        let warm = self
            .basis
            .take()
            .and_then(|basis| self.resolve_warm(basis, row, rhs).ok());
        let (outcome, basis) = match warm {
            Some(found) => found,
            None => solve_with_retry(&self.problem(), &self.context)?,
        };
        self.outcome = outcome;
        self.basis = basis;
        Ok(&self.outcome)
    }

    /// The program with every row added so far.
    fn problem(&self) -> LpProblem<'_> {
        LpProblem::new(self.c.view(), self.a.view(), ArrayView1::from(&self.b[..]))
    }

    /// Gives the new row to the solved basis and checks the re-solved point
    /// against every row.
    fn resolve_warm(&self, basis: Basis, row: ArrayView1<'_, f64>, rhs: f64) -> Attempt {
        match scaled_row(&basis.columns, row, rhs, basis.scaling) {
            ScaledRow::Trivial => Ok((self.outcome.clone(), Some(basis))),
            ScaledRow::Impossible => Ok((LpOutcome::Infeasible, None)),
            ScaledRow::Row(terms, rhs) => {
                reject_non_finite(terms.iter().map(|(_, v)| v).chain([&rhs]))?;
                let Basis {
                    solution,
                    columns,
                    scaling,
                } = basis;
                let raw = guarded(|| solution.add_constraint(terms, ComparisonOp::Le, rhs))?;
                finish(&self.problem(), raw, columns, scaling)
            }
        }
    }
}

/// Solves `problem` as given and, if the solver fails, with unit rows.
fn solve_with_retry(problem: &LpProblem<'_>, context: &str) -> Result<(LpOutcome, Option<Basis>)> {
    attempt(problem, Scaling::AsGiven).or_else(|first| {
        attempt(problem, Scaling::UnitRows).map_err(|second| Error::Lp {
            context: context.to_owned(),
            reason: format!("{first}; again with unit rows: {second}"),
        })
    })
}

/// One fresh solve of `problem` with its rows scaled as `scaling` says.
fn attempt(problem: &LpProblem<'_>, scaling: Scaling) -> Attempt {
    reject_non_finite(problem.c.iter().chain(problem.a).chain(problem.b))?;
    let mut lp = Problem::new(OptimizationDirection::Maximize);
    // Warm re-solves of this solution inherit the deadline.
    lp.set_time_limit(MAX_SOLVE_TIME);
    let columns = Columns::add_to(&mut lp, problem.c);
    for (row, &rhs) in problem.a.rows().into_iter().zip(problem.b) {
        match scaled_row(&columns, row, rhs, scaling) {
            ScaledRow::Trivial => {}
            ScaledRow::Impossible => return Ok((LpOutcome::Infeasible, None)),
            ScaledRow::Row(terms, rhs) => lp.add_constraint(terms, ComparisonOp::Le, rhs),
        }
    }
    let raw = guarded(|| lp.solve())?;
    finish(problem, raw, columns, scaling)
}

/// A complaint about the first NaN or infinity among `values`: microlp
/// asserts (panics) on them deep inside its pivoting, so they never reach it.
fn reject_non_finite<'a>(values: impl IntoIterator<Item = &'a f64>) -> std::result::Result<(), String> {
    match values.into_iter().find(|v| !v.is_finite()) {
        Some(v) => Err(format!("non-finite coefficient {v} in the program")),
        None => Ok(()),
    }
}

/// The Euclidean norm of `row`, without overflow or underflow for entries
/// near the ends of the `f64` range.
fn row_norm(row: ArrayView1<'_, f64>) -> f64 {
    let largest = row.iter().fold(0.0, |m: f64, v| m.max(v.abs()));
    if largest == 0.0 || !largest.is_finite() {
        return largest;
    }
    largest * row.iter().map(|v| (v / largest).powi(2)).sum::<f64>().sqrt()
}

/// The solver's terms for one row; rows without any coefficient never reach it
/// (an empty row is decided here, exactly).
fn scaled_row(columns: &Columns, row: ArrayView1<'_, f64>, rhs: f64, scaling: Scaling) -> ScaledRow {
    let norm = row_norm(row);
    if norm == 0.0 {
        return if rhs >= 0.0 {
            ScaledRow::Trivial
        } else {
            ScaledRow::Impossible
        };
    }
    let scale = match scaling {
        Scaling::AsGiven => 1.0,
        Scaling::UnitRows => 1.0 / norm,
    };
    ScaledRow::Row(columns.terms(row, scale), rhs * scale)
}

/// Runs a solver call, turning its errors and panics into complaints; infeasible
/// and unbounded programs are answers, not complaints.
fn guarded(
    call: impl FnOnce() -> std::result::Result<SolveOutcome, microlp::Error>,
) -> std::result::Result<Raw, String> {
    match catch_unwind(AssertUnwindSafe(call)) {
        Err(panic) => Err(format!("solver panicked: {}", panic_text(panic.as_ref()))),
        Ok(Err(microlp::Error::Infeasible)) => Ok(Raw::Infeasible),
        Ok(Err(microlp::Error::Unbounded)) => Ok(Raw::Unbounded),
        Ok(Err(other)) => Err(other.to_string()),
        Ok(Ok(outcome)) => outcome
            .into_solution()
            .map(Raw::Solved)
            .map_err(|stopped| format!("solver stopped early: {:?}", stopped.termination_reason())),
    }
}

/// The message of a caught panic.
fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "unknown panic".to_owned()
    }
}

/// Reads the point of a solved program and checks it against `problem`.
fn finish(problem: &LpProblem<'_>, raw: Raw, columns: Columns, scaling: Scaling) -> Attempt {
    match raw {
        Raw::Infeasible => Ok((LpOutcome::Infeasible, None)),
        Raw::Unbounded => Ok((LpOutcome::Unbounded, None)),
        Raw::Solved(solution) => {
            let x = columns.point(&solution);
            check_residual(problem, &x)?;
            let value = problem.c.dot(&ArrayView1::from(&x[..]));
            let basis = Basis {
                solution,
                columns,
                scaling,
            };
            Ok((LpOutcome::Optimal { x, value }, Some(basis)))
        }
    }
}

/// Rejects a point that is not finite or violates a row by more than
/// [`TOL_LP_RESIDUAL`] times the magnitude of that row's terms.
fn check_residual(problem: &LpProblem<'_>, x: &[f64]) -> std::result::Result<(), String> {
    if let Some(j) = x.iter().position(|v| !v.is_finite()) {
        return Err(format!("solver returned a non-finite coordinate {j}"));
    }
    for (i, (row, &rhs)) in problem.a.rows().into_iter().zip(problem.b).enumerate() {
        let (mut lhs, mut magnitude) = (0.0, rhs.abs());
        for (&aij, &xj) in row.iter().zip(x) {
            lhs += aij * xj;
            magnitude += (aij * xj).abs() + aij.abs();
        }
        if lhs - rhs > TOL_LP_RESIDUAL * magnitude {
            return Err(format!("solver point violates row {i} by {:e}", lhs - rhs));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use ndarray::{array, Array1, Array2};
    use rand::{rngs::StdRng, Rng, SeedableRng};

    use super::*;

    fn solve(c: &Array1<f64>, a: &Array2<f64>, b: &Array1<f64>) -> LpOutcome {
        LpProblem::new(c.view(), a.view(), b.view())
            .solve("test")
            .unwrap()
    }

    fn optimal_value(outcome: &LpOutcome) -> f64 {
        match outcome {
            LpOutcome::Optimal { value, .. } => *value,
            other => panic!("expected an optimum, got {other:?}"),
        }
    }

    #[test]
    fn maximize_finds_vertex_optimum() {
        // max x + y on x <= 1, y <= 2, x + y <= 2.5: the value is 2.5.
        let a = array![[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]];
        let outcome = solve(&array![1.0, 1.0], &a, &array![1.0, 2.0, 2.5]);
        assert!((optimal_value(&outcome) - 2.5).abs() < 1e-12);
    }

    #[test]
    fn maximize_handles_unbounded_optimal_face() {
        // The optimum x = 1 is attained on a ray (y -> -inf): microlp 0.6.0 cycles
        // on this program when y is passed as a free variable.
        let a = array![[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]];
        let outcome = solve(&array![1.0, 0.0], &a, &array![1.0, 2.0, 2.5]);
        let LpOutcome::Optimal { x, value } = outcome else {
            panic!("{outcome:?}")
        };
        assert!((value - 1.0).abs() < 1e-12 && (x[0] - 1.0).abs() < 1e-12 && x[1] <= 1.5 + 1e-12);
    }

    #[test]
    fn maximize_reports_infeasible_and_unbounded() {
        let a = array![[1.0, 0.0], [-1.0, 0.0]];
        assert_eq!(
            solve(&array![0.0, 1.0], &a, &array![0.0, -1.0]),
            LpOutcome::Infeasible
        );
        let a = array![[0.0, 1.0]];
        assert_eq!(solve(&array![1.0, 0.0], &a, &array![1.0]), LpOutcome::Unbounded);
    }

    #[test]
    fn maximize_decides_empty_rows_exactly() {
        let a = array![[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]];
        let c = array![1.0, 1.0];
        assert_eq!(solve(&c, &a, &array![-1.0, 1.0, 1.0]), LpOutcome::Infeasible);
        assert!((optimal_value(&solve(&c, &a, &array![0.0, 1.0, 1.0])) - 2.0).abs() < 1e-12);
    }

    #[test]
    fn maximize_rejects_shape_mismatch() {
        let a = array![[1.0, 0.0]];
        let err = LpProblem::new(array![1.0].view(), a.view(), array![1.0].view()).solve("ctx");
        assert!(matches!(err, Err(Error::Shape { .. })));
    }

    #[test]
    fn maximize_handles_badly_scaled_rows() {
        // The cube [-1, 1]^3 with rows scaled by wildly different factors.
        let scales = [1e-6, 1e6, 3.0];
        let mut a = Array2::zeros((6, 3));
        let mut b = Array1::zeros(6);
        for j in 0..3 {
            a[[2 * j, j]] = scales[j];
            a[[2 * j + 1, j]] = -scales[j];
            b[2 * j] = scales[j];
            b[2 * j + 1] = scales[j];
        }
        let outcome = solve(&array![1.0, 2.0, -3.0], &a, &b);
        assert!((optimal_value(&outcome) - 6.0).abs() < 1e-9);
    }

    #[test]
    fn non_finite_programs_are_errors_not_panics() {
        let a = array![[1.0, 0.0], [0.0, 1.0]];
        for (c, b) in [
            (array![f64::NAN, 1.0], array![1.0, 1.0]),
            (array![1.0, 1.0], array![f64::INFINITY, 1.0]),
        ] {
            let err = LpProblem::new(c.view(), a.view(), b.view()).solve("nan");
            assert!(matches!(err, Err(Error::Lp { .. })), "{err:?}");
        }
        let c = array![1.0, 1.0];
        let b = array![1.0, 1.0];
        let mut warm = WarmLp::new(&LpProblem::new(c.view(), a.view(), b.view()), "w").unwrap();
        let err = warm.add_row(array![f64::INFINITY, 1.0].view(), 1.0);
        assert!(matches!(err, Err(Error::Lp { .. })), "{err:?}");
    }

    #[test]
    fn unit_rows_survive_entries_whose_squares_overflow() {
        // Rows of norm ~1e200 and ~1e-200 describe the square [-1, 1]^2.
        let a = array![[1e200, 0.0], [-1e200, 0.0], [0.0, 1e-200], [0.0, -1e-200]];
        let b = array![1e200, 1e200, 1e-200, 1e-200];
        assert!((row_norm(a.row(0)) - 1e200).abs() <= 1e186);
        assert!((row_norm(a.row(2)) - 1e-200).abs() <= 1e-214);
        let outcome = solve(&array![1.0, 1.0], &a, &b);
        assert!((optimal_value(&outcome) - 2.0).abs() < 1e-9);
    }

    #[test]
    fn warm_rows_agree_with_fresh_solves() {
        let mut rng = StdRng::seed_from_u64(7);
        let d = 5;
        let mut a = Array2::zeros((2 * d, d));
        for j in 0..d {
            a[[2 * j, j]] = 1.0;
            a[[2 * j + 1, j]] = -1.0;
        }
        let b = Array1::from_elem(2 * d, 1.0);
        let c: Array1<f64> = (0..d).map(|_| rng.random_range(-1.0..1.0)).collect();
        let mut warm = WarmLp::new(&LpProblem::new(c.view(), a.view(), b.view()), "warm").unwrap();
        let (mut a, mut b) = (a, b.to_vec());
        for _ in 0..20 {
            let row: Array1<f64> = (0..d).map(|_| rng.random_range(-1.0..1.0)).collect();
            let rhs = rng.random_range(0.1..1.0);
            let warm_value = optimal_value(warm.add_row(row.view(), rhs).unwrap());
            a.push_row(row.view()).unwrap();
            b.push(rhs);
            let fresh = solve(&c, &a, &Array1::from(b.clone()));
            assert!((warm_value - optimal_value(&fresh)).abs() < 1e-9);
        }
    }

    #[test]
    fn warm_rows_detect_infeasibility_and_recover_from_unbounded() {
        // max x with no rows is unbounded; x <= 3 makes it bounded; x >= 4 empties it.
        let a = Array2::zeros((0, 1));
        let b = Array1::zeros(0);
        let c = array![1.0];
        let mut warm = WarmLp::new(&LpProblem::new(c.view(), a.view(), b.view()), "w").unwrap();
        assert_eq!(warm.outcome(), &LpOutcome::Unbounded);
        assert!((optimal_value(warm.add_row(array![1.0].view(), 3.0).unwrap()) - 3.0).abs() < 1e-12);
        assert_eq!(
            warm.add_row(array![-1.0].view(), -4.0).unwrap(),
            &LpOutcome::Infeasible
        );
        assert_eq!(
            warm.add_row(array![1.0].view(), 9.0).unwrap(),
            &LpOutcome::Infeasible
        );
        assert!(matches!(
            warm.add_row(array![1.0, 2.0].view(), 1.0),
            Err(Error::Shape { .. })
        ));
    }
}
