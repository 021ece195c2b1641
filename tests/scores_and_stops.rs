//! The scores at saturated, rank-deficient and far-out latents (one bad
//! latent never fails a batch, and every score agrees on its status), the
//! scores through a backend's `les_grams` (with the exact route for the
//! latents out of plain range), and stops reported as outcomes by LC and
//! the scores, triggered deterministically by a backend that sets the
//! cancel flag during its n-th call.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

mod common;

use common::Counted;
use cpwl::lc::{exact_local_complexity, local_complexity, Directions, LcOptions};
use cpwl::run::{Outcome, RunOptions};
use cpwl::scales::{
    les, les_grad, les_grad_with, les_with, polarity_with, scales_v1_with, LatentStatus, OutputShape,
    ScoreOptions, V1Options,
};
use cpwl::{Error, Network};
use ndarray::{array, Array1, Array2};

/// One latent per wave on the calling thread, on `backend`, with its flag.
fn one_by_one(backend: Arc<Counted>) -> RunOptions {
    RunOptions {
        cancel: Some(backend.cancel.clone()),
        backend: Some(backend),
        threads: Some(1),
        chunk: Some(1),
        ..Default::default()
    }
}

/// A linear decoder: logits `W z + b`.
fn linear(w: Array2<f64>, b: Array1<f64>) -> Network {
    Network::builder(w.ncols()).dense(w, b).unwrap().build().unwrap()
}

/// Two latents, two positions of two symbols; logits `(z1, 0, z2, 0)`.
fn two_positions() -> (Network, OutputShape) {
    let w = array![[1.0, 0.0], [0.0, 0.0], [0.0, 1.0], [0.0, 0.0]];
    (
        linear(w, Array1::zeros(4)),
        OutputShape::Categorical { seq_len: 2, vocab: 2 },
    )
}

fn statuses(s: &[LatentStatus]) -> Vec<LatentStatus> {
    s.to_vec()
}

#[test]
fn a_saturated_latent_in_the_middle_of_a_batch_fails_nothing() {
    let (dec, shape) = two_positions();
    // Row 1: both positions' logit spread is 1000 (beyond ln(f64::MAX) / 2),
    // with Z_t = e^1000: LES stays finite on the scaled route, its gradient
    // overflows.
    let z = array![[0.3, -0.2], [1000.0, 1000.0], [-0.5, 0.4]];
    let opts = ScoreOptions::default();
    let les_r = les_with(&dec, z.view(), shape, &opts).unwrap();
    let grad_r = les_grad_with(&dec, z.view(), shape, &opts).unwrap();
    let v1_r = scales_v1_with(&dec, z.view(), shape, &V1Options::default(), &opts).unwrap();
    let expected = vec![
        LatentStatus::Regular,
        LatentStatus::Saturated,
        LatentStatus::Regular,
    ];
    assert_eq!(statuses(les_r.status()), expected);
    assert_eq!(statuses(grad_r.status()), expected);
    assert_eq!(statuses(v1_r.status()), expected);
    // The other latents are what they are alone.
    for i in [0, 2] {
        let alone = z.slice(ndarray::s![i..i + 1, ..]);
        assert_eq!(les(&dec, alone, shape).unwrap()[0], les_r.values()[i]);
        assert_eq!(
            les_grad(&dec, alone, shape).unwrap().row(0),
            grad_r.values().row(i)
        );
        assert!(grad_r.values().row(i).iter().all(|g| g.is_finite()));
    }
    // The saturated latent: LES finite (the normaliser rows, scaled by
    // e^-1000, still span the plane), the gradient NaN, ScaLES v1 finite.
    assert!(les_r.values()[1].is_finite() && les_r.values()[1] > 1000.0);
    assert!(grad_r.values().row(1).iter().all(|g| g.is_nan()));
    assert!(v1_r.values()[1].is_finite());
}

