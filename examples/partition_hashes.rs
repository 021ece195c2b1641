//! One SHA-256 per enumeration workload, over every region's pattern text, its
//! polygon (the bits of each vertex coordinate) or else its H-representation
//! rows (the bits of every coefficient), and its sorted neighbour list, with
//! the region count: refactors of the enumerators must leave every line of
//! the output unchanged.
//!
//! The workloads: W1 (the 2-D slice of the 784-200-200-200-10 MLP of
//! `benches/w1_slice.rs`, its smaller window), W2 with d = 3 and 4 (as
//! `benches/w2_lp.rs`), and every case of the shared region vectors (as
//! `tests/regions_vectors.rs` loads them), by each method that applies.
//!
//! ```text
//! cargo run --release --example partition_hashes > hashes.txt
//! ```
//!
//! With `--topology` it prints instead, for W2 (d = 3, 4, 6, 8) and the
//! vectors' boxes and low-dimensional slices, one line per method (the LP
//! walk, then the skeleton) with a hash of what does not depend on rounding:
//! each region's pattern, its facets' sources (sorted) and its neighbours'
//! patterns (sorted), regions in pattern order. The two lines of a workload
//! must carry the same hash.
//!
//! ```text
//! cargo run --release --example partition_hashes -- --topology
//! ```
//!
//! With `--skeleton` it prints instead one line per skeleton run
//! ([`Method::Skeleton`], with the method that ran): W2 (d = 3, 4, 6, 8) on
//! the bench's boxes and on boxes of a few thousand regions, the W1 slice's
//! smaller window, and the vectors' boxes and slices; each hash covers, besides
//! the default lines' contents, every region's Chebyshev centre and radius,
//! its H-representation (also for 2-D regions) and affine map. Changes to the skeleton
//! must leave these lines unchanged (`docs/hashes-skeleton.txt`).
//!
//! ```text
//! cargo run --release --example partition_hashes -- --skeleton
//! ```
//!
//! With arguments `w2 <d> <h> [lp|skeleton] [<net.npz> [<max_regions>]]` it
//! runs only W2 with that dimension and half-width (by the LP walk unless
//! named), on one thread (for instruction counts under `valgrind
//! --tool=callgrind`, and to compare the walk's output at d = 6 and 8); a
//! file names the network (the peers' `target/peers/w2/d<d>/net.npz`,
//! otherwise the bench's), and the run may stop after `max_regions` regions:
//!
//! ```text
//! cargo run --release --example partition_hashes -- w2 8 0.01
//! cargo run --release --example partition_hashes -- w2 6 0.05 skeleton
//! cargo run --release --example partition_hashes -- w2 8 0.015 lp target/peers/w2/d8/net.npz 300
//! ```

#[path = "../benches/common/mod.rs"]
mod bench_common;
#[path = "../tests/common/mod.rs"]
mod test_common;

use cpwl::regions::{enumerate, EnumOptions, Method, Partition, RowSource};
use cpwl::{Domain, Network, Plane, Window};
use sha2::{Digest, Sha256};

/// The W1 window's half-width (the bench's smaller one, about 1e4 regions).
const W1_HALF_WIDTH: f64 = 6.0;
/// The W2 cases run here: `(d, h)` of the bench's box `[-h, h]^d`.
const W2_CASES: [(usize, f64); 2] = [(3, 0.1), (4, 0.04)];
/// Input dimensions above this skip the LP walk on slices (as the vector tests do).
const LP_SLICE_MAX_DIM: usize = 10;

/// The hash of everything a partition says about its regions.
fn partition_hash(p: &Partition) -> String {
    hash_regions(p, false)
}

