//! Forward passes of local-complexity neighbourhoods, with the first layer
//! folded when it is dense or a convolution (linear maps `W` plus a bias):
//! `W (x +- r v) + b = (W x + b) +- r (W v)`, so that the first layer runs
//! once per point and once for all directions instead of once per vertex
//! (for a convolution, each direction image is convolved once).

use ndarray::{s, Array1, Array2, ArrayView2, ArrayViewMut2, Axis, Zip};

use super::real::Real;
use super::scratch::{self, Buffers, MlpProgram};
use super::{forward_chunk, neighbourhood_vertices};
use crate::backend::{ForwardBatch, Keep};
use crate::network::eval::{self, Recorder};
use crate::network::{AffineStep, Step, UnitLayer};
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

/// The folded neighbourhood pass of a plain MLP (a dense first layer, then
/// dense layers and two-piece units), run in the worker thread's reused
/// buffers with the sign comparison fused in: each layer's pre-activations
/// are compared with each point's first vertex as the pass reaches them, so
/// that no copy of them is kept. The first layer is folded in `f64`; the
/// layers after it run in `T` (`f32` for [`crate::backend::Precision::F32`]).
pub(super) struct FoldedMlp<'a, T: Real> {
    first: &'a AffineStep,
    rest: MlpProgram<'a, T>,
    /// `r W v_k`, the first layer's moves along the directions (P x width).
    moves: Array2<f64>,
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

    /// Per point and counted layer (then the output when `count_output`),
    /// the units whose sign at some vertex differs from the first vertex's.
    pub(super) fn count_changes(
        &self,
        points: ArrayView2<f64>,
        counted: &[(usize, UnitLayer)],
        count_output: bool,
    ) -> Array2<u32> {
        let p = self.moves.nrows();
        let verts = 2 * p;
        let n = points.nrows();
        let mut counts = Array2::zeros((n, counted.len() + usize::from(count_output)));
        let at_points = eval::affine(self.first, points);
        let fill = |mut rows: ArrayViewMut2<T>| {
            for (i, z) in at_points.outer_iter().enumerate() {
                let base = i * verts;
                for (k, m) in self.moves.outer_iter().enumerate() {
                    let cast = |r: &mut T, a: f64| *r = T::from_f64(a);
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
        };
        let shape = (n * verts, self.moves.ncols());
        let at_output = scratch::mlp_pass(
            &self.rest,
            shape,
            fill,
            None,
            |t, z| {
                let slot = counted
                    .iter()
                    .position(|(_, l)| (l.offset, l.len) == (t.offset, t.len));
                if let Some(slot) = slot {
                    counts.column_mut(slot).assign(&block_changes(z, verts));
                }
            },
            |out| count_output.then(|| block_changes(out, verts)),
        );
        if let Some(changes) = at_output {
            counts.column_mut(counted.len()).assign(&changes);
        }
        counts
    }
}

/// For each block of `verts` rows, the columns whose sign at some row
/// differs from the block's first row.
fn block_changes<T: Real>(z: ArrayView2<T>, verts: usize) -> Array1<u32> {
    z.axis_chunks_iter(Axis(0), verts)
        .map(T::first_row_changes)
        .collect()
}
