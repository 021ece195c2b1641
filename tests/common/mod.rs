//! Shared helpers of the integration tests: the test vectors' folder and loaders.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

mod counted;
mod fixtures;
mod npy;
mod rng;
mod vectors;
// Each test binary uses some of these.
#[allow(unused_imports)]
pub use counted::{Counted, Kernel};
#[allow(unused_imports)]
pub use fixtures::{onnx_fixture, pytorch_fixture, randn, random_relu_mlp, reference_io, sample_rows};
#[allow(unused_imports)]
pub use npy::npy_bytes;
#[allow(unused_imports)]
pub use rng::SplitMix;
#[allow(unused_imports)]
pub use vectors::{cases, json, vectors};

use cpwl::regions::Partition;
use cpwl::{Domain, Plane, Window};
use ndarray::{Array2, Array3, ArrayD, Ix2, Ix3};
use serde_json::Value;

pub fn load(path: &PathBuf) -> ArrayD<f64> {
    cpwl::io::load_npy(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn load2(path: &PathBuf) -> Array2<f64> {
    load(path).into_dimensionality::<Ix2>().expect("2-D array")
}

pub fn load3(path: &PathBuf) -> Array3<f64> {
    load(path).into_dimensionality::<Ix3>().expect("3-D array")
}

/// A JSON array read item by item with `item` (`Value::as_f64`, ...), which
/// must accept every item.
pub fn json_array<T>(v: &Value, item: impl Fn(&Value) -> Option<T>) -> Vec<T> {
    let items = v.as_array().unwrap_or_else(|| panic!("not a JSON array: {v}"));
    items
        .iter()
        .map(|x| item(x).unwrap_or_else(|| panic!("unexpected JSON item {x}")))
        .collect()
}

/// A JSON array of arrays (a matrix, row by row) read number by number with `item`.
pub fn json_rows<T>(v: &Value, item: impl Fn(&Value) -> Option<T> + Copy) -> Vec<Vec<T>> {
    json_array(v, |row| Some(json_array(row, item)))
}

/// The sign-change counts of an `lc` vector, a row per point: the
/// `per_layer` array of one section (`with_output_layer`, `hidden_only`) of
/// its `expected.json`.
pub fn lc_counts(section: &Value) -> Vec<Vec<u32>> {
    json_rows(&section["per_layer"], |c| {
        c.as_u64().and_then(|c| u32::try_from(c).ok())
    })
}

/// The 2-D slice of the regions vector case `id` in `dir` (its
/// `{id}_slice.npz`): the plane through `x0` spanned by `u`, `v`, and the
/// polygon `window` in the plane's coordinates.
pub fn slice_domain(dir: &Path, id: &str) -> Domain {
    let path = dir.join(format!("{id}_slice.npz"));
    let arrays = cpwl::io::load_npz(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let get = |k: &str| {
        arrays[k]
            .clone()
            .into_dimensionality::<ndarray::Ix1>()
            .expect("vector")
    };
    let plane = Plane::from_basis(get("x0"), get("u"), get("v")).expect("plane");
    let window = arrays["window"]
        .clone()
        .into_dimensionality::<Ix2>()
        .expect("matrix");
    Domain::plane(
        plane,
        Window::Polygon(window.outer_iter().map(|r| [r[0], r[1]]).collect()),
    )
}

/// Asserts `|a - b| <= rtol * max(|a|, |b|, 1)` elementwise.
pub fn assert_close(what: &str, a: &[f64], b: &[f64], rtol: f64) {
    assert_eq!(a.len(), b.len(), "{what}: lengths differ");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        let scale = x.abs().max(y.abs()).max(1.0);
        assert!((x - y).abs() <= rtol * scale, "{what}[{i}]: {x} vs {y}");
    }
}

/// Enumerates on one thread with the given method and tolerance, keeping the
/// rejected thin cells (the degenerate and thin-cell suites).
pub fn enumerate_keeping_thin(
    net: &cpwl::Network,
    domain: &cpwl::Domain,
    method: cpwl::regions::Method,
    tol_radius: Option<f64>,
) -> cpwl::regions::Partition {
    let opts = cpwl::regions::EnumOptions {
        method,
        tol_radius,
        record_thin: true,
        run: cpwl::run::RunOptions {
            threads: Some(1),
            ..Default::default()
        },
        ..Default::default()
    };
    cpwl::regions::enumerate(net, domain, &opts).unwrap()
}

/// Every region of `part` is a region of `full`, with the same polytope.
pub fn assert_subset(part: &Partition, full: &Partition, what: &str) {
    for r in part.regions() {
        let i = full
            .find(r.pattern())
            .unwrap_or_else(|| panic!("{what}: {} not in the full partition", r.pattern()));
        assert_eq!(full.region(i).polytope(), r.polytope(), "{what}: {}", r.pattern());
    }
}
