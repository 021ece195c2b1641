//! A dependency-free SVG writer for 2-D partitions (plane slices and 2-D boxes).

use std::fmt::Write as _;
use std::path::Path;

use cpwl::regions::{Partition, Region};

use super::mlp::argmax;

/// The ten class colours (Tableau 10).
const CLASS_COLOURS: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
    "#bab0ac",
];
const SIZE_PX: f64 = 800.0;
const MARGIN_PX: f64 = 20.0;

/// Writes `partition` as an SVG picture: every region's polygon filled with the
/// colour of the class its affine map predicts at its centre, region edges in
/// thin grey, the decision boundary (see [`decision_boundary_segments`]) in
/// black, and `marked_points` (domain coordinates) as numbered white dots.
///
/// Regions without a polygon (domains that are not 2-D) are skipped.
pub fn write_partition_svg(
    partition: &Partition,
    path: impl AsRef<Path>,
    marked_points: &[[f64; 2]],
) -> std::io::Result<()> {
    let frame = Frame::around(partition);
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{0}" height="{0}" viewBox="0 0 {0} {0}">"#,
        SIZE_PX
    );
    let _ = writeln!(svg, r##"<rect width="100%" height="100%" fill="#ffffff"/>"##);
    let _ = writeln!(
        svg,
        r##"<g stroke="#404040" stroke-width="0.4" stroke-linejoin="round">"##
    );
    for region in partition.regions() {
        let Some(polygon) = region.polygon() else { continue };
        let points: Vec<String> = polygon
            .iter()
            .map(|&p| {
                let [x, y] = frame.to_px(p);
                format!("{x:.2},{y:.2}")
            })
            .collect();
        let colour = CLASS_COLOURS[predicted_class(region) % CLASS_COLOURS.len()];
        let _ = writeln!(svg, r#"<polygon points="{}" fill="{colour}"/>"#, points.join(" "));
    }
    let _ = writeln!(svg, "</g>");
    let _ = writeln!(
        svg,
        r##"<g stroke="#000000" stroke-width="2" stroke-linecap="round">"##
    );
    for [a, b] in decision_boundary_segments(partition) {
        let ([x1, y1], [x2, y2]) = (frame.to_px(a), frame.to_px(b));
        let _ = writeln!(
            svg,
            r#"<line x1="{x1:.2}" y1="{y1:.2}" x2="{x2:.2}" y2="{y2:.2}"/>"#
        );
    }
    let _ = writeln!(svg, "</g>");
    for (i, &p) in marked_points.iter().enumerate() {
        let [x, y] = frame.to_px(p);
        let _ = writeln!(
            svg,
            r##"<circle cx="{x:.2}" cy="{y:.2}" r="7" fill="#ffffff" stroke="#000000" stroke-width="1.5"/><text x="{x:.2}" y="{:.2}" font-family="sans-serif" font-size="10" text-anchor="middle">{i}</text>"##,
            y + 3.5
        );
    }
    svg.push_str("</svg>\n");
    std::fs::write(path, svg)
}

/// The class a region's affine map predicts at the region's centre (for one
/// output: 1 when it is positive, else 0).
pub fn predicted_class(region: &Region) -> usize {
    let Ok(out) = region.affine().apply(region.center()) else {
        return 0;
    };
    if out.len() == 1 {
        usize::from(out[0] > 0.0)
    } else {
        argmax(out.iter().copied())
    }
}

/// The decision boundary's segments (domain coordinates), drawn in black.
pub fn decision_boundary_segments(partition: &Partition) -> Vec<[[f64; 2]; 2]> {
    partition
        .decision_boundary()
        .map(|b| b.pieces().iter().filter_map(|p| p.segment()).collect())
        .unwrap_or_default()
}

/// The map from domain coordinates to pixels (y pointing down).
struct Frame {
    lo: [f64; 2],
    scale: f64,
}

impl Frame {
    fn around(partition: &Partition) -> Frame {
        let mut lo = [f64::INFINITY; 2];
        let mut hi = [f64::NEG_INFINITY; 2];
        for p in partition.regions().iter().filter_map(Region::polygon).flatten() {
            for k in 0..2 {
                lo[k] = lo[k].min(p[k]);
                hi[k] = hi[k].max(p[k]);
            }
        }
        let span = (hi[0] - lo[0]).max(hi[1] - lo[1]);
        if !(span.is_finite() && span > 0.0) {
            return Frame {
                lo: [0.0; 2],
                scale: 1.0,
            };
        }
        // Centre the drawing along its shorter side.
        let lo = [0, 1].map(|k| lo[k] - (span - (hi[k] - lo[k])) / 2.0);
        Frame {
            lo,
            scale: (SIZE_PX - 2.0 * MARGIN_PX) / span,
        }
    }

    fn to_px(&self, p: [f64; 2]) -> [f64; 2] {
        [
            MARGIN_PX + (p[0] - self.lo[0]) * self.scale,
            SIZE_PX - MARGIN_PX - (p[1] - self.lo[1]) * self.scale,
        ]
    }
}
