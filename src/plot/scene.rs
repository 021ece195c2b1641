//! The picture laid out in pixels: filled polygons grouped by colour, strokes,
//! markers and text boxes, shared by the SVG writer and the PNG rasteriser.

use rayon::prelude::*;

use super::cells::{cells_of, region_polygons, ClassCell};
use super::{Fill, PlotOptions, Rgb};
use crate::geometry::ConvexPolygon;
use crate::regions::{DecisionBoundary, Partition, Region};
use crate::{Error, Result};

/// Average advance of a character of the embedded monospace font, in ems
/// (DejaVu Sans Mono: 1233/2048); SVG viewers are asked for the same font.
pub(crate) const CHAR_WIDTH_EM: f64 = 0.61;
/// Space around the picture's content, in pixels.
const MARGIN: f64 = 12.0;
/// Font sizes in pixels.
const TICK_FONT: f64 = 13.0;
const NAME_FONT: f64 = 15.0;
const TITLE_FONT: f64 = 20.0;
const LABEL_FONT: f64 = 16.0;
const LEGEND_FONT: f64 = 14.0;
/// Length of a tick mark and the gap between a tick and its text, in pixels.
const TICK_LEN: f64 = 5.0;
const GAP: f64 = 4.0;
/// Radius of a marked point and the offset of its label from it, in pixels.
const MARK_RADIUS: f64 = 6.0;
const LABEL_OFFSET: f64 = 9.0;
/// Side of a legend swatch, in pixels.
const SWATCH: f64 = 12.0;
/// About this many ticks per axis.
const TICKS_WANTED: f64 = 5.0;
/// The number of shades of a class colour (regions of one class alternate
/// between them, so neighbouring regions stay distinct).
pub(crate) const SHADES: u64 = 4;
/// Colours of the pattern fill: 4 levels per channel.
const PATTERN_LEVELS: u64 = 4;
/// The colour of axes, ticks and text.
pub(crate) const INK: Rgb = Rgb(30, 30, 30);

/// A qualitative palette for classes (ten well-separated hues).
pub(crate) const PALETTE: [Rgb; 10] = [
    Rgb(31, 119, 180),
    Rgb(255, 127, 14),
    Rgb(44, 160, 44),
    Rgb(214, 39, 40),
    Rgb(148, 103, 189),
    Rgb(140, 86, 75),
    Rgb(227, 119, 194),
    Rgb(127, 127, 127),
    Rgb(188, 189, 34),
    Rgb(23, 190, 207),
];

/// Point sequences (polygons or polylines) stored back to back, so that a
/// picture of 10^5 regions does not allocate once per polygon.
#[derive(Default)]
pub(crate) struct Paths {
    points: Vec<[f64; 2]>,
    /// Where each sequence ends in `points`.
    ends: Vec<usize>,
}

impl Paths {
    /// Appends one sequence.
    pub fn push(&mut self, points: impl IntoIterator<Item = [f64; 2]>) {
        self.points.extend(points);
        self.ends.push(self.points.len());
    }

    /// The sequences in order.
    pub fn iter(&self) -> impl Iterator<Item = &[[f64; 2]]> + '_ {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(&self.ends)
            .map(|(start, &end)| &self.points[start..end])
    }
}

impl<const N: usize> From<Vec<[[f64; 2]; N]>> for Paths {
    fn from(sequences: Vec<[[f64; 2]; N]>) -> Paths {
        let mut paths = Paths::default();
        for s in sequences {
            paths.push(s);
        }
        paths
    }
}

/// Polygons (pixel coordinates) filled with one colour.
pub(crate) struct FillGroup {
    pub color: Rgb,
    pub polygons: Paths,
}

/// Polylines (pixel coordinates) drawn with one colour and width.
pub(crate) struct Stroke {
    pub color: Rgb,
    pub width: f64,
    pub lines: Paths,
}

/// A filled circle with an outline.
pub(crate) struct Mark {
    pub at: [f64; 2],
    pub radius: f64,
    pub color: Rgb,
}

/// A line of text whose box has its top-left corner at `at`.
pub(crate) struct TextBox {
    pub at: [f64; 2],
    pub size: f64,
    pub text: String,
}

impl TextBox {
    /// The box's width and height in pixels.
    #[cfg(test)]
    pub fn extent(&self) -> [f64; 2] {
        [text_width(&self.text, self.size), self.size]
    }
}

