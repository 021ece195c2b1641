//! Loading the peer workloads written by `benches/peers/workloads.py` (see
//! `benches/peers/README.md`): their `.npz` arrays and the W1 slice.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cpwl::{Domain, Network, Plane, Window};
use ndarray::{Array1, ArrayD, Ix1};

/// The error type of the examples' loaders.
pub type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

/// Every array of an `.npz` file, by name.
pub fn npz(path: PathBuf) -> Fallible<BTreeMap<String, ArrayD<f64>>> {
    Ok(cpwl::io::load_npz(path)?)
}

/// The array `key` of `arrays`, which must be a vector.
pub fn vector(arrays: &BTreeMap<String, ArrayD<f64>>, key: &str) -> Fallible<Array1<f64>> {
    Ok(arrays
        .get(key)
        .ok_or(format!("missing {key}"))?
        .clone()
        .into_dimensionality::<Ix1>()?)
}

/// A W1-style workload directory's network (`net.npz`) and its slice
/// (`slice.npz`: origin `x0`, directions `u` and `v`) with the window
/// `[-h, h]^2`.
pub fn w1_slice(dir: &Path, h: f64) -> Fallible<(Network, Domain)> {
    let net = Network::from_npz(dir.join("net.npz"))?;
    let slice = npz(dir.join("slice.npz"))?;
    let plane = Plane::from_basis(vector(&slice, "x0")?, vector(&slice, "u")?, vector(&slice, "v")?)?;
    Ok((net, Domain::plane(plane, Window::square(h))))
}
