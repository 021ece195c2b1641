//! Exact Jacobians of a chunk of points from their activation patterns, in
//! whichever mode is cheaper: reverse mode (covectors of the outputs pulled
//! back, one stacked GEMM per layer) when there are fewer outputs than
//! inputs, forward mode (the input basis pushed through each point's frozen
//! pattern) otherwise, as for decoders with a small latent and a wide output.

use ndarray::{s, Array2, ArrayView1, ArrayView2, Zip};

use super::forward_chunk;
use super::real::gemm_into;
use super::scratch::{sized, view, view_mut, Buffers, MlpLayer, MlpProgram};
use crate::backend::Keep;
use crate::kernels::simd;
use crate::linalg::matmul_nn;
use crate::network::eval;
use crate::network::{AffineStep, Nonlinearity, Step, TwoPiece};
use crate::Network;

/// Values of the covector rows that one block of the pull-back keeps in
/// each of its thread's two buffers (points x outputs x widest hidden
/// layer): 128 Ki `f64`, 1 MiB, so that the rows a GEMM reads stay in a 2 MiB
/// L2 cache through the masking pass after it. For W5 (10 outputs, hidden
/// width 200) a block holds 64 points, GEMMs of 640 rows: faer packs the
/// 784 x 200 first-layer weight once per GEMM, and at 160 rows that packing
/// took about 14 % of the GEMM time (measured with `perf`), at 640 rows a
/// quarter of that.
const JACOBIAN_VALUES_PER_BLOCK: usize = 1 << 17;

/// The reverse-mode Jacobians of a plain MLP that ends with a dense layer,
/// run in the worker thread's reused buffers and written straight into the
/// caller's array.
///
/// Per point the pull-back starts from the last layer's weights `W_L` (the
/// identity pulled through it: no GEMM), masked by the last two-piece
/// layer's slopes as it is copied; every earlier dense layer is one GEMM of
/// the task's stacked covectors (points x outputs rows), the slopes of the
/// two-piece layer below applied to the block the GEMM just wrote; the
/// first layer's GEMM writes into the output. Values agree with the generic
/// evaluator ([`eval::reverse`] on an identity seed) up to the summation
/// order of the GEMMs (a few ulps; see the tests).
pub(super) struct ReverseMlp<'a> {
    prog: MlpProgram<'a, f64>,
    outputs: usize,
    widest: usize,
}

impl<'a> ReverseMlp<'a> {
    /// The reverse pass of `net`, or `None` when `net` is not a plain MLP
    /// ending with a dense layer.
    pub(super) fn new(net: &'a Network) -> Option<Self> {
        let prog = MlpProgram::<f64>::new(net.program().steps())?;
        let Some(MlpLayer::Dense { w, .. }) = prog.layers.last() else {
            return None;
        };
        let outputs = w.nrows();
        // The covectors are as wide as some dense layer's input; the output
        // width counts as well, which changes nothing where reverse mode
        // is chosen (fewer outputs than inputs).
        let widest = prog.widest(1);
        Some(ReverseMlp {
            prog,
            outputs,
            widest,
        })
    }

