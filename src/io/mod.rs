//! Loading networks from files: NumPy `.npz` (always), safetensors, ONNX
//! (feature `onnx`).

pub(crate) mod npy;
mod npz;

pub use npz::DEFAULT_LEAKY_SLOPE;

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
    match npy::read_npy(&bytes).map_err(|e| bad(e, None))? {
        npy::NpyData::Float(a) => Ok(a),
        npy::NpyData::Text(_) => Err(bad("array holds text, not numbers".into(), None)),
    }
}
