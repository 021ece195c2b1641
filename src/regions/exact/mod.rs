//! Full-dimensional activation regions decided in exact rational arithmetic.
//!
//! The floating-point methods of [`super::enumerate`] decide signs against
//! tolerances: a cell thinner than [`super::EnumOptions::tol_radius`] is
//! rejected (and reported, see [`super::ThinCell`]), and a hyperplane within
//! [`crate::tol::TOL_SIGN_REL`] of a vertex is taken to pass through it, so a
//! sliver narrower than that never appears at all. This module settles every
//! such case without rounding:
//!
//! - [`is_full_dimensional`] decides whether one pattern's set has an
//!   interior (for example a reported thin cell);
//! - [`enumerate_exact`] lists every full-dimensional region, whatever its
//!   width, by splitting the domain unit by unit in any dimension.
//!
//! The weights, biases and the domain's rows and embedding are taken as the
//! exact rationals their `f64` values are (an affine layer's matrix is its
//! response to the unit vectors, which is exactly its weights); every
//! comparison is then exact, so nothing is left undecided. Each decision is
//! a small linear program over the rationals (largest `t` with
//! `f_i(y) + t <= 0` for every constraint `f_i`, a set having an interior
//! when `t > 0`), solved by a fraction-free simplex (integer pivots with
//! exact division, no rational normalised), which still costs far more
//! than a floating-point one: these functions are meant for small networks,
//! for checking and for settling thin cells, not for large enumerations.
//!
//! # Semantics
//!
//! A pattern's set is `{y in D : pattern(x(y)) = p}` (a two-piece unit is on
//! piece 1 where its pre-activation is `> 0`; a max unit picks the first of
//! its largest candidates), a convex polytope with strict and non-strict
//! inequalities; it is full-dimensional when it has an interior point. A
//! unit whose pre-activation is constant on a cell does not split it: its
//! piece is the one the constant selects, so a dead unit and a candidate
//! that ties a lower one everywhere never make an extra region.

mod program;
mod simplex;

use ndarray::Array1;
use num_traits::{Signed, ToPrimitive, Zero};

use program::{activate, choices, conditions, exact_steps, rational, Aff, ExactStep};
use simplex::{maximize, Exact, Q};

use crate::{Domain, Error, Network, Pattern, Polytope, Result};

/// A full-dimensional region found by [`enumerate_exact`].
#[derive(Clone, Debug, PartialEq)]
pub struct ExactRegion {
    pattern: Pattern,
    witness: Array1<f64>,
}

impl ExactRegion {
    /// The activation pattern.
    pub fn pattern(&self) -> &Pattern {
        &self.pattern
    }

    /// An interior point of the region in domain coordinates (an exact
    /// interior point rounded to `f64`: for a region narrower than the
    /// rounding of its coordinates the rounded point may fall just outside).
    pub fn witness(&self) -> &Array1<f64> {
        &self.witness
    }
}

/// A cell of the exact splitting: its constraints (`f <= 0`), an exact
/// interior point, the pattern so far and the values of the current step
/// (and of saved skip paths) as exact affine functions.
#[derive(Clone)]
struct Piece {
    rows: Vec<Aff>,
    witness: Vec<Q>,
    pattern: Vec<u8>,
    values: Vec<Aff>,
    skips: Vec<Vec<Aff>>,
}

