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
        for polygon in group.polygons.iter() {
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
        for line in stroke.lines.iter() {
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
        write_tenths(out, p[0]);
        out.push(',');
        write_tenths(out, p[1]);
    }
}

/// `v` with one decimal, the same text as `format!("{v:.1}")` (which rounds
/// the exact binary value, ties to even) without the formatting machinery:
/// this writes every coordinate of every polygon.
pub(crate) fn write_tenths(out: &mut String, v: f64) {
    match tenths(v.abs()) {
        Some(n) => {
            if v.is_sign_negative() {
                out.push('-');
            }
            push_decimal(out, n / 10);
            out.push('.');
            out.push(char::from(b'0' + (n % 10) as u8));
        }
        None => {
            let _ = write!(out, "{v:.1}");
        }
    }
}

/// The tenths `n` with `|n - 10 a| < 1/2` exactly, for a finite `a >= 0`
/// below 2^50; `None` for other values and for exact ties (the caller formats
/// those the slow way). `fma` gives the sign of `10 a - (n -+ 1/2)` without
/// rounding, so the answer never depends on the rounding of `10 a`.
fn tenths(a: f64) -> Option<u64> {
    /// Above this, `n + 1/2` is no longer exact in `f64`.
    const LIMIT: f64 = (1u64 << 50) as f64;
    if a.is_nan() || a >= LIMIT {
        return None;
    }
    let n = (a * 10.0).round();
    let inside = a.mul_add(10.0, -(n - 0.5)) > 0.0 && a.mul_add(10.0, -(n + 0.5)) < 0.0;
    inside.then_some(n as u64)
}

/// A non-negative integer in decimal.
fn push_decimal(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[at..] {
        out.push(char::from(d));
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
