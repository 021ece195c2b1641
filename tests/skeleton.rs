//! The vertex skeleton ([`Method::Skeleton`]) against the LP walk: on seeded
//! random ReLU networks in d = 2..5, on every shared region vector, and
//! (through its fallback) on degenerate arrangements; the regions' volumes
//! sum to the domain's.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{assert_subset, json, vectors};
use cpwl::regions::{enumerate, EnumOptions, Method, Partition, RowSource};
use cpwl::run::{Outcome, RunOptions};
use cpwl::{Domain, Network, Plane, Window};
use ndarray::{Array1, Array2};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A `widths[0]`-input ReLU network with weights and biases uniform in
/// `[-1, 1]` and one output.
fn random_net(widths: &[usize], seed: u64) -> Network {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut builder = Network::builder(widths[0]);
    for pair in widths.windows(2) {
        let w = Array2::from_shape_fn((pair[1], pair[0]), |_| rng.random_range(-1.0..1.0));
        let b = Array1::from_shape_fn(pair[1], |_| rng.random_range(-1.0..1.0));
        builder = builder.dense(w, b).unwrap().relu();
    }
    let last = *widths.last().unwrap();
    builder
        .dense(Array2::ones((1, last)), Array1::zeros(1))
        .unwrap()
        .build()
        .unwrap()
}

fn run(net: &Network, domain: &Domain, method: Method) -> Partition {
    let opts = EnumOptions {
        method,
        ..Default::default()
    };
    enumerate(net, domain, &opts).unwrap()
}

/// Everything the two methods must agree on, keyed by pattern: the facets as
/// a set of sources, the neighbours as a set of patterns, the volume.
type Shape = BTreeMap<String, (BTreeSet<String>, BTreeSet<String>, f64)>;

fn shape(p: &Partition) -> Shape {
    let name = |i: usize| p.region(i).pattern().to_string();
    p.regions()
        .iter()
        .map(|r| {
            let facets = r.sources().iter().map(|s| source(*s)).collect();
            let neighbours = r.neighbors().iter().map(|&j| name(j)).collect();
            (r.pattern().to_string(), (facets, neighbours, r.volume()))
        })
        .collect()
}

fn source(s: RowSource) -> String {
    match s {
        RowSource::Domain(k) => format!("domain {k}"),
        RowSource::Unit(u) => format!("unit {u}"),
        RowSource::MaxRival { unit, rival } => format!("unit {unit} rival {rival}"),
    }
}

/// Asserts that the skeleton ran (no fallback) and agrees with the walk.
fn assert_agree(name: &str, net: &Network, domain: &Domain) -> usize {
    let (count, method) = agree(name, net, domain);
    assert_eq!(method, Method::Skeleton, "{name}: fell back to the walk");
    count
}

/// Asserts that [`Method::Skeleton`] (whichever way it ran) agrees with the
/// walk; returns the region count and the method that ran.
fn agree(name: &str, net: &Network, domain: &Domain) -> (usize, Method) {
    let (skel, walk) = (run(net, domain, Method::Skeleton), run(net, domain, Method::Lp));
    assert_eq!(walk.stats().method, Method::Lp);
    let (s, w) = (shape(&skel), shape(&walk));
    assert_eq!(
        s.keys().collect::<Vec<_>>(),
        w.keys().collect::<Vec<_>>(),
        "{name}: patterns"
    );
    for (pattern, (facets, neighbours, volume)) in &s {
        let (wf, wn, wv) = &w[pattern];
        assert_eq!(facets, wf, "{name}: facets of {pattern}");
        assert_eq!(neighbours, wn, "{name}: neighbours of {pattern}");
        assert!(
            (volume - wv).abs() <= 1e-9 * wv.abs().max(1e-300),
            "{name}: volume of {pattern}: {volume} vs {wv}"
        );
    }
    (skel.len(), skel.stats().method)
}

#[test]
fn skeleton_matches_the_walk_on_random_networks_in_2_to_5_dimensions() {
    let cases: [(&[usize], f64); 6] = [
        (&[2, 8, 6], 1.5),
        (&[2, 12], 2.0),
        (&[3, 8, 6], 1.0),
        (&[3, 6, 6, 4], 1.0),
        (&[4, 8, 6], 0.8),
        (&[5, 8, 5], 0.6),
    ];
    for (k, (widths, h)) in cases.into_iter().enumerate() {
        for seed in 0..3 {
            let net = random_net(widths, 100 * k as u64 + seed);
            let domain = Domain::cube(widths[0], -h, h);
            let count = assert_agree(&format!("{widths:?} seed {seed}"), &net, &domain);
            assert!(count > 1, "{widths:?} seed {seed}: {count} regions");
        }
    }
}

#[test]
fn skeleton_matches_the_walk_on_a_polytope_and_a_slice() {
    let net = random_net(&[3, 8, 6], 7);
    // The simplex x, y, z >= -1, x + y + z <= 1 (simple: 3 facets per vertex).
    let mut a = -Array2::<f64>::eye(3);
    a.push_row(ndarray::array![1.0, 1.0, 1.0].view()).unwrap();
    let simplex = Domain::polytope(a, ndarray::array![1.0, 1.0, 1.0, 1.0]);
    assert_agree("simplex", &net, &simplex);
    let plane = Plane::from_basis(
        ndarray::array![0.1, -0.2, 0.05],
        ndarray::array![1.0, 0.0, 0.0],
        ndarray::array![0.0, 0.6, 0.8],
    )
    .unwrap();
    let slice = Domain::plane(plane, Window::Square(1.0));
    assert_agree("slice", &net, &slice);
}

