//! Thin cells: networks built to have cells thinner than the default
//! tolerance, with exact counts from closed forms. The floating-point
//! methods report what they reject ([`Partition::thin_cells`]); with
//! `tol_radius` 0 they count every cell they can resolve; the exact method
//! (`regions::exact`) counts every full-dimensional region, however thin,
//! and settles each reported thin cell.

mod common;

use std::collections::BTreeSet;

use cpwl::regions::exact::{enumerate_exact, is_full_dimensional};
use cpwl::regions::{enumerate, EnumOptions, Method, Partition};
use cpwl::{Domain, Network, Pattern};
use ndarray::{array, Array1, Array2};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// One ReLU layer whose units are the given lines `a . y + c` (rows
/// `[a_0, a_1, c]`), summed into one output.
fn lines(rows: &[[f64; 3]]) -> Network {
    let rows: Vec<&[f64]> = rows.iter().map(|r| &r[..]).collect();
    hyperplanes(2, &rows)
}

/// One ReLU layer whose units are the hyperplanes `a . y + c` in `dim`
/// dimensions (rows `[a..., c]`), summed into one output.
fn hyperplanes(dim: usize, rows: &[&[f64]]) -> Network {
    let w = Array2::from_shape_fn((rows.len(), dim), |(i, j)| rows[i][j]);
    let b = Array1::from_iter(rows.iter().map(|r| r[dim]));
    Network::builder(dim)
        .dense(w, b)
        .unwrap()
        .relu()
        .dense(Array2::ones((1, rows.len())), array![0.0])
        .unwrap()
        .build()
        .unwrap()
}

fn square() -> Domain {
    Domain::cube(2, -1.0, 1.0)
}

fn run(net: &Network, domain: &Domain, method: Method, tol_radius: Option<f64>) -> Partition {
    common::enumerate_keeping_thin(net, domain, method, tol_radius)
}

/// The patterns of a partition as sorted strings.
fn patterns(partition: &Partition) -> Vec<String> {
    sorted(partition.regions().iter().map(|r| r.pattern().to_string()))
}

fn exact_patterns(net: &Network, domain: &Domain) -> Vec<String> {
    let regions = enumerate_exact(net, domain, 10_000).unwrap();
    sorted(regions.iter().map(|r| r.pattern().to_string()))
}

fn sorted(names: impl Iterator<Item = String>) -> Vec<String> {
    let mut v: Vec<String> = names.collect();
    v.sort();
    v
}

const METHODS: [Method; 2] = [Method::PlaneSplit, Method::Lp];

/// The neighbour pairs of a partition, as sorted pattern pairs.
fn neighbour_pairs(partition: &Partition) -> BTreeSet<(String, String)> {
    let name = |i: usize| partition.regions()[i].pattern().to_string();
    partition
        .adjacency()
        .into_iter()
        .map(|(i, j)| {
            let (a, b) = (name(i), name(j));
            if a < b {
                (a, b)
            } else {
                (b, a)
            }
        })
        .collect()
}

/// In an arrangement of lines (one ReLU layer), two cells share an edge
/// exactly when their patterns differ in one line: the other lines cut the
/// square to a convex set that the one line crosses, so both sides of it
/// meet along a segment. The neighbour pairs that the exact patterns imply.
fn one_flip_pairs(patterns: &[String]) -> BTreeSet<(String, String)> {
    let differ = |a: &str, b: &str| a.chars().zip(b.chars()).filter(|(x, y)| x != y).count();
    let mut pairs = BTreeSet::new();
    for (k, a) in patterns.iter().enumerate() {
        for b in &patterns[k + 1..] {
            if differ(a, b) == 1 {
                pairs.insert((a.clone().min(b.clone()), a.clone().max(b.clone())));
            }
        }
    }
    pairs
}

