//! The LP walk: breadth-first search over the adjacency graph of regions, in
//! any dimension.
//!
//! Each pattern popped from the frontier is analysed on its own (in parallel
//! over the frontier): its raw H-representation, its Chebyshev ball (one LP;
//! empty or thin cells stop there), its facets (cheap tests and the region's
//! vertices first, LPs for what a degenerate region leaves), and for every
//! facet not on the domain's boundary the pattern just across it. That
//! pattern is read off a forward pass at a witness point a little beyond the
//! facet's relative interior, so degenerate flips (several
//! units on one hyperplane, deeper units that coincide or die) yield the true
//! neighbour; the plain flip of the facet's units is queued as well when it
//! differs, and is rejected later if it is empty.

use std::collections::{HashMap, HashSet};

use ndarray::{Array1, Array2, ArrayView1, Axis};
use rayon::prelude::*;

use super::exact::row_is_facet;
use super::hrep::{raw_region, RawRegion, RowSource};
use super::setup::{Frame, Setup};
use super::{EnumOptions, EnumStats, Method, Partition, RegionBuf, ThinCell};
use crate::backend::{patterns_on, Backend};
use crate::geometry::ConvexPolygon;
use crate::lp::{chebyshev_ball, chebyshev_ball_in_box, facets, LpOutcome, LpProblem, LpStats};
use crate::run::{Outcome, Watch};
use crate::tol::{
    TOL_LP_FEAS, TOL_SETTLE_RADIUS, TOL_WITNESS_REACH, TOL_WITNESS_STEP_FLOOR_REL, TOL_ZERO_ROW,
};
use crate::{Domain, Error, Network, Pattern, Polytope, Result};

/// The outcome of analysing one candidate pattern.
pub(crate) enum Cell {
    /// No point has this pattern.
    Empty,
    /// The cell has an interior, but its Chebyshev radius is at most the
    /// tolerance (decided in exact arithmetic).
    Thin(ThinCell),
    /// The pattern's set is not empty but has no interior (a plain flip
    /// across a degenerate facet, the losing side of a tie): decided in
    /// exact arithmetic when the LP found a radius at most the tolerance.
    Flat,
    /// A region, the patterns across its facets (its neighbours when they are
    /// regions), and further candidates to visit (plain flips that the witness
    /// points contradicted).
    Region {
        region: Box<RegionBuf>,
        across: Vec<Pattern>,
        candidates: Vec<Pattern>,
    },
}

