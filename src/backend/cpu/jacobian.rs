//! Exact Jacobians of a chunk of points from their activation patterns, in
//! whichever mode is cheaper: reverse mode (covectors of the outputs pulled
//! back, one stacked GEMM per layer) when there are fewer outputs than
//! inputs, forward mode (the input basis pushed through each point's frozen
//! pattern) otherwise, as for decoders with a small latent and a wide output.

use ndarray::{s, Array2, ArrayView1, ArrayView2};

use super::forward_chunk;
use crate::backend::Keep;
use crate::network::eval;
use crate::Network;

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
        eval::reverse(net.layers(), seed, m, patterns.view())
    } else {
        let mut jac = Array2::zeros((n * m, d));
        for (p, pattern) in patterns.outer_iter().enumerate() {
            jac.slice_mut(s![p * m..(p + 1) * m, ..])
                .assign(&transposed_jacobian(net, x.row(p), pattern).t());
        }
        jac
    };
    (fwd.outputs, patterns, jac)
}

/// The transposed Jacobian `A^T` (inputs x outputs, standard layout) at one
/// point with activation pattern `pattern`, in forward mode: the input basis
/// pushed through the frozen pattern, one GEMM per layer with as many rows as
/// inputs.
pub(crate) fn transposed_jacobian(net: &Network, x: ArrayView1<f64>, pattern: ArrayView1<u8>) -> Array2<f64> {
    let d = net.input_dim();
    let values = pattern.to_vec();
    let rows = eval::affine_rows(Array2::eye(d).view(), &x.to_owned());
    let pushed = eval::frozen(net.layers(), rows, d, &values, None);
    // The basis rows come first, so dropping the origin row keeps the layout.
    pushed.slice_move(s![..d, ..])
}
