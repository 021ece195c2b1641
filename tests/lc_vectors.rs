//! Conformance over the shared `lc` vectors: integer-identical counts, with the
//! stored directions and with the reference-compatible generator.

mod common;

use common::{cases, json, lc_counts, load2};
use cpwl::lc::{local_complexity, Directions, LcOptions};
use cpwl::run::RunOptions;
use cpwl::Network;

#[test]
fn lc_vectors_match_exactly() {
    for dir in cases("lc") {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let net = Network::from_npz(dir.join("net.npz")).unwrap();
        let points = load2(&dir.join("points.npy"));
        let given = load2(&dir.join("directions.npy"));
        let expected = json(&dir.join("expected.json"));
        let radius = expected["radius"].as_f64().unwrap();
        let count = expected["directions_count"].as_u64().unwrap() as usize;
        let seed = expected["reference_direction_seed"].as_u64().unwrap();
        for directions in [
            Directions::Given(given.clone()),
            Directions::ReferenceCompatible { count, seed },
        ] {
            for (key, with_output) in [("with_output_layer", true), ("hidden_only", false)] {
                let opts = LcOptions {
                    count_output_layer: with_output,
                    ..LcOptions::new(radius, directions.clone())
                };
                let report = local_complexity(&net, points.view(), &opts).unwrap();
                let got: Vec<Vec<u32>> = report.per_layer().outer_iter().map(|r| r.to_vec()).collect();
                assert_eq!(got, lc_counts(&expected[key]), "{name} {key}");
                let mean = expected[key]["mean"].as_f64().unwrap();
                assert!((report.mean() - mean).abs() < 1e-12, "{name} {key} mean");
            }
        }
    }
}

#[test]
fn lc_is_invariant_to_point_order_and_chunking() {
    let dir = &cases("lc")[0];
    let net = Network::from_npz(dir.join("net.npz")).unwrap();
    let points = load2(&dir.join("points.npy"));
    let directions = Directions::Given(load2(&dir.join("directions.npy")));
    let base = local_complexity(&net, points.view(), &LcOptions::new(0.3, directions.clone())).unwrap();
    let reversed = points.slice(ndarray::s![..;-1, ..]);
    for chunk in [1, 3, 7, 1000] {
        let opts = LcOptions {
            run: RunOptions {
                chunk: Some(chunk),
                ..Default::default()
            },
            ..LcOptions::new(0.3, directions.clone())
        };
        let rev = local_complexity(&net, reversed, &opts).unwrap();
        let back = rev.per_layer().slice(ndarray::s![..;-1, ..]).to_owned();
        assert_eq!(&back, base.per_layer(), "chunk {chunk}");
    }
}
