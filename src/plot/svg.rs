//! The SVG writer: one `path` element per fill colour and per stroke, so a
//! picture of 10^5 regions stays small and quick to write and to display.

use std::fmt::Write as _;

use super::scene::{Scene, TextBox};
use super::Rgb;

/// Where the baseline of a line of text sits below the top of its box, in ems
/// (the ascent of DejaVu Sans Mono).
const BASELINE_EM: f64 = 0.76;

/// The font SVG viewers are asked for (the PNG writer embeds the first).
const FONT_FAMILY: &str = "DejaVu Sans Mono, Menlo, Consolas, monospace";

/// The scene as an SVG document.
pub(crate) fn to_svg(scene: &Scene) -> String {
    let (w, h) = scene.size;
    let mut out = String::with_capacity(1 << 16);
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}">"#
    );
    let _ = writeln!(
        out,
        r#"<rect width="100%" height="100%" fill="{}"/>"#,
        hex(scene.background)
    );
    for group in &scene.fills {
        let _ = write!(out, r#"<path fill="{}" d=""#, hex(group.color));
        for polygon in &group.polygons {
            write_points(&mut out, polygon);
            out.push('Z');
        }
        out.push_str("\"/>\n");
    }
    for stroke in &scene.strokes {
        let _ = write!(
            out,
            r#"<path fill="none" stroke="{}" stroke-width="{}" stroke-linejoin="round" stroke-linecap="round" d=""#,
            hex(stroke.color),
            stroke.width
        );
        for line in &stroke.lines {
            write_points(&mut out, line);
        }
        out.push_str("\"/>\n");
    }
    for mark in &scene.marks {
        let _ = writeln!(
            out,
            r##"<circle cx="{:.1}" cy="{:.1}" r="{}" fill="{}" stroke="#000000" stroke-width="1"/>"##,
            mark.at[0],
            mark.at[1],
            mark.radius,
            hex(mark.color)
        );
    }
    for text in &scene.texts {
        write_text(&mut out, text);
    }
    out.push_str("</svg>\n");
    out
}

/// `Mx,yLx,y...` with one decimal (a tenth of a pixel).
fn write_points(out: &mut String, points: &[[f64; 2]]) {
    for (k, p) in points.iter().enumerate() {
        out.push(if k == 0 { 'M' } else { 'L' });
        let _ = write!(out, "{:.1},{:.1}", p[0], p[1]);
    }
}

fn write_text(out: &mut String, text: &TextBox) {
    let _ = write!(
        out,
        r#"<text x="{:.1}" y="{:.1}" font-family="{FONT_FAMILY}" font-size="{}" fill="{}">"#,
        text.at[0],
        text.at[1] + BASELINE_EM * text.size,
        text.size,
        hex(super::scene::INK)
    );
    for c in text.text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            c => out.push(c),
        }
    }
    out.push_str("</text>\n");
}

fn hex(c: Rgb) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}
