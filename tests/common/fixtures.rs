//! Shared test inputs: normal draws, random ReLU networks and the
//! PyTorch-exported fixtures with their reference inputs and outputs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cpwl::Network;
use ndarray::{Array2, ArrayD};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A standard normal draw from `rng` (Box-Muller, the cosine twin only:
/// enough for random weights and points).
pub fn randn(rng: &mut StdRng) -> f64 {
    let (u, v): (f64, f64) = (rng.random::<f64>().max(1e-300), rng.random());
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

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
    fixture("onnx", name)
}

/// A file of `tests/fixtures/pytorch` (the files PyTorch itself wrote, with
/// the versions in its `VERSIONS.txt`).
pub fn pytorch_fixture(name: &str) -> PathBuf {
    fixture("pytorch", name)
}

/// The file `name` of the fixtures' folder `folder`.
fn fixture(folder: &str, name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(folder)
        .join(name)
}

/// A fixture's inputs, one flattened sample per row, and PyTorch's outputs.
pub fn reference_io(name: &str) -> (Array2<f64>, Array2<f64>) {
    let mut io = sample_rows(&onnx_fixture(&format!("{name}_io.npz")));
    let mut take = |key: &str| io.remove(key).expect("array in the io fixture");
    (take("x"), take("y"))
}

/// Every array of an `.npz` file of reference inputs and outputs (their
/// first axis the samples), one flattened sample per row.
pub fn sample_rows(path: &Path) -> BTreeMap<String, Array2<f64>> {
    let arrays = cpwl::io::load_npz(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let rows = |a: ArrayD<f64>| {
        let n = a.shape()[0];
        let per_sample = a.len() / n;
        a.into_shape_with_order((n, per_sample)).expect("row-major array")
    };
    arrays.into_iter().map(|(k, a)| (k, rows(a))).collect()
}
