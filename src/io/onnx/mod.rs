//! ONNX import (feature `onnx`): the CPWL subset of an exported graph, as a [`Network`].
//!
//! The protobuf messages are declared by hand in `proto.rs` (no `protoc` at
//! build time); `graph.rs` indexes and checks the graph, `node.rs` reads
//! attributes and constant inputs, `layers.rs` turns each operator into the
//! builder's layer description and `translate.rs` walks the graph from input
//! to output.

mod external;
mod graph;
mod head;
mod layers;
mod node;
mod proto;
mod tensor;
mod translate;

use std::path::{Path, PathBuf};

use prost::Message;

use crate::network::Network;
use crate::{Error, Private, Result};

/// Options of [`Network::from_onnx_with`] and [`Network::from_onnx_bytes_with`].
///
/// # Examples
///
/// ```
/// use cpwl::io::OnnxOptions;
/// let strict = OnnxOptions { strict_head: true, ..Default::default() };
/// assert!(!OnnxOptions::default().strict_head && strict.strict_head);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OnnxOptions {
    /// Refuse a trailing `Softmax` or `LogSoftmax` instead of dropping it
    /// (default `false`: it is dropped and [`Network::dropped_head`] says so).
    pub strict_head: bool,
    #[doc(hidden)]
    pub _private: Private,
}

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

/// Decodes and translates an ONNX model held in memory, reading external
/// tensor data through `resolve`.
fn network_from_onnx(
    bytes: &[u8],
    path: &Path,
    options: &OnnxOptions,
    resolve: &mut external::Resolver,
) -> Result<Network> {
    let ctx = FileContext { path };
    let model = proto::ModelProto::decode(bytes).map_err(|e| Error::File {
        path: path.to_path_buf(),
        reason: "not an ONNX model (protobuf decoding failed)".into(),
        source: Some(Box::new(e)),
    })?;
    let mut graph = model.graph.ok_or_else(|| ctx.error("the model has no graph"))?;
    external::inline_external_data(&mut graph, resolve, &ctx)?;
    let index = graph::GraphIndex::new(&graph, &ctx)?;
    translate::translate(&index, &ctx, options.strict_head)
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
    /// | a final `Softmax` or `LogSoftmax` over the classes | dropped: the network outputs the logits |
    ///
    /// Both of PyTorch's exporters are read: `torch.onnx.export(model, (x,),
    /// "net.onnx")` (the default, `dynamo=True`, which writes large weights to
    /// `net.onnx.data` next to the model) and `dynamo=False`. External data
    /// files are read from the model's folder. A trailing `Softmax` or
    /// `LogSoftmax` is dropped and recorded ([`Network::dropped_head`]): it is
    /// strictly increasing in each logit and the same map at every input, so
    /// the linear regions, decision boundaries and arg-max of the logits are
    /// those of the classifier ([`crate::network::Head`]). Set
    /// [`OnnxOptions::strict_head`] to refuse it instead.
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
    /// - [`Error::File`]: the file or an external data file cannot be read
    ///   (or a data location leaves the model's folder), is not a protobuf-encoded
    ///   model, or is inconsistent (a value no node or initializer defines,
    ///   tensor data that does not match its shape, a value defined twice).
    /// - [`Error::Unsupported`]: an operator outside the subset, named with
    ///   its node (for example `unsupported Sigmoid at squash`), or a supported
    ///   operator with attributes outside it (asymmetric padding, `transA`,
    ///   several inputs or outputs); the message lists the supported operators
    ///   and says to export the network up to its logits.
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
        Network::from_onnx_with(path, &OnnxOptions::default())
    }

    /// Loads a network from an ONNX file with options; see [`Network::from_onnx`].
    ///
    /// # Errors
    ///
    /// As [`Network::from_onnx`]; with [`OnnxOptions::strict_head`], a
    /// trailing `Softmax` or `LogSoftmax` is an [`Error::Unsupported`].
    ///
    /// # Examples
    ///
    /// ```
    /// use cpwl::{io::OnnxOptions, Network};
    /// let path = "tests/fixtures/pytorch/mlp_softmax_dynamo.onnx";
    /// let strict = OnnxOptions { strict_head: true, ..Default::default() };
    /// assert!(Network::from_onnx_with(path, &strict).is_err());
    /// assert!(Network::from_onnx_with(path, &OnnxOptions::default())?.dropped_head().is_some());
    /// # Ok::<(), cpwl::Error>(())
    /// ```
    pub fn from_onnx_with(path: impl AsRef<Path>, options: &OnnxOptions) -> Result<Network> {
        let path = path.as_ref();
        let folder = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let mut next_to_model = |location: &str| std::fs::read(folder.join(location));
        network_from_onnx(&crate::io::read_file(path)?, path, options, &mut next_to_model)
    }

    /// Loads a network from the bytes of an ONNX file; see [`Network::from_onnx`].
    ///
    /// Models whose weights are in external data files need
    /// [`Network::from_onnx_bytes_with`] and a resolver (or
    /// [`Network::from_onnx`] with the model's path).
    ///
    /// # Errors
    ///
    /// As [`Network::from_onnx`]; file errors name the path `<memory>`.
    ///
    /// # Panics
    ///
    /// Never on user input.
    pub fn from_onnx_bytes(bytes: &[u8]) -> Result<Network> {
        let mut no_files = |location: &str| -> std::io::Result<Vec<u8>> {
            Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{location}: bytes alone have no external data; use Network::from_onnx_bytes_with and a resolver"),
            ))
        };
        let path = PathBuf::from(crate::io::MEMORY_PATH);
        network_from_onnx(bytes, &path, &OnnxOptions::default(), &mut no_files)
    }

    /// Loads a network from the bytes of an ONNX file whose external data
    /// files `resolve` reads; see [`Network::from_onnx`].
    ///
    /// `resolve` receives each data file's location as the model names it (a
    /// relative path such as `net.onnx.data`, already checked to stay inside
    /// the model's folder) and returns the file's bytes; each file is asked for
    /// once.
    ///
    /// # Errors
    ///
    /// As [`Network::from_onnx_with`]; a resolver error becomes an
    /// [`Error::File`] naming the location, with the I/O error as its source.
    ///
    /// # Panics
    ///
    /// Never on user input.
    ///
    /// # Examples
    ///
    /// ```
    /// use cpwl::{io::OnnxOptions, Network};
    /// let dir = std::path::Path::new("tests/fixtures/pytorch");
    /// let bytes = std::fs::read(dir.join("mlp_dynamo.onnx")).unwrap();
    /// let net = Network::from_onnx_bytes_with(&bytes, &OnnxOptions::default(), |location| {
    ///     std::fs::read(dir.join(location))
    /// })?;
    /// assert_eq!(net, Network::from_onnx(dir.join("mlp_dynamo.onnx"))?);
    /// # Ok::<(), cpwl::Error>(())
    /// ```
    pub fn from_onnx_bytes_with(
        bytes: &[u8],
        options: &OnnxOptions,
        mut resolve: impl FnMut(&str) -> std::io::Result<Vec<u8>>,
    ) -> Result<Network> {
        let path = PathBuf::from(crate::io::MEMORY_PATH);
        network_from_onnx(bytes, &path, options, &mut resolve)
    }
}
