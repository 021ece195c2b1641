//! safetensors state dicts saved by PyTorch (`scripts/export_fixtures.py`)
//! load without a hand-written architecture and reproduce PyTorch's logits;
//! an architecture that skips a layer is refused.

mod common;

use common::{pytorch_fixture, sample_rows};
use cpwl::io::{ArchLayer, Architecture};
use cpwl::network::{Activation, Shape};
use cpwl::{Error, Network};
use ndarray::Array2;

/// Float64 state dicts: PyTorch and this crate only sum in different orders.
const RTOL: f64 = 1e-9;

/// The state dict's inputs (one flattened sample per row) and PyTorch's logits.
fn reference(state: &str) -> (Array2<f64>, Array2<f64>) {
    let mut io = sample_rows(&pytorch_fixture(&format!("{state}_io.npz")));
    let mut take = |key: &str| io.remove(key).expect("array in the io fixture");
    (take("x"), take("logits"))
}

fn assert_matches_pytorch(state: &str, arch: &Architecture) {
    let net = Network::from_safetensors(pytorch_fixture(&format!("{state}.safetensors")), arch)
        .unwrap_or_else(|e| panic!("{state}: {e}"));
    let (x, logits) = reference(state);
    let got = net.forward_batch(x.view()).expect("forward");
    assert_eq!(got.dim(), logits.dim(), "{state}: output shape");
    common::assert_close(state, got.as_slice().unwrap(), logits.as_slice().unwrap(), RTOL);
}

#[test]
fn inferred_mlp_with_batch_norm_matches_pytorch() {
    assert_matches_pytorch("mlp_bn_state", &Architecture::infer(Activation::Relu));
}

#[test]
fn explicit_architecture_still_loads_mixed_activations() {
    // The state dict of Linear, ReLU, Linear, LeakyReLU(0.1), Linear: one
    // activation for all layers is what inference assumes, so the explicit
    // architecture is the way for mixed activations, and the inferred one differs.
    let explicit = Architecture::new(vec![
        ArchLayer::dense("0"),
        ArchLayer::Relu,
        ArchLayer::dense("2"),
        ArchLayer::LeakyRelu(0.1),
        ArchLayer::dense("4"),
    ]);
    assert_matches_pytorch("mlp_state", &explicit);
    let inferred = Network::from_safetensors(
        pytorch_fixture("mlp_state.safetensors"),
        &Architecture::infer(Activation::Relu),
    );
    let layers_explicit =
        Network::from_safetensors(pytorch_fixture("mlp_state.safetensors"), &explicit).unwrap();
    assert_eq!(inferred.unwrap().unit_count(), layers_explicit.unit_count());
}

#[test]
fn inferred_cnn_with_batch_norm_matches_pytorch() {
    let arch = Architecture::infer(Activation::Relu)
        .with_input(Shape::Image { c: 2, h: 5, w: 5 })
        .with_conv(1, 1);
    assert_matches_pytorch("cnn_state", &arch);
    // Without its padding the CNN's shapes no longer chain: an error, not a wrong network.
    let unpadded = Architecture::infer(Activation::Relu).with_input(Shape::Image { c: 2, h: 5, w: 5 });
    let err = Network::from_safetensors(pytorch_fixture("cnn_state.safetensors"), &unpadded).unwrap_err();
    assert!(matches!(err, Error::Shape { .. }), "{err}");
}

#[test]
fn a_skipped_layer_is_refused_unless_allowed() {
    let skipping = Architecture::new(vec![
        ArchLayer::dense("0"),
        ArchLayer::Relu,
        ArchLayer::dense("4"),
    ]);
    let path = pytorch_fixture("mlp_state.safetensors");
    // 0 is (16, 6) and 4 is (3, 16): the shapes chain, so only the unused check catches it.
    let err = Network::from_safetensors(&path, &skipping).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Invalid { .. }), "{text}");
    assert!(text.contains("2.bias, 2.weight"), "{text}");
    let allowed = Network::from_safetensors(&path, &skipping.allow_unused(true)).unwrap();
    assert_eq!(allowed.output_dim(), 3);
}

#[test]
fn npz_names_on_pytorch_names_points_to_infer() {
    let err = Network::from_safetensors(
        pytorch_fixture("mlp_state.safetensors"),
        &Architecture::npz_names(Activation::Relu),
    )
    .unwrap_err();
    assert!(err.to_string().contains("Architecture::infer"), "{err}");
}
