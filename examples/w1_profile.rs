//! The W1 slice (or W1b) through the 2-D splitter alone, for profiles and
//! quick timings: loads a peer workload directory (`benches/peers/README.md`),
//! enumerates with full output on the given number of threads and prints the
//! region count, seconds per run and the cells after each layer.
//!
//! ```sh
//! cargo run --release --example w1_profile -- target/peers/w1 40 2 3
//! # instruction counts of the enumeration alone, one thread:
//! # instruction counts: the enumeration's are those of 2 runs less 1 run
//! valgrind --tool=callgrind target/release/examples/w1_profile target/peers/w1 7 1 1
//! ```

mod common;

use std::path::PathBuf;
use std::time::Instant;

use common::peers::{w1_slice, Fallible};
use cpwl::regions::{enumerate, EnumOptions, Method};
use cpwl::run::RunOptions;

fn main() -> Fallible<()> {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: w1_profile <workload dir> <half-width> [threads] [runs]";
    let dir = PathBuf::from(args.get(1).ok_or(usage)?);
    let h: f64 = args.get(2).ok_or(usage)?.parse()?;
    let threads: usize = args.get(3).map_or(Ok(2), |t| t.parse())?;
    let runs: usize = args.get(4).map_or(Ok(1), |r| r.parse())?;
    let (net, domain) = w1_slice(&dir, h)?;
    let opts = EnumOptions {
        method: Method::PlaneSplit,
        run: RunOptions {
            threads: Some(threads),
            ..Default::default()
        },
        ..Default::default()
    };
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
    }
    Ok(())
}
