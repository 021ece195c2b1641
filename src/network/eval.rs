//! Evaluation of a layer stack on batches of rows: plain forward passes that
//! record activation patterns, forward passes with a frozen pattern (exact
//! affine maps), and reverse passes (exact Jacobians).

use ndarray::{s, Array1, Array2, ArrayView2, ArrayViewMut2, Axis};

use super::layers::{Activation, Layer, NONE};
use super::spatial::{add_channel_bias, avg_pool, avg_pool_t, chw, conv_linear, conv_linear_t};
use crate::backend::simd;
use crate::linalg::{matmul_nn, matmul_nt};

/// What a forward pass writes besides its output.
pub(crate) struct Recorder<'a> {
    /// Pattern choices, points x units (the piece or arg-max index of each unit).
    pub choices: ArrayViewMut2<'a, u8>,
    /// Pre-activations of every nonlinearity, in pattern order, when wanted.
    pub pre: Option<&'a mut Vec<Array2<f64>>>,
}

/// The linear part of an affine layer applied to rows (no bias).
pub(crate) fn linear(layer: &Layer, x: ArrayView2<f64>) -> Array2<f64> {
    match layer {
        Layer::Dense { w, .. } => matmul_nt(x, w.view()),
        Layer::Conv { conv, input, output } => conv_linear(conv, *input, *output, x),
        Layer::AvgPool { pool, input, output } => avg_pool(pool, *input, *output, x),
        Layer::ChannelAffine { scale, spatial, .. } => {
            let mut y = x.to_owned();
            for mut row in y.outer_iter_mut() {
                for (c, &sc) in scale.iter().enumerate() {
                    row.slice_mut(s![c * spatial..(c + 1) * spatial])
                        .mapv_inplace(|v| v * sc);
                }
            }
            y
        }
        _ => unreachable!("linear() is only called on affine layers"),
    }
}

/// The transpose of [`linear`], for reverse-mode passes.
fn linear_t(layer: &Layer, g: ArrayView2<f64>) -> Array2<f64> {
    match layer {
        Layer::Dense { w, .. } => matmul_nn(g, w.view()),
        Layer::Conv { conv, input, output } => conv_linear_t(conv, *input, *output, g),
        Layer::AvgPool { pool, input, output } => avg_pool_t(pool, *input, *output, g),
        Layer::ChannelAffine { .. } => linear(layer, g),
        _ => unreachable!("linear_t() is only called on affine layers"),
    }
}

/// Which rows of a batch are offsets (values at the origin of the coordinates)
/// rather than directions: the rows are grouped in blocks of `block`, and row
/// `offset_row` of each block is the offset. Affine layers add their bias to
/// offset rows only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Blocks {
    /// Rows per block (one affine function per block).
    pub block: usize,
    /// The offset row within each block.
    pub offset_row: usize,
}

impl Blocks {
    /// Every row is a point: the bias goes to all rows.
    const POINTS: Blocks = Blocks {
        block: 1,
        offset_row: 0,
    };
}

/// Adds an affine layer's bias to the offset rows of `y`.
fn add_bias(layer: &Layer, y: &mut Array2<f64>, blocks: Blocks) {
    if y.nrows() <= blocks.offset_row {
        // No block (an empty batch): nothing to add, and ndarray rejects the
        // strided slice below when it starts past the end.
        return;
    }
    let mut target = y.slice_mut(s![blocks.offset_row..;blocks.block, ..]);
    match layer {
        Layer::Dense { b, .. } => target += b,
        Layer::Conv { conv, output, .. } => {
            if let Some(bias) = &conv.bias {
                let (_, oh, ow) = chw(*output);
                let mut owned = target.to_owned();
                add_channel_bias(&mut owned, bias, oh * ow);
                target.assign(&owned);
            }
        }
        Layer::ChannelAffine { shift, spatial, .. } => {
            for mut row in target.outer_iter_mut() {
                for (c, &sh) in shift.iter().enumerate() {
                    row.slice_mut(s![c * spatial..(c + 1) * spatial])
                        .mapv_inplace(|v| v + sh);
                }
            }
        }
        Layer::AvgPool { .. } => {}
        _ => unreachable!("add_bias() is only called on affine layers"),
    }
}

/// Applies an affine layer to every row, bias included.
pub(crate) fn affine(layer: &Layer, x: ArrayView2<f64>) -> Array2<f64> {
    affine_blocks(layer, x, Blocks::POINTS)
}