/// Analyses one pattern: feasibility, Chebyshev ball, facets, neighbours
/// (the patterns across the facets are read on `backend`, one batch of
/// witness points per region).
pub(crate) fn analyse(
    net: &Network,
    domain: &Domain,
    setup: &Setup,
    backend: &dyn Backend,
    pattern: &Pattern,
    lp: &mut LpStats,
) -> Result<Cell> {
    let values = pattern.to_values();
    let raw = raw_region(net, &values, &setup.frame);
    if violates_strict_zero_row(&raw, &values) {
        lp.lps_skipped += 1;
        return Ok(Cell::Empty);
    }
    let context = format!("region {pattern}");
    let bbox = setup.bbox.as_ref().map(|(lo, hi)| (lo.view(), hi.view()));
    lp.lps_solved += 1;
    let Some((center, radius)) = region_ball(&raw, bbox, &context)? else {
        return Ok(Cell::Empty);
    };
    if let Some(cell) = settle_small(net, domain, setup, pattern, &center, radius)? {
        return Ok(cell);
    }
    let report = facets(&raw.polytope, center.view(), bbox, &context)?;
    lp.lps_solved += report.stats.lps_solved;
    lp.lps_skipped += report.stats.lps_skipped;
    let mut keep: Vec<usize> = report
        .facets
        .iter()
        .map(|f| tightest(&raw.polytope, f.row, &f.duplicates))
        .collect();
    // Per facet off the domain's boundary: the slabs' flips, the plain
    // flip, and a witness point across it when the facet has an interior.
    let mut crossings = Vec::new();
    let exact_mode = setup.tol_radius == 0.0;
    let normed = NormedRows::of(&raw.polytope);
    for ((facet, inside), &tight) in report.facets.iter().zip(&report.inside).zip(&keep) {
        if matches!(raw.sources[facet.row], RowSource::Domain(_)) {
            continue;
        }
        let mut rows: Vec<usize> = std::iter::once(facet.row)
            .chain(facet.duplicates.iter().copied())
            .collect();
        if exact_mode {
            // The witness stands on the first row's hyperplane: with a thin
            // slab between the rows it must be the one bounding the region.
            let at = rows.iter().position(|&r| r == tight).unwrap_or(0);
            rows.swap(0, at);
        }
        let nested = nested_flips(&values, &raw, &rows);
        let flipped = flip(&values, &rows, &raw.sources);
        let witness = witness_across(
            &normed,
            &rows,
            (center.view(), radius),
            inside.as_ref(),
            exact_mode,
            lp,
            &context,
        )?;
        crossings.push((nested, flipped, witness));
    }
    // The first witness points of all facets go to the backend in one batch;
    // `firsts` lines their patterns up with the facets that have a witness.
    let first_points: Vec<Array1<f64>> = crossings
        .iter()
        .filter_map(|(_, _, w)| w.as_ref().map(|(foot, normal, step)| foot + &(normal * *step)))
        .collect();
    let mut first_seen = patterns_at(net, domain, backend, &first_points)?.into_iter();
    let firsts: Vec<Option<Pattern>> = crossings
        .iter()
        .map(|(_, _, w)| w.as_ref().and_then(|_| first_seen.next()))
        .collect();
    let mut across = Vec::new();
    let mut candidates = Vec::new();
    for ((nested, flipped, witness), first) in crossings.into_iter().zip(firsts) {
        candidates.extend(nested);
        match (witness, first) {
            (Some(witness), Some(first)) => {
                let seen =
                    pattern_just_across(net, domain, &setup.frame, backend, &witness, first, exact_mode)?;
                if seen != flipped {
                    candidates.push(flipped);
                }
                across.push(seen);
            }
            // With a thin-cell radius of 0 every facet found is crossed:
            // when no point of it is certainly inside (a facet thinner than
            // the LP's rounding), the plain flip is taken as the neighbour.
            (None, _) if exact_mode => across.push(flipped),
            _ => candidates.push(flipped),
        }
    }
    if exact_mode {
        for row in short_facets(&raw.polytope, &report.near)? {
            keep.push(row);
            if !matches!(raw.sources[row], RowSource::Domain(_)) {
                across.push(flip(&values, &[row], &raw.sources));
            }
        }
    }
    let polytope = select_rows(&raw.polytope, &keep);
    let sources = keep.iter().map(|&i| raw.sources[i]).collect();
    let polygon = setup
        .window
        .as_ref()
        .map(|w| clip_window(w, &polytope))
        .transpose()?;
    let volume = polygon.as_ref().map(|p| crate::geometry::signed_area(p));
    let region = RegionBuf {
        pattern: pattern.clone(),
        polytope,
        sources,
        center,
        radius,
        affine: raw.affine,
        neighbors: Vec::new(),
        volume,
        polygon,
    };
    Ok(Cell::Region {
        region: Box::new(region),
        across,
        candidates,
    })
}

/// The Chebyshev ball of a region: within the domain's box when there is
/// one, whose rows (with the domain's) keep the region in it, so that the
/// units whose hyperplanes miss the box stay out of the LP.
fn region_ball(
    raw: &RawRegion,
    bbox: Option<(ArrayView1<f64>, ArrayView1<f64>)>,
    context: &str,
) -> Result<Option<(Array1<f64>, f64)>> {
    match bbox {
        Some(bbox) => {
            let bounding: Vec<bool> = raw
                .sources
                .iter()
                .map(|s| matches!(s, RowSource::Domain(_)))
                .collect();
            chebyshev_ball_in_box(&raw.polytope, bbox, &bounding, context)
        }
        None => chebyshev_ball(&raw.polytope, context),
    }
}

