//! The PNG writer: fills rasterised directly ([`super::raster`]), then
//! strokes, marks and text drawn by `plotters` with the embedded font.

use std::path::Path;

use plotters::prelude::*;

use super::font;
use super::scene::Scene;
use super::Rgb;
use crate::{Error, Result};

/// Writes the scene to a PNG file.
pub(crate) fn write_png(scene: &Scene, path: &Path) -> Result<()> {
    font::ensure_registered()?;
    let buf = super::raster::raster(scene);
    let mut backend = BitMapBackend::new(path, scene.size);
    backend
        .blit_bitmap((0, 0), scene.size, &buf)
        .map_err(|e| file_error(path, e))?;
    let root = backend.into_drawing_area();
    overlay(&root, scene).map_err(|e| file_error(path, e))
}

fn rgb(c: Rgb) -> RGBColor {
    RGBColor(c.0, c.1, c.2)
}

fn px(p: [f64; 2]) -> (i32, i32) {
    (p[0].round() as i32, p[1].round() as i32)
}

/// Strokes, marks and texts over the rasterised fills.
fn overlay<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    scene: &Scene,
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    for stroke in &scene.strokes {
        let style = rgb(stroke.color).stroke_width(stroke.width.round() as u32);
        for line in stroke.lines.iter() {
            root.draw(&PathElement::new(
                line.iter().map(|&p| px(p)).collect::<Vec<_>>(),
                style,
            ))?;
        }
    }
    for mark in &scene.marks {
        let radius = mark.radius.round() as i32;
        root.draw(&Circle::new(px(mark.at), radius, rgb(mark.color).filled()))?;
        root.draw(&Circle::new(px(mark.at), radius, BLACK.stroke_width(1)))?;
    }
    for text in &scene.texts {
        let style = (font::FAMILY, text.size)
            .into_font()
            .color(&rgb(super::scene::INK));
        root.draw(&Text::new(text.text.clone(), px(text.at), style))?;
    }
    root.present()
}

fn file_error<E: std::error::Error + Send + Sync + 'static>(path: &Path, e: E) -> Error {
    Error::File {
        path: path.to_path_buf(),
        reason: format!("cannot draw the picture: {e}"),
        source: Some(Box::new(e)),
    }
}
