//! [`Partition`] with serde (feature `serde`): stored without its pattern
//! index, which is rebuilt, and checked when read back so that later calls
//! ([`Partition::locate`], [`Partition::adjacency`]) cannot index out of range.
//!
//! The format is that of partitions stored before the compact storage: the
//! regions are written one by one as [`RegionBuf`]s (a copy of one region at
//! a time), and read back into the partition's buffers.

use serde::{Deserialize, Serialize};

use super::table::Regions;
use super::{EnumStats, Partition, RegionBuf};
use crate::run::Outcome;
use crate::{Domain, Error, Network, Result};

/// The stored fields of a [`Partition`], borrowed for writing.
#[derive(Serialize)]
struct PartitionRef<'a> {
    regions: OwnedRegions<'a>,
    stats: &'a EnumStats,
    domain: &'a Domain,
    network: &'a Network,
    outcome: Outcome,
}

/// The stored fields of a [`Partition`], owned for reading.
#[derive(Deserialize)]
struct StoredPartition {
    regions: Vec<RegionBuf>,
    stats: EnumStats,
    domain: Domain,
    network: Network,
    /// Absent in partitions stored before runs reported their outcome.
    #[serde(default)]
    outcome: Outcome,
}

/// The regions, written as a sequence of [`RegionBuf`]s.
struct OwnedRegions<'a>(Regions<'a>);

impl Serialize for OwnedRegions<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|r| r.to_owned()))
    }
}

impl Serialize for Partition {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        PartitionRef {
            regions: OwnedRegions(self.regions()),
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
        // Sorted already (checked): the sort keeps the order and the neighbours.
        Ok(
            Partition::assemble(stored.regions, stored.stats, stored.domain, stored.network)
                .with_outcome(stored.outcome),
        )
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
    let outputs = p.network.output_dim();
    for (i, r) in p.regions.iter().enumerate() {
        let what = format!("stored region {i}");
        if r.pattern.len() != units {
            return Err(Error::shape(format!("{what} pattern"), units, r.pattern.len()));
        }
        if !r.fits(dim, outputs, units) {
            return Err(Error::shape(
                what,
                format!("domain dimension {dim}, {outputs} outputs, one source per row"),
                "other shapes",
            ));
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
