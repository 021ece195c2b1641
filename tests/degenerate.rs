//! The degenerate suite: duplicate and zero rows, parallel units, all-dead
//! layers, hyperplanes exactly through a window vertex or through a vertex of
//! the arrangement, max-unit ties and zero biases, in 2-D and 3-D. Every
//! method that applies (the splitter in 2-D; the LP walk, the skeleton, which
//! hands the arrangements it cannot settle to the walk, and the exact method
//! in both) must give the same patterns, the floating-point methods the same
//! facets and neighbours, and the counts must equal the closed forms derived
//! by hand below; nothing may panic.

mod common;

use std::collections::BTreeSet;

use cpwl::regions::exact::{enumerate_exact, is_full_dimensional};
use cpwl::regions::{Method, Partition};
use cpwl::{Domain, Network};
use ndarray::{Array1, Array2};

/// A network from dense layers given as rows `[w..., b]`, each followed by
/// a ReLU, then a one-output sum.
fn relu_net(dim: usize, layers: &[&[&[f64]]]) -> Network {
    let mut builder = Network::builder(dim);
    let mut inputs = dim;
    for rows in layers {
        builder = builder
            .dense(weights(rows, inputs), bias(rows, inputs))
            .unwrap()
            .relu();
        inputs = rows.len();
    }
    builder
        .dense(Array2::ones((1, inputs)), Array1::zeros(1))
        .unwrap()
        .build()
        .unwrap()
}

fn weights(rows: &[&[f64]], inputs: usize) -> Array2<f64> {
    Array2::from_shape_fn((rows.len(), inputs), |(i, j)| rows[i][j])
}

fn bias(rows: &[&[f64]], inputs: usize) -> Array1<f64> {
    Array1::from_iter(rows.iter().map(|r| r[inputs]))
}

/// One dense layer `rows` then maxout over groups of `k`.
fn maxout_net(dim: usize, rows: &[&[f64]], k: usize) -> Network {
    Network::builder(dim)
        .dense(weights(rows, dim), bias(rows, dim))
        .unwrap()
        .maxout(k)
        .build()
        .unwrap()
}

/// What every method must agree on: the patterns (as sorted strings), and
/// for the floating-point methods the neighbours (as pattern pairs) and the
/// number of facets of each region (in pattern order).
#[derive(Debug, PartialEq)]
struct Shape {
    patterns: Vec<String>,
    neighbours: BTreeSet<(String, String)>,
    facets: Vec<usize>,
}

fn shape(p: &Partition) -> Shape {
    let name = |i: usize| p.region(i).pattern().to_string();
    let mut patterns: Vec<String> = (0..p.len()).map(name).collect();
    patterns.sort();
    let pair = |(i, j): (usize, usize)| {
        let (a, b) = (name(i), name(j));
        if a < b {
            (a, b)
        } else {
            (b, a)
        }
    };
    Shape {
        patterns,
        neighbours: p.adjacency().into_iter().map(pair).collect(),
        facets: p.regions().iter().map(|r| r.polytope().len()).collect(),
    }
}

/// Runs every method on the case, checks they agree with each other and
/// with the closed-form count, and returns the common shape.
fn check(name: &str, net: &Network, domain: &Domain, expected: usize) -> Shape {
    // The skeleton settles what it can and hands the rest to the walk: the
    // same answers either way.
    let mut methods = vec![Method::Lp, Method::Skeleton];
    if domain.dim() == 2 {
        methods.push(Method::PlaneSplit);
    }
    let mut exact: Vec<String> = enumerate_exact(net, domain, 1000)
        .unwrap()
        .iter()
        .map(|r| r.pattern().to_string())
        .collect();
    exact.sort();
    assert_eq!(exact.len(), expected, "{name}: exact method");
    let mut shapes = Vec::new();
    for method in methods {
        for tol_radius in [None, Some(0.0)] {
            let partition = common::enumerate_keeping_thin(net, domain, method, tol_radius);
            // The walk tries plain flips across degenerate facets, whose
            // sets may be flat: it counts those apart from thin cells, which
            // this suite has none of (the exact regions are all found); the
            // skeleton either hands the case to the walk or meets no flat set.
            if method != Method::PlaneSplit {
                assert!(
                    partition.thin_cells().is_empty(),
                    "{name}: tol_radius {tol_radius:?}"
                );
                assert_eq!(partition.rejected_thin(), 0, "{name}");
            }
            for thin in partition.thin_cells() {
                let flat = !is_full_dimensional(net, domain, thin.pattern()).unwrap();
                assert!(flat, "{name}: {method:?} rejected {}", thin.pattern());
            }
            let s = shape(&partition);
            assert_eq!(s.patterns, exact, "{name}: {method:?}, tol_radius {tol_radius:?}");
            if let Some(volume) = domain.volume() {
                if domain.dim() == 2 {
                    let total: f64 = partition.regions().iter().map(|r| r.volume()).sum();
                    assert!(
                        (total - volume).abs() < 1e-12 * volume,
                        "{name}: {method:?} area {total}"
                    );
                }
            }
            shapes.push(s);
        }
    }
    for s in &shapes[1..] {
        assert_eq!(s, &shapes[0], "{name}: methods disagree");
    }
    shapes.swap_remove(0)
}

