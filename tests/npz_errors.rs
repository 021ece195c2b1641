//! One test per malformed-input class of the `.npz` reader and the builder.

mod common;

use std::io::Write;

use cpwl::network::{Conv2d, Pool2d};
use cpwl::{Error, Network};
use ndarray::{array, Array4};

enum Arr<'a> {
    F64(&'a [usize], Vec<f64>),
    F32(&'a [usize], Vec<f32>),
    Text(&'a str),
}

fn npy(a: &Arr) -> Vec<u8> {
    let (descr, shape, data): (String, &[usize], Vec<u8>) = match a {
        Arr::F64(s, v) => ("<f8".into(), s, v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        Arr::F32(s, v) => ("<f4".into(), s, v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        Arr::Text(t) => (
            format!("<U{}", t.len()),
            &[],
            t.chars().flat_map(|c| (c as u32).to_le_bytes()).collect(),
        ),
    };
    common::npy_bytes(&descr, false, shape, &data)
}

fn npz(members: &[(&str, Arr)]) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut buf);
        for (name, arr) in members {
            zip.start_file(format!("{name}.npy"), zip::write::SimpleFileOptions::default())
                .unwrap();
            zip.write_all(&npy(arr)).unwrap();
        }
        zip.finish().unwrap();
    }
    buf.into_inner()
}

fn w(rows: usize, cols: usize) -> Arr<'static> {
    let shape: &'static [usize] = Box::leak(vec![rows, cols].into_boxed_slice());
    Arr::F64(shape, (0..rows * cols).map(|i| (i as f64 * 0.37).sin()).collect())
}

fn b(n: usize) -> Arr<'static> {
    let shape: &'static [usize] = Box::leak(vec![n].into_boxed_slice());
    Arr::F64(shape, vec![0.1; n])
}

fn file_reason(e: Error) -> String {
    match e {
        Error::File { reason, .. } => reason,
        other => panic!("expected a file error, got {other:?}"),
    }
}

#[test]
fn valid_archive_loads_with_each_activation() {
    for act in ["relu", "leaky_relu", "abs"] {
        let net = Network::from_npz_bytes(&npz(&[
            ("W0", w(4, 3)),
            ("b0", b(4)),
            ("W1", w(2, 4)),
            ("b1", b(2)),
            ("act", Arr::Text(act)),
        ]))
        .unwrap();
        assert_eq!((net.input_dim(), net.output_dim(), net.unit_count()), (3, 2, 4));
    }
    let f32_net = Network::from_npz_bytes(&npz(&[
        ("W0", Arr::F32(&[1, 2], vec![1.0, -2.0])),
        ("b0", Arr::F32(&[1], vec![0.5])),
    ]))
    .unwrap();
    assert_eq!(f32_net.forward(array![1.0, 1.0].view()).unwrap()[0], -0.5);
}

#[test]
fn missing_bias_is_an_error() {
    let reason = file_reason(
        Network::from_npz_bytes(&npz(&[("W0", w(4, 3)), ("b0", b(4)), ("W1", w(2, 4))])).unwrap_err(),
    );
    assert!(reason.contains("b1"), "{reason}");
}

#[test]
fn gap_in_numbering_is_an_error() {
    let reason = file_reason(
        Network::from_npz_bytes(&npz(&[
            ("W0", w(4, 3)),
            ("b0", b(4)),
            ("W2", w(2, 4)),
            ("b2", b(2)),
        ]))
        .unwrap_err(),
    );
    assert!(reason.contains("gap"), "{reason}");
}

#[test]
fn bias_without_weight_is_an_error() {
    let reason = file_reason(
        Network::from_npz_bytes(&npz(&[("W0", w(4, 3)), ("b0", b(4)), ("b1", b(2))])).unwrap_err(),
    );
    assert!(reason.contains("b1"), "{reason}");
}

#[test]
fn shapes_that_do_not_chain_are_an_error() {
    let e = Network::from_npz_bytes(&npz(&[
        ("W0", w(4, 3)),
        ("b0", b(4)),
        ("W1", w(2, 5)),
        ("b1", b(2)),
    ]))
    .unwrap_err();
    assert!(
        matches!(e, Error::Shape { ref what, .. } if what.contains("layer 2")),
        "{e}"
    );
    let e = Network::from_npz_bytes(&npz(&[("W0", w(4, 3)), ("b0", b(3))])).unwrap_err();
    assert!(matches!(e, Error::Shape { .. }), "{e}");
    let e = Network::from_npz_bytes(&npz(&[("W0", b(3)), ("b0", b(3))])).unwrap_err();
    assert!(matches!(e, Error::Shape { .. }), "{e}");
}

