//! Exact versus approximate local complexity on an MNIST-sized MLP
//! (784-200-200-200-10, ReLU, He initialisation), for several radii.
//!
//! The approximation (the papers' definition) counts, per layer, the units
//! whose sign differs between the vertices of the cross-polytope; the exact
//! variant enumerates the linear regions inside the cross-polytope itself and
//! counts the units whose bent zero set really crosses it.
//!
//! Run with `cargo run --release --example lc_exact`.

#[path = "../benches/common/mod.rs"]
mod bench_common;

use bench_common::{he_mlp_drawn, Rng};
use cpwl::lc::{exact_local_complexity, local_complexity, Directions, LcOptions};
use ndarray::Array2;

fn main() -> cpwl::Result<()> {
    let mut rng = Rng::new(7);
    let net = he_mlp_drawn(&[784, 200, 200, 200, 10], &mut rng);
    let points = Array2::from_shape_simple_fn((20, 784), || rng.uniform());
    let p = 8;
    let directions = Directions::ReferenceCompatible { count: p, seed: 0 };
    println!(
        "784-200-200-200-10 ReLU MLP, He init, 20 points uniform in [0,1]^784, P = {p} reference directions"
    );
    println!(
        "{:>8} {:>14} {:>16} {:>16} {:>14}",
        "radius", "approx LC", "exact units", "exact regions", "time exact"
    );
    for radius in [0.005, 0.02, 0.05, 0.1] {
        let opts = LcOptions {
            count_output_layer: false,
            ..LcOptions::new(radius, directions.clone())
        };
        let approx = local_complexity(&net, points.view(), &opts)?;
        let start = std::time::Instant::now();
        let exact = exact_local_complexity(&net, points.view(), &opts)?;
        let exact = exact.points();
        let n = exact.len() as f64;
        let units = exact.iter().map(|e| e.units as f64).sum::<f64>() / n;
        let regions = exact.iter().map(|e| e.regions as f64).sum::<f64>() / n;
        println!(
            "{radius:>8} {:>14.2} {units:>16.2} {regions:>16.2} {:>13.2?}",
            approx.mean(),
            start.elapsed() / exact.len() as u32
        );
    }
    Ok(())
}