#[test]
fn a_strip_thinner_than_the_tolerance_is_reported_then_counted_at_zero_tolerance() {
    // x = 0 and x = 1e-10: three strips, the middle one 1e-10 wide (the
    // default tolerance is 1e-9 times the diagonal, about 2.8e-9).
    let delta = 1e-10;
    let net = lines(&[[1.0, 0.0, 0.0], [1.0, 0.0, -delta]]);
    let exact = exact_patterns(&net, &square());
    assert_eq!(exact, ["00", "10", "11"]);
    for method in METHODS {
        let default = run(&net, &square(), method, None);
        assert_eq!(patterns(&default), ["00", "11"], "{method:?}");
        assert_eq!(default.rejected_thin(), 1, "{method:?}");
        let thin = &default.thin_cells()[0];
        assert_eq!(thin.pattern().to_string(), "10", "{method:?}");
        // The strip's largest disc has radius delta / 2 about x = delta / 2.
        assert!(
            (thin.radius() - delta / 2.0).abs() < 1e-3 * delta,
            "{method:?}: {}",
            thin.radius()
        );
        assert!(
            (thin.center()[0] - delta / 2.0).abs() < 1e-3 * delta,
            "{method:?}"
        );
        assert!(is_full_dimensional(&net, &square(), thin.pattern()).unwrap());
        let zero = run(&net, &square(), method, Some(0.0));
        assert_eq!(patterns(&zero), exact, "{method:?}");
        assert_eq!(zero.rejected_thin(), 0, "{method:?}");
        if method == Method::Lp {
            // The strip lies between the outer strips: they are not
            // neighbours, although one step from either crosses it.
            assert_eq!(neighbour_pairs(&zero), one_flip_pairs(&exact));
            assert_eq!(neighbour_pairs(&zero).len(), 2);
        }
        let area: f64 = zero.regions().iter().map(|r| r.volume()).sum();
        assert!((area - 4.0).abs() < 1e-12, "{method:?}: {area}");
    }
}

#[test]
fn thin_cells_are_not_recorded_unless_asked() {
    let net = lines(&[[1.0, 0.0, 0.0], [1.0, 0.0, -1e-10]]);
    let opts = EnumOptions::default();
    let partition = enumerate(&net, &square(), &opts).unwrap();
    assert_eq!(partition.rejected_thin(), 1);
    assert!(partition.thin_cells().is_empty());
}

#[test]
fn a_tiny_triangle_of_three_lines_small_analogue_of_w1b() {
    // x = 0, y = 0 and x + y = eps cross pairwise inside the square, in
    // general position: 1 + 3 + 3 = 7 regions, one of them the triangle
    // (0, 0), (eps, 0), (0, eps), of inradius eps (2 - sqrt 2) / 2.
    let eps = 1e-9;
    let net = lines(&[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [1.0, 1.0, -eps]]);
    let exact = exact_patterns(&net, &square());
    assert_eq!(exact.len(), 7);
    let inradius = eps * (2.0 - 2f64.sqrt()) / 2.0;
    let default = run(&net, &square(), Method::PlaneSplit, None);
    assert_eq!(default.len(), 6);
    assert_eq!(default.rejected_thin(), 1);
    let thin = &default.thin_cells()[0];
    assert_eq!(thin.pattern().to_string(), "110");
    assert!((thin.radius() - inradius).abs() < 1e-3 * inradius);
    assert!(is_full_dimensional(&net, &square(), thin.pattern()).unwrap());
    let mut all = patterns(&default);
    all.push(thin.pattern().to_string());
    all.sort();
    assert_eq!(all, exact);
    assert_eq!(
        patterns(&run(&net, &square(), Method::PlaneSplit, Some(0.0))),
        exact
    );
    // The triangle's facets are shorter than the LP tolerance seen from
    // outside, so at the default tolerance the walk never reaches it (what
    // it finds is a subset of the exact regions, and nothing is rejected).
    // At tolerance 0 it settles those rows in exact arithmetic and crosses
    // them: every region, and neighbours only across shared edges.
    let walk = run(&net, &square(), Method::Lp, None);
    assert!(patterns(&walk).iter().all(|p| exact.contains(p)));
    assert_eq!(walk.len(), 6);
    assert_eq!(walk.rejected_thin(), 0);
    let zero = run(&net, &square(), Method::Lp, Some(0.0));
    assert_eq!(patterns(&zero), exact);
    assert_eq!(zero.rejected_thin(), 0);
    assert_eq!(neighbour_pairs(&zero), one_flip_pairs(&exact));
    assert_eq!(neighbour_pairs(&zero).len(), 9);
    let triangle = zero
        .regions()
        .iter()
        .find(|r| r.pattern().to_string() == "110")
        .unwrap();
    assert_eq!(triangle.polytope().len(), 3);
    assert!((triangle.radius() - inradius).abs() < 1e-3 * inradius);
}

