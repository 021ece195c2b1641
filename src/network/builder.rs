//! [`NetworkBuilder`]: every layer checked as it is pushed.

use ndarray::{Array1, Array2};

use super::layers::{Activation, BatchNorm, Conv2d, Pool2d, Shape, Skip};
use super::pattern::MAX_UNIT_VALUE;
use super::program::{
    AffineStep, AvgPooling, ChannelAffine, Convolution, Dense, MaxUnits, Nonlinearity, Program, Step,
    TwoPiece, MAX_VALUES,
};
use super::spatial::{pool_candidates, window_out};
use super::Network;
use crate::error::check_finite;
use crate::error::{Error, Result};

/// Builds a [`Network`] layer by layer, checking every shape as it goes.
///
/// Methods that take arrays return `Result` at once; the parameter-free
/// activations return the builder and report a bad argument from
/// [`NetworkBuilder::build`].
///
/// # Examples
///
/// ```
/// use cpwl::Network;
/// use ndarray::array;
/// let net = Network::builder(2)
///     .dense(array![[1.0, -1.0], [0.5, 2.0]], array![0.0, 1.0])?
///     .relu()
///     .dense(array![[1.0, 1.0]], array![-0.5])?
///     .build()?;
/// // relu(1, 1.5) summed, minus 0.5
/// assert_eq!(net.forward(array![1.0, 0.0].view())?[0], 2.0);
/// # Ok::<(), cpwl::Error>(())
/// ```
#[derive(Debug)]
pub struct NetworkBuilder {
    input: Shape,
    shape: Shape,
    steps: Vec<Step>,
    /// Layers pushed so far at this level (a residual block counts as one),
    /// which name the layers in errors.
    layers: usize,
    units: usize,
    error: Option<Error>,
    path: String,
}

impl NetworkBuilder {
    pub(crate) fn new(input: Shape) -> Self {
        NetworkBuilder {
            input,
            shape: input,
            steps: Vec::new(),
            layers: 0,
            units: 0,
            error: check_size("network input", input).err(),
            path: String::new(),
        }
    }

    /// The shape of the data after the layers pushed so far.
    pub fn shape(&self) -> Shape {
        self.shape
    }

    fn here(&self, kind: &str) -> String {
        format!("layer {}{} ({kind})", self.path, self.layers)
    }

    /// A dense layer `w x + b`, `w` being (out, in) as in PyTorch's `nn.Linear`.
    /// Image data is flattened first.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when `w` does not take the current width or `b` does not
    /// match `w`; [`Error::NonFinite`].
    pub fn dense(mut self, w: Array2<f64>, b: Array1<f64>) -> Result<Self> {
        let dense = dense_step(&self.here("dense"), self.shape, w, b)?;
        self.shape = Shape::Flat(dense.w.nrows());
        self.push(Step::Affine(AffineStep::Dense(dense)));
        Ok(self)
    }

    /// A 2-D convolution on image data.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] for flat data, channel counts that do not match, or a
    /// kernel larger than the padded image; [`Error::Invalid`] for zero strides,
    /// dilations or groups; [`Error::NonFinite`].
    pub fn conv2d(mut self, conv: Conv2d) -> Result<Self> {
        let here = self.here("conv2d");
        let output = conv_output(&here, &conv, self.shape)?;
        let input = self.shape;
        self.shape = output;
        self.push(Step::Affine(AffineStep::Conv(Convolution {
            conv,
            input,
            output,
        })));
        Ok(self)
    }

    /// Batch normalisation in inference mode, folded into the preceding dense or
    /// convolution layer when there is one.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] when the parameter lengths differ from the channel (or
    /// feature) count; [`Error::Invalid`] for a negative `var + eps`;
    /// [`Error::NonFinite`].
    pub fn batch_norm(mut self, bn: BatchNorm) -> Result<Self> {
        let here = self.here("batch_norm");
        let channels = match self.shape {
            Shape::Flat(n) => n,
            Shape::Image { c, .. } => c,
        };
        let (scale, shift) = bn_scale_shift(&here, &bn, channels)?;
        match self.steps.last_mut() {
            Some(Step::Affine(AffineStep::Dense(Dense { w, b }))) => {
                for (i, mut row) in w.outer_iter_mut().enumerate() {
                    row *= scale[i];
                    b[i] = b[i] * scale[i] + shift[i];
                }
            }
            Some(Step::Affine(AffineStep::Conv(Convolution { conv, .. }))) => {
                let folded = std::mem::replace(conv, Conv2d::new(ndarray::Array4::zeros((0, 0, 0, 0)), None));
                *conv = fold_scale_shift(folded, &scale, &shift);
            }
            _ => {
                let spatial = self.shape.len() / channels.max(1);
                self.push(Step::Affine(AffineStep::ChannelAffine(ChannelAffine {
                    scale,
                    shift,
                    spatial,
                })));
            }
        }
        Ok(self)
    }