#[test]
fn non_finite_values_are_an_error() {
    let e = Network::from_npz_bytes(&npz(&[
        ("W0", Arr::F64(&[1, 2], vec![1.0, f64::NAN])),
        ("b0", b(1)),
    ]))
    .unwrap_err();
    assert!(matches!(e, Error::NonFinite { index: 1, .. }), "{e}");
}

#[test]
fn unknown_activation_is_an_error() {
    let reason = file_reason(
        Network::from_npz_bytes(&npz(&[("W0", w(4, 3)), ("b0", b(4)), ("act", Arr::Text("tanh"))]))
            .unwrap_err(),
    );
    assert!(reason.contains("tanh"), "{reason}");
}

#[test]
fn not_an_archive_and_truncation_are_errors() {
    assert!(matches!(
        Network::from_npz_bytes(b"definitely not a zip").unwrap_err(),
        Error::File { .. }
    ));
    let good = npz(&[("W0", w(4, 3)), ("b0", b(4))]);
    for cut in (0..good.len()).step_by(7) {
        assert!(
            Network::from_npz_bytes(&good[..cut]).is_err(),
            "prefix of {cut} bytes loaded"
        );
    }
    assert!(matches!(
        Network::from_npz("/nonexistent/net.npz").unwrap_err(),
        Error::File { .. }
    ));
    let no_weights = file_reason(Network::from_npz_bytes(&npz(&[("x", b(3))])).unwrap_err());
    assert!(no_weights.contains("W0"), "{no_weights}");
}

#[test]
fn builder_rejects_bad_layers() {
    let e = Network::builder(3)
        .dense(array![[1.0, 2.0]], array![0.0])
        .unwrap_err();
    assert!(matches!(e, Error::Shape { .. }));
    let e = Network::builder(4)
        .conv2d(Conv2d::new(Array4::zeros((1, 1, 3, 3)), None))
        .unwrap_err();
    assert!(matches!(e, Error::Shape { .. }), "conv on flat data");
    let e = Network::builder_image(2, 4, 4)
        .conv2d(Conv2d::new(Array4::zeros((1, 1, 3, 3)), None))
        .unwrap_err();
    assert!(matches!(e, Error::Shape { .. }), "channel mismatch");
    let e = Network::builder_image(1, 2, 2)
        .conv2d(Conv2d::new(Array4::zeros((1, 1, 3, 3)), None))
        .unwrap_err();
    assert!(matches!(e, Error::Shape { .. }), "kernel larger than image");
    let e = Network::builder_image(1, 4, 4)
        .max_pool2d(Pool2d {
            kernel: [2, 2],
            stride: [0, 1],
            padding: [0, 0],
            count_include_pad: true,
        })
        .unwrap_err();
    assert!(matches!(e, Error::Invalid { .. }), "zero stride");
    let e = Network::builder(5).maxout(2).build().unwrap_err();
    assert!(matches!(e, Error::Invalid { .. }), "maxout group does not divide");
    let e = Network::builder(2).leaky_relu(f64::NAN).build().unwrap_err();
    assert!(matches!(e, Error::NonFinite { .. }));
    let e = Network::builder(2)
        .residual(|b| b.dense(array![[1.0, 1.0]], array![0.0]))
        .unwrap_err();
    assert!(matches!(e, Error::Shape { .. }), "residual body changes width");
    let net = Network::builder(2)
        .dense(array![[1.0, 1.0]], array![0.0])
        .unwrap()
        .relu()
        .build()
        .unwrap();
    assert!(matches!(
        net.forward(array![1.0].view()).unwrap_err(),
        Error::Shape { .. }
    ));
    assert!(matches!(
        net.forward(array![1.0, f64::INFINITY].view()).unwrap_err(),
        Error::NonFinite { .. }
    ));
    assert!(
        net.affine_of(&"11".parse().unwrap()).is_err(),
        "pattern of the wrong length"
    );
    assert!(
        net.affine_of(&"2".parse().unwrap()).is_err(),
        "two-piece unit with value 2"
    );
}
