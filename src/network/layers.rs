//! The public configuration structs of a [`super::Network`]'s layers.

use ndarray::{Array1, Array2, Array4};

/// The shape of the data flowing between layers.
///
/// Images are channel-major (`C x H x W`) and flattened row-major, as PyTorch
/// stores them, so a flatten layer never moves data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Shape {
    /// A flat vector of the given length.
    Flat(usize),
    /// A stack of `c` feature maps of `h x w` pixels.
    Image {
        /// Channels.
        c: usize,
        /// Height.
        h: usize,
        /// Width.
        w: usize,
    },
}

impl Shape {
    /// The number of scalars (`usize::MAX` when `c h w` overflows, a shape
    /// the builder rejects).
    pub fn len(&self) -> usize {
        self.checked_len().unwrap_or(usize::MAX)
    }

    /// The number of scalars, `None` when `c h w` overflows.
    pub fn checked_len(&self) -> Option<usize> {
        match *self {
            Shape::Flat(n) => Some(n),
            Shape::Image { c, h, w } => c.checked_mul(h)?.checked_mul(w),
        }
    }

    /// True when the shape holds no scalar.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Shape::Flat(n) => write!(f, "({n})"),
            Shape::Image { c, h, w } => write!(f, "({c}, {h}, {w})"),
        }
    }
}

/// A 2-D convolution, as PyTorch's `Conv2d`.
///
/// `weight` is `(out_channels, in_channels / groups, kh, kw)`; padding is
/// symmetric (rows, columns) and filled with zeros.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Conv2d {
    /// Kernel, `(out_channels, in_channels / groups, kh, kw)`.
    pub weight: Array4<f64>,
    /// Bias per output channel.
    pub bias: Option<Array1<f64>>,
    /// Stride (rows, columns).
    pub stride: [usize; 2],
    /// Zero padding on each side (rows, columns).
    pub padding: [usize; 2],
    /// Dilation (rows, columns).
    pub dilation: [usize; 2],
    /// Number of channel groups.
    pub groups: usize,
}

impl Conv2d {
    /// A convolution with stride 1, no padding, no dilation and one group.
    pub fn new(weight: Array4<f64>, bias: Option<Array1<f64>>) -> Conv2d {
        Conv2d {
            weight,
            bias,
            stride: [1, 1],
            padding: [0, 0],
            dilation: [1, 1],
            groups: 1,
        }
    }
}

/// A 2-D pooling window (max or average), as PyTorch's `MaxPool2d` / `AvgPool2d`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Pool2d {
    /// Window size (rows, columns).
    pub kernel: [usize; 2],
    /// Stride (rows, columns).
    pub stride: [usize; 2],
    /// Implicit padding on each side (rows, columns): `-inf` for max pooling,
    /// zeros for average pooling.
    pub padding: [usize; 2],
    /// Average pooling only: divide by the whole window (PyTorch's default)
    /// rather than by the number of non-padding inputs (ONNX's default).
    pub count_include_pad: bool,
}

impl Pool2d {
    /// A `k x k` window with stride `k` and no padding.
    pub fn square(k: usize) -> Pool2d {
        Pool2d {
            kernel: [k, k],
            stride: [k, k],
            padding: [0, 0],
            count_include_pad: true,
        }
    }
}

/// Batch normalisation in inference mode: `gamma (x - mean) / sqrt(var + eps) + beta`
/// per channel (or per feature for flat data).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct BatchNorm {
    /// Scale.
    pub gamma: Array1<f64>,
    /// Shift.
    pub beta: Array1<f64>,
    /// Running mean.
    pub mean: Array1<f64>,
    /// Running variance.
    pub var: Array1<f64>,
    /// Added to the variance.
    pub eps: f64,
}

/// The path that skips a residual block's body.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Skip {
    /// `x` itself.
    Identity,
    /// A dense projection `w x + b`, `w` being (out, in).
    Dense {
        /// Weight, (out, in).
        w: Array2<f64>,
        /// Bias.
        b: Array1<f64>,
    },
    /// A convolution (fold a batch norm in with [`Conv2d::fold_batch_norm`]).
    Conv(Conv2d),
}

/// The two-piece activations: `slope_neg * z` for `z <= 0`, `slope_pos * z` for `z > 0`.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Activation {
    /// `max(z, 0)`.
    Relu,
    /// `z` for `z > 0`, `slope z` otherwise.
    LeakyRelu(f64),
    /// `|z|`.
    Abs,
}

impl Activation {
    /// The slopes `[piece 0 (z <= 0), piece 1 (z > 0)]`.
    pub fn slopes(&self) -> [f64; 2] {
        match *self {
            Activation::Relu => [0.0, 1.0],
            Activation::LeakyRelu(a) => [a, 1.0],
            Activation::Abs => [-1.0, 1.0],
        }
    }
}