#[test]
fn far_out_latents_have_infinite_les_and_agree_on_saturation() {
    // One position of three symbols over two latents: far out along
    // (1, 1) the first two symbols share all the mass, and the direction
    // that moves the third is squeezed by e^-1000: LES is +inf, A has full
    // rank, so the latent is saturated (not rank-deficient).
    let dec = linear(array![[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]], Array1::zeros(3));
    let shape = OutputShape::Categorical { seq_len: 1, vocab: 3 };
    let z = array![[0.1, 0.2], [1000.0, 1000.0]];
    let opts = ScoreOptions::default();
    let les_r = les_with(&dec, z.view(), shape, &opts).unwrap();
    let grad_r = les_grad_with(&dec, z.view(), shape, &opts).unwrap();
    let v1_r = scales_v1_with(&dec, z.view(), shape, &V1Options::default(), &opts).unwrap();
    let pol = polarity_with(&dec, z.view(), &opts).unwrap();
    let expected = vec![LatentStatus::Regular, LatentStatus::Saturated];
    assert_eq!(statuses(les_r.status()), expected);
    assert_eq!(statuses(grad_r.status()), expected);
    assert_eq!(statuses(v1_r.status()), expected);
    assert_eq!(les_r.values()[1], f64::INFINITY);
    assert!(grad_r.values().row(1).iter().all(|&g| g == 0.0));
    // Polarity sees no softmax: the decoder is linear with full rank, so it
    // is the same finite value everywhere, -1/2 log det(A^T A) = 0.
    assert_eq!(statuses(pol.status()), vec![LatentStatus::Regular; 2]);
    assert_eq!(pol.values().to_vec(), vec![0.0, 0.0]);
}

#[test]
fn rank_deficient_latents_are_flagged_by_every_score() {
    // The second latent is ignored: A has a zero column everywhere.
    let dec = linear(array![[1.0, 0.0], [0.0, 0.0], [-1.0, 0.0]], Array1::zeros(3));
    let shape = OutputShape::Categorical { seq_len: 1, vocab: 3 };
    let z = array![[0.1, 0.2], [0.5, -0.5]];
    let opts = ScoreOptions::default();
    let rank = vec![LatentStatus::RankDeficient; 2];
    let les_r = les_with(&dec, z.view(), shape, &opts).unwrap();
    assert_eq!(statuses(les_r.status()), rank);
    assert!(les_r.values().iter().all(|&v| v == f64::INFINITY));
    let grad_r = les_grad_with(&dec, z.view(), shape, &opts).unwrap();
    assert_eq!(statuses(grad_r.status()), rank);
    assert!(grad_r.values().iter().all(|&g| g == 0.0));
    let v1_r = scales_v1_with(&dec, z.view(), shape, &V1Options::default(), &opts).unwrap();
    assert_eq!(statuses(v1_r.status()), rank);
    assert!(v1_r.values().iter().all(|&v| v == f64::NEG_INFINITY));
    let pol = polarity_with(&dec, z.view(), &opts).unwrap();
    assert_eq!(statuses(pol.status()), rank);
    assert!(pol.values().iter().all(|&v| v == f64::INFINITY));
}

#[test]
fn a_bad_latent_is_named_by_its_row() {
    let (dec, shape) = two_positions();
    let z = array![[0.0, 0.0], [0.0, 0.0], [1.0, f64::NAN]];
    match les_grad(&dec, z.view(), shape) {
        Err(Error::NonFinite { what, index }) => {
            assert!(what.ends_with("row 2"), "{what}");
            assert_eq!(index, 1);
        }
        other => panic!("{other:?}"),
    }
}

/// A small ReLU decoder wider at the output, with logits spread by `scale`.
fn relu_decoder(scale: f64) -> (Network, OutputShape) {
    let w1 = array![[1.0, -0.5], [0.25, 1.0], [-1.0, 0.75], [0.5, 0.5]];
    let w2 = Array2::from_shape_fn((6, 4), |(i, j)| {
        scale * (((3 * i + 5 * j) % 7) as f64 - 3.0) / 3.0
    });
    let net = Network::builder(2)
        .dense(w1, array![0.1, -0.2, 0.05, 0.0])
        .unwrap()
        .relu()
        .dense(w2, Array1::zeros(6))
        .unwrap()
        .build()
        .unwrap();
    (net, OutputShape::Categorical { seq_len: 2, vocab: 3 })
}

