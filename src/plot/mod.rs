//! Pictures of 2-D partitions (feature `plot`): PNG and SVG through
//! `plotters`, with an embedded font, so no system library is needed.
//!
//! Regions are filled with a colour per predicted class (the arg-max of the
//! outputs at the region's centre, shaded per region) or per pattern; region
//! edges and the decision boundary are drawn on top, then marked points with
//! their labels.
//!
//! # Examples
//!
//! ```no_run
//! use cpwl::plot::{render_png, PlotOptions};
//! use cpwl::regions::{enumerate, EnumOptions};
//! use cpwl::{Domain, Network};
//! use ndarray::array;
//! let net = Network::builder(2)
//!     .dense(array![[1.0, -1.0], [1.0, 1.0]], array![0.0, -0.5])?
//!     .relu()
//!     .dense(array![[1.0, -1.0], [-1.0, 1.0]], array![0.1, 0.0])?
//!     .build()?;
//! let partition = enumerate(&net, &Domain::cube(2, -1.0, 1.0), &EnumOptions::default())?;
//! render_png(&partition, "partition.png", &PlotOptions::default())?;
//! # Ok::<(), cpwl::Error>(())
//! ```

mod font;

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::regions::Partition;
use crate::{Error, Result};

/// A colour, as red, green and blue bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Rgb(pub u8, pub u8, pub u8);

/// How regions are coloured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Fill {
    /// By the class the network predicts on the region (the arg-max of the
    /// outputs at its centre; with one output, its sign), shaded per region.
    #[default]
    Class,
    /// By a hash of the region's pattern.
    Pattern,
}

/// A point to mark on the picture, in the domain's coordinates.
#[derive(Clone, Debug, PartialEq)]
pub struct MarkedPoint {
    /// Where, in domain coordinates (`(s, t)` for slices).
    pub at: [f64; 2],
    /// The text written beside it.
    pub label: String,
    /// The marker's colour.
    pub color: Rgb,
}

/// Settings of [`render_png`] and [`render_svg`].
#[derive(Clone, Debug, PartialEq)]
pub struct PlotOptions {
    /// Width and height in pixels.
    pub size: (u32, u32),
    /// How regions are coloured.
    pub fill: Fill,
    /// The colour of region edges (`None`: not drawn).
    pub edge_color: Option<Rgb>,
    /// The colour of the decision boundary (`None`: not drawn).
    pub boundary_color: Option<Rgb>,
    /// The decision boundary's width in pixels.
    pub boundary_width: u32,
    /// The background colour.
    pub background: Rgb,
    /// Points to mark, with labels.
    pub points: Vec<MarkedPoint>,
    /// A caption above the picture.
    pub title: Option<String>,
    #[doc(hidden)]
    pub _private: crate::Private,
}

impl Default for PlotOptions {
    fn default() -> Self {
        PlotOptions {
            size: (800, 800),
            fill: Fill::Class,
            edge_color: Some(Rgb(60, 60, 60)),
            boundary_color: Some(Rgb(0, 0, 0)),
            boundary_width: 3,
            background: Rgb(255, 255, 255),
            points: Vec::new(),
            title: None,
            _private: Default::default(),
        }
    }
}

/// Draws a 2-D partition into a PNG file.
///
/// # Errors
///
/// [`Error::Invalid`] when the partition's domain is not 2-D or the size is
/// zero; [`Error::File`] when the picture cannot be drawn or written; the
/// errors of [`Partition::decision_boundary`].
pub fn render_png(partition: &Partition, path: impl AsRef<Path>, opts: &PlotOptions) -> Result<()> {
    let path = path.as_ref();
    let scene = Scene::new(partition, opts)?;
    let root = BitMapBackend::new(path, opts.size).into_drawing_area();
    draw(&root, &scene, opts).map_err(|e| file_error(path, e))
}