/// Every full-dimensional region of `net` inside `domain`, decided in exact
/// arithmetic, sorted by pattern.
///
/// # Errors
///
/// [`Error::Shape`] when the domain lives in another input space;
/// [`Error::Invalid`] for an invalid domain or one without interior;
/// [`Error::Budget`] when more than `max_regions` cells appear.
///
/// # Examples
///
/// ```
/// use cpwl::regions::exact::enumerate_exact;
/// use cpwl::{Domain, Network};
/// use ndarray::array;
/// // Two parallel lines 1e-14 apart: three regions, one of them a sliver no
/// // floating-point sign test can see.
/// let net = Network::builder(2)
///     .dense(array![[1.0, 0.0], [1.0, 0.0]], array![0.0, -1e-14])?
///     .relu()
///     .build()?;
/// let regions = enumerate_exact(&net, &Domain::cube(2, -1.0, 1.0), 100)?;
/// let patterns: Vec<String> = regions.iter().map(|r| r.pattern().to_string()).collect();
/// assert_eq!(patterns, ["00", "10", "11"]);
/// # Ok::<(), cpwl::Error>(())
/// ```
pub fn enumerate_exact(net: &Network, domain: &Domain, max_regions: usize) -> Result<Vec<ExactRegion>> {
    let (steps, rows, values) = setup(net, domain)?;
    let dim = domain.dim();
    let witness = interior(&rows, dim)?.ok_or_else(|| Error::invalid("domain", "no interior"))?;
    let mut pieces = vec![Piece {
        rows,
        witness,
        pattern: vec![0; net.unit_count()],
        values,
        skips: Vec::new(),
    }];
    for step in &steps {
        let Some((offset, units)) = units_of(step) else {
            pieces
                .iter_mut()
                .for_each(|p| carry(step, &mut p.values, &mut p.skips));
            continue;
        };
        for j in 0..units {
            let mut next = Vec::with_capacity(pieces.len());
            for piece in pieces {
                split(step, piece, j, offset + j, dim, &mut next)?;
            }
            if next.len() > max_regions {
                return Err(Error::Budget {
                    limit: format!("max_regions = {max_regions} (exact enumeration)"),
                });
            }
            pieces = next;
        }
        for p in &mut pieces {
            let values = std::mem::take(&mut p.values);
            p.values = activate(step, values, &p.pattern[offset..offset + units]);
        }
    }
    let mut regions: Vec<ExactRegion> = pieces
        .into_iter()
        .map(|p| ExactRegion {
            pattern: Pattern::from_checked(&p.pattern),
            witness: p.witness.iter().map(to_f64).collect(),
        })
        .collect();
    regions.sort_by(|a, b| a.pattern.cmp(&b.pattern));
    Ok(regions)
}

/// True when the set of `pattern` inside `domain` has an interior point,
/// decided in exact arithmetic: the way to settle a [`super::ThinCell`].
///
/// # Errors
///
/// [`Error::Invalid`] for a pattern that does not fit the network or an
/// invalid domain; [`Error::Shape`] when the domain lives in another input
/// space.
///
/// # Examples
///
/// ```
/// use cpwl::regions::exact::is_full_dimensional;
/// use cpwl::{Domain, Network};
/// use ndarray::array;
/// let net = Network::builder(2)
///     .dense(array![[1.0, 0.0], [1.0, 0.0]], array![0.0, -1e-14])?
///     .relu()
///     .build()?;
/// let square = Domain::cube(2, -1.0, 1.0);
/// assert!(is_full_dimensional(&net, &square, &"10".parse()?)?);
/// // x > 1e-14 and x <= 0 never hold together.
/// assert!(!is_full_dimensional(&net, &square, &"01".parse()?)?);
/// # Ok::<(), cpwl::Error>(())
/// ```
pub fn is_full_dimensional(net: &Network, domain: &Domain, pattern: &Pattern) -> Result<bool> {
    ExactNet::new(net, domain)?.full_dimensional(net, pattern)
}

/// A network and a domain in exact arithmetic, converted once so that many
/// patterns can be settled (the LP walk's thin and flat cells).
pub(crate) struct ExactNet {
    steps: Vec<ExactStep>,
    rows: Vec<Aff>,
    values: Vec<Aff>,
    dim: usize,
}

impl ExactNet {
    /// Converts the network's steps, the domain's rows and its embedding.
    ///
    /// # Errors
    ///
    /// As [`is_full_dimensional`].
    pub(crate) fn new(net: &Network, domain: &Domain) -> Result<ExactNet> {
        let (steps, rows, values) = setup(net, domain)?;
        Ok(ExactNet {
            steps,
            rows,
            values,
            dim: domain.dim(),
        })
    }

    /// [`is_full_dimensional`] for the network and domain given to
    /// [`ExactNet::new`] (`net` is that network, to check the pattern).
    pub(crate) fn full_dimensional(&self, net: &Network, pattern: &Pattern) -> Result<bool> {
        let choices = net.check_pattern(pattern)?;
        let mut rows = self.rows.clone();
        let mut values = self.values.clone();
        let mut skips = Vec::new();
        for step in &self.steps {
            let Some((offset, units)) = units_of(step) else {
                carry(step, &mut values, &mut skips);
                continue;
            };
            let mine = &choices[offset..offset + units];
            for (j, &c) in mine.iter().enumerate() {
                match conditions(step, &values, j, c) {
                    Some(extra) => rows.extend(extra),
                    None => return Ok(false),
                }
            }
            values = activate(step, values, mine);
        }
        Ok(interior(&rows, self.dim)?.is_some())
    }
}

