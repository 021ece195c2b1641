//! Forward passes of local-complexity neighbourhoods, with the first layer
//! folded when it is dense or a convolution (linear maps `W` plus a bias):
//! `W (x +- r v) + b = (W x + b) +- r (W v)`, so that the first layer runs
//! once per point and once for all directions instead of once per vertex
//! (for a convolution, each direction image is convolved once).

use ndarray::{s, Array2, ArrayView2, ArrayViewMut2};

use super::real::Real;
use super::scratch::{Buffers, MlpLayer, MlpProgram, Scratch};
use super::{forward_chunk, neighbourhood_vertices};
use crate::backend::{ForwardBatch, Keep};
use crate::kernels::fused::LayerStep;
use crate::network::eval::{self, Recorder};
use crate::network::{AffineStep, Step, TwoPiece, UnitLayer};
use crate::Network;

/// The pre-activations (and patterns) of every vertex `x +- r v_k` of every
/// point, point-major, `+v_1..+v_P` then `-v_1..-v_P`.
pub(super) fn vertex_forward(
    net: &Network,
    points: ArrayView2<f64>,
    dirs: ArrayView2<f64>,
    radius: f64,
) -> ForwardBatch {
    let steps = net.program().steps();
    let Some(Step::Affine(layer @ (AffineStep::Dense(_) | AffineStep::Conv(_)))) = steps.first() else {
        return forward_chunk(
            net,
            neighbourhood_vertices(points, dirs, radius).view(),
            Keep::PreActivations,
        );
    };
    let at_points = eval::affine(layer, points);
    let moves = eval::linear(layer, dirs) * radius;
    let p = dirs.nrows();
    let mut first = Array2::zeros((points.nrows() * 2 * p, moves.ncols()));
    for (i, z) in at_points.outer_iter().enumerate() {
        let base = i * 2 * p;
        first.slice_mut(s![base..base + p, ..]).assign(&(&moves + &z));
        first
            .slice_mut(s![base + p..base + 2 * p, ..])
            .assign(&(&z - &moves));
    }
    let mut choices = Array2::zeros((first.nrows(), net.unit_count()));
    let mut pre = Vec::new();
    let outputs = {
        let mut rec = Recorder {
            choices: choices.view_mut(),
            pre: Some(&mut pre),
        };
        eval::forward(&steps[1..], first, &mut rec)
    };
    ForwardBatch {
        outputs,
        patterns: Some(choices),
        pre_activations: Some(pre),
    }
}

/// Points per task of the folded pass: the first layer runs at them as one
/// GEMM (its weight packed once per task, not once per block), and 10,000
/// points still make over 150 tasks to share among the threads.
pub(super) const FOLDED_POINTS_PER_TASK: usize = 64;

/// Bytes of the vertex rows one block of the folded pass holds in each of
/// the thread's two buffers (vertices x widest layer): 512 KiB, so that both
/// buffers and a 200 x 200 weight stay in a 2 MiB L2 cache between a GEMM and
/// the fused step after it. For W3 in `f64` (50 vertices, width 200) a block
/// holds 6 points, GEMMs of 300 rows; in `f32` 13 points.
const VERTEX_BLOCK_BYTES: usize = 1 << 19;

/// The folded neighbourhood pass of a plain MLP (a dense first layer, then
/// dense layers and two-piece units), run in the worker thread's reused
/// buffers with the sign comparison fused in: after each GEMM one walk over
/// the block adds the bias, compares each vertex with its point's first
/// vertex and applies the activation
/// ([`crate::kernels::fused::layer_step`]), so that no copy
/// of the pre-activations is kept and no pattern is written. The first layer
/// is folded in `f64`; the layers after it run in `T` (`f32` for
/// [`crate::backend::Precision::F32`]). [`super::hood::LinearHood`] runs its
/// points in this pass's blocks and expands a point that changes sign into
/// its vertex rows; this pass's own `count_changes` (built for tests
/// only) is the oracle the linear pass is checked against.
pub(super) struct FoldedMlp<'a, T: Real> {
    first: &'a AffineStep,
    pub(super) rest: MlpProgram<'a, T>,
    /// `r W v_k`, the first layer's moves along the directions (P x width).
    pub(super) moves: Array2<f64>,
}

