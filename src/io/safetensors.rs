//! Networks from safetensors files: named tensors plus an [`Architecture`] that
//! says how they form layers.
//!
//! A safetensors file (the checkpoint format of the Hugging Face ecosystem,
//! candle and burn) stores tensors by name and nothing else, so the caller
//! supplies the layer order and the activations, or relies on the `.npz`
//! names `W0, b0, W1, b1, ...` ([`Architecture::npz_names`]).
//!
//! Tensors may be `F64`, `F32`, `F16` or `BF16`; all widen exactly to `f64`.
//! Other dtypes (integers, 8-bit and smaller floats) are rejected: they are not
//! how CPWL parameters are trained, and quantised checkpoints need their
//! scales, which the file does not tie to the tensors.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::path::Path;

use super::safetensors_file::SafeTensorsFile;
use ndarray::{Array1, Array2, Array4};

pub use super::arch_layer::{ArchLayer, DEFAULT_BN_EPS};
use super::elements::FloatKind;
use super::infer::{activation_layer, infer_layers, ConvGuess};
use crate::network::{Activation, BatchNorm, Conv2d, Network, NetworkBuilder, Shape, Skip};
use crate::{Error, Result};

/// How the tensors of a safetensors file form a network.
///
/// # Semantics
///
/// Either an explicit list of [`ArchLayer`]s, applied in order to inputs of
/// the shape given by [`Architecture::with_input`] (by default, flat vectors
/// as wide as the first dense weight's columns); or the `.npz` convention
/// ([`Architecture::npz_names`]).
///
/// # Examples
///
/// ```
/// use cpwl::io::{ArchLayer, Architecture};
/// let arch = Architecture::new(vec![
///     ArchLayer::dense("0"),
///     ArchLayer::Relu,
///     ArchLayer::dense("2"),
///     ArchLayer::LeakyRelu(0.1),
///     ArchLayer::dense("4"),
/// ]);
/// let net = cpwl::Network::from_safetensors("tests/fixtures/onnx/mlp.safetensors", &arch)?;
/// assert_eq!((net.input_dim(), net.output_dim()), (6, 3));
/// # Ok::<(), cpwl::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Architecture {
    input: Option<Shape>,
    layers: Layers,
    allow_unused: bool,
    conv: ConvGuess,
}

#[derive(Clone, Debug, PartialEq)]
enum Layers {
    Listed(Vec<ArchLayer>),
    NpzNames(Activation),
    Inferred(Activation),
}

impl Architecture {
    /// The layers in order; the input is a flat vector as wide as the first
    /// layer's weight unless [`Architecture::with_input`] says otherwise.
    pub fn new(layers: Vec<ArchLayer>) -> Self {
        Architecture::with_layers(Layers::Listed(layers))
    }

    fn with_layers(layers: Layers) -> Self {
        Architecture {
            input: None,
            layers,
            allow_unused: false,
            conv: ConvGuess {
                stride: 1,
                padding: 0,
            },
        }
    }

    /// The MLP of the `.npz` convention: tensors `W0, b0, W1, b1, ...`
    /// (`W_k` is `(out, in)`), every layer but the last followed by `activation`.
    /// For PyTorch state dicts (`0.weight`, `0.bias`, ...) use [`Architecture::infer`].
    pub fn npz_names(activation: Activation) -> Self {
        Architecture::with_layers(Layers::NpzNames(activation))
    }

