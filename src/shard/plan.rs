//! Splitting a domain into slabs of about equal work.

use std::collections::{HashMap, HashSet};

use ndarray::{Array1, Array2};

use crate::lp::LpStats;
use crate::regions::setup::{lp_bounding_box, Setup};
use crate::regions::EnumOptions;
use crate::rng::SplitMix64;
use crate::tol::TOL_LP_FEAS;
use crate::{Domain, Error, Network, Pattern, Result};

/// Settings of [`plan`].
#[derive(Clone, Debug)]
pub struct PlanOptions {
    /// Thin slabs per shard that the work estimate is sampled in.
    pub slabs_per_shard: usize,
    /// Sample points per thin slab; the patterns among them estimate the
    /// slab's share of the regions (see [`plan`]).
    pub samples_per_slab: usize,
    /// The options every shard runs with (`tol_radius` is fixed to the whole
    /// domain's value by [`plan`]).
    pub enumerate: EnumOptions,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            slabs_per_shard: 16,
            samples_per_slab: 64,
            enumerate: EnumOptions::default(),
        }
    }
}

/// One shard of a domain: the slab `lo <= y[axis] <= hi` of it (a missing
/// bound is the domain's own side).
///
/// A job names its slab only; the network and the whole domain travel once,
/// beside the jobs, so a job is a few bytes ([`ShardJob::to_bytes`]).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ShardJob {
    /// The shard's index, `0..count`.
    pub index: usize,
    /// The number of shards of the domain.
    pub count: usize,
    /// The domain coordinate that is cut.
    pub axis: usize,
    /// The lower cut (`None` for the first shard).
    pub lo: Option<f64>,
    /// The upper cut (`None` for the last shard).
    pub hi: Option<f64>,
    /// The thin-cell tolerance of the whole domain, which every shard uses so
    /// that a shard rejects exactly the cells the whole run would.
    pub tol_radius: f64,
}

impl ShardJob {
    /// The shard's own domain: a box for boxes, otherwise the domain's
    /// constraints and the cuts as a polytope of the same coordinates.
    ///
    /// Rows keep their indices: row `i` of the whole domain is row `i` of the
    /// shard, and the cuts come after them (for boxes, the cuts replace the
    /// bounds of `axis`), so a region that does not touch a cut has the same
    /// H-representation in the shard and in the whole domain.
    ///
    /// # Errors
    ///
    /// Domain validation errors; [`Error::Invalid`] when `axis` is not a
    /// coordinate of the domain.
    pub fn domain(&self, whole: &Domain) -> Result<Domain> {
        whole.validate()?;
        if self.axis >= whole.dim() {
            return Err(Error::invalid(
                "shard job",
                format!("axis {} of a {}-dimensional domain", self.axis, whole.dim()),
            ));
        }
        if let (Some((mut lo, mut hi)), None) = (whole.bounding_box(), whole.as_plane()) {
            if let Some(v) = self.lo {
                lo[self.axis] = v;
            }
            if let Some(v) = self.hi {
                hi[self.axis] = v;
            }
            return Ok(Domain::boxed(lo, hi));
        }
        let dom = whole.constraints()?;
        let cuts = self.cut_rows(dom.dim());
        let mut a = dom.a.clone();
        let mut b = dom.b.clone();
        for (row, rhs) in cuts {
            a.push_row(row.view())
                .map_err(|e| Error::invalid("shard job", e.to_string()))?;
            b = ndarray::concatenate![ndarray::Axis(0), b, ndarray::array![rhs]];
        }
        let (basis, origin) = whole.embedding();
        if whole.as_plane().is_none()
            && basis.nrows() == whole.input_dim()
            && basis == Array2::<f64>::eye(basis.nrows())
        {
            return Ok(Domain::polytope(a, b));
        }
        Ok(Domain::affine(origin, basis, crate::Polytope { a, b }))
    }

    /// The rows `row . y <= rhs` of the cuts.
    fn cut_rows(&self, dim: usize) -> Vec<(Array1<f64>, f64)> {
        let unit = |sign: f64| {
            let mut r = Array1::zeros(dim);
            r[self.axis] = sign;
            r
        };
        let mut rows = Vec::new();
        if let Some(v) = self.lo {
            rows.push((unit(-1.0), -v));
        }
        if let Some(v) = self.hi {
            rows.push((unit(1.0), v));
        }
        rows
    }

