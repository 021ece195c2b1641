//! Convolution and pooling on batches of flattened `C x H x W` images.
//!
//! Convolutions run as im2col followed by one GEMM per group, so that the
//! heavy work goes through faer; their transposes (needed for reverse-mode
//! Jacobians) use the same patch layout.

use ndarray::{Array2, ArrayView2};

use super::layers::{Conv2d, Pool2d, Shape};
use super::program::PADDING;
use crate::linalg::matmul_nn;

/// Image dimensions `(c, h, w)` of a shape (flat shapes count as `n x 1 x 1`).
pub(crate) fn chw(shape: Shape) -> (usize, usize, usize) {
    match shape {
        Shape::Flat(n) => (n, 1, 1),
        Shape::Image { c, h, w } => (c, h, w),
    }
}

/// Output size of a sliding window along one axis, or `None` when the window
/// does not fit.
pub(crate) fn window_out(
    len: usize,
    kernel: usize,
    stride: usize,
    pad: usize,
    dilation: usize,
) -> Option<usize> {
    let span = dilation.checked_mul(kernel.checked_sub(1)?)?.checked_add(1)?;
    let padded = len.checked_add(pad.checked_mul(2)?)?;
    if stride == 0 || padded < span {
        return None;
    }
    Some((padded - span) / stride + 1)
}

/// For every output pixel and kernel tap, the input pixel it reads (`PADDING` in
/// the padding), as `(oh * ow) x (kh * kw)`.
fn tap_table(
    (h, w): (usize, usize),
    (oh, ow): (usize, usize),
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
) -> Vec<u32> {
    let mut table = Vec::with_capacity(oh * ow * kernel[0] * kernel[1]);
    for oy in 0..oh {
        for ox in 0..ow {
            for ky in 0..kernel[0] {
                for kx in 0..kernel[1] {
                    let y = (oy * stride[0] + ky * dilation[0]) as isize - padding[0] as isize;
                    let x = (ox * stride[1] + kx * dilation[1]) as isize - padding[1] as isize;
                    let inside = y >= 0 && x >= 0 && (y as usize) < h && (x as usize) < w;
                    table.push(if inside {
                        (y as usize * w + x as usize) as u32
                    } else {
                        PADDING
                    });
                }
            }
        }
    }
    table
}

/// The geometry a convolution needs at run time.
struct ConvPlan {
    cin_g: usize,
    cout_g: usize,
    taps: usize,
    pixels_in: usize,
    pixels_out: usize,
    table: Vec<u32>,
}

fn conv_plan(conv: &Conv2d, input: Shape, output: Shape) -> ConvPlan {
    let (cin, h, w) = chw(input);
    let (cout, oh, ow) = chw(output);
    let (_, _, kh, kw) = conv.weight.dim();
    ConvPlan {
        cin_g: cin / conv.groups,
        cout_g: cout / conv.groups,
        taps: kh * kw,
        pixels_in: h * w,
        pixels_out: oh * ow,
        table: tap_table(
            (h, w),
            (oh, ow),
            [kh, kw],
            conv.stride,
            conv.padding,
            conv.dilation,
        ),
    }
}

/// Patch elements gathered per GEMM of [`conv_linear`]: enough points per
/// product to keep faer busy, few enough that the patches stay in cache.
const PATCH_BLOCK: usize = 1 << 16;