/// [`partition_hash`], with each region's Chebyshev centre and radius, its
/// H-representation and affine map too when `strict`.
fn hash_regions(p: &Partition, strict: bool) -> String {
    let mut h = Sha256::new();
    for r in p.regions() {
        if strict {
            let (poly, map) = (r.polytope(), r.affine());
            r.center()
                .iter()
                .chain([r.radius()].iter())
                .chain(poly.a.iter())
                .chain(poly.b.iter())
                .chain(map.a.iter())
                .chain(map.b.iter())
                .for_each(|v| h.update(v.to_bits().to_le_bytes()));
        }
        h.update(r.pattern().to_string().as_bytes());
        h.update(b"|");
        match r.polygon() {
            Some(vertices) => vertices
                .iter()
                .flatten()
                .for_each(|v| h.update(v.to_bits().to_le_bytes())),
            None => {
                let poly = r.polytope();
                poly.a
                    .iter()
                    .chain(poly.b.iter())
                    .for_each(|v| h.update(v.to_bits().to_le_bytes()));
            }
        }
        h.update(b"|");
        for n in r.neighbors() {
            h.update((*n as u64).to_le_bytes());
        }
        h.update(b"\n");
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The hash of a partition's combinatorics: patterns, facet sources and
/// neighbour patterns, each sorted (regions come in pattern order).
fn topology_hash(p: &Partition) -> String {
    let mut h = Sha256::new();
    for r in p.regions() {
        h.update(r.pattern().to_string().as_bytes());
        let mut facets: Vec<String> = r
            .sources()
            .iter()
            .map(|s| match s {
                RowSource::Domain(k) => format!("d{k}"),
                RowSource::Unit(u) => format!("u{u}"),
                RowSource::MaxRival { unit, rival } => format!("u{unit}r{rival}"),
            })
            .collect();
        facets.sort();
        let mut neighbours: Vec<String> = r
            .neighbors()
            .iter()
            .map(|&j| p.region(j).pattern().to_string())
            .collect();
        neighbours.sort();
        h.update(format!("|{}|{}\n", facets.join(","), neighbours.join(",")).as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Enumerates by `method` with default options, the time on stderr.
fn timed(name: &str, net: &Network, domain: &Domain, method: Method) -> Partition {
    let opts = EnumOptions {
        method,
        ..Default::default()
    };
    let start = std::time::Instant::now();
    let part = enumerate(net, domain, &opts).unwrap_or_else(|e| panic!("{name}: {e}"));
    eprintln!("{name}: {:?}", start.elapsed());
    part
}

/// One line: name, region count, the method that ran, `key=hash`.
fn ran_line(name: &str, part: &Partition, key: &str, hash: &str) {
    println!(
        "{name:<44} regions={:<7} ran={:<8} {key}={hash}",
        part.len(),
        format!("{:?}", part.stats().method),
    );
}

/// Enumerates by the walk and by the skeleton, one topology line each.
fn report_topology(name: &str, net: &Network, domain: &Domain) {
    for (tag, method) in [("lp", Method::Lp), ("skeleton", Method::Skeleton)] {
        let name = format!("{name}/{tag}");
        let part = timed(&name, net, domain, method);
        ran_line(&name, &part, "topology", &topology_hash(&part));
    }
}

/// The `--topology` lines: W2 at every size, the vectors' boxes and slices.
fn topology() {
    for (d, h) in [(3, 0.1), (4, 0.04), (6, 0.025), (8, 0.015)] {
        let net = bench_common::torch_mlp(&[d, 64, 64, 64, 1], d as u64);
        report_topology(&format!("w2_d{d}"), &net, &Domain::cube(d, -h, h));
    }
    vector_domains(LP_SLICE_MAX_DIM, report_topology);
}

/// Each vector case's box (where it has one) and slice (where its input has
/// at most `max_slice_dim` dimensions), as `(name, network, domain)`.
fn vector_domains(max_slice_dim: usize, mut each: impl FnMut(&str, &Network, &Domain)) {
    let dir = test_common::vectors().join("regions");
    let index = test_common::json(&dir.join("index.json"));
    for entry in index.as_array().expect("index") {
        let id = entry["id"].as_str().expect("id");
        let expected = test_common::json(&dir.join(format!("{id}.json")));
        let net = Network::from_npz(dir.join(format!("{id}.npz"))).expect("network");
        if let Some(bx) = expected["lp"]["box"].as_array() {
            let (lo, hi) = (bx[0].as_f64().expect("lo"), bx[1].as_f64().expect("hi"));
            each(&format!("{id}/box"), &net, &Domain::cube(net.input_dim(), lo, hi));
        }
        if net.input_dim() <= max_slice_dim {
            each(&format!("{id}/slice"), &net, &test_common::slice_domain(&dir, id));
        }
    }
}

/// Enumerates and prints one line: name, region count, hash.
fn report(name: &str, net: &Network, domain: &Domain, method: Method) {
    let opts = EnumOptions {
        method,
        ..Default::default()
    };
    report_with(name, net, domain, &opts);
}

/// [`report`] with the given options.
fn report_with(name: &str, net: &Network, domain: &Domain, opts: &EnumOptions) {
    let start = std::time::Instant::now();
    let part = enumerate(net, domain, opts).unwrap_or_else(|e| panic!("{name}: {e}"));
    println!(
        "{name:<44} regions={:<7} sha256={}",
        part.len(),
        partition_hash(&part)
    );
    eprintln!("{name}: {:?}", start.elapsed());
}

/// W1's network and its slice window of half-width `W1_HALF_WIDTH`.
fn w1_slice() -> (Network, Domain) {
    let net = bench_common::he_mlp(&[784, 200, 200, 200, 10], 0);
    let points = bench_common::uniform_points(3, 784, 1);
    let plane = Plane::through(points.row(0), points.row(1), points.row(2)).expect("general position");
    (net, Domain::plane(plane, Window::square(W1_HALF_WIDTH)))
}

fn w1() {
    let (net, domain) = w1_slice();
    report("w1_slice_hw6/plane_split", &net, &domain, Method::PlaneSplit);
}

fn w2() {
    for (d, h) in W2_CASES {
        let net = bench_common::torch_mlp(&[d, 64, 64, 64, 1], d as u64);
        report(
            &format!("w2_lp_d{d}/lp"),
            &net,
            &Domain::cube(d, -h, h),
            Method::Lp,
        );
    }
}

/// The vector lines: each case's box by the walk (and by the splitter in
/// 2-D), its slice by the splitter (and by the walk up to
/// `LP_SLICE_MAX_DIM` inputs).
fn vectors() {
    vector_domains(usize::MAX, |name, net, domain| {
        let small = net.input_dim() <= LP_SLICE_MAX_DIM;
        let runs = if name.ends_with("/box") {
            [
                ("lp", Method::Lp, true),
                ("plane_split", Method::PlaneSplit, net.input_dim() == 2),
            ]
        } else {
            [
                ("plane_split", Method::PlaneSplit, true),
                ("lp", Method::Lp, small),
            ]
        };
        for (tag, method, wanted) in runs {
            if wanted {
                report(&format!("{name}/{tag}"), net, domain, method);
            }
        }
    });
}

/// The `--skeleton` lines (see the crate doc above).
fn skeleton() {
    let line = |name: &str, net: &Network, domain: &Domain| {
        let name = format!("{name}/skeleton");
        let part = timed(&name, net, domain, Method::Skeleton);
        ran_line(&name, &part, "sha256", &hash_regions(&part, true));
    };
    for (d, h, big) in [(3, 0.1, 0.3), (4, 0.04, 0.12), (6, 0.025, 0.08), (8, 0.015, 0.05)] {
        let net = bench_common::torch_mlp(&[d, 64, 64, 64, 1], d as u64);
        for h in [h, big] {
            line(&format!("w2_d{d}_h{h}"), &net, &Domain::cube(d, -h, h));
        }
    }
    let (net, domain) = w1_slice();
    line("w1_slice_hw6", &net, &domain);
    vector_domains(usize::MAX, line);
}

/// One W2 case, `(d, h)` from the command line, on one thread, by
/// `method`: the bench's network or the one in `file`, at most
/// `max_regions` regions when given.
fn w2_one(d: usize, h: f64, method: Method, file: Option<&str>, max_regions: Option<usize>) {
    let net = match file {
        Some(path) => Network::from_npz(path).expect("network file"),
        None => bench_common::torch_mlp(&[d, 64, 64, 64, 1], d as u64),
    };
    assert_eq!(net.input_dim(), d, "the network's input dimension");
    let opts = EnumOptions {
        method,
        run: cpwl::run::RunOptions {
            threads: Some(1),
            max_regions,
            ..Default::default()
        },
        ..Default::default()
    };
    let tag = if method == Method::Lp { "lp" } else { "skeleton" };
    report_with(
        &format!("w2_lp_d{d}_h{h}/{tag}"),
        &net,
        &Domain::cube(d, -h, h),
        &opts,
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--topology") {
        topology();
        return;
    }
    if args.iter().any(|a| a == "--skeleton") {
        skeleton();
        return;
    }
    if let [mode, d, h, rest @ ..] = args.as_slice() {
        let usage = "usage: partition_hashes [--topology | --skeleton | w2 <d> <h> [lp|skeleton] [<net.npz> [<max_regions>]]]";
        assert_eq!(mode, "w2", "{usage}");
        let (method, rest) = match rest {
            [m, rest @ ..] if m == "lp" => (Method::Lp, rest),
            [m, rest @ ..] if m == "skeleton" => (Method::Skeleton, rest),
            _ => (Method::Lp, rest),
        };
        assert!(rest.len() <= 2, "{usage}");
        let max_regions = rest.get(1).map(|n| n.parse().expect("max_regions"));
        w2_one(
            d.parse().expect("dimension"),
            h.parse().expect("half-width"),
            method,
            rest.first().map(String::as_str),
            max_regions,
        );
        return;
    }
    w1();
    w2();
    vectors();
}
