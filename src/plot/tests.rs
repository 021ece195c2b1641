//! Pictures checked against the network evaluated point by point: cells, the
//! rasterised fill, the SVG's batching, axis names and label placement.

use ndarray::{array, Array1};

use super::raster::raster;
use super::scene::{class_color, Scene, SHADES};
use super::*;
use crate::regions::{enumerate, EnumOptions};
use crate::{Domain, Network, Plane, Window};

/// Three classes on a ReLU net: boundaries cross regions, not only follow edges.
fn net() -> Network {
    Network::builder(2)
        .dense(
            array![[1.0, -1.0], [1.0, 1.0], [0.3, -0.8], [-0.6, 0.2]],
            array![0.0, -0.5, 0.2, 0.1],
        )
        .unwrap()
        .relu()
        .dense(
            array![
                [1.0, -1.0, 0.5, 0.2],
                [-1.0, 1.0, 0.3, -0.4],
                [0.2, 0.1, -1.0, 1.0]
            ],
            array![0.1, 0.0, 0.05],
        )
        .unwrap()
        .build()
        .unwrap()
}

fn partition() -> Partition {
    enumerate(&net(), &Domain::cube(2, -1.0, 1.0), &EnumOptions::default()).unwrap()
}

/// The arg-max of the network's outputs at a domain point, by a plain forward pass.
fn argmax_at(partition: &Partition, y: [f64; 2]) -> usize {
    let x = partition.domain().to_input(Array1::from(y.to_vec()).view());
    let out = partition.network().forward(x.view()).unwrap();
    (0..out.len()).fold(0, |best, k| if out[k] > out[best] { k } else { best })
}

#[test]
fn cells_cover_regions_and_follow_the_arg_max() {
    let part = partition();
    let cells = class_cells(&part).unwrap();
    let total: f64 = cells.iter().map(|c| c.polygon.area()).sum();
    assert!((total - 4.0).abs() < 1e-9, "cells cover {total} of 4");
    // Some region is cut by the boundary: it has cells of two classes.
    let cut = (0..part.len()).any(|r| {
        let classes: std::collections::BTreeSet<_> =
            cells.iter().filter(|c| c.region == r).map(|c| c.class).collect();
        classes.len() > 1
    });
    assert!(cut, "the test network should have a region the boundary crosses");
    // Every cell's centroid has the cell's class as the network's arg-max.
    for cell in &cells {
        assert_eq!(argmax_at(&part, cell.polygon.centroid()), cell.class, "{cell:?}");
    }
}

#[test]
fn raster_fill_equals_the_arg_max_at_pixel_centres() {
    let part = partition();
    let opts = PlotOptions {
        size: (300, 300),
        edge_color: None,
        boundary_color: None,
        legend: false,
        ..PlotOptions::default()
    };
    let scene = Scene::new(&part, &opts).unwrap();
    let buf = raster(&scene);
    let palette: Vec<(usize, Rgb)> = (0..3)
        .flat_map(|c| (0..SHADES).map(move |s| (c, class_color(c, s))))
        .collect();
    let (mut checked, mut near_boundary) = (0, 0);
    for row in (0..300).step_by(3) {
        for col in (0..300).step_by(3) {
            let centre = [col as f64 + 0.5, row as f64 + 0.5];
            let y = scene.to_domain(centre);
            if y.iter().any(|v| v.abs() >= 1.0) {
                continue;
            }
            let class = argmax_at(&part, y);
            // Skip pixels within 2 px of a class change (rounding of the
            // pixel grid, not of the cells, decides those).
            let steady = [[-2.0, 0.0], [2.0, 0.0], [0.0, -2.0], [0.0, 2.0]]
                .iter()
                .all(|d| argmax_at(&part, scene.to_domain([centre[0] + d[0], centre[1] + d[1]])) == class);
            if !steady {
                near_boundary += 1;
                continue;
            }
            let i = 3 * (row * 300 + col);
            let pixel = Rgb(buf[i], buf[i + 1], buf[i + 2]);
            let found: Vec<usize> = palette
                .iter()
                .filter(|(_, c)| *c == pixel)
                .map(|(k, _)| *k)
                .collect();
            assert_eq!(found, vec![class], "pixel ({col}, {row}) at {y:?}: {pixel:?}");
            checked += 1;
        }
    }
    assert!(
        checked > 3000 && near_boundary > 10,
        "{checked} checked, {near_boundary} skipped"
    );
}

