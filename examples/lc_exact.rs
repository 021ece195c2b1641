//! Exact versus approximate local complexity on an MNIST-sized MLP
//! (784-200-200-200-10, ReLU, He initialisation), for several radii.
//!
//! The approximation (the papers' definition) counts, per layer, the units
//! whose sign differs between the vertices of the cross-polytope; the exact
//! variant enumerates the linear regions inside the cross-polytope itself and
//! counts the units whose bent zero set really crosses it.
//!
//! Run with `cargo run --release --example lc_exact`.

use cpwl::lc::{exact_local_complexity, local_complexity, Directions, LcOptions};
use cpwl::Network;
use ndarray::{Array1, Array2};

/// SplitMix64 uniforms and Box-Muller normals (deterministic, no RNG crate).
struct Rng(u64);
impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform().max(1e-300), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

fn he_mlp(widths: &[usize], rng: &mut Rng) -> cpwl::Result<Network> {
    let mut b = Network::builder(widths[0]);
    for (k, w) in widths.windows(2).enumerate() {
        let std = (2.0 / w[0] as f64).sqrt();
        b = b.dense(
            Array2::from_shape_simple_fn((w[1], w[0]), || std * rng.normal()),
            Array1::from_shape_simple_fn(w[1], || 0.01 * rng.normal()),
        )?;
        if k + 2 < widths.len() {
            b = b.relu();
        }
    }
    b.build()
}

fn main() -> cpwl::Result<()> {
    let mut rng = Rng(7);
    let net = he_mlp(&[784, 200, 200, 200, 10], &mut rng)?;
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