/// Settles a cell whose Chebyshev radius is at most the thin-cell tolerance
/// (or, with a tolerance of 0, small enough to be rounding) in exact
/// arithmetic: `Flat` when its set has no interior, `Thin` when it has one
/// but is thinner than the tolerance; `None` for a region.
fn settle_small(
    net: &Network,
    domain: &Domain,
    setup: &Setup,
    pattern: &Pattern,
    center: &Array1<f64>,
    radius: f64,
) -> Result<Option<Cell>> {
    let scale = center.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    let thin = radius <= setup.tol_radius;
    let unsure = setup.tol_radius == 0.0 && radius <= TOL_SETTLE_RADIUS * scale;
    if !thin && !unsure {
        return Ok(None);
    }
    if !setup.exact(net, domain)?.full_dimensional(net, pattern)? {
        return Ok(Some(Cell::Flat));
    }
    Ok(thin.then(|| {
        Cell::Thin(ThinCell {
            pattern: pattern.clone(),
            center: center.clone(),
            radius,
        })
    }))
}

/// The nearly redundant rows (facets, if any, shorter than the LP
/// tolerance) that are facets in exact arithmetic: with a thin-cell radius
/// of 0 the walk must cross them, or a cell whose facets are all that short
/// (a tiny triangle) is never reached.
fn short_facets(p: &Polytope, near: &[usize]) -> Result<Vec<usize>> {
    let mut found = Vec::new();
    for &row in near {
        if row_is_facet(p, row)? {
            found.push(row);
        }
    }
    Ok(found)
}

/// A unit whose pre-activation is constant on the domain must be strictly
/// positive to be on piece 1, and a max unit whose rival ties it everywhere
/// loses to the lower index: such rows (zero rows with no slack) make the
/// pattern impossible, although `0 <= 0` holds.
fn violates_strict_zero_row(raw: &RawRegion, values: &[u8]) -> bool {
    raw.polytope
        .a
        .outer_iter()
        .zip(&raw.polytope.b)
        .zip(&raw.sources)
        .any(|((row, &b), src)| {
            let zero = row.iter().all(|v| v.abs() < TOL_ZERO_ROW);
            let no_slack = b <= TOL_LP_FEAS;
            zero && no_slack
                && match *src {
                    RowSource::Unit(u) => values[u] == 1,
                    RowSource::MaxRival { unit, rival } => rival < values[unit],
                    RowSource::Domain(_) => false,
                }
        })
}

/// The pattern with the units of the given rows switched to their other side.
fn flip(values: &[u8], rows: &[usize], sources: &[RowSource]) -> Pattern {
    let mut v = values.to_vec();
    for &r in rows {
        match sources[r] {
            RowSource::Unit(u) => v[u] = 1 - v[u],
            RowSource::MaxRival { unit, rival } => v[unit] = rival,
            RowSource::Domain(_) => {}
        }
    }
    Pattern::from_checked(&v)
}

/// The row of a facet (representative `row` and its `duplicates`) with the
/// smallest offset: the one that bounds the region when the hyperplanes are
/// near but not identical (the representative on a tie).
fn tightest(p: &Polytope, row: usize, duplicates: &[usize]) -> usize {
    std::iter::once(row)
        .chain(duplicates.iter().copied())
        .min_by(|&i, &j| unit_row(p, i).1.total_cmp(&unit_row(p, j).1))
        .unwrap_or(row)
}

/// The patterns between nearly coinciding hyperplanes that the facet detection
/// merged into one facet (`rows`: its representative and duplicates): the
/// witness step jumps over the thin slabs between them, so each slab's
/// pattern (the nearest `k` hyperplanes flipped) is queued as a candidate,
/// to be counted as a region or reported as thin. Rows at exactly the same
/// offset flip together (a repeated unit makes no slab).
fn nested_flips(values: &[u8], raw: &RawRegion, rows: &[usize]) -> Vec<Pattern> {
    let offset = |r: usize| unit_row(&raw.polytope, r).1;
    let mut sorted = rows.to_vec();
    sorted.sort_by(|&i, &j| offset(i).total_cmp(&offset(j)));
    (1..sorted.len())
        .filter(|&k| offset(sorted[k]) != offset(sorted[k - 1]))
        .map(|k| flip(values, &sorted[..k], &raw.sources))
        .collect()
}