impl<'a, T: Buffers> FoldedMlp<'a, T> {
    /// The folded pass of `net`, or `None` when `net` is not a plain MLP.
    pub(super) fn new(net: &'a Network, dirs: ArrayView2<f64>, radius: f64) -> Option<Self> {
        let steps = net.program().steps();
        let (Step::Affine(first @ AffineStep::Dense(_)), rest) = steps.split_first()? else {
            return None;
        };
        Some(FoldedMlp {
            first,
            rest: MlpProgram::new(rest)?,
            moves: eval::linear(first, dirs) * radius,
        })
    }

    /// Runs the first layer at `points` once, then `block` on blocks of
    /// `per_block` points in this thread's buffers, with their first-layer
    /// values and their rows of the counts (points x `columns`).
    pub(super) fn in_blocks(
        &self,
        points: ArrayView2<f64>,
        columns: usize,
        per_block: usize,
        mut block: impl FnMut(&mut Scratch<T>, ArrayView2<f64>, ArrayViewMut2<u32>),
    ) -> Array2<u32> {
        let n = points.nrows();
        let mut counts = Array2::zeros((n, columns));
        let at_points = eval::affine(self.first, points);
        T::scratch().with(|cell| {
            let scratch = &mut *cell.borrow_mut();
            for start in (0..n).step_by(per_block) {
                let end = (start + per_block).min(n);
                block(
                    scratch,
                    at_points.slice(s![start..end, ..]),
                    counts.slice_mut(s![start..end, ..]),
                );
            }
        });
        counts
    }

    /// Points per block when each point holds `rows` rows, from
    /// [`VERTEX_BLOCK_BYTES`].
    pub(super) fn points_per_block(&self, rows: usize) -> usize {
        let widest = self.rest.widest(self.moves.ncols());
        let per_point = rows * widest.max(1) * std::mem::size_of::<T>();
        (VERTEX_BLOCK_BYTES / per_point).max(1)
    }
}

/// The column of `units` among the counted layers, if they are counted.
fn counted_slot(counted: &[(usize, UnitLayer)], units: &TwoPiece) -> Option<usize> {
    counted
        .iter()
        .position(|(_, l)| (l.offset, l.len) == (units.offset, units.len))
}

