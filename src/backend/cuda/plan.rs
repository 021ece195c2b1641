//! Which networks run on the GPU, as a flat list of steps read off the
//! network's [`crate::network::Program`], and how many rows a chunk may hold
//! within the memory budget. Pure host code.

use ndarray::{ArrayView1, ArrayView2};

use crate::network::{AffineStep, Nonlinearity, Step as ProgramStep};
use crate::Network;

/// One layer of a network the GPU passes handle.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Step<'a> {
    /// `w x + b`, `w` (out, in).
    Dense {
        /// Weights, (out, in).
        w: ArrayView2<'a, f64>,
        /// Bias.
        b: ArrayView1<'a, f64>,
    },
    /// A two-piece activation on `len` units starting at pattern index `offset`.
    TwoPiece {
        /// `[negative piece, positive piece]`.
        slopes: [f64; 2],
        /// Units.
        len: usize,
        /// First pattern index.
        offset: usize,
    },
    /// Max units (maxout or max pooling), `width` candidates each.
    Max {
        /// Candidates per unit.
        width: usize,
        /// Candidate inputs, unit-major (`u32::MAX` marks padding).
        cand: &'a [u32],
        /// Inputs of the layer.
        input_len: usize,
        /// First pattern index.
        offset: usize,
    },
}

impl Step<'_> {
    /// The width of the step's output for an input of `input` columns.
    pub(crate) fn output_width(&self, input: usize) -> usize {
        match self {
            Step::Dense { w, .. } => w.nrows(),
            Step::TwoPiece { .. } => input,
            Step::Max { width, cand, .. } => cand.len() / (*width).max(1),
        }
    }
}

/// The steps of `net`'s program when every step is dense, two-piece or max;
/// `None` when some step (convolution, average pooling, batch norm without a
/// preceding affine layer, residual fork or join) has no GPU implementation.
pub(crate) fn steps(net: &Network) -> Option<Vec<Step<'_>>> {
    net.program()
        .steps()
        .iter()
        .map(|step| match step {
            ProgramStep::Affine(AffineStep::Dense(d)) => Some(Step::Dense { w: d.w(), b: d.b() }),
            ProgramStep::Nonlinear(Nonlinearity::TwoPiece(t)) => Some(Step::TwoPiece {
                slopes: t.slopes(),
                len: t.len(),
                offset: t.offset(),
            }),
            ProgramStep::Nonlinear(Nonlinearity::Max(m)) => Some(Step::Max {
                width: m.width(),
                cand: m.candidates(),
                input_len: m.input_len(),
                offset: m.offset(),
            }),
            _ => None,
        })
        .collect()
}

/// The widest activation a pass over `steps` holds (input included).
pub(crate) fn widest(input: usize, steps: &[Step<'_>]) -> usize {
    let mut width = input;
    let mut widest = input;
    for step in steps {
        width = step.output_width(width);
        widest = widest.max(width);
    }
    widest
}

/// Device bytes one row of a forward pass needs at most: the input and
/// output of the widest layer, plus the row's pattern.
pub(crate) fn forward_row_bytes(input: usize, steps: &[Step<'_>], units: usize) -> usize {
    2 * widest(input, steps) * size_of::<f64>() + units
}

/// The most rows of `row_bytes` bytes that fit `budget` bytes (at least one).
pub(crate) fn rows_per_chunk(budget: usize, row_bytes: usize) -> usize {
    (budget / row_bytes.max(1)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array2};

    fn mlp() -> Network {
        Network::builder(3)
            .dense(Array2::zeros((5, 3)), ndarray::Array1::zeros(5))
            .unwrap()
            .leaky_relu(0.1)
            .dense(Array2::zeros((4, 5)), ndarray::Array1::zeros(4))
            .unwrap()
            .maxout(2)
            .dense(array![[1.0, 1.0]], array![0.0])
            .unwrap()
            .build()
            .unwrap()
    }

    #[test]
    fn mlps_become_steps_in_order() {
        let net = mlp();
        let steps = steps(&net).expect("an MLP runs on the GPU");
        assert_eq!(steps.len(), 5);
        assert!(matches!(
            steps[1],
            Step::TwoPiece {
                slopes: [0.1, 1.0],
                len: 5,
                offset: 0
            }
        ));
        assert!(matches!(
            steps[3],
            Step::Max {
                width: 2,
                input_len: 4,
                offset: 5,
                ..
            }
        ));
        assert_eq!(widest(3, &steps), 5);
        let nonlinear = steps.iter().filter(|s| !matches!(s, Step::Dense { .. })).count();
        assert_eq!(nonlinear, net.unit_layers().len());
    }

    #[test]
    fn residual_networks_stay_on_the_cpu() {
        let net = Network::builder(2)
            .residual(|b| {
                b.dense(Array2::eye(2), ndarray::Array1::zeros(2))
                    .map(|b| b.relu())
            })
            .unwrap()
            .build()
            .unwrap();
        assert!(steps(&net).is_none());
    }

    #[test]
    fn chunks_respect_the_budget() {
        assert_eq!(rows_per_chunk(1000, 100), 10);
        assert_eq!(rows_per_chunk(10, 100), 1);
        assert_eq!(rows_per_chunk(10, 0), 10);
        let net = mlp();
        let steps = steps(&net).unwrap();
        assert_eq!(forward_row_bytes(3, &steps, net.unit_count()), 2 * 5 * 8 + 7);
    }
}