fn square() -> Domain {
    Domain::cube(2, -1.0, 1.0)
}

fn cube() -> Domain {
    Domain::cube(3, -1.0, 1.0)
}

#[test]
fn duplicate_rows_cut_once() {
    // x, x again, y: two lines, four quadrants; the repeated unit copies
    // the first one's bit.
    let net = relu_net(2, &[&[&[1.0, 0.0, 0.0], &[1.0, 0.0, 0.0], &[0.0, 1.0, 0.0]]]);
    let s = check("duplicate rows 2-D", &net, &square(), 4);
    assert_eq!(s.patterns, ["000", "001", "110", "111"]);
    assert_eq!(s.neighbours.len(), 4);
    assert!(s.facets.iter().all(|&f| f == 4));
    let net = relu_net(
        3,
        &[&[
            &[1.0, 0.0, 0.0, 0.0],
            &[2.0, 0.0, 0.0, 0.0],
            &[0.0, 1.0, 0.0, 0.0],
            &[0.0, 0.0, 1.0, 0.0],
        ]],
    );
    // Three planes through the cube's centre: eight octants, each a cube
    // with six facets and three neighbours.
    let s = check("duplicate rows 3-D", &net, &cube(), 8);
    assert_eq!(s.neighbours.len(), 12);
    assert!(s.facets.iter().all(|&f| f == 6));
}

#[test]
fn zero_rows_and_parallel_units() {
    // Units: x, the constant 0 (dead, bit 0), the constant 0.5 (bit 1),
    // x - 0.5 and x + 0.5: three parallel lines, four strips.
    let net = relu_net(
        2,
        &[&[
            &[1.0, 0.0, 0.0],
            &[0.0, 0.0, 0.0],
            &[0.0, 0.0, 0.5],
            &[1.0, 0.0, -0.5],
            &[1.0, 0.0, 0.5],
        ]],
    );
    let s = check("zero rows 2-D", &net, &square(), 4);
    assert_eq!(s.patterns, ["00100", "00101", "10101", "10111"]);
    // Strips in a row: three neighbour pairs.
    assert_eq!(s.neighbours.len(), 3);
    let net = relu_net(
        3,
        &[&[
            &[0.0, 0.0, 0.0, 0.0],
            &[0.0, 1.0, 0.0, 0.0],
            &[0.0, 1.0, 0.0, -0.5],
        ]],
    );
    check("zero rows 3-D", &net, &cube(), 3);
}

#[test]
fn an_all_dead_layer_adds_nothing() {
    // Layer 1: x, y (outputs >= 0); layer 2: -h1 - h2 - 1 and -h1 - 0.5,
    // negative everywhere: four quadrants, layer 2 always 00.
    let net = relu_net(
        2,
        &[
            &[&[1.0, 0.0, 0.0], &[0.0, 1.0, 0.0]],
            &[&[-1.0, -1.0, -1.0], &[-1.0, 0.0, -0.5]],
        ],
    );
    let s = check("dead layer 2-D", &net, &square(), 4);
    assert!(s.patterns.iter().all(|p| p.ends_with("00")));
    let net = relu_net(
        3,
        &[
            &[
                &[1.0, 0.0, 0.0, 0.0],
                &[0.0, 1.0, 0.0, 0.0],
                &[0.0, 0.0, 1.0, 0.0],
            ],
            &[&[-1.0, -1.0, -1.0, 0.0], &[0.0, 0.0, 0.0, 0.0]],
        ],
    );
    // The first unit of layer 2 is 0 on the octant x, y, z <= 0 and
    // negative elsewhere: dead (bit 0) everywhere, still eight regions.
    check("dead layer 3-D", &net, &cube(), 8);
}

