//! `Partition::to_geojson`: valid GeoJSON with every region, its ring, area,
//! affine map and neighbours, checked against closed forms and the network.

mod common;

use common::{json_array, json_rows};
use cpwl::regions::{enumerate, EnumOptions, Partition};
use cpwl::{Domain, Error, Network, Plane, Window};
use ndarray::array;
use serde_json::Value;

fn net(input: usize) -> Network {
    let w = match input {
        2 => array![[1.0, -1.0], [0.5, 1.0], [1.0, 2.0], [-1.0, 0.25]],
        _ => array![
            [1.0, -1.0, 0.5],
            [0.5, 1.0, -1.0],
            [1.0, 2.0, 0.0],
            [-1.0, 0.25, 1.0]
        ],
    };
    Network::builder(input)
        .dense(w, array![0.1, -0.2, 0.3, 0.0])
        .unwrap()
        .relu()
        .dense(
            array![[1.0, -2.0, 0.5, 1.0], [0.0, 1.0, 1.0, -1.0]],
            array![0.0, 0.5],
        )
        .unwrap()
        .build()
        .unwrap()
}

/// Twice the signed area of a closed ring (shoelace, written here independently).
fn ring_area(ring: &[Value]) -> f64 {
    let pts: Vec<(f64, f64)> = ring
        .iter()
        .map(|p| (p[0].as_f64().unwrap(), p[1].as_f64().unwrap()))
        .collect();
    pts.windows(2)
        .map(|w| w[0].0 * w[1].1 - w[1].0 * w[0].1)
        .sum::<f64>()
        / 2.0
}

fn check(part: &Partition, domain_area: f64) {
    let json: Value = serde_json::from_str(&part.to_geojson().unwrap()).expect("valid JSON");
    assert_eq!(json["type"], "FeatureCollection");
    let features = json["features"].as_array().unwrap();
    assert_eq!(features.len(), part.len());
    let mut total = 0.0;
    for (i, (f, region)) in features.iter().zip(part.regions()).enumerate() {
        assert_eq!(f["type"], "Feature");
        assert_eq!(f["geometry"]["type"], "Polygon");
        let props = &f["properties"];
        assert_eq!(props["pattern"].as_str().unwrap(), region.pattern().to_string());
        let ring = f["geometry"]["coordinates"][0].as_array().unwrap();
        assert!(
            ring.len() >= 4,
            "region {i}: a ring needs 3 vertices and the closing one"
        );
        assert_eq!(ring.first(), ring.last(), "region {i}: ring not closed");
        let area = props["area"].as_f64().unwrap();
        let shoelace = ring_area(ring);
        assert!(shoelace > 0.0, "region {i}: ring not counter-clockwise");
        assert!(
            (area - shoelace).abs() <= 1e-9 * domain_area,
            "region {i}: {area} vs {shoelace}"
        );
        assert!((area - region.volume()).abs() <= 1e-9 * domain_area);
        total += area;
        // The affine map is the network's, in domain coordinates.
        let c = region.center();
        let a = json_rows(&props["affine_a"], Value::as_f64);
        let b = json_array(&props["affine_b"], Value::as_f64);
        let y = part.network().forward(part.domain().to_input(c).view()).unwrap();
        for k in 0..y.len() {
            let mapped = a[k][0] * c[0] + a[k][1] * c[1] + b[k];
            assert!((mapped - y[k]).abs() <= 1e-9 * (1.0 + y[k].abs()));
        }
        let neighbors = json_array(&props["neighbors"], |v| v.as_u64().map(|j| j as usize));
        assert_eq!(neighbors, region.neighbors());
        for &j in &neighbors {
            let back = features[j]["properties"]["neighbors"].as_array().unwrap();
            assert!(
                back.iter().any(|v| v.as_u64() == Some(i as u64)),
                "adjacency not symmetric"
            );
        }
    }
    assert!(
        (total - domain_area).abs() <= 1e-9 * domain_area,
        "areas sum to {total}"
    );
}

#[test]
fn box_partition_exports_every_region() {
    let part = enumerate(
        &net(2),
        &Domain::boxed(array![-1.0, -2.0], array![2.0, 1.0]),
        &EnumOptions::default(),
    )
    .unwrap();
    assert!(part.len() >= 5);
    // Regions of 2-D boxes have polygons and areas too, not only slices'.
    assert!(part.regions().iter().all(|r| r.polygon().is_some()));
    assert!((part.total_volume() - 9.0).abs() <= 1e-9 * 9.0);
    check(&part, 9.0);
}

#[test]
fn slice_partition_exports_every_region() {
    let plane = Plane::through(
        array![0.0, 0.0, 0.0].view(),
        array![1.0, 0.0, 0.0].view(),
        array![0.0, 1.0, 0.0].view(),
    )
    .unwrap();
    let domain = Domain::plane(plane, Window::Square(1.5));
    let part = enumerate(&net(3), &domain, &EnumOptions::default()).unwrap();
    assert!(part.len() >= 5);
    check(&part, 9.0);
}

#[test]
fn polytope_partition_exports_every_region() {
    // The triangle (0, 0), (3, 0), (0, 3): area 4.5.
    let domain = Domain::polytope(
        array![[-1.0, 0.0], [0.0, -1.0], [1.0, 1.0]],
        array![0.0, 0.0, 3.0],
    );
    let part = enumerate(&net(2), &domain, &EnumOptions::default()).unwrap();
    check(&part, 4.5);
}

#[test]
fn geojson_needs_a_two_dimensional_domain() {
    let part = enumerate(&net(3), &Domain::cube(3, -1.0, 1.0), &EnumOptions::default()).unwrap();
    assert!(matches!(part.to_geojson(), Err(Error::Invalid { .. })));
}

#[test]
fn rounded_geojson_is_smaller_and_agrees_to_its_precision() {
    use cpwl::regions::GeoJsonOptions;
    let part = enumerate(&net(2), &Domain::cube(2, -1.0, 1.0), &EnumOptions::default()).unwrap();
    let full: Value = serde_json::from_str(&part.to_geojson().unwrap()).unwrap();
    let opts = GeoJsonOptions {
        precision: Some(4),
        affine: false,
        ..GeoJsonOptions::default()
    };
    let text = part.to_geojson_with(&opts).unwrap();
    let full_len = part.to_geojson().unwrap().len();
    // Shorter numbers and no affine maps: well under the full text.
    assert!(
        text.len() * 3 < full_len * 2,
        "{} of {full_len} bytes",
        text.len()
    );
    let short: Value = serde_json::from_str(&text).unwrap();
    for (f, g) in full["features"]
        .as_array()
        .unwrap()
        .iter()
        .zip(short["features"].as_array().unwrap())
    {
        assert!(g["properties"].get("affine_a").is_none());
        assert_eq!(f["properties"]["neighbors"], g["properties"]["neighbors"]);
        let (a, b) = (
            f["geometry"]["coordinates"][0].as_array().unwrap(),
            g["geometry"]["coordinates"][0].as_array().unwrap(),
        );
        assert_eq!(a.len(), b.len());
        for (p, q) in a.iter().zip(b) {
            for k in 0..2 {
                let (x, y) = (p[k].as_f64().unwrap(), q[k].as_f64().unwrap());
                assert!((x - y).abs() <= 0.5e-4 + 1e-15, "{x} rounded to {y}");
            }
        }
    }
}