#[test]
fn les_through_les_grams_equals_the_exact_route_latent_by_latent() {
    // Latents near the origin take the plain Gram matrices; the far ones
    // (logits in the thousands) fall back to the exact scaled route.
    let (dec, shape) = relu_decoder(1.0);
    let z = array![
        [0.3, -0.7],
        [1.0, 0.2],
        [2000.0, 300.0],
        [-0.4, 0.9],
        [-800.0, 1500.0]
    ];
    let exact = les_with(&dec, z.view(), shape, &ScoreOptions::default()).unwrap();
    let backend = Arc::new(Counted::cpu().preferring_grams(true));
    let opts = ScoreOptions {
        run: RunOptions {
            backend: Some(backend.clone()),
            chunk: Some(2),
            ..Default::default()
        },
        ..Default::default()
    };
    let grams = les_with(&dec, z.view(), shape, &opts).unwrap();
    assert_eq!(grams.status(), exact.status());
    for (i, (a, b)) in grams.values().iter().zip(exact.values()).enumerate() {
        assert_same_score(*a, *b, &format!("latent {i}"));
    }
    // Three waves of les_grams, and one Jacobian call for each wave that
    // holds a latent of the exact route: a far-out one (the second and the
    // third wave) or one whose Gram matrix is singular.
    let exact_route = |i: usize| i == 2 || i == 4 || exact.status()[i] != LatentStatus::Regular;
    let waves_with_exact = [0..2, 2..4, 4..5]
        .into_iter()
        .filter(|w| w.clone().any(exact_route))
        .count();
    assert_eq!(backend.total(), 3 + waves_with_exact);
}

/// Equal infinities, or finite values within 1e-10 relative.
fn assert_same_score(a: f64, b: f64, what: &str) {
    if b.is_finite() {
        assert!((a - b).abs() <= 1e-10 * b.abs().max(1.0), "{what}: {a} vs {b}");
    } else {
        assert_eq!(a, b, "{what}");
    }
}

#[test]
fn scores_stop_between_waves_and_say_so() {
    let (dec, shape) = relu_decoder(1.0);
    let z = Array2::from_shape_fn((5, 2), |(i, j)| 0.2 * i as f64 - 0.3 * j as f64);
    let full = les(&dec, z.view(), shape).unwrap();
    for grams in [false, true] {
        // Cancelled during the second backend call: two latents finished on
        // the Jacobian route (one call per latent); on the les_grams route a
        // latent that falls back to the exact route takes a second call.
        let backend = Arc::new(Counted::cpu().cancelling_at(2).preferring_grams(grams));
        let opts = ScoreOptions {
            run: one_by_one(backend),
            ..Default::default()
        };
        let got = les_with(&dec, z.view(), shape, &opts).unwrap();
        assert_eq!(got.outcome(), Outcome::Cancelled);
        let done = got.finished();
        assert!(
            if grams { (1..=2).contains(&done) } else { done == 2 },
            "{done} finished"
        );
        for i in 0..done {
            assert_same_score(got.values()[i], full[i], &format!("latent {i}"));
        }
        assert!(got.values().iter().skip(done).all(|v| v.is_nan()));
        assert!(got.status()[done..]
            .iter()
            .all(|&s| s == LatentStatus::NotComputed));
    }
}

#[test]
fn lc_stops_between_waves_and_keeps_the_finished_rows() {
    let (net, _) = relu_decoder(1.0);
    let points = Array2::from_shape_fn((6, 2), |(i, j)| 0.3 * i as f64 - 0.7 * j as f64);
    let base = LcOptions::new(0.5, Directions::Seeded { count: 2, seed: 3 });
    let full = local_complexity(&net, points.view(), &base).unwrap();
    assert_eq!((full.outcome(), full.finished()), (Outcome::Complete, 6));
    let backend = Arc::new(Counted::cpu().cancelling_at(3).preferring_grams(false));
    let opts = LcOptions {
        run: one_by_one(backend),
        ..base.clone()
    };
    let got = local_complexity(&net, points.view(), &opts).unwrap();
    assert_eq!((got.outcome(), got.finished()), (Outcome::Cancelled, 3));
    let rows = ndarray::s![..3, ..];
    assert_eq!(got.per_layer().slice(rows), full.per_layer().slice(rows));
    assert!(got
        .per_layer()
        .slice(ndarray::s![3.., ..])
        .iter()
        .all(|&c| c == 0));
    let mean = full.total().iter().take(3).map(|&c| f64::from(c)).sum::<f64>() / 3.0;
    assert!((got.mean() - mean).abs() < 1e-12);
    // A flag set before the run: nothing computed, by either variant.
    let preset = LcOptions {
        run: RunOptions {
            cancel: Some(Arc::new(AtomicBool::new(true))),
            ..Default::default()
        },
        ..base
    };
    let none = local_complexity(&net, points.view(), &preset).unwrap();
    assert_eq!((none.outcome(), none.finished()), (Outcome::Cancelled, 0));
    let exact = exact_local_complexity(&net, points.view(), &preset).unwrap();
    assert_eq!((exact.outcome(), exact.finished()), (Outcome::Cancelled, 0));
}
