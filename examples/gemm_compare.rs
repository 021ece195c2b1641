//! The `gemm` crate (which `cpwl` calls) against faer's `matmul` (which it
//! called before; a dev-dependency now) on the shapes the CPU backend runs:
//! W5's forward chunks (256 points through 784-200-200-200-10), its
//! reverse-mode Jacobian chunks (256 points x 10 outputs), and the LES Gram
//! products (`d x n` times its transpose). Both single-threaded, alternated
//! in one process, so machine load hits both alike; prints nanoseconds per
//! product and the ratio. For instruction counts run it under
//! `valgrind --tool=callgrind` with a small repetition count.
//!
//! ```text
//! cargo run --release --example gemm_compare -- 200
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

use faer::{Accum, MatMut, MatRef, Par};

/// `(rows, inner, cols, what)`: `out (rows x cols) = lhs (rows x inner) rhs`.
const SHAPES: [(usize, usize, usize, &str); 8] = [
    (256, 784, 200, "w5 forward layer 1"),
    (256, 200, 200, "w5 forward layer 2"),
    (256, 200, 10, "w5 forward output"),
    (2560, 10, 200, "w5 jacobian output"),
    (2560, 200, 200, "w5 jacobian hidden"),
    (2560, 200, 784, "w5 jacobian input"),
    (16, 4000, 16, "les gram d=16"),
    (64, 4000, 64, "les gram d=64"),
];

fn main() {
    let reps: u32 = std::env::args().nth(1).map_or(100, |a| a.parse().expect("a repetition count"));
    println!("{:<22} {:>12} {:>12} {:>8}", "shape", "gemm ns", "faer ns", "ratio");
    for (r, k, c, what) in SHAPES {
        let lhs: Vec<f64> = (0..r * k).map(|i| ((i * 7) % 11) as f64 - 5.0).collect();
        // The weights row-major `c x k` (PyTorch-style), used transposed, as `matmul_nt` does.
        let rhs: Vec<f64> = (0..k * c).map(|i| ((i * 5) % 13) as f64 * 0.25).collect();
        let mut out_gemm = vec![0.0; r * c];
        let mut out_faer = vec![0.0; r * c];
        let (mut t_gemm, mut t_faer) = (Duration::ZERO, Duration::ZERO);
        for _ in 0..reps {
            let start = Instant::now();
            with_gemm(&mut out_gemm, &lhs, &rhs, r, k, c);
            t_gemm += start.elapsed();
            let start = Instant::now();
            with_faer(&mut out_faer, &lhs, &rhs, r, k, c);
            t_faer += start.elapsed();
        }
        assert_eq!(out_gemm, out_faer, "{what}: small integers and quarters sum exactly");
        let ns = |t: Duration| t.as_nanos() as f64 / f64::from(reps);
        println!(
            "{what:<22} {:>12.0} {:>12.0} {:>8.3}",
            ns(t_gemm),
            ns(t_faer),
            ns(t_gemm) / ns(t_faer)
        );
    }
}

/// `out = lhs rhs^T` through `gemm::gemm`, as `cpwl`'s `linalg` calls it.
fn with_gemm(out: &mut [f64], lhs: &[f64], rhs: &[f64], r: usize, k: usize, c: usize) {
    // SAFETY: row-major buffers of exactly `r x k`, `c x k` (read as `k x c`
    // with swapped strides) and `r x c`.
    unsafe {
        gemm::gemm(
            r,
            c,
            k,
            out.as_mut_ptr(),
            1,
            c as isize,
            false,
            lhs.as_ptr(),
            1,
            k as isize,
            rhs.as_ptr(),
            k as isize,
            1,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
    black_box(out);
}

/// `out = lhs rhs^T` through faer's `matmul`, as `cpwl` called it before.
fn with_faer(out: &mut [f64], lhs: &[f64], rhs: &[f64], r: usize, k: usize, c: usize) {
    let lhs = MatRef::from_row_major_slice(lhs, r, k);
    let rhs = MatRef::from_row_major_slice(rhs, c, k).transpose();
    let dst = MatMut::from_row_major_slice_mut(out, r, c);
    faer::linalg::matmul::matmul(dst, Accum::Replace, lhs, rhs, 1.0, Par::Seq);
    black_box(out);
}
