//! [`Method::Skeleton`]: the vertices and edges of the complex, built layer
//! by layer, and every region read off them.
//!
//! 1. The skeleton of the domain: its vertices (double description) and
//!    edges, with the facets each vertex lies on ([`complex`]).
//! 2. For each layer, the pre-activations at all vertices by one batched
//!    product through the run's backend; then unit by unit: every edge whose
//!    ends the unit's value separates strictly is split at the interpolated
//!    zero, and the two new vertices inside each 2-face the unit cuts are
//!    joined by an edge, the faces keyed by sign vectors ([`split`],
//!    [`faces`]).
//! 3. Each region once, its vertices grouped by one pass over the vertices
//!    (a vertex belongs to the regions of every choice of sides of the unit
//!    hyperplanes through it), with its facets from the hyperplanes its
//!    vertices lie on ([`regions`]).
//! 4. For each region, as the LP walk gives it: the H-representation (the
//!    facet rows of the pattern's rows, [`RowSource`] order, [`rows`]), the Chebyshev
//!    centre and radius (from the vertices' centroid by the dense active-set
//!    method of [`crate::lp::chebyshev_ball_inside`], the general LP where
//!    that does not certify; thin cells are rejected and counted as by the
//!    walk), the affine map, the polygon and area of 2-D
//!    regions; neighbours are the regions across each unit facet.
//!
//! # When the LP walk runs instead
//!
//! The whole run goes to [`Method::Lp`] (and [`EnumStats::method`] says
//! `Lp`) when the network has steps other than dense layers and two-piece
//! units (max units, convolutions, residual blocks), or when the arrangement
//! is degenerate as seen here: a domain vertex on more than `d` facets, a
//! vertex within [`crate::tol::TOL_SKELETON_ZERO_REL`] of a unit's
//! hyperplane (which covers repeated and parallel units through a vertex,
//! and units through a vertex of the domain), an edge not on exactly `d - 1`
//! hyperplanes, a 2-face cut other than twice, a vertex whose edges are not
//! those of a simple vertex, or a region whose LP disagrees.
//! So the skeleton never answers for an arrangement it cannot settle.

mod complex;
mod faces;
mod regions;
mod rows;
mod shards;
mod split;
mod table;

use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;

use super::hrep::RowSource;
use super::setup::Setup;
use super::walk::{clip_window, walk};
use super::{EnumOptions, EnumStats, Method, Partition, RegionBuf, ThinCell};
use crate::lp::{chebyshev_ball, chebyshev_ball_inside, LpStats};
use crate::run::{Outcome, Watch};
use crate::{Affine, Domain, Error, Network, Pattern, Polytope, Result};
use ndarray::Array1;
use regions::Found;
use rows::FacetRows;
use table::{BitKeys, Index};

/// Why the skeleton stopped short of a partition.
pub(super) enum Fail {
    /// An arrangement or network it does not settle: the LP walk runs (the
    /// reason is for the tests, which check that it is not taken).
    Fallback(#[cfg_attr(not(test), allow(dead_code))] &'static str),
    /// A budget or the cancel flag stopped the run.
    Stopped(Outcome),
    /// A real error (backend, LP).
    Error(Error),
}

impl From<Error> for Fail {
    fn from(e: Error) -> Fail {
        Fail::Error(e)
    }
}

/// Enumerates by the skeleton, or by the LP walk where it does not apply.
pub(crate) fn skeleton(net: &Network, domain: &Domain, opts: &EnumOptions) -> Result<Partition> {
    match build(net, domain, opts) {
        Ok(p) => Ok(p),
        Err(Fail::Fallback(_)) => walk(net, domain, opts),
        Err(Fail::Stopped(outcome)) => Ok(empty(net, domain, outcome)),
        Err(Fail::Error(e)) => Err(e),
    }
}

/// Why the skeleton would not settle `net` on `domain`: `None` when it does
/// (for tests that must not pass through the fallback).
#[cfg(test)]
pub(crate) fn fallback_reason(net: &Network, domain: &Domain, opts: &EnumOptions) -> Option<&'static str> {
    match build(net, domain, opts) {
        Err(Fail::Fallback(why)) => Some(why),
        _ => None,
    }
}

