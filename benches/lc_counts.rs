//! Local-complexity counting through the backend (the W3 kernel, scaled
//! down to fit a criterion sample): 500 points, P = 25, the W1 network
//! (784-200-200-200-10 ReLU), radius 0.05, in f64 and f32. The bench times
//! `Backend::sign_changes` (the folded neighbourhood pass, linear while the
//! neighbourhood is, with the sign comparison fused in) beside faer GEMMs of
//! the same shapes (`gemm_reference`: the first layer at the points and
//! directions, every later layer at all `2P` vertices), and prints the fraction of the GEMM
//! rate each precision reaches, timed in the same run. Both precisions hold
//! a neighbourhood as its centre and `P` directions while no unit changes
//! sign over it (`P + 1` GEMM rows per point, not `2P`), so the "fraction"
//! is the folded pass's work over the route's own time and can pass 1 by up
//! to about `2P / (P + 1)`.

mod common;

use common::gemm::{best_seconds, print_fraction, GemmSet};
use cpwl::backend::{Backend, CpuBackend, Neighbourhood, Precision};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const WIDTHS: [usize; 5] = [784, 200, 200, 200, 10];
const POINTS: usize = 500;
const P: usize = 25;

/// The GEMM shapes `(rows, inner, cols)` of the folded LC pass.
fn shapes() -> Vec<(usize, usize, usize)> {
    let mut shapes = vec![(POINTS, WIDTHS[0], WIDTHS[1]), (P, WIDTHS[0], WIDTHS[1])];
    shapes.extend(WIDTHS[1..].windows(2).map(|w| (POINTS * 2 * P, w[0], w[1])));
    shapes
}

fn bench(c: &mut Criterion) {
    let net = common::he_mlp(&WIDTHS, 0);
    let x = common::uniform_points(POINTS, WIDTHS[0], 1);
    let dirs = common::unit_directions(P, WIDTHS[0], 2);
    let hood = Neighbourhood {
        directions: dirs.view(),
        radius: 0.05,
        count_output: true,
    };
    let cpu = CpuBackend::default();
    let cpu32 = cpu.with_precision(Precision::F32);
    let mut gemm64 = GemmSet::<f64>::new(&shapes(), |v| v);
    let mut gemm32 = GemmSet::<f32>::new(&shapes(), |v| v as f32);
    let mut group = c.benchmark_group("lc");
    group.sample_size(10);
    group.throughput(Throughput::Elements(gemm64.flops()));
    group.bench_function("sign_changes_500x25", |b| {
        b.iter(|| cpu.sign_changes(&net, x.view(), hood).unwrap())
    });
    group.bench_function("gemm_reference", |b| b.iter(|| gemm64.run()));
    group.bench_function("sign_changes_500x25_f32", |b| {
        b.iter(|| cpu32.sign_changes(&net, x.view(), hood).unwrap())
    });
    group.bench_function("gemm_reference_f32", |b| b.iter(|| gemm32.run()));
    group.finish();

    let reps = 5;
    let t64 = best_seconds(reps, || drop(cpu.sign_changes(&net, x.view(), hood).unwrap()));
    print_fraction(
        "w3 sign_changes f64",
        gemm64.flops(),
        t64,
        best_seconds(reps, || gemm64.run()),
    );
    let t32 = best_seconds(reps, || drop(cpu32.sign_changes(&net, x.view(), hood).unwrap()));
    print_fraction(
        "w3 sign_changes f32",
        gemm32.flops(),
        t32,
        best_seconds(reps, || gemm32.run()),
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
