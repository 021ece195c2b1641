//! The same-shape GEMM references of the batched-kernel benches: faer GEMMs
//! of the shapes a workload multiplies, on all of rayon's threads, timed in
//! the same run as the workload so that the printed fraction compares like
//! with like.

use std::time::Instant;

use faer::{Accum, Mat, MatMut, MatRef, Par};
use rayon::prelude::*;

/// The GEMMs `(rows x inner) (inner x cols)` of a workload, with their
/// operands and outputs allocated once.
pub struct GemmSet<T: faer::traits::ComplexField> {
    ops: Vec<(Mat<T>, Mat<T>, Mat<T>)>,
    one: T,
}

impl<T: faer::traits::ComplexField + Copy> GemmSet<T> {
    /// Operands of the `(rows, inner, cols)` shapes, filled with small
    /// deterministic values converted by `cast`.
    pub fn new(shapes: &[(usize, usize, usize)], cast: fn(f64) -> T) -> Self {
        let ops = shapes
            .iter()
            .map(|&(r, k, c)| {
                let a = Mat::from_fn(r, k, |i, j| cast(((i * 7 + j * 3) % 11) as f64 * 0.1));
                let b = Mat::from_fn(k, c, |i, j| cast(((i + 5 * j) % 13) as f64 * 0.1));
                (a, b, Mat::zeros(r, c))
            })
            .collect();
        GemmSet { ops, one: cast(1.0) }
    }

    /// Floating-point operations of one [`GemmSet::run`].
    pub fn flops(&self) -> u64 {
        self.ops
            .iter()
            .map(|(a, b, _)| 2 * (a.nrows() * a.ncols() * b.ncols()) as u64)
            .sum()
    }

    /// Runs every GEMM once, each on all of rayon's threads.
    pub fn run(&mut self) {
        let par = Par::rayon(rayon::current_num_threads());
        for (a, b, out) in &mut self.ops {
            faer::linalg::matmul::matmul(
                out.as_mut(),
                Accum::Replace,
                a.as_ref(),
                b.as_ref(),
                self.one,
                par,
            );
        }
    }
}

/// The forward GEMMs of a layer chain the way the CPU backend runs them:
/// the batch cut into chunks of `chunk` rows, each chunk one rayon task that
/// runs single-threaded GEMMs layer after layer on row-major buffers (the
/// weights `out x in`, multiplied transposed). Nothing else runs, so its
/// rate is the ceiling of the backend's task-parallel design on this
/// machine: what each thread's own GEMMs reach while the other threads run
/// theirs.
pub struct ChunkedChain {
    x: Vec<f64>,
    widths: Vec<usize>,
    weights: Vec<Vec<f64>>,
    chunk: usize,
    /// Per chunk, one output buffer per layer.
    outs: Vec<Vec<Vec<f64>>>,
}

impl ChunkedChain {
    /// `rows` points through layers of `widths` (input first), in chunks.
    pub fn new(rows: usize, widths: &[usize], chunk: usize) -> Self {
        let fill = |n: usize, seed: usize| -> Vec<f64> {
            (0..n).map(|i| ((i * 7 + seed) % 11) as f64 * 0.1 - 0.5).collect()
        };
        let weights = widths
            .windows(2)
            .enumerate()
            .map(|(l, w)| fill(w[0] * w[1], l))
            .collect();
        let outs = (0..rows.div_ceil(chunk))
            .map(|c| {
                let r = chunk.min(rows - c * chunk);
                widths[1..].iter().map(|&w| vec![0.0; r * w]).collect()
            })
            .collect();
        ChunkedChain {
            x: fill(rows * widths[0], 99),
            widths: widths.to_vec(),
            weights,
            chunk,
            outs,
        }
    }

    /// Floating-point operations of one [`ChunkedChain::run`].
    pub fn flops(&self) -> u64 {
        let rows = self.x.len() / self.widths[0];
        self.widths
            .windows(2)
            .map(|w| 2 * (rows * w[0] * w[1]) as u64)
            .sum()
    }

    /// Runs every chunk's chain once, the chunks in parallel on rayon's pool.
    pub fn run(&mut self) {
        let (x, widths, weights, chunk) = (&self.x, &self.widths, &self.weights, self.chunk);
        self.outs.par_iter_mut().enumerate().for_each(|(c, outs)| {
            let rows = outs[0].len() / widths[1];
            let start = c * chunk * widths[0];
            let mut input = &x[start..start + rows * widths[0]];
            for (l, out) in outs.iter_mut().enumerate() {
                let (k, n) = (widths[l], widths[l + 1]);
                let lhs = MatRef::from_row_major_slice(input, rows, k);
                let rhs = MatRef::from_row_major_slice(&weights[l], n, k).transpose();
                let dst = MatMut::from_row_major_slice_mut(out, rows, n);
                faer::linalg::matmul::matmul(dst, Accum::Replace, lhs, rhs, 1.0, Par::Seq);
                input = out;
            }
        });
    }
}

/// The best wall time in seconds of `reps` runs of `f`, after one warm-up run.
pub fn best_seconds(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    (0..reps.max(1))
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

/// Runs `base` and each of `variants` in turn, `rounds` times (after one
/// warm-up round), and returns for each variant the median over rounds of
/// its time divided by `base`'s time in the same round: alternated runs
/// share whatever else the machine is doing, so their ratios hold where
/// single times do not. Every other round runs in the reverse order
/// ([`round_order`]), so that no one always runs first (on a cold cache, or
/// right after the same neighbour).
pub fn alternated_ratios(
    rounds: usize,
    mut base: impl FnMut(),
    variants: &mut [&mut dyn FnMut()],
) -> Vec<f64> {
    let time = |f: &mut dyn FnMut()| {
        let start = Instant::now();
        f();
        start.elapsed().as_secs_f64()
    };
    let mut ratios = vec![Vec::with_capacity(rounds); variants.len()];
    let mut times = vec![0.0; variants.len()];
    for round in 0..=rounds.max(1) {
        let mut b = 0.0;
        for slot in round_order(round, variants.len()) {
            match slot {
                None => b = time(&mut base),
                Some(v) => times[v] = time(&mut *variants[v]),
            }
        }
        if round > 0 {
            ratios.iter_mut().zip(&times).for_each(|(r, &t)| r.push(t / b));
        }
    }
    ratios
        .into_iter()
        .map(|mut r| {
            r.sort_by(f64::total_cmp);
            r[r.len() / 2]
        })
        .collect()
}

/// The order of one round of [`alternated_ratios`]: the base (`None`) then
/// the `variants` in even rounds, the reverse in odd ones.
pub fn round_order(round: usize, variants: usize) -> Vec<Option<usize>> {
    let mut order: Vec<Option<usize>> = std::iter::once(None).chain((0..variants).map(Some)).collect();
    if round % 2 == 1 {
        order.reverse();
    }
    order
}

/// Prints a workload's time beside its same-shape GEMM reference: the
/// fraction of the GEMM rate it reaches on its useful work (`flops`).
pub fn print_fraction(name: &str, flops: u64, workload_s: f64, gemm_s: f64) {
    let gflops = |s: f64| flops as f64 / s / 1e9;
    println!(
        "{name}: {workload_s:.4} s ({:.1} GFLOP/s); same-shape faer GEMM {gemm_s:.4} s ({:.1} GFLOP/s); fraction of the GEMM rate {:.2}",
        gflops(workload_s),
        gflops(gemm_s),
        gemm_s / workload_s
    );
}
