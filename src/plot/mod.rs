//! Pictures of 2-D partitions: SVG (always) and PNG (feature `plot`, through
//! `plotters`, with an embedded font, so no system library is needed).
//!
//! With [`Fill::Class`], each region is cut into its exact arg-max cells
//! ([`class_cells`]: on a region the network is affine, so the cells are the
//! region's polygon cut by the lines `f_i = f_j`) and each cell is filled
//! with its class's colour, shaded per region; so the fill changes exactly
//! where the drawn decision boundary runs. Region edges and the decision
//! boundary are drawn on top, then marked points with their labels, which
//! are always placed inside the picture. The axes are named for the domain's
//! kind (`x1`, `x2` for boxes and polytopes; `s`, `t` for slices, with the
//! slice coordinates of the plane's anchor points written below), and a
//! legend names the classes.
//!
//! Polygons are batched: the SVG holds one `path` per colour, and PNG fills
//! are rasterised directly, so pictures of 10^5 regions take well under a
//! second.
//!
//! # Examples
//!
//! ```no_run
//! use cpwl::plot::{render_svg, PlotOptions};
//! use cpwl::regions::{enumerate, EnumOptions};
//! use cpwl::{Domain, Network};
//! use ndarray::array;
//! let net = Network::builder(2)
//!     .dense(array![[1.0, -1.0], [1.0, 1.0]], array![0.0, -0.5])?
//!     .relu()
//!     .dense(array![[1.0, -1.0], [-1.0, 1.0]], array![0.1, 0.0])?
//!     .build()?;
//! let partition = enumerate(&net, &Domain::cube(2, -1.0, 1.0), &EnumOptions::default())?;
//! let opts = PlotOptions { title: Some("two classes".into()), ..PlotOptions::default() };
//! render_svg(&partition, "partition.svg", &opts)?;
//! # Ok::<(), cpwl::Error>(())
//! ```

mod cells;
#[cfg(feature = "plot")]
mod font;
#[cfg(feature = "plot")]
mod png;
#[cfg(any(feature = "plot", test))]
mod raster;
mod scene;
mod svg;

use std::path::Path;

pub use cells::{class_cells, ClassCell};

use crate::regions::Partition;
use crate::{Error, Result};
use scene::Scene;

/// A colour, as red, green and blue bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Rgb(pub u8, pub u8, pub u8);

/// How regions are coloured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Fill {
    /// By the winning class (the arg-max of the outputs; with one output,
    /// its sign), cell by cell ([`class_cells`]), shaded per region.
    #[default]
    Class,
    /// By a hash of the region's pattern (64 colours).
    Pattern,
}

/// A point to mark on the picture, in the domain's coordinates.
#[derive(Clone, Debug, PartialEq)]
pub struct MarkedPoint {
    /// Where, in domain coordinates (`(s, t)` for slices).
    pub at: [f64; 2],
    /// The text written beside it (moved to the other side of the point
    /// where it would leave the picture).
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
    /// Whether a legend of the classes is drawn right of the plot (with
    /// [`Fill::Class`]).
    pub legend: bool,
    /// The classes' names in the legend, by class index; classes without a
    /// name here are called `class k` (`output <= 0` / `output > 0` for one
    /// output).
    pub class_names: Vec<String>,
    /// The horizontal axis's name (`None`: `x1` for boxes, `s` for slices).
    pub x_label: Option<String>,
    /// The vertical axis's name (`None`: `x2` for boxes, `t` for slices).
    pub y_label: Option<String>,
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
            legend: true,
            class_names: Vec::new(),
            x_label: None,
            y_label: None,
            _private: Default::default(),
        }
    }
}

/// Draws a 2-D partition into a PNG file.
///
/// # Errors
///
/// [`Error::Invalid`] when the partition's domain is not 2-D or the size is
/// zero or too small for the axes; [`Error::File`] when the picture cannot be
/// drawn or written; the errors of [`Partition::decision_boundary`].
#[cfg(feature = "plot")]
#[cfg_attr(docsrs, doc(cfg(feature = "plot")))]
pub fn render_png(partition: &Partition, path: impl AsRef<Path>, opts: &PlotOptions) -> Result<()> {
    png::write_png(&Scene::new(partition, opts)?, path.as_ref())
}

/// Draws a 2-D partition into an SVG file.
///
/// # Errors
///
/// As [`to_svg`]; [`Error::File`] when the file cannot be written.
pub fn render_svg(partition: &Partition, path: impl AsRef<Path>, opts: &PlotOptions) -> Result<()> {
    let path = path.as_ref();
    std::fs::write(path, to_svg(partition, opts)?).map_err(|e| Error::File {
        path: path.to_path_buf(),
        reason: format!("cannot write the picture: {e}"),
        source: Some(Box::new(e)),
    })
}

/// A 2-D partition as an SVG document.
///
/// # Errors
///
/// [`Error::Invalid`] when the partition's domain is not 2-D or the size is
/// zero or too small for the axes; the errors of
/// [`Partition::decision_boundary`].
///
/// # Examples
///
/// ```
/// use cpwl::plot::{to_svg, PlotOptions};
/// use cpwl::regions::{enumerate, EnumOptions};
/// use cpwl::{Domain, Network};
/// use ndarray::array;
/// let net = Network::builder(2).dense(array![[1.0, 0.0], [0.0, 1.0]], array![0.0, 0.0])?.build()?;
/// let partition = enumerate(&net, &Domain::cube(2, -1.0, 1.0), &EnumOptions::default())?;
/// let svg = to_svg(&partition, &PlotOptions::default())?;
/// assert!(svg.contains(">class 1</text>")); // the legend
/// # Ok::<(), cpwl::Error>(())
/// ```
pub fn to_svg(partition: &Partition, opts: &PlotOptions) -> Result<String> {
    Ok(svg::to_svg(&Scene::new(partition, opts)?))
}

#[cfg(test)]
mod tests;
