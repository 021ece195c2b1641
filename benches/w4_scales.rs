//! W4: LES of latent points of the SMILES-sized decoder (56 -> 256 -> 256 ->
//! 120 x 35, ReLU, He init), 32 latents per iteration, beside faer GEMMs of
//! the two shapes that dominate it (the forward-mode Jacobian's last layer,
//! `57 x 256 x 4200`, and the Gram matrix, `56 x 4320 x 56`), run one per
//! thread as the scores are. Throughput in FLOP/s of that useful work
//! (criterion's "elem/s" counts floating-point operations).

mod common;

use cpwl::backend::{Backend, CpuBackend};
use cpwl::scales::{les, OutputShape};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use faer::{Accum, Mat, Par};
use rayon::prelude::*;

const D: usize = 56;
const HIDDEN: usize = 256;
const L: usize = 120;
const V: usize = 35;
const LATENTS: usize = 32;

/// Floating-point operations per latent: the forward-mode Jacobian (`d + 1`
/// rows through every layer) and the Gram matrix of the `L (V + 1)` rows.
fn flops_per_latent() -> usize {
    let layers = D * HIDDEN + HIDDEN * HIDDEN + HIDDEN * L * V;
    2 * (D + 1) * layers + 2 * L * (V + 1) * D * D
}

fn bench(c: &mut Criterion) {
    let net = common::he_mlp(&[D, HIDDEN, HIDDEN, L * V], 3);
    let mut rng = common::Rng::new(4);
    let z = ndarray::Array2::from_shape_simple_fn((LATENTS, D), || rng.normal());
    let shape = OutputShape::Categorical { seq_len: L, vocab: V };
    let mut group = c.benchmark_group("w4");
    group.sample_size(10);
    group.throughput(Throughput::Elements((LATENTS * flops_per_latent()) as u64));
    group.bench_function("les_32_latents", |b| {
        b.iter(|| les(&net, z.view(), shape).unwrap())
    });
    let cpu = CpuBackend::default();
    group.bench_function("jacobians_32_latents", |b| {
        b.iter(|| cpu.jacobians(&net, z.view()).unwrap())
    });

    // The same GEMM shapes, one latent per task on rayon's pool: the rate the
    // work could reach.
    let w = Mat::<f64>::from_fn(HIDDEN, L * V, |i, j| ((i * 7 + j * 3) % 11) as f64);
    let h = Mat::<f64>::from_fn(D + 1, HIDDEN, |i, j| ((i + 5 * j) % 13) as f64);
    let ct = Mat::<f64>::from_fn(D, L * (V + 1), |i, j| ((3 * i + j) % 7) as f64);
    group.bench_function("faer_gemm_same_shapes_32", |b| {
        b.iter(|| {
            (0..LATENTS).into_par_iter().for_each(|_| {
                let mut out = Mat::<f64>::zeros(D + 1, L * V);
                faer::linalg::matmul::matmul(
                    out.as_mut(),
                    Accum::Replace,
                    h.as_ref(),
                    w.as_ref(),
                    1.0,
                    Par::Seq,
                );
                let mut gram = Mat::<f64>::zeros(D, D);
                faer::linalg::matmul::matmul(
                    gram.as_mut(),
                    Accum::Replace,
                    ct.as_ref(),
                    ct.transpose(),
                    1.0,
                    Par::Seq,
                );
            })
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
