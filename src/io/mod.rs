//! Loading networks from files: NumPy `.npz` (always), safetensors, ONNX
//! (feature `onnx`).

mod convention;
mod elements;
pub(crate) mod npy;
mod npz;
#[cfg(feature = "onnx")]
mod onnx;
mod safetensors;

pub use npz::DEFAULT_LEAKY_SLOPE;
pub use safetensors::{ArchLayer, Architecture, DEFAULT_BN_EPS};

use std::collections::BTreeMap;
use std::path::Path;

use ndarray::ArrayD;

use crate::{Error, Result};

/// Loads a numeric `.npy` array (float32/64, integers or booleans, widened to
/// f64), for example the points to analyse.
///
/// # Errors
///
/// [`Error::File`] when the file cannot be read, is malformed or holds text.
pub fn load_npy(path: impl AsRef<Path>) -> Result<ArrayD<f64>> {
    let path = path.as_ref();
    let bad = |reason: String, source: Option<crate::error::BoxError>| Error::File {
        path: path.to_path_buf(),
        reason,
        source,
    };
    let bytes = std::fs::read(path).map_err(|e| bad("cannot read".into(), Some(Box::new(e))))?;
    npy::read_npy(&bytes)
        .and_then(npy::NpyData::into_f64)
        .map_err(|e| bad(e, None))
}

/// Loads the numeric arrays of an `.npz` archive by name (text arrays are left
/// out), for example inputs and reference outputs saved with `numpy.savez`.
///
/// # Errors
///
/// [`Error::File`] when the file cannot be read or is not an `.npz` archive.
pub fn load_npz(path: impl AsRef<Path>) -> Result<BTreeMap<String, ArrayD<f64>>> {
    let path = path.as_ref();
    let bytes = read_file(path)?;
    let arrays = npy::read_npz(std::io::Cursor::new(bytes)).map_err(|reason| Error::File {
        path: path.to_path_buf(),
        reason,
        source: None,
    })?;
    Ok(arrays
        .into_iter()
        .filter_map(|(name, data)| match data {
            npy::NpyData::Float(a) => Some((name, a)),
            npy::NpyData::Text(_) => None,
        })
        .collect())
}

/// The path that errors name when a network is loaded from bytes.
pub(crate) const MEMORY_PATH: &str = "<bytes>";

/// Reads a whole file, naming it in the error.
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::File {
        path: path.to_path_buf(),
        reason: "cannot read".into(),
        source: Some(Box::new(e)),
    })
}
