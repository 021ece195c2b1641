//! Shared test inputs: random ReLU networks and the PyTorch-exported
//! fixtures with their reference inputs and outputs.

use std::path::PathBuf;

use cpwl::Network;
use ndarray::{Array2, ArrayD};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A random ReLU MLP `input -> hidden... -> outputs` with uniform weights in
/// `[-1, 1]` and biases in `[-0.5, 0.5]`, drawn from `seed`.
pub fn random_relu_mlp(seed: u64, input: usize, hidden: &[usize], outputs: usize) -> Network {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut uniform = |rows: usize, cols: usize, half: f64| {
        Array2::from_shape_simple_fn((rows, cols), || rng.random_range(-half..half))
    };
    let mut b = Network::builder(input);
    let mut width = input;
    for &h in hidden {
        let bias = uniform(1, h, 0.5).row(0).to_owned();
        b = b.dense(uniform(h, width, 1.0), bias).unwrap().relu();
        width = h;
    }
    let bias = uniform(1, outputs, 0.5).row(0).to_owned();
    b.dense(uniform(outputs, width, 1.0), bias)
        .unwrap()
        .build()
        .unwrap()
}

/// A file of `tests/fixtures/onnx` (the PyTorch exports, ONNX and safetensors alike).
pub fn onnx_fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/onnx")
        .join(name)
}

/// A fixture's inputs, one flattened sample per row, and PyTorch's outputs.
pub fn reference_io(name: &str) -> (Array2<f64>, Array2<f64>) {
    let arrays = cpwl::io::load_npz(onnx_fixture(&format!("{name}_io.npz"))).expect("io fixture");
    let flat = |a: &ArrayD<f64>| {
        let n = a.shape()[0];
        let per_sample = a.len() / n;
        (a.to_owned().into_shape_with_order((n, per_sample))).expect("row-major array")
    };
    (flat(&arrays["x"]), flat(&arrays["y"]))
}
