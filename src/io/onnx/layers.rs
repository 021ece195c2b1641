//! The parameters of each supported operator, read from its node.
//!
//! Every function here reads one node and returns the builder's description of
//! the layer; the walk in `translate.rs` decides where the layer goes.

use ndarray::{Array1, Array2};

use super::node::Node;
use crate::network::{BatchNorm, Conv2d, Pool2d, Shape};
use crate::Result;

/// The per-sample length of a flat shape; images need a `Flatten` first.
pub(crate) fn flat_dim(node: &Node, shape: Shape) -> Result<usize> {
    match shape {
        Shape::Flat(d) => Ok(d),
        image => Err(node.shape_error("input", "a flat vector", format_args!("{image:?}"))),
    }
}

/// The spatial size of an image shape.
fn image_hw(node: &Node, shape: Shape) -> Result<[usize; 2]> {
    match shape {
        Shape::Image { h, w, .. } => Ok([h, w]),
        flat => Err(node.shape_error("input", "a CHW image", format_args!("{flat:?}"))),
    }
}

/// The weight `(out, in)` and bias of a `Gemm` or `MatMul` node reading a flat input.
///
/// `Gemm` computes `alpha * x B' + beta * C` with `B' = B` or `B^T` (`transB`);
/// the weight is `alpha B'^T` and the bias `beta C`. `MatMul` stores `(in, out)`
/// and has no bias (a following `Add` supplies it).
pub(crate) fn dense(node: &Node, shape: Shape) -> Result<(Array2<f64>, Array1<f64>)> {
    let input_dim = flat_dim(node, shape)?;
    let (w, bias) = match node.op() {
        "Gemm" => gemm(node)?,
        _ => {
            let w = node.matrix(1, "weight")?.reversed_axes();
            let out = w.nrows();
            (w, Array1::zeros(out))
        }
    };
    if w.ncols() != input_dim {
        return Err(node.shape_error(
            "weight",
            format_args!("{input_dim} input columns"),
            format_args!("{} x {}", w.nrows(), w.ncols()),
        ));
    }
    Ok((w.as_standard_layout().into_owned(), bias))
}

fn gemm(node: &Node) -> Result<(Array2<f64>, Array1<f64>)> {
    if node.int("transA", 0)? != 0 {
        return Err(node.unsupported("transA = 1 puts the batch in columns"));
    }
    let alpha = node.float("alpha", 1.0)?;
    let beta = node.float("beta", 1.0)?;
    let b = node.matrix(1, "weight")?;
    let w = if node.int("transB", 0)? != 0 {
        b
    } else {
        b.reversed_axes()
    };
    let out = w.nrows();
    let bias = match node.input(2) {
        Some(_) => node.vector(2, "bias", out)? * beta,
        None => Array1::zeros(out),
    };
    Ok((w * alpha, bias))
}

/// The convolution of a `Conv` node reading an image of shape `shape`.
pub(crate) fn conv(node: &Node, shape: Shape) -> Result<Conv2d> {
    let hw = image_hw(node, shape)?;
    let weight = node.tensor4(1, "weight")?;
    let (out_c, _, kh, kw) = weight.dim();
    if let Some(declared) = node.ints("kernel_shape")? {
        if declared != [kh as i64, kw as i64] {
            return Err(node.shape_error(
                "kernel_shape",
                format_args!("[{kh}, {kw}]"),
                format_args!("{declared:?}"),
            ));
        }
    }
    let bias = match node.input(2) {
        Some(_) => Some(node.vector(2, "bias", out_c)?),
        None => None,
    };
    let groups = positive(node, "group", node.int("group", 1)?)?;
    let stride = pair(node, "strides")?;
    let dilation = pair(node, "dilations")?;
    let padding = padding(node, hw, [kh, kw], stride, dilation)?;
    Ok(Conv2d {
        weight,
        bias,
        stride,
        padding,
        dilation,
        groups,
    })
}

/// The channels a batch norm normalises: features of a vector, channels of an image.
pub(crate) fn channels(shape: Shape) -> usize {
    match shape {
        Shape::Flat(d) => d,
        Shape::Image { c, .. } => c,
    }
}