/// Everything drawn, in drawing order: fills, strokes, marks, texts.
pub(crate) struct Scene {
    pub size: (u32, u32),
    pub background: Rgb,
    pub fills: Vec<FillGroup>,
    pub strokes: Vec<Stroke>,
    pub marks: Vec<Mark>,
    pub texts: Vec<TextBox>,
    #[cfg(test)]
    view: View,
}

fn text_width(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * CHAR_WIDTH_EM * size
}

/// The map from domain coordinates to pixels (y pointing down), one scale
/// for both axes so that shapes are not distorted.
#[derive(Clone, Copy)]
struct View {
    lo: [f64; 2],
    hi: [f64; 2],
    /// Pixel position of `lo` (bottom-left corner of the plot area).
    origin: [f64; 2],
    scale: f64,
}

impl View {
    fn px(&self, p: [f64; 2]) -> [f64; 2] {
        [
            self.origin[0] + (p[0] - self.lo[0]) * self.scale,
            self.origin[1] - (p[1] - self.lo[1]) * self.scale,
        ]
    }

    /// Left, top, right, bottom of the plot area in pixels.
    fn area(&self) -> [f64; 4] {
        let [l, b] = self.origin;
        let [r, t] = self.px(self.hi);
        [l, t, r, b]
    }
}

/// Axis names and the note under the picture, from the domain's kind.
fn axis_names(partition: &Partition, opts: &PlotOptions) -> (String, String, Option<String>) {
    let plane = partition.domain().as_plane();
    let (x, y) = if plane.is_some() { ("s", "t") } else { ("x1", "x2") };
    let note = plane.map(|p| {
        let [a, b, c] = p.anchors().map(|[s, t]| format!("({s:.3}, {t:.3})"));
        format!("slice (s, t) through x0 {a}, x1 {b}, x2 {c}")
    });
    (
        opts.x_label.clone().unwrap_or_else(|| x.to_string()),
        opts.y_label.clone().unwrap_or_else(|| y.to_string()),
        note,
    )
}

/// Ticks at round values in `[lo, hi]` and the number of decimals they need.
fn ticks(lo: f64, hi: f64) -> (Vec<f64>, usize) {
    let raw = (hi - lo) / TICKS_WANTED;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|&s| s >= raw)
        .unwrap_or(10.0 * magnitude);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    let decimals = (-step.log10().floor()).max(0.0) as usize;
    ((first..=last).map(|k| k as f64 * step).collect(), decimals)
}

