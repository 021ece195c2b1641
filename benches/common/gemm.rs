//! The same-shape GEMM references of the batched-kernel benches: faer GEMMs
//! of the shapes a workload multiplies, on all of rayon's threads, timed in
//! the same run as the workload so that the printed fraction compares like
//! with like.

use std::time::Instant;

use faer::{Accum, Mat, Par};

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
