//! Running one shard, and joining shard results into the whole partition.

use std::collections::HashMap;

use rayon::prelude::*;

use super::ShardJob;
use crate::backend::CpuBackend;
use crate::lp::LpStats;
use crate::regions::setup::Setup;
use crate::regions::walk::{analyse, Cell};
use crate::regions::{enumerate, EnumOptions, EnumStats, Method, Partition, Region, RegionBuf, RowSource};
use crate::{Domain, Error, Network, Pattern, Result};

/// A region of one shard, ready to be joined with the other pieces of its
/// pattern.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Piece {
    /// The region within the shard (its neighbour list empty: see
    /// [`Piece::neighbors`]).
    pub region: RegionBuf,
    /// The patterns of its neighbours within the shard.
    pub neighbors: Vec<Pattern>,
    /// True when a cut between shards is one of its facets: its region in
    /// the whole domain is then recomputed by the merge.
    pub border: bool,
}

/// Everything one shard found, in a form that any engine can move
/// ([`ShardResult::to_bytes`], or serde under the `serde` feature).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ShardResult {
    /// The job's index.
    pub index: usize,
    /// The number of shards of the domain.
    pub count: usize,
    /// The thin-cell tolerance the shard ran with ([`ShardJob::tol_radius`]).
    pub tol_radius: f64,
    /// The shard's regions.
    pub pieces: Vec<Piece>,
    /// The shard run's counters.
    pub stats: EnumStats,
}

/// Enumerates one shard: an ordinary [`enumerate`] run on the shard's domain
/// ([`ShardJob::domain`]) with the whole domain's thin-cell tolerance.
///
/// # Errors
///
/// As [`enumerate`]; [`Error::Budget`] when a limit or the cancel flag stops
/// the shard (a shard result is never partial: a partial one could not be
/// merged exactly); [`ShardJob::domain`]'s errors.
pub fn run_shard(net: &Network, whole: &Domain, job: &ShardJob, opts: &EnumOptions) -> Result<ShardResult> {
    let domain = job.domain(whole)?;
    let opts = EnumOptions {
        tol_radius: Some(job.tol_radius),
        ..opts.clone()
    };
    let part = enumerate(net, &domain, &opts)?;
    if !part.outcome().is_complete() {
        return Err(Error::Budget {
            limit: format!("shard {} of {}: {}", job.index, job.count, part.outcome()),
        });
    }
    let border_rows = job.border_rows(whole)?;
    let pieces = part
        .regions()
        .iter()
        .map(|r| piece(&part, r, &border_rows))
        .collect();
    Ok(ShardResult {
        index: job.index,
        count: job.count,
        tol_radius: job.tol_radius,
        pieces,
        stats: *part.stats(),
    })
}

/// One region of a shard partition as a piece.
fn piece(part: &Partition, r: Region<'_>, border_rows: &[usize]) -> Piece {
    let border = r
        .sources
        .iter()
        .any(|s| matches!(s, RowSource::Domain(i) if border_rows.contains(i)));
    let neighbors = r
        .neighbors
        .iter()
        .map(|&j| part.region(j).pattern().to_owned())
        .collect();
    Piece {
        region: RegionBuf {
            neighbors: Vec::new(),
            ..r.to_owned()
        },
        neighbors,
        border,
    }
}

/// The shards of `count` that `results` lack, in order: the jobs to run
/// again after a failure (see the guide in `docs/distributed.md`).
pub fn missing_shards(count: usize, results: &[ShardResult]) -> Vec<usize> {
    let mut have = vec![false; count];
    for r in results {
        if let Some(slot) = have.get_mut(r.index) {
            *slot = true;
        }
    }
    (0..count).filter(|&i| !have[i]).collect()
}

/// A region of the whole domain and the patterns next to it (not all of
/// them regions): what the owner of a pattern hands to the final assembly.
#[derive(Clone, Debug)]
pub(crate) struct Joined {
    pub region: RegionBuf,
    pub neighbors: Vec<Pattern>,
    pub lp: (usize, usize),
}