    /// The sequential MLP or CNN of a PyTorch state dict, read off its tensor
    /// names and shapes, with `activation` after every layer but the last.
    ///
    /// Tensors are grouped by module (`features.0.weight` belongs to
    /// `features.0`), and modules are taken in the natural order of their
    /// names (`2` before `10`). A module with `running_mean` and `running_var`
    /// is a batch norm (PyTorch's epsilon 1e-5; `num_batches_tracked` is
    /// ignored) and takes the activation's place after its layer; otherwise a
    /// 2-D `weight` `(out, in)` makes a dense layer and a 4-D `weight`
    /// `(out, in / groups, kh, kw)` a convolution, with the groups that the
    /// incoming channels give and the stride and padding of
    /// [`Architecture::with_conv`] (PyTorch's defaults, 1 and 0, otherwise).
    /// A CNN needs its image shape ([`Architecture::with_input`]); the image is
    /// flattened (channels, rows, columns) before the first dense layer, where
    /// `nn.Flatten` sits. Layers without parameters other than the activation
    /// (pooling, residual connections) leave no trace in a state dict: give
    /// those networks an explicit [`Architecture::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// use cpwl::{io::Architecture, network::{Activation, Shape}, Network};
    /// let arch = Architecture::infer(Activation::Relu)
    ///     .with_input(Shape::Image { c: 2, h: 5, w: 5 })
    ///     .with_conv(1, 1);
    /// let net = Network::from_safetensors("tests/fixtures/pytorch/cnn_state.safetensors", &arch)?;
    /// assert_eq!((net.input_dim(), net.output_dim()), (50, 4));
    /// # Ok::<(), cpwl::Error>(())
    /// ```
    pub fn infer(activation: Activation) -> Self {
        Architecture::with_layers(Layers::Inferred(activation))
    }

    /// Sets the stride and the zero padding (both axes) of the convolutions
    /// that [`Architecture::infer`] finds.
    pub fn with_conv(mut self, stride: usize, padding: usize) -> Self {
        self.conv = ConvGuess { stride, padding };
        self
    }

    /// Lets the file hold tensors that the architecture does not use (default
    /// `false`: they are an error, so that a skipped layer never loads
    /// silently). A batch norm's `num_batches_tracked` is never counted as unused.
    pub fn allow_unused(mut self, allow: bool) -> Self {
        self.allow_unused = allow;
        self
    }

    /// Sets the shape of one input sample (needed when the first layer is not dense).
    pub fn with_input(mut self, shape: Shape) -> Self {
        self.input = Some(shape);
        self
    }
}

impl Network {
    /// Loads a network from a safetensors file, arranging its tensors as `arch` says.
    ///
    /// Every tensor of the file must be used by the architecture (a batch
    /// norm's `num_batches_tracked` excepted), unless
    /// [`Architecture::allow_unused`] says otherwise, so that a skipped layer
    /// never loads silently. `F64`, `F32`, `F16` and `BF16` tensors are
    /// widened exactly to `f64`.
    ///
    /// # Errors
    ///
    /// - [`Error::File`]: the file cannot be read, is not a safetensors file
    ///   (bad header, offsets outside the buffer), lacks a named tensor, or
    ///   breaks the `.npz` naming convention of [`Architecture::npz_names`].
    /// - [`Error::Unsupported`]: a tensor of another dtype.
    /// - [`Error::Shape`]: a tensor of the wrong rank or size for its layer,
    ///   or layers that do not chain.
    /// - [`Error::NonFinite`]: a NaN or infinite parameter.
    /// - [`Error::Invalid`]: an architecture that cannot be built (no input
    ///   shape when the first layer is not dense, a skip path that is not a
    ///   single dense or conv layer), that leaves tensors of the file unused,
    ///   or that [`Architecture::infer`] cannot read off the names.
    ///
    /// # Panics
    ///
    /// Never on user input.
    ///
    /// # Examples
    ///
    /// ```
    /// use cpwl::network::Activation;
    /// use cpwl::io::Architecture;
    /// let arch = Architecture::npz_names(Activation::Relu);
    /// let net = cpwl::Network::from_safetensors("tests/fixtures/onnx/mlp_f32.safetensors", &arch)?;
    /// assert_eq!((net.input_dim(), net.output_dim()), (6, 3));
    /// # Ok::<(), cpwl::Error>(())
    /// ```
    pub fn from_safetensors(path: impl AsRef<Path>, arch: &Architecture) -> Result<Network> {
        let path = path.as_ref();
        network_from_safetensors(&super::read_file(path)?, arch, path)
    }

