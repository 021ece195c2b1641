//! `Partition::to_mesh_json_with`: the indexed mesh holds the same rings and
//! properties as GeoJSON, with every vertex written once.

mod common;

use std::collections::HashSet;

use common::{json_array, random_relu_mlp};
use cpwl::regions::{enumerate, EnumOptions, GeoJsonOptions};
use cpwl::{Domain, Error, Network};
use ndarray::array;
use serde_json::Value;

fn points(ring: &Value) -> Vec<(f64, f64)> {
    json_array(ring, |p| Some((p[0].as_f64()?, p[1].as_f64()?)))
}

#[test]
fn the_mesh_holds_geojson_rings_and_properties_with_each_vertex_once() {
    let part = enumerate(
        &random_relu_mlp(4, 2, &[10, 8], 3),
        &Domain::cube(2, -2.0, 2.0),
        &EnumOptions::default(),
    )
    .unwrap();
    assert!(part.len() > 30);
    for precision in [None, Some(6)] {
        let opts = GeoJsonOptions {
            precision,
            ..Default::default()
        };
        let geo: Value = serde_json::from_str(&part.to_geojson_with(&opts).unwrap()).unwrap();
        let text = part.to_mesh_json_with(&opts).unwrap();
        let mesh: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(mesh["type"], "PartitionMesh");
        let vertices = points(&mesh["vertices"]);
        let distinct: HashSet<(u64, u64)> = vertices.iter().map(|p| (p.0.to_bits(), p.1.to_bits())).collect();
        assert_eq!(distinct.len(), vertices.len(), "a vertex written twice");
        let features = geo["features"].as_array().unwrap();
        let regions = mesh["regions"].as_array().unwrap();
        assert_eq!(regions.len(), features.len());
        let mut uses = 0;
        for (feature, region) in features.iter().zip(regions) {
            // GeoJSON's ring, closed: the mesh's ring of indices, then its first again.
            let closed = points(&feature["geometry"]["coordinates"][0]);
            let ring = json_array(&region["ring"], |i| Some(vertices[i.as_u64()? as usize]));
            assert_eq!(closed.len(), ring.len() + 1);
            assert_eq!(&closed[..ring.len()], &ring[..]);
            uses += ring.len();
            for key in ["pattern", "area", "affine_a", "affine_b", "neighbors"] {
                assert_eq!(region[key], feature["properties"][key], "{key}");
            }
        }
        // Interior vertices of a line arrangement meet three or more regions.
        assert!(
            uses as f64 > 2.0 * vertices.len() as f64,
            "{uses} uses of {} vertices",
            vertices.len()
        );
        assert!(text.len() < part.to_geojson_with(&opts).unwrap().len());
    }
}

#[test]
fn the_mesh_needs_a_planar_domain() {
    let net = Network::builder(3)
        .dense(array![[1.0, 0.0, 0.0]], array![0.0])
        .unwrap()
        .relu()
        .build()
        .unwrap();
    let part = enumerate(&net, &Domain::cube(3, -1.0, 1.0), &EnumOptions::default()).unwrap();
    assert!(matches!(
        part.to_mesh_json_with(&GeoJsonOptions::default()),
        Err(Error::Invalid { .. })
    ));
}