/// Joins the pieces of one pattern into its region of the whole domain.
///
/// One piece off every cut is the region itself. Otherwise the pattern's
/// region (convex, so one region however many shards it crosses) is analysed
/// again on the whole domain by the walk's own code, which gives its minimal
/// H-representation and the patterns across its facets; its volume is the
/// sum of the pieces'. `None` when the whole domain has no full-dimensional
/// cell of the pattern (never, for pieces of a valid run).
pub(crate) fn join(
    net: &Network,
    whole: &Domain,
    setup: &Setup,
    mut pieces: Vec<Piece>,
) -> Result<Option<Joined>> {
    if pieces.len() == 1 && !pieces[0].border {
        let p = pieces.pop().expect("one piece");
        return Ok(Some(Joined {
            region: p.region,
            neighbors: p.neighbors,
            lp: (0, 0),
        }));
    }
    let pattern = pieces[0].region.pattern.clone();
    let mut lp = LpStats::default();
    let Cell::Region {
        mut region, across, ..
    } = analyse(net, whole, setup, &CpuBackend::serial(), &pattern, &mut lp)?
    else {
        return Ok(None);
    };
    let volumes: Option<Vec<f64>> = pieces.iter().map(|p| p.region.volume).collect();
    region.volume = volumes.map(|v| v.iter().sum()).or(region.volume);
    let mut neighbors = across;
    neighbors.extend(pieces.into_iter().flat_map(|p| p.neighbors));
    Ok(Some(Joined {
        region: *region,
        neighbors,
        lp: (lp.lps_solved, lp.lps_skipped),
    }))
}

/// The walk's view of the whole domain, which [`join`] needs.
pub(crate) fn whole_setup(whole: &Domain, tol_radius: f64) -> Result<Setup> {
    let opts = EnumOptions {
        tol_radius: Some(tol_radius),
        ..EnumOptions::default()
    };
    Setup::new(whole, opts.tol_radius, &mut LpStats::default())
}

/// Groups pieces by pattern.
pub(crate) fn group(pieces: impl IntoIterator<Item = Piece>) -> Vec<Vec<Piece>> {
    let mut groups: HashMap<Pattern, Vec<Piece>> = HashMap::new();
    for p in pieces {
        groups.entry(p.region.pattern.clone()).or_default().push(p);
    }
    groups.into_values().collect()
}

/// The partition of the whole domain from the joined regions: neighbours are
/// the listed patterns that are regions, both ways.
pub(crate) fn assemble(
    joined: Vec<Joined>,
    mut stats: EnumStats,
    whole: &Domain,
    net: &Network,
) -> Partition {
    let index: HashMap<Pattern, usize> = joined
        .iter()
        .enumerate()
        .map(|(i, j)| (j.region.pattern.clone(), i))
        .collect();
    let mut edges = Vec::new();
    let mut regions = Vec::with_capacity(joined.len());
    for (a, j) in joined.into_iter().enumerate() {
        stats.lps_solved += j.lp.0;
        stats.lps_skipped += j.lp.1;
        edges.extend(j.neighbors.iter().filter_map(|q| index.get(q)).map(|&b| (a, b)));
        regions.push(j.region);
    }
    for (a, b) in edges {
        if a != b {
            regions[a].neighbors.push(b);
            regions[b].neighbors.push(a);
        }
    }
    Partition::assemble(regions, stats, whole.clone(), net.clone())
}

/// The counters of several shard runs together.
pub(crate) fn sum_stats<'a>(all: impl IntoIterator<Item = &'a EnumStats>) -> EnumStats {
    let mut total = EnumStats {
        method: Method::Lp,
        ..EnumStats::default()
    };
    for (i, s) in all.into_iter().enumerate() {
        if i == 0 {
            total.method = s.method;
        }
        total.rejected_thin += s.rejected_thin;
        total.rejected_flat += s.rejected_flat;
        total.lps_solved += s.lps_solved;
        total.lps_skipped += s.lps_skipped;
        total.elapsed += s.elapsed;
    }
    total
}