/// True when row `i` of `p` (its `f64` entries taken as the exact rationals
/// they are) bounds `p` in a facet: with that row relaxed, `a_i . y` exceeds
/// `b_i` somewhere in the other rows. Decides the rows whose facet is shorter
/// than the floating-point LP tolerance (`lp::facets` reports them as near
/// redundant). Meant for a `p` with an interior (a region): for an empty
/// one the answer says nothing.
///
/// # Errors
///
/// [`Error::Invalid`] for a non-finite entry; [`Error::Lp`] when the capped
/// program is unbounded (it cannot be).
pub(crate) fn row_is_facet(p: &Polytope, i: usize) -> Result<bool> {
    let row =
        |k: usize| -> Result<Vec<Q>> { p.a.row(k).iter().map(|&v| rational(v, "polytope row")).collect() };
    let mut a = Vec::with_capacity(p.len());
    let mut b = Vec::with_capacity(p.len());
    for k in (0..p.len()).filter(|&k| k != i) {
        a.push(row(k)?);
        b.push(rational(p.b[k], "polytope bound")?);
    }
    let c = row(i)?;
    let bound = rational(p.b[i], "polytope bound")?;
    a.push(c.clone());
    b.push(bound.clone() + Q::from_integer(1.into()));
    match maximize(&c, &a, &b) {
        Exact::Optimal(x) => Ok(c.iter().zip(&x).fold(Q::zero(), |acc, (u, v)| acc + u * v) > bound),
        Exact::Infeasible => Ok(false),
        Exact::Unbounded => Err(Error::Lp {
            context: format!("exact facet test of row {i}"),
            reason: "a program capped in its objective was unbounded".to_string(),
        }),
    }
}

