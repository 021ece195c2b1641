//! Invariants of 2-D partitions (regions.md), by property tests on small
//! random networks, and a suite of degenerate arrangements.

use cpwl::regions::{enumerate, EnumOptions, Method, Partition};
use cpwl::{Domain, Network, Plane, Window};
use ndarray::{array, Array1, Array2};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The nonlinearity of a random network.
#[derive(Clone, Copy, Debug)]
enum Act {
    Relu,
    Leaky,
    Abs,
    Maxout,
}

fn gaussian(rng: &mut StdRng) -> f64 {
    // Box-Muller from two uniforms.
    let u: f64 = rng.random_range(1e-12..1.0);
    let v: f64 = rng.random();
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

fn matrix(rng: &mut StdRng, rows: usize, cols: usize) -> Array2<f64> {
    let scale = (2.0 / cols as f64).sqrt();
    Array2::from_shape_simple_fn((rows, cols), || scale * gaussian(rng))
}

fn vector(rng: &mut StdRng, n: usize, scale: f64) -> Array1<f64> {
    Array1::from_shape_simple_fn(n, || scale * gaussian(rng))
}

/// A random MLP on `input` inputs with the given hidden widths and outputs;
/// `residual` wraps every hidden layer after the first in a residual block.
fn random_net(
    seed: u64,
    input: usize,
    hidden: &[usize],
    outputs: usize,
    act: Act,
    residual: bool,
) -> Network {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut b = Network::builder(input);
    let mut width = input;
    for (k, &h) in hidden.iter().enumerate() {
        let pieces = if matches!(act, Act::Maxout) { 2 } else { 1 };
        let layer = |b: cpwl::NetworkBuilder, rng: &mut StdRng, from: usize| {
            let b = b.dense(matrix(rng, h * pieces, from), vector(rng, h * pieces, 0.3))?;
            Ok(match act {
                Act::Relu => b.relu(),
                Act::Leaky => b.leaky_relu(0.1),
                Act::Abs => b.abs(),
                Act::Maxout => b.maxout(2),
            })
        };
        b = if residual && k > 0 && h == width {
            b.residual(|inner| layer(inner, &mut rng, width)).unwrap()
        } else {
            layer(b, &mut rng, width).unwrap()
        };
        width = h;
    }
    b.dense(matrix(&mut rng, outputs, width), vector(&mut rng, outputs, 0.3))
        .unwrap()
        .build()
        .unwrap()
}

fn run(net: &Network, domain: &Domain, method: Method, threads: Option<usize>) -> Partition {
    let opts = EnumOptions {
        method,
        run: cpwl::run::RunOptions {
            threads,
            ..Default::default()
        },
        ..Default::default()
    };
    enumerate(net, domain, &opts).unwrap()
}

fn split(net: &Network, domain: &Domain) -> Partition {
    run(net, domain, Method::PlaneSplit, None)
}

fn acts() -> impl Strategy<Value = Act> {
    prop_oneof![
        Just(Act::Relu),
        Just(Act::Leaky),
        Just(Act::Abs),
        Just(Act::Maxout)
    ]
}

/// A 2-D domain of a network on `input` inputs: a box when `input == 2`,
/// else a slice through three random points with a square or triangle window.
fn domain_for(seed: u64, input: usize, triangle: bool) -> Domain {
    if input == 2 {
        return Domain::cube(2, -1.5, 1.5);
    }
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    let x: Vec<Array1<f64>> = (0..3).map(|_| vector(&mut rng, input, 1.0)).collect();
    let plane = Plane::through(x[0].view(), x[1].view(), x[2].view()).unwrap();
    let window = if triangle {
        Window::triangle()
    } else {
        Window::square(1.5)
    };
    Domain::plane(plane, window)
}

/// Random points strictly inside a convex polygon (positive barycentric-like
/// weights of its vertices).
fn interior_points(vertices: &[[f64; 2]], rng: &mut StdRng, n: usize) -> Vec<[f64; 2]> {
    (0..n)
        .map(|_| {
            let w: Vec<f64> = vertices.iter().map(|_| rng.random_range(0.05..1.0)).collect();
            let total: f64 = w.iter().sum();
            let mut p = [0.0, 0.0];
            for (v, wi) in vertices.iter().zip(&w) {
                p[0] += v[0] * wi / total;
                p[1] += v[1] * wi / total;
            }
            p
        })
        .collect()
}

fn check_invariants(net: &Network, domain: &Domain, part: &Partition) -> Result<(), TestCaseError> {
    let area = domain.volume().unwrap();
    prop_assert!(
        (part.total_volume() - area).abs() <= 1e-9 * area,
        "areas {} vs {area}",
        part.total_volume()
    );
    let mut rng = StdRng::seed_from_u64(7);
    for (i, r) in part.regions().iter().enumerate() {
        let centre = domain.to_input(r.center());
        prop_assert_eq!(
            &net.pattern(centre.view()).unwrap(),
            r.pattern(),
            "centre pattern of region {}",
            i
        );
        for y in interior_points(r.polygon().unwrap(), &mut rng, 3) {
            let x = domain.to_input(array![y[0], y[1]].view());
            let want = net.forward(x.view()).unwrap();
            let got = r.affine().a.dot(&array![y[0], y[1]]) + r.affine().b;
            for (g, w) in got.iter().zip(&want) {
                prop_assert!(
                    (g - w).abs() <= 1e-9 * (1.0 + w.abs()),
                    "affine map of region {}: {} vs {}",
                    i,
                    g,
                    w
                );
            }
        }
        for &j in r.neighbors() {
            prop_assert!(
                part.region(j).neighbors().contains(&i),
                "adjacency not symmetric: {} {}",
                i,
                j
            );
            prop_assert_ne!(r.pattern(), part.region(j).pattern());
        }
    }
    Ok(())
}

/// Every point of a grid over the domain's bounding box that lies in the
/// domain has its pattern's region, and that region's polygon holds it; a
/// point whose pattern is not a region lies within 1e-9 of a boundary.
fn check_grid(net: &Network, domain: &Domain, part: &Partition) -> Result<(), TestCaseError> {
    let (lo, hi) = domain.bounding_box().unwrap();
    let window = domain.constraints().unwrap();
    let n = 40;
    for a in 0..=n {
        for b in 0..=n {
            let y = array![
                lo[0] + (hi[0] - lo[0]) * a as f64 / n as f64,
                lo[1] + (hi[1] - lo[1]) * b as f64 / n as f64
            ];
            if window.max_violation(y.view()) > -1e-9 {
                continue;
            }
            let pattern = net.pattern(domain.to_input(y.view()).view()).unwrap();
            let p = [y[0], y[1]];
            match part.find(&pattern) {
                Some(i) => {
                    let r = &part.region(i);
                    prop_assert!(
                        r.polytope().contains(y.view(), 1e-9),
                        "grid point {:?} outside its region {}",
                        p,
                        i
                    );
                }
                None => {
                    let i = part.locate(y.view());
                    prop_assert!(i.is_some(), "grid point {:?} not located", p);
                    let slack = -part.region(i.unwrap()).polytope().max_violation(y.view());
                    prop_assert!(
                        slack <= 1e-9,
                        "grid point {:?} has no region but is {} inside",
                        p,
                        slack
                    );
                }
            }
        }
    }
    Ok(())
}

fn patterns(p: &Partition) -> Vec<String> {
    p.regions().iter().map(|r| r.pattern().to_string()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn split_partition_invariants_hold(
        seed in any::<u64>(), act in acts(), input in prop_oneof![Just(2usize), Just(5)],
        depth in 1usize..4, width in 3usize..9, outputs in 1usize..4, residual in any::<bool>(),
        triangle in any::<bool>(),
    ) {
        let net = random_net(seed, input, &vec![width; depth], outputs, act, residual);
        let domain = domain_for(seed, input, triangle);
        let part = split(&net, &domain);
        prop_assert_eq!(part.rejected_thin(), 0);
        check_invariants(&net, &domain, &part)?;
        check_grid(&net, &domain, &part)?;
    }

    #[test]
    fn walk_agrees_with_split(
        seed in any::<u64>(), act in acts(), input in prop_oneof![Just(2usize), Just(4)],
        depth in 1usize..3, width in 2usize..6, residual in any::<bool>(),
    ) {
        let net = random_net(seed, input, &vec![width; depth], 2, act, residual);
        let domain = domain_for(seed, input, false);
        let split = split(&net, &domain);
        let walk = run(&net, &domain, Method::Lp, None);
        prop_assert_eq!(patterns(&split), patterns(&walk));
        prop_assert_eq!(split.adjacency(), walk.adjacency());
    }

    #[test]
    fn serial_and_parallel_splits_agree(seed in any::<u64>(), act in acts(), depth in 1usize..4) {
        let net = random_net(seed, 3, &vec![12; depth], 3, act, false);
        let domain = domain_for(seed, 3, false);
        let serial = run(&net, &domain, Method::PlaneSplit, Some(1));
        let parallel = run(&net, &domain, Method::PlaneSplit, None);
        let two = run(&net, &domain, Method::PlaneSplit, Some(2));
        prop_assert_eq!(serial.regions(), parallel.regions());
        prop_assert_eq!(serial.regions(), two.regions());
        prop_assert_eq!(serial.layer_counts(), parallel.layer_counts());
    }

    #[test]
    fn one_layer_count_has_closed_form(seed in any::<u64>(), n in 1usize..14) {
        // n lines through random points of the square [-1, 1]^2: each crosses it.
        let mut rng = StdRng::seed_from_u64(seed);
        let mut w = Array2::zeros((n, 2));
        let mut b = Array1::zeros(n);
        for i in 0..n {
            let angle: f64 = rng.random_range(0.0..std::f64::consts::PI);
            let p = [rng.random_range(-0.9..0.9), rng.random_range(-0.9..0.9)];
            w[[i, 0]] = angle.cos();
            w[[i, 1]] = angle.sin();
            b[i] = -(angle.cos() * p[0] + angle.sin() * p[1]);
        }
        let mut crossings = 0;
        for i in 0..n {
            for j in i + 1..n {
                let det = w[[i, 0]] * w[[j, 1]] - w[[i, 1]] * w[[j, 0]];
                let x = (-b[i] * w[[j, 1]] + b[j] * w[[i, 1]]) / det;
                let y = (-w[[i, 0]] * b[j] + w[[j, 0]] * b[i]) / det;
                if x.abs() < 1.0 && y.abs() < 1.0 {
                    crossings += 1;
                }
            }
        }
        let net = Network::builder(2).dense(w, b).unwrap().relu()
            .dense(Array2::ones((1, n)), array![0.0]).unwrap().build().unwrap();
        let part = split(&net, &Domain::cube(2, -1.0, 1.0));
        prop_assert_eq!(part.len(), 1 + n + crossings);
    }
}

/// The walk once read the neighbour across a facet at a witness point beyond
/// the thin end of a wedge-shaped neighbour, and reported a region that only
/// touches at a vertex.
#[test]
fn walk_neighbours_share_an_edge_past_a_thin_wedge() {
    let seed = 11981146445115203856;
    let net = random_net(seed, 2, &[5, 5], 2, Act::Relu, false);
    let domain = domain_for(seed, 2, false);
    let split = split(&net, &domain);
    let walk = run(&net, &domain, Method::Lp, None);
    assert_eq!(patterns(&split), patterns(&walk));
    assert_eq!(split.adjacency(), walk.adjacency());
}

/// A network on the plane with one hidden layer of the given lines
/// `w . x + b` and the given activation, summed into one output.
fn lines_net(lines: &[[f64; 3]], leaky: bool) -> Network {
    let n = lines.len();
    let w = Array2::from_shape_fn((n, 2), |(i, j)| lines[i][j]);
    let b = Array1::from_shape_fn(n, |i| lines[i][2]);
    let hidden = Network::builder(2).dense(w, b).unwrap();
    let hidden = if leaky {
        hidden.leaky_relu(0.2)
    } else {
        hidden.relu()
    };
    let out = Array2::from_shape_fn((1, n), |(_, j)| 1.0 + 0.1 * j as f64);
    hidden.dense(out, array![0.0]).unwrap().build().unwrap()
}

/// Both methods on a degenerate arrangement: same patterns and adjacency,
/// areas summing to the square, the expected count.
fn check_degenerate(net: &Network, expected: usize) {
    let domain = Domain::cube(2, -1.0, 1.0);
    let s = split(net, &domain);
    let w = run(net, &domain, Method::Lp, None);
    assert_eq!(patterns(&s), patterns(&w), "pattern sets");
    assert_eq!(s.adjacency(), w.adjacency(), "adjacency");
    assert_eq!(s.len(), expected, "region count");
    assert!(
        (s.total_volume() - 4.0).abs() < 1e-12,
        "area {}",
        s.total_volume()
    );
    check_invariants(net, &domain, &s).unwrap();
}

#[test]
fn lines_through_vertices_cut_cleanly() {
    // Both diagonals pass through two corners each; with the axes: 8 sectors.
    let lines = [
        [1.0, -1.0, 0.0],
        [1.0, 1.0, 0.0],
        [1.0, 0.0, 0.0],
        [0.0, 1.0, 0.0],
    ];
    check_degenerate(&lines_net(&lines, false), 8);
    // A line touching only the corner (1, 1) splits nothing.
    let touch = [[1.0, -1.0, 0.0], [1.0, 1.0, -2.0]];
    check_degenerate(&lines_net(&touch, false), 2);
}

#[test]
fn lines_along_window_edges_split_nothing() {
    // x = 1, y = -1 and x = -1 run along edges; x = 0 cuts.
    let lines = [
        [1.0, 0.0, -1.0],
        [0.0, 1.0, 1.0],
        [-1.0, 0.0, -1.0],
        [1.0, 0.0, 0.0],
    ];
    let net = lines_net(&lines, true);
    check_degenerate(&net, 2);
    let part = split(&net, &Domain::cube(2, -1.0, 1.0));
    // Inside the square x - 1 < 0, y + 1 > 0 and -x - 1 < 0.
    for r in part.regions() {
        let text = r.pattern().to_string();
        assert_eq!(&text[..3], "010", "pattern {text}");
    }
}

#[test]
fn duplicate_and_coincident_units_add_no_regions() {
    // Unit 1 repeats unit 0, unit 2 is twice it, unit 3 is its negation.
    let lines = [
        [1.0, 2.0, 0.3],
        [1.0, 2.0, 0.3],
        [2.0, 4.0, 0.6],
        [-1.0, -2.0, -0.3],
        [1.0, -1.0, 0.1],
    ];
    let net = lines_net(&lines, true);
    check_degenerate(&net, 4);
    let part = split(&net, &Domain::cube(2, -1.0, 1.0));
    for r in part.regions() {
        let v: Vec<u8> = r.pattern().iter().collect();
        assert_eq!((v[0], v[2]), (v[1], v[1]), "duplicates share their bit");
        assert_eq!(v[3], 1 - v[0], "the negated unit has the other bit");
    }
}

#[test]
fn dead_and_zero_row_units_take_the_sign_of_their_constant() {
    // Unit 1 is constant 0 (bit 0), unit 2 constant 0.5 (bit 1); the second
    // layer's unit 0 reads only the dead unit 1, so it is constant too, and
    // its unit 1 adds the line x + y / 2 = 0.1 on the active side of unit 0.
    let net = Network::builder(2)
        .dense(array![[1.0, 0.5], [0.0, 0.0], [0.0, 0.0]], array![0.1, 0.0, 0.5])
        .unwrap()
        .relu()
        .dense(array![[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]], array![-0.25, -0.2])
        .unwrap()
        .relu()
        .dense(array![[1.0, 1.0]], array![0.0])
        .unwrap()
        .build()
        .unwrap();
    let part = split(&net, &Domain::cube(2, -1.0, 1.0));
    for r in part.regions() {
        let v: Vec<u8> = r.pattern().iter().collect();
        assert_eq!((v[1], v[2], v[3]), (0, 1, 0), "pattern {}", r.pattern());
    }
    check_degenerate(&net, part.len());
    assert_eq!(part.len(), 3);
}

#[test]
fn zero_bias_lines_through_the_origin() {
    // Six lines through the origin (a corner of every sector): 12 sectors.
    let lines: Vec<[f64; 3]> = (0..6)
        .map(|k| {
            let a = std::f64::consts::PI * (k as f64 + 0.25) / 6.0;
            [a.cos(), a.sin(), 0.0]
        })
        .collect();
    check_degenerate(&lines_net(&lines, false), 12);
}

#[test]
fn maxout_ties_go_to_the_lowest_candidate() {
    // Candidates 0 and 1 are identical: candidate 1 never wins.
    let net = Network::builder(2)
        .dense(array![[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], array![0.0, 0.0, 0.0])
        .unwrap()
        .maxout(3)
        .dense(array![[1.0]], array![0.0])
        .unwrap()
        .build()
        .unwrap();
    check_degenerate(&net, 2);
    let part = split(&net, &Domain::cube(2, -1.0, 1.0));
    let mut texts = patterns(&part);
    texts.sort();
    assert_eq!(texts, ["0", "2"]);
}
