//! Loading networks from files: NumPy `.npz` (always), safetensors, ONNX
//! (feature `onnx`).

mod convention;
mod elements;
mod infer;
pub(crate) mod npy;
mod npz;
#[cfg(feature = "onnx")]
mod onnx;
#[cfg(feature = "onnx")]
#[cfg_attr(docsrs, doc(cfg(feature = "onnx")))]
pub use onnx::OnnxOptions;
mod arch_layer;
mod safetensors;
mod safetensors_file;

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
    npy_from_bytes(&read_file(path)?, path)
}

/// Loads a 1-D numeric `.npy` array (a vector, such as one point or reference
/// scores), widened to `f64`; see [`load_npy`].
///
/// # Errors
///
/// As [`load_npy`], and [`Error::Shape`] naming the file when the array is
/// not 1-D.
///
/// # Examples
///
/// ```
/// // points.npy holds one point per row: a matrix, not a vector.
/// let err = cpwl::io::load_npy1("tests/data/vectors/forward/relu_3_16_16_2/points.npy");
/// assert!(matches!(err, Err(cpwl::Error::Shape { .. })));
/// ```
pub fn load_npy1(path: impl AsRef<Path>) -> Result<ndarray::Array1<f64>> {
    let path = path.as_ref();
    with_rank(load_npy(path)?, path)
}

/// Loads a 2-D numeric `.npy` array (one point per row, a Jacobian),
/// widened to `f64`; see [`load_npy`].
///
/// # Errors
///
/// As [`load_npy`], and [`Error::Shape`] naming the file when the array is
/// not 2-D.
///
/// # Examples
///
/// ```
/// let points = cpwl::io::load_npy2("tests/data/vectors/forward/relu_3_16_16_2/points.npy")?;
/// assert_eq!(points.ncols(), 3);
/// # Ok::<(), cpwl::Error>(())
/// ```
pub fn load_npy2(path: impl AsRef<Path>) -> Result<ndarray::Array2<f64>> {
    let path = path.as_ref();
    with_rank(load_npy(path)?, path)
}

/// The array with the static rank `D`, or a shape error naming the file.
fn with_rank<D: ndarray::Dimension>(array: ArrayD<f64>, path: &Path) -> Result<ndarray::Array<f64, D>> {
    let rank = array.ndim();
    array.into_dimensionality::<D>().map_err(|_| {
        let expected = D::NDIM.map_or_else(|| "any rank".to_string(), |n| format!("{n}-D"));
        Error::shape(
            format!("array in {}", path.display()),
            expected,
            format!("{rank}-D"),
        )
    })
}

/// Loads a numeric `.npy` array from the bytes of a file (see [`load_npy`]).
///
/// # Errors
///
/// [`Error::File`] (naming the path `<bytes>`) when the bytes are not an
/// `.npy` array or hold text.
///
/// # Panics
///
/// Never on user input: malformed, truncated or hostile bytes give errors.
///
/// # Examples
///
/// ```
/// let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
/// let header = "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }";
/// bytes.extend((header.len() as u16).to_le_bytes());
/// bytes.extend(header.bytes());
/// for v in [1.5f64, -2.0] {
///     bytes.extend(v.to_le_bytes());
/// }
/// let a = cpwl::io::load_npy_bytes(&bytes)?;
/// assert_eq!(a.as_slice().unwrap(), &[1.5, -2.0]);
/// assert!(cpwl::io::load_npy_bytes(&bytes[..20]).is_err());
/// # Ok::<(), cpwl::Error>(())
/// ```
pub fn load_npy_bytes(bytes: &[u8]) -> Result<ArrayD<f64>> {
    npy_from_bytes(bytes, Path::new(MEMORY_PATH))
}

fn npy_from_bytes(bytes: &[u8], path: &Path) -> Result<ArrayD<f64>> {
    let bad = |reason: String| Error::File {
        path: path.to_path_buf(),
        reason,
        source: None,
    };
    npy::read_npy(bytes).and_then(npy::NpyData::into_f64).map_err(bad)
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