/// Joins the results of every shard of `whole` into its partition: the same
/// regions (patterns, facets, neighbours; volumes to rounding) as one
/// [`enumerate`] run on the whole domain.
///
/// Regions that no cut touches are taken as they are; the pieces of a region
/// cut by shard borders are joined by pattern (see the module docs).
///
/// # Errors
///
/// [`Error::Invalid`] naming the missing shards when `results` does not hold
/// every shard exactly once, or naming a shard whose result belongs to
/// another network or domain; [`Error::Lp`] when a joined region's LP fails.
///
/// # Examples
///
/// ```
/// use cpwl::regions::{enumerate, EnumOptions};
/// use cpwl::shard::{merge, plan, run_shard, PlanOptions};
/// use cpwl::{Domain, Network};
/// use ndarray::array;
/// let net = Network::builder(2)
///     .dense(array![[1.0, 0.3], [-0.2, 1.0], [0.5, 0.5]], array![0.1, 0.0, -0.2])?
///     .relu()
///     .dense(array![[1.0, 1.0, 1.0]], array![0.0])?
///     .build()?;
/// let domain = Domain::cube(2, -1.0, 1.0);
/// let opts = PlanOptions::default();
/// let jobs = plan(&net, &domain, 3, &opts)?;
/// let results = jobs
///     .iter()
///     .map(|job| run_shard(&net, &domain, job, &opts.enumerate))
///     .collect::<cpwl::Result<Vec<_>>>()?;
/// let merged = merge(&net, &domain, results)?;
/// let whole = enumerate(&net, &domain, &EnumOptions::default())?;
/// assert_eq!(merged.len(), whole.len());
/// assert_eq!(merged.adjacency(), whole.adjacency());
/// # Ok::<(), cpwl::Error>(())
/// ```
pub fn merge(net: &Network, whole: &Domain, results: Vec<ShardResult>) -> Result<Partition> {
    let count = check_results(&results)?;
    let tol_radius = check_pieces(net, whole, count, &results)?;
    let setup = whole_setup(whole, tol_radius)?;
    let stats = sum_stats(results.iter().map(|r| &r.stats));
    let groups = group(results.into_iter().flat_map(|r| r.pieces));
    let joined: Vec<Option<Joined>> = groups
        .into_par_iter()
        .map(|g| join(net, whole, &setup, g))
        .collect::<Result<_>>()?;
    Ok(assemble(
        joined.into_iter().flatten().collect(),
        stats,
        whole,
        net,
    ))
}

/// The shard count, after checking that every shard is there exactly once.
fn check_results(results: &[ShardResult]) -> Result<usize> {
    let count = results.first().map_or(0, |r| r.count);
    if count == 0 {
        return Err(Error::invalid("shard results", "none given"));
    }
    if let Some(r) = results.iter().find(|r| r.count != count || r.index >= count) {
        return Err(Error::invalid(
            "shard results",
            format!("shard {} of {} mixed with shards of {count}", r.index, r.count),
        ));
    }
    let missing = missing_shards(count, results);
    if !missing.is_empty() {
        return Err(Error::invalid(
            "shard results",
            format!("shards {missing:?} of {count} missing: run them again"),
        ));
    }
    if results.len() != count {
        return Err(Error::invalid("shard results", "a shard is given twice"));
    }
    Ok(count)
}

/// The thin-cell tolerance the shards ran with (the whole domain's), after
/// checking that every shard used the same one and that the pieces live in
/// the whole domain's coordinates and the network's pattern space.
fn check_pieces(net: &Network, whole: &Domain, count: usize, results: &[ShardResult]) -> Result<f64> {
    let tol = results[0].tol_radius;
    let units = net.unit_count();
    for r in results {
        if r.tol_radius.to_bits() != tol.to_bits() || !tol.is_finite() {
            return Err(Error::invalid(
                "shard results",
                format!(
                    "shard {} of {count} ran with tol_radius {} instead of {tol}",
                    r.index, r.tol_radius
                ),
            ));
        }
        let foreign = |p: &&Piece| !p.region.fits(whole.dim(), net.output_dim(), units);
        if let Some(p) = r.pieces.iter().find(foreign) {
            return Err(Error::invalid(
                "shard results",
                format!(
                    "shard {} of {count} has region {} of another network or domain",
                    r.index, p.region.pattern
                ),
            ));
        }
    }
    Ok(tol)
}
