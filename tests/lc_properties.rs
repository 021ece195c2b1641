//! Local-complexity invariants: layer-1 counts are exact, counts never exceed
//! the width, and the exact variant agrees with the approximation on one layer.

use cpwl::lc::{exact_local_complexity, local_complexity, Directions, LcOptions};
use cpwl::regions::EnumOptions;
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
        let v = dirs.resolve(dim).unwrap();
        let exact = exact_local_complexity(&net, points.view(), 0.4, v.view(), &EnumOptions::default()).unwrap();
        for (i, e) in exact.iter().enumerate() {
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
