//! W5: batched forward + patterns + Jacobians of 4096 points through the
//! 784-200-200-200-10 ReLU MLP, beside a plain faer GEMM of the first layer's
//! shape (the machine's GEMM peak). Throughput is reported in FLOP/s
//! (criterion's "elem/s" here counts floating-point operations).

mod common;

use cpwl::backend::{Backend, CpuBackend, Keep};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use faer::{Accum, Mat, Par};

const WIDTHS: [usize; 5] = [784, 200, 200, 200, 10];
const BATCH: usize = 4096;

/// Multiply-adds of the useful work: the forward GEMMs and the reverse-mode
/// Jacobian GEMMs (outputs x width per point and layer).
fn flops(batch: usize, with_jacobians: bool) -> u64 {
    let fwd: usize = WIDTHS.windows(2).map(|w| w[0] * w[1]).sum();
    let out = WIDTHS[WIDTHS.len() - 1];
    let rev: usize = WIDTHS.windows(2).map(|w| out * w[0] * w[1]).sum();
    (2 * batch * (fwd + if with_jacobians { rev } else { 0 })) as u64
}

fn bench(c: &mut Criterion) {
    let net = common::he_mlp(&WIDTHS, 0);
    let x = common::uniform_points(BATCH, WIDTHS[0], 1);
    let cpu = CpuBackend::default();
    let mut group = c.benchmark_group("w5");
    group.sample_size(10);

    group.throughput(Throughput::Elements(flops(BATCH, false)));
    group.bench_function("forward_patterns", |b| {
        b.iter(|| cpu.forward(&net, x.view(), Keep::Patterns).unwrap())
    });

    group.throughput(Throughput::Elements(flops(BATCH, true)));
    group.bench_function("forward_patterns_jacobians", |b| {
        b.iter(|| cpu.jacobians(&net, x.view()).unwrap())
    });

    // The peak: one GEMM of the first layer's shape, on all of rayon's threads.
    let a = Mat::<f64>::from_fn(BATCH, 784, |i, j| ((i * 7 + j * 3) % 11) as f64);
    let w = Mat::<f64>::from_fn(784, 200, |i, j| ((i + 5 * j) % 13) as f64);
    let mut out = Mat::<f64>::zeros(BATCH, 200);
    let par = Par::rayon(rayon::current_num_threads());
    group.throughput(Throughput::Elements((2 * BATCH * 784 * 200) as u64));
    group.bench_function("faer_gemm_4096x784x200", |b| {
        b.iter(|| {
            faer::linalg::matmul::matmul(out.as_mut(), Accum::Replace, a.as_ref(), w.as_ref(), 1.0, par)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