    /// Loads a network from the bytes of a safetensors file; see [`Network::from_safetensors`].
    ///
    /// # Errors
    ///
    /// As [`Network::from_safetensors`]; file errors name the path `<bytes>`.
    ///
    /// # Panics
    ///
    /// Never on user input.
    pub fn from_safetensors_bytes(bytes: &[u8], arch: &Architecture) -> Result<Network> {
        network_from_safetensors(bytes, arch, Path::new(super::MEMORY_PATH))
    }
}

fn network_from_safetensors(bytes: &[u8], arch: &Architecture, path: &Path) -> Result<Network> {
    let tensors = SafeTensorsFile::parse(bytes).map_err(|reason| Error::File {
        path: path.to_path_buf(),
        reason: format!("not a safetensors file: {reason}"),
        source: None,
    })?;
    let file = TensorFile {
        tensors,
        path,
        used: RefCell::default(),
    };
    let layers = match &arch.layers {
        Layers::Listed(layers) => Cow::Borrowed(layers),
        Layers::NpzNames(act) => Cow::Owned(file.npz_layers(*act)?),
        Layers::Inferred(act) => Cow::Owned(infer_layers(
            &file.names_and_shapes(),
            arch.input,
            *act,
            arch.conv,
        )?),
    };
    let input = match arch.input {
        Some(shape) => shape,
        None => Shape::Flat(file.first_dense_width(&layers)?),
    };
    let builder = match input {
        Shape::Flat(d) => Network::builder(d),
        Shape::Image { c, h, w } => Network::builder_image(c, h, w),
    };
    let network = file.push_layers(builder, &layers)?.build()?;
    if !arch.allow_unused {
        file.check_all_used()?;
    }
    Ok(network)
}

/// A parsed safetensors file and its path, for error messages.
struct TensorFile<'a> {
    tensors: SafeTensorsFile<'a>,
    path: &'a Path,
    /// The names of the tensors read so far.
    used: RefCell<BTreeSet<String>>,
}

