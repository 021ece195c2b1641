//! Evaluation of a [`super::Program`]'s steps on batches of rows: plain forward
//! passes that record activation patterns, forward passes with a frozen
//! pattern (exact affine maps), and reverse passes (exact Jacobians).

use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut2, Axis};

use super::program::{AffineStep, MaxUnits, Nonlinearity, Step, TwoPiece, PADDING};
use super::spatial::{add_channel_bias, avg_pool, avg_pool_t, chw, conv_linear, conv_linear_t};
use crate::kernels::simd;
use crate::linalg::{matmul_nn, matmul_nt};

/// What a forward pass writes besides its output.
pub(crate) struct Recorder<'a> {
    /// Pattern choices, points x units (the piece or arg-max index of each unit).
    pub choices: ArrayViewMut2<'a, u8>,
    /// Pre-activations of every nonlinearity, in pattern order, when wanted.
    pub pre: Option<&'a mut Vec<Array2<f64>>>,
}

/// The linear part of an affine step applied to rows (no bias).
pub(crate) fn linear(step: &AffineStep, x: ArrayView2<f64>) -> Array2<f64> {
    match step {
        AffineStep::Dense(d) => matmul_nt(x, d.w.view()),
        AffineStep::Conv(c) => conv_linear(&c.conv, c.input, c.output, x),
        AffineStep::AvgPool(p) => avg_pool(&p.pool, p.input, p.output, x),
        AffineStep::ChannelAffine(c) => {
            let mut y = x.to_owned();
            for mut row in y.outer_iter_mut() {
                for (ch, &sc) in c.scale.iter().enumerate() {
                    row.slice_mut(s![ch * c.spatial..(ch + 1) * c.spatial])
                        .mapv_inplace(|v| v * sc);
                }
            }
            y
        }
    }
}

/// The transpose of [`linear`], for reverse-mode passes.
fn linear_t(step: &AffineStep, g: ArrayView2<f64>) -> Array2<f64> {
    match step {
        AffineStep::Dense(d) => matmul_nn(g, d.w.view()),
        AffineStep::Conv(c) => conv_linear_t(&c.conv, c.input, c.output, g),
        AffineStep::AvgPool(p) => avg_pool_t(&p.pool, p.input, p.output, g),
        AffineStep::ChannelAffine(_) => linear(step, g),
    }
}

/// Which rows of a batch are offsets (values at the origin of the coordinates)
/// rather than directions: the rows are grouped in blocks of `block`, and row
/// `offset_row` of each block is the offset. Affine steps add their bias to
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

/// The offset rows of `y`; `None` for an empty batch (no block: ndarray
/// rejects a strided slice that starts past the end).
fn offset_rows(y: &mut Array2<f64>, blocks: Blocks) -> Option<ArrayViewMut2<'_, f64>> {
    (y.nrows() > blocks.offset_row).then(|| y.slice_mut(s![blocks.offset_row..;blocks.block, ..]))
}

/// A dense layer (`w`, `b`) on blocks of affine rows: `x w^T`, then `b`
/// added to the offset rows. The one body of a dense step in
/// [`affine_blocks`] and of [`crate::backend::Backend::dense_blocks`], so
/// that a backend's default answer is bit for bit the evaluators'.
pub(crate) fn dense_blocks(
    w: ArrayView2<f64>,
    b: ArrayView1<f64>,
    x: ArrayView2<f64>,
    blocks: Blocks,
) -> Array2<f64> {
    let mut y = matmul_nt(x, w);
    if let Some(mut offsets) = offset_rows(&mut y, blocks) {
        offsets += &b;
    }
    y
}