    /// The program, for the forward pass that records the patterns.
    pub(super) fn program(&self) -> &MlpProgram<'a, f64> {
        &self.prog
    }

    /// Points per block of the pull-back, from [`JACOBIAN_VALUES_PER_BLOCK`].
    fn points_per_block(&self) -> usize {
        (JACOBIAN_VALUES_PER_BLOCK / (self.outputs * self.widest).max(1)).max(1)
    }

    /// Writes the Jacobians of the points with `patterns` (points x units)
    /// into `out` (points x outputs x inputs, row-major), block by block.
    pub(super) fn pull_back(&self, patterns: ArrayView2<u8>, out: &mut [f64]) {
        let per_block = self.points_per_block();
        let values = out.len() / patterns.nrows().max(1);
        for (b, out) in out.chunks_mut(per_block * values.max(1)).enumerate() {
            let start = b * per_block;
            let end = (start + per_block).min(patterns.nrows());
            self.pull_back_block(patterns.slice(s![start..end, ..]), out);
        }
    }

    /// [`Self::pull_back`] of one block of points, in the thread's buffers.
    fn pull_back_block(&self, patterns: ArrayView2<u8>, out: &mut [f64]) {
        let m = self.outputs;
        let rows = patterns.nrows() * m;
        let layers = &self.prog.layers;
        f64::scratch().with(|cell| {
            let scratch = &mut *cell.borrow_mut();
            // Where the covectors are now: `None` before the first step.
            let mut width = None;
            let mut in_out = false;
            let mut skip_mask = false;
            for (i, layer) in layers.iter().enumerate().rev() {
                match layer {
                    MlpLayer::TwoPiece { .. } if skip_mask => skip_mask = false,
                    MlpLayer::TwoPiece { units, slopes } => {
                        let cols = width.expect("the program ends with a dense layer");
                        let g = if in_out {
                            &mut out[..rows * cols]
                        } else {
                            &mut scratch.rows[..rows * cols]
                        };
                        let pieces = patterns.slice(s![.., units.offset..units.offset + units.len]);
                        simd::scale_blocks(view_mut(g, rows, cols), m, pieces, *slopes);
                    }
                    MlpLayer::Dense { w, .. } => {
                        let cols = w.ncols();
                        let dst = if i == 0 {
                            &mut *out
                        } else {
                            sized(&mut scratch.next, rows * cols)
                        };
                        match width {
                            None => {
                                // The identity pulled through W: W per point, masked while copied.
                                let below = i.checked_sub(1).map(|j| &layers[j]);
                                skip_mask = fill_masked(w.view(), below, patterns, dst);
                            }
                            Some(k) => {
                                gemm_into(view(&scratch.rows, rows, k), w.view(), &mut dst[..rows * cols])
                            }
                        }
                        width = Some(cols);
                        in_out = i == 0;
                        if !in_out {
                            std::mem::swap(&mut scratch.rows, &mut scratch.next);
                        }
                    }
                }
            }
            if !in_out {
                let cols = width.expect("the program ends with a dense layer");
                out[..rows * cols].copy_from_slice(&scratch.rows[..rows * cols]);
            }
        });
    }
}

/// Writes `W` (outputs x inputs) once per point into `dst`, each point's
/// columns multiplied by the slopes its pattern selects when `below` is a
/// two-piece layer. Returns whether it applied that layer's mask.
fn fill_masked(
    w: ArrayView2<f64>,
    below: Option<&MlpLayer<'_, f64>>,
    patterns: ArrayView2<u8>,
    dst: &mut [f64],
) -> bool {
    let block = w.len();
    let mask = match below {
        Some(MlpLayer::TwoPiece { units, slopes }) => Some((
            patterns.slice(s![.., units.offset..units.offset + units.len]),
            *slopes,
        )),
        _ => None,
    };
    for (p, out) in dst[..patterns.nrows() * block]
        .chunks_exact_mut(block)
        .enumerate()
    {
        let mut out = view_mut(out, w.nrows(), w.ncols());
        match &mask {
            Some((pieces, slopes)) => {
                let factors = pieces.row(p).mapv(|c| slopes[usize::from(c)]);
                for (mut o, row) in out.rows_mut().into_iter().zip(w.rows()) {
                    Zip::from(&mut o)
                        .and(&row)
                        .and(&factors)
                        .for_each(|o, &v, &f| *o = v * f);
                }
            }
            None => out.assign(&w),
        }
    }
    mask.is_some()
}

/// `(outputs, patterns, jacobians)` of a chunk; the Jacobians are stacked as
/// `(points * outputs) x inputs`.
pub(super) fn jacobian_chunk(net: &Network, x: ArrayView2<f64>) -> (Array2<f64>, Array2<u8>, Array2<f64>) {
    let fwd = forward_chunk(net, x, Keep::Patterns);
    let patterns = fwd
        .patterns
        .unwrap_or_else(|| Array2::zeros((x.nrows(), net.unit_count())));
    let (m, d) = (net.output_dim(), net.input_dim());
    let n = x.nrows();
    let jac = if !super::CpuBackend::prefers_forward_mode(net) {
        let mut seed = Array2::zeros((n * m, m));
        for p in 0..n {
            seed.slice_mut(s![p * m..(p + 1) * m, ..]).assign(&Array2::eye(m));
        }
        eval::reverse(net.program().steps(), seed, m, patterns.view())
    } else {
        let forward = ForwardJacobian::new(net);
        let mut jac = Array2::zeros((n * m, d));
        for (p, pattern) in patterns.outer_iter().enumerate() {
            jac.slice_mut(s![p * m..(p + 1) * m, ..])
                .assign(&forward.at(x.row(p), pattern).t());
        }
        jac
    };
    (fwd.outputs, patterns, jac)
}