/// The pattern of the region adjacent across a facet, read at `foot + t normal`
/// (`first`: the pattern there at the first step, read in the region's batch).
/// A step can jump over the thin end of a wedge-shaped neighbour into a region
/// that only touches the facet's boundary, so the region read there must reach
/// back to the facet along the normal; when it stops short at distance `t - s`
/// from the foot, the next step is half of that. With `strict` (a thin-cell
/// radius of 0) it must reach back to within rounding of the foot, not
/// within [`TOL_WITNESS_REACH`] of the step, so that a step over a slab
/// thinner than that lands in the slab, the true neighbour.
fn pattern_just_across(
    net: &Network,
    domain: &Domain,
    frame: &Frame,
    backend: &dyn Backend,
    (foot, normal, step): &FacetWitness,
    first: Pattern,
    strict: bool,
) -> Result<Pattern> {
    let scale = foot.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    let floor = TOL_WITNESS_STEP_FLOOR_REL * scale;
    let mut t = *step;
    let mut pattern = first;
    loop {
        if t <= floor {
            return Ok(pattern);
        }
        let point = foot + &(normal * t);
        let reach = reach_along(net, &pattern.to_values(), frame, point.view(), normal.view());
        let close = if strict {
            reach >= t - floor
        } else {
            reach >= t * (1.0 - TOL_WITNESS_REACH)
        };
        if close {
            return Ok(pattern);
        }
        t = 0.5 * (t - reach.max(0.0));
        let closer = foot + &(normal * t);
        pattern = patterns_at(net, domain, backend, &[closer])?.remove(0);
    }
}

/// The patterns of points of the domain's coordinates, in one call of
/// `backend` (none for no points).
fn patterns_at(
    net: &Network,
    domain: &Domain,
    backend: &dyn Backend,
    points: &[Array1<f64>],
) -> Result<Vec<Pattern>> {
    if points.is_empty() {
        return Ok(Vec::new());
    }
    let mut x = Array2::zeros((points.len(), net.input_dim()));
    for (mut row, y) in x.outer_iter_mut().zip(points) {
        row.assign(&domain.to_input(y.view()));
    }
    net.check_input(x.view())?;
    patterns_on(net, backend, x.view())
}

/// How far the ray from `y` along `-normal` stays inside the region of the
/// pattern with unit values `values`: the region's H-representation on the
/// line through `y` along `normal` (the network carries two rows, a point
/// and a direction, instead of the domain's dimension plus one).
fn reach_along(
    net: &Network,
    values: &[u8],
    frame: &Frame,
    y: ArrayView1<f64>,
    normal: ArrayView1<f64>,
) -> f64 {
    let dom = &frame.constraints;
    let line = Frame {
        constraints: Polytope {
            a: dom.a.dot(&normal).insert_axis(Axis(1)),
            b: &dom.b - &dom.a.dot(&y),
        },
        basis: normal.dot(&frame.basis).insert_axis(Axis(0)),
        origin: &frame.origin + &y.dot(&frame.basis),
    };
    let raw = raw_region(net, values, &line);
    reach_back(&raw.polytope, ArrayView1::from(&[0.0]), ArrayView1::from(&[1.0]))
}

/// How far the ray from `y` along `-normal` stays inside `p`.
fn reach_back(p: &Polytope, y: ArrayView1<f64>, normal: ArrayView1<f64>) -> f64 {
    p.a.outer_iter()
        .zip(&p.b)
        .filter_map(|(row, &b)| {
            let rate = -row.dot(&normal);
            (rate > 0.0).then(|| (b - row.dot(&y)) / rate)
        })
        .fold(f64::INFINITY, f64::min)
}

/// A point on a facet, the facet's unit outward normal and a first step length.
type FacetWitness = (Array1<f64>, Array1<f64>, f64);