/// `conv(x)` without bias for a batch of rows.
///
/// Per group and block of points, the patches are gathered transposed, one
/// row per (input channel, tap) and one column per (point, output pixel), so
/// that the product `W_g P` holds each point's output channels as contiguous
/// runs of pixels: copying them out is a plain copy per (point, channel).
pub(crate) fn conv_linear(conv: &Conv2d, input: Shape, output: Shape, x: ArrayView2<f64>) -> Array2<f64> {
    let plan = conv_plan(conv, input, output);
    let n = x.nrows();
    let k = plan.cin_g * plan.taps;
    let po = plan.pixels_out;
    let mut out = Array2::zeros((n, output.len()));
    if n == 0 || po == 0 || k == 0 {
        return out;
    }
    let taps_by_pixel = transposed_taps(&plan);
    let block = (PATCH_BLOCK / (k * po)).clamp(1, n);
    let mut patches = Array2::zeros((k, block * po));
    for g in 0..conv.groups {
        let wg = group_weight(conv, g, plan.cout_g, k);
        for start in (0..n).step_by(block) {
            let rows = x.slice(ndarray::s![start..(start + block).min(n), ..]);
            let cols = rows.nrows() * po;
            gather_patches(&plan, &taps_by_pixel, g, rows, &mut patches);
            let prod = matmul_nn(wg.view(), patches.slice(ndarray::s![.., ..cols]));
            for (i, mut orow) in out
                .slice_mut(ndarray::s![start..start + rows.nrows(), ..])
                .outer_iter_mut()
                .enumerate()
            {
                for co in 0..plan.cout_g {
                    let dst = (g * plan.cout_g + co) * po;
                    orow.slice_mut(ndarray::s![dst..dst + po])
                        .assign(&prod.slice(ndarray::s![co, i * po..(i + 1) * po]));
                }
            }
        }
    }
    out
}

/// The tap table as `taps x pixels_out`: for each tap, the input pixel every
/// output pixel reads.
fn transposed_taps(plan: &ConvPlan) -> Vec<u32> {
    let mut t = vec![PADDING; plan.table.len()];
    for o in 0..plan.pixels_out {
        for tap in 0..plan.taps {
            t[tap * plan.pixels_out + o] = plan.table[o * plan.taps + tap];
        }
    }
    t
}

/// Fills `patches[(ci, tap), (point, o)]` with the input value that output
/// pixel `o` of group `g` reads through `tap` (0 in the padding).
fn gather_patches(
    plan: &ConvPlan,
    taps_by_pixel: &[u32],
    g: usize,
    x: ArrayView2<f64>,
    patches: &mut Array2<f64>,
) {
    let po = plan.pixels_out;
    for (p, xrow) in x.outer_iter().enumerate() {
        let xrow = xrow.as_standard_layout();
        let xrow = xrow.as_slice().expect("standard layout");
        for ci in 0..plan.cin_g {
            let channel = &xrow[(g * plan.cin_g + ci) * plan.pixels_in..][..plan.pixels_in];
            for tap in 0..plan.taps {
                let src = &taps_by_pixel[tap * po..(tap + 1) * po];
                let mut dst = patches.slice_mut(ndarray::s![ci * plan.taps + tap, p * po..(p + 1) * po]);
                let dst = dst.as_slice_mut().expect("a row segment of a standard array");
                for (d, &s) in dst.iter_mut().zip(src) {
                    *d = if s == PADDING { 0.0 } else { channel[s as usize] };
                }
            }
        }
    }
}

/// The transpose of [`conv_linear`]: maps output-space rows back to input space.
pub(crate) fn conv_linear_t(
    conv: &Conv2d,
    input: Shape,
    output: Shape,
    g_out: ArrayView2<f64>,
) -> Array2<f64> {
    let plan = conv_plan(conv, input, output);
    let n = g_out.nrows();
    let k = plan.cin_g * plan.taps;
    let mut out = Array2::zeros((n, input.len()));
    for g in 0..conv.groups {
        let mut gmat = Array2::zeros((n * plan.pixels_out, plan.cout_g));
        for (p, grow) in g_out.outer_iter().enumerate() {
            for o in 0..plan.pixels_out {
                for co in 0..plan.cout_g {
                    gmat[[p * plan.pixels_out + o, co]] = grow[(g * plan.cout_g + co) * plan.pixels_out + o];
                }
            }
        }
        let wg = group_weight(conv, g, plan.cout_g, k);
        let patches = matmul_nn(gmat.view(), wg.view());
        for p in 0..n {
            let mut orow = out.row_mut(p);
            for o in 0..plan.pixels_out {
                let prow = patches.row(p * plan.pixels_out + o);
                let taps = &plan.table[o * plan.taps..(o + 1) * plan.taps];
                for ci in 0..plan.cin_g {
                    let base = (g * plan.cin_g + ci) * plan.pixels_in;
                    for (t, &src) in taps.iter().enumerate() {
                        if src != PADDING {
                            orow[base + src as usize] += prow[ci * plan.taps + t];
                        }
                    }
                }
            }
        }
    }
    out
}

