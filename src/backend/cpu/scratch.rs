//! Per-thread buffers for the batched passes through plain MLPs (dense layers
//! and two-piece units): the rows live in two buffers that each GEMM writes
//! in turn, kept by the worker thread across tasks, so that a batch of any
//! size allocates nothing per task beyond its results (fresh multi-megabyte
//! arrays per task cost a page fault per 4 KiB when the allocator hands them
//! back to the kernel between tasks).

use std::cell::RefCell;

use ndarray::{ArrayView2, ArrayViewMut2};

use crate::kernels::simd;
use crate::linalg::matmul_nt_into;
use crate::network::{AffineStep, Nonlinearity, Step, TwoPiece};

/// One thread's buffers: the rows before and after the current step, and
/// pattern choices nobody keeps.
#[derive(Default)]
struct Scratch {
    rows: Vec<f64>,
    next: Vec<f64>,
    choices: Vec<u8>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Whether `steps` are dense layers and two-piece units only, the programs
/// that [`mlp_pass`] runs.
pub(super) fn is_mlp(steps: &[Step]) -> bool {
    steps.iter().all(|step| {
        matches!(
            step,
            Step::Affine(AffineStep::Dense(_)) | Step::Nonlinear(Nonlinearity::TwoPiece(_))
        )
    })
}

/// A buffer of `len` values, grown (never shrunk) as needed.
fn sized<T: Copy + Default>(buf: &mut Vec<T>, len: usize) -> &mut [T] {
    if buf.len() < len {
        buf.resize(len, T::default());
    }
    &mut buf[..len]
}

/// Runs the plain-MLP `steps` (see [`is_mlp`]) on `rows` rows of `cols`
/// inputs that `fill` writes, in this thread's buffers. `visit` sees each
/// two-piece layer's pre-activations before the units act on them; the units'
/// choices go to `choices` (points x all units) when given. Returns what
/// `finish` makes of the output rows.
pub(super) fn mlp_pass<R>(
    steps: &[Step],
    (rows, cols): (usize, usize),
    fill: impl FnOnce(ArrayViewMut2<f64>),
    mut choices: Option<ArrayViewMut2<u8>>,
    mut visit: impl FnMut(&TwoPiece, ArrayView2<f64>),
    finish: impl FnOnce(ArrayView2<f64>) -> R,
) -> R {
    SCRATCH.with(|cell| {
        let scratch = &mut *cell.borrow_mut();
        let mut width = cols;
        fill(view_mut(sized(&mut scratch.rows, rows * width), rows, width));
        for step in steps {
            match step {
                Step::Affine(AffineStep::Dense(d)) => {
                    let x = view(&scratch.rows, rows, width);
                    width = d.w.nrows();
                    let out = sized(&mut scratch.next, rows * width);
                    matmul_nt_into(x, d.w.view(), out);
                    view_mut(out, rows, width).zip_mut_with(&d.b, |v, &b| *v += b);
                    std::mem::swap(&mut scratch.rows, &mut scratch.next);
                }
                Step::Nonlinear(Nonlinearity::TwoPiece(t)) => {
                    let mut z = view_mut(&mut scratch.rows[..rows * width], rows, width);
                    visit(t, z.view());
                    let units = t.offset..t.offset + t.len;
                    let picked = match choices.as_mut() {
                        Some(c) => c.slice_mut(ndarray::s![.., units]),
                        None => view_mut(sized(&mut scratch.choices, rows * t.len), rows, t.len),
                    };
                    simd::two_piece_record(z.view_mut(), picked, t.slopes());
                }
                _ => unreachable!("mlp_pass runs the programs that is_mlp accepts"),
            }
        }
        finish(view(&scratch.rows[..rows * width], rows, width))
    })
}

fn view(buf: &[f64], rows: usize, cols: usize) -> ArrayView2<'_, f64> {
    ArrayView2::from_shape((rows, cols), &buf[..rows * cols]).expect("buffers hold rows x cols values")
}

fn view_mut<T>(buf: &mut [T], rows: usize, cols: usize) -> ArrayViewMut2<'_, T> {
    ArrayViewMut2::from_shape((rows, cols), &mut buf[..rows * cols]).expect("buffers hold rows x cols values")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::eval::{self, Recorder};
    use crate::Network;
    use ndarray::{array, Array2};

    /// A 2-3-2-1 network with a ReLU and a leaky ReLU layer.
    fn net() -> Network {
        Network::builder(2)
            .dense(
                array![[1.0, -2.0], [0.5, 1.0], [-1.0, 0.25]],
                array![0.1, -0.2, 0.3],
            )
            .unwrap()
            .relu()
            .dense(array![[1.0, 1.0, -1.0], [-0.5, 2.0, 1.0]], array![0.0, -0.5])
            .unwrap()
            .leaky_relu(0.1)
            .dense(array![[1.5, -1.0]], array![0.25])
            .unwrap()
            .build()
            .unwrap()
    }

    /// The generic pass, as the reference.
    fn reference(net: &Network, x: &Array2<f64>) -> (Array2<f64>, Array2<u8>) {
        let mut choices = Array2::zeros((x.nrows(), net.unit_count()));
        let mut rec = Recorder {
            choices: choices.view_mut(),
            pre: None,
        };
        let out = eval::forward(net.program().steps(), x.clone(), &mut rec);
        (out, choices)
    }

    #[test]
    fn reused_buffers_match_the_generic_pass_at_any_batch_size() {
        let net = net();
        let steps = net.program().steps();
        assert!(is_mlp(steps));
        // A large batch, then a small one: the second runs in grown buffers
        // still holding the first one's values.
        for n in [40, 3, 17] {
            let x = Array2::from_shape_fn((n, 2), |(i, j)| {
                (i as f64 * 0.37 - 2.0) * if j == 0 { 1.0 } else { -0.6 }
            });
            let (want, want_choices) = reference(&net, &x);
            let mut choices = Array2::zeros((n, net.unit_count()));
            let mut seen = Vec::new();
            let got = mlp_pass(
                steps,
                x.dim(),
                |mut rows| rows.assign(&x),
                Some(choices.view_mut()),
                |t, z| seen.push((t.offset, z.dim())),
                |out| out.to_owned(),
            );
            assert_eq!(got, want);
            assert_eq!(choices, want_choices);
            assert_eq!(seen, vec![(0, (n, 3)), (3, (n, 2))]);
        }
    }
}
