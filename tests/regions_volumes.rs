//! Volumes of regions in every dimension (issue 13, item 1): region volumes
//! of a partition add up to the domain's volume, known in closed form, for
//! small random networks in `d = 2..6`; in 2-D the d-dimensional routine
//! equals the polygons' shoelace areas.

mod common;

use common::random_relu_mlp;
use cpwl::regions::{enumerate, EnumOptions, Method, Partition};
use cpwl::{Domain, Network};
use ndarray::{Array1, Array2};
use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Hidden widths that keep the partition small in `d` dimensions.
fn widths(d: usize) -> Vec<usize> {
    match d {
        2 => vec![6, 5],
        3 => vec![5, 4],
        4 => vec![5, 3],
        _ => vec![d],
    }
}

fn walk(net: &Network, domain: &Domain) -> Partition {
    let opts = EnumOptions {
        method: Method::Lp,
        ..Default::default()
    };
    enumerate(net, domain, &opts).unwrap()
}

/// The box `[lo, lo + side]` with random corners, as bounds.
fn random_box(seed: u64, d: usize) -> (Array1<f64>, Array1<f64>) {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    let lo: Array1<f64> = (0..d).map(|_| rng.random_range(-1.5..-0.5)).collect();
    let side: Array1<f64> = (0..d).map(|_| rng.random_range(1.0..2.5)).collect();
    (lo.clone(), lo + side)
}

/// The box `[lo, hi]` cut by a random half-space through its centre: half the
/// box's volume, by central symmetry.
fn half_box(seed: u64, lo: &Array1<f64>, hi: &Array1<f64>) -> Domain {
    let d = lo.len();
    let mut rng = StdRng::seed_from_u64(seed ^ 0xc0ffee);
    let normal: Array1<f64> = (0..d).map(|_| rng.random_range(-1.0..1.0)).collect();
    let centre = (lo + hi) / 2.0;
    let mut a = Array2::zeros((2 * d + 1, d));
    let mut b = Array1::zeros(2 * d + 1);
    for j in 0..d {
        a[[2 * j, j]] = 1.0;
        b[2 * j] = hi[j];
        a[[2 * j + 1, j]] = -1.0;
        b[2 * j + 1] = -lo[j];
    }
    a.row_mut(2 * d).assign(&normal);
    b[2 * d] = normal.dot(&centre);
    Domain::polytope(a, b)
}

fn relative_gap(got: f64, want: f64) -> f64 {
    (got - want).abs() / want
}

proptest! {
    // A fixed seed: every machine runs the same cases.
    #![proptest_config(ProptestConfig {
        cases: 10,
        rng_seed: RngSeed::Fixed(13),
        ..ProptestConfig::default()
    })]

    #[test]
    fn volumes_sum_to_domain(seed in any::<u64>(), d in 2usize..=6, cut in any::<bool>()) {
        let net = random_relu_mlp(seed, d, &widths(d), 2);
        let (lo, hi) = random_box(seed, d);
        let box_volume: f64 = (&hi - &lo).iter().product();
        let (domain, want) = if cut {
            (half_box(seed, &lo, &hi), box_volume / 2.0)
        } else {
            (Domain::boxed(lo, hi), box_volume)
        };
        let part = walk(&net, &domain);
        prop_assert_eq!(part.rejected_thin(), 0);
        let total = part.total_volume();
        prop_assert!(relative_gap(total, want) <= 1e-9, "d = {}: {} vs {}", d, total, want);
        prop_assert!(part.regions().iter().all(|r| r.volume() > 0.0));
    }

    #[test]
    fn planar_volumes_equal_shoelace_areas(seed in any::<u64>()) {
        let net = random_relu_mlp(seed, 2, &[7, 6], 3);
        let (lo, hi) = random_box(seed, 2);
        let part = enumerate(&net, &Domain::boxed(lo, hi), &EnumOptions::default()).unwrap();
        for (i, region) in part.regions().iter().enumerate() {
            prop_assert!(region.polygon().is_some());
            let shoelace = region.volume();
            let from_vertices = region.polytope().volume().unwrap().unwrap();
            prop_assert!(
                relative_gap(from_vertices, shoelace) <= 1e-9,
                "region {}: {} vs {}", i, from_vertices, shoelace
            );
        }
    }
}

#[test]
fn coordinate_planes_cut_the_cube_into_equal_orthants() {
    // relu(x_i) for each coordinate: the 2^d orthants of [-1, 1]^d, volume 1 each.
    for d in 2..=5 {
        let net = Network::builder(d)
            .dense(Array2::eye(d), Array1::zeros(d))
            .unwrap()
            .relu()
            .dense(Array2::ones((1, d)), Array1::zeros(1))
            .unwrap()
            .build()
            .unwrap();
        let part = walk(&net, &Domain::cube(d, -1.0, 1.0));
        assert_eq!(part.len(), 1 << d);
        for region in part.regions() {
            assert!(
                (region.volume() - 1.0).abs() < 1e-12,
                "d = {d}: {}",
                region.volume()
            );
        }
        assert!((part.total_volume() - 2f64.powi(d as i32)).abs() < 1e-12);
    }
}

#[test]
fn a_corner_simplex_has_volume_one_over_d_factorial() {
    // relu(x_1 + ... + x_d - 1) on [0, 1]^d: the region below the plane is the
    // standard simplex, volume 1/d!; the other is the rest of the cube.
    for d in 2..=6 {
        let net = Network::builder(d)
            .dense(Array2::ones((1, d)), Array1::from_elem(1, -1.0))
            .unwrap()
            .relu()
            .build()
            .unwrap();
        let part = walk(&net, &Domain::cube(d, 0.0, 1.0));
        assert_eq!(part.len(), 2);
        let simplex: f64 = 1.0 / (1..=d).map(|k| k as f64).product::<f64>();
        let mut volumes: Vec<f64> = part.regions().iter().map(|r| r.volume()).collect();
        volumes.sort_by(f64::total_cmp);
        assert!(relative_gap(volumes[0], simplex) < 1e-12, "d = {d}");
        assert!(relative_gap(volumes[1], 1.0 - simplex) < 1e-12, "d = {d}");
    }
}
