//! Properties of the scores of whole decoders: the polarity of a linear
//! decoder does not depend on the latent, and LES computed through the
//! default route (Jacobians made where they are used) equals LES through an
//! explicit backend's stored Jacobians.

use std::sync::Arc;

use cpwl::backend::CpuBackend;
use cpwl::run::RunOptions;
use cpwl::scales::{les, polarity, scores, LatentStatus, OutputShape, ScoreKind, ScoreOptions};
use cpwl::Network;
use ndarray::{Array1, Array2};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn uniform(rng: &mut StdRng, rows: usize, cols: usize) -> Array2<f64> {
    Array2::from_shape_simple_fn((rows, cols), || rng.random_range(-1.0..1.0))
}

/// `log det(M)` of a symmetric positive definite matrix by Gaussian
/// elimination without pivoting (the pivots are positive).
fn log_det_spd(mut m: Array2<f64>) -> f64 {
    let n = m.nrows();
    let mut log_det = 0.0;
    for k in 0..n {
        let pivot = m[[k, k]];
        assert!(pivot > 0.0, "not positive definite");
        log_det += pivot.ln();
        for r in k + 1..n {
            let f = m[[r, k]] / pivot;
            for c in k..n {
                m[[r, c]] -= f * m[[k, c]];
            }
        }
    }
    log_det
}

/// `-1/2 log det(A^T A)` with `A = W2 W1`, the decoder's only linear piece.
fn expected_polarity(w1: &Array2<f64>, w2: &Array2<f64>) -> f64 {
    let a = w2.dot(w1);
    -0.5 * log_det_spd(a.t().dot(&a))
}

/// A decoder `d -> hidden -> out` whose hidden layer is linear: either no
/// activation at all, or a ReLU whose biases keep every unit active for
/// latents in `[-1, 1]^d` (bias above the row's absolute sum).
fn linear_decoder(
    seed: u64,
    d: usize,
    hidden: usize,
    out: usize,
    relu: bool,
) -> (Network, Array2<f64>, Array2<f64>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let w1 = uniform(&mut rng, hidden, d);
    let w2 = uniform(&mut rng, out, hidden);
    let b2 = Array1::from_shape_simple_fn(out, || rng.random_range(-1.0..1.0));
    let mut builder = Network::builder(d);
    if relu {
        let b1 = w1
            .rows()
            .into_iter()
            .map(|r| r.mapv(f64::abs).sum() + 0.5)
            .collect();
        builder = builder.dense(w1.clone(), b1).unwrap().relu();
    } else {
        let b1 = Array1::from_shape_simple_fn(hidden, || rng.random_range(-1.0..1.0));
        builder = builder.dense(w1.clone(), b1).unwrap();
    }
    let net = builder.dense(w2.clone(), b2).unwrap().build().unwrap();
    (net, w1, w2)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn polarity_of_a_linear_decoder_is_constant(
        seed in 0u64..10_000,
        d in 1usize..6,
        extra in 0usize..8,
        relu in any::<bool>(),
    ) {
        let (hidden, out) = (d + extra, d + 2 * extra + 1);
        let (net, w1, w2) = linear_decoder(seed, d, hidden, out, relu);
        let mut rng = StdRng::seed_from_u64(seed + 1);
        let z = uniform(&mut rng, 7, d);
        let expected = expected_polarity(&w1, &w2);
        let got = polarity(&net, z.view()).unwrap();
        for &g in &got {
            prop_assert!((g - expected).abs() <= 1e-9 * expected.abs().max(1.0), "{} vs {}", g, expected);
            prop_assert!((g - got[0]).abs() <= 1e-12 * got[0].abs().max(1.0));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn les_by_the_default_route_equals_les_from_stored_jacobians(seed in 0u64..10_000, d in 1usize..5) {
        // A ReLU decoder wider at the output than at the input (forward mode).
        let (seq_len, vocab) = (6, 4);
        let mut rng = StdRng::seed_from_u64(seed);
        let w1 = uniform(&mut rng, 16, d);
        let b1 = Array1::from_shape_simple_fn(16, || rng.random_range(-0.5..0.5));
        let w2 = uniform(&mut rng, seq_len * vocab, 16);
        let b2 = Array1::from_shape_simple_fn(seq_len * vocab, || rng.random_range(-1.0..1.0));
        let net = Network::builder(d).dense(w1, b1).unwrap().relu().dense(w2, b2).unwrap().build().unwrap();
        let z = uniform(&mut rng, 9, d);
        let shape = OutputShape::Categorical { seq_len, vocab };
        let fused = les(&net, z.view(), shape).unwrap();
        let stored = ScoreOptions {
            run: RunOptions {
                backend: Some(Arc::new(CpuBackend::serial().with_chunk(4))),
                chunk: Some(5),
                ..Default::default()
            },
            ..Default::default()
        };
        let reference = scores(&net, z.view(), shape, &ScoreKind::Les, &stored).unwrap();
        prop_assert!(reference.outcome().is_complete());
        for ((a, b), st) in fused.iter().zip(reference.values()).zip(reference.status()) {
            if *st == LatentStatus::Regular {
                prop_assert!((a - b).abs() <= 1e-10 * b.abs().max(1.0), "{} vs {}", a, b);
            } else {
                prop_assert_eq!(*a, *b);
            }
        }
    }
}