/// Draws a 2-D partition into an SVG file.
///
/// # Errors
///
/// As [`render_png`].
pub fn render_svg(partition: &Partition, path: impl AsRef<Path>, opts: &PlotOptions) -> Result<()> {
    let path = path.as_ref();
    let scene = Scene::new(partition, opts)?;
    let root = SVGBackend::new(path, opts.size).into_drawing_area();
    draw(&root, &scene, opts).map_err(|e| file_error(path, e))
}

fn file_error<E: std::error::Error + Send + Sync + 'static>(path: &Path, e: E) -> Error {
    Error::File {
        path: path.to_path_buf(),
        reason: format!("cannot draw the picture: {e}"),
        source: Some(Box::new(e)),
    }
}

/// What is drawn: filled polygons, boundary segments and the view.
struct Scene {
    regions: Vec<(Vec<(f64, f64)>, RGBColor)>,
    boundary: Vec<[(f64, f64); 2]>,
    x: std::ops::Range<f64>,
    y: std::ops::Range<f64>,
}

impl Scene {
    fn new(partition: &Partition, opts: &PlotOptions) -> Result<Scene> {
        if partition.domain().dim() != 2 {
            return Err(Error::invalid("partition", "pictures need a 2-D domain"));
        }
        if opts.size.0 == 0 || opts.size.1 == 0 {
            return Err(Error::invalid("size", "width and height must be positive"));
        }
        font::ensure_registered()?;
        let (lo, hi) = partition
            .domain()
            .bounding_box()
            .ok_or_else(|| Error::invalid("partition", "the domain has no known bounding box"))?;
        let regions = partition
            .regions()
            .iter()
            .filter_map(|r| {
                let poly = r.polygon()?;
                let color = region_color(r, opts.fill);
                Some((poly.iter().map(|p| (p[0], p[1])).collect(), color))
            })
            .collect();
        let boundary = match opts.boundary_color {
            Some(_) => partition
                .decision_boundary()?
                .pieces()
                .iter()
                .filter_map(|p| p.segment())
                .map(|[p, q]| [(p[0], p[1]), (q[0], q[1])])
                .collect(),
            None => Vec::new(),
        };
        Ok(Scene {
            regions,
            boundary,
            x: lo[0]..hi[0],
            y: lo[1]..hi[1],
        })
    }
}

fn rgb(c: Rgb) -> RGBColor {
    RGBColor(c.0, c.1, c.2)
}