#[test]
fn svg_has_one_path_per_colour_and_the_labels() {
    let part = partition();
    let opts = PlotOptions {
        points: vec![MarkedPoint {
            at: [0.5, 0.5],
            label: "A<B".into(),
            color: Rgb(255, 0, 0),
        }],
        title: Some("three classes".into()),
        ..PlotOptions::default()
    };
    let svg = to_svg(&part, &opts).unwrap();
    let scene = Scene::new(&part, &opts).unwrap();
    let colours: std::collections::BTreeSet<Rgb> = scene.fills.iter().map(|g| g.color).collect();
    let fills = svg.matches("<path fill=\"#").count();
    // One path per fill colour, plus one per legend swatch (which reuses a
    // class colour but is drawn after the regions).
    assert_eq!(fills, scene.fills.len());
    assert!(colours.len() <= 3 * SHADES as usize, "{} colours", colours.len());
    assert_eq!(
        colours.len() + 3,
        scene.fills.len(),
        "one group per colour, then 3 swatches"
    );
    for text in [
        ">A&lt;B</text>",
        ">three classes</text>",
        ">x1</text>",
        ">x2</text>",
        ">class 2</text>",
    ] {
        assert!(svg.contains(text), "{text} missing");
    }
}

/// A 2-24-3 network with fixed pseudo-random weights: hundreds of regions.
fn wide_net() -> Network {
    let w = ndarray::Array2::from_shape_fn((24, 2), |(i, j)| ((i * 7 + j * 3) as f64 * 1.3).sin());
    let b = Array1::from_shape_fn(24, |i| 0.5 * (i as f64 * 0.7).cos());
    let v = ndarray::Array2::from_shape_fn((3, 24), |(i, j)| ((i * 11 + j * 5) as f64 * 0.9).sin());
    Network::builder(2)
        .dense(w, b)
        .unwrap()
        .relu()
        .dense(v, Array1::zeros(3))
        .unwrap()
        .build()
        .unwrap()
}

#[test]
fn many_regions_share_a_few_paths() {
    let part = enumerate(&wide_net(), &Domain::cube(2, -1.0, 1.0), &EnumOptions::default()).unwrap();
    let svg = to_svg(&part, &PlotOptions::default()).unwrap();
    let paths = svg.matches("<path fill=\"#").count();
    assert!(part.len() > 100, "{} regions", part.len());
    // At most SHADES colours per class, plus a legend swatch per class.
    assert!(
        paths <= 3 * (SHADES as usize + 1),
        "{paths} paths for {} regions",
        part.len()
    );
    // Every region's ring is in the one edge path: one `M` per region.
    let edges = svg.lines().find(|l| l.contains("stroke=\"#3c3c3c\"")).unwrap();
    assert_eq!(edges.matches('M').count(), part.len());
}

#[test]
fn slices_name_their_axes_and_keep_corner_labels_inside() {
    let x0 = array![0.0, 0.0];
    let x1 = array![1.0, 0.2];
    let x2 = array![0.3, 1.0];
    let plane = Plane::through(x0.view(), x1.view(), x2.view()).unwrap();
    let anchors = plane.anchors();
    let domain = Domain::plane(plane, Window::triangle());
    let part = enumerate(&net(), &domain, &EnumOptions::default()).unwrap();
    let points = anchors
        .iter()
        .enumerate()
        .map(|(k, &at)| MarkedPoint {
            at,
            label: format!("test{k}"),
            color: Rgb(255, 255, 255),
        })
        .collect();
    let opts = PlotOptions {
        size: (400, 300),
        points,
        ..PlotOptions::default()
    };
    let scene = Scene::new(&part, &opts).unwrap();
    for (k, &anchor) in anchors.iter().enumerate() {
        let label = format!("test{k}");
        let text = scene.texts.iter().find(|t| t.text == label).unwrap();
        let [w, h] = text.extent();
        assert!(
            text.at[0] >= 0.0 && text.at[0] + w <= 400.0,
            "{label} at {:?}",
            text.at
        );
        assert!(
            text.at[1] >= 0.0 && text.at[1] + h <= 300.0,
            "{label} at {:?}",
            text.at
        );
        // The marker itself is where the anchor is.
        assert_eq!(scene.marks[k].at, scene.to_pixel(anchor));
    }
    let svg = to_svg(&part, &opts).unwrap();
    assert!(svg.contains(">s</text>") && svg.contains(">t</text>"));
    assert!(svg.contains("slice (s, t) through x0 (0.000, 0.000)"));
}