impl Scene {
    /// Lays out the picture of `partition`.
    pub fn new(partition: &Partition, opts: &PlotOptions) -> Result<Scene> {
        let (w, h) = opts.size;
        if w == 0 || h == 0 {
            return Err(Error::invalid("size", "width and height must be positive"));
        }
        let frame = partition
            .check_planar("pictures")
            .and_then(|()| partition.frame())?;
        let (lo, hi) = bounds(&frame);
        // The boundary and the cells take most of the time and need each
        // other's results only for drawing: on two threads where there are.
        let (polygons_and_cells, boundary) = rayon::join(
            || -> Result<_> {
                // Computed once: the fills, the edges and the legend share them.
                let polygons = region_polygons(partition)?;
                let cells = match opts.fill {
                    Fill::Class => cells_of(partition, &polygons),
                    Fill::Pattern => Vec::new(),
                };
                // Each colour hashes a pattern (hundreds of units): in parallel.
                let colors = partition.regions().par_iter().map(pattern_hash);
                Ok((polygons, cells, colors.collect::<Vec<u64>>()))
            },
            || {
                opts.boundary_color
                    .map(|_| partition.decision_boundary())
                    .transpose()
            },
        );
        let (polygons, cells, hashes) = polygons_and_cells?;
        let boundary = boundary?;
        let legend = if opts.legend {
            legend_entries(partition, opts, &cells)
        } else {
            Vec::new()
        };
        let (x_name, y_name, note) = axis_names(partition, opts);
        let (x_ticks, x_dec) = ticks(lo[0], hi[0]);
        let (y_ticks, y_dec) = ticks(lo[1], hi[1]);
        let y_tick_width = y_ticks
            .iter()
            .map(|v| text_width(&format!("{v:.y_dec$}"), TICK_FONT))
            .fold(0.0, f64::max);
        let title_height = opts.title.as_ref().map_or(0.0, |_| TITLE_FONT + 2.0 * GAP);
        let legend_width = legend
            .iter()
            .map(|(_, name)| 3.0 * GAP + SWATCH + text_width(name, LEGEND_FONT))
            .fold(0.0, f64::max);
        let note_height = note.as_ref().map_or(0.0, |_| NAME_FONT + GAP);
        let left = MARGIN + y_tick_width + TICK_LEN + GAP;
        let top = MARGIN + title_height + NAME_FONT + GAP;
        let right = MARGIN + legend_width + TICK_FONT * 2.0;
        let bottom = MARGIN + TICK_LEN + GAP + TICK_FONT + GAP + NAME_FONT + note_height;
        let (avail_w, avail_h) = (f64::from(w) - left - right, f64::from(h) - top - bottom);
        if avail_w <= 0.0 || avail_h <= 0.0 {
            return Err(Error::invalid(
                "size",
                format!("{w} x {h} pixels leave no room for the plot"),
            ));
        }
        let scale = (avail_w / (hi[0] - lo[0])).min(avail_h / (hi[1] - lo[1]));
        let used = [(hi[0] - lo[0]) * scale, (hi[1] - lo[1]) * scale];
        let view = View {
            lo,
            hi,
            origin: [
                left + (avail_w - used[0]) / 2.0,
                top + used[1] + (avail_h - used[1]) / 2.0,
            ],
            scale,
        };
        let mut scene = Scene {
            size: opts.size,
            background: opts.background,
            fills: Vec::new(),
            strokes: Vec::new(),
            marks: Vec::new(),
            texts: Vec::new(),
            #[cfg(test)]
            view,
        };
        scene.add_fills(opts, &view, (&polygons, &cells), &hashes);
        scene.add_edges(opts, &view, &polygons);
        if let (Some(color), Some(boundary)) = (opts.boundary_color, boundary) {
            scene.add_boundary(&boundary, (color, opts.boundary_width), &view);
        }
        scene.add_axes(&view, (&x_ticks, x_dec), (&y_ticks, y_dec), [&x_name, &y_name]);
        if let Some(title) = &opts.title {
            let width = text_width(title, TITLE_FONT);
            // Centred, but never starting left of the margin.
            scene.text(
                [((f64::from(w) - width) / 2.0).max(MARGIN), MARGIN],
                TITLE_FONT,
                title,
            );
        }
        if let Some(note) = note {
            scene.text([MARGIN, f64::from(h) - MARGIN - NAME_FONT], NAME_FONT, &note);
        }
        scene.add_legend(&view, &legend);
        scene.add_points(opts, &view);
        Ok(scene)
    }

    /// The pixel position of a point in domain coordinates.
    #[cfg(test)]
    pub fn to_pixel(&self, p: [f64; 2]) -> [f64; 2] {
        self.view.px(p)
    }

    /// The domain coordinates of a pixel position.
    #[cfg(test)]
    pub fn to_domain(&self, px: [f64; 2]) -> [f64; 2] {
        let v = &self.view;
        [
            v.lo[0] + (px[0] - v.origin[0]) / v.scale,
            v.lo[1] - (px[1] - v.origin[1]) / v.scale,
        ]
    }

    fn text(&mut self, at: [f64; 2], size: f64, text: &str) {
        self.texts.push(TextBox {
            at,
            size,
            text: text.to_string(),
        });
    }

    /// Region fills, one group per colour: the arg-max cells (in region order)
    /// for [`Fill::Class`], the region polygons for [`Fill::Pattern`].
    /// `hashes` holds each region's [`pattern_hash`].
    fn add_fills(
        &mut self,
        opts: &PlotOptions,
        view: &View,
        (polygons, cells): (&[Option<ConvexPolygon>], &[ClassCell]),
        hashes: &[u64],
    ) {
        let mut groups: std::collections::BTreeMap<Rgb, Paths> = Default::default();
        let mut add = |color: Rgb, polygon: &ConvexPolygon| {
            let group = groups.entry(color).or_default();
            group.push(polygon.vertices().iter().map(|&v| view.px(v)));
        };
        match opts.fill {
            Fill::Class => {
                for cell in cells {
                    add(class_color(cell.class, shade(hashes[cell.region])), &cell.polygon);
                }
            }
            Fill::Pattern => {
                for (&hash, polygon) in hashes.iter().zip(polygons) {
                    if let Some(polygon) = polygon {
                        add(pattern_color(hash), polygon);
                    }
                }
            }
        }
        self.fills = groups
            .into_iter()
            .map(|(color, polygons)| FillGroup { color, polygons })
            .collect();
    }

