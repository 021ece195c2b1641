//! How long region enumeration takes to return after its time budget runs
//! out or its cancel flag is set: the delay between the deadline (or the
//! flag) and the return, in milliseconds, with the regions returned. The
//! target is 50 ms on every workload.
//!
//! The workloads: W1 (the 2-D slice of the 784-200-200-200-10 MLP of
//! `benches/w1_slice.rs`, a window large enough not to finish), a 28 x 28
//! CNN slice (two 3 x 3 convolutions of 16 channels with ReLU, then a dense
//! layer to 10 outputs) and W2 (the LP walk in `[-0.5, 0.5]^4` on the
//! 4-64-64-64-1 MLP of `benches/w2_lp.rs`).
//!
//! ```text
//! cargo run --release --example stop_latency            # 200 ms stops
//! cargo run --release --example stop_latency -- 500     # 500 ms stops
//! ```

#[path = "../benches/common/mod.rs"]
mod bench_common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cpwl::network::Conv2d;
use cpwl::regions::{enumerate, EnumOptions, Method};
use cpwl::run::RunOptions;
use cpwl::{Domain, Network, Plane, Window};
use ndarray::{Array1, Array2, Array4};

/// A plane through three seeded points of the unit cube of the input space,
/// with a square window of half-width `half`.
fn slice(dim: usize, half: f64) -> Domain {
    let points = bench_common::uniform_points(3, dim, 1);
    let plane = Plane::through(points.row(0), points.row(1), points.row(2)).expect("general position");
    Domain::plane(plane, Window::square(half))
}

/// A 3 x 3 convolution with padding 1, He-initialised from `rng`.
fn conv(rng: &mut bench_common::Rng, cin: usize, cout: usize) -> Conv2d {
    let std = (2.0 / (9 * cin) as f64).sqrt();
    let weight = Array4::from_shape_fn((cout, cin, 3, 3), |_| std * rng.normal());
    let bias = Array1::from_shape_fn(cout, |_| 0.01 * rng.normal());
    Conv2d {
        padding: [1, 1],
        ..Conv2d::new(weight, Some(bias))
    }
}

/// The CNN: 1 x 28 x 28 -> conv 16 -> ReLU -> conv 16 -> ReLU -> dense 10.
fn cnn() -> Network {
    let mut rng = bench_common::Rng::new(5);
    let dense = Array2::from_shape_fn((10, 16 * 28 * 28), |_| {
        (2.0 / (16.0 * 784.0f64)).sqrt() * rng.normal()
    });
    Network::builder_image(1, 28, 28)
        .conv2d(conv(&mut rng, 1, 16))
        .and_then(|b| b.relu().conv2d(conv(&mut rng, 16, 16)))
        .and_then(|b| b.relu().dense(dense, Array1::zeros(10)))
        .and_then(|b| b.build())
        .expect("a valid CNN")
}

/// How a run is stopped.
#[derive(Clone, Copy, Debug)]
enum Stop {
    /// `RunOptions::time_budget`.
    Budget,
    /// The cancel flag, set from another thread.
    Cancel,
}

/// Runs one enumeration stopped after `after`, and prints the delay between
/// the stop and the return.
fn measure(name: &str, net: &Network, domain: &Domain, method: Method, stop: Stop, after: Duration) {
    let cancel = Arc::new(AtomicBool::new(false));
    let run = match stop {
        Stop::Budget => RunOptions {
            time_budget: Some(after),
            ..Default::default()
        },
        Stop::Cancel => RunOptions {
            cancel: Some(cancel.clone()),
            ..Default::default()
        },
    };
    let opts = EnumOptions {
        method,
        run,
        ..Default::default()
    };
    let start = Instant::now();
    let setter = matches!(stop, Stop::Cancel).then(|| {
        let flag = cancel.clone();
        std::thread::spawn(move || {
            std::thread::sleep(after);
            flag.store(true, Ordering::SeqCst);
            Instant::now()
        })
    });
    let part = enumerate(net, domain, &opts).unwrap_or_else(|e| panic!("{name}: {e}"));
    let returned = Instant::now();
    let stopped_at = match setter {
        Some(handle) => handle.join().expect("the setter thread"),
        None => start + after,
    };
    let delay = returned.saturating_duration_since(stopped_at);
    println!(
        "{name:<12} {:<7} stop after {:>5} ms: returned {:>8.1} ms after it, {:>6} regions, {}",
        format!("{stop:?}"),
        after.as_millis(),
        delay.as_secs_f64() * 1e3,
        part.len(),
        part.outcome()
    );
}

fn main() {
    let after = Duration::from_millis(
        std::env::args()
            .nth(1)
            .map_or(200, |a| a.parse().expect("milliseconds")),
    );
    let w1 = bench_common::he_mlp(&[784, 200, 200, 200, 10], 0);
    let w1_domain = slice(784, 40.0);
    let cnn = cnn();
    let cnn_domain = slice(784, 4.0);
    let w2 = bench_common::torch_mlp(&[4, 64, 64, 64, 1], 4);
    let w2_domain = Domain::cube(4, -0.5, 0.5);
    for stop in [Stop::Budget, Stop::Cancel] {
        measure("w1_slice", &w1, &w1_domain, Method::PlaneSplit, stop, after);
        measure("cnn_slice", &cnn, &cnn_domain, Method::PlaneSplit, stop, after);
        measure("w2_lp_d4", &w2, &w2_domain, Method::Lp, stop, after);
    }
}