/// A point on the facet made of `rows` (all on one hyperplane), in its relative
/// interior, with the unit outward normal and a first step length: the foot of
/// the Chebyshev centre on the hyperplane when it lies inside the facet, else
/// else `inside` (a point of the facet's relative interior found with its
/// vertices) when given, else the centre of the facet's own largest inscribed
/// ball (one LP). `None` when the facet has no relative interior. With
/// `strict` (a thin-cell radius of 0) the point must keep a positive slack
/// on every other row as computed, not only by the LP's account, and the
/// step is a quarter of that slack: an LP answer on a facet thinner than
/// its tolerance can fall outside the facet.
fn witness_across(
    normed: &NormedRows<'_>,
    rows: &[usize],
    (center, radius): (ArrayView1<f64>, f64),
    inside: Option<&Array1<f64>>,
    strict: bool,
    lp: &mut LpStats,
    context: &str,
) -> Result<Option<FacetWitness>> {
    let p = normed.p;
    let (u, beta) = unit_row(p, rows[0]);
    let others: Vec<usize> = (0..p.len()).filter(|i| !rows.contains(i)).collect();
    let margin_at = |y: &Array1<f64>| {
        others
            .iter()
            .map(|&k| normed.slack(k, y.view()))
            .fold(f64::INFINITY, f64::min)
    };
    let clear = |margin: f64| margin > TOL_LP_FEAS * (1.0 + radius);
    let foot = &center + &(&u * (beta - u.dot(&center)));
    let margin = margin_at(&foot);
    let inside = inside.map(|y| (y.clone(), margin_at(y)));
    let (point, inner) = if clear(margin) {
        lp.lps_skipped += 1;
        (foot, margin)
    } else if let Some((y, m)) = inside.filter(|(_, m)| clear(*m)) {
        lp.lps_skipped += 1;
        (y, m)
    } else {
        lp.lps_solved += 1;
        match facet_ball(p, &others, &u, beta, context)? {
            Some(found) => found,
            None => return Ok(None),
        }
    };
    let inner = if strict {
        inner.min(margin_at(&point))
    } else {
        inner
    };
    if strict && inner <= 0.0 {
        return Ok(None);
    }
    let step = 0.25 * inner.min(radius);
    Ok(Some((point, u, step)))
}

/// Row `i` scaled to unit norm: `(u, beta)` with `u . y <= beta`.
fn unit_row(p: &Polytope, i: usize) -> (Array1<f64>, f64) {
    let row = p.a.row(i);
    let n = row.dot(&row).sqrt();
    (row.mapv(|v| v / n), p.b[i] / n)
}

/// A region's rows with their norms, computed once per region: every
/// facet's witness measures its distance to every other row (the norms
/// were the half of that work repeated per facet).
struct NormedRows<'a> {
    p: &'a Polytope,
    norms: Vec<f64>,
}

impl<'a> NormedRows<'a> {
    /// The rows of `p` and their norms.
    fn of(p: &'a Polytope) -> Self {
        let norms = p.a.outer_iter().map(|row| row.dot(&row).sqrt()).collect();
        NormedRows { p, norms }
    }

    /// The distance from `y` to hyperplane `k`, positive inside (infinite
    /// for a zero row).
    fn slack(&self, k: usize, y: ArrayView1<f64>) -> f64 {
        let n = self.norms[k];
        if n < TOL_ZERO_ROW {
            return f64::INFINITY;
        }
        (self.p.b[k] - self.p.a.row(k).dot(&y)) / n
    }
}

/// The largest ball of the facet `{u . y = beta}` inside the other rows: its
/// centre and radius, `None` when the radius is not positive.
fn facet_ball(
    p: &Polytope,
    others: &[usize],
    u: &Array1<f64>,
    beta: f64,
    context: &str,
) -> Result<Option<(Array1<f64>, f64)>> {
    let d = p.dim();
    let mut a = Array2::zeros((others.len() + 3, d + 1));
    let mut b = Array1::zeros(others.len() + 3);
    for (r, &k) in others.iter().enumerate() {
        let row = p.a.row(k);
        let n = row.dot(&row).sqrt();
        if n < TOL_ZERO_ROW {
            continue;
        }
        // Within the hyperplane, the distance to row k's boundary is measured
        // along the row's component orthogonal to u.
        let tangent = &row.to_owned() - &(u * row.dot(u));
        a.row_mut(r).slice_mut(ndarray::s![..d]).assign(&row);
        a[[r, d]] = tangent.dot(&tangent).sqrt().max(TOL_ZERO_ROW);
        b[r] = p.b[k];
    }
    let m = others.len();
    a.row_mut(m).slice_mut(ndarray::s![..d]).assign(u);
    b[m] = beta;
    a.row_mut(m + 1)
        .slice_mut(ndarray::s![..d])
        .assign(&u.mapv(|v| -v));
    b[m + 1] = -beta;
    a[[m + 2, d]] = -1.0;
    let mut c = Array1::zeros(d + 1);
    c[d] = 1.0;
    match LpProblem::new(c.view(), a.view(), b.view()).solve(&format!("facet of {context}"))? {
        LpOutcome::Optimal { x, value } if value > 0.0 => Ok(Some((Array1::from(x[..d].to_vec()), value))),
        _ => Ok(None),
    }
}

