//! Conformance over the shared `regions` vectors: counts, pattern hashes,
//! adjacency, areas and decision-boundary lengths, by both algorithms.

mod common;

use std::path::PathBuf;

use common::{json, json_array, vectors};
use cpwl::regions::{enumerate, EnumOptions, Method, Partition};
use cpwl::{Domain, Network};
use sha2::{Digest, Sha256};

fn pattern_hash(p: &Partition) -> String {
    let mut texts: Vec<String> = p.regions().iter().map(|r| r.pattern().to_string()).collect();
    texts.sort();
    let digest = Sha256::digest(texts.join("\n").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

struct Case {
    id: String,
    dir: PathBuf,
    expected: serde_json::Value,
}

fn cases() -> Vec<Case> {
    let dir = vectors().join("regions");
    let index = json(&dir.join("index.json"));
    index
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let id = e["id"].as_str().unwrap().to_string();
            let expected = json(&dir.join(format!("{id}.json")));
            Case {
                id,
                dir: dir.clone(),
                expected,
            }
        })
        .collect()
}

fn slice_domain(case: &Case) -> Domain {
    common::slice_domain(&case.dir, &case.id)
}

fn network(case: &Case) -> Network {
    Network::from_npz(case.dir.join(format!("{}.npz", case.id))).unwrap()
}

fn enumerate_by(method: Method, net: &Network, domain: &Domain) -> Partition {
    let opts = EnumOptions {
        method,
        ..Default::default()
    };
    enumerate(net, domain, &opts).unwrap()
}

/// `part` has the region count and the pattern hash of `expected` (the
/// vector's `lp` or `partition2d` section).
fn assert_regions_match(part: &Partition, expected: &serde_json::Value, id: &str) {
    assert_eq!(
        part.len() as u64,
        expected["region_count"].as_u64().unwrap(),
        "{id} region count"
    );
    assert_eq!(
        pattern_hash(part),
        expected["pattern_hash"].as_str().unwrap(),
        "{id} pattern hash"
    );
}

#[test]
fn lp_walk_matches_box_vectors() {
    for case in cases() {
        let lp = &case.expected["lp"];
        if lp.is_null() {
            continue;
        }
        let net = network(&case);
        let bx = lp["box"].as_array().unwrap();
        let domain = Domain::cube(net.input_dim(), bx[0].as_f64().unwrap(), bx[1].as_f64().unwrap());
        let part = enumerate_by(Method::Lp, &net, &domain);
        assert_regions_match(&part, lp, &case.id);
        assert_eq!(
            part.adjacency().len() as u64,
            lp["adjacent_pairs"].as_u64().unwrap(),
            "{} adjacent pairs",
            case.id
        );
        let s = part.stats();
        eprintln!(
            "{}: {} regions, {} LPs solved, {} skipped ({:.2} LPs/region), {:?}",
            case.id,
            part.len(),
            s.lps_solved,
            s.lps_skipped,
            s.lps_solved as f64 / part.len() as f64,
            s.elapsed
        );
    }
}

#[test]
fn lp_walk_matches_slice_vectors() {
    for case in cases() {
        let p2 = &case.expected["partition2d"];
        let net = network(&case);
        if net.input_dim() > 10 {
            continue; // the 784-dimensional slices run in the splitter test
        }
        let part = enumerate_by(Method::Lp, &net, &slice_domain(&case));
        assert_regions_match(&part, p2, &case.id);
        let area = p2["window_area"].as_f64().unwrap();
        assert_rel(&format!("{} area", case.id), part.total_volume(), area, 1e-9);
    }
}

fn split_slice(case: &Case) -> Partition {
    enumerate_by(Method::PlaneSplit, &network(case), &slice_domain(case))
}

fn assert_rel(what: &str, got: f64, want: f64, rtol: f64) {
    assert!(
        (got - want).abs() <= rtol * want.abs().max(1e-300),
        "{what}: got {got}, expected {want}"
    );
}

#[test]
fn splitter_matches_slice_vectors() {
    for case in cases() {
        let p2 = &case.expected["partition2d"];
        let part = split_slice(&case);
        let id = &case.id;
        assert_regions_match(&part, p2, id);
        assert_eq!(part.rejected_thin(), 0, "{id} thin cells");
        assert_rel(
            &format!("{id} area"),
            part.total_volume(),
            p2["window_area"].as_f64().unwrap(),
            1e-9,
        );
        let boundary = part.decision_boundary().unwrap();
        assert_rel(
            &format!("{id} boundary length"),
            boundary.total_measure(),
            p2["decision_boundary_length"].as_f64().unwrap(),
            1e-9,
        );
        let counts = json_array(&p2["per_layer_counts"], serde_json::Value::as_u64);
        let ours: Vec<u64> = part.layer_counts().unwrap().iter().map(|&c| c as u64).collect();
        assert_eq!(ours, counts, "{id} per-layer counts");
        eprintln!("{id}: {} regions in {:?}", part.len(), part.stats().elapsed);
    }
}

#[test]
fn splitter_adjacency_matches_box_vectors() {
    for case in cases() {
        if case.expected["cross_check"]["lp_box_equals_partition2d"].as_bool() != Some(true) {
            continue;
        }
        let part = split_slice(&case);
        assert_eq!(
            part.adjacency().len() as u64,
            case.expected["lp"]["adjacent_pairs"].as_u64().unwrap(),
            "{} adjacent pairs",
            case.id
        );
    }
}

#[test]
fn splitter_agrees_with_lp_walk_on_small_slices() {
    for case in cases() {
        let net = network(&case);
        if net.input_dim() > 10 || case.expected["partition2d"]["region_count"].as_u64().unwrap() > 400 {
            continue;
        }
        let domain = slice_domain(&case);
        let run = |method| enumerate_by(method, &net, &domain);
        let (split, walk) = (run(Method::PlaneSplit), run(Method::Lp));
        let patterns = |p: &Partition| {
            p.regions()
                .iter()
                .map(|r| r.pattern().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(patterns(&split), patterns(&walk), "{} pattern sets", case.id);
        assert_eq!(split.adjacency(), walk.adjacency(), "{} adjacency", case.id);
    }
}
