//! Per-thread buffers for the batched passes through plain MLPs (dense layers
//! and two-piece units): the rows live in two buffers that each GEMM writes
//! in turn, kept by the worker thread across tasks, so that a batch of any
//! size allocates nothing per task beyond its results (fresh multi-megabyte
//! arrays per task cost a page fault per 4 KiB when the allocator hands them
//! back to the kernel between tasks).

use std::borrow::Cow;
use std::cell::RefCell;
use std::thread::LocalKey;

use ndarray::{ArrayView1, ArrayView2, ArrayViewMut2, CowArray, Ix2};

use super::real::{gemm_into, Real};
use crate::kernels::fused::Marks;
use crate::network::{AffineStep, Nonlinearity, Step, TwoPiece};

/// One thread's buffers: the rows before and after the current step,
/// pattern choices nobody keeps, and the fused local-complexity step's
/// lanes; for the linear neighbourhood pass (`super::hood`) also the
/// vertex lane's rows before and after its step, which points of the
/// block each lane holds and the linear lane's last counts.
pub(super) struct Scratch<T> {
    pub(super) rows: Vec<T>,
    pub(super) next: Vec<T>,
    choices: Vec<u8>,
    pub(super) marks: Marks<T>,
    /// The vertex lane's rows (the expanded points' `2P` vertex rows each)
    /// before its GEMM.
    pub(super) side: Vec<T>,
    /// The vertex lane's rows after its GEMM.
    pub(super) side_next: Vec<T>,
    /// The block's points (indices into it) still in the linear lane.
    pub(super) linear: Vec<usize>,
    /// The block's points (indices into it) in the vertex lane.
    pub(super) expanded: Vec<usize>,
    /// The linear lane's last counts, one per point of `linear`.
    pub(super) changes: Vec<u32>,
}

impl<T> Default for Scratch<T> {
    fn default() -> Self {
        Scratch {
            rows: Vec::new(),
            next: Vec::new(),
            choices: Vec::new(),
            marks: Marks::default(),
            side: Vec::new(),
            side_next: Vec::new(),
            linear: Vec::new(),
            expanded: Vec::new(),
            changes: Vec::new(),
        }
    }
}

thread_local! {
    static SCRATCH_F64: RefCell<Scratch<f64>> = RefCell::new(Scratch::default());
    static SCRATCH_F32: RefCell<Scratch<f32>> = RefCell::new(Scratch::default());
}

/// A [`Real`] with a per-thread [`Scratch`] of its own.
pub(super) trait Buffers: Real {
    /// This thread's buffers of this type.
    fn scratch() -> &'static LocalKey<RefCell<Scratch<Self>>>;
}

impl Buffers for f64 {
    fn scratch() -> &'static LocalKey<RefCell<Scratch<Self>>> {
        &SCRATCH_F64
    }
}

impl Buffers for f32 {
    fn scratch() -> &'static LocalKey<RefCell<Scratch<Self>>> {
        &SCRATCH_F32
    }
}

/// A plain MLP (dense layers and two-piece units only) with its weights in `T`: borrowed from the
/// network for `f64`, rounded once per backend call for `f32` and shared by
/// every task.
pub(super) struct MlpProgram<'a, T: Real> {
    pub(super) layers: Vec<MlpLayer<'a, T>>,
}

/// A step of an [`MlpProgram`].
pub(super) enum MlpLayer<'a, T: Real> {
    /// A dense layer `W x + b`, `W` stored out x in, `b` contiguous
    /// ([`Real::cast1`]).
    Dense {
        w: CowArray<'a, T, Ix2>,
        b: Cow<'a, [T]>,
    },
    /// Two-piece units, with their slopes `[negative, positive]` in `T`.
    TwoPiece { units: &'a TwoPiece, slopes: [T; 2] },
}

