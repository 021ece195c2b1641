//! Local-complexity invariants: layer-1 counts are exact, counts never exceed
//! the width, and the exact variant agrees with the approximation on one layer.

use cpwl::lc::{exact_local_complexity, local_complexity, Directions, LcOptions};
use cpwl::Network;
use ndarray::{Array1, Array2};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn net_and_points(seed: u64, dim: usize, width: usize, depth: usize) -> (Network, Array2<f64>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut b = Network::builder(dim);
    let mut fan_in = dim;
    for _ in 0..depth {
        let w = Array2::from_shape_simple_fn((width, fan_in), || rng.random_range(-1.0..1.0));
        let bias = Array1::from_shape_simple_fn(width, || rng.random_range(-0.3..0.3));
        b = b.dense(w, bias).unwrap().relu();
        fan_in = width;
    }
    let w = Array2::from_shape_simple_fn((2, fan_in), || rng.random_range(-1.0..1.0));
    let net = b.dense(w, Array1::zeros(2)).unwrap().build().unwrap();
    let points = Array2::from_shape_simple_fn((4, dim), || rng.random_range(-0.5..0.5));
    (net, points)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn layer_one_counts_equal_exact_hyperplane_count(seed in 0u64..1000, dim in 2usize..5) {
        let (net, points) = net_and_points(seed, dim, 8, 1);
        let dirs = Directions::Seeded { count: dim, seed };
        let opts = LcOptions { count_output_layer: false, ..LcOptions::new(0.4, dirs.clone()) };
        let approx = local_complexity(&net, points.view(), &opts).unwrap();
        let exact = exact_local_complexity(&net, points.view(), &opts).unwrap();
        prop_assert!(exact.outcome().is_complete());
        for (i, e) in exact.points().iter().enumerate() {
            prop_assert_eq!(approx.per_layer()[[i, 0]] as usize, e.units, "point {}", i);
        }
    }

    #[test]
    fn counts_never_exceed_layer_widths(seed in 0u64..1000, depth in 1usize..4) {
        let (net, points) = net_and_points(seed, 5, 6, depth);
        let report = local_complexity(&net, points.view(), &LcOptions::new(0.8, Directions::Seeded { count: 3, seed })).unwrap();
        for row in report.per_layer().outer_iter() {
            for (&c, &w) in row.iter().zip(report.widths()) {
                prop_assert!(c as usize <= w);
            }
        }
        prop_assert!(report.fraction().iter().all(|&f| (0.0..=1.0).contains(&f)));
    }
}

/// A small CNN on 1 x 6 x 6 images: conv 1 -> 3 (3x3, pad 1), ReLU, conv 3 -> 2
/// (3x3, stride 2, pad 1), ReLU, flatten, dense 18 -> 2.
fn small_cnn(seed: u64) -> Network {
    use cpwl::network::Conv2d;
    use ndarray::Array4;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut conv = |cout: usize, cin: usize, stride: usize| Conv2d {
        stride: [stride; 2],
        padding: [1; 2],
        ..Conv2d::new(
            Array4::from_shape_simple_fn((cout, cin, 3, 3), || rng.random_range(-1.0..1.0)),
            Some(Array1::from_shape_simple_fn(cout, || rng.random_range(-0.3..0.3))),
        )
    };
    let (c0, c1) = (conv(3, 1, 1), conv(2, 3, 2));
    let w = Array2::from_shape_simple_fn((2, 18), || rng.random_range(-1.0..1.0));
    Network::builder_image(1, 6, 6)
        .conv2d(c0)
        .unwrap()
        .relu()
        .conv2d(c1)
        .unwrap()
        .relu()
        .flatten()
        .dense(w, Array1::zeros(2))
        .unwrap()
        .build()
        .unwrap()
}

/// LC by the definition: every vertex `x +- r v_k` through the network
/// separately (no folding), three-valued signs compared with the first vertex.
fn reference_counts(net: &Network, x: ndarray::ArrayView1<f64>, dirs: &Array2<f64>, r: f64) -> Vec<u32> {
    use cpwl::backend::{Backend, CpuBackend, Keep};
    let p = dirs.nrows();
    let mut verts = Array2::zeros((2 * p, x.len()));
    for k in 0..p {
        verts.row_mut(k).assign(&(&x + &(&dirs.row(k) * r)));
        verts.row_mut(p + k).assign(&(&x - &(&dirs.row(k) * r)));
    }
    let fwd = CpuBackend::serial()
        .forward(net, verts.view(), Keep::PreActivations)
        .unwrap();
    let mut layers: Vec<Array2<f64>> = fwd.pre_activations.unwrap();
    layers.push(fwd.outputs);
    let sign = |v: f64| (v > 0.0) as i8 - (v < 0.0) as i8;
    layers
        .iter()
        .map(|z| {
            (0..z.ncols())
                .filter(|&u| (1..z.nrows()).any(|i| sign(z[[i, u]]) != sign(z[[0, u]])))
                .count() as u32
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn folded_convolution_counts_equal_the_definition(seed in 0u64..1000, p in 1usize..6) {
        let net = small_cnn(seed);
        let mut rng = StdRng::seed_from_u64(seed + 7);
        let points = Array2::from_shape_simple_fn((5, 36), || rng.random_range(0.0..1.0));
        let dirs = Directions::Seeded { count: p, seed }.resolve(36).unwrap();
        let r = 0.2;
        let opts = LcOptions { count_output_layer: true, ..LcOptions::new(r, Directions::Given(dirs.clone())) };
        let report = local_complexity(&net, points.view(), &opts).unwrap();
        for (i, x) in points.outer_iter().enumerate() {
            let expected = reference_counts(&net, x, &dirs, r);
            let got: Vec<u32> = report.per_layer().row(i).to_vec();
            prop_assert_eq!(got, expected, "point {}", i);
        }
    }
}