    /// Average pooling on image data.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] for flat data or a window that does not fit;
    /// [`Error::Invalid`] for zero sizes or padding over half the window.
    pub fn avg_pool2d(mut self, pool: Pool2d) -> Result<Self> {
        let here = self.here("avg_pool2d");
        let output = pool_output(&here, &pool, self.shape)?;
        let input = self.shape;
        self.shape = output;
        self.push(Step::Affine(AffineStep::AvgPool(AvgPooling {
            pool,
            input,
            output,
        })));
        Ok(self)
    }

    /// Global average pooling: `C x H x W` to `C x 1 x 1`.
    ///
    /// # Errors
    ///
    /// [`Error::Shape`] for flat data.
    pub fn global_avg_pool(self) -> Result<Self> {
        match self.shape {
            Shape::Image { h, w, .. } => self.avg_pool2d(Pool2d {
                kernel: [h, w],
                stride: [h, w],
                padding: [0, 0],
                count_include_pad: true,
            }),
            Shape::Flat(_) => Err(Error::shape(
                self.here("global_avg_pool"),
                "image data",
                self.shape,
            )),
        }
    }

    /// Max pooling on image data; each output pixel is a max unit.
    ///
    /// # Errors
    ///
    /// As [`NetworkBuilder::avg_pool2d`]; [`Error::Unsupported`] for windows of
    /// more than 36 pixels (the pattern text has 36 symbols).
    pub fn max_pool2d(mut self, pool: Pool2d) -> Result<Self> {
        let here = self.here("max_pool2d");
        let output = pool_output(&here, &pool, self.shape)?;
        let width = pool.kernel[0] * pool.kernel[1];
        if width > MAX_UNIT_VALUE as usize + 1 {
            return Err(Error::Unsupported {
                layer: here,
                op: format!("max pooling over {width} > 36 inputs"),
            });
        }
        let cand = pool_candidates(&pool, self.shape, output);
        let input_len = self.shape.len();
        self.shape = output;
        self.push_max(width, cand, input_len, true);
        Ok(self)
    }

    /// Flattens image data (a no-op on the data, which is already flat in memory).
    pub fn flatten(mut self) -> Self {
        self.shape = Shape::Flat(self.shape.len());
        self
    }

    /// ReLU on every unit.
    pub fn relu(self) -> Self {
        self.two_piece(Activation::Relu)
    }

    /// Leaky ReLU with the given negative slope (any finite value).
    pub fn leaky_relu(mut self, slope: f64) -> Self {
        if !slope.is_finite() && self.error.is_none() {
            self.error = Some(Error::NonFinite {
                what: format!("{} slope", self.here("leaky_relu")),
                index: 0,
            });
        }
        self.two_piece(Activation::LeakyRelu(slope))
    }

    /// Absolute value on every unit.
    pub fn abs(self) -> Self {
        self.two_piece(Activation::Abs)
    }

    /// Maxout: unit `j` outputs the max of inputs `j k .. j k + k - 1`
    /// (consecutive groups of `k`; image data is treated as flat).
    pub fn maxout(mut self, k: usize) -> Self {
        let n = self.shape.len();
        if let Err(e) = check_size(&self.here("maxout"), self.shape) {
            self.error.get_or_insert(e);
            return self;
        }
        if k == 0 || n % k != 0 || k > MAX_UNIT_VALUE as usize + 1 {
            if self.error.is_none() {
                self.error = Some(Error::invalid(
                    self.here("maxout"),
                    format!("{k} pieces for {n} inputs (k must divide the width and be 1..=36)"),
                ));
            }
            return self;
        }
        let cand = (0..n as u32).collect();
        self.shape = Shape::Flat(n / k);
        self.push_max(k, cand, n, false);
        self
    }

    /// A residual block `x + body(x)`.
    ///
    /// # Errors
    ///
    /// Errors of the body; [`Error::Shape`] when the body changes the shape.
    pub fn residual(self, body: impl FnOnce(NetworkBuilder) -> Result<NetworkBuilder>) -> Result<Self> {
        self.residual_with(Skip::Identity, body)
    }

