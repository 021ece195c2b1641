//! ONNX files written by current PyTorch with both exporters (the default
//! `dynamo=True`, whose weights sit in `.onnx.data` files, and `dynamo=False`)
//! reproduce PyTorch's logits; `Softmax`/`LogSoftmax` heads are dropped and
//! recorded. The fixtures come from `scripts/export_fixtures.py`.
#![cfg(feature = "onnx")]

mod common;

use std::collections::BTreeMap;

use common::{pytorch_fixture, sample_rows};
use cpwl::io::OnnxOptions;
use cpwl::network::Head;
use cpwl::{Error, Network};
use ndarray::{Array2, Axis};

/// Float64 exports: PyTorch and this crate only sum in different orders.
const RTOL_F64: f64 = 1e-9;

/// Float32 exports compared with PyTorch's float32 logits: this crate widens
/// the float32 weights exactly and computes in float64, PyTorch rounds every
/// product and sum to float32 (unit roundoff 6e-8, sums of 16 terms of size ~1).
const RTOL_F32: f64 = 1e-5;

const EXPORTERS: [&str; 2] = ["dynamo", "legacy"];

/// The arrays of `<model>_io.npz`, each as (samples, values per sample).
fn reference(model: &str) -> BTreeMap<String, Array2<f64>> {
    sample_rows(&pytorch_fixture(&format!("{model}_io.npz")))
}

fn load(model: &str, exporter: &str) -> Network {
    let path = pytorch_fixture(&format!("{model}_{exporter}.onnx"));
    Network::from_onnx(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Loads both exports of `model`, checks the dropped head and the logits.
fn assert_both_exports_match(model: &str, head: Option<Head>, logits_key: &str, rtol: f64) {
    let io = reference(model);
    for exporter in EXPORTERS {
        let net = load(model, exporter);
        let what = format!("{model}_{exporter}");
        assert_eq!(net.dropped_head(), head, "{what}: dropped head");
        let got = net.forward_batch(io["x"].view()).expect("forward");
        let want = &io[logits_key];
        assert_eq!(got.dim(), want.dim(), "{what}: output shape");
        common::assert_close(&what, got.as_slice().unwrap(), want.as_slice().unwrap(), rtol);
    }
}

/// The head applied to cpwl's logits, as a second method for PyTorch's outputs.
fn apply_head(head: Head, logits: &Array2<f64>) -> Array2<f64> {
    let mut out = logits.clone();
    for mut row in out.axis_iter_mut(Axis(0)) {
        let max = row.fold(f64::NEG_INFINITY, |m, &v| m.max(v));
        let log_sum = max + row.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
        row.mapv_inplace(|v| match head {
            Head::Softmax => (v - log_sum).exp(),
            Head::LogSoftmax => v - log_sum,
        });
    }
    out
}

fn argmax(row: ndarray::ArrayView1<f64>) -> usize {
    (0..row.len()).fold(0, |best, i| if row[i] > row[best] { i } else { best })
}

#[test]
fn plain_mlp_from_both_exporters_matches_pytorch() {
    assert_both_exports_match("mlp", None, "logits", RTOL_F64);
    assert_both_exports_match("mlp", None, "out", RTOL_F64);
}

#[test]
fn softmax_heads_are_dropped_and_the_head_of_the_logits_is_pytorchs_output() {
    for (model, head) in [
        ("mlp_softmax", Head::Softmax),
        ("mlp_logsoftmax", Head::LogSoftmax),
        ("mlp_bn_softmax", Head::Softmax),
        ("cnn_logsoftmax", Head::LogSoftmax),
        ("resnet_mlp_softmax", Head::Softmax),
    ] {
        assert_both_exports_match(model, Some(head), "logits", RTOL_F64);
        let io = reference(model);
        let logits = load(model, "dynamo").forward_batch(io["x"].view()).unwrap();
        let out = apply_head(head, &logits);
        common::assert_close(
            model,
            out.as_slice().unwrap(),
            io["out"].as_slice().unwrap(),
            RTOL_F64,
        );
        for (a, b) in logits.rows().into_iter().zip(io["out"].rows()) {
            assert_eq!(argmax(a), argmax(b), "{model}: the head keeps the arg-max");
        }
    }
}

#[test]
fn float32_export_matches_pytorch_within_float32_rounding() {
    assert_both_exports_match("mlp_f32_softmax", Some(Head::Softmax), "logits", RTOL_F32);
    // In float64, the same float32 weights give PyTorch's float64 logits exactly.
    assert_both_exports_match("mlp_f32_softmax", Some(Head::Softmax), "logits64", RTOL_F64);
}

#[test]
fn strict_head_refuses_the_head_and_says_what_to_do() {
    let strict = OnnxOptions {
        strict_head: true,
        ..Default::default()
    };
    for exporter in EXPORTERS {
        let path = pytorch_fixture(&format!("mlp_logsoftmax_{exporter}.onnx"));
        let err = Network::from_onnx_with(&path, &strict).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, Error::Unsupported { .. }), "{text}");
        assert!(
            text.contains("LogSoftmax") && text.contains("strict_head"),
            "{text}"
        );
        assert!(Network::from_onnx_with(&path, &OnnxOptions::default()).is_ok());
    }
    // A network without a head loads the same under both settings.
    let plain = pytorch_fixture("mlp_dynamo.onnx");
    assert_eq!(
        Network::from_onnx_with(&plain, &strict).unwrap(),
        Network::from_onnx(&plain).unwrap()
    );
}

#[test]
fn external_data_loads_from_bytes_through_a_resolver() {
    let bytes = std::fs::read(pytorch_fixture("cnn_logsoftmax_dynamo.onnx")).unwrap();
    let mut asked = Vec::new();
    let net = Network::from_onnx_bytes_with(&bytes, &OnnxOptions::default(), |location| {
        asked.push(location.to_string());
        std::fs::read(pytorch_fixture(location))
    })
    .unwrap();
    assert_eq!(asked, vec!["cnn_logsoftmax_dynamo.onnx.data".to_string()]);
    assert_eq!(net, load("cnn_logsoftmax", "dynamo"));

    // Without a resolver the bytes alone cannot supply the weights.
    let err = Network::from_onnx_bytes(&bytes).unwrap_err();
    assert!(matches!(&err, Error::File { .. }), "{err}");
    let source = std::error::Error::source(&err)
        .map(ToString::to_string)
        .unwrap_or_default();
    assert!(source.contains("from_onnx_bytes_with"), "{err}: {source}");
}

#[test]
fn a_missing_data_file_is_a_file_error_naming_it() {
    let dir = std::env::temp_dir().join(format!("cpwl-onnx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let model = dir.join("mlp_dynamo.onnx");
    std::fs::copy(pytorch_fixture("mlp_dynamo.onnx"), &model).unwrap();
    let err = Network::from_onnx(&model).unwrap_err();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        matches!(&err, Error::File { reason, .. } if reason.contains("mlp_dynamo.onnx.data")),
        "{err}"
    );
}

#[test]
fn residual_and_batch_norm_exports_agree_between_exporters() {
    for model in ["mlp_bn_softmax", "resnet_mlp_softmax", "cnn_logsoftmax"] {
        let io = reference(model);
        let [a, b] = EXPORTERS.map(|e| load(model, e).forward_batch(io["x"].view()).unwrap());
        common::assert_close(model, a.as_slice().unwrap(), b.as_slice().unwrap(), RTOL_F64);
    }
}