#[test]
fn thin_regions_in_three_dimensions_at_zero_tolerance() {
    // Planes x = 0, y = 0, z = 0 and x + y + z = eps: a tetrahedron of
    // edge eps at the origin, whose facets are too small for the LP
    // tolerance, and a slab 1e-10 thick between z = 0.5 and z = 0.5 + 1e-10.
    let eps = 1e-9;
    let rows: [[f64; 4]; 6] = [
        [1.0, 0.0, 0.0, 0.0],
        [0.0, 1.0, 0.0, 0.0],
        [0.0, 0.0, 1.0, 0.0],
        [1.0, 1.0, 1.0, -eps],
        [0.0, 0.0, 1.0, -0.5],
        [0.0, 0.0, 1.0, -0.5 - 1e-10],
    ];
    let rows: Vec<&[f64]> = rows.iter().map(|r| &r[..]).collect();
    let net = hyperplanes(3, &rows);
    let cube = Domain::cube(3, -1.0, 1.0);
    let exact = exact_patterns(&net, &cube);
    // The thin cells exist: the tetrahedron (x, y, z > 0, x + y + z < eps,
    // below both slab planes) and the slab's cells (above z = 0.5, below
    // z = 0.5 + 1e-10), which the other planes cut into several.
    let tetrahedron = "111000";
    let slab: Vec<&String> = exact.iter().filter(|p| p.ends_with("10")).collect();
    assert!(exact.iter().any(|p| p == tetrahedron), "{exact:?}");
    assert!(!slab.is_empty(), "{exact:?}");
    // They are thinner than the default tolerance, so the default walk does
    // not list them.
    let default = patterns(&run(&net, &cube, Method::Lp, None));
    assert!(!default.iter().any(|p| p == tetrahedron));
    assert!(slab.iter().all(|p| !default.contains(p)));
    let zero = run(&net, &cube, Method::Lp, Some(0.0));
    assert_eq!(patterns(&zero), exact);
    assert_eq!(zero.rejected_thin(), 0);
    assert_eq!(neighbour_pairs(&zero), one_flip_pairs(&exact));
}

#[test]
fn slivers_below_the_sign_tolerance_need_exact_arithmetic() {
    // 1e-14 apart: every floating-point side test puts the second line on
    // the first, so the sliver never becomes a cell; the exact method still
    // finds it, and decides the impossible pattern too.
    let net = lines(&[[1.0, 0.0, 0.0], [1.0, 0.0, -1e-14]]);
    let exact = enumerate_exact(&net, &square(), 100).unwrap();
    let names = sorted(exact.iter().map(|r| r.pattern().to_string()));
    assert_eq!(names, ["00", "10", "11"]);
    let sliver = exact.iter().find(|r| r.pattern().to_string() == "10").unwrap();
    assert!(sliver.witness()[0] > 0.0 && sliver.witness()[0] < 1e-14);
    assert!(!is_full_dimensional(&net, &square(), &"01".parse::<Pattern>().unwrap()).unwrap());
    for method in METHODS {
        let found = run(&net, &square(), method, Some(0.0));
        assert!(found.len() <= 3, "{method:?}");
        assert!(patterns(&found).iter().all(|p| names.contains(p)), "{method:?}");
    }
}

/// A seeded network with `hidden` ReLU layers of `width` units on `dim`
/// inputs, weights uniform in [-1, 1].
fn random_net(seed: u64, dim: usize, hidden: &[usize]) -> Network {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut builder = Network::builder(dim);
    let mut inputs = dim;
    for &width in hidden {
        let w = Array2::from_shape_fn((width, inputs), |_| rng.random_range(-1.0..1.0));
        let b = Array1::from_shape_fn(width, |_| rng.random_range(-0.5..0.5));
        builder = builder.dense(w, b).unwrap().relu();
        inputs = width;
    }
    let w = Array2::from_shape_fn((2, inputs), |_| rng.random_range(-1.0..1.0));
    builder.dense(w, array![0.0, 0.0]).unwrap().build().unwrap()
}

#[test]
fn exact_counts_equal_both_methods_on_generic_networks() {
    for seed in 0..4 {
        let net = random_net(seed, 2, &[5, 4]);
        let exact = exact_patterns(&net, &square());
        for method in METHODS {
            let found = run(&net, &square(), method, Some(0.0));
            assert_eq!(patterns(&found), exact, "seed {seed}, {method:?}");
        }
    }
    let cube = Domain::cube(3, -1.0, 1.0);
    for seed in 10..12 {
        let net = random_net(seed, 3, &[4, 3]);
        let exact = exact_patterns(&net, &cube);
        assert_eq!(
            patterns(&run(&net, &cube, Method::Lp, Some(0.0))),
            exact,
            "seed {seed}"
        );
    }
}

#[test]
fn exact_enumeration_stops_at_its_region_budget_and_checks_its_inputs() {
    let net = lines(&[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]);
    assert!(matches!(
        enumerate_exact(&net, &square(), 3),
        Err(cpwl::Error::Budget { .. })
    ));
    assert_eq!(enumerate_exact(&net, &square(), 4).unwrap().len(), 4);
    let cube = Domain::cube(3, -1.0, 1.0);
    assert!(matches!(
        enumerate_exact(&net, &cube, 10),
        Err(cpwl::Error::Shape { .. })
    ));
    let short: Pattern = "1".parse().unwrap();
    assert!(matches!(
        is_full_dimensional(&net, &square(), &short),
        Err(cpwl::Error::Invalid { .. })
    ));
}
