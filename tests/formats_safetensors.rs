//! safetensors import: checkpoints saved from PyTorch reproduce its outputs,
//! and malformed files or architectures give typed errors.

mod common;

use common::{onnx_fixture, reference_io};

use std::collections::HashMap;

use cpwl::io::{ArchLayer, Architecture};
use cpwl::network::{Activation, Pool2d, Shape};
use cpwl::{Error, Network};
use ndarray::array;
use rand::{Rng, SeedableRng};
use safetensors::tensor::TensorView;
use safetensors::Dtype;

/// PyTorch and this crate sum in different orders; f64 rounding stays far below this.
const RTOL: f64 = 1e-9;

fn assert_matches_reference(net: &Network, io: &str) {
    let (x, y) = reference_io(io);
    let got = net.forward_batch(x.view()).expect("forward");
    assert_eq!(got.dim(), y.dim(), "{io}: output shape");
    common::assert_close(io, got.as_slice().unwrap(), y.as_slice().unwrap(), RTOL);
}

/// The MLP fixture: PyTorch's `nn.Sequential` names, ReLU then LeakyReLU(0.1).
fn mlp_architecture() -> Architecture {
    Architecture::new(vec![
        ArchLayer::dense("0"),
        ArchLayer::Relu,
        ArchLayer::dense("2"),
        ArchLayer::LeakyRelu(0.1),
        ArchLayer::dense("4"),
    ])
}

/// A safetensors file in memory.
fn serialize(tensors: &[(&str, Dtype, Vec<usize>, Vec<u8>)]) -> Vec<u8> {
    let views: HashMap<String, TensorView> = (tensors.iter())
        .map(|(name, dtype, shape, data)| {
            let view = TensorView::new(*dtype, shape.clone(), data).expect("consistent tensor");
            (name.to_string(), view)
        })
        .collect();
    safetensors::serialize(views, None).expect("serializable")
}

