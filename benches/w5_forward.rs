//! W5: batched forward + patterns + Jacobians of 4096 points through the
//! 784-200-200-200-10 ReLU MLP, beside faer GEMMs of the same shapes
//! (`gemm_reference`: the forward GEMMs, and the forward plus reverse-mode
//! GEMMs for the Jacobians). Throughput is reported in FLOP/s (criterion's
//! "elem/s" here counts floating-point operations of the useful GEMM work).
//! After the criterion runs, the bench prints each workload's fraction of
//! the same-shape GEMM rate, timed in the same run, and the forward pass's
//! fraction of the chunked GEMM chain ([`ChunkedChain`]: the same chunks of
//! the backend's default size, one task each, single-threaded GEMMs and nothing else), the
//! ceiling of the backend's task-parallel design on the machine. Last, the
//! forward pass at other chunk sizes against the default, alternated in
//! this process (median time ratios; below 1 is faster).

mod common;

use common::gemm::{alternated_ratios, best_seconds, print_fraction, ChunkedChain, GemmSet};
use cpwl::backend::{Backend, CpuBackend, Keep, Precision};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const WIDTHS: [usize; 5] = [784, 200, 200, 200, 10];
const BATCH: usize = 4096;
/// Chunk sizes timed against the CPU backend's default
/// ([`CpuBackend::DEFAULT_CHUNK`]) at the end.
const OTHER_CHUNKS: [usize; 4] = [128, 192, 512, 1024];
/// Alternated rounds of that comparison.
const CHUNK_ROUNDS: usize = 30;

/// The GEMM shapes `(rows, inner, cols)` of the forward pass, then (with
/// Jacobians) of the reverse pass: every dense layer but the last pulls
/// back the `outputs` covectors of every point (the last layer's pull-back
/// of the identity is its weight, no GEMM).
fn shapes(with_jacobians: bool) -> Vec<(usize, usize, usize)> {
    let mut shapes: Vec<_> = WIDTHS.windows(2).map(|w| (BATCH, w[0], w[1])).collect();
    if with_jacobians {
        let out = WIDTHS[WIDTHS.len() - 1];
        let hidden = &WIDTHS[..WIDTHS.len() - 1];
        shapes.extend(hidden.windows(2).rev().map(|w| (BATCH * out, w[1], w[0])));
    }
    shapes
}

fn bench(c: &mut Criterion) {
    let net = common::he_mlp(&WIDTHS, 0);
    let x = common::uniform_points(BATCH, WIDTHS[0], 1);
    let cpu = CpuBackend::default();
    let cpu32 = cpu.with_precision(Precision::F32);
    let mut gemm_fwd = GemmSet::<f64>::new(&shapes(false), |v| v);
    let mut gemm_fwd32 = GemmSet::<f32>::new(&shapes(false), |v| v as f32);
    let mut gemm_jac = GemmSet::<f64>::new(&shapes(true), |v| v);
    // The chain cuts the batch as the timed backend does.
    let mut chain = ChunkedChain::new(BATCH, &WIDTHS, cpu.chunk());
    let mut group = c.benchmark_group("w5");
    group.sample_size(10);

    group.throughput(Throughput::Elements(gemm_fwd.flops()));
    group.bench_function("forward_patterns", |b| {
        b.iter(|| cpu.forward(&net, x.view(), Keep::Patterns).unwrap())
    });
    group.bench_function("gemm_reference_forward", |b| b.iter(|| gemm_fwd.run()));
    group.bench_function("gemm_chunked_chain_forward", |b| b.iter(|| chain.run()));
    group.bench_function("forward_patterns_f32", |b| {
        b.iter(|| cpu32.forward(&net, x.view(), Keep::Patterns).unwrap())
    });
    group.bench_function("gemm_reference_forward_f32", |b| b.iter(|| gemm_fwd32.run()));

    group.throughput(Throughput::Elements(gemm_jac.flops()));
    group.bench_function("forward_patterns_jacobians", |b| {
        b.iter(|| cpu.jacobians(&net, x.view()).unwrap())
    });
    group.bench_function("gemm_reference_jacobians", |b| b.iter(|| gemm_jac.run()));
    group.finish();

    let reps = 5;
    let fwd = best_seconds(reps, || {
        drop(cpu.forward(&net, x.view(), Keep::Patterns).unwrap())
    });
    print_fraction(
        "w5 forward_patterns f64",
        gemm_fwd.flops(),
        fwd,
        best_seconds(reps, || gemm_fwd.run()),
    );
    print_fraction(
        "w5 forward_patterns f64 against the chunked GEMM chain",
        chain.flops(),
        fwd,
        best_seconds(reps, || chain.run()),
    );
    let fwd32 = best_seconds(reps, || {
        drop(cpu32.forward(&net, x.view(), Keep::Patterns).unwrap())
    });
    let gemm32 = best_seconds(reps, || gemm_fwd32.run());
    print_fraction("w5 forward_patterns f32", gemm_fwd32.flops(), fwd32, gemm32);
    let jac = best_seconds(reps, || drop(cpu.jacobians(&net, x.view()).unwrap()));
    print_fraction(
        "w5 forward_patterns_jacobians f64",
        gemm_jac.flops(),
        jac,
        best_seconds(reps, || gemm_jac.run()),
    );
    chunk_ratios(&net, x.view(), cpu.chunk());
}

/// Prints the forward pass's time at each of [`OTHER_CHUNKS`] (but `base`)
/// over its time at `base`, alternated in one process.
fn chunk_ratios(net: &cpwl::Network, x: ndarray::ArrayView2<f64>, base: usize) {
    let run = |chunk: usize| {
        let cpu = CpuBackend::default().with_chunk(chunk);
        move || drop(cpu.forward(net, x, Keep::Patterns).unwrap())
    };
    let others: Vec<usize> = OTHER_CHUNKS.into_iter().filter(|&c| c != base).collect();
    let mut runs: Vec<_> = others.iter().map(|&c| run(c)).collect();
    let mut variants: Vec<&mut dyn FnMut()> = runs.iter_mut().map(|r| r as &mut dyn FnMut()).collect();
    let ratios = alternated_ratios(CHUNK_ROUNDS, run(base), &mut variants);
    for (chunk, ratio) in others.iter().zip(ratios) {
        println!("w5 forward_patterns f64 chunk {chunk} / chunk {base}: {ratio:.3} (median of {CHUNK_ROUNDS} alternated runs)");
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