/// What the folded passes do at a layer after the first ([`walk_layers`]).
pub(super) enum LayerOp<'p, T> {
    /// Multiply the rows by a dense layer's weight (out x in).
    Gemm(ArrayView2<'p, T>),
    /// The fused step after a GEMM, its counts going to column `slot` when
    /// it is given.
    Step(LayerStep<'p, T>, Option<usize>),
}

/// Walks the layers of `rest`, calling `op` for each: a dense layer's GEMM
/// (after a step that only adds the bias when two dense layers follow each
/// other), each two-piece layer's step (counted in its column of `counted`
/// when counted), then the output's counted step when `count_output`. A
/// dense layer's bias is left to the step after its GEMM.
pub(super) fn walk_layers<'p, T: Real>(
    rest: &'p MlpProgram<'_, T>,
    counted: &[(usize, UnitLayer)],
    count_output: bool,
    mut op: impl FnMut(LayerOp<'p, T>),
) {
    let mut bias: Option<&'p [T]> = None;
    for layer in &rest.layers {
        match layer {
            MlpLayer::Dense { w, b } => {
                if let Some(b) = bias.take() {
                    let step = LayerStep {
                        bias: Some(b),
                        count: false,
                        slopes: None,
                    };
                    op(LayerOp::Step(step, None));
                }
                op(LayerOp::Gemm(w.view()));
                bias = Some(b);
            }
            MlpLayer::TwoPiece { units, slopes } => {
                let slot = counted_slot(counted, units);
                let step = LayerStep {
                    bias: bias.take(),
                    count: slot.is_some(),
                    slopes: Some(*slopes),
                };
                op(LayerOp::Step(step, slot));
            }
        }
    }
    if count_output {
        let step = LayerStep {
            bias,
            count: true,
            slopes: None,
        };
        op(LayerOp::Step(step, Some(counted.len())));
    }
}

/// The folded pass's own counts: every point's `2P` vertex rows through every
/// layer. Only the tests run it, as the oracle of [`super::hood::LinearHood`].
#[cfg(test)]
mod oracle {
    use ndarray::{Array2, ArrayView2, ArrayViewMut2, Zip};

    use super::super::real::gemm_into;
    use super::super::scratch::{sized, view, view_mut, Buffers, Scratch};
    use super::{walk_layers, FoldedMlp, LayerOp};
    use crate::kernels::fused;
    use crate::network::UnitLayer;

    impl<T: Buffers> FoldedMlp<'_, T> {
        /// Per point and counted layer (then the output when `count_output`),
        /// the units whose sign at some vertex differs from the first vertex's.
        pub(in crate::backend::cpu) fn count_changes(
            &self,
            points: ArrayView2<f64>,
            counted: &[(usize, UnitLayer)],
            count_output: bool,
        ) -> Array2<u32> {
            let per_block = self.points_per_block(2 * self.moves.nrows());
            self.in_blocks(
                points,
                counted.len() + usize::from(count_output),
                per_block,
                |s, at, counts| self.count_block(s, at, counted, count_output, counts),
            )
        }

        /// [`Self::count_changes`] of the points whose first-layer values are
        /// `at_points`, in `scratch`, into `counts` (their rows).
        fn count_block(
            &self,
            scratch: &mut Scratch<T>,
            at_points: ArrayView2<f64>,
            counted: &[(usize, UnitLayer)],
            count_output: bool,
            mut counts: ArrayViewMut2<u32>,
        ) {
            let verts = 2 * self.moves.nrows();
            let rows = at_points.nrows() * verts;
            let mut width = self.moves.ncols();
            self.fill(
                view_mut(sized(&mut scratch.rows, rows * width), rows, width),
                at_points,
            );
            walk_layers(&self.rest, counted, count_output, |op| match op {
                LayerOp::Gemm(w) => {
                    let x = view(&scratch.rows, rows, width);
                    width = w.nrows();
                    gemm_into(x, w.t(), sized(&mut scratch.next, rows * width));
                    std::mem::swap(&mut scratch.rows, &mut scratch.next);
                }
                LayerOp::Step(step, slot) => {
                    let z = &mut scratch.rows[..rows * width];
                    fused::layer_step(z, width, verts, step, &mut scratch.marks, |p, c| {
                        if let Some(slot) = slot {
                            counts[[p, slot]] = c;
                        }
                    });
                }
            });
        }

        /// Writes the vertex rows `x +- r v_k` of each point's first layer
        /// (`at_points`, point-major, `+v_1..+v_P` then `-v_1..-v_P`) into `rows`,
        /// rounded to `T`.
        fn fill(&self, mut rows: ArrayViewMut2<T>, at_points: ArrayView2<f64>) {
            let p = self.moves.nrows();
            let cast = |r: &mut T, a: f64| *r = T::from_f64(a);
            for (i, z) in at_points.outer_iter().enumerate() {
                let base = i * 2 * p;
                for (k, m) in self.moves.outer_iter().enumerate() {
                    Zip::from(rows.row_mut(base + k))
                        .and(&m)
                        .and(&z)
                        .for_each(|r, &m, &z| cast(r, m + z));
                    Zip::from(rows.row_mut(base + p + k))
                        .and(&m)
                        .and(&z)
                        .for_each(|r, &m, &z| cast(r, z - m));
                }
            }
        }
    }
}