/// A qualitative palette for classes (ten well-separated hues).
const PALETTE: [Rgb; 10] = [
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

/// FNV-1a over the pattern's text: a colour seed that is stable across runs
/// and platforms.
fn pattern_hash(r: &crate::regions::Region) -> u64 {
    r.pattern()
        .to_string()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
}

fn region_color(r: &crate::regions::Region, fill: Fill) -> RGBColor {
    let h = pattern_hash(r);
    match fill {
        Fill::Pattern => RGBColor(
            (h >> 8) as u8 / 2 + 96,
            (h >> 24) as u8 / 2 + 96,
            (h >> 40) as u8 / 2 + 96,
        ),
        Fill::Class => {
            let base = PALETTE[predicted_class(r) % PALETTE.len()];
            // Lighten towards white by 35 % to 65 %, varied per region.
            let t = 0.35 + 0.3 * ((h % 1000) as f64 / 1000.0);
            let mix = |c: u8| (f64::from(c) + (255.0 - f64::from(c)) * t).round() as u8;
            RGBColor(mix(base.0), mix(base.1), mix(base.2))
        }
    }
}

/// The arg-max of the outputs at the region's centre (the sign for one output).
fn predicted_class(r: &crate::regions::Region) -> usize {
    let out = r.affine().a.dot(&r.center()) + &r.affine().b;
    if out.len() == 1 {
        return usize::from(out[0] > 0.0);
    }
    let mut best = 0;
    for (i, v) in out.iter().enumerate() {
        if *v > out[best] {
            best = i;
        }
    }
    best
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    scene: &Scene,
    opts: &PlotOptions,
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&rgb(opts.background))?;
    let mut builder = ChartBuilder::on(root);
    builder.margin(14).x_label_area_size(36).y_label_area_size(56);
    if let Some(title) = &opts.title {
        builder.caption(title, (font::FAMILY, 20));
    }
    let mut chart = builder.build_cartesian_2d(scene.x.clone(), scene.y.clone())?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("s")
        .y_desc("t")
        .label_style((font::FAMILY, 14))
        .draw()?;
    chart.draw_series(
        scene
            .regions
            .iter()
            .map(|(poly, color)| Polygon::new(poly.clone(), color.filled())),
    )?;
    if let Some(edge) = opts.edge_color {
        chart.draw_series(scene.regions.iter().map(|(poly, _)| {
            let mut ring = poly.clone();
            ring.extend(poly.first().copied());
            PathElement::new(ring, rgb(edge).stroke_width(1))
        }))?;
    }
    if let Some(color) = opts.boundary_color {
        let style = rgb(color).stroke_width(opts.boundary_width);
        chart.draw_series(scene.boundary.iter().map(|s| PathElement::new(s.to_vec(), style)))?;
    }
    for p in &opts.points {
        let at = (p.at[0], p.at[1]);
        chart.draw_series(std::iter::once(Circle::new(at, 6, rgb(p.color).filled())))?;
        chart.draw_series(std::iter::once(Circle::new(at, 6, BLACK.stroke_width(1))))?;
        // The label sits a little right of and above the marker (pixels).
        let label = Text::new(
            p.label.clone(),
            (9, -22),
            (font::FAMILY, 18).into_font().color(&BLACK),
        );
        chart.draw_series(std::iter::once(EmptyElement::at(at) + label))?;
    }
    root.present()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::regions::{enumerate, EnumOptions};
    use crate::{Domain, Network};
    use ndarray::array;

    fn partition() -> Partition {
        let net = Network::builder(2)
            .dense(array![[1.0, -1.0], [1.0, 1.0]], array![0.0, -0.5])
            .unwrap()
            .relu()
            .dense(array![[1.0, -1.0], [-1.0, 1.0]], array![0.1, 0.0])
            .unwrap()
            .build()
            .unwrap();
        enumerate(&net, &Domain::cube(2, -1.0, 1.0), &EnumOptions::default()).unwrap()
    }

    #[test]
    fn svg_has_a_polygon_per_region_and_the_boundary() {
        let dir = std::env::temp_dir().join(format!("cpwl-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("p.svg");
        let part = partition();
        let opts = PlotOptions {
            points: vec![MarkedPoint {
                at: [0.5, 0.5],
                label: "A".into(),
                color: Rgb(255, 0, 0),
            }],
            ..PlotOptions::default()
        };
        render_svg(&part, &path, &opts).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert_eq!(svg.matches("<polygon").count(), part.len());
        let squeezed: String = svg.split_whitespace().collect();
        assert!(squeezed.contains(">A</text>"), "label missing");
        render_png(&part, dir.join("p.png"), &opts).unwrap();
        let png = std::fs::read(dir.join("p.png")).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn classes_get_their_palette_hue() {
        let part = partition();
        for r in part.regions() {
            let class = predicted_class(r);
            let RGBColor(red, green, blue) = region_color(r, Fill::Class);
            let base = PALETTE[class];
            // Lightening keeps each channel between the base and white.
            for (c, b) in [(red, base.0), (green, base.1), (blue, base.2)] {
                assert!(c >= b);
            }
        }
    }

    #[test]
    fn zero_size_is_invalid() {
        let opts = PlotOptions {
            size: (0, 10),
            ..PlotOptions::default()
        };
        let err = render_svg(&partition(), std::env::temp_dir().join("never.svg"), &opts).unwrap_err();
        assert!(matches!(err, Error::Invalid { .. }));
    }
}
