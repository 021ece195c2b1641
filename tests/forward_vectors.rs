//! Conformance over the shared `forward` vectors: outputs, pattern text and
//! exact local affine maps.

mod common;

use common::{assert_close, cases, json, load2, load3};
use cpwl::Network;

const RTOL: f64 = 1e-9;

#[test]
fn forward_vectors_match() {
    let dirs = cases("forward");
    assert!(!dirs.is_empty());
    for dir in dirs {
        let net = Network::from_npz(dir.join("net.npz")).unwrap();
        let points = load2(&dir.join("points.npy"));
        let outputs = load2(&dir.join("outputs.npy"));
        let jacobians = load3(&dir.join("jacobians.npy"));
        let offsets = load2(&dir.join("offsets.npy"));
        let expected = json(&dir.join("expected.json"));
        let patterns = expected["patterns"].as_array().unwrap();
        let name = dir.file_name().unwrap().to_string_lossy().to_string();

        let batch = net.forward_batch(points.view()).unwrap();
        assert_close(
            &format!("{name} outputs"),
            batch.as_slice().unwrap(),
            outputs.as_slice().unwrap(),
            RTOL,
        );
        for (i, x) in points.outer_iter().enumerate() {
            let single = net.forward(x).unwrap();
            assert_close(
                &format!("{name} output {i}"),
                single.as_slice().unwrap(),
                outputs.row(i).to_slice().unwrap(),
                RTOL,
            );
            assert_eq!(
                net.pattern(x).unwrap().to_string(),
                patterns[i].as_str().unwrap(),
                "{name} pattern {i}"
            );
            let map = net.local_affine(x).unwrap();
            assert_close(
                &format!("{name} jacobian {i}"),
                map.a.as_slice().unwrap(),
                jacobians.index_axis(ndarray::Axis(0), i).to_slice().unwrap(),
                RTOL,
            );
            assert_close(
                &format!("{name} offset {i}"),
                map.b.as_slice().unwrap(),
                offsets.row(i).to_slice().unwrap(),
                RTOL,
            );
        }
    }
}