/// A partition without regions, for a run stopped while building the skeleton.
fn empty(net: &Network, domain: &Domain, outcome: Outcome) -> Partition {
    let stats = EnumStats {
        method: Method::Skeleton,
        ..EnumStats::default()
    };
    Partition::assemble(Vec::new(), stats, domain.clone(), net.clone()).with_outcome(outcome)
}

/// The skeleton, its regions, and the partition.
fn build(net: &Network, domain: &Domain, opts: &EnumOptions) -> std::result::Result<Partition, Fail> {
    let watch = Watch::new(&opts.run);
    let mut lp = LpStats::default();
    let setup = Setup::new(domain, opts.tol_radius, &mut lp)?;
    let layers = split::layers(net)?;
    let m = setup.frame.constraints.len();
    let mut cx = complex::of_domain(&setup.frame.constraints, m + net.unit_count())?;
    let serial = opts.run.threads == Some(1);
    split::cut_layers(&mut cx, &layers, &setup.frame, m, &opts.run, &watch, serial)?;
    let keys = BitKeys::new(cx.words);
    let found = regions::read(&cx, m, &keys, serial)?;
    drop(cx);
    let cells = Cells {
        net,
        setup: &setup,
        rows: FacetRows::new(net, &setup.frame),
        m,
        lps: AtomicUsize::new(0),
    };
    let (regions, thin, outcome, solved) = cells.all(found, &keys, opts, &watch, serial)?;
    // Every other ball was certified without an LP.
    lp.lps_solved += solved;
    lp.lps_skipped += regions.len() + thin.len() - solved;
    watch.report(regions.len(), Some(0), true);
    let stats = EnumStats {
        method: Method::Skeleton,
        rejected_thin: thin.len(),
        lps_solved: lp.lps_solved,
        lps_skipped: lp.lps_skipped,
        elapsed: watch.elapsed(),
        ..EnumStats::default()
    };
    let thin = if opts.record_thin { thin } else { Vec::new() };
    Ok(Partition::assemble(regions, stats, domain.clone(), net.clone())
        .with_thin_cells(thin)
        .with_outcome(outcome))
}

/// Regions per worker thread between two checks of the budgets: a whole
/// number of product batches, enough batches per thread that one check's
/// chunk keeps both threads busy.
const REGIONS_PER_CHECK: usize = 256;
const _: () = assert!(REGIONS_PER_CHECK % REGIONS_PER_PRODUCT == 0);

/// Regions whose rows go through one product per layer: enough rows that
/// the product is not dominated by packing the weights (about 5x fewer
/// instructions per region than one at a time at d = 4) and that regions
/// of one cell of the first layers share their products (consecutive in
/// pattern order), few enough that a chunk still splits among the threads.
const REGIONS_PER_PRODUCT: usize = 64;

/// What a region's analysis needs.
struct Cells<'a> {
    net: &'a Network,
    setup: &'a Setup,
    rows: FacetRows<'a>,
    m: usize,
    /// Chebyshev LPs solved: the balls [`chebyshev_ball_inside`] could not
    /// certify from the centroid.
    lps: AtomicUsize,
}

/// A region found, or a thin cell rejected.
enum Cell {
    Region(Box<RegionBuf>),
    Thin(ThinCell),
}

/// Regions, thin cells, how the run ended, LPs solved.
type Analysed = (Vec<RegionBuf>, Vec<ThinCell>, Outcome, usize);

