//! The H-representation of a pattern's region in domain coordinates.

use ndarray::{Array1, Array2, ArrayView1, ArrayViewMut1, Axis};

use super::setup::Frame;
use crate::network::{Nonlinearity, PADDING};
use crate::{Affine, Network, Polytope};

/// Where a constraint row of a region comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum RowSource {
    /// Row `i` of the domain's own constraints.
    Domain(usize),
    /// The sign condition of a two-piece unit (pattern index).
    Unit(usize),
    /// A max unit (pattern index) whose chosen input must beat input `rival`
    /// of its window.
    MaxRival {
        /// The unit's pattern index.
        unit: usize,
        /// The window position of the competing input.
        rival: u8,
    },
}

/// A pattern's region before any redundancy removal: every row, with its source.
#[derive(Clone, Debug)]
pub(crate) struct RawRegion {
    pub polytope: Polytope,
    pub sources: Vec<RowSource>,
    pub affine: Affine,
}

/// Builds `{y in domain : pattern(x(y)) = pattern}` as inequalities `a y <= b`,
/// with the network's affine map in domain coordinates.
pub(crate) fn raw_region(net: &Network, values: &[u8], frame: &Frame) -> RawRegion {
    let Frame {
        constraints: dom,
        basis,
        origin,
    } = frame;
    let (pre, out) = net.preactivation_maps(values, basis.view(), origin);
    let k = basis.nrows();
    let mut rows: Vec<(Array1<f64>, f64, RowSource)> = Vec::new();
    for (i, (a, &b)) in dom.a.outer_iter().zip(&dom.b).enumerate() {
        rows.push((a.to_owned(), b, RowSource::Domain(i)));
    }
    for (nl, z) in net.program().nonlinearities().zip(&pre) {
        push_unit_rows(nl, z, k, values, &mut rows);
    }
    let mut a = Array2::zeros((rows.len(), k));
    let mut b = Array1::zeros(rows.len());
    let mut sources = Vec::with_capacity(rows.len());
    for (i, (row, rhs, src)) in rows.into_iter().enumerate() {
        a.row_mut(i).assign(&row);
        b[i] = rhs;
        sources.push(src);
    }
    let lin = out.slice(ndarray::s![..k, ..]).t().to_owned();
    let off = out.row(k).to_owned();
    RawRegion {
        polytope: Polytope { a, b },
        sources,
        affine: Affine { a: lin, b: off },
    }
}

/// The constraint rows of one nonlinearity; `z` holds the pre-activations as
/// affine functions (`k` linear rows, then the offset row).
fn push_unit_rows(
    nl: &Nonlinearity,
    z: &Array2<f64>,
    k: usize,
    values: &[u8],
    rows: &mut Vec<(Array1<f64>, f64, RowSource)>,
) {
    let lin = |col: usize| z.slice(ndarray::s![..k, col]);
    let off = |col: usize| z[[k, col]];
    match nl {
        Nonlinearity::TwoPiece(t) => {
            for (j, unit) in t.units().enumerate() {
                let mut a = Array1::zeros(k);
                let b = two_piece_row(z.column(j), k, values[unit], a.view_mut());
                rows.push((a, b, RowSource::Unit(unit)));
            }
        }
        Nonlinearity::Max(m) => {
            for (j, taps) in m.candidates().chunks_exact(m.width()).enumerate() {
                let unit = m.offset() + j;
                let chosen = taps[values[unit] as usize] as usize;
                for (pos, &t) in taps.iter().enumerate() {
                    if t != PADDING && pos != values[unit] as usize {
                        let t = t as usize;
                        // z_rival - z_chosen <= 0.
                        rows.push((
                            &lin(t) - &lin(chosen),
                            off(chosen) - off(t),
                            RowSource::MaxRival {
                                unit,
                                rival: pos as u8,
                            },
                        ));
                    }
                }
            }
        }
    }
}

/// The row `a y <= b` of a two-piece unit on piece `value`: writes `a` to
/// `row` and returns `b`, from the unit's pre-activation `z` as an affine
/// function (`k` linear entries, then the offset).
pub(crate) fn two_piece_row(
    z: ArrayView1<'_, f64>,
    k: usize,
    value: u8,
    mut row: ArrayViewMut1<'_, f64>,
) -> f64 {
    // Piece 1 means z > 0, written -z <= 0; piece 0 means z <= 0.
    let sign = if value == 1 { -1.0 } else { 1.0 };
    row.zip_mut_with(&z.slice(ndarray::s![..k]), |r, &v| *r = sign * v);
    -sign * z[k]
}

/// The largest ball around `y` inside the polytope: its radius (negative when
/// `y` is outside).
pub(crate) fn inscribed_radius(poly: &Polytope, y: ArrayView1<f64>) -> f64 {
    let slack = &poly.b - &poly.a.dot(&y);
    let norms = poly.a.map_axis(Axis(1), |r| r.dot(&r).sqrt());
    slack
        .iter()
        .zip(&norms)
        .filter(|(_, &n)| n > 0.0)
        .map(|(s, n)| s / n)
        .fold(f64::INFINITY, f64::min)
}