/// Plain forward pass of `x` (points x inputs), recording pattern choices.
pub(crate) fn forward(layers: &[Layer], x: Array2<f64>, rec: &mut Recorder<'_>) -> Array2<f64> {
    let mut h = x;
    for layer in layers {
        h = match layer {
            Layer::TwoPiece { act, len, offset } => {
                record_pre(rec, &h);
                let choices = rec.choices.slice_mut(s![.., *offset..offset + len]);
                simd::two_piece_record(h.view_mut(), choices, act.slopes());
                h
            }
            Layer::Max {
                width, cand, offset, ..
            } => {
                record_pre(rec, &h);
                let units = cand.len() / width;
                let mut out = Array2::zeros((h.nrows(), units));
                let mut choices = rec.choices.slice_mut(s![.., *offset..offset + units]);
                for ((hrow, mut orow), mut crow) in h
                    .outer_iter()
                    .zip(out.outer_iter_mut())
                    .zip(choices.outer_iter_mut())
                {
                    for (j, taps) in cand.chunks_exact(*width).enumerate() {
                        let (arg, best) = arg_max(taps, |t| hrow[t]);
                        orow[j] = best;
                        crow[j] = arg as u8;
                    }
                }
                out
            }
            Layer::Residual { body, skip } => {
                let skipped = match skip {
                    Some(p) => affine(p, h.view()),
                    None => h.clone(),
                };
                forward(body, h, rec) + skipped
            }
            affine_layer => affine(affine_layer, h.view()),
        };
    }
    h
}

fn record_pre(rec: &mut Recorder<'_>, h: &Array2<f64>) {
    if let Some(pre) = rec.pre.as_deref_mut() {
        pre.push(h.clone());
    }
}

/// The first maximum over the non-padding taps (ties go to the lowest index).
pub(crate) fn arg_max(taps: &[u32], value: impl Fn(usize) -> f64) -> (usize, f64) {
    let mut best = (usize::MAX, f64::NEG_INFINITY);
    for (i, &t) in taps.iter().enumerate() {
        if t != NONE {
            let v = value(t as usize);
            if best.0 == usize::MAX || v > best.1 {
                best = (i, v);
            }
        }
    }
    best
}

/// Propagates affine functions through the network with the pattern frozen:
/// every row of `rows` but `offset_row` is a direction (no bias), `offset_row`
/// is the value at the origin of the coordinates. Pre-activation rows of every
/// nonlinearity are pushed to `pre` when given.
pub(crate) fn frozen(
    layers: &[Layer],
    rows: Array2<f64>,
    offset_row: usize,
    pattern: &[u8],
    mut pre: Option<&mut Vec<Array2<f64>>>,
) -> Array2<f64> {
    let blocks = Blocks {
        block: rows.nrows(),
        offset_row,
    };
    let mut h = rows;
    let mut skips = Vec::new();
    for step in steps(layers) {
        h = match step.units() {
            Some((offset, len)) => {
                if let Some(p) = pre.as_deref_mut() {
                    p.push(h.clone());
                }
                let choices = ArrayView2::from_shape((1, len), &pattern[offset..offset + len])
                    .expect("a pattern slice is one row of choices");
                choose(&step, h, blocks, choices)
            }
            None => carry(&step, h, &mut skips, blocks),
        };
    }
    h
}

/// One step of a layer stack flattened into a straight line: a residual block
/// becomes [`Step::PushSkip`], the steps of its body and [`Step::AddSkip`].
#[derive(Clone, Copy, Debug)]
pub(crate) enum Step<'a> {
    /// An affine layer (dense, convolution, average pooling, channel affine).
    Affine(&'a Layer),
    /// Two-piece units; pattern units `offset..offset + len`.
    TwoPiece {
        act: Activation,
        len: usize,
        offset: usize,
    },
    /// Max units over `cand` (`width` per unit); pattern units from `offset`.
    Max {
        width: usize,
        cand: &'a [u32],
        offset: usize,
    },
    /// Saves the skip path of a residual block: the current rows, or their
    /// image under the projection.
    PushSkip(Option<&'a Layer>),
    /// Adds the most recently saved skip path to the rows.
    AddSkip,
}

impl Step<'_> {
    /// The pattern units `(offset, len)` of a nonlinearity, `None` for other steps.
    pub(crate) fn units(&self) -> Option<(usize, usize)> {
        match *self {
            Step::TwoPiece { len, offset, .. } => Some((offset, len)),
            Step::Max {
                width, cand, offset, ..
            } => Some((offset, cand.len() / width)),
            _ => None,
        }
    }
}

/// The layer stack as a straight-line program of [`Step`]s.
pub(crate) fn steps(layers: &[Layer]) -> Vec<Step<'_>> {
    let mut out = Vec::new();
    push_steps(layers, &mut out);
    out
}

fn push_steps<'a>(layers: &'a [Layer], out: &mut Vec<Step<'a>>) {
    for layer in layers {
        match layer {
            Layer::TwoPiece { act, len, offset } => out.push(Step::TwoPiece {
                act: *act,
                len: *len,
                offset: *offset,
            }),
            Layer::Max {
                width, cand, offset, ..
            } => out.push(Step::Max {
                width: *width,
                cand,
                offset: *offset,
            }),
            Layer::Residual { body, skip } => {
                out.push(Step::PushSkip(skip.as_deref()));
                push_steps(body, out);
                out.push(Step::AddSkip);
            }
            affine_layer => out.push(Step::Affine(affine_layer)),
        }
    }
}

