//! [`Partition`] with serde (feature `serde`): stored without its pattern
//! index, which is rebuilt, and checked when read back so that later calls
//! ([`Partition::locate`], [`Partition::adjacency`]) cannot index out of range.

use serde::{Deserialize, Serialize};

use super::{EnumStats, Partition, Region};
use crate::run::Outcome;
use crate::{Domain, Error, Network, Result};

/// The stored fields of a [`Partition`], borrowed for writing.
#[derive(Serialize)]
struct PartitionRef<'a> {
    regions: &'a [Region],
    stats: &'a EnumStats,
    domain: &'a Domain,
    network: &'a Network,
    outcome: Outcome,
}

/// The stored fields of a [`Partition`], owned for reading.
#[derive(Deserialize)]
struct StoredPartition {
    regions: Vec<Region>,
    stats: EnumStats,
    domain: Domain,
    network: Network,
    /// Absent in partitions stored before runs reported their outcome.
    #[serde(default)]
    outcome: Outcome,
}

impl Serialize for Partition {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        PartitionRef {
            regions: &self.regions,
            stats: &self.stats,
            domain: &self.domain,
            network: &self.network,
            outcome: self.outcome,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Partition {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let stored = StoredPartition::deserialize(d)?;
        check(&stored).map_err(serde::de::Error::custom)?;
        Ok(Partition {
            stats: EnumStats {
                regions: stored.regions.len(),
                ..stored.stats
            },
            regions: stored.regions,
            domain: stored.domain,
            network: stored.network,
            layer_counts: None,
            thin: Vec::new(),
            outcome: stored.outcome,
        })
    }
}

/// The invariants later calls rely on: one input space, regions in the
/// domain's coordinates, sorted distinct patterns of the right length,
/// neighbour indices in range.
fn check(p: &StoredPartition) -> Result<()> {
    p.domain.validate()?;
    if p.domain.input_dim() != p.network.input_dim() {
        return Err(Error::shape(
            "stored partition domain",
            p.network.input_dim(),
            p.domain.input_dim(),
        ));
    }
    let (dim, units, n) = (p.domain.dim(), p.network.unit_count(), p.regions.len());
    for (i, r) in p.regions.iter().enumerate() {
        let what = format!("stored region {i}");
        let shapes_fit = r.polytope.a.ncols() == dim
            && r.polytope.a.nrows() == r.polytope.b.len()
            && r.center.len() == dim
            && r.affine.a.ncols() == dim
            && r.affine.a.nrows() == r.affine.b.len();
        if !shapes_fit {
            return Err(Error::shape(
                what,
                format!("domain dimension {dim}"),
                "other shapes",
            ));
        }
        if r.pattern.len() != units {
            return Err(Error::shape(format!("{what} pattern"), units, r.pattern.len()));
        }
        if let Some(j) = r.neighbors.iter().find(|&&j| j >= n) {
            return Err(Error::invalid(what, format!("neighbour {j} of {n} regions")));
        }
    }
    if p.regions.windows(2).any(|w| w[0].pattern >= w[1].pattern) {
        return Err(Error::invalid(
            "stored partition",
            "regions must be sorted by distinct patterns",
        ));
    }
    Ok(())
}
