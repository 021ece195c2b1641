//! ONNX import (feature `onnx`): the CPWL subset of an exported graph, as a [`Network`].
//!
//! The protobuf messages are declared by hand in `proto.rs` (no `protoc` at
//! build time); `graph.rs` indexes and checks the graph, `node.rs` reads
//! attributes and constant inputs, `layers.rs` turns each operator into the
//! builder's layer description and `translate.rs` walks the graph from input
//! to output.

mod graph;
mod layers;
mod node;
mod proto;
mod tensor;
mod translate;

use std::path::{Path, PathBuf};

use prost::Message;

use crate::network::Network;
use crate::{Error, Result};

/// The file an import reads, for error messages.
pub(crate) struct FileContext<'a> {
    /// The file's path (`<memory>` for bytes).
    pub path: &'a Path,
}

impl FileContext<'_> {
    /// An [`Error::File`] about this file.
    pub(crate) fn error(&self, reason: impl Into<String>) -> Error {
        Error::File {
            path: self.path.to_path_buf(),
            reason: reason.into(),
            source: None,
        }
    }
}

/// Decodes and translates an ONNX model held in memory.
fn network_from_onnx(bytes: &[u8], path: &Path) -> Result<Network> {
    let ctx = FileContext { path };
    let model = proto::ModelProto::decode(bytes).map_err(|e| Error::File {
        path: path.to_path_buf(),
        reason: "not an ONNX model (protobuf decoding failed)".into(),
        source: Some(Box::new(e)),
    })?;
    let graph = (model.graph.as_ref()).ok_or_else(|| ctx.error("the model has no graph"))?;
    let index = graph::GraphIndex::new(graph, &ctx)?;
    translate::translate(&index, &ctx)
}

#[cfg_attr(docsrs, doc(cfg(feature = "onnx")))]
impl Network {
    /// Loads a network from an ONNX file, such as one written by `torch.onnx.export`.
    ///
    /// The graph must map a batch of vectors `(N, d)` or of CHW images
    /// `(N, C, H, W)` (the first dimension is the batch, of any size) to one
    /// output, through the CPWL subset of ONNX:
    ///
    /// | operators | become |
    /// |---|---|
    /// | `Gemm` (`alpha`, `beta`, `transB`), `MatMul` + `Add` of a constant | a dense layer |
    /// | `Conv` (2-D, symmetric or `SAME` padding that is even, groups, dilation) | a convolution |
    /// | `BatchNormalization` (inference) | folded into the preceding layer |
    /// | `Relu`, `LeakyRelu`, `Abs` | activations |
    /// | `MaxPool`, `AveragePool` (`count_include_pad`), `GlobalAveragePool` | pooling |
    /// | `Flatten` (`axis = 1`), `Reshape` that flattens each sample | flattening |
    /// | `Identity`, `Dropout` | nothing (inference) |
    /// | a value read by two branches that rejoin in an `Add` | a residual block |
    ///
    /// In a residual block one branch is the skip: nothing, one dense layer, or
    /// one convolution with an optional batch norm; the other, any chain of the
    /// layers above (nested blocks included), is the body. Parameters are read
    /// from initializers or `Constant` nodes, in `float`, `double`, `float16`
    /// or `bfloat16` (widened exactly to `f64`). Float attributes such as
    /// `epsilon` and `alpha` are stored in single precision by ONNX; they are
    /// widened through their shortest decimal, so `0.1` stays `0.1`.
    ///
    /// # Errors
    ///
    /// - [`Error::File`]: the file cannot be read, is not a protobuf-encoded
    ///   model, or is inconsistent (a value no node or initializer defines,
    ///   tensor data that does not match its shape, a value defined twice).
    /// - [`Error::Unsupported`]: an operator outside the subset, named with
    ///   its node (for example `unsupported Sigmoid at squash`), or a supported
    ///   operator with attributes outside it (asymmetric padding, `transA`,
    ///   several inputs or outputs, external tensor data).
    /// - [`Error::Shape`]: parameters whose shapes do not chain.
    /// - [`Error::NonFinite`]: a parameter that is NaN or infinite.
    ///
    /// # Panics
    ///
    /// Never on user input: malformed, truncated or hostile files give errors.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> cpwl::Result<()> {
    /// let net = cpwl::Network::from_onnx("tests/fixtures/onnx/mlp.onnx")?;
    /// assert_eq!((net.input_dim(), net.output_dim()), (6, 3));
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_onnx(path: impl AsRef<Path>) -> Result<Network> {
        let path = path.as_ref();
        network_from_onnx(&crate::io::read_file(path)?, path)
    }

    /// Loads a network from the bytes of an ONNX file; see [`Network::from_onnx`].
    ///
    /// # Errors
    ///
    /// As [`Network::from_onnx`]; file errors name the path `<memory>`.
    ///
    /// # Panics
    ///
    /// Never on user input.
    pub fn from_onnx_bytes(bytes: &[u8]) -> Result<Network> {
        network_from_onnx(bytes, &PathBuf::from(crate::io::MEMORY_PATH))
    }
}
