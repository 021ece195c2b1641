//! Which route `scales::les_with` takes on a backend: through
//! `Backend::les_grams` (latents in, `d x d` Gram matrices out) when the
//! backend prefers it, through `Backend::jacobians` otherwise, with the same
//! values. A wrapper counts the calls of each kernel; it wraps the CPU
//! backend here, and the CUDA backend when a GPU answers (skipped, with a
//! message, otherwise).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use cpwl::backend::{Backend, CpuBackend, ForwardBatch, JacobianBatch, Keep, LesGramBatch, Neighbourhood};
use cpwl::run::RunOptions;
use cpwl::scales::{les_with, LatentStatus, OutputShape, ScoreOptions};
use cpwl::{Network, Result};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};

/// Another backend's kernels, counted; `prefers` answers
/// `prefers_les_grams` (`None`: ask the inner backend).
struct Counted {
    inner: Box<dyn Backend>,
    prefers: Option<bool>,
    grams: AtomicUsize,
    jacobians: AtomicUsize,
    forwards: AtomicUsize,
}

impl Counted {
    fn new(inner: Box<dyn Backend>, prefers: Option<bool>) -> Arc<Counted> {
        Arc::new(Counted {
            inner,
            prefers,
            grams: AtomicUsize::new(0),
            jacobians: AtomicUsize::new(0),
            forwards: AtomicUsize::new(0),
        })
    }

    fn calls(&self) -> [usize; 3] {
        [&self.grams, &self.jacobians, &self.forwards].map(|c| c.load(Ordering::SeqCst))
    }
}

impl Backend for Counted {
    fn name(&self) -> &str {
        "counted"
    }
    fn forward(&self, net: &Network, x: ArrayView2<f64>, keep: Keep) -> Result<ForwardBatch> {
        self.forwards.fetch_add(1, Ordering::SeqCst);
        self.inner.forward(net, x, keep)
    }
    fn jacobians(&self, net: &Network, x: ArrayView2<f64>) -> Result<JacobianBatch> {
        self.jacobians.fetch_add(1, Ordering::SeqCst);
        self.inner.jacobians(net, x)
    }
    fn sign_changes(
        &self,
        net: &Network,
        points: ArrayView2<f64>,
        hood: Neighbourhood<'_>,
    ) -> Result<Array2<u32>> {
        self.inner.sign_changes(net, points, hood)
    }
    fn les_grams(
        &self,
        decoder: &Network,
        z: ArrayView2<f64>,
        seq_len: usize,
        vocab: usize,
    ) -> Result<LesGramBatch> {
        self.grams.fetch_add(1, Ordering::SeqCst);
        self.inner.les_grams(decoder, z, seq_len, vocab)
    }
    fn prefers_les_grams(&self, decoder: &Network) -> bool {
        self.prefers
            .unwrap_or_else(|| self.inner.prefers_les_grams(decoder))
    }
    fn affine_values(
        &self,
        a: ArrayView2<f64>,
        c: ArrayView1<f64>,
        points: ArrayView2<f64>,
    ) -> Result<Array2<f64>> {
        self.inner.affine_values(a, c, points)
    }
}

/// SplitMix64 uniforms in `[-1, 1)`.
fn uniforms(seed: u64, r: usize, c: usize) -> Array2<f64> {
    let mut s = seed;
    Array2::from_shape_simple_fn((r, c), || {
        s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    })
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

    let grams = Counted::new(Box::new(CpuBackend::serial()), Some(true));
    let via_grams = les_with(&dec, z.view(), shape, &options(grams.clone(), chunk)).unwrap();
    assert!(via_grams.status().iter().all(|s| *s == LatentStatus::Regular));
    // One les_grams call per wave (4 + 4 + 2 latents), no Jacobians.
    assert_eq!(grams.calls(), [3, 0, 0]);

    let jac = Counted::new(Box::new(CpuBackend::serial()), Some(false));
    let via_jacobians = les_with(&dec, z.view(), shape, &options(jac.clone(), chunk)).unwrap();
    assert_eq!(jac.calls(), [0, 3, 0]);
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
    let counted = Counted::new(Box::new(gpu), None);
    let on_gpu = les_with(&dec, z.view(), shape, &options(counted.clone(), 4)).unwrap();
    assert_eq!(counted.calls(), [3, 0, 0]);
    let cpu = les_with(&dec, z.view(), shape, &ScoreOptions::default()).unwrap();
    assert_same(&on_gpu, &cpu);
}