impl Cells<'_> {
    /// Analyses every region found (in parallel unless serial), a chunk at a
    /// time between checks of the budgets, then links neighbours (`keys`
    /// hashed the patterns found).
    fn all(
        &self,
        mut found: Vec<Found>,
        keys: &BitKeys,
        opts: &EnumOptions,
        watch: &Watch<'_>,
        serial: bool,
    ) -> std::result::Result<Analysed, Fail> {
        // Unit order, so that the regions of one cell of the first layers are
        // consecutive and share their products. The patterns are distinct,
        // so any sort gives the one order.
        let order = |a: &Found, b: &Found| unit_order(&a.bits, &b.bits);
        if complex::parallel(serial, found.len(), complex::REGIONS_PER_TASK) {
            found.par_sort_unstable_by(order);
        } else {
            found.sort_unstable_by(order);
        }
        let threads = if serial { 1 } else { rayon::current_num_threads() };
        let mut regions: Vec<RegionBuf> = Vec::new();
        let mut patterns: Vec<(u64, Vec<u64>)> = Vec::new();
        let mut thin = Vec::new();
        let mut outcome = Outcome::Complete;
        let total = found.len();
        for chunk in found.chunks_mut(REGIONS_PER_CHECK * threads) {
            if let Some(stop) = watch.stop(regions.len()) {
                outcome = stop;
                break;
            }
            let group = |g: &[Found]| self.cells(g);
            let cells: Vec<std::result::Result<Cell, Fail>> = if serial {
                chunk.chunks(REGIONS_PER_PRODUCT).flat_map(group).collect()
            } else {
                chunk
                    .par_chunks(REGIONS_PER_PRODUCT)
                    .flat_map_iter(group)
                    .collect()
            };
            // Analysed: a region's bits move to its pattern, not copied.
            for (f, cell) in chunk.iter_mut().zip(cells) {
                match cell? {
                    Cell::Region(r) if opts.run.max_regions.is_none_or(|max| regions.len() < max) => {
                        regions.push(*r);
                        patterns.push((f.key, std::mem::take(&mut f.bits)));
                    }
                    Cell::Region(_) => outcome = Outcome::RegionBudget,
                    Cell::Thin(t) => thin.push(t),
                }
            }
            watch.report(regions.len(), Some(total - regions.len() - thin.len()), false);
        }
        let solved = self.lps.load(Ordering::Relaxed);
        link_neighbours(&mut regions, &patterns, keys, self.m, serial)?;
        Ok((regions, thin, outcome, solved))
    }

    /// A few regions: their rows and maps through one product per layer
    /// ([`FacetRows::regions`]), then each region's cell.
    fn cells(&self, group: &[Found]) -> Vec<std::result::Result<Cell, Fail>> {
        let units = self.net.unit_count();
        let values: Vec<Vec<u8>> = group
            .iter()
            .map(|f| {
                (0..units)
                    .map(|u| u8::from(complex::has(&f.bits, self.m + u)))
                    .collect()
            })
            .collect();
        let batch: Vec<(&[u8], &[usize])> = values
            .iter()
            .zip(group)
            .map(|(v, f)| (&v[..], &f.facets[..]))
            .collect();
        let rows = self.rows.regions(&batch);
        group
            .iter()
            .zip(&values)
            .zip(rows)
            .map(|((f, values), rows)| self.cell(f, values, rows))
            .collect()
    }

    /// A region's Chebyshev ball: from its vertices' centroid without a solver
    /// where that certifies an optimum, by the general LP otherwise (a thin
    /// cell, whose centroid is not strictly inside, or rounding that blocks a
    /// pivot), counted in [`Cells::lps`].
    fn ball(
        &self,
        polytope: &Polytope,
        centroid: &[f64],
        pattern: &Pattern,
    ) -> Result<Option<(Array1<f64>, f64)>> {
        if let Some(found) = chebyshev_ball_inside(polytope, centroid) {
            return Ok(Some(found));
        }
        self.lps.fetch_add(1, Ordering::Relaxed);
        chebyshev_ball(polytope, &format!("region {pattern}"))
    }

    /// One region from its unit values, facet rows, sources and affine map:
    /// its Chebyshev ball, polygon.
    fn cell(
        &self,
        f: &Found,
        values: &[u8],
        (polytope, sources, affine): (Polytope, Vec<RowSource>, Affine),
    ) -> std::result::Result<Cell, Fail> {
        let pattern = Pattern::from_checked(values);
        let Some((center, radius)) = self.ball(&polytope, &f.centroid, &pattern)? else {
            return Err(Fail::Fallback("a region's Chebyshev LP is infeasible"));
        };
        if radius <= self.setup.tol_radius {
            return Ok(Cell::Thin(ThinCell {
                pattern,
                center,
                radius,
            }));
        }
        let polygon = self
            .setup
            .window
            .as_ref()
            .map(|w| clip_window(w, &polytope))
            .transpose()?;
        let volume = polygon.as_ref().map(|p| crate::geometry::signed_area(p));
        Ok(Cell::Region(Box::new(RegionBuf {
            pattern,
            polytope,
            sources,
            center,
            radius,
            affine,
            neighbors: Vec::new(),
            volume,
            polygon,
        })))
    }
}

