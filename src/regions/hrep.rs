//! The H-representation of a pattern's region in domain coordinates.

use ndarray::{Array1, Array2, ArrayView1, ArrayViewMut1, Axis, Zip};

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
    // One row per domain row and two-piece unit; a max unit's rival rows
    // (one per input but the chosen) grow the buffer past this when present.
    let mut rows = RowBuf::with_capacity(k, dom.len() + net.unit_count());
    for (i, (a, &b)) in dom.a.outer_iter().zip(&dom.b).enumerate() {
        rows.push_with(RowSource::Domain(i), |mut row| {
            row.assign(&a);
            b
        });
    }
    for (nl, z) in net.program().nonlinearities().zip(&pre) {
        push_unit_rows(nl, z, k, values, &mut rows);
    }
    let lin = out.slice(ndarray::s![..k, ..]).t().to_owned();
    let off = out.row(k).to_owned();
    let (polytope, sources) = rows.into_parts();
    RawRegion {
        polytope,
        sources,
        affine: Affine { a: lin, b: off },
    }
}

/// The rows of a region as they are written: coefficients in one row-major
/// buffer (a region has hundreds of rows; one vector each cost more in
/// allocation than the rows' arithmetic).
struct RowBuf {
    /// Coefficients per row.
    k: usize,
    /// The rows' coefficients, `k` per row.
    a: Vec<f64>,
    /// The rows' offsets.
    b: Vec<f64>,
    /// Where each row comes from.
    sources: Vec<RowSource>,
}

impl RowBuf {
    /// Room for `rows` rows of `k` coefficients.
    fn with_capacity(k: usize, rows: usize) -> RowBuf {
        RowBuf {
            k,
            a: Vec::with_capacity(k * rows),
            b: Vec::with_capacity(rows),
            sources: Vec::with_capacity(rows),
        }
    }

    /// Appends a row of zeros, which `write` fills in and whose offset it
    /// returns.
    fn push_with(&mut self, source: RowSource, write: impl FnOnce(ArrayViewMut1<'_, f64>) -> f64) {
        let start = self.a.len();
        self.a.resize(start + self.k, 0.0);
        let rhs = write(ArrayViewMut1::from(&mut self.a[start..]));
        self.b.push(rhs);
        self.sources.push(source);
    }

    /// The rows as a polytope, and their sources.
    fn into_parts(self) -> (Polytope, Vec<RowSource>) {
        let n = self.b.len();
        let a = Array2::from_shape_vec((n, self.k), self.a).expect("n rows of k coefficients");
        let polytope = Polytope {
            a,
            b: Array1::from(self.b),
        };
        (polytope, self.sources)
    }
}

/// The constraint rows of one nonlinearity; `z` holds the pre-activations as
/// affine functions (`k` linear rows, then the offset row).
fn push_unit_rows(nl: &Nonlinearity, z: &Array2<f64>, k: usize, values: &[u8], rows: &mut RowBuf) {
    let lin = |col: usize| z.slice(ndarray::s![..k, col]);
    let off = |col: usize| z[[k, col]];
    match nl {
        Nonlinearity::TwoPiece(t) => {
            for (j, unit) in t.units().enumerate() {
                rows.push_with(RowSource::Unit(unit), |row| {
                    two_piece_row(z.column(j), k, values[unit], row)
                });
            }
        }
        Nonlinearity::Max(m) => {
            for (j, taps) in m.candidates().chunks_exact(m.width()).enumerate() {
                let unit = m.offset() + j;
                let chosen = taps[values[unit] as usize] as usize;
                for (pos, &t) in taps.iter().enumerate() {
                    if t != PADDING && pos != values[unit] as usize {
                        let t = t as usize;
                        let source = RowSource::MaxRival {
                            unit,
                            rival: pos as u8,
                        };
                        // z_rival - z_chosen <= 0.
                        rows.push_with(source, |row| {
                            Zip::from(row)
                                .and(&lin(t))
                                .and(&lin(chosen))
                                .for_each(|r, &rival, &won| *r = rival - won);
                            off(chosen) - off(t)
                        });
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
    // By index: `z` is a column of the pre-activations (strided), and the
    // rows are short, so a zip's set-up costs more than the products.
    debug_assert_eq!(row.len(), k, "a row has the domain's k entries");
    for (i, r) in row.iter_mut().enumerate() {
        *r = sign * z[i];
    }
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