/// The exact steps, the domain's constraints and the inputs as affine
/// functions of the domain coordinates.
fn setup(net: &Network, domain: &Domain) -> Result<(Vec<ExactStep>, Vec<Aff>, Vec<Aff>)> {
    super::check_domain(net, domain)?;
    let cons = domain.constraints()?;
    let rows = cons
        .a
        .outer_iter()
        .zip(&cons.b)
        .map(|(a, &b)| {
            let mut f: Aff = a
                .iter()
                .map(|&v| rational(v, "domain row"))
                .collect::<Result<_>>()?;
            f.push(-rational(b, "domain bound")?);
            Ok(f)
        })
        .collect::<Result<Vec<_>>>()?;
    let (basis, origin) = domain.embedding();
    let values = (0..net.input_dim())
        .map(|i| {
            let mut f: Aff = basis
                .column(i)
                .iter()
                .map(|&v| rational(v, "domain basis"))
                .collect::<Result<_>>()?;
            f.push(rational(origin[i], "domain origin")?);
            Ok(f)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((exact_steps(net)?, rows, values))
}

/// The pattern units `(offset, count)` of a nonlinearity.
fn units_of(step: &ExactStep) -> Option<(usize, usize)> {
    match step {
        ExactStep::TwoPiece { offset, len, .. } => Some((*offset, *len)),
        ExactStep::Max { width, cand, offset } => Some((*offset, cand.len() / width)),
        _ => None,
    }
}

/// Applies a step without units to the values (and the saved skip paths).
fn carry(step: &ExactStep, values: &mut Vec<Aff>, skips: &mut Vec<Vec<Aff>>) {
    match step {
        ExactStep::Affine(map) => *values = map.apply(values),
        ExactStep::PushSkip(projection) => skips.push(match projection {
            Some(map) => map.apply(values),
            None => values.clone(),
        }),
        ExactStep::AddSkip => {
            let skip = skips.pop().unwrap_or_default();
            for (f, g) in values.iter_mut().zip(&skip) {
                f.iter_mut().zip(g).for_each(|(a, b)| *a += b);
            }
        }
        ExactStep::TwoPiece { .. } | ExactStep::Max { .. } => {}
    }
}

/// Splits a piece by unit `j` of a nonlinearity (pattern index `unit`) into
/// the full-dimensional parts where each of its choices holds, pushed to
/// `out`. A choice whose conditions hold at the piece's witness keeps it; a
/// piece that does not split keeps its rows unchanged.
fn split(
    step: &ExactStep,
    piece: Piece,
    j: usize,
    unit: usize,
    dim: usize,
    out: &mut Vec<Piece>,
) -> Result<()> {
    let mut parts: Vec<(u8, Vec<Aff>, Vec<Q>)> = Vec::new();
    let options: Vec<(u8, Vec<Aff>)> = (0..choices(step))
        .filter_map(|c| conditions(step, &piece.values, j, c).map(|rows| (c, rows)))
        .collect();
    if let [(c, _)] = options.as_slice() {
        parts.push((*c, Vec::new(), piece.witness.clone()));
    } else {
        for (c, extra) in options {
            if extra.iter().all(|f| value(f, &piece.witness).is_negative()) {
                parts.push((c, extra, piece.witness.clone()));
                continue;
            }
            let mut rows = piece.rows.clone();
            rows.extend(extra.iter().cloned());
            if let Some(w) = interior(&rows, dim)? {
                parts.push((c, extra, w));
            }
        }
    }
    if parts.is_empty() {
        return Err(Error::invalid(
            "exact enumeration",
            format!("no piece of unit {unit} has an interior in a full-dimensional cell"),
        ));
    }
    let alone = parts.len() == 1;
    for (c, extra, witness) in parts {
        let mut child = Piece {
            witness,
            ..piece.clone()
        };
        child.pattern[unit] = c;
        if !alone {
            child.rows.extend(extra);
        }
        out.push(child);
    }
    Ok(())
}

/// `f` at the point `y`.
fn value(f: &Aff, y: &[Q]) -> Q {
    let (lin, c) = f.split_at(f.len() - 1);
    lin.iter().zip(y).fold(c[0].clone(), |acc, (a, v)| acc + a * v)
}

/// An interior point of `{y : f(y) <= 0 for every row f}` (a point where
/// every row is negative), or `None` when the set has no interior: the
/// exact maximum of `t` subject to `f(y) + t <= 0` and `t <= 1` is positive.
fn interior(rows: &[Aff], dim: usize) -> Result<Option<Vec<Q>>> {
    let mut a = Vec::with_capacity(rows.len() + 1);
    let mut b = Vec::with_capacity(rows.len() + 1);
    for f in rows {
        let mut row: Vec<Q> = f[..dim].to_vec();
        row.push(Q::from_integer(1.into()));
        a.push(row);
        b.push(-f[dim].clone());
    }
    let mut cap = vec![Q::zero(); dim];
    cap.push(Q::from_integer(1.into()));
    a.push(cap);
    b.push(Q::from_integer(1.into()));
    let mut c = vec![Q::zero(); dim];
    c.push(Q::from_integer(1.into()));
    match maximize(&c, &a, &b) {
        Exact::Optimal(mut x) => {
            let t = x.pop().unwrap_or_default();
            Ok(t.is_positive().then_some(x))
        }
        // Any `y` with a low enough `t` is feasible, and `t <= 1` bounds it.
        Exact::Infeasible | Exact::Unbounded => Err(Error::Lp {
            context: "exact interior test".to_string(),
            reason: "a program that is feasible and bounded by construction was not".to_string(),
        }),
    }
}

/// The nearest `f64` (rationals out of range saturate).
fn to_f64(v: &Q) -> f64 {
    v.to_f64()
        .unwrap_or_else(|| if v.is_negative() { f64::MIN } else { f64::MAX })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_is_facet_settles_a_facet_shorter_than_the_lp_tolerance() {
        // The square [0, 1]^2 without the corner x + y < 1e-9 (an edge
        // 1.4e-9 long), and x + y <= 2, which touches the corner (1, 1) only.
        let p = crate::test_support::square_without_corner(1e-9);
        let facets: Vec<usize> = (0..p.len()).filter(|&i| row_is_facet(&p, i).unwrap()).collect();
        assert_eq!(facets, vec![0, 1, 2, 3, 4]);
    }
}
