//! Conformance over the shared `regions` vectors: counts, pattern hashes,
//! adjacency, areas and decision-boundary lengths, by both algorithms.

mod common;

use std::path::PathBuf;

use common::{json, vectors};
use cpwl::regions::{enumerate, EnumOptions, Method, Partition};
use cpwl::{Domain, Network, Plane, Window};
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
    let arrays = cpwl::io::load_npz(case.dir.join(format!("{}_slice.npz", case.id))).unwrap();
    let get = |k: &str| arrays[k].clone().into_dimensionality::<ndarray::Ix1>().unwrap();
    let plane = Plane::from_basis(get("x0"), get("u"), get("v")).unwrap();
    let window = arrays["window"]
        .clone()
        .into_dimensionality::<ndarray::Ix2>()
        .unwrap();
    let verts = window.outer_iter().map(|r| [r[0], r[1]]).collect();
    Domain::plane(plane, Window::Polygon(verts))
}

fn network(case: &Case) -> Network {
    Network::from_npz(case.dir.join(format!("{}.npz", case.id))).unwrap()
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
        let opts = EnumOptions {
            method: Method::Lp,
            ..Default::default()
        };
        let part = enumerate(&net, &domain, &opts).unwrap();
        assert_eq!(
            part.len() as u64,
            lp["region_count"].as_u64().unwrap(),
            "{} region count",
            case.id
        );
        assert_eq!(
            pattern_hash(&part),
            lp["pattern_hash"].as_str().unwrap(),
            "{} pattern hash",
            case.id
        );
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
        let opts = EnumOptions {
            method: Method::Lp,
            ..Default::default()
        };
        let part = enumerate(&net, &slice_domain(&case), &opts).unwrap();
        assert_eq!(
            part.len() as u64,
            p2["region_count"].as_u64().unwrap(),
            "{} region count",
            case.id
        );
        assert_eq!(
            pattern_hash(&part),
            p2["pattern_hash"].as_str().unwrap(),
            "{} pattern hash",
            case.id
        );
        let area = p2["window_area"].as_f64().unwrap();
        assert!(
            (part.total_volume() - area).abs() <= 1e-9 * area,
            "{} area {} vs {area}",
            case.id,
            part.total_volume()
        );
    }
}