#[test]
fn hyperplanes_through_window_vertices() {
    // The diagonal x = y runs through two corners; x + y = 2 only touches
    // the corner (1, 1): two regions.
    let net = relu_net(2, &[&[&[1.0, -1.0, 0.0], &[1.0, 1.0, -2.0]]]);
    let s = check("window vertex 2-D", &net, &square(), 2);
    assert_eq!(s.patterns, ["00", "10"]);
    assert_eq!(s.facets, [3, 3]);
    // In 3-D: x + y + z = 3 touches the corner (1, 1, 1), x = y holds the
    // cube's diagonal edge: two prisms.
    let net = relu_net(3, &[&[&[1.0, 1.0, 1.0, -3.0], &[1.0, -1.0, 0.0, 0.0]]]);
    let s = check("window vertex 3-D", &net, &cube(), 2);
    assert_eq!(s.facets, [5, 5]);
}

#[test]
fn hyperplanes_through_a_vertex_of_the_arrangement() {
    // Three lines through the origin: 2 n = 6 sectors.
    let net = relu_net(2, &[&[&[1.0, 0.0, 0.0], &[0.0, 1.0, 0.0], &[1.0, -1.0, 0.0]]]);
    let s = check("concurrent lines", &net, &square(), 6);
    assert_eq!(s.neighbours.len(), 6);
    // Four planes through the origin in general position (any three
    // independent): 2 (C(3,0) + C(3,1) + C(3,2)) = 14 cones.
    let net = relu_net(
        3,
        &[&[
            &[1.0, 0.0, 0.0, 0.0],
            &[0.0, 1.0, 0.0, 0.0],
            &[0.0, 0.0, 1.0, 0.0],
            &[1.0, 1.0, 1.0, 0.0],
        ]],
    );
    check("concurrent planes", &net, &cube(), 14);
}

#[test]
fn zero_biases_and_dead_pieces_deeper() {
    // Layer 1: h1 = relu(x), h2 = relu(y); layer 2: h1 - h2. On x, y > 0 it
    // cuts along x = y; on x > 0 > y it is x > 0; on y > 0 > x it is -y < 0;
    // on x, y < 0 it is the constant 0 (bit 0): 4 + 1 = 5 regions.
    let net = relu_net(2, &[&[&[1.0, 0.0, 0.0], &[0.0, 1.0, 0.0]], &[&[1.0, -1.0, 0.0]]]);
    let s = check("zero biases 2-D", &net, &square(), 5);
    assert_eq!(s.patterns, ["000", "010", "101", "110", "111"]);
    // The same in 3-D with z as a third first-layer unit: each of the five
    // regions in (x, y) splits by z = 0.
    let net = relu_net(
        3,
        &[
            &[
                &[1.0, 0.0, 0.0, 0.0],
                &[0.0, 1.0, 0.0, 0.0],
                &[0.0, 0.0, 1.0, 0.0],
            ],
            &[&[1.0, -1.0, 0.0, 0.0]],
        ],
    );
    check("zero biases 3-D", &net, &cube(), 10);
}

#[test]
fn max_unit_ties_go_to_the_lower_candidate() {
    // max(x, y, x): the third candidate ties the first everywhere and never
    // wins; two half-squares split by x = y.
    let net = maxout_net(2, &[&[1.0, 0.0, 0.0], &[0.0, 1.0, 0.0], &[1.0, 0.0, 0.0]], 3);
    let s = check("max tie 2-D", &net, &square(), 2);
    assert_eq!(s.patterns, ["0", "1"]);
    // max(0, 0): a constant tie, one region with the first candidate.
    let net = maxout_net(2, &[&[0.0, 0.0, 0.0], &[0.0, 0.0, 0.0]], 2);
    assert_eq!(check("max constant tie", &net, &square(), 1).patterns, ["0"]);
    // max(x, y, z, x) in the cube: three regions, candidate 3 never wins.
    let net = maxout_net(
        3,
        &[
            &[1.0, 0.0, 0.0, 0.0],
            &[0.0, 1.0, 0.0, 0.0],
            &[0.0, 0.0, 1.0, 0.0],
            &[1.0, 0.0, 0.0, 0.0],
        ],
        4,
    );
    let s = check("max tie 3-D", &net, &cube(), 3);
    assert_eq!(s.patterns, ["0", "1", "2"]);
}
