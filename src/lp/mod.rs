//! Linear programs behind region enumeration: a small facade over the solver.
//!
//! Every LP the crate solves has the form
//!
//! ```text
//! maximise c . x   subject to   a x <= b,   x free,
//! ```
//!
//! described by [`LpProblem`] and answered by [`LpOutcome`]. An infeasible or
//! unbounded program is an answer (an empty cell, an unbounded direction);
//! `Err(Error::Lp { .. })` means the solver itself failed, after a retry with
//! rows scaled to unit norm.
//!
//! - [`microlp`]: the only file that names solver types; it also
//!   holds [`WarmLp`], which adds rows to a solved program and re-solves from
//!   the previous basis.
//! - [`chebyshev`]: the Chebyshev centre and radius of a polytope; [`ball`]
//!   finds them without a solver from a point inside a small bounded one.
//! - [`redundancy`]: the facets (non-redundant rows) of a
//!   polytope; [`screen`] holds the cheap tests that decide most
//!   rows without an LP, and [`vertices`] decides the rows of a simple
//!   polytope from its vertices, found by walking a few of its rows
//!   ([`vertex_screen`]).

mod ball;
mod chebyshev;
mod microlp;
mod redundancy;
mod screen;
mod vertex_screen;
mod vertex_step;
mod vertices;

pub(crate) use ball::chebyshev_ball_inside;
pub(crate) use chebyshev::{chebyshev_ball, chebyshev_ball_in_box};
pub(crate) use microlp::WarmLp;
pub(crate) use redundancy::facets;

use ndarray::{ArrayView1, ArrayView2};

use crate::{Error, Result};

/// A linear program `max c . x` subject to `a x <= b`, with free variables.
///
/// # Invariants
///
/// `c.len() == a.ncols()` and `a.nrows() == b.len()`; [`LpProblem::solve`]
/// checks both and reports a mismatch as [`Error::Shape`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct LpProblem<'a> {
    /// Objective coefficients, one per variable.
    pub c: ArrayView1<'a, f64>,
    /// Constraint rows.
    pub a: ArrayView2<'a, f64>,
    /// Right-hand sides.
    pub b: ArrayView1<'a, f64>,
}

/// What an LP solve found: an answer, never a solver failure.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum LpOutcome {
    /// An optimal point and its objective value `c . x`.
    Optimal {
        /// The maximiser.
        x: Vec<f64>,
        /// The objective value at `x`.
        value: f64,
    },
    /// No point satisfies the constraints.
    Infeasible,
    /// The objective grows without bound on the feasible set.
    Unbounded,
}

/// Counters of the LPs behind one computation (facets of a region, a walk).
///
/// # Invariants
///
/// For a facet computation, every row is decided either by its own LP (counted
/// in `lps_solved`, with any auxiliary LPs) or by a cheap test (`lps_skipped`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct LpStats {
    /// LPs solved from scratch.
    pub lps_solved: usize,
    /// Questions (rows) decided by a cheap test instead of an LP.
    pub lps_skipped: usize,
    /// Warm re-solves after adding a row to a solved LP (not counted in `lps_solved`).
    pub warm_resolves: usize,
}

impl std::ops::AddAssign for LpStats {
    fn add_assign(&mut self, other: LpStats) {
        self.lps_solved += other.lps_solved;
        self.lps_skipped += other.lps_skipped;
        self.warm_resolves += other.warm_resolves;
    }
}

impl<'a> LpProblem<'a> {
    /// The program `max c . x` subject to `a x <= b`.
    pub fn new(c: ArrayView1<'a, f64>, a: ArrayView2<'a, f64>, b: ArrayView1<'a, f64>) -> Self {
        LpProblem { c, a, b }
    }

    /// Solves the program; `context` names it in errors (for example a region's pattern).
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when the arrays disagree, [`Error::Lp`] when the solver
    /// fails on the program as given and again with its rows scaled to unit norm.
    pub fn solve(&self, context: &str) -> Result<LpOutcome> {
        self.check_shapes(context)?;
        microlp::maximize(self, context)
    }

    /// Checks that `c`, `a` and `b` agree in size.
    fn check_shapes(&self, context: &str) -> Result<()> {
        if self.a.ncols() != self.c.len() {
            return Err(Error::shape(
                format!("LP matrix columns ({context})"),
                self.c.len(),
                self.a.ncols(),
            ));
        }
        if self.a.nrows() != self.b.len() {
            return Err(Error::shape(
                format!("LP right-hand side ({context})"),
                self.a.nrows(),
                self.b.len(),
            ));
        }
        Ok(())
    }
}
