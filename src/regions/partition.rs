//! [`Partition`]: every linear region of a network inside a domain.

use std::time::Duration;

use ndarray::ArrayView1;

use super::region::RegionBuf;
use super::table::{RegionTable, Regions};
use super::{Method, Region, ThinCell};
use crate::run::Outcome;
use crate::{Domain, Network, PatternRef};

/// Counters of an enumeration run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct EnumStats {
    /// Regions found.
    pub regions: usize,
    /// Candidate cells rejected as thin: full-dimensional, with a Chebyshev
    /// radius at most the tolerance. The LP walk decides in exact arithmetic
    /// that each has an interior; the 2-D splitter counts every cell it
    /// drops for its radius.
    pub rejected_thin: usize,
    /// Candidate patterns whose sets the LP walk found flat (not empty, but
    /// without interior, decided in exact arithmetic): plain flips across
    /// degenerate facets, the losing sides of ties. Not regions, and not
    /// thin cells; the splitter never tries such sets (always 0 there).
    #[cfg_attr(feature = "serde", serde(default))]
    pub rejected_flat: usize,
    /// Linear programs solved.
    pub lps_solved: usize,
    /// Linear programs skipped because a cheap test decided.
    pub lps_skipped: usize,
    /// Wall time.
    pub elapsed: Duration,
    /// The algorithm that ran.
    pub method: Method,
}

/// Every linear region of a network inside a domain.
///
/// # Invariants
///
/// Regions are full-dimensional in the domain (Chebyshev radius above the
/// thin-cell tolerance) with distinct patterns; they cover the domain and
/// overlap only on their boundaries, so their volumes sum to the domain's;
/// adjacency is symmetric. Regions are sorted by pattern, so the result does
/// not depend on the thread count.
#[derive(Clone, Debug)]
pub struct Partition {
    pub(crate) table: RegionTable,
    pub(crate) stats: EnumStats,
    pub(crate) domain: Domain,
    pub(crate) network: Network,
    pub(crate) layer_counts: Option<Vec<usize>>,
    /// The rejected thin cells, sorted by pattern, when recorded.
    pub(crate) thin: Vec<ThinCell>,
    pub(crate) outcome: Outcome,
}

impl Partition {
    /// Assembles a partition: sorts regions by pattern, remaps the neighbour
    /// indices (given as indices into `regions` before sorting).
    pub(crate) fn assemble(
        regions: Vec<RegionBuf>,
        stats: EnumStats,
        domain: Domain,
        network: Network,
    ) -> Partition {
        let mut table = Partition::table_for(&domain, &network);
        table.reserve_for(&regions);
        // Each region is moved into the table and freed in turn.
        for r in regions {
            table.push(r);
        }
        Partition::from_table(table, stats, domain, network)
    }

    /// An empty table for the regions of `network` in `domain`.
    pub(crate) fn table_for(domain: &Domain, network: &Network) -> RegionTable {
        RegionTable::new(domain.dim(), network.output_dim(), network.unit_count())
    }

    /// Assembles a partition from a filled table, as [`Partition::assemble`].
    pub(crate) fn from_table(
        mut table: RegionTable,
        stats: EnumStats,
        domain: Domain,
        network: Network,
    ) -> Partition {
        table.sort_by_pattern();
        table.shrink_to_fit();
        Partition {
            stats: EnumStats {
                regions: table.len(),
                ..stats
            },
            table,
            domain,
            network,
            layer_counts: None,
            thin: Vec::new(),
            outcome: Outcome::Complete,
        }
    }

    /// Records the rejected thin cells, sorted by pattern (the order in which
    /// a parallel run found them varies).
    pub(crate) fn with_thin_cells(mut self, mut cells: Vec<ThinCell>) -> Partition {
        cells.sort_by(|a, b| a.pattern.cmp(&b.pattern));
        self.thin = cells;
        self
    }

    /// Records how the run ended.
    pub(crate) fn with_outcome(mut self, outcome: Outcome) -> Partition {
        self.outcome = outcome;
        self
    }

    /// How the run ended: [`Outcome::Complete`], or the limit that stopped
    /// it, in which case the partition holds the regions found before the
    /// stop (with their adjacency among themselves) and does not cover the
    /// domain.
    pub fn outcome(&self) -> Outcome {
        self.outcome
    }