/// Adds an affine step's bias to the offset rows of `y`.
fn add_bias(step: &AffineStep, y: &mut Array2<f64>, blocks: Blocks) {
    let Some(mut target) = offset_rows(y, blocks) else {
        return;
    };
    match step {
        AffineStep::Dense(d) => target += &d.b,
        AffineStep::Conv(c) => {
            if let Some(bias) = &c.conv.bias {
                let (_, oh, ow) = chw(c.output);
                let mut owned = target.to_owned();
                add_channel_bias(&mut owned, bias, oh * ow);
                target.assign(&owned);
            }
        }
        AffineStep::ChannelAffine(c) => {
            for mut row in target.outer_iter_mut() {
                for (ch, &sh) in c.shift.iter().enumerate() {
                    row.slice_mut(s![ch * c.spatial..(ch + 1) * c.spatial])
                        .mapv_inplace(|v| v + sh);
                }
            }
        }
        AffineStep::AvgPool(_) => {}
    }
}

/// Applies an affine step to every row, bias included.
pub(crate) fn affine(step: &AffineStep, x: ArrayView2<f64>) -> Array2<f64> {
    affine_blocks(step, x, Blocks::POINTS)
}

/// Plain forward pass of `x` (points x inputs) through `steps`, recording
/// pattern choices.
pub(crate) fn forward(steps: &[Step], x: Array2<f64>, rec: &mut Recorder<'_>) -> Array2<f64> {
    let mut h = x;
    let mut skips = Vec::new();
    for step in steps {
        h = match flow(step) {
            Flow::Units(Nonlinearity::TwoPiece(t)) => {
                record_pre(rec, &h);
                let choices = rec.choices.slice_mut(s![.., t.offset..t.offset + t.len]);
                simd::two_piece_record(h.view_mut(), choices, t.slopes());
                h
            }
            Flow::Units(Nonlinearity::Max(m)) => {
                record_pre(rec, &h);
                max_record(
                    m,
                    h.view(),
                    rec.choices.slice_mut(s![.., m.offset..m.offset + m.len()]),
                )
            }
            Flow::Carry(c) => carry(c, h, &mut skips, Blocks::POINTS),
        };
    }
    h
}

/// The outputs of max units on rows `h`, their arg-max positions written to `choices`.
fn max_record(m: &MaxUnits, h: ArrayView2<f64>, mut choices: ArrayViewMut2<u8>) -> Array2<f64> {
    let mut out = Array2::zeros((h.nrows(), m.len()));
    for ((hrow, mut orow), mut crow) in h
        .outer_iter()
        .zip(out.outer_iter_mut())
        .zip(choices.outer_iter_mut())
    {
        for (j, taps) in m.cand.chunks_exact(m.width).enumerate() {
            let (arg, best) = arg_max(taps, |t| hrow[t]);
            orow[j] = best;
            crow[j] = arg as u8;
        }
    }
    out
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
        if t != PADDING {
            let v = value(t as usize);
            if best.0 == usize::MAX || v > best.1 {
                best = (i, v);
            }
        }
    }
    best
}

/// Propagates affine functions through `steps` with the pattern frozen:
/// every row of `rows` but `offset_row` is a direction (no bias), `offset_row`
/// is the value at the origin of the coordinates. Pre-activation rows of every
/// nonlinearity are pushed to `pre` when given.
pub(crate) fn frozen(
    steps: &[Step],
    rows: Array2<f64>,
    offset_row: usize,
    pattern: &[u8],
    pre: Option<&mut Vec<Array2<f64>>>,
) -> Array2<f64> {
    let blocks = Blocks {
        block: rows.nrows(),
        offset_row,
    };
    let choices = ArrayView1::from(pattern).insert_axis(Axis(0));
    match pre {
        Some(pre) => frozen_blocks(steps, rows, blocks, choices, &mut |z| pre.push(z.to_owned())),
        None => frozen_blocks(steps, rows, blocks, choices, &mut |_| {}),
    }
}

