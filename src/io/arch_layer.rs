//! [`ArchLayer`]: one layer of a safetensors [`super::Architecture`], naming
//! the file's tensors.

use crate::network::Pool2d;

/// The default batch-norm epsilon of PyTorch and of ONNX's `BatchNormalization`.
pub const DEFAULT_BN_EPS: f64 = 1e-5;

/// One layer of an [`super::Architecture`]: parameters name tensors of the file.
#[derive(Clone, Debug, PartialEq)]
pub enum ArchLayer {
    /// `w x + b`; `weight` is `(out, in)` as in PyTorch's `nn.Linear`, `bias`
    /// is `(out,)` (zero when `None`).
    Dense {
        /// Name of the weight tensor.
        weight: String,
        /// Name of the bias tensor.
        bias: Option<String>,
    },
    /// A 2-D convolution; `weight` is `(out, in / groups, kh, kw)`.
    Conv2d {
        /// Name of the kernel tensor.
        weight: String,
        /// Name of the bias tensor (zero when `None`).
        bias: Option<String>,
        /// Stride (rows, columns).
        stride: [usize; 2],
        /// Zero padding on each side (rows, columns).
        padding: [usize; 2],
        /// Dilation (rows, columns).
        dilation: [usize; 2],
        /// Channel groups.
        groups: usize,
    },
    /// Batch normalisation with running statistics (inference mode).
    BatchNorm {
        /// Name of the scale tensor (PyTorch's `weight`).
        gamma: String,
        /// Name of the shift tensor (PyTorch's `bias`).
        beta: String,
        /// Name of the running mean.
        mean: String,
        /// Name of the running variance.
        var: String,
        /// Added to the variance.
        eps: f64,
    },
    /// ReLU.
    Relu,
    /// Leaky ReLU with the given negative slope.
    LeakyRelu(f64),
    /// Absolute value.
    Abs,
    /// Maxout over consecutive groups of the given size.
    Maxout(usize),
    /// Max pooling.
    MaxPool2d(Pool2d),
    /// Average pooling.
    AvgPool2d(Pool2d),
    /// Average over each channel's whole image.
    GlobalAvgPool,
    /// Image to vector (no data moves).
    Flatten,
    /// `skip(x) + body(x)`. `skip` is empty (the identity), one `Dense`, or a
    /// `Conv2d` optionally followed by a `BatchNorm`.
    Residual {
        /// The skip path.
        skip: Vec<ArchLayer>,
        /// The body.
        body: Vec<ArchLayer>,
    },
}

impl ArchLayer {
    /// A dense layer under PyTorch's names `{prefix}.weight` and `{prefix}.bias`.
    pub fn dense(prefix: &str) -> Self {
        ArchLayer::Dense {
            weight: format!("{prefix}.weight"),
            bias: Some(format!("{prefix}.bias")),
        }
    }

    /// A convolution under PyTorch's names `{prefix}.weight` and
    /// `{prefix}.bias`, with the same stride and padding along both axes, no
    /// dilation and one group.
    pub fn conv2d(prefix: &str, stride: usize, padding: usize) -> Self {
        ArchLayer::Conv2d {
            weight: format!("{prefix}.weight"),
            bias: Some(format!("{prefix}.bias")),
            stride: [stride; 2],
            padding: [padding; 2],
            dilation: [1, 1],
            groups: 1,
        }
    }

    /// A batch norm under PyTorch's names `{prefix}.weight`, `{prefix}.bias`,
    /// `{prefix}.running_mean` and `{prefix}.running_var`, with epsilon
    /// [`DEFAULT_BN_EPS`].
    pub fn batch_norm(prefix: &str) -> Self {
        ArchLayer::BatchNorm {
            gamma: format!("{prefix}.weight"),
            beta: format!("{prefix}.bias"),
            mean: format!("{prefix}.running_mean"),
            var: format!("{prefix}.running_var"),
            eps: DEFAULT_BN_EPS,
        }
    }
}