    /// The rows of the shard's domain that are cuts (borders with another
    /// shard), given the whole domain.
    ///
    /// # Errors
    ///
    /// Domain validation errors.
    pub(crate) fn border_rows(&self, whole: &Domain) -> Result<Vec<usize>> {
        if whole.bounding_box().is_some() && whole.as_plane().is_none() {
            // Box rows are (upper, lower) per coordinate.
            let mut rows = Vec::new();
            if self.hi.is_some() {
                rows.push(2 * self.axis);
            }
            if self.lo.is_some() {
                rows.push(2 * self.axis + 1);
            }
            return Ok(rows);
        }
        let m = whole.constraints()?.len();
        Ok((m..m + self.cut_rows(whole.dim()).len()).collect())
    }
}

/// Splits `domain` into `shards` slabs across its widest coordinate, with
/// about the same estimated number of regions in each: sample points in thin
/// slabs give the patterns met in each slab, a pattern met in `m` slabs
/// counts `1 / m` in each, and the cuts fall at the quantiles of these
/// counts.
///
/// # Errors
///
/// [`Error::Invalid`] for zero shards, zero samples or invalid options;
/// domain validation errors; [`Error::Shape`] when the domain lives in
/// another input space.
///
/// # Examples
///
/// ```
/// use cpwl::shard::{plan, PlanOptions};
/// use cpwl::{Domain, Network};
/// use ndarray::array;
/// let net = Network::builder(2)
///     .dense(array![[1.0, 0.0], [0.0, 1.0]], array![0.0, 0.0])?
///     .relu()
///     .build()?;
/// let jobs = plan(&net, &Domain::cube(2, -1.0, 1.0), 3, &PlanOptions::default())?;
/// assert_eq!(jobs.len(), 3);
/// assert!(jobs[0].lo.is_none() && jobs[2].hi.is_none());
/// assert!(jobs[0].hi < jobs[1].hi);
/// # Ok::<(), cpwl::Error>(())
/// ```
pub fn plan(net: &Network, domain: &Domain, shards: usize, opts: &PlanOptions) -> Result<Vec<ShardJob>> {
    check_plan(net, domain, shards, opts)?;
    let mut lp = LpStats::default();
    let setup = Setup::new(domain, opts.enumerate.tol_radius, &mut lp)?;
    let dom = domain.constraints()?;
    let (lo, hi) = match &setup.bbox {
        Some(b) => b.clone(),
        None => lp_bounding_box(&dom, &mut lp)?,
    };
    let axis = widest(&lo, &hi);
    let slabs = shards * opts.slabs_per_shard;
    let width = (hi[axis] - lo[axis]) / slabs as f64;
    let seen: Vec<HashSet<Pattern>> = (0..slabs)
        .map(|s| {
            slab_patterns(
                net,
                domain,
                &dom,
                (&lo, &hi),
                axis,
                s,
                width,
                opts.samples_per_slab,
            )
        })
        .collect::<Result<_>>()?;
    let weights = region_shares(&seen);
    let cuts = quantile_cuts(&weights, shards, lo[axis], width);
    Ok((0..shards)
        .map(|i| ShardJob {
            index: i,
            count: shards,
            axis,
            lo: (i > 0).then(|| cuts[i - 1]),
            hi: (i + 1 < shards).then(|| cuts[i]),
            tol_radius: setup.tol_radius,
        })
        .collect())
}

fn check_plan(net: &Network, domain: &Domain, shards: usize, opts: &PlanOptions) -> Result<()> {
    if shards == 0 {
        return Err(Error::invalid("shards", "must be at least 1"));
    }
    if opts.slabs_per_shard == 0 || opts.samples_per_slab == 0 {
        return Err(Error::invalid(
            "plan options",
            "slabs_per_shard and samples_per_slab must be at least 1",
        ));
    }
    opts.enumerate.validate()?;
    domain.validate()?;
    let (want, got) = (net.input_dim(), domain.input_dim());
    if want != got {
        return Err(Error::shape("domain", format!("input dimension {want}"), got));
    }
    Ok(())
}