fn select_rows(p: &Polytope, rows: &[usize]) -> Polytope {
    Polytope {
        a: p.a.select(Axis(0), rows),
        b: p.b.select(Axis(0), rows),
    }
}

/// The polygon of a 2-D region: the window clipped by the region's rows.
pub(crate) fn clip_window(window: &[[f64; 2]], p: &Polytope) -> Result<Vec<[f64; 2]>> {
    let mut poly = ConvexPolygon::from_vertices(window.to_vec())?;
    for (row, &b) in p.a.outer_iter().zip(&p.b) {
        match poly.clip([row[0], row[1]], -b) {
            Some(next) => poly = next,
            None => return Ok(Vec::new()),
        }
    }
    Ok(poly.vertices().to_vec())
}

/// The patterns of a few points of the domain, to start the walk from: the
/// Chebyshev centre of the domain, then points spread over it (one batch on
/// `backend`).
fn seeds(
    net: &Network,
    domain: &Domain,
    dom: &Polytope,
    backend: &dyn Backend,
    lp: &mut LpStats,
) -> Result<Vec<Pattern>> {
    lp.lps_solved += 1;
    let (center, radius) = chebyshev_ball(dom, "domain")?.ok_or_else(|| Error::invalid("domain", "empty"))?;
    let mut points = vec![center.clone()];
    for k in 0..dom.dim().min(8) {
        let mut off = Array1::zeros(dom.dim());
        off[k] = 0.5 * radius;
        points.push(&center + &off);
    }
    patterns_at(net, domain, backend, &points)
}

/// Cells analysed per worker thread between two checks of the budgets and
/// the cancel flag: a check every few cells, not per frontier.
const CELLS_PER_CHECK: usize = 4;

/// One walk: the network and the domain with its set-up, the limits, and
/// what has been found so far.
struct Walk<'a> {
    net: &'a Network,
    domain: &'a Domain,
    setup: Setup,
    watch: Watch<'a>,
    serial: bool,
    lp: LpStats,
    stats: EnumStats,
    visited: HashSet<Pattern>,
    /// The index of every region found, by pattern.
    index: HashMap<Pattern, usize>,
    regions: Vec<RegionBuf>,
    /// A region's index and the pattern across one of its facets.
    edges: Vec<(usize, Pattern)>,
    /// Whether rejected thin cells are kept (`EnumOptions::record_thin`).
    record_thin: bool,
    /// The rejected thin cells, when kept.
    thin: Vec<ThinCell>,
}

/// Runs the walk.
pub(crate) fn walk(net: &Network, domain: &Domain, opts: &EnumOptions) -> Result<Partition> {
    let watch = Watch::new(&opts.run);
    let mut lp = LpStats::default();
    let setup = Setup::new(domain, opts.tol_radius, &mut lp)?;
    let mut walk = Walk {
        net,
        domain,
        setup,
        watch,
        serial: opts.run.threads == Some(1),
        lp,
        stats: EnumStats {
            method: Method::Lp,
            ..EnumStats::default()
        },
        visited: HashSet::new(),
        index: HashMap::new(),
        regions: Vec::new(),
        edges: Vec::new(),
        record_thin: opts.record_thin,
        thin: Vec::new(),
    };
    let seeds = opts.run.with_backend_ref(|backend| {
        seeds(net, domain, &walk.setup.frame.constraints, backend, &mut walk.lp)
    })?;
    let frontier = seeds
        .into_iter()
        .filter(|s| walk.visited.insert(s.clone()))
        .collect();
    let outcome = walk.run(frontier)?;
    walk.watch.report(walk.regions.len(), Some(0), true);
    Ok(walk.finish(outcome))
}