/// The order of two patterns' bits by unit (the lowest bit of a word is its
/// first unit, and a unit's 0 comes before its 1): the partition's order of
/// patterns, since the domain facets' bits, first, are clear in all.
fn unit_order(a: &[u64], b: &[u64]) -> std::cmp::Ordering {
    a.iter()
        .zip(b)
        .map(|(x, y)| x.reverse_bits().cmp(&y.reverse_bits()))
        .find(|o| o.is_ne())
        .unwrap_or(std::cmp::Ordering::Equal)
}

/// Links each region to the region across each of its unit facets (the
/// pattern with that unit flipped), where that is a region of the list,
/// in parallel unless `serial`.
/// The patterns (each with its key by `keys`, as [`regions::read`] found
/// it) are found by their additive keys ([`BitKeys`]): the one across a
/// facet differs by one bit, so its key by one word.
///
/// # Errors
///
/// [`Fail::Fallback`] past `2^32 - 1` regions.
fn link_neighbours(
    regions: &mut [RegionBuf],
    patterns: &[(u64, Vec<u64>)],
    keys: &BitKeys,
    m: usize,
    serial: bool,
) -> std::result::Result<(), Fail> {
    let mut index = Index::new();
    for (key, bits) in patterns {
        index
            .find_or_add(*key, |j| patterns[j].1 == *bits)
            .map_err(|_| Fail::Fallback("more than 2^32 regions"))?;
    }
    let link = |across: &mut Vec<u64>, (region, (base, bits)): (&mut RegionBuf, &(u64, Vec<u64>))| {
        let units = region.sources.iter().filter_map(|src| match *src {
            RowSource::Unit(u) => Some(m + u),
            _ => None,
        });
        region.neighbors.reserve_exact(units.clone().count());
        for h in units {
            across.clone_from(bits);
            let word = keys.word(h);
            let key = if complex::has(across, h) {
                complex::clear(across, h);
                base.wrapping_sub(word)
            } else {
                complex::set(across, h);
                base.wrapping_add(word)
            };
            if let Some(j) = index.find(key, |j| patterns[j].1 == *across) {
                region.neighbors.push(j);
            }
        }
    };
    if complex::parallel(serial, regions.len(), complex::REGIONS_PER_TASK) {
        regions
            .par_iter_mut()
            .zip(patterns)
            .with_min_len(complex::REGIONS_PER_TASK)
            .for_each_init(Vec::new, link);
    } else {
        let mut across = Vec::new();
        regions
            .iter_mut()
            .zip(patterns)
            .for_each(|r| link(&mut across, r));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn net(w: ndarray::Array2<f64>, b: ndarray::Array1<f64>) -> Network {
        Network::builder(w.ncols())
            .dense(w, b)
            .unwrap()
            .relu()
            .build()
            .unwrap()
    }

    #[test]
    fn planes_in_general_position_give_the_closed_form_count() {
        // Three planes in general position through the cube's interior, all
        // meeting inside it: 8 regions, as for any 3 generic planes through
        // one interior point of a 3-D convex body.
        let n = net(
            array![[1.0, 0.2, 0.1], [0.3, 1.0, -0.2], [-0.1, 0.4, 1.0]],
            array![0.05, -0.03, 0.02],
        );
        let domain = Domain::cube(3, -1.0, 1.0);
        let opts = EnumOptions::default();
        assert_eq!(fallback_reason(&n, &domain, &opts), None);
        let p = skeleton(&n, &domain, &opts).unwrap();
        assert_eq!(p.stats().method, Method::Skeleton);
        assert_eq!(p.len(), 8);
        // Each region: 3 unit facets and 3 domain facets, 3 neighbours.
        for r in p.regions() {
            assert_eq!(r.polytope().len(), 6);
            assert_eq!(r.neighbors().len(), 3);
        }
        assert!((p.total_volume() - 8.0).abs() < 1e-9);
    }

    #[test]
    fn balls_agree_with_the_general_lp_and_hold_inside_their_regions() {
        // A W2-like network (He-normal-ish weights, small biases) on a box
        // of a few hundred regions in d = 4: every region's ball, found
        // from its centroid without a solver, has microlp's radius to
        // rounding, and lies inside the region.
        use rand::{rngs::StdRng, Rng, SeedableRng};
        let mut rng = StdRng::seed_from_u64(4);
        let d = 4;
        let mut builder = Network::builder(d);
        for (fan_in, width) in [(d, 16), (16, 16)] {
            let scale = (6.0 / fan_in as f64).sqrt();
            let w = ndarray::Array2::from_shape_fn((width, fan_in), |_| scale * rng.random_range(-1.0..1.0));
            let b = ndarray::Array1::from_shape_fn(width, |_| {
                rng.random_range(-0.5..0.5) / (fan_in as f64).sqrt()
            });
            builder = builder.dense(w, b).unwrap().relu();
        }
        let n = builder.build().unwrap();
        let domain = Domain::cube(d, -0.4, 0.4);
        let opts = EnumOptions::default();
        assert_eq!(fallback_reason(&n, &domain, &opts), None);
        let p = skeleton(&n, &domain, &opts).unwrap();
        assert!(p.len() > 100, "{} regions", p.len());
        // The centroid start certified most balls: the LP below is a check,
        // not the answer (the skeleton solves an LP only for the rest).
        let stats = p.stats();
        assert_eq!(stats.lps_solved + stats.lps_skipped, p.len());
        assert!(
            stats.lps_solved * 10 < p.len(),
            "{} LPs for {} regions",
            stats.lps_solved,
            p.len()
        );
        for r in p.regions() {
            let poly = r.polytope();
            let (_, radius) = chebyshev_ball(poly, "check").unwrap().unwrap();
            assert!((r.radius() - radius).abs() <= 1e-12, "{} vs {radius}", r.radius());
            let reach = poly
                .a
                .rows()
                .into_iter()
                .zip(&poly.b)
                .map(|(row, b)| (b - row.dot(&r.center())) / row.dot(&row).sqrt())
                .fold(f64::INFINITY, f64::min);
            assert!(reach >= r.radius() - 1e-15, "{reach} < {}", r.radius());
        }
    }

    #[test]
    fn a_repeated_unit_is_detected() {
        let n = net(array![[1.0, 0.5], [1.0, 0.5], [0.2, -1.0]], array![0.1, 0.1, 0.0]);
        let domain = Domain::cube(2, -1.0, 1.0);
        assert_eq!(
            fallback_reason(&n, &domain, &EnumOptions::default()),
            Some("a vertex lies on a unit's hyperplane")
        );
    }
}