/// The batch norm of a `BatchNormalization` node (inference mode) over `channels`.
pub(crate) fn batch_norm(node: &Node, channels: usize) -> Result<BatchNorm> {
    if node.int("training_mode", 0)? != 0 {
        return Err(node.unsupported("training_mode = 1"));
    }
    if node.int("spatial", 1)? != 1 {
        return Err(node.unsupported("spatial = 0"));
    }
    Ok(BatchNorm {
        gamma: node.vector(1, "scale", channels)?,
        beta: node.vector(2, "bias", channels)?,
        mean: node.vector(3, "mean", channels)?,
        var: node.vector(4, "variance", channels)?,
        eps: node.float("epsilon", crate::io::DEFAULT_BN_EPS)?,
    })
}

/// The pooling window of a `MaxPool` or `AveragePool` node reading an image of shape `shape`.
pub(crate) fn pool(node: &Node, shape: Shape) -> Result<Pool2d> {
    let hw = image_hw(node, shape)?;
    let kernel = match node.ints("kernel_shape")? {
        Some(k) => pair_of(node, "kernel_shape", k)?,
        None => return Err(node.ctx.error(format!("{} has no kernel_shape", node.label()))),
    };
    let stride = pair(node, "strides")?;
    if pair(node, "dilations")? != [1, 1] {
        return Err(node.unsupported("dilated pooling"));
    }
    let padding = padding(node, hw, kernel, stride, [1, 1])?;
    if node.int("ceil_mode", 0)? != 0 {
        check_ceil_mode_is_floor(node, hw, kernel, stride, padding)?;
    }
    Ok(Pool2d {
        kernel,
        stride,
        padding,
        count_include_pad: node.int("count_include_pad", 0)? != 0,
    })
}

/// Checks that a `Flatten` or `Reshape` node only flattens each sample.
///
/// `Flatten` must use `axis = 1` (batch first). `Reshape` must target a
/// batch of vectors: `[-1, n]`, `[0, -1]`, `[0, n]`, `[1, -1]` or `[1, n]`
/// where `n` is the per-sample size (`1` fixes a batch of one, as exporters
/// tracing a single sample write it); the first entry may also be the graph
/// input's fixed batch size, which PyTorch's default exporter writes for
/// `x.view(x.size(0), -1)` and `nn.Flatten` when the batch is not dynamic.
pub(crate) fn check_flattens(node: &Node, shape: Shape) -> Result<()> {
    let (rank, size) = match shape {
        Shape::Flat(d) => (2, d),
        Shape::Image { c, h, w } => (4, c.saturating_mul(h).saturating_mul(w)),
    };
    if node.op() == "Flatten" {
        let axis = node.int("axis", 1)?;
        return match if axis < 0 { axis + rank } else { axis } {
            1 => Ok(()),
            _ => Err(node.unsupported(format_args!("axis = {axis} mixes samples"))),
        };
    }
    let target = node.constant_ints(1, "shape")?;
    let zero_is_literal = node.int("allowzero", 0)? != 0;
    let fixed_batch = node.graph.fixed_batch.and_then(|n| i64::try_from(n).ok());
    let batch_ok = |b: i64| b == -1 || b == 1 || (b == 0 && !zero_is_literal) || Some(b) == fixed_batch;
    match *target.as_slice() {
        [b, -1] if b != -1 && batch_ok(b) => Ok(()),
        [b, n] if batch_ok(b) && usize::try_from(n) == Ok(size) => Ok(()),
        _ => Err(node.unsupported(format_args!("target shape {target:?} does not flatten {shape:?}"))),
    }
}

/// A two-element spatial attribute (`strides`, `dilations`), `[1, 1]` when absent.
fn pair(node: &Node, name: &str) -> Result<[usize; 2]> {
    match node.ints(name)? {
        None => Ok([1, 1]),
        Some(values) => pair_of(node, name, values),
    }
}

fn pair_of(node: &Node, name: &str, values: &[i64]) -> Result<[usize; 2]> {
    match *values {
        [a, b] => Ok([positive(node, name, a)?, positive(node, name, b)?]),
        _ => Err(node.unsupported(format_args!(
            "{name} of length {} (only 2-D is supported)",
            values.len()
        ))),
    }
}

