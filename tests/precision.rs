//! The f32 route (`Precision::F32`) through the public entry points: patterns
//! and sampled local complexity agree with the shared vectors (computed in
//! f64 by independent references; their points are far from ties), and the
//! exact geometry refuses F32 with a typed error.

mod common;

use std::sync::Arc;

use common::{cases, json, lc_counts, load2};
use cpwl::backend::CpuBackend;
use cpwl::lc::{exact_local_complexity, local_complexity, Directions, LcOptions};
use cpwl::run::{Precision, RunOptions};
use cpwl::scales::{les_with, OutputShape, ScoreOptions};
use cpwl::{Error, Network};
use ndarray::array;

fn f32_run() -> RunOptions {
    RunOptions {
        precision: Precision::F32,
        ..Default::default()
    }
}

fn is_precision_error<T: std::fmt::Debug>(r: cpwl::Result<T>) -> bool {
    matches!(r, Err(Error::Invalid { ref what, .. }) if what == "precision")
}

#[test]
fn f32_patterns_match_the_forward_vectors() {
    for dir in cases("forward") {
        let net = Network::from_npz(dir.join("net.npz")).unwrap();
        let points = load2(&dir.join("points.npy"));
        let expected = json(&dir.join("expected.json"));
        let patterns = net.pattern_batch_with(points.view(), &f32_run()).unwrap();
        for (i, p) in patterns.iter().enumerate() {
            assert_eq!(
                p.to_string(),
                expected["patterns"][i].as_str().unwrap(),
                "{} point {i}",
                dir.display()
            );
        }
    }
}

#[test]
fn f32_local_complexity_matches_the_lc_vectors() {
    for dir in cases("lc") {
        let net = Network::from_npz(dir.join("net.npz")).unwrap();
        let points = load2(&dir.join("points.npy"));
        let expected = json(&dir.join("expected.json"));
        let opts = LcOptions {
            run: f32_run(),
            ..LcOptions::new(
                expected["radius"].as_f64().unwrap(),
                Directions::Given(load2(&dir.join("directions.npy"))),
            )
        };
        let report = local_complexity(&net, points.view(), &opts).unwrap();
        let want = lc_counts(&expected["with_output_layer"]);
        for (i, row) in report.per_layer().outer_iter().enumerate() {
            assert_eq!(row.to_vec(), want[i], "{} point {i}", dir.display());
        }
    }
}

#[test]
fn exact_geometry_refuses_f32() {
    // The first lc vector's network and points (refused before any work).
    let dir = &cases("lc")[0];
    let net = Network::from_npz(dir.join("net.npz")).unwrap();
    let points = load2(&dir.join("points.npy"));
    let lc = LcOptions {
        run: f32_run(),
        ..LcOptions::new(0.1, Directions::Seeded { count: 2, seed: 7 })
    };
    assert!(is_precision_error(exact_local_complexity(
        &net,
        points.view(),
        &lc
    )));
    // An explicit f32 backend is refused too.
    let lc_backend = LcOptions {
        run: RunOptions::default()
            .with_backend(Arc::new(CpuBackend::default().with_precision(Precision::F32))),
        ..lc.clone()
    };
    assert!(is_precision_error(exact_local_complexity(
        &net,
        points.view(),
        &lc_backend
    )));
    // The sampled count takes it.
    assert!(local_complexity(&net, points.view(), &lc_backend).is_ok());
    let decoder = Network::builder(1)
        .dense(array![[1.0], [-1.0]], array![0.0, 0.0])
        .unwrap()
        .build()
        .unwrap();
    let scores = ScoreOptions {
        run: f32_run(),
        ..Default::default()
    };
    let shape = OutputShape::Categorical { seq_len: 1, vocab: 2 };
    assert!(is_precision_error(les_with(
        &decoder,
        array![[0.3]].view(),
        shape,
        &scores
    )));
}

#[test]
fn f32_with_an_explicit_backend_is_refused() {
    let run = RunOptions {
        precision: Precision::F32,
        ..RunOptions::default().with_backend(Arc::new(CpuBackend::default()))
    };
    assert!(is_precision_error(run.validate()));
    assert!(f32_run().validate().is_ok());
}