impl Walk<'_> {
    /// Walks breadth first from `frontier`, a few cells per thread at a
    /// time, until every pattern is visited or a limit stops it.
    fn run(&mut self, mut frontier: Vec<Pattern>) -> Result<Outcome> {
        let per_check = CELLS_PER_CHECK
            * if self.serial {
                1
            } else {
                rayon::current_num_threads()
            };
        while !frontier.is_empty() {
            let mut next = Vec::new();
            for (k, chunk) in frontier.chunks(per_check).enumerate() {
                if let Some(stop) = self.watch.stop(self.regions.len()) {
                    return Ok(stop);
                }
                for analysed in self.analyse_all(chunk) {
                    let Some(analysed) = analysed else {
                        return Ok(self.watch.stop(0).unwrap_or(Outcome::Cancelled));
                    };
                    let (cell, used) = analysed?;
                    self.lp += used;
                    self.record(cell, &mut next);
                    if self.full() {
                        return Ok(Outcome::RegionBudget);
                    }
                }
                let pending = frontier.len() - (k * per_check + chunk.len()) + next.len();
                self.watch.report(self.regions.len(), Some(pending), false);
            }
            frontier = next;
        }
        Ok(Outcome::Complete)
    }

    /// Analyses patterns (in parallel unless serial), in order; `None` for
    /// those skipped because the time budget ran out or the run was
    /// cancelled meanwhile.
    fn analyse_all(&self, patterns: &[Pattern]) -> Vec<Option<Result<(Cell, LpStats)>>> {
        let one = |p: &Pattern| {
            if self.watch.stop(0).is_some() {
                return None;
            }
            let mut local = LpStats::default();
            let cell = self.watch.options().with_backend_ref(|backend| {
                analyse(self.net, self.domain, &self.setup, backend, p, &mut local)
            });
            Some(cell.map(|c| (c, local)))
        };
        if self.serial {
            patterns.iter().map(one).collect()
        } else {
            patterns.par_iter().map(one).collect()
        }
    }

    /// Adds an analysed cell: a region with its facets' patterns (queued in
    /// `next` when new), or a thin or empty cell.
    fn record(&mut self, cell: Cell, next: &mut Vec<Pattern>) {
        match cell {
            Cell::Empty => {}
            Cell::Flat => self.stats.rejected_flat += 1,
            Cell::Thin(cell) => {
                self.stats.rejected_thin += 1;
                if self.record_thin {
                    self.thin.push(cell);
                }
            }
            Cell::Region {
                region,
                across,
                candidates,
            } => {
                let id = self.regions.len();
                self.index.insert(region.pattern.clone(), id);
                self.regions.push(*region);
                self.edges.extend(across.iter().map(|q| (id, q.clone())));
                for q in across.into_iter().chain(candidates) {
                    if self.visited.insert(q.clone()) {
                        next.push(q);
                    }
                }
            }
        }
    }

    /// True when the region budget is reached.
    fn full(&self) -> bool {
        let max = self.watch.options().max_regions;
        max.is_some_and(|max| self.regions.len() >= max)
    }

    /// The partition of the regions found, linked to the neighbours found
    /// among them.
    fn finish(mut self, outcome: Outcome) -> Partition {
        for (a, q) in std::mem::take(&mut self.edges) {
            if let Some(&b) = self.index.get(&q) {
                if a != b {
                    self.regions[a].neighbors.push(b);
                    self.regions[b].neighbors.push(a);
                }
            }
        }
        self.stats.lps_solved = self.lp.lps_solved;
        self.stats.lps_skipped = self.lp.lps_skipped;
        self.stats.elapsed = self.watch.elapsed();
        Partition::assemble(self.regions, self.stats, self.domain.clone(), self.net.clone())
            .with_thin_cells(self.thin)
            .with_outcome(outcome)
    }
}