/// [`frozen`] for several affine functions at once: `rows` holds one block
/// of rows per function and `patterns` one row of unit values per block, so
/// each product runs once for the whole batch (each block's rows come out
/// as [`frozen`] gives them alone). `pre` sees the pre-activation rows of
/// each nonlinearity in turn (before its units act on them), so a caller
/// that keeps a few columns need not copy them all.
pub(crate) fn frozen_blocks(
    steps: &[Step],
    rows: Array2<f64>,
    blocks: Blocks,
    patterns: ArrayView2<u8>,
    pre: &mut dyn FnMut(ArrayView2<'_, f64>),
) -> Array2<f64> {
    through_steps(steps, rows, blocks, |nl, h, _| {
        pre(h.view());
        choose(nl, h, blocks, patterns.slice(s![.., nl.units()]))
    })
}

/// Runs blocks of affine rows through `steps`: every step without units
/// carries them on its own, and `units(nl, h, skipping)` acts for each
/// nonlinearity (`skipping`: a saved skip path spans it). The one loop over
/// a program's steps for every evaluator of frozen blocks.
pub(crate) fn through_steps(
    steps: &[Step],
    rows: Array2<f64>,
    blocks: Blocks,
    mut units: impl FnMut(&Nonlinearity, Array2<f64>, bool) -> Array2<f64>,
) -> Array2<f64> {
    let mut h = rows;
    let mut skips = Vec::new();
    for step in steps {
        h = match flow(step) {
            Flow::Units(nl) => units(nl, h, !skips.is_empty()),
            Flow::Carry(c) => carry(c, h, &mut skips, blocks),
        };
    }
    h
}

/// A step as the evaluators run it: a nonlinearity, whose pattern units
/// decide how it acts, or a step that carries the rows through on its own.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Flow<'a> {
    /// A nonlinearity.
    Units(&'a Nonlinearity),
    /// A step without units.
    Carry(Carry<'a>),
}

/// A step without pattern units.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Carry<'a> {
    /// An affine step.
    Affine(&'a AffineStep),
    /// [`Step::Fork`]: saves the skip path (the rows, or their image under
    /// the projection).
    Fork(Option<&'a AffineStep>),
    /// [`Step::Join`]: adds the most recently saved skip path.
    Join,
}

/// Sorts a step into a nonlinearity or a step without units.
pub(crate) fn flow(step: &Step) -> Flow<'_> {
    match step {
        Step::Nonlinear(nl) => Flow::Units(nl),
        Step::Affine(a) => Flow::Carry(Carry::Affine(a)),
        Step::Fork { skip } => Flow::Carry(Carry::Fork(skip.as_ref())),
        Step::Join => Flow::Carry(Carry::Join),
    }
}

/// Applies an affine step to blocks of affine rows: the linear part to every
/// row, the bias to the offset rows.
pub(crate) fn affine_blocks(step: &AffineStep, h: ArrayView2<f64>, blocks: Blocks) -> Array2<f64> {
    if let AffineStep::Dense(d) = step {
        return dense_blocks(d.w.view(), d.b.view(), h, blocks);
    }
    let mut y = linear(step, h);
    add_bias(step, &mut y, blocks);
    y
}

/// Applies a step that adds no pattern units (affine, fork or join) to
/// blocks of affine rows; `skips` is the stack of saved skip paths.
pub(crate) fn carry(
    step: Carry<'_>,
    h: Array2<f64>,
    skips: &mut Vec<Array2<f64>>,
    blocks: Blocks,
) -> Array2<f64> {
    match step {
        Carry::Affine(a) => affine_blocks(a, h.view(), blocks),
        Carry::Fork(projection) => {
            skips.push(match projection {
                Some(p) => affine_blocks(p, h.view(), blocks),
                None => h.clone(),
            });
            h
        }
        Carry::Join => h + skips.pop().expect("every Join follows its Fork"),
    }
}

/// Applies a nonlinearity to blocks of affine rows with frozen choices:
/// `choices` has one row per block and one column per unit (the piece of a
/// two-piece unit, the window position of a max unit's arg-max).
pub(crate) fn choose(
    nl: &Nonlinearity,
    h: Array2<f64>,
    blocks: Blocks,
    choices: ArrayView2<u8>,
) -> Array2<f64> {
    match nl {
        Nonlinearity::TwoPiece(t) => scale_pieces(t, h, blocks, choices),
        Nonlinearity::Max(m) => {
            let units = m.len();
            let mut out = Array2::zeros((h.nrows(), units));
            for ((rows, mut orows), c) in h
                .axis_chunks_iter(Axis(0), blocks.block)
                .zip(out.axis_chunks_iter_mut(Axis(0), blocks.block))
                .zip(choices.outer_iter())
            {
                for j in 0..units {
                    let src = m.cand[j * m.width + c[j] as usize] as usize;
                    orows.column_mut(j).assign(&rows.column(src));
                }
            }
            out
        }
    }
}

/// [`choose`] for two-piece units: each column scaled by its piece's slope.
pub(crate) fn scale_pieces(
    t: &TwoPiece,
    mut h: Array2<f64>,
    blocks: Blocks,
    choices: ArrayView2<u8>,
) -> Array2<f64> {
    simd::scale_blocks(h.view_mut(), blocks.block, choices, t.slopes());
    h
}

/// Reverse pass: `g` holds `block` rows per point (row `p * block + i` belongs
/// to point `p`), each a covector on the output of `steps`; returns the same
/// covectors pulled back to the input through each point's frozen pattern.
pub(crate) fn reverse(steps: &[Step], g: Array2<f64>, block: usize, patterns: ArrayView2<u8>) -> Array2<f64> {
    let mut g = g;
    // The covectors at each open block's output, for its skip path.
    let mut at_joins = Vec::new();
    for step in steps.iter().rev() {
        g = match flow(step) {
            Flow::Units(Nonlinearity::TwoPiece(t)) => {
                let pieces = patterns.slice(s![.., t.offset..t.offset + t.len]);
                simd::scale_blocks(g.view_mut(), block, pieces, t.slopes());
                g
            }
            Flow::Units(Nonlinearity::Max(m)) => max_scatter(m, g.view(), block, patterns),
            Flow::Carry(Carry::Affine(a)) => linear_t(a, g.view()),
            Flow::Carry(Carry::Join) => {
                at_joins.push(g.clone());
                g
            }
            Flow::Carry(Carry::Fork(projection)) => {
                let saved = at_joins.pop().expect("every Fork precedes its Join");
                let through_skip = match projection {
                    Some(p) => linear_t(p, saved.view()),
                    None => saved,
                };
                g + through_skip
            }
        };
    }
    g
}

/// The covectors `g` on max units' outputs pulled back to their inputs: each
/// unit's column goes to the input its point's arg-max chose.
fn max_scatter(m: &MaxUnits, g: ArrayView2<f64>, block: usize, patterns: ArrayView2<u8>) -> Array2<f64> {
    let units = m.len();
    let mut out = Array2::zeros((g.nrows(), m.input_len));
    for ((rows, mut orows), prow) in g
        .axis_chunks_iter(Axis(0), block)
        .zip(out.axis_chunks_iter_mut(Axis(0), block))
        .zip(patterns.outer_iter())
    {
        for j in 0..units {
            let src = m.cand[j * m.width + prow[m.offset + j] as usize] as usize;
            let mut dst = orows.column_mut(src);
            dst += &rows.column(j);
        }
    }
    out
}

/// A copy of the rows `[directions; origin]` used to start [`frozen`].
pub(crate) fn affine_rows(basis: ArrayView2<f64>, origin: &Array1<f64>) -> Array2<f64> {
    let mut rows = Array2::zeros((basis.nrows() + 1, basis.ncols()));
    rows.slice_mut(s![..basis.nrows(), ..]).assign(&basis);
    rows.row_mut(basis.nrows()).assign(origin);
    rows
}
