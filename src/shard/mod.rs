//! Sharded enumeration: split a domain, enumerate the pieces anywhere, merge.
//!
//! A domain too large for one run is cut into `k` slabs across its widest
//! coordinate ([`plan`]), balanced by the number of distinct patterns among
//! sample points. Each [`ShardJob`] is enumerated by an ordinary
//! [`crate::regions::enumerate`] run on its slab ([`run_shard`]), on any
//! machine; jobs and results move as bytes ([`ShardJob::to_bytes`],
//! [`ShardResult::to_bytes`]; serde under the `serde` feature). [`merge`]
//! joins the results into the partition of the whole domain, equal to one
//! run on it: the same patterns, facets and neighbours, volumes to rounding.
//!
//! # Joining
//!
//! A region is the closure of the points of one pattern, a convex set, so
//! the pieces of one pattern in several shards are pieces of one convex
//! region: they are joined by pattern. A piece that no cut touches is the
//! region itself (rows keep their indices, see [`ShardJob::domain`]); a
//! region cut by a border is analysed again on the whole domain with the
//! walk's own code (minimal H-representation, Chebyshev ball, the patterns
//! across its facets), its volume the sum of its pieces'. Neighbours are
//! the union of the shards' neighbours and the patterns across the joined
//! facets, kept where they are regions, both ways.
//!
//! Each shard uses the whole domain's thin-cell tolerance, so shards reject
//! the cells the whole run rejects. A region whose every piece is thinner
//! than the tolerance (a sliver straddling a cut) is lost; with the default
//! tolerance (a relative `1e-9` of the diameter) that takes a region thinner
//! than `2e-9` of the diameter across a cut.
//!
//! # Point-wise jobs
//!
//! Local complexity, exact local complexity and LES are per point: split the
//! points with [`point_ranges`], run each range anywhere and join the
//! per-point results in order with [`concat_points`].
//!
//! # Engines
//!
//! With the `timely` feature, [`timely_run`] runs the shards on the workers of
//! a timely-dataflow computation (threads, processes, hosts) and merges each
//! pattern on the worker that owns it.

mod merge;
mod plan;
mod ranges;
#[cfg(feature = "timely")]
mod timely_engine;
mod wire;

pub use merge::{merge, missing_shards, run_shard, Piece, ShardResult};
pub use plan::{plan, PlanOptions, ShardJob};
pub use ranges::{concat_points, point_ranges};
#[cfg(feature = "timely")]
pub use timely_engine::{gather_points, timely_run, timely_worker, TimelyOptions, TimelyReport};
