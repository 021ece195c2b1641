//! Networks from NumPy `.npz` files: arrays `W0, b0, W1, b1, ...` (PyTorch's
//! `(out, in)` layout), an optional activation name `act` and slope.

use std::collections::BTreeMap;
use std::path::Path;

use ndarray::{Array1, Array2, Ix1, Ix2};

use super::npy::{read_npz, NpyData};
use crate::{Error, Network, Result};

/// The leaky-ReLU slope when an archive names `leaky_relu` without `slope`.
pub const DEFAULT_LEAKY_SLOPE: f64 = 0.01;

impl Network {
    /// Loads an MLP from an `.npz` archive following the crate's convention.
    ///
    /// The archive holds `W0, b0, W1, b1, ...` (float32 or float64; `W_k` is
    /// `(out, in)`, `b_k` is `(out,)`), optionally `act` (`relu` (default),
    /// `leaky_relu` or `abs`, as a string array or bytes) and `slope` or
    /// `negative_slope` for leaky ReLU (default 0.01). Every layer but the last
    /// is followed by the activation.
    ///
    /// # Errors
    ///
    /// [`Error::File`] when the file cannot be read, is not an `.npz` archive,
    /// lacks `W0`, has a `W_k` without `b_k` (or the reverse), a gap in the
    /// numbering, arrays of the wrong rank or dtype, or an unknown activation;
    /// [`Error::Shape`] when the layers do not chain; [`Error::NonFinite`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let net = cpwl::Network::from_npz("net.npz")?;
    /// println!("{} -> {}", net.input_dim(), net.output_dim());
    /// # Ok::<(), cpwl::Error>(())
    /// ```
    pub fn from_npz(path: impl AsRef<Path>) -> Result<Network> {
        let path = path.as_ref();
        let file =
            std::fs::File::open(path).map_err(|e| file_error(path, "cannot open", Some(Box::new(e))))?;
        let arrays = read_npz(std::io::BufReader::new(file)).map_err(|e| file_error(path, &e, None))?;
        network_from_arrays(&arrays).map_err(|e| attach_path(e, path))
    }

    /// Loads an MLP from the bytes of an `.npz` archive (see [`Network::from_npz`]).
    ///
    /// # Errors
    ///
    /// As [`Network::from_npz`].
    pub fn from_npz_bytes(bytes: &[u8]) -> Result<Network> {
        let path = Path::new("<bytes>");
        let arrays = read_npz(std::io::Cursor::new(bytes)).map_err(|e| file_error(path, &e, None))?;
        network_from_arrays(&arrays).map_err(|e| attach_path(e, path))
    }
}

fn file_error(path: &Path, reason: &str, source: Option<crate::error::BoxError>) -> Error {
    Error::File {
        path: path.to_path_buf(),
        reason: reason.to_string(),
        source,
    }
}

/// Format problems are found before the path is known; give them the path.
fn attach_path(e: Error, path: &Path) -> Error {
    match e {
        Error::File { reason, source, .. } => Error::File {
            path: path.to_path_buf(),
            reason,
            source,
        },
        other => other,
    }
}

fn format_error(reason: String) -> Error {
    Error::File {
        path: Default::default(),
        reason,
        source: None,
    }
}

pub(crate) fn network_from_arrays(arrays: &BTreeMap<String, NpyData>) -> Result<Network> {
    let layers = weight_pairs(arrays)?;
    let act = activation(arrays)?;
    let input = layers[0].0.ncols();
    let last = layers.len() - 1;
    let mut builder = Network::builder(input);
    for (k, (w, b)) in layers.into_iter().enumerate() {
        builder = builder.dense(w, b)?;
        if k < last {
            builder = match act {
                Act::Relu => builder.relu(),
                Act::Leaky(s) => builder.leaky_relu(s),
                Act::Abs => builder.abs(),
            };
        }
    }
    builder.build()
}

fn weight_pairs(arrays: &BTreeMap<String, NpyData>) -> Result<Vec<(Array2<f64>, Array1<f64>)>> {
    let count =
        super::convention::numbered_layer_count(arrays.keys().map(String::as_str)).map_err(format_error)?;
    (0..count)
        .map(|k| {
            Ok((
                float_array::<Ix2>(arrays, &format!("W{k}"))?,
                float_array::<Ix1>(arrays, &format!("b{k}"))?,
            ))
        })
        .collect()
}

fn float_array<D: ndarray::Dimension>(
    arrays: &BTreeMap<String, NpyData>,
    name: &str,
) -> Result<ndarray::Array<f64, D>> {
    match arrays.get(name) {
        Some(NpyData::Float(a)) => {
            let ndim = a.ndim();
            a.clone().into_dimensionality::<D>().map_err(|_| {
                Error::shape(
                    format!("array {name}"),
                    format!("{} dimensions", D::NDIM.unwrap_or(0)),
                    ndim,
                )
            })
        }
        Some(NpyData::Text(_)) => Err(format_error(format!("array {name} holds text, not numbers"))),
        None => Err(format_error(format!("array {name} is missing"))),
    }
}

enum Act {
    Relu,
    Leaky(f64),
    Abs,
}

fn activation(arrays: &BTreeMap<String, NpyData>) -> Result<Act> {
    let name = match arrays.get("act") {
        None => return Ok(Act::Relu),
        Some(NpyData::Text(t)) => t.iter().next().cloned().unwrap_or_default(),
        Some(NpyData::Float(a)) => {
            // Bytes saved as uint8 arrays.
            a.iter().map(|&v| v as u8 as char).collect()
        }
    };
    match name.trim() {
        "relu" => Ok(Act::Relu),
        "abs" => Ok(Act::Abs),
        "leaky_relu" => Ok(Act::Leaky(slope(arrays)?)),
        other => Err(format_error(format!(
            "unknown activation {other:?} (expected relu, leaky_relu or abs)"
        ))),
    }
}

fn slope(arrays: &BTreeMap<String, NpyData>) -> Result<f64> {
    let Some(data) = arrays.get("slope").or_else(|| arrays.get("negative_slope")) else {
        return Ok(DEFAULT_LEAKY_SLOPE);
    };
    match data {
        NpyData::Float(a) if a.len() == 1 => {
            let s = a.iter().next().copied().unwrap_or(DEFAULT_LEAKY_SLOPE);
            crate::error::check_finite("leaky relu slope", [s].iter())?;
            Ok(s)
        }
        _ => Err(format_error("slope must be one number".into())),
    }
}