impl TensorFile<'_> {
    fn error(&self, reason: String) -> Error {
        Error::File {
            path: self.path.to_path_buf(),
            reason,
            source: None,
        }
    }

    /// Every tensor's name and shape.
    fn names_and_shapes(&self) -> Vec<(String, Vec<usize>)> {
        (self.tensors.entries())
            .map(|(name, entry)| (name.to_string(), entry.shape.clone()))
            .collect()
    }

    /// Fails when a tensor of the file was never read (a skipped layer), except
    /// the batch-norm counters `num_batches_tracked`, which inference does not use.
    fn check_all_used(&self) -> Result<()> {
        let used = self.used.borrow();
        let unused: Vec<&str> = (self.tensors.names())
            .filter(|name| !used.contains(*name) && !name.ends_with("num_batches_tracked"))
            .collect();
        if unused.is_empty() {
            return Ok(());
        }
        let mut unused = unused;
        unused.sort_unstable();
        Err(Error::invalid(
            "architecture",
            format!(
                "it leaves tensors of the file unused: {} (a skipped layer?); name them in the \
                 architecture, or call allow_unused(true) if they are not part of the network",
                unused.join(", ")
            ),
        ))
    }

    /// The tensor `name`, widened to `f64`, with its shape.
    fn tensor(&self, name: &str) -> Result<(Vec<usize>, Vec<f64>)> {
        let (entry, bytes) =
            (self.tensors.tensor(name)).ok_or_else(|| self.error(format!("no tensor named {name}")))?;
        self.used.borrow_mut().insert(name.to_string());
        let kind = match entry.dtype.as_str() {
            "F64" => FloatKind::F64,
            "F32" => FloatKind::F32,
            "F16" => FloatKind::F16,
            "BF16" => FloatKind::Bf16,
            other => {
                return Err(Error::Unsupported {
                    layer: name.to_string(),
                    op: format!("tensor dtype {other} (F64, F32, F16 or BF16 are read)"),
                })
            }
        };
        let data = (kind.decode_le(bytes))
            .ok_or_else(|| self.error(format!("tensor {name}: data of ragged length")))?;
        crate::error::check_finite(name, &data)?;
        Ok((entry.shape.clone(), data))
    }

    fn rank_error(name: &str, expected: &str, dims: &[usize]) -> Error {
        Error::shape(format!("tensor {name}"), expected, format!("shape {dims:?}"))
    }

    fn matrix(&self, name: &str) -> Result<Array2<f64>> {
        match self.tensor(name)? {
            (dims, data) if dims.len() == 2 => Array2::from_shape_vec((dims[0], dims[1]), data)
                .map_err(|e| self.error(format!("tensor {name}: {e}"))),
            (dims, _) => Err(Self::rank_error(name, "a matrix", &dims)),
        }
    }

    fn vector(&self, name: &str) -> Result<Array1<f64>> {
        match self.tensor(name)? {
            (dims, data) if dims.len() == 1 => Ok(Array1::from_vec(data)),
            (dims, _) => Err(Self::rank_error(name, "a vector", &dims)),
        }
    }

    fn tensor4(&self, name: &str) -> Result<Array4<f64>> {
        match self.tensor(name)? {
            (dims, data) if dims.len() == 4 => {
                Array4::from_shape_vec((dims[0], dims[1], dims[2], dims[3]), data)
                    .map_err(|e| self.error(format!("tensor {name}: {e}")))
            }
            (dims, _) => Err(Self::rank_error(name, "a 4-tensor", &dims)),
        }
    }

    fn optional_vector(&self, name: Option<&String>) -> Result<Option<Array1<f64>>> {
        name.map(|n| self.vector(n)).transpose()
    }

    /// The layers of the `.npz` convention, checked against the file's names.
    fn npz_layers(&self, act: Activation) -> Result<Vec<ArchLayer>> {
        let count = super::convention::numbered_layer_count(self.tensors.names()).map_err(|reason| {
            self.error(format!(
                "{reason} (npz_names reads W0, b0, W1, ...; for PyTorch state-dict names such as \
                 0.weight use Architecture::infer)"
            ))
        })?;
        let activation = activation_layer(act);
        let mut layers = Vec::with_capacity(2 * count);
        for k in 0..count {
            if k > 0 {
                layers.push(activation.clone());
            }
            layers.push(ArchLayer::Dense {
                weight: format!("W{k}"),
                bias: Some(format!("b{k}")),
            });
        }
        Ok(layers)
    }

    /// The input width of a flat network: the columns of its first layer's weight.
    fn first_dense_width(&self, layers: &[ArchLayer]) -> Result<usize> {
        match layers.first() {
            Some(ArchLayer::Dense { weight, .. }) => Ok(self.matrix(weight)?.ncols()),
            _ => Err(Error::invalid(
                "architecture",
                "the first layer is not dense, so the input shape must be given (with_input)",
            )),
        }
    }

    fn push_layers(&self, builder: NetworkBuilder, layers: &[ArchLayer]) -> Result<NetworkBuilder> {
        layers.iter().try_fold(builder, |b, layer| self.push(b, layer))
    }

    fn push(&self, b: NetworkBuilder, layer: &ArchLayer) -> Result<NetworkBuilder> {
        Ok(match layer {
            ArchLayer::Dense { .. } => {
                let (w, bias) = self.dense(layer)?;
                b.dense(w, bias)?
            }
            ArchLayer::Conv2d { .. } => b.conv2d(self.conv(layer)?)?,
            ArchLayer::BatchNorm { .. } => b.batch_norm(self.batch_norm(layer)?)?,
            ArchLayer::Relu => b.relu(),
            ArchLayer::LeakyRelu(slope) => b.leaky_relu(*slope),
            ArchLayer::Abs => b.abs(),
            ArchLayer::Maxout(k) => b.maxout(*k),
            ArchLayer::MaxPool2d(pool) => b.max_pool2d(*pool)?,
            ArchLayer::AvgPool2d(pool) => b.avg_pool2d(*pool)?,
            ArchLayer::GlobalAvgPool => b.global_avg_pool()?,
            ArchLayer::Flatten => b.flatten(),
            ArchLayer::Residual { skip, body } => {
                let skip = self.skip(skip)?;
                b.residual_with(skip, |inner| self.push_layers(inner, body))?
            }
        })
    }

    fn dense(&self, layer: &ArchLayer) -> Result<(Array2<f64>, Array1<f64>)> {
        let ArchLayer::Dense { weight, bias } = layer else {
            return Err(Error::invalid("architecture", "expected a dense layer"));
        };
        let w = self.matrix(weight)?;
        let b = (self.optional_vector(bias.as_ref())?).unwrap_or_else(|| Array1::zeros(w.nrows()));
        Ok((w, b))
    }

    fn conv(&self, layer: &ArchLayer) -> Result<Conv2d> {
        let ArchLayer::Conv2d {
            weight,
            bias,
            stride,
            padding,
            dilation,
            groups,
        } = layer
        else {
            return Err(Error::invalid("architecture", "expected a conv layer"));
        };
        Ok(Conv2d {
            weight: self.tensor4(weight)?,
            bias: self.optional_vector(bias.as_ref())?,
            stride: *stride,
            padding: *padding,
            dilation: *dilation,
            groups: *groups,
        })
    }

    fn batch_norm(&self, layer: &ArchLayer) -> Result<BatchNorm> {
        let ArchLayer::BatchNorm {
            gamma,
            beta,
            mean,
            var,
            eps,
        } = layer
        else {
            return Err(Error::invalid("architecture", "expected a batch norm"));
        };
        Ok(BatchNorm {
            gamma: self.vector(gamma)?,
            beta: self.vector(beta)?,
            mean: self.vector(mean)?,
            var: self.vector(var)?,
            eps: *eps,
        })
    }

    fn skip(&self, layers: &[ArchLayer]) -> Result<Skip> {
        match layers {
            [] => Ok(Skip::Identity),
            [dense @ ArchLayer::Dense { .. }] => {
                let (w, b) = self.dense(dense)?;
                Ok(Skip::Dense { w, b })
            }
            [conv @ ArchLayer::Conv2d { .. }] => Ok(Skip::Conv(self.conv(conv)?)),
            [conv @ ArchLayer::Conv2d { .. }, bn @ ArchLayer::BatchNorm { .. }] => Ok(Skip::Conv(
                self.conv(conv)?.fold_batch_norm(&self.batch_norm(bn)?)?,
            )),
            _ => Err(Error::invalid(
                "residual skip",
                "must be empty, one Dense, or one Conv2d with an optional BatchNorm",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_with(names: &[&str]) -> Vec<u8> {
        let one = 1.0f64.to_le_bytes();
        let views: Vec<(String, ::safetensors::tensor::TensorView)> = (names.iter())
            .map(|n| {
                let view =
                    ::safetensors::tensor::TensorView::new(::safetensors::Dtype::F64, vec![1, 1], &one)
                        .expect("one element");
                (n.to_string(), view)
            })
            .collect();
        ::safetensors::serialize(views, None).expect("serializable")
    }

    #[test]
    fn pytorch_names_follow_module_prefixes() {
        assert_eq!(
            ArchLayer::dense("fc"),
            ArchLayer::Dense {
                weight: "fc.weight".into(),
                bias: Some("fc.bias".into())
            }
        );
        let ArchLayer::BatchNorm { mean, var, eps, .. } = ArchLayer::batch_norm("bn") else {
            panic!("not a batch norm");
        };
        assert_eq!(
            (mean.as_str(), var.as_str(), eps),
            ("bn.running_mean", "bn.running_var", 1e-5)
        );
    }

    #[test]
    fn npz_names_interleave_the_activation() {
        let bytes = file_with(&["W0", "b0", "W1", "b1", "W2", "b2"]);
        let file = TensorFile {
            tensors: SafeTensorsFile::parse(&bytes).unwrap(),
            path: Path::new("t"),
            used: RefCell::default(),
        };
        let layers = file.npz_layers(Activation::LeakyRelu(0.2)).unwrap();
        assert_eq!(layers.len(), 5);
        assert_eq!(layers[1], ArchLayer::LeakyRelu(0.2));
        assert_eq!(layers[3], ArchLayer::LeakyRelu(0.2));
        assert!(matches!(&layers[4], ArchLayer::Dense { weight, .. } if weight == "W2"));
    }
}