#[test]
fn one_output_cells_split_at_zero() {
    let net = Network::builder(2)
        .dense(array![[1.0, 1.0]], array![-0.5])
        .unwrap()
        .build()
        .unwrap();
    let part = enumerate(&net, &Domain::cube(2, 0.0, 1.0), &EnumOptions::default()).unwrap();
    let cells = class_cells(&part).unwrap();
    let area = |class| {
        cells
            .iter()
            .filter(|c| c.class == class)
            .map(|c| c.polygon.area())
            .sum::<f64>()
    };
    // x + y <= 0.5 on the unit square: a triangle of area 1/8.
    assert!((area(0) - 0.125).abs() < 1e-12 && (area(1) - 0.875).abs() < 1e-12);
    let svg = to_svg(&part, &PlotOptions::default()).unwrap();
    assert!(svg.contains(">output &gt; 0</text>") && svg.contains(">output &lt;= 0</text>"));
}

#[test]
fn zero_size_and_higher_dimensions_are_invalid() {
    let opts = PlotOptions {
        size: (0, 10),
        ..PlotOptions::default()
    };
    assert!(matches!(to_svg(&partition(), &opts), Err(Error::Invalid { .. })));
    let tiny = PlotOptions {
        size: (40, 40),
        ..PlotOptions::default()
    };
    assert!(matches!(to_svg(&partition(), &tiny), Err(Error::Invalid { .. })));
    let net = Network::builder(3)
        .dense(array![[1.0, 0.0, 1.0]], array![0.0])
        .unwrap()
        .build()
        .unwrap();
    let part = enumerate(&net, &Domain::cube(3, 0.0, 1.0), &EnumOptions::default()).unwrap();
    assert!(matches!(
        to_svg(&part, &PlotOptions::default()),
        Err(Error::Invalid { .. })
    ));
}

#[cfg(feature = "plot")]
#[test]
fn png_is_written() {
    let dir = std::env::temp_dir().join(format!("cpwl-plot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("p.png");
    render_png(&partition(), &path, &PlotOptions::default()).unwrap();
    let png = std::fs::read(&path).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn tenths_are_written_as_format_writes_them() {
    // Exact ties (x.x5 in binary), halves of tenths, signs, zeros and large values.
    let mut values = vec![
        0.0, -0.0, 0.05, 0.25, -0.25, 0.35, 2.45, -0.04, 99.95, 1e15, 1e300, -7.5e-9,
    ];
    let mut x = 0.123_456_789_f64;
    for k in 0..20_000 {
        x = (x * 7919.0 + 0.618_033_988_7).fract();
        values.push((x - 0.5) * 10f64.powi(k % 7));
        values.push(f64::from(k) / 20.0);
    }
    for v in values {
        let mut fast = String::new();
        super::svg::write_tenths(&mut fast, v);
        assert_eq!(fast, format!("{v:.1}"), "{v:e}");
    }
}

#[test]
fn pattern_colours_hash_the_pattern_text() {
    let part = enumerate(&wide_net(), &Domain::cube(2, -1.0, 1.0), &EnumOptions::default()).unwrap();
    for region in part.regions() {
        let text = region.pattern().to_string();
        let fnv = text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        assert_eq!(super::scene::pattern_hash(region), fnv, "{text}");
    }
}