impl<'a, T: Real> MlpProgram<'a, T> {
    /// `steps` in `T`, or `None` when they are not a plain MLP.
    pub(super) fn new(steps: &'a [Step]) -> Option<Self> {
        let layers = steps
            .iter()
            .map(|step| match step {
                Step::Affine(AffineStep::Dense(d)) => Some(MlpLayer::Dense {
                    w: T::cast2(d.w.view()),
                    b: T::cast1(d.b.view()),
                }),
                Step::Nonlinear(Nonlinearity::TwoPiece(t)) => Some(MlpLayer::TwoPiece {
                    units: t,
                    slopes: t.slopes().map(T::from_f64),
                }),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()?;
        Some(MlpProgram { layers })
    }

    /// The widest row a pass through the program holds: `input` (the rows it
    /// starts from) or some dense layer's input or output width. Sizes the
    /// blocks that keep a pass's buffers in cache.
    pub(super) fn widest(&self, input: usize) -> usize {
        self.layers
            .iter()
            .filter_map(|l| match l {
                MlpLayer::Dense { w, .. } => Some(w.nrows().max(w.ncols())),
                MlpLayer::TwoPiece { .. } => None,
            })
            .fold(input, usize::max)
    }
}

/// A buffer of `len` values, grown (never shrunk) as needed.
pub(super) fn sized<T: Copy + Default>(buf: &mut Vec<T>, len: usize) -> &mut [T] {
    if buf.len() < len {
        buf.resize(len, T::default());
    }
    &mut buf[..len]
}

/// What [`mlp_pass`] shows of each two-piece layer's pre-activations.
pub(super) type Visit<'v, T> = &'v mut dyn FnMut(&TwoPiece, ArrayView2<T>);

/// Runs `prog` on the points `x` (one per row) in this thread's buffers.
/// `visit`, when given, sees each two-piece layer's pre-activations before
/// the units act on them; the units' choices go to `choices` (points x all
/// units) when given. Returns what `finish` makes of the output rows.
///
/// Without `visit`, a dense layer's bias is added in the same walk as the
/// two-piece units that follow it ([`Real::bias_two_piece_record`]).
///
/// In `f64` the first dense layer multiplies `x` where it lies: copying the
/// points into the buffer first cost about a tenth of W5's forward pass (a
/// pass over 1.6 MB per 256 points that the GEMM's packing reads anyway).
pub(super) fn mlp_pass<T: Buffers, R>(
    prog: &MlpProgram<'_, T>,
    x: ArrayView2<f64>,
    mut choices: Option<ArrayViewMut2<u8>>,
    mut visit: Option<Visit<'_, T>>,
    finish: impl FnOnce(ArrayView2<T>) -> R,
) -> R {
    let (rows, cols) = x.dim();
    let direct = match prog.layers.first() {
        Some(MlpLayer::Dense { .. }) => T::borrow_rows(x),
        _ => None,
    };
    T::scratch().with(|cell| {
        let scratch = &mut *cell.borrow_mut();
        let mut width = cols;
        if direct.is_none() {
            fill_rows(view_mut(sized(&mut scratch.rows, rows * width), rows, width), x);
        }
        // A bias left for the two-piece layer that follows to add.
        let mut pending: Option<&[T]> = None;
        for (i, layer) in prog.layers.iter().enumerate() {
            match layer {
                MlpLayer::Dense { w, b } => {
                    let input = match (i, &direct) {
                        (0, Some(x)) => x.view(),
                        _ => view(&scratch.rows, rows, width),
                    };
                    width = w.nrows();
                    let out = sized(&mut scratch.next, rows * width);
                    gemm_into(input, w.t(), out);
                    let fuse =
                        visit.is_none() && matches!(prog.layers.get(i + 1), Some(MlpLayer::TwoPiece { .. }));
                    if fuse {
                        pending = Some(b);
                    } else {
                        view_mut(out, rows, width).zip_mut_with(&ArrayView1::from(&b[..]), |v, &b| *v += b);
                    }
                    std::mem::swap(&mut scratch.rows, &mut scratch.next);
                }
                MlpLayer::TwoPiece { units: t, slopes } => {
                    let mut z = view_mut(&mut scratch.rows[..rows * width], rows, width);
                    if let Some(visit) = visit.as_mut() {
                        visit(t, z.view());
                    }
                    let units = t.offset..t.offset + t.len;
                    let picked = match choices.as_mut() {
                        Some(c) => c.slice_mut(ndarray::s![.., units]),
                        None => view_mut(sized(&mut scratch.choices, rows * t.len), rows, t.len),
                    };
                    T::bias_two_piece_record(z.view_mut(), pending.take(), picked, *slopes);
                }
            }
        }
        finish(view(&scratch.rows[..rows * width], rows, width))
    })
}

/// Copies the points `x` into the pass's first buffer, rounded to `T`.
fn fill_rows<T: Real>(mut rows: ArrayViewMut2<T>, x: ArrayView2<f64>) {
    rows.zip_mut_with(&x, |r, &v| *r = T::from_f64(v));
}

pub(super) fn view<T>(buf: &[T], rows: usize, cols: usize) -> ArrayView2<'_, T> {
    ArrayView2::from_shape((rows, cols), &buf[..rows * cols]).expect("buffers hold rows x cols values")
}

pub(super) fn view_mut<T>(buf: &mut [T], rows: usize, cols: usize) -> ArrayViewMut2<'_, T> {
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
    fn the_widest_row_counts_every_dense_width_and_the_input() {
        let net = net();
        let prog = MlpProgram::<f64>::new(net.program().steps()).expect("a plain MLP");
        // Widths 2 -> 3 -> 2 -> 1.
        assert_eq!(prog.widest(2), 3);
        assert_eq!(prog.widest(1), 3);
        assert_eq!(prog.widest(5), 5);
        let rest = MlpProgram::<f64>::new(&net.program().steps()[1..]).expect("a plain MLP");
        assert_eq!(rest.widest(0), 3);
    }

    #[test]
    fn reused_buffers_match_the_generic_pass_at_any_batch_size() {
        let net = net();
        let steps = net.program().steps();
        let prog = MlpProgram::<f64>::new(steps).expect("a plain MLP");
        // A large batch, then a small one: the second runs in grown buffers
        // still holding the first one's values. With a visitor the bias is
        // added on its own; without, in the two-piece walk: the same bits.
        for n in [40, 3, 17] {
            let x = Array2::from_shape_fn((n, 2), |(i, j)| {
                (i as f64 * 0.37 - 2.0) * if j == 0 { 1.0 } else { -0.6 }
            });
            let (want, want_choices) = reference(&net, &x);
            for visited in [true, false] {
                let mut choices = Array2::zeros((n, net.unit_count()));
                let mut seen = Vec::new();
                let mut record = |t: &TwoPiece, z: ArrayView2<f64>| seen.push((t.offset, z.dim()));
                let visit: Option<Visit<'_, f64>> = visited.then_some(&mut record);
                let got = mlp_pass(&prog, x.view(), Some(choices.view_mut()), visit, |out| {
                    out.to_owned()
                });
                assert_eq!(got, want);
                assert_eq!(choices, want_choices);
                let expected = if visited {
                    vec![(0, (n, 3)), (3, (n, 2))]
                } else {
                    vec![]
                };
                assert_eq!(seen, expected);
            }
        }
    }
}