/// The weights of group `g` as a `cout_g x (cin_g * kh * kw)` matrix.
fn group_weight(conv: &Conv2d, g: usize, cout_g: usize, k: usize) -> Array2<f64> {
    let w = conv
        .weight
        .slice(ndarray::s![g * cout_g..(g + 1) * cout_g, .., .., ..]);
    w.as_standard_layout()
        .into_owned()
        .into_shape_with_order((cout_g, k))
        .expect("k = cin_g * kh * kw")
}

/// Adds the per-channel bias of a convolution to every row.
pub(crate) fn add_channel_bias(x: &mut Array2<f64>, bias: &ndarray::Array1<f64>, pixels: usize) {
    for mut row in x.outer_iter_mut() {
        for (c, &b) in bias.iter().enumerate() {
            row.slice_mut(ndarray::s![c * pixels..(c + 1) * pixels])
                .mapv_inplace(|v| v + b);
        }
    }
}

/// The input pixels of every pooling window, `(c * oh * ow) x (kh * kw)`, with
/// `PADDING` in the padding.
pub(crate) fn pool_candidates(pool: &Pool2d, input: Shape, output: Shape) -> Vec<u32> {
    let (c, h, w) = chw(input);
    let (_, oh, ow) = chw(output);
    let table = tap_table((h, w), (oh, ow), pool.kernel, pool.stride, pool.padding, [1, 1]);
    let mut cand = Vec::with_capacity(c * table.len());
    for ch in 0..c {
        let base = (ch * h * w) as u32;
        cand.extend(
            table
                .iter()
                .map(|&t| if t == PADDING { PADDING } else { base + t }),
        );
    }
    cand
}

/// Average pooling weights: for output unit `j`, the inputs and the divisor.
fn avg_divisor(pool: &Pool2d, taps: &[u32]) -> f64 {
    if pool.count_include_pad {
        taps.len() as f64
    } else {
        taps.iter().filter(|&&t| t != PADDING).count().max(1) as f64
    }
}

/// Average pooling of a batch of rows (linear; no bias).
pub(crate) fn avg_pool(pool: &Pool2d, input: Shape, output: Shape, x: ArrayView2<f64>) -> Array2<f64> {
    let cand = pool_candidates(pool, input, output);
    let width = pool.kernel[0] * pool.kernel[1];
    let mut out = Array2::zeros((x.nrows(), output.len()));
    for (mut orow, xrow) in out.outer_iter_mut().zip(x.outer_iter()) {
        for (j, taps) in cand.chunks_exact(width).enumerate() {
            let sum: f64 = taps
                .iter()
                .filter(|&&t| t != PADDING)
                .map(|&t| xrow[t as usize])
                .sum();
            orow[j] = sum / avg_divisor(pool, taps);
        }
    }
    out
}

/// The transpose of [`avg_pool`].
pub(crate) fn avg_pool_t(pool: &Pool2d, input: Shape, output: Shape, g: ArrayView2<f64>) -> Array2<f64> {
    let cand = pool_candidates(pool, input, output);
    let width = pool.kernel[0] * pool.kernel[1];
    let mut out = Array2::zeros((g.nrows(), input.len()));
    for (mut orow, grow) in out.outer_iter_mut().zip(g.outer_iter()) {
        for (j, taps) in cand.chunks_exact(width).enumerate() {
            let share = grow[j] / avg_divisor(pool, taps);
            for &t in taps.iter().filter(|&&t| t != PADDING) {
                orow[t as usize] += share;
            }
        }
    }
    out
}
