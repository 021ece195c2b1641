//! Deterministic workloads shared by the benches.
#![allow(dead_code)]

pub mod gemm;
pub mod w1;

use cpwl::Network;
use ndarray::{Array1, Array2};

/// SplitMix64: a tiny seeded generator, so that benches need no RNG crate.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform on [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u = self.uniform().max(1e-300);
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// A ReLU MLP with He-normal weights and small normal biases.
pub fn he_mlp(widths: &[usize], seed: u64) -> Network {
    he_mlp_drawn(widths, &mut Rng::new(seed))
}

/// [`he_mlp`] drawn from `rng`, layer by layer (weights row by row, then
/// biases), which goes on from there (for inputs of the same stream).
pub fn he_mlp_drawn(widths: &[usize], rng: &mut Rng) -> Network {
    let mut b = Network::builder(widths[0]);
    for (k, pair) in widths.windows(2).enumerate() {
        let std = (2.0 / pair[0] as f64).sqrt();
        let w = Array2::from_shape_simple_fn((pair[1], pair[0]), || std * rng.normal());
        let bias = Array1::from_shape_simple_fn(pair[1], || 0.01 * rng.normal());
        b = b.dense(w, bias).unwrap();
        if k + 2 < widths.len() {
            b = b.relu();
        }
    }
    b.build().unwrap()
}

/// Points uniform in [0, 1]^dim, one per row.
pub fn uniform_points(n: usize, dim: usize, seed: u64) -> Array2<f64> {
    let mut rng = Rng::new(seed);
    Array2::from_shape_simple_fn((n, dim), || rng.uniform())
}

/// `p` random unit directions in `dim` dimensions, one per row (normal
/// draws, each row scaled to unit length).
pub fn unit_directions(p: usize, dim: usize, seed: u64) -> Array2<f64> {
    let mut rng = Rng::new(seed);
    let mut d = Array2::from_shape_simple_fn((p, dim), || rng.normal());
    for mut row in d.rows_mut() {
        let norm = row.dot(&row).sqrt();
        row /= norm;
    }
    d
}

/// A ReLU MLP with PyTorch's default `nn.Linear` initialisation: weights and
/// biases uniform in `[-1/sqrt(fan_in), 1/sqrt(fan_in)]`.
pub fn torch_mlp(widths: &[usize], seed: u64) -> Network {
    let mut rng = Rng::new(seed);
    let mut b = Network::builder(widths[0]);
    for (k, pair) in widths.windows(2).enumerate() {
        let bound = 1.0 / (pair[0] as f64).sqrt();
        let mut uniform = || bound * (2.0 * rng.uniform() - 1.0);
        let w = Array2::from_shape_simple_fn((pair[1], pair[0]), &mut uniform);
        let bias = Array1::from_shape_simple_fn(pair[1], &mut uniform);
        b = b.dense(w, bias).unwrap();
        if k + 2 < widths.len() {
            b = b.relu();
        }
    }
    b.build().unwrap()
}
