//! Direct rasterisation of the fills: one scanline pass per convex polygon,
//! with no per-polygon drawing element, so 10^5 regions take milliseconds.

use super::scene::Scene;
use super::Rgb;

/// The background and the fills as rows of RGB bytes, top row first.
pub(crate) fn raster(scene: &Scene) -> Vec<u8> {
    let (w, h) = (scene.size.0 as usize, scene.size.1 as usize);
    let bg = scene.background;
    let mut buf: Vec<u8> = std::iter::repeat_n([bg.0, bg.1, bg.2], w * h).flatten().collect();
    for group in &scene.fills {
        for polygon in group.polygons.iter() {
            fill_convex(&mut buf, (w, h), polygon, group.color);
        }
    }
    buf
}

/// Paints the pixels whose centres lie in the convex polygon: for each pixel
/// row, the span between the polygon's two crossings of the row's centre line.
fn fill_convex(buf: &mut [u8], (w, h): (usize, usize), polygon: &[[f64; 2]], color: Rgb) {
    let (y_lo, y_hi) = polygon
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
            (lo.min(p[1]), hi.max(p[1]))
        });
    let Some(rows) = pixel_span(y_lo, y_hi, h) else {
        return;
    };
    for row in rows {
        let yc = row as f64 + 0.5;
        let (mut x_lo, mut x_hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for (k, p) in polygon.iter().enumerate() {
            let q = polygon[(k + 1) % polygon.len()];
            if (p[1] - yc) * (q[1] - yc) > 0.0 {
                continue;
            }
            let xs = if p[1] == q[1] {
                [p[0], q[0]]
            } else {
                let x = p[0] + (yc - p[1]) * (q[0] - p[0]) / (q[1] - p[1]);
                [x, x]
            };
            x_lo = x_lo.min(xs[0].min(xs[1]));
            x_hi = x_hi.max(xs[0].max(xs[1]));
        }
        let Some(cols) = pixel_span(x_lo, x_hi, w) else {
            continue;
        };
        for col in cols {
            let i = 3 * (row * w + col);
            buf[i..i + 3].copy_from_slice(&[color.0, color.1, color.2]);
        }
    }
}

/// The pixels `0..n` whose centres `k + 1/2` lie in `[lo, hi]`.
fn pixel_span(lo: f64, hi: f64, n: usize) -> Option<std::ops::RangeInclusive<usize>> {
    // Also rejects NaN bounds (a row no polygon edge crosses).
    if lo
        .partial_cmp(&hi)
        .is_none_or(|o| o == std::cmp::Ordering::Greater)
    {
        return None;
    }
    let first = (lo - 0.5).ceil().max(0.0);
    let last = (hi - 0.5).floor().min(n as f64 - 1.0);
    (first <= last).then_some(first as usize..=last as usize)
}
