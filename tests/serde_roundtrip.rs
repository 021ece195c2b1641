//! Serde round trips (feature `serde`): networks, partitions, regions and
//! geometry come back equal and compute the same things; tampered files give
//! errors, not networks that panic later.
#![cfg(feature = "serde")]

use cpwl::network::{BatchNorm, Conv2d, Pool2d, Skip};
use cpwl::regions::{enumerate, EnumOptions, EnumStats, Partition, RegionBuf};
use cpwl::{Domain, Network, Pattern, Plane, Window};
use ndarray::{array, Array1, Array2, Array4};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Through JSON text (serde_json's `float_roundtrip` makes floats exact).
fn round_trip<T: Serialize + DeserializeOwned>(value: &T) -> T {
    let text = serde_json::to_string(value).expect("serialises");
    serde_json::from_str(&text).expect("deserialises")
}

/// A network with every layer kind: convolution (strided, padded, grouped),
/// folded and unfolded batch norm, leaky ReLU, max and average pooling, a
/// residual block with a projection, abs, maxout and dense layers.
fn every_layer_network(rng: &mut StdRng) -> Network {
    let mut kernel = |o, i, k| Array4::from_shape_simple_fn((o, i, k, k), || rng.random_range(-0.5..0.5));
    let conv1 = Conv2d {
        padding: [1, 1],
        ..Conv2d::new(kernel(4, 2, 3), Some(array![0.1, -0.2, 0.3, 0.0]))
    };
    let grouped = Conv2d {
        groups: 2,
        stride: [1, 1],
        padding: [1, 1],
        ..Conv2d::new(kernel(4, 2, 3), None)
    };
    let proj = Conv2d::new(kernel(4, 4, 1), Some(array![0.0, 0.5, -0.5, 1.0]));
    let bn = |c: usize| BatchNorm {
        gamma: Array1::linspace(0.5, 1.5, c),
        beta: Array1::linspace(-0.1, 0.1, c),
        mean: Array1::linspace(-0.2, 0.2, c),
        var: Array1::linspace(0.5, 2.0, c),
        eps: 1e-5,
    };
    let w1 = Array2::from_shape_fn((9, 64), |(i, j)| ((i * 7 + j * 3) % 11) as f64 / 11.0 - 0.5);
    Network::builder_image(2, 6, 6)
        .batch_norm(bn(2))
        .unwrap()
        .conv2d(conv1)
        .unwrap()
        .batch_norm(bn(4))
        .unwrap()
        .leaky_relu(0.1)
        .max_pool2d(Pool2d::square(2))
        .unwrap()
        .residual_with(Skip::Conv(proj), |b| Ok(b.conv2d(grouped)?.relu()))
        .unwrap()
        .avg_pool2d(Pool2d {
            kernel: [2, 2],
            stride: [1, 1],
            padding: [1, 1],
            count_include_pad: false,
        })
        .unwrap()
        .abs()
        .flatten()
        .dense(w1, Array1::linspace(-0.3, 0.3, 9))
        .unwrap()
        .maxout(3)
        .dense(array![[1.0, -1.0, 0.5], [0.25, 0.5, -2.0]], array![0.1, -0.1])
        .unwrap()
        .build()
        .unwrap()
}

#[test]
fn network_round_trip_is_equal_and_computes_the_same() {
    let mut rng = StdRng::seed_from_u64(7);
    let net = every_layer_network(&mut rng);
    let back = round_trip(&net);
    assert_eq!(back, net);
    let x = Array2::from_shape_simple_fn((20, net.input_dim()), || rng.random_range(-2.0..2.0));
    assert_eq!(
        back.forward_batch(x.view()).unwrap(),
        net.forward_batch(x.view()).unwrap()
    );
    assert_eq!(
        back.pattern_batch(x.view()).unwrap(),
        net.pattern_batch(x.view()).unwrap()
    );
    let x0 = x.row(0);
    assert_eq!(back.local_affine(x0).unwrap(), net.local_affine(x0).unwrap());
}

#[test]
fn mlp_round_trip_through_the_npz_loader_shape() {
    let net = Network::builder(2)
        .dense(array![[1.0, 2.0], [-1.0, 0.5]], array![0.0, 1.0])
        .unwrap()
        .abs()
        .residual_with(
            Skip::Dense {
                w: array![[1.0, 0.0], [0.0, 2.0]],
                b: array![0.5, 0.0],
            },
            |b| Ok(b.dense(array![[0.5, 0.5], [1.0, -1.0]], array![0.0, 0.0])?.relu()),
        )
        .unwrap()
        .dense(array![[1.0, 1.0]], array![0.0])
        .unwrap()
        .build()
        .unwrap();
    let back = round_trip(&net);
    assert_eq!(back, net);
    let x = array![0.3, -0.7];
    assert_eq!(back.forward(x.view()).unwrap(), net.forward(x.view()).unwrap());
}

fn small_partition(domain: Domain) -> Partition {
    let net = Network::builder(3)
        .dense(
            array![[1.0, -1.0, 0.0], [0.5, 1.0, 1.0], [0.0, 1.0, -1.0]],
            array![0.0, -0.5, 0.2],
        )
        .unwrap()
        .relu()
        .dense(array![[1.0, 2.0, -1.0]], array![0.0])
        .unwrap()
        .build()
        .unwrap();
    enumerate(&net, &domain, &EnumOptions::default()).unwrap()
}

fn slice_domain() -> Domain {
    let plane = Plane::through(
        array![0.0, 0.0, 0.0].view(),
        array![1.0, 0.0, 0.5].view(),
        array![0.0, 1.0, -0.5].view(),
    )
    .unwrap();
    Domain::plane(plane, Window::Square(1.5))
}

#[test]
fn partition_round_trip_keeps_regions_lookup_and_location() {
    for domain in [Domain::cube(3, -1.0, 1.0), slice_domain()] {
        let part = small_partition(domain);
        assert!(part.len() > 2);
        let back: Partition = round_trip(&part);
        assert_eq!(back.regions(), part.regions());
        assert_eq!(back.stats(), part.stats());
        assert_eq!(back.domain(), part.domain());
        assert_eq!(back.network(), part.network());
        assert_eq!(back.adjacency(), part.adjacency());
        for (i, r) in part.regions().iter().enumerate() {
            assert_eq!(back.find(r.pattern()), Some(i));
            assert_eq!(back.locate(r.center()), Some(i));
        }
        let region: RegionBuf = round_trip(&part.region(0).to_owned());
        assert_eq!(region.view(), part.region(0));
        let stats: EnumStats = round_trip(part.stats());
        assert_eq!(&stats, part.stats());
    }
}

#[test]
fn geometry_and_patterns_round_trip() {
    let domain = slice_domain();
    assert_eq!(round_trip(&domain), domain);
    let plane = domain.as_plane().unwrap().clone();
    assert_eq!(round_trip(&plane), plane);
    let cut = Domain::polytope(
        array![[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]],
        array![1.0, 1.0, 1.0],
    );
    assert_eq!(round_trip(&cut), cut);
    let pattern: Pattern = "01z3".parse().unwrap();
    assert_eq!(serde_json::to_string(&pattern).unwrap(), r#""01z3""#);
    assert_eq!(round_trip(&pattern), pattern);
    let polygon =
        cpwl::geometry::ConvexPolygon::from_vertices(vec![[0.0, 0.0], [2.0, 0.0], [0.0, 1.0]]).unwrap();
    assert_eq!(round_trip(&polygon), polygon);
}

/// A change to a network's JSON.
type Edit = Box<dyn FnOnce(&mut serde_json::Value)>;

/// Edits the JSON of `net` and reads it back.
fn tampered(net: &Network, edit: impl FnOnce(&mut serde_json::Value)) -> Result<Network, serde_json::Error> {
    let mut value = serde_json::to_value(net).unwrap();
    edit(&mut value);
    serde_json::from_value(value)
}

#[test]
fn tampered_networks_are_errors() {
    let mut rng = StdRng::seed_from_u64(3);
    let net = every_layer_network(&mut rng);
    let mlp = Network::builder(2)
        .dense(array![[1.0, 2.0], [-1.0, 0.5]], array![0.0, 1.0])
        .unwrap()
        .relu()
        .dense(array![[1.0, 1.0]], array![0.0])
        .unwrap()
        .build()
        .unwrap();
    assert!(tampered(&mlp, |_| {}).is_ok());
    let edits: Vec<(&str, Edit)> = vec![
        ("unit count", Box::new(|v| v["units"] = 5.into())),
        (
            "output shape",
            Box::new(|v| v["output"] = serde_json::json!({"Flat": 2})),
        ),
        (
            "input shape",
            Box::new(|v| v["input"] = serde_json::json!({"Flat": 3})),
        ),
        (
            "empty input",
            Box::new(|v| v["input"] = serde_json::json!({"Flat": 0})),
        ),
        (
            "huge image",
            Box::new(|v| v["input"] = serde_json::json!({"Image": {"c": u64::MAX, "h": 4, "w": 4}})),
        ),
        (
            "unit offset",
            Box::new(|v| v["layers"][1]["TwoPiece"]["offset"] = 1.into()),
        ),
        (
            "relu width",
            Box::new(|v| v["layers"][1]["TwoPiece"]["len"] = 3.into()),
        ),
        (
            "non-finite slope",
            Box::new(|v| v["layers"][1]["TwoPiece"]["act"] = serde_json::json!({"LeakyRelu": null})),
        ),
        (
            "weight shape",
            Box::new(|v| v["layers"][0]["Dense"]["w"]["dim"] = serde_json::json!([1, 4])),
        ),
        (
            "bias length",
            Box::new(|v| v["layers"][0]["Dense"]["b"]["dim"] = serde_json::json!([1])),
        ),
    ];
    for (what, edit) in edits {
        assert!(tampered(&mlp, edit).is_err(), "{what} accepted");
    }
    // Max-pooling taps outside the input, an empty window, a skip path that is
    // not affine: found by walking the JSON to the layer.
    for (what, edit) in [
        ("tap outside the input", serde_json::json!(1_000_000)),
        ("padding only", serde_json::json!(u32::MAX)),
    ] {
        let result = tampered(&net, |v| {
            let layers = v["layers"].as_array_mut().unwrap();
            let max = layers.iter_mut().find(|l| l.get("Max").is_some()).unwrap();
            let cand = max["Max"]["cand"].as_array_mut().unwrap();
            for t in cand.iter_mut().take(4) {
                *t = edit.clone();
            }
        });
        assert!(result.is_err(), "{what} accepted");
    }
    let result = tampered(&net, |v| {
        let layers = v["layers"].as_array_mut().unwrap();
        let res = layers.iter_mut().find(|l| l.get("Residual").is_some()).unwrap();
        res["Residual"]["skip"] = serde_json::json!({"TwoPiece": {"act": "Relu", "len": 64, "offset": 0}});
    });
    assert!(result.is_err(), "non-affine skip accepted");
}

#[test]
fn tampered_partitions_and_planes_are_errors() {
    let part = small_partition(Domain::cube(3, -1.0, 1.0));
    let edit = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v = serde_json::to_value(&part).unwrap();
        f(&mut v);
        serde_json::from_value::<Partition>(v)
    };
    assert!(edit(&|_| {}).is_ok());
    assert!(edit(&|v| v["regions"][0]["neighbors"] = serde_json::json!([99])).is_err());
    assert!(edit(&|v| v["regions"][0]["pattern"] = "0".into()).is_err());
    assert!(edit(&|v| {
        let first = v["regions"][0].clone();
        v["regions"][1] = first;
    })
    .is_err());
    assert!(edit(&|v| v["domain"] = serde_json::to_value(Domain::cube(2, 0.0, 1.0)).unwrap()).is_err());
    let mut plane = serde_json::to_value(slice_domain().as_plane().unwrap()).unwrap();
    plane["u"]["data"] = serde_json::json!([1.0, 0.0]);
    plane["u"]["dim"] = serde_json::json!([2]);
    assert!(serde_json::from_value::<Plane>(plane).is_err());
}
