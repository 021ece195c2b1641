//! The W1 slice (or W1b) through the 2-D splitter alone, for profiles and
//! quick timings: loads a peer workload directory (`benches/peers/README.md`),
//! enumerates with full output on the given number of threads and prints the
//! region count, seconds per run and the cells after each layer.
//!
//! ```sh
//! cargo run --release --example w1_profile -- target/peers/w1 40 2 3
//! # instruction counts of the enumeration alone, one thread: those of 2 runs
//! # less 1 run (`--toggle-collect=cpwl::regions::enumerate` records nothing:
//! # the enumeration runs on a rayon pool thread, where the toggle never fires)
//! valgrind --tool=callgrind target/release/examples/w1_profile target/peers/w1 7 1 1
//! # a SHA-256 of every output bit (for changes that must keep them)
//! cargo run --release --example w1_profile -- target/peers/w1 40 2 1 --hash
//! ```
//!
//! With `--hash` after the runs, the last partition's hash covers every
//! region's pattern, polygon, H-representation and row sources, centre,
//! radius, area, affine map and neighbours, bit for bit: unlike the
//! `partition_hashes` example, on the full W1 window (or W1b) and with the
//! affine maps, so that a change to the splitter's row arithmetic shows.

mod common;

use std::path::PathBuf;
use std::time::Instant;

use common::peers::{w1_slice, Fallible};
use cpwl::regions::{enumerate, EnumOptions, Method, Partition, RowSource};
use cpwl::run::RunOptions;
use sha2::{Digest, Sha256};

fn main() -> Fallible<()> {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: w1_profile <workload dir> <half-width> [threads] [runs] [--hash]";
    let dir = PathBuf::from(args.get(1).ok_or(usage)?);
    let h: f64 = args.get(2).ok_or(usage)?.parse()?;
    let threads: usize = args.get(3).map_or(Ok(2), |t| t.parse())?;
    let runs: usize = args.get(4).map_or(Ok(1), |r| r.parse())?;
    let hash = args.get(5).map(String::as_str) == Some("--hash");
    let (net, domain) = w1_slice(&dir, h)?;
    let opts = EnumOptions {
        method: Method::PlaneSplit,
        run: RunOptions {
            threads: Some(threads),
            ..Default::default()
        },
        ..Default::default()
    };
    let mut last = None;
    for _ in 0..runs {
        let start = Instant::now();
        let part = enumerate(&net, &domain, &opts)?;
        let seconds = start.elapsed().as_secs_f64();
        println!(
            "regions={} seconds={seconds:.4} us_per_region={:.2} cells_per_layer={:?}",
            part.len(),
            1e6 * seconds / part.len() as f64,
            part.layer_counts().unwrap_or_default()
        );
        last = Some(part);
    }
    if let (true, Some(part)) = (hash, &last) {
        println!("sha256={}", every_bit(part));
    }
    Ok(())
}

/// A SHA-256 of every region's outputs, each float by its bits.
fn every_bit(part: &Partition) -> String {
    let mut h = Sha256::new();
    for r in part.regions() {
        let (poly, map) = (r.polytope(), r.affine());
        let polygon = r.polygon().unwrap_or_default().iter().flatten().copied();
        add_bits(
            &mut h,
            r.center()
                .iter()
                .copied()
                .chain([r.radius(), r.volume()])
                .chain(poly.a.iter().copied())
                .chain(poly.b.iter().copied())
                .chain(map.a.iter().copied())
                .chain(map.b.iter().copied())
                .chain(polygon),
        );
        let sources = r.sources().iter().map(|s| match *s {
            RowSource::Domain(k) => format!("d{k}"),
            RowSource::Unit(u) => format!("u{u}"),
            RowSource::MaxRival { unit, rival } => format!("u{unit}r{rival}"),
        });
        let neighbours = r.neighbors().iter().map(|n| n.to_string());
        let text = format!(
            "{}|{}|{}\n",
            r.pattern(),
            sources.collect::<Vec<_>>().join(","),
            neighbours.collect::<Vec<_>>().join(",")
        );
        h.update(text.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Adds the bits of every value to the hash.
fn add_bits(h: &mut Sha256, values: impl Iterator<Item = f64>) {
    values.for_each(|v| h.update(v.to_bits().to_le_bytes()));
}