/// The coordinate of the box's longest side (the first of equal ones).
fn widest(lo: &Array1<f64>, hi: &Array1<f64>) -> usize {
    let side = |i: usize| hi[i] - lo[i];
    (1..lo.len()).fold(0, |best, i| if side(i) > side(best) { i } else { best })
}

/// The distinct patterns of deterministic sample points of thin slab `s`
/// that lie in the domain.
#[allow(clippy::too_many_arguments)]
fn slab_patterns(
    net: &Network,
    domain: &Domain,
    dom: &crate::Polytope,
    (lo, hi): (&Array1<f64>, &Array1<f64>),
    axis: usize,
    s: usize,
    width: f64,
    samples: usize,
) -> Result<HashSet<Pattern>> {
    // Seeded by the slab: a plan depends only on its inputs.
    let mut rng = SplitMix64(s as u64);
    let mut seen: HashSet<Pattern> = HashSet::new();
    let scale = 1.0 + lo.iter().chain(hi).fold(0.0f64, |m, v| m.max(v.abs()));
    for _ in 0..samples {
        let mut y = Array1::zeros(lo.len());
        for k in 0..lo.len() {
            let (a, w) = if k == axis {
                (lo[axis] + s as f64 * width, width)
            } else {
                (lo[k], hi[k] - lo[k])
            };
            y[k] = a + w * (1.0 - rng.next_open_unit());
        }
        if dom.contains(y.view(), TOL_LP_FEAS * scale) {
            seen.insert(net.pattern(domain.to_input(y.view()).view())?);
        }
    }
    Ok(seen)
}

/// The estimated number of regions in each thin slab: a region seen in `m`
/// slabs counts `1 / m` in each, so that a wide region does not weigh like
/// many small ones.
fn region_shares(seen: &[HashSet<Pattern>]) -> Vec<f64> {
    let mut slabs_of: HashMap<&Pattern, usize> = HashMap::new();
    for p in seen.iter().flatten() {
        *slabs_of.entry(p).or_default() += 1;
    }
    seen.iter()
        .map(|set| set.iter().map(|p| 1.0 / slabs_of[p] as f64).sum())
        .collect()
}

/// The `shards - 1` cuts that split the cumulative weight of the thin slabs
/// (starting at `start`, `width` wide) into equal parts, linear within a slab.
/// Every shard gets a positive share of the weight, so the cuts increase
/// strictly.
fn quantile_cuts(weights: &[f64], shards: usize, start: f64, width: f64) -> Vec<f64> {
    let total: f64 = weights.iter().sum();
    let mut cuts = Vec::with_capacity(shards.saturating_sub(1));
    let mut acc = 0.0;
    let mut slab = 0;
    for j in 1..shards {
        let target = total * j as f64 / shards as f64;
        while slab < weights.len() && acc + weights[slab] < target {
            acc += weights[slab];
            slab += 1;
        }
        let w = weights.get(slab).copied().unwrap_or(0.0);
        let frac = if w > 0.0 { (target - acc) / w } else { 0.0 };
        cuts.push(start + (slab as f64 + frac) * width);
    }
    cuts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_split_the_weight_evenly() {
        // Weight 1 per slab of width 1 from 0: the cuts of 4 equal shares of
        // 8 slabs are at 2, 4, 6.
        assert_eq!(quantile_cuts(&[1.0; 8], 4, 0.0, 1.0), vec![2.0, 4.0, 6.0]);
        // All weight in the last two slabs (6..8): halves at 7.
        assert_eq!(
            quantile_cuts(&[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0, 2.0], 2, 0.0, 1.0),
            vec![7.0]
        );
        // Weight 3 in slab 1: the middle of 3 shares is at 1 + 1/3 and 1 + 2/3.
        let cuts = quantile_cuts(&[0.0, 3.0, 0.0], 3, 0.0, 1.0);
        assert!((cuts[0] - 4.0 / 3.0).abs() < 1e-15 && (cuts[1] - 5.0 / 3.0).abs() < 1e-15);
    }
}
