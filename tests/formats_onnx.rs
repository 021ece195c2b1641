//! ONNX import: networks exported from PyTorch reproduce PyTorch's outputs, and
//! malformed or unsupported files give typed errors.
#![cfg(feature = "onnx")]

mod common;

use common::{onnx_fixture, reference_io};

use cpwl::{Error, Network};
use rand::{Rng, SeedableRng};

/// PyTorch and this crate sum in different orders; f64 rounding stays far below this.
const RTOL: f64 = 1e-9;

fn assert_matches_reference(name: &str) {
    let net =
        Network::from_onnx(onnx_fixture(&format!("{name}.onnx"))).unwrap_or_else(|e| panic!("{name}: {e}"));
    let (x, y) = reference_io(name);
    assert_eq!(net.input_dim(), x.ncols(), "{name}: input width");
    let got = net.forward_batch(x.view()).expect("forward");
    assert_eq!(got.dim(), y.dim(), "{name}: output shape");
    common::assert_close(name, got.as_slice().unwrap(), y.as_slice().unwrap(), RTOL);
    for (row, expected) in x.rows().into_iter().zip(y.rows()) {
        let single = net.forward(row).expect("forward");
        common::assert_close(name, single.as_slice().unwrap(), &expected.to_vec(), RTOL);
    }
}

#[test]
fn mlp_matches_pytorch() {
    assert_matches_reference("mlp");
}

#[test]
fn cnn_with_batch_norm_and_pooling_matches_pytorch() {
    assert_matches_reference("cnn");
}

#[test]
fn residual_mlp_matches_pytorch() {
    assert_matches_reference("resnet_mlp");
}

#[test]
fn residual_cnn_with_projection_matches_pytorch() {
    assert_matches_reference("resnet_cnn");
}

#[test]
fn matmul_add_gemm_attributes_and_no_ops_match_numpy() {
    assert_matches_reference("handmade");
}

#[test]
fn bytes_and_path_load_the_same_network() {
    let path = onnx_fixture("resnet_cnn.onnx");
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(
        Network::from_onnx_bytes(&bytes).unwrap(),
        Network::from_onnx(&path).unwrap()
    );
}

#[test]
fn missing_file_is_a_file_error() {
    let err = Network::from_onnx(onnx_fixture("no_such_model.onnx")).unwrap_err();
    assert!(matches!(err, Error::File { .. }), "{err}");
}

#[test]
fn truncated_files_are_rejected_without_panicking() {
    let bytes = std::fs::read(onnx_fixture("cnn.onnx")).unwrap();
    // The model's last fields (opset imports) are short: a cut inside the
    // graph, which holds almost all of the file, must be an error.
    for len in 0..bytes.len() - 32 {
        assert!(
            Network::from_onnx_bytes(&bytes[..len]).is_err(),
            "prefix of {len} bytes was accepted"
        );
    }
    for len in bytes.len() - 32..bytes.len() {
        let _ = Network::from_onnx_bytes(&bytes[..len]);
    }
}

#[test]
fn random_bytes_are_a_file_error() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for _ in 0..500 {
        let len = rng.random_range(0..400);
        let bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        let err = Network::from_onnx_bytes(&bytes).unwrap_err();
        assert!(matches!(err, Error::File { .. }), "{err}");
    }
}

#[test]
fn mutated_models_never_panic() {
    let original = std::fs::read(onnx_fixture("resnet_mlp.onnx")).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    for _ in 0..2000 {
        let mut bytes = original.clone();
        for _ in 0..rng.random_range(1..4) {
            let at = rng.random_range(0..bytes.len());
            bytes[at] = rng.random();
        }
        // Any result is fine as long as it is a result: an Ok must still be a
        // usable network.
        if let Ok(net) = Network::from_onnx_bytes(&bytes) {
            let _ = net.forward(ndarray::Array1::zeros(net.input_dim()).view());
        }
    }
}

#[test]
fn unsupported_operator_is_named_with_its_node_and_what_to_do() {
    let err = Network::from_onnx(onnx_fixture("unsupported_sigmoid.onnx")).unwrap_err();
    match err {
        Error::Unsupported { layer, op } => {
            assert_eq!(layer, "squash");
            assert!(op.starts_with("Sigmoid ("), "{op}");
            for hint in ["Gemm", "Relu", "Softmax", "logits"] {
                assert!(op.contains(hint), "{op} lacks {hint}");
            }
        }
        other => panic!("expected Unsupported, got {other}"),
    }
}

#[test]
fn missing_initializer_is_a_file_error() {
    let err = Network::from_onnx(onnx_fixture("missing_initializer.onnx")).unwrap_err();
    match &err {
        Error::File { reason, .. } => assert!(reason.contains("reads b"), "{err}"),
        other => panic!("expected File, got {other}"),
    }
}

#[test]
fn weights_that_do_not_fit_the_input_are_a_shape_error() {
    let err = Network::from_onnx(onnx_fixture("bad_shape.onnx")).unwrap_err();
    assert!(matches!(err, Error::Shape { .. }), "{err}");
}