    /// A residual block `skip(x) + body(x)` with a projection on the skip path.
    ///
    /// # Errors
    ///
    /// Errors of the body and the projection; [`Error::Shape`] when the two
    /// paths end in different shapes.
    pub fn residual_with(
        mut self,
        skip: Skip,
        body: impl FnOnce(NetworkBuilder) -> Result<NetworkBuilder>,
    ) -> Result<Self> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let here = self.here("residual");
        let inner = NetworkBuilder {
            input: self.shape,
            shape: self.shape,
            steps: Vec::new(),
            layers: 0,
            units: self.units,
            error: None,
            path: format!("{}{}.", self.path, self.layers),
        };
        let inner = body(inner)?;
        if let Some(e) = inner.error {
            return Err(e);
        }
        let skip = self.skip_layer(&here, skip)?;
        let skip_shape = skip.as_ref().map_or(self.shape, |(_, s)| *s);
        if skip_shape.len() != inner.shape.len() {
            return Err(Error::shape(
                format!("{here} paths"),
                format!("skip path {skip_shape}"),
                format!("body {}", inner.shape),
            ));
        }
        self.shape = inner.shape;
        self.units = inner.units;
        // The block as a fork, its body's steps and a join: one layer here.
        self.steps.push(Step::Fork {
            skip: skip.map(|(step, _)| step),
        });
        self.steps.extend(inner.steps);
        self.push(Step::Join);
        Ok(self)
    }

    fn skip_layer(&self, here: &str, skip: Skip) -> Result<Option<(AffineStep, Shape)>> {
        Ok(match skip {
            Skip::Identity => None,
            Skip::Dense { w, b } => {
                let what = format!("{here} skip projection");
                let dense = dense_step(&what, self.shape, w, b).map_err(|e| match e {
                    Error::Shape { expected, got, .. } => Error::Shape { what, expected, got },
                    other => other,
                })?;
                let shape = Shape::Flat(dense.w.nrows());
                Some((AffineStep::Dense(dense), shape))
            }
            Skip::Conv(conv) => {
                let output = conv_output(here, &conv, self.shape)?;
                Some((
                    AffineStep::Conv(Convolution {
                        conv,
                        input: self.shape,
                        output,
                    }),
                    output,
                ))
            }
        })
    }

    /// Finishes the network.
    ///
    /// # Errors
    ///
    /// The first error recorded by an activation method; [`Error::Invalid`] for
    /// a network with an empty input or output.
    pub fn build(self) -> Result<Network> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.input.is_empty() || self.shape.is_empty() {
            return Err(Error::invalid(
                "network",
                "input and output must have at least one unit",
            ));
        }
        Ok(Network::from_program(Program::new(
            self.input, self.shape, self.steps,
        )))
    }

    /// Appends a step that is one layer of this level.
    fn push(&mut self, step: Step) {
        self.steps.push(step);
        self.layers += 1;
    }

    fn two_piece(mut self, act: Activation) -> Self {
        let len = self.shape.len();
        let offset = self.units;
        self.push(Step::Nonlinear(Nonlinearity::TwoPiece(TwoPiece {
            act,
            len,
            offset,
        })));
        self.units += len;
        self
    }

    fn push_max(&mut self, width: usize, cand: Vec<u32>, input_len: usize, pool: bool) {
        let units = cand.len() / width;
        let offset = self.units;
        self.push(Step::Nonlinear(Nonlinearity::Max(MaxUnits {
            width,
            cand,
            input_len,
            offset,
            pool,
        })));
        self.units += units;
    }
}

/// Checks a dense layer `w x + b` on data of shape `input` (`here` names it).
fn dense_step(here: &str, input: Shape, w: Array2<f64>, b: Array1<f64>) -> Result<Dense> {
    if w.ncols() != input.len() {
        return Err(Error::shape(
            format!("{here} weight columns"),
            input.len(),
            w.ncols(),
        ));
    }
    if b.len() != w.nrows() {
        return Err(Error::shape(format!("{here} bias"), w.nrows(), b.len()));
    }
    check_finite(&format!("{here} weight"), w.iter())?;
    check_finite(&format!("{here} bias"), b.iter())?;
    // An owned array may still be strided (`slice_move`): the kernels read
    // biases as slices, so they are stored contiguous.
    let b = if b.is_standard_layout() {
        b
    } else {
        b.as_standard_layout().into_owned()
    };
    Ok(Dense { w, b })
}

/// Checks that data of this shape can flow between layers.
///
/// # Errors
///
/// [`Error::Unsupported`] above [`MAX_VALUES`] values (or when `c h w`
/// overflows).
pub(super) fn check_size(here: &str, shape: Shape) -> Result<()> {
    match shape.checked_len() {
        Some(n) if n <= MAX_VALUES => Ok(()),
        _ => Err(Error::Unsupported {
            layer: here.to_string(),
            op: format!("data of shape {shape} (at most {MAX_VALUES} values)"),
        }),
    }
}