    /// Every region's outline, closed, as one stroke.
    fn add_edges(&mut self, opts: &PlotOptions, view: &View, polygons: &[Option<ConvexPolygon>]) {
        let Some(color) = opts.edge_color else { return };
        let mut lines = Paths::default();
        for polygon in polygons.iter().flatten() {
            let ring = polygon.vertices();
            lines.push(ring.iter().chain(&ring[..1]).map(|&v| view.px(v)));
        }
        self.strokes.push(Stroke {
            color,
            width: 1.0,
            lines,
        });
    }

    /// The decision boundary's segments as one stroke.
    fn add_boundary(&mut self, boundary: &DecisionBoundary, (color, width): (Rgb, u32), view: &View) {
        let mut lines = Paths::default();
        for [p, q] in boundary.pieces().iter().filter_map(|p| p.segment()) {
            lines.push([view.px(p), view.px(q)]);
        }
        self.strokes.push(Stroke {
            color,
            width: f64::from(width),
            lines,
        });
    }

    /// The frame around the plot area, ticks, tick values and axis names.
    fn add_axes(&mut self, view: &View, x: (&[f64], usize), y: (&[f64], usize), names: [&str; 2]) {
        let [l, t, r, b] = view.area();
        let mut lines = Paths::default();
        lines.push([[l, t], [r, t], [r, b], [l, b], [l, t]]);
        let (x_ticks, x_dec) = x;
        for &v in x_ticks {
            let px = view.px([v, view.lo[1]])[0];
            lines.push([[px, b], [px, b + TICK_LEN]]);
            let text = format!("{v:.x_dec$}");
            let width = text_width(&text, TICK_FONT);
            self.text([px - width / 2.0, b + TICK_LEN + GAP], TICK_FONT, &text);
        }
        let (y_ticks, y_dec) = y;
        for &v in y_ticks {
            let py = view.px([view.lo[0], v])[1];
            lines.push([[l - TICK_LEN, py], [l, py]]);
            let text = format!("{v:.y_dec$}");
            let width = text_width(&text, TICK_FONT);
            self.text(
                [l - TICK_LEN - GAP - width, py - TICK_FONT / 2.0],
                TICK_FONT,
                &text,
            );
        }
        self.strokes.push(Stroke {
            color: INK,
            width: 1.0,
            lines,
        });
        let x_width = text_width(names[0], NAME_FONT);
        let below_ticks = b + TICK_LEN + GAP + TICK_FONT + GAP;
        self.text([(l + r - x_width) / 2.0, below_ticks], NAME_FONT, names[0]);
        self.text([l, t - GAP - NAME_FONT], NAME_FONT, names[1]);
    }

    /// One swatch and name per class, right of the plot area.
    fn add_legend(&mut self, view: &View, entries: &[(Rgb, String)]) {
        let [_, t, r, _] = view.area();
        let x = r + TICK_FONT * 2.0;
        for (k, (color, name)) in entries.iter().enumerate() {
            let y = t + k as f64 * (LEGEND_FONT + GAP);
            let swatch = [[x, y], [x + SWATCH, y], [x + SWATCH, y + SWATCH], [x, y + SWATCH]];
            self.fills.push(FillGroup {
                color: *color,
                polygons: vec![swatch].into(),
            });
            self.strokes.push(Stroke {
                color: INK,
                width: 1.0,
                lines: vec![[swatch[0], swatch[1], swatch[2], swatch[3], swatch[0]]].into(),
            });
            self.text([x + SWATCH + GAP, y - 1.0], LEGEND_FONT, name);
        }
    }

    /// Marked points and their labels, each label placed inside the picture.
    fn add_points(&mut self, opts: &PlotOptions, view: &View) {
        let size = [f64::from(self.size.0), f64::from(self.size.1)];
        for p in &opts.points {
            let at = view.px(p.at);
            self.marks.push(Mark {
                at,
                radius: MARK_RADIUS,
                color: p.color,
            });
            let extent = [text_width(&p.label, LABEL_FONT), LABEL_FONT];
            self.text(label_corner(at, extent, size), LABEL_FONT, &p.label);
        }
    }
}

