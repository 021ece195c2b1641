//! Exact Jacobians of a chunk of points from their activation patterns, in
//! whichever mode is cheaper: reverse mode (covectors of the outputs pulled
//! back, one stacked GEMM per layer) when there are fewer outputs than
//! inputs, forward mode (the input basis pushed through each point's frozen
//! pattern) otherwise, as for decoders with a small latent and a wide output.

use ndarray::{s, Array2, ArrayView1, ArrayView2};

use super::forward_chunk;
use crate::backend::Keep;
use crate::linalg::matmul_nn;
use crate::network::eval;
use crate::network::{AffineStep, Nonlinearity, Step, TwoPiece};
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
