//! [`Partition`] with serde (feature `serde`): stored without its pattern
//! index, which is rebuilt, and checked when read back so that later calls
//! ([`Partition::locate`], [`Partition::adjacency`]) cannot index out of range.
//!
//! The format is that of partitions stored before the compact storage: the
//! regions are written one by one in the form of [`RegionBuf`]s, straight
//! from the partition's buffers, and read back into new buffers.

use serde::{Deserialize, Serialize};

use ndarray::{ArrayView1, ArrayView2};

use super::hrep::RowSource;
use super::table::Regions;
use super::{EnumStats, Partition, Region, RegionBuf};
use crate::run::Outcome;
use crate::PatternRef;
use crate::{Domain, Error, Network, Result};

/// The stored fields of a [`Partition`], borrowed for writing.
#[derive(Serialize)]
struct PartitionRef<'a> {
    regions: RegionsOut<'a>,
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
struct RegionsOut<'a>(Regions<'a>);

impl Serialize for RegionsOut<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(RegionOut::of))
    }
}

/// A region written from its view with [`RegionBuf`]'s derived format: its
/// name, its fields in order, and theirs (the pattern as text).
#[derive(Serialize)]
#[serde(rename = "RegionBuf")]
struct RegionOut<'a> {
    #[serde(serialize_with = "pattern_text")]
    pattern: PatternRef<'a>,
    polytope: MatrixOut<'a>,
    sources: &'a [RowSource],
    center: ArrayView1<'a, f64>,
    radius: f64,
    affine: MatrixOut<'a>,
    neighbors: &'a [usize],
    volume: Option<f64>,
    polygon: Option<&'a [[f64; 2]]>,
}

/// [`crate::Polytope`]'s or [`crate::Affine`]'s format (the struct `name`
/// with fields `a` and `b`), from a view.
struct MatrixOut<'a> {
    name: &'static str,
    a: ArrayView2<'a, f64>,
    b: ArrayView1<'a, f64>,
}

impl Serialize for MatrixOut<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut out = s.serialize_struct(self.name, 2)?;
        out.serialize_field("a", &self.a)?;
        out.serialize_field("b", &self.b)?;
        out.end()
    }
}

impl<'a> RegionOut<'a> {
    fn of(r: Region<'a>) -> RegionOut<'a> {
        RegionOut {
            pattern: r.pattern,
            polytope: MatrixOut {
                name: "Polytope",
                a: r.polytope.a,
                b: r.polytope.b,
            },
            sources: r.sources,
            center: r.center,
            radius: r.radius,
            affine: MatrixOut {
                name: "Affine",
                a: r.affine.a,
                b: r.affine.b,
            },
            neighbors: r.neighbors,
            volume: r.volume,
            polygon: r.polygon,
        }
    }
}

/// A pattern as [`crate::Pattern`] writes itself: its text.
fn pattern_text<S: serde::Serializer>(p: &PatternRef<'_>, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.collect_str(p)
}

impl Serialize for Partition {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        PartitionRef {
            regions: RegionsOut(self.regions()),
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

#[cfg(test)]
mod tests {
    use ndarray::array;

    use crate::regions::{enumerate, EnumOptions, Method};
    use crate::{Domain, Network};

    #[test]
    fn regions_are_written_from_views_as_owned_regions_write_themselves() {
        let net = Network::builder(2)
            .dense(
                array![[1.0, 0.2], [-0.3, 1.0], [0.5, -0.7], [0.9, 0.4]],
                array![0.0, 0.1, -0.1, 0.05],
            )
            .unwrap()
            .maxout(2)
            .dense(array![[1.0, -1.0], [0.5, 0.25]], array![0.0, 1.0])
            .unwrap()
            .build()
            .unwrap();
        let square = Domain::cube(2, -1.0, 1.0);
        for method in [Method::PlaneSplit, Method::Lp] {
            let opts = EnumOptions {
                method,
                ..EnumOptions::default()
            };
            let part = enumerate(&net, &square, &opts).unwrap();
            assert!(part.len() > 2);
            let written = serde_json::to_value(&part).unwrap();
            let owned = serde_json::to_value(part.regions().to_vec()).unwrap();
            assert_eq!(written["regions"], owned, "{method:?}");
            let back: crate::regions::Partition = serde_json::from_value(written).unwrap();
            assert_eq!(back.regions(), part.regions());
        }
    }
}
