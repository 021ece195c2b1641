//! Progress and cancellation of a long region enumeration: an `indicatif`
//! spinner fed by `RunOptions::progress`, and a watchdog thread that sets
//! `RunOptions::cancel` after a timeout; the regions found until then come
//! back in the partition, whose `outcome()` says the run was cancelled.
//!
//! Run with `cargo run --release --example progress [seconds]` (default 2 s;
//! a generous timeout lets the enumeration finish).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cpwl::regions::{enumerate, EnumOptions};
use cpwl::run::{Progress, RunOptions};
use cpwl::{Domain, Network};
use indicatif::{ProgressBar, ProgressStyle};
use ndarray::{Array1, Array2};

/// A deterministic 4-24-24-1 ReLU network: thousands of regions in a cube.
fn network() -> cpwl::Result<Network> {
    let weights = |rows: usize, cols: usize, salt: f64| {
        Array2::from_shape_fn((rows, cols), |(i, j)| {
            ((i * cols + j) as f64 * 0.7548 + salt).sin()
        })
    };
    let bias = |n: usize, salt: f64| Array1::from_shape_fn(n, |i| (i as f64 * 1.618 + salt).cos() * 0.5);
    Network::builder(4)
        .dense(weights(24, 4, 0.1), bias(24, 0.2))?
        .relu()
        .dense(weights(24, 24, 0.3), bias(24, 0.4))?
        .relu()
        .dense(weights(1, 24, 0.5), bias(1, 0.6))?
        .build()
}

fn main() -> cpwl::Result<()> {
    let seconds: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    let net = network()?;
    let domain = Domain::cube(4, -2.0, 2.0);

    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {pos} regions, {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(100));
    let shown = bar.clone();
    let progress = move |p: &Progress| {
        shown.set_position(p.done as u64);
        shown.set_message(format!("{} patterns pending", p.pending.unwrap_or(0)));
    };

    let cancel = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&cancel);
    let timeout = Duration::from_secs_f64(seconds.max(0.0));
    // The watchdog outlives the enumeration when it finishes first; it only
    // sets a flag nobody reads any more.
    std::thread::spawn(move || {
        std::thread::sleep(timeout);
        flag.store(true, Ordering::Relaxed);
    });

    let opts = EnumOptions {
        run: RunOptions {
            progress: Some(Arc::new(progress)),
            cancel: Some(cancel),
            ..Default::default()
        },
        ..Default::default()
    };
    let partition = enumerate(&net, &domain, &opts).inspect_err(|_| bar.abandon())?;
    let outcome = partition.outcome();
    if outcome.is_complete() {
        bar.finish_with_message("done");
        println!(
            "complete: {} regions, {} adjacent pairs, {} LPs solved in {:?}",
            partition.len(),
            partition.adjacency().len(),
            partition.stats().lps_solved,
            partition.stats().elapsed
        );
    } else {
        bar.abandon_with_message(format!("{outcome}"));
        let largest = partition.regions().iter().map(|r| r.radius()).fold(0.0, f64::max);
        println!(
            "partial result after {:?} ({outcome}): {} regions, {} rejected as thin, largest inscribed radius {largest:.4}",
            partition.stats().elapsed,
            partition.len(),
            partition.rejected_thin(),
        );
    }
    Ok(())
}
