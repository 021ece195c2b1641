//! Conformance over the shared `scales` vectors through decoder networks, and
//! the gradient against central differences.

mod common;

use std::path::Path;

use common::{assert_close, cases, json, load2};
use cpwl::scales::{les, les_grad, polarity, scales_v1, OutputShape, V1Options};
use cpwl::Network;
use ndarray::Array2;

fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// A case's decoder, latent points, output shape and expected answers.
fn case(dir: &Path) -> (Network, Array2<f64>, OutputShape, serde_json::Value) {
    let dec = Network::from_npz(dir.join("net.npz")).unwrap();
    let z = load2(&dir.join("z.npy"));
    let e = json(&dir.join("expected.json"));
    let shape = OutputShape::Categorical {
        seq_len: e["seq_len"].as_u64().unwrap() as usize,
        vocab: e["vocab"].as_u64().unwrap() as usize,
    };
    (dec, z, shape, e)
}

#[test]
fn scales_vectors_match() {
    for dir in cases("scales") {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let (dec, z, shape, e) = case(&dir);
        let sc = &e["scores"];
        let got = les(&dec, z.view(), shape).unwrap();
        assert_close(
            &format!("{name} les"),
            got.as_slice().unwrap(),
            &floats(&sc["les"]),
            1e-9,
        );
        let got = polarity(&dec, z.view()).unwrap();
        assert_close(
            &format!("{name} polarity"),
            got.as_slice().unwrap(),
            &floats(&sc["polarity"]),
            1e-9,
        );
        let got = scales_v1(&dec, z.view(), shape, &V1Options::default()).unwrap();
        assert_close(
            &format!("{name} scales_v1"),
            got.as_slice().unwrap(),
            &floats(&sc["scales_v1"]),
            1e-9,
        );
    }
}

#[test]
fn les_grad_matches_central_differences_inside_regions() {
    let (dec, z, shape, _) = case(&cases("scales")[0]);
    let grad = les_grad(&dec, z.view(), shape).unwrap();
    for (i, zi) in z.outer_iter().enumerate() {
        let h = 1e-6;
        for k in 0..z.ncols() {
            let mut plus = zi.to_owned();
            plus[k] += h;
            let mut minus = zi.to_owned();
            minus[k] -= h;
            if dec.pattern(plus.view()).unwrap() != dec.pattern(minus.view()).unwrap() {
                continue; // a kink between the two probes
            }
            let f = |v: &ndarray::Array1<f64>| {
                les(&dec, v.view().insert_axis(ndarray::Axis(0)), shape).unwrap()[0]
            };
            let fd = (f(&plus) - f(&minus)) / (2.0 * h);
            assert!(
                (fd - grad[[i, k]]).abs() <= 1e-5 * (1.0 + fd.abs()),
                "point {i} coord {k}: {fd} vs {}",
                grad[[i, k]]
            );
        }
    }
}