fn positive(node: &Node, name: &str, value: i64) -> Result<usize> {
    match usize::try_from(value) {
        Ok(v) if v > 0 => Ok(v),
        _ => Err(node
            .ctx
            .error(format!("{name} of {} is {value}, not positive", node.label()))),
    }
}

/// The symmetric padding `[top/bottom, left/right]` from `auto_pad` and `pads`.
fn padding(
    node: &Node,
    hw: [usize; 2],
    kernel: [usize; 2],
    stride: [usize; 2],
    dilation: [usize; 2],
) -> Result<[usize; 2]> {
    let (begin, end) = match node.string("auto_pad", "NOTSET")? {
        "NOTSET" => explicit_pads(node)?,
        "VALID" => ([0, 0], [0, 0]),
        mode @ ("SAME_UPPER" | "SAME_LOWER") => {
            let total = [0, 1].map(|i| same_total_pad(hw[i], kernel[i], stride[i], dilation[i]));
            let small = total.map(|t| t / 2);
            let large = [0, 1].map(|i| total[i] - small[i]);
            if mode == "SAME_UPPER" {
                (small, large)
            } else {
                (large, small)
            }
        }
        other => return Err(node.unsupported(format_args!("auto_pad = {other}"))),
    };
    if begin != end {
        return Err(node.unsupported(format_args!("asymmetric padding {begin:?} / {end:?}")));
    }
    Ok(begin)
}

/// The `pads` attribute `[top, left, bottom, right]` as (begin, end) pairs.
fn explicit_pads(node: &Node) -> Result<([usize; 2], [usize; 2])> {
    let Some(pads) = node.ints("pads")? else {
        return Ok(([0, 0], [0, 0]));
    };
    let checked = (pads.iter())
        .map(|&p| usize::try_from(p).ok())
        .collect::<Option<Vec<usize>>>()
        .ok_or_else(|| {
            node.ctx
                .error(format!("{} has negative pads {pads:?}", node.label()))
        })?;
    match *checked.as_slice() {
        [top, left, bottom, right] => Ok(([top, left], [bottom, right])),
        _ => Err(node.unsupported(format_args!(
            "pads of length {} (only 2-D is supported)",
            pads.len()
        ))),
    }
}

/// The total padding `SAME_*` needs so that the output size is `ceil(input / stride)`.
fn same_total_pad(input: usize, kernel: usize, stride: usize, dilation: usize) -> usize {
    let output = input.div_ceil(stride);
    let span = kernel
        .saturating_sub(1)
        .saturating_mul(dilation)
        .saturating_add(1);
    ((output.saturating_sub(1))
        .saturating_mul(stride)
        .saturating_add(span))
    .saturating_sub(input)
}

/// `ceil_mode = 1` only changes the output when windows do not tile the
/// padded input exactly; reject those cases rather than guess the last window.
fn check_ceil_mode_is_floor(
    node: &Node,
    hw: [usize; 2],
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
) -> Result<()> {
    let tiles = (0..2).all(|i| {
        let padded = hw[i].saturating_add(padding[i].saturating_mul(2));
        padded >= kernel[i] && (padded - kernel[i]) % stride[i] == 0
    });
    if tiles {
        Ok(())
    } else {
        Err(node.unsupported("ceil_mode = 1 with a partial last window"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_padding_keeps_the_size_at_stride_one() {
        assert_eq!(same_total_pad(8, 3, 1, 1), 2);
        assert_eq!(same_total_pad(8, 5, 1, 1), 4);
        assert_eq!(same_total_pad(8, 3, 1, 2), 4);
    }

    #[test]
    fn same_padding_at_stride_two_rounds_up() {
        // ceil(7 / 2) = 4 outputs need (4 - 1) * 2 + 3 = 9 rows: 2 of padding.
        assert_eq!(same_total_pad(7, 3, 2, 1), 2);
        // ceil(8 / 2) = 4 outputs need 9 rows: 1 of padding (odd, so asymmetric).
        assert_eq!(same_total_pad(8, 3, 2, 1), 1);
        assert_eq!(same_total_pad(8, 1, 2, 1), 0);
    }
}