pub(super) fn conv_output(here: &str, conv: &Conv2d, input: Shape) -> Result<Shape> {
    check_size(here, input)?;
    let Shape::Image { c, h, w } = input else {
        return Err(Error::shape(here, "image data", input));
    };
    let (cout, cin_g, kh, kw) = conv.weight.dim();
    let g = conv.groups;
    if g == 0 || conv.stride.contains(&0) || conv.dilation.contains(&0) || kh == 0 || kw == 0 {
        return Err(Error::invalid(
            here,
            "groups, strides, dilations and kernel sizes must be positive",
        ));
    }
    if c % g != 0 || cout % g != 0 || cin_g * g != c {
        return Err(Error::shape(
            format!("{here} channels"),
            format!("{c} input channels in {g} groups"),
            format!("weight {:?}", conv.weight.dim()),
        ));
    }
    if let Some(b) = &conv.bias {
        if b.len() != cout {
            return Err(Error::shape(format!("{here} bias"), cout, b.len()));
        }
        check_finite(&format!("{here} bias"), b.iter())?;
    }
    check_finite(&format!("{here} weight"), conv.weight.iter())?;
    let oh = window_out(h, kh, conv.stride[0], conv.padding[0], conv.dilation[0]);
    let ow = window_out(w, kw, conv.stride[1], conv.padding[1], conv.dilation[1]);
    match (oh, ow) {
        (Some(oh), Some(ow)) if oh > 0 && ow > 0 => {
            let output = Shape::Image {
                c: cout,
                h: oh,
                w: ow,
            };
            check_size(here, output).map(|()| output)
        }
        _ => Err(Error::shape(
            format!("{here} kernel"),
            format!("at most the padded image {h}x{w}"),
            format!("{kh}x{kw}"),
        )),
    }
}

pub(super) fn pool_output(here: &str, pool: &Pool2d, input: Shape) -> Result<Shape> {
    check_size(here, input)?;
    let Shape::Image { c, h, w } = input else {
        return Err(Error::shape(here, "image data", input));
    };
    if pool.kernel.contains(&0) || pool.stride.contains(&0) {
        return Err(Error::invalid(here, "kernel and stride must be positive"));
    }
    if pool.padding[0] * 2 > pool.kernel[0] || pool.padding[1] * 2 > pool.kernel[1] {
        return Err(Error::invalid(here, "padding must be at most half the window"));
    }
    let oh = window_out(h, pool.kernel[0], pool.stride[0], pool.padding[0], 1);
    let ow = window_out(w, pool.kernel[1], pool.stride[1], pool.padding[1], 1);
    match (oh, ow) {
        (Some(oh), Some(ow)) if oh > 0 && ow > 0 => {
            let output = Shape::Image { c, h: oh, w: ow };
            check_size(here, output).map(|()| output)
        }
        _ => Err(Error::shape(
            format!("{here} window"),
            format!("at most the padded image {h}x{w}"),
            format!("{:?}", pool.kernel),
        )),
    }
}

fn bn_scale_shift(here: &str, bn: &BatchNorm, channels: usize) -> Result<(Array1<f64>, Array1<f64>)> {
    for (name, v) in [
        ("gamma", &bn.gamma),
        ("beta", &bn.beta),
        ("mean", &bn.mean),
        ("var", &bn.var),
    ] {
        if v.len() != channels {
            return Err(Error::shape(format!("{here} {name}"), channels, v.len()));
        }
        check_finite(&format!("{here} {name}"), v.iter())?;
    }
    if !bn.eps.is_finite() {
        return Err(Error::NonFinite {
            what: format!("{here} eps"),
            index: 0,
        });
    }
    if let Some(i) = bn.var.iter().position(|&v| v + bn.eps <= 0.0) {
        return Err(Error::invalid(here, format!("var + eps <= 0 in channel {i}")));
    }
    let scale = ndarray::Zip::from(&bn.gamma)
        .and(&bn.var)
        .map_collect(|g, v| g / (v + bn.eps).sqrt());
    let shift = &bn.beta - &(&scale * &bn.mean);
    Ok((scale, shift))
}

fn fold_scale_shift(mut conv: Conv2d, scale: &Array1<f64>, shift: &Array1<f64>) -> Conv2d {
    for (o, mut kernel) in conv.weight.outer_iter_mut().enumerate() {
        kernel *= scale[o];
    }
    let bias = conv.bias.take().unwrap_or_else(|| Array1::zeros(scale.len()));
    conv.bias = Some(&bias * scale + shift);
    conv
}

impl Conv2d {
    /// This convolution followed by a batch norm, as one convolution.
    ///
    /// # Errors
    ///
    /// As [`NetworkBuilder::batch_norm`].
    pub fn fold_batch_norm(self, bn: &BatchNorm) -> Result<Conv2d> {
        let (scale, shift) = bn_scale_shift("conv2d + batch_norm", bn, self.weight.dim().0)?;
        Ok(fold_scale_shift(self, &scale, &shift))
    }
}