fn f64_bytes(values: &[f64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

#[test]
fn pytorch_mlp_matches_its_outputs() {
    let net = Network::from_safetensors(onnx_fixture("mlp.safetensors"), &mlp_architecture()).unwrap();
    assert_matches_reference(&net, "mlp");
}

#[test]
fn npz_names_in_f32_widen_to_the_rounded_weights() {
    let arch = Architecture::npz_names(Activation::Relu);
    let net = Network::from_safetensors(onnx_fixture("mlp_f32.safetensors"), &arch).unwrap();
    assert_matches_reference(&net, "mlp_f32");
}

#[test]
fn pytorch_cnn_matches_its_outputs() {
    let arch = Architecture::new(vec![
        ArchLayer::conv2d("conv1", 1, 1),
        ArchLayer::batch_norm("bn"),
        ArchLayer::Relu,
        ArchLayer::MaxPool2d(Pool2d::square(2)),
        ArchLayer::conv2d("conv2", 1, 0),
        ArchLayer::Relu,
        ArchLayer::AvgPool2d(Pool2d {
            kernel: [2, 2],
            stride: [1, 1],
            padding: [1, 1],
            count_include_pad: false,
        }),
        ArchLayer::Flatten,
        ArchLayer::dense("fc"),
    ])
    .with_input(Shape::Image { c: 1, h: 8, w: 8 });
    let net = Network::from_safetensors(onnx_fixture("cnn.safetensors"), &arch).unwrap();
    assert_matches_reference(&net, "cnn");
}

#[test]
fn residual_architecture_computes_skip_plus_body() {
    // x -> [x + relu(W1 x)] with W1 = [[1, 0], [0, -1]], then a projection block.
    let bytes = serialize(&[
        ("w1", Dtype::F64, vec![2, 2], f64_bytes(&[1.0, 0.0, 0.0, -1.0])),
        ("p", Dtype::F64, vec![1, 2], f64_bytes(&[2.0, 3.0])),
        ("q", Dtype::F64, vec![1, 2], f64_bytes(&[1.0, 1.0])),
    ]);
    let dense = |name: &str| ArchLayer::Dense {
        weight: name.into(),
        bias: None,
    };
    let arch = Architecture::new(vec![
        ArchLayer::Residual {
            skip: vec![],
            body: vec![dense("w1"), ArchLayer::Relu],
        },
        ArchLayer::Residual {
            skip: vec![dense("p")],
            body: vec![dense("q"), ArchLayer::Abs],
        },
    ])
    .with_input(Shape::Flat(2));
    let net = Network::from_safetensors_bytes(&bytes, &arch).unwrap();
    // x = (1, -2): h = x + relu((1, 2)) = (2, 0); y = 2*2 + 3*0 + |2 + 0| = 6.
    assert_eq!(net.forward(array![1.0, -2.0].view()).unwrap(), array![6.0]);
}

#[test]
fn half_precision_tensors_widen_exactly() {
    // f16 1.0 = 0x3c00, -2.0 = 0xc000, 0.5 = 0x3800; bf16 0.25 = 0x3e80.
    let bytes = serialize(&[
        ("W0", Dtype::F16, vec![1, 2], vec![0x00, 0x3c, 0x00, 0xc0]),
        ("b0", Dtype::BF16, vec![1], vec![0x80, 0x3e]),
        ("W1", Dtype::F32, vec![1, 1], 0.5f32.to_le_bytes().to_vec()),
        ("b1", Dtype::F64, vec![1], f64_bytes(&[0.0])),
    ]);
    let net = Network::from_safetensors_bytes(&bytes, &Architecture::npz_names(Activation::Abs)).unwrap();
    // 0.5 * |1 * 3 - 2 * 4 + 0.25| = 2.375
    assert_eq!(net.forward(array![3.0, 4.0].view()).unwrap(), array![2.375]);
}

#[test]
fn integer_tensors_are_unsupported() {
    let bytes = serialize(&[
        ("W0", Dtype::I64, vec![1, 1], 1i64.to_le_bytes().to_vec()),
        ("b0", Dtype::F64, vec![1], f64_bytes(&[0.0])),
    ]);
    let err =
        Network::from_safetensors_bytes(&bytes, &Architecture::npz_names(Activation::Relu)).unwrap_err();
    assert!(
        matches!(&err, Error::Unsupported { layer, .. } if layer == "W0"),
        "{err}"
    );
}

#[test]
fn non_finite_parameters_are_rejected() {
    let bytes = serialize(&[
        ("W0", Dtype::F64, vec![1, 2], f64_bytes(&[1.0, f64::NAN])),
        ("b0", Dtype::F64, vec![1], f64_bytes(&[0.0])),
    ]);
    let err =
        Network::from_safetensors_bytes(&bytes, &Architecture::npz_names(Activation::Relu)).unwrap_err();
    assert!(matches!(err, Error::NonFinite { index: 1, .. }), "{err}");
}

#[test]
fn missing_tensor_is_a_file_error() {
    let arch = Architecture::new(vec![ArchLayer::dense("0"), ArchLayer::dense("9")]);
    let err = Network::from_safetensors(onnx_fixture("mlp.safetensors"), &arch).unwrap_err();
    match &err {
        Error::File { reason, .. } => assert!(reason.contains("9.weight"), "{err}"),
        other => panic!("expected File, got {other}"),
    }
}

#[test]
fn wrong_rank_and_unchained_shapes_are_shape_errors() {
    let rank = Architecture::new(vec![ArchLayer::Dense {
        weight: "0.bias".into(),
        bias: None,
    }]);
    let err = Network::from_safetensors(onnx_fixture("mlp.safetensors"), &rank).unwrap_err();
    assert!(matches!(err, Error::Shape { .. }), "{err}");
    // Layer 4 takes 16 inputs, layer 0 gives 16: fine; layer 0 after layer 4 is not.
    let unchained = Architecture::new(vec![ArchLayer::dense("4"), ArchLayer::dense("0")]);
    let err = Network::from_safetensors(onnx_fixture("mlp.safetensors"), &unchained).unwrap_err();
    assert!(matches!(err, Error::Shape { .. }), "{err}");
}

#[test]
fn npz_naming_gaps_are_file_errors() {
    let bytes = serialize(&[
        ("W0", Dtype::F64, vec![1, 1], f64_bytes(&[1.0])),
        ("b0", Dtype::F64, vec![1], f64_bytes(&[0.0])),
        ("W2", Dtype::F64, vec![1, 1], f64_bytes(&[1.0])),
        ("b2", Dtype::F64, vec![1], f64_bytes(&[0.0])),
    ]);
    let err =
        Network::from_safetensors_bytes(&bytes, &Architecture::npz_names(Activation::Relu)).unwrap_err();
    assert!(matches!(err, Error::File { .. }), "{err}");
}

#[test]
fn conv_first_without_input_shape_is_invalid() {
    let arch = Architecture::new(vec![ArchLayer::conv2d("conv1", 1, 1)]);
    let err = Network::from_safetensors(onnx_fixture("cnn.safetensors"), &arch).unwrap_err();
    assert!(matches!(err, Error::Invalid { .. }), "{err}");
}

#[test]
fn skip_that_is_not_one_linear_layer_is_invalid() {
    let arch = Architecture::new(vec![
        ArchLayer::dense("0"),
        ArchLayer::Residual {
            skip: vec![ArchLayer::Relu],
            body: vec![],
        },
    ]);
    let err = Network::from_safetensors(onnx_fixture("mlp.safetensors"), &arch).unwrap_err();
    assert!(matches!(err, Error::Invalid { .. }), "{err}");
}

#[test]
fn truncated_and_random_bytes_are_file_errors() {
    let bytes = std::fs::read(onnx_fixture("mlp.safetensors")).unwrap();
    let arch = mlp_architecture();
    for len in 0..bytes.len() {
        let err = Network::from_safetensors_bytes(&bytes[..len], &arch).unwrap_err();
        assert!(matches!(err, Error::File { .. }), "prefix {len}: {err}");
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    for _ in 0..300 {
        let len = rng.random_range(0..300);
        let noise: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        let err = Network::from_safetensors_bytes(&noise, &arch).unwrap_err();
        assert!(matches!(err, Error::File { .. }), "{err}");
    }
}

#[test]
fn mutated_headers_never_panic() {
    let original = std::fs::read(onnx_fixture("mlp.safetensors")).unwrap();
    let arch = mlp_architecture();
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let header_end = 8 + u64::from_le_bytes(original[..8].try_into().unwrap()) as usize;
    for _ in 0..2000 {
        let mut bytes = original.clone();
        let at = rng.random_range(0..header_end);
        bytes[at] = rng.random();
        let _ = Network::from_safetensors_bytes(&bytes, &arch);
    }
}
