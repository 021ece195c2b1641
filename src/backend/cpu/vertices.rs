//! Forward passes of local-complexity neighbourhoods, with the first layer
//! folded when it is dense or a convolution (linear maps `W` plus a bias):
//! `W (x +- r v) + b = (W x + b) +- r (W v)`, so that the first layer runs
//! once per point and once for all directions instead of once per vertex
//! (for a convolution, each direction image is convolved once).

use ndarray::{s, Array2, ArrayView2};

use super::{forward_chunk, neighbourhood_vertices};
use crate::backend::{ForwardBatch, Keep};
use crate::network::eval::{self, Recorder};
use crate::network::{AffineStep, Step};
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