/// Every shared vector's box and low-dimensional slice: the same regions as
/// the walk and the vector's count. Cases with zero biases (many hyperplanes
/// through one point) or duplicate units go through the fallback; the others
/// must not.
#[test]
fn skeleton_matches_the_box_and_slice_vectors() {
    let dir = vectors().join("regions");
    let mut ran = 0;
    for entry in json(&dir.join("index.json")).as_array().unwrap() {
        let id = entry["id"].as_str().unwrap();
        let expected = json(&dir.join(format!("{id}.json")));
        let net = Network::from_npz(dir.join(format!("{id}.npz"))).unwrap();
        let lp = &expected["lp"];
        if !lp.is_null() {
            let bx = lp["box"].as_array().unwrap();
            let domain = Domain::cube(net.input_dim(), bx[0].as_f64().unwrap(), bx[1].as_f64().unwrap());
            let (count, method) = agree(&format!("{id} box"), &net, &domain);
            assert_eq!(count as u64, lp["region_count"].as_u64().unwrap(), "{id}");
            ran += expect_ran(id, method);
        }
        if net.input_dim() <= 10 {
            let domain = common::slice_domain(&dir, id);
            let (count, method) = agree(&format!("{id} slice"), &net, &domain);
            let p2 = &expected["partition2d"];
            assert_eq!(count as u64, p2["region_count"].as_u64().unwrap(), "{id} slice");
            ran += expect_ran(id, method);
        }
    }
    assert!(ran > 0);
}

/// 1 when the skeleton ran; checks that only degenerate cases fell back.
fn expect_ran(id: &str, method: Method) -> usize {
    if id.contains("zerobias") || id.contains("duplicate") {
        return 0;
    }
    assert_eq!(method, Method::Skeleton, "{id}: fell back to the walk");
    1
}

#[test]
fn degenerate_arrangements_fall_back_to_the_walk() {
    // A repeated unit puts every vertex of the first copy on the second.
    let w = ndarray::array![
        [1.0, 0.5, 0.0],
        [1.0, 0.5, 0.0],
        [0.0, 1.0, -1.0],
        [0.3, 0.0, 1.0]
    ];
    let net = Network::builder(3)
        .dense(w, Array1::from(vec![0.1, 0.1, 0.2, -0.3]))
        .unwrap()
        .relu()
        .build()
        .unwrap();
    let domain = Domain::cube(3, -1.0, 1.0);
    let skel = run(&net, &domain, Method::Skeleton);
    assert_eq!(skel.stats().method, Method::Lp);
    assert_eq!(shape(&skel), shape(&run(&net, &domain, Method::Lp)));
    // Max units are handed to the walk as well.
    let net = Network::builder(3)
        .dense(
            Array2::from_shape_fn((4, 3), |(i, j)| ((i * 3 + j) as f64).sin()),
            Array1::zeros(4),
        )
        .unwrap()
        .maxout(2)
        .build()
        .unwrap();
    let skel = run(&net, &domain, Method::Skeleton);
    assert_eq!(skel.stats().method, Method::Lp);
    assert_eq!(shape(&skel), shape(&run(&net, &domain, Method::Lp)));
}

#[test]
fn the_region_budget_holds_and_one_thread_gives_the_same_partition() {
    let net = random_net(&[3, 10, 8], 11);
    let domain = Domain::cube(3, -1.0, 1.0);
    let all = run(&net, &domain, Method::Skeleton);
    let serial = EnumOptions {
        method: Method::Skeleton,
        run: RunOptions {
            threads: Some(1),
            ..Default::default()
        },
        ..Default::default()
    };
    assert_eq!(shape(&enumerate(&net, &domain, &serial).unwrap()), shape(&all));
    let capped = EnumOptions {
        method: Method::Skeleton,
        run: RunOptions {
            max_regions: Some(5),
            ..Default::default()
        },
        ..Default::default()
    };
    let part = enumerate(&net, &domain, &capped).unwrap();
    assert_eq!(part.len(), 5);
    assert_eq!(part.outcome(), Outcome::RegionBudget);
    assert_subset(&part, &all, "skeleton at a budget of 5");
}

#[test]
fn the_thread_count_does_not_change_a_bit() {
    // Enough vertices, and splits per unit, that the cut runs its parallel
    // paths (thousands of each): every region, ball and map the same.
    let net = random_net(&[4, 24, 24], 5);
    let domain = Domain::cube(4, -1.0, 1.0);
    let with = |threads| {
        let opts = EnumOptions {
            method: Method::Skeleton,
            run: RunOptions {
                threads: Some(threads),
                ..Default::default()
            },
            ..Default::default()
        };
        enumerate(&net, &domain, &opts).unwrap()
    };
    let one = with(1);
    assert_eq!(one.stats().method, Method::Skeleton);
    assert!(one.len() > 2000, "{} regions", one.len());
    for threads in [2, 3] {
        let many = with(threads);
        assert_eq!(many.len(), one.len());
        for i in 0..one.len() {
            assert_eq!(many.region(i).to_owned(), one.region(i).to_owned(), "region {i}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn volumes_sum_to_the_domain(seed in 0u64..1_000_000, d in 2usize..5, width in 2usize..9, h in 0.2f64..2.0) {
        let net = random_net(&[d, width, width], seed);
        let domain = Domain::cube(d, -h, h);
        let part = run(&net, &domain, Method::Skeleton);
        let want = (2.0 * h).powi(d as i32);
        prop_assert!((part.total_volume() - want).abs() <= 1e-9 * want, "{} vs {want}", part.total_volume());
    }
}