    /// Records the number of cells after each nonlinearity.
    pub(crate) fn with_layer_counts(mut self, counts: Vec<usize>) -> Partition {
        self.layer_counts = Some(counts);
        self
    }

    /// The number of regions.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// True when no region was found.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The regions, sorted by pattern: views into the partition's buffers
    /// ([`Regions::get`], [`Regions::iter`]; [`Region::to_owned`] copies one
    /// out).
    pub fn regions(&self) -> Regions<'_> {
        Regions { table: &self.table }
    }

    /// Region `i` (in pattern order).
    ///
    /// # Panics
    ///
    /// When `i >= self.len()` (as indexing a slice); [`Regions::get`] is the
    /// checked form.
    pub fn region(&self, i: usize) -> Region<'_> {
        self.table.region(i)
    }

    /// The bytes the partition's regions hold on the heap (every buffer's
    /// capacity; the network, domain and thin cells not counted): divided by
    /// [`Partition::len`], the memory per region.
    pub fn memory_bytes(&self) -> usize {
        self.table.memory_bytes()
    }

    /// The index of the region with this pattern (a `&Pattern` or a
    /// [`crate::PatternRef`], such as another partition's
    /// [`Region::pattern`]).
    pub fn find<'p>(&self, pattern: impl Into<PatternRef<'p>>) -> Option<usize> {
        let pattern = pattern.into();
        // Regions are sorted by distinct patterns: no index to store.
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.table.pattern(mid).compare(pattern) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(mid),
            }
        }
        None
    }

    /// Candidate cells rejected as thin (see [`EnumStats::rejected_thin`]:
    /// for the LP walk, full-dimensional cells only; its flat candidates are
    /// in [`EnumStats::rejected_flat`]).
    pub fn rejected_thin(&self) -> usize {
        self.stats.rejected_thin
    }

    /// The rejected thin cells (pattern, witness point, radius), sorted by
    /// pattern, when [`super::EnumOptions::record_thin`] was set; empty
    /// otherwise ([`Partition::rejected_thin`] counts them either way).
    pub fn thin_cells(&self) -> &[ThinCell] {
        &self.thin
    }

    /// Counters of the run.
    pub fn stats(&self) -> &EnumStats {
        &self.stats
    }

    /// The number of cells after each nonlinearity (the partition by the
    /// first `k` hidden layers, `k = 1, 2, ...`), before thin cells are
    /// rejected; known for [`Method::PlaneSplit`] runs only.
    pub fn layer_counts(&self) -> Option<&[usize]> {
        self.layer_counts.as_deref()
    }

    /// The domain.
    pub fn domain(&self) -> &Domain {
        &self.domain
    }

    /// The network.
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// The adjacency (dual) graph as edges `(i, j)` with `i < j`.
    pub fn adjacency(&self) -> Vec<(usize, usize)> {
        let mut edges = Vec::new();
        for (i, r) in self.regions().iter().enumerate() {
            edges.extend(r.neighbors.iter().filter(|&&j| j > i).map(|&j| (i, j)));
        }
        edges
    }

    /// The region holding the point `y` (domain coordinates): the region of its
    /// pattern, or, for a point on a boundary or in a rejected thin cell, the
    /// region whose closure contains it with the largest margin.
    pub fn locate(&self, y: ArrayView1<f64>) -> Option<usize> {
        if y.len() != self.domain.dim() || y.iter().any(|v| !v.is_finite()) {
            return None;
        }
        let x = self.domain.to_input(y);
        if let Some(i) = self.network.pattern(x.view()).ok().and_then(|p| self.find(&p)) {
            return Some(i);
        }
        let scale = 1.0 + y.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        self.regions()
            .iter()
            .enumerate()
            .map(|(i, r)| (i, r.polytope.max_violation(y)))
            .filter(|&(_, v)| v <= crate::tol::TOL_LP_FEAS * scale)
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(i, _)| i)
    }

    /// The sum of the regions' volumes ([`Region::volume`]; areas in 2-D), in
    /// every dimension: the domain's volume up to rounding when the run was
    /// complete and no thin cell was rejected.
    pub fn total_volume(&self) -> f64 {
        use rayon::iter::ParallelIterator;
        let volumes: Vec<f64> = self.regions().par_iter().map(|r| r.volume()).collect();
        // Summed in region order: the same bits for every thread count.
        volumes.iter().sum()
    }
}