/// Forward-mode Jacobians `A^T` (inputs x outputs, standard layout) of one
/// network at many points.
///
/// For a plain MLP (dense layers and two-piece activations, ending with a
/// dense layer) the weights are kept transposed, and units whose frozen slope
/// is 0 (inactive ReLUs) are dropped: their columns of the pushed basis are
/// zero, so the next layer's product only needs the rows of `W^T` of the live
/// units, a GEMM with about half the inner dimension for ReLU networks. Other
/// networks go through the generic frozen pass.
pub(crate) struct ForwardJacobian<'a> {
    net: &'a Network,
    /// The program as a plain MLP, or `None` when it is not one.
    mlp: Option<Vec<MlpStep<'a>>>,
}

/// A step of a plain MLP, as the forward-mode fast path runs it.
enum MlpStep<'a> {
    /// A dense layer, by its transposed weight `W^T` (inputs x outputs).
    Dense(Array2<f64>),
    /// Two-piece units.
    TwoPiece(&'a TwoPiece),
}

impl<'a> ForwardJacobian<'a> {
    /// Prepares the Jacobians of `net`.
    pub(crate) fn new(net: &'a Network) -> Self {
        let steps = net.program().steps();
        let ends_dense = matches!(steps.last(), Some(Step::Affine(AffineStep::Dense(_))));
        let mlp = steps
            .iter()
            .map(|step| match step {
                Step::Affine(AffineStep::Dense(d)) => {
                    Some(MlpStep::Dense(d.w().t().as_standard_layout().into_owned()))
                }
                Step::Nonlinear(Nonlinearity::TwoPiece(t)) => Some(MlpStep::TwoPiece(t)),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()
            .filter(|_| ends_dense);
        ForwardJacobian { net, mlp }
    }

    /// `A^T` at the point `x` with activation pattern `pattern`.
    pub(crate) fn at(&self, x: ArrayView1<f64>, pattern: ArrayView1<u8>) -> Array2<f64> {
        match &self.mlp {
            Some(mlp) => self.through_mlp(mlp, pattern),
            None => transposed_jacobian(self.net, x, pattern),
        }
    }

    fn through_mlp(&self, mlp: &[MlpStep<'_>], pattern: ArrayView1<u8>) -> Array2<f64> {
        let d = self.net.input_dim();
        let mut h = Array2::eye(d);
        // The input units that the columns of `h` stand for (`None`: all of them).
        let mut live: Option<Vec<usize>> = None;
        for step in mlp {
            match step {
                MlpStep::Dense(wt) => {
                    h = match live.take() {
                        None => matmul_nn(h.view(), wt.view()),
                        Some(units) => matmul_nn(h.view(), gather_rows(wt.view(), &units).view()),
                    };
                }
                MlpStep::TwoPiece(t) => {
                    let slopes = t.slopes();
                    let pieces = pattern.slice(s![t.units()]);
                    let units: Vec<usize> = (0..t.len())
                        .filter(|&j| slopes[pieces[j] as usize] != 0.0)
                        .collect();
                    let mut kept = Array2::zeros((d, units.len()));
                    for (mut column, &j) in kept.columns_mut().into_iter().zip(&units) {
                        let slope = slopes[pieces[j] as usize];
                        column.zip_mut_with(&h.column(j), |k, &v| *k = slope * v);
                    }
                    h = kept;
                    live = Some(units);
                }
            }
        }
        h
    }
}

/// The rows `units` of `x`, in that order.
fn gather_rows(x: ArrayView2<f64>, units: &[usize]) -> Array2<f64> {
    let mut out = Array2::zeros((units.len(), x.ncols()));
    for (mut row, &u) in out.rows_mut().into_iter().zip(units) {
        row.assign(&x.row(u));
    }
    out
}

/// The transposed Jacobian `A^T` (inputs x outputs, standard layout) at one
/// point with activation pattern `pattern`, in forward mode: the input basis
/// pushed through the frozen pattern, one GEMM per layer with as many rows as
/// inputs.
fn transposed_jacobian(net: &Network, x: ArrayView1<f64>, pattern: ArrayView1<u8>) -> Array2<f64> {
    let d = net.input_dim();
    let values = pattern.to_vec();
    let rows = eval::affine_rows(Array2::eye(d).view(), &x.to_owned());
    let pushed = eval::frozen(net.program().steps(), rows, d, &values, None);
    // The basis rows come first, so dropping the origin row keeps the layout.
    pushed.slice_move(s![..d, ..])
}
