//! Which route `scales::les_with` takes on a backend: through
//! `Backend::les_grams` (latents in, `d x d` Gram matrices out) when the
//! backend prefers it, through `Backend::jacobians` otherwise, with the same
//! values. The shared counting wrapper (`common::Counted`) wraps the CPU
//! backend here, and the CUDA backend when a GPU answers (skipped, with a
//! message, otherwise).

mod common;

use std::sync::Arc;

use common::{Counted, Kernel, SplitMix};
use cpwl::backend::{Backend, CpuBackend};
use cpwl::run::RunOptions;
use cpwl::scales::{les_with, LatentStatus, OutputShape, ScoreOptions};
use cpwl::Network;
use ndarray::{Array1, Array2};

/// SplitMix64 uniforms in `[-1, 1)`.
fn uniforms(seed: u64, r: usize, c: usize) -> Array2<f64> {
    SplitMix(seed).matrix(r, c)
}

/// The les_grams, Jacobian and forward calls a counted backend saw.
fn calls(backend: &Counted) -> [usize; 3] {
    [Kernel::LesGrams, Kernel::Jacobians, Kernel::Forward].map(|k| backend.calls(k))
}

/// A ReLU decoder `d -> 24 -> 24 -> L V` (a small W4): every latent near
/// the origin keeps its logits in plain `f64` range and a regular Gram
/// matrix, so the les_grams route answers all of them.
fn decoder(d: usize, seq_len: usize, vocab: usize) -> (Network, OutputShape) {
    let widths = [d, 24, 24, seq_len * vocab];
    let mut b = Network::builder(d);
    for (k, pair) in widths.windows(2).enumerate() {
        let w = uniforms(k as u64 + 1, pair[1], pair[0]) * (2.0 / (pair[0] as f64).sqrt());
        b = b.dense(w, Array1::from_elem(pair[1], 0.05)).unwrap();
        if k + 2 < widths.len() {
            b = b.relu();
        }
    }
    (b.build().unwrap(), OutputShape::Categorical { seq_len, vocab })
}

fn options(backend: Arc<Counted>, chunk: usize) -> ScoreOptions {
    ScoreOptions {
        run: RunOptions {
            backend: Some(backend),
            threads: Some(1),
            chunk: Some(chunk),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// Asserts equal statuses and values within `rtol` relative.
fn assert_same(a: &cpwl::scales::ScoreReport<Array1<f64>>, b: &cpwl::scales::ScoreReport<Array1<f64>>) {
    assert_eq!(a.status(), b.status());
    for (i, (x, y)) in a.values().iter().zip(b.values()).enumerate() {
        assert!(
            (x - y).abs() <= 1e-10 * y.abs().max(1.0),
            "latent {i}: {x} vs {y}"
        );
    }
}

#[test]
fn les_goes_through_les_grams_when_the_backend_prefers_it() {
    let (dec, shape) = decoder(3, 4, 5);
    let z = uniforms(9, 10, 3) * 0.5;
    let chunk = 4;

    let grams = Arc::new(Counted::cpu().preferring_grams(true));
    let via_grams = les_with(&dec, z.view(), shape, &options(grams.clone(), chunk)).unwrap();
    assert!(via_grams.status().iter().all(|s| *s == LatentStatus::Regular));
    // One les_grams call per wave (4 + 4 + 2 latents), no Jacobians.
    assert_eq!(calls(&grams), [3, 0, 0]);

    let jac = Arc::new(Counted::cpu().preferring_grams(false));
    let via_jacobians = les_with(&dec, z.view(), shape, &options(jac.clone(), chunk)).unwrap();
    assert_eq!(calls(&jac), [0, 3, 0]);
    assert_same(&via_grams, &via_jacobians);

    // And both equal the default route (no backend given: the CPU's fused
    // forward-mode Jacobians).
    let default = les_with(&dec, z.view(), shape, &ScoreOptions::default()).unwrap();
    assert_same(&via_grams, &default);
}

#[test]
fn the_cpu_backend_keeps_the_jacobian_route() {
    let (dec, _) = decoder(3, 4, 5);
    assert!(!CpuBackend::default().prefers_les_grams(&dec));
}

/// `CudaBackend` prefers les_grams for every decoder it runs on the device:
/// a dense ReLU decoder (the W4 kind); a convolution sends it to the CPU.
#[cfg(feature = "cuda")]
#[test]
fn cuda_runs_dense_decoders_on_the_device() {
    use cpwl::backend::CudaBackend;
    let (dec, _) = decoder(3, 4, 5);
    assert!(CudaBackend::runs_on_device(&dec));
    let conv = Network::builder_image(1, 3, 3)
        .conv2d(cpwl::network::Conv2d::new(
            ndarray::Array4::ones((1, 1, 2, 2)),
            None,
        ))
        .unwrap()
        .flatten()
        .build()
        .unwrap();
    assert!(!CudaBackend::runs_on_device(&conv));
}

/// `les_with` on the CUDA backend takes les_grams (asked of the backend
/// itself) and gives the CPU's values.
#[cfg(feature = "cuda")]
#[test]
fn cuda_les_goes_through_les_grams() {
    let gpu = match cpwl::backend::CudaBackend::new(0) {
        Ok(gpu) => gpu,
        Err(e) => {
            eprintln!("skipping: CUDA LES route ({e})");
            return;
        }
    };
    let (dec, shape) = decoder(3, 4, 5);
    let z = uniforms(9, 10, 3) * 0.5;
    let counted = Arc::new(Counted::wrapping(Box::new(gpu)));
    let on_gpu = les_with(&dec, z.view(), shape, &options(counted.clone(), 4)).unwrap();
    assert_eq!(calls(&counted), [3, 0, 0]);
    let cpu = les_with(&dec, z.view(), shape, &ScoreOptions::default()).unwrap();
    assert_same(&on_gpu, &cpu);
}