/// Where a label's box goes: right of and above its point, moved to the
/// other side when it would leave the picture, then kept inside it.
pub(crate) fn label_corner(at: [f64; 2], extent: [f64; 2], size: [f64; 2]) -> [f64; 2] {
    let mut x = at[0] + LABEL_OFFSET;
    if x + extent[0] > size[0] - GAP {
        x = at[0] - LABEL_OFFSET - extent[0];
    }
    let mut y = at[1] - LABEL_OFFSET - extent[1];
    if y < GAP {
        y = at[1] + LABEL_OFFSET;
    }
    let clamp = |v: f64, room: f64| v.min(room - GAP).max(GAP);
    [clamp(x, size[0] - extent[0]), clamp(y, size[1] - extent[1])]
}

/// The bounding box of the frame polygon.
fn bounds(frame: &ConvexPolygon) -> ([f64; 2], [f64; 2]) {
    let mut lo = [f64::INFINITY; 2];
    let mut hi = [f64::NEG_INFINITY; 2];
    for v in frame.vertices() {
        for k in 0..2 {
            lo[k] = lo[k].min(v[k]);
            hi[k] = hi[k].max(v[k]);
        }
    }
    (lo, hi)
}

/// The classes that win somewhere, with their colours and names.
fn legend_entries(partition: &Partition, opts: &PlotOptions, cells: &[ClassCell]) -> Vec<(Rgb, String)> {
    if opts.fill != Fill::Class {
        return Vec::new();
    }
    let classes: std::collections::BTreeSet<usize> = cells.iter().map(|c| c.class).collect();
    let single = partition.network().output_dim() == 1;
    classes
        .into_iter()
        .map(|k| {
            let name = match opts.class_names.get(k) {
                Some(name) => name.clone(),
                None if single => ["output <= 0", "output > 0"][k].to_string(),
                None => format!("class {k}"),
            };
            (class_color(k, SHADES / 2), name)
        })
        .collect()
}

/// FNV-1a over the pattern's text: a colour seed that is stable across runs
/// and platforms.
pub(crate) fn pattern_hash(r: Region<'_>) -> u64 {
    // The text's bytes (`0-9a-z`, one per unit: see `Pattern`'s `Display`)
    // without building the text, which a picture would do 10^5 times.
    r.pattern()
        .iter()
        .map(|v| char::from_digit(u32::from(v), 36).map_or(b'?', |c| c as u8))
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
}

/// The shade of its classes' colours of a region with [`pattern_hash`] `hash`.
fn shade(hash: u64) -> u64 {
    hash % SHADES
}

/// The colour of a class: its palette hue lightened towards white by 35 % to
/// 65 % in [`SHADES`] steps.
pub(crate) fn class_color(class: usize, shade: u64) -> Rgb {
    let base = PALETTE[class % PALETTE.len()];
    let t = 0.35 + 0.3 * shade as f64 / (SHADES - 1) as f64;
    let mix = |c: u8| (f64::from(c) + (255.0 - f64::from(c)) * t).round() as u8;
    Rgb(mix(base.0), mix(base.1), mix(base.2))
}

/// One of 64 colours picked by the hash of the region's pattern.
fn pattern_color(h: u64) -> Rgb {
    let level = |shift: u32| 96 + 40 * ((h >> shift) % PATTERN_LEVELS) as u8;
    Rgb(level(8), level(24), level(40))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_inside() {
        let (t, dec) = ticks(-1.0, 1.0);
        assert_eq!(t, vec![-1.0, -0.5, 0.0, 0.5, 1.0]);
        assert_eq!(dec, 1);
        let (t, dec) = ticks(0.0, 37.0);
        assert_eq!(t, vec![0.0, 10.0, 20.0, 30.0]);
        assert_eq!(dec, 0);
    }

    #[test]
    fn labels_stay_inside_at_every_corner() {
        let size = [200.0, 100.0];
        let extent = [60.0, 16.0];
        for at in [
            [0.0, 0.0],
            [200.0, 0.0],
            [0.0, 100.0],
            [200.0, 100.0],
            [100.0, 50.0],
        ] {
            let [x, y] = label_corner(at, extent, size);
            assert!(x >= 0.0 && x + extent[0] <= size[0], "{at:?}: x {x}");
            assert!(y >= 0.0 && y + extent[1] <= size[1], "{at:?}: y {y}");
        }
        // Away from the edges the label sits right of and above its point.
        assert_eq!(label_corner([100.0, 50.0], extent, size), [109.0, 25.0]);
    }
}
