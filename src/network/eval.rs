//! Evaluation of a layer stack on batches of rows: plain forward passes that
//! record activation patterns, forward passes with a frozen pattern (exact
//! affine maps), and reverse passes (exact Jacobians).

use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut2, Axis};

use super::layers::{Layer, NONE};
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
fn linear(layer: &Layer, x: ArrayView2<f64>) -> Array2<f64> {
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

/// Adds an affine layer's bias to the rows selected by `rows` (all rows when `None`).
fn add_bias(layer: &Layer, y: &mut Array2<f64>, rows: Option<usize>) {
    let mut target = match rows {
        Some(r) => y.slice_mut(s![r..r + 1, ..]),
        None => y.view_mut(),
    };
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
    let mut y = linear(layer, x);
    add_bias(layer, &mut y, None);
    y
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
    let mut h = rows;
    for layer in layers {
        h = match layer {
            Layer::TwoPiece { act, len, offset } => {
                if let Some(p) = pre.as_deref_mut() {
                    p.push(h.clone());
                }
                let pieces = ArrayView1::from(&pattern[*offset..offset + len]).insert_axis(Axis(0));
                let rows = h.nrows();
                simd::scale_blocks(h.view_mut(), rows, pieces, act.slopes());
                h
            }
            Layer::Max {
                width, cand, offset, ..
            } => {
                if let Some(p) = pre.as_deref_mut() {
                    p.push(h.clone());
                }
                let units = cand.len() / width;
                let mut out = Array2::zeros((h.nrows(), units));
                for j in 0..units {
                    let src = cand[j * width + pattern[offset + j] as usize] as usize;
                    out.column_mut(j).assign(&h.column(src));
                }
                out
            }
            Layer::Residual { body, skip } => {
                let skipped = match skip {
                    Some(p) => {
                        let mut y = linear(p, h.view());
                        add_bias(p, &mut y, Some(offset_row));
                        y
                    }
                    None => h.clone(),
                };
                frozen(body, h, offset_row, pattern, pre.as_deref_mut()) + skipped
            }
            affine_layer => {
                let mut y = linear(affine_layer, h.view());
                add_bias(affine_layer, &mut y, Some(offset_row));
                y
            }
        };
    }
    h
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