/// Applies an affine layer to blocks of affine rows: the linear part to every
/// row, the bias to the offset rows.
pub(crate) fn affine_blocks(layer: &Layer, h: ArrayView2<f64>, blocks: Blocks) -> Array2<f64> {
    let mut y = linear(layer, h);
    add_bias(layer, &mut y, blocks);
    y
}

/// Applies a step that adds no pattern units (affine, push or add a skip path)
/// to blocks of affine rows; `skips` is the stack of saved skip paths.
pub(crate) fn carry(
    step: &Step<'_>,
    h: Array2<f64>,
    skips: &mut Vec<Array2<f64>>,
    blocks: Blocks,
) -> Array2<f64> {
    match *step {
        Step::Affine(layer) => affine_blocks(layer, h.view(), blocks),
        Step::PushSkip(projection) => {
            skips.push(match projection {
                Some(p) => affine_blocks(p, h.view(), blocks),
                None => h.clone(),
            });
            h
        }
        Step::AddSkip => h + skips.pop().expect("every AddSkip follows its PushSkip"),
        Step::TwoPiece { .. } | Step::Max { .. } => {
            unreachable!("carry() is only called on steps without units")
        }
    }
}

/// Applies a nonlinearity to blocks of affine rows with frozen choices:
/// `choices` has one row per block and one column per unit (the piece of a
/// two-piece unit, the window position of a max unit's arg-max).
pub(crate) fn choose(
    step: &Step<'_>,
    mut h: Array2<f64>,
    blocks: Blocks,
    choices: ArrayView2<u8>,
) -> Array2<f64> {
    match *step {
        Step::TwoPiece { act, .. } => {
            simd::scale_blocks(h.view_mut(), blocks.block, choices, act.slopes());
            h
        }
        Step::Max { width, cand, .. } => {
            let units = cand.len() / width;
            let mut out = Array2::zeros((h.nrows(), units));
            for ((rows, mut orows), c) in h
                .axis_chunks_iter(Axis(0), blocks.block)
                .zip(out.axis_chunks_iter_mut(Axis(0), blocks.block))
                .zip(choices.outer_iter())
            {
                for j in 0..units {
                    let src = cand[j * width + c[j] as usize] as usize;
                    orows.column_mut(j).assign(&rows.column(src));
                }
            }
            out
        }
        _ => unreachable!("choose() is only called on nonlinearities"),
    }
}

/// Reverse pass: `g` holds `block` rows per point (row `p * block + i` belongs
/// to point `p`), each a covector on the network's output; returns the same
/// covectors pulled back to the input through each point's frozen pattern.
pub(crate) fn reverse(
    layers: &[Layer],
    g: Array2<f64>,
    block: usize,
    patterns: ArrayView2<u8>,
) -> Array2<f64> {
    let mut g = g;
    for layer in layers.iter().rev() {
        g = match layer {
            Layer::TwoPiece { act, len, offset } => {
                let pieces = patterns.slice(s![.., *offset..offset + len]);
                simd::scale_blocks(g.view_mut(), block, pieces, act.slopes());
                g
            }
            Layer::Max {
                width,
                cand,
                input_len,
                offset,
                ..
            } => {
                let units = cand.len() / width;
                let mut out = Array2::zeros((g.nrows(), *input_len));
                for ((rows, mut orows), prow) in g
                    .axis_chunks_iter(Axis(0), block)
                    .zip(out.axis_chunks_iter_mut(Axis(0), block))
                    .zip(patterns.outer_iter())
                {
                    for j in 0..units {
                        let src = cand[j * width + prow[offset + j] as usize] as usize;
                        let mut dst = orows.column_mut(src);
                        dst += &rows.column(j);
                    }
                }
                out
            }
            Layer::Residual { body, skip } => {
                let through_skip = match skip {
                    Some(p) => linear_t(p, g.view()),
                    None => g.clone(),
                };
                reverse(body, g, block, patterns) + through_skip
            }
            affine_layer => linear_t(affine_layer, g.view()),
        };
    }
    g
}

/// A copy of the rows `[directions; origin]` used to start [`frozen`].
pub(crate) fn affine_rows(basis: ArrayView2<f64>, origin: &Array1<f64>) -> Array2<f64> {
    let mut rows = Array2::zeros((basis.nrows() + 1, basis.ncols()));
    rows.slice_mut(s![..basis.nrows(), ..]).assign(&basis);
    rows.row_mut(basis.nrows()).assign(origin);
    rows
}
